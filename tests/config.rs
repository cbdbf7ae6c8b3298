//! The deployment config file and interop with tools nobody here wrote,
//! with real processes on loopback:
//!
//! * a config file maps a mission's cloud function to a persistent Python
//!   subprocess; `hivemind up --local` runs it end to end with the counts
//!   of the simulator;
//! * bad config files and variables are refused with the file, key and line;
//! * against an external mosquitto (Debian), `mosquitto_sub` and a
//!   paho-mqtt subscriber (PyPI) see the mission's topics; with the
//!   embedded broker a paho subscriber sees them too.
//!
//! Every process is started by the test and stopped by its own PID.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[path = "common/processes.rs"]
mod processes;
use processes::{agent_bin, assert_all_completed, camera_patrol, counts, hivemind, sim_counts};

fn mission_text() -> String {
    camera_patrol("patrol_check", 6)
}

/// One mission at a time: heartbeats are not starved on a 2-core machine.
static SERIAL: Mutex<()> = Mutex::new(());

/// A persistent action in the OpenWhisk blackbox convention: one JSON
/// request per line in, one JSON response per line out. It logs each
/// instance it ran, so the test sees the process did the work.
const REPORT_PY: &str = r#"#!/usr/bin/env python3
import json, os, sys
log = os.environ["REPORT_LOG"]
for line in sys.stdin:
    req = json.loads(line)
    with open(log, "a") as f:
        f.write("%d %d %s\n" % (os.getpid(), req["instance"], req["function"]))
    print(json.dumps({"output_text": "%d input bytes" % len(req["input"]), "items": 1}), flush=True)
"#;

fn paho_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("telemetry/tests/paho_sub.py")
}

fn free_tcp_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a loopback TCP port");
    l.local_addr().expect("local addr").port()
}

fn mission_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = dir.path().join("m.hm");
    std::fs::write(&m, mission_text()).expect("write mission");
    (dir, m)
}

/// `hivemind up MISSION --local N --json` plus `extra`; the report.
fn up_local(mission: &Path, state: &Path, n: u32, extra: &[&str]) -> (Output, Value) {
    let out = Command::new(hivemind())
        .arg("up")
        .arg(mission)
        .args(["--local", &n.to_string(), "--json"])
        .arg("--state-dir")
        .arg(state)
        .arg("--agent-bin")
        .arg(agent_bin())
        .args(extra)
        .env("RUST_LOG", "info,rumqttd=off")
        .stdin(Stdio::null())
        .output()
        .expect("run hivemind up");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "hivemind up printed no JSON report ({e}); stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, v)
}

fn assert_complete(out: &Output, report: &Value, context: &str) {
    assert!(
        out.status.success(),
        "{context}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_all_completed(report, context);
}

#[test]
fn a_config_file_runs_a_cloud_task_as_a_persistent_python_process() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (dir, mission) = mission_dir();
    let script = dir.path().join("report.py");
    std::fs::write(&script, REPORT_PY).expect("write action");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let log = dir.path().join("report.log");
    let config = dir.path().join("deploy.toml");
    std::fs::write(
        &config,
        format!(
            r#"# relative paths start at this file's directory
[controller]
mqtt = "off"
duration = "6 s"

[core.pool]
keep_alive_us = 5000000

[functions.report]
exec = "./report.py"
mode = "persistent"
timeout = "10 s"
memory_mb = 1024
env = {{ REPORT_LOG = "{}" }}
"#,
            log.display()
        ),
    )
    .expect("write config");
    let (out, report) = up_local(
        &mission,
        &dir.path().join("state"),
        3,
        &["--config", config.to_str().expect("utf-8 path")],
    );
    assert_complete(&out, &report, "subprocess functions");
    let real: Vec<(String, u64, u64)> = counts(&report)
        .into_iter()
        .map(|(t, c, d, _)| (t, c, d))
        .collect();
    assert_eq!(
        real,
        sim_counts(&mission, 3, "6 s"),
        "per-task counts differ from the simulator's"
    );
    let completed = counts(&report)
        .iter()
        .find(|c| c.0 == "report")
        .map_or(0, |c| c.2);
    assert!(completed > 0, "no report ran: {report:#}");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.iter().all(|l| l.ends_with(" report")),
        "only `report` is mapped to the script:\n{text}"
    );
    let instances: BTreeSet<&str> = lines.iter().filter_map(|l| l.split(' ').nth(1)).collect();
    assert_eq!(
        instances.len() as u64,
        completed,
        "every completed report instance ran in the Python process:\n{text}"
    );
    let pids: BTreeSet<&str> = lines.iter().filter_map(|l| l.split(' ').next()).collect();
    assert!(
        (pids.len() as u64) < completed,
        "persistent workers are reused warm ({} processes for {completed} invocations)",
        pids.len()
    );
}

fn expect_failure(cmd: &mut Command, needles: &[&str]) {
    let out = cmd.stdin(Stdio::null()).output().expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    // An error exit (hivemind: 2, hive-agent: 1), not a signal or success.
    assert!(
        matches!(out.status.code(), Some(1 | 2)),
        "{:?}: {err}",
        out.status
    );
    for n in needles {
        assert!(err.contains(n), "missing `{n}` in:\n{err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_config_files_and_variables_are_refused_clearly() {
    let (dir, mission) = mission_dir();
    let cfg = dir.path().join("bad.toml");
    let up = |extra_env: &[(&str, &str)]| {
        let mut c = Command::new(hivemind());
        c.arg("up")
            .arg(&mission)
            .arg("--config")
            .arg(&cfg)
            .args(["--local", "1", "--mqtt", "off"])
            .arg("--state-dir")
            .arg(dir.path().join("state"));
        for (k, v) in extra_env {
            c.env(k, v);
        }
        c
    };
    for (text, needles) in [
        (
            "[controller]\nstart_timeout = \"5 m\"\n",
            &["bad.toml", "line 2", "start_timeout", "min"][..],
        ),
        ("[controller]\nlisten = 7000\n", &["bad.toml", "listen"][..]),
        ("[controler]\nseed = 1\n", &["bad.toml", "controler"][..]),
        (
            "[core]\nheartbeat = 5\n",
            &["bad.toml", "[core]", "heartbeat"][..],
        ),
        (
            "[functions.report]\nexec = \"./missing.py\"\n",
            &["bad.toml", "functions.report.exec", "missing.py"][..],
        ),
        ("[controller\nseed = ", &["bad.toml", "line 1"][..]),
        ("\u{7f}ELF\u{2}\u{1}garbage", &["bad.toml"][..]),
    ] {
        std::fs::write(&cfg, text).expect("write");
        expect_failure(&mut up(&[]), needles);
    }
    std::fs::write(&cfg, "").expect("write");
    expect_failure(
        &mut up(&[("HIVEMIND_START_TIMEOUT", "5")]),
        &["HIVEMIND_START_TIMEOUT", "unit"],
    );
    expect_failure(
        &mut up(&[("HIVEMIND_LISTEN", "localhost")]),
        &["HIVEMIND_LISTEN"],
    );
    // The agent reads the same file's [agent] table.
    std::fs::write(&cfg, "[agent]\ndevice = \"three\"\n").expect("write");
    expect_failure(
        Command::new(agent_bin()).arg("--config").arg(&cfg),
        &["bad.toml", "device"],
    );
    std::fs::write(&cfg, "[agent]\nmax_backoff = \"2 m\"\n").expect("write");
    expect_failure(
        Command::new(agent_bin()).arg("--config").arg(&cfg),
        &["bad.toml", "max_backoff", "min"],
    );
    expect_failure(
        Command::new(agent_bin()).env("HIVEMIND_AGENT_DEVICE", "x"),
        &["HIVEMIND_AGENT_DEVICE"],
    );
    std::fs::write(&cfg, "[agent]\ndevice = 1\n").expect("write");
    expect_failure(
        Command::new(agent_bin()).arg("--config").arg(&cfg),
        &["--controller"],
    );
}

/// Stop a child by its PID; what it printed.
fn stop(mut child: Child, out: &Path) -> String {
    let _ = child.kill();
    let _ = child.wait();
    std::fs::read_to_string(out).unwrap_or_default()
}

fn spawn_to(cmd: &mut Command, out: &Path) -> Child {
    let f = std::fs::File::create(out).expect("output file");
    cmd.stdin(Stdio::null())
        .stdout(f.try_clone().expect("dup"))
        .stderr(f)
        .spawn()
        .unwrap_or_else(|e| panic!("start {cmd:?}: {e} (install mosquitto, mosquitto-clients, python3-paho-mqtt: scripts/install-deps)"))
}

fn paho(port: u16, out: &Path) -> Child {
    spawn_to(
        Command::new("python3").arg(paho_script()).args([
            "127.0.0.1",
            &port.to_string(),
            "hivemind/patrol_check/#",
            "1000000",
            "60",
        ]),
        out,
    )
}

/// Wait until `file` holds `needle` (a subscriber's READY).
fn wait_for(file: &Path, needle: &str, limit: Duration) {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if std::fs::read_to_string(file).is_ok_and(|t| t.contains(needle)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "{} never printed {needle}: {}",
        file.display(),
        std::fs::read_to_string(file).unwrap_or_default()
    );
}

/// Messages per topic kind (`device/telemetry`, `controller/events`...),
/// every payload checked to be JSON.
fn kinds(messages: &[(String, Value)]) -> BTreeMap<String, usize> {
    let mut k = BTreeMap::new();
    for (topic, _) in messages {
        let levels: Vec<&str> = topic.split('/').collect();
        assert_eq!(levels.first(), Some(&"hivemind"), "{topic}");
        assert_eq!(levels.get(1), Some(&"patrol_check"), "{topic}");
        let who = match levels.get(2) {
            Some(&"controller") => "controller",
            Some(d) if d.starts_with("device-") => "device",
            Some(c) if c.starts_with("cloud-") => "cloud",
            _ => panic!("unexpected topic {topic}"),
        };
        *k.entry(format!("{who}/{}", levels.get(3).unwrap_or(&"")))
            .or_insert(0) += 1;
    }
    k
}

fn paho_messages(text: &str) -> Vec<(String, Value)> {
    text.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            (
                v["topic"].as_str().unwrap_or("").to_string(),
                v["payload"].clone(),
            )
        })
        .collect()
}

fn mosquitto_messages(text: &str) -> Vec<(String, Value)> {
    text.lines()
        .filter(|l| l.starts_with("hivemind/"))
        .map(|l| {
            let (topic, payload) = l.split_once(' ').unwrap_or((l, ""));
            let v: Value = serde_json::from_str(payload).unwrap_or_else(|e| panic!("{e}: {l}"));
            (topic.to_string(), v)
        })
        .collect()
}

/// What every subscriber must have seen of a finished mission.
fn assert_mission_topics(messages: &[(String, Value)], completed: u64, who: &str) {
    let k = kinds(messages);
    for kind in [
        "device/telemetry",
        "device/status",
        "device/result",
        "cloud/result",
        "controller/progress",
        "controller/events",
    ] {
        assert!(k.contains_key(kind), "{who} saw no {kind}: {k:?}");
    }
    let joined = messages
        .iter()
        .filter(|(t, v)| t.ends_with("/status") && v["state"] == "joined")
        .count();
    assert_eq!(joined, 3, "{who}: every device joined once: {k:?}");
    assert!(
        messages
            .iter()
            .any(|(t, v)| t.ends_with("controller/events") && v["event"] == "mission_finished"),
        "{who} saw no mission_finished"
    );
    let results = k.get("device/result").unwrap_or(&0) + k.get("cloud/result").unwrap_or(&0);
    assert_eq!(
        results as u64, completed,
        "{who}: one result message per completed instance (QoS 1)"
    );
}

fn total_completed(report: &Value) -> u64 {
    counts(report).iter().map(|c| c.2).sum()
}

#[test]
fn an_external_mosquitto_carries_the_telemetry_to_mosquitto_sub_and_paho() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (dir, mission) = mission_dir();
    let root = dir.path();
    let port = free_tcp_port();
    let conf = root.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
    )
    .expect("write mosquitto.conf");
    let broker = spawn_to(
        Command::new("mosquitto").arg("-c").arg(&conf),
        &root.join("mosquitto.log"),
    );
    let end = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < end, "mosquitto did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let sub_out = root.join("mosquitto_sub.out");
    let sub = spawn_to(
        Command::new("mosquitto_sub").args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-q",
            "1",
            "-v",
            "-t",
            "hivemind/patrol_check/#",
        ]),
        &sub_out,
    );
    let paho_out = root.join("paho.out");
    let paho_sub = paho(port, &paho_out);
    wait_for(&paho_out, "READY", Duration::from_secs(20));
    // mosquitto_sub has no READY: its subscription is in place once a
    // probe message published after it arrives.
    let probe = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1"])
        .args(["-t", "hivemind/patrol_check/controller/probe", "-m", "{}"])
        .status()
        .expect("mosquitto_pub");
    assert!(probe.success());
    wait_for(&sub_out, "controller/probe", Duration::from_secs(10));

    let url = format!("mqtt://127.0.0.1:{port}");
    let (out, report) = up_local(
        &mission,
        &root.join("state"),
        3,
        &["--mqtt", &url, "--duration", "5 s"],
    );
    assert_complete(&out, &report, "external mosquitto");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("telemetry on {url}")),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // QoS 1 messages are in the broker before up exits; let them reach
    // the subscribers.
    std::thread::sleep(Duration::from_millis(800));
    let completed = total_completed(&report);
    let mut from_sub = mosquitto_messages(&stop(sub, &sub_out));
    from_sub.retain(|(t, _)| !t.ends_with("/probe"));
    let mut from_paho = paho_messages(&stop(paho_sub, &paho_out));
    from_paho.retain(|(t, _)| !t.ends_with("/probe"));
    let _ = stop(broker, &root.join("mosquitto.log"));
    assert_mission_topics(&from_sub, completed, "mosquitto_sub");
    assert_mission_topics(&from_paho, completed, "paho");
}

#[test]
fn a_paho_subscriber_sees_the_embedded_brokers_telemetry() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (dir, mission) = mission_dir();
    let root = dir.path().to_path_buf();
    let port = free_tcp_port();
    let out_file = root.join("up.json");
    let err_file = root.join("up.log");
    let mut up = Command::new(hivemind());
    up.arg("up")
        .arg(&mission)
        .args(["--local", "3", "--json", "--duration", "6 s"])
        .args(["--mqtt", "embedded", "--mqtt-port", &port.to_string()])
        // Agents join only once the subscriber is in place (below).
        .args(["--start-timeout", "30 s"])
        .arg("--state-dir")
        .arg(root.join("state"))
        .arg("--agent-bin")
        .arg(agent_bin())
        .env("RUST_LOG", "info,rumqttd=off")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_file).expect("out"))
        .stderr(std::fs::File::create(&err_file).expect("err"));
    let mut up = up.spawn().expect("start hivemind up");
    let end = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < end,
            "the embedded broker did not listen on {port}: {}",
            std::fs::read_to_string(&err_file).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let paho_out = root.join("paho.out");
    let paho_sub = paho(port, &paho_out);
    wait_for(&paho_out, "READY", Duration::from_secs(20));
    let end = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(s) = up.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > end {
            let _ = up.kill();
            let _ = up.wait();
            panic!("hivemind up did not finish");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap_or_default())
            .unwrap_or_else(|e| {
                panic!(
                    "no JSON report ({e}): {}",
                    std::fs::read_to_string(&err_file).unwrap_or_default()
                )
            });
    assert!(status.success(), "{report:#}");
    assert_eq!(report["report"]["phase"], "finished");
    let messages = paho_messages(&stop(paho_sub, &paho_out));
    // The subscriber may connect after the first devices joined: the
    // status check counts only what it could see.
    let k = kinds(&messages);
    for kind in [
        "device/telemetry",
        "device/result",
        "cloud/result",
        "controller/progress",
        "controller/events",
    ] {
        assert!(k.contains_key(kind), "paho saw no {kind}: {k:?}");
    }
    assert!(
        messages
            .iter()
            .any(|(t, v)| t.ends_with("controller/events") && v["event"] == "mission_finished"),
        "paho saw no mission_finished: {k:?}"
    );
}
