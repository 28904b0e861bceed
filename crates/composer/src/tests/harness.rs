//! Test doubles on 127.0.0.1: a small HTTP(S) server whose answers a test
//! scripts, a counting HTTP proxy (absolute-form and CONNECT), and a CA
//! with server and client certificates made at test time.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }

    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    pub fn form_value(&self, key: &str) -> Option<String> {
        self.form()
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    pub fn bearer(&self) -> Option<&str> {
        self.header("authorization")?.strip_prefix("Bearer ")
    }
}

/// What the server does with a request.
pub enum Reply {
    Http {
        status: u16,
        body: String,
        headers: Vec<(String, String)>,
    },
    /// Close the connection without answering (a reset, as far as the
    /// client can tell).
    Drop,
}

pub fn text(status: u16, body: &str) -> Reply {
    Reply::Http {
        status,
        body: body.to_string(),
        headers: vec![("Content-Type".into(), "text/plain".into())],
    }
}

pub fn json(status: u16, body: Value) -> Reply {
    Reply::Http {
        status,
        body: body.to_string(),
        headers: vec![("Content-Type".into(), "application/json".into())],
    }
}

type Handler = Arc<dyn Fn(&Req) -> Reply + Send + Sync>;

pub struct Server {
    pub url: String,
    requests: Arc<Mutex<Vec<Req>>>,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// TLS settings of a test server.
pub struct ServerTls {
    pub cert_pem: String,
    pub key_pem: String,
    /// Require a client certificate issued by this CA.
    pub client_ca_pem: Option<String>,
}

impl Server {
    pub async fn http(handler: impl Fn(&Req) -> Reply + Send + Sync + 'static) -> Server {
        Self::start(Arc::new(handler), None).await
    }

    pub async fn https(
        tls: ServerTls,
        handler: impl Fn(&Req) -> Reply + Send + Sync + 'static,
    ) -> Server {
        Self::start(Arc::new(handler), Some(tls)).await
    }

    async fn start(handler: Handler, tls: Option<ServerTls>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let acceptor = tls.map(|t| tokio_rustls::TlsAcceptor::from(Arc::new(server_config(&t))));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let handler = handler.clone();
                let seen = seen.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    match acceptor {
                        None => serve(stream, handler, seen).await,
                        Some(acceptor) => {
                            // A failed handshake (no or wrong client cert)
                            // just ends the connection, as a real server's.
                            if let Ok(tls) = acceptor.accept(stream).await {
                                serve(tls, handler, seen).await;
                            }
                        }
                    }
                });
            }
        });
        Server {
            url: format!("{scheme}://127.0.0.1:{}", addr.port()),
            requests,
            task,
        }
    }

    pub fn requests(&self) -> Vec<Req> {
        self.requests.lock().unwrap().clone()
    }

    pub fn count(&self, path: &str) -> usize {
        self.requests().iter().filter(|r| r.path == path).count()
    }
}

fn server_config(tls: &ServerTls) -> rustls::ServerConfig {
    use rustls::pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = pem_certs(&tls.cert_pem);
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(tls.key_pem.as_bytes()).unwrap();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match &tls.client_ca_pem {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in pem_certs(ca) {
                roots.add(cert).unwrap();
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
    };
    builder.with_single_cert(certs, key).unwrap()
}

fn pem_certs(pem: &str) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap()
}

async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> Option<(String, Vec<(String, String)>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => buf.push(byte[0]),
            _ => return None,
        }
    }
    let text = String::from_utf8_lossy(&buf).to_string();
    let mut lines = text.split("\r\n");
    let first = lines.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.ok()?;
    Some((first, headers, body))
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    handler: Handler,
    seen: Arc<Mutex<Vec<Req>>>,
) {
    let Some((first, headers, body)) = read_head(&mut stream).await else {
        return;
    };
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let req = Req {
        method,
        path,
        headers,
        body,
    };
    seen.lock().unwrap().push(req.clone());
    // The handler may sleep (a slow server); keep that off the runtime.
    let reply = tokio::task::spawn_blocking(move || handler(&req))
        .await
        .unwrap();
    match reply {
        Reply::Drop => {}
        Reply::Http {
            status,
            body,
            headers,
        } => {
            let mut head = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(body.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
    }
}

/// A forwarding proxy that counts what goes through it.
pub struct Proxy {
    pub url: String,
    /// Every proxied request: "GET http://..." or "CONNECT host:port".
    pub seen: Arc<Mutex<Vec<String>>>,
    count: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    pub async fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let count = Arc::new(AtomicUsize::new(0));
        let (seen2, count2) = (seen.clone(), count.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (seen, count) = (seen2.clone(), count2.clone());
                tokio::spawn(async move {
                    let _ = proxy_one(stream, seen, count).await;
                });
            }
        });
        Proxy {
            url: format!("http://127.0.0.1:{}", addr.port()),
            seen,
            count,
            task,
        }
    }

    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

async fn proxy_one(
    mut client: TcpStream,
    seen: Arc<Mutex<Vec<String>>>,
    count: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    let Some((first, headers, body)) = read_head(&mut client).await else {
        return Ok(());
    };
    count.fetch_add(1, Ordering::SeqCst);
    seen.lock().unwrap().push(first.clone());
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    if method == "CONNECT" {
        let mut upstream = TcpStream::connect(&target).await?;
        client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await?;
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        return Ok(());
    }
    // absolute-form: http://host:port/path
    let url = url::Url::parse(&target).expect("absolute-form request target");
    let host = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(80));
    let mut upstream = TcpStream::connect(&host).await?;
    let mut head = format!(
        "{method} {} HTTP/1.1\r\n",
        &url[url::Position::BeforePath..]
    );
    for (k, v) in headers {
        if k.eq_ignore_ascii_case("proxy-connection") || k.eq_ignore_ascii_case("connection") {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    upstream.write_all(head.as_bytes()).await?;
    upstream.write_all(&body).await?;
    let mut answer = Vec::new();
    upstream.read_to_end(&mut answer).await?;
    client.write_all(&answer).await?;
    client.shutdown().await?;
    Ok(())
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, on
/// disk in the forms builder.conf points at.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    pub ca_file: PathBuf,
    pub ca_dir: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub client_combined: PathBuf,
}

impl Pki {
    pub fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "koji-osbuild test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().unwrap();
        let mut server_params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        server_params
            .distinguished_name
            .push(DnType::CommonName, "composer");
        let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();

        let client_key = KeyPair::generate().unwrap();
        let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        client_params
            .distinguished_name
            .push(DnType::CommonName, "koji-osbuild-builder");
        let client_cert = client_params.signed_by(&client_key, &issuer).unwrap();

        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let ca_file = write("ca.pem", &ca_cert.pem());
        let client_cert_path = write("client-crt.pem", &client_cert.pem());
        let client_key_path = write("client-key.pem", &client_key.serialize_pem());
        let client_combined = write(
            "client-combined.pem",
            &format!("{}{}", client_cert.pem(), client_key.serialize_pem()),
        );
        let ca_dir = dir.path().join("ca.d");
        std::fs::create_dir(&ca_dir).unwrap();
        std::fs::write(ca_dir.join("README"), "not a certificate\n").unwrap();
        std::fs::write(ca_dir.join("test-ca.crt"), ca_cert.pem()).unwrap();

        Pki {
            ca_pem: ca_cert.pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
            ca_file,
            ca_dir,
            client_cert: client_cert_path,
            client_key: client_key_path,
            client_combined,
            dir,
        }
    }

    pub fn server_tls(&self, require_client_cert: bool) -> ServerTls {
        ServerTls {
            cert_pem: self.server_cert_pem.clone(),
            key_pem: self.server_key_pem.clone(),
            client_ca_pem: require_client_cert.then(|| self.ca_pem.clone()),
        }
    }
}
