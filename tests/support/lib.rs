//! Helpers for the end-to-end tests: they start the test hub (and, later,
//! the composer simulator and the builder) as separate processes on free
//! loopback ports, generate TLS material, run the real binaries and the real
//! `koji` CLI, and tear everything down when dropped.

pub mod builder;
pub mod certs;
pub mod hub;
pub mod kdc;
pub mod proxy;
pub mod run;
pub mod sim;
pub mod tasks;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Child;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The repository root (this crate lives in `<root>/tests`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent directory")
        .to_path_buf()
}

/// The Python of the project's venv (`scripts/setup-venv`), which has the
/// `koji` package the test hub and the `koji` CLI run on.
pub fn python() -> PathBuf {
    std::env::var_os("KOJI_OSBUILD_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"))
}

/// A binary of this workspace, built by `cargo build --workspace --bins`
/// (scripts/test does that before running the tests).
pub fn workspace_bin(name: &str) -> PathBuf {
    // Test executables live in target/<profile>/deps; binaries one level up.
    let exe = std::env::current_exe().expect("current test executable");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test executable is in target/<profile>/deps");
    let bin = profile_dir.join(name);
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --workspace --bins` first",
        bin.display()
    );
    bin
}

/// Read a service's stdout until it prints `READY`, the start-up handshake
/// of the test hub and the composer simulator (`KEY=value` lines, then
/// `READY`). `Err` carries what it printed when it did not get there in time.
pub fn read_until_ready(child: &mut Child, timeout: Duration) -> Result<Vec<String>, Vec<String>> {
    let stdout = child.stdout.take().expect("the service's stdout is piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + timeout;
    let mut lines = Vec::new();
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) if line == "READY" => return Ok(lines),
            Ok(line) => lines.push(line),
            Err(_) => return Err(lines),
        }
    }
}

/// The value of the `KEY=value` line a service printed.
pub fn printed(lines: &[String], key: &str) -> Option<String> {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(str::to_owned)
}
