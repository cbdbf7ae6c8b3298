//! The z3 encoding of a placement problem, term for term the same sums as
//! [`CostModel::evaluate`]: indicator Booleans per (task, modality), compute
//! and transfer terms as `ite`s over them, path latencies as finish-time
//! integers bounded below by their predecessors (exact at the optimum and
//! for deadline feasibility).
//!
//! Coefficients are the cost model's [`Sat`] values fed to z3's unbounded
//! `Int`s as they are: an exact value is the true value, and a too-large
//! one enters as 2⁶⁴ − 1, at most the truth and itself too large. Every
//! total the model computes is held below 2⁶⁴ − 1 (`fits`), so a placement
//! z3 accepts is one whose totals the model computes exactly — the model
//! refuses the others ([`hivemind_cost::Evaluation::overflow`]) — and no
//! value passes through a wrapping integer on the way.

use crate::bounds::{self, max_mean};
use hivemind_cost::{modality_index, CostModel};
use hivemind_ir::plan::Modality;
use hivemind_ir::{Objective, RequirementKind, Sat, TaskId};
use z3::ast::{Bool, Int};

pub(crate) struct Encoding<'m, 'g> {
    pub model: &'m CostModel<'g>,
    /// `x[t][m]`: task t runs at modality m (None: not a variable).
    pub x: Vec<[Option<Bool>; 3]>,
    /// Requirement constraints, one per graph requirement, in order.
    pub requirements: Vec<Bool>,
    /// Pins as constraints (only when encoding for explanations).
    pub pins: Vec<(TaskId, Bool)>,
    /// Structural constraints (exactly one modality, finish-time bounds).
    pub structure: Vec<Bool>,
    /// Capacities (load ≤ capacity, in ‰ as [`CostModel::evaluate`] rounds
    /// it): CPU of each fleet, then of the cloud, then the radio of each
    /// fleet ([`capacity_name`] says which is which).
    pub capacity: Vec<Bool>,
    /// Objectives to minimise in order: the mission's, then tie-breakers.
    pub objectives: Vec<(Objective, Int)>,
    /// How many of `objectives` the mission stated (the rest break ties).
    pub stated_objectives: usize,
    /// Tasks placed on the FPGA modality (minimised after all objectives).
    pub fpga_count: Int,
    /// Per requirement: the metric it bounds, for "best achievable" queries.
    pub metrics: Vec<Int>,
}

fn int(v: u64) -> Int {
    Int::from_u64(v)
}

/// A cost-model value for z3: exact, or 2⁶⁴ − 1 when too large.
fn sat(v: Sat) -> Int {
    Int::from_u64(v.saturated())
}

/// `total` is computed exactly by the cost model (below 2⁶⁴ − 1, where
/// [`Sat`] saturates).
fn fits(total: &Int) -> Bool {
    total.le(int(u64::MAX - 1))
}

fn sum(terms: Vec<Int>) -> Int {
    if terms.is_empty() {
        return int(0);
    }
    Int::add(&terms)
}

impl<'m, 'g> Encoding<'m, 'g> {
    /// Every constraint a stage's search holds: structure, capacities and
    /// requirements, then `extra` (hard limits, values fixed by presolve).
    pub fn constraints<'a>(
        &'a self,
        extra: impl IntoIterator<Item = &'a Bool> + 'a,
    ) -> impl Iterator<Item = &'a Bool> + 'a {
        self.structure
            .iter()
            .chain(&self.capacity)
            .chain(&self.requirements)
            .chain(extra)
    }

    /// `with_pins_as_constraints`: create variables for modalities excluded
    /// only by pins and assert the pins separately (so an unsat core can name them).
    pub fn new(model: &'m CostModel<'g>, with_pins_as_constraints: bool) -> Self {
        let g = model.graph;
        let mut structure = Vec::new();
        let mut pins = Vec::new();
        let mut x: Vec<[Option<Bool>; 3]> = Vec::with_capacity(g.tasks.len());
        for t in &g.tasks {
            let allowed = model.choices(t.id);
            let mut vars: [Option<Bool>; 3] = [None, None, None];
            for m in Modality::ALL {
                let k = modality_index(m);
                let possible = model.tasks[t.id.index()].compute_us[k].is_some();
                if allowed.contains(&m) || (with_pins_as_constraints && possible) {
                    vars[k] = Some(Bool::new_const(format!("x_{}_{}", t.id.0, m.name())));
                }
            }
            let lits: Vec<(&Bool, i32)> = vars.iter().flatten().map(|b| (b, 1)).collect();
            structure.push(Bool::pb_eq(&lits, 1));
            if with_pins_as_constraints {
                let excluded: Vec<Bool> = Modality::ALL
                    .into_iter()
                    .filter(|m| !allowed.contains(m))
                    .filter_map(|m| vars[modality_index(m)].as_ref().map(|b| b.not()))
                    .collect();
                if !excluded.is_empty() {
                    pins.push((t.id, Bool::and(&excluded)));
                }
            }
            x.push(vars);
        }
        let mut enc = Encoding {
            model,
            x,
            requirements: Vec::new(),
            pins,
            structure,
            capacity: Vec::new(),
            objectives: Vec::new(),
            stated_objectives: 0,
            fpga_count: int(0),
            metrics: Vec::new(),
        };
        enc.build();
        enc
    }

    fn compute(&self, t: usize) -> Int {
        let c = &self.model.tasks[t];
        let terms = Modality::ALL
            .into_iter()
            .filter_map(|m| {
                let k = modality_index(m);
                match (&self.x[t][k], c.compute_us[k]) {
                    (Some(b), Some(us)) if us > Sat::ZERO => Some(b.ite(&sat(us), &int(0))),
                    _ => None,
                }
            })
            .collect();
        sum(terms)
    }

    /// Σ over (a, b) of `x[from][a] ∧ x[to][b] ? table[a][b] : 0`.
    fn pairwise(&self, from: usize, to: usize, table: &[[Sat; 3]; 3]) -> Int {
        let mut terms = Vec::new();
        for (row, xa) in table.iter().zip(&self.x[from]) {
            for (&value, xb) in row.iter().zip(&self.x[to]) {
                if let (true, Some(xa), Some(xb)) = (value > Sat::ZERO, xa, xb) {
                    terms.push(Bool::and(&[xa, xb]).ite(&sat(value), &int(0)));
                }
            }
        }
        sum(terms)
    }

    /// Finish times over the tasks marked in `on_path`, starting at `from`
    /// (None: every task may start at 0). Returns the finish-time variables.
    fn finish_times(
        &mut self,
        name: &str,
        on_path: &[bool],
        from: Option<TaskId>,
    ) -> Vec<Option<Int>> {
        let g = self.model.graph;
        let fin: Vec<Option<Int>> = (0..g.tasks.len())
            .map(|i| on_path[i].then(|| Int::new_const(format!("fin_{name}_{i}"))))
            .collect();
        for (i, f) in fin.iter().enumerate() {
            if let Some(f) = f {
                self.structure.push(f.ge(self.compute(i)));
            }
        }
        for (k, e) in g.edges.iter().enumerate() {
            let (p, t) = (e.from.index(), e.to.index());
            if Some(e.to) == from {
                continue;
            }
            if let (Some(fp), Some(ft)) = (&fin[p], &fin[t]) {
                let xfer = self.pairwise(p, t, &self.model.edges[k].transfer_us);
                let bound = Int::add(&[fp.clone(), xfer, self.compute(t)]);
                self.structure.push(ft.ge(bound));
            }
        }
        fin
    }

    /// Constraints implied by a deadline `fin[to] ≤ limit` on a path, which
    /// make z3's reasoning about it cheap: with the path's bounds per
    /// (task, modality) (earliest finish, least time still needed after it),
    /// a modality whose path through it exceeds the limit is ruled out, and
    /// `fin[t] ≤ limit − least time after t`.
    fn deadline_pruning(
        &self,
        on_path: &[bool],
        fin: &[Option<Int>],
        from: TaskId,
        limit: u64,
    ) -> Vec<Bool> {
        let domains: Vec<[bool; 3]> = self
            .x
            .iter()
            .map(|v| v.each_ref().map(Option::is_some))
            .collect();
        let pb = bounds::path_bounds(self.model, &domains, on_path, Some(from));
        let mut parts = Vec::new();
        for i in (0..on_path.len()).filter(|&i| on_path[i]) {
            let rest = pb.bwd[i]
                .iter()
                .copied()
                .filter(|&v| v != bounds::NONE)
                .min()
                .unwrap_or(0);
            if let Some(f) = &fin[i] {
                // limit − rest in z3's unbounded integers (negative: no room).
                parts.push(f.le(Int::sub(&[int(limit), int(rest)])));
            }
            for (k, x) in self.x[i].iter().enumerate() {
                if let (Some(x), true) = (x, pb.through(i, k) > limit) {
                    parts.push(x.not());
                }
            }
        }
        parts
    }

    fn build(&mut self) {
        let model = self.model;
        let g = model.graph;
        // Energy per fleet.
        let mut fleet_terms: Vec<Vec<Int>> =
            model.motion_uj.iter().map(|&m| vec![sat(m)]).collect();
        // Training jobs (continuous learning) run in the cloud whatever the placement.
        let mut cost_terms = vec![sat(model.training_cost_nusd_per_hour)];
        for t in &g.tasks {
            let i = t.id.index();
            let c = &model.tasks[i];
            if let (Some(b), Some(f)) = (&self.x[i][0], model.edge_fleet[t.id.index()]) {
                if c.edge_energy_uj > Sat::ZERO {
                    fleet_terms[f.index()].push(b.ite(&sat(c.edge_energy_uj), &int(0)));
                }
            }
            for k in 1..3 {
                if let Some(b) = &self.x[i][k] {
                    if c.cost_nusd_per_hour[k] > Sat::ZERO {
                        cost_terms.push(b.ite(&sat(c.cost_nusd_per_hour[k]), &int(0)));
                    }
                }
            }
        }
        let mut byte_terms = Vec::new();
        for (k, e) in g.edges.iter().enumerate() {
            let c = &model.edges[k];
            let (p, t) = (e.from.index(), e.to.index());
            for a in 0..3 {
                for b in 0..3 {
                    if let (Some(f), Some(xa), Some(xb)) =
                        (c.energy_fleet[a][b], &self.x[p][a], &self.x[t][b])
                    {
                        if c.radio_uj[a][b] > Sat::ZERO {
                            let both = Bool::and(&[xa, xb]);
                            fleet_terms[f.index()].push(both.ite(&sat(c.radio_uj[a][b]), &int(0)));
                        }
                    }
                }
            }
            byte_terms.push(self.pairwise(p, t, &c.uplink_bytes_per_hour));
        }
        let fleet_energy: Vec<Int> = fleet_terms.into_iter().map(sum).collect();
        for e in &fleet_energy {
            self.structure.push(fits(e));
        }
        // Capacity: floor(busy·1000 / cap) ≤ 1000  ⟺  busy·1000 < 1001·cap,
        // and the load computable (a too-large load is over any capacity).
        let mut fleet_busy: Vec<Vec<Int>> = vec![Vec::new(); g.fleets.len()];
        let mut cloud_busy = vec![sat(model.training_busy_us_per_hour)];
        for t in &g.tasks {
            let i = t.id.index();
            let c = &model.tasks[i];
            if let (Some(b), Some(f)) = (&self.x[i][0], model.edge_fleet[t.id.index()]) {
                if c.busy_us_per_hour[0] > Sat::ZERO {
                    fleet_busy[f.index()].push(b.ite(&sat(c.busy_us_per_hour[0]), &int(0)));
                }
            }
            for k in 1..3 {
                if let (Some(b), true) = (&self.x[i][k], c.busy_us_per_hour[k] > Sat::ZERO) {
                    cloud_busy.push(b.ite(&sat(c.busy_us_per_hour[k]), &int(0)));
                }
            }
        }
        let within = |busy: Vec<Int>, cap: u128| {
            let busy = sum(busy);
            if cap == 0 {
                // Nothing to run on (no cloud): only zero work fits.
                return busy.le(int(0));
            }
            // 1001 · cap < 2¹²⁸: capacities are below 2¹⁰⁰.
            let room = Int::from_u128(cap.saturating_mul(1_001));
            Bool::and(&[Int::mul(&[busy.clone(), int(1_000)]).lt(room), fits(&busy)])
        };
        for (f, busy) in fleet_busy.into_iter().enumerate() {
            self.capacity
                .push(within(busy, model.fleet_capacity_us_per_hour[f]));
        }
        self.capacity
            .push(within(cloud_busy, model.cloud_capacity_us_per_hour));
        // Radio capacity per fleet, after the CPU capacities (same ‰ rounding).
        let mut radio: Vec<Vec<Int>> = vec![Vec::new(); g.fleets.len()];
        // A retrained task on the edge receives its model pushes.
        for t in &g.tasks {
            let load = model.tasks[t.id.index()].edge_radio_bytes_per_hour;
            if let (Some(b), Some(f), true) = (
                &self.x[t.id.index()][0],
                model.edge_fleet[t.id.index()],
                load > Sat::ZERO,
            ) {
                radio[f.index()].push(b.ite(&sat(load), &int(0)));
            }
        }
        for (k, e) in g.edges.iter().enumerate() {
            let c = &model.edges[k];
            let (p, t) = (e.from.index(), e.to.index());
            for a in 0..3 {
                for b in 0..3 {
                    let (Some(xa), Some(xb)) = (&self.x[p][a], &self.x[t][b]) else {
                        continue;
                    };
                    for &(f, load) in &c.radio_load[a][b] {
                        if let (Some(f), true) = (f, load > Sat::ZERO) {
                            let both = Bool::and(&[xa, xb]);
                            radio[f.index()].push(both.ite(&sat(load), &int(0)));
                        }
                    }
                }
            }
        }
        for (f, load) in radio.into_iter().enumerate() {
            self.capacity
                .push(within(load, model.fleet_radio_bytes_per_hour[f]));
        }
        let cost = sum(cost_terms);
        let bytes = sum(byte_terms);
        self.structure.push(fits(&cost));
        self.structure.push(fits(&bytes));
        // Critical path of the whole graph: a makespan above every finish
        // time. Only built when something reads it: it doubles the
        // arithmetic of large graphs.
        let has_latency_req = g
            .requirements
            .iter()
            .any(|r| matches!(r.kind, RequirementKind::Latency { .. }));
        let needs_makespan = !has_latency_req
            || model.objectives.contains(&Objective::ExecTime)
            || g.requirements
                .iter()
                .any(|r| matches!(r.kind, RequirementKind::ExecTime { task: None, .. }));
        let makespan = if needs_makespan {
            let all = vec![true; g.tasks.len()];
            let whole = self.finish_times("all", &all, None);
            let makespan = Int::new_const("makespan");
            for f in whole.iter().flatten() {
                self.structure.push(makespan.ge(f));
            }
            makespan
        } else {
            int(0)
        };
        let mut path_latencies = Vec::new();
        for (r_idx, r) in g.requirements.iter().enumerate() {
            let strict = !r.inclusive;
            let (constraint, metric) = match r.kind {
                RequirementKind::Latency {
                    from,
                    to,
                    percentile_bp,
                    bound_us,
                } => {
                    let on_path = model.path_tasks[r_idx].clone();
                    let fin = self.finish_times(&format!("r{r_idx}"), &on_path, Some(from));
                    let end = fin[to.index()].clone().unwrap_or_else(|| int(0));
                    path_latencies.push(end.clone());
                    let f = model.profile.tail.factor(percentile_bp);
                    let mut parts = vec![upper(&end, f, bound_us, strict)];
                    if let Some(limit) = max_mean(f, bound_us, strict) {
                        parts.extend(self.deadline_pruning(&on_path, &fin, from, limit));
                    }
                    (Bool::and(&parts), end)
                }
                RequirementKind::ExecTime {
                    task: Some(t),
                    percentile_bp,
                    bound_us,
                } => {
                    let own = self.compute(t.index());
                    let f = model.profile.tail.factor(percentile_bp);
                    (upper(&own, f, bound_us, strict), own)
                }
                RequirementKind::ExecTime {
                    task: None,
                    bound_us,
                    ..
                } => {
                    let total = Int::add(&[int(model.duration_us), makespan.clone()]);
                    (upper(&total, 1_000, bound_us, strict), total)
                }
                RequirementKind::CloudCost { max_nusd_per_hour } => {
                    (upper(&cost, 1_000, max_nusd_per_hour, strict), cost.clone())
                }
                RequirementKind::BatteryReserve { fleet, min_bp } => {
                    // reserve ≥ M  ⟺  (cap − E)·10000 ≥ M·cap   (M ≥ 1; strict: M + 1)
                    let m = u128::from(min_bp) + u128::from(strict);
                    let mut parts = Vec::new();
                    let mut worst = Vec::new();
                    for f in g.fleets.iter().filter(|f| fleet.is_none_or(|x| x == f.id)) {
                        let cap = model.battery_uj[f.id.index()];
                        if cap == 0 {
                            // An empty battery has no reserve at all.
                            parts.push(Bool::from_bool(false));
                        }
                        // cap < 2⁹⁷ and M ≤ 10⁴: both products fit u128.
                        let lhs = Int::sub(&[
                            Int::from_u128(cap * 10_000),
                            Int::mul(&[fleet_energy[f.id.index()].clone(), int(10_000)]),
                        ]);
                        parts.push(lhs.ge(Int::from_u128(m * cap)));
                        worst.push(fleet_energy[f.id.index()].clone());
                    }
                    (Bool::and(&parts), sum(worst))
                }
            };
            self.requirements.push(constraint);
            self.metrics.push(metric);
        }
        let latency = if path_latencies.is_empty() {
            makespan.clone()
        } else {
            sum(path_latencies)
        };
        // The totals the cost model refuses when too large (`Total`).
        let energy = sum(fleet_energy.clone());
        let exec_time = Int::add(&[int(model.duration_us), makespan.clone()]);
        self.structure.push(fits(&energy));
        self.structure.push(fits(&latency));
        if model.objectives.contains(&Objective::ExecTime) {
            self.structure.push(fits(&exec_time));
        }
        self.stated_objectives = model.objectives.len();
        for o in model.lexicographic_order() {
            let term = match o {
                Objective::Latency => latency.clone(),
                Objective::Energy => energy.clone(),
                Objective::Cost => cost.clone(),
                Objective::Bytes => bytes.clone(),
                Objective::ExecTime => exec_time.clone(),
            };
            self.objectives.push((o, term));
        }
        // Last tie-breaker: FPGA boards are scarce; use them only where they help.
        let fpga: Vec<Int> = self
            .x
            .iter()
            .filter_map(|v| v[2].as_ref())
            .map(|b| b.ite(&int(1), &int(0)))
            .collect();
        self.fpga_count = sum(fpga);
    }

    /// The modality each task got in a model.
    pub fn assignment(&self, model: &z3::Model) -> Option<Vec<Modality>> {
        self.x
            .iter()
            .map(|vars| {
                Modality::ALL.into_iter().find(|&m| {
                    vars[modality_index(m)]
                        .as_ref()
                        .and_then(|b| model.eval(b, true))
                        .and_then(|v| v.as_bool())
                        .unwrap_or(false)
                })
            })
            .collect()
    }
}

/// `value × factor‰` (rounded up) stays within `bound` (strictly below when `strict`).
fn upper(value: &Int, factor_permille: u64, bound: u64, strict: bool) -> Bool {
    match max_mean(factor_permille, bound, strict) {
        Some(max) => value.le(int(max)),
        None => Bool::from_bool(false),
    }
}

/// What capacity `index` of [`Encoding::capacity`] is: `(fleet, radio)`,
/// with `fleet` None for the cloud's CPU.
pub fn capacity_name(fleets: usize, index: usize) -> (Option<usize>, bool) {
    match index {
        i if i < fleets => (Some(i), false),
        i if i == fleets => (None, false),
        i => (Some(i - fleets - 1), true),
    }
}
