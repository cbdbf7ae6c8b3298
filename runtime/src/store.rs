//! The content store: result payloads by the instance that produced them,
//! so the runtime can move real bytes where the core only moves metadata
//! (`Handoff::Relay`, `Storage`, `RemoteMemory`, `InWorker` name the
//! producing instance).
//!
//! * **Durable with its result.** Every payload goes into the payload log
//!   ([`crate::payload_log`]), synced before the journal commit that
//!   records the result: a controller killed and restarted finds every
//!   payload its recovered state can still hand to a consumer.
//! * **Freed when nobody can read it any more.** The driver sweeps the
//!   store against the values the core still holds (`Controller::
//!   live_values`: parents of unresolved instances, values waiting in an
//!   activation, a join or a batch): a payload no live value names, stored
//!   before the previous sweep, is dropped — every consumer has resolved —
//!   and the log is rewritten once most of it is dead.
//! * **Bounded in memory, then read from disk.** Beyond the memory budget
//!   the oldest payloads are dropped from memory and read back from the log
//!   on demand; beyond the disk budget the oldest of those are evicted — a
//!   consumer that comes later gets an empty input, and the eviction is
//!   counted and logged (never silent).
//!
//! Payloads are immutable `Bytes`, so handing one to several consumers
//! copies nothing.

use crate::payload_log::PayloadLog;
use crate::remote::{Placement, RemoteArena};
use bytes::Bytes;
use hivemind_controller::InstanceId;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

/// The log is rewritten when it holds this much more than its live
/// payloads (and more than twice them).
const REWRITE_SLACK: u64 = 16 << 20;

#[derive(Debug)]
struct Entry {
    len: usize,
    at: Location,
    /// Where its bytes are in the payload log.
    logged: Option<u64>,
    /// The sweep generation it was stored in.
    generation: u64,
}

#[derive(Debug)]
enum Location {
    Memory(Bytes),
    /// Only in the payload log.
    Disk,
    /// In remote memory (a `RemoteMemory` hand-off's producer).
    Remote(Placement),
}

#[derive(Debug)]
pub struct ContentStore {
    memory_budget: usize,
    disk_budget: u64,
    log: Option<PayloadLog>,
    entries: BTreeMap<InstanceId, Entry>,
    /// In-memory entries, oldest first (may name entries since moved or
    /// freed: skipped).
    memory_order: VecDeque<InstanceId>,
    /// Entries only on disk, oldest first (same).
    disk_order: VecDeque<InstanceId>,
    in_memory: usize,
    /// Bytes of entries only on disk.
    on_disk: u64,
    /// Bytes of live entries in the log.
    logged: u64,
    generation: u64,
    /// Payloads dropped while a consumer could still have read them.
    pub evicted: u64,
    /// Reads of a payload that was never stored, or evicted.
    pub misses: u64,
    /// Payloads dropped from memory (read back from the log).
    pub spilled: u64,
    /// Payloads freed by a sweep (every reader resolved).
    pub freed: u64,
    /// Payloads found in the log when it was opened (a restart).
    pub recovered: u64,
    remote: Option<RemoteArena>,
    /// Payloads placed in remote memory.
    pub remote_puts: u64,
    /// Payloads meant for remote memory that did not fit there (kept here).
    pub remote_fallbacks: u64,
}

impl ContentStore {
    /// A store in memory only, holding at most `memory_budget` bytes and
    /// evicting beyond it.
    pub fn new(memory_budget: usize) -> ContentStore {
        ContentStore {
            memory_budget,
            disk_budget: 0,
            log: None,
            entries: BTreeMap::new(),
            memory_order: VecDeque::new(),
            disk_order: VecDeque::new(),
            in_memory: 0,
            on_disk: 0,
            logged: 0,
            generation: 0,
            evicted: 0,
            misses: 0,
            spilled: 0,
            freed: 0,
            recovered: 0,
            remote: None,
            remote_puts: 0,
            remote_fallbacks: 0,
        }
    }

    /// A store whose payloads are durable in the log at `path` (up to
    /// `disk_budget` live bytes). `recovering`: the controller recovered
    /// its journal, so the payloads an earlier process logged are indexed;
    /// otherwise (a new mission) the old log is removed.
    pub fn with_log(
        memory_budget: usize,
        path: &Path,
        disk_budget: u64,
        recovering: bool,
    ) -> std::io::Result<ContentStore> {
        if !recovering && path.exists() {
            std::fs::remove_file(path)?;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let (log, found) = PayloadLog::open(path)?;
        let mut s = ContentStore::new(memory_budget);
        s.disk_budget = disk_budget;
        for f in found {
            // A later frame of the same instance (a replay logged twice)
            // holds the same bytes: the first wins, as in the core.
            if s.entries.contains_key(&f.instance) {
                continue;
            }
            s.entries.insert(
                f.instance,
                Entry {
                    len: f.len as usize,
                    at: Location::Disk,
                    logged: Some(f.offset),
                    generation: 0,
                },
            );
            s.disk_order.push_back(f.instance);
            s.on_disk += u64::from(f.len);
            s.logged += u64::from(f.len);
            s.recovered += 1;
        }
        s.log = Some(log);
        Ok(s)
    }

    /// Payloads of `RemoteMemory` hand-offs go to `arena` ([`Self::put_remote`]).
    pub fn with_remote(mut self, arena: RemoteArena) -> ContentStore {
        self.remote = Some(arena);
        self
    }

    /// Append to the log (if any); where the bytes are.
    fn log_append(&mut self, instance: InstanceId, payload: &[u8]) -> Option<u64> {
        let log = self.log.as_mut()?;
        match log.append(instance, payload) {
            Ok(at) => {
                self.logged += payload.len() as u64;
                Some(at)
            }
            Err(e) => {
                tracing::warn!("cannot log the payload of {instance}: {e}");
                None
            }
        }
    }

    /// Keep `payload` as `instance`'s output in remote memory, where its
    /// consumers read it one-sided; in this store when there is no remote
    /// memory or it does not fit (counted). Logged either way.
    pub fn put_remote(&mut self, instance: InstanceId, payload: Bytes) {
        if self.entries.contains_key(&instance) {
            return;
        }
        let placed = self.remote.as_mut().and_then(|r| r.put(&payload));
        let Some(at) = placed else {
            self.remote_fallbacks += u64::from(self.remote.is_some());
            return self.put(instance, payload);
        };
        self.remote_puts += 1;
        let logged = self.log_append(instance, &payload);
        self.entries.insert(
            instance,
            Entry {
                len: payload.len(),
                at: Location::Remote(at),
                logged,
                generation: self.generation,
            },
        );
    }

    /// Keep `payload` as `instance`'s output. The first result of an
    /// instance wins, as in the core (a duplicate is ignored).
    pub fn put(&mut self, instance: InstanceId, payload: Bytes) {
        if self.entries.contains_key(&instance) {
            return;
        }
        let len = payload.len();
        let logged = self.log_append(instance, &payload);
        self.entries.insert(
            instance,
            Entry {
                len,
                at: Location::Memory(payload),
                logged,
                generation: self.generation,
            },
        );
        self.memory_order.push_back(instance);
        self.in_memory += len;
        self.make_room();
    }

    /// Make what was stored since the last call durable (before the
    /// journal commit that records those results).
    pub fn sync(&mut self) -> std::io::Result<()> {
        match &mut self.log {
            Some(log) => log.sync(),
            None => Ok(()),
        }
    }

    /// The payload log, if any (the driver syncs it beside the journal).
    pub fn log_mut(&mut self) -> Option<&mut PayloadLog> {
        self.log.as_mut()
    }

    /// Drop the oldest payloads from memory (logged: they stay readable;
    /// not logged: evicted) until the memory budget holds, then evict the
    /// oldest disk-only ones until the disk budget does.
    fn make_room(&mut self) {
        while self.in_memory > self.memory_budget {
            let Some(id) = self.memory_order.pop_front() else {
                break;
            };
            let Some(e) = self.entries.get_mut(&id) else {
                continue;
            };
            if !matches!(e.at, Location::Memory(_)) {
                continue;
            }
            if e.logged.is_none() {
                self.evict(id);
                continue;
            }
            e.at = Location::Disk;
            self.in_memory -= e.len;
            self.on_disk += e.len as u64;
            self.spilled += 1;
            self.disk_order.push_back(id);
        }
        while self.log.is_some() && self.logged > self.disk_budget {
            let Some(id) = self.disk_order.pop_front() else {
                break;
            };
            if self
                .entries
                .get(&id)
                .is_some_and(|e| matches!(e.at, Location::Disk))
            {
                tracing::warn!(
                    "content store over its disk budget ({} bytes): {id} evicted",
                    self.disk_budget
                );
                self.evict(id);
            }
        }
    }

    /// Drop an entry a consumer might still read (counted).
    fn evict(&mut self, id: InstanceId) {
        if self.remove(id) {
            self.evicted += 1;
        }
    }

    /// Forget an entry (its log bytes go at the next rewrite); whether it
    /// was there.
    fn remove(&mut self, id: InstanceId) -> bool {
        let Some(e) = self.entries.remove(&id) else {
            return false;
        };
        if e.logged.is_some() {
            self.logged = self.logged.saturating_sub(e.len as u64);
        }
        match e.at {
            Location::Memory(b) => self.in_memory -= b.len(),
            Location::Disk => self.on_disk = self.on_disk.saturating_sub(e.len as u64),
            Location::Remote(at) => {
                if let Some(r) = &mut self.remote {
                    r.release(at);
                }
            }
        }
        true
    }

    /// The bytes of an entry, wherever they are.
    fn read(&mut self, instance: InstanceId) -> Result<Bytes, String> {
        let e = self
            .entries
            .get(&instance)
            .ok_or("never stored, or evicted")?;
        let (len, logged) = (e.len, e.logged);
        match &e.at {
            Location::Memory(b) => Ok(b.clone()),
            &Location::Remote(at) => {
                let r = self.remote.as_mut().ok_or("no remote memory")?;
                r.get(at).map(Bytes::from).map_err(|s| format!("{s:?}"))
            }
            Location::Disk => {
                let (log, at) = self.log.as_ref().zip(logged).ok_or("not logged")?;
                let len = u32::try_from(len).map_err(|e| e.to_string())?;
                log.read(at, len)
                    .map(Bytes::from)
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// The output of `instance` (empty, counted as a miss, when it was
    /// never stored, has been evicted or cannot be read).
    pub fn get(&mut self, instance: InstanceId) -> Bytes {
        match self.read(instance) {
            Ok(b) => b,
            Err(why) => {
                if self.entries.contains_key(&instance) {
                    tracing::warn!("cannot read the payload of {instance}: {why}");
                }
                self.misses += 1;
                Bytes::new()
            }
        }
    }

    /// Free every payload that no value in `live` names and that was
    /// stored before the previous sweep (a payload stored since may belong
    /// to a result the core has not seen yet). Returns how many were freed.
    /// Rewrites the log once it is mostly dead.
    pub fn sweep(&mut self, live: &BTreeSet<InstanceId>) -> usize {
        let doomed: Vec<InstanceId> = self
            .entries
            .iter()
            .filter(|(id, e)| e.generation < self.generation && !live.contains(id))
            .map(|(&id, _)| id)
            .collect();
        for &id in &doomed {
            self.remove(id);
        }
        self.freed += doomed.len() as u64;
        self.generation += 1;
        // The order queues forget what is gone.
        let entries = &self.entries;
        self.memory_order.retain(|id| {
            entries
                .get(id)
                .is_some_and(|e| matches!(e.at, Location::Memory(_)))
        });
        self.disk_order.retain(|id| {
            entries
                .get(id)
                .is_some_and(|e| matches!(e.at, Location::Disk))
        });
        if let Err(e) = self.rewrite_if_mostly_dead() {
            tracing::warn!("cannot rewrite the payload log: {e}");
        }
        doomed.len()
    }

    fn rewrite_if_mostly_dead(&mut self) -> std::io::Result<()> {
        let Some(size) = self.log.as_ref().map(PayloadLog::len) else {
            return Ok(());
        };
        if size <= self.logged.saturating_mul(2).saturating_add(REWRITE_SLACK) {
            return Ok(());
        }
        let frames: Vec<(InstanceId, u64, u32)> = self
            .entries
            .iter()
            .filter_map(|(&id, e)| Some((id, e.logged?, u32::try_from(e.len).ok()?)))
            .collect();
        let Some(log) = self.log.as_mut() else {
            return Ok(());
        };
        let offsets = log.rewrite(&frames)?;
        for (&(id, ..), at) in frames.iter().zip(offsets) {
            if let Some(e) = self.entries.get_mut(&id) {
                e.logged = Some(at);
            }
        }
        Ok(())
    }

    pub fn held_bytes(&self) -> usize {
        self.in_memory
    }

    /// Bytes of payloads held only on disk.
    pub fn spilled_bytes(&self) -> u64 {
        self.on_disk
    }

    /// Size of the payload log, dead frames included.
    pub fn log_bytes(&self) -> u64 {
        self.log.as_ref().map_or(0, PayloadLog::len)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &'static [u8]) -> Bytes {
        Bytes::from_static(s)
    }

    #[test]
    fn remote_payloads_are_read_back_freed_and_kept_here_when_they_do_not_fit() {
        // 64 words of 8 bytes: 512 bytes of remote memory.
        let arena = RemoteArena::software(hivemind_fpga::HwParams {
            data_bits: 64,
            mem_addr_bits: 6,
            ..crate::remote::FALLBACK
        })
        .unwrap();
        let mut s = ContentStore::new(1 << 20).with_remote(arena);
        let a = Bytes::from(vec![1u8; 300]);
        let big = Bytes::from(vec![2u8; 300]);
        s.put_remote(InstanceId(1), a.clone());
        // No room left for a second 300 bytes: kept in memory, counted.
        s.put_remote(InstanceId(2), big.clone());
        assert_eq!((s.remote_puts, s.remote_fallbacks), (1, 1));
        assert_eq!(s.held_bytes(), 300);
        assert_eq!(s.get(InstanceId(1)), a);
        assert_eq!(s.get(InstanceId(2)), big);
        // Two sweeps free both (stored before the previous sweep), and the
        // remote space is reusable.
        s.sweep(&BTreeSet::new());
        s.sweep(&BTreeSet::new());
        assert!(s.is_empty());
        s.put_remote(InstanceId(3), big.clone());
        assert_eq!(s.remote_puts, 2);
        assert_eq!(s.get(InstanceId(3)), big);
        assert_eq!(s.misses, 0);
    }

    #[test]
    fn without_spill_the_oldest_payloads_go_first_and_the_budget_holds() {
        let mut s = ContentStore::new(10);
        s.put(InstanceId(1), b(b"aaaa"));
        s.put(InstanceId(2), b(b"bbbb"));
        s.put(InstanceId(3), b(b"cccc"));
        assert_eq!(s.held_bytes(), 8);
        assert_eq!(s.get(InstanceId(1)), Bytes::new());
        assert_eq!(s.get(InstanceId(3)), b(b"cccc"));
        assert_eq!((s.evicted, s.misses), (1, 1));
    }

    #[test]
    fn the_first_result_wins() {
        let mut s = ContentStore::new(4);
        s.put(InstanceId(1), b(b"ab"));
        s.put(InstanceId(1), b(b"zz"));
        assert_eq!(s.get(InstanceId(1)), b(b"ab"));
    }

    #[test]
    fn beyond_memory_payloads_spill_to_disk_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut s =
            ContentStore::with_log(8, &dir.path().join("payloads.log"), 1 << 20, false).unwrap();
        s.put(InstanceId(1), b(b"aaaa"));
        s.put(InstanceId(2), b(b"bbbb"));
        s.put(InstanceId(3), b(b"cccc"));
        s.put(InstanceId(4), b(b"a payload larger than memory"));
        assert!(s.held_bytes() <= 8);
        assert_eq!(s.evicted, 0);
        assert!(s.spilled >= 2);
        for (id, want) in [
            (1, &b"aaaa"[..]),
            (2, b"bbbb"),
            (3, b"cccc"),
            (4, b"a payload larger than memory"),
        ] {
            assert_eq!(s.get(InstanceId(id)), Bytes::from(want.to_vec()), "{id}");
        }
        assert_eq!(s.misses, 0);
    }

    #[test]
    fn beyond_the_disk_budget_the_oldest_spilled_are_evicted_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = ContentStore::with_log(4, &dir.path().join("payloads.log"), 8, false).unwrap();
        for i in 1..=5 {
            s.put(InstanceId(i), b(b"xxxx"));
        }
        // 8 live bytes logged at most: the one in memory and one on disk.
        assert!(s.spilled_bytes() <= 4);
        assert_eq!(s.evicted, 3);
        assert_eq!(s.get(InstanceId(1)), Bytes::new());
        assert_eq!(s.get(InstanceId(5)), b(b"xxxx"));
        assert_eq!(s.misses, 1);
    }

    #[test]
    fn a_sweep_frees_what_no_live_value_names_after_one_generation() {
        let dir = tempfile::tempdir().unwrap();
        let mut s =
            ContentStore::with_log(4, &dir.path().join("payloads.log"), 1 << 20, false).unwrap();
        s.put(InstanceId(1), b(b"aaaa"));
        s.put(InstanceId(2), b(b"bbbb")); // spills 1
        let live: BTreeSet<InstanceId> = [InstanceId(2)].into();
        // Stored in this generation: kept whatever `live` says.
        assert_eq!(s.sweep(&BTreeSet::new()), 0);
        s.put(InstanceId(3), b(b"cccc"));
        // 1 (spilled) is no longer live, 2 is, 3 is too young.
        assert_eq!(s.sweep(&live), 1);
        assert_eq!(s.get(InstanceId(2)), b(b"bbbb"));
        assert_eq!(s.get(InstanceId(3)), b(b"cccc"));
        assert_eq!(
            s.spilled_bytes(),
            s.len() as u64 * 4 - s.held_bytes() as u64
        );
        assert_eq!((s.freed, s.evicted), (1, 0));
    }

    #[test]
    fn a_restart_finds_every_synced_payload_and_a_new_mission_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("payloads.log");
        let mut s = ContentStore::with_log(4, &path, 1 << 20, false).unwrap();
        s.put(InstanceId(1), b(b"aaaa"));
        s.put(InstanceId(2), b(b"bbbb"));
        s.sync().unwrap();
        s.put(InstanceId(3), b(b"never synced"));
        drop(s); // a crash: nothing flushed on the way out
        let mut s = ContentStore::with_log(4, &path, 1 << 20, true).unwrap();
        assert_eq!(s.recovered, 2);
        assert_eq!(s.get(InstanceId(1)), b(b"aaaa"));
        assert_eq!(s.get(InstanceId(2)), b(b"bbbb"));
        assert_eq!(s.get(InstanceId(3)), Bytes::new());
        assert_eq!(s.misses, 1);
        drop(s);
        let mut s = ContentStore::with_log(4, &path, 1 << 20, false).unwrap();
        assert_eq!((s.recovered, s.len()), (0, 0));
        assert_eq!(s.get(InstanceId(1)), Bytes::new());
    }

    #[test]
    fn a_mostly_dead_log_is_rewritten_with_the_live_payloads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("payloads.log");
        let mut s = ContentStore::with_log(1 << 20, &path, 1 << 30, false).unwrap();
        for i in 0..20u64 {
            s.put(InstanceId(i), Bytes::from(vec![i as u8; 1 << 20]));
        }
        s.sync().unwrap();
        assert!(s.log_bytes() > 20 << 20);
        let live: BTreeSet<InstanceId> = [InstanceId(19)].into();
        s.sweep(&live);
        s.sweep(&live);
        assert_eq!(s.len(), 1);
        assert!(s.log_bytes() < 2 << 20, "rewritten: {}", s.log_bytes());
        assert_eq!(s.get(InstanceId(19)), Bytes::from(vec![19u8; 1 << 20]));
        drop(s);
        let mut s = ContentStore::with_log(1 << 20, &path, 1 << 30, true).unwrap();
        assert_eq!(s.recovered, 1);
        assert_eq!(s.get(InstanceId(19)), Bytes::from(vec![19u8; 1 << 20]));
    }
}
