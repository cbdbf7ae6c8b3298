//! Packet layouts: the 16-byte request and response headers, defined once
//! as field tables (the RTL header is generated from them) with typed
//! encode/decode on top.
//!
//! A packet is a stream of beats of the data-path width with a `last` flag.
//! The header occupies the first `ceil(16 / bus_bytes)` beats (bit `i` of
//! the header is bit `i % W` of beat `i / W`; on paths wider than 128 bits
//! the rest of the first beat is padding); the payload starts on the next
//! beat boundary, byte `j` at beat `j / bus_bytes`, little-endian.

pub const HEADER_BYTES: u32 = 16;

/// One header field: bits `lsb .. lsb + width` of the 128-bit header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub lsb: u32,
    pub width: u32,
    pub doc: &'static str,
}

impl Field {
    pub const fn new(name: &'static str, lsb: u32, width: u32, doc: &'static str) -> Field {
        Field {
            name,
            lsb,
            width,
            doc,
        }
    }

    pub fn get(&self, header: u128) -> u64 {
        ((header >> self.lsb) & ((1u128 << self.width) - 1)) as u64
    }

    pub fn set(&self, header: &mut u128, value: u64) {
        let mask = ((1u128 << self.width) - 1) << self.lsb;
        *header = (*header & !mask) | ((u128::from(value) << self.lsb) & mask);
    }
}

// Word 0, common to every request.
pub const H_OP: Field = Field::new("OP", 0, 8, "opcode");
pub const H_FLAGS: Field = Field::new(
    "FLAGS",
    8,
    8,
    "flags (bit 0 SUPPRESS_OK, others reserved = 0)",
);
pub const H_CONN: Field = Field::new("CONN", 16, 16, "connection id");
pub const H_REQ: Field = Field::new("REQ", 32, 32, "request id, echoed in the response");
// Word 1 of an RPC.
pub const H_FUNC: Field = Field::new("FUNC", 64, 16, "RPC: function id");
pub const H_RSVD: Field = Field::new("RSVD", 80, 16, "RPC: reserved, ignored (send 0)");
// Word 1 of a remote-memory op.
pub const H_REGION: Field = Field::new("REGION", 64, 8, "memory: region id");
pub const H_OFFSET: Field = Field::new("OFFSET", 72, 24, "memory: byte offset in the region");
// Word 1, both.
pub const H_LEN: Field = Field::new("LEN", 96, 32, "RPC payload bytes / memory bytes accessed");

// Response word 0 (OP is the request's opcode | 0x80).
pub const R_OP: Field = Field::new("ROP", 0, 8, "request opcode | 0x80");
pub const R_STATUS: Field = Field::new("RSTATUS", 8, 8, "status code");
pub const R_CONN: Field = Field::new("RCONN", 16, 16, "connection id (echo)");
pub const R_REQ: Field = Field::new("RREQ", 32, 32, "request id (echo)");
// Response word 1 of an RPC.
pub const R_QUEUE: Field = Field::new("RQUEUE", 64, 16, "RPC: queue chosen (0 on error)");
pub const R_SLOT: Field = Field::new("RSLOT", 80, 16, "RPC: slot in the queue (0 on error)");
// Response word 1 of a memory op: REGION and OFFSET echoed at the request positions.
pub const R_LEN: Field = Field::new(
    "RLEN",
    96,
    32,
    "RPC: payload length (echo); memory: data bytes following (0 on error)",
);

pub const HEADER_FIELDS: &[Field] = &[
    H_OP, H_FLAGS, H_CONN, H_REQ, H_FUNC, H_RSVD, H_REGION, H_OFFSET, H_LEN, R_OP, R_STATUS,
    R_CONN, R_REQ, R_QUEUE, R_SLOT, R_LEN,
];

pub const FLAG_SUPPRESS_OK: u8 = 0x01;
pub const FLAGS_RESERVED: u8 = 0xFE;
pub const RESPONSE_BIT: u8 = 0x80;
/// Bytes of a compare-and-swap operand and of its payload (expected, new).
pub const CAS_BYTES: u32 = 8;
pub const CAS_PAYLOAD_BYTES: u32 = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Op {
    Rpc = 0x01,
    Read = 0x10,
    Write = 0x11,
    Cas = 0x12,
}

impl Op {
    pub const ALL: [Op; 4] = [Op::Rpc, Op::Read, Op::Write, Op::Cas];

    pub fn from_code(code: u8) -> Option<Op> {
        Op::ALL.into_iter().find(|op| *op as u8 == code)
    }

    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn name(self) -> &'static str {
        match self {
            Op::Rpc => "RPC",
            Op::Read => "READ",
            Op::Write => "WRITE",
            Op::Cas => "CAS",
        }
    }

    pub fn is_memory(self) -> bool {
        self != Op::Rpc
    }
}

/// A request header in typed form. `encode` gives the 128-bit header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub op: u8,
    pub flags: u8,
    pub conn: u16,
    pub req_id: u32,
    /// RPC: function id; memory: region id (low 8 bits) and offset.
    pub target: Target,
    pub len: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Function(u16),
    Memory { region: u8, offset: u32 },
}

impl Request {
    pub fn encode(&self) -> u128 {
        let mut h = 0u128;
        H_OP.set(&mut h, self.op.into());
        H_FLAGS.set(&mut h, self.flags.into());
        H_CONN.set(&mut h, self.conn.into());
        H_REQ.set(&mut h, self.req_id.into());
        match self.target {
            Target::Function(f) => H_FUNC.set(&mut h, f.into()),
            Target::Memory { region, offset } => {
                H_REGION.set(&mut h, region.into());
                H_OFFSET.set(&mut h, offset.into());
            }
        }
        H_LEN.set(&mut h, self.len.into());
        h
    }
}

/// A response header as the engine emits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    pub header: u128,
}

impl Response {
    pub fn status(&self) -> Option<crate::Status> {
        crate::Status::from_code(R_STATUS.get(self.header) as u8)
    }
    pub fn req_id(&self) -> u32 {
        R_REQ.get(self.header) as u32
    }
    pub fn queue(&self) -> u16 {
        R_QUEUE.get(self.header) as u16
    }
    pub fn slot(&self) -> u16 {
        R_SLOT.get(self.header) as u16
    }
    pub fn data_len(&self) -> u32 {
        R_LEN.get(self.header) as u32
    }
}

/// Splits a 128-bit header and a payload into beats of `bus_bytes` bytes.
/// Beats are little-endian byte vectors of exactly `bus_bytes` bytes.
pub fn to_beats(header: u128, payload: &[u8], bus_bytes: u32) -> Vec<Vec<u8>> {
    let b = bus_bytes as usize;
    let mut beats = Vec::new();
    let hbytes = header.to_le_bytes();
    for chunk in hbytes.chunks(b.min(16)) {
        let mut beat = chunk.to_vec();
        beat.resize(b, 0);
        beats.push(beat);
    }
    for chunk in payload.chunks(b) {
        let mut beat = chunk.to_vec();
        beat.resize(b, 0);
        beats.push(beat);
    }
    beats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_do_not_overlap_within_a_layout() {
        let layouts: [&[Field]; 4] = [
            &[H_OP, H_FLAGS, H_CONN, H_REQ, H_FUNC, H_RSVD, H_LEN],
            &[H_OP, H_FLAGS, H_CONN, H_REQ, H_REGION, H_OFFSET, H_LEN],
            &[R_OP, R_STATUS, R_CONN, R_REQ, R_QUEUE, R_SLOT, R_LEN],
            &[R_OP, R_STATUS, R_CONN, R_REQ, H_REGION, H_OFFSET, R_LEN],
        ];
        for fields in layouts {
            let mut used = 0u128;
            for f in fields {
                let mask = ((1u128 << f.width) - 1) << f.lsb;
                assert_eq!(used & mask, 0, "{} overlaps", f.name);
                used |= mask;
            }
            assert_eq!(used, u128::MAX);
        }
    }

    #[test]
    fn header_round_trip_and_beats() {
        let r = Request {
            op: Op::Read.code(),
            flags: 0,
            conn: 3,
            req_id: 0xdead_beef,
            target: Target::Memory {
                region: 2,
                offset: 0x12_3456,
            },
            len: 64,
        };
        let h = r.encode();
        assert_eq!(H_OFFSET.get(h), 0x12_3456);
        assert_eq!(H_REQ.get(h), 0xdead_beef);
        let beats = to_beats(h, &[1, 2, 3], 8);
        assert_eq!(beats.len(), 3);
        assert_eq!(beats[2], vec![1, 2, 3, 0, 0, 0, 0, 0]);
        assert_eq!(to_beats(h, &[], 64).len(), 1);
    }
}
