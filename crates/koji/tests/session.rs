//! Sessions against a scripted in-process hub: how the session travels
//! (headers or URL), callnum, Koji's retry rules, uploads, multicall.

mod common;

use std::time::Duration;

use common::hub::{login_reply, MockHub, Reply, Req};
use koji::{ClientSession, FaultKind, Options, SessionInfo, UploadOptions, Value};

const KEY: &str = "3-RAPEbGsgNm524foMvxO";
const PASSWORD: &str = "s3cret-pass";

fn fast_opts() -> Options {
    Options {
        max_retries: 3,
        retry_interval: Duration::from_millis(1),
        offline_retry_interval: Duration::from_millis(1),
        ..Options::default()
    }
}

fn resumed(hub: &MockHub, header_auth: bool) -> ClientSession {
    let info = SessionInfo {
        id: 27,
        key: KEY.into(),
        callnum: 5,
        header_auth,
    };
    ClientSession::resume(&hub.url, fast_opts(), info).expect("session")
}

/// Answers login and echo-like calls; everything else returns nil.
fn simple_hub(header_auth: Option<bool>) -> impl Fn(&Req, usize) -> Reply + Send + Sync + 'static {
    move |req, _| {
        let (method, params) = req.call();
        match method.as_str() {
            "login" => Reply::value(login_reply(25, KEY, header_auth)),
            "echo" => Reply::value(Value::Array(params)),
            _ => Reply::value(Value::Nil),
        }
    }
}

#[tokio::test]
async fn header_auth_session_goes_in_headers_with_increasing_callnum() {
    let hub = MockHub::start(simple_hub(Some(true))).await;
    let s = ClientSession::new(&hub.url, fast_opts()).expect("session");
    s.login("osbuild", PASSWORD).await.expect("login");
    for _ in 0..3 {
        s.call("getLoggedInUser", vec![]).await.expect("call");
    }
    let reqs = hub.requests();
    // login itself is anonymous: no session anywhere.
    assert_eq!(reqs[0].header("Koji-Session-Id"), None);
    let (method, params) = reqs[0].call();
    assert_eq!(method, "login");
    assert_eq!(params[0], Value::from("osbuild"));
    assert_eq!(
        params[2],
        Value::from_pairs([("opts", Value::Nil), ("__starstar", Value::Bool(true))])
    );
    for (i, r) in reqs[1..].iter().enumerate() {
        assert_eq!(r.header("Koji-Session-Id"), Some("25"));
        assert_eq!(r.header("Koji-Session-Key"), Some(KEY));
        assert_eq!(
            r.header("Koji-Session-Callnum"),
            Some(i.to_string().as_str())
        );
        assert_eq!(r.header("Content-Type"), Some("text/xml"));
        assert_eq!(r.header("User-Agent"), Some("koji/1"));
        assert!(
            r.raw_query.is_empty(),
            "no session in the URL: {}",
            r.raw_query
        );
    }
    let info = s.session_info().expect("logged in");
    assert_eq!((info.id, info.callnum, info.header_auth), (25, 3, true));
    assert_eq!(s.hub_version().as_deref(), Some("1.35.3"));
}

#[tokio::test]
async fn old_hubs_get_the_session_in_the_url() {
    let hub = MockHub::start(simple_hub(None)).await;
    let s = ClientSession::new(&hub.url, fast_opts()).expect("session");
    s.login("osbuild", PASSWORD).await.expect("login");
    s.call("getLoggedInUser", vec![]).await.expect("call");
    s.call("getLoggedInUser", vec![]).await.expect("call");
    let reqs = hub.requests();
    for (i, r) in reqs[1..].iter().enumerate() {
        assert_eq!(r.path, "/kojihub");
        assert_eq!(
            r.raw_query,
            format!("session-id=25&session-key={KEY}&callnum={i}"),
            "Koji's urlencode(sinfo) order"
        );
        // Koji sends the headers too; a 1.35 hub reads those first.
        assert_eq!(
            r.header("Koji-Session-Callnum"),
            Some(i.to_string().as_str())
        );
    }
}

#[tokio::test]
async fn anonymous_calls_carry_no_session() {
    let hub = MockHub::start(simple_hub(Some(true))).await;
    let s = ClientSession::new(&hub.url, fast_opts()).expect("session");
    assert_eq!(
        s.call("echo", vec!["OK".into()]).await.expect("echo"),
        Value::Array(vec![Value::from("OK")])
    );
    let r = &hub.requests()[0];
    assert_eq!(r.header("Koji-Session-Id"), None);
    assert!(r.raw_query.is_empty());
    assert!(s.session_info().is_none());
}

#[tokio::test]
async fn transport_errors_are_retried_with_the_same_callnum() {
    let hub = MockHub::start(|_, _| Reply::Drop).await;
    let s = resumed(&hub, true);
    let err = s
        .call("getLoggedInUser", vec![])
        .await
        .expect_err("no answer");
    assert!(matches!(err, koji::Error::Transport { .. }), "{err:?}");
    let reqs = hub.requests();
    assert_eq!(reqs.len(), 4, "1 try + max_retries 3");
    assert!(reqs
        .iter()
        .all(|r| r.header("Koji-Session-Callnum") == Some("5")));
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(KEY), "the key leaked: {shown}");
    assert!(shown.contains(&hub.url), "the error names the hub: {shown}");
    // The next call takes the next callnum.
    assert_eq!(s.session_info().expect("session").callnum, 6);
}

#[tokio::test]
async fn url_session_key_does_not_leak_into_errors() {
    let hub = MockHub::start(|_, _| Reply::Drop).await;
    let s = resumed(&hub, false);
    let err = s
        .call("getLoggedInUser", vec![])
        .await
        .expect_err("no answer");
    let shown = format!("{err} {err:?} {s:?}");
    assert!(!shown.contains(KEY), "the key leaked: {shown}");
    assert!(hub.requests()[0].raw_query.contains("session-key="));
}

#[tokio::test]
async fn anonymous_calls_are_retried_only_with_anon_retry() {
    let hub = MockHub::start(|_, _| Reply::Drop).await;
    let s = ClientSession::new(&hub.url, fast_opts()).expect("session");
    s.call("getAPIVersion", vec![])
        .await
        .expect_err("no answer");
    assert_eq!(hub.requests().len(), 1);

    let hub = MockHub::start(|_, _| Reply::Drop).await;
    let opts = Options {
        anon_retry: true,
        ..fast_opts()
    };
    let s = ClientSession::new(&hub.url, opts).expect("session");
    s.call("getAPIVersion", vec![])
        .await
        .expect_err("no answer");
    assert_eq!(hub.requests().len(), 4);
}

#[tokio::test]
async fn recovers_when_a_retry_gets_through() {
    let hub = MockHub::start(|_, i| {
        if i < 2 {
            Reply::Drop
        } else {
            Reply::value(Value::Int(1))
        }
    })
    .await;
    let s = resumed(&hub, true);
    assert_eq!(s.get_api_version().await.expect("third try answers"), 1);
    assert_eq!(hub.requests().len(), 3);
}

#[tokio::test]
async fn http_errors_are_retried_and_reported_with_status_and_body() {
    let hub = MockHub::start(|_, _| {
        Reply::Status(
            405,
            "Method Not Allowed\nThis is an XML-RPC server. Only POST requests are accepted."
                .into(),
        )
    })
    .await;
    let s = resumed(&hub, true);
    let err = s.call("getAPIVersion", vec![]).await.expect_err("405");
    match &err {
        koji::Error::Http { status, body, .. } => {
            assert_eq!(*status, 405);
            assert!(body.contains("Only POST"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(hub.requests().len(), 4, "Koji retries HTTP errors too");
}

#[tokio::test]
async fn faults_are_not_retried() {
    let hub = MockHub::start(|_, _| Reply::fault(1000, "No such build target: nope")).await;
    let s = resumed(&hub, true);
    let err = s.get_build_target("nope", true).await.expect_err("fault");
    assert!(err.is_fault(FaultKind::GenericError), "{err:?}");
    assert_eq!(err.to_string(), "GenericError: No such build target: nope");
    assert_eq!(hub.requests().len(), 1);
}

#[tokio::test]
async fn retry_error_stops_at_once() {
    let hub = MockHub::start(|_, _| {
        Reply::fault(
            1009,
            "unable to retry call 5 (method getLoggedInUser) for session 27",
        )
    })
    .await;
    let s = resumed(&hub, true);
    let err = s.get_logged_in_user().await.expect_err("fault");
    assert_eq!(err.fault_kind(), Some(FaultKind::RetryError));
    assert_eq!(hub.requests().len(), 1);
}

#[tokio::test]
async fn server_offline_is_retried_only_with_offline_retry() {
    let answer = |_: &Req, i: usize| {
        if i < 5 {
            Reply::fault(1014, "server is offline")
        } else {
            Reply::value(Value::from("1.35.3"))
        }
    };
    let hub = MockHub::start(answer).await;
    let s = resumed(&hub, true);
    let err = s.call("getKojiVersion", vec![]).await.expect_err("offline");
    assert!(err.is_fault(FaultKind::ServerOffline));
    assert_eq!(hub.requests().len(), 1);

    let hub = MockHub::start(answer).await;
    let opts = Options {
        offline_retry: true,
        ..fast_opts()
    };
    let s = ClientSession::resume(
        &hub.url,
        opts,
        SessionInfo {
            id: 1,
            key: KEY.into(),
            callnum: 0,
            header_auth: true,
        },
    )
    .expect("session");
    // 5 offline answers: more than max_retries, since offline retries do
    // not count against it.
    assert_eq!(
        s.call("getKojiVersion", vec![]).await.expect("back online"),
        Value::from("1.35.3")
    );
    assert_eq!(hub.requests().len(), 6);
}

#[tokio::test]
async fn expired_session_is_renewed_by_logging_in_again() {
    let hub = MockHub::start(|req, i| {
        let (method, params) = req.call();
        match (i, method.as_str()) {
            (_, "login") => {
                let renew = params.last().and_then(|kw| kw.get("renew")).is_some();
                Reply::value(login_reply(if renew { 26 } else { 25 }, KEY, Some(true)))
            }
            (1, _) => Reply::fault(1007, "session expired"),
            _ => Reply::value(Value::Int(1)),
        }
    })
    .await;
    let s = ClientSession::new(&hub.url, fast_opts()).expect("session");
    s.login("osbuild", PASSWORD).await.expect("login");
    assert_eq!(s.get_api_version().await.expect("renewed"), 1);
    let reqs = hub.requests();
    let methods: Vec<String> = reqs.iter().map(Req::method).collect();
    assert_eq!(
        methods,
        ["login", "getAPIVersion", "login", "getAPIVersion"]
    );
    let (_, params) = reqs[2].call();
    assert_eq!(params[2].get("renew"), Some(&Value::Bool(true)));
    // The renewal carries the old session so the hub can renew it.
    assert_eq!(reqs[2].header("Koji-Session-Id"), Some("25"));
    assert_eq!(reqs[3].header("Koji-Session-Id"), Some("26"));
    assert_eq!(reqs[3].header("Koji-Session-Callnum"), Some("0"));
    assert!(!format!("{s:?}").contains(PASSWORD));
}

#[tokio::test]
async fn multicall_mixes_results_and_faults() {
    let hub = MockHub::start(|req, _| {
        let (method, params) = req.call();
        assert_eq!(method, "multiCall");
        let calls = params[0].as_array().expect("calls").to_vec();
        let results = calls
            .iter()
            .map(|c| match c.get("methodName").and_then(Value::as_str) {
                Some("getBuildTarget") => {
                    koji::Fault::new(1000, "No such build target: NOPE").to_value()
                }
                _ => Value::Array(vec![Value::Int(11)]),
            })
            .collect();
        Reply::value(Value::Array(results))
    })
    .await;
    let s = resumed(&hub, true);
    let calls = vec![
        koji::Call::new("getAPIVersion", vec![]),
        koji::Call::with_kwargs(
            "getBuildTarget",
            vec!["NOPE".into()],
            koji::kwargs([("strict", true)]),
        ),
    ];
    let results = s.multi_call(&calls).await.expect("multicall");
    assert_eq!(results[0], Ok(Value::Int(11)));
    let fault = results[1].clone().expect_err("fault");
    assert_eq!(fault.kind(), FaultKind::GenericError);
    let (_, params) = hub.requests()[0].call();
    assert_eq!(
        params[0].as_array().expect("calls")[1].get("params"),
        Some(&Value::Array(vec![
            "NOPE".into(),
            Value::from_pairs([("strict", true), ("__starstar", true)])
        ]))
    );
}

/// A hub that keeps uploaded files and answers rawUpload/checkUpload like
/// the real one; `corrupt` makes it report a wrong digest for chunk 2.
fn upload_hub(corrupt: bool) -> impl Fn(&Req, usize) -> Reply + Send + Sync + 'static {
    let store = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    move |req, _| {
        let mut file = store.lock().expect("store");
        if req.method() == "rawUpload" {
            let offset: usize = req.query["offset"].parse().expect("offset");
            if req.query.contains_key("overwrite") {
                file.truncate(offset);
            }
            assert_eq!(file.len(), offset, "chunks arrive in order");
            file.extend_from_slice(&req.body);
            let mut digest = koji::upload::adler32_hex(&req.body);
            if corrupt && offset > 0 {
                digest = "deadbeef".into();
            }
            return Reply::value(Value::from_pairs([
                ("size", Value::Int(req.body.len() as i64)),
                ("fileverify", Value::from("adler32")),
                ("offset", Value::Int(offset as i64)),
                ("hexdigest", Value::from(digest)),
            ]));
        }
        let (method, _) = req.call();
        assert_eq!(method, "checkUpload");
        Reply::value(Value::from_pairs([
            ("size", Value::Int(file.len() as i64)),
            ("mtime", Value::Double(1.0)),
            ("sumlength", Value::Int(file.len() as i64)),
            ("hexdigest", Value::from(koji::upload::adler32_hex(&file))),
        ]))
    }
}

#[tokio::test]
async fn uploads_go_in_verified_chunks() {
    let hub = MockHub::start(upload_hub(false)).await;
    let s = resumed(&hub, true);
    let data: Vec<u8> = (0..25u8).collect();
    let opts = UploadOptions {
        blocksize: Some(10),
        overwrite: true,
        ..UploadOptions::default()
    };
    s.upload_bytes(&data, &koji::taskrelpath(11), "compose-status.json", &opts)
        .await
        .expect("upload");
    let reqs = hub.requests();
    assert_eq!(reqs.len(), 4);
    for (i, r) in reqs[..3].iter().enumerate() {
        assert_eq!(r.header("Content-Type"), Some("application/octet-stream"));
        assert_eq!(r.path, "/kojihub");
        assert_eq!(
            r.raw_query,
            format!("filename=compose-status.json&filepath=tasks%2F11%2F11&fileverify=adler32&offset={}&overwrite=1", i * 10)
        );
        assert_eq!(r.body, data[i * 10..(i * 10 + 10).min(25)]);
        assert_eq!(
            r.header("Koji-Session-Callnum"),
            Some((5 + i).to_string().as_str())
        );
    }
    let (method, params) = reqs[3].call();
    assert_eq!(method, "checkUpload");
    assert_eq!(params[0], Value::from("tasks/11/11"));
    assert_eq!(params[2].get("verify"), Some(&Value::from("adler32")));
}

#[tokio::test]
async fn upload_in_chunks_and_of_an_empty_file() {
    let hub = MockHub::start(upload_hub(false)).await;
    let s = resumed(&hub, false);
    let opts = UploadOptions {
        blocksize: Some(10),
        ..UploadOptions::default()
    };
    s.upload_bytes(
        &[7u8; 30],
        "osbuild-cg/abc",
        "x86_64-guest-image.log.json",
        &opts,
    )
    .await
    .expect("upload");
    let reqs = hub.requests();
    assert_eq!(
        reqs.len(),
        4,
        "3 full chunks and checkUpload: {:?}",
        reqs.iter().map(|r| &r.raw_query).collect::<Vec<_>>()
    );
    // Without header-auth the session goes after the upload options.
    assert_eq!(
        reqs[0].raw_query,
        format!("filename=x86_64-guest-image.log.json&filepath=osbuild-cg%2Fabc&fileverify=adler32&offset=0&session-id=27&session-key={KEY}&callnum=5")
    );

    let hub = MockHub::start(upload_hub(false)).await;
    let s = resumed(&hub, true);
    s.upload_bytes(b"", "tasks/1/1", "empty.json", &UploadOptions::default())
        .await
        .expect("empty");
    let reqs = hub.requests();
    assert_eq!(reqs.len(), 1, "one rawUpload proves a one-chunk file");
    assert!(reqs[0].body.is_empty());
}

#[tokio::test]
async fn a_one_chunk_upload_needs_no_check_upload() {
    let hub = MockHub::start(upload_hub(false)).await;
    let s = resumed(&hub, true);
    let opts = UploadOptions {
        overwrite: true,
        ..UploadOptions::default()
    };
    s.upload_bytes(
        b"{\"status\": \"pending\"}",
        "tasks/1/1",
        "compose-status.json",
        &opts,
    )
    .await
    .expect("upload");
    let reqs = hub.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].header("Content-Type"),
        Some("application/octet-stream")
    );
}

#[tokio::test]
async fn corrupt_chunk_digest_fails_the_upload() {
    let hub = MockHub::start(upload_hub(true)).await;
    let s = resumed(&hub, true);
    let opts = UploadOptions {
        blocksize: Some(4),
        ..UploadOptions::default()
    };
    let err = s
        .upload_bytes(b"0123456789", "tasks/1/1", "a.json", &opts)
        .await
        .expect_err("corrupt");
    match &err {
        koji::Error::Upload {
            path,
            name,
            message,
        } => {
            assert_eq!((path.as_str(), name.as_str()), ("tasks/1/1", "a.json"));
            assert!(message.contains("deadbeef"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(hub.requests().len(), 2, "stops at the bad chunk");
}

#[tokio::test]
async fn uploads_need_a_session() {
    let hub = MockHub::start(upload_hub(false)).await;
    let s = ClientSession::new(&hub.url, fast_opts()).expect("session");
    let err = s
        .upload_bytes(b"x", "tasks/1/1", "a", &UploadOptions::default())
        .await
        .expect_err("anon");
    assert!(matches!(err, koji::Error::NotLoggedIn(_)));
    assert!(hub.requests().is_empty());
}

#[tokio::test]
async fn exclusive_subsession_logout() {
    let hub = MockHub::start(|req, _| {
        let (method, _) = req.call();
        match method.as_str() {
            "subsession" => Reply::value(login_reply(99, "3-childkeychildkey12", Some(true))),
            _ => Reply::value(Value::Nil),
        }
    })
    .await;
    let s = resumed(&hub, true);
    s.exclusive_session(true).await.expect("exclusive");
    assert!(s.is_exclusive());
    let child = s.subsession().await.expect("subsession");
    assert_eq!(
        child.session_info().map(|i| (i.id, i.callnum)),
        Some((99, 0))
    );
    child.call("host.getID", vec![]).await.expect("child call");
    s.call("logoutChild", vec![99.into()])
        .await
        .expect("logoutChild");
    s.logout().await.expect("logout");
    assert!(!s.is_logged_in());
    s.logout().await.expect("second logout is a no-op");

    let reqs = hub.requests();
    let methods: Vec<String> = reqs.iter().map(Req::method).collect();
    assert_eq!(
        methods,
        [
            "exclusiveSession",
            "subsession",
            "host.getID",
            "logoutChild",
            "logout"
        ]
    );
    assert_eq!(
        reqs[0].call().1,
        vec![Value::from_pairs([("force", true), ("__starstar", true)])]
    );
    assert_eq!(reqs[2].header("Koji-Session-Id"), Some("99"));
    assert_eq!(reqs[3].call().1, vec![Value::Int(99)]);
    assert_eq!(
        reqs[4].call().1,
        vec![Value::from_pairs([
            ("session_id", Value::Nil),
            ("__starstar", Value::Bool(true))
        ])]
    );
}

#[tokio::test]
async fn logout_falls_back_for_old_hubs_and_ignores_expiry() {
    let hub = MockHub::start(|req, _| {
        let (_, params) = req.call();
        if params.is_empty() {
            Reply::fault(1007, "expired")
        } else {
            Reply::fault(
                1019,
                "logout() got an unexpected keyword argument 'session_id'",
            )
        }
    })
    .await;
    let s = resumed(&hub, true);
    s.logout().await.expect("expiry ignored");
    assert!(!s.is_logged_in());
    assert_eq!(hub.requests().len(), 2);
}

#[test]
fn session_info_reads_the_cli_plugin_pipe_format() {
    let json = format!(
        r#"{{"session-id": 27, "session-key": "{KEY}", "callnum": 12, "header-auth": true}}"#
    );
    let info: SessionInfo = serde_json::from_str(&json).expect("plugin JSON");
    assert_eq!((info.id, info.callnum, info.header_auth), (27, 12, true));
    assert!(!format!("{info:?}").contains(KEY));
}

#[tokio::test]
async fn calls_on_one_session_are_serialized_in_callnum_order() {
    let hub = MockHub::start(|_, _| Reply::value(Value::Nil)).await;
    let s = resumed(&hub, true);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.call("host.getHostTasks", vec![]).await
        }));
    }
    for t in tasks {
        t.await.expect("join").expect("call");
    }
    let nums: Vec<u64> = hub
        .requests()
        .iter()
        .map(|r| {
            r.header("Koji-Session-Callnum")
                .expect("callnum")
                .parse()
                .expect("num")
        })
        .collect();
    let want: Vec<u64> = (5..25).collect();
    assert_eq!(nums, want, "the hub saw callnums in order");
}

#[tokio::test]
async fn the_observer_hears_every_try_and_subsessions_share_it() {
    let hub = MockHub::start(|req, i| match (req.call().0.as_str(), i) {
        (_, 0) => Reply::Drop,
        ("subsession", _) => Reply::value(login_reply(31, KEY, Some(true))),
        ("getBuildTarget", _) => Reply::fault(1000, "No such build target: nope"),
        _ => Reply::value(Value::Int(1)),
    })
    .await;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = seen.clone();
    let observer = koji::Observer::new(move |method, outcome| {
        let outcome = outcome.map_err(|e| match e {
            koji::Error::Fault { kind, .. } => kind.to_string(),
            koji::Error::Transport { .. } => "transport".to_string(),
            other => format!("{other:?}"),
        });
        s.lock().unwrap().push((method.to_string(), outcome));
    });
    let info = SessionInfo {
        id: 27,
        key: KEY.into(),
        callnum: 5,
        header_auth: true,
    };
    let opts = Options {
        observer: Some(observer),
        ..fast_opts()
    };
    let session = ClientSession::resume(&hub.url, opts, info).expect("session");
    assert_eq!(session.get_api_version().await.expect("second try"), 1);
    let sub = session.subsession().await.expect("subsession");
    sub.get_build_target("nope", true).await.expect_err("fault");
    let seen = seen.lock().unwrap().clone();
    let want: Vec<(String, Result<(), String>)> = vec![
        ("getAPIVersion".into(), Err("transport".into())),
        ("getAPIVersion".into(), Ok(())),
        ("subsession".into(), Ok(())),
        ("getBuildTarget".into(), Err("GenericError".into())),
    ];
    assert_eq!(seen, want);
}
