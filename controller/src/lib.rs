//! HiveMind controller core: a sans-IO state machine that executes a
//! [`Plan`] of a [`TaskGraph`] across a fleet of devices and a serverless
//! function pool.
//!
//! # Driving the core
//!
//! The seam has the quinn-proto shape: inputs go in through `handle*`,
//! outputs come out through `poll_*`; the core never reads a clock or does
//! IO, so the network runtime and the simulator drive the same code.
//!
//! ```text
//! let mut c = Controller::new(Config::default(), graph, plan, seed)?;
//! loop {
//!     while let Some(effect) = c.poll_effect() { carry it out }
//!     match (next input, c.poll_timeout()) {
//!         input first  => c.handle(now, event),   // device, worker, operator
//!         deadline first => c.handle_timeout(deadline),
//!     }
//! }
//! ```
//!
//! * Inputs are [`Event`]s: device joined/left, heartbeat, telemetry, task
//!   result/error, worker ready/exited, operator command.
//! * Outputs are [`Effect`]s grouped by destination: `Journal` (a record
//!   to make durable), `Device` (a [`DeviceMsg`] for one registration of a
//!   device: registered, run task, behave, cancel, ack, resync), `Pool` (a
//!   [`PoolAction`]: start/stop worker, invoke, cancel, ack) and `Publish`
//!   (telemetry and progress).
//! * Time: [`Controller::poll_timeout`] gives the earliest deadline of the
//!   core's own timer table; [`Controller::handle_timeout`] fires every
//!   timer due at or before `now`, in (deadline, arming order). `now` is
//!   virtual time ([`Micros`]) given by the driver; randomness comes from a
//!   seed. No threads, sockets, clocks or global RNG inside (clippy enforces
//!   the clock and RNG bans, see `clippy.toml`).
//! * **Journal before acknowledgement**: the first effect of handling an
//!   event (or a timer that changes state) is its journal record. A driver
//!   must make journal records durable before carrying out any later effect
//!   (group commit is fine: write all records of a batch, fsync once, then
//!   the rest). Heartbeats and the timer table are soft state and are not
//!   journaled; a liveness failure is journaled as the decision
//!   (`Record::DeviceSilent`), a timer that changes state as
//!   `Record::Timeout`.
//! * **Recovery**: [`Controller::recover`] rebuilds the exact journaled
//!   state from the records ([`journal::Journal`] reads them back,
//!   truncating a torn tail), rebuilds the timer table from that state,
//!   gives every device a grace period (seen at recovery time, so nobody
//!   is declared failed because the controller was down) and queues the
//!   resync (live attempts re-sent; receivers treat them idempotently).
//! * **Idempotency**: a result is recorded once per instance id; later ones
//!   (a straggler's loser, a replay after reconnect) are acked and counted
//!   as duplicates.
//! * [`Controller::report`] gives the [`MissionReport`].
//!
//! The simulator (`hivemind-sim`) drives this core in a modelled world;
//! the core's scenario, property and crash tests live there.

pub mod attempts;
pub mod config;
pub mod core;
mod crc32;
pub mod devtable;
pub mod effect;
pub mod event;
pub mod geometry;
mod handoff;
pub mod histogram;
pub mod ids;
pub mod idtable;
pub mod journal;
pub mod load_index;
pub mod pool;
pub mod record;
pub mod report;
pub mod rng;
pub mod time;
pub mod timer;

pub use crate::core::{Controller, Phase, RecoverError, SetupError};
pub use config::{Config, PoolConfig};
pub use effect::{BehaviourCommand, DeviceMsg, Effect, Handoff, Publication};
pub use event::{Command, Event};
pub use hivemind_ir::plan::Plan;
pub use hivemind_ir::TaskGraph;
pub use ids::{DeviceId, Epoch, Executor, InstanceId, WorkerId};
pub use pool::PoolAction;
pub use record::Record;
pub use report::MissionReport;
pub use time::Micros;
pub use timer::Timer;

/// Checksum used by journal frames, exposed for tools that inspect journals.
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32::crc32(bytes)
}
