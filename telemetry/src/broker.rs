//! The embedded broker: rumqttd in this process, on its own threads.
//!
//! rumqttd's `Broker::start` blocks forever and has no shutdown, and it
//! binds a fixed address (port 0 could not be learned back). So the port
//! is chosen first (bound and released here when none is configured), the
//! broker runs on a thread of its own, and [`EmbeddedBroker::start`]
//! returns once the port accepts connections. The broker lives until the
//! process exits; dropping the handle detaches it.

use crate::url::BrokerUrl;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Settings of the embedded broker.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddedConfig {
    /// Address to listen on. Loopback by default: listening elsewhere
    /// exposes an unauthenticated broker.
    pub bind: IpAddr,
    /// Port; `None` picks a free one.
    pub port: Option<u16>,
    pub max_connections: usize,
    /// Largest publish accepted, bytes.
    pub max_payload_bytes: usize,
    /// rumqttd keeps recent messages per subscription filter (not per
    /// topic: with no subscriber nothing is kept) in segments; memory per
    /// filter is bounded by `segment_bytes * segment_count`. A subscriber
    /// that falls further behind than that skips messages.
    pub segment_bytes: usize,
    pub segment_count: usize,
}

impl Default for EmbeddedConfig {
    fn default() -> EmbeddedConfig {
        EmbeddedConfig {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: None,
            max_connections: 10_000,
            max_payload_bytes: 256 * 1024,
            segment_bytes: 4 * 1024 * 1024,
            segment_count: 4,
        }
    }
}

/// Why the embedded broker did not start.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("embedded broker config: {0}")]
    Config(String),
    #[error("embedded broker failed to start: {0}")]
    Start(String),
    #[error("embedded broker on {0} did not accept connections within {1:?}")]
    NotReady(SocketAddr, Duration),
}

/// A running embedded broker.
#[derive(Debug)]
pub struct EmbeddedBroker {
    addr: SocketAddr,
    _thread: thread::JoinHandle<()>,
}

const READY_TIMEOUT: Duration = Duration::from_secs(5);

impl EmbeddedBroker {
    /// Starts the broker and waits until it accepts connections.
    pub fn start(config: &EmbeddedConfig) -> Result<EmbeddedBroker, BrokerError> {
        if config.max_connections == 0
            || config.max_payload_bytes == 0
            || config.segment_bytes == 0
            || config.segment_count == 0
        {
            return Err(BrokerError::Config(
                "max_connections, max_payload_bytes, segment_bytes and segment_count must be positive"
                    .into(),
            ));
        }
        // Binding first turns "port taken" into a clear error instead of a
        // broker thread that logs and dies (and a readiness probe that would
        // reach the other process); for port 0 it learns a free port.
        let want = SocketAddr::new(config.bind, config.port.unwrap_or(0));
        let addr = TcpListener::bind(want)
            .and_then(|l| l.local_addr())
            .map_err(|source| BrokerError::Bind { addr: want, source })?;

        let mut broker = rumqttd::Broker::new(rumqttd_config(config, addr));
        let (done_tx, done_rx) = mpsc::channel::<String>();
        let thread = thread::Builder::new()
            .name("mqtt-broker".into())
            .spawn(move || {
                let why = match broker.start() {
                    Ok(()) => "its listener stopped (address in use?)".to_owned(),
                    Err(e) => e.to_string(),
                };
                let _ = done_tx.send(why);
            })
            .map_err(|e| BrokerError::Start(e.to_string()))?;

        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(why) = done_rx.try_recv() {
                return Err(BrokerError::Start(why));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                tracing::info!(%addr, "embedded MQTT broker listening");
                return Ok(EmbeddedBroker {
                    addr,
                    _thread: thread,
                });
            }
            if Instant::now() >= deadline {
                return Err(BrokerError::NotReady(addr, READY_TIMEOUT));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Where the broker listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL clients connect to.
    pub fn url(&self) -> BrokerUrl {
        BrokerUrl::new(self.addr.ip().to_string(), self.addr.port())
    }
}

fn rumqttd_config(c: &EmbeddedConfig, listen: SocketAddr) -> rumqttd::Config {
    let connections = rumqttd::ConnectionSettings {
        // The time a client has to send CONNECT after the TCP accept (u16 ms).
        connection_timeout_ms: 10_000,
        max_payload_size: c.max_payload_bytes,
        max_inflight_count: 100,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = rumqttd::ServerSettings {
        name: "hivemind-v4".into(),
        listen,
        tls: None,
        next_connection_delay_ms: 1,
        connections,
    };
    rumqttd::Config {
        id: 0,
        router: rumqttd::RouterConfig {
            max_connections: c.max_connections,
            max_outgoing_packet_count: 200,
            max_segment_size: c.segment_bytes,
            max_segment_count: c.segment_count,
            ..Default::default()
        },
        v4: Some(HashMap::from([("1".to_owned(), server)])),
        ..Default::default()
    }
}
