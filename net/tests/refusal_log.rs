//! Every refusal is logged by the server side. Its own test binary: one
//! test, one thread, so no parallel test can race `tracing`'s per-callsite
//! interest cache while the scoped subscriber is installed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hivemind_net::pki::{self, Validity};
use hivemind_net::quic;
use hivemind_net::tls::{self, ClientIdentity, ServerIdentity};

const STEP: Duration = Duration::from_secs(5);

/// A `tracing` writer collecting everything into a buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn refusals_are_logged_by_the_server() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    // Current-thread test runtime: every task runs on this thread.
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().unwrap();
    pki::init(dir.path(), Validity::days(30), false).unwrap();
    let none: [&str; 0] = [];
    pki::issue_controller(dir.path(), none, Validity::days(30)).unwrap();
    pki::issue_device(dir.path(), 9, Validity::days(30)).unwrap();
    let server = quic::server(
        "127.0.0.1:0".parse().unwrap(),
        &ServerIdentity::load(dir.path()).unwrap(),
    )
    .unwrap();
    let addr = server.local_addr().unwrap();
    let ca = pki::load_cert(&dir.path().join(pki::CA_CERT)).unwrap();

    // Anonymous: refused.
    let anon = quic::client_config_from(tls::anonymous_client_config(&ca).unwrap()).unwrap();
    let ep = quic::client_with("127.0.0.1:0".parse().unwrap(), anon).unwrap();
    let dial = tokio::spawn(async move {
        if let Ok(c) = quic::connect(&ep, addr, "localhost", STEP).await {
            let _ = tokio::time::timeout(STEP, c.closed()).await;
        }
    });
    let incoming = tokio::time::timeout(STEP, server.accept())
        .await
        .unwrap()
        .unwrap();
    let err = quic::accept(incoming, STEP).await.unwrap_err();
    assert!(err.to_string().contains("no certificates"), "{err}");
    dial.await.unwrap();

    // Device 9: accepted.
    let ep = quic::client(
        "127.0.0.1:0".parse().unwrap(),
        &ClientIdentity::load(dir.path(), 9).unwrap(),
    )
    .unwrap();
    let dial = tokio::spawn(async move { quic::connect(&ep, addr, "localhost", STEP).await });
    let incoming = tokio::time::timeout(STEP, server.accept())
        .await
        .unwrap()
        .unwrap();
    let ok = quic::accept(incoming, STEP).await.unwrap();
    assert_eq!(ok.device, 9);
    dial.await.unwrap().unwrap();

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let refused: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("refused connection"))
        .collect();
    assert_eq!(refused.len(), 1, "{log}");
    assert!(refused[0].contains("WARN"), "{log}");
    assert!(refused[0].contains("no certificates"), "{log}");
    assert!(refused[0].contains("remote=127.0.0.1:"), "{log}");
    assert!(
        log.lines()
            .any(|l| l.contains("device connected") && l.contains("device=9")),
        "{log}"
    );
}
