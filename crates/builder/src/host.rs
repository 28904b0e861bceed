//! The Koji host loop, as kojid runs it on Koji >= 1.34 (koji/daemon.py,
//! `TaskManager`, and the host calls recorded in testing/koji-captures):
//! log in, take an exclusive session, free OPEN tasks left from a previous
//! run, then poll — updateHost heartbeat, getTasks, openTask, setTaskWeight,
//! subsession — and run each task as an async task with its own
//! cancellation, closing or failing it over its subsession. When the hub
//! ends the host's session the loop logs in again (kojid re-logs in too);
//! tasks keep running and renew their subsession on their next hub call.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use koji::{Call, ClientSession, FaultKind, TaskInfo, TaskState, Value};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::config::{HostAuth, Settings};
use crate::error::TaskError;
use crate::osbuild::{self, TaskContext};
use crate::tagbuild;

/// The task methods this host handles (sent as `data.methods`).
pub const METHODS: [&str; 2] = [osbuild_task::METHOD, "tagBuild"];

/// kojid's weight for tasks whose handler sets none.
const DEFAULT_WEIGHT: f64 = 1.0;

/// Calls per multiCall when the loop asks about many tasks at once: one
/// round trip instead of one per task, without one huge hub transaction.
const MULTICALL_BATCH: usize = 100;

/// Why the daemon stopped.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("cannot set up the Koji session for {hub}: {source}")]
    Session {
        hub: String,
        #[source]
        source: koji::Error,
    },
    #[error("cannot log in to {hub} as the builder host: {source}")]
    Login {
        hub: String,
        #[source]
        source: koji::Error,
    },
    #[error("the hub {hub} knows no user for Kerberos principal {principal}: add the host with it (koji add-host --krb-principal {principal} HOST ARCHES, or the hub's HostPrincipalFormat), or fix host_principal_format / krb_principal")]
    UnknownPrincipal { hub: String, principal: String },
    /// The TLS handshake with the hub failed over a certificate: the one
    /// line names the hub, the CA file and the client certificate in use.
    #[error("cannot log in to {hub} as the builder host: TLS certificate problem ({detail}); the hub's certificate was checked against {ca}{client}")]
    HubCertificate {
        hub: String,
        detail: String,
        /// "serverca <file>" or "the system CAs (no serverca set)".
        ca: String,
        /// ", client certificate <file>" or "".
        client: String,
    },
    #[error("cannot get an exclusive session on {hub} (is another builder running as this host? set [builder] force_exclusive = true to take over): {source}")]
    Exclusive {
        hub: String,
        #[source]
        source: koji::Error,
    },
    #[error("the hub ended this host's session: {0}")]
    SessionLost(#[source] koji::Error),
    #[error("another process took over this host's exclusive session on {hub} (it runs the host's tasks now); leaving")]
    TakenOver { hub: String },
    #[error("cannot set up the composer client: {0}")]
    Composer(#[from] composer::Error),
}

/// One running task.
struct RunningTask {
    method: String,
    weight: f64,
    cancel: watch::Sender<bool>,
    waiting: Arc<AtomicBool>,
    alert: Arc<Notify>,
    handle: JoinHandle<()>,
}

/// The builder host.
pub struct Builder {
    settings: Settings,
    session: ClientSession,
    composer: composer::Client,
    host_id: i64,
    /// The tasks this process runs, by task id.
    tasks: HashMap<i64, RunningTask>,
    wake: Arc<Notify>,
}

impl Builder {
    /// Logs in as the host, takes the exclusive session and frees the OPEN
    /// tasks a previous run of this host left behind.
    pub async fn start(settings: Settings) -> Result<Builder, HostError> {
        let hub = settings.hub.clone();
        // Every exchange with composer and the hub (tasks' subsessions
        // included) is counted in the metrics.
        let composer = composer::Client::new(composer::ClientOptions {
            observer: Some(crate::metrics::composer_observer()),
            ..settings.composer.clone()
        })?;
        let koji_options = koji::Options {
            observer: Some(crate::metrics::hub_observer()),
            ..settings.koji_options()
        };
        let session =
            ClientSession::new(&hub, koji_options).map_err(|source| HostError::Session {
                hub: hub.clone(),
                source,
            })?;
        log_in(&session, &settings, settings.force_exclusive).await?;
        let host = session.host();
        let host_id = host.get_id().await.map_err(HostError::SessionLost)?;
        tracing::info!(hub = %hub, host_id, capacity = settings.capacity,
            composer = %composer.server(), "logged in as builder host");

        // Tasks still OPEN for this host were run by a process that is gone
        // (killed, crashed): give them back to the scheduler so none is lost.
        let leftover = host
            .get_host_tasks()
            .await
            .map_err(HostError::SessionLost)?;
        let leftover: Vec<i64> = leftover.iter().map(|t| t.id).collect();
        free_tasks(&host, &leftover, "left open by a previous run")
            .await
            .map_err(HostError::SessionLost)?;
        Ok(Builder {
            settings,
            session,
            composer,
            host_id,
            tasks: HashMap::new(),
            wake: Arc::new(Notify::new()),
        })
    }

    /// The host id on the hub.
    pub fn host_id(&self) -> i64 {
        self.host_id
    }

    /// Runs the loop until `shutdown` completes, then shuts down as kojid
    /// does on SIGTERM: running tasks freed, host not ready, logout.
    pub async fn run<F: Future<Output = ()>>(mut self, shutdown: F) -> Result<(), HostError> {
        tokio::pin!(shutdown);
        // systemd's watchdog (if WatchdogSec=) is fed from its own task while
        // the loop is alive, also during a pass that waits out a hub outage
        // in the session's retries; a loop that hangs stops feeding it.
        let heartbeat = crate::notify::Heartbeat::default();
        let feeder = crate::notify::spawn_watchdog(heartbeat.clone(), self.session.clone());
        let result = loop {
            heartbeat.beat();
            let took = match self.poll().await {
                Ok(took) => took,
                Err(e) if osbuild::is_session_lost(&e) || !self.session.is_logged_in() => {
                    if let Err(fatal) = self.log_in_again(&e).await {
                        break Err(fatal);
                    }
                    false
                }
                Err(e) => {
                    tracing::warn!("host loop: {e}");
                    false
                }
            };
            // kojid polls again right away after taking a task.
            let pause = if took {
                Duration::ZERO
            } else {
                self.settings.sleeptime
            };
            heartbeat.rest(pause);
            tokio::select! {
                _ = &mut shutdown => break Ok(()),
                _ = tokio::time::sleep(pause) => {}
                _ = self.wake.notified() => {}
            }
        };
        heartbeat.beat();
        self.shutdown().await;
        if let Some(feeder) = feeder {
            feeder.abort();
        }
        result
    }

    /// The hub ended the host's session (logged out by an admin, expired,
    /// or closed by a forced exclusiveSession elsewhere): log in again, as
    /// kojid does, instead of leaving. Running tasks keep running; each gets
    /// a new subsession when it next talks to the hub (TaskContext::hub).
    ///
    /// The exclusive session is asked for without force: if another
    /// process of this host holds it (it forced it away from us), that
    /// process won and this one leaves, instead of the two stealing the
    /// session from each other forever.
    async fn log_in_again(&mut self, lost: &koji::Error) -> Result<(), HostError> {
        tracing::warn!(hub = %self.settings.hub, "the hub ended this host's session ({lost}); logging in again");
        self.session.set_session(None);
        match log_in(&self.session, &self.settings, false).await {
            Ok(()) => {
                tracing::info!(
                    hub = %self.settings.hub,
                    running = self.tasks.len(),
                    "logged in as builder host again"
                );
                Ok(())
            }
            Err(HostError::Exclusive { hub, source })
                if source.is_fault(FaultKind::AuthLockError) =>
            {
                tracing::debug!("exclusiveSession: {source}");
                Err(HostError::TakenOver { hub })
            }
            Err(e) => {
                tracing::warn!("logging in again failed (next try after the pause): {e}");
                Ok(())
            }
        }
    }

    /// One pass of the loop; `true` if a task was taken.
    async fn poll(&mut self) -> Result<bool, koji::Error> {
        self.tasks.retain(|_, t| !t.handle.is_finished());
        let host = self.session.host();

        // Tasks that left our OPEN list (canceled, reassigned) are stopped;
        // OPEN tasks we do not run are freed, as kojid does.
        let host_tasks = host.get_host_tasks().await?;
        // A waiting task the hub flags has a finished subtask: wake it.
        for t in host_tasks.iter().filter(|t| t.alert) {
            if let Some(running) = self.tasks.get(&t.id) {
                running.alert.notify_one();
            }
        }
        let open: Vec<i64> = host_tasks.into_iter().map(|t| t.id).collect();
        let open_set: HashSet<i64> = open.iter().copied().collect();
        let mut left: Vec<i64> = self.ids();
        left.retain(|id| !open_set.contains(id));
        let calls: Vec<Call> = left
            .iter()
            .map(|id| Call::new("getTaskInfo", vec![Value::Int(*id)]))
            .collect();
        let infos = self.multi_call(&calls).await?;
        for (id, info) in left.into_iter().zip(infos) {
            let info = optional_task(info?)?;
            let ours = info
                .as_ref()
                .is_some_and(|t| t.state == TaskState::Open && t.host_id == Some(self.host_id));
            // Only the host that holds a task can close or fail it, so a
            // CLOSED or FAILED one was ended by its own worker, which is
            // finishing: nothing to stop and nothing to report.
            let ended_here = info
                .as_ref()
                .is_some_and(|t| matches!(t.state, TaskState::Closed | TaskState::Failed));
            if !ours && !ended_here {
                let state = info.map_or("gone".to_string(), |t| t.state.to_string());
                tracing::info!(task_id = id, state = %state, "task no longer ours: stopping it");
                self.cancel(id);
            }
        }
        let unknown: Vec<i64> = open
            .into_iter()
            .filter(|id| !self.tasks.contains_key(id))
            .collect();
        free_tasks(&host, &unknown, "open but not running here").await?;

        // Tasks only waiting for subtasks do not count against the capacity
        // or the load (kojid's task_load). The hub counts them against
        // maxjobs, so that is raised by them: a parent waiting for its
        // tagBuild child leaves room for it.
        let capacity = self.settings.capacity;
        let weights: Vec<f64> = self
            .tasks
            .values()
            .filter(|t| !t.waiting.load(Ordering::SeqCst))
            .map(|t| t.weight)
            .collect();
        let active = weights.len();
        let ready = active < capacity;
        let waiting = self.tasks.len() - active;
        let methods = Value::Array(METHODS.iter().map(|m| Value::from(*m)).collect());
        let maxjobs = Value::Int((capacity + waiting) as i64);
        let data = Value::from_pairs([("methods", methods), ("maxjobs", maxjobs)]);
        host.update_host(weights.iter().sum(), ready, Some(data))
            .await?;
        if !ready {
            return Ok(false);
        }

        let room = capacity - active;
        let assigned: Vec<i64> = host
            .get_tasks()
            .await?
            .into_iter()
            .filter(|t| t.state == TaskState::Assigned && !self.tasks.contains_key(&t.id))
            .map(|t| t.id)
            .take(room)
            .collect();
        self.take_all(&assigned).await
    }

    /// The ids of the tasks this process runs, in order.
    fn ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self.tasks.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    fn cancel(&self, id: i64) {
        if let Some(t) = self.tasks.get(&id) {
            let _ = t.cancel.send(true);
        }
    }

    /// Runs the calls as multiCalls of at most [`MULTICALL_BATCH`] on the
    /// host's session; one result per call.
    async fn multi_call(
        &self,
        calls: &[Call],
    ) -> Result<Vec<Result<Value, koji::Fault>>, koji::Error> {
        let mut results = Vec::with_capacity(calls.len());
        for batch in calls.chunks(MULTICALL_BATCH) {
            results.extend(self.session.multi_call(batch).await?);
        }
        Ok(results)
    }

    /// Takes the ASSIGNED tasks `ids` as kojid takes each (getTaskInfo,
    /// refuse or openTask, setTaskWeight), but with one multiCall per step
    /// for all of them: a thousand tasks assigned at once start in a few
    /// round trips instead of three per task. Then a subsession and a
    /// worker for each task opened. `true` if any task was taken.
    async fn take_all(&mut self, ids: &[i64]) -> Result<bool, koji::Error> {
        if ids.is_empty() {
            return Ok(false);
        }
        let host = self.session.host();
        let request = koji::Struct::from_iter([("request".to_string(), Value::Bool(true))]);
        let calls: Vec<Call> = ids
            .iter()
            .map(|id| Call::with_kwargs("getTaskInfo", vec![Value::Int(*id)], request.clone()))
            .collect();
        let mut handled = Vec::new();
        for (&id, info) in ids.iter().zip(self.multi_call(&calls).await?) {
            let Some(info) = optional_task(info?)? else {
                continue;
            };
            if !METHODS.contains(&info.method.as_str()) {
                host.refuse_task(id, false, "no handler for method").await?;
                tracing::info!(task_id = id, method = %info.method, "task refused: no handler for method");
                continue;
            }
            let weight = if info.method == osbuild_task::METHOD {
                osbuild::WEIGHT
            } else {
                DEFAULT_WEIGHT
            };
            handled.push((id, info, weight));
        }
        // openTask, then setTaskWeight, per task (each call of a multiCall
        // succeeds or fails on its own).
        let calls: Vec<Call> = handled
            .iter()
            .flat_map(|(id, _, weight)| {
                let (id, weight) = (Value::Int(*id), Value::from(*weight));
                let open = Call::new("host.openTask", vec![id.clone()]);
                [open, Call::new("host.setTaskWeight", vec![id, weight])]
            })
            .collect();
        let mut replies = self.multi_call(&calls).await?.into_iter();
        let mut took = false;
        for (id, info, weight) in handled {
            let (Some(opened), Some(weighed)) = (replies.next(), replies.next()) else {
                break;
            };
            let Some(opened) = optional_task(opened?)? else {
                tracing::debug!(task_id = id, "task taken by someone else meanwhile");
                continue;
            };
            if let Err(fault) = weighed {
                if fault.kind() == FaultKind::ActionNotAllowed {
                    tracing::info!(
                        task_id = id,
                        "task reassigned or canceled before it started"
                    );
                    continue;
                }
                return Err(fault.into());
            }
            self.take(id, info, opened, weight).await?;
            took = true;
        }
        Ok(took)
    }

    /// Starts an opened task: subsession, worker, an entry in the table.
    async fn take(
        &mut self,
        id: i64,
        info: TaskInfo,
        opened: TaskInfo,
        weight: f64,
    ) -> Result<(), koji::Error> {
        let params = opened.request_params().or_else(|| info.request_params());
        let params = params.transpose()?.unwrap_or_default();
        let subsession = self.session.subsession().await?;
        let (cancel, cancelled) = watch::channel(false);
        let ctx = TaskContext::new(
            id,
            subsession,
            Some(self.session.clone()),
            self.composer.clone(),
            &self.settings,
        );
        let (waiting, alert) = (ctx.waiting.clone(), ctx.alert.clone());
        let worker = Worker {
            method: info.method.clone(),
            params,
            ctx,
        };
        let wake = self.wake.clone();
        tracing::info!(task_id = id, method = %info.method, "task opened");
        let running = crate::metrics::get().task_started(&info.method);
        let handle = tokio::spawn(async move {
            // Counted as running until the worker ends or is aborted.
            let _running = running;
            worker.run(cancelled).await;
            wake.notify_one();
        });
        let task = RunningTask {
            method: info.method,
            weight,
            cancel,
            waiting,
            alert,
            handle,
        };
        self.tasks.insert(id, task);
        Ok(())
    }

    /// Stops within [`SHUTDOWN_TIMEOUT`] whatever the hub does. The
    /// workers are stopped where they are, with no hub call each (their
    /// subsessions end with the host's logout; their composes keep running
    /// in composer for the task's rerun); then one try to tell the hub,
    /// bounded as a whole: Koji's retries (`max_retries`, `retry_interval`)
    /// would keep an unreachable hub's farewell going for hours, and
    /// systemd kills after 90 s. What is not said is fixed on the next
    /// start, which frees this host's leftover OPEN tasks.
    async fn shutdown(mut self) {
        let ids = self.ids();
        tracing::info!(running = ids.len(), "shutting down");
        for (id, t) in self.tasks.drain() {
            t.handle.abort();
            tracing::debug!(task_id = id, method = %t.method, "task stopped (shutdown)");
        }
        let farewell = async {
            let host = self.session.host();
            // Freed tasks go back to the scheduler; another host (or this
            // one after a restart) runs them again.
            host.free_tasks(&ids)
                .await
                .map_err(|e| format!("freeing the running tasks failed: {e}"))?;
            for id in &ids {
                tracing::info!(task_id = id, "task freed (shutdown)");
            }
            host.update_host(0.0, false, None)
                .await
                .map_err(|e| format!("marking the host not ready failed: {e}"))?;
            self.session
                .logout()
                .await
                .map_err(|e| format!("logout failed: {e}"))
        };
        let leaving = match tokio::time::timeout(SHUTDOWN_TIMEOUT, farewell).await {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e,
            Err(_) => format!(
                "the hub did not answer within {} s",
                SHUTDOWN_TIMEOUT.as_secs()
            ),
        };
        tracing::warn!(
            "{leaving}; leaving without logging out (tasks left OPEN are freed by the next start)"
        );
    }
}

/// How long the stop may spend telling the hub (freeTasks, updateHost,
/// logout) before the process leaves anyway: the whole stop stays within
/// 5 s, with any number of tasks running.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(4);

/// freeTasks for `ids`, if there are any, each logged with why.
async fn free_tasks(host: &koji::Host<'_>, ids: &[i64], why: &str) -> Result<(), koji::Error> {
    if !ids.is_empty() {
        host.free_tasks(ids).await?;
        for id in ids {
            tracing::info!(task_id = id, "task freed ({why})");
        }
    }
    Ok(())
}

/// A getTaskInfo or openTask reply: `None` for nil.
fn optional_task(v: Value) -> Result<Option<TaskInfo>, koji::Error> {
    (!v.is_nil()).then(|| koji::from_value(v)).transpose()
}

/// A failed login as the host; certificate trouble names the files in use.
fn login_error(settings: &Settings, source: koji::Error) -> HostError {
    let hub = settings.hub.clone();
    match &source {
        koji::Error::Transport { detail, .. } if detail.to_lowercase().contains("certificate") => {
            HostError::HubCertificate {
                hub,
                detail: detail.clone(),
                ca: match &settings.serverca {
                    Some(ca) => format!("serverca {}", ca.display()),
                    None => "the system CAs (no serverca set in [builder])".to_string(),
                },
                client: match &settings.auth {
                    HostAuth::Certificate { cert, .. } => {
                        format!(", client certificate {}", cert.display())
                    }
                    HostAuth::Password { .. } | HostAuth::Kerberos(_) => String::new(),
                },
            }
        }
        koji::Error::Fault {
            kind: FaultKind::AuthError,
            message,
            ..
        } if message.starts_with("Unknown user: ") => HostError::UnknownPrincipal {
            hub,
            principal: message["Unknown user: ".len()..].to_string(),
        },
        _ => HostError::Login { hub, source },
    }
}

/// login or sslLogin, then the exclusive session every host.* call needs.
async fn log_in(
    session: &ClientSession,
    settings: &Settings,
    force_exclusive: bool,
) -> Result<(), HostError> {
    let login = match &settings.auth {
        HostAuth::Password { user, password } => session.login(user, password).await,
        HostAuth::Certificate { .. } => session.ssl_login().await,
        HostAuth::Kerberos(login) => session.gssapi_login(login.clone()).await,
    };
    login.map_err(|source| login_error(settings, source))?;
    session
        .exclusive_session(force_exclusive)
        .await
        .map_err(|source| HostError::Exclusive {
            hub: settings.hub.clone(),
            source,
        })
}

/// One task, on its own subsession.
struct Worker {
    method: String,
    params: Vec<Value>,
    ctx: TaskContext,
}

impl Worker {
    async fn run(self, mut cancelled: watch::Receiver<bool>) {
        let (ctx, id) = (&self.ctx, self.ctx.task_id);
        let outcome = tokio::select! {
            r = self.handle() => Some(r),
            _ = cancelled.wait_for(|c| *c) => None,
        };
        match outcome {
            None => {
                tracing::info!(task_id = id, method = %self.method, "task stopped");
                cancel_compose_if_canceled(ctx).await;
            }
            Some(Ok(result)) => {
                let result = &result;
                let closed = ctx
                    .hub(|s| async move { s.host().close_task(id, result).await })
                    .await;
                match closed {
                    Ok(()) => {
                        tracing::info!(task_id = id, method = %self.method, result = %result, "task closed")
                    }
                    Err(e) => tracing::warn!(task_id = id, "closing the task failed: {e}"),
                }
            }
            Some(Err(err)) => {
                let fault = &err.to_fault();
                let failed = ctx
                    .hub(|s| async move { s.host().fail_task(id, fault).await })
                    .await;
                match failed {
                    Ok(()) => {
                        tracing::info!(task_id = id, method = %self.method, fault = %fault, "task failed")
                    }
                    // The hub refuses once the task is not OPEN for us any
                    // more (canceled meanwhile): the call or upload that
                    // failed the task was the task noticing it.
                    Err(e) if e.is_fault(FaultKind::ActionNotAllowed) => {
                        tracing::info!(
                            task_id = id,
                            method = %self.method,
                            "task stopped: no longer ours (canceled or reassigned)"
                        );
                        cancel_compose_if_canceled(ctx).await;
                    }
                    Err(e) => {
                        tracing::warn!(task_id = id, fault = %fault, "failing the task failed: {e}")
                    }
                }
            }
        }
        if let Err(e) = ctx.session.logout().await {
            tracing::debug!(task_id = id, "subsession logout: {e}");
        }
    }

    async fn handle(&self) -> Result<Value, TaskError> {
        match self.method.as_str() {
            osbuild_task::METHOD => osbuild::handle(&self.ctx, &self.params).await,
            "tagBuild" => tagbuild::handle(&self.ctx, &self.params).await,
            other => Err(TaskError::Parameter(format!(
                "no handler for method {other}"
            ))),
        }
    }
}

/// A task canceled in Koji (cancelTask by its owner or an admin, or
/// its parent's cancel) cancels the compose it follows in composer. A
/// task only freed or reassigned (shutdown, another host) leaves the
/// compose running: the rerun of the task follows it (compose.json).
pub async fn cancel_compose_if_canceled(ctx: &TaskContext) {
    let Some(cid) = ctx.compose() else {
        return;
    };
    let id = ctx.task_id;
    let info = ctx.hub(|s| async move { s.get_task_info(id, false).await });
    let state = match info.await {
        Ok(info) => info.map(|t| t.state),
        Err(e) => {
            tracing::warn!(task_id = id, compose_id = %cid,
                "cannot tell whether the task was canceled ({e}); leaving its compose running");
            return;
        }
    };
    if state != Some(TaskState::Canceled) {
        tracing::debug!(task_id = id, compose_id = %cid, "task not canceled: compose left running");
        return;
    }
    match ctx.composer.compose_delete(&cid).await {
        Ok(_) => {
            crate::metrics::get().compose_finished("canceled");
            tracing::info!(task_id = id, compose_id = %cid,
                "task canceled: compose {cid} canceled in composer")
        }
        Err(e) => tracing::warn!(task_id = id, compose_id = %cid,
            "task canceled, but canceling compose {cid} in composer failed: {e}"),
    }
}

#[cfg(test)]
mod tests;
