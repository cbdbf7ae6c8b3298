//! Sweep regions for `cover`: an area is cut into vertical strips, each strip
//! being the area intersected with `x_min <= x < x_max` (the last strip of an
//! area also owns `x == max_x`). Strips of one area that tile its x-extent
//! without gap or overlap partition the area itself, whatever its shape, so
//! every check here is exact integer arithmetic on x intervals plus
//! point-in-polygon for membership.

use hivemind_ir::{Area, AreaId, AreaShape, PointMm};

pub use hivemind_proto::Strip;

/// The x-extent `[min, max]` of an area (its bounding box on x).
pub fn x_extent(area: &Area) -> (i64, i64) {
    let (lo, hi) = area.shape.bounding_box();
    (lo.x_mm, hi.x_mm)
}

/// Cut `[lo, hi)` into `n` contiguous pieces of near-equal width (the widths
/// differ by at most 1 mm). `n == 0` gives nothing. The arithmetic is the
/// vehicle model's (`hivemind_vehicle::strips`), so the cost model predicts
/// each device's sweep over exactly the strip it will be given.
pub fn cut(area: AreaId, lo: i64, hi: i64, n: usize) -> Vec<Strip> {
    hivemind_vehicle::strips::cut(lo, hi, n)
        .into_iter()
        .map(|(x_min, x_max)| Strip { area, x_min, x_max })
        .collect()
}

/// Whether the point lies in the area (boundary included).
pub fn area_contains(area: &Area, p: PointMm) -> bool {
    match &area.shape {
        AreaShape::Rect { min, max } => {
            (min.x_mm..=max.x_mm).contains(&p.x_mm) && (min.y_mm..=max.y_mm).contains(&p.y_mm)
        }
        AreaShape::Polygon { points } => polygon_contains(points, p),
    }
}

/// Even-odd rule with exact integer cross products; points on an edge count
/// as inside.
fn polygon_contains(points: &[PointMm], p: PointMm) -> bool {
    let n = points.len();
    if n < 3 {
        return false;
    }
    let mut inside = false;
    for i in 0..n {
        let a = points[i];
        let b = points[(i + 1) % n];
        let (ax, ay, bx, by, px, py) = (
            i128::from(a.x_mm),
            i128::from(a.y_mm),
            i128::from(b.x_mm),
            i128::from(b.y_mm),
            i128::from(p.x_mm),
            i128::from(p.y_mm),
        );
        let cross = (bx - ax) * (py - ay) - (by - ay) * (px - ax);
        if cross == 0
            && px >= ax.min(bx)
            && px <= ax.max(bx)
            && py >= ay.min(by)
            && py <= ay.max(by)
        {
            return true;
        }
        if (ay > py) != (by > py) {
            // x of the edge at height py, compared without division.
            let lhs = (px - ax) * (by - ay);
            let rhs = (bx - ax) * (py - ay);
            if (by > ay && lhs < rhs) || (by < ay && lhs > rhs) {
                inside = !inside;
            }
        }
    }
    inside
}

/// Whether `p` (a point of the area) belongs to the strip.
pub fn strip_contains(strip: &Strip, area_hi_x: i64, p: PointMm) -> bool {
    p.x_mm >= strip.x_min
        && (p.x_mm < strip.x_max || (p.x_mm == area_hi_x && strip.x_max == area_hi_x))
}

/// Why a set of strips is not a partition of an area.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartitionError {
    #[error("no strips")]
    Empty,
    #[error("strip {0:?} belongs to another area")]
    WrongArea(Strip),
    #[error("strip {0:?} is empty or inverted")]
    Degenerate(Strip),
    #[error("gap between x={0} and x={1}")]
    Gap(i64, i64),
    #[error("overlap between x={0} and x={1}")]
    Overlap(i64, i64),
}

/// Check that `strips` tile the x-extent of `area` exactly: sorted by
/// `x_min`, each starts where the previous ended, the first at the area's
/// minimum and the last at its maximum. Zero-width strips are allowed only
/// when the area itself has zero width.
pub fn check_partition(area: &Area, strips: &[Strip]) -> Result<(), PartitionError> {
    let (lo, hi) = x_extent(area);
    let mut sorted: Vec<Strip> = strips.to_vec();
    sorted.sort();
    let Some(first) = sorted.first() else {
        return Err(PartitionError::Empty);
    };
    let mut at = lo;
    if first.x_min > lo {
        return Err(PartitionError::Gap(lo, first.x_min));
    }
    for s in &sorted {
        if s.area != area.id {
            return Err(PartitionError::WrongArea(*s));
        }
        if s.x_max < s.x_min || (s.x_max == s.x_min && hi > lo) {
            return Err(PartitionError::Degenerate(*s));
        }
        if s.x_min > at {
            return Err(PartitionError::Gap(at, s.x_min));
        }
        if s.x_min < at {
            return Err(PartitionError::Overlap(s.x_min, at));
        }
        at = s.x_max;
    }
    if at < hi {
        return Err(PartitionError::Gap(at, hi));
    }
    if at > hi {
        return Err(PartitionError::Overlap(hi, at));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hivemind_ir::SrcSpan;

    fn area(shape: AreaShape) -> Area {
        Area {
            id: AreaId(0),
            name: "a".into(),
            shape,
            size_mm2: 0,
            span: SrcSpan {
                start: 0,
                end: 0,
                line: 1,
                col: 1,
            },
        }
    }

    fn pt(x: i64, y: i64) -> PointMm {
        PointMm { x_mm: x, y_mm: y }
    }

    #[test]
    fn cuts_partition_and_checks_catch_gaps_and_overlaps() {
        let a = area(AreaShape::Rect {
            min: pt(0, 0),
            max: pt(1001, 50),
        });
        for n in 1..20 {
            let s = cut(AreaId(0), 0, 1001, n);
            assert_eq!(check_partition(&a, &s), Ok(()));
            let widths: Vec<i64> = s.iter().map(Strip::width).collect();
            assert!(widths.iter().max().unwrap_or(&0) - widths.iter().min().unwrap_or(&0) <= 1);
        }
        let mut s = cut(AreaId(0), 0, 1001, 3);
        s[1].x_max -= 1;
        assert!(matches!(
            check_partition(&a, &s),
            Err(PartitionError::Gap(..))
        ));
        let mut s = cut(AreaId(0), 0, 1001, 3);
        s[1].x_max += 1;
        assert!(matches!(
            check_partition(&a, &s),
            Err(PartitionError::Overlap(..))
        ));
        assert_eq!(check_partition(&a, &[]), Err(PartitionError::Empty));
    }

    #[test]
    fn polygon_membership() {
        let tri = area(AreaShape::Polygon {
            points: vec![pt(0, 0), pt(100, 0), pt(0, 100)],
        });
        assert!(area_contains(&tri, pt(10, 10)));
        assert!(area_contains(&tri, pt(50, 50)), "on the hypotenuse");
        assert!(!area_contains(&tri, pt(60, 60)));
        assert!(!area_contains(&tri, pt(-1, 5)));
        assert_eq!(x_extent(&tri), (0, 100));
    }
}
