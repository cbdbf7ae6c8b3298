//! What the process tests share: the binaries they start and the mission
//! they fly (a camera patrol: drones sweep a yard and photograph it every
//! second, a cloud step detects and reports).

use std::path::PathBuf;

pub fn hivemind() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hivemind"))
}

/// `hive-agent`, built beside `hivemind` (scripts/test builds it first).
pub fn agent_bin() -> PathBuf {
    let p = hivemind().with_file_name("hive-agent");
    assert!(
        p.exists(),
        "{} is missing: build it with `cargo build -p hivemind-edge-agent` (scripts/test does)",
        p.display()
    );
    p
}

/// The camera-patrol mission `name` with `drones` drones.
pub fn camera_patrol(name: &str, drones: u32) -> String {
    format!(
        r#"mission {name} {{
  duration 3 min
  area yard = rect(0 m, 0 m, 100 m, 100 m)
  fleet drones: drone x {drones} {{
    cpu 1.0 GHz x 1
    battery 1500 mAh @ 11.1 V
    radio 20 Mbit/s range 400 m
    speed 5 m/s
    sensors camera(640x360), gps
    home (0 m, 0 m)
  }}
  cloud {{ servers 2; cores 8 each; price $0.0000166667 per GB-s }}
  task sweep on drones {{ cover yard; lane 10 m }}
  task capture on drones {{ every 1 s; out frame: image 640x360 }}
  task detect(frame) -> boxes: list<box 32 B> x 10 {{ work 0.4 Gop }}
  task report(boxes) {{ at cloud }}
  require latency(capture -> report) p99 < 2 s
}}
"#
    )
}
