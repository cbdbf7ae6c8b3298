//! Mutual TLS over QUIC on loopback: a device with a certificate from the
//! deployment CA gets an echo; everything else is refused by the server,
//! which logs why.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, SystemTime};

use hivemind_net::pki::{self, Validity};
use hivemind_net::quic::{self, AcceptError, Refusal};
use hivemind_net::rustls;
use hivemind_net::tls::{self, ClientIdentity, ServerIdentity};
use hivemind_net::{frame, quinn};
use tokio::sync::mpsc;

const STEP: Duration = Duration::from_secs(5);

fn year() -> Validity {
    Validity::days(365)
}

fn deployment() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    pki::init(dir.path(), Validity::days(3650), false).unwrap();
    let none: [&str; 0] = [];
    pki::issue_controller(dir.path(), none, year()).unwrap();
    dir
}

/// Server outcomes, in order.
#[derive(Debug)]
enum Outcome {
    Device(u32),
    Refused(AcceptError),
}

struct Server {
    endpoint: quinn::Endpoint,
    addr: SocketAddr,
    outcomes: mpsc::UnboundedReceiver<Outcome>,
}

impl Server {
    fn start(dir: &Path) -> Self {
        let id = ServerIdentity::load(dir).unwrap();
        let endpoint = quic::server("127.0.0.1:0".parse().unwrap(), &id).unwrap();
        let addr = endpoint.local_addr().unwrap();
        let (tx, outcomes) = mpsc::unbounded_channel();
        let ep = endpoint.clone();
        tokio::spawn(async move {
            while let Some(incoming) = ep.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    match quic::accept(incoming, STEP).await {
                        Ok(acc) => {
                            let _ = tx.send(Outcome::Device(acc.device));
                            echo(acc.connection).await;
                        }
                        Err(e) => {
                            let _ = tx.send(Outcome::Refused(e));
                        }
                    }
                });
            }
        });
        Self {
            endpoint,
            addr,
            outcomes,
        }
    }

    async fn next(&mut self) -> Outcome {
        tokio::time::timeout(STEP, self.outcomes.recv())
            .await
            .expect("server reports an outcome in time")
            .expect("server task alive")
    }

    async fn expect_refusal(&mut self, needle: &str) -> AcceptError {
        match self.next().await {
            Outcome::Refused(e) => {
                let text = e.to_string();
                assert!(text.contains(needle), "refusal {text:?} lacks {needle:?}");
                e
            }
            Outcome::Device(d) => panic!("device {d} accepted, expected refusal ({needle})"),
        }
    }
}

async fn echo(conn: quinn::Connection) {
    while let Ok((mut tx, mut rx)) = frame::accept_bi(&conn).await {
        tokio::spawn(async move {
            while let Ok(Some(msg)) = rx.read_frame().await {
                if tx.write_frame(&msg).await.is_err() {
                    return;
                }
            }
            let _ = tx.shutdown().await;
        });
    }
}

/// Dials and does one framed round trip; the error text on any failure.
async fn round_trip(cfg: quinn::ClientConfig, addr: SocketAddr, name: &str) -> Result<(), String> {
    let ep = quic::client_with("127.0.0.1:0".parse().unwrap(), cfg).map_err(|e| e.to_string())?;
    let conn = quic::connect(&ep, addr, name, STEP)
        .await
        .map_err(|e| e.to_string())?;
    let attempt = async {
        let (mut tx, mut rx) = frame::open_bi(&conn).await.map_err(|e| e.to_string())?;
        tx.write_frame(b"ping").await.map_err(|e| e.to_string())?;
        match rx.read_frame().await {
            Ok(Some(m)) if m == b"ping" => Ok(()),
            Ok(other) => Err(format!("unexpected reply {other:?}")),
            Err(e) => Err(e.to_string()),
        }
    };
    let r = tokio::time::timeout(STEP, attempt)
        .await
        .unwrap_or_else(|_| Err("round trip timed out".into()))
        // The stream error alone says "connection lost"; the close reason
        // says what the server said.
        .map_err(|e| match conn.close_reason() {
            Some(why) => format!("{e} ({why})"),
            None => e,
        });
    conn.close(0u32.into(), b"done");
    ep.wait_idle().await;
    r
}

fn device_cfg(dir: &Path, device: u32) -> quinn::ClientConfig {
    quic::client_config(&ClientIdentity::load(dir, device).unwrap()).unwrap()
}

/// A rustls client config presenting `chain`/`key` and trusting `ca`.
fn custom_cfg(
    ca: &rustls::pki_types::CertificateDer<'static>,
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> quinn::ClientConfig {
    let id = ClientIdentity {
        ca: ca.clone(),
        chain,
        key,
    };
    quic::client_config(&id).unwrap()
}

fn ca_of(dir: &Path) -> rustls::pki_types::CertificateDer<'static> {
    pki::load_cert(&dir.join(pki::CA_CERT)).unwrap()
}

#[tokio::test]
async fn device_with_ca_certificate_gets_an_echo_and_its_id() {
    let dir = deployment();
    pki::issue_device(dir.path(), 17, year()).unwrap();
    pki::issue_device(dir.path(), 4_000_000_000, year()).unwrap();
    let mut server = Server::start(dir.path());

    round_trip(device_cfg(dir.path(), 17), server.addr, "localhost")
        .await
        .unwrap();
    assert!(matches!(server.next().await, Outcome::Device(17)));

    // The IP SANs work as server names too, and another device is told apart.
    round_trip(
        device_cfg(dir.path(), 4_000_000_000),
        server.addr,
        "127.0.0.1",
    )
    .await
    .unwrap();
    assert!(matches!(
        server.next().await,
        Outcome::Device(4_000_000_000)
    ));
    server.endpoint.close(0u32.into(), b"bye");
}

#[tokio::test]
async fn echo_carries_many_frames_and_large_ones() {
    let dir = deployment();
    pki::issue_device(dir.path(), 1, year()).unwrap();
    let server = Server::start(dir.path());
    let ep = quic::client(
        "127.0.0.1:0".parse().unwrap(),
        &ClientIdentity::load(dir.path(), 1).unwrap(),
    )
    .unwrap();
    let conn = quic::connect(&ep, server.addr, "localhost", STEP)
        .await
        .unwrap();
    let (mut tx, mut rx) = frame::open_bi(&conn).await.unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let writer = tokio::spawn(async move {
        for i in 0..100u32 {
            tx.write_frame(&i.to_be_bytes()).await.unwrap();
        }
        tx.write_frame(&[]).await.unwrap();
        tx.write_frame(&big).await.unwrap();
        tx.shutdown().await.unwrap();
        big
    });
    for i in 0..100u32 {
        let m = tokio::time::timeout(STEP, rx.read_frame())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(m, Some(i.to_be_bytes().to_vec()));
    }
    assert_eq!(rx.read_frame().await.unwrap(), Some(Vec::new()));
    let got = tokio::time::timeout(STEP, rx.read_frame())
        .await
        .unwrap()
        .unwrap();
    let big = writer.await.unwrap();
    assert_eq!(got.as_deref(), Some(&big[..]));
    assert_eq!(rx.read_frame().await.unwrap(), None);
    conn.close(0u32.into(), b"");
}

#[tokio::test]
async fn no_client_certificate_is_refused() {
    let dir = deployment();
    let mut server = Server::start(dir.path());
    let cfg = quic::client_config_from(tls::anonymous_client_config(&ca_of(dir.path())).unwrap())
        .unwrap();
    assert!(round_trip(cfg, server.addr, "localhost").await.is_err());
    let e = server.expect_refusal("no certificate").await;
    assert!(matches!(e.reason, Refusal::Handshake(_)));
    assert_eq!(e.remote.ip(), server.addr.ip());
}

#[tokio::test]
async fn self_signed_certificate_is_refused() {
    let dir = deployment();
    let mut server = Server::start(dir.path());
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.subject_alt_names = vec![rcgen::SanType::URI(pki::device_uri(17).try_into().unwrap())];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.self_signed(&key).unwrap();
    let cfg = custom_cfg(
        &ca_of(dir.path()),
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
    );
    assert!(round_trip(cfg, server.addr, "localhost").await.is_err());
    server.expect_refusal("UnknownIssuer").await;
}

#[tokio::test]
async fn certificate_from_another_ca_is_refused() {
    let ours = deployment();
    let theirs = deployment();
    pki::issue_device(theirs.path(), 17, year()).unwrap();
    let mut server = Server::start(ours.path());
    // It trusts our CA (so it would accept our server) but its own
    // certificate comes from the other deployment.
    let (cert, key) = pki::device_paths(theirs.path(), 17);
    let cfg = custom_cfg(
        &ca_of(ours.path()),
        pki::load_certs(&cert).unwrap(),
        pki::load_key(&key).unwrap(),
    );
    assert!(round_trip(cfg, server.addr, "localhost").await.is_err());
    server.expect_refusal("UnknownIssuer").await;
}

#[tokio::test]
async fn expired_certificate_is_refused() {
    let dir = deployment();
    let now = SystemTime::now();
    pki::issue_device(
        dir.path(),
        17,
        Validity {
            not_before: now - Duration::from_secs(2 * 86_400),
            not_after: now - Duration::from_secs(86_400),
        },
    )
    .unwrap();
    let mut server = Server::start(dir.path());
    assert!(
        round_trip(device_cfg(dir.path(), 17), server.addr, "localhost")
            .await
            .is_err()
    );
    server.expect_refusal("certificate expired").await;
}

#[tokio::test]
async fn revoked_certificate_is_refused_after_reload() {
    let dir = deployment();
    pki::issue_device(dir.path(), 17, year()).unwrap();
    pki::issue_device(dir.path(), 18, year()).unwrap();
    let mut server = Server::start(dir.path());
    round_trip(device_cfg(dir.path(), 17), server.addr, "localhost")
        .await
        .unwrap();
    assert!(matches!(server.next().await, Outcome::Device(17)));

    pki::revoke(dir.path(), 17).unwrap();
    // The running server swaps in a config with the new CRL.
    let cfg = quic::server_config(&ServerIdentity::load(dir.path()).unwrap()).unwrap();
    server.endpoint.set_server_config(Some(cfg));

    assert!(
        round_trip(device_cfg(dir.path(), 17), server.addr, "localhost")
            .await
            .is_err()
    );
    server.expect_refusal("Revoked").await;
    // Others are unaffected.
    round_trip(device_cfg(dir.path(), 18), server.addr, "localhost")
        .await
        .unwrap();
    assert!(matches!(server.next().await, Outcome::Device(18)));

    // A server started fresh from the directory refuses it too.
    let mut fresh = Server::start(dir.path());
    assert!(
        round_trip(device_cfg(dir.path(), 17), fresh.addr, "localhost")
            .await
            .is_err()
    );
    fresh.expect_refusal("Revoked").await;
}

#[tokio::test]
async fn controller_certificate_cannot_act_as_a_device() {
    let dir = deployment();
    let mut server = Server::start(dir.path());
    let cfg = custom_cfg(
        &ca_of(dir.path()),
        pki::load_certs(&dir.path().join(pki::CONTROLLER_CERT)).unwrap(),
        pki::load_key(&dir.path().join(pki::CONTROLLER_KEY)).unwrap(),
    );
    assert!(round_trip(cfg, server.addr, "localhost").await.is_err());
    // Server-auth only: the client verifier refuses its purpose.
    server.expect_refusal("certificate").await;
}

#[tokio::test]
async fn ca_signed_certificate_without_device_name_is_refused_after_handshake() {
    let dir = deployment();
    let mut server = Server::start(dir.path());
    let ca_key =
        rcgen::KeyPair::from_pem(&std::fs::read_to_string(dir.path().join(pki::CA_KEY)).unwrap())
            .unwrap();
    let issuer = rcgen::Issuer::from_ca_cert_pem(
        &std::fs::read_to_string(dir.path().join(pki::CA_CERT)).unwrap(),
        ca_key,
    )
    .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.subject_alt_names = vec![rcgen::SanType::URI(
        "hivemind:device:017".try_into().unwrap(),
    )];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, &issuer).unwrap();
    let cfg = custom_cfg(
        &ca_of(dir.path()),
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
    );
    let err = round_trip(cfg, server.addr, "localhost").await.unwrap_err();
    let e = server.expect_refusal("bad device id").await;
    assert!(matches!(e.reason, Refusal::Identity(_)));
    assert!(err.contains("names no device"), "{err}");
}

#[tokio::test]
async fn device_refuses_a_server_from_another_deployment_or_name() {
    let ours = deployment();
    let theirs = deployment();
    pki::issue_device(ours.path(), 1, year()).unwrap();
    let mut server = Server::start(theirs.path());
    let err = round_trip(device_cfg(ours.path(), 1), server.addr, "localhost")
        .await
        .unwrap_err();
    assert!(err.contains("UnknownIssuer"), "{err}");
    // The device aborts the handshake, so the server sees it fail too.
    server.expect_refusal("handshake failed").await;

    let mut own = Server::start(ours.path());
    let err = round_trip(device_cfg(ours.path(), 1), own.addr, "controller.example")
        .await
        .unwrap_err();
    assert!(err.contains("not valid for name"), "{err}");
    own.expect_refusal("handshake failed").await;
}

#[tokio::test]
async fn wrong_alpn_is_refused() {
    let dir = deployment();
    pki::issue_device(dir.path(), 1, year()).unwrap();
    let mut server = Server::start(dir.path());
    let mut tls_cfg = tls::client_config(&ClientIdentity::load(dir.path(), 1).unwrap()).unwrap();
    tls_cfg.alpn_protocols = vec![b"other/1".to_vec()];
    let cfg = quic::client_config_from(tls_cfg).unwrap();
    assert!(round_trip(cfg, server.addr, "localhost").await.is_err());
    server.expect_refusal("protocol").await;
}

#[tokio::test]
async fn connect_times_out_when_nobody_answers() {
    let dir = deployment();
    pki::issue_device(dir.path(), 1, year()).unwrap();
    // A bound UDP socket that never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let ep = quic::client(
        "127.0.0.1:0".parse().unwrap(),
        &ClientIdentity::load(dir.path(), 1).unwrap(),
    )
    .unwrap();
    let t = Duration::from_millis(300);
    match quic::connect(&ep, addr, "localhost", t).await {
        Err(quic::ConnectError::Timeout { timeout, .. }) => assert_eq!(timeout, t),
        other => panic!("expected timeout, got {other:?}"),
    }
    match quic::connect(&ep, addr, "bad name!", t).await {
        Err(quic::ConnectError::Start { .. }) => {}
        other => panic!("expected Start error, got {other:?}"),
    }
}
