//! The model against the specification: each rejection rule gives its
//! status (data-driven, the same cases the RTL replays), responses carry
//! the documented fields, and untrusted packets or register writes never
//! panic.

use hivemind_fpga::packet::{self, Op, Request, Target};
use hivemind_fpga::vectors::{self, Command, Rng};
use hivemind_fpga::{regmap, Accelerator, CsrError, HwParams, Status};

fn configured(p: HwParams) -> Accelerator {
    let mut acc = Accelerator::new(p, 1);
    for c in vectors::setup(&p) {
        if let Command::CsrWrite(a, v) = c {
            assert_eq!(acc.csr_write(a, v), CsrError::None, "setup write {a:#x}");
        }
    }
    acc
}

#[test]
fn every_directed_case_gets_the_specified_status() {
    for bits in [64, 128, 512] {
        let p = HwParams {
            data_bits: bits,
            ..HwParams::TEST
        };
        let mut acc = configured(p);
        for case in vectors::directed_cases(&p) {
            match case.command {
                Command::Packet(beats) => {
                    let out = acc.packet(&beats).expect("non-empty");
                    assert_eq!(
                        Some(out.status),
                        case.expect,
                        "{} at {bits} bits",
                        case.name
                    );
                    let h = acc.params().header_beats() as usize;
                    if out.status != Status::Ok {
                        assert_eq!(
                            out.response.len(),
                            h,
                            "{}: an error is a bare header",
                            case.name
                        );
                    }
                }
                Command::CsrWrite(a, v) => assert_eq!(acc.csr_write(a, v), CsrError::None),
                Command::CsrRead(a) => {
                    acc.csr_read(a);
                }
            }
        }
    }
}

#[test]
fn responses_echo_the_request_and_report_the_dispatch() {
    let p = HwParams::TEST;
    let mut acc = configured(p);
    let req = Request {
        op: Op::Rpc.code(),
        flags: 0,
        conn: 4,
        req_id: 0x1234_5678,
        target: Target::Function(1),
        len: 10,
    };
    let out = acc
        .packet(&packet::to_beats(req.encode(), &[9; 10], 8))
        .unwrap();
    let mut h = [0u8; 16];
    h[..8].copy_from_slice(&out.response[0]);
    h[8..].copy_from_slice(&out.response[1]);
    let r = packet::Response {
        header: u128::from_le_bytes(h),
    };
    assert_eq!(r.status(), Some(Status::Ok));
    assert_eq!(r.req_id(), 0x1234_5678);
    assert_eq!(r.queue(), 2, "function 1's first queue");
    assert_eq!(r.slot(), 0);
    assert_eq!(r.data_len(), 10);
    assert_eq!(packet::R_OP.get(r.header), 0x81);
    // The descriptor and payload are in the queue's ring.
    let q = acc.tables().queues[2];
    let at = q.base as usize * 8;
    assert_eq!(
        &acc.memory()[at..at + 8],
        &[0x78, 0x56, 0x34, 0x12, 4, 0, 10, 0]
    );
    assert_eq!(&acc.memory()[at + 8..at + 18], &[9; 10]);
}

#[test]
fn weighted_round_robin_follows_the_weights() {
    let p = HwParams::TEST;
    let mut acc = configured(p);
    // Function 1: queues 2, 3, 4 with weights 3, 1, 2 (setup: 1 + q % 3).
    let mut got = Vec::new();
    for i in 0..12 {
        let req = Request {
            op: 1,
            flags: 0,
            conn: 0,
            req_id: i,
            target: Target::Function(1),
            len: 0,
        };
        let out = acc.packet(&packet::to_beats(req.encode(), &[], 8)).unwrap();
        let mut h = [0u8; 16];
        h[..8].copy_from_slice(&out.response[0]);
        h[8..].copy_from_slice(&out.response[1]);
        let r = packet::Response {
            header: u128::from_le_bytes(h),
        };
        if r.status() == Some(Status::Ok) {
            got.push(r.queue());
        } else {
            got.push(99);
        }
        // Drain so depth never limits the pattern.
        let q = u32::from(r.queue());
        acc.csr_write(regmap::Q_STATUS.offset + 16 * q, 0);
    }
    assert_eq!(got, [2, 2, 2, 3, 4, 4, 2, 2, 2, 3, 4, 4]);
}

#[test]
fn arbitrary_beats_and_register_writes_never_panic() {
    for bits in [64, 256] {
        let p = HwParams {
            data_bits: bits,
            ..HwParams::TEST
        };
        let mut acc = configured(p);
        let mut rng = Rng::new(bits.into());
        for _ in 0..20_000 {
            if rng.chance(5) {
                let a = rng.next_u64() as u32;
                let a = if rng.chance(80) { a & 0xFFC } else { a };
                acc.csr_write(a, rng.next_u64() as u32);
                acc.csr_read(a);
                acc.csr_write(regmap::CTRL.offset, 1);
                continue;
            }
            let n = 1 + rng.below(12) as usize;
            let beats: Vec<Vec<u8>> = (0..n)
                .map(|_| {
                    let len = if rng.chance(90) {
                        bits as usize / 8
                    } else {
                        rng.below(80) as usize
                    };
                    let mut b = rng.bytes(len);
                    if rng.chance(60) && !b.is_empty() {
                        // Mostly real opcodes and small ids, so checks pass deeper.
                        b[0] = [1, 0x10, 0x11, 0x12][rng.below(4) as usize];
                        if b.len() > 3 {
                            b[1] = 0;
                            b[2] = rng.below(12) as u8;
                            b[3] = 0;
                        }
                    }
                    b
                })
                .collect();
            let out = acc.packet(&beats).unwrap();
            assert!(out.done >= out.first_out.unwrap_or(0));
        }
        assert!(acc.packet(&[]).is_none());
    }
}

#[test]
fn csr_rules() {
    let p = HwParams::TEST;
    let mut acc = Accelerator::new(p, 1);
    assert_eq!(
        acc.csr_read(regmap::ID.offset),
        (regmap::ID_VALUE, CsrError::None)
    );
    assert_eq!(acc.csr_write(regmap::ID.offset, 1), CsrError::ReadOnly);
    assert_eq!(acc.csr_write(0x01C, 1), CsrError::BadAddress);
    assert_eq!(
        acc.csr_write(regmap::CONN.offset + 4 * 16, 1),
        CsrError::BadAddress,
        "entry beyond the build's table"
    );
    assert_eq!(
        acc.csr_write(regmap::Q_WEIGHT.offset, 0),
        CsrError::BadValue
    );
    assert_eq!(acc.csr_write(regmap::Q_DEPTH.offset, 9), CsrError::BadValue);
    assert_eq!(
        acc.csr_write(regmap::FUNC.offset, 0x0002_0701),
        CsrError::BadValue,
        "queues 7..9 of 8"
    );
    assert_eq!(
        acc.csr_write(regmap::R_SIZE.offset, 1025),
        CsrError::BadValue
    );
    assert_eq!(
        acc.csr_write(regmap::SLOT_SHIFT.offset, 11),
        CsrError::BadValue
    );
    assert_eq!(
        acc.csr_write(regmap::Q_STATUS.offset, 0),
        CsrError::QueueEmpty
    );
    let (status, _) = acc.csr_read(regmap::STATUS.offset);
    assert_eq!(
        regmap::STATUS_CSR_ERR.get(status),
        CsrError::QueueEmpty as u32
    );
    let (caps0, _) = acc.csr_read(regmap::CAPS0.offset);
    assert_eq!(regmap::CAPS0_BUS_BYTES.get(caps0), 8);
    assert_eq!(regmap::CAPS0_VARIANT.get(caps0), 1);
}
