//! Without an endpoint nothing is started: no exporter, no runtime, no
//! thread, no connection to the default collector port. (Its own test
//! binary: the subscriber is process-global.)

use std::net::TcpListener;
use std::time::Duration;
use tracing_subscriber::EnvFilter;

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn no_endpoint_starts_no_exporter_and_no_thread() {
    // Only this test runs in this binary; an endpoint in the environment
    // of the test run must not leak in.
    std::env::remove_var(hivemind_otel::ENDPOINT_ENV);
    assert_eq!(hivemind_otel::endpoint(None), None);
    // The OTLP default port: if free, nothing may connect to it.
    let default_port = TcpListener::bind("127.0.0.1:4317").ok();
    if let Some(l) = &default_port {
        l.set_nonblocking(true).expect("nonblocking");
    }
    let before = threads();
    let guard = hivemind_otel::init("t", None, EnvFilter::new("off")).expect("init");
    assert!(!guard.exporting());
    for i in 0..1000u32 {
        let s = tracing::info_span!("work", i);
        let _e = s.enter();
        assert_eq!(hivemind_otel::traceparent(&s), "", "nothing to propagate");
    }
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        threads(),
        before,
        "init without an endpoint started threads"
    );
    if let Some(l) = default_port {
        assert!(
            l.accept().is_err(),
            "something connected to the default OTLP port"
        );
    }
    drop(guard);
}
