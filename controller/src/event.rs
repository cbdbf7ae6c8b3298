//! What the driver tells the core. Every event except a heartbeat is
//! journaled before any effect that acknowledges it, so events are plain
//! serde data. Heartbeats only feed liveness, which is soft state: a
//! recovered core gives every device a grace period instead.

use crate::ids::{DeviceId, Epoch, Executor, InstanceId, WorkerId};
use hivemind_ir::{FleetId, PointMm, TaskId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    /// A device registered (first time or after a failure/disconnect). The
    /// core gives it a new epoch and answers `DeviceMsg::Registered`.
    DeviceJoined {
        device: DeviceId,
        fleet: FleetId,
        battery_uj: u64,
        position: PointMm,
    },
    /// A device said goodbye (landing, shutdown).
    DeviceLeft {
        device: DeviceId,
        epoch: Epoch,
    },
    /// Not journaled (liveness is soft state).
    Heartbeat {
        device: DeviceId,
        epoch: Epoch,
    },
    Telemetry {
        device: DeviceId,
        epoch: Epoch,
        position: PointMm,
        battery_uj: u64,
    },
    /// A result of one attempt; `items` is the list length of the output
    /// (drives per-item fan-out), `bytes` what was sent.
    TaskResult {
        instance: InstanceId,
        executor: Executor,
        items: u32,
        bytes: u64,
        /// The version of the task's retrained model that produced it (0:
        /// the original model, or a task without learning; journals written
        /// before learning had an effect read as 0).
        #[serde(default)]
        model_version: u32,
    },
    /// A device finished loading version `version` of `task`'s model
    /// (answering `DeviceMsg::Model`).
    ModelLoaded {
        device: DeviceId,
        epoch: Epoch,
        task: TaskId,
        version: u32,
    },
    TaskError {
        instance: InstanceId,
        executor: Executor,
        reason: String,
    },
    /// A cold-starting worker finished starting.
    WorkerReady {
        worker: WorkerId,
    },
    /// A worker ended (stopped on request, or crashed).
    WorkerExited {
        worker: WorkerId,
    },
    Operator {
        command: Command,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    /// Begin the mission with the devices registered so far.
    Start,
    /// Stop starting new activations; finish the work in progress.
    Stop,
    Abort {
        reason: String,
    },
}
