//! The RTL (iverilog) against the reference model: randomized packet
//! streams of every op type, good and malformed, with cycle counts.
//! Needs `iverilog` (Debian package `iverilog`); fails if it is missing.

#[path = "support/rtl.rs"]
mod rtl;

use hivemind_fpga::vectors::{self, Event, Mix};
use hivemind_fpga::{Accelerator, HwParams, Status};

/// Packets per status code.
fn statuses(trace: &vectors::Trace) -> Vec<usize> {
    let mut n = vec![0; Status::ALL.len()];
    for e in &trace.events {
        if let Event::Packet { status, .. } = e {
            n[usize::from(*status)] += 1;
        }
    }
    n
}

#[test]
fn rtl_matches_model_cycle_for_cycle_on_42000_random_packets() {
    let p = HwParams::TEST;
    let seed = 0x4856_4d31;
    let cmds = vectors::random_stream(
        &p,
        seed,
        Mix {
            per_op: 10_500,
            max_words: 64,
        },
    );
    let model = vectors::run_model(&mut Accelerator::new(p, 1), &cmds);
    let n = statuses(&model);
    println!(
        "packets per status {:?}",
        Status::ALL.iter().zip(&n).collect::<Vec<_>>()
    );
    assert!(n[0] >= 25_000, "too few successful packets: {n:?}");
    for (s, count) in Status::ALL.iter().zip(&n) {
        assert!(*count >= 10, "status {s:?} exercised only {count} times");
    }
    let overlapped = model
        .events
        .iter()
        .filter(|e| matches!(e, Event::Packet { next: Some(n), done, .. } if n <= done))
        .count();
    println!("{overlapped} packets overlap the next one in the pipeline");
    assert!(
        overlapped >= 10_000,
        "too few back-to-back packets: {overlapped}"
    );
    let rtl = rtl::simulate(&p, &cmds, "random64", None);
    rtl::assert_same(&model, &rtl, true, seed);
}

#[test]
fn rtl_matches_model_under_random_backpressure() {
    let p = HwParams::TEST;
    let seed = 77;
    let cmds = vectors::random_stream(
        &p,
        seed,
        Mix {
            per_op: 1_500,
            max_words: 32,
        },
    );
    let model = vectors::run_model(&mut Accelerator::new(p, 1), &cmds);
    let rtl = rtl::simulate(&p, &cmds, "stall64", Some(seed));
    rtl::assert_same(&model, &rtl, false, seed);
}

#[test]
fn rtl_matches_model_at_128_bits() {
    let p = HwParams {
        data_bits: 128,
        ..HwParams::TEST
    };
    let seed = 128;
    let cmds = vectors::random_stream(
        &p,
        seed,
        Mix {
            per_op: 1_500,
            max_words: 32,
        },
    );
    let model = vectors::run_model(&mut Accelerator::new(p, 1), &cmds);
    let rtl = rtl::simulate(&p, &cmds, "random128", None);
    rtl::assert_same(&model, &rtl, true, seed);
}

#[test]
fn rtl_rejects_each_bad_packet_with_the_specified_status() {
    let p = HwParams::TEST;
    let cases = vectors::directed_cases(&p);
    let mut cmds = vectors::setup(&p);
    cmds.extend(cases.iter().map(|c| c.command.clone()));
    let model = vectors::run_model(&mut Accelerator::new(p, 1), &cmds);
    let rtl = rtl::simulate(&p, &cmds, "directed", None);
    rtl::assert_same(&model, &rtl, true, 0);
    let skip = model.events.len() - cases.len();
    for (case, event) in cases.iter().zip(&rtl.events[skip..]) {
        if let (Some(want), Event::Packet { status, .. }) = (case.expect, event) {
            assert_eq!(*status, want.code(), "{}: RTL status", case.name);
        }
    }
}

/// Back-to-back bursts with no CSR access in between: header-only RPCs
/// (all accepted), header-only READs and one-word WRITEs. The RTL takes a
/// header every cycle it is offered one: a header-only packet every `H`
/// cycles (1 at 512 bits, 2 at 64), a one-word WRITE every `H + 1`.
#[test]
fn rtl_takes_back_to_back_headers_without_bubbles() {
    use hivemind_fpga::packet::{self, Op, Request, Target};
    use hivemind_fpga::regmap;
    for bits in [64u32, 512] {
        let p = HwParams {
            data_bits: bits,
            ..HwParams::TEST
        };
        let bb = p.bus_bytes();
        let h = p.header_beats();
        let mut cmds = vectors::setup(&p);
        // Function 0's queues (0, 1): 8 slots each.
        for q in 0..2 {
            cmds.push(vectors::Command::CsrWrite(
                regmap::Q_DEPTH.offset + 16 * q,
                8,
            ));
        }
        let burst = 12usize; // weights 1 and 2: 4 RPCs on queue 0, 8 on queue 1
        let pkt = |op: Op, target: Target, len: u32, payload: &[u8], id: u32| {
            let req = Request {
                op: op.code(),
                flags: 0,
                conn: 0,
                req_id: id,
                target,
                len,
            };
            vectors::Command::Packet(packet::to_beats(req.encode(), payload, bb))
        };
        let mem0 = Target::Memory {
            region: 0,
            offset: 0,
        };
        let first = cmds.len();
        for i in 0..burst as u32 {
            cmds.push(pkt(Op::Rpc, Target::Function(0), 0, &[], i));
        }
        for i in 0..burst as u32 {
            cmds.push(pkt(Op::Read, mem0, 0, &[], 100 + i));
        }
        for i in 0..burst as u32 {
            let data = vec![i as u8; bb as usize];
            cmds.push(pkt(Op::Write, mem0, bb, &data, 200 + i));
        }
        let model = vectors::run_model(&mut Accelerator::new(p, 1), &cmds);
        let rtl = rtl::simulate(&p, &cmds, &format!("burst{bits}"), None);
        rtl::assert_same(&model, &rtl, true, 0);
        let spacing: Vec<(u8, Option<u32>)> = rtl.events[first..]
            .iter()
            .map(|e| match e {
                Event::Packet { status, next, .. } => (*status, *next),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        for (i, (status, next)) in spacing.iter().enumerate() {
            assert_eq!(*status, 0, "{bits} bits, packet {i}: status");
            let want = if i < 2 * burst { h } else { h + 1 };
            if i + 1 < spacing.len() && i + 1 != burst && i + 1 != 2 * burst {
                assert_eq!(*next, Some(want), "{bits} bits, packet {i}: spacing");
            }
        }
    }
}

/// Every CSR value check at its boundaries, for the test and the iCE40
/// variants: the write's result and the register read back (and the queue
/// state a rejected or accepted write leaves) agree with the model.
#[test]
fn rtl_checks_csr_write_values_like_the_model() {
    use hivemind_fpga::regmap;
    use vectors::Command::{CsrRead, CsrWrite};
    for v in hivemind_fpga::VARIANTS
        .iter()
        .filter(|v| v.params.data_bits <= 64)
    {
        let p = v.params;
        let words = p.mem_words();
        let mut vals = vec![0, 1, 2, 7, 8, 255, 256, 0x8000_0000, u32::MAX];
        for base in [
            p.slot_shift_max(),
            p.queue_depth_max,
            p.queues,
            words,
            words << 1,
        ] {
            for d in [0, 1, 2] {
                vals.push(base.wrapping_sub(1).wrapping_add(d));
                // Valid low bits with a stray high bit.
                vals.push(base.wrapping_add(d) | 0x100_0000);
            }
        }
        let mut cmds = vectors::setup(&p);
        let last_q = p.queues - 1;
        let last_r = p.regions - 1;
        let regs = [
            (regmap::SLOT_SHIFT.offset, regmap::SLOT_SHIFT.offset),
            (
                regmap::Q_BASE.offset + 16 * last_q,
                regmap::Q_STATUS.offset + 16 * last_q,
            ),
            (
                regmap::Q_DEPTH.offset + 16 * last_q,
                regmap::Q_STATUS.offset + 16 * last_q,
            ),
            (regmap::Q_WEIGHT.offset, regmap::Q_WEIGHT.offset),
            (
                regmap::R_BASE.offset + 16 * last_r,
                regmap::R_BASE.offset + 16 * last_r,
            ),
            (
                regmap::R_SIZE.offset + 16 * last_r,
                regmap::R_SIZE.offset + 16 * last_r,
            ),
        ];
        for (w, r) in regs {
            for &x in &vals {
                cmds.push(CsrWrite(w, x));
                cmds.push(CsrRead(w));
                cmds.push(CsrRead(r));
            }
        }
        for first in 0..=p.queues + 1 {
            for count in [0, 1, p.queues - first.min(p.queues), p.queues + 1, 255] {
                let x = 0x0300_0001 | (first << 8) | (count << 16);
                cmds.push(CsrWrite(regmap::FUNC.offset, x));
                cmds.push(CsrRead(regmap::FUNC.offset));
            }
        }
        // Pops of empty queues (the random streams pop non-empty ones).
        for q in 0..p.queues {
            cmds.push(CsrWrite(regmap::Q_STATUS.offset + 16 * q, 0));
            cmds.push(CsrRead(regmap::Q_STATUS.offset + 16 * q));
        }
        let model = vectors::run_model(&mut Accelerator::new(p, 1), &cmds);
        let rtl = rtl::simulate(&p, &cmds, &format!("csr-{}", v.name), None);
        rtl::assert_same(&model, &rtl, true, 0);
    }
}
