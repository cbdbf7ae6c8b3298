//! The mission report: what happened, per task kind and per device.

use crate::core::{Controller, Counters, DeviceStatus, Phase};
use crate::histogram::Histogram;
use crate::pool::PoolStats;
use hivemind_ir::RequirementKind;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissionReport {
    pub mission: String,
    pub seed: u64,
    pub phase: Phase,
    pub started_at_us: Option<u64>,
    pub finished_at_us: Option<u64>,
    pub tasks: Vec<TaskReport>,
    pub devices: Vec<DeviceReport>,
    /// The core's counters, as fields of the report (one source of truth).
    #[serde(flatten)]
    pub counters: Counters,
    /// Measured latency of every `require latency(a -> b)` path.
    pub paths: Vec<PathReport>,
    pub pool: PoolStats,
    pub failures: Vec<FailureReport>,
    /// Continuous learning, per retrain.
    pub learning: Vec<LearningReport>,
}

/// What one `retrain` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LearningReport {
    pub task: String,
    pub rounds: u64,
    /// Rounds with no new sample (no training job).
    pub skipped_rounds: u64,
    pub training_jobs: u64,
    pub failed_jobs: u64,
    pub samples_trained: u64,
    /// The last version trained (0: never retrained).
    pub model_version: u32,
    /// Downloads sent to devices and their bytes.
    pub model_pushes: u64,
    pub model_bytes_pushed: u64,
    /// Devices whose current registration reported the latest version loaded.
    pub devices_on_latest: u64,
    /// Completed results of the task per model version that produced them.
    pub results_by_version: Vec<VersionCount>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionCount {
    pub version: u32,
    pub results: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskReport {
    pub task: String,
    /// Activations (firings; one per device for per-device tasks).
    pub activations: u64,
    /// Instances created (activations × their width).
    pub created: u64,
    pub completed: u64,
    pub failed: u64,
    /// Firings lost with their device: readings a device fired by itself
    /// (on a grant) and never reported before it was declared failed; no
    /// other device can take them. `created = completed + failed + lost`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lost: u64,
    pub relaunches: u64,
    pub duplicates_discarded: u64,
    /// Created to completed.
    pub latency: Latency,
    /// Dispatch of the winning attempt to its result.
    pub service: Latency,
}

/// Quantiles in µs, from a histogram with under 1 % relative error
/// (rounded up, never down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Latency {
    pub count: u64,
    pub p50_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

impl Latency {
    pub fn of(h: &Histogram) -> Latency {
        Latency {
            count: h.count(),
            p50_us: h.quantile_bp(5_000).unwrap_or(0),
            p95_us: h.quantile_bp(9_500).unwrap_or(0),
            p99_us: h.quantile_bp(9_900).unwrap_or(0),
            max_us: h.quantile_bp(10_000).unwrap_or(0),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceReport {
    pub device: u32,
    pub fleet: String,
    pub epoch: u32,
    pub status: DeviceStatus,
    pub completed: u64,
    /// Battery spent over all epochs, from telemetry.
    pub energy_uj: u64,
    pub bytes_sent: u64,
}

/// A required path as measured: from the activation of its first task to
/// the completion of its last, along the chain of producers that triggered
/// each step (at a join, the input that arrived last).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathReport {
    /// The requirement's id (its index in the task graph).
    pub requirement: u32,
    pub from: String,
    pub to: String,
    pub latency: Latency,
    /// The requirement's percentile (basis points) and bound, the measured
    /// latency at that percentile (histogram quantile, rounded up), and
    /// whether it is within the bound. No samples: `measured_us` is 0 and
    /// `met` false.
    pub percentile_bp: u32,
    pub bound_us: u64,
    pub measured_us: u64,
    pub met: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureReport {
    pub instance: u64,
    pub task: String,
    pub reason: String,
}

impl Controller {
    pub fn report(&self) -> MissionReport {
        let st = self.state();
        let c = &st.counters;
        MissionReport {
            mission: st.graph.mission.clone(),
            seed: st.seed,
            phase: st.phase.clone(),
            started_at_us: st.started_at.map(|t| t.0),
            finished_at_us: st.finished_at.map(|t| t.0),
            tasks: st
                .graph
                .tasks
                .iter()
                .zip(&st.kinds)
                .map(|(t, k)| TaskReport {
                    task: t.name.clone(),
                    activations: k.activations,
                    created: k.created,
                    completed: k.completed,
                    failed: k.failed,
                    lost: k.lost,
                    relaunches: k.relaunches,
                    duplicates_discarded: k.duplicates,
                    latency: Latency::of(&k.latency),
                    service: Latency::of(&k.service),
                })
                .collect(),
            devices: st
                .devices
                .iter()
                .map(|(id, d)| DeviceReport {
                    device: id.0,
                    fleet: st.graph.fleets[d.fleet.index()].name.clone(),
                    epoch: d.epoch.0,
                    status: d.status,
                    completed: d.completed,
                    energy_uj: d.energy_uj + d.battery_at_join_uj.saturating_sub(d.battery_uj),
                    bytes_sent: d.bytes_sent,
                })
                .collect(),
            counters: c.clone(),
            paths: self
                .latency_paths()
                .iter()
                .zip(&st.paths)
                .map(|(&(r, from, to), h)| {
                    let req = &st.graph.requirements[r];
                    let (percentile_bp, bound_us) = match req.kind {
                        RequirementKind::Latency {
                            percentile_bp,
                            bound_us,
                            ..
                        } => (percentile_bp, bound_us),
                        _ => (10_000, 0),
                    };
                    let measured = h.quantile_bp(percentile_bp);
                    PathReport {
                        requirement: req.id,
                        from: st.graph.tasks[from.index()].name.clone(),
                        to: st.graph.tasks[to.index()].name.clone(),
                        latency: Latency::of(h),
                        percentile_bp,
                        bound_us,
                        measured_us: measured.unwrap_or(0),
                        met: measured.is_some_and(|m| {
                            if req.inclusive {
                                m <= bound_us
                            } else {
                                m < bound_us
                            }
                        }),
                    }
                })
                .collect(),
            pool: st.pool.stats.clone(),
            failures: st
                .failures
                .iter()
                .map(|f| FailureReport {
                    instance: f.instance.0,
                    task: st.graph.tasks[f.task.index()].name.clone(),
                    reason: f.reason.clone(),
                })
                .collect(),
            learning: st
                .learning
                .models
                .iter()
                .map(|m| LearningReport {
                    task: st.graph.tasks[m.task.index()].name.clone(),
                    rounds: m.rounds,
                    skipped_rounds: m.skipped_rounds,
                    training_jobs: m.jobs_completed,
                    failed_jobs: m.jobs_failed,
                    samples_trained: m.samples_trained,
                    model_version: m.version,
                    model_pushes: m.pushes,
                    model_bytes_pushed: m.bytes_pushed,
                    devices_on_latest: m
                        .loaded
                        .values()
                        .filter(|&&v| v == m.version && v > 0)
                        .count() as u64,
                    results_by_version: m
                        .results_by_version
                        .iter()
                        .map(|(&version, &results)| VersionCount { version, results })
                        .collect(),
                })
                .collect(),
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
