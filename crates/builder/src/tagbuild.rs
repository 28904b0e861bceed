//! Koji's own `tagBuild` task (kojid's `TagBuildTask`): osbuildImage tasks
//! create it as a subtask in the same channel, so this host gets it too.

use koji::{ClientSession, Value};

use crate::error::{build_error, TaskError};
use crate::osbuild::TaskContext;

/// Runs `tagBuild(tag_id, build_id, force=False, fromtag=None,
/// ignore_success=False)` for the context's task, each hub call over
/// [`TaskContext::hub`] (a lost subsession is renewed).
pub async fn handle(ctx: &TaskContext, params: &[Value]) -> Result<Value, TaskError> {
    let task_id = ctx.task_id;
    let (args, kwargs) = koji::split_kwargs(params.to_vec());
    let arg = |i: usize, name: &str| -> Option<Value> {
        args.get(i).cloned().or_else(|| kwargs.get(name).cloned())
    };
    let int = |i: usize, name: &str| -> Result<i64, TaskError> {
        arg(i, name)
            .and_then(|v| v.as_i64())
            .ok_or_else(|| TaskError::Parameter(format!("tagBuild: '{name}' must be an integer")))
    };
    let flag = |i: usize, name: &str| arg(i, name).and_then(|v| v.as_bool()) == Some(true);
    let tag_id = int(0, "tag_id")?;
    let build_id = int(1, "build_id")?;
    let force = flag(2, "force");
    let fromtag = arg(3, "fromtag").and_then(|v| v.as_i64());
    let ignore_success = flag(4, "ignore_success");

    let task = ctx
        .hub(|s| async move { s.get_task_info(task_id, false).await })
        .await?
        .ok_or_else(|| build_error!("no such task: {task_id}"))?;
    let owner = task.owner.unwrap_or_default();
    let notify = |s: ClientSession, failure: Option<String>| async move {
        let msg = failure.as_deref();
        let (success, tag) = (msg.is_none(), Some(tag_id));
        s.host()
            .tag_notification(success, tag, fromtag, build_id, owner, ignore_success, msg)
            .await
    };
    let outcome: Result<(), TaskError> = async {
        ctx.hub(|s| async move { s.get_build(build_id, true).await })
            .await?;
        ctx.hub(|s| async move { s.get_tag(tag_id, true).await })
            .await?;
        ctx.hub(|s| async move {
            s.host()
                .tag_build(task_id, tag_id, build_id, force, fromtag)
                .await
        })
        .await?;
        ctx.hub(|s| notify(s, None)).await?;
        Ok(())
    }
    .await;
    if let Err(e) = outcome {
        // kojid sends the failure notification, then re-raises.
        let msg = e.to_fault().to_string();
        if let Err(n) = notify(ctx.session.clone(), Some(msg)).await {
            tracing::warn!(task_id, "tag notification failed: {n}");
        }
        return Err(e);
    }
    tracing::info!(task_id, build_id, tag_id, "build tagged");
    Ok(Value::Nil)
}
