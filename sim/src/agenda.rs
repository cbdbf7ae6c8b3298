//! The simulator's future: items ordered by (time, insertion order), so
//! two items at the same instant happen in the order they were scheduled
//! and a run is a pure function of its inputs.
//!
//! A calendar queue. Items wait in buckets of ~1 ms on a ring that covers
//! the next ~4 s, and beyond that in an overflow heap. The bucket being
//! drained is sorted once (a few hundred items even at 100,000 devices)
//! and popped from its end; items filed into it while it drains wait in a
//! small heap beside it. Scheduling and popping cost O(1) amortised
//! instead of a cache miss per level of one heap over every pending item.
//! Items sit inline with their keys, so a bucket is read front to back:
//! a slab beside the keys cost a cache miss on every pop (13% of a
//! 100,000-device run), and a heap of the whole bucket one per level.
//! (A `BTreeMap` of items spent most of a large run navigating nodes.)

use hivemind_controller::Micros;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Bucket width: 2^10 µs ≈ 1 ms.
const SHIFT: u32 = 10;
/// Buckets on the ring: 4096 ≈ 4.2 s ahead.
const RING: u64 = 4096;

/// Largest bucket allocation kept for its next turn, in bytes (a burst's
/// would pin memory on every slot of the ring).
const KEEP_BYTES: usize = 12 * 1024;

/// An item and its place in the order: (time, insertion number).
struct Entry<T> {
    at: u64,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
/// Reversed: the earliest is the greatest (`BinaryHeap` pops it; an
/// ascending sort puts it last).
impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

pub struct Agenda<T> {
    seq: u64,
    /// The bucket being drained, latest first (popped from the end).
    current: Vec<Entry<T>>,
    /// Items filed into the bucket being drained after it was sorted.
    late: BinaryHeap<Entry<T>>,
    /// Index (time >> SHIFT) of the bucket `current` holds.
    at_bucket: u64,
    ring: Vec<Vec<Entry<T>>>,
    /// Items on the ring (not in `current`).
    on_ring: usize,
    overflow: BinaryHeap<Entry<T>>,
}

impl<T> Default for Agenda<T> {
    fn default() -> Self {
        Agenda {
            seq: 0,
            current: Vec::new(),
            late: BinaryHeap::new(),
            at_bucket: 0,
            ring: (0..RING).map(|_| Vec::new()).collect(),
            on_ring: 0,
            overflow: BinaryHeap::new(),
        }
    }
}

impl<T> Agenda<T> {
    /// Schedule `item` at `at`.
    pub fn push(&mut self, at: Micros, item: T) {
        self.seq += 1;
        self.file(Entry {
            at: at.0,
            seq: self.seq,
            item,
        });
        if self.current.is_empty() && self.late.is_empty() {
            self.refill();
        }
    }

    fn file(&mut self, e: Entry<T>) {
        let b = e.at >> SHIFT;
        if b <= self.at_bucket {
            self.late.push(e);
        } else if b < self.at_bucket + RING {
            self.ring[(b % RING) as usize].push(e);
            self.on_ring += 1;
        } else {
            self.overflow.push(e);
        }
    }

    /// Load the next non-empty bucket into `current`.
    fn refill(&mut self) {
        while self.current.is_empty() && self.late.is_empty() {
            if self.on_ring == 0 {
                // Nothing within the ring's horizon: jump to the overflow.
                let Some(e) = self.overflow.peek() else {
                    return;
                };
                self.at_bucket = (e.at >> SHIFT).max(self.at_bucket);
            } else {
                self.at_bucket += 1;
            }
            let slot = (self.at_bucket % RING) as usize;
            let mut bucket = std::mem::take(&mut self.ring[slot]);
            self.on_ring -= bucket.len();
            bucket.sort_unstable();
            // The drained bucket's allocation serves the slot's next turn.
            let spare = std::mem::replace(&mut self.current, bucket);
            if spare.capacity() * std::mem::size_of::<Entry<T>>() <= KEEP_BYTES {
                self.ring[slot] = spare;
            }
            // Items from the overflow now within reach of the ring.
            while let Some(e) = self.overflow.peek() {
                if (e.at >> SHIFT) >= self.at_bucket + RING {
                    break;
                }
                if let Some(e) = self.overflow.pop() {
                    self.file(e);
                }
            }
        }
    }

    /// When the earliest item is due.
    pub fn next_at(&self) -> Option<Micros> {
        self.current
            .last()
            .into_iter()
            .chain(self.late.peek())
            .max()
            .map(|e| Micros(e.at))
    }

    pub fn pop(&mut self) -> Option<(Micros, T)> {
        let e = match (self.current.last(), self.late.peek()) {
            (Some(a), Some(b)) if b > a => self.late.pop(),
            (Some(_), _) => self.current.pop(),
            (None, _) => self.late.pop(),
        }?;
        if self.current.is_empty() && self.late.is_empty() {
            self.refill();
        }
        Some((Micros(e.at), e.item))
    }

    pub fn len(&self) -> usize {
        self.current.len() + self.late.len() + self.on_ring + self.overflow.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hivemind_controller::rng::Rng;

    #[test]
    fn same_instant_keeps_insertion_order() {
        let mut a = Agenda::default();
        a.push(Micros(5), "b1");
        a.push(Micros(1), "a");
        a.push(Micros(5), "b2");
        a.push(Micros(3), "c");
        let order: Vec<_> = std::iter::from_fn(|| a.pop()).map(|(_, x)| x).collect();
        assert_eq!(order, ["a", "c", "b1", "b2"]);
        for i in 0..10 {
            a.push(Micros(9 - i), "x");
        }
        assert_eq!(a.len(), 10);
        assert_eq!(a.next_at(), Some(Micros(0)));
    }

    /// Against a plain sorted order: random times near and far (beyond the
    /// ring), pushes interleaved with pops, never scheduling in the past.
    #[test]
    fn matches_a_total_order_on_random_schedules() {
        for seed in 0..20 {
            let mut rng = Rng::new(seed);
            let mut a = Agenda::default();
            let mut reference: std::collections::BTreeSet<(u64, u64)> = Default::default();
            let (mut now, mut seq) = (0u64, 0u64);
            for _ in 0..5_000 {
                if rng.chance(600) || reference.is_empty() {
                    let ahead = match rng.below(4) {
                        0 => 0,
                        1 => rng.below(2_000),
                        2 => rng.below(3_000_000),
                        _ => rng.below(60_000_000),
                    };
                    seq += 1;
                    a.push(Micros(now + ahead), seq);
                    reference.insert((now + ahead, seq));
                } else {
                    let want = reference.pop_first().expect("non-empty");
                    let got = a.pop().expect("agenda has it");
                    assert_eq!((got.0 .0, got.1), want, "seed {seed}");
                    now = want.0;
                }
                assert_eq!(
                    a.next_at().map(|t| t.0),
                    reference.first().map(|k| k.0),
                    "seed {seed}"
                );
            }
        }
    }
}
