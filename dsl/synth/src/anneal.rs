//! Simulated annealing on one lexicographic stage's placements, from the
//! incumbent, to improve it before the branch-and-bound: one task (or a
//! task and a neighbour in the task graph) changes modality per move,
//! within presolve's domains; a move is kept when it lowers the energy, or
//! else with probability `exp(−Δ/T)` at a temperature that falls
//! geometrically over the move budget.
//!
//! The energy is the stage's objective relative to the start's value plus
//! the placement's violation (requirements, CPU and radio overload, the
//! earlier stages' excess over their optima, in millionths of their
//! bounds) times a penalty weight. The weight follows the search (more
//! when it spends most of a period infeasible, less when it never leaves
//! the feasible side), so the walk crosses the infeasible region near the
//! binding limits, where the one-task moves of a descent get stuck: a
//! task moved to the cloud for latency and another moved to the edge to
//! pay for it are two moves, each infeasible or worse alone.
//!
//! Seeded and budgeted in moves; the temperature falls with the larger of
//! the moves' and the clock's progress, so a walk the deadline cuts still
//! ends cold. The same inputs give the same walk on any machine only when
//! the move budget, not the clock, ends it (on large missions the clock
//! does; the report then says the stage was cut by time). Each move is
//! evaluated incrementally ([`CostModel::evaluate_cached`]). Only
//! placements the caller's `value_of` accepts (feasible, every earlier
//! optimum met) count.

use crate::bounds::Domains;
use crate::rng::Rng;
use crate::search::{stage_entry, stage_violation, FINE};
use crate::watchdog::Limits;
use hivemind_cost::{modality_index, CostModel};
use hivemind_ir::plan::Modality;
use std::time::Instant;

/// The starting temperature, relative to the start's value: a move that
/// costs 0.03% of the objective is kept with probability 1/e at first.
const T_START: f64 = 3e-4;
/// The final temperature (a descent, in effect).
const T_END: f64 = 3e-6;
/// The penalty weight at first: a violation of 1% of a bound weighs as
/// much as 2% of the objective.
const WEIGHT_START: f64 = 2.0;
/// Moves per penalty period (the weight adapts once per period).
const PERIOD: u64 = 500;
/// The share of moves that change a task and a neighbour (transfers
/// between them), and of those that change two tasks anywhere (one frees
/// a fleet's CPU or radio that the other takes).
const PAIR_PERMILLE: usize = 300;
const SWAP_PERMILLE: usize = 300;

/// What [`anneal`] found and did.
pub(crate) struct Annealed {
    /// The best accepted placement (the start's when nothing beat it).
    pub assignment: Vec<Modality>,
    pub value: u64,
    pub moves: u64,
    /// Times a better feasible placement was found.
    pub improvements: u64,
}

/// Anneal from `start` (feasible, of value `value` at `stage`) for up to
/// `moves` moves, `deadline` or `limits`, or until a placement reaches the
/// stage's lower bound `lower` (proven optimal), within `domains` (the
/// start's own modalities are always allowed).
#[allow(clippy::too_many_arguments)]
pub(crate) fn anneal(
    model: &CostModel,
    domains: &Domains,
    start: Vec<Modality>,
    value: u64,
    lower: u64,
    stage: usize,
    fixed: &[u64],
    value_of: &impl Fn(&[Modality]) -> Option<u64>,
    seed: u64,
    moves: u64,
    deadline: Instant,
    limits: &Limits,
) -> Annealed {
    let n = start.len();
    let mut out = Annealed {
        assignment: start.clone(),
        value,
        moves: 0,
        improvements: 0,
    };
    if n != domains.len() || value == 0 || moves == 0 {
        return out;
    }
    // Per task, the modalities a move may pick.
    let choices: Vec<Vec<Modality>> = (0..n)
        .map(|t| {
            let mut c: Vec<Modality> = Modality::ALL
                .into_iter()
                .filter(|&m| domains[t][modality_index(m)] || m == start[t])
                .collect();
            c.sort_by_key(|&m| modality_index(m));
            c
        })
        .collect();
    let open: Vec<usize> = (0..n).filter(|&t| choices[t].len() > 1).collect();
    if open.is_empty() {
        return out;
    }
    let mut near: Vec<Vec<usize>> = vec![Vec::new(); n];
    for e in &model.graph.edges {
        let (a, b) = (e.from.index(), e.to.index());
        if a < n && b < n && a != b && choices[a].len() > 1 && choices[b].len() > 1 {
            near[a].push(b);
            near[b].push(a);
        }
    }
    let scale = value as f64;
    let mut weight = WEIGHT_START;
    let mut cache = None;
    // The energy, the violation and the stage's value.
    let mut energy = |a: &[Modality], weight: f64| -> (f64, u128, u128) {
        let e = model.evaluate_cached(a, &mut cache);
        let entry = stage_entry(model, &e, a, stage);
        let violation = stage_violation(model, &e, a, fixed, FINE);
        let v = entry as f64 / scale + weight * violation as f64 / FINE as f64;
        (v, violation, entry)
    };
    let mut rng = Rng::seeded(seed);
    let mut current = start;
    let (mut here, mut violation, _) = energy(&current, weight);
    let mut infeasible_in_period = 0u64;
    let ratio = T_END / T_START;
    let mut undo: Vec<(usize, Modality)> = Vec::with_capacity(2);
    let began = Instant::now();
    let span = deadline.saturating_duration_since(began).as_secs_f64();
    let mut progress = 0f64;
    while out.moves < moves && out.value > lower {
        if out.moves.is_multiple_of(256) {
            if Instant::now() >= deadline || limits.stopped().is_some() {
                break;
            }
            // The schedule's progress: by moves, or by the clock when it
            // runs out first (so the walk always ends cold).
            let by_clock = began.elapsed().as_secs_f64() / span.max(1e-9);
            progress = (out.moves as f64 / moves as f64).max(by_clock).min(1.0);
        }
        let temperature = T_START * ratio.powf(progress);
        out.moves += 1;
        // The move: a random open task to another of its modalities, and
        // sometimes a neighbour too.
        undo.clear();
        let t = open[rng.below(open.len())];
        let mut shift = |t: usize, rng: &mut Rng, undo: &mut Vec<(usize, Modality)>| {
            let c = &choices[t];
            let k = c.iter().position(|&m| m == current[t]).unwrap_or(0);
            let m = c[(k + 1 + rng.below(c.len() - 1)) % c.len()];
            undo.push((t, current[t]));
            current[t] = m;
        };
        shift(t, &mut rng, &mut undo);
        let kind = rng.below(1_000);
        if !near[t].is_empty() && kind < PAIR_PERMILLE {
            let u = near[t][rng.below(near[t].len())];
            shift(u, &mut rng, &mut undo);
        } else if kind >= 1_000 - SWAP_PERMILLE {
            let u = open[rng.below(open.len())];
            if u != t {
                shift(u, &mut rng, &mut undo);
            }
        }
        let (there, v, entry) = energy(&current, weight);
        let delta = there - here;
        let keep = delta <= 0.0 || rng.unit() < (-delta / temperature).exp();
        if keep {
            (here, violation) = (there, v);
            // The caller's check (a full evaluation) only for a candidate.
            if violation == 0 && entry < u128::from(out.value) {
                if let Some(value) = value_of(&current).filter(|&x| x < out.value) {
                    out.value = value;
                    out.assignment.clone_from(&current);
                    out.improvements += 1;
                }
            }
        } else {
            for &(t, m) in undo.iter().rev() {
                current[t] = m;
            }
        }
        infeasible_in_period += u64::from(violation > 0);
        if out.moves.is_multiple_of(PERIOD * 40) {
            tracing::trace!(
                moves = out.moves,
                temperature,
                weight,
                infeasible_in_period,
                here,
                violation,
                best = out.value,
                "annealing"
            );
        }
        if out.moves.is_multiple_of(PERIOD) {
            // Mostly infeasible: violations are too cheap; never: the
            // walk could afford to cross the limits more.
            if infeasible_in_period * 2 > PERIOD {
                weight = (weight * 1.5).min(1e4);
            } else if infeasible_in_period == 0 {
                weight = (weight / 1.2).max(1e-2);
            }
            infeasible_in_period = 0;
            here = energy(&current, weight).0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::bench::{mission, Family};
    use crate::rng::Rng;
    use hivemind_cost::{CostModel, Profile};
    use hivemind_ir::plan::Modality;

    /// The incremental evaluation the annealing uses equals the full one
    /// after every move, on every binding family: single and multi-task
    /// moves, undos, and moves back and forth.
    #[test]
    fn cached_evaluation_equals_the_full_one() {
        let mut checked = 0;
        for family in Family::ALL {
            for seed in 1..=2 {
                let src = mission(family, 50, seed).expect("mission");
                let graph = hivemind_dsl::compile(&src, "f.hm").graph.expect("graph");
                let model = CostModel::new(&graph, Profile::default()).expect("model");
                let choices = model.all_choices().expect("choices");
                let mut rng = Rng::seeded(seed);
                let mut a: Vec<Modality> = choices.iter().map(|c| c[0]).collect();
                let mut cache = None;
                for step in 0..600 {
                    let changes = 1 + rng.below(if step % 50 == 0 { 40 } else { 3 });
                    for _ in 0..changes {
                        let t = rng.below(a.len());
                        a[t] = choices[t][rng.below(choices[t].len())];
                    }
                    let full = model.evaluate(&a);
                    let cached = model.evaluate_cached(&a, &mut cache);
                    assert_eq!(cached, full, "{} seed {seed} step {step}", family.name());
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 5 * 2 * 600);
    }
}
