//! MQTT throughput (not a timed test: prints figures).
//!
//! 1. Broker throughput, QoS 0, 163-byte payloads (a telemetry JSON): one
//!    rumqttc publisher (awaiting its queue, so nothing is dropped before the
//!    broker) and one rumqttc subscriber, through the embedded broker
//!    (rumqttd) and through mosquitto started here, alternating, in the same
//!    run. Rate = messages received / (last receive - first publish).
//!    Target: embedded >= 100,000 msg/s.
//! 2. The caller's cost of `Bus::publish` (encode + enqueue) and what a
//!    burst through the bus delivers with its default queue.
//!
//! `cargo bench -p hivemind-telemetry` runs full size; under `cargo test`
//! (no `--bench`) the same code runs small as a smoke test.

use hivemind_telemetry::{
    BrokerUrl, Bus, BusConfig, EmbeddedBroker, EmbeddedConfig, PositionMm, Telemetry,
};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const TOPIC: &str = "hivemind/bench/drone-0/telemetry";
const PAYLOAD_BYTES: usize = 163;

fn full_scale() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// A telemetry message whose JSON is exactly `PAYLOAD_BYTES` long.
fn sample() -> Telemetry {
    let mut t = Telemetry {
        device: String::new(),
        position_mm: PositionMm {
            x: 123_456,
            y: -78_901,
        },
        battery_uj: 59_940_000_000,
        t_us: 3_600_000_000,
    };
    let base = serde_json::to_vec(&t).map(|v| v.len()).unwrap_or(0);
    t.device = format!(
        "{:0<width$}",
        "drone-",
        width = PAYLOAD_BYTES.saturating_sub(base)
    );
    t
}

fn payload() -> Vec<u8> {
    let v = serde_json::to_vec(&sample()).unwrap_or_default();
    assert_eq!(v.len(), PAYLOAD_BYTES);
    v
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn options(id: &str, url: &BrokerUrl) -> MqttOptions {
    let mut o = MqttOptions::new(id, url.host(), url.port());
    o.set_keep_alive(Duration::from_secs(30))
        .set_max_packet_size(1 << 20, 1 << 20);
    o
}

/// Subscribes, signals readiness, then counts publishes until `n` or 2 s of
/// silence; returns (count, time of the last one).
fn subscribe(
    url: BrokerUrl,
    n: u64,
    ready: mpsc::Sender<()>,
) -> thread::JoinHandle<(u64, Instant)> {
    thread::spawn(move || {
        runtime().block_on(async move {
            let (client, mut el) = AsyncClient::new(options("bench-sub", &url), 1000);
            client
                .subscribe(TOPIC, QoS::AtMostOnce)
                .await
                .expect("subscribe");
            let mut got = 0u64;
            let mut last = Instant::now();
            loop {
                let silence = if got == 0 { 30 } else { 2 };
                match tokio::time::timeout(Duration::from_secs(silence), el.poll()).await {
                    Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => {
                        let _ = ready.send(());
                    }
                    Ok(Ok(Event::Incoming(Packet::Publish(_)))) => {
                        got += 1;
                        last = Instant::now();
                        if got == n {
                            break;
                        }
                    }
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => panic!("subscriber: {e}"),
                    Err(_) => break,
                }
            }
            (got, last)
        })
    })
}

/// Publishes `n` messages with backpressure; returns when the last was
/// written, and the start time.
fn publish(url: &BrokerUrl, n: u64) -> Instant {
    let body = payload();
    runtime().block_on(async move {
        let (client, mut el) = AsyncClient::new(options("bench-pub", url), 1000);
        let driver = tokio::spawn(async move {
            loop {
                match el.poll().await {
                    Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => break,
                    Ok(_) => {}
                    Err(e) => panic!("publisher: {e}"),
                }
            }
        });
        let start = Instant::now();
        for _ in 0..n {
            client
                .publish(TOPIC, QoS::AtMostOnce, false, body.clone())
                .await
                .expect("publish");
        }
        client.disconnect().await.expect("disconnect");
        let _ = driver.await;
        start
    })
}

struct Round {
    sent: u64,
    received: u64,
    rate: f64,
}

fn round(url: &BrokerUrl, n: u64) -> Round {
    let (tx, rx) = mpsc::channel();
    let sub = subscribe(url.clone(), n, tx);
    rx.recv_timeout(Duration::from_secs(30))
        .expect("subscriber ready");
    let start = publish(url, n);
    let (received, last) = sub.join().expect("subscriber thread");
    let secs = last
        .saturating_duration_since(start)
        .as_secs_f64()
        .max(1e-9);
    Round {
        sent: n,
        received,
        rate: received as f64 / secs,
    }
}

struct Mosquitto(Child);

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn mosquitto() -> (Mosquitto, tempfile::TempDir, BrokerUrl) {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let dir = tempfile::tempdir().expect("temp dir");
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\n"),
    )
    .expect("write config");
    let bin = [
        "/usr/sbin/mosquitto",
        "/usr/local/sbin/mosquitto",
        "/usr/bin/mosquitto",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).is_file())
    .unwrap_or_else(|| panic!("mosquitto not found: run scripts/install-deps"));
    let child = Command::new(bin)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn mosquitto");
    let guard = Mosquitto(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "mosquitto did not start");
        thread::sleep(Duration::from_millis(20));
    }
    (guard, dir, BrokerUrl::new("127.0.0.1", port))
}

fn main() {
    let full = full_scale();
    let n: u64 = if full { 500_000 } else { 2_000 };
    let rounds = if full { 3 } else { 1 };

    let embedded = EmbeddedBroker::start(&EmbeddedConfig::default()).expect("embedded broker");
    let (_m, _dir, mosq_url) = mosquitto();
    println!(
        "broker throughput, QoS 0, {PAYLOAD_BYTES}-byte payloads, {n} messages per round, 1 publisher -> 1 subscriber (rumqttc), loopback"
    );
    let mut best = [0f64; 2];
    for r in 0..rounds {
        for (i, (name, url)) in [
            ("embedded (rumqttd)", embedded.url()),
            ("mosquitto", mosq_url.clone()),
        ]
        .iter()
        .enumerate()
        {
            let x = round(url, n);
            best[i] = best[i].max(x.rate);
            println!(
                "  round {} {name:<20} {:>9.0} msg/s  received {}/{}{}",
                r + 1,
                x.rate,
                x.received,
                x.sent,
                if x.received < x.sent { "  (LOSS)" } else { "" }
            );
        }
    }
    println!(
        "  best: embedded {:.0} msg/s, mosquitto {:.0} msg/s (target: embedded >= 100,000)",
        best[0], best[1]
    );

    // The caller's side: encode + enqueue, nothing waited for. First the
    // encoding alone (topic + JSON), then the whole call.
    let calls: u64 = if full { 200_000 } else { 2_000 };
    let t = sample();
    let start = Instant::now();
    let mut bytes = 0usize;
    for _ in 0..calls {
        let topic = hivemind_telemetry::Message::topic(&t, "bench");
        let body = serde_json::to_vec(&t).unwrap_or_default();
        bytes += std::hint::black_box(topic.as_str().len() + body.len());
    }
    let spent = start.elapsed();
    println!(
        "topic + JSON encoding alone: {:.0} ns per message ({} bytes in all)",
        spent.as_nanos() as f64 / calls as f64,
        bytes
    );
    let bus = Bus::connect(&embedded.url(), "bench", BusConfig::default()).expect("bus");
    assert!(bus.wait_connected(Duration::from_secs(10)));
    let start = Instant::now();
    for _ in 0..calls {
        let _ = bus.publish(&t);
    }
    let spent = start.elapsed();
    let s = bus.close(Duration::from_secs(30));
    println!(
        "Bus::publish of a {PAYLOAD_BYTES}-byte telemetry, burst of {calls}: {:.0} ns per call ({:.0} calls/s); queue {} -> queued {}, dropped {}, sent {}",
        spent.as_nanos() as f64 / calls as f64,
        calls as f64 / spent.as_secs_f64().max(1e-9),
        BusConfig::default().queue,
        s.queued,
        s.dropped,
        s.sent
    );
}
