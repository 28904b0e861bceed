//! The simulator binary as a client sees it: the cloud API, OAuth, faults,
//! cancel and TLS with client certificates.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{client, koji_compose, plain_compose, sim, wait_finished};

async fn post_compose(c: &reqwest::Client, s: &support::Proc, body: &Value) -> (u16, Value) {
    let r = c
        .post(s.api("/compose"))
        .json(body)
        .send()
        .await
        .expect("POST /compose");
    let status = r.status().as_u16();
    (status, r.json().await.expect("json answer"))
}

async fn stats(c: &reqwest::Client, s: &support::Proc) -> Value {
    c.get(format!("{}/_sim/stats", s.url()))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats json")
}

async fn set_faults(c: &reqwest::Client, s: &support::Proc, faults: Value) -> Value {
    let r = c
        .post(format!("{}/_sim/faults", s.url()))
        .json(&faults)
        .send()
        .await
        .expect("faults");
    assert_eq!(r.status(), 200);
    r.json().await.expect("faults json")
}

#[tokio::test]
async fn a_compose_goes_from_pending_to_success() {
    let s = sim(&["--compose-duration", "1s"]);
    let c = client();
    let (status, created) = post_compose(&c, &s, &plain_compose("x86_64")).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["kind"], "ComposeId");
    assert_eq!(created["href"], "/api/image-builder-composer/v2/compose");
    let id = created["id"].as_str().expect("id").to_owned();
    uuid::Uuid::parse_str(&id).expect("the id is a UUID");

    let st: Value = c
        .get(s.api(&format!("/composes/{id}")))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(st["status"], "pending");
    assert_eq!(st["kind"], "ComposeStatus");

    let st = wait_finished(&c, &s, &id, Duration::from_secs(20)).await;
    assert_eq!(st["status"], "success", "{st}");
    assert_eq!(st["image_status"]["status"], "success");
    assert_eq!(st["image_status"]["upload_status"]["type"], "aws.s3");
    // the composer client library reads what the simulator writes
    let parsed: composer::ComposeStatus = serde_json::from_value(st).expect("ComposeStatus");
    assert!(parsed.is_success());

    let logs: Value = c
        .get(s.api(&format!("/composes/{id}/logs")))
        .send()
        .await
        .expect("logs")
        .json()
        .await
        .expect("json");
    assert_eq!(logs["image_builds"].as_array().map(Vec::len), Some(1));
    assert_eq!(logs["image_builds"][0]["success"], true);
    let manifests: Value = c
        .get(s.api(&format!("/composes/{id}/manifests")))
        .send()
        .await
        .expect("manifests")
        .json()
        .await
        .expect("json");
    assert_eq!(manifests["manifests"][0]["version"], "2");

    let st = stats(&c, &s).await;
    assert_eq!(st["composes_created"], 1);
    assert!(st["status_polls"].as_u64().unwrap_or(0) >= 2);
    assert_eq!(st["requests"]["POST /compose"], 1);
    assert_eq!(st["logs_requests"], 1);
}

#[tokio::test]
async fn invalid_requests_get_composers_error_json() {
    let s = sim(&[]);
    let c = client();
    let mut unknown_type = koji_compose("http://127.0.0.1:1/kojihub", &["x86_64"], "1");
    unknown_type["image_requests"][0]["image_type"] = json!("floppy-disk");
    let mut unknown_arch = koji_compose("http://127.0.0.1:1/kojihub", &["x86_64"], "1");
    unknown_arch["image_requests"][0]["architecture"] = json!("sparc64");
    let mut no_task_id = koji_compose("http://127.0.0.1:1/kojihub", &["x86_64"], "1");
    no_task_id["koji"]
        .as_object_mut()
        .expect("koji")
        .remove("task_id");
    let mut no_koji = koji_compose("http://127.0.0.1:1/kojihub", &["x86_64"], "1");
    no_koji.as_object_mut().expect("request").remove("koji");
    let mut no_repos = koji_compose("http://127.0.0.1:1/kojihub", &["x86_64"], "1");
    no_repos["image_requests"][0]
        .as_object_mut()
        .expect("ir")
        .remove("repositories");

    for (body, code, mentions) in [
        (unknown_type, "IMAGE-BUILDER-COMPOSER-30", "floppy-disk"),
        (unknown_arch, "IMAGE-BUILDER-COMPOSER-5", "sparc64"),
        (no_task_id, "IMAGE-BUILDER-COMPOSER-30", "task_id"),
        (no_koji, "IMAGE-BUILDER-COMPOSER-38", "koji"),
        (no_repos, "IMAGE-BUILDER-COMPOSER-30", "repositories"),
    ] {
        let (status, err) = post_compose(&c, &s, &body).await;
        assert_eq!(status, 400, "{err}");
        assert_eq!(err["kind"], "Error");
        assert_eq!(err["code"], code, "{err}");
        assert!(err["href"]
            .as_str()
            .unwrap_or_default()
            .starts_with("/api/image-builder-composer/v2/errors/"));
        assert!(err["operation_id"].is_string());
        assert!(
            err["details"]
                .as_str()
                .unwrap_or_default()
                .contains(mentions),
            "{err}"
        );
    }

    let r = c
        .post(s.api("/compose"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.expect("json")["code"],
        "IMAGE-BUILDER-COMPOSER-20"
    );

    let r = c
        .post(s.api("/compose"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 415);

    let st = stats(&c, &s).await;
    assert_eq!(st["composes_created"], 0);
    assert_eq!(st["composes_rejected"], 7);
}

#[tokio::test]
async fn unknown_composes_and_routes() {
    let s = sim(&[]);
    let c = client();
    let missing = uuid::Uuid::new_v4();
    for path in [
        format!("/composes/{missing}"),
        format!("/composes/{missing}/logs"),
        format!("/composes/{missing}/manifests"),
    ] {
        let r = c.get(s.api(&path)).send().await.expect("get");
        assert_eq!(r.status(), 404, "{path}");
        let e: Value = r.json().await.expect("json");
        assert_eq!(e["code"], "IMAGE-BUILDER-COMPOSER-15");
        assert_eq!(e["reason"], "Compose with given id not found");
    }
    let r = c
        .delete(s.api(&format!("/composes/{missing}")))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 404);

    let r = c
        .get(s.api("/composes/not-a-uuid"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.expect("json")["code"],
        "IMAGE-BUILDER-COMPOSER-14"
    );

    let r = c.get(s.api("/no/such/thing")).send().await.expect("get");
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.expect("json")["code"],
        "IMAGE-BUILDER-COMPOSER-21"
    );

    let r = c.put(s.api("/compose")).send().await.expect("put");
    assert_eq!(r.status(), 405);
}

#[tokio::test]
async fn oauth_tokens_are_required_and_expire() {
    let s = sim(&[
        "--oauth-client-id",
        "sim-client",
        "--oauth-client-secret",
        "s3cret",
        "--token-lifetime",
        "2s",
    ]);
    let token_url = s.var("TOKEN_URL").to_owned();
    assert_eq!(token_url, format!("{}/token", s.url()));
    let c = client();
    let list = s.api("/composes/");

    let r = c.get(&list).send().await.expect("get");
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.expect("json")["code"],
        "IMAGE-BUILDER-COMPOSER-401"
    );

    let r = c
        .post(&token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "sim-client"),
            ("client_secret", "wrong"),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), 401);
    assert!(r.json::<Value>().await.expect("json")["error"].is_string());

    let token: Value = c
        .post(&token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "sim-client"),
            ("client_secret", "s3cret"),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["expires_in"], 2);
    let bearer = token["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned();

    let r = c.get(&list).bearer_auth(&bearer).send().await.expect("get");
    assert_eq!(r.status(), 200);
    let r = c
        .get(&list)
        .bearer_auth("made-up")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 401);

    tokio::time::sleep(Duration::from_millis(2300)).await;
    let r = c.get(&list).bearer_auth(&bearer).send().await.expect("get");
    assert_eq!(r.status(), 401, "the token expired");

    // expiry on demand
    let token: Value = c
        .post(&token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "sim-client"),
            ("client_secret", "s3cret"),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let bearer = token["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned();
    assert_eq!(
        c.get(&list)
            .bearer_auth(&bearer)
            .send()
            .await
            .expect("get")
            .status(),
        200
    );
    set_faults(&c, &s, json!({"expire_tokens": true})).await;
    assert_eq!(
        c.get(&list)
            .bearer_auth(&bearer)
            .send()
            .await
            .expect("get")
            .status(),
        401
    );

    let st = stats(&c, &s).await;
    assert_eq!(st["token_requests"], 3);
    assert_eq!(st["token_failures"], 1);
    assert_eq!(st["unauthenticated"], 4);
}

#[tokio::test]
async fn fault_bursts_resets_and_delays() {
    let s = sim(&["--fail-next", "1", "--fail-status", "503"]);
    let c = client();
    let list = s.api("/composes/");
    let r = c.get(&list).send().await.expect("get");
    assert_eq!(r.status(), 503, "the command line burst");
    assert_eq!(
        r.json::<Value>().await.expect("json")["code"],
        "IMAGE-BUILDER-COMPOSER-10000"
    );
    assert_eq!(c.get(&list).send().await.expect("get").status(), 200);

    let f = set_faults(&c, &s, json!({"fail_next": 2, "fail_status": 500})).await;
    assert_eq!(f["fail_next"], 2);
    assert_eq!(c.get(&list).send().await.expect("get").status(), 500);
    assert_eq!(c.get(&list).send().await.expect("get").status(), 500);
    assert_eq!(c.get(&list).send().await.expect("get").status(), 200);

    set_faults(&c, &s, json!({"reset_next": 1})).await;
    let r = c.get(&list).send().await;
    assert!(
        r.is_err(),
        "the connection is closed without an answer: {r:?}"
    );
    assert_eq!(c.get(&list).send().await.expect("get").status(), 200);

    set_faults(&c, &s, json!({"delay": "400ms"})).await;
    let t = Instant::now();
    assert_eq!(c.get(&list).send().await.expect("get").status(), 200);
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );

    let f = set_faults(&c, &s, json!({"reset": true})).await;
    assert_eq!(f["delay"], "0ms");
    assert_eq!(f["fail_next"], 1, "reset restores the command line faults");

    let r = c
        .post(format!("{}/_sim/faults", s.url()))
        .json(&json!({"fail_status": 404}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 400);

    let st = stats(&c, &s).await;
    assert_eq!(st["injected_failures"], 3);
    assert_eq!(st["injected_resets"], 1);
}

#[tokio::test]
async fn a_failing_arch_fails_its_compose() {
    let s = sim(&["--compose-duration", "200ms"]);
    let c = client();
    set_faults(&c, &s, json!({"fail_arch": "aarch64"})).await;
    let (_, ok) = post_compose(&c, &s, &plain_compose("x86_64")).await;
    let (_, bad) = post_compose(&c, &s, &plain_compose("aarch64")).await;
    let ok = wait_finished(
        &c,
        &s,
        ok["id"].as_str().expect("id"),
        Duration::from_secs(20),
    )
    .await;
    let bad = wait_finished(
        &c,
        &s,
        bad["id"].as_str().expect("id"),
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(ok["status"], "success");
    assert_eq!(bad["status"], "failure");
    assert_eq!(bad["image_status"]["error"]["id"], 10);
    assert!(bad["image_status"]["error"]["details"]
        .as_str()
        .unwrap_or_default()
        .contains("aarch64"));
}

#[tokio::test]
async fn koji_compose_with_an_unreachable_hub_fails_with_koji_init_error() {
    let s = sim(&[
        "--compose-duration",
        "100ms",
        "--koji-user",
        "osbuild",
        "--koji-password",
        "pw",
    ]);
    let c = client();
    let (status, created) = post_compose(
        &c,
        &s,
        &koji_compose("http://127.0.0.1:1/kojihub", &["x86_64"], "1"),
    )
    .await;
    assert_eq!(status, 201);
    let id = created["id"].as_str().expect("id");
    let st = wait_finished(&c, &s, id, Duration::from_secs(60)).await;
    assert_eq!(st["status"], "failure");
    assert_eq!(st["image_statuses"][0]["error"]["id"], 15);
    assert_eq!(st["koji_status"], json!({}));
    let logs: Value = c
        .get(s.api(&format!("/composes/{id}/logs")))
        .send()
        .await
        .expect("logs")
        .json()
        .await
        .expect("json");
    assert!(
        logs["koji"]["init"]["koji_error"]
            .as_str()
            .unwrap_or_default()
            .contains("127.0.0.1:1"),
        "{logs}"
    );
    assert!(
        !logs.to_string().contains("\"pw\""),
        "no password in the logs"
    );
}

#[tokio::test]
async fn delete_cancels_a_pending_compose() {
    let s = sim(&["--compose-duration", "60s"]);
    let c = client();
    let (_, created) = post_compose(&c, &s, &plain_compose("x86_64")).await;
    let id = created["id"].as_str().expect("id");
    let r = c
        .delete(s.api(&format!("/composes/{id}")))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 200);
    let d: Value = r.json().await.expect("json");
    assert_eq!(d["kind"], "ComposeDeleteStatus");
    assert_eq!(d["id"], id);
    let st = wait_finished(&c, &s, id, Duration::from_secs(5)).await;
    assert_eq!(st["status"], "failure");
    let st = stats(&c, &s).await;
    assert_eq!(st["cancels"], 1);
    assert_eq!(st["canceled_composes"], json!([id]));
    let composes: Value = c
        .get(format!("{}/_sim/composes", s.url()))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(composes[0]["canceled"], true);
    assert_eq!(composes[0]["request"]["distribution"], "fedora-42");
}

#[tokio::test]
async fn tls_requires_a_client_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = support::make_certs(dir.path());
    let p = |k: &str| certs[k].to_str().expect("utf-8 path").to_owned();
    let s = sim(&[
        "--tls-cert",
        &p("server.crt"),
        "--tls-key",
        &p("server.key"),
        "--client-ca",
        &p("ca.crt"),
    ]);
    assert!(s.url().starts_with("https://127.0.0.1:"));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&certs["ca.crt"]).expect("ca"))
        .expect("ca cert");
    let mut pem = std::fs::read(&certs["client.crt"]).expect("client cert");
    pem.extend(std::fs::read(&certs["client.key"]).expect("client key"));
    let identity = reqwest::Identity::from_pem(&pem).expect("identity");

    let with_cert = reqwest::Client::builder()
        .tls_backend_rustls()
        .tls_certs_only([ca.clone()])
        .identity(identity)
        .build()
        .expect("client");
    let r = with_cert
        .get(s.api("/composes/"))
        .send()
        .await
        .expect("a client with a certificate gets in");
    assert_eq!(r.status(), 200);

    let without_cert = reqwest::Client::builder()
        .tls_backend_rustls()
        .tls_certs_only([ca])
        .build()
        .expect("client");
    let r = without_cert.get(s.api("/composes/")).send().await;
    assert!(
        r.is_err(),
        "a client without a certificate is refused: {r:?}"
    );
}

#[tokio::test]
async fn sigterm_stops_it_cleanly() {
    let mut s = sim(&[]);
    let status = s.stop().expect("it was running");
    assert!(status.success(), "{status:?}");
}
