//! The register map, defined once as data. The RTL include file
//! (`rtl/generated/hm_defs.vh`) and the flat driver constants
//! (`src/regs.rs`, `rtl/generated/hm_regs.h`) are generated from these
//! tables by `fpga-gen`; a test fails when they are stale.
//!
//! All registers are 32 bits wide at 4-byte aligned byte addresses in a
//! 4 KiB CSR window. Array registers repeat every `stride` bytes, one per
//! table entry (the entry count is a build parameter read from CAPS1).

use crate::params::{MAX_CONNECTIONS, MAX_FUNCTIONS, MAX_QUEUES, MAX_REGIONS};

pub const CSR_ADDR_BITS: u32 = 12;
/// Value of the ID register: "HMFA".
pub const ID_VALUE: u32 = 0x484D_4641;
/// Register-map version: bump on any incompatible change of this file.
pub const MAP_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    ReadWrite,
    /// Reads the queue status; any write pops the queue's head slot.
    ReadPop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegField {
    pub name: &'static str,
    pub lsb: u32,
    pub width: u32,
    pub doc: &'static str,
}

const fn f(name: &'static str, lsb: u32, width: u32, doc: &'static str) -> RegField {
    RegField {
        name,
        lsb,
        width,
        doc,
    }
}

impl RegField {
    pub fn mask(&self) -> u32 {
        (((1u64 << self.width) - 1) << self.lsb) as u32
    }
    pub fn get(&self, v: u32) -> u32 {
        (v & self.mask()) >> self.lsb
    }
    pub fn put(&self, v: u32) -> u32 {
        (v << self.lsb) & self.mask()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Register {
    pub name: &'static str,
    pub offset: u32,
    /// Array registers: bytes between entries and the largest entry count.
    pub stride: u32,
    pub max_entries: u32,
    pub access: Access,
    pub reset: u32,
    pub fields: &'static [RegField],
    pub doc: &'static str,
}

const fn scalar(
    name: &'static str,
    offset: u32,
    access: Access,
    reset: u32,
    fields: &'static [RegField],
    doc: &'static str,
) -> Register {
    Register {
        name,
        offset,
        stride: 0,
        max_entries: 1,
        access,
        reset,
        fields,
        doc,
    }
}

#[allow(clippy::too_many_arguments)]
const fn array(
    name: &'static str,
    offset: u32,
    stride: u32,
    max_entries: u32,
    access: Access,
    reset: u32,
    fields: &'static [RegField],
    doc: &'static str,
) -> Register {
    Register {
        name,
        offset,
        stride,
        max_entries,
        access,
        reset,
        fields,
        doc,
    }
}

pub const CTRL_ENABLE: RegField = f(
    "ENABLE",
    0,
    1,
    "1: accept packets; 0: refuse all with DISABLED",
);
pub const CTRL_CLEAR: RegField = f(
    "CLEAR_COUNTERS",
    1,
    1,
    "write 1: zero every counter (reads 0)",
);
pub const STATUS_IDLE: RegField = f("IDLE", 0, 1, "no packet in flight");
pub const STATUS_CSR_ERR: RegField = f("CSR_ERR", 8, 8, "result of the last CSR access (CsrError)");
pub const CAPS0_BUS_BYTES: RegField = f("BUS_BYTES", 0, 8, "data path width in bytes");
pub const CAPS0_MEM_ADDR_BITS: RegField = f("MEM_ADDR_BITS", 8, 8, "log2 memory words");
pub const CAPS0_QDEPTH_MAX: RegField = f("QDEPTH_MAX", 16, 8, "largest queue depth");
pub const CAPS0_VARIANT: RegField = f("VARIANT", 24, 8, "bitstream variant id");
pub const CAPS1_CONNECTIONS: RegField = f("CONNECTIONS", 0, 8, "connection table entries");
pub const CAPS1_FUNCTIONS: RegField = f("FUNCTIONS", 8, 8, "function table entries");
pub const CAPS1_QUEUES: RegField = f("QUEUES", 16, 8, "queues");
pub const CAPS1_REGIONS: RegField = f("REGIONS", 24, 8, "region table entries");
pub const SLOT_SHIFT_VALUE: RegField = f("VALUE", 0, 5, "queue slot = 2^VALUE words");
pub const CONN_VALID: RegField = f("VALID", 0, 1, "connection open");
pub const CONN_ALLOW_RPC: RegField = f("ALLOW_RPC", 1, 1, "may send RPCs");
pub const CONN_ALLOW_MEM: RegField = f("ALLOW_MEM", 2, 1, "may use remote memory");
pub const FUNC_ENABLE: RegField = f("ENABLE", 0, 1, "function accepts RPCs");
pub const FUNC_FIRST_QUEUE: RegField = f("FIRST_QUEUE", 8, 8, "first of its queues");
pub const FUNC_QUEUE_COUNT: RegField = f("QUEUE_COUNT", 16, 8, "number of consecutive queues");
pub const QBASE_ADDR: RegField = f("ADDR", 0, 20, "ring base, memory word address");
pub const QDEPTH_SLOTS: RegField = f("SLOTS", 0, 8, "ring slots (0..=QDEPTH_MAX)");
pub const QWEIGHT_WEIGHT: RegField = f("WEIGHT", 0, 8, "weighted round-robin share (1..=255)");
pub const QSTATUS_HEAD: RegField = f("HEAD", 0, 8, "oldest occupied slot");
pub const QSTATUS_COUNT: RegField = f("COUNT", 8, 8, "occupied slots");
pub const RBASE_ADDR: RegField = f(
    "ADDR",
    0,
    20,
    "region base, memory word address (< memory words)",
);
pub const RSIZE_WORDS: RegField = f("WORDS", 0, 21, "region size in words (<= memory words)");
pub const RPERM_VALID: RegField = f("VALID", 0, 1, "region exists");
pub const RPERM_READ: RegField = f("READ", 1, 1, "READ allowed");
pub const RPERM_WRITE: RegField = f("WRITE", 2, 1, "WRITE allowed");
pub const RPERM_ATOMIC: RegField = f("ATOMIC", 3, 1, "compare-and-swap allowed");
pub const COUNT_VALUE: RegField = f("VALUE", 0, 32, "wrapping event count");

use Access::*;

pub const ID: Register = scalar("ID", 0x000, ReadOnly, ID_VALUE, &[], "constant \"HMFA\"");
pub const VERSION: Register = scalar(
    "VERSION",
    0x004,
    ReadOnly,
    MAP_VERSION,
    &[],
    "register-map version",
);
pub const CTRL: Register = scalar(
    "CTRL",
    0x008,
    ReadWrite,
    0,
    &[CTRL_ENABLE, CTRL_CLEAR],
    "control",
);
pub const STATUS: Register = scalar(
    "STATUS",
    0x00C,
    ReadOnly,
    1,
    &[STATUS_IDLE, STATUS_CSR_ERR],
    "status",
);
pub const CAPS0: Register = scalar(
    "CAPS0",
    0x010,
    ReadOnly,
    0,
    &[
        CAPS0_BUS_BYTES,
        CAPS0_MEM_ADDR_BITS,
        CAPS0_QDEPTH_MAX,
        CAPS0_VARIANT,
    ],
    "build parameters (hard configuration)",
);
pub const CAPS1: Register = scalar(
    "CAPS1",
    0x014,
    ReadOnly,
    0,
    &[
        CAPS1_CONNECTIONS,
        CAPS1_FUNCTIONS,
        CAPS1_QUEUES,
        CAPS1_REGIONS,
    ],
    "table sizes (hard configuration)",
);
pub const SLOT_SHIFT: Register = scalar(
    "SLOT_SHIFT",
    0x018,
    ReadWrite,
    2,
    &[SLOT_SHIFT_VALUE],
    "queue slot size; writing it flushes every queue",
);
pub const CONN: Register = array(
    "CONN",
    0x100,
    4,
    MAX_CONNECTIONS,
    ReadWrite,
    0,
    &[CONN_VALID, CONN_ALLOW_RPC, CONN_ALLOW_MEM],
    "connection table",
);
pub const FUNC: Register = array(
    "FUNC",
    0x200,
    4,
    MAX_FUNCTIONS,
    ReadWrite,
    0,
    &[FUNC_ENABLE, FUNC_FIRST_QUEUE, FUNC_QUEUE_COUNT],
    "function table; a write resets the function's round-robin state",
);
pub const Q_BASE: Register = array(
    "Q_BASE",
    0x300,
    16,
    MAX_QUEUES,
    ReadWrite,
    0,
    &[QBASE_ADDR],
    "queue ring base; a write flushes the queue",
);
pub const Q_DEPTH: Register = array(
    "Q_DEPTH",
    0x304,
    16,
    MAX_QUEUES,
    ReadWrite,
    0,
    &[QDEPTH_SLOTS],
    "queue ring slots; a write flushes the queue",
);
pub const Q_WEIGHT: Register = array(
    "Q_WEIGHT",
    0x308,
    16,
    MAX_QUEUES,
    ReadWrite,
    1,
    &[QWEIGHT_WEIGHT],
    "load-balancer weight",
);
pub const Q_STATUS: Register = array(
    "Q_STATUS",
    0x30C,
    16,
    MAX_QUEUES,
    ReadPop,
    0,
    &[QSTATUS_HEAD, QSTATUS_COUNT],
    "queue occupancy; any write pops the head slot",
);
pub const R_BASE: Register = array(
    "R_BASE",
    0x400,
    16,
    MAX_REGIONS,
    ReadWrite,
    0,
    &[RBASE_ADDR],
    "region base",
);
pub const R_SIZE: Register = array(
    "R_SIZE",
    0x404,
    16,
    MAX_REGIONS,
    ReadWrite,
    0,
    &[RSIZE_WORDS],
    "region size",
);
pub const R_PERM: Register = array(
    "R_PERM",
    0x408,
    16,
    MAX_REGIONS,
    ReadWrite,
    0,
    &[RPERM_VALID, RPERM_READ, RPERM_WRITE, RPERM_ATOMIC],
    "region permissions",
);
pub const COUNTER: Register = array(
    "COUNTER",
    0x800,
    4,
    32,
    ReadOnly,
    0,
    &[COUNT_VALUE],
    "event counters (see COUNTERS); entry 16 + status code counts that error",
);

pub const REGISTERS: &[Register] = &[
    ID, VERSION, CTRL, STATUS, CAPS0, CAPS1, SLOT_SHIFT, CONN, FUNC, Q_BASE, Q_DEPTH, Q_WEIGHT,
    Q_STATUS, R_BASE, R_SIZE, R_PERM, COUNTER,
];

/// Counter indices (COUNTER entry k at 0x800 + 4k).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    pub name: &'static str,
    pub index: u32,
    pub doc: &'static str,
}

pub const COUNTERS: &[Counter] = &[
    Counter {
        name: "RX_PACKETS",
        index: 0,
        doc: "packets received (any status)",
    },
    Counter {
        name: "TX_RESPONSES",
        index: 1,
        doc: "responses sent",
    },
    Counter {
        name: "RPC_OK",
        index: 2,
        doc: "RPCs dispatched",
    },
    Counter {
        name: "READ_OK",
        index: 3,
        doc: "reads executed",
    },
    Counter {
        name: "WRITE_OK",
        index: 4,
        doc: "writes executed",
    },
    Counter {
        name: "CAS_OK",
        index: 5,
        doc: "compare-and-swaps executed",
    },
    Counter {
        name: "CAS_SWAPPED",
        index: 6,
        doc: "compare-and-swaps that stored",
    },
];
/// COUNTER entry of the first error counter: entry `ERR_BASE + code`
/// counts packets refused with that status (entry ERR_BASE itself is 0).
pub const ERR_COUNTER_BASE: u32 = 16;

/// Which table an array register indexes, for address decoding.
pub fn entry_of(reg: &Register, addr: u32) -> Option<u32> {
    if reg.stride == 0 {
        return (addr == reg.offset).then_some(0);
    }
    let rel = addr.checked_sub(reg.offset)?;
    (rel % reg.stride == 0 && rel / reg.stride < reg.max_entries).then_some(rel / reg.stride)
}

/// Decodes a CSR byte address into a register and entry index.
pub fn decode(addr: u32) -> Option<(&'static Register, u32)> {
    REGISTERS
        .iter()
        .find_map(|r| entry_of(r, addr).map(|i| (r, i)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_do_not_overlap_and_fit_the_window() {
        let mut seen = std::collections::BTreeMap::new();
        for r in REGISTERS {
            for i in 0..r.max_entries {
                let a = r.offset + i * r.stride;
                assert_eq!(a % 4, 0);
                assert!(a < 1 << CSR_ADDR_BITS, "{} beyond window", r.name);
                assert!(
                    seen.insert(a, r.name).is_none(),
                    "{} overlaps at {a:#x}",
                    r.name
                );
            }
            let mut used = 0u32;
            for fld in r.fields {
                assert_eq!(used & fld.mask(), 0);
                used |= fld.mask();
            }
        }
        assert_eq!(
            decode(0x30C + 16 * 3).map(|(r, i)| (r.name, i)),
            Some(("Q_STATUS", 3))
        );
        assert!(decode(0x0FC).is_none());
    }
}
