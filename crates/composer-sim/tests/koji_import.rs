//! composer's Koji side against the test hub: a Koji compose ends with a
//! real, COMPLETE build in the hub, owned by the osbuildImage task, with its
//! image archives and logs.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::{client, koji_compose, sim, wait_finished, Proc};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The test hub, or None (with a note why) when it is not set up here.
fn start_hub(state_dir: &Path) -> Option<Proc> {
    let root = repo_root();
    let run = root.join("testing/hub/run.py");
    let python = root.join(".venv/bin/python");
    if !run.exists() || !python.exists() {
        eprintln!(
            "SKIPPED: the test hub is not available ({} or {} missing; set up the venv with the koji package)",
            run.display(),
            python.display()
        );
        return None;
    }
    let mut cmd = Command::new(python);
    cmd.arg(run)
        .arg("--seed")
        .arg(root.join("testing/hub/seed.json"))
        .arg("--state-dir")
        .arg(state_dir)
        .args(["--port", "0"]);
    Some(Proc::start("test hub", cmd))
}

#[tokio::test]
async fn a_koji_compose_imports_a_complete_build_into_the_hub() {
    let state = tempfile::tempdir().expect("tempdir");
    let Some(hub) = start_hub(state.path()) else {
        return;
    };
    let hub_url = hub.var("HUB_URL").to_owned();

    // the osbuildImage task the compose belongs to, created as a user would
    let _ = rustls::crypto::ring::default_provider().install_default();
    let user = koji::ClientSession::new(&hub_url, koji::Options::default()).expect("session");
    user.login("kojiuser", "kojipass")
        .await
        .expect("login as kojiuser");
    let args = serde_json::json!([
        "fedora-guest",
        "42",
        "fedora-42",
        "guest-image",
        "fedora42-candidate",
        ["x86_64", "aarch64"],
        {}
    ]);
    let task_id = e2e::tasks::osbuild_image(&user, args)
        .await
        .expect("osbuildImage task");

    let s = sim(&[
        "--compose-duration",
        "300ms",
        "--koji-user",
        "osbuild",
        "--koji-password",
        "osbuildpass",
    ]);
    let c = client();
    let mut body = koji_compose(&hub_url, &["x86_64", "aarch64"], "1");
    body["koji"]["task_id"] = task_id.into();
    let r = c
        .post(s.api("/compose"))
        .json(&body)
        .send()
        .await
        .expect("POST /compose");
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let st = wait_finished(&c, &s, &id, Duration::from_secs(60)).await;
    assert_eq!(st["status"], "success", "{st}");
    let build_id = st["koji_status"]["build_id"]
        .as_i64()
        .expect("koji_status.build_id");

    let anon = koji::ClientSession::new(&hub_url, koji::Options::default()).expect("session");
    let build = anon
        .get_build(build_id, true)
        .await
        .expect("getBuild")
        .expect("the build exists");
    assert_eq!(build.state, 1, "COMPLETE");
    assert_eq!(build.task_id, Some(task_id));
    assert_eq!(build.nvr.as_deref(), Some("fedora-guest-42-1"));
    assert_eq!(build.owner_name.as_deref(), Some("osbuild"));

    let archives = anon
        .call("listArchives", vec![build_id.into()])
        .await
        .expect("listArchives");
    let mut names: Vec<&str> = archives
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|a| a.get("filename").and_then(koji::Value::as_str))
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "fedora-guest-42-1.aarch64.qcow2",
            "fedora-guest-42-1.x86_64.qcow2"
        ]
    );
    for a in archives.as_array().unwrap_or_default() {
        assert_eq!(a.get("type_name"), Some(&koji::Value::from("qcow2")));
        assert_eq!(a.get("btype"), Some(&koji::Value::from("image")));
    }
    let logs = anon
        .call("getBuildLogs", vec![build_id.into()])
        .await
        .expect("getBuildLogs");
    let log_names: Vec<&str> = logs
        .as_array()
        .unwrap_or_default()
        .iter()
        .filter_map(|l| l.get("name")?.as_str())
        .collect();
    for name in ["x86_64-guest-image.log", "aarch64-guest-image.log"] {
        assert!(
            log_names.contains(&name),
            "one log per image, {name} missing: {log_names:?}"
        );
    }

    let logs: Value = c
        .get(s.api(&format!("/composes/{id}/logs")))
        .send()
        .await
        .expect("logs")
        .json()
        .await
        .expect("json");
    assert_eq!(logs["koji"]["init"]["build_id"], build_id);
    assert_eq!(logs["koji"]["import"]["build_id"], build_id);
    let stats: Value = c
        .get(format!("{}/_sim/stats", s.url()))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    assert_eq!(stats["koji_imports"], 1);

    // The same NVR again: CGInitBuild refuses, the compose fails with the
    // hub's fault in koji.init, and nothing is left reserved.
    let r = c
        .post(s.api("/compose"))
        .json(&body)
        .send()
        .await
        .expect("POST /compose");
    let again = r.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let st = wait_finished(&c, &s, &again, Duration::from_secs(60)).await;
    assert_eq!(st["status"], "failure");
    assert_eq!(st["image_statuses"][0]["error"]["id"], 15);
    let logs: Value = c
        .get(s.api(&format!("/composes/{again}/logs")))
        .send()
        .await
        .expect("logs")
        .json()
        .await
        .expect("json");
    let err = logs["koji"]["init"]["koji_error"]
        .as_str()
        .unwrap_or_default();
    assert!(
        err.contains("CGInitBuild") && err.contains("fedora-guest-42-1"),
        "{err}"
    );
}

#[tokio::test]
async fn a_failed_import_refunds_the_reserved_build() {
    let state = tempfile::tempdir().expect("tempdir");
    let Some(hub) = start_hub(state.path()) else {
        return;
    };
    let hub_url = hub.var("HUB_URL").to_owned();
    let s = sim(&[
        "--compose-duration",
        "100ms",
        "--koji-user",
        "osbuild",
        "--koji-password",
        "osbuildpass",
        "--koji-fail",
        "import",
    ]);
    let c = client();
    let r = c
        .post(s.api("/compose"))
        .json(&koji_compose(&hub_url, &["x86_64"], "7"))
        .send()
        .await
        .expect("POST");
    let id = r.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let st = wait_finished(&c, &s, &id, Duration::from_secs(60)).await;
    assert_eq!(st["status"], "failure");
    assert_eq!(st["image_statuses"][0]["error"]["id"], 16);
    let build_id = st["koji_status"]["build_id"]
        .as_i64()
        .expect("the build was reserved");

    let _ = rustls::crypto::ring::default_provider().install_default();
    let anon = koji::ClientSession::new(&hub_url, koji::Options::default()).expect("session");
    let build = anon
        .get_build(build_id, true)
        .await
        .expect("getBuild")
        .expect("the build exists");
    assert_eq!(build.state, 3, "refunded as FAILED");
    let stats: Value = c
        .get(format!("{}/_sim/stats", s.url()))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    assert_eq!(stats["koji_refunds"], 1);
}
