//! The content store: result payloads by the instance that produced them,
//! so the runtime can move real bytes where the core only moves metadata
//! (`Handoff::Relay`, `Storage`, `RemoteMemory`, `InWorker` name the
//! producing instance).
//!
//! Bounded in bytes: when a new payload would exceed the budget the oldest
//! payloads are evicted first (a consumer that comes later than that gets
//! an empty input and the eviction is counted). Payloads are immutable
//! `Bytes`, so handing one to several consumers copies nothing.

use bytes::Bytes;
use hivemind_controller::InstanceId;
use std::collections::{BTreeMap, VecDeque};

#[derive(Debug)]
pub struct ContentStore {
    budget: usize,
    held: usize,
    items: BTreeMap<InstanceId, Bytes>,
    order: VecDeque<InstanceId>,
    pub evicted: u64,
    pub misses: u64,
}

impl ContentStore {
    pub fn new(budget_bytes: usize) -> ContentStore {
        ContentStore {
            budget: budget_bytes,
            held: 0,
            items: BTreeMap::new(),
            order: VecDeque::new(),
            evicted: 0,
            misses: 0,
        }
    }

    /// Keep `payload` as `instance`'s output. The first result of an
    /// instance wins, as in the core (a duplicate is ignored).
    pub fn put(&mut self, instance: InstanceId, payload: Bytes) {
        if self.items.contains_key(&instance) || payload.len() > self.budget {
            return;
        }
        while self.held + payload.len() > self.budget {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(b) = self.items.remove(&old) {
                self.held -= b.len();
                self.evicted += 1;
            }
        }
        self.held += payload.len();
        self.items.insert(instance, payload);
        self.order.push_back(instance);
    }

    /// The output of `instance` (empty, counted as a miss, when it was
    /// never stored or has been evicted).
    pub fn get(&mut self, instance: InstanceId) -> Bytes {
        match self.items.get(&instance) {
            Some(b) => b.clone(),
            None => {
                self.misses += 1;
                Bytes::new()
            }
        }
    }

    pub fn held_bytes(&self) -> usize {
        self.held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_payloads_go_first_and_the_budget_holds() {
        let mut s = ContentStore::new(10);
        s.put(InstanceId(1), Bytes::from_static(b"aaaa"));
        s.put(InstanceId(2), Bytes::from_static(b"bbbb"));
        s.put(InstanceId(3), Bytes::from_static(b"cccc"));
        assert_eq!(s.held_bytes(), 8);
        assert_eq!(s.get(InstanceId(1)), Bytes::new());
        assert_eq!(s.get(InstanceId(3)), Bytes::from_static(b"cccc"));
        assert_eq!((s.evicted, s.misses), (1, 1));
    }

    #[test]
    fn the_first_result_wins_and_oversized_payloads_are_not_kept() {
        let mut s = ContentStore::new(4);
        s.put(InstanceId(1), Bytes::from_static(b"ab"));
        s.put(InstanceId(1), Bytes::from_static(b"zz"));
        s.put(InstanceId(2), Bytes::from_static(b"toolong"));
        assert_eq!(s.get(InstanceId(1)), Bytes::from_static(b"ab"));
        assert_eq!(s.get(InstanceId(2)), Bytes::new());
    }
}
