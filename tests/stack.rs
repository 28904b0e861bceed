//! The README's first command, run as a newcomer would: `scripts/stack
//! --once` builds an image through the whole local stack (test hub,
//! composer simulator, builder, CLI) and shows what Koji then has.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// scripts/stack on the tests' debug binaries (the README's command makes
/// and uses the release build).
fn stack() -> Command {
    let bin_dir = e2e::workspace_bin("koji-osbuild-builder");
    let mut command = Command::new(e2e::repo_root().join("scripts/stack"));
    command
        .env("KOJI_OSBUILD_PYTHON", e2e::python())
        .env("KOJI_OSBUILD_BIN_DIR", bin_dir.parent().expect("bin dir"));
    command
}

#[test]
fn the_local_stack_builds_and_tags_an_image() {
    let out = stack().arg("--once").output().expect("run scripts/stack");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stack failed:\n{stdout}\n{stderr}");

    for line in [
        "Created task: 1",
        "task 1:   CLOSED",
        "build:    demo-image-42-1 (id 1, COMPLETE)",
        "tagged:   fedora42-candidate has demo-image-42-1",
        "  compose-request.json",
        "  compose-status.json",
        "  koji-import.log.json",
        "  koji-init.log.json",
        "  x86_64-guest-image.log.json",
        "  x86_64-guest-image.manifest.json",
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "missing {line:?} in:\n{stdout}"
        );
    }
    // The watch shows the compose's progress, the tagBuild child and,
    // at the end, the build and where it went.
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines.iter().any(
            |l| l.starts_with("Task 1 osbuildImage demo-image-42: compose ")
                && l.ends_with("(x86_64 success)")
        ),
        "no compose progress in:\n{stdout}"
    );
    assert!(
        lines.contains(&"Task 2 tagBuild: closed on builder.local")
            || lines.contains(&"Task 2 tagBuild: open on builder.local"),
        "no tagBuild child in:\n{stdout}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with(
            "Task 1 osbuildImage demo-image-42: closed: build demo-image-42-1, \
             tagged into fedora42-candidate (compose "
        )),
        "no end line in:\n{stdout}"
    );
}

/// Ctrl-C on the running stack stops the builder first (it frees its tasks
/// and logs out while the hub still answers), then composer and the hub,
/// says so in one line, and leaves nothing running.
#[test]
fn ctrl_c_stops_the_builder_first_and_everything() {
    let mut child = stack()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run scripts/stack");
    let mut hub = None;
    for line in BufReader::new(child.stdout.take().expect("stdout")).lines() {
        let line = line.expect("stdout line");
        if let Some(url) = line.strip_prefix("hub:       ") {
            hub = Some(url.to_string());
        }
        if line == "Ctrl-C stops the stack." {
            break;
        }
    }
    let hub = hub.expect("the stack printed its hub URL");
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("the stack exits");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .lines()
            .any(|l| l == "stack: stopped builder, composer-sim, test hub"),
        "{stderr}"
    );
    // The hub's port no longer answers.
    let port = hub
        .rsplit(':')
        .next()
        .and_then(|p| p.split('/').next())
        .expect("port");
    assert!(
        std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err(),
        "the test hub still listens on {port}"
    );
}
