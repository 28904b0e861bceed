//! Image tasks as a Koji user submits and follows them: the calls the
//! builder, resilience and doctor stories share.

use std::time::{Duration, Instant};

use koji::{BuildInfo, ClientSession, TaskInfo};
use osbuild_task::OsbuildImageRequest;

/// The target of the default seed.
pub const TARGET: &str = "fedora42-candidate";

/// The osbuildImage hub call for these seven arguments, made the one way
/// the CLI makes it.
pub async fn osbuild_image(user: &ClientSession, args: serde_json::Value) -> koji::Result<i64> {
    let request = OsbuildImageRequest::from_args(&args).expect("a valid osbuildImage request");
    let (positional, keyword) = request.hub_call(None);
    let positional = positional.iter().map(koji::json_to_value).collect();
    let keyword = keyword
        .iter()
        .map(|(k, v)| (k.clone(), koji::json_to_value(v)))
        .collect();
    let reply = user.call_kw("osbuildImage", positional, keyword).await?;
    Ok(reply.as_i64().expect("osbuildImage returns a task id"))
}

/// osbuildImage for `demo-image-42` on fedora-42, as the hub plugin takes it.
pub async fn submit(
    user: &ClientSession,
    image_type: &str,
    arches: &[&str],
    target: &str,
    opts: serde_json::Value,
) -> i64 {
    let args = serde_json::json!([
        "demo-image",
        "42",
        "fedora-42",
        image_type,
        target,
        arches,
        opts
    ]);
    osbuild_image(user, args)
        .await
        .expect("osbuildImage accepted by the hub")
}

/// `getTaskChildren(id)`.
pub async fn children(session: &ClientSession, task_id: i64) -> Vec<TaskInfo> {
    session
        .call_as("getTaskChildren", vec![task_id.into()])
        .await
        .expect("getTaskChildren")
}

/// `listTagged(tag)`: the builds in the tag.
pub async fn tagged(session: &ClientSession, tag: &str) -> Vec<BuildInfo> {
    session
        .call_as("listTagged", vec![tag.into()])
        .await
        .expect("listTagged")
}

/// A guest-image for x86_64 on the default target, no options.
pub async fn submit_guest_image(user: &ClientSession) -> i64 {
    submit(
        user,
        "guest-image",
        &["x86_64"],
        TARGET,
        serde_json::json!({}),
    )
    .await
}

/// Polls the task until it is CLOSED, FAILED or CANCELED.
pub async fn wait_done(session: &ClientSession, task_id: i64, timeout: Duration) -> TaskInfo {
    let deadline = Instant::now() + timeout;
    loop {
        let info = session
            .get_task_info(task_id, false)
            .await
            .expect("getTaskInfo")
            .expect("task exists");
        if info.state.is_done() {
            return info;
        }
        assert!(
            Instant::now() < deadline,
            "task {task_id} still {} after {timeout:?}",
            info.state
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The task's fault as text (or what it returned instead), for assertions.
pub async fn failure(session: &ClientSession, task_id: i64) -> String {
    match session.get_task_result(task_id).await {
        Ok(v) => format!("(no fault; result {v})"),
        Err(e) => e.to_string(),
    }
}

/// The names of the files attached to the task, sorted.
pub async fn output(session: &ClientSession, task_id: i64) -> Vec<String> {
    let mut files: Vec<String> = session
        .call_as("listTaskOutput", vec![task_id.into()])
        .await
        .expect("listTaskOutput");
    files.sort();
    files
}

/// Waits until the task has attached `name` (e.g. compose.json: the
/// compose runs in composer).
pub async fn wait_for_file(session: &ClientSession, task_id: i64, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !output(session, task_id).await.iter().any(|f| f == name) {
        assert!(
            Instant::now() < deadline,
            "task {task_id} never attached {name}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An attached file's text.
pub async fn download(session: &ClientSession, task_id: i64, name: &str) -> String {
    let bytes = session
        .download_task_output(task_id, name, 0, None)
        .await
        .expect("downloadTaskOutput");
    String::from_utf8(bytes).expect("utf-8 attachment")
}
