//! The deployment PKI: one CA per deployment, a server certificate for the
//! controller, one client certificate per device, and a CRL the CA signs.
//!
//! Everything lives in one directory so the CLI can hand paths around:
//!
//! ```text
//! <dir>/ca.key.pem            CA private key (0600)
//! <dir>/ca.cert.pem           CA certificate (the only trust root of both sides)
//! <dir>/crl.pem               CRL signed by the CA (written by `init`, rewritten by `revoke`)
//! <dir>/issued.tsv            every device serial ever issued: `<device>\t<serial hex>\t<not_after unix s>`
//! <dir>/controller.key.pem    controller private key (0600)
//! <dir>/controller.cert.pem   controller certificate (server auth)
//! <dir>/devices/device-<id>.key.pem   device private key (0600)
//! <dir>/devices/device-<id>.cert.pem  device certificate (client auth)
//! ```
//!
//! A device's identity is in its certificate twice: SAN URI
//! `hivemind:device:<id>` (what [`crate::quic::peer_device`] reads) and
//! CN `device-<id>` (for humans and logs). Re-issuing a device writes new
//! files over the old ones; the old certificate stays valid until it
//! expires or the device is revoked, and `revoke` revokes every serial the
//! index holds for that device. Two PKI commands running at the same time
//! on one directory are not supported (the CLI is the only writer).

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Read as _, Write as _};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevocationReason, RevokedCertParams, SanType, SerialNumber,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use time::OffsetDateTime;

/// File names inside a PKI directory.
pub const CA_KEY: &str = "ca.key.pem";
/// CA certificate file name.
pub const CA_CERT: &str = "ca.cert.pem";
/// CRL file name.
pub const CRL: &str = "crl.pem";
/// Issued-serials index file name.
pub const INDEX: &str = "issued.tsv";
/// Controller key file name.
pub const CONTROLLER_KEY: &str = "controller.key.pem";
/// Controller certificate file name.
pub const CONTROLLER_CERT: &str = "controller.cert.pem";
/// Sub-directory holding device keys and certificates.
pub const DEVICES_DIR: &str = "devices";

/// URI SAN prefix naming a device: `hivemind:device:<id>`.
pub const DEVICE_URI_PREFIX: &str = "hivemind:device:";

/// Names the controller certificate covers when none are given.
pub const DEFAULT_CONTROLLER_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// PEM files are small; a bigger file is not one of ours and is refused
/// before it is read into memory.
pub const MAX_PEM_FILE_BYTES: u64 = 1024 * 1024;

/// How long a CA lives when `init` is not told otherwise.
pub const CA_VALIDITY_DAYS: u32 = 3650;
/// How long device and controller certificates live by default.
pub const LEAF_VALIDITY_DAYS: u32 = 365;

/// Certificates start this much in the past so a device whose clock is a
/// little behind the controller's does not see a not-yet-valid certificate.
const BACKDATE: Duration = Duration::from_secs(5 * 60);

/// Errors of the PKI functions and PEM loaders.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// `init` found a CA and was not told to replace it.
    #[error("a CA already exists at {0} (pass force to replace it; every certificate it issued stops working)")]
    CaExists(PathBuf),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
    /// A file exists but is larger than any PEM file this PKI writes.
    #[error("{path}: {len} bytes is larger than the {max}-byte limit for PEM files")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// A PEM file is malformed, truncated, or holds the wrong kind of item.
    #[error("{path}: {reason}")]
    BadPem {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The CA key does not belong to the CA certificate.
    #[error("{key} does not match the public key of {cert}")]
    KeyMismatch {
        /// The key file.
        key: PathBuf,
        /// The certificate file.
        cert: PathBuf,
    },
    /// A controller name is neither a DNS name nor an IP address.
    #[error("`{0}` is neither a DNS name nor an IP address")]
    BadName(String),
    /// The validity window is empty or cannot be represented.
    #[error("invalid validity: {0}")]
    BadValidity(String),
    /// `revoke` was asked for a device this CA never issued.
    #[error("device {0} has no certificate issued by this CA")]
    NotIssued(u32),
    /// The issued-serials index is damaged.
    #[error("{path} line {line}: {reason}")]
    BadIndex {
        /// The index file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The random number generator failed.
    #[error("random number generator failed")]
    Rng,
    /// rcgen refused to build or sign something.
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
}

/// When a certificate is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// First instant the certificate is valid.
    pub not_before: SystemTime,
    /// Last instant the certificate is valid.
    pub not_after: SystemTime,
}

impl Validity {
    /// From a few minutes ago (clock skew) to `days` days from now.
    pub fn days(days: u32) -> Self {
        let now = SystemTime::now();
        Self {
            not_before: now.checked_sub(BACKDATE).unwrap_or(now),
            not_after: now
                .checked_add(Duration::from_secs(u64::from(days) * 86_400))
                .unwrap_or(now),
        }
    }

    fn to_rcgen(self) -> Result<(OffsetDateTime, OffsetDateTime), PkiError> {
        if self.not_after <= self.not_before {
            return Err(PkiError::BadValidity(
                "not_after must be later than not_before".into(),
            ));
        }
        // X.509 times carry whole seconds in 1950..=9999 (UTCTime and
        // GeneralizedTime); `time`'s own SystemTime conversion panics
        // outside its range, so check on plain seconds first.
        const MIN: i64 = -631_152_000; // 1950-01-01T00:00:00Z
        const MAX: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
        let conv = |t: SystemTime| -> Result<OffsetDateTime, PkiError> {
            let secs = match t.duration_since(SystemTime::UNIX_EPOCH) {
                Ok(d) => i64::try_from(d.as_secs()).ok(),
                Err(e) => i64::try_from(e.duration().as_secs()).ok().map(|s| -s),
            };
            let secs = secs.filter(|s| (MIN..=MAX).contains(s)).ok_or_else(|| {
                PkiError::BadValidity("dates must lie in years 1950..=9999".into())
            })?;
            OffsetDateTime::from_unix_timestamp(secs)
                .map_err(|e| PkiError::BadValidity(e.to_string()))
        };
        Ok((conv(self.not_before)?, conv(self.not_after)?))
    }
}

/// Files written by [`init`], [`issue_device`] or [`issue_controller`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The certificate (PEM).
    pub cert: PathBuf,
    /// The private key (PEM, mode 0600).
    pub key: PathBuf,
    /// Serial number, lower-case hex.
    pub serial: String,
    /// Last instant the certificate is valid.
    pub not_after: SystemTime,
}

/// What [`init`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitReport {
    /// The CA certificate and key.
    pub ca: Issued,
    /// The (empty) CRL.
    pub crl: PathBuf,
}

/// What [`revoke`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// The CRL that now lists the device.
    pub crl: PathBuf,
    /// Serials this call added to the CRL (lower-case hex); empty when the
    /// device was already revoked.
    pub newly_revoked: Vec<String>,
    /// Total number of serials the CRL lists.
    pub total_revoked: usize,
}

/// Paths of a device's certificate and key inside a PKI directory.
pub fn device_paths(dir: &Path, device_id: u32) -> (PathBuf, PathBuf) {
    let d = dir.join(DEVICES_DIR);
    (
        d.join(format!("device-{device_id}.cert.pem")),
        d.join(format!("device-{device_id}.key.pem")),
    )
}

/// The URI SAN naming `device_id`.
pub fn device_uri(device_id: u32) -> String {
    format!("{DEVICE_URI_PREFIX}{device_id}")
}

/// Creates a deployment CA in `dir` (created if missing, mode 0700) valid for
/// `validity`, and an empty CRL. Refuses if a CA key or certificate is
/// already there unless `force`; with `force` the old CA, its index and CRL
/// are replaced and every certificate it issued stops being trusted.
pub fn init(dir: &Path, validity: Validity, force: bool) -> Result<InitReport, PkiError> {
    let ca_key_path = dir.join(CA_KEY);
    let ca_cert_path = dir.join(CA_CERT);
    for p in [&ca_key_path, &ca_cert_path] {
        if p.exists() && !force {
            return Err(PkiError::CaExists(p.clone()));
        }
    }
    create_private_dir(dir)?;
    let (not_before, not_after) = validity.to_rcgen()?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    let serial = random_serial()?;
    // Each deployment's CA gets its own name: verifiers find an issuer by
    // name, so two CAs sharing one would turn "not our CA" into a
    // confusing bad-signature error.
    params.distinguished_name.push(
        DnType::CommonName,
        format!("HiveMind deployment CA {}", hex(&serial[..4])),
    );
    params
        .distinguished_name
        .push(DnType::OrganizationName, "HiveMind-rs");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = not_before;
    params.not_after = not_after;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    let cert = params.self_signed(&key)?;

    write_file(&ca_key_path, key.serialize_pem().as_bytes(), true)?;
    write_file(&ca_cert_path, cert.pem().as_bytes(), false)?;
    let index = dir.join(INDEX);
    write_file(&index, b"", false)?;
    let issuer = Issuer::new(params, key);
    let crl = write_crl(dir, &issuer, &[], 1)?;
    Ok(InitReport {
        ca: Issued {
            cert: ca_cert_path,
            key: ca_key_path,
            serial: hex(&serial),
            not_after: SystemTime::from(not_after),
        },
        crl,
    })
}

/// Issues a client certificate for `device_id` signed by the CA in `dir`,
/// writes it and its key under `dir/devices/`, and records its serial in
/// the index. Overwrites the device's previous files (re-issue).
pub fn issue_device(dir: &Path, device_id: u32, validity: Validity) -> Result<Issued, PkiError> {
    let issuer = load_issuer(dir)?;
    let (not_before, not_after) = validity.to_rcgen()?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, format!("device-{device_id}"));
    params.subject_alt_names = vec![SanType::URI(device_uri(device_id).try_into()?)];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = not_before;
    params.not_after = not_after;
    let serial = random_serial()?;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    let cert = params.signed_by(&key, &issuer)?;

    let (cert_path, key_path) = device_paths(dir, device_id);
    create_private_dir(&dir.join(DEVICES_DIR))?;
    write_file(&key_path, key.serialize_pem().as_bytes(), true)?;
    write_file(&cert_path, cert.pem().as_bytes(), false)?;
    append_index(dir, device_id, &serial, not_after)?;
    Ok(Issued {
        cert: cert_path,
        key: key_path,
        serial: hex(&serial),
        not_after: SystemTime::from(not_after),
    })
}

/// Issues the controller's server certificate for `names` (DNS names or IP
/// addresses; [`DEFAULT_CONTROLLER_NAMES`] when empty), signed by the CA in
/// `dir`. Overwrites a previous controller certificate.
pub fn issue_controller<I>(dir: &Path, names: I, validity: Validity) -> Result<Issued, PkiError>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let mut sans = Vec::new();
    for name in names {
        sans.push(controller_san(name.as_ref())?);
    }
    if sans.is_empty() {
        for name in DEFAULT_CONTROLLER_NAMES {
            sans.push(controller_san(name)?);
        }
    }
    let issuer = load_issuer(dir)?;
    let (not_before, not_after) = validity.to_rcgen()?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "hivemind-controller");
    params.subject_alt_names = sans;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = not_before;
    params.not_after = not_after;
    let serial = random_serial()?;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    let cert = params.signed_by(&key, &issuer)?;

    let cert_path = dir.join(CONTROLLER_CERT);
    let key_path = dir.join(CONTROLLER_KEY);
    write_file(&key_path, key.serialize_pem().as_bytes(), true)?;
    write_file(&cert_path, cert.pem().as_bytes(), false)?;
    Ok(Issued {
        cert: cert_path,
        key: key_path,
        serial: hex(&serial),
        not_after: SystemTime::from(not_after),
    })
}

/// Revokes every certificate issued to `device_id`: re-signs `dir/crl.pem`
/// with the device's serials added (keeping the ones already there) and a
/// CRL number one higher. A running server reads the CRL when its config
/// is built: rebuild it ([`crate::tls::ServerIdentity::load`]) and swap it
/// in with `Endpoint::set_server_config`.
pub fn revoke(dir: &Path, device_id: u32) -> Result<Revoked, PkiError> {
    let issuer = load_issuer(dir)?;
    let index = read_index(dir)?;
    let mut serials: Vec<Vec<u8>> = index
        .iter()
        .filter(|e| e.device == device_id)
        .map(|e| e.serial.clone())
        .collect();
    if serials.is_empty() {
        // An index lost or predating this device: fall back to the
        // device's current certificate file.
        let (cert_path, _) = device_paths(dir, device_id);
        if !cert_path.exists() {
            return Err(PkiError::NotIssued(device_id));
        }
        let der = load_cert(&cert_path)?;
        let (_, cert) =
            x509_parser::parse_x509_certificate(der.as_ref()).map_err(|e| PkiError::BadPem {
                path: cert_path.clone(),
                reason: format!("not an X.509 certificate: {e}"),
            })?;
        serials.push(canonical_serial(cert.raw_serial()));
    }

    let crl_path = dir.join(CRL);
    let (mut revoked, number) = read_crl_entries(&crl_path)?;
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or(OffsetDateTime::now_utc());
    let mut newly = Vec::new();
    for s in serials {
        if !revoked.iter().any(|r| r.serial == s) {
            newly.push(hex(&s));
            revoked.push(CrlEntry {
                serial: s,
                when: now,
            });
        }
    }
    let next_number = number.checked_add(1).ok_or_else(|| PkiError::BadPem {
        path: crl_path.clone(),
        reason: "CRL number overflow".into(),
    })?;
    let crl = write_crl(dir, &issuer, &revoked, next_number)?;
    Ok(Revoked {
        crl,
        newly_revoked: newly,
        total_revoked: revoked.len(),
    })
}

/// Loads every certificate in a PEM file (at least one), each checked to
/// be a well-formed X.509 certificate.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let bytes = read_capped(path)?;
    let mut certs = Vec::new();
    for item in CertificateDer::pem_slice_iter(&bytes) {
        let der = item.map_err(|e| bad_pem(path, e))?;
        if let Err(e) = x509_parser::parse_x509_certificate(der.as_ref()) {
            return Err(PkiError::BadPem {
                path: path.to_owned(),
                reason: format!("certificate is not valid X.509 DER: {e}"),
            });
        }
        certs.push(der);
    }
    if certs.is_empty() {
        return Err(PkiError::BadPem {
            path: path.to_owned(),
            reason: "no CERTIFICATE section found".into(),
        });
    }
    Ok(certs)
}

/// Loads the first certificate of a PEM file.
pub fn load_cert(path: &Path) -> Result<CertificateDer<'static>, PkiError> {
    let mut certs = load_certs(path)?;
    Ok(certs.swap_remove(0))
}

/// Loads a private key (PKCS#8, SEC1 or PKCS#1 PEM), checked to be one
/// rustls' ring provider can sign with.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, PkiError> {
    let bytes = read_capped(path)?;
    let key = PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| bad_pem(path, e))?;
    if let Err(e) = rustls::crypto::ring::sign::any_supported_type(&key) {
        return Err(PkiError::BadPem {
            path: path.to_owned(),
            reason: format!("not a usable private key: {e}"),
        });
    }
    Ok(key)
}

/// Loads a CRL, checked to be a well-formed X.509 CRL.
pub fn load_crl(path: &Path) -> Result<CertificateRevocationListDer<'static>, PkiError> {
    let bytes = read_capped(path)?;
    let der = CertificateRevocationListDer::from_pem_slice(&bytes).map_err(|e| bad_pem(path, e))?;
    if let Err(e) = x509_parser::parse_x509_crl(der.as_ref()) {
        return Err(PkiError::BadPem {
            path: path.to_owned(),
            reason: format!("not a valid X.509 CRL: {e}"),
        });
    }
    Ok(der)
}

fn controller_san(name: &str) -> Result<SanType, PkiError> {
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    // rustls' own DNS-name check is the one the client applies when it
    // connects, so a name that passes here is one a client can dial.
    if rustls::pki_types::DnsName::try_from(name).is_err() {
        return Err(PkiError::BadName(name.to_owned()));
    }
    let ia5 = name
        .try_into()
        .map_err(|_| PkiError::BadName(name.to_owned()))?;
    Ok(SanType::DnsName(ia5))
}

fn load_issuer(dir: &Path) -> Result<Issuer<'static, KeyPair>, PkiError> {
    let key_path = dir.join(CA_KEY);
    let cert_path = dir.join(CA_CERT);
    let key_bytes = read_capped(&key_path)?;
    let key_pem = std::str::from_utf8(&key_bytes).map_err(|_| PkiError::BadPem {
        path: key_path.clone(),
        reason: "not UTF-8 text".into(),
    })?;
    let key = KeyPair::from_pem(key_pem).map_err(|e| PkiError::BadPem {
        path: key_path.clone(),
        reason: format!("not a usable private key: {e}"),
    })?;
    let cert = load_cert(&cert_path)?;
    let (_, parsed) =
        x509_parser::parse_x509_certificate(cert.as_ref()).map_err(|e| PkiError::BadPem {
            path: cert_path.clone(),
            reason: format!("not an X.509 certificate: {e}"),
        })?;
    // A key from another CA would sign certificates nobody can verify;
    // catch that here rather than at the first handshake.
    if parsed.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
        return Err(PkiError::KeyMismatch {
            key: key_path,
            cert: cert_path,
        });
    }
    Issuer::from_ca_cert_der(&cert, key).map_err(|e| PkiError::BadPem {
        path: cert_path,
        reason: format!("cannot use as issuer: {e}"),
    })
}

struct CrlEntry {
    serial: Vec<u8>,
    when: OffsetDateTime,
}

fn write_crl(
    dir: &Path,
    issuer: &Issuer<'_, KeyPair>,
    revoked: &[CrlEntry],
    number: u64,
) -> Result<PathBuf, PkiError> {
    let now = OffsetDateTime::now_utc();
    let this_update = (now - time::Duration::minutes(5))
        .replace_nanosecond(0)
        .unwrap_or(now);
    // Verifiers built here ignore nextUpdate (rustls' default), so it only
    // tells other tools how stale the list may get.
    let next_update = this_update + time::Duration::days(i64::from(LEAF_VALIDITY_DAYS));
    let params = CertificateRevocationListParams {
        this_update,
        next_update,
        crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
        issuing_distribution_point: None,
        revoked_certs: revoked
            .iter()
            .map(|r| RevokedCertParams {
                serial_number: SerialNumber::from_slice(&r.serial),
                revocation_time: r.when,
                reason_code: Some(RevocationReason::Unspecified),
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    };
    let crl = params.signed_by(issuer)?;
    let path = dir.join(CRL);
    write_file(&path, crl.pem()?.as_bytes(), false)?;
    Ok(path)
}

fn read_crl_entries(path: &Path) -> Result<(Vec<CrlEntry>, u64), PkiError> {
    let der = load_crl(path)?;
    let (_, crl) = x509_parser::parse_x509_crl(der.as_ref()).map_err(|e| PkiError::BadPem {
        path: path.to_owned(),
        reason: format!("not a valid X.509 CRL: {e}"),
    })?;
    let mut entries = Vec::new();
    for r in crl.iter_revoked_certificates() {
        let when =
            OffsetDateTime::from_unix_timestamp(r.revocation_date.timestamp()).map_err(|e| {
                PkiError::BadPem {
                    path: path.to_owned(),
                    reason: format!("revocation date out of range: {e}"),
                }
            })?;
        entries.push(CrlEntry {
            serial: canonical_serial(r.raw_serial()),
            when,
        });
    }
    let number = match crl.crl_number() {
        None => 0,
        Some(n) => {
            let bytes = n.to_bytes_be();
            if bytes.len() > 8 {
                return Err(PkiError::BadPem {
                    path: path.to_owned(),
                    reason: "CRL number larger than 64 bits".into(),
                });
            }
            bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
        }
    };
    Ok((entries, number))
}

struct IndexEntry {
    device: u32,
    serial: Vec<u8>,
}

fn read_index(dir: &Path) -> Result<Vec<IndexEntry>, PkiError> {
    let path = dir.join(INDEX);
    let bytes = match read_capped(&path) {
        Ok(b) => b,
        Err(PkiError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            return Ok(Vec::new())
        }
        Err(e) => return Err(e),
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| PkiError::BadIndex {
        path: path.clone(),
        line: 0,
        reason: "not UTF-8 text".into(),
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: &str| PkiError::BadIndex {
            path: path.clone(),
            line: i + 1,
            reason: reason.to_owned(),
        };
        let mut fields = line.split('\t');
        let device = fields
            .next()
            .and_then(|f| f.parse::<u32>().ok())
            .ok_or_else(|| bad("first field is not a device id"))?;
        let serial = fields
            .next()
            .and_then(unhex)
            .filter(|s| !s.is_empty() && s.len() <= 20)
            .ok_or_else(|| bad("second field is not a hex serial of 1..=20 bytes"))?;
        out.push(IndexEntry {
            device,
            serial: canonical_serial(&serial),
        });
    }
    Ok(out)
}

fn append_index(
    dir: &Path,
    device: u32,
    serial: &[u8],
    not_after: OffsetDateTime,
) -> Result<(), PkiError> {
    let path = dir.join(INDEX);
    let line = format!(
        "{device}\t{}\t{}\n",
        hex(serial),
        not_after.unix_timestamp()
    );
    let io_err = |source| PkiError::Io {
        path: path.clone(),
        source,
    };
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(io_err)?;
    f.write_all(line.as_bytes()).map_err(io_err)?;
    f.sync_all().map_err(io_err)
}

/// 16 random bytes with the top bit clear (a positive INTEGER) and the
/// next bit set (so DER never strips a leading zero and the serial we
/// record is byte-for-byte the one parsers give back).
fn random_serial() -> Result<[u8; 16], PkiError> {
    let mut s = [0u8; 16];
    crate::tls::provider()
        .secure_random
        .fill(&mut s)
        .map_err(|_| PkiError::Rng)?;
    s[0] = (s[0] & 0x7f) | 0x40;
    Ok(s)
}

/// Strips DER sign-padding zeros so serials compare equal however they
/// were encoded.
fn canonical_serial(raw: &[u8]) -> Vec<u8> {
    let start = raw
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(raw.len().saturating_sub(1));
    raw[start..].to_vec()
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn bad_pem(path: &Path, e: rustls::pki_types::pem::Error) -> PkiError {
    use rustls::pki_types::pem::Error as E;
    let reason = match e {
        E::MissingSectionEnd { .. } => "truncated: a PEM section has no END line".to_owned(),
        E::IllegalSectionStart { .. } => "malformed PEM BEGIN line".to_owned(),
        E::Base64Decode(m) => format!("bad base64 in PEM body: {m}"),
        E::NoItemsFound => "no PEM section of the expected kind found".to_owned(),
        other => other.to_string(),
    };
    PkiError::BadPem {
        path: path.to_owned(),
        reason,
    }
}

fn read_capped(path: &Path) -> Result<Vec<u8>, PkiError> {
    let io_err = |source| PkiError::Io {
        path: path.to_owned(),
        source,
    };
    let f = fs::File::open(path).map_err(io_err)?;
    let len = f.metadata().map_err(io_err)?.len();
    if len > MAX_PEM_FILE_BYTES {
        return Err(PkiError::TooLarge {
            path: path.to_owned(),
            len,
            max: MAX_PEM_FILE_BYTES,
        });
    }
    let mut buf = Vec::new();
    // `take` guards against a file that grows after the size check.
    f.take(MAX_PEM_FILE_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(io_err)?;
    if buf.len() as u64 > MAX_PEM_FILE_BYTES {
        return Err(PkiError::TooLarge {
            path: path.to_owned(),
            len: buf.len() as u64,
            max: MAX_PEM_FILE_BYTES,
        });
    }
    Ok(buf)
}

fn create_private_dir(dir: &Path) -> Result<(), PkiError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        b.mode(0o700);
    }
    b.create(dir).map_err(|source| PkiError::Io {
        path: dir.to_owned(),
        source,
    })
}

/// Writes through a temporary file and a rename so a crash never leaves a
/// half-written key or certificate; keys are created 0600 from the start
/// (never world-readable, not even briefly).
fn write_file(path: &Path, contents: &[u8], private: bool) -> Result<(), PkiError> {
    let io_err = |source| PkiError::Io {
        path: path.to_owned(),
        source,
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| io_err(io::Error::other("no file name")))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(if private { 0o600 } else { 0o644 });
    }
    let _ = fs::remove_file(&tmp);
    let mut f = opts.open(&tmp).map_err(io_err)?;
    f.write_all(contents).map_err(io_err)?;
    f.sync_all().map_err(io_err)?;
    drop(f);
    fs::rename(&tmp, path).map_err(io_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_canonical_and_hex_round_trip() {
        assert_eq!(canonical_serial(&[0, 0, 0x40, 1]), vec![0x40, 1]);
        assert_eq!(canonical_serial(&[0]), vec![0]);
        assert_eq!(canonical_serial(&[]), Vec::<u8>::new());
        assert_eq!(unhex(&hex(&[0x40, 0xff, 0])), Some(vec![0x40, 0xff, 0]));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex("éé"), None);
    }

    #[test]
    fn random_serials_are_positive_and_unpadded() {
        for _ in 0..64 {
            let s = random_serial().unwrap();
            assert_eq!(s[0] & 0xc0, 0x40);
            assert_eq!(canonical_serial(&s), s.to_vec());
        }
    }

    #[test]
    fn validity_refuses_empty_and_out_of_range_windows() {
        let now = SystemTime::now();
        let empty = Validity {
            not_before: now,
            not_after: now,
        };
        assert!(matches!(empty.to_rcgen(), Err(PkiError::BadValidity(_))));
        let far = Validity {
            not_before: now,
            not_after: now + Duration::from_secs(10_000 * 366 * 86_400),
        };
        assert!(matches!(far.to_rcgen(), Err(PkiError::BadValidity(_))));
        let ancient = Validity {
            not_before: SystemTime::UNIX_EPOCH - Duration::from_secs(30 * 366 * 86_400),
            not_after: now,
        };
        assert!(matches!(ancient.to_rcgen(), Err(PkiError::BadValidity(_))));
        let edge = Validity {
            not_before: SystemTime::UNIX_EPOCH - Duration::from_secs(631_152_000),
            not_after: SystemTime::UNIX_EPOCH + Duration::from_secs(253_402_300_799),
        };
        let (a, b) = edge.to_rcgen().unwrap();
        assert_eq!((a.year(), b.year()), (1950, 9999));
        // Days far past the representable range saturate instead of panicking.
        let huge = Validity::days(u32::MAX);
        assert!(matches!(huge.to_rcgen(), Err(PkiError::BadValidity(_))));
    }
}
