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
