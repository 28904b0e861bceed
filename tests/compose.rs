//! The compose commands end to end: `koji-osbuild-builder compose`,
//! `compose-status` and `compose-wait` (upstream's stand-alone composer
//! client) against the composer simulator, which imports the build into the
//! test hub. They talk to composer only, so every home here has a koji
//! configuration that would fail if it were read.

use e2e::certs::Pki;
use e2e::hub::TestHub;
use e2e::run::{Home, Output};
use e2e::sim::ComposerSim;

/// Quick composes and polls, so that a test takes seconds.
const FAST_SIM: [&str; 2] = ["--compose-duration", "300ms"];
const POLL: [&str; 2] = ["--poll-interval", "0.1"];

/// A home whose koji configuration cannot be parsed: a compose command
/// that read it would fail.
fn home_without_koji() -> Home {
    let home = Home::new();
    home.file(".koji/config", "this is not an ini file\n[koji\n");
    home
}

/// Every status line of the progress and of show_compose: the progress
/// overwrites itself with `\r`.
fn screen_lines(out: &Output) -> Vec<&str> {
    out.stdout
        .split(['\n', '\r'])
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect()
}

fn compose_id(out: &Output) -> String {
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix("Compose: "))
        .unwrap_or_else(|| panic!("no 'Compose: ID' line: {out:#?}"))
        .to_string()
}

fn build_id(out: &Output) -> i64 {
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix("koji build: "))
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no 'koji build: N' line: {out:#?}"))
}

/// show_compose's lines from `status:` on, as a finished compose shows them.
fn shown(out: &Output) -> Vec<&str> {
    let lines = screen_lines(out);
    let start = lines
        .iter()
        .rposition(|l| l.starts_with("status: "))
        .unwrap_or_else(|| panic!("no status line: {out:#?}"));
    lines[start..].to_vec()
}

/// A release engineer creates a compose directly in composer, pointing its
/// Koji import at the hub: it ends in `success` with the build composer
/// imported, and the build is in Koji. compose-status and compose-wait of
/// that id show the same.
#[tokio::test(flavor = "multi_thread")]
async fn compose_imports_the_build_then_status_and_wait_show_it() {
    let hub = TestHub::start();
    let sim = ComposerSim::start(&hub, &FAST_SIM);
    let home = home_without_koji();

    let out = home
        .koji_osbuild_builder(&[
            "compose",
            "--url",
            &sim.url,
            "--koji",
            &hub.url,
            "demo-image",
            "42",
            "cli.1",
            "fedora-42",
            "x86_64",
            "--repo",
            "https://repo.example/fedora-42/x86_64",
            "--format",
            "qcow2",
            POLL[0],
            POLL[1],
        ])
        .await
        .success();
    assert_eq!(out.stderr, "", "{out:#?}");
    let id = compose_id(&out);
    let build = build_id(&out);
    assert_eq!(
        shown(&out),
        [
            "status: success".to_string(),
            "koji task: None".to_string(),
            format!("koji build: {build}"),
            "images:".to_string(),
            "  success".to_string(),
        ],
        "{out:#?}"
    );
    assert!(
        screen_lines(&out)
            .iter()
            .any(|l| l.starts_with("status: ") && !l.ends_with("success")),
        "progress before the end: {out:#?}"
    );

    let info = hub
        .anonymous()
        .get_build(build, true)
        .await
        .expect("getBuild")
        .expect("the build exists");
    assert_eq!(
        (
            info.name.as_str(),
            info.version.as_str(),
            info.release.as_str()
        ),
        ("demo-image", "42", "cli.1")
    );

    let status = home
        .koji_osbuild_builder(&["compose-status", &id, "--url", &sim.url])
        .await
        .success();
    assert_eq!(shown(&status), shown(&out), "{status:#?}");
    assert!(!status.stdout.contains('\x1b'), "no ANSI off a terminal");

    let waited = home
        .koji_osbuild_builder(&["compose-wait", &id, "--url", &sim.url, POLL[0], POLL[1]])
        .await
        .success();
    assert_eq!(shown(&waited), shown(&out), "{waited:#?}");
}

/// compose-wait follows a compose that is still building to its end (the
/// compose made with curl, as another tool would).
#[tokio::test(flavor = "multi_thread")]
async fn compose_wait_follows_a_running_compose() {
    let hub = TestHub::start();
    let sim = ComposerSim::start(&hub, &["--compose-duration", "1500ms"]);
    let request = serde_json::json!({
        "distribution": "fedora-42",
        "koji": {"name": "demo-image", "version": "42", "release": "cli.2",
                 "server": hub.url, "task_id": 0},
        "image_requests": [{"architecture": "x86_64", "image_type": "guest-image",
                            "repositories": []}],
    });
    let created = std::process::Command::new("curl")
        .args([
            "-sS",
            "-f",
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
        ])
        .arg("-d")
        .arg(request.to_string())
        .arg(format!("{}/api/image-builder-composer/v2/compose", sim.url))
        .output()
        .expect("run curl");
    assert!(created.status.success(), "{created:?}");
    let created: serde_json::Value =
        serde_json::from_slice(&created.stdout).expect("ComposeId JSON");
    let id = created["id"].as_str().expect("compose id").to_string();

    let home = home_without_koji();
    let running = home
        .koji_osbuild_builder(&["compose-status", &id, "--url", &sim.url])
        .await
        .success();
    assert_ne!(shown(&running)[0], "status: success", "{running:#?}");

    let waited = home
        .koji_osbuild_builder(&["compose-wait", &id, "--url", &sim.url, POLL[0], POLL[1]])
        .await
        .success();
    let lines = shown(&waited);
    assert_eq!(lines[0], "status: success", "{waited:#?}");
    assert!(lines[2].starts_with("koji build: "), "{waited:#?}");
}

/// An unknown compose id: one line with composer's reason and the URL.
#[tokio::test(flavor = "multi_thread")]
async fn unknown_compose_id_is_one_line_with_composers_reason() {
    let hub = TestHub::start();
    let sim = ComposerSim::start(&hub, &[]);
    let home = home_without_koji();
    let id = "123e4567-e89b-12d3-a456-426655440000";
    for command in ["compose-status", "compose-wait"] {
        let out = home
            .koji_osbuild_builder(&[command, id, "--url", &sim.url, POLL[0], POLL[1]])
            .await;
        assert_eq!(out.code, 1, "{out:#?}");
        let line = out.one_line_error();
        assert!(
            line.starts_with("koji-osbuild-builder: Failed to get the compose status: GET "),
            "{line}"
        );
        assert!(line.contains(&format!("/composes/{id}")), "{line}");
        assert!(
            line.contains("404: Compose with given id not found"),
            "{line}"
        );
    }
}

/// An image type composer does not know: composer's 400 and its reason, and
/// no compose.
#[tokio::test(flavor = "multi_thread")]
async fn bad_image_type_is_composers_400() {
    let hub = TestHub::start();
    let sim = ComposerSim::start(&hub, &[]);
    let home = home_without_koji();
    let out = home
        .koji_osbuild_builder(&[
            "compose",
            "--url",
            &sim.url,
            "--koji",
            &hub.url,
            "demo-image",
            "42",
            "cli.3",
            "fedora-42",
            "x86_64",
            "--format",
            "no-such-image",
        ])
        .await;
    assert_eq!(out.code, 1, "{out:#?}");
    let line = out.one_line_error();
    assert!(
        line.starts_with("koji-osbuild-builder: Failed to create the compose request: POST "),
        "{line}"
    );
    assert!(
        line.contains("returned 400: Request could not be validated"),
        "{line}"
    );
    assert!(!out.stdout.contains("Compose:"), "{out:#?}");
}

/// One architecture fails to build: the compose fails, show_compose says
/// which image and why, and compose / compose-wait exit 1 while
/// compose-status (which only reports) exits 0.
#[tokio::test(flavor = "multi_thread")]
async fn failed_compose_exits_1() {
    let hub = TestHub::start();
    let sim = ComposerSim::start(
        &hub,
        &["--compose-duration", "300ms", "--fail-arch", "aarch64"],
    );
    let home = home_without_koji();
    let out = home
        .koji_osbuild_builder(&[
            "compose",
            "--url",
            &sim.url,
            "--koji",
            &hub.url,
            "demo-image",
            "42",
            "cli.4",
            "fedora-42",
            "x86_64",
            "aarch64",
            POLL[0],
            POLL[1],
        ])
        .await;
    assert_eq!(out.code, 1, "{out:#?}");
    assert_eq!(out.stderr, "", "{out:#?}");
    let lines = shown(&out);
    assert_eq!(lines[0], "status: failure", "{out:#?}");
    assert!(
        lines.iter().any(|l| l.starts_with("  failure: error ")),
        "the failed image and its reason: {out:#?}"
    );

    let id = compose_id(&out);
    let waited = home
        .koji_osbuild_builder(&["compose-wait", &id, "--url", &sim.url, POLL[0], POLL[1]])
        .await;
    assert_eq!(waited.code, 1, "{waited:#?}");
    assert_eq!(shown(&waited), lines);
    let status = home
        .koji_osbuild_builder(&["compose-status", &id, "--url", &sim.url])
        .await
        .success();
    assert_eq!(shown(&status), lines);
}

/// Composer behind TLS that wants client certificates: `--cert "cert, key"`
/// and `--ca` work (and say "Using client certificates"); without a client
/// certificate the failure is one line saying what to check.
#[tokio::test(flavor = "multi_thread")]
async fn client_certificate_and_ca() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pki = Pki::new(dir.path());
    let client = pki.client("koji-osbuild");
    let ca = pki.ca();
    let hub = TestHub::start();
    let sim = ComposerSim::start_tls(&hub, &pki, true, &FAST_SIM);
    let home = home_without_koji();
    let cert = format!("{}, {}", client.cert.display(), client.key.display());
    let ca = ca.to_string_lossy().into_owned();

    let out = home
        .koji_osbuild_builder(&[
            "compose",
            "--url",
            &sim.url,
            "--cert",
            &cert,
            "--ca",
            &ca,
            "--koji",
            &hub.url,
            "demo-image",
            "42",
            "cli.5",
            "fedora-42",
            "x86_64",
            POLL[0],
            POLL[1],
        ])
        .await
        .success();
    assert_eq!(
        out.stdout_lines()[0],
        "Using client certificates",
        "{out:#?}"
    );
    assert_eq!(shown(&out)[0], "status: success", "{out:#?}");

    // The combined PEM works as well.
    let id = compose_id(&out);
    let combined = client.combined().to_string_lossy().into_owned();
    home.koji_osbuild_builder(&[
        "compose-status",
        &id,
        "--url",
        &sim.url,
        "--cert",
        &combined,
        "--ca",
        &ca,
    ])
    .await
    .success();

    let out = home
        .koji_osbuild_builder(&[
            "compose",
            "--url",
            &sim.url,
            "--ca",
            &ca,
            // TLS failures are retried like connection errors (upstream's
            // urllib3 does so too); 0 shows the error at once.
            "--retries",
            "0",
            "--koji",
            &hub.url,
            "demo-image",
            "42",
            "cli.6",
            "fedora-42",
            "x86_64",
        ])
        .await;
    let line = out.one_line_error();
    assert!(
        line.starts_with("koji-osbuild-builder: POST https://"),
        "{line}"
    );
    assert!(
        line.contains("composer did not accept our client certificate"),
        "{line}"
    );

    // Without --ca composer's certificate is not trusted.
    let out = home
        .koji_osbuild_builder(&[
            "compose",
            "--url",
            &sim.url,
            "--cert",
            &cert,
            "--retries",
            "0",
            "--koji",
            &hub.url,
            "demo-image",
            "42",
            "cli.7",
            "fedora-42",
            "x86_64",
        ])
        .await;
    let line = out.one_line_error();
    assert!(
        line.contains("composer's certificate is not trusted"),
        "{line}"
    );
}

fn oauth_builder_conf(home: &Home, sim: &ComposerSim, hub: &TestHub, secret: &str) -> String {
    let conf = format!(
        "[composer]\nserver = {}\n\n[composer:oauth]\nclient_id = koji-osbuild\n\
         client_secret = {secret}\ntoken_url = {}\n\n[koji]\nserver = {}\n",
        sim.url,
        sim.token_url.as_deref().expect("TOKEN_URL"),
        hub.url
    );
    home.file("builder.conf", &conf)
        .to_string_lossy()
        .into_owned()
}

/// On a builder host: `--config builder.conf` takes composer's server, the
/// OAuth client credentials and the hub from the file. A wrong secret is
/// one line that does not show it.
#[tokio::test(flavor = "multi_thread")]
async fn builder_conf_with_oauth() {
    let hub = TestHub::start();
    let sim = ComposerSim::start(
        &hub,
        &[
            "--oauth-client-id",
            "koji-osbuild",
            "--oauth-client-secret",
            "s3cr3t-value",
            FAST_SIM[0],
            FAST_SIM[1],
        ],
    );
    let home = home_without_koji();
    let conf = oauth_builder_conf(&home, &sim, &hub, "s3cr3t-value");
    let out = home
        .koji_osbuild_builder(&[
            "compose",
            "--config",
            &conf,
            "demo-image",
            "42",
            "cli.8",
            "fedora-42",
            "x86_64",
            POLL[0],
            POLL[1],
        ])
        .await
        .success();
    assert_eq!(shown(&out)[0], "status: success", "{out:#?}");
    let build = build_id(&out);
    assert!(
        hub.anonymous()
            .get_build(build, true)
            .await
            .expect("getBuild")
            .is_some(),
        "build {build} imported into the hub named in builder.conf"
    );

    let id = compose_id(&out);
    home.koji_osbuild_builder(&["compose-status", &id, "--config", &conf])
        .await
        .success();

    // Without the token, composer says no.
    let out = home
        .koji_osbuild_builder(&["compose-status", &id, "--url", &sim.url])
        .await;
    let line = out.one_line_error();
    assert!(line.contains("returned 401"), "{line}");

    let wrong = oauth_builder_conf(&home, &sim, &hub, "wrong-secret");
    let out = home
        .koji_osbuild_builder(&["compose-status", &id, "--config", &wrong])
        .await;
    let line = out.one_line_error();
    assert!(
        line.starts_with("koji-osbuild-builder: Failed to authenticate via SSO/OAuth"),
        "{line}"
    );
    assert!(!out.stderr.contains("wrong-secret"), "{out:#?}");
}

/// A builder.conf that is not there is named, not silently skipped.
#[tokio::test(flavor = "multi_thread")]
async fn missing_builder_conf_is_one_line() {
    let home = home_without_koji();
    let out = home
        .koji_osbuild_builder(&[
            "compose-status",
            "x",
            "--config",
            "/nonexistent/builder.conf",
        ])
        .await;
    assert_eq!(
        out.one_line_error(),
        "koji-osbuild-builder: config file /nonexistent/builder.conf does not exist \
         (given with --config)"
    );
}

/// While a compose command retries, each retry is one line on stderr:
/// the attempt, the reason and the pause; then the error line.
#[tokio::test(flavor = "multi_thread")]
async fn retries_are_shown_one_line_each() {
    let home = home_without_koji();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let out = home
        .koji_osbuild_builder(&["compose-status", "abc", "--url", &url, "--retries", "2"])
        .await;
    assert_ne!(out.code, 0, "{out:#?}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{out:#?}");
    let get = format!("koji-osbuild-builder: GET {url}/api/image-builder-composer/v2/composes/abc");
    for (line, n, pause) in [(lines[0], 1, "0.0"), (lines[1], 2, "0.6")] {
        assert!(
            line.starts_with(&format!("{get} failed (attempt {n} of 3): "))
                && line.contains("Connection refused")
                && line.ends_with(&format!("; retrying in {pause} s")),
            "{line}"
        );
    }
    assert!(
        lines[2].starts_with(&format!("{get} failed after 3 attempt(s)")),
        "{out:#?}"
    );
}

/// With neither --url nor a builder.conf naming composer there is nothing
/// to talk to: one line saying what to give, at once (no retries of
/// upstream's https://localhost default).
#[tokio::test(flavor = "multi_thread")]
async fn no_composer_configured_is_refused_at_once() {
    let home = home_without_koji();
    let out = home.koji_osbuild_builder(&["compose-status", "abc"]).await;
    assert_eq!(
        out.one_line_error(),
        "koji-osbuild-builder: no composer to talk to: give --url URL, \
         or --config builder.conf with [composer] server"
    );
    let conf = home.file("builder.conf", "[koji]\nserver = https://koji/kojihub\n");
    let conf = conf.to_string_lossy();
    let out = home
        .koji_osbuild_builder(&["compose-wait", "abc", "--config", &conf])
        .await;
    assert!(out.one_line_error().contains("give --url URL"), "{out:#?}");
}
