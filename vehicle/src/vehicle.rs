//! The point-mass vehicle: a state machine advanced to any time in closed
//! form, charging its battery as it goes.

use crate::arith::lerp;
use crate::kinematics::Profile;
use crate::lanes::LaneCursor;
use crate::maneuver::{check_cover, Maneuver, ManeuverError};
use crate::params::{ParamsError, VehicleParams};
use crate::path::{lap_from, point_along};
use hivemind_ir::route::{distance_mm, length_mm};
use hivemind_ir::{AreaShape, DeviceClass, PointMm};

/// One straight segment being flown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Leg {
    from: PointMm,
    to: PointMm,
    len_mm: u128,
    start_us: u128,
    duration_us: u128,
    /// `None`: from rest to rest; `Some(v0)`: braking from `v0` mm/s.
    braking_from: Option<u128>,
}

impl Leg {
    fn end_us(&self) -> u128 {
        self.start_us.saturating_add(self.duration_us)
    }
    fn along(&self, p: &Profile, now: u128) -> u128 {
        let t = now.saturating_sub(self.start_us);
        match self.braking_from {
            None => p.along(self.len_mm, self.duration_us, t),
            Some(v0) => p.braking_along(v0, t).min(self.len_mm),
        }
    }
    fn speed(&self, p: &Profile, now: u128) -> u128 {
        let t = now.saturating_sub(self.start_us);
        match self.braking_from {
            None => p.speed(self.duration_us, t),
            Some(v0) => p.braking_speed(v0, t),
        }
    }
}

/// One lap of a loop: its waypoints (the last is where it was entered).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Lap {
    points: Vec<PointMm>,
    next: usize,
    period_us: u128,
    length_mm: u128,
}

/// What is left to fly of the current maneuver.
#[derive(Debug, Clone, PartialEq)]
enum Plan {
    Done,
    Points {
        points: Vec<PointMm>,
        next: usize,
        then: Option<Lap>,
    },
    Loop(Lap),
    Lanes {
        shape: AreaShape,
        strips: Vec<(i64, i64)>,
        lane_mm: u64,
        cursor: LaneCursor,
    },
    Land,
}

/// A vehicle: where it is, how fast it goes along its current segment,
/// whether it is airborne, what it was told to do, and what it has spent.
///
/// All state changes happen in [`Vehicle::advance`] (and [`Vehicle::command`],
/// which advances first). Time only moves forward: advancing to an earlier
/// time does nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Vehicle {
    params: VehicleParams,
    profile: Profile,
    now_us: u128,
    /// Where the vehicle is when no leg is flown, else where the leg started.
    at: PointMm,
    airborne: bool,
    maneuver: Maneuver,
    plan: Plan,
    leg: Option<Leg>,
    energy_nj: u128,
    done_mm: u128,
    done_moving_us: u128,
}

impl Vehicle {
    /// A vehicle at rest at `position` at time 0, on the ground, holding.
    pub fn new(params: VehicleParams, position: PointMm) -> Result<Vehicle, ParamsError> {
        Ok(Vehicle {
            profile: Profile::new(&params)?,
            params,
            now_us: 0,
            at: position,
            airborne: false,
            maneuver: Maneuver::Hold,
            plan: Plan::Done,
            leg: None,
            energy_nj: 0,
            done_mm: 0,
            done_moving_us: 0,
        })
    }

    pub fn params(&self) -> &VehicleParams {
        &self.params
    }

    /// The time the vehicle has been advanced to.
    pub fn now_us(&self) -> u64 {
        u64::try_from(self.now_us).unwrap_or(u64::MAX)
    }

    pub fn position(&self) -> PointMm {
        match &self.leg {
            Some(l) => lerp(l.from, l.to, l.along(&self.profile, self.now_us), l.len_mm),
            None => self.at,
        }
    }

    /// Speed along the current segment.
    pub fn speed_mm_s(&self) -> u64 {
        let v = self.leg.map_or(0, |l| l.speed(&self.profile, self.now_us));
        u64::try_from(v).unwrap_or(u64::MAX)
    }

    pub fn airborne(&self) -> bool {
        self.airborne
    }

    /// The maneuver last accepted.
    pub fn maneuver(&self) -> &Maneuver {
        &self.maneuver
    }

    /// Whether the maneuver is complete (a patrol never is).
    pub fn is_idle(&self) -> bool {
        self.leg.is_none() && matches!(self.plan, Plan::Done)
    }

    /// Energy left: capacity minus everything spent, at least 0.
    pub fn battery_uj(&self) -> u64 {
        self.params.battery_uj.saturating_sub(self.energy_used_uj())
    }

    /// Energy spent on motion and through [`Vehicle::drain_uj`].
    pub fn energy_used_uj(&self) -> u64 {
        u64::try_from(self.energy_nj / 1_000).unwrap_or(u64::MAX)
    }

    /// Distance travelled.
    pub fn distance_mm(&self) -> u128 {
        let current = self.leg.map_or(0, |l| l.along(&self.profile, self.now_us));
        self.done_mm.saturating_add(current)
    }

    /// Time spent moving along segments.
    pub fn moving_us(&self) -> u128 {
        let current = self
            .leg
            .map_or(0, |l| self.now_us.saturating_sub(l.start_us));
        self.done_moving_us.saturating_add(current)
    }

    /// When the current segment ends (the next waypoint, or the end of the
    /// maneuver); `None` when nothing moves or beyond `u64` µs.
    pub fn next_event_us(&self) -> Option<u64> {
        self.leg.and_then(|l| u64::try_from(l.end_us()).ok())
    }

    /// Charge energy another consumer spent (CPU, radio).
    pub fn drain_uj(&mut self, uj: u64) {
        self.energy_nj = self
            .energy_nj
            .saturating_add(u128::from(uj).saturating_mul(1_000));
    }

    /// Advance to `now_us`, then replace the maneuver. A refused maneuver
    /// changes nothing (beyond the advance).
    pub fn command(&mut self, now_us: u64, maneuver: Maneuver) -> Result<(), ManeuverError> {
        let plan = self.plan_for(&maneuver)?;
        self.advance(now_us);
        self.brake_here();
        if self.params.class == DeviceClass::Drone
            && !matches!(maneuver, Maneuver::Hold | Maneuver::Land)
        {
            self.airborne = true;
        }
        self.plan = plan;
        self.maneuver = maneuver;
        if self.leg.is_none() {
            self.leg = self.next_leg(self.now_us);
        }
        Ok(())
    }

    /// Move the state to `now_us`: finish every segment that ends by
    /// then, start the ones that follow, skip whole laps of a loop at once,
    /// and charge the energy of each interval. O(segments passed), and
    /// O(1) per lap skipped.
    pub fn advance(&mut self, now_us: u64) {
        let now = u128::from(now_us);
        while self.now_us < now {
            match self.leg {
                Some(l) => {
                    let stop = l.end_us().min(now);
                    self.charge(stop - self.now_us, self.params.moving_power_mw());
                    self.now_us = stop;
                    if stop == l.end_us() {
                        self.at = l.to;
                        self.done_mm = self.done_mm.saturating_add(l.len_mm);
                        self.done_moving_us = self.done_moving_us.saturating_add(l.duration_us);
                        self.leg = None;
                        self.leg = self.next_leg(now);
                    }
                }
                None => {
                    self.charge(now - self.now_us, self.idle_power_mw());
                    self.now_us = now;
                }
            }
        }
    }

    fn idle_power_mw(&self) -> u64 {
        if self.airborne {
            self.params.hover_mw
        } else {
            self.params.parked_mw
        }
    }

    fn charge(&mut self, us: u128, mw: u64) {
        // mW × µs = nJ.
        self.energy_nj = self
            .energy_nj
            .saturating_add(us.saturating_mul(u128::from(mw)));
    }

    /// End the current leg here, turning it into a stop along its heading.
    fn brake_here(&mut self) {
        let Some(l) = self.leg.take() else { return };
        let now = self.now_us;
        let s = l.along(&self.profile, now);
        let v0 = l.speed(&self.profile, now);
        let here = lerp(l.from, l.to, s, l.len_mm);
        self.done_mm = self.done_mm.saturating_add(s);
        self.done_moving_us = self
            .done_moving_us
            .saturating_add(now.saturating_sub(l.start_us));
        self.at = here;
        if v0 == 0 {
            return;
        }
        let (duration_us, stop_mm) = self.profile.brake(v0);
        let len_mm = stop_mm.min(l.len_mm.saturating_sub(s));
        self.leg = Some(Leg {
            from: here,
            to: lerp(here, l.to, len_mm, l.len_mm.saturating_sub(s)),
            len_mm,
            start_us: now,
            duration_us,
            braking_from: Some(v0),
        });
    }

    /// What flying `m` consists of, from wherever the vehicle will be.
    fn plan_for(&self, m: &Maneuver) -> Result<Plan, ManeuverError> {
        Ok(match m {
            Maneuver::Hold => Plan::Done,
            Maneuver::Land => Plan::Land,
            Maneuver::Goto(p) | Maneuver::ReturnHome(p) => Plan::Points {
                points: vec![*p],
                next: 0,
                then: None,
            },
            Maneuver::Route {
                waypoints,
                looping,
                start_mm,
            } => {
                let (entry, next) = point_along(waypoints, *looping, u128::from(*start_mm))
                    .ok_or(ManeuverError::EmptyRoute)?;
                let lap = looping.then(|| lap_from(waypoints, entry, next));
                let then = lap.and_then(|points| {
                    let length_mm = length_mm(&points, true);
                    // A loop with no length is a hold at its point.
                    (length_mm > 0).then(|| {
                        let mut prev = entry;
                        let period_us = points
                            .iter()
                            .map(|&q| {
                                let d = distance_mm(std::mem::replace(&mut prev, q), q);
                                self.profile.time_us(d)
                            })
                            .fold(0, u128::saturating_add);
                        Lap {
                            points,
                            next: 0,
                            period_us,
                            length_mm,
                        }
                    })
                });
                let mut points = vec![entry];
                if !looping {
                    points.extend_from_slice(waypoints.get(next..).unwrap_or(&[]));
                }
                Plan::Points {
                    points,
                    next: 0,
                    then,
                }
            }
            Maneuver::Cover {
                shape,
                strips,
                lane_mm,
            } => {
                check_cover(strips, *lane_mm)?;
                let mut probe = LaneCursor::default();
                if probe.next(shape, strips, *lane_mm).is_none() {
                    return Err(ManeuverError::NothingToCover);
                }
                Plan::Lanes {
                    shape: shape.clone(),
                    strips: strips.clone(),
                    lane_mm: *lane_mm,
                    cursor: LaneCursor::default(),
                }
            }
        })
    }

    /// The next non-empty leg from the current position, starting now;
    /// whole laps of a loop that end by `until` are skipped arithmetically.
    fn next_leg(&mut self, until: u128) -> Option<Leg> {
        loop {
            let target = match &mut self.plan {
                Plan::Done => return None,
                Plan::Land => {
                    self.airborne = false;
                    self.plan = Plan::Done;
                    return None;
                }
                Plan::Points { points, next, then } => match points.get(*next) {
                    Some(&q) => {
                        *next += 1;
                        q
                    }
                    None => {
                        self.plan = then.take().map_or(Plan::Done, Plan::Loop);
                        continue;
                    }
                },
                Plan::Loop(lap) => {
                    if lap.next == 0 && lap.period_us > 0 {
                        let laps = until.saturating_sub(self.now_us) / lap.period_us;
                        if laps > 0 {
                            let us = laps.saturating_mul(lap.period_us);
                            let mm = laps.saturating_mul(lap.length_mm);
                            let mw = self.params.moving_power_mw();
                            self.energy_nj = self
                                .energy_nj
                                .saturating_add(us.saturating_mul(u128::from(mw)));
                            self.now_us = self.now_us.saturating_add(us);
                            self.done_mm = self.done_mm.saturating_add(mm);
                            self.done_moving_us = self.done_moving_us.saturating_add(us);
                        }
                    }
                    let q = lap.points[lap.next];
                    lap.next = (lap.next + 1) % lap.points.len();
                    q
                }
                Plan::Lanes {
                    shape,
                    strips,
                    lane_mm,
                    cursor,
                } => match cursor.next(shape, strips, *lane_mm) {
                    Some(q) => q,
                    None => {
                        self.plan = Plan::Done;
                        continue;
                    }
                },
            };
            let len_mm = distance_mm(self.at, target);
            if len_mm == 0 {
                self.at = target;
                continue;
            }
            return Some(Leg {
                from: self.at,
                to: target,
                len_mm,
                start_us: self.now_us,
                duration_us: self.profile.time_us(len_mm),
                braking_from: None,
            });
        }
    }
}
