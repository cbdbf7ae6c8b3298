//! Lower bounds on every metric over the placements left in per-task
//! domains, and the domain reduction they allow (presolve), in plain Rust.
//!
//! Every metric the synthesizer reasons about is either *separable* (a
//! constant plus per-task and per-edge terms: energy, cloud cost, uplink
//! bytes, CPU busy time, FPGA count) or a *path* metric (longest path with
//! per-task compute and per-edge transfer: latency, makespan).
//!
//! * Separable: every task keeps one in-edge as its parent, which makes a
//!   forest; over it, inside/outside dynamic programming gives the exact
//!   minimum with each task at each modality, the other edges taken at
//!   their producer's cheapest modality (a relaxation, so a lower bound).
//! * Path: a forward pass gives, per (task, modality), the earliest finish
//!   any placement allows, a backward pass the least time still needed
//!   after it; their sum bounds the path's latency when the task takes
//!   that modality.
//! * Lagrangian: for two separable limits A ≤ a and B ≤ b, A + λB ≤ a + λb
//!   holds too, and its forest bound, with λ chosen on the dual, sees how
//!   a budget and an objective pull against each other.
//!
//! With a bound per (task, modality), a value whose bound already exceeds a
//! limit (a requirement, CPU capacity, an objective fixed at its proven
//! optimum, or the incumbent's value) can be removed: no placement using it
//! meets the limit. This is reduced-cost fixing from integer programming. It never removes a
//! placement that satisfies every limit, so the solver's answer is
//! unchanged, only found and proven sooner; and a bound equal to a known
//! placement's value proves that placement optimal without search.
//!
//! The tables are plain `u64` taken from the cost model's [`Sat`] values by
//! [`Sat::saturated`]: a too-large coefficient is `u64::MAX`, which is also
//! [`NONE`]. Treating it as "not possible" is sound: a placement that uses
//! it has a total too large to compute, which the cost model never calls
//! feasible, and every bound here is a bound over feasible placements.
//! Every other conversion saturates towards "no limit" (a limit's maximum)
//! or towards "impossible" (a bound), never wraps.

use hivemind_cost::{modality_index, CostModel, Total};
use hivemind_ir::plan::Modality;
use hivemind_ir::{Objective, RequirementKind, Sat, TaskId};

mod knapsack;

/// Per task: which modalities are still possible, indexed by [`modality_index`].
pub(crate) type Domains = Vec<[bool; 3]>;

/// A lexicographic stage: one of the mission's objectives, or the last
/// tie-breaker (fewest tasks on scarce FPGA boards).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Metric {
    Objective(Objective),
    FpgaCount,
}

/// The largest mean `value` with `value × factor‰ ≤ bound` (`< bound` when
/// `strict`); `None` when no value qualifies (strictly below zero).
pub(crate) fn max_mean(factor_permille: u64, bound: u64, strict: bool) -> Option<u64> {
    let limit = if strict {
        u128::from(bound).checked_sub(1)?
    } else {
        u128::from(bound)
    };
    Some(u64::try_from(limit * 1_000 / u128::from(factor_permille.max(1))).unwrap_or(u64::MAX))
}

/// "Not possible": outside the domain (or, for a path, off the path).
pub(crate) const NONE: u64 = u64::MAX;

/// In- and out-edges of every task, by edge index.
#[derive(Clone)]
struct Adjacency {
    into: Vec<Vec<usize>>,
    out_of: Vec<Vec<usize>>,
}

impl Adjacency {
    fn new(model: &CostModel) -> Self {
        let n = model.graph.tasks.len();
        let mut a = Adjacency {
            into: vec![Vec::new(); n],
            out_of: vec![Vec::new(); n],
        };
        for (k, e) in model.graph.edges.iter().enumerate() {
            a.into[e.to.index()].push(k);
            a.out_of[e.from.index()].push(k);
        }
        a
    }
}

/// A metric of the form `constant + Σ unary[t][m] + Σ pairwise[e][a][b]`.
#[derive(Clone)]
struct Separable {
    constant: u64,
    unary: Vec<[u64; 3]>,
    /// Per edge index; empty when the metric has no edge terms.
    pairwise: Vec<[[u64; 3]; 3]>,
}

impl Separable {
    /// The largest value the metric can take at any placement.
    fn largest_total(&self) -> u128 {
        let unary: u128 = self
            .unary
            .iter()
            .map(|u| u128::from(*u.iter().max().unwrap_or(&0)))
            .sum();
        let pairwise: u128 = self
            .pairwise
            .iter()
            .map(|pw| u128::from(pw.iter().flatten().copied().max().unwrap_or(0)))
            .sum();
        u128::from(self.constant) + unary + pairwise
    }

    /// `self + λ·other` with λ = `p / LAMBDA_DENOMINATOR`, each of
    /// `other`'s terms rounded down (so the sum never exceeds the real one).
    fn combined(&self, other: &Separable, p: u64) -> Separable {
        let scaled = |v: u64| {
            u64::try_from(u128::from(v) * u128::from(p) / LAMBDA_DENOMINATOR).unwrap_or(NONE)
        };
        let pairwise = if self.pairwise.is_empty() && other.pairwise.is_empty() {
            Vec::new()
        } else {
            let zero = [[0u64; 3]; 3];
            let n = self.pairwise.len().max(other.pairwise.len());
            (0..n)
                .map(|k| {
                    let (a, b) = (
                        self.pairwise.get(k).unwrap_or(&zero),
                        other.pairwise.get(k).unwrap_or(&zero),
                    );
                    std::array::from_fn(|x| {
                        std::array::from_fn(|y| a[x][y].saturating_add(scaled(b[x][y])))
                    })
                })
                .collect()
        };
        Separable {
            constant: self.constant.saturating_add(scaled(other.constant)),
            unary: self
                .unary
                .iter()
                .zip(&other.unary)
                .map(|(a, b)| std::array::from_fn(|m| a[m].saturating_add(scaled(b[m]))))
                .collect(),
            pairwise,
        }
    }
}

/// λ = p / 2²⁰: multipliers are exact rationals, so every rounding is on the safe side.
const LAMBDA_DENOMINATOR: u128 = 1 << 20;

/// ⌈λ·v⌉ for λ = `p / LAMBDA_DENOMINATOR`.
fn lambda_ceil(p: u64, v: u64) -> u64 {
    u64::try_from((u128::from(v) * u128::from(p)).div_ceil(LAMBDA_DENOMINATOR)).unwrap_or(NONE)
}

/// The multiplier p (λ = p / 2²⁰) that maximises `score(p)`, a concave
/// function (a Lagrangian dual), by golden-section search over log₂ p, for
/// `a + λ·b` with those as the largest totals the two metrics can take: λ
/// stays small enough that no sum comes near `NONE` (saturation would make a
/// bound unsound).
fn best_multiplier(
    a: &Separable,
    b: &Separable,
    mut score: impl FnMut(u64) -> i128,
) -> (u64, i128) {
    const ROOM: u128 = 1 << 62;
    let (a_max, b_max) = (a.largest_total(), b.largest_total().max(1));
    let p_max = (ROOM.saturating_sub(a_max) * LAMBDA_DENOMINATOR / b_max).min(1 << 60);
    if p_max == 0 {
        return (0, i128::MIN);
    }
    // p_max ≤ 2⁶⁰: exact in f64's range, and the float-to-int `as` saturates.
    let p_max = u64::try_from(p_max).unwrap_or(1 << 60);
    let top = (p_max as f64).log2();
    let p_of = |x: f64| (2f64.powf(x) as u64).min(p_max);
    let (mut lo, mut hi) = (0.0f64, top);
    let phi = 0.618_033_988_75;
    let mut best = (0u64, i128::MIN);
    let mut eval = |x: f64, best: &mut (u64, i128)| {
        let p = p_of(x);
        let s = score(p);
        if s > best.1 {
            *best = (p, s);
        }
        s
    };
    let (mut x1, mut x2) = (hi - phi * (hi - lo), lo + phi * (hi - lo));
    let (mut f1, mut f2) = (eval(x1, &mut best), eval(x2, &mut best));
    for _ in 0..36 {
        if f1 < f2 {
            lo = x1;
            (x1, f1) = (x2, f2);
            x2 = lo + phi * (hi - lo);
            f2 = eval(x2, &mut best);
        } else {
            hi = x2;
            (x2, f2) = (x1, f1);
            x1 = hi - phi * (hi - lo);
            f1 = eval(x1, &mut best);
        }
    }
    best
}

/// A separable metric's bounds under some domains. Every task keeps one
/// in-edge (the one with the largest term) as its parent, which makes a
/// forest; over the forest the minimum is exact by dynamic programming
/// (inside and outside passes, as in min-sum belief propagation on trees).
/// Every other edge is charged to its consumer at the producer's cheapest
/// modality, which keeps the whole a lower bound. `NONE` outside the domain.
struct Forest {
    /// Own term plus the other in-edges' cheapest terms.
    own: Vec<[u64; 3]>,
    /// Least total over the task's subtree with the task at each modality.
    inside: Vec<[u64; 3]>,
    /// Least total over everything outside that subtree (constant included).
    outside: Vec<[u64; 3]>,
    lower_bound: u64,
}

impl Separable {
    fn edge_min(&self, dom: &Domains, model: &CostModel, k: usize, b: usize) -> u64 {
        let Some(pw) = self.pairwise.get(k) else {
            return 0;
        };
        let p = model.graph.edges[k].from.index();
        (0..3)
            .filter(|&a| dom[p][a])
            .map(|a| pw[a][b])
            .min()
            .unwrap_or(0)
    }

    /// The in-edge that makes `t`'s parent: the one whose term varies most.
    fn parent_edge(&self, adj: &Adjacency, t: usize) -> Option<usize> {
        adj.into[t]
            .iter()
            .copied()
            .filter_map(|k| {
                let pw = self.pairwise.get(k)?;
                let max = pw.iter().flatten().copied().max().unwrap_or(0);
                (max > 0).then_some((max, std::cmp::Reverse(k)))
            })
            .max()
            .map(|(_, std::cmp::Reverse(k))| k)
    }

    fn forest(&self, model: &CostModel, adj: &Adjacency, dom: &Domains) -> Forest {
        let n = dom.len();
        let g = model.graph;
        let parent: Vec<Option<usize>> = (0..n).map(|t| self.parent_edge(adj, t)).collect();
        let mut own = vec![[NONE; 3]; n];
        for t in 0..n {
            for m in (0..3).filter(|&m| dom[t][m]) {
                let others: u64 = adj.into[t]
                    .iter()
                    .filter(|&&k| Some(k) != parent[t])
                    .map(|&k| self.edge_min(dom, model, k, m))
                    .fold(0, u64::saturating_add);
                own[t][m] = self.unary[t][m].saturating_add(others);
            }
        }
        // Cheapest subtree of child `c` (joined by edge `k`) when its parent is at `a`.
        let child_best = |inside: &[[u64; 3]], k: usize, c: usize, a: usize| -> u64 {
            (0..3)
                .filter(|&b| inside[c][b] != NONE)
                .map(|b| self.pairwise[k][a][b].saturating_add(inside[c][b]))
                .min()
                .unwrap_or(NONE)
        };
        let mut inside = own.clone();
        for &t in model.topo.iter().rev() {
            let c = t.index();
            let Some(k) = parent[c] else { continue };
            let p = g.edges[k].from.index();
            let add = [0, 1, 2].map(|a| child_best(&inside, k, c, a));
            for (a, v) in inside[p].iter_mut().enumerate() {
                if *v != NONE {
                    *v = v.saturating_add(add[a]);
                }
            }
        }
        let root_min = |t: usize| inside[t].iter().copied().min().unwrap_or(NONE);
        let lower_bound = (0..n)
            .filter(|&t| parent[t].is_none())
            .map(root_min)
            .fold(self.constant, u64::saturating_add);
        let mut outside = vec![[NONE; 3]; n];
        for &t in &model.topo {
            let c = t.index();
            match parent[c] {
                None => {
                    let rest = lower_bound.saturating_sub(root_min(c));
                    for m in (0..3).filter(|&m| inside[c][m] != NONE) {
                        outside[c][m] = rest;
                    }
                }
                Some(k) => {
                    let p = g.edges[k].from.index();
                    for b in (0..3).filter(|&b| inside[c][b] != NONE) {
                        outside[c][b] = (0..3)
                            .filter(|&a| inside[p][a] != NONE && outside[p][a] != NONE)
                            .map(|a| {
                                outside[p][a]
                                    .saturating_add(inside[p][a])
                                    .saturating_sub(child_best(&inside, k, c, a))
                                    .saturating_add(self.pairwise[k][a][b])
                            })
                            .min()
                            .unwrap_or(NONE);
                    }
                }
            }
        }
        Forest {
            own,
            inside,
            outside,
            lower_bound,
        }
    }
}

impl Separable {
    /// The exact minimum over `dom` of the metric with the two cloud
    /// modalities merged (each merged term is the least of the terms it
    /// replaces, so this is a lower bound on the metric), by a minimum cut:
    /// label 0 is the edge, label 1 the cloud; a pairwise term that is not
    /// submodular (A + D > B + C) is lowered until it is (lower terms: still
    /// a lower bound). Exact on every edge where the forest bound is exact
    /// on its tree edges only. `NONE` when no placement is in `dom`.
    fn cut_bound(&self, model: &CostModel, dom: &Domains) -> u64 {
        self.cut_solve(model, dom, false).0
    }

    /// [`Separable::cut_bound`], and with `labels` a placement reaching it
    /// (modality indices; in the cloud the cheaper of the two modalities by
    /// the task's own term), `None` when no placement is in `dom`.
    fn cut_solve(
        &self,
        model: &CostModel,
        dom: &Domains,
        labels: bool,
    ) -> (u64, Option<Vec<usize>>) {
        let n = dom.len();
        let g = model.graph;
        // Above every finite energy: the cost of a label outside the domain.
        let finite: u128 = self.largest_total();
        let big = finite.saturating_add(1);
        let group = |d: &[bool; 3], label: usize| -> [bool; 3] {
            if label == 0 {
                [d[0], false, false]
            } else {
                [false, d[1], d[2]]
            }
        };
        let mut lin = vec![0i128; n];
        let mut constant = i128::from(self.constant);
        let mut pairs: Vec<(usize, usize, u128)> = Vec::new();
        for t in 0..n {
            let least = |label: usize| -> Option<u128> {
                let allowed = group(&dom[t], label);
                (0..3)
                    .filter(|&m| allowed[m])
                    .map(|m| u128::from(self.unary[t][m]))
                    .min()
            };
            let (u0, u1) = match (least(0), least(1)) {
                (None, None) => return (NONE, None),
                (Some(a), Some(b)) => (a, b),
                (Some(a), None) => (a, big),
                (None, Some(b)) => (big, b),
            };
            constant += u0 as i128;
            lin[t] += u1 as i128 - u0 as i128;
        }
        for (k, pw) in self.pairwise.iter().enumerate() {
            let (p, c) = (g.edges[k].from.index(), g.edges[k].to.index());
            let w = |a: usize, b: usize| -> u128 {
                let (ga, gb) = (group(&dom[p], a), group(&dom[c], b));
                (0..3)
                    .filter(|&x| ga[x])
                    .flat_map(|x| (0..3).filter(|&y| gb[y]).map(move |y| (x, y)))
                    .map(|(x, y)| u128::from(pw[x][y]))
                    .min()
                    .unwrap_or(0)
            };
            let (mut a, b, c_, mut d) = (w(0, 0), w(0, 1), w(1, 0), w(1, 1));
            if a == 0 && b == 0 && c_ == 0 && d == 0 {
                continue;
            }
            let excess = (a + d).saturating_sub(b + c_);
            let from_a = excess.min(a);
            a -= from_a;
            d -= excess - from_a;
            // θ = A + (C−A)·x_p + (D−C)·x_c + (B+C−A−D)·(1−x_p)·x_c
            constant += a as i128;
            lin[p] += c_ as i128 - a as i128;
            lin[c] += d as i128 - c_ as i128;
            let w = b + c_ - a - d;
            if w > 0 {
                pairs.push((p, c, w));
            }
        }
        let mut net = crate::cut::Network::new(n);
        for (t, &l) in lin.iter().enumerate() {
            if l >= 0 {
                net.arc(crate::cut::SOURCE, t + 2, l as u128);
            } else {
                constant += l;
                net.arc(t + 2, crate::cut::SINK, l.unsigned_abs());
            }
        }
        for (p, c, w) in pairs {
            net.arc(p + 2, c + 2, w);
        }
        let total = constant.saturating_add(i128::try_from(net.max_flow()).unwrap_or(i128::MAX));
        let total = u128::try_from(total).unwrap_or(0);
        if total >= big {
            return (NONE, None);
        }
        let placement = labels.then(|| {
            let edge = net.source_side();
            (0..n)
                .map(|t| {
                    if edge[t + 2] && dom[t][0] {
                        0
                    } else {
                        (1..3)
                            .filter(|&m| dom[t][m])
                            .min_by_key(|&m| (self.unary[t][m], m))
                            .unwrap_or(0)
                    }
                })
                .collect()
        });
        (u64::try_from(total).unwrap_or(NONE), placement)
    }
}

impl Forest {
    /// Reduced-cost fixing: removes from `dom` every allowed value whose
    /// bound less `rhs` passes `max`. Returns whether it removed any (a
    /// task may be left with none: the caller checks).
    fn remove_above(&self, dom: &mut Domains, rhs: u64, max: u64) -> bool {
        let mut removed = false;
        for (t, d) in dom.iter_mut().enumerate() {
            for (m, allowed) in d.iter_mut().enumerate() {
                if *allowed && self.lower_bound_if(t, m).saturating_sub(rhs) > max {
                    *allowed = false;
                    removed = true;
                }
            }
        }
        removed
    }

    /// The lower bound when task `t` is fixed at `m`.
    fn lower_bound_if(&self, t: usize, m: usize) -> u64 {
        if self.own[t][m] == NONE {
            return NONE;
        }
        self.inside[t][m].saturating_add(self.outside[t][m])
    }
}

/// The tasks a path metric covers and where it starts.
#[derive(Clone)]
struct PathShape {
    on_path: Vec<bool>,
    /// Edges into this task are ignored (it starts the path); `None`: every
    /// task starts at 0 unless it has predecessors (the whole graph).
    from: Option<TaskId>,
}

/// Per (task, modality): earliest finish (`fwd`) and least time still needed
/// after it to the path's end (`bwd`); `NONE` outside the domain or path.
pub(crate) struct PathBounds {
    pub fwd: Vec<[u64; 3]>,
    pub bwd: Vec<[u64; 3]>,
    pub lower_bound: u64,
}

/// [`PathBounds`] of the path over `on_path` starting at `from`.
pub(crate) fn path_bounds(
    model: &CostModel,
    dom: &Domains,
    on_path: &[bool],
    from: Option<TaskId>,
) -> PathBounds {
    let shape = PathShape {
        on_path: on_path.to_vec(),
        from,
    };
    PathBounds::new(model, &Adjacency::new(model), dom, &shape)
}

impl PathBounds {
    fn new(model: &CostModel, adj: &Adjacency, dom: &Domains, shape: &PathShape) -> Self {
        let g = model.graph;
        let n = dom.len();
        let counts = |k: usize| {
            let e = &g.edges[k];
            shape.on_path[e.from.index()] && shape.on_path[e.to.index()] && Some(e.to) != shape.from
        };
        let compute = |t: usize, m: usize| model.tasks[t].compute_us[m].map_or(0, Sat::saturated);
        let mut fwd = vec![[NONE; 3]; n];
        for &t in &model.topo {
            let i = t.index();
            if !shape.on_path[i] {
                continue;
            }
            for m in (0..3).filter(|&m| dom[i][m]) {
                let start = adj.into[i]
                    .iter()
                    .filter(|&&k| counts(k))
                    .map(|&k| {
                        let p = g.edges[k].from.index();
                        (0..3)
                            .filter(|&a| fwd[p][a] != NONE)
                            .map(|a| {
                                fwd[p][a]
                                    .saturating_add(model.edges[k].transfer_us[a][m].saturated())
                            })
                            .min()
                            .unwrap_or(0)
                    })
                    .max()
                    .unwrap_or(0);
                fwd[i][m] = start.saturating_add(compute(i, m));
            }
        }
        let mut bwd = vec![[NONE; 3]; n];
        for &t in model.topo.iter().rev() {
            let i = t.index();
            if !shape.on_path[i] {
                continue;
            }
            for m in (0..3).filter(|&m| dom[i][m]) {
                bwd[i][m] = adj.out_of[i]
                    .iter()
                    .filter(|&&k| counts(k))
                    .map(|&k| {
                        let s = g.edges[k].to.index();
                        (0..3)
                            .filter(|&b| bwd[s][b] != NONE)
                            .map(|b| {
                                model.edges[k].transfer_us[m][b]
                                    .saturated()
                                    .saturating_add(compute(s, b))
                                    .saturating_add(bwd[s][b])
                            })
                            .min()
                            .unwrap_or(0)
                    })
                    .max()
                    .unwrap_or(0);
            }
        }
        let mut pb = PathBounds {
            fwd,
            bwd,
            lower_bound: 0,
        };
        pb.lower_bound = (0..n)
            .filter(|&i| shape.on_path[i])
            .map(|i| (0..3).map(|m| pb.through(i, m)).min().unwrap_or(NONE))
            .max()
            .unwrap_or(0);
        pb
    }

    /// Least latency of the path when task `t` runs at `m` (`NONE` when `m`
    /// is not in the domain; the plain lower bound when `t` is off the path).
    pub fn through(&self, t: usize, m: usize) -> u64 {
        if self.fwd[t] == [NONE; 3] {
            return self.lower_bound;
        }
        if self.fwd[t][m] == NONE {
            return NONE;
        }
        self.fwd[t][m].saturating_add(self.bwd[t][m])
    }
}

/// The totals ([`Total`]) too large to compute at every placement the pins
/// allow: no plan can be predicted, so the mission is refused naming them.
/// Exact for separable totals (a bound of 2⁶⁴ − 1 is reached only through a
/// too-large coefficient or sum); path totals by their path bounds.
pub(crate) fn overflowing(model: &CostModel) -> Vec<Total> {
    let g = model.graph;
    let mut active = Active::all(model);
    active.requirements.fill(false);
    active.capacity.fill(false);
    active.radio = false;
    let p = Presolve::with(model, &active);
    let mut out: Vec<Total> = (0..g.fleets.len())
        .filter(|&f| p.bound_of(&LimitKind::Separable(p.fleet_energy(f))) == NONE)
        .map(Total::FleetEnergy)
        .collect();
    let mut metrics = vec![
        (Total::Energy, Objective::Energy),
        (Total::CloudCost, Objective::Cost),
        (Total::UplinkBytes, Objective::Bytes),
        (Total::Latency, Objective::Latency),
    ];
    if model.objectives.contains(&Objective::ExecTime) {
        metrics.push((Total::ExecTime, Objective::ExecTime));
    }
    out.extend(
        metrics
            .into_iter()
            .filter(|&(_, o)| p.lower_bound(Metric::Objective(o)) == NONE)
            .map(|(t, _)| t),
    );
    out
}

/// What presolve takes into account; explanations switch parts off to find
/// which of them conflict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Active {
    /// Per requirement, in graph order.
    pub requirements: Vec<bool>,
    /// Per fleet, then the cloud.
    pub capacity: Vec<bool>,
    /// Per task: its pin restricts its domain.
    pub pins: Vec<bool>,
    /// Every fleet's radio capacity (the search needs it; explanations,
    /// which name CPU capacities only, switch it off).
    pub radio: bool,
}

impl Active {
    pub fn all(model: &CostModel) -> Self {
        let g = model.graph;
        Active {
            requirements: vec![true; g.requirements.len()],
            capacity: vec![true; g.fleets.len() + 1],
            pins: vec![true; g.tasks.len()],
            radio: true,
        }
    }
}

/// Something that must stay at or below `max`.
#[derive(Clone)]
enum LimitKind {
    Separable(Separable),
    /// Σ of the latencies of several paths (one path: a latency requirement).
    PathSum(Vec<PathShape>),
    /// A per-task value (the task's own execution time).
    TaskValue(usize, [u64; 3]),
}

#[derive(Clone)]
struct Limit {
    kind: LimitKind,
    max: u64,
    /// A separable relaxation of a path limit (a chain): used in the joint
    /// Lagrangian bound and for reduction on its own, not in the pairwise
    /// Lagrangian passes, whose cost grows with the square of the limits.
    relaxation: bool,
    /// An objective bounded by [`Presolve::bound`] (an earlier stage's
    /// optimum, an incumbent's value): the limits whose feasible sets are
    /// thinnest, where a knapsack bound of their own prunes
    /// ([`StageBounds`]).
    objective: bool,
    /// Which objective, for an objective's limit.
    of: Option<Metric>,
}

/// The current domains and the limits they have been reduced against.
#[derive(Clone)]
pub(crate) struct Presolve<'m, 'g> {
    pub model: &'m CostModel<'g>,
    adj: Adjacency,
    /// The domains before any reduction (the active pins applied).
    initial: Domains,
    pub domains: Domains,
    limits: Vec<Limit>,
    /// Some limit cannot be met by any placement.
    pub infeasible: bool,
    /// One shape per latency requirement (by requirement index), for the
    /// per-path bounds handed to the solver.
    paths: Vec<Option<PathShape>>,
    /// Per latency requirement: one chain of its path as a separable sum
    /// (see [`critical_chain`]); the whole graph's chain last.
    chains: Vec<Option<Separable>>,
    whole_chain: Option<Separable>,
    /// The chains [`Presolve::add_chains`] added (their tasks), so that
    /// none is added twice.
    chain_keys: std::collections::HashSet<Vec<usize>>,
    /// Past this, reductions and Lagrangian bounds stop early (which only
    /// weakens them: a sound bound stays sound), so that presolve keeps
    /// the synthesizer's deadline on large missions.
    deadline: Option<std::time::Instant>,
}

/// A separable relaxation of a path metric: the latency of one chain of
/// tasks inside the path (its computes plus the transfers along it), which
/// the path's latency (a longest path, finish times bounded below by every
/// predecessor) is never below. A chain is a tree, so the forest bound of
/// it is exact, and as a separable metric it joins the Lagrangian bounds:
/// a deadline and a budget pulling against each other become visible. The
/// chain is the one with the largest earliest finish under `dom`, ending at
/// `end` (`None`: at the task finishing latest).
fn critical_chain(
    model: &CostModel,
    adj: &Adjacency,
    dom: &Domains,
    shape: &PathShape,
    end: Option<usize>,
) -> Option<Separable> {
    let g = model.graph;
    let pb = PathBounds::new(model, adj, dom, shape);
    let least = |t: usize| pb.fwd[t].iter().copied().min().unwrap_or(NONE);
    let mut t = match end {
        Some(t) => t,
        None => (0..dom.len())
            .filter(|&t| shape.on_path[t] && least(t) != NONE)
            .max_by_key(|&t| (least(t), std::cmp::Reverse(t)))?,
    };
    if !shape.on_path.get(t).copied().unwrap_or(false) {
        return None;
    }
    let mut chain = Separable {
        constant: 0,
        unary: vec![[0; 3]; dom.len()],
        pairwise: vec![[[0; 3]; 3]; g.edges.len()],
    };
    let mut seen = vec![false; dom.len()];
    loop {
        seen[t] = true;
        chain.unary[t] =
            std::array::from_fn(|m| model.tasks[t].compute_us[m].map_or(0, Sat::saturated));
        let counts = |k: usize| {
            let e = &g.edges[k];
            shape.on_path[e.from.index()] && Some(e.to) != shape.from
        };
        let Some(k) = adj.into[t]
            .iter()
            .copied()
            .filter(|&k| counts(k) && !seen[g.edges[k].from.index()])
            .max_by_key(|&k| (least(g.edges[k].from.index()), std::cmp::Reverse(k)))
        else {
            return Some(chain);
        };
        chain.pairwise[k] = model.edges[k]
            .transfer_us
            .map(|row| row.map(Sat::saturated));
        t = g.edges[k].from.index();
    }
}

/// The critical chain of `shape` under the full placement `a` (modality
/// indices): finish times as the cost model computes them (each task
/// starts after its counted predecessors' finish plus transfer), then back
/// from the task finishing last along the predecessors that set each
/// start. Returns the chain as a separable sum (computes plus the
/// transfers along it, like [`critical_chain`]), its tasks from the end
/// backwards, and its latency under `a` (the path's).
fn placement_chain(
    model: &CostModel,
    adj: &Adjacency,
    shape: &PathShape,
    a: &[usize],
) -> Option<(Separable, Vec<usize>, u64)> {
    let g = model.graph;
    let n = a.len();
    let counts = |k: usize| {
        let e = &g.edges[k];
        shape.on_path[e.from.index()] && shape.on_path[e.to.index()] && Some(e.to) != shape.from
    };
    let compute = |t: usize, m: usize| model.tasks[t].compute_us[m].map_or(0, Sat::saturated);
    let mut fin = vec![0u64; n];
    let mut via: Vec<Option<usize>> = vec![None; n];
    for &t in &model.topo {
        let i = t.index();
        if !shape.on_path[i] {
            continue;
        }
        let mut latest: Option<(u64, usize)> = None;
        for &k in adj.into[i].iter().filter(|&&k| counts(k)) {
            let p = g.edges[k].from.index();
            let s = fin[p].saturating_add(model.edges[k].transfer_us[a[p]][a[i]].saturated());
            if latest.is_none_or(|(l, _)| s > l) {
                latest = Some((s, k));
            }
        }
        via[i] = latest.map(|(_, k)| k);
        fin[i] = latest
            .map_or(0, |(s, _)| s)
            .saturating_add(compute(i, a[i]));
    }
    let mut t = (0..n)
        .filter(|&t| shape.on_path[t])
        .max_by_key(|&t| (fin[t], std::cmp::Reverse(t)))?;
    let latency = fin[t];
    let mut chain = Separable {
        constant: 0,
        unary: vec![[0; 3]; n],
        pairwise: vec![[[0; 3]; 3]; g.edges.len()],
    };
    let mut tasks = Vec::new();
    loop {
        tasks.push(t);
        chain.unary[t] = std::array::from_fn(|m| compute(t, m));
        let Some(k) = via[t] else {
            return Some((chain, tasks, latency));
        };
        chain.pairwise[k] = model.edges[k]
            .transfer_us
            .map(|row| row.map(Sat::saturated));
        t = g.edges[k].from.index();
    }
}

/// `a + b`, term by term (saturating: towards "impossible").
fn sum_separable(a: &Separable, b: &Separable) -> Separable {
    Separable {
        constant: a.constant.saturating_add(b.constant),
        unary: a
            .unary
            .iter()
            .zip(&b.unary)
            .map(|(x, y)| std::array::from_fn(|m| x[m].saturating_add(y[m])))
            .collect(),
        pairwise: a
            .pairwise
            .iter()
            .zip(&b.pairwise)
            .map(|(x, y)| {
                std::array::from_fn(|i| std::array::from_fn(|j| x[i][j].saturating_add(y[i][j])))
            })
            .collect(),
    }
}

/// `a + b`, term by term, where either may have no pairwise terms.
fn sum_separable_any(a: &Separable, b: &Separable) -> Separable {
    match (a.pairwise.is_empty(), b.pairwise.is_empty()) {
        (false, false) | (true, true) => sum_separable(a, b),
        (true, false) => sum_separable(
            &Separable {
                pairwise: vec![[[0; 3]; 3]; b.pairwise.len()],
                ..a.clone()
            },
            b,
        ),
        (false, true) => sum_separable(
            a,
            &Separable {
                pairwise: vec![[[0; 3]; 3]; a.pairwise.len()],
                ..b.clone()
            },
        ),
    }
}

/// `a·(1 − t) + b·t` for t = `q / LAMBDA_DENOMINATOR` ≤ 1, each term
/// rounded down: never above the larger of `a` and `b` at any placement.
fn mixed_separable(a: &Separable, b: &Separable, q: u64) -> Separable {
    let q = u128::from(q).min(LAMBDA_DENOMINATOR);
    let mix = |x: u64, y: u64| {
        u64::try_from(
            (u128::from(x) * (LAMBDA_DENOMINATOR - q) + u128::from(y) * q) / LAMBDA_DENOMINATOR,
        )
        .unwrap_or(NONE)
    };
    let zero = [[0u64; 3]; 3];
    let edges = a.pairwise.len().max(b.pairwise.len());
    Separable {
        constant: mix(a.constant, b.constant),
        unary: a
            .unary
            .iter()
            .zip(&b.unary)
            .map(|(x, y)| std::array::from_fn(|m| mix(x[m], y[m])))
            .collect(),
        pairwise: (0..edges)
            .map(|k| {
                let (x, y) = (
                    a.pairwise.get(k).unwrap_or(&zero),
                    b.pairwise.get(k).unwrap_or(&zero),
                );
                std::array::from_fn(|i| std::array::from_fn(|j| mix(x[i][j], y[i][j])))
            })
            .collect(),
    }
}

/// A separable metric's value at a full placement (modality indices).
fn separable_value(model: &CostModel, s: &Separable, a: &[usize]) -> u128 {
    let unary: u128 = s.unary.iter().zip(a).map(|(u, &m)| u128::from(u[m])).sum();
    let pairwise: u128 = s
        .pairwise
        .iter()
        .zip(&model.graph.edges)
        .map(|(pw, e)| u128::from(pw[a[e.from.index()]][a[e.to.index()]]))
        .sum();
    u128::from(s.constant) + unary + pairwise
}

impl<'m, 'g> Presolve<'m, 'g> {
    /// Domains from the pins, reduced against every requirement and the CPU capacity.
    pub fn new(model: &'m CostModel<'g>) -> Self {
        Self::with(model, &Active::all(model))
    }

    /// [`Presolve::new`], cutting its work short past `deadline` (now and
    /// in every later reduction).
    pub fn until(model: &'m CostModel<'g>, deadline: std::time::Instant) -> Self {
        Self::build(model, &Active::all(model), Some(deadline))
    }

    /// Run `f` with the work cut short past `until` too (the earlier of it
    /// and the presolve's own deadline): a step given a share of the time
    /// keeps to it even inside its inner loops.
    pub fn within<R>(&mut self, until: std::time::Instant, f: impl FnOnce(&mut Self) -> R) -> R {
        let saved = self.deadline;
        self.deadline = Some(saved.map_or(until, |d| d.min(until)));
        let out = f(self);
        self.deadline = saved;
        out
    }

    fn late(&self) -> bool {
        self.deadline
            .is_some_and(|d| std::time::Instant::now() >= d)
    }

    /// Presolve with only the `active` requirements, CPU capacities and pins.
    pub fn with(model: &'m CostModel<'g>, active: &Active) -> Self {
        Self::build(model, active, None)
    }

    /// [`Presolve::with`], cut short past `deadline` (fewer reductions: a
    /// mission it calls infeasible is infeasible, not the other way round).
    pub fn with_until(
        model: &'m CostModel<'g>,
        active: &Active,
        deadline: std::time::Instant,
    ) -> Self {
        Self::build(model, active, Some(deadline))
    }

    fn build(
        model: &'m CostModel<'g>,
        active: &Active,
        deadline: Option<std::time::Instant>,
    ) -> Self {
        let g = model.graph;
        let initial: Domains = g
            .tasks
            .iter()
            .map(|t| {
                let possible = model.tasks[t.id.index()].compute_us.map(|c| c.is_some());
                if !active.pins[t.id.index()] {
                    return possible;
                }
                let choices = model.choices(t.id);
                std::array::from_fn(|k| choices.contains(&Modality::ALL[k]))
            })
            .collect();
        let mut p = Presolve {
            model,
            adj: Adjacency::new(model),
            domains: initial.clone(),
            initial,
            limits: Vec::new(),
            infeasible: false,
            paths: Vec::new(),
            chains: Vec::new(),
            whole_chain: None,
            chain_keys: std::collections::HashSet::new(),
            deadline,
        };
        p.paths = g
            .requirements
            .iter()
            .enumerate()
            .map(|(r, req)| match req.kind {
                RequirementKind::Latency { from, .. } => Some(PathShape {
                    on_path: model.path_tasks[r].clone(),
                    from: Some(from),
                }),
                _ => None,
            })
            .collect();
        p.chains = g
            .requirements
            .iter()
            .zip(&p.paths)
            .map(|(req, shape)| match (&req.kind, shape) {
                (&RequirementKind::Latency { to, .. }, Some(shape)) => {
                    critical_chain(model, &p.adj, &p.domains, shape, Some(to.index()))
                }
                _ => None,
            })
            .collect();
        p.whole_chain = critical_chain(model, &p.adj, &p.domains, &p.whole_graph(), None);
        for r in (0..g.requirements.len()).filter(|&r| active.requirements[r]) {
            match p.requirement_limits(r) {
                Some(limits) => p.limits.extend(limits),
                None => p.infeasible = true,
            }
        }
        // CPU capacity: floor(busy·1000 / cap) ≤ 1000  ⟺  busy ≤ (1001·cap − 1) / 1000,
        // and busy below 2⁶⁴ − 1 (a load too large to compute never fits).
        let cap_max = |cap: u128| {
            u64::try_from(cap.saturating_mul(1_001).saturating_sub(1) / 1_000)
                .unwrap_or(u64::MAX)
                .min(u64::MAX - 1)
        };
        for f in (0..g.fleets.len()).filter(|&f| active.capacity[f]) {
            let unary = g
                .tasks
                .iter()
                .map(|t| match model.edge_fleet[t.id.index()] {
                    Some(x) if x.index() == f => [
                        model.tasks[t.id.index()].busy_us_per_hour[0].saturated(),
                        0,
                        0,
                    ],
                    _ => [0; 3],
                })
                .collect();
            p.limits.push(Limit {
                kind: LimitKind::Separable(Separable {
                    constant: 0,
                    unary,
                    pairwise: Vec::new(),
                }),
                max: cap_max(model.fleet_capacity_us_per_hour[f]),
                relaxation: false,
                objective: false,
                of: None,
            });
        }
        // Radio: every fleet's links carry what its edge tasks push and
        // what the transfers put on them (both ends' fleets), in bytes/h.
        for f in (0..g.fleets.len()).filter(|_| active.radio) {
            let is_f = |x: Option<hivemind_ir::FleetId>| x.is_some_and(|x| x.index() == f);
            let unary = g
                .tasks
                .iter()
                .map(|t| match model.edge_fleet[t.id.index()] {
                    Some(x) if x.index() == f => [
                        model.tasks[t.id.index()]
                            .edge_radio_bytes_per_hour
                            .saturated(),
                        0,
                        0,
                    ],
                    _ => [0; 3],
                })
                .collect();
            let pairwise = model
                .edges
                .iter()
                .map(|c| {
                    std::array::from_fn(|a| {
                        std::array::from_fn(|b| {
                            c.radio_load[a][b]
                                .iter()
                                .filter(|(x, _)| is_f(*x))
                                .map(|(_, load)| load.saturated())
                                .fold(0, u64::saturating_add)
                        })
                    })
                })
                .collect();
            p.limits.push(Limit {
                kind: LimitKind::Separable(Separable {
                    constant: 0,
                    unary,
                    pairwise,
                }),
                max: cap_max(model.fleet_radio_bytes_per_hour[f]),
                relaxation: false,
                objective: false,
                of: None,
            });
        }
        let cloud = model
            .tasks
            .iter()
            .map(|c| {
                [
                    0,
                    c.busy_us_per_hour[1].saturated(),
                    c.busy_us_per_hour[2].saturated(),
                ]
            })
            .collect();
        if active.capacity[g.fleets.len()] {
            p.limits.push(Limit {
                kind: LimitKind::Separable(Separable {
                    constant: model.training_busy_us_per_hour.saturated(),
                    unary: cloud,
                    pairwise: Vec::new(),
                }),
                max: cap_max(model.cloud_capacity_us_per_hour),
                relaxation: false,
                objective: false,
                of: None,
            });
        }
        p.propagate();
        p
    }

    /// The limits requirement `r` sets; `None` when no placement can meet it.
    fn requirement_limits(&self, r: usize) -> Option<Vec<Limit>> {
        let model = self.model;
        let req = &model.graph.requirements[r];
        let strict = !req.inclusive;
        let factor = |bp| model.profile.tail.factor(bp);
        let one = |kind, max| {
            Some(vec![Limit {
                kind,
                max,
                relaxation: false,
                objective: false,
                of: None,
            }])
        };
        match req.kind {
            RequirementKind::Latency {
                percentile_bp,
                bound_us,
                ..
            } => {
                let max = max_mean(factor(percentile_bp), bound_us, strict)?;
                let mut limits = vec![Limit {
                    kind: LimitKind::PathSum(self.paths[r].iter().cloned().collect()),
                    max,
                    relaxation: false,
                    objective: false,
                    of: None,
                }];
                if let Some(Some(chain)) = self.chains.get(r) {
                    limits.push(Limit {
                        kind: LimitKind::Separable(chain.clone()),
                        max,
                        relaxation: true,
                        objective: false,
                        of: None,
                    });
                }
                Some(limits)
            }
            RequirementKind::ExecTime {
                task: Some(t),
                percentile_bp,
                bound_us,
            } => one(
                LimitKind::TaskValue(
                    t.index(),
                    model.tasks[t.index()]
                        .compute_us
                        .map(|c| c.map_or(0, Sat::saturated)),
                ),
                max_mean(factor(percentile_bp), bound_us, strict)?,
            ),
            RequirementKind::ExecTime {
                task: None,
                bound_us,
                ..
            } => one(
                LimitKind::PathSum(vec![self.whole_graph()]),
                max_mean(1_000, bound_us, strict)?.checked_sub(model.duration_us)?,
            ),
            RequirementKind::CloudCost { max_nusd_per_hour } => one(
                LimitKind::Separable(self.separable(Metric::Objective(Objective::Cost))),
                max_mean(1_000, max_nusd_per_hour, strict)?,
            ),
            RequirementKind::BatteryReserve { fleet, min_bp } => {
                // reserve ≥ M  ⟺  E·10000 ≤ cap·10000 − M·cap (an empty
                // battery has no reserve at all).
                let m = i128::from(min_bp) + i128::from(strict);
                let fleets = model.graph.fleets.iter();
                fleets
                    .filter(|f| fleet.is_none_or(|x| x == f.id))
                    .map(|f| {
                        // Capacities are below 2⁹⁷: exact in i128.
                        let cap = i128::try_from(model.battery_uj[f.id.index()]).ok()?;
                        let room = cap * 10_000 - m * cap;
                        (cap > 0 && room >= 0).then(|| Limit {
                            kind: LimitKind::Separable(self.fleet_energy(f.id.index())),
                            max: u64::try_from(room / 10_000).unwrap_or(u64::MAX),
                            relaxation: false,
                            objective: false,
                            of: None,
                        })
                    })
                    .collect()
            }
        }
    }

    fn whole_graph(&self) -> PathShape {
        PathShape {
            on_path: vec![true; self.domains.len()],
            from: None,
        }
    }

    /// Energy of fleet `f` over the mission, as a separable metric.
    fn fleet_energy(&self, f: usize) -> Separable {
        let (m, g) = (self.model, self.model.graph);
        Separable {
            constant: m.motion_uj[f].saturated(),
            unary: g
                .tasks
                .iter()
                .map(|t| match self.model.edge_fleet[t.id.index()] {
                    Some(x) if x.index() == f => {
                        [m.tasks[t.id.index()].edge_energy_uj.saturated(), 0, 0]
                    }
                    _ => [0; 3],
                })
                .collect(),
            pairwise: m
                .edges
                .iter()
                .map(|c| {
                    let mut pw = [[0; 3]; 3];
                    for (a, row) in pw.iter_mut().enumerate() {
                        for (b, v) in row.iter_mut().enumerate() {
                            if c.energy_fleet[a][b].is_some_and(|x| x.index() == f) {
                                *v = c.radio_uj[a][b].saturated();
                            }
                        }
                    }
                    pw
                })
                .collect(),
        }
    }

    /// A separable objective (not latency or execution time).
    fn separable(&self, metric: Metric) -> Separable {
        let (m, g) = (self.model, self.model.graph);
        match metric {
            Metric::Objective(Objective::Energy) => {
                let mut total = Separable {
                    constant: 0,
                    unary: vec![[0; 3]; g.tasks.len()],
                    pairwise: vec![[[0; 3]; 3]; g.edges.len()],
                };
                for f in 0..g.fleets.len() {
                    let part = self.fleet_energy(f);
                    total.constant = total.constant.saturating_add(part.constant);
                    for (u, v) in total.unary.iter_mut().zip(&part.unary) {
                        for k in 0..3 {
                            u[k] = u[k].saturating_add(v[k]);
                        }
                    }
                    for (u, v) in total.pairwise.iter_mut().zip(&part.pairwise) {
                        for a in 0..3 {
                            for b in 0..3 {
                                u[a][b] = u[a][b].saturating_add(v[a][b]);
                            }
                        }
                    }
                }
                total
            }
            Metric::Objective(Objective::Cost) => Separable {
                constant: m.training_cost_nusd_per_hour.saturated(),
                unary: m
                    .tasks
                    .iter()
                    .map(|c| {
                        [
                            0,
                            c.cost_nusd_per_hour[1].saturated(),
                            c.cost_nusd_per_hour[2].saturated(),
                        ]
                    })
                    .collect(),
                pairwise: Vec::new(),
            },
            Metric::Objective(Objective::Bytes) => Separable {
                constant: 0,
                unary: vec![[0; 3]; g.tasks.len()],
                pairwise: m
                    .edges
                    .iter()
                    .map(|c| c.uplink_bytes_per_hour.map(|row| row.map(Sat::saturated)))
                    .collect(),
            },
            Metric::FpgaCount => Separable {
                constant: 0,
                unary: vec![[0, 0, 1]; g.tasks.len()],
                pairwise: Vec::new(),
            },
            Metric::Objective(Objective::Latency | Objective::ExecTime) => {
                unreachable!("path metrics are not separable")
            }
        }
    }

    /// `metric` as a limit kind, and the constant its value exceeds the
    /// limit kind's value by (execution time adds the mission's duration).
    fn limit_kind(&self, metric: Metric) -> (LimitKind, u64) {
        match metric {
            Metric::Objective(Objective::Latency) => {
                let paths: Vec<PathShape> = self.paths.iter().flatten().cloned().collect();
                if paths.is_empty() {
                    (LimitKind::PathSum(vec![self.whole_graph()]), 0)
                } else {
                    (LimitKind::PathSum(paths), 0)
                }
            }
            Metric::Objective(Objective::ExecTime) => (
                LimitKind::PathSum(vec![self.whole_graph()]),
                self.model.duration_us,
            ),
            _ => (LimitKind::Separable(self.separable(metric)), 0),
        }
    }

    /// A lower bound on `metric` over every placement in the current domains
    /// that meets the limits (the Lagrangian part assumes them).
    pub fn lower_bound(&self, metric: Metric) -> u64 {
        let (kind, offset) = self.limit_kind(metric);
        let mut lb = self.bound_of(&kind);
        let relaxed = match &kind {
            LimitKind::Separable(a) => Some(a.clone()),
            _ => self.path_relaxation(metric),
        };
        if let Some(a) = &relaxed {
            lb = lb.max(a.forest(self.model, &self.adj, &self.domains).lower_bound);
            // Lagrangian bounds: A ≥ min(A + λ·B) − λ·max_B for every
            // separable limit B ≤ max_B (a budget, a battery, CPU, ...).
            for limit in self.limits.iter().filter(|l| !l.relaxation) {
                let LimitKind::Separable(b) = &limit.kind else {
                    continue;
                };
                if self.late() {
                    break;
                }
                let (_, score) = best_multiplier(a, b, |p| {
                    let forest = a
                        .combined(b, p)
                        .forest(self.model, &self.adj, &self.domains);
                    i128::from(forest.lower_bound) - i128::from(lambda_ceil(p, limit.max))
                });
                lb = lb.max(score.clamp(0, i128::from(NONE)) as u64);
            }
            lb = lb.max(a.cut_bound(self.model, &self.domains));
            if !self.late() {
                if let Some((ps, forest)) = self.joint_multipliers(a) {
                    lb = lb.max(forest);
                    // The same dual scored by the cut bound, from the
                    // forest's multipliers.
                    if !self.late() {
                        if let Some((_, cut)) = self.joint_multipliers_with(a, Some(&ps), 2, true) {
                            lb = lb.max(cut);
                        }
                    }
                }
            }
        }
        lb.saturating_add(offset)
    }

    /// The Lagrangian bound with every separable limit at once:
    /// `a + Σ λᵢ·Bᵢ` over the separable limits with a positive multiplier
    /// in `ps` (λ = p / 2²⁰, one per limit) that `skip` does not name, and
    /// `Σ ⌈λᵢ·maxᵢ⌉`: the limits priced into a Lagrangian combination.
    fn priced(&self, a: &Separable, ps: &[u64], skip: impl Fn(usize) -> bool) -> (Separable, u64) {
        let mut combined = a.clone();
        let mut rhs = 0u64;
        for (i, (l, &p)) in self.limits.iter().zip(ps).enumerate() {
            if let (LimitKind::Separable(b), true, false) = (&l.kind, p > 0, skip(i)) {
                combined = combined.combined(b, p);
                rhs = rhs.saturating_add(lambda_ceil(p, l.max));
            }
        }
        (combined, rhs)
    }

    /// A ≥ min(A + Σ λᵢ·Bᵢ) − Σ λᵢ·maxᵢ, the multipliers found by
    /// coordinate ascent (a golden-section search per limit, the others
    /// held). Several limits that only bind together (a budget that pushes
    /// work to the drones, a reserve that keeps it off them, a deadline on
    /// the tasks in between) are invisible to the pairs above.
    /// Returns the multipliers (λ = p / 2²⁰, one per separable limit in
    /// `self.limits` order, 0 for the others) and the bound they give;
    /// `None` with fewer than two separable limits.
    fn joint_multipliers(&self, a: &Separable) -> Option<(Vec<u64>, u64)> {
        self.joint_multipliers_with(a, None, 3, false)
    }

    /// [`Presolve::joint_multipliers`] from `start` (the forest's
    /// multipliers, say) for `sweeps` sweeps, each combination scored by
    /// its cut bound ([`Separable::cut_bound`]) when `cut`, else by its
    /// forest bound.
    fn joint_multipliers_with(
        &self,
        a: &Separable,
        start: Option<&[u64]>,
        sweeps: usize,
        cut: bool,
    ) -> Option<(Vec<u64>, u64)> {
        let limits: Vec<(usize, &Separable, u64)> = self
            .limits
            .iter()
            .enumerate()
            .filter_map(|(i, l)| match &l.kind {
                LimitKind::Separable(b) => Some((i, b, l.max)),
                _ => None,
            })
            .collect();
        if limits.len() < 2 {
            return None;
        }
        let (model, adj, dom) = (self.model, &self.adj, &self.domains);
        let bound = |s: &Separable| {
            if cut {
                s.cut_bound(model, dom)
            } else {
                s.forest(model, adj, dom).lower_bound
            }
        };
        let mut ps: Vec<u64> = match start {
            Some(start) => limits.iter().map(|&(i, _, _)| start[i]).collect(),
            None => vec![0u64; limits.len()],
        };
        // A + Σ_{j≠skip} λⱼBⱼ, and Σ_{j≠skip} ⌈λⱼ·maxⱼ⌉.
        let others = |ps: &[u64], skip: usize| -> (Separable, u64) {
            let mut combined = a.clone();
            let mut rhs = 0u64;
            for (j, &(_, b, max)) in limits.iter().enumerate() {
                if j != skip && ps[j] > 0 {
                    combined = combined.combined(b, ps[j]);
                    rhs = rhs.saturating_add(lambda_ceil(ps[j], max));
                }
            }
            (combined, rhs)
        };
        let score_of = |base: &Separable, rhs: u64, b: &Separable, max: u64, p: u64| -> i128 {
            let lb = bound(&base.combined(b, p));
            if lb == NONE {
                // Saturated: not a usable bound.
                return i128::MIN;
            }
            i128::from(lb) - i128::from(rhs) - i128::from(lambda_ceil(p, max))
        };
        let mut best = {
            // Saturated: start from the objective alone.
            let (base, rhs) = others(&ps, usize::MAX);
            let lb = bound(&base);
            if lb == NONE {
                i128::from(bound(a))
            } else {
                i128::from(lb) - i128::from(rhs)
            }
        };
        for _sweep in 0..sweeps {
            let before = best;
            for (i, &(_, b, max)) in limits.iter().enumerate() {
                if self.late() {
                    break;
                }
                if cut && start.is_some() && ps[i] == 0 && dom.len() > KNAPSACK_TASKS {
                    // On large graphs a cut costs milliseconds, and each
                    // limit ~40 of them: only the limits the start found
                    // binding (at 1,000 tasks, 47 limits took 5 s).
                    continue;
                }
                let (base, rhs) = others(&ps, i);
                let current = score_of(&base, rhs, b, max, ps[i]);
                let (p, score) = best_multiplier(&base, b, |p| score_of(&base, rhs, b, max, p));
                if score > current {
                    ps[i] = p;
                    best = best.max(score);
                } else {
                    best = best.max(current);
                }
            }
            if best <= before {
                break;
            }
        }
        let mut all = vec![0u64; self.limits.len()];
        for (&(i, _, _), &p) in limits.iter().zip(&ps) {
            all[i] = p;
        }
        Some((all, best.clamp(0, i128::from(NONE)) as u64))
    }

    /// Polish multipliers `start` (one per limit, as [`Presolve::priced`]
    /// takes them) for `a` by projected subgradient ascent on the
    /// cut-scored Lagrangian dual: coordinate ascent stalls where the dual
    /// is not smooth, which it is not where several limits bind on the same
    /// tasks. Each round solves the combination by a minimum cut; the
    /// relaxed placement's excess over each limit is the subgradient; the
    /// step is Polyak's towards `target` (an incumbent's value, else a
    /// little above the bound), halved after rounds without progress.
    /// Any multipliers ≥ 0 give a sound bound, so this needs no optimality.
    /// Returns the best multipliers seen and their bound.
    fn polish_multipliers(
        &self,
        a: &Separable,
        start: &[u64],
        target: Option<u64>,
        rounds: usize,
    ) -> (Vec<u64>, u64) {
        let (model, dom) = (self.model, &self.domains);
        let priced: Vec<(usize, &Separable, u64)> = self
            .limits
            .iter()
            .enumerate()
            .filter_map(|(i, l)| match &l.kind {
                LimitKind::Separable(b) if l.of.is_none() => Some((i, b, l.max)),
                _ => None,
            })
            .collect();
        let eval = |ps: &[u64]| -> Option<(i128, Vec<usize>)> {
            let (c, rhs) = self.priced(a, ps, |_| false);
            if c.largest_total() >= u128::from(NONE) {
                return None;
            }
            let (lb, x) = c.cut_solve(model, dom, true);
            (lb != NONE).then(|| Some((i128::from(lb) - i128::from(rhs), x?)))?
        };
        let mut ps = start.to_vec();
        let Some((mut best, mut x)) = eval(&ps) else {
            return (ps, 0);
        };
        let from = best;
        let mut best_ps = ps.clone();
        if priced.is_empty() {
            return (best_ps, best.clamp(0, i128::from(NONE)) as u64);
        }
        // The largest multiplier per limit that keeps every sum far below
        // saturation, shared among the limits.
        let room = (1u128 << 62).saturating_sub(a.largest_total()) / priced.len() as u128;
        let p_max: Vec<f64> = priced
            .iter()
            .map(|&(_, b, _)| {
                (room * LAMBDA_DENOMINATOR / b.largest_total().max(1)).min(1 << 60) as f64
            })
            .collect();
        let mut theta = 0.5f64;
        let mut stale = 0usize;
        let mut value = best;
        for _ in 0..rounds {
            if self.late() {
                break;
            }
            let goal = match target {
                Some(t) if i128::from(t) > best => t as f64,
                _ => best as f64 + (best.unsigned_abs() as f64 / 100.0).max(1.0),
            };
            // Each limit's excess relative to its maximum (limits of very
            // different units, microseconds and CPU-microseconds per hour,
            // would otherwise take every step), with multipliers in the
            // objective's units per relative excess (μ = λ·max).
            let g: Vec<f64> = priced
                .iter()
                .map(|&(_, b, max)| {
                    (separable_value(model, b, &x) as f64 - max as f64) / (max.max(1) as f64)
                })
                .collect();
            // Projected: a limit at 0 with slack stays at 0.
            let norm: f64 = g
                .iter()
                .zip(&priced)
                .filter(|(gi, &(i, _, _))| **gi > 0.0 || ps[i] > 0)
                .map(|(gi, _)| gi * gi)
                .sum();
            if norm == 0.0 {
                break;
            }
            let step = theta * (goal - value as f64).max(0.0) / norm;
            for (k, &(i, _, max)) in priced.iter().enumerate() {
                // p = λ·2²⁰ = μ·2²⁰ / max.
                let per_mu = LAMBDA_DENOMINATOR as f64 / max.max(1) as f64;
                let next = (ps[i] as f64 + step * g[k] * per_mu).clamp(0.0, p_max[k]);
                ps[i] = next as u64;
            }
            let e = eval(&ps);
            tracing::trace!(norm, step, value = ?e.as_ref().map(|(v, _)| *v), ?g, ?ps, "subgradient round");
            match e {
                Some((v, nx)) => {
                    value = v;
                    x = nx;
                    if v > best {
                        best = v;
                        best_ps = ps.clone();
                        stale = 0;
                    } else {
                        stale += 1;
                    }
                }
                None => {
                    ps = best_ps.clone();
                    stale += 5;
                }
            }
            if stale >= 5 {
                theta /= 2.0;
                stale = 0;
                if theta < 1e-4 {
                    break;
                }
            }
        }
        tracing::debug!(from, to = best, ?target, "subgradient multipliers");
        (best_ps, best.clamp(0, i128::from(NONE)) as u64)
    }

    /// A lower bound on the latency of requirement `r`'s path (0 if `r` is
    /// not a latency requirement).
    pub fn path_lower_bound(&self, r: usize) -> u64 {
        match self.paths.get(r) {
            Some(Some(shape)) => {
                PathBounds::new(self.model, &self.adj, &self.domains, shape).lower_bound
            }
            _ => 0,
        }
    }

    /// The separable relaxation of a path metric (latency: the sum of its
    /// paths' chains; execution time: the whole graph's chain, without the
    /// mission's duration), if it has one.
    fn path_relaxation(&self, metric: Metric) -> Option<Separable> {
        match metric {
            Metric::Objective(Objective::Latency) => {
                if self.paths.iter().all(Option::is_none) {
                    return self.whole_chain.clone();
                }
                let mut total: Option<Separable> = None;
                for (shape, chain) in self.paths.iter().zip(&self.chains) {
                    match (shape, chain) {
                        (None, _) => {}
                        (Some(_), Some(c)) => {
                            total = Some(total.map_or_else(|| c.clone(), |t| sum_separable(&t, c)));
                        }
                        // A path without a chain: the sum would be too low
                        // to add anything; still a lower bound, keep it.
                        (Some(_), None) => {}
                    }
                }
                total
            }
            Metric::Objective(Objective::ExecTime) => self.whole_chain.clone(),
            _ => None,
        }
    }

    /// A path objective's relaxation (latency: one chain per path summed;
    /// execution time: the whole graph's chain) sees one chain of each
    /// path, so the placement minimising it usually makes another chain
    /// critical. A path's latency is at least any convex combination of
    /// its chains' latencies: per round, the chain critical in the
    /// relaxation's placement is mixed into its path's relaxation with the
    /// weight (a golden-section search, the Lagrangian dual being concave
    /// in it) that maximises the joint Lagrangian bound. Up to `rounds`
    /// rounds or `until`; returns the chains mixed in.
    pub fn mix_path_chains(
        &mut self,
        metric: Metric,
        rounds: usize,
        until: std::time::Instant,
    ) -> usize {
        // The paths of the objective: (requirement or the whole graph, shape).
        let whole = matches!(metric, Metric::Objective(Objective::ExecTime))
            || (matches!(metric, Metric::Objective(Objective::Latency))
                && self.paths.iter().all(Option::is_none));
        let slots: Vec<(Option<usize>, PathShape)> = match metric {
            _ if whole => vec![(None, self.whole_graph())],
            Metric::Objective(Objective::Latency) => self
                .paths
                .iter()
                .enumerate()
                .filter(|(r, _)| self.chains.get(*r).is_some_and(Option::is_some))
                .filter_map(|(r, s)| Some((Some(r), s.clone()?)))
                .collect(),
            _ => return 0,
        };
        if self.infeasible || slots.is_empty() {
            return 0;
        }
        let mut mixed = 0;
        for _round in 0..rounds {
            if self.late() || std::time::Instant::now() >= until {
                break;
            }
            let Some(a) = self.path_relaxation(metric) else {
                return mixed;
            };
            let ps = self
                .joint_multipliers(&a)
                .map_or_else(|| vec![0; self.limits.len()], |(ps, _)| ps);
            let (model, adj, dom) = (self.model, &self.adj, &self.domains);
            let mut rest = Separable {
                constant: 0,
                unary: vec![[0; 3]; dom.len()],
                pairwise: Vec::new(),
            };
            let mut rhs = 0u64;
            for (l, &p) in self.limits.iter().zip(&ps) {
                if let (LimitKind::Separable(b), true) = (&l.kind, p > 0) {
                    rest = rest.combined(b, p);
                    rhs = rhs.saturating_add(lambda_ceil(p, l.max));
                }
            }
            let combined = sum_separable_any(&a, &rest);
            let (_, x) = combined.cut_solve(model, dom, true);
            let Some(x) = x else {
                return mixed;
            };
            let mut changed = false;
            for (slot, shape) in &slots {
                let current = match slot {
                    Some(r) => self.chains[*r].clone(),
                    None => self.whole_chain.clone(),
                };
                let Some(current) = current else {
                    continue;
                };
                let Some((chain, _, latency)) = placement_chain(model, adj, shape, &x) else {
                    continue;
                };
                if u128::from(latency) <= separable_value(model, &current, &x) {
                    continue;
                }
                // The objective's relaxation without this path's part.
                let others = match slot {
                    Some(r) => {
                        let mut rel: Option<Separable> = None;
                        for (q, c) in self.chains.iter().enumerate() {
                            if q == *r || self.paths[q].is_none() {
                                continue;
                            }
                            if let Some(c) = c {
                                rel = Some(rel.map_or_else(|| c.clone(), |t| sum_separable(&t, c)));
                            }
                        }
                        rel
                    }
                    None => None,
                };
                let base = match &others {
                    Some(o) => sum_separable_any(o, &rest),
                    None => rest.clone(),
                };
                let score = |q: u64| -> i128 {
                    let part = mixed_separable(&current, &chain, q);
                    let lb = sum_separable_any(&base, &part)
                        .forest(model, adj, dom)
                        .lower_bound;
                    if lb == NONE {
                        return i128::MIN;
                    }
                    i128::from(lb) - i128::from(rhs)
                };
                let (mut lo, mut hi) = (0f64, LAMBDA_DENOMINATOR as f64);
                let phi = 0.618_033_988_75;
                let at = |x: f64| x as u64;
                let start = score(0);
                let mut best = (0u64, start);
                let (mut x1, mut x2) = (hi - phi * (hi - lo), lo + phi * (hi - lo));
                let (mut f1, mut f2) = (score(at(x1)), score(at(x2)));
                for _ in 0..24 {
                    for (xq, f) in [(x1, f1), (x2, f2)] {
                        if f > best.1 {
                            best = (at(xq), f);
                        }
                    }
                    if f1 < f2 {
                        lo = x1;
                        (x1, f1) = (x2, f2);
                        x2 = lo + phi * (hi - lo);
                        f2 = score(at(x2));
                    } else {
                        hi = x2;
                        (x2, f2) = (x1, f1);
                        x1 = hi - phi * (hi - lo);
                        f1 = score(at(x1));
                    }
                }
                if best.1 > start && best.0 > 0 {
                    let part = mixed_separable(&current, &chain, best.0);
                    match slot {
                        Some(r) => self.chains[*r] = Some(part),
                        None => self.whole_chain = Some(part),
                    }
                    mixed += 1;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        mixed
    }

    /// Cutting planes for the path limits (latency requirements, execution
    /// time, a latency objective fixed at its optimum): the placement that
    /// minimises `metric`'s joint Lagrangian over the current domains
    /// usually breaks some of them, since the relaxation sees one chain
    /// per path only; the chain that is critical in that placement is
    /// added as one more separable limit (every chain of a path is at most
    /// the path's latency, so it is sound), and the Lagrangian is solved
    /// again, for up to `rounds` rounds or until `until`, or until the
    /// relaxation's placement meets every path limit. Returns the chains
    /// added; the domains are reduced against them.
    pub fn add_chains(
        &mut self,
        metric: Metric,
        rounds: usize,
        until: std::time::Instant,
    ) -> usize {
        let (kind, _) = self.limit_kind(metric);
        let Some(a) = (match &kind {
            LimitKind::Separable(a) => Some(a.clone()),
            _ => self.path_relaxation(metric),
        }) else {
            return 0;
        };
        if self.infeasible {
            return 0;
        }
        let mut added = 0;
        let mut polished = false;
        for _round in 0..rounds {
            if self.late() || std::time::Instant::now() >= until {
                break;
            }
            // The relaxed placement: the forest's at the joint multipliers;
            // once that breaks no new chain, the minimum cut's at
            // multipliers polished by subgradient ascent (a relax-and-cut
            // loop: the polished relaxation leans on other chains).
            let joint = self.joint_multipliers(&a);
            let x = if polished {
                let Some((ps, _)) = joint.as_ref() else { break };
                let ps = self
                    .joint_multipliers_with(&a, Some(ps), 2, true)
                    .map_or_else(|| ps.clone(), |(p, _)| p);
                let (ps, _) = self.polish_multipliers(&a, &ps, None, SUBGRADIENT_ROUNDS);
                let (c, _) = self.priced(&a, &ps, |_| false);
                if c.largest_total() >= u128::from(NONE) {
                    break;
                }
                match c.cut_solve(self.model, &self.domains, true).1 {
                    Some(x) => x,
                    None => break,
                }
            } else {
                let combined = match &joint {
                    Some((ps, _)) => self.priced(&a, ps, |_| false).0,
                    None => a.clone(),
                };
                let forest = combined.forest(self.model, &self.adj, &self.domains);
                self.domains
                    .iter()
                    .enumerate()
                    .map(|(t, d)| {
                        (0..3)
                            .filter(|&m| d[m])
                            .min_by_key(|&m| (forest.lower_bound_if(t, m), m))
                            .unwrap_or(0)
                    })
                    .collect()
            };
            let mut new = Vec::new();
            for limit in self.limits.iter().filter(|l| !l.relaxation) {
                let LimitKind::PathSum(shapes) = &limit.kind else {
                    continue;
                };
                let mut sum: Option<Separable> = None;
                let mut key = Vec::new();
                let mut latency = 0u64;
                for shape in shapes {
                    let Some((c, tasks, l)) = placement_chain(self.model, &self.adj, shape, &x)
                    else {
                        continue;
                    };
                    latency = latency.saturating_add(l);
                    key.extend(tasks);
                    key.push(usize::MAX);
                    sum = Some(sum.map_or(c.clone(), |s| sum_separable(&s, &c)));
                }
                if let (Some(chain), true) = (sum, latency > limit.max) {
                    key.push(usize::try_from(limit.max).unwrap_or(usize::MAX));
                    if self.chain_keys.insert(key) {
                        new.push(Limit {
                            kind: LimitKind::Separable(chain),
                            max: limit.max,
                            relaxation: true,
                            objective: false,
                            of: None,
                        });
                    }
                }
            }
            if new.is_empty() {
                if polished || self.domains.len() > KNAPSACK_TASKS {
                    break;
                }
                polished = true;
                continue;
            }
            added += new.len();
            self.limits.extend(new);
        }
        if added > 0 {
            self.propagate();
        }
        added
    }

    /// Add `metric ≤ max` (an objective fixed at its optimum) and reduce.
    pub fn bound(&mut self, metric: Metric, max: u64) {
        let (kind, offset) = self.limit_kind(metric);
        match max.checked_sub(offset) {
            Some(max) => {
                if let Some(relaxed) = self.path_relaxation(metric) {
                    self.limits.push(Limit {
                        kind: LimitKind::Separable(relaxed),
                        max,
                        relaxation: true,
                        objective: false,
                        of: None,
                    });
                }
                self.limits.push(Limit {
                    kind,
                    max,
                    relaxation: false,
                    objective: true,
                    of: Some(metric),
                })
            }
            None => self.infeasible = true,
        }
        self.propagate();
    }

    fn bound_of(&self, kind: &LimitKind) -> u64 {
        let (model, adj, dom) = (self.model, &self.adj, &self.domains);
        match kind {
            LimitKind::Separable(s) => s.forest(model, adj, dom).lower_bound,
            LimitKind::PathSum(shapes) => shapes
                .iter()
                .map(|s| PathBounds::new(model, adj, dom, s).lower_bound)
                .fold(0, u64::saturating_add),
            LimitKind::TaskValue(t, v) => (0..3)
                .filter(|&m| dom[*t][m])
                .map(|m| v[m])
                .min()
                .unwrap_or(NONE),
        }
    }

    /// Remove every value whose lower bound exceeds some limit, until
    /// nothing changes. An emptied domain means no placement is feasible.
    fn propagate(&mut self) {
        let n = self.domains.len();
        loop {
            if self.infeasible || self.domains.iter().any(|d| !d.contains(&true)) {
                self.infeasible = true;
                return;
            }
            if self.late() {
                return;
            }
            let mut removed = Vec::new();
            for limit in &self.limits {
                let (model, adj, dom) = (self.model, &self.adj, &self.domains);
                let over: Box<dyn Fn(usize, usize) -> bool> = match &limit.kind {
                    LimitKind::Separable(s) => {
                        let forest = s.forest(model, adj, dom);
                        if forest.lower_bound > limit.max {
                            self.infeasible = true;
                            return;
                        }
                        Box::new(move |t, m| forest.lower_bound_if(t, m) > limit.max)
                    }
                    LimitKind::PathSum(shapes) => {
                        let bounds: Vec<PathBounds> = shapes
                            .iter()
                            .map(|s| PathBounds::new(model, adj, dom, s))
                            .collect();
                        let total = bounds
                            .iter()
                            .map(|b| b.lower_bound)
                            .fold(0, u64::saturating_add);
                        if total > limit.max {
                            self.infeasible = true;
                            return;
                        }
                        Box::new(move |t, m| {
                            bounds
                                .iter()
                                .map(|b| b.through(t, m))
                                .fold(0, u64::saturating_add)
                                > limit.max
                        })
                    }
                    LimitKind::TaskValue(task, v) => {
                        let (task, v, max) = (*task, *v, limit.max);
                        Box::new(move |t, m| t == task && v[m] > max)
                    }
                };
                for t in 0..n {
                    for m in (0..3).filter(|&m| self.domains[t][m]) {
                        if over(t, m) {
                            removed.push((t, m));
                        }
                    }
                }
            }
            if removed.is_empty() && !self.late() {
                removed = self.lagrangian_fixing();
            }
            if removed.is_empty() {
                return;
            }
            for (t, m) in removed {
                self.domains[t][m] = false;
            }
        }
    }

    /// Reduced-cost fixing with pairs of separable limits A ≤ a, B ≤ b
    /// combined as A + λ·B ≤ a + λ·b, λ chosen to maximise how far the
    /// combination's lower bound is above its right-hand side (the
    /// Lagrangian dual); strong where a budget and an objective pull apart.
    /// Sets `infeasible` when some combination cannot be met at all.
    fn lagrangian_fixing(&mut self) -> Vec<(usize, usize)> {
        let (model, adj, dom) = (self.model, &self.adj, &self.domains);
        let separable: Vec<(&Separable, u64)> = self
            .limits
            .iter()
            .filter(|l| !l.relaxation)
            .filter_map(|l| match &l.kind {
                LimitKind::Separable(s) => Some((s, l.max)),
                _ => None,
            })
            .collect();
        let mut removed = Vec::new();
        for (i, &(a, a_max)) in separable.iter().enumerate() {
            for (j, &(b, b_max)) in separable.iter().enumerate() {
                if i == j {
                    continue;
                }
                if self.late() {
                    break;
                }
                // Integer terms: A + ⌊λB⌋ ≤ a + ⌊λb⌋ for every placement meeting both.
                // Saturating: a right-hand side past 2⁶⁴ removes nothing.
                let rhs = |p: u64| {
                    a_max.saturating_add(
                        u64::try_from(u128::from(b_max) * u128::from(p) / LAMBDA_DENOMINATOR)
                            .unwrap_or(NONE),
                    )
                };
                let (p, gap) = best_multiplier(a, b, |p| {
                    let forest = a.combined(b, p).forest(model, adj, dom);
                    i128::from(forest.lower_bound) - i128::from(rhs(p))
                });
                if gap > 0 {
                    self.infeasible = true;
                    return Vec::new();
                }
                if p == 0 {
                    continue;
                }
                let forest = a.combined(b, p).forest(model, adj, dom);
                let max = rhs(p);
                for (t, d) in dom.iter().enumerate() {
                    for m in (0..3).filter(|&m| d[m]) {
                        if forest.lower_bound_if(t, m) > max {
                            removed.push((t, m));
                        }
                    }
                }
            }
        }
        removed.sort_unstable();
        removed.dedup();
        removed
    }

    /// The (task, modality) pairs removed from the pins' domains.
    pub fn removed(&self) -> Vec<(usize, Modality)> {
        let mut out = Vec::new();
        for (t, (now, was)) in self.domains.iter().zip(&self.initial).enumerate() {
            for m in Modality::ALL {
                let k = modality_index(m);
                if was[k] && !now[k] {
                    out.push((t, m));
                }
            }
        }
        out
    }
}

/// The bounds the branch-and-bound ([`crate::bnb`]) evaluates at every
/// node of one lexicographic stage: presolve's limits, the stage's
/// objective, and its Lagrangian combination with every separable limit,
/// the multipliers fixed at the root (a bound for any fixed λ ≥ 0, so it
/// stays sound at every node; only its strength varies).
pub(crate) struct StageBounds<'p, 'm, 'g> {
    pre: &'p Presolve<'m, 'g>,
    objective: LimitKind,
    /// What the metric's value exceeds `objective`'s by (execution time:
    /// the mission's duration).
    offset: u64,
    /// A path objective's separable relaxation (its chains).
    relaxed: Option<Separable>,
    /// `A + Σ λᵢ·Bᵢ` and `Σ ⌈λᵢ·maxᵢ⌉`.
    combined: Option<(Separable, u64)>,
    /// The same with the multipliers that maximise its cut bound, which
    /// every node evaluates too.
    cut_combined: Option<(Separable, u64)>,
    /// `cut_combined` at the coordinate-ascent multipliers, before the
    /// subgradient polish moved them: its relaxed placement is another
    /// start for the Lagrangian heuristic (a higher bound is not always
    /// the better start).
    unpolished: Option<(Separable, u64)>,
    /// The binding knapsack-like limits kept exact (dynamic programming),
    /// the others priced: evaluated at every node when it beats the
    /// Lagrangian bounds at the root.
    knapsack: Option<knapsack::Knapsack>,
    /// Whether `knapsack` is evaluated at nodes (else it only gives the
    /// heuristic a start).
    knapsack_at_nodes: bool,
    /// The same for some separable limits (by index in presolve's), their
    /// own metric minimised: a node whose knapsack bound passes the
    /// limit's maximum has no placement meeting them all. Where an earlier
    /// stage's optimum is a knapsack's (cost against CPU), the placements
    /// reaching it are few and this is what finds them.
    limit_knapsacks: Vec<(usize, knapsack::Knapsack)>,
    /// The heaviest multipliers of `cut_combined`, searched again at every
    /// node (the others held at the root's).
    node_dual: Option<NodeDual>,
    /// The same for the limits presolve bounds by another objective (an
    /// earlier stage's optimum): their own metric's bound, searched at every node,
    /// prunes a node that passes the limit's maximum. When an earlier
    /// stage's optimum is reached by few placements, this is what finds
    /// them (the earlier stage's own search, in effect).
    limit_duals: Vec<(usize, NodeDual)>,
}

/// The heaviest multipliers of a cut-scored combination searched again at
/// every node, from its parent's values: with the multipliers fixed at the
/// root, fixing a task at its relaxed modality leaves the bound where it
/// was (a plateau: 775 k nodes in 30 s did not move it on budget 50 s1);
/// the node's own multipliers see that the budget left no longer fits the
/// relaxation's placement. Any λ ≥ 0 gives a bound, so the search needs no
/// optimality to stay sound.
struct NodeDual {
    /// `A + Σ λⱼ·Bⱼ` over the limits not searched, and `Σ ⌈λⱼ·maxⱼ⌉`.
    base: Separable,
    rhs: u64,
    /// The multipliers searched, heaviest (λ·max) first.
    coords: Vec<DualCoord>,
}

/// One multiplier a [`NodeDual`] searches.
struct DualCoord {
    /// The limit (index in presolve's) and its metric.
    limit: usize,
    weight: Separable,
    /// The root's multiplier and the largest one that cannot saturate.
    p_root: u64,
    p_max: u64,
}

/// Multipliers a [`NodeDual`] searches (a budget and a battery reserve
/// bind together on the battery family).
const DUAL_COORDS: usize = 2;

/// The dual searches' multipliers a node hands its children: the stage
/// objective's, then each limit dual's ([`StageBounds`]).
pub(crate) type Hints = [[u64; DUAL_COORDS]; 1 + LIMIT_DUALS];

/// Limits with a dual search of their own at every node.
const LIMIT_DUALS: usize = 2;

/// Pattern-search steps per multiplier and node in [`NodeDual::improve`].
const NODE_DUAL_STEPS: usize = 4;

/// What one evaluation of a [`NodeDual`] gives: its bound (`i128`, the
/// right-hand side taken off), which searched limits the relaxed placement
/// passes, and that placement.
type DualEval = (i128, [bool; DUAL_COORDS], Vec<usize>);

impl NodeDual {
    fn new(pre: &Presolve, a: &Separable, ps: &[u64]) -> Option<Self> {
        let mut heavy: Vec<(u128, usize)> = pre
            .limits
            .iter()
            .zip(ps)
            .enumerate()
            .filter(|(_, (l, &p))| matches!(l.kind, LimitKind::Separable(_)) && p > 0)
            .map(|(i, (l, &p))| (u128::from(p) * u128::from(l.max), i))
            .collect();
        heavy.sort_by_key(|&(w, i)| (std::cmp::Reverse(w), i));
        heavy.truncate(DUAL_COORDS);
        if heavy.is_empty() {
            return None;
        }
        let (base, rhs) = pre.priced(a, ps, |i| heavy.iter().any(|&(_, j)| j == i));
        // A base that can saturate would make a "no placement" answer
        // ambiguous (see `improve`): none then.
        if base.largest_total() >= u128::from(NONE) {
            return None;
        }
        // Each multiplier gets an equal share of the room left below
        // saturation.
        const ROOM: u128 = 1 << 62;
        let share = ROOM.saturating_sub(base.largest_total()) / heavy.len() as u128;
        let coords = heavy
            .iter()
            .filter_map(|&(_, i)| {
                let LimitKind::Separable(w) = &pre.limits[i].kind else {
                    return None;
                };
                let p_max = (share * LAMBDA_DENOMINATOR / w.largest_total().max(1)).min(1 << 60);
                let p_max = u64::try_from(p_max).ok().filter(|&p| p > 0)?;
                Some(DualCoord {
                    limit: i,
                    weight: w.clone(),
                    p_root: ps[i].min(p_max),
                    p_max,
                })
            })
            .collect::<Vec<_>>();
        (!coords.is_empty()).then_some(NodeDual { base, rhs, coords })
    }

    /// The combination at multipliers `p` and its right-hand side.
    fn at(&self, pre: &Presolve, p: &[u64; DUAL_COORDS]) -> (Separable, u64) {
        let mut c = self.base.clone();
        let mut rhs = self.rhs;
        for (k, d) in self.coords.iter().enumerate() {
            c = c.combined(&d.weight, p[k]);
            rhs = rhs.saturating_add(lambda_ceil(p[k], pre.limits[d.limit].max));
        }
        (c, rhs)
    }

    fn eval(&self, pre: &Presolve, dom: &Domains, p: &[u64; DUAL_COORDS]) -> Option<DualEval> {
        let (c, rhs) = self.at(pre, p);
        let (lb, x) = c.cut_solve(pre.model, dom, true);
        let x = x?;
        if lb == NONE {
            return None;
        }
        let mut over = [false; DUAL_COORDS];
        for (k, d) in self.coords.iter().enumerate() {
            over[k] =
                separable_value(pre.model, &d.weight, &x) > u128::from(pre.limits[d.limit].max);
        }
        Some((i128::from(lb) - i128::from(rhs), over, x))
    }

    /// The best bound over a few multipliers near `hint` (the parent's;
    /// 0: the root's), and the multipliers giving it: a pattern search on
    /// log λ, one multiplier at a time, each step's direction from the
    /// relaxed placement's use of that limit (over it: a larger λ). `lower
    /// == NONE` when no placement is in `dom`; `None` when every
    /// evaluation saturated.
    fn improve(
        &self,
        pre: &Presolve,
        dom: &Domains,
        hint: [u64; DUAL_COORDS],
    ) -> Option<DualAtNode> {
        let mut p = [0u64; DUAL_COORDS];
        for (k, d) in self.coords.iter().enumerate() {
            p[k] = if hint[k] == 0 {
                d.p_root
            } else {
                hint[k].min(d.p_max)
            };
        }
        let Some((first, mut over, x0)) = self.eval(pre, dom, &p) else {
            // No placement in `dom` at all, or saturation: ask the plain
            // cut bound which.
            return (self.base.cut_bound(pre.model, dom) == NONE).then_some(DualAtNode {
                lower: NONE,
                p,
                split: None,
            });
        };
        let mut best = first;
        // The best-scoring relaxed placements over some searched limit and
        // under all of them: the tasks where they differ are where the
        // relaxation is torn (a knapsack's critical items).
        let mut sides: [Option<(i128, Vec<usize>)>; 2] = [None, None];
        let mut note = |score: i128, over: &[bool; DUAL_COORDS], x: Vec<usize>| {
            let side = &mut sides[usize::from(over.iter().any(|&o| o))];
            if side.as_ref().is_none_or(|(s, _)| score > *s) {
                *side = Some((score, x));
            }
        };
        note(first, &over, x0);
        let mut step = [0.5f64; DUAL_COORDS];
        for round in 0..NODE_DUAL_STEPS * self.coords.len() {
            let k = round % self.coords.len();
            let d = &self.coords[k];
            let x = (p[k].max(1) as f64).log2();
            let top = (d.p_max as f64).log2();
            let cand = if over[k] {
                (x + step[k]).min(top)
            } else {
                (x - step[k]).max(0.0)
            };
            let mut q = p;
            // p ≤ p_max ≤ 2⁶⁰: exact in f64's range; `as` saturates.
            q[k] = (2f64.powf(cand) as u64).clamp(1, d.p_max);
            match self.eval(pre, dom, &q) {
                Some((score, o, xq)) => {
                    note(score, &o, xq);
                    if score > best {
                        best = score;
                        p = q;
                        over = o;
                        step[k] *= 2.0;
                    } else {
                        step[k] /= 4.0;
                    }
                }
                None => step[k] /= 4.0,
            }
        }
        let split = match sides {
            [Some((_, a)), Some((_, b))] => (0..dom.len())
                .filter(|&t| {
                    (a[t] == 0) != (b[t] == 0) && dom[t].iter().filter(|&&v| v).count() > 1
                })
                .max_by_key(|&t| {
                    let moved: u128 = self
                        .coords
                        .iter()
                        .zip(&p)
                        .map(|(d, &pk)| {
                            let (u, v) = (d.weight.unary[t][a[t]], d.weight.unary[t][b[t]]);
                            u128::from(u.abs_diff(v)) * u128::from(pk)
                        })
                        .sum();
                    (moved, std::cmp::Reverse(t))
                }),
            _ => None,
        };
        Some(DualAtNode {
            lower: best.clamp(0, i128::from(NONE - 1)) as u64,
            p,
            split,
        })
    }

    /// Reduced-cost fixing at multipliers `p`: removes from `dom` every
    /// value whose forest bound of the combination passes `below` (the
    /// limit's maximum, or the stage's most). Returns whether it removed
    /// any; `None` when the node has no placement left.
    fn fix(
        &self,
        pre: &Presolve,
        dom: &mut Domains,
        p: &[u64; DUAL_COORDS],
        below: u64,
    ) -> Option<bool> {
        let (c, rhs) = self.at(pre, p);
        if c.largest_total() >= u128::from(NONE) {
            return Some(false);
        }
        let f = c.forest(pre.model, &pre.adj, dom);
        if f.lower_bound.saturating_sub(rhs) > below {
            return None;
        }
        // `c` cannot saturate (checked above): a bound of `NONE` is a
        // value outside the domains only.
        let removed = f.remove_above(dom, rhs, below);
        dom.iter().all(|d| d.contains(&true)).then_some(removed)
    }
}

/// What [`NodeDual::improve`] found at one node.
struct DualAtNode {
    /// The best bound (`NONE`: no placement in the node's domains).
    lower: u64,
    /// The multipliers giving it.
    p: [u64; DUAL_COORDS],
    /// A task the relaxation is torn on, to branch on.
    split: Option<usize>,
}

/// What one node's reduction found.
pub(crate) struct NodeBound {
    /// A lower bound on the stage's metric over the node's placements.
    pub lower: u64,
    /// Per (task, modality): a lower bound with the task at that modality
    /// (`NONE` outside the domain); what branching looks at.
    pub with: Vec<[u64; 3]>,
    /// The multipliers the node's dual searches ended at: its children's
    /// starts (0: none).
    pub hint: Hints,
    /// A task to branch on where the dual search found the relaxation
    /// torn between two placements (`None`: branch by regret).
    pub split: Option<usize>,
}

/// Reduction rounds per node: past them the node is branched on as it is
/// (fewer removals only: still sound).
const NODE_ROUNDS: usize = 2;

/// Limits with a knapsack bound of their own ([`StageBounds`]).
const LIMIT_KNAPSACKS: usize = 2;

/// Rounds of [`Presolve::polish_multipliers`] at a stage's root.
const SUBGRADIENT_ROUNDS: usize = 60;

/// Missions above this many tasks get no knapsack bounds.
const KNAPSACK_TASKS: usize = 500;

impl<'p, 'm, 'g> StageBounds<'p, 'm, 'g> {
    pub fn new(pre: &'p Presolve<'m, 'g>, metric: Metric) -> Self {
        let (objective, offset) = pre.limit_kind(metric);
        let relaxed = match &objective {
            LimitKind::Separable(a) => Some(a.clone()),
            _ => pre.path_relaxation(metric),
        };
        let combine = |a: &Separable, ps: &[u64]| {
            let (combined, rhs) = pre.priced(a, ps, |_| false);
            (combined.largest_total() < u128::from(NONE)).then_some((combined, rhs))
        };
        let forest_ps: Option<Vec<u64>> = relaxed
            .as_ref()
            .and_then(|a| Some(pre.joint_multipliers(a)?.0));
        let combined = relaxed
            .as_ref()
            .zip(forest_ps.as_ref())
            .and_then(|(a, ps)| combine(a, ps));
        let cut_ps = relaxed
            .as_ref()
            .zip(forest_ps.as_ref())
            .and_then(|(a, ps)| Some(pre.joint_multipliers_with(a, Some(ps), 2, true)?.0));
        let mut unpolished = None;
        let cut_ps = match (relaxed.as_ref(), cut_ps) {
            (Some(a), Some(ps)) if pre.domains.len() <= KNAPSACK_TASKS => {
                let target = pre
                    .limits
                    .iter()
                    .filter(|l| l.of == Some(metric))
                    .map(|l| l.max)
                    .min();
                let (polished, _) = pre.polish_multipliers(a, &ps, target, SUBGRADIENT_ROUNDS);
                if polished != ps {
                    unpolished = combine(a, &ps);
                }
                Some(polished)
            }
            (_, ps) => ps,
        };
        let cut_combined = relaxed
            .as_ref()
            .zip(cut_ps.as_ref())
            .and_then(|(a, ps)| combine(a, ps));
        let mut bounds = StageBounds {
            pre,
            objective,
            offset,
            relaxed,
            combined,
            cut_combined,
            unpolished,
            knapsack: None,
            knapsack_at_nodes: false,
            limit_knapsacks: Vec::new(),
            node_dual: None,
            limit_duals: Vec::new(),
        };
        // Not on large missions: there the stage's time goes to the
        // Lagrangian bounds, the branch-and-bound gets no nodes, and the
        // knapsacks' multipliers would cost seconds more.
        let small = pre.domains.len() <= KNAPSACK_TASKS && !pre.late();
        bounds.node_dual = match (bounds.relaxed.as_ref(), cut_ps.as_ref(), small) {
            (Some(a), Some(ps), true) => NodeDual::new(pre, a, ps),
            _ => None,
        };
        if let (Some(a), Some(ps), true) = (bounds.relaxed.as_ref(), cut_ps.as_ref(), small) {
            let mut root = pre.domains.clone();
            let floor = bounds
                .reduce(&mut root, NONE, Hints::default())
                .map_or(0, |b| b.lower.saturating_sub(bounds.offset));
            if let Some((at_root, k)) = knapsack::Knapsack::new(pre, a, ps) {
                tracing::trace!(floor, at_root, "knapsack bound at the root");
                bounds.knapsack_at_nodes = at_root != NONE && at_root > floor;
                bounds.knapsack = Some(k);
            }
        }
        // The limits whose knapsack bound comes nearest their maximum.
        // How close a root bound comes to a limit's maximum, in 2⁻³² of it.
        let closeness =
            |at_root: u64, max: u64| (u128::from(at_root) << 32) / u128::from(max.max(1));
        let mut tight: Vec<(u128, usize, knapsack::Knapsack)> = Vec::new();
        // (closeness, the root bound, limit, dual)
        let mut duals: Vec<(u128, u64, usize, NodeDual)> = Vec::new();
        for (i, l) in pre.limits.iter().enumerate().filter(|_| small) {
            // Not the stage's own metric (an incumbent's value): the
            // stage's bounds cover it.
            let (LimitKind::Separable(b), false, true, false) =
                (&l.kind, l.relaxation, l.objective, l.of == Some(metric))
            else {
                continue;
            };
            let Some((start, _)) = pre.joint_multipliers(b) else {
                continue;
            };
            let mut ps = start.clone();
            ps[i] = 0;
            // Only where the knapsack bound comes near the limit's maximum
            // (within 1/256) at the root: elsewhere it seldom prunes, and
            // an objective's own ceiling is never that close.
            let floor = l.max - l.max / 256;
            if let Some((at_root, k)) = knapsack::Knapsack::new(pre, b, &ps) {
                if at_root != NONE && at_root > floor {
                    tracing::trace!(
                        limit = i,
                        max = l.max,
                        knapsack = at_root,
                        "limit knapsack at the root"
                    );
                    tight.push((closeness(at_root, l.max), i, k));
                }
            }
            // The dual from the cut-scored multipliers, where it comes
            // within 1/32 of the maximum.
            let Some((mut ps, _)) = pre.joint_multipliers_with(b, Some(&start), 2, true) else {
                continue;
            };
            ps[i] = 0;
            let Some(d) = NodeDual::new(pre, b, &ps) else {
                continue;
            };
            let Some(at) = d.improve(pre, &pre.domains, [0; DUAL_COORDS]) else {
                continue;
            };
            tracing::trace!(
                limit = i,
                max = l.max,
                at_root = at.lower,
                "limit dual at the root"
            );
            if at.lower > l.max - l.max / 32 {
                duals.push((closeness(at.lower, l.max), at.lower, i, d));
            }
        }
        duals.sort_by_key(|&(close, _, i, _)| (std::cmp::Reverse(close), i));
        // Limits on the same metric (an earlier optimum and the
        // incumbents' values above it) give the same bound: the
        // tightest is kept.
        let mut seen: Vec<u64> = Vec::new();
        duals.retain(|&(_, at_root, _, _)| {
            let new = !seen.contains(&at_root);
            seen.push(at_root);
            new
        });
        bounds.limit_duals = duals
            .into_iter()
            .take(LIMIT_DUALS)
            .map(|(_, _, i, d)| (i, d))
            .collect();
        tight.sort_by_key(|&(close, i, _)| (std::cmp::Reverse(close), i));
        bounds.limit_knapsacks = tight
            .into_iter()
            .take(LIMIT_KNAPSACKS)
            .map(|(_, i, k)| (i, k))
            .collect();
        bounds
    }

    /// The placement that minimises the stage's cut-scored Lagrangian
    /// combination over presolve's domains: usually infeasible (the limits
    /// are only priced), but close to good feasible placements, a start
    /// for a repairing local search (a Lagrangian heuristic).
    pub fn relaxed_placement(&self) -> Option<Vec<Modality>> {
        self.relaxed_placement_in(&self.pre.domains)
    }

    /// Starts for the Lagrangian heuristic: the relaxed placement, the one
    /// before the multipliers' polish (if it moved them), and the knapsack
    /// relaxation's (which fills the binding limits).
    pub fn heuristic_starts(&self) -> Vec<Vec<Modality>> {
        let unpolished = self
            .unpolished
            .as_ref()
            .and_then(|(c, _)| self.cut_placement(c, &self.pre.domains));
        let mut starts: Vec<Vec<Modality>> = Vec::new();
        for x in [
            self.relaxed_placement(),
            unpolished,
            self.knapsack_placement(),
        ]
        .into_iter()
        .flatten()
        {
            if !starts.contains(&x) {
                starts.push(x);
            }
        }
        starts
    }

    /// [`StageBounds::relaxed_placement`] over a node's domains.
    pub fn relaxed_placement_in(&self, dom: &Domains) -> Option<Vec<Modality>> {
        let (c, _) = self.cut_combined.as_ref().or(self.combined.as_ref())?;
        self.cut_placement(c, dom)
    }

    /// The placement minimising the combination `c` over `dom` by a
    /// minimum cut.
    fn cut_placement(&self, c: &Separable, dom: &Domains) -> Option<Vec<Modality>> {
        let (_, x) = c.cut_solve(self.pre.model, dom, true);
        Some(x?.into_iter().map(|m| Modality::ALL[m]).collect())
    }

    /// The placement reaching the knapsack bound over presolve's domains
    /// (see [`knapsack::Knapsack::placement`]): another start for the
    /// Lagrangian heuristic, one that fills the binding limits.
    pub fn knapsack_placement(&self) -> Option<Vec<Modality>> {
        let x = self
            .knapsack
            .as_ref()?
            .placement(self.pre, &self.pre.domains)?;
        Some(x.into_iter().map(|m| Modality::ALL[m]).collect())
    }

    /// Whether the knapsack bound is evaluated at nodes (tests: that the
    /// branch-and-bound's property covers it).
    #[cfg(test)]
    pub fn knapsack_at_nodes(&self) -> bool {
        self.knapsack_at_nodes
    }

    /// The presolve the bounds are built on.
    pub fn presolve(&self) -> &'p Presolve<'m, 'g> {
        self.pre
    }

    /// The domains the stage starts from (presolve's).
    pub fn root(&self) -> Domains {
        self.pre.domains.clone()
    }

    /// Reduce `dom` against every limit and against "the metric is below
    /// `below`" (`NONE`: no such limit) until nothing changes (at most a
    /// few rounds); `None` when no placement in `dom` can meet them all.
    /// Removes only values no placement meeting them uses.
    pub fn reduce(&self, dom: &mut Domains, below: u64, hint: Hints) -> Option<NodeBound> {
        let mut hint = hint;
        let mut split = None;
        let mut limit_split = None;
        let (model, adj) = (self.pre.model, &self.pre.adj);
        let n = dom.len();
        // The objective's own terms (without the offset) must stay ≤ max_obj.
        let max_obj = if below == NONE {
            NONE - 1
        } else {
            below.checked_sub(1)?.checked_sub(self.offset)?
        };
        let mut with = vec![[NONE; 3]; n];
        let mut lower = 0u64;
        for _round in 0..NODE_ROUNDS {
            let mut removed = false;
            for limit in &self.pre.limits {
                match &limit.kind {
                    LimitKind::Separable(s) => {
                        let f = s.forest(model, adj, dom);
                        if f.lower_bound > limit.max {
                            return None;
                        }
                        removed |= f.remove_above(dom, 0, limit.max);
                    }
                    LimitKind::PathSum(shapes) => {
                        let bounds: Vec<PathBounds> = shapes
                            .iter()
                            .map(|s| PathBounds::new(model, adj, dom, s))
                            .collect();
                        let total = bounds
                            .iter()
                            .map(|b| b.lower_bound)
                            .fold(0, u64::saturating_add);
                        if total > limit.max {
                            return None;
                        }
                        for (t, d) in dom.iter_mut().enumerate() {
                            for (m, allowed) in d.iter_mut().enumerate() {
                                if *allowed
                                    && bounds
                                        .iter()
                                        .map(|b| b.through(t, m))
                                        .fold(0, u64::saturating_add)
                                        > limit.max
                                {
                                    *allowed = false;
                                    removed = true;
                                }
                            }
                        }
                    }
                    LimitKind::TaskValue(task, v) => {
                        for m in 0..3 {
                            if dom[*task][m] && v[m] > limit.max {
                                dom[*task][m] = false;
                                removed = true;
                            }
                        }
                    }
                }
                if dom.iter().any(|d| !d.contains(&true)) {
                    return None;
                }
            }
            // The objective: its own bound, its relaxation's and the
            // Lagrangian combination's, the largest of them per value.
            for w in with.iter_mut() {
                *w = [0; 3];
            }
            lower = 0;
            let mut raise = |lb: u64, at: &dyn Fn(usize, usize) -> u64| {
                lower = lower.max(lb);
                for (t, w) in with.iter_mut().enumerate() {
                    for (m, v) in w.iter_mut().enumerate() {
                        *v = (*v).max(at(t, m));
                    }
                }
            };
            match &self.objective {
                LimitKind::Separable(_) => {}
                LimitKind::PathSum(shapes) => {
                    let bounds: Vec<PathBounds> = shapes
                        .iter()
                        .map(|s| PathBounds::new(model, adj, dom, s))
                        .collect();
                    let total = bounds
                        .iter()
                        .map(|b| b.lower_bound)
                        .fold(0, u64::saturating_add);
                    raise(total, &|t, m| {
                        bounds
                            .iter()
                            .map(|b| b.through(t, m))
                            .fold(0, u64::saturating_add)
                    });
                }
                LimitKind::TaskValue(task, v) => {
                    let least = (0..3).filter(|&m| dom[*task][m]).map(|m| v[m]).min();
                    raise(least.unwrap_or(NONE), &|t, m| {
                        if t == *task {
                            v[m]
                        } else {
                            0
                        }
                    });
                }
            }
            if let Some(a) = &self.relaxed {
                let f = a.forest(model, adj, dom);
                raise(f.lower_bound, &|t, m| f.lower_bound_if(t, m));
            }
            if let Some((c, rhs)) = &self.combined {
                let f = c.forest(model, adj, dom);
                let rhs = *rhs;
                raise(f.lower_bound.saturating_sub(rhs), &|t, m| {
                    let v = f.lower_bound_if(t, m);
                    if v == NONE {
                        NONE
                    } else {
                        v.saturating_sub(rhs)
                    }
                });
            }
            if let Some((c, rhs)) = &self.cut_combined {
                let cut = c.cut_bound(model, dom);
                if cut == NONE {
                    return None;
                }
                lower = lower.max(cut.saturating_sub(*rhs));
            }
            if let Some(d) = &self.node_dual {
                if let Some(at) = d.improve(self.pre, dom, hint[0]) {
                    if at.lower == NONE {
                        return None;
                    }
                    lower = lower.max(at.lower);
                    hint[0] = at.p;
                    removed |= d.fix(self.pre, dom, &at.p, max_obj)?;
                    split = at.split;
                }
            }
            for (k, (i, d)) in self.limit_duals.iter().enumerate() {
                if let Some(at) = d.improve(self.pre, dom, hint[k + 1]) {
                    if at.lower > self.pre.limits[*i].max {
                        return None;
                    }
                    hint[k + 1] = at.p;
                    removed |= d.fix(self.pre, dom, &at.p, self.pre.limits[*i].max)?;
                    // An earlier stage's optimum first: the placements
                    // reaching it are what this stage searches.
                    if at.split.is_some() {
                        limit_split = limit_split.or(at.split);
                    }
                }
            }
            if let (Some(k), true) = (&self.knapsack, self.knapsack_at_nodes) {
                let b = k.bound(self.pre, dom);
                if b == NONE {
                    return None;
                }
                lower = lower.max(b);
            }
            for (i, k) in &self.limit_knapsacks {
                if k.bound(self.pre, dom) > self.pre.limits[*i].max {
                    return None;
                }
            }
            if lower > max_obj {
                return None;
            }
            for (t, d) in dom.iter_mut().enumerate() {
                for m in 0..3 {
                    if !d[m] {
                        with[t][m] = NONE;
                    } else if with[t][m] > max_obj {
                        d[m] = false;
                        with[t][m] = NONE;
                        removed = true;
                    }
                }
                if !d.contains(&true) {
                    return None;
                }
            }
            if !removed {
                break;
            }
        }
        Some(NodeBound {
            lower: lower.saturating_add(self.offset),
            with: with
                .into_iter()
                .map(|w| {
                    w.map(|v| {
                        if v == NONE {
                            NONE
                        } else {
                            v.saturating_add(self.offset)
                        }
                    })
                })
                .collect(),
            hint,
            // The knapsack bounds' plateaus are others: their nodes
            // branch by regret.
            split: (!self.knapsack_at_nodes && self.limit_knapsacks.is_empty())
                .then(|| limit_split.or(split))
                .flatten(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hivemind_cost::Profile;
    use hivemind_dsl::synthetic::random_mission;

    const METRICS: [Metric; 6] = [
        Metric::Objective(Objective::Latency),
        Metric::Objective(Objective::Energy),
        Metric::Objective(Objective::Cost),
        Metric::Objective(Objective::Bytes),
        Metric::Objective(Objective::ExecTime),
        Metric::FpgaCount,
    ];

    fn value(model: &CostModel, a: &[Modality], metric: Metric) -> u64 {
        match metric {
            Metric::Objective(o) => model.evaluate(a).objective(o),
            Metric::FpgaCount => hivemind_cost::fpga_tasks(a),
        }
        .saturated()
    }

    fn within(dom: &Domains, a: &[Modality]) -> bool {
        a.iter().zip(dom).all(|(&m, d)| d[modality_index(m)])
    }

    /// Every placement the pins allow.
    fn all_placements(dom: &Domains) -> Vec<Vec<Modality>> {
        let mut out = vec![Vec::new()];
        for d in dom {
            out = out
                .into_iter()
                .flat_map(|prefix| {
                    Modality::ALL
                        .into_iter()
                        .filter(|&m| d[modality_index(m)])
                        .map(move |m| {
                            let mut p = prefix.clone();
                            p.push(m);
                            p
                        })
                })
                .collect();
        }
        out
    }

    /// The bounds are sound: every metric's lower bound is at most its value
    /// at every feasible placement; presolve keeps every feasible placement,
    /// also after bounding one or all metrics by that placement's own values;
    /// and so it calls a mission infeasible only when no placement is feasible.
    /// `random_mission`, its latency bounds divided by 2–9 (by seed) on
    /// two seeds in three, so that paths bind and path chains get added.
    fn tight_mission(seed: u64, n: usize) -> String {
        if seed % 3 == 1 {
            // Layered graphs: several chains per path.
            let family = [crate::bench::Family::Latency, crate::bench::Family::Battery]
                [(seed / 3 % 2) as usize];
            if let Ok(src) = crate::bench::mission(family, n.max(4), seed) {
                return src;
            }
        }
        let src = random_mission(seed, n);
        if seed.is_multiple_of(3) {
            return src;
        }
        src.lines()
            .map(
                |l| match (l.contains("require latency"), l.rsplit_once("< ")) {
                    (true, Some((head, tail))) => {
                        let ms: u64 = tail.trim_end_matches(" ms").parse().unwrap_or(1_000);
                        format!("{head}< {} ms", (ms / (2 + seed % 8)).max(1))
                    }
                    _ => l.to_string(),
                },
            )
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    }

    fn check(seed: u64, n: usize) {
        let src = tight_mission(seed, n);
        let graph = hivemind_dsl::compile(&src, "r.hm").graph.expect("compiles");
        let model = CostModel::new(&graph, Profile::default()).expect("model");
        let pre = Presolve::new(&model);
        let bounds = METRICS.map(|m| pre.lower_bound(m));
        let feasible: Vec<Vec<Modality>> = all_placements(&pre.initial)
            .into_iter()
            .filter(|a| model.evaluate(a).feasible())
            .collect();
        // Path-chain cutting planes keep every feasible placement and
        // every bound below it.
        let far = std::time::Instant::now() + std::time::Duration::from_secs(3_600);
        for metric in METRICS {
            let mut chained = Presolve::new(&model);
            chained.add_chains(metric, 8, far);
            chained.mix_path_chains(metric, 8, far);
            let lb = chained.lower_bound(metric);
            for a in &feasible {
                assert!(
                    !chained.infeasible && within(&chained.domains, a),
                    "seed {seed}: path chains for {metric:?} removed feasible {a:?}\n{src}"
                );
                assert!(
                    lb <= value(&model, a, metric),
                    "seed {seed}: {metric:?} bound {lb} with path chains above {a:?}\n{src}"
                );
            }
        }
        // Reducing against a placement's own values is costlier: a sample.
        let step = feasible.len().div_ceil(6).max(1);
        for (i, a) in feasible.iter().enumerate() {
            assert!(
                !pre.infeasible && within(&pre.domains, a),
                "seed {seed}: presolve removed feasible {a:?}\n{src}"
            );
            // Lower bounds hold for every placement that meets the limits
            // (Lagrangian bounds assume them).
            for (metric, &lb) in METRICS.iter().zip(&bounds) {
                assert!(
                    lb <= value(&model, a, *metric),
                    "seed {seed}: {metric:?} bound {lb} above {a:?}\n{src}"
                );
            }
            if i % step != 0 {
                continue;
            }
            for metric in METRICS {
                let mut bounded = Presolve::new(&model);
                bounded.bound(metric, value(&model, a, metric));
                assert!(
                    !bounded.infeasible && within(&bounded.domains, a),
                    "seed {seed}: bounding {metric:?} removed feasible {a:?}\n{src}"
                );
                for chained_for in METRICS {
                    let mut chained = bounded.clone();
                    chained.add_chains(chained_for, 8, far);
                    chained.mix_path_chains(chained_for, 8, far);
                    assert!(
                        !chained.infeasible && within(&chained.domains, a),
                        "seed {seed}: path chains for {chained_for:?} after bounding {metric:?} removed feasible {a:?}\n{src}"
                    );
                }
            }
            // Every objective bounded at once (as after all stages):
            // Lagrangian pairs of objective limits keep it too.
            let mut all = Presolve::new(&model);
            for metric in METRICS {
                all.bound(metric, value(&model, a, metric));
            }
            assert!(
                !all.infeasible && within(&all.domains, a),
                "seed {seed}: bounding every objective removed feasible {a:?}\n{src}"
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 256,
            failure_persistence: None,
            ..Default::default()
        })]
        #[test]
        fn bounds_are_sound_on_random_missions(seed in proptest::prelude::any::<u64>(), n in 2usize..=7) {
            check(seed, n);
        }
    }

    /// The value of a separable metric at a full placement (modality indices).
    fn separable_at(model: &CostModel, s: &Separable, a: &[usize]) -> u128 {
        let unary: u128 = s.unary.iter().zip(a).map(|(u, &m)| u128::from(u[m])).sum();
        let pairwise: u128 = s
            .pairwise
            .iter()
            .zip(&model.graph.edges)
            .map(|(pw, e)| u128::from(pw[a[e.from.index()]][a[e.to.index()]]))
            .sum();
        u128::from(s.constant) + unary + pairwise
    }

    /// The cut bound of every separable limit and objective (and of their
    /// joint Lagrangian combination) is at most the exact minimum over the
    /// domains, on random missions and random sub-domains; it is above the
    /// forest bound on some of them (not vacuous). The seed is in every
    /// failure message.
    #[test]
    fn cut_bound_is_below_the_exhaustive_minimum() {
        let mut above_forest = 0;
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        for seed in 0..400u64 {
            let src = random_mission(seed, 2 + (seed % 7) as usize);
            let graph = hivemind_dsl::compile(&src, "r.hm").graph.expect("compiles");
            let model = CostModel::new(&graph, Profile::default()).expect("model");
            let pre = Presolve::with(&model, &{
                let mut a = Active::all(&model);
                a.requirements.fill(false);
                a
            });
            let mut metrics: Vec<Separable> = pre
                .limits
                .iter()
                .filter_map(|l| match &l.kind {
                    LimitKind::Separable(s) => Some(s.clone()),
                    _ => None,
                })
                .collect();
            for o in [Objective::Energy, Objective::Cost, Objective::Bytes] {
                let a = pre.separable(Metric::Objective(o));
                if let Some((ps, _)) = pre.joint_multipliers(&a) {
                    let mut c = a.clone();
                    for (l, &p) in pre.limits.iter().zip(&ps) {
                        if let (LimitKind::Separable(b), true) = (&l.kind, p > 0) {
                            c = c.combined(b, p);
                        }
                    }
                    metrics.push(c);
                }
                metrics.push(a);
            }
            for round in 0..3 {
                let mut dom = pre.initial.clone();
                if round > 0 {
                    for d in dom.iter_mut() {
                        for v in d.iter_mut() {
                            state ^= state << 13;
                            state ^= state >> 7;
                            state ^= state << 17;
                            if state.is_multiple_of(4) {
                                *v = false;
                            }
                        }
                    }
                }
                let placements = all_placements(&dom);
                for s in &metrics {
                    let exact = placements
                        .iter()
                        .map(|a| {
                            let idx: Vec<usize> = a.iter().map(|&m| modality_index(m)).collect();
                            separable_at(&model, s, &idx)
                        })
                        .min();
                    let cut = s.cut_bound(&model, &dom);
                    match exact {
                        None => {
                            assert_eq!(cut, NONE, "seed {seed} round {round}: no placement\n{src}")
                        }
                        Some(exact) => {
                            assert!(
                                u128::from(cut) <= exact || cut == NONE && exact >= u128::from(NONE),
                                "seed {seed} round {round}: cut bound {cut} above the minimum {exact}\n{src}"
                            );
                            let forest = s.forest(&model, &pre.adj, &dom).lower_bound;
                            above_forest += usize::from(cut > forest);
                        }
                    }
                }
            }
        }
        eprintln!("cut bound above the forest's: {above_forest}");
        assert!(
            above_forest >= 10,
            "cut bound above the forest's on {above_forest}"
        );
    }

    /// A metric's value at a full placement (modality indices).
    type ValueAt<'a> = Box<dyn Fn(&[usize]) -> u128 + 'a>;

    /// The knapsack bound (`bounds/knapsack.rs`) is sound: for every
    /// metric's separable relaxation and for every separable limit, with
    /// the joint Lagrangian's multipliers and with random ones, fine and
    /// coarse rounding, over presolve's domains and random sub-domains, it
    /// is at most the metric's value at every feasible placement in the
    /// domains (`NONE` only when there is none). Family missions of 4–8
    /// tasks, whose budget, CPU and reserve bind, and random missions; it
    /// beats both the forest and the cut bound on some (not vacuous). The
    /// seed is in every failure message.
    /// Random numbers for the soundness tests (xorshift).
    fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    /// Calls `each(seed, src, presolve, feasible, bounded, value_at)` for
    /// family missions of 4–8 tasks (budget, CPU, battery, latency: their
    /// limits bind) and random tight missions, with every metric's
    /// separable relaxation and every separable limit as what is bounded;
    /// `feasible` are the mission's feasible placements in presolve's
    /// domains (modality indices).
    fn for_each_family_case(
        mut each: impl FnMut(u64, &str, &Presolve, &[Vec<usize>], &Separable, &ValueAt),
    ) {
        use crate::bench::Family;
        for seed in 0..96u64 {
            let n = 4 + (seed % 5) as usize;
            let family = [
                Family::Budget,
                Family::Cpu,
                Family::Battery,
                Family::Latency,
            ];
            let src = match seed % 5 {
                4 => tight_mission(seed, n),
                k => crate::bench::mission(family[k as usize], n, seed)
                    .unwrap_or_else(|_| tight_mission(seed, n)),
            };
            let graph = hivemind_dsl::compile(&src, "k.hm").graph.expect("compiles");
            let model = CostModel::new(&graph, Profile::default()).expect("model");
            let pre = Presolve::new(&model);
            if pre.infeasible {
                continue;
            }
            let feasible: Vec<Vec<usize>> = all_placements(&pre.domains)
                .into_iter()
                .filter(|a| model.evaluate(a).feasible())
                .map(|a| a.iter().map(|&m| modality_index(m)).collect())
                .collect();
            // (what is bounded, its value at a placement)
            let mut cases: Vec<(Separable, ValueAt)> = Vec::new();
            for metric in METRICS {
                let (kind, offset) = pre.limit_kind(metric);
                let a = match &kind {
                    LimitKind::Separable(a) => Some(a.clone()),
                    _ => pre.path_relaxation(metric),
                };
                let Some(a) = a else { continue };
                let model = &model;
                cases.push((
                    a,
                    Box::new(move |x: &[usize]| {
                        let placement: Vec<Modality> =
                            x.iter().map(|&m| Modality::ALL[m]).collect();
                        u128::from(value(model, &placement, metric).saturating_sub(offset))
                    }),
                ));
            }
            for l in &pre.limits {
                if let LimitKind::Separable(b) = &l.kind {
                    let (b, model) = (b.clone(), &model);
                    let s = b.clone();
                    cases.push((b, Box::new(move |x: &[usize]| separable_at(model, &s, x))));
                }
            }
            for (a, value_at) in &cases {
                each(seed, &src, &pre, &feasible, a, value_at);
            }
        }
    }

    /// `dom` with about a quarter of its values removed at random.
    fn thinned(dom: &Domains, rand: &mut impl FnMut() -> u64) -> Domains {
        let mut dom = dom.clone();
        for v in dom.iter_mut().flatten() {
            if rand().is_multiple_of(4) {
                *v = false;
            }
        }
        dom
    }

    /// The knapsack bound (`bounds/knapsack.rs`) is sound: for every
    /// metric's separable relaxation and for every separable limit, with
    /// the joint Lagrangian's multipliers and with random ones, fine and
    /// coarse rounding, over presolve's domains and random sub-domains, it
    /// is at most the metric's value at every feasible placement in the
    /// domains (`NONE` only when there is none). Family missions of 4–8
    /// tasks, whose budget, CPU and reserve bind, and random missions; it
    /// beats both the forest and the cut bound on some (not vacuous). The
    /// seed is in every failure message.
    #[test]
    fn knapsack_bound_is_below_every_feasible_placement() {
        let (mut checked, mut stronger) = (0usize, 0usize);
        let mut rand = xorshift(0x9E37_79B9_7F4A_7C15);
        for_each_family_case(|seed, src, pre, feasible, a, value_at| {
            let model = pre.model;
            let joint = pre.joint_multipliers(a).map(|(ps, _)| ps);
            let random: Vec<u64> = pre.limits.iter().map(|_| rand() % (1 << 24)).collect();
            for (ps, cells) in [
                (joint, 1 << 20),
                (Some(random), 64 + (seed as usize % 3) * 1000),
            ] {
                let Some(ps) = ps else { continue };
                let Some((_, k)) = knapsack::Knapsack::with_cells(pre, a, &ps, cells) else {
                    continue;
                };
                for round in 0..3 {
                    let dom = if round > 0 {
                        thinned(&pre.domains, &mut rand)
                    } else {
                        pre.domains.clone()
                    };
                    let bound = k.bound(pre, &dom);
                    let inside: Vec<&Vec<usize>> = feasible
                        .iter()
                        .filter(|x| x.iter().zip(&dom).all(|(&m, d)| d[m]))
                        .collect();
                    for x in &inside {
                        checked += 1;
                        assert!(
                            u128::from(bound) <= value_at(x),
                            "seed {seed} round {round} cells {cells}: knapsack bound {bound} above {} at {x:?}\n{src}",
                            value_at(x)
                        );
                    }
                    if !inside.is_empty() {
                        let forest = a.forest(model, &pre.adj, &dom).lower_bound;
                        let cut = a.cut_bound(model, &dom);
                        stronger += usize::from(bound > forest.max(cut));
                    }
                }
            }
        });
        eprintln!(
            "knapsack bound: {checked} placements checked, above forest and cut {stronger} times"
        );
        assert!(
            checked >= 1_000 && stronger >= 10,
            "{checked} checked, {stronger} stronger"
        );
    }

    /// The node dual ([`NodeDual`]) is sound: from the joint multipliers
    /// and from random ones, with random hints, over presolve's domains and
    /// random sub-domains, its bound is at most the metric's value at every
    /// feasible placement in the domains (`NONE` only when there is no
    /// placement), and its reduced-cost fixing keeps every feasible
    /// placement whose value is within the level fixed against (the least
    /// such value, the tightest level that keeps one). Its search beats the
    /// bound at the starting multipliers on some (not vacuous).
    #[test]
    fn node_dual_bound_and_fixing_are_sound() {
        let (mut checked, mut raised, mut fixed) = (0usize, 0usize, 0usize);
        let mut rand = xorshift(0xD1B5_4A32_D192_ED03);
        for_each_family_case(|seed, src, pre, feasible, a, value_at| {
            let joint = pre.joint_multipliers(a).map(|(ps, _)| ps);
            let random: Vec<u64> = pre.limits.iter().map(|_| rand() % (1 << 24)).collect();
            for ps in [joint, Some(random)].into_iter().flatten() {
                let Some(d) = NodeDual::new(pre, a, &ps) else {
                    continue;
                };
                for round in 0..4 {
                    let dom = if round > 0 {
                        thinned(&pre.domains, &mut rand)
                    } else {
                        pre.domains.clone()
                    };
                    let hint = std::array::from_fn(|_| {
                        if round % 2 == 0 {
                            0
                        } else {
                            rand() % (1 << 26)
                        }
                    });
                    let inside: Vec<&Vec<usize>> = feasible
                        .iter()
                        .filter(|x| x.iter().zip(&dom).all(|(&m, d)| d[m]))
                        .collect();
                    let Some(at) = d.improve(pre, &dom, hint) else {
                        continue;
                    };
                    for x in &inside {
                        checked += 1;
                        assert!(
                            u128::from(at.lower) <= value_at(x),
                            "seed {seed} round {round} hint {hint:?}: node dual bound {} above {} at {x:?}\n{src}",
                            at.lower,
                            value_at(x)
                        );
                    }
                    let start = d.eval(pre, &dom, &{
                        let mut p = hint;
                        for (k, c) in d.coords.iter().enumerate() {
                            if p[k] == 0 {
                                p[k] = c.p_root;
                            }
                            p[k] = p[k].min(c.p_max);
                        }
                        p
                    });
                    if let (Some((s, _, _)), false) = (start, inside.is_empty()) {
                        raised += usize::from(i128::from(at.lower) > s);
                    }
                    // Fixing against the least feasible value keeps the
                    // placements reaching it.
                    let Some(least) = inside.iter().map(|x| value_at(x)).min() else {
                        continue;
                    };
                    let Ok(below) = u64::try_from(least) else {
                        continue;
                    };
                    let mut kept = dom.clone();
                    let outcome = d.fix(pre, &mut kept, &at.p, below);
                    assert!(
                        outcome.is_some(),
                        "seed {seed} round {round}: fixing at {below} emptied a node with a placement of that value\n{src}"
                    );
                    fixed += usize::from(outcome == Some(true));
                    for x in inside.iter().filter(|x| value_at(x) <= least) {
                        assert!(
                            x.iter().zip(&kept).all(|(&m, d)| d[m]),
                            "seed {seed} round {round}: fixing at {below} removed {x:?}\n{src}"
                        );
                    }
                }
            }
        });
        eprintln!(
            "node dual: {checked} placements checked, search raised the bound {raised} times, fixing removed values {fixed} times"
        );
        assert!(
            checked >= 1_000 && raised >= 10,
            "{checked} checked, {raised} raised, {fixed} fixed"
        );
    }

    /// Multipliers polished by subgradient ascent
    /// ([`Presolve::polish_multipliers`]) give a sound bound: from the
    /// joint multipliers and from random ones, towards the optimum and
    /// with no target, the bound it returns is at most the metric's value
    /// at every feasible placement, and it is never below the start's. It
    /// raises the bound on some (not vacuous).
    #[test]
    fn polished_multipliers_give_a_sound_bound() {
        let (mut checked, mut raised) = (0usize, 0usize);
        let mut rand = xorshift(0x94D0_49BB_1331_11EB);
        for_each_family_case(|seed, src, pre, feasible, a, value_at| {
            let optimum = feasible.iter().map(|x| value_at(x)).min();
            let joint = pre.joint_multipliers(a).map(|(ps, _)| ps);
            let random: Vec<u64> = pre.limits.iter().map(|_| rand() % (1 << 24)).collect();
            for ps in [joint, Some(random)].into_iter().flatten() {
                let start = {
                    let (c, rhs) = pre.priced(a, &ps, |_| false);
                    if c.largest_total() >= u128::from(NONE) {
                        // Saturated: no bound to polish (it returns 0).
                        continue;
                    }
                    match c.cut_bound(pre.model, &pre.domains) {
                        NONE => continue,
                        lb => lb.saturating_sub(rhs),
                    }
                };
                let target = optimum.map(|o| u64::try_from(o).unwrap_or(NONE));
                for target in [target, None] {
                    let (_, bound) = pre.polish_multipliers(a, &ps, target, 40);
                    assert!(
                        bound >= start,
                        "seed {seed}: polished {bound} below the start's {start}\n{src}"
                    );
                    raised += usize::from(bound > start);
                    for x in feasible {
                        checked += 1;
                        assert!(
                            u128::from(bound) <= value_at(x),
                            "seed {seed} target {target:?}: polished bound {bound} above {} at {x:?}\n{src}",
                            value_at(x)
                        );
                    }
                }
            }
        });
        eprintln!("polished multipliers: {checked} placements checked, raised {raised} times");
        assert!(
            checked >= 1_000 && raised >= 10,
            "{checked} checked, {raised} raised"
        );
    }

    /// Path chains are not vacuous: on generated missions the relaxation's
    /// placement often breaks a latency requirement, and the chains added
    /// then remove values or raise a bound.
    #[test]
    fn path_chains_cut_on_random_missions() {
        let far = std::time::Instant::now() + std::time::Duration::from_secs(3_600);
        let (mut added, mut stronger) = (0, 0);
        for seed in 0..300u64 {
            // Every third: a layered family mission of 40 tasks.
            let n = if seed % 3 == 1 {
                40
            } else {
                3 + (seed % 6) as usize
            };
            let src = tight_mission(seed, n);
            let graph = hivemind_dsl::compile(&src, "r.hm").graph.expect("compiles");
            let model = CostModel::new(&graph, Profile::default()).expect("model");
            let pre = Presolve::new(&model);
            if pre.infeasible {
                continue;
            }
            let metric = Metric::Objective(model.objectives[0]);
            let mut chained = pre.clone();
            if chained.add_chains(metric, 8, far) > 0 {
                added += 1;
                stronger += usize::from(
                    chained.infeasible
                        || chained.removed().len() > pre.removed().len()
                        || chained.lower_bound(metric) > pre.lower_bound(metric),
                );
            }
        }
        eprintln!("path chains: added on {added}, stronger on {stronger} of 300");
        assert!(
            added >= 10 && stronger >= 3,
            "added {added}, stronger {stronger}"
        );
    }

    /// Path chains on layered family missions (where chains do get added,
    /// too large to enumerate): every chain added is at most the path
    /// limit it came from at random placements (what makes it sound), and
    /// the greedy plan, when feasible, is kept with every bound below it.
    #[test]
    fn path_chains_are_sound_on_layered_missions() {
        let far = std::time::Instant::now() + std::time::Duration::from_secs(3_600);
        let (mut added, mut mixes) = (0, 0);
        let mut state = 0x0123_4567_89AB_CDEFu64;
        for seed in 0..12u64 {
            let family =
                [crate::bench::Family::Latency, crate::bench::Family::Battery][(seed % 2) as usize];
            let Ok(src) = crate::bench::mission(family, 40, seed) else {
                continue;
            };
            let graph = hivemind_dsl::compile(&src, "r.hm").graph.expect("compiles");
            let model = CostModel::new(&graph, Profile::default()).expect("model");
            let pre = Presolve::new(&model);
            let greedy = crate::search::greedy(&model).filter(|(_, e)| e.feasible());
            for metric in METRICS {
                let mut chained = pre.clone();
                added += chained.add_chains(metric, 8, far);
                let mixed = chained.mix_path_chains(metric, 8, far);
                mixes += mixed;
                let paths: Vec<&Limit> = chained
                    .limits
                    .iter()
                    .filter(|l| !l.relaxation && matches!(l.kind, LimitKind::PathSum(_)))
                    .collect();
                let samples: Vec<Vec<usize>> = (0..50)
                    .map(|_| {
                        chained
                            .initial
                            .iter()
                            .map(|d| {
                                state ^= state << 13;
                                state ^= state >> 7;
                                state ^= state << 17;
                                let allowed: Vec<usize> = (0..3).filter(|&m| d[m]).collect();
                                allowed[(state % allowed.len() as u64) as usize]
                            })
                            .collect()
                    })
                    .collect();
                let path_value = |l: &Limit, x: &[usize]| -> u128 {
                    let LimitKind::PathSum(shapes) = &l.kind else {
                        return 0;
                    };
                    let single: Domains =
                        x.iter().map(|&m| std::array::from_fn(|k| k == m)).collect();
                    shapes
                        .iter()
                        .map(|sh| {
                            u128::from(
                                PathBounds::new(&model, &chained.adj, &single, sh).lower_bound,
                            )
                        })
                        .sum()
                };
                // The path objective's relaxation, chains mixed in, stays
                // at most the objective.
                if let Some(rel) = chained.path_relaxation(metric) {
                    for x in &samples {
                        let a: Vec<Modality> = x.iter().map(|&m| Modality::ALL[m]).collect();
                        assert!(
                            separable_value(&model, &rel, x) <= u128::from(value(&model, &a, metric)),
                            "seed {seed}: {metric:?} relaxation ({mixed} chains mixed) above the objective at {a:?}\n{src}"
                        );
                    }
                }
                for chain in chained.limits.iter().skip(pre.limits.len()) {
                    let LimitKind::Separable(c) = &chain.kind else {
                        panic!("seed {seed}: a path chain that is not separable");
                    };
                    assert!(
                        paths.iter().any(|l| l.max == chain.max
                            && samples
                                .iter()
                                .all(|x| separable_at(&model, c, x) <= path_value(l, x))),
                        "seed {seed}: a {metric:?} path chain exceeds its path somewhere\n{src}"
                    );
                }
                if let Some((a, _)) = &greedy {
                    assert!(
                        !chained.infeasible && within(&chained.domains, a),
                        "seed {seed}: path chains for {metric:?} removed greedy's {a:?}\n{src}"
                    );
                    let lb = chained.lower_bound(metric);
                    assert!(
                        lb <= value(&model, a, metric),
                        "seed {seed}: {metric:?} bound {lb} with path chains above greedy's\n{src}"
                    );
                }
            }
        }
        eprintln!("path chains on layered missions: {added} added, {mixes} mixed");
        assert!(
            added >= 5 && mixes >= 2,
            "path chains added {added}, mixed {mixes}"
        );
    }

    /// The bounds are not vacuous: on generated missions they often decide
    /// infeasibility alone and remove values.
    #[test]
    fn presolve_prunes_on_random_missions() {
        let (mut infeasible, mut pruned) = (0, 0);
        for seed in 0..300u64 {
            let src = random_mission(seed, 2 + (seed % 6) as usize);
            let graph = hivemind_dsl::compile(&src, "r.hm").graph.expect("compiles");
            let model = CostModel::new(&graph, Profile::default()).expect("model");
            let pre = Presolve::new(&model);
            infeasible += usize::from(pre.infeasible);
            pruned += usize::from(!pre.infeasible && !pre.removed().is_empty());
        }
        eprintln!("presolve: {infeasible} infeasible, {pruned} pruned of 300");
        assert!(
            infeasible >= 20 && pruned >= 20,
            "infeasible {infeasible}, pruned {pruned}"
        );
    }
}
