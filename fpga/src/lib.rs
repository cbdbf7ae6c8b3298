//! HiveMind FPGA accelerator: RPC offload and one-sided remote memory.
//!
//! The specification is `fpga/README.md`. This crate is its one source of
//! truth in code: the register map ([`regmap`]), packet layouts
//! ([`packet`]), status codes ([`status`]) and build variants ([`params`]),
//! from which [`generate`] writes the RTL include and driver constants; the
//! reference and cycle model ([`model`]) that the RTL is tested against; the
//! latency figures ([`timing`]); and the driver interface with its software
//! fallback ([`driver`]). A leaf crate: no IO runtime, nothing of the
//! workspace but the IR.

pub mod driver;
pub mod generate;
pub mod model;
pub mod packet;
pub mod params;
pub mod regmap;
#[rustfmt::skip]
pub mod regs;
pub mod status;
pub mod timing;
pub mod vectors;

pub use model::{Accelerator, Outcome};
pub use params::{HwParams, Variant, VARIANTS};
pub use status::{CsrError, Status};

use hivemind_ir::TaskGraph;

/// Whether the mission asks for the FPGA modality at all.
pub fn mission_wants_fpga(graph: &TaskGraph) -> bool {
    graph.cloud.as_ref().is_some_and(|c| c.fpga)
}
