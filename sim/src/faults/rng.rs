//! The fault script's own randomness: splitmix64, and an exponential
//! sample computed with `+ - * /` only (no platform `ln`), so a seed gives
//! the same schedule on every machine.

/// splitmix64 (Steele, Lea, Flood 2014): small, fast, every seed fine.
#[derive(Debug, Clone)]
pub(super) struct Rng {
    state: u64,
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// The stream for one script line: independent of the other lines, so
    /// adding a line does not change what the others pick.
    pub(super) fn for_line(seed: u64, line: u32) -> Rng {
        Rng {
            state: mix(seed ^ mix(u64::from(line).wrapping_mul(GOLDEN))),
        }
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix(self.state)
    }

    /// Uniform in `0..n` (`0` when `n` is 0), without modulo bias
    /// (Lemire's multiply-and-reject).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = u128::from(self.next_u64()) * u128::from(n);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    /// Uniform in (0, 1], 53 bits.
    pub(super) fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// An exponentially distributed time with mean `mean_us` (finite, ≥ 0).
    pub(super) fn exponential(&mut self, mean_us: f64) -> f64 {
        -ln(self.unit()) * mean_us
    }
}

/// Natural logarithm of a positive normal `x`, to about 1 ulp, from basic
/// IEEE operations (each correctly rounded, so the same everywhere):
/// `x = m · 2^e` with `m` in [√½, √2), `ln m = 2 atanh((m-1)/(m+1))`.
pub(super) fn ln(x: f64) -> f64 {
    let bits = x.to_bits();
    let mut exponent = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1023u64 << 52));
    if m > std::f64::consts::SQRT_2 {
        m /= 2.0;
        exponent += 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    // |s| ≤ 0.172, s² ≤ 0.0295: 14 terms reach far below an ulp.
    let mut term = s;
    let mut sum = 0.0;
    let mut k = 1.0;
    for _ in 0..14 {
        sum += term / k;
        term *= s2;
        k += 2.0;
    }
    2.0 * sum + exponent as f64 * std::f64::consts::LN_2
}
