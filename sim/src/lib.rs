//! HiveMind deterministic discrete-event simulator.
//!
//! Placeholder crate: the simulator arrives with its own issue and will drive
//! the real controller core. It reads missions only through the IR.

use hivemind_ir::TaskGraph;

/// Total number of devices the simulator would model for `graph`.
pub fn device_count(graph: &TaskGraph) -> u64 {
    graph.fleets.iter().map(|f| u64::from(f.count)).sum()
}
