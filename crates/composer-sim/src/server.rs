//! The listener: plain HTTP or TLS (rustls, ring) with required client
//! certificates, HTTP/1.1 connections served by hyper, and the
//! "reset connection" fault, which closes a connection without answering
//! (hyper drops a connection whose service returns an error).

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, Context};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::compose::API_BASE;
use crate::sim::Sim;

/// TLS settings of the listener.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// When set, clients must present a certificate signed by this CA.
    pub client_ca: Option<PathBuf>,
}

fn read_certs(path: &PathBuf, what: &str) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("cannot read the {what} {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("cannot parse the {what} {}", path.display()))?;
    if certs.is_empty() {
        return Err(anyhow!(
            "the {what} {} holds no PEM certificate",
            path.display()
        ));
    }
    Ok(certs)
}

/// Builds the rustls server configuration (ring provider, HTTP/1.1 ALPN).
pub fn tls_acceptor(files: &TlsFiles) -> anyhow::Result<TlsAcceptor> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = read_certs(&files.cert, "TLS certificate (--tls-cert)")?;
    let key = PrivateKeyDer::from_pem_file(&files.key).with_context(|| {
        format!(
            "cannot read a private key from --tls-key {}",
            files.key.display()
        )
    })?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("rustls has no safe protocol versions")?;
    let builder = match &files.client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in read_certs(ca, "client CA (--client-ca)")? {
                roots.add(cert).with_context(|| {
                    format!("--client-ca {} holds an unusable certificate", ca.display())
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .with_context(|| {
                    format!(
                        "cannot build a client verifier from --client-ca {}",
                        ca.display()
                    )
                })?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .context("--tls-cert and --tls-key do not make a usable certificate and key pair")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

#[derive(Debug, thiserror::Error)]
#[error("connection closed by the reset_next fault")]
struct InjectedReset;

fn take_reset(sim: &Sim) -> bool {
    sim.faults().take_reset()
}

async fn serve_connection<I>(io: I, app: Router, sim: Arc<Sim>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let app = app.clone();
        let sim = sim.clone();
        async move {
            if req.uri().path().starts_with(API_BASE) && take_reset(&sim) {
                sim.stats().injected_resets += 1;
                tracing::info!(path = %req.uri().path(), "injected connection reset");
                return Err(InjectedReset);
            }
            match app.oneshot(req.map(axum::body::Body::new)).await {
                Ok(resp) => Ok(resp),
                Err(never) => match never {},
            }
        }
    });
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), service)
        .await
    {
        tracing::debug!("connection ended: {e}");
    }
}

/// Accepts connections until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    sim: Arc<Sim>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    continue;
                }
            },
            () = &mut shutdown => return,
        };
        let (app, sim, tls) = (app.clone(), sim.clone(), tls.clone());
        tokio::spawn(async move {
            match tls {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(stream) => serve_connection(stream, app, sim).await,
                    Err(e) => tracing::info!(%peer, "TLS handshake failed: {e}"),
                },
                None => serve_connection(stream, app, sim).await,
            }
        });
    }
}
