//! A fresh machine: `make test` and `make stack` first check what they
//! need (scripts/prereqs) and name each missing thing with the command that
//! installs it; the RPM checks are skipped, saying so, where rpmbuild is
//! missing, unless KOJI_OSBUILD_NO_SKIP=1 (CI) makes that a failure.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

/// A PATH of its own: the real tools the scripts run, and stand-ins that
/// answer for everything else, minus `without`.
fn machine(without: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for real in ["bash", "dirname", "cmp", "python3", "sed", "head", "ls"] {
        let path = which(real);
        std::os::unix::fs::symlink(path, dir.path().join(real)).expect("symlink");
    }
    for (name, script) in [
        ("cargo", "#!/bin/sh\nexit 0\n"),
        ("openssl", "#!/bin/sh\nexit 0\n"),
        ("groff", "#!/bin/sh\nexit 0\n"),
        ("krb5-config", "#!/bin/sh\nexit 0\n"),
        ("krb5kdc", "#!/bin/sh\nexit 0\n"),
        ("kdb5_util", "#!/bin/sh\nexit 0\n"),
        ("kadmin.local", "#!/bin/sh\nexit 0\n"),
        ("kinit", "#!/bin/sh\nexit 0\n"),
    ] {
        if !without.contains(&name) {
            write_script(&dir.path().join(name), script);
        }
    }
    dir
}

/// The system's own `name` (not a virtualenv's python3).
fn which(name: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", &format!("PATH=/usr/bin:/bin command -v {name}")])
        .output()
        .expect("sh");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_string()
}

fn write_script(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn run(script: &str, args: &[&str], path: &Path, env: &[(&str, &str)]) -> Output {
    Command::new(e2e::repo_root().join(script))
        .args(args)
        .env("PATH", path)
        // CI sets it for the whole run; each case says whether it wants it.
        .env_remove("KOJI_OSBUILD_NO_SKIP")
        .envs(env.iter().copied())
        .output()
        .expect("run the script")
}

fn stderr_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn prerequisites_present_say_nothing() {
    let dir = machine(&[]);
    let out = run("scripts/prereqs", &["test"], dir.path(), &[]);
    assert!(out.status.success(), "{out:#?}");
    assert!(out.stderr.is_empty() && out.stdout.is_empty(), "{out:#?}");
}

#[test]
fn each_missing_prerequisite_is_one_line_with_its_install_command() {
    let dir = machine(&["openssl", "groff"]);
    // cargo is there, but without the nextest subcommand
    write_script(
        &dir.path().join("cargo"),
        "#!/bin/sh\n[ \"$1\" = nextest ] && exit 101\nexit 0\n",
    );
    let out = run("scripts/prereqs", &["test"], dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{out:#?}");
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert_eq!(
        lines[0],
        "make test: missing cargo-nextest: cargo install --locked cargo-nextest"
    );
    assert!(lines[1].starts_with("make test: missing openssl") && lines[1].contains("openssl"));
    assert!(lines[2].starts_with("make test: missing groff") && lines[2].contains("groff-base"));

    // The stack needs none of the test tools.
    let out = run("scripts/prereqs", &["stack"], dir.path(), &[]);
    assert!(out.status.success(), "{out:#?}");
}

#[test]
fn rust_missing_names_rustup() {
    let dir = machine(&["cargo"]);
    let out = run("scripts/prereqs", &["stack"], dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{out:#?}");
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0]
            .starts_with("make stack: missing Rust (cargo, 1.85 or later): install it with rustup"),
        "{lines:#?}"
    );
}

#[test]
fn rpm_checks_without_rpmbuild_are_skipped_except_on_ci() {
    let dir = machine(&[]);
    let out = run("packaging/check-rpms", &[], dir.path(), &[]);
    assert!(out.status.success(), "{out:#?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("SKIPPED: the RPM checks: rpmbuild is not installed"),
        "{stdout}"
    );

    let out = run(
        "packaging/check-rpms",
        &[],
        dir.path(),
        &[("KOJI_OSBUILD_NO_SKIP", "1")],
    );
    assert_eq!(out.status.code(), Some(1), "{out:#?}");
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].starts_with("check-rpms: FAIL: rpmbuild"),
        "{lines:#?}"
    );
}
