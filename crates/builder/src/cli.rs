//! The daemon's command line, in the library so that the man page
//! generator (xtask) reads the same definitions as the binary.

use std::path::PathBuf;

use clap::Parser;

/// Koji builder host for osbuildImage tasks (osbuild-composer).
#[derive(Debug, Parser)]
#[command(name = "koji-osbuild-builder", version, about)]
pub struct Cli {
    /// builder.conf to read instead of /usr/share/koji-osbuild/builder.conf
    /// and /etc/koji-osbuild/builder.conf (repeatable; later files win).
    #[arg(long = "config", value_name = "FILE")]
    pub config: Vec<PathBuf>,
    /// A kojid.conf whose [kojid] server, topurl, user, password, cert,
    /// serverca, sleeptime and maxjobs are used unless [builder] sets them.
    #[arg(long = "kojid-config", value_name = "FILE")]
    pub kojid_config: Option<PathBuf>,
    /// Check the configuration and exit.
    #[arg(long)]
    pub check_config: bool,
}
