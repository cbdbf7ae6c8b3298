//! Incremental evaluation for searches that change a few tasks at a time
//! (annealing, descents): the finish times of every latency requirement's
//! path and of the whole graph are kept from the last placement evaluated.
//! A task's finish time depends only on its own modality and its on-path
//! predecessors' (modality and finish time), so after a change only the
//! changed tasks and the successors of a task whose finish time or
//! modality changed are computed again, in topological order: a worklist
//! that stops where the times stop changing. The result equals
//! [`CostModel::evaluate`]'s exactly (the same arithmetic per task; a
//! property test compares them).

use super::{modality_index, CostModel};
use crate::Evaluation;
use hivemind_ir::plan::Modality;
use hivemind_ir::{RequirementKind, Sat, TaskId};

/// A task not on a path.
const OFF: u32 = u32::MAX;

/// What [`CostModel::evaluate_cached`] keeps between calls.
pub struct PathCache {
    /// The placement the times below are for.
    assignment: Vec<Modality>,
    /// Per latency requirement: finish times by task (only its path's
    /// entries are meaningful), and each task's position in the path's
    /// topological order ([`OFF`] when not on it).
    fin: Vec<Vec<Sat>>,
    position: Vec<Vec<u32>>,
    /// The whole graph's finish times, and each task's topological position.
    whole: Vec<Sat>,
    topo_position: Vec<u32>,
    /// Each task's consumers (one per edge).
    successors: Vec<Vec<TaskId>>,
    /// Scratch for the worklist.
    queued: Vec<bool>,
}

impl CostModel<'_> {
    /// [`CostModel::evaluate`], reusing (and updating) `cache`'s finish
    /// times: after the first call, only the changed tasks and the
    /// successors whose inputs changed are computed again. Equal to
    /// `evaluate`'s result.
    pub fn evaluate_cached(
        &self,
        assignment: &[Modality],
        cache: &mut Option<PathCache>,
    ) -> Evaluation {
        let n = self.graph.tasks.len();
        let cache = match cache {
            Some(c) if c.assignment.len() == n && assignment.len() == n => c,
            _ => cache.insert(self.path_cache(assignment)),
        };
        let changed: Vec<usize> = (0..n)
            .filter(|&t| cache.assignment[t] != assignment[t])
            .collect();
        cache.assignment.copy_from_slice(assignment);
        let PathCache {
            fin,
            position,
            whole,
            topo_position,
            successors,
            queued,
            ..
        } = cache;
        if !changed.is_empty() {
            let all = vec![true; n];
            let mut update = Update {
                model: self,
                assignment,
                successors,
                queued,
                changed: &changed,
            };
            update.run(&all, topo_position, TaskId(u32::MAX), whole);
            for (k, r) in self.graph.requirements.iter().enumerate() {
                if let RequirementKind::Latency { from, .. } = r.kind {
                    update.run(&self.path_tasks[k], &position[k], from, &mut fin[k]);
                }
            }
        }
        let whole = whole.iter().copied().max().unwrap_or(Sat::ZERO);
        self.evaluate_from(assignment, whole, |k, _, to| fin[k][to.index()])
    }

    /// The finish times of `assignment`, computed in full.
    fn path_cache(&self, assignment: &[Modality]) -> PathCache {
        let n = self.graph.tasks.len();
        let mut topo_position = vec![OFF; n];
        for (i, t) in self.topo.iter().enumerate() {
            topo_position[t.index()] = u32::try_from(i).unwrap_or(OFF);
        }
        let mut fin = Vec::with_capacity(self.graph.requirements.len());
        let mut position = Vec::with_capacity(self.graph.requirements.len());
        for (k, r) in self.graph.requirements.iter().enumerate() {
            let mut times = Vec::new();
            let mut at = Vec::new();
            if let RequirementKind::Latency { from, .. } = r.kind {
                times = vec![Sat::ZERO; n];
                at = vec![OFF; n];
                for (i, t) in self.path_order[k].iter().enumerate() {
                    at[t.index()] = u32::try_from(i).unwrap_or(OFF);
                }
                let order = self.path_order[k].iter().copied();
                self.finish_times(assignment, &self.path_tasks[k], from, order, &mut times);
            }
            fin.push(times);
            position.push(at);
        }
        let all = vec![true; n];
        let mut whole = vec![Sat::ZERO; n];
        let order = self.topo.iter().copied();
        self.finish_times(assignment, &all, TaskId(u32::MAX), order, &mut whole);
        let mut successors = vec![Vec::new(); n];
        for e in &self.graph.edges {
            if let Some(s) = successors.get_mut(e.from.index()) {
                s.push(e.to);
            }
        }
        PathCache {
            assignment: assignment.to_vec(),
            fin,
            position,
            whole,
            topo_position,
            successors,
            queued: vec![false; n],
        }
    }
}

/// One incremental update of a set of paths after `changed` tasks moved.
struct Update<'a, 'g> {
    model: &'a CostModel<'g>,
    assignment: &'a [Modality],
    successors: &'a [Vec<TaskId>],
    /// Scratch: tasks in the worklist (all false between runs).
    queued: &'a mut [bool],
    changed: &'a [usize],
}

impl Update<'_, '_> {
    /// Recompute `fin` on the path `on_path` (tasks at `position` in its
    /// topological order, [`OFF`] elsewhere) from the changed tasks on it,
    /// through the successors whose inputs changed.
    fn run(&mut self, on_path: &[bool], position: &[u32], from: TaskId, fin: &mut [Sat]) {
        let mut work = std::collections::BinaryHeap::new();
        for &t in self.changed {
            if let Some(&p) = position.get(t).filter(|&&p| p != OFF) {
                self.queued[t] = true;
                work.push(std::cmp::Reverse((p, t)));
            }
        }
        while let Some(std::cmp::Reverse((_, t))) = work.pop() {
            self.queued[t] = false;
            let id = TaskId(u32::try_from(t).unwrap_or(u32::MAX));
            let own = self.model.tasks[t].compute_us[modality_index(self.assignment[t])]
                .unwrap_or(Sat::ZERO);
            let time = self
                .model
                .start_time(self.assignment, on_path, from, id, fin)
                + own;
            let moved = self.assignment_changed(t);
            if time == fin[t] && !moved {
                continue;
            }
            fin[t] = time;
            for s in &self.successors[t] {
                let s = s.index();
                if let Some(&p) = position.get(s).filter(|&&p| p != OFF) {
                    if !self.queued[s] {
                        self.queued[s] = true;
                        work.push(std::cmp::Reverse((p, s)));
                    }
                }
            }
        }
    }

    fn assignment_changed(&self, t: usize) -> bool {
        self.changed.binary_search(&t).is_ok()
    }
}
