//! The software fallback: the accelerator's semantics on plain memory, with
//! no packets and no cycle accounting. It shares the tables, the checks and
//! the memory layout with the model, so a function handing data to another
//! sees the same results with or without the FPGA.

use super::{Csr, Dispatch, RemoteMemory, RpcOffload, RpcRequest};
use crate::model::engine::{self, Decision};
use crate::model::Tables;
use crate::packet::{Op, Request, Target, CAS_BYTES};
use crate::params::HwParams;
use crate::status::{CsrError, Status};

#[derive(Debug, Clone)]
pub struct SoftwareFabric {
    tables: Tables,
    mem: Vec<u8>,
}

impl SoftwareFabric {
    pub fn new(params: HwParams, variant_id: u8) -> SoftwareFabric {
        SoftwareFabric {
            tables: Tables::new(params, variant_id),
            mem: vec![0; params.mem_bytes() as usize],
        }
    }

    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    pub fn memory(&self) -> &[u8] {
        &self.mem
    }

    fn check(&mut self, req: Request, payload_len: u64) -> Result<(u128, Decision), Status> {
        let header = req.encode();
        let mut d = engine::decide(&self.tables, header, false);
        if d.status == Status::Ok && d.expected_beats != payload_len {
            d.status = Status::BadLength;
        }
        if d.status != Status::Ok {
            engine::account(
                &mut self.tables,
                Op::from_code(req.op),
                d.status,
                false,
                false,
            );
            return Err(d.status);
        }
        Ok((header, d))
    }

    fn bus_bytes(&self) -> usize {
        self.tables.params.bus_bytes() as usize
    }

    fn mem_req(op: Op, conn: u16, region: u8, offset: u32, len: u32) -> Request {
        Request {
            op: op.code(),
            flags: 0,
            conn,
            req_id: 0,
            target: Target::Memory { region, offset },
            len,
        }
    }
}

impl Csr for SoftwareFabric {
    fn csr_write(&mut self, addr: u32, value: u32) -> CsrError {
        self.tables.csr_write(addr, value)
    }
    fn csr_read(&mut self, addr: u32) -> (u32, CsrError) {
        self.tables.csr_read(addr)
    }
}

impl RemoteMemory for SoftwareFabric {
    fn read(&mut self, conn: u16, region: u8, offset: u32, len: u32) -> Result<Vec<u8>, Status> {
        let (_, d) = self.check(Self::mem_req(Op::Read, conn, region, offset, len), 0)?;
        let at = d.addr as usize * self.bus_bytes();
        let data = self.mem[at..at + len as usize].to_vec();
        engine::account(&mut self.tables, Some(Op::Read), Status::Ok, false, false);
        Ok(data)
    }

    fn write(&mut self, conn: u16, region: u8, offset: u32, data: &[u8]) -> Result<(), Status> {
        let len = u32::try_from(data.len()).map_err(|_| Status::BadLength)?;
        let beats = (data.len() as u64).div_ceil(self.bus_bytes() as u64);
        let (_, d) = self.check(Self::mem_req(Op::Write, conn, region, offset, len), beats)?;
        let at = d.addr as usize * self.bus_bytes();
        self.mem[at..at + data.len()].copy_from_slice(data);
        engine::account(&mut self.tables, Some(Op::Write), Status::Ok, false, false);
        Ok(())
    }

    fn compare_and_swap(
        &mut self,
        conn: u16,
        region: u8,
        offset: u32,
        expected: u64,
        new: u64,
    ) -> Result<u64, Status> {
        let beats = 16u64.div_ceil(self.bus_bytes() as u64);
        let req = Self::mem_req(Op::Cas, conn, region, offset, CAS_BYTES);
        let (_, d) = self.check(req, beats)?;
        let mut operands = [0u8; 16];
        operands[..8].copy_from_slice(&expected.to_le_bytes());
        operands[8..].copy_from_slice(&new.to_le_bytes());
        let bb = self.bus_bytes();
        let (old, swapped) = engine::cas(&mut self.mem, bb, &d, &operands);
        engine::account(&mut self.tables, Some(Op::Cas), Status::Ok, false, swapped);
        Ok(u64::from_le_bytes(old))
    }
}

impl RpcOffload for SoftwareFabric {
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
        let bb = self.bus_bytes();
        let beats = (payload.len() as u64).div_ceil(bb as u64);
        let (header, d) = self.check(req, beats)?;
        let words = self.tables.params.mem_words() as usize;
        for (k, chunk) in payload.chunks(bb).enumerate() {
            let at = ((d.addr as usize + 1 + k) % words) * bb;
            let word = &mut self.mem[at..at + bb];
            word.fill(0);
            word[..chunk.len()].copy_from_slice(chunk);
        }
        engine::write_descriptor(&mut self.mem, bb, d.addr, header);
        engine::commit_rpc(&mut self.tables, &d);
        engine::account(&mut self.tables, Some(Op::Rpc), Status::Ok, false, false);
        Ok(Dispatch {
            queue: d.queue as u16,
            slot: d.slot as u16,
        })
    }

    fn pop(&mut self, queue: u16) -> Option<RpcRequest> {
        let req = super::read_slot(&self.tables, &self.mem, queue)?;
        self.tables.csr_write(super::q_status_addr(queue), 0);
        Some(req)
    }
}
