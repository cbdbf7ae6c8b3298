//! Whether each fleet can fly the sweeps and routes it is asked to within
//! the mission. Placement does not change it (behaviours always run on
//! their fleet), so it is checked once per mission, before any search.
//!
//! Model: the vehicle model's (`hivemind_vehicle`): every segment is flown
//! from rest to rest with the fleet's acceleration limit (the profile's
//! `accel_mm_s2`) up to its cruise speed, so each lane, each turn between
//! lanes and each leg of a route costs its acceleration and braking.
//! * `cover`: the area's x-extent is cut into one strip per device exactly
//!   as the controller cuts it (`hivemind_vehicle::strips`); each device
//!   flies from home (the origin when none is given) to its first lane,
//!   then sweeps its strip in boustrophedon lanes of the task's width; the
//!   slowest device bounds the fleet.
//! * `route`: every device flies from home to the first waypoint and then
//!   through the rest, stopping at each.
//! * `patrol`: each device only has to reach its entry point, spaced along
//!   the loop by rank as the controller spaces them (the loop then repeats
//!   for the whole mission); the farthest entry bounds the fleet.
//!
//! Beyond what is worth totalling exactly — more than 100,000 devices, or a
//! polygon with more lanes × corners than `hivemind_vehicle::COVER_WORK_LIMIT`
//! — a cover falls back to its enclosed area ÷ lane width shared by the
//! devices plus the way to the area's bounding box, at cruise speed, and a
//! patrol to its farthest waypoint: the first optimistic, the second
//! pessimistic. Wind, climbs and cutting corners are not modelled.

use crate::profile::Profile;
use hivemind_ir::route::{distance_mm, length_mm};
use hivemind_ir::{AreaShape, Behaviour, DeviceClass, Fleet, FleetId, PointMm, TaskGraph, TaskId};
use hivemind_vehicle::{cover_path, path_time_us, point_along, segment_time_us, VehicleParams};

/// Fleets larger than this (the language's limit) are not totalled device
/// by device.
const DEVICES_EXACT: u64 = 100_000;

/// What a fleet's devices fly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sweep {
    Cover {
        area: hivemind_ir::AreaId,
        lane_mm: u64,
    },
    Route {
        waypoints: usize,
        looping: bool,
    },
}

/// One moving task's path, for the device that needs longest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    pub task: TaskId,
    pub fleet: FleetId,
    pub sweep: Sweep,
    /// Lanes and turns, or route length, that device flies or drives (0 for
    /// a patrol, which loops for as long as the mission lasts).
    pub sweep_mm: u128,
    /// From home to where the sweep, route or loop starts.
    pub transit_mm: u128,
    pub speed_mm_s: u64,
    pub accel_mm_s2: u64,
    /// Time that device needs for transit and sweep, accelerating and
    /// braking at every waypoint.
    pub time_us: u128,
    pub duration_us: u64,
}

impl Coverage {
    pub fn fits(&self) -> bool {
        self.time_us <= u128::from(self.duration_us)
    }
}

/// Every cover, route and patrol task whose fleet states a speed, in task
/// order, with the default profile.
pub fn coverage(graph: &TaskGraph) -> Vec<Coverage> {
    coverage_with(graph, &Profile::default())
}

/// [`coverage`] with the profile's accelerations and measured speeds.
pub fn coverage_with(graph: &TaskGraph, profile: &Profile) -> Vec<Coverage> {
    sweeps(graph, &hivemind_ir::plan::edge_fleets(graph), profile)
}

/// The vehicle model of a fleet's devices: the mission's (or measured)
/// speed, the profile's acceleration and motion power.
fn vehicle(f: &Fleet, profile: &Profile) -> Option<VehicleParams> {
    let measured = profile.fleet.get(&f.name).copied().unwrap_or_default();
    let class = profile.class(f.class);
    let cruise_mm_s = measured.speed_mm_s.or(f.speed_mm_s).filter(|&s| s > 0)?;
    let moving_mw = crate::model::device_figures(f, profile).motion_power_mw;
    Some(VehicleParams {
        cruise_mm_s,
        accel_mm_s2: measured.accel_mm_s2.unwrap_or(class.accel_mm_s2),
        moving_mw,
        hover_mw: match f.class {
            DeviceClass::Drone => moving_mw,
            DeviceClass::Car => 0,
        },
        ..VehicleParams::of(f.class)
    })
}

/// The vehicle model's parameters for one device of fleet `f` under
/// `profile` (`None` when the fleet states no speed: it never moves). The
/// simulator flies its devices with exactly these.
pub fn vehicle_params(f: &Fleet, profile: &Profile) -> Option<VehicleParams> {
    vehicle(f, profile)
}

/// Time to cover `mm` at cruise speed alone (the fallback when the vehicle
/// model refuses the parameters).
fn at_cruise(mm: u128, speed_mm_s: u64) -> u128 {
    mm.saturating_mul(1_000_000)
        .div_ceil(u128::from(speed_mm_s.max(1)))
}

/// Time to fly `mm` from rest to rest.
fn segment(mm: u128, v: &VehicleParams) -> u128 {
    segment_time_us(mm, v).unwrap_or_else(|_| at_cruise(mm, v.cruise_mm_s))
}

/// [`coverage`] with each task's edge fleet already known.
fn sweeps(graph: &TaskGraph, fleets: &[Option<FleetId>], profile: &Profile) -> Vec<Coverage> {
    graph
        .tasks
        .iter()
        .filter_map(|t| {
            t.behaviour.as_ref()?;
            let fleet = fleets[t.id.index()]?;
            let f = graph.fleets.get(fleet.index())?;
            let v = vehicle(f, profile)?;
            let home = f.home.unwrap_or(PointMm { x_mm: 0, y_mm: 0 });
            let devices = u64::from(f.count.max(1));
            let (sweep, sweep_mm, transit_mm, time_us) = match t.behaviour.as_ref()? {
                Behaviour::Cover { area, lane_mm } => {
                    let a = graph.areas.get(area.index())?;
                    let (sweep_mm, transit_mm, time_us) = cover(a, *lane_mm, devices, home, &v);
                    let sweep = Sweep::Cover {
                        area: *area,
                        lane_mm: *lane_mm,
                    };
                    (sweep, sweep_mm, transit_mm, time_us)
                }
                Behaviour::Route { waypoints, looping } => {
                    let first = *waypoints.first()?;
                    let sweep = Sweep::Route {
                        waypoints: waypoints.len(),
                        looping: *looping,
                    };
                    if *looping {
                        let (transit_mm, time_us) = patrol_entry(waypoints, devices, home, &v);
                        (sweep, 0, transit_mm, time_us)
                    } else {
                        let path: Vec<PointMm> = std::iter::once(home)
                            .chain(waypoints.iter().copied())
                            .collect();
                        let time_us = path_time_us(&path, &v)
                            .unwrap_or_else(|_| at_cruise(length_mm(&path, false), v.cruise_mm_s));
                        (
                            sweep,
                            length_mm(waypoints, false),
                            distance_mm(home, first),
                            time_us,
                        )
                    }
                }
                _ => return None,
            };
            Some(Coverage {
                task: t.id,
                fleet,
                sweep,
                sweep_mm,
                transit_mm,
                speed_mm_s: v.cruise_mm_s,
                accel_mm_s2: v.accel_mm_s2,
                time_us,
                duration_us: graph.duration_us,
            })
        })
        .collect()
}

/// (sweep, transit, time) of the device of a cover that needs longest:
/// each device gets the strip the controller gives it.
fn cover(
    a: &hivemind_ir::Area,
    lane_mm: u64,
    devices: u64,
    home: PointMm,
    v: &VehicleParams,
) -> (u128, u128, u128) {
    let (lo, hi) = a.shape.bounding_box();
    let lane = u128::from(lane_mm.max(1));
    let corners = match &a.shape {
        AreaShape::Rect { .. } => 0,
        AreaShape::Polygon { points } => u128::try_from(points.len()).unwrap_or(u128::MAX),
    };
    let width = (i128::from(hi.x_mm) - i128::from(lo.x_mm)).unsigned_abs();
    let polygon_work = (width / lane)
        .saturating_add(u128::from(devices))
        .saturating_mul(corners);
    let mut worst: Option<(u128, u128, u128)> = None;
    if devices <= DEVICES_EXACT && polygon_work <= hivemind_vehicle::COVER_WORK_LIMIT {
        for i in 0..devices {
            let strip = hivemind_vehicle::strips::strip_bounds(lo.x_mm, hi.x_mm, devices, i);
            let Ok(path) = cover_path(&a.shape, &[strip], lane_mm, v) else {
                worst = None;
                break;
            };
            let transit = distance_mm(home, path.first);
            let time = segment(transit, v).saturating_add(path.time_us);
            if worst.is_none_or(|w| time > w.2) {
                worst = Some((path.length_mm, transit, time));
            }
        }
    }
    worst.unwrap_or_else(|| {
        let sweep_mm = (a.size_mm2 / lane).div_ceil(u128::from(devices));
        let transit_mm = distance_to_box(home, &a.shape);
        let time = at_cruise(sweep_mm.saturating_add(transit_mm), v.cruise_mm_s);
        (sweep_mm, transit_mm, time)
    })
}

/// (transit, time) of the device of a patrol whose entry point is farthest
/// from home: rank `i` of `n` enters `loop length × i / n` along the loop.
fn patrol_entry(
    waypoints: &[PointMm],
    devices: u64,
    home: PointMm,
    v: &VehicleParams,
) -> (u128, u128) {
    let lap = length_mm(waypoints, true);
    let points = u64::try_from(waypoints.len()).unwrap_or(u64::MAX);
    let transit = if devices.saturating_mul(points) <= DEVICES_EXACT.saturating_mul(16) {
        (0..devices)
            .filter_map(|i| {
                let start = lap.saturating_mul(u128::from(i)) / u128::from(devices);
                point_along(waypoints, true, start).map(|(p, _)| distance_mm(home, p))
            })
            .max()
    } else {
        // The farthest point of a loop from home is one of its corners.
        waypoints.iter().map(|&p| distance_mm(home, p)).max()
    }
    .unwrap_or(0);
    (transit, segment(transit, v))
}

/// How long each device of each fleet is moving during the mission, capped
/// at its duration: what motion energy is charged for.
/// * Drones are airborne for the whole mission (a multirotor hovering
///   draws about its cruise power).
/// * A car drives only while a behaviour moves it: a sweep or route for
///   its time in the vehicle model ([`coverage`]: accelerating and braking
///   at every waypoint), a patrol or a `goto` an input (distances unknown
///   before the mission) for the whole mission, a `goto` a point or area
///   for the way there from home (one segment, rest to rest); a car
///   fleet no behaviour moves stays parked. Without a `speed`, or when its
///   behaviours add up to more, the whole mission.
pub fn moving_us(graph: &TaskGraph, profile: &Profile) -> Vec<u128> {
    let duration = u128::from(graph.duration_us);
    let fleets = hivemind_ir::plan::edge_fleets(graph);
    let sweeps = sweeps(graph, &fleets, profile);
    let mut moving: Vec<u128> = graph
        .fleets
        .iter()
        .map(|f| match f.class {
            DeviceClass::Drone => duration,
            DeviceClass::Car => 0,
        })
        .collect();
    for t in &graph.tasks {
        let (Some(b), Some(fleet)) = (t.behaviour.as_ref(), fleets[t.id.index()]) else {
            continue;
        };
        let Some(f) = graph.fleets.get(fleet.index()) else {
            continue;
        };
        if f.class == DeviceClass::Drone {
            continue;
        }
        let home = f.home.unwrap_or(PointMm { x_mm: 0, y_mm: 0 });
        let vehicle = vehicle(f, profile);
        let at_speed = |mm: u128| vehicle.as_ref().map_or(duration, |v| segment(mm, v));
        let time = match b {
            Behaviour::Cover { .. } | Behaviour::Route { looping: false, .. } => sweeps
                .iter()
                .find(|c| c.task == t.id)
                .map_or(duration, |c| c.time_us),
            Behaviour::Route { looping: true, .. } | Behaviour::GotoInput { .. } => duration,
            Behaviour::GotoPoint { point } => at_speed(distance_mm(home, *point)),
            Behaviour::GotoArea { area } => graph
                .areas
                .get(area.index())
                .map_or(duration, |a| at_speed(distance_to_box(home, &a.shape))),
            Behaviour::ReturnHome | Behaviour::Land => 0,
        };
        let m = &mut moving[fleet.index()];
        *m = m.saturating_add(time).min(duration);
    }
    moving
}

/// Straight-line distance from `p` to the shape's bounding box (0 inside).
fn distance_to_box(p: PointMm, shape: &AreaShape) -> u128 {
    let (lo, hi) = shape.bounding_box();
    let gap = |v: i64, a: i64, b: i64| -> u128 {
        let d = if v < a {
            i128::from(a) - i128::from(v)
        } else if v > b {
            i128::from(v) - i128::from(b)
        } else {
            0
        };
        d.unsigned_abs()
    };
    let (dx, dy) = (gap(p.x_mm, lo.x_mm, hi.x_mm), gap(p.y_mm, lo.y_mm, hi.y_mm));
    isqrt(dx.saturating_mul(dx).saturating_add(dy.saturating_mul(dy)))
}

use hivemind_ir::route::isqrt_ceil as isqrt;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_to_a_box_is_zero_inside_and_rounded_up_outside() {
        let r = AreaShape::Rect {
            min: PointMm { x_mm: 0, y_mm: 0 },
            max: PointMm { x_mm: 10, y_mm: 10 },
        };
        assert_eq!(distance_to_box(PointMm { x_mm: 5, y_mm: 5 }, &r), 0);
        assert_eq!(distance_to_box(PointMm { x_mm: 13, y_mm: 14 }, &r), 5);
        assert_eq!(distance_to_box(PointMm { x_mm: -1, y_mm: -1 }, &r), 2);
    }
}
