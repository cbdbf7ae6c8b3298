//! `hivemind up` with real processes on loopback: the controller and
//! `hive-agent`s over QUIC with mutual TLS. Faults (agents killed with
//! SIGKILL, the controller killed and restarted from its journal, an agent
//! frozen with SIGSTOP) must lose and duplicate nothing; refused identities
//! and garbage frames must not disturb the mission.
//!
//! Every process is started by the test and stopped by its own PID; ports
//! are loopback only.

use serde_json::Value;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[path = "common/processes.rs"]
mod processes;
use processes::{
    agent_bin, assert_all_completed, assert_all_resolved, camera_patrol, counts, hivemind,
    sim_counts,
};

/// The camera patrol plus a device-local chain (`capture -> thumb` runs on
/// the drone that captured, `ir::local`) and a join of both on the drone
/// (`pair`: started by the agent once it holds a thumb under its
/// registration), so the agent's own starts are checked against the
/// simulator and through every fault below.
fn mission_text() -> String {
    let text = camera_patrol("patrol_check", 6).replace(
        "  task report(boxes) { at cloud }\n",
        "  task report(boxes) { at cloud }\n  task thumb(frame) on drones -> small: image 64x36 { work 5 Mop }\n  task pair(frame, small) on drones { work 1 Mop }\n",
    );
    assert!(
        text.contains("task thumb"),
        "the patrol mission changed: {text}"
    );
    text
}

/// These tests start a controller and several agents each: one at a time,
/// so heartbeats are not starved on a 2-core machine.
static SERIAL: Mutex<()> = Mutex::new(());

fn free_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind a loopback UDP port");
    s.local_addr().expect("local addr").port()
}

struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    mission: PathBuf,
    pki: PathBuf,
    port: u16,
}

fn setup(devices: u32) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_path_buf();
    let mission = root.join("m.hm");
    std::fs::write(&mission, mission_text()).expect("write mission");
    let pki = root.join("pki");
    run_ok(&["certs", "init", "--dir", pki.to_str().unwrap()]);
    for d in 0..devices {
        run_ok(&[
            "certs",
            "issue",
            &d.to_string(),
            "--dir",
            pki.to_str().unwrap(),
        ]);
    }
    Setup {
        _dir: dir,
        root,
        mission,
        pki,
        port: free_port(),
    }
}

fn run_ok(args: &[&str]) -> String {
    let out = Command::new(hivemind())
        .args(args)
        .output()
        .expect("run hivemind");
    assert!(
        out.status.success(),
        "hivemind {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Setup {
    /// The controller as a process: stdout (the JSON report) to `out.json`.
    fn controller(&self, duration: &str, expect: u32, tag: &str) -> Child {
        let out = std::fs::File::create(self.root.join(format!("controller-{tag}.json"))).unwrap();
        let err = std::fs::File::create(self.root.join(format!("controller-{tag}.log"))).unwrap();
        Command::new(hivemind())
            .args(["up"])
            .arg(&self.mission)
            .arg("--pki")
            .arg(&self.pki)
            .arg("--state-dir")
            .arg(self.root.join("state"))
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .args(["--mqtt", "off", "--duration", duration, "--json"])
            .args(["--expect", &expect.to_string(), "--start-timeout", "20 s"])
            .env("RUST_LOG", "info,rumqttd=off")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start the controller")
    }

    fn agent(&self, device: u32, extra: &[&str]) -> Child {
        let log = std::fs::File::create(self.root.join(format!("agent-{device}.log"))).unwrap();
        Command::new(agent_bin())
            .args(["--controller", &format!("127.0.0.1:{}", self.port)])
            .arg("--pki")
            .arg(&self.pki)
            .args([
                "--device",
                &device.to_string(),
                "--mission",
                "patrol_check",
                "--fleet",
                "drones",
            ])
            .args(["--max-backoff", "0.5", "--give-up-after", "40"])
            .arg("--state-dir")
            .arg(self.root.join(format!("agent-{device}")))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start an agent")
    }

    fn report(&self, tag: &str) -> Value {
        let text = std::fs::read_to_string(self.root.join(format!("controller-{tag}.json")))
            .unwrap_or_default();
        serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!(
                "controller {tag} printed no JSON report ({e}); its log:\n{}",
                std::fs::read_to_string(self.root.join(format!("controller-{tag}.log")))
                    .unwrap_or_default()
            )
        })
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.root.join(name)).unwrap_or_default()
    }
}

/// Wait for a child with a deadline; kill it (by its PID) past it.
fn wait(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let end = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return Some(s),
            Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

fn stop_all(children: &mut [Child]) {
    for c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// Nothing lost: every instance created completed exactly once (the core
/// counts a result once per instance; duplicates are discarded and counted).
fn assert_nothing_lost(report: &Value, context: &str) {
    assert_all_completed(report, context);
    assert!(
        counts(report).iter().any(|c| c.2 > 0),
        "{context}: nothing ran"
    );
}

/// Every agent's log under `hivemind up`'s state dir, for a failure message
/// (the temporary directory is gone once the test ends).
fn agent_logs(state: &Path) -> String {
    let mut out = String::new();
    let Ok(rd) = std::fs::read_dir(state.join("agents")) else {
        return "no agent logs".into();
    };
    let mut paths: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        out += &format!("--- {}\n{text}\n", p.display());
    }
    out
}

#[test]
fn local_demo_runs_and_its_counts_equal_the_simulator() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let mission = dir.path().join("m.hm");
    std::fs::write(&mission, mission_text()).unwrap();
    let up = Command::new(hivemind())
        .args(["up"])
        .arg(&mission)
        .args([
            "--local",
            "4",
            "--duration",
            "8 s",
            "--mqtt",
            "off",
            "--json",
        ])
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .output()
        .expect("hivemind up");
    let text = String::from_utf8_lossy(&up.stdout);
    let real: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", String::from_utf8_lossy(&up.stderr)));
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    assert_nothing_lost(&real, "local demo");
    // Every consumer found its input, and the payloads of finished chains
    // were freed while the mission ran (not kept to the end).
    let rt = &real["runtime"];
    assert_eq!(rt["store_misses"], 0, "{rt:#}");
    assert_eq!(rt["store_evicted"], 0, "{rt:#}");
    assert!(rt["store_freed"].as_u64().unwrap_or(0) > 0, "{rt:#}");
    // Every thumb ran on the drone that captured, started by its agent.
    let thumbs = counts(&real)
        .into_iter()
        .find(|(t, ..)| t == "thumb")
        .map_or(0, |(_, _, done, _)| done);
    let pairs = counts(&real)
        .into_iter()
        .find(|(t, ..)| t == "pair")
        .map_or(0, |(_, _, done, _)| done);
    // The core's counters are fields of its report.
    let counters = &real["report"];
    assert!(thumbs > 0 && pairs > 0, "{counters:#}");
    // Every thumb, and every pair but (at most) each drone's first — before
    // it held a thumb — was started by its agent.
    let delegated = counters["delegated"].as_u64().unwrap_or(0);
    assert!(
        delegated <= thumbs + pairs && delegated + 4 >= thumbs + pairs,
        "delegated {delegated}, thumbs {thumbs}, pairs {pairs}: {counters:#}"
    );
    assert_eq!(
        counters["unknown_results"].as_u64(),
        Some(0),
        "{counters:#}"
    );
    assert_eq!(real["agents"].as_array().map(Vec::len), Some(4));
    assert!(
        real["agents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a == "exited"),
        "{:#}\n{}",
        real["agents"],
        agent_logs(&dir.path().join("state"))
    );

    let sim_counts = sim_counts(&mission, 4, "8 s");
    let real_counts: Vec<(String, u64, u64)> = counts(&real)
        .into_iter()
        .map(|(t, c, d, _)| (t, c, d))
        .collect();
    assert_eq!(
        real_counts, sim_counts,
        "per-task counts differ from the simulator's"
    );
}

#[test]
fn killed_agents_and_a_killed_controller_lose_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let s = setup(6);
    let mut ctl = s.controller("20 s", 6, "a");
    let mut agents: Vec<Child> = (0..6).map(|d| s.agent(d, &[])).collect();
    std::thread::sleep(Duration::from_secs(6));
    // SIGKILL three agents mid-mission.
    for a in agents.iter_mut().take(3) {
        a.kill().unwrap();
        a.wait().unwrap();
    }
    std::thread::sleep(Duration::from_secs(5));
    // SIGKILL the controller, then start it again on the same journal.
    ctl.kill().unwrap();
    ctl.wait().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let mut ctl = s.controller("20 s", 6, "b");
    let status = wait(&mut ctl, Duration::from_secs(60));
    stop_all(&mut agents);
    assert!(
        status.is_some(),
        "the restarted controller did not finish: {}",
        s.log("controller-b.log")
    );
    let report = s.report("b");
    assert_eq!(report["recovered"], true, "{report:#}");
    // The captures the killed drones had fired and not reported are lost
    // with them (no other drone can take their readings); nothing else.
    assert_all_resolved(
        &report,
        "after kills and a controller restart",
        &["capture"],
    );
    assert!(counts(&report).iter().any(|c| c.2 > 0), "nothing ran");
    // Every consumer re-run after the restart read its producer's real
    // bytes (the payload log), not an empty input.
    let rt = &report["runtime"];
    assert_eq!(rt["store_misses"], 0, "{rt:#}");
    assert_eq!(rt["store_evicted"], 0, "{rt:#}");
    let failed = report["report"]["devices_failed"].as_u64().unwrap_or(0);
    assert!(
        failed >= 3,
        "the killed agents were not declared failed: {report:#}"
    );
    assert!(
        report["report"]["repartitions"].as_u64().unwrap_or(0) >= 1,
        "{report:#}"
    );
}

#[test]
fn a_frozen_agent_delivers_its_results_exactly_once() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let s = setup(3);
    let mut ctl = s.controller("20 s", 3, "a");
    let mut agents: Vec<Child> = (0..3).map(|d| s.agent(d, &[])).collect();
    std::thread::sleep(Duration::from_secs(4));
    let pid = agents[0].id() as i32;
    // SAFETY: signals to our own child by its PID.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    std::thread::sleep(Duration::from_secs(10));
    unsafe { libc::kill(pid, libc::SIGCONT) };
    let status = wait(&mut ctl, Duration::from_secs(60));
    stop_all(&mut agents);
    assert!(
        status.is_some(),
        "controller did not finish: {}",
        s.log("controller-a.log")
    );
    let report = s.report("a");
    // What it had buffered arrives once and counts; a capture whose
    // instant came while it was frozen (and whose grant it never got)
    // was never taken: lost with its registration, nothing else.
    assert_all_resolved(&report, "after SIGSTOP/SIGCONT", &["capture"]);
    assert!(counts(&report).iter().any(|c| c.2 > 0), "nothing ran");
    let r = &report["report"];
    let lost: u64 = r["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["lost"].as_u64())
        .sum();
    assert!(
        lost <= 3,
        "at most the captures of its 3 s of silence: {r:#}"
    );
    assert!(
        r["devices_failed"].as_u64().unwrap_or(0) >= 1,
        "the frozen agent was not declared failed: {r:#}"
    );
    assert!(
        r["rejoins"].as_u64().unwrap_or(0) >= 1,
        "the frozen agent did not rejoin: {r:#}"
    );
}

#[test]
fn refused_identities_do_not_join_and_the_mission_goes_on() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let s = setup(3);
    let pki = s.pki.to_str().unwrap();
    run_ok(&["certs", "revoke", "2", "--dir", pki]);
    // A second deployment's CA: its certificates mean nothing here.
    let other = s.root.join("other-pki");
    run_ok(&["certs", "init", "--dir", other.to_str().unwrap()]);
    run_ok(&["certs", "issue", "5", "--dir", other.to_str().unwrap()]);
    let mut ctl = s.controller("6 s", 2, "a");
    let mut good: Vec<Child> = (0..2).map(|d| s.agent(d, &[])).collect();
    // Device 1's certificate, claiming to be device 4.
    let dev1 = s.pki.join("devices");
    let mut liar = Command::new(agent_bin())
        .args([
            "--controller",
            &format!("127.0.0.1:{}", s.port),
            "--device",
            "4",
        ])
        .arg("--ca")
        .arg(s.pki.join("ca.cert.pem"))
        .arg("--cert")
        .arg(dev1.join("device-1.cert.pem"))
        .arg("--key")
        .arg(dev1.join("device-1.key.pem"))
        .args([
            "--mission",
            "patrol_check",
            "--fleet",
            "drones",
            "--give-up-after",
            "5",
        ])
        .arg("--state-dir")
        .arg(s.root.join("liar"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut revoked = s.agent(2, &["--give-up-after", "4"]);
    let mut stranger = Command::new(agent_bin())
        .args([
            "--controller",
            &format!("127.0.0.1:{}", s.port),
            "--device",
            "5",
        ])
        .arg("--pki")
        .arg(&other)
        .args([
            "--mission",
            "patrol_check",
            "--fleet",
            "drones",
            "--give-up-after",
            "4",
        ])
        .arg("--state-dir")
        .arg(s.root.join("stranger"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let liar_status = wait(&mut liar, Duration::from_secs(30)).expect("the liar exits");
    assert!(!liar_status.success());
    let mut liar_err = String::new();
    use std::io::Read;
    liar.stderr
        .take()
        .unwrap()
        .read_to_string(&mut liar_err)
        .unwrap();
    assert!(
        liar_err.contains("certificate names device 1, hello claims 4"),
        "{liar_err}"
    );
    assert!(!wait(&mut revoked, Duration::from_secs(30))
        .expect("revoked exits")
        .success());
    assert!(!wait(&mut stranger, Duration::from_secs(30))
        .expect("stranger exits")
        .success());
    let status = wait(&mut ctl, Duration::from_secs(60));
    stop_all(&mut good);
    assert!(status.is_some(), "{}", s.log("controller-a.log"));
    let report = s.report("a");
    assert_nothing_lost(&report, "with refused agents around");
    let devices: Vec<u64> = report["report"]["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["device"].as_u64().unwrap())
        .collect();
    assert_eq!(devices, vec![0, 1], "only the honest devices joined");
    let log = s.log("controller-a.log");
    assert!(log.contains("refused"), "refusals are logged: {log}");
}

#[test]
fn garbage_frames_close_one_connection_not_the_controller() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let s = setup(3);
    let mut ctl = s.controller("6 s", 2, "a");
    let mut good: Vec<Child> = (0..2).map(|d| s.agent(d, &[])).collect();
    std::thread::sleep(Duration::from_secs(2));
    // Device 2 speaks garbage: a frame of an unknown kind, then (on a new
    // connection) a truncated hello, then an oversized length prefix.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let reasons: Vec<String> = rt.block_on(async {
        let id = hivemind_net::tls::ClientIdentity::load(&s.pki, 2).unwrap();
        let addr = format!("127.0.0.1:{}", s.port).parse().unwrap();
        let mut reasons = Vec::new();
        let frames: [&[u8]; 3] = [
            &[0, 0, 0, 3, 0x7F, 1, 2],
            &[0, 0, 0, 2, 0, 1],
            &[0xFF, 0xFF, 0xFF, 0xFF],
        ];
        for bytes in frames {
            let ep = hivemind_net::quic::client("127.0.0.1:0".parse().unwrap(), &id).unwrap();
            let conn = hivemind_net::quic::connect(&ep, addr, "localhost", Duration::from_secs(5))
                .await
                .unwrap();
            let (mut send, mut recv) = conn.open_bi().await.unwrap();
            send.write_all(bytes).await.unwrap();
            let _ = send.finish();
            let mut buf = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(5), async {
                let mut chunk = [0u8; 4096];
                while let Ok(Some(n)) = recv.read(&mut chunk).await {
                    buf.extend_from_slice(&chunk[..n]);
                }
            })
            .await;
            let closed = tokio::time::timeout(Duration::from_secs(5), conn.closed()).await;
            reasons.push(format!("{closed:?}"));
            ep.close(0u32.into(), b"");
        }
        reasons
    });
    for r in &reasons {
        assert!(
            !r.contains("Elapsed"),
            "the controller kept a garbage connection open: {reasons:?}"
        );
    }
    let status = wait(&mut ctl, Duration::from_secs(60));
    stop_all(&mut good);
    assert!(status.is_some(), "{}", s.log("controller-a.log"));
    let report = s.report("a");
    assert_nothing_lost(&report, "after garbage frames");
}

#[test]
fn up_refuses_bad_input_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let mission = dir.path().join("m.hm");
    std::fs::write(&mission, mission_text()).unwrap();
    let out = Command::new(hivemind())
        .args(["up"])
        .arg(&mission)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--pki"),
        "{out:?}"
    );
    let out = Command::new(hivemind())
        .args(["up"])
        .arg(&mission)
        .args(["--local", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(hivemind())
        .args(["up"])
        .arg(&mission)
        .args(["--local", "2", "--mqtt", "http://x"])
        .arg("--state-dir")
        .arg(dir.path().join("s"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(hivemind())
        .args(["up"])
        .arg(&mission)
        .args(["--pki"])
        .arg(dir.path().join("nope"))
        .arg("--state-dir")
        .arg(dir.path().join("s2"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("certificates"),
        "{out:?}"
    );
    let _ = Path::new("");
}
