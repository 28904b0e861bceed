//! The typed calls send exactly the requests the real koji client sent in
//! the recording (testing/koji-captures/*.request.xml), byte for byte.

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use common::hub::{MockHub, Reply};
use koji::{ClientSession, Fault, Options, SessionInfo, Value};

fn capture(prefix: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testing/koji-captures");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("captures")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            let n = p.file_name().expect("name").to_string_lossy().into_owned();
            n.starts_with(prefix) && n.ends_with(".request.xml")
        })
        .collect();
    names.sort();
    std::fs::read_to_string(&names[0]).expect("read")
}

/// A hub that answers every call with the same reply and remembers bodies.
async fn hub_answering(reply: Value) -> (MockHub, ClientSession) {
    let reply = Arc::new(Mutex::new(reply));
    let hub = MockHub::start(move |_, _| Reply::value(reply.lock().expect("reply").clone())).await;
    let s = ClientSession::resume(
        &hub.url,
        Options::default(),
        SessionInfo {
            id: 1,
            key: "1-k".into(),
            callnum: 0,
            header_auth: true,
        },
    )
    .expect("session");
    (hub, s)
}

fn last_body(hub: &MockHub) -> String {
    String::from_utf8(hub.requests().last().expect("a request").body.clone()).expect("utf-8")
}

#[tokio::test]
async fn client_calls_match_the_recording() {
    let (hub, s) = hub_answering(Value::Nil).await;

    s.get_build_target("fedora42-candidate", false)
        .await
        .expect("call");
    assert_eq!(last_body(&hub), capture("02-"));

    s.get_build_target("NOPE", true).await.ok();
    // 04 asked for strict with the name no-such-target.
    assert!(last_body(&hub).contains("<name>strict</name>"));

    s.get_repo("fedora42-build").await.expect("call");
    assert_eq!(last_body(&hub), capture("07-"));

    s.get_task_info(11, true).await.expect("call");
    assert_eq!(last_body(&hub), capture("18-"));

    s.get_build("fedora-guest-42-2", false).await.expect("call");
    assert_eq!(last_body(&hub), capture("61-"));

    s.call("listTagged", vec!["fedora42-candidate".into()])
        .await
        .ok();
    assert_eq!(last_body(&hub), capture("72-"));

    s.cg_refund_build(
        "osbuild",
        1,
        "e5d2b21ce2a6befe038f8e56ca0e2872eab4d69da1005436c4778bcea51c8f1d",
        None,
    )
    .await
    .expect("call");
    assert_eq!(last_body(&hub), capture("54-"));

    s.exclusive_session(true).await.expect("call");
    assert_eq!(last_body(&hub), capture("65-"));
}

#[tokio::test]
async fn host_calls_match_kojid() {
    let (hub, s) = hub_answering(Value::Nil).await;
    let host = s.host();

    host.update_host(
        0.0,
        true,
        Some(Value::from_pairs([
            ("methods", Value::from(vec!["osbuildImage", "tagBuild"])),
            ("maxjobs", Value::Int(10)),
        ])),
    )
    .await
    .expect("call");
    assert_eq!(last_body(&hub), capture("25-"));

    assert_eq!(host.open_task(13).await.expect("nil"), None);
    s.call("host.setTaskWeight", vec![11.into(), Value::Double(0.2)])
        .await
        .expect("call");
    assert_eq!(last_body(&hub), capture("29-"));

    host.task_set_wait(11, Some(&[12])).await.expect("call");
    assert_eq!(last_body(&hub), capture("35-"));

    host.fail_task(11, &Fault::new(1005, "Compose failed (id: abc)"))
        .await
        .expect("call");
    assert_eq!(last_body(&hub), capture("41-"));

    let result = Value::from_pairs([
        (
            "composer",
            Value::from_pairs([
                ("server", "https://composer.example"),
                ("id", "123e4567-e89b-12d3-a456-426655440000"),
            ]),
        ),
        ("koji", Value::from_pairs([("build", 1)])),
    ]);
    host.close_task(13, &result).await.expect("call");
    assert_eq!(last_body(&hub), capture("47-"));

    host.tag_build(14, 2, 2, false, None).await.expect("call");
    assert_eq!(last_body(&hub), capture("69-"));

    host.tag_notification(true, Some(2), None, 2, 1, true, None)
        .await
        .expect("call");
    assert_eq!(last_body(&hub), capture("70-"));

    s.check_upload("tasks/11/11", "compose-request.json", Some("adler32"), None)
        .await
        .expect("call");
    assert_eq!(last_body(&hub), capture("31-"));

    s.list_task_output_stat(11).await.ok();
    assert_eq!(last_body(&hub), capture("32-"));
}

#[tokio::test]
async fn subtask_and_task_wait() {
    let (hub, s) = hub_answering(Value::Int(12)).await;
    let id = s
        .host()
        .subtask(
            "sleep",
            vec![Value::Int(1)],
            Some("zzz"),
            11,
            Some("noarch"),
        )
        .await
        .expect("subtask");
    assert_eq!(id, 12);
    assert_eq!(last_body(&hub), capture("34-"));

    let (hub, s) = hub_answering(Value::Array(vec![
        Value::Array(vec![]),
        Value::from(vec![12i64]),
    ]))
    .await;
    let wait = s.host().task_wait(11).await.expect("taskWait");
    assert_eq!((wait.finished, wait.unfinished), (vec![], vec![12]));
    assert_eq!(last_body(&hub), capture("36-"));

    let (hub, s) = hub_answering(Value::Array(vec![Value::Array(vec![
        Value::Int(12),
        Fault::new(1000, "Task 12 is canceled").to_value(),
    ])]))
    .await;
    let results = s
        .host()
        .task_wait_results(11, &[12], Some(&[12]))
        .await
        .expect("results");
    assert_eq!(
        results[0].1.clone().expect_err("fault").message,
        "Task 12 is canceled"
    );
    assert_eq!(last_body(&hub), capture("40-"));
}

#[tokio::test]
async fn download_and_next_release() {
    let (hub, s) = hub_answering(Value::from("ewogICAgImhlbGxvIjogIndvcmxkIgp9")).await;
    let bytes = s
        .download_task_output(11, "compose-request.json", 0, None)
        .await
        .expect("download");
    assert_eq!(bytes, b"{\n    \"hello\": \"world\"\n}");
    let (_, params) = hub.requests()[0].call();
    assert_eq!(
        params[2],
        Value::from_pairs([
            ("offset", Value::Int(0)),
            ("size", Value::Int(-1)),
            ("__starstar", Value::Bool(true))
        ])
    );

    let (hub, s) = hub_answering(Value::from("1")).await;
    assert_eq!(
        s.get_next_release("demo-image", "42")
            .await
            .expect("release"),
        "1"
    );
    let (method, params) = hub.requests()[0].call();
    assert_eq!(method, "getNextRelease");
    assert_eq!(
        params,
        vec![Value::from_pairs([
            ("name", "demo-image"),
            ("version", "42")
        ])]
    );
}
