//! The content store: result payloads by the instance that produced them,
//! so the runtime can move real bytes where the core only moves metadata
//! (`Handoff::Relay`, `Storage`, `RemoteMemory`, `InWorker` name the
//! producing instance).
//!
//! * **Freed when nobody can read it any more.** The driver sweeps the
//!   store against the values the core still holds (`Controller::
//!   live_values`: parents of unresolved instances, values waiting in an
//!   activation, a join or a batch): a payload no live value names, stored
//!   before the previous sweep, is dropped — every consumer has resolved.
//! * **Bounded in memory, spilled to disk.** Beyond the memory budget the
//!   oldest payloads move to files in the spill directory (read back on
//!   demand); beyond the disk budget the oldest spilled ones are evicted —
//!   a consumer that comes later gets an empty input, and the eviction is
//!   counted and logged (never silent).
//!
//! Payloads are immutable `Bytes`, so handing one to several consumers
//! copies nothing. Spilled files are scratch: the directory is emptied
//! when the store opens (payloads do not outlive the controller process).

use crate::remote::{Placement, RemoteArena};
use bytes::Bytes;
use hivemind_controller::InstanceId;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;

#[derive(Debug)]
struct Entry {
    len: usize,
    at: Location,
    /// The sweep generation it was stored in.
    generation: u64,
}

#[derive(Debug)]
enum Location {
    Memory(Bytes),
    /// Spilled to its file.
    Disk,
    /// In remote memory (a `RemoteMemory` hand-off's producer).
    Remote(Placement),
}

#[derive(Debug)]
pub struct ContentStore {
    memory_budget: usize,
    disk_budget: u64,
    /// Where spilled payloads go (`None`: no spilling, evict instead).
    dir: Option<PathBuf>,
    entries: BTreeMap<InstanceId, Entry>,
    /// In-memory entries, oldest first (may name entries since spilled or
    /// freed: skipped).
    memory_order: VecDeque<InstanceId>,
    /// Spilled entries, oldest first (same).
    disk_order: VecDeque<InstanceId>,
    in_memory: usize,
    on_disk: u64,
    generation: u64,
    /// Payloads dropped while a consumer could still have read them.
    pub evicted: u64,
    /// Reads of a payload that was never stored, or evicted.
    pub misses: u64,
    /// Payloads written to the spill directory.
    pub spilled: u64,
    /// Payloads freed by a sweep (every reader resolved).
    pub freed: u64,
    remote: Option<RemoteArena>,
    /// Payloads placed in remote memory.
    pub remote_puts: u64,
    /// Payloads meant for remote memory that did not fit there (kept here).
    pub remote_fallbacks: u64,
}

impl ContentStore {
    /// A store holding at most `memory_budget` bytes, evicting beyond it.
    pub fn new(memory_budget: usize) -> ContentStore {
        ContentStore {
            memory_budget,
            disk_budget: 0,
            dir: None,
            entries: BTreeMap::new(),
            memory_order: VecDeque::new(),
            disk_order: VecDeque::new(),
            in_memory: 0,
            on_disk: 0,
            generation: 0,
            evicted: 0,
            misses: 0,
            spilled: 0,
            freed: 0,
            remote: None,
            remote_puts: 0,
            remote_fallbacks: 0,
        }
    }

    /// Payloads of `RemoteMemory` hand-offs go to `arena` ([`Self::put_remote`]).
    pub fn with_remote(mut self, arena: RemoteArena) -> ContentStore {
        self.remote = Some(arena);
        self
    }

    /// Keep `payload` as `instance`'s output in remote memory, where its
    /// consumers read it one-sided; in this store when there is no remote
    /// memory or it does not fit (counted).
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
        self.entries.insert(
            instance,
            Entry {
                len: payload.len(),
                at: Location::Remote(at),
                generation: self.generation,
            },
        );
    }

    /// A store that spills beyond `memory_budget` to files in `dir` (up to
    /// `disk_budget` bytes). The directory is created, and emptied of what
    /// an earlier process left.
    pub fn with_spill(
        memory_budget: usize,
        dir: PathBuf,
        disk_budget: u64,
    ) -> std::io::Result<ContentStore> {
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        let mut s = ContentStore::new(memory_budget);
        s.dir = Some(dir);
        s.disk_budget = disk_budget;
        Ok(s)
    }

    fn file(&self, id: InstanceId) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(format!("{}.bin", id.0)))
    }

    /// Keep `payload` as `instance`'s output. The first result of an
    /// instance wins, as in the core (a duplicate is ignored).
    pub fn put(&mut self, instance: InstanceId, payload: Bytes) {
        if self.entries.contains_key(&instance) {
            return;
        }
        let len = payload.len();
        self.entries.insert(
            instance,
            Entry {
                len,
                at: Location::Memory(payload),
                generation: self.generation,
            },
        );
        self.memory_order.push_back(instance);
        self.in_memory += len;
        self.make_room();
    }

    /// Spill (or evict) the oldest in-memory payloads until the memory
    /// budget holds, then evict the oldest spilled ones until the disk
    /// budget does.
    fn make_room(&mut self) {
        while self.in_memory > self.memory_budget {
            let Some(id) = self.memory_order.pop_front() else {
                break;
            };
            let Some(e) = self.entries.get_mut(&id) else {
                continue;
            };
            let Location::Memory(bytes) = std::mem::replace(&mut e.at, Location::Disk) else {
                continue;
            };
            self.in_memory -= bytes.len();
            let written = self
                .file(id)
                .map(|path| std::fs::write(&path, &bytes).map_err(|e| (path, e)));
            match written {
                Some(Ok(())) => {
                    self.spilled += 1;
                    self.on_disk += bytes.len() as u64;
                    self.disk_order.push_back(id);
                }
                Some(Err((path, e))) => {
                    tracing::warn!("cannot spill {id} to {}: {e}; evicted", path.display());
                    self.evict(id);
                }
                None => self.evict(id),
            }
        }
        while self.on_disk > self.disk_budget {
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

    /// Remove an entry and its file; whether it was there.
    fn remove(&mut self, id: InstanceId) -> bool {
        let Some(e) = self.entries.remove(&id) else {
            return false;
        };
        match e.at {
            Location::Memory(b) => self.in_memory -= b.len(),
            Location::Disk => {
                self.on_disk = self.on_disk.saturating_sub(e.len as u64);
                if let Some(path) = self.file(id) {
                    let _ = std::fs::remove_file(path);
                }
            }
            Location::Remote(at) => {
                if let Some(r) = &mut self.remote {
                    r.release(at);
                }
            }
        }
        true
    }

    /// The output of `instance` (empty, counted as a miss, when it was
    /// never stored or has been evicted).
    pub fn get(&mut self, instance: InstanceId) -> Bytes {
        let spilled = match self.entries.get(&instance).map(|e| &e.at) {
            Some(Location::Memory(b)) => return b.clone(),
            Some(Location::Disk) => self.file(instance),
            Some(&Location::Remote(at)) => {
                let read = self.remote.as_mut().map(|r| r.get(at));
                return match read {
                    Some(Ok(b)) => Bytes::from(b),
                    other => {
                        tracing::warn!(?other, "cannot read {instance} from remote memory");
                        self.misses += 1;
                        Bytes::new()
                    }
                };
            }
            None => None,
        };
        match spilled.map(std::fs::read) {
            Some(Ok(b)) => Bytes::from(b),
            Some(Err(e)) => {
                tracing::warn!("cannot read spilled {instance}: {e}");
                self.misses += 1;
                Bytes::new()
            }
            None => {
                self.misses += 1;
                Bytes::new()
            }
        }
    }

    /// Free every payload that no value in `live` names and that was
    /// stored before the previous sweep (a payload stored since may belong
    /// to a result the core has not seen yet). Returns how many were freed.
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
        doomed.len()
    }

    pub fn held_bytes(&self) -> usize {
        self.in_memory
    }

    pub fn spilled_bytes(&self) -> u64 {
        self.on_disk
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
        let mut s = ContentStore::with_spill(8, dir.path().join("store"), 1 << 20).unwrap();
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
        let mut s = ContentStore::with_spill(4, dir.path().join("store"), 8).unwrap();
        for i in 1..=5 {
            s.put(InstanceId(i), b(b"xxxx"));
        }
        assert!(s.spilled_bytes() <= 8);
        assert_eq!(s.evicted, 2);
        assert_eq!(s.get(InstanceId(1)), Bytes::new());
        assert_eq!(s.get(InstanceId(5)), b(b"xxxx"));
        assert_eq!(s.misses, 1);
    }

    #[test]
    fn a_sweep_frees_what_no_live_value_names_after_one_generation() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = ContentStore::with_spill(4, dir.path().join("store"), 1 << 20).unwrap();
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
        let files = std::fs::read_dir(dir.path().join("store")).unwrap().count();
        assert_eq!(
            files as u64 * 4,
            s.spilled_bytes(),
            "freed files are deleted"
        );
    }

    #[test]
    fn a_spill_directory_from_an_earlier_process_is_emptied() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        std::fs::create_dir_all(&store).unwrap();
        std::fs::write(store.join("7.bin"), b"stale").unwrap();
        let mut s = ContentStore::with_spill(4, store.clone(), 100).unwrap();
        assert_eq!(s.get(InstanceId(7)), Bytes::new());
        assert_eq!(std::fs::read_dir(&store).unwrap().count(), 0);
    }
}
