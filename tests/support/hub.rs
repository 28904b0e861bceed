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
    /// The command line and environment, kept for [`TestHub::restart`].
    args: Vec<std::ffi::OsString>,
    env: Vec<(String, String)>,
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
    /// Kerberos logins on /ssllogin with this service keytab (needs `tls`).
    pub krb_keytab: Option<PathBuf>,
    /// hub.conf options as `NAME=VALUE` (`HostTimeout=15`,
    /// `HostPrincipalFormat=compile/%s@REALM`): run.py's `--option`.
    pub options: Vec<String>,
    /// Extra environment (a test KDC's `KRB5_CONFIG`).
    pub env: Vec<(String, String)>,
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

        let mut args: Vec<std::ffi::OsString> = vec![
            repo_root().join("testing/hub/run.py").into(),
            "--seed".into(),
            seed.into(),
            "--state-dir".into(),
            state_dir.clone().into(),
            "--log-file".into(),
            state_dir.join("hub.log").into(),
        ];
        let pki = if opts.tls {
            let pki = Pki::new(&state_dir.join("pki"));
            let server: CertPair = pki.server("hub");
            args.extend([
                "--tls-cert".into(),
                server.cert.clone().into(),
                "--tls-key".into(),
                server.key.clone().into(),
                "--tls-ca".into(),
                pki.ca().into(),
            ]);
            Some(pki)
        } else {
            None
        };
        if let Some(keytab) = &opts.krb_keytab {
            args.extend(["--krb-keytab".into(), keytab.into()]);
        }
        for option in &opts.options {
            args.extend(["--option".into(), option.into()]);
        }
        let (child, lines) = spawn(&args, &opts.env, "0", opts.tls.then_some("0"));
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
            args,
            env: opts.env,
            _tmp: tmp,
        }
    }

    /// Start the hub again after [`TestHub::stop`]: same ports, same state
    /// dir, so clients see the same hub come back (a hub outage ending),
    /// with every committed call kept.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop the hub first");
        // http://127.0.0.1:PORT/kojihub
        let port = |url: &str| {
            url.split('/')
                .nth(2)
                .and_then(|host| host.rsplit_once(':'))
                .map(|(_, port)| port.to_string())
                .expect("the hub URL has a port")
        };
        let http = port(&self.url);
        let https = self.https_url.as_deref().map(port);
        let (child, lines) = spawn(&self.args, &self.env, &http, https.as_deref());
        assert_eq!(
            crate::printed(&lines, "HUB_URL").as_deref(),
            Some(self.url.as_str()),
            "the hub came back on its old port"
        );
        self.child = Some(child);
    }

    /// The maintenance switch: while on, the hub answers every call with
    /// ServerOffline (a file `offline` in its state dir).
    pub fn set_offline(&self, offline: bool) {
        let switch = self.state_dir.join("offline");
        if offline {
            std::fs::write(&switch, "").expect("create the hub's offline switch");
        } else if let Err(e) = std::fs::remove_file(&switch) {
            assert!(
                e.kind() == std::io::ErrorKind::NotFound,
                "remove the hub's offline switch: {e}"
            );
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

/// Runs the hub with `args` on `port` (and `https_port`); waits for READY.
fn spawn(
    args: &[std::ffi::OsString],
    env: &[(String, String)],
    port: &str,
    https_port: Option<&str>,
) -> (Child, Vec<String>) {
    let mut cmd = Command::new(python());
    cmd.args(args).arg("--port").arg(port);
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    if let Some(p) = https_port {
        cmd.arg("--https-port").arg(p);
    }
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
    (child, lines)
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
