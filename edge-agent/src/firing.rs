//! The firings the controller granted this device (`DeviceMsg::Fire`): a
//! source the device fires by itself at the controller's instants, so no
//! start command lies on its paths.
//!
//! The instants are on the controller's clock. The device keeps the least
//! `received − sent` it has seen (its clock's offset plus the shortest
//! one-way delay: a delayed message only raises it, so the minimum is the
//! best estimate, as in NTP's clock filter) and takes off the one-way
//! delay, half the connection's round trip. A firing whose instant has
//! passed when its grant arrives fires at once.

use hivemind_ir::TaskId;
use hivemind_proto::{Epoch, InstanceId};
use std::collections::BTreeMap;

/// One granted firing, due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub epoch: Epoch,
    pub instance: InstanceId,
    pub task: TaskId,
    /// W3C `traceparent` of the controller's dispatch of the grant (empty:
    /// not traced).
    pub traceparent: String,
}

#[derive(Debug, Default)]
pub struct Firings {
    /// Least `received − sent` seen (µs, local minus controller).
    offset_us: Option<i128>,
    /// By controller instant, then id.
    queue: BTreeMap<(u64, InstanceId), Due>,
}

impl Firings {
    /// A grant from registration `epoch`, sent at the controller's
    /// `sent_us`, received at local `received_us`.
    pub fn grant(&mut self, due: Due, at_us: u64, sent_us: u64, received_us: u64) {
        let offset = i128::from(received_us) - i128::from(sent_us);
        self.offset_us = Some(self.offset_us.map_or(offset, |o| o.min(offset)));
        self.queue.insert((at_us, due.instance), due);
    }

    /// The local instant (µs) of the controller's `at_us`.
    fn local_us(&self, at_us: u64, one_way_us: u64) -> u64 {
        let local = local_instant(self.offset_us, at_us, one_way_us);
        u64::try_from(local.max(0)).unwrap_or(u64::MAX)
    }

    /// When the next firing is due (local µs).
    pub fn next_due_us(&self, one_way_us: u64) -> Option<u64> {
        let (&(at, _), _) = self.queue.first_key_value()?;
        Some(self.local_us(at, one_way_us))
    }

    /// The firings due at local `now_us`, earliest first; they leave the
    /// queue.
    pub fn take_due(&mut self, now_us: u64, one_way_us: u64) -> Vec<Due> {
        let mut due = Vec::new();
        while let Some((&(at, instance), _)) = self.queue.first_key_value() {
            if self.local_us(at, one_way_us) > now_us {
                break;
            }
            if let Some(d) = self.queue.remove(&(at, instance)) {
                due.push(d);
            }
        }
        due
    }

    /// The controller took the firing back (placed elsewhere).
    pub fn cancel(&mut self, instance: InstanceId) {
        self.queue.retain(|&(_, id), _| id != instance);
    }

    /// A new registration (local time `now_us`): the others' grants still
    /// ahead are void (the new registration is granted those periods
    /// afresh); those already due still fire, under their registration —
    /// the controller created them, and counts their results even though
    /// that registration has ended (after a controller restart, or a spell
    /// cut off).
    pub fn keep_epoch(&mut self, epoch: Epoch, now_us: u64, one_way_us: u64) {
        let offset = self.offset_us;
        self.queue.retain(|&(at, _), d| {
            d.epoch == epoch || local_instant(offset, at, one_way_us) <= i128::from(now_us)
        });
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

/// The controller's instant `at_us` on the local clock (µs, may be
/// negative): plus the estimated offset, minus the one-way delay.
fn local_instant(offset_us: Option<i128>, at_us: u64, one_way_us: u64) -> i128 {
    i128::from(at_us) + offset_us.unwrap_or(0) - i128::from(one_way_us)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(epoch: u32, id: u64) -> Due {
        Due {
            epoch: Epoch(epoch),
            instance: InstanceId(id),
            task: TaskId(0),
            traceparent: String::new(),
        }
    }

    #[test]
    fn the_least_delay_sets_the_clock_and_firings_come_in_order() {
        let mut f = Firings::default();
        // Local clock 1 s behind the controller's; first grant delayed
        // 30 ms, the second only 2 ms: the second sets the estimate.
        f.grant(due(1, 20), 5_000_000, 1_000_000, 30_000);
        assert_eq!(f.next_due_us(0), Some(4_030_000));
        f.grant(due(1, 10), 4_000_000, 1_500_000, 502_000);
        assert_eq!(f.next_due_us(1_000), Some(3_001_000));
        assert!(f.take_due(3_000_999, 1_000).is_empty());
        assert_eq!(f.take_due(4_001_000, 1_000), vec![due(1, 10), due(1, 20)]);
        assert!(f.is_empty());
    }

    #[test]
    fn a_late_grant_is_due_at_once_and_cancels_and_new_epochs_drop_grants() {
        let mut f = Firings::default();
        f.grant(due(1, 1), 0, 10, 10);
        assert_eq!(f.take_due(0, 5), vec![due(1, 1)]);
        f.grant(due(1, 2), 100, 10, 10);
        f.grant(due(1, 3), 200, 10, 10);
        f.grant(due(2, 4), 300, 10, 10);
        f.grant(due(1, 5), 0, 10, 10);
        f.cancel(InstanceId(2));
        // Registration 2 at local 50: 1's grant due at 0 still fires, the
        // one due at 200 is void.
        f.keep_epoch(Epoch(2), 50, 0);
        assert_eq!(f.len(), 2);
        assert_eq!(f.take_due(u64::MAX, 0), vec![due(1, 5), due(2, 4)]);
    }

    #[test]
    fn extreme_instants_do_not_overflow() {
        let mut f = Firings::default();
        f.grant(due(1, 1), u64::MAX, 0, u64::MAX);
        f.grant(due(1, 2), u64::MAX, u64::MAX, 0);
        assert_eq!(f.next_due_us(u64::MAX), Some(0));
        assert_eq!(f.take_due(0, u64::MAX).len(), 2);
    }
}
