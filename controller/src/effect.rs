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

use crate::ids::{DeviceId, Epoch, Executor, InstanceId};
use crate::record::Record;
use hivemind_ir::{AreaId, FleetId, PointMm, TaskId};
use serde::{Deserialize, Serialize};

pub use crate::handoff::Handoff;
pub use crate::pool::PoolAction;
pub use hivemind_proto::{BehaviourCommand, DeviceMsg};

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
    /// A firing its device made by itself (`DeviceMsg::Fire`) was lost
    /// with the device (out of service before it reported): no other
    /// device can take its reading. Counted as lost, unless the device
    /// reports it later after all.
    Lost {
        instance: InstanceId,
        task: TaskId,
        device: DeviceId,
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
