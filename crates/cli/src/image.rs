//! `koji-osbuild image`: the osbuildImage request from upstream's
//! options, checked before anything is created, submitted, and (unless
//! told not to, or running in the background, as upstream decides) watched
//! to the end.
//!
//! The output is this tool's own: a short summary, then the `Created
//! task: N` and `Task info: URL` lines that scripts read (or, with
//! `--json`, one JSON object per line).

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};

use koji::{BuildConfig, Call, ClientSession, Value};
use osbuild_task::OsbuildImageRequest;
use serde_json::{json, Map, Value as Json};

use crate::args::{ImageArgs, RepoArg};
use crate::session::{self, Settings};
use crate::watch::{Format, WatchError, Watcher};

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{flag} {}: cannot read the file: {}", .path.display(), crate::io_reason(.source))]
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
    #[error("the image {0} is empty: give the {0} of the build")]
    Empty(&'static str),
    #[error(
        "build tag {tag} has no {missing} (it has {}): request only its arches, or ask a Koji \
         admin to add them (koji edit-tag --arches)",
        if .has.is_empty() { "none".to_string() } else { .has.join(", ") }
    )]
    ArchesMissing {
        tag: String,
        missing: String,
        has: Vec<String>,
    },
    #[error(transparent)]
    Hub(#[from] koji::Error),
    #[error(transparent)]
    Login(#[from] crate::session::SessionError),
    #[error(transparent)]
    Watch(#[from] WatchError),
    #[error("cannot write to standard output: {0}")]
    Output(#[from] std::io::Error),
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

/// The request the options describe, checked against the schema.
pub fn build_request(args: &ImageArgs) -> Result<OsbuildImageRequest, ImageError> {
    let opts = build_opts(args)?;
    let call = json!([
        args.name,
        args.version,
        args.distro,
        args.image_type,
        args.target,
        args.arch,
        Json::Object(opts),
    ]);
    Ok(OsbuildImageRequest::from_args(&call)?)
}

/// Run the command; returns the exit status.
pub async fn run(
    session: &ClientSession,
    settings: &Settings,
    args: &ImageArgs,
    out: &mut dyn Write,
    interrupt: impl Future<Output = ()>,
) -> Result<i32, ImageError> {
    let request = build_request(args)?;
    // On top of the schema, which accepts what upstream accepts: a build
    // cannot be named, versioned or composed from an empty string.
    for (what, value) in [
        ("name", &request.name),
        ("version", &request.version),
        ("distro", &request.distro),
    ] {
        if value.trim().is_empty() {
            return Err(ImageError::Empty(what));
        }
    }

    // Early checks, for quick feedback: upstream's check_target, and the
    // arches the builder would refuse because the build tag lacks them.
    let target = session
        .get_build_target(args.target.as_str(), false)
        .await?
        .ok_or_else(|| ImageError::UnknownTarget(args.target.clone()))?;
    // The two lookups that need the target go in one round trip.
    let calls = [
        Call::new("getTag", vec![target.dest_tag.into()]),
        Call::new("getBuildConfig", vec![target.build_tag.into()]),
    ];
    let mut replies = session.multi_call(&calls).await?.into_iter();
    let mut next = |method: &str| -> Result<Value, koji::Error> {
        match replies.next() {
            Some(reply) => Ok(reply?),
            None => Err(koji::Error::UnexpectedReply {
                method: method.into(),
                message: "missing from the multiCall reply".into(),
            }),
        }
    };
    if next("getTag")?.is_nil() {
        return Err(ImageError::UnknownDestinationTag(target.dest_tag_name));
    }
    let has = koji::from_value::<BuildConfig>(next("getBuildConfig")?)?.arch_list();
    let missing = osbuild_task::arches_missing_from_tag(&request.arches, &has);
    if !missing.is_empty() {
        return Err(ImageError::ArchesMissing {
            tag: target.build_tag_name,
            missing: missing.join(", "),
            has,
        });
    }

    let format = if args.json {
        Format::Json
    } else {
        Format::Text {
            quiet: settings.quiet,
        }
    };
    if format == (Format::Text { quiet: false }) {
        let opts = serde_json::to_string(&request.opts).unwrap_or_default();
        writeln!(
            out,
            "name: {}\nversion: {}\ndistro: {}\narches: {}\ntarget: {}\nimage type: {}\nopts: {opts}",
            request.name,
            request.version,
            request.distro,
            request.arches.join(", "),
            request.target,
            request.image_type,
        )?;
        out.flush()?;
    }

    session::login(session, &settings.auth).await?;
    let (positional, keyword) = request.hub_call(args.priority);
    let positional = positional.iter().map(koji::json_to_value).collect();
    let keyword = keyword
        .iter()
        .map(|(k, v)| (k.clone(), koji::json_to_value(v)))
        .collect();
    let reply = session
        .call_kw(osbuild_task::METHOD, positional, keyword)
        .await?;
    let task_id = reply.as_i64().ok_or_else(|| koji::Error::UnexpectedReply {
        method: osbuild_task::METHOD.into(),
        message: format!("expected a task id, got {}", reply.type_name()),
    })?;

    let url = format!("{}/taskinfo?taskID={task_id}", settings.weburl);
    let mut watcher = Watcher::new(session, out, format, settings.poll_interval);
    watcher.emit(
        "created",
        &format!("Created task: {task_id}\nTask info: {url}"),
        json!({"task_id": task_id, "url": url}),
        false,
    )?;

    let wait = args.wait();
    if wait == Some(false) || (wait.is_none() && running_in_background()) {
        return Ok(0);
    }
    // As upstream: the watch needs no login, so end the session now.
    session.logout().await?;
    Ok(watcher.watch(&[task_id], interrupt).await?)
}

/// upstream's `kl._running_in_bg()`: stdin is not a terminal, or this
/// process group is not the terminal's foreground group.
fn running_in_background() -> bool {
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

    fn image_args(argv: &[&str]) -> ImageArgs {
        let mut full = vec!["koji-osbuild", "image"];
        full.extend_from_slice(argv);
        full.extend_from_slice(&["name", "1", "fedora-42", "target", "x86_64"]);
        match parse_from(full).expect("parses").command {
            Command::Image(image) => *image,
            other => panic!("{other:?}"),
        }
    }

    fn opts_of(argv: &[&str]) -> Json {
        let request = build_request(&image_args(argv)).expect("valid");
        serde_json::to_value(&request.opts).unwrap()
    }

    #[test]
    fn no_options_make_empty_opts() {
        assert_eq!(opts_of(&[]), json!({}));
    }

    #[test]
    fn options_become_upstreams_opts() {
        let dir = tempfile::tempdir().unwrap();
        let custom = dir.path().join("c.json");
        std::fs::write(&custom, r#"{"packages": ["emacs"]}"#).unwrap();
        let upload = dir.path().join("u.json");
        std::fs::write(&upload, r#"{"region": "eu-west-1"}"#).unwrap();
        let opts = opts_of(&[
            "--release",
            "20200202.n2",
            "--skip-tag",
            "--ostree-parent",
            "p",
            "--ostree-ref",
            "r",
            "--ostree-url",
            "u",
            "--customizations",
            custom.to_str().unwrap(),
            "--upload-options",
            upload.to_str().unwrap(),
        ]);
        assert_eq!(
            opts,
            json!({
                "release": "20200202.n2",
                "skip_tag": true,
                "ostree": {"parent": "p", "ref": "r", "url": "u"},
                "customizations": {"packages": ["emacs"]},
                "upload_options": {"region": "eu-west-1"},
            })
        );
    }

    #[test]
    fn package_sets_turn_repos_into_objects() {
        let opts = opts_of(&[
            "--repo",
            "https://first.repo",
            "--repo-package-sets",
            "d; c",
            "--repo-package-sets",
            "a;b",
            "--repo",
            "https://second.repo",
            "--repo-package-sets",
            "alpha",
            "--repo",
            "https://third.repo",
        ]);
        assert_eq!(
            opts["repo"],
            json!([
                {"baseurl": "https://first.repo", "package_sets": ["a", "b", "c", "d"]},
                {"baseurl": "https://second.repo", "package_sets": ["alpha"]},
                {"baseurl": "https://third.repo"},
            ])
        );
    }

    #[test]
    fn repo_rules_follow_the_first_repo() {
        // A plain first repo keeps later repos plain (upstream checks repo[0]).
        let args = image_args(&[
            "--repo",
            "https://a",
            "--repo",
            "https://b",
            "--repo-package-sets",
            "x;x; y ;",
            "--repo",
            "https://c",
        ]);
        assert_eq!(
            Json::Object(build_opts(&args).unwrap()),
            json!({"repo": ["https://a", {"baseurl": "https://b", "package_sets": ["", "x", "y"]}, "https://c"]})
        );
    }

    #[test]
    fn schema_violations_and_bad_files_are_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("list.json");
        std::fs::write(&list, "[1]").unwrap();
        let err =
            build_request(&image_args(&["--customizations", list.to_str().unwrap()])).unwrap_err();
        assert!(matches!(err, ImageError::Invalid(_)), "{err}");

        let missing = dir.path().join("missing.json");
        let err = build_request(&image_args(&[
            "--customizations",
            missing.to_str().unwrap(),
        ]))
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            format!(
                "--customizations {}: cannot read the file: No such file or directory",
                missing.display()
            )
        );
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{nope").unwrap();
        let err = build_request(&image_args(&["--upload-options", bad.to_str().unwrap()]))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!(
                "--upload-options {}: not valid JSON: ",
                bad.display()
            )),
            "{err}"
        );
    }
}
