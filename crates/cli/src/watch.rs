//! `koji-osbuild watch` (and `image --wait`): follow tasks until they are
//! done, showing what Koji's own watcher cannot: for each image task the
//! builder host, the compose id and the compose's progress per arch, and
//! at the end the build's NVR and the tags it went into.
//!
//! Everything comes from the hub: the builder attaches `compose.json`
//! (the compose id) and `compose-status.json` (composer's status, on every
//! change) to the task, so a user needs no access to composer. Output is
//! one line per change, in text or as JSON objects, never redrawn in
//! place, so a pipe or a log file reads the same as a terminal.

use std::collections::HashMap;
use std::future::Future;
use std::io::Write;
use std::time::Duration;

use koji::{
    from_value, kwargs, BuildInfo, Call, ClientSession, FileStat, TaskInfo, TaskState, Value,
};
use osbuild_task::OsbuildImageRequest;
use serde_json::{json, Value as Json};

/// The file the builder attaches with the compose id (`{id, server}`).
const COMPOSE_RECORD: &str = "compose.json";
/// The file the builder attaches with composer's status, on each change.
const COMPOSE_STATUS: &str = "compose-status.json";

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("no such task: {0}")]
    NoSuchTask(i64),
    #[error(transparent)]
    Hub(#[from] koji::Error),
    #[error("cannot write to standard output: {0}")]
    Output(#[from] std::io::Error),
}

/// How events are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Lines for people; `quiet` keeps only each task's end line.
    Text { quiet: bool },
    /// One JSON object per line, with an `event` member, for programs.
    Json,
}

/// What was seen of one task, to print only changes.
#[derive(Default)]
struct Seen {
    state: Option<TaskState>,
    host_id: Option<i64>,
    label: String,
    arches: Vec<String>,
    compose_id: Option<String>,
    /// size and mtime of the compose-status.json last read
    status_stamp: Option<(Option<u64>, Option<i64>)>,
    progress: Option<Json>,
}

/// Follows tasks on one session and prints their events.
pub struct Watcher<'a, W: Write> {
    session: &'a ClientSession,
    out: W,
    format: Format,
    poll_interval: Duration,
    tasks: HashMap<i64, Seen>,
    hosts: HashMap<i64, String>,
}

impl<'a, W: Write> Watcher<'a, W> {
    pub fn new(
        session: &'a ClientSession,
        out: W,
        format: Format,
        poll_interval: Duration,
    ) -> Self {
        Watcher {
            session,
            out,
            format,
            poll_interval,
            tasks: HashMap::new(),
            hosts: HashMap::new(),
        }
    }

    /// Print one event: `text` for people (unless quiet and not `last`),
    /// `object` (plus `event`) for programs.
    pub fn emit(
        &mut self,
        event: &str,
        text: &str,
        mut object: Json,
        last: bool,
    ) -> std::io::Result<()> {
        match self.format {
            Format::Text { quiet } if quiet && !last => return Ok(()),
            Format::Text { .. } => writeln!(self.out, "{text}")?,
            Format::Json => {
                object["event"] = json!(event);
                writeln!(self.out, "{object}")?;
            }
        }
        self.out.flush()
    }

    /// Watch until every task in `task_ids` is done, or `interrupt`
    /// completes (Ctrl-C). The status is 0 when every task closed, else 1.
    pub async fn watch(
        &mut self,
        task_ids: &[i64],
        interrupt: impl Future<Output = ()>,
    ) -> Result<i32, WatchError> {
        tokio::pin!(interrupt);
        let mut done: Vec<i64> = Vec::new();
        loop {
            for &id in task_ids {
                if done.contains(&id) {
                    continue;
                }
                let finished = tokio::select! {
                    finished = self.poll(id) => finished?,
                    () = &mut interrupt => return self.interrupted(task_ids, &done),
                };
                if finished {
                    done.push(id);
                }
            }
            if done.len() == task_ids.len() {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(self.poll_interval) => {}
                () = &mut interrupt => return self.interrupted(task_ids, &done),
            }
        }
        let all_closed = task_ids
            .iter()
            .all(|id| self.tasks.get(id).and_then(|s| s.state) == Some(TaskState::Closed));
        Ok(if all_closed { 0 } else { 1 })
    }

    fn interrupted(&mut self, task_ids: &[i64], done: &[i64]) -> Result<i32, WatchError> {
        let running: Vec<String> = task_ids
            .iter()
            .filter(|id| !done.contains(id))
            .map(i64::to_string)
            .collect();
        eprintln!(
            "Tasks still running. Keep watching with: koji-osbuild watch {}",
            running.join(" ")
        );
        Ok(1)
    }

    /// One look at a task and its children, in one multicall; prints what
    /// changed. True once the task is done (and its end line printed).
    async fn poll(&mut self, id: i64) -> Result<bool, WatchError> {
        let first = !self.tasks.contains_key(&id);
        let calls = [
            Call::with_kwargs("getTaskInfo", vec![id.into()], kwargs([("request", first)])),
            Call::new("getTaskChildren", vec![id.into()]),
            Call::with_kwargs("listTaskOutput", vec![id.into()], kwargs([("stat", true)])),
        ];
        let mut replies = self.session.multi_call(&calls).await?.into_iter();
        let mut next = || -> Result<Value, koji::Error> {
            match replies.next() {
                Some(Ok(v)) => Ok(v),
                Some(Err(fault)) => Err(fault.into()),
                None => Err(koji::Error::Convert("multicall reply too short".into())),
            }
        };
        let info = next()?;
        if info.is_nil() {
            return Err(WatchError::NoSuchTask(id));
        }
        let info: TaskInfo = from_value(info)?;
        let children: Vec<TaskInfo> = from_value(next()?)?;
        let files: HashMap<String, FileStat> = from_value(next()?).unwrap_or_default();

        if first {
            let mut seen = Seen {
                label: info.method.clone(),
                ..Seen::default()
            };
            // An image task is named by its build, and its compose's images
            // by the task's arches, in order.
            let request = info.request_params().and_then(Result::ok).map(|params| {
                OsbuildImageRequest::from_args(&koji::value_to_json(&Value::Array(params)))
            });
            if let Some(Ok(request)) = request.filter(|_| info.method == osbuild_task::METHOD) {
                seen.label = format!("{} {}-{}", info.method, request.name, request.version);
                seen.arches = request.arches;
            }
            self.tasks.insert(id, seen);
        }
        if !info.state.is_done() {
            self.state_change(&info).await?;
        }
        for child in children.iter().filter(|c| c.id != id) {
            self.tasks.entry(child.id).or_insert_with(|| Seen {
                label: child.method.clone(),
                ..Seen::default()
            });
            self.state_change(child).await?;
        }
        if info.method == osbuild_task::METHOD {
            self.compose_progress(id, &files).await?;
        }
        if info.state.is_done() {
            self.finish(&info).await?;
        }
        Ok(info.state.is_done())
    }

    /// Print the task's state (and host) when either changed.
    async fn state_change(&mut self, info: &TaskInfo) -> Result<(), WatchError> {
        let seen = self.tasks.get(&info.id);
        if seen.is_some_and(|s| s.state == Some(info.state) && s.host_id == info.host_id) {
            return Ok(());
        }
        let host = self.host_name(info.host_id).await?;
        let label = self.label(info.id);
        let state = info.state.name().to_lowercase();
        let on = host
            .as_deref()
            .map(|h| format!(" on {h}"))
            .unwrap_or_default();
        let object =
            json!({"task_id": info.id, "method": info.method, "state": state, "host": host});
        self.emit(
            "task",
            &format!("Task {} {label}: {state}{on}", info.id),
            object,
            false,
        )?;
        if let Some(seen) = self.tasks.get_mut(&info.id) {
            seen.state = Some(info.state);
            seen.host_id = info.host_id;
        }
        Ok(())
    }

    /// Print the compose id once, and the compose's status each time
    /// compose-status.json changed in a way that shows.
    async fn compose_progress(
        &mut self,
        id: i64,
        files: &HashMap<String, FileStat>,
    ) -> Result<(), WatchError> {
        let needs_record = self.tasks.get(&id).is_some_and(|s| s.compose_id.is_none());
        if needs_record && files.contains_key(COMPOSE_RECORD) {
            let record = self.download_json(id, COMPOSE_RECORD).await?;
            let compose_id = record["id"].as_str().map(String::from);
            if let Some(seen) = self.tasks.get_mut(&id) {
                seen.compose_id = compose_id;
            }
        }
        let Some(stat) = files.get(COMPOSE_STATUS) else {
            return Ok(());
        };
        let stamp = (stat.size(), stat.st_mtime.map(|t| (t * 1000.0) as i64));
        if self.tasks.get(&id).and_then(|s| s.status_stamp) == Some(stamp) {
            return Ok(());
        }
        let status = self.download_json(id, COMPOSE_STATUS).await?;
        let Some(seen) = self.tasks.get_mut(&id) else {
            return Ok(());
        };
        seen.status_stamp = Some(stamp);
        // The builder lists the image statuses in the order of the task's arches.
        let images: serde_json::Map<String, Json> = status["image_statuses"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, image)| {
                let arch = seen
                    .arches
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| format!("image {}", i + 1));
                (arch, image["status"].clone())
            })
            .collect();
        let progress = json!({"status": status["status"], "images": images});
        if seen.progress.as_ref() == Some(&progress) {
            return Ok(());
        }
        seen.progress = Some(progress.clone());
        let compose = seen
            .compose_id
            .clone()
            .unwrap_or_else(|| "(id not yet known)".into());
        let per_arch: Vec<String> = images
            .iter()
            .map(|(arch, s)| format!("{arch} {}", s.as_str().unwrap_or("?")))
            .collect();
        let text = format!(
            "Task {id} {}: compose {compose} {} ({})",
            seen.label,
            status["status"].as_str().unwrap_or("?"),
            per_arch.join(", ")
        );
        let object = json!({"task_id": id, "compose_id": seen.compose_id, "status": progress["status"], "images": progress["images"]});
        self.emit("compose", &text, object, false)?;
        Ok(())
    }

    /// The end line: for a closed image task the build and its tags, for a
    /// failed one the hub's fault, as `koji taskinfo` would show it.
    async fn finish(&mut self, info: &TaskInfo) -> Result<(), WatchError> {
        let id = info.id;
        let label = self.label(id);
        let state = info.state.name().to_lowercase();
        if let Some(seen) = self.tasks.get_mut(&id) {
            seen.state = Some(info.state);
        }
        let result = match self.session.get_task_result(id).await {
            Ok(result) => koji::value_to_json(&result),
            Err(err) => {
                let error = match err.fault() {
                    Some(fault) => fault.to_string(),
                    None => return Err(err.into()),
                };
                let object = json!({"task_id": id, "state": state, "error": error});
                let text = format!("Task {id} {label}: {state}: {error}");
                self.emit("done", &text, object, true)?;
                return Ok(());
            }
        };
        let mut text = format!("Task {id} {label}: {state}");
        let mut object = json!({"task_id": id, "state": state, "result": result});
        if let Some(build_id) = result["koji"]["build"].as_i64() {
            let build: Option<BuildInfo> = self.session.get_build(build_id, false).await?;
            // A build the hub does not know (deleted since) has no tags to ask for.
            let (nvr, tags) = match build {
                Some(b) => (
                    Some(
                        b.nvr
                            .unwrap_or(format!("{}-{}-{}", b.name, b.version, b.release)),
                    ),
                    self.tags_of(build_id).await?,
                ),
                None => (None, Vec::new()),
            };
            match &nvr {
                Some(nvr) => text.push_str(&format!(": build {nvr}")),
                None => text.push_str(&format!(": build {build_id} (not on the hub)")),
            }
            if tags.is_empty() {
                text.push_str(", not tagged");
            } else {
                text.push_str(&format!(", tagged into {}", tags.join(", ")));
            }
            object["build"] = json!({"id": build_id, "nvr": nvr, "tags": tags});
        }
        if let Some(compose) = result["composer"]["id"].as_str() {
            text.push_str(&format!(" (compose {compose})"));
        }
        self.emit("done", &text, object, true)?;
        Ok(())
    }

    /// `listTags(build=ID)`: the names of the tags a build is in.
    async fn tags_of(&self, build_id: i64) -> Result<Vec<String>, WatchError> {
        let kw = koji::kwargs([("build", build_id)]);
        let tags = self.session.call_kw("listTags", vec![], kw).await?;
        Ok(tags
            .as_array()
            .unwrap_or_default()
            .iter()
            .filter_map(|t| t.get("name").and_then(Value::as_str).map(String::from))
            .collect())
    }

    async fn download_json(&self, id: i64, name: &str) -> Result<Json, WatchError> {
        let bytes = self.session.download_task_output(id, name, 0, None).await?;
        // A half-written or odd file is no reason to stop watching.
        Ok(serde_json::from_slice(&bytes).unwrap_or(Json::Null))
    }

    async fn host_name(&mut self, host_id: Option<i64>) -> Result<Option<String>, WatchError> {
        let Some(host_id) = host_id else {
            return Ok(None);
        };
        if let Some(name) = self.hosts.get(&host_id) {
            return Ok(Some(name.clone()));
        }
        let host = self.session.call("getHost", vec![host_id.into()]).await?;
        let name = host
            .get("name")
            .and_then(Value::as_str)
            .map_or_else(|| format!("host {host_id}"), String::from);
        self.hosts.insert(host_id, name.clone());
        Ok(Some(name))
    }

    fn label(&self, id: i64) -> String {
        self.tasks
            .get(&id)
            .map(|s| s.label.clone())
            .unwrap_or_default()
    }
}
