//! What the core asks its driver to do, grouped by destination:
//!
//! * [`Effect::Journal`]: append a record to the journal. A driver makes
//!   every journal record durable before it carries out any later effect
//!   (group commit: one fsync for all records of a batch, then the rest).
//!   The record of an event (or of a timer that changed state) is the first
//!   effect of its handling, so nothing that acknowledges it can leave
//!   before it is durable.
//! * [`Effect::Device`]: a [`DeviceMsg`] for one registration (`epoch`) of a
//!   device — its registration, tasks, behaviours, cancels, acks, resyncs.
//!   The epoch names the connection it is for: a runtime drops a message
//!   for a registration the device has since replaced, and sends a
//!   `Resync` over the stale one that spoke.
//! * [`Effect::Pool`]: a [`PoolAction`] for the serverless function pool —
//!   start/stop workers, invoke, cancel, ack.
//! * [`Effect::Publish`]: telemetry and progress for observers (MQTT,
//!   dashboards); nothing waits for it.
//!
//! Timers are not effects: the core keeps its own timer table
//! ([`crate::Controller::poll_timeout`] / [`crate::Controller::handle_timeout`]).

use crate::geometry::Strip;
use crate::ids::{DeviceId, Epoch, Executor, InstanceId};
use crate::record::Record;
use hivemind_ir::{AreaId, FleetId, PointMm, TaskId};
use serde::{Deserialize, Serialize};

pub use crate::handoff::Handoff;
pub use crate::pool::PoolAction;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Append to the journal; durable before any later effect is carried out.
    Journal(Record),
    /// A message for `device`, addressed to its registration `epoch`.
    Device {
        device: DeviceId,
        epoch: Epoch,
        msg: DeviceMsg,
    },
    /// An action on the function pool.
    Pool(PoolAction),
    /// Telemetry or progress for observers.
    Publish(Publication),
}

impl Effect {
    /// Stop an attempt, told to whoever runs it (a device registration or
    /// a worker): another attempt's result won, or it no longer owns it.
    pub fn cancel(executor: Executor, instance: InstanceId) -> Effect {
        match executor {
            Executor::Device { device, epoch } => Effect::Device {
                device,
                epoch,
                msg: DeviceMsg::Cancel { instance },
            },
            Executor::Worker { worker } => Effect::Pool(PoolAction::Cancel { worker, instance }),
        }
    }

    /// The attempt's result is recorded, told to whoever sent it.
    pub fn ack(executor: Executor, instance: InstanceId) -> Effect {
        match executor {
            Executor::Device { device, epoch } => Effect::Device {
                device,
                epoch,
                msg: DeviceMsg::Ack { instance },
            },
            Executor::Worker { worker } => Effect::Pool(PoolAction::Ack { worker, instance }),
        }
    }
}

/// A message for one registration of a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceMsg {
    /// The registration is accepted: speak with the envelope's epoch from
    /// now on and send a heartbeat every `heartbeat_period_us`.
    Registered { heartbeat_period_us: u64 },
    /// Run an attempt of `instance`.
    RunTask {
        instance: InstanceId,
        task: TaskId,
        input: Handoff,
    },
    /// A swarm behaviour; replaces the previous one.
    Behave(BehaviourCommand),
    /// Stop the attempt of `instance`: another attempt's result won, or the
    /// device no longer owns it.
    Cancel { instance: InstanceId },
    /// The result of `instance` is recorded; the device may forget it.
    Ack { instance: InstanceId },
    /// The device spoke with an epoch the core no longer accepts: register
    /// again.
    Resync,
    /// Download and load version `version` of `task`'s model (`bytes`
    /// over the downlink); answer `Event::ModelLoaded`, and tag results of
    /// the task with the version that produced them.
    Model {
        task: TaskId,
        version: u32,
        bytes: u64,
    },
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
    /// Fly `waypoints` in order (then hold at the last), or around them
    /// forever when `looping`, starting `start_mm` along the path (devices
    /// of a patrolling fleet start evenly spaced).
    Route {
        waypoints: Vec<PointMm>,
        looping: bool,
        start_mm: u64,
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
    /// The last device of a fleet in service failed: its waiting work can
    /// only run if a device rejoins; at the end it fails with this reason.
    FleetLost {
        fleet: FleetId,
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
    /// Training job `job` produced version `version` of `task`'s model.
    ModelTrained {
        job: InstanceId,
        task: TaskId,
        version: u32,
        samples: u64,
    },
    MissionFinished,
    MissionAborted {
        reason: String,
    },
}
