//! Batching consumers: `gather all` (one round), `gather n` (every n values)
//! and windows (`every` on a task with inputs). The rules are
//! `hivemind_ir::activation`'s; this module keeps the open batches and fires
//! them.
//!
//! A round is identified by the group of the activation that began it (a
//! source's firing, a window's or a gather's). Every activation records its
//! round; the core counts unresolved activations per (round, task), and a
//! `gather all` consumer fires when no activation of the round upstream of it
//! is unresolved.

use super::{Controller, Lineage, Parent, Phase};
use crate::ids::GroupId;
use crate::time::Micros;
use hivemind_ir::activation::Start;
use hivemind_ir::TaskId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Values gathered for one firing of a batching consumer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    pub values: u32,
    pub items: u32,
    /// The most recent value: where the consumer's input comes from.
    pub last: Parent,
    /// Per required path, the earliest start among the batch's values (a
    /// path through a batch is as slow as its oldest value).
    pub path_starts: Vec<(u16, Micros)>,
}

impl Batch {
    fn new(last: Parent, items: u32, path_starts: &[(u16, Micros)]) -> Batch {
        Batch {
            values: 1,
            items,
            last,
            path_starts: path_starts.to_vec(),
        }
    }

    fn add(&mut self, last: Parent, items: u32, path_starts: &[(u16, Micros)]) {
        self.values = self.values.saturating_add(1);
        self.items = self.items.saturating_add(items);
        self.last = last;
        merge_earliest(&mut self.path_starts, path_starts);
    }
}

/// Add `from`'s required-path starts to `into`, keeping the earliest start
/// of each path: a value made from several inputs is as old as its oldest.
pub(super) fn merge_earliest(into: &mut Vec<(u16, Micros)>, from: &[(u16, Micros)]) {
    for &(p, at) in from {
        match into.iter_mut().find(|(q, _)| *q == p) {
            Some(s) => s.1 = s.1.min(at),
            None => into.push((p, at)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Batches {
    /// Unresolved activations per (round, task).
    live: BTreeMap<(GroupId, TaskId), u32>,
    /// `gather all` consumers' values per (round, consumer).
    rounds: BTreeMap<(GroupId, TaskId), Batch>,
    /// The open window or `gather n` batch of each consumer.
    open: BTreeMap<TaskId, Batch>,
}

impl Batches {
    /// The producers whose values the open batches hold (their consumer's
    /// input is read from them when the batch fires).
    pub(super) fn parents(&self) -> impl Iterator<Item = crate::ids::InstanceId> + '_ {
        self.rounds
            .values()
            .chain(self.open.values())
            .map(|b| b.last.instance)
    }

    pub(super) fn opened(&mut self, round: GroupId, task: TaskId, activations: u32) {
        let n = self.live.entry((round, task)).or_default();
        *n = n.saturating_add(activations);
    }

    fn resolved(&mut self, round: GroupId, task: TaskId) {
        if let Some(n) = self.live.get_mut(&(round, task)) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.live.remove(&(round, task));
            }
        }
    }
}

impl Controller {
    /// A value of `producer` (round `round`) for batching consumer `c`.
    pub(super) fn batch_value(
        &mut self,
        now: Micros,
        c: TaskId,
        round: GroupId,
        value: Parent,
        items: u32,
        path_starts: &[(u16, Micros)],
    ) {
        let b = &mut self.st.batches;
        match self.d.activation[c.index()].start {
            Start::GatherRound => match b.rounds.get_mut(&(round, c)) {
                Some(batch) => batch.add(value, items, path_starts),
                None => {
                    b.rounds
                        .insert((round, c), Batch::new(value, items, path_starts));
                }
            },
            Start::Window { .. } | Start::GatherCount { .. } => {
                match b.open.get_mut(&c) {
                    Some(batch) => batch.add(value, items, path_starts),
                    None => {
                        b.open.insert(c, Batch::new(value, items, path_starts));
                    }
                }
                if let Start::GatherCount { n } = self.d.activation[c.index()].start {
                    if b.open.get(&c).is_some_and(|x| x.values >= n) {
                        self.fire_open(now, c);
                    }
                }
            }
            _ => {}
        }
    }

    /// An activation of `task` in `round` resolved: fire the `gather all`
    /// consumers of the round that nothing upstream still feeds.
    pub(super) fn round_progress(&mut self, now: Micros, round: GroupId, task: TaskId) {
        if !self.d.gathers_rounds {
            return; // no `gather all` waits for rounds (nor counts them)
        }
        self.st.batches.resolved(round, task);
        let waiting: Vec<TaskId> = self
            .st
            .batches
            .rounds
            .range((round, TaskId(0))..=(round, TaskId(u32::MAX)))
            .map(|(&(_, c), _)| c)
            .collect();
        for c in waiting {
            let upstream = &self.d.ancestors[c.index()];
            let busy = self
                .st
                .batches
                .live
                .range((round, TaskId(0))..=(round, TaskId(u32::MAX)))
                .any(|(&(_, t), _)| upstream.get(t.index()).copied().unwrap_or(false));
            if !busy {
                if let Some(batch) = self.st.batches.rounds.remove(&(round, c)) {
                    self.fire_batch(now, c, batch);
                }
            }
        }
    }

    /// Close `task`'s window (or flush its `gather n` remainder): fire once
    /// with what it holds, nothing when empty.
    pub(super) fn fire_open(&mut self, now: Micros, task: TaskId) {
        if let Some(batch) = self.st.batches.open.remove(&task) {
            self.fire_batch(now, task, batch);
        }
    }

    fn fire_batch(&mut self, now: Micros, task: TaskId, batch: Batch) {
        if matches!(self.st.phase, Phase::Running | Phase::Draining) {
            let lineage = Lineage {
                path_starts: batch.path_starts,
                round: None,
                origin: None,
            };
            self.activate(now, task, Some(batch.last), batch.items, &lineage);
        }
    }

    /// At the end of the drain: every open window and `gather n` remainder
    /// fires once (values are never left behind). Whether anything fired.
    pub(super) fn flush_batches(&mut self, now: Micros) -> bool {
        let open: Vec<TaskId> = self.st.batches.open.keys().copied().collect();
        let rounds: Vec<(GroupId, TaskId)> = self.st.batches.rounds.keys().copied().collect();
        for t in &open {
            self.fire_open(now, *t);
        }
        for key in &rounds {
            if let Some(batch) = self.st.batches.rounds.remove(key) {
                self.fire_batch(now, key.1, batch);
            }
        }
        !open.is_empty() || !rounds.is_empty()
    }
}
