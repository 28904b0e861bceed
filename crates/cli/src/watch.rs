//! Watching tasks, line for line as the koji CLI does it.
//!
//! A port of `koji_cli.lib.watch_tasks` and `TaskWatcher` (koji 1.36):
//! the same polling (every task, then its children via `getTaskChildren`),
//! the same lines (`N osbuildImage (noarch): free`, `... free -> open
//! (builder)`, children indented two spaces per level, the
//! `  N free  N open  N done  N failed` tally when a task finishes, the
//! closing summary), the same exit status (1 unless every top-level task
//! closed) and the same message on Ctrl-C. Scripts that parse `koji
//! watch-task` output can parse this one.

use std::future::Future;
use std::io::Write;
use std::time::Duration;

use indexmap::IndexMap;
use koji::Value;

use crate::hub::{Hub, HubError, TaskInfo, TaskState};
use crate::pyfmt;

/// How to watch.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    pub quiet: bool,
    pub poll_interval: Duration,
    /// With a topurl, a failed task's state line lists its logs (as `koji
    /// watch-task` does; upstream's osbuild-image passes none).
    pub topurl: Option<String>,
    /// For "continue to watch with the '<progname> watch-task' command".
    pub progname: String,
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Hub(#[from] HubError),
    #[error("cannot write to standard output: {0}")]
    Output(#[from] std::io::Error),
}

/// Why the watch stopped early; not errors to report, the lines are printed.
enum Stop {
    NoSuchTask,
    Failed(WatchError),
}

impl<E: Into<WatchError>> From<E> for Stop {
    fn from(err: E) -> Self {
        Stop::Failed(err.into())
    }
}

/// One watched task (`TaskWatcher`).
#[derive(Debug)]
struct Watched {
    id: i64,
    level: usize,
    info: Option<TaskInfo>,
}

impl Watched {
    /// `TaskWatcher.str()`.
    fn label(&self) -> String {
        let indent = "  ".repeat(self.level);
        match &self.info {
            Some(info) => format!("{indent}{} {}", self.id, task_label(info)),
            None => format!("{indent}{}", self.id),
        }
    }

    fn is_done(&self) -> bool {
        self.info.as_ref().is_some_and(|i| i.state.is_done())
    }

    fn is_success(&self) -> bool {
        self.info
            .as_ref()
            .is_some_and(|i| i.state == TaskState::Closed)
    }
}

/// Watch `task_ids` until all are done, or until `interrupt` completes
/// (Ctrl-C). Returns the exit status koji would: 0 if every top-level task
/// closed, else 1 (also for an unknown task id and for an interrupt).
pub async fn watch_tasks<H: Hub, W: Write>(
    hub: &mut H,
    task_ids: &[i64],
    options: &WatchOptions,
    out: &mut W,
    interrupt: impl Future<Output = ()>,
) -> Result<i32, WatchError> {
    if task_ids.is_empty() {
        return Ok(0);
    }
    let mut watcher = Watcher {
        hub,
        out,
        options,
        tasks: IndexMap::new(),
    };
    if !options.quiet {
        writeln!(
            watcher.out,
            "Watching tasks (this may be safely interrupted)..."
        )?;
    }
    watcher.out.flush()?;
    let outcome = {
        let run = watcher.run(task_ids);
        tokio::pin!(run);
        tokio::select! {
            result = &mut run => Some(result),
            () = interrupt => None,
        }
    };
    match outcome {
        Some(Ok(rv)) => Ok(rv),
        Some(Err(Stop::NoSuchTask)) => Ok(1),
        Some(Err(Stop::Failed(err))) => Err(err),
        None => {
            watcher.interrupted().await?;
            Ok(1)
        }
    }
}

struct Watcher<'a, H, W> {
    hub: &'a mut H,
    out: &'a mut W,
    options: &'a WatchOptions,
    tasks: IndexMap<i64, Watched>,
}

impl<H: Hub, W: Write> Watcher<'_, H, W> {
    async fn run(&mut self, task_ids: &[i64]) -> Result<i32, Stop> {
        let quiet = self.options.quiet;
        let mut rv = 0;
        for &id in task_ids {
            self.tasks.insert(
                id,
                Watched {
                    id,
                    level: 0,
                    info: None,
                },
            );
        }
        loop {
            let mut all_done = true;
            // Like `list(tasks.items())`: children found in this pass are
            // updated when found, and polled in the next pass.
            let ids: Vec<i64> = self.tasks.keys().copied().collect();
            for id in ids {
                let changed = self.update(id).await?;
                let task = &self.tasks[&id];
                let level = task.level;
                if !task.is_done() {
                    all_done = false;
                } else {
                    if changed && !quiet {
                        self.print_tally()?;
                    }
                    if level == 0 && !self.tasks[&id].is_success() {
                        rv = 1;
                    }
                }
                for child in self.hub.get_task_children(id).await? {
                    if !self.tasks.contains_key(&child) {
                        self.tasks.insert(
                            child,
                            Watched {
                                id: child,
                                level: level + 1,
                                info: None,
                            },
                        );
                        self.update(child).await?;
                        // New children may have children of their own.
                        all_done = false;
                    }
                }
            }
            if all_done {
                if !quiet {
                    writeln!(self.out)?;
                    self.print_results()?;
                }
                self.out.flush()?;
                return Ok(rv);
            }
            self.out.flush()?;
            tokio::time::sleep(self.options.poll_interval).await;
        }
    }

    /// `TaskWatcher.update()`: true when a known task changed state.
    async fn update(&mut self, id: i64) -> Result<bool, Stop> {
        let Some(task) = self.tasks.get(&id) else {
            return Ok(false);
        };
        if task.is_done() {
            return Ok(false);
        }
        let Some(info) = self.hub.get_task_info(id).await? else {
            if !self.options.quiet {
                writeln!(self.out, "No such task id: {id}")?;
            }
            self.out.flush()?;
            return Err(Stop::NoSuchTask);
        };
        let (level, last) = {
            let task = &mut self.tasks[&id];
            (task.level, task.info.replace(info.clone()))
        };
        let label = self.tasks[&id].label();
        match last {
            Some(last) if last.state != info.state => {
                if !self.options.quiet {
                    let before = self.display_state(&last, 0).await?;
                    let after = self.display_state(&info, 0).await?;
                    writeln!(self.out, "{label}: {before} -> {after}")?;
                }
                Ok(true)
            }
            Some(_) => Ok(false),
            None => {
                if !self.options.quiet {
                    let state = self.display_state(&info, level).await?;
                    writeln!(self.out, "{label}: {state}")?;
                }
                Ok(false)
            }
        }
    }

    /// `TaskWatcher.display_state()`.
    async fn display_state(&mut self, info: &TaskInfo, level: usize) -> Result<String, Stop> {
        match info.state {
            TaskState::Open | TaskState::Assigned => {
                let state = info.state.name().to_lowercase();
                match info.host_id {
                    Some(host_id) if host_id != 0 => {
                        let host = self.hub.get_host_name(host_id).await?.unwrap_or_default();
                        Ok(format!("{state} ({host})"))
                    }
                    _ => Ok(state),
                }
            }
            TaskState::Failed => {
                let mut s = format!("FAILED: {}", self.failure(info.id).await?);
                if let Some(topurl) = self.options.topurl.clone() {
                    let level = level + 1;
                    let indent = "  ".repeat(level);
                    let logs: Vec<String> = self
                        .hub
                        .list_task_output(info.id)
                        .await?
                        .into_iter()
                        .flat_map(|(name, volumes)| {
                            volumes.into_iter().map(move |v| (name.clone(), v))
                        })
                        .filter(|(name, _)| name.ends_with("log"))
                        .map(|(name, volume)| {
                            format!("{indent}{}/{name}", task_dir(&topurl, info.id, &volume))
                        })
                        .collect();
                    if !logs.is_empty() {
                        s.push_str(&format!("\n{indent}Relevant logs:\n{}", logs.join("\n")));
                    }
                }
                Ok(s)
            }
            other => Ok(other.name().to_lowercase()),
        }
    }

    /// `TaskWatcher.get_failure()`: the fault `getTaskResult` raises, as
    /// `ClassName: message`.
    async fn failure(&mut self, id: i64) -> Result<String, Stop> {
        match self.hub.get_task_result(id).await {
            Ok(_) => Ok(String::new()),
            Err(err @ HubError::Fault { .. }) => Ok(fault_line(&err)),
            Err(other) => Err(other.into()),
        }
    }

    /// `display_tasklist_status()`.
    fn print_tally(&mut self) -> Result<(), Stop> {
        let (mut free, mut open, mut done, mut failed) = (0, 0, 0, 0);
        for task in self.tasks.values() {
            match task.info.as_ref().map(|i| i.state) {
                Some(TaskState::Failed) => failed += 1,
                Some(TaskState::Closed | TaskState::Canceled) => done += 1,
                Some(TaskState::Open | TaskState::Assigned) => open += 1,
                Some(TaskState::Free) => free += 1,
                _ => {}
            }
        }
        writeln!(
            self.out,
            "  {free} free  {open} open  {done} done  {failed} failed"
        )?;
        Ok(())
    }

    /// `display_task_results()`.
    fn print_results(&mut self) -> Result<(), Stop> {
        for task in self.tasks.values().filter(|t| t.level == 0) {
            let label = task.label();
            let line = match task.info.as_ref().map(|i| i.state) {
                Some(TaskState::Closed) => format!("{label} completed successfully"),
                Some(TaskState::Failed) => format!("{label} failed"),
                Some(TaskState::Canceled) => format!("{label} was canceled"),
                _ => format!("{label} has not completed"),
            };
            writeln!(self.out, "{line}")?;
        }
        Ok(())
    }

    /// koji's default `ki_handler`.
    async fn interrupted(&mut self) -> Result<(), WatchError> {
        if self.options.quiet || self.tasks.is_empty() {
            return Ok(());
        }
        let running: Vec<(String, Option<TaskInfo>, usize)> = self
            .tasks
            .values()
            .filter(|t| !t.is_done())
            .map(|t| (t.label(), t.info.clone(), t.level))
            .collect();
        let mut lines = Vec::new();
        for (label, info, level) in running {
            let state = match info {
                // The hub may be what was slow; don't hang or fail on it now.
                Some(info) => match self.display_state(&info, level).await {
                    Ok(state) => state,
                    Err(_) => info.state.name().to_lowercase(),
                },
                None => "unknown".to_string(),
            };
            lines.push(format!("{label}: {state}"));
        }
        writeln!(
            self.out,
            "Tasks still running. You can continue to watch with the '{} watch-task' command.\n\
             Running Tasks:\n{}",
            self.options.progname,
            lines.join("\n")
        )?;
        self.out.flush()?;
        Ok(())
    }
}

/// `'%s: %s' % (error.__class__.__name__, str(error).strip())` for a fault
/// raised by the koji library: known codes become koji exception classes,
/// others stay an `xmlrpc.client.Fault`, whose str() is its repr.
pub fn fault_line(err: &HubError) -> String {
    match err {
        HubError::Fault { code, message } => match err.class_name() {
            "Fault" => format!("Fault: <Fault {code}: {}>", pyfmt::str_repr(message)),
            class => format!("{class}: {}", message.trim()),
        },
        other => other.to_string(),
    }
}

/// `koji.PathInfo(topdir=topurl).task(id, volume)`.
fn task_dir(topurl: &str, id: i64, volume: &str) -> String {
    let base = match volume {
        "DEFAULT" | "" => topurl.to_string(),
        vol => format!("{topurl}/vol/{vol}"),
    };
    format!("{base}/work/tasks/{}/{id}", id % 10000)
}

/// `koji.taskLabel(info)` for the methods an osbuildImage task tree has;
/// other methods get koji's generic `method (arch)`.
pub fn task_label(info: &TaskInfo) -> String {
    let method = info.method.as_str();
    let extra = match method {
        "waitrepo" | "newRepo" | "distRepo" => {
            let mut extra = info.request.first().map(py_str).unwrap_or_default();
            if method == "waitrepo" {
                if let Some(Value::Array(nvrs)) = info.request.get(2) {
                    let nvrs: Vec<String> = nvrs.iter().map(py_str).collect();
                    extra.push_str(", ");
                    extra.push_str(&nvrs.join(", "));
                }
            }
            extra
        }
        "createrepo" => info.request.get(1).map(py_str).unwrap_or_default(),
        // osbuildImage has no legacy signature in the koji library, and
        // tagBuild/tagNotification carry nothing to show.
        _ => String::new(),
    };
    if extra.is_empty() {
        format!("{method} ({})", info.arch)
    } else {
        format!("{method} ({extra})")
    }
}

/// Python's `str()` of a request parameter.
fn py_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Struct(s) => s
            .get("name")
            .map(py_str)
            .unwrap_or_else(|| pyfmt::repr(&pyfmt::PyValue::from(value))),
        other => pyfmt::repr(&pyfmt::PyValue::from(other)),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::hub::{BuildTarget, ImageCall};
    use std::collections::{HashMap, VecDeque};

    /// A scripted hub: each task has a sequence of states that successive
    /// `getTaskInfo` calls walk through (the last one repeats).
    /// A task's method and the (state, host) answers still to come.
    type Script = (String, VecDeque<(TaskState, Option<i64>)>);

    #[derive(Default)]
    pub struct FakeHub {
        pub tasks: HashMap<i64, Script>,
        pub children: HashMap<i64, Vec<i64>>,
        pub results: HashMap<i64, Result<Value, (i64, String)>>,
        pub outputs: HashMap<i64, Vec<(String, Vec<String>)>>,
        pub target: Option<BuildTarget>,
        pub tag_exists: bool,
        pub next_task: i64,
        pub calls: Vec<String>,
        pub submitted: Vec<ImageCall>,
        pub submit_fault: Option<(i64, String)>,
    }

    impl FakeHub {
        pub fn task(&mut self, id: i64, method: &str, states: &[(TaskState, Option<i64>)]) {
            self.tasks
                .insert(id, (method.to_string(), states.iter().copied().collect()));
        }
    }

    impl Hub for FakeHub {
        async fn get_build_target(&mut self, name: &str) -> Result<Option<BuildTarget>, HubError> {
            self.calls.push(format!("getBuildTarget({name})"));
            Ok(self.target.clone())
        }
        async fn tag_exists(&mut self, id: i64) -> Result<bool, HubError> {
            self.calls.push(format!("getTag({id})"));
            Ok(self.tag_exists)
        }
        async fn activate(&mut self) -> Result<(), HubError> {
            self.calls.push("activate".into());
            Ok(())
        }
        async fn osbuild_image(&mut self, call: &ImageCall) -> Result<i64, HubError> {
            self.calls.push("osbuildImage".into());
            if let Some((code, message)) = self.submit_fault.clone() {
                return Err(HubError::Fault { code, message });
            }
            self.submitted.push(call.clone());
            Ok(self.next_task)
        }
        async fn logout(&mut self) -> Result<(), HubError> {
            self.calls.push("logout".into());
            Ok(())
        }
        async fn get_task_info(&mut self, id: i64) -> Result<Option<TaskInfo>, HubError> {
            self.calls.push(format!("getTaskInfo({id})"));
            let Some((method, states)) = self.tasks.get_mut(&id) else {
                return Ok(None);
            };
            let (state, host_id) = if states.len() > 1 {
                states.pop_front().unwrap_or((TaskState::Free, None))
            } else {
                states.front().copied().unwrap_or((TaskState::Free, None))
            };
            Ok(Some(TaskInfo {
                id,
                state,
                method: method.clone(),
                arch: "noarch".into(),
                host_id,
                request: vec![],
            }))
        }
        async fn get_task_children(&mut self, id: i64) -> Result<Vec<i64>, HubError> {
            Ok(self.children.get(&id).cloned().unwrap_or_default())
        }
        async fn get_host_name(&mut self, id: i64) -> Result<Option<String>, HubError> {
            Ok(Some(format!("builder{id}.local")))
        }
        async fn get_task_result(&mut self, id: i64) -> Result<Value, HubError> {
            self.calls.push(format!("getTaskResult({id})"));
            match self.results.get(&id) {
                Some(Ok(v)) => Ok(v.clone()),
                Some(Err((code, message))) => Err(HubError::Fault {
                    code: *code,
                    message: message.clone(),
                }),
                None => Ok(Value::Nil),
            }
        }
        async fn list_task_output(
            &mut self,
            id: i64,
        ) -> Result<Vec<(String, Vec<String>)>, HubError> {
            Ok(self.outputs.get(&id).cloned().unwrap_or_default())
        }
    }

    pub fn options(quiet: bool) -> WatchOptions {
        WatchOptions {
            quiet,
            poll_interval: Duration::from_millis(1),
            topurl: None,
            progname: "koji-osbuild".into(),
        }
    }

    async fn watch(hub: &mut FakeHub, ids: &[i64], options: &WatchOptions) -> (i32, String) {
        let mut out = Vec::new();
        let rv = watch_tasks(hub, ids, options, &mut out, std::future::pending())
            .await
            .expect("watch works");
        (rv, String::from_utf8(out).expect("utf-8"))
    }

    use TaskState::*;

    #[tokio::test]
    async fn a_task_with_a_child_that_succeeds() {
        let mut hub = FakeHub::default();
        hub.task(
            3,
            "osbuildImage",
            &[
                (Free, None),
                (Open, Some(1)),
                (Open, Some(1)),
                (Closed, Some(1)),
            ],
        );
        hub.task(4, "tagBuild", &[(Free, None), (Closed, Some(1))]);
        hub.children.insert(3, vec![4]);
        let (rv, out) = watch(&mut hub, &[3], &options(false)).await;
        assert_eq!(rv, 0);
        assert_eq!(
            out,
            "Watching tasks (this may be safely interrupted)...\n\
             3 osbuildImage (noarch): free\n\
             \x20\x204 tagBuild (noarch): free\n\
             3 osbuildImage (noarch): free -> open (builder1.local)\n\
             \x20\x204 tagBuild (noarch): free -> closed\n\
             \x20\x200 free  1 open  1 done  0 failed\n\
             3 osbuildImage (noarch): open (builder1.local) -> closed\n\
             \x20\x200 free  0 open  2 done  0 failed\n\
             \n\
             3 osbuildImage (noarch) completed successfully\n"
        );
    }

    #[tokio::test]
    async fn a_failed_task_shows_the_fault_and_exits_1() {
        let mut hub = FakeHub::default();
        hub.task(5, "osbuildImage", &[(Open, Some(2)), (Failed, Some(2))]);
        hub.results
            .insert(5, Err((1005, "Compose failed (id: demo-compose-2)".into())));
        let (rv, out) = watch(&mut hub, &[5], &options(false)).await;
        assert_eq!(rv, 1);
        assert_eq!(
            out,
            "Watching tasks (this may be safely interrupted)...\n\
             5 osbuildImage (noarch): open (builder2.local)\n\
             5 osbuildImage (noarch): open (builder2.local) -> FAILED: BuildError: Compose failed (id: demo-compose-2)\n\
             \x20\x200 free  0 open  0 done  1 failed\n\
             \n\
             5 osbuildImage (noarch) failed\n"
        );
    }

    #[tokio::test]
    async fn relevant_logs_with_a_topurl() {
        let mut hub = FakeHub::default();
        hub.task(12345, "osbuildImage", &[(Failed, Some(1))]);
        hub.results
            .insert(12345, Err((1, "<class 'KeyError'>: 'version'".into())));
        hub.outputs.insert(
            12345,
            vec![
                ("compose-status.json".into(), vec!["DEFAULT".into()]),
                ("x86_64-guest-image.log.json".into(), vec!["DEFAULT".into()]),
                (
                    "koji-import.log".into(),
                    vec!["DEFAULT".into(), "archive".into()],
                ),
            ],
        );
        let mut opts = options(false);
        opts.topurl = Some("https://koji/kojifiles".into());
        let (rv, out) = watch(&mut hub, &[12345], &opts).await;
        assert_eq!(rv, 1);
        assert_eq!(
            out,
            "Watching tasks (this may be safely interrupted)...\n\
             12345 osbuildImage (noarch): FAILED: Fault: <Fault 1: \"<class 'KeyError'>: 'version'\">\n\
             \x20\x20Relevant logs:\n\
             \x20\x20https://koji/kojifiles/work/tasks/2345/12345/koji-import.log\n\
             \x20\x20https://koji/kojifiles/vol/archive/work/tasks/2345/12345/koji-import.log\n\
             \n\
             12345 osbuildImage (noarch) failed\n"
        );
    }

    #[tokio::test]
    async fn canceled_and_unknown_tasks() {
        let mut hub = FakeHub::default();
        hub.task(7, "osbuildImage", &[(Canceled, None)]);
        let (rv, out) = watch(&mut hub, &[7], &options(false)).await;
        assert_eq!(rv, 1);
        assert!(
            out.ends_with(
                "\n7 osbuildImage (noarch): canceled\n\n7 osbuildImage (noarch) was canceled\n"
            ),
            "{out}"
        );

        let (rv, out) = watch(&mut hub, &[99], &options(false)).await;
        assert_eq!(rv, 1);
        assert!(out.ends_with("No such task id: 99\n"), "{out}");
    }

    #[tokio::test]
    async fn quiet_prints_nothing() {
        let mut hub = FakeHub::default();
        hub.task(3, "osbuildImage", &[(Free, None), (Closed, Some(1))]);
        let (rv, out) = watch(&mut hub, &[3], &options(true)).await;
        assert_eq!((rv, out.as_str()), (0, ""));
    }

    #[tokio::test]
    async fn interrupt_lists_the_running_tasks() {
        let mut hub = FakeHub::default();
        hub.task(3, "osbuildImage", &[(Open, Some(1))]);
        hub.task(4, "tagBuild", &[(Free, None)]);
        hub.children.insert(3, vec![4]);
        let mut opts = options(false);
        opts.poll_interval = Duration::from_secs(3600);
        let mut out = Vec::new();
        let interrupt = tokio::time::sleep(Duration::from_millis(50));
        let rv = watch_tasks(&mut hub, &[3], &opts, &mut out, interrupt)
            .await
            .expect("watch");
        assert_eq!(rv, 1);
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.ends_with(
                "Tasks still running. You can continue to watch with the 'koji-osbuild watch-task' command.\n\
                 Running Tasks:\n\
                 3 osbuildImage (noarch): open (builder1.local)\n\
                 \x20\x204 tagBuild (noarch): free\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn labels() {
        let info = |method: &str, request: Vec<Value>| TaskInfo {
            id: 1,
            state: Free,
            method: method.into(),
            arch: "noarch".into(),
            host_id: None,
            request,
        };
        assert_eq!(
            task_label(&info("osbuildImage", vec!["n".into()])),
            "osbuildImage (noarch)"
        );
        assert_eq!(
            task_label(&info("tagBuild", vec![Value::Int(2)])),
            "tagBuild (noarch)"
        );
        assert_eq!(
            task_label(&info(
                "waitrepo",
                vec![Value::Int(3), Value::Nil, Value::Nil]
            )),
            "waitrepo (3)"
        );
        assert_eq!(
            task_label(&info(
                "waitrepo",
                vec![
                    "f42-build".into(),
                    Value::Nil,
                    Value::Array(vec!["a-1-1".into(), "b-1-1".into()])
                ]
            )),
            "waitrepo (f42-build, a-1-1, b-1-1)"
        );
    }
}
