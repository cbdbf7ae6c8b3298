//! Whether each fleet can fly the sweeps and routes it is asked to within
//! the mission. Placement does not change it (behaviours always run on
//! their fleet), so it is checked once per mission, before any search.
//!
//! Model: for `cover`, lanes of the task's width over the area's enclosed
//! surface give the total sweep length, shared evenly by the fleet's
//! devices, and each device also travels once from its home (the origin
//! when none is given) to the area's bounding box. For `route`, every
//! device flies from home to the first waypoint and then through the rest;
//! for `patrol`, it only has to reach its loop (the loop then repeats for
//! the whole mission). Time = distance / cruise speed. Turns and
//! acceleration are not charged, so the estimate is optimistic: a mission
//! refused here is certainly impossible.

use hivemind_ir::route::{distance_mm, length_mm};
use hivemind_ir::{AreaShape, Behaviour, DeviceClass, FleetId, PointMm, TaskGraph, TaskId};

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

/// One moving task's path, per device of its fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    pub task: TaskId,
    pub fleet: FleetId,
    pub sweep: Sweep,
    /// Lane or route length each device flies or drives (0 for a patrol,
    /// which loops for as long as the mission lasts).
    pub sweep_mm: u128,
    /// From home to the area.
    pub transit_mm: u128,
    pub speed_mm_s: u64,
    /// Time each device needs: (sweep + transit) / speed, rounded up.
    pub time_us: u128,
    pub duration_us: u64,
}

impl Coverage {
    pub fn fits(&self) -> bool {
        self.time_us <= u128::from(self.duration_us)
    }
}

/// Every cover, route and patrol task whose fleet states a speed, in task order.
pub fn coverage(graph: &TaskGraph) -> Vec<Coverage> {
    sweeps(graph, &hivemind_ir::plan::edge_fleets(graph))
}

/// [`coverage`] with each task's edge fleet already known.
fn sweeps(graph: &TaskGraph, fleets: &[Option<FleetId>]) -> Vec<Coverage> {
    graph
        .tasks
        .iter()
        .filter_map(|t| {
            t.behaviour.as_ref()?;
            let fleet = fleets[t.id.index()]?;
            let f = graph.fleets.get(fleet.index())?;
            let speed = f.speed_mm_s.filter(|&s| s > 0)?;
            let home = f.home.unwrap_or(PointMm { x_mm: 0, y_mm: 0 });
            let (sweep, sweep_mm, transit_mm) = match t.behaviour.as_ref()? {
                Behaviour::Cover { area, lane_mm } => {
                    let a = graph.areas.get(area.index())?;
                    let devices = u128::from(f.count.max(1));
                    let sweep_mm = (a.size_mm2 / u128::from((*lane_mm).max(1))).div_ceil(devices);
                    let sweep = Sweep::Cover {
                        area: *area,
                        lane_mm: *lane_mm,
                    };
                    (sweep, sweep_mm, distance_to_box(home, &a.shape))
                }
                Behaviour::Route { waypoints, looping } => {
                    let first = *waypoints.first()?;
                    let sweep_mm = if *looping {
                        0
                    } else {
                        length_mm(waypoints, false)
                    };
                    let sweep = Sweep::Route {
                        waypoints: waypoints.len(),
                        looping: *looping,
                    };
                    (sweep, sweep_mm, distance_mm(home, first))
                }
                _ => return None,
            };
            let time_us = sweep_mm
                .saturating_add(transit_mm)
                .saturating_mul(1_000_000)
                .div_ceil(u128::from(speed));
            Some(Coverage {
                task: t.id,
                fleet,
                sweep,
                sweep_mm,
                transit_mm,
                speed_mm_s: speed,
                time_us,
                duration_us: graph.duration_us,
            })
        })
        .collect()
}

/// How long each device of each fleet is moving during the mission, capped
/// at its duration: what motion energy is charged for.
/// * Drones are airborne for the whole mission (a multirotor hovering
///   draws about its cruise power).
/// * A car drives only while a behaviour moves it: a sweep or route for
///   its distance at the fleet's `speed` ([`coverage`]), a patrol or a
///   `goto` an input (distances unknown before the mission) for the whole
///   mission, a `goto` a point or area for the way there from home; a car
///   fleet no behaviour moves stays parked. Without a `speed`, or when its
///   behaviours add up to more, the whole mission.
pub fn moving_us(graph: &TaskGraph) -> Vec<u128> {
    let duration = u128::from(graph.duration_us);
    let fleets = hivemind_ir::plan::edge_fleets(graph);
    let sweeps = sweeps(graph, &fleets);
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
        let at_speed = |mm: u128| match f.speed_mm_s.filter(|&s| s > 0) {
            Some(s) => mm.saturating_mul(1_000_000).div_ceil(u128::from(s)),
            None => duration,
        };
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
