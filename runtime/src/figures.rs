//! What each task does when the runtime runs it without user code: the
//! cost model's figures (one source of truth with the synthesizer and the
//! simulator), handed to the built-in `synthetic` functions so a mission
//! runs as planned before its functions are written.

use hivemind_controller::{Plan, TaskGraph};
use hivemind_cost::{CostModel, Profile, ProfileError};
use hivemind_ir::activation::activation;
use hivemind_ir::plan::ChannelKind;
use hivemind_ir::{FleetId, TaskId};
use hivemind_proto::{LocalTask, PlanFragment};
use hivemind_sim::world::Timing;
use hivemind_sim::Physics;
use hivemind_vehicle::VehicleParams;

/// Per task, indexed by `TaskId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFigures {
    pub task: TaskId,
    pub name: String,
    /// The function the runtime calls: the task's `fn`, else its name.
    pub function: String,
    /// One warm run where the plan put it, invocation overhead included.
    pub service_us: u64,
    /// Bytes of one result: the largest channel out of the task (what its
    /// consumers read; 0 when nothing reads data from it).
    pub output_bytes: u64,
    /// Items in each result (its output list's stated length, else 1).
    pub items: u32,
    pub fleet: Option<FleetId>,
    /// A consumer reads its result from remote memory (a
    /// `CloudRemoteMemory` channel out of it).
    pub remote_out: bool,
}

/// The figures for a whole mission, and each fleet's plan fragment.
#[derive(Debug, Clone)]
pub struct Figures {
    pub tasks: Vec<TaskFigures>,
    pub fragments: Vec<PlanFragment>,
    /// Operations per second of one cloud core (training jobs).
    pub cloud_ops_per_s: u64,
}

impl Figures {
    pub fn new(graph: &TaskGraph, plan: &Plan, profile: Profile) -> Result<Figures, ProfileError> {
        let model = CostModel::new(graph, profile)?;
        let timing = Timing::predicted(&model, plan);
        let physics = Physics::new(&model, plan);
        let mut output = vec![0u64; graph.tasks.len()];
        let mut remote_out = vec![false; graph.tasks.len()];
        for c in &plan.channels {
            if let Some(o) = output.get_mut(c.from.index()) {
                *o = (*o).max(c.bytes);
            }
            if c.kind == ChannelKind::CloudRemoteMemory {
                if let Some(r) = remote_out.get_mut(c.from.index()) {
                    *r = true;
                }
            }
        }
        let tasks: Vec<TaskFigures> = graph
            .tasks
            .iter()
            .map(|t| {
                let i = t.id.index();
                TaskFigures {
                    task: t.id,
                    name: t.name.clone(),
                    function: activation(graph, t.id).function,
                    service_us: timing.service_us.get(i).copied().unwrap_or(0),
                    output_bytes: output[i],
                    items: physics.tasks.get(i).map_or(1, |p| p.items.max(1)),
                    fleet: plan.tasks.get(i).and_then(|p| p.fleet),
                    remote_out: remote_out[i],
                }
            })
            .collect();
        let local = hivemind_ir::local::local_chains(graph, plan);
        let fragments = graph
            .fleets
            .iter()
            .map(|f| {
                let fp = physics.fleets.get(f.id.index());
                PlanFragment {
                    fleet: f.id,
                    home: fp.map_or(hivemind_ir::PointMm { x_mm: 0, y_mm: 0 }, |p| p.home),
                    vehicle: fp.map_or(VehicleParams::of(f.class), |p| p.vehicle),
                    areas: graph.areas.clone(),
                    tasks: tasks
                        .iter()
                        .filter(|t| t.fleet == Some(f.id))
                        .map(|t| LocalTask {
                            task: t.task,
                            name: t.name.clone(),
                            function: t.function.clone(),
                            service_us: t.service_us,
                            output_bytes: t.output_bytes,
                            items: t.items,
                            local_successors: local.successors(t.task).to_vec(),
                            needs: local.needs(t.task).to_vec(),
                        })
                        .collect(),
                    cores: fp.map_or(f.cores, |p| p.cores).max(1),
                    cpu_power_mw: fp.map_or(0, |p| p.figures.cpu_power_mw),
                    radio_nj_per_bit: fp.map_or(0, |p| p.figures.radio_nj_per_bit),
                }
            })
            .collect();
        Ok(Figures {
            tasks,
            fragments,
            cloud_ops_per_s: timing.cloud_ops_per_s,
        })
    }

    pub fn task(&self, t: TaskId) -> Option<&TaskFigures> {
        self.tasks.get(t.index())
    }
}
