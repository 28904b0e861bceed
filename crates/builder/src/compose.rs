//! `koji-osbuild-builder compose`, `compose-status` and `compose-wait`:
//! upstream's stand-alone composer client (the end of
//! plugins/builder/osbuild.py run as a program: `compose`, `status`,
//! `wait`). They belong with the builder because they are its composer
//! client run by hand, with its builder.conf if one is given (`--config`,
//! read by the daemon's own config module); they open no Koji session.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use composer::{
    Client, ComposeRequest, ComposeStatus, ImageRequest, ImageStatus, Koji, Repository,
    RetryPolicy, SslVerify, DEFAULT_POLL_INTERVAL,
};
use koji_osbuild_builder::cli::{ComposeArgs, ComposeIdArgs, ComposerArgs};
use koji_osbuild_builder::config::{self, parse_cert};

/// Upstream's ANSI codes; used only when stdout is a terminal.
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// Where and how to reach composer, and which hub it should import into.
#[derive(Debug)]
struct Settings {
    client: composer::ClientOptions,
    /// `[koji] server` of builder.conf, else upstream's default; `--koji`
    /// of `compose` wins over both.
    koji_server: String,
    poll_interval: Duration,
}

/// builder.conf (`--config`, if given; else upstream's defaults)
/// overridden by the command line.
fn settings(args: &ComposerArgs) -> anyhow::Result<Settings> {
    // With no file, an empty [composer] section: upstream's defaults.
    let config::ComposerSettings {
        mut client,
        koji_server,
        server_configured,
    } = config::composer_settings(args.config.as_slice())?;
    // Upstream's stand-alone client retries like this whatever the config
    // says (Client(url) with its defaults: total=15, backoff 0.3).
    client.retry = RetryPolicy {
        max_retries: args.retries.unwrap_or(RetryPolicy::STANDALONE.max_retries),
        ..RetryPolicy::STANDALONE
    };
    // Each retry is one line on stderr, so a composer that is not there
    // shows at once instead of as minutes of silence.
    client.on_retry = Some(composer::OnRetry(Arc::new(|retry: &composer::Retrying| {
        let reason = doctor_report::without_os_error(&retry.reason);
        eprintln!(
            "koji-osbuild-builder: {}",
            composer::Retrying {
                reason,
                ..retry.clone()
            }
        );
    })));
    // Upstream's stand-alone client falls back to https://localhost; a
    // typo'd or forgotten option would then retry a composer that is not
    // there for minutes. Say what is missing instead.
    client.server = match &args.url {
        Some(url) => url.clone(),
        None if server_configured => client.server,
        None => anyhow::bail!(
            "no composer to talk to: give --url URL, or --config builder.conf with [composer] server"
        ),
    };
    if let Some(cert) = &args.cert {
        client.ssl_cert = Some(match cert.to_str() {
            Some(value) => parse_cert(value).map_err(|e| anyhow::anyhow!("--cert: {e}"))?,
            // Not UTF-8, so no ", " to split on: one combined PEM file.
            None => composer::ClientCert::Combined(cert.clone()),
        });
    }
    client.ssl_verify = args.ca.clone().map_or(client.ssl_verify, SslVerify::CaPath);
    Ok(Settings {
        client,
        koji_server,
        poll_interval: args.poll_interval.unwrap_or(DEFAULT_POLL_INTERVAL),
    })
}

/// The client `args` and builder.conf describe, and the rest of the
/// settings.
fn connect(args: &ComposerArgs, out: &mut dyn Write) -> anyhow::Result<(Client, Settings)> {
    let settings = settings(args)?;
    if settings.client.ssl_cert.is_some() {
        // Upstream prints this when given --cert.
        writeln!(out, "Using client certificates")?;
    }
    Ok((Client::new(settings.client.clone())?, settings))
}

/// `compose`: create the compose and wait for it; `Ok` carries the exit
/// status, 1 when the compose failed.
pub async fn create(args: &ComposeArgs, out: &mut dyn Write, terminal: bool) -> anyhow::Result<u8> {
    let (client, settings) = connect(&args.composer, out)?;
    let request = compose_request(args, &settings.koji_server);
    let id = client.compose_create(&request).await?;
    writeln!(out, "Compose: {id}")?;
    out.flush()?;
    // Each status change overwrites the line (upstream's
    // `print(..., end="\r")`); progress only: a closed stdout must not end
    // the wait.
    let status = client
        .wait_for_compose(&id, settings.poll_interval, |status| {
            let _ = write!(out, "status: {: <10}\r", status.status.as_str());
            let _ = out.flush();
        })
        .await?;
    show_result(out, &status, terminal)
}

/// `compose-status`: show the compose as it is now.
pub async fn status(
    args: &ComposeIdArgs,
    out: &mut dyn Write,
    terminal: bool,
) -> anyhow::Result<u8> {
    let (client, _) = connect(&args.composer, out)?;
    show_compose(out, &client.compose_status(&args.id).await?, terminal)?;
    Ok(0)
}

/// `compose-wait`: wait for the compose to finish; `Ok` carries the exit
/// status, 1 when the compose failed.
pub async fn wait(args: &ComposeIdArgs, out: &mut dyn Write, terminal: bool) -> anyhow::Result<u8> {
    let (client, settings) = connect(&args.composer, out)?;
    let status = client
        .wait_for_compose(&args.id, settings.poll_interval, |_| {})
        .await?;
    show_result(out, &status, terminal)
}

/// Shows the finished compose; the exit status says whether it succeeded.
fn show_result(out: &mut dyn Write, status: &ComposeStatus, bold: bool) -> anyhow::Result<u8> {
    show_compose(out, status, bold)?;
    Ok(if status.is_success() { 0 } else { 1 })
}

/// Upstream's compose_cmd request: one image request per architecture, the
/// same repositories for each, and a koji section with task id 0 (no Koji
/// task is behind a stand-alone compose).
fn compose_request(args: &ComposeArgs, default_koji: &str) -> ComposeRequest {
    let image_type = osbuild_task::map_legacy_image_type(&args.format);
    let repositories: Vec<Repository> = args.repo.iter().map(Repository::new).collect();
    let images = args
        .arch
        .iter()
        .map(|arch| ImageRequest::new(arch.clone(), image_type, repositories.clone()))
        .collect();
    let koji = Koji {
        name: args.name.clone(),
        version: args.version.clone(),
        release: args.release.clone(),
        server: args.koji.clone().unwrap_or_else(|| default_koji.into()),
        task_id: 0,
    };
    ComposeRequest::koji(args.distro.clone(), images, koji)
}

/// Upstream's show_compose: status (bold on a terminal), koji task, koji
/// build once there is one, and one line per image.
fn show_compose(out: &mut dyn Write, status: &ComposeStatus, bold: bool) -> std::io::Result<()> {
    let (on, off) = if bold { (BOLD, RESET) } else { ("", "") };
    writeln!(out, "status: {on}{}{off}", status.status)?;
    // Upstream prints Python's None when composer sends no task id (the v2
    // API does not have one); kept so that scripts reading it still match.
    let task = status
        .koji_status
        .as_ref()
        .and_then(|k| k.task_id)
        .map_or_else(|| "None".to_string(), |id| id.to_string());
    writeln!(out, "koji task: {task}")?;
    if let Some(build) = status.koji_build_id() {
        writeln!(out, "koji build: {build}")?;
    }
    writeln!(out, "images: ")?;
    for image in status.images() {
        writeln!(out, "  {}", describe_image(image))?;
    }
    Ok(())
}

/// One image's status. Upstream prints the Python object's default repr
/// here, which says nothing; this says the status, the upload and the error.
fn describe_image(image: &ImageStatus) -> String {
    let mut line = image.status.as_str().to_string();
    if let Some(upload) = &image.upload_status {
        line.push_str(&format!(" (upload {}: {})", upload.type_, upload.status));
    }
    if let Some(error) = &image.error {
        line.push_str(&format!(": error {}: {}", error.id, error.reason));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use composer::ClientCert;
    use koji_osbuild_builder::cli::{Cli, Command};
    use serde_json::json;

    fn cli(argv: &[&str]) -> Result<Command, clap::Error> {
        let mut full = vec!["koji-osbuild-builder"];
        full.extend_from_slice(argv);
        Ok(Cli::try_parse_from(full)?.command.expect("a subcommand"))
    }

    fn compose_args(argv: &[&str]) -> ComposeArgs {
        let mut full = vec!["compose"];
        full.extend_from_slice(argv);
        match cli(&full).expect("parses") {
            Command::Compose(args) => *args,
            other => panic!("not compose: {other:?}"),
        }
    }

    fn wait_args(extra: &[&str]) -> ComposerArgs {
        let mut argv = vec!["compose-wait", "id"];
        argv.extend_from_slice(extra);
        match cli(&argv).expect("parses") {
            Command::ComposeWait(args) => args.composer,
            other => panic!("not compose-wait: {other:?}"),
        }
    }

    fn status(doc: serde_json::Value) -> ComposeStatus {
        serde_json::from_value(doc).expect("a compose status")
    }

    fn shown(status: &ComposeStatus, bold: bool) -> String {
        let mut out = Vec::new();
        show_compose(&mut out, status, bold).expect("write to a Vec");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn request_like_upstreams_compose_cmd() {
        let args = compose_args(&[
            "name",
            "1.0",
            "3",
            "fedora-42",
            "x86_64",
            "aarch64",
            "--repo",
            "https://a",
            "--repo",
            "https://b",
            "--format",
            "qcow2",
        ]);
        let request = compose_request(&args, "https://localhost/kojihub");
        assert_eq!(
            request.to_json(),
            json!({
                "distribution": "fedora-42",
                "koji": {"name": "name", "version": "1.0", "release": "3",
                         "server": "https://localhost/kojihub", "task_id": 0},
                "image_requests": [
                    {"architecture": "x86_64", "image_type": "guest-image",
                     "repositories": [{"baseurl": "https://a", "rhsm": false},
                                      {"baseurl": "https://b", "rhsm": false}]},
                    {"architecture": "aarch64", "image_type": "guest-image",
                     "repositories": [{"baseurl": "https://a", "rhsm": false},
                                      {"baseurl": "https://b", "rhsm": false}]},
                ],
            })
        );
    }

    #[test]
    fn koji_flag_wins_over_the_config() {
        let args = compose_args(&["n", "v", "r", "d", "a", "--koji", "https://hub/kojihub"]);
        let request = compose_request(&args, "https://conf/kojihub");
        assert_eq!(
            request.koji.map(|k| k.server).as_deref(),
            Some("https://hub/kojihub")
        );
        let args = compose_args(&["n", "v", "r", "d", "a", "--format", "ami"]);
        let request = compose_request(&args, "https://conf/kojihub");
        assert_eq!(
            request.koji.map(|k| k.server).as_deref(),
            Some("https://conf/kojihub")
        );
        let images = request.image_requests.unwrap_or_default();
        assert_eq!(images[0].image_type.as_str(), "ami");
    }

    #[test]
    fn defaults_without_config() {
        let args = compose_args(&["n", "v", "r", "d", "a"]);
        let err = settings(&args.composer).expect_err("no composer");
        assert_eq!(
            err.to_string(),
            "no composer to talk to: give --url URL, or --config builder.conf with [composer] server"
        );
        let args = compose_args(&["n", "v", "r", "d", "a", "--url", "https://c"]);
        let s = settings(&args.composer).expect("settings");
        assert_eq!(s.client.server, "https://c");
        assert_eq!(s.client.ssl_cert, None);
        assert_eq!(s.client.ssl_verify, SslVerify::Enabled);
        assert_eq!(s.client.retry, RetryPolicy::STANDALONE);
        assert_eq!(s.koji_server, "https://localhost/kojihub");
        assert_eq!(s.poll_interval, Duration::from_secs(2));
    }

    #[test]
    fn cert_pair_combined_and_ca() {
        let Command::ComposeStatus(args) = cli(&[
            "compose-status",
            "abc",
            "--url",
            "https://composer:8443",
            "--cert",
            "/c/client.crt, /c/client.key",
            "--ca",
            "/c/ca.crt",
            "--poll-interval",
            "0.25",
            "--retries",
            "0",
        ])
        .expect("parses") else {
            panic!("not compose-status")
        };
        assert_eq!(args.id, "abc");
        let s = settings(&args.composer).expect("settings");
        assert_eq!(s.client.server, "https://composer:8443");
        assert_eq!(
            s.client.ssl_cert,
            Some(ClientCert::Pair {
                cert: "/c/client.crt".into(),
                key: "/c/client.key".into()
            })
        );
        assert_eq!(s.client.ssl_verify, SslVerify::CaPath("/c/ca.crt".into()));
        assert_eq!(s.poll_interval, Duration::from_millis(250));
        assert_eq!(s.client.retry.max_retries, 0);
        assert_eq!(s.client.retry.backoff_factor, Duration::from_millis(300));

        let s = settings(&wait_args(&["--url", "https://c", "--cert", "/c/both.pem"]))
            .expect("settings");
        assert_eq!(
            s.client.ssl_cert,
            Some(ClientCert::Combined("/c/both.pem".into()))
        );

        let err = settings(&wait_args(&["--url", "https://c", "--cert", "a, b, c"]))
            .expect_err("three paths");
        assert_eq!(
            err.to_string(),
            "--cert: Invalid cert string 'a, b, c' (3 certs)"
        );
    }

    #[test]
    fn builder_conf_then_flags() {
        let dir = tempfile::tempdir().expect("temp dir");
        let conf = dir.path().join("builder.conf");
        std::fs::write(
            &conf,
            "[composer]\nserver = https://composer.conf\nssl_cert = /conf/c.pem\n\
             ssl_verify = False\nproxy = proxy.example:3128\n\n\
             [composer:oauth]\nclient_id = id\nclient_secret = s3cret\n\
             token_url = https://sso/token\n\n[koji]\nserver = https://hub.conf/kojihub\n",
        )
        .expect("write builder.conf");
        let conf = conf.to_string_lossy().into_owned();

        let s = settings(&wait_args(&["--config", &conf])).expect("settings");
        assert_eq!(s.client.server, "https://composer.conf");
        assert_eq!(
            s.client.ssl_cert,
            Some(ClientCert::Combined("/conf/c.pem".into()))
        );
        assert_eq!(s.client.ssl_verify, SslVerify::Disabled);
        assert_eq!(s.client.proxy.as_deref(), Some("proxy.example:3128"));
        assert_eq!(
            s.client.oauth.as_ref().map(|o| o.client_id.as_str()),
            Some("id")
        );
        assert_eq!(s.client.retry, RetryPolicy::STANDALONE);
        assert_eq!(s.koji_server, "https://hub.conf/kojihub");

        let s = settings(&wait_args(&[
            "--config",
            &conf,
            "--url",
            "https://flag",
            "--cert",
            "/flag/c.pem",
            "--ca",
            "/flag/ca.pem",
        ]))
        .expect("settings");
        assert_eq!(s.client.server, "https://flag");
        assert_eq!(
            s.client.ssl_cert,
            Some(ClientCert::Combined("/flag/c.pem".into()))
        );
        assert_eq!(
            s.client.ssl_verify,
            SslVerify::CaPath("/flag/ca.pem".into())
        );
        // what the flags do not set still comes from the file
        assert!(s.client.oauth.is_some());
    }

    #[test]
    fn missing_builder_conf_is_an_error() {
        let err = settings(&wait_args(&["--config", "/nonexistent/builder.conf"]))
            .expect_err("no such file");
        assert_eq!(
            err.to_string(),
            "config file /nonexistent/builder.conf does not exist (given with --config)"
        );
    }

    #[test]
    fn usage_errors() {
        let err = cli(&["compose", "n", "v", "r", "d"]).expect_err("an arch is required");
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("<ARCH>"), "{err}");
        for bad in ["soon", "-1"] {
            let err =
                cli(&["compose-wait", "id", "--poll-interval", bad]).expect_err("not a duration");
            assert_eq!(err.exit_code(), 2, "{bad}");
        }
    }

    #[test]
    fn show_compose_like_upstream() {
        let s = status(json!({
            "status": "success",
            "koji_status": {"build_id": 42},
            "image_statuses": [
                {"status": "success"},
                {"status": "success",
                 "upload_status": {"status": "success", "type": "koji", "options": {}}},
            ],
        }));
        assert_eq!(
            shown(&s, false),
            "status: success\nkoji task: None\nkoji build: 42\nimages: \n  success\n  \
             success (upload koji: success)\n"
        );
        assert_eq!(
            shown(&s, true).lines().next(),
            Some("status: \x1b[1msuccess\x1b[0m")
        );
    }

    #[test]
    fn show_compose_without_build_and_with_an_error() {
        let s = status(json!({
            "status": "failure",
            "koji_status": {"task_id": 7},
            "image_statuses": [
                {"status": "failure", "error": {"id": 10, "reason": "osbuild failed"}},
            ],
        }));
        assert_eq!(
            shown(&s, false),
            "status: failure\nkoji task: 7\nimages: \n  failure: error 10: osbuild failed\n"
        );
    }

    #[test]
    fn show_compose_of_an_old_composer() {
        // only `image_status`, no koji_status at all
        let s = status(json!({"status": "pending", "image_status": {"status": "building"}}));
        assert_eq!(
            shown(&s, false),
            "status: pending\nkoji task: None\nimages: \n  building\n"
        );
    }
}
