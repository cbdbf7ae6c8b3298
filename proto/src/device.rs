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
    /// Fire `task` (a phased periodic source, `ir::activation::fired_on_device`)
    /// by itself at the controller's instant `at_us`, as `instance` (its
    /// local successors at their offsets, as for a `RunTask`): the grant
    /// of one firing, sent ahead of it so no start command is on the path.
    /// `sent_us` is the controller's clock when the message left (the
    /// runtime stamps it as it writes), from which the device estimates
    /// the offset of its own clock. A grant that arrives after `at_us`
    /// fires on arrival.
    Fire {
        task: TaskId,
        instance: InstanceId,
        at_us: u64,
        sent_us: u64,
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

/// A device's part of the plan, sent once per connection (in
/// [`crate::Downlink::Accepted`]): what the agent needs to run the tasks
/// placed on its fleet and to fly the behaviours it will be told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanFragment {
    pub fleet: hivemind_ir::FleetId,
    /// The fleet's home (take-off point, `return home`).
    pub home: PointMm,
    /// How the device moves and what motion costs it (the cost model's
    /// parameters for the fleet).
    pub vehicle: hivemind_vehicle::VehicleParams,
    /// The mission's areas, indexed by `AreaId` (cover and goto name them).
    pub areas: Vec<hivemind_ir::Area>,
    /// The tasks the plan places on this fleet.
    pub tasks: Vec<LocalTask>,
    /// Cores of the device's CPU: attempts beyond this wait their turn.
    pub cores: u32,
    /// What the device's battery pays: CPU power while computing, radio
    /// energy per bit sent or received (the cost model's figures).
    pub cpu_power_mw: u64,
    pub radio_nj_per_bit: u64,
}

/// One task the device may be told to run, with the figures a synthetic
/// function needs to behave as the cost model predicts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalTask {
    pub task: TaskId,
    pub name: String,
    /// The function that implements it (`fn` in the mission, else the
    /// task's name).
    pub function: String,
    /// One warm run on this device, as the cost model predicts it.
    pub service_us: u64,
    /// Bytes of one result that leave the device (0: a control message).
    pub output_bytes: u64,
    /// Items in each result (its output list's stated length, else 1).
    pub items: u32,
    /// The tasks this device starts by itself when an instance of this one
    /// completes (device-local chains, `hivemind_ir::local`), each with the
    /// offset of its instance id from the completed instance's id.
    pub local_successors: Vec<(TaskId, u32)>,
    /// For a join the device runs itself: the producers other than its
    /// pacer, each of which must have completed on this device under the
    /// pacer's registration before the device starts it (else the
    /// controller places it). Empty for every other task.
    pub needs: Vec<TaskId>,
}

/// What a vehicle flies for a behaviour command: the one mapping the
/// simulator and the agent's vehicles share. `None` for an area the
/// mission does not have.
pub fn maneuver(
    cmd: &BehaviourCommand,
    areas: &[hivemind_ir::Area],
    home: PointMm,
) -> Option<hivemind_vehicle::Maneuver> {
    use hivemind_vehicle::Maneuver;
    Some(match cmd {
        BehaviourCommand::Cover {
            area,
            strips,
            lane_mm,
        } => Maneuver::Cover {
            shape: areas.get(area.index())?.shape.clone(),
            strips: strips.iter().map(|s| (s.x_min, s.x_max)).collect(),
            lane_mm: *lane_mm,
        },
        BehaviourCommand::GotoPoint { point } => Maneuver::Goto(*point),
        BehaviourCommand::GotoArea { area } => {
            Maneuver::Goto(area_centre(areas.get(area.index())?))
        }
        BehaviourCommand::Route {
            waypoints,
            looping,
            start_mm,
        } => Maneuver::Route {
            waypoints: waypoints.clone(),
            looping: *looping,
            start_mm: *start_mm,
        },
        BehaviourCommand::ReturnHome => Maneuver::ReturnHome(home),
        BehaviourCommand::Land => Maneuver::Land,
    })
}

/// Centre of an area's bounding box (where `goto AREA` flies).
pub fn area_centre(a: &hivemind_ir::Area) -> PointMm {
    let (lo, hi) = a.shape.bounding_box();
    // The mean of two i64 always fits i64.
    let mid = |a: i64, b: i64| i64::try_from((i128::from(a) + i128::from(b)) / 2).unwrap_or(a);
    PointMm {
        x_mm: mid(lo.x_mm, hi.x_mm),
        y_mm: mid(lo.y_mm, hi.y_mm),
    }
}
