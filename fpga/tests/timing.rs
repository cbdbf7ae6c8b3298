//! The closed-form latencies the simulator reads (`timing::ok_cycles`)
//! equal the cycle model's for every op and size, at every width.

use hivemind_fpga::packet::{self, Op, Request, Target, FLAG_SUPPRESS_OK};
use hivemind_fpga::timing::{self, ok_cycles};
use hivemind_fpga::vectors::{self, Command};
use hivemind_fpga::{Accelerator, HwParams, Status, VARIANTS};

#[test]
fn closed_forms_match_the_cycle_model() {
    for bits in [64, 128, 256, 512] {
        let p = HwParams {
            data_bits: bits,
            ..HwParams::TEST
        };
        let mut acc = Accelerator::new(p, 1);
        for c in vectors::setup(&p) {
            if let Command::CsrWrite(a, v) = c {
                acc.csr_write(a, v);
            }
        }
        let bb = p.bus_bytes();
        for op in Op::ALL {
            for words in 0..8u32 {
                let len = match op {
                    Op::Rpc => words * bb - words.min(1) * 3, // unaligned RPC sizes too
                    Op::Cas => 8,
                    _ => words * bb,
                };
                for flags in [0, FLAG_SUPPRESS_OK] {
                    let target = match op {
                        Op::Rpc => Target::Function(0),
                        _ => Target::Memory {
                            region: 0,
                            offset: 0,
                        },
                    };
                    let req = Request {
                        op: op.code(),
                        flags,
                        conn: 0,
                        req_id: 1,
                        target,
                        len,
                    };
                    let payload = match op {
                        Op::Rpc | Op::Write => vec![1; len as usize],
                        Op::Cas => vec![0; 16],
                        Op::Read => vec![],
                    };
                    let out = acc
                        .packet(&packet::to_beats(req.encode(), &payload, bb))
                        .unwrap();
                    assert_eq!(out.status, Status::Ok, "{op:?} {len} B at {bits} bits");
                    let want = ok_cycles(&p, op, len);
                    let suppressed = flags != 0 && matches!(op, Op::Rpc | Op::Write);
                    if suppressed {
                        assert_eq!((out.first_out, out.done), (None, want.first_out));
                    } else {
                        assert_eq!(
                            (out.first_out, out.done),
                            (Some(want.first_out), want.done),
                            "{op:?} {len} B at {bits} bits"
                        );
                    }
                    // Free the RPC slot again.
                    acc.csr_write(hivemind_fpga::regmap::Q_STATUS.offset, 0);
                    acc.csr_write(hivemind_fpga::regmap::Q_STATUS.offset + 16, 0);
                }
            }
        }
    }
}

#[test]
fn a_64_byte_read_is_under_a_microsecond() {
    for v in VARIANTS {
        let f = timing::figure(v, v.target_clock_khz, Op::Read, 64);
        assert!(f.done_ns < 1_000.0, "{}: {} ns", v.name, f.done_ns);
    }
}

#[test]
fn the_ice40_fmax_constant_is_the_reported_one() {
    let report = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/reports/synth.md"))
        .expect("reports/synth.md (fpga/scripts/synth.sh)");
    let row = report
        .lines()
        .find(|l| l.starts_with("| ice40 |"))
        .expect("ice40 row");
    let fmax = row.split('|').nth(9).expect("Fmax column").trim();
    let mhz: f64 = fmax.trim_end_matches("MHz").parse().expect("MHz figure");
    assert_eq!(
        (mhz * 1000.0).round() as u32,
        timing::ICE40_FMAX_KHZ,
        "update timing::ICE40_FMAX_KHZ"
    );
}

/// The steady-state spacing `ok_cycles(..).interval` is what the cycle
/// model gives identical packets sent back to back.
#[test]
fn intervals_match_the_cycle_model() {
    for bits in [64, 128, 256, 512] {
        let p = HwParams {
            data_bits: bits,
            ..HwParams::TEST
        };
        let bb = p.bus_bytes();
        for op in Op::ALL {
            for words in 0..8u32 {
                let mut acc = Accelerator::new(p, 1);
                for c in vectors::setup(&p) {
                    if let Command::CsrWrite(a, v) = c {
                        acc.csr_write(a, v);
                    }
                }
                for q in 0..2 {
                    acc.csr_write(hivemind_fpga::regmap::Q_DEPTH.offset + 16 * q, 8);
                }
                let len = match op {
                    Op::Rpc => words * bb - words.min(1) * 3,
                    Op::Cas => 8,
                    _ => words * bb,
                };
                let target = match op {
                    Op::Rpc => Target::Function(0),
                    _ => Target::Memory {
                        region: 0,
                        offset: 0,
                    },
                };
                let payload = match op {
                    Op::Rpc | Op::Write => vec![1; len as usize],
                    Op::Cas => vec![0; 16],
                    Op::Read => vec![],
                };
                let outs: Vec<_> = (0..4)
                    .map(|i| {
                        let req = Request {
                            op: op.code(),
                            flags: 0,
                            conn: 0,
                            req_id: i,
                            target,
                            len,
                        };
                        acc.packet(&packet::to_beats(req.encode(), &payload, bb))
                            .unwrap()
                    })
                    .collect();
                let want = ok_cycles(&p, op, len).interval;
                for o in &outs[1..3] {
                    assert_eq!(o.status, Status::Ok, "{op:?} {len} B at {bits} bits");
                    assert_eq!(o.next, want, "{op:?} {len} B at {bits} bits: spacing");
                }
            }
        }
    }
}
