//! Cutting an area's x-extent into strips, one per device: the arithmetic
//! the controller partitions a `cover` with and the cost model predicts
//! each device's sweep from.

use crate::arith::mul_div;

/// The `i`-th of `n` contiguous pieces of `[lo, hi)` of near-equal width
/// (widths differ by at most 1 mm); `(lo, lo)` when `n == 0`. Pieces are
/// `[lo + w·i/n, lo + w·(i+1)/n)` with `w = hi − lo`, rounded down, so
/// consecutive pieces share their boundary and the last ends at `hi`.
pub fn strip_bounds(lo: i64, hi: i64, n: u64, i: u64) -> (i64, i64) {
    if n == 0 {
        return (lo, lo);
    }
    let at = |k: u64| -> i64 {
        let w = i128::from(hi) - i128::from(lo);
        let off = mul_div(w.unsigned_abs(), u128::from(k.min(n)), u128::from(n));
        let off = i128::try_from(off).unwrap_or(i128::MAX);
        let x = if w < 0 {
            i128::from(lo) - off
        } else {
            i128::from(lo) + off
        };
        i64::try_from(x).unwrap_or(hi)
    };
    (at(i), at(i.saturating_add(1)))
}

/// All `n` pieces of `[lo, hi)`, in order (see [`strip_bounds`]).
pub fn cut(lo: i64, hi: i64, n: usize) -> Vec<(i64, i64)> {
    let n64 = u64::try_from(n).unwrap_or(u64::MAX);
    (0..n64).map(|i| strip_bounds(lo, hi, n64, i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_tile_the_extent_with_widths_within_a_millimetre() {
        for n in 1..20 {
            let s = cut(0, 1001, n);
            assert_eq!(s.first().map(|p| p.0), Some(0));
            assert_eq!(s.last().map(|p| p.1), Some(1001));
            assert!(s.windows(2).all(|w| w[0].1 == w[1].0));
            let widths: Vec<i64> = s.iter().map(|p| p.1 - p.0).collect();
            let (lo, hi) = (widths.iter().min(), widths.iter().max());
            assert!(hi.zip(lo).is_some_and(|(h, l)| h - l <= 1));
        }
        assert!(cut(0, 10, 0).is_empty());
        let wide = cut(i64::MIN, i64::MAX, 3);
        assert_eq!(wide[0].0, i64::MIN);
        assert_eq!(wide[2].1, i64::MAX);
        assert!(wide.windows(2).all(|w| w[0].1 == w[1].0));
    }
}
