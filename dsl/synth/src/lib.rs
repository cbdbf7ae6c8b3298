//! HiveMind placement synthesizer.
//!
//! Given a checked [`TaskGraph`] and a cost [`Profile`], choose a modality
//! (edge / cloud / cloud with FPGA remote memory) for every task so that the
//! mission's requirements hold, optimising its objectives in order. The
//! search is z3's `Optimize` over the encoding in `encode`; the exhaustive
//! oracle and the greedy heuristic in [`search`] evaluate the same cost
//! model directly. A stage the bounds do not prove first gets a Lagrangian
//! heuristic (the relaxation's minimum-cut placement, `cut`, repaired by
//! [`search`]) and a plain-Rust branch-and-bound (`bnb`) over the same
//! bounds, which may prove it, improve the incumbent or raise the reported
//! lower bound. This is the only crate that links z3.
//!
//! Every call keeps a hard deadline and a memory cap ([`Options`]): the z3
//! stages (neighbourhood search, `Optimize`) run in a worker process
//! ([`worker`]: this executable re-invoked, its `main` calling
//! [`worker::main_if_worker`]) that is killed at the stage's deadline or at
//! the memory cap — z3 4.8.12 neither honours its own timeout in
//! `Optimize::check` nor answers an interrupt while it preprocesses a large
//! formula — and a watchdog thread holds the plain-Rust stages (and z3 in
//! process, where there is no worker) to the same limits. The best plan
//! found — greedy's at least — comes back with what cut the search
//! ([`Synthesis::stopped`], [`Synthesis::z3_runs`]).
//! [`bench`] holds the benchmark families whose constraints bind and the
//! naive one-shot z3 baseline. Must not be a dependency of the controller,
//! the simulator's core or the agent: they read plans.

mod anneal;
pub mod bench;
mod bnb;
mod bounds;
mod cut;
mod encode;
mod explain;
mod lns;
pub mod report;
mod rng;
pub mod search;
mod watchdog;
pub mod worker;

use bounds::{Metric, Presolve};
use encode::Encoding;
use hivemind_cost::{baseline, plan_for, CostModel, Profile, ProfileError};
use hivemind_ir::plan::{Modality, Plan, Strategy};
use hivemind_ir::{Objective, RequirementKind, Sat, TaskGraph};
use std::time::{Duration, Instant};

pub use explain::Conflict;
use watchdog::Limits;
pub use watchdog::{resident_bytes, Stop};
use worker::Runner;
pub use worker::{Worker, Z3End, Z3Kind, Z3Run};

#[derive(Debug, Clone)]
pub struct Options {
    /// A hard deadline: the call returns the best plan found (greedy's at
    /// least) within this, plus the time to build the answer's plans
    /// (milliseconds), whatever z3 is doing — its worker process is
    /// killed (in process, where there is no worker, a watchdog interrupts
    /// it, which z3 may ignore for seconds on a large mission).
    pub timeout: Duration,
    /// Also enumerate the Pareto front of the objectives (within the same
    /// deadline).
    pub pareto: bool,
    pub max_pareto_points: usize,
    /// Stop the search (keeping the best plan so far) once the process's
    /// resident memory and its z3 worker's together exceed this many MiB;
    /// `None`: no cap. Checked every few milliseconds, so it may be passed
    /// by what z3 allocates in that time (a worker's address space is also
    /// limited to what the cap leaves, `RLIMIT_AS`). Linux only (`/proc`).
    pub memory_mib: Option<u64>,
    /// Where z3 stages run: by default in a worker process (this
    /// executable re-invoked, see [`worker::main_if_worker`]) killed at the
    /// deadline, so the deadline holds whatever z3 does.
    pub z3_worker: Worker,
}

/// The default memory cap: 1 GiB of resident memory.
pub const DEFAULT_MEMORY_MIB: u64 = 1_024;

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: Duration::from_secs(10),
            pareto: false,
            max_pareto_points: 32,
            memory_mib: Some(DEFAULT_MEMORY_MIB),
            z3_worker: Worker::Auto,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The plan is proven optimal for the objectives in order.
    Optimal,
    /// A plan meeting every requirement, not proven optimal (time limit).
    Feasible,
    /// No placement meets every requirement; see the conflicts.
    Infeasible,
    /// A given plan evaluated (`synth --evaluate`): no search, so nothing
    /// about optimality; `met` says whether it meets every requirement
    /// within every capacity.
    Evaluated { met: bool },
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Synthesis {
    pub status: Status,
    pub plan: Option<Plan>,
    pub centralized: Option<Plan>,
    pub decentralized: Option<Plan>,
    pub greedy: Option<Plan>,
    pub pareto: Vec<Plan>,
    pub conflicts: Vec<Conflict>,
    /// The mission's identity and the profile's hash (see [`Plan`]).
    pub graph_sha256: String,
    pub profile_sha256: String,
    pub elapsed_ms: u64,
    /// When the mission's own objectives were proven optimal (before tie-breaking).
    pub proven_ms: Option<u64>,
    /// How many of the mission's objectives the lower bounds proved
    /// optimal without search (the greedy plan reached their bound).
    pub proven_by_bound: usize,
    /// When the time ran out: how far the plan may be from the optimum in
    /// the first objective not proven.
    pub gap: Option<Gap>,
    /// The stated objectives are proven optimal, but the time limit cut this
    /// tie-breaker (and the ones after it) short: among equally good plans,
    /// which one is chosen depends on timing and is not proven.
    pub tie_break_cut: Option<String>,
    /// What cut the search short (the deadline or the memory cap), if
    /// anything did; the stage it cut is `gap.objective` (or
    /// `tie_break_cut`). A cut depends on how much CPU the process got, so
    /// only an uncut answer is reproducible on another machine or load.
    pub stopped: Option<Stop>,
    /// The largest resident memory of the process seen during the call, MiB.
    pub peak_rss_mib: u64,
    /// The largest resident memory of a z3 worker process seen, MiB (it
    /// counts against the cap with this process's).
    pub worker_peak_rss_mib: u64,
    /// The z3 stages run (neighbourhood search, `Optimize`), in order: where
    /// they ran and how they ended (a worker killed at the deadline or the
    /// memory cap, a crash, garbage, a refused answer).
    pub z3_runs: Vec<Z3Run>,
}

/// An optimality gap: no plan meeting every requirement (with the earlier
/// objectives at their optimum) has `objective` below `lower_bound`; the
/// chosen plan has `found`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Gap {
    pub objective: Objective,
    pub lower_bound: Sat,
    pub found: Sat,
}

impl Gap {
    /// `found − lower_bound` in percent of `found`: the optimum is at most
    /// this much lower than the plan (the usual MIP gap; 100% when either
    /// is too large to compute).
    pub fn percent(&self) -> f64 {
        match (self.found.get(), self.lower_bound.get()) {
            (Some(0), _) => 0.0,
            (Some(found), Some(lower)) => found.saturating_sub(lower) as f64 * 100.0 / found as f64,
            _ => 100.0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error("the solver failed: {0}")]
    Solver(String),
}

/// Choose a plan. Each call runs in a fresh z3 context, so the answer
/// depends only on the inputs (z3's search order depends on what a context
/// has seen before).
pub fn synthesize(
    graph: &TaskGraph,
    profile: Profile,
    options: &Options,
) -> Result<Synthesis, SynthError> {
    let started = Instant::now();
    let limits = Limits::new(started, options.timeout, options.memory_mib);
    z3::with_z3_config(&z3::Config::new(), || {
        watchdog::guarded(&limits, || {
            synthesize_in_context(graph, profile, options, started, &limits)
        })
    })
}

fn synthesize_in_context(
    graph: &TaskGraph,
    profile: Profile,
    options: &Options,
    started: Instant,
    limits: &Limits,
) -> Result<Synthesis, SynthError> {
    let graph_sha256 = graph.identity_sha256();
    let profile_sha256 = hivemind_cost::profile_hash(&profile);
    let model = CostModel::new(graph, profile)?;
    let centralized = baseline(
        &model,
        [Modality::Cloud, Modality::CloudFpga, Modality::Edge],
    )
    .map(|a| plan_for(&model, &a, Strategy::Centralized));
    let decentralized = baseline(
        &model,
        [Modality::Edge, Modality::Cloud, Modality::CloudFpga],
    )
    .map(|a| plan_for(&model, &a, Strategy::Decentralized));
    // Greedy gets a quarter of the budget to improve a feasible plan, up to
    // three quarters to find one: it is the warm start and the fallback.
    let greedy = search::greedy_until(
        &model,
        Some(started + options.timeout / 4),
        Some(started + options.timeout * 3 / 4),
    );
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        feasible = greedy.as_ref().map(|(_, e)| e.feasible()),
        "greedy"
    );
    let greedy_plan = greedy
        .as_ref()
        .map(|(a, _)| plan_for(&model, a, Strategy::Greedy));

    // Leave a twentieth of the budget (at most 0.5 s) for what follows the
    // search (baselines, predictions), so the whole call keeps its budget.
    let deadline =
        started + options.timeout - (options.timeout / 20).min(Duration::from_millis(500));
    let enc = Encoding::new(&model, false);
    let runner = Runner::new(&options.z3_worker);
    let mut presolve = Presolve::until(&model, deadline);
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "presolve");
    // The greedy plan is the incumbent: it bounds each stage from above,
    // and proves it when it reaches the stage's lower bound.
    let mut progress = Progress::default();
    let incumbent = greedy.as_ref().map(|(a, _)| a.as_slice());
    // A fleet that cannot sweep its area in time makes every placement
    // infeasible: no search.
    let short_coverage: Vec<hivemind_cost::Coverage> =
        hivemind_cost::coverage_with(graph, &model.profile)
            .into_iter()
            .filter(|c| !c.fits())
            .collect();
    let (status, chosen) = if !short_coverage.is_empty() {
        (Status::Infeasible, None)
    } else {
        let found = lexmin_timed(
            &enc,
            &mut presolve,
            incumbent,
            &[],
            deadline,
            limits,
            &runner,
            &mut progress,
        )?;
        match found {
            Lexmin::Optimal(a) => (
                Status::Optimal,
                Some(plan_for(&model, &a, Strategy::Optimised { proven: true })),
            ),
            Lexmin::Infeasible => (Status::Infeasible, None),
            Lexmin::TimedOut(found) => {
                let from_solver = found.filter(|a| model.evaluate(a).feasible());
                match (from_solver, &greedy) {
                    (Some(a), Some((g, ge)))
                        if ge.feasible()
                            && search::better(&model, ge, &model.evaluate(&a)).is_lt() =>
                    {
                        (
                            Status::Feasible,
                            Some(plan_for(&model, g, Strategy::Greedy)),
                        )
                    }
                    (Some(a), _) => (
                        Status::Feasible,
                        Some(plan_for(&model, &a, Strategy::Optimised { proven: false })),
                    ),
                    (None, Some((g, ge))) if ge.feasible() => (
                        Status::Feasible,
                        Some(plan_for(&model, g, Strategy::Greedy)),
                    ),
                    (None, _) => {
                        return Err(SynthError::Solver(format!(
                            "no plan within {:?}",
                            options.timeout
                        )))
                    }
                }
            }
        }
    };
    let conflicts = if !short_coverage.is_empty() {
        short_coverage
            .into_iter()
            .map(|c| Conflict {
                requirements: Vec::new(),
                pins: Vec::new(),
                capacity: Vec::new(),
                coverage: vec![c.task],
                sweeps: vec![c],
                overflow: Vec::new(),
                best: Vec::new(),
                minimal: true,
            })
            .collect()
    } else if status == Status::Infeasible {
        limits.set_stage_deadline(None);
        let left = limits.deadline().saturating_duration_since(Instant::now());
        let mut found = explain::conflicts(&model, left.max(Duration::from_millis(1)));
        // Nothing a user can relax: every placement's totals are too large
        // to compute. Say which.
        let overflow = bounds::overflowing(&model);
        if found.is_empty() && !overflow.is_empty() {
            found.push(Conflict {
                requirements: Vec::new(),
                pins: Vec::new(),
                capacity: Vec::new(),
                coverage: Vec::new(),
                sweeps: Vec::new(),
                overflow,
                best: Vec::new(),
                minimal: true,
            });
        }
        found
    } else {
        Vec::new()
    };
    let pareto = if options.pareto && status != Status::Infeasible {
        limits.set_stage_deadline(None);
        pareto_front(&model, options, limits, &runner, &mut progress.z3_runs)
    } else {
        Vec::new()
    };
    tracing::debug!(
        by_bound = progress.by_bound,
        by_search = progress.by_search,
        by_bnb = progress.by_bnb,
        bnb_nodes = progress.bnb_nodes,
        bnb_out_of_nodes = ?progress.bnb_cut,
        "search summary"
    );
    let gap = progress.timed_out.and_then(|(stage, lower_bound)| {
        let plan = chosen.as_ref()?;
        let objective = *model.objectives.get(stage)?;
        let values = objective_values(&model, plan);
        // The bound assumes the earlier objectives at their optimum, and the
        // plan has them there: z3's model was held to them, and greedy is
        // only chosen when lexicographically better still.
        let found = values[stage];
        let lower_bound = Sat::new(lower_bound);
        (status == Status::Feasible && found >= lower_bound).then_some(Gap {
            objective,
            lower_bound,
            found,
        })
    });
    Ok(Synthesis {
        status,
        plan: chosen,
        centralized,
        decentralized,
        greedy: greedy_plan,
        pareto,
        conflicts,
        graph_sha256,
        profile_sha256,
        elapsed_ms: started.elapsed().as_millis() as u64,
        proven_by_bound: progress.by_bound,
        gap,
        tie_break_cut: progress
            .ties_cut
            .filter(|_| status == Status::Optimal)
            .map(|stage| {
                model
                    .lexicographic_order()
                    .get(stage)
                    .map_or("fewest FPGA tasks".to_string(), |o| {
                        format!("{o:?}").to_lowercase()
                    })
            }),
        stopped: match limits.stopped() {
            Some(Stop::Memory) => Some(Stop::Memory),
            _ if progress.timed_out.is_some() || progress.ties_cut.is_some() => {
                Some(Stop::Deadline)
            }
            _ => None,
        },
        peak_rss_mib: limits.peak_rss_mib(),
        worker_peak_rss_mib: limits.worker_peak_rss_mib(),
        z3_runs: progress.z3_runs,
        proven_ms: progress
            .proven_at
            .filter(|_| status == Status::Optimal)
            .map(|t| t.duration_since(started).as_millis() as u64),
    })
}

enum Lexmin {
    /// Proven optimal for the stated objectives (tie-breakers may have been cut short).
    Optimal(Vec<Modality>),
    Infeasible,
    /// The deadline passed; the best assignment seen so far, if any.
    TimedOut(Option<Vec<Modality>>),
}

/// The share of a stated stage's time the branch-and-bound gets (z3's
/// neighbourhood search and `Optimize` share the rest); tie-breakers give
/// it all. Measured (the binding families, `--timeout 10`): 0.85 against
/// 0.5 brought cpu 200 s3 from 1.24% to 0.91% and budget 1000 s2 from
/// 5.97% to 0.01% (latency 200 s2 reached 0.88% in one run of three, 1.25%
/// in the others), and changed no 50-task proof; z3 improved no incumbent
/// at 200 tasks or more in the traced runs.
const BNB_SHARE: f64 = 0.85;
/// Rounds of path-chain cutting planes per stage ([`Presolve::add_chains`]).
const CHAIN_ROUNDS: usize = 30;
/// Nodes per stage: a deterministic budget, past what the clock usually allows.
const BNB_NODES: u64 = 2_000_000;

/// Stages where the Lagrangian heuristic improved nothing anneal the
/// incumbent ([`anneal::anneal`]) after it, on this share of the
/// branch-and-bound's time, up to a budget of moves per task.
const ANNEAL_SHARE: f64 = 0.8;
const ANNEAL_MOVES_PER_TASK: u64 = 2_000;

/// The part of the branch-and-bound's time that windows of the incumbent
/// ([`bnb::neighbourhoods`]) get before the tree takes the rest.
const WINDOW_SHARE: f64 = 0.3;

/// Lexicographic minimum, one objective at a time: minimise the first,
/// fix it at its optimum, minimise the next, and so on. Z3 4.8.12's own
/// multi-objective mode returned non-optimal secondary objectives on some
/// runs (found by the oracle property test), so it is not used.
/// `blocks` restrict the problem (Unsat means infeasible): objective
/// vectors (the mission's order) a placement must beat in one objective.
fn lexmin(
    enc: &Encoding,
    blocks: &[Vec<u64>],
    deadline: Instant,
    limits: &Limits,
    runner: &Runner,
    z3_runs: &mut Vec<Z3Run>,
) -> Result<Lexmin, SynthError> {
    let mut presolve = Presolve::new(enc.model);
    let mut progress = Progress::default();
    let found = lexmin_timed(
        enc,
        &mut presolve,
        None,
        blocks,
        deadline,
        limits,
        runner,
        &mut progress,
    );
    z3_runs.append(&mut progress.z3_runs);
    found
}

/// How far [`lexmin_timed`] got.
#[derive(Default)]
struct Progress {
    /// When the mission's own objectives were proven.
    proven_at: Option<Instant>,
    /// Stages proven by their lower bound, without search.
    by_bound: usize,
    /// Stages proven by the neighbourhood search's whole-problem window.
    by_search: usize,
    /// Stated stages proven by branch-and-bound, and its nodes in all stages.
    by_bnb: usize,
    bnb_nodes: u64,
    /// The first stage whose branch-and-bound ran out of nodes (not time).
    bnb_cut: Option<usize>,
    /// The stage the time ran out in, and its lower bound.
    timed_out: Option<(usize, u64)>,
    /// The first tie-breaking stage the time limit cut short: where it is
    /// cut depends on the wall clock, so the plan is not reproducible there.
    ties_cut: Option<usize>,
    /// The z3 stages run, in order.
    z3_runs: Vec<Z3Run>,
}

/// [`lexmin`] over `presolve`'s domains, recording when the stated
/// objectives were proven. Before each stage the bounds give a lower bound
/// on its objective: when `incumbent` (a feasible placement, e.g. greedy's)
/// reaches it while matching every earlier stage, the stage is proven
/// without search; otherwise z3 gets the bound as a cut and the incumbent's
/// value as a ceiling. After each stage the objective's optimum joins the
/// limits and the domains shrink again. Tie-breaking stages share at most a
/// tenth of the remaining budget. z3 stages run where `runner` says (a
/// worker process killed at the stage's deadline, normally).
#[allow(clippy::too_many_arguments)]
fn lexmin_timed(
    enc: &Encoding,
    presolve: &mut Presolve,
    incumbent: Option<&[Modality]>,
    blocks: &[Vec<u64>],
    deadline: Instant,
    limits: &Limits,
    runner: &Runner,
    progress: &mut Progress,
) -> Result<Lexmin, SynthError> {
    let model = enc.model;
    if presolve.infeasible {
        return Ok(Lexmin::Infeasible);
    }
    let stages: Vec<Metric> = enc
        .objectives
        .iter()
        .map(|(o, _)| Metric::Objective(*o))
        .chain(std::iter::once(Metric::FpgaCount))
        .collect();
    // The incumbent's value at every stage (the stages are the model's
    // order of preference), while it stays lexicographically optimal so far
    // (`None` once some stage found better).
    // A feasible plan's totals are never too large (`Evaluation::overflow`).
    let values_of = |a: &[Modality]| -> Option<Vec<u64>> {
        let e = model.evaluate(a);
        e.feasible().then(|| {
            model
                .preference_vector(&e, a)
                .into_iter()
                .map(Sat::saturated)
                .collect()
        })
    };
    let mut incumbent_values: Option<Vec<u64>> = incumbent.and_then(values_of);
    let mut incumbent: Option<Vec<Modality>> = incumbent
        .filter(|_| incumbent_values.is_some())
        .map(<[Modality]>::to_vec);
    debug_assert!(incumbent_values
        .as_ref()
        .is_none_or(|v| v.len() == stages.len()));
    // The optimum of every stage fixed so far.
    let mut fixed_values: Vec<u64> = Vec::new();
    let mut best: Option<Vec<Modality>> = None;
    let mut stage_deadline = deadline;
    let mut stage = 0;
    while stage < stages.len() {
        let metric = stages[stage];
        if stage == enc.stated_objectives && progress.proven_at.is_none() {
            progress.proven_at = Some(Instant::now());
            let left = deadline.saturating_duration_since(Instant::now());
            stage_deadline = Instant::now() + left / 10;
        }
        if stage >= enc.stated_objectives
            && (Instant::now() >= stage_deadline || limits.stopped().is_some())
        {
            progress.ties_cut = Some(stage);
            break;
        }
        let ceiling = incumbent_values.as_ref().map(|v| v[stage]);
        // Kept to undo the ceiling's reductions should z3 refuse it.
        let before_ceiling = ceiling.map(|_| presolve.clone());
        if let Some(value) = ceiling {
            // The stage's optimum is no worse than the incumbent: reduce
            // against that (the incumbent itself stays in the domains).
            presolve.bound(metric, value);
        }
        let mut lower = presolve.lower_bound(metric);
        tracing::debug!(stage, lower, ?ceiling, "stage bound");
        let mut ceiling = ceiling;
        if ceiling.is_none_or(|c| lower < c) && limits.stopped().is_none() {
            // Not proven by the bound: strengthen it with the path chains
            // its relaxation breaks, on a tenth of the stage's time at most.
            let now = Instant::now();
            let until = now + stage_deadline.saturating_duration_since(now) / 10;
            let added = presolve.within(until, |p| {
                p.add_chains(metric, CHAIN_ROUNDS, until)
                    + p.mix_path_chains(metric, CHAIN_ROUNDS, until)
            });
            if added > 0 {
                let raised = presolve.lower_bound(metric);
                tracing::debug!(stage, added, from = lower, to = raised, "path chains");
                lower = lower.max(raised);
            }
            if presolve.infeasible {
                // Sound limits only: with nothing fixed yet and no
                // incumbent, no placement is feasible.
                if stage == 0 && ceiling.is_none() {
                    return Ok(Lexmin::Infeasible);
                }
                return Err(SynthError::Solver(format!(
                    "the path chains contradict a feasible placement at stage {stage}"
                )));
            }
        }
        // Not proven by the bound: branch-and-bound on part of the stage's
        // time, which may prove the incumbent, improve it, or raise the bound.
        // Not with `blocks` (the Pareto front's blocks), which
        // only z3 sees.
        if blocks.is_empty() && ceiling.is_none_or(|c| lower < c) && limits.stopped().is_none() {
            let now = Instant::now();
            let share = if stage < enc.stated_objectives {
                BNB_SHARE
            } else {
                1.0
            };
            let bnb_deadline = now + stage_deadline.saturating_duration_since(now).mul_f64(share);
            let value_of = |a: &[Modality]| stage_value(&values_of, &fixed_values, stage, a);
            // A Lagrangian heuristic first: the relaxation's placement,
            // repaired into a feasible one, on up to half of the share.
            // Up to three starts ([`bounds::StageBounds::heuristic_starts`]).
            let bounds_began = Instant::now();
            let stage_bounds = bounds::StageBounds::new(presolve, metric);
            let bounds_cost = bounds_began.elapsed();
            let starts = stage_bounds.heuristic_starts();
            drop(stage_bounds);
            let parts = starts.len() as f64;
            let mut repaired_any = false;
            for (i, x) in starts.into_iter().enumerate() {
                let until = now
                    + stage_deadline
                        .saturating_duration_since(now)
                        .mul_f64(share / 2.0 / parts * (i + 1) as f64);
                let started = Instant::now();
                let repaired = search::repair(model, x, stage, &fixed_values, until, true);
                let value = repaired.as_ref().and_then(|(a, _)| Some((value_of(a)?, a)));
                tracing::debug!(
                    stage,
                    start = i,
                    value = ?value.map(|(v, _)| v),
                    ?ceiling,
                    ms = started.elapsed().as_millis() as u64,
                    "lagrangian heuristic"
                );
                if let Some((v, a)) = value.filter(|(v, _)| ceiling.is_none_or(|c| *v < c)) {
                    if let Some(values) = values_of(a) {
                        presolve.bound(metric, v);
                        ceiling = Some(v);
                        incumbent_values = Some(values);
                        incumbent = Some(a.clone());
                        repaired_any = true;
                    }
                }
            }
            // The tree builds its bounds again (after the heuristic's
            // improvements): when that alone would take most of the time
            // left (1,000 tasks: 1.5-2.7 s), the tree is skipped.
            let tree = Instant::now() + bounds_cost * 2 < bnb_deadline;
            // Where no relaxation could be repaired the incumbent is still
            // greedy's (or an earlier stage's): anneal it on most of the
            // time; where the tree is skipped, on all of it.
            if !repaired_any || !tree {
                let until = if tree {
                    now_plus(bnb_deadline, ANNEAL_SHARE)
                } else {
                    bnb_deadline
                };
                if let Some((a, v)) = anneal_stage(
                    model,
                    presolve,
                    incumbent.as_deref().zip(ceiling),
                    lower,
                    stage,
                    &fixed_values,
                    &value_of,
                    until,
                    limits,
                ) {
                    if let Some(values) = values_of(&a) {
                        presolve.bound(metric, v);
                        ceiling = Some(v);
                        incumbent_values = Some(values);
                        incumbent = Some(a);
                    }
                }
            }
            // The tree and its windows, unless the steps before took
            // their time (its bounds alone cost a tenth of a second at 200
            // tasks; z3 keeps its share).
            if tree && Instant::now() < bnb_deadline {
                let repair = |x, until| {
                    search::repair(model, x, stage, &fixed_values, until, false).map(|(a, _)| a)
                };
                let stage_bounds = bounds::StageBounds::new(presolve, metric);
                // Windows of the incumbent first, on a part of the time (a
                // better incumbent prunes more of the tree), then the tree.
                let mut known = incumbent.clone().zip(ceiling);
                let mut window_nodes = 0;
                if let Some((start, value)) = known.clone() {
                    let now = Instant::now();
                    let until = now
                        + bnb_deadline
                            .saturating_duration_since(now)
                            .mul_f64(WINDOW_SHARE);
                    let near = bnb::neighbourhoods(
                        &stage_bounds,
                        start,
                        value,
                        lower,
                        &value_of,
                        &repair,
                        stage as u64,
                        until,
                        limits,
                    );
                    tracing::debug!(
                        stage,
                        windows = near.windows,
                        improvements = near.improvements,
                        nodes = near.nodes,
                        from = value,
                        to = near.value,
                        "branch-and-bound windows"
                    );
                    window_nodes = near.nodes;
                    if near.value < value {
                        known = Some((near.assignment, near.value));
                    }
                }
                let mut found = bnb::search_in(
                    &stage_bounds,
                    stage_bounds.root(),
                    known.as_ref().map_or(bounds::NONE, |(_, v)| *v),
                    known.as_ref().map(|(a, _)| a.as_slice()),
                    &value_of,
                    &repair,
                    BNB_NODES,
                    bnb_deadline,
                    limits,
                );
                found.nodes += window_nodes;
                if found.improved.is_none() {
                    found.improved = known.filter(|(_, v)| ceiling.is_none_or(|c| *v < c));
                }
                drop(stage_bounds);
                tracing::debug!(
                    stage,
                    nodes = found.nodes,
                    leaves = found.leaves,
                    refused = found.refused,
                    lower = found.lower,
                    proven = found.proven,
                    cut = ?found.cut,
                    improved = ?found.improved.as_ref().map(|(_, v)| *v),
                    "branch-and-bound"
                );
                progress.bnb_nodes += found.nodes;
                if let Some((a, v)) = found.improved {
                    if let Some(values) = values_of(&a) {
                        presolve.bound(metric, v);
                        ceiling = Some(v);
                        incumbent_values = Some(values);
                        incumbent = Some(a);
                    }
                }
                lower = lower.max(found.lower);
                if found.cut == Some(bnb::Cut::Nodes) {
                    progress.bnb_cut = Some(stage);
                }
                if let (true, Some(value), Some(a)) = (found.proven, ceiling, incumbent.as_ref()) {
                    progress.by_bnb += usize::from(stage < enc.stated_objectives);
                    best = Some(a.clone());
                    fixed_values.push(value);
                    stage += 1;
                    continue;
                }
            }
        }
        // Not proven by the bound: improve the incumbent by large-neighbourhood
        // search on half of the stage's time, which may also prove it.
        if let (Some(value), Some(a), true) = (
            ceiling,
            incumbent.as_ref(),
            stage < enc.stated_objectives && lower < ceiling.unwrap_or(0),
        ) {
            let now = Instant::now();
            let lns_deadline = now + stage_deadline.saturating_duration_since(now) / 2;
            let job = z3_stage(
                presolve,
                stage,
                &fixed_values,
                blocks,
                lower,
                worker::Kind::Neighbourhood {
                    start: a.clone(),
                    value,
                    seed: stage as u64,
                },
            );
            let mut answer = runner.run(enc, &job, stage_name(metric), lns_deadline, limits);
            // The best placement that holds (re-checked here: the worker's
            // word is not trusted).
            let mut refused = 0usize;
            let improved = answer
                .found
                .drain(..)
                .filter_map(|(a, _)| {
                    let v = values_of(&a).filter(|v| {
                        fixed_values.iter().zip(v).all(|(f, x)| x <= f) && v[stage] < value
                    });
                    refused += usize::from(v.is_none());
                    Some((v?, a))
                })
                .min_by_key(|(v, _)| v[stage]);
            if refused > 0 && improved.is_none() {
                answer.run.end = worker::Z3End::Rejected {
                    reason: format!(
                        "{refused} placement(s) missing a requirement or an earlier optimum"
                    ),
                };
            }
            if let Some((v, a)) = improved {
                tracing::debug!(
                    stage,
                    from = value,
                    to = v[stage],
                    "neighbourhood search improved"
                );
                presolve.bound(metric, v[stage]);
                ceiling = Some(v[stage]);
                incumbent_values = Some(v);
                incumbent = Some(a);
            }
            progress.z3_runs.push(answer.run);
            if let (Some(worker::Outcome::Optimal { value: proven }), Some(c)) =
                (answer.outcome, ceiling)
            {
                if c <= proven {
                    progress.by_search += 1;
                    best = incumbent.clone();
                    fixed_values.push(c);
                    presolve.bound(metric, c);
                    stage += 1;
                    continue;
                }
            }
        }
        let lower = if ceiling.is_some() {
            presolve.lower_bound(metric).max(lower)
        } else {
            lower
        };
        if let (Some(value), Some(a)) = (ceiling, incumbent.as_ref()) {
            if value <= lower {
                tracing::debug!(
                    stage,
                    value,
                    "lexicographic stage proven by its lower bound"
                );
                best = Some(a.to_vec());
                progress.by_bound += usize::from(stage < enc.stated_objectives);
                fixed_values.push(value);
                stage += 1;
                continue;
            }
        }
        let job = z3_stage(
            presolve,
            stage,
            &fixed_values,
            blocks,
            lower,
            worker::Kind::Optimize { ceiling },
        );
        let mut answer = runner.run(enc, &job, stage_name(metric), stage_deadline, limits);
        tracing::debug!(
            stage,
            lower,
            ?ceiling,
            elapsed_ms = answer.run.ms,
            outcome = ?answer.outcome,
            end = ?answer.run.end,
            "lexicographic stage"
        );
        // z3's placement, re-checked: it must meet every requirement and
        // the earlier optima, and its objective may not exceed z3's value
        // (the encoding's latency is an upper estimate of the model's).
        let seen = answer.found.pop().and_then(|(a, claimed)| {
            let v = values_of(&a)?;
            (fixed_values.iter().zip(&v).all(|(f, x)| x <= f) && v[stage] <= claimed)
                .then_some((a, v, claimed))
        });
        let outcome = match (answer.outcome, seen) {
            (Some(worker::Outcome::Optimal { value }), Some((a, v, claimed)))
                if claimed == value =>
            {
                Ok((a, v, value))
            }
            (Some(worker::Outcome::Optimal { .. }), _) => {
                answer.run.end = worker::Z3End::Rejected {
                    reason: "an optimum whose placement does not hold".into(),
                };
                Err(None)
            }
            (o, seen) => Err(Some((o, seen.map(|(a, _, _)| a)))),
        };
        progress.z3_runs.push(answer.run);
        match outcome {
            Ok((a, v, value)) => {
                best = Some(a);
                // z3's optimum is the incumbent for the later stages.
                incumbent_values = Some(v);
                incumbent = best.clone();
                fixed_values.push(value);
                presolve.bound(metric, value);
                if presolve.infeasible {
                    return Err(SynthError::Solver(format!(
                        "the bounds contradict the optimum of stage {stage}"
                    )));
                }
            }
            Err(Some((Some(worker::Outcome::Infeasible), _))) if ceiling.is_some() => {
                // The incumbent meets every constraint, so its ceiling
                // cannot cut everything off; never trust it blindly.
                tracing::warn!(stage, "incumbent's ceiling was unsatisfiable; dropped");
                incumbent_values = None;
                incumbent = None;
                if let Some(p) = before_ceiling {
                    *presolve = p;
                }
                continue;
            }
            Err(Some((Some(worker::Outcome::Infeasible), _))) if stage == 0 => {
                return Ok(Lexmin::Infeasible)
            }
            Err(Some((Some(worker::Outcome::Infeasible), _))) => {
                return Err(SynthError::Solver(
                    "objective fixed at its optimum became infeasible".into(),
                ))
            }
            Err(_) if stage >= enc.stated_objectives && best.is_some() => {
                // Only a tie-breaker ran out of time: the stated objectives are proven.
                progress.ties_cut = Some(stage);
                return Ok(best.map_or(Lexmin::TimedOut(None), Lexmin::Optimal));
            }
            Err(seen) => {
                progress.timed_out = Some((stage, lower));
                let seen = seen.and_then(|(_, a)| a);
                // The best of z3's last model, the incumbent and the
                // earlier stages' optimum.
                let chosen = [seen, incumbent, best]
                    .into_iter()
                    .flatten()
                    .map(|a| {
                        let e = model.evaluate(&a);
                        (a, e)
                    })
                    .filter(|(_, e)| e.feasible())
                    .min_by(|(_, x), (_, y)| search::better(model, x, y))
                    .map(|(a, _)| a);
                return Ok(Lexmin::TimedOut(chosen));
            }
        }
        stage += 1;
    }
    if progress.proven_at.is_none() {
        progress.proven_at = Some(Instant::now());
    }
    Ok(best.map_or(Lexmin::TimedOut(None), Lexmin::Optimal))
}

/// `now` plus `share` of the time left until `deadline`.
fn now_plus(deadline: Instant, share: f64) -> Instant {
    let now = Instant::now();
    now + deadline.saturating_duration_since(now).mul_f64(share)
}

/// A placement's value at `stage` when it is feasible (`values_of`) and
/// meets every earlier stage's optimum `fixed`.
fn stage_value(
    values_of: &impl Fn(&[Modality]) -> Option<Vec<u64>>,
    fixed: &[u64],
    stage: usize,
    a: &[Modality],
) -> Option<u64> {
    let v = values_of(a)?;
    fixed
        .iter()
        .zip(&v)
        .all(|(f, x)| x <= f)
        .then_some(v[stage])
}

/// Anneal the incumbent (a placement and its value at `stage`) until
/// `until`, its move budget or the stage's lower bound `lower`
/// ([`anneal::anneal`]): the better placement found, if any.
#[allow(clippy::too_many_arguments)]
fn anneal_stage(
    model: &CostModel,
    presolve: &Presolve,
    incumbent: Option<(&[Modality], u64)>,
    lower: u64,
    stage: usize,
    fixed: &[u64],
    value_of: &impl Fn(&[Modality]) -> Option<u64>,
    until: Instant,
    limits: &Limits,
) -> Option<(Vec<Modality>, u64)> {
    let (start, value) = incumbent?;
    let started = Instant::now();
    let moves = ANNEAL_MOVES_PER_TASK.saturating_mul(start.len() as u64);
    let walked = anneal::anneal(
        model,
        &presolve.domains,
        start.to_vec(),
        value,
        lower,
        stage,
        fixed,
        value_of,
        stage as u64,
        moves,
        until,
        limits,
    );
    tracing::debug!(
        stage,
        moves = walked.moves,
        improvements = walked.improvements,
        from = value,
        to = walked.value,
        ms = started.elapsed().as_millis() as u64,
        "annealing"
    );
    (walked.value < value).then_some((walked.assignment, walked.value))
}

/// A z3 stage as data: the stage, the earlier optima, the blocks, and
/// what the bounds tell z3 (values ruled out, the objective's lower bound,
/// each latency requirement's path bound).
fn z3_stage(
    presolve: &Presolve,
    stage: usize,
    fixed_values: &[u64],
    blocks: &[Vec<u64>],
    lower: u64,
    kind: worker::Kind,
) -> worker::Stage {
    let path_lower = presolve
        .model
        .graph
        .requirements
        .iter()
        .enumerate()
        .filter(|(_, req)| matches!(req.kind, RequirementKind::Latency { .. }))
        .map(|(r, _)| (r, presolve.path_lower_bound(r)))
        .collect();
    worker::Stage {
        stage,
        fixed_values: fixed_values.to_vec(),
        blocks: blocks.to_vec(),
        removed: presolve.removed(),
        lower,
        path_lower,
        kind,
    }
}

/// A stage's name in the report.
fn stage_name(metric: Metric) -> String {
    match metric {
        Metric::Objective(o) => format!("{o:?}").to_lowercase(),
        _ => "fewest fpga tasks".into(),
    }
}

/// The Pareto front: repeatedly take the lexicographic minimum among
/// placements not weakly dominated by any point found so far. Each such
/// minimum is Pareto-optimal (anything dominating it would be
/// lexicographically smaller and equally undominated).
fn pareto_front(
    model: &CostModel,
    options: &Options,
    limits: &Limits,
    runner: &Runner,
    z3_runs: &mut Vec<Z3Run>,
) -> Vec<Plan> {
    let enc = Encoding::new(model, false);
    let deadline = limits.deadline();
    let mut out: Vec<Plan> = Vec::new();
    let mut blocks: Vec<Vec<u64>> = Vec::new();
    while out.len() < options.max_pareto_points {
        let Ok(Lexmin::Optimal(a)) = lexmin(&enc, &blocks, deadline, limits, runner, z3_runs)
        else {
            break;
        };
        // Later points must beat this one in at least one objective.
        let values = model.objective_vector(&model.evaluate(&a));
        blocks.push(values.iter().map(|v| v.saturated()).collect());
        out.push(plan_for(model, &a, Strategy::Optimised { proven: true }));
    }
    out
}

/// The objective vector a plan's predictions give, in the mission's order.
pub fn objective_values(model: &CostModel, p: &Plan) -> Vec<Sat> {
    let a: Vec<Modality> = p.tasks.iter().map(|t| t.modality).collect();
    model.objective_vector(&model.evaluate(&a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use z3::SatResult;

    /// The encoding's objective terms take exactly the values
    /// `CostModel::evaluate` gives, for the plans z3 finds.
    #[test]
    fn encoded_objectives_equal_evaluated_ones() {
        for s in hivemind_examples::SCENARIOS {
            let graph = hivemind_dsl::compile(s.source, s.file)
                .graph
                .expect("graph");
            let model = CostModel::new(&graph, Profile::default()).expect("model");
            z3::with_z3_config(&z3::Config::new(), || {
                let enc = Encoding::new(&model, false);
                let solver = z3::Solver::new();
                for c in enc.constraints([]) {
                    solver.assert(c);
                }
                assert_eq!(solver.check(), SatResult::Sat, "{}", s.file);
                let m = solver.get_model().expect("model");
                let a = enc.assignment(&m).expect("assignment");
                let e = model.evaluate(&a);
                for (o, term) in &enc.objectives {
                    let encoded = m
                        .eval(term, true)
                        .and_then(|v| v.as_u64())
                        .map(Sat::new)
                        .expect("value");
                    let evaluated = e.objective(*o);
                    // Latency uses lower-bounded finish times: the model may
                    // overestimate, never underestimate.
                    if *o == hivemind_ir::Objective::Latency {
                        assert!(
                            encoded >= evaluated,
                            "{} {o:?}: {encoded} < {evaluated}",
                            s.file
                        );
                    } else {
                        assert_eq!(encoded, evaluated, "{} {o:?}", s.file);
                    }
                }
            });
        }
    }
}
