//! Why no plan exists: a minimal set of requirements, pins and CPU
//! capacities that cannot hold together, shrunk by deletion — first from
//! the bounds' own proof (presolve, milliseconds even for large missions),
//! else from z3's unsat core of tracked assertions — and for each such
//! requirement the best value any placement could reach under the same pins.

use crate::bounds::{Active, Presolve};
use crate::encode::Encoding;
use hivemind_cost::CostModel;
use hivemind_ir::TaskId;
use std::time::{Duration, Instant};
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
    /// Cover tasks whose fleet cannot sweep the area within the mission
    /// (`hivemind_cost::coverage`; no placement changes it).
    pub coverage: Vec<TaskId>,
    /// The figures behind `coverage` (per task, with the synthesis's
    /// profile), for the report.
    #[serde(skip)]
    pub sweeps: Vec<hivemind_cost::Coverage>,
    /// Totals too large to compute (2⁶⁴ or more of their unit) at every
    /// placement: the cost model cannot predict any plan.
    pub overflow: Vec<hivemind_cost::Total>,
    /// For each requirement: the best predicted value reachable under the pins,
    /// in the requirement's unit (µs, n$/h, basis points).
    pub best: Vec<(u32, i64)>,
    /// Whether every part was tried for deletion: `false` when the deadline
    /// cut the shrinking (the parts not tried are kept: still a conflict,
    /// only not the smallest).
    pub minimal: bool,
}

enum Literal {
    Requirement(usize),
    Pin(TaskId),
    Capacity(usize),
}

/// One conflict, before its best values are looked up.
#[derive(Debug, Default)]
struct Core {
    requirements: Vec<usize>,
    pins: Vec<TaskId>,
    capacity: Vec<usize>,
    /// Every part tried for deletion (see [`Conflict::minimal`]).
    minimal: bool,
}

pub(crate) fn conflicts(model: &CostModel, timeout: Duration) -> Vec<Conflict> {
    let started = Instant::now();
    let enc = Encoding::new(model, true);
    let deadline = started + timeout / 2;
    let mut cores = bound_cores(model, deadline, &|| Instant::now() >= deadline);
    if cores.is_empty() {
        cores = solver_cores(&enc, timeout);
    }
    // "Best alone" is a courtesy: at most 2 s each, within the budget.
    let per_requirement = (timeout.saturating_sub(started.elapsed())
        / cores
            .iter()
            .map(|c| c.requirements.len())
            .sum::<usize>()
            .max(1) as u32)
        .min(Duration::from_secs(2));
    tracing::debug!(
        cores = cores.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "conflicts found"
    );
    cores
        .into_iter()
        .map(|core| Conflict {
            best: core
                .requirements
                .iter()
                .filter_map(|&r| {
                    best_value(model, &enc, r, per_requirement)
                        .map(|v| (model.graph.requirements[r].id, v))
                })
                .collect(),
            requirements: core
                .requirements
                .iter()
                .map(|&r| model.graph.requirements[r].id)
                .collect(),
            pins: core.pins,
            capacity: core.capacity,
            coverage: Vec::new(),
            sweeps: Vec::new(),
            overflow: Vec::new(),
            minimal: core.minimal,
        })
        .collect()
}

/// Conflicts the bounds alone prove (fast and deterministic): while presolve
/// finds the active parts infeasible, switch off each requirement, pin and
/// CPU capacity the proof does not need, report the rest, set its
/// requirements and capacities aside and look again. Past `deadline` the
/// remaining parts are kept untried: the conflict stays true, only less small.
/// `stop` says when the time is up (the clock against `deadline`, which
/// also bounds each presolve; tests count checks instead).
fn bound_cores(model: &CostModel, deadline: Instant, stop: &dyn Fn() -> bool) -> Vec<Core> {
    let g = model.graph;
    let infeasible = |a: &Active| Presolve::with_until(model, a, deadline).infeasible;
    // Whether `core` no longer conflicts without the part just switched off
    // (so the part is needed); only tried in time (`untried` counts the
    // parts kept without a try).
    let untried = std::cell::Cell::new(0usize);
    let needed = |core: &Active| {
        if stop() {
            untried.set(untried.get() + 1);
            return true;
        }
        !infeasible(core)
    };
    let mut active = Active::all(model);
    // Conflicts name CPU capacities, requirements and pins: radio stays out
    // of the proof (a conflict found without it holds with it).
    active.radio = false;
    // Pins that restrict a task, as deletable parts (kept fixed when there
    // are too many to try one by one).
    let restricting: Vec<usize> = (0..g.tasks.len())
        .filter(|&t| {
            let possible = model.tasks[t].compute_us.iter().flatten().count();
            model.choices(TaskId(t as u32)).len() < possible
        })
        .collect();
    let pins_deletable = restricting.len() <= 64;
    let mut out = Vec::new();
    for _ in 0..8 {
        if stop() || !infeasible(&active) {
            break;
        }
        // Capacities are tried first: what survives deletion is what the
        // user can change (a bound, a pin) wherever that explains it.
        let mut core = active.clone();
        untried.set(0);
        for c in 0..core.capacity.len() {
            if core.capacity[c] {
                core.capacity[c] = false;
                core.capacity[c] = needed(&core);
            }
        }
        // Requirements by QuickXplain: a conflict of k among n costs
        // O(k·log n) presolves where deleting one by one cost n (a
        // 1,000-task mission with 42 requirements: 42 presolves).
        let parts: Vec<usize> = (0..g.requirements.len())
            .filter(|&r| core.requirements[r])
            .collect();
        for &r in &parts {
            core.requirements[r] = false;
        }
        let conflicting = |a: &Active| !needed(a);
        for r in quickxplain(&mut core, &parts, true, &conflicting) {
            core.requirements[r] = true;
        }
        if pins_deletable {
            for &t in &restricting {
                core.pins[t] = false;
                core.pins[t] = needed(&core);
            }
        }
        let found = Core {
            requirements: (0..g.requirements.len())
                .filter(|&r| core.requirements[r])
                .collect(),
            pins: restricting
                .iter()
                .filter(|&&t| pins_deletable && core.pins[t])
                .map(|&t| TaskId(t as u32))
                .collect(),
            capacity: (0..core.capacity.len())
                .filter(|&c| core.capacity[c])
                .collect(),
            minimal: untried.get() == 0,
        };
        if found.requirements.is_empty() && found.capacity.is_empty() {
            break;
        }
        for &r in &found.requirements {
            active.requirements[r] = false;
        }
        for &c in &found.capacity {
            active.capacity[c] = false;
        }
        out.push(found);
    }
    out
}

/// QuickXplain (Junker, AAAI 2004) over requirements: a subset of `parts`
/// that keeps `base` (those parts switched off) infeasible, given that
/// `base` with all of them is; the smallest such (no part can go) when
/// `conflicting` answers truly. `conflicting` may answer "no" without
/// trying (out of time): the result is then still a conflict, only
/// larger. `delta`: whether `base` changed since it was last known
/// feasible (check it first).
fn quickxplain(
    base: &mut Active,
    parts: &[usize],
    delta: bool,
    conflicting: &dyn Fn(&Active) -> bool,
) -> Vec<usize> {
    if delta && conflicting(base) {
        return Vec::new();
    }
    if parts.len() <= 1 {
        return parts.to_vec();
    }
    let (c1, c2) = parts.split_at(parts.len() / 2);
    let set = |base: &mut Active, rs: &[usize], on: bool| {
        for &r in rs {
            base.requirements[r] = on;
        }
    };
    set(base, c1, true);
    let d2 = quickxplain(base, c2, true, conflicting);
    set(base, c1, false);
    set(base, &d2, true);
    let d1 = quickxplain(base, c1, !d2.is_empty(), conflicting);
    set(base, &d2, false);
    [d1, d2].concat()
}

/// Conflicts from z3's unsat cores of tracked assertions, for what the
/// bounds cannot prove.
fn solver_cores(enc: &Encoding, timeout: Duration) -> Vec<Core> {
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
        // Deletion-based shrinking: drop each literal the conflict does not
        // need (an answer cut by the timeout keeps it: not minimal then).
        let mut i = 0;
        let mut minimal = true;
        while i < core.len() && core.len() > 1 {
            let trial: Vec<Bool> = core
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, &k)| lits[k].0.clone())
                .collect();
            match solver.check_assumptions(&trial) {
                SatResult::Unsat => {
                    core.remove(i);
                }
                SatResult::Sat => i += 1,
                SatResult::Unknown => {
                    minimal = false;
                    i += 1;
                }
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
        out.push(Core {
            requirements,
            pins,
            capacity,
            minimal,
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
    model.evaluate(&a).requirements[r].predicted
}

#[cfg(test)]
mod tests {
    use super::*;
    use hivemind_cost::Profile;

    /// Three requirements, two of which conflict (a cloud budget too small
    /// for the work the drones cannot carry alone).
    const MISSION: &str = r#"mission m {
  duration 10 min
  fleet drones: drone x 2 { cpu 1.2 GHz x 4; battery 5000 mAh @ 15.2 V; radio 20 Mbit/s; sensors camera }
  cloud { servers 4; cores 8 each; price $0.0000166667 per GB-s }
  task cam on drones -> d0: jpeg 120 KB { every 100 ms; needs camera }
  task a(d0) -> d1: blob 10 KB { work 2000 Mop; fn fa }
  task b(d1) -> d2: blob 10 KB { work 2000 Mop; fn fb }
  require latency(cam -> b) p95 < 60 s
  require cloud_cost < $0.000001 per hour
  require battery(drones) >= 99%
  minimize energy
}
"#;

    /// A conflict whose shrinking the clock cut says so (`minimal` false)
    /// and is still a conflict (presolve finds it infeasible alone); with
    /// time for every try it is the smallest and says so. The stop is a
    /// count of checks, so the test does not depend on the machine.
    #[test]
    fn a_conflict_cut_while_shrinking_says_it_is_not_the_smallest() {
        let graph = hivemind_dsl::compile(MISSION, "m.hm")
            .graph
            .expect("compiles");
        let model = CostModel::new(&graph, Profile::default()).expect("model");
        let far = Instant::now() + Duration::from_secs(600);
        // Whether these requirements and capacities conflict by presolve.
        let conflict = |requirements: &[usize], capacity: &[usize]| {
            let mut active = Active::all(&model);
            active.radio = false;
            for r in 0..graph.requirements.len() {
                active.requirements[r] = requirements.contains(&r);
            }
            for f in 0..active.capacity.len() {
                active.capacity[f] = capacity.contains(&f);
            }
            Presolve::with_until(&model, &active, far).infeasible
        };
        let full = bound_cores(&model, far, &|| false);
        assert!(!full.is_empty(), "the mission is infeasible");
        assert!(full.iter().all(|c| c.minimal));
        let (smallest, capacity) = (&full[0].requirements, &full[0].capacity);
        assert!(
            smallest.len() < 3,
            "the latency bound is not needed: {:?}",
            full[0]
        );
        // The smallest: a conflict, and without any one of its
        // requirements none.
        assert!(conflict(smallest, capacity));
        for &r in smallest {
            let without: Vec<usize> = smallest.iter().copied().filter(|&x| x != r).collect();
            assert!(
                !conflict(&without, capacity),
                "{:?} holds without requirement {r}",
                full[0]
            );
        }
        // Stop after the first checks: the deletion keeps what it did not try.
        let mut cut_short = 0;
        for budget in 1..=3usize {
            let calls = std::cell::Cell::new(0usize);
            let cut = bound_cores(&model, far, &|| {
                calls.set(calls.get() + 1);
                calls.get() > budget
            });
            let Some(c) = cut.first() else { continue };
            assert!(
                conflict(&c.requirements, &c.capacity),
                "budget {budget}: the cut conflict {c:?} is not a conflict"
            );
            if c.requirements.len() + c.capacity.len() > smallest.len() + capacity.len() {
                assert!(
                    !c.minimal,
                    "budget {budget}: {c:?} is larger yet says minimal"
                );
            }
            cut_short += usize::from(!c.minimal);
        }
        assert!(
            cut_short > 0,
            "no budget cut the shrinking (full: {full:?})"
        );
    }
}
