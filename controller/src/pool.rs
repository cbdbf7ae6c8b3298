//! The serverless function pool, as logic only: which worker runs which
//! invocation, when workers start (cold) and stop (after keep-alive), and
//! where they are placed. The runtime turns [`PoolAction`]s into containers
//! or processes; the simulator models them.
//!
//! The pool knows nothing of the core or its effects: every call that can
//! start or stop a worker writes to a [`PoolOut`] — the actions, in order,
//! and the times it wants to look at an idle worker again — which the core
//! forwards as `Effect::Pool` and keep-alive timers.
//!
//! Rules, in order of preference for an invocation:
//! 1. its parent's worker when the plan says `CloudInWorker` and that worker
//!    has a free slot (no data leaves the container);
//! 2. a warm worker of the function with a free slot (warm start);
//! 3. otherwise it queues, and a worker is cold-started if none is already
//!    starting; later, a queue older than `scale_up_delay_us` starts another.
//!
//! Idle workers stop after `keep_alive_us` (delayed termination) unless that
//! would leave fewer than the plan's prewarm count. A CPU-heavy function's
//! worker goes to a core without another heavy worker when one exists.

use crate::config::PoolConfig;
use crate::handoff::Handoff;
use crate::ids::{InstanceId, WorkerId};
use crate::time::Micros;
use hivemind_ir::TaskId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// What the pool's driver (containers, processes, the simulator's workers)
/// must do. `Invoke`, `Cancel` and `Ack` are decided by the core's
/// scheduler; the pool decides `StartWorker` and `StopWorker`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolAction {
    /// Start a worker (a cold start) for `function` on a server core; it
    /// answers with `Event::WorkerReady`.
    StartWorker {
        worker: WorkerId,
        function: String,
        server: u32,
        core: u32,
    },
    /// Stop the worker (keep-alive ran out, or the mission is over).
    StopWorker { worker: WorkerId },
    /// Run an attempt of `instance` in the worker, with version
    /// `model_version` of the task's model (0 unless it is retrained).
    Invoke {
        worker: WorkerId,
        instance: InstanceId,
        task: TaskId,
        function: String,
        input: Handoff,
        #[serde(default)]
        model_version: u32,
    },
    /// Run training job `job` of `task`'s model in the worker: `samples`
    /// samples, `ops` operations in all. It answers like an invocation
    /// (`Event::TaskResult` or `Event::TaskError` for `job`).
    Train {
        worker: WorkerId,
        job: InstanceId,
        task: TaskId,
        function: String,
        samples: u64,
        ops: u64,
    },
    /// Stop the attempt: another attempt's result won, or the mission ended.
    Cancel {
        worker: WorkerId,
        instance: InstanceId,
    },
    /// The attempt's result is recorded; the worker may forget it.
    Ack {
        worker: WorkerId,
        instance: InstanceId,
    },
}

/// What one call into the pool produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolOut {
    /// For the driver, in order.
    pub actions: Vec<PoolAction>,
    /// (when, worker): look at this idle worker again then; its keep-alive
    /// may have run out ([`Pool::on_keep_alive`]).
    pub keep_alive: Vec<(Micros, WorkerId)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerState {
    /// Cold start in progress: cannot take invocations yet.
    Starting,
    Warm,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Worker {
    pub function: String,
    pub state: WorkerState,
    pub running: u32,
    pub core: u32,
    pub heavy: bool,
    pub idle_since: Option<Micros>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queued {
    pub instance: InstanceId,
    pub task: TaskId,
    pub since: Micros,
    pub input: Handoff,
    /// A worker this invocation must avoid (a relaunch of a straggler).
    pub avoid: Option<WorkerId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Function {
    pub heavy: bool,
    /// Prewarmed workers the pool keeps while the mission runs.
    pub floor: u32,
    pub queue: VecDeque<Queued>,
    pub workers: Vec<WorkerId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CoreLoad {
    pub workers: u32,
    pub heavy: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PoolStats {
    pub cold_starts: u64,
    pub warm_invocations: u64,
    pub in_worker_invocations: u64,
    pub queued_invocations: u64,
    pub scale_ups: u64,
    pub scale_downs: u64,
    /// A heavy worker had to share a core with another heavy one.
    pub interference_conflicts: u64,
    pub peak_workers: u64,
}

/// An invocation the pool placed on a worker; the core records the attempt
/// and emits the `Invoke`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatch {
    pub worker: WorkerId,
    pub instance: InstanceId,
    pub task: TaskId,
    pub function: String,
    pub input: Handoff,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    cfg: PoolConfig,
    cores_per_server: u32,
    cores: Vec<CoreLoad>,
    pub workers: BTreeMap<WorkerId, Worker>,
    next_worker: u32,
    pub functions: BTreeMap<String, Function>,
    pub stats: PoolStats,
    /// Derived from `workers`, never serialized (rebuilt on first use
    /// after a snapshot is read), ignored by equality.
    #[serde(skip)]
    index: Index,
}

/// Per function: its warm workers with a free slot, by (running, id) —
/// the least loaded first, as the placement rule wants — and the slots of
/// its workers still starting. Kept in step with every change of a
/// worker's state or load ([`Pool::sync`]), so placing an invocation costs
/// O(log W) instead of a scan of the function's W workers.
#[derive(Debug, Clone, Default)]
struct Index {
    built: bool,
    free: BTreeMap<String, BTreeSet<(u32, WorkerId)>>,
    /// Where each worker is listed in `free`, if it is.
    listed: BTreeMap<WorkerId, (String, u32)>,
    starting: BTreeMap<String, u32>,
    /// Each starting worker's function and slots.
    starting_of: BTreeMap<WorkerId, (String, u32)>,
}

impl PartialEq for Index {
    fn eq(&self, _: &Index) -> bool {
        true
    }
}

impl Eq for Index {}

impl Pool {
    /// Build the index from the workers if it is not (a pool read from a
    /// snapshot).
    fn indexed(&mut self) {
        if self.index.built {
            return;
        }
        self.index = Index {
            built: true,
            ..Index::default()
        };
        let ids: Vec<WorkerId> = self.workers.keys().copied().collect();
        for w in ids {
            self.sync(w);
        }
    }

    /// Re-list `w` after its state or load changed (or it was removed).
    fn sync(&mut self, w: WorkerId) {
        if !self.index.built {
            return;
        }
        let ix = &mut self.index;
        if let Some((f, r)) = ix.listed.remove(&w) {
            if let Some(set) = ix.free.get_mut(&f) {
                set.remove(&(r, w));
            }
        }
        if let Some((f, n)) = ix.starting_of.remove(&w) {
            if let Some(c) = ix.starting.get_mut(&f) {
                *c = c.saturating_sub(n);
            }
        }
        let Some(worker) = self.workers.get(&w) else {
            return;
        };
        let slots = self.slots(worker);
        let ix = &mut self.index;
        match worker.state {
            WorkerState::Warm if worker.running < slots => {
                ix.free
                    .entry(worker.function.clone())
                    .or_default()
                    .insert((worker.running, w));
                ix.listed
                    .insert(w, (worker.function.clone(), worker.running));
            }
            WorkerState::Starting => {
                *ix.starting.entry(worker.function.clone()).or_default() += slots;
                ix.starting_of.insert(w, (worker.function.clone(), slots));
            }
            _ => {}
        }
    }

    /// The least loaded warm worker of `function` with a free slot, lowest
    /// id first among equals, other than `avoid`.
    fn least_loaded(&mut self, function: &str, avoid: Option<WorkerId>) -> Option<WorkerId> {
        self.indexed();
        self.index
            .free
            .get(function)?
            .iter()
            .map(|&(_, w)| w)
            .find(|&w| Some(w) != avoid)
    }

    pub fn new(cfg: PoolConfig, servers: u32, cores_per_server: u32) -> Pool {
        let servers = servers.max(1);
        let cores_per_server = cores_per_server.max(1);
        let mut cfg = cfg;
        cfg.max_workers_per_function = cfg
            .max_workers_per_function
            .min(servers.saturating_mul(cores_per_server));
        Pool {
            cfg,
            cores_per_server,
            cores: vec![CoreLoad::default(); (servers * cores_per_server) as usize],
            workers: BTreeMap::new(),
            next_worker: 0,
            functions: BTreeMap::new(),
            stats: PoolStats::default(),
            index: Index {
                built: true,
                ..Index::default()
            },
        }
    }

    pub fn declare(&mut self, function: &str, heavy: bool) {
        let f = self.functions.entry(function.to_string()).or_default();
        f.heavy |= heavy;
    }

    /// Start `workers` workers ahead of the first invocation.
    pub fn prewarm(&mut self, function: &str, workers: u32, out: &mut PoolOut) {
        let n = workers.min(self.cfg.max_workers_per_function);
        if let Some(f) = self.functions.get_mut(function) {
            f.floor = f.floor.max(n);
        }
        for _ in 0..n {
            self.start_worker(function, out);
        }
    }

    fn start_worker(&mut self, function: &str, out: &mut PoolOut) -> Option<WorkerId> {
        let f = self.functions.entry(function.to_string()).or_default();
        if f.workers.len() as u32 >= self.cfg.max_workers_per_function {
            return None;
        }
        let heavy = f.heavy;
        // Interference-aware: a heavy worker prefers a core with no heavy
        // worker; among candidates the least loaded core, lowest index.
        let core = (0..self.cores.len())
            .min_by_key(|&c| {
                let l = self.cores[c];
                let clash = heavy && l.heavy > 0;
                (clash, l.workers, c)
            })
            .unwrap_or(0);
        if heavy && self.cores[core].heavy > 0 {
            self.stats.interference_conflicts += 1;
        }
        self.cores[core].workers += 1;
        if heavy {
            self.cores[core].heavy += 1;
        }
        let id = WorkerId(self.next_worker);
        self.next_worker += 1;
        f.workers.push(id);
        self.workers.insert(
            id,
            Worker {
                function: function.to_string(),
                state: WorkerState::Starting,
                running: 0,
                core: core as u32,
                heavy,
                idle_since: None,
            },
        );
        self.sync(id);
        self.stats.cold_starts += 1;
        self.stats.peak_workers = self.stats.peak_workers.max(self.workers.len() as u64);
        out.actions.push(PoolAction::StartWorker {
            worker: id,
            function: function.to_string(),
            server: core as u32 / self.cores_per_server,
            core: core as u32 % self.cores_per_server,
        });
        Some(id)
    }

    /// Invocations a worker runs at once: a CPU-heavy function's worker
    /// one (it is pinned to one core, and two CPU-bound invocations on a
    /// core only slow each other down), others `concurrency`.
    fn slots(&self, w: &Worker) -> u32 {
        if w.heavy {
            1
        } else {
            self.cfg.concurrency.max(1)
        }
    }

    fn free_slot(&self, w: WorkerId) -> bool {
        self.workers
            .get(&w)
            .is_some_and(|w| w.state == WorkerState::Warm && w.running < self.slots(w))
    }

    fn take_slot(&mut self, w: WorkerId) {
        if let Some(worker) = self.workers.get_mut(&w) {
            worker.running += 1;
            worker.idle_since = None;
        }
        self.sync(w);
    }

    /// Place or queue an invocation. `parent` is the producer's worker when
    /// the channel allows running in it.
    #[allow(clippy::too_many_arguments)]
    pub fn submit(
        &mut self,
        now: Micros,
        function: &str,
        q: Queued,
        parent: Option<WorkerId>,
        out: &mut PoolOut,
    ) -> Option<Dispatch> {
        if let Some(p) = parent.filter(|&p| self.free_slot(p) && Some(p) != q.avoid) {
            self.take_slot(p);
            self.stats.in_worker_invocations += 1;
            return Some(Dispatch {
                worker: p,
                instance: q.instance,
                task: q.task,
                function: function.to_string(),
                input: q.input,
            });
        }
        if !self.functions.contains_key(function) {
            self.declare(function, false);
        }
        let best = self.least_loaded(function, q.avoid);
        if let Some(w) = best {
            self.take_slot(w);
            self.stats.warm_invocations += 1;
            return Some(Dispatch {
                worker: w,
                instance: q.instance,
                task: q.task,
                function: function.to_string(),
                input: q.input,
            });
        }
        self.stats.queued_invocations += 1;
        let starting = self.starting_capacity(function);
        let queued = self
            .functions
            .get(function)
            .map_or(0, |f| f.queue.len() as u32);
        if let Some(f) = self.functions.get_mut(function) {
            f.queue.push_back(Queued { since: now, ..q });
        }
        // Cold-start only when the workers already starting cannot absorb
        // the queue; otherwise wait for them (cold starts are expensive).
        if starting <= queued {
            self.start_worker(function, out);
        }
        None
    }

    fn starting_capacity(&self, function: &str) -> u32 {
        if self.index.built {
            return self.index.starting.get(function).copied().unwrap_or(0);
        }
        self.functions.get(function).map_or(0, |f| {
            f.workers
                .iter()
                .filter_map(|w| {
                    self.workers
                        .get(w)
                        .filter(|w| w.state == WorkerState::Starting)
                })
                .map(|w| self.slots(w))
                .sum::<u32>()
        })
    }

    /// Drain the function's queue onto free slots of its warm workers.
    fn pump(&mut self, function: &str) -> Vec<Dispatch> {
        let mut done = Vec::new();
        while let Some(f) = self.functions.get(function) {
            let Some(front) = f.queue.front() else {
                break;
            };
            let avoid = front.avoid;
            let Some(w) = self.least_loaded(function, avoid) else {
                break;
            };
            let Some(q) = self
                .functions
                .get_mut(function)
                .and_then(|f| f.queue.pop_front())
            else {
                break;
            };
            self.take_slot(w);
            done.push(Dispatch {
                worker: w,
                instance: q.instance,
                task: q.task,
                function: function.to_string(),
                input: q.input,
            });
        }
        done
    }

    pub fn on_ready(&mut self, worker: WorkerId) -> Vec<Dispatch> {
        let Some(w) = self.workers.get_mut(&worker) else {
            return Vec::new();
        };
        w.state = WorkerState::Warm;
        let function = w.function.clone();
        self.sync(worker);
        self.pump(&function)
    }

    /// An invocation on `worker` ended (result, error or cancel).
    pub fn on_done(&mut self, now: Micros, worker: WorkerId, out: &mut PoolOut) -> Vec<Dispatch> {
        let Some(w) = self.workers.get_mut(&worker) else {
            return Vec::new();
        };
        w.running = w.running.saturating_sub(1);
        let function = w.function.clone();
        self.sync(worker);
        let d = self.pump(&function);
        if let Some(w) = self.workers.get_mut(&worker) {
            if w.running == 0 && w.idle_since.is_none() {
                w.idle_since = Some(now);
                out.keep_alive
                    .push((now.plus(self.cfg.keep_alive_us), worker));
            }
        }
        d
    }

    /// Whether [`Pool::on_keep_alive`] would stop the worker now: idle for
    /// the whole keep-alive, and not needed for the prewarm floor.
    pub fn keep_alive_expired(&self, now: Micros, worker: WorkerId) -> bool {
        let Some(w) = self.workers.get(&worker) else {
            return false;
        };
        let expired = w.running == 0
            && w.idle_since
                .is_some_and(|t| now.since(t) >= self.cfg.keep_alive_us);
        let f = self.functions.get(&w.function);
        let floor = f.map_or(0, |f| f.floor);
        let count = f.map_or(0, |f| f.workers.len() as u32);
        expired && count > floor
    }

    pub fn on_keep_alive(&mut self, now: Micros, worker: WorkerId, out: &mut PoolOut) {
        if self.keep_alive_expired(now, worker) {
            self.stats.scale_downs += 1;
            self.remove(worker);
            out.actions.push(PoolAction::StopWorker { worker });
        }
    }

    /// When each idle worker's keep-alive runs out (to re-arm its check
    /// after recovery: timers are not journaled).
    pub fn keep_alive_deadlines(&self) -> Vec<(Micros, WorkerId)> {
        self.workers
            .iter()
            .filter(|(_, w)| w.running == 0)
            .filter_map(|(&id, w)| Some((w.idle_since?.plus(self.cfg.keep_alive_us), id)))
            .collect()
    }

    /// Every worker the pool knows, starting or warm.
    pub fn worker_ids(&self) -> Vec<WorkerId> {
        self.workers.keys().copied().collect()
    }

    /// The worker is gone. Returns the function it served, so the core can
    /// re-place what ran there.
    pub fn remove(&mut self, worker: WorkerId) -> Option<String> {
        let w = self.workers.remove(&worker)?;
        if let Some(c) = self.cores.get_mut(w.core as usize) {
            c.workers = c.workers.saturating_sub(1);
            if w.heavy {
                c.heavy = c.heavy.saturating_sub(1);
            }
        }
        if let Some(f) = self.functions.get_mut(&w.function) {
            f.workers.retain(|&x| x != worker);
        }
        self.sync(worker);
        Some(w.function)
    }

    /// After a worker exits, queued work of its function may need a new one.
    pub fn ensure_capacity(&mut self, function: &str, out: &mut PoolOut) {
        let queued = self
            .functions
            .get(function)
            .map_or(0, |f| f.queue.len() as u32);
        let alive = self.functions.get(function).map_or(0, |f| f.workers.len());
        if queued > 0 && (alive == 0 || self.starting_capacity(function) < queued) {
            self.start_worker(function, out);
        }
    }

    /// Functions that [`Pool::on_tick`] would give another worker now: the
    /// oldest queued invocation waited too long, none is starting, and the
    /// function is below its worker limit.
    fn late_functions(&self, now: Micros) -> impl Iterator<Item = &String> + '_ {
        self.functions
            .iter()
            .filter(move |(name, f)| {
                f.queue
                    .front()
                    .is_some_and(|q| now.since(q.since) >= self.cfg.scale_up_delay_us)
                    && (f.workers.len() as u32) < self.cfg.max_workers_per_function
                    && self.starting_capacity(name) == 0
            })
            .map(|(n, _)| n)
    }

    /// Whether [`Pool::on_tick`] would start a worker now.
    pub fn scale_up_due(&self, now: Micros) -> bool {
        self.late_functions(now).next().is_some()
    }

    /// Autoscale up: a queue whose oldest entry waited too long gets a worker.
    pub fn on_tick(&mut self, now: Micros, out: &mut PoolOut) {
        let late: Vec<String> = self.late_functions(now).cloned().collect();
        for name in late {
            if self.start_worker(&name, out).is_some() {
                self.stats.scale_ups += 1;
            }
        }
    }

    /// Forget a queued invocation (its instance finished elsewhere).
    pub fn unqueue(&mut self, instance: InstanceId) -> bool {
        for f in self.functions.values_mut() {
            if let Some(i) = f.queue.iter().position(|q| q.instance == instance) {
                f.queue.remove(i);
                return true;
            }
        }
        false
    }

    pub fn is_queued(&self, instance: InstanceId) -> bool {
        self.functions
            .values()
            .any(|f| f.queue.iter().any(|q| q.instance == instance))
    }

    /// Stop every worker (mission over).
    pub fn stop_all(&mut self, out: &mut PoolOut) {
        let ids: Vec<WorkerId> = self.workers.keys().copied().collect();
        for w in ids {
            self.remove(w);
            out.actions.push(PoolAction::StopWorker { worker: w });
        }
    }

    pub fn core_loads(&self) -> &[CoreLoad] {
        &self.cores
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(i: u64) -> Queued {
        Queued {
            instance: InstanceId(i),
            task: TaskId(0),
            since: Micros(0),
            input: Handoff::None,
            avoid: None,
        }
    }

    fn cfg() -> PoolConfig {
        PoolConfig {
            concurrency: 2,
            keep_alive_us: 1_000,
            max_workers_per_function: 3,
            ..PoolConfig::default()
        }
    }

    #[test]
    fn cold_then_warm_reuse_then_keep_alive() {
        let mut p = Pool::new(cfg(), 1, 4);
        let mut out = PoolOut::default();
        p.declare("f", false);
        assert!(
            p.submit(Micros(0), "f", q(1), None, &mut out).is_none(),
            "no worker yet"
        );
        assert!(matches!(
            out.actions.pop(),
            Some(PoolAction::StartWorker { .. })
        ));
        assert!(p.submit(Micros(0), "f", q(2), None, &mut out).is_none());
        assert_eq!(
            out,
            PoolOut::default(),
            "the starting worker absorbs the second"
        );
        let d = p.on_ready(WorkerId(0));
        assert_eq!(d.len(), 2);
        assert_eq!(p.workers[&WorkerId(0)].state, WorkerState::Warm);
        assert!(p.on_done(Micros(10), WorkerId(0), &mut out).is_empty());
        assert_eq!(out, PoolOut::default(), "still busy");
        let d = p
            .submit(Micros(10), "f", q(3), None, &mut out)
            .expect("warm slot");
        assert_eq!(d.worker, WorkerId(0));
        assert_eq!(p.stats.warm_invocations, 1);
        p.on_done(Micros(20), WorkerId(0), &mut out);
        p.on_done(Micros(20), WorkerId(0), &mut out);
        assert_eq!(out.keep_alive.pop(), Some((Micros(1020), WorkerId(0))));
        assert_eq!(p.keep_alive_deadlines(), [(Micros(1020), WorkerId(0))]);
        p.on_keep_alive(Micros(500), WorkerId(0), &mut out);
        assert_eq!(out, PoolOut::default(), "too early");
        assert!(p.keep_alive_expired(Micros(1020), WorkerId(0)));
        p.on_keep_alive(Micros(1020), WorkerId(0), &mut out);
        assert_eq!(
            out.actions.pop(),
            Some(PoolAction::StopWorker {
                worker: WorkerId(0)
            })
        );
        assert!(p.workers.is_empty());
    }

    #[test]
    fn heavy_workers_avoid_sharing_a_core_and_prewarm_floor_holds() {
        let mut p = Pool::new(cfg(), 1, 2);
        let mut out = PoolOut::default();
        p.declare("heavy", true);
        p.declare("light", false);
        p.prewarm("heavy", 2, &mut out);
        let cores: Vec<u32> = p.workers.values().map(|w| w.core).collect();
        assert_eq!(cores, [0, 1]);
        // A function never gets more workers than there are cores.
        p.prewarm("heavy", 3, &mut out);
        assert_eq!(p.workers.len(), 2);
        p.declare("heavy2", true);
        p.prewarm("heavy2", 1, &mut out);
        assert_eq!(p.stats.interference_conflicts, 1, "third heavy must share");
        for w in 0..3 {
            p.on_ready(WorkerId(w));
        }
        p.on_done(Micros(0), WorkerId(0), &mut out);
        p.on_keep_alive(Micros(5_000), WorkerId(0), &mut out);
        assert!(p.workers.contains_key(&WorkerId(0)), "prewarm floor");
    }

    #[test]
    fn child_runs_in_parent_worker() {
        let mut p = Pool::new(cfg(), 1, 2);
        let mut out = PoolOut::default();
        p.prewarm("parent", 1, &mut out);
        p.on_ready(WorkerId(0));
        let d = p
            .submit(Micros(0), "child", q(1), Some(WorkerId(0)), &mut out)
            .expect("in parent");
        assert_eq!(d.worker, WorkerId(0));
        assert_eq!(p.stats.in_worker_invocations, 1);
    }

    /// The index answers what a scan of the function's workers answers,
    /// through random starts, readiness, invocations, completions, exits
    /// and keep-alive stops, and after the pool is read back from JSON
    /// (the index is rebuilt, never serialized).
    #[test]
    fn the_worker_index_agrees_with_a_scan() {
        fn scan(p: &Pool, f: &str, avoid: Option<WorkerId>) -> Option<WorkerId> {
            p.functions[f]
                .workers
                .iter()
                .copied()
                .filter(|&w| p.free_slot(w) && Some(w) != avoid)
                .min_by_key(|w| (p.workers[w].running, *w))
        }
        for seed in 0..20u64 {
            let mut rng = crate::rng::Rng::new(seed);
            let mut p = Pool::new(
                PoolConfig {
                    concurrency: 3,
                    max_workers_per_function: 6,
                    ..cfg()
                },
                2,
                4,
            );
            let mut out = PoolOut::default();
            for f in ["f", "g"] {
                p.declare(f, false);
            }
            let mut next = 0u64;
            for step in 0..400u64 {
                let f = if rng.chance(500) { "f" } else { "g" };
                let ids: Vec<WorkerId> = p.workers.keys().copied().collect();
                let pick = |rng: &mut crate::rng::Rng| {
                    (!ids.is_empty()).then(|| ids[rng.below(ids.len() as u64) as usize])
                };
                let now = Micros(step * 100);
                match rng.below(5) {
                    0 | 1 => {
                        next += 1;
                        let _ = p.submit(now, f, q(next), None, &mut out);
                    }
                    2 => {
                        if let Some(w) = pick(&mut rng) {
                            let _ = p.on_ready(w);
                        }
                    }
                    3 => {
                        if let Some(w) = pick(&mut rng) {
                            let _ = p.on_done(now, w, &mut out);
                            p.on_keep_alive(Micros(now.0 + 5_000), w, &mut out);
                        }
                    }
                    _ => {
                        if let Some(w) = pick(&mut rng) {
                            if rng.chance(200) {
                                p.remove(w);
                            }
                        }
                    }
                }
                let avoid = pick(&mut rng);
                for f in ["f", "g"] {
                    let want = scan(&p, f, avoid);
                    assert_eq!(p.least_loaded(f, avoid), want, "seed {seed} step {step}");
                    let starting: u32 = p.functions[f]
                        .workers
                        .iter()
                        .filter(|w| p.workers[w].state == WorkerState::Starting)
                        .map(|w| p.slots(&p.workers[w]))
                        .sum();
                    assert_eq!(p.starting_capacity(f), starting, "seed {seed} step {step}");
                }
            }
            let mut back: Pool = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
            assert_eq!(back, p);
            for f in ["f", "g"] {
                assert_eq!(back.least_loaded(f, None), scan(&p, f, None), "seed {seed}");
            }
        }
    }
}
