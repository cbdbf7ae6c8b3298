//! Straight-line motion of the test world's vehicles: each device flies or
//! drives at its fleet's cruise speed towards its current waypoint, with no
//! acceleration, turns or wind, so the core sees positions that follow the
//! behaviours it commands (a `goto`, a route, a patrol loop, return home).
//! The simulator's vehicle model (`sim`) replaces this; cover sweeps are
//! not flown here.

use hivemind_controller::effect::BehaviourCommand;
use hivemind_controller::time::Micros;
use hivemind_ir::route::distance_mm;
use hivemind_ir::PointMm;

#[derive(Debug, Clone)]
pub struct Motion {
    pub position: PointMm,
    waypoints: Vec<PointMm>,
    next: usize,
    looping: bool,
    speed_mm_s: u64,
    since: Micros,
}

/// Where the world sends a device for each command it cannot fly itself.
pub struct Places<'a> {
    pub home: PointMm,
    /// Centre of each area's bounding box, by area id.
    pub area_centres: &'a [PointMm],
}

impl Motion {
    pub fn at_rest(position: PointMm, speed_mm_s: u64) -> Motion {
        Motion {
            position,
            waypoints: Vec::new(),
            next: 0,
            looping: false,
            speed_mm_s,
            since: Micros::ZERO,
        }
    }

    /// Follow `cmd` from `now` on (after moving to where the device is now).
    /// Returns the time it spent moving since the last update.
    pub fn command(&mut self, now: Micros, cmd: &BehaviourCommand, places: &Places) -> u64 {
        let moved = self.advance(now);
        let (waypoints, looping, start_mm) = match cmd {
            BehaviourCommand::GotoPoint { point } => (vec![*point], false, 0),
            BehaviourCommand::GotoArea { area } => match places.area_centres.get(area.index()) {
                Some(c) => (vec![*c], false, 0),
                None => return moved,
            },
            BehaviourCommand::ReturnHome => (vec![places.home], false, 0),
            BehaviourCommand::Land => (Vec::new(), false, 0),
            BehaviourCommand::Route {
                waypoints,
                looping,
                start_mm,
            } => (waypoints.clone(), *looping, *start_mm),
            // Sweeps are the simulator's; the test world keeps its course.
            BehaviourCommand::Cover { .. } => return moved,
        };
        let (entry, next) = point_along(&waypoints, looping, u128::from(start_mm));
        self.waypoints = waypoints;
        self.looping = looping;
        self.next = next;
        if let Some(p) = entry {
            // Fly to the entry point first, then on along the path.
            self.waypoints.insert(next, p);
        }
        moved
    }

    /// Move along the waypoints for the time since the last update: the
    /// time spent moving in it.
    pub fn advance(&mut self, now: Micros) -> u64 {
        let dt = now.0.saturating_sub(self.since.0);
        self.since = now;
        let mut budget = u128::from(self.speed_mm_s) * u128::from(dt) / 1_000_000;
        let full = budget;
        // Each pass reaches a waypoint or spends the budget; whole loops of a
        // patrol are skipped arithmetically, so this ends.
        for _ in 0..=2 * self.waypoints.len() + 1 {
            if budget == 0 {
                break;
            }
            let Some(&target) = self.waypoints.get(self.next) else {
                break;
            };
            let d = distance_mm(self.position, target);
            if d > budget {
                let part = std::mem::take(&mut budget);
                let f = |a: i64, b: i64| {
                    let step = (i128::from(b) - i128::from(a)) * part as i128 / d as i128;
                    (i128::from(a) + step) as i64
                };
                self.position = PointMm {
                    x_mm: f(self.position.x_mm, target.x_mm),
                    y_mm: f(self.position.y_mm, target.y_mm),
                };
                break;
            }
            self.position = target;
            budget -= d;
            self.next += 1;
            if self.looping && self.next >= self.waypoints.len() {
                self.next = 0;
                let lap = hivemind_ir::route::length_mm(&self.waypoints, true);
                if lap > 0 {
                    budget %= lap;
                }
            }
        }
        // Whatever budget is left was not needed: the device arrived.
        let moved = full - budget.min(full);
        if self.speed_mm_s == 0 {
            return 0;
        }
        u64::try_from(moved * 1_000_000 / u128::from(self.speed_mm_s)).unwrap_or(dt)
    }
}

/// The point `start_mm` along the path (wrapping around a loop), and the
/// index of the waypoint after it; `None` when that is a waypoint itself.
fn point_along(waypoints: &[PointMm], looping: bool, start_mm: u128) -> (Option<PointMm>, usize) {
    let n = waypoints.len();
    let lap = hivemind_ir::route::length_mm(waypoints, looping);
    if start_mm == 0 || lap == 0 || n < 2 {
        return (None, 0);
    }
    let mut left = if looping {
        start_mm % lap
    } else {
        start_mm.min(lap)
    };
    let legs = if looping { n } else { n - 1 };
    for i in 0..legs {
        let (a, b) = (waypoints[i], waypoints[(i + 1) % n]);
        let d = distance_mm(a, b);
        if left < d {
            let f = |p: i64, q: i64| {
                (i128::from(p) + (i128::from(q) - i128::from(p)) * left as i128 / d as i128) as i64
            };
            let p = PointMm {
                x_mm: f(a.x_mm, b.x_mm),
                y_mm: f(a.y_mm, b.y_mm),
            };
            return (Some(p), (i + 1) % n);
        }
        left -= d;
    }
    (None, if looping { 0 } else { n - 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(x: i64, y: i64) -> PointMm {
        PointMm { x_mm: x, y_mm: y }
    }

    fn places() -> Places<'static> {
        Places {
            home: p(0, 0),
            area_centres: &[],
        }
    }

    #[test]
    fn a_goto_arrives_at_cruise_speed_and_stays() {
        let mut m = Motion::at_rest(p(0, 0), 10_000); // 10 m/s
        m.command(
            Micros::ZERO,
            &BehaviourCommand::GotoPoint {
                point: p(100_000, 0),
            },
            &places(),
        );
        m.advance(Micros(5_000_000));
        assert_eq!(m.position, p(50_000, 0));
        m.advance(Micros(60_000_000));
        assert_eq!(m.position, p(100_000, 0));
    }

    #[test]
    fn a_patrol_loops_and_a_late_start_joins_part_way() {
        let square = vec![p(0, 0), p(100_000, 0), p(100_000, 100_000), p(0, 100_000)];
        let cmd = |start_mm| BehaviourCommand::Route {
            waypoints: square.clone(),
            looping: true,
            start_mm,
        };
        let mut m = Motion::at_rest(p(0, 0), 10_000);
        m.command(Micros::ZERO, &cmd(0), &places());
        // 400 m lap at 10 m/s: after 45 s (450 m) it is 50 m into the second lap.
        m.advance(Micros(45_000_000));
        assert_eq!(m.position, p(50_000, 0));
        let mut half = Motion::at_rest(p(0, 0), 10_000);
        half.command(Micros::ZERO, &cmd(200_000), &places());
        // Flies to (100 m, 100 m) first: 141.4 m, so after 20 s it is there
        // and 58.6 m on towards (0, 100 m).
        half.advance(Micros(20_000_000));
        assert_eq!(half.position.y_mm, 100_000);
        assert!(half.position.x_mm < 100_000 && half.position.x_mm > 30_000);
    }

    #[test]
    fn a_route_ends_at_its_last_waypoint_and_land_stops() {
        let mut m = Motion::at_rest(p(0, 0), 1_000);
        let route = BehaviourCommand::Route {
            waypoints: vec![p(0, 1_000), p(1_000, 1_000)],
            looping: false,
            start_mm: 0,
        };
        m.command(Micros::ZERO, &route, &places());
        m.advance(Micros(3_600_000_000));
        assert_eq!(m.position, p(1_000, 1_000));
        m.command(Micros(3_600_000_000), &BehaviourCommand::Land, &places());
        m.advance(Micros(7_200_000_000));
        assert_eq!(m.position, p(1_000, 1_000));
    }
}
