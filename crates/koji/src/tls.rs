//! The HTTP client: rustls with the ring provider, the hub's CA bundle, a
//! client certificate, no proxy.

use std::path::Path;

use crate::error::{Error, Result};
use crate::session::Options;

/// Builds the reqwest client for a hub.
///
/// - `serverca`: only these roots are trusted, as Koji's `verify=<serverca>`
///   does; without it the system's roots are used.
/// - `cert` (+ `key`): the client certificate, sent on every connection
///   (Koji sends it on every call too, not only to `/ssllogin`).
/// - `no_ssl_verify`: no verification at all.
/// - No HTTP proxy: the hub is reached directly, whatever `https_proxy` says.
///
/// The ring provider is installed as the process default if none is (the
/// crate does not build aws-lc); an already installed provider is kept.
pub fn build_client(opts: &Options) -> Result<reqwest::Client> {
    // Err means another provider is already the default: that one is used.
    let _ = rustls::crypto::ring::default_provider().install_default();

    let mut builder = reqwest::Client::builder()
        .tls_backend_rustls()
        .no_proxy()
        .user_agent("koji/1");

    if let Some(ca) = &opts.serverca {
        let pem = read(ca)?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| Error::File {
            path: ca.clone(),
            message: format!("not a PEM CA bundle: {}", e.without_url()),
        })?;
        if certs.is_empty() {
            return Err(Error::File {
                path: ca.clone(),
                message: "no certificate in the CA bundle".into(),
            });
        }
        builder = builder.tls_certs_only(certs);
    }

    if let Some(cert) = &opts.cert {
        let mut pem = read(cert)?;
        if let Some(key) = &opts.key {
            pem.push(b'\n');
            pem.extend_from_slice(&read(key)?);
        }
        if !contains_private_key(&pem) {
            return Err(Error::File {
                path: opts.key.clone().unwrap_or_else(|| cert.clone()),
                message: "no private key for the client certificate (give one PEM with both, or a key file)".into(),
            });
        }
        let identity = reqwest::Identity::from_pem(&pem).map_err(|e| Error::File {
            path: cert.clone(),
            message: format!("not a usable PEM certificate and key: {}", e.without_url()),
        })?;
        builder = builder.identity(identity);
    }

    if opts.no_ssl_verify {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }

    builder.build().map_err(|e| {
        Error::Config(format!(
            "cannot set up the HTTP client: {}",
            e.without_url()
        ))
    })
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::File {
        path: path.to_owned(),
        message: format!("cannot read: {e}"),
    })
}

fn contains_private_key(pem: &[u8]) -> bool {
    let text = String::from_utf8_lossy(pem);
    text.contains("PRIVATE KEY-----")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_are_named() {
        let opts = Options {
            serverca: Some("/nonexistent/ca.pem".into()),
            ..Options::default()
        };
        let err = build_client(&opts).expect_err("missing CA");
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");

        let dir = tempfile::tempdir().expect("tempdir");
        let cert = dir.path().join("cert.pem");
        std::fs::write(
            &cert,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .expect("write");
        let opts = Options {
            cert: Some(cert.clone()),
            ..Options::default()
        };
        let err = build_client(&opts).expect_err("no key");
        assert!(err.to_string().contains("cert.pem"), "{err}");
        assert!(err.to_string().contains("private key"), "{err}");
    }

    #[test]
    fn plain_client_builds() {
        build_client(&Options::default()).expect("client");
        build_client(&Options {
            no_ssl_verify: true,
            ..Options::default()
        })
        .expect("client");
    }
}
