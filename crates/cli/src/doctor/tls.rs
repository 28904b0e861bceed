//! A direct TCP connection and TLS handshake with composer, so that a
//! certificate problem shows as what it is (an untrusted CA, a wrong name,
//! a rejected client certificate) rather than as a failed HTTP request.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use composer::SslVerify;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{CertificateError, RootCertStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::certs::io;

/// Why the handshake did not work.
#[derive(Debug)]
pub enum HandshakeError {
    /// composer's certificate is not signed by a trusted CA.
    UntrustedIssuer,
    /// Signed, but not for this host name or address.
    WrongName,
    /// composer's certificate is outside its validity period.
    ServerCertExpired,
    /// composer ended the handshake with an alert: our client certificate
    /// (or the lack of one) was not accepted.
    Rejected(String),
    /// Not TLS on that port, the CA setting unusable, or another failure.
    Other(String),
}

/// Connect to `host:port` within `timeout`.
pub async fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, String> {
    match tokio::time::timeout(timeout, TcpStream::connect((host, port))).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(io(&e)),
        Err(_) => Err(format!("no answer within {} s", timeout.as_secs())),
    }
}

/// The trust roots `ssl_verify` names: a PEM bundle file, or every PEM file
/// of a directory (as composer's client reads it).
pub fn load_ca(path: &Path) -> Result<RootCertStore, String> {
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("cannot read {}: {}", path.display(), io(&e)))?;
    let files: Vec<PathBuf> = if meta.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| format!("cannot read {}: {}", path.display(), io(&e)))?
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
        let pem = std::fs::read(&file)
            .map_err(|e| format!("cannot read {}: {}", file.display(), io(&e)))?;
        for cert in CertificateDer::pem_slice_iter(&pem).flatten() {
            // A certificate that is not a usable trust anchor is skipped,
            // like OpenSSL does when it loads a bundle.
            let _ = roots.add(cert);
        }
    }
    if roots.is_empty() {
        return Err(format!("{} holds no PEM CA certificate", path.display()));
    }
    Ok(roots)
}

/// Run a TLS handshake on `stream` as composer's client would: verify the
/// server per `verify` (not [`SslVerify::Disabled`]), present `client`.
pub async fn handshake(
    stream: TcpStream,
    host: &str,
    verify: &SslVerify,
    client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    timeout: Duration,
) -> Result<(), HandshakeError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| HandshakeError::Other(e.to_string()))?;
    let builder = match verify {
        SslVerify::CaPath(path) => {
            builder.with_root_certificates(load_ca(path).map_err(HandshakeError::Other)?)
        }
        // reqwest with rustls verifies against the platform's roots.
        SslVerify::Enabled | SslVerify::Disabled => {
            let verifier = rustls_platform_verifier::Verifier::new(provider)
                .map_err(|e| HandshakeError::Other(format!("cannot load the system CAs: {e}")))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
        }
    };
    let config = match client {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| HandshakeError::Other(format!("client certificate: {e}")))?,
        None => builder.with_no_client_auth(),
    };
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| HandshakeError::Other(format!("'{host}' is not a TLS server name: {e}")))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let mut tls = match tokio::time::timeout(timeout, connector.connect(name, stream)).await {
        Err(_) => {
            return Err(HandshakeError::Other(format!(
                "no TLS answer within {} s",
                timeout.as_secs()
            )))
        }
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => return Err(classify(&e)),
    };
    // In TLS 1.3 the client finishes its handshake before the server has
    // looked at the client certificate; a rejection arrives as an alert on
    // the first read. So ask for something and read the first byte.
    let probe = format!("HEAD / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    if let Err(e) = tls.write_all(probe.as_bytes()).await {
        return Err(classify(&e));
    }
    let mut first = [0u8; 1];
    match tokio::time::timeout(timeout, tls.read(&mut first)).await {
        Ok(Err(e)) => Err(classify(&e)),
        // An answer, or none in time: the handshake itself went through.
        Ok(Ok(_)) | Err(_) => Ok(()),
    }
}

fn classify(e: &std::io::Error) -> HandshakeError {
    let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return HandshakeError::Other(io(e));
    };
    match tls {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer
            | CertificateError::BadSignature
            | CertificateError::UnhandledCriticalExtension => HandshakeError::UntrustedIssuer,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                HandshakeError::WrongName
            }
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => HandshakeError::ServerCertExpired,
            other => HandshakeError::Other(format!("composer's certificate: {other:?}")),
        },
        rustls::Error::AlertReceived(alert) => HandshakeError::Rejected(format!("{alert:?}")),
        rustls::Error::InvalidMessage(_) => {
            HandshakeError::Other("the server does not speak TLS on this port".to_string())
        }
        other => HandshakeError::Other(other.to_string()),
    }
}
