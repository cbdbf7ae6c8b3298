//! What the process tests share: the binaries they start and the mission
//! they fly (a camera patrol: drones sweep a yard and photograph it every
//! second, a cloud step detects and reports), and how they read the
//! reports of `hivemind up --json` and `hivemind sim --json`.
// Each test crate uses its own subset.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

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

/// (task, created, completed, failed) per task of a `hivemind up --json`
/// report.
pub fn counts(report: &Value) -> Vec<(String, u64, u64, u64)> {
    task_rows(&report["report"]["tasks"])
}

/// (task, created, completed, failed) per row of a report's task table
/// (the controller's and the simulator's have the same fields).
fn task_rows(tasks: &Value) -> Vec<(String, u64, u64, u64)> {
    tasks
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| {
            (
                t["task"].as_str().unwrap_or("?").to_string(),
                t["created"].as_u64().unwrap_or(0),
                t["completed"].as_u64().unwrap_or(0),
                t["failed"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// The mission finished and every instance created completed (none
/// failed, none lost).
pub fn assert_all_completed(report: &Value, context: &str) {
    assert_all_resolved(report, context, &[]);
}

/// The mission finished and every instance created completed, none
/// failed, and only `may_lose`'s firings were lost with their devices
/// (`TaskReport::lost`: readings a device that died took with it).
pub fn assert_all_resolved(report: &Value, context: &str, may_lose: &[&str]) {
    assert_eq!(
        report["report"]["phase"], "finished",
        "{context}: {report:#}"
    );
    let lost = |task: &str| {
        report["report"]["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["task"] == task)
            .and_then(|t| t["lost"].as_u64())
            .unwrap_or(0)
    };
    for (task, created, completed, failed) in counts(report) {
        assert_eq!(failed, 0, "{context}: {task} had failures: {report:#}");
        let lost = lost(&task);
        assert!(
            lost == 0 || may_lose.contains(&task.as_str()),
            "{context}: {task} lost {lost} with their devices: {report:#}"
        );
        assert_eq!(
            created,
            completed + lost,
            "{context}: {task} lost instances: {report:#}"
        );
    }
}

/// (task, created, completed) per task of the simulator's run of
/// `mission` with `devices` devices for `duration`.
pub fn sim_counts(mission: &Path, devices: u32, duration: &str) -> Vec<(String, u64, u64)> {
    let sim = Command::new(hivemind())
        .arg("sim")
        .arg(mission)
        .args([
            "--devices",
            &devices.to_string(),
            "--duration",
            duration,
            "--json",
        ])
        .output()
        .expect("hivemind sim");
    let sim: Value = serde_json::from_slice(&sim.stdout).expect("sim JSON");
    task_rows(&sim["runs"][0]["tasks"])
        .into_iter()
        .map(|(task, created, completed, _)| (task, created, completed))
        .collect()
}
