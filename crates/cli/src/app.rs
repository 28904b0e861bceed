//! The commands, wired to the hub: what `main` runs once the
//! command line is parsed.

use std::io::Write;

use crate::args::{Cli, Command, GlobalArgs, ImageArgs, WatchArgs};
use crate::config::ConfigLocations;
use crate::doctor;
use crate::image;
use crate::session;
use crate::watch::{Format, Watcher};

/// The commands that go through the Koji hub.
enum KojiCommand {
    Image(Box<ImageArgs>),
    Watch(WatchArgs),
}

/// Run the command; `Ok` carries the exit status.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    let Cli { global, command } = cli;
    match command {
        Command::Image(args) => run_koji(global, KojiCommand::Image(args)).await,
        Command::Watch(args) => run_koji(global, KojiCommand::Watch(args)).await,
        Command::Doctor(args) => doctor::run(&args, &global, &mut std::io::stdout().lock()).await,
    }
}

async fn run_koji(global: GlobalArgs, command: KojiCommand) -> anyhow::Result<i32> {
    // `koji watch-task` is an anonymous command: watching needs no login,
    // so a password profile without --user/--password still watches.
    let global = match command {
        KojiCommand::Watch(_) => GlobalArgs {
            noauth: true,
            ..global
        },
        KojiCommand::Image(_) => global,
    };
    let settings = session::settings(&global, &ConfigLocations::system())?;
    tracing::debug!(server = %settings.server, auth = ?settings.auth, "settings");
    let session = session::connect(&settings)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();

    let result: anyhow::Result<i32> = match &command {
        KojiCommand::Image(args) => image::run(&session, &settings, args, &mut out, ctrl_c())
            .await
            .map_err(Into::into),
        KojiCommand::Watch(args) => {
            let format = if args.json {
                Format::Json
            } else {
                Format::Text {
                    quiet: settings.quiet,
                }
            };
            Watcher::new(&session, &mut out, format, settings.poll_interval)
                .watch(&args.task_ids, ctrl_c())
                .await
                .map_err(Into::into)
        }
    };
    let _ = out.flush();
    // The koji CLI logs out at exit whatever happened; so does this.
    if let Err(err) = session.logout().await {
        tracing::debug!(error = %err, "logout at exit failed");
    }
    result
}

/// Completes on Ctrl-C (SIGINT). The handler is installed when first
/// polled, i.e. only while watching; before that Ctrl-C just ends the
/// process, as it would any command.
async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
