//! The HiveMind cost model: the one source of latency, energy, money and
//! bytes for a placement. The synthesizer encodes its numbers for z3; the
//! exhaustive oracle, the greedy heuristic, the reports and the simulator
//! evaluate them directly. No solver and no IO here.

pub mod coverage;
pub mod learning;
pub mod model;
pub mod predict;
pub mod profile;

pub use coverage::{coverage, coverage_with, Coverage, Sweep};
pub use learning::RetrainCost;
pub use model::*;
pub use predict::{baseline, plan_for, predicted, profile_hash};
pub use profile::{
    FpgaProfile, FpgaVariant, Profile, ProfileError, RuntimeProfile, FPGA_RPC_ARGUMENT_BYTES,
};
