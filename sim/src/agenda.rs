//! The simulator's future: items ordered by (time, insertion order), so
//! two items at the same instant happen in the order they were scheduled
//! and a run is a pure function of its inputs.
//!
//! A calendar queue. Items wait in a slab; their keys (time, sequence
//! number, slot) sit in buckets of ~1 ms on a ring that covers the next ~4
//! s, and beyond that in an overflow heap. The bucket being drained is
//! sorted once (a few hundred keys even at 100,000 devices) and popped
//! from the front, so scheduling and popping cost O(1) amortised instead of
//! a cache miss per level of one heap over every pending item — the
//! largest cost of a big run. (A `BTreeMap` of items spent most of a large
//! run navigating nodes.)

use hivemind_controller::Micros;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// Bucket width: 2^10 µs ≈ 1 ms.
const SHIFT: u32 = 10;
/// Buckets on the ring: 4096 ≈ 4.2 s ahead.
const RING: u64 = 4096;

/// Largest bucket allocation kept for reuse (keys).
const KEEP: usize = 512;

type Key = (u64, u64, u32);

pub struct Agenda<T> {
    items: Vec<Option<T>>,
    free: Vec<u32>,
    seq: u64,
    /// The bucket being drained (and anything due before the next one),
    /// in order.
    current: VecDeque<Key>,
    /// Index (time >> SHIFT) of the bucket `current` holds.
    at_bucket: u64,
    ring: Vec<Vec<Key>>,
    /// Keys on the ring (not in `current`).
    on_ring: usize,
    overflow: BinaryHeap<Reverse<Key>>,
}

impl<T> Default for Agenda<T> {
    fn default() -> Self {
        Agenda {
            items: Vec::new(),
            free: Vec::new(),
            seq: 0,
            current: VecDeque::new(),
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
        let slot = match self.free.pop() {
            Some(s) => {
                self.items[s as usize] = Some(item);
                s
            }
            None => {
                self.items.push(Some(item));
                u32::try_from(self.items.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.seq += 1;
        self.file((at.0, self.seq, slot));
        if self.current.is_empty() {
            self.refill();
        }
    }

    fn file(&mut self, key: Key) {
        let b = key.0 >> SHIFT;
        if b <= self.at_bucket {
            // Usually after everything due (a later time, a newer number).
            let at = self.current.partition_point(|k| *k < key);
            self.current.insert(at, key);
        } else if b < self.at_bucket + RING {
            self.ring[(b % RING) as usize].push(key);
            self.on_ring += 1;
        } else {
            self.overflow.push(Reverse(key));
        }
    }

    /// Load the next non-empty bucket into `current`.
    fn refill(&mut self) {
        while self.current.is_empty() {
            if self.on_ring == 0 {
                // Nothing within the ring's horizon: jump to the overflow.
                let Some(Reverse(k)) = self.overflow.peek() else {
                    return;
                };
                self.at_bucket = (k.0 >> SHIFT).max(self.at_bucket);
            } else {
                self.at_bucket += 1;
            }
            let slot = (self.at_bucket % RING) as usize;
            let mut bucket = std::mem::take(&mut self.ring[slot]);
            self.on_ring -= bucket.len();
            bucket.sort_unstable();
            self.current.extend(bucket.drain(..));
            // Keep a small bucket's allocation for its next turn (a burst's
            // would pin memory on every slot of the ring).
            if bucket.capacity() <= KEEP {
                self.ring[slot] = bucket;
            }
            // Keys from the overflow now within reach of the ring.
            while let Some(Reverse(k)) = self.overflow.peek().copied() {
                if (k.0 >> SHIFT) >= self.at_bucket + RING {
                    break;
                }
                self.overflow.pop();
                self.file(k);
            }
        }
    }

    /// When the earliest item is due.
    pub fn next_at(&self) -> Option<Micros> {
        self.current.front().map(|k| Micros(k.0))
    }

    pub fn pop(&mut self) -> Option<(Micros, T)> {
        let (t, _, slot) = self.current.pop_front()?;
        let item = self.items.get_mut(slot as usize)?.take();
        self.free.push(slot);
        if self.current.is_empty() {
            self.refill();
        }
        Some((Micros(t), item?))
    }

    pub fn len(&self) -> usize {
        self.current.len() + self.on_ring + self.overflow.len()
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
    fn same_instant_keeps_insertion_order_and_slots_are_reused() {
        let mut a = Agenda::default();
        a.push(Micros(5), "b1");
        a.push(Micros(1), "a");
        a.push(Micros(5), "b2");
        a.push(Micros(3), "c");
        let order: Vec<_> = std::iter::from_fn(|| a.pop()).map(|(_, x)| x).collect();
        assert_eq!(order, ["a", "c", "b1", "b2"]);
        for i in 0..10 {
            a.push(Micros(i), "x");
        }
        assert_eq!(a.items.len(), 10, "four freed slots reused, six new");
        assert_eq!(a.len(), 10);
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
