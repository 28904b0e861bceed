//! `host.*` calls: what a builder host says to the hub (kojid's protocol).
//! They all need an exclusive session ([`ClientSession::exclusive_session`]).

use serde::de::DeserializeOwned;

use crate::calls::kw_if;
use crate::error::{Error, Result};
use crate::fault::Fault;
use crate::session::ClientSession;
use crate::types::*;
use crate::value::{Struct, Value};
use crate::{kwargs, wire};

/// The `host.*` namespace of a session: `session.host().open_task(id)`.
#[derive(Clone, Copy, Debug)]
pub struct Host<'a> {
    session: &'a ClientSession,
}

impl<'a> Host<'a> {
    pub(crate) fn new(session: &'a ClientSession) -> Self {
        Host { session }
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        args: Vec<Value>,
        kw: Struct,
    ) -> Result<T> {
        let method = format!("host.{method}");
        self.session.call_kw_as(&method, args, kw).await
    }

    /// A call whose reply says nothing.
    async fn run(&self, method: &str, args: Vec<Value>, kw: Struct) -> Result<()> {
        let method = format!("host.{method}");
        self.session.call_kw(&method, args, kw).await?;
        Ok(())
    }

    /// `host.getID()`.
    pub async fn get_id(&self) -> Result<i64> {
        self.call("getID", vec![], Struct::new()).await
    }

    /// `host.updateHost(task_load, ready, data=…)`: the heartbeat. `data`
    /// is kojid's `{methods: [...], maxjobs: n}`.
    pub async fn update_host(
        &self,
        task_load: f64,
        ready: bool,
        data: Option<Value>,
    ) -> Result<()> {
        let args = vec![task_load.into(), ready.into()];
        self.run("updateHost", args, kw_if("data", data)).await
    }

    /// `host.getTasks()`: tasks ASSIGNED to this host.
    pub async fn get_tasks(&self) -> Result<Vec<TaskInfo>> {
        self.call("getTasks", vec![], Struct::new()).await
    }

    /// `host.getHostTasks()`: this host's OPEN tasks.
    pub async fn get_host_tasks(&self) -> Result<Vec<HostTask>> {
        self.call("getHostTasks", vec![], Struct::new()).await
    }

    /// `host.openTask(id)`: the task row, or `None` when the task is no
    /// longer ASSIGNED to this host (the hub answers nil, not a fault).
    pub async fn open_task(&self, task_id: i64) -> Result<Option<TaskInfo>> {
        self.call("openTask", vec![task_id.into()], Struct::new())
            .await
    }

    /// `host.closeTask(id, response)`: `result` goes as a marshalled
    /// `methodResponse` string, as kojid sends it.
    pub async fn close_task(&self, task_id: i64, result: &Value) -> Result<()> {
        let response = wire::encode_response(result);
        let args = vec![task_id.into(), response.into()];
        self.run("closeTask", args, Struct::new()).await
    }

    /// `host.failTask(id, response)`: the fault goes as a marshalled fault
    /// `methodResponse` string; `getTaskResult` raises it again.
    pub async fn fail_task(&self, task_id: i64, fault: &Fault) -> Result<()> {
        let response = wire::encode_fault(fault.code, &fault.message);
        let args = vec![task_id.into(), response.into()];
        self.run("failTask", args, Struct::new()).await
    }

    /// `host.refuseTask(id, soft=…, msg=…)`.
    pub async fn refuse_task(&self, task_id: i64, soft: bool, msg: &str) -> Result<()> {
        let kw = kwargs([("soft", Value::Bool(soft)), ("msg", Value::from(msg))]);
        self.run("refuseTask", vec![task_id.into()], kw).await
    }

    /// `host.freeTasks([ids])`: OPEN tasks of this host go back to FREE.
    pub async fn free_tasks(&self, task_ids: &[i64]) -> Result<()> {
        self.run("freeTasks", vec![task_ids.into()], Struct::new())
            .await
    }

    /// `host.subtask(method=…, arglist=…, label=…, parent=…, arch=…)` → the
    /// child's id, all as keyword arguments (capture 34). Asking again with
    /// the same parent and label gives the same id.
    pub async fn subtask(
        &self,
        method: &str,
        arglist: Vec<Value>,
        label: Option<&str>,
        parent: i64,
        arch: Option<&str>,
    ) -> Result<i64> {
        let mut kw = kwargs([("method", Value::from(method)), ("arglist", arglist.into())]);
        kw.extend(kw_if("label", label));
        kw.insert("parent".into(), parent.into());
        kw.extend(kw_if("arch", arch));
        self.call("subtask", vec![], kw).await
    }

    /// `host.taskSetWait(parent, tasks)`; `None` waits for all children.
    pub async fn task_set_wait(&self, parent: i64, tasks: Option<&[i64]>) -> Result<()> {
        let args = vec![parent.into(), tasks.into()];
        self.run("taskSetWait", args, Struct::new()).await
    }

    /// `host.taskWait(parent)` → finished and unfinished subtasks.
    pub async fn task_wait(&self, parent: i64) -> Result<TaskWait> {
        self.call("taskWait", vec![parent.into()], Struct::new())
            .await
    }

    /// `host.taskWaitResults(parent, tasks, canfail=…)` → `(task id,
    /// result)` pairs; a failed task listed in `canfail` gives its fault.
    pub async fn task_wait_results(
        &self,
        parent: i64,
        tasks: &[i64],
        canfail: Option<&[i64]>,
    ) -> Result<Vec<(i64, Result<Value, Fault>)>> {
        let args = vec![parent.into(), tasks.into()];
        let kw = kw_if("canfail", canfail);
        let v = self
            .session
            .call_kw("host.taskWaitResults", args, kw)
            .await?;
        parse_task_wait_results(v)
    }

    /// `host.tagBuild(task_id, tag_id, build_id, force, fromtag)`, positional
    /// as kojid's tagBuild handler sends it (capture 69).
    pub async fn tag_build(
        &self,
        task_id: i64,
        tag_id: i64,
        build_id: i64,
        force: bool,
        fromtag: Option<i64>,
    ) -> Result<()> {
        let args = vec![
            task_id.into(),
            tag_id.into(),
            build_id.into(),
            force.into(),
            fromtag.into(),
        ];
        self.run("tagBuild", args, Struct::new()).await
    }

    /// `host.tagNotification(is_successful, tag_id, from_id, build_id,
    /// user_id, ignore_success, failure_msg)` (capture 70; the message is
    /// only sent when given).
    #[allow(clippy::too_many_arguments)]
    pub async fn tag_notification(
        &self,
        is_successful: bool,
        tag_id: Option<i64>,
        from_id: Option<i64>,
        build_id: i64,
        user_id: i64,
        ignore_success: bool,
        failure_msg: Option<&str>,
    ) -> Result<()> {
        let mut args = vec![
            is_successful.into(),
            tag_id.into(),
            from_id.into(),
            build_id.into(),
            user_id.into(),
            ignore_success.into(),
        ];
        args.extend(failure_msg.map(Value::from));
        self.run("tagNotification", args, Struct::new()).await
    }
}

/// Reads `host.taskWaitResults` entries: `[[task_id, result], …]` where a
/// failed task allowed by `canfail` gives a fault struct.
pub fn parse_task_wait_results(v: Value) -> Result<Vec<(i64, Result<Value, Fault>)>> {
    let bad = |message: String| Error::UnexpectedReply {
        method: "host.taskWaitResults".into(),
        message,
    };
    let Value::Array(entries) = v else {
        return Err(bad(format!("expected an array, got {}", v.type_name())));
    };
    entries
        .into_iter()
        .map(|entry| {
            let pair = match entry {
                Value::Array(pair) => <[Value; 2]>::try_from(pair).ok(),
                _ => None,
            };
            let Some([Value::Int(id), result]) = pair else {
                return Err(bad("an entry is not a [task_id, result] pair".into()));
            };
            Ok((id, Fault::from_value(&result).map_or(Ok(result), Err)))
        })
        .collect()
}
