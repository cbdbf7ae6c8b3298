//! A knapsack relaxation of one stage, exact in the limits a Lagrangian
//! bound only prices.
//!
//! The Lagrangian combination `A + Σ λᵢ·Bᵢ` is the linear-programming
//! bound of a knapsack at best: on the generated families a task's cloud
//! cost and its edge CPU time both grow with its work, so the
//! cost-per-CPU ratios are nearly equal (a strongly correlated knapsack),
//! the relaxation fills a budget or a fleet's CPU with a fraction of a
//! task, and fixing tasks at their relaxed values in a branch-and-bound
//! leaves the bound where it was (a plateau of millions of nodes). Here a
//! few of those limits, chosen with disjoint sets of tasks, are kept as
//! constraints and solved exactly by dynamic programming over their
//! capacity, each task picking one modality (a multiple-choice knapsack),
//! while the other limits stay priced by their multipliers.
//!
//! Sound by construction, every step towards a lower bound:
//! * pairwise terms (of the priced objective and of a limit's weights) are
//!   charged to the consumer at the producer's cheapest modality in the
//!   domains, which lowers them;
//! * weights are counted in units of `q`, rounded down, and the capacity
//!   too (`Σ⌊w/q⌋ ≤ ⌊Σw/q⌋ ≤ ⌊max/q⌋`), so every placement meeting the
//!   limit meets the rounded one;
//! * a task whose modality is fixed in the domains, or whose weight does not
//!   depend on it, takes its exact (lowered) weight off the capacity before
//!   rounding, which keeps the rounding error to the tasks still free.

use super::{Domains, LimitKind, Presolve, Separable, NONE};

/// Dynamic-programming cells per group (free tasks × capacity units): a
/// finer unit (a smaller rounding error) costs time at every node.
const CELLS: usize = 1 << 20;

/// A task still free in a group's knapsack: its index, its least value,
/// and per allowed modality (modality, weight in units, value above the
/// least).
type Free = (usize, i128, Vec<(usize, usize, u64)>);

/// One limit kept as a constraint.
struct Group {
    weight: Separable,
    max: u64,
    /// The tasks whose weight depends on their modality (the root's
    /// domains): the knapsack's items.
    items: Vec<usize>,
    /// The capacity unit.
    q: u64,
}

/// The relaxation of one stage: `value` (the objective with the other
/// limits priced, `rhs` their price) minimised with the groups' limits met.
pub(crate) struct Knapsack {
    value: Separable,
    rhs: u64,
    groups: Vec<Group>,
}

/// Per task and modality: the unary term plus every in-edge's term at
/// the producer's cheapest modality in `dom` (`NONE` outside `dom`).
fn charged(pre: &Presolve, s: &Separable, dom: &Domains) -> Vec<[u64; 3]> {
    let g = pre.model.graph;
    (0..dom.len())
        .map(|t| {
            std::array::from_fn(|m| {
                if !dom[t][m] {
                    return NONE;
                }
                pre.adj.into[t]
                    .iter()
                    .filter_map(|&k| {
                        let pw = s.pairwise.get(k)?;
                        let p = g.edges[k].from.index();
                        (0..3).filter(|&a| dom[p][a]).map(|a| pw[a][m]).min()
                    })
                    .fold(s.unary[t][m], u64::saturating_add)
            })
        })
        .collect()
}

impl Knapsack {
    /// The relaxation for objective `a` under presolve's limits, with the
    /// multipliers `ps` (one per limit, `λ = p / 2²⁰`) for the limits
    /// priced; the limits kept are chosen among those the multipliers
    /// price (they bind), the heaviest first, tasks disjoint, and of the
    /// few choices tried the one with the best bound at the root is kept,
    /// with that bound. `None` when no limit qualifies.
    pub fn new(pre: &Presolve, a: &Separable, ps: &[u64]) -> Option<(u64, Self)> {
        Self::with_cells(pre, a, ps, CELLS)
    }

    /// [`Knapsack::new`] with `cells` dynamic-programming cells per group
    /// (at most CELLS): a coarser rounding, still a bound (tests).
    pub(super) fn with_cells(
        pre: &Presolve,
        a: &Separable,
        ps: &[u64],
        cells: usize,
    ) -> Option<(u64, Self)> {
        let cells = cells.min(CELLS);
        let dom = &pre.domains;
        let n = dom.len();
        // Candidates: separable limits with a positive multiplier, by
        // λ·max, heaviest first.
        let mut candidates: Vec<(usize, u128)> = pre
            .limits
            .iter()
            .zip(ps)
            .enumerate()
            .filter_map(|(i, (l, &p))| match (&l.kind, l.relaxation, p > 0) {
                (LimitKind::Separable(_), false, true) => {
                    Some((i, u128::from(p) * u128::from(l.max)))
                }
                _ => None,
            })
            .collect();
        candidates.sort_by_key(|&(i, w)| (std::cmp::Reverse(w), i));
        let items_of = |i: usize| -> Vec<usize> {
            let LimitKind::Separable(s) = &pre.limits[i].kind else {
                return Vec::new();
            };
            let w = charged(pre, s, dom);
            (0..n)
                .filter(|&t| {
                    let mut allowed = (0..3).filter(|&m| dom[t][m]).map(|m| w[t][m]);
                    let first = allowed.next();
                    allowed.any(|x| Some(x) != first)
                })
                .collect()
        };
        let items: Vec<Vec<usize>> = candidates.iter().map(|&(i, _)| items_of(i)).collect();
        let mut best: Option<(u64, Knapsack)> = None;
        for start in 0..candidates.len().min(4) {
            let mut taken = vec![false; n];
            let mut chosen: Vec<usize> = Vec::new();
            for c in std::iter::once(start).chain(0..candidates.len()) {
                if chosen.contains(&c) || items[c].is_empty() || items[c].iter().any(|&t| taken[t])
                {
                    continue;
                }
                for &t in &items[c] {
                    taken[t] = true;
                }
                chosen.push(c);
            }
            let Some(k) = Self::with_groups(pre, a, ps, &chosen, &candidates, &items, cells) else {
                continue;
            };
            let b = k.bound(pre, dom);
            tracing::trace!(
                ?chosen,
                limits = ?chosen.iter().map(|&c| candidates[c].0).collect::<Vec<_>>(),
                items = ?chosen.iter().map(|&c| items[c].len()).collect::<Vec<_>>(),
                bound = b,
                "knapsack groups"
            );
            if b != NONE && best.as_ref().is_none_or(|(x, _)| b > *x) {
                best = Some((b, k));
            }
        }
        best
    }

    fn with_groups(
        pre: &Presolve,
        a: &Separable,
        ps: &[u64],
        chosen: &[usize],
        candidates: &[(usize, u128)],
        items: &[Vec<usize>],
        cells: usize,
    ) -> Option<Self> {
        let kept: Vec<usize> = chosen.iter().map(|&c| candidates[c].0).collect();
        let (value, rhs) = pre.priced(a, ps, |i| kept.contains(&i));
        if value.largest_total() >= u128::from(NONE) {
            return None;
        }
        let groups = chosen
            .iter()
            .filter_map(|&c| {
                let i = candidates[c].0;
                let LimitKind::Separable(w) = &pre.limits[i].kind else {
                    return None;
                };
                let max = pre.limits[i].max;
                let cells = (cells / items[c].len().max(1)).max(64);
                // Rounded up: the capacity is at most `cells` units.
                let q = max
                    .div_ceil(u64::try_from(cells).unwrap_or(u64::MAX))
                    .max(1);
                Some(Group {
                    weight: w.clone(),
                    max,
                    items: items[c].clone(),
                    q,
                })
            })
            .collect();
        Some(Knapsack { value, rhs, groups })
    }

    /// A lower bound on the stage's objective (its separable part) over
    /// the placements in `dom` that meet presolve's limits; `NONE` when
    /// none can.
    pub fn bound(&self, pre: &Presolve, dom: &Domains) -> u64 {
        let Some((total, _)) = self.solve(pre, dom, &self.values(pre, dom), false) else {
            return NONE;
        };
        let total = total
            .saturating_add(i128::from(self.value.constant))
            .saturating_sub(i128::from(self.rhs))
            .max(0);
        u64::try_from(total).unwrap_or(NONE - 1).min(NONE - 1)
    }

    /// A placement reaching [`Knapsack::bound`] over `dom` (modality
    /// indices): it meets the kept limits up to the rounding, so it is a
    /// start for a repairing local search (the other limits are priced
    /// only).
    pub fn placement(&self, pre: &Presolve, dom: &Domains) -> Option<Vec<usize>> {
        self.solve(pre, dom, &self.values(pre, dom), true)?.1
    }

    /// The value's terms per task and modality, pairwise terms lowered.
    fn values(&self, pre: &Presolve, dom: &Domains) -> Vec<[Option<i128>; 3]> {
        charged(pre, &self.value, dom)
            .iter()
            .map(|r| r.map(|v| (v != NONE).then_some(i128::from(v))))
            .collect()
    }

    /// The least of `Σ values[t][m]` over the placements in `dom` whose
    /// weights fit every group's capacity (rounded as the module says),
    /// and with `trace` such a placement.
    fn solve(
        &self,
        pre: &Presolve,
        dom: &Domains,
        values: &[[Option<i128>; 3]],
        trace: bool,
    ) -> Option<(i128, Option<Vec<usize>>)> {
        let n = dom.len();
        let least = |t: usize| -> Option<(usize, i128)> {
            (0..3)
                .filter_map(|m| Some((m, values[t][m]?)))
                .min_by_key(|&(m, v)| (v, m))
        };
        let mut in_group = vec![false; n];
        for g in &self.groups {
            for &t in &g.items {
                in_group[t] = true;
            }
        }
        let mut placement = vec![0usize; n];
        let mut total = 0i128;
        for t in (0..n).filter(|&t| !in_group[t]) {
            let (m, v) = least(t)?;
            placement[t] = m;
            total += v;
        }
        let mut f: Vec<u64> = Vec::new();
        let mut choice: Vec<u8> = Vec::new();
        for g in &self.groups {
            let w = charged(pre, &g.weight, dom);
            let mut is_item = vec![false; n];
            for &t in &g.items {
                is_item[t] = true;
            }
            // What the tasks whose weight is settled take off the capacity.
            let mut used = u128::from(g.weight.constant);
            let mut free: Vec<Free> = Vec::new();
            for t in 0..n {
                let allowed = || (0..3).filter(|&m| dom[t][m] && w[t][m] != NONE);
                if !is_item[t] {
                    used += u128::from(allowed().map(|m| w[t][m]).min().unwrap_or(0));
                    continue;
                }
                let options: Vec<usize> = allowed().filter(|&m| values[t][m].is_some()).collect();
                match options.as_slice() {
                    [] => return None,
                    &[m] => {
                        used += u128::from(w[t][m]);
                        total += values[t][m]?;
                        placement[t] = m;
                    }
                    _ => {
                        let lo = options.iter().filter_map(|&m| values[t][m]).min()?;
                        let items = options
                            .iter()
                            .filter_map(|&m| {
                                let units = usize::try_from(w[t][m] / g.q).ok()?;
                                let extra = u64::try_from(values[t][m]? - lo).ok()?;
                                Some((m, units, extra))
                            })
                            .collect();
                        free.push((t, lo, items));
                    }
                }
            }
            let room = u128::from(g.max).checked_sub(used)?;
            let units = usize::try_from(room / u128::from(g.q)).unwrap_or(usize::MAX);
            if units > CELLS {
                // Not reached (`new` keeps `max / q` within CELLS); the
                // free tasks at their least values are a bound still.
                for (t, lo, items) in &free {
                    total += lo;
                    placement[*t] = items.first().map_or(0, |x| x.0);
                }
                continue;
            }
            f.clear();
            f.resize(units + 1, 0);
            if trace {
                choice.clear();
                choice.resize(free.len() * (units + 1), 0);
            }
            for (i, (_, lo, items)) in free.iter().enumerate() {
                total += lo;
                // Downwards, so f[k − w] is still the previous task's.
                for k in (0..=units).rev() {
                    let mut best = NONE;
                    let mut pick = 0u8;
                    for (j, &(_, wu, du)) in items.iter().enumerate() {
                        if wu <= k {
                            let v = f[k - wu];
                            if v != NONE && v.saturating_add(du) < best {
                                best = v.saturating_add(du);
                                pick = u8::try_from(j).unwrap_or(0);
                            }
                        }
                    }
                    f[k] = best;
                    if trace {
                        choice[i * (units + 1) + k] = pick;
                    }
                }
            }
            let v = f[units];
            if v == NONE {
                return None;
            }
            total += i128::from(v);
            if trace {
                let mut k = units;
                for (i, (t, _, items)) in free.iter().enumerate().rev() {
                    let (m, wu, _) = items[usize::from(choice[i * (units + 1) + k])];
                    placement[*t] = m;
                    k -= wu.min(k);
                }
            }
        }
        Some((total, trace.then_some(placement)))
    }
}
