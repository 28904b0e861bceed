//! `koji-osbuild-builder doctor` against the real test hub, composer
//! simulator and builder: a healthy setup passes (while the builder runs,
//! and without disturbing it), and each broken setting fails its own check
//! with a line that names what to fix. `koji-osbuild doctor` checks the
//! submitting side.

use std::path::Path;
use std::time::Duration;

use e2e::builder::{cert_host_keys, BuilderProcess};
use e2e::certs::Pki;
use e2e::hub::{HubOptions, TestHub};
use e2e::run::{Home, Output};
use e2e::sim::ComposerSim;
use e2e::tasks::{submit_guest_image, wait_done};
use koji::{ClientSession, TaskState, Value};

/// Every check, in the order doctor prints them.
const CHECKS: [&str; 13] = [
    "config",
    "composer client certificate",
    "composer client certificate validity",
    "host certificate",
    "host certificate validity",
    "host keytab",
    "composer connection",
    "composer TLS",
    "composer API",
    "hub",
    "host login",
    "host",
    "hub plugin",
];

/// A builder.conf: `composer` is the body of [composer] (server = … and
/// more), the host logs in as builder.local with its password unless
/// `host_keys` says otherwise; `extra` is appended (more sections).
fn conf(hub: &TestHub, composer: &str, host_keys: Option<&str>, extra: &str) -> String {
    let host = host_keys.unwrap_or("user = builder.local\npassword = hostpass\n");
    format!(
        "[composer]\n{composer}\n\n[koji]\nserver = {hub}\n\n[builder]\ntopurl = {topurl}\n\
         {host}sleeptime = 0.3\ncompose_poll_interval = 0.2\n\n{extra}\n",
        hub = hub.url,
        topurl = hub.topurl,
    )
}

async fn doctor(home: &Home, conf: &str) -> Output {
    let path = home.file("builder.conf", conf);
    let path = path.to_str().expect("UTF-8 temp path");
    home.koji_osbuild_builder(&["doctor", "--config", path])
        .await
}

/// Doctor on a builder.conf with `composer` as the body of [composer], the
/// host logging in with its password.
async fn doctor_on(hub: &TestHub, composer: &str) -> Output {
    doctor(&Home::new(), &conf(hub, composer, None, "")).await
}

/// The line of check `name`, without its mark; panics if it is missing.
fn check<'a>(out: &'a Output, name: &str) -> (char, &'a str) {
    for line in out.stdout.lines() {
        let mut chars = line.chars();
        let Some(mark) = chars.next() else { continue };
        let rest = chars.as_str().trim_start();
        if let Some(message) = rest.strip_prefix(&format!("{name}: ")) {
            return (mark, message);
        }
    }
    panic!("no line for check '{name}': {out:#?}");
}

fn failed<'a>(out: &'a Output, name: &str) -> &'a str {
    let (mark, message) = check(out, name);
    assert_eq!(mark, '✗', "'{name}' should fail: {out:#?}");
    message
}

/// Each check in `names` is skipped, saying `why`.
fn skipped(out: &Output, names: &[&str], why: &str) {
    for name in names {
        let line = check(out, name);
        assert_eq!(line, ('-', format!("skipped ({why})").as_str()), "{out:#?}");
    }
}

fn failures(out: &Output) -> Vec<&str> {
    out.stdout.lines().filter(|l| l.starts_with('✗')).collect()
}

/// Exit status 1, exactly one failed check (the one the test broke), no
/// error on stderr.
fn only_failure<'a>(out: &'a Output, name: &str) -> &'a str {
    assert_eq!(out.code, 1, "{out:#?}");
    assert_eq!(failures(out).len(), 1, "only '{name}' fails: {out:#?}");
    assert!(out.stderr.is_empty(), "{out:#?}");
    failed(out, name)
}

fn passed(out: &Output) {
    assert_eq!(out.code, 0, "doctor should pass: {out:#?}");
    assert!(failures(out).is_empty(), "{out:#?}");
    assert!(!out.stdout.contains("skipped"), "{out:#?}");
    // One line per check, in order; the validity lines only for the
    // certificates that are configured.
    let mut names = CHECKS.iter();
    for line in out.stdout_lines() {
        assert!(
            names.any(
                |name| line[line.char_indices().nth(2).map_or(0, |(i, _)| i)..]
                    .starts_with(&format!("{name}: "))
            ),
            "'{line}' is a check, in its place: {out:#?}"
        );
    }
    for name in CHECKS {
        if !name.ends_with("validity") {
            check(out, name);
        }
    }
}

/// The hub's sessions of user `user_id` that are open: (id, exclusive).
async fn open_sessions(admin: &ClientSession, user_id: i64) -> Vec<(i64, bool)> {
    let sessions = admin
        .call("testhub.listSessions", Vec::new())
        .await
        .expect("testhub.listSessions");
    sessions
        .as_array()
        .expect("a list")
        .iter()
        .filter(|s| s.get("user_id").and_then(Value::as_i64) == Some(user_id))
        .filter(|s| s.get("closed").and_then(Value::as_bool) == Some(false))
        .map(|s| {
            (
                s.get("id").and_then(Value::as_i64).expect("id"),
                s.get("exclusive").and_then(Value::as_bool) == Some(true),
            )
        })
        .collect()
}

async fn host_user_id(hub: &TestHub) -> i64 {
    let host = hub
        .anonymous()
        .call("getHost", vec![Value::from("builder.local")])
        .await
        .expect("getHost");
    host.get("user_id")
        .and_then(Value::as_i64)
        .expect("the host's user_id")
}

async fn build_one_image(hub: &TestHub) {
    let user = hub.login("kojiuser", "kojipass").await;
    let task_id = submit_guest_image(&user).await;
    let info = wait_done(&user, task_id, Duration::from_secs(120)).await;
    assert_eq!(info.state, TaskState::Closed, "the image task succeeds");
}

/// The demo stack with the builder running: every check passes, the
/// builder keeps its exclusive session, doctor's own session is closed, and
/// the builder still builds.
#[tokio::test(flavor = "multi_thread")]
async fn healthy_stack_passes_while_the_builder_runs() {
    let hub = TestHub::start();
    let sim = ComposerSim::start(&hub, &["--compose-duration", "1s"]);
    let conf = conf(&hub, &format!("server = {}", sim.url), None, "");
    let builder = BuilderProcess::start(&conf);
    let admin = hub.login("admin", "adminpass").await;
    let host_user = host_user_id(&hub).await;
    let before = open_sessions(&admin, host_user).await;
    assert!(
        before.iter().any(|(_, exclusive)| *exclusive),
        "the builder holds the exclusive session: {before:?}"
    );

    let home = Home::new();
    for _ in 0..2 {
        let out = doctor(&home, &conf).await;
        passed(&out);
        let (_, login) = check(&out, "host login");
        assert!(
            login.contains("a running builder holds the host's exclusive session"),
            "{out:#?}"
        );
        assert!(!out.stdout.contains("hostpass"), "no password shown");
    }

    // Doctor logged out; the builder's sessions are as they were.
    assert_eq!(open_sessions(&admin, host_user).await, before);
    build_one_image(&hub).await;
    assert!(
        !builder.log().contains("took over"),
        "the builder was not disturbed:\n{}",
        builder.log()
    );
}

/// Everything over TLS: the host logs in with its certificate (sslLogin),
/// composer wants a client certificate and is verified with ssl_verify.
/// The test certificates live two days, so their checks pass with a
/// warning.
#[tokio::test(flavor = "multi_thread")]
async fn certificates_everywhere_pass_with_an_expiry_warning() {
    let hub = TestHub::start_tls();
    let pki = hub.pki.as_ref().expect("the TLS hub's CA");
    let sim = ComposerSim::start_tls(&hub, pki, true, &["--compose-duration", "1s"]);
    let client = pki.client("koji-osbuild");
    let composer = format!(
        "server = {}\nssl_cert = {}, {}\nssl_verify = {}",
        sim.url,
        client.cert.display(),
        client.key.display(),
        pki.ca().display()
    );
    let host_keys = cert_host_keys(&hub, &pki.ca());
    let conf = conf(&hub, &composer, Some(&host_keys), "");
    let _builder = BuilderProcess::start(&conf);

    let out = doctor(&Home::new(), &conf).await;
    passed(&out);
    for name in [
        "composer client certificate validity",
        "host certificate validity",
    ] {
        let (_, message) = check(&out, name);
        assert!(message.contains("warning: expires in"), "{out:#?}");
    }
    let (_, tls) = check(&out, "composer TLS");
    assert!(tls.contains("is signed by the CA in"), "{out:#?}");
    let (_, login) = check(&out, "host login");
    assert!(login.contains("with the host certificate"), "{out:#?}");
    build_one_image(&hub).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_key_file() {
    let hub = TestHub::start();
    let sim = ComposerSim::start(&hub, &[]);
    let dir = tempfile::tempdir().expect("temp dir");
    let client = Pki::new(dir.path()).client("koji-osbuild");
    let composer = format!(
        "server = {}\nssl_cert = {}, /nonexistent/client.key",
        sim.url,
        client.cert.display()
    );
    let out = doctor_on(&hub, &composer).await;
    let message = only_failure(&out, "composer client certificate");
    assert!(
        message.starts_with("cannot read private key file /nonexistent/client.key: No such file")
            && message.contains("fix [composer] ssl_cert in "),
        "{message}"
    );
    let validity = ["composer client certificate validity"];
    skipped(&out, &validity, "composer client certificate unreadable");
    skipped(
        &out,
        &["composer API"],
        "composer client certificate unusable",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_certificate() {
    let hub = TestHub::start();
    let sim = ComposerSim::start(&hub, &[]);
    let dir = tempfile::tempdir().expect("temp dir");
    let expired = Pki::new(dir.path()).expired_client("koji-osbuild");
    let composer = format!(
        "server = {}\nssl_cert = {}",
        sim.url,
        expired.combined().display()
    );
    let out = doctor_on(&hub, &composer).await;
    let message = only_failure(&out, "composer client certificate validity");
    assert!(
        message.contains("expired on 2020-02-01 00:00 UTC; renew it"),
        "{message}"
    );
    let (mark, _) = check(&out, "composer client certificate");
    assert_eq!(mark, '✓', "readable and matching: {out:#?}");
}

/// composer's certificate comes from one CA, ssl_verify names another.
#[tokio::test(flavor = "multi_thread")]
async fn wrong_ca() {
    let hub = TestHub::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let composer_pki = Pki::new(&dir.path().join("composer"));
    let other_pki = Pki::new(&dir.path().join("other"));
    let sim = ComposerSim::start_tls(&hub, &composer_pki, false, &[]);
    let composer = format!(
        "server = {}\nssl_verify = {}",
        sim.url,
        other_pki.ca().display()
    );
    let out = doctor_on(&hub, &composer).await;
    let message = only_failure(&out, "composer TLS");
    assert!(
        message.starts_with(&format!(
            "composer's certificate at {} is not signed by the CA in {}; point [composer] \
             ssl_verify in ",
            sim.url,
            other_pki.ca().display()
        )) && message.ends_with(" at the CA that issued composer's certificate"),
        "{message}"
    );
    skipped(&out, &["composer API"], "composer's TLS handshake failed");
}

/// Neither composer nor the hub listens: the connection checks say so,
/// and the checks that need the hub are skipped.
#[tokio::test(flavor = "multi_thread")]
async fn unreachable_composer_and_hub() {
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port()
    };
    let (composer_port, hub_port) = (free_port(), free_port());
    let conf = format!(
        "[composer]\nserver = http://127.0.0.1:{composer_port}\n\n\
         [koji]\nserver = http://127.0.0.1:{hub_port}/kojihub\n\n\
         [builder]\nuser = builder.local\npassword = hostpass\n"
    );
    let out = doctor(&Home::new(), &conf).await;
    assert_eq!(out.code, 1, "{out:#?}");
    let message = failed(&out, "composer connection");
    assert!(
        message.starts_with(&format!(
            "cannot connect to 127.0.0.1:{composer_port}: Connection refused; is composer running there?"
        )),
        "{message}"
    );
    let message = failed(&out, "hub");
    assert!(
        message.contains(&format!("127.0.0.1:{hub_port}")) && message.contains("[koji] server"),
        "{message}"
    );
    for name in ["composer TLS", "composer API"] {
        assert_eq!(check(&out, name).0, '-', "{out:#?}");
    }
    skipped(
        &out,
        &["host login", "host", "hub plugin"],
        "hub not reachable",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_oauth_secret() {
    let hub = TestHub::start();
    let sim = ComposerSim::start(
        &hub,
        &[
            "--oauth-client-id",
            "koji-osbuild",
            "--oauth-client-secret",
            "s3cr3t-value",
        ],
    );
    let token_url = sim.token_url.clone().expect("TOKEN_URL");
    let oauth = |secret: &str| {
        format!(
            "[composer:oauth]\nclient_id = koji-osbuild\nclient_secret = {secret}\n\
             token_url = {token_url}\n"
        )
    };
    let composer = format!("server = {}", sim.url);
    let home = Home::new();

    let out = doctor(&home, &conf(&hub, &composer, None, &oauth("s3cr3t-value"))).await;
    passed(&out);
    let (_, api) = check(&out, "composer API");
    assert!(
        api.contains(&format!("an OAuth token from {token_url}")),
        "{out:#?}"
    );

    let out = doctor(&home, &conf(&hub, &composer, None, &oauth("wrong-secret"))).await;
    let message = only_failure(&out, "composer API");
    assert!(
        message.starts_with(&format!(
            "composer:oauth client_secret rejected by {token_url} (HTTP 401); check client_id \
             and client_secret in [composer:oauth] of "
        )),
        "{message}"
    );
    assert!(
        !out.stdout.contains("wrong-secret") && !out.stderr.contains("wrong-secret"),
        "{out:#?}"
    );
}

/// A seed whose builder.local is only in the default channel.
fn seed_without_image_channel(dir: &Path) -> std::path::PathBuf {
    let seed = e2e::repo_root().join("testing/hub/seed.json");
    let mut seed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(seed).expect("read seed")).expect("JSON");
    for host in seed["hosts"].as_array_mut().expect("hosts") {
        if host["name"] == "builder.local" {
            host["channels"] = serde_json::json!(["default"]);
        }
    }
    let path = dir.join("seed.json");
    std::fs::write(&path, seed.to_string()).expect("write seed");
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn host_not_in_the_image_channel() {
    let dir = tempfile::tempdir().expect("temp dir");
    let hub = TestHub::start_with(HubOptions {
        seed: Some(seed_without_image_channel(dir.path())),
        ..HubOptions::default()
    });
    let sim = ComposerSim::start(&hub, &[]);
    let out = doctor_on(&hub, &format!("server = {}", sim.url)).await;
    assert_eq!(
        only_failure(&out, "host"),
        "host builder.local is not in channel image, so it gets no osbuildImage tasks; \
         add it with `koji add-host-to-channel builder.local image`"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn host_disabled() {
    let hub = TestHub::start();
    let sim = ComposerSim::start(&hub, &[]);
    let admin = hub.login("admin", "adminpass").await;
    admin
        .call(
            "testhub.setHostEnabled",
            vec![Value::from("builder.local"), Value::Bool(false)],
        )
        .await
        .expect("testhub.setHostEnabled");
    let out = doctor_on(&hub, &format!("server = {}", sim.url)).await;
    assert_eq!(
        only_failure(&out, "host"),
        "host builder.local is disabled; enable it with `koji enable-host builder.local`"
    );
}

/// A configuration the builder would not start with: one line saying
/// why (as the builder says it), everything else skipped.
#[tokio::test(flavor = "multi_thread")]
async fn unusable_config() {
    let home = Home::new();
    let out = doctor(
        &home,
        "[composer]\nserver = http://127.0.0.1:1\n[builder]\nuser = builder.local\n",
    )
    .await;
    assert_eq!(out.code, 1, "{out:#?}");
    let message = failed(&out, "config");
    assert!(
        message.starts_with("'user' without 'password' in [builder] of "),
        "{message}"
    );
    assert_eq!(out.stdout_lines().len(), CHECKS.len(), "{out:#?}");
    skipped(&out, &CHECKS[1..], "no usable configuration");
}

/// A --config file that is not there is the failed config check, named
/// as missing (not as the credentials it would have held).
#[tokio::test(flavor = "multi_thread")]
async fn missing_config_file() {
    let home = Home::new();
    let out = home
        .koji_osbuild_builder(&["doctor", "--config", "/nonexistent/builder.conf"])
        .await;
    assert_eq!(out.code, 1, "{out:#?}");
    assert_eq!(
        failed(&out, "config"),
        "config file /nonexistent/builder.conf does not exist (given with --config)"
    );
    skipped(&out, &CHECKS[1..], "no usable configuration");
}

/// `koji-osbuild doctor`: the koji profile `koji-osbuild image` would use.
/// kojiuser may request images; nobody logs in but lacks the permission.
/// `--client` (what it checked before the builder host's checks moved) is
/// still accepted; the builder host's options get one line saying where
/// those checks are now.
#[tokio::test(flavor = "multi_thread")]
async fn client_side() {
    let hub = TestHub::start();
    let home = Home::new();
    home.koji_config(&format!(
        "[koji]\nserver = {}\nweburl = {}\nauthtype = password\n",
        hub.url, hub.weburl
    ));
    let out = client_doctor(&home, "kojiuser", "kojipass").await;
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(
        out.stdout_lines()
            .iter()
            .map(|l| l.chars().next().unwrap_or(' '))
            .collect::<String>(),
        "✓✓✓✓✓",
        "{out:#?}"
    );
    assert_eq!(
        check(&out, "login"),
        ('✓', "logged in as kojiuser and logged out again")
    );

    let out = client_doctor(&home, "nobody", "nobodypass").await;
    assert_eq!(
        only_failure(&out, "image permission"),
        "nobody may not request images: a Koji admin grants it with \
         `koji grant-permission image nobody`"
    );

    let out = client_doctor(&home, "nobody", "wrong").await;
    let message = only_failure(&out, "login");
    assert!(
        message.starts_with("the hub refused the login as nobody with a password: "),
        "{message}"
    );
    assert!(!out.stdout.contains("wrong"), "{out:#?}");
    skipped(&out, &["image permission"], "not logged in");

    let with_client = home
        .koji_osbuild(&[
            "--user",
            "kojiuser",
            "--password",
            "kojipass",
            "doctor",
            "--client",
        ])
        .await;
    assert_eq!(with_client.code, 0, "{with_client:#?}");
    assert_eq!(with_client.stdout_lines().len(), 5, "{with_client:#?}");

    let moved = home
        .koji_osbuild(&[
            "doctor",
            "--builder-config",
            "/etc/koji-osbuild/builder.conf",
        ])
        .await;
    assert_eq!(
        moved.one_line_error(),
        "koji-osbuild: error: the builder host's checks moved: run `koji-osbuild-builder \
         doctor [--config FILE]... [--kojid-config FILE]` on the builder host"
    );
    assert!(moved.stdout.is_empty(), "{moved:#?}");
}

async fn client_doctor(home: &Home, user: &str, password: &str) -> Output {
    home.koji_osbuild(&["--user", user, "--password", password, "doctor"])
        .await
}

/// [composer] server names a web server that is not composer (here the
/// hub's): its 404 is not composer's "compose not found".
#[tokio::test(flavor = "multi_thread")]
async fn composer_url_of_another_server() {
    let hub = TestHub::start();
    let not_composer = hub.url.trim_end_matches("/kojihub").to_string();
    let out = doctor_on(&hub, &format!("server = {not_composer}")).await;
    let message = only_failure(&out, "composer API");
    assert!(
        message.starts_with(&format!(
            "{not_composer}/api/image-builder-composer/v2/ answered 404 without composer's \
             error object: is {not_composer} osbuild-composer? Check [composer] server in "
        )) && message.ends_with("builder.conf"),
        "{message}"
    );
}

/// composer wants client certificates of its own CA; ours comes from
/// another one.
#[tokio::test(flavor = "multi_thread")]
async fn client_certificate_not_accepted_by_composer() {
    let hub = TestHub::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let composer_pki = Pki::new(&dir.path().join("composer"));
    let other_pki = Pki::new(&dir.path().join("other"));
    let sim = ComposerSim::start_tls(&hub, &composer_pki, true, &[]);
    let foreign = other_pki.client("koji-osbuild");
    let composer = format!(
        "server = {}\nssl_cert = {}\nssl_verify = {}",
        sim.url,
        foreign.combined().display(),
        composer_pki.ca().display()
    );
    let out = doctor_on(&hub, &composer).await;
    let message = only_failure(&out, "composer TLS");
    assert!(
        message.starts_with("composer ended the TLS handshake (")
            && message.contains(
                "it does not accept our client certificate; check [composer] ssl_cert in "
            ),
        "{message}"
    );
    skipped(&out, &["composer API"], "composer's TLS handshake failed");

    // Without any client certificate.
    let composer = format!(
        "server = {}\nssl_verify = {}",
        sim.url,
        composer_pki.ca().display()
    );
    let out = doctor_on(&hub, &composer).await;
    let message = only_failure(&out, "composer TLS");
    assert!(
        message.ends_with("it wants a client certificate; set [composer] ssl_cert"),
        "{message}"
    );
}
