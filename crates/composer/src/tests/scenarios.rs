use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use super::harness::{json, text, Pki, Proxy, Reply, Server};
use super::*;
use crate::{
    Client, ClientCert, ComposeRequest, ComposeStatusValue, Error, ImageRequest, Koji,
    OAuthCredentials, Repository, Secret, SslVerify,
};

fn request() -> ComposeRequest {
    ComposeRequest::koji(
        "fedora-40",
        vec![ImageRequest::new(
            "x86_64",
            "guest-image",
            vec![
                Repository::new("http://1.repo"),
                Repository::new("https://2.repo"),
            ],
        )],
        Koji {
            name: "name".into(),
            version: "version".into(),
            release: "1".into(),
            server: "https://localhost/kojihub".into(),
            task_id: 1,
        },
    )
}

fn oauth(server: &Server) -> Option<OAuthCredentials> {
    Some(OAuthCredentials {
        client_id: CLIENT_ID.into(),
        client_secret: Secret::new(CLIENT_SECRET),
        token_url: format!("{}/token", server.url),
    })
}

/// Create, wait, fetch manifests and logs: what the builder does per task.
async fn run_compose(client: &Client) -> Result<(), Error> {
    let id = client.compose_create(&request()).await?;
    let status = client
        .wait_for_compose(&id, Duration::from_millis(1), |_| {})
        .await?;
    assert!(status.is_success());
    client.compose_manifests(&id).await?;
    client.compose_logs(&id).await?;
    Ok(())
}

// ---- API round trips -------------------------------------------------------

#[tokio::test]
async fn compose_create_posts_the_request_and_returns_the_id() {
    let (_mock, handler) = mock(MockComposer::default());
    let server = Server::http(handler).await;
    let client = Client::new(options(&server.url)).unwrap();
    let id = client.compose_create(&request()).await.unwrap();
    assert_eq!(id, "43e57e63-ab32-4a8d-854d-3bbc117fd000");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].path, format!("{API}/compose"));
    assert_eq!(reqs[0].header("content-type"), Some("application/json"));
    assert_eq!(reqs[0].json(), request().to_json());
    assert_eq!(reqs[0].header("authorization"), None);
}

#[tokio::test]
async fn compose_create_400_carries_composers_error() {
    let (_mock, handler) = mock(MockComposer::default());
    let server = Server::http(handler).await;
    let client = Client::new(options(&server.url)).unwrap();
    let mut bad = request();
    bad.image_requests = None;
    let err = client.compose_create(&bad).await.unwrap_err();
    assert_eq!(err.status(), Some(400));
    let api = err.api_error().expect("composer's error object");
    assert_eq!(api.code, "IMAGE-BUILDER-COMPOSER-4");
    assert_eq!(api.reason, "Unsupported distribution");
    let msg = err.to_string();
    assert!(
        msg.starts_with("Failed to create the compose request: POST "),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("{}{API}/compose returned 400", server.url)),
        "{msg}"
    );
    assert!(
        msg.contains("Unsupported distribution (code IMAGE-BUILDER-COMPOSER-4, operation op-1)"),
        "{msg}"
    );
    // 4xx is not retried
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn plain_text_errors_keep_the_body() {
    let server = Server::http(|_| text(400, "Unsupported Image Type: 'nope'")).await;
    let client = Client::new(options(&server.url)).unwrap();
    let err = client.compose_create(&request()).await.unwrap_err();
    assert!(err.api_error().is_none());
    assert!(
        err.to_string()
            .ends_with("returned 400: Unsupported Image Type: 'nope'"),
        "{err}"
    );
    match err {
        Error::Api { body, .. } => assert_eq!(body, "Unsupported Image Type: 'nope'"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn status_logs_manifests_and_delete() {
    let (mock, handler) = mock(MockComposer::default());
    let server = Server::http(handler).await;
    let client = Client::new(options(&server.url)).unwrap();
    let id = client.compose_create(&request()).await.unwrap();

    let raw = json!({
        "href": format!("{API}/composes/{id}"), "id": id, "kind": "ComposeStatus",
        "status": "pending",
        "image_status": {"status": "uploading"},
        "image_statuses": [{"status": "uploading", "upload_status": {
            "status": "running", "type": "aws", "options": {"ami": "", "region": "eu-west-1"}}}],
        "koji_status": {}
    });
    mock.script_statuses(vec![raw.clone()]);
    let status = client.compose_status(&id).await.unwrap();
    assert_eq!(status.status, ComposeStatusValue::Pending);
    assert!(!status.is_finished());
    assert_eq!(status.koji_build_id(), None);
    assert_eq!(status.raw, raw);

    let logs = client.compose_logs(&id).await.unwrap();
    assert_eq!(logs.image_builds, vec![json!({"osbuild": "log log log"})]);
    assert_eq!(logs.koji_init(), Some(&json!({"log": "yes, please!"})));
    assert_eq!(logs.koji_import(), Some(&json!({"log": "yes, indeed!"})));

    let manifests = client.compose_manifests(&id).await.unwrap();
    assert_eq!(
        manifests.manifests,
        vec![json!({"sources": {}, "pipelines": []})]
    );

    let deleted = client.compose_delete(&id).await.unwrap();
    assert_eq!(deleted.id, id);
    assert_eq!(deleted.kind, "ComposeDeleteStatus");

    let err = client.compose_status("unknown").await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(
        err.to_string()
            .starts_with("Failed to get the compose status:"),
        "{err}"
    );
    assert!(
        err.to_string().contains("Compose with given id not found"),
        "{err}"
    );
}

#[tokio::test]
async fn unparsable_success_answer_is_an_error() {
    let server = Server::http(|_| text(200, "<html>proxy says hi</html>")).await;
    let client = Client::new(options(&server.url)).unwrap();
    let err = client.compose_status("x").await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidResponse { status: 200, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("proxy says hi"), "{err}");
}

#[tokio::test]
async fn wait_for_compose_reports_only_changes() {
    let (mock, handler) = mock(MockComposer::default());
    let server = Server::http(handler).await;
    let client = Client::new(options(&server.url)).unwrap();
    let id = client.compose_create(&request()).await.unwrap();
    let pending = |image: &str| {
        json!({"status": "pending", "image_status": {"status": image},
                                       "image_statuses": [{"status": image}]})
    };
    mock.script_statuses(vec![
        pending("building"),
        pending("building"),
        pending("building"),
        pending("uploading"),
        pending("uploading"),
        json!({"status": "success", "image_status": {"status": "success"},
               "image_statuses": [{"status": "success"}], "koji_status": {"build_id": 42}}),
    ]);
    let mut seen = Vec::new();
    let status = client
        .wait_for_compose(&id, Duration::from_millis(1), |s| {
            seen.push(s.images()[0].status.to_string())
        })
        .await
        .unwrap();
    assert_eq!(seen, ["building", "uploading", "success"]);
    assert!(status.is_success());
    assert_eq!(status.koji_build_id(), Some(42));
    assert_eq!(server.count(&format!("{API}/composes/{id}")), 6);

    // the watch API ends after the finished status
    let mut watch = client.watch_compose(&id, Duration::from_millis(1));
    assert!(watch.next_change().await.unwrap().unwrap().is_finished());
    assert!(watch.next_change().await.is_none());
}

// ---- OAuth ---------------------------------------------------------------

#[tokio::test]
async fn oauth_basic_token_sent_as_bearer() {
    let (mock, handler) = mock(MockComposer {
        oauth: true,
        expires_in: 300,
        ..Default::default()
    });
    let server = Server::http(handler).await;
    let client = Client::new(ClientOptions {
        oauth: oauth(&server),
        ..options(&server.url)
    })
    .unwrap();
    run_compose(&client).await.unwrap();
    assert_eq!(
        mock.tokens_issued(),
        1,
        "one token serves the whole compose"
    );
    assert_eq!(mock.unauthorized_answers(), 0);
    let reqs = server.requests();
    let token_reqs: Vec<_> = reqs.iter().filter(|r| r.path == "/token").collect();
    assert_eq!(token_reqs.len(), 1);
    assert_eq!(
        token_reqs[0].header("authorization"),
        None,
        "no bearer to the SSO"
    );
    assert_eq!(
        token_reqs[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    for r in reqs.iter().filter(|r| r.path != "/token") {
        assert!(
            r.bearer().is_some_and(|t| t.starts_with("token-0-")),
            "{r:?}"
        );
    }
}

#[tokio::test]
async fn oauth_failure_is_a_clear_error_without_secrets() {
    let (mock, handler) = mock(MockComposer {
        oauth: true,
        token_status: Some((401, "{\"error\": \"invalid_client\"}")),
        ..Default::default()
    });
    let server = Server::http(handler).await;
    let client = Client::new(ClientOptions {
        oauth: oauth(&server),
        ..options(&server.url)
    })
    .unwrap();
    let err = client.compose_create(&request()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Failed to authenticate via SSO/OAuth: {\"error\": \"invalid_client\"}"
    );
    assert_eq!(err.status(), Some(401));
    assert!(!format!("{err:?}").contains(CLIENT_SECRET));
    assert!(!format!("{client:?}").contains(CLIENT_SECRET));
    assert_eq!(
        server.count(&format!("{API}/compose")),
        0,
        "nothing sent to composer"
    );
    assert_eq!(mock.tokens_issued(), 0);
}

#[tokio::test]
async fn oauth_error_body_echoing_the_secret_is_masked() {
    let server = Server::http(|req: &Req| {
        let secret = req.form_value("client_secret").unwrap_or_default();
        text(400, &format!("bad secret {secret}"))
    })
    .await;
    let client = Client::new(ClientOptions {
        oauth: oauth(&server),
        ..options(&server.url)
    })
    .unwrap();
    let err = client.compose_status("x").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Failed to authenticate via SSO/OAuth: bad secret <redacted>"
    );
}

#[tokio::test]
async fn token_endpoint_hiccups_are_retried() {
    let (mock, handler) = mock(MockComposer {
        oauth: true,
        expires_in: 300,
        ..Default::default()
    });
    let failed_once = AtomicUsize::new(0);
    let server = Server::http(move |req: &Req| {
        if req.path == "/token" && failed_once.fetch_add(1, Ordering::SeqCst) == 0 {
            return text(503, "sso restarting");
        }
        handler(req)
    })
    .await;
    let client = Client::new(ClientOptions {
        oauth: oauth(&server),
        ..options(&server.url)
    })
    .unwrap();
    client.compose_create(&request()).await.unwrap();
    assert_eq!(server.count("/token"), 2);
    assert_eq!(mock.tokens_issued(), 1);
}

#[tokio::test]
async fn oauth_token_expiring_mid_compose_is_refreshed_before_use() {
    let (mock, handler) = mock(MockComposer {
        oauth: true,
        expires_in: 1,
        ..Default::default()
    });
    let server = Server::http(handler).await;
    let client = Client::new(ClientOptions {
        oauth: oauth(&server),
        ..options(&server.url)
    })
    .unwrap();
    let id = client.compose_create(&request()).await.unwrap();
    assert_eq!(mock.tokens_issued(), 1);
    // the token runs out while the compose is building
    tokio::time::sleep(Duration::from_millis(1100)).await;
    client.compose_status(&id).await.unwrap();
    assert_eq!(mock.tokens_issued(), 2, "a new token was fetched");
    assert_eq!(
        mock.unauthorized_answers(),
        0,
        "the expired token was never sent"
    );
}

#[tokio::test]
async fn oauth_401_fetches_a_new_token_and_retries_once() {
    // Composer rejects the first token (it expired by composer's clock while
    // the request travelled, as in upstream's test_oauth2_delay).
    let (mock, handler) = mock(MockComposer {
        oauth: true,
        expires_in: 300,
        reject_tokens_issued_before: 1,
        ..Default::default()
    });
    let server = Server::http(handler).await;
    let client = Client::new(ClientOptions {
        oauth: oauth(&server),
        ..options(&server.url)
    })
    .unwrap();
    let id = client.compose_create(&request()).await.unwrap();
    assert_eq!(mock.tokens_issued(), 2);
    assert_eq!(mock.unauthorized_answers(), 1);
    assert_eq!(server.count(&format!("{API}/compose")), 2);
    // the new token keeps working
    client.compose_status(&id).await.unwrap();
    assert_eq!(mock.tokens_issued(), 2);
}

#[tokio::test]
async fn oauth_401_retry_happens_only_once() {
    let (mock, handler) = mock(MockComposer {
        oauth: true,
        expires_in: 300,
        always_unauthorized: true,
        ..Default::default()
    });
    let server = Server::http(handler).await;
    let client = Client::new(ClientOptions {
        oauth: oauth(&server),
        ..options(&server.url)
    })
    .unwrap();
    let err = client.compose_status("x").await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(err.to_string().contains("Unauthorized"), "{err}");
    assert_eq!(server.count(&format!("{API}/composes/x")), 2);
    assert_eq!(mock.tokens_issued(), 2);
}

#[tokio::test]
async fn concurrent_requests_share_one_token() {
    let (mock, handler) = mock(MockComposer {
        oauth: true,
        expires_in: 300,
        ..Default::default()
    });
    let server = Server::http(handler).await;
    let client = Client::new(ClientOptions {
        oauth: oauth(&server),
        ..options(&server.url)
    })
    .unwrap();
    let id = client.compose_create(&request()).await.unwrap();
    let fresh = Client::new(ClientOptions {
        oauth: oauth(&server),
        ..options(&server.url)
    })
    .unwrap();
    let calls = (0..8).map(|_| {
        let (client, id) = (fresh.clone(), id.clone());
        async move { client.compose_status(&id).await }
    });
    for r in futures_join_all(calls).await {
        r.unwrap();
    }
    assert_eq!(mock.tokens_issued(), 2, "one token per client");
}

async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

// ---- proxy ---------------------------------------------------------------

#[tokio::test]
async fn proxy_carries_composer_and_token_requests_http() {
    let (mock, handler) = mock(MockComposer {
        oauth: true,
        expires_in: 300,
        ..Default::default()
    });
    let server = Server::http(handler).await;
    let proxy = Proxy::start().await;
    let client = Client::new(ClientOptions {
        oauth: oauth(&server),
        proxy: Some(proxy.url.clone()),
        ..options(&server.url)
    })
    .unwrap();
    run_compose(&client).await.unwrap();
    // as upstream's test_proxy_http: token, create, status, manifests, logs
    assert_eq!(proxy.count(), 5, "{:?}", proxy.seen.lock().unwrap());
    assert_eq!(mock.tokens_issued(), 1);
    assert!(proxy.seen.lock().unwrap()[0].starts_with(&format!("POST {}/token", server.url)));
}

#[tokio::test]
async fn proxy_tunnels_https_with_connect() {
    let pki = Pki::new();
    let (mock, handler) = mock(MockComposer {
        oauth: true,
        expires_in: 300,
        ..Default::default()
    });
    let server = Server::https(pki.server_tls(false), handler).await;
    let proxy = Proxy::start().await;
    // A proxy given without scheme means http:// (requests does the same).
    let proxy_without_scheme = proxy.url.trim_start_matches("http://").to_string();
    let client = Client::new(ClientOptions {
        oauth: oauth(&server),
        proxy: Some(proxy_without_scheme),
        ssl_verify: SslVerify::CaPath(pki.ca_file.clone()),
        ..options(&server.url)
    })
    .unwrap();
    run_compose(&client).await.unwrap();
    let seen = proxy.seen.lock().unwrap().clone();
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|s| s.starts_with("CONNECT 127.0.0.1:")),
        "{seen:?}"
    );
    assert_eq!(mock.tokens_issued(), 1);
    // every request reached composer through a tunnel
    assert_eq!(proxy.count(), server.requests().len(), "{seen:?}");
}

// ---- retries -------------------------------------------------------------

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let server = Server::http(move |_| match c.fetch_add(1, Ordering::SeqCst) {
        0 => text(500, "oops"),
        1 => text(502, "bad gateway"),
        2 => text(503, "unavailable"),
        3 => text(504, "gateway timeout"),
        _ => json(
            200,
            json!({"status": "success", "image_status": {"status": "success"}}),
        ),
    })
    .await;
    let client = Client::new(ClientOptions {
        retry: fast_retry(4),
        ..options(&server.url)
    })
    .unwrap();
    let status = client.compose_status("x").await.unwrap();
    assert!(status.is_success());
    assert_eq!(calls.load(Ordering::SeqCst), 5);
}

#[tokio::test]
async fn server_errors_give_up_after_max_retries_with_the_body() {
    let server = Server::http(|_| text(500, "database on fire")).await;
    let client = Client::new(ClientOptions {
        retry: fast_retry(2),
        ..options(&server.url)
    })
    .unwrap();
    let err = client.compose_logs("x").await.unwrap_err();
    assert_eq!(server.requests().len(), 3, "first try and two retries");
    assert_eq!(err.status(), Some(500));
    assert!(
        err.to_string()
            .starts_with("Failed to get the compose logs: GET "),
        "{err}"
    );
    assert!(
        err.to_string().ends_with("returned 500: database on fire"),
        "{err}"
    );
}

#[tokio::test]
async fn compose_create_is_not_repeated_on_server_errors() {
    // A repeated POST could start a second compose; urllib3 does not
    // retry POST on status either.
    let server = Server::http(|_| text(503, "busy")).await;
    let client = Client::new(ClientOptions {
        retry: fast_retry(5),
        ..options(&server.url)
    })
    .unwrap();
    let err = client.compose_create(&request()).await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn retry_after_is_honoured_on_503() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let server = Server::http(move |_| {
        if c.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::Http {
                status: 503,
                body: "later".into(),
                headers: vec![("Retry-After".into(), "1".into())],
            }
        } else {
            json(200, json!({"manifests": []}))
        }
    })
    .await;
    let client = Client::new(ClientOptions {
        retry: crate::RetryPolicy {
            max_retries: 1,
            backoff_factor: Duration::from_millis(1),
            // caps Retry-After: the test stays fast
            max_backoff: Duration::from_millis(20),
        },
        ..options(&server.url)
    })
    .unwrap();
    let started = std::time::Instant::now();
    client.compose_manifests("x").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(20));
    assert!(started.elapsed() < Duration::from_millis(900));
}

#[tokio::test]
async fn connection_resets_are_retried() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let server = Server::http(move |_| {
        if c.fetch_add(1, Ordering::SeqCst) < 2 {
            Reply::Drop
        } else {
            json(
                200,
                json!({"status": "failure", "image_statuses": [{"status": "failure",
                "error": {"id": 9, "reason": "osbuild failed"}}]}),
            )
        }
    })
    .await;
    let client = Client::new(ClientOptions {
        retry: fast_retry(3),
        ..options(&server.url)
    })
    .unwrap();
    let status = client.compose_status("x").await.unwrap();
    assert!(status.is_finished() && !status.is_success());
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn connection_reset_after_posting_a_compose_is_not_repeated() {
    let server = Server::http(|_| Reply::Drop).await;
    let client = Client::new(ClientOptions {
        retry: fast_retry(3),
        ..options(&server.url)
    })
    .unwrap();
    let err = client.compose_create(&request()).await.unwrap_err();
    assert!(
        matches!(err, Error::Transport { attempts: 1, .. }),
        "{err:?}"
    );
    assert!(err.is_transient(), "a reset is an outage: {err:?}");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn refused_connections_are_retried_then_reported() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let client = Client::new(ClientOptions {
        retry: fast_retry(2),
        ..options(&url)
    })
    .unwrap();
    // even POST: the request never left
    let err = client.compose_create(&request()).await.unwrap_err();
    match &err {
        Error::Transport {
            attempts,
            url: u,
            detail,
            ..
        } => {
            assert_eq!(*attempts, 3);
            assert!(u.starts_with(&url));
            assert!(detail.to_lowercase().contains("connect"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("failed after 3 attempt(s)"),
        "{err}"
    );
    assert!(err.is_transient(), "a refused connection is an outage");
}

#[tokio::test]
async fn on_retry_is_told_each_retry_with_attempt_reason_and_pause() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let client = Client::new(ClientOptions {
        retry: fast_retry(2),
        on_retry: Some(crate::OnRetry(Arc::new(move |r: &crate::Retrying| {
            s.lock().unwrap().push(r.clone())
        }))),
        ..options(&format!("http://127.0.0.1:{port}"))
    })
    .unwrap();
    client.compose_status("x").await.unwrap_err();
    let seen = seen.lock().unwrap().clone();
    let attempts: Vec<(u32, u32)> = seen.iter().map(|r| (r.attempt, r.attempts)).collect();
    assert_eq!(attempts, [(1, 3), (2, 3)], "no call after the last attempt");
    let line = seen[1].to_string();
    assert!(
        line.starts_with(&format!("GET http://127.0.0.1:{port}/api/image-builder-composer/v2/composes/x failed (attempt 2 of 3): "))
            && line.to_lowercase().contains("connect")
            && line.ends_with("; retrying in 0.0 s"),
        "{line}"
    );

    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let server = Server::http(move |_| {
        if c.fetch_add(1, Ordering::SeqCst) < 1 {
            text(503, "busy")
        } else {
            json(200, json!({"status": "pending", "image_statuses": []}))
        }
    })
    .await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let client = Client::new(ClientOptions {
        retry: fast_retry(2),
        on_retry: Some(crate::OnRetry(Arc::new(move |r: &crate::Retrying| {
            s.lock().unwrap().push(r.reason.clone())
        }))),
        ..options(&server.url)
    })
    .unwrap();
    client.compose_status("x").await.unwrap();
    assert_eq!(*seen.lock().unwrap(), ["HTTP 503"]);
}

// ---- TLS -----------------------------------------------------------------

async fn tls_server(pki: &Pki, require_client_cert: bool) -> Server {
    Server::https(pki.server_tls(require_client_cert), |_| {
        json(
            200,
            json!({"status": "pending", "image_status": {"status": "building"}}),
        )
    })
    .await
}

async fn status_with(options: ClientOptions) -> Result<(), Error> {
    Client::new(options)?.compose_status("x").await.map(|_| ())
}

#[tokio::test]
async fn client_cert_and_key_pair() {
    let pki = Pki::new();
    let server = tls_server(&pki, true).await;
    let cert = ClientCert::Pair {
        cert: pki.client_cert.clone(),
        key: pki.client_key.clone(),
    };
    status_with(ClientOptions {
        ssl_cert: Some(cert),
        ssl_verify: SslVerify::CaPath(pki.ca_file.clone()),
        ..options(&server.url)
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn client_cert_combined_pem() {
    let pki = Pki::new();
    let server = tls_server(&pki, true).await;
    status_with(ClientOptions {
        ssl_cert: Some(ClientCert::Combined(pki.client_combined.clone())),
        ssl_verify: SslVerify::CaPath(pki.ca_file.clone()),
        ..options(&server.url)
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn missing_client_cert_is_refused_by_the_server() {
    let pki = Pki::new();
    let server = tls_server(&pki, true).await;
    let err = status_with(ClientOptions {
        ssl_verify: SslVerify::CaPath(pki.ca_file.clone()),
        retry: fast_retry(0),
        ..options(&server.url)
    })
    .await
    .unwrap_err();
    assert!(!err.is_transient(), "certificate trouble does not pass");
    match err {
        Error::Transport { detail, .. } => assert!(detail.contains("check ssl_cert"), "{detail}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn ssl_verify_false_accepts_an_unknown_ca() {
    let pki = Pki::new();
    let server = tls_server(&pki, false).await;
    status_with(ClientOptions {
        ssl_verify: SslVerify::Disabled,
        ..options(&server.url)
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn ssl_verify_true_rejects_a_private_ca() {
    let pki = Pki::new();
    let server = tls_server(&pki, false).await;
    let err = status_with(ClientOptions {
        ssl_verify: SslVerify::Enabled,
        retry: fast_retry(0),
        ..options(&server.url)
    })
    .await
    .unwrap_err();
    assert!(!err.is_transient(), "certificate trouble does not pass");
    match err {
        Error::Transport { detail, .. } => {
            assert!(detail.contains("UnknownIssuer"), "{detail}");
            assert!(detail.contains("point ssl_verify at its CA"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn ssl_verify_ca_file_and_ca_directory() {
    let pki = Pki::new();
    let server = tls_server(&pki, false).await;
    status_with(ClientOptions {
        ssl_verify: SslVerify::CaPath(pki.ca_file.clone()),
        ..options(&server.url)
    })
    .await
    .unwrap();
    status_with(ClientOptions {
        ssl_verify: SslVerify::CaPath(pki.ca_dir.clone()),
        ..options(&server.url)
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn ssl_verify_ca_path_trusts_only_that_ca() {
    let pki = Pki::new();
    let other = Pki::new();
    let server = tls_server(&pki, false).await;
    let err = status_with(ClientOptions {
        ssl_verify: SslVerify::CaPath(other.ca_file.clone()),
        retry: fast_retry(0),
        ..options(&server.url)
    })
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(!err.is_transient(), "{err:?}");
}

#[test]
fn bad_tls_files_are_named() {
    let pki = Pki::new();
    let err = Client::new(ClientOptions {
        ssl_cert: Some(ClientCert::Combined("/nonexistent/cert.pem".into())),
        ..options("https://127.0.0.1:1")
    })
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot read certificate file /nonexistent/cert.pem:"),
        "{err}"
    );

    let err = Client::new(ClientOptions {
        ssl_verify: SslVerify::CaPath("/nonexistent/ca".into()),
        ..options("https://127.0.0.1:1")
    })
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot read CA file /nonexistent/ca:"),
        "{err}"
    );

    let empty = pki.dir.path().join("empty.d");
    std::fs::create_dir(&empty).unwrap();
    let err = Client::new(ClientOptions {
        ssl_verify: SslVerify::CaPath(empty.clone()),
        ..options("https://127.0.0.1:1")
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}: holds no PEM CA certificate", empty.display())
    );

    // a CA file where the key should be
    let err = Client::new(ClientOptions {
        ssl_cert: Some(ClientCert::Pair {
            cert: pki.client_cert.clone(),
            key: pki.ca_file.clone(),
        }),
        ..options("https://127.0.0.1:1")
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}: holds no PEM private key", pki.ca_file.display())
    );

    // the key of another certificate
    let other = Pki::new();
    let err = Client::new(ClientOptions {
        ssl_cert: Some(ClientCert::Pair {
            cert: pki.client_cert.clone(),
            key: other.client_key.clone(),
        }),
        ..options("https://127.0.0.1:1")
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: the private key does not belong to the certificate in {}",
            other.client_key.display(),
            pki.client_cert.display()
        )
    );

    // a certificate without its key
    let err = Client::new(ClientOptions {
        ssl_cert: Some(ClientCert::Combined(pki.client_cert.clone())),
        ..options("https://127.0.0.1:1")
    })
    .unwrap_err();
    assert!(err.to_string().contains("no private key"), "{err}");
}

// ---- logging -------------------------------------------------------------

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn debug_log_names_requests_but_never_secrets() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (mock, handler) = mock(MockComposer {
        oauth: true,
        expires_in: 300,
        reject_tokens_issued_before: 1,
        ..Default::default()
    });
    let server = Server::http(handler).await;
    let client = Client::new(ClientOptions {
        oauth: oauth(&server),
        ..options(&server.url)
    })
    .unwrap();
    run_compose(&client).await.unwrap();
    assert_eq!(mock.tokens_issued(), 2);

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("composer request"), "{log}");
    assert!(
        log.contains(&format!("url={}{API}/compose", server.url)),
        "{log}"
    );
    assert!(log.contains("status=201"), "{log}");
    assert!(log.contains("method=POST"), "{log}");
    assert!(!log.contains(CLIENT_SECRET), "secret in log");
    assert!(!log.contains("token-0-"), "token in log");
    assert!(!log.contains("token-1-"), "token in log");
}

#[tokio::test]
async fn observer_is_told_every_try_and_how_it_ended() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let server = Server::http(move |_| match c.fetch_add(1, Ordering::SeqCst) {
        0 => text(503, "busy"),
        1 => json(200, json!({"status": "pending", "image_statuses": []})),
        _ => text(404, "no such compose"),
    })
    .await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let observer = crate::Observer::new(move |method, exchange| {
        s.lock().unwrap().push((method.to_string(), exchange))
    });
    let client = Client::new(ClientOptions {
        retry: fast_retry(2),
        observer: Some(observer.clone()),
        ..options(&server.url)
    })
    .unwrap();
    client.compose_status("x").await.unwrap();
    client.compose_delete("x").await.unwrap_err();
    use crate::Exchange::{Answered, Failed};
    let get = |e| ("GET".to_string(), e);
    assert_eq!(
        *seen.lock().unwrap(),
        [
            get(Answered(503)),
            get(Answered(200)),
            ("DELETE".into(), Answered(404))
        ]
    );

    // No answer at all: a refused connection, not a certificate problem.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    seen.lock().unwrap().clear();
    let client = Client::new(ClientOptions {
        retry: fast_retry(0),
        observer: Some(observer),
        ..options(&format!("http://127.0.0.1:{port}"))
    })
    .unwrap();
    client.compose_status("x").await.unwrap_err();
    assert_eq!(*seen.lock().unwrap(), [get(Failed { certificate: false })]);
}
