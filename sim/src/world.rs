//! The simulated world around the real controller core: devices that
//! register, learn their epoch and heartbeat period from the core's
//! `Registered` message, run what they are sent, move as their behaviours
//! command, send heartbeats and telemetry, can be killed, revived, slowed,
//! cut off (buffering their results until they reconnect) or run out of
//! battery; workers with cold starts; a controller that can crash and
//! restart from its journal.
//!
//! Two levels of detail share one engine:
//! * the flat world (tests): fixed or per-task service times, one message
//!   latency, a flat battery drain;
//! * with [`Physics`] (from the cost model: `hivemind sim`): each device's
//!   links queue transfers at its radio's rate (one channel per fleet when
//!   the radio is `shared`), its cores queue attempts, its battery pays
//!   for motion, compute and radio; a worker fetches storage or remote
//!   memory hand-offs before it runs and shares its core with the
//!   invocations of other workers pinned to it.
//!
//! The world drives the core only through its seam (`handle`,
//! `handle_timeout` at `poll_timeout`, `poll_effect`): it reads the mission
//! (the fleets to simulate) from the core once, and nothing of the core's
//! state after that. Everything is ordered by (time, sequence) — the
//! world's items before the core's deadlines at the same instant — and
//! random only through a seeded [`Rng`], so a run is a pure function of
//! its inputs.

use crate::agenda::Agenda;
use crate::cpu::Cpu;
use crate::physics::Physics;
use crate::radio::{Degrade, Link};
use crate::smallmap::SmallMap;
use hivemind_controller::effect::{BehaviourCommand, DeviceMsg, Effect, Publication};
use hivemind_controller::event::{Command, Event};
use hivemind_controller::ids::{DeviceId, Epoch, Executor, InstanceId, WorkerId};
use hivemind_controller::pool::PoolAction;
use hivemind_controller::record::Record;
use hivemind_controller::rng::Rng;
use hivemind_controller::time::Micros;
use hivemind_controller::{Controller, Handoff};
use hivemind_cost::{modality_index, CostModel};
use hivemind_ir::plan::{self, Modality, Plan, Strategy};
use hivemind_ir::{FleetId, Placement, PointMm, TaskGraph, TaskId};
use hivemind_vehicle::{Maneuver, Vehicle, VehicleParams};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A plan that keeps sensing, behaviours and fleet-pinned tasks on the
/// edge and everything else in the cloud when allowed.
pub fn simple_plan(graph: &TaskGraph) -> Plan {
    plan::assemble(
        graph,
        &simple_assignment(graph),
        Strategy::Manual,
        "testkit",
    )
}

/// [`simple_plan`]'s placement, for a plan with predictions
/// (`hivemind_cost::plan_for`).
pub fn simple_assignment(graph: &TaskGraph) -> Vec<Modality> {
    graph
        .tasks
        .iter()
        .map(|t| {
            let edge_bound = t.behaviour.is_some()
                || !t.needs.is_empty()
                || matches!(t.placement, Placement::Edge | Placement::Fleet { .. });
            if edge_bound && plan::allowed(graph, t.id, Modality::Edge) {
                Modality::Edge
            } else if plan::allowed(graph, t.id, Modality::Cloud) {
                Modality::Cloud
            } else {
                Modality::Edge
            }
        })
        .collect()
}

#[derive(Debug, Clone)]
pub struct WorldConfig {
    pub seed: u64,
    pub edge_service_us: u64,
    pub cloud_service_us: u64,
    /// Service time varies by up to ± this many permille.
    pub jitter_permille: u64,
    /// One-way latency of every message (without `physics`).
    pub net_latency_us: u64,
    pub cold_start_us: u64,
    /// Items in every result (drives per-item fan-out).
    pub items: u32,
    pub result_bytes: u64,
    /// Battery drained per second (taken at every heartbeat; without
    /// `physics`, which charges motion, CPU and radio instead).
    pub drain_uj_per_s: u64,
    /// Devices whose attempts take this many times longer.
    pub slow: Vec<(DeviceId, u64)>,
    /// Per task: this permille of attempts fail with an error.
    pub error_permille: u32,
    /// Keep the records the core asks to journal (needed to crash and
    /// recover the controller).
    pub keep_journal: bool,
    /// Per-task timing (e.g. from the cost model) instead of the flat
    /// `edge_service_us` / `cloud_service_us`.
    pub timing: Option<Timing>,
    /// The physical world (links that queue, CPUs with cores, battery
    /// drained by motion, compute and radio, cloud hand-offs, invocations
    /// sharing a core); without it, the flat test world above.
    pub physics: Option<Physics>,
    /// Record the battery of every fleet this often (0: never).
    pub sample_period_us: u64,
}

/// How long each task takes where the plan put it, indexed by task.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timing {
    /// One warm run of an activation, invocation overhead included.
    pub service_us: Vec<u64>,
    /// Its inputs' transfer before it can start (ignored with `physics`,
    /// which sends the bytes over the links instead).
    pub input_us: Vec<u64>,
    /// One worker cold start (the mission's `cold_start`, else the profile's).
    pub cold_start_us: u64,
    /// Operations per second of one cloud core: a training job takes its
    /// operations over this (0: the flat `cloud_service_us`).
    pub cloud_ops_per_s: u64,
}

impl Timing {
    /// The times the cost model predicts for `plan`: a warm run at each
    /// task's modality (the pool adds cold starts itself) and the slowest
    /// of its input transfers.
    pub fn predicted(model: &CostModel, plan: &Plan) -> Timing {
        let assignment: Vec<Modality> = plan.tasks.iter().map(|t| t.modality).collect();
        let tasks = &model.graph.tasks;
        Timing {
            service_us: tasks
                .iter()
                .map(|t| {
                    let i = t.id.index();
                    model.tasks[i].warm_us[modality_index(assignment[i])].unwrap_or(0)
                })
                .collect(),
            input_us: tasks
                .iter()
                .map(|t| model.input_us(&assignment, t.id))
                .collect(),
            cold_start_us: model.cold_start_us(),
            cloud_ops_per_s: model.cloud_ops_per_s(),
        }
    }
}

impl Default for WorldConfig {
    fn default() -> WorldConfig {
        WorldConfig {
            seed: 1,
            edge_service_us: 20_000,
            cloud_service_us: 10_000,
            jitter_permille: 200,
            net_latency_us: 2_000,
            cold_start_us: 250_000,
            items: 3,
            result_bytes: 1_000,
            drain_uj_per_s: 1_000_000,
            slow: Vec::new(),
            error_permille: 0,
            keep_journal: false,
            timing: None,
            physics: None,
            sample_period_us: 0,
        }
    }
}

/// One call the world made into the core, in order: a fresh core given the
/// same calls at the same times makes the same run (without crashes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    Event(Event),
    /// `handle_timeout` (at the core's earliest deadline).
    Timeout,
}

/// When the operator starts the mission, after every device has
/// registered (at 0): its duration runs from here.
pub const MISSION_START: Micros = Micros::from_millis(1);

#[derive(Debug, Clone, PartialEq)]
enum Pending {
    Deliver(Event),
    Beat(DeviceId),
    /// An attempt's message reached its device (with its input): it
    /// queues for a core.
    Arrive {
        device: DeviceId,
        epoch: Epoch,
        instance: InstanceId,
    },
    /// A granted firing's instant (`DeviceMsg::Fire`): the device starts
    /// it by itself, unless the grant was cancelled or is void.
    Fire {
        device: DeviceId,
        epoch: Epoch,
        instance: InstanceId,
    },
    /// The device computed it: the result goes up the link.
    Computed {
        device: DeviceId,
        epoch: Epoch,
        instance: InstanceId,
    },
    /// The result reached the controller.
    Finish {
        executor: Executor,
        instance: InstanceId,
    },
    /// A device finished downloading a model.
    Loaded {
        device: DeviceId,
        epoch: Epoch,
        task: TaskId,
        version: u32,
    },
    Kill(DeviceId),
    Revive(DeviceId),
    Disconnect(DeviceId),
    Reconnect(DeviceId),
    Degrade(DeviceId, Degrade),
    Slow(DeviceId, u64),
    SlowWorkers(u64),
    Sample,
    Stop,
    Crash,
    /// A batch's effects, once the journal commit holding its records is
    /// done — unless the controller that made them has crashed since
    /// (the number of its incarnation: `World::restarts`).
    Release(u64, Vec<Effect>),
}

/// The controller's journal in the physical world: when its group commits
/// run, and when the latest batch's effects went out.
#[derive(Debug, Clone, Copy, Default)]
struct Commits {
    start: Micros,
    end: Micros,
    released: Micros,
}

#[derive(Debug, Clone)]
struct SimDevice {
    fleet: FleetId,
    alive: bool,
    /// Its link to the controller is up (faults cut it).
    link_up: bool,
    /// Within its fleet's radio range of home.
    in_range: bool,
    /// The registration the core gave it (0: none yet).
    epoch: Epoch,
    /// As told by the core when it registered.
    heartbeat_period_us: Option<u64>,
    /// A heartbeat is scheduled (the loop stops when the device is dead).
    beating: bool,
    registered_before: bool,
    /// Attempts it runs, with their task.
    running: SmallMap<InstanceId, TaskId>,
    /// Firings granted to it not yet started, with their task.
    granted: SmallMap<InstanceId, TaskId>,
    buffered: Vec<Event>,
    /// Where it is, how it moves, and its battery (everything it spends —
    /// motion, compute, radio — is charged to it). Boxed: the hot fields
    /// above stay within a few cache lines.
    vehicle: Box<Vehicle>,
    /// Spent on compute and radio since the vehicle was last charged (its
    /// next advance takes it), so those paths need not touch the vehicle.
    unpaid_uj: u64,
    /// Its link rate (model downloads take bytes ÷ rate).
    radio_bps: u64,
    /// The model version it has loaded, per retrained task (0 at start).
    models: SmallMap<TaskId, u32>,
    /// Own links and processor (with `physics`; a shared radio is the
    /// fleet's cell instead).
    uplink: Option<Link>,
    downlink: Option<Link>,
    cpu: Option<Cpu>,
    /// Its attempts take this many thousandths of their time (a straggler).
    slow_milli: u64,
    usage: DeviceUsage,
    /// Energy spent through `spend` (compute, radio, the flat drain).
    other_uj: u64,
    /// When its latest result reaches the controller: results travel in
    /// order on one stream (a child's never overtakes its parent's).
    last_report: Micros,
    /// Tasks a device-local join needs that completed here under
    /// registration `.0` (`ir::local`; as the agent keeps them).
    delivered: (Epoch, Vec<TaskId>),
}

impl SimDevice {
    fn connected(&self) -> bool {
        self.link_up && self.in_range
    }
    fn battery_uj(&self) -> u64 {
        self.vehicle.battery_uj().saturating_sub(self.unpaid_uj)
    }
    fn position(&self) -> PointMm {
        self.vehicle.position()
    }
    /// Spend `uj` of battery on something other than motion.
    fn spend(&mut self, uj: u64) {
        self.unpaid_uj = self.unpaid_uj.saturating_add(uj);
        self.other_uj = self.other_uj.saturating_add(uj);
    }
    /// Move the vehicle on to `now_us` and charge it what was spent.
    fn advance(&mut self, now_us: u64) {
        self.vehicle.advance(now_us);
        self.vehicle.drain_uj(std::mem::take(&mut self.unpaid_uj));
    }
    /// What it has spent and sent so far (motion: all it spent but the rest).
    fn usage(&self) -> DeviceUsage {
        let airtime = |l: &Option<Link>| l.as_ref().map_or(0, |l| l.airtime_us);
        DeviceUsage {
            link_airtime_us: airtime(&self.uplink).max(airtime(&self.downlink)),
            motion_uj: self
                .vehicle
                .energy_used_uj()
                .saturating_add(self.unpaid_uj)
                .saturating_sub(self.other_uj),
            ..self.usage
        }
    }
}

/// What one device spent and sent, as the world measured it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DeviceUsage {
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub motion_uj: u64,
    pub cpu_uj: u64,
    pub radio_uj: u64,
    pub cpu_busy_us: u64,
    /// The battery ran out (the device then fails).
    pub depleted: bool,
    /// Time it spent beyond its radio's range from home (its link down).
    pub out_of_range_us: u64,
    /// Time its busier own link (up or down) spent sending (0 on a shared
    /// channel: see `StopSnapshot::cell_airtime_us`).
    pub link_airtime_us: u64,
}

impl DeviceUsage {
    /// All it spent: motion, compute and radio.
    pub fn energy_uj(&self) -> u64 {
        self.motion_uj
            .saturating_add(self.cpu_uj)
            .saturating_add(self.radio_uj)
    }
}

/// A worker of the function pool, as the world runs it.
#[derive(Debug, Clone, Default)]
struct SimWorker {
    /// The (server, core) it is pinned to.
    core: (u32, u32),
    /// What it runs: the task and the model version each invocation uses.
    running: SmallMap<InstanceId, (TaskId, u32)>,
}

/// What the world observed over the run, bounded in size whatever its
/// length: counts per second and per task, battery samples per fleet.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Observed {
    /// Completed instances per task per second of the mission.
    pub completions_per_s: Vec<Vec<u64>>,
    /// (time, per fleet: mean and minimum battery of its live devices in
    /// permille of capacity, live devices).
    pub battery: Vec<BatterySample>,
    pub battery_deaths: u64,
    /// Invocations slowed by other invocations sharing their core.
    pub interfered: u64,
    /// Time workers spent on invocations and training jobs (input fetch
    /// included) and starting cold: what serverless bills.
    pub worker_run_us: u64,
    pub cold_start_us: u64,
    /// When the operator stopped the mission: what each device had spent
    /// and sent by then (the drain after it is not the mission's).
    pub at_stop: Option<StopSnapshot>,
    /// Where the first devices were at each sample (for the coverage map).
    pub tracks: Vec<Track>,
}

/// One device's sampled positions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Track {
    pub device: u32,
    pub points: Vec<PointMm>,
}

/// Devices whose tracks are sampled (a map of more is unreadable).
const TRACKED: usize = 32;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StopSnapshot {
    pub at_us: u64,
    pub usage: Vec<DeviceUsage>,
    /// Per fleet: the time its shared channel spent sending (0 without one).
    pub cell_airtime_us: Vec<u64>,
    pub worker_run_us: u64,
    pub cold_start_us: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatterySample {
    pub at_us: u64,
    pub fleets: Vec<FleetBattery>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FleetBattery {
    pub mean_permille: u32,
    pub min_permille: u32,
    pub alive: u32,
}

/// Longest run the per-second completion counts cover (a day).
const MAX_SECONDS: u64 = 86_400;

pub struct World {
    pub ctl: Controller,
    pub cfg: WorldConfig,
    pub now: Micros,
    queue: Agenda<Pending>,
    rng: Rng,
    devices: Vec<SimDevice>,
    /// Per fleet with a shared radio: its channel.
    cells: Vec<Option<Link>>,
    /// Per fleet: usable battery of one device (for permille figures).
    capacity_uj: Vec<u64>,
    workers: BTreeMap<WorkerId, SimWorker>,
    /// Invocations running per (server, core).
    core_load: BTreeMap<(u32, u32), u32>,
    /// Every worker invocation takes this many thousandths of its time.
    slow_workers_milli: u64,
    /// Every call into the core, in order, with its time.
    pub log: Vec<(Micros, Input)>,
    pub journal: Vec<Record>,
    pub publications: Vec<(Micros, Publication)>,
    /// Every effect except journal records, for assertions.
    pub effects: Vec<(Micros, Effect)>,
    pub keep_effects: bool,
    /// Keep `log` (the benchmark replays it; `hivemind sim` does not, so a
    /// long mission's memory does not grow with every event).
    pub keep_log: bool,
    /// Keep `publications` (telemetry alone is one per device every 2 s).
    pub keep_publications: bool,
    pub events_handled: u64,
    pub timeouts_handled: u64,
    /// Controller crashes recovered from the journal.
    pub restarts: u64,
    /// Per fleet: where its devices start and return to.
    homes: Vec<PointMm>,
    /// The mission's areas (what sweeps cover and `goto area` flies to).
    areas: Vec<hivemind_ir::Area>,
    /// The core published that the mission finished or aborted.
    pub over: bool,
    pub observed: Observed,
    /// The edges devices run by themselves (`ir::local`), as the agent
    /// reads them from its plan fragment.
    local: hivemind_ir::local::LocalChains,
    /// Per task: some device-local join needs it (`LocalChains::needs`).
    needed: Vec<bool>,
    commit: Commits,
    /// Device attempts whose run failed (an injected error), reported as
    /// errors when their answer arrives.
    failing: std::collections::BTreeSet<(DeviceId, InstanceId)>,
}

impl World {
    /// A world with every fleet's devices (ids numbered across fleets from
    /// 0) registered at time 0 and the mission started at 1 ms.
    pub fn new(ctl: Controller, cfg: WorldConfig) -> World {
        let mut w = World {
            ctl,
            rng: Rng::new(cfg.seed ^ 0x5EED),
            cfg,
            now: Micros::ZERO,
            queue: Agenda::default(),
            devices: Vec::new(),
            cells: Vec::new(),
            capacity_uj: Vec::new(),
            workers: BTreeMap::new(),
            core_load: BTreeMap::new(),
            slow_workers_milli: 1_000,
            log: Vec::new(),
            journal: Vec::new(),
            publications: Vec::new(),
            effects: Vec::new(),
            keep_effects: true,
            keep_log: true,
            keep_publications: true,
            events_handled: 0,
            timeouts_handled: 0,
            restarts: 0,
            over: false,
            homes: Vec::new(),
            areas: Vec::new(),
            observed: Observed::default(),
            local: Default::default(),
            needed: Vec::new(),
            commit: Commits::default(),
            failing: Default::default(),
        };
        w.absorb();
        w.local = hivemind_ir::local::local_chains(&w.ctl.state().graph, &w.ctl.state().plan);
        w.needed = vec![false; w.local.needs.len()];
        for &t in w.local.needs.iter().flatten() {
            if let Some(n) = w.needed.get_mut(t.index()) {
                *n = true;
            }
        }
        let graph = &w.ctl.state().graph;
        w.areas = graph.areas.clone();
        w.observed.completions_per_s = vec![Vec::new(); graph.tasks.len()];
        let fleets: Vec<(FleetId, u32, u64, PointMm, VehicleParams, u64)> = graph
            .fleets
            .iter()
            .map(|f| {
                let home = f.home.unwrap_or(PointMm { x_mm: 0, y_mm: 0 });
                (
                    f.id,
                    f.count,
                    f.battery_uj,
                    home,
                    flat_vehicle(f),
                    f.radio_bps,
                )
            })
            .collect();
        w.homes = fleets.iter().map(|f| f.3).collect();
        w.capacity_uj = fleets.iter().map(|f| f.2).collect();
        let phys = w.cfg.physics.clone();
        w.cells = fleets
            .iter()
            .map(|f| {
                let p = phys.as_ref()?.fleets.get(f.0.index())?;
                p.shared_radio
                    .then(|| Link::new(p.figures.radio_bps, p.figures.link_latency_us))
            })
            .collect();
        let mut next = 0;
        for (fleet, count, battery, home, flat, radio_bps) in fleets {
            let fp = phys.as_ref().and_then(|p| p.fleets.get(fleet.index()));
            let params = fp.map_or(flat, |p| p.vehicle);
            // Parameters the vehicle model refuses fly the flat ones.
            let mut vehicle = Vehicle::new(params, home)
                .or_else(|_| Vehicle::new(flat, home))
                .or_else(|_| Vehicle::new(VehicleParams::of(flat.class), home))
                .expect("the class defaults are valid vehicle parameters");
            // A drone in the physical world is airborne for the whole
            // mission (hovering at home until told otherwise), as the cost
            // model assumes.
            if fp.is_some() && flat.class == hivemind_ir::DeviceClass::Drone {
                let _ = vehicle.command(0, Maneuver::Goto(home));
            }
            let own_link = fp
                .filter(|p| !p.shared_radio)
                .map(|p| Link::new(p.figures.radio_bps, p.figures.link_latency_us));
            for _ in 0..count {
                let id = DeviceId(next);
                next += 1;
                w.devices.push(SimDevice {
                    fleet,
                    alive: true,
                    link_up: true,
                    in_range: true,
                    epoch: Epoch(0),
                    heartbeat_period_us: None,
                    beating: false,
                    registered_before: false,
                    running: SmallMap::default(),
                    granted: SmallMap::default(),
                    buffered: Vec::new(),
                    vehicle: Box::new(vehicle.clone()),
                    unpaid_uj: 0,
                    radio_bps,
                    models: SmallMap::default(),
                    uplink: own_link.clone(),
                    downlink: own_link.clone(),
                    cpu: fp.map(|p| Cpu::new(p.cores)),
                    slow_milli: 1_000,
                    usage: DeviceUsage::default(),
                    other_uj: 0,
                    last_report: Micros::ZERO,
                    delivered: (Epoch(0), Vec::new()),
                });
                w.at(
                    Micros::ZERO,
                    Pending::Deliver(Event::DeviceJoined {
                        device: id,
                        fleet,
                        battery_uj: battery,
                        position: home,
                    }),
                );
            }
        }
        w.at(
            MISSION_START,
            Pending::Deliver(Event::Operator {
                command: Command::Start,
            }),
        );
        if w.cfg.sample_period_us > 0 {
            w.at(Micros::ZERO, Pending::Sample);
        }
        w
    }

    fn at(&mut self, t: Micros, p: Pending) {
        self.queue.push(t, p);
    }

    fn device(&mut self, id: DeviceId) -> Option<&mut SimDevice> {
        self.devices.get_mut(id.0 as usize)
    }

    pub fn kill(&mut self, t: Micros, d: DeviceId) {
        self.at(t, Pending::Kill(d));
    }
    pub fn revive(&mut self, t: Micros, d: DeviceId) {
        self.at(t, Pending::Revive(d));
    }
    /// Cut the device off (it keeps working and buffers results) until `to`,
    /// when it replays what it buffered and registers again.
    pub fn disconnect(&mut self, from: Micros, to: Micros, d: DeviceId) {
        self.link_down(from, d);
        self.link_up(to, d);
    }
    /// The device's link goes down at `t` (it buffers) — see [`World::link_up`].
    pub fn link_down(&mut self, t: Micros, d: DeviceId) {
        self.at(t, Pending::Disconnect(d));
    }
    /// The device's link is back at `t`: it replays and registers again.
    pub fn link_up(&mut self, t: Micros, d: DeviceId) {
        self.at(t, Pending::Reconnect(d));
    }
    /// From `t` on, the device's links degrade as `how` says (the default
    /// restores them).
    pub fn set_degrade(&mut self, t: Micros, d: DeviceId, how: Degrade) {
        self.at(t, Pending::Degrade(d, how));
    }
    /// From `t` on, the device's attempts take `factor_milli` ‰ of their time.
    pub fn set_slow(&mut self, t: Micros, d: DeviceId, factor_milli: u64) {
        self.at(t, Pending::Slow(d, factor_milli));
    }
    /// From `t` on, worker invocations take `factor_milli` ‰ of their time.
    pub fn set_slow_workers(&mut self, t: Micros, factor_milli: u64) {
        self.at(t, Pending::SlowWorkers(factor_milli));
    }
    pub fn stop_at(&mut self, t: Micros) {
        self.at(t, Pending::Stop);
    }
    /// The controller dies at `t` and restarts at once from its journal
    /// (needs `keep_journal`). Every effect of the records it wrote was
    /// carried out, as a driver does after making them durable; devices
    /// and workers keep running and hear from the recovered core.
    pub fn crash(&mut self, t: Micros) {
        self.at(t, Pending::Crash);
    }
    pub fn device_ids(&self) -> Vec<DeviceId> {
        (0..self.devices.len() as u32).map(DeviceId).collect()
    }
    /// What each device spent and sent, by device id.
    pub fn usage(&self) -> Vec<DeviceUsage> {
        self.devices.iter().map(SimDevice::usage).collect()
    }

    fn handle(&mut self, e: Event) {
        if self.keep_log {
            self.log.push((self.now, Input::Event(e.clone())));
        }
        self.events_handled += 1;
        self.ctl.handle(self.now, e);
        self.absorb();
    }

    fn handle_timeout(&mut self) {
        if self.keep_log {
            self.log.push((self.now, Input::Timeout));
        }
        self.timeouts_handled += 1;
        self.ctl.handle_timeout(self.now);
        self.absorb();
    }

    /// How long `task` takes on `executor` (`flat` without per-task timing),
    /// with jitter and the executor's slowdown, plus the timing's input
    /// transfer in the flat world (the physical one sends inputs over its
    /// links).
    fn task_time(&mut self, task: TaskId, flat: u64, executor: Executor) -> u64 {
        let (base, input) = match &self.cfg.timing {
            Some(t) => (
                t.service_us.get(task.index()).copied().unwrap_or(flat),
                t.input_us.get(task.index()).copied().unwrap_or(0),
            ),
            None => (flat, 0),
        };
        let input = if self.cfg.physics.is_some() { 0 } else { input };
        input.saturating_add(self.service(base, executor))
    }

    fn service(&mut self, base: u64, executor: Executor) -> u64 {
        let j = self.cfg.jitter_permille.min(1_000);
        let spread = base / 1_000 * j + base % 1_000 * j / 1_000;
        let mut us = base - spread + self.rng.below(spread.saturating_mul(2).saturating_add(1));
        match executor {
            Executor::Device { device, .. } => {
                if let Some((_, f)) = self.cfg.slow.iter().find(|(d, _)| *d == device) {
                    us = us.saturating_mul(*f);
                }
                if let Some(d) = self.devices.get(device.0 as usize) {
                    us = scale_milli(us, d.slow_milli);
                }
            }
            Executor::Worker { .. } => us = scale_milli(us, self.slow_workers_milli),
        }
        us.max(1)
    }

    /// Carry out the core's effects: journal records now; the pool's
    /// actions now too (the runtime's driver releases them before the
    /// commit: its workers die with it); the rest, in the physical world,
    /// once the journal commit that holds the batch's records is done
    /// (group commit, as the runtime's driver does: a batch handled
    /// before a commit's fsync begins — an instant function's answer —
    /// joins it, one handled while it runs joins the next one; a batch
    /// without records goes out after the batches before it).
    fn absorb(&mut self) {
        let commit_us = self
            .cfg
            .physics
            .as_ref()
            .map_or(0, |p| p.runtime.journal_commit_us);
        let mut batch = Vec::new();
        let mut records = false;
        while let Some(e) = self.ctl.poll_effect() {
            if let Effect::Journal(r) = &e {
                records = true;
                if self.cfg.keep_journal {
                    self.journal.push(r.clone());
                }
                continue;
            }
            if commit_us == 0 || matches!(e, Effect::Pool(_)) {
                self.carry_out(e);
            } else {
                batch.push(e);
            }
        }
        if batch.is_empty() && !records {
            return;
        }
        let now = self.now;
        let release = if records && commit_us > 0 {
            let c = &mut self.commit;
            if now <= c.start {
                // The next commit has not begun: the batch joins it.
            } else if now < c.end {
                // One is running: the batch waits for the one after it.
                c.start = c.end;
                c.end = c.end.plus(commit_us);
            } else {
                c.start = now;
                c.end = now.plus(commit_us);
            }
            c.end
        } else {
            self.commit.released.max(now)
        };
        self.commit.released = release;
        if batch.is_empty() {
            return;
        }
        if release <= now {
            for e in batch {
                self.carry_out(e);
            }
        } else {
            self.at(release, Pending::Release(self.restarts, batch));
        }
    }

    fn carry_out(&mut self, e: Effect) {
        {
            match &e {
                Effect::Journal(_) => {}
                Effect::Device { device, epoch, msg } => self.device_hears(*device, *epoch, msg),
                Effect::Pool(a) => self.pool_does(a),
                Effect::Publish(p) => {
                    match p {
                        Publication::MissionFinished | Publication::MissionAborted { .. } => {
                            self.over = true
                        }
                        Publication::Completed { task, .. } => self.count_completion(*task),
                        _ => {}
                    }
                    if self.keep_publications {
                        self.publications.push((self.now, p.clone()));
                    }
                }
            }
            if self.keep_effects {
                self.effects.push((self.now, e));
            }
        }
    }

    fn count_completion(&mut self, task: TaskId) {
        let second = (self.now.0 / 1_000_000).min(MAX_SECONDS) as usize;
        if let Some(per_s) = self.observed.completions_per_s.get_mut(task.index()) {
            if per_s.len() <= second {
                per_s.resize(second + 1, 0);
            }
            per_s[second] += 1;
        }
    }

    fn device_hears(&mut self, device: DeviceId, epoch: Epoch, msg: &DeviceMsg) {
        let now = self.now;
        match msg {
            DeviceMsg::Registered {
                heartbeat_period_us,
            } => {
                if self.device(device).is_some_and(|d| d.epoch != epoch) {
                    self.failing.retain(|&(d, _)| d != device);
                }
                let Some(d) = self.device(device) else {
                    return;
                };
                if d.epoch != epoch {
                    // A new registration: whatever the old one ran or
                    // was granted is void.
                    d.epoch = epoch;
                    d.running.clear();
                    d.granted.clear();
                }
                let period = (*heartbeat_period_us).max(1);
                d.heartbeat_period_us = Some(period);
                if !d.beating && d.alive {
                    d.beating = true;
                    // The first time, stagger heartbeats so they do not all
                    // land on one instant.
                    let first = if d.registered_before {
                        period
                    } else {
                        u64::from(device.0) * 7_919 % period
                    };
                    d.registered_before = true;
                    self.at(now.plus(first), Pending::Beat(device));
                }
            }
            DeviceMsg::RunTask {
                instance,
                task,
                input,
            } => {
                // A re-sent attempt (after a controller restart) that the
                // device already runs is not started twice.
                let ok = self.devices.get(device.0 as usize).is_some_and(|d| {
                    d.alive && d.epoch == epoch && !d.running.contains_key(instance)
                });
                if !ok {
                    return;
                }
                if let Some(d) = self.device(device) {
                    d.running.insert(*instance, *task);
                }
                if self.cfg.physics.is_some() {
                    // The message (and the input it carries) comes down the
                    // link; the device then queues it for a core.
                    let bytes = handoff_bytes(input) / self.split(*task);
                    let arrive = self.downlink(device, bytes);
                    self.at(
                        arrive,
                        Pending::Arrive {
                            device,
                            epoch,
                            instance: *instance,
                        },
                    );
                } else {
                    let ex = Executor::Device { device, epoch };
                    let us = self.task_time(*task, self.cfg.edge_service_us, ex);
                    self.at(
                        now.plus(us.saturating_add(self.cfg.net_latency_us)),
                        Pending::Finish {
                            executor: ex,
                            instance: *instance,
                        },
                    );
                }
            }
            DeviceMsg::Cancel { instance } => {
                if let Some(d) = self.device(device).filter(|d| d.epoch == epoch) {
                    d.running.remove(instance);
                    d.granted.remove(instance);
                }
            }
            DeviceMsg::Fire {
                task,
                instance,
                at_us,
                ..
            } => {
                let Some(d) = self.device(device).filter(|d| d.alive && d.epoch == epoch) else {
                    return;
                };
                d.granted.insert(*instance, *task);
                // The grant comes down the link; the device fires at the
                // instant (its clock agrees with the controller's, as the
                // agent's estimate of the offset makes it), or on arrival
                // if that is later.
                let arrive = if self.cfg.physics.is_some() {
                    self.downlink(device, 0)
                } else {
                    now.plus(self.cfg.net_latency_us)
                };
                self.at(
                    arrive.max(Micros(*at_us)),
                    Pending::Fire {
                        device,
                        epoch,
                        instance: *instance,
                    },
                );
            }
            DeviceMsg::Resync => {
                // A cut-off device cannot hear it; a live one re-registers.
                let Some(d) = self.devices.get(device.0 as usize) else {
                    return;
                };
                if d.alive && d.connected() {
                    let e = Event::DeviceJoined {
                        device,
                        fleet: d.fleet,
                        battery_uj: d.battery_uj(),
                        position: d.position(),
                    };
                    let at = self.control_up(device);
                    self.at(at, Pending::Deliver(e));
                }
            }
            DeviceMsg::Model {
                task,
                version,
                bytes,
            } => {
                let Some(d) = self
                    .devices
                    .get(device.0 as usize)
                    .filter(|d| d.alive && d.epoch == epoch)
                else {
                    return;
                };
                // Already loaded (a re-send after a controller restart):
                // answer at once; otherwise download over the radio.
                let have = d.models.get(task).copied().unwrap_or(0);
                let at = if have >= *version {
                    now.plus(self.cfg.net_latency_us)
                } else if self.cfg.physics.is_some() {
                    self.downlink(device, *bytes)
                } else {
                    let bits = u128::from(*bytes) * 8 * 1_000_000;
                    let download =
                        u64::try_from(bits / u128::from(d.radio_bps.max(1))).unwrap_or(u64::MAX);
                    now.plus(download.saturating_add(self.cfg.net_latency_us))
                };
                self.at(
                    at,
                    Pending::Loaded {
                        device,
                        epoch,
                        task: *task,
                        version: *version,
                    },
                );
            }
            DeviceMsg::Behave(cmd) => {
                let home = self.home_of(device);
                let Some(maneuver) = self.maneuver(cmd, home) else {
                    return;
                };
                let Some(d) = self
                    .devices
                    .get_mut(device.0 as usize)
                    .filter(|d| d.alive && d.epoch == epoch)
                else {
                    return;
                };
                // A maneuver the vehicle refuses (an empty route) leaves
                // it on its course.
                if let Err(e) = d.vehicle.command(now.0, maneuver) {
                    tracing::debug!(device = device.0, error = %e, "maneuver refused");
                }
            }
            DeviceMsg::Ack { .. } => {}
        }
    }

    fn home_of(&self, device: DeviceId) -> PointMm {
        self.devices
            .get(device.0 as usize)
            .and_then(|d| self.homes.get(d.fleet.index()))
            .copied()
            .unwrap_or(PointMm { x_mm: 0, y_mm: 0 })
    }

    fn split(&self, task: TaskId) -> u64 {
        self.cfg
            .physics
            .as_ref()
            .and_then(|p| p.tasks.get(task.index()))
            .map_or(1, |t| u64::from(t.split.max(1)))
    }

    /// Send `bytes` down to `device` now: when they have arrived. A
    /// shared radio carries them on its fleet's channel.
    fn downlink(&mut self, device: DeviceId, bytes: u64) -> Micros {
        self.transfer(device, bytes, false)
    }

    fn transfer(&mut self, device: DeviceId, bytes: u64, up: bool) -> Micros {
        let now = self.now;
        let nj = self
            .fleet_physics(device)
            .map_or(0, |f| f.figures.radio_nj_per_bit);
        let overhead = self
            .cfg
            .physics
            .as_ref()
            .map_or(0, |p| p.runtime.transport_overhead_permille.min(1_000));
        let Some(d) = self.devices.get_mut(device.0 as usize) else {
            return now;
        };
        let link = match (self.cells.get_mut(d.fleet.index()), up) {
            (Some(Some(cell)), _) => Some(cell),
            (_, true) => d.uplink.as_mut(),
            (_, false) => d.downlink.as_mut(),
        };
        let Some(link) = link else {
            return now.plus(self.cfg.net_latency_us);
        };
        // The transport's own bytes go on the air too.
        let on_air = u64::try_from(u128::from(bytes) * u128::from(1_000 + overhead) / 1_000)
            .unwrap_or(u64::MAX);
        let at = link.send(now, on_air, &mut self.rng);
        let radio_uj =
            u64::try_from(u128::from(on_air) * 8 * u128::from(nj) / 1_000).unwrap_or(u64::MAX);
        if up {
            d.usage.bytes_up = d.usage.bytes_up.saturating_add(bytes);
        } else {
            d.usage.bytes_down = d.usage.bytes_down.saturating_add(bytes);
        }
        d.usage.radio_uj = d.usage.radio_uj.saturating_add(radio_uj);
        d.spend(radio_uj);
        at
    }

    /// When a small control message from `device` reaches the controller.
    fn control_up(&self, device: DeviceId) -> Micros {
        let Some(d) = self.devices.get(device.0 as usize) else {
            return self.now;
        };
        let link = match self.cells.get(d.fleet.index()) {
            Some(Some(cell)) => Some(cell),
            _ => d.uplink.as_ref(),
        };
        link.map_or(self.now.plus(self.cfg.net_latency_us), |l| {
            l.control(self.now)
        })
    }

    fn fleet_physics(&self, device: DeviceId) -> Option<&crate::physics::FleetPhysics> {
        let d = self.devices.get(device.0 as usize)?;
        self.cfg.physics.as_ref()?.fleets.get(d.fleet.index())
    }

    /// The vehicle maneuver for a behaviour command (the agent's mapping).
    fn maneuver(&self, cmd: &BehaviourCommand, home: PointMm) -> Option<Maneuver> {
        hivemind_proto::device::maneuver(cmd, &self.areas, home)
    }

    fn pool_does(&mut self, a: &PoolAction) {
        match a {
            PoolAction::Invoke {
                worker,
                instance,
                task,
                model_version,
                input,
                ..
            } => {
                let fresh = self.workers.get_mut(worker).is_some_and(|w| {
                    w.running
                        .insert(*instance, (*task, *model_version))
                        .is_none()
                });
                if fresh {
                    let ex = Executor::Worker { worker: *worker };
                    let mut us = self.task_time(*task, self.cfg.cloud_service_us, ex);
                    if self.cfg.physics.is_some() {
                        us = self.interfere(*worker, us);
                        us = us.saturating_add(self.fetch_us(input, *task));
                    }
                    self.observed.worker_run_us = self.observed.worker_run_us.saturating_add(us);
                    self.at(
                        self.now.plus(us),
                        Pending::Finish {
                            executor: ex,
                            instance: *instance,
                        },
                    );
                }
            }
            PoolAction::Train {
                worker,
                job,
                ops,
                task,
                ..
            } => {
                let fresh = self
                    .workers
                    .get_mut(worker)
                    .is_some_and(|w| w.running.insert(*job, (*task, 0)).is_none());
                if fresh {
                    let ex = Executor::Worker { worker: *worker };
                    let base = match self.cfg.timing.as_ref().map(|t| t.cloud_ops_per_s) {
                        Some(rate) if rate > 0 => {
                            u64::try_from(u128::from(*ops) * 1_000_000 / u128::from(rate))
                                .unwrap_or(u64::MAX)
                        }
                        _ => self.cfg.cloud_service_us,
                    };
                    let mut us = self.service(base, ex);
                    if self.cfg.physics.is_some() {
                        us = self.interfere(*worker, us);
                    }
                    self.observed.worker_run_us = self.observed.worker_run_us.saturating_add(us);
                    self.at(
                        self.now.plus(us),
                        Pending::Finish {
                            executor: ex,
                            instance: *job,
                        },
                    );
                }
            }
            PoolAction::Cancel { worker, instance } => {
                let core = self.workers.get_mut(worker).and_then(|w| {
                    w.running.remove(instance)?;
                    Some(w.core)
                });
                if let Some(c) = core {
                    self.unload(c);
                }
            }
            PoolAction::StartWorker {
                worker,
                server,
                core,
                ..
            } => {
                // Started once: a restarted controller does not re-send it.
                self.workers.insert(
                    *worker,
                    SimWorker {
                        core: (*server, *core),
                        running: SmallMap::default(),
                    },
                );
                let cold = self
                    .cfg
                    .timing
                    .as_ref()
                    .map_or(self.cfg.cold_start_us, |t| t.cold_start_us);
                self.observed.cold_start_us = self.observed.cold_start_us.saturating_add(cold);
                self.at(
                    self.now.plus(cold),
                    Pending::Deliver(Event::WorkerReady { worker: *worker }),
                );
            }
            PoolAction::StopWorker { worker } => {
                if let Some(w) = self.workers.remove(worker) {
                    for _ in 0..w.running.len() {
                        self.unload(w.core);
                    }
                }
            }
            PoolAction::Ack { .. } => {}
        }
    }

    /// An invocation starts on `worker`'s core: the pool pins each worker
    /// to one core, and when it starts more workers than there are cores
    /// (or lets a worker run several invocations), invocations running
    /// together on a core share it (processor sharing, fixed at the start:
    /// its time stretches by the core's load; HiveMind measured such
    /// interference between co-located functions).
    fn interfere(&mut self, worker: WorkerId, us: u64) -> u64 {
        let Some(core) = self.workers.get(&worker).map(|w| w.core) else {
            return us;
        };
        let load = self.core_load.entry(core).or_default();
        *load += 1;
        let load = u64::from(*load);
        if load <= 1 {
            return us;
        }
        self.observed.interfered += 1;
        us.saturating_mul(load)
    }

    fn unload(&mut self, core: (u32, u32)) {
        if let Some(l) = self.core_load.get_mut(&core) {
            *l = l.saturating_sub(1);
        }
    }

    /// A worker's input fetch before it runs: storage (a put by the
    /// producer and a get), FPGA remote memory, or nothing (relayed by the
    /// controller, in the worker, or no input). A per-item child fetches
    /// its item only.
    fn fetch_us(&self, input: &Handoff, task: TaskId) -> u64 {
        self.cfg.physics.as_ref().map_or(0, |p| {
            crate::physics::fetch_us(&p.cloud, input, self.split(task))
        })
    }

    /// When the next thing happens: a world item or a core deadline.
    fn next_at(&self) -> Option<Micros> {
        let item = self.queue.next_at();
        match (item, self.ctl.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Process the next pending item; false when nothing is left.
    pub fn step(&mut self) -> bool {
        let item = self.queue.next_at();
        if let Some(deadline) = self.ctl.poll_timeout() {
            // The world's items first at the same instant (a heartbeat that
            // arrives on the deadline still counts).
            if item.is_none_or(|t| deadline < t) {
                self.now = self.now.max(deadline);
                self.handle_timeout();
                return true;
            }
        }
        let Some((t, p)) = self.queue.pop() else {
            return false;
        };
        self.now = self.now.max(t);
        match p {
            Pending::Deliver(e) => self.handle(e),
            Pending::Stop => {
                self.snapshot_at_stop();
                self.handle(Event::Operator {
                    command: Command::Stop,
                })
            }
            Pending::Beat(id) => self.beat(id),
            Pending::Arrive {
                device,
                epoch,
                instance,
            } => self.arrive(device, epoch, instance),
            Pending::Fire {
                device,
                epoch,
                instance,
            } => self.fire(device, epoch, instance),
            Pending::Computed {
                device,
                epoch,
                instance,
            } => self.computed(device, epoch, instance),
            Pending::Finish { executor, instance } => self.finish(executor, instance),
            Pending::Loaded {
                device,
                epoch,
                task,
                version,
            } => {
                let Some(d) = self.device(device).filter(|d| d.alive && d.epoch == epoch) else {
                    return true;
                };
                let v = d.models.entry_or(task, 0);
                *v = (*v).max(version);
                let event = Event::ModelLoaded {
                    device,
                    epoch,
                    task,
                    version,
                };
                self.report(device, event);
            }
            Pending::Kill(id) => self.kill_now(id),
            Pending::Revive(id) => {
                let d = self.device(id).filter(|d| !d.alive);
                if let Some(d) = d {
                    d.alive = true;
                    d.link_up = true;
                    let (fleet, battery, position) = (d.fleet, d.battery_uj(), d.position());
                    self.handle(Event::DeviceJoined {
                        device: id,
                        fleet,
                        battery_uj: battery,
                        position,
                    });
                }
            }
            Pending::Crash => self.restart(),
            // A crashed controller's unreleased effects never left it (the
            // recovered one re-sends what its journal holds).
            Pending::Release(incarnation, effects) => {
                if incarnation == self.restarts {
                    for e in effects {
                        self.carry_out(e);
                    }
                }
            }
            Pending::Disconnect(id) => {
                if let Some(d) = self.device(id) {
                    d.link_up = false;
                }
            }
            Pending::Reconnect(id) => {
                let Some(d) = self.device(id).filter(|d| d.alive && !d.link_up) else {
                    return true;
                };
                d.link_up = true;
                self.rejoin(id);
            }
            Pending::Degrade(id, how) => {
                let Some(d) = self.devices.get_mut(id.0 as usize) else {
                    return true;
                };
                if let Some(Some(cell)) = self.cells.get_mut(d.fleet.index()) {
                    cell.degrade = how;
                }
                for l in [d.uplink.as_mut(), d.downlink.as_mut()]
                    .into_iter()
                    .flatten()
                {
                    l.degrade = how;
                }
            }
            Pending::Slow(id, f) => {
                if let Some(d) = self.device(id) {
                    d.slow_milli = f.max(1);
                }
            }
            Pending::SlowWorkers(f) => self.slow_workers_milli = f.max(1),
            Pending::Sample => self.sample(),
        }
        true
    }

    /// Bring every device's motion energy up to now and keep what each
    /// spent and sent.
    fn snapshot_at_stop(&mut self) {
        let now = self.now;
        for d in self.devices.iter_mut().filter(|d| d.alive) {
            d.advance(now.0);
        }
        self.observed.at_stop = Some(StopSnapshot {
            at_us: now.0,
            usage: self.usage(),
            cell_airtime_us: self
                .cells
                .iter()
                .map(|c| c.as_ref().map_or(0, |l| l.airtime_us))
                .collect(),
            worker_run_us: self.observed.worker_run_us,
            cold_start_us: self.observed.cold_start_us,
        });
    }

    fn kill_now(&mut self, id: DeviceId) {
        if let Some(d) = self.device(id) {
            d.alive = false;
            d.running.clear();
            d.buffered.clear();
        }
        self.failing.retain(|&(d, _)| d != id);
    }

    /// A device that was cut off is back: it replays what it buffered and
    /// registers again.
    fn rejoin(&mut self, id: DeviceId) {
        let Some(d) = self.device(id).filter(|d| d.alive && d.connected()) else {
            return;
        };
        let buffered = std::mem::take(&mut d.buffered);
        let (fleet, battery, position) = (d.fleet, d.battery_uj(), d.position());
        for e in buffered {
            self.handle(e);
        }
        self.handle(Event::DeviceJoined {
            device: id,
            fleet,
            battery_uj: battery,
            position,
        });
    }

    /// An event from a device: to the core if it is connected, else kept
    /// until it reconnects.
    fn report(&mut self, device: DeviceId, event: Event) {
        let Some(d) = self.device(device) else {
            return;
        };
        if d.connected() {
            self.handle(event);
        } else {
            d.buffered.push(event);
        }
    }

    fn beat(&mut self, id: DeviceId) {
        let now = self.now;
        let range = self
            .fleet_physics(id)
            .and_then(|f| Some((f.range_mm?, f.home)));
        let cfg = &self.cfg;
        let Some(d) = self.devices.get_mut(id.0 as usize) else {
            return;
        };
        let Some(period) = d.heartbeat_period_us.filter(|_| d.alive) else {
            d.beating = false;
            return;
        };
        d.advance(now.0);
        if cfg.physics.is_none() {
            d.spend(cfg.drain_uj_per_s.saturating_mul(period) / 1_000_000);
        }
        if cfg.physics.is_some() && d.battery_uj() == 0 {
            // Out of energy: the device falls out of the mission.
            d.usage.depleted = true;
            d.beating = false;
            self.observed.battery_deaths += 1;
            self.kill_now(id);
            return;
        }
        let was_connected = d.connected();
        if !d.in_range {
            d.usage.out_of_range_us = d.usage.out_of_range_us.saturating_add(period);
        }
        if let Some((range_mm, home)) = range {
            d.in_range =
                hivemind_ir::route::distance_mm(d.position(), home) <= u128::from(range_mm);
        }
        let (epoch, battery, connected) = (d.epoch, d.battery_uj(), d.connected());
        let position = d.position();
        self.at(now.plus(period), Pending::Beat(id));
        if connected && !was_connected {
            self.rejoin(id);
            return;
        }
        if connected && epoch.0 > 0 {
            self.handle(Event::Heartbeat { device: id, epoch });
            if (now.0 / 1_000_000) & 1 == 0 {
                self.handle(Event::Telemetry {
                    device: id,
                    epoch,
                    position,
                    battery_uj: battery,
                });
            }
        }
    }

    /// The task of an attempt the live registration `epoch` of `device`
    /// still runs (not cancelled, not lost with a failure).
    fn running_task(&self, device: DeviceId, epoch: Epoch, instance: InstanceId) -> Option<TaskId> {
        self.devices
            .get(device.0 as usize)
            .filter(|d| d.alive && d.epoch == epoch)
            .and_then(|d| d.running.get(&instance).copied())
    }

    /// A granted firing's instant: the device starts it by itself (as a
    /// `RunTask` that has arrived), unless it was cancelled, or the
    /// registration it was granted to is gone.
    fn fire(&mut self, device: DeviceId, epoch: Epoch, instance: InstanceId) {
        let Some(d) = self.device(device).filter(|d| d.alive && d.epoch == epoch) else {
            return;
        };
        let Some(task) = d.granted.remove(&instance) else {
            return;
        };
        if d.running.insert(instance, task).is_some() {
            return;
        }
        self.run_on_device(device, epoch, instance, task, self.cfg.net_latency_us);
    }

    /// The device starts `instance` itself (a granted firing, a local
    /// successor): it queues for a core in the physical world; otherwise
    /// its result reaches the controller `report_us` after its service time.
    fn run_on_device(
        &mut self,
        device: DeviceId,
        epoch: Epoch,
        instance: InstanceId,
        task: TaskId,
        report_us: u64,
    ) {
        if self.cfg.physics.is_some() {
            self.arrive(device, epoch, instance);
        } else {
            let ex = Executor::Device { device, epoch };
            let us = self.task_time(task, self.cfg.edge_service_us, ex);
            self.at(
                self.now.plus(us.saturating_add(report_us)),
                Pending::Finish {
                    executor: ex,
                    instance,
                },
            );
        }
    }

    /// An attempt reached its device: it queues for a core (its CPU energy
    /// is charged as it runs).
    fn arrive(&mut self, device: DeviceId, epoch: Epoch, instance: InstanceId) {
        let Some(task) = self.running_task(device, epoch, instance) else {
            return;
        };
        let ex = Executor::Device { device, epoch };
        let us = self.task_time(task, self.cfg.edge_service_us, ex);
        let power = self
            .fleet_physics(device)
            .map_or(0, |f| f.figures.cpu_power_mw);
        let now = self.now;
        let Some(d) = self.device(device) else {
            return;
        };
        let end = match d.cpu.as_mut() {
            Some(cpu) => cpu.run(now, us).1,
            None => now.plus(us),
        };
        let uj = u64::try_from(u128::from(power) * u128::from(us) / 1_000).unwrap_or(u64::MAX);
        d.usage.cpu_uj = d.usage.cpu_uj.saturating_add(uj);
        d.usage.cpu_busy_us = d.usage.cpu_busy_us.saturating_add(us);
        d.spend(uj);
        self.at(
            end,
            Pending::Computed {
                device,
                epoch,
                instance,
            },
        );
    }

    /// The device computed an attempt: its result goes up the link (the
    /// bytes its consumers off the device need, else a control message).
    fn computed(&mut self, device: DeviceId, epoch: Epoch, instance: InstanceId) {
        let Some(task) = self.running_task(device, epoch, instance) else {
            return;
        };
        // The run failed or not: known on the device now, so a failed run
        // starts no local successor.
        if self.cfg.error_permille > 0 && self.rng.chance(self.cfg.error_permille) {
            self.failing.insert((device, instance));
        } else {
            self.start_local_successors(device, epoch, instance, task);
        }
        let (_, bytes) = self.result_of(task);
        let connected = self
            .devices
            .get(device.0 as usize)
            .is_some_and(SimDevice::connected);
        // A cut-off device keeps its result (buffered when it "arrives").
        let at = if bytes > 0 && connected {
            self.transfer(device, bytes, true)
        } else {
            self.control_up(device)
        };
        let at = match self.device(device) {
            Some(d) => {
                d.last_report = d.last_report.max(at);
                d.last_report
            }
            None => at,
        };
        self.at(
            at,
            Pending::Finish {
                executor: Executor::Device { device, epoch },
                instance,
            },
        );
    }

    /// The device starts the local successors of a run it completed
    /// (`ir::local`, as the agent does): each queues for a core now, with
    /// the id the controller expects.
    fn start_local_successors(
        &mut self,
        device: DeviceId,
        epoch: Epoch,
        instance: InstanceId,
        task: TaskId,
    ) {
        let needed = self.needed.get(task.index()).copied().unwrap_or(false);
        if let Some(d) = self.device(device).filter(|_| needed) {
            if d.delivered.0 != epoch {
                d.delivered = (epoch, Vec::new());
            }
            if !d.delivered.1.contains(&task) {
                d.delivered.1.push(task);
            }
        }
        let next = self.local.successors(task).to_vec();
        for (c, off) in next {
            let Some(id) = instance.0.checked_add(u64::from(off)).map(InstanceId) else {
                continue;
            };
            // A join whose other inputs are not all here: the controller
            // places it (it knows it too).
            let ready = self.devices.get(device.0 as usize).is_some_and(|d| {
                self.local
                    .needs(c)
                    .iter()
                    .all(|n| d.delivered.0 == epoch && d.delivered.1.contains(n))
            });
            let Some(d) = self.device(device).filter(|d| d.epoch == epoch) else {
                return;
            };
            if !ready {
                continue;
            }
            d.running.insert(id, c);
            self.run_on_device(device, epoch, id, c, 0);
        }
    }

    /// Items and bytes of one result of `task`.
    fn result_of(&self, task: TaskId) -> (u32, u64) {
        match self
            .cfg
            .physics
            .as_ref()
            .and_then(|p| p.tasks.get(task.index()))
        {
            Some(t) => (t.items, t.upload_bytes),
            None => (self.cfg.items, self.cfg.result_bytes),
        }
    }

    fn finish(&mut self, executor: Executor, instance: InstanceId) {
        // A device's run in the physical world failed or not when it
        // computed (its local successors depend on it); elsewhere now.
        let fail = match executor {
            Executor::Device { device, .. } if self.cfg.physics.is_some() => {
                self.failing.remove(&(device, instance))
            }
            _ => self.cfg.error_permille > 0 && self.rng.chance(self.cfg.error_permille),
        };
        let event = |(items, bytes): (u32, u64), model_version: u32| {
            if fail {
                Event::TaskError {
                    instance,
                    executor,
                    reason: "injected error".into(),
                }
            } else {
                Event::TaskResult {
                    instance,
                    executor,
                    items,
                    bytes,
                    model_version,
                }
            }
        };
        match executor {
            Executor::Device { device, epoch } => {
                let Some(d) = self.device(device) else {
                    return;
                };
                if !d.alive || d.epoch != epoch {
                    return;
                }
                let Some(task) = d.running.remove(&instance) else {
                    return;
                };
                // Tagged with the model the device has loaded now.
                let version = d.models.get(&task).copied().unwrap_or(0);
                let e = event(self.result_of(task), version);
                self.report(device, e);
                if !fail && self.cfg.physics.is_none() {
                    self.start_local_successors(device, epoch, instance, task);
                }
            }
            Executor::Worker { worker } => {
                let done = self.workers.get_mut(&worker).and_then(|w| {
                    let (task, v) = w.running.remove(&instance)?;
                    Some((task, v, w.core))
                });
                if let Some((task, v, core)) = done {
                    self.unload(core);
                    let e = event(self.result_of(task), v);
                    self.handle(e);
                }
            }
        }
    }

    /// Record every fleet's battery now, and again a period later.
    fn sample(&mut self) {
        let fleets = self.capacity_uj.len();
        let mut sum = vec![0u128; fleets];
        let mut min = vec![u32::MAX; fleets];
        let mut alive = vec![0u32; fleets];
        for d in self.devices.iter().filter(|d| d.alive) {
            let f = d.fleet.index();
            let cap = self.capacity_uj.get(f).copied().unwrap_or(0).max(1);
            let pm = u32::try_from(u128::from(d.battery_uj()) * 1_000 / u128::from(cap))
                .unwrap_or(u32::MAX)
                .min(1_000);
            sum[f] += u128::from(pm);
            min[f] = min[f].min(pm);
            alive[f] += 1;
        }
        let sample = BatterySample {
            at_us: self.now.0,
            fleets: (0..fleets)
                .map(|f| FleetBattery {
                    mean_permille: u32::try_from(sum[f] / u128::from(alive[f].max(1))).unwrap_or(0),
                    min_permille: if alive[f] == 0 { 0 } else { min[f] },
                    alive: alive[f],
                })
                .collect(),
        };
        self.observed.battery.push(sample);
        let tracked = self.devices.len().min(TRACKED);
        if self.observed.tracks.len() < tracked {
            self.observed.tracks = (0..tracked as u32)
                .map(|device| Track {
                    device,
                    points: Vec::new(),
                })
                .collect();
        }
        for (t, d) in self.observed.tracks.iter_mut().zip(&mut self.devices) {
            if d.alive {
                d.advance(self.now.0);
                t.points.push(d.position());
            }
        }
        if !self.over && self.observed.battery.len() < 10_000 {
            self.at(self.now.plus(self.cfg.sample_period_us), Pending::Sample);
        }
    }

    /// The controller process dies and a new one recovers from the journal.
    fn restart(&mut self) {
        match Controller::recover(self.now, self.journal.iter().cloned()) {
            Ok(ctl) => {
                self.ctl = ctl;
                self.restarts += 1;
                self.commit = Commits::default();
                self.absorb();
            }
            // Without a kept journal there is nothing to restart from.
            Err(e) => tracing::warn!(error = %e, "controller restart skipped"),
        }
    }

    /// Process the next item if it is due by `limit`; false otherwise.
    pub fn step_until(&mut self, limit: Micros) -> bool {
        if self.next_at().is_none_or(|at| at > limit) {
            return false;
        }
        self.step()
    }

    pub fn run_until(&mut self, t: Micros) {
        while self.next_at().is_some_and(|at| at <= t) {
            self.step();
        }
        self.now = self.now.max(t);
    }

    /// Run until the mission finished or aborted (or `limit`).
    pub fn run_to_end(&mut self, limit: Micros) {
        while !self.over && self.step_until(limit) {}
    }

    /// Ids of every instance completed, in order of publication.
    pub fn completed(&self) -> Vec<(InstanceId, TaskId)> {
        self.publications
            .iter()
            .filter_map(|(_, p)| match p {
                Publication::Completed { instance, task, .. } => Some((*instance, *task)),
                _ => None,
            })
            .collect()
    }
}

/// The bytes a hand-off carries.
fn handoff_bytes(h: &Handoff) -> u64 {
    match *h {
        Handoff::Relay { bytes, .. }
        | Handoff::RemoteMemory { bytes, .. }
        | Handoff::Storage { bytes, .. } => bytes,
        Handoff::None | Handoff::Local | Handoff::InWorker { .. } => 0,
    }
}

/// `us × milli ÷ 1000`, saturating.
fn scale_milli(us: u64, milli: u64) -> u64 {
    u64::try_from(u128::from(us) * u128::from(milli) / 1_000).unwrap_or(u64::MAX)
}

/// The flat world's vehicle for a fleet: its cruise speed (the class's
/// when it states none) with acceleration so high that motion is straight
/// lines at cruise speed, and no power drawn (the flat world drains a
/// fixed rate instead).
fn flat_vehicle(f: &hivemind_ir::Fleet) -> VehicleParams {
    let class = VehicleParams::of(f.class);
    VehicleParams {
        cruise_mm_s: f.speed_mm_s.filter(|&s| s > 0).unwrap_or(class.cruise_mm_s),
        accel_mm_s2: hivemind_vehicle::ACCEL_MM_S2.1,
        moving_mw: 0,
        hover_mw: 0,
        parked_mw: 0,
        battery_uj: f.battery_uj,
        ..class
    }
}
