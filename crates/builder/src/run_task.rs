//! `koji-osbuild-builder run-task TASK_ID`: one osbuildImage task for
//! kojid's plugin (plugins/builder/osbuild.py), on kojid's own task
//! session, through the same [`osbuild::handle`] the daemon runs.
//!
//! kojid forked a task process for the task, opened it and gave it a
//! subsession; the plugin in that process starts this command and hands it
//! the session over an inherited pipe (`--session-fd`), never argv or the
//! environment, where other users of the host could read it. kojid keeps
//! its own jobs: closeTask or failTask with what this command prints, the
//! tagBuild subtask (its main loop runs it), waking the waiting task
//! (SIGUSR2, passed on by the plugin), and killing the task on cancel or
//! shutdown (SIGINT, then SIGTERM, then SIGKILL, see `cleanupTask` in
//! koji/daemon.py).
//!
//! What it prints on stdout, one JSON line, whatever happened after the
//! session was read:
//!
//! - `{"result": …, "callnum": N}`: the task result, for closeTask;
//! - `{"fault": {"code": C, "message": M}, "callnum": N}`: the fault for
//!   failTask, as the daemon would send it;
//! - `{"stopped": true, "callnum": N}`: kojid stopped the task (SIGINT or
//!   SIGTERM); neither close nor fail it.
//!
//! `callnum` is the number the task session's next call must carry: the
//! hub refuses a call whose number is lower than one it has seen, so the
//! plugin continues from there.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use std::io::Write;

use koji::{ClientSession, SessionInfo};
use serde::Deserialize;
use serde_json::json;
use tokio::signal::unix::{signal, SignalKind};

use crate::cli::ConfigArgs;
use crate::error::TaskError;
use crate::osbuild::{self, TaskContext};

/// How long a stopped task may spend finding out whether it was canceled
/// and canceling its compose. kojid waits 3 s after its SIGINT before it
/// looks again (then SIGTERM, SIGKILL): a hub or composer that does not
/// answer by then leaves the compose running, as the daemon does when it
/// cannot tell.
const STOP_TIMEOUT: Duration = Duration::from_millis(2500);

#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Not for people: kojid's osbuild plugin runs it for each osbuildImage task, \
                  with the task's session on the inherited file descriptor --session-fd as \
                  JSON: {\"hub\": URL, \"session-id\": N, \"session-key\": KEY, \"callnum\": N, \
                  \"header-auth\": BOOL}. It prints one JSON line: {\"result\": ...}, \
                  {\"fault\": {\"code\": N, \"message\": TEXT}} or {\"stopped\": true}, each \
                  with the session's next \"callnum\"."
)]
pub struct RunTaskArgs {
    /// The osbuildImage task, opened by kojid for this host
    #[arg(value_name = "TASK_ID")]
    pub task_id: i64,
    /// The inherited file descriptor to read the task's session from
    #[arg(long, value_name = "FD")]
    pub session_fd: u32,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// What the plugin writes on the session pipe: kojid's task session.
#[derive(Deserialize)]
struct HandedSession {
    /// The hub URL kojid's session talks to.
    hub: String,
    #[serde(flatten)]
    session: SessionInfo,
}

/// Reads the session from the inherited descriptor. Through /dev/fd, so
/// that no unsafe fd adoption is needed; the pipe is read to its end.
fn read_session(fd: u32) -> anyhow::Result<HandedSession> {
    let path = PathBuf::from(format!("/dev/fd/{fd}"));
    let bytes = std::fs::read(&path).map_err(|e| {
        anyhow::anyhow!("cannot read the task session from file descriptor {fd}: {e}")
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        // serde's message names the field, never the value.
        anyhow::anyhow!("the task session on file descriptor {fd} is not usable: {e}")
    })
}

/// Runs the task and writes its outcome to `out`; exit status 0. `Err`
/// only before the session was read (nothing was said to the hub on it)
/// or when `out` cannot be written.
pub async fn run(args: &RunTaskArgs, out: &mut impl Write) -> anyhow::Result<u8> {
    // Registered first: from here on SIGINT/SIGTERM are kojid stopping
    // the task, not the end of this process.
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut usr2 = signal(SignalKind::user_defined2())?;
    let handed = read_session(args.session_fd)?;
    let session_id = handed.session.id;
    let setup = || -> Result<(ClientSession, TaskContext), TaskError> {
        let settings = args
            .config
            .load()
            .map_err(|e| TaskError::Build(e.to_string()))?;
        let session =
            ClientSession::resume(&handed.hub, settings.koji_options(), handed.session.clone())?;
        let composer = composer::Client::new(settings.composer.clone())?;
        // kojid re-logs in itself; a task whose session is gone just ends.
        let ctx = TaskContext::new(args.task_id, session.clone(), None, composer, &settings);
        Ok((session, ctx))
    };
    let (session, ctx) = match setup() {
        Ok(both) => both,
        Err(e) => {
            print_outcome(out, &fault_doc(&e), handed.session.callnum)?;
            return Ok(0);
        }
    };
    tracing::info!(
        task_id = args.task_id,
        session_id,
        "running the task for kojid"
    );
    let work = async {
        let id = ctx.task_id;
        let info = ctx
            .hub(|s| async move { s.get_task_info(id, true).await })
            .await?
            .ok_or_else(|| TaskError::Parameter(format!("no such task: {id}")))?;
        if info.method != osbuild_task::METHOD {
            return Err(TaskError::Parameter(format!(
                "task {id} is a {} task, not {}",
                info.method,
                osbuild_task::METHOD
            )));
        }
        let params = info.request_params().transpose()?.unwrap_or_default();
        osbuild::handle(&ctx, &params).await
    };
    tokio::pin!(work);
    let outcome = loop {
        tokio::select! {
            r = &mut work => break Some(r),
            _ = int.recv() => break None,
            _ = term.recv() => break None,
            // kojid's main loop wakes a waiting task with SIGUSR2 when the
            // hub flags it (a subtask finished); the plugin passes it on.
            _ = usr2.recv() => ctx.alert.notify_one(),
        }
    };
    let doc = match outcome {
        Some(Ok(result)) => {
            tracing::info!(task_id = ctx.task_id, result = %result, "task done");
            json!({"result": koji::value_to_json(&result)})
        }
        Some(Err(e)) => {
            // A task canceled meanwhile fails here (kojid's failTask will be
            // refused); its compose goes as in the daemon.
            stop_compose(&ctx).await;
            fault_doc(&e)
        }
        None => {
            tracing::info!(task_id = ctx.task_id, "task stopped by kojid");
            stop_compose(&ctx).await;
            json!({"stopped": true})
        }
    };
    let callnum = session
        .session_info()
        .map_or(handed.session.callnum, |s| s.callnum);
    print_outcome(out, &doc, callnum)?;
    Ok(0)
}

/// The daemon's rule for a stopped task's compose (canceled in Koji:
/// canceled in composer; freed: left running for the rerun), bounded so
/// that kojid's stop is not held up.
async fn stop_compose(ctx: &TaskContext) {
    let cancel = crate::host::cancel_compose_if_canceled(ctx);
    if tokio::time::timeout(STOP_TIMEOUT, cancel).await.is_err() {
        tracing::warn!(
            task_id = ctx.task_id,
            "no answer within {} s on whether the task was canceled; its compose is left running",
            STOP_TIMEOUT.as_secs_f64()
        );
    }
}

fn fault_doc(e: &TaskError) -> serde_json::Value {
    let fault = e.to_fault();
    json!({"fault": {"code": fault.code, "message": fault.message}})
}

fn print_outcome(
    out: &mut impl Write,
    doc: &serde_json::Value,
    callnum: u64,
) -> std::io::Result<()> {
    let mut doc = doc.clone();
    doc["callnum"] = callnum.into();
    writeln!(out, "{doc}")?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handed_session_reads_as_kojid_writes_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        std::fs::write(
            &path,
            r#"{"hub": "https://koji/kojihub", "session-id": 7, "session-key": "7-secret",
                "callnum": 12, "header-auth": true}"#,
        )
        .unwrap();
        let file = std::fs::File::open(&path).unwrap();
        use std::os::fd::AsRawFd;
        let handed = read_session(file.as_raw_fd() as u32).unwrap();
        assert_eq!(handed.hub, "https://koji/kojihub");
        assert_eq!(
            (
                handed.session.id,
                handed.session.callnum,
                handed.session.header_auth
            ),
            (7, 12, true)
        );
        assert_eq!(handed.session.key, "7-secret");

        std::fs::write(&path, r#"{"hub": "h", "session-key": "7-secret"}"#).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let err = read_session(file.as_raw_fd() as u32)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("session-id"), "{err}");
        assert!(!err.contains("7-secret"), "{err}");
        let err = read_session(987).err().unwrap().to_string();
        assert!(err.contains("file descriptor 987"), "{err}");
    }

    #[test]
    fn faults_carry_the_daemons_code_and_message() {
        let doc = fault_doc(&TaskError::Build("Compose failed (id: c1)".into()));
        assert_eq!(
            doc,
            json!({"fault": {"code": 1005, "message": "Compose failed (id: c1)"}})
        );
    }
}
