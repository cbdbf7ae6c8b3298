//! Edges, cycles, reachability and the "dead code" warnings.

use super::Ctx;
use crate::diagnostic::{Code, Diagnostic};
use crate::ir::{self, Behaviour, EdgeKind, FailureAction, Placement, TaskId, Trigger};
use crate::syntax::{Action, Decl, Mission, Span, TaskDecl, TaskItem};
use std::collections::HashSet;

pub(super) fn unknown_task(cx: &mut Ctx, name: &crate::syntax::Ident) {
    cx.unknown(Code::UnknownTask, "task", name, None);
}

/// Ordering edges one step of a `flow` may create (each task of a group
/// before each of the next): `(a, b) -> (c, d)` is 4; 3,000 × 3,000 would be
/// 9 million, beyond any mission's meaning and the checker's budget.
pub const MAX_FLOW_EDGES: usize = 100_000;

/// Edges of a cycle shown as labels; a longer cycle is summarised.
const CYCLE_LABELS: usize = 6;

/// Data edges from inputs, ordering edges from `flow`, then the cycle check.
pub(super) fn edges(
    cx: &mut Ctx,
    m: &Mission,
    decls: &[&TaskDecl],
    tasks: &mut [ir::Task],
) -> Vec<ir::Edge> {
    let mut edges = Vec::new();
    let mut pairs: HashSet<(TaskId, TaskId)> = HashSet::new();
    // Span of each data edge: the consumer's parameter.
    let mut edge_spans: Vec<Span> = Vec::new();
    for (t, decl) in tasks.iter().zip(decls) {
        for input in &t.inputs {
            let span = decl
                .params
                .iter()
                .flatten()
                .find(|p| p.name.name == input.name)
                .map_or(decl.name.span, |p| p.span);
            pairs.insert((input.producer, t.id));
            edge_spans.push(span);
            edges.push(ir::Edge {
                from: input.producer,
                to: t.id,
                kind: EdgeKind::Data {
                    name: input.name.clone(),
                    bytes: input.ty.bytes,
                },
                span: cx.span(span),
            });
        }
    }
    for d in &m.decls {
        let Decl::Flow(f) = d else { continue };
        let mut steps: Vec<Vec<(TaskId, Span)>> = Vec::new();
        for step in &f.steps {
            let mut ids = Vec::new();
            for name in &step.tasks {
                match cx.task_ids.get(name.name.as_str()) {
                    Some(&id) => ids.push((id, name.span)),
                    None => {
                        cx.graph_incomplete = true;
                        unknown_task(cx, name);
                    }
                }
            }
            steps.push(ids);
        }
        for (w, sw) in steps.windows(2).zip(f.steps.windows(2)) {
            let cross = w[0].len().saturating_mul(w[1].len());
            if cross > MAX_FLOW_EDGES {
                cx.push(
                    Diagnostic::error(
                        Code::Absurd,
                        format!(
                            "this `flow` step orders {} tasks before {} ({cross} ordering edges); the limit is {MAX_FLOW_EDGES}",
                            w[0].len(),
                            w[1].len()
                        ),
                    )
                    .label(sw[0].span.join(sw[1].span), "every task on the left before every task on the right")
                    .help("order the groups through one task: `flow (a, b, …) -> sync -> (c, d, …)`"),
                );
                cx.graph_incomplete = true;
                continue;
            }
            for &(a, sa) in &w[0] {
                for &(b, sb) in &w[1] {
                    if pairs.insert((a, b)) {
                        let span = sa.join(sb);
                        edge_spans.push(span);
                        edges.push(ir::Edge {
                            from: a,
                            to: b,
                            kind: EdgeKind::Order,
                            span: cx.span(span),
                        });
                    }
                }
            }
        }
    }
    // A task with predecessors runs when they deliver; `every` on such a
    // task is a tumbling window over what they deliver (ir::activation).
    for e in &edges {
        let t = &mut tasks[e.to.index()];
        match t.trigger {
            Trigger::Never => t.trigger = Trigger::Upstream,
            Trigger::Periodic { period_us } => t.trigger = Trigger::Window { period_us },
            _ => {}
        }
    }
    report_cycles(cx, decls, tasks.len(), &edges, &edge_spans);
    edges
}

/// One diagnostic per strongly connected component that forms a cycle.
fn report_cycles(cx: &mut Ctx, decls: &[&TaskDecl], n: usize, edges: &[ir::Edge], spans: &[Span]) {
    let mut succ: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
    for (k, e) in edges.iter().enumerate() {
        succ[e.from.index()].push((e.to.index(), k));
    }
    for comp in strongly_connected(n, &succ) {
        let self_loop = comp.len() == 1 && succ[comp[0]].iter().any(|&(v, _)| v == comp[0]);
        if comp.len() < 2 && !self_loop {
            continue;
        }
        let (path, labels) = shortest_cycle(&comp, &succ, spans);
        let names: Vec<_> = path.iter().map(|&i| decls[i].name.name.as_str()).collect();
        // A long cycle: its length, its first tasks and where it closes.
        let shown = if labels.len() > CYCLE_LABELS {
            let head = names[..CYCLE_LABELS - 1].join(" -> ");
            let tail = names[names.len() - 2..].join(" -> ");
            format!(
                "tasks form a cycle of {} tasks: {head} -> … -> {tail}",
                names.len() - 1
            )
        } else {
            format!("tasks form a cycle: {}", names.join(" -> "))
        };
        let mut d = Diagnostic::error(Code::Cycle, shown);
        let last = labels.len().saturating_sub(1);
        for (i, s) in labels.iter().enumerate() {
            if labels.len() > CYCLE_LABELS && i >= CYCLE_LABELS - 1 && i != last {
                continue;
            }
            let (a, b) = (names[i], names.get(i + 1).copied().unwrap_or(names[0]));
            let text = if i == last {
                format!("`{b}` reads `{a}`, closing the loop")
            } else {
                format!("`{b}` reads `{a}`")
            };
            d = d.label(*s, text);
        }
        if d.labels.is_empty() {
            d = d.label(decls[path[0]].name.span, "in this cycle");
        }
        cx.push(
            d.help("a task graph must be acyclic; feed results back with a periodic task instead"),
        );
    }
}

/// The shortest cycle through the component's first task (breadth-first
/// search back to it): the tasks in order, and the span of each edge.
fn shortest_cycle(
    comp: &[usize],
    succ: &[Vec<(usize, usize)>],
    spans: &[Span],
) -> (Vec<usize>, Vec<Span>) {
    let members: HashSet<usize> = comp.iter().copied().collect();
    let start = comp.iter().copied().min().unwrap_or(0);
    let mut parent: std::collections::HashMap<usize, (usize, usize)> =
        std::collections::HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    let mut closing = None;
    'search: while let Some(v) = queue.pop_front() {
        for &(w, k) in &succ[v] {
            if w == start {
                closing = Some((v, k));
                break 'search;
            }
            if members.contains(&w) && !parent.contains_key(&w) {
                parent.insert(w, (v, k));
                queue.push_back(w);
            }
        }
    }
    let Some((mut v, k)) = closing else {
        return (vec![start, start], Vec::new());
    };
    let mut nodes = vec![];
    let mut edges = vec![k];
    while v != start {
        nodes.push(v);
        let (p, pk) = parent[&v];
        edges.push(pk);
        v = p;
    }
    nodes.push(start);
    nodes.reverse();
    edges.reverse();
    nodes.push(start);
    (nodes, edges.into_iter().map(|k| spans[k]).collect())
}

/// Tarjan's algorithm without recursion (graphs of 10⁵ tasks are fine).
fn strongly_connected(n: usize, succ: &[Vec<(usize, usize)>]) -> Vec<Vec<usize>> {
    const UNSEEN: usize = usize::MAX;
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut out = Vec::new();
    let mut next = 0;
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        let mut call: Vec<(usize, usize)> = vec![(root, 0)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut i)) = call.last_mut() {
            if let Some(&(w, _)) = succ[v].get(*i) {
                *i += 1;
                if index[w] == UNSEEN {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    call.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                call.pop();
                if let Some(&(parent, _)) = call.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut comp = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        comp.push(w);
                        if w == v {
                            break;
                        }
                    }
                    out.push(comp);
                }
            }
        }
    }
    out
}

/// Reachability queries over the task graph: the adjacency is built once
/// and each source's reachable set is computed once (missions state many
/// latency requirements from the same sensing task).
pub(super) struct Reach {
    succ: Vec<Vec<u32>>,
    from_source: std::collections::HashMap<TaskId, Vec<bool>>,
}

impl Reach {
    pub(super) fn new(n: usize, edges: &[ir::Edge]) -> Self {
        let mut succ: Vec<Vec<u32>> = vec![Vec::new(); n];
        for e in edges {
            succ[e.from.index()].push(e.to.0);
        }
        Reach {
            succ,
            from_source: std::collections::HashMap::new(),
        }
    }

    /// Whether `to` is reachable from `from` (or equal to it).
    pub(super) fn reaches(&mut self, from: TaskId, to: TaskId) -> bool {
        let succ = &self.succ;
        let seen = self.from_source.entry(from).or_insert_with(|| {
            let mut seen = vec![false; succ.len()];
            let mut todo = vec![from.0];
            while let Some(v) = todo.pop() {
                if std::mem::replace(&mut seen[v as usize], true) {
                    continue;
                }
                todo.extend(
                    succ[v as usize]
                        .iter()
                        .copied()
                        .filter(|&w| !seen[w as usize]),
                );
            }
            seen
        });
        seen.get(to.index()).copied().unwrap_or(false)
    }
}

/// Help for an output nobody reads: add it to the inputs of an existing
/// sink (a task that runs on inputs and feeds nothing, like `report`: it
/// is not its producer, which has an output, and adding an input to it
/// cannot close a cycle), else to a new task.
fn unused_output_help(cx: &Ctx, output: &str, reader: Option<&TaskDecl>) -> String {
    if let Some(decl) = reader {
        let mut params: Vec<&str> = decl
            .params
            .iter()
            .flatten()
            .map(|p| cx.src.get(p.span.start..p.span.end).unwrap_or(&p.name.name))
            .collect();
        params.push(output);
        return format!(
            "read it where it is needed, e.g. `task {}({})`, or remove it",
            decl.name.name,
            params.join(", ")
        );
    }
    let mut name = format!("use_{output}");
    let mut k = 2;
    // By the name table, not a scan of every task: one scan per unused
    // output made 110,000 tasks take 4 minutes.
    while cx.task_ids.contains_key(name.as_str()) {
        name = format!("use_{output}_{k}");
        k += 1;
    }
    format!("read it in a task (`task {name}({output}) {{ ... }}`) or remove it")
}

pub(super) fn warnings(
    cx: &mut Ctx,
    m: &Mission,
    decls: &[&TaskDecl],
    tasks: &[ir::Task],
    edges: &[ir::Edge],
    policies: &ir::Policies,
) {
    let consumed: HashSet<&str> = tasks
        .iter()
        .flat_map(|t| t.inputs.iter().map(|i| i.name.as_str()))
        .collect();
    let mut feeds = vec![false; tasks.len()];
    for e in edges {
        feeds[e.from.index()] = true;
    }
    // The reader to suggest: the last declared sink that runs on inputs.
    let reader = tasks
        .iter()
        .zip(decls)
        .filter(|(t, d)| {
            !t.inputs.is_empty()
                && t.outputs.is_empty()
                && !feeds[t.id.index()]
                && t.behaviour.is_none()
                && d.params.is_some()
        })
        .map(|(_, d)| *d)
        .next_back();
    for (t, decl) in tasks.iter().zip(decls) {
        for o in &decl.outputs {
            if !consumed.contains(o.name.name.as_str()) {
                let help = unused_output_help(cx, &o.name.name, reader);
                cx.push(
                    Diagnostic::warning(
                        Code::UnusedOutput,
                        format!(
                            "output `{}` of task `{}` is never used",
                            o.name.name, t.name
                        ),
                    )
                    .label(o.name.span, "no task reads this")
                    .help(help),
                );
            }
        }
        if t.trigger == Trigger::Never {
            cx.push(
                Diagnostic::warning(Code::NeverTriggered, format!("task `{}` never runs", t.name))
                    .label(decl.name.span, "nothing starts this task")
                    .help("give it an input, `every <period>`, `once`, a behaviour, or a predecessor in a `flow`"),
            );
        }
        let has_fn = decl.items.iter().any(|i| matches!(i, TaskItem::Fn { .. }));
        if has_fn && t.work.is_none() {
            cx.push(
                Diagnostic::warning(
                    Code::MissingWork,
                    format!("task `{}` calls a function but states no `work`", t.name),
                )
                .label(decl.name.span, "work unknown")
                .help("the placement synthesizer will assume it is free; add e.g. `work 0.5 Gop`"),
            );
        }
    }
    // Areas nothing refers to.
    let mut used_areas: HashSet<usize> = HashSet::new();
    for t in tasks {
        match t.behaviour {
            Some(Behaviour::Cover { area, .. }) | Some(Behaviour::GotoArea { area }) => {
                used_areas.insert(area.index());
            }
            _ => {}
        }
    }
    if let FailureAction::Repartition { areas } = &policies.device_failure.action {
        used_areas.extend(areas.iter().map(|a| a.index()));
    }
    for d in &m.decls {
        if let Decl::Policy(p) = d {
            for a in &p.actions {
                if let Action::Repartition {
                    area: Some(name), ..
                } = a
                {
                    if let Some(id) = cx.area_ids.get(name.name.as_str()) {
                        used_areas.insert(id.index());
                    }
                }
            }
        }
    }
    for d in &m.decls {
        if let Decl::Area(a) = d {
            if let Some(id) = cx.area_ids.get(a.name.name.as_str()) {
                if !used_areas.contains(&id.index())
                    && cx.areas[id.index()].span.start as usize == a.span.start
                {
                    cx.push(
                        Diagnostic::warning(
                            Code::UnusedDeclaration,
                            format!("area `{}` is never used", a.name.name),
                        )
                        .label(
                            a.name.span,
                            "declared but not covered, visited or repartitioned",
                        ),
                    );
                }
            }
        }
    }
    // Fleets no task can run on: every task is pinned elsewhere.
    let free_task = tasks
        .iter()
        .any(|t| matches!(t.placement, Placement::Any | Placement::Edge));
    if !free_task {
        for d in &m.decls {
            let Decl::Fleet(fd) = d else { continue };
            let Some(&id) = cx.fleet_ids.get(fd.name.name.as_str()) else {
                continue;
            };
            if !tasks
                .iter()
                .any(|t| t.placement == Placement::Fleet { fleet: id })
            {
                cx.push(
                    Diagnostic::warning(
                        Code::UnusedDeclaration,
                        format!("fleet `{}` runs no task", fd.name.name),
                    )
                    .label(fd.name.span, "every task is pinned elsewhere"),
                );
            }
        }
    }
}
