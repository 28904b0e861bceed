//! Every exchange recorded from a real Koji 1.35 hub
//! (testing/koji-captures) decodes into the right value or typed fault,
//! and every recorded request is what our encoder writes.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use common::*;
use koji::{FaultKind, TaskState, Value};

fn captures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testing/koji-captures")
}

fn files(suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(captures_dir())
        .expect("testing/koji-captures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    v.sort();
    v
}

fn label(p: &std::path::Path) -> String {
    p.file_name()
        .expect("name")
        .to_string_lossy()
        .split('.')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// The faults in the recording, by file number.
fn expected_faults() -> BTreeMap<&'static str, (FaultKind, &'static str)> {
    BTreeMap::from([
        ("04", (FaultKind::GenericError, "No such build target: ")),
        ("09", (FaultKind::ActionNotAllowed, "")),
        ("10", (FaultKind::AuthError, "invalid username or password")),
        (
            "13",
            (
                FaultKind::ActionNotAllowed,
                "image permission required (logged in as osbuild)",
            ),
        ),
        ("16", (FaultKind::ParameterError, "[] is too short")),
        ("17", (FaultKind::ParameterError, "")),
        (
            "21",
            (
                FaultKind::AuthError,
                "This method requires an exclusive session",
            ),
        ),
        ("43", (FaultKind::BuildError, "Compose failed (id: abc)")),
        ("53", (FaultKind::GenericError, "Build is already reserved")),
        ("59", (FaultKind::GenericError, "")),
    ])
}

#[test]
fn every_response_decodes_to_the_right_value_or_fault() {
    let responses = files(".response.xml");
    assert!(responses.len() >= 73, "captures missing");
    let faults = expected_faults();
    let mut seen_faults = 0;
    for path in &responses {
        let body = std::fs::read(path).expect("read");
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let number = &name[..2];
        let decoded = koji::decode_response(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
        match (faults.get(number), decoded) {
            (Some((kind, text)), Err(fault)) => {
                seen_faults += 1;
                assert_eq!(fault.kind(), *kind, "{name}");
                assert!(fault.message.starts_with(text), "{name}: {}", fault.message);
                let err = koji::Error::from(fault);
                assert!(err.is_fault(*kind), "{name}");
            }
            (None, Ok(_)) => {}
            (want, got) => panic!("{name}: expected {want:?}, got {got:?}"),
        }
    }
    assert_eq!(seen_faults, faults.len());
}

#[test]
fn every_request_is_what_we_write() {
    for path in files(".request.xml") {
        let body = std::fs::read_to_string(&path).expect("read");
        let (method, params) = koji::decode_call(body.as_bytes())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            koji::encode_call(&method, &params),
            body,
            "{}",
            path.display()
        );
    }
}

#[test]
fn python_decodes_the_captures_as_we_do() {
    let Some(py) = python() else {
        eprintln!("SKIPPED: no .venv with the koji package");
        return;
    };
    let all: Vec<PathBuf> = files(".xml");
    let out = Command::new(py)
        .arg(fixtures_dir().join("check.py"))
        .args(&all)
        .output()
        .expect("check.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let python: BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(&out.stdout).expect("json");
    for path in &all {
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let body = std::fs::read(path).expect("read");
        let ours = if name.contains(".request.") {
            let (m, p) = koji::decode_call(&body).expect("call");
            describe_call(&m, &p)
        } else {
            describe_response(&koji::decode_response(&body).expect("response"))
        };
        assert_eq!(Some(&ours), python.get(&name), "{name}");
    }
}

fn response(n: &str) -> Value {
    let path = files(".response.xml")
        .into_iter()
        .find(|p| label(p).starts_with(n))
        .unwrap_or_else(|| panic!("capture {n}"));
    koji::decode_response(&std::fs::read(path).expect("read"))
        .expect("decode")
        .expect("not a fault")
}

#[test]
fn typed_shapes_read_from_captures() {
    let target: koji::BuildTarget = koji::from_value(response("02")).expect("target");
    assert_eq!(
        (target.build_tag, target.dest_tag_name.as_str()),
        (3, "fedora42-candidate")
    );
    assert!(response("03").is_nil());

    let tag: koji::TagInfo = koji::from_value(response("05")).expect("tag");
    assert_eq!(tag.name, "fedora42-candidate");
    let config: koji::BuildConfig = koji::from_value(response("06")).expect("build config");
    assert_eq!(config.arch_list(), vec!["x86_64".to_owned()]);
    assert!(response("07").is_nil());
    assert_eq!(response("08"), Value::from("1"));

    let login = koji::SessionInfo::from_login_reply(&response("11"), "login").expect("login");
    assert_eq!((login.id, login.header_auth, login.callnum), (25, true, 0));
    assert!(
        !format!("{login:?}").contains(&login.key),
        "key must not show in Debug"
    );

    let user: koji::UserInfo = koji::from_value(response("12")).expect("user");
    assert_eq!(user.name, "osbuild");

    assert_eq!(response("15"), Value::Int(11));

    let info: koji::TaskInfo = koji::from_value(response("18")).expect("task info");
    assert_eq!(info.state, TaskState::Free);
    let params = info.request_params().expect("request").expect("params");
    assert_eq!(params.len(), 7);

    let multi = koji::session::parse_multicall_reply(response("19"), 3).expect("multicall");
    assert!(matches!(&multi[0], Ok(Value::Struct(_))));
    assert_eq!(multi[1], Ok(Value::Array(vec![])));
    let fault = multi[2].clone().expect_err("third call failed");
    assert_eq!(
        (fault.kind(), fault.message.as_str()),
        (FaultKind::GenericError, "No such build target: NOPE")
    );

    let host = response("24");
    assert_eq!(
        host.get("name"),
        Some(&Value::from("osbuild-builder.local"))
    );
    let tasks: Vec<koji::TaskInfo> = koji::from_value(response("26")).expect("getTasks");
    assert!(tasks.iter().all(|t| t.state == TaskState::Assigned));
    let host_tasks: Vec<koji::HostTask> = koji::from_value(response("27")).expect("getHostTasks");
    assert!(host_tasks.is_empty());

    // openTask: `request` is a whole methodCall document in a string.
    let opened: koji::TaskInfo = koji::from_value(response("28")).expect("openTask");
    assert_eq!(opened.state, TaskState::Open);
    assert!(matches!(opened.request, Some(Value::String(_))));
    let params = opened.request_params().expect("request").expect("params");
    assert_eq!(params[0], Value::from("fedora-guest"));
    assert_eq!(params[6].get("release"), Some(&Value::from("7")));

    let raw: koji::RawUploadReply = koji::from_value(response("30")).expect("rawUpload");
    assert_eq!(raw.hexdigest.as_deref(), Some("4cd906ab"));
    let check: koji::CheckUploadReply = koji::from_value(response("31")).expect("checkUpload");
    assert_eq!(check.hexdigest.as_deref(), Some("4cd906ab"));

    let stat: indexmap::IndexMap<String, koji::FileStat> =
        koji::from_value(response("32")).expect("stat");
    assert_eq!(stat["compose-request.json"].size(), Some(24));

    let (finished, unfinished): (Vec<i64>, Vec<i64>) =
        koji::from_value(response("36")).expect("taskWait");
    assert_eq!((finished, unfinished), (vec![], vec![12]));
    let children: Vec<koji::TaskInfo> = koji::from_value(response("37")).expect("children");
    assert_eq!(children[0].label.as_deref(), Some("zzz"));

    let results = koji::host::parse_task_wait_results(response("40")).expect("taskWaitResults");
    assert_eq!(results[0].0, 12);
    assert_eq!(
        results[0].1.clone().expect_err("canceled").message,
        "Task 12 is canceled"
    );

    let failed: koji::TaskInfo = koji::from_value(response("42")).expect("failed task");
    assert_eq!(failed.state, TaskState::Failed);
    assert_eq!(failed.state.to_string(), "failed");

    let result = response("48");
    assert_eq!(
        result.get("koji").and_then(|k| k.get("build")),
        Some(&Value::Int(1))
    );
    assert!(response("50").is_nil(), "openTask of a closed task is nil");

    let reservation: koji::CgBuildReservation =
        koji::from_value(response("55")).expect("CGInitBuild");
    assert_eq!(reservation.build_id, 2);
    assert!(!format!("{reservation:?}").contains(&reservation.token));
    let build: koji::BuildInfo = koji::from_value(response("58")).expect("CGImport");
    assert_eq!(build.nvr.as_deref(), Some("fedora-guest-42-2"));
    let build: koji::BuildInfo = koji::from_value(response("61")).expect("getBuild");
    assert_eq!(build.other.get("cg_name"), Some(&Value::from("osbuild")));
    let archives = response("62");
    assert_eq!(
        archives.as_array().expect("list")[0].get("type_name"),
        Some(&Value::from("qcow2"))
    );
    let tagged: Vec<koji::BuildInfo> = koji::from_value(response("72")).expect("listTagged");
    assert_eq!(
        tagged[0].other.get("tag_name"),
        Some(&Value::from("fedora42-candidate"))
    );
}
