//! Continuous learning in the cost model: what each `retrain` costs.
//!
//! Counts come from [`hivemind_ir::activation::retraining`] (rounds,
//! training jobs, samples per job); this module only prices them:
//!
//! * **Training** runs in the cloud whatever the placement: every job is one
//!   serverless invocation on one core, `samples × work per sample` at the
//!   cloud's speed, billed like a task (run time plus the expected share of
//!   a cold start, × function memory × price) and counted as cloud CPU load.
//!   A mission-wide constant: the synthesizer adds it to the cost and to the
//!   cloud's CPU use.
//! * **Model push**: when the retrained task runs on the edge, every job's
//!   model goes to every device of its fleet (any of them may run the task):
//!   `jobs × devices` downloads of `model_bytes`, counted as radio load on
//!   that fleet (up and down share the medium, as for data edges) and as
//!   receive energy on each device. In the cloud the model goes to the
//!   function: no radio. A per-(task, edge) coefficient, so placing the task
//!   on the edge costs the push.
//!
//! Per-hour figures are mission averages (rounds over the mission ÷ its
//! hours): a short mission has fewer rounds than its hours × the rate. All
//! arithmetic is in `u128`; a figure beyond 64 bits is [`Sat::TOO_LARGE`],
//! which no requirement or capacity accepts.

use crate::model::CostModel;
use hivemind_ir::activation::{self, Rate, Retraining};
use hivemind_ir::{FleetId, Sat, TaskId};

const HOUR_US: u128 = 3_600_000_000;

/// The cost of one `retrain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrainCost {
    pub task: TaskId,
    pub data: TaskId,
    /// The fleet that receives the model when the task runs on the edge.
    pub fleet: Option<FleetId>,
    pub retraining: Retraining,
    /// One training job on one cloud core.
    pub train_us: Sat,
    /// Cloud CPU time per hour of all jobs.
    pub busy_us_per_hour: Sat,
    /// Serverless cost per hour of all jobs.
    pub cost_nusd_per_hour: Sat,
    /// When the task runs on the edge: downloads over the mission (jobs ×
    /// devices of the fleet), their bytes, the bytes per hour on the
    /// fleet's radios, and the receive energy of all devices.
    pub pushes: Sat,
    pub push_bytes: Sat,
    pub radio_bytes_per_hour: Sat,
    pub push_energy_uj: Sat,
    /// One download on one device's link (latency + bytes ÷ rate).
    pub push_us: Sat,
}

/// Saturating `u128` arithmetic stays at `u128::MAX`, far beyond 64 bits:
/// a saturated intermediate is too large here too.
fn sat(x: u128) -> Sat {
    Sat::from_u128(x)
}

impl CostModel<'_> {
    /// The cost of every retrain that takes effect
    /// ([`activation::retrains`]), in the graph's order.
    pub(crate) fn retrain_costs(&self, rates: &[Rate]) -> Vec<RetrainCost> {
        let g = self.graph;
        let duration = u128::from(self.duration_us.max(1));
        let per_hour = |per_mission: u128| per_mission.saturating_mul(HOUR_US) / duration;
        let cloud_ops_per_s = u128::from(self.cloud_ops_per_s());
        let price = u128::from(self.cloud_price_nusd_per_gb_s());
        // The cold-start share fits (cold starts are range-checked).
        let expected_cold = self.expected_cold_us().wide().unwrap_or(u128::MAX);
        activation::retrains(g)
            .iter()
            .map(|r| {
                let retraining = activation::retraining(g, rates, r, self.duration_us);
                let ops = retraining
                    .samples_per_job
                    .saturating_mul(u128::from(r.train_ops_per_sample));
                let train_us = ops.saturating_mul(1_000_000) / cloud_ops_per_s.max(1);
                let billed_per_job = train_us.saturating_add(expected_cold);
                let cost_per_job = billed_per_job
                    .saturating_mul(u128::from(self.profile.cloud.function_memory_mb))
                    .saturating_mul(price)
                    / 1_000
                    / 1_000_000;
                let fleet = self.fleet_of(r.task);
                let (devices, link) = match fleet {
                    Some(f) => (u128::from(g.fleets[f.index()].count), self.link(f)),
                    None => (0, (1, 0, 0)),
                };
                let (bps, latency_us, nj_per_bit) = link;
                let pushes = retraining.jobs.saturating_mul(devices);
                let model = u128::from(r.model_bytes);
                let push_bytes = pushes.saturating_mul(model);
                RetrainCost {
                    task: r.task,
                    data: r.data,
                    fleet,
                    retraining,
                    train_us: sat(train_us),
                    busy_us_per_hour: sat(per_hour(retraining.jobs.saturating_mul(train_us))),
                    cost_nusd_per_hour: sat(per_hour(retraining.jobs.saturating_mul(cost_per_job))),
                    pushes: sat(pushes),
                    push_bytes: sat(push_bytes),
                    radio_bytes_per_hour: sat(per_hour(push_bytes)),
                    push_energy_uj: sat(
                        push_bytes.saturating_mul(8).saturating_mul(nj_per_bit) / 1_000
                    ),
                    push_us: sat(
                        latency_us.saturating_add(model.saturating_mul(8_000_000) / bps.max(1))
                    ),
                }
            })
            .collect()
    }
}
