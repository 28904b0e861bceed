//! A tiny forward HTTP proxy for the `[composer] proxy` tests: it takes
//! plain-HTTP requests in absolute form (`GET http://host:port/path`),
//! forwards each on a fresh connection (`Connection: close`), passes the
//! answer back and remembers every request line it saw. No CONNECT: the
//! tests point it at an http composer.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A running proxy on 127.0.0.1; stopped when dropped.
pub struct HttpProxy {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    addr: std::net::SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl HttpProxy {
    pub fn start() -> HttpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let seen = seen.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let seen = seen.clone();
                    std::thread::spawn(move || serve(conn, &seen));
                }
            })
        };
        HttpProxy {
            url: format!("http://{addr}"),
            seen,
            stop,
            addr,
            thread: Some(thread),
        }
    }

    /// Every request line forwarded so far, e.g.
    /// `POST http://127.0.0.1:4711/api/image-builder-composer/v2/compose`.
    pub fn requests(&self) -> Vec<String> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for HttpProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One client connection, one request: forwarded on its own upstream
/// connection, then both are closed (the answer says `Connection: close`).
fn serve(client: TcpStream, seen: &Mutex<Vec<String>>) {
    let Ok(write_half) = client.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(client);
    let mut out = write_half;
    {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let request_line = line.trim_end().to_string();
        if request_line.is_empty() {
            return;
        }
        let mut parts = request_line.split_whitespace();
        let (Some(method), Some(target), Some(version)) =
            (parts.next(), parts.next(), parts.next())
        else {
            let _ = out.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
            return;
        };
        let mut headers = Vec::new();
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end().to_string();
            if h.is_empty() {
                break;
            }
            let lower = h.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("connection:")
                || lower.starts_with("proxy-connection:")
                || lower.starts_with("keep-alive:")
            {
                continue;
            }
            headers.push(h);
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let Some(rest) = target.strip_prefix("http://") else {
            let _ = out.write_all(
                b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            return;
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        if let Ok(mut s) = seen.lock() {
            s.push(format!("{method} {target}"));
        }
        let Ok(mut upstream) = TcpStream::connect(authority) else {
            let _ = out.write_all(
                b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            return;
        };
        let mut head = format!("{method} {path} {version}\r\n");
        for h in &headers {
            head.push_str(h);
            head.push_str("\r\n");
        }
        head.push_str("Connection: close\r\n\r\n");
        if upstream.write_all(head.as_bytes()).is_err() || upstream.write_all(&body).is_err() {
            return;
        }
        // The upstream closes after its answer (Connection: close), which
        // then tells our client too: pass everything through and close.
        let mut answer = Vec::new();
        let _ = upstream.read_to_end(&mut answer);
        let _ = out.write_all(&answer);
        let _ = out.flush();
        let _ = out.shutdown(Shutdown::Both);
    }
}
