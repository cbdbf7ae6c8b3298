//! The publisher: typed messages in, MQTT out, never blocking the caller.
//!
//! [`Bus::publish`] encodes the message and offers it to a bounded queue
//! (rumqttc's request channel); when the queue is full the message is
//! dropped and counted, and a warning is logged at most once per second.
//! A thread of the bus's own runs the MQTT connection: it drains the queue
//! to the broker, and after a lost connection reconnects with exponential
//! backoff. Messages that were queued or unacknowledged when the connection
//! broke are kept (up to the queue's size) and sent again after the
//! reconnect, so QoS 1 messages survive a broker restart when the bus can
//! hold them; the ones it cannot hold are counted as dropped.

use crate::payload::Message;
use crate::topic::{segment, Qos, Topic};
use crate::url::BrokerUrl;
use rumqttc::{
    AsyncClient, ClientError, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS, Request,
};
use serde::Deserialize;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Settings of a [`Bus`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusConfig {
    /// MQTT client id; `None` makes one unique to this process and bus (two
    /// clients with one id make the broker drop the older connection).
    pub client_id: Option<String>,
    /// Messages waiting to be sent; beyond this they are dropped.
    pub queue: usize,
    /// Seconds; at least 1 (0 disables keep-alive pings).
    pub keep_alive_s: u16,
    pub reconnect_min_ms: u64,
    pub reconnect_max_ms: u64,
    /// Largest MQTT packet sent or received, bytes; larger messages are
    /// refused by [`Bus::publish`] instead of breaking the connection.
    pub max_packet_bytes: usize,
}

impl Default for BusConfig {
    fn default() -> BusConfig {
        BusConfig {
            client_id: None,
            queue: 8192,
            keep_alive_s: 10,
            reconnect_min_ms: 100,
            reconnect_max_ms: 5_000,
            max_packet_bytes: 256 * 1024,
        }
    }
}

/// Why a bus could not be created.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("telemetry bus config: {0}")]
    Config(String),
    #[error("telemetry bus: cannot start its thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// Why one message was not queued. Every case is also counted in
/// [`Stats::dropped`]; callers on an event loop may ignore it.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("telemetry queue full ({0} messages): message dropped")]
    QueueFull(usize),
    #[error("telemetry bus closed: message dropped")]
    Closed,
    #[error("telemetry message of {size} bytes exceeds the {max}-byte packet limit")]
    TooLarge { size: usize, max: usize },
    #[error("telemetry message not encodable as JSON: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Counters of a bus since it was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Messages [`Bus::publish`] queued.
    pub queued: u64,
    /// PUBLISH packets written to a broker (a message resent after a
    /// reconnect counts again).
    pub sent: u64,
    /// Messages given up: queue full, too large, bus closed, or more held
    /// across a reconnect than the queue's size.
    pub dropped: u64,
    /// Successful connections (CONNACKs), the first one included.
    pub connections: u64,
    /// Connected right now.
    pub connected: bool,
}

#[derive(Default)]
struct Counters {
    queued: AtomicU64,
    sent: AtomicU64,
    dropped: AtomicU64,
    connections: AtomicU64,
    connected: AtomicBool,
    closed: AtomicBool,
}

/// "At most once per second", lock-free: the millisecond (since `start`)
/// of the last log line, `u64::MAX` before the first.
struct RateLimit {
    start: Instant,
    last_ms: AtomicU64,
    every_ms: u64,
}

impl RateLimit {
    fn new(every: Duration) -> RateLimit {
        RateLimit {
            start: Instant::now(),
            last_ms: AtomicU64::new(u64::MAX),
            every_ms: u64::try_from(every.as_millis()).unwrap_or(u64::MAX),
        }
    }

    fn due(&self) -> bool {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.due_at(now)
    }

    /// Whether a line may be logged at `now_ms`; claims the slot if so
    /// (only one of several racing threads gets it).
    fn due_at(&self, now_ms: u64) -> bool {
        let last = self.last_ms.load(Ordering::Relaxed);
        if last != u64::MAX && now_ms.saturating_sub(last) < self.every_ms {
            return false;
        }
        self.last_ms
            .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

struct Worker {
    stop: oneshot::Sender<()>,
    done: mpsc::Receiver<()>,
    thread: thread::JoinHandle<()>,
}

struct Inner {
    client: AsyncClient,
    mission: String,
    url: BrokerUrl,
    queue: usize,
    max_packet: usize,
    counters: Arc<Counters>,
    drop_log: RateLimit,
    worker: Mutex<Option<Worker>>,
}

/// A connection to an MQTT broker publishing one mission's topics. Cheap
/// to clone (clones share the connection); `Send + Sync`.
#[derive(Clone)]
pub struct Bus {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus")
            .field("url", &self.inner.url)
            .field("mission", &self.inner.mission)
            .field("stats", &self.stats())
            .finish()
    }
}

static NEXT_CLIENT: AtomicU64 = AtomicU64::new(0);

impl Bus {
    /// Starts publishing `mission`'s topics to the broker at `url`. Returns
    /// at once: the connection is made (and remade) in the background, and
    /// messages published before it is up wait in the queue.
    pub fn connect(url: &BrokerUrl, mission: &str, config: BusConfig) -> Result<Bus, BusError> {
        if config.queue == 0 {
            return Err(BusError::Config(
                "queue must hold at least 1 message".into(),
            ));
        }
        if config.reconnect_min_ms == 0 || config.reconnect_max_ms < config.reconnect_min_ms {
            return Err(BusError::Config(
                "reconnect_min_ms must be positive and at most reconnect_max_ms".into(),
            ));
        }
        if config.max_packet_bytes < 1024 {
            return Err(BusError::Config(
                "max_packet_bytes must be at least 1024".into(),
            ));
        }
        let client_id = match &config.client_id {
            Some(id) if id.is_empty() || id.len() > 65_535 => {
                return Err(BusError::Config(
                    "client_id must be 1 to 65,535 bytes".into(),
                ))
            }
            Some(id) => id.clone(),
            None => format!(
                "hivemind-{}-{}",
                std::process::id(),
                NEXT_CLIENT.fetch_add(1, Ordering::Relaxed)
            ),
        };
        let mut options = MqttOptions::new(client_id, url.host(), url.port());
        options
            .set_keep_alive(Duration::from_secs(config.keep_alive_s.into()))
            .set_clean_session(true)
            .set_max_packet_size(config.max_packet_bytes, config.max_packet_bytes)
            .set_inflight(100);
        let (client, eventloop) = AsyncClient::new(options, config.queue);

        let counters = Arc::new(Counters::default());
        let (stop_tx, stop_rx) = oneshot::channel();
        let (done_tx, done_rx) = mpsc::channel();
        let worker_counters = Arc::clone(&counters);
        let worker_url = url.clone();
        let worker_config = config.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(BusError::Thread)?;
        let thread = thread::Builder::new()
            .name("mqtt-bus".into())
            .spawn(move || {
                runtime.block_on(drive(
                    eventloop,
                    &worker_config,
                    &worker_url,
                    &worker_counters,
                    stop_rx,
                ));
                worker_counters.connected.store(false, Ordering::Relaxed);
                worker_counters.closed.store(true, Ordering::Relaxed);
                let _ = done_tx.send(());
            })
            .map_err(BusError::Thread)?;

        Ok(Bus {
            inner: Arc::new(Inner {
                client,
                mission: segment(mission),
                url: url.clone(),
                queue: config.queue,
                max_packet: config.max_packet_bytes,
                counters,
                drop_log: RateLimit::new(Duration::from_secs(1)),
                worker: Mutex::new(Some(Worker {
                    stop: stop_tx,
                    done: done_rx,
                    thread,
                })),
            }),
        })
    }

    /// Queues `message` on its topic in this bus's mission. Never blocks.
    pub fn publish<M: Message>(&self, message: &M) -> Result<(), PublishError> {
        let topic = message.topic_in(&self.inner.mission);
        let payload = match serde_json::to_vec(message) {
            Ok(p) => p,
            Err(e) => {
                self.count_drop();
                return Err(PublishError::Encode(e));
            }
        };
        self.publish_to(&topic, payload)
    }

    /// Queues raw bytes on a schema topic (for payloads this crate does not
    /// type). Never blocks.
    pub fn publish_to(&self, topic: &Topic, payload: Vec<u8>) -> Result<(), PublishError> {
        // Fixed header (≤ 5) + topic length prefix (2) + packet id (2).
        let size = payload
            .len()
            .saturating_add(topic.as_str().len())
            .saturating_add(9);
        if size > self.inner.max_packet {
            self.count_drop();
            return Err(PublishError::TooLarge {
                size,
                max: self.inner.max_packet,
            });
        }
        let qos = match topic.qos() {
            Qos::AtMostOnce => QoS::AtMostOnce,
            Qos::AtLeastOnce => QoS::AtLeastOnce,
        };
        match self
            .inner
            .client
            .try_publish(topic.as_str(), qos, false, payload)
        {
            Ok(()) => {
                self.inner.counters.queued.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                self.count_drop();
                let closed = self.inner.counters.closed.load(Ordering::Relaxed);
                match e {
                    ClientError::TryRequest(_) | ClientError::Request(_) if !closed => {
                        Err(PublishError::QueueFull(self.inner.queue))
                    }
                    _ => Err(PublishError::Closed),
                }
            }
        }
    }

    fn count_drop(&self) {
        let n = self.inner.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        if self.inner.drop_log.due() {
            tracing::warn!(
                dropped_total = n,
                broker = %self.inner.url,
                "telemetry messages dropped (queue full, broker unreachable or bus closed)"
            );
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        let c = &self.inner.counters;
        Stats {
            queued: c.queued.load(Ordering::Relaxed),
            sent: c.sent.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            connections: c.connections.load(Ordering::Relaxed),
            connected: c.connected.load(Ordering::Relaxed),
        }
    }

    /// Messages dropped so far (as in [`Stats::dropped`]).
    pub fn dropped(&self) -> u64 {
        self.inner.counters.dropped.load(Ordering::Relaxed)
    }

    /// The mission's topic level (the name as [`segment`] encodes it).
    pub fn mission_segment(&self) -> &str {
        &self.inner.mission
    }

    /// The broker this bus publishes to.
    pub fn url(&self) -> &BrokerUrl {
        &self.inner.url
    }

    /// Blocks until connected or `timeout` passed; whether connected. For
    /// start-up and tests: publishing does not need it.
    pub fn wait_connected(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.inner.counters.connected.load(Ordering::Relaxed) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends what is queued, disconnects cleanly and stops the bus's
    /// thread, waiting at most `timeout` for the queue to drain. Other
    /// clones of this bus get [`PublishError::Closed`] afterwards.
    /// Returns the final counters.
    pub fn close(&self, timeout: Duration) -> Stats {
        let worker = match self.inner.worker.lock() {
            Ok(mut w) => w.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(w) = worker {
            let deadline = Instant::now() + timeout;
            // Queued behind the messages, so they go first; a full queue
            // has to drain a little before the DISCONNECT fits.
            let mut queued = false;
            while !queued && Instant::now() < deadline {
                queued = self.inner.client.try_disconnect().is_ok();
                if !queued {
                    thread::sleep(Duration::from_millis(1));
                }
            }
            if queued {
                let _ = w
                    .done
                    .recv_timeout(deadline.saturating_duration_since(Instant::now()));
            }
            let _ = w.stop.send(());
            let _ = w.thread.join();
        }
        self.stats()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let worker = match self.worker.get_mut() {
            Ok(w) => w.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(w) = worker {
            let _ = w.stop.send(());
            let _ = w.thread.join();
        }
    }
}

/// The connection loop: runs until stopped or a clean disconnect.
async fn drive(
    mut eventloop: EventLoop,
    config: &BusConfig,
    url: &BrokerUrl,
    counters: &Counters,
    mut stop: oneshot::Receiver<()>,
) {
    let min = Duration::from_millis(config.reconnect_min_ms);
    let max = Duration::from_millis(config.reconnect_max_ms);
    let mut backoff = min;
    // Publishes held across a reconnect (the new session is clean, so
    // rumqttc would discard them).
    let mut held: VecDeque<rumqttc::Publish> = VecDeque::new();
    let mut failures: u64 = 0;
    loop {
        let event = tokio::select! {
            _ = &mut stop => return,
            e = eventloop.poll() => e,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                counters.connected.store(true, Ordering::Relaxed);
                counters.connections.fetch_add(1, Ordering::Relaxed);
                tracing::info!(broker = %url, resending = held.len(), "telemetry bus connected");
                backoff = min;
                failures = 0;
                eventloop
                    .pending
                    .extend(held.drain(..).map(Request::Publish));
            }
            Ok(Event::Outgoing(Outgoing::Publish(_))) => {
                counters.sent.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => return,
            Ok(_) => {}
            Err(e) => {
                let was_connected = counters.connected.swap(false, Ordering::Relaxed);
                let mut overflow = 0u64;
                for request in eventloop.pending.drain(..) {
                    if let Request::Publish(mut p) = request {
                        if held.len() < config.queue {
                            // A fresh id in the new session.
                            p.pkid = 0;
                            p.dup = false;
                            held.push_back(p);
                        } else {
                            overflow += 1;
                        }
                    }
                }
                if overflow > 0 {
                    counters.dropped.fetch_add(overflow, Ordering::Relaxed);
                    tracing::warn!(broker = %url, dropped = overflow, held = held.len(), "telemetry messages dropped: more unsent than the queue holds across a reconnect");
                }
                failures += 1;
                if was_connected || failures == 1 {
                    tracing::warn!(broker = %url, error = %e, retry_in = ?backoff, "telemetry bus disconnected");
                } else {
                    tracing::debug!(broker = %url, error = %e, failures, "telemetry bus still disconnected");
                }
                tokio::select! {
                    _ = &mut stop => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(max);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_once_per_second() {
        let r = RateLimit::new(Duration::from_secs(1));
        assert!(r.due_at(0));
        assert!(!r.due_at(1));
        assert!(!r.due_at(999));
        assert!(r.due_at(1000));
        assert!(!r.due_at(1500));
        assert!(r.due_at(5000));
        // A clock read that raced backwards never logs twice.
        assert!(!r.due_at(10));
    }

    #[test]
    fn bad_configs_are_refused() {
        let url = BrokerUrl::new("127.0.0.1", 1);
        for (c, want) in [
            (
                BusConfig {
                    queue: 0,
                    ..Default::default()
                },
                "queue",
            ),
            (
                BusConfig {
                    reconnect_min_ms: 0,
                    ..Default::default()
                },
                "reconnect",
            ),
            (
                BusConfig {
                    reconnect_min_ms: 10,
                    reconnect_max_ms: 5,
                    ..Default::default()
                },
                "reconnect",
            ),
            (
                BusConfig {
                    max_packet_bytes: 10,
                    ..Default::default()
                },
                "max_packet",
            ),
            (
                BusConfig {
                    client_id: Some(String::new()),
                    ..Default::default()
                },
                "client_id",
            ),
        ] {
            match Bus::connect(&url, "m", c) {
                Ok(_) => panic!("accepted a config with bad {want}"),
                Err(e) => assert!(e.to_string().contains(want), "{e}"),
            }
        }
        let e = serde_json::from_str::<BusConfig>(r#"{"queue": 5, "qeueu": 1}"#);
        assert!(e.is_err());
    }
}
