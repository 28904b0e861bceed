//! Image tasks as a Koji user submits and follows them: the calls the
//! builder, resilience and doctor stories share.

use std::time::{Duration, Instant};

use koji::{ClientSession, TaskInfo};

/// The target of the default seed.
pub const TARGET: &str = "fedora42-candidate";

/// osbuildImage for `demo-image-42` on fedora-42, as the hub plugin takes it.
pub async fn submit(
    user: &ClientSession,
    image_type: &str,
    arches: &[&str],
    target: &str,
    opts: serde_json::Value,
) -> i64 {
    let arches: Vec<String> = arches.iter().map(|a| a.to_string()).collect();
    user.osbuild_image(
        "demo-image",
        "42",
        "fedora-42",
        &[image_type.to_string()],
        target,
        &arches,
        Some(koji::json_to_value(&opts)),
        None,
    )
    .await
    .expect("osbuildImage accepted by the hub")
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
    let mut files = session
        .list_task_output(task_id)
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
