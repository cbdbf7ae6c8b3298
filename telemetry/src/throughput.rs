//! Broker throughput, measured the same way by `cargo bench -p
//! hivemind-telemetry` and by `hivemind bench net`: QoS 0, 163-byte
//! payloads (a telemetry JSON), one rumqttc publisher (awaiting its queue,
//! so nothing is dropped before the broker) → the broker → one rumqttc
//! subscriber, loopback. Rate = messages received / (last receive − first
//! publish). [`Mosquitto`] starts a mosquitto child beside the embedded
//! broker so both are measured in the same run.

use crate::{BrokerUrl, PositionMm, Telemetry};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const TOPIC: &str = "hivemind/bench/drone-0/telemetry";

/// Bytes of each message: a telemetry JSON of a realistic size.
pub const PAYLOAD_BYTES: usize = 163;

#[derive(Debug, thiserror::Error)]
pub enum ThroughputError {
    #[error("tokio runtime: {0}")]
    Runtime(std::io::Error),
    #[error("MQTT client: {0}")]
    Client(String),
    #[error("the subscriber was not ready within 30 s")]
    NotReady,
    #[error("a measuring thread panicked")]
    Thread,
    #[error("mosquitto: {0}")]
    Mosquitto(String),
}

/// A telemetry message whose JSON is exactly [`PAYLOAD_BYTES`] long.
pub fn sample() -> Telemetry {
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

fn runtime() -> Result<tokio::runtime::Runtime, ThroughputError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ThroughputError::Runtime)
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
) -> thread::JoinHandle<Result<(u64, Instant), ThroughputError>> {
    thread::spawn(move || {
        runtime()?.block_on(async move {
            let (client, mut el) = AsyncClient::new(options("bench-sub", &url), 1000);
            client
                .subscribe(TOPIC, QoS::AtMostOnce)
                .await
                .map_err(|e| ThroughputError::Client(e.to_string()))?;
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
                    Ok(Err(e)) => return Err(ThroughputError::Client(format!("subscriber: {e}"))),
                    Err(_) => break,
                }
            }
            Ok((got, last))
        })
    })
}

/// Publishes `n` messages with backpressure; returns the start time once
/// the last was written.
fn publish(url: &BrokerUrl, n: u64) -> Result<Instant, ThroughputError> {
    let body = serde_json::to_vec(&sample()).unwrap_or_default();
    runtime()?.block_on(async move {
        let (client, mut el) = AsyncClient::new(options("bench-pub", url), 1000);
        let driver = tokio::spawn(async move {
            loop {
                match el.poll().await {
                    Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => return Ok(()),
                    Ok(_) => {}
                    Err(e) => return Err(ThroughputError::Client(format!("publisher: {e}"))),
                }
            }
        });
        let start = Instant::now();
        for _ in 0..n {
            client
                .publish(TOPIC, QoS::AtMostOnce, false, body.clone())
                .await
                .map_err(|e| ThroughputError::Client(e.to_string()))?;
        }
        client
            .disconnect()
            .await
            .map_err(|e| ThroughputError::Client(e.to_string()))?;
        driver.await.map_err(|_| ThroughputError::Thread)??;
        Ok(start)
    })
}

/// One measured round through the broker at `url`.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Round {
    pub sent: u64,
    pub received: u64,
    /// Messages received per second.
    pub rate: f64,
}

/// Send `n` messages through the broker at `url` and count what arrives.
pub fn round(url: &BrokerUrl, n: u64) -> Result<Round, ThroughputError> {
    let (tx, rx) = mpsc::channel();
    let sub = subscribe(url.clone(), n, tx);
    if rx.recv_timeout(Duration::from_secs(30)).is_err() {
        // The subscriber failed or is stuck; its error says more.
        return Err(match sub.join() {
            Ok(Err(e)) => e,
            _ => ThroughputError::NotReady,
        });
    }
    let start = publish(url, n)?;
    let (received, last) = sub.join().map_err(|_| ThroughputError::Thread)??;
    let secs = last
        .saturating_duration_since(start)
        .as_secs_f64()
        .max(1e-9);
    Ok(Round {
        sent: n,
        received,
        rate: received as f64 / secs,
    })
}

/// A mosquitto child on a free loopback port, stopped (by its PID) when
/// dropped.
pub struct Mosquitto {
    child: Child,
    dir: PathBuf,
    url: BrokerUrl,
}

impl Mosquitto {
    /// Start `mosquitto` (Debian's path or `PATH`) and wait until its port
    /// accepts connections.
    pub fn start() -> Result<Mosquitto, ThroughputError> {
        let err =
            |what: &str, e: std::io::Error| ThroughputError::Mosquitto(format!("{what}: {e}"));
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| err("free port", e))?
            .port();
        let dir =
            std::env::temp_dir().join(format!("hivemind-mosquitto-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| err("temp dir", e))?;
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\n"),
        )
        .map_err(|e| err("config", e))?;
        let bin = [
            "/usr/sbin/mosquitto",
            "/usr/local/sbin/mosquitto",
            "/usr/bin/mosquitto",
        ]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_file())
        .unwrap_or("mosquitto");
        let child = Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| err("not started (run scripts/install-deps)", e))?;
        let m = Mosquitto {
            child,
            dir,
            url: BrokerUrl::new("127.0.0.1", port),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() >= deadline {
                return Err(ThroughputError::Mosquitto(
                    "did not accept connections within 10 s".into(),
                ));
            }
            thread::sleep(Duration::from_millis(20));
        }
        Ok(m)
    }

    pub fn url(&self) -> BrokerUrl {
        self.url.clone()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
