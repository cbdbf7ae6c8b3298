//! Soft liveness state: when each device was last heard from, indexed by
//! time so the liveness scan visits only the devices that may have gone
//! silent (amortized O(1) per device per silence period, instead of every
//! device on every tick). Never journaled; recovery resets it.

use crate::ids::{DeviceId, Epoch};
use crate::time::Micros;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Default)]
pub(super) struct Seen {
    last: BTreeMap<DeviceId, Micros>,
    /// One entry per device of `last`: (a time at or before it was last
    /// heard, id). Re-keyed lazily, when its time comes up in a scan.
    due: BTreeSet<(Micros, DeviceId)>,
}

impl Seen {
    pub(super) fn heard(&mut self, id: DeviceId, now: Micros) {
        match self.last.insert(id, now) {
            None => {
                self.due.insert((now, id));
            }
            // The core's clock never goes backwards; were it to, the entry
            // is re-keyed so it stays at or before the time last heard.
            Some(prev) if now < prev => {
                self.due.retain(|&(_, d)| d != id);
                self.due.insert((now, id));
            }
            Some(_) => {}
        }
    }

    /// Every device last heard `limit` or more before `now` that
    /// `in_service` (its epoch, if in service) still counts, in id order.
    /// A device out of service is forgotten until heard from again (only a
    /// join puts it back in service, and a join is heard).
    pub(super) fn silent(
        &mut self,
        now: Micros,
        limit: u64,
        mut in_service: impl FnMut(DeviceId) -> Option<Epoch>,
    ) -> Vec<(DeviceId, Epoch)> {
        let mut silent = Vec::new();
        while let Some(&(at, id)) = self.due.first() {
            if now.since(at) < limit {
                break;
            }
            self.due.pop_first();
            let Some(&last) = self.last.get(&id) else {
                continue;
            };
            match in_service(id) {
                None => {
                    self.last.remove(&id);
                }
                Some(epoch) if now.since(last) >= limit => silent.push((id, epoch)),
                Some(_) => {
                    self.due.insert((last, id));
                }
            }
        }
        // Checked again at the next scan (by then out of service).
        for &(id, _) in &silent {
            if let Some(&last) = self.last.get(&id) {
                self.due.insert((last, id));
            }
        }
        silent.sort_unstable();
        silent
    }

    /// Everyone in `ids` heard at `now`, nobody else (recovery's grace).
    pub(super) fn reset(&mut self, ids: impl IntoIterator<Item = DeviceId>, now: Micros) {
        self.last.clear();
        self.due.clear();
        for id in ids {
            self.heard(id, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against the plain rule: every device in service whose last-heard
    /// time is `limit` or more ago, checked on every scan.
    #[test]
    fn finds_exactly_the_silent_devices() {
        let limit = 3_000;
        let mut s = Seen::default();
        let mut last: BTreeMap<DeviceId, Micros> = BTreeMap::new();
        let mut in_service: BTreeMap<DeviceId, bool> = BTreeMap::new();
        let mut x: u64 = 7;
        let mut now = Micros(0);
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            now = now.plus(x % 300);
            let id = DeviceId((x >> 32) as u32 % 50);
            match x % 10 {
                0 => {
                    in_service.insert(id, false);
                }
                1..=7 if in_service.get(&id).copied().unwrap_or(false) || x % 10 == 1 => {
                    in_service.insert(id, true);
                    last.insert(id, now);
                    s.heard(id, now);
                }
                _ => {
                    let want: Vec<(DeviceId, Epoch)> = last
                        .iter()
                        .filter(|(d, t)| {
                            in_service.get(d).copied().unwrap_or(false) && now.since(**t) >= limit
                        })
                        .map(|(&d, _)| (d, Epoch(d.0)))
                        .collect();
                    let got = s.silent(now, limit, |d| {
                        in_service
                            .get(&d)
                            .copied()
                            .unwrap_or(false)
                            .then_some(Epoch(d.0))
                    });
                    assert_eq!(got, want, "at {now}");
                    // Declared silent: out of service, as the core does.
                    for (d, _) in got {
                        in_service.insert(d, false);
                    }
                }
            }
        }
    }
}
