//! What tracing costs per task instance: the spans the controller and the
//! agent make for one instance (instance root, dispatch, traceparent out,
//! agent span joined from it, traceparent back, result span), with and
//! without an exporter.
//!
//!   cargo run -p hivemind-otel --example overhead [--release] -- [N] [ENDPOINT]
//!
//! Without ENDPOINT no exporter runs (the default); with one (e.g. the
//! receiver of the tests: `python3 otel/tests/otlp_receiver.py out.jsonl`)
//! every span is exported over OTLP/gRPC.

use std::time::Instant;
use tracing_subscriber::EnvFilter;

fn one_instance(i: u64) -> usize {
    let root = tracing::info_span!(parent: None, "task.instance", hivemind.instance = i as i64);
    let dispatch = tracing::info_span!(parent: &root, "dispatch", hivemind.device = 1i64);
    let tp = hivemind_otel::traceparent(&dispatch);
    let execute = tracing::info_span!(parent: None, "execute", hivemind.instance = i as i64);
    hivemind_otel::set_parent(&execute, &tp);
    let back = hivemind_otel::traceparent(&execute);
    drop(execute);
    let result = tracing::info_span!(parent: None, "result");
    hivemind_otel::set_parent(&result, &back);
    tp.len() + back.len()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let endpoint = args.next();
    let guard = match hivemind_otel::init("overhead", endpoint.as_deref(), EnvFilter::new("off")) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("overhead: {e}");
            std::process::exit(2);
        }
    };
    let start = Instant::now();
    let mut bytes = 0;
    for i in 0..n {
        bytes += one_instance(i);
    }
    let took = start.elapsed();
    let flush = Instant::now();
    let exporting = guard.exporting();
    guard.shutdown();
    println!(
        "{n} instances ({} spans) {}: {:.2} µs per instance, {} traceparent bytes per instance; flush at exit {:.0} ms",
        n * 4,
        if exporting { "exported over OTLP/gRPC" } else { "without exporter" },
        took.as_secs_f64() * 1e6 / n as f64,
        bytes as u64 / n.max(1),
        flush.elapsed().as_secs_f64() * 1e3,
    );
}
