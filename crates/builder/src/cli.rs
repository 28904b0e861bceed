//! The daemon's command line, in the library so that the man page
//! generator (xtask) reads the same definitions as the binary.

use std::path::PathBuf;

use clap::Parser;

/// Koji builder host for osbuildImage tasks (osbuild-composer)
///
/// Logs in to the Koji hub as a builder host, as kojid does, takes the
/// osbuildImage tasks of the image channel (and their tagBuild subtasks),
/// runs each as a compose in osbuild-composer, attaches the request,
/// status, logs and manifests to the task, and tags the build. SIGTERM
/// frees the running tasks and logs out; SIGHUP reloads the configuration.
#[derive(Debug, Parser)]
#[command(name = "koji-osbuild-builder", version)]
pub struct Cli {
    /// builder.conf to read instead of /usr/share/koji-osbuild/builder.conf
    /// and /etc/koji-osbuild/builder.conf (repeatable; later files win).
    #[arg(long = "config", value_name = "FILE")]
    pub config: Vec<PathBuf>,
    /// A kojid.conf whose [kojid] server, topurl, user, password, cert, key,
    /// serverca, sleeptime, maxjobs, max_retries, retry_interval,
    /// offline_retry and offline_retry_interval are used unless [builder]
    /// sets them.
    #[arg(long = "kojid-config", value_name = "FILE")]
    pub kojid_config: Option<PathBuf>,
    /// Check the configuration and exit.
    #[arg(long)]
    pub check_config: bool,
}
