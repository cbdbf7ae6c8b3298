//! Carries out the core's `PoolAction`s with a function backend
//! (`hivemind-functions`): starting a worker is the cold start, invoking a
//! started one is warm, exactly as the core's pool decided. Every outcome
//! comes back to the driver as an [`Input`] and from there to the core as
//! an event (`WorkerReady`, `WorkerExited`, `TaskResult`, `TaskError`).

use crate::driver::Input;
use crate::figures::Figures;
use crate::store::ContentStore;
use bytes::Bytes;
use hivemind_controller::{Handoff, InstanceId, PoolAction, WorkerId};
use hivemind_functions::synthetic::{Clock, SyntheticParams};
use hivemind_functions::{Backend, Request, WarmWorkers, Worker};
use hivemind_ir::TaskId;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::task::AbortHandle;
use tracing::Instrument;

/// How long an invocation may run before the runtime gives up on it (the
/// core's straggler policy relaunches much earlier; this only bounds a
/// function that never returns).
const INVOKE_DEADLINE: Duration = Duration::from_secs(600);

/// What a worker's invocation or start produced.
#[derive(Debug)]
pub enum PoolOutcome {
    Ready {
        worker: WorkerId,
    },
    /// The worker could not start, died, or was stopped.
    Exited {
        worker: WorkerId,
        reason: Option<String>,
    },
    Done {
        worker: WorkerId,
        instance: InstanceId,
        result: Result<(Bytes, u32), String>,
    },
}

/// A validation run's pool: what the real pool does at once takes the
/// time the simulator charges for it (a worker's cold start, a hand-off's
/// fetch from storage or remote memory), so the two runs compare.
#[derive(Debug, Clone)]
pub struct Emulate {
    pub cold_start_us: u64,
    pub cloud: hivemind_sim::physics::CloudPhysics,
    /// Per task: a per-item child's share of its input (1: the whole).
    pub split: Vec<u64>,
}

enum Slot {
    Starting,
    Up(Arc<dyn Worker>),
}

pub struct PoolExec {
    backend: Arc<dyn Backend>,
    handle: Handle,
    inputs: Sender<Input>,
    workers: BTreeMap<WorkerId, Slot>,
    running: BTreeMap<(WorkerId, InstanceId), AbortHandle>,
    guests: Guests,
    /// Synthetic functions wait out their service time instead of burning
    /// a core of this machine: the cloud's cores are modelled, not ours.
    /// Set before the first action: the synthetic parameters of each
    /// task are built once (`invoke_params`).
    pub clock: Clock,
    pub emulate: Option<Emulate>,
    /// Each task's synthetic parameters as sent (a JSON value built once,
    /// not per invocation).
    invoke_params: BTreeMap<TaskId, serde_json::Value>,
}

impl PoolExec {
    pub fn new(backend: Arc<dyn Backend>, handle: Handle, inputs: Sender<Input>) -> PoolExec {
        PoolExec {
            backend,
            handle,
            inputs,
            workers: BTreeMap::new(),
            running: BTreeMap::new(),
            guests: Guests::default(),
            clock: Clock::Sleep,
            emulate: None,
            invoke_params: BTreeMap::new(),
        }
    }

    /// Carry out one action. `store` supplies relayed inputs.
    pub fn act(&mut self, action: PoolAction, figures: &Figures, store: &mut ContentStore) {
        match action {
            PoolAction::StartWorker {
                worker, function, ..
            } => {
                self.workers.insert(worker, Slot::Starting);
                let start = self.backend.start(&function);
                let tx = self.inputs.clone();
                let cold =
                    Duration::from_micros(self.emulate.as_ref().map_or(0, |e| e.cold_start_us));
                self.handle.spawn(async move {
                    tokio::time::sleep(cold).await;
                    let out = match start.await {
                        Ok(w) => Input::WorkerStarted {
                            worker,
                            handle: Arc::from(w),
                        },
                        Err(e) => Input::Pool(PoolOutcome::Exited {
                            worker,
                            reason: Some(e.to_string()),
                        }),
                    };
                    let _ = tx.send(out);
                });
            }
            PoolAction::StopWorker { worker } => {
                let slot = self.workers.remove(&worker);
                let doomed: Vec<_> = self
                    .running
                    .range((worker, InstanceId(0))..=(worker, InstanceId(u64::MAX)))
                    .map(|(k, _)| *k)
                    .collect();
                for k in doomed {
                    if let Some(a) = self.running.remove(&k) {
                        a.abort();
                    }
                }
                let tx = self.inputs.clone();
                let guests = self.guests.clone();
                self.handle.spawn(async move {
                    if let Some(Slot::Up(w)) = slot {
                        w.stop().await;
                    }
                    guests.stop_where(|(p, _)| *p == worker).await;
                    let _ = tx.send(Input::Pool(PoolOutcome::Exited {
                        worker,
                        reason: None,
                    }));
                });
            }
            PoolAction::Invoke {
                worker,
                instance,
                task,
                function,
                input,
                model_version,
            } => {
                let clock = self.clock;
                let params = self.invoke_params.entry(task).or_insert_with(|| {
                    let fig = figures.task(task);
                    SyntheticParams {
                        busy_us: fig.map_or(0, |f| f.service_us),
                        output_bytes: fig.map_or(0, |f| f.output_bytes),
                        output_items: fig.map(|f| f.items),
                        clock,
                        ..SyntheticParams::default()
                    }
                    .to_value()
                });
                let mut req = Request::new(function, task.0, instance.0);
                req.model_version = model_version;
                req.input = input_bytes(input, store);
                req.input_items = u32::from(!req.input.is_empty());
                req.deadline = INVOKE_DEADLINE;
                req.params = params.clone();
                let fetch = self.emulate.as_ref().map_or(0, |e| {
                    let split = e.split.get(task.index()).copied().unwrap_or(1);
                    hivemind_sim::physics::fetch_us(&e.cloud, &input, split)
                });
                self.invoke(worker, instance, req, Duration::from_micros(fetch));
            }
            PoolAction::Train {
                worker,
                job,
                task,
                function,
                samples,
                ops,
            } => {
                let params = SyntheticParams {
                    ops,
                    ops_per_sec: figures.cloud_ops_per_s.max(1),
                    output_bytes: 0,
                    output_items: Some(u32::try_from(samples).unwrap_or(u32::MAX)),
                    clock: self.clock,
                    ..SyntheticParams::default()
                };
                let mut req = Request::new(function, task.0, job.0);
                req.deadline = INVOKE_DEADLINE;
                req.params = params.to_value();
                self.invoke(worker, job, req, Duration::ZERO);
            }
            PoolAction::Cancel { worker, instance } => {
                if let Some(a) = self.running.remove(&(worker, instance)) {
                    a.abort();
                }
            }
            PoolAction::Ack { .. } => {}
        }
    }

    /// Run `req` on the worker after `fetch` (its input's transfer).
    fn invoke(&mut self, worker: WorkerId, instance: InstanceId, req: Request, fetch: Duration) {
        let tx = self.inputs.clone();
        let Some(Slot::Up(w)) = self.workers.get(&worker) else {
            // The core only invokes ready workers; a worker that died
            // meanwhile fails the attempt, and the core retries elsewhere.
            let _ = tx.send(Input::Pool(PoolOutcome::Done {
                worker,
                instance,
                result: Err(format!("worker {worker} is not running")),
            }));
            return;
        };
        // Called inside the runtime: a backend may spawn from `invoke`
        // (a persistent subprocess runs each exchange as its own task),
        // and this driver thread is not a tokio thread.
        let w = w.clone();
        // A child the plan runs in its parent's worker (`InWorker`) names
        // another function: its data stays in this worker's memory, but
        // its code may be another program (a subprocess action), so it
        // runs on a guest worker of its own function, kept warm beside
        // the parent's and stopped with it.
        let guest =
            (w.function() != req.function).then(|| (self.guests.clone(), self.backend.clone()));
        // The driver enters the instance's `invoke` span (if traced) around
        // this call: the invocation runs inside it.
        let span = tracing::Span::current();
        let mut job = Box::pin(
            async move {
                if !fetch.is_zero() {
                    tokio::time::sleep(fetch).await;
                }
                let run = match guest {
                    None => Ok(w),
                    Some((guests, backend)) => {
                        let function = req.function.clone();
                        guests
                            .get((worker, function.clone()), backend.as_ref(), &function)
                            .await
                    }
                };
                let result = hivemind_functions::invoke(run, req).await;
                let _ = tx.send(Input::Pool(PoolOutcome::Done {
                    worker,
                    instance,
                    result,
                }));
            }
            .instrument(span),
        );
        // Polled once here, on the driver's thread: an inline function
        // (`Registry::register_inline`: it returns in microseconds)
        // answers during this call, so its result reaches the driver in
        // the batch that invoked it and joins the same journal commit.
        // Anything that waits goes on to the runtime.
        let polled = {
            let _runtime = self.handle.enter();
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            job.as_mut().poll(&mut cx)
        };
        if polled.is_pending() {
            let task = self.handle.spawn(job);
            self.running.insert((worker, instance), task.abort_handle());
        }
    }

    /// A start finished: the worker takes invocations from now on.
    pub fn started(&mut self, worker: WorkerId, handle: Arc<dyn Worker>) -> bool {
        match self.workers.get_mut(&worker) {
            Some(slot @ Slot::Starting) => {
                *slot = Slot::Up(handle);
                true
            }
            // Stopped while starting: release it.
            _ => {
                self.handle.spawn(async move { handle.stop().await });
                false
            }
        }
    }

    /// An invocation ended (its outcome is on its way to the core).
    pub fn finished(&mut self, worker: WorkerId, instance: InstanceId) {
        self.running.remove(&(worker, instance));
    }

    /// Whether the worker is gone (died under an invocation): the driver
    /// then tells the core it exited.
    pub fn dead(&self, worker: WorkerId) -> bool {
        matches!(self.workers.get(&worker), Some(Slot::Up(w)) if !w.is_alive())
    }

    pub fn forget(&mut self, worker: WorkerId) {
        self.workers.remove(&worker);
    }

    /// Stop every worker (shutdown).
    pub fn stop_all(&mut self) {
        for (_, a) in std::mem::take(&mut self.running) {
            a.abort();
        }
        for (_, slot) in std::mem::take(&mut self.workers) {
            if let Slot::Up(w) = slot {
                self.handle.spawn(async move { w.stop().await });
            }
        }
        let guests = self.guests.clone();
        self.handle
            .spawn(async move { guests.stop_where(|_| true).await });
    }
}

/// Workers of children run beside their parent's worker, by (parent, function).
type Guests = Arc<WarmWorkers<(WorkerId, String)>>;

/// The input bytes of an attempt, from where the core says they are.
pub fn input_bytes(input: Handoff, store: &mut ContentStore) -> Bytes {
    match input {
        Handoff::None | Handoff::Local => Bytes::new(),
        Handoff::Relay { from, .. }
        | Handoff::InWorker { from }
        | Handoff::RemoteMemory { from, .. }
        | Handoff::Storage { from, .. } => store.get(from),
    }
}
