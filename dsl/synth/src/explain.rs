//! Why no plan exists: a minimal set of requirements and pins that cannot
//! hold together (an unsat core of tracked assertions, shrunk by deletion),
//! and for each such requirement the best value any placement could reach
//! under the same pins.

use crate::encode::Encoding;
use hivemind_dsl::cost::CostModel;
use hivemind_dsl::ir::TaskId;
use std::time::Duration;
use z3::ast::Bool;
use z3::{Optimize, SatResult, Solver};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Conflict {
    /// Requirement ids that cannot hold together (with the pins below).
    pub requirements: Vec<u32>,
    /// Tasks whose pins take part in the conflict.
    pub pins: Vec<TaskId>,
    /// Fleets (by index; the cloud is `fleets.len()`) whose CPU capacity takes part.
    pub capacity: Vec<usize>,
    /// For each requirement: the best predicted value reachable under the pins,
    /// in the requirement's unit (µs, n$/h, basis points).
    pub best: Vec<(u32, i64)>,
}

enum Literal {
    Requirement(usize),
    Pin(TaskId),
    Capacity(usize),
}

pub(crate) fn conflicts(model: &CostModel, timeout: Duration) -> Vec<Conflict> {
    let enc = Encoding::new(model, true);
    let solver = Solver::new();
    let mut p = z3::Params::new();
    p.set_u32(
        "timeout",
        timeout.as_millis().clamp(1, u128::from(u32::MAX)) as u32,
    );
    solver.set_params(&p);
    for c in &enc.structure {
        solver.assert(c);
    }
    let mut lits: Vec<(Bool, Literal)> = Vec::new();
    for (i, c) in enc.requirements.iter().enumerate() {
        let b = Bool::new_const(format!("req_{i}"));
        solver.assert(b.implies(c));
        lits.push((b, Literal::Requirement(i)));
    }
    for (t, c) in &enc.pins {
        let b = Bool::new_const(format!("pin_{}", t.0));
        solver.assert(b.implies(c));
        lits.push((b, Literal::Pin(*t)));
    }
    for (i, c) in enc.capacity.iter().enumerate() {
        let b = Bool::new_const(format!("capacity_{i}"));
        solver.assert(b.implies(c));
        lits.push((b, Literal::Capacity(i)));
    }
    // Independent conflicts one after another: find a core, shrink it,
    // set its requirements aside, and look again.
    let mut active: Vec<usize> = (0..lits.len()).collect();
    let mut out = Vec::new();
    for _ in 0..8 {
        let assumptions: Vec<Bool> = active.iter().map(|&k| lits[k].0.clone()).collect();
        if solver.check_assumptions(&assumptions) != SatResult::Unsat {
            break;
        }
        let core_names: Vec<String> = solver
            .get_unsat_core()
            .iter()
            .map(|b| b.to_string())
            .collect();
        let mut core: Vec<usize> = active
            .iter()
            .copied()
            .filter(|&k| core_names.contains(&lits[k].0.to_string()))
            .collect();
        // Deletion-based shrinking: drop each literal the conflict does not need.
        let mut i = 0;
        while i < core.len() && core.len() > 1 {
            let trial: Vec<Bool> = core
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, &k)| lits[k].0.clone())
                .collect();
            if solver.check_assumptions(&trial) == SatResult::Unsat {
                core.remove(i);
            } else {
                i += 1;
            }
        }
        let mut requirements = Vec::new();
        let mut pins = Vec::new();
        let mut capacity = Vec::new();
        for &k in &core {
            match lits[k].1 {
                Literal::Requirement(r) => requirements.push(r),
                Literal::Pin(t) => pins.push(t),
                Literal::Capacity(f) => capacity.push(f),
            }
        }
        if requirements.is_empty() && capacity.is_empty() {
            break;
        }
        active.retain(|k| match lits[*k].1 {
            Literal::Requirement(r) => !requirements.contains(&r),
            Literal::Capacity(f) => !capacity.contains(&f),
            Literal::Pin(_) => true,
        });
        let best = requirements
            .iter()
            .filter_map(|&r| {
                best_value(model, &enc, r, timeout).map(|v| (model.graph.requirements[r].id, v))
            })
            .collect();
        out.push(Conflict {
            requirements: requirements
                .iter()
                .map(|&r| model.graph.requirements[r].id)
                .collect(),
            pins,
            capacity,
            best,
        });
    }
    out
}

/// The best value of requirement `r` reachable under every pin, ignoring the
/// other requirements.
fn best_value(model: &CostModel, enc: &Encoding, r: usize, timeout: Duration) -> Option<i64> {
    let opt = Optimize::new();
    let mut p = z3::Params::new();
    p.set_u32(
        "timeout",
        timeout.as_millis().clamp(1, u128::from(u32::MAX)) as u32,
    );
    opt.set_params(&p);
    for c in &enc.structure {
        opt.assert(c);
    }
    for (_, c) in &enc.pins {
        opt.assert(c);
    }
    for c in &enc.capacity {
        opt.assert(c);
    }
    opt.minimize(&enc.metrics[r]);
    if opt.check(&[]) != SatResult::Sat {
        return None;
    }
    let a = enc.assignment(&opt.get_model()?)?;
    Some(model.evaluate(&a).requirements[r].0)
}
