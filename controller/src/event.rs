//! What the driver tells the core. Every event is journaled before any effect
//! that acknowledges it, so events are plain serde data.

use crate::ids::{DeviceId, Epoch, Executor, InstanceId, WorkerId};
use hivemind_ir::{FleetId, PointMm};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    /// A device registered (first time or after a failure/disconnect). The
    /// core gives it a new epoch.
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
    TimerFired {
        timer: Timer,
    },
    Operator {
        command: Command,
    },
}

/// Timers the core asks for with `Effect::SetTimer`. Timers are idempotent
/// and may be stale; the core re-checks its state when one fires, so a
/// driver may deliver them late or more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Timer {
    /// Liveness scan and pool autoscaling.
    Tick,
    /// Next activation of a periodic task.
    Periodic { task: u32 },
    /// Check whether attempt `attempt` of an instance is a straggler.
    Straggler { instance: InstanceId, attempt: u32 },
    /// Backoff of a failed instance is over.
    Retry { instance: InstanceId },
    /// An idle worker's keep-alive ran out.
    KeepAlive { worker: WorkerId },
    /// Planned mission end.
    MissionEnd,
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
