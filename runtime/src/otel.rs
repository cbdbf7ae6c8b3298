//! The controller's side of tracing: one trace per task instance.
//!
//! ```text
//! task.instance (root: instance, task)           ends at Completed / Failed
//! ├─ dispatch (device, epoch) ── traceparent ─▶ agent: execute ─▶ result (child of execute)
//! └─ invoke (worker, function)                   a cloud pool invocation
//! ```
//!
//! The core says nothing about tracing (it must stay free of IO); the
//! driver tells [`Traces`] what it carries out and what arrives, and
//! [`Traces`] keeps the open spans. Spans are ordinary `tracing` spans,
//! kept only while this process exports them (`hivemind_otel::exporting`):
//! without an exporter [`Traces`] does nothing (its bookkeeping cost a
//! tenth of the driver's time at 20,000 invocations/s) and the
//! traceparents sent are empty.

use hivemind_controller::{
    DeviceId, Epoch, InstanceId, PoolAction, Publication, TaskGraph, WorkerId,
};
use hivemind_ir::TaskId;
use std::collections::BTreeMap;
use tracing::field::Empty;
use tracing::Span;

/// Open instance spans kept at most; beyond, the oldest (lowest instance
/// id: the core numbers instances in creation order) are ended, so a
/// mission that runs for days does not grow this without bound.
pub const MAX_OPEN: usize = 50_000;

struct Open {
    root: Span,
    /// The attempts sent to devices and not answered yet, by device.
    attempts: BTreeMap<DeviceId, Span>,
}

/// Open spans of the instances in flight.
pub struct Traces {
    /// Whether spans are kept at all (exported).
    on: bool,
    mission: String,
    names: Vec<String>,
    open: BTreeMap<InstanceId, Open>,
}

impl Traces {
    /// Spans kept when this process exports them.
    pub fn new(graph: &TaskGraph) -> Traces {
        Traces::recording(graph, hivemind_otel::exporting())
    }

    /// Spans kept when `on`, whatever this process exports.
    pub fn recording(graph: &TaskGraph, on: bool) -> Traces {
        Traces {
            on,
            mission: graph.mission.clone(),
            names: graph.tasks.iter().map(|t| t.name.clone()).collect(),
            open: BTreeMap::new(),
        }
    }

    fn name(&self, task: TaskId) -> &str {
        self.names
            .get(usize::try_from(task.0).unwrap_or(usize::MAX))
            .map_or("?", String::as_str)
    }

    /// The instance's root span, opened at its first attempt.
    fn instance(&mut self, instance: InstanceId, task: TaskId) -> &mut Open {
        if !self.open.contains_key(&instance) {
            while self.open.len() >= MAX_OPEN {
                if let Some((_, old)) = self.open.pop_first() {
                    old.root.record("hivemind.outcome", "untracked");
                }
            }
            let root = tracing::info_span!(
                parent: None,
                "task.instance",
                otel.name = %self.name(task),
                hivemind.mission = %self.mission,
                hivemind.task = %self.name(task),
                hivemind.instance = hivemind_otel::int(instance.0),
                hivemind.executor = Empty,
                hivemind.latency_us = Empty,
                hivemind.outcome = Empty,
                otel.status_code = Empty,
                otel.status_message = Empty,
            );
            self.open.insert(
                instance,
                Open {
                    root,
                    attempts: BTreeMap::new(),
                },
            );
        }
        // Inserted above when missing.
        self.open
            .get_mut(&instance)
            .unwrap_or_else(|| unreachable!("instance span just opened"))
    }

    /// The core sends an attempt of `instance` to `device`, or grants it
    /// a firing of it: the `traceparent` the `RunTask` or `Fire` frame
    /// carries. (A grant never used — taken back at the end — leaves its
    /// instance span without an outcome.)
    pub fn dispatch(
        &mut self,
        instance: InstanceId,
        task: TaskId,
        device: DeviceId,
        epoch: Epoch,
    ) -> String {
        if !self.on {
            return String::new();
        }
        let name = self.name(task).to_owned();
        let open = self.instance(instance, task);
        let span = tracing::info_span!(
            parent: &open.root,
            "dispatch",
            otel.kind = "producer",
            hivemind.task = %name,
            hivemind.instance = hivemind_otel::int(instance.0),
            hivemind.device = hivemind_otel::int(device.0),
            hivemind.epoch = hivemind_otel::int(epoch.0),
            hivemind.outcome = Empty,
            otel.status_code = Empty,
        );
        let traceparent = hivemind_otel::traceparent(&span);
        // A relaunch on the same device replaces (ends) the older attempt.
        open.attempts.insert(device, span);
        traceparent
    }

    /// The span to carry out a pool action in (`Invoke`, `Train`): the
    /// pool's invocation runs inside it, so its duration is the call's.
    pub fn pool(&mut self, action: &PoolAction) -> Option<Span> {
        if !self.on {
            return None;
        }
        let (instance, task, worker, function, kind) = match action {
            PoolAction::Invoke {
                instance,
                task,
                worker,
                function,
                ..
            } => (*instance, *task, *worker, function, "invoke"),
            PoolAction::Train {
                job,
                task,
                worker,
                function,
                ..
            } => (*job, *task, *worker, function, "train"),
            _ => return None,
        };
        let name = self.name(task).to_owned();
        let open = self.instance(instance, task);
        Some(tracing::info_span!(
            parent: &open.root,
            "invoke",
            hivemind.task = %name,
            hivemind.instance = hivemind_otel::int(instance.0),
            hivemind.worker = hivemind_otel::int(worker.0),
            hivemind.function = %function,
            hivemind.kind = kind,
        ))
    }

    /// A device's result (`Ok(items)`) or error for `instance` arrived,
    /// carrying the agent's `traceparent`.
    pub fn device_answer(
        &mut self,
        instance: InstanceId,
        device: DeviceId,
        traceparent: &str,
        outcome: Result<u32, &str>,
    ) {
        if !self.on {
            return;
        }
        let open = self.open.get_mut(&instance);
        let (attempt, root) = match open {
            Some(o) => (o.attempts.remove(&device), Some(&o.root)),
            None => (None, None),
        };
        if let Some(a) = &attempt {
            a.record(
                "hivemind.outcome",
                if outcome.is_ok() { "ok" } else { "error" },
            );
            if outcome.is_err() {
                a.record("otel.status_code", "ERROR");
            }
        }
        // The arrival, as a child of the agent's span when it sent one (a
        // result replayed after a controller restart still joins the
        // instance's trace that way), else of the instance.
        let span = tracing::info_span!(
            parent: None,
            "result",
            otel.kind = "consumer",
            hivemind.instance = hivemind_otel::int(instance.0),
            hivemind.device = hivemind_otel::int(device.0),
            hivemind.items = Empty,
            hivemind.error = Empty,
            otel.status_code = Empty,
        );
        if !hivemind_otel::set_parent(&span, traceparent) {
            if let Some(root) = root {
                // Falls back to the instance: no agent context came.
                hivemind_otel::adopt(&span, root);
            }
        }
        match outcome {
            Ok(items) => {
                span.record("hivemind.items", hivemind_otel::int(items));
            }
            Err(reason) => {
                span.record("hivemind.error", reason);
                span.record("otel.status_code", "ERROR");
            }
        }
        if let Some(root) = root {
            root.in_scope(|| {
                tracing::info!(
                    hivemind.device = hivemind_otel::int(device.0),
                    ok = outcome.is_ok(),
                    "result arrived"
                )
            });
        }
    }

    /// A pool worker's result or error for `instance` arrived.
    pub fn worker_answer(&mut self, instance: InstanceId, worker: WorkerId, ok: bool) {
        if !self.on {
            return;
        }
        if let Some(o) = self.open.get(&instance) {
            o.root.in_scope(|| {
                tracing::info!(
                    hivemind.worker = hivemind_otel::int(worker.0),
                    ok,
                    "result arrived"
                );
            });
        }
    }

    /// The core's publications end instance spans.
    pub fn publication(&mut self, p: &Publication) {
        if !self.on {
            return;
        }
        match p {
            Publication::Completed {
                instance,
                executor,
                latency_us,
                ..
            } => {
                if let Some(o) = self.close(*instance) {
                    o.root.record("hivemind.executor", executor.to_string());
                    o.root
                        .record("hivemind.latency_us", hivemind_otel::int(*latency_us));
                    o.root.record("hivemind.outcome", "completed");
                }
            }
            Publication::Failed {
                instance, reason, ..
            } => {
                if let Some(o) = self.close(*instance) {
                    o.root.record("hivemind.outcome", "failed");
                    o.root.record("otel.status_code", "ERROR");
                    o.root.record("otel.status_message", reason.as_str());
                }
            }
            Publication::Relaunched { instance, .. } => {
                if let Some(o) = self.open.get(instance) {
                    o.root.in_scope(|| tracing::info!("relaunched (straggler)"));
                }
            }
            _ => {}
        }
    }

    fn close(&mut self, instance: InstanceId) -> Option<Open> {
        self.open.remove(&instance)
    }

    /// Instances whose span is open (for tests and stats).
    pub fn open_instances(&self) -> usize {
        self.open.len()
    }
}
