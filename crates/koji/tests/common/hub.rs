//! A tiny scripted hub on 127.0.0.1: plain HTTP/1.1, one request per
//! connection (`Connection: close`, so no pooled-connection retries hide
//! attempts), every request recorded.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use koji::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Clone, Debug)]
pub struct Req {
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub raw_query: String,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Req {
    /// The XML-RPC method and params (panics for non-XML bodies).
    pub fn call(&self) -> (String, Vec<Value>) {
        koji::decode_call(&self.body).expect("XML-RPC call")
    }
    pub fn method(&self) -> String {
        if self.headers.get("content-type").map(String::as_str) == Some("application/octet-stream")
        {
            return "rawUpload".into();
        }
        self.call().0
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

pub enum Reply {
    /// 200 with this XML body.
    Xml(String),
    /// Another status with a text body.
    Status(u16, String),
    /// Close the connection without answering.
    Drop,
}

impl Reply {
    pub fn value(v: Value) -> Reply {
        Reply::Xml(koji::encode_response(&v))
    }
    pub fn fault(code: i64, msg: &str) -> Reply {
        Reply::Xml(koji::encode_fault(code, msg))
    }
}

type Handler = dyn Fn(&Req, usize) -> Reply + Send + Sync;

pub struct MockHub {
    pub url: String,
    pub log: Arc<Mutex<Vec<Req>>>,
}

impl MockHub {
    /// Starts a hub; `handler(request, index)` answers each request.
    pub async fn start(handler: impl Fn(&Req, usize) -> Reply + Send + Sync + 'static) -> MockHub {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let log: Arc<Mutex<Vec<Req>>> = Arc::default();
        let handler: Arc<Handler> = Arc::new(handler);
        let log2 = log.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let log = log2.clone();
                let handler = handler.clone();
                tokio::spawn(async move {
                    let Some(req) = read_request(&mut sock).await else {
                        return;
                    };
                    let index = {
                        let mut l = log.lock().expect("log");
                        l.push(req.clone());
                        l.len() - 1
                    };
                    let (status, ctype, body) = match handler(&req, index) {
                        Reply::Xml(x) => (200, "text/xml", x),
                        Reply::Status(s, b) => (s, "text/plain", b),
                        Reply::Drop => return,
                    };
                    let head = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nKoji-Version: 1.35.3\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = sock.write_all(head.as_bytes()).await;
                    let _ = sock.write_all(body.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        MockHub {
            url: format!("http://{addr}/kojihub"),
            log,
        }
    }

    pub fn requests(&self) -> Vec<Req> {
        self.log.lock().expect("log").clone()
    }
}

pub async fn read_request<S: tokio::io::AsyncRead + Unpin>(sock: &mut S) -> Option<Req> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    let header_end = loop {
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next()?;
    let target = request_line.split(' ').nth(1)?.to_owned();
    let mut headers = BTreeMap::new();
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[header_end..].to_vec();
    while body.len() < len {
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&tmp[..n]);
    }
    let (path, raw_query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), q.to_owned()),
        None => (target.clone(), String::new()),
    };
    let query = url::form_urlencoded::parse(raw_query.as_bytes())
        .into_owned()
        .collect();
    Some(Req {
        path,
        query,
        raw_query,
        headers,
        body,
    })
}

pub fn login_reply(id: i64, key: &str, header_auth: Option<bool>) -> Value {
    let mut pairs = vec![
        ("session-id", Value::Int(id)),
        ("session-key", Value::from(key)),
    ];
    if let Some(h) = header_auth {
        pairs.push(("header-auth", Value::Bool(h)));
    }
    Value::from_pairs(pairs)
}
