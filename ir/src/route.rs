//! Lengths of paths through waypoints, in integer millimetres: the one
//! rule the cost model (can a route be flown in time?) and the controller
//! (where each device joins a patrol loop) share.

use crate::graph::PointMm;

/// Straight-line distance between two points, rounded up.
pub fn distance_mm(a: PointMm, b: PointMm) -> u128 {
    let dx = (i128::from(a.x_mm) - i128::from(b.x_mm)).unsigned_abs();
    let dy = (i128::from(a.y_mm) - i128::from(b.y_mm)).unsigned_abs();
    isqrt_ceil(dx.saturating_mul(dx).saturating_add(dy.saturating_mul(dy)))
}

/// Length of the path through `waypoints` in order; a loop also flies from
/// the last back to the first.
pub fn length_mm(waypoints: &[PointMm], looping: bool) -> u128 {
    let legs: u128 = waypoints
        .windows(2)
        .map(|w| distance_mm(w[0], w[1]))
        .fold(0, u128::saturating_add);
    match (looping, waypoints.first(), waypoints.last()) {
        (true, Some(&first), Some(&last)) => legs.saturating_add(distance_mm(last, first)),
        _ => legs,
    }
}

/// ⌈√n⌉, so a distance is never under-counted.
pub fn isqrt_ceil(n: u128) -> u128 {
    if n == 0 {
        return 0;
    }
    let mut x = (n as f64).sqrt() as u128;
    while x.checked_mul(x).is_none_or(|v| v > n) {
        x -= 1;
    }
    while x.checked_mul(x).is_some_and(|v| v < n) {
        x += 1;
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(x: i64, y: i64) -> PointMm {
        PointMm { x_mm: x, y_mm: y }
    }

    #[test]
    fn a_square_loop_is_its_perimeter_and_a_route_one_side_less() {
        let square = [p(0, 0), p(100, 0), p(100, 100), p(0, 100)];
        assert_eq!(length_mm(&square, true), 400);
        assert_eq!(length_mm(&square, false), 300);
        assert_eq!(length_mm(&square[..1], true), 0);
        assert_eq!(length_mm(&[], false), 0);
    }

    #[test]
    fn distances_round_up_and_extremes_do_not_overflow() {
        assert_eq!(distance_mm(p(0, 0), p(1, 1)), 2);
        assert_eq!(distance_mm(p(0, 0), p(3, 4)), 5);
        let far = distance_mm(p(i64::MIN, i64::MIN), p(i64::MAX, i64::MAX));
        assert!(far > u128::from(u64::MAX));
        assert_eq!(isqrt_ceil(u128::from(u64::MAX) * 4), 2 * (1u128 << 32));
    }
}
