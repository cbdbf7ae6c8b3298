//! The controller core: one deterministic state machine. Every input is an
//! [`Event`] handled at a given `now`, or a deadline of its own timer table
//! passing; every output is an [`Effect`] queued for the driver.
//!
//! Durable state lives in [`State`] (serde, so a snapshot is the state
//! itself) and changes only through journaled records, applied by one
//! function (`Controller::replay`) both live and on recovery: an event
//! (every event but heartbeats), a timer that changed state
//! (`Record::Timeout`), a device declared silent (`Record::DeviceSilent`).
//! The record is the first effect of its handling, so anything that
//! acknowledges it comes after it.
//!
//! Soft state lives beside it and is never journaled: the timer table,
//! when each device was last heard from, and the driver's latest `now`.
//! A timer fires only through a journaled record (when its check says it
//! would change state), so a live run and its replay cannot diverge. After
//! recovery the timer table is rebuilt from the state and every device is
//! considered seen at recovery time (a grace period).
//!
//! Facts derived from the graph and plan live in [`derived::Derived`] and
//! are recomputed, never journaled.

mod batch;
mod derived;
mod devices;
mod grants;
mod learning;
mod schedule;
mod seen;
mod strip_index;

use crate::config::Config;
use crate::devtable::DeviceTable;
use crate::effect::{BehaviourCommand, DeviceMsg, Effect, Handoff, Publication};
use crate::event::{Command, Event};
use crate::geometry::Strip;
use crate::histogram::Histogram;
use crate::ids::{DeviceId, Epoch, Executor, GroupId, InstanceId, WorkerId};
use crate::idtable::IdTable;
use crate::pool::{Pool, PoolAction, PoolOut};
use crate::record::{Genesis, Record};
use crate::rng::Rng;
use crate::time::Micros;
use crate::timer::{Timer, Timers};
use derived::Derived;
use hivemind_ir::activation::Start;
use hivemind_ir::plan::{ChannelKind, Plan};
use hivemind_ir::{FleetId, PointMm, TaskGraph, TaskId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub use derived::CoverTask;
pub use learning::{Job, Learning, Model};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    NotStarted,
    Running,
    /// No new activations; in-progress work finishes.
    Draining,
    Finished,
    Aborted {
        reason: String,
    },
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Phase::NotStarted => write!(f, "not started"),
            Phase::Running => write!(f, "still running"),
            Phase::Draining => write!(f, "still finishing its last work"),
            Phase::Finished => write!(f, "finished"),
            Phase::Aborted { reason } => write!(f, "aborted ({reason})"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    Alive,
    /// Low battery: flying home, finishing what it has, taking nothing new.
    Returning,
    /// Silent too long (or re-registered); must rejoin with a new epoch.
    Failed,
    Left,
}

use crate::load_index::{LoadIndex, LoadKey, LoadSlot};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub fleet: FleetId,
    pub epoch: Epoch,
    pub status: DeviceStatus,
    pub battery_uj: u64,
    pub battery_at_join_uj: u64,
    /// Energy spent in earlier epochs.
    pub energy_uj: u64,
    pub position: PointMm,
    /// The instances it runs for the controller, unreported: its slots
    /// (`Config::device_slots`) and its place in the load index.
    pub in_flight: Vec<InstanceId>,
    /// Firings it made by itself (`grants.rs`), unreported. Not in
    /// `in_flight`: they hold none of its slots (the agent runs a firing
    /// when it is due and reports it as its radio can; a firing waiting to
    /// go up must not keep placed work, such as a steering command coming
    /// down, off the device). The grants' backpressure bounds them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub firings: Vec<InstanceId>,
    pub cover: Vec<Strip>,
    pub completed: u64,
    pub bytes_sent: u64,
    /// Firings of the sources it fires by itself, granted ahead
    /// (`Derived::fired`), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<Grant>,
    load_key: Option<LoadKey>,
    /// Soft: its leaf in the fleet's load index while `load_key` is set.
    #[serde(skip)]
    load_slot: LoadSlot,
}

/// One firing granted to a device: it fires `task` by itself at `at` as
/// `instance` (`DeviceMsg::Fire`). `used`: the instance exists (created at
/// its instant, or earlier when the device's result came first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub task: TaskId,
    /// The period of the source it fires in (0 at the mission's start).
    pub period: u64,
    pub instance: InstanceId,
    pub at: Micros,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub used: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FleetState {
    load: LoadIndex,
    /// Instances waiting for a device: (priority rank, id), best first.
    pending: BTreeSet<(u8, InstanceId)>,
    /// Sweep strips nobody holds (no survivor when their device failed).
    pub orphans: Vec<Strip>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KindState {
    /// Attempt service time (dispatch to result): the straggler baseline.
    pub service: Histogram,
    /// Instance latency (created to completed): what the report shows.
    pub latency: Histogram,
    next_due: Option<Micros>,
    /// A phased per-device source (`Derived::phasing`): when its current
    /// period began and the slot due next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    phases: Option<Phases>,
    /// Activations (firings; a per-device firing counts one per device).
    #[serde(default)]
    pub activations: u64,
    /// Instances created (activations × their width).
    pub created: u64,
    pub completed: u64,
    pub failed: u64,
    /// Firings lost with their device (`core/grants.rs`): created, never
    /// reported, and no other device can take them (`TaskReport::lost`).
    #[serde(default)]
    pub lost: u64,
    pub relaunches: u64,
    pub duplicates: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phases {
    pub period_start: Micros,
    pub slot: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub executor: Executor,
    pub started: Micros,
    pub live: bool,
    /// Where its straggler check stands (kept, so a recovered core arms
    /// exactly the checks the live one had armed, at the same instants).
    #[serde(default, skip_serializing_if = "StragglerCheck::is_unarmed")]
    pub check: StragglerCheck,
}

/// The straggler check of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StragglerCheck {
    /// None armed: the kind had no threshold yet when it began (armed when
    /// it gets one).
    #[default]
    Unarmed,
    /// Due at this instant.
    At(Micros),
    /// Judged: relaunched, or the relaunch was withheld.
    Judged,
}

impl StragglerCheck {
    fn is_unarmed(&self) -> bool {
        *self == StragglerCheck::Unarmed
    }

    /// A check due at or before `now`.
    pub fn due(&self, now: Micros) -> bool {
        matches!(*self, StragglerCheck::At(t) if t <= now)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Waiting {
    /// Has a live attempt (or none yet but is being placed).
    Running,
    /// In its fleet's pending queue or the function pool's queue.
    Queued,
    /// Failed attempt; a `Retry` timer will place it again.
    Backoff,
}

/// What an activation inherits from the value that fired it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Lineage {
    /// Start times of the required paths the value lies on.
    pub path_starts: Vec<(u16, Micros)>,
    /// The producer's round (kept by per-input consumers).
    pub round: Option<GroupId>,
    pub origin: Option<DeviceId>,
}

/// A join: per producer, the required-path starts of its latest value
/// (`None` until it delivers), and the pacer's values waiting for the
/// others' first delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Join {
    pub latest: Vec<Option<Vec<(u16, Micros)>>>,
    pub held: Vec<(Parent, u32, Lineage)>,
    /// Per producer, the executor of its latest value: a join the device
    /// runs itself (`ir::local`) stays there only when every latest value
    /// came from the pacer's registration.
    #[serde(default)]
    pub from: Vec<Option<Executor>>,
}

/// The producer an instance was triggered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parent {
    pub instance: InstanceId,
    /// The activation the producer belonged to (alive while it feeds).
    pub group: GroupId,
    pub executor: Executor,
    pub channel: ChannelKind,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    pub task: TaskId,
    pub group: GroupId,
    pub created: Micros,
    pub attempts: crate::attempts::Attempts,
    pub retries: u32,
    pub relaunches: u32,
    pub affinity: Option<DeviceId>,
    pub parent: Option<Parent>,
    pub waiting: Waiting,
    /// When the backoff of a `Waiting::Backoff` instance ends (kept so a
    /// recovered core re-arms its retry at the same time).
    #[serde(default)]
    pub retry_at: Option<Micros>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub task: TaskId,
    /// The round the activation belongs to (`core::batch`).
    pub round: GroupId,
    /// The device its value comes from, when it descends from one device's
    /// activation without being merged with others (keys per-device joins).
    #[serde(default)]
    pub origin: Option<DeviceId>,
    pub expected: u32,
    pub completed: u32,
    pub failed: u32,
    pub items: u32,
    pub last: Option<Parent>,
    /// When each required path this activation lies on started (the
    /// activation of its first task upstream), by index into the paths.
    #[serde(default)]
    pub path_starts: Vec<(u16, Micros)>,
    /// Where the value was sensed, for a task that goes there (`goto` an input).
    #[serde(default)]
    pub target: Option<PointMm>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counters {
    pub devices_failed: u64,
    pub rejoins: u64,
    pub repartitions: u64,
    /// Instances moved off a failed device or worker.
    pub replaced: u64,
    pub relaunches: u64,
    pub cancelled_losers: u64,
    pub duplicate_results: u64,
    /// Results from an attempt no longer live (failed device) that still won.
    pub stale_results_merged: u64,
    pub unknown_results: u64,
    /// Journaled messages from an epoch no longer accepted (stale
    /// heartbeats get their resync but are soft, so not counted).
    pub stale_messages: u64,
    pub retries: u64,
    pub low_battery_returns: u64,
    /// Bytes of values sent from devices to the controller (uplink and
    /// device-to-device edges, once per value), as the cost model's
    /// `uplink_bytes_per_s` counts them.
    #[serde(default)]
    pub uplink_bytes: u64,
    pub rejected_events: u64,
    /// Bytes of retrained models sent to devices (downlink), as the cost
    /// model's model pushes count them.
    #[serde(default)]
    pub model_bytes_pushed: u64,
    /// Times a fleet lost its last device in service.
    #[serde(default)]
    pub fleets_lost: u64,
    /// Behaviour commands sent to devices (sweeps, routes, gotos, returns).
    #[serde(default)]
    pub behaviour_commands: u64,
    /// Values a join received from its pacer that never met a value of
    /// every other producer by the end (one never delivered).
    #[serde(default)]
    pub unjoined_values: u64,
    /// Activations not started because `max_unresolved_instances` were
    /// already waiting or running (admission control).
    #[serde(default)]
    pub shed_activations: u64,
    /// Instances a device ran by itself after their parent (device-local
    /// chains, `ir::local`): kept on that device, no message sent.
    #[serde(default)]
    pub delegated: u64,
    /// Firings of sources their devices fire by themselves (on grants,
    /// `Derived::fired`): kept on that device, no start command sent.
    #[serde(default)]
    pub fired_by_devices: u64,
    /// Grants of such firings sent to devices (`DeviceMsg::Fire`).
    #[serde(default)]
    pub grants: u64,
    /// Granted firings whose device's result came before their timer.
    #[serde(default)]
    pub fired_early: u64,
    /// Lost firings whose device reported them after all (counted as
    /// completed, no longer as lost).
    #[serde(default)]
    pub recovered: u64,
    /// Firings not made because their device held no grant for them: it
    /// was held back, its earlier firings unreported for longer than
    /// `grant_lead_us` (a radio that cannot keep up, or a device gone
    /// silent).
    #[serde(default)]
    pub firings_skipped: u64,
    /// Straggler relaunches not made because the copy would have carried
    /// a device-local value across the radio.
    #[serde(default)]
    pub relaunches_withheld: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureRecord {
    pub instance: InstanceId,
    pub task: TaskId,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub config: Config,
    pub graph: TaskGraph,
    pub plan: Plan,
    pub seed: u64,
    rng: Rng,
    pub now: Micros,
    pub phase: Phase,
    pub started_at: Option<Micros>,
    pub finished_at: Option<Micros>,
    drain_deadline: Option<Micros>,
    pub devices: DeviceTable,
    pub fleets: Vec<FleetState>,
    pub kinds: Vec<KindState>,
    pub instances: IdTable<InstanceId, Instance>,
    /// Bitset of resolved (completed or failed) instance ids: the
    /// idempotency record, 1 bit per instance ever created.
    done: Vec<u64>,
    next_instance: u64,
    /// Instances and training jobs created (ids are handed out in blocks:
    /// an instance reserves ids for its local subtree, `ir::local`).
    #[serde(default)]
    created: u64,
    next_group: u64,
    groups: IdTable<GroupId, Group>,
    /// Open batches of windows and gathers.
    #[serde(default)]
    batches: batch::Batches,
    /// Joins' state per (task, origin device when joined per device).
    #[serde(default)]
    join: BTreeMap<(TaskId, Option<DeviceId>), Join>,
    pub pool: Pool,
    pub counters: Counters,
    pub failures: Vec<FailureRecord>,
    /// Per latency requirement (in order): measured path latency, from the
    /// activation of its first task to the completion of its last.
    #[serde(default)]
    pub paths: Vec<Histogram>,
    /// Continuous learning: model versions, training jobs, loaded models.
    #[serde(default)]
    pub learning: Learning,
    /// Firings lost with their device, by id, until the device reports
    /// them after all (`core/grants.rs`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub lost: BTreeMap<InstanceId, LostFiring>,
}

/// A firing whose device went out of service before it reported: what
/// its late result needs to count after all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostFiring {
    pub task: TaskId,
    pub device: DeviceId,
    pub created: Micros,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path_starts: Vec<(u16, Micros)>,
}

/// A start record from another version of the IR is refused (its fields
/// may mean something else), not read as this one.
fn check_versions(graph: &TaskGraph, plan: &Plan) -> Result<(), SetupError> {
    if graph.schema_version != hivemind_ir::SCHEMA_VERSION {
        return Err(hivemind_ir::IrError::Version {
            found: u64::from(graph.schema_version),
        }
        .into());
    }
    if plan.schema_version != hivemind_ir::plan::PLAN_SCHEMA_VERSION {
        return Err(hivemind_ir::plan::PlanError::Version {
            found: u64::from(plan.schema_version),
        }
        .into());
    }
    Ok(())
}

impl State {
    /// Every id the state holds names something of its graph, and its
    /// per-task and per-fleet tables have the graph's shape (a snapshot is
    /// read back from disk: untrusted).
    fn validate(&self) -> Result<(), String> {
        let (n, fleets, areas) = (
            self.graph.tasks.len(),
            self.graph.fleets.len(),
            self.graph.areas.len(),
        );
        if self.kinds.len() != n {
            return Err(format!("{} task tables for {n} tasks", self.kinds.len()));
        }
        if self.fleets.len() != fleets {
            return Err(format!(
                "{} fleet tables for {fleets} fleets",
                self.fleets.len()
            ));
        }
        for (id, d) in self.devices.iter() {
            if d.fleet.index() >= fleets {
                return Err(format!("device {id} is in a missing fleet"));
            }
            if d.cover.iter().any(|s| s.area.index() >= areas) {
                return Err(format!("device {id} sweeps a missing area"));
            }
        }
        if self
            .fleets
            .iter()
            .any(|f| f.orphans.iter().any(|s| s.area.index() >= areas))
        {
            return Err("an unswept strip lies in a missing area".into());
        }
        for (id, i) in self.instances.iter() {
            if i.task.index() >= n || !self.groups.contains_key(&i.group) {
                return Err(format!("instance {id} names a missing task or activation"));
            }
        }
        if self.groups.values().any(|g| g.task.index() >= n) {
            return Err("an activation names a missing task".into());
        }
        if self.join.keys().any(|(t, _)| t.index() >= n) {
            return Err("a join names a missing task".into());
        }
        Ok(())
    }
}

/// The whole controller state, as journaled by a snapshot record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Snapshot {
    pub state: State,
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Plan(#[from] hivemind_ir::plan::PlanError),
    #[error(transparent)]
    Graph(#[from] hivemind_ir::IrError),
    #[error("the snapshot's state does not match its mission: {0}")]
    State(String),
}

#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    #[error("journal is empty")]
    Empty,
    #[error("journal does not start with a genesis or snapshot record")]
    NoStart,
    #[error("journal start record is invalid: {0}")]
    Setup(#[from] SetupError),
}

/// The sans-IO controller. Drive it with [`Controller::handle`] and
/// [`Controller::handle_timeout`] (at [`Controller::poll_timeout`]), and
/// take effects with [`Controller::poll_effect`] until it returns `None`.
#[derive(Debug, Clone)]
pub struct Controller {
    st: State,
    d: Derived,
    out: VecDeque<Effect>,
    /// Soft: rebuilt from `st` on recovery.
    timers: Timers,
    /// Soft: when each device was last heard from (heartbeat, telemetry,
    /// join). Liveness reads it; recovery resets it to the recovery time.
    seen: seen::Seen,
    /// Soft: the latest `now` the driver gave (`st.now` is the time of the
    /// last journaled change), so time never goes backwards.
    clock: Micros,
    /// Soft: live devices' strips per (fleet, area), for repartition.
    strips: strip_index::StripIndex,
}

impl Controller {
    /// A controller for `plan` of `graph`. Its first effect is the genesis
    /// journal record.
    pub fn new(
        config: Config,
        graph: TaskGraph,
        plan: Plan,
        seed: u64,
    ) -> Result<Controller, SetupError> {
        let genesis = Genesis {
            config,
            graph,
            plan,
            seed,
        };
        let mut c = Controller::from_genesis(genesis.clone())?;
        c.out
            .push_back(Effect::Journal(Record::Genesis(Box::new(genesis))));
        Ok(c)
    }

    fn from_genesis(g: Genesis) -> Result<Controller, SetupError> {
        check_versions(&g.graph, &g.plan)?;
        g.graph.validate()?;
        g.plan.validate(&g.graph)?;
        let (servers, cores) = g.graph.cloud.as_ref().map_or(
            (
                g.config.pool.default_servers,
                g.config.pool.default_cores_per_server,
            ),
            |c| (c.servers, c.cores_per_server),
        );
        let mut pool = Pool::new(g.config.pool.clone(), servers, cores);
        let d = Derived::new(&g.graph, &g.plan, &g.config);
        for (i, p) in g.plan.tasks.iter().enumerate() {
            if p.modality.is_cloud() {
                pool.declare(&d.function[i], d.heavy[i]);
            }
        }
        for r in &d.retrains {
            // Training is CPU-bound: its workers avoid sharing a core.
            pool.declare(&r.function, true);
        }
        let n = g.graph.tasks.len();
        let st = State {
            rng: Rng::new(g.seed),
            seed: g.seed,
            now: Micros::ZERO,
            phase: Phase::NotStarted,
            started_at: None,
            finished_at: None,
            drain_deadline: None,
            devices: DeviceTable::new(),
            fleets: vec![FleetState::default(); g.graph.fleets.len()],
            kinds: vec![KindState::default(); n],
            instances: IdTable::new(),
            done: Vec::new(),
            next_instance: 0,
            created: 0,
            next_group: 0,
            groups: IdTable::new(),
            batches: batch::Batches::default(),
            join: BTreeMap::new(),
            pool,
            counters: Counters::default(),
            failures: Vec::new(),
            paths: vec![Histogram::default(); d.paths.len()],
            learning: Learning::new(&d.retrains),
            lost: BTreeMap::new(),
            config: g.config,
            graph: g.graph,
            plan: g.plan,
        };
        Ok(Controller::assemble(st, d))
    }

    fn assemble(mut st: State, d: Derived) -> Controller {
        // The load indexes' leaves are soft: index every device by its own
        // key (what a snapshot's key lists say, unless it lies).
        for f in &mut st.fleets {
            f.load = LoadIndex::default();
        }
        for (_, dev) in st.devices.iter_mut() {
            dev.load_slot = match (dev.load_key, st.fleets.get_mut(dev.fleet.index())) {
                (Some(k), Some(f)) => f.load.insert(k),
                _ => LoadSlot::NONE,
            };
        }
        Controller {
            clock: st.now,
            st,
            d,
            out: VecDeque::new(),
            timers: Timers::default(),
            seen: seen::Seen::default(),
            strips: strip_index::StripIndex::default(),
        }
    }

    /// Rebuild from journal records at `now`: the last snapshot (or the
    /// genesis) and every record after it. The journaled state equals the
    /// one that wrote the records. Then the soft state restarts: the timer
    /// table is rebuilt from the state, and every device in service counts
    /// as seen at `now` (a grace period, so nobody is declared failed
    /// because the controller was down). Queued effects are the resync:
    /// live attempts re-sent (receivers treat them idempotently).
    pub fn recover(
        now: Micros,
        records: impl IntoIterator<Item = Record>,
    ) -> Result<Controller, RecoverError> {
        let mut c: Option<Controller> = None;
        let mut any = false;
        for r in records {
            any = true;
            match r {
                Record::Genesis(g) => c = Some(Controller::from_genesis(*g)?),
                Record::Snapshot(s) => c = Some(Controller::from_snapshot(*s)?),
                r @ (Record::Event { .. }
                | Record::Timeout { .. }
                | Record::DeviceSilent { .. }) => {
                    let Some(c) = c.as_mut() else {
                        return Err(RecoverError::NoStart);
                    };
                    c.replay(r);
                    c.out.clear();
                }
            }
        }
        if !any {
            return Err(RecoverError::Empty);
        }
        let mut c = c.ok_or(RecoverError::NoStart)?;
        c.resync(now);
        Ok(c)
    }

    fn from_snapshot(s: Snapshot) -> Result<Controller, SetupError> {
        let st = s.state;
        check_versions(&st.graph, &st.plan)?;
        st.graph.validate()?;
        st.plan.validate(&st.graph)?;
        st.validate().map_err(SetupError::State)?;
        let d = Derived::new(&st.graph, &st.plan, &st.config);
        Ok(Controller::assemble(st, d))
    }

    /// The state as a journal record; a journal may drop everything before it.
    pub fn snapshot(&self) -> Record {
        Record::Snapshot(Box::new(Snapshot {
            state: self.st.clone(),
        }))
    }

    /// Instances whose output some value still in play names: the
    /// parents of unresolved instances, the values of activations not yet
    /// resolved, held by a join or gathered in an open batch. A payload of
    /// any other instance can never be read again (the runtime's content
    /// store frees it).
    pub fn live_values(&self) -> std::collections::BTreeSet<InstanceId> {
        let st = &self.st;
        st.instances
            .values()
            .filter_map(|i| i.parent.map(|p| p.instance))
            .chain(
                st.groups
                    .values()
                    .filter_map(|g| g.last.map(|p| p.instance)),
            )
            .chain(
                st.join
                    .values()
                    .flat_map(|j| j.held.iter().map(|(p, _, _)| p.instance)),
            )
            .chain(st.batches.parents())
            .collect()
    }

    pub fn state(&self) -> &State {
        &self.st
    }

    pub fn derived_cover(&self) -> &[CoverTask] {
        &self.d.cover
    }

    /// The mission's latency requirements, in the order of [`State::paths`]:
    /// (requirement index, first task, last task).
    pub fn latency_paths(&self) -> &[(usize, TaskId, TaskId)] {
        &self.d.paths
    }

    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.out.pop_front()
    }

    pub fn drain_effects(&mut self) -> std::collections::vec_deque::Drain<'_, Effect> {
        self.out.drain(..)
    }

    /// The earliest deadline of the core's timer table: call
    /// [`Controller::handle_timeout`] then (or later). `None`: no timer
    /// armed (not started, or the mission is over).
    pub fn poll_timeout(&self) -> Option<Micros> {
        self.timers.next_deadline()
    }

    /// Fire every timer due at or before `now` (including ones those
    /// firings arm for `now` or earlier), in (deadline, arming) order. A
    /// firing that changes state is journaled first (`Record::Timeout`); a
    /// stale one does nothing.
    pub fn handle_timeout(&mut self, now: Micros) {
        let now = self.advance(now);
        while let Some(timer) = self.timers.pop_due(now) {
            self.fire(now, timer);
        }
    }

    /// Handle one event at `now` (clamped to never go backwards). Its
    /// journal record is the first effect, except for a heartbeat, which
    /// only feeds the soft liveness state and is not journaled.
    pub fn handle(&mut self, now: Micros, event: Event) {
        let now = self.advance(now);
        if let Event::Heartbeat { device, epoch } = event {
            self.on_heartbeat(now, device, epoch);
            return;
        }
        self.commit(Record::Event { at: now, event });
    }

    /// The driver's clock, clamped to never go backwards.
    fn advance(&mut self, now: Micros) -> Micros {
        self.clock = self.clock.max(now).max(self.st.now);
        self.clock
    }

    /// Journal `record`, then apply it.
    fn commit(&mut self, record: Record) {
        self.out.push_back(Effect::Journal(record.clone()));
        self.replay(record);
    }

    /// Apply a journaled record: the one path for live handling and recovery.
    fn replay(&mut self, record: Record) {
        match record {
            Record::Event { at, event } => self.apply(at, event),
            Record::Timeout { at, timer } => {
                let now = self.advance_state(at);
                self.on_timer(now, timer);
            }
            Record::DeviceSilent { at, device, epoch } => {
                let now = self.advance_state(at);
                self.on_silent(now, device, epoch);
            }
            // Only valid as the first record; `recover` starts over at one.
            Record::Genesis(_) | Record::Snapshot(_) => self.st.counters.rejected_events += 1,
        }
    }

    fn advance_state(&mut self, at: Micros) -> Micros {
        let now = at.max(self.st.now);
        self.st.now = now;
        self.clock = self.clock.max(now);
        now
    }

    fn apply(&mut self, now: Micros, event: Event) {
        let now = self.advance_state(now);
        match event {
            Event::DeviceJoined {
                device,
                fleet,
                battery_uj,
                position,
            } => self.on_join(now, device, fleet, battery_uj, position),
            Event::DeviceLeft { device, epoch } => self.on_leave(now, device, epoch),
            Event::Heartbeat { device, epoch } => self.on_heartbeat(now, device, epoch),
            Event::Telemetry {
                device,
                epoch,
                position,
                battery_uj,
            } => self.on_telemetry(now, device, epoch, position, battery_uj),
            Event::TaskResult {
                instance,
                executor,
                items,
                bytes,
                model_version,
            } => self.on_result(now, instance, executor, items, bytes, model_version),
            Event::ModelLoaded {
                device,
                epoch,
                task,
                version,
            } => self.on_model_loaded(device, epoch, task, version),
            Event::TaskError {
                instance,
                executor,
                reason,
            } => self.on_error(now, instance, executor, reason),
            Event::WorkerReady { worker } => {
                let d = self.st.pool.on_ready(worker);
                self.launch(now, d);
            }
            Event::WorkerExited { worker } => self.on_worker_exit(now, worker),
            Event::Operator { command } => match command {
                Command::Start => self.start(now),
                Command::Stop => self.begin_drain(now),
                Command::Abort { reason } => self.abort(now, reason),
            },
        }
    }

    /// One timer is due (live only). The liveness scan of a tick is soft:
    /// each device it finds silent is journaled as its own decision. The
    /// rest of a timer's work runs only through a journaled
    /// `Record::Timeout`, and only when [`Controller::timer_acts`] says it
    /// would change state, so stale timers cost no journal record.
    fn fire(&mut self, now: Micros, timer: Timer) {
        let in_progress = |c: &Controller| matches!(c.st.phase, Phase::Running | Phase::Draining);
        if timer == Timer::Tick && in_progress(self) {
            self.liveness(now);
        }
        if self.timer_acts(now, timer) {
            self.commit(Record::Timeout { at: now, timer });
        }
        if timer == Timer::Tick && in_progress(self) {
            self.timer(now.plus(self.st.config.tick_us.max(1)), Timer::Tick);
        }
    }

    /// Whether firing `timer` now would change state. Must be true whenever
    /// [`Controller::on_timer`] would (it may be true when the handler then
    /// finds nothing to do: that costs one record, never a divergence).
    fn timer_acts(&self, now: Micros, timer: Timer) -> bool {
        let st = &self.st;
        match timer {
            Timer::Tick => {
                matches!(st.phase, Phase::Running | Phase::Draining)
                    && (st.pool.scale_up_due(now) || st.drain_deadline.is_some_and(|t| now >= t))
            }
            Timer::Periodic { task } => {
                st.phase == Phase::Running
                    && st
                        .kinds
                        .get(task as usize)
                        .and_then(|k| k.next_due)
                        .is_some_and(|due| due <= now)
            }
            Timer::Straggler { instance, attempt } => {
                st.instances.get(&instance).is_some_and(|i| {
                    i.attempts
                        .get(attempt as usize)
                        .is_some_and(|a| a.live && a.check.due(now))
                        && i.attempts.iter().filter(|a| a.live).count() == 1
                        && i.relaunches < st.config.max_relaunches
                })
            }
            Timer::Retry { instance } => st
                .instances
                .get(&instance)
                .is_some_and(|i| i.waiting == Waiting::Backoff),
            Timer::KeepAlive { worker } => st.pool.keep_alive_expired(now, worker),
            Timer::MissionEnd => st.phase == Phase::Running,
            Timer::Retrain { retrain } => self.retrain_due(now, retrain),
        }
    }

    /// What a journaled timer does (live and on replay).
    fn on_timer(&mut self, now: Micros, timer: Timer) {
        match timer {
            Timer::Tick => self.on_tick(now),
            Timer::Periodic { task } => self.on_periodic(now, TaskId(task)),
            Timer::Straggler { instance, attempt } => self.on_straggler(now, instance, attempt),
            Timer::Retry { instance } => self.on_retry(now, instance),
            Timer::KeepAlive { worker } => self.pool(|p, o| p.on_keep_alive(now, worker, o)),
            Timer::MissionEnd => {
                if self.st.phase == Phase::Running {
                    self.begin_drain(now);
                }
            }
            Timer::Retrain { retrain } => self.on_retrain(now, retrain),
        }
    }

    /// The journaled part of a tick: pool autoscaling and the drain timeout
    /// (the liveness scan is soft, see [`Controller::fire`]).
    fn on_tick(&mut self, now: Micros) {
        if !matches!(self.st.phase, Phase::Running | Phase::Draining) {
            return;
        }
        self.pool(|p, o| p.on_tick(now, o));
        if self.st.drain_deadline.is_some_and(|t| now >= t) {
            let ids: Vec<InstanceId> = self.st.instances.ids().collect();
            for id in ids {
                let reason = self.unfinished_reason(id);
                self.fail_instance(now, id, reason);
            }
            self.cancel_jobs();
        }
        self.maybe_finish(now);
    }

    fn timer(&mut self, at: Micros, timer: Timer) {
        self.timers.arm(at, timer);
    }

    /// Call into the pool; its actions become effects (in order) and its
    /// keep-alive checks timers.
    fn pool<R>(&mut self, f: impl FnOnce(&mut Pool, &mut PoolOut) -> R) -> R {
        let mut o = PoolOut::default();
        let r = f(&mut self.st.pool, &mut o);
        self.out.extend(o.actions.into_iter().map(Effect::Pool));
        for (at, worker) in o.keep_alive {
            self.timer(at, Timer::KeepAlive { worker });
        }
        r
    }

    fn publish(&mut self, p: Publication) {
        self.out.push_back(Effect::Publish(p));
    }

    fn tell_device(&mut self, device: DeviceId, epoch: Epoch, msg: DeviceMsg) {
        self.out.push_back(Effect::Device { device, epoch, msg });
    }

    /// Command a device's behaviour (counted: behaviours are not
    /// activations, so the report shows them here).
    fn behave(&mut self, device: DeviceId, epoch: Epoch, command: BehaviourCommand) {
        self.st.counters.behaviour_commands += 1;
        self.tell_device(device, epoch, DeviceMsg::Behave(command));
    }

    /// Send an attempt to its executor (a device registration or a worker).
    fn send_attempt(
        &mut self,
        executor: Executor,
        instance: InstanceId,
        task: TaskId,
        input: Handoff,
    ) {
        let e = match executor {
            Executor::Device { device, epoch } => Effect::Device {
                device,
                epoch,
                msg: DeviceMsg::RunTask {
                    instance,
                    task,
                    input,
                },
            },
            Executor::Worker { worker } => Effect::Pool(PoolAction::Invoke {
                worker,
                instance,
                task,
                function: self.d.function[task.index()].clone(),
                input,
                model_version: self.model_version(task),
            }),
        };
        self.out.push_back(e);
    }

    fn start(&mut self, now: Micros) {
        if self.st.phase != Phase::NotStarted {
            self.st.counters.rejected_events += 1;
            return;
        }
        self.st.phase = Phase::Running;
        self.st.started_at = Some(now);
        self.timer(now.plus(self.st.graph.duration_us), Timer::MissionEnd);
        for w in self.st.plan.prewarm.clone() {
            self.pool(|p, o| p.prewarm(&w.function, w.workers, o));
        }
        self.assign_initial_behaviours();
        if self.d.fired.contains(&true) {
            let alive: Vec<DeviceId> = self
                .st
                .devices
                .iter()
                .filter(|(_, d)| d.status == DeviceStatus::Alive)
                .map(|(&id, _)| id)
                .collect();
            for dev in alive {
                self.grant_device(now, dev);
            }
        }
        for i in 0..self.st.graph.tasks.len() {
            let t = TaskId(i as u32);
            match self.d.activation[i].start {
                Start::Periodic { .. } => {
                    self.st.kinds[i].next_due = Some(now);
                    if self.d.phasing[i].is_some() {
                        self.st.kinds[i].phases = Some(Phases {
                            period_start: now,
                            slot: 0,
                        });
                    }
                    self.on_periodic(now, t);
                }
                Start::Window { period_us } => {
                    let first = now.plus(period_us.max(1));
                    self.st.kinds[i].next_due = Some(first);
                    self.timer(first, Timer::Periodic { task: t.0 });
                }
                Start::Once => self.activate(now, t, None, 1, &Lineage::default()),
                _ => {}
            }
        }
        self.start_learning(now);
        self.timer(now.plus(self.st.config.tick_us.max(1)), Timer::Tick);
    }

    fn on_periodic(&mut self, now: Micros, task: TaskId) {
        if self.st.phase != Phase::Running {
            return;
        }
        let Some(kind) = self.st.kinds.get(task.index()) else {
            self.st.counters.rejected_events += 1;
            return;
        };
        let Some(due) = kind.next_due else { return };
        let (Start::Periodic { period_us } | Start::Window { period_us }) =
            self.d.activation[task.index()].start
        else {
            return;
        };
        if due > now {
            return; // stale or early timer: the right one is armed
        }
        let period = period_us.max(1);
        if let (Some(p), Some(phasing)) = (
            self.st.kinds[task.index()].phases,
            self.d.phasing[task.index()],
        ) {
            self.fire_phase(now, task, period, p, phasing);
            return;
        }
        self.fire_periodic(now, task, due, period);
    }

    /// Fire a periodic source or close a window due at `due`, then arm the
    /// next. Catches up without bursting: one activation (or window
    /// close), then the next due time after `now` (a late timer does not
    /// create a backlog).
    fn fire_periodic(&mut self, now: Micros, task: TaskId, due: Micros, period: u64) {
        let behind = now.since(due) / period;
        let next = due.plus((behind + 1) * period);
        self.st.kinds[task.index()].next_due = Some(next);
        if matches!(self.d.activation[task.index()].start, Start::Window { .. }) {
            self.fire_open(now, task);
        } else if self.d.fired[task.index()] {
            let n = self.period_of(next, period).saturating_sub(1);
            self.activate_round(now, task, n);
            self.after_fired(now, task, n, (0, 1));
        } else {
            self.activate(now, task, None, 1, &Lineage::default());
        }
        self.timer(next, Timer::Periodic { task: task.0 });
    }

    /// A device's result for period `n` of a synchronized source it fires
    /// came before the period's timer: the round fires now (the timer,
    /// when it comes, finds it done).
    fn fire_round_early(&mut self, now: Micros, task: TaskId, n: u64) {
        let Some(k) = self.st.kinds.get(task.index()) else {
            return;
        };
        let (Some(due), Start::Periodic { period_us }) =
            (k.next_due, self.d.activation[task.index()].start)
        else {
            return;
        };
        let period = period_us.max(1);
        if self.st.phase != Phase::Running || self.period_of(due, period) != n {
            return;
        }
        self.fire_periodic(now, task, due, period);
    }

    /// The period (0 at the mission's start) a periodic source of period
    /// `period` is in at `at`.
    fn period_of(&self, at: Micros, period: u64) -> u64 {
        self.st.started_at.map_or(0, |s| at.since(s) / period)
    }

    /// Fire one phase of a phased per-device source (its devices in the
    /// slot), then arm the next: the next slot, or the first of the next
    /// period. A timer late by a whole period skips to the current one
    /// (no backlog).
    fn fire_phase(
        &mut self,
        now: Micros,
        task: TaskId,
        period: u64,
        p: Phases,
        phasing: hivemind_ir::activation::Phasing,
    ) {
        let n = self.period_of(p.period_start, period);
        self.activate_phase(now, task, (p.slot, phasing.slots), n);
        if self.d.fired[task.index()] {
            self.after_fired(now, task, n, (p.slot, phasing.slots));
        }
        let (mut start, mut next_slot) = (p.period_start, p.slot + 1);
        if next_slot >= phasing.slots || now.since(start) >= period {
            let periods = (now.since(start) / period).max(1);
            start = start.plus(periods.saturating_mul(period));
            next_slot = 0;
        }
        let next = start.plus(phasing.offset_us(next_slot));
        let k = &mut self.st.kinds[task.index()];
        k.phases = Some(Phases {
            period_start: start,
            slot: next_slot,
        });
        k.next_due = Some(next);
        self.timer(next, Timer::Periodic { task: task.0 });
    }

    fn begin_drain(&mut self, now: Micros) {
        if self.st.phase != Phase::Running {
            return;
        }
        self.st.phase = Phase::Draining;
        self.st.drain_deadline = Some(now.plus(self.st.config.drain_timeout_us));
        for k in &mut self.st.kinds {
            k.next_due = None;
        }
        // No new firings: the grants not yet used are taken back.
        let mut void = Vec::new();
        for (&device, d) in self.st.devices.iter_mut() {
            let to = Executor::Device {
                device,
                epoch: d.epoch,
            };
            void.extend(
                d.grants
                    .drain(..)
                    .filter(|g| !g.used)
                    .map(|g| (to, g.instance)),
            );
        }
        for (to, id) in void {
            self.out.push_back(Effect::cancel(to, id));
        }
        for m in &mut self.st.learning.models {
            m.next_due = None;
        }
        self.maybe_finish(now);
    }

    fn maybe_finish(&mut self, now: Micros) {
        // A training job still running holds the end back (its model is
        // pushed before the mission finishes).
        if self.st.phase == Phase::Draining
            && self.st.instances.is_empty()
            && self.st.learning.jobs.is_empty()
        {
            // Open windows and gather remainders fire once; finish after them.
            if self.flush_batches(now) && !self.st.instances.is_empty() {
                return;
            }
            self.count_unjoined();
            self.st.phase = Phase::Finished;
            self.st.finished_at = Some(now);
            self.pool(|p, o| p.stop_all(o));
            self.publish(Publication::MissionFinished);
        }
    }

    /// Values a join's pacer delivered that never met a value of every
    /// other producer (one never delivered): counted and said, not dropped
    /// silently.
    fn count_unjoined(&mut self) {
        for ((task, _), j) in std::mem::take(&mut self.st.join) {
            if j.held.is_empty() {
                continue;
            }
            let missing: Vec<&str> = j
                .latest
                .iter()
                .zip(&self.d.preds[task.index()])
                .filter(|(l, _)| l.is_none())
                .map(|(_, p)| self.st.graph.tasks[p.index()].name.as_str())
                .collect();
            tracing::warn!(
                task = %self.st.graph.tasks[task.index()].name,
                values = j.held.len(),
                never_delivered = ?missing,
                "join values never joined"
            );
            self.st.counters.unjoined_values += j.held.len() as u64;
        }
    }

    fn abort(&mut self, now: Micros, reason: String) {
        if matches!(self.st.phase, Phase::Finished | Phase::Aborted { .. }) {
            return;
        }
        let ids: Vec<InstanceId> = self.st.instances.ids().collect();
        for id in ids {
            self.fail_instance(now, id, format!("mission aborted: {reason}"));
        }
        self.cancel_jobs();
        self.st.phase = Phase::Aborted {
            reason: reason.clone(),
        };
        self.st.finished_at = Some(now);
        self.pool(|p, o| p.stop_all(o));
        self.publish(Publication::MissionAborted { reason });
    }

    /// After recovery at `now`: restart the soft state from the journaled
    /// state, and re-send what may not have been carried out (effects
    /// queued after the last durable record may never have left).
    fn resync(&mut self, now: Micros) {
        let now = self.advance(now);
        self.timers.clear();
        // Grace period: silence while the controller was down is not the
        // devices' fault.
        let in_service = self
            .st
            .devices
            .iter()
            .filter(|(_, d)| matches!(d.status, DeviceStatus::Alive | DeviceStatus::Returning))
            .map(|(&id, _)| id);
        self.seen.reset(in_service, now);
        if !matches!(self.st.phase, Phase::Running | Phase::Draining) {
            return;
        }
        // Ticks stay on the grid they were on: start + k * tick.
        let tick = self.st.config.tick_us.max(1);
        let start = self.st.started_at.unwrap_or(now);
        let k = now.since(start).div_ceil(tick).max(1);
        self.timer(start.plus(k.saturating_mul(tick)), Timer::Tick);
        if self.st.phase == Phase::Running {
            self.timer(start.plus(self.st.graph.duration_us), Timer::MissionEnd);
        }
        for i in 0..self.st.kinds.len() {
            if let Some(due) = self.st.kinds[i].next_due {
                self.timer(due, Timer::Periodic { task: i as u32 });
            }
        }
        for (at, worker) in self.st.pool.keep_alive_deadlines() {
            self.timer(at, Timer::KeepAlive { worker });
        }
        self.resync_learning();
        let ids: Vec<InstanceId> = self.st.instances.ids().collect();
        for id in ids {
            let Some(inst) = self.st.instances.get(&id).cloned() else {
                continue;
            };
            if inst.waiting == Waiting::Backoff {
                self.timer(inst.retry_at.unwrap_or(now), Timer::Retry { instance: id });
            }
            for (n, a) in inst.attempts.iter().enumerate() {
                if !a.live {
                    continue;
                }
                if let StragglerCheck::At(at) = a.check {
                    let timer = Timer::Straggler {
                        instance: id,
                        attempt: n as u32,
                    };
                    self.timer(at, timer);
                }
                let input = self.handoff(inst.parent, a.executor);
                self.send_attempt(a.executor, id, inst.task, input);
            }
        }
    }

    /// How an instance triggered by `parent` gets its input when run by
    /// `executor`.
    fn handoff(&self, parent: Option<Parent>, executor: Executor) -> Handoff {
        let Some(p) = parent else {
            return Handoff::None;
        };
        let (from, bytes) = (p.instance, p.bytes);
        match p.channel {
            ChannelKind::Control => Handoff::None,
            ChannelKind::DeviceLocal => match (p.executor, executor) {
                (Executor::Device { device: a, .. }, Executor::Device { device: b, .. })
                    if a == b =>
                {
                    Handoff::Local
                }
                _ => Handoff::Relay { from, bytes },
            },
            ChannelKind::Uplink | ChannelKind::Downlink | ChannelKind::DeviceToDevice => {
                Handoff::Relay { from, bytes }
            }
            ChannelKind::CloudInWorker if p.executor == executor => Handoff::InWorker { from },
            ChannelKind::CloudInWorker | ChannelKind::CloudStorage => {
                Handoff::Storage { from, bytes }
            }
            ChannelKind::CloudRemoteMemory => Handoff::RemoteMemory { from, bytes },
        }
    }

    fn is_done(&self, id: InstanceId) -> bool {
        let (w, b) = ((id.0 / 64) as usize, id.0 % 64);
        self.st.done.get(w).is_some_and(|x| x & (1 << b) != 0)
    }

    fn mark_done(&mut self, id: InstanceId) {
        let (w, b) = ((id.0 / 64) as usize, id.0 % 64);
        if self.st.done.len() <= w {
            self.st.done.resize(w + 1, 0);
        }
        self.st.done[w] |= 1 << b;
    }

    /// Instances (and training jobs) created so far: each is live,
    /// completed or failed.
    pub fn instances_created(&self) -> u64 {
        self.st.created
    }

    /// Whether the instance is resolved (completed or failed).
    pub fn resolved(&self, id: InstanceId) -> bool {
        self.is_done(id)
    }

    pub fn worker_of(&self, w: WorkerId) -> Option<&crate::pool::Worker> {
        self.st.pool.workers.get(&w)
    }
}
