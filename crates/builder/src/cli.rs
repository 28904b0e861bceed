//! The daemon's command line, in the library so that the man page
//! generator (xtask) reads the same definitions as the binary.
//!
//! Without a subcommand it is the daemon, as the systemd unit runs it.
//! The subcommands are the tools an admin runs on the builder host with
//! the daemon's own configuration: `doctor`, and upstream's stand-alone
//! composer client (`compose`, `compose-status`, `compose-wait`), and
//! `run-task`, which kojid's osbuild plugin runs for each task.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::{self, ConfigError, Settings, DEFAULT_CONFIG_FILES};

/// Koji builder host for osbuildImage tasks (osbuild-composer)
///
/// Logs in to the Koji hub as a builder host, as kojid does, takes the
/// osbuildImage tasks of the image channel (and their tagBuild subtasks),
/// runs each as a compose in osbuild-composer, attaches the request,
/// status, logs and manifests to the task, and tags the build. SIGTERM
/// frees the running tasks and logs out; SIGHUP reloads the configuration.
#[derive(Debug, Parser)]
#[command(
    name = "koji-osbuild-builder",
    version,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Check the configuration and exit.
    #[arg(long)]
    pub check_config: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The configuration files, for the daemon and for doctor alike.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// builder.conf to read instead of /usr/share/koji-osbuild/builder.conf
    /// and /etc/koji-osbuild/builder.conf (repeatable; later files win). It
    /// must exist; only the default files may be missing.
    #[arg(long = "config", value_name = "FILE")]
    pub config: Vec<PathBuf>,
    /// A kojid.conf whose [kojid] server, topurl, user, password, cert, key,
    /// serverca, keytab, host_principal_format, krb_principal, ccache,
    /// sleeptime, maxjobs, max_retries, retry_interval, offline_retry and
    /// offline_retry_interval are used unless [builder] sets them.
    #[arg(long = "kojid-config", value_name = "FILE")]
    pub kojid_config: Option<PathBuf>,
}

impl ConfigArgs {
    /// The builder.conf files to read: those given, else the defaults.
    pub fn files(&self) -> Vec<PathBuf> {
        if self.config.is_empty() {
            DEFAULT_CONFIG_FILES.iter().map(PathBuf::from).collect()
        } else {
            self.config.clone()
        }
    }

    /// The settings these files give. The default builder.conf files may
    /// be missing (upstream's `configparser.read`); a file given with
    /// `--config` or `--kojid-config` must exist and be readable, so a
    /// typo is named as such rather than as a key the file would have set.
    pub fn load(&self) -> Result<Settings, ConfigError> {
        for path in &self.config {
            config::check_given(path, "--config")?;
        }
        Settings::load(&self.files(), self.kojid_config.as_deref())
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check this builder host's setup
    ///
    /// Reads builder.conf (and kojid.conf) as the daemon does and checks
    /// it, the certificates and their expiry, composer's TLS, authentication
    /// and API, the hub, the host's login and channel, and the hub plugin.
    /// One line per check; exit status 1 if any failed.
    #[command(
        after_help = "Safe on a running builder host: it logs in as the host without taking \
                      the host's exclusive session, and logs out again.\n\n\
                      Example: koji-osbuild-builder doctor --config /etc/koji-osbuild/builder.conf"
    )]
    Doctor(ConfigArgs),
    /// Create a compose in osbuild-composer directly, without Koji tasks, and
    /// wait for it (upstream's stand-alone `compose`)
    Compose(Box<ComposeArgs>),
    /// Show the status of a compose (upstream's stand-alone `status`)
    ComposeStatus(ComposeIdArgs),
    /// Wait for a compose to finish and show it (upstream's stand-alone `wait`)
    ComposeWait(ComposeIdArgs),
    /// Run one osbuildImage task for kojid's osbuild plugin, on the task
    /// session kojid hands over
    ///
    /// The kojid plugin (/usr/lib/koji-builder-plugins/osbuild.py) runs this
    /// for each osbuildImage task kojid takes: the same handler as the
    /// daemon's, with builder.conf (and kojid.conf) read as the daemon reads
    /// them. kojid closes or fails the task with what it prints, runs the
    /// tagBuild subtask, and stops it on cancel or shutdown: a canceled
    /// task's compose is canceled in composer, a freed task's is left
    /// running for the task's next run.
    RunTask(crate::run_task::RunTaskArgs),
}

/// How to reach composer: upstream's stand-alone client options, on top of
/// a builder.conf when one is given. No Koji configuration is read.
#[derive(Debug, Clone, Args)]
pub struct ComposerArgs {
    /// A builder.conf to take composer's settings and [koji] server from
    /// (none is read unless given)
    #[arg(long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Base URL of osbuild-composer (the API is below
    /// /api/image-builder-composer/v2/) [default: builder.conf's
    /// [composer] server; one of the two is required]
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,

    /// Composer's client certificate: "CERT, KEY" or one combined PEM file
    /// [default: builder.conf's ssl_cert]
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,

    /// CA certificate(s) to verify composer with (PEM file or directory)
    /// [default: builder.conf's ssl_verify, else the system CAs]
    #[arg(long, value_name = "CA")]
    pub ca: Option<PathBuf>,

    /// Retries of a request that could not reach composer or got a 5xx, with
    /// growing pauses (0.3 s backoff factor, up to 2 min) [default: 15, as
    /// upstream]. TLS failures are retried too, so 0 shows them at once
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,

    /// Seconds between status polls [default: 2]
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub poll_interval: Option<Duration>,
}

/// upstream's stand-alone `compose NAME VERSION RELEASE DISTRO ARCH...`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example: koji-osbuild-builder compose --url https://composer.example.com \
                  --cert 'client.crt, client.key' --koji https://koji.example.com/kojihub \
                  demo 42 1 fedora-42 x86_64"
)]
pub struct ComposeArgs {
    /// The name (of the Koji build composer imports)
    pub name: String,
    /// The version
    pub version: String,
    /// The release
    pub release: String,
    /// The distribution, e.g. fedora-42
    pub distro: String,
    /// Architectures to build for
    #[arg(required = true, value_name = "ARCH")]
    pub arch: Vec<String>,

    /// A repository to install RPMs from (repeatable)
    #[arg(long, value_name = "URL")]
    pub repo: Vec<String>,

    /// Image type; legacy names (qcow2, ec2, ec2-ha, ec2-sap) are mapped
    #[arg(long, value_name = "TYPE", default_value = "guest-image")]
    pub format: String,

    /// The Koji hub composer imports the build into [default: builder.conf's
    /// [koji] server, else https://localhost/kojihub]
    #[arg(long, value_name = "URL")]
    pub koji: Option<String>,

    #[command(flatten)]
    pub composer: ComposerArgs,
}

#[derive(Debug, Args)]
pub struct ComposeIdArgs {
    /// The compose id
    #[arg(value_name = "COMPOSE_ID")]
    pub id: String,

    #[command(flatten)]
    pub composer: ComposerArgs,
}

/// Seconds, fractions allowed (`0.5`), for `--poll-interval`.
fn parse_seconds(value: &str) -> Result<Duration, String> {
    let secs: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("'{value}' is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("'{value}' is not a non-negative number of seconds"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn daemon_flags_and_doctor_take_the_same_files() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "koji-osbuild-builder",
            "--config",
            "/a.conf",
            "--config",
            "/b.conf",
            "--kojid-config",
            "/etc/kojid/kojid.conf",
            "--check-config",
        ])
        .unwrap();
        assert!(cli.check_config && cli.command.is_none());
        assert_eq!(
            cli.config.files(),
            [PathBuf::from("/a.conf"), "/b.conf".into()]
        );
        assert_eq!(
            cli.config.kojid_config,
            Some("/etc/kojid/kojid.conf".into())
        );

        let cli = Cli::try_parse_from(["koji-osbuild-builder"]).unwrap();
        assert_eq!(
            cli.config.files(),
            [
                PathBuf::from("/usr/share/koji-osbuild/builder.conf"),
                PathBuf::from("/etc/koji-osbuild/builder.conf"),
            ]
        );

        let cli =
            Cli::try_parse_from(["koji-osbuild-builder", "doctor", "--config", "/a.conf"]).unwrap();
        let Some(Command::Doctor(args)) = cli.command else {
            panic!("{cli:?}")
        };
        assert_eq!(args.files(), [PathBuf::from("/a.conf")]);
        // The daemon's options do not go with a subcommand.
        let err =
            Cli::try_parse_from(["koji-osbuild-builder", "--check-config", "doctor"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }
}
