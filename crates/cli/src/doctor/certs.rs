//! A client certificate and its key as files on disk: readable, a key that
//! belongs to the certificate, and inside its validity period.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

/// Certificates that expire sooner than this get a warning.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

const DAY: i64 = 24 * 60 * 60;

/// A certificate chain with its private key, read and matched.
pub struct ClientIdentity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// The subject's common name: the Koji user name of a host certificate.
    pub common_name: Option<String>,
    pub not_before: i64,
    pub not_after: i64,
}

impl ClientIdentity {
    /// The chain and key for a rustls client configuration.
    pub fn for_tls(&self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        (self.chain.clone(), self.key.clone_key())
    }
}

/// Read `cert` and its key (from `key`, or from `cert` itself when the
/// key is inside), and check that the key belongs to the certificate. The
/// error is one sentence naming the file.
pub fn read_identity(cert: &Path, key: Option<&Path>) -> Result<ClientIdentity, String> {
    let cert_pem = std::fs::read(cert).map_err(|e| {
        format!(
            "cannot read certificate file {}: {}",
            cert.display(),
            io(&e)
        )
    })?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: not a PEM certificate file: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("{} holds no PEM certificate", cert.display()));
    }

    let (key_path, key_pem) = match key {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| {
                format!(
                    "cannot read private key file {}: {}",
                    path.display(),
                    io(&e)
                )
            })?;
            (path, pem)
        }
        None => (cert, cert_pem.clone()),
    };
    let private_key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match (key, e) {
        (None, rustls::pki_types::pem::Error::NoItemsFound) => format!(
            "{} holds the certificate but no private key (give the key as a second file, \
             \"cert, key\", or append it to this file)",
            cert.display()
        ),
        (_, rustls::pki_types::pem::Error::NoItemsFound) => {
            format!("{} holds no PEM private key", key_path.display())
        }
        (_, e) => format!("{}: not a PEM private key: {e}", key_path.display()),
    })?;

    let signing_key =
        rustls::crypto::ring::sign::any_supported_type(&private_key).map_err(|e| {
            format!(
                "the private key in {} is not a usable RSA, ECDSA or Ed25519 key: {e}",
                key_path.display()
            )
        })?;
    // rustls compares the key's SubjectPublicKeyInfo with the certificate's.
    match CertifiedKey::new(chain.clone(), Arc::clone(&signing_key)).keys_match() {
        Ok(()) => {}
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            return Err(format!(
                "the private key in {} does not belong to the certificate in {}",
                key_path.display(),
                cert.display()
            ))
        }
        // A key type whose public key rustls cannot derive: nothing to compare.
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(e) => {
            return Err(format!(
                "{}: not a valid X.509 certificate: {e}",
                cert.display()
            ))
        }
    }

    let (_, parsed) = x509_parser::parse_x509_certificate(&chain[0])
        .map_err(|e| format!("{}: not a valid X.509 certificate: {e}", cert.display()))?;
    let common_name = parsed
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned);
    let validity = parsed.validity();
    let not_before = validity.not_before.timestamp();
    let not_after = validity.not_after.timestamp();
    Ok(ClientIdentity {
        chain,
        key: private_key,
        common_name,
        not_before,
        not_after,
    })
}

/// Where a certificate stands in its validity period at `now` (Unix time).
#[derive(Debug, PartialEq, Eq)]
pub enum Validity {
    NotYetValid { from: String },
    Expired { on: String },
    ExpiresSoon { on: String, days: i64 },
    Valid { until: String, days: i64 },
}

pub fn validity(identity: &ClientIdentity, now: i64) -> Validity {
    validity_at(identity.not_before, identity.not_after, now)
}

fn validity_at(not_before: i64, not_after: i64, now: i64) -> Validity {
    if now < not_before {
        Validity::NotYetValid {
            from: date(not_before),
        }
    } else if now > not_after {
        Validity::Expired {
            on: date(not_after),
        }
    } else {
        let days = (not_after - now) / DAY;
        if not_after - now < EXPIRY_WARNING_DAYS * DAY {
            Validity::ExpiresSoon {
                on: date(not_after),
                days,
            }
        } else {
            Validity::Valid {
                until: date(not_after),
                days,
            }
        }
    }
}

/// `2026-11-28 00:32 UTC`.
fn date(unix: i64) -> String {
    match x509_parser::time::ASN1Time::from_timestamp(unix) {
        Ok(t) => {
            let t = t.to_datetime();
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02} UTC",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute()
            )
        }
        Err(_) => format!("{unix} (Unix time)"),
    }
}

/// An I/O error without the "(os error N)" tail.
pub fn io(e: &std::io::Error) -> String {
    let text = e.to_string();
    text.split(" (os error ")
        .next()
        .unwrap_or(&text)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
        let mut params = params;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        (
            write(dir, &format!("{name}.pem"), &cert.pem()),
            write(dir, &format!("{name}.key"), &key.serialize_pem()),
        )
    }

    #[test]
    fn matching_pair_and_combined_file() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair(dir.path(), "builder.local");
        let id = read_identity(&cert, Some(&key)).unwrap();
        assert_eq!(id.common_name.as_deref(), Some("builder.local"));
        let combined = dir.path().join("combined.pem");
        let mut pem = std::fs::read(&cert).unwrap();
        pem.extend(std::fs::read(&key).unwrap());
        std::fs::write(&combined, pem).unwrap();
        assert!(read_identity(&combined, None).is_ok());
    }

    #[test]
    fn problems_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair(dir.path(), "a");
        let (_, other_key) = pair(dir.path(), "b");
        let e = read_identity(&cert, Some(&other_key)).err().unwrap();
        assert!(e.contains("does not belong") && e.contains("b.key"), "{e}");
        let e = read_identity(&cert, Some(&dir.path().join("gone.key")))
            .err()
            .unwrap();
        assert!(
            e.starts_with("cannot read private key file") && e.contains("gone.key"),
            "{e}"
        );
        let e = read_identity(&cert, None).err().unwrap();
        assert!(e.contains("no private key"), "{e}");
        let e = read_identity(&key, Some(&key)).err().unwrap();
        assert!(e.contains("no PEM certificate"), "{e}");
    }

    #[test]
    fn validity_periods() {
        let now = 1_800_000_000;
        assert!(matches!(
            validity_at(now + 10, now + 100 * DAY, now),
            Validity::NotYetValid { .. }
        ));
        assert!(matches!(
            validity_at(now - 100, now - 1, now),
            Validity::Expired { .. }
        ));
        assert!(matches!(
            validity_at(now - 100, now + 3 * DAY + 5, now),
            Validity::ExpiresSoon { days: 3, .. }
        ));
        assert!(matches!(
            validity_at(now - 100, now + 30 * DAY, now),
            Validity::Valid { days: 30, .. }
        ));
        assert_eq!(date(0), "1970-01-01 00:00 UTC");
    }
}
