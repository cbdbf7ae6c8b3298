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
pub mod throughput;
pub mod topic;
pub mod url;

pub use broker::{BrokerError, EmbeddedBroker, EmbeddedConfig};
pub use bus::{Bus, BusConfig, BusError, PublishError, Stats};
pub use payload::{
    DeviceState, Event, Message, PositionMm, Progress, Status, TaskResult, Telemetry,
};
pub use topic::{ControllerChannel, DeviceChannel, Qos, Topic};
pub use url::{BrokerChoice, BrokerUrl, UrlError};

/// Why [`start`] failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// The usual start-up: the embedded broker when chosen (kept alive by the
/// returned handle's owner; it runs until the process exits) and a bus
/// publishing `mission` to it or to the external broker.
pub fn start(
    choice: &BrokerChoice,
    mission: &str,
    embedded: &EmbeddedConfig,
    bus: BusConfig,
) -> Result<(Bus, Option<EmbeddedBroker>), StartError> {
    match choice {
        BrokerChoice::Embedded => {
            let broker = EmbeddedBroker::start(embedded)?;
            let bus = Bus::connect(&broker.url(), mission, bus)?;
            Ok((bus, Some(broker)))
        }
        BrokerChoice::External(url) => Ok((Bus::connect(url, mission, bus)?, None)),
    }
}
