//! What the core asks its driver to do, in order. A driver must make every
//! `WriteJournal` durable before it carries out any later effect (group
//! commit: one fsync for all records of a batch, then the other effects).

use crate::event::Timer;
use crate::geometry::Strip;
use crate::ids::{DeviceId, Epoch, Executor, InstanceId, WorkerId};
use crate::record::Record;
use hivemind_ir::{AreaId, PointMm, TaskId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    WriteJournal(Record),
    SendTask {
        device: DeviceId,
        epoch: Epoch,
        instance: InstanceId,
        task: TaskId,
        input: Handoff,
    },
    /// A swarm behaviour for the device; replaces its previous one.
    Behave {
        device: DeviceId,
        epoch: Epoch,
        command: BehaviourCommand,
    },
    /// Stop an attempt that lost (another attempt's result won) or whose
    /// device/worker no longer owns it.
    Cancel {
        executor: Executor,
        instance: InstanceId,
    },
    /// The result is recorded; the sender may forget it.
    Ack {
        executor: Executor,
        instance: InstanceId,
    },
    Invoke {
        worker: WorkerId,
        instance: InstanceId,
        task: TaskId,
        function: String,
        input: Handoff,
    },
    /// Start a worker (a cold start) for `function` on a server core.
    StartWorker {
        worker: WorkerId,
        function: String,
        server: u32,
        core: u32,
    },
    StopWorker {
        worker: WorkerId,
    },
    SetTimer {
        at: crate::Micros,
        timer: Timer,
    },
    /// The device spoke with an epoch the core no longer accepts: tell it to
    /// register again.
    Resync {
        device: DeviceId,
    },
    Publish(Publication),
}

/// How an instance gets its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Handoff {
    /// No input (a source task) or only an ordering edge.
    None,
    /// Produced on this same device.
    Local,
    /// From another device or from the cloud, relayed by the controller.
    Relay { from: InstanceId, bytes: u64 },
    /// The child runs in its parent's worker: an in-memory hand-off.
    InWorker { from: InstanceId },
    /// Through FPGA remote memory, keyed by the producing instance.
    RemoteMemory { from: InstanceId, bytes: u64 },
    /// Through storage (the serverless default).
    Storage { from: InstanceId, bytes: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BehaviourCommand {
    /// Sweep these strips in lanes of `lane_mm`.
    Cover {
        area: AreaId,
        strips: Vec<Strip>,
        lane_mm: u64,
    },
    GotoPoint {
        point: PointMm,
    },
    GotoArea {
        area: AreaId,
    },
    ReturnHome,
    Land,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Publication {
    Telemetry {
        device: DeviceId,
        position: PointMm,
        battery_uj: u64,
    },
    Completed {
        instance: InstanceId,
        task: TaskId,
        executor: Executor,
        latency_us: u64,
    },
    Failed {
        instance: InstanceId,
        task: TaskId,
        reason: String,
    },
    DeviceFailed {
        device: DeviceId,
        epoch: Epoch,
        reason: String,
    },
    Relaunched {
        instance: InstanceId,
        task: TaskId,
    },
    Repartitioned {
        area: AreaId,
        reason: String,
    },
    MissionFinished,
    MissionAborted {
        reason: String,
    },
}
