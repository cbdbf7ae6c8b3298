//! HiveMind controller core: a sans-IO state machine that executes a
//! [`Plan`] of a [`TaskGraph`] across a fleet of devices and a serverless
//! function pool.
//!
//! # Driving the core
//!
//! ```text
//! let mut c = Controller::new(Config::default(), graph, plan, seed)?;
//! loop {
//!     while let Some(effect) = c.poll_effect() { carry it out }
//!     let (now, event) = next input (device message, worker message,
//!                                    a timer the core asked for, operator);
//!     c.handle(now, event);
//! }
//! ```
//!
//! * Inputs are [`Event`]s: device joined/left, heartbeat, telemetry, task
//!   result/error, worker ready/exited, timer fired, operator command.
//! * Outputs are [`Effect`]s: write a journal record, send a task to a
//!   device, give a device a behaviour (cover strips, go to, return, land),
//!   cancel/ack an attempt, invoke a function, start/stop a worker, set a
//!   timer, publish telemetry or progress.
//! * `now` is virtual time ([`Micros`]) given by the driver; randomness comes
//!   from a seed. No threads, sockets, clocks or global RNG inside (clippy
//!   enforces the clock and RNG bans, see `clippy.toml`).
//! * **Journal before acknowledgement**: the first effect of every `handle`
//!   is `WriteJournal` of the event. A driver must make journal records
//!   durable before carrying out any later effect (group commit is fine:
//!   write all records of a batch, fsync once, then the rest).
//! * **Recovery**: [`Controller::recover`] rebuilds the exact state from the
//!   records ([`journal::Journal`] reads them back, truncating a torn tail)
//!   and queues resync effects (timers, re-sent live attempts).
//! * **Idempotency**: a result is recorded once per instance id; later ones
//!   (a straggler's loser, a replay after reconnect) are acked and counted
//!   as duplicates.
//! * [`Controller::report`] gives the [`MissionReport`].
//!
//! [`testkit::World`] is a small deterministic world (devices, workers,
//! timers) used by the tests and the benchmark; the full simulator is the
//! `sim` crate.

pub mod config;
pub mod core;
mod crc32;
pub mod effect;
pub mod event;
pub mod geometry;
pub mod histogram;
pub mod ids;
pub mod journal;
pub mod pool;
pub mod record;
pub mod report;
pub mod rng;
pub mod testkit;
pub mod time;

pub use crate::core::{Controller, Phase, RecoverError, SetupError};
pub use config::{Config, PoolConfig};
pub use effect::{BehaviourCommand, Effect, Handoff, Publication};
pub use event::{Command, Event, Timer};
pub use hivemind_ir::plan::Plan;
pub use hivemind_ir::TaskGraph;
pub use ids::{DeviceId, Epoch, Executor, InstanceId, WorkerId};
pub use record::Record;
pub use report::MissionReport;
pub use time::Micros;

/// Checksum used by journal frames, exposed for tools that inspect journals.
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32::crc32(bytes)
}
