//! The client against real HTTP(S) on 127.0.0.1: upstream's test_builder.py
//! client scenarios (OAuth, token expiry, 401 retry, proxy, 5xx retries,
//! certificates) plus the API round trips.

mod harness;
mod scenarios;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{ClientOptions, RetryPolicy};
use harness::{json, text, Reply, Req};

pub const CLIENT_ID: &str = "koji-osbuild";
pub const CLIENT_SECRET: &str = "s3cr3t-do-not-log";
pub const API: &str = "/api/image-builder-composer/v2";

/// Fast retries so that tests take milliseconds.
pub fn fast_retry(max_retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        backoff_factor: Duration::from_millis(1),
        max_backoff: Duration::from_millis(10),
    }
}

pub fn options(server: &str) -> ClientOptions {
    ClientOptions {
        retry: fast_retry(2),
        env_proxy: false,
        timeout: Some(Duration::from_secs(20)),
        ..ClientOptions::new(server)
    }
}

/// A composer like upstream's MockComposer, with an optional SSO token
/// endpoint at /token that behaves like upstream's mock (checks the client
/// credentials form, issues UUID-like tokens with `expires_in`).
#[derive(Default)]
pub struct MockComposer {
    pub oauth: bool,
    pub expires_in: u64,
    /// Tokens composer rejects even though the SSO issued them (revoked,
    /// or expired by composer's clock).
    pub reject_tokens_issued_before: usize,
    pub always_unauthorized: bool,
    pub token_status: Option<(u16, &'static str)>,
    state: Mutex<MockState>,
}

#[derive(Default)]
struct MockState {
    issued: Vec<(String, Instant)>,
    composes: HashMap<String, Value>,
    statuses: Vec<Value>,
    unauthorized: usize,
}

impl MockComposer {
    pub fn tokens_issued(&self) -> usize {
        self.state.lock().unwrap().issued.len()
    }

    pub fn unauthorized_answers(&self) -> usize {
        self.state.lock().unwrap().unauthorized
    }

    /// Status documents GET /composes/{id} returns in turn (the last repeats).
    pub fn script_statuses(&self, statuses: Vec<Value>) {
        self.state.lock().unwrap().statuses = statuses;
    }

    pub fn handle(&self, req: &Req) -> Reply {
        if req.path == "/token" {
            return self.token(req);
        }
        if let Some(reply) = self.check_auth(req) {
            return reply;
        }
        let path = req.path.strip_prefix(API).unwrap_or(&req.path);
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (req.method.as_str(), parts.as_slice()) {
            ("POST", ["compose"]) => {
                if req.header("content-type") != Some("application/json") {
                    return text(400, "Bad Request");
                }
                let body = req.json();
                let Some(ireqs) = body["image_requests"].as_array().filter(|a| !a.is_empty())
                else {
                    return json(
                        400,
                        json!({
                            "href": "/api/image-builder-composer/v2/errors/4", "id": "4",
                            "kind": "Error", "code": "IMAGE-BUILDER-COMPOSER-4",
                            "reason": "Unsupported distribution", "operation_id": "op-1"
                        }),
                    );
                };
                let n = ireqs.len();
                let id = format!(
                    "43e57e63-ab32-4a8d-854d-3bbc117fd{:03}",
                    self.state.lock().unwrap().composes.len()
                );
                self.state
                    .lock()
                    .unwrap()
                    .composes
                    .insert(id.clone(), json!(n));
                json(
                    201,
                    json!({"href": format!("{API}/compose"), "id": id, "kind": "ComposeId"}),
                )
            }
            ("GET", ["composes", id]) => {
                let mut state = self.state.lock().unwrap();
                if !state.composes.contains_key(*id) {
                    return json(
                        404,
                        json!({"id": "15", "kind": "Error", "href": "/e/15",
                        "code": "IMAGE-BUILDER-COMPOSER-15", "reason": "Compose with given id not found",
                        "operation_id": "op-2"}),
                    );
                }
                if state.statuses.len() > 1 {
                    let next = state.statuses.remove(0);
                    return json(200, next);
                }
                if let Some(last) = state.statuses.first() {
                    return json(200, last.clone());
                }
                json(
                    200,
                    json!({
                        "href": format!("{API}/composes/{id}"), "id": id, "kind": "ComposeStatus",
                        "status": "success",
                        "image_status": {"status": "success"},
                        "image_statuses": [{"status": "success"}],
                        "koji_status": {"build_id": 1}
                    }),
                )
            }
            ("GET", ["composes", _id, "logs"]) => json(
                200,
                json!({
                    "href": "/l", "id": "1", "kind": "ComposeLogs",
                    "image_builds": [{"osbuild": "log log log"}],
                    "koji": {"init": {"log": "yes, please!"}, "import": {"log": "yes, indeed!"}}
                }),
            ),
            ("GET", ["composes", _id, "manifests"]) => json(
                200,
                json!({
                    "href": "/m", "id": "1", "kind": "ComposeManifests",
                    "manifests": [{"sources": {}, "pipelines": []}]
                }),
            ),
            ("DELETE", ["composes", id]) => json(
                200,
                json!({
                    "href": format!("{API}/composes/{id}"), "id": id, "kind": "ComposeDeleteStatus"
                }),
            ),
            _ => text(404, "no such route"),
        }
    }

    fn token(&self, req: &Req) -> Reply {
        if let Some((status, body)) = self.token_status {
            return text(status, body);
        }
        if req.method != "POST"
            || req.form_value("grant_type").as_deref() != Some("client_credentials")
        {
            return text(400, "Invalid grant type");
        }
        if req.form_value("client_id").as_deref() != Some(CLIENT_ID)
            || req.form_value("client_secret").as_deref() != Some(CLIENT_SECRET)
        {
            return text(400, "Invalid credentials");
        }
        let mut state = self.state.lock().unwrap();
        let token = format!("token-{}-{:x}", state.issued.len(), rand_u64());
        state.issued.push((token.clone(), Instant::now()));
        json(
            200,
            json!({
                "access_token": token,
                "expires_in": self.expires_in,
                "token_type": "Bearer",
                "scope": "profile email"
            }),
        )
    }

    fn check_auth(&self, req: &Req) -> Option<Reply> {
        if !self.oauth {
            return None;
        }
        let mut state = self.state.lock().unwrap();
        let valid = req.bearer().and_then(|t| {
            state
                .issued
                .iter()
                .position(|(issued, _)| issued == t)
                .map(|i| (i, state.issued[i].1))
        });
        let ok = match valid {
            None => false,
            Some((index, created)) => {
                !self.always_unauthorized
                    && index >= self.reject_tokens_issued_before
                    && (self.expires_in == 0
                        || created.elapsed() < Duration::from_secs(self.expires_in))
            }
        };
        if ok {
            None
        } else {
            state.unauthorized += 1;
            Some(text(401, "Unauthorized"))
        }
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(Instant::now().elapsed().as_nanos() as u64);
    h.finish()
}

pub fn mock(
    composer: MockComposer,
) -> (
    Arc<MockComposer>,
    impl Fn(&Req) -> Reply + Send + Sync + 'static,
) {
    let composer = Arc::new(composer);
    let handler = composer.clone();
    (composer, move |req: &Req| handler.handle(req))
}
