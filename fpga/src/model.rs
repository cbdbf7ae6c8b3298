//! The reference and cycle model of the accelerator: the same state the RTL
//! holds (tables, queues, counters, on-chip memory) and, per packet, the
//! same response bytes at the same cycles. No IO, no clock of its own:
//! callers add up the cycles (the simulator converts them with
//! [`crate::timing`]).

pub(crate) mod engine;
mod tables;

pub use engine::{Outcome, Pipe};
pub use tables::{Conn, Func, Queue, Region, Tables};

use crate::params::HwParams;
use crate::status::CsrError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accelerator {
    tables: Tables,
    mem: Vec<u8>,
    pipe: Pipe,
}

impl Accelerator {
    pub fn new(params: HwParams, variant_id: u8) -> Accelerator {
        Accelerator {
            tables: Tables::new(params, variant_id),
            mem: vec![0; params.mem_bytes() as usize],
            pipe: Pipe::default(),
        }
    }

    pub fn params(&self) -> HwParams {
        self.tables.params
    }

    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// The on-chip memory, word `w` at bytes `w * bus_bytes ..`.
    pub fn memory(&self) -> &[u8] {
        &self.mem
    }

    /// A CSR access; like the testbench's (and a careful host's), it waits
    /// for the engine to drain, so the next packet finds it idle.
    pub fn csr_read(&mut self, addr: u32) -> (u32, CsrError) {
        self.pipe = Pipe::default();
        self.tables.csr_read(addr)
    }

    pub fn csr_write(&mut self, addr: u32, value: u32) -> CsrError {
        self.pipe = Pipe::default();
        self.tables.csr_write(addr, value)
    }

    /// Waits for the engine to drain (a host that waits for each response
    /// before sending the next request): the next packet finds it idle.
    pub fn wait_idle(&mut self) {
        self.pipe = Pipe::default();
    }

    /// Runs one packet: `beats` up to and including the beat with `last`
    /// (the final element), offered right after the previous packet's last
    /// beat (back to back: its timing depends on what the pipeline still
    /// holds of earlier packets). Beats shorter than the bus are
    /// zero-padded, longer ones cut. An empty slice is no packet and
    /// returns `None`.
    pub fn packet(&mut self, beats: &[Vec<u8>]) -> Option<Outcome> {
        if beats.is_empty() {
            return None;
        }
        Some(engine::run(
            &mut self.tables,
            &mut self.mem,
            &mut self.pipe,
            beats,
        ))
    }
}
