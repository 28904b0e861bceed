//! The host loop's scheduling rules, checked in-process against a fake hub
//! on 127.0.0.1: the fake keeps sessions and tasks as a Koji hub does
//! (the parts the loop uses) and records every call, multiCall members
//! included. The tests drive the loop pass by pass (`poll`) or run it,
//! script the hub's side (tasks assigned, canceled, sessions ended), and
//! assert on what the loop said to the hub. Tasks are `tagBuild`s, whose
//! outcome the fake decides: `getBuild` is held until the test releases
//! it, which keeps a task running, and `host.tagBuild` can answer a fault.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use koji::{Fault, Struct};

use super::*;

const HOST_ID: i64 = 7;
const OTHER_HOST_ID: i64 = 8;
const USER_ID: i64 = 3;

/// One call the hub got; a multiCall is recorded as its members.
#[derive(Clone, Debug)]
struct HubCall {
    method: String,
    args: Vec<Value>,
    kwargs: Struct,
    session: Option<i64>,
}

impl HubCall {
    fn int(&self, i: usize) -> i64 {
        self.args[i].as_i64().expect("an int argument")
    }
}

struct Task {
    method: String,
    state: TaskState,
    host_id: Option<i64>,
    params: Vec<Value>,
    alert: bool,
    /// The methodResponse closeTask or failTask stored.
    response: Option<String>,
}

#[derive(Default)]
struct Session {
    exclusive: bool,
    closed: bool,
}

#[derive(Default)]
struct HubState {
    calls: Vec<HubCall>,
    tasks: BTreeMap<i64, Task>,
    sessions: BTreeMap<i64, Session>,
    tag_build_fault: Option<Fault>,
}

#[derive(Clone)]
struct FakeHub {
    url: String,
    state: Arc<Mutex<HubState>>,
    /// `getBuild` answers once this is true.
    builds: Arc<watch::Sender<bool>>,
}

impl FakeHub {
    async fn start() -> FakeHub {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let hub = FakeHub {
            url: format!("http://{}/kojihub", listener.local_addr().expect("addr")),
            state: Arc::default(),
            builds: Arc::new(watch::channel(false).0),
        };
        let app = axum::Router::new()
            .route("/kojihub", axum::routing::post(rpc))
            .with_state(hub.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        hub
    }

    fn state(&self) -> std::sync::MutexGuard<'_, HubState> {
        self.state.lock().expect("hub state")
    }

    fn add_task(&self, id: i64, method: &str, state: TaskState, host_id: Option<i64>) {
        let task = Task {
            method: method.into(),
            state,
            host_id,
            // tagBuild(tag_id, build_id)
            params: vec![Value::Int(20), Value::Int(30 + id)],
            alert: false,
            response: None,
        };
        self.state().tasks.insert(id, task);
    }

    fn assign(&self, ids: impl IntoIterator<Item = i64>) {
        for id in ids {
            self.add_task(id, "tagBuild", TaskState::Assigned, Some(HOST_ID));
        }
    }

    fn task_state(&self, id: i64) -> TaskState {
        self.state().tasks[&id].state
    }

    fn set_task_state(&self, id: i64, state: TaskState) {
        self.state().tasks.get_mut(&id).expect("task").state = state;
    }

    fn response(&self, id: i64) -> Option<Result<Value, Fault>> {
        let response = self.state().tasks[&id].response.clone()?;
        Some(koji::decode_response(response.as_bytes()).expect("a methodResponse"))
    }

    fn calls(&self, method: &str) -> Vec<HubCall> {
        let state = self.state();
        state
            .calls
            .iter()
            .filter(|c| c.method == method)
            .cloned()
            .collect()
    }

    /// The task ids of the calls of `method` (first argument).
    fn task_ids(&self, method: &str) -> Vec<i64> {
        self.calls(method).iter().map(|c| c.int(0)).collect()
    }

    fn forget_calls(&self) {
        self.state().calls.clear();
    }

    fn release_builds(&self) {
        self.builds.send_replace(true);
    }

    /// An admin logs the host out: every session of it closes.
    fn end_sessions(&self) {
        for s in self.state().sessions.values_mut() {
            s.closed = true;
        }
    }

    /// Another process logs in as the host and forces the exclusive
    /// session away (`exclusiveSession(force=True)`).
    fn take_over(&self) {
        let mut state = self.state();
        for s in state.sessions.values_mut().filter(|s| s.exclusive) {
            s.closed = true;
        }
        let id = state.next_session_id();
        let other = Session {
            exclusive: true,
            closed: false,
        };
        state.sessions.insert(id, other);
    }

    fn host_session(&self) -> i64 {
        let state = self.state();
        let mut open = state
            .sessions
            .iter()
            .filter(|(_, s)| s.exclusive && !s.closed);
        *open.next().expect("an open exclusive session").0
    }
}

async fn rpc(State(hub): State<FakeHub>, headers: HeaderMap, body: Bytes) -> String {
    let session = headers
        .get("koji-session-id")
        .and_then(|v| v.to_str().ok()?.parse::<i64>().ok());
    let (method, params) = koji::decode_call(&body).expect("an XML-RPC call");
    let reply = if method == "multiCall" {
        let mut results = Vec::new();
        for member in params[0].as_array().expect("multiCall list") {
            let name = member.get("methodName").and_then(Value::as_str);
            let params = member.get("params").and_then(Value::as_array);
            let reply = hub
                .answer(session, name.expect("methodName"), params.expect("params"))
                .await;
            results.push(match reply {
                Ok(v) => Value::Array(vec![v]),
                Err(fault) => fault.to_value(),
            });
        }
        Ok(Value::Array(results))
    } else {
        hub.answer(session, &method, &params).await
    };
    match reply {
        Ok(v) => koji::encode_response(&v),
        Err(f) => koji::encode_fault(f.code, &f.message),
    }
}

impl FakeHub {
    async fn answer(
        &self,
        session: Option<i64>,
        method: &str,
        params: &[Value],
    ) -> Result<Value, Fault> {
        if method == "getBuild" {
            let _ = self.builds.subscribe().wait_for(|ready| *ready).await;
        }
        let (args, kwargs) = koji::split_kwargs(params.to_vec());
        let mut state = self.state();
        state.calls.push(HubCall {
            method: method.into(),
            args: args.clone(),
            kwargs: kwargs.clone(),
            session,
        });
        state.answer(session, method, &args, &kwargs)
    }
}

impl HubState {
    fn next_session_id(&self) -> i64 {
        self.sessions.keys().max().map_or(1, |id| id + 1)
    }

    fn new_session(&mut self) -> Value {
        let id = self.next_session_id();
        self.sessions.insert(id, Session::default());
        Value::from_pairs([
            ("session-id", Value::Int(id)),
            ("session-key", Value::from(format!("key-{id}"))),
            ("header-auth", Value::Bool(true)),
        ])
    }

    fn task_info(&self, id: i64, request: Option<Value>) -> Value {
        let Some(t) = self.tasks.get(&id) else {
            return Value::Nil;
        };
        let mut info = Value::from_pairs([
            ("id", Value::Int(id)),
            ("method", Value::from(t.method.as_str())),
            ("state", Value::Int(t.state.code())),
            ("owner", Value::Int(USER_ID)),
            ("host_id", t.host_id.map_or(Value::Nil, Value::Int)),
        ]);
        if let (Some(request), Value::Struct(s)) = (request, &mut info) {
            s.insert("request".into(), request);
        }
        info
    }

    /// This host's tasks in `state`.
    fn on_host(&self, state: TaskState) -> impl Iterator<Item = (i64, &Task)> {
        let ours = move |(_, t): &(&i64, &Task)| t.state == state && t.host_id == Some(HOST_ID);
        self.tasks.iter().filter(ours).map(|(id, t)| (*id, t))
    }

    /// The task, if it is OPEN on this host (what host.* calls check).
    fn ours(&mut self, id: i64) -> Result<&mut Task, Fault> {
        self.tasks
            .get_mut(&id)
            .filter(|t| t.state == TaskState::Open && t.host_id == Some(HOST_ID))
            .ok_or_else(|| Fault::of_kind(FaultKind::ActionNotAllowed, "not this host's task"))
    }

    fn answer(
        &mut self,
        session: Option<i64>,
        method: &str,
        args: &[Value],
        kwargs: &Struct,
    ) -> Result<Value, Fault> {
        let auth_error = |message| Err(Fault::of_kind(FaultKind::AuthError, message));
        if session.is_some_and(|id| self.sessions.get(&id).is_none_or(|s| s.closed)) {
            return auth_error("Invalid session or bad credentials");
        }
        let logged_in = session.is_some();
        let int = |i: usize| args[i].as_i64().expect("an int argument");
        let ids = |i: usize| -> Vec<i64> {
            let list = args[i].as_array().expect("a list");
            list.iter().filter_map(Value::as_i64).collect()
        };
        match method {
            "login" => Ok(self.new_session()),
            _ if !logged_in => auth_error("Not logged in"),
            "subsession" => Ok(self.new_session()),
            "exclusiveSession" => {
                let force = kwargs.get("force").and_then(Value::as_bool) == Some(true);
                let others = self
                    .sessions
                    .iter_mut()
                    .filter(|(id, _)| Some(**id) != session);
                for (_, s) in others.filter(|(_, s)| s.exclusive && !s.closed) {
                    if !force {
                        let message = "Cannot get exclusive session";
                        return Err(Fault::of_kind(FaultKind::AuthLockError, message));
                    }
                    s.closed = true;
                }
                self.sessions
                    .get_mut(&session.unwrap())
                    .expect("session")
                    .exclusive = true;
                Ok(Value::Nil)
            }
            "logout" => {
                self.sessions
                    .get_mut(&session.unwrap())
                    .expect("session")
                    .closed = true;
                Ok(Value::Nil)
            }
            "host.getID" => Ok(Value::Int(HOST_ID)),
            "host.updateHost" | "host.tagNotification" => Ok(Value::Nil),
            "host.getHostTasks" => Ok(Value::Array(
                self.on_host(TaskState::Open)
                    .map(|(id, t)| {
                        Value::from_pairs([("id", Value::Int(id)), ("alert", Value::Bool(t.alert))])
                    })
                    .collect(),
            )),
            "host.getTasks" => Ok(Value::Array(
                self.on_host(TaskState::Assigned)
                    .map(|(id, _)| self.task_info(id, None))
                    .collect(),
            )),
            "getTaskInfo" => {
                let id = int(0);
                let request = kwargs.get("request").and_then(Value::as_bool) == Some(true);
                let params = self.tasks.get(&id).map(|t| Value::Array(t.params.clone()));
                Ok(self.task_info(id, params.filter(|_| request)))
            }
            "host.openTask" => {
                let id = int(0);
                let Some(t) = self
                    .tasks
                    .get_mut(&id)
                    .filter(|t| t.state == TaskState::Assigned && t.host_id == Some(HOST_ID))
                else {
                    return Ok(Value::Nil);
                };
                t.state = TaskState::Open;
                let doc = koji::encode_call(&t.method, &t.params);
                Ok(self.task_info(id, Some(Value::from(doc))))
            }
            "host.setTaskWeight" => self.ours(int(0)).map(|_| Value::Nil),
            "host.freeTasks" | "host.refuseTask" => {
                let list = if method == "host.freeTasks" {
                    ids(0)
                } else {
                    vec![int(0)]
                };
                for id in list {
                    if let Some(t) = self.tasks.get_mut(&id) {
                        t.state = TaskState::Free;
                        t.host_id = None;
                    }
                }
                Ok(Value::Nil)
            }
            "host.closeTask" | "host.failTask" => {
                let task = self.ours(int(0))?;
                task.state = if method == "host.closeTask" {
                    TaskState::Closed
                } else {
                    TaskState::Failed
                };
                task.response = args[1].as_str().map(str::to_string);
                Ok(Value::Nil)
            }
            "getBuild" => Ok(Value::from_pairs([
                ("id", Value::Int(int(0))),
                ("name", Value::from("demo")),
                ("version", Value::from("42")),
                ("release", Value::from("1")),
                ("state", Value::Int(1)),
            ])),
            "getTag" => Ok(Value::from_pairs([
                ("id", Value::Int(int(0))),
                ("name", Value::from("dest")),
            ])),
            "host.tagBuild" => match &self.tag_build_fault {
                Some(f) => Err(f.clone()),
                None => Ok(Value::Nil),
            },
            other => Err(Fault::new(1000, format!("the fake hub has no {other}"))),
        }
    }
}

/// Waits (up to 10 s) until `cond` holds.
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The settings of a host `builder.local` on `hub` running `capacity`
/// tasks at once, polling every 50 ms.
fn settings(hub: &FakeHub, capacity: usize) -> Settings {
    let dir = tempfile::tempdir().expect("temp dir");
    let conf = dir.path().join("builder.conf");
    let text = format!(
        "[composer]\nserver = http://127.0.0.1:9\n[koji]\nserver = {}\n\
         [builder]\nuser = builder.local\npassword = hostpass\nsleeptime = 0.05\n\
         capacity = {capacity}\ncompose_poll_interval = 0.05\nmax_retries = 1\nretry_interval = 0.1\n",
        hub.url
    );
    std::fs::write(&conf, text).expect("write builder.conf");
    Settings::load(&[conf], None).expect("settings")
}

async fn start(hub: &FakeHub, capacity: usize) -> Builder {
    Builder::start(settings(hub, capacity))
        .await
        .expect("the builder starts")
}

/// Waits until every task the builder took has finished.
async fn all_done(builder: &Builder) {
    until("the builder's tasks finish", || {
        builder.tasks.values().all(|t| t.handle.is_finished())
    })
    .await;
}

/// A task the loop runs that is waiting for its subtasks (or not), as the
/// osbuildImage handler marks itself while it waits for its tagBuild.
fn running_task(builder: &mut Builder, id: i64, waiting: bool) -> Arc<Notify> {
    let alert = Arc::new(Notify::new());
    let task = RunningTask {
        method: osbuild_task::METHOD.into(),
        weight: osbuild::WEIGHT,
        cancel: watch::channel(false).0,
        waiting: Arc::new(AtomicBool::new(waiting)),
        alert: alert.clone(),
        handle: tokio::spawn(std::future::pending::<()>()),
    };
    builder.tasks.insert(id, task);
    alert
}

#[tokio::test]
async fn start_frees_the_tasks_a_previous_run_left_open_on_this_host() {
    let hub = FakeHub::start().await;
    hub.add_task(1, "tagBuild", TaskState::Open, Some(HOST_ID));
    hub.add_task(2, "tagBuild", TaskState::Open, Some(OTHER_HOST_ID));

    let builder = start(&hub, 2).await;

    assert_eq!(builder.host_id(), HOST_ID);
    let exclusive = hub.calls("exclusiveSession");
    assert_eq!(exclusive.len(), 1);
    assert_eq!(exclusive[0].kwargs.get("force"), Some(&Value::Bool(true)));
    let freed = hub.calls("host.freeTasks");
    assert_eq!(freed.len(), 1);
    assert_eq!(freed[0].args[0], Value::Array(vec![Value::Int(1)]));
    assert_eq!(hub.task_state(1), TaskState::Free);
    assert_eq!(hub.task_state(2), TaskState::Open, "another host's task");
}

#[tokio::test]
async fn no_more_tasks_run_than_the_capacity() {
    let hub = FakeHub::start().await;
    hub.assign([1, 2, 3]);
    let mut builder = start(&hub, 2).await;

    assert!(builder.poll().await.expect("a pass"));
    assert_eq!(hub.task_ids("host.openTask"), [1, 2]);
    assert_eq!(hub.task_state(3), TaskState::Assigned);
    let update = &hub.calls("host.updateHost")[0];
    assert_eq!(update.args[1], Value::Bool(true), "ready");
    let data = update.kwargs.get("data").expect("data");
    assert_eq!(data.get("maxjobs"), Some(&Value::Int(2)));

    // Full: not ready, and not asking for tasks.
    hub.forget_calls();
    assert!(!builder.poll().await.expect("a pass"));
    let update = &hub.calls("host.updateHost")[0];
    assert_eq!(update.args[1], Value::Bool(false), "not ready when full");
    assert!(hub.calls("host.getTasks").is_empty());
    assert!(hub.calls("host.openTask").is_empty());

    // Room again once the running tasks end.
    hub.release_builds();
    all_done(&builder).await;
    assert!(builder.poll().await.expect("a pass"));
    assert_eq!(hub.task_ids("host.openTask"), [3]);
}

#[tokio::test]
async fn a_task_waiting_for_subtasks_does_not_count_against_the_capacity() {
    let hub = FakeHub::start().await;
    let mut builder = start(&hub, 1).await;
    hub.add_task(1, osbuild_task::METHOD, TaskState::Open, Some(HOST_ID));
    running_task(&mut builder, 1, false);
    hub.assign([2]);

    // Task 1 runs: the one slot is taken.
    assert!(!builder.poll().await.expect("a pass"));
    assert!(hub.calls("host.openTask").is_empty());

    // Task 1 waits for a subtask: its slot is free for the subtask, and
    // maxjobs tells the hub so.
    builder.tasks[&1].waiting.store(true, Ordering::SeqCst);
    hub.forget_calls();
    assert!(builder.poll().await.expect("a pass"));
    let update = &hub.calls("host.updateHost")[0];
    assert_eq!(update.args[0], Value::from(0.0), "task_load");
    assert_eq!(update.args[1], Value::Bool(true), "ready");
    let data = update.kwargs.get("data").expect("data");
    assert_eq!(data.get("maxjobs"), Some(&Value::Int(2)));
    assert_eq!(hub.task_ids("host.openTask"), [2]);
}

#[tokio::test]
async fn the_hubs_alert_wakes_the_waiting_task() {
    let hub = FakeHub::start().await;
    let mut builder = start(&hub, 1).await;
    hub.add_task(1, osbuild_task::METHOD, TaskState::Open, Some(HOST_ID));
    let alert = running_task(&mut builder, 1, true);
    let woken = || tokio::time::timeout(Duration::from_millis(50), alert.notified());

    builder.poll().await.expect("a pass");
    assert!(woken().await.is_err(), "no alert, no wake-up");

    hub.state().tasks.get_mut(&1).expect("task 1").alert = true;
    builder.poll().await.expect("a pass");
    assert!(woken().await.is_ok(), "woken by the alert");
}

#[tokio::test]
async fn tasks_of_a_method_without_a_handler_are_refused() {
    let hub = FakeHub::start().await;
    hub.add_task(1, "buildArch", TaskState::Assigned, Some(HOST_ID));
    let mut builder = start(&hub, 2).await;

    assert!(!builder.poll().await.expect("a pass"));

    let refused = hub.calls("host.refuseTask");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].int(0), 1);
    assert_eq!(refused[0].kwargs.get("soft"), Some(&Value::Bool(false)));
    assert!(hub.calls("host.openTask").is_empty());
    assert!(builder.tasks.is_empty());
}

#[tokio::test]
async fn a_finished_task_is_closed_with_its_result_over_its_subsession() {
    let hub = FakeHub::start().await;
    hub.release_builds();
    hub.assign([1]);
    let mut builder = start(&hub, 2).await;

    assert!(builder.poll().await.expect("a pass"));
    all_done(&builder).await;

    let tagged = hub.calls("host.tagBuild");
    assert_eq!(tagged.len(), 1);
    assert_eq!(tagged[0].args[..3], [Value::Int(1), 20.into(), 31.into()]);
    assert_eq!(hub.task_state(1), TaskState::Closed);
    assert_eq!(hub.response(1), Some(Ok(Value::Nil)), "tagBuild's result");
    let closed = &hub.calls("host.closeTask")[0];
    assert_ne!(closed.session, Some(hub.host_session()), "a subsession");
    assert_eq!(closed.session, tagged[0].session);
}

#[tokio::test]
async fn a_failed_task_is_failed_with_the_fault_of_its_handler() {
    let hub = FakeHub::start().await;
    hub.release_builds();
    hub.state().tag_build_fault = Some(Fault::of_kind(FaultKind::TagError, "tag dest is locked"));
    hub.assign([1]);
    let mut builder = start(&hub, 2).await;

    assert!(builder.poll().await.expect("a pass"));
    all_done(&builder).await;

    assert_eq!(hub.task_state(1), TaskState::Failed);
    assert_eq!(
        hub.response(1),
        Some(Err(Fault::of_kind(
            FaultKind::TagError,
            "tag dest is locked"
        )))
    );
    assert!(hub.calls("host.closeTask").is_empty());
}

#[tokio::test]
async fn a_task_canceled_in_the_hub_is_stopped() {
    let hub = FakeHub::start().await;
    hub.assign([1]);
    let mut builder = start(&hub, 2).await;
    assert!(builder.poll().await.expect("a pass"));

    hub.set_task_state(1, TaskState::Canceled);
    builder.poll().await.expect("a pass");
    all_done(&builder).await;

    assert_eq!(hub.task_state(1), TaskState::Canceled);
    assert!(hub.calls("host.closeTask").is_empty());
    assert!(hub.calls("host.failTask").is_empty());
}

#[tokio::test]
async fn open_tasks_this_process_does_not_run_are_freed() {
    let hub = FakeHub::start().await;
    let mut builder = start(&hub, 2).await;
    hub.add_task(5, "tagBuild", TaskState::Open, Some(HOST_ID));

    builder.poll().await.expect("a pass");

    assert_eq!(
        hub.calls("host.freeTasks")[0].args[0],
        Value::Array(vec![Value::Int(5)])
    );
    assert_eq!(hub.task_state(5), TaskState::Free);
}

#[tokio::test]
async fn stopping_frees_the_running_tasks_and_marks_the_host_not_ready() {
    let hub = FakeHub::start().await;
    hub.assign([1]);
    let mut builder = start(&hub, 2).await;
    assert!(builder.poll().await.expect("a pass"));
    let host_session = hub.host_session();
    hub.forget_calls();

    builder.run(async {}).await.expect("a clean stop");

    assert_eq!(
        hub.calls("host.freeTasks")[0].args[0],
        Value::Array(vec![Value::Int(1)])
    );
    assert_eq!(hub.task_state(1), TaskState::Free);
    let update = hub.calls("host.updateHost");
    let last = update.last().expect("updateHost");
    assert_eq!(last.args[..2], [Value::from(0.0), Value::Bool(false)]);
    let logouts = hub.calls("logout");
    assert!(logouts.iter().any(|c| c.session == Some(host_session)));
    assert!(hub.calls("host.closeTask").is_empty());
}

#[tokio::test]
async fn the_loop_logs_in_again_when_the_hub_ends_its_session_and_tasks_go_on() {
    let hub = FakeHub::start().await;
    hub.assign([1]);
    let mut builder = start(&hub, 2).await;
    assert!(builder.poll().await.expect("a pass"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(builder.run(async {
        let _ = stopped.await;
    }));

    hub.end_sessions();
    until("the builder logs in again", || {
        hub.calls("exclusiveSession").len() == 2
    })
    .await;
    let again = &hub.calls("exclusiveSession")[1];
    assert_eq!(
        again.kwargs.get("force"),
        Some(&Value::Bool(false)),
        "without taking the session from another process"
    );
    hub.release_builds();
    until("the task closes", || hub.task_state(1) == TaskState::Closed).await;
    assert_eq!(hub.task_ids("host.openTask"), [1], "not freed and rerun");
    assert!(hub.calls("host.freeTasks").is_empty());

    stop.send(()).expect("the loop runs");
    running
        .await
        .expect("the loop")
        .expect("a clean stop after logging in again");
}

#[tokio::test]
async fn the_builder_leaves_when_another_process_took_its_exclusive_session() {
    let hub = FakeHub::start().await;
    let builder = start(&hub, 2).await;

    hub.take_over();
    let outcome =
        tokio::time::timeout(Duration::from_secs(10), builder.run(std::future::pending()))
            .await
            .expect("the loop ends");

    assert!(
        matches!(outcome, Err(HostError::TakenOver { .. })),
        "{outcome:?}"
    );
}
