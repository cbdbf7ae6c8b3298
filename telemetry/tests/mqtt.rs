//! The bus against real brokers on loopback: the embedded one (rumqttd) and
//! an external mosquitto started here, with subscribers nobody here wrote
//! (mosquitto_sub, paho-mqtt). A missing tool fails the test with the
//! install command: `scripts/install-deps`.

use hivemind_telemetry::{
    BrokerUrl, Bus, BusConfig, DeviceState, EmbeddedBroker, EmbeddedConfig, Event, PositionMm,
    Progress, PublishError, Status, TaskResult, Telemetry,
};
use rumqttc::{Client, Connection, Event as MqttEvent, MqttOptions, Packet, QoS};
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(15);

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    l.local_addr().expect("local addr").port()
}

fn wait_port(port: u16, child: &mut Child, log: &std::path::Path) {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "mosquitto exited ({status}) before listening: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("mosquitto did not listen on {port} within {WAIT:?}");
}

fn tool(name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain(["/usr/sbin".into(), "/usr/local/sbin".into()]);
    for d in dirs {
        let p = d.join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("`{name}` not found: run scripts/install-deps (Debian package `{package}`)");
}

/// A mosquitto child process on a loopback port, with on-disk persistence
/// so that a restart keeps sessions; stopped by its own PID.
struct Mosquitto {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Mosquitto {
    fn start(port: u16) -> Mosquitto {
        let dir = tempfile::tempdir().expect("tempdir");
        // Started as root, mosquitto switches to its own user: let it write
        // its log and sessions here.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
            .expect("chmod tempdir");
        Mosquitto::start_in(port, dir)
    }

    fn start_in(port: u16, dir: tempfile::TempDir) -> Mosquitto {
        let conf = dir.path().join("mosquitto.conf");
        let log = dir.path().join("mosquitto.log");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\nlog_dest file {}\n",
                dir.path().display(),
                log.display()
            ),
        )
        .expect("write mosquitto.conf");
        let mut child = Command::new(tool("mosquitto", "mosquitto"))
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mosquitto");
        wait_port(port, &mut child, &log);
        Mosquitto { child, port, dir }
    }

    fn url(&self) -> BrokerUrl {
        BrokerUrl::new("127.0.0.1", self.port)
    }

    /// SIGTERM (mosquitto saves its sessions), then wait for the exit.
    fn stop(mut self) -> tempfile::TempDir {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = tempfile::tempdir().expect("tempdir");
        std::mem::replace(&mut self.dir, dir)
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A rumqttc subscriber on `filter`, subscribed (SUBACK seen) on return,
/// with the publishes that arrived before the SUBACK (a resumed session's
/// queued messages do).
fn subscriber_with_early(
    url: &BrokerUrl,
    id: &str,
    filter: &str,
    clean: bool,
) -> (Client, Connection, Vec<(String, Vec<u8>)>) {
    let mut o = MqttOptions::new(id, url.host(), url.port());
    o.set_clean_session(clean)
        .set_keep_alive(Duration::from_secs(5));
    let (client, mut conn) = Client::new(o, 100);
    client
        .subscribe(filter, QoS::AtLeastOnce)
        .expect("queue SUBSCRIBE");
    let mut early = Vec::new();
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        match conn.recv_timeout(Duration::from_millis(200)) {
            Ok(Ok(MqttEvent::Incoming(Packet::SubAck(_)))) => return (client, conn, early),
            Ok(Ok(MqttEvent::Incoming(Packet::Publish(p)))) => {
                early.push((p.topic.clone(), p.payload.to_vec()))
            }
            _ => {}
        }
    }
    panic!("no SUBACK from {url} within {WAIT:?}");
}

fn subscriber(url: &BrokerUrl, id: &str, filter: &str, clean: bool) -> (Client, Connection) {
    let (client, conn, early) = subscriber_with_early(url, id, filter, clean);
    assert!(
        early.is_empty(),
        "unexpected messages before SUBACK: {early:?}"
    );
    (client, conn)
}

/// Collects `n` publishes (topic, payload), polling through reconnects.
fn collect(conn: &mut Connection, n: usize) -> Vec<(String, Vec<u8>)> {
    let mut got = Vec::new();
    let deadline = Instant::now() + WAIT;
    while got.len() < n && Instant::now() < deadline {
        match conn.recv_timeout(Duration::from_millis(200)) {
            Ok(Ok(MqttEvent::Incoming(Packet::Publish(p)))) => {
                got.push((p.topic.clone(), p.payload.to_vec()))
            }
            Ok(Err(_)) => std::thread::sleep(Duration::from_millis(50)),
            _ => {}
        }
    }
    got
}

fn samples() -> (Telemetry, Status, TaskResult, Progress, Event) {
    (
        Telemetry {
            device: "drone-3".into(),
            position_mm: PositionMm { x: 12_500, y: -300 },
            battery_uj: 59_940_000_000,
            t_us: 1_000_000,
        },
        Status {
            device: "drone/+#3".into(),
            state: DeviceState::Joined,
            reason: None,
            t_us: 2,
        },
        TaskResult {
            device: "drone-3".into(),
            instance: 42,
            task: "detect".into(),
            latency_us: 180_000,
            ok: true,
            t_us: 3,
        },
        Progress {
            completed: 10,
            failed: 1,
            running: 4,
            t_us: 4,
        },
        Event::MissionFinished { t_us: 5 },
    )
}

/// Every payload type reaches a rumqttc subscriber on its schema topic and
/// decodes to what was sent.
fn round_trip(url: &BrokerUrl, tag: &str) {
    let (_sub, mut conn) = subscriber(url, &format!("sub-{tag}"), "hivemind/#", true);
    let bus = Bus::connect(url, "trees", BusConfig::default()).expect("bus");
    let (t, s, r, p, e) = samples();
    bus.publish(&t).expect("telemetry");
    bus.publish(&s).expect("status");
    bus.publish(&r).expect("result");
    bus.publish(&p).expect("progress");
    bus.publish(&e).expect("event");

    // Too large for a packet: refused and counted, the bus goes on.
    let huge = Event::MissionAborted {
        t_us: 6,
        reason: "x".repeat(300 * 1024),
    };
    assert!(matches!(
        bus.publish(&huge),
        Err(PublishError::TooLarge { .. })
    ));

    let mut got = collect(&mut conn, 5);
    got.sort();
    let topics: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        topics,
        [
            "hivemind/trees/controller/events",
            "hivemind/trees/controller/progress",
            "hivemind/trees/drone%2F%2B%233/status",
            "hivemind/trees/drone-3/result",
            "hivemind/trees/drone-3/telemetry",
        ],
        "via {url}"
    );
    let body = |i: usize| got[i].1.as_slice();
    assert_eq!(serde_json::from_slice::<Event>(body(0)).ok(), Some(e));
    assert_eq!(serde_json::from_slice::<Progress>(body(1)).ok(), Some(p));
    assert_eq!(serde_json::from_slice::<Status>(body(2)).ok(), Some(s));
    assert_eq!(serde_json::from_slice::<TaskResult>(body(3)).ok(), Some(r));
    assert_eq!(serde_json::from_slice::<Telemetry>(body(4)).ok(), Some(t));

    let stats = bus.close(Duration::from_secs(5));
    assert_eq!(stats.queued, 5);
    assert_eq!(stats.dropped, 1);
    assert!(stats.sent >= 5, "{stats:?}");
    assert!(matches!(bus.publish(&p), Err(PublishError::Closed)));
}

#[test]
fn embedded_broker_round_trip() {
    let broker = EmbeddedBroker::start(&EmbeddedConfig::default()).expect("embedded broker");
    assert!(broker.addr().ip().is_loopback());
    round_trip(&broker.url(), "embedded");
}

#[test]
fn mosquitto_round_trip() {
    let m = Mosquitto::start(free_port());
    round_trip(&m.url(), "mosquitto");
}

#[test]
fn embedded_broker_port_taken_is_a_clear_error() {
    let held = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = held.local_addr().expect("addr").port();
    let config = EmbeddedConfig {
        port: Some(port),
        ..EmbeddedConfig::default()
    };
    match EmbeddedBroker::start(&config) {
        Ok(b) => panic!("started on a taken port: {:?}", b.addr()),
        Err(e) => assert!(e.to_string().contains("cannot listen on 127.0.0.1:"), "{e}"),
    }
    let bad = EmbeddedConfig {
        segment_count: 0,
        ..EmbeddedConfig::default()
    };
    assert!(EmbeddedBroker::start(&bad).is_err());
    // An explicit free port works. Another test running beside this one
    // may take the port just released (its own `free_port`): then try a
    // fresh one, a bounded number of times.
    drop(held);
    let mut last = None;
    for attempt in 0..5 {
        let port = if attempt == 0 { port } else { free_port() };
        let config = EmbeddedConfig {
            port: Some(port),
            ..config.clone()
        };
        match EmbeddedBroker::start(&config) {
            Ok(b) => {
                assert_eq!(b.addr().port(), port);
                return;
            }
            Err(e) => last = Some(e.to_string()),
        }
    }
    panic!("no free explicit port worked in 5 tries: {last:?}");
}

/// Nothing listens: publishing never blocks, overflow is counted, the bus
/// keeps retrying, and once a broker appears on that port it connects and
/// delivers.
#[test]
fn unreachable_broker_then_broker_appears() {
    let port = free_port();
    let url = BrokerUrl::new("127.0.0.1", port);
    let config = BusConfig {
        queue: 64,
        reconnect_max_ms: 200,
        ..BusConfig::default()
    };
    let bus = Bus::connect(&url, "m", config).expect("bus");
    let (t, ..) = samples();
    let started = Instant::now();
    for _ in 0..1000 {
        let _ = bus.publish(&t);
    }
    let spent = started.elapsed();
    let s = bus.stats();
    assert!(!s.connected);
    assert_eq!(s.queued + s.dropped, 1000, "{s:?}");
    assert!(s.dropped >= 1000 - 64, "{s:?}");
    assert!(
        spent < Duration::from_secs(2),
        "publishing blocked: {spent:?}"
    );

    let m = Mosquitto::start(port);
    assert!(bus.wait_connected(WAIT), "no reconnect: {:?}", bus.stats());
    let (_sub, mut conn) = subscriber(&m.url(), "late-sub", "hivemind/m/+/status", true);
    let (_, s, ..) = samples();
    bus.publish(&s).expect("status after reconnect");
    let got = collect(&mut conn, 1);
    assert_eq!(got.len(), 1, "{:?}", bus.stats());
    assert!(bus.stats().connections >= 1);
}

/// The broker restarts under a connected bus: QoS 1 messages published
/// while it is down are held and delivered after the reconnect (to a
/// subscriber whose persistent session mosquitto saved across the restart).
#[test]
fn broker_restart_keeps_qos1_messages() {
    let port = free_port();
    let m = Mosquitto::start(port);
    let url = m.url();
    // A persistent subscriber session: created, then left offline.
    drop(subscriber(
        &url,
        "restart-sub",
        "hivemind/r/+/status",
        false,
    ));
    let config = BusConfig {
        reconnect_min_ms: 50,
        reconnect_max_ms: 200,
        ..BusConfig::default()
    };
    let bus = Bus::connect(&url, "r", config).expect("bus");
    assert!(bus.wait_connected(WAIT));
    let status = |i: u64| Status {
        device: format!("d{i}"),
        state: DeviceState::Joined,
        reason: None,
        t_us: i,
    };
    for i in 0..5 {
        bus.publish(&status(i)).expect("queue");
    }
    let deadline = Instant::now() + WAIT;
    while bus.stats().sent < 5 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let dir = m.stop();
    let deadline = Instant::now() + WAIT;
    while bus.stats().connected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!bus.stats().connected, "bus did not notice the broker stop");
    for i in 5..20 {
        bus.publish(&status(i)).expect("queue while down");
    }
    let _m = Mosquitto::start_in(port, dir);
    assert!(bus.wait_connected(WAIT), "no reconnect: {:?}", bus.stats());
    let (_sub, mut conn, mut got) =
        subscriber_with_early(&url, "restart-sub", "hivemind/r/+/status", false);
    let more = 20usize.saturating_sub(got.len());
    got.extend(collect(&mut conn, more));
    let mut seen: Vec<u64> = got
        .iter()
        .filter_map(|(_, p)| serde_json::from_slice::<Status>(p).ok())
        .map(|s| s.t_us)
        .collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen, (0..20).collect::<Vec<_>>(), "{:?}", bus.stats());
    assert!(bus.stats().connections >= 2);
}

/// mosquitto_sub (Debian mosquitto-clients) reads the bus's telemetry from
/// the embedded broker.
#[test]
fn mosquitto_sub_reads_embedded_broker() {
    let broker = EmbeddedBroker::start(&EmbeddedConfig::default()).expect("embedded broker");
    let url = broker.url();
    let mut child = Command::new(tool("mosquitto_sub", "mosquitto-clients"))
        .args(["-h", "127.0.0.1", "-p", &url.port().to_string()])
        .args(["-t", "hivemind/+/+/telemetry", "-v", "-C", "3", "-W", "15"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mosquitto_sub");
    let bus = Bus::connect(&url, "trees", BusConfig::default()).expect("bus");
    let (mut t, ..) = samples();
    // mosquitto_sub has no "subscribed" signal: publish until it has three.
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        assert!(Instant::now() < deadline, "mosquitto_sub got nothing");
        t.t_us += 1;
        let _ = bus.publish(&t);
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().expect("mosquitto_sub output");
    assert!(
        status.success(),
        "mosquitto_sub: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    for line in lines {
        let (topic, json) = line.split_once(' ').expect("`topic payload` with -v");
        assert_eq!(topic, "hivemind/trees/drone-3/telemetry");
        let got: Telemetry = serde_json::from_str(json).expect("telemetry JSON");
        assert_eq!(got.position_mm, PositionMm { x: 12_500, y: -300 });
    }
}

/// A paho-mqtt (Python) subscriber reads every topic from the embedded
/// broker.
#[test]
fn paho_reads_embedded_broker() {
    let broker = EmbeddedBroker::start(&EmbeddedConfig::default()).expect("embedded broker");
    let url = broker.url();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/paho_sub.py");
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = match Command::new(&python)
        .arg(&script)
        .args([url.host(), &url.port().to_string(), "hivemind/#", "5", "15"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => panic!("cannot run `{python}` ({e}): run scripts/install-deps"),
    };
    let Some(stdout) = child.stdout.take() else {
        panic!("no stdout from the paho script")
    };
    let mut lines = BufReader::new(stdout).lines();
    match lines.next() {
        Some(Ok(l)) if l == "READY" => {}
        other => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("paho subscriber did not subscribe: {other:?}")
        }
    }
    let bus = Bus::connect(&url, "trees", BusConfig::default()).expect("bus");
    let (t, s, r, p, e) = samples();
    bus.publish(&t).expect("telemetry");
    bus.publish(&s).expect("status");
    bus.publish(&r).expect("result");
    bus.publish(&p).expect("progress");
    bus.publish(&e).expect("event");
    let mut got: Vec<(String, serde_json::Value)> = Vec::new();
    for line in lines.map_while(Result::ok) {
        let v: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|err| panic!("paho script printed `{line}`: {err}"));
        got.push((
            v["topic"].as_str().unwrap_or_default().to_owned(),
            v["payload"].clone(),
        ));
    }
    let status = child.wait().expect("paho exit");
    assert!(status.success(), "paho script: {status}, got {got:?}");
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got.len(), 5);
    assert_eq!(got[0].0, "hivemind/trees/controller/events");
    assert_eq!(got[0].1["event"], "mission_finished");
    assert_eq!(got[4].0, "hivemind/trees/drone-3/telemetry");
    assert_eq!(got[4].1["position_mm"]["x"], 12_500);
    assert_eq!(got[4].1["battery_uj"], 59_940_000_000u64);
    assert_eq!(got[2].1["device"], "drone/+#3");
    assert_eq!(got[2].1["state"], "joined");
}

#[test]
fn bad_url_is_a_clear_error() {
    let e = "localhost:1883".parse::<BrokerUrl>().map(|u| u.to_string());
    assert!(
        matches!(&e, Err(err) if err.to_string().contains("mqtt://host[:port]")),
        "{e:?}"
    );
}

#[test]
fn start_with_the_embedded_broker_connects() {
    let choice = "embedded".parse().expect("choice");
    let (bus, broker) = hivemind_telemetry::start(
        &choice,
        "trees",
        &EmbeddedConfig::default(),
        BusConfig::default(),
    )
    .expect("start");
    let broker = broker.expect("an embedded broker");
    assert_eq!(bus.url(), &broker.url());
    assert!(bus.wait_connected(WAIT));
}
