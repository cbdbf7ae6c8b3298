//! The driver interface the controller and the network runtime program
//! against, and its two implementations: [`SoftwareFabric`], the fallback
//! used when no FPGA is present (plain memory, the same checks, the same
//! memory layout and queue choices), and [`ModelledFabric`], which drives
//! the cycle model with real packets and adds up the cycles it takes — what
//! the simulator uses to time the hardware path.

mod modelled;
mod software;

pub use modelled::ModelledFabric;
pub use software::SoftwareFabric;

use crate::status::{CsrError, Status};

/// Where an accepted RPC was put.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dispatch {
    pub queue: u16,
    pub slot: u16,
}

/// An RPC taken off a queue by a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcRequest {
    pub req_id: u32,
    pub conn: u16,
    pub payload: Vec<u8>,
}

/// Soft reconfiguration: the register map (see `regs`).
pub trait Csr {
    fn csr_write(&mut self, addr: u32, value: u32) -> CsrError;
    fn csr_read(&mut self, addr: u32) -> (u32, CsrError);
}

/// One-sided remote memory between functions, by region id + byte offset.
/// Errors are the response status codes of the specification.
pub trait RemoteMemory {
    fn read(&mut self, conn: u16, region: u8, offset: u32, len: u32) -> Result<Vec<u8>, Status>;
    fn write(&mut self, conn: u16, region: u8, offset: u32, data: &[u8]) -> Result<(), Status>;
    /// Stores `new` if the 8 bytes at `offset` equal `expected`; returns
    /// the value found.
    fn compare_and_swap(
        &mut self,
        conn: u16,
        region: u8,
        offset: u32,
        expected: u64,
        new: u64,
    ) -> Result<u64, Status>;
}

/// RPC offload: header parsing, connection check, load balancing to the
/// function's queues.
pub trait RpcOffload {
    fn submit(
        &mut self,
        conn: u16,
        func: u16,
        req_id: u32,
        payload: &[u8],
    ) -> Result<Dispatch, Status>;
    /// Takes the oldest RPC of `queue` (its slot is freed), if any.
    fn pop(&mut self, queue: u16) -> Option<RpcRequest>;
}

/// Reads the head slot of a queue out of accelerator memory.
pub(crate) fn read_slot(
    tables: &crate::model::Tables,
    mem: &[u8],
    queue: u16,
) -> Option<RpcRequest> {
    let q = tables.queues.get(usize::from(queue))?;
    if q.count == 0 {
        return None;
    }
    let p = tables.params;
    let bb = p.bus_bytes() as usize;
    let words = u64::from(p.mem_words());
    let addr = (u64::from(q.base) + (u64::from(q.head) << tables.slot_shift)) % words;
    let at = addr as usize * bb;
    let desc = mem.get(at..at + 8)?;
    let req_id = u32::from_le_bytes([desc[0], desc[1], desc[2], desc[3]]);
    let conn = u16::from_le_bytes([desc[4], desc[5]]);
    let len = usize::from(u16::from_le_bytes([desc[6], desc[7]]));
    let mut payload = Vec::with_capacity(len);
    let mut w = addr + 1;
    while payload.len() < len {
        let at = (w % words) as usize * bb;
        let take = (len - payload.len()).min(bb);
        payload.extend_from_slice(mem.get(at..at + take)?);
        w += 1;
    }
    Some(RpcRequest {
        req_id,
        conn,
        payload,
    })
}

/// CSR address of queue `q`'s status register (a write pops it).
pub(crate) fn q_status_addr(queue: u16) -> u32 {
    crate::regmap::Q_STATUS.offset + crate::regmap::Q_STATUS.stride * u32::from(queue)
}
