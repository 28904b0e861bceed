//! TLS settings as builder.conf spells them (`ssl_cert`, `ssl_verify`) and
//! their translation into reqwest's rustls configuration.

use std::path::{Path, PathBuf};

use crate::error::Error;

/// `ssl_cert`: the client certificate presented to composer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCert {
    /// One PEM file holding the certificate (chain) and its private key.
    Combined(PathBuf),
    /// Certificate and key in separate PEM files (`"cert, key"`).
    Pair { cert: PathBuf, key: PathBuf },
}

/// A `ssl_cert` string that is neither one path nor two.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidCertString {
    // Wording from upstream's Client.parse_certs.
    #[error("Invalid cert string '{value}' ({count} certs)")]
    TooMany { value: String, count: usize },
    #[error("Invalid cert string '{value}' (empty path)")]
    EmptyPath { value: String },
}

impl ClientCert {
    /// Parse like upstream's `Client.parse_certs`: split on `,`, strip
    /// whitespace; one part is a combined PEM, two are cert and key.
    pub fn parse(value: &str) -> Result<Self, InvalidCertString> {
        let parts: Vec<&str> = value.split(',').map(str::trim).collect();
        if parts.len() > 2 {
            return Err(InvalidCertString::TooMany {
                value: value.to_string(),
                count: parts.len(),
            });
        }
        // Upstream would hand an empty path to requests and fail on the
        // first connection; saying it now names the config key instead.
        if parts.iter().any(|p| p.is_empty()) {
            return Err(InvalidCertString::EmptyPath {
                value: value.to_string(),
            });
        }
        Ok(match parts.as_slice() {
            [combined] => ClientCert::Combined(PathBuf::from(combined)),
            [cert, key] => ClientCert::Pair {
                cert: PathBuf::from(cert),
                key: PathBuf::from(key),
            },
            // split() always yields at least one part and >2 returned above
            _ => unreachable!("split yields one or two parts here"),
        })
    }

    /// Read the certificate and key into one PEM buffer for reqwest.
    pub(crate) fn load_pem(&self) -> Result<Vec<u8>, Error> {
        match self {
            ClientCert::Combined(path) => read(path, "ssl_cert"),
            ClientCert::Pair { cert, key } => {
                let mut pem = read(cert, "ssl_cert")?;
                if !pem.ends_with(b"\n") {
                    pem.push(b'\n');
                }
                pem.extend(read(key, "ssl_cert")?);
                Ok(pem)
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            ClientCert::Combined(p) => p.display().to_string(),
            ClientCert::Pair { cert, key } => format!("{}, {}", cert.display(), key.display()),
        }
    }
}

/// `ssl_verify`: how composer's certificate is checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SslVerify {
    /// Verify against the system's trusted CAs (upstream's `True`, the default).
    #[default]
    Enabled,
    /// Do not verify at all (upstream's `False`).
    Disabled,
    /// Verify against only the CAs in this PEM bundle file, or in every
    /// certificate file of this directory.
    CaPath(PathBuf),
}

impl SslVerify {
    /// Parse like upstream: a configparser boolean, otherwise a path.
    pub fn parse(value: &str) -> Result<Self, String> {
        if let Some(b) = pyini::parse_bool(value) {
            return Ok(if b {
                SslVerify::Enabled
            } else {
                SslVerify::Disabled
            });
        }
        // requests would treat "" as falsy and silently skip verification;
        // an empty value is far more likely a mistake than a wish.
        if value.is_empty() {
            return Err("is empty (use True, False, or a CA file or directory)".to_string());
        }
        Ok(SslVerify::CaPath(PathBuf::from(value)))
    }
}

fn read(path: &Path, setting: &'static str) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::TlsFile {
        setting,
        path: path.to_path_buf(),
        source,
    })
}

/// Certificates of a CA bundle file or of every file in a CA directory.
fn load_ca(path: &Path) -> Result<Vec<reqwest::Certificate>, Error> {
    let bad = |reason: String| Error::TlsConfig {
        setting: "ssl_verify",
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|source| Error::TlsFile {
        setting: "ssl_verify",
        path: path.to_path_buf(),
        source,
    })?;
    let mut certs = Vec::new();
    if meta.is_dir() {
        // Like OpenSSL's CApath but without needing c_rehash'ed names: every
        // regular file that holds PEM certificates counts; others are skipped.
        let entries = std::fs::read_dir(path).map_err(|source| Error::TlsFile {
            setting: "ssl_verify",
            path: path.to_path_buf(),
            source,
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for file in files {
            let pem = read(&file, "ssl_verify")?;
            match reqwest::Certificate::from_pem_bundle(&pem) {
                Ok(found) if !found.is_empty() => certs.extend(found),
                _ => tracing::debug!(file = %file.display(), "no PEM certificate, skipped"),
            }
        }
        if certs.is_empty() {
            return Err(bad("the directory holds no PEM certificate".to_string()));
        }
    } else {
        let pem = read(path, "ssl_verify")?;
        certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| bad(format!("not a PEM certificate bundle: {e}")))?;
        if certs.is_empty() {
            return Err(bad("the file holds no PEM certificate".to_string()));
        }
    }
    Ok(certs)
}

/// Make sure rustls has a crypto provider. reqwest is built without one
/// (so that aws-lc and cmake stay out of the build); we use ring. A provider
/// installed earlier by the application is kept.
pub(crate) fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err only means another thread installed one first: fine either way.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Apply `ssl_cert` and `ssl_verify` to a reqwest client builder.
pub(crate) fn configure(
    mut builder: reqwest::ClientBuilder,
    cert: Option<&ClientCert>,
    verify: &SslVerify,
) -> Result<reqwest::ClientBuilder, Error> {
    ensure_crypto_provider();
    builder = builder.tls_backend_rustls();
    if let Some(cert) = cert {
        let pem = cert.load_pem()?;
        let identity = reqwest::Identity::from_pem(&pem).map_err(|e| Error::TlsConfig {
            setting: "ssl_cert",
            path: PathBuf::from(cert.describe()),
            reason: format!("not a usable PEM certificate and private key: {e}"),
        })?;
        builder = builder.identity(identity);
    }
    builder = match verify {
        SslVerify::Enabled => builder,
        SslVerify::Disabled => builder.tls_danger_accept_invalid_certs(true),
        // requests' verify=<path> trusts only that bundle, not the system's.
        SslVerify::CaPath(path) => builder.tls_certs_only(load_ca(path)?),
    };
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_certs_like_upstream() {
        assert_eq!(
            ClientCert::parse("/a/path/to/a/cert").unwrap(),
            ClientCert::Combined("/a/path/to/a/cert".into())
        );
        assert_eq!(
            ClientCert::parse("/c, /k").unwrap(),
            ClientCert::Pair {
                cert: "/c".into(),
                key: "/k".into()
            }
        );
        assert_eq!(
            ClientCert::parse("1, 2, 3").unwrap_err().to_string(),
            "Invalid cert string '1, 2, 3' (3 certs)"
        );
        assert!(matches!(
            ClientCert::parse("/c, ").unwrap_err(),
            InvalidCertString::EmptyPath { .. }
        ));
    }

    #[test]
    fn ssl_verify_parse() {
        assert_eq!(SslVerify::parse("TRUE").unwrap(), SslVerify::Enabled);
        assert_eq!(SslVerify::parse("off").unwrap(), SslVerify::Disabled);
        assert_eq!(
            SslVerify::parse("/etc/pki/ca").unwrap(),
            SslVerify::CaPath("/etc/pki/ca".into())
        );
        assert!(SslVerify::parse("").is_err());
    }
}
