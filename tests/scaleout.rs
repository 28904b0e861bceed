//! Scale-out (issue #14): two `koji-osbuild-builder` daemons, registered
//! as two Koji hosts in the `image` channel the way an admin adds a host
//! (`koji add-host`, `add-host-to-channel`, `edit-host --capacity`), share
//! 100 tasks through the hub's scheduler. One is killed (SIGKILL: it frees
//! nothing) while its composes run; the hub frees its OPEN tasks once it
//! has not checked in for HostTimeout, the scheduler gives them to the
//! other host, and that host follows each compose from the task's
//! compose.json instead of starting a second one.
//!
//! The hub's timeouts are seconds here instead of Koji's minutes
//! (HostTimeout 900 s, ReadyTimeout 180 s, AssignTimeout 300 s); the code
//! path is the same.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use e2e::builder::{cert_host_keys_as, BuilderProcess};
use e2e::hub::{HubOptions, TestHub};
use e2e::run::Home;
use e2e::sim::ComposerSim;
use koji::{Call, ClientSession, TaskInfo, TaskState, Value};

const TASKS: usize = 100;
/// Long enough that the first host's composes still run when it is killed,
/// right after the last of the 100 has started.
const COMPOSE: &str = "45s";
const FIRST: &str = "builder.local";
/// The hub's HostTimeout, in seconds: far above the surviving host's
/// check-in interval even on a loaded machine, so only the dead host's
/// tasks move.
const HOST_TIMEOUT: f64 = 20.0;
const SECOND: &str = "builder2.local";

/// Waits until `check` returns `Some`, polling; panics with `what` after
/// `timeout`.
async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} (waited {timeout:?})");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// One call per task in one multiCall; the replies in task order.
async fn per_task(session: &ClientSession, method: &str, ids: &[i64]) -> Vec<Value> {
    let calls: Vec<Call> = ids
        .iter()
        .map(|id| Call::new(method, vec![Value::Int(*id)]))
        .collect();
    session
        .multi_call(&calls)
        .await
        .expect("multiCall")
        .into_iter()
        .map(|r| r.unwrap_or_else(|f| panic!("{method}: {f}")))
        .collect()
}

async fn task_infos(session: &ClientSession, ids: &[i64]) -> Vec<TaskInfo> {
    per_task(session, "getTaskInfo", ids)
        .await
        .into_iter()
        .map(|v| koji::from_value(v).expect("getTaskInfo shape"))
        .collect()
}

async fn host_id(session: &ClientSession, name: &str) -> i64 {
    let host: serde_json::Value = session
        .call_as("getHost", vec![name.into()])
        .await
        .expect("getHost");
    host["id"].as_i64().expect("host id")
}

/// The task ids a builder's log says it opened, with repeats.
fn opened(log: &str) -> Vec<i64> {
    log.lines()
        .filter(|l| l.contains("task opened"))
        .filter_map(|l| l.split("task_id=").nth(1))
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

fn builder_conf(hub: &TestHub, sim: &ComposerSim, host: &str) -> String {
    let pki = hub.pki.as_ref().expect("a TLS hub");
    format!(
        "[composer]\nserver = {composer}\n\n[koji]\nserver = {hub}\n\n\
         [builder]\ntopurl = {topurl}\n{keys}\
         sleeptime = 0.3\ncompose_poll_interval = 1\ncapacity = {capacity}\n",
        composer = sim.url,
        hub = hub.url,
        topurl = hub.topurl,
        keys = cert_host_keys_as(hub, &pki.ca(), host),
        // room for all the tasks and their tagBuild subtasks
        capacity = 2 * TASKS,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hosts_share_100_tasks_and_one_takes_over_the_composes_of_the_other_when_it_dies() {
    let hub = TestHub::start_with(HubOptions {
        tls: true,
        // ReadyTimeout: the dead host gets no new tasks after 5 s;
        // AssignTimeout: one it got meanwhile is taken back after 60 s.
        options: vec![
            format!("HostTimeout={HOST_TIMEOUT}"),
            "ReadyTimeout=5".into(),
            "AssignTimeout=60".into(),
        ],
        ..HubOptions::default()
    });
    let admin = hub.login("admin", "adminpass").await;

    // The second host, as an admin adds one; both hosts get room for all
    // the tasks (an osbuildImage task weighs 0.2; Koji's default capacity
    // is 2.0).
    let home = Home::new();
    home.koji_config(&format!(
        "[koji]\nserver = {}\nweburl = {}\ntopurl = {}\nauthtype = password\n",
        hub.url, hub.weburl, hub.topurl
    ));
    let as_admin = ["--user", "admin", "--password", "adminpass"];
    for cmd in [
        &["add-host", SECOND, "x86_64", "aarch64"][..],
        &["add-host-to-channel", SECOND, "image"],
        &["edit-host", "--capacity", "40", FIRST, SECOND],
    ] {
        let args: Vec<&str> = as_admin.iter().chain(cmd).copied().collect();
        home.koji(&args).await.success();
    }
    let (first_id, second_id) = (host_id(&admin, FIRST).await, host_id(&admin, SECOND).await);

    let sim = ComposerSim::start(&hub, &["--compose-duration", COMPOSE]);
    let mut first = BuilderProcess::start(&builder_conf(&hub, &sim, FIRST));
    let second = BuilderProcess::start(&builder_conf(&hub, &sim, SECOND));
    // Both have checked in (host.updateHost) before the tasks come, so the
    // scheduler has both to choose from.
    wait_for("both hosts ready", Duration::from_secs(60), || async {
        let hosts: Vec<serde_json::Value> =
            admin.call_as("listHosts", vec![]).await.expect("listHosts");
        let ready = hosts.iter().filter(|h| h["ready"] == true).count();
        (ready == 2).then_some(())
    })
    .await;

    let user = hub.login("kojiuser", "kojipass").await;
    let mut ids = Vec::with_capacity(TASKS);
    for i in 1..=TASKS {
        // a version per task: every compose reserves its own NVR
        let args = serde_json::json!([
            "demo-image",
            i.to_string(),
            "fedora-42",
            "guest-image",
            e2e::tasks::TARGET,
            ["x86_64"],
            {}
        ]);
        ids.push(
            e2e::tasks::osbuild_image(&user, args)
                .await
                .expect("osbuildImage"),
        );
    }

    // Every task has its compose, recorded in Koji (compose.json): nothing
    // is between "composer accepted it" and "Koji knows it".
    wait_for("100 composes", Duration::from_secs(300), || async {
        (sim.stats()["composes_created"] == TASKS).then_some(())
    })
    .await;
    wait_for(
        "compose.json on every task",
        Duration::from_secs(120),
        || async {
            let outputs = per_task(&user, "listTaskOutput", &ids).await;
            outputs
                .iter()
                .all(|files| {
                    files
                        .as_array()
                        .is_some_and(|f| f.iter().any(|n| n.as_str() == Some("compose.json")))
                })
                .then_some(())
        },
    )
    .await;

    let before = task_infos(&user, &ids).await;
    let owner: HashMap<i64, i64> = before
        .iter()
        .map(|t| {
            assert_eq!(t.state, TaskState::Open, "task {} runs", t.id);
            (t.id, t.host_id.expect("an OPEN task has a host"))
        })
        .collect();
    let victims: HashSet<i64> = ids
        .iter()
        .copied()
        .filter(|id| owner[id] == first_id)
        .collect();
    let kept = ids.len() - victims.len();
    assert!(
        !victims.is_empty() && kept > 0,
        "both hosts take tasks: {} on {FIRST}, {kept} on {SECOND}",
        victims.len()
    );

    first.kill9();
    let killed_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64();
    let compose_of: HashMap<i64, serde_json::Value> = sim
        .composes()
        .into_iter()
        .map(|c| {
            let task = c["request"]["koji"]["task_id"]
                .as_i64()
                .expect("the compose request names its Koji task");
            (task, c)
        })
        .collect();
    let running = victims
        .iter()
        .filter(|id| {
            compose_of[id]["finished"]
                .as_f64()
                .is_none_or(|at| at > killed_at)
        })
        .count();
    assert!(
        running > 0,
        "{FIRST} was killed mid-compose: none of its composes was still running"
    );

    for id in &ids {
        let info = e2e::tasks::wait_done(&user, *id, Duration::from_secs(600)).await;
        assert_eq!(
            info.state,
            TaskState::Closed,
            "task {id}: {}",
            e2e::tasks::failure(&user, *id).await
        );
    }

    // One compose per task, the one each task's result names.
    assert_eq!(sim.stats()["composes_created"], TASKS, "no second compose");
    let composes = sim.composes();
    let tasks_composed: HashSet<i64> = composes
        .iter()
        .filter_map(|c| c["request"]["koji"]["task_id"].as_i64())
        .collect();
    assert_eq!(composes.len(), TASKS);
    assert_eq!(tasks_composed, ids.iter().copied().collect());
    for (id, result) in ids.iter().zip(per_task(&user, "getTaskResult", &ids).await) {
        let result = koji::value_to_json(&result);
        assert_eq!(result["composer"]["id"], compose_of[id]["id"], "task {id}");
    }

    // Each task was assigned once, to the host that ran it, except the
    // dead host's: freed from it, then given to the other one.
    let runs: Vec<serde_json::Value> = admin
        .call_as("scheduler.getTaskRuns", vec![])
        .await
        .expect("scheduler.getTaskRuns");
    let mut hosts_of: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for run in &runs {
        let task = run["task_id"].as_i64().expect("task_id");
        hosts_of
            .entry(task)
            .or_default()
            .push(run["host_id"].as_i64().expect("host_id"));
    }
    let log: Vec<serde_json::Value> = admin
        .call_as("scheduler.getLogMessages", vec![])
        .await
        .expect("scheduler.getLogMessages");
    let freeing: Vec<&serde_json::Value> = log
        .iter()
        .filter(|m| m["msg"] == "Freeing task from unresponsive host")
        .collect();
    let freed: HashSet<i64> = freeing
        .iter()
        .filter_map(|m| m["task_id"].as_i64())
        .collect();
    // Only the dead host's tasks were freed, and not before it had been
    // silent for HostTimeout.
    let last_checkin: serde_json::Value = admin
        .call_as("getHost", vec![first_id.into()])
        .await
        .expect("getHost");
    let last_checkin = last_checkin["update_ts"].as_f64().expect("update_ts");
    for m in &freeing {
        assert_eq!(m["host_id"], first_id, "{m}");
        let silent = m["msg_ts"].as_f64().expect("msg_ts") - last_checkin;
        assert!(
            silent >= HOST_TIMEOUT,
            "freed after {silent} s of silence: {m}"
        );
    }
    eprintln!(
        "{} tasks on {FIRST} ({running} composes running when it was killed), {kept} on {SECOND}; \
         freed {:.1} s after the kill",
        victims.len(),
        freeing
            .iter()
            .filter_map(|m| m["msg_ts"].as_f64())
            .fold(f64::NAN, f64::min)
            - killed_at,
    );
    let second_log = second.log();
    let count = |log: &str| {
        let mut n: HashMap<i64, usize> = HashMap::new();
        for id in opened(log) {
            *n.entry(id).or_default() += 1;
        }
        n
    };
    let (opened_first, opened_second) = (count(&first.log()), count(&second_log));
    for id in &ids {
        let times = |n: &HashMap<i64, usize>| n.get(id).copied().unwrap_or(0);
        let on_first = usize::from(owner[id] == first_id);
        assert_eq!(times(&opened_first), on_first, "{FIRST} opened task {id}");
        assert_eq!(
            times(&opened_second),
            1,
            "{SECOND} opened task {id} (its own, or taken over)"
        );
        if victims.contains(id) {
            assert_eq!(hosts_of[id], [first_id, second_id], "task {id} moved once");
            assert!(freed.contains(id), "task {id} freed by HostTimeout");
            let cid = compose_of[id]["id"].as_str().expect("compose id");
            assert!(
                second_log.contains(&format!("resuming compose {cid}")),
                "{SECOND} resumed task {id}'s compose {cid}"
            );
        } else {
            assert_eq!(hosts_of[id], [owner[id]], "task {id} assigned once");
            assert!(!freed.contains(id), "task {id} was never freed");
        }
    }
    assert_eq!(
        e2e::tasks::tagged(&user, e2e::tasks::TARGET).await.len(),
        TASKS,
        "every build tagged"
    );
}
