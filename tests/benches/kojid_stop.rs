//! kojid's SIGTERM stop with osbuildImage tasks running (issue #11): with
//! our plugin (plugins/builder/osbuild.py, a `run-task` child per task)
//! against a handler shaped as upstream's plugin (testing/kojid/
//! upstream_shape.py: the Python task process waits itself). kojid is
//! Koji's own TaskManager (testing/kojid/run.py); the test hub and
//! composer-sim run as separate processes.
//!
//! ```text
//! cargo build --workspace --bins
//! cargo bench -p e2e --bench kojid_stop -- --tasks 4
//! ```
//!
//! Prints the seconds from SIGTERM to kojid's exit for each. Not a test.

use std::time::{Duration, Instant};

use e2e::builder::BuilderProcess;
use e2e::hub::TestHub;
use e2e::sim::ComposerSim;
use e2e::tasks::{submit_guest_image, wait_for_file};
use koji::TaskState;

fn tasks_arg() -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--tasks")
        .and_then(|i| args.get(i + 1))
        .map(|n| n.parse().expect("--tasks N"))
        .unwrap_or(4)
}

/// Seconds from SIGTERM to kojid's exit, with `tasks` tasks running under
/// plugin `name` from `pluginpath`.
async fn stop_seconds(name: &str, pluginpath: &std::path::Path, tasks: usize) -> f64 {
    let hub = TestHub::start();
    let sim = ComposerSim::start(&hub, &["--compose-duration", "600s"]);
    let conf = format!(
        "[composer]\nserver = {}\n\n[koji]\nserver = {}\n",
        sim.url, hub.url
    );
    let mut kojid = BuilderProcess::start_kojid_plugin(&hub, &conf, name, pluginpath);
    let user = hub.login("kojiuser", "kojipass").await;
    let mut ids = Vec::new();
    for _ in 0..tasks {
        ids.push(submit_guest_image(&user).await);
    }
    for &id in &ids {
        if name == "osbuild" {
            // the compose runs: the child is following it
            wait_for_file(&user, id, "compose.json").await;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while user.get_task_info(id, false).await.unwrap().unwrap().state != TaskState::Open {
            assert!(Instant::now() < deadline, "task {id} never opened");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let started = Instant::now();
    assert!(kojid.stop().await, "kojid exits cleanly:\n{}", kojid.log());
    started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let tasks = tasks_arg();
    let root = e2e::repo_root();
    let upstream = stop_seconds("upstream_shape", &root.join("testing/kojid"), tasks).await;
    let ours = stop_seconds("osbuild", &root.join("plugins/builder"), tasks).await;
    println!("kojid SIGTERM to exit with {tasks} osbuildImage tasks running:");
    println!("  upstream-shaped handler (Python task process): {upstream:.2} s");
    println!("  plugins/builder/osbuild.py (run-task child):   {ours:.2} s");
}
