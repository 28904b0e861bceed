//! Helpers for the end-to-end tests: they start the test hub (and, later,
//! the composer simulator and the builder) as separate processes on free
//! loopback ports, generate TLS material, run the real binaries and the real
//! `koji` CLI, and tear everything down when dropped.

pub mod builder;
pub mod certs;
pub mod hub;
pub mod proxy;
pub mod run;
pub mod sim;

use std::path::PathBuf;

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
