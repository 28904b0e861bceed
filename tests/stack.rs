//! The README's first command, run as a newcomer would: `scripts/stack
//! --once` builds an image through the whole local stack (test hub,
//! composer simulator, builder, CLI) and shows what Koji then has.

use std::process::Command;

#[test]
fn the_local_stack_builds_and_tags_an_image() {
    let out = Command::new(e2e::repo_root().join("scripts/stack"))
        .arg("--once")
        .env("KOJI_OSBUILD_PYTHON", e2e::python())
        .output()
        .expect("run scripts/stack");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stack failed:\n{stdout}\n{stderr}");

    for line in [
        "Created task: 1",
        "1 osbuildImage (noarch) completed successfully",
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
    let result = stdout
        .lines()
        .find(|l| l.starts_with("{'composer': {'server': 'http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no task result line in:\n{stdout}"));
    assert!(result.ends_with("'koji': {'build': 1}}"), "{result}");
}
