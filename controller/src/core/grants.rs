//! Sources its devices fire by themselves (`Derived::fired`,
//! `ir::activation::fired_on_device`: every per-device periodic source on
//! the edge, phased or in synchronized rounds): the core keeps its timers
//! and creates every firing's instance at its instant, but it does not
//! send a start command. Each device holds grants for its next firings
//! (`DeviceMsg::Fire`: the instance id and the instant), sent ahead, so
//! the device starts each firing at its instant and no controller hop
//! lies on the paths that begin there. A device fires only on grants.
//!
//! A grant's instance is created at its instant by the timer (delegated:
//! an attempt on the device, no message), or earlier if the device's
//! result comes first (a device clock slightly ahead, a timer late in a
//! busy controller). A granted firing always stays on its device: no
//! other device can take its reading. A device with `device_slots`
//! firings unreported, or one unreported longer than `grant_lead_us`, is
//! granted no more until it reports (backpressure). A device that is out
//! of service loses its grants, and the firings it had not reported are
//! *lost with it* — unless it reports them later after all (a device cut
//! off or frozen for a while), when they count as completed.

use super::{
    Attempt, Controller, DeviceStatus, Grant, Group, Instance, LostFiring, StragglerCheck, Waiting,
};
use crate::effect::{DeviceMsg, Effect, Publication};
use crate::ids::{DeviceId, Executor, GroupId, InstanceId};
use crate::time::Micros;
use hivemind_ir::activation::Start;
use hivemind_ir::TaskId;

/// A grant's firing as the phase timer sees it.
pub(super) enum Granted {
    /// None for this period: the device was held back (or joined after
    /// it), and does not fire it.
    No,
    /// The device fires this instance by itself.
    Fires(InstanceId),
    /// Already created (the device's result came before the timer).
    Done,
}

impl Controller {
    /// The period of a fired source, if `task` is one.
    fn fired_period(&self, task: TaskId) -> Option<u64> {
        if !self.d.fired.get(task.index()).copied().unwrap_or(false) {
            return None;
        }
        match self.d.activation[task.index()].start {
            Start::Periodic { period_us } => Some(period_us.max(1)),
            _ => None,
        }
    }

    /// The instant of `dev`'s firing of `task` in period `n`, if it falls
    /// within the mission (phased, `ir::activation::Phasing`: device `d`
    /// in slot `d mod slots`; else at the period's start, with the rest).
    fn firing_at(&self, task: TaskId, dev: DeviceId, n: u64) -> Option<Micros> {
        let started = self.st.started_at?;
        let period = self.fired_period(task)?;
        let offset =
            self.d.phasing[task.index()].map_or(0, |p| p.offset_us(dev.0 % p.slots.max(1)));
        let at = n
            .checked_mul(period)?
            .checked_add(offset)?
            .checked_add(started.0)?;
        let end = started.0.checked_add(self.st.graph.duration_us)?;
        (at < end).then_some(Micros(at))
    }

    /// Grant `dev` its firings of every fired source of its fleet, from the
    /// first whose instant is after `now` (at the start, or when it
    /// (re)joins a running mission).
    pub(super) fn grant_device(&mut self, now: Micros, dev: DeviceId) {
        let Some(fleet) = self.st.devices.get(&dev).map(|d| d.fleet) else {
            return;
        };
        for i in 0..self.d.fired.len() {
            let task = TaskId(i as u32);
            if self.st.plan.tasks[i].fleet != Some(fleet) {
                continue;
            }
            if let Some(n) = self.next_period(task, dev, now) {
                self.top_up(now, dev, task, n);
            }
        }
    }

    /// The first period of `task` whose instant for `dev` is after `now`
    /// (the first, at the start: the timer fires it at once, and the
    /// device on the grant's arrival).
    fn next_period(&self, task: TaskId, dev: DeviceId, now: Micros) -> Option<u64> {
        let started = self.st.started_at?;
        let period = self.fired_period(task)?;
        let first = self.firing_at(task, dev, 0)?;
        Some(if now <= started {
            0
        } else {
            (now.since(first) / period).saturating_add(u64::from(now >= first))
        })
    }

    /// `dev` reported a firing of `task`: the grant its next firing's
    /// timer would send (the periods from the one after it) is sent now,
    /// so it leaves with the result's acknowledgement (one frame and one
    /// packet instead of two at different instants: a third of the
    /// controller's packets at saturation). The timer then finds it
    /// granted already. The device holds at most one grant more than
    /// `top_up` keeps ahead, for less than a period.
    pub(super) fn regrant_on_report(&mut self, now: Micros, dev: DeviceId, task: TaskId) {
        if self.st.phase != super::Phase::Running {
            return;
        }
        if let Some(n) = self.next_period(task, dev, now) {
            self.top_up(now, dev, task, n.saturating_add(1));
        }
    }

    /// Keep `dev` holding grants of `task` for the periods `from` to
    /// `from + ahead` (within the mission), `ahead` covering
    /// `grant_lead_us` (at least two, at most `device_slots`).
    fn top_up(&mut self, now: Micros, dev: DeviceId, task: TaskId, from: u64) {
        let Some(period) = self.fired_period(task) else {
            return;
        };
        // No more firings ahead than it runs at once: a fast source does
        // not outrun the controller by a burst of grants.
        let most = u64::from(self.st.config.device_slots).clamp(2, 16);
        let ahead = self.st.config.grant_lead_us.div_ceil(period).clamp(2, most);
        let Some(d) = self.st.devices.get(&dev) else {
            return;
        };
        if d.status != DeviceStatus::Alive {
            return;
        }
        let epoch = d.epoch;
        // Held back while `device_slots` of its firings are unreported, or
        // one for longer than the lead: the device fires what it holds,
        // then skips (the work it runs at once, as for any placed task).
        let lead = self.st.config.grant_lead_us;
        let (mut unreported, mut oldest) = (0u32, now);
        for i in d.firings.iter().filter_map(|id| self.st.instances.get(id)) {
            if i.task == task {
                unreported += 1;
                oldest = oldest.min(i.created);
            }
        }
        if unreported >= self.st.config.device_slots || now.since(oldest) > lead {
            return;
        }
        let mut next = d
            .grants
            .iter()
            .filter(|g| g.task == task)
            .map(|g| g.period + 1)
            .max()
            .unwrap_or(from)
            .max(from);
        while next < from.saturating_add(ahead) {
            let Some(at) = self.firing_at(task, dev, next) else {
                return;
            };
            let instance = InstanceId(self.st.next_instance);
            self.st.next_instance += u64::from(self.d.local.span(task));
            if let Some(d) = self.st.devices.get_mut(&dev) {
                d.grants.push(Grant {
                    task,
                    period: next,
                    instance,
                    at,
                    used: false,
                });
            }
            self.st.counters.grants = self.st.counters.grants.saturating_add(1);
            self.tell_device(
                dev,
                epoch,
                DeviceMsg::Fire {
                    task,
                    instance,
                    at_us: at.0,
                    sent_us: now.0,
                },
            );
            next += 1;
        }
    }

    /// What the phase timer does for `dev`'s firing of `task` in period
    /// `n`; marks the grant used.
    pub(super) fn take_grant(&mut self, dev: DeviceId, task: TaskId, n: u64) -> Granted {
        let Some(d) = self.st.devices.get_mut(&dev) else {
            return Granted::No;
        };
        match d
            .grants
            .iter_mut()
            .find(|g| g.task == task && g.period == n)
        {
            Some(g) if g.used => Granted::Done,
            Some(g) => {
                g.used = true;
                Granted::Fires(g.instance)
            }
            None => Granted::No,
        }
    }

    /// A firing its device fired by itself, lost with the device (out of
    /// service before it reported): resolved as lost, not re-placed (no
    /// other device can take this device's reading), kept until the device
    /// reports it after all.
    pub(super) fn lose_firing(&mut self, now: Micros, id: InstanceId, device: DeviceId) {
        let Some(inst) = self.st.instances.remove(&id) else {
            return;
        };
        let path_starts = self
            .st
            .groups
            .get(&inst.group)
            .map(|g| g.path_starts.clone())
            .unwrap_or_default();
        self.st.lost.insert(
            id,
            LostFiring {
                task: inst.task,
                device,
                created: inst.created,
                path_starts,
            },
        );
        self.st.kinds[inst.task.index()].lost += 1;
        self.out.push_back(Effect::Publish(Publication::Lost {
            instance: id,
            task: inst.task,
            device,
        }));
        self.group_resolved(now, inst.group, None, 0);
        self.maybe_finish(now);
    }

    /// A result from `executor` for a firing lost with its device: if that
    /// device reports it (under any registration) while the mission runs
    /// or drains, it counts after all — the instance is back, with an
    /// attempt of `executor`, in an activation of its own (a round of its
    /// own, when rounds are gathered: the one it was in has moved on).
    pub(super) fn recover_firing(&mut self, id: InstanceId, executor: Executor) {
        let Executor::Device { device, .. } = executor else {
            return;
        };
        if !matches!(
            self.st.phase,
            super::Phase::Running | super::Phase::Draining
        ) || self.st.lost.get(&id).is_none_or(|l| l.device != device)
        {
            return;
        }
        let Some(l) = self.st.lost.remove(&id) else {
            return;
        };
        let k = &mut self.st.kinds[l.task.index()];
        k.lost = k.lost.saturating_sub(1);
        self.st.counters.recovered = self.st.counters.recovered.saturating_add(1);
        let group = GroupId(self.st.next_group);
        self.st.next_group += 1;
        if self.d.gathers_rounds {
            self.st.batches.opened(group, l.task, 1);
        }
        self.st.groups.insert(
            group,
            Group {
                task: l.task,
                round: group,
                origin: Some(device),
                expected: 1,
                completed: 0,
                failed: 0,
                items: 0,
                last: None,
                path_starts: l.path_starts,
                target: None,
            },
        );
        self.st.instances.insert(
            id,
            Instance {
                task: l.task,
                group,
                created: l.created,
                attempts: vec![Attempt {
                    executor,
                    started: l.created,
                    live: true,
                    check: StragglerCheck::Judged,
                }]
                .into(),
                retries: 0,
                relaunches: 0,
                affinity: Some(device),
                parent: None,
                waiting: Waiting::Running,
                retry_at: None,
            },
        );
    }

    /// The timer fired period `n` of `task` for the devices in its slot
    /// (all of the fleet: `(0, 1)`): their grants up to `n` are spent, and
    /// they are granted ahead again.
    pub(super) fn after_fired(&mut self, now: Micros, task: TaskId, n: u64, slot: (u32, u32)) {
        let Some(fleet) = self.st.plan.tasks[task.index()].fleet else {
            return;
        };
        let devs: Vec<DeviceId> = self
            .st
            .devices
            .in_slot(slot.0, slot.1)
            .filter(|(_, d)| d.fleet == fleet)
            .map(|(&id, _)| id)
            .collect();
        for dev in devs {
            if let Some(d) = self.st.devices.get_mut(&dev) {
                d.grants.retain(|g| g.task != task || g.period > n);
            }
            self.top_up(now, dev, task, n + 1);
        }
    }

    /// A result or error from `executor` for an instance the core has not
    /// created: if it is a firing granted to that registration, create it
    /// now, at its instant (or now, if that is later), as the timer would.
    pub(super) fn materialize(&mut self, now: Micros, id: InstanceId, executor: Executor) {
        let Executor::Device { device, epoch } = executor else {
            return;
        };
        if self.st.instances.contains_key(&id) || self.is_done(id) {
            return;
        }
        let Some(g) = self.st.devices.get(&device).and_then(|d| {
            (d.epoch == epoch && d.status == DeviceStatus::Alive)
                .then(|| d.grants.iter().find(|g| g.instance == id && !g.used))
                .flatten()
                .copied()
        }) else {
            return;
        };
        if !matches!(
            self.st.phase,
            super::Phase::Running | super::Phase::Draining
        ) {
            return;
        }
        self.st.counters.fired_early = self.st.counters.fired_early.saturating_add(1);
        if self.d.phasing[g.task.index()].is_some() {
            let at = if g.at < now { g.at } else { now };
            self.activate_granted(at, g.task, device, g.period);
        } else {
            // A synchronized source: its round is one firing of every
            // device, so the whole round fires now, not this one alone.
            self.fire_round_early(now, g.task, g.period);
        }
    }
}
