//! A map for ids the core hands out in increasing order (instances,
//! activations). Recent ids live in a window indexed by id: insert, lookup
//! and remove cost O(1) and touch one slot instead of walking a tree. An
//! entry that outlives the window (a long-queued instance) moves to an
//! ordered map, so memory stays proportional to the live entries. Iterates,
//! compares and serializes in id order, exactly like the `BTreeMap` it
//! replaces (same JSON).

use crate::ids::{GroupId, InstanceId};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{BTreeMap, VecDeque};

/// An id handed out in increasing order.
pub trait SeqId: Copy + Ord {
    fn seq(self) -> u64;
    fn from_seq(n: u64) -> Self;
}

impl SeqId for InstanceId {
    fn seq(self) -> u64 {
        self.0
    }
    fn from_seq(n: u64) -> Self {
        InstanceId(n)
    }
}

impl SeqId for GroupId {
    fn seq(self) -> u64 {
        self.0
    }
    fn from_seq(n: u64) -> Self {
        GroupId(n)
    }
}

/// Empty slots the window may hold beyond its live entries before its
/// oldest entries move to the ordered map (and the largest gap an insert
/// may open before the window restarts at the new id).
const SLACK: usize = 1024;

#[derive(Clone)]
pub struct IdTable<K, V> {
    /// Entries older than the window (ids below `base`).
    old: BTreeMap<K, V>,
    /// The entry of id `base + i` at `recent[i]`; the first and last slots
    /// are occupied (or the window is empty).
    recent: VecDeque<Option<V>>,
    base: u64,
    /// Occupied slots of `recent`.
    live: usize,
}

impl<K, V> Default for IdTable<K, V> {
    fn default() -> Self {
        IdTable {
            old: BTreeMap::new(),
            recent: VecDeque::new(),
            base: 0,
            live: 0,
        }
    }
}

impl<K: SeqId, V> IdTable<K, V> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.old.len() + self.live
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn slot(&self, k: K) -> Option<usize> {
        let i = k.seq().checked_sub(self.base)?;
        usize::try_from(i).ok().filter(|&i| i < self.recent.len())
    }

    pub fn get(&self, k: &K) -> Option<&V> {
        if k.seq() < self.base {
            return self.old.get(k);
        }
        self.slot(*k).and_then(|i| self.recent[i].as_ref())
    }

    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        if k.seq() < self.base {
            return self.old.get_mut(k);
        }
        self.slot(*k).and_then(|i| self.recent[i].as_mut())
    }

    pub fn contains_key(&self, k: &K) -> bool {
        self.get(k).is_some()
    }

    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        let n = k.seq();
        if n < self.base {
            return self.old.insert(k, v);
        }
        if let Some(i) = self.slot(k) {
            let prev = self.recent[i].replace(v);
            self.live += usize::from(prev.is_none());
            return prev;
        }
        // Past the end of the window.
        let end = self.base + self.recent.len() as u64;
        if self.recent.is_empty() || n - end > SLACK as u64 {
            // A fresh start (or a gap too wide to fill): the window restarts at `n`.
            self.retire_all();
            self.base = n;
        } else {
            let gap = (n - end) as usize;
            self.recent
                .extend(std::iter::repeat_with(|| None).take(gap));
        }
        self.recent.push_back(Some(v));
        self.live += 1;
        self.compact();
        None
    }

    pub fn remove(&mut self, k: &K) -> Option<V> {
        if k.seq() < self.base {
            return self.old.remove(k);
        }
        let i = self.slot(*k)?;
        let v = self.recent[i].take()?;
        self.live -= 1;
        self.trim();
        self.compact();
        Some(v)
    }

    /// Ids in increasing order.
    pub fn ids(&self) -> impl Iterator<Item = K> + '_ {
        self.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.iter().map(|(_, v)| v)
    }

    /// Entries in id order.
    pub fn iter(&self) -> impl Iterator<Item = (K, &V)> + '_ {
        let base = self.base;
        self.old.iter().map(|(k, v)| (*k, v)).chain(
            self.recent
                .iter()
                .enumerate()
                .filter_map(move |(i, v)| Some((K::from_seq(base + i as u64), v.as_ref()?))),
        )
    }

    /// Keep the first and last slots occupied.
    fn trim(&mut self) {
        while self.recent.back().is_some_and(Option::is_none) {
            self.recent.pop_back();
        }
        while self.recent.front().is_some_and(Option::is_none) {
            self.recent.pop_front();
            self.base += 1;
        }
    }

    /// When the window is mostly empty slots, its oldest entries move to
    /// the ordered map (each entry moves at most once: amortized O(1)).
    fn compact(&mut self) {
        while self.recent.len() - self.live > self.live + SLACK {
            if let Some(Some(v)) = self.recent.pop_front() {
                self.old.insert(K::from_seq(self.base), v);
                self.live -= 1;
            }
            self.base += 1;
            self.trim();
        }
    }

    fn retire_all(&mut self) {
        let base = self.base;
        for (i, v) in std::mem::take(&mut self.recent).into_iter().enumerate() {
            if let Some(v) = v {
                self.old.insert(K::from_seq(base + i as u64), v);
            }
        }
        self.live = 0;
    }
}

impl<K: SeqId, V: PartialEq> PartialEq for IdTable<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<K: SeqId, V: Eq> Eq for IdTable<K, V> {}

impl<K: SeqId + std::fmt::Debug, V: std::fmt::Debug> std::fmt::Debug for IdTable<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: SeqId + Serialize, V: Serialize> Serialize for IdTable<K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de, K: SeqId + Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for IdTable<K, V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let old = BTreeMap::<K, V>::deserialize(d)?;
        let base = old
            .last_key_value()
            .map_or(0, |(k, _)| k.seq().saturating_add(1));
        Ok(IdTable {
            old,
            recent: VecDeque::new(),
            base,
            live: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table behaves as a `BTreeMap` under any mix of operations.
    #[test]
    fn matches_a_btreemap() {
        let mut t: IdTable<InstanceId, u64> = IdTable::new();
        let mut m: BTreeMap<InstanceId, u64> = BTreeMap::new();
        let mut x: u64 = 12345;
        let mut next = 0u64;
        for step in 0..200_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = InstanceId(match x % 10 {
                // Mostly new ids in order, sometimes a jump.
                0..=4 => {
                    next += if x.is_multiple_of(97) { 5_000 } else { 1 };
                    next
                }
                _ => x % (next + 1),
            });
            if x.is_multiple_of(3) && k.0 <= next {
                assert_eq!(t.remove(&k), m.remove(&k), "step {step}");
            } else {
                assert_eq!(t.insert(k, step), m.insert(k, step), "step {step}");
            }
            assert_eq!(t.get(&k), m.get(&k));
            assert_eq!(t.len(), m.len());
            if step.is_multiple_of(10_000) {
                assert!(t.iter().eq(m.iter().map(|(k, v)| (*k, v))));
                assert!(t.recent.len() <= 2 * t.live + SLACK + 1);
            }
        }
        assert!(t.iter().eq(m.iter().map(|(k, v)| (*k, v))));
        let json = serde_json::to_string(&t).unwrap_or_default();
        assert_eq!(json, serde_json::to_string(&m).unwrap_or_default());
        let back: IdTable<InstanceId, u64> = serde_json::from_str(&json).expect("round trip");
        assert_eq!(back, t);
    }
}
