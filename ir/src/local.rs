//! Device-local chains: which edges a device runs by itself, and the
//! instance ids those runs take. The one rule read by the controller (which
//! delegates the consumer instead of dispatching it), the edge agent and the
//! simulator's devices (which start the consumer as soon as the producer
//! finishes), through [`LocalChains`].
//!
//! **The rule.** An edge `P → C` runs on the device that ran `P` when
//! * the plan makes it a [`ChannelKind::DeviceLocal`] channel (both on the
//!   edge, one fleet, `C` gathers nothing),
//! * every activation of `P` is one instance (no fan-out; a per-device task
//!   is one instance per device) that returns a result (not a behaviour),
//! * `C` fires once per value of `P` and of nothing else (per input, a
//!   single producer: no join, no window, no gather) as one instance (no
//!   fan-out, no `assign`), and commands no behaviour of the vehicle.
//!
//! Then the instance of `C` that a completed instance of `P` activates is
//! known to both sides without a message: the controller keeps it on the
//! device that ran `P` and the device starts it at once. Every other edge
//! goes through the controller, which places the consumer.
//!
//! **Joins on the device.** A join `C` of several producers, joined per
//! device (its pacer is `ir::activation::join_pacers`', its values come
//! from one fleet), whose every input is a device-local channel, runs on
//! the device too: the edge from its pacer `P` is local as above, and the
//! other producers are `C`'s [`LocalChains::needs`]. The device starts `C`
//! when `P` completes if each of them has completed on it under the same
//! registration (epoch); the controller, which hears a device's results in
//! the order they completed, keeps `C` on the device exactly then — when
//! the latest value of each producer came from that registration and no
//! older value of `P` was waiting. Otherwise the controller places `C`.
//!
//! **Instance ids.** An instance of a task with local successors reserves
//! a block of ids, one per task of its local subtree, laid out in preorder:
//! `C`'s instance is `P`'s id plus [`LocalChains::next`]'s offset, and `C`'s
//! own successors sit inside the same block. So the id a device gives a run
//! it started itself is the id the controller journals and deduplicates.

use crate::activation::{activation, Start, Width};
use crate::graph::{TaskGraph, TaskId};
use crate::plan::{ChannelKind, Plan};

/// The device-local chains of a placed mission.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalChains {
    /// Per task: its local successors, each with the offset of its
    /// instance id from the producer's.
    pub next: Vec<Vec<(TaskId, u32)>>,
    /// Per task: the ids one instance reserves (itself and its local
    /// subtree), at least 1.
    pub span: Vec<u32>,
    /// Per join run on the device: the producers other than its pacer,
    /// each of which must have completed under the pacer's registration.
    /// Empty for every other task.
    pub needs: Vec<Vec<TaskId>>,
}

impl LocalChains {
    /// The local successors of `task` (empty for an unknown task).
    pub fn successors(&self, task: TaskId) -> &[(TaskId, u32)] {
        self.next.get(task.index()).map_or(&[], Vec::as_slice)
    }

    /// Ids an instance of `task` takes (1 for an unknown task).
    pub fn span(&self, task: TaskId) -> u32 {
        self.span.get(task.index()).copied().unwrap_or(1)
    }

    /// The offset of `to`'s instance from `from`'s when the edge runs on
    /// the device.
    pub fn offset(&self, from: TaskId, to: TaskId) -> Option<u32> {
        self.successors(from)
            .iter()
            .find(|(t, _)| *t == to)
            .map(|&(_, off)| off)
    }

    /// Whether any edge runs on a device.
    pub fn any(&self) -> bool {
        self.next.iter().any(|n| !n.is_empty())
    }

    /// The producers a device-local join `task` needs besides its pacer.
    pub fn needs(&self, task: TaskId) -> &[TaskId] {
        self.needs.get(task.index()).map_or(&[], Vec::as_slice)
    }
}

/// Each join's pacer when the join is joined per device (its values come
/// from one fleet): computed once per graph, read per edge.
fn per_device_pacers(graph: &TaskGraph) -> Vec<Option<TaskId>> {
    let topo = crate::topological_order(graph);
    let rates = crate::activation::rates(graph, &topo, graph.duration_us);
    let pacers = crate::activation::join_pacers(graph, &rates);
    crate::activation::per_device_pacers(graph, &topo, &pacers)
}

/// A producer whose every activation is one instance returning a result.
fn producer_ok(graph: &TaskGraph, p: TaskId) -> bool {
    let ap = activation(graph, p);
    matches!(ap.width, Width::One | Width::EveryDevice)
        && !matches!(ap.start, Start::Behaviour | Start::Never)
        && graph
            .tasks
            .get(p.index())
            .is_some_and(|t| t.behaviour.is_none())
}

/// A consumer that fires per input as one instance, commanding nothing.
fn consumer_ok(graph: &TaskGraph, c: TaskId) -> bool {
    let ac = activation(graph, c);
    ac.start == Start::PerInput
        && ac.width == Width::One
        && graph
            .tasks
            .get(c.index())
            .is_some_and(|t| t.assign.is_none() && t.behaviour.is_none())
}

fn local_channel(plan: &Plan, from: TaskId, to: TaskId) -> bool {
    plan.channels
        .iter()
        .any(|ch| ch.from == from && ch.to == to && ch.kind == ChannelKind::DeviceLocal)
}

/// The pacer of `to` when `to` is a join the device runs itself (the rule
/// in the module doc); `pacers` from [`per_device_pacers`].
fn local_join_pacer(
    graph: &TaskGraph,
    plan: &Plan,
    pacers: &[Option<TaskId>],
    to: TaskId,
) -> Option<TaskId> {
    let pacer = pacers.get(to.index()).copied().flatten()?;
    let mut inputs = graph.edges.iter().filter(|e| e.to == to);
    let ok = consumer_ok(graph, to)
        && inputs.all(|e| local_channel(plan, e.from, to) && producer_ok(graph, e.from));
    ok.then_some(pacer)
}

/// Whether the device that ran `from` runs `to` itself (the rule above).
pub fn runs_on_device(graph: &TaskGraph, plan: &Plan, from: TaskId, to: TaskId) -> bool {
    runs_on_device_with(graph, plan, None, from, to)
}

/// [`runs_on_device`]; `pacers`: [`per_device_pacers`] if already known
/// (computed here only for an edge into a join).
fn runs_on_device_with(
    graph: &TaskGraph,
    plan: &Plan,
    pacers: Option<&[Option<TaskId>]>,
    from: TaskId,
    to: TaskId,
) -> bool {
    if graph.tasks.get(from.index()).is_none()
        || graph.tasks.get(to.index()).is_none()
        || !local_channel(plan, from, to)
    {
        return false;
    }
    let single_producer = graph
        .edges
        .iter()
        .filter(|e| e.to == to)
        .all(|e| e.from == from);
    if !single_producer {
        let pacer = match pacers {
            Some(p) => local_join_pacer(graph, plan, p, to),
            None => local_join_pacer(graph, plan, &per_device_pacers(graph), to),
        };
        return pacer == Some(from);
    }
    producer_ok(graph, from) && consumer_ok(graph, to)
}

/// The device-local chains of `plan` (empty for a plan of another graph).
pub fn local_chains(graph: &TaskGraph, plan: &Plan) -> LocalChains {
    let n = graph.tasks.len();
    let mut chains = LocalChains {
        next: vec![Vec::new(); n],
        span: vec![1; n],
        needs: vec![Vec::new(); n],
    };
    if plan.tasks.len() != n {
        return chains;
    }
    let pacers = per_device_pacers(graph);
    for (t, producers) in graph.tasks.iter().zip(graph.predecessors()) {
        if let Some(pacer) = local_join_pacer(graph, plan, &pacers, t.id) {
            chains.needs[t.id.index()] = producers.into_iter().filter(|&p| p != pacer).collect();
        }
    }
    let mut children: Vec<Vec<TaskId>> = vec![Vec::new(); n];
    for (from, list) in graph.successors().iter().enumerate() {
        let from = TaskId(from as u32);
        children[from.index()] = list
            .iter()
            .copied()
            .filter(|&to| runs_on_device_with(graph, plan, Some(&pacers), from, to))
            .collect();
    }
    // Each consumer has one producer, so the local edges form a forest:
    // spans bottom-up (memoised, iterative), offsets in preorder.
    fn span_of(t: usize, children: &[Vec<TaskId>], span: &mut [Option<u32>]) -> u32 {
        let mut stack = vec![(t, false)];
        while let Some((u, expanded)) = stack.pop() {
            if span[u].is_some() {
                continue;
            }
            if expanded {
                let s = children[u].iter().fold(1u32, |acc, c| {
                    acc.saturating_add(span[c.index()].unwrap_or(1))
                });
                span[u] = Some(s);
            } else {
                stack.push((u, true));
                stack.extend(children[u].iter().map(|c| (c.index(), false)));
            }
        }
        span[t].unwrap_or(1)
    }
    let mut span = vec![None; n];
    for t in 0..n {
        chains.span[t] = span_of(t, &children, &mut span);
    }
    for (next, kids) in chains.next.iter_mut().zip(&children) {
        let mut off = 1u32;
        for &c in kids {
            next.push((c, off));
            off = off.saturating_add(chains.span[c.index()]);
        }
    }
    chains
}
