//! The agent's life: connect, register, heartbeat, run what the controller
//! says, fly the vehicle, report — and survive disconnects, controller
//! restarts and its own restarts without losing a result.
//!
//! One *session* per connection. Across sessions the agent keeps its
//! vehicle, its running tasks (they finish while disconnected; their
//! results go to the [`Outbox`] first, then on the wire), its warm
//! function workers and its loaded models. Every result is on disk before
//! it is sent and leaves the disk only when the controller acknowledges
//! it; a new session replays whatever is left (the controller records a
//! result once per instance, so replays are harmless).

use crate::firing::{Due, Firings};
use crate::otel;
use crate::outbox::Outbox;
use anyhow::{bail, Context, Result};
use hivemind_functions::synthetic::{Clock, SyntheticParams};
use hivemind_functions::{Backend, Request, WarmWorkers};
use hivemind_ir::TaskId;
use hivemind_ir::{DeviceClass, PointMm};
use hivemind_net::frame::{FrameReader, FrameWriter};
use hivemind_net::quic;
use hivemind_net::tls::ClientIdentity;
use hivemind_proto::wire::{clip_reason, decode_downlink, encode_uplink, MAX_FRAME_BYTES};
use hivemind_proto::{
    device::maneuver, DeviceId, DeviceMsg, Downlink, Epoch, Handoff, Hello, InstanceId,
    PlanFragment, Uplink,
};
use hivemind_vehicle::{Maneuver, Vehicle, VehicleParams};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tracing::Instrument;

#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub controller: SocketAddr,
    /// The name the controller's certificate is checked against.
    pub server_name: String,
    pub device: DeviceId,
    pub fleet: String,
    pub mission: String,
    /// Holds the outbox (results not yet acknowledged).
    pub state_dir: PathBuf,
    /// Where pushed model versions are written.
    pub model_dir: Option<PathBuf>,
    /// Where the vehicle starts (its fleet's home when not given).
    pub position: Option<PointMm>,
    /// Used for the battery in the first Hello, before the controller
    /// sends the fleet's vehicle parameters.
    pub class: DeviceClass,
    /// Longest wait between reconnection attempts.
    pub max_backoff: Duration,
    /// Exit when the controller says the mission is over (else reconnect).
    pub exit_when_done: bool,
    /// Give up after this long without any successful session (None: never).
    pub give_up_after: Option<Duration>,
}

/// What happened to the agent, for its exit status and tests.
#[derive(Debug, Clone, Default)]
pub struct AgentStats {
    pub sessions: u32,
    pub tasks_run: u64,
    pub results_sent: u64,
    pub results_replayed: u64,
    pub acks: u64,
    /// Local successors this device started by itself (device-local chains).
    pub local_runs: u64,
    /// Firings of sources it fires by itself, on the controller's grants.
    pub fired: u64,
    pub behaviours: u64,
    pub models_loaded: u64,
}

type Workers = Arc<WarmWorkers<String>>;

struct Done {
    instance: InstanceId,
    epoch: Epoch,
    task: hivemind_ir::TaskId,
    outcome: std::result::Result<(bytes::Bytes, u32), String>,
    /// For the answer's frame (empty: not traced).
    traceparent: String,
}

/// State kept across sessions.
struct Agent {
    cfg: AgentConfig,
    backend: Arc<dyn Backend>,
    identity: Arc<ClientIdentity>,
    outbox: Outbox,
    fragment: Option<PlanFragment>,
    vehicle: Option<Vehicle>,
    born: Instant,
    workers: Workers,
    /// Attempts running, by instance and the registration they run for
    /// (a local successor started under an old registration may meet the
    /// same instance sent again under the new one).
    running: BTreeMap<(InstanceId, Epoch), AbortHandle>,
    done_tx: mpsc::UnboundedSender<Done>,
    done_rx: mpsc::UnboundedReceiver<Done>,
    /// The device's cores: attempts beyond them wait (FIFO), as on a real
    /// CPU and in the simulator.
    cores: Arc<tokio::sync::Semaphore>,
    stats: AgentStats,
    /// The tasks that completed under the newest registration seen in a
    /// result: what a join run on the device needs (`LocalTask::needs`).
    delivered: (Option<Epoch>, BTreeSet<TaskId>),
    /// Firings granted to this device, due at the controller's instants.
    firings: Firings,
    /// Half the connection's round trip (µs): the one-way delay taken off
    /// the clock offset the grants show.
    one_way_us: u64,
}

enum SessionEnd {
    /// The mission is over (the controller said so).
    Finished,
    /// Try again (with backoff unless `now`).
    Retry { reason: String, now: bool },
}

pub async fn run(
    cfg: AgentConfig,
    identity: ClientIdentity,
    backend: Arc<dyn Backend>,
) -> Result<AgentStats> {
    let outbox = Outbox::open(&cfg.state_dir.join("outbox"))?;
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let mut agent = Agent {
        cfg,
        backend,
        identity: Arc::new(identity),
        outbox,
        fragment: None,
        vehicle: None,
        born: Instant::now(),
        workers: Workers::default(),
        running: BTreeMap::new(),
        done_tx,
        done_rx,
        cores: Arc::new(tokio::sync::Semaphore::new(1)),
        stats: AgentStats::default(),
        delivered: (None, BTreeSet::new()),
        firings: Firings::default(),
        one_way_us: 0,
    };
    let mut backoff = Duration::from_millis(100);
    // The last moment the agent had an accepted session (or started).
    let mut last_ok = Instant::now();
    loop {
        let before = agent.stats.sessions;
        let end = agent.session().await;
        if agent.stats.sessions > before {
            last_ok = Instant::now();
        }
        match end {
            Ok(SessionEnd::Finished) => {
                if agent.cfg.exit_when_done {
                    tracing::info!(device = %agent.cfg.device, "the controller ended the mission: leaving");
                    return Ok(agent.stats);
                }
                backoff = Duration::from_millis(500);
            }
            Ok(SessionEnd::Retry { reason, now }) => {
                tracing::info!(device = %agent.cfg.device, "session ended: {reason}");
                if now {
                    backoff = Duration::from_millis(100);
                    continue;
                }
            }
            Err(e) => return Err(e),
        }
        if let Some(limit) = agent.cfg.give_up_after {
            if last_ok.elapsed() > limit {
                bail!("no session with the controller for {limit:?}: giving up");
            }
        }
        // Results that finished meanwhile go to disk while we wait.
        agent.bank_finished();
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(agent.cfg.max_backoff);
    }
}

impl Agent {
    fn now_us(&self) -> u64 {
        u64::try_from(self.born.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    fn battery_uj(&mut self) -> u64 {
        let now = self.now_us();
        match &mut self.vehicle {
            Some(v) => {
                v.advance(now);
                v.battery_uj()
            }
            None => VehicleParams::of(self.cfg.class).battery_uj,
        }
    }

    fn position(&mut self) -> PointMm {
        let now = self.now_us();
        match &mut self.vehicle {
            Some(v) => {
                v.advance(now);
                v.position()
            }
            None => self.cfg.position.unwrap_or(PointMm { x_mm: 0, y_mm: 0 }),
        }
    }

    /// The battery pays for what the vehicle model does not see: compute
    /// and radio.
    fn spend(&mut self, uj: u64) {
        let now = self.now_us();
        if let Some(v) = &mut self.vehicle {
            v.advance(now);
            v.drain_uj(uj);
        }
    }

    /// Radio energy of `bytes` sent or received.
    fn radio_uj(&self, bytes: usize) -> u64 {
        let nj = self.fragment.as_ref().map_or(0, |f| f.radio_nj_per_bit);
        u64::try_from(bytes as u128 * 8 * u128::from(nj) / 1_000).unwrap_or(u64::MAX)
    }

    /// Finished tasks whose result has not been written yet: write them.
    fn bank_finished(&mut self) {
        while let Ok(d) = self.done_rx.try_recv() {
            let _ = self.record(d);
        }
    }

    /// A finished task: its result to disk (errors are reported live only),
    /// then its local successors started (`hivemind_ir::local`): the result
    /// is queued first, so the controller hears of the parent before any
    /// child, and the chain goes on while the controller is out of reach.
    fn record(&mut self, d: Done) -> Option<Uplink> {
        self.running.remove(&(d.instance, d.epoch));
        match d.outcome {
            Ok((payload, items)) => {
                let next = self
                    .fragment
                    .as_ref()
                    .and_then(|f| f.tasks.iter().find(|t| t.task == d.task))
                    .map(|t| t.local_successors.clone())
                    .unwrap_or_default();
                self.delivered_under(d.epoch, d.task);
                self.spend(self.radio_uj(payload.len()));
                let msg = Uplink::Result {
                    epoch: d.epoch,
                    instance: d.instance,
                    items,
                    model_version: 0,
                    payload: payload.to_vec(),
                    traceparent: d.traceparent,
                };
                if let Err(e) = self.outbox.put(d.instance, &msg) {
                    tracing::error!("cannot buffer the result of {}: {e}", d.instance);
                }
                for (task, off) in next {
                    let Some(id) = d.instance.0.checked_add(u64::from(off)) else {
                        continue;
                    };
                    if !self.ready_under(d.epoch, task) {
                        // A join whose other inputs are not all here: the
                        // controller places it (it knows it too).
                        continue;
                    }
                    self.stats.local_runs += 1;
                    let tp = match &msg {
                        Uplink::Result { traceparent, .. } => traceparent.clone(),
                        _ => String::new(),
                    };
                    self.run_task(
                        d.epoch,
                        InstanceId(id),
                        task,
                        Handoff::Local,
                        payload.to_vec(),
                        &tp,
                    );
                }
                Some(msg)
            }
            Err(reason) => Some(Uplink::Error {
                epoch: d.epoch,
                instance: d.instance,
                reason: clip_reason(&reason),
                traceparent: d.traceparent,
            }),
        }
    }

    /// `task` completed under registration `epoch` (an older
    /// registration's completions no longer count).
    fn delivered_under(&mut self, epoch: Epoch, task: TaskId) {
        let (current, tasks) = &mut self.delivered;
        match *current {
            Some(e) if e > epoch => return,
            Some(e) if e == epoch => {}
            _ => {
                *current = Some(epoch);
                tasks.clear();
            }
        }
        tasks.insert(task);
    }

    /// Whether a local successor `task` may start under `epoch`: a join
    /// needs each of its other producers completed under that epoch.
    fn ready_under(&self, epoch: Epoch, task: TaskId) -> bool {
        let needs = self
            .fragment
            .as_ref()
            .and_then(|f| f.tasks.iter().find(|t| t.task == task))
            .map_or(&[][..], |t| t.needs.as_slice());
        needs.is_empty()
            || (self.delivered.0 == Some(epoch)
                && needs.iter().all(|n| self.delivered.1.contains(n)))
    }

    async fn session(&mut self) -> Result<SessionEnd> {
        let endpoint = quic::client("0.0.0.0:0".parse().context("bind address")?, &self.identity)
            .context("QUIC client endpoint")?;
        let conn = match quic::connect(
            &endpoint,
            self.cfg.controller,
            &self.cfg.server_name,
            Duration::from_secs(5),
        )
        .await
        {
            Ok(c) => c,
            Err(e) => {
                return Ok(SessionEnd::Retry {
                    reason: e.to_string(),
                    now: false,
                })
            }
        };
        let (send, recv) = match conn.open_bi().await {
            Ok(s) => s,
            Err(e) => {
                return Ok(SessionEnd::Retry {
                    reason: e.to_string(),
                    now: false,
                })
            }
        };
        let max = u32::try_from(MAX_FRAME_BYTES).unwrap_or(u32::MAX);
        let mut reader = FrameReader::with_max_frame(recv, max);
        let writer = FrameWriter::with_max_frame(send, max);
        let (out_tx, out_rx) = mpsc::unbounded_channel::<Uplink>();
        let writer_task = tokio::spawn(write_frames(writer, out_rx));

        let (battery, position) = (self.battery_uj(), self.position());
        let mut hello = Hello::new(
            self.cfg.device,
            &self.cfg.mission,
            &self.cfg.fleet,
            battery,
            position,
        );
        hello.buffered_results = u32::try_from(self.outbox.len()).unwrap_or(u32::MAX);
        let _ = out_tx.send(Uplink::Hello(hello));

        let mut end = self.converse(&mut reader, &out_tx, &conn).await;
        let closed = closed_by(&conn);
        if let (Ok(SessionEnd::Retry { .. }), Some((code, why))) = (&end, &closed) {
            tracing::info!(device = %self.cfg.device, code, "the controller closed the connection: {why}");
        }
        match closed {
            Some((CLOSE_REFUSED, reason)) => {
                end = Err(anyhow::anyhow!(
                    "the controller refused this agent: {reason}"
                ));
            }
            // The shutdown frame may be lost in the close; the close says it too.
            Some((CLOSE_MISSION_OVER, _)) if matches!(end, Ok(SessionEnd::Retry { .. })) => {
                end = Ok(SessionEnd::Finished);
            }
            _ => {}
        }
        drop(out_tx);
        // Let queued frames (a goodbye, last results) go out.
        let _ = tokio::time::timeout(Duration::from_millis(500), writer_task).await;
        conn.close(0u32.into(), b"session over");
        endpoint.close(0u32.into(), b"");
        end
    }

    async fn converse(
        &mut self,
        reader: &mut FrameReader<quinn::RecvStream>,
        out: &mpsc::UnboundedSender<Uplink>,
        conn: &quinn::Connection,
    ) -> Result<SessionEnd> {
        // The handshake: Accepted (with our plan fragment) or Refused.
        let first = match tokio::time::timeout(Duration::from_secs(10), reader.read_frame()).await {
            Ok(Ok(Some(b))) => b,
            Ok(Ok(None)) => {
                return Ok(SessionEnd::Retry {
                    reason: "closed before accepting".into(),
                    now: false,
                })
            }
            Ok(Err(e)) => {
                return Ok(SessionEnd::Retry {
                    reason: e.to_string(),
                    now: false,
                })
            }
            Err(_) => {
                return Ok(SessionEnd::Retry {
                    reason: "no answer to hello".into(),
                    now: false,
                })
            }
        };
        match decode_downlink(&first) {
            Ok(Downlink::Accepted {
                fragment, version, ..
            }) => {
                tracing::info!(device = %self.cfg.device, version, "accepted by the controller");
                self.adopt(*fragment);
            }
            Ok(Downlink::Refused { reason }) => {
                bail!("the controller refused this agent: {reason}")
            }
            Ok(Downlink::Shutdown { reason }) => {
                return Ok(SessionEnd::Retry { reason, now: false })
            }
            Ok(other) => bail!(
                "protocol error: expected accepted, got {}",
                other.kind_name()
            ),
            Err(e) => bail!("protocol error: {e}"),
        }
        self.stats.sessions += 1;
        // Replay what the controller has not acknowledged.
        for msg in self.outbox.pending()? {
            self.stats.results_replayed += 1;
            let _ = out.send(msg);
        }
        let mut epoch: Option<Epoch> = None;
        let mut heartbeat = tokio::time::interval(Duration::from_secs(1));
        let mut telemetry = tokio::time::interval(Duration::from_secs(1));
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        telemetry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // One timer for the next granted firing, moved only when that
        // changes (not re-armed on every frame); the one-way delay is read
        // from the connection at each heartbeat.
        self.one_way_us = one_way_us(conn);
        let fire = tokio::time::sleep(Duration::from_secs(3600));
        tokio::pin!(fire);
        let mut armed: Option<u64> = None;
        loop {
            let due = self.firings.next_due_us(self.one_way_us);
            if due != armed {
                if let Some(us) = due {
                    let early = us.saturating_sub(TIMER_TICK_US);
                    let at = self.born + Duration::from_micros(early);
                    fire.as_mut().reset(tokio::time::Instant::from_std(at));
                }
                armed = due;
            }
            tokio::select! {
                _ = &mut fire, if armed.is_some() => {
                    armed = None;
                    self.fire_due();
                }
                frame = reader.read_frame() => {
                    let bytes = match frame {
                        Ok(Some(b)) => b,
                        Ok(None) => return Ok(SessionEnd::Retry { reason: "controller closed the stream".into(), now: false }),
                        Err(e) => return Ok(SessionEnd::Retry { reason: e.to_string(), now: false }),
                    };
                    let msg = match decode_downlink(&bytes) {
                        Ok(m) => m,
                        Err(e) => return Ok(SessionEnd::Retry { reason: format!("bad frame from the controller: {e}"), now: false }),
                    };
                    match msg {
                        Downlink::Device { epoch: e, msg, payload, traceparent } => {
                            if let Some(end) = self.device_msg(e, msg, (payload, traceparent), &mut epoch, out, &mut heartbeat) {
                                return Ok(end);
                            }
                        }
                        Downlink::Shutdown { reason } => {
                            let done = reason.contains("finished") || reason.contains("aborted");
                            if done {
                                if let Some(e) = epoch {
                                    let _ = out.send(Uplink::Goodbye { epoch: e });
                                }
                                return Ok(SessionEnd::Finished);
                            }
                            return Ok(SessionEnd::Retry { reason, now: false });
                        }
                        Downlink::Accepted { .. } | Downlink::Refused { .. } => {
                            return Ok(SessionEnd::Retry { reason: "unexpected handshake frame".into(), now: false });
                        }
                    }
                }
                Some(d) = self.done_rx.recv() => {
                    if let Some(msg) = self.record(d) {
                        if matches!(msg, Uplink::Result { .. }) {
                            self.stats.results_sent += 1;
                        }
                        let _ = out.send(msg);
                    }
                }
                _ = heartbeat.tick() => {
                    self.one_way_us = one_way_us(conn);
                    if let Some(e) = epoch {
                        let _ = out.send(Uplink::Heartbeat { epoch: e });
                    }
                }
                _ = telemetry.tick() => {
                    if let Some(e) = epoch {
                        let (position, battery_uj) = (self.position(), self.battery_uj());
                        let _ = out.send(Uplink::Telemetry { epoch: e, position, battery_uj });
                    }
                }
            }
        }
    }

    /// The controller's plan fragment: build the vehicle the first time.
    fn adopt(&mut self, fragment: PlanFragment) {
        if self.vehicle.is_none() {
            let start = self.cfg.position.unwrap_or(fragment.home);
            match Vehicle::new(fragment.vehicle, start) {
                Ok(mut v) => {
                    // A drone is airborne for the mission, hovering until
                    // told otherwise (as the cost model and simulator assume).
                    if fragment.vehicle.class == DeviceClass::Drone {
                        let _ = v.command(self.now_us(), Maneuver::Goto(start));
                    }
                    self.vehicle = Some(v);
                }
                Err(e) => tracing::error!("the controller's vehicle parameters are refused: {e}"),
            }
        }
        if self.fragment.as_ref().map(|f| f.cores) != Some(fragment.cores) {
            self.cores = Arc::new(tokio::sync::Semaphore::new(
                fragment.cores.clamp(1, 1024) as usize
            ));
        }
        self.fragment = Some(fragment);
    }

    fn device_msg(
        &mut self,
        e: Epoch,
        msg: DeviceMsg,
        (payload, traceparent): (Vec<u8>, String),
        epoch: &mut Option<Epoch>,
        out: &mpsc::UnboundedSender<Uplink>,
        heartbeat: &mut tokio::time::Interval,
    ) -> Option<SessionEnd> {
        match msg {
            DeviceMsg::Registered {
                heartbeat_period_us,
            } => {
                *epoch = Some(e);
                let now = self.now_us();
                self.firings.keep_epoch(e, now, self.one_way_us);
                let period = Duration::from_micros(heartbeat_period_us.clamp(10_000, 60_000_000));
                *heartbeat = tokio::time::interval(period);
                heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                tracing::info!(device = %self.cfg.device, epoch = e.0, "registered");
            }
            DeviceMsg::RunTask {
                instance,
                task,
                input,
            } => {
                if *epoch != Some(e) || self.running.contains_key(&(instance, e)) {
                    return None;
                }
                self.run_task(e, instance, task, input, payload, &traceparent);
            }
            DeviceMsg::Behave(cmd) => {
                if *epoch != Some(e) {
                    return None;
                }
                self.stats.behaviours += 1;
                let now = self.now_us();
                if let (Some(f), Some(v)) = (&self.fragment, &mut self.vehicle) {
                    match maneuver(&cmd, &f.areas, f.home) {
                        Some(m) => {
                            if let Err(err) = v.command(now, m) {
                                tracing::warn!("behaviour refused by the vehicle: {err}");
                            }
                        }
                        None => tracing::warn!("behaviour names an area the mission lacks"),
                    }
                }
            }
            DeviceMsg::Cancel { instance } => {
                if let Some(a) = self.running.remove(&(instance, e)) {
                    a.abort();
                }
                self.firings.cancel(instance);
            }
            DeviceMsg::Fire {
                task,
                instance,
                at_us,
                sent_us,
            } => {
                if *epoch != Some(e) {
                    return None;
                }
                let due = Due {
                    epoch: e,
                    instance,
                    task,
                    traceparent,
                };
                let now = self.now_us();
                self.firings.grant(due, at_us, sent_us, now);
            }
            DeviceMsg::Ack { instance } => {
                self.stats.acks += 1;
                self.outbox.ack(instance);
            }
            DeviceMsg::Resync => {
                return Some(SessionEnd::Retry {
                    reason: "controller asked to resync".into(),
                    now: true,
                })
            }
            DeviceMsg::Model {
                task,
                version,
                bytes,
            } => {
                if let Some(dir) = &self.cfg.model_dir {
                    let path = dir.join(format!("task-{}-v{version}.json", task.0));
                    let text = format!(
                        "{{\"task\":{},\"version\":{version},\"bytes\":{bytes}}}\n",
                        task.0
                    );
                    if let Err(err) =
                        std::fs::create_dir_all(dir).and_then(|_| std::fs::write(&path, text))
                    {
                        tracing::error!("cannot store model {}: {err}", path.display());
                    }
                }
                self.stats.models_loaded += 1;
                let _ = out.send(Uplink::ModelLoaded {
                    epoch: e,
                    task,
                    version,
                });
            }
        }
        None
    }

    /// Start the granted firings that are due (each as a `RunTask` of its
    /// registration, with no input).
    fn fire_due(&mut self) {
        let now = self.now_us().saturating_add(TIMER_TICK_US);
        for f in self.firings.take_due(now, self.one_way_us) {
            if self.running.contains_key(&(f.instance, f.epoch)) {
                continue;
            }
            self.stats.fired += 1;
            self.run_task(
                f.epoch,
                f.instance,
                f.task,
                Handoff::None,
                Vec::new(),
                &f.traceparent,
            );
        }
    }

    fn run_task(
        &mut self,
        epoch: Epoch,
        instance: InstanceId,
        task: hivemind_ir::TaskId,
        input: Handoff,
        payload: Vec<u8>,
        traceparent: &str,
    ) {
        let Some(local) = self
            .fragment
            .as_ref()
            .and_then(|f| f.tasks.iter().find(|t| t.task == task))
            .cloned()
        else {
            let _ = self.done_tx.send(Done {
                instance,
                epoch,
                task,
                outcome: Err(format!("task {} is not placed on this fleet", task.0)),
                traceparent: traceparent.to_owned(),
            });
            return;
        };
        self.stats.tasks_run += 1;
        let cpu_mw = self.fragment.as_ref().map_or(0, |f| f.cpu_power_mw);
        let cpu_uj = u64::try_from(u128::from(cpu_mw) * u128::from(local.service_us) / 1_000)
            .unwrap_or(u64::MAX);
        self.spend(cpu_uj.saturating_add(self.radio_uj(payload.len())));
        let span = otel::execute_span(self.cfg.device, epoch, instance, &local, traceparent);
        let answer_tp = otel::answer_traceparent(&span, traceparent);
        let params = SyntheticParams {
            busy_us: local.service_us,
            output_bytes: local.output_bytes,
            output_items: Some(local.items),
            clock: Clock::Sleep,
            ..SyntheticParams::default()
        };
        let mut req = Request::new(local.function.clone(), task.0, instance.0);
        req.input_items = u32::from(!payload.is_empty() || matches!(input, Handoff::Local));
        req.input = payload.into();
        req.deadline = Duration::from_secs(600);
        req.params = params.to_value();
        let workers = self.workers.clone();
        let backend = self.backend.clone();
        let done = self.done_tx.clone();
        let function = local.function;
        let cores = self.cores.clone();
        let handle = tokio::spawn(
            async move {
                // Closed only if the agent is going away: run anyway.
                let _core = cores.acquire_owned().await.ok();
                let worker = workers
                    .get(function.clone(), backend.as_ref(), &function)
                    .await;
                let outcome = hivemind_functions::invoke(worker, req).await;
                otel::record_outcome(&tracing::Span::current(), &outcome);
                let _ = done.send(Done {
                    instance,
                    epoch,
                    task,
                    outcome,
                    traceparent: answer_tp,
                });
            }
            .instrument(span),
        );
        self.running
            .insert((instance, epoch), handle.abort_handle());
    }
}

/// Half the connection's round trip (µs): the one-way delay taken off the
/// clock offset the grants show.
fn one_way_us(conn: &quinn::Connection) -> u64 {
    u64::try_from(conn.rtt().as_micros() / 2).unwrap_or(u64::MAX)
}

/// tokio's timer wheel ticks in milliseconds and wakes a sleep at the
/// first tick after its deadline (about a millisecond late). The
/// firing timer is armed a tick early and fires what is due within a
/// tick, so a firing starts about on its instant instead of a
/// millisecond after it (S6's 16 ms path in `hivemind validate`).
const TIMER_TICK_US: u64 = 1_000;

/// The controller's application close codes
/// (`hivemind_runtime::server::close`): a refusal, with the reason as
/// text, and the end of the mission.
const CLOSE_REFUSED: u64 = 0x12;
const CLOSE_MISSION_OVER: u64 = 0x14;

/// How the controller closed the connection, if it did: code and reason.
fn closed_by(conn: &quinn::Connection) -> Option<(u64, String)> {
    match conn.close_reason()? {
        quinn::ConnectionError::ApplicationClosed(c) => Some((
            c.error_code.into_inner(),
            String::from_utf8_lossy(&c.reason).into_owned(),
        )),
        _ => None,
    }
}

/// Messages written to the stream in one batch at most (results that
/// finish together, a replay after reconnect).
const BATCH: usize = 256;

/// Writes what is queued, batched: every message ready when the writer
/// wakes goes out in one write (completions are reported in batches).
async fn write_frames(
    mut writer: FrameWriter<quinn::SendStream>,
    mut rx: mpsc::UnboundedReceiver<Uplink>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let frames: Vec<Vec<u8>> = batch
            .drain(..)
            .filter_map(|msg| match encode_uplink(&msg) {
                Ok(b) => Some(b),
                Err(e) => {
                    tracing::error!("cannot encode {}: {e}", msg.kind_name());
                    None
                }
            })
            .collect();
        if writer
            .write_frames(frames.iter().map(Vec::as_slice))
            .await
            .is_err()
        {
            return;
        }
    }
    let _ = writer.flush().await;
}
