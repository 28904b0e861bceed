//! `koji-osbuild-builder`: the daemon. Reads the configuration, runs the
//! host loop until SIGTERM or SIGINT, then frees its tasks and logs out.
//!
//! SIGHUP reloads the configuration: the files are read again and, if they
//! are valid, the daemon frees its tasks, logs out and executes itself
//! again with the same arguments (same PID, so systemd keeps tracking it).
//! The new process takes the tasks back and follows their composes from
//! the compose.json attached to each task, so no compose is lost or
//! started twice. A configuration that does not load is logged and the
//! daemon keeps running with the one it has.
//!
//! The subcommands (`doctor`, `compose`, `compose-status`, `compose-wait`)
//! are tools for the builder host's admin, run with the same configuration;
//! `run-task` runs one task for kojid's osbuild plugin.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use koji_osbuild_builder::cli::Command;
use koji_osbuild_builder::{Builder, Cli, Settings};
use tracing_subscriber::EnvFilter;

mod compose;
mod doctor;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The daemon logs at info, and so does run-task (into kojid's log);
    // the tools print their own lines, so their logs stay off unless
    // RUST_LOG asks for them.
    let default_log = match cli.command {
        None | Some(Command::RunTask(_)) => "info",
        Some(_) => "off",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_log));
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colour on a terminal only: under systemd or into a log file the
        // escape codes would be noise.
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return failed(format!("cannot start the tokio runtime: {e}")),
    };
    if let Some(command) = cli.command {
        return tool(&runtime, command);
    }
    let (paths, kojid_config) = (cli.config.files(), cli.config.kojid_config.as_deref());
    let settings = match cli.config.load() {
        Ok(s) => s,
        Err(e) => {
            failed(e);
            return ExitCode::from(2);
        }
    };
    if cli.check_config {
        let (hub, composer) = (&settings.hub, &settings.composer.server);
        println!("configuration OK: hub {hub}, composer {composer}");
        return ExitCode::SUCCESS;
    }
    let result = runtime.block_on(run(settings, &paths, kojid_config));
    // The runtime's threads and sockets end here, before a re-exec.
    drop(runtime);
    match result {
        Ok(true) => re_exec(),
        Ok(false) => ExitCode::SUCCESS,
        Err(e) => failed(e),
    }
}

/// An error as the one line the daemon or a tool ends with. Our errors
/// carry their causes in their own message already; the `{:#}` chain would
/// repeat them.
fn failed(e: impl std::fmt::Display) -> ExitCode {
    eprintln!(
        "koji-osbuild-builder: {}",
        doctor_report::without_os_error(&e.to_string())
    );
    ExitCode::FAILURE
}

/// `doctor`, a compose command or `run-task`: the exit status it reports,
/// and any error as one line.
fn tool(runtime: &tokio::runtime::Runtime, command: Command) -> ExitCode {
    let stdout = std::io::stdout();
    let terminal = stdout.is_terminal();
    let mut out = stdout.lock();
    let result = runtime.block_on(async {
        match command {
            Command::Doctor(args) => Ok(doctor::run(&args, &mut out).await),
            Command::Compose(args) => compose::create(&args, &mut out, terminal).await,
            Command::ComposeStatus(args) => compose::status(&args, &mut out, terminal).await,
            Command::ComposeWait(args) => compose::wait(&args, &mut out, terminal).await,
            Command::RunTask(args) => koji_osbuild_builder::run_task::run(&args, &mut out).await,
        }
    });
    match result {
        Ok(status) => ExitCode::from(status),
        Err(e) => failed(e),
    }
}

/// Runs the host loop until SIGTERM or SIGINT, or until a SIGHUP finds a
/// valid configuration; `true` in that case: the caller re-executes.
async fn run(
    settings: Settings,
    paths: &[PathBuf],
    kojid_config: Option<&Path>,
) -> anyhow::Result<bool> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let hub = settings.hub.clone();
    // Bound before the login, so a port in use stops the start at once.
    if let Some(addr) = settings.metrics_listen {
        koji_osbuild_builder::metrics::serve(addr).await?;
    }
    let builder = Builder::start(settings).await?;
    // Logged in and holding the host's exclusive session: systemd may now
    // consider the unit started (Type=notify).
    koji_osbuild_builder::notify::ready(&hub, builder.host_id());
    let mut reload = false;
    let shutdown = async {
        loop {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received"),
                _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
                _ = hup.recv() => match Settings::load(paths, kojid_config) {
                    Ok(_) => {
                        tracing::info!("SIGHUP: the configuration loads; restarting in place to apply it");
                        reload = true;
                        koji_osbuild_builder::notify::reloading();
                        return;
                    }
                    Err(e) => {
                        tracing::error!("SIGHUP: {e}; keeping the configuration in use");
                        continue;
                    }
                },
            }
            koji_osbuild_builder::notify::stopping();
            return;
        }
    };
    builder.run(shutdown).await?;
    Ok(reload)
}

/// Executes this same binary again with the same arguments (the reload of
/// SIGHUP). Returns only if that fails.
fn re_exec() -> ExitCode {
    use std::os::unix::process::CommandExt;
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_else(|| "koji-osbuild-builder".into());
    tracing::info!("executing koji-osbuild-builder again");
    // /proc/self/exe is the binary that runs now, even if a package update
    // replaced the file on disk (apply that with a restart).
    let err = std::process::Command::new("/proc/self/exe")
        .arg0(&argv0)
        .args(args)
        .exec();
    eprintln!("koji-osbuild-builder: cannot execute itself again for the reload: {err}; exiting (systemd restarts it)");
    ExitCode::FAILURE
}
