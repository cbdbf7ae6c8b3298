//! Running the RTL tools from tests: tool checks that fail with the apt
//! package to install, an iverilog build of the replay testbench, a bounded
//! simulation, and event-by-event comparison with the model.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hivemind_fpga::vectors::{self, Event, Trace};
use hivemind_fpga::HwParams;

pub fn fpga_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub const RTL: &[&str] = &[
    "rtl/hm_fpga.v",
    "rtl/hm_engine.v",
    "rtl/hm_csr.v",
    "rtl/hm_ram.v",
];

/// Panics (never skips) when a tool is missing, naming the Debian package.
pub fn require_tool(tool: &str, package: &str) {
    let found = Command::new(tool)
        .arg(if tool == "iverilog" {
            "-V"
        } else {
            "--version"
        })
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        found,
        "`{tool}` not found: install the Debian package `{package}` (apt-get install -y {package}); \
         scripts/install-deps does this"
    );
}

pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hm-fpga-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Runs a command with a wall-clock limit; returns stdout+stderr.
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> (bool, String) {
    let dir = scratch("out");
    let out_path = dir.join(format!("{:?}.txt", Instant::now()).replace(['{', '}', ' ', ':'], "_"));
    let out = std::fs::File::create(&out_path).expect("output file");
    let err = out.try_clone().expect("clone");
    let mut child = cmd
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let start = Instant::now();
    let ok = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status.success();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} exceeded {limit:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = std::fs::read_to_string(&out_path).unwrap_or_default();
    (ok, text)
}

fn param_args(p: &HwParams, top: &str) -> Vec<String> {
    [
        ("DW", p.data_bits),
        ("AW", p.mem_addr_bits),
        ("N_CONN", p.connections),
        ("N_FUNC", p.functions),
        ("N_QUEUE", p.queues),
        ("N_REGION", p.regions),
        ("QDEPTH_MAX", p.queue_depth_max),
    ]
    .iter()
    .map(|(n, v)| format!("-P{top}.{n}={v}"))
    .collect()
}

/// Compiles the replay testbench for `p` and returns the vvp image path.
pub fn build_tb(p: &HwParams, dir: &Path) -> PathBuf {
    require_tool("iverilog", "iverilog");
    let out = dir.join("tb.vvp");
    let fpga = fpga_dir();
    let mut cmd = Command::new("iverilog");
    cmd.current_dir(&fpga)
        .args(["-g2005", "-DHM_SIM_DUMP", "-Irtl", "-s", "tb_hm_fpga", "-o"])
        .arg(&out)
        .args(param_args(p, "tb_hm_fpga"))
        .arg("tb/tb_hm_fpga.v")
        .args(RTL);
    let (ok, text) = run_bounded(&mut cmd, Duration::from_secs(60));
    assert!(ok, "iverilog failed:\n{text}");
    out
}

/// Replays `cmds` on the RTL and returns the parsed log.
pub fn simulate(p: &HwParams, cmds: &[vectors::Command], name: &str, stall: Option<u64>) -> Trace {
    let dir = scratch(name);
    let vvp = build_tb(p, &dir);
    let vec_path = dir.join("vectors.txt");
    let log_path = dir.join("log.txt");
    std::fs::write(&vec_path, vectors::to_file(cmds)).expect("write vectors");
    let mut cmd = Command::new("vvp");
    cmd.arg("-n")
        .arg(&vvp)
        .arg(format!("+vectors={}", vec_path.display()))
        .arg(format!("+log={}", log_path.display()));
    if let Some(seed) = stall {
        cmd.arg(format!("+stall={seed}"));
    }
    let (ok, text) = run_bounded(&mut cmd, Duration::from_secs(120));
    assert!(ok, "vvp failed:\n{text}");
    let log = std::fs::read_to_string(&log_path).expect("testbench log");
    let trace = vectors::parse_log(&log, p).unwrap_or_else(|e| panic!("{e}"));
    if std::env::var_os("HM_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    trace
}

fn strip_cycles(e: &Event) -> Event {
    match e {
        Event::Packet {
            status,
            response,
            first_out,
            next,
            ..
        } => Event::Packet {
            status: *status,
            response: response.clone(),
            first_out: first_out.map(|_| 0),
            done: 0,
            next: next.map(|_| 0),
        },
        other => other.clone(),
    }
}

/// Compares two traces event by event; `cycles` false ignores timing.
pub fn assert_same(model: &Trace, rtl: &Trace, cycles: bool, seed: u64) {
    for (i, (m, r)) in model.events.iter().zip(&rtl.events).enumerate() {
        let (m2, r2) = if cycles {
            (m.clone(), r.clone())
        } else {
            (strip_cycles(m), strip_cycles(r))
        };
        assert_eq!(
            m2, r2,
            "event {i} differs (seed {seed}): model left, RTL right"
        );
    }
    assert_eq!(
        model.events.len(),
        rtl.events.len(),
        "event count differs (seed {seed})"
    );
    if model.memory != rtl.memory {
        let bad = model
            .memory
            .iter()
            .zip(&rtl.memory)
            .position(|(a, b)| a != b);
        panic!("final memory differs at byte {bad:?} (seed {seed})");
    }
}
