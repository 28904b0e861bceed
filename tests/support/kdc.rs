//! A throw-away Kerberos realm for one test: Debian's MIT KDC (krb5kdc,
//! kdb5_util, kadmin.local) on a free loopback port, with its database,
//! krb5.conf, keytabs and credential caches in a temp dir. Killed and
//! removed when dropped, so nothing is left running.
//!
//! Clients and the hub find it through `KRB5_CONFIG` (see [`Kdc::env`]);
//! each test has its own ccache (`KRB5CCNAME`). The krb5.conf allows only
//! 1 s of clock skew, so a ticket given a lifetime of a few seconds really
//! is refused once it ran out (MIT's default allowance is 5 minutes).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The realm of every test KDC (each lives on its own port and files).
pub const REALM: &str = "KOJI.TEST";

/// A running KDC.
pub struct Kdc {
    child: Option<Child>,
    dir: tempfile::TempDir,
    port: u16,
}

impl Kdc {
    /// Creates the realm (database, `HTTP/localhost` with its keytab) and
    /// starts krb5kdc.
    pub fn start() -> Kdc {
        let dir = tempfile::tempdir().expect("temp dir for the KDC");
        let port = free_port();
        let kdc = Kdc {
            child: None,
            dir,
            port,
        };
        std::fs::write(kdc.config(), kdc.krb5_conf()).expect("write krb5.conf");
        kdc.run(
            "kdb5_util",
            &["create", "-s", "-r", REALM, "-P", "test-master-key"],
        );
        let mut kdc = kdc;
        kdc.add_service("HTTP/localhost", &kdc.http_keytab());
        let log = std::fs::File::create(kdc.path().join("krb5kdc.out")).expect("KDC log");
        let child = Command::new("krb5kdc")
            .args(["-n", "-r", REALM])
            .envs(kdc.env())
            .env("KRB5_KDC_PROFILE", kdc.config())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start krb5kdc (apt-get install krb5-kdc krb5-admin-server krb5-user)");
        kdc.child = Some(child);
        kdc.wait_ready();
        kdc
    }

    /// The temp dir with the KDC's files.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The krb5.conf clients and the hub use.
    pub fn config(&self) -> PathBuf {
        self.path().join("krb5.conf")
    }

    /// The hub's service keytab (`HTTP/localhost@REALM`).
    pub fn http_keytab(&self) -> PathBuf {
        self.path().join("http.keytab")
    }

    /// `KRB5_CONFIG` and a replay cache of this realm's own: the
    /// environment every process of the test gets.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("KRB5_CONFIG".into(), self.config().display().to_string()),
            (
                "KRB5RCACHENAME".into(),
                format!("file2:{}", self.path().join("rcache").display()),
            ),
        ]
    }

    /// A user principal `name@REALM` with `password`; `maxlife`
    /// (e.g. "6s") limits its tickets' lifetime.
    pub fn add_user(&self, name: &str, password: &str, maxlife: Option<&str>) -> String {
        let mut q = format!("addprinc -pw {password}");
        if let Some(life) = maxlife {
            q.push_str(&format!(" -maxlife {life}"));
        }
        q.push_str(&format!(" {name}"));
        self.kadmin(&q);
        format!("{name}@{REALM}")
    }

    /// A principal with a random key, exported to `keytab`; `maxlife`
    /// limits its tickets' lifetime. Returns `name@REALM`.
    pub fn add_keytab(&self, name: &str, keytab: &Path, maxlife: Option<&str>) -> String {
        let life = maxlife
            .map(|l| format!(" -maxlife {l}"))
            .unwrap_or_default();
        self.kadmin(&format!("addprinc -randkey{life} {name}"));
        self.kadmin(&format!("ktadd -k {} {name}", keytab.display()));
        format!("{name}@{REALM}")
    }

    fn add_service(&mut self, name: &str, keytab: &Path) {
        self.add_keytab(name, keytab, None);
    }

    /// `kinit principal` with `password` into `ccache`, with a ticket
    /// lifetime of `lifetime` (kinit -l) if given.
    pub fn kinit(&self, principal: &str, password: &str, ccache: &Path, lifetime: Option<&str>) {
        let mut cmd = Command::new("kinit");
        if let Some(l) = lifetime {
            cmd.args(["-l", l]);
        }
        let out = self.piped(cmd.arg(principal), ccache, password);
        assert!(out.status.success(), "kinit {principal}: {out:?}");
    }

    /// How many initial tickets (AS requests) the KDC issued to `principal`.
    pub fn tickets_issued(&self, principal: &str) -> usize {
        let log = std::fs::read_to_string(self.path().join("kdc.log")).unwrap_or_default();
        log.lines()
            .filter(|l| l.contains("AS_REQ") && l.contains("ISSUE") && l.contains(principal))
            .count()
    }

    fn piped(&self, cmd: &mut Command, ccache: &Path, stdin: &str) -> std::process::Output {
        use std::io::Write as _;
        let mut child = cmd
            .envs(self.env())
            .env("KRB5CCNAME", format!("FILE:{}", ccache.display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run a krb5 tool");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{stdin}\n").as_bytes())
            .expect("write to kinit");
        child.wait_with_output().expect("wait for a krb5 tool")
    }

    fn kadmin(&self, query: &str) {
        self.run("kadmin.local", &["-r", REALM, "-q", query]);
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out = Command::new(program)
            .args(args)
            .envs(self.env())
            .env("KRB5_KDC_PROFILE", self.config())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run {program} (is krb5-kdc installed?): {e}"));
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !text.contains("rror"),
            "{program} {args:?}: {text}"
        );
    }

    /// krb5kdc is ready when a kinit with a wrong password reaches it and
    /// is told so (instead of "cannot contact any KDC").
    fn wait_ready(&self) {
        self.add_user("probe", "probe-pass", None);
        let deadline = Instant::now() + Duration::from_secs(20);
        let cc = self.path().join("probe.cc");
        loop {
            let out = self.piped(Command::new("kinit").arg("probe"), &cc, "probe-pass");
            if out.status.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the KDC did not start: {}\n{}",
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(self.path().join("krb5kdc.out")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn krb5_conf(&self) -> String {
        let dir = self.path().display();
        let port = self.port;
        format!(
            "[libdefaults]\n default_realm = {REALM}\n dns_lookup_kdc = false\n \
             dns_lookup_realm = false\n rdns = false\n dns_canonicalize_hostname = false\n \
             clockskew = 1\n udp_preference_limit = 1\n forwardable = false\n\n\
             [realms]\n {REALM} = {{\n  kdc = 127.0.0.1:{port}\n  \
             database_name = {dir}/principal\n  key_stash_file = {dir}/stash\n  \
             acl_file = {dir}/kadm5.acl\n  max_life = 1d\n }}\n\n\
             [domain_realm]\n localhost = {REALM}\n\n\
             [kdcdefaults]\n kdc_listen = 127.0.0.1:{port}\n kdc_tcp_listen = 127.0.0.1:{port}\n\n\
             [logging]\n kdc = FILE:{dir}/kdc.log\n"
        )
    }
}

impl Drop for Kdc {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local address").port()
}
