//! Integer helpers that cannot overflow on any coordinate: exact
//! `a × b / c` through a 256-bit product, and points part-way along a
//! segment.

use hivemind_ir::PointMm;

const LOW: u128 = u64::MAX as u128;

/// ⌊a × b / c⌋, exact even when `a × b` exceeds `u128`; `u128::MAX` when
/// the quotient itself does not fit or `c` is zero.
pub(crate) fn mul_div(a: u128, b: u128, c: u128) -> u128 {
    if c == 0 {
        return u128::MAX;
    }
    if let Some(p) = a.checked_mul(b) {
        return p / c;
    }
    let (a1, a0) = (a >> 64, a & LOW);
    let (b1, b0) = (b >> 64, b & LOW);
    let (p00, p01, p10, p11) = (a0 * b0, a0 * b1, a1 * b0, a1 * b1);
    let mid = (p00 >> 64) + (p01 & LOW) + (p10 & LOW);
    let lo = (p00 & LOW) | (mid << 64);
    let hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
    if hi >= c {
        return u128::MAX;
    }
    // Long division of hi:lo by c, one bit of `lo` at a time; r < c throughout.
    let (mut r, mut q) = (hi, 0u128);
    for i in (0..128).rev() {
        let carry = r >> 127;
        r = (r << 1) | ((lo >> i) & 1);
        q <<= 1;
        if carry == 1 || r >= c {
            r = r.wrapping_sub(c);
            q |= 1;
        }
    }
    q
}

/// `from + (to - from) × part / whole` on one axis, rounded toward `from`;
/// always between `from` and `to`.
pub(crate) fn lerp_axis(from: i64, to: i64, part: u128, whole: u128) -> i64 {
    if whole == 0 || part == 0 {
        return from;
    }
    if part >= whole {
        return to;
    }
    let diff = i128::from(to) - i128::from(from);
    let step = mul_div(diff.unsigned_abs(), part, whole);
    let step = i128::try_from(step).unwrap_or(i128::MAX);
    let v = if diff < 0 {
        i128::from(from) - step
    } else {
        i128::from(from) + step
    };
    i64::try_from(v).unwrap_or(to)
}

/// The point `part` of `whole` millimetres from `from` toward `to`.
pub(crate) fn lerp(from: PointMm, to: PointMm, part: u128, whole: u128) -> PointMm {
    PointMm {
        x_mm: lerp_axis(from.x_mm, to.x_mm, part, whole),
        y_mm: lerp_axis(from.y_mm, to.y_mm, part, whole),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mul_div_is_exact_beyond_128_bits() {
        assert_eq!(mul_div(6, 7, 4), 10);
        assert_eq!(mul_div(u128::MAX, u128::MAX, u128::MAX), u128::MAX);
        assert_eq!(mul_div(u128::MAX, 2, 4), u128::MAX / 2);
        assert_eq!(mul_div(1 << 100, 1 << 100, 1 << 90), 1 << 110);
        assert_eq!(mul_div(u128::MAX, u128::MAX, 1), u128::MAX);
        assert_eq!(mul_div(5, 5, 0), u128::MAX);
    }

    #[test]
    fn lerp_stays_between_its_ends_at_the_extremes() {
        let (a, b) = (i64::MIN, i64::MAX);
        let whole = (i128::from(b) - i128::from(a)).unsigned_abs();
        assert_eq!(lerp_axis(a, b, whole / 2, whole), -1);
        assert_eq!(lerp_axis(b, a, whole, whole), a);
        assert_eq!(lerp_axis(0, 10, 3, 10), 3);
        assert_eq!(lerp_axis(0, -10, 3, 10), -3);
    }
}
