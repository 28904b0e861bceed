//! The builder daemon end to end: the test hub, the composer simulator and
//! `koji-osbuild-builder` as separate processes; tasks submitted as a Koji
//! user would, followed through the hub. Each test reads as the story it
//! checks; counterparts of upstream's test/unit/test_builder.py scenarios.

use std::time::{Duration, Instant};

use e2e::builder::{builder_conf, builder_conf_cert, run_until_exit, BuilderProcess};
use e2e::hub::TestHub;
use e2e::sim::ComposerSim;
use e2e::tasks::{
    children, download, failure, osbuild_image, output, submit, tagged, wait_done, wait_for_file,
    TARGET,
};
use koji::{ClientSession, TaskState, Value};
use serde_json::json;

/// The files upstream attaches for one x86_64 guest-image compose.
const UPSTREAM_FILES: [&str; 6] = [
    "compose-request.json",
    "compose-status.json",
    "x86_64-guest-image.manifest.json",
    "x86_64-guest-image.log.json",
    "koji-init.log.json",
    "koji-import.log.json",
];

struct Stack {
    hub: TestHub,
    sim: ComposerSim,
    builder: BuilderProcess,
}

fn stack(sim_args: &[&str], builder_extra: &str) -> Stack {
    let hub = TestHub::start();
    let sim = ComposerSim::start(&hub, sim_args);
    let builder = BuilderProcess::start(&builder_conf(&hub, &sim.url, builder_extra));
    Stack { hub, sim, builder }
}

fn build_id_of(result: &Value) -> i64 {
    result
        .get("koji")
        .and_then(|k| k.get("build"))
        .and_then(Value::as_i64)
        .unwrap_or_else(|| panic!("no koji.build in {result}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn image_task_builds_tags_and_attaches_every_upstream_file() {
    let s = stack(&["--compose-duration", "1s"], "");
    let user = s.hub.login("kojiuser", "kojipass").await;
    let task_id = submit(&user, "guest-image", &["x86_64"], TARGET, json!({})).await;

    let info = wait_done(&user, task_id, Duration::from_secs(120)).await;
    assert_eq!(
        info.state,
        TaskState::Closed,
        "{}",
        failure(&user, task_id).await
    );

    let result = user.get_task_result(task_id).await.expect("task result");
    let compose_id = result
        .get("composer")
        .and_then(|c| c.get("id"))
        .and_then(Value::as_str)
        .expect("composer.id");
    assert_eq!(
        result
            .get("composer")
            .and_then(|c| c.get("server"))
            .and_then(Value::as_str),
        Some(s.sim.url.as_str())
    );
    let build_id = build_id_of(&result);

    let build = user
        .get_build(build_id, true)
        .await
        .expect("getBuild")
        .expect("build");
    assert_eq!(build.name, "demo-image");
    assert_eq!(build.task_id, Some(task_id), "the CG import names the task");
    let tagged = tagged(&user, TARGET).await;
    assert!(
        tagged.iter().any(|b| b.id == build_id),
        "build {build_id} tagged into {TARGET}: {tagged:?}"
    );

    let files = output(&user, task_id).await;
    for f in UPSTREAM_FILES {
        assert!(files.iter().any(|x| x == f), "{f} attached: {files:?}");
    }
    let record: serde_json::Value =
        serde_json::from_str(&download(&user, task_id, "compose.json").await).unwrap();
    assert_eq!(record, json!({"id": compose_id, "server": s.sim.url}));

    // Attachments are written as Python's json.dump(indent=4, sort_keys=True).
    let request = download(&user, task_id, "compose-request.json").await;
    assert!(
        request.starts_with("{\n    \"distribution\": \"fedora-42\",\n"),
        "{request}"
    );
    let parsed: serde_json::Value = serde_json::from_str(&request).unwrap();
    assert_eq!(parsed["koji"]["task_id"], task_id);
    assert_eq!(parsed["koji"]["server"], s.hub.url.as_str());
    let baseurl = parsed["image_requests"][0]["repositories"][0]["baseurl"]
        .as_str()
        .unwrap();
    assert!(
        baseurl.starts_with(&format!("{}/repos/fedora42-build/", s.hub.topurl))
            && baseurl.ends_with("/x86_64"),
        "the build tag's repo with $arch substituted: {baseurl}"
    );
    let status: serde_json::Value =
        serde_json::from_str(&download(&user, task_id, "compose-status.json").await).unwrap();
    assert_eq!(status["status"], "success");
    assert_eq!(status["koji_build_id"], build_id);

    // the tagBuild subtask ran on this builder too
    let children = children(&user, task_id).await;
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].method, "tagBuild");
    assert_eq!(children[0].state, TaskState::Closed);
    let log = s.builder.log();
    assert!(log.contains(compose_id), "the log names the compose");
    // A task this builder closed itself is not reported as taken away.
    assert!(!log.contains("task no longer ours"), "{log}");
}

/// An unknown target never reaches the builder: the hub plugin refuses it
/// (upstream's builder would fail it with getBuildTarget(strict=True)).
#[tokio::test(flavor = "multi_thread")]
async fn unknown_target_is_refused_before_any_task() {
    let hub = TestHub::start();
    let user = hub.login("kojiuser", "kojipass").await;
    let args = json!([
        "demo-image",
        "42",
        "fedora-42",
        "guest-image",
        "no-such-target",
        ["x86_64"],
        {}
    ]);
    let err = osbuild_image(&user, args).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("No such build target: no-such-target"),
        "{err}"
    );
}

/// The hub plugin refuses arches the build tag lacks, but a tag can change
/// between submission and the build (or a task come from an older hub
/// plugin): submit, edit the build tag's arches as an admin would, then let
/// the builder take the task.
async fn build_after_editing_the_build_tag(arches: &[&str], tag_arches: &str) -> String {
    let hub = TestHub::start();
    let sim = ComposerSim::start(&hub, &[]);
    let user = hub.login("kojiuser", "kojipass").await;
    let task_id = submit(&user, "guest-image", arches, TARGET, json!({})).await;
    let admin = hub.login("admin", "adminpass").await;
    let kwargs = koji::kwargs([("arches", tag_arches)]);
    admin
        .call_kw("editTag2", vec!["fedora42-build".into()], kwargs)
        .await
        .expect("editTag2");
    let _builder = BuilderProcess::start(&builder_conf(&hub, &sim.url, ""));
    let info = wait_done(&user, task_id, Duration::from_secs(60)).await;
    assert_eq!(info.state, TaskState::Failed);
    failure(&user, task_id).await
}

/// A build tag without arches: upstream's `arches_for_config` BuildError.
#[tokio::test(flavor = "multi_thread")]
async fn build_tag_without_arches_is_a_build_error() {
    let msg = build_after_editing_the_build_tag(&["x86_64"], "").await;
    assert!(
        msg.contains("BuildError") && msg.contains("Missing arches for tag '%fedora42-build'"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unsupported_arch_is_a_build_error_naming_it() {
    let msg = build_after_editing_the_build_tag(&["x86_64", "aarch64"], "x86_64").await;
    assert!(
        msg.contains("BuildError") && msg.contains("Unsupported architecture(s): {'aarch64'}"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn compose_failure_fails_with_compose_id_and_keeps_attachments() {
    let s = stack(&["--compose-duration", "1s", "--fail-arch", "aarch64"], "");
    let user = s.hub.login("kojiuser", "kojipass").await;
    let task_id = submit(
        &user,
        "guest-image",
        &["x86_64", "aarch64"],
        TARGET,
        json!({}),
    )
    .await;
    let info = wait_done(&user, task_id, Duration::from_secs(120)).await;
    assert_eq!(info.state, TaskState::Failed);
    let msg = failure(&user, task_id).await;
    assert!(
        msg.contains("BuildError") && msg.contains("Compose failed (id: "),
        "{msg}"
    );
    let files = output(&user, task_id).await;
    assert!(
        files.iter().any(|f| f == "compose-status.json"),
        "{files:?}"
    );
    assert!(
        files.iter().any(|f| f == "compose-request.json"),
        "{files:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn skip_tag_and_legacy_image_type_and_user_repos() {
    let s = stack(&["--compose-duration", "1s"], "");
    let user = s.hub.login("kojiuser", "kojipass").await;
    let opts = json!({
        "skip_tag": true,
        "release": "7",
        "repo": ["http://repo.example/$arch/os", {"baseurl": "http://bp.example/${arch}", "package_sets": ["blueprint"]}],
        "ostree": {"ref": "fedora/${arch}/iot", "parent": "fedora/$arch/base", "url": "http://ostree.example/repo"},
        "customizations": {"packages": ["emacs"], "user": [{"name": "é"}]},
        "upload_options": {"region": "us-east-1", "share_with_accounts": ["123456789012"]}
    });
    let task_id = submit(&user, "qcow2", &["aarch64"], TARGET, opts).await;
    let info = wait_done(&user, task_id, Duration::from_secs(120)).await;
    assert_eq!(
        info.state,
        TaskState::Closed,
        "{}",
        failure(&user, task_id).await
    );
    let build_id = build_id_of(&user.get_task_result(task_id).await.unwrap());
    let tagged = tagged(&user, TARGET).await;
    assert!(
        !tagged.iter().any(|b| b.id == build_id),
        "skip_tag leaves the build untagged"
    );
    assert!(children(&user, task_id).await.is_empty());

    let text = download(&user, task_id, "compose-request.json").await;
    assert!(
        text.contains("\"name\": \"\\u00e9\""),
        "ensure_ascii escaping: {text}"
    );
    let request: serde_json::Value = serde_json::from_str(&text).unwrap();
    let ireq = &request["image_requests"][0];
    assert_eq!(ireq["image_type"], "guest-image", "qcow2 is mapped");
    assert_eq!(request["koji"]["release"], "7");
    assert_eq!(
        ireq["repositories"],
        json!([{"baseurl": "http://repo.example/aarch64/os", "rhsm": false},
               {"baseurl": "http://bp.example/aarch64", "package_sets": ["blueprint"], "rhsm": false}])
    );
    assert_eq!(
        ireq["ostree"],
        json!({"parent": "fedora/aarch64/base", "ref": "fedora/aarch64/iot", "url": "http://ostree.example/repo"})
    );
    assert_eq!(
        ireq["upload_options"],
        json!({"region": "us-east-1", "share_with_accounts": ["123456789012"]})
    );
    assert_eq!(request["customizations"]["packages"], json!(["emacs"]));
    let files = output(&user, task_id).await;
    assert!(
        files
            .iter()
            .any(|f| f == "aarch64-guest-image.manifest.json"),
        "{files:?}"
    );
}

/// A builder killed while its compose runs loses neither the task nor the
/// compose: the task's compose.json names the compose, and the rerun of the
/// task follows it instead of submitting a second one.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_builder_loses_no_task() {
    let mut s = stack(&["--compose-duration", "6s"], "");
    let user = s.hub.login("kojiuser", "kojipass").await;
    let task_id = submit(&user, "guest-image", &["x86_64"], TARGET, json!({})).await;
    // Wait until the compose is recorded in Koji, then crash the builder.
    wait_for_file(&user, task_id, "compose.json").await;
    s.builder.kill9();
    let record: serde_json::Value =
        serde_json::from_str(&download(&user, task_id, "compose.json").await).unwrap();
    let recorded = record["id"].as_str().expect("compose.json id").to_string();
    assert_eq!(record["server"], s.sim.url.as_str());
    let info = user.get_task_info(task_id, false).await.unwrap().unwrap();
    assert_eq!(
        info.state,
        TaskState::Open,
        "still OPEN for the dead builder"
    );

    s.builder.restart();
    let info = wait_done(&user, task_id, Duration::from_secs(120)).await;
    assert_eq!(
        info.state,
        TaskState::Closed,
        "{}",
        failure(&user, task_id).await
    );
    assert!(s
        .builder
        .log()
        .contains("task freed (left open by a previous run)"));
    let result = user.get_task_result(task_id).await.expect("task result");
    assert_eq!(
        result
            .get("composer")
            .and_then(|c| c.get("id"))
            .and_then(Value::as_str),
        Some(recorded.as_str()),
        "the rerun followed the first compose"
    );
    assert_eq!(s.sim.stats()["composes_created"], 1, "no second compose");
    assert!(s
        .builder
        .log()
        .contains(&format!("resuming compose {recorded}")));
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_frees_running_tasks_and_marks_the_host_not_ready() {
    let mut s = stack(&["--compose-duration", "30s"], "");
    let user = s.hub.login("kojiuser", "kojipass").await;
    let task_id = submit(&user, "guest-image", &["x86_64"], TARGET, json!({})).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let info = user.get_task_info(task_id, false).await.unwrap().unwrap();
        if info.state == TaskState::Open {
            break;
        }
        assert!(Instant::now() < deadline, "task never opened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        s.builder.stop().await,
        "clean exit on SIGTERM:\n{}",
        s.builder.log()
    );
    let info = user.get_task_info(task_id, false).await.unwrap().unwrap();
    assert!(
        matches!(info.state, TaskState::Free | TaskState::Assigned),
        "freed, got {}",
        info.state
    );
    let admin = s.hub.login("admin", "adminpass").await;
    let host = admin
        .call("getHost", vec!["builder.local".into()])
        .await
        .unwrap();
    assert_eq!(host.get("ready").and_then(Value::as_bool), Some(false));
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_the_config_in_place_and_the_compose_goes_on() {
    let mut s = stack(&["--compose-duration", "8s"], "");
    let user = s.hub.login("kojiuser", "kojipass").await;
    let task_id = submit(&user, "guest-image", &["x86_64"], TARGET, json!({})).await;
    wait_for_file(&user, task_id, "compose.json").await;
    let pid = s.builder.pid();
    let good = builder_conf(&s.hub, &s.sim.url, "force_exclusive = false\n");

    // A broken file is reported and the running configuration stays.
    s.builder
        .write_config(&good.replace("capacity = 12", "capacity = many"));
    s.builder.signal("HUP");
    s.builder
        .wait_log("the bad reload is logged", |log| {
            log.contains("keeping the configuration in use")
        })
        .await;
    assert!(s.builder.log().contains("'capacity'"), "names the key");
    assert_eq!(s.builder.wait_exit(Duration::from_millis(500)).await, None);

    // A good one: the same process logs in again and resumes the compose.
    s.builder.write_config(&good);
    s.builder.signal("HUP");
    s.builder
        .wait_log("the builder logs in again", |log| {
            log.matches("logged in as builder host").count() == 2
        })
        .await;
    assert_eq!(s.builder.pid(), pid, "reloaded in place");
    let info = wait_done(&user, task_id, Duration::from_secs(120)).await;
    assert_eq!(
        info.state,
        TaskState::Closed,
        "{}",
        failure(&user, task_id).await
    );
    assert!(s.builder.log().contains("resuming compose"));
    assert_eq!(s.sim.stats()["composes_created"], 1, "no second compose");
    assert_eq!(s.sim.stats()["cancels"], 0, "the compose was not canceled");
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_tasks_run_concurrently_through_one_builder() {
    let s = stack(&["--compose-duration", "3s"], "");
    let user = s.hub.login("kojiuser", "kojipass").await;
    let start = Instant::now();
    let mut ids = Vec::new();
    for i in 0..10 {
        // Distinct releases: ten getNextRelease calls at once would all get
        // the same one, and composer's CGInitBuild takes an NVR only once.
        let opts = json!({"release": format!("c{i}")});
        ids.push(submit(&user, "guest-image", &["x86_64"], TARGET, opts).await);
    }
    for id in &ids {
        let info = wait_done(&user, *id, Duration::from_secs(180)).await;
        assert_eq!(
            info.state,
            TaskState::Closed,
            "task {id}: {}",
            failure(&user, *id).await
        );
    }
    // Ten 3-second composes one after another would take over 30 s.
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(28),
        "ran one at a time? took {took:?}"
    );
    let mut builds: Vec<i64> = Vec::new();
    for id in &ids {
        builds.push(build_id_of(&user.get_task_result(*id).await.unwrap()));
    }
    builds.sort_unstable();
    builds.dedup();
    assert_eq!(builds.len(), 10, "one build per task");
}

/// Composer answers 400 for an image type it does not know: the task fails
/// with composer's reason, and no compose exists.
#[tokio::test(flavor = "multi_thread")]
async fn bad_compose_request_fails_with_composers_reason() {
    let s = stack(&[], "");
    let user = s.hub.login("kojiuser", "kojipass").await;
    let task_id = submit(&user, "no-such-image-type", &["x86_64"], TARGET, json!({})).await;
    let info = wait_done(&user, task_id, Duration::from_secs(60)).await;
    assert_eq!(info.state, TaskState::Failed);
    let msg = failure(&user, task_id).await;
    assert!(
        msg.contains("GenericError")
            && msg.contains("Failed to create the compose request")
            && msg.contains("400"),
        "{msg}"
    );
    let files = output(&user, task_id).await;
    assert_eq!(
        files,
        vec!["compose-request.json".to_string()],
        "only the request is attached"
    );
}

/// 5xx answers to status polls are retried (upstream: urllib3
/// Retry(total=2, backoff 0.05), which, like ours, does not retry POST).
#[tokio::test(flavor = "multi_thread")]
async fn composer_5xx_on_status_polls_is_retried() {
    let s = stack(&["--compose-duration", "3s"], "");
    let user = s.hub.login("kojiuser", "kojipass").await;
    let task_id = submit(&user, "guest-image", &["x86_64"], TARGET, json!({})).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !output(&user, task_id)
        .await
        .iter()
        .any(|f| f == "compose-status.json")
    {
        assert!(Instant::now() < deadline, "the compose never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let posted = std::process::Command::new("curl")
        .args([
            "-sf",
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"fail_next": 2, "fail_status": 503}"#,
        ])
        .arg(format!("{}/_sim/faults", s.sim.url))
        .output()
        .expect("curl");
    assert!(posted.status.success(), "{posted:?}");
    let info = wait_done(&user, task_id, Duration::from_secs(120)).await;
    assert_eq!(
        info.state,
        TaskState::Closed,
        "{}",
        failure(&user, task_id).await
    );
}

fn oauth_conf(sim: &ComposerSim, secret: &str) -> String {
    format!(
        "\n[composer:oauth]\nclient_id = koji-osbuild\nclient_secret = {secret}\ntoken_url = {}\n",
        sim.token_url.as_deref().expect("TOKEN_URL")
    )
}

/// OAuth client credentials, with tokens that expire during the compose:
/// the builder fetches a new one and the task still closes. The secret
/// never shows in the builder's log.
#[tokio::test(flavor = "multi_thread")]
async fn oauth_with_tokens_expiring_mid_compose() {
    let hub = TestHub::start();
    let sim = ComposerSim::start(
        &hub,
        &[
            "--oauth-client-id",
            "koji-osbuild",
            "--oauth-client-secret",
            "s3cr3t-value",
            "--token-lifetime",
            "1s",
            "--compose-duration",
            "3s",
        ],
    );
    let builder = BuilderProcess::start(&format!(
        "{}{}",
        builder_conf(&hub, &sim.url, ""),
        oauth_conf(&sim, "s3cr3t-value")
    ));
    let user = hub.login("kojiuser", "kojipass").await;
    let task_id = submit(&user, "guest-image", &["x86_64"], TARGET, json!({})).await;
    let info = wait_done(&user, task_id, Duration::from_secs(120)).await;
    assert_eq!(
        info.state,
        TaskState::Closed,
        "{}",
        failure(&user, task_id).await
    );
    assert!(!builder.log().contains("s3cr3t-value"), "secret in the log");
    assert!(
        !builder.log().contains("hostpass"),
        "host password in the log"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn oauth_failure_fails_the_task_without_leaking_the_secret() {
    let hub = TestHub::start();
    let sim = ComposerSim::start(
        &hub,
        &[
            "--oauth-client-id",
            "koji-osbuild",
            "--oauth-client-secret",
            "right-secret",
        ],
    );
    let builder = BuilderProcess::start(&format!(
        "{}{}",
        builder_conf(&hub, &sim.url, ""),
        oauth_conf(&sim, "wrong-secret")
    ));
    let user = hub.login("kojiuser", "kojipass").await;
    let task_id = submit(&user, "guest-image", &["x86_64"], TARGET, json!({})).await;
    let info = wait_done(&user, task_id, Duration::from_secs(60)).await;
    assert_eq!(info.state, TaskState::Failed);
    let msg = failure(&user, task_id).await;
    assert!(
        msg.contains("Failed to authenticate via SSO/OAuth"),
        "{msg}"
    );
    assert!(
        !msg.contains("wrong-secret") && !builder.log().contains("wrong-secret"),
        "{msg}"
    );
}

/// A kojid host switches over: the host keys come from its kojid.conf.
#[tokio::test(flavor = "multi_thread")]
async fn kojid_conf_is_enough_for_the_host_keys() {
    let hub = TestHub::start();
    let sim = ComposerSim::start(&hub, &["--compose-duration", "1s"]);
    let dir = tempfile::tempdir().unwrap();
    let kojid = dir.path().join("kojid.conf");
    std::fs::write(
        &kojid,
        format!(
            "[kojid]\nserver = {}\ntopurl = {}\nuser = builder.local\npassword = hostpass\nsleeptime = 0.3\nmaxjobs = 4\n",
            hub.url, hub.topurl
        ),
    )
    .unwrap();
    let conf = dir.path().join("builder.conf");
    std::fs::write(&conf, format!("[composer]\nserver = {}\n[koji]\nserver = {}\n[builder]\ncompose_poll_interval = 0.2\n", sim.url, hub.url)).unwrap();
    let mut child = std::process::Command::new(e2e::workspace_bin("koji-osbuild-builder"))
        .arg("--config")
        .arg(&conf)
        .arg("--kojid-config")
        .arg(&kojid)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let user = hub.login("kojiuser", "kojipass").await;
    let task_id = submit(&user, "guest-image", &["x86_64"], TARGET, json!({})).await;
    let info = wait_done(&user, task_id, Duration::from_secs(120)).await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        info.state,
        TaskState::Closed,
        "{}",
        failure(&user, task_id).await
    );
}

/// A bad config is one line naming the file and the key.
#[test]
fn bad_config_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("builder.conf");
    std::fs::write(
        &conf,
        "[builder]\nuser = builder.local\npassword = hostpass\ncapacity = lots\n",
    )
    .unwrap();
    let out = std::process::Command::new(e2e::workspace_bin("koji-osbuild-builder"))
        .arg("--config")
        .arg(&conf)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("'capacity'") && lines[0].contains("builder.conf"),
        "{err}"
    );
    assert!(!err.contains("hostpass"));
}

/// A --config or --kojid-config file that is not there is named as such,
/// by the daemon and by --check-config, and nothing starts.
#[test]
fn missing_config_file_is_named() {
    for args in [
        &["--config", "/nonexistent/builder.conf"][..],
        &["--config", "/nonexistent/builder.conf", "--check-config"],
        &[
            "--kojid-config",
            "/nonexistent/kojid.conf",
            "--check-config",
        ],
    ] {
        let out = std::process::Command::new(e2e::workspace_bin("koji-osbuild-builder"))
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        let (flag, file) = (args[0], args[1]);
        assert_eq!(
            err.trim_end(),
            format!("koji-osbuild-builder: config file {file} does not exist (given with {flag})"),
            "{args:?}"
        );
    }
}

/// A task canceled by its owner while the compose runs is stopped in the
/// builder (kojid kills the task process), its compose is canceled in
/// composer, and the builder keeps serving.
#[tokio::test(flavor = "multi_thread")]
async fn canceled_task_is_stopped_and_its_compose_canceled() {
    let s = stack(&["--compose-duration", "30s"], "");
    let user = s.hub.login("kojiuser", "kojipass").await;
    let task_id = submit(&user, "guest-image", &["x86_64"], TARGET, json!({})).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !output(&user, task_id)
        .await
        .iter()
        .any(|f| f == "compose-status.json")
    {
        assert!(Instant::now() < deadline, "the compose never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let record: serde_json::Value =
        serde_json::from_str(&download(&user, task_id, "compose.json").await).unwrap();
    let cid = record["id"].as_str().expect("compose.json id").to_string();
    user.call("cancelTask", vec![task_id.into()])
        .await
        .expect("cancelTask");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stats = s.sim.stats();
        if stats["canceled_composes"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c == cid.as_str()))
        {
            assert_eq!(stats["cancels"], 1, "{stats}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "compose {cid} not canceled in composer: {stats}\n{}",
            s.builder.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = s.builder.log();
    assert!(log.contains("task stopped"), "{log}");
    assert!(
        log.contains(&format!("compose {cid} canceled in composer")),
        "{log}"
    );
    let info = user.get_task_info(task_id, false).await.unwrap().unwrap();
    assert_eq!(info.state, TaskState::Canceled);

    // The builder keeps serving.
    s.sim.set_faults(&json!({"compose_duration": "1s"}));
    let next = submit(&user, "guest-image", &["x86_64"], TARGET, json!({})).await;
    let info = wait_done(&user, next, Duration::from_secs(120)).await;
    assert_eq!(
        info.state,
        TaskState::Closed,
        "{}",
        failure(&user, next).await
    );
    assert_eq!(s.sim.stats()["cancels"], 1, "only the canceled compose");
}

/// Upstream's test_compose_no_logs: composer cannot hand out the logs; that
/// is a warning, the task still closes with everything else attached.
#[tokio::test(flavor = "multi_thread")]
async fn no_logs_is_a_warning_not_a_failure() {
    let s = stack(&["--compose-duration", "1s", "--logs-fail"], "");
    let user = s.hub.login("kojiuser", "kojipass").await;
    let task_id = submit(&user, "guest-image", &["x86_64"], TARGET, json!({})).await;
    let info = wait_done(&user, task_id, Duration::from_secs(120)).await;
    assert_eq!(
        info.state,
        TaskState::Closed,
        "{}",
        failure(&user, task_id).await
    );
    let files = output(&user, task_id).await;
    for f in [
        "compose-request.json",
        "compose-status.json",
        "x86_64-guest-image.manifest.json",
    ] {
        assert!(files.iter().any(|x| x == f), "{f} attached: {files:?}");
    }
    for f in [
        "x86_64-guest-image.log.json",
        "koji-init.log.json",
        "koji-import.log.json",
    ] {
        assert!(!files.iter().any(|x| x == f), "{f} not attached: {files:?}");
    }
    let log = s.builder.log();
    assert!(
        log.lines()
            .any(|l| l.contains("WARN") && l.contains("Failed to fetch logs")),
        "a warning in the builder log:\n{log}"
    );
}

/// Upstream's test_compose_no_manifest: the same for the manifests.
#[tokio::test(flavor = "multi_thread")]
async fn no_manifests_is_a_warning_not_a_failure() {
    let s = stack(&["--compose-duration", "1s"], "");
    // switched on at runtime through the admin endpoint
    s.sim.set_faults(&json!({"manifests_fail": true}));
    let user = s.hub.login("kojiuser", "kojipass").await;
    let task_id = submit(&user, "guest-image", &["x86_64"], TARGET, json!({})).await;
    let info = wait_done(&user, task_id, Duration::from_secs(120)).await;
    assert_eq!(
        info.state,
        TaskState::Closed,
        "{}",
        failure(&user, task_id).await
    );
    let files = output(&user, task_id).await;
    for f in [
        "compose-request.json",
        "compose-status.json",
        "x86_64-guest-image.log.json",
        "koji-init.log.json",
        "koji-import.log.json",
    ] {
        assert!(files.iter().any(|x| x == f), "{f} attached: {files:?}");
    }
    assert!(
        !files.iter().any(|x| x.ends_with(".manifest.json")),
        "no manifest attached: {files:?}"
    );
    let log = s.builder.log();
    assert!(
        log.lines()
            .any(|l| l.contains("WARN") && l.contains("Failed to fetch manifests")),
        "a warning in the builder log:\n{log}"
    );
}

/// A production host: sslLogin with the host's client certificate over the
/// hub's HTTPS endpoint, the hub verified with `serverca`.
#[tokio::test(flavor = "multi_thread")]
async fn host_logs_in_with_a_client_certificate_over_https() {
    let hub = TestHub::start_tls();
    let sim = ComposerSim::start(&hub, &["--compose-duration", "1s"]);
    let ca = hub.pki.as_ref().expect("tls").ca();
    let builder = BuilderProcess::start(&builder_conf_cert(&hub, &sim.url, &ca, ""));
    let user = hub.login("kojiuser", "kojipass").await;
    let task_id = submit(&user, "guest-image", &["x86_64"], TARGET, json!({})).await;
    let info = wait_done(&user, task_id, Duration::from_secs(120)).await;
    assert_eq!(
        info.state,
        TaskState::Closed,
        "{}",
        failure(&user, task_id).await
    );
    assert_eq!(
        info.host_id,
        Some(1),
        "run by builder.local:\n{}",
        builder.log()
    );
}

/// A serverca that did not sign the hub's certificate: one clear line that
/// names the hub and the CA file, and a non-zero exit (no retry loop).
#[test]
fn wrong_serverca_is_one_clear_line_and_a_failed_start() {
    let hub = TestHub::start_tls();
    let other = tempfile::tempdir().unwrap();
    let wrong_ca = e2e::certs::Pki::new(other.path()).ca();
    let conf = builder_conf_cert(&hub, "http://127.0.0.1:9", &wrong_ca, "");
    let (status, stderr) = run_until_exit(&conf, Duration::from_secs(60));
    assert!(!status.success(), "{status}: {stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("koji-osbuild-builder:"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line:\n{stderr}");
    let https = hub.https_url.as_deref().unwrap();
    assert!(errors[0].contains(https), "names the hub: {}", errors[0]);
    assert!(
        errors[0].contains(&wrong_ca.display().to_string()),
        "names the CA file: {}",
        errors[0]
    );
}

/// A composer that serves HTTPS and wants client certificates, as the real
/// one does: the CA, its server certificate and the builder's client pair.
struct MtlsComposer {
    sim: ComposerSim,
    ca: std::path::PathBuf,
    client: e2e::certs::CertPair,
    _pki_dir: tempfile::TempDir,
}

fn mtls_composer(hub: &TestHub) -> MtlsComposer {
    let dir = tempfile::tempdir().unwrap();
    let pki = e2e::certs::Pki::new(dir.path());
    let client = pki.client("builder.local");
    let ca = pki.ca();
    let sim = ComposerSim::start_tls(hub, &pki, true, &["--compose-duration", "1s"]);
    MtlsComposer {
        sim,
        ca,
        client,
        _pki_dir: dir,
    }
}

/// builder.conf with `[composer]` keys added (`ssl_cert`, `ssl_verify`, …).
fn with_composer_keys(conf: &str, composer_keys: &str) -> String {
    conf.replacen("[composer]\n", &format!("[composer]\n{composer_keys}\n"), 1)
}

fn mtls_conf(hub: &TestHub, c: &MtlsComposer, composer_keys: &str) -> String {
    with_composer_keys(&builder_conf(hub, &c.sim.url, ""), composer_keys)
}

/// Upstream's production setup: composer over HTTPS with a client
/// certificate (`ssl_cert = cert, key`) and its CA file as `ssl_verify`.
#[tokio::test(flavor = "multi_thread")]
async fn composer_over_mtls_with_a_ca_file() {
    let hub = TestHub::start();
    let c = mtls_composer(&hub);
    let conf = mtls_conf(
        &hub,
        &c,
        &format!(
            "ssl_cert = {}, {}\nssl_verify = {}",
            c.client.cert.display(),
            c.client.key.display(),
            c.ca.display()
        ),
    );
    let _builder = BuilderProcess::start(&conf);
    let user = hub.login("kojiuser", "kojipass").await;
    let task_id = submit(&user, "guest-image", &["x86_64"], TARGET, json!({})).await;
    let info = wait_done(&user, task_id, Duration::from_secs(120)).await;
    assert_eq!(
        info.state,
        TaskState::Closed,
        "{}",
        failure(&user, task_id).await
    );
    let result = user.get_task_result(task_id).await.unwrap();
    assert_eq!(
        result
            .get("composer")
            .and_then(|c| c.get("server"))
            .and_then(Value::as_str),
        Some(c.sim.url.as_str())
    );
}

/// `ssl_verify` may name a directory of CA files (requests' CA path).
#[tokio::test(flavor = "multi_thread")]
async fn composer_over_mtls_with_a_ca_directory() {
    let hub = TestHub::start();
    let c = mtls_composer(&hub);
    let ca_dir = tempfile::tempdir().unwrap();
    std::fs::copy(&c.ca, ca_dir.path().join("composer-ca.pem")).unwrap();
    std::fs::write(ca_dir.path().join("README"), "not a certificate\n").unwrap();
    let conf = mtls_conf(
        &hub,
        &c,
        &format!(
            "ssl_cert = {}\nssl_verify = {}",
            c.client.combined().display(),
            ca_dir.path().display()
        ),
    );
    let _builder = BuilderProcess::start(&conf);
    let user = hub.login("kojiuser", "kojipass").await;
    let task_id = submit(&user, "guest-image", &["x86_64"], TARGET, json!({})).await;
    let info = wait_done(&user, task_id, Duration::from_secs(120)).await;
    assert_eq!(
        info.state,
        TaskState::Closed,
        "{}",
        failure(&user, task_id).await
    );
}

/// Without a client certificate composer refuses the handshake: the task
/// fails soon with a message naming composer, not a hang.
#[tokio::test(flavor = "multi_thread")]
async fn composer_without_the_client_certificate_fails_the_task() {
    let hub = TestHub::start();
    let c = mtls_composer(&hub);
    let conf = mtls_conf(&hub, &c, &format!("ssl_verify = {}", c.ca.display()));
    let _builder = BuilderProcess::start(&conf);
    let user = hub.login("kojiuser", "kojipass").await;
    let task_id = submit(&user, "guest-image", &["x86_64"], TARGET, json!({})).await;
    let info = wait_done(&user, task_id, Duration::from_secs(60)).await;
    assert_eq!(info.state, TaskState::Failed);
    let fault = failure(&user, task_id).await;
    assert!(
        fault.contains(&c.sim.url) && fault.to_lowercase().contains("certificate"),
        "names composer and the certificate trouble: {fault}"
    );
    let files = output(&user, task_id).await;
    assert_eq!(files, vec!["compose-request.json".to_string()]);
}

/// `[composer] proxy`: composer's and the token endpoint's requests go
/// through the proxy, the hub's never do (upstream sets the proxy on its
/// composer requests.Session only).
#[tokio::test(flavor = "multi_thread")]
async fn composer_and_token_requests_go_through_the_proxy_the_hubs_do_not() {
    let hub = TestHub::start();
    let sim = ComposerSim::start(
        &hub,
        &[
            "--oauth-client-id",
            "koji-osbuild",
            "--oauth-client-secret",
            "s3cr3t-value",
            "--compose-duration",
            "1s",
        ],
    );
    let proxy = e2e::proxy::HttpProxy::start();
    let conf = with_composer_keys(
        &format!(
            "{}{}",
            builder_conf(&hub, &sim.url, ""),
            oauth_conf(&sim, "s3cr3t-value")
        ),
        &format!("proxy = {}", proxy.url),
    );
    let _builder = BuilderProcess::start(&conf);
    let user = hub.login("kojiuser", "kojipass").await;
    let task_id = submit(&user, "guest-image", &["x86_64"], TARGET, json!({})).await;
    let info = wait_done(&user, task_id, Duration::from_secs(120)).await;
    assert_eq!(
        info.state,
        TaskState::Closed,
        "{}",
        failure(&user, task_id).await
    );
    let seen = proxy.requests();
    let api = format!("{}/api/image-builder-composer/v2", sim.url);
    let token = sim.token_url.clone().expect("TOKEN_URL");
    assert!(
        seen.iter().any(|r| r == &format!("POST {api}/compose")),
        "{seen:#?}"
    );
    assert!(
        seen.iter()
            .any(|r| r.starts_with(&format!("GET {api}/composes/"))),
        "{seen:#?}"
    );
    assert!(
        seen.iter().any(|r| r == &format!("POST {token}")),
        "{seen:#?}"
    );
    assert!(
        !seen.iter().any(|r| r.contains("/kojihub")),
        "no hub request through the proxy: {seen:#?}"
    );
}

/// The host's open exclusive session, as the hub's admin sees it.
async fn host_session_id(admin: &ClientSession) -> i64 {
    let sessions = admin
        .call("testhub.listSessions", vec![])
        .await
        .expect("testhub.listSessions");
    let sessions = koji::value_to_json(&sessions);
    sessions
        .as_array()
        .expect("a list")
        .iter()
        .find(|s| s["exclusive"] == json!(true) && s["closed"] == json!(false))
        .and_then(|s| s["id"].as_i64())
        .unwrap_or_else(|| panic!("no open exclusive session: {sessions:#}"))
}

/// The hub ends the host's session mid-compose (an admin logs it out, which
/// closes the task's subsession too). The builder logs in again instead of
/// leaving, the task gets a new subsession and still closes.
#[tokio::test(flavor = "multi_thread")]
async fn host_session_logged_out_mid_compose_logs_in_again_and_the_task_closes() {
    let s = stack(&["--compose-duration", "4s"], "");
    let user = s.hub.login("kojiuser", "kojipass").await;
    let admin = s.hub.login("admin", "adminpass").await;
    let before = host_session_id(&admin).await;
    let task_id = submit(&user, "guest-image", &["x86_64"], TARGET, json!({})).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !output(&user, task_id)
        .await
        .iter()
        .any(|f| f == "compose-status.json")
    {
        assert!(Instant::now() < deadline, "the compose never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut kw = koji::Struct::new();
    kw.insert("session_id".into(), Value::Int(before));
    admin
        .call_kw("logout", vec![], kw)
        .await
        .expect("admin logs the host out");

    let info = wait_done(&user, task_id, Duration::from_secs(120)).await;
    assert_eq!(
        info.state,
        TaskState::Closed,
        "{}",
        failure(&user, task_id).await
    );
    let after = host_session_id(&admin).await;
    assert_ne!(before, after, "a new host session");
    let log = s.builder.log();
    assert!(
        log.contains("logged in as builder host again"),
        "the builder logged in again:\n{log}"
    );
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("task opened") && l.contains("osbuildImage"))
            .count(),
        1,
        "the same run closed the task, it was not freed and run again:\n{log}"
    );
    let status: serde_json::Value =
        serde_json::from_str(&download(&user, task_id, "compose-status.json").await).unwrap();
    assert_eq!(status["status"], "success");
}

/// The target is deleted after the hub accepted the task: the builder's
/// getBuildTarget(strict=True) fails the task with the hub's fault, as
/// upstream's handler does on a real hub (its `Target '…' not found`
/// BuildError only shows when a hub answers nil despite strict).
#[tokio::test(flavor = "multi_thread")]
async fn target_deleted_after_submission_fails_the_task_naming_it() {
    let hub = TestHub::start();
    let sim = ComposerSim::start(&hub, &["--compose-duration", "1s"]);
    let user = hub.login("kojiuser", "kojipass").await;
    let task_id = submit(&user, "guest-image", &["x86_64"], TARGET, json!({})).await;
    let admin = hub.login("admin", "adminpass").await;
    admin
        .call("deleteBuildTarget", vec![Value::from(TARGET)])
        .await
        .expect("deleteBuildTarget");
    let _builder = BuilderProcess::start(&builder_conf(&hub, &sim.url, ""));
    let info = wait_done(&user, task_id, Duration::from_secs(60)).await;
    assert_eq!(info.state, TaskState::Failed);
    assert_eq!(
        failure(&user, task_id).await,
        format!("GenericError: No such build target: {TARGET}")
    );
    assert!(
        output(&user, task_id).await.is_empty(),
        "nothing attached, no compose"
    );
}

/// Another process of the same host forces the exclusive session away (a
/// second daemon started with force): this one does not steal it back,
/// which would make the two fight forever, but leaves with one clear line.
#[tokio::test(flavor = "multi_thread")]
async fn a_forced_takeover_by_another_process_makes_the_builder_leave() {
    let mut s = stack(&[], "");
    let admin = s.hub.login("admin", "adminpass").await;
    let before = host_session_id(&admin).await;
    let other = s.hub.login("builder.local", "hostpass").await;
    other
        .exclusive_session(true)
        .await
        .expect("exclusiveSession(force=True)");
    let status = s
        .builder
        .wait_exit(Duration::from_secs(30))
        .await
        .unwrap_or_else(|| panic!("the builder still runs:\n{}", s.builder.log()));
    assert!(!status.success(), "{status}");
    let log = s.builder.log();
    let errors: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("koji-osbuild-builder:"))
        .collect();
    assert_eq!(errors.len(), 1, "{log}");
    assert!(
        errors[0].contains("another process took over this host's exclusive session"),
        "{}",
        errors[0]
    );
    let now = host_session_id(&admin).await;
    assert_ne!(now, before);
    let me = other.get_logged_in_user().await;
    assert!(
        matches!(&me, Ok(Some(u)) if u.name == "builder.local"),
        "the other process keeps its session: {me:?}"
    );
}
