//! The controller core: one deterministic state machine. Every input is an
//! [`Event`] handled at a given `now`; every output is an [`Effect`] queued
//! for the driver. The first effect of every `handle` is the journal record
//! of the event, so anything that acknowledges the event comes after it.
//!
//! State lives in [`State`] (serde, so a snapshot is the state itself);
//! facts derived from the graph and plan live in [`derived::Derived`] and are
//! recomputed, never journaled.

mod batch;
mod derived;
mod devices;
mod schedule;

use crate::config::Config;
use crate::effect::{Effect, Handoff, Publication};
use crate::event::{Command, Event, Timer};
use crate::geometry::Strip;
use crate::histogram::Histogram;
use crate::ids::{DeviceId, Epoch, Executor, GroupId, InstanceId, WorkerId};
use crate::pool::Pool;
use crate::record::{Genesis, Record};
use crate::rng::Rng;
use crate::time::Micros;
use derived::Derived;
use hivemind_ir::activation::Start;
use hivemind_ir::plan::{ChannelKind, Plan};
use hivemind_ir::{FleetId, PointMm, TaskGraph, TaskId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub use derived::CoverTask;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    NotStarted,
    Running,
    /// No new activations; in-progress work finishes.
    Draining,
    Finished,
    Aborted {
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    Alive,
    /// Low battery: flying home, finishing what it has, taking nothing new.
    Returning,
    /// Silent too long (or re-registered); must rejoin with a new epoch.
    Failed,
    Left,
}

/// (attempts in flight, battery drained in basis points, id): the fleet's
/// load index orders devices by queue length, then by battery left.
type LoadKey = (u32, u32, DeviceId);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub fleet: FleetId,
    pub epoch: Epoch,
    pub status: DeviceStatus,
    pub last_seen: Micros,
    pub battery_uj: u64,
    pub battery_at_join_uj: u64,
    /// Energy spent in earlier epochs.
    pub energy_uj: u64,
    pub position: PointMm,
    pub in_flight: Vec<InstanceId>,
    pub cover: Vec<Strip>,
    pub completed: u64,
    pub bytes_sent: u64,
    load_key: Option<LoadKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FleetState {
    load: BTreeSet<LoadKey>,
    /// Instances waiting for a device: (priority rank, id), best first.
    pending: BTreeSet<(u8, InstanceId)>,
    /// Sweep strips nobody holds (no survivor when their device failed).
    pub orphans: Vec<Strip>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KindState {
    /// Attempt service time (dispatch to result): the straggler baseline.
    pub service: Histogram,
    /// Instance latency (created to completed): what the report shows.
    pub latency: Histogram,
    next_due: Option<Micros>,
    /// Activations (firings; a per-device firing counts one per device).
    #[serde(default)]
    pub activations: u64,
    /// Instances created (activations × their width).
    pub created: u64,
    pub completed: u64,
    pub failed: u64,
    pub relaunches: u64,
    pub duplicates: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub executor: Executor,
    pub started: Micros,
    pub live: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Waiting {
    /// Has a live attempt (or none yet but is being placed).
    Running,
    /// In its fleet's pending queue or the function pool's queue.
    Queued,
    /// Failed attempt; a `Retry` timer will place it again.
    Backoff,
}

/// What an activation inherits from the value that fired it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Lineage {
    /// Start times of the required paths the value lies on.
    pub path_starts: Vec<(u16, Micros)>,
    /// The producer's round (kept by per-input consumers).
    pub round: Option<GroupId>,
    pub origin: Option<DeviceId>,
}

/// A join: per producer, the required-path starts of its latest value
/// (`None` until it delivers), and the pacer's values waiting for the
/// others' first delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Join {
    pub latest: Vec<Option<Vec<(u16, Micros)>>>,
    pub held: Vec<(Parent, u32, Lineage)>,
}

/// The producer an instance was triggered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parent {
    pub instance: InstanceId,
    /// The activation the producer belonged to (alive while it feeds).
    pub group: GroupId,
    pub executor: Executor,
    pub channel: ChannelKind,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    pub task: TaskId,
    pub group: GroupId,
    pub created: Micros,
    pub attempts: Vec<Attempt>,
    pub retries: u32,
    pub relaunches: u32,
    pub affinity: Option<DeviceId>,
    pub parent: Option<Parent>,
    pub waiting: Waiting,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub task: TaskId,
    /// The round the activation belongs to (`core::batch`).
    pub round: GroupId,
    /// The device its value comes from, when it descends from one device's
    /// activation without being merged with others (keys per-device joins).
    #[serde(default)]
    pub origin: Option<DeviceId>,
    pub expected: u32,
    pub completed: u32,
    pub failed: u32,
    pub items: u32,
    pub last: Option<Parent>,
    /// When each required path this activation lies on started (the
    /// activation of its first task upstream), by index into the paths.
    #[serde(default)]
    pub path_starts: Vec<(u16, Micros)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counters {
    pub devices_failed: u64,
    pub rejoins: u64,
    pub repartitions: u64,
    /// Instances moved off a failed device or worker.
    pub replaced: u64,
    pub relaunches: u64,
    pub cancelled_losers: u64,
    pub duplicate_results: u64,
    /// Results from an attempt no longer live (failed device) that still won.
    pub stale_results_merged: u64,
    pub unknown_results: u64,
    pub stale_messages: u64,
    pub retries: u64,
    pub low_battery_returns: u64,
    pub bytes_sent: u64,
    pub rejected_events: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureRecord {
    pub instance: InstanceId,
    pub task: TaskId,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub config: Config,
    pub graph: TaskGraph,
    pub plan: Plan,
    pub seed: u64,
    rng: Rng,
    pub now: Micros,
    pub phase: Phase,
    pub started_at: Option<Micros>,
    pub finished_at: Option<Micros>,
    drain_deadline: Option<Micros>,
    pub devices: BTreeMap<DeviceId, Device>,
    pub fleets: Vec<FleetState>,
    pub kinds: Vec<KindState>,
    pub instances: BTreeMap<InstanceId, Instance>,
    /// Bitset of resolved (completed or failed) instance ids: the
    /// idempotency record, 1 bit per instance ever created.
    done: Vec<u64>,
    next_instance: u64,
    next_group: u64,
    groups: BTreeMap<GroupId, Group>,
    /// Open batches of windows and gathers.
    #[serde(default)]
    batches: batch::Batches,
    /// Joins' state per (task, origin device when joined per device).
    #[serde(default)]
    join: BTreeMap<(TaskId, Option<DeviceId>), Join>,
    pub pool: Pool,
    pub counters: Counters,
    pub failures: Vec<FailureRecord>,
    /// Per latency requirement (in order): measured path latency, from the
    /// activation of its first task to the completion of its last.
    #[serde(default)]
    pub paths: Vec<Histogram>,
}

/// The whole controller state, as journaled by a snapshot record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Snapshot {
    state: State,
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Plan(#[from] hivemind_ir::plan::PlanError),
    #[error(transparent)]
    Graph(#[from] hivemind_ir::IrError),
}

#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    #[error("journal is empty")]
    Empty,
    #[error("journal does not start with a genesis or snapshot record")]
    NoStart,
    #[error("journal start record is invalid: {0}")]
    Setup(#[from] SetupError),
}

/// The sans-IO controller. Drive it with [`Controller::handle`] and take
/// effects with [`Controller::poll_effect`] until it returns `None`.
#[derive(Debug, Clone)]
pub struct Controller {
    st: State,
    d: Derived,
    out: VecDeque<Effect>,
}

impl Controller {
    /// A controller for `plan` of `graph`. Its first effect is the genesis
    /// journal record.
    pub fn new(
        config: Config,
        graph: TaskGraph,
        plan: Plan,
        seed: u64,
    ) -> Result<Controller, SetupError> {
        let genesis = Genesis {
            config,
            graph,
            plan,
            seed,
        };
        let mut c = Controller::from_genesis(genesis.clone())?;
        c.out
            .push_back(Effect::WriteJournal(Record::Genesis(Box::new(genesis))));
        Ok(c)
    }

    fn from_genesis(g: Genesis) -> Result<Controller, SetupError> {
        g.graph.validate()?;
        g.plan.validate(&g.graph)?;
        let (servers, cores) = g.graph.cloud.as_ref().map_or(
            (
                g.config.pool.default_servers,
                g.config.pool.default_cores_per_server,
            ),
            |c| (c.servers, c.cores_per_server),
        );
        let mut pool = Pool::new(g.config.pool.clone(), servers, cores);
        let d = Derived::new(&g.graph, &g.plan, g.config.pool.heavy_ops);
        for (i, p) in g.plan.tasks.iter().enumerate() {
            if p.modality.is_cloud() {
                pool.declare(&d.function[i], d.heavy[i]);
            }
        }
        let n = g.graph.tasks.len();
        let st = State {
            rng: Rng::new(g.seed),
            seed: g.seed,
            now: Micros::ZERO,
            phase: Phase::NotStarted,
            started_at: None,
            finished_at: None,
            drain_deadline: None,
            devices: BTreeMap::new(),
            fleets: vec![FleetState::default(); g.graph.fleets.len()],
            kinds: vec![KindState::default(); n],
            instances: BTreeMap::new(),
            done: Vec::new(),
            next_instance: 0,
            next_group: 0,
            groups: BTreeMap::new(),
            batches: batch::Batches::default(),
            join: BTreeMap::new(),
            pool,
            counters: Counters::default(),
            failures: Vec::new(),
            paths: vec![Histogram::default(); d.paths.len()],
            config: g.config,
            graph: g.graph,
            plan: g.plan,
        };
        Ok(Controller {
            st,
            d,
            out: VecDeque::new(),
        })
    }

    /// Rebuild from journal records: the last snapshot (or the genesis) and
    /// every event after it. The state equals the one that wrote the
    /// records. Queued effects are then the resync: timers re-armed and live
    /// attempts re-sent (receivers treat both idempotently).
    pub fn recover(records: impl IntoIterator<Item = Record>) -> Result<Controller, RecoverError> {
        let mut c: Option<Controller> = None;
        let mut any = false;
        for r in records {
            any = true;
            match r {
                Record::Genesis(g) => c = Some(Controller::from_genesis(*g)?),
                Record::Snapshot(s) => c = Some(Controller::from_snapshot(*s)),
                Record::Event { at, event } => {
                    let Some(c) = c.as_mut() else {
                        return Err(RecoverError::NoStart);
                    };
                    c.apply(at, event);
                    c.out.clear();
                }
            }
        }
        if !any {
            return Err(RecoverError::Empty);
        }
        let mut c = c.ok_or(RecoverError::NoStart)?;
        c.resync();
        Ok(c)
    }

    fn from_snapshot(s: Snapshot) -> Controller {
        let st = s.state;
        let d = Derived::new(&st.graph, &st.plan, st.config.pool.heavy_ops);
        Controller {
            st,
            d,
            out: VecDeque::new(),
        }
    }

    /// The state as a journal record; a journal may drop everything before it.
    pub fn snapshot(&self) -> Record {
        Record::Snapshot(Box::new(Snapshot {
            state: self.st.clone(),
        }))
    }

    pub fn state(&self) -> &State {
        &self.st
    }

    pub fn derived_cover(&self) -> &[CoverTask] {
        &self.d.cover
    }

    /// The mission's latency requirements, in the order of [`State::paths`]:
    /// (requirement index, first task, last task).
    pub fn latency_paths(&self) -> &[(usize, TaskId, TaskId)] {
        &self.d.paths
    }

    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.out.pop_front()
    }

    pub fn drain_effects(&mut self) -> std::collections::vec_deque::Drain<'_, Effect> {
        self.out.drain(..)
    }

    /// Handle one event at `now` (clamped to never go backwards).
    pub fn handle(&mut self, now: Micros, event: Event) {
        let now = now.max(self.st.now);
        self.out.push_back(Effect::WriteJournal(Record::Event {
            at: now,
            event: event.clone(),
        }));
        self.apply(now, event);
    }

    fn apply(&mut self, now: Micros, event: Event) {
        let now = now.max(self.st.now);
        self.st.now = now;
        match event {
            Event::DeviceJoined {
                device,
                fleet,
                battery_uj,
                position,
            } => self.on_join(now, device, fleet, battery_uj, position),
            Event::DeviceLeft { device, epoch } => self.on_leave(now, device, epoch),
            Event::Heartbeat { device, epoch } => self.on_heartbeat(now, device, epoch),
            Event::Telemetry {
                device,
                epoch,
                position,
                battery_uj,
            } => self.on_telemetry(now, device, epoch, position, battery_uj),
            Event::TaskResult {
                instance,
                executor,
                items,
                bytes,
            } => self.on_result(now, instance, executor, items, bytes),
            Event::TaskError {
                instance,
                executor,
                reason,
            } => self.on_error(now, instance, executor, reason),
            Event::WorkerReady { worker } => {
                let d = self.st.pool.on_ready(worker);
                self.launch(now, d);
            }
            Event::WorkerExited { worker } => self.on_worker_exit(now, worker),
            Event::TimerFired { timer } => self.on_timer(now, timer),
            Event::Operator { command } => match command {
                Command::Start => self.start(now),
                Command::Stop => self.begin_drain(now),
                Command::Abort { reason } => self.abort(now, reason),
            },
        }
    }

    fn on_timer(&mut self, now: Micros, timer: Timer) {
        match timer {
            Timer::Tick => self.on_tick(now),
            Timer::Periodic { task } => self.on_periodic(now, TaskId(task)),
            Timer::Straggler { instance, attempt } => self.on_straggler(now, instance, attempt),
            Timer::Retry { instance } => self.on_retry(now, instance),
            Timer::KeepAlive { worker } => self.st.pool.on_keep_alive(now, worker, &mut self.out),
            Timer::MissionEnd => {
                if self.st.phase == Phase::Running {
                    self.begin_drain(now);
                }
            }
        }
    }

    fn on_tick(&mut self, now: Micros) {
        if !matches!(self.st.phase, Phase::Running | Phase::Draining) {
            return;
        }
        self.liveness(now);
        self.st.pool.on_tick(now, &mut self.out);
        if self.st.drain_deadline.is_some_and(|t| now >= t) {
            let ids: Vec<InstanceId> = self.st.instances.keys().copied().collect();
            for id in ids {
                self.fail_instance(now, id, "mission ended before the instance finished".into());
            }
        }
        self.maybe_finish(now);
        if matches!(self.st.phase, Phase::Running | Phase::Draining) {
            self.timer(now.plus(self.st.config.tick_us), Timer::Tick);
        }
    }

    fn timer(&mut self, at: Micros, timer: Timer) {
        self.out.push_back(Effect::SetTimer { at, timer });
    }

    fn publish(&mut self, p: Publication) {
        self.out.push_back(Effect::Publish(p));
    }

    fn start(&mut self, now: Micros) {
        if self.st.phase != Phase::NotStarted {
            self.st.counters.rejected_events += 1;
            return;
        }
        self.st.phase = Phase::Running;
        self.st.started_at = Some(now);
        self.timer(now.plus(self.st.graph.duration_us), Timer::MissionEnd);
        for w in self.st.plan.prewarm.clone() {
            self.st.pool.prewarm(&w.function, w.workers, &mut self.out);
        }
        self.assign_initial_behaviours();
        for i in 0..self.st.graph.tasks.len() {
            let t = TaskId(i as u32);
            match self.d.activation[i].start {
                Start::Periodic { .. } => {
                    self.st.kinds[i].next_due = Some(now);
                    self.on_periodic(now, t);
                }
                Start::Window { period_us } => {
                    let first = now.plus(period_us.max(1));
                    self.st.kinds[i].next_due = Some(first);
                    self.timer(first, Timer::Periodic { task: t.0 });
                }
                Start::Once => self.activate(now, t, None, 1, &Lineage::default()),
                _ => {}
            }
        }
        self.timer(now.plus(self.st.config.tick_us), Timer::Tick);
    }

    fn on_periodic(&mut self, now: Micros, task: TaskId) {
        if self.st.phase != Phase::Running {
            return;
        }
        let Some(kind) = self.st.kinds.get(task.index()) else {
            self.st.counters.rejected_events += 1;
            return;
        };
        let Some(due) = kind.next_due else { return };
        let (Start::Periodic { period_us } | Start::Window { period_us }) =
            self.d.activation[task.index()].start
        else {
            return;
        };
        if due > now {
            return; // stale or early timer: the right one is armed
        }
        // Catch up without bursting: one activation (or window close), then
        // the next due time after `now` (a late timer does not create a backlog).
        let period = period_us.max(1);
        let behind = now.since(due) / period;
        let next = due.plus((behind + 1) * period);
        self.st.kinds[task.index()].next_due = Some(next);
        if matches!(self.d.activation[task.index()].start, Start::Window { .. }) {
            self.fire_open(now, task);
        } else {
            self.activate(now, task, None, 1, &Lineage::default());
        }
        self.timer(next, Timer::Periodic { task: task.0 });
    }

    fn begin_drain(&mut self, now: Micros) {
        if self.st.phase != Phase::Running {
            return;
        }
        self.st.phase = Phase::Draining;
        self.st.drain_deadline = Some(now.plus(self.st.config.drain_timeout_us));
        for k in &mut self.st.kinds {
            k.next_due = None;
        }
        self.maybe_finish(now);
    }

    fn maybe_finish(&mut self, now: Micros) {
        if self.st.phase == Phase::Draining && self.st.instances.is_empty() {
            // Open windows and gather remainders fire once; finish after them.
            if self.flush_batches(now) && !self.st.instances.is_empty() {
                return;
            }
            self.st.phase = Phase::Finished;
            self.st.finished_at = Some(now);
            self.st.pool.stop_all(&mut self.out);
            self.publish(Publication::MissionFinished);
        }
    }

    fn abort(&mut self, now: Micros, reason: String) {
        if matches!(self.st.phase, Phase::Finished | Phase::Aborted { .. }) {
            return;
        }
        let ids: Vec<InstanceId> = self.st.instances.keys().copied().collect();
        for id in ids {
            self.fail_instance(now, id, format!("mission aborted: {reason}"));
        }
        self.st.phase = Phase::Aborted {
            reason: reason.clone(),
        };
        self.st.finished_at = Some(now);
        self.st.pool.stop_all(&mut self.out);
        self.publish(Publication::MissionAborted { reason });
    }

    /// After recovery: timers are volatile in the driver, and effects queued
    /// after the last durable record may never have been carried out.
    fn resync(&mut self) {
        let now = self.st.now;
        if !matches!(self.st.phase, Phase::Running | Phase::Draining) {
            return;
        }
        self.timer(now, Timer::Tick);
        if self.st.phase == Phase::Running {
            if let Some(s) = self.st.started_at {
                self.timer(s.plus(self.st.graph.duration_us), Timer::MissionEnd);
            }
        }
        for (i, k) in self.st.kinds.iter().enumerate() {
            if let Some(due) = k.next_due {
                self.out.push_back(Effect::SetTimer {
                    at: due,
                    timer: Timer::Periodic { task: i as u32 },
                });
            }
        }
        let mut resend = Vec::new();
        for (&id, inst) in &self.st.instances {
            if inst.waiting == Waiting::Backoff {
                resend.push(Effect::SetTimer {
                    at: now,
                    timer: Timer::Retry { instance: id },
                });
            }
            for (n, a) in inst.attempts.iter().enumerate() {
                if !a.live {
                    continue;
                }
                resend.push(Effect::SetTimer {
                    at: now,
                    timer: Timer::Straggler {
                        instance: id,
                        attempt: n as u32,
                    },
                });
                let input = self.handoff(inst, a.executor);
                match a.executor {
                    Executor::Device { device, epoch } => resend.push(Effect::SendTask {
                        device,
                        epoch,
                        instance: id,
                        task: inst.task,
                        input,
                    }),
                    Executor::Worker { worker } => resend.push(Effect::Invoke {
                        worker,
                        instance: id,
                        task: inst.task,
                        function: self.d.function[inst.task.index()].clone(),
                        input,
                    }),
                }
            }
        }
        self.out.extend(resend);
        for (&w, worker) in &self.st.pool.workers {
            if worker.running == 0 {
                self.out.push_back(Effect::SetTimer {
                    at: now,
                    timer: Timer::KeepAlive { worker: w },
                });
            }
        }
    }

    /// How `inst` gets its input when run by `executor`.
    fn handoff(&self, inst: &Instance, executor: Executor) -> Handoff {
        let Some(p) = inst.parent else {
            return Handoff::None;
        };
        let (from, bytes) = (p.instance, p.bytes);
        match p.channel {
            ChannelKind::Control => Handoff::None,
            ChannelKind::DeviceLocal => match (p.executor, executor) {
                (Executor::Device { device: a, .. }, Executor::Device { device: b, .. })
                    if a == b =>
                {
                    Handoff::Local
                }
                _ => Handoff::Relay { from, bytes },
            },
            ChannelKind::Uplink | ChannelKind::Downlink | ChannelKind::DeviceToDevice => {
                Handoff::Relay { from, bytes }
            }
            ChannelKind::CloudInWorker if p.executor == executor => Handoff::InWorker { from },
            ChannelKind::CloudInWorker | ChannelKind::CloudStorage => {
                Handoff::Storage { from, bytes }
            }
            ChannelKind::CloudRemoteMemory => Handoff::RemoteMemory { from, bytes },
        }
    }

    fn is_done(&self, id: InstanceId) -> bool {
        let (w, b) = ((id.0 / 64) as usize, id.0 % 64);
        self.st.done.get(w).is_some_and(|x| x & (1 << b) != 0)
    }

    fn mark_done(&mut self, id: InstanceId) {
        let (w, b) = ((id.0 / 64) as usize, id.0 % 64);
        if self.st.done.len() <= w {
            self.st.done.resize(w + 1, 0);
        }
        self.st.done[w] |= 1 << b;
    }

    /// Ids handed out so far; every id below is live, completed or failed.
    pub fn instances_created(&self) -> u64 {
        self.st.next_instance
    }

    /// Whether the instance is resolved (completed or failed).
    pub fn resolved(&self, id: InstanceId) -> bool {
        self.is_done(id)
    }

    pub fn worker_of(&self, w: WorkerId) -> Option<&crate::pool::Worker> {
        self.st.pool.workers.get(&w)
    }
}
