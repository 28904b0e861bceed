//! The builder daemon (`koji-osbuild-builder`) as a separate process, with a
//! builder.conf written for the test hub and a composer URL.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::hub::TestHub;
use crate::workspace_bin;

const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A builder.conf for host `builder.local` of the default seed, polling
/// fast; `extra` is appended (more `[builder]` keys, `[composer:oauth]`, …).
pub fn builder_conf(hub: &TestHub, composer_url: &str, extra: &str) -> String {
    format!(
        "[composer]\nserver = {composer_url}\n\n[koji]\nserver = {hub}\n\n\
         [builder]\ntopurl = {topurl}\nuser = builder.local\npassword = hostpass\n\
         sleeptime = 0.3\ncompose_poll_interval = 0.2\ncapacity = 12\n{extra}\n",
        hub = hub.url,
        topurl = hub.topurl,
    )
}

/// The `[builder]` host keys for `builder.local` logging in with its client
/// certificate over the TLS hub's HTTPS URL, verifying the hub with `serverca`.
pub fn cert_host_keys(hub: &TestHub, serverca: &Path) -> String {
    cert_host_keys_as(hub, serverca, "builder.local")
}

/// The `[builder]` keys of [`cert_host_keys`] for host `host`: a client
/// certificate with that CN (each host of a hub has its own).
pub fn cert_host_keys_as(hub: &TestHub, serverca: &Path, host: &str) -> String {
    let pki = hub.pki.as_ref().expect("a TLS hub (TestHub::start_tls)");
    let pair = pki.client(host);
    format!(
        "server = {}
cert = {}
serverca = {}
",
        hub.https_url
            .as_deref()
            .expect("a TLS hub has an https URL"),
        pair.combined().display(),
        serverca.display(),
    )
}

/// A builder.conf like [`builder_conf`] whose host logs in with a client
/// certificate (see [`cert_host_keys`]) instead of a password.
pub fn builder_conf_cert(
    hub: &TestHub,
    composer_url: &str,
    serverca: &Path,
    extra: &str,
) -> String {
    format!(
        "[composer]\nserver = {composer_url}\n\n[koji]\nserver = {hub}\n\n\
         [builder]\ntopurl = {topurl}\n{keys}\
         sleeptime = 0.3\ncompose_poll_interval = 0.2\ncapacity = 12\n{extra}\n",
        hub = hub.url,
        topurl = hub.topurl,
        keys = cert_host_keys(hub, serverca),
    )
}

/// Runs the builder with `conf` until it exits on its own (a start-up
/// error); returns its exit status and stderr. Panics after `timeout`.
pub fn run_until_exit(conf: &str, timeout: Duration) -> (std::process::ExitStatus, String) {
    let dir = tempfile::tempdir().expect("temp dir for the builder");
    let config = dir.path().join("builder.conf");
    std::fs::write(&config, conf).expect("write builder.conf");
    let log = dir.path().join("builder.log");
    let mut child = Command::new(workspace_bin("koji-osbuild-builder"))
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("builder log file"))
        .spawn()
        .expect("start koji-osbuild-builder");
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return (status, std::fs::read_to_string(&log).unwrap_or_default());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the builder still runs after {timeout:?}:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A running builder; killed when dropped, its log shown if the test failed.
pub struct BuilderProcess {
    child: Option<Child>,
    /// Extra environment (a test KDC's `KRB5_CONFIG`) and arguments
    /// (`--kojid-config FILE`).
    env: Vec<(String, String)>,
    args: Vec<String>,
    config: PathBuf,
    log: PathBuf,
    dir: tempfile::TempDir,
    /// `Some(kojid.conf)`: kojid (testing/kojid/run.py) with the osbuild
    /// plugin runs the tasks, instead of the daemon.
    kojid: Option<PathBuf>,
}

impl BuilderProcess {
    /// Writes `conf` as builder.conf and starts the daemon with it; returns
    /// once it has logged in as the host.
    pub fn start(conf: &str) -> BuilderProcess {
        BuilderProcess::start_with_env(conf, &[], &[])
    }

    /// [`BuilderProcess::start`] with extra environment variables and
    /// command-line arguments.
    pub fn start_with_env(conf: &str, env: &[(String, String)], args: &[&str]) -> BuilderProcess {
        let dir = tempfile::tempdir().expect("temp dir for the builder");
        let config = dir.path().join("builder.conf");
        std::fs::write(&config, conf).expect("write builder.conf");
        let log = dir.path().join("builder.log");
        let mut b = BuilderProcess {
            child: None,
            env: env.to_vec(),
            args: args.iter().map(|a| a.to_string()).collect(),
            config,
            log,
            dir,
            kojid: None,
        };
        b.spawn();
        b
    }

    /// kojid as the test harness runs it (Koji's TaskManager, see
    /// testing/kojid/run.py) for host `builder.local`, with this
    /// repository's plugins/builder/osbuild.py loaded (`plugins = osbuild`)
    /// and `conf` as its builder.conf; returns once it has logged in.
    pub fn start_kojid(hub: &TestHub, conf: &str) -> BuilderProcess {
        let plugins = crate::repo_root().join("plugins/builder");
        BuilderProcess::start_kojid_plugin(hub, conf, "osbuild", &plugins)
    }

    /// kojid as [`BuilderProcess::start_kojid`], with plugin `name` from
    /// the directory `pluginpath` instead.
    pub fn start_kojid_plugin(
        hub: &TestHub,
        conf: &str,
        name: &str,
        pluginpath: &Path,
    ) -> BuilderProcess {
        let dir = tempfile::tempdir().expect("temp dir for kojid");
        let config = dir.path().join("builder.conf");
        std::fs::write(&config, conf).expect("write builder.conf");
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).expect("kojid's workdir");
        let kojid_conf = dir.path().join("kojid.conf");
        let text = format!(
            "[kojid]\nserver = {hub}\ntopurl = {topurl}\nuser = builder.local\n\
             password = hostpass\nsleeptime = 0.3\nmaxjobs = 10\nworkdir = {work}\n\
             plugins = {name}\npluginpath = {plugins}\n",
            hub = hub.url,
            topurl = hub.topurl,
            work = work.display(),
            plugins = pluginpath.display(),
        );
        std::fs::write(&kojid_conf, text).expect("write kojid.conf");
        let log = dir.path().join("kojid.log");
        let mut b = BuilderProcess {
            child: None,
            env: Vec::new(),
            args: Vec::new(),
            config,
            log,
            dir,
            kojid: Some(kojid_conf),
        };
        b.spawn();
        b
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("builder log file");
        let ready = match self.kojid {
            None => "logged in as builder host",
            Some(_) => "logged in as host",
        };
        let before = self.log().matches(ready).count();
        let mut command = match &self.kojid {
            None => {
                let mut c = Command::new(workspace_bin("koji-osbuild-builder"));
                c.arg("--config");
                c
            }
            Some(kojid_conf) => {
                let mut c = Command::new(crate::python());
                c.arg(crate::repo_root().join("testing/kojid/run.py"))
                    .arg("--config")
                    .arg(kojid_conf)
                    .arg("--builder-config");
                // The plugin runs koji-osbuild-builder from PATH.
                let bin_dir = workspace_bin("koji-osbuild-builder")
                    .parent()
                    .expect("target dir")
                    .to_path_buf();
                let path = std::env::var_os("PATH").unwrap_or_default();
                let paths = std::iter::once(bin_dir).chain(std::env::split_paths(&path));
                c.env("PATH", std::env::join_paths(paths).expect("PATH"));
                c
            }
        };
        let child = command
            .arg(&self.config)
            .args(&self.args)
            .env("RUST_LOG", "info")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start koji-osbuild-builder");
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        while self.log().matches(ready).count() == before {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("the builder exited with {status}:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "the builder did not log in:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (up to a minute) until `pred` holds for the daemon's log;
    /// panics with `what` and the log otherwise.
    pub async fn wait_log(&self, what: &str, pred: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !pred(&self.log()) {
            assert!(Instant::now() < deadline, "{what}:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// SIGTERM, then wait for the exit; returns whether it exited cleanly
    /// (killed after 30 s).
    pub async fn stop(&mut self) -> bool {
        if self.child.is_none() {
            return true;
        }
        self.signal("TERM");
        match self.wait_exit(Duration::from_secs(30)).await {
            Some(status) => status.success(),
            None => {
                self.kill9();
                false
            }
        }
    }

    /// Waits up to `timeout` for the daemon to exit on its own; its exit
    /// status, or `None` if it still runs.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            let child = self.child.as_mut()?;
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the builder runs").id()
    }

    /// Replaces builder.conf (for a reload or the next restart).
    pub fn write_config(&self, conf: &str) {
        std::fs::write(&self.config, conf).expect("write builder.conf");
    }

    /// Sends a signal (`"HUP"`, `"TERM"`, ...) to the daemon.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// SIGKILL: a crash, nothing cleaned up. Under kojid, its task
    /// processes (each in a process group of its own) and their
    /// koji-osbuild-builder children go too, so that none outlives the test.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let tasks = match self.kojid {
                Some(_) => descendants(child.id()),
                None => Vec::new(),
            };
            let _ = child.kill();
            let _ = child.wait();
            for pid in tasks {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }

    /// Start again with the same configuration (after stop or kill9).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop the builder first");
        self.spawn();
    }
}

/// The processes below `pid`, from /proc (as kojid's `_childPIDs`).
fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // "pid (comm) state ppid ...": comm may hold spaces, so after ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parent_of.push((p, ppid));
        }
    }
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parent_of
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    found.remove(0);
    found
}

impl Drop for BuilderProcess {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!("--- builder log (last lines) ---");
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}
