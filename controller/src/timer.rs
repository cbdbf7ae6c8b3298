//! The core's own deadlines, in the quinn-proto shape: the core keeps a
//! table of timers; a driver asks [`crate::Controller::poll_timeout`] when
//! the earliest is due and calls [`crate::Controller::handle_timeout`] at
//! (or after) that time.
//!
//! The table is soft state: it is never journaled. Recovery rebuilds it
//! from the journaled state (periodic next-due times, retry deadlines,
//! live attempts' straggler checks, idle workers' keep-alives, the mission
//! end, the next tick). A timer that changes state when it fires is
//! journaled as a `Record::Timeout` before its effects, so replay repeats
//! what it did without needing the table.

use crate::ids::{InstanceId, WorkerId};
use crate::time::Micros;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What a deadline is for. A timer may be stale when it fires (its
/// instance finished, its worker got busy again): the core re-checks its
/// state, so firing one late or for nothing is harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Timer {
    /// Liveness scan (soft: its failures are journaled as
    /// `Record::DeviceSilent`), pool autoscaling and the drain timeout.
    Tick,
    /// Next activation of a periodic task.
    Periodic { task: u32 },
    /// Check whether attempt `attempt` of an instance is a straggler.
    Straggler { instance: InstanceId, attempt: u32 },
    /// Backoff of a failed instance is over.
    Retry { instance: InstanceId },
    /// An idle worker's keep-alive may have run out.
    KeepAlive { worker: WorkerId },
    /// Planned mission end.
    MissionEnd,
    /// Next round of retrain `retrain` (index into the mission's retrains).
    Retrain { retrain: u32 },
}

/// Timers armed at most once while pending (see [`Timers`]).
fn once(timer: Timer) -> bool {
    matches!(timer, Timer::Straggler { .. })
}

/// Pending timers ordered by (deadline, arming sequence), so timers due at
/// the same instant fire in the order they were armed. A timer is armed at
/// most once: arming it again moves it (every handler re-checks state, so
/// only the latest deadline matters). A straggler check names one attempt,
/// and an attempt's check is armed once (at dispatch, or after recovery
/// into an empty table), so it is not indexed for moving: that saves two
/// map updates per attempt, the core's most frequent timer.
#[derive(Debug, Clone, Default)]
pub(crate) struct Timers {
    due: BTreeSet<(Micros, u64, Timer)>,
    armed: BTreeMap<Timer, (Micros, u64)>,
    seq: u64,
}

impl Timers {
    pub(crate) fn arm(&mut self, at: Micros, timer: Timer) {
        self.seq += 1;
        if !once(timer) {
            if let Some((old_at, old_seq)) = self.armed.insert(timer, (at, self.seq)) {
                self.due.remove(&(old_at, old_seq, timer));
            }
        }
        self.due.insert((at, self.seq, timer));
    }

    pub(crate) fn next_deadline(&self) -> Option<Micros> {
        self.due.first().map(|&(at, _, _)| at)
    }

    /// The earliest timer due at or before `now`, removed from the table.
    pub(crate) fn pop_due(&mut self, now: Micros) -> Option<Timer> {
        if self.due.first()?.0 > now {
            return None;
        }
        let (_, _, timer) = self.due.pop_first()?;
        if !once(timer) {
            self.armed.remove(&timer);
        }
        Some(timer)
    }

    pub(crate) fn clear(&mut self) {
        self.due.clear();
        self.armed.clear();
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.due.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_by_deadline_then_arming_order_and_rearming_moves() {
        let mut t = Timers::default();
        t.arm(Micros(20), Timer::Tick);
        t.arm(Micros(10), Timer::MissionEnd);
        t.arm(Micros(10), Timer::Periodic { task: 0 });
        t.arm(
            Micros(5),
            Timer::Retry {
                instance: InstanceId(1),
            },
        );
        // Moved later: fires once, at its new deadline.
        t.arm(
            Micros(30),
            Timer::Retry {
                instance: InstanceId(1),
            },
        );
        assert_eq!(t.len(), 4);
        assert_eq!(t.next_deadline(), Some(Micros(10)));
        assert_eq!(t.pop_due(Micros(9)), None);
        assert_eq!(t.pop_due(Micros(25)), Some(Timer::MissionEnd));
        assert_eq!(t.pop_due(Micros(25)), Some(Timer::Periodic { task: 0 }));
        assert_eq!(t.pop_due(Micros(25)), Some(Timer::Tick));
        assert_eq!(t.pop_due(Micros(25)), None);
        assert_eq!(
            t.pop_due(Micros(30)),
            Some(Timer::Retry {
                instance: InstanceId(1)
            })
        );
        assert_eq!(t.next_deadline(), None);
    }
}
