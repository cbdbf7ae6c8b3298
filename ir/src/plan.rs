//! The deployment plan: what the placement synthesizer decides and the
//! controller executes. Pure data (no z3 here): the controller and the
//! simulator read plans without linking the solver.
//!
//! Conventions are those of [`crate::graph`]: integer quantities with the unit
//! in the field suffix, ids that index the task graph, deterministic JSON.

use crate::graph::{EdgeKind, FleetId, TaskGraph, TaskId};
use crate::quantity::Sat;
use serde::{Deserialize, Serialize};

/// Bumped on any incompatible change to the JSON shape.
pub const PLAN_SCHEMA_VERSION: u32 = 3;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub schema_version: u32,
    pub mission: String,
    /// The mission the plan places ([`TaskGraph::identity_sha256`]): a plan
    /// is refused for any other mission.
    pub graph_sha256: String,
    /// The cost profile its predictions were made with (provenance only:
    /// any profile may re-predict a plan).
    pub profile_sha256: String,
    pub strategy: Strategy,
    /// One entry per task, in task-id order (`tasks[i].task == TaskId(i)`).
    pub tasks: Vec<TaskPlan>,
    /// One channel per graph edge, in edge order.
    pub channels: Vec<Channel>,
    /// Functions to start before the first invocation, and how many workers.
    pub prewarm: Vec<Prewarm>,
    pub predicted: Predicted,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Strategy {
    /// From the optimiser; `proven` is false when it stopped at its time limit.
    Optimised { proven: bool },
    /// Everything in the cloud except sensing and actuation.
    Centralized,
    /// Everything on the vehicles.
    Decentralized,
    /// A heuristic plan (used as a warm start and as a fallback).
    Greedy,
    /// Written by hand or by a test.
    Manual,
}

/// Where one task runs: HiveMind's "execution modalities".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Modality {
    /// On the devices of `TaskPlan::fleet`.
    Edge,
    /// A serverless function in the cloud; data between cloud functions goes
    /// through storage unless parent and child share a worker.
    Cloud,
    /// A serverless function whose inputs and outputs move through the FPGA
    /// remote-memory fabric instead of storage.
    CloudFpga,
}

impl Modality {
    pub const ALL: [Modality; 3] = [Modality::Edge, Modality::Cloud, Modality::CloudFpga];
    pub fn is_cloud(self) -> bool {
        !matches!(self, Modality::Edge)
    }
    pub fn name(self) -> &'static str {
        match self {
            Modality::Edge => "edge",
            Modality::Cloud => "cloud",
            Modality::CloudFpga => "cloud+fpga",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskPlan {
    pub task: TaskId,
    pub modality: Modality,
    /// The fleet whose devices run the task (edge modality only).
    pub fleet: Option<FleetId>,
    /// Parallel instances per activation: the fan-out width, or the number of
    /// devices for a task that runs on every device of its fleet.
    pub instances: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// Producer and consumer on the same device: a local hand-off.
    DeviceLocal,
    /// Device → cloud over the vehicle's radio (QUIC to the controller).
    Uplink,
    /// Cloud → device.
    Downlink,
    /// Device → device through the controller (different devices or fleets).
    DeviceToDevice,
    /// Child function runs in its parent's worker: an in-memory hand-off.
    CloudInWorker,
    /// Cloud → cloud through FPGA remote memory (one-sided write/read).
    CloudRemoteMemory,
    /// Cloud → cloud through storage (the serverless default).
    CloudStorage,
    /// An ordering edge without data.
    Control,
}

impl ChannelKind {
    /// Whether a value on this channel leaves a device for the controller:
    /// what the cost model's uplink bytes and the controller's uplink count
    /// both count (device to device goes up, then down).
    pub fn is_uplink(self) -> bool {
        matches!(self, ChannelKind::Uplink | ChannelKind::DeviceToDevice)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    /// Index into `TaskGraph::edges`.
    pub edge: u32,
    pub from: TaskId,
    pub to: TaskId,
    pub kind: ChannelKind,
    /// Bytes per transfer (0 for control).
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prewarm {
    pub function: String,
    pub workers: u32,
}

/// What the cost model predicts for the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Predicted {
    /// One entry per requirement of the graph, in order.
    pub requirements: Vec<RequirementOutcome>,
    /// Per fleet: energy one device spends over the mission and what is left.
    pub fleets: Vec<FleetOutcome>,
    /// Bytes per second from all devices to the cloud.
    pub uplink_bytes_per_s: Sat,
    /// Serverless cost in nano-dollars per hour.
    pub cloud_cost_nusd_per_hour: Sat,
    /// Sum of the predicted latencies of the required paths (the latency objective).
    pub latency_us: Sat,
    /// Total device energy over the mission across all devices (the energy objective).
    pub energy_uj: Sat,
    /// CPU utilisation of all cloud cores, ‰ (too large: overloaded).
    pub cloud_busy_permille: Sat,
    /// Per `retrain` that takes effect, in order: continuous learning.
    pub learning: Vec<RetrainOutcome>,
}

/// What one `retrain` is predicted to do over the mission
/// ([`crate::activation::retraining`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrainOutcome {
    pub task: TaskId,
    /// Counts are compared with what the controller executes; each is
    /// `u64::MAX` when too large (read them as [`Sat::new`]).
    pub rounds: u64,
    /// Rounds with samples: each one cloud training job and one model version.
    pub training_jobs: u64,
    pub samples_per_job: u64,
    /// One job's run on one cloud core.
    pub train_us_per_job: Sat,
    /// Serverless cost of the training jobs (included in `cloud_cost_nusd_per_hour`).
    pub cost_nusd_per_hour: Sat,
    /// Model downloads (jobs × devices of the task's fleet when it runs on
    /// the edge; 0 in the cloud) and their bytes, over the mission.
    pub model_pushes: u64,
    pub model_bytes_pushed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequirementOutcome {
    pub requirement: u32,
    /// Predicted value in the requirement's unit (µs, n$/h, basis points);
    /// `i64::MAX` (a battery reserve: `i64::MIN`) when `too_large`.
    pub predicted: i64,
    pub bound: i64,
    /// Positive: room left; negative: violated by that much (saturated).
    pub margin: i64,
    pub met: bool,
    /// The predicted value (for a battery reserve: the energy drawn) does
    /// not fit in 64 bits: never met, reported as "too large".
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub too_large: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetOutcome {
    pub fleet: FleetId,
    pub energy_per_device_uj: Sat,
    /// Battery left at mission end, basis points of capacity (may be
    /// negative; `i64::MIN` when the energy is too large).
    pub reserve_bp: i64,
    /// CPU utilisation of all the fleet's cores, ‰ (over 1000 or too large: overloaded).
    pub cpu_busy_permille: Sat,
    /// Radio utilisation of the fleet's links, ‰ (over 1000 or too large: oversubscribed).
    pub radio_busy_permille: Sat,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("not a HiveMind plan: {0}")]
    Json(#[from] serde_json::Error),
    #[error("plan schema version {found} is not supported (this build reads version {PLAN_SCHEMA_VERSION})")]
    Version { found: u64 },
    #[error("plan was made for mission `{plan}` (identity {plan_hash}), not for this `{graph}` (identity {graph_hash}); the mission changed: run `hivemind synth` again")]
    Mismatch {
        plan: String,
        plan_hash: String,
        graph: String,
        graph_hash: String,
    },
    #[error("plan does not fit its task graph: {0}")]
    Inconsistent(String),
}

impl Plan {
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Read a plan and check it places `graph` (same mission meaning).
    pub fn from_json(text: &str, graph: &TaskGraph) -> Result<Plan, PlanError> {
        let value: serde_json::Value = serde_json::from_str(text)?;
        let found = value
            .get("schema_version")
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        if found != u64::from(PLAN_SCHEMA_VERSION) {
            return Err(PlanError::Version { found });
        }
        let plan: Plan = serde_json::from_value(value)?;
        let identity = graph.identity_sha256();
        if plan.graph_sha256 != identity || plan.mission != graph.mission {
            return Err(PlanError::Mismatch {
                plan: plan.mission,
                plan_hash: plan.graph_sha256,
                graph: graph.mission.clone(),
                graph_hash: identity,
            });
        }
        plan.validate(graph)?;
        Ok(plan)
    }

    /// Every task and edge of the graph is covered, in order, with sane fields.
    pub fn validate(&self, graph: &TaskGraph) -> Result<(), PlanError> {
        let bad = |s: String| Err(PlanError::Inconsistent(s));
        if self.tasks.len() != graph.tasks.len() {
            return bad(format!(
                "{} task placements for {} tasks",
                self.tasks.len(),
                graph.tasks.len()
            ));
        }
        let fleets = edge_fleets(graph);
        for (i, t) in self.tasks.iter().enumerate() {
            if t.task.index() != i {
                return bad(format!("placement {i} is for task {}", t.task.0));
            }
            match (t.modality, t.fleet) {
                (Modality::Edge, Some(f)) if f.index() < graph.fleets.len() => {}
                (Modality::Edge, _) => return bad(format!("edge task {i} has no valid fleet")),
                (_, Some(_)) => return bad(format!("cloud task {i} names a fleet")),
                _ => {}
            }
            if t.instances == 0 {
                return bad(format!("task {i} has zero instances"));
            }
            if !allowed(graph, t.task, t.modality) {
                return bad(format!(
                    "task `{}` cannot run at {} (its pin, sensors or behaviour, or no cloud)",
                    graph.tasks[i].name,
                    t.modality.name()
                ));
            }
            if t.modality == Modality::Edge && t.fleet != fleets[i] {
                return bad(format!(
                    "task `{}` is placed on another fleet than its own",
                    graph.tasks[i].name
                ));
            }
        }
        if self.channels.len() != graph.edges.len() {
            return bad(format!(
                "{} channels for {} edges",
                self.channels.len(),
                graph.edges.len()
            ));
        }
        for (i, (c, e)) in self.channels.iter().zip(&graph.edges).enumerate() {
            if c.edge as usize != i || c.from != e.from || c.to != e.to {
                return bad(format!("channel {i} does not match edge {i}"));
            }
        }
        Ok(())
    }
}

/// The fleet an edge task runs on: its pin, else the fleet of the nearest
/// pinned ancestor along first inputs, else the first fleet with the sensors
/// it needs, else the first fleet. Static (independent of where other tasks
/// run) so costs stay pairwise; used by the synthesizer, the baselines and
/// the controller alike.
/// For one task, this walks its chain of first inputs; use [`edge_fleets`]
/// for many (one pass for the whole graph).
pub fn edge_fleet(graph: &TaskGraph, task: TaskId) -> Option<FleetId> {
    use crate::graph::Placement;
    let mut at = task;
    for _ in 0..graph.tasks.len() {
        let t = &graph.tasks[at.index()];
        if let Placement::Fleet { fleet } = t.placement {
            return Some(fleet);
        }
        match t.inputs.first() {
            Some(i) => at = i.producer,
            None => break,
        }
    }
    fallback_fleet(graph, task)
}

/// [`edge_fleet`] of every task, in O(tasks + fleets × sensors): the
/// nearest pinned ancestor along first inputs is carried down the chain
/// once instead of walked from every task.
pub fn edge_fleets(graph: &TaskGraph) -> Vec<Option<FleetId>> {
    use crate::graph::Placement;
    let n = graph.tasks.len();
    // The pinned fleet at the top of each task's first-input chain; filled
    // in dependency order (a cycle, refused by `validate`, falls back).
    let mut pinned: Vec<Option<Option<FleetId>>> = vec![None; n];
    let mut stack = Vec::new();
    for start in 0..n {
        let mut at = start;
        // Walk up until a task whose answer is known, a pin, or a source.
        let found = loop {
            if let Some(known) = pinned[at] {
                break known;
            }
            let t = &graph.tasks[at];
            if let Placement::Fleet { fleet } = t.placement {
                pinned[at] = Some(Some(fleet));
                break Some(fleet);
            }
            match t.inputs.first() {
                Some(i) if i.producer.index() < n && stack.len() < n => {
                    stack.push(at);
                    at = i.producer.index();
                }
                _ => {
                    pinned[at] = Some(None);
                    break None;
                }
            }
        };
        for t in stack.drain(..) {
            pinned[t] = Some(found);
        }
    }
    (0..n)
        .map(|i| {
            pinned[i]
                .flatten()
                .or_else(|| fallback_fleet(graph, TaskId(i as u32)))
        })
        .collect()
}

/// A task with no pinned ancestor: the first fleet with the sensors it
/// needs, else the first fleet.
fn fallback_fleet(graph: &TaskGraph, task: TaskId) -> Option<FleetId> {
    let t = &graph.tasks[task.index()];
    graph
        .fleets
        .iter()
        .find(|f| {
            t.needs
                .iter()
                .all(|n| f.sensors.iter().any(|s| s.kind == n.kind))
        })
        .or(graph.fleets.first())
        .map(|f| f.id)
}

/// Parallel instances of one activation of `task` placed at `modality`
/// (the rule is [`crate::activation::instances`]).
pub fn instances(
    graph: &TaskGraph,
    task: TaskId,
    modality: Modality,
    fleet: Option<FleetId>,
) -> u32 {
    let fleet_size = match (modality, fleet) {
        (Modality::Edge, Some(f)) => graph.fleets.get(f.index()).map(|f| f.count),
        _ => None,
    };
    crate::activation::instances(graph, task, fleet_size)
}

/// Build a plan from one modality per task: fleets, instances, channel kinds
/// and prewarming follow from it. Predictions are left empty for the cost
/// model to fill.
pub fn assemble(
    graph: &TaskGraph,
    modalities: &[Modality],
    strategy: Strategy,
    profile_sha256: &str,
) -> Plan {
    let fleets = edge_fleets(graph);
    let tasks: Vec<TaskPlan> = graph
        .tasks
        .iter()
        .map(|t| {
            let modality = modalities
                .get(t.id.index())
                .copied()
                .unwrap_or(Modality::Cloud);
            let fleet = (modality == Modality::Edge)
                .then(|| fleets[t.id.index()])
                .flatten();
            TaskPlan {
                task: t.id,
                modality,
                fleet,
                instances: instances(graph, t.id, modality, fleet),
            }
        })
        .collect();
    let channels = graph
        .edges
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let (a, b) = (&tasks[e.from.index()], &tasks[e.to.index()]);
            let bytes = match &e.kind {
                EdgeKind::Data { bytes, .. } => *bytes,
                EdgeKind::Order => 0,
            };
            let kind = channel_kind(graph, e, a.modality, b.modality, a.fleet, b.fleet);
            Channel {
                edge: i as u32,
                from: e.from,
                to: e.to,
                kind,
                bytes,
            }
        })
        .collect();
    // One warm worker per cloud function; the synthesizer replaces this with
    // the expected concurrency from the cost model, and the controller
    // autoscales from there.
    let mut prewarm: Vec<Prewarm> = Vec::new();
    for (t, p) in graph.tasks.iter().zip(&tasks) {
        if let (true, Some(f)) = (p.modality.is_cloud(), &t.function) {
            if !prewarm.iter().any(|w| &w.function == f) {
                prewarm.push(Prewarm {
                    function: f.clone(),
                    workers: 1,
                });
            }
        }
    }
    Plan {
        schema_version: PLAN_SCHEMA_VERSION,
        mission: graph.mission.clone(),
        graph_sha256: graph.identity_sha256(),
        profile_sha256: profile_sha256.to_string(),
        strategy,
        tasks,
        channels,
        prewarm,
        predicted: Predicted {
            requirements: Vec::new(),
            fleets: Vec::new(),
            uplink_bytes_per_s: Sat::ZERO,
            cloud_cost_nusd_per_hour: Sat::ZERO,
            latency_us: Sat::ZERO,
            energy_uj: Sat::ZERO,
            cloud_busy_permille: Sat::ZERO,
            learning: Vec::new(),
        },
    }
}

/// Whether the task can physically run at `modality`: a task that moves a
/// vehicle or reads a sensor needs a device; the cloud modalities need a
/// cloud (and an FPGA for remote memory). Pins are not considered.
pub fn possible(graph: &TaskGraph, task: TaskId, modality: Modality) -> bool {
    let t = &graph.tasks[task.index()];
    let edge_only = t.behaviour.is_some() || !t.needs.is_empty() || t.assign.is_some();
    match modality {
        Modality::Edge => !graph.fleets.is_empty(),
        Modality::Cloud => graph.cloud.is_some() && !edge_only,
        Modality::CloudFpga => graph.cloud.as_ref().is_some_and(|c| c.fpga) && !edge_only,
    }
}

/// Whether the mission's pin on the task rules `modality` out.
pub fn pinned_out(graph: &TaskGraph, task: TaskId, modality: Modality) -> bool {
    use crate::graph::Placement;
    matches!(
        (graph.tasks[task.index()].placement, modality),
        (Placement::Cloud, Modality::Edge)
            | (
                Placement::Edge | Placement::Fleet { .. },
                Modality::Cloud | Modality::CloudFpga
            )
    )
}

/// Whether the task may run at `modality`: possible and not pinned elsewhere.
pub fn allowed(graph: &TaskGraph, task: TaskId, modality: Modality) -> bool {
    possible(graph, task, modality) && !pinned_out(graph, task, modality)
}

/// The channel an edge becomes when its ends run at `a` and `b` (the single
/// rule; [`assemble`] uses it too).
pub fn channel_kind(
    graph: &TaskGraph,
    e: &crate::graph::Edge,
    a: Modality,
    b: Modality,
    from_fleet: Option<FleetId>,
    to_fleet: Option<FleetId>,
) -> ChannelKind {
    let to = &graph.tasks[e.to.index()];
    match (&e.kind, a, b) {
        (EdgeKind::Order, _, _) => ChannelKind::Control,
        (_, Modality::Edge, Modality::Edge) => {
            if from_fleet == to_fleet && to.gather.is_none() {
                ChannelKind::DeviceLocal
            } else {
                ChannelKind::DeviceToDevice
            }
        }
        (_, Modality::Edge, _) => ChannelKind::Uplink,
        (_, _, Modality::Edge) => ChannelKind::Downlink,
        (_, Modality::CloudFpga, _) | (_, _, Modality::CloudFpga) => ChannelKind::CloudRemoteMemory,
        _ if to.inputs.len() == 1 && to.gather.is_none() && to.fanout.is_none() => {
            ChannelKind::CloudInWorker
        }
        _ => ChannelKind::CloudStorage,
    }
}
