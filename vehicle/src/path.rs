//! Closed forms of whole flights — routes, patrol entries, sweeps — from
//! the same segment profile and the same lane cursor the [`Vehicle`]
//! flies, so a prediction and a flight agree to the microsecond.
//!
//! [`Vehicle`]: crate::Vehicle

use crate::arith::lerp;
use crate::kinematics::Profile;
use crate::lanes::{first_lane_from, lane_count, lane_x, LaneCursor};
use crate::maneuver::{check_cover, ManeuverError};
use crate::params::{ParamsError, VehicleParams};
use hivemind_ir::route::{distance_mm, length_mm};
use hivemind_ir::{AreaShape, PointMm};

/// Time to fly through `waypoints` in order, stopping at each.
pub fn path_time_us(waypoints: &[PointMm], params: &VehicleParams) -> Result<u128, ParamsError> {
    let p = Profile::new(params)?;
    Ok(waypoints
        .windows(2)
        .map(|w| p.time_us(distance_mm(w[0], w[1])))
        .fold(0, u128::saturating_add))
}

/// The point `start_mm` along the path through `waypoints` (around the
/// loop, wrapping, when `looping`; clamped to the end otherwise), and the
/// index of the waypoint that follows it (`waypoints.len()` at the end of
/// a route). `None` for no waypoints.
pub fn point_along(
    waypoints: &[PointMm],
    looping: bool,
    start_mm: u128,
) -> Option<(PointMm, usize)> {
    let n = waypoints.len();
    let first = *waypoints.first()?;
    let lap = length_mm(waypoints, looping);
    if lap == 0 {
        return Some((first, 1));
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
            return Some((lerp(a, b, left, d), i + 1));
        }
        left -= d;
    }
    Some((waypoints[n - 1], n))
}

/// Waypoints of one lap of a loop entered at `entry` (on the leg ending at
/// `waypoints[next % n]`), ending back at `entry`.
pub(crate) fn lap_from(waypoints: &[PointMm], entry: PointMm, next: usize) -> Vec<PointMm> {
    let n = waypoints.len();
    let mut lap: Vec<PointMm> = (0..n).map(|k| waypoints[(next + k) % n]).collect();
    if lap.last() != Some(&entry) {
        lap.push(entry);
    }
    lap
}

/// A sweep's extent and duration: from its first lane's start to its last
/// lane's end (the way there from the vehicle is not included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoverPath {
    pub first: PointMm,
    pub last: PointMm,
    pub lanes: u128,
    /// Lanes plus the turns between them.
    pub length_mm: u128,
    pub time_us: u128,
}

/// Polygon lanes × corners [`cover_path`] evaluates before giving up with
/// [`ManeuverError::TooManyLanes`] (a rectangle is closed-form: any size).
pub const COVER_WORK_LIMIT: u128 = 1 << 22;

/// The sweep of `strips` of `shape` in lanes `lane_mm` apart, exactly as a
/// [`Vehicle`](crate::Vehicle) flies `Maneuver::Cover`: rectangles in
/// O(strips), polygons lane by lane.
pub fn cover_path(
    shape: &AreaShape,
    strips: &[(i64, i64)],
    lane_mm: u64,
    params: &VehicleParams,
) -> Result<CoverPath, ManeuverError> {
    let p = Profile::new(params)?;
    check_cover(strips, lane_mm)?;
    let mut work: u128 = 0;
    let mut acc: Option<CoverPath> = None;
    for &s in strips {
        let flown = acc.map_or(0, |c| c.lanes);
        let part = match shape {
            AreaShape::Rect { min, max } => rect_strip(*min, *max, s, lane_mm, flown, &p),
            AreaShape::Polygon { .. } => lane_by_lane(shape, s, lane_mm, flown, &p, &mut work)?,
        };
        let Some(part) = part else { continue };
        acc = Some(match acc {
            None => part,
            Some(a) => {
                let d = distance_mm(a.last, part.first);
                CoverPath {
                    first: a.first,
                    last: part.last,
                    lanes: a.lanes.saturating_add(part.lanes),
                    length_mm: a.length_mm.saturating_add(d).saturating_add(part.length_mm),
                    time_us: a
                        .time_us
                        .saturating_add(p.time_us(d))
                        .saturating_add(part.time_us),
                }
            }
        });
    }
    acc.ok_or(ManeuverError::NothingToCover)
}

/// Time of [`cover_path`].
pub fn cover_time_us(
    shape: &AreaShape,
    strips: &[(i64, i64)],
    lane_mm: u64,
    params: &VehicleParams,
) -> Result<u128, ManeuverError> {
    cover_path(shape, strips, lane_mm, params).map(|c| c.time_us)
}

/// One strip of a rectangle: every lane the rectangle's height, every turn
/// one lane across except possibly the last (the clamped lane).
fn rect_strip(
    min: PointMm,
    max: PointMm,
    s: (i64, i64),
    lane_mm: u64,
    flown: u128,
    p: &Profile,
) -> Option<CoverPath> {
    let count = lane_count(s, lane_mm);
    let k0 = first_lane_from(s, lane_mm, min.x_mm);
    let end = if s.1 > max.x_mm {
        count.min(first_lane_from(s, lane_mm, max.x_mm.saturating_add(1)))
    } else {
        count
    };
    let x0 = lane_x(s, lane_mm, k0);
    if k0 >= end || x0 > max.x_mm || x0 < min.x_mm {
        return None;
    }
    let n = end - k0;
    let h = (i128::from(max.y_mm) - i128::from(min.y_mm)).unsigned_abs();
    let y = |lane_index: u128, at_start: bool| {
        if lane_index.is_multiple_of(2) == at_start {
            min.y_mm
        } else {
            max.y_mm
        }
    };
    let (x_first, x_last) = (lane_x(s, lane_mm, k0), lane_x(s, lane_mm, end - 1));
    let (turns_mm, turns_us) = if n >= 2 {
        let last_gap =
            (i128::from(x_last) - i128::from(lane_x(s, lane_mm, end - 2))).unsigned_abs();
        let lane = u128::from(lane_mm);
        (
            (n - 2).saturating_mul(lane).saturating_add(last_gap),
            (n - 2)
                .saturating_mul(p.time_us(lane))
                .saturating_add(p.time_us(last_gap)),
        )
    } else {
        (0, 0)
    };
    Some(CoverPath {
        first: PointMm {
            x_mm: x_first,
            y_mm: y(flown, true),
        },
        last: PointMm {
            x_mm: x_last,
            y_mm: y(flown.saturating_add(n - 1), false),
        },
        lanes: n,
        length_mm: n.saturating_mul(h).saturating_add(turns_mm),
        time_us: n.saturating_mul(p.time_us(h)).saturating_add(turns_us),
    })
}

/// One strip flown lane by lane with the vehicle's own cursor.
fn lane_by_lane(
    shape: &AreaShape,
    s: (i64, i64),
    lane_mm: u64,
    flown: u128,
    p: &Profile,
    work: &mut u128,
) -> Result<Option<CoverPath>, ManeuverError> {
    let corners = match shape {
        AreaShape::Polygon { points } => u128::try_from(points.len()).unwrap_or(u128::MAX),
        AreaShape::Rect { .. } => 4,
    };
    let strips = [s];
    let mut cursor = LaneCursor::after(flown);
    let Some(first) = cursor.next(shape, &strips, lane_mm) else {
        return Ok(None);
    };
    let (mut at, mut length_mm, mut time_us) = (first, 0u128, 0u128);
    while let Some(q) = cursor.next(shape, &strips, lane_mm) {
        *work = work.saturating_add(corners);
        if *work > COVER_WORK_LIMIT {
            return Err(ManeuverError::TooManyLanes);
        }
        let d = distance_mm(at, q);
        length_mm = length_mm.saturating_add(d);
        time_us = time_us.saturating_add(p.time_us(d));
        at = q;
    }
    Ok(Some(CoverPath {
        first,
        last: at,
        lanes: cursor.flown - flown,
        length_mm,
        time_us,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(x: i64, y: i64) -> PointMm {
        PointMm { x_mm: x, y_mm: y }
    }

    #[test]
    fn the_rectangle_closed_form_is_the_lane_cursor() {
        let params = VehicleParams::DRONE;
        let prof = Profile::new(&params).expect("valid");
        let rect = AreaShape::Rect {
            min: p(-50, 7),
            max: p(10_000, 3_000),
        };
        for strips in [
            vec![(-50, 10_000)],
            vec![(-50, 3_000), (3_000, 10_000)],
            vec![(-1_000, 400), (400, 20_000)],
            vec![(20_000, 30_000), (-50, 10_000)],
        ] {
            for lane in [1, 333, 1_000, 4_000, 50_000] {
                let mut work = 0;
                let closed = cover_path(&rect, &strips, lane, &params);
                let mut walked: Option<CoverPath> = None;
                for &s in &strips {
                    let flown = walked.map_or(0, |c| c.lanes);
                    let part =
                        lane_by_lane(&rect, s, lane, flown, &prof, &mut work).expect("small");
                    let Some(part) = part else { continue };
                    walked = Some(match walked {
                        None => part,
                        Some(a) => {
                            let d = distance_mm(a.last, part.first);
                            CoverPath {
                                first: a.first,
                                last: part.last,
                                lanes: a.lanes + part.lanes,
                                length_mm: a.length_mm + d + part.length_mm,
                                time_us: a.time_us + prof.time_us(d) + part.time_us,
                            }
                        }
                    });
                }
                assert_eq!(closed.ok(), walked, "strips {strips:?} lane {lane}");
            }
        }
    }

    #[test]
    fn points_along_a_loop_wrap_and_along_a_route_clamp() {
        let sq = [p(0, 0), p(100, 0), p(100, 100), p(0, 100)];
        assert_eq!(point_along(&sq, true, 0), Some((p(0, 0), 1)));
        assert_eq!(point_along(&sq, true, 150), Some((p(100, 50), 2)));
        assert_eq!(point_along(&sq, true, 450), Some((p(50, 0), 1)));
        assert_eq!(point_along(&sq, true, 350), Some((p(0, 50), 4)));
        assert_eq!(point_along(&sq, false, 350), Some((p(0, 100), 4)));
        assert_eq!(point_along(&[], true, 5), None);
        assert_eq!(
            lap_from(&sq, p(0, 50), 4),
            vec![sq[0], sq[1], sq[2], sq[3], p(0, 50)]
        );
        assert_eq!(lap_from(&sq, p(0, 0), 1), vec![sq[1], sq[2], sq[3], sq[0]]);
    }
}
