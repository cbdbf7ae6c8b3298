//! Large-neighbourhood search with z3 on windows of tasks: every task
//! outside a window keeps the incumbent's modality (as an assumption, so
//! one incremental solver keeps what it learnt across windows), and z3 is
//! asked for a placement of the window that beats the incumbent's value of
//! the stage's objective. A satisfiable window improves the incumbent; an
//! unsatisfiable one is locally optimal, and after a run of those the
//! window grows. A window holding every task that comes back
//! unsatisfiable proves the incumbent optimal for the stage.
//!
//! Windows are chosen by a fixed pseudo-random sequence (alternately a
//! random subset and a run of consecutive tasks in topological order, which
//! follows chains), so with the same inputs the sequence of improvements is
//! the same; only where the deadline cuts it depends on the machine.

use crate::encode::Encoding;
use crate::rng::Rng;
use crate::watchdog::Limits;
use hivemind_cost::modality_index;
use hivemind_ir::plan::Modality;
use std::time::Instant;
use z3::ast::{Bool, Int};
use z3::{Params, SatResult, Solver};

/// What a search of one stage found.
pub(crate) struct Found {
    pub assignment: Vec<Modality>,
    pub value: u64,
    /// The incumbent is optimal for the stage (a whole-problem window was
    /// unsatisfiable below it).
    pub proven: bool,
}

/// Improve `start` (meeting every constraint, `fixed` and `cuts`
/// included, with `value` as `term`'s value) until `deadline`, the
/// lower bound, or a proof. `on_better` sees every improvement as it is
/// found (a worker process reports them at once, so a kill loses none).
#[allow(clippy::too_many_arguments)]
pub(crate) fn improve(
    enc: &Encoding,
    constraints: &[Bool],
    term: &Int,
    start: Vec<Modality>,
    value: u64,
    lower: u64,
    deadline: Instant,
    limits: &Limits,
    seed: u64,
    on_better: &mut dyn FnMut(&[Modality], u64),
) -> Found {
    let n = start.len();
    let mut found = Found {
        assignment: start,
        value,
        proven: value <= lower,
    };
    if found.proven || n == 0 {
        return found;
    }
    let solver = Solver::new();
    for c in constraints {
        solver.assert(c);
    }
    let topo: Vec<usize> = enc.model.topo.iter().map(|t| t.index()).collect();
    let mut rng = Rng::seeded(seed);
    let mut size = n.min(6);
    let mut unsat_run = 0usize;
    let mut round = 0u64;
    let mut in_window = vec![false; n];
    while Instant::now() < deadline && limits.stopped().is_none() && found.value > lower {
        round += 1;
        in_window.fill(false);
        if size >= n {
            in_window.fill(true);
        } else if round.is_multiple_of(2) {
            let begin = rng.below(n - size + 1);
            for &t in &topo[begin..begin + size] {
                in_window[t] = true;
            }
        } else {
            let mut picked = 0;
            while picked < size {
                let t = rng.below(n);
                if !in_window[t] {
                    in_window[t] = true;
                    picked += 1;
                }
            }
        }
        let better = Bool::new_const(format!("better_{round}"));
        solver.assert(better.implies(term.le(Int::from_u64(found.value - 1))));
        let mut assumptions = vec![better];
        for (t, m) in found.assignment.iter().enumerate() {
            if !in_window[t] {
                if let Some(x) = &enc.x[t][modality_index(*m)] {
                    assumptions.push(x.clone());
                }
            }
        }
        // Best effort (z3 may overrun it); the watchdog holds the deadline.
        let left = deadline.saturating_duration_since(Instant::now());
        let mut p = Params::new();
        p.set_u32(
            "timeout",
            left.as_millis().clamp(1, u128::from(u32::MAX)) as u32,
        );
        solver.set_params(&p);
        match solver.check_assumptions(&assumptions) {
            SatResult::Sat => {
                let Some(m) = solver.get_model() else { break };
                let (Some(a), Some(v)) = (
                    enc.assignment(&m),
                    m.eval(term, true).and_then(|v| v.as_u64()),
                ) else {
                    break;
                };
                if v < found.value {
                    on_better(&a, v);
                    found.assignment = a;
                    found.value = v;
                    unsat_run = 0;
                }
            }
            SatResult::Unsat if size >= n => {
                found.proven = true;
                break;
            }
            SatResult::Unsat => {
                unsat_run += 1;
                // A few locally optimal windows in a row: look wider.
                if unsat_run >= 4 {
                    size = (size * 3 / 2).min(n);
                    unsat_run = 0;
                }
            }
            SatResult::Unknown => break,
        }
    }
    found.proven |= found.value <= lower;
    tracing::debug!(
        rounds = round,
        window = size,
        tasks = n,
        from = value,
        to = found.value,
        lower,
        proven = found.proven,
        "neighbourhood search"
    );
    found
}
