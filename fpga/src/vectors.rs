//! Test vectors for the RTL: a seeded random command stream (configuration,
//! packets good and bad, queue pops, CSR reads and bad CSR writes) produced
//! by running the reference model, the text file the testbench replays,
//! and a parser for the testbench's log so the two can be compared event
//! by event, with cycle counts.

use std::fmt::Write;

use crate::model::Accelerator;
use crate::packet::{self, Op, Request, Target, FLAG_SUPPRESS_OK};
use crate::params::HwParams;
use crate::regmap;
use crate::status::Status;

/// splitmix64: the crate's only randomness, always seeded by the caller.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Beats of one packet; the last element carries `last`.
    Packet(Vec<Vec<u8>>),
    CsrWrite(u32, u32),
    CsrRead(u32),
}

/// What the design did for one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Packet {
        status: u8,
        response: Vec<Vec<u8>>,
        /// Cycles after the first request beat; `None` when nothing was sent.
        first_out: Option<u32>,
        done: u32,
        /// Cycles from this packet's first beat to the next packet's, when
        /// the next command is a packet (sent back to back); `None` before
        /// a CSR access or at the end.
        next: Option<u32>,
    },
    CsrWrite {
        err: u8,
    },
    CsrRead {
        value: u32,
        err: u8,
    },
}

/// The model's view of a run: one event per command and the final memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    pub events: Vec<Event>,
    pub memory: Vec<u8>,
}

/// Runs commands through the model.
pub fn run_model(acc: &mut Accelerator, cmds: &[Command]) -> Trace {
    let mut events: Vec<Event> = cmds.iter().filter_map(|c| step(acc, c)).collect();
    keep_next_only_back_to_back(&mut events);
    Trace {
        events,
        memory: acc.memory().to_vec(),
    }
}

/// `next` is only meaningful when the following event is a packet.
fn keep_next_only_back_to_back(events: &mut [Event]) {
    for i in 0..events.len() {
        let followed = matches!(events.get(i + 1), Some(Event::Packet { .. }));
        if let Some(Event::Packet { next, .. }) = events.get_mut(i) {
            if !followed {
                *next = None;
            }
        }
    }
}

fn step(acc: &mut Accelerator, cmd: &Command) -> Option<Event> {
    Some(match cmd {
        Command::Packet(beats) => {
            let o = acc.packet(beats)?;
            Event::Packet {
                status: o.status.code(),
                response: o.response,
                first_out: o.first_out,
                done: o.done,
                next: Some(o.next),
            }
        }
        Command::CsrWrite(a, v) => Event::CsrWrite {
            err: acc.csr_write(*a, *v) as u8,
        },
        Command::CsrRead(a) => {
            let (value, err) = acc.csr_read(*a);
            Event::CsrRead {
                value,
                err: err as u8,
            }
        }
    })
}

fn hex_le(bytes: &[u8]) -> String {
    bytes.iter().rev().map(|b| format!("{b:02x}")).collect()
}

/// The vector file the testbench reads.
pub fn to_file(cmds: &[Command]) -> String {
    let mut s = String::new();
    for c in cmds {
        match c {
            Command::Packet(beats) => {
                for (i, b) in beats.iter().enumerate() {
                    let last = usize::from(i + 1 == beats.len());
                    let _ = writeln!(s, "{last} 0 {}", hex_le(b));
                }
            }
            Command::CsrWrite(a, v) => {
                let _ = writeln!(s, "2 {a:x} {v:x}");
            }
            Command::CsrRead(a) => {
                let _ = writeln!(s, "3 {a:x} 0");
            }
        }
    }
    s.push_str("f 0 0\n");
    s
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LogError {
    #[error("testbench log line {line}: {what}")]
    Malformed { line: usize, what: String },
    #[error("testbench timed out: {0}")]
    Timeout(String),
    #[error("testbench log has no END line (simulation did not finish)")]
    Unfinished,
}

fn parse_hex_le(s: &str, bytes: usize) -> Option<Vec<u8>> {
    let v: Vec<u8> = (0..s.len() / 2)
        .map(|i| u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    let mut v: Vec<u8> = v.into_iter().rev().collect();
    v.resize(bytes, 0);
    Some(v)
}

/// Cycles from `start` to `at`, if `at` is not earlier and the gap fits.
fn rel(at: u64, start: u64) -> Option<u32> {
    at.checked_sub(start).and_then(|d| u32::try_from(d).ok())
}

/// Parses the testbench log into events (relative cycles) and memory.
pub fn parse_log(text: &str, params: &HwParams) -> Result<Trace, LogError> {
    let bb = params.bus_bytes() as usize;
    let mut events = Vec::new();
    let mut memory = vec![0u8; params.mem_bytes() as usize];
    // Packets overlap in the pipeline: starts queue up; responses and ends
    // come in packet order and belong to the oldest packet not yet done.
    let mut starts: std::collections::VecDeque<u64> = std::collections::VecDeque::new();
    let mut all_starts: Vec<u64> = Vec::new();
    let mut response = Vec::new();
    let mut first_out = None;
    let mut finished = false;
    for (n, line) in text.lines().enumerate() {
        let bad = |what: &str| LogError::Malformed {
            line: n + 1,
            what: format!("{what}: {line:?}"),
        };
        let f: Vec<&str> = line.split_whitespace().collect();
        let num = |i: usize| -> Result<u64, LogError> {
            f.get(i)
                .and_then(|x| x.parse::<u64>().ok())
                .ok_or_else(|| bad("number expected"))
        };
        match f.first().copied() {
            Some("S") => {
                starts.push_back(num(1)?);
                all_starts.push(num(1)?);
            }
            Some("O") => {
                let s = *starts
                    .front()
                    .ok_or_else(|| bad("response outside a packet"))?;
                if first_out.is_none() {
                    first_out = Some(rel(num(1)?, s).ok_or_else(|| bad("beat before its packet"))?);
                }
                let data = f.get(3).and_then(|h| parse_hex_le(h, bb));
                response.push(data.ok_or_else(|| bad("beat data"))?);
            }
            Some("D") => {
                let s = starts
                    .pop_front()
                    .ok_or_else(|| bad("done outside a packet"))?;
                events.push(Event::Packet {
                    status: num(2)? as u8,
                    response: std::mem::take(&mut response),
                    first_out: first_out.take(),
                    done: rel(num(1)?, s).ok_or_else(|| bad("end before its packet"))?,
                    next: None,
                });
            }
            Some("C") => events.push(Event::CsrWrite { err: num(1)? as u8 }),
            Some("R") => {
                let value = f
                    .get(1)
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .ok_or_else(|| bad("read value"))?;
                events.push(Event::CsrRead {
                    value,
                    err: num(2)? as u8,
                });
            }
            Some("M") => {
                let w = num(1)? as usize;
                let data = f
                    .get(2)
                    .and_then(|h| parse_hex_le(h, bb))
                    .ok_or_else(|| bad("memory word"))?;
                memory
                    .get_mut(w * bb..w * bb + bb)
                    .ok_or_else(|| bad("memory address"))?
                    .copy_from_slice(&data);
            }
            Some("END") => finished = true,
            Some("TIMEOUT") => return Err(LogError::Timeout(line.to_string())),
            _ => return Err(bad("unknown line")),
        }
    }
    if !finished {
        return Err(LogError::Unfinished);
    }
    // Packet k's spacing: the gap to packet k + 1's first beat.
    let mut k = 0;
    for e in events.iter_mut() {
        if let Event::Packet { next, .. } = e {
            *next = match (all_starts.get(k), all_starts.get(k + 1)) {
                (Some(a), Some(b)) => rel(*b, *a),
                _ => None,
            };
            k += 1;
        }
    }
    keep_next_only_back_to_back(&mut events);
    Ok(Trace { events, memory })
}

/// How many packets of each kind a stream should contain.
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    /// Packets per op type (RPC, READ, WRITE, CAS), each about 10% malformed.
    pub per_op: usize,
    /// Largest READ/WRITE in bus words.
    pub max_words: u32,
}

pub const RING_BASE_WORD: u32 = 512;

/// The configuration every stream starts with (TEST-sized tables).
pub fn setup(p: &HwParams) -> Vec<Command> {
    use regmap::*;
    let mut c = Vec::new();
    let mut w = |reg: &Register, i: u32, v: u32| {
        c.push(Command::CsrWrite(reg.offset + reg.stride * i, v));
    };
    w(&CTRL, 0, 1);
    w(&SLOT_SHIFT, 0, 3); // 8-word slots: a descriptor and up to 7 payload words
    for i in 0..p.connections {
        let v = match i {
            0..=9 => 0b111,
            10 => 0b011,
            11 => 0b101,
            12 => 0b001,
            _ => 0,
        };
        w(&CONN, i, v);
    }
    let q = p.queues;
    // function: (enable, first queue, count)
    let funcs: [(u32, u32, u32); 6] = [
        (1, 0, 2),
        (1, 2, 3),
        (1, 5, 1),
        (1, 0, 0),
        (1, 6, 2),
        (0, 0, 1),
    ];
    for (i, (en, first, count)) in funcs.iter().enumerate() {
        if (i as u32) < p.functions && first + count <= q {
            w(&FUNC, i as u32, en | first << 8 | count << 16);
        }
    }
    let words_per_queue = (p.mem_words() - RING_BASE_WORD) / q;
    for i in 0..q {
        w(&Q_BASE, i, RING_BASE_WORD + i * words_per_queue);
        w(
            &Q_DEPTH,
            i,
            if i == q - 1 {
                0
            } else {
                1 + i % p.queue_depth_max
            },
        );
        w(&Q_WEIGHT, i, 1 + i % 3);
    }
    // region: (base, size, perm)
    let m = p.mem_words();
    let regions: [(u32, u32, u32); 7] = [
        (0, 256, 0b1111),
        (256, 128, 0b0011),
        (384, 64, 0b0101),
        (448, 64, 0b1011),
        (m - 24, 100, 0b0111),
        (0, 16, 0b1110),
        (RING_BASE_WORD, m - RING_BASE_WORD, 0b1111),
    ];
    for (i, (base, size, perm)) in regions.iter().enumerate() {
        if (i as u32) < p.regions {
            w(&R_BASE, i as u32, *base);
            w(&R_SIZE, i as u32, *size);
            w(&R_PERM, i as u32, *perm);
        }
    }
    c
}

/// A seeded random stream: `setup`, then `mix.per_op` packets of each op
/// interleaved with queue pops, CSR reads and bad CSR writes. Requires
/// TEST-like parameters (at least 8 regions, 8 queues, 1024 words).
pub fn random_stream(p: &HwParams, seed: u64, mix: Mix) -> Vec<Command> {
    let mut rng = Rng::new(seed);
    let mut acc = Accelerator::new(*p, 1);
    let mut cmds = setup(p);
    for c in &cmds {
        step(&mut acc, c);
    }
    let mut left = [mix.per_op; 4];
    let mut req_id = 0u32;
    let total = 4 * mix.per_op as u32;
    while left.iter().any(|n| *n > 0) {
        // A short window with the device disabled (soft reconfiguration).
        if req_id == total / 2 || req_id == total / 2 + 20 {
            let c = Command::CsrWrite(regmap::CTRL.offset, u32::from(req_id != total / 2));
            step(&mut acc, &c);
            cmds.push(c);
        }
        let k = rng.below(4) as usize;
        if left[k] == 0 {
            continue;
        }
        left[k] -= 1;
        req_id = req_id.wrapping_add(1);
        let op = Op::ALL[k];
        let beats = packet_for(&mut rng, &acc, p, op, req_id, mix);
        let cmd = Command::Packet(beats);
        step(&mut acc, &cmd);
        cmds.push(cmd);
        // Workers drain the queues; the host reads state; some writes are bad.
        let mut extra = Vec::new();
        if rng.chance(45) {
            let q = rng.below(u64::from(p.queues)) as u32;
            extra.push(Command::CsrWrite(regmap::Q_STATUS.offset + 16 * q, 0));
        }
        if rng.chance(3) {
            let a = match rng.below(4) {
                0 => regmap::COUNTER.offset + 4 * rng.below(32) as u32,
                1 => regmap::STATUS.offset,
                2 => (rng.below(0x1000) as u32) & !3,
                _ => rng.below(0x1000) as u32,
            };
            extra.push(Command::CsrRead(a));
        }
        if rng.chance(2) {
            let (a, v) = match rng.below(5) {
                0 => (
                    regmap::Q_WEIGHT.offset + 16 * rng.below(8) as u32,
                    rng.below(300) as u32,
                ),
                1 => (regmap::FUNC.offset + 4 * rng.below(8) as u32, 0x0009_0001),
                2 => (0x800 + rng.below(0x800) as u32, rng.next_u64() as u32),
                3 => (regmap::ID.offset, 0),
                _ => (regmap::R_BASE.offset + 16 * 7, 1 << 20),
            };
            extra.push(Command::CsrWrite(a, v));
        }
        for c in extra {
            step(&mut acc, &c);
            cmds.push(c);
        }
    }
    // Read back every counter at the end.
    for i in 0..32 {
        let c = Command::CsrRead(regmap::COUNTER.offset + 4 * i);
        step(&mut acc, &c);
        cmds.push(c);
    }
    cmds
}

fn packet_for(
    rng: &mut Rng,
    acc: &Accelerator,
    p: &HwParams,
    op: Op,
    req_id: u32,
    mix: Mix,
) -> Vec<Vec<u8>> {
    let bb = p.bus_bytes();
    let bad = rng.chance(12);
    let mut conn = rng.below(10) as u16;
    let mut opcode = op.code();
    let mut flags = if rng.chance(10) { FLAG_SUPPRESS_OK } else { 0 };
    let (target, mut len, payload_len) = match op {
        Op::Rpc => {
            let func = if rng.chance(90) {
                rng.below(3)
            } else {
                rng.below(10)
            } as u16;
            let len = rng.below(57) as u32;
            (Target::Function(func), len, len)
        }
        Op::Cas => {
            let region = if rng.chance(70) { 0 } else { rng.below(8) } as u8;
            let size_words = acc
                .tables()
                .regions
                .get(usize::from(region))
                .map_or(64, |r| r.size);
            let offset = (rng.below(u64::from(size_words.max(1)) * u64::from(bb) / 8) * 8) as u32;
            (Target::Memory { region, offset }, 8, 16)
        }
        Op::Read | Op::Write => {
            let region = if rng.chance(75) {
                if rng.chance(50) {
                    0
                } else {
                    6
                }
            } else {
                rng.below(8)
            } as u8;
            let words = if rng.chance(2) {
                mix.max_words
            } else {
                rng.below(u64::from(mix.max_words.min(16)) + 1) as u32
            };
            let size = acc
                .tables()
                .regions
                .get(usize::from(region))
                .map_or(64, |r| r.size);
            let off_w = rng.below(u64::from(size.saturating_sub(words)) + 1) as u32;
            let len = words * bb;
            let payload = if op == Op::Write { len } else { 0 };
            (
                Target::Memory {
                    region,
                    offset: off_w * bb,
                },
                len,
                payload,
            )
        }
    };
    let mut target = target;
    let mut payload = rng.bytes(payload_len as usize);
    if op == Op::Cas {
        // Half the time expect the current value, so the swap happens.
        if let Target::Memory { region, offset } = target {
            if let Some(r) = acc.tables().regions.get(usize::from(region)) {
                let at = (u64::from(r.base) * u64::from(bb) + u64::from(offset)) as usize;
                if rng.chance(50) {
                    if let Some(cur) = acc.memory().get(at..at + 8) {
                        payload[..8].copy_from_slice(cur);
                    }
                }
            }
        }
    }
    let mut trim_beats = 0usize;
    let mut extra_beats = 0usize;
    let mut truncate_header = false;
    if bad {
        match rng.below(10) {
            0 => truncate_header = true,
            1 => trim_beats = 1,
            2 => extra_beats = 1 + rng.below(2) as usize,
            3 => opcode = [0x00, 0x02, 0x13, 0xff][rng.below(4) as usize],
            4 => flags |= 1 << (1 + rng.below(7)),
            5 => conn = 10 + rng.below(8) as u16,
            6 => {
                target = match target {
                    Target::Function(_) => Target::Function(3 + rng.below(300) as u16),
                    Target::Memory { offset, .. } => Target::Memory {
                        region: 4 + rng.below(250) as u8,
                        offset,
                    },
                }
            }
            7 => {
                if let Target::Memory { region, offset } = target {
                    target = Target::Memory {
                        region,
                        offset: offset + 1 + rng.below(7) as u32,
                    };
                }
                len += rng.below(3) as u32;
            }
            8 => {
                if let Target::Memory { region, .. } = target {
                    target = Target::Memory {
                        region,
                        offset: rng.below(1 << 24) as u32,
                    };
                } else {
                    len = 57 + rng.below(100) as u32;
                }
            }
            _ => len = rng.next_u64() as u32,
        }
    }
    let req = Request {
        op: opcode,
        flags,
        conn,
        req_id,
        target,
        len,
    };
    let mut beats = packet::to_beats(req.encode(), &payload, bb);
    let hb = p.header_beats() as usize;
    if truncate_header && hb > 1 {
        beats.truncate(1 + rng.below(hb as u64 - 1) as usize);
    } else if trim_beats > 0 && beats.len() > hb {
        beats.truncate(beats.len() - trim_beats);
    } else {
        for _ in 0..extra_beats {
            beats.push(rng.bytes(bb as usize));
        }
    }
    let _ = Status::Ok;
    beats
}

/// One directed case: a command and, for packets, the status the
/// specification requires.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: &'static str,
    pub command: Command,
    pub expect: Option<Status>,
}

/// Directed cases after [`setup`]: every rejection rule of the spec, each
/// on a packet that is otherwise valid, and a queue filled to QUEUE_FULL.
/// Requires TEST parameters.
fn add(cases: &mut Vec<Case>, name: &'static str, beats: Vec<Vec<u8>>, s: Status) {
    cases.push(Case {
        name,
        command: Command::Packet(beats),
        expect: Some(s),
    });
}

pub fn directed_cases(p: &HwParams) -> Vec<Case> {
    let bb = p.bus_bytes();
    let mut cases = Vec::new();
    let pkt = |op: u8, flags: u8, conn: u16, target: Target, len: u32, payload: &[u8]| {
        let req = Request {
            op,
            flags,
            conn,
            req_id: 0xC0DE,
            target,
            len,
        };
        packet::to_beats(req.encode(), payload, bb)
    };
    let mem = |region: u8, offset: u32| Target::Memory { region, offset };
    let func = Target::Function;
    let (rpc, read, write, cas) = (
        Op::Rpc.code(),
        Op::Read.code(),
        Op::Write.code(),
        Op::Cas.code(),
    );
    let words = |n: u32| vec![0xA5u8; (n * bb) as usize];
    use Status::*;
    add(
        &mut cases,
        "good read",
        pkt(read, 0, 0, mem(0, 0), 2 * bb, &[]),
        Ok,
    );
    add(
        &mut cases,
        "good write",
        pkt(write, 0, 0, mem(0, 0), 2 * bb, &words(2)),
        Ok,
    );
    add(
        &mut cases,
        "good cas",
        pkt(cas, 0, 0, mem(0, 8), 8, &[0; 16]),
        Ok,
    );
    add(
        &mut cases,
        "good rpc",
        pkt(rpc, 0, 0, func(0), 20, &[7; 20]),
        Ok,
    );
    let mut truncated = pkt(read, 0, 0, mem(0, 0), 8, &[]);
    truncated.truncate(1);
    if p.header_beats() > 1 {
        add(
            &mut cases,
            "header cut after one beat",
            truncated,
            Truncated,
        );
    }
    add(
        &mut cases,
        "unknown opcode",
        pkt(0x7F, 0, 0, mem(0, 0), 8, &[]),
        BadHeader,
    );
    add(
        &mut cases,
        "reserved flag bit",
        pkt(read, 0x80, 0, mem(0, 0), 8, &[]),
        BadHeader,
    );
    add(
        &mut cases,
        "connection not open",
        pkt(read, 0, 13, mem(0, 0), 8, &[]),
        UnknownConnection,
    );
    add(
        &mut cases,
        "connection outside the table",
        pkt(read, 0, 200, mem(0, 0), 8, &[]),
        UnknownConnection,
    );
    add(
        &mut cases,
        "rpc on a memory-only connection",
        pkt(rpc, 0, 11, func(0), 8, &[1; 8]),
        PermissionDenied,
    );
    add(
        &mut cases,
        "read on an rpc-only connection",
        pkt(read, 0, 10, mem(0, 0), 8, &[]),
        PermissionDenied,
    );
    add(
        &mut cases,
        "function never configured",
        pkt(rpc, 0, 0, func(7), 8, &[1; 8]),
        UnknownFunction,
    );
    add(
        &mut cases,
        "function with no queues",
        pkt(rpc, 0, 0, func(3), 8, &[1; 8]),
        UnknownFunction,
    );
    add(
        &mut cases,
        "function disabled",
        pkt(rpc, 0, 0, func(5), 8, &[1; 8]),
        UnknownFunction,
    );
    add(
        &mut cases,
        "function id 999",
        pkt(rpc, 0, 0, func(999), 8, &[1; 8]),
        UnknownFunction,
    );
    add(
        &mut cases,
        "rpc larger than a slot",
        pkt(
            rpc,
            0,
            0,
            func(0),
            7 * bb + 1,
            &vec![1; (7 * bb + 1) as usize],
        ),
        BadLength,
    );
    let mut short = pkt(rpc, 0, 0, func(0), 3 * bb, &words(3));
    short.pop();
    add(
        &mut cases,
        "rpc payload shorter than its length",
        short,
        BadLength,
    );
    let mut long = pkt(rpc, 0, 0, func(0), 2 * bb, &words(2));
    long.push(vec![0; bb as usize]);
    add(
        &mut cases,
        "rpc payload longer than its length",
        long,
        BadLength,
    );
    let mut wshort = pkt(write, 0, 0, mem(0, 0), 4 * bb, &words(4));
    wshort.pop();
    add(
        &mut cases,
        "write payload shorter than its length",
        wshort,
        BadLength,
    );
    add(
        &mut cases,
        "write payload longer than its length",
        pkt(write, 0, 0, mem(0, 0), bb, &words(2)),
        BadLength,
    );
    add(
        &mut cases,
        "write with no payload at all",
        pkt(write, 0, 0, mem(0, 0), bb, &[]),
        BadLength,
    );
    add(
        &mut cases,
        "read carrying a payload",
        pkt(read, 0, 0, mem(0, 0), bb, &words(1)),
        BadLength,
    );
    add(
        &mut cases,
        "cas of 16 bytes",
        pkt(cas, 0, 0, mem(0, 0), 16, &[0; 16]),
        BadLength,
    );
    add(
        &mut cases,
        "cas missing its operands",
        pkt(cas, 0, 0, mem(0, 0), 8, &[]),
        BadLength,
    );
    add(
        &mut cases,
        "region never configured",
        pkt(read, 0, 0, mem(7, 0), bb, &[]),
        UnknownRegion,
    );
    add(
        &mut cases,
        "region not valid",
        pkt(read, 0, 0, mem(5, 0), bb, &[]),
        UnknownRegion,
    );
    add(
        &mut cases,
        "region id 200",
        pkt(read, 0, 0, mem(200, 0), bb, &[]),
        UnknownRegion,
    );
    add(
        &mut cases,
        "write to a read-only region",
        pkt(write, 0, 0, mem(1, 0), bb, &words(1)),
        PermissionDenied,
    );
    add(
        &mut cases,
        "read from a write-only region",
        pkt(read, 0, 0, mem(2, 0), bb, &[]),
        PermissionDenied,
    );
    add(
        &mut cases,
        "cas on a region without atomics",
        pkt(cas, 0, 0, mem(4, 0), 8, &[0; 16]),
        PermissionDenied,
    );
    add(
        &mut cases,
        "misaligned offset",
        pkt(read, 0, 0, mem(0, 3), bb, &[]),
        Misaligned,
    );
    add(
        &mut cases,
        "misaligned length",
        pkt(read, 0, 0, mem(0, 0), bb + 1, &[]),
        Misaligned,
    );
    add(
        &mut cases,
        "cas offset not 8-aligned",
        pkt(cas, 0, 0, mem(0, 4), 8, &[0; 16]),
        Misaligned,
    );
    add(
        &mut cases,
        "offset past the region",
        pkt(read, 0, 0, mem(1, 128 * bb), bb, &[]),
        OutOfBounds,
    );
    add(
        &mut cases,
        "length past the region",
        pkt(read, 0, 0, mem(1, 120 * bb), 9 * bb, &[]),
        OutOfBounds,
    );
    add(
        &mut cases,
        "region reaching past memory",
        pkt(read, 0, 0, mem(4, 20 * bb), 8 * bb, &[]),
        OutOfBounds,
    );
    add(
        &mut cases,
        "largest offset",
        pkt(read, 0, 0, mem(0, (1 << 24) - bb), bb, &[]),
        OutOfBounds,
    );
    add(
        &mut cases,
        "largest length",
        pkt(read, 0, 0, mem(0, 0), u32::MAX - (bb - 1), &[]),
        OutOfBounds,
    );
    // Function 2 has one queue (5) of depth 6: six fit, the seventh is refused.
    for _ in 0..6 {
        add(
            &mut cases,
            "fill function 2's queue",
            pkt(rpc, 0, 1, func(2), bb, &words(1)),
            Ok,
        );
    }
    add(
        &mut cases,
        "queue full",
        pkt(rpc, 0, 1, func(2), bb, &words(1)),
        QueueFull,
    );
    add(
        &mut cases,
        "suppressed write",
        pkt(write, FLAG_SUPPRESS_OK, 0, mem(0, 0), bb, &words(1)),
        Ok,
    );
    cases.push(Case {
        name: "disable",
        command: Command::CsrWrite(regmap::CTRL.offset, 0),
        expect: None,
    });
    add(
        &mut cases,
        "refused while disabled",
        pkt(read, 0, 0, mem(0, 0), bb, &[]),
        Disabled,
    );
    cases.push(Case {
        name: "enable",
        command: Command::CsrWrite(regmap::CTRL.offset, 1),
        expect: None,
    });
    cases.push(Case {
        name: "pop queue 5",
        command: Command::CsrWrite(regmap::Q_STATUS.offset + 16 * 5, 0),
        expect: None,
    });
    add(
        &mut cases,
        "queue has room again",
        pkt(rpc, 0, 1, func(2), bb, &words(1)),
        Ok,
    );
    cases
}
