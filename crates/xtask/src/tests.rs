//! The generated docs cannot drift from the code: every subcommand has a
//! page, every page is lint-clean, and builder.conf(5) documents every key
//! the example configuration and the configuration code use.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use clap::{Command, CommandFactory};

use crate::{dist_docs, man};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The two binaries by the names they are installed as, with their clap
/// definitions.
fn binaries() -> [(&'static str, Command); 2] {
    [
        ("koji-osbuild", koji_osbuild::args::Cli::command()),
        ("koji-osbuild-builder", koji_osbuild_builder::Cli::command()),
    ]
}

/// Where bash, zsh and fish look up `name`'s completions, under their
/// directories in the output (the packaging installs them from there).
fn completion_files(name: &str) -> [String; 3] {
    [
        format!("bash/{name}"),
        format!("zsh/_{name}"),
        format!("fish/{name}.fish"),
    ]
}

/// `koji-osbuild-image.1`, `koji-osbuild-builder-doctor.8`, … for every
/// visible subcommand but clap's `help`, found by walking the clap tree here
/// rather than by asking the generator.
fn expected_pages(cmd: &Command, prefix: &str, section: &str, out: &mut Vec<String>) {
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        let name = format!("{prefix}-{}", sub.get_name());
        out.push(format!("{name}.{section}"));
        expected_pages(sub, &name, section, out);
    }
}

#[test]
fn every_command_and_subcommand_has_a_page_and_completions() {
    let dir = tempfile::tempdir().unwrap();
    // Something an earlier run left must go.
    std::fs::create_dir_all(dir.path().join("man")).unwrap();
    std::fs::write(dir.path().join("man/koji-osbuild-gone.1"), ".TH GONE 1\n").unwrap();
    let written = dist_docs(dir.path()).unwrap();

    let cli = koji_osbuild::args::Cli::command();
    let mut want = vec!["koji-osbuild.1".to_string()];
    expected_pages(&cli, "koji-osbuild", "1", &mut want);
    assert!(
        want.len() >= 4,
        "koji-osbuild has image, watch and doctor: {want:?}"
    );
    let builder = koji_osbuild_builder::Cli::command();
    want.push("koji-osbuild-builder.8".into());
    expected_pages(&builder, "koji-osbuild-builder", "8", &mut want);
    for sub in [
        "doctor",
        "compose",
        "compose-status",
        "compose-wait",
        "run-task",
    ] {
        let page = format!("koji-osbuild-builder-{sub}.8");
        assert!(want.contains(&page), "{page} expected: {want:?}");
    }
    want.push("builder.conf.5".into());

    let mut got: Vec<String> = std::fs::read_dir(dir.path().join("man"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "man pages written");

    for name in &want {
        let text = read(&dir.path().join("man").join(name));
        assert!(text.contains(".TH "), "{name} has no title: {text}");
        assert!(
            text.contains(&format!("koji-osbuild {}", env!("CARGO_PKG_VERSION")))
                && !text.contains("@VERSION@"),
            "{name} does not name the package version"
        );
        for heading in [".SH NAME", ".SH DESCRIPTION", ".SH \"SEE ALSO\""] {
            assert!(text.contains(heading), "{name} lacks {heading}");
        }
        if name.ends_with(".1") || name.ends_with(".8") {
            for heading in [
                ".SH SYNOPSIS",
                ".SH OPTIONS",
                ".SH FILES",
                ".SH \"EXIT STATUS\"",
            ] {
                assert!(text.contains(heading), "{name} lacks {heading}");
            }
        }
    }
    // Each binary's page points at every page of its subcommands.
    for (top, section) in [("koji-osbuild", "1"), ("koji-osbuild-builder", "8")] {
        let text = read(&dir.path().join(format!("man/{top}.{section}")));
        let suffix = format!(".{section}");
        for name in want
            .iter()
            .filter(|n| n.ends_with(&suffix) && n.starts_with(&format!("{top}-")))
        {
            let stem = name.trim_end_matches(&suffix).replace('-', "\\-");
            assert!(
                text.contains(&format!("\\fB{stem}\\fR({section})")),
                "{top}.{section} SEE ALSO lacks {name}"
            );
        }
    }

    // Completions: both binaries, for three shells, each naming the
    // subcommands.
    for (name, cmd) in binaries() {
        for file in completion_files(name) {
            let path = dir.path().join("completions").join(file);
            let text = read(&path);
            assert!(text.contains(name), "{}", path.display());
            for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
                assert!(
                    text.contains(sub.get_name()),
                    "{} lacks {}",
                    path.display(),
                    sub.get_name()
                );
            }
            assert!(written.contains(&path), "{} not reported", path.display());
        }
    }
}

/// `groff -man -ww -z`: every warning about the pages is a failure. Where
/// groff is missing the test says so, and fails on CI (.ci/run installs
/// groff-base).
#[test]
fn man_pages_are_lint_clean() {
    if Process::new("groff").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "groff is not installed; .ci/run must install groff-base"
        );
        eprintln!("SKIPPED: groff is not installed (Debian: apt-get install groff-base)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    dist_docs(dir.path()).unwrap();
    let mut checked = 0;
    for entry in std::fs::read_dir(dir.path().join("man")).unwrap() {
        let path = entry.unwrap().path();
        let out = Process::new("groff")
            .args(["-man", "-ww", "-z"])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.trim().is_empty(),
            "groff -man -ww -z {}:\n{stderr}",
            path.display()
        );
        checked += 1;
    }
    assert!(checked >= 8, "{checked} pages checked");
}

/// builder.conf(5)'s sections (`.SH "[name] SECTION"`) and the keys each
/// documents (`.TP` then `.B key`).
fn documented_keys() -> BTreeMap<String, BTreeSet<String>> {
    let mut sections: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut after_tp = false;
    for line in man::BUILDER_CONF_5.lines() {
        if let Some(heading) = line.strip_prefix(".SH ") {
            let heading = heading.trim_matches('"');
            current = heading
                .strip_suffix(" SECTION")
                .and_then(|h| h.strip_prefix('['))
                .and_then(|h| h.strip_suffix(']'))
                .map(str::to_string);
            if let Some(name) = &current {
                sections.entry(name.clone()).or_default();
            }
        } else if let (Some(name), true, Some(key)) = (&current, after_tp, line.strip_prefix(".B "))
        {
            sections
                .get_mut(name)
                .unwrap()
                .insert(key.trim().to_string());
        }
        after_tp = line == ".TP";
    }
    sections
}

#[test]
fn builder_conf_page_documents_the_example_configuration() {
    let documented = documented_keys();
    for section in ["composer", "composer:oauth", "koji", "builder"] {
        assert!(
            documented.contains_key(section),
            "builder.conf.5 has no [{section}] SECTION: {documented:?}"
        );
    }
    // packaging/builder.conf: `[section]` and `key = value`, commented out
    // or not.
    let example = read(&repo_root().join("packaging/builder.conf"));
    let mut section = String::new();
    let mut keys = 0;
    for line in example.lines() {
        let line = line.trim_start_matches('#').trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
            continue;
        }
        let Some((key, _)) = line.split_once(" =").or_else(|| line.split_once('=')) else {
            continue;
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            continue;
        }
        keys += 1;
        assert!(
            documented.get(&section).is_some_and(|k| k.contains(key)),
            "packaging/builder.conf has [{section}] {key}, builder.conf.5 does not document it"
        );
    }
    assert!(
        keys >= 15,
        "only {keys} keys found in packaging/builder.conf"
    );
}

/// String literals passed as arguments (`("key"` or `, "key"`) in the
/// non-test part of a source file that look like configuration keys.
fn key_literals(source: &str) -> BTreeSet<String> {
    let code = source.split("#[cfg(test)]").next().unwrap_or(source);
    let mut keys = BTreeSet::new();
    for opener in ["(\"", ", \""] {
        for (i, _) in code.match_indices(opener) {
            let rest = &code[i + opener.len()..];
            let Some(end) = rest.find('"') else { continue };
            let word = &rest[..end];
            if !word.is_empty() && word.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                keys.insert(word.to_string());
            }
        }
    }
    keys
}

#[test]
fn builder_conf_page_documents_every_key_the_code_reads() {
    let documented = documented_keys();
    let all: BTreeSet<&String> = documented.values().flatten().collect();

    // The one module that reads builder.conf: [composer], [composer:oauth],
    // [koji], and [builder] with its [kojid] fallbacks. `maxjobs` is
    // kojid's name for capacity, documented in the [kojid] section's text.
    let mut keys = key_literals(&read(&repo_root().join("crates/builder/src/config.rs")));
    // Section names are literals too.
    keys.retain(|k| !documented.contains_key(k));
    for key in [
        "server",
        "ssl_cert",
        "ssl_verify",
        "proxy",
        "client_id",
        "client_secret",
        "token_url",
        "topurl",
        "sleeptime",
        "capacity",
        "force_exclusive",
        "cert",
        "compose_timeout",
        "metrics_listen",
    ] {
        assert!(keys.contains(key), "scanner missed {key}: {keys:?}");
    }
    for key in &keys {
        if key == "maxjobs" {
            assert!(man::BUILDER_CONF_5.contains("\\fBmaxjobs\\fR"));
            continue;
        }
        assert!(
            all.contains(key),
            "crates/builder/src/config.rs reads '{key}', builder.conf.5 does not document it"
        );
    }
    // Keys only the host reads are documented in [builder].
    let upstream: BTreeSet<&String> = ["composer", "composer:oauth", "koji"]
        .iter()
        .flat_map(|s| &documented[*s])
        .collect();
    for key in keys
        .iter()
        .filter(|k| !upstream.contains(k) && *k != "maxjobs")
    {
        assert!(
            documented["builder"].contains(key),
            "crates/builder/src/config.rs reads '{key}', builder.conf.5's [builder] SECTION \
             does not document it"
        );
    }
}

/// The bash completion, loaded into bash, offers every subcommand after
/// `koji-osbuild ` and the options of a subcommand after `image --`.
#[test]
fn bash_completion_completes_subcommands_and_options() {
    let dir = tempfile::tempdir().unwrap();
    dist_docs(dir.path()).unwrap();
    let script = dir.path().join("completions/bash/koji-osbuild");
    let complete = |words: &[&str]| -> BTreeSet<String> {
        let line = words.join(" ");
        let program = format!(
            "source \"$0\"\n\
             f=$(complete -p koji-osbuild | sed -E 's/.*-F ([^ ]+).*/\\1/')\n\
             COMP_WORDS=({words})\n\
             COMP_CWORD={cword}\n\
             COMP_LINE={line:?}\n\
             COMP_POINT=${{#COMP_LINE}}\n\
             \"$f\" koji-osbuild {last:?} {prev:?}\n\
             printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
            words = words
                .iter()
                .map(|w| format!("{w:?}"))
                .collect::<Vec<_>>()
                .join(" "),
            cword = words.len() - 1,
            last = words[words.len() - 1],
            prev = words[words.len() - 2],
        );
        let out = Process::new("bash")
            .arg("-c")
            .arg(&program)
            .arg(&script)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    };

    let offered = complete(&["koji-osbuild", ""]);
    let cli = koji_osbuild::args::Cli::command();
    for sub in cli.get_subcommands().filter(|s| !s.is_hide_set()) {
        assert!(
            offered.contains(sub.get_name()),
            "koji-osbuild <TAB> lacks {}: {offered:?}",
            sub.get_name()
        );
    }
    let offered = complete(&["koji-osbuild", "image", "--"]);
    for option in ["--repo", "--image-type", "--wait", "--profile"] {
        assert!(
            offered.contains(option),
            "image --<TAB> lacks {option}: {offered:?}"
        );
    }
}

/// zsh and fish load their scripts (zsh -n, fish --no-execute), and fish
/// completes the subcommands and a subcommand's options. Skipped, saying
/// so, where the shell is not installed (.ci/run installs both).
#[test]
fn zsh_and_fish_completions_load() {
    let dir = tempfile::tempdir().unwrap();
    dist_docs(dir.path()).unwrap();
    let installed = |shell: &str| {
        let present = Process::new(shell).arg("--version").output().is_ok();
        if !present {
            assert!(
                std::env::var_os("CI").is_none(),
                "{shell} is not installed; .ci/run must install it"
            );
            eprintln!("SKIPPED: {shell} completions: {shell} is not installed");
        }
        present
    };
    let run = |shell: &str, args: &[&str]| -> String {
        let out = Process::new(shell).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{shell} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for (name, cmd) in binaries() {
        let [_, zsh, fish] = completion_files(name).map(|file| {
            dir.path()
                .join("completions")
                .join(file)
                .to_string_lossy()
                .into_owned()
        });
        if installed("zsh") {
            run("zsh", &["-n", &zsh]);
        }
        if installed("fish") {
            let script = fish;
            run("fish", &["--no-execute", &script]);
            let offered = run(
                "fish",
                &["-c", &format!("source {script:?}; complete -C '{name} '")],
            );
            for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
                assert!(
                    offered
                        .lines()
                        .any(|l| l.split('\t').next() == Some(sub.get_name())),
                    "fish: {name} <TAB> lacks {}: {offered}",
                    sub.get_name()
                );
            }
            if name == "koji-osbuild" {
                let offered = run(
                    "fish",
                    &[
                        "-c",
                        &format!("source {script:?}; complete -C '{name} image --re'"),
                    ],
                );
                assert!(
                    offered.contains("--repo\t"),
                    "fish: image --re<TAB>: {offered}"
                );
            }
        }
    }
}
