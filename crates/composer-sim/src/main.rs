//! composer-sim: an osbuild-composer stand-in for tests, benchmarks and the
//! local demo. It serves the cloud API v2 subset koji-osbuild uses, checks
//! client certificates or OAuth2 tokens, injects faults on demand, and does
//! composer's Koji side for real (CGInitBuild, uploads, CGImport) against
//! the hub a compose request names. It is not a composer: it builds nothing.
//!
//! On start it prints `COMPOSER_URL=…`, `TOKEN_URL=…` (with OAuth) and
//! `READY` on stdout, then serves until SIGTERM/SIGINT. Logs go to stderr.

mod api;
mod compose;
mod errors;
mod faults;
mod images;
mod kojiside;
mod metadata;
mod server;
mod sim;
mod validate;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;

use crate::faults::{parse_duration, Faults, KojiFailure};
use crate::kojiside::{KojiConnector, KojiCredentials};
use crate::server::TlsFiles;
use crate::sim::{Config, OAuthClient, Sim};

fn duration_arg(s: &str) -> Result<Duration, String> {
    parse_duration(s)
}

fn koji_fail_arg(s: &str) -> Result<KojiFailure, String> {
    match s {
        "init" => Ok(KojiFailure::Init),
        "import" => Ok(KojiFailure::Import),
        _ => Err(format!("expected init or import, not {s:?}")),
    }
}

/// Simulated osbuild-composer (cloud API v2) for koji-osbuild tests.
#[derive(Debug, Parser)]
#[command(name = "composer-sim", version, about)]
struct Cli {
    /// TCP port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,

    /// Serve HTTPS with this certificate (PEM; needs --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key of --tls-cert (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Require client certificates signed by this CA (PEM; needs --tls-cert).
    #[arg(long, requires = "tls_cert")]
    client_ca: Option<PathBuf>,

    /// Turn on OAuth2: the client id the token endpoint accepts.
    #[arg(long, requires = "oauth_client_secret")]
    oauth_client_id: Option<String>,
    /// The client secret the token endpoint accepts.
    #[arg(
        long,
        env = "COMPOSER_SIM_OAUTH_CLIENT_SECRET",
        hide_env_values = true,
        requires = "oauth_client_id"
    )]
    oauth_client_secret: Option<String>,
    /// Lifetime of issued access tokens.
    #[arg(long, default_value = "300s", value_parser = duration_arg)]
    token_lifetime: Duration,

    /// How long a compose builds before its Koji side runs.
    #[arg(long, default_value = "2s", value_parser = duration_arg)]
    compose_duration: Duration,
    /// Image requests of this architecture fail their build (repeatable).
    #[arg(long = "fail-arch")]
    fail_arch: Vec<String>,
    /// Answer the first N API requests with --fail-status.
    #[arg(long, default_value_t = 0)]
    fail_next: u32,
    /// Status of injected failures (5xx).
    #[arg(long, default_value_t = 500)]
    fail_status: u16,
    /// Delay every API answer.
    #[arg(long, default_value = "0s", value_parser = duration_arg)]
    delay: Duration,
    /// Close the connection without an answer for the first N API requests.
    #[arg(long, default_value_t = 0)]
    reset_next: u32,
    /// Make the Koji side fail at `init` (before CGInitBuild) or `import`.
    #[arg(long, value_parser = koji_fail_arg)]
    koji_fail: Option<KojiFailure>,
    /// Answer GET composes/{id}/logs with a 404.
    #[arg(long)]
    logs_fail: bool,
    /// Answer GET composes/{id}/manifests with a 404.
    #[arg(long)]
    manifests_fail: bool,

    /// Content-generator user to log in to Koji as.
    #[arg(long, requires = "koji_password")]
    koji_user: Option<String>,
    /// Password of --koji-user.
    #[arg(
        long,
        env = "COMPOSER_SIM_KOJI_PASSWORD",
        hide_env_values = true,
        requires = "koji_user"
    )]
    koji_password: Option<String>,
    /// Client certificate (PEM) for sslLogin to Koji, instead of a password.
    #[arg(long, conflicts_with = "koji_user")]
    koji_cert: Option<PathBuf>,
    /// Private key of --koji-cert, if not inside it.
    #[arg(long, requires = "koji_cert")]
    koji_key: Option<PathBuf>,
    /// CA bundle to verify the Koji hub with.
    #[arg(long)]
    koji_ca: Option<PathBuf>,
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("composer-sim: cannot start the tokio runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("composer-sim: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if !(500..=599).contains(&cli.fail_status) {
        bail!(
            "--fail-status must be a 5xx status, not {}",
            cli.fail_status
        );
    }
    let tls = match (&cli.tls_cert, &cli.tls_key) {
        (Some(cert), Some(key)) => Some(server::tls_acceptor(&TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: cli.client_ca.clone(),
        })?),
        _ => None,
    };
    let oauth = match (&cli.oauth_client_id, &cli.oauth_client_secret) {
        (Some(id), Some(secret)) => Some(OAuthClient {
            client_id: id.clone(),
            client_secret: secret.clone(),
        }),
        _ => None,
    };
    let initial_faults = Faults {
        fail_next: cli.fail_next,
        fail_status: cli.fail_status,
        delay: cli.delay,
        fail_arches: cli.fail_arch.clone(),
        reset_next: cli.reset_next,
        token_lifetime: cli.token_lifetime,
        compose_duration: cli.compose_duration,
        koji_fail: cli.koji_fail,
        logs_fail: cli.logs_fail,
        manifests_fail: cli.manifests_fail,
        fail_until: None,
        reset_until: None,
    };
    let credentials = KojiCredentials {
        user: cli.koji_user.clone(),
        password: cli.koji_password.clone(),
        cert: cli.koji_cert.clone(),
        key: cli.koji_key.clone(),
        serverca: cli.koji_ca.clone(),
    };
    let oauth_on = oauth.is_some();
    let sim = Sim::new(
        Config {
            oauth,
            initial_faults,
        },
        Arc::new(KojiConnector { credentials }),
    );

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", cli.port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", cli.port))?;
    let port = listener
        .local_addr()
        .context("cannot read the listening address")?
        .port();
    let shutdown = shutdown_signal()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base = format!("{scheme}://127.0.0.1:{port}");
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "COMPOSER_URL={base}")?;
        if oauth_on {
            writeln!(out, "TOKEN_URL={base}/token")?;
        }
        writeln!(out, "READY")?;
        out.flush()?;
    }
    tracing::info!(url = %base, tls = tls.is_some(), client_certs = cli.client_ca.is_some(), oauth = oauth_on, "composer-sim serving");

    let app = api::router(sim.clone());
    server::serve(listener, tls, app, sim, shutdown).await;
    tracing::info!("composer-sim stopped");
    Ok(())
}

/// Resolves on SIGTERM or SIGINT. The handlers are installed when this is
/// called, before READY is printed, so a signal right after READY is not
/// lost to the default action.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM"),
            _ = int.recv() => tracing::info!("SIGINT"),
        }
    })
}
