//! Submit side, end to end: `koji-osbuild image` and the real `koji` CLI
//! with our plugin (`koji osbuild-image`) against the test hub, over HTTP
//! and HTTPS, with password and client-certificate logins. Each test reads
//! as the user story it checks.

use e2e::hub::TestHub;
use e2e::run::{Home, Output};
use koji::{TaskState, Value};

const IMAGE_ARGS: [&str; 5] = [
    "demo-image",
    "42",
    "fedora-42",
    "fedora42-candidate",
    "x86_64",
];

/// A koji profile for password logins on the hub's plain-HTTP endpoint.
/// Like the koji CLI, koji-osbuild takes the user and password from the
/// command line only (koji.conf has no such keys): see [`as_user`].
fn password_profile(hub: &TestHub) -> String {
    format!(
        "[koji]\nserver = {}\nweburl = {}\ntopurl = {}\nauthtype = password\n",
        hub.url, hub.weburl, hub.topurl
    )
}

/// `--user U --password P` followed by `args`.
fn as_user<'a>(user: &'a str, password: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["--user", user, "--password", password];
    all.extend(args);
    all
}

/// A koji profile that logs in with `cn`'s client certificate over https.
fn certificate_profile(hub: &TestHub, cn: &str) -> String {
    let pki = hub.pki.as_ref().expect("a TLS hub");
    let cert = pki.client(cn);
    format!(
        "[koji]\nserver = {}\nweburl = {}\nauthtype = ssl\ncert = {}\nserverca = {}\n",
        hub.https_url.as_deref().expect("https url"),
        hub.weburl,
        cert.combined().display(),
        pki.ca().display()
    )
}

fn image_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["image"];
    args.extend(IMAGE_ARGS);
    args.extend(extra);
    args
}

fn koji_image_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["osbuild-image"];
    args.extend(IMAGE_ARGS);
    args.extend(extra);
    args
}

fn created_task(out: &Output) -> i64 {
    out.created_task()
}

/// The summary printed before submitting (its last line, the opts, is
/// upstream's pprint for `koji osbuild-image` and `opts: JSON` for
/// `koji-osbuild image`), then the two task lines scripts read.
fn expected_submit_output(hub: &TestHub, opts_line: &str, task_id: i64) -> String {
    format!(
        "name: demo-image\nversion: 42\ndistro: fedora-42\narches: x86_64\n\
         target: fedora42-candidate\nimage type: guest-image\n{opts_line}\n\
         Created task: {task_id}\nTask info: {}/taskinfo?taskID={task_id}\n",
        hub.weburl
    )
}

async fn user_id(hub: &TestHub, name: &str) -> i64 {
    let user = hub
        .anonymous()
        .call("getUser", vec![Value::from(name)])
        .await
        .expect("getUser");
    user.get("id").and_then(Value::as_i64).expect("user id")
}

async fn channel_id(hub: &TestHub, name: &str) -> i64 {
    let channel = hub
        .anonymous()
        .call("getChannel", vec![Value::from(name)])
        .await
        .expect("getChannel");
    channel
        .get("id")
        .and_then(Value::as_i64)
        .expect("channel id")
}

/// How many tasks exist on the hub: bad input must not add any.
async fn task_count(hub: &TestHub) -> usize {
    let tasks = hub
        .anonymous()
        .call("listTasks", vec![])
        .await
        .expect("listTasks");
    tasks.as_array().expect("task list").len()
}

/// Assert the task is an osbuildImage task as upstream's hub plugin makes it.
async fn assert_osbuild_task(hub: &TestHub, task_id: i64, owner: &str, request: serde_json::Value) {
    let info = hub
        .anonymous()
        .get_task_info(task_id, true)
        .await
        .expect("getTaskInfo")
        .expect("task exists");
    assert_eq!(info.method, "osbuildImage");
    assert_eq!(info.state, TaskState::Free);
    assert_eq!(info.arch.as_deref(), Some("noarch"));
    assert_eq!(info.channel_id, Some(channel_id(hub, "image").await));
    assert_eq!(info.owner, Some(user_id(hub, owner).await));
    assert_eq!(info.priority, Some(20));
    let got = koji::value_to_json(info.request.as_ref().expect("request"));
    assert_eq!(got, request);
}

fn default_request(opts: serde_json::Value) -> serde_json::Value {
    serde_json::json!([
        "demo-image",
        "42",
        "fedora-42",
        "guest-image",
        "fedora42-candidate",
        ["x86_64"],
        opts
    ])
}

#[tokio::test]
async fn image_over_http_with_password_creates_the_task() {
    let hub = TestHub::start();
    let home = Home::new();
    home.koji_config(&password_profile(&hub));

    let out = home
        .koji_osbuild(&as_user(
            "kojiuser",
            "kojipass",
            &image_args(&["--release", "1", "--nowait"]),
        ))
        .await
        .success();
    let task_id = created_task(&out);
    assert_eq!(
        out.stdout,
        expected_submit_output(&hub, r#"opts: {"release":"1"}"#, task_id)
    );
    assert_osbuild_task(
        &hub,
        task_id,
        "kojiuser",
        default_request(serde_json::json!({"release": "1"})),
    )
    .await;
}

#[tokio::test]
async fn koji_cli_plugin_and_koji_osbuild_create_the_same_task() {
    let hub = TestHub::start();
    let home = Home::new();
    home.koji_config(&password_profile(&hub));
    let extra = [
        "--repo",
        "https://first.repo/$arch",
        "--repo-package-sets",
        "a; b",
        "--repo",
        "https://second.repo",
        "--skip-tag",
        "--nowait",
    ];

    let ours = home
        .koji_osbuild(&as_user("kojiuser", "kojipass", &image_args(&extra)))
        .await
        .success();
    let theirs = home
        .koji(&as_user("kojiuser", "kojipass", &koji_image_args(&extra)))
        .await
        .success();

    let (ours_id, theirs_id) = (created_task(&ours), created_task(&theirs));
    let opts_json = r#"opts: {"repo":[{"baseurl":"https://first.repo/$arch","package_sets":["a","b"]},{"baseurl":"https://second.repo"}],"skip_tag":true}"#;
    assert_eq!(
        ours.stdout,
        expected_submit_output(&hub, opts_json, ours_id)
    );
    let opts_repr = "{'repo': [{'baseurl': 'https://first.repo/$arch', 'package_sets': ['a', 'b']},\n          {'baseurl': 'https://second.repo'}],\n 'skip_tag': True}";
    assert_eq!(
        theirs.stdout,
        expected_submit_output(&hub, opts_repr, theirs_id)
    );
    let request = default_request(serde_json::json!({
        "repo": [
            {"baseurl": "https://first.repo/$arch", "package_sets": ["a", "b"]},
            {"baseurl": "https://second.repo"}
        ],
        "skip_tag": true
    }));
    assert_osbuild_task(&hub, ours_id, "kojiuser", request.clone()).await;
    assert_osbuild_task(&hub, theirs_id, "kojiuser", request).await;
}

#[tokio::test]
async fn client_certificate_login_over_https_with_both_clis() {
    let hub = TestHub::start_tls();
    let home = Home::new();
    home.koji_config(&certificate_profile(&hub, "kojiuser"));

    let ours = home
        .koji_osbuild(&image_args(&["--nowait", "--quiet"]))
        .await
        .success();
    assert_eq!(ours.stdout, "", "--quiet prints nothing");
    let theirs = home.koji(&koji_image_args(&["--nowait"])).await.success();

    // With --quiet there is no "Created task" line: the first task is 1.
    assert_osbuild_task(&hub, 1, "kojiuser", default_request(serde_json::json!({}))).await;
    assert_osbuild_task(
        &hub,
        created_task(&theirs),
        "kojiuser",
        default_request(serde_json::json!({})),
    )
    .await;
}

#[tokio::test]
async fn password_login_over_https_verifies_the_hub_with_serverca() {
    let hub = TestHub::start_tls();
    let home = Home::new();
    let pki = hub.pki.as_ref().expect("tls");
    home.koji_config(&format!(
        "[koji]\nserver = {}\nweburl = {}\nauthtype = password\nserverca = {}\n",
        hub.https_url.as_deref().expect("https"),
        hub.weburl,
        pki.ca().display()
    ));
    let out = home
        .koji_osbuild(&as_user("kojiuser", "kojipass", &image_args(&["--nowait"])))
        .await
        .success();
    assert_osbuild_task(
        &hub,
        created_task(&out),
        "kojiuser",
        default_request(serde_json::json!({})),
    )
    .await;

    // Without the CA the hub's certificate is not trusted: one clear line.
    home.koji_config(&format!(
        "[koji]\nserver = {}\nauthtype = password\n",
        hub.https_url.as_deref().expect("https")
    ));
    let out = home
        .koji_osbuild(&as_user("kojiuser", "kojipass", &image_args(&["--nowait"])))
        .await;
    let line = out.one_line_error();
    assert!(line.contains("certificate"), "{line}");
}

#[tokio::test]
async fn priority_is_applied_and_negative_needs_admin() {
    let hub = TestHub::start();
    let home = Home::new();

    home.koji_config(&password_profile(&hub));
    let out = home
        .koji_osbuild(&as_user(
            "kojiuser",
            "kojipass",
            &image_args(&["--priority", "3", "--nowait", "--quiet"]),
        ))
        .await
        .success();
    assert_eq!(out.stdout, "");
    let info = hub
        .anonymous()
        .get_task_info(1, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.priority, Some(23));

    let out = home
        .koji_osbuild(&as_user(
            "kojiuser",
            "kojipass",
            &image_args(&["--priority", "-5", "--nowait"]),
        ))
        .await;
    assert!(out
        .one_line_error()
        .contains("only admins may create high-priority tasks"));
    assert_eq!(
        task_count(&hub).await,
        1,
        "the refused request created no task"
    );

    home.koji_config(&password_profile(&hub));
    home.koji_osbuild(&as_user(
        "admin",
        "adminpass",
        &image_args(&["--priority", "-5", "--nowait", "--quiet"]),
    ))
    .await
    .success();
    let info = hub
        .anonymous()
        .get_task_info(2, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.priority, Some(15));
}

/// Every kind of bad input: one line on stderr naming the problem, a
/// non-zero exit, and no task on the hub.
#[tokio::test]
async fn bad_input_gives_one_clear_line_and_creates_no_task() {
    let hub = TestHub::start();
    let home = Home::new();
    home.koji_config(&password_profile(&hub));
    let bad_json = home.file("bad.json", "{\"packages\": [\"vim\",]}");
    let bad_upload = home.file("upload.json", "{\"region\": 1}");
    let missing = home.path().join("no-such-file.json");

    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "image",
                "demo-image",
                "42",
                "fedora-42",
                "no-such-target",
                "x86_64",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            "Unknown build target: no-such-target",
        ),
        (
            image_args(&["--customizations", &missing.display().to_string()])
                .into_iter()
                .map(String::from)
                .collect(),
            "no-such-file.json",
        ),
        (
            image_args(&["--customizations", &bad_json.display().to_string()])
                .into_iter()
                .map(String::from)
                .collect(),
            "bad.json",
        ),
        (
            image_args(&["--upload-options", &bad_upload.display().to_string()])
                .into_iter()
                .map(String::from)
                .collect(),
            "upload_options",
        ),
    ];
    for (args, needle) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = home
            .koji_osbuild(&as_user("kojiuser", "kojipass", &args))
            .await;
        let line = out.one_line_error();
        assert!(
            line.contains(needle),
            "{args:?}: {line:?} should name {needle:?}"
        );
    }

    // Missing permission and a wrong password: the hub's own words.
    home.koji_config(&password_profile(&hub));
    let out = home
        .koji_osbuild(&as_user("nobody", "nobodypass", &image_args(&["--nowait"])))
        .await;
    assert!(
        out.one_line_error().contains("image permission required"),
        "{out:#?}"
    );
    home.koji_config(&password_profile(&hub));
    let out = home
        .koji_osbuild(&as_user("kojiuser", "wrong", &image_args(&["--nowait"])))
        .await;
    let line = out.one_line_error();
    assert!(line.contains("invalid username or password"), "{line}");
    assert!(
        !line.contains("wrong"),
        "the password is not echoed: {line}"
    );

    // A missing architecture is a usage error (exit 2), as upstream's.
    let out = home
        .koji_osbuild(&[
            "image",
            "demo-image",
            "42",
            "fedora-42",
            "fedora42-candidate",
        ])
        .await;
    assert_eq!(out.code, 2, "{out:#?}");

    // An unreachable hub names the URL.
    home.koji_config("[koji]\nserver = http://127.0.0.1:9/kojihub\nauthtype = password\n");
    let out = home
        .koji_osbuild(&as_user("u", "p", &image_args(&["--nowait"])))
        .await;
    assert!(out.one_line_error().contains("127.0.0.1:9"), "{out:#?}");

    assert_eq!(task_count(&hub).await, 0);
}

/// The hub half of a builder, played by the test: take the task, open it
/// and close it with an upstream-shaped result.
async fn run_task_as_host(hub: &TestHub, result: Option<Value>) {
    let host = hub.login("builder.local", "hostpass").await;
    host.exclusive_session(true)
        .await
        .expect("exclusive session");
    // The scheduler only assigns to hosts that said they are ready.
    host.host()
        .update_host(0.0, true, None)
        .await
        .expect("updateHost");
    let mut polls = 0;
    let task = loop {
        let tasks = host.host().get_tasks().await.expect("getTasks");
        if let Some(task) = tasks.into_iter().next() {
            break task;
        }
        polls += 1;
        if polls == 150 {
            // Give up quietly: the caller's assertions on the client's
            // output then say what went wrong on its side.
            eprintln!("no task was assigned within 30 s");
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    host.host()
        .open_task(task.id)
        .await
        .expect("openTask")
        .expect("opened");
    // Let the watcher (not logged in) look at the task once more while it
    // is open, before it finishes: wait for its next getTaskInfo.
    let admin = hub.login("admin", "adminpass").await;
    let looks = || async {
        let stats = admin
            .call("testhub.callStats", vec![])
            .await
            .expect("testhub.callStats");
        stats
            .get("")
            .and_then(|s| s.get("calls"))
            .and_then(|c| c.get("getTaskInfo"))
            .and_then(Value::as_i64)
            .unwrap_or(0)
    };
    let before = looks().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while looks().await <= before && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    match result {
        Some(result) => host
            .host()
            .close_task(task.id, &result)
            .await
            .expect("closeTask"),
        None => host
            .host()
            .fail_task(task.id, &koji::Fault::new(1005, "Compose failed (id: c-1)"))
            .await
            .expect("failTask"),
    }
}

fn upstream_result() -> Value {
    koji::json_to_value(&serde_json::json!({
        "composer": {"server": "https://composer.example", "id": "c-1"},
        "koji": {"build": 7}
    }))
}

#[tokio::test]
async fn wait_watches_the_task_and_prints_its_result() {
    let hub = TestHub::start();
    let home = Home::new();
    home.koji_config(&password_profile(&hub));

    let args = as_user(
        "kojiuser",
        "kojipass",
        &[
            "--poll-interval",
            "1",
            "image",
            "demo-image",
            "42",
            "fedora-42",
        ],
    );
    let args = [args.as_slice(), &["fedora42-candidate", "x86_64", "--wait"]].concat();
    let (out, ()) = tokio::join!(
        home.koji_osbuild(&args),
        run_task_as_host(&hub, Some(upstream_result())),
    );
    let out = out.success();
    let lines = out.stdout_lines();
    // The first state the watcher sees depends on how fast the host takes
    // the task: any of these, right after the Task info line.
    let info = lines
        .iter()
        .position(|l| l.starts_with("Task info: "))
        .expect("Task info line");
    assert!(
        [
            "Task 1 osbuildImage demo-image-42: free",
            "Task 1 osbuildImage demo-image-42: assigned on builder.local",
            "Task 1 osbuildImage demo-image-42: open on builder.local",
        ]
        .contains(&lines[info + 1]),
        "{out:#?}"
    );
    assert!(
        lines.contains(&"Task 1 osbuildImage demo-image-42: open on builder.local"),
        "{out:#?}"
    );
    // The result names build 7, which this hub does not have.
    assert_eq!(
        lines.last().copied(),
        Some("Task 1 osbuildImage demo-image-42: closed: build 7 (not on the hub), not tagged (compose c-1)"),
        "{out:#?}"
    );
}

/// `--json`: one object per line, the created task first and the result last.
#[tokio::test]
async fn json_output_is_one_object_per_line() {
    let hub = TestHub::start();
    let home = Home::new();
    home.koji_config(&password_profile(&hub));
    let args = as_user("kojiuser", "kojipass", &["--poll-interval", "1"]);
    let args = [args.as_slice(), &image_args(&["--wait", "--json"])].concat();
    let (out, ()) = tokio::join!(
        home.koji_osbuild(&args),
        run_task_as_host(&hub, Some(upstream_result())),
    );
    let out = out.success();
    let events: Vec<serde_json::Value> = out
        .stdout_lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    assert_eq!(
        events.first(),
        Some(&serde_json::json!({
            "event": "created",
            "task_id": 1,
            "url": format!("{}/taskinfo?taskID=1", hub.weburl)
        }))
    );
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "task" && e["state"] == "open" && e["host"] == "builder.local"),
        "{events:#?}"
    );
    let done = events.last().expect("events");
    assert_eq!(done["event"], "done");
    assert_eq!(done["state"], "closed");
    assert_eq!(done["result"], koji::value_to_json(&upstream_result()));
    assert_eq!(
        done["build"],
        serde_json::json!({"id": 7, "nvr": null, "tags": []})
    );
}

#[tokio::test]
async fn a_failed_task_makes_watch_exit_non_zero() {
    let hub = TestHub::start();
    let home = Home::new();
    home.koji_config(&password_profile(&hub));
    home.koji_osbuild(&as_user(
        "kojiuser",
        "kojipass",
        &image_args(&["--nowait", "--quiet"]),
    ))
    .await
    .success();

    let (out, ()) = tokio::join!(
        home.koji_osbuild(&["--poll-interval", "1", "watch", "1"]),
        run_task_as_host(&hub, None),
    );
    assert_eq!(out.code, 1, "{out:#?}");
    assert_eq!(
        out.stdout_lines().last().copied(),
        Some("Task 1 osbuildImage demo-image-42: failed: BuildError: Compose failed (id: c-1)"),
        "{out:#?}"
    );
}

// --- `koji osbuild-image`: the koji CLI with our plugin, all Python ---------

/// `--wait`: koji's own watch lines (watch_tasks, after the plugin logs
/// out), then the task result as upstream prints it.
#[tokio::test]
async fn koji_cli_plugin_waits_and_prints_the_result() {
    let hub = TestHub::start();
    let home = Home::new();
    // poll_interval is a koji.conf key; the koji CLI's default is 6 s.
    home.koji_config(&format!("{}poll_interval = 1\n", password_profile(&hub)));

    let args = as_user("kojiuser", "kojipass", &koji_image_args(&["--wait"]));
    let (out, ()) = tokio::join!(
        home.koji(&args),
        run_task_as_host(&hub, Some(upstream_result())),
    );
    let out = out.success();
    let lines = out.stdout_lines();
    let watching = lines
        .iter()
        .position(|l| *l == "Watching tasks (this may be safely interrupted)...")
        .unwrap_or_else(|| panic!("no watch_tasks header: {out:#?}"));
    assert_eq!(
        lines[watching - 1],
        format!("Task info: {}/taskinfo?taskID=1", hub.weburl)
    );
    // The first state seen depends on how fast the host takes the task.
    assert!(
        [
            "1 osbuildImage (noarch): free",
            "1 osbuildImage (noarch): assigned (builder.local)",
            "1 osbuildImage (noarch): open (builder.local)",
        ]
        .contains(&lines[watching + 1]),
        "{out:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("1 osbuildImage (noarch): ") && l.ends_with(" -> closed")),
        "{out:#?}"
    );
    assert_eq!(
        &lines[lines.len() - 2..],
        [
            "1 osbuildImage (noarch) completed successfully",
            "{'composer': {'server': 'https://composer.example', 'id': 'c-1'}, 'koji': {'build': 7}}",
        ],
        "{out:#?}"
    );
    assert_eq!(out.stderr, "");
}

/// `--priority` reaches the hub call; a negative one is the hub's to refuse.
#[tokio::test]
async fn koji_cli_plugin_passes_the_priority() {
    let hub = TestHub::start();
    let home = Home::new();
    home.koji_config(&password_profile(&hub));

    let out = home
        .koji(&as_user(
            "kojiuser",
            "kojipass",
            &koji_image_args(&["--priority", "3", "--nowait"]),
        ))
        .await
        .success();
    let info = hub
        .anonymous()
        .get_task_info(created_task(&out), false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.priority, Some(23));

    let out = home
        .koji(&as_user(
            "kojiuser",
            "kojipass",
            &koji_image_args(&["--priority", "-5", "--nowait"]),
        ))
        .await;
    let line = out.one_line_error();
    assert!(
        line.ends_with("ActionNotAllowed: only admins may create high-priority tasks"),
        "{line}"
    );
    assert_eq!(task_count(&hub).await, 1);
}

/// Bad input through `koji osbuild-image`: one line on stderr, exit 1, no
/// task. Files and the schema are checked before the hub is asked anything;
/// the target is upstream's check_target.
#[tokio::test]
async fn koji_cli_plugin_bad_input_gives_one_line_and_creates_no_task() {
    let hub = TestHub::start();
    let home = Home::new();
    home.koji_config(&password_profile(&hub));
    let bad_json = home.file("bad.json", "{\"packages\": [\"vim\",]}");
    let bad_upload = home.file("upload.json", "{\"region\": 1}");
    let missing = home.path().join("no-such-file.json");
    let (missing, bad_json, bad_upload) = (
        missing.display().to_string(),
        bad_json.display().to_string(),
        bad_upload.display().to_string(),
    );

    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec![
                "osbuild-image",
                "demo-image",
                "42",
                "fedora-42",
                "no-such-target",
                "x86_64",
            ],
            "GenericError: Unknown build target: no-such-target".into(),
        ),
        (
            koji_image_args(&["--customizations", &missing]),
            format!("--customizations {missing}: cannot read the file: No such file or directory"),
        ),
        (
            koji_image_args(&["--customizations", &bad_json]),
            format!("--customizations {bad_json}: not valid JSON: "),
        ),
        (
            koji_image_args(&["--upload-options", &bad_upload]),
            format!("--upload-options {bad_upload}: {{'region': 1}} is not valid"),
        ),
    ];
    for (args, needle) in cases {
        let out = home.koji(&as_user("kojiuser", "kojipass", &args)).await;
        assert_eq!(out.code, 1, "{out:#?}");
        let line = out.one_line_error();
        assert!(
            line.contains(&needle),
            "{args:?}: {line:?} should say {needle:?}"
        );
    }

    // The hub's own refusal, in the koji CLI's words.
    let out = home
        .koji(&as_user(
            "nobody",
            "nobodypass",
            &koji_image_args(&["--nowait"]),
        ))
        .await;
    assert!(
        out.one_line_error()
            .ends_with("ActionNotAllowed: image permission required (logged in as nobody)"),
        "{out:#?}"
    );

    // A missing architecture is upstream's usage error (exit 2).
    let out = home
        .koji(&[
            "osbuild-image",
            "demo-image",
            "42",
            "fedora-42",
            "fedora42-candidate",
        ])
        .await;
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(
        out.stderr.contains("At least five arguments are required"),
        "{out:#?}"
    );

    assert_eq!(task_count(&hub).await, 0);
}

/// Checks on top of the schema: arches the target's build tag lacks and an
/// empty name, version or distro are refused when submitted, by the hub
/// plugin (so for `koji osbuild-image` and Pungi too) and by `koji-osbuild
/// image` before it calls the hub; no task is created.
#[tokio::test]
async fn arches_the_build_tag_lacks_and_empty_names_are_refused_at_submission() {
    let hub = TestHub::start();
    let home = Home::new();
    home.koji_config(&password_profile(&hub));
    let lacks = "build tag fedora42-build has no sparc (it has x86_64, aarch64)";

    let out = home
        .koji_osbuild(&as_user(
            "kojiuser",
            "kojipass",
            &image_args(&["sparc", "--nowait"]),
        ))
        .await;
    assert!(out.one_line_error().contains(lacks), "{out:#?}");
    let args = [
        "image",
        "demo-image",
        "42",
        "",
        "fedora42-candidate",
        "x86_64",
        "--nowait",
    ];
    let out = home
        .koji_osbuild(&as_user("kojiuser", "kojipass", &args))
        .await;
    assert!(
        out.one_line_error().contains("the image distro is empty"),
        "{out:#?}"
    );

    let out = home
        .koji(&as_user(
            "kojiuser",
            "kojipass",
            &koji_image_args(&["sparc", "--nowait"]),
        ))
        .await;
    assert_ne!(out.code, 0, "{out:#?}");
    assert!(out.stderr.contains(lacks), "{out:#?}");

    let user = hub.login("kojiuser", "kojipass").await;
    for (args, needle) in [
        (
            serde_json::json!([
                "demo-image",
                "42",
                "fedora-42",
                "guest-image",
                "fedora42-candidate",
                ["sparc"],
                {}
            ]),
            "has no sparc",
        ),
        (
            serde_json::json!([
                "demo-image",
                " ",
                "fedora-42",
                "guest-image",
                "fedora42-candidate",
                ["x86_64"],
                {}
            ]),
            "the image version is empty",
        ),
    ] {
        let err = e2e::tasks::osbuild_image(&user, args).await.unwrap_err();
        assert!(err.to_string().contains(needle), "{err}");
    }
    assert_eq!(task_count(&hub).await, 0);
}

/// `koji-osbuild image --nowait` makes only the calls it needs, fewer than
/// the koji CLI: the target, its tags in one multiCall, the login, the
/// submission and the logout (koji adds getAPIVersion and asks for each
/// tag on its own). docs/benchmarks.md has what that means in wall time.
#[tokio::test]
async fn image_makes_only_the_calls_it_needs() {
    let hub = TestHub::start_tls();
    let home = Home::new();
    home.koji_config(&certificate_profile(&hub, "kojiuser"));
    let admin = hub.login("admin", "adminpass").await;
    let calls = || async {
        let reset = [("reset".to_string(), Value::Bool(true))];
        let stats = admin
            .call_kw("testhub.callStats", vec![], reset.into_iter().collect())
            .await
            .expect("testhub.callStats");
        // Requests by method, whoever made them (the admin's own call
        // counts under admin).
        let mut requests = std::collections::BTreeMap::new();
        for (user, counts) in koji::value_to_json(&stats).as_object().unwrap() {
            if user == "admin" {
                continue;
            }
            for (method, n) in counts["requests"].as_object().unwrap() {
                *requests.entry(method.clone()).or_insert(0) += n.as_i64().unwrap();
            }
        }
        requests
    };
    calls().await;

    home.koji_osbuild(&image_args(&["--nowait"]))
        .await
        .success();
    let ours = calls().await;
    let expected: std::collections::BTreeMap<String, i64> = [
        ("getBuildTarget", 1),
        ("multiCall", 1),
        ("sslLogin", 1),
        ("osbuildImage", 1),
        ("logout", 1),
    ]
    .into_iter()
    .map(|(m, n)| (m.to_string(), n))
    .collect();
    assert_eq!(ours, expected);

    home.koji(&koji_image_args(&["--nowait"])).await.success();
    let theirs = calls().await;
    assert!(
        theirs.values().sum::<i64>() > ours.values().sum::<i64>(),
        "koji: {theirs:?}, koji-osbuild: {ours:?}"
    );
}
