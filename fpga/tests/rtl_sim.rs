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
