//! Facts computed once from the graph and plan (never journaled: rebuilt on
//! recovery from the same inputs).

use crate::effect::BehaviourCommand;
use hivemind_ir::plan::{ChannelKind, Modality, Plan};
use hivemind_ir::{
    AreaId, Behaviour, FanOut, FleetId, RequirementKind, TaskGraph, TaskId, Trigger,
};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoverTask {
    pub task: TaskId,
    pub fleet: FleetId,
    pub area: AreaId,
    pub lane_mm: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Derived {
    pub succ: Vec<Vec<TaskId>>,
    /// Distinct producers (data and order edges) per task, for joins.
    pub preds: Vec<Vec<TaskId>>,
    pub channel: BTreeMap<(TaskId, TaskId), (ChannelKind, u64)>,
    /// Edge task with no inputs that runs once per device of its fleet.
    pub per_device: Vec<bool>,
    /// Function name of each task (its `fn`, else its name).
    pub function: Vec<String>,
    pub heavy: Vec<bool>,
    pub cover: Vec<CoverTask>,
    /// Non-cover behaviours: sent to every device of the fleet.
    pub behaviours: Vec<(TaskId, FleetId, BehaviourCommand)>,
    pub area_extent: Vec<(i64, i64)>,
    /// The mission's latency requirements, in order: (requirement index, from, to).
    pub paths: Vec<(usize, TaskId, TaskId)>,
    /// Per task: the paths (indices into `paths`) it lies on, and whether it starts them.
    pub on_paths: Vec<Vec<(u16, bool)>>,
}

impl Derived {
    pub fn new(graph: &TaskGraph, plan: &Plan, default_lane_mm: u64, heavy_ops: u64) -> Derived {
        let n = graph.tasks.len();
        let succ = graph.successors();
        let mut preds: Vec<Vec<TaskId>> = vec![Vec::new(); n];
        for e in &graph.edges {
            if !preds[e.to.index()].contains(&e.from) {
                preds[e.to.index()].push(e.from);
            }
        }
        let channel = plan
            .channels
            .iter()
            .map(|c| ((c.from, c.to), (c.kind, c.bytes)))
            .collect();
        let paths: Vec<(usize, TaskId, TaskId)> = graph
            .requirements
            .iter()
            .enumerate()
            .filter_map(|(r, req)| match req.kind {
                RequirementKind::Latency { from, to, .. } => Some((r, from, to)),
                _ => None,
            })
            .collect();
        let mut on_paths = vec![Vec::new(); n];
        for (p, &(_, from, to)) in paths.iter().enumerate() {
            for (t, on) in graph.tasks_between(from, to).into_iter().enumerate() {
                if on {
                    on_paths[t].push((p as u16, TaskId(t as u32) == from));
                }
            }
        }
        let mut d = Derived {
            succ,
            preds,
            channel,
            paths,
            on_paths,
            area_extent: graph.areas.iter().map(crate::geometry::x_extent).collect(),
            ..Derived::default()
        };
        for (t, p) in graph.tasks.iter().zip(&plan.tasks) {
            d.per_device.push(
                p.modality == Modality::Edge
                    && t.inputs.is_empty()
                    && t.fanout.is_none()
                    && matches!(t.trigger, Trigger::Periodic { .. } | Trigger::Once),
            );
            d.function
                .push(t.function.clone().unwrap_or_else(|| t.name.clone()));
            d.heavy.push(t.work.is_some_and(|w| w.ops >= heavy_ops));
            let Some(fleet) = p.fleet else { continue };
            match t.behaviour {
                Some(Behaviour::Cover { area, lane_mm }) => d.cover.push(CoverTask {
                    task: t.id,
                    fleet,
                    area,
                    lane_mm: lane_mm.unwrap_or(default_lane_mm),
                }),
                Some(Behaviour::GotoPoint { point }) => {
                    d.behaviours
                        .push((t.id, fleet, BehaviourCommand::GotoPoint { point }))
                }
                Some(Behaviour::GotoArea { area }) => {
                    d.behaviours
                        .push((t.id, fleet, BehaviourCommand::GotoArea { area }))
                }
                Some(Behaviour::ReturnHome) => {
                    d.behaviours
                        .push((t.id, fleet, BehaviourCommand::ReturnHome))
                }
                Some(Behaviour::Land) => d.behaviours.push((t.id, fleet, BehaviourCommand::Land)),
                None => {}
            }
        }
        d
    }

    /// Instances of one activation fed by `items` upstream items.
    pub fn width(&self, graph: &TaskGraph, plan: &Plan, task: TaskId, items: u32) -> u32 {
        let max = plan.tasks[task.index()].instances.max(1);
        match graph.tasks[task.index()].fanout {
            Some(FanOut::Fixed { width }) => width.max(1),
            Some(FanOut::PerItem) => items.clamp(1, max),
            None => 1,
        }
    }
}
