//! The configuration tables and counters the CSR block holds, and their
//! CSR read/write semantics (the RTL `hm_csr.v` implements the same rules).

use crate::params::HwParams;
use crate::regmap;
use crate::status::{CsrError, Status};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Conn {
    pub valid: bool,
    pub allow_rpc: bool,
    pub allow_mem: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Func {
    pub enable: bool,
    pub first_queue: u32,
    pub queue_count: u32,
    /// Round-robin state: index of the current queue among the function's
    /// queues, and RPCs already given to it in this turn.
    pub cur: u32,
    pub used: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Queue {
    pub base: u32,
    pub depth: u32,
    pub weight: u32,
    pub head: u32,
    pub count: u32,
}

impl Default for Queue {
    fn default() -> Self {
        Queue {
            base: 0,
            depth: 0,
            weight: 1,
            head: 0,
            count: 0,
        }
    }
}

impl Queue {
    pub fn full(&self) -> bool {
        self.count >= self.depth
    }
    /// Slot the next RPC goes to (`(head + count) mod depth`).
    pub fn tail(&self) -> u32 {
        let t = self.head + self.count;
        if t >= self.depth {
            t - self.depth
        } else {
            t
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Region {
    pub base: u32,
    pub size: u32,
    pub valid: bool,
    pub read: bool,
    pub write: bool,
    pub atomic: bool,
}

pub const COUNTER_ENTRIES: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    pub params: HwParams,
    pub variant_id: u8,
    pub enable: bool,
    pub slot_shift: u32,
    pub last_csr_err: CsrError,
    pub conns: Vec<Conn>,
    pub funcs: Vec<Func>,
    pub queues: Vec<Queue>,
    pub regions: Vec<Region>,
    pub counters: [u32; COUNTER_ENTRIES],
}

impl Tables {
    pub fn new(params: HwParams, variant_id: u8) -> Tables {
        Tables {
            params,
            variant_id,
            enable: false,
            slot_shift: regmap::SLOT_SHIFT.reset,
            last_csr_err: CsrError::None,
            conns: vec![Conn::default(); params.connections as usize],
            funcs: vec![Func::default(); params.functions as usize],
            queues: vec![Queue::default(); params.queues as usize],
            regions: vec![Region::default(); params.regions as usize],
            counters: [0; COUNTER_ENTRIES],
        }
    }

    pub fn count(&mut self, index: u32) {
        if let Some(c) = self.counters.get_mut(index as usize) {
            *c = c.wrapping_add(1);
        }
    }

    pub fn count_error(&mut self, status: Status) {
        self.count(regmap::ERR_COUNTER_BASE + u32::from(status.code()));
    }

    fn table_len(&self, reg: &regmap::Register) -> u32 {
        match reg.name {
            "CONN" => self.params.connections,
            "FUNC" => self.params.functions,
            "Q_BASE" | "Q_DEPTH" | "Q_WEIGHT" | "Q_STATUS" => self.params.queues,
            "R_BASE" | "R_SIZE" | "R_PERM" => self.params.regions,
            _ => reg.max_entries,
        }
    }

    fn locate(&self, addr: u32) -> Option<(&'static regmap::Register, usize)> {
        let (reg, i) = regmap::decode(addr)?;
        (i < self.table_len(reg)).then_some((reg, i as usize))
    }

    /// A CSR read: the value and the access result (also latched in STATUS).
    pub fn csr_read(&mut self, addr: u32) -> (u32, CsrError) {
        let value = self.read_value(addr);
        let err = if value.is_some() {
            CsrError::None
        } else {
            CsrError::BadAddress
        };
        self.last_csr_err = err;
        (value.unwrap_or(0), err)
    }

    fn read_value(&self, addr: u32) -> Option<u32> {
        use regmap::*;
        let (reg, i) = self.locate(addr)?;
        let p = &self.params;
        let v = match reg.name {
            "ID" => ID_VALUE,
            "VERSION" => MAP_VERSION,
            "CTRL" => CTRL_ENABLE.put(self.enable.into()),
            "STATUS" => STATUS_IDLE.put(1) | STATUS_CSR_ERR.put(self.last_csr_err as u32),
            "CAPS0" => {
                CAPS0_BUS_BYTES.put(p.bus_bytes())
                    | CAPS0_MEM_ADDR_BITS.put(p.mem_addr_bits)
                    | CAPS0_QDEPTH_MAX.put(p.queue_depth_max)
                    | CAPS0_VARIANT.put(self.variant_id.into())
            }
            "CAPS1" => {
                CAPS1_CONNECTIONS.put(p.connections)
                    | CAPS1_FUNCTIONS.put(p.functions)
                    | CAPS1_QUEUES.put(p.queues)
                    | CAPS1_REGIONS.put(p.regions)
            }
            "SLOT_SHIFT" => self.slot_shift,
            "CONN" => {
                let c = self.conns[i];
                CONN_VALID.put(c.valid.into())
                    | CONN_ALLOW_RPC.put(c.allow_rpc.into())
                    | CONN_ALLOW_MEM.put(c.allow_mem.into())
            }
            "FUNC" => {
                let f = self.funcs[i];
                FUNC_ENABLE.put(f.enable.into())
                    | FUNC_FIRST_QUEUE.put(f.first_queue)
                    | FUNC_QUEUE_COUNT.put(f.queue_count)
            }
            "Q_BASE" => self.queues[i].base,
            "Q_DEPTH" => self.queues[i].depth,
            "Q_WEIGHT" => self.queues[i].weight,
            "Q_STATUS" => {
                QSTATUS_HEAD.put(self.queues[i].head) | QSTATUS_COUNT.put(self.queues[i].count)
            }
            "R_BASE" => self.regions[i].base,
            "R_SIZE" => self.regions[i].size,
            "R_PERM" => {
                let r = self.regions[i];
                RPERM_VALID.put(r.valid.into())
                    | RPERM_READ.put(r.read.into())
                    | RPERM_WRITE.put(r.write.into())
                    | RPERM_ATOMIC.put(r.atomic.into())
            }
            "COUNTER" => self.counters[i],
            _ => return None,
        };
        Some(v)
    }

    /// A CSR write (soft reconfiguration). Illegal writes change nothing
    /// and are reported; they never panic.
    pub fn csr_write(&mut self, addr: u32, value: u32) -> CsrError {
        let err = self.write_inner(addr, value);
        self.last_csr_err = err;
        err
    }

    fn write_inner(&mut self, addr: u32, v: u32) -> CsrError {
        use regmap::*;
        let Some((reg, i)) = self.locate(addr) else {
            return CsrError::BadAddress;
        };
        if reg.access == Access::ReadOnly {
            return CsrError::ReadOnly;
        }
        let mem_words = self.params.mem_words();
        match reg.name {
            "CTRL" => {
                self.enable = CTRL_ENABLE.get(v) == 1;
                if CTRL_CLEAR.get(v) == 1 {
                    self.counters = [0; COUNTER_ENTRIES];
                }
            }
            "SLOT_SHIFT" => {
                if v > self.params.slot_shift_max() {
                    return CsrError::BadValue;
                }
                self.slot_shift = v;
                for q in &mut self.queues {
                    q.head = 0;
                    q.count = 0;
                }
            }
            "CONN" => {
                self.conns[i] = Conn {
                    valid: CONN_VALID.get(v) == 1,
                    allow_rpc: CONN_ALLOW_RPC.get(v) == 1,
                    allow_mem: CONN_ALLOW_MEM.get(v) == 1,
                }
            }
            "FUNC" => {
                let first = FUNC_FIRST_QUEUE.get(v);
                let count = FUNC_QUEUE_COUNT.get(v);
                if first + count > self.params.queues {
                    return CsrError::BadValue;
                }
                self.funcs[i] = Func {
                    enable: FUNC_ENABLE.get(v) == 1,
                    first_queue: first,
                    queue_count: count,
                    cur: 0,
                    used: 0,
                };
            }
            "Q_BASE" | "Q_DEPTH" => {
                let q = &mut self.queues[i];
                if reg.name == "Q_BASE" {
                    if v >= mem_words {
                        return CsrError::BadValue;
                    }
                    q.base = v;
                } else {
                    if v > self.params.queue_depth_max {
                        return CsrError::BadValue;
                    }
                    q.depth = v;
                }
                q.head = 0;
                q.count = 0;
            }
            "Q_WEIGHT" => {
                if v == 0 || v > 255 {
                    return CsrError::BadValue;
                }
                self.queues[i].weight = v;
            }
            "Q_STATUS" => {
                let q = &mut self.queues[i];
                if q.count == 0 {
                    return CsrError::QueueEmpty;
                }
                q.head = if q.head + 1 >= q.depth { 0 } else { q.head + 1 };
                q.count -= 1;
            }
            "R_BASE" => {
                if v >= mem_words {
                    return CsrError::BadValue;
                }
                self.regions[i].base = v;
            }
            "R_SIZE" => {
                if v > mem_words {
                    return CsrError::BadValue;
                }
                self.regions[i].size = v;
            }
            "R_PERM" => {
                let r = &mut self.regions[i];
                r.valid = RPERM_VALID.get(v) == 1;
                r.read = RPERM_READ.get(v) == 1;
                r.write = RPERM_WRITE.get(v) == 1;
                r.atomic = RPERM_ATOMIC.get(v) == 1;
            }
            _ => return CsrError::BadAddress,
        }
        CsrError::None
    }
}
