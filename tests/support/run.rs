//! Running the real command-line programs: `koji-osbuild`, the builder's
//! tools and the `koji` CLI (from the venv, with our plugin), each with a
//! private HOME so that no koji configuration of the machine leaks into a
//! test.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::{python, repo_root, workspace_bin};

/// The result of running a program.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn stdout_lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// Assert success, showing both streams when it was not.
    pub fn success(self) -> Output {
        assert_eq!(self.code, 0, "command failed: {self:#?}");
        self
    }

    /// The task id from the `Created task: N` line both CLIs print.
    pub fn created_task(&self) -> i64 {
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix("Created task: "))
            .unwrap_or_else(|| panic!("no 'Created task' line: {self:#?}"))
            .parse()
            .expect("task id")
    }

    /// Assert failure with exactly one line on stderr, and return it.
    pub fn one_line_error(&self) -> &str {
        assert_ne!(self.code, 0, "command unexpectedly succeeded: {self:#?}");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "expected one error line: {self:#?}");
        lines[0]
    }
}

/// A user's home directory with a koji configuration.
pub struct Home {
    dir: tempfile::TempDir,
    /// Extra environment for every program run (a test KDC's
    /// `KRB5_CONFIG`, a `KRB5CCNAME`).
    env: Vec<(String, String)>,
}

impl Default for Home {
    fn default() -> Self {
        Home::new()
    }
}

impl Home {
    pub fn new() -> Home {
        let dir = tempfile::tempdir().expect("temp home");
        std::fs::create_dir_all(dir.path().join(".koji")).expect("create ~/.koji");
        Home {
            dir,
            env: Vec::new(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Sets `key` for every program this home runs.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.to_string()));
    }

    /// Write `~/.koji/config` (read by both koji-osbuild and the koji CLI).
    /// `plugin_paths` is added to every section so that the koji CLI finds
    /// our plugin in the source tree.
    pub fn koji_config(&self, body: &str) -> PathBuf {
        let plugins = repo_root().join("plugins/cli");
        let mut text = String::new();
        for line in body.lines() {
            text.push_str(line);
            text.push('\n');
            if line.trim_start().starts_with('[') {
                text.push_str(&format!("plugin_paths = {}\n", plugins.display()));
            }
        }
        let path = self.path().join(".koji/config");
        std::fs::write(&path, text).expect("write koji config");
        path
    }

    /// Write a file into this home (customizations, upload options, ...).
    pub fn file(&self, name: &str, content: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, content).expect("write file");
        path
    }

    /// Run `koji-osbuild ARGS`.
    pub async fn koji_osbuild(&self, args: &[&str]) -> Output {
        self.run(workspace_bin("koji-osbuild"), &[], args).await
    }

    /// Run `koji-osbuild-builder ARGS`: its doctor and compose commands.
    pub async fn koji_osbuild_builder(&self, args: &[&str]) -> Output {
        self.run(workspace_bin("koji-osbuild-builder"), &[], args)
            .await
    }

    /// Run the real `koji` CLI with our plugin (`koji ARGS`).
    pub async fn koji(&self, args: &[&str]) -> Output {
        let koji = python().with_file_name("koji");
        self.run(koji, &[], args).await
    }

    async fn run(&self, program: PathBuf, pre: &[&str], args: &[&str]) -> Output {
        let out = tokio::process::Command::new(&program)
            .args(pre)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path())
            .env("LANG", "C.UTF-8")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.path())
            .stdin(Stdio::null())
            .output()
            .await
            .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}
