//! The cloud API v2 client: one [`Client`] per composer, cheap to clone and
//! share between many concurrent composes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, RequestBuilder};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use tokio::sync::Mutex;
use url::Url;

use crate::api::{
    ApiError, ComposeDeleteStatus, ComposeId, ComposeLogs, ComposeManifests, ComposeRequest,
    ComposeStatus,
};
use crate::error::{chain, Error};
use crate::oauth::{self, OAuthCredentials, Token};
use crate::retry::RetryPolicy;
use crate::tls::{self, ClientCert, SslVerify};

/// Where the v2 API lives below the server URL (upstream's `API_BASE`).
pub const API_BASE: &str = "api/image-builder-composer/v2/";

/// How often upstream polls a compose's status (`wait_for_compose(sleep_time=2)`).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Everything needed to talk to one composer. The builder fills it in from
/// builder.conf (`[composer]`, `[composer:oauth]`) or the command line; this
/// crate reads no configuration file itself.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Base URL, e.g. `https://composer.example.com`; the API URL is this
    /// joined with [`API_BASE`] (RFC 3986 resolution, like upstream's urljoin).
    pub server: String,
    pub ssl_cert: Option<ClientCert>,
    pub ssl_verify: SslVerify,
    /// Used for composer and token requests, HTTP and HTTPS alike. A value
    /// without a scheme means `http://` (as requests does).
    pub proxy: Option<String>,
    pub oauth: Option<OAuthCredentials>,
    pub retry: RetryPolicy,
    pub connect_timeout: Duration,
    /// Limit for one attempt of one request; `None` waits forever (requests'
    /// default, which a daemon should not copy).
    pub timeout: Option<Duration>,
    /// Without a configured proxy, honour `HTTPS_PROXY`/`NO_PROXY`... from
    /// the environment, as requests does.
    pub env_proxy: bool,
    /// Called before each pause of the retry policy, for a caller that
    /// shows retries (the compose commands); this crate prints nothing.
    pub on_retry: Option<OnRetry>,
    /// Told of every request's outcome (each try, token requests too), e.g.
    /// for a caller's metrics; this crate keeps no counts itself.
    pub observer: Option<Observer>,
}

/// How one HTTP request ended, for an [`Observer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exchange {
    /// An answer with this status.
    Answered(u16),
    /// No answer; `certificate`: a TLS certificate problem.
    Failed { certificate: bool },
}

/// The callback of [`ClientOptions::observer`]: the HTTP method and how the
/// request ended. It runs on the caller's task, so it must be quick.
#[derive(Clone)]
pub struct Observer(Arc<ObserveFn>);

type ObserveFn = dyn Fn(&str, Exchange) + Send + Sync;

impl Observer {
    /// An observer calling `f`.
    pub fn new(f: impl Fn(&str, Exchange) + Send + Sync + 'static) -> Self {
        Observer(Arc::new(f))
    }
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Observer(..)")
    }
}

/// A request failed and goes again after a pause.
#[derive(Debug, Clone, PartialEq)]
pub struct Retrying {
    pub method: String,
    pub url: String,
    /// The attempt that failed, from 1, of `attempts` in all.
    pub attempt: u32,
    pub attempts: u32,
    /// Why: the connection error, or composer's HTTP status.
    pub reason: String,
    pub pause: Duration,
}

impl std::fmt::Display for Retrying {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} failed (attempt {} of {}): {}; retrying in {:.1} s",
            self.method,
            self.url,
            self.attempt,
            self.attempts,
            self.reason,
            self.pause.as_secs_f64()
        )
    }
}

/// The callback of [`ClientOptions::on_retry`].
#[derive(Clone)]
pub struct OnRetry(pub Arc<dyn Fn(&Retrying) + Send + Sync>);

impl std::fmt::Debug for OnRetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnRetry(..)")
    }
}

impl ClientOptions {
    /// Options for `server` with upstream's defaults: verify against the
    /// system CAs, no client cert, no OAuth, the stand-alone retry policy.
    pub fn new(server: impl Into<String>) -> Self {
        ClientOptions {
            server: server.into(),
            ssl_cert: None,
            ssl_verify: SslVerify::Enabled,
            proxy: None,
            oauth: None,
            retry: RetryPolicy::STANDALONE,
            connect_timeout: Duration::from_secs(30),
            timeout: Some(Duration::from_secs(300)),
            env_proxy: true,
            on_retry: None,
            observer: None,
        }
    }
}

/// A client for osbuild-composer's cloud API v2.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    server: String,
    api: Url,
    retry: RetryPolicy,
    on_retry: Option<OnRetry>,
    observer: Option<Observer>,
    oauth: Option<OAuth>,
}

struct OAuth {
    credentials: OAuthCredentials,
    token_url: Url,
    token: Mutex<Option<Token>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.inner.server)
            .field("api", &self.inner.api.as_str())
            .field("retry", &self.inner.retry)
            .field(
                "oauth_token_url",
                &self.inner.oauth.as_ref().map(|o| o.token_url.as_str()),
            )
            .finish_non_exhaustive()
    }
}

/// An HTTP answer, read in full.
struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    /// The body as text for error messages (lossy: bodies are meant to be
    /// UTF-8 JSON or plain text, but a proxy's error page may not be).
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).trim().to_string()
    }
}

impl Client {
    /// Build a client. Reads the certificate and CA files now, so a bad
    /// path fails here rather than on the first request.
    pub fn new(options: ClientOptions) -> Result<Self, Error> {
        let api = api_url(&options.server)?;

        let mut builder = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .user_agent(concat!("koji-osbuild/", env!("CARGO_PKG_VERSION")));
        if let Some(timeout) = options.timeout {
            builder = builder.timeout(timeout);
        }
        let identity = options.ssl_cert.as_ref().map(ClientCert::load);
        let tls = tls::client_config(identity.transpose()?, &options.ssl_verify)?;
        builder = builder.tls_backend_preconfigured(tls);

        // Upstream: `if proxy:`, and a proxy without a scheme is http://.
        if let Some(proxy) = options.proxy.as_deref().filter(|p| !p.is_empty()) {
            let url = if proxy.contains("://") {
                proxy.to_string()
            } else {
                format!("http://{proxy}")
            };
            let shown = redact_userinfo(&url);
            let proxy = reqwest::Proxy::all(&url).map_err(|e| Error::InvalidProxy {
                proxy: shown.clone(),
                reason: chain(&e),
            })?;
            tracing::debug!(proxy = %shown, "composer requests go through proxy");
            builder = builder.proxy(proxy);
        } else if !options.env_proxy {
            builder = builder.no_proxy();
        }

        let http = builder.build().map_err(Error::ClientBuild)?;

        let oauth = match options.oauth {
            None => None,
            Some(credentials) => {
                let token_url =
                    Url::parse(&credentials.token_url).map_err(|e| Error::InvalidUrl {
                        url: credentials.token_url.clone(),
                        reason: e.to_string(),
                    })?;
                tracing::debug!(token_url = %token_url, "using OAuth2 client credentials");
                let token = Mutex::new(None);
                Some(OAuth {
                    credentials,
                    token_url,
                    token,
                })
            }
        };

        Ok(Client {
            inner: Arc::new(Inner {
                http,
                server: options.server,
                api,
                retry: options.retry,
                on_retry: options.on_retry,
                observer: options.observer,
                oauth,
            }),
        })
    }

    /// The server URL as configured (what the task result reports).
    pub fn server(&self) -> &str {
        &self.inner.server
    }

    /// The API base URL, `<server>/api/image-builder-composer/v2/`.
    pub fn api_url(&self) -> &Url {
        &self.inner.api
    }

    /// POST /compose: start a compose, return its id.
    pub async fn compose_create(&self, request: &ComposeRequest) -> Result<String, Error> {
        let url = self.endpoint(&["compose"]);
        let body = request.to_json();
        let operation = "create the compose request";
        let id: ComposeId = self
            .call(operation, Method::POST, url, Some(&body), 201)
            .await?;
        Ok(id.id)
    }

    /// GET /composes/{id}, with the JSON composer sent as `raw`.
    pub async fn compose_status(&self, compose_id: &str) -> Result<ComposeStatus, Error> {
        let url = self.endpoint(&["composes", compose_id]);
        let WithRaw(status, raw) = self
            .call("get the compose status", Method::GET, url, None, 200)
            .await?;
        Ok(ComposeStatus { raw, ..status })
    }

    /// GET /composes/{id}/logs.
    pub async fn compose_logs(&self, compose_id: &str) -> Result<ComposeLogs, Error> {
        let url = self.endpoint(&["composes", compose_id, "logs"]);
        self.call("get the compose logs", Method::GET, url, None, 200)
            .await
    }

    /// GET /composes/{id}/manifests.
    pub async fn compose_manifests(&self, compose_id: &str) -> Result<ComposeManifests, Error> {
        let url = self.endpoint(&["composes", compose_id, "manifests"]);
        self.call("get the compose manifests", Method::GET, url, None, 200)
            .await
    }

    /// DELETE /composes/{id}.
    pub async fn compose_delete(&self, compose_id: &str) -> Result<ComposeDeleteStatus, Error> {
        let url = self.endpoint(&["composes", compose_id]);
        self.call("delete the compose", Method::DELETE, url, None, 200)
            .await
    }

    /// Poll the compose every `interval` until it is finished; call
    /// `on_change` with the first status and with each status that differs
    /// from the one before (the builder attaches compose-status.json then).
    /// A failing status request ends the wait with its error, as upstream.
    pub async fn wait_for_compose<F>(
        &self,
        compose_id: &str,
        interval: Duration,
        mut on_change: F,
    ) -> Result<ComposeStatus, Error>
    where
        F: FnMut(&ComposeStatus),
    {
        let mut watch = self.watch_compose(compose_id, interval);
        loop {
            let status = watch.change().await?;
            on_change(&status);
            if status.is_finished() {
                return Ok(status);
            }
        }
    }

    /// A poller that yields a compose's status each time it changes; for
    /// callers that need to do async work on each change.
    pub fn watch_compose(&self, compose_id: &str, interval: Duration) -> ComposeWatch {
        ComposeWatch {
            client: self.clone(),
            compose_id: compose_id.to_string(),
            interval,
            jitter: 0.0,
            last: None,
            failed: false,
        }
    }

    fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.api.clone();
        // Segments are percent-encoded, so an odd compose id cannot step
        // out of the API path.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    async fn call<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
        body: Option<&Value>,
        expected: u16,
    ) -> Result<T, Error> {
        let reply = self.request(&method, &url, body).await?;
        if reply.status != expected {
            let text = reply.text();
            return Err(Error::Api {
                operation,
                method: method.to_string(),
                url: url.to_string(),
                status: reply.status,
                error: ApiError::from_body(&text).map(Box::new),
                body: text,
            });
        }
        let invalid = |reason: String| Error::InvalidResponse {
            method: method.to_string(),
            url: url.to_string(),
            status: reply.status,
            reason,
            body: reply.text(),
        };
        let raw: Value =
            serde_json::from_slice(&reply.body).map_err(|e| invalid(format!("not JSON: {e}")))?;
        T::deserialize(raw).map_err(|e| invalid(e.to_string()))
    }

    /// One API request with upstream's auth behaviour: a current token is
    /// sent; on 401 a new token is fetched and the request sent once more.
    /// The 401 retry exists because a token that was valid when sent can
    /// have expired by the time composer checks it.
    async fn request(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&Value>,
    ) -> Result<Reply, Error> {
        let Some(oauth) = &self.inner.oauth else {
            return self.send(method, url, body, None).await;
        };
        let (token, used) = self.token(oauth, None).await?;
        let reply = self.send(method, url, body, Some(&token)).await?;
        if reply.status != 401 {
            return Ok(reply);
        }
        tracing::debug!(method = %method, url = %url, "401 from composer, fetching a new token");
        let (fresh, _) = self.token(oauth, Some(used)).await?;
        self.send(method, url, body, Some(&fresh)).await
    }

    /// The token to send and its generation: the one held, unless it has
    /// expired or is the one composer just rejected (`rejected`), else a
    /// new one. Holding the lock across the fetch makes concurrent requests
    /// wait for one token instead of each fetching their own; after a 401,
    /// a token another request already fetched is taken as it is.
    async fn token(&self, oauth: &OAuth, rejected: Option<u64>) -> Result<(String, u64), Error> {
        let mut slot = oauth.token.lock().await;
        let token = match &*slot {
            Some(t) if !t.expired() && Some(t.generation) != rejected => t,
            held => {
                let generation = held.as_ref().map_or(0, |t| t.generation) + 1;
                slot.insert(self.fetch_token(oauth, generation).await?)
            }
        };
        Ok((token.access.expose().to_string(), token.generation))
    }

    async fn fetch_token(&self, oauth: &OAuth, generation: u64) -> Result<Token, Error> {
        let created = Instant::now();
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", oauth.credentials.client_id.as_str()),
            ("client_secret", oauth.credentials.client_secret.expose()),
        ];
        let url = &oauth.token_url;
        // The token request is safe to repeat, so 5xx and dropped
        // connections are retried like a GET.
        let reply = self
            .with_retries(&Method::POST, url, true, || {
                self.inner.http.post(url.clone()).form(&form)
            })
            .await?;
        if reply.status != 200 {
            return Err(Error::OAuth {
                token_url: url.to_string(),
                status: reply.status,
                body: oauth::mask(&reply.text(), &oauth.credentials.client_secret),
            });
        }
        oauth::parse_token(&reply.body, created, generation).map_err(|reason| Error::OAuth {
            token_url: url.to_string(),
            status: reply.status,
            body: format!("unusable answer from {url}: {reason}"),
        })
    }

    /// Send with retries: 500/502/503/504 and dropped connections are
    /// retried for GET and DELETE; POST /compose only when the connection
    /// could not be made, since a repeated POST could start a second
    /// compose (urllib3 does not retry POST either).
    async fn send(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&Value>,
        bearer: Option<&str>,
    ) -> Result<Reply, Error> {
        let idempotent = matches!(*method, Method::GET | Method::DELETE | Method::HEAD);
        self.with_retries(method, url, idempotent, || {
            let mut request = self.inner.http.request(method.clone(), url.clone());
            if let Some(token) = bearer {
                request = request.bearer_auth(token);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            request
        })
        .await
    }

    /// Sends the request `build` makes until it gets an answer to keep,
    /// under the client's retry policy; `idempotent` requests may go again
    /// after any failure, others only when the connection was refused.
    async fn with_retries(
        &self,
        method: &Method,
        url: &Url,
        idempotent: bool,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Reply, Error> {
        let policy = &self.inner.retry;
        let mut retries = 0u32;
        loop {
            let attempt = retries + 1;
            let outcome = read_reply(build()).await;
            if let Some(Observer(observer)) = &self.inner.observer {
                let exchange = match &outcome {
                    Ok(reply) => Exchange::Answered(reply.status),
                    Err(e) => Exchange::Failed {
                        certificate: certificate_hint(&transport_cause(e)).is_some(),
                    },
                };
                observer(method.as_str(), exchange);
            }
            let pause = match outcome {
                Ok(reply) => {
                    tracing::debug!(method = %method, url = %url, status = reply.status, attempt, "composer request");
                    let retry = idempotent && RetryPolicy::retries_status(reply.status);
                    if !retry || retries >= policy.max_retries {
                        return Ok(reply);
                    }
                    retries += 1;
                    let pause =
                        retry_after(&reply, policy).unwrap_or_else(|| policy.backoff(retries));
                    self.retrying(
                        method,
                        url,
                        attempt,
                        format!("HTTP {}", reply.status),
                        pause,
                    );
                    tracing::warn!(
                        method = %method, url = %url, status = reply.status,
                        retry = retries, max_retries = policy.max_retries,
                        pause_ms = pause.as_millis() as u64,
                        "server error, retrying"
                    );
                    pause
                }
                Err(e) => {
                    let cause = transport_cause(&e);
                    let hint = certificate_hint(&cause);
                    let detail = format!("{cause}{}", hint.unwrap_or(""));
                    // A refused connection never reached the server; anything
                    // later may have, so only repeatable requests go again. A
                    // certificate problem fails the same way on every try (15
                    // tries with backoff would hide it for minutes): report it.
                    let retry = hint.is_none() && (e.is_connect() || idempotent);
                    tracing::debug!(method = %method, url = %url, attempt, error = %detail, "composer request failed");
                    if !retry || retries >= policy.max_retries {
                        return Err(Error::Transport {
                            method: method.to_string(),
                            url: url.to_string(),
                            attempts: attempt,
                            detail,
                            source: e,
                        });
                    }
                    retries += 1;
                    let pause = policy.backoff(retries);
                    self.retrying(method, url, attempt, detail.clone(), pause);
                    tracing::warn!(
                        method = %method, url = %url, error = %detail,
                        retry = retries, max_retries = policy.max_retries,
                        pause_ms = pause.as_millis() as u64,
                        "connection error, retrying"
                    );
                    pause
                }
            };
            tokio::time::sleep(pause).await;
        }
    }

    /// Tells the `on_retry` callback, if any, about the retry to come.
    fn retrying(&self, method: &Method, url: &Url, attempt: u32, reason: String, pause: Duration) {
        if let Some(OnRetry(callback)) = &self.inner.on_retry {
            callback(&Retrying {
                method: method.to_string(),
                url: url.to_string(),
                attempt,
                attempts: self.inner.retry.max_retries.saturating_add(1),
                reason,
                pause,
            });
        }
    }
}

/// The causes of a transport error on one line. reqwest's own top-level
/// message only repeats the URL, which the error already names.
fn transport_cause(error: &reqwest::Error) -> String {
    match std::error::Error::source(error) {
        Some(source) => chain(source),
        None => error.to_string(),
    }
}

/// What to do about a certificate problem the configuration can fix, if
/// the transport error is one.
fn certificate_hint(cause: &str) -> Option<&'static str> {
    if cause.contains("invalid peer certificate") {
        Some(" (composer's certificate is not trusted: point ssl_verify at its CA file or directory)")
    } else if [
        "CertificateRequired",
        "BadCertificate",
        "UnknownCA",
        "CertificateUnknown",
    ]
    .iter()
    .any(|alert| cause.contains(alert))
    {
        Some(" (composer did not accept our client certificate: check ssl_cert)")
    } else {
        None
    }
}

async fn read_reply(request: RequestBuilder) -> Result<Reply, reqwest::Error> {
    let response = request.send().await?;
    Ok(Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.bytes().await?.to_vec(),
    })
}

/// urllib3 honours `Retry-After` on 503 (seconds form); we do too, capped
/// by `max_backoff` so a confused proxy cannot park a task for hours.
fn retry_after(reply: &Reply, policy: &RetryPolicy) -> Option<Duration> {
    if reply.status != 503 {
        return None;
    }
    let header = reply.headers.get(RETRY_AFTER)?.to_str().ok()?;
    let secs: u64 = header.trim().parse().ok()?;
    Some(Duration::from_secs(secs).min(policy.max_backoff))
}

fn api_url(server: &str) -> Result<Url, Error> {
    let invalid = |reason: String| Error::InvalidUrl {
        url: server.to_string(),
        reason,
    };
    let base = Url::parse(server).map_err(|e| invalid(e.to_string()))?;
    if !matches!(base.scheme(), "http" | "https") || base.host().is_none() {
        return Err(invalid(
            "expected an http:// or https:// URL with a host".into(),
        ));
    }
    base.join(API_BASE).map_err(|e| invalid(e.to_string()))
}

fn redact_userinfo(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// A response read together with the JSON it was read from.
struct WithRaw<T>(T, Value);

impl<'de, T: DeserializeOwned> Deserialize<'de> for WithRaw<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Value::deserialize(d)?;
        let parsed = T::deserialize(&raw).map_err(serde::de::Error::custom)?;
        Ok(WithRaw(parsed, raw))
    }
}

/// Yields a compose's status each time it changes; see
/// [`Client::watch_compose`].
pub struct ComposeWatch {
    client: Client,
    compose_id: String,
    interval: Duration,
    /// Spread of the pauses (0: every pause is `interval`).
    jitter: f64,
    /// The status returned last.
    last: Option<ComposeStatus>,
    /// The last poll failed: the caller has chosen its own pause.
    failed: bool,
}

impl ComposeWatch {
    /// Spread the polls of many watches: the first poll waits a random part
    /// of the interval, and every pause is the interval scaled by a random
    /// factor in `1 ± fraction`. Thousands of composes followed at once
    /// (a builder restart resumes them all together) then do not poll
    /// composer in lockstep.
    pub fn jittered(mut self, fraction: f64) -> Self {
        self.jitter = fraction;
        self
    }

    /// Wait for the next status that differs from the last one returned (the
    /// first call returns the current status). `None` once a finished status
    /// was returned. An error is returned as is; calling again polls again
    /// at once, without the interval's pause: after an error the caller
    /// decides how long to wait.
    pub async fn next_change(&mut self) -> Option<Result<ComposeStatus, Error>> {
        if self.last.as_ref().is_some_and(ComposeStatus::is_finished) {
            return None;
        }
        Some(self.change().await)
    }

    async fn change(&mut self) -> Result<ComposeStatus, Error> {
        loop {
            let pause = match (&self.last, self.failed) {
                (_, true) => Duration::ZERO,
                (Some(_), false) => crate::retry::jittered(self.interval, self.jitter),
                (None, false) if self.jitter > 0.0 => crate::retry::random_offset(self.interval),
                (None, false) => Duration::ZERO,
            };
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            let status = self.client.compose_status(&self.compose_id).await;
            self.failed = status.is_err();
            let status = status?;
            if self.last.as_ref().is_none_or(|last| last.raw != status.raw) {
                self.last = Some(status.clone());
                return Ok(status);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_url_like_urljoin() {
        assert_eq!(
            api_url("https://localhost").unwrap().as_str(),
            "https://localhost/api/image-builder-composer/v2/"
        );
        assert_eq!(
            api_url("https://h:8443/prefix/").unwrap().as_str(),
            "https://h:8443/prefix/api/image-builder-composer/v2/"
        );
        // urljoin drops a last path segment without trailing slash; so do we
        assert_eq!(
            api_url("https://h/prefix").unwrap().as_str(),
            "https://h/api/image-builder-composer/v2/"
        );
        assert!(api_url("localhost").is_err());
        assert!(api_url("ftp://h").is_err());
    }

    #[test]
    fn endpoints_encode_ids() {
        let client = Client::new(ClientOptions::new("https://h")).unwrap();
        assert_eq!(
            client.endpoint(&["composes", "abc", "logs"]).as_str(),
            "https://h/api/image-builder-composer/v2/composes/abc/logs"
        );
        assert_eq!(
            client.endpoint(&["composes", "../x"]).as_str(),
            "https://h/api/image-builder-composer/v2/composes/..%2Fx"
        );
    }

    #[test]
    fn proxy_credentials_are_not_shown() {
        assert_eq!(
            redact_userinfo("http://user:pw@proxy:3128"),
            "http://proxy:3128/"
        );
        assert_eq!(redact_userinfo("http://proxy:3128"), "http://proxy:3128");
    }
}
