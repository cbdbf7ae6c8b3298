//! The cost model's FPGA figures are the accelerator's cycle model's: a
//! remote-memory hand-off costs what the modelled hardware spends moving
//! the same bytes (a WRITE then a READ per chunk, packets sent through the
//! cycle model), and an FPGA invocation the fabric's RPC cycles on top of
//! the host's part.

use hivemind_cost::{modality_index, CostModel, FpgaVariant, Profile, FPGA_RPC_ARGUMENT_BYTES};
use hivemind_fpga::driver::{Csr, ModelledFabric, RemoteMemory};
use hivemind_fpga::regmap::{self, CONN, CTRL, R_BASE, R_PERM, R_SIZE};
use hivemind_fpga::timing::{self, cycles_to_us_ceil};
use hivemind_fpga::{Status, VARIANTS};
use hivemind_ir::plan::Modality;

/// Cycles the modelled hardware spends handing `bytes` over: the producer
/// writes the object into a region spanning the memory, the consumer
/// reads it back, chunk by chunk.
fn modelled_handoff_cycles(v: &hivemind_fpga::Variant, bytes: u64) -> u64 {
    let p = v.params;
    let mut fab = ModelledFabric::new(p, u8::try_from(v.id).expect("small id"));
    let ok = hivemind_fpga::CsrError::None;
    assert_eq!(fab.csr_write(CTRL.offset, regmap::CTRL_ENABLE.mask()), ok);
    let conn = regmap::CONN_VALID.mask() | regmap::CONN_ALLOW_MEM.mask();
    assert_eq!(fab.csr_write(CONN.offset, conn), ok);
    assert_eq!(fab.csr_write(R_BASE.offset, 0), ok);
    assert_eq!(fab.csr_write(R_SIZE.offset, p.mem_words()), ok);
    let perm = regmap::RPERM_VALID.mask() | regmap::RPERM_READ.mask() | regmap::RPERM_WRITE.mask();
    assert_eq!(fab.csr_write(R_PERM.offset, perm), ok);
    let b = u64::from(p.bus_bytes());
    let padded = bytes.div_ceil(b) * b;
    let chunk = p.mem_bytes();
    let mut left = padded;
    loop {
        let len = left.min(chunk);
        let data = vec![0x5a; usize::try_from(len).expect("fits")];
        assert_eq!(fab.write(0, 0, 0, &data), Ok::<(), Status>(()));
        assert_eq!(
            fab.read(0, 0, 0, u32::try_from(len).expect("fits")),
            Ok(data)
        );
        left -= len;
        if left == 0 {
            break;
        }
    }
    fab.cycles()
}

const SIZES: [u64; 7] = [0, 1, 64, 1_000, 8_192, 100_000, 1_048_576];

#[test]
fn remote_memory_handoffs_cost_what_the_cycle_model_spends() {
    for v in VARIANTS {
        for bytes in SIZES {
            let cycles = modelled_handoff_cycles(v, bytes);
            assert_eq!(
                timing::handoff_cycles(&v.params, bytes),
                u128::from(cycles),
                "{} {bytes} B",
                v.name
            );
            let mut profile = Profile::default();
            profile.fpga.variant = FpgaVariant(v);
            assert_eq!(
                profile.fpga.remote_memory_us(bytes),
                cycles_to_us_ceil(u128::from(cycles), v.target_clock_khz),
                "{} {bytes} B",
                v.name
            );
        }
    }
    // test64 (the default): 10 GbE, 8 bytes a cycle at 156.25 MHz, each
    // byte written then read: 100 kB in a little over 160 µs.
    let p = Profile::default();
    assert_eq!(p.fpga.variant.0.name, "test64");
    let us = p.fpga.remote_memory_us(100_000);
    assert!((160..=170).contains(&us), "{us} µs");
    // A slower clock scales it.
    let mut slow = Profile::default();
    slow.fpga.clock_khz = 15_625;
    assert_eq!(
        slow.fpga.remote_memory_us(100_000),
        cycles_to_us_ceil(timing::handoff_cycles(&VARIANTS[0].params, 100_000), 15_625)
    );
}

/// A mission's FPGA-to-FPGA edge is charged the cycle model's hand-off,
/// and an FPGA invocation the host's part plus the fabric's RPC cycles.
#[test]
fn the_cost_model_charges_the_cycle_models_figures() {
    let src = "mission m {
  duration 10 min
  fleet d: drone x 2 { cpu 1 GHz; battery 100 Wh; radio 20 Mbit/s; sensors camera }
  cloud { servers 2; cores 8 each; fpga }
  task capture on d -> frame: jpeg 100 KB { every 2 s; needs camera }
  task detect(frame) at cloud -> crops: jpeg 300 KB { work 1 Gop; fn detect }
  task classify(crops) at cloud { work 1 Gop; fn classify }
}
";
    let graph = hivemind_dsl::compile(src, "m.hm").graph.expect("compiles");
    for v in VARIANTS {
        let mut profile = Profile::default();
        profile.fpga.variant = FpgaVariant(v);
        let model = CostModel::new(&graph, profile.clone()).expect("model");
        let f = modality_index(Modality::CloudFpga);
        let edge = graph
            .edges
            .iter()
            .position(|e| e.from.index() == 1 && e.to.index() == 2)
            .expect("detect -> classify");
        let cycles = modelled_handoff_cycles(v, 300_000);
        assert_eq!(
            model.edges[edge].transfer_us[f][f].get(),
            u64::try_from(cycles_to_us_ceil(u128::from(cycles), v.target_clock_khz)).ok(),
            "{}",
            v.name
        );
        let rpc = timing::rpc_cycles(&v.params, FPGA_RPC_ARGUMENT_BYTES);
        let overhead =
            u128::from(profile.fpga.rpc_overhead_us) + cycles_to_us_ceil(rpc, v.target_clock_khz);
        let warm = |m: Modality| model.tasks[2].warm_us[modality_index(m)].expect("cloud time");
        let cloud_overhead = u128::from(profile.cloud.rpc_overhead_us);
        assert_eq!(
            u128::from(warm(Modality::CloudFpga)) + cloud_overhead,
            u128::from(warm(Modality::Cloud)) + overhead,
            "{}",
            v.name
        );
    }
}

#[test]
fn a_profile_names_its_variant_and_clock() {
    let p =
        Profile::from_toml("[fpga]\nvariant = \"wide512\"\nclock_khz = 100000\n").expect("valid");
    assert_eq!(p.fpga.variant.0.name, "wide512");
    assert_eq!(p.fpga.clock(), 100_000);
    let err = Profile::from_toml("[fpga]\nvariant = \"virtex\"\n").expect_err("unknown");
    assert!(err.to_string().contains("test64, ice40, wide512"), "{err}");
    let err = Profile::from_toml("[fpga]\nclock_khz = 5\n").expect_err("too slow");
    assert!(err.to_string().contains("fpga.clock_khz"), "{err}");
    let err = Profile::from_toml("[fpga]\nremote_memory_bps = 5\n").expect_err("gone");
    assert!(err.to_string().contains("remote_memory_bps"), "{err}");
    assert_eq!(
        Profile::from_toml("[fpga]\nclock_khz = 0\n")
            .expect("target")
            .fpga
            .clock(),
        156_250
    );
}
