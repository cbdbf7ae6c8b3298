//! MQTT throughput (not a timed test: prints figures). The broker
//! rounds are `hivemind_telemetry::throughput`, shared with
//! `hivemind bench net`.
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

use hivemind_telemetry::throughput::{round, sample, Mosquitto, PAYLOAD_BYTES};
use hivemind_telemetry::{Bus, BusConfig, EmbeddedBroker, EmbeddedConfig};
use std::time::{Duration, Instant};

fn full_scale() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn main() {
    let full = full_scale();
    let n: u64 = if full { 500_000 } else { 2_000 };
    let rounds = if full { 3 } else { 1 };

    let embedded = EmbeddedBroker::start(&EmbeddedConfig::default()).expect("embedded broker");
    let mosq = Mosquitto::start().expect("mosquitto");
    let mosq_url = mosq.url();
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
            let x = round(url, n).expect("round");
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
