//! Starts the composer-sim binary (and the test hub) as separate processes
//! for the integration tests, and tears them down.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const API: &str = "/api/image-builder-composer/v2";

/// A child process that printed `KEY=VALUE` lines and `READY`.
pub struct Proc {
    child: Option<Child>,
    pub vars: HashMap<String, String>,
    name: String,
}

impl Proc {
    pub fn start(name: &str, mut cmd: Command) -> Proc {
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .stdin(Stdio::null());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        // The same start-up handshake as every service of the e2e stack.
        let lines =
            e2e::read_until_ready(&mut child, Duration::from_secs(60)).unwrap_or_else(|lines| {
                let _ = child.kill();
                panic!("{name} did not print READY; it printed {lines:?}");
            });
        let vars: HashMap<String, String> = lines
            .iter()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Proc {
            child: Some(child),
            vars,
            name: name.to_owned(),
        }
    }

    pub fn var(&self, key: &str) -> &str {
        self.vars
            .get(key)
            .unwrap_or_else(|| panic!("{} printed no {key}=", self.name))
    }

    /// SIGTERM, then wait (kill after 10 s).
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        child.wait().ok()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The simulator with `args`.
pub fn sim(args: &[&str]) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_composer-sim"));
    cmd.args(args).env("RUST_LOG", "composer_sim=debug,info");
    Proc::start("composer-sim", cmd)
}

impl Proc {
    pub fn url(&self) -> &str {
        self.var("COMPOSER_URL")
    }
    pub fn api(&self, path: &str) -> String {
        format!("{}{API}{path}", self.url())
    }
}

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

pub fn koji_compose(server: &str, arches: &[&str], release: &str) -> serde_json::Value {
    let irs: Vec<serde_json::Value> = arches
        .iter()
        .map(|a| {
            serde_json::json!({"architecture": a, "image_type": "guest-image",
                "repositories": [{"baseurl": format!("http://repo.example/{a}/"), "rhsm": false}]})
        })
        .collect();
    serde_json::json!({
        "distribution": "fedora-42",
        "image_requests": irs,
        "koji": {"server": server, "task_id": 1, "name": "fedora-guest", "version": "42", "release": release}
    })
}

pub fn plain_compose(arch: &str) -> serde_json::Value {
    serde_json::json!({
        "distribution": "fedora-42",
        "image_request": {"architecture": arch, "image_type": "guest-image",
            "repositories": [{"baseurl": "http://repo.example/"}],
            "upload_options": {"region": "eu-west-1"}}
    })
}

/// Polls the compose until it is no longer pending.
pub async fn wait_finished(
    c: &reqwest::Client,
    sim: &Proc,
    id: &str,
    limit: Duration,
) -> serde_json::Value {
    let deadline = Instant::now() + limit;
    loop {
        let st: serde_json::Value = c
            .get(sim.api(&format!("/composes/{id}")))
            .send()
            .await
            .expect("status request")
            .json()
            .await
            .expect("status json");
        if st["status"] != "pending" {
            return st;
        }
        assert!(
            Instant::now() < deadline,
            "compose {id} still pending: {st}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server cert for 127.0.0.1 and a client cert, made with the openssl CLI.
pub fn make_certs(dir: &Path) -> HashMap<&'static str, PathBuf> {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut args = vec!["req", "-x509"];
    args.extend(ec);
    args.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=composer-sim test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &args);
    for (name, ext) in [
        (
            "server",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        ),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ] {
        std::fs::write(dir.join(format!("{name}.ext")), ext).expect("write ext");
        let (key, csr, crt, extf) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
            format!("{name}.ext"),
        );
        let subj = format!("/CN={name}");
        let mut args = vec!["req"];
        args.extend(ec);
        args.extend(["-keyout", &key, "-out", &csr, "-subj", &subj]);
        openssl(dir, &args);
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &crt,
                "-days",
                "2",
                "-extfile",
                &extf,
            ],
        );
    }
    [
        "ca.crt",
        "server.crt",
        "server.key",
        "client.crt",
        "client.key",
    ]
    .into_iter()
    .map(|f| (f, dir.join(f)))
    .collect()
}
