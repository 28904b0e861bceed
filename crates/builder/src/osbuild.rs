//! The `osbuildImage` task handler: upstream's `OSBuildImage.handler`
//! (plugins/builder/osbuild.py) step for step, over one Koji session (the
//! task's subsession) and one composer client. It is a library function so
//! that a kojid plugin can run the same code later.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use composer::ComposeStatus;
use koji::{ClientSession, Value};
use osbuild_task::{compose_request, tag_repo, user_repos, OsbuildImageRequest};
use serde_json::json;

use crate::error::TaskError;
use crate::pyjson;

/// kojid's `_taskWeight` of upstream's handler.
pub const WEIGHT: f64 = 0.2;

/// What one task runs with.
#[derive(Clone, Debug)]
pub struct TaskContext {
    pub task_id: i64,
    /// The task's own session (a subsession of the host's exclusive one).
    pub session: ClientSession,
    /// The host's session, to get a new subsession from when the hub no
    /// longer knows the task's (the host's session ended and the host loop
    /// logged in again). `None`: no renewal, a lost session fails the call.
    pub host_session: Option<ClientSession>,
    pub composer: composer::Client,
    /// `[koji] server` of builder.conf: where composer imports the build.
    pub koji_server: String,
    /// The hub's file URL, for the build tag's repo.
    pub topurl: Option<String>,
    /// Pause between compose status polls and subtask checks.
    pub poll_interval: Duration,
    /// Set while the task only waits for subtasks; the host loop then does
    /// not count it against its capacity (so the subtask can run here).
    pub waiting: Arc<AtomicBool>,
    /// The compose the task follows while it runs, so that a canceled task
    /// can cancel it in composer.
    pub compose: Arc<Mutex<Option<String>>>,
}

/// How long a task waits for the host to be logged in again before a lost
/// session fails its call.
const RENEW_TIMEOUT: Duration = Duration::from_secs(600);

/// The hub no longer knows this session: it was logged out, expired, or
/// closed when another process took the host's exclusive session.
pub fn is_session_lost(e: &koji::Error) -> bool {
    matches!(
        e.fault_kind(),
        Some(
            koji::FaultKind::AuthError
                | koji::FaultKind::AuthExpired
                | koji::FaultKind::AuthLockError
        )
    )
}

impl TaskContext {
    /// Runs one hub call on the task's session. If the hub says the
    /// session is gone (the call did not run), the task gets a new
    /// subsession of the host's session and the call runs once more; kojid
    /// re-logs in too when its session expires.
    pub async fn hub<T, F, Fut>(&self, call: F) -> Result<T, koji::Error>
    where
        F: Fn(ClientSession) -> Fut,
        Fut: Future<Output = Result<T, koji::Error>>,
    {
        match call(self.session.clone()).await {
            Err(e) if is_session_lost(&e) && self.host_session.is_some() => {
                tracing::warn!(
                    task_id = self.task_id,
                    "the task's hub session is gone ({e}); getting a new one"
                );
                self.renew_session(e).await?;
                call(self.session.clone()).await
            }
            other => other,
        }
    }

    /// Gets a new subsession from the host's session (waiting while the host
    /// loop logs in again) and adopts it in this task's session handle.
    async fn renew_session(&self, lost: koji::Error) -> Result<(), koji::Error> {
        let Some(host) = &self.host_session else {
            return Err(lost);
        };
        let deadline = Instant::now() + RENEW_TIMEOUT;
        loop {
            match host.subsession().await {
                Ok(sub) => {
                    self.session.set_session(sub.session_info());
                    tracing::info!(task_id = self.task_id, "task has a new hub session");
                    return Ok(());
                }
                Err(e) if is_session_lost(&e) && Instant::now() < deadline => {
                    tracing::debug!(task_id = self.task_id, "host not logged in again yet: {e}");
                    tokio::time::sleep(self.poll_interval.max(Duration::from_millis(200))).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The compose the task follows now, if any.
    pub fn compose(&self) -> Option<String> {
        self.compose.lock().map_or(None, |c| c.clone())
    }

    fn set_compose(&self, cid: Option<&str>) {
        if let Ok(mut c) = self.compose.lock() {
            *c = cid.map(str::to_owned);
        }
    }

    /// Upstream's `upload_json`: `<name>.json`, Python's json.dump layout,
    /// overwriting (fast_incremental_upload sends every chunk with overwrite).
    pub async fn upload_json(&self, doc: &serde_json::Value, name: &str) -> Result<(), TaskError> {
        let text = pyjson::dumps(doc);
        let opts = koji::UploadOptions {
            overwrite: true,
            ..koji::UploadOptions::default()
        };
        let dir = koji::taskrelpath(self.task_id);
        let file = format!("{name}.json");
        self.hub(|s| {
            let (text, dir, file, opts) = (&text, &dir, &file, &opts);
            async move { s.upload_bytes(text.as_bytes(), dir, file, opts).await }
        })
        .await?;
        Ok(())
    }
}

/// Python's `str(set)` of the arches left over, in request order.
fn python_set_repr(items: &[&str]) -> String {
    let inner: Vec<String> = items.iter().map(|a| format!("'{a}'")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// Runs one osbuildImage task; `params` is the task request.
pub async fn handle(ctx: &TaskContext, params: &[Value]) -> Result<Value, TaskError> {
    let args = koji::value_to_json(&Value::Array(params.to_vec()));
    let req = OsbuildImageRequest::from_args(&args)
        .map_err(|e| TaskError::Parameter(format!("invalid osbuildImage request: {e}")))?;
    let task_id = ctx.task_id;
    tracing::info!(task_id, name = %req.name, version = %req.version, target = %req.target,
        arches = ?req.arches, "building image via osbuild");
    let earlier = recorded_compose(ctx).await?;

    let target = ctx
        .hub(|s| {
            let name = req.target.as_str();
            async move { s.get_build_target(name, true).await }
        })
        .await?
        .ok_or_else(|| TaskError::Build(format!("Target '{}' not found", req.target)))?;

    let build_tag = target.build_tag;
    let buildconfig = ctx
        .hub(|s| async move { s.get_build_config(build_tag).await })
        .await?;
    let tag_arches = buildconfig.arch_list();
    if tag_arches.is_empty() {
        // Upstream's message, typo included (`'%{name}'`).
        return Err(TaskError::Build(format!(
            "Missing arches for tag '%{}'",
            buildconfig.name
        )));
    }
    let tag_arches: Vec<String> = tag_arches.iter().map(|a| canon_arch(a)).collect();
    let mut unsupported: Vec<&str> = Vec::new();
    for arch in &req.arches {
        if !tag_arches.contains(arch) && !unsupported.contains(&arch.as_str()) {
            unsupported.push(arch);
        }
    }
    if !unsupported.is_empty() {
        return Err(TaskError::Build(format!(
            "Unsupported architecture(s): {}",
            python_set_repr(&unsupported)
        )));
    }

    let repos = match user_repos(&req) {
        Some(repos) => repos,
        None => {
            let repo = ctx
                .hub(|s| async move { s.get_repo(build_tag).await })
                .await?
                .ok_or_else(|| {
                    TaskError::Build(format!("No repo for tag {}", target.build_tag_name))
                })?;
            let topurl = ctx.topurl.as_deref().ok_or_else(|| {
                TaskError::Build(
                    "the builder has no topurl configured ([builder] topurl), so it cannot name the build tag's repo; pass --repo".into(),
                )
            })?;
            vec![tag_repo(topurl, &target.build_tag_name, repo.id)]
        }
    };

    let release = match req.opts.release.as_deref().filter(|r| !r.is_empty()) {
        Some(r) => r.to_string(),
        None => {
            ctx.hub(|s| {
                let (name, version) = (req.name.as_str(), req.version.as_str());
                async move { s.get_next_release(name, version).await }
            })
            .await?
        }
    };

    let task_id_u = u64::try_from(task_id)
        .map_err(|_| TaskError::Parameter(format!("task id {task_id} is negative")))?;
    let request = compose_request(&req, &ctx.koji_server, task_id_u, &release, &repos)
        .map_err(|e| TaskError::Build(e.to_string()))?;
    let cid = match earlier {
        Some(cid) => {
            // The request went to composer in the earlier run; composer
            // reserved its build, so a new getNextRelease may differ: the
            // attached compose-request.json stays the one composer got.
            tracing::info!(task_id, compose_id = %cid, "resuming compose {cid}");
            cid
        }
        None => {
            ctx.upload_json(&request.to_json(), "compose-request")
                .await?;
            let cid = ctx.composer.compose_create(&request).await?;
            tracing::info!(task_id, compose_id = %cid, nvr = %format!("{}-{}-{}", req.name, req.version, release),
                "compose created");
            // Recorded in Koji at once: a rerun of this task (builder
            // restart, another host after a crash) follows this compose.
            let record = json!({"id": cid, "server": ctx.composer.server()});
            ctx.upload_json(&record, COMPOSE_RECORD).await?;
            cid
        }
    };
    ctx.set_compose(Some(&cid));

    let status = follow_compose(ctx, &cid).await?;
    ctx.set_compose(None);
    tracing::info!(task_id, compose_id = %cid, status = %status.status, "compose finished");

    let image_types: Vec<(String, String)> = request
        .image_requests
        .iter()
        .flatten()
        .map(|i| (i.architecture.clone(), i.image_type.as_str().to_string()))
        .collect();
    attach_manifests(ctx, &cid, &image_types).await?;
    attach_logs(ctx, &cid, &image_types).await?;

    if !status.is_success() {
        return Err(TaskError::Build(format!("Compose failed (id: {cid})")));
    }
    let build_id = status.koji_build_id().ok_or_else(|| {
        TaskError::Build(format!(
            "Compose {cid} succeeded but composer reports no Koji build id"
        ))
    })?;
    let build_id_i = i64::try_from(build_id)
        .map_err(|_| TaskError::Build(format!("Koji build id {build_id} out of range")))?;

    if req.opts.skip_tag != Some(true) {
        tag_build(ctx, target.dest_tag, build_id_i).await?;
        tracing::info!(task_id, compose_id = %cid, build_id, dest_tag = %target.dest_tag_name, "build tagged");
    }

    let result = json!({
        "composer": {"server": ctx.composer.server(), "id": cid},
        "koji": {"build": build_id},
    });
    Ok(koji::json_to_value(&result))
}

/// `compose.json`: the compose of the task, attached right after composer
/// accepted it. An addition to upstream's files.
pub const COMPOSE_RECORD: &str = "compose";

/// The compose an earlier run of this task created on this builder's
/// composer, from the task's own `compose.json`; `None` to create one.
async fn recorded_compose(ctx: &TaskContext) -> Result<Option<String>, TaskError> {
    let id = ctx.task_id;
    let file = format!("{COMPOSE_RECORD}.json");
    let files = ctx
        .hub(|s| async move { s.list_task_output(id).await })
        .await?;
    if !files.contains(&file) {
        return Ok(None);
    }
    let bytes = ctx
        .hub(|s| {
            let file = file.as_str();
            async move { s.download_task_output(id, file, 0, None).await }
        })
        .await?;
    let record: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(task_id = id, "ignoring an unreadable {file}: {e}");
            return Ok(None);
        }
    };
    let (Some(cid), Some(server)) = (record["id"].as_str(), record["server"].as_str()) else {
        tracing::warn!(task_id = id, "ignoring {file} without id and server");
        return Ok(None);
    };
    let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
    if !same(server, ctx.composer.server()) {
        tracing::warn!(task_id = id, compose_id = %cid, server = %server,
            "an earlier run's compose is on another composer; creating a new one");
        return Ok(None);
    }
    Ok(Some(cid.to_string()))
}

/// Follows the compose, attaching compose-status.json each time the status
/// changes (upstream uploads it after every poll; the content is the same).
async fn follow_compose(ctx: &TaskContext, cid: &str) -> Result<ComposeStatus, TaskError> {
    let mut watch = ctx.composer.watch_compose(cid, ctx.poll_interval);
    loop {
        match watch.next_change().await {
            Some(Ok(status)) => {
                tracing::info!(task_id = ctx.task_id, compose_id = %cid, status = %status.status,
                    "compose status");
                ctx.upload_json(&status.to_upstream_json(), "compose-status")
                    .await?;
                if status.is_finished() {
                    return Ok(status);
                }
            }
            Some(Err(e)) => return Err(e.into()),
            None => return Err(TaskError::Build(format!("lost track of compose {cid}"))),
        }
    }
}

/// Upstream's `attach_manifests`: one `<arch>-<image_type>.manifest.json`
/// per image request; a failure to fetch them is only a warning.
async fn attach_manifests(
    ctx: &TaskContext,
    cid: &str,
    images: &[(String, String)],
) -> Result<(), TaskError> {
    let manifests = match ctx.composer.compose_manifests(cid).await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(task_id = ctx.task_id, compose_id = %cid, "Failed to fetch manifests: {e}");
            return Ok(());
        }
    };
    for (manifest, (arch, image_type)) in manifests.manifests.iter().zip(images) {
        ctx.upload_json(manifest, &format!("{arch}-{image_type}.manifest"))
            .await?;
    }
    Ok(())
}

/// Upstream's `attach_logs`: koji-init.log.json, koji-import.log.json and
/// one `<arch>-<image_type>.log.json` per image request; a failure to fetch
/// them is only a warning.
async fn attach_logs(
    ctx: &TaskContext,
    cid: &str,
    images: &[(String, String)],
) -> Result<(), TaskError> {
    let logs = match ctx.composer.compose_logs(cid).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(task_id = ctx.task_id, compose_id = %cid, "Failed to fetch logs: {e}");
            return Ok(());
        }
    };
    if let Some(init) = logs.koji_init() {
        ctx.upload_json(init, "koji-init.log").await?;
    }
    if let Some(import) = logs.koji_import() {
        ctx.upload_json(import, "koji-import.log").await?;
    }
    for (log, (arch, image_type)) in logs.image_builds.iter().zip(images) {
        ctx.upload_json(log, &format!("{arch}-{image_type}.log"))
            .await?;
    }
    Ok(())
}

/// Upstream's `tag_build`: a `tagBuild` subtask into the destination tag,
/// then kojid's `BaseTaskHandler.wait` (taskSetWait, taskWait until nothing
/// is unfinished, taskWaitResults, which re-raises a failed child's fault).
async fn tag_build(ctx: &TaskContext, dest_tag: i64, build_id: i64) -> Result<(), TaskError> {
    let args = vec![
        Value::Int(dest_tag),
        Value::Int(build_id),
        Value::Bool(false), // force
        Value::Nil,         // fromtag
        Value::Bool(true),  // ignore_success: no notification
    ];
    let child = ctx
        .hub(|s| {
            let args = args.clone();
            async move {
                s.host()
                    .subtask("tagBuild", args, Some("tag"), ctx.task_id, Some("noarch"))
                    .await
            }
        })
        .await?;
    tracing::info!(
        task_id = ctx.task_id,
        subtask = child,
        "tagBuild subtask created"
    );
    ctx.waiting.store(true, Ordering::SeqCst);
    let result = wait_for(ctx, child).await;
    ctx.waiting.store(false, Ordering::SeqCst);
    result
}

async fn wait_for(ctx: &TaskContext, child: i64) -> Result<(), TaskError> {
    let id = ctx.task_id;
    ctx.hub(|s| async move { s.host().task_set_wait(id, Some(&[child])).await })
        .await?;
    loop {
        let wait = ctx
            .hub(|s| async move { s.host().task_wait(id).await })
            .await?;
        if wait.unfinished.is_empty() {
            break;
        }
        tokio::time::sleep(ctx.poll_interval).await;
    }
    let results = ctx
        .hub(|s| async move { s.host().task_wait_results(id, &[child], None).await })
        .await?;
    for (_, result) in results {
        if let Err(fault) = result {
            return Err(TaskError::Subtask(fault));
        }
    }
    Ok(())
}

/// `koji.canonArch` for the names a tag's arches commonly use.
fn canon_arch(arch: &str) -> String {
    match arch {
        "i386" | "i486" | "i586" | "i686" | "athlon" | "geode" => "i386".into(),
        "amd64" | "ia32e" => "x86_64".into(),
        "armv8l" | "arm64" => "aarch64".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_gone_session_counts_as_lost() {
        let fault = |kind| koji::Error::Fault {
            kind,
            code: 0,
            message: "m".into(),
        };
        assert!(is_session_lost(&fault(koji::FaultKind::AuthError)));
        assert!(is_session_lost(&fault(koji::FaultKind::AuthExpired)));
        assert!(!is_session_lost(&fault(koji::FaultKind::SequenceError)));
        assert!(!is_session_lost(&fault(koji::FaultKind::GenericError)));
    }

    #[test]
    fn unsupported_arches_read_like_python_set() {
        assert_eq!(python_set_repr(&["s390x"]), "{'s390x'}");
        assert_eq!(
            python_set_repr(&["s390x", "ppc64le"]),
            "{'s390x', 'ppc64le'}"
        );
    }
}
