//! Placement search without a solver: the exhaustive oracle (the test
//! oracle for small graphs) and the greedy heuristic (warm start, fallback,
//! and the baseline for the quality gap).

use hivemind_cost::{CostModel, Evaluation};
use hivemind_ir::plan::Modality;
use hivemind_ir::Sat;
use std::cmp::Ordering;

/// Lexicographic order of (feasible first, fewer violations, objectives).
pub(crate) fn better(model: &CostModel, a: &Evaluation, b: &Evaluation) -> Ordering {
    let violations =
        |e: &Evaluation| e.requirements.iter().filter(|r| !r.met).count() + e.overflow().len();
    violations(a)
        .cmp(&violations(b))
        .then_with(|| model.objective_vector(a).cmp(&model.objective_vector(b)))
}

/// Total violation of the requirements, in units of their bounds (‰), CPU
/// and radio overload (‰ above 100% per fleet and for the cloud) and totals too
/// large to compute (each as 2⁶⁴ ‰), to steer the greedy search towards
/// feasibility.
fn violation(e: &Evaluation) -> u128 {
    violation_scaled(e, 1_000)
}

/// [`violation`] with requirements' excess in `scale`ths of their bound
/// (CPU and radio overload, known in ‰ only, scaled to match).
fn violation_scaled(e: &Evaluation, scale: u128) -> u128 {
    const TOO_LARGE: u128 = 1 << 64;
    let requirements: u128 = e
        .requirements
        .iter()
        .filter(|r| !r.met)
        .map(|r| match r.predicted {
            Some(pred) => {
                let gap = u128::from(pred.abs_diff(r.bound));
                gap * scale / u128::from(r.bound.unsigned_abs()).max(1) + 1
            }
            None => TOO_LARGE,
        })
        .sum();
    // CPU of every fleet and of the cloud, and every fleet's radio.
    let overload: u128 = e
        .fleet_busy_permille
        .iter()
        .chain(std::iter::once(&e.cloud_busy_permille))
        .chain(&e.fleet_radio_permille)
        .map(|b| b.wide().unwrap_or(TOO_LARGE))
        .filter(|&b| b > 1_000)
        .map(|b| (b - 1_000 + 1).saturating_mul(scale / 1_000))
        .sum();
    let overflow = TOO_LARGE * e.overflow().len() as u128;
    requirements + overload + overflow
}

/// The preference vector's `stage` entry (a stage's objective), too large
/// to compute being the largest value.
pub(crate) fn stage_entry(model: &CostModel, e: &Evaluation, a: &[Modality], stage: usize) -> u128 {
    model
        .preference_vector(e, a)
        .get(stage)
        .map_or(0, |v| v.wide().unwrap_or(u128::MAX))
}

/// [`violation_scaled`] plus the earlier stages' excess over their optima
/// `fixed` (in `scale`ths of the optimum, at least 1 when above it): zero
/// exactly when the placement is feasible and matches every earlier stage.
pub(crate) fn stage_violation(
    model: &CostModel,
    e: &Evaluation,
    a: &[Modality],
    fixed: &[u64],
    scale: u128,
) -> u128 {
    let over: u128 = model
        .preference_vector(e, a)
        .iter()
        .zip(fixed)
        .map(|(v, &f)| {
            let v = v.wide().unwrap_or(u128::MAX);
            let f = u128::from(f);
            if v > f {
                (v - f).saturating_mul(scale) / f.max(1) + 1
            } else {
                0
            }
        })
        .fold(0, u128::saturating_add);
    violation_scaled(e, scale).saturating_add(over)
}

/// Call `visit` with every feasible combination of allowed modalities and
/// its evaluation; `None` (and no calls) if there are more than `limit`
/// combinations.
pub(crate) fn for_each_feasible(
    model: &CostModel,
    limit: u64,
    mut visit: impl FnMut(Vec<Modality>, Evaluation),
) -> Option<()> {
    let Some(choices) = model.all_choices() else {
        return Some(());
    };
    let total = choices
        .iter()
        .try_fold(1u64, |acc, c| acc.checked_mul(c.len() as u64))?;
    if total > limit {
        return None;
    }
    let mut idx = vec![0usize; choices.len()];
    loop {
        let assignment: Vec<Modality> = idx.iter().zip(&choices).map(|(&i, c)| c[i]).collect();
        let e = model.evaluate(&assignment);
        if e.feasible() {
            visit(assignment, e);
        }
        // Odometer increment.
        let mut k = 0;
        loop {
            if k == idx.len() {
                return Some(());
            }
            idx[k] += 1;
            if idx[k] < choices[k].len() {
                break;
            }
            idx[k] = 0;
            k += 1;
        }
    }
}

/// Every combination of allowed modalities; `None` if there are more than
/// `limit` of them. Returns the best feasible assignment (lexicographic
/// objectives), or `Some(None)` when none is feasible.
pub fn exhaustive(model: &CostModel, limit: u64) -> Option<Option<(Vec<Modality>, Evaluation)>> {
    let mut best: Option<(Vec<Modality>, Evaluation)> = None;
    for_each_feasible(model, limit, |assignment, e| {
        if best
            .as_ref()
            .is_none_or(|(_, b)| model.objective_vector(&e) < model.objective_vector(b))
        {
            best = Some((assignment, e));
        }
    })?;
    Some(best)
}

/// Local search: start from the best of the uniform placements, then move
/// one task at a time while that reduces violations or improves the
/// objectives; while still infeasible with no single move helping, move two
/// tasks at once (one of them on a violated path), which trades e.g. a
/// deadline against a budget.
pub fn greedy(model: &CostModel) -> Option<(Vec<Modality>, Evaluation)> {
    greedy_within(model, None)
}

/// [`greedy`], stopping at `deadline` with the best assignment so far.
pub fn greedy_within(
    model: &CostModel,
    deadline: Option<std::time::Instant>,
) -> Option<(Vec<Modality>, Evaluation)> {
    greedy_until(model, deadline, deadline)
}

/// [`greedy`], stopping at `improve_until` once its plan is feasible, and
/// at `give_up` (not before `improve_until`) while it is not: the greedy
/// plan is the synthesizer's fallback, so reaching feasibility is worth
/// more of the budget than improving a feasible plan.
pub fn greedy_until(
    model: &CostModel,
    improve_until: Option<std::time::Instant>,
    give_up: Option<std::time::Instant>,
) -> Option<(Vec<Modality>, Evaluation)> {
    let stop = |e: &Evaluation| {
        let now = std::time::Instant::now();
        let d = if e.feasible() { improve_until } else { give_up };
        d.is_some_and(|d| now >= d)
    };
    let choices = model.all_choices()?;
    // Start from the better of "everything in the cloud" and "everything on
    // the edge": the cloud start usually meets deadlines and capacity, and
    // the search then moves work to the devices while that pays.
    let prefer = |order: [Modality; 3]| -> Vec<Modality> {
        choices
            .iter()
            .map(|c| order.into_iter().find(|m| c.contains(m)).unwrap_or(c[0]))
            .collect()
    };
    let mut assignment = [
        prefer([Modality::Cloud, Modality::CloudFpga, Modality::Edge]),
        prefer([Modality::CloudFpga, Modality::Cloud, Modality::Edge]),
        prefer([Modality::Edge, Modality::Cloud, Modality::CloudFpga]),
    ]
    .into_iter()
    .min_by_key(|a| greedy_key(model, &model.evaluate(a), a))
    .unwrap_or_else(|| choices.iter().map(|c| c[0]).collect());
    let mut current = model.evaluate(&assignment);
    let mut current_key = greedy_key(model, &current, &assignment);
    for _pass in 0..4 {
        let pass = descent_pass(
            model,
            &choices,
            &mut assignment,
            &mut current,
            &mut current_key,
            stop,
        );
        let Some(improved) = pass else {
            return Some((assignment, current));
        };
        if !improved
            && (current.feasible()
                || !pair_move(model, &choices, &mut assignment, &mut current, give_up))
        {
            break;
        }
        current_key = greedy_key(model, &current, &assignment);
    }
    Some((assignment, current))
}

/// Keep `moves` as the repair's best step if it removes the most violation
/// per unit of the stage's objective it adds so far.
fn offer(
    best: &mut Option<Step>,
    removed: u128,
    added: u128,
    moves: Vec<(usize, Modality)>,
    e: Evaluation,
    v1: u128,
) {
    let ratio = removed as f64 / (1.0 + added as f64);
    if best.as_ref().is_none_or(|b| ratio > b.0) {
        *best = Some((ratio, moves, e, v1));
    }
}

/// The second half of a Lagrangian heuristic: from `start` (a relaxation's
/// placement, which usually breaks some limit), move one task at a time,
/// each time the move that removes the most violation per unit of the
/// preference vector's `stage` entry it adds, until the placement is
/// feasible with the earlier entries at most `fixed` (the earlier stages'
/// optima; an excess counts as a violation); then one-task improvements
/// of the whole order of preference, as greedy's, that keep it so. `None` when no single move reduces the violation any more
/// or `deadline` passes first. With `fine`, a repair stuck in ‰ goes on
/// in millionths (see below).
pub(crate) fn repair(
    model: &CostModel,
    start: Vec<Modality>,
    stage: usize,
    fixed: &[u64],
    deadline: std::time::Instant,
    fine: bool,
) -> Option<(Vec<Modality>, Evaluation)> {
    // Moves change a task or two: evaluated incrementally.
    let mut cache = None;
    let choices = model.all_choices()?;
    let mut assignment = start;
    for (a, c) in assignment.iter_mut().zip(&choices) {
        if !c.contains(a) {
            *a = c[0];
        }
    }
    let late = || std::time::Instant::now() >= deadline;
    let entry = |e: &Evaluation, a: &[Modality]| stage_entry(model, e, a, stage);
    // Violations, and the earlier stages' excess over their optima, in ‰
    // of their bounds, then (once stuck) in millionths: in ‰ a requirement
    // missed by 0.3‰ and by 0.9‰ look the same, and the repair got stuck
    // where only moves that shave such a miss exist (budget against
    // reserve); ‰ first, which keeps the moves that clear a requirement
    // outright ahead. Only where asked: inside the branch-and-bound, the
    // battery family's incumbents came from repairs that stop early.
    let violation =
        |e: &Evaluation, a: &[Modality], scale: u128| stage_violation(model, e, a, fixed, scale);
    let mut scale: u128 = 1_000;
    let mut current = model.evaluate_cached(&assignment, &mut cache);
    let mut v0 = violation(&current, &assignment, scale);
    while v0 > 0 {
        let base = entry(&current, &assignment);
        let mut best: Option<Step> = None;
        // Single moves that reduce nothing, least violation first: the
        // first halves of pairs.
        let mut firsts: Vec<(u128, usize, Modality)> = Vec::new();
        for i in 0..assignment.len() {
            if late() {
                return None;
            }
            let old = assignment[i];
            for &m in choices[i].iter().filter(|&&m| m != old) {
                assignment[i] = m;
                let e = model.evaluate_cached(&assignment, &mut cache);
                let v1 = violation(&e, &assignment, scale);
                if v1 < v0 {
                    let added = entry(&e, &assignment).saturating_sub(base);
                    offer(&mut best, v0 - v1, added, vec![(i, m)], e, v1);
                } else {
                    firsts.push((v1, i, m));
                }
            }
            assignment[i] = old;
        }
        if best.is_none() {
            firsts.sort_unstable_by_key(|&(v, i, m)| (v, i, hivemind_cost::modality_index(m)));
            for &(_, i, mi) in firsts.iter().take(PAIR_FIRSTS) {
                let old_i = assignment[i];
                assignment[i] = mi;
                for j in (0..assignment.len()).filter(|&j| j != i) {
                    if late() {
                        return None;
                    }
                    let old_j = assignment[j];
                    for &mj in choices[j].iter().filter(|&&m| m != old_j) {
                        assignment[j] = mj;
                        let e = model.evaluate_cached(&assignment, &mut cache);
                        let v1 = violation(&e, &assignment, scale);
                        if v1 < v0 {
                            let added = entry(&e, &assignment).saturating_sub(base);
                            offer(&mut best, v0 - v1, added, vec![(i, mi), (j, mj)], e, v1);
                        }
                    }
                    assignment[j] = old_j;
                }
                assignment[i] = old_i;
            }
        }
        let Some((_, moves, e, v1)) = best else {
            tracing::trace!(violation = v0, scale, "repair stuck");
            if fine && scale < FINE {
                scale = FINE;
                v0 = violation(&current, &assignment, scale);
                continue;
            }
            return None;
        };
        for (i, m) in moves {
            assignment[i] = m;
        }
        (current, v0) = (e, v1);
    }
    let mut key = greedy_key(model, &current, &assignment);
    // Descent: one-task moves until none improves, then a pair: one of the
    // moves that would improve the stage's entry but break a limit, with
    // the move that makes the pair better overall (e.g. a task moved to the
    // cloud for latency, another to the drones to pay for it).
    for _round in 0..PAIR_ROUNDS {
        for _pass in 0..4 {
            let pass = descent_pass(
                model,
                &choices,
                &mut assignment,
                &mut current,
                &mut key,
                |_| late(),
            );
            match pass {
                None => return Some((assignment, current)),
                Some(false) => break,
                Some(true) => {}
            }
        }
        let base = entry(&current, &assignment);
        let mut firsts: Vec<(u128, usize, Modality)> = Vec::new();
        for i in 0..assignment.len() {
            let old = assignment[i];
            for &m in choices[i].iter().filter(|&&m| m != old) {
                if late() {
                    return Some((assignment, current));
                }
                assignment[i] = m;
                let e = model.evaluate_cached(&assignment, &mut cache);
                let value = entry(&e, &assignment);
                if value < base {
                    firsts.push((base - value, i, m));
                }
            }
            assignment[i] = old;
        }
        firsts.sort_unstable_by_key(|&(gain, i, m)| {
            (std::cmp::Reverse(gain), i, hivemind_cost::modality_index(m))
        });
        let mut paired = false;
        'firsts: for &(_, i, mi) in firsts.iter().take(PAIR_FIRSTS) {
            let old_i = assignment[i];
            assignment[i] = mi;
            for j in (0..assignment.len()).filter(|&j| j != i) {
                let old_j = assignment[j];
                for &mj in choices[j].iter().filter(|&&m| m != old_j) {
                    if late() {
                        assignment[i] = old_i;
                        return Some((assignment, current));
                    }
                    assignment[j] = mj;
                    let e = model.evaluate_cached(&assignment, &mut cache);
                    let k = greedy_key(model, &e, &assignment);
                    if k < key {
                        (current, key) = (e, k);
                        paired = true;
                        break 'firsts;
                    }
                }
                assignment[j] = old_j;
            }
            assignment[i] = old_i;
        }
        if !paired {
            break;
        }
    }
    Some((assignment, current))
}

/// A repair step: its violation removed per unit of objective added, its
/// moves, the evaluation after them and their violation.
type Step = (f64, Vec<(usize, Modality)>, Evaluation, u128);

/// The repair's finer violation scale (millionths), once stuck in ‰.
pub(crate) const FINE: u128 = 1_000_000;

/// First moves tried in pairs (repair and descent).
const PAIR_FIRSTS: usize = 8;
/// Pair moves in a descent, at most.
const PAIR_ROUNDS: usize = 32;

/// One pass of one-task moves in topological order, keeping each that
/// lowers greedy's key (greedy's improvement and the repair's descent).
/// `None` when `halt`, asked before each task, says to stop; else whether
/// a move was kept.
fn descent_pass(
    model: &CostModel,
    choices: &[Vec<Modality>],
    assignment: &mut [Modality],
    current: &mut Evaluation,
    key: &mut (u128, Vec<Sat>),
    halt: impl Fn(&Evaluation) -> bool,
) -> Option<bool> {
    // Moves change a task or two: evaluated incrementally.
    let mut cache = None;
    let mut improved = false;
    for &t in &model.topo {
        let i = t.index();
        if halt(current) {
            return None;
        }
        for &m in &choices[i] {
            if m == assignment[i] {
                continue;
            }
            let old = assignment[i];
            assignment[i] = m;
            let e = model.evaluate_cached(assignment, &mut cache);
            let k = greedy_key(model, &e, assignment);
            if k < *key {
                (*current, *key) = (e, k);
                improved = true;
            } else {
                assignment[i] = old;
            }
        }
    }
    Some(improved)
}

/// What the greedy search minimises: violations first, then the
/// synthesizer's whole order of preference (objectives, tie-breakers, FPGA
/// count), so that its plan can prove every stage by the bounds.
fn greedy_key(model: &CostModel, e: &Evaluation, a: &[Modality]) -> (u128, Vec<Sat>) {
    (violation(e), model.preference_vector(e, a))
}

/// The first pair of moves that lowers the greedy key: the first task from
/// the paths of violated latency requirements (every task if none is
/// violated), the second any other task. Applies it and returns true.
fn pair_move(
    model: &CostModel,
    choices: &[Vec<Modality>],
    assignment: &mut [Modality],
    current: &mut Evaluation,
    deadline: Option<std::time::Instant>,
) -> bool {
    // Moves change a task or two: evaluated incrementally.
    let mut cache = None;
    let n = assignment.len();
    let mut first: Vec<usize> = (0..n)
        .filter(|&t| {
            model.graph.requirements.iter().enumerate().any(|(r, _)| {
                !current.requirements[r].met && model.path_tasks[r].get(t).copied().unwrap_or(false)
            })
        })
        .collect();
    if first.is_empty() {
        first = (0..n).collect();
    }
    let base = greedy_key(model, current, assignment);
    for &i in &first {
        for &mi in &choices[i] {
            if mi == assignment[i] {
                continue;
            }
            let old_i = assignment[i];
            assignment[i] = mi;
            for j in (0..n).filter(|&j| j != i) {
                if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                    assignment[i] = old_i;
                    return false;
                }
                for &mj in &choices[j] {
                    if mj == assignment[j] {
                        continue;
                    }
                    let old_j = assignment[j];
                    assignment[j] = mj;
                    let e = model.evaluate_cached(assignment, &mut cache);
                    if greedy_key(model, &e, assignment) < base {
                        *current = e;
                        return true;
                    }
                    assignment[j] = old_j;
                }
            }
            assignment[i] = old_i;
        }
    }
    false
}

/// The exact Pareto front by enumeration: the distinct non-dominated
/// objective vectors of all feasible assignments, sorted (`None` above `limit`).
pub fn exhaustive_front(model: &CostModel, limit: u64) -> Option<Vec<Vec<Sat>>> {
    let mut points: Vec<Vec<Sat>> = Vec::new();
    for_each_feasible(model, limit, |_, e| points.push(model.objective_vector(&e)))?;
    points.sort();
    points.dedup();
    let dominated = |p: &Vec<Sat>| {
        points
            .iter()
            .any(|q| q != p && q.iter().zip(p).all(|(a, b)| a <= b))
    };
    Some(points.iter().filter(|p| !dominated(p)).cloned().collect())
}
