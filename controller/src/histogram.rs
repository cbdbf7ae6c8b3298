//! Latency histogram with bounded relative error (log-linear buckets, like
//! HdrHistogram with 7 significant bits): fixed size, mergeable, deterministic.

use serde::{Deserialize, Serialize};

/// Sub-buckets per power of two: relative error below 1/SUB = 0.8 % (the
/// simulator compares measured medians with predictions to within 5 %).
const SUB_BITS: u32 = 7;
const SUB: u64 = 1 << SUB_BITS;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Histogram {
    /// Sparse (bucket, count) pairs sorted by bucket, so an idle task kind
    /// costs nothing and a busy one at most a few hundred entries.
    buckets: Vec<(u16, u64)>,
    count: u64,
    min: u64,
    max: u64,
    /// Where [`Histogram::tracked_quantile_bp`] last found its quantile; a
    /// cache, not part of the value (never serialized, not compared).
    #[serde(skip)]
    cursor: Cursor,
}

/// A position in `buckets` and the count of the buckets before it. Kept
/// exact by `record`, so a quantile asked again after a few samples moves
/// it a step or two instead of summing every bucket (the straggler
/// threshold is asked at every attempt: a scan of a few hundred buckets
/// each time was the controller's largest single cost at saturation).
#[derive(Debug, Clone, Copy, Default)]
struct Cursor {
    idx: usize,
    below: u64,
}

impl PartialEq for Histogram {
    fn eq(&self, other: &Self) -> bool {
        (self.count, self.min, self.max) == (other.count, other.min, other.max)
            && self.buckets == other.buckets
    }
}

impl Eq for Histogram {}

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
        let i = match self.buckets.binary_search_by_key(&b, |e| e.0) {
            Ok(i) => {
                self.buckets[i].1 += 1;
                i
            }
            Err(i) => {
                self.buckets.insert(i, (b, 1));
                if i <= self.cursor.idx {
                    // The buckets from the cursor on moved one place up.
                    self.cursor.idx += 1;
                }
                i
            }
        };
        if i < self.cursor.idx {
            self.cursor.below += 1;
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

    /// The rank `bp` basis points ask for, or the answer when no rank is
    /// needed (`None` when empty; the minimum at 0).
    fn rank(&self, bp: u32) -> Result<u64, Option<u64>> {
        if self.count == 0 {
            return Err(None);
        }
        if bp == 0 {
            return Err(Some(self.min));
        }
        let bp = u64::from(bp.min(10_000));
        Ok((self.count * bp).div_ceil(10_000).max(1))
    }

    /// The value a quantile found in bucket `b` reports (past the last
    /// bucket: the maximum).
    fn value_of(&self, b: Option<u16>) -> u64 {
        b.map_or(self.max, |b| bucket_high(b).clamp(self.min, self.max))
    }

    /// Value at `bp` basis points (5000 = median), clamped to the observed
    /// range; `None` when empty.
    pub fn quantile_bp(&self, bp: u32) -> Option<u64> {
        let rank = match self.rank(bp) {
            Ok(r) => r,
            Err(answer) => return answer,
        };
        let mut seen = 0;
        let found = self.buckets.iter().find(|&&(_, c)| {
            seen += c;
            seen >= rank
        });
        Some(self.value_of(found.map(|&(b, _)| b)))
    }

    /// [`Histogram::quantile_bp`], found from where the last call found
    /// its quantile: amortized O(1) when asked after every few samples.
    pub fn tracked_quantile_bp(&mut self, bp: u32) -> Option<u64> {
        let rank = match self.rank(bp) {
            Ok(r) => r,
            Err(answer) => return answer,
        };
        let Cursor { mut idx, mut below } = self.cursor;
        // The first bucket whose running count reaches the rank: below it
        // fewer than `rank` samples, through it at least `rank`.
        while idx > 0 && below >= rank {
            idx -= 1;
            below -= self.buckets[idx].1;
        }
        while let Some(&(_, c)) = self.buckets.get(idx) {
            if below + c >= rank {
                break;
            }
            below += c;
            idx += 1;
        }
        self.cursor = Cursor { idx, below };
        Some(self.value_of(self.buckets.get(idx).map(|&(b, _)| b)))
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

    /// The tracked quantile equals the scanned one, whatever the order of
    /// samples and questions (new buckets below, at and above the cursor).
    #[test]
    fn tracked_quantiles_match_the_scan() {
        use proptest::prelude::*;
        let samples = prop::collection::vec(
            (
                0u64..3_000_000,
                prop::sample::select(vec![0u32, 1, 500, 5_000, 9_500, 9_900, 10_000]),
            ),
            1..400,
        );
        proptest!(ProptestConfig::with_cases(300), |(ops in samples)| {
            let mut h = Histogram::default();
            for (v, bp) in ops {
                // Values drawn from a few decades, so buckets are added
                // on both sides of the cursor.
                h.record(v >> (v % 20));
                prop_assert_eq!(h.tracked_quantile_bp(bp), h.quantile_bp(bp));
                prop_assert_eq!(h.tracked_quantile_bp(5_000), h.quantile_bp(5_000));
            }
        });
    }
}
