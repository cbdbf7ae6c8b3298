//! The speed profile of one segment, in closed form: from rest, accelerate
//! at `a` up to cruise `v`, cruise, brake at `a` to stop exactly at the
//! end (a trapezoid in speed), or accelerate and brake without reaching
//! cruise when the segment is shorter than `v²/a` (a triangle). Also the
//! braking of a vehicle interrupted mid-segment.
//!
//! Times are whole microseconds and distances whole millimetres, so a
//! segment's duration is the exact time rounded up and positions are
//! rounded down; both are pure functions of (segment, time since its
//! start), which is what makes one long advance equal many short ones.

use crate::params::{ParamsError, VehicleParams};

const US: u128 = 1_000_000;

/// Cruise speed and acceleration of checked parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Profile {
    v: u128,
    a: u128,
}

impl Profile {
    pub(crate) fn new(p: &VehicleParams) -> Result<Profile, ParamsError> {
        p.check()?;
        Ok(Profile {
            v: u128::from(p.cruise_mm_s),
            a: u128::from(p.accel_mm_s2),
        })
    }

    /// Time to fly `d` mm from rest to rest, rounded up.
    pub(crate) fn time_us(&self, d: u128) -> u128 {
        let (v, a) = (self.v, self.a);
        if d == 0 {
            return 0;
        }
        if d.saturating_mul(a) >= v * v {
            // Trapezoid: d/v + v/a seconds.
            d.saturating_mul(a)
                .saturating_add(v * v)
                .saturating_mul(US)
                .div_ceil(v * a)
        } else {
            // Triangle: 2·√(d/a) seconds = ⌈√(4·10¹²·d/a)⌉ µs, since n² ≥ x/a
            // ⟺ n² ≥ ⌈x/a⌉ for whole n. Here d < v²/a ≤ 10¹², no overflow.
            hivemind_ir::route::isqrt_ceil((4 * US * US * d).div_ceil(a))
        }
    }

    /// Distance after `t` µs of accelerating from rest and then cruising.
    fn up(&self, t: u128) -> u128 {
        let (v, a) = (self.v, self.a);
        if a.saturating_mul(t) <= v * US {
            // a·t ≤ v·10⁶ keeps a·t² below 10²⁴.
            a * t * t / (2 * US * US)
        } else {
            // v·t − v²/2a, over one denominator while it fits.
            match (2 * a * v).checked_mul(t) {
                Some(x) => x.saturating_sub(v * v * US) / (2 * a * US),
                None => (v.saturating_mul(t) / US).saturating_sub(v * v / (2 * a)),
            }
        }
    }

    /// Distance flown `t` µs into a rest-to-rest segment of `d` mm lasting
    /// `total` µs (its `time_us`): the speed-up half, then the mirror image
    /// of it counted back from the end. Never decreases, and is `d` at the end.
    pub(crate) fn along(&self, d: u128, total: u128, t: u128) -> u128 {
        if t >= total {
            return d;
        }
        let mid = total / 2;
        let s = if t <= mid {
            self.up(t)
        } else {
            self.up(mid).max(d.saturating_sub(self.up(total - t)))
        };
        s.min(d)
    }

    /// Speed `t` µs into a rest-to-rest segment lasting `total` µs.
    pub(crate) fn speed(&self, total: u128, t: u128) -> u128 {
        if t >= total {
            return 0;
        }
        let a = self.a;
        (a.saturating_mul(t) / US)
            .min(self.v)
            .min(a.saturating_mul(total - t) / US)
    }

    /// Braking from `v0` mm/s: time to stop (rounded up) and distance.
    pub(crate) fn brake(&self, v0: u128) -> (u128, u128) {
        let a = self.a;
        (
            v0.saturating_mul(US).div_ceil(a),
            v0.saturating_mul(v0) / (2 * a),
        )
    }

    /// Distance `t` µs into braking from `v0`: v0·t − a·t²/2, evaluated no
    /// later than the exact stop so it never decreases.
    pub(crate) fn braking_along(&self, v0: u128, t: u128) -> u128 {
        let a = self.a;
        let t = t.min(v0.saturating_mul(US) / a);
        (2 * v0 * US)
            .saturating_mul(t)
            .saturating_sub(a.saturating_mul(t).saturating_mul(t))
            / (2 * US * US)
    }

    /// Speed `t` µs into braking from `v0`.
    pub(crate) fn braking_speed(&self, v0: u128, t: u128) -> u128 {
        v0.saturating_sub(self.a.saturating_mul(t) / US)
    }
}

/// Time to fly `distance_mm` from rest to rest: accelerating at
/// `accel_mm_s2` to `cruise_mm_s`, cruising, braking to a stop.
pub fn segment_time_us(distance_mm: u128, params: &VehicleParams) -> Result<u128, ParamsError> {
    Ok(Profile::new(params)?.time_us(distance_mm))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(v: u64, a: u64) -> Profile {
        Profile::new(&VehicleParams {
            cruise_mm_s: v,
            accel_mm_s2: a,
            ..VehicleParams::DRONE
        })
        .expect("valid")
    }

    #[test]
    fn trapezoid_and_triangle_times() {
        let p = profile(5_000, 2_500);
        // 100 m: 20 s cruising + 2 s lost to speeding up and braking.
        assert_eq!(p.time_us(100_000), 22_000_000);
        // 10 m = v²/a exactly: the triangle and trapezoid meet at 4 s.
        assert_eq!(p.time_us(10_000), 4_000_000);
        // 2.5 m: 2·√(2.5/2.5) = 2 s.
        assert_eq!(p.time_us(2_500), 2_000_000);
        assert_eq!(p.time_us(0), 0);
    }

    #[test]
    fn positions_never_go_back_and_end_at_the_end() {
        for (v, a, d) in [(5_000, 2_500, 100_000), (5_000, 2_500, 3_333), (1, 1, 7)] {
            let p = profile(v, a);
            let total = p.time_us(d);
            let mut last = 0;
            let step = (total / 997).max(1);
            let mut t = 0;
            while t <= total + step {
                let s = p.along(d, total, t);
                assert!(s >= last && s <= d, "v={v} a={a} d={d} t={t}");
                last = s;
                t += step;
            }
            assert_eq!(p.along(d, total, total), d);
            assert_eq!(p.speed(total, total), 0);
        }
    }

    #[test]
    fn braking_covers_v_squared_over_two_a() {
        let p = profile(5_000, 2_500);
        assert_eq!(p.brake(5_000), (2_000_000, 5_000));
        assert_eq!(p.braking_along(5_000, 2_000_000), 5_000);
        assert_eq!(p.braking_along(5_000, 1_000_000), 3_750);
        assert_eq!(p.braking_speed(5_000, 1_000_000), 2_500);
    }
}
