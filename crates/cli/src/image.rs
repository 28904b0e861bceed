//! `koji-osbuild image`: upstream's `handle_osbuild_image`, step by step.
//!
//! Build the opts exactly as upstream does, check them against the
//! osbuildImage schema, check the build target and its destination tag,
//! print the summary (with Python's pprint), log in, submit, print
//! `Created task: N` and `Task info: URL`, then (unless told not to, or
//! running in the background) log out, watch the task like `koji
//! watch-task` and print its result as Python's `print(result)` would.

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value as Json};

use crate::args::{ImageArgs, RepoArg};
use crate::hub::{fault_class_name, Hub, HubError, ImageCall};
use crate::pyfmt::{self, PyValue};
use crate::watch::{self, WatchOptions};

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{flag} {}: cannot read the file: {}", .path.display(), io_reason(.source))]
    ReadFile {
        flag: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{flag} {}: not valid JSON: {source}", .path.display())]
    Json {
        flag: &'static str,
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(transparent)]
    Invalid(#[from] osbuild_task::ValidationError),
    #[error("Unknown build target: {0}")]
    UnknownTarget(String),
    #[error("Unknown destination tag: {0}")]
    UnknownDestinationTag(String),
    #[error("{}", hub_line(.call, .source))]
    Hub {
        call: &'static str,
        source: HubError,
    },
    #[error(transparent)]
    Watch(#[from] watch::WatchError),
    #[error("cannot write to standard output: {0}")]
    Output(#[from] std::io::Error),
}

/// A hub fault reads like the koji CLI shows it (`ActionNotAllowed: image
/// permission required ...`); anything else names the call that failed.
fn hub_line(call: &str, err: &HubError) -> String {
    match err {
        HubError::Fault { code, message } => {
            format!("{}: {}", fault_class_name(*code), message.trim())
        }
        HubError::Other(other) => format!("{call} failed: {other}"),
    }
}

/// An io::Error's reason without Rust's " (os error N)" suffix.
pub fn io_reason(err: &std::io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error ") {
        Some(pos) => text[..pos].to_string(),
        None => text,
    }
}

/// What `image` needs besides its own arguments.
pub struct ImageContext<'a> {
    pub quiet: bool,
    pub weburl: &'a str,
    pub watch: WatchOptions,
    /// upstream's `_running_in_bg()`.
    pub running_in_background: bool,
}

/// The opts argument of osbuildImage, built as upstream's plugin builds it
/// (same keys, same order, same repo rules).
pub fn build_opts(args: &ImageArgs) -> Result<Map<String, Json>, ImageError> {
    let mut opts = Map::new();
    if let Some(release) = args.release.as_deref().filter(|r| !r.is_empty()) {
        opts.insert("release".into(), json!(release));
    }
    let repo = repos(&args.repo_args);
    if !repo.is_empty() {
        opts.insert("repo".into(), Json::Array(repo));
    }
    if args.skip_tag {
        opts.insert("skip_tag".into(), json!(true));
    }
    let mut ostree = Map::new();
    for (key, value) in [
        ("parent", &args.ostree_parent),
        ("ref", &args.ostree_ref),
        ("url", &args.ostree_url),
    ] {
        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
            ostree.insert(key.into(), json!(value));
        }
    }
    if !ostree.is_empty() {
        opts.insert("ostree".into(), Json::Object(ostree));
    }
    if let Some(path) = args
        .customizations
        .as_deref()
        .filter(|p| !p.as_os_str().is_empty())
    {
        opts.insert(
            "customizations".into(),
            load_json("--customizations", path)?,
        );
    }
    if let Some(path) = args
        .upload_options
        .as_deref()
        .filter(|p| !p.as_os_str().is_empty())
    {
        opts.insert(
            "upload_options".into(),
            load_json("--upload-options", path)?,
        );
    }
    Ok(opts)
}

/// upstream's `parse_repo` and `parse_repo_package_set` callbacks, replayed
/// in command-line order. Once the first repo is a dict, later `--repo`s
/// are dicts too; package sets turn the last repo into a dict and merge
/// into a sorted set.
fn repos(repo_args: &[RepoArg]) -> Vec<Json> {
    let mut repo: Vec<Json> = Vec::new();
    for arg in repo_args {
        match arg {
            RepoArg::Repo(url) => {
                if repo.first().is_some_and(Json::is_object) {
                    repo.push(json!({ "baseurl": url }));
                } else {
                    repo.push(json!(url));
                }
            }
            RepoArg::PackageSets(value) => {
                // The parser rejects package sets before any --repo.
                let Some(last) = repo.pop() else { continue };
                let mut entry = match last {
                    Json::Object(map) => map,
                    other => {
                        let mut map = Map::new();
                        map.insert("baseurl".into(), other);
                        map
                    }
                };
                let mut sets: Vec<String> = entry
                    .get("package_sets")
                    .and_then(Json::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                sets.extend(value.split(';').map(|s| s.trim().to_string()));
                // Python sorts str by code point, which is UTF-8 byte order.
                sets.sort();
                sets.dedup();
                entry.insert("package_sets".into(), json!(sets));
                repo.push(Json::Object(entry));
            }
        }
    }
    repo
}

fn load_json(flag: &'static str, path: &Path) -> Result<Json, ImageError> {
    let text = std::fs::read_to_string(path).map_err(|source| ImageError::ReadFile {
        flag,
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| ImageError::Json {
        flag,
        path: path.to_path_buf(),
        source,
    })
}

/// The seven osbuildImage arguments as the schema sees them.
pub fn call_arguments(args: &ImageArgs, opts: &Map<String, Json>) -> Json {
    json!([
        args.name,
        args.version,
        args.distro,
        args.image_type,
        args.target,
        args.arch,
        Json::Object(opts.clone()),
    ])
}

/// upstream's summary: the `print("name:", name)` lines and `pprint(opts)`.
pub fn summary(args: &ImageArgs, opts: &Map<String, Json>) -> String {
    let opts = PyValue::from(&Json::Object(opts.clone()));
    format!(
        "name: {}\nversion: {}\ndistro: {}\narches: {}\ntarget: {}\nimage type: {}\n{}\n",
        args.name,
        args.version,
        args.distro,
        args.arch.join(", "),
        args.target,
        args.image_type,
        pyfmt::pformat(&opts),
    )
}

/// Run the command; returns the exit status.
pub async fn run<H: Hub, W: Write>(
    hub: &mut H,
    args: &ImageArgs,
    ctx: &ImageContext<'_>,
    out: &mut W,
    interrupt: impl Future<Output = ()>,
) -> Result<i32, ImageError> {
    let opts = build_opts(args)?;
    osbuild_task::validate(&call_arguments(args, &opts))?;

    // Early checks, for quick feedback (upstream's check_target).
    let target = hub
        .get_build_target(&args.target)
        .await
        .map_err(|source| ImageError::Hub {
            call: "getBuildTarget",
            source,
        })?
        .ok_or_else(|| ImageError::UnknownTarget(args.target.clone()))?;
    let tag_exists = hub
        .tag_exists(target.dest_tag)
        .await
        .map_err(|source| ImageError::Hub {
            call: "getTag",
            source,
        })?;
    if !tag_exists {
        return Err(ImageError::UnknownDestinationTag(target.dest_tag_name));
    }

    if !ctx.quiet {
        out.write_all(summary(args, &opts).as_bytes())?;
        out.flush()?;
    }

    hub.activate().await.map_err(|source| ImageError::Hub {
        call: "login",
        source,
    })?;

    let call = ImageCall {
        name: args.name.clone(),
        version: args.version.clone(),
        distro: args.distro.clone(),
        image_type: args.image_type.clone(),
        target: args.target.clone(),
        arches: args.arch.clone(),
        opts: koji::Value::from(Json::Object(opts)),
        priority: args.priority,
    };
    let task_id = hub
        .osbuild_image(&call)
        .await
        .map_err(|source| ImageError::Hub {
            call: "osbuildImage",
            source,
        })?;

    if !ctx.quiet {
        writeln!(out, "Created task: {task_id}")?;
        writeln!(out, "Task info: {}/taskinfo?taskID={task_id}", ctx.weburl)?;
    }
    out.flush()?;

    let wait = args.wait();
    if wait == Some(false) || (wait.is_none() && ctx.running_in_background) {
        return Ok(0);
    }

    hub.logout().await.map_err(|source| ImageError::Hub {
        call: "logout",
        source,
    })?;
    let rv = watch::watch_tasks(hub, &[task_id], &ctx.watch, out, interrupt).await?;
    if rv == 0 {
        let result = hub
            .get_task_result(task_id)
            .await
            .map_err(|source| ImageError::Hub {
                call: "getTaskResult",
                source,
            })?;
        writeln!(out, "{}", pyfmt::repr(&PyValue::from(&result)))?;
        out.flush()?;
    }
    Ok(rv)
}

/// upstream's `kl._running_in_bg()`: stdin is not a terminal, or this
/// process group is not the terminal's foreground group.
pub fn running_in_background() -> bool {
    use std::io::IsTerminal;
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return true;
    }
    match nix::unistd::tcgetpgrp(&stdin) {
        Ok(foreground) => nix::unistd::getpgrp() != foreground,
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{parse_from, Command};
    use crate::hub::{BuildTarget, TaskState};
    use crate::watch::tests::{options, FakeHub};

    fn image_args(argv: &[&str]) -> ImageArgs {
        let mut full = vec!["koji-osbuild", "image"];
        full.extend_from_slice(argv);
        match parse_from(full).expect("parses").command {
            Command::Image(image) => *image,
            other => panic!("{other:?}"),
        }
    }

    fn valid_hub() -> FakeHub {
        // upstream's mock_session_add_valid_tag
        let mut hub = FakeHub {
            target: Some(BuildTarget {
                name: "target".into(),
                dest_tag: 42,
                dest_tag_name: "target-dest".into(),
            }),
            tag_exists: true,
            next_task: 1,
            ..FakeHub::default()
        };
        hub.task(
            1,
            "osbuildImage",
            &[(TaskState::Open, Some(1)), (TaskState::Closed, Some(1))],
        );
        hub.results.insert(
            1,
            Ok(koji::Value::from(
                json!({"composer": {"server": "https://c", "id": "42"}, "koji": {"build": 23}}),
            )),
        );
        hub
    }

    fn context(background: bool) -> ImageContext<'static> {
        ImageContext {
            quiet: false,
            weburl: "http://osbuild.org",
            watch: options(false),
            running_in_background: background,
        }
    }

    async fn run_image(
        hub: &mut FakeHub,
        argv: &[&str],
        background: bool,
    ) -> (Result<i32, ImageError>, String) {
        let args = image_args(argv);
        let mut out = Vec::new();
        let rv = run(
            hub,
            &args,
            &context(background),
            &mut out,
            std::future::pending(),
        )
        .await;
        (rv, String::from_utf8(out).expect("utf-8"))
    }

    fn submitted_opts(hub: &FakeHub) -> Json {
        assert_eq!(hub.submitted.len(), 1, "one osbuildImage call");
        Json::from(&hub.submitted[0].opts)
    }

    const BASE: [&str; 5] = ["name", "version", "distro", "target", "arch1"];

    fn argv(extra: &[&'static str]) -> Vec<&'static str> {
        let mut v = BASE.to_vec();
        v.extend_from_slice(extra);
        v
    }

    #[tokio::test]
    async fn basic_invocation() {
        let mut hub = valid_hub();
        let (rv, out) = run_image(
            &mut hub,
            &argv(&[
                "--repo",
                "https://first.repo",
                "--repo",
                "https://second.repo",
                "--release",
                "20200202.n2",
                "--skip-tag",
            ]),
            false,
        )
        .await;
        assert_eq!(rv.expect("runs"), 0);
        let call = &hub.submitted[0];
        assert_eq!(
            (
                call.name.as_str(),
                call.version.as_str(),
                call.distro.as_str(),
                call.image_type.as_str(),
                call.target.as_str()
            ),
            ("name", "version", "distro", "guest-image", "target")
        );
        assert_eq!(call.arches, ["arch1"]);
        assert_eq!(call.priority, None);
        assert_eq!(
            submitted_opts(&hub),
            json!({
                "release": "20200202.n2",
                "repo": ["https://first.repo", "https://second.repo"],
                "skip_tag": true,
            })
        );
        assert_eq!(
            hub.calls,
            [
                "getBuildTarget(target)",
                "getTag(42)",
                "activate",
                "osbuildImage",
                "logout",
                "getTaskInfo(1)",
                "getTaskInfo(1)",
                "getTaskResult(1)",
            ]
        );
        assert_eq!(
            out,
            "name: name\nversion: version\ndistro: distro\narches: arch1\ntarget: target\n\
             image type: guest-image\n\
             {'release': '20200202.n2',\n \
             'repo': ['https://first.repo', 'https://second.repo'],\n \
             'skip_tag': True}\n\
             Created task: 1\n\
             Task info: http://osbuild.org/taskinfo?taskID=1\n\
             Watching tasks (this may be safely interrupted)...\n\
             1 osbuildImage (noarch): open (builder1.local)\n\
             1 osbuildImage (noarch): open (builder1.local) -> closed\n\
             \x20\x200 free  0 open  1 done  0 failed\n\
             \n\
             1 osbuildImage (noarch) completed successfully\n\
             {'composer': {'server': 'https://c', 'id': '42'}, 'koji': {'build': 23}}\n"
        );
    }

    #[tokio::test]
    async fn customizations_options() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("customizations.json");
        std::fs::write(&path, r#"{"packages": ["emacs"]}"#).unwrap();
        let path = path.to_str().unwrap().to_string();
        let mut hub = valid_hub();
        let mut v = argv(&[
            "--repo",
            "https://first.repo",
            "--repo",
            "https://second.repo",
            "--release",
            "20200202.n2",
            "--customizations",
        ]);
        v.push(&path);
        let (rv, _) = run_image(&mut hub, &v, false).await;
        assert_eq!(rv.expect("runs"), 0);
        assert_eq!(
            submitted_opts(&hub),
            json!({
                "release": "20200202.n2",
                "repo": ["https://first.repo", "https://second.repo"],
                "customizations": {"packages": ["emacs"]},
            })
        );
    }

    #[tokio::test]
    async fn ostree_options() {
        let mut hub = valid_hub();
        let (rv, _) = run_image(
            &mut hub,
            &argv(&[
                "--repo",
                "https://first.repo",
                "--repo",
                "https://second.repo",
                "--release",
                "20200202.n2",
                "--ostree-parent",
                "ostree/$arch/staging",
                "--ostree-ref",
                "ostree/$arch/production",
                "--ostree-url",
                "https://osbuild.org/repo",
            ]),
            false,
        )
        .await;
        assert_eq!(rv.expect("runs"), 0);
        assert_eq!(
            submitted_opts(&hub),
            json!({
                "release": "20200202.n2",
                "repo": ["https://first.repo", "https://second.repo"],
                "ostree": {
                    "parent": "ostree/$arch/staging",
                    "ref": "ostree/$arch/production",
                    "url": "https://osbuild.org/repo",
                },
            })
        );
        // only the keys given
        let args = image_args(&argv(&["--ostree-ref", "r"]));
        assert_eq!(
            Json::Object(build_opts(&args).unwrap()),
            json!({"ostree": {"ref": "r"}})
        );
    }

    #[tokio::test]
    async fn repo_package_sets() {
        let mut hub = valid_hub();
        let (rv, out) = run_image(
            &mut hub,
            &argv(&[
                "--repo",
                "https://first.repo",
                "--repo-package-sets",
                "a; b; c",
                "--repo-package-sets",
                "d",
                "--repo",
                "https://second.repo",
                "--repo-package-sets",
                "alpha",
                "--repo",
                "https://third.repo",
                "--release",
                "20200202.n2",
            ]),
            false,
        )
        .await;
        assert_eq!(rv.expect("runs"), 0);
        assert_eq!(
            submitted_opts(&hub),
            json!({
                "release": "20200202.n2",
                "repo": [
                    {"baseurl": "https://first.repo", "package_sets": ["a", "b", "c", "d"]},
                    {"baseurl": "https://second.repo", "package_sets": ["alpha"]},
                    {"baseurl": "https://third.repo"},
                ],
            })
        );
        assert!(
            out.contains(
                "{'release': '20200202.n2',\n \
             'repo': [{'baseurl': 'https://first.repo',\n           \
             'package_sets': ['a', 'b', 'c', 'd']},\n          \
             {'baseurl': 'https://second.repo', 'package_sets': ['alpha']},\n          \
             {'baseurl': 'https://third.repo'}]}\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn repo_rules_follow_the_first_repo() {
        // A plain first repo keeps later repos plain (upstream checks repo[0]).
        let args = image_args(&argv(&[
            "--repo",
            "https://a",
            "--repo",
            "https://b",
            "--repo-package-sets",
            "x;x; y ;",
            "--repo",
            "https://c",
        ]));
        assert_eq!(
            Json::Object(build_opts(&args).unwrap()),
            json!({"repo": ["https://a", {"baseurl": "https://b", "package_sets": ["", "x", "y"]}, "https://c"]})
        );
    }

    #[tokio::test]
    async fn target_check() {
        // unknown build target
        let mut hub = FakeHub::default();
        let (rv, out) = run_image(&mut hub, &BASE, false).await;
        assert_eq!(rv.unwrap_err().to_string(), "Unknown build target: target");
        assert_eq!(out, "");
        assert_eq!(hub.calls, ["getBuildTarget(target)"]);

        // unknown destination tag
        let mut hub = valid_hub();
        hub.tag_exists = false;
        let (rv, _) = run_image(&mut hub, &BASE, false).await;
        assert_eq!(
            rv.unwrap_err().to_string(),
            "Unknown destination tag: target-dest"
        );
        assert_eq!(hub.calls, ["getBuildTarget(target)", "getTag(42)"]);
    }

    #[tokio::test]
    async fn schema_violations_stop_before_the_hub() {
        let mut hub = valid_hub();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("upload.json");
        std::fs::write(&path, "[1, 2]").unwrap();
        let path = path.to_str().unwrap().to_string();
        let mut v = argv(&["--upload-options"]);
        v.push(&path);
        let (rv, out) = run_image(&mut hub, &v, false).await;
        let err = rv.unwrap_err().to_string();
        assert!(err.starts_with("invalid osbuildImage arguments: "), "{err}");
        assert!(err.contains("upload_options"), "{err}");
        assert!(hub.calls.is_empty());
        assert_eq!(out, "");
    }

    #[tokio::test]
    async fn unreadable_and_invalid_files() {
        let mut hub = valid_hub();
        let (rv, _) = run_image(
            &mut hub,
            &argv(&["--customizations", "/no/such/c.json"]),
            false,
        )
        .await;
        assert_eq!(
            rv.unwrap_err().to_string(),
            "--customizations /no/such/c.json: cannot read the file: No such file or directory"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        std::fs::write(&path, "{\n  \"packages\": [\"emacs\",]\n}\n").unwrap();
        let path = path.to_str().unwrap().to_string();
        let mut v = argv(&["--customizations"]);
        v.push(&path);
        let (rv, _) = run_image(&mut hub, &v, false).await;
        assert_eq!(
            rv.unwrap_err().to_string(),
            format!("--customizations {path}: not valid JSON: trailing comma at line 2 column 24")
        );
        assert!(hub.calls.is_empty());
    }

    #[tokio::test]
    async fn nowait_and_background() {
        for (extra, background) in [
            (&["--nowait"][..], false),
            (&[][..], true),
            (&["--wait", "--nowait"][..], false),
        ] {
            let mut hub = valid_hub();
            let (rv, out) = run_image(&mut hub, &argv(extra), background).await;
            assert_eq!(rv.expect("runs"), 0);
            assert!(
                out.ends_with("Created task: 1\nTask info: http://osbuild.org/taskinfo?taskID=1\n"),
                "{out}"
            );
            assert_eq!(hub.calls.last().map(String::as_str), Some("osbuildImage"));
        }
        // --wait waits even in the background
        let mut hub = valid_hub();
        let (rv, _) = run_image(&mut hub, &argv(&["--wait"]), true).await;
        assert_eq!(rv.expect("runs"), 0);
        assert!(hub.calls.contains(&"logout".to_string()));
    }

    #[tokio::test]
    async fn quiet_and_priority() {
        let mut hub = valid_hub();
        let args = image_args(&argv(&["--priority", "-2"]));
        let mut ctx = context(false);
        ctx.quiet = true;
        ctx.watch.quiet = true;
        let mut out = Vec::new();
        let rv = run(&mut hub, &args, &ctx, &mut out, std::future::pending())
            .await
            .unwrap();
        assert_eq!(rv, 0);
        assert_eq!(hub.submitted[0].priority, Some(-2));
        // upstream prints the result even when quiet
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{'composer': {'server': 'https://c', 'id': '42'}, 'koji': {'build': 23}}\n"
        );
    }

    #[tokio::test]
    async fn failed_task_exits_1_without_result() {
        let mut hub = valid_hub();
        hub.task(1, "osbuildImage", &[(TaskState::Failed, Some(1))]);
        hub.results
            .insert(1, Err((1005, "Compose failed (id: x)".into())));
        let (rv, out) = run_image(&mut hub, &BASE, false).await;
        assert_eq!(rv.unwrap(), 1);
        assert!(out.ends_with("1 osbuildImage (noarch) failed\n"), "{out}");
    }

    #[tokio::test]
    async fn hub_faults_read_like_koji() {
        let mut hub = valid_hub();
        hub.submit_fault = Some((
            1004,
            "image permission required (logged in as nobody)".into(),
        ));
        let (rv, _) = run_image(&mut hub, &BASE, false).await;
        assert_eq!(
            rv.unwrap_err().to_string(),
            "ActionNotAllowed: image permission required (logged in as nobody)"
        );
    }
}
