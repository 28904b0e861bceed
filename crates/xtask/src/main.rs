//! `cargo xtask`: project tasks that are not part of any shipped binary.
//!
//! `cargo xtask dist-docs --out DIR` writes the man pages (DIR/man) and
//! the shell completions (DIR/completions/{bash,zsh,fish}) of
//! `koji-osbuild` and `koji-osbuild-builder`, generated from the same clap
//! definitions the binaries parse with, plus the hand-written
//! builder.conf(5). packaging/build-rpms and the spec run it; the RPMs
//! install what it writes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

mod completions;
mod man;
#[cfg(test)]
mod tests;

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "koji-osbuild project tasks")]
enum Task {
    /// Write the man pages into DIR/man and the bash, zsh and fish
    /// completions into DIR/completions/{bash,zsh,fish}, replacing what an
    /// earlier run left there
    DistDocs {
        /// Output directory (created if missing)
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    match Task::parse() {
        Task::DistDocs { out } => match dist_docs(&out) {
            Ok(files) => {
                for f in files {
                    println!("{}", f.display());
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("xtask dist-docs: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Write DIR/man and DIR/completions afresh; returns the files written.
fn dist_docs(out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let man_dir = out.join("man");
    let completions_dir = out.join("completions");
    // A page of a subcommand that no longer exists must not be packaged.
    for dir in [&man_dir, &completions_dir] {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove {}", dir.display())),
        }
    }
    let mut files = man::write_all(&man_dir)?;
    files.extend(completions::write_all(&completions_dir)?);
    Ok(files)
}

/// Write `bytes` to `path`, naming the path on failure.
fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path.to_path_buf())
}
