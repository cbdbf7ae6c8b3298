//! A small deterministic world around the core, for tests and the
//! benchmark: devices that register, learn their epoch and heartbeat period
//! from the core's `Registered` message, run what they are sent after a
//! service time, send heartbeats and telemetry, can be killed, revived,
//! slowed or cut off (buffering their results until they reconnect);
//! workers with cold starts; a controller that can crash and restart from
//! its journal. The world drives the core only through its seam (`handle`,
//! `handle_timeout` at `poll_timeout`, `poll_effect`): it reads the mission
//! (the fleets to simulate) from the core once, and nothing of the core's
//! state after that. Everything is ordered by
//! (time, sequence), the world's items before the core's deadlines at the
//! same instant, and random only through a seeded [`Rng`], so a run is a
//! pure function of its inputs. The full simulator (links, motion, battery,
//! FPGA) is `sim`.

use hivemind_controller::effect::{DeviceMsg, Effect, Publication};
use hivemind_controller::event::{Command, Event};
use hivemind_controller::ids::{DeviceId, Epoch, Executor, InstanceId, WorkerId};
use hivemind_controller::pool::PoolAction;
use hivemind_controller::record::Record;
use hivemind_controller::rng::Rng;
use hivemind_controller::time::Micros;
use hivemind_controller::Controller;
use hivemind_cost::{modality_index, CostModel};
use hivemind_ir::plan::{self, Modality, Plan, Strategy};
use hivemind_ir::{FleetId, Placement, PointMm, TaskGraph, TaskId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

mod motion;
use motion::{Motion, Places};

/// A plan that keeps sensing, behaviours and fleet-pinned tasks on the
/// edge and everything else in the cloud when allowed.
pub fn simple_plan(graph: &TaskGraph) -> Plan {
    let m: Vec<Modality> = graph
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
        .collect();
    plan::assemble(graph, &m, Strategy::Manual, "testkit")
}

#[derive(Debug, Clone)]
pub struct WorldConfig {
    pub seed: u64,
    pub edge_service_us: u64,
    pub cloud_service_us: u64,
    /// Service time varies by up to ± this many permille.
    pub jitter_permille: u64,
    pub net_latency_us: u64,
    pub cold_start_us: u64,
    /// Items in every result (drives per-item fan-out).
    pub items: u32,
    pub result_bytes: u64,
    /// Battery drained per second (taken at every heartbeat).
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
}

/// How long each task takes where the plan put it, indexed by task.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timing {
    /// One warm run of an activation, invocation overhead included.
    pub service_us: Vec<u64>,
    /// Its inputs' transfer before it can start.
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

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pending {
    Deliver(Event),
    Beat(DeviceId),
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
    Stop,
    Crash,
}

#[derive(Debug, Clone)]
struct SimDevice {
    fleet: FleetId,
    alive: bool,
    connected: bool,
    /// The registration the core gave it (0: none yet).
    epoch: Epoch,
    /// As told by the core when it registered.
    heartbeat_period_us: Option<u64>,
    /// A heartbeat is scheduled (the loop stops when the device is dead).
    beating: bool,
    registered_before: bool,
    battery_uj: u64,
    /// Attempts it runs, with their task.
    running: BTreeMap<InstanceId, TaskId>,
    buffered: Vec<Event>,
    motion: Motion,
    /// Its link rate (model downloads take bytes ÷ rate).
    radio_bps: u64,
    /// The model version it has loaded, per retrained task (0 at start).
    models: BTreeMap<TaskId, u32>,
}

pub struct World {
    pub ctl: Controller,
    pub cfg: WorldConfig,
    pub now: Micros,
    queue: BTreeMap<(Micros, u64), Pending>,
    seq: u64,
    rng: Rng,
    devices: BTreeMap<DeviceId, SimDevice>,
    /// Per worker: what it runs, with the model version each invocation uses.
    workers: BTreeMap<WorkerId, BTreeMap<InstanceId, u32>>,
    /// Every call into the core, in order, with its time.
    pub log: Vec<(Micros, Input)>,
    pub journal: Vec<Record>,
    pub publications: Vec<(Micros, Publication)>,
    /// Every effect except journal records, for assertions.
    pub effects: Vec<(Micros, Effect)>,
    pub keep_effects: bool,
    /// Keep `log` (the benchmark replays it; `hivemind run` does not, so a
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
    /// Per area: the centre of its bounding box (where `goto area` flies).
    area_centres: Vec<PointMm>,
    /// The core published that the mission finished or aborted.
    pub over: bool,
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
            queue: BTreeMap::new(),
            seq: 0,
            devices: BTreeMap::new(),
            workers: BTreeMap::new(),
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
            area_centres: Vec::new(),
        };
        w.absorb();
        let graph = &w.ctl.state().graph;
        w.area_centres = graph.areas.iter().map(area_centre).collect();
        let fleets: Vec<(FleetId, u32, u64, PointMm, u64, u64)> = graph
            .fleets
            .iter()
            .map(|f| {
                let home = f.home.unwrap_or(PointMm { x_mm: 0, y_mm: 0 });
                let speed = f.speed_mm_s.unwrap_or(0);
                (f.id, f.count, f.battery_uj, home, speed, f.radio_bps)
            })
            .collect();
        w.homes = fleets.iter().map(|f| f.3).collect();
        let mut next = 0;
        for (fleet, count, battery, home, speed, radio_bps) in fleets {
            for _ in 0..count {
                let id = DeviceId(next);
                next += 1;
                w.devices.insert(
                    id,
                    SimDevice {
                        fleet,
                        alive: true,
                        connected: true,
                        epoch: Epoch(0),
                        heartbeat_period_us: None,
                        beating: false,
                        registered_before: false,
                        battery_uj: battery,
                        running: BTreeMap::new(),
                        buffered: Vec::new(),
                        motion: Motion::at_rest(home, speed),
                        radio_bps,
                        models: BTreeMap::new(),
                    },
                );
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
            Micros::from_millis(1),
            Pending::Deliver(Event::Operator {
                command: Command::Start,
            }),
        );
        w
    }

    fn at(&mut self, t: Micros, p: Pending) {
        self.seq += 1;
        self.queue.insert((t, self.seq), p);
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
        self.at(from, Pending::Disconnect(d));
        self.at(to, Pending::Reconnect(d));
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
        self.devices.keys().copied().collect()
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
    /// its input transfer included.
    fn task_time(&mut self, task: TaskId, flat: u64, executor: Executor) -> u64 {
        let (base, input) = match &self.cfg.timing {
            Some(t) => (
                t.service_us.get(task.index()).copied().unwrap_or(flat),
                t.input_us.get(task.index()).copied().unwrap_or(0),
            ),
            None => (flat, 0),
        };
        input + self.service(base, executor)
    }

    fn service(&mut self, base: u64, executor: Executor) -> u64 {
        let j = self.cfg.jitter_permille;
        let spread = base * j / 1000;
        let mut us = base - spread + self.rng.below(2 * spread + 1);
        if let Executor::Device { device, .. } = executor {
            if let Some((_, f)) = self.cfg.slow.iter().find(|(d, _)| *d == device) {
                us *= f;
            }
        }
        us.max(1)
    }

    /// Carry out the core's effects.
    fn absorb(&mut self) {
        let effects: Vec<Effect> = self.ctl.drain_effects().collect();
        for e in effects {
            match &e {
                Effect::Journal(r) => {
                    if self.cfg.keep_journal {
                        self.journal.push(r.clone());
                    }
                    continue;
                }
                Effect::Device { device, epoch, msg } => self.device_hears(*device, *epoch, msg),
                Effect::Pool(a) => self.pool_does(a),
                Effect::Publish(p) => {
                    if matches!(
                        p,
                        Publication::MissionFinished | Publication::MissionAborted { .. }
                    ) {
                        self.over = true;
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

    fn device_hears(&mut self, device: DeviceId, epoch: Epoch, msg: &DeviceMsg) {
        match msg {
            DeviceMsg::Registered {
                heartbeat_period_us,
            } => {
                let Some(d) = self.devices.get_mut(&device) else {
                    return;
                };
                if d.epoch != epoch {
                    // A new registration: whatever the old one ran is void.
                    d.epoch = epoch;
                    d.running.clear();
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
                    self.at(self.now.plus(first), Pending::Beat(device));
                }
            }
            DeviceMsg::RunTask { instance, task, .. } => {
                // A re-sent attempt (after a controller restart) that the
                // device already runs is not started twice.
                let ok = self.devices.get(&device).is_some_and(|d| {
                    d.alive && d.epoch == epoch && !d.running.contains_key(instance)
                });
                if ok {
                    let ex = Executor::Device { device, epoch };
                    let us = self.task_time(*task, self.cfg.edge_service_us, ex);
                    if let Some(d) = self.devices.get_mut(&device) {
                        d.running.insert(*instance, *task);
                    }
                    self.at(
                        self.now.plus(us + self.cfg.net_latency_us),
                        Pending::Finish {
                            executor: ex,
                            instance: *instance,
                        },
                    );
                }
            }
            DeviceMsg::Cancel { instance } => {
                if let Some(d) = self.devices.get_mut(&device).filter(|d| d.epoch == epoch) {
                    d.running.remove(instance);
                }
            }
            DeviceMsg::Resync => {
                // A cut-off device cannot hear it; a live one re-registers.
                let d = self.devices.get(&device).cloned();
                if let Some(d) = d.filter(|d| d.alive && d.connected) {
                    self.at(
                        self.now.plus(self.cfg.net_latency_us),
                        Pending::Deliver(Event::DeviceJoined {
                            device,
                            fleet: d.fleet,
                            battery_uj: d.battery_uj,
                            position: d.motion.position,
                        }),
                    );
                }
            }
            DeviceMsg::Model {
                task,
                version,
                bytes,
            } => {
                let Some(d) = self
                    .devices
                    .get(&device)
                    .filter(|d| d.alive && d.epoch == epoch)
                else {
                    return;
                };
                // Already loaded (a re-send after a controller restart):
                // answer at once; otherwise download over the radio.
                let have = d.models.get(task).copied().unwrap_or(0);
                let download = if have >= *version {
                    0
                } else {
                    let bits = u128::from(*bytes) * 8 * 1_000_000;
                    u64::try_from(bits / u128::from(d.radio_bps.max(1))).unwrap_or(u64::MAX)
                };
                self.at(
                    self.now
                        .plus(download.saturating_add(self.cfg.net_latency_us)),
                    Pending::Loaded {
                        device,
                        epoch,
                        task: *task,
                        version: *version,
                    },
                );
            }
            DeviceMsg::Behave(cmd) => {
                let now = self.now;
                if let Some(d) = self
                    .devices
                    .get_mut(&device)
                    .filter(|d| d.alive && d.epoch == epoch)
                {
                    let places = Places {
                        home: self
                            .homes
                            .get(d.fleet.index())
                            .copied()
                            .unwrap_or(PointMm { x_mm: 0, y_mm: 0 }),
                        area_centres: &self.area_centres,
                    };
                    d.motion.command(now, cmd, &places);
                }
            }
            DeviceMsg::Ack { .. } => {}
        }
    }

    fn pool_does(&mut self, a: &PoolAction) {
        match a {
            PoolAction::Invoke {
                worker,
                instance,
                task,
                model_version,
                ..
            } => {
                let fresh = self
                    .workers
                    .get_mut(worker)
                    .is_some_and(|w| w.insert(*instance, *model_version).is_none());
                if fresh {
                    let ex = Executor::Worker { worker: *worker };
                    let us = self.task_time(*task, self.cfg.cloud_service_us, ex);
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
                worker, job, ops, ..
            } => {
                let fresh = self
                    .workers
                    .get_mut(worker)
                    .is_some_and(|w| w.insert(*job, 0).is_none());
                if fresh {
                    let ex = Executor::Worker { worker: *worker };
                    let base = match self.cfg.timing.as_ref().map(|t| t.cloud_ops_per_s) {
                        Some(rate) if rate > 0 => {
                            u64::try_from(u128::from(*ops) * 1_000_000 / u128::from(rate))
                                .unwrap_or(u64::MAX)
                        }
                        _ => self.cfg.cloud_service_us,
                    };
                    let us = self.service(base, ex);
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
                if let Some(w) = self.workers.get_mut(worker) {
                    w.remove(instance);
                }
            }
            PoolAction::StartWorker { worker, .. } => {
                // Started once: a restarted controller does not re-send it.
                self.workers.insert(*worker, BTreeMap::new());
                self.at(
                    self.now.plus(
                        self.cfg
                            .timing
                            .as_ref()
                            .map_or(self.cfg.cold_start_us, |t| t.cold_start_us),
                    ),
                    Pending::Deliver(Event::WorkerReady { worker: *worker }),
                );
            }
            PoolAction::StopWorker { worker } => {
                self.workers.remove(worker);
            }
            PoolAction::Ack { .. } => {}
        }
    }

    /// When the next thing happens: a world item or a core deadline.
    fn next_at(&self) -> Option<Micros> {
        let item = self.queue.first_key_value().map(|((t, _), _)| *t);
        match (item, self.ctl.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Process the next pending item; false when nothing is left.
    pub fn step(&mut self) -> bool {
        let item = self.queue.first_key_value().map(|((t, _), _)| *t);
        if let Some(deadline) = self.ctl.poll_timeout() {
            // The world's items first at the same instant (a heartbeat that
            // arrives on the deadline still counts).
            if item.is_none_or(|t| deadline < t) {
                self.now = self.now.max(deadline);
                self.handle_timeout();
                return true;
            }
        }
        let Some(((t, _), p)) = self.queue.pop_first() else {
            return false;
        };
        self.now = self.now.max(t);
        match p {
            Pending::Deliver(e) => self.handle(e),
            Pending::Stop => self.handle(Event::Operator {
                command: Command::Stop,
            }),
            Pending::Beat(id) => {
                let Some(d) = self.devices.get_mut(&id) else {
                    return true;
                };
                let Some(period) = d.heartbeat_period_us.filter(|_| d.alive) else {
                    d.beating = false;
                    return true;
                };
                let drain = self.cfg.drain_uj_per_s.saturating_mul(period) / 1_000_000;
                d.battery_uj = d.battery_uj.saturating_sub(drain);
                d.motion.advance(self.now);
                let (epoch, battery, connected) = (d.epoch, d.battery_uj, d.connected);
                let position = d.motion.position;
                self.at(self.now.plus(period), Pending::Beat(id));
                if connected && epoch.0 > 0 {
                    self.handle(Event::Heartbeat { device: id, epoch });
                    if (self.now.0 / 1_000_000) & 1 == 0 {
                        self.handle(Event::Telemetry {
                            device: id,
                            epoch,
                            position,
                            battery_uj: battery,
                        });
                    }
                }
            }
            Pending::Finish { executor, instance } => self.finish(executor, instance),
            Pending::Loaded {
                device,
                epoch,
                task,
                version,
            } => {
                let Some(d) = self
                    .devices
                    .get_mut(&device)
                    .filter(|d| d.alive && d.epoch == epoch)
                else {
                    return true;
                };
                let v = d.models.entry(task).or_default();
                *v = (*v).max(version);
                let event = Event::ModelLoaded {
                    device,
                    epoch,
                    task,
                    version,
                };
                if d.connected {
                    self.handle(event);
                } else {
                    d.buffered.push(event);
                }
            }
            Pending::Kill(id) => {
                if let Some(d) = self.devices.get_mut(&id) {
                    d.alive = false;
                    d.running.clear();
                    d.buffered.clear();
                }
            }
            Pending::Revive(id) => {
                let d = self.devices.get_mut(&id).filter(|d| !d.alive);
                if let Some(d) = d {
                    d.alive = true;
                    d.connected = true;
                    let (fleet, battery, position) = (d.fleet, d.battery_uj, d.motion.position);
                    self.handle(Event::DeviceJoined {
                        device: id,
                        fleet,
                        battery_uj: battery,
                        position,
                    });
                }
            }
            Pending::Crash => self.restart(),
            Pending::Disconnect(id) => {
                if let Some(d) = self.devices.get_mut(&id) {
                    d.connected = false;
                }
            }
            Pending::Reconnect(id) => {
                let Some(d) = self
                    .devices
                    .get_mut(&id)
                    .filter(|d| d.alive && !d.connected)
                else {
                    return true;
                };
                d.connected = true;
                let buffered = std::mem::take(&mut d.buffered);
                let (fleet, battery, position) = (d.fleet, d.battery_uj, d.motion.position);
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
        }
        true
    }

    fn finish(&mut self, executor: Executor, instance: InstanceId) {
        let fail = self.cfg.error_permille > 0 && self.rng.chance(self.cfg.error_permille);
        let event = |model_version: u32| {
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
                    items: self.cfg.items,
                    bytes: self.cfg.result_bytes,
                    model_version,
                }
            }
        };
        match executor {
            Executor::Device { device, epoch } => {
                let Some(d) = self.devices.get_mut(&device) else {
                    return;
                };
                if !d.alive || d.epoch != epoch {
                    return;
                }
                let Some(task) = d.running.remove(&instance) else {
                    return;
                };
                // Tagged with the model the device has loaded now.
                let e = event(d.models.get(&task).copied().unwrap_or(0));
                if d.connected {
                    self.handle(e);
                } else {
                    d.buffered.push(e);
                }
            }
            Executor::Worker { worker } => {
                let version = self
                    .workers
                    .get_mut(&worker)
                    .and_then(|w| w.remove(&instance));
                if let Some(v) = version {
                    self.handle(event(v));
                }
            }
        }
    }

    /// The controller process dies and a new one recovers from the journal.
    fn restart(&mut self) {
        match Controller::recover(self.now, self.journal.iter().cloned()) {
            Ok(ctl) => {
                self.ctl = ctl;
                self.restarts += 1;
                self.absorb();
            }
            // Without a kept journal there is nothing to restart from.
            Err(e) => tracing::warn!(error = %e, "controller restart skipped"),
        }
    }

    pub fn run_until(&mut self, t: Micros) {
        while self.next_at().is_some_and(|at| at <= t) {
            self.step();
        }
        self.now = self.now.max(t);
    }

    /// Run until the mission finished or aborted (or `limit`).
    pub fn run_to_end(&mut self, limit: Micros) {
        while !self.over {
            if self.next_at().is_none_or(|at| at > limit) {
                break;
            }
            self.step();
        }
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

/// Centre of an area's bounding box.
fn area_centre(a: &hivemind_ir::Area) -> PointMm {
    let (lo, hi) = a.shape.bounding_box();
    let mid = |a: i64, b: i64| ((i128::from(a) + i128::from(b)) / 2) as i64;
    PointMm {
        x_mm: mid(lo.x_mm, hi.x_mm),
        y_mm: mid(lo.y_mm, hi.y_mm),
    }
}
