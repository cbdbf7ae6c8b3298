//! The deployment PKI on disk: what each call writes, refusals, and loaders
//! on missing, garbage, truncated and oversized files.

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use hivemind_net::pki::{self, PkiError, Validity};
use hivemind_net::quic::device_from_cert;

fn year() -> Validity {
    Validity::days(365)
}

fn fresh() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    pki::init(dir.path(), Validity::days(3650), false).unwrap();
    dir
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn init_writes_ca_and_empty_crl_with_private_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let r = pki::init(&dir, Validity::days(3650), false).unwrap();
    assert_eq!(r.ca.cert, dir.join(pki::CA_CERT));
    assert_eq!(r.ca.key, dir.join(pki::CA_KEY));
    assert_eq!(r.crl, dir.join(pki::CRL));
    assert_eq!(r.ca.serial.len(), 32);
    #[cfg(unix)]
    {
        assert_eq!(mode(&r.ca.key), 0o600);
        assert_eq!(mode(&dir), 0o700);
    }
    let ca = pki::load_cert(&r.ca.cert).unwrap();
    let (_, parsed) = x509_parser::parse_x509_certificate(ca.as_ref()).unwrap();
    assert!(parsed.is_ca());
    let crl = pki::load_crl(&r.crl).unwrap();
    let (_, crl) = x509_parser::parse_x509_crl(crl.as_ref()).unwrap();
    assert_eq!(crl.iter_revoked_certificates().count(), 0);
    // No temporary files left behind.
    for e in fs::read_dir(&dir).unwrap() {
        let name = e.unwrap().file_name();
        assert!(!name.to_string_lossy().ends_with(".tmp"), "{name:?}");
    }
}

#[test]
fn init_never_replaces_a_ca_without_force() {
    let dir = fresh();
    let before = fs::read(dir.path().join(pki::CA_CERT)).unwrap();
    let key_before = fs::read(dir.path().join(pki::CA_KEY)).unwrap();
    match pki::init(dir.path(), year(), false) {
        Err(PkiError::CaExists(p)) => assert!(p.starts_with(dir.path())),
        other => panic!("expected CaExists, got {other:?}"),
    }
    assert_eq!(fs::read(dir.path().join(pki::CA_CERT)).unwrap(), before);
    assert_eq!(fs::read(dir.path().join(pki::CA_KEY)).unwrap(), key_before);

    // A lone key (half-finished earlier init) is also protected.
    let dir2 = tempfile::tempdir().unwrap();
    fs::write(dir2.path().join(pki::CA_KEY), "x").unwrap();
    assert!(matches!(
        pki::init(dir2.path(), year(), false),
        Err(PkiError::CaExists(_))
    ));

    pki::init(dir.path(), year(), true).unwrap();
    assert_ne!(fs::read(dir.path().join(pki::CA_CERT)).unwrap(), before);
}

#[test]
fn device_certificate_names_the_device() {
    let dir = fresh();
    let issued = pki::issue_device(dir.path(), 17, year()).unwrap();
    let (cert_path, key_path) = pki::device_paths(dir.path(), 17);
    assert_eq!(issued.cert, cert_path);
    assert_eq!(issued.key, key_path);
    #[cfg(unix)]
    assert_eq!(mode(&issued.key), 0o600);
    let cert = pki::load_cert(&issued.cert).unwrap();
    assert_eq!(device_from_cert(&cert), Ok(17));
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).unwrap();
    let cn = parsed.subject().iter_common_name().next().unwrap();
    assert_eq!(cn.as_str().unwrap(), "device-17");
    assert_eq!(
        parsed.raw_serial_as_string().replace(':', ""),
        issued.serial
    );
    pki::load_key(&issued.key).unwrap();

    let max = pki::issue_device(dir.path(), u32::MAX, year()).unwrap();
    assert_eq!(
        device_from_cert(&pki::load_cert(&max.cert).unwrap()),
        Ok(u32::MAX)
    );
}

#[test]
fn controller_certificate_covers_default_and_given_names() {
    let dir = fresh();
    let none: [&str; 0] = [];
    let issued = pki::issue_controller(dir.path(), none, year()).unwrap();
    let cert = pki::load_cert(&issued.cert).unwrap();
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).unwrap();
    let names: Vec<String> = parsed
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.iter().any(|n| n.contains("localhost")));
    assert!(device_from_cert(&cert).is_err());

    let given = vec!["controller.example".to_string(), "10.1.2.3".to_string()];
    pki::issue_controller(dir.path(), &given, year()).unwrap();

    for bad in ["", "bad name", "under_score..x", "ünïcode"] {
        assert!(
            matches!(
                pki::issue_controller(dir.path(), [bad], year()),
                Err(PkiError::BadName(_))
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn revoke_adds_every_serial_of_the_device_once() {
    let dir = fresh();
    assert!(matches!(
        pki::revoke(dir.path(), 17),
        Err(PkiError::NotIssued(17))
    ));
    let a = pki::issue_device(dir.path(), 17, year()).unwrap();
    let b = pki::issue_device(dir.path(), 17, year()).unwrap(); // re-issue
    let other = pki::issue_device(dir.path(), 18, year()).unwrap();
    let r = pki::revoke(dir.path(), 17).unwrap();
    assert_eq!(r.crl, dir.path().join(pki::CRL));
    let mut newly = r.newly_revoked.clone();
    newly.sort();
    let mut want = vec![a.serial.clone(), b.serial.clone()];
    want.sort();
    assert_eq!(newly, want);
    assert_eq!(r.total_revoked, 2);

    let again = pki::revoke(dir.path(), 17).unwrap();
    assert!(again.newly_revoked.is_empty());
    assert_eq!(again.total_revoked, 2);

    let r18 = pki::revoke(dir.path(), 18).unwrap();
    assert_eq!(r18.newly_revoked, vec![other.serial.clone()]);
    assert_eq!(r18.total_revoked, 3);

    // Re-enrolling a revoked device gives it a new serial the CRL does not
    // list; revoking again adds only that one.
    let again17 = pki::issue_device(dir.path(), 17, year()).unwrap();
    let r = pki::revoke(dir.path(), 17).unwrap();
    assert_eq!(r.newly_revoked, vec![again17.serial.clone()]);
    assert_eq!(r.total_revoked, 4);

    let der = pki::load_crl(&r18.crl).unwrap();
    let (_, crl) = x509_parser::parse_x509_crl(der.as_ref()).unwrap();
    let listed: Vec<String> = crl
        .iter_revoked_certificates()
        .map(|c| c.raw_serial_as_string().replace(':', ""))
        .collect();
    for s in [&a.serial, &b.serial, &other.serial] {
        assert!(listed.contains(s), "{s} not in {listed:?}");
    }
    // init wrote number 1, then four revocations.
    let number = crl.crl_number().unwrap().to_bytes_be();
    assert_eq!(number, vec![5]);
}

#[test]
fn revoke_without_index_falls_back_to_the_device_certificate() {
    let dir = fresh();
    let a = pki::issue_device(dir.path(), 5, year()).unwrap();
    fs::remove_file(dir.path().join(pki::INDEX)).unwrap();
    let r = pki::revoke(dir.path(), 5).unwrap();
    assert_eq!(r.newly_revoked, vec![a.serial]);
}

#[test]
fn damaged_index_is_a_clear_error() {
    let dir = fresh();
    pki::issue_device(dir.path(), 1, year()).unwrap();
    let index = dir.path().join(pki::INDEX);
    let mut text = fs::read_to_string(&index).unwrap();
    text.push_str("seventeen\tzz\t0\n");
    fs::write(&index, text).unwrap();
    match pki::revoke(dir.path(), 1) {
        Err(PkiError::BadIndex { line, .. }) => assert_eq!(line, 2),
        other => panic!("expected BadIndex, got {other:?}"),
    }
}

#[test]
fn issuing_needs_the_matching_ca_key() {
    let empty = tempfile::tempdir().unwrap();
    match pki::issue_device(empty.path(), 1, year()) {
        Err(PkiError::Io { path, source }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            assert!(path.ends_with(pki::CA_KEY));
        }
        other => panic!("expected Io, got {other:?}"),
    }
    let a = fresh();
    let b = fresh();
    fs::copy(b.path().join(pki::CA_KEY), a.path().join(pki::CA_KEY)).unwrap();
    assert!(matches!(
        pki::issue_device(a.path(), 1, year()),
        Err(PkiError::KeyMismatch { .. })
    ));
}

#[test]
fn validity_window_must_be_sane() {
    let dir = fresh();
    let now = SystemTime::now();
    let backwards = Validity {
        not_before: now,
        not_after: now - Duration::from_secs(1),
    };
    assert!(matches!(
        pki::issue_device(dir.path(), 1, backwards),
        Err(PkiError::BadValidity(_))
    ));
    // Entirely in the past is allowed: that is how an expired cert is made.
    let past = Validity {
        not_before: now - Duration::from_secs(3 * 86_400),
        not_after: now - Duration::from_secs(86_400),
    };
    let issued = pki::issue_device(dir.path(), 1, past).unwrap();
    assert!(issued.not_after < now);
}

fn expect_bad_pem<T: std::fmt::Debug>(r: Result<T, PkiError>, needle: &str) {
    match r {
        Err(PkiError::BadPem { reason, .. }) => {
            assert!(
                reason.contains(needle),
                "reason {reason:?} lacks {needle:?}"
            )
        }
        other => panic!("expected BadPem({needle}), got {other:?}"),
    }
}

#[test]
fn loaders_refuse_missing_garbage_truncated_and_oversized_files() {
    let dir = fresh();
    let issued = pki::issue_device(dir.path(), 3, year()).unwrap();
    let t = dir.path();

    // Missing.
    match pki::load_cert(&t.join("nope.pem")) {
        Err(PkiError::Io { source, .. }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound)
        }
        other => panic!("{other:?}"),
    }
    // Empty and garbage text.
    let empty = t.join("empty.pem");
    fs::write(&empty, "").unwrap();
    expect_bad_pem(pki::load_cert(&empty), "no CERTIFICATE");
    expect_bad_pem(pki::load_key(&empty), "no PEM section");
    expect_bad_pem(pki::load_crl(&empty), "no PEM section");
    let garbage = t.join("garbage.pem");
    fs::write(&garbage, [0xffu8, 0x00, 0x13, 0x37].repeat(100)).unwrap();
    expect_bad_pem(pki::load_cert(&garbage), "no CERTIFICATE");

    // Truncated in the middle of the base64 body.
    let pem = fs::read_to_string(&issued.cert).unwrap();
    let cut = t.join("cut.pem");
    fs::write(&cut, &pem[..pem.len() / 2]).unwrap();
    expect_bad_pem(pki::load_cert(&cut), "truncated");
    let key_pem = fs::read_to_string(&issued.key).unwrap();
    fs::write(&cut, &key_pem[..key_pem.len() / 2]).unwrap();
    expect_bad_pem(pki::load_key(&cut), "truncated");

    // Well-formed PEM around bytes that are not a certificate / key / CRL.
    let wrapped = t.join("wrapped.pem");
    for (label, load) in [("CERTIFICATE", 0), ("PRIVATE KEY", 1), ("X509 CRL", 2)] {
        fs::write(
            &wrapped,
            format!("-----BEGIN {label}-----\nMIIBAAAAAAAA\n-----END {label}-----\n"),
        )
        .unwrap();
        match load {
            0 => expect_bad_pem(pki::load_cert(&wrapped), "not valid X.509"),
            1 => expect_bad_pem(pki::load_key(&wrapped), "not a usable private key"),
            _ => expect_bad_pem(pki::load_crl(&wrapped), "not a valid X.509 CRL"),
        }
    }
    // Bad base64.
    fs::write(
        &wrapped,
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    expect_bad_pem(pki::load_cert(&wrapped), "base64");

    // The wrong kind of item.
    expect_bad_pem(pki::load_key(&issued.cert), "no PEM section");
    expect_bad_pem(pki::load_cert(&issued.key), "no CERTIFICATE");

    // Oversized: refused before reading.
    let big = t.join("big.pem");
    let f = fs::File::create(&big).unwrap();
    f.set_len(pki::MAX_PEM_FILE_BYTES + 1).unwrap();
    assert!(matches!(
        pki::load_cert(&big),
        Err(PkiError::TooLarge { .. })
    ));

    // A damaged CA certificate stops issuing with a clear error.
    fs::write(t.join(pki::CA_CERT), &pem[..pem.len() / 3]).unwrap();
    expect_bad_pem(pki::issue_device(t, 4, year()), "truncated");
    // And a damaged CRL stops revoking.
    let (dir2, _) = (fresh(), ());
    pki::issue_device(dir2.path(), 9, year()).unwrap();
    fs::write(dir2.path().join(pki::CRL), "garbage").unwrap();
    expect_bad_pem(pki::revoke(dir2.path(), 9), "no PEM section");
}
