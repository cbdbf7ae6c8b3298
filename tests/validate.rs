//! `hivemind validate`: real processes through emulated links against the
//! simulator. Counts and bytes must agree exactly, battery within 5 %, path
//! latencies within twice their targets (docs/simulator.md).

use serde_json::Value;
use std::process::Command;

#[test]
fn validate_runs_both_and_counts_and_bytes_agree_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hivemind"))
        .args(["validate", "examples/missions/s01_face_recognition.hm"])
        .args(["--devices", "10", "--duration", "30 s", "--json", "--keep"])
        .arg(dir.path().join("run"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("hivemind validate");
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    let figures = v["figures"].as_array().expect("figures");
    let get = |name: &str| -> Vec<&Value> {
        figures
            .iter()
            .filter(|f| f["what"].as_str().is_some_and(|w| w.contains(name)))
            .collect()
    };
    let completed = get("completed");
    assert!(completed.len() >= 4, "{v:#}");
    for f in completed {
        assert_eq!(f["real"], f["simulated"], "{f}");
    }
    let bytes = get("uplink bytes");
    assert_eq!(bytes[0]["real"], bytes[0]["simulated"], "{v:#}");
    assert!(bytes[0]["real"].as_u64().unwrap() > 0);
    for f in get("battery") {
        let e = f["error_permille"].as_i64().unwrap_or(i64::MAX);
        assert!(e.abs() <= 50, "battery off by {e}‰: {f}");
    }
    // The path latencies: the simulator charges the real controller's own
    // journal commit (validate measures it) and the transport's bytes.
    // Measured here: median +0.4 to +4.5 %, p99 −6 to +2 % (targets 5 % and
    // 10 %); the test allows twice that for a loaded CI machine.
    let paths = get("median");
    assert!(!paths.is_empty());
    for f in paths {
        assert!(
            f["real"].as_u64().unwrap() > 0 && f["simulated"].as_u64().unwrap() > 0,
            "{f}"
        );
        let e = f["error_permille"].as_i64().unwrap_or(i64::MAX);
        assert!(e.abs() <= 100, "path median off by {e}‰: {f}");
    }
    for f in get("p99") {
        let e = f["error_permille"].as_i64().unwrap_or(i64::MAX);
        assert!(e.abs() <= 200, "path p99 off by {e}‰: {f}");
    }
}
