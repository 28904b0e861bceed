//! `host.*` calls: what a builder host says to the hub (kojid's protocol).
//! They all need an exclusive session ([`ClientSession::exclusive_session`]).

use crate::calls::{ids_value, parse_task_wait_results};
use crate::error::{Error, Result};
use crate::fault::Fault;
use crate::session::{convert, ClientSession};
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

    async fn call(&self, method: &str, args: Vec<Value>) -> Result<Value> {
        self.session.call(&format!("host.{method}"), args).await
    }

    async fn call_kw(&self, method: &str, args: Vec<Value>, kw: Struct) -> Result<Value> {
        self.session
            .call_kw(&format!("host.{method}"), args, kw)
            .await
    }

    /// `host.getID()`.
    pub async fn get_id(&self) -> Result<i64> {
        let v = self.call("getID", vec![]).await?;
        convert("host.getID", v)
    }

    /// `host.updateHost(task_load, ready, data=…)`: the heartbeat. `data`
    /// is kojid's `{methods: [...], maxjobs: n}`.
    pub async fn update_host(
        &self,
        task_load: f64,
        ready: bool,
        data: Option<Value>,
    ) -> Result<()> {
        let kw = match data {
            Some(d) => kwargs([("data", d)]),
            None => Struct::new(),
        };
        self.call_kw("updateHost", vec![task_load.into(), ready.into()], kw)
            .await?;
        Ok(())
    }

    /// `host.getTasks()`: tasks ASSIGNED to this host.
    pub async fn get_tasks(&self) -> Result<Vec<AssignedTask>> {
        let v = self.call("getTasks", vec![]).await?;
        convert("host.getTasks", v)
    }

    /// `host.getHostTasks()`: this host's OPEN tasks.
    pub async fn get_host_tasks(&self) -> Result<Vec<HostTask>> {
        let v = self.call("getHostTasks", vec![]).await?;
        convert("host.getHostTasks", v)
    }

    /// `host.openTask(id)`: the task row, or `None` when the task is no
    /// longer ASSIGNED to this host (the hub answers nil, not a fault).
    pub async fn open_task(&self, task_id: i64) -> Result<Option<TaskInfo>> {
        let v = self.call("openTask", vec![task_id.into()]).await?;
        if v.is_nil() {
            return Ok(None);
        }
        convert("host.openTask", v).map(Some)
    }

    /// `host.closeTask(id, response)`: `result` goes as a marshalled
    /// `methodResponse` string, as kojid sends it.
    pub async fn close_task(&self, task_id: i64, result: &Value) -> Result<()> {
        let response = wire::encode_response(result);
        self.call("closeTask", vec![task_id.into(), response.into()])
            .await?;
        Ok(())
    }

    /// `host.failTask(id, response)`: the fault goes as a marshalled fault
    /// `methodResponse` string; `getTaskResult` raises it again.
    pub async fn fail_task(&self, task_id: i64, fault: &Fault) -> Result<()> {
        let response = wire::encode_fault(fault.code, &fault.message);
        self.call("failTask", vec![task_id.into(), response.into()])
            .await?;
        Ok(())
    }

    /// `host.refuseTask(id, soft=…, msg=…)`.
    pub async fn refuse_task(&self, task_id: i64, soft: bool, msg: &str) -> Result<()> {
        let kw = kwargs([("soft", Value::Bool(soft)), ("msg", Value::from(msg))]);
        self.call_kw("refuseTask", vec![task_id.into()], kw).await?;
        Ok(())
    }

    /// `host.freeTasks([ids])`: OPEN tasks of this host go back to FREE.
    pub async fn free_tasks(&self, task_ids: &[i64]) -> Result<()> {
        self.call("freeTasks", vec![ids_value(task_ids)]).await?;
        Ok(())
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
        let mut kw = kwargs([
            ("method", Value::from(method)),
            ("arglist", Value::Array(arglist)),
        ]);
        if let Some(l) = label {
            kw.insert("label".into(), l.into());
        }
        kw.insert("parent".into(), parent.into());
        if let Some(a) = arch {
            kw.insert("arch".into(), a.into());
        }
        let v = self.call_kw("subtask", vec![], kw).await?;
        convert("host.subtask", v)
    }

    /// `host.taskSetWait(parent, tasks)`; `None` waits for all children.
    pub async fn task_set_wait(&self, parent: i64, tasks: Option<&[i64]>) -> Result<()> {
        let tasks = tasks.map_or(Value::Nil, ids_value);
        self.call("taskSetWait", vec![parent.into(), tasks]).await?;
        Ok(())
    }

    /// `host.taskWait(parent)` → finished and unfinished subtasks.
    pub async fn task_wait(&self, parent: i64) -> Result<TaskWait> {
        let v = self.call("taskWait", vec![parent.into()]).await?;
        let (finished, unfinished): (Vec<i64>, Vec<i64>) = convert("host.taskWait", v)?;
        Ok(TaskWait {
            finished,
            unfinished,
        })
    }

    /// `host.taskWaitResults(parent, tasks, canfail=…)` → `(task id,
    /// result)` pairs; a failed task listed in `canfail` gives its fault.
    pub async fn task_wait_results(
        &self,
        parent: i64,
        tasks: &[i64],
        canfail: Option<&[i64]>,
    ) -> Result<Vec<(i64, Result<Value, Fault>)>> {
        let kw = match canfail {
            Some(c) => kwargs([("canfail", ids_value(c))]),
            None => Struct::new(),
        };
        let v = self
            .call_kw("taskWaitResults", vec![parent.into(), ids_value(tasks)], kw)
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
        self.call("tagBuild", args).await?;
        Ok(())
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
        if let Some(m) = failure_msg {
            args.push(m.into());
        }
        self.call("tagNotification", args).await?;
        Ok(())
    }
}

impl From<Fault> for Value {
    fn from(f: Fault) -> Value {
        f.to_value()
    }
}

#[allow(dead_code)]
fn _assert_error_is_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<Error>();
}
