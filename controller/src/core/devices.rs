//! Devices: registration with epochs, heartbeats, telemetry, failure
//! detection, and the sweep regions of `cover` behaviours.
//!
//! Region rules (each keeps every cover area partitioned among the strips
//! held by devices plus the fleet's orphans):
//! * start: the area is cut into equal strips, one per alive device;
//! * failure / low battery: each strip of the device is cut into equal
//!   pieces for its nearest survivors (at most `repartition_fanout`), or
//!   becomes an orphan when none survive (if the policy repartitions that
//!   area; otherwise it is orphaned too, and the gap is the policy's choice);
//! * join: the newcomer takes the orphans, else the right half of the widest
//!   strip of the fleet.

use super::{Controller, Device, DeviceStatus, LoadKey, Phase};
use crate::effect::{BehaviourCommand, Effect, Publication};
use crate::geometry::{cut, Strip};
use crate::ids::{DeviceId, Epoch, Executor};
use crate::time::Micros;
use hivemind_ir::{AreaId, FailureAction, FleetId, LowBatteryAction, PointMm};

impl Controller {
    pub(super) fn reindex(&mut self, id: DeviceId) {
        let Some(dev) = self.st.devices.get_mut(&id) else {
            return;
        };
        let fleet = dev.fleet.index();
        if let Some(k) = dev.load_key.take() {
            self.st.fleets[fleet].load.remove(&k);
        }
        if dev.status == DeviceStatus::Alive {
            let cap = self.st.graph.fleets[fleet].battery_uj.max(1);
            let drained = 10_000u64.saturating_sub(dev.battery_uj.saturating_mul(10_000) / cap);
            let key: LoadKey = (dev.in_flight.len() as u32, drained as u32, id);
            dev.load_key = Some(key);
            self.st.fleets[fleet].load.insert(key);
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
            last_seen: now,
            battery_uj: battery,
            battery_at_join_uj: battery,
            energy_uj: 0,
            position,
            in_flight: Vec::new(),
            cover: Vec::new(),
            completed: 0,
            bytes_sent: 0,
            load_key: None,
        };
        if let Some(old) = old {
            if let Some(k) = old.load_key {
                self.st.fleets[old.fleet.index()].load.remove(&k);
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
        self.reindex(id);
        if self.st.phase == Phase::Running {
            self.join_behaviours(id, fleet);
        }
        if matches!(self.st.phase, Phase::Running | Phase::Draining) {
            self.pump_fleet(now, fleet);
        }
    }

    /// Whether a message from `id` at `epoch` is current; stale senders are
    /// told to register again.
    fn current(&mut self, id: DeviceId, epoch: Epoch) -> bool {
        match self.st.devices.get(&id) {
            Some(d)
                if d.epoch == epoch
                    && matches!(d.status, DeviceStatus::Alive | DeviceStatus::Returning) =>
            {
                true
            }
            Some(_) => {
                self.st.counters.stale_messages += 1;
                self.out.push_back(Effect::Resync { device: id });
                false
            }
            None => {
                self.st.counters.stale_messages += 1;
                false
            }
        }
    }

    pub(super) fn on_heartbeat(&mut self, now: Micros, id: DeviceId, epoch: Epoch) {
        if self.current(id, epoch) {
            if let Some(d) = self.st.devices.get_mut(&id) {
                d.last_seen = now;
            }
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
        let Some(d) = self.st.devices.get_mut(&id) else {
            return;
        };
        d.last_seen = now;
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
                self.out.push_back(Effect::Behave {
                    device: id,
                    epoch,
                    command,
                });
                self.give_away_strips(id, "low battery");
            }
        }
    }

    pub(super) fn liveness(&mut self, now: Micros) {
        let limit = self.st.config.suspect_after_us;
        let silent: Vec<DeviceId> = self
            .st
            .devices
            .iter()
            .filter(|(_, d)| {
                matches!(d.status, DeviceStatus::Alive | DeviceStatus::Returning)
                    && now.since(d.last_seen) >= limit
            })
            .map(|(&id, _)| id)
            .collect();
        for id in silent {
            let reason = format!("no heartbeat for {} ms", limit / 1000);
            self.fail_device(now, id, DeviceStatus::Failed, reason);
        }
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
        let in_flight = std::mem::take(&mut d.in_flight);
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
            self.attempt_lost(now, inst, gone);
        }
        self.give_away_strips(id, &reason);
        self.pump_fleet(now, fleet);
    }

    /// Send the device every behaviour of its fleet (on mission start or join).
    fn send_behaviours(&mut self, id: DeviceId) {
        let Some(d) = self.st.devices.get(&id) else {
            return;
        };
        let (fleet, epoch) = (d.fleet, d.epoch);
        for (_, f, cmd) in &self.d.behaviours {
            if *f == fleet {
                self.out.push_back(Effect::Behave {
                    device: id,
                    epoch,
                    command: cmd.clone(),
                });
            }
        }
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
        self.out.push_back(Effect::Behave {
            device: id,
            epoch: d.epoch,
            command: BehaviourCommand::Cover {
                area,
                strips,
                lane_mm,
            },
        });
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
            for (dev, s) in devs.iter().zip(strips) {
                if let Some(d) = self.st.devices.get_mut(dev) {
                    d.cover.push(s);
                }
                self.send_cover(*dev, c.area);
            }
        }
        let ids: Vec<DeviceId> = self
            .st
            .devices
            .iter()
            .filter(|(_, d)| d.status == DeviceStatus::Alive)
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            self.send_behaviours(id);
        }
    }

    fn join_behaviours(&mut self, id: DeviceId, fleet: FleetId) {
        self.send_behaviours(id);
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
            if !orphans.is_empty() {
                if let Some(d) = self.st.devices.get_mut(&id) {
                    d.cover.extend(orphans);
                    d.cover.sort();
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

    /// Share the device's strips among its nearest survivors.
    fn give_away_strips(&mut self, id: DeviceId, reason: &str) {
        let Some(d) = self.st.devices.get_mut(&id) else {
            return;
        };
        let strips = std::mem::take(&mut d.cover);
        let fleet = d.fleet;
        if strips.is_empty() {
            return;
        }
        let areas: Vec<AreaId> = match &self.st.graph.policies.device_failure.action {
            FailureAction::Repartition { areas } => areas.clone(),
            _ => Vec::new(),
        };
        let survivors = self.alive_in(fleet);
        let mut touched: Vec<(DeviceId, AreaId)> = Vec::new();
        let mut areas_done: Vec<AreaId> = Vec::new();
        for s in strips {
            if !areas.contains(&s.area) || survivors.is_empty() {
                self.st.fleets[fleet.index()].orphans.push(s);
                continue;
            }
            // Nearest survivors by the x-centre of what they sweep in this
            // area (their position when they sweep nothing there).
            let centre = s.centre_x();
            let mut near: Vec<(i64, i64, DeviceId)> = survivors
                .iter()
                .filter_map(|o| {
                    let d = self.st.devices.get(o)?;
                    let mine: Vec<&Strip> = d.cover.iter().filter(|x| x.area == s.area).collect();
                    let x = if mine.is_empty() {
                        d.position.x_mm
                    } else {
                        mine.iter().map(|x| x.centre_x()).sum::<i64>() / mine.len() as i64
                    };
                    Some(((x - centre).abs(), x, *o))
                })
                .collect();
            near.sort();
            near.truncate(self.st.config.repartition_fanout.max(1) as usize);
            // Left-to-right pieces go to recipients sorted left to right, so
            // each one's new piece is on its own side.
            near.sort_by_key(|&(_, x, o)| (x, o));
            let pieces = cut(s.area, s.x_min, s.x_max, near.len());
            for ((_, _, o), piece) in near.iter().zip(pieces) {
                if let Some(d) = self.st.devices.get_mut(o) {
                    d.cover.push(piece);
                    merge_adjacent(&mut d.cover);
                }
                if !touched.contains(&(*o, s.area)) {
                    touched.push((*o, s.area));
                }
            }
            if !areas_done.contains(&s.area) {
                areas_done.push(s.area);
            }
        }
        for (o, a) in touched {
            self.send_cover(o, a);
        }
        for a in areas_done {
            self.st.counters.repartitions += 1;
            self.publish(Publication::Repartitioned {
                area: a,
                reason: format!("{id}: {reason}"),
            });
        }
    }
}

/// Merge strips of one area that touch, so repeated repartitions do not
/// fragment a device's region without bound.
fn merge_adjacent(strips: &mut Vec<Strip>) {
    strips.sort();
    let mut out: Vec<Strip> = Vec::with_capacity(strips.len());
    for s in strips.drain(..) {
        match out.last_mut() {
            Some(l) if l.area == s.area && l.x_max == s.x_min => l.x_max = s.x_max,
            _ => out.push(s),
        }
    }
    *strips = out;
}
