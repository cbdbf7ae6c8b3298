//! [`Sat`]: a non-negative quantity in an integer base unit (µs, µJ, bytes,
//! nano-dollars, ‰) whose arithmetic saturates to a distinguished
//! [`Sat::TOO_LARGE`] instead of wrapping.
//!
//! Mission values are large (work to 10¹⁸ op, lists to 10⁶ items, fleets to
//! 100,000 devices, missions to 7 days), so products of them do not fit in
//! 64 bits. Every such product in the cost model goes through this type:
//!
//! * Arithmetic is exact in `u128` and saturates: a result of 2⁶⁴ − 1 or
//!   more is `TOO_LARGE`, which compares above every exact value. Sums,
//!   maxima and products of saturated values stay saturated (every operand
//!   is non-negative, so a saturated operand means the exact result is at
//!   least as large). Debug and release builds give the same answer.
//! * There is no `From<Sat> for u64` and no `as`: the value comes out only
//!   through [`Sat::get`] / [`Sat::to_i64`] (`None` when too large), or
//!   explicitly saturated through [`Sat::saturated`] (for orderings and
//!   timers, where "too large" rightly means "after everything").
//! * A saturated value never meets a requirement and never fits a capacity:
//!   that is the cost model's rule, and the reports print it as
//!   "too large", never as a number.
//!
//! Serialized as a plain JSON number (`TOO_LARGE` as 18446744073709551615),
//! so plans keep their format.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign};

/// A saturating non-negative quantity (see the module documentation).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Sat(u64);

impl Sat {
    pub const ZERO: Sat = Sat(0);
    /// "At least 2⁶⁴ − 1": the result of any computation that did not fit.
    pub const TOO_LARGE: Sat = Sat(u64::MAX);

    /// An exact value (`u64::MAX` itself reads as too large).
    pub const fn new(v: u64) -> Sat {
        Sat(v)
    }

    /// `v`, or `TOO_LARGE` when it does not fit.
    pub fn from_u128(v: u128) -> Sat {
        u64::try_from(v).map_or(Sat::TOO_LARGE, Sat)
    }

    pub const fn is_too_large(self) -> bool {
        self.0 == u64::MAX
    }

    /// The exact value; `None` when too large.
    pub const fn get(self) -> Option<u64> {
        if self.is_too_large() {
            None
        } else {
            Some(self.0)
        }
    }

    /// The exact value as an `i64`; `None` when too large or beyond `i64`.
    pub fn to_i64(self) -> Option<i64> {
        self.get().and_then(|v| i64::try_from(v).ok())
    }

    /// The exact value widened; `None` when too large.
    pub fn wide(self) -> Option<u128> {
        self.get().map(u128::from)
    }

    /// The value, or `u64::MAX` when too large: an explicit saturation for
    /// comparisons and timers, where "too large" sorts after everything.
    pub const fn saturated(self) -> u64 {
        self.0
    }

    /// `self × num ÷ den`, exact in `u128`, rounded down; too large when
    /// `self` is, when the result does not fit, or when `den` is 0.
    pub fn mul_div(self, num: u128, den: u128) -> Sat {
        self.scaled(num, den, false)
    }

    /// [`Sat::mul_div`] rounded up (so a bound is never met by rounding).
    pub fn mul_div_ceil(self, num: u128, den: u128) -> Sat {
        self.scaled(num, den, true)
    }

    fn scaled(self, num: u128, den: u128, up: bool) -> Sat {
        if num == 0 && den > 0 {
            // Anything, however large, times nothing.
            return Sat::ZERO;
        }
        let (Some(v), true) = (self.wide(), den > 0) else {
            return Sat::TOO_LARGE;
        };
        if v == 0 {
            return Sat::ZERO;
        }
        match v.checked_mul(num) {
            Some(p) if up => Sat::from_u128(p.div_ceil(den)),
            Some(p) => Sat::from_u128(p / den),
            // v < 2⁶⁴: divide first when the product does not fit u128
            // (den > 2⁶⁴ then, or the quotient is too large anyway).
            None => {
                let (q, r) = (num / den, num % den);
                let exact = v
                    .checked_mul(q)
                    .and_then(|a| v.checked_mul(r).map(|b| (a, b / den, b % den)));
                match exact {
                    Some((a, b, rest)) => {
                        let up = u128::from(up && rest > 0);
                        Sat::from_u128(a.saturating_add(b).saturating_add(up))
                    }
                    None => Sat::TOO_LARGE,
                }
            }
        }
    }

    /// An exact `u128` result, or too large (`None`: beyond `u128`, from a
    /// checked computation).
    pub fn from_checked(v: Option<u128>) -> Sat {
        v.map_or(Sat::TOO_LARGE, Sat::from_u128)
    }

    /// `self × k`, saturating.
    pub fn times(self, k: u128) -> Sat {
        self.mul_div(k, 1)
    }
}

impl Add for Sat {
    type Output = Sat;
    fn add(self, other: Sat) -> Sat {
        // u64::MAX absorbs: MAX + x saturates at MAX.
        Sat(self.0.saturating_add(other.0))
    }
}

impl AddAssign for Sat {
    fn add_assign(&mut self, other: Sat) {
        *self = *self + other;
    }
}

impl Sum for Sat {
    fn sum<I: Iterator<Item = Sat>>(iter: I) -> Sat {
        iter.fold(Sat::ZERO, Add::add)
    }
}

impl<'a> Sum<&'a Sat> for Sat {
    fn sum<I: Iterator<Item = &'a Sat>>(iter: I) -> Sat {
        iter.copied().sum()
    }
}

/// Comparisons with plain numbers (no conversion): a too-large value is
/// above every exact one.
impl PartialEq<u64> for Sat {
    fn eq(&self, other: &u64) -> bool {
        self.get() == Some(*other)
    }
}

impl PartialOrd<u64> for Sat {
    fn partial_cmp(&self, other: &u64) -> Option<std::cmp::Ordering> {
        Some(match self.get() {
            Some(v) => v.cmp(other),
            None => std::cmp::Ordering::Greater,
        })
    }
}

impl fmt::Display for Sat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.get() {
            Some(v) => write!(f, "{v}"),
            None => f.write_str("too large"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_and_never_wraps() {
        let big = Sat::new(1 << 63);
        assert!((big + big).is_too_large());
        assert_eq!((big + big).get(), None);
        assert_eq!(Sat::new(3) + Sat::new(4), Sat::new(7));
        assert!(Sat::TOO_LARGE > Sat::new(u64::MAX - 1));
        assert!(big.times(2).is_too_large());
        assert_eq!(Sat::new(7).mul_div(3, 2), Sat::new(10));
        assert_eq!(Sat::new(7).mul_div_ceil(3, 2), Sat::new(11));
        assert!(Sat::new(1).mul_div(1, 0).is_too_large());
        assert!(Sat::TOO_LARGE.mul_div(1, 1000).is_too_large());
        assert_eq!(Sat::ZERO.mul_div(u128::MAX, 1), Sat::ZERO);
        // Products beyond u128 are divided first.
        assert_eq!(
            Sat::new(u64::MAX - 1).mul_div(u128::MAX / 3, u128::MAX / 3),
            Sat::new(u64::MAX - 1)
        );
        assert!(Sat::new(2).mul_div(u128::MAX, 1).is_too_large());
        assert_eq!(Sat::new(1 << 63).to_i64(), None);
        assert_eq!(Sat::new(5).to_i64(), Some(5));
        assert_eq!(Sat::TOO_LARGE.to_string(), "too large");
        assert_eq!([Sat::new(1), Sat::new(2)].iter().sum::<Sat>(), Sat::new(3));
    }
}
