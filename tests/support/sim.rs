//! The composer simulator (`composer-sim`) as a separate process. It does
//! composer's Koji side for real, logging in to the test hub as the
//! content-generator user `osbuild` of the default seed.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::certs::Pki;
use crate::hub::TestHub;
use crate::workspace_bin;

const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running composer-sim; killed when dropped, its log shown if the test
/// failed.
pub struct ComposerSim {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    /// The OAuth token endpoint, when started with `--oauth-client-id`.
    pub token_url: Option<String>,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl ComposerSim {
    /// A simulator importing into `hub` as `osbuild`, with extra options
    /// (`--fail-arch`, `--compose-duration`, `--oauth-client-id`, …).
    pub fn start(hub: &TestHub, extra: &[&str]) -> ComposerSim {
        let _ = hub; // the hub URL comes with each compose request
        let dir = tempfile::tempdir().expect("temp dir for composer-sim");
        let log = dir.path().join("composer-sim.log");
        let mut child = Command::new(workspace_bin("composer-sim"))
            .args(["--koji-user", "osbuild", "--port", "0"])
            .env("COMPOSER_SIM_KOJI_PASSWORD", "osbuildpass")
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("composer-sim log file"))
            .spawn()
            .expect("start composer-sim");
        let lines = crate::read_until_ready(&mut child, START_TIMEOUT).unwrap_or_else(|lines| {
            let _ = child.kill();
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("composer-sim did not print READY; stdout {lines:?}; log:\n{log}");
        });
        let get = |key: &str| crate::printed(&lines, key);
        ComposerSim {
            url: get("COMPOSER_URL").expect("composer-sim printed COMPOSER_URL"),
            token_url: get("TOKEN_URL"),
            child: Some(child),
            log,
            _dir: dir,
        }
    }

    /// A simulator serving HTTPS with a `composer` server certificate of
    /// `pki`; with `client_certs` it also wants client certificates signed
    /// by `pki`'s CA (composer's mTLS).
    pub fn start_tls(hub: &TestHub, pki: &Pki, client_certs: bool, extra: &[&str]) -> ComposerSim {
        let server = pki.server("composer");
        let ca = pki.ca();
        let utf8 = |p: &std::path::Path| p.to_str().expect("UTF-8 path").to_string();
        let mut args = vec![
            "--tls-cert".to_string(),
            utf8(&server.cert),
            "--tls-key".to_string(),
            utf8(&server.key),
        ];
        if client_certs {
            args.extend(["--client-ca".to_string(), utf8(&ca)]);
        }
        args.extend(extra.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let sim = ComposerSim::start(hub, &args);
        assert!(sim.url.starts_with("https://"), "{}", sim.url);
        sim
    }

    /// `POST /_sim/faults` with `update` (see the simulator's README);
    /// panics unless the simulator takes it.
    pub fn set_faults(&self, update: &serde_json::Value) {
        let out = Command::new("curl")
            .args([
                "-sS",
                "-f",
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
            ])
            .arg("-d")
            .arg(update.to_string())
            .arg(format!("{}/_sim/faults", self.url))
            .output()
            .expect("run curl");
        assert!(
            out.status.success(),
            "POST /_sim/faults {update}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `GET /_sim/stats`: `composes_created`, `cancels`,
    /// `canceled_composes`, … (see the simulator's README).
    pub fn stats(&self) -> serde_json::Value {
        self.get_json("/_sim/stats")
    }

    /// `GET /_sim/composes`: every compose with its `id`, `created` and
    /// `finished` (Unix seconds; null while it runs), status and request.
    pub fn composes(&self) -> Vec<serde_json::Value> {
        match self.get_json("/_sim/composes") {
            serde_json::Value::Array(all) => all,
            other => panic!("GET /_sim/composes is not a list: {other}"),
        }
    }

    fn get_json(&self, path: &str) -> serde_json::Value {
        let out = Command::new("curl")
            .args(["-sS", "-f"])
            .arg(format!("{}{path}", self.url))
            .output()
            .expect("run curl");
        assert!(
            out.status.success(),
            "GET {path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
    }

    /// Waits (up to a minute) until `pred` holds for [`ComposerSim::stats`];
    /// panics with `what` and the last stats otherwise.
    pub async fn wait_stats(&self, what: &str, pred: impl Fn(&serde_json::Value) -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let stats = self.stats();
            if pred(&stats) {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "{what}: {stats}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The simulator's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ComposerSim {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- composer-sim log (last lines) ---");
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}
