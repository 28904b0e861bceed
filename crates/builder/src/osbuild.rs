//! The `osbuildImage` task handler: upstream's `OSBuildImage.handler`
//! (plugins/builder/osbuild.py) step for step, over one Koji session (the
//! task's subsession) and one composer client. It is a library function so
//! that a kojid plugin can run the same code later.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use composer::{ComposeStatus, ImageRequest, Outage, OutageStep};
use koji::{ClientSession, Value};
use osbuild_task::OsbuildImageRequest;
use serde_json::json;
use tokio::sync::Notify;

use crate::compose_request::{compose_request, tag_repo, user_repos};
use crate::error::{build_error, TaskError};
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
    /// How long composer may fail in a row (5xx, dropped or refused
    /// connections) while the task follows its compose before it gives up.
    pub composer_outage_timeout: Duration,
    /// How long the compose may run before it is canceled; `None`: no limit.
    pub compose_timeout: Option<Duration>,
    /// Notified by the host loop when the hub flags this task (`alert` in
    /// host.getHostTasks: a subtask it waits for has finished), as kojid's
    /// main loop wakes a waiting task process with SIGUSR2.
    pub alert: Arc<Notify>,
}

impl TaskContext {
    /// A context for task `task_id` on `session`, with builder.conf's
    /// composer and compose settings: the daemon's workers and `run-task`
    /// (under kojid) start tasks alike.
    pub fn new(
        task_id: i64,
        session: ClientSession,
        host_session: Option<ClientSession>,
        composer: composer::Client,
        settings: &crate::Settings,
    ) -> TaskContext {
        TaskContext {
            task_id,
            session,
            host_session,
            composer,
            koji_server: settings.koji_server.clone(),
            topurl: settings.topurl.clone(),
            poll_interval: settings.compose_poll_interval,
            waiting: Arc::default(),
            compose: Arc::default(),
            composer_outage_timeout: settings.composer_outage_timeout,
            compose_timeout: settings.compose_timeout,
            alert: Arc::default(),
        }
    }
}

/// While a task waits for its subtask it asks the hub (host.taskWait) when
/// the host loop passes on the hub's alert, and at the latest this often
/// (in case an alert is missed). Polling every compose poll interval
/// instead made 1000 waiting parents most of the hub's load.
const SUBTASK_WAIT_FALLBACK: Duration = Duration::from_secs(30);

/// Spread of the compose status polls around `poll_interval` (±15 %), and
/// a random first poll within it: many tasks (a builder restart resumes
/// them all at once) then do not poll composer in lockstep.
pub const POLL_JITTER: f64 = 0.15;

/// How long a task waits for the host to be logged in again before a lost
/// session fails its call.
const RENEW_TIMEOUT: Duration = Duration::from_secs(600);

/// The hub cannot be reached, or says it is offline: the call did not run
/// (or its answer was lost) and the same call can go again later. A
/// certificate or TLS problem is not an outage (it does not fix itself),
/// nor is a 4xx answer (a wrong URL).
pub fn is_hub_unreachable(e: &koji::Error) -> bool {
    match e {
        koji::Error::Transport { detail, .. } => {
            let detail = detail.to_lowercase();
            !["certificate", "handshake", "tls", "alert"]
                .iter()
                .any(|w| detail.contains(w))
        }
        koji::Error::Http { status, .. } => *status >= 500,
        _ => e.is_fault(koji::FaultKind::ServerOffline),
    }
}

/// The hub no longer knows this session: it was logged out, expired, or
/// closed when another process took the host's exclusive session.
pub fn is_session_lost(e: &koji::Error) -> bool {
    use koji::FaultKind::{AuthError, AuthExpired, AuthLockError};
    matches!(
        e.fault_kind(),
        Some(AuthError | AuthExpired | AuthLockError)
    )
}

impl TaskContext {
    /// Runs one hub call on the task's session. If the hub says the
    /// session is gone (the call did not run), the task gets a new
    /// subsession of the host's session and the call runs once more; kojid
    /// re-logs in too when its session expires.
    ///
    /// The session retries a failing call itself (`max_retries` times,
    /// `retry_interval` apart; ServerOffline without limit with
    /// `offline_retry`). If the hub is still unreachable after all that,
    /// the call starts over rather than failing the task: a task cannot
    /// report anything to an unreachable hub anyway, its compose keeps
    /// running, and the task goes on once the hub is back. A task stopped
    /// meanwhile (canceled, freed, shutdown) ends through the host loop.
    pub async fn hub<T, F, Fut>(&self, call: F) -> Result<T, koji::Error>
    where
        F: Fn(ClientSession) -> Fut,
        Fut: Future<Output = Result<T, koji::Error>>,
    {
        let since = Instant::now();
        loop {
            let result = match (call(self.session.clone()).await, &self.host_session) {
                (Err(e), Some(host)) if is_session_lost(&e) => {
                    tracing::warn!(
                        task_id = self.task_id,
                        "the task's hub session is gone ({e}); getting a new one"
                    );
                    match self.renew_session(host).await {
                        Ok(()) => call(self.session.clone()).await,
                        Err(e) => Err(e),
                    }
                }
                (other, _) => other,
            };
            match result {
                Err(e) if is_hub_unreachable(&e) => {
                    let pause = self
                        .session
                        .options()
                        .retry_interval
                        .max(Duration::from_secs(1));
                    tracing::warn!(
                        task_id = self.task_id,
                        unreachable_for_s = since.elapsed().as_secs(),
                        "the hub is still unreachable after the session's retries ({e}); \
                         the task keeps waiting for it (next try in {}s)",
                        pause.as_secs_f64()
                    );
                    tokio::time::sleep(pause).await;
                }
                other => return other,
            }
        }
    }

    /// Gets a new subsession from the host's session (waiting while the host
    /// loop logs in again) and adopts it in this task's session handle.
    async fn renew_session(&self, host: &ClientSession) -> Result<(), koji::Error> {
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
        let text = &pyjson::dumps(doc);
        let opts = &koji::UploadOptions {
            overwrite: true,
            ..koji::UploadOptions::default()
        };
        let (dir, file) = (&koji::taskrelpath(self.task_id), &format!("{name}.json"));
        self.hub(|s| async move { s.upload_bytes(text.as_bytes(), dir, file, opts).await })
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
    let mut outage = Outage::new(ctx.composer_outage_timeout);

    let name = req.target.as_str();
    let target = ctx
        .hub(|s| async move { s.get_build_target(name, true).await })
        .await?
        .ok_or_else(|| build_error!("Target '{}' not found", req.target))?;

    let build_tag = target.build_tag;
    let buildconfig = ctx
        .hub(|s| async move { s.get_build_config(build_tag).await })
        .await?;
    let tag_arches = buildconfig.arch_list();
    if tag_arches.is_empty() {
        // Upstream's message, typo included (`'%{name}'`).
        return Err(build_error!(
            "Missing arches for tag '%{}'",
            buildconfig.name
        ));
    }
    let unsupported = osbuild_task::arches_missing_from_tag(&req.arches, &tag_arches);
    if !unsupported.is_empty() {
        return Err(build_error!(
            "Unsupported architecture(s): {}",
            python_set_repr(&unsupported)
        ));
    }

    let repos = match user_repos(&req) {
        Some(repos) => repos,
        None => {
            let repo = ctx
                .hub(|s| async move { s.get_repo(build_tag).await })
                .await?
                .ok_or_else(|| build_error!("No repo for tag {}", target.build_tag_name))?;
            let topurl = ctx.topurl.as_deref().ok_or_else(|| {
                build_error!("the builder has no topurl configured ([builder] topurl), so it cannot name the build tag's repo; pass --repo")
            })?;
            vec![tag_repo(topurl, &target.build_tag_name, repo.id)]
        }
    };

    let release = match req.opts.release.clone().filter(|r| !r.is_empty()) {
        Some(release) => release,
        None => {
            let (name, version) = (req.name.as_str(), req.version.as_str());
            ctx.hub(|s| async move { s.get_next_release(name, version).await })
                .await?
        }
    };

    let task_id_u = u64::try_from(task_id)
        .map_err(|_| TaskError::Parameter(format!("task id {task_id} is negative")))?;
    let request = compose_request(&req, &ctx.koji_server, task_id_u, &release, &repos)
        .map_err(|e| TaskError::Build(e.to_string()))?;
    let (cid, started) = match earlier {
        Some((cid, recorded_at)) => {
            // The request went to composer in the earlier run; composer
            // reserved its build, so a new getNextRelease may differ: the
            // attached compose-request.json stays the one composer got.
            let started = compose_started(recorded_at, SystemTime::now(), Instant::now());
            tracing::info!(task_id, compose_id = %cid,
                running_s = started.elapsed().as_secs(), "resuming compose {cid}");
            (cid, started)
        }
        None => {
            ctx.upload_json(&request.to_json(), "compose-request")
                .await?;
            let cid = ctx.composer.compose_create(&request).await?;
            let started = Instant::now();
            tracing::info!(task_id, compose_id = %cid, nvr = %format!("{}-{}-{}", req.name, req.version, release),
                "compose created");
            // Recorded in Koji at once: a rerun of this task (builder
            // restart, another host after a crash) follows this compose.
            let record = json!({"id": cid, "server": ctx.composer.server()});
            ctx.upload_json(&record, COMPOSE_RECORD).await?;
            (cid, started)
        }
    };
    ctx.set_compose(Some(&cid));

    let status = follow_compose(ctx, &cid, started, &mut outage).await?;
    ctx.set_compose(None);
    crate::metrics::get().compose_finished(&status.status.to_string());
    tracing::info!(task_id, compose_id = %cid, status = %status.status, "compose finished");

    let images = request.image_requests.as_deref().unwrap_or_default();
    attach_manifests_and_logs(ctx, &cid, images, &mut outage).await?;

    if !status.is_success() {
        return Err(build_error!("Compose failed (id: {cid})"));
    }
    let build_id = status.koji_build_id().ok_or_else(|| {
        build_error!("Compose {cid} succeeded but composer reports no Koji build id")
    })?;
    let build_id_i = i64::try_from(build_id)
        .map_err(|_| build_error!("Koji build id {build_id} out of range"))?;

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
/// composer, from the task's own `compose.json`, with the time the hub
/// stored that file (about when composer accepted the compose); `None` to
/// create one.
async fn recorded_compose(
    ctx: &TaskContext,
) -> Result<Option<(String, Option<SystemTime>)>, TaskError> {
    let id = ctx.task_id;
    let file = &format!("{COMPOSE_RECORD}.json");
    let files = ctx
        .hub(|s| async move { s.list_task_output_stat(id).await })
        .await?;
    let Some(stat) = files.get(file) else {
        return Ok(None);
    };
    let recorded_at = stat
        .st_mtime
        .filter(|t| t.is_finite() && *t > 0.0)
        .and_then(|t| Duration::try_from_secs_f64(t).ok())
        .and_then(|d| SystemTime::UNIX_EPOCH.checked_add(d));
    let bytes = ctx
        .hub(|s| async move { s.download_task_output(id, file, 0, None).await })
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
    Ok(Some((cid.to_string(), recorded_at)))
}

/// When a resumed compose started, on this process's clock: `recorded_at`
/// (the hub's time of compose.json) if it is in the past of `now_wall`,
/// else now. Composer's API does not tell when a compose started.
fn compose_started(recorded_at: Option<SystemTime>, now_wall: SystemTime, now: Instant) -> Instant {
    recorded_at
        .and_then(|t| now_wall.duration_since(t).ok())
        .and_then(|age| now.checked_sub(age))
        .unwrap_or(now)
}

/// Seconds as a person reads them: `3`, `0.5`, `86400`.
fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 10.0 {
        format!("{}", s.round())
    } else {
        format!("{}", (s * 10.0).round() / 10.0)
    }
}

/// A composer request failed while the task follows its compose: how long
/// to wait before the next try, or the error that ends the task (a failure
/// that is not an outage, or an outage that lasted too long).
fn composer_trouble(
    ctx: &TaskContext,
    cid: &str,
    outage: &mut Outage,
    error: composer::Error,
    doing: &str,
) -> Result<Duration, TaskError> {
    if !error.is_transient() {
        return Err(error.into());
    }
    match outage.failed(Instant::now()) {
        OutageStep::Retry(pause) => {
            let pause = composer::jittered(pause, 0.1);
            tracing::warn!(task_id = ctx.task_id, compose_id = %cid,
                failing_for_s = outage.lasted(Instant::now()).as_secs(),
                "composer failed while {doing} compose {cid} ({error}); trying again in {}s",
                secs(pause));
            Ok(pause)
        }
        OutageStep::GiveUp { lasted } => Err(build_error!(
            "composer {server} kept failing for {lasted} s while {doing} compose {cid}, \
             longer than composer_outage_timeout = {limit} s; last error: {error}",
            server = ctx.composer.server(),
            lasted = secs(lasted),
            limit = secs(ctx.composer_outage_timeout),
        )),
    }
}

/// A composer request made patiently: transient failures are tried again
/// (see [`composer_trouble`]); other failures are only a warning, as
/// upstream's for logs and manifests, and give `None`.
async fn fetch<T, F, Fut>(
    ctx: &TaskContext,
    cid: &str,
    outage: &mut Outage,
    what: &str,
    request: F,
) -> Result<Option<T>, TaskError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, composer::Error>>,
{
    loop {
        match request().await {
            Ok(v) => {
                outage.succeeded();
                return Ok(Some(v));
            }
            Err(e) if e.is_transient() => {
                let doing = format!("fetching the {what} of");
                let pause = composer_trouble(ctx, cid, outage, e, &doing)?;
                tokio::time::sleep(pause).await;
            }
            Err(e) => {
                tracing::warn!(task_id = ctx.task_id, compose_id = %cid, "Failed to fetch {what}: {e}");
                return Ok(None);
            }
        }
    }
}

/// The compose ran longer than compose_timeout: cancel it in composer.
async fn cancel_overdue(ctx: &TaskContext, cid: &str, limit: Duration) -> TaskError {
    let limit = secs(limit);
    tracing::warn!(task_id = ctx.task_id, compose_id = %cid,
        "compose {cid} exceeded compose_timeout = {limit} s; canceling it");
    let outcome = match ctx.composer.compose_delete(cid).await {
        Ok(_) => {
            crate::metrics::get().compose_finished("canceled");
            " and was cancelled".to_string()
        }
        Err(e) => format!("; cancelling it in composer failed: {e}"),
    };
    build_error!("compose {cid} exceeded compose_timeout = {limit} s{outcome}")
}

/// Follows the compose, attaching compose-status.json each time the status
/// changes (upstream uploads it after every poll; the content is the same).
/// Composer outages are waited out (up to composer_outage_timeout); a
/// compose running past compose_timeout since `started` is canceled.
async fn follow_compose(
    ctx: &TaskContext,
    cid: &str,
    started: Instant,
    outage: &mut Outage,
) -> Result<ComposeStatus, TaskError> {
    let mut watch = ctx
        .composer
        .watch_compose(cid, ctx.poll_interval)
        .jittered(POLL_JITTER);
    let deadline = ctx
        .compose_timeout
        .map(|limit| (limit, started.checked_add(limit)));
    // Waits for `work` unless the deadline comes first.
    macro_rules! before_deadline {
        ($work:expr) => {
            match deadline {
                Some((limit, Some(at))) => tokio::select! {
                    biased;
                    _ = tokio::time::sleep_until(at.into()) => {
                        return Err(cancel_overdue(ctx, cid, limit).await)
                    }
                    r = $work => r,
                },
                _ => $work.await,
            }
        };
    }
    loop {
        match before_deadline!(watch.next_change()) {
            Some(Ok(status)) => {
                outage.succeeded();
                tracing::info!(task_id = ctx.task_id, compose_id = %cid, status = %status.status,
                    "compose status");
                ctx.upload_json(&status.to_upstream_json(), "compose-status")
                    .await?;
                if status.is_finished() {
                    return Ok(status);
                }
            }
            Some(Err(e)) => {
                let pause = composer_trouble(ctx, cid, outage, e, "following")?;
                before_deadline!(tokio::time::sleep(pause));
            }
            None => return Err(build_error!("lost track of compose {cid}")),
        }
    }
}

/// Upstream's `attach_manifests` and `attach_logs`: one
/// `<arch>-<image_type>.manifest.json` and `<arch>-<image_type>.log.json`
/// per image request, koji-init.log.json and koji-import.log.json; a
/// failure to fetch them is only a warning.
async fn attach_manifests_and_logs(
    ctx: &TaskContext,
    cid: &str,
    images: &[ImageRequest],
    outage: &mut Outage,
) -> Result<(), TaskError> {
    let name = |i: &ImageRequest, what: &str| format!("{}-{}.{what}", i.architecture, i.image_type);
    let composer = &ctx.composer;
    if let Some(m) = fetch(ctx, cid, outage, "manifests", || {
        composer.compose_manifests(cid)
    })
    .await?
    {
        for (manifest, image) in m.manifests.iter().zip(images) {
            ctx.upload_json(manifest, &name(image, "manifest")).await?;
        }
    }
    let Some(logs) = fetch(ctx, cid, outage, "logs", || composer.compose_logs(cid)).await? else {
        return Ok(());
    };
    if let Some(init) = logs.koji_init() {
        ctx.upload_json(init, "koji-init.log").await?;
    }
    if let Some(import) = logs.koji_import() {
        ctx.upload_json(import, "koji-import.log").await?;
    }
    for (log, image) in logs.image_builds.iter().zip(images) {
        ctx.upload_json(log, &name(image, "log")).await?;
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
        tokio::select! {
            _ = ctx.alert.notified() => {}
            _ = tokio::time::sleep(SUBTASK_WAIT_FALLBACK) => {}
        }
    }
    let results = ctx
        .hub(|s| async move { s.host().task_wait_results(id, &[child], None).await })
        .await?;
    match results.into_iter().find_map(|(_, result)| result.err()) {
        Some(fault) => Err(TaskError::Subtask(fault)),
        None => Ok(()),
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
    fn unreachable_hub_is_told_from_other_failures() {
        let fault = |kind| koji::Error::Fault {
            kind,
            code: 0,
            message: "m".into(),
        };
        assert!(is_hub_unreachable(&fault(koji::FaultKind::ServerOffline)));
        assert!(!is_hub_unreachable(&fault(koji::FaultKind::GenericError)));
        assert!(!is_hub_unreachable(&fault(koji::FaultKind::AuthError)));
        let http = |status| koji::Error::Http {
            url: "http://hub/kojihub".into(),
            status,
            body: String::new(),
        };
        assert!(is_hub_unreachable(&http(502)));
        assert!(is_hub_unreachable(&http(503)));
        assert!(!is_hub_unreachable(&http(405)));
        assert!(!is_hub_unreachable(&http(404)));
    }

    #[test]
    fn a_resumed_compose_counts_from_its_record() {
        let now = Instant::now();
        let wall = SystemTime::now();
        let ten_min = Duration::from_secs(600);
        let started = compose_started(Some(wall - ten_min), wall, now);
        assert_eq!(now.duration_since(started), ten_min);
        // a record from the future (clock skew) or none: from now
        assert_eq!(compose_started(Some(wall + ten_min), wall, now), now);
        assert_eq!(compose_started(None, wall, now), now);
    }

    #[test]
    fn seconds_read_well() {
        assert_eq!(secs(Duration::from_secs(3)), "3");
        assert_eq!(secs(Duration::from_millis(3240)), "3.2");
        assert_eq!(secs(Duration::from_millis(500)), "0.5");
        assert_eq!(secs(Duration::from_secs(86400)), "86400");
        assert_eq!(secs(Duration::from_millis(1800400)), "1800");
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
