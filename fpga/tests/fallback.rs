//! The software fallback has the model's semantics: the same random
//! sequence of driver calls on `SoftwareFabric` (plain memory) and on
//! `ModelledFabric` (real packets through the cycle model) gives the same
//! results, the same queue contents, the same memory and the same tables.

use hivemind_fpga::driver::{Csr, ModelledFabric, RemoteMemory, RpcOffload, SoftwareFabric};
use hivemind_fpga::vectors::{self, Command, Rng};
use hivemind_fpga::HwParams;

fn configure(f: &mut impl Csr, p: &HwParams) {
    for c in vectors::setup(p) {
        if let Command::CsrWrite(a, v) = c {
            f.csr_write(a, v);
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Read(Result<Vec<u8>, hivemind_fpga::Status>),
    Unit(Result<(), hivemind_fpga::Status>),
    Cas(Result<u64, hivemind_fpga::Status>),
    Rpc(Result<hivemind_fpga::driver::Dispatch, hivemind_fpga::Status>),
    Pop(Option<hivemind_fpga::driver::RpcRequest>),
}

fn call<F: RemoteMemory + RpcOffload>(f: &mut F, rng: &mut Rng, bb: u32) -> Outcome {
    let conn = if rng.chance(90) {
        rng.below(10)
    } else {
        rng.below(16)
    } as u16;
    let region = if rng.chance(80) {
        [0, 6, 3][rng.below(3) as usize]
    } else {
        rng.below(9) as u8
    };
    let aligned = rng.chance(90);
    let mut offset = rng.below(300) as u32 * bb;
    if !aligned {
        offset += 1 + rng.below(u64::from(bb) - 1) as u32;
    }
    match rng.below(5) {
        0 => Outcome::Read(f.read(conn, region, offset, rng.below(20) as u32 * bb)),
        1 => {
            let n = (rng.below(20) as u32 * bb) as usize;
            let data = rng.bytes(n);
            Outcome::Unit(f.write(conn, region, offset, &data))
        }
        2 => {
            let off = (offset / 8) * 8 + if aligned { 0 } else { 4 };
            let expected = if rng.chance(50) { 0 } else { rng.next_u64() };
            Outcome::Cas(f.compare_and_swap(conn, region, off, expected, rng.next_u64()))
        }
        3 => {
            let func = if rng.chance(90) {
                rng.below(3)
            } else {
                rng.below(9)
            } as u16;
            let n = rng.below(70) as usize;
            let payload = rng.bytes(n);
            Outcome::Rpc(f.submit(conn, func, rng.next_u64() as u32, &payload))
        }
        _ => Outcome::Pop(f.pop(rng.below(8) as u16)),
    }
}

#[test]
fn software_fallback_equals_the_modelled_hardware() {
    for bits in [64, 256] {
        let p = HwParams {
            data_bits: bits,
            ..HwParams::TEST
        };
        let mut sw = SoftwareFabric::new(p, 1);
        let mut hw = ModelledFabric::new(p, 1);
        configure(&mut sw, &p);
        configure(&mut hw, &p);
        let seed = 0xFA11 + u64::from(bits);
        let (mut rs, mut rh) = (Rng::new(seed), Rng::new(seed));
        let mut oks = 0;
        for i in 0..20_000 {
            let a = call(&mut sw, &mut rs, p.bus_bytes());
            let b = call(&mut hw, &mut rh, p.bus_bytes());
            assert_eq!(a, b, "call {i} differs (seed {seed}, {bits} bits)");
            if matches!(
                &a,
                Outcome::Read(Ok(_))
                    | Outcome::Unit(Ok(()))
                    | Outcome::Cas(Ok(_))
                    | Outcome::Rpc(Ok(_))
                    | Outcome::Pop(Some(_))
            ) {
                oks += 1;
            }
        }
        assert!(oks > 8_000, "too few successful calls: {oks}");
        assert_eq!(
            sw.memory(),
            hw.accelerator().memory(),
            "memory ({bits} bits)"
        );
        assert_eq!(
            sw.tables(),
            hw.accelerator().tables(),
            "tables and counters ({bits} bits)"
        );
        assert!(hw.cycles() > 0);
    }
}
