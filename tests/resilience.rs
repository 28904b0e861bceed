//! The builder rides out outages (issue #5): the hub down or in
//! maintenance mid-compose, composer answering 5xx or dropping
//! connections, a compose that runs too long. The test hub, the composer
//! simulator and `koji-osbuild-builder` run as separate processes; the
//! retry pauses are small so that a few seconds stand for the minutes of
//! a real outage (the code path is the same).

use std::time::{Duration, Instant};

use e2e::builder::{builder_conf, BuilderProcess};
use e2e::hub::TestHub;
use e2e::sim::ComposerSim;
use e2e::tasks::{download, failure, submit_guest_image, wait_done, wait_for_file};
use koji::{ClientSession, TaskInfo, TaskState};
use serde_json::json;

/// Koji client retries fast enough for a test: an outage of a minute is
/// 120 tries half a second apart.
const FAST_HUB_RETRIES: &str =
    "max_retries = 120\nretry_interval = 0.5\noffline_retry_interval = 0.5\n";

/// Waits until the task has attached its first compose-status.json (the
/// compose runs in composer and the task follows it); returns the compose id.
async fn compose_running(user: &ClientSession, task_id: i64) -> String {
    wait_for_file(user, task_id, "compose-status.json").await;
    let record: serde_json::Value =
        serde_json::from_str(&download(user, task_id, "compose.json").await)
            .expect("compose.json is JSON");
    record["id"].as_str().expect("compose.json id").to_string()
}

fn assert_closed(info: &TaskInfo, why: &str, log: &str) {
    assert_eq!(
        info.state,
        TaskState::Closed,
        "{why}\n--- builder log ---\n{log}"
    );
}

/// The hub goes away mid-compose (stopped, as in a crash or a restart)
/// and comes back on the same address with its state. The builder's hub
/// calls are retried all along — the task's and the host loop's — so the
/// task is neither failed nor freed: the same run closes it, and composer
/// saw one compose.
#[tokio::test(flavor = "multi_thread")]
async fn hub_down_mid_compose_the_task_still_closes() {
    let mut hub = TestHub::start();
    // The simulator's own Koji side (CGImport) runs at the end of the
    // compose, after the hub is back.
    let sim = ComposerSim::start(&hub, &["--compose-duration", "12s"]);
    let builder = BuilderProcess::start(&builder_conf(&hub, &sim.url, FAST_HUB_RETRIES));
    let user = hub.login("kojiuser", "kojipass").await;
    let task_id = submit_guest_image(&user).await;
    let cid = compose_running(&user, task_id).await;

    hub.stop();
    let outage = Instant::now();
    // The hub stays down until the builder has tried a call again and
    // again (Koji's retries, half a second apart here).
    builder
        .wait_log("the builder's calls fail while the hub is down", |log| {
            log.contains("Try #5 for call")
        })
        .await;
    hub.restart();
    let down = outage.elapsed();

    let info = wait_done(&user, task_id, Duration::from_secs(90)).await;
    assert_closed(&info, &failure(&user, task_id).await, &builder.log());
    let stats = sim.stats();
    assert_eq!(stats["composes_created"], 1, "one compose: {stats}");
    let result = user.get_task_result(task_id).await.expect("task result");
    assert_eq!(
        result
            .get("composer")
            .and_then(|c| c.get("id"))
            .and_then(koji::Value::as_str),
        Some(cid.as_str())
    );
    let log = builder.log();
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("task opened") && l.contains("osbuildImage"))
            .count(),
        1,
        "the same run closed the task (hub down {down:?}):\n{log}"
    );
    assert!(!log.contains("task failed"), "{log}");
}

/// The hub goes into maintenance mid-compose (ServerOffline on every call,
/// as `ServerOffline = On` in hub.conf): the builder waits it out
/// (offline_retry, on by default as in kojid) and the task closes.
#[tokio::test(flavor = "multi_thread")]
async fn hub_offline_mid_compose_the_task_still_closes() {
    let hub = TestHub::start();
    let sim = ComposerSim::start(&hub, &["--compose-duration", "10s"]);
    let builder = BuilderProcess::start(&builder_conf(&hub, &sim.url, FAST_HUB_RETRIES));
    let user = hub.login("kojiuser", "kojipass").await;
    let task_id = submit_guest_image(&user).await;
    compose_running(&user, task_id).await;

    hub.set_offline(true);
    // The maintenance lasts until the builder has waited through several
    // ServerOffline answers.
    builder
        .wait_log("the builder waits for the hub", |log| {
            log.matches("Koji hub is offline").count() >= 3
        })
        .await;
    hub.set_offline(false);

    let info = wait_done(&user, task_id, Duration::from_secs(90)).await;
    assert_closed(&info, &failure(&user, task_id).await, &builder.log());
    assert_eq!(sim.stats()["composes_created"], 1);
    let log = builder.log();
    assert!(!log.contains("task failed"), "{log}");
    assert!(!log.contains("task freed"), "{log}");
}

/// Composer answers 503 to everything for a while, then drops every
/// connection for a while: far longer than the client's own two quick
/// retries (upstream's), shorter than composer_outage_timeout (30 min by
/// default). The task waits it out and closes; composer saw one compose.
#[tokio::test(flavor = "multi_thread")]
async fn composer_5xx_and_resets_for_a_while_the_task_still_closes() {
    let hub = TestHub::start();
    let sim = ComposerSim::start(&hub, &["--compose-duration", "8s"]);
    let builder = BuilderProcess::start(&builder_conf(&hub, &sim.url, ""));
    let user = hub.login("kojiuser", "kojipass").await;
    let task_id = submit_guest_image(&user).await;
    compose_running(&user, task_id).await;

    // Each spell lasts until the client's own retries are used up and the
    // task waits composer out (it logs "composer failed while following").
    let waits = |log: &str| log.matches("composer failed while following").count();
    sim.set_faults(&json!({"fail_for": "120s", "fail_status": 503}));
    sim.wait_stats("the 503s reach the builder", |s| {
        s["injected_failures"].as_u64() >= Some(3)
    })
    .await;
    builder
        .wait_log("the task waits out the 503s", |log| waits(log) >= 1)
        .await;
    let before = waits(&builder.log());
    sim.set_faults(&json!({"fail_for": "0s", "reset_for": "120s"}));
    sim.wait_stats("the resets reach the builder", |s| {
        s["injected_resets"].as_u64() >= Some(3)
    })
    .await;
    builder
        .wait_log("the task waits out the resets", |log| waits(log) > before)
        .await;
    sim.set_faults(&json!({"reset_for": "0s"}));

    let info = wait_done(&user, task_id, Duration::from_secs(90)).await;
    assert_closed(&info, &failure(&user, task_id).await, &builder.log());
    let stats = sim.stats();
    assert_eq!(stats["composes_created"], 1, "{stats}");
    assert!(
        stats["injected_failures"].as_u64() >= Some(3),
        "the 503s reached the builder: {stats}"
    );
    assert!(
        stats["injected_resets"].as_u64() >= Some(3),
        "the resets reached the builder: {stats}"
    );
    let log = builder.log();
    assert!(log.contains("composer failed while following"), "{log}");
}

/// The same outage with a short composer_outage_timeout: the task gives up
/// with a BuildError that names composer, the compose, how long composer
/// failed and its last error; no second compose is created.
#[tokio::test(flavor = "multi_thread")]
async fn composer_outage_longer_than_the_timeout_fails_the_task() {
    let hub = TestHub::start();
    let sim = ComposerSim::start(&hub, &["--compose-duration", "60s"]);
    let builder = BuilderProcess::start(&builder_conf(
        &hub,
        &sim.url,
        "composer_outage_timeout = 3\n",
    ));
    let user = hub.login("kojiuser", "kojipass").await;
    let task_id = submit_guest_image(&user).await;
    let cid = compose_running(&user, task_id).await;

    sim.set_faults(&json!({"fail_for": "120s", "fail_status": 503}));
    let since = Instant::now();
    let info = wait_done(&user, task_id, Duration::from_secs(60)).await;
    let took = since.elapsed();
    assert_eq!(info.state, TaskState::Failed, "{}", builder.log());
    assert!(
        took >= Duration::from_secs(3),
        "gave up after {took:?}, before composer_outage_timeout"
    );
    let fault = failure(&user, task_id).await;
    for part in [
        "BuildError",
        &format!("composer {}", sim.url),
        &format!("compose {cid}"),
        "kept failing for 3",
        "composer_outage_timeout = 3 s",
        "last error",
        "503",
    ] {
        assert!(fault.contains(part), "{part:?} in the fault: {fault}");
    }
    sim.set_faults(&json!({"fail_for": "0s"}));
    assert_eq!(sim.stats()["composes_created"], 1, "no second compose");
}

/// A compose that runs past compose_timeout is canceled in composer and
/// the task fails saying so.
#[tokio::test(flavor = "multi_thread")]
async fn compose_running_past_compose_timeout_is_canceled() {
    let hub = TestHub::start();
    let sim = ComposerSim::start(&hub, &["--compose-duration", "120s"]);
    let builder = BuilderProcess::start(&builder_conf(&hub, &sim.url, "compose_timeout = 3\n"));
    let user = hub.login("kojiuser", "kojipass").await;
    let started = Instant::now();
    let task_id = submit_guest_image(&user).await;
    let cid = compose_running(&user, task_id).await;

    let info = wait_done(&user, task_id, Duration::from_secs(60)).await;
    assert_eq!(info.state, TaskState::Failed, "{}", builder.log());
    assert!(started.elapsed() >= Duration::from_secs(3));
    let fault = failure(&user, task_id).await;
    assert!(
        fault.contains("BuildError")
            && fault.contains(&format!(
                "compose {cid} exceeded compose_timeout = 3 s and was cancelled"
            )),
        "{fault}"
    );
    let stats = sim.stats();
    assert_eq!(stats["cancels"], 1, "{stats}");
    assert_eq!(stats["canceled_composes"], json!([cid]), "{stats}");
    assert_eq!(stats["composes_created"], 1, "{stats}");
}

/// The hub expires the host's session and the task's subsession mid-compose
/// (Koji's SessionRenewalTimeout, a day by default, marks a session and its
/// subsessions expired): the next calls get AuthExpired, the builder logs
/// in again with renew=True — the hub renews each session in place — and
/// the same run closes the task.
#[tokio::test(flavor = "multi_thread")]
async fn sessions_expiring_mid_compose_are_renewed_and_the_task_closes() {
    let hub = TestHub::start();
    let sim = ComposerSim::start(&hub, &["--compose-duration", "5s"]);
    let builder = BuilderProcess::start(&builder_conf(&hub, &sim.url, ""));
    let user = hub.login("kojiuser", "kojipass").await;
    let task_id = submit_guest_image(&user).await;
    compose_running(&user, task_id).await;

    // What the hub does when the renewal timeout passed, for every open
    // session of the host user (the exclusive one and the task's).
    let db = hub.state_dir().join("hub.sqlite");
    let expired = std::process::Command::new(e2e::python())
        .arg("-c")
        .arg(
            "import sqlite3, sys\n\
             db = sqlite3.connect(sys.argv[1], timeout=30)\n\
             n = db.execute(\"UPDATE sessions SET expired = 1 WHERE closed = 0 AND user_id = \
             (SELECT user_id FROM hosts WHERE name = 'builder.local')\").rowcount\n\
             db.commit()\n\
             print(n)\n",
        )
        .arg(&db)
        .output()
        .expect("run python");
    assert!(expired.status.success(), "{expired:?}");
    let n: u32 = String::from_utf8_lossy(&expired.stdout)
        .trim()
        .parse()
        .expect("a count");
    assert!(n >= 2, "the host session and the task's subsession: {n}");

    let info = wait_done(&user, task_id, Duration::from_secs(90)).await;
    assert_closed(&info, &failure(&user, task_id).await, &builder.log());
    let log = builder.log();
    assert!(
        log.contains("Koji session expired; logging in again"),
        "the builder renewed its sessions:\n{log}"
    );
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("task opened") && l.contains("osbuildImage"))
            .count(),
        1,
        "the same run closed the task:\n{log}"
    );
    assert!(!log.contains("SequenceError"), "{log}");
}

/// The hub is down (killed) when the builder gets SIGTERM: the builder
/// does not wait out Koji's retries (two hours with kojid's defaults) but
/// leaves at once, with one line saying it could not tell the hub. The
/// task stays OPEN; with the hub back, the next start frees it, takes it
/// again and resumes its compose: composer saw one compose.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_with_the_hub_down_exits_and_a_restart_resumes() {
    let mut hub = TestHub::start();
    let sim = ComposerSim::start(&hub, &["--compose-duration", "12s"]);
    let mut builder = BuilderProcess::start(&builder_conf(&hub, &sim.url, FAST_HUB_RETRIES));
    let user = hub.login("kojiuser", "kojipass").await;
    let task_id = submit_guest_image(&user).await;
    let cid = compose_running(&user, task_id).await;

    hub.stop();
    builder.signal("TERM");
    // The stop is bounded at 5 s; the generous deadline is for slow CI.
    let status = builder.wait_exit(Duration::from_secs(20)).await;
    let log = builder.log();
    assert!(
        status.is_some_and(|s| s.success()),
        "exit {status:?}\n{log}"
    );
    let leaving: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("leaving without logging out"))
        .collect();
    assert_eq!(leaving.len(), 1, "{log}");
    assert!(
        leaving[0].contains("tasks left OPEN are freed by the next start"),
        "{log}"
    );

    hub.restart();
    let user = hub.login("kojiuser", "kojipass").await;
    let info = user.get_task_info(task_id, false).await.unwrap().unwrap();
    assert_eq!(info.state, TaskState::Open, "not freed: the hub was down");
    builder.restart();
    let info = wait_done(&user, task_id, Duration::from_secs(90)).await;
    let log = builder.log();
    assert_closed(&info, &failure(&user, task_id).await, &log);
    assert!(
        log.contains("task freed (left open by a previous run)"),
        "{log}"
    );
    assert!(log.contains(&format!("resuming compose {cid}")), "{log}");
    let stats = sim.stats();
    assert_eq!(stats["composes_created"], 1, "no second compose: {stats}");
}
