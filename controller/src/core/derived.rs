//! Facts computed once from the graph and plan (never journaled: rebuilt on
//! recovery from the same inputs).

use crate::effect::BehaviourCommand;
use hivemind_ir::activation::{self, Activation, Start, Width};
use hivemind_ir::plan::{ChannelKind, Modality, Plan};
use hivemind_ir::{AreaId, Assign, Behaviour, FleetId, RequirementKind, TaskGraph, TaskId};
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
    /// How each task is activated (the IR's rules, `ir::activation`).
    pub activation: Vec<Activation>,
    /// Runs as one activation on every live device of its fleet.
    pub per_device: Vec<bool>,
    /// The phases of a per-device periodic source firing each device at
    /// its own phase (`ir::activation::Phasing`, by the size its fleet is
    /// declared with, so a device keeps its phase whoever joins or fails);
    /// `None` for every other task and where a `gather all` downstream
    /// waits for its rounds (`ir::activation::feeds_a_gather`).
    pub phasing: Vec<Option<activation::Phasing>>,
    /// Per-device periodic sources its devices fire by themselves, on
    /// grants (`ir::activation::fired_on_device`, placed on the edge).
    pub fired: Vec<bool>,
    /// Function name of each task (its `fn`, else its name).
    pub function: Vec<String>,
    /// For joins: the pacer, as an index into `preds` (`ir::activation::join_pacers`).
    pub pacer: Vec<Option<usize>>,
    /// Joins whose values come from one fleet's devices: joined per device.
    pub join_by_device: Vec<bool>,
    /// For `gather all` tasks: which tasks are upstream of them (a round's
    /// activations there hold the gather back). Empty for other tasks.
    pub ancestors: Vec<Vec<bool>>,
    /// Some task is a `gather all`: rounds are tracked only then (nothing
    /// else reads them).
    pub gathers_rounds: bool,
    pub heavy: Vec<bool>,
    pub cover: Vec<CoverTask>,
    /// Non-cover behaviours: sent to every device of the fleet.
    pub behaviours: Vec<(TaskId, FleetId, BehaviourCommand)>,
    /// Fleets with a patrol: each device's start along the loop depends on
    /// its rank among the fleet's live devices.
    pub patrols: Vec<FleetId>,
    /// Per task: which devices run each value (`assign`), if chosen by rule.
    pub assign: Vec<Option<Assign>>,
    /// Per task: sends its device to where the value was sensed (`goto` an input).
    pub goto_input: Vec<bool>,
    pub area_extent: Vec<(i64, i64)>,
    /// The mission's latency requirements, in order: (requirement index, from, to).
    pub paths: Vec<(usize, TaskId, TaskId)>,
    /// Per task: the paths (indices into `paths`) it lies on, and whether it starts them.
    pub on_paths: Vec<Vec<(u16, bool)>>,
    /// The retrains that take effect, in order (`core::learning`).
    pub retrains: Vec<super::learning::RetrainFacts>,
    /// The edges devices run by themselves and the ids their runs take
    /// (`ir::local`).
    pub local: hivemind_ir::local::LocalChains,
}

impl Derived {
    pub fn new(graph: &TaskGraph, plan: &Plan, config: &crate::Config) -> Derived {
        let heavy_ops = config.pool.heavy_ops;
        let n = graph.tasks.len();
        let succ = graph.successors();
        let preds = graph.predecessors();
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
            local: hivemind_ir::local::local_chains(graph, plan),
            ..Derived::default()
        };
        d.retrains = super::learning::facts(graph, plan);
        let topo = hivemind_ir::topological_order(graph);
        let rates = activation::rates(graph, &topo, graph.duration_us);
        let pacers = activation::join_pacers(graph, &rates);
        let by_device = activation::per_device_pacers(graph, &topo, &pacers);
        for (t, p) in graph.tasks.iter().zip(&plan.tasks) {
            let pacer = pacers[t.id.index()];
            d.pacer
                .push(pacer.and_then(|q| d.preds[t.id.index()].iter().position(|&x| x == q)));
            d.join_by_device.push(by_device[t.id.index()].is_some());
            let a = activation::activation(graph, t.id);
            d.per_device
                .push(a.width == Width::EveryDevice && p.modality == Modality::Edge);
            d.function.push(a.function.clone());
            d.ancestors.push(if a.start == Start::GatherRound {
                upstream_of(&d.preds, t.id)
            } else {
                Vec::new()
            });
            d.activation.push(a);
            d.heavy.push(t.work.is_some_and(|w| w.ops >= heavy_ops));
            d.assign.push(t.assign);
            d.goto_input
                .push(matches!(t.behaviour, Some(Behaviour::GotoInput { .. })));
            let Some(fleet) = p.fleet else { continue };
            match &t.behaviour {
                Some(Behaviour::Cover { area, lane_mm }) => d.cover.push(CoverTask {
                    task: t.id,
                    fleet,
                    area: *area,
                    lane_mm: *lane_mm,
                }),
                Some(Behaviour::GotoPoint { point }) => {
                    d.behaviours
                        .push((t.id, fleet, BehaviourCommand::GotoPoint { point: *point }))
                }
                Some(Behaviour::GotoArea { area }) => {
                    d.behaviours
                        .push((t.id, fleet, BehaviourCommand::GotoArea { area: *area }))
                }
                Some(Behaviour::Route { waypoints, looping }) => {
                    if *looping && !d.patrols.contains(&fleet) {
                        d.patrols.push(fleet);
                    }
                    d.behaviours.push((
                        t.id,
                        fleet,
                        BehaviourCommand::Route {
                            waypoints: waypoints.clone(),
                            looping: *looping,
                            start_mm: 0,
                        },
                    ))
                }
                // Sent per value, with the value's position (`core::schedule`).
                Some(Behaviour::GotoInput { .. }) => {}
                Some(Behaviour::ReturnHome) => {
                    d.behaviours
                        .push((t.id, fleet, BehaviourCommand::ReturnHome))
                }
                Some(Behaviour::Land) => d.behaviours.push((t.id, fleet, BehaviourCommand::Land)),
                None => {}
            }
        }
        d.gathers_rounds = d.activation.iter().any(|a| a.start == Start::GatherRound);
        let gathered = activation::feeds_a_gather(graph);
        d.phasing = (0..n)
            .map(|i| {
                let Start::Periodic { period_us } = d.activation[i].start else {
                    return None;
                };
                let fleet = plan.tasks[i]
                    .fleet
                    .and_then(|f| graph.fleets.get(f.index()));
                let devices = fleet.map_or(1, |f| f.count as usize);
                (d.per_device[i] && !gathered[i]).then(|| {
                    activation::Phasing::new(
                        period_us,
                        graph.duration_us,
                        devices,
                        config.phase_gap_us,
                    )
                })
            })
            .collect();
        let fired = activation::fired_on_device(graph);
        d.fired = (0..n).map(|i| fired[i] && d.per_device[i]).collect();
        d
    }

    /// Instances of one (not per-device) activation fed by `items` items.
    pub fn width(&self, task: TaskId, items: u32) -> u32 {
        match self.activation[task.index()].width {
            Width::One | Width::EveryDevice => 1,
            Width::Fixed(n) => n.max(1),
            Width::PerItem { max, each } => items.clamp(1, max.max(1)).saturating_mul(each.max(1)),
        }
    }
}

/// Tasks from which `task` is reachable (not itself).
fn upstream_of(preds: &[Vec<TaskId>], task: TaskId) -> Vec<bool> {
    let mut seen = vec![false; preds.len()];
    let mut todo: Vec<TaskId> = preds[task.index()].clone();
    while let Some(t) = todo.pop() {
        if !std::mem::replace(&mut seen[t.index()], true) {
            todo.extend(preds[t.index()].iter().copied());
        }
    }
    seen
}
