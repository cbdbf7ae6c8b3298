//! Devices: registration with epochs, heartbeats (soft: not journaled),
//! telemetry, failure detection, and the sweep regions of `cover`
//! behaviours.
//!
//! Region rules (each keeps every cover area partitioned among the strips
//! held by devices plus the fleet's orphans):
//! * start: the area is cut into equal strips, one per alive device;
//! * failure / low battery: each strip of the device goes to the survivors'
//!   strips that touch it: it and up to `repartition_fanout` neighbouring
//!   strips are re-cut into equal pieces, each neighbour keeping one
//!   contiguous piece where it was. No strip is ever added, so however many
//!   devices fail, a fleet's strips of an area number at most its devices
//!   at start plus its joins, and repartition costs O(S log S). A strip no
//!   survivor touches goes whole to the nearest survivor; with no survivor
//!   (or when the policy does not repartition that area) it becomes an
//!   orphan;
//! * join: the newcomer takes the orphans, else the right half of the widest
//!   strip of the fleet.

use super::{Controller, Device, DeviceStatus, LoadKey, LoadSlot, Phase};
use crate::effect::{BehaviourCommand, DeviceMsg, Effect, Publication};
use crate::geometry::{cut, Strip};
use crate::ids::{DeviceId, Epoch, Executor, InstanceId};
use crate::record::Record;
use crate::time::Micros;
use hivemind_ir::{AreaId, FailureAction, FleetId, LowBatteryAction, PointMm};
use std::collections::BTreeSet;

impl Controller {
    pub(super) fn reindex(&mut self, id: DeviceId) {
        let st = &mut self.st;
        if let Some(dev) = st.devices.get_mut(&id) {
            reindex(&mut st.fleets, &st.graph, id, dev);
        }
    }

    pub(super) fn on_join(
        &mut self,
        now: Micros,
        id: DeviceId,
        fleet: FleetId,
        battery: u64,
        position: PointMm,
    ) {
        if fleet.index() >= self.st.fleets.len() {
            self.st.counters.rejected_events += 1;
            tracing::warn!(device = %id, fleet = fleet.0, "join for an unknown fleet ignored");
            return;
        }
        let epoch = match self.st.devices.get(&id).map(|d| (d.status, d.epoch)) {
            Some((status, epoch)) => {
                if matches!(status, DeviceStatus::Alive | DeviceStatus::Returning) {
                    // Re-registering while alive: the agent restarted, so
                    // whatever the old epoch held is lost.
                    self.fail_device(now, id, DeviceStatus::Failed, "re-registered".into());
                }
                self.st.counters.rejoins += 1;
                Epoch(epoch.0.wrapping_add(1))
            }
            None => Epoch(1),
        };
        let old = self.st.devices.remove(&id);
        let mut dev = Device {
            fleet,
            epoch,
            status: DeviceStatus::Alive,
            battery_uj: battery,
            battery_at_join_uj: battery,
            energy_uj: 0,
            position,
            in_flight: Vec::new(),
            firings: Vec::new(),
            cover: Vec::new(),
            completed: 0,
            bytes_sent: 0,
            grants: Vec::new(),
            load_key: None,
            load_slot: LoadSlot::NONE,
        };
        if let Some(old) = old {
            if old.load_key.is_some() {
                self.st.fleets[old.fleet.index()].load.remove(old.load_slot);
            }
            // Energy spent while silent shows in the battery it rejoins with
            // (unless it was swapped for a fuller one).
            let last = if battery <= old.battery_uj {
                battery
            } else {
                old.battery_uj
            };
            dev.energy_uj = old.energy_uj + old.battery_at_join_uj.saturating_sub(last);
            dev.completed = old.completed;
            dev.bytes_sent = old.bytes_sent;
        }
        self.st.devices.insert(id, dev);
        // A rejoin replaces the device's strips.
        self.strips.invalidate();
        self.seen.heard(id, now);
        self.reindex(id);
        // First, so the device knows its epoch before any task or behaviour.
        let heartbeat_period_us = self.st.config.heartbeat_period_us;
        self.tell_device(
            id,
            epoch,
            DeviceMsg::Registered {
                heartbeat_period_us,
            },
        );
        self.models_for_join(id, epoch, fleet);
        if self.st.phase == Phase::Running {
            self.join_behaviours(id, fleet);
            self.grant_device(now, id);
        }
        if matches!(self.st.phase, Phase::Running | Phase::Draining) {
            self.pump_fleet(now, fleet);
        }
    }

    /// Whether a message from `id` at `epoch` is current; stale senders are
    /// told to register again.
    pub(super) fn current(&mut self, id: DeviceId, epoch: Epoch) -> bool {
        match self.st.devices.get(&id) {
            Some(d)
                if d.epoch == epoch
                    && matches!(d.status, DeviceStatus::Alive | DeviceStatus::Returning) =>
            {
                true
            }
            Some(_) => {
                self.st.counters.stale_messages += 1;
                self.tell_device(id, epoch, DeviceMsg::Resync);
                false
            }
            None => {
                self.st.counters.stale_messages += 1;
                false
            }
        }
    }

    /// Soft: not journaled, so it touches no journaled state (a stale
    /// heartbeat gets its resync but is not counted).
    pub(super) fn on_heartbeat(&mut self, now: Micros, id: DeviceId, epoch: Epoch) {
        match self.st.devices.get(&id) {
            Some(d)
                if d.epoch == epoch
                    && matches!(d.status, DeviceStatus::Alive | DeviceStatus::Returning) =>
            {
                self.seen.heard(id, now);
            }
            Some(_) => self.tell_device(id, epoch, DeviceMsg::Resync),
            None => {}
        }
    }

    pub(super) fn on_leave(&mut self, now: Micros, id: DeviceId, epoch: Epoch) {
        if self.current(id, epoch) {
            self.fail_device(now, id, DeviceStatus::Left, "left".into());
        }
    }

    pub(super) fn on_telemetry(
        &mut self,
        now: Micros,
        id: DeviceId,
        epoch: Epoch,
        position: PointMm,
        battery: u64,
    ) {
        if !self.current(id, epoch) {
            return;
        }
        self.seen.heard(id, now);
        let Some(d) = self.st.devices.get_mut(&id) else {
            return;
        };
        d.position = position;
        d.battery_uj = battery;
        let (fleet, status) = (d.fleet, d.status);
        self.reindex(id);
        self.out.push_back(Effect::Publish(Publication::Telemetry {
            device: id,
            position,
            battery_uj: battery,
        }));
        let cap = self.st.graph.fleets[fleet.index()].battery_uj.max(1);
        let left_bp = battery.saturating_mul(10_000) / cap;
        if let Some(p) = self.st.graph.policies.low_battery.clone() {
            if status == DeviceStatus::Alive && left_bp < u64::from(p.threshold_bp) {
                self.st.counters.low_battery_returns += 1;
                if let Some(d) = self.st.devices.get_mut(&id) {
                    d.status = DeviceStatus::Returning;
                }
                self.reindex(id);
                let command = match p.action {
                    LowBatteryAction::ReturnHome => BehaviourCommand::ReturnHome,
                    LowBatteryAction::Land => BehaviourCommand::Land,
                };
                self.behave(id, epoch, command);
                self.give_away_strips(id, "low battery");
            }
        }
    }

    /// The soft liveness scan: every device in service silent for
    /// `suspect_after_us` is declared failed, each decision journaled
    /// (`Record::DeviceSilent`) because the heartbeats behind it are not.
    pub(super) fn liveness(&mut self, now: Micros) {
        let limit = self.st.config.suspect_after_us;
        // Only the devices whose silence may have reached the limit.
        let devices = &self.st.devices;
        let silent = self.seen.silent(now, limit, |id| {
            devices
                .get(&id)
                .filter(|d| matches!(d.status, DeviceStatus::Alive | DeviceStatus::Returning))
                .map(|d| d.epoch)
        });
        for (device, epoch) in silent {
            self.commit(Record::DeviceSilent {
                at: now,
                device,
                epoch,
            });
        }
    }

    /// A journaled liveness decision (live and on replay).
    pub(super) fn on_silent(&mut self, now: Micros, id: DeviceId, epoch: Epoch) {
        let in_service = self.st.devices.get(&id).is_some_and(|d| {
            d.epoch == epoch && matches!(d.status, DeviceStatus::Alive | DeviceStatus::Returning)
        });
        if !in_service {
            self.st.counters.rejected_events += 1;
            return;
        }
        let limit = self.st.config.suspect_after_us;
        let reason = format!("no heartbeat for {} ms", limit / 1000);
        self.fail_device(now, id, DeviceStatus::Failed, reason);
    }

    /// Take the device out of service: re-place its work and share its strips.
    pub(super) fn fail_device(
        &mut self,
        now: Micros,
        id: DeviceId,
        status: DeviceStatus,
        reason: String,
    ) {
        let Some(d) = self.st.devices.get_mut(&id) else {
            return;
        };
        d.status = status;
        let epoch = d.epoch;
        let fleet = d.fleet;
        let mut in_flight = std::mem::take(&mut d.firings);
        in_flight.append(&mut d.in_flight);
        // Its firings not yet created are void (its next registration is
        // granted afresh); those created are lost with its attempts.
        d.grants.clear();
        self.reindex(id);
        self.st.counters.devices_failed += u64::from(status == DeviceStatus::Failed);
        tracing::debug!(device = %id, %reason, "device out of service");
        self.out
            .push_back(Effect::Publish(Publication::DeviceFailed {
                device: id,
                epoch,
                reason: reason.clone(),
            }));
        if matches!(
            self.st.graph.policies.device_failure.action,
            FailureAction::Abort
        ) && matches!(
            self.st.phase,
            super::Phase::Running | super::Phase::Draining
        ) {
            self.abort(now, format!("device {id} failed: {reason}"));
            return;
        }
        let gone = Executor::Device { device: id, epoch };
        for inst in in_flight {
            // A firing it made by itself is lost with it; other work is
            // placed again.
            let fired = self.st.instances.get(&inst).is_some_and(|i| {
                self.d.fired[i.task.index()]
                    && i.affinity == Some(id)
                    && !i.attempts.iter().any(|a| a.live && a.executor != gone)
            });
            if fired {
                self.lose_firing(now, inst, id);
            } else {
                self.attempt_lost(now, inst, gone);
            }
        }
        self.give_away_strips(id, &reason);
        if self.st.fleets[fleet.index()].load.is_empty() {
            // No device of the fleet in service: say so now, not only when
            // its waiting work fails at the end.
            self.st.counters.fleets_lost += 1;
            let name = &self.st.graph.fleets[fleet.index()].name;
            tracing::warn!(fleet = %name, "fleet has no device in service");
            self.out.push_back(Effect::Publish(Publication::FleetLost {
                fleet,
                reason: format!("its last device ({id}) failed: {reason}"),
            }));
        }
        self.pump_fleet(now, fleet);
    }

    /// Why an instance still unresolved when the drain ends failed: its
    /// fleet has no device in service, or the mission simply ended first.
    pub(super) fn unfinished_reason(&self, id: InstanceId) -> String {
        let fleet = self
            .st
            .instances
            .get(&id)
            .and_then(|i| self.st.plan.tasks.get(i.task.index()))
            .filter(|t| t.modality == hivemind_ir::plan::Modality::Edge)
            .and_then(|t| t.fleet);
        match fleet {
            Some(f) if self.st.fleets[f.index()].load.is_empty() => format!(
                "fleet `{}` lost every device before the instance could run",
                self.st.graph.fleets[f.index()].name
            ),
            _ => "mission ended before the instance finished".into(),
        }
    }

    /// Send the device every behaviour of its fleet (on mission start or
    /// join). `rank` is its place among the fleet's `n` live devices, which
    /// spaces a patrol's devices evenly along the loop.
    fn send_behaviours(&mut self, id: DeviceId, rank: Option<(usize, usize)>) {
        let Some(d) = self.st.devices.get(&id) else {
            return;
        };
        let (fleet, epoch) = (d.fleet, d.epoch);
        let commands: Vec<BehaviourCommand> = self
            .d
            .behaviours
            .iter()
            .filter(|(_, f, _)| *f == fleet)
            .map(|(_, _, cmd)| cmd.clone())
            .collect();
        for mut cmd in commands {
            if let (
                BehaviourCommand::Route {
                    waypoints,
                    looping: true,
                    start_mm,
                },
                Some((i, n)),
            ) = (&mut cmd, rank)
            {
                let loop_mm = hivemind_ir::route::length_mm(waypoints, true);
                let at = loop_mm * i as u128 / (n.max(1) as u128);
                *start_mm = u64::try_from(at).unwrap_or(u64::MAX);
            }
            self.behave(id, epoch, cmd);
        }
    }

    /// Rank of `id` among its fleet's live devices, for fleets that patrol.
    fn patrol_rank(&self, id: DeviceId, fleet: FleetId) -> Option<(usize, usize)> {
        if !self.d.patrols.contains(&fleet) {
            return None;
        }
        let alive = self.alive_in(fleet);
        Some((alive.iter().position(|&d| d == id)?, alive.len()))
    }

    fn send_cover(&mut self, id: DeviceId, area: AreaId) {
        let Some(d) = self.st.devices.get(&id) else {
            return;
        };
        let lane_mm = self
            .d
            .cover
            .iter()
            .find(|c| c.area == area && c.fleet == d.fleet)
            .map_or(hivemind_ir::defaults::LANE_MM, |c| c.lane_mm);
        let strips: Vec<Strip> = d.cover.iter().filter(|s| s.area == area).copied().collect();
        let epoch = d.epoch;
        self.behave(
            id,
            epoch,
            BehaviourCommand::Cover {
                area,
                strips,
                lane_mm,
            },
        );
    }

    fn alive_in(&self, fleet: FleetId) -> Vec<DeviceId> {
        self.st
            .devices
            .iter()
            .filter(|(_, d)| d.fleet == fleet && d.status == DeviceStatus::Alive)
            .map(|(&id, _)| id)
            .collect()
    }

    pub(super) fn assign_initial_behaviours(&mut self) {
        for c in self.d.cover.clone() {
            let devs = self.alive_in(c.fleet);
            let (lo, hi) = self.d.area_extent[c.area.index()];
            let strips = cut(c.area, lo, hi, devs.len().max(1));
            if devs.is_empty() {
                self.st.fleets[c.fleet.index()].orphans.extend(strips);
                continue;
            }
            self.strips.invalidate();
            for (dev, s) in devs.iter().zip(strips) {
                if let Some(d) = self.st.devices.get_mut(dev) {
                    d.cover.push(s);
                }
                self.send_cover(*dev, c.area);
            }
        }
        let ids: Vec<(DeviceId, FleetId)> = self
            .st
            .devices
            .iter()
            .filter(|(_, d)| d.status == DeviceStatus::Alive)
            .map(|(&id, d)| (id, d.fleet))
            .collect();
        // Ranks per patrolling fleet, counted in one pass (devices are in id order).
        let mut seen: Vec<usize> = vec![0; self.st.graph.fleets.len()];
        let mut size: Vec<usize> = vec![0; self.st.graph.fleets.len()];
        for &(_, f) in &ids {
            if let Some(s) = size.get_mut(f.index()) {
                *s += 1;
            }
        }
        for (id, f) in ids {
            let rank = match (self.d.patrols.contains(&f), seen.get_mut(f.index())) {
                (true, Some(i)) => {
                    *i += 1;
                    Some((*i - 1, size[f.index()]))
                }
                _ => None,
            };
            self.send_behaviours(id, rank);
        }
    }

    fn join_behaviours(&mut self, id: DeviceId, fleet: FleetId) {
        let rank = self.patrol_rank(id, fleet);
        self.send_behaviours(id, rank);
        for c in self.d.cover.clone() {
            if c.fleet != fleet {
                continue;
            }
            let orphans: Vec<Strip> = {
                let f = &mut self.st.fleets[fleet.index()];
                let (mine, rest): (Vec<Strip>, Vec<Strip>) =
                    f.orphans.iter().partition(|s| s.area == c.area);
                f.orphans = rest;
                mine
            };
            self.strips.invalidate();
            if !orphans.is_empty() {
                if let Some(d) = self.st.devices.get_mut(&id) {
                    d.cover.extend(orphans);
                    merge_adjacent(&mut d.cover);
                }
                self.st.counters.repartitions += 1;
                self.send_cover(id, c.area);
                continue;
            }
            // Take the right half of the widest strip in the fleet.
            let widest = self
                .st
                .devices
                .iter()
                .filter(|(&o, d)| o != id && d.fleet == fleet && d.status == DeviceStatus::Alive)
                .flat_map(|(&o, d)| d.cover.iter().enumerate().map(move |(i, s)| (o, i, *s)))
                .filter(|(_, _, s)| s.area == c.area && s.width() >= 2)
                .max_by_key(|(o, _, s)| (s.width(), std::cmp::Reverse(*o)));
            let Some((owner, i, s)) = widest else {
                continue;
            };
            let mid = s.x_min + s.width() / 2;
            if let Some(d) = self.st.devices.get_mut(&owner) {
                d.cover[i].x_max = mid;
            }
            if let Some(d) = self.st.devices.get_mut(&id) {
                d.cover.push(Strip {
                    area: c.area,
                    x_min: mid,
                    x_max: s.x_max,
                });
            }
            self.st.counters.repartitions += 1;
            self.send_cover(owner, c.area);
            self.send_cover(id, c.area);
            self.publish(Publication::Repartitioned {
                area: c.area,
                reason: format!("{id} joined"),
            });
        }
    }

    /// Share the device's strips with the survivors next to them (see the
    /// module doc and [`share_strip`]). Costs O(S log S) for the S strips
    /// of the area, and never adds a strip, so repeated failures cannot
    /// fragment anyone's region.
    fn give_away_strips(&mut self, id: DeviceId, reason: &str) {
        let Some(d) = self.st.devices.get_mut(&id) else {
            return;
        };
        let mut strips = std::mem::take(&mut d.cover);
        let fleet = d.fleet;
        if strips.is_empty() {
            return;
        }
        strips.sort();
        let areas: Vec<AreaId> = match &self.st.graph.policies.device_failure.action {
            FailureAction::Repartition { areas } => areas.clone(),
            _ => Vec::new(),
        };
        // The load index holds exactly the fleet's live devices.
        let survivors = !self.st.fleets[fleet.index()].load.is_empty();
        let fanout = self.st.config.repartition_fanout.max(1) as usize;
        let mut touched: BTreeSet<(DeviceId, AreaId)> = BTreeSet::new();
        for group in strips.chunk_by(|a, b| a.area == b.area) {
            let area = group[0].area;
            // Its strips leave the index whatever happens to them.
            let index = self.strips.area(&self.st, fleet, area);
            for s in group {
                index.remove(s);
            }
            if !areas.contains(&area) || !survivors {
                self.st.fleets[fleet.index()].orphans.extend(group);
                continue;
            }
            for &s in group {
                for o in self.share_one(fleet, s, fanout) {
                    touched.insert((o, area));
                }
            }
            self.st.counters.repartitions += 1;
            self.publish(Publication::Repartitioned {
                area,
                reason: format!("{id}: {reason}"),
            });
        }
        for (o, a) in touched {
            self.send_cover(o, a);
        }
    }

    /// Hand strip `s` (of a device that left) to the survivors next to it
    /// ([`share_strip`] over the strips around it, from the index:
    /// O(fanout + log N)), or to the nearest survivor; update their strips
    /// and the index. The devices whose strips changed.
    fn share_one(&mut self, fleet: FleetId, s: Strip, fanout: usize) -> Vec<DeviceId> {
        // `share_strip` reshapes at most `fanout` strips on each side; one
        // more on each side may merge with a reshaped one.
        let reach = fanout + 1;
        let index = self.strips.area(&self.st, fleet, s.area);
        let before: Vec<(Strip, DeviceId)> = index
            .range(..s)
            .rev()
            .take(reach)
            .map(|(k, v)| (*k, *v))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .chain(index.range(s..).take(reach).map(|(k, v)| (*k, *v)))
            .collect();
        let mut owned = before.clone();
        let owners: Vec<DeviceId> = match share_strip(s, &mut owned, fanout) {
            Some(changed) => changed,
            None => {
                // Nobody sweeps next to it: the nearest survivor (by what
                // it sweeps here, else by position) takes it.
                let Some(o) = self.nearest_survivor(fleet, &owned, s) else {
                    self.st.fleets[fleet.index()].orphans.push(s);
                    return Vec::new();
                };
                let at = owned.partition_point(|(x, _)| *x < s);
                owned.insert(at, (s, o));
                vec![o]
            }
        };
        let index = self.strips.area(&self.st, fleet, s.area);
        for (k, _) in &before {
            index.remove(k);
        }
        for (k, o) in &owned {
            index.insert(*k, *o);
        }
        let mut changed: Vec<DeviceId> = owners;
        changed.sort();
        changed.dedup();
        for o in &changed {
            if let Some(d) = self.st.devices.get_mut(o) {
                d.cover
                    .retain(|x| !before.iter().any(|(b, bo)| b == x && bo == o));
                d.cover
                    .extend(owned.iter().filter(|(_, w)| w == o).map(|(x, _)| *x));
                d.cover.sort();
            }
        }
        changed
    }

    fn nearest_survivor(
        &self,
        fleet: FleetId,
        owned: &[(Strip, DeviceId)],
        s: Strip,
    ) -> Option<DeviceId> {
        let centre = s.centre_x();
        let by_strip = owned
            .iter()
            .min_by_key(|(x, o)| (x.centre_x().abs_diff(centre), *o))
            .map(|&(_, o)| o);
        // Only when no survivor sweeps this area: O(live devices).
        let by_position = || {
            self.st.fleets[fleet.index()]
                .load
                .iter()
                .map(|k| k.2)
                // Positions come from telemetry: no arithmetic that can overflow.
                .filter_map(|o| Some((self.st.devices.get(&o)?.position.x_mm.abs_diff(centre), o)))
                .min()
                .map(|(_, o)| o)
        };
        by_strip.or_else(by_position)
    }
}

/// The device's place in its fleet's load index: (queue length, battery
/// drained, id) while alive.
pub(super) fn load_key(
    graph: &hivemind_ir::TaskGraph,
    id: DeviceId,
    dev: &Device,
) -> Option<LoadKey> {
    (dev.status == DeviceStatus::Alive).then(|| {
        let cap = graph.fleets[dev.fleet.index()].battery_uj.max(1);
        let drained = 10_000u64.saturating_sub(dev.battery_uj.saturating_mul(10_000) / cap);
        (dev.in_flight.len() as u32, drained as u32, id)
    })
}

/// Put the device's load key (queue length, battery drained, id) in its
/// fleet's load index, or take it out when the device is not alive.
pub(super) fn reindex(
    fleets: &mut [super::FleetState],
    graph: &hivemind_ir::TaskGraph,
    id: DeviceId,
    dev: &mut Device,
) {
    let fleet = dev.fleet.index();
    let key = load_key(graph, id, dev);
    if key == dev.load_key {
        return; // already where it belongs
    }
    let index = &mut fleets[fleet].load;
    match (dev.load_key.is_some(), key) {
        (true, Some(key)) => index.update(dev.load_slot, key),
        (true, None) => {
            index.remove(dev.load_slot);
            dev.load_slot = LoadSlot::NONE;
        }
        (false, Some(key)) => dev.load_slot = index.insert(key),
        (false, None) => {}
    }
    dev.load_key = key;
}

/// Give strip `s` (held by nobody in `owned`) to the strips touching it:
/// the window made of `s` and up to `fanout` contiguous neighbouring strips
/// (nearest centre first, left on ties) is re-cut into equal pieces, one
/// per neighbour, in x order. Each neighbour keeps one contiguous piece
/// where it was (its load evens out with the others in the window), so the
/// partition loses a strip instead of fragmenting; strips of one owner that
/// come to touch are merged. `owned` is sorted by x. Returns the owners
/// whose strips changed, or `None` when no strip touches `s`.
fn share_strip(
    s: Strip,
    owned: &mut Vec<(Strip, DeviceId)>,
    fanout: usize,
) -> Option<Vec<DeviceId>> {
    let p = owned.partition_point(|(x, _)| x.x_min < s.x_min);
    // The window is owned[lo..hi] plus `s`, spanning [left, right).
    let (mut lo, mut hi) = (p, p);
    let (mut left, mut right) = (s.x_min, s.x_max);
    let centre = s.centre_x();
    while hi - lo < fanout {
        let l = lo.checked_sub(1).filter(|&i| owned[i].0.x_max == left);
        let r = (hi < owned.len() && owned[hi].0.x_min == right).then_some(hi);
        let take_left = match (l, r) {
            (Some(l), Some(r)) => {
                centre.abs_diff(owned[l].0.centre_x()) <= centre.abs_diff(owned[r].0.centre_x())
            }
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let (new_left, new_right) = match (take_left, l, r) {
            (true, Some(l), _) => (owned[l].0.x_min, right),
            (false, _, Some(r)) => (left, owned[r].0.x_max),
            _ => break,
        };
        // Every piece at least 1 mm wide (a zero-width area has only one).
        let pieces = hi - lo + 1;
        if pieces > 1 && new_right.abs_diff(new_left) < pieces as u64 {
            break;
        }
        if take_left {
            lo -= 1;
        } else {
            hi += 1;
        }
        (left, right) = (new_left, new_right);
    }
    if lo == hi {
        return None;
    }
    let pieces = cut(s.area, left, right, hi - lo);
    let mut changed = Vec::with_capacity(hi - lo);
    for (entry, piece) in owned[lo..hi].iter_mut().zip(pieces) {
        entry.0 = piece;
        changed.push(entry.1);
    }
    // One device may hold strips on both sides of `s`: they now touch.
    owned.dedup_by(|next, prev| {
        let touch = prev.1 == next.1 && prev.0.x_max == next.0.x_min;
        if touch {
            prev.0.x_max = next.0.x_max;
        }
        touch
    });
    Some(changed)
}

/// Merge strips of one area that touch (strips taken over on a join may be
/// neighbours), in one pass after sorting.
fn merge_adjacent(strips: &mut Vec<Strip>) {
    strips.sort();
    strips.dedup_by(|next, prev| {
        let touch = prev.area == next.area && prev.x_max == next.x_min;
        if touch {
            prev.x_max = next.x_max;
        }
        touch
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use hivemind_ir::AreaId;
    use std::collections::BTreeMap;

    fn strip(x_min: i64, x_max: i64) -> Strip {
        Strip {
            area: AreaId(0),
            x_min,
            x_max,
        }
    }

    /// The device table behaves as a `BTreeMap` for dense, scattered and
    /// hostile ids, and serializes the same.
    #[test]
    fn device_table_matches_a_btreemap() {
        use crate::devtable::DeviceTable;
        let dev = |n: u64| Device {
            fleet: FleetId(0),
            epoch: Epoch(1),
            status: DeviceStatus::Alive,
            battery_uj: n,
            battery_at_join_uj: n,
            energy_uj: 0,
            position: PointMm { x_mm: 0, y_mm: 0 },
            in_flight: Vec::new(),
            firings: Vec::new(),
            cover: Vec::new(),
            completed: 0,
            bytes_sent: 0,
            grants: Vec::new(),
            load_key: None,
            load_slot: LoadSlot::NONE,
        };
        let mut t = DeviceTable::new();
        let mut m: BTreeMap<DeviceId, Device> = BTreeMap::new();
        let mut x: u64 = 99;
        for step in 0..50_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let id = DeviceId(match x % 8 {
                0 => u32::MAX - (x >> 40) as u32 % 3,
                1 => (x >> 20) as u32 % 100_000,
                _ => (x >> 20) as u32 % (step as u32 / 4 + 10),
            });
            if x.is_multiple_of(5) {
                assert_eq!(t.remove(&id), m.remove(&id), "step {step}");
            } else {
                assert_eq!(
                    t.insert(id, dev(step)),
                    m.insert(id, dev(step)),
                    "step {step}"
                );
            }
            assert_eq!(t.get(&id), m.get(&id));
            assert_eq!(t.len(), m.len());
            if step.is_multiple_of(5_000) {
                assert!(t.iter().eq(m.iter()));
                for (slot, slots) in [(0, 1), (0, 3), (2, 3), (5, 7), (999, 1_000)] {
                    assert!(
                        t.in_slot(slot, slots)
                            .eq(m.iter().filter(|(id, _)| id.0 % slots == slot)),
                        "step {step}: slot {slot} of {slots}"
                    );
                }
            }
        }
        assert!(t.iter().eq(m.iter()));
        let json = serde_json::to_string(&t).unwrap_or_default();
        assert_eq!(json, serde_json::to_string(&m).unwrap_or_default());
        let back: DeviceTable = serde_json::from_str(&json).expect("round trip");
        assert_eq!(back, t);
    }

    #[test]
    fn a_strip_goes_to_its_neighbours_without_fragmenting() {
        let d = DeviceId;
        // [0,100) d0, [100,200) d1, gap [200,300) to share, [300,400) d2, [400,500) d3.
        let mut owned = vec![
            (strip(0, 100), d(0)),
            (strip(100, 200), d(1)),
            (strip(300, 400), d(2)),
            (strip(400, 500), d(3)),
        ];
        let changed = share_strip(strip(200, 300), &mut owned, 2);
        assert_eq!(changed, Some(vec![d(1), d(2)]));
        assert_eq!(
            owned,
            [
                (strip(0, 100), d(0)),
                (strip(100, 250), d(1)),
                (strip(250, 400), d(2)),
                (strip(400, 500), d(3)),
            ]
        );
        // Fan-out 4: the window spreads over everyone.
        let mut owned = vec![
            (strip(0, 100), d(0)),
            (strip(100, 200), d(1)),
            (strip(300, 400), d(2)),
            (strip(400, 500), d(3)),
        ];
        share_strip(strip(200, 300), &mut owned, 4);
        let widths: Vec<i64> = owned.iter().map(|(s, _)| s.width()).collect();
        assert_eq!(widths, [125, 125, 125, 125]);
        // The same owner on both sides: its two pieces merge into one.
        let mut owned = vec![(strip(0, 100), d(5)), (strip(200, 300), d(5))];
        assert_eq!(
            share_strip(strip(100, 200), &mut owned, 4),
            Some(vec![d(5), d(5)])
        );
        assert_eq!(owned, [(strip(0, 300), d(5))]);
        // Nobody touches it.
        let mut owned = vec![(strip(0, 100), d(0))];
        assert_eq!(share_strip(strip(150, 200), &mut owned, 4), None);
        // A zero-width area: one neighbour takes it, no piece is inverted.
        let mut owned = vec![(strip(7, 7), d(0)), (strip(7, 7), d(1))];
        assert_eq!(share_strip(strip(7, 7), &mut owned, 4), Some(vec![d(0)]));
        assert_eq!(owned, [(strip(7, 7), d(0)), (strip(7, 7), d(1))]);
        let mut v = vec![strip(5, 9), strip(0, 5), strip(10, 12), strip(9, 10)];
        merge_adjacent(&mut v);
        assert_eq!(v, [strip(0, 12)]);
    }
}
