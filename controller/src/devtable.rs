//! The devices of the state, by id. Agents name their devices, in practice
//! 0..n: ids up to about twice the table's size live in pages indexed by id
//! (a lookup is two array reads instead of a walk down a tree, and a
//! device takes its own size, not a half-empty tree node's share); any
//! other id lives in an ordered map, so a hostile id costs no more memory
//! than a dense one. Iterates, compares and serializes in id order,
//! exactly like the `BTreeMap` it replaces (same JSON).

use crate::core::Device;
use crate::ids::DeviceId;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// Devices per page.
const PAGE: usize = 256;

type Page = Box<[Option<(DeviceId, Device)>]>;

#[derive(Clone, Default)]
pub struct DeviceTable {
    /// Page `p` holds ids `p * PAGE ..`; a page is allocated on first use.
    pages: Vec<Option<Page>>,
    /// Devices whose id is beyond the pages (all above every paged id).
    sparse: BTreeMap<DeviceId, Device>,
    /// Devices in pages.
    paged: usize,
}

fn split(id: DeviceId) -> (usize, usize) {
    let i = id.0 as usize;
    (i / PAGE, i % PAGE)
}

impl DeviceTable {
    pub fn new() -> DeviceTable {
        DeviceTable::default()
    }

    pub fn len(&self) -> usize {
        self.paged + self.sparse.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, id: &DeviceId) -> Option<&Device> {
        let (p, o) = split(*id);
        match self.pages.get(p) {
            Some(page) => page.as_ref()?[o].as_ref().map(|(_, d)| d),
            None => self.sparse.get(id),
        }
    }

    pub fn get_mut(&mut self, id: &DeviceId) -> Option<&mut Device> {
        let (p, o) = split(*id);
        match self.pages.get_mut(p) {
            Some(page) => page.as_mut()?[o].as_mut().map(|(_, d)| d),
            None => self.sparse.get_mut(id),
        }
    }

    pub fn contains_key(&self, id: &DeviceId) -> bool {
        self.get(id).is_some()
    }

    pub fn insert(&mut self, id: DeviceId, dev: Device) -> Option<Device> {
        let (p, o) = split(id);
        if p >= self.pages.len() {
            // Pages for ids up to about twice the devices known: memory
            // stays proportional to the devices, whatever ids they use.
            let limit = 2 * (self.len() + 1).div_ceil(PAGE) + 2;
            if p >= limit {
                return self.sparse.insert(id, dev);
            }
            self.pages.resize_with(p + 1, || None);
            // Sparse ids now below the pages' end move into them.
            let end = DeviceId(u32::try_from(self.pages.len() * PAGE).unwrap_or(u32::MAX));
            let above = self.sparse.split_off(&end);
            for (i, d) in std::mem::replace(&mut self.sparse, above) {
                self.insert(i, d);
            }
        }
        let page = self.pages[p].get_or_insert_with(|| {
            std::iter::repeat_with(|| None)
                .take(PAGE)
                .collect::<Vec<_>>()
                .into_boxed_slice()
        });
        let old = page[o].replace((id, dev)).map(|(_, d)| d);
        self.paged += usize::from(old.is_none());
        old
    }

    pub fn remove(&mut self, id: &DeviceId) -> Option<Device> {
        let (p, o) = split(*id);
        match self.pages.get_mut(p) {
            Some(page) => {
                let old = page.as_mut()?[o].take().map(|(_, d)| d);
                self.paged -= usize::from(old.is_some());
                old
            }
            None => self.sparse.remove(id),
        }
    }

    /// Devices in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&DeviceId, &Device)> + '_ {
        self.pages
            .iter()
            .flatten()
            .flat_map(|page| page.iter().flatten().map(|(id, d)| (id, d)))
            .chain(self.sparse.iter())
    }

    /// Devices in id order, mutable.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&DeviceId, &mut Device)> + '_ {
        self.pages
            .iter_mut()
            .flatten()
            .flat_map(|page| page.iter_mut().flatten().map(|(id, d)| (&*id, d)))
            .chain(self.sparse.iter_mut())
    }

    /// Devices in slot `slot` of `slots` (id `d` is in slot `d mod
    /// slots`: a phased source's devices), in id order, visiting only
    /// those ids: a slot costs its share of the table, not all of it.
    pub fn in_slot(
        &self,
        slot: u32,
        slots: u32,
    ) -> impl Iterator<Item = (&DeviceId, &Device)> + '_ {
        let slots = slots.max(1);
        let paged_end = self.pages.len() * PAGE;
        (slot as usize..paged_end)
            .step_by(slots as usize)
            .filter_map(move |i| {
                let (p, o) = (i / PAGE, i % PAGE);
                self.pages[p].as_ref()?[o].as_ref().map(|(id, d)| (id, d))
            })
            .chain(
                self.sparse
                    .iter()
                    .filter(move |(id, _)| id.0 % slots == slot),
            )
    }

    pub fn keys(&self) -> impl Iterator<Item = &DeviceId> + '_ {
        self.iter().map(|(id, _)| id)
    }

    pub fn values(&self) -> impl Iterator<Item = &Device> + '_ {
        self.iter().map(|(_, d)| d)
    }
}

impl<'a> IntoIterator for &'a DeviceTable {
    type Item = (&'a DeviceId, &'a Device);
    type IntoIter = Box<dyn Iterator<Item = (&'a DeviceId, &'a Device)> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl std::ops::Index<&DeviceId> for DeviceTable {
    type Output = Device;
    /// Panics when the device is unknown, like `BTreeMap`'s index.
    fn index(&self, id: &DeviceId) -> &Device {
        match self.get(id) {
            Some(d) => d,
            None => panic!("no device {id}"),
        }
    }
}

impl PartialEq for DeviceTable {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for DeviceTable {}

impl std::fmt::Debug for DeviceTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for DeviceTable {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for DeviceTable {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<DeviceTable, D::Error> {
        let mut t = DeviceTable::new();
        for (id, dev) in BTreeMap::<DeviceId, Device>::deserialize(d)? {
            t.insert(id, dev);
        }
        Ok(t)
    }
}
