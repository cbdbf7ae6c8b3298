//! The simulator's future: items ordered by (time, insertion order), so
//! two items at the same instant happen in the order they were scheduled
//! and a run is a pure function of its inputs. A binary heap: O(log n)
//! per item, no per-node allocation (a `BTreeMap` spent most of a large
//! run navigating nodes).

use hivemind_controller::Micros;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

struct Entry<T> {
    at: Micros,
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
impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

pub struct Agenda<T> {
    heap: BinaryHeap<Reverse<Entry<T>>>,
    seq: u64,
}

impl<T> Default for Agenda<T> {
    fn default() -> Self {
        Agenda {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }
}

impl<T> Agenda<T> {
    pub fn push(&mut self, at: Micros, item: T) {
        self.seq += 1;
        self.heap.push(Reverse(Entry {
            at,
            seq: self.seq,
            item,
        }));
    }

    /// When the earliest item is due.
    pub fn next_at(&self) -> Option<Micros> {
        self.heap.peek().map(|Reverse(e)| e.at)
    }

    pub fn pop(&mut self) -> Option<(Micros, T)> {
        self.heap.pop().map(|Reverse(e)| (e.at, e.item))
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_instant_keeps_insertion_order() {
        let mut a = Agenda::default();
        a.push(Micros(5), "b1");
        a.push(Micros(1), "a");
        a.push(Micros(5), "b2");
        a.push(Micros(3), "c");
        let order: Vec<_> = std::iter::from_fn(|| a.pop()).map(|(_, x)| x).collect();
        assert_eq!(order, ["a", "c", "b1", "b2"]);
    }
}
