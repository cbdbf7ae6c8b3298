//! Export to a real OTLP/gRPC receiver (Python `grpcio` +
//! `opentelemetry-proto`): spans arrive with their parents, a traceparent
//! carries a trace across "processes" (two spans joined only by the
//! string), and the exporter's own HTTP/2 spans never leave.

#[path = "support/receiver.rs"]
mod receiver;

use receiver::{attr, exporter_spans, text, Receiver};
use std::time::Duration;
use tracing_subscriber::EnvFilter;

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn spans_reach_a_third_party_receiver_and_traceparents_join_traces() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = Receiver::start(&dir.path().join("spans.jsonl"));
    let before = threads();
    let guard = hivemind_otel::init("otel-test", Some(&rx.endpoint()), EnvFilter::new("off"))
        .expect("init with an endpoint");
    assert!(guard.exporting());
    // The exporter's runtime and batch thread (what `no_exporter.rs`
    // checks are absent without an endpoint).
    assert!(threads() > before);

    let root = tracing::info_span!(parent: None, "root", hivemind.instance = 7i64);
    let tp = hivemind_otel::traceparent(&root);
    assert_eq!(tp.len(), 55, "a version-00 traceparent: {tp:?}");
    assert!(hivemind_otel::is_valid(&tp));
    // The far side: a fresh root span, joined to the trace by the string.
    let remote = tracing::info_span!(parent: None, "remote");
    assert!(hivemind_otel::set_parent(&remote, &tp));
    let back = hivemind_otel::traceparent(&remote);
    assert_eq!(back[3..35], tp[3..35], "same trace id");
    // A span with garbage context stays a root of its own trace.
    let orphan = tracing::info_span!(parent: None, "orphan");
    assert!(!hivemind_otel::set_parent(&orphan, "00-zz-yy-01"));
    // What the exporter's transport would emit: filtered out.
    let noise = tracing::info_span!(target: "h2::proto", parent: None, "h2_noise");
    let noise2 = tracing::info_span!(target: "tonic::transport", parent: None, "tonic_noise");
    drop((noise, noise2, orphan, remote, root));
    guard.shutdown();

    let spans = rx.wait_for(Duration::from_secs(10), |s| s.len() >= 3);
    let names: Vec<String> = spans.iter().map(|s| text(s, "name")).collect();
    let get = |n: &str| {
        spans
            .iter()
            .find(|s| text(s, "name") == n)
            .unwrap_or_else(|| panic!("span {n} not exported; got {names:?}"))
    };
    let (root, remote, orphan) = (get("root"), get("remote"), get("orphan"));
    assert_eq!(text(root, "service"), "otel-test");
    assert_eq!(attr(root, "hivemind.instance").as_deref(), Some("7"));
    assert_eq!(text(remote, "trace_id"), text(root, "trace_id"));
    assert_eq!(text(remote, "parent_span_id"), text(root, "span_id"));
    assert_ne!(text(orphan, "trace_id"), text(root, "trace_id"));
    assert_eq!(text(orphan, "parent_span_id"), "");
    assert!(
        !names.iter().any(|n| n.contains("noise")),
        "transport spans exported: {names:?}"
    );
    assert!(exporter_spans(&spans).is_empty(), "{names:?}");
}
