//! What a plan is predicted to do: the cost model's evaluation written into
//! the plan, prewarm sizing, the baseline placements and the inputs hash.
//! Everything here is what a simulator or a report needs without a solver.

use crate::{CostModel, Evaluation, Profile};
use hivemind_ir::plan::{
    self, FleetOutcome, Modality, Plan, Predicted, RequirementOutcome, RetrainOutcome, Strategy,
};
use hivemind_ir::{RequirementKind, Sat};
use sha2::{Digest, Sha256};

/// SHA-256 of a cost profile: the provenance of a plan's predictions.
pub fn profile_hash(profile: &Profile) -> String {
    let text = serde_json::to_string(profile).unwrap_or_default();
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

/// A plan for `assignment` with the cost model's predictions filled in.
pub fn plan_for(model: &CostModel, assignment: &[Modality], strategy: Strategy) -> Plan {
    let mut p = plan::assemble(
        model.graph,
        assignment,
        strategy,
        &profile_hash(&model.profile),
    );
    p.predicted = predicted(model, &model.evaluate(assignment));
    p.predicted.learning = learning(model, assignment);
    // Warm workers per function: the expected number of concurrent
    // invocations (Little's law: busy time per hour / one hour), rounded up.
    for w in &mut p.prewarm {
        let busy: Sat = model
            .graph
            .tasks
            .iter()
            .filter(|t| {
                t.function.as_deref() == Some(w.function.as_str())
                    && assignment[t.id.index()].is_cloud()
            })
            .map(|t| {
                model.tasks[t.id.index()].busy_us_per_hour
                    [crate::modality_index(assignment[t.id.index()])]
            })
            .sum();
        // A load too large to compute asks for every worker there is.
        w.workers = busy
            .wide()
            .and_then(|b| u32::try_from(b.div_ceil(3_600_000_000)).ok())
            .unwrap_or(u32::MAX)
            .max(1);
    }
    p
}

pub fn predicted(model: &CostModel, e: &Evaluation) -> Predicted {
    let g = model.graph;
    Predicted {
        requirements: g
            .requirements
            .iter()
            .zip(&e.requirements)
            .map(|(r, v)| {
                let lower_bound = matches!(r.kind, RequirementKind::BatteryReserve { .. });
                let (predicted, margin) = match (v.predicted, lower_bound) {
                    (Some(p), true) => (p, p.saturating_sub(v.bound)),
                    (Some(p), false) => (p, v.bound.saturating_sub(p)),
                    // Too large: a reserve that far below zero, or a value
                    // that far above its bound.
                    (None, true) => (i64::MIN, i64::MIN),
                    (None, false) => (i64::MAX, i64::MIN),
                };
                RequirementOutcome {
                    requirement: r.id,
                    predicted,
                    bound: v.bound,
                    margin,
                    met: v.met,
                    too_large: v.predicted.is_none(),
                }
            })
            .collect(),
        fleets: g
            .fleets
            .iter()
            .map(|f| FleetOutcome {
                fleet: f.id,
                energy_per_device_uj: e.fleet_energy_uj[f.id.index()]
                    .mul_div(1, u128::from(f.count.max(1))),
                reserve_bp: crate::reserve_bp(
                    model.battery_uj[f.id.index()],
                    e.fleet_energy_uj[f.id.index()],
                )
                .unwrap_or(i64::MIN),
                cpu_busy_permille: e.fleet_busy_permille[f.id.index()],
                radio_busy_permille: e.fleet_radio_permille[f.id.index()],
            })
            .collect(),
        uplink_bytes_per_s: e.uplink_bytes_per_hour.mul_div(1, 3_600),
        cloud_cost_nusd_per_hour: e.cloud_cost_nusd_per_hour,
        latency_us: e.latency_us,
        energy_uj: e.energy_uj,
        cloud_busy_permille: e.cloud_busy_permille,
        learning: Vec::new(),
    }
}

/// Every retrain's predicted rounds, jobs, cost and model pushes under
/// `assignment` (pushes only where the retrained task runs on the edge).
pub fn learning(model: &CostModel, assignment: &[Modality]) -> Vec<RetrainOutcome> {
    // Counts, compared with the controller's: explicitly saturated.
    let sat = |x: u128| Sat::from_u128(x).saturated();
    model
        .learning
        .iter()
        .map(|l| {
            let edge = assignment.get(l.task.index()) == Some(&Modality::Edge);
            RetrainOutcome {
                task: l.task,
                rounds: sat(l.retraining.rounds),
                training_jobs: sat(l.retraining.jobs),
                samples_per_job: sat(l.retraining.samples_per_job),
                train_us_per_job: l.train_us,
                cost_nusd_per_hour: l.cost_nusd_per_hour,
                model_pushes: if edge { l.pushes.saturated() } else { 0 },
                model_bytes_pushed: if edge { l.push_bytes.saturated() } else { 0 },
            }
        })
        .collect()
}

/// Baseline placement: each task at the first modality in `preference` it allows.
pub fn baseline(model: &CostModel, preference: [Modality; 3]) -> Option<Vec<Modality>> {
    model
        .graph
        .tasks
        .iter()
        .map(|t| {
            let choices = model.choices(t.id);
            preference.into_iter().find(|m| choices.contains(m))
        })
        .collect()
}
