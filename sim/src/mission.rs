//! One simulated mission: a task graph, a plan and options in; what the
//! controller and the world measured, beside what the plan predicted, out.
//! This is what `hivemind sim` runs once per strategy (the synthesized
//! plan and its baselines).

use crate::physics::Physics;
use crate::radio::Degrade;
use crate::world::{BatterySample, DeviceUsage, StopSnapshot, Timing, World, WorldConfig};
use hivemind_controller::{Config, Controller, DeviceId, Micros, MissionReport, Phase};
use hivemind_cost::{CostModel, Profile};
use hivemind_ir::plan::{Modality, Plan, Strategy};
use hivemind_ir::{RequirementKind, TaskGraph, TaskId};
use serde::Serialize;

/// How to run a mission.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub seed: u64,
    /// When the operator stops the mission (the mission's duration by
    /// default); the controller then drains.
    pub duration_us: u64,
    pub profile: Profile,
    pub faults: Vec<Injected>,
    /// Battery samples this often (0: a hundredth of the duration, at least 1 s).
    pub sample_period_us: u64,
    /// Controller settings (admission control, timeouts, pool).
    pub config: Config,
}

impl SimOptions {
    pub fn new(graph: &TaskGraph, seed: u64) -> SimOptions {
        SimOptions {
            seed,
            duration_us: graph.duration_us,
            profile: Profile::default(),
            faults: Vec::new(),
            sample_period_us: 0,
            config: Config::default(),
        }
    }
}

/// A fault at one instant, as the world applies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    Kill(Micros, DeviceId),
    Revive(Micros, DeviceId),
    LinkDown(Micros, DeviceId),
    LinkUp(Micros, DeviceId),
    Degrade(Micros, DeviceId, Degrade),
    Slow(Micros, DeviceId, u64),
    SlowWorkers(Micros, u64),
    CrashController(Micros),
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("the cost profile is refused: {0}")]
    Profile(#[from] hivemind_cost::ProfileError),
    #[error("the controller refused the plan: {0}")]
    Setup(String),
    #[error("fault injection names device {device}, but the mission has {devices} devices")]
    NoSuchDevice { device: u32, devices: u32 },
}

/// What one strategy's run measured, beside its plan's predictions.
#[derive(Debug, Clone, Serialize)]
pub struct StrategyRun {
    pub strategy: String,
    pub phase: String,
    pub seed: u64,
    pub devices: u32,
    pub duration_us: u64,
    /// Simulated time when the run ended (the drain included).
    pub ended_us: u64,
    pub events: u64,
    pub timeouts: u64,
    pub paths: Vec<PathResult>,
    pub fleets: Vec<FleetResult>,
    pub bytes: BytesResult,
    pub cloud: CloudResult,
    pub tasks: Vec<TaskResult>,
    pub faults: FaultResult,
    /// Completed instances of every task per second.
    pub completions_per_s: Vec<u64>,
    pub battery: Vec<BatterySample>,
    /// Sampled positions of the first devices.
    pub tracks: Vec<crate::world::Track>,
    /// Where measurement and prediction differ by more than 5 %, why.
    pub notes: Vec<String>,
    /// Failure reasons (the first 20) and how many there were.
    pub failures: Vec<String>,
    pub failure_count: u64,
    /// Per `retrain`: what the plan predicted (compared with the
    /// controller's learning report).
    pub learning_predicted: Vec<PredictedLearning>,
    /// The controller's own report (per-device entries left out: the
    /// figures above summarise them), for counters, learning and the pool.
    pub controller: MissionReport,
}

#[derive(Debug, Clone, Serialize)]
pub struct PredictedLearning {
    pub task: String,
    pub training_jobs: u64,
    pub model_bytes_pushed: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PathResult {
    pub requirement: u32,
    pub from: String,
    pub to: String,
    pub percentile_bp: u32,
    pub bound_us: u64,
    /// The plan's prediction at the requirement's percentile (tail factor
    /// applied) and the cost model's median (warm invocations, half a
    /// window's wait; `None`: too large to compute).
    pub predicted_us: Option<u64>,
    pub predicted_median_us: Option<u64>,
    pub samples: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub measured_us: u64,
    pub met: bool,
    /// Measured median against the predicted median, ‰ (positive: slower).
    pub median_error_permille: Option<i64>,
    /// (percentile in basis points, µs): the latency distribution.
    pub cdf: Vec<(u32, u64)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FleetResult {
    pub fleet: String,
    pub devices: u32,
    pub predicted_energy_per_device_uj: Option<u64>,
    /// Over the mission (to the stop), mean and max per device.
    pub energy_mean_uj: u64,
    pub energy_max_uj: u64,
    pub motion_mean_uj: u64,
    pub cpu_mean_uj: u64,
    pub radio_mean_uj: u64,
    /// The busiest device against the prediction, ‰.
    pub energy_error_permille: Option<i64>,
    pub battery_capacity_uj: u64,
    pub depleted: u64,
    /// Mean time a device spent beyond its radio's range.
    pub out_of_range_mean_us: u64,
    /// The busiest radio link's time on air over the run, ‰ (the fleet's
    /// shared channel, or its busiest device's own link), and the plan's
    /// figure for it.
    pub radio_busy_permille: u64,
    pub predicted_radio_busy_permille: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BytesResult {
    pub predicted_uplink: Option<u64>,
    /// Counted by the core as the cost model counts (once per value per
    /// edge leaving a device).
    pub uplink: u64,
    /// What the world's links carried up and down.
    pub radio_up: u64,
    pub radio_down: u64,
    pub uplink_error_permille: Option<i64>,
    /// Bytes sent up per device: deciles (0 %, 10 %, …, 100 %).
    pub per_device_deciles: Vec<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CloudResult {
    pub predicted_cost_nusd: Option<u64>,
    /// Billed: run time + cold starts × memory × price.
    pub cost_nusd: u64,
    pub cost_error_permille: Option<i64>,
    pub cold_starts: u64,
    pub warm_invocations: u64,
    pub interfered: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskResult {
    pub task: String,
    pub modality: String,
    pub created: u64,
    pub completed: u64,
    pub failed: u64,
    /// Firings lost with their device (`TaskReport::lost`).
    #[serde(default)]
    pub lost: u64,
    pub p50_us: u64,
    pub p99_us: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FaultResult {
    /// Faults injected (script and `--kill`), and how many were kills.
    pub injected: usize,
    pub kills: usize,
    pub devices_failed: u64,
    pub battery_deaths: u64,
    pub relaunches: u64,
    pub repartitions: u64,
    pub restarts: u64,
    pub shed_activations: u64,
}

/// Progress of a long run: simulated time and events so far.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub now: Micros,
    pub events: u64,
}

/// Percentiles (basis points) at which the latency CDF is sampled.
const CDF_POINTS: [u32; 13] = [
    100, 500, 1_000, 2_000, 3_000, 5_000, 7_000, 8_000, 9_000, 9_500, 9_900, 9_990, 10_000,
];

/// Run `plan` of `graph` in the physical world.
pub fn simulate(
    graph: &TaskGraph,
    plan: &Plan,
    opts: &SimOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<StrategyRun, SimError> {
    let model = CostModel::new(graph, opts.profile.clone())?;
    let timing = Timing::predicted(&model, plan);
    let physics = Physics::new(&model, plan);
    let crash = opts
        .faults
        .iter()
        .any(|f| matches!(f, Injected::CrashController(_)));
    let ctl = Controller::new(opts.config.clone(), graph.clone(), plan.clone(), opts.seed)
        .map_err(|e| SimError::Setup(e.to_string()))?;
    let duration = Micros(opts.duration_us);
    let sample = if opts.sample_period_us > 0 {
        opts.sample_period_us
    } else {
        (opts.duration_us / 100).max(1_000_000)
    };
    let mut world = World::new(
        ctl,
        WorldConfig {
            seed: opts.seed,
            timing: Some(timing),
            physics: Some(physics),
            keep_journal: crash,
            sample_period_us: sample,
            ..WorldConfig::default()
        },
    );
    // The report is built from the core's state and the world's bounded
    // observations: nothing grows with the number of events.
    world.keep_effects = false;
    world.keep_log = false;
    world.keep_publications = false;
    let devices = graph
        .fleets
        .iter()
        .fold(0u32, |n, f| n.saturating_add(f.count));
    for f in &opts.faults {
        inject(&mut world, *f, devices)?;
    }
    // The mission runs `duration` from its start, not from the world's
    // zero: stopping at `duration` cut its last millisecond (a phased
    // source's last slot lost its last firing).
    world.stop_at(crate::world::MISSION_START.plus(duration.0));
    // Long enough for the drain to resolve every instance (completed, or
    // failed with a reason at its timeout) even in a mission shorter than
    // the drain; the world stops earlier once the core says it finished.
    let limit = Micros(
        duration.0.saturating_mul(2).max(
            duration
                .0
                .saturating_add(opts.config.drain_timeout_us)
                .saturating_add(10_000_000),
        ),
    );
    let mut steps = 0u64;
    while !world.over {
        if !world.step_until(limit) {
            break;
        }
        steps += 1;
        if steps.is_multiple_of(8_192) {
            progress(Progress {
                now: world.now,
                events: world.events_handled + world.timeouts_handled,
            });
        }
    }
    Ok(measure(graph, plan, &model, &world, opts, devices))
}

fn inject(world: &mut World, f: Injected, devices: u32) -> Result<(), SimError> {
    let check = |d: DeviceId| {
        if d.0 < devices {
            Ok(d)
        } else {
            Err(SimError::NoSuchDevice {
                device: d.0,
                devices,
            })
        }
    };
    match f {
        Injected::Kill(t, d) => world.kill(t, check(d)?),
        Injected::Revive(t, d) => world.revive(t, check(d)?),
        Injected::LinkDown(t, d) => world.link_down(t, check(d)?),
        Injected::LinkUp(t, d) => world.link_up(t, check(d)?),
        Injected::Degrade(t, d, how) => world.set_degrade(t, check(d)?, how),
        Injected::Slow(t, d, f) => world.set_slow(t, check(d)?, f),
        Injected::SlowWorkers(t, f) => world.set_slow_workers(t, f),
        Injected::CrashController(t) => world.crash(t),
    }
    Ok(())
}

/// `measured` against `predicted`, ‰ of the prediction (positive: over).
fn error_permille(measured: u64, predicted: Option<u64>) -> Option<i64> {
    let p = predicted.filter(|&p| p > 0)?;
    let diff = i128::from(measured) - i128::from(p);
    i64::try_from(diff * 1_000 / i128::from(p)).ok()
}

/// How a report names a plan's strategy.
pub fn strategy_name(s: &Strategy) -> String {
    match s {
        Strategy::Optimised { .. } => "synthesized",
        Strategy::Centralized => "centralized",
        Strategy::Decentralized => "decentralized",
        Strategy::Greedy => "greedy",
        Strategy::Manual => "manual",
    }
    .to_string()
}

fn measure(
    graph: &TaskGraph,
    plan: &Plan,
    model: &CostModel,
    world: &World,
    opts: &SimOptions,
    devices: u32,
) -> StrategyRun {
    let mut r: MissionReport = world.ctl.report();
    r.devices = Vec::new();
    let st = world.ctl.state();
    let assignment: Vec<Modality> = plan.tasks.iter().map(|t| t.modality).collect();
    let no_stop = StopSnapshot::default();
    let stop = world.observed.at_stop.as_ref().unwrap_or(&no_stop);
    let mission_us = if stop.at_us > 0 {
        stop.at_us
    } else {
        opts.duration_us
    };
    let usage: &[DeviceUsage] = &stop.usage;
    let mut notes = Vec::new();
    // The plan predicts the whole mission; a shorter (or longer) run is
    // compared pro rata.
    let pro_rata = |v: u64| -> u64 {
        u64::try_from(u128::from(v) * u128::from(mission_us) / u128::from(graph.duration_us.max(1)))
            .unwrap_or(u64::MAX)
    };
    if mission_us != graph.duration_us {
        notes.push(format!(
            "simulated {:.0} s of a {:.0} s mission: predicted energy is scaled pro rata (exact for hovering drones and compute, approximate for cars, whose sweeps do not scale)",
            mission_us as f64 / 1e6,
            graph.duration_us as f64 / 1e6
        ));
    }

    // Paths.
    let mut paths = Vec::new();
    for p in &r.paths {
        let k = p.requirement as usize;
        if !matches!(
            graph.requirements.get(k).map(|q| &q.kind),
            Some(RequirementKind::Latency { .. })
        ) {
            continue;
        }
        let predicted = plan
            .predicted
            .requirements
            .iter()
            .find(|o| o.requirement == p.requirement)
            .filter(|o| !o.too_large)
            .and_then(|o| u64::try_from(o.predicted).ok());
        let median = model.path_median_us(&assignment, k).and_then(|s| s.get());
        let hist = st.paths.get(k);
        let cdf = hist
            .map(|h| {
                CDF_POINTS
                    .iter()
                    .filter_map(|&bp| Some((bp, h.quantile_bp(bp)?)))
                    .collect()
            })
            .unwrap_or_default();
        let err = (p.latency.count > 0)
            .then(|| error_permille(p.latency.p50_us, median))
            .flatten();
        paths.push(PathResult {
            requirement: p.requirement,
            from: p.from.clone(),
            to: p.to.clone(),
            percentile_bp: p.percentile_bp,
            bound_us: p.bound_us,
            predicted_us: predicted,
            predicted_median_us: median,
            samples: p.latency.count,
            p50_us: p.latency.p50_us,
            p99_us: p.latency.p99_us,
            measured_us: p.measured_us,
            met: p.met,
            median_error_permille: err,
            cdf,
        });
    }

    // Energy per fleet.
    let mut first = 0usize;
    let mut fleets = Vec::new();
    for f in &graph.fleets {
        let n = f.count as usize;
        let of_fleet = usage.get(first..first + n).unwrap_or(&[]);
        first += n;
        let total = |g: fn(&DeviceUsage) -> u64| -> u128 {
            of_fleet.iter().map(|u| u128::from(g(u))).sum()
        };
        let mean = |g: fn(&DeviceUsage) -> u64| -> u64 {
            u64::try_from(total(g) / (n.max(1) as u128)).unwrap_or(u64::MAX)
        };
        let energy_mean = mean(DeviceUsage::energy_uj);
        let outcome = plan.predicted.fleets.iter().find(|o| o.fleet == f.id);
        let cell = stop.cell_airtime_us.get(f.id.index()).copied().unwrap_or(0);
        let busiest_link = of_fleet
            .iter()
            .map(|u| u.link_airtime_us)
            .max()
            .unwrap_or(0)
            .max(cell);
        let radio_busy =
            u64::try_from(u128::from(busiest_link) * 1000 / u128::from(mission_us.max(1)))
                .unwrap_or(u64::MAX);
        let predicted_radio = outcome.and_then(|o| o.radio_busy_permille.get());
        if radio_busy > 900 {
            notes.push(format!(
                "fleet {}: its busiest radio link was on air {:.0}% of the run (the plan predicted {}): transfers queued behind each other, and latency grew with the queue",
                f.name,
                radio_busy as f64 / 10.0,
                predicted_radio.map_or("too much to compute".into(), |p| format!("{:.0}%", p as f64 / 10.0))
            ));
        }
        let out_of_range = mean(|u| u.out_of_range_us);
        if out_of_range > 0 {
            notes.push(format!(
                "fleet {}: its devices spent {:.0}% of the run beyond their radio range ({:.0} m from home): heartbeats and results waited until they came back (devices were declared failed and their work re-placed); the cost model assumes every device is always in range",
                f.name,
                out_of_range as f64 * 100.0 / mission_us.max(1) as f64,
                f.radio_range_mm.unwrap_or(0) as f64 / 1e3
            ));
        }
        let predicted = outcome
            .and_then(|o| o.energy_per_device_uj.get())
            .map(pro_rata);
        // The prediction is for the device that spends most (a battery
        // reserve holds for every device): compare the busiest one.
        let energy_max = of_fleet
            .iter()
            .map(DeviceUsage::energy_uj)
            .max()
            .unwrap_or(0);
        let err = error_permille(energy_max, predicted);
        if err.is_some_and(|e| e.abs() > 50) {
            notes.push(format!(
                "fleet {}: the busiest device spent {:.1} kJ vs predicted {:.1} kJ — the simulator charges motion as each device actually moves (cars only while moving, turns and acceleration included), compute per attempt run (relaunches and losers included) and radio per byte sent, down the links included",
                f.name,
                energy_max as f64 / 1e9,
                predicted.unwrap_or(0) as f64 / 1e9
            ));
        }
        fleets.push(FleetResult {
            fleet: f.name.clone(),
            devices: f.count,
            predicted_energy_per_device_uj: predicted,
            energy_mean_uj: energy_mean,
            energy_max_uj: energy_max,
            motion_mean_uj: mean(|u| u.motion_uj),
            cpu_mean_uj: mean(|u| u.cpu_uj),
            radio_mean_uj: mean(|u| u.radio_uj),
            energy_error_permille: err,
            battery_capacity_uj: f.battery_uj,
            depleted: of_fleet.iter().filter(|u| u.depleted).count() as u64,
            out_of_range_mean_us: out_of_range,
            radio_busy_permille: radio_busy,
            predicted_radio_busy_permille: predicted_radio,
        });
    }

    // Bytes.
    let predicted_uplink = plan
        .predicted
        .uplink_bytes_per_s
        .wide()
        .and_then(|b| u64::try_from(b * u128::from(mission_us) / 1_000_000).ok());
    let mut ups: Vec<u64> = usage.iter().map(|u| u.bytes_up).collect();
    ups.sort_unstable();
    let deciles = if ups.is_empty() {
        Vec::new()
    } else {
        (0..=10).map(|i| ups[((ups.len() - 1) * i) / 10]).collect()
    };
    let uplink_err = error_permille(r.counters.uplink_bytes, predicted_uplink);
    let bytes = BytesResult {
        predicted_uplink,
        uplink: r.counters.uplink_bytes,
        radio_up: usage.iter().map(|u| u.bytes_up).sum(),
        radio_down: usage.iter().map(|u| u.bytes_down).sum(),
        uplink_error_permille: uplink_err,
        per_device_deciles: deciles,
    };

    // Cloud cost: billed time × memory × price (MB × n$/GB-s × µs ÷ 10⁹).
    let billed_us = u128::from(stop.worker_run_us) + u128::from(stop.cold_start_us);
    let cost = u64::try_from(
        billed_us
            * u128::from(opts.profile.cloud.function_memory_mb)
            * u128::from(model.cloud_price_nusd_per_gb_s())
            / 1_000_000_000,
    )
    .unwrap_or(u64::MAX);
    let predicted_cost = plan
        .predicted
        .cloud_cost_nusd_per_hour
        .wide()
        .and_then(|c| u64::try_from(c * u128::from(mission_us) / 3_600_000_000).ok());
    let cost_err = error_permille(cost, predicted_cost);
    if cost_err.is_some_and(|e| e.abs() > 50) {
        notes.push(format!(
            "cloud cost measured ${:.4} vs predicted ${:.4} — the prediction bills an expected cold-start share per invocation; the simulator bills the cold starts that happened, the invocation overhead, storage fetches and the time invocations spent sharing a core",
            cost as f64 / 1e9,
            predicted_cost.unwrap_or(0) as f64 / 1e9
        ));
    }
    let cloud = CloudResult {
        predicted_cost_nusd: predicted_cost,
        cost_nusd: cost,
        cost_error_permille: cost_err,
        cold_starts: r.pool.cold_starts,
        warm_invocations: r.pool.warm_invocations,
        interfered: world.observed.interfered,
    };

    let unmodelled = Unmodelled {
        interfered: world.observed.interfered,
        concurrency: opts.config.pool.concurrency,
        queued: r.pool.queued_invocations,
        invocations: r
            .tasks
            .iter()
            .zip(&plan.tasks)
            .filter(|(_, tp)| tp.modality.is_cloud())
            .map(|(t, _)| t.created)
            .sum(),
    };
    for p in &paths {
        if p.median_error_permille.is_some_and(|e| e.abs() > 50) {
            notes.push(path_note(
                p,
                p.requirement as usize,
                plan,
                model,
                &unmodelled,
            ));
        }
    }

    let tasks = r
        .tasks
        .iter()
        .zip(&plan.tasks)
        .map(|(t, tp)| TaskResult {
            task: t.task.clone(),
            modality: tp.modality.name().to_string(),
            created: t.created,
            completed: t.completed,
            failed: t.failed,
            lost: t.lost,
            p50_us: t.latency.p50_us,
            p99_us: t.latency.p99_us,
        })
        .collect();
    let seconds = world
        .observed
        .completions_per_s
        .iter()
        .map(Vec::len)
        .max()
        .unwrap_or(0);
    let completions_per_s = (0..seconds)
        .map(|s| {
            world
                .observed
                .completions_per_s
                .iter()
                .map(|v| v.get(s).copied().unwrap_or(0))
                .sum()
        })
        .collect();
    StrategyRun {
        strategy: strategy_name(&plan.strategy),
        phase: match &r.phase {
            Phase::Finished => "finished".into(),
            p => format!("{p:?}").to_lowercase(),
        },
        seed: opts.seed,
        devices,
        duration_us: opts.duration_us,
        ended_us: world.now.0,
        events: world.events_handled,
        timeouts: world.timeouts_handled,
        paths,
        fleets,
        bytes,
        cloud,
        tasks,
        faults: FaultResult {
            injected: opts.faults.len(),
            kills: opts
                .faults
                .iter()
                .filter(|f| matches!(f, Injected::Kill(..)))
                .count(),
            devices_failed: r.counters.devices_failed,
            battery_deaths: world.observed.battery_deaths,
            relaunches: r.counters.relaunches,
            repartitions: r.counters.repartitions,
            restarts: world.restarts,
            shed_activations: r.counters.shed_activations,
        },
        completions_per_s,
        battery: world.observed.battery.clone(),
        tracks: world.observed.tracks.clone(),
        notes,
        failure_count: r.failures.len() as u64,
        failures: r
            .failures
            .iter()
            .take(20)
            .map(|f| format!("instance {} of `{}`: {}", f.instance, f.task, f.reason))
            .collect(),
        learning_predicted: plan
            .predicted
            .learning
            .iter()
            .map(|l| PredictedLearning {
                task: graph
                    .tasks
                    .get(l.task.index())
                    .map_or_else(String::new, |t| t.name.clone()),
                training_jobs: l.training_jobs,
                model_bytes_pushed: l.model_bytes_pushed,
            })
            .collect(),
        controller: r,
    }
}

/// Why a path's measured median is off its prediction.
/// What the world does that the cost model leaves out, for `measure`'s
/// notes.
struct Unmodelled {
    interfered: u64,
    concurrency: u32,
    /// Invocations that waited for a worker, of all cloud invocations.
    queued: u64,
    invocations: u64,
}

/// Why a path's measured median is off its prediction: the causes that
/// apply to this path.
fn path_note(
    p: &PathResult,
    k: usize,
    plan: &Plan,
    model: &CostModel,
    world: &Unmodelled,
) -> String {
    let graph = model.graph;
    let on_path = |t: TaskId| {
        model
            .path_tasks
            .get(k)
            .and_then(|on| on.get(t.index()))
            .copied()
            .unwrap_or(false)
    };
    // The cost model charges a device source's start command (the timer's
    // commit, then the link's latency) and the commit before every edge
    // down to a device (`cost::TaskCosts::start_us`); what it does not:
    let mut why = Vec::new();
    // Same-device hops the device does not run by itself (a join, a
    // fan-out, an `assign`: `ir::local`) still go through the controller.
    let local_hops = plan
        .channels
        .iter()
        .filter(|c| {
            c.kind == hivemind_ir::plan::ChannelKind::DeviceLocal
                && on_path(c.from)
                && on_path(c.to)
                && !hivemind_ir::local::runs_on_device(graph, plan, c.from, c.to)
        })
        .count();
    if local_hops > 0 && p.median_error_permille.is_some_and(|e| e > 0) {
        why.push(format!(
            "{local_hops} same-device hop(s) on the path that the device does not run by itself (a join, fan-out or `assign` consumer): the cost model charges none, but the core places such a consumer itself (a round trip over the radio each)"
        ));
    }
    if graph.fleets.iter().any(|f| f.radio_shared) {
        why.push("a shared radio: transfers of the fleet's devices queue on one channel".into());
    }
    if world.queued > 0 {
        why.push(format!(
            "{} of {} cloud invocations waited for a free worker (a fan-out releases all its items at once, and cold starts take time); the cost model starts every invocation at once",
            world.queued, world.invocations
        ));
    }
    if world.interfered > 0 {
        why.push(format!(
            "{} invocations shared a core with another (more workers than cores, or up to {} invocations per worker), while the cost model gives every invocation a core of its own",
            world.interfered, world.concurrency
        ));
    }
    if why.is_empty() {
        why.push("queueing on links, cores or workers, cold starts and relaunches, which the cost model does not charge".into());
    }
    format!(
        "path {} -> {}: median measured {:.1} ms vs predicted {:.1} ms — {}",
        p.from,
        p.to,
        p.p50_us as f64 / 1e3,
        p.predicted_median_us.unwrap_or(0) as f64 / 1e3,
        why.join("; ")
    )
}
