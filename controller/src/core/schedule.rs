//! Work: activations (periodic, once, data-triggered, fan-out, gather,
//! joins), placement on devices (locality, then queue length, then battery)
//! or in the function pool, results (first wins, idempotent by instance id),
//! errors with retries, stragglers and re-placement after failures.

use super::grants::Granted;
use super::{
    Attempt, Controller, DeviceStatus, Group, Instance, Join, Lineage, Parent, StragglerCheck,
    Waiting,
};
use crate::effect::{Effect, Publication};
use crate::ids::{DeviceId, Executor, GroupId, InstanceId, WorkerId};
use crate::pool::{Dispatch, Queued};
use crate::time::Micros;
use crate::timer::Timer;
use hivemind_ir::activation::Start;
use hivemind_ir::plan::{ChannelKind, Modality};
use hivemind_ir::{FleetId, Priority, StragglerThreshold, TaskId};

fn rank(p: Priority) -> u8 {
    match p {
        Priority::Critical => 0,
        Priority::High => 1,
        Priority::Normal => 2,
        Priority::Low => 3,
    }
}

/// How an activation is fired, beyond the rules and its producer's value.
#[derive(Debug, Clone, Copy)]
pub(super) enum Via {
    /// As the rules say.
    Rule,
    /// Over a local edge (`ir::local`): the offset of the instance's id
    /// from the parent's.
    Local(u32),
    /// One phase of a phased per-device source: the devices in slot `.0`
    /// of `.1` (device `d` is in slot `d mod .1`), in period `.2`.
    Phase(u32, u32, u64),
    /// A firing granted to a device (`grants.rs`), created before its
    /// timer: that device's firing in period `.1`.
    Granted(DeviceId, u64),
    /// Period `.0` of a synchronized per-device source (every device).
    Round(u64),
}

impl Controller {
    /// Fire `task` once (`ir::activation`): one activation (a group of
    /// instances), or for a per-device task one activation on every live
    /// device of its fleet, all in one new round. `inherited` are the
    /// required-path start times carried from the producer's value(s).
    pub(super) fn activate(
        &mut self,
        now: Micros,
        task: TaskId,
        parent: Option<Parent>,
        items: u32,
        from: &Lineage,
    ) {
        self.activate_from(now, task, parent, items, from, Via::Rule);
    }

    /// One phase of a phased per-device source: [`Self::activate`] on the
    /// live devices of its fleet in `slot` (`(slot, slots)`: device `d` is
    /// in slot `d mod slots`).
    pub(super) fn activate_phase(&mut self, now: Micros, task: TaskId, slot: (u32, u32), n: u64) {
        let via = Via::Phase(slot.0, slot.1.max(1), n);
        self.activate_from(now, task, None, 1, &Lineage::default(), via);
    }

    /// Period `n` of a synchronized per-device source: one round of every
    /// live device of its fleet.
    pub(super) fn activate_round(&mut self, now: Micros, task: TaskId, n: u64) {
        self.activate_from(now, task, None, 1, &Lineage::default(), Via::Round(n));
    }

    /// `device`'s granted firing of `task` in period `n`, created at `at`
    /// (before its timer: the device's result came first).
    pub(super) fn activate_granted(&mut self, at: Micros, task: TaskId, device: DeviceId, n: u64) {
        let via = Via::Granted(device, n);
        self.activate_from(at, task, None, 1, &Lineage::default(), via);
    }

    /// [`Self::activate`]; `local`: the offset of the instance's id from
    /// the parent's when the edge runs on the device (`ir::local`): the
    /// instance takes that id, and stays on the device that ran the parent
    /// (which starts it by itself) while that registration lives.
    fn activate_from(
        &mut self,
        now: Micros,
        task: TaskId,
        parent: Option<Parent>,
        items: u32,
        from: &Lineage,
        via: Via,
    ) {
        let i = task.index();
        // Per activation: (origin device of the value, affinity of each of
        // its instances, instances); and for `assign`, the devices chosen
        // for its instances in turn, and where the value was sensed (for
        // `goto` an input).
        let mut target = None;
        let mut chosen: Vec<DeviceId> = Vec::new();
        let mut groups: Vec<(Option<DeviceId>, Option<DeviceId>, u32)> = if self.d.per_device[i] {
            let fleet = self.st.plan.tasks[i].fleet;
            let live =
                |d: &super::Device| Some(d.fleet) == fleet && d.status == DeviceStatus::Alive;
            match via {
                Via::Phase(slot, slots, _) => self
                    .st
                    .devices
                    .in_slot(slot, slots)
                    .filter(|(_, d)| live(d))
                    .map(|(&id, _)| (Some(id), Some(id), 1))
                    .collect(),
                Via::Granted(dev, _) => self
                    .st
                    .devices
                    .get(&dev)
                    .filter(|d| live(d))
                    .map(|_| (Some(dev), Some(dev), 1))
                    .into_iter()
                    .collect(),
                _ => self
                    .st
                    .devices
                    .iter()
                    .filter(|(_, d)| live(d))
                    .map(|(&id, _)| (Some(id), Some(id), 1))
                    .collect(),
            }
        } else {
            let n = self.d.width(task, items);
            let aff = parent.and_then(|p| match p.executor {
                Executor::Device { device, .. } => Some(device),
                Executor::Worker { .. } => None,
            });
            if let Some(rule) = self.d.assign[i] {
                (target, chosen) = self.assigned(task, rule, from.origin.or(aff));
            }
            vec![(from.origin, aff, n)]
        };
        // A source its devices fire: each device's grant for the period
        // (`grants.rs`), and no second instance where it exists already.
        let mut granted: Vec<Option<InstanceId>> = vec![None; groups.len()];
        if let (Via::Phase(_, _, period) | Via::Granted(_, period) | Via::Round(period), true) =
            (via, self.d.fired[i])
        {
            let mut kept = Vec::with_capacity(groups.len());
            granted.clear();
            for g in groups {
                match g.0.map(|dev| self.take_grant(dev, task, period)) {
                    Some(Granted::Fires(id)) => granted.push(Some(id)),
                    // Created already; or not granted: a device fires
                    // only on grants (it was held back, `grants.rs`).
                    Some(Granted::Done) => continue,
                    _ => {
                        self.st.counters.firings_skipped =
                            self.st.counters.firings_skipped.saturating_add(1);
                        continue;
                    }
                }
                kept.push(g);
            }
            groups = kept;
        }
        if groups.is_empty() {
            return;
        }
        // Admission control: the executors are this far behind; queueing
        // more would only grow memory and latency without bound.
        if self.st.instances.len() as u64 >= self.st.config.max_unresolved_instances {
            self.st.counters.shed_activations += groups.len() as u64;
            tracing::warn!(
                task = %self.st.graph.tasks[i].name,
                unresolved = self.st.instances.len(),
                "activation shed: too much work unresolved"
            );
            return;
        }
        // Required paths: started here, or carried on from the producer.
        let path_starts: Vec<(u16, Micros)> = self.d.on_paths[i]
            .iter()
            .filter_map(|&(p, starts)| {
                if starts {
                    Some((p, now))
                } else {
                    from.path_starts.iter().find(|(q, _)| *q == p).copied()
                }
            })
            .collect();
        let round = match from.round {
            Some(r) if !self.d.activation[i].start.starts_round() => r,
            _ => GroupId(self.st.next_group),
        };
        if self.d.gathers_rounds {
            self.st
                .batches
                .opened(round, task, groups.len().try_into().unwrap_or(u32::MAX));
        }
        for ((origin, affinity, n), grant) in groups.into_iter().zip(granted) {
            let group = GroupId(self.st.next_group);
            self.st.next_group += 1;
            self.st.kinds[i].activations += 1;
            self.st.groups.insert(
                group,
                Group {
                    task,
                    round,
                    origin,
                    expected: n,
                    completed: 0,
                    failed: 0,
                    items: 0,
                    last: None,
                    path_starts: path_starts.clone(),
                    target,
                },
            );
            for j in 0..n as usize {
                let affinity = match chosen.len() {
                    0 => affinity,
                    k => Some(chosen[j % k]),
                };
                let (id, delegate) = match (via, parent, grant) {
                    (Via::Local(off), Some(p), _) if n == 1 => self.local_instance(p, off),
                    // A granted firing stays on its device.
                    (_, _, Some(id)) => (Some(id), origin),
                    _ => (None, None),
                };
                let id = id.unwrap_or_else(|| {
                    // The block of ids of the instance's local subtree.
                    let id = InstanceId(self.st.next_instance);
                    self.st.next_instance += u64::from(self.d.local.span(task));
                    id
                });
                self.st.kinds[i].created += 1;
                self.st.created += 1;
                self.st.instances.insert(
                    id,
                    Instance {
                        task,
                        group,
                        created: now,
                        attempts: Default::default(),
                        retries: 0,
                        relaunches: 0,
                        affinity,
                        parent,
                        waiting: Waiting::Running,
                        retry_at: None,
                    },
                );
                match (delegate, grant) {
                    (Some(dev), Some(_)) => self.fired_by(now, id, dev),
                    (Some(dev), None) => self.delegate(now, id, dev),
                    (None, _) => self.place(now, id, None),
                }
            }
        }
    }

    /// The id of the instance a local edge activates from `parent`, and
    /// the device that runs it by itself, if its registration lives.
    fn local_instance(&self, parent: Parent, off: u32) -> (Option<InstanceId>, Option<DeviceId>) {
        let id = parent
            .instance
            .0
            .checked_add(u64::from(off))
            .map(InstanceId)
            .filter(|&id| id.0 < self.st.next_instance);
        // Reserved by the parent, so fresh unless the core has a bug: then
        // the instance takes a new id (and the device's run is refused).
        let Some(id) = id.filter(|&id| !self.st.instances.contains_key(&id) && !self.is_done(id))
        else {
            tracing::error!(parent = %parent.instance, off, "local instance id taken");
            return (None, None);
        };
        let dev = match parent.executor {
            Executor::Device { device, epoch } => self
                .st
                .devices
                .get(&device)
                .filter(|d| d.status == DeviceStatus::Alive && d.epoch == epoch)
                .map(|_| device),
            Executor::Worker { .. } => None,
        };
        (Some(id), dev)
    }

    /// Keep the instance on the device that runs it by itself: an attempt
    /// there (holding a slot, with a straggler check) and no message.
    fn delegate(&mut self, now: Micros, id: InstanceId, dev: DeviceId) {
        self.st.counters.delegated = self.st.counters.delegated.saturating_add(1);
        self.occupy_device(now, id, dev, false);
    }

    /// Keep a granted firing on the device that fires it by itself
    /// (`grants.rs`): an attempt there, no message.
    fn fired_by(&mut self, now: Micros, id: InstanceId, dev: DeviceId) {
        self.st.counters.fired_by_devices = self.st.counters.fired_by_devices.saturating_add(1);
        let Some(d) = self.st.devices.get_mut(&dev) else {
            return;
        };
        d.firings.push(id);
        let executor = Executor::Device {
            device: dev,
            epoch: d.epoch,
        };
        self.begin_attempt(now, id, executor, false);
    }

    /// Find an executor for the instance, or queue it. `avoid` is an
    /// executor the new attempt must not use (a straggler's).
    pub(super) fn place(&mut self, now: Micros, id: InstanceId, avoid: Option<Executor>) {
        let Some(inst) = self.st.instances.get(&id) else {
            return;
        };
        let task = inst.task;
        let tp = &self.st.plan.tasks[task.index()];
        if tp.modality == Modality::Edge {
            let Some(fleet) = tp.fleet else { return };
            let avoid_dev = match avoid {
                Some(Executor::Device { device, .. }) => Some(device),
                _ => None,
            };
            match self.pick_device(fleet, task, inst.affinity, avoid_dev) {
                Some(dev) => self.dispatch_device(now, id, dev),
                None => {
                    let r = rank(self.st.graph.tasks[task.index()].priority);
                    self.st.fleets[fleet.index()].pending.insert((r, id));
                    if let Some(inst) = self.st.instances.get_mut(&id) {
                        inst.waiting = Waiting::Queued;
                    }
                }
            }
        } else {
            let function = self.d.function[task.index()].clone();
            let parent_worker = inst.parent.and_then(|p| match (p.channel, p.executor) {
                (ChannelKind::CloudInWorker, Executor::Worker { worker }) => Some(worker),
                _ => None,
            });
            let avoid_worker = match avoid {
                Some(Executor::Worker { worker }) => Some(worker),
                _ => None,
            };
            let q = Queued {
                instance: id,
                task,
                since: now,
                input: crate::effect::Handoff::None,
                avoid: avoid_worker,
            };
            match self.pool(|p, o| p.submit(now, &function, q, parent_worker, o)) {
                Some(d) => self.launch(now, vec![d]),
                None => {
                    if let Some(inst) = self.st.instances.get_mut(&id) {
                        inst.waiting = Waiting::Queued;
                    }
                }
            }
        }
    }

    /// The least-loaded live device of the fleet with a free slot, or the
    /// `affinity` device when its queue is within the locality slack of
    /// that (always, when the task assigns its devices by rule).
    fn pick_device(
        &self,
        fleet: FleetId,
        task: TaskId,
        affinity: Option<DeviceId>,
        avoid: Option<DeviceId>,
    ) -> Option<DeviceId> {
        let slots = self.st.config.device_slots as usize;
        let strong = self.d.assign[task.index()].is_some();
        if let (true, Some(a)) = (strong, affinity.filter(|&a| Some(a) != avoid)) {
            if let Some(d) = self.st.devices.get(&a) {
                if d.status == DeviceStatus::Alive && d.fleet == fleet && d.in_flight.len() < slots
                {
                    return Some(a);
                }
            }
        }
        let best = self.st.fleets[fleet.index()]
            .load
            .first_fitting(self.st.config.device_slots, avoid);
        let near = affinity
            .filter(|&a| Some(a) != avoid)
            .and_then(|a| Some((a, self.st.devices.get(&a)?)));
        if let (Some((a, d)), Some(b)) = (near, best) {
            if d.status == DeviceStatus::Alive
                && d.fleet == fleet
                && d.in_flight.len() < slots
                && d.in_flight.len() as u32 <= b.0 + self.st.config.locality_slack
            {
                return Some(a);
            }
        }
        best.map(|k| k.2)
    }

    /// The devices `rule` picks for a value that originated on `origin`
    /// (`ir::Assign`): the `count` live devices of the task's fleet nearest
    /// to where the origin device is now, or with the most battery left;
    /// ties to the lower id. Also returns that position.
    fn assigned(
        &self,
        task: TaskId,
        rule: hivemind_ir::Assign,
        origin: Option<DeviceId>,
    ) -> (Option<hivemind_ir::PointMm>, Vec<DeviceId>) {
        let at = origin
            .and_then(|d| self.st.devices.get(&d))
            .map(|d| d.position);
        let Some(fleet) = self.st.plan.tasks[task.index()].fleet else {
            return (at, Vec::new());
        };
        let mut ranked: Vec<(u128, DeviceId)> = self
            .st
            .devices
            .iter()
            .filter(|(_, d)| d.fleet == fleet && d.status == DeviceStatus::Alive)
            .map(|(&id, d)| {
                let key = match (rule.by, at) {
                    (hivemind_ir::AssignBy::Nearest, Some(p)) => {
                        let dx = (i128::from(d.position.x_mm) - i128::from(p.x_mm)).unsigned_abs();
                        let dy = (i128::from(d.position.y_mm) - i128::from(p.y_mm)).unsigned_abs();
                        dx.saturating_mul(dx).saturating_add(dy.saturating_mul(dy))
                    }
                    (hivemind_ir::AssignBy::Nearest, None) => 0,
                    (hivemind_ir::AssignBy::Battery, _) => u128::from(u64::MAX - d.battery_uj),
                };
                (key, id)
            })
            .collect();
        let k = (rule.count as usize).min(ranked.len());
        if k > 0 && k < ranked.len() {
            ranked.select_nth_unstable(k - 1);
        }
        ranked.truncate(k);
        ranked.sort_unstable();
        (at, ranked.into_iter().map(|(_, id)| id).collect())
    }

    fn dispatch_device(&mut self, now: Micros, id: InstanceId, dev: DeviceId) {
        self.occupy_device(now, id, dev, true);
    }

    /// An attempt of the instance on `dev`'s current registration, holding
    /// one of its slots; sent to it if `send` (else the device started it).
    fn occupy_device(&mut self, now: Micros, id: InstanceId, dev: DeviceId, send: bool) {
        let st = &mut self.st;
        let Some(d) = st.devices.get_mut(&dev) else {
            return;
        };
        d.in_flight.push(id);
        let executor = Executor::Device {
            device: dev,
            epoch: d.epoch,
        };
        super::devices::reindex(&mut st.fleets, &st.graph, dev, d);
        self.begin_attempt(now, id, executor, send);
    }

    /// Record an attempt, send it, and arm its straggler check.
    fn start_attempt(&mut self, now: Micros, id: InstanceId, executor: Executor) {
        self.begin_attempt(now, id, executor, true);
    }

    /// Record an attempt, send it if `send` (else its device started it by
    /// itself), and arm its straggler check.
    fn begin_attempt(&mut self, now: Micros, id: InstanceId, executor: Executor, send: bool) {
        let Some(inst) = self.st.instances.get_mut(&id) else {
            return;
        };
        inst.attempts.push(Attempt {
            executor,
            started: now,
            live: true,
            check: StragglerCheck::Unarmed,
        });
        inst.waiting = Waiting::Running;
        let n = inst.attempts.len() as u32 - 1;
        let (task, parent, group) = (inst.task, inst.parent, inst.group);
        let input = self.handoff(parent, executor);
        if let (true, true, Executor::Device { device, epoch }) =
            (send, self.d.goto_input[task.index()], executor)
        {
            // `goto` an input: move to where the value was sensed, then run.
            if let Some(point) = self.st.groups.get(&group).and_then(|g| g.target) {
                self.behave(
                    device,
                    epoch,
                    crate::effect::BehaviourCommand::GotoPoint { point },
                );
            }
        }
        if send {
            self.send_attempt(executor, id, task, input);
        }
        if let Some(us) = self.straggler_threshold(task) {
            self.arm_straggler(id, n, now.plus(us));
        }
    }

    /// Arm the straggler check of attempt `n` of `id` at `at`.
    fn arm_straggler(&mut self, id: InstanceId, n: u32, at: Micros) {
        if let Some(a) = self
            .st
            .instances
            .get_mut(&id)
            .and_then(|i| i.attempts.get_mut(n as usize))
        {
            a.check = StragglerCheck::At(at);
            self.timer(
                at,
                Timer::Straggler {
                    instance: id,
                    attempt: n,
                },
            );
        }
    }

    pub(super) fn launch(&mut self, now: Micros, dispatches: Vec<Dispatch>) {
        for d in dispatches {
            if self.st.instances.contains_key(&d.instance) {
                self.start_attempt(now, d.instance, Executor::Worker { worker: d.worker });
            } else if self.is_job(d.instance) {
                self.start_job(d);
            } else {
                // Finished elsewhere while queued: give the slot back.
                let more = self.pool(|p, o| p.on_done(now, d.worker, o));
                self.launch(now, more);
            }
        }
    }

    /// Move queued instances of the fleet onto devices with free slots.
    pub(super) fn pump_fleet(&mut self, now: Micros, fleet: FleetId) {
        loop {
            let Some(&(r, id)) = self.st.fleets[fleet.index()].pending.first() else {
                return;
            };
            let Some(inst) = self.st.instances.get(&id) else {
                self.st.fleets[fleet.index()].pending.remove(&(r, id));
                continue;
            };
            let avoid =
                inst.attempts
                    .iter()
                    .rev()
                    .find(|a| a.live)
                    .and_then(|a| match a.executor {
                        Executor::Device { device, .. } => Some(device),
                        _ => None,
                    });
            let Some(dev) = self.pick_device(fleet, inst.task, inst.affinity, avoid) else {
                return;
            };
            self.st.fleets[fleet.index()].pending.remove(&(r, id));
            self.dispatch_device(now, id, dev);
        }
    }

    /// Free the slot an attempt held on its executor; `credit`: the bytes
    /// of the result it won (counted on its device, whatever its epoch).
    fn release(&mut self, now: Micros, id: InstanceId, executor: Executor, credit: Option<u64>) {
        match executor {
            Executor::Device { device, epoch } => {
                let st = &mut self.st;
                let Some(d) = st.devices.get_mut(&device) else {
                    return;
                };
                if let Some(bytes) = credit {
                    d.completed += 1;
                    d.bytes_sent += bytes;
                }
                if d.epoch != epoch {
                    return;
                }
                let Some(pos) = d.in_flight.iter().position(|&x| x == id) else {
                    // A firing holds no slot: nothing to re-index.
                    if let Some(pos) = d.firings.iter().position(|&x| x == id) {
                        d.firings.swap_remove(pos);
                    }
                    return;
                };
                d.in_flight.swap_remove(pos);
                let fleet = d.fleet;
                super::devices::reindex(&mut st.fleets, &st.graph, device, d);
                self.pump_fleet(now, fleet);
            }
            Executor::Worker { worker } => {
                if self.st.pool.workers.contains_key(&worker) {
                    let more = self.pool(|p, o| p.on_done(now, worker, o));
                    self.launch(now, more);
                }
            }
        }
    }

    pub(super) fn on_result(
        &mut self,
        now: Micros,
        id: InstanceId,
        executor: Executor,
        items: u32,
        bytes: u64,
        model_version: u32,
    ) {
        if self.is_job(id) {
            self.on_trained(now, id, executor);
            return;
        }
        if self.is_done(id) {
            // A loser or a replay after reconnect: already recorded once.
            self.st.counters.duplicate_results += 1;
            if let Some(i) = self.st.instances.get(&id) {
                self.st.kinds[i.task.index()].duplicates += 1;
            }
            self.out.push_back(Effect::ack(executor, id));
            return;
        }
        self.materialize(now, id, executor);
        self.recover_firing(id, executor);
        let Some(inst) = self.st.instances.remove(&id) else {
            self.unknown_result(executor, id);
            return;
        };
        let Some(win) = inst.attempts.iter().position(|a| a.executor == executor) else {
            // Not an attempt of it: put it back untouched.
            self.st.instances.insert(id, inst);
            self.unknown_result(executor, id);
            return;
        };
        self.mark_done(id);
        let task = inst.task;
        let winner = &inst.attempts[win];
        if !winner.live {
            self.st.counters.stale_results_merged += 1;
        }
        let k = &mut self.st.kinds[task.index()];
        k.service.record(now.since(winner.started));
        k.latency.record(now.since(inst.created));
        // The kind's threshold is known from now: the attempts that began
        // without one are watched too (as a recovered core, which arms
        // every live attempt, watches them).
        let threshold_known = k.service.count() == self.st.config.straggler_min_samples;
        let on_paths = !self.d.on_paths[task.index()].is_empty();
        if let Some(g) = self.st.groups.get(&inst.group).filter(|_| on_paths) {
            for &(p, start) in &g.path_starts {
                if self.d.paths[usize::from(p)].2 == task {
                    self.st.paths[usize::from(p)].record(now.since(start));
                }
            }
        }
        k.completed += 1;
        self.count_result_version(task, model_version);
        if threshold_known {
            self.watch_stragglers(task);
        }
        // The device's credit for the result: given when its slot is freed
        // (one lookup), unless the winning attempt holds no slot any more.
        let credit_on_release = winner.live;
        if let Executor::Device { device, .. } = executor {
            if !credit_on_release {
                if let Some(d) = self.st.devices.get_mut(&device) {
                    d.completed += 1;
                    d.bytes_sent += bytes;
                }
            }
        }
        self.out.push_back(Effect::ack(executor, id));
        self.publish(Publication::Completed {
            instance: id,
            task,
            executor,
            latency_us: now.since(inst.created),
        });
        self.unqueue(&inst, id);
        for (n, a) in inst.attempts.iter().enumerate() {
            if !a.live {
                continue;
            }
            if n != win {
                self.st.counters.cancelled_losers += 1;
                self.out.push_back(Effect::cancel(a.executor, id));
            }
            let credit = (n == win && credit_on_release).then_some(bytes);
            self.release(now, id, a.executor, credit);
        }
        if let Executor::Device { device, .. } = executor {
            self.regrant_on_report(now, device, task);
        }
        let parent = Parent {
            instance: id,
            group: inst.group,
            executor,
            channel: ChannelKind::Control,
            bytes: 0,
        };
        self.group_resolved(now, inst.group, Some(parent), items);
        self.maybe_finish(now);
    }

    /// A result nothing asked that executor for (e.g. a device's own run
    /// of a local successor whose parent's value came from elsewhere): it
    /// is journaled and counted, and a device is told to drop it (else it
    /// would replay it on every reconnect).
    fn unknown_result(&mut self, executor: Executor, id: InstanceId) {
        self.st.counters.unknown_results += 1;
        if matches!(executor, Executor::Device { .. }) {
            self.out.push_back(Effect::ack(executor, id));
        }
    }

    fn unqueue(&mut self, inst: &Instance, id: InstanceId) {
        if inst.waiting == Waiting::Queued {
            if let Some(f) = self.st.plan.tasks[inst.task.index()].fleet {
                let r = rank(self.st.graph.tasks[inst.task.index()].priority);
                self.st.fleets[f.index()].pending.remove(&(r, id));
            }
            self.st.pool.unqueue(id);
        }
    }

    /// An instance of the group completed (`done` set) or failed. When the
    /// whole activation has resolved, its one value (if any instance
    /// completed) goes to every consumer, by the consumer's rule.
    pub(super) fn group_resolved(
        &mut self,
        now: Micros,
        gid: GroupId,
        done: Option<Parent>,
        items: u32,
    ) {
        let Some(g) = self.st.groups.get_mut(&gid) else {
            return;
        };
        match done {
            Some(p) => {
                g.completed += 1;
                g.items = g.items.saturating_add(items);
                g.last = Some(p);
            }
            None => g.failed += 1,
        }
        if g.completed + g.failed < g.expected {
            return;
        }
        let Some(g) = self.st.groups.remove(&gid) else {
            return;
        };
        if g.last.is_some() {
            self.collect_samples(g.task, g.items);
        }
        if let Some(last) = g.last {
            for k in 0..self.d.succ[g.task.index()].len() {
                let c = self.d.succ[g.task.index()][k];
                let (channel, bytes) = self
                    .d
                    .channel
                    .get(&(g.task, c))
                    .copied()
                    .unwrap_or((ChannelKind::Control, 0));
                let value = Parent {
                    channel,
                    bytes,
                    ..last
                };
                // Counted as the cost model counts uplink bytes: once per
                // value per edge that leaves a device for the controller.
                if channel.is_uplink() {
                    self.st.counters.uplink_bytes =
                        self.st.counters.uplink_bytes.saturating_add(bytes);
                }
                if self.d.activation[c.index()].start == Start::PerInput {
                    let lineage = Lineage {
                        path_starts: g.path_starts.clone(),
                        round: Some(g.round),
                        origin: g.origin,
                    };
                    self.feed(now, g.task, c, value, g.items, lineage);
                } else {
                    self.batch_value(now, c, g.round, value, g.items, &g.path_starts);
                }
            }
        }
        self.round_progress(now, g.round, g.task);
    }

    /// A value from `producer` reached per-input `consumer`. A join fires
    /// once per value of its pacer, once every producer has delivered
    /// (`ir::activation::join_pacers`), per origin device when its values
    /// come from one fleet's devices.
    fn feed(
        &mut self,
        now: Micros,
        producer: TaskId,
        consumer: TaskId,
        parent: Parent,
        items: u32,
        lineage: Lineage,
    ) {
        if !matches!(
            self.st.phase,
            super::Phase::Running | super::Phase::Draining
        ) {
            return;
        }
        let c = consumer.index();
        let preds = &self.d.preds[c];
        if preds.len() > 1 {
            let Some(k) = preds.iter().position(|&p| p == producer) else {
                return;
            };
            let key = (
                consumer,
                lineage.origin.filter(|_| self.d.join_by_device[c]),
            );
            let pacer = self.d.pacer[c] == Some(k);
            let n = preds.len();
            let j = self.st.join.entry(key).or_insert_with(|| Join {
                latest: vec![None; n],
                held: Vec::new(),
                from: vec![None; n],
            });
            j.from.resize(n, None);
            j.latest[k] = Some(lineage.path_starts.clone());
            j.from[k] = Some(parent.executor);
            // A join its device runs itself (`ir::local`): the device
            // starts it when this pacer value completed there if every
            // other producer completed under the same registration — the
            // latest values here, heard in the order they completed.
            let local = self.d.local.offset(producer, consumer).filter(|_| {
                pacer
                    && j.held.is_empty()
                    && matches!(parent.executor, Executor::Device { .. })
                    && j.from.iter().all(|f| *f == Some(parent.executor))
            });
            if pacer {
                j.held.push((parent, items, lineage));
            }
            if j.latest.iter().any(Option::is_none) {
                return;
            }
            // The activation combines the latest value of every producer, so
            // it lies on the required paths of each (from the oldest start).
            let others: Vec<(u16, Micros)> = j.latest.iter().flatten().flatten().copied().collect();
            for (parent, items, mut lineage) in std::mem::take(&mut j.held) {
                super::batch::merge_earliest(&mut lineage.path_starts, &others);
                let via = local.map_or(Via::Rule, Via::Local);
                self.activate_from(now, consumer, Some(parent), items, &lineage, via);
            }
            return;
        }
        let local = self.d.local.offset(producer, consumer);
        let via = local.map_or(Via::Rule, Via::Local);
        self.activate_from(now, consumer, Some(parent), items, &lineage, via);
    }

    pub(super) fn on_error(
        &mut self,
        now: Micros,
        id: InstanceId,
        executor: Executor,
        reason: String,
    ) {
        if self.is_job(id) {
            self.on_job_error(now, id, executor);
            return;
        }
        self.materialize(now, id, executor);
        let Some(inst) = self.st.instances.get_mut(&id) else {
            self.st.counters.unknown_results += 1;
            return;
        };
        let Some(a) = inst
            .attempts
            .iter_mut()
            .find(|a| a.executor == executor && a.live)
        else {
            self.st.counters.unknown_results += 1;
            return;
        };
        a.live = false;
        self.release(now, id, executor, None);
        self.after_attempt_ended(now, id, Some(reason));
    }

    /// The executor of a live attempt is gone (device failed, worker exited).
    pub(super) fn attempt_lost(&mut self, now: Micros, id: InstanceId, gone: Executor) {
        let Some(inst) = self.st.instances.get_mut(&id) else {
            return;
        };
        let mut found = false;
        for a in inst
            .attempts
            .iter_mut()
            .filter(|a| a.executor == gone && a.live)
        {
            a.live = false;
            found = true;
        }
        if found && !inst.attempts.iter().any(|a| a.live) && inst.waiting == Waiting::Running {
            self.st.counters.replaced += 1;
            self.place(now, id, None);
        }
    }

    /// An attempt failed with an error: retry after backoff, or give up.
    fn after_attempt_ended(&mut self, now: Micros, id: InstanceId, reason: Option<String>) {
        let Some(inst) = self.st.instances.get_mut(&id) else {
            return;
        };
        if inst.attempts.iter().any(|a| a.live) || inst.waiting != Waiting::Running {
            return;
        }
        let policy = &self.st.graph.policies.task_error;
        let reason = reason.unwrap_or_else(|| "attempt lost".into());
        if inst.retries < policy.retries {
            inst.retries += 1;
            inst.waiting = Waiting::Backoff;
            let backoff = policy.backoff_us;
            // Jitter so that many retries after one outage do not align.
            let jitter = self.st.rng.below(backoff / 4 + 1);
            self.st.counters.retries += 1;
            inst.retry_at = Some(now.plus(backoff + jitter));
            self.timer(now.plus(backoff + jitter), Timer::Retry { instance: id });
        } else {
            let abort = policy.abort_after;
            let retries = policy.retries;
            self.fail_instance(now, id, format!("failed after {retries} retries: {reason}"));
            if abort {
                self.abort(now, format!("instance {id} failed: {reason}"));
            }
        }
    }

    pub(super) fn on_retry(&mut self, now: Micros, id: InstanceId) {
        let Some(inst) = self.st.instances.get(&id) else {
            return;
        };
        if inst.waiting != Waiting::Backoff {
            return;
        }
        let avoid = inst.attempts.last().map(|a| a.executor);
        if let Some(i) = self.st.instances.get_mut(&id) {
            i.waiting = Waiting::Running;
        }
        self.place(now, id, avoid);
    }

    /// Resolve the instance as failed, with a reason that is reported.
    pub(super) fn fail_instance(&mut self, now: Micros, id: InstanceId, reason: String) {
        let Some(inst) = self.st.instances.remove(&id) else {
            return;
        };
        self.mark_done(id);
        self.st.kinds[inst.task.index()].failed += 1;
        self.unqueue(&inst, id);
        for a in inst.attempts.iter().filter(|a| a.live) {
            self.out.push_back(Effect::cancel(a.executor, id));
            self.release(now, id, a.executor, None);
        }
        self.st.failures.push(super::FailureRecord {
            instance: id,
            task: inst.task,
            reason: reason.clone(),
        });
        self.publish(Publication::Failed {
            instance: id,
            task: inst.task,
            reason,
        });
        self.group_resolved(now, inst.group, None, 0);
        self.maybe_finish(now);
    }

    /// Arm the straggler check of every live attempt of `task` not yet
    /// judged, against the kind's current threshold.
    fn watch_stragglers(&mut self, task: TaskId) {
        let Some(us) = self.straggler_threshold(task) else {
            return;
        };
        let due: Vec<(InstanceId, u32, Micros)> = self
            .st
            .instances
            .iter()
            .filter(|(_, i)| i.task == task)
            .flat_map(|(id, i)| {
                i.attempts
                    .iter()
                    .enumerate()
                    .filter(|(_, a)| a.live && a.check == StragglerCheck::Unarmed)
                    .map(move |(n, a)| (id, n as u32, a.started.plus(us)))
            })
            .collect();
        for (id, n, at) in due {
            self.arm_straggler(id, n, at);
        }
    }

    pub(super) fn straggler_threshold(&mut self, task: TaskId) -> Option<u64> {
        let p = self.st.graph.policies.straggler.as_ref()?;
        let h = &mut self.st.kinds[task.index()].service;
        let enough = h.count() >= self.st.config.straggler_min_samples;
        let floor = self.st.config.straggler_floor_us;
        let us = match p.threshold {
            StragglerThreshold::FactorOfMedian { permille } if enough => (h
                .tracked_quantile_bp(5_000)?
                .saturating_mul(u64::from(permille))
                / 1000)
                .max(floor),
            StragglerThreshold::Percentile { bp } if enough => {
                h.tracked_quantile_bp(bp)?.max(floor)
            }
            StragglerThreshold::Absolute { us } => us,
            _ => return None,
        };
        Some(us.max(1))
    }

    pub(super) fn on_straggler(&mut self, now: Micros, id: InstanceId, attempt: u32) {
        let Some(inst) = self.st.instances.get(&id) else {
            return;
        };
        let Some(a) = inst.attempts.get(attempt as usize) else {
            return;
        };
        let live = inst.attempts.iter().filter(|a| a.live).count();
        if !a.live
            || !a.check.due(now)
            || live != 1
            || inst.relaunches >= self.st.config.max_relaunches
        {
            return;
        }
        // Judged against the current threshold: the check was armed with
        // the one known when the attempt began. If that has grown, judge
        // it then.
        let (task, started, avoid, parent) = (inst.task, a.started, a.executor, inst.parent);
        let Some(th) = self.straggler_threshold(task) else {
            return;
        };
        if now.since(started) < th {
            self.arm_straggler(id, attempt, started.plus(th));
            return;
        }
        let Some(inst) = self.st.instances.get_mut(&id) else {
            return;
        };
        if let Some(a) = inst.attempts.get_mut(attempt as usize) {
            a.check = StragglerCheck::Judged;
        }
        // A copy elsewhere would haul the value the plan keeps on the
        // device across the radio, up and down again: on the link that is
        // the bottleneck that feeds the slowness it means to cure (S4's
        // 230 KB frames under a p95 policy flooded the downlink).
        // A per-device task's value is its device's own (a sensor read
        // where that device is, the chain its agent runs after it): a copy
        // elsewhere senses another place, and the device-local chain of
        // the loser runs as well (a join on the vehicle ran twice).
        if self.d.per_device[task.index()]
            || parent.is_some_and(|p| p.channel == ChannelKind::DeviceLocal && p.bytes > 0)
        {
            self.st.counters.relaunches_withheld =
                self.st.counters.relaunches_withheld.saturating_add(1);
            return;
        }
        inst.relaunches += 1;
        self.st.kinds[task.index()].relaunches += 1;
        self.st.counters.relaunches += 1;
        self.publish(Publication::Relaunched { instance: id, task });
        self.place(now, id, Some(avoid));
    }

    pub(super) fn on_worker_exit(&mut self, now: Micros, worker: WorkerId) {
        let function = self.st.pool.remove(worker);
        let gone = Executor::Worker { worker };
        let affected: Vec<InstanceId> = self
            .st
            .instances
            .iter()
            .filter(|(_, i)| i.attempts.iter().any(|a| a.live && a.executor == gone))
            .map(|(id, _)| id)
            .collect();
        for id in affected {
            self.attempt_lost(now, id, gone);
        }
        self.jobs_lost(now, worker);
        if let Some(f) = function {
            self.pool(|p, o| p.ensure_capacity(&f, o));
        }
    }
}
