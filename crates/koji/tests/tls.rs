//! sslLogin over real TLS: a hub on 127.0.0.1 that demands a client
//! certificate, certificates made at test time.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::hub::{login_reply, read_request, Req};
use koji::{ClientSession, Options, SessionInfo, Value};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::AsyncWriteExt;

struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let issuer =
            CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("ca");
        Ca { issuer }
    }

    /// (cert PEM, key PEM, cert DER, key DER)
    fn issue(
        &self,
        names: &[&str],
    ) -> (
        String,
        String,
        CertificateDer<'static>,
        PrivateKeyDer<'static>,
    ) {
        let params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .expect("params");
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        let der_key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (cert.pem(), key.serialize_pem(), cert.der().clone(), der_key)
    }
}

struct TlsHub {
    port: u16,
    connections: Arc<AtomicUsize>,
    log: Arc<Mutex<Vec<Req>>>,
}

async fn start_hub(ca: &Ca) -> TlsHub {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.issuer.der().clone()).expect("root");
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .expect("verifier");
    let (_, _, cert, key) = ca.issue(&["localhost", "127.0.0.1"]);
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![cert], key)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let connections = Arc::new(AtomicUsize::new(0));
    let log: Arc<Mutex<Vec<Req>>> = Arc::default();
    let (c2, l2) = (connections.clone(), log.clone());
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            c2.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            let log = l2.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(sock).await else {
                    return;
                };
                let Some(req) = read_request(&mut tls).await else {
                    return;
                };
                let reply = match req.call().0.as_str() {
                    "sslLogin" => login_reply(40, "2-sslsessionkey12345", Some(true)),
                    _ => Value::Int(1),
                };
                log.lock().expect("log").push(req);
                let body = koji::encode_response(&reply);
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = tls.write_all(head.as_bytes()).await;
                let _ = tls.write_all(body.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    TlsHub {
        port,
        connections,
        log,
    }
}

fn opts(
    dir: &std::path::Path,
    ca_pem: &str,
    client: Option<(String, String)>,
    combined: bool,
) -> Options {
    let ca = dir.join("serverca.pem");
    std::fs::write(&ca, ca_pem).expect("write");
    let (cert, key) = match client {
        None => (None, None),
        Some((c, k)) if combined => {
            let p = dir.join("client.pem");
            std::fs::write(&p, format!("{c}{k}")).expect("write");
            (Some(p), None)
        }
        Some((c, k)) => {
            let cp = dir.join("client.crt");
            let kp = dir.join("client.key");
            std::fs::write(&cp, c).expect("write");
            std::fs::write(&kp, k).expect("write");
            (Some(cp), Some(kp))
        }
    };
    Options {
        serverca: Some(ca),
        cert,
        key,
        max_retries: 2,
        retry_interval: Duration::from_millis(1),
        ..Options::default()
    }
}

#[tokio::test]
async fn ssl_login_posts_to_ssllogin_over_https_with_the_client_cert() {
    let ca = Ca::new("Koji CA");
    let hub = start_hub(&ca).await;
    for combined in [true, false] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (c, k, _, _) = ca.issue(&["osbuild-builder.local"]);
        // An http URL: sslLogin switches to https, as Koji does.
        let s = ClientSession::new(
            &format!("http://localhost:{}/kojihub", hub.port),
            opts(dir.path(), &ca.issuer.pem(), Some((c, k)), combined),
        )
        .expect("session");
        s.ssl_login().await.expect("sslLogin");
        assert_eq!(s.hub_url().scheme(), "https");
        assert_eq!(s.session_info().map(|i| i.id), Some(40));
        assert_eq!(s.get_api_version().await.expect("call"), 1);
    }
    let reqs = hub.log.lock().expect("log").clone();
    assert_eq!(reqs[0].path, "/kojihub/ssllogin");
    assert_eq!(
        reqs[0].call(),
        (
            "sslLogin".to_owned(),
            vec![Value::from_pairs([
                ("proxyuser", Value::Nil),
                ("__starstar", Value::Bool(true))
            ])]
        )
    );
    assert_eq!(reqs[1].path, "/kojihub");
    assert_eq!(reqs[1].header("Koji-Session-Id"), Some("40"));
}

#[tokio::test]
async fn certificate_problems_are_not_retried() {
    let ca = Ca::new("Koji CA");
    let other = Ca::new("Someone else");
    let hub = start_hub(&ca).await;
    let url = format!("https://localhost:{}/kojihub", hub.port);
    let info = SessionInfo {
        id: 1,
        key: "1-key".into(),
        callnum: 0,
        header_auth: true,
    };

    // The hub's certificate is not from the CA we trust.
    let dir = tempfile::tempdir().expect("tempdir");
    let (c, k, _, _) = ca.issue(&["client"]);
    let s = ClientSession::resume(
        &url,
        opts(dir.path(), &other.issuer.pem(), Some((c, k)), true),
        info.clone(),
    )
    .expect("session");
    let err = s.get_api_version().await.expect_err("untrusted hub");
    assert!(matches!(err, koji::Error::Transport { .. }), "{err:?}");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    assert_eq!(hub.connections.load(Ordering::SeqCst), 1, "no retry: {err}");

    // sslLogin without a certificate is refused before any connection.
    let s =
        ClientSession::new(&url, opts(dir.path(), &ca.issuer.pem(), None, true)).expect("session");
    let err = s.ssl_login().await.expect_err("no cert");
    assert!(matches!(err, koji::Error::Config(_)), "{err:?}");
    assert_eq!(hub.connections.load(Ordering::SeqCst), 1);
}
