//! HiveMind's MQTT telemetry bus.
//!
//! Owns the topic schema (`hivemind/<mission>/<device>/{telemetry,status,result}`,
//! `hivemind/<mission>/controller/{progress,events}`, names encoded by
//! [`topic::segment`]), the JSON payloads ([`Telemetry`], [`Status`],
//! [`TaskResult`], [`Progress`], [`Event`]), a publisher ([`Bus`]) that
//! never blocks its caller and reconnects by itself, and an embedded broker
//! ([`EmbeddedBroker`], rumqttd). Any other MQTT 3.1.1 broker works by URL
//! ([`BrokerUrl`], `mqtt://host:port`). `docs/telemetry.md` documents the
//! schema for third-party subscribers.
//!
//! **Must not depend on** the controller core, the simulator, the language
//! crate or the synthesizer: the runtime maps the core's publications onto
//! this API, and the core never sees MQTT.

pub mod broker;
pub mod bus;
pub mod payload;
pub mod topic;
pub mod url;

pub use broker::{BrokerError, EmbeddedBroker, EmbeddedConfig};
pub use bus::{Bus, BusConfig, BusError, PublishError, Stats};
pub use payload::{
    DeviceState, Event, Message, PositionMm, Progress, Status, TaskResult, Telemetry,
};
pub use topic::{ControllerChannel, DeviceChannel, Qos, Topic};
pub use url::{BrokerUrl, UrlError};
