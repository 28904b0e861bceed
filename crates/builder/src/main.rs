//! `koji-osbuild-builder`: the daemon. Reads the configuration, runs the
//! host loop until SIGTERM or SIGINT, then frees its tasks and logs out.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use koji_osbuild_builder::{Builder, Cli, Settings};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let paths: Vec<PathBuf> = if cli.config.is_empty() {
        composer::config::DEFAULT_CONFIG_FILES
            .iter()
            .map(PathBuf::from)
            .collect()
    } else {
        cli.config.clone()
    };
    let settings = match Settings::load(&paths, cli.kojid_config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("koji-osbuild-builder: {e}");
            return ExitCode::from(2);
        }
    };
    if cli.check_config {
        println!(
            "configuration OK: hub {}, composer {}",
            settings.hub, settings.builder_conf.composer.server
        );
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("koji-osbuild-builder: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Our errors carry their causes in their own message already;
            // the `{:#}` chain would repeat them.
            eprintln!("koji-osbuild-builder: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let hub = settings.hub.clone();
    let builder = Builder::start(settings).await?;
    // Logged in and holding the host's exclusive session: systemd may now
    // consider the unit started (Type=notify).
    koji_osbuild_builder::notify::ready(&hub, builder.host_id());
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
        }
        koji_osbuild_builder::notify::stopping();
    };
    builder.run(shutdown).await?;
    Ok(())
}
