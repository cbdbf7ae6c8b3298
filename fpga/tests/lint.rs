//! `verilator --lint-only -Wall` is clean for every bitstream variant and
//! every data path width. Needs `verilator` (Debian package `verilator`).

#[path = "support/rtl.rs"]
mod rtl;

use std::process::Command;
use std::time::Duration;

use hivemind_fpga::{HwParams, VARIANTS};

fn lint(p: &HwParams, variant_id: u32) {
    let mut cmd = Command::new("verilator");
    cmd.current_dir(rtl::fpga_dir())
        .args(["--lint-only", "-Wall", "-Irtl", "--top-module", "hm_fpga"])
        .args([
            format!("-GDW={}", p.data_bits),
            format!("-GAW={}", p.mem_addr_bits),
            format!("-GN_CONN={}", p.connections),
            format!("-GN_FUNC={}", p.functions),
            format!("-GN_QUEUE={}", p.queues),
            format!("-GN_REGION={}", p.regions),
            format!("-GQDEPTH_MAX={}", p.queue_depth_max),
            format!("-GVARIANT_ID={variant_id}"),
        ])
        .args(rtl::RTL);
    let (ok, text) = rtl::run_bounded(&mut cmd, Duration::from_secs(60));
    assert!(
        ok && text.trim().is_empty(),
        "verilator lint of {p:?}:\n{text}"
    );
}

#[test]
fn rtl_is_lint_clean_for_every_variant_and_width() {
    rtl::require_tool("verilator", "verilator");
    for v in VARIANTS {
        lint(&v.params, v.id);
    }
    for bits in [128, 256] {
        lint(
            &HwParams {
                data_bits: bits,
                ..HwParams::TEST
            },
            0,
        );
    }
}
