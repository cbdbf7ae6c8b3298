//! What the controller tells one registration of a device: the core
//! produces these ([`DeviceMsg`]) and the agent carries them out. They live
//! here, below the core, because both ends of the wire read them.

use crate::handoff::Handoff;
use crate::ids::InstanceId;
use hivemind_ir::{AreaId, PointMm, TaskId};
use serde::{Deserialize, Serialize};

/// One device's share of a `cover` area: the x-range `[x_min, x_max]` of
/// the area it sweeps in lanes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Strip {
    pub area: AreaId,
    pub x_min: i64,
    pub x_max: i64,
}

impl Strip {
    /// Saturating: a strip read off the wire may hold any integers.
    pub fn width(&self) -> i64 {
        self.x_max.saturating_sub(self.x_min)
    }
    pub fn centre_x(&self) -> i64 {
        self.x_min.saturating_add(self.width() / 2)
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
