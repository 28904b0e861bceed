//! kojid with the osbuild plugin (issue #11): Koji's own
//! `koji.daemon.TaskManager` (testing/kojid/run.py) with
//! plugins/builder/osbuild.py loaded from a kojid.conf, the test hub and
//! the composer simulator as separate processes. The plugin hands each
//! osbuildImage task to `koji-osbuild-builder run-task`, the daemon's own
//! handler; kojid closes, fails, frees or kills the task.

use std::time::Duration;

use e2e::builder::{builder_conf, BuilderProcess};
use e2e::hub::TestHub;
use e2e::sim::ComposerSim;
use e2e::tasks::{
    children, download, failure, output, submit, submit_guest_image, tagged, wait_done,
    wait_for_file, TARGET,
};
use koji::{ClientSession, TaskState, Value};
use serde_json::json;

/// builder.conf as a kojid site has it: upstream's [composer] and [koji];
/// the host keys (hub, topurl) come from kojid.conf.
fn kojid_site_builder_conf(hub: &TestHub, sim: &ComposerSim) -> String {
    kojid_site_polling(hub, sim, "0.2")
}

fn kojid_site_polling(hub: &TestHub, sim: &ComposerSim, poll_seconds: &str) -> String {
    format!(
        "[composer]\nserver = {}\n\n[koji]\nserver = {}\n\n[builder]\ncompose_poll_interval = {poll_seconds}\n",
        sim.url, hub.url
    )
}

fn compose_id(result: &Value) -> String {
    result
        .get("composer")
        .and_then(|c| c.get("id"))
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no composer.id in {result}"))
        .to_string()
}

/// The compose the task recorded in compose.json.
async fn recorded_compose(user: &ClientSession, task_id: i64) -> String {
    wait_for_file(user, task_id, "compose.json").await;
    let record: serde_json::Value =
        serde_json::from_str(&download(user, task_id, "compose.json").await).unwrap();
    record["id"].as_str().expect("compose.json id").to_string()
}

async fn closed(user: &ClientSession, task_id: i64) -> Value {
    let info = wait_done(user, task_id, Duration::from_secs(120)).await;
    assert_eq!(
        info.state,
        TaskState::Closed,
        "{}",
        failure(user, task_id).await
    );
    user.get_task_result(task_id).await.expect("task result")
}

/// The admin's way from kojid to the daemon: the same task under both
/// ends the same way, with the same files attached.
#[tokio::test(flavor = "multi_thread")]
async fn kojid_closes_tags_and_attaches_what_the_daemon_attaches() {
    let hub = TestHub::start();
    let sim = ComposerSim::start(&hub, &["--compose-duration", "1s"]);
    let mut kojid = BuilderProcess::start_kojid(&hub, &kojid_site_builder_conf(&hub, &sim));
    let user = hub.login("kojiuser", "kojipass").await;

    let under_kojid = submit_guest_image(&user).await;
    let result = closed(&user, under_kojid).await;
    let cid = compose_id(&result);
    let build_id = result
        .get("koji")
        .and_then(|k| k.get("build"))
        .and_then(Value::as_i64)
        .expect("koji.build");
    assert_eq!(
        result.get("composer").and_then(|c| c.get("server")),
        Some(&Value::from(sim.url.as_str())),
        "upstream's result: {result}"
    );
    assert!(
        tagged(&user, TARGET).await.iter().any(|b| b.id == build_id),
        "build {build_id} tagged into {TARGET}"
    );
    // kojid's main loop ran the tagBuild subtask (with its TagBuildTask).
    let subtasks = children(&user, under_kojid).await;
    assert_eq!(subtasks.len(), 1, "{subtasks:?}");
    assert_eq!(
        (subtasks[0].method.as_str(), subtasks[0].state),
        ("tagBuild", TaskState::Closed)
    );
    let log = kojid.log();
    assert!(log.contains("Loading plugin: osbuild"), "{log}");
    // kojid woke the waiting task with SIGUSR2 when the subtask finished.
    assert!(
        log.contains(&format!("Waking up task: {{'id': {under_kojid}")),
        "{log}"
    );
    assert!(
        log.contains("running the task for kojid") && log.contains(&cid),
        "the Rust handler ran the task, its log in kojid's: {log}"
    );
    let kojid_files = output(&user, under_kojid).await;

    // Moving to the daemon: stop kojid, start koji-osbuild-builder as the
    // same host with the same builder.conf plus the host keys.
    assert!(kojid.stop().await, "kojid exits cleanly:\n{}", kojid.log());
    let daemon = BuilderProcess::start(&builder_conf(&hub, &sim.url, ""));
    let under_daemon = submit_guest_image(&user).await;
    closed(&user, under_daemon).await;
    assert_eq!(kojid_files, output(&user, under_daemon).await);
    assert!(
        kojid_files.iter().any(|f| f == "compose.json"),
        "{kojid_files:?}"
    );
    drop(daemon);
}

#[tokio::test(flavor = "multi_thread")]
async fn kojid_fails_a_failed_compose_naming_it() {
    let hub = TestHub::start();
    let sim = ComposerSim::start(
        &hub,
        &["--compose-duration", "1s", "--fail-arch", "aarch64"],
    );
    let _kojid = BuilderProcess::start_kojid(&hub, &kojid_site_builder_conf(&hub, &sim));
    let user = hub.login("kojiuser", "kojipass").await;
    let task_id = submit(
        &user,
        "guest-image",
        &["x86_64", "aarch64"],
        TARGET,
        json!({}),
    )
    .await;
    let cid = recorded_compose(&user, task_id).await;
    let info = wait_done(&user, task_id, Duration::from_secs(120)).await;
    assert_eq!(info.state, TaskState::Failed);
    let msg = failure(&user, task_id).await;
    assert!(
        msg.contains("BuildError") && msg.contains(&format!("Compose failed (id: {cid})")),
        "{msg}"
    );
    let files = output(&user, task_id).await;
    assert!(
        files.iter().any(|f| f == "compose-status.json"),
        "{files:?}"
    );
}

/// kojid kills a canceled task's process (cleanupTask); the child sees the
/// task CANCELED and cancels its compose in composer. (It polls composer
/// seldom here, so that kojid's kill comes before the task's own next hub
/// call would find the task canceled.)
#[tokio::test(flavor = "multi_thread")]
async fn kojid_cancel_cancels_the_compose() {
    let hub = TestHub::start();
    let sim = ComposerSim::start(&hub, &["--compose-duration", "60s"]);
    let kojid = BuilderProcess::start_kojid(&hub, &kojid_site_polling(&hub, &sim, "30"));
    let user = hub.login("kojiuser", "kojipass").await;
    let task_id = submit_guest_image(&user).await;
    let cid = recorded_compose(&user, task_id).await;
    user.call("cancelTask", vec![task_id.into()])
        .await
        .expect("cancelTask");
    sim.wait_stats(&format!("compose {cid} canceled in composer"), |stats| {
        stats["canceled_composes"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c == cid.as_str()))
    })
    .await;
    assert_eq!(sim.stats()["cancels"], 1, "only that compose");
    kojid
        .wait_log("kojid killed the canceled task", |l| {
            l.contains(&format!("Killing canceled task {task_id}"))
                && l.contains("task stopped by kojid")
        })
        .await;
    let info = user.get_task_info(task_id, false).await.unwrap().unwrap();
    assert_eq!(info.state, TaskState::Canceled);
}

/// kojid restarted mid-compose (SIGTERM: tasks freed): the compose is left
/// running, and the task's next run follows it from compose.json.
#[tokio::test(flavor = "multi_thread")]
async fn kojid_restart_mid_compose_resumes_without_a_second_compose() {
    let hub = TestHub::start();
    let sim = ComposerSim::start(&hub, &["--compose-duration", "8s"]);
    let mut kojid = BuilderProcess::start_kojid(&hub, &kojid_site_builder_conf(&hub, &sim));
    let user = hub.login("kojiuser", "kojipass").await;
    let task_id = submit_guest_image(&user).await;
    let cid = recorded_compose(&user, task_id).await;

    assert!(kojid.stop().await, "kojid exits cleanly:\n{}", kojid.log());
    let info = user.get_task_info(task_id, false).await.unwrap().unwrap();
    assert!(
        matches!(info.state, TaskState::Free | TaskState::Assigned),
        "freed, got {}",
        info.state
    );
    assert_eq!(sim.stats()["cancels"], 0, "the compose keeps running");

    kojid.restart();
    let result = closed(&user, task_id).await;
    assert_eq!(
        compose_id(&result),
        cid,
        "the rerun followed the first compose"
    );
    let stats = sim.stats();
    assert_eq!(stats["composes_created"], 1, "no second compose: {stats}");
    assert!(kojid.log().contains(&format!("resuming compose {cid}")));
}
