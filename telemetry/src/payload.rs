//! The JSON payloads, one struct per topic (documented for third-party
//! subscribers in `docs/telemetry.md`).
//!
//! These are output formats, not configuration: decoding ignores unknown
//! fields so that a subscriber built against this version keeps working
//! when fields are added. Times are microseconds since the mission started
//! (`t_us`), the controller's clock.

use crate::topic::{ControllerChannel, DeviceChannel, Topic};
use serde::{Deserialize, Serialize};

/// A payload with its place in the topic schema.
pub trait Message: Serialize {
    /// The topic this message goes to, given the mission level already
    /// encoded by [`crate::topic::segment`].
    fn topic_in(&self, mission_segment: &str) -> Topic;

    /// The topic for a mission name.
    fn topic(&self, mission: &str) -> Topic {
        self.topic_in(&crate::topic::segment(mission))
    }
}

/// A point in the mission's plane, millimetres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionMm {
    pub x: i64,
    pub y: i64,
}

/// `hivemind/<mission>/<device>/telemetry`, QoS 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Telemetry {
    pub device: String,
    pub position_mm: PositionMm,
    /// Energy left in the battery, µJ.
    pub battery_uj: u64,
    pub t_us: u64,
}

/// A device's membership in the swarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceState {
    Joined,
    Failed,
    Left,
}

/// `hivemind/<mission>/<device>/status`, QoS 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub device: String,
    pub state: DeviceState,
    /// Why, when known ("silent for 3 s", "battery reserve reached").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub t_us: u64,
}

/// `hivemind/<mission>/<device>/result`, QoS 1: one task instance finished
/// on this device (or in the cloud on its behalf).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskResult {
    pub device: String,
    /// The task instance id: unique per mission, the idempotency key.
    pub instance: u64,
    pub task: String,
    /// From the instance's activation to its result.
    pub latency_us: u64,
    pub ok: bool,
    pub t_us: u64,
}

/// `hivemind/<mission>/controller/progress`, QoS 1: counts of task
/// instances so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub completed: u64,
    pub failed: u64,
    pub running: u64,
    pub t_us: u64,
}

/// `hivemind/<mission>/controller/events`, QoS 1: what the controller did
/// about faults, and the mission's end. Tagged by `"event"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A straggling (or lost) instance was launched again; the first
    /// result wins.
    Relaunch {
        t_us: u64,
        instance: u64,
        task: String,
        /// Where the new copy runs, when it is a device.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<String>,
        reason: String,
    },
    /// A failed device's work was split among the fleet's survivors.
    Repartition {
        t_us: u64,
        fleet: String,
        failed_device: String,
        survivors: u32,
    },
    /// Every device of a fleet is gone.
    FleetLost {
        t_us: u64,
        fleet: String,
    },
    MissionFinished {
        t_us: u64,
    },
    MissionAborted {
        t_us: u64,
        reason: String,
    },
}

impl Message for Telemetry {
    fn topic_in(&self, m: &str) -> Topic {
        Topic::device_in(m, &self.device, DeviceChannel::Telemetry)
    }
}

impl Message for Status {
    fn topic_in(&self, m: &str) -> Topic {
        Topic::device_in(m, &self.device, DeviceChannel::Status)
    }
}

impl Message for TaskResult {
    fn topic_in(&self, m: &str) -> Topic {
        Topic::device_in(m, &self.device, DeviceChannel::Result)
    }
}

impl Message for Progress {
    fn topic_in(&self, m: &str) -> Topic {
        Topic::controller_in(m, ControllerChannel::Progress)
    }
}

impl Message for Event {
    fn topic_in(&self, m: &str) -> Topic {
        Topic::controller_in(m, ControllerChannel::Events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The JSON shapes `docs/telemetry.md` promises.
    #[test]
    fn documented_shapes() {
        let t = Telemetry {
            device: "drone-3".into(),
            position_mm: PositionMm { x: 12_500, y: -300 },
            battery_uj: 59_940_000_000,
            t_us: 1_000_000,
        };
        assert_eq!(
            serde_json::to_value(&t).unwrap_or_default(),
            json!({"device":"drone-3","position_mm":{"x":12500,"y":-300},"battery_uj":59940000000u64,"t_us":1000000})
        );
        let s = Status {
            device: "car-1".into(),
            state: DeviceState::Failed,
            reason: Some("silent for 3 s".into()),
            t_us: 7,
        };
        assert_eq!(
            serde_json::to_value(&s).unwrap_or_default(),
            json!({"device":"car-1","state":"failed","reason":"silent for 3 s","t_us":7})
        );
        let e = Event::Repartition {
            t_us: 9,
            fleet: "drones".into(),
            failed_device: "drone-3".into(),
            survivors: 15,
        };
        assert_eq!(
            serde_json::to_value(&e).unwrap_or_default(),
            json!({"event":"repartition","t_us":9,"fleet":"drones","failed_device":"drone-3","survivors":15})
        );
        assert_eq!(
            serde_json::to_value(Event::MissionFinished { t_us: 1 }).unwrap_or_default(),
            json!({"event":"mission_finished","t_us":1})
        );
        assert_eq!(
            t.topic("trees").as_str(),
            "hivemind/trees/drone-3/telemetry"
        );
        assert_eq!(
            e.topic("trees").as_str(),
            "hivemind/trees/controller/events"
        );
    }

    #[test]
    fn decoding_bad_payloads_is_an_error() {
        for bad in [
            "",
            "{",
            "null",
            r#"{"device":"d","state":"exploded","t_us":1}"#,
            r#"{"device":"d","state":"joined"}"#,
            r#"{"device":"d","state":"joined","t_us":-1}"#,
        ] {
            assert!(serde_json::from_str::<Status>(bad).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<Event>(r#"{"event":"meteor","t_us":1}"#).is_err());
        // Fields added later are ignored.
        let p: Progress =
            serde_json::from_str(r#"{"completed":1,"failed":0,"running":2,"t_us":3,"queued":4}"#)
                .unwrap_or(Progress {
                    completed: 0,
                    failed: 0,
                    running: 0,
                    t_us: 0,
                });
        assert_eq!(p.running, 2);
    }
}
