//! When and where each task runs: the activation rules, defined once and
//! read by the cost model, the synthesizer, the controller and the simulator.

use crate::graph::{TaskGraph, TaskId, Trigger};

const HOUR_US: u128 = 3_600_000_000;

/// How often a task runs, independent of placement.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rate {
    /// Rounds per hour (×1000 for precision).
    rounds_per_hour_milli: u128,
    /// Activations per round: one per upstream output (devices for a sensing task).
    activations: u128,
    /// Parallel instances per activation (the task's own fan-out width).
    fanout: u128,
    /// Runs once per mission instead of per hour.
    once: bool,
}

impl Rate {
    pub fn per_hour(&self, per_round: u128) -> u128 {
        if self.once {
            return per_round;
        }
        self.rounds_per_hour_milli * per_round / 1_000
    }
    pub fn per_mission(&self, per_round: u128, duration_us: u64) -> u128 {
        if self.once {
            return per_round;
        }
        self.rounds_per_hour_milli * per_round * u128::from(duration_us) / HOUR_US / 1_000
    }
    /// Instances (activations × fan-out) per hour: what occupies CPUs.
    pub fn instances_per_hour(&self) -> u128 {
        self.per_hour(self.activations * self.fanout)
    }
    pub fn instances_per_mission(&self, duration_us: u64) -> u128 {
        self.per_mission(self.activations * self.fanout, duration_us)
    }
    /// Outputs per hour: a fanned-out activation still produces one value.
    pub fn outputs_per_hour(&self) -> u128 {
        self.per_hour(self.activations)
    }
    pub fn outputs_per_mission(&self, duration_us: u64) -> u128 {
        self.per_mission(self.activations, duration_us)
    }
}

pub fn activation_rates(graph: &TaskGraph, topo: &[TaskId]) -> Vec<Rate> {
    let mut rates = vec![Rate::default(); graph.tasks.len()];
    let mut preds: Vec<Vec<TaskId>> = vec![Vec::new(); graph.tasks.len()];
    for e in &graph.edges {
        preds[e.to.index()].push(e.from);
    }
    for &id in topo {
        let t = &graph.tasks[id.index()];
        let fleet_size = crate::plan::edge_fleet(graph, id)
            .map_or(1, |f| u128::from(graph.fleets[f.index()].count));
        let sources_on_every_device = t.inputs.is_empty()
            && (matches!(t.placement, crate::graph::Placement::Fleet { .. })
                || !t.needs.is_empty());
        let sources = if sources_on_every_device {
            fleet_size
        } else {
            1
        };
        let fanout = match t.fanout {
            Some(crate::graph::FanOut::Fixed { width }) => u128::from(width),
            Some(crate::graph::FanOut::PerItem) => {
                u128::from(t.inputs.iter().map(|i| i.ty.items()).max().unwrap_or(1))
            }
            None => 1,
        };
        rates[id.index()] = match t.trigger {
            Trigger::Periodic { period_us } => Rate {
                rounds_per_hour_milli: HOUR_US * 1_000 / u128::from(period_us.max(1)),
                activations: sources,
                fanout,
                once: false,
            },
            Trigger::Once => Rate {
                rounds_per_hour_milli: 0,
                activations: sources,
                fanout,
                once: true,
            },
            Trigger::Behaviour | Trigger::Never => Rate::default(),
            Trigger::Upstream => {
                let up = preds[id.index()]
                    .iter()
                    .map(|p| rates[p.index()])
                    .max_by_key(|r| r.outputs_per_hour())
                    .unwrap_or_default();
                let activations = if t.gather.is_some() {
                    1
                } else {
                    up.activations
                };
                Rate {
                    rounds_per_hour_milli: up.rounds_per_hour_milli,
                    activations,
                    fanout,
                    once: up.once,
                }
            }
        };
    }
    rates
}
