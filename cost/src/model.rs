//! The cost model: one place that says how long a task takes, what a
//! transfer costs, how much energy and money a placement spends. The
//! placement synthesizer encodes these numbers for z3, the exhaustive oracle
//! and the greedy heuristic evaluate them directly, and the simulator will
//! use them for its device and function models.
//!
//! [`CostModel::new`] turns a task graph and a [`Profile`] into integer
//! coefficient tables (µs, µJ, nano-dollars, bytes); [`CostModel::evaluate`]
//! sums them for one placement.
//!
//! Every figure computed from the mission is a [`Sat`]: products are exact
//! in `u128` and a value that does not fit in 64 bits is "too large", never
//! wrapped or truncated. A too-large value never meets a requirement
//! ([`RequirementValue::predicted`] is `None`), never fits a capacity, and a
//! placement whose totals are too large is not feasible
//! ([`Evaluation::overflow`] names the quantity). Capacities (CPU time,
//! radio bytes, battery energy) are supplies, kept exact in `u128`. Everything a placement changes is linear in
//! "task t runs at modality m" and "edge e goes from modality a to b", which
//! is what makes the z3 encoding exact.

pub use crate::profile::{self, Profile, ProfileError};

use hivemind_ir::activation::{self, Rate, Start};
use hivemind_ir::plan::{self, ChannelKind, Modality};
use hivemind_ir::{self as ir, EdgeKind, FleetId, RequirementKind, Sat, TaskGraph, TaskId};

mod path_cache;
pub use path_cache::PathCache;

const HOUR_US: u128 = 3_600_000_000;

/// Coefficients of one task per modality; `None` where the modality is not allowed.
#[derive(Debug, Clone, Default)]
pub struct TaskCosts {
    /// Latency of one activation (slowest instance) from its inputs' arrival:
    /// the run, invocation overhead, in the cloud the expected share of a
    /// cold start, and for a window the wait for it to close.
    pub compute_us: [Option<Sat>; 3],
    /// One warm run (no cold-start share, no window wait): a service time
    /// for the controller's test world, explicitly saturated at `u64::MAX`
    /// ("never finishes") when too large.
    pub warm_us: [Option<u64>; 3],
    /// For a source the controller starts on a device (`every`, `once`):
    /// its start command's way there — the journal commit of the timer
    /// that fired it, then the fleet's link latency. Part of `compute_us`
    /// (a path from the source starts when the controller fires it), not
    /// of `warm_us` (the test world carries the command itself).
    pub start_us: [Sat; 3],
    /// Device energy over the whole mission when on the edge (all devices of the fleet).
    pub edge_energy_uj: Sat,
    /// Serverless cost per hour at each cloud modality.
    pub cost_nusd_per_hour: [Sat; 3],
    /// CPU time per hour the task occupies at each modality (all instances).
    pub busy_us_per_hour: [Sat; 3],
    /// Bytes per hour on its fleet's radios when on the edge: the pushes of
    /// a retrained model ([`crate::learning`]); data edges have their own.
    pub edge_radio_bytes_per_hour: Sat,
}

/// Bytes per hour on up to two fleets' radios.
pub type RadioLoad = [(Option<FleetId>, Sat); 2];

/// Coefficients of one edge per (producer modality, consumer modality).
#[derive(Debug, Clone, Default)]
pub struct EdgeCosts {
    pub transfer_us: [[Sat; 3]; 3],
    /// Radio energy over the mission, charged to `energy_fleet`.
    pub radio_uj: [[Sat; 3]; 3],
    pub energy_fleet: [[Option<FleetId>; 3]; 3],
    /// Bytes per hour sent device → cloud.
    pub uplink_bytes_per_hour: [[Sat; 3]; 3],
    /// Bytes per hour the transfer puts on fleets' radios (the sender's and,
    /// device to device, the receiver's; up and down share the medium).
    pub radio_load: [[RadioLoad; 3]; 3],
}

/// One requirement under one placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequirementValue {
    /// In the requirement's unit (µs, n$/h, basis points); `None` when the
    /// value does not fit in an `i64` (2⁶³ µs is 292,000 years; for a
    /// battery reserve: the energy drawn is too large), which never meets
    /// the requirement.
    pub predicted: Option<i64>,
    pub bound: i64,
    pub met: bool,
}

/// A total of a placement that can be too large to compute, which makes
/// the placement infeasible ([`Evaluation::overflow`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Total {
    /// The energy of one fleet over the mission (by fleet index).
    FleetEnergy(usize),
    /// The energy of every fleet (the energy objective).
    Energy,
    CloudCost,
    UplinkBytes,
    /// The latency objective (the required paths' sum, else the critical path).
    Latency,
    /// Mission duration plus the critical path, when it is an objective.
    ExecTime,
}

/// A placement's predicted metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// Per requirement, in graph order.
    pub requirements: Vec<RequirementValue>,
    /// Per fleet: total energy of all devices over the mission.
    pub fleet_energy_uj: Vec<Sat>,
    /// CPU utilisation of each fleet and of the cloud, ‰ of all their cores.
    pub fleet_busy_permille: Vec<Sat>,
    /// Radio utilisation of each fleet, ‰ of its devices' link capacity.
    pub fleet_radio_permille: Vec<Sat>,
    pub cloud_busy_permille: Sat,
    pub cloud_cost_nusd_per_hour: Sat,
    pub uplink_bytes_per_hour: Sat,
    pub latency_us: Sat,
    pub energy_uj: Sat,
    pub exec_time_us: Sat,
    /// Whether execution time is an objective (then it must fit too).
    exec_time_counts: bool,
}

/// Largest utilisation that fits: 100.0% (a too-large one never does).
const FULL_PERMILLE: Sat = Sat::new(1_000);

impl Evaluation {
    /// Every requirement met, no fleet nor the cloud asked for more CPU
    /// than it has (an overloaded device falls behind without bound), and
    /// no total too large to compute.
    pub fn feasible(&self) -> bool {
        self.requirements.iter().all(|r| r.met)
            && self.within_capacity()
            && self.overflow().is_empty()
    }
    /// No fleet nor the cloud asked for more CPU than it has, and no fleet
    /// for more radio than its links carry (an oversubscribed link queues
    /// without bound; it does not deliver for free). A load too large to
    /// compute is over capacity.
    pub fn within_capacity(&self) -> bool {
        self.fleet_busy_permille.iter().all(|&b| b <= FULL_PERMILLE)
            && self.cloud_busy_permille <= FULL_PERMILLE
            && self
                .fleet_radio_permille
                .iter()
                .all(|&b| b <= FULL_PERMILLE)
    }
    /// The totals too large to compute (2⁶⁴ or more of their unit): such
    /// a plan is refused, whatever its requirements say.
    pub fn overflow(&self) -> Vec<Total> {
        let mut out: Vec<Total> = self
            .fleet_energy_uj
            .iter()
            .enumerate()
            .filter(|(_, e)| e.is_too_large())
            .map(|(f, _)| Total::FleetEnergy(f))
            .collect();
        let totals = [
            (Total::Energy, self.energy_uj),
            (Total::CloudCost, self.cloud_cost_nusd_per_hour),
            (Total::UplinkBytes, self.uplink_bytes_per_hour),
            (Total::Latency, self.latency_us),
        ];
        out.extend(
            totals
                .into_iter()
                .filter(|(_, v)| v.is_too_large())
                .map(|(t, _)| t),
        );
        if self.exec_time_counts && self.exec_time_us.is_too_large() {
            out.push(Total::ExecTime);
        }
        out
    }
    /// Objective value for lexicographic comparison.
    pub fn objective(&self, o: ir::Objective) -> Sat {
        match o {
            ir::Objective::Latency => self.latency_us,
            ir::Objective::Energy => self.energy_uj,
            ir::Objective::Cost => self.cloud_cost_nusd_per_hour,
            ir::Objective::Bytes => self.uplink_bytes_per_hour,
            ir::Objective::ExecTime => self.exec_time_us,
        }
    }
}

/// One device's link, CPU power and motion power as the model charges them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceFigures {
    pub radio_bps: u64,
    pub link_latency_us: u64,
    pub radio_nj_per_bit: u64,
    pub cpu_power_mw: u64,
    pub motion_power_mw: u64,
}

/// What one device of `fleet` is charged with under `profile`: the fleet's
/// measured values, else the mission's, else its class's defaults.
pub fn device_figures(fleet: &ir::Fleet, profile: &Profile) -> DeviceFigures {
    let m = profile.fleet.get(&fleet.name).copied().unwrap_or_default();
    let class = profile.class(fleet.class);
    DeviceFigures {
        radio_bps: m.radio_bps.unwrap_or(fleet.radio_bps).max(1),
        link_latency_us: m.link_latency_us.unwrap_or(class.link_latency_us),
        radio_nj_per_bit: class.radio_nj_per_bit,
        cpu_power_mw: m
            .cpu_power_mw
            .or(fleet.cpu_power_mw)
            .unwrap_or(class.cpu_power_mw),
        motion_power_mw: m.motion_power_mw.unwrap_or(class.motion_power_mw),
    }
}

pub struct CostModel<'g> {
    pub graph: &'g TaskGraph,
    pub profile: Profile,
    pub tasks: Vec<TaskCosts>,
    pub edges: Vec<EdgeCosts>,
    /// Motion energy of each fleet over the mission (all devices).
    pub motion_uj: Vec<Sat>,
    /// The fleet each task runs on when at the edge ([`plan::edge_fleets`],
    /// computed once).
    pub edge_fleet: Vec<Option<FleetId>>,
    /// Usable energy of each fleet (all devices), exact.
    pub battery_uj: Vec<u128>,
    /// CPU time available per hour: every core of every device / server, exact.
    pub fleet_capacity_us_per_hour: Vec<u128>,
    pub cloud_capacity_us_per_hour: u128,
    /// Bytes per hour each fleet's radios carry: every device's link rate, exact.
    pub fleet_radio_bytes_per_hour: Vec<u128>,
    pub duration_us: u64,
    /// Tasks on the paths of each latency requirement (by requirement index).
    pub path_tasks: Vec<Vec<bool>>,
    /// The same tasks in topological order (empty for other requirements).
    path_order: Vec<Vec<TaskId>>,
    pub topo: Vec<TaskId>,
    /// Edges into each task, by edge index.
    in_edges: Vec<Vec<usize>>,
    /// How often each task runs ([`activation::rates`]): the predicted
    /// activation and instance counts the controller's are checked against.
    pub rates: Vec<Rate>,
    /// Objectives in order (the mission's, or the default).
    pub objectives: Vec<ir::Objective>,
    /// What each retrain costs ([`crate::learning`]); its pushes are also
    /// in its task's edge coefficients.
    pub learning: Vec<crate::learning::RetrainCost>,
    /// Every retrain's training jobs: serverless cost and cloud CPU per
    /// hour, the same for every placement.
    pub training_cost_nusd_per_hour: Sat,
    pub training_busy_us_per_hour: Sat,
}

pub fn modality_index(m: Modality) -> usize {
    match m {
        Modality::Edge => 0,
        Modality::Cloud => 1,
        Modality::CloudFpga => 2,
    }
}

impl<'g> CostModel<'g> {
    pub fn new(graph: &'g TaskGraph, profile: Profile) -> Result<CostModel<'g>, ProfileError> {
        profile.validate()?;
        for name in profile.fleet.keys() {
            if !graph.fleets.iter().any(|f| &f.name == name) {
                return Err(ProfileError::UnknownName {
                    kind: "fleet",
                    name: name.clone(),
                });
            }
        }
        for name in profile.task.keys() {
            if graph.task(name).is_none() {
                return Err(ProfileError::UnknownName {
                    kind: "task",
                    name: name.clone(),
                });
            }
        }
        let duration_us = graph.duration_us;
        let topo = hivemind_ir::topological_order(graph);
        let rates = activation::rates(graph, &topo, duration_us);
        let mut model = CostModel {
            graph,
            tasks: Vec::new(),
            edges: Vec::new(),
            motion_uj: Vec::new(),
            edge_fleet: plan::edge_fleets(graph),
            battery_uj: Vec::new(),
            fleet_capacity_us_per_hour: graph
                .fleets
                .iter()
                .map(|f| u128::from(f.count) * u128::from(f.cores) * HOUR_US)
                .collect(),
            cloud_capacity_us_per_hour: graph.cloud.as_ref().map_or(0, |c| {
                u128::from(c.servers) * u128::from(c.cores_per_server) * HOUR_US
            }),
            fleet_radio_bytes_per_hour: Vec::new(),
            duration_us,
            path_tasks: Vec::new(),
            path_order: Vec::new(),
            in_edges: {
                let mut into = vec![Vec::new(); graph.tasks.len()];
                for (k, e) in graph.edges.iter().enumerate() {
                    into[e.to.index()].push(k);
                }
                into
            },
            topo,
            rates: Vec::new(),
            objectives: graph.objectives.clone(),
            learning: Vec::new(),
            training_cost_nusd_per_hour: Sat::ZERO,
            training_busy_us_per_hour: Sat::ZERO,
            profile,
        };
        let moving = crate::coverage::moving_us(graph, &model.profile);
        model.motion_uj = graph
            .fleets
            .iter()
            .zip(moving)
            .map(|(f, moving_us)| {
                let mw = model.device_figures(f.id).motion_power_mw;
                // mW × µs = nJ; per device, times the fleet size.
                Sat::from_u128(
                    (u128::from(mw) * moving_us / 1_000).saturating_mul(u128::from(f.count)),
                )
            })
            .collect();
        model.fleet_radio_bytes_per_hour = graph
            .fleets
            .iter()
            .map(|f| {
                let bps = model.measured(f.id).radio_bps.unwrap_or(f.radio_bps);
                let per_device = u128::from(bps) * HOUR_US / 8 / 1_000_000;
                // A shared channel carries the whole fleet's traffic once.
                let links = if f.radio_shared {
                    1
                } else {
                    u128::from(f.count)
                };
                per_device * links
            })
            .collect();
        model.battery_uj = graph
            .fleets
            .iter()
            .map(|f| u128::from(f.battery_uj) * u128::from(f.count))
            .collect();
        let fired = activation::fired_on_device(graph);
        model.tasks = graph
            .tasks
            .iter()
            .map(|t| model.task_costs(t, &rates, fired[t.id.index()]))
            .collect();
        model.edges = graph
            .edges
            .iter()
            .map(|e| model.edge_costs(e, &rates))
            .collect();
        model.learning = model.retrain_costs(&rates);
        for l in &model.learning {
            let c = &mut model.tasks[l.task.index()];
            if c.compute_us[modality_index(Modality::Edge)].is_some() {
                c.edge_energy_uj += l.push_energy_uj;
                c.edge_radio_bytes_per_hour += l.radio_bytes_per_hour;
            }
            model.training_cost_nusd_per_hour += l.cost_nusd_per_hour;
            model.training_busy_us_per_hour += l.busy_us_per_hour;
        }
        model.rates = rates;
        model.path_tasks = graph
            .requirements
            .iter()
            .map(|r| match r.kind {
                RequirementKind::Latency { from, to, .. } => graph.tasks_between(from, to),
                _ => Vec::new(),
            })
            .collect();
        model.path_order = model
            .path_tasks
            .iter()
            .map(|on| {
                let on_path = |t: &TaskId| on.get(t.index()).copied().unwrap_or(false);
                model.topo.iter().copied().filter(on_path).collect()
            })
            .collect();
        Ok(model)
    }

    /// One cold start of a serverless worker: the mission's `cold_start`,
    /// else the profile's.
    pub fn cold_start_us(&self) -> u64 {
        self.graph
            .cloud
            .as_ref()
            .and_then(|c| c.cold_start_us)
            .unwrap_or(self.profile.cloud.cold_start_us)
    }

    /// The expected share of a cold start in one serverless activation.
    pub fn expected_cold_us(&self) -> Sat {
        let warm = u128::from(self.profile.cloud.warm_permille.min(1_000));
        Sat::new(self.cold_start_us()).mul_div(1_000 - warm, 1_000)
    }

    /// Useful operations per second of one cloud core.
    pub fn cloud_ops_per_s(&self) -> u64 {
        let hz = u128::from(
            self.graph
                .cloud
                .as_ref()
                .and_then(|c| c.cpu_hz)
                .unwrap_or(self.profile.cloud.cpu_hz),
        );
        u64::try_from((hz * u128::from(self.profile.cloud.ops_per_cycle_milli) / 1_000).max(1))
            .unwrap_or(u64::MAX)
    }

    /// Serverless price: the mission's, else the profile's.
    pub fn cloud_price_nusd_per_gb_s(&self) -> u64 {
        self.graph
            .cloud
            .as_ref()
            .and_then(|c| c.price_nusd_per_gb_s)
            .unwrap_or(self.profile.cloud.price_nusd_per_gb_s)
    }

    /// [`TaskCosts::start_us`] of `t` on fleet `f`'s devices: zero unless
    /// the controller starts it (a periodic or `once` source that is not a
    /// behaviour, and not one its devices fire by themselves).
    fn start_command_us(&self, t: &ir::Task, f: FleetId) -> Sat {
        let sourced = matches!(
            activation::activation(self.graph, t.id).start,
            Start::Periodic { .. } | Start::Once
        ) && t.behaviour.is_none()
            && !self.graph.edges.iter().any(|e| e.to == t.id);
        if !sourced {
            return Sat::ZERO;
        }
        let (_, latency_us, _) = self.link(f);
        Sat::new(self.profile.runtime.journal_commit_us) + Sat::from_u128(latency_us)
    }

    /// A device's link of fleet `f`: (bit/s, one-way latency µs, radio nJ per bit).
    pub(crate) fn link(&self, f: FleetId) -> (u128, u128, u128) {
        let d = self.device_figures(f);
        (
            u128::from(d.radio_bps),
            u128::from(d.link_latency_us),
            u128::from(d.radio_nj_per_bit),
        )
    }

    /// The figures this model charges one device of fleet `f` with — the
    /// simulator takes its devices' link, CPU and power from here, so the
    /// two never disagree on a parameter.
    pub fn device_figures(&self, f: FleetId) -> DeviceFigures {
        device_figures(&self.graph.fleets[f.index()], &self.profile)
    }

    fn measured(&self, fleet: FleetId) -> profile::FleetMeasured {
        self.profile
            .fleet
            .get(&self.graph.fleets[fleet.index()].name)
            .copied()
            .unwrap_or_default()
    }

    pub(crate) fn fleet_of(&self, t: TaskId) -> Option<FleetId> {
        self.edge_fleet.get(t.index()).copied().flatten()
    }

    /// Operations one instance of one activation performs: `work`, or
    /// `work per item` times the items of its batch (one item per instance
    /// under `fanout per item`). Exact (`None`: beyond `u128`, certainly
    /// too large).
    fn ops_per_instance(&self, t: &ir::Task, rate: &Rate) -> Option<u128> {
        let Some(w) = t.work else { return Some(0) };
        let items = u128::from(activation::max_items(t)).checked_mul(rate.batch.max(1))?;
        match (w.per_item, t.fanout) {
            (true, Some(ir::FanOut::PerItem)) => Some(u128::from(w.ops)),
            (true, _) => u128::from(w.ops).checked_mul(items),
            (false, _) => Some(u128::from(w.ops)),
        }
    }

    /// `fired`: its devices fire it by themselves on the edge
    /// ([`activation::fired_on_device`]).
    fn task_costs(&self, t: &ir::Task, rates: &[Rate], fired: bool) -> TaskCosts {
        let mut c = TaskCosts::default();
        let rate = rates[t.id.index()];
        let ops = self.ops_per_instance(t, &rate);
        let measured = self.profile.task.get(&t.name).copied().unwrap_or_default();
        let expected_cold = self.expected_cold_us();
        let price = u128::from(self.cloud_price_nusd_per_gb_s());
        for m in Modality::ALL {
            // Costs exist for every physically possible modality so that
            // explanations can reason about pins; `choices` applies the pins.
            if !plan::possible(self.graph, t.id, m) {
                continue;
            }
            let k = modality_index(m);
            match m {
                Modality::Edge => {
                    let Some(f) = self.fleet_of(t.id) else {
                        continue;
                    };
                    let fleet = &self.graph.fleets[f.index()];
                    let meas = self.measured(f);
                    let class = self.profile.class(fleet.class);
                    let ops_per_s = meas.ops_per_s.map_or_else(
                        || u128::from(fleet.cpu_hz) * u128::from(class.ops_per_cycle_milli) / 1_000,
                        u128::from,
                    );
                    // Exact in u128 until the end, so a figure that fits
                    // is exact even when a factor of it does not.
                    let us = match measured.edge_us {
                        Some(us) => Some(u128::from(us)),
                        None => ops
                            .and_then(|o| o.checked_mul(1_000_000))
                            .map(|o| o / ops_per_s.max(1)),
                    };
                    if !fired {
                        c.start_us[k] = self.start_command_us(t, f);
                    }
                    c.compute_us[k] = Some(Sat::from_checked(us) + c.start_us[k]);
                    c.warm_us[k] = Some(Sat::from_checked(us).saturated());
                    let power = u128::from(self.device_figures(f).cpu_power_mw);
                    // mW × µs = nJ: the work of all instances of all
                    // activations over the mission.
                    c.edge_energy_uj = Sat::from_checked(
                        us.and_then(|us| us.checked_mul(rate.instances_per_mission()))
                            .and_then(|busy| busy.checked_mul(power))
                            .map(|nj| nj / 1_000),
                    );
                    c.busy_us_per_hour[k] = Sat::from_checked(
                        us.and_then(|us| us.checked_mul(rate.instances_per_hour())),
                    );
                }
                Modality::Cloud | Modality::CloudFpga => {
                    let ops_per_s = u128::from(self.cloud_ops_per_s());
                    let run_us = match measured.cloud_us {
                        Some(us) => Some(u128::from(us)),
                        None => ops
                            .and_then(|o| o.checked_mul(1_000_000))
                            .map(|o| o / ops_per_s.max(1)),
                    };
                    let overhead = if m == Modality::CloudFpga {
                        Sat::from_u128(self.profile.fpga.invocation_overhead_us())
                    } else {
                        Sat::new(self.profile.cloud.rpc_overhead_us)
                    };
                    let run = Sat::from_checked(run_us);
                    c.compute_us[k] = Some(run + overhead + expected_cold);
                    c.warm_us[k] = Some((run + overhead).saturated());
                    // Billed: run time of every instance, memory × price
                    // (MB × n$/GB-s × µs: ÷ 1000 ÷ 10⁶).
                    let per_hour = rate.instances_per_hour();
                    c.busy_us_per_hour[k] =
                        Sat::from_checked(run_us.and_then(|us| us.checked_mul(per_hour)));
                    let billed = run_us.and_then(|us| us.checked_add(expected_cold.wide()?));
                    c.cost_nusd_per_hour[k] = Sat::from_checked(
                        billed
                            .and_then(|us| us.checked_mul(per_hour))
                            .and_then(|us| {
                                us.checked_mul(u128::from(self.profile.cloud.function_memory_mb))
                            })
                            .and_then(|v| v.checked_mul(price))
                            .map(|v| v / 1_000_000_000),
                    );
                }
            }
        }
        // A window holds each value until it closes: up to a period more
        // on every path through the task, whatever its placement.
        if let Start::Window { period_us } = activation::activation(self.graph, t.id).start {
            for us in c.compute_us.iter_mut().flatten() {
                *us += Sat::new(period_us);
            }
        }
        c
    }

    fn edge_costs(&self, e: &ir::Edge, rates: &[Rate]) -> EdgeCosts {
        let mut c = EdgeCosts::default();
        let bytes = match &e.kind {
            EdgeKind::Data { bytes, .. } => u128::from(*bytes),
            EdgeKind::Order => return c,
        };
        let (from_fleet, to_fleet) = (self.fleet_of(e.from), self.fleet_of(e.to));
        let transfers_per_mission = rates[e.from.index()].outputs_per_mission();
        let transfers_per_hour = rates[e.from.index()].outputs_per_hour();
        let link = |f: Option<FleetId>| f.map_or((1, 0, 0), |f| self.link(f));
        // `hops` radio transfers over fleet `f`'s link: (time, radio energy
        // over the mission, charged to `f`).
        // Exact in u128 (bytes < 2⁴¹, rates < 2⁴⁰); saturating beyond.
        let radio = |f: Option<FleetId>, hops: u128| -> (Sat, Sat) {
            let (bps, lat, nj) = link(f);
            let time = hops * (lat + bytes * 8 * 1_000_000 / bps);
            let energy = (hops * bytes * 8 * nj).saturating_mul(transfers_per_mission) / 1_000;
            (Sat::from_u128(time), Sat::from_u128(energy))
        };
        for a in Modality::ALL {
            for b in Modality::ALL {
                let (ia, ib) = (modality_index(a), modality_index(b));
                match plan::channel_kind(self.graph, e, a, b, from_fleet, to_fleet) {
                    ChannelKind::DeviceLocal
                    | ChannelKind::CloudInWorker
                    | ChannelKind::Control => {}
                    kind @ (ChannelKind::Uplink
                    | ChannelKind::Downlink
                    | ChannelKind::DeviceToDevice) => {
                        // Device-to-device goes up to the controller and down
                        // again: two hops, the sender pays both radios' worth.
                        let (fleet, hops) = match kind {
                            ChannelKind::Downlink => (to_fleet, 1),
                            ChannelKind::DeviceToDevice => (from_fleet, 2),
                            _ => (from_fleet, 1),
                        };
                        (c.transfer_us[ia][ib], c.radio_uj[ia][ib]) = radio(fleet, hops);
                        // A device's input leaves the controller once the
                        // record of the value's arrival is committed (a
                        // cloud function's is invoked before: its worker
                        // dies with the controller).
                        if kind != ChannelKind::Uplink {
                            c.transfer_us[ia][ib] +=
                                Sat::new(self.profile.runtime.journal_commit_us);
                        }
                        c.energy_fleet[ia][ib] = fleet;
                        let load = Sat::from_u128(bytes.saturating_mul(transfers_per_hour));
                        c.radio_load[ia][ib] = match kind {
                            ChannelKind::Uplink => [(from_fleet, load), (None, Sat::ZERO)],
                            ChannelKind::Downlink => [(to_fleet, load), (None, Sat::ZERO)],
                            _ => [(from_fleet, load), (to_fleet, load)],
                        };
                        if kind.is_uplink() {
                            c.uplink_bytes_per_hour[ia][ib] = load;
                        }
                    }
                    ChannelKind::CloudRemoteMemory => {
                        // The cycle model's WRITE then READ (one source
                        // of truth with the simulator's fetch).
                        let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
                        c.transfer_us[ia][ib] =
                            Sat::from_u128(self.profile.fpga.remote_memory_us(bytes));
                    }
                    ChannelKind::CloudStorage => {
                        let s = &self.profile.cloud;
                        // put then get
                        c.transfer_us[ia][ib] = Sat::from_u128(
                            2 * (u128::from(s.storage_latency_us)
                                + bytes * 8 * 1_000_000 / u128::from(s.storage_bps.max(1))),
                        );
                    }
                }
            }
        }
        c
    }

    /// Finish times along a path from `from` (compute of every task on it
    /// plus transfers), for a full assignment; 0 off the path.
    pub fn path_latency_us(
        &self,
        assignment: &[Modality],
        on_path: &[bool],
        from: TaskId,
    ) -> Vec<Sat> {
        let mut fin = vec![Sat::ZERO; self.graph.tasks.len()];
        let order = self
            .topo
            .iter()
            .copied()
            .filter(|t| on_path.get(t.index()).copied().unwrap_or(false));
        self.finish_times(assignment, on_path, from, order, &mut fin);
        fin
    }

    /// Fill `fin` for the tasks of `order` (topological, all on the path):
    /// each starts after its on-path predecessors' finish plus transfer.
    /// Entries of other tasks are neither read nor written.
    fn finish_times(
        &self,
        assignment: &[Modality],
        on_path: &[bool],
        from: TaskId,
        order: impl Iterator<Item = TaskId>,
        fin: &mut [Sat],
    ) {
        let own = |i: usize| self.tasks[i].compute_us[modality_index(assignment[i])];
        self.finish_times_with(assignment, on_path, from, order, fin, own);
    }

    /// The median latency of requirement `k`'s path (`None`: not a latency
    /// requirement). Like the mean the requirement is checked against, but
    /// with every invocation warm — the median one is, while most are
    /// (`warm_permille` ≥ 500; else the mean's cold share stays) — and half
    /// a window's period (a value waits for its window to close, uniformly
    /// over the period). What the simulator's measured median is compared with.
    pub fn path_median_us(&self, assignment: &[Modality], k: usize) -> Option<Sat> {
        let RequirementKind::Latency { from, to, .. } = self.graph.requirements.get(k)?.kind else {
            return None;
        };
        let mostly_warm = self.profile.cloud.warm_permille >= 500;
        let own = |i: usize| {
            let m = modality_index(assignment[i]);
            let task = &self.tasks[i];
            if !mostly_warm {
                return task.compute_us[m];
            }
            let warm = Sat::new(task.warm_us[m]?) + task.start_us[m];
            let half_window = match activation::activation(self.graph, self.graph.tasks[i].id).start
            {
                Start::Window { period_us } => period_us / 2,
                _ => 0,
            };
            Some(warm + Sat::new(half_window))
        };
        let mut fin = vec![Sat::ZERO; self.graph.tasks.len()];
        self.finish_times_with(
            assignment,
            &self.path_tasks[k],
            from,
            self.path_order[k].iter().copied(),
            &mut fin,
            own,
        );
        fin.get(to.index()).copied()
    }

    fn finish_times_with(
        &self,
        assignment: &[Modality],
        on_path: &[bool],
        from: TaskId,
        order: impl Iterator<Item = TaskId>,
        fin: &mut [Sat],
        own_us: impl Fn(usize) -> Option<Sat>,
    ) {
        for t in order {
            let own = own_us(t.index()).unwrap_or(Sat::ZERO);
            fin[t.index()] = self.start_time(assignment, on_path, from, t, fin) + own;
        }
    }

    /// When task `t` of a path can start: its on-path predecessors'
    /// finish times (`fin`) plus their transfers, the latest (0 for the
    /// path's first task `from`).
    fn start_time(
        &self,
        assignment: &[Modality],
        on_path: &[bool],
        from: TaskId,
        t: TaskId,
        fin: &[Sat],
    ) -> Sat {
        let i = t.index();
        let mut start = Sat::ZERO;
        if t != from {
            for &k in &self.in_edges[i] {
                let p = self.graph.edges[k].from.index();
                if on_path[p] {
                    let x = self.edges[k].transfer_us[modality_index(assignment[p])]
                        [modality_index(assignment[i])];
                    start = start.max(fin[p] + x);
                }
            }
        }
        start
    }

    /// Time for task `t`'s inputs to arrive under `assignment`: the slowest
    /// of its in-edges' transfers. A timer for the controller's test world:
    /// explicitly saturated at `u64::MAX` ("never arrives") when too large.
    pub fn input_us(&self, assignment: &[Modality], t: TaskId) -> u64 {
        self.in_edges[t.index()]
            .iter()
            .map(|&k| {
                let p = self.graph.edges[k].from.index();
                self.edges[k].transfer_us[modality_index(assignment[p])]
                    [modality_index(assignment[t.index()])]
            })
            .max()
            .unwrap_or(Sat::ZERO)
            .saturated()
    }

    /// Every metric of one full placement.
    pub fn evaluate(&self, assignment: &[Modality]) -> Evaluation {
        let whole = self.whole_graph_latency(assignment);
        // One buffer for every path: each reads only entries it wrote.
        let mut fin = vec![Sat::ZERO; self.graph.tasks.len()];
        self.evaluate_from(assignment, whole, |k, from, to| {
            self.finish_times(
                assignment,
                &self.path_tasks[k],
                from,
                self.path_order[k].iter().copied(),
                &mut fin,
            );
            fin[to.index()]
        })
    }

    /// [`CostModel::evaluate`] given the whole graph's critical path and
    /// each latency requirement's path latency (mean) as
    /// `path(k, from, to)`.
    fn evaluate_from(
        &self,
        assignment: &[Modality],
        whole: Sat,
        mut path: impl FnMut(usize, TaskId, TaskId) -> Sat,
    ) -> Evaluation {
        let g = self.graph;
        let mut fleet_energy: Vec<Sat> = self.motion_uj.clone();
        let mut fleet_busy: Vec<Sat> = vec![Sat::ZERO; g.fleets.len()];
        let mut fleet_radio: Vec<Sat> = vec![Sat::ZERO; g.fleets.len()];
        // Training runs in the cloud whatever the placement.
        let mut cloud_busy = self.training_busy_us_per_hour;
        let mut cost = self.training_cost_nusd_per_hour;
        for (t, c) in g.tasks.iter().zip(&self.tasks) {
            let m = assignment[t.id.index()];
            let k = modality_index(m);
            if m == Modality::Edge {
                if let Some(f) = self.fleet_of(t.id) {
                    let i = f.index();
                    fleet_energy[i] += c.edge_energy_uj;
                    fleet_busy[i] += c.busy_us_per_hour[k];
                    fleet_radio[i] += c.edge_radio_bytes_per_hour;
                }
            } else {
                cost += c.cost_nusd_per_hour[k];
                cloud_busy += c.busy_us_per_hour[k];
            }
        }
        let mut bytes = Sat::ZERO;
        for (e, c) in g.edges.iter().zip(&self.edges) {
            let (a, b) = (
                modality_index(assignment[e.from.index()]),
                modality_index(assignment[e.to.index()]),
            );
            if let Some(f) = c.energy_fleet[a][b] {
                fleet_energy[f.index()] += c.radio_uj[a][b];
            }
            bytes += c.uplink_bytes_per_hour[a][b];
            for &(f, load) in &c.radio_load[a][b] {
                if let Some(f) = f {
                    fleet_radio[f.index()] += load;
                }
            }
        }
        let mut latency_total = Sat::ZERO;
        let mut requirements = Vec::with_capacity(g.requirements.len());
        let exec_time = Sat::new(self.duration_us) + whole;
        // A bound beyond i64 (the checker allows none) is held at i64::MAX:
        // smaller than the truth, so never met by the clamp.
        let upper_bound = |b: u64| i64::try_from(b).unwrap_or(i64::MAX);
        for (k, r) in g.requirements.iter().enumerate() {
            let (predicted, bound, upper): (Option<i64>, i64, bool) = match r.kind {
                RequirementKind::Latency {
                    from,
                    to,
                    percentile_bp,
                    bound_us,
                } => {
                    let mean = path(k, from, to);
                    latency_total += mean;
                    (
                        tail(mean, self.profile.tail.factor(percentile_bp)).to_i64(),
                        upper_bound(bound_us),
                        true,
                    )
                }
                RequirementKind::ExecTime {
                    task: Some(t),
                    percentile_bp,
                    bound_us,
                } => {
                    let own = self.tasks[t.index()].compute_us
                        [modality_index(assignment[t.index()])]
                    .unwrap_or(Sat::ZERO);
                    (
                        tail(own, self.profile.tail.factor(percentile_bp)).to_i64(),
                        upper_bound(bound_us),
                        true,
                    )
                }
                RequirementKind::ExecTime {
                    task: None,
                    bound_us,
                    ..
                } => (exec_time.to_i64(), upper_bound(bound_us), true),
                RequirementKind::CloudCost { max_nusd_per_hour } => {
                    (cost.to_i64(), upper_bound(max_nusd_per_hour), true)
                }
                RequirementKind::BatteryReserve { fleet, min_bp } => {
                    // The worst fleet; any fleet drawing too much to
                    // compute makes the whole reserve too large a draw.
                    let worst = g
                        .fleets
                        .iter()
                        .filter(|f| fleet.is_none_or(|x| x == f.id))
                        .map(|f| {
                            reserve_bp(self.battery_uj[f.id.index()], fleet_energy[f.id.index()])
                        })
                        .try_fold(10_000i64, |worst, r| r.map(|r| worst.min(r)));
                    (worst, i64::from(min_bp), false)
                }
            };
            let met = predicted.is_some_and(|predicted| match (upper, r.inclusive) {
                (true, true) => predicted <= bound,
                (true, false) => predicted < bound,
                (false, true) => predicted >= bound,
                (false, false) => predicted > bound,
            });
            requirements.push(RequirementValue {
                predicted,
                bound,
                met,
            });
        }
        if !g
            .requirements
            .iter()
            .any(|r| matches!(r.kind, RequirementKind::Latency { .. }))
        {
            latency_total = whole;
        }
        Evaluation {
            requirements,
            fleet_busy_permille: fleet_busy
                .iter()
                .zip(&self.fleet_capacity_us_per_hour)
                .map(|(&b, &c)| permille(b, c))
                .collect(),
            cloud_busy_permille: permille(cloud_busy, self.cloud_capacity_us_per_hour),
            fleet_radio_permille: fleet_radio
                .iter()
                .zip(&self.fleet_radio_bytes_per_hour)
                .map(|(&b, &c)| permille(b, c))
                .collect(),
            energy_uj: fleet_energy.iter().sum(),
            fleet_energy_uj: fleet_energy,
            cloud_cost_nusd_per_hour: cost,
            uplink_bytes_per_hour: bytes,
            latency_us: latency_total,
            exec_time_us: exec_time,
            exec_time_counts: self.objectives.contains(&ir::Objective::ExecTime),
        }
    }

    /// Critical path of the whole graph (mean), for the latency objective of
    /// missions without latency requirements.
    pub fn whole_graph_latency(&self, assignment: &[Modality]) -> Sat {
        let all = vec![true; self.graph.tasks.len()];
        let fin = self.path_latency_us(assignment, &all, TaskId(u32::MAX));
        fin.into_iter().max().unwrap_or(Sat::ZERO)
    }

    /// Lexicographic objective vector.
    pub fn objective_vector(&self, e: &Evaluation) -> Vec<Sat> {
        self.objectives.iter().map(|&o| e.objective(o)).collect()
    }

    /// The mission's objectives, then the other metrics as tie-breakers:
    /// among equally good plans prefer the faster, leaner, cheaper one (it
    /// also makes the chosen plan reproducible). The synthesizer ends with
    /// one more: the fewest tasks on scarce FPGA boards.
    pub fn lexicographic_order(&self) -> Vec<ir::Objective> {
        use ir::Objective::*;
        let rest = [Latency, Energy, Cost, Bytes]
            .into_iter()
            .filter(|o| !self.objectives.contains(o));
        self.objectives.iter().copied().chain(rest).collect()
    }

    /// A placement's values in [`CostModel::lexicographic_order`], then its
    /// FPGA task count: the synthesizer's full order of preference.
    pub fn preference_vector(&self, e: &Evaluation, assignment: &[Modality]) -> Vec<Sat> {
        self.lexicographic_order()
            .into_iter()
            .map(|o| e.objective(o))
            .chain(std::iter::once(fpga_tasks(assignment)))
            .collect()
    }

    /// The choices of every task, or `None` when some task has none.
    pub fn all_choices(&self) -> Option<Vec<Vec<Modality>>> {
        let choices: Vec<Vec<Modality>> = self
            .graph
            .tasks
            .iter()
            .map(|t| self.choices(t.id))
            .collect();
        (!choices.iter().any(Vec::is_empty)).then_some(choices)
    }

    /// Modalities the task may take: possible and not excluded by its pin.
    pub fn choices(&self, t: TaskId) -> Vec<Modality> {
        Modality::ALL
            .into_iter()
            .filter(|&m| {
                self.tasks[t.index()].compute_us[modality_index(m)].is_some()
                    && !plan::pinned_out(self.graph, t, m)
            })
            .collect()
    }
}

/// Tasks a placement puts on the cloud's FPGA boards (the last tie-breaker).
pub fn fpga_tasks(assignment: &[Modality]) -> Sat {
    let n = assignment
        .iter()
        .filter(|&&m| m == Modality::CloudFpga)
        .count();
    Sat::from_u128(u128::try_from(n).unwrap_or(u128::MAX))
}

/// `mean × factor‰`, rounded up so a bound is never claimed met by
/// rounding; too large stays too large.
pub fn tail(mean: Sat, factor_permille: u64) -> Sat {
    mean.mul_div_ceil(u128::from(factor_permille), 1_000)
}

/// Utilisation in ‰ of `cap` (exact), rounded down; too large when `busy`
/// is, and any work on no capacity at all is too large.
pub fn permille(busy: Sat, cap: u128) -> Sat {
    match (busy.wide(), cap) {
        (Some(0), _) => Sat::ZERO,
        (_, 0) => Sat::TOO_LARGE,
        (Some(b), cap) => Sat::from_u128(b * 1_000 / cap),
        (None, _) => Sat::TOO_LARGE,
    }
}

/// Battery left in basis points of capacity (negative when over-drawn);
/// `None` when the energy drawn is too large to compute or the reserve
/// is below `i64::MIN` basis points.
pub fn reserve_bp(capacity_uj: u128, used_uj: Sat) -> Option<i64> {
    if capacity_uj == 0 {
        return Some(-10_000);
    }
    // |capacity − used| < 2⁹⁷, × 10⁴ < 2¹¹¹: exact in i128.
    let cap = i128::try_from(capacity_uj).ok()?;
    let used = i128::from(used_uj.get()?);
    i64::try_from((cap - used).checked_mul(10_000)? / cap).ok()
}
