//! Command line: the koji CLI's global options and upstream's
//! `koji osbuild-image` options, as clap definitions.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "koji-osbuild",
    version,
    about = "Build OS images with osbuild-composer through Koji",
    long_about = "Build OS images with osbuild-composer through Koji.\n\n\
                  Global options and their defaults come from the koji client \
                  configuration (/etc/koji.conf, /etc/koji.conf.d/*.conf, \
                  ~/.koji/config.d/*.conf, ~/.koji/config), section --profile; \
                  options given here override it."
)]
pub struct Cli {
    #[command(flatten, next_help_heading = "Global options (also after the command)")]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// The koji CLI's global options this client understands.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Configuration profile (section of the koji config files)
    #[arg(short = 'p', long, global = true, value_name = "PROFILE")]
    pub profile: Option<String>,

    /// Load the profile's settings from this file instead of ~/.koji/config{,.d}
    #[arg(short = 'c', long = "config", global = true, value_name = "FILE")]
    pub config_file: Option<PathBuf>,

    /// URL of the Koji hub (XML-RPC server)
    #[arg(short = 's', long, global = true, value_name = "URL")]
    pub server: Option<String>,

    /// URL of the Koji web interface
    #[arg(long, global = true, value_name = "URL")]
    pub weburl: Option<String>,

    /// Force a type of authentication
    #[arg(long, global = true, value_enum, value_name = "TYPE")]
    pub authtype: Option<AuthType>,

    /// User name for password authentication
    #[arg(long, global = true)]
    pub user: Option<String>,

    /// Password for password authentication
    #[arg(long, global = true, hide_env_values = true)]
    pub password: Option<String>,

    /// SSL client certificate (PEM, with its key) for ssl authentication
    #[arg(long, global = true, value_name = "FILE")]
    pub cert: Option<PathBuf>,

    /// Kerberos principal to log in as (authtype kerberos) [default: the
    /// ticket cache's]
    #[arg(long, global = true, value_name = "PRINCIPAL")]
    pub principal: Option<String>,

    /// Kerberos keytab holding the key of --principal: log in without kinit
    #[arg(long, global = true, value_name = "FILE")]
    pub keytab: Option<PathBuf>,

    /// CA certificate(s) to verify the hub with
    #[arg(long, global = true, value_name = "FILE")]
    pub serverca: Option<PathBuf>,

    /// Do not authenticate
    #[arg(long, global = true)]
    pub noauth: bool,

    /// Run quietly
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,

    /// Seconds between task state polls [default: config poll_interval, else 6]
    #[arg(long, global = true, value_name = "SECONDS", value_parser = parse_seconds)]
    pub poll_interval: Option<Duration>,

    /// Show the whole chain of causes of an error, and debug logs
    #[arg(short = 'v', long, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthType {
    Noauth,
    Ssl,
    Password,
    /// Kerberos (GSSAPI): a ticket from kinit, or --principal with --keytab
    #[value(alias = "gssapi")]
    Kerberos,
}

impl AuthType {
    /// The value as written in koji.conf and on the command line.
    pub fn from_config(value: &str) -> Option<AuthType> {
        AuthType::from_str(value, true).ok()
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build images via osbuild (= `koji osbuild-image`)
    Image(Box<ImageArgs>),
    /// Follow tasks to the end: state, builder host, compose progress, and
    /// the build and its tags
    #[command(alias = "watch-task", alias = "watch-tasks")]
    Watch(WatchArgs),
    /// Check a user's setup for `image`
    ///
    /// The koji profile (global options and koji config, as for `image`),
    /// the hub, the login, the image permission and the hub plugin. One
    /// line per check; exit status 1 if any failed. A builder host's setup
    /// is checked by `koji-osbuild-builder doctor`.
    Doctor(DoctorArgs),
}

/// `koji-osbuild doctor`. The builder host's checks moved to
/// `koji-osbuild-builder doctor`; their options are still accepted here
/// (hidden) only to say so.
#[derive(Debug, Args)]
#[command(after_help = "Example: koji-osbuild --profile stg doctor")]
pub struct DoctorArgs {
    #[arg(long = "builder-config", value_name = "FILE", hide = true)]
    pub builder_config: Vec<PathBuf>,

    #[arg(long = "kojid-config", value_name = "FILE", hide = true)]
    pub kojid_config: Option<PathBuf>,

    /// What doctor always checks now; accepted so that scripts keep working
    #[arg(long, hide = true)]
    pub client: bool,
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

/// `koji osbuild-image`: upstream's options, plus `--priority`.
#[derive(Debug, Args)]
#[command(
    override_usage = "koji-osbuild image [OPTIONS] <NAME> <VERSION> <DISTRO> <TARGET> <ARCH>...",
    after_help = "Example: koji-osbuild image --repo https://example.com/repo \
                  --repo-package-sets 'build; os' demo 42 fedora-42 fedora42-candidate x86_64"
)]
pub struct ImageArgs {
    /// Image name (the name of the build)
    pub name: String,
    /// Image version
    pub version: String,
    /// Distribution, e.g. fedora-42
    pub distro: String,
    /// Build target
    pub target: String,
    /// Architectures to build for
    #[arg(required = true, value_name = "ARCH")]
    pub arch: Vec<String>,

    /// Additional customizations to pass to Composer (json file)
    #[arg(long, value_name = "FILE")]
    pub customizations: Option<PathBuf>,

    /// Cloud target upload options (json file)
    #[arg(long, value_name = "FILE")]
    pub upload_options: Option<PathBuf>,

    /// Don't wait on image creation
    #[arg(long, overrides_with = "wait")]
    pub nowait: bool,

    /// Wait on the image creation, even if running in the background
    #[arg(long, overrides_with = "nowait")]
    pub wait: bool,

    /// The OSTree commit parent for OSTree commit image types
    #[arg(long, value_name = "PARENT")]
    pub ostree_parent: Option<String>,

    /// The OSTree commit ref for OSTree commit image types
    #[arg(long, value_name = "REF")]
    pub ostree_ref: Option<String>,

    /// URL to the OSTree repo for OSTree commit image types
    #[arg(long, value_name = "URL")]
    pub ostree_url: Option<String>,

    /// Forcibly set the release field
    #[arg(long)]
    pub release: Option<String>,

    /// Specify a repo that will override the repo used to install RPMs in the
    /// image. May be used multiple times. The build tag repo associated with
    /// the target is the default.
    #[arg(long, value_name = "URL")]
    pub repo: Vec<String>,

    /// Specify the package sets for the last repository. Individual set items
    /// are separated by ';'. Maybe be used multiple times
    #[arg(long, value_name = "SETS")]
    pub repo_package_sets: Vec<String>,

    /// Request an image-type
    #[arg(long, value_name = "TYPE", default_value = "guest-image")]
    pub image_type: String,

    /// Do not attempt to tag package
    #[arg(long)]
    pub skip_tag: bool,

    /// Task priority relative to the default (negative is higher; admins only)
    #[arg(long, allow_negative_numbers = true, value_name = "N")]
    pub priority: Option<i64>,

    /// Print one JSON object per line for programs instead of text: the
    /// created task (`{"task_id", "url"}`), and with waiting, the watch
    /// events and the task result
    #[arg(long)]
    pub json: bool,

    /// `--repo` and `--repo-package-sets` in command-line order (filled by
    /// [`parse_from`]): the meaning of a package set depends on the repo
    /// before it.
    #[arg(skip)]
    pub repo_args: Vec<RepoArg>,
}

impl ImageArgs {
    /// `--wait`/`--nowait`: the last one given wins, as with optparse.
    pub fn wait(&self) -> Option<bool> {
        match (self.wait, self.nowait) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoArg {
    Repo(String),
    PackageSets(String),
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Tasks to watch
    #[arg(required = true, value_name = "TASK_ID")]
    pub task_ids: Vec<i64>,

    /// Print one JSON object per line for programs instead of text
    #[arg(long)]
    pub json: bool,
}

/// Parse the command line. Usage errors come back as clap errors (exit 2).
pub fn parse_from<I, T>(argv: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let mut command = Cli::command();
    let matches = command.try_get_matches_from_mut(argv)?;
    let mut cli = Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut command))?;
    if let (Command::Image(image), Some(("image", sub))) = (&mut cli.command, matches.subcommand())
    {
        image.repo_args = repo_args_in_order(sub);
        if let Some(RepoArg::PackageSets(_)) = image.repo_args.first() {
            // optparse's OptionValueError in upstream's parse_repo_package_set.
            let mut image_cmd = command
                .find_subcommand_mut("image")
                .cloned()
                .unwrap_or_default();
            return Err(image_cmd.error(
                clap::error::ErrorKind::ArgumentConflict,
                "Need '--repo' for --repo-package-sets",
            ));
        }
    }
    Ok(cli)
}

fn repo_args_in_order(matches: &ArgMatches) -> Vec<RepoArg> {
    let mut indexed: Vec<(usize, RepoArg)> = Vec::new();
    for (id, make) in [
        ("repo", RepoArg::Repo as fn(String) -> RepoArg),
        ("repo_package_sets", RepoArg::PackageSets),
    ] {
        if let (Some(indices), Some(values)) =
            (matches.indices_of(id), matches.get_many::<String>(id))
        {
            indexed.extend(indices.zip(values).map(|(i, v)| (i, make(v.clone()))));
        }
    }
    indexed.sort_by_key(|(i, _)| *i);
    indexed.into_iter().map(|(_, arg)| arg).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(argv: &[&str]) -> ImageArgs {
        let mut full = vec!["koji-osbuild", "image"];
        full.extend_from_slice(argv);
        match parse_from(full).expect("parses").command {
            Command::Image(image) => *image,
            other => panic!("not an image command: {other:?}"),
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn missing_arch_is_a_usage_error() {
        // upstream test_basic_invocation: SystemExit(2) mentioning the command
        let err = parse_from([
            "koji-osbuild",
            "image",
            "name",
            "version",
            "distro",
            "target",
        ])
        .expect_err("an arch is required");
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("<ARCH>"), "{err}");
    }

    #[test]
    fn positionals_and_defaults() {
        let args = image(&["name", "version", "distro", "target", "arch1", "arch2"]);
        assert_eq!(args.name, "name");
        assert_eq!(args.version, "version");
        assert_eq!(args.distro, "distro");
        assert_eq!(args.target, "target");
        assert_eq!(args.arch, ["arch1", "arch2"]);
        assert_eq!(args.image_type, "guest-image");
        assert_eq!(args.wait(), None);
        assert!(!args.skip_tag);
    }

    #[test]
    fn options_may_come_between_positionals() {
        let args = image(&[
            "name",
            "--release",
            "r1",
            "version",
            "distro",
            "target",
            "a",
            "--skip-tag",
        ]);
        assert_eq!(args.release.as_deref(), Some("r1"));
        assert!(args.skip_tag);
        assert_eq!(args.arch, ["a"]);
    }

    #[test]
    fn last_of_wait_and_nowait_wins() {
        let base = ["n", "v", "d", "t", "a"];
        let with = |extra: &[&str]| {
            let mut argv = base.to_vec();
            argv.extend_from_slice(extra);
            image(&argv).wait()
        };
        assert_eq!(with(&["--wait"]), Some(true));
        assert_eq!(with(&["--nowait"]), Some(false));
        assert_eq!(with(&["--wait", "--nowait"]), Some(false));
        assert_eq!(with(&["--nowait", "--wait"]), Some(true));
    }

    #[test]
    fn repo_arguments_keep_their_order() {
        let args = image(&[
            "n",
            "v",
            "d",
            "t",
            "a",
            "--repo",
            "https://first.repo",
            "--repo-package-sets",
            "a; b; c",
            "--repo-package-sets",
            "d",
            "--repo",
            "https://second.repo",
            "--repo-package-sets",
            "alpha",
            "--repo",
            "https://third.repo",
        ]);
        assert_eq!(
            args.repo_args,
            [
                RepoArg::Repo("https://first.repo".into()),
                RepoArg::PackageSets("a; b; c".into()),
                RepoArg::PackageSets("d".into()),
                RepoArg::Repo("https://second.repo".into()),
                RepoArg::PackageSets("alpha".into()),
                RepoArg::Repo("https://third.repo".into()),
            ]
        );
    }

    #[test]
    fn package_sets_need_a_repo_before_them() {
        let err = parse_from([
            "koji-osbuild",
            "image",
            "n",
            "v",
            "d",
            "t",
            "a",
            "--repo-package-sets",
            "os",
            "--repo",
            "https://r",
        ])
        .expect_err("package sets before any repo");
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string()
                .contains("Need '--repo' for --repo-package-sets"),
            "{err}"
        );
    }

    #[test]
    fn priority_may_be_negative() {
        let args = image(&["n", "v", "d", "t", "a", "--priority", "-5"]);
        assert_eq!(args.priority, Some(-5));
    }

    #[test]
    fn global_options_before_and_after_the_command() {
        let cli = parse_from([
            "koji-osbuild",
            "--profile",
            "stg",
            "-q",
            "image",
            "n",
            "v",
            "d",
            "t",
            "a",
            "--server",
            "https://hub/kojihub",
            "--authtype",
            "ssl",
        ])
        .expect("parses");
        assert_eq!(cli.global.profile.as_deref(), Some("stg"));
        assert!(cli.global.quiet);
        assert_eq!(cli.global.server.as_deref(), Some("https://hub/kojihub"));
        assert_eq!(cli.global.authtype, Some(AuthType::Ssl));
    }

    #[test]
    fn doctor_still_parses_the_old_options() {
        for argv in [
            &["koji-osbuild", "doctor", "--client"][..],
            &[
                "koji-osbuild",
                "doctor",
                "--builder-config",
                "/a.conf",
                "--kojid-config",
                "/k",
            ],
        ] {
            match parse_from(argv).expect("parses").command {
                Command::Doctor(_) => {}
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn watch_task_alias() {
        for name in ["watch", "watch-task", "watch-tasks"] {
            let cli = parse_from(["koji-osbuild", name, "7", "8"]).expect("parses");
            match cli.command {
                Command::Watch(w) => assert_eq!(w.task_ids, [7, 8]),
                other => panic!("{other:?}"),
            }
        }
        let err = parse_from(["koji-osbuild", "watch", "x"]).expect_err("not a number");
        assert_eq!(err.exit_code(), 2);
    }
}
