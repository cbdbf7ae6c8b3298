//! One packet through the engine: the checks in their specified order, the
//! memory effects, the response, and the cycle at which each happens. The
//! timing follows the RTL pipeline (`hm_engine.v`) stage for stage:
//!
//! ```text
//! IN (every beat, 1 cycle) → DEC (header's last beat) | EXE (payload beat) → RESP (one job at a time)
//! ```
//!
//! with the source always valid and the sink always ready. A beat is
//! accepted in the cycle the beat before it leaves the input register; it
//! leaves one cycle after it came, unless it must wait: a header waits for
//! the response stage to finish an earlier packet's memory accesses
//! ([`Pipe::mem_free`]), a packet's last beat for the response stage to
//! take its job ([`Pipe::resp_done`]).

use super::tables::Tables;
use crate::packet::{self, Op, CAS_BYTES, CAS_PAYLOAD_BYTES, FLAGS_RESERVED, FLAG_SUPPRESS_OK};
use crate::status::Status;

/// What one packet did, as seen on the wires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    /// Response beats (empty when a successful RPC/WRITE asked SUPPRESS_OK).
    pub response: Vec<Vec<u8>>,
    /// Cycle of the first response beat, counted from the first input beat.
    pub first_out: Option<u32>,
    /// Cycle the engine finishes the packet (its last response beat, or
    /// the silent response cycle).
    pub done: u32,
    /// Cycle the next packet's first beat is accepted, when it is offered
    /// right after this packet's last beat: the spacing of back-to-back
    /// packets.
    pub next: u32,
}

impl Outcome {
    /// Cycles from the first request beat to the end of the response: the
    /// packet's latency on an otherwise idle engine.
    pub fn latency(&self) -> u32 {
        self.done + 1
    }
}

/// Pipeline state carried from one packet to the next, in cycles from an
/// arbitrary origin. `Pipe::default()` is the idle engine (after a CSR
/// access, which waits for `STATUS.IDLE`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pipe {
    /// Cycle the next packet's first beat is accepted.
    accept: u64,
    /// Cycle the response stage finishes its current job; it takes the next
    /// one at the end of that cycle, so a packet can end from then on.
    resp_done: u64,
    /// First cycle a header may be decoded: the response stage has made
    /// every memory access of earlier packets (READ data, CAS write).
    mem_free: u64,
}

/// Decision made in the DEC cycle.
pub(crate) struct Decision {
    pub(crate) status: Status,
    pub(crate) expected_beats: u64,
    /// RPC: function, queue, slot and slot word address; memory: first
    /// word address and the CAS lane.
    pub(crate) func: usize,
    pub(crate) queue: u32,
    pub(crate) slot: u32,
    pub(crate) addr: u32,
    pub(crate) lane: u32,
}

pub(crate) fn run(t: &mut Tables, mem: &mut [u8], pipe: &mut Pipe, beats: &[Vec<u8>]) -> Outcome {
    let p = t.params;
    let bb = p.bus_bytes() as usize;
    let hb = p.header_beats() as usize;
    let mem_words = p.mem_words();
    let beat = |i: usize| -> Vec<u8> {
        let mut b = beats.get(i).cloned().unwrap_or_default();
        b.resize(bb, 0);
        b
    };

    // HDR: up to H beats; a `last` among them ends the packet there.
    let n_hdr = beats.len().min(hb);
    let mut hbytes = [0u8; 16];
    for i in 0..n_hdr {
        let b = beat(i);
        let take = bb.min(16);
        hbytes[i * take..i * take + take].copy_from_slice(&b[..take]);
    }
    let header = u128::from_le_bytes(hbytes);
    let truncated = beats.len() < hb;
    let last_in_header = beats.len() <= hb;

    let op = Op::from_code(packet::H_OP.get(header) as u8);
    let len = packet::H_LEN.get(header) as u32;

    // DEC
    let mut d = decide(t, header, truncated);
    if d.status == Status::Ok && last_in_header && d.expected_beats > 0 {
        d.status = Status::BadLength;
    }
    // The descriptor goes into the slot as soon as the header passes; the
    // slot only counts once the RPC commits at the end of the packet.
    if d.status == Status::Ok && op == Some(Op::Rpc) {
        write_descriptor(mem, bb, d.addr, header);
    }

    // PAY
    let payload_beats = beats.len().saturating_sub(hb);
    let mut operands = [0u8; CAS_PAYLOAD_BYTES as usize];
    for k in 0..payload_beats {
        let b = beat(hb + k);
        if d.status == Status::Ok {
            if (k as u64) < d.expected_beats {
                match op {
                    Some(Op::Rpc) | Some(Op::Write) => {
                        let off = if op == Some(Op::Rpc) { 1 } else { 0 };
                        let w = (d.addr as u64 + off + k as u64) % u64::from(mem_words);
                        let at = w as usize * bb;
                        mem[at..at + bb].copy_from_slice(&b);
                    }
                    Some(Op::Cas) => {
                        for (j, byte) in b.iter().enumerate() {
                            if let Some(o) = operands.get_mut(k * bb + j) {
                                *o = *byte;
                            }
                        }
                    }
                    _ => {}
                }
            } else {
                d.status = Status::BadLength;
            }
        }
    }
    if d.status == Status::Ok && (payload_beats as u64) < d.expected_beats {
        d.status = Status::BadLength;
    }

    // End of the packet: commit / CAS / READ data
    let mut data: Vec<u8> = Vec::new();
    let mut swapped = false;
    if d.status == Status::Ok {
        match op {
            Some(Op::Rpc) => commit_rpc(t, &d),
            Some(Op::Cas) => {
                let (old, s) = cas(mem, bb, &d, &operands);
                data = old.to_vec();
                swapped = s;
            }
            Some(Op::Read) => {
                let at = d.addr as usize * bb;
                data = mem[at..at + len as usize].to_vec();
            }
            _ => {}
        }
    }

    // RESP
    let r = response_header(header, &d, data.len() as u32);
    let suppressed = suppressed(header, d.status);
    let response = if suppressed {
        Vec::new()
    } else {
        packet::to_beats(r, &data, p.bus_bytes())
    };
    account(t, op, d.status, suppressed, swapped);

    // Timing. Beat i is accepted at acc, processed at the first cycle after
    // it that it need not wait; the next beat is accepted in that cycle.
    let start = pipe.accept;
    let dec_beat = n_hdr - 1;
    let mut cycle = start;
    for i in 0..beats.len() {
        cycle += 1;
        if i == dec_beat {
            cycle = cycle.max(pipe.mem_free);
        }
        if i + 1 == beats.len() {
            cycle = cycle.max(pipe.resp_done);
        }
    }
    let ended = cycle;
    let first = ended + 1; // the response stage's first cycle with the job
    let ok = d.status == Status::Ok;
    let done = if suppressed {
        first
    } else if ok && op == Some(Op::Cas) {
        // Read, then compare and write; the old value goes out after both.
        (first + hb as u64).max(first + 2)
    } else {
        first + response.len() as u64 - 1
    };
    if ok && op == Some(Op::Cas) {
        // DEC may run in the write cycle: its own writes land a cycle later.
        pipe.mem_free = first + 1;
    } else if ok && op == Some(Op::Read) && len > 0 {
        pipe.mem_free = done;
    }
    pipe.accept = ended;
    pipe.resp_done = done;
    let rel = |c: u64| u32::try_from(c - start).unwrap_or(u32::MAX);
    Outcome {
        status: d.status,
        response,
        first_out: (!suppressed).then(|| rel(first)),
        done: rel(done),
        next: rel(ended),
    }
}

/// The DEC cycle: every check in the specified order, first failure wins.
pub(crate) fn decide(t: &Tables, header: u128, truncated: bool) -> Decision {
    let op = Op::from_code(packet::H_OP.get(header) as u8);
    let flags = packet::H_FLAGS.get(header) as u8;
    let conn_id = packet::H_CONN.get(header) as u32;
    let len = packet::H_LEN.get(header) as u32;
    let p = t.params;
    let bb = u64::from(p.bus_bytes());
    let mut d = Decision {
        status: Status::Ok,
        expected_beats: 0,
        func: 0,
        queue: 0,
        slot: 0,
        addr: 0,
        lane: 0,
    };
    let fail = |mut d: Decision, s: Status| {
        d.status = s;
        d
    };
    if truncated {
        return fail(d, Status::Truncated);
    }
    if !t.enable {
        return fail(d, Status::Disabled);
    }
    let Some(op) = op else {
        return fail(d, Status::BadHeader);
    };
    if flags & FLAGS_RESERVED != 0 {
        return fail(d, Status::BadHeader);
    }
    let Some(conn) = t.conns.get(conn_id as usize).filter(|c| c.valid) else {
        return fail(d, Status::UnknownConnection);
    };
    let allowed = if op.is_memory() {
        conn.allow_mem
    } else {
        conn.allow_rpc
    };
    if !allowed {
        return fail(d, Status::PermissionDenied);
    }
    let len64 = u64::from(len);
    let mem_words = u64::from(p.mem_words());
    if op == Op::Rpc {
        let func_id = packet::H_FUNC.get(header) as usize;
        let Some(func) = t
            .funcs
            .get(func_id)
            .filter(|f| f.enable && f.queue_count > 0)
        else {
            return fail(d, Status::UnknownFunction);
        };
        let beats = len64.div_ceil(bb);
        if beats > (1u64 << t.slot_shift) - 1 {
            return fail(d, Status::BadLength);
        }
        let qi = func.first_queue + func.cur;
        let q = t.queues[qi as usize];
        if q.full() {
            return fail(d, Status::QueueFull);
        }
        d.func = func_id;
        d.queue = qi;
        d.slot = q.tail();
        d.addr = ((u64::from(q.base) + (u64::from(d.slot) << t.slot_shift)) % mem_words) as u32;
        d.expected_beats = beats;
        return d;
    }
    let region_id = packet::H_REGION.get(header) as usize;
    let offset = packet::H_OFFSET.get(header);
    let Some(region) = t.regions.get(region_id).filter(|r| r.valid) else {
        return fail(d, Status::UnknownRegion);
    };
    let permitted = match op {
        Op::Read => region.read,
        Op::Write => region.write,
        _ => region.atomic,
    };
    if !permitted {
        return fail(d, Status::PermissionDenied);
    }
    if op == Op::Cas && len != CAS_BYTES {
        return fail(d, Status::BadLength);
    }
    let aligned = if op == Op::Cas {
        offset.is_multiple_of(8)
    } else {
        offset.is_multiple_of(bb) && len64.is_multiple_of(bb)
    };
    if !aligned {
        return fail(d, Status::Misaligned);
    }
    let off_w = offset / bb;
    let len_w = if op == Op::Cas { 1 } else { len64 / bb };
    if off_w + len_w > u64::from(region.size) || u64::from(region.base) + off_w + len_w > mem_words
    {
        return fail(d, Status::OutOfBounds);
    }
    d.addr = (u64::from(region.base) + off_w) as u32;
    d.lane = ((offset % bb) / 8) as u32;
    d.expected_beats = match op {
        Op::Write => len_w,
        Op::Cas => u64::from(CAS_PAYLOAD_BYTES).div_ceil(bb),
        _ => 0,
    };
    d
}

pub(crate) fn commit_rpc(t: &mut Tables, d: &Decision) {
    let q = &mut t.queues[d.queue as usize];
    q.count += 1;
    let weight = q.weight;
    let f = &mut t.funcs[d.func];
    f.used += 1;
    if f.used >= weight {
        f.used = 0;
        f.cur = if f.cur + 1 >= f.queue_count {
            0
        } else {
            f.cur + 1
        };
    }
}

/// The descriptor word written at an RPC's slot: request id, connection,
/// payload length (16 bits), zero above 64 bits.
pub(crate) fn write_descriptor(mem: &mut [u8], bb: usize, addr: u32, header: u128) {
    let at = addr as usize * bb;
    let word = &mut mem[at..at + bb];
    word.fill(0);
    word[0..4].copy_from_slice(&(packet::H_REQ.get(header) as u32).to_le_bytes());
    word[4..6].copy_from_slice(&(packet::H_CONN.get(header) as u16).to_le_bytes());
    word[6..8].copy_from_slice(&(packet::H_LEN.get(header) as u16).to_le_bytes());
}

/// Compare-and-swap on the 8-byte lane: returns the old value and whether
/// the new one was stored. `operands` is the payload: expected, new.
pub(crate) fn cas(mem: &mut [u8], bb: usize, d: &Decision, operands: &[u8; 16]) -> ([u8; 8], bool) {
    let at = d.addr as usize * bb + d.lane as usize * 8;
    let mut old = [0u8; 8];
    old.copy_from_slice(&mem[at..at + 8]);
    let swapped = old[..] == operands[..8];
    if swapped {
        mem[at..at + 8].copy_from_slice(&operands[8..16]);
    }
    (old, swapped)
}

pub(crate) fn response_header(header: u128, d: &Decision, data_len: u32) -> u128 {
    let opcode = packet::H_OP.get(header) as u8;
    let mut r = 0u128;
    packet::R_OP.set(&mut r, u64::from(opcode | packet::RESPONSE_BIT));
    packet::R_STATUS.set(&mut r, d.status.code().into());
    packet::R_CONN.set(&mut r, packet::H_CONN.get(header));
    packet::R_REQ.set(&mut r, packet::H_REQ.get(header));
    match Op::from_code(opcode) {
        Some(Op::Rpc) => {
            if d.status == Status::Ok {
                packet::R_QUEUE.set(&mut r, d.queue.into());
                packet::R_SLOT.set(&mut r, d.slot.into());
            }
            packet::R_LEN.set(&mut r, packet::H_LEN.get(header));
        }
        Some(_) => {
            packet::H_REGION.set(&mut r, packet::H_REGION.get(header));
            packet::H_OFFSET.set(&mut r, packet::H_OFFSET.get(header));
            packet::R_LEN.set(&mut r, data_len.into());
        }
        None => {}
    }
    r
}

/// A successful RPC or WRITE that asked SUPPRESS_OK sends no response.
pub(crate) fn suppressed(header: u128, status: Status) -> bool {
    let flags = packet::H_FLAGS.get(header) as u8;
    let op = Op::from_code(packet::H_OP.get(header) as u8);
    status == Status::Ok
        && flags & FLAG_SUPPRESS_OK != 0
        && matches!(op, Some(Op::Rpc) | Some(Op::Write))
}

/// Counter updates at the end of a packet.
pub(crate) fn account(
    t: &mut Tables,
    op: Option<Op>,
    status: Status,
    suppressed: bool,
    swapped: bool,
) {
    t.count(0);
    if !suppressed {
        t.count(1);
    }
    if status == Status::Ok {
        t.count(match op {
            Some(Op::Rpc) => 2,
            Some(Op::Read) => 3,
            Some(Op::Write) => 4,
            _ => 5,
        });
        if swapped {
            t.count(6);
        }
    } else {
        t.count_error(status);
    }
}
