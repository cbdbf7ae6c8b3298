//! The HiveMind intermediate representation: the one meaning of a mission.
//!
//! [`graph`] is the checked task graph the language front end produces,
//! [`plan`] the placement the synthesizer chooses, [`activation`] the rules
//! that say when and where each task runs (read by the cost model, the
//! synthesizer, the controller and the simulator alike), and [`defaults`]
//! every default a mission may leave unsaid, [`local`] which edges a device
//! runs by itself (device-local chains); [`route`] measures paths
//! through waypoints; [`quantity::Sat`] is the saturating quantity every
//! cost-model figure is computed in.
//!
//! No parser, no solver, no IO: every other crate of the workspace may read
//! this one, and it reads none of them.

pub mod activation;
pub mod defaults;
pub mod graph;
pub mod local;
pub mod plan;
pub mod quantity;
pub mod route;

pub use graph::*;
pub use quantity::Sat;
