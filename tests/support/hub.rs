//! The test hub (testing/hub/run.py) as a separate process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::certs::{CertPair, Pki};
use crate::{python, repo_root};

/// How long the hub may take to print READY (Python start-up plus the
/// import of the koji package on a loaded 2-core machine).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running test hub. Killed when dropped; its log is printed if the test
/// failed, which is usually all one needs to see why.
pub struct TestHub {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT/kojihub`
    pub url: String,
    /// `https://127.0.0.1:PORT/kojihub` when started with TLS.
    pub https_url: Option<String>,
    pub topurl: String,
    pub weburl: String,
    /// The CA that signed the hub's server certificate and the client
    /// certificates (TLS hubs only).
    pub pki: Option<Pki>,
    state_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

/// What to start the hub with.
#[derive(Default)]
pub struct HubOptions {
    /// Serve https too, with a fresh CA.
    pub tls: bool,
    /// Seed file; the default is testing/hub/seed.json.
    pub seed: Option<PathBuf>,
    /// Re-use an existing state directory (restart tests).
    pub state_dir: Option<PathBuf>,
}

impl TestHub {
    /// A plain-HTTP hub with the default seed.
    pub fn start() -> TestHub {
        TestHub::start_with(HubOptions::default())
    }

    /// A hub serving HTTP and HTTPS (client certificates optional at the
    /// handshake, checked by sslLogin).
    pub fn start_tls() -> TestHub {
        TestHub::start_with(HubOptions {
            tls: true,
            ..HubOptions::default()
        })
    }

    pub fn start_with(opts: HubOptions) -> TestHub {
        let (tmp, state_dir) = match opts.state_dir {
            Some(dir) => (None, dir),
            None => {
                let tmp = tempfile::tempdir().expect("temp dir for the hub");
                let dir = tmp.path().join("hub");
                (Some(tmp), dir)
            }
        };
        std::fs::create_dir_all(&state_dir).expect("create hub state dir");
        let seed = opts
            .seed
            .unwrap_or_else(|| repo_root().join("testing/hub/seed.json"));

        let mut cmd = Command::new(python());
        cmd.arg(repo_root().join("testing/hub/run.py"))
            .arg("--seed")
            .arg(&seed)
            .arg("--state-dir")
            .arg(&state_dir)
            .arg("--port")
            .arg("0")
            .arg("--log-file")
            .arg(state_dir.join("hub.log"));
        let pki = if opts.tls {
            let pki = Pki::new(&state_dir.join("pki"));
            let server: CertPair = pki.server("hub");
            cmd.arg("--https-port")
                .arg("0")
                .arg("--tls-cert")
                .arg(&server.cert)
                .arg("--tls-key")
                .arg(&server.key)
                .arg("--tls-ca")
                .arg(pki.ca());
            Some(pki)
        } else {
            None
        };
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the test hub (is the venv there? run scripts/setup-venv)");

        let lines = crate::read_until_ready(&mut child, START_TIMEOUT).unwrap_or_else(|lines| {
            let _ = child.kill();
            panic!("the test hub did not print READY; it printed {lines:?}");
        });
        let get = |key: &str| crate::printed(&lines, key);
        let url = get("HUB_URL").expect("hub printed HUB_URL");
        TestHub {
            https_url: get("HUB_HTTPS_URL"),
            topurl: get("TOPURL").expect("hub printed TOPURL"),
            weburl: get("WEBURL").expect("hub printed WEBURL"),
            url,
            pki,
            child: Some(child),
            state_dir,
            _tmp: tmp,
        }
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// Stop the hub (SIGKILL: the state is in SQLite transactions, so a
    /// restart on the same state dir sees every committed call).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A Koji client session on this hub, logged in with a password.
    pub async fn login(&self, user: &str, password: &str) -> koji::ClientSession {
        let session =
            koji::ClientSession::new(&self.url, koji::Options::default()).expect("client session");
        session.login(user, password).await.expect("login");
        session
    }

    /// An anonymous Koji client session on this hub.
    pub fn anonymous(&self) -> koji::ClientSession {
        koji::ClientSession::new(&self.url, koji::Options::default()).expect("client session")
    }
}

impl Drop for TestHub {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            if let Ok(log) = std::fs::read_to_string(self.state_dir.join("hub.log")) {
                let tail: Vec<&str> = log.lines().rev().take(60).collect();
                eprintln!("--- test hub log (last lines) ---");
                for line in tail.iter().rev() {
                    eprintln!("{line}");
                }
            }
        }
    }
}
