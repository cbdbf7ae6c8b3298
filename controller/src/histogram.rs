//! Latency histogram with bounded relative error (log-linear buckets, like
//! HdrHistogram with 7 significant bits): fixed size, mergeable, deterministic.

use serde::{Deserialize, Serialize};

/// Sub-buckets per power of two: relative error below 1/SUB = 0.8 % (the
/// simulator compares measured medians with predictions to within 5 %).
const SUB_BITS: u32 = 7;
const SUB: u64 = 1 << SUB_BITS;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Histogram {
    /// Sparse (bucket, count) pairs sorted by bucket, so an idle task kind
    /// costs nothing and a busy one at most a few hundred entries.
    buckets: Vec<(u16, u64)>,
    count: u64,
    min: u64,
    max: u64,
}

fn bucket_of(v: u64) -> u16 {
    if v < SUB {
        return v as u16;
    }
    let exp = 63 - v.leading_zeros(); // >= SUB_BITS
    let shift = exp - SUB_BITS;
    let mantissa = (v >> shift) - SUB; // 0..SUB
    ((u64::from(shift + 1) << SUB_BITS) + mantissa) as u16
}

/// Largest value that falls in the bucket (so quantiles never under-report).
fn bucket_high(b: u16) -> u64 {
    let b = u64::from(b);
    if b < SUB {
        return b;
    }
    let shift = (b >> SUB_BITS) - 1;
    let mantissa = (b & (SUB - 1)) + SUB;
    let hi = (u128::from(mantissa + 1) << shift) - 1;
    u64::try_from(hi).unwrap_or(u64::MAX)
}

impl Histogram {
    pub fn record(&mut self, v: u64) {
        let b = bucket_of(v);
        match self.buckets.binary_search_by_key(&b, |e| e.0) {
            Ok(i) => self.buckets[i].1 += 1,
            Err(i) => self.buckets.insert(i, (b, 1)),
        }
        if self.count == 0 || v < self.min {
            self.min = v;
        }
        self.max = self.max.max(v);
        self.count += 1;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Value at `bp` basis points (5000 = median), clamped to the observed
    /// range; `None` when empty.
    pub fn quantile_bp(&self, bp: u32) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        if bp == 0 {
            return Some(self.min);
        }
        let bp = u64::from(bp.min(10_000));
        let rank = (self.count * bp).div_ceil(10_000).max(1);
        let mut seen = 0;
        for &(b, c) in &self.buckets {
            seen += c;
            if seen >= rank {
                return Some(bucket_high(b).clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotone_and_tight() {
        let mut last = 0;
        for v in (0..200_000u64).step_by(7).chain([u64::MAX / 2, u64::MAX]) {
            let b = bucket_of(v);
            assert!(b >= last);
            last = b;
            let hi = bucket_high(b);
            assert!(hi >= v, "{v} above its bucket high {hi}");
            assert!(hi - v <= v / SUB + 1, "{v} -> {hi} too coarse");
        }
    }

    #[test]
    fn quantiles() {
        let mut h = Histogram::default();
        assert_eq!(h.quantile_bp(5000), None);
        for v in 1..=1000u64 {
            h.record(v * 1000);
        }
        let p50 = h.quantile_bp(5000).unwrap_or(0);
        let p99 = h.quantile_bp(9900).unwrap_or(0);
        assert!((500_000..=570_000).contains(&p50), "{p50}");
        assert!((990_000..=1_000_000).contains(&p99), "{p99}");
        assert_eq!(h.quantile_bp(10_000), Some(1_000_000));
        assert_eq!(h.quantile_bp(0), Some(1000));
    }
}
