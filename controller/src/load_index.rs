//! A fleet's load index: its live devices' placement keys (queue length,
//! battery drained in basis points, id), answering "the least key with a
//! free slot, except one device" in O(log n).
//!
//! It replaces a `BTreeSet<LoadKey>` that was re-keyed on every attempt
//! start and finish (about 16% of a 100,000-device run): here a device
//! keeps one leaf of a binary tree of minima for as long as it is indexed,
//! and a re-key rewrites that leaf and walks up only while the minimum it
//! changes is an ancestor's (usually a level or two). Placement decisions
//! are exactly the set's: `first_fitting` is the set's first key that fits
//! (property-tested against it). Serialized exactly like the set it
//! replaces (the keys in ascending order); leaves are soft and rebuilt.

use crate::ids::DeviceId;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// (attempts in flight, battery drained in basis points, id): the fleet's
/// load index orders devices by queue length, then by battery left.
pub type LoadKey = (u32, u32, DeviceId);

/// The leaf a device holds in its fleet's index. Soft: not serialized and
/// equal to any other (the journaled state is the keys, not where they sit).
#[derive(Debug, Clone, Copy)]
pub struct LoadSlot(u32);

impl LoadSlot {
    pub const NONE: LoadSlot = LoadSlot(u32::MAX);
}

impl Default for LoadSlot {
    fn default() -> Self {
        LoadSlot::NONE
    }
}

impl PartialEq for LoadSlot {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for LoadSlot {}

/// Empty leaf: above every key (a key's top 32 bits are zero).
const EMPTY: u128 = u128::MAX;

fn pack(k: LoadKey) -> u128 {
    (u128::from(k.0) << 64) | (u128::from(k.1) << 32) | u128::from(k.2 .0)
}

fn unpack(v: u128) -> LoadKey {
    // Truncations pick out the fields `pack` put there.
    ((v >> 64) as u32, (v >> 32) as u32, DeviceId(v as u32))
}

#[derive(Debug, Clone, Default)]
pub struct LoadIndex {
    /// Node `i` holds the least key below it; its children are `2i` and
    /// `2i + 1`; leaf `s` is node `cap + s`. Empty until the first insert.
    tree: Vec<u128>,
    cap: usize,
    /// Leaves given back, reused last-freed first.
    free: Vec<u32>,
    used: u32,
    len: usize,
}

impl LoadIndex {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Index `key` in a new leaf; returns the leaf.
    pub fn insert(&mut self, key: LoadKey) -> LoadSlot {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                if self.used as usize == self.cap {
                    self.grow();
                }
                self.used += 1;
                self.used - 1
            }
        };
        self.len += 1;
        self.set(slot, pack(key));
        LoadSlot(slot)
    }

    /// The device in `slot` now has `key`.
    pub fn update(&mut self, slot: LoadSlot, key: LoadKey) {
        if self.holds(slot) {
            self.set(slot.0, pack(key));
        }
    }

    pub fn remove(&mut self, slot: LoadSlot) {
        if self.holds(slot) {
            self.set(slot.0, EMPTY);
            self.free.push(slot.0);
            self.len -= 1;
        }
    }

    fn holds(&self, slot: LoadSlot) -> bool {
        (slot.0 as usize) < self.cap && self.tree[self.cap + slot.0 as usize] != EMPTY
    }

    fn grow(&mut self) {
        let cap = (self.cap * 2).max(64);
        let mut tree = vec![EMPTY; 2 * cap];
        if self.cap > 0 {
            tree[cap..cap + self.cap].copy_from_slice(&self.tree[self.cap..]);
        }
        for i in (1..cap).rev() {
            tree[i] = tree[2 * i].min(tree[2 * i + 1]);
        }
        self.tree = tree;
        self.cap = cap;
    }

    fn set(&mut self, slot: u32, v: u128) {
        let mut i = self.cap + slot as usize;
        self.tree[i] = v;
        // An ancestor whose minimum does not change leaves all above it as
        // they are.
        while i > 1 {
            let p = i / 2;
            let m = self.tree[2 * p].min(self.tree[2 * p + 1]);
            if self.tree[p] == m {
                break;
            }
            self.tree[p] = m;
            i = p;
        }
    }

    /// The least key whose queue is shorter than `slots` and whose device
    /// is not `avoid`: what `iter().find(..)` over the ordered set gives.
    pub fn first_fitting(&self, slots: u32, avoid: Option<DeviceId>) -> Option<LoadKey> {
        let root = *self.tree.get(1)?;
        if root == EMPTY {
            return None;
        }
        let best = match unpack(root) {
            k if Some(k.2) == avoid => {
                // The next least key: the least of the siblings along the
                // path from the root down to the avoided leaf.
                let mut i = 1;
                let mut next = EMPTY;
                while i < self.cap {
                    let (l, r) = (2 * i, 2 * i + 1);
                    let (on, off) = if self.tree[l] == root { (l, r) } else { (r, l) };
                    next = next.min(self.tree[off]);
                    i = on;
                }
                if next == EMPTY {
                    return None;
                }
                unpack(next)
            }
            k => k,
        };
        (best.0 < slots).then_some(best)
    }

    /// Every key, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = LoadKey> + '_ {
        self.tree
            .get(self.cap..)
            .unwrap_or(&[])
            .iter()
            .filter(|&&v| v != EMPTY)
            .map(|&v| unpack(v))
    }

    /// Every key in ascending order (serialization, comparison).
    pub fn sorted(&self) -> Vec<LoadKey> {
        let mut v: Vec<u128> = self.iter().map(pack).collect();
        v.sort_unstable();
        v.into_iter().map(unpack).collect()
    }
}

impl PartialEq for LoadIndex {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.sorted() == other.sorted()
    }
}
impl Eq for LoadIndex {}

impl Serialize for LoadIndex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.sorted())
    }
}

impl<'de> Deserialize<'de> for LoadIndex {
    /// Keys as a snapshot lists them; the core re-indexes its devices from
    /// their own keys after reading a snapshot (`Controller::assemble`), so
    /// these leaves only serve a state read on its own.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let keys: std::collections::BTreeSet<LoadKey> = Deserialize::deserialize(d)?;
        let mut index = LoadIndex::default();
        for k in keys {
            index.insert(k);
        }
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use std::collections::{BTreeMap, BTreeSet};

    /// The rule the index replaces: the ordered set's first key that fits.
    fn old_rule(set: &BTreeSet<LoadKey>, slots: u32, avoid: Option<DeviceId>) -> Option<LoadKey> {
        set.iter()
            .find(|k| k.0 < slots && Some(k.2) != avoid)
            .copied()
    }

    #[test]
    fn picks_what_the_ordered_set_picks() {
        for seed in 0..64u64 {
            let mut rng = Rng::new(seed);
            let mut set = BTreeSet::new();
            let mut index = LoadIndex::default();
            let mut slot_of: BTreeMap<DeviceId, (LoadSlot, LoadKey)> = BTreeMap::new();
            // Few devices and queue lengths, so ties on every field happen.
            let devices = 1 + rng.below(300);
            for step in 0..4_000 {
                let id = DeviceId(rng.below(devices) as u32);
                let key = (
                    rng.below(6) as u32,
                    rng.below(if seed % 2 == 0 { 3 } else { 10_001 }) as u32,
                    id,
                );
                match (rng.below(4), slot_of.get(&id).copied()) {
                    (0, Some((slot, old))) => {
                        index.remove(slot);
                        set.remove(&old);
                        slot_of.remove(&id);
                    }
                    (_, Some((slot, old))) => {
                        index.update(slot, key);
                        set.remove(&old);
                        set.insert(key);
                        slot_of.insert(id, (slot, key));
                    }
                    (_, None) => {
                        let slot = index.insert(key);
                        set.insert(key);
                        slot_of.insert(id, (slot, key));
                    }
                }
                let slots = rng.below(7) as u32;
                let avoid = match rng.below(3) {
                    0 => None,
                    1 => set.first().map(|k| k.2),
                    _ => Some(DeviceId(rng.below(devices) as u32)),
                };
                assert_eq!(
                    index.first_fitting(slots, avoid),
                    old_rule(&set, slots, avoid),
                    "seed {seed}, step {step}: slots {slots}, avoid {avoid:?}"
                );
                assert_eq!(index.len(), set.len(), "seed {seed}, step {step}");
            }
            assert_eq!(
                index.sorted(),
                set.iter().copied().collect::<Vec<_>>(),
                "seed {seed}"
            );
        }
    }

    #[test]
    fn serialized_like_the_set_it_replaces() {
        let mut index = LoadIndex::default();
        let mut set = BTreeSet::new();
        for (i, k) in [(2, 5, 9), (0, 7, 3), (0, 7, 1), (1, 0, 4)]
            .into_iter()
            .enumerate()
        {
            let k = (k.0, k.1, DeviceId(k.2));
            let s = index.insert(k);
            set.insert(k);
            if i == 1 {
                index.remove(s);
                set.remove(&k);
            }
        }
        let json = serde_json::to_string(&index).unwrap();
        assert_eq!(json, serde_json::to_string(&set).unwrap());
        let back: LoadIndex = serde_json::from_str(&json).unwrap();
        assert_eq!(back, index);
        assert_eq!(back.first_fitting(4, None), set.first().copied());
        assert!(serde_json::from_str::<LoadIndex>("[[1,2]]").is_err());
        assert!(serde_json::from_str::<LoadIndex>("{}").is_err());
    }

    #[test]
    fn empty_and_grown() {
        let mut index = LoadIndex::default();
        assert_eq!(index.first_fitting(4, None), None);
        let slots: Vec<LoadSlot> = (0..1_000u32)
            .map(|i| index.insert((0, 1_000 - i, DeviceId(i))))
            .collect();
        assert_eq!(index.first_fitting(1, None), Some((0, 1, DeviceId(999))));
        assert_eq!(
            index.first_fitting(1, Some(DeviceId(999))),
            Some((0, 2, DeviceId(998)))
        );
        for s in slots {
            index.remove(s);
        }
        assert!(index.is_empty());
        assert_eq!(index.first_fitting(4, None), None);
        // A stale slot is ignored, not a panic.
        index.update(LoadSlot::NONE, (0, 0, DeviceId(1)));
        index.remove(LoadSlot::NONE);
        assert!(index.is_empty());
    }
}
