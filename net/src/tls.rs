//! rustls configurations for mutual TLS, always on the ring provider passed
//! explicitly: the tree may hold rustls' aws-lc-rs provider too (other
//! dependencies enable it), and then rustls cannot pick a default.
//!
//! The server trusts one root, the deployment CA, requires a client
//! certificate it signed with the client-auth usage, and checks it against
//! the CA's CRL. The client trusts the same single root, presents its device
//! certificate and checks the server's certificate for the server-auth usage
//! and the name it dialled.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;

use crate::pki::{self, PkiError};

/// The ALPN protocol both sides require; a peer offering anything else is
/// refused during the handshake.
pub const ALPN: &[u8] = b"hivemind/1";

/// Errors building a TLS configuration.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be loaded.
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// rustls refused the material (e.g. a CA certificate it cannot use as a
    /// trust anchor, a key that does not match the certificate).
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client verifier could not be built (e.g. an unusable CRL).
    #[error("client certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    /// The rustls configuration cannot carry QUIC (no TLS 1.3 suite).
    #[error("TLS configuration unusable for QUIC: {0}")]
    Quic(String),
}

/// The ring provider every configuration here is built with.
///
/// rustls 0.23.48 deprecates it for lacking post-quantum key exchange; the
/// workspace builds on ring (no C toolchain for aws-lc-rs, and quinn's
/// `rustls-ring`), so the warning is silenced here, in one place.
#[allow(deprecated)]
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// What the controller needs to accept devices: the CA it trusts, its own
/// certificate chain and key, and the CA's CRLs.
#[derive(Debug)]
pub struct ServerIdentity {
    /// The deployment CA certificate (the only root for client certificates).
    pub ca: CertificateDer<'static>,
    /// The controller certificate, then any intermediates.
    pub chain: Vec<CertificateDer<'static>>,
    /// The controller's private key.
    pub key: PrivateKeyDer<'static>,
    /// CRLs signed by the CA; revoked device certificates are refused.
    pub crls: Vec<CertificateRevocationListDer<'static>>,
}

impl ServerIdentity {
    /// Loads `ca.cert.pem`, `controller.cert.pem`, `controller.key.pem` and
    /// `crl.pem` from a PKI directory made by [`pki`].
    pub fn load(dir: &Path) -> Result<Self, PkiError> {
        Self::from_files(
            &dir.join(pki::CA_CERT),
            &dir.join(pki::CONTROLLER_CERT),
            &dir.join(pki::CONTROLLER_KEY),
            Some(&dir.join(pki::CRL)),
        )
    }

    /// Loads from explicit paths; `crl` may be omitted (no revocation).
    pub fn from_files(
        ca: &Path,
        cert: &Path,
        key: &Path,
        crl: Option<&Path>,
    ) -> Result<Self, PkiError> {
        Ok(Self {
            ca: pki::load_cert(ca)?,
            chain: pki::load_certs(cert)?,
            key: pki::load_key(key)?,
            crls: match crl {
                Some(p) => vec![pki::load_crl(p)?],
                None => Vec::new(),
            },
        })
    }
}

impl Clone for ServerIdentity {
    fn clone(&self) -> Self {
        Self {
            ca: self.ca.clone(),
            chain: self.chain.clone(),
            key: self.key.clone_key(),
            crls: self.crls.clone(),
        }
    }
}

/// What a device needs to reach the controller: the CA it trusts and its
/// own certificate chain and key.
#[derive(Debug)]
pub struct ClientIdentity {
    /// The deployment CA certificate (the only root for the server).
    pub ca: CertificateDer<'static>,
    /// The device certificate, then any intermediates.
    pub chain: Vec<CertificateDer<'static>>,
    /// The device's private key.
    pub key: PrivateKeyDer<'static>,
}

impl ClientIdentity {
    /// Loads `ca.cert.pem` and `devices/device-<id>.{cert,key}.pem` from a PKI
    /// directory made by [`pki`].
    pub fn load(dir: &Path, device_id: u32) -> Result<Self, PkiError> {
        let (cert, key) = pki::device_paths(dir, device_id);
        Self::from_files(&dir.join(pki::CA_CERT), &cert, &key)
    }

    /// Loads from explicit paths (what an agent is configured with).
    pub fn from_files(ca: &Path, cert: &Path, key: &Path) -> Result<Self, PkiError> {
        Ok(Self {
            ca: pki::load_cert(ca)?,
            chain: pki::load_certs(cert)?,
            key: pki::load_key(key)?,
        })
    }
}

impl Clone for ClientIdentity {
    fn clone(&self) -> Self {
        Self {
            ca: self.ca.clone(),
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

/// A root store holding only `ca`.
pub fn roots(ca: &CertificateDer<'static>) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone())?;
    Ok(roots)
}

/// The server configuration: TLS 1.3 only (QUIC), ALPN [`ALPN`], client
/// certificates required, signed by the CA and not on its CRLs.
pub fn server_config(id: &ServerIdentity) -> Result<rustls::ServerConfig, TlsError> {
    let provider = provider();
    let mut verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots(&id.ca)?), provider.clone());
    if !id.crls.is_empty() {
        // The chain is CA -> leaf, so only the leaf can be revoked.
        verifier = verifier
            .with_crls(id.crls.iter().cloned())
            .only_check_end_entity_revocation();
    }
    let verifier = verifier.build()?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(id.chain.clone(), id.key.clone_key())?;
    cfg.alpn_protocols = vec![ALPN.to_vec()];
    Ok(cfg)
}

/// The client configuration: TLS 1.3 only, ALPN [`ALPN`], the CA as the only
/// root, the device certificate presented.
pub fn client_config(id: &ClientIdentity) -> Result<rustls::ClientConfig, TlsError> {
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots(&id.ca)?)
        .with_client_auth_cert(id.chain.clone(), id.key.clone_key())?;
    cfg.alpn_protocols = vec![ALPN.to_vec()];
    Ok(cfg)
}

/// A client configuration that trusts `ca` but presents no certificate.
/// The controller refuses it; it exists for probes and refusal tests.
pub fn anonymous_client_config(
    ca: &CertificateDer<'static>,
) -> Result<rustls::ClientConfig, TlsError> {
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots(ca)?)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![ALPN.to_vec()];
    Ok(cfg)
}
