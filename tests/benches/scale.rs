//! One builder following many concurrent composes (issue #5): the test hub,
//! composer-sim and `koji-osbuild-builder` as separate processes, N
//! osbuildImage tasks submitted at once, each compose taking a fixed
//! simulated time. Prints what one builder costs and how quickly it reacts.
//!
//! ```text
//! cargo build --release --workspace --bins
//! cargo bench -p e2e --bench scale -- --tasks 1000 --compose-seconds 60
//! ```
//!
//! Options: `--tasks N` (10), `--compose-seconds S` (60), `--sleeptime S`
//! (builder `sleeptime`, 1), `--poll-interval S` (builder
//! `compose_poll_interval`, 2), `--capacity N` (builder `capacity`, N + 10),
//! `--timeout S` (1800). Not a test: it asserts only that every task closed.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use e2e::builder::BuilderProcess;
use e2e::hub::{HubOptions, TestHub};
use e2e::sim::ComposerSim;
use koji::{Call, ClientSession, Value};
use serde_json::json;

const TARGET: &str = "fedora42-candidate";
/// osbuildImage calls per multiCall when submitting.
const SUBMIT_BATCH: usize = 100;
/// Koji task states (koji.TASK_STATES).
const FREE: i64 = 0;
const OPEN: i64 = 1;
const CLOSED: i64 = 2;
const CANCELED: i64 = 3;
const ASSIGNED: i64 = 4;
const FAILED: i64 = 5;

struct Args {
    tasks: usize,
    compose_seconds: f64,
    sleeptime: f64,
    poll_interval: f64,
    capacity: Option<usize>,
    timeout: f64,
}

fn parse_args() -> Args {
    let mut a = Args {
        tasks: 10,
        compose_seconds: 60.0,
        sleeptime: 1.0,
        poll_interval: 2.0,
        capacity: None,
        timeout: 1800.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value =
            |name: &str| -> String { it.next().unwrap_or_else(|| panic!("{name} needs a value")) };
        let num = |name: &str, v: String| -> f64 {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}: not a number: {v}"))
        };
        match arg.as_str() {
            // cargo bench passes --bench to harness = false targets
            "--bench" => {}
            "--tasks" => a.tasks = num("--tasks", value("--tasks")) as usize,
            "--compose-seconds" => {
                a.compose_seconds = num("--compose-seconds", value("--compose-seconds"))
            }
            "--sleeptime" => a.sleeptime = num("--sleeptime", value("--sleeptime")),
            "--poll-interval" => a.poll_interval = num("--poll-interval", value("--poll-interval")),
            "--capacity" => a.capacity = Some(num("--capacity", value("--capacity")) as usize),
            "--timeout" => a.timeout = num("--timeout", value("--timeout")),
            other => panic!(
                "unknown argument {other}; use --tasks N --compose-seconds S [--sleeptime S] \
                 [--poll-interval S] [--capacity N] [--timeout S]"
            ),
        }
    }
    a
}

/// testing/hub/seed.json with the host's hub-side capacity raised so the
/// scheduler hands out all N tasks (an admin would `koji edit-host
/// --capacity`): the hub counts every ASSIGNED task with weight 1.0.
fn seed(dir: &std::path::Path, tasks: usize) -> PathBuf {
    let text = std::fs::read_to_string(e2e::repo_root().join("testing/hub/seed.json"))
        .expect("read seed.json");
    let mut seed: serde_json::Value = serde_json::from_str(&text).expect("seed.json is JSON");
    for host in seed["hosts"].as_array_mut().expect("seed hosts") {
        host["capacity"] = json!(2.0 * tasks as f64 + 20.0);
    }
    let path = dir.join("seed.json");
    std::fs::write(&path, seed.to_string()).expect("write seed");
    path
}

fn builder_conf(hub: &TestHub, composer: &str, a: &Args) -> String {
    format!(
        "[composer]\nserver = {composer}\n\n[koji]\nserver = {hub}\n\n\
         [builder]\ntopurl = {topurl}\nuser = builder.local\npassword = hostpass\n\
         sleeptime = {sleep}\ncompose_poll_interval = {poll}\ncapacity = {cap}\n",
        hub = hub.url,
        topurl = hub.topurl,
        sleep = a.sleeptime,
        poll = a.poll_interval,
        cap = a.capacity.unwrap_or(a.tasks + 10),
    )
}

/// A process of ours, found among our children by its command name.
struct Proc {
    pid: u32,
}

impl Proc {
    fn child(comm_prefix: &str) -> Option<Proc> {
        let me = std::process::id();
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Some((comm, fields)) = stat(pid) else {
                continue;
            };
            // fields after "(comm)": state ppid ...
            if comm.starts_with(comm_prefix) && fields.get(1) == Some(&me.to_string()) {
                return Some(Proc { pid });
            }
        }
        None
    }

    /// utime + stime in seconds.
    fn cpu_seconds(&self) -> f64 {
        let Some((_, f)) = stat(self.pid) else {
            return f64::NAN;
        };
        // utime and stime are fields 14 and 15 of stat: 12 and 13 after the comm
        let ticks: f64 = f[11].parse::<f64>().unwrap_or(0.0) + f[12].parse::<f64>().unwrap_or(0.0);
        ticks / clock_ticks()
    }

    /// A `VmXXX:` line of /proc/PID/status, in MB.
    fn status_mb(&self, key: &str) -> f64 {
        let text =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }
}

/// (comm, fields after the comm) of /proc/PID/stat.
fn stat(pid: u32) -> Option<(String, Vec<String>)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text[open + 1..close].to_string();
    let fields = text[close + 1..]
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    Some((comm, fields))
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}

/// min / median / p95 / max of a sample, as one table cell.
fn spread(mut xs: Vec<f64>) -> String {
    if xs.is_empty() {
        return "-".into();
    }
    xs.sort_by(f64::total_cmp);
    let at = |q: f64| xs[(((xs.len() as f64) * q).ceil() as usize).clamp(1, xs.len()) - 1];
    format!(
        "{:.2} / {:.2} / {:.2} / {:.2}",
        xs[0],
        at(0.5),
        at(0.95),
        xs[xs.len() - 1]
    )
}

/// Submits `tasks` tasks, versions `first + 1` on.
async fn submit(user: &ClientSession, first: usize, tasks: usize) -> Vec<i64> {
    let mut ids = Vec::with_capacity(tasks);
    let calls: Vec<Call> = (first..first + tasks)
        .map(|i| {
            // a version per task: every compose reserves its own NVR
            Call::new(
                "osbuildImage",
                vec![
                    "demo-image".into(),
                    format!("{}", i + 1).as_str().into(),
                    "fedora-42".into(),
                    Value::Array(vec!["guest-image".into()]),
                    TARGET.into(),
                    Value::Array(vec!["x86_64".into()]),
                ],
            )
        })
        .collect();
    for batch in calls.chunks(SUBMIT_BATCH) {
        for r in user
            .multi_call(batch)
            .await
            .expect("multiCall osbuildImage")
        {
            let v = r.unwrap_or_else(|f| panic!("osbuildImage refused: {f:?}"));
            let id = match &v {
                Value::Array(a) => a.first().and_then(Value::as_i64),
                other => other.as_i64(),
            };
            ids.push(id.unwrap_or_else(|| panic!("osbuildImage returned {v}")));
        }
    }
    ids
}

async fn list_tasks(session: &ClientSession, method: &str) -> Vec<serde_json::Value> {
    let opts = Value::from_pairs([("method", Value::from(method))]);
    let v = session
        .call("listTasks", vec![opts])
        .await
        .expect("listTasks");
    match koji::value_to_json(&v) {
        serde_json::Value::Array(a) => a,
        other => panic!("listTasks returned {other}"),
    }
}

fn count_states(tasks: &[serde_json::Value]) -> HashMap<i64, usize> {
    let mut m = HashMap::new();
    for t in tasks {
        *m.entry(t["state"].as_i64().unwrap_or(-1)).or_default() += 1;
    }
    m
}

fn curl_json(url: &str) -> serde_json::Value {
    let out = Command::new("curl")
        .args(["-sS", "-f", url])
        .output()
        .expect("run curl");
    assert!(out.status.success(), "GET {url} failed");
    serde_json::from_slice(&out.stdout).expect("JSON answer")
}

fn sum_counts(v: &serde_json::Value) -> u64 {
    v.as_object()
        .map(|m| m.values().filter_map(serde_json::Value::as_u64).sum())
        .unwrap_or(0)
}

fn top_methods(v: &serde_json::Value, n: usize, per: f64) -> String {
    let mut pairs: Vec<(String, u64)> = v
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, c)| Some((k.clone(), c.as_u64()?)))
                .collect()
        })
        .unwrap_or_default();
    pairs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    pairs
        .iter()
        .take(n)
        .map(|(k, c)| format!("{k} {:.1}", *c as f64 / per))
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = parse_args();
    let n = a.tasks;
    let tmp = tempfile::tempdir().expect("temp dir");
    eprintln!(
        "scale: {n} tasks, composes of {}s, builder sleeptime {}s, compose_poll_interval {}s",
        a.compose_seconds, a.sleeptime, a.poll_interval
    );

    let hub = TestHub::start_with(HubOptions {
        seed: Some(seed(tmp.path(), n)),
        ..HubOptions::default()
    });
    let duration = format!("{}s", a.compose_seconds);
    let sim = ComposerSim::start(&hub, &["--compose-duration", &duration]);
    let mut builder = BuilderProcess::start(&builder_conf(&hub, &sim.url, &a));
    let bproc = Proc::child("koji-osbuild-bu").expect("the builder process");
    let hproc = Proc::child("python").expect("the hub process");
    let sproc = Proc::child("composer-sim").expect("the composer-sim process");
    let (hub_cpu0, sim_cpu0) = (hproc.cpu_seconds(), sproc.cpu_seconds());

    let admin = hub.login("admin", "adminpass").await;
    admin
        .call_kw(
            "testhub.callStats",
            vec![],
            [("reset".to_string(), Value::Bool(true))]
                .into_iter()
                .collect(),
        )
        .await
        .expect("testhub.callStats");
    let user = hub.login("kojiuser", "kojipass").await;

    let t0 = Instant::now();
    let ids = submit(&user, 0, n).await;
    let submit_secs = t0.elapsed().as_secs_f64();
    eprintln!("submitted {} tasks in {submit_secs:.1}s", ids.len());

    // Follow the tasks until all are done; sample how many run at once.
    let deadline = t0 + Duration::from_secs_f64(a.timeout);
    let mut peak_open = 0;
    let mut last_report = Instant::now();
    let tasks = loop {
        let tasks = list_tasks(&admin, "osbuildImage").await;
        let states = count_states(&tasks);
        let open = states.get(&OPEN).copied().unwrap_or(0);
        peak_open = peak_open.max(open);
        let done: usize = [CLOSED, FAILED, CANCELED]
            .iter()
            .map(|s| states.get(s).copied().unwrap_or(0))
            .sum();
        if last_report.elapsed() > Duration::from_secs(10) || done == n {
            eprintln!(
                "{:>6.0}s: free {} assigned {} open {} closed {} failed {}; builder RSS {:.1} MB",
                t0.elapsed().as_secs_f64(),
                states.get(&FREE).copied().unwrap_or(0),
                states.get(&ASSIGNED).copied().unwrap_or(0),
                open,
                states.get(&CLOSED).copied().unwrap_or(0),
                states.get(&FAILED).copied().unwrap_or(0),
                bproc.status_mb("VmRSS"),
            );
            last_report = Instant::now();
        }
        if done == n {
            break tasks;
        }
        assert!(
            Instant::now() < deadline,
            "not all tasks done after {}s: {states:?}",
            a.timeout
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    let wall = t0.elapsed().as_secs_f64();

    let builder_cpu = bproc.cpu_seconds();
    let builder_hwm = bproc.status_mb("VmHWM");
    let hub_cpu = hproc.cpu_seconds() - hub_cpu0;
    let sim_cpu = sproc.cpu_seconds() - sim_cpu0;
    let calls = koji::value_to_json(
        &admin
            .call("testhub.callStats", vec![])
            .await
            .expect("testhub.callStats"),
    );
    let sim_stats = sim.stats();
    let composes = curl_json(&format!("{}/_sim/composes", sim.url));

    // Shutdown with N composes running: N more tasks, SIGTERM once each
    // has its compose in composer, then the time until the process exits.
    let created0 = sim.stats()["composes_created"].as_u64().unwrap_or(0);
    let more = submit(&user, n, n).await;
    let deadline = Instant::now() + Duration::from_secs_f64(a.timeout);
    loop {
        let created = sim.stats()["composes_created"].as_u64().unwrap_or(0) - created0;
        if created as usize >= n {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {created} of {n} composes running"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stop0 = Instant::now();
    builder.signal("TERM");
    let exit = builder.wait_exit(Duration::from_secs(300)).await;
    let shutdown_secs = stop0.elapsed().as_secs_f64();
    assert!(exit.is_some_and(|s| s.success()), "builder exit: {exit:?}");
    let more: std::collections::HashSet<i64> = more.into_iter().collect();
    let freed = list_tasks(&admin, "osbuildImage")
        .await
        .iter()
        .filter(|t| t["id"].as_i64().is_some_and(|id| more.contains(&id)))
        .filter(|t| matches!(t["state"].as_i64(), Some(FREE | ASSIGNED)))
        .count();
    eprintln!(
        "SIGTERM with {n} composes running: exited after {shutdown_secs:.1}s, {freed} tasks freed"
    );

    // Delays, matched by task id (the compose request's koji.task_id).
    let by_task: HashMap<i64, &serde_json::Value> = tasks
        .iter()
        .filter_map(|t| Some((t["id"].as_i64()?, t)))
        .collect();
    let mut to_submit = Vec::new();
    let mut to_close = Vec::new();
    let mut compose_created = Vec::new();
    for c in composes.as_array().expect("compose list") {
        let Some(task) = c["request"]["koji"]["task_id"]
            .as_i64()
            .and_then(|id| by_task.get(&id))
        else {
            continue;
        };
        let created = c["created"].as_f64().unwrap_or(f64::NAN);
        compose_created.push(created);
        to_submit.push(created - task["create_ts"].as_f64().unwrap_or(f64::NAN));
        if let (Some(fin), Some(closed)) = (c["finished"].as_f64(), task["completion_ts"].as_f64())
        {
            to_close.push(closed - fin);
        }
    }
    let closed = tasks
        .iter()
        .filter(|t| t["state"].as_i64() == Some(CLOSED))
        .count();
    let first_created = tasks
        .iter()
        .filter_map(|t| t["create_ts"].as_f64())
        .fold(f64::INFINITY, f64::min);
    let ramp = compose_created
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max)
        - first_created;

    let nf = n as f64;
    let user_calls = |name: &str, kind: &str| -> (f64, String) {
        let v = &calls[name][kind];
        (sum_counts(v) as f64 / nf, top_methods(v, 8, nf))
    };
    let (b_req, b_top) = user_calls("builder.local", "requests");
    let (b_calls, _) = user_calls("builder.local", "calls");
    let (s_req, s_top) = user_calls("osbuild", "requests");
    let composer_requests = sum_counts(&sim_stats["requests"]) as f64 / nf;

    println!();
    println!("## scale: N = {n}, compose {}s", a.compose_seconds);
    println!();
    println!("| figure | value |");
    println!("|---|---|");
    println!(
        "| tasks closed | {closed} / {n} (composes {}) |",
        to_submit.len()
    );
    println!("| submit (multiCall, {SUBMIT_BATCH} per call) | {submit_secs:.1} s |");
    println!("| wall time, submit to last task closed | {wall:.1} s |");
    println!("| ramp-up: first task created to last compose submitted | {ramp:.1} s |");
    println!("| peak OPEN osbuildImage tasks (sampled every 2 s) | {peak_open} |");
    println!("| builder peak RSS (VmHWM) | {builder_hwm:.1} MB |");
    println!("| shutdown with {n} composes running: SIGTERM → exit | {shutdown_secs:.1} s ({freed} / {n} tasks freed) |");
    println!("| builder CPU (utime+stime) | {builder_cpu:.1} s |");
    println!("| hub CPU during the run | {hub_cpu:.1} s |");
    println!("| composer-sim CPU during the run | {sim_cpu:.1} s |");
    println!("| builder hub requests per task | {b_req:.1} ({b_calls:.1} calls incl. multiCall members) |");
    println!("| composer-sim hub requests per task (CG user) | {s_req:.1} |");
    println!("| composer requests per task | {composer_requests:.1} |");
    println!(
        "| task created → compose submitted, s (min / median / p95 / max) | {} |",
        spread(to_submit)
    );
    println!(
        "| compose finished → task closed, s (min / median / p95 / max) | {} |",
        spread(to_close)
    );
    println!();
    println!("builder requests per task by method: {b_top}");
    println!("composer-sim hub requests per task by method: {s_top}");
    println!(
        "composer requests per task by route: {}",
        top_methods(&sim_stats["requests"], 8, nf)
    );
    assert_eq!(closed, n, "every task closed");
}
