//! TLS with composer: the client certificate (`ssl_cert`), how composer's
//! certificate is verified (`ssl_verify`), and the one rustls configuration
//! made from them. [`crate::Client`] hands it to reqwest, and the builder's
//! doctor runs its handshake check with it, so the two cannot disagree
//! about what is trusted or presented.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::Error;

/// `ssl_cert`: the client certificate presented to composer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCert {
    /// One PEM file holding the certificate (chain) and its private key.
    Combined(PathBuf),
    /// Certificate and key in separate PEM files (`"cert, key"`).
    Pair { cert: PathBuf, key: PathBuf },
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

/// A certificate chain with the private key that belongs to it.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl ClientCert {
    /// The certificate file, and the key file when it is a separate one.
    pub fn files(&self) -> (&Path, Option<&Path>) {
        match self {
            ClientCert::Combined(path) => (path, None),
            ClientCert::Pair { cert, key } => (cert, Some(key)),
        }
    }

    /// Read the chain and its key and check that the key is usable and
    /// belongs to the certificate, so that a wrong file fails here, naming
    /// it, rather than as a handshake composer ends without saying why.
    pub fn load(&self) -> Result<Identity, Error> {
        let (cert, key_file) = self.files();
        let cert_pem = read(cert, "certificate file")?;
        let chain = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(cert, format!("not a PEM certificate file: {e}")))?;
        if chain.is_empty() {
            return Err(bad(cert, "holds no PEM certificate"));
        }
        let (key_path, key_pem) = match key_file {
            Some(path) => (path, read(path, "private key file")?),
            None => (cert, cert_pem),
        };
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match (key_file, e) {
            (None, pem::Error::NoItemsFound) => bad(
                cert,
                "holds the certificate but no private key (give the key as a second file, \
                 \"cert, key\", or append it to this file)",
            ),
            (_, pem::Error::NoItemsFound) => bad(key_path, "holds no PEM private key"),
            (_, e) => bad(key_path, format!("not a PEM private key: {e}")),
        })?;
        let provider = provider();
        match rustls::sign::CertifiedKey::from_der(chain.clone(), key.clone_key(), &provider) {
            Ok(_) => Ok(Identity { chain, key }),
            Err(rustls::Error::InconsistentKeys(_)) => {
                let cert = cert.display();
                let reason =
                    format!("the private key does not belong to the certificate in {cert}");
                Err(bad(key_path, reason))
            }
            Err(e) => {
                let reason = format!("not a usable RSA, ECDSA or Ed25519 private key: {e}");
                Err(bad(key_path, reason))
            }
        }
    }
}

/// The rustls configuration for talking to composer: its certificate
/// checked as `verify` says, `identity` presented when it asks for one.
pub fn client_config(
    identity: Option<Identity>,
    verify: &SslVerify,
) -> Result<ClientConfig, Error> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::TlsConfig(e.to_string()))?;
    let builder = match verify {
        // requests' verify=<path> trusts only that bundle, not the system's.
        SslVerify::CaPath(path) => builder.with_root_certificates(load_ca(path)?),
        // The system's trust store, as reqwest does by default.
        SslVerify::Enabled => {
            let verifier = rustls_platform_verifier::Verifier::new(provider)
                .map_err(|e| Error::TlsConfig(format!("cannot load the system CAs: {e}")))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
        }
        SslVerify::Disabled => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(
                provider.signature_verification_algorithms,
            ))),
    };
    match identity {
        None => Ok(builder.with_no_client_auth()),
        Some(id) => builder
            .with_client_auth_cert(id.chain, id.key)
            .map_err(|e| Error::TlsConfig(format!("client certificate: {e}"))),
    }
}

/// ring, named explicitly: reqwest is built without a crypto provider so
/// that neither aws-lc nor cmake is needed.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(unreadable(path, what))
}

fn unreadable<'a>(path: &'a Path, what: &'static str) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::TlsFile {
        what,
        path: path.to_path_buf(),
        source,
    }
}

fn bad(path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::TlsConfig(format!("{}: {reason}", path.display()))
}

/// The certificates of a CA bundle file, or of every file in a CA
/// directory (like OpenSSL's CApath, without needing c_rehash'ed names).
/// What is not a usable PEM certificate is skipped, as OpenSSL does when
/// it loads a bundle; nothing usable at all is an error.
fn load_ca(path: &Path) -> Result<RootCertStore, Error> {
    let meta = std::fs::metadata(path).map_err(unreadable(path, "CA file"))?;
    let files = if meta.is_dir() {
        let entries = std::fs::read_dir(path).map_err(unreadable(path, "CA directory"))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut roots = RootCertStore::empty();
    for file in files {
        let pem = read(&file, "CA file")?;
        roots.add_parsable_certificates(CertificateDer::pem_slice_iter(&pem).flatten());
    }
    if roots.is_empty() {
        return Err(bad(path, "holds no PEM CA certificate"));
    }
    Ok(roots)
}

/// `ssl_verify = False`: any certificate is taken, as requests'
/// `verify=False`; the handshake's signatures are still checked.
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}
