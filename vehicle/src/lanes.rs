//! Boustrophedon lanes of a `cover`: vertical lanes `lane_mm` apart inside
//! each strip, the first half a lane in from the strip's left edge (the
//! last one clamped to its right edge), flown alternately up and down; a
//! lane spans the shape's extent at its x — the whole height of a
//! rectangle, from the lowest to the highest crossing of a polygon's edges
//! (a non-convex polygon's gaps are flown over). Lanes where the shape is
//! absent (outside its x-extent) are skipped.
//!
//! Lanes are produced one at a time from a cursor, so a vehicle can fly a
//! cover of any size without materialising it.

use crate::arith::mul_div;
use hivemind_ir::{AreaShape, PointMm};

/// Number of lane positions in a strip: ⌈width / lane⌉, at least one.
pub(crate) fn lane_count(strip: (i64, i64), lane_mm: u64) -> u128 {
    let w = (i128::from(strip.1) - i128::from(strip.0))
        .max(0)
        .unsigned_abs();
    w.div_ceil(u128::from(lane_mm.max(1))).max(1)
}

/// x of lane `k` of a strip.
pub(crate) fn lane_x(strip: (i64, i64), lane_mm: u64, k: u128) -> i64 {
    let lane = u128::from(lane_mm);
    let off = (lane / 2).saturating_add(k.saturating_mul(lane));
    let x = i128::from(strip.0).saturating_add(i128::try_from(off).unwrap_or(i128::MAX));
    i64::try_from(x.min(i128::from(strip.1))).unwrap_or(strip.1)
}

/// First lane index whose x (before clamping) is at least `x`.
pub(crate) fn first_lane_from(strip: (i64, i64), lane_mm: u64, x: i64) -> u128 {
    let lane = u128::from(lane_mm.max(1));
    let start = i128::from(strip.0) + i128::try_from(lane / 2).unwrap_or(i128::MAX);
    if i128::from(x) <= start {
        return 0;
    }
    (i128::from(x) - start).unsigned_abs().div_ceil(lane)
}

/// The y-range of the shape on the vertical line at `x`, if it meets it.
pub(crate) fn lane_span(shape: &AreaShape, x: i64) -> Option<(i64, i64)> {
    match shape {
        AreaShape::Rect { min, max } => (min.x_mm..=max.x_mm)
            .contains(&x)
            .then_some((min.y_mm, max.y_mm)),
        AreaShape::Polygon { points } => {
            if points.len() < 3 {
                return None;
            }
            let mut span: Option<(i64, i64)> = None;
            let mut add = |y: i64| {
                span = Some(span.map_or((y, y), |(lo, hi)| (lo.min(y), hi.max(y))));
            };
            for (i, &a) in points.iter().enumerate() {
                let b = points[(i + 1) % points.len()];
                if a.x_mm == b.x_mm {
                    if a.x_mm == x {
                        add(a.y_mm);
                        add(b.y_mm);
                    }
                } else if (a.x_mm.min(b.x_mm)..=a.x_mm.max(b.x_mm)).contains(&x) {
                    add(edge_y(a, b, x));
                }
            }
            span
        }
    }
}

/// y of edge `a`–`b` (not vertical) at `x`, rounded toward `a`.
fn edge_y(a: PointMm, b: PointMm, x: i64) -> i64 {
    let dy = i128::from(b.y_mm) - i128::from(a.y_mm);
    let dx = (i128::from(b.x_mm) - i128::from(a.x_mm)).unsigned_abs();
    let t = (i128::from(x) - i128::from(a.x_mm)).unsigned_abs();
    let step = i128::try_from(mul_div(dy.unsigned_abs(), t, dx)).unwrap_or(i128::MAX);
    let y = if dy < 0 {
        i128::from(a.y_mm) - step
    } else {
        i128::from(a.y_mm) + step
    };
    i64::try_from(y).unwrap_or(b.y_mm)
}

/// Where a cover's flight has got to: the next lane, and the far end of
/// the lane whose start was just given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LaneCursor {
    strip: usize,
    lane: Option<u128>,
    pending: Option<PointMm>,
    /// Lanes given so far (their parity sets the next lane's direction).
    pub(crate) flown: u128,
}

impl LaneCursor {
    /// A cursor at the first lane, as if `flown` lanes had gone before
    /// (they set the first lane's direction).
    pub(crate) fn after(flown: u128) -> LaneCursor {
        LaneCursor {
            flown,
            ..LaneCursor::default()
        }
    }

    /// The next waypoint of the cover (a lane's start, then its end), or
    /// `None` when every strip is flown.
    pub(crate) fn next(
        &mut self,
        shape: &AreaShape,
        strips: &[(i64, i64)],
        lane_mm: u64,
    ) -> Option<PointMm> {
        if let Some(p) = self.pending.take() {
            return Some(p);
        }
        if lane_mm == 0 {
            return None;
        }
        let (lo, hi) = shape.bounding_box();
        loop {
            let s = *strips.get(self.strip)?;
            // Lanes left of the shape have no span: start at the first inside.
            let k = *self
                .lane
                .get_or_insert_with(|| first_lane_from(s, lane_mm, lo.x_mm));
            let x = lane_x(s, lane_mm, k);
            if k >= lane_count(s, lane_mm) || x > hi.x_mm {
                self.strip += 1;
                self.lane = None;
                continue;
            }
            self.lane = Some(k + 1);
            let Some((y0, y1)) = lane_span(shape, x) else {
                continue;
            };
            let (from, to) = if self.flown.is_multiple_of(2) {
                (y0, y1)
            } else {
                (y1, y0)
            };
            self.flown += 1;
            self.pending = Some(PointMm { x_mm: x, y_mm: to });
            return Some(PointMm {
                x_mm: x,
                y_mm: from,
            });
        }
    }
}

/// Every waypoint of a cover of one strip, in flying order (two per lane).
/// Materialises the whole sweep: O(lanes) memory.
pub fn cover_waypoints(shape: &AreaShape, strip: (i64, i64), lane_mm: u64) -> Vec<PointMm> {
    let mut cursor = LaneCursor::default();
    let strips = [strip];
    std::iter::from_fn(|| cursor.next(shape, &strips, lane_mm)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(x: i64, y: i64) -> PointMm {
        PointMm { x_mm: x, y_mm: y }
    }

    #[test]
    fn a_rectangle_is_swept_up_and_down_half_a_lane_in() {
        let r = AreaShape::Rect {
            min: p(0, 0),
            max: p(100, 50),
        };
        assert_eq!(
            cover_waypoints(&r, (0, 100), 40),
            vec![
                p(20, 0),
                p(20, 50),
                p(60, 50),
                p(60, 0),
                p(100, 0),
                p(100, 50)
            ]
        );
    }

    #[test]
    fn a_triangle_narrows_and_a_line_has_no_lanes() {
        let tri = AreaShape::Polygon {
            points: vec![p(0, 0), p(100, 0), p(0, 100)],
        };
        assert_eq!(
            cover_waypoints(&tri, (0, 100), 50),
            vec![p(25, 0), p(25, 75), p(75, 25), p(75, 0)]
        );
        let line = AreaShape::Polygon {
            points: vec![p(0, 0), p(100, 0)],
        };
        assert!(cover_waypoints(&line, (0, 100), 50).is_empty());
        assert_eq!(lane_span(&tri, 101), None);
    }

    #[test]
    fn a_strip_beside_the_shape_is_skipped_without_walking_its_lanes() {
        let r = AreaShape::Rect {
            min: p(0, 0),
            max: p(10, 10),
        };
        assert!(cover_waypoints(&r, (i64::MIN, -1), 1).is_empty());
        // One lane (x = 2) of a strip as wide as the plane meets the square.
        assert_eq!(cover_waypoints(&r, (i64::MIN, i64::MAX), 20).len(), 2);
        // 1 mm lanes at x = 0..=9 (the strip's lane positions stop before its end).
        assert_eq!(cover_waypoints(&r, (i64::MIN + 5, 10), 1).len(), 20);
    }
}
