//! The driver: one thread that owns the controller core and carries out
//! its effects, in order, against the real world.
//!
//! ```text
//!  connections ─┐                      ┌─▶ journal (append; fsync before any later effect)
//!  pool workers ├─▶ Input ─▶ core ─▶ effects ─▶ devices (their connection's queue)
//!  operator    ─┘   (mpsc)   handle       ├─▶ pool (PoolExec: functions backend)
//!                            handle_timeout└─▶ observers (MQTT telemetry, progress)
//! ```
//!
//! * **Group commit, journal before acknowledgement**: inputs are taken in
//!   batches (everything waiting, up to [`BATCH`]); each is handled, the
//!   effects are drained, journal records are appended and, before the
//!   first effect that leaves the process (a device message, a
//!   publication), the journal is fsynced once. A failed fsync stops the
//!   driver: nothing unjournaled may leave. The pool's actions go before
//!   the commit (its workers die with the process), and the answers of
//!   inline functions join it ([`Driver::flush`]).
//! * **Epochs**: each device has at most one connection; a message of the
//!   core for an epoch the connection has not registered under is dropped,
//!   except `Ack` and `Cancel`, which name an instance the device may still
//!   hold from an earlier registration (its buffered results).
//! * **Time**: [`MissionClock`]; the core's timers are waited for with the
//!   channel's `recv_timeout`.

use crate::clock::{ClockError, MissionClock};
use crate::figures::Figures;
use crate::otel::Traces;
use crate::pool_exec::{input_bytes, PoolExec, PoolOutcome};
use crate::remote::{self, RemoteArena};
use crate::store::ContentStore;
use bytes::Bytes;
use hivemind_controller::journal::{identity_of, Journal, JournalError};
use hivemind_controller::{
    Command, Config, Controller, DeviceId, DeviceMsg, Effect, Epoch, Event, Executor,
    MissionReport, Phase, Plan, Publication, Record, TaskGraph,
};
use hivemind_functions::{Backend, Worker};
use hivemind_proto::wire::{clip_reason, negotiate};
use hivemind_proto::{Downlink, Hello, Uplink};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Handle;
use tokio::sync::mpsc::error::TrySendError;

/// How often the content store is swept against the core's live values.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Inputs handled between two journal commits at most (per fold round).
const BATCH: usize = 512;

/// Rounds of pool answers folded into one commit at most
/// ([`Driver::flush`]).
const FOLD_ROUNDS: usize = 4;

/// Everything that reaches the core, from any task of the runtime.
pub enum Input {
    /// A connection's Hello passed the transport's checks (certificate,
    /// claimed id): register it. `conn` tells connections of one device
    /// apart.
    Connected {
        device: DeviceId,
        conn: u64,
        hello: Hello,
        tx: tokio::sync::mpsc::Sender<Downlink>,
    },
    Uplink {
        device: DeviceId,
        conn: u64,
        msg: Uplink,
    },
    Closed {
        device: DeviceId,
        conn: u64,
    },
    WorkerStarted {
        worker: hivemind_controller::WorkerId,
        handle: Arc<dyn Worker>,
    },
    Pool(PoolOutcome),
    Operator(Command),
}

#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// Holds `journal` and `origin` (the mission clock).
    pub state_dir: PathBuf,
    /// Start the mission once this many devices have registered...
    pub expect_devices: u32,
    /// ...or this long after the driver started, whichever comes first.
    pub start_timeout: Duration,
    /// Stop the mission (drain, then finish) at this mission time, if
    /// earlier than its own end.
    pub stop_at_us: Option<u64>,
    /// Content-store budget in memory; beyond it payloads spill to
    /// `state_dir/store`.
    pub store_bytes: usize,
    /// Content-store budget on disk; beyond it the oldest spilled payloads
    /// are evicted (counted).
    pub spill_bytes: u64,
    /// Compact the journal after this many records.
    pub compact_after: u64,
}

impl DriverConfig {
    pub fn new(state_dir: impl Into<PathBuf>) -> DriverConfig {
        DriverConfig {
            state_dir: state_dir.into(),
            expect_devices: 0,
            start_timeout: Duration::from_secs(30),
            stop_at_us: None,
            store_bytes: 256 << 20,
            spill_bytes: 4 << 30,
            compact_after: 200_000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Clock(#[from] ClockError),
    #[error("the mission cannot be set up: {0}")]
    Setup(String),
    #[error("the journal cannot be recovered: {0}")]
    Recover(String),
    #[error("cannot create the state directory {0}: {1}")]
    StateDir(String, std::io::Error),
    #[error("payload log: {0}")]
    Payloads(std::io::Error),
}

struct Link {
    conn: u64,
    tx: tokio::sync::mpsc::Sender<Downlink>,
    /// The registration this connection speaks for, once the core gave one.
    epoch: Option<Epoch>,
}

/// Counters of what the driver did (beside the core's report).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DriverStats {
    pub inputs: u64,
    pub journal_commits: u64,
    pub journal_records: u64,
    /// Inputs (mostly inline functions' answers) handled in the commit of
    /// the pool actions before them ([`Driver::flush`]).
    pub folded_inputs: u64,
    pub device_msgs: u64,
    pub stale_msgs_dropped: u64,
    pub slow_links_closed: u64,
    pub refused: u64,
    pub payload_bytes_in: u64,
    pub payload_bytes_out: u64,
    pub store_evicted: u64,
    pub store_misses: u64,
    /// Payloads the content store wrote to disk (over its memory budget).
    pub store_spilled: u64,
    /// Payloads freed because every consumer had resolved.
    pub store_freed: u64,
    /// Payloads placed in remote memory (a `RemoteMemory` hand-off's
    /// producer), and those that did not fit there (kept in the store).
    pub remote_puts: u64,
    pub remote_fallbacks: u64,
    /// Payloads found in the payload log at a restart.
    pub payloads_recovered: u64,
    /// How long each journal commit (append + fsync) took, µs: what the
    /// simulator charges per commit (`hivemind validate` feeds it the
    /// median measured here).
    pub commit_us: hivemind_controller::histogram::Histogram,
}

/// Sees every publication of the core (telemetry bus, progress bars).
pub type Observer = Box<dyn FnMut(&Publication) + Send>;

/// Sees each registration the core accepted (journaled), as it is sent to
/// the device: the telemetry bus's `status: joined`.
pub type JoinObserver = Box<dyn FnMut(DeviceId) + Send>;

pub struct Driver {
    core: Controller,
    journal: Journal,
    dirty: bool,
    since_compact: u64,
    clock: MissionClock,
    figures: Figures,
    mission: String,
    links: BTreeMap<DeviceId, Link>,
    pool: PoolExec,
    store: ContentStore,
    last_sweep: std::time::Instant,
    rx: Receiver<Input>,
    observers: Vec<Observer>,
    join_observers: Vec<JoinObserver>,
    cfg: DriverConfig,
    started: Instant,
    stats: DriverStats,
    registered: u32,
    stop_sent: bool,
    traces: Traces,
    /// Effects waiting for their batch's commit (kept to reuse its buffer).
    held: Vec<Effect>,
}

/// What a driver run ended with.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub phase: Phase,
    pub report: MissionReport,
    pub stats: DriverStats,
    /// Whether this run continued a journaled mission.
    pub recovered: bool,
    pub ended_at_us: u64,
}

impl Driver {
    /// A driver for the mission: a new journal when `state_dir` has none,
    /// else recovery from it (the journal must be this mission's).
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        cfg: DriverConfig,
        graph: TaskGraph,
        plan: Plan,
        config: Config,
        seed: u64,
        figures: Figures,
        backend: Arc<dyn Backend>,
        handle: Handle,
        inputs: (Sender<Input>, Receiver<Input>),
    ) -> Result<(Driver, bool), DriverError> {
        std::fs::create_dir_all(&cfg.state_dir)
            .map_err(|e| DriverError::StateDir(cfg.state_dir.display().to_string(), e))?;
        let path = journal_path(&cfg.state_dir);
        let origin = cfg.state_dir.join("origin");
        let identity = identity_of(&graph);
        let mission = graph.mission.clone();
        let (core, journal, clock, recovered) = if path.exists() {
            let opened = Journal::open_for(&path, identity)?;
            if let Some(t) = &opened.torn {
                tracing::warn!(
                    offset = t.offset,
                    dropped = t.dropped_bytes,
                    "journal had a torn tail: {}",
                    t.error
                );
            }
            let last = opened.records.iter().map(record_time).max().unwrap_or(0);
            let clock = MissionClock::resume(&origin, hivemind_controller::Micros(last))?;
            let core = Controller::recover(clock.now(), opened.records)
                .map_err(|e| DriverError::Recover(e.to_string()))?;
            tracing::info!(
                at_us = clock.now().0,
                "recovered the mission from its journal"
            );
            (core, opened.journal, clock, true)
        } else {
            let journal = Journal::create(&path, identity)?;
            let clock = MissionClock::create(&origin)?;
            let core = Controller::new(config, graph, plan, seed)
                .map_err(|e| DriverError::Setup(e.to_string()))?;
            (core, journal, clock, false)
        };
        let traces = Traces::new(&core.state().graph);
        let pool = PoolExec::new(backend, handle, inputs.0);
        let mut store = ContentStore::with_log(
            cfg.store_bytes,
            &payload_log_path(&cfg.state_dir),
            cfg.spill_bytes,
            recovered,
        )
        .map_err(|e| DriverError::Setup(format!("content store: {e}")))?;
        if store.recovered > 0 {
            tracing::info!(payloads = store.recovered, "recovered the payload log");
        }
        // Remote memory only where the plan hands data over through it.
        if figures.tasks.iter().any(|t| t.remote_out) {
            let arena = RemoteArena::software(remote::FALLBACK)
                .map_err(|e| DriverError::Setup(e.to_string()))?;
            store = store.with_remote(arena);
        }
        Ok((
            Driver {
                core,
                journal,
                dirty: false,
                since_compact: 0,
                clock,
                figures,
                mission,
                links: BTreeMap::new(),
                pool,
                store,
                last_sweep: std::time::Instant::now(),
                rx: inputs.1,
                observers: Vec::new(),
                join_observers: Vec::new(),
                cfg,
                started: Instant::now(),
                stats: DriverStats::default(),
                registered: 0,
                stop_sent: false,
                traces,
                held: Vec::new(),
            },
            recovered,
        ))
    }

    /// Validation mode: the pool takes the simulator's time for cold
    /// starts and cloud hand-offs.
    pub fn emulate(&mut self, e: crate::pool_exec::Emulate) {
        self.pool.emulate = Some(e);
    }

    pub fn observe(&mut self, o: Observer) {
        self.observers.push(o);
    }

    pub fn observe_joins(&mut self, o: JoinObserver) {
        self.join_observers.push(o);
    }

    pub fn clock(&self) -> MissionClock {
        self.clock
    }

    /// Run until the mission finishes or aborts (or every input sender is
    /// gone). Blocking: give it its own thread.
    pub fn run(mut self, recovered: bool) -> Result<Outcome, DriverError> {
        if recovered {
            // The workers the journal knows died with the controller's
            // process: their attempts are re-placed on new ones (else the
            // recovered core invokes workers that are not running, and
            // its retries pick them again).
            let now = self.clock.now();
            for worker in self.core.state().pool.worker_ids() {
                self.core.handle(now, Event::WorkerExited { worker });
            }
        }
        self.flush()?;
        loop {
            let phase = self.core.state().phase.clone();
            if matches!(phase, Phase::Finished | Phase::Aborted { .. }) {
                break;
            }
            self.maybe_start();
            let stop = self.stop_deadline();
            let next = match (self.core.poll_timeout(), stop) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let wait = next
                .map_or(Duration::from_millis(100), |t| self.clock.until(t))
                .min(Duration::from_millis(100));
            match self.rx.recv_timeout(wait) {
                Ok(input) => {
                    self.input(input);
                    for _ in 1..BATCH {
                        match self.rx.try_recv() {
                            Ok(i) => self.input(i),
                            Err(_) => break,
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            let now = self.clock.now();
            // The operator's stop goes before timers due at the same time,
            // as in the simulator: `--duration 5 s` is activations in [0, 5 s).
            if stop.is_some_and(|t| t <= now) {
                self.stop_sent = true;
                tracing::info!("stopping the mission (--duration)");
                self.core.handle(
                    now,
                    Event::Operator {
                        command: Command::Stop,
                    },
                );
            }
            if self.core.poll_timeout().is_some_and(|t| t <= now) {
                self.core.handle_timeout(now);
            }
            self.flush()?;
            if self.last_sweep.elapsed() >= SWEEP_EVERY {
                self.last_sweep = std::time::Instant::now();
                let live = self.core.live_values();
                self.store.sweep(&live);
            }
        }
        self.flush()?;
        for link in self.links.values() {
            let _ = link.tx.try_send(Downlink::Shutdown {
                reason: format!("mission {}", self.core.state().phase),
            });
        }
        self.pool.stop_all();
        self.stats.store_evicted = self.store.evicted;
        self.stats.store_misses = self.store.misses;
        self.stats.store_spilled = self.store.spilled;
        self.stats.store_freed = self.store.freed;
        self.stats.remote_puts = self.store.remote_puts;
        self.stats.remote_fallbacks = self.store.remote_fallbacks;
        self.stats.payloads_recovered = self.store.recovered;
        Ok(Outcome {
            phase: self.core.state().phase.clone(),
            report: self.core.report(),
            stats: self.stats,
            recovered,
            ended_at_us: self.clock.now().0,
        })
    }

    fn maybe_start(&mut self) {
        if self.core.state().phase != Phase::NotStarted {
            return;
        }
        let enough = self.cfg.expect_devices > 0 && self.registered >= self.cfg.expect_devices;
        if enough || self.started.elapsed() >= self.cfg.start_timeout {
            tracing::info!(devices = self.registered, "starting the mission");
            self.core.handle(
                self.clock.now(),
                Event::Operator {
                    command: Command::Start,
                },
            );
        }
    }

    /// When `--duration` stops the running mission (once).
    fn stop_deadline(&self) -> Option<hivemind_controller::Micros> {
        let st = self.core.state();
        if self.stop_sent || st.phase != Phase::Running {
            return None;
        }
        let stop = self.cfg.stop_at_us?;
        Some(hivemind_controller::Micros(
            st.started_at?.0.saturating_add(stop),
        ))
    }

    fn input(&mut self, input: Input) {
        self.stats.inputs += 1;
        let now = self.clock.now();
        match input {
            Input::Connected {
                device,
                conn,
                hello,
                tx,
            } => self.connected(now, device, conn, hello, tx),
            Input::Uplink { device, conn, msg } => {
                if self.links.get(&device).is_some_and(|l| l.conn == conn) {
                    self.uplink(now, device, msg);
                }
            }
            Input::Closed { device, conn } => {
                if self.links.get(&device).is_some_and(|l| l.conn == conn) {
                    self.links.remove(&device);
                    tracing::info!(%device, "connection closed");
                }
            }
            Input::WorkerStarted { worker, handle } => {
                if self.pool.started(worker, handle) {
                    self.core.handle(now, Event::WorkerReady { worker });
                }
            }
            Input::Pool(PoolOutcome::Ready { worker }) => {
                self.core.handle(now, Event::WorkerReady { worker })
            }
            Input::Pool(PoolOutcome::Exited { worker, reason }) => {
                if let Some(r) = reason {
                    tracing::warn!(%worker, "worker exited: {r}");
                }
                self.pool.forget(worker);
                self.core.handle(now, Event::WorkerExited { worker });
            }
            Input::Pool(PoolOutcome::Done {
                worker,
                instance,
                result,
            }) => {
                self.pool.finished(worker, instance);
                self.traces.worker_answer(instance, worker, result.is_ok());
                let executor = Executor::Worker { worker };
                match result {
                    Ok((payload, items)) => {
                        let bytes = payload.len() as u64;
                        self.keep(instance, payload);
                        self.core.handle(
                            now,
                            Event::TaskResult {
                                instance,
                                executor,
                                items,
                                bytes,
                                model_version: 0,
                            },
                        );
                    }
                    Err(reason) => self.core.handle(
                        now,
                        Event::TaskError {
                            instance,
                            executor,
                            reason: clip_reason(&reason),
                        },
                    ),
                }
                if self.pool.dead(worker) {
                    self.pool.forget(worker);
                    self.core.handle(now, Event::WorkerExited { worker });
                }
            }
            Input::Operator(command) => self.core.handle(now, Event::Operator { command }),
        }
    }

    fn connected(
        &mut self,
        now: hivemind_controller::Micros,
        device: DeviceId,
        conn: u64,
        hello: Hello,
        tx: tokio::sync::mpsc::Sender<Downlink>,
    ) {
        let refuse = |tx: &tokio::sync::mpsc::Sender<Downlink>, reason: String| {
            tracing::warn!(%device, "refused: {reason}");
            let _ = tx.try_send(Downlink::Refused { reason });
        };
        let version = match negotiate(hello.min_version, hello.max_version) {
            Ok(v) => v,
            Err(e) => {
                self.stats.refused += 1;
                return refuse(&tx, e.to_string());
            }
        };
        if hello.mission != self.mission {
            self.stats.refused += 1;
            return refuse(
                &tx,
                format!(
                    "this controller runs mission `{}`, not `{}`",
                    self.mission, hello.mission
                ),
            );
        }
        let graph = &self.core.state().graph;
        let Some(fleet) = graph
            .fleets
            .iter()
            .find(|f| f.name == hello.fleet)
            .map(|f| f.id)
        else {
            self.stats.refused += 1;
            let names: Vec<&str> = graph.fleets.iter().map(|f| f.name.as_str()).collect();
            return refuse(
                &tx,
                format!(
                    "mission `{}` has no fleet `{}` (fleets: {})",
                    self.mission,
                    hello.fleet,
                    names.join(", ")
                ),
            );
        };
        let Some(fragment) = self.figures.fragments.get(fleet.index()).cloned() else {
            return refuse(&tx, "no plan fragment for the fleet".into());
        };
        if let Some(old) = self.links.insert(
            device,
            Link {
                conn,
                tx: tx.clone(),
                epoch: None,
            },
        ) {
            let _ = old.tx.try_send(Downlink::Shutdown {
                reason: "replaced by a newer connection of the same device".into(),
            });
        }
        let _ = tx.try_send(Downlink::Accepted {
            version,
            mission: self.mission.clone(),
            fragment: Box::new(fragment),
        });
        tracing::info!(%device, fleet = %hello.fleet, buffered = hello.buffered_results, "device connected");
        self.registered = self.registered.saturating_add(1);
        self.core.handle(
            now,
            Event::DeviceJoined {
                device,
                fleet,
                battery_uj: hello.battery_uj,
                position: hello.position,
            },
        );
    }

    fn uplink(&mut self, now: hivemind_controller::Micros, device: DeviceId, msg: Uplink) {
        let event = match msg {
            // A second Hello on a registered connection: the transport
            // closes such connections; nothing for the core.
            Uplink::Hello(_) => return,
            Uplink::Heartbeat { epoch } => Event::Heartbeat { device, epoch },
            Uplink::Telemetry {
                epoch,
                position,
                battery_uj,
            } => Event::Telemetry {
                device,
                epoch,
                position,
                battery_uj,
            },
            Uplink::Result {
                epoch,
                instance,
                items,
                model_version,
                payload,
                traceparent,
            } => {
                self.traces
                    .device_answer(instance, device, &traceparent, Ok(items));
                let bytes = payload.len() as u64;
                self.stats.payload_bytes_in += bytes;
                self.keep(instance, Bytes::from(payload));
                Event::TaskResult {
                    instance,
                    executor: Executor::Device { device, epoch },
                    items,
                    bytes,
                    model_version,
                }
            }
            Uplink::Error {
                epoch,
                instance,
                reason,
                traceparent,
            } => {
                self.traces
                    .device_answer(instance, device, &traceparent, Err(&reason));
                Event::TaskError {
                    instance,
                    executor: Executor::Device { device, epoch },
                    reason,
                }
            }
            Uplink::ModelLoaded {
                epoch,
                task,
                version,
            } => Event::ModelLoaded {
                device,
                epoch,
                task,
                version,
            },
            Uplink::Goodbye { epoch } => Event::DeviceLeft { device, epoch },
        };
        self.core.handle(now, event);
    }

    /// Carry out every queued effect: journal records first made durable
    /// (one fsync for the batch) before anything that could acknowledge them.
    ///
    /// Group commit: every record the batch produced is appended and made
    /// durable with one fsync, then the other effects are carried out in
    /// their order. Holding an effect until records queued after it are
    /// durable too only delays it; committing before each effect instead
    /// cost one fsync per event (≈ 4 ms each on this project's disks).
    ///
    /// The pool's actions go before the commit: its workers live in this
    /// process and die with it, so nothing they were asked can outlive an
    /// unjournaled decision (a recovered core re-places their work). An
    /// inline function answers while it is invoked; its answer, and what
    /// the core makes of it, join this commit (a cloud function fed by a
    /// device then costs one fsync, not two in a row). At most
    /// [`FOLD_ROUNDS`] such rounds fold into one commit.
    fn flush(&mut self) -> Result<(), DriverError> {
        let mut rest = std::mem::take(&mut self.held);
        let mut pool = Vec::new();
        for round in 0..=FOLD_ROUNDS {
            for effect in self.core.drain_effects() {
                match effect {
                    Effect::Journal(record) => {
                        self.journal.append(&record);
                        self.dirty = true;
                        self.stats.journal_records += 1;
                        self.since_compact += 1;
                    }
                    p @ Effect::Pool(_) => pool.push(p),
                    other => rest.push(other),
                }
            }
            let invoked = !pool.is_empty();
            for p in pool.drain(..) {
                self.carry_out(p);
            }
            if !invoked || round == FOLD_ROUNDS {
                break;
            }
            // The answers already waiting (only those: no wait).
            let mut answered = false;
            for _ in 0..BATCH {
                match self.rx.try_recv() {
                    Ok(i) => {
                        self.input(i);
                        self.stats.folded_inputs += 1;
                        answered = true;
                    }
                    Err(_) => break,
                }
            }
            if !answered {
                break;
            }
        }
        // On a failed commit nothing held may leave (the driver stops).
        self.commit()?;
        for effect in rest.drain(..) {
            self.carry_out(effect);
        }
        self.held = rest;
        if self.since_compact >= self.cfg.compact_after {
            self.journal.compact(&self.core.snapshot())?;
            self.since_compact = 0;
        }
        Ok(())
    }

    /// Keep a result's payload for its consumers: in remote memory when
    /// one reads it from there, else in the content store.
    fn keep(&mut self, instance: hivemind_controller::InstanceId, payload: Bytes) {
        let remote = self
            .core
            .state()
            .instances
            .get(&instance)
            .and_then(|i| self.figures.task(i.task))
            .is_some_and(|f| f.remote_out);
        if remote {
            self.store.put_remote(instance, payload);
        } else {
            self.store.put(instance, payload);
        }
    }

    /// The journal's commit and the payloads it records, made durable
    /// together: the payload frames reach the kernel before the journal's
    /// write (a killed controller keeps both), then both files are synced
    /// at once, so the payloads cost no second fsync in a row. Only a
    /// machine crash between the two syncs could keep a cloud result
    /// without its bytes (a device's result is replayed from its outbox:
    /// no acknowledgement left before both syncs ended).
    fn commit_with_payloads(&mut self) -> Result<(), DriverError> {
        let Some(log) = self.store.log_mut() else {
            self.journal.commit()?;
            return Ok(());
        };
        if !log.write().map_err(DriverError::Payloads)? {
            self.journal.commit()?;
            return Ok(());
        }
        let log: &crate::payload_log::PayloadLog = log;
        let journal = &mut self.journal;
        let (payloads, records) = std::thread::scope(|s| {
            let payloads = s.spawn(|| log.sync_data());
            let records = journal.commit();
            (payloads.join(), records)
        });
        records?;
        match payloads {
            Ok(r) => r.map_err(DriverError::Payloads),
            Err(_) => Err(DriverError::Payloads(std::io::Error::other(
                "the payload sync panicked",
            ))),
        }
    }

    fn commit(&mut self) -> Result<(), DriverError> {
        if self.dirty {
            let t = std::time::Instant::now();
            self.commit_with_payloads()?;
            let us = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
            self.stats.commit_us.record(us);
            self.dirty = false;
            self.stats.journal_commits += 1;
        }
        Ok(())
    }

    fn carry_out(&mut self, effect: Effect) {
        match effect {
            Effect::Journal(_) => {}
            Effect::Device { device, epoch, msg } => self.to_device(device, epoch, msg),
            Effect::Pool(action) => {
                // The pool's invocation runs in the instance's trace.
                let span = self.traces.pool(&action);
                let _entered = span.as_ref().map(tracing::Span::enter);
                self.pool.act(action, &self.figures, &mut self.store)
            }
            Effect::Publish(p) => {
                self.traces.publication(&p);
                for o in &mut self.observers {
                    o(&p);
                }
            }
        }
    }

    #[allow(clippy::wrong_self_convention)]
    fn to_device(&mut self, device: DeviceId, epoch: Epoch, mut msg: DeviceMsg) {
        // A grant carries the controller's clock as it leaves (after the
        // commit): the device estimates its clock's offset from it.
        if let DeviceMsg::Fire { sent_us, .. } = &mut msg {
            *sent_us = self.clock.now().0;
        }
        let Some(link) = self.links.get_mut(&device) else {
            self.stats.stale_msgs_dropped += 1;
            return;
        };
        match &msg {
            DeviceMsg::Registered { .. } => {
                link.epoch = Some(epoch);
                for o in &mut self.join_observers {
                    o(device);
                }
            }
            // They name an instance the device may hold from any of its
            // registrations (results buffered while disconnected).
            DeviceMsg::Ack { .. } | DeviceMsg::Cancel { .. } => {}
            _ if link.epoch != Some(epoch) => {
                self.stats.stale_msgs_dropped += 1;
                return;
            }
            _ => {}
        }
        let (payload, traceparent) = match &msg {
            DeviceMsg::RunTask {
                input,
                instance,
                task,
            } => (
                input_bytes(*input, &mut self.store).to_vec(),
                self.traces.dispatch(*instance, *task, device, epoch),
            ),
            // A granted firing is dispatched ahead: the device's run of it
            // joins the instance's trace as a `RunTask`'s does.
            DeviceMsg::Fire { instance, task, .. } => (
                Vec::new(),
                self.traces.dispatch(*instance, *task, device, epoch),
            ),
            _ => (Vec::new(), String::new()),
        };
        self.stats.payload_bytes_out += payload.len() as u64;
        self.stats.device_msgs += 1;
        match link.tx.try_send(Downlink::Device {
            epoch,
            msg,
            payload,
            traceparent,
        }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                // A connection that cannot keep up is closed; the device
                // reconnects and the core's liveness and retries cover the
                // gap. Queueing without bound would stall the controller.
                tracing::warn!(%device, "connection queue full: closing it");
                self.stats.slow_links_closed += 1;
                self.links.remove(&device);
            }
            Err(TrySendError::Closed(_)) => {
                self.links.remove(&device);
            }
        }
    }
}

pub fn journal_path(state_dir: &Path) -> PathBuf {
    state_dir.join("journal")
}

/// Where the result payloads are kept beside the journal.
pub fn payload_log_path(state_dir: &Path) -> PathBuf {
    state_dir.join("payloads.log")
}

fn record_time(r: &Record) -> u64 {
    match r {
        Record::Event { at, .. } | Record::Timeout { at, .. } | Record::DeviceSilent { at, .. } => {
            at.0
        }
        Record::Snapshot(s) => s.state.now.0,
        Record::Genesis(_) => 0,
    }
}
