//! Benchmark material: generated missions whose constraints bind (the
//! energy-optimal placement does not meet them), and the naive z3
//! encoding — one `Optimize` call over every constraint and every
//! objective — as the baseline the synthesizer is measured against.
//!
//! Each family starts from [`hivemind_dsl::synthetic::placement_mission`]
//! (layers of about eight tasks, so paths are long), drops its
//! requirements and objectives, and sets its own from the cost model's
//! values at reference placements, so the limits sit where they bind at
//! every size and seed.

use crate::encode::Encoding;
use crate::watchdog::{self, Limits};
use crate::{Stop, SynthError};
use hivemind_cost::{baseline, CostModel, Profile};
use hivemind_ir::plan::Modality;
use hivemind_ir::{Sat, TaskGraph};
use std::fmt::Write as _;
use std::time::{Duration, Instant};
use z3::{Optimize, SatResult};

/// A family of generated missions where some constraint binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// A cloud budget at 70, 80 or 90% (by seed) of the all-cloud cost;
    /// energy, then latency, then cost.
    Budget,
    /// A budget at 85% of the all-cloud cost and a drone battery reserve
    /// that leaves the drones half-way between their all-cloud and
    /// all-edge energy; latency, then energy, then cost.
    Battery,
    /// Latency bounds at 1.2× the energy-greedy plan's latency on paths
    /// into the last tenth of the tasks (the longest chains); cost, then
    /// energy: the cost-free edge placements miss the bounds.
    Latency,
    /// Edge CPU scaled so that the all-edge placement loads every fleet to
    /// 200% (the edge fits half the work); cost, then latency: a knapsack
    /// of cloud cost against edge CPU.
    Cpu,
    /// No budget; the objectives in another order (by seed): cost →
    /// latency → energy, latency → cost → energy, or cost → energy.
    Orders,
}

impl Family {
    pub const ALL: [Family; 5] = [
        Family::Budget,
        Family::Battery,
        Family::Latency,
        Family::Cpu,
        Family::Orders,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Family::Budget => "budget",
            Family::Battery => "battery",
            Family::Latency => "latency",
            Family::Cpu => "cpu",
            Family::Orders => "orders",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FamilyError {
    #[error("the generated {0} mission does not compile: {1}")]
    Compile(&'static str, String),
    #[error(transparent)]
    Profile(#[from] hivemind_cost::ProfileError),
}

fn compile(family: Family, src: &str) -> Result<TaskGraph, FamilyError> {
    let out = hivemind_dsl::compile(src, "family.hm");
    match out.graph {
        Some(g) => Ok(g),
        None => Err(FamilyError::Compile(
            family.name(),
            out.diagnostics
                .first()
                .map_or_else(String::new, |d| d.message.clone()),
        )),
    }
}

/// `placement_mission` without its requirements and objectives.
fn base(tasks: usize, seed: u64) -> (String, Vec<String>) {
    let full = hivemind_dsl::synthetic::placement_mission(tasks, seed);
    let mut body = String::new();
    let mut latency = Vec::new();
    for line in full.lines() {
        let t = line.trim_start();
        if t.starts_with("require latency") {
            latency.push(line.to_string());
        } else if t.starts_with("require") || t.starts_with("minimize") || t == "}" {
            continue;
        } else {
            body.push_str(line);
            body.push('\n');
        }
    }
    (body, latency)
}

fn finish(mut body: String, lines: &[String]) -> String {
    for l in lines {
        body.push_str(l);
        body.push('\n');
    }
    body.push_str("}\n");
    body
}

/// The placement preferring `order`'s modalities (pins respected).
fn uniform(model: &CostModel, order: [Modality; 3]) -> Vec<Modality> {
    baseline(model, order).unwrap_or_else(|| {
        model
            .graph
            .tasks
            .iter()
            .map(|t| {
                model
                    .choices(t.id)
                    .first()
                    .copied()
                    .unwrap_or(Modality::Cloud)
            })
            .collect()
    })
}

const CLOUD_FIRST: [Modality; 3] = [Modality::Cloud, Modality::CloudFpga, Modality::Edge];
const EDGE_FIRST: [Modality; 3] = [Modality::Edge, Modality::Cloud, Modality::CloudFpga];

fn dollars(nusd: u64) -> String {
    format!(
        "${}.{:06}",
        nusd / 1_000_000_000,
        nusd % 1_000_000_000 / 1_000
    )
}

/// Greedy's plan for a mission text: its drone-fleet energy, its
/// requirements' predicted values, and whether it is feasible.
struct Probe {
    feasible: bool,
    drone_energy: u64,
    predicted: Vec<u64>,
}

fn probe(family: Family, src: &str) -> Result<Probe, FamilyError> {
    let g = compile(family, src)?;
    let m = CostModel::new(&g, Profile::default())?;
    let drones = g.fleets.iter().position(|f| f.name == "drones");
    Ok(match crate::search::greedy(&m) {
        Some((_, e)) => Probe {
            feasible: e.feasible(),
            drone_energy: drones.map_or(0, |f| e.fleet_energy_uj[f].saturated()),
            predicted: e
                .requirements
                .iter()
                .map(|r| r.predicted.unwrap_or(0).max(1).unsigned_abs())
                .collect(),
        },
        None => Probe {
            feasible: false,
            drone_energy: 0,
            predicted: Vec::new(),
        },
    })
}

/// How many times a family's limits are loosened (by 5% of their room or
/// of the all-cloud cost; the battery family's budget by 2% and its
/// reserve by a tenth of its room) until the greedy plan meets every
/// requirement.
const LOOSENINGS: u64 = 8;

/// The mission text of `family` at `tasks` tasks and `seed`. Each family
/// sets its binding limit from reference placements, then loosens it in
/// steps until the greedy plan is feasible, so every instance has a plan
/// (the benchmark measures optimality gaps, not infeasibility proofs).
pub fn mission(family: Family, tasks: usize, seed: u64) -> Result<String, FamilyError> {
    let (body, base_latency) = base(tasks, seed);
    let loose_budget = format!("  require cloud_cost < ${} per hour", 5 + tasks / 10);
    // Reference values come from the mission with only loose limits.
    let reference = finish(
        body.clone(),
        &[loose_budget.clone(), "  minimize energy".into()],
    );
    let graph = compile(family, &reference)?;
    let model = CostModel::new(&graph, Profile::default())?;
    let all_cloud = model.evaluate(&uniform(&model, CLOUD_FIRST));
    let all_edge = model.evaluate(&uniform(&model, EDGE_FIRST));
    let cloud_cost = all_cloud.cloud_cost_nusd_per_hour.saturated();
    let budget = |percent: u64| {
        format!(
            "  require cloud_cost < {} per hour",
            dollars(cloud_cost / 100 * percent.min(100))
        )
    };
    let with = |extra: &[String]| {
        let mut lines: Vec<String> = base_latency.clone();
        lines.extend_from_slice(extra);
        lines
    };
    // Per loosening step: the mission text.
    let build: Box<dyn Fn(u64) -> Result<String, FamilyError>> = match family {
        Family::Budget => {
            let percent = [70, 80, 90][(seed % 3) as usize];
            Box::new(move |step| {
                Ok(finish(
                    body.clone(),
                    &with(&[
                        budget(percent + 5 * step),
                        "  minimize energy then latency then cost".into(),
                    ]),
                ))
            })
        }
        Family::Battery => {
            // The drones' energy in the latency-greedy and the
            // energy-greedy plans under the budget: the reserve allows
            // half-way between them.
            let probe_with = |objective: &str| {
                probe(
                    family,
                    &finish(
                        body.clone(),
                        &with(&[budget(85), format!("  minimize {objective}")]),
                    ),
                )
            };
            let (fast, frugal) = (probe_with("latency")?, probe_with("energy")?);
            let cap = graph
                .fleets
                .iter()
                .position(|f| f.name == "drones")
                .map_or(1, |f| model.battery_uj[f].max(1));
            let (lo, hi) = (
                frugal.drone_energy.min(fast.drone_energy),
                frugal.drone_energy.max(fast.drone_energy),
            );
            Box::new(move |step| {
                let allowed = u128::from(lo + (hi - lo) / 2 + (hi - lo) / 10 * step);
                // In basis points, rounded down (a little looser).
                let bp = 10_000u128
                    .saturating_sub(allowed * 10_000 / cap)
                    .clamp(1, 9_999);
                let reserve = format!("{}.{:02}", bp / 100, bp % 100);
                Ok(finish(
                    body.clone(),
                    &with(&[
                        budget(85 + 2 * step),
                        format!("  require battery(drones) >= {reserve}%"),
                        "  minimize latency then energy then cost".into(),
                    ]),
                ))
            })
        }
        Family::Latency => {
            // Targets in the last tenth of the tasks, from their sensing root.
            let n = graph.tasks.len();
            let count = (n / 100).max(2);
            let targets: Vec<usize> = (0..count).map(|k| n - 1 - k * (n / 10 / count)).collect();
            let reqs: Vec<String> = targets
                .iter()
                .map(|&t| {
                    format!(
                        "  require latency({} -> {}) p95 < 1000000 ms",
                        sensing_root(&graph, t),
                        graph.tasks[t].name
                    )
                })
                .collect();
            // The paths' latencies in the energy-greedy plan (close to the
            // fastest: the cloud is both energy-cheap and fast here).
            let probe_with = |objective: &str| {
                let mut lines = reqs.clone();
                lines.push(loose_budget.clone());
                lines.push(format!("  minimize {objective}"));
                probe(family, &finish(body.clone(), &lines)).map(|p| p.predicted)
            };
            let energy_optimal = probe_with("energy")?;
            Box::new(move |step| {
                let mut lines = Vec::new();
                for (r, req) in reqs.iter().enumerate() {
                    let e = energy_optimal.get(r).copied().unwrap_or(1);
                    let bound = e * 12 / 10 * (20 + step) / 20;
                    let ms = bound.div_ceil(1_000).max(1);
                    lines.push(req.replace("1000000 ms", &format!("{ms} ms")));
                }
                lines.push(loose_budget.clone());
                lines.push("  minimize cost then energy".into());
                Ok(finish(body.clone(), &lines))
            })
        }
        Family::Cpu => {
            let clocks: Vec<(String, u64, u64)> = graph
                .fleets
                .iter()
                .enumerate()
                .map(|(f, fleet)| {
                    // 4 × 1.2 GHz at `busy`‰ → the clock × cores that make it
                    // 2000‰, at most 3 GHz per core.
                    let busy = all_edge.fleet_busy_permille[f].saturated().max(1);
                    let total = (4 * 1_200 * busy / 2_000).max(1);
                    let cores = total.div_ceil(3_000);
                    (fleet.name.clone(), (total / cores).max(1), cores)
                })
                .collect();
            Box::new(move |step| {
                let mut text = String::new();
                for l in body.lines() {
                    let clock = clocks
                        .iter()
                        .find(|(name, _, _)| l.trim_start().starts_with(&format!("fleet {name}:")));
                    let _ = match clock {
                        Some((_, mhz, cores)) => writeln!(
                            text,
                            "{}",
                            l.replace(
                                "cpu 1.2 GHz x 4",
                                &format!("cpu {} MHz x {cores}", mhz * (20 + step) / 20)
                            )
                        ),
                        None => writeln!(text, "{l}"),
                    };
                }
                Ok(finish(
                    text,
                    &with(&[loose_budget.clone(), "  minimize cost then latency".into()]),
                ))
            })
        }
        Family::Orders => {
            let order = [
                "  minimize cost then latency then energy",
                "  minimize latency then cost then energy",
                "  minimize cost then energy",
            ][(seed % 3) as usize];
            Box::new(move |_| {
                Ok(finish(
                    body.clone(),
                    &with(&[loose_budget.clone(), order.into()]),
                ))
            })
        }
    };
    let mut src = build(0)?;
    for step in 1..=LOOSENINGS {
        if probe(family, &src)?.feasible {
            break;
        }
        src = build(step)?;
    }
    Ok(src)
}

/// The sensing task `t` descends from through its first inputs.
fn sensing_root(graph: &TaskGraph, mut t: usize) -> String {
    loop {
        match graph
            .edges
            .iter()
            .find(|e| e.to.index() == t)
            .map(|e| e.from.index())
        {
            Some(p) => t = p,
            None => return graph.tasks[t].name.clone(),
        }
    }
}

/// What the naive encoding answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NaiveStatus {
    /// z3 proved its plan optimal.
    Optimal,
    /// No answer within the limits, but a feasible plan from z3's last model.
    Feasible,
    /// No answer and no plan within the limits.
    Unknown,
    Infeasible,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Naive {
    pub status: NaiveStatus,
    /// The plan's objective vector (the mission's order), when there is one.
    pub objectives: Option<Vec<Sat>>,
    pub seconds: f64,
    pub stopped: Option<Stop>,
    pub peak_rss_mib: u64,
}

/// The naive baseline: the whole encoding in one z3 `Optimize` with every
/// stated objective (z3's lexicographic priority), no presolve, no bounds,
/// no warm start — under the same hard deadline and memory cap as
/// [`crate::synthesize`].
pub fn naive(
    graph: &TaskGraph,
    profile: Profile,
    timeout: Duration,
    memory_mib: Option<u64>,
) -> Result<Naive, SynthError> {
    let started = Instant::now();
    let limits = Limits::new(started, timeout, memory_mib);
    let model = CostModel::new(graph, profile)?;
    let (status, assignment) = z3::with_z3_config(&z3::Config::new(), || {
        watchdog::guarded(&limits, || {
            let enc = Encoding::new(&model, false);
            let opt = Optimize::new();
            for c in enc.constraints([]) {
                opt.assert(c);
            }
            for (_, term) in enc.objectives.iter().take(enc.stated_objectives) {
                opt.minimize(term);
            }
            let result = opt.check(&[]);
            let a = opt.get_model().and_then(|m| enc.assignment(&m));
            match result {
                SatResult::Sat => (NaiveStatus::Optimal, a),
                SatResult::Unsat => (NaiveStatus::Infeasible, None),
                SatResult::Unknown => (NaiveStatus::Unknown, a),
            }
        })
    });
    let evaluated = assignment
        .map(|a| model.evaluate(&a))
        .filter(|e| e.feasible());
    let status = match (status, &evaluated) {
        (NaiveStatus::Unknown, Some(_)) => NaiveStatus::Feasible,
        (NaiveStatus::Optimal, None) => NaiveStatus::Unknown,
        (s, _) => s,
    };
    Ok(Naive {
        status,
        objectives: evaluated.map(|e| model.objective_vector(&e)),
        seconds: started.elapsed().as_secs_f64(),
        stopped: limits.stopped(),
        peak_rss_mib: limits.peak_rss_mib(),
    })
}

/// One measured row: the synthesizer, greedy alone and the naive
/// encoding on the same mission, in the same run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    pub family: Family,
    pub tasks: usize,
    pub seed: u64,
    /// None: no plan (an error, e.g. nothing found in time).
    pub status: Option<crate::Status>,
    /// Why there is no status.
    pub error: Option<String>,
    /// The gap of the first objective not proven, % (None: proven or no plan).
    pub gap_percent: Option<f64>,
    /// The objective the gap is on.
    pub gap_objective: Option<hivemind_ir::Objective>,
    pub stopped: Option<Stop>,
    pub seconds: f64,
    pub peak_rss_mib: u64,
    /// The z3 worker processes' largest resident memory, MiB.
    pub worker_peak_rss_mib: u64,
    /// The z3 stages that did not answer (killed at the deadline or the
    /// memory cap, crashed, …): `stage kind: end`.
    pub z3_cut: Vec<String>,
    pub greedy_seconds: f64,
    pub greedy_feasible: bool,
    /// Greedy's first objective above the synthesizer's plan, %.
    pub greedy_excess_percent: Option<f64>,
    pub naive: Option<Naive>,
    /// The naive plan's first objective above the synthesizer's plan, %.
    pub naive_excess_percent: Option<f64>,
}

/// `(a − b) / b` in percent.
fn excess(a: Sat, b: Sat) -> Option<f64> {
    let (a, b) = (a.get()? as f64, b.get()? as f64);
    Some(if b > 0.0 { (a - b) / b * 100.0 } else { 0.0 })
}

/// Measure one row; `with_naive`: also run the naive baseline (as long again).
pub fn measure(
    family: Family,
    tasks: usize,
    seed: u64,
    options: &crate::Options,
    with_naive: bool,
) -> Result<Row, FamilyError> {
    let src = mission(family, tasks, seed)?;
    let graph = compile(family, &src)?;
    let model = CostModel::new(&graph, Profile::default())?;
    let t = Instant::now();
    let greedy = crate::search::greedy_within(&model, Some(t + options.timeout / 4));
    let greedy_seconds = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let out = crate::synthesize(&graph, Profile::default(), options);
    let error = out.as_ref().err().map(ToString::to_string);
    let out = out.ok();
    let seconds = t.elapsed().as_secs_f64();
    let plan_values = out
        .as_ref()
        .and_then(|o| o.plan.as_ref())
        .map(|p| crate::objective_values(&model, p));
    let first = |v: &Vec<Sat>| v.first().copied().unwrap_or(Sat::ZERO);
    let greedy_feasible = greedy.as_ref().is_some_and(|(_, e)| e.feasible());
    let greedy_excess_percent = match (&greedy, &plan_values) {
        (Some((_, e)), Some(p)) if e.feasible() => {
            excess(first(&model.objective_vector(e)), first(p))
        }
        _ => None,
    };
    let naive = if with_naive {
        naive(
            &graph,
            Profile::default(),
            options.timeout,
            options.memory_mib,
        )
        .ok()
    } else {
        None
    };
    let naive_excess_percent = match (&naive, &plan_values) {
        (
            Some(Naive {
                objectives: Some(n),
                ..
            }),
            Some(p),
        ) => excess(first(n), first(p)),
        _ => None,
    };
    Ok(Row {
        family,
        tasks: graph.tasks.len(),
        seed,
        status: out.as_ref().map(|o| o.status),
        error,
        gap_percent: out
            .as_ref()
            .and_then(|o| o.gap.as_ref())
            .map(|g| g.percent()),
        gap_objective: out
            .as_ref()
            .and_then(|o| o.gap.as_ref())
            .map(|g| g.objective),
        stopped: out.as_ref().and_then(|o| o.stopped),
        seconds,
        peak_rss_mib: out.as_ref().map_or(0, |o| o.peak_rss_mib),
        worker_peak_rss_mib: out.as_ref().map_or(0, |o| o.worker_peak_rss_mib),
        z3_cut: out
            .as_ref()
            .map(|o| {
                o.z3_runs
                    .iter()
                    .filter(|r| r.end != crate::Z3End::Answered)
                    .map(|r| format!("{} {:?}: {:?}", r.objective, r.kind, r.end))
                    .collect()
            })
            .unwrap_or_default(),
        greedy_seconds,
        greedy_feasible,
        greedy_excess_percent,
        naive,
        naive_excess_percent,
    })
}
