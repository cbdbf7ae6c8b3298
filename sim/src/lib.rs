//! HiveMind swarm simulator: the one simulated world.
//!
//! A seeded discrete-event engine drives the real controller core through
//! its public seam (`handle`, `handle_timeout` at `poll_timeout`,
//! `poll_effect`) — the same calls the network runtime makes — with
//! modelled devices, links, processors and workers in place of the
//! network, the vehicles and the clock. Same seed and inputs, same run.

pub mod agenda;
pub mod cpu;
pub mod faults;
pub mod mission;
pub mod physics;
pub mod plot;
pub mod radio;
pub mod scale;
pub mod smallmap;
pub mod world;

pub use mission::{simulate, Injected, Progress, SimError, SimOptions, StrategyRun};
pub use physics::Physics;
pub use world::{
    simple_assignment, simple_plan, DeviceUsage, Input, Observed, Timing, World, WorldConfig,
};
