//! HiveMind FPGA accelerator: RPC offload and remote memory.
//!
//! Placeholder crate: the register map, cycle model and RTL arrive with the
//! FPGA issue. It reads the mission's cloud description from the IR only.

use hivemind_ir::TaskGraph;

/// Whether the mission asks for the FPGA modality at all.
pub fn mission_wants_fpga(graph: &TaskGraph) -> bool {
    graph.cloud.as_ref().is_some_and(|c| c.fpga)
}
