//! QUIC endpoints (quinn on tokio) with the mutual-TLS configurations of
//! [`crate::tls`], a connect with a deadline, an accept that names why a
//! peer was refused, and the device id of a verified peer.
//!
//! Liveness is not decided here: the controller core declares a device
//! failed after 3 s without heartbeats, so the QUIC idle timeout is longer
//! ([`IDLE_TIMEOUT`]) and only reclaims connections nobody is using; the
//! keep-alive ([`KEEP_ALIVE`]) keeps NAT bindings and the idle timer fresh
//! while a link is quiet.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{Connection, ConnectionError, Endpoint, Incoming, TransportConfig, VarInt};
use rustls::pki_types::CertificateDer;

use crate::pki::DEVICE_URI_PREFIX;
use crate::tls::{self, ClientIdentity, ServerIdentity, TlsError};

/// A connection with no packets for this long is closed by QUIC.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// A quiet connection sends a keep-alive this often.
pub const KEEP_ALIVE: Duration = Duration::from_secs(1);
/// How long [`connect`] and [`accept`] wait for a handshake by default.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Application close code: the peer's certificate names no device.
pub const CLOSE_BAD_IDENTITY: VarInt = VarInt::from_u32(0x4801);

/// Errors setting up an endpoint.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// The TLS configuration could not be built.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The UDP socket could not be bound.
    #[error("cannot bind UDP {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Errors dialling the controller.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// quinn refused to start the attempt (bad server name, endpoint
    /// stopping, no client config).
    #[error("cannot connect to {addr}: {source}")]
    Start {
        /// The address dialled.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: quinn::ConnectError,
    },
    /// The handshake failed (server refused our certificate, we refused
    /// the server's, ALPN mismatch, unreachable...).
    #[error("handshake with {addr} failed: {source}")]
    Handshake {
        /// The address dialled.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: ConnectionError,
    },
    /// No handshake within the deadline.
    #[error("no handshake with {addr} within {timeout:?}")]
    Timeout {
        /// The address dialled.
        addr: SocketAddr,
        /// The deadline.
        timeout: Duration,
    },
}

/// Why a verified peer's certificate does not name a device.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityError {
    /// The connection has no peer certificate (should not happen behind
    /// the mTLS server configuration).
    #[error("peer presented no certificate")]
    NoCertificate,
    /// The certificate is not parseable X.509.
    #[error("peer certificate is not valid X.509: {0}")]
    BadCertificate(String),
    /// No `hivemind:device:<id>` URI in the subject alternative names.
    #[error("peer certificate names no device (no `{DEVICE_URI_PREFIX}<id>` URI)")]
    NoDevice,
    /// More than one device URI.
    #[error("peer certificate names more than one device")]
    Ambiguous,
    /// A device URI whose id is not a decimal u32.
    #[error("bad device id in `{0}`")]
    BadId(String),
}

/// Why [`accept`] refused a connection.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The TLS/QUIC handshake failed: no client certificate, a certificate
    /// not signed by the CA, expired, revoked, wrong ALPN, or the peer went
    /// away. The message is rustls' own reason.
    #[error("handshake failed: {0}")]
    Handshake(ConnectionError),
    /// No handshake within the deadline.
    #[error("no handshake within {0:?}")]
    Timeout(Duration),
    /// The handshake succeeded but the certificate names no device.
    #[error(transparent)]
    Identity(IdentityError),
}

/// A refused connection: who and why. [`accept`] has already logged it.
#[derive(Debug, thiserror::Error)]
#[error("refused {remote}: {reason}")]
pub struct AcceptError {
    /// The peer's address.
    pub remote: SocketAddr,
    /// Why it was refused.
    pub reason: Refusal,
}

/// An authenticated device connection.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The connection.
    pub connection: Connection,
    /// The device id its verified certificate names.
    pub device: u32,
}

/// The transport parameters both sides use (see the module doc).
pub fn transport_config() -> TransportConfig {
    let mut t = TransportConfig::default();
    // 10 s fits in a VarInt of milliseconds; the conversion cannot fail.
    t.max_idle_timeout(quinn::IdleTimeout::try_from(IDLE_TIMEOUT).ok());
    t.keep_alive_interval(Some(KEEP_ALIVE));
    t
}

/// quinn's server configuration for `id` (mTLS, ALPN, transport above).
/// Also what `Endpoint::set_server_config` takes to reload a CRL.
pub fn server_config(id: &ServerIdentity) -> Result<quinn::ServerConfig, TlsError> {
    let crypto = QuicServerConfig::try_from(tls::server_config(id)?)
        .map_err(|e| TlsError::Quic(e.to_string()))?;
    let mut cfg = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    cfg.transport_config(Arc::new(transport_config()));
    Ok(cfg)
}

/// quinn's client configuration from a rustls one (ALPN and roots as the
/// caller set them); the transport above.
pub fn client_config_from(tls: rustls::ClientConfig) -> Result<quinn::ClientConfig, TlsError> {
    let crypto = QuicClientConfig::try_from(tls).map_err(|e| TlsError::Quic(e.to_string()))?;
    let mut cfg = quinn::ClientConfig::new(Arc::new(crypto));
    cfg.transport_config(Arc::new(transport_config()));
    Ok(cfg)
}

/// quinn's client configuration for a device identity.
pub fn client_config(id: &ClientIdentity) -> Result<quinn::ClientConfig, TlsError> {
    client_config_from(tls::client_config(id)?)
}

/// A server endpoint bound to `addr` (port 0 picks one: read it back with
/// `Endpoint::local_addr`). Must be called inside a tokio runtime.
pub fn server(addr: SocketAddr, id: &ServerIdentity) -> Result<Endpoint, EndpointError> {
    let cfg = server_config(id)?;
    Endpoint::server(cfg, addr).map_err(|source| EndpointError::Bind { addr, source })
}

/// A client endpoint bound to `bind` (usually `0.0.0.0:0` or `[::]:0`)
/// whose default configuration presents `id`.
pub fn client(bind: SocketAddr, id: &ClientIdentity) -> Result<Endpoint, EndpointError> {
    client_with(bind, client_config(id)?)
}

/// A client endpoint with an explicit quinn configuration (tests, probes).
pub fn client_with(bind: SocketAddr, cfg: quinn::ClientConfig) -> Result<Endpoint, EndpointError> {
    let mut ep =
        Endpoint::client(bind).map_err(|source| EndpointError::Bind { addr: bind, source })?;
    ep.set_default_client_config(cfg);
    Ok(ep)
}

/// Dials `addr`, checking the server certificate for `server_name` (a DNS
/// name or an IP literal in its SANs, e.g. `localhost`), within `timeout`.
///
/// With TLS 1.3 the client finishes its handshake before the server has
/// checked the client certificate, so a refused device may see this
/// succeed and the connection close right after (its first stream
/// operation fails with the server's reason).
pub async fn connect(
    endpoint: &Endpoint,
    addr: SocketAddr,
    server_name: &str,
    timeout: Duration,
) -> Result<Connection, ConnectError> {
    let connecting = endpoint
        .connect(addr, server_name)
        .map_err(|source| ConnectError::Start { addr, source })?;
    match tokio::time::timeout(timeout, connecting).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(source)) => Err(ConnectError::Handshake { addr, source }),
        Err(_) => Err(ConnectError::Timeout { addr, timeout }),
    }
}

/// Completes an incoming connection: handshake within `timeout`, then the
/// device id from the verified certificate. Every refusal is logged here
/// (`tracing` warn, target `hivemind_net::quic`, with the peer address and
/// reason) and returned; a connection whose certificate names no device is
/// closed with [`CLOSE_BAD_IDENTITY`].
///
/// Run one per incoming connection (`tokio::spawn`) so a slow handshake
/// does not hold up the accept loop.
pub async fn accept(incoming: Incoming, timeout: Duration) -> Result<Accepted, AcceptError> {
    let remote = incoming.remote_address();
    let result = accept_inner(incoming, timeout).await;
    match result {
        Ok(connection) => match peer_device(&connection) {
            Ok(device) => {
                tracing::info!(%remote, device, "device connected");
                Ok(Accepted { connection, device })
            }
            Err(e) => {
                connection.close(CLOSE_BAD_IDENTITY, b"certificate names no device");
                Err(refused(remote, Refusal::Identity(e)))
            }
        },
        Err(reason) => Err(refused(remote, reason)),
    }
}

async fn accept_inner(incoming: Incoming, timeout: Duration) -> Result<Connection, Refusal> {
    let connecting = incoming.accept().map_err(Refusal::Handshake)?;
    match tokio::time::timeout(timeout, connecting).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(Refusal::Handshake(e)),
        Err(_) => Err(Refusal::Timeout(timeout)),
    }
}

fn refused(remote: SocketAddr, reason: Refusal) -> AcceptError {
    tracing::warn!(%remote, reason = %reason, "refused connection");
    AcceptError { remote, reason }
}

/// The device id named by the peer's verified certificate. Only meaningful
/// on the server side of a connection made with [`server_config`], where
/// rustls has already checked the chain, validity and revocation.
pub fn peer_device(connection: &Connection) -> Result<u32, IdentityError> {
    let identity = connection
        .peer_identity()
        .ok_or(IdentityError::NoCertificate)?;
    let chain = identity
        .downcast::<Vec<CertificateDer<'static>>>()
        .map_err(|_| IdentityError::NoCertificate)?;
    let leaf = chain.first().ok_or(IdentityError::NoCertificate)?;
    device_from_cert(leaf)
}

/// The device id in a certificate's `hivemind:device:<id>` URI SAN. Exactly
/// one such URI; the id is plain decimal digits (no sign, no leading
/// zeros) that fit a u32, so one device has one spelling.
pub fn device_from_cert(cert: &CertificateDer<'_>) -> Result<u32, IdentityError> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref())
        .map_err(|e| IdentityError::BadCertificate(e.to_string()))?;
    let san = parsed
        .subject_alternative_name()
        .map_err(|e| IdentityError::BadCertificate(e.to_string()))?
        .ok_or(IdentityError::NoDevice)?;
    let mut found = None;
    for name in &san.value.general_names {
        if let x509_parser::extensions::GeneralName::URI(uri) = name {
            if let Some(id) = uri.strip_prefix(DEVICE_URI_PREFIX) {
                if found.is_some() {
                    return Err(IdentityError::Ambiguous);
                }
                found =
                    Some(parse_device_id(id).ok_or_else(|| IdentityError::BadId(uri.to_string()))?);
            }
        }
    }
    found.ok_or(IdentityError::NoDevice)
}

fn parse_device_id(s: &str) -> Option<u32> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if canonical {
        s.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids_have_one_spelling() {
        assert_eq!(parse_device_id("0"), Some(0));
        assert_eq!(parse_device_id("17"), Some(17));
        assert_eq!(parse_device_id("4294967295"), Some(u32::MAX));
        for bad in ["", "017", "+17", "-1", "4294967296", "1 7", "17a", "１７"] {
            assert_eq!(parse_device_id(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn garbage_certificates_are_errors() {
        for bytes in [&b""[..], b"\x30", b"\x30\x82\xff\xff", b"not a certificate"] {
            let cert = CertificateDer::from(bytes.to_vec());
            assert!(matches!(
                device_from_cert(&cert),
                Err(IdentityError::BadCertificate(_))
            ));
        }
    }

    #[test]
    fn transport_keeps_alive_well_inside_idle_timeout() {
        // The controller decides liveness from 1 s heartbeats and 3 s of
        // silence; QUIC must not close a link before that.
        assert!(IDLE_TIMEOUT > Duration::from_secs(3));
        assert!(KEEP_ALIVE * 3 < IDLE_TIMEOUT);
    }
}
