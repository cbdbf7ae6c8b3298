//! Latency figures of successful operations, in cycles and in nanoseconds
//! at a stated clock: what the simulator and the cost model read (they
//! depend on this crate, never the other way round). The closed forms
//! below are checked against the cycle model (`tests/timing.rs`) and the
//! model against the RTL (`tests/rtl_sim.rs`).

use crate::packet::{Op, CAS_PAYLOAD_BYTES};
use crate::params::{HwParams, Variant};

/// Fmax nextpnr reported for the `ice40` variant on an iCE40 HX8K
/// (`reports/synth.md`; `tests/timing.rs` checks the two agree).
pub const ICE40_FMAX_KHZ: u32 = 61_200;

/// Cycles from the first request beat (cycle 0) to the first response beat
/// and to the last one, with the source always valid and the sink ready,
/// and the spacing of back-to-back packets of the same kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpCycles {
    pub first_out: u32,
    pub done: u32,
    /// Cycles between the first beats of two identical packets sent back
    /// to back, in steady state: the engine's throughput for this op is
    /// one packet per `interval` cycles.
    pub interval: u32,
}

impl OpCycles {
    /// Cycles from the first request beat to the end of the response:
    /// the latency of one packet on an idle engine.
    pub fn latency(&self) -> u32 {
        self.done + 1
    }
}

/// Cycles of a successful `op` moving `len` bytes (RPC payload, READ/WRITE
/// data; ignored for CAS). `len` must satisfy the op's alignment rules.
/// A successful RPC or WRITE with SUPPRESS_OK ends at `first_out` without
/// sending anything.
///
/// The pipeline (`hm_engine.v`, `model/engine.rs`): the request's `H + p`
/// beats (header, payload) are taken one per cycle, the packet ends one
/// cycle after its last beat and its response starts the cycle after.
/// Back to back, the next packet's beats follow at once unless it must
/// wait: its last beat for the response stage (`L` cycles per response),
/// its header for an earlier READ's data reads (until that READ's last
/// response beat) or CAS read (one cycle).
pub fn ok_cycles(p: &HwParams, op: Op, len: u32) -> OpCycles {
    let h = p.header_beats();
    let b = p.bus_bytes();
    let (payload, data_beats) = match op {
        Op::Rpc => (len.div_ceil(b), 0),
        Op::Read => (0, len / b),
        Op::Write => (len / b, 0),
        Op::Cas => (CAS_PAYLOAD_BYTES.div_ceil(b), 1),
    };
    let ended = h + payload;
    let first_out = ended + 1;
    let done = match op {
        // The old value goes out once read and written back (2 cycles).
        Op::Cas => first_out + h.max(2),
        _ => first_out + h + data_beats - 1,
    };
    let resp = done - ended;
    let interval = match op {
        Op::Read if data_beats > 0 => resp,
        Op::Cas => (h + payload).max(2 + payload).max(resp),
        _ => (h + payload).max(resp),
    };
    OpCycles {
        first_out,
        done,
        interval,
    }
}

pub fn cycles_to_ns(cycles: u32, clock_khz: u32) -> f64 {
    f64::from(cycles) * 1e6 / f64::from(clock_khz)
}

/// One row of the latency table: an op of a given size on a variant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figure {
    pub op: Op,
    pub bytes: u32,
    pub cycles: OpCycles,
    pub first_out_ns: f64,
    pub done_ns: f64,
    /// Payload or data bytes per second, packets back to back.
    pub throughput_bytes_per_s: f64,
    /// Packets per second, back to back.
    pub packets_per_s: f64,
}

pub fn figure(v: &Variant, clock_khz: u32, op: Op, bytes: u32) -> Figure {
    let cycles = ok_cycles(&v.params, op, bytes);
    let interval_s = f64::from(cycles.interval) * 1e3 / f64::from(clock_khz) / 1e6;
    Figure {
        op,
        bytes,
        cycles,
        first_out_ns: cycles_to_ns(cycles.first_out, clock_khz),
        done_ns: cycles_to_ns(cycles.done + 1, clock_khz),
        throughput_bytes_per_s: f64::from(bytes) / interval_s,
        packets_per_s: 1.0 / interval_s,
    }
}

/// Cycles to hand `bytes` from one function to another through remote
/// memory, one-sided: the producer WRITEs the object into a region and the
/// consumer READs it back once the WRITE's response has arrived (each
/// packet's full latency, no overlap). An object larger than the on-chip memory goes in chunks of
/// the whole memory (a region spanning it), a WRITE and a READ per chunk;
/// lengths are padded to whole beats (the ops' alignment rule); an empty
/// object still costs a header-only WRITE and READ. Exact in `u128` for
/// any `u64` size.
pub fn handoff_cycles(p: &HwParams, bytes: u64) -> u128 {
    let b = u64::from(p.bus_bytes());
    let chunk = p.mem_bytes() / b * b;
    let padded = u128::from(bytes.div_ceil(b)) * u128::from(b);
    let (full, rest) = (padded / u128::from(chunk), padded % u128::from(chunk));
    // A chunk is at most the memory size (< 2^32 bytes): `ok_cycles` fits.
    let pair = |len: u128| -> u128 {
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        u128::from(ok_cycles(p, Op::Write, len).latency())
            + u128::from(ok_cycles(p, Op::Read, len).latency())
    };
    let mut cycles = full * pair(u128::from(chunk));
    if rest > 0 || full == 0 {
        cycles += pair(rest);
    }
    cycles
}

/// Cycles the RPC engine spends taking one invocation request with a
/// `payload`-byte argument (header parse, connection check, enqueue): the
/// network stack's part of an invocation when it runs in hardware.
pub fn rpc_cycles(p: &HwParams, payload: u32) -> u128 {
    u128::from(ok_cycles(p, Op::Rpc, payload).latency())
}

/// `cycles` at `clock_khz` in whole microseconds, rounded up (0 kHz is
/// treated as 1 kHz).
pub fn cycles_to_us_ceil(cycles: u128, clock_khz: u32) -> u128 {
    (cycles * 1_000).div_ceil(u128::from(clock_khz.max(1)))
}
