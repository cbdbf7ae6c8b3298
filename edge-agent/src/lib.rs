//! `hive-agent`, the program on a vehicle, as a library (the binary is a
//! thin CLI over [`agent::run`]; tests run agents in-process or as
//! processes).
//!
//! * [`agent`]: the controller link (QUIC with the device's certificate,
//!   Hello, heartbeats at the period the controller gives, telemetry),
//!   running the tasks the plan puts on the device with the same function
//!   trait as the cloud (`hivemind-functions`), flying the vehicle model in
//!   real time, reconnecting with backoff.
//! * [`config`]: the `[agent]` table of a deployment file and the
//!   `HIVEMIND_AGENT_*` variables (flags > variables > file > defaults).
//! * [`otel`]: each task runs in a span that continues the controller's
//!   trace (`traceparent` in the frames); export via `hivemind-otel`.
//! * [`outbox`]: results on disk until acknowledged (no loss across
//!   disconnects and restarts; replays are deduplicated by the controller).
//!
//! **Must not depend on** the controller core, the simulator, the language
//! crate or the synthesizer: what it needs of the plan arrives over the
//! wire (`hivemind_proto::PlanFragment`).

pub mod agent;
pub mod config;
pub mod firing;
pub mod otel;
pub mod outbox;

pub use agent::{run, AgentConfig, AgentStats};
