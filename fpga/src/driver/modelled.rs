//! The hardware path as the simulator sees it: every call becomes a real
//! request packet run through the cycle model; the response is decoded and
//! the engine cycles are added up.

use super::{Csr, Dispatch, RemoteMemory, RpcOffload, RpcRequest};
use crate::model::Accelerator;
use crate::packet::{self, Op, Request, Target, CAS_BYTES};
use crate::params::HwParams;
use crate::status::{CsrError, Status};

#[derive(Debug, Clone)]
pub struct ModelledFabric {
    acc: Accelerator,
    next_req: u32,
    cycles: u64,
}

impl ModelledFabric {
    pub fn new(params: HwParams, variant_id: u8) -> ModelledFabric {
        ModelledFabric {
            acc: Accelerator::new(params, variant_id),
            next_req: 0,
            cycles: 0,
        }
    }

    pub fn accelerator(&self) -> &Accelerator {
        &self.acc
    }

    /// Engine cycles spent on all packets so far, each call waiting for the
    /// previous one's response (the sum of their latencies).
    pub fn cycles(&self) -> u64 {
        self.cycles
    }

    /// Sends one request; returns the status and the response data bytes.
    fn call(&mut self, req: Request, payload: &[u8]) -> (Status, Vec<u8>, u128) {
        let bb = self.acc.params().bus_bytes();
        let beats = packet::to_beats(req.encode(), payload, bb);
        // A driver call waits for its response: requests never overlap in
        // the pipeline, and each costs its full latency.
        self.acc.wait_idle();
        let Some(out) = self.acc.packet(&beats) else {
            return (Status::BadHeader, Vec::new(), 0);
        };
        self.cycles += u64::from(out.latency());
        let hb = self.acc.params().header_beats() as usize;
        let mut hbytes = [0u8; 16];
        let take = (bb as usize).min(16);
        for (i, b) in out.response.iter().take(hb).enumerate() {
            hbytes[i * take..i * take + take].copy_from_slice(&b[..take]);
        }
        let header = u128::from_le_bytes(hbytes);
        let data_len = packet::R_LEN.get(header) as usize;
        let mut data: Vec<u8> = out.response.iter().skip(hb).flatten().copied().collect();
        data.truncate(data_len);
        (out.status, data, header)
    }

    fn req_id(&mut self) -> u32 {
        self.next_req = self.next_req.wrapping_add(1);
        self.next_req
    }

    fn mem(&mut self, op: Op, conn: u16, region: u8, offset: u32, len: u32) -> Request {
        Request {
            op: op.code(),
            flags: 0,
            conn,
            req_id: self.req_id(),
            target: Target::Memory { region, offset },
            len,
        }
    }
}

impl Csr for ModelledFabric {
    fn csr_write(&mut self, addr: u32, value: u32) -> CsrError {
        self.acc.csr_write(addr, value)
    }
    fn csr_read(&mut self, addr: u32) -> (u32, CsrError) {
        self.acc.csr_read(addr)
    }
}

fn ok(status: Status) -> Result<(), Status> {
    if status == Status::Ok {
        Ok(())
    } else {
        Err(status)
    }
}

impl RemoteMemory for ModelledFabric {
    fn read(&mut self, conn: u16, region: u8, offset: u32, len: u32) -> Result<Vec<u8>, Status> {
        let req = self.mem(Op::Read, conn, region, offset, len);
        let (status, data, _) = self.call(req, &[]);
        ok(status).map(|()| data)
    }

    fn write(&mut self, conn: u16, region: u8, offset: u32, data: &[u8]) -> Result<(), Status> {
        let len = u32::try_from(data.len()).map_err(|_| Status::BadLength)?;
        let req = self.mem(Op::Write, conn, region, offset, len);
        ok(self.call(req, data).0)
    }

    fn compare_and_swap(
        &mut self,
        conn: u16,
        region: u8,
        offset: u32,
        expected: u64,
        new: u64,
    ) -> Result<u64, Status> {
        let req = self.mem(Op::Cas, conn, region, offset, CAS_BYTES);
        let mut payload = expected.to_le_bytes().to_vec();
        payload.extend_from_slice(&new.to_le_bytes());
        let (status, data, _) = self.call(req, &payload);
        ok(status)?;
        let mut old = [0u8; 8];
        for (o, b) in old.iter_mut().zip(&data) {
            *o = *b;
        }
        Ok(u64::from_le_bytes(old))
    }
}

impl RpcOffload for ModelledFabric {
    fn submit(
        &mut self,
        conn: u16,
        func: u16,
        req_id: u32,
        payload: &[u8],
    ) -> Result<Dispatch, Status> {
        let len = u32::try_from(payload.len()).map_err(|_| Status::BadLength)?;
        let req = Request {
            op: Op::Rpc.code(),
            flags: 0,
            conn,
            req_id,
            target: Target::Function(func),
            len,
        };
        let (status, _, header) = self.call(req, payload);
        ok(status)?;
        Ok(Dispatch {
            queue: packet::R_QUEUE.get(header) as u16,
            slot: packet::R_SLOT.get(header) as u16,
        })
    }

    fn pop(&mut self, queue: u16) -> Option<RpcRequest> {
        let req = super::read_slot(self.acc.tables(), self.acc.memory(), queue)?;
        self.acc.csr_write(super::q_status_addr(queue), 0);
        Some(req)
    }
}
