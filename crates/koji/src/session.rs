//! `ClientSession`: one session with a Koji hub, as `koji.ClientSession`
//! keeps it: login, session id/key/callnum on every call, retries, logout.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{Error, Result};
use crate::fault::{Fault, FaultKind};
use crate::kerberos::{self, KerberosError, KerberosLogin, ServiceOptions};
use crate::value::{Struct, Value};
use crate::{kwargs, wire};

/// Client options, with the names and defaults of `koji.ClientSession`'s
/// `opts` (and koji.conf).
#[derive(Clone, Debug)]
pub struct Options {
    /// How many times a failed exchange is tried again (Koji: 30).
    pub max_retries: u32,
    /// The pause between retries; the first retry is immediate (Koji: 20 s).
    pub retry_interval: Duration,
    /// Retry calls of a session that is not logged in too (Koji: false).
    pub anon_retry: bool,
    /// Keep retrying while the hub answers ServerOffline (Koji: false).
    pub offline_retry: bool,
    /// The pause between ServerOffline retries (Koji: `retry_interval`).
    pub offline_retry_interval: Duration,
    /// Timeout of one HTTP exchange (Koji: 12 h).
    pub timeout: Duration,
    /// Timeout of the sslLogin exchange (Koji: 60 s).
    pub auth_timeout: Duration,
    /// Chunk size of uploads (Koji: 1 MiB).
    pub upload_blocksize: usize,
    /// CA bundle to verify the hub with, instead of the system's roots.
    pub serverca: Option<PathBuf>,
    /// Client certificate (PEM). May also hold the private key.
    pub cert: Option<PathBuf>,
    /// Private key of the client certificate (PEM), if not inside `cert`.
    pub key: Option<PathBuf>,
    /// Do not verify the hub's certificate (koji.conf `no_ssl_verify`).
    pub no_ssl_verify: bool,
    /// Told of every exchange with the hub (each try of a call, each
    /// upload chunk), e.g. for a caller's metrics; subsessions share it.
    pub observer: Option<Observer>,
    /// How a Kerberos login names the hub's service principal (koji.conf
    /// `krb_rdns`, `krb_canon_host`, `krb_server_realm`).
    pub krb_service: ServiceOptions,
}

/// A callback told of each exchange with the hub: the method (`multiCall`,
/// `rawUpload`, …) and how the exchange ended. It runs on the caller's
/// task, so it must be quick.
#[derive(Clone)]
pub struct Observer(Arc<ObserveFn>);

type ObserveFn = dyn Fn(&str, std::result::Result<(), &Error>) + Send + Sync;

impl Observer {
    /// An observer calling `f`.
    pub fn new(f: impl Fn(&str, std::result::Result<(), &Error>) + Send + Sync + 'static) -> Self {
        Observer(Arc::new(f))
    }
}

impl fmt::Debug for Observer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Observer")
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_retries: 30,
            retry_interval: Duration::from_secs(20),
            anon_retry: false,
            offline_retry: false,
            offline_retry_interval: Duration::from_secs(20),
            timeout: Duration::from_secs(60 * 60 * 12),
            auth_timeout: Duration::from_secs(60),
            upload_blocksize: 1024 * 1024,
            serverca: None,
            cert: None,
            key: None,
            no_ssl_verify: false,
            observer: None,
            krb_service: ServiceOptions::default(),
        }
    }
}

/// A logged-in session as it can be handed from one process to another:
/// the koji CLI plugin writes it to a pipe as JSON with these very names
/// (`session-id`, `session-key`, `callnum`, `header-auth`).
///
/// `callnum` is the number the *next* call will carry. Debug output hides
/// the key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// `session-id`.
    #[serde(rename = "session-id")]
    pub id: i64,
    /// `session-key`: a secret.
    #[serde(rename = "session-key")]
    pub key: String,
    /// The callnum of the next call.
    #[serde(default)]
    pub callnum: u64,
    /// The hub reads the session from headers (Koji ≥ 1.35); otherwise it
    /// is sent in the URL query.
    #[serde(rename = "header-auth", default)]
    pub header_auth: bool,
}

impl fmt::Debug for SessionInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionInfo")
            .field("id", &self.id)
            .field("key", &"<redacted>")
            .field("callnum", &self.callnum)
            .field("header_auth", &self.header_auth)
            .finish()
    }
}

impl SessionInfo {
    /// Reads a login/subsession reply: `{session-id, session-key, header-auth}`.
    pub fn from_login_reply(v: &Value, method: &str) -> Result<SessionInfo> {
        convert(method, v.clone())
    }
}

/// How this session logged in, kept to log in again when the hub says the
/// session expired (Koji's `renew_expired_session`).
#[derive(Clone)]
enum AuthMethod {
    Password {
        user: String,
        password: String,
    },
    Ssl,
    /// Kept to log in again with the same principal and keytab: with a
    /// keytab a fresh ticket is obtained whenever the old one ran out.
    Gssapi(KerberosLogin),
}

impl fmt::Debug for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthMethod::Password { user, .. } => {
                write!(f, "Password {{ user: {user:?}, password: <redacted> }}")
            }
            AuthMethod::Ssl => f.write_str("Ssl"),
            AuthMethod::Gssapi(login) => write!(f, "Gssapi({login:?})"),
        }
    }
}

#[derive(Clone, Debug)]
struct State {
    /// The hub URL. sslLogin switches it to https, as Koji does.
    hub: Url,
    session: Option<SessionInfo>,
    /// False while renewing: the old session still goes in the headers,
    /// but not in the query.
    logged_in: bool,
    exclusive: bool,
    auth: Option<AuthMethod>,
    hub_version: Option<String>,
    progress: Progress,
}

/// Signs of life of the calls on one session, for a watchdog that must
/// tell a call waiting out a hub outage (its tries keep ending in errors
/// and being retried) from a hung one (nothing happens at all).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// When an exchange with the hub last ended: an answer, a fault, or a
    /// transport or HTTP error.
    pub last_exchange: Option<Instant>,
    /// While the retry loop pauses before its next try: until when.
    pub pause_until: Option<Instant>,
}

#[derive(Debug)]
struct Shared {
    http: reqwest::Client,
    opts: Options,
    /// Quick state, never held across an await.
    state: Mutex<State>,
    /// Held for a whole call, retries included: the hub checks that
    /// callnums arrive in order, so calls on one session go one at a time.
    exchange: tokio::sync::Mutex<()>,
}

/// One session with a Koji hub.
///
/// Cloning gives another handle on the *same* session (same id, key and
/// callnum counter). Calls on one session are serialized: each holds an
/// async lock for the whole exchange, retries included, because the hub
/// checks that callnums arrive in order. Run independent work in parallel
/// on separate sessions (see [`ClientSession::subsession`]).
#[derive(Clone, Debug)]
pub struct ClientSession {
    shared: Arc<Shared>,
}

/// A call prepared for the wire: the same bytes are sent on every retry,
/// callnum included, as Koji's `_callMethod` does.
struct Prepared {
    url: Url,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    content_type: &'static str,
    timeout: Duration,
}

/// One call of a multicall.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// The method name.
    pub method: String,
    /// Positional params, with the kwargs struct last if there is one.
    pub params: Vec<Value>,
}

impl Call {
    /// A call with positional arguments.
    pub fn new(method: impl Into<String>, args: Vec<Value>) -> Self {
        Call {
            method: method.into(),
            params: args,
        }
    }

    /// A call with positional and keyword arguments.
    pub fn with_kwargs(method: impl Into<String>, args: Vec<Value>, kwargs: Struct) -> Self {
        Call {
            method: method.into(),
            params: crate::encode_args(args, kwargs),
        }
    }
}

impl ClientSession {
    /// An anonymous session with the hub at `hub` (e.g.
    /// `https://koji.example.com/kojihub`). Reads the TLS files named in
    /// `opts` now, so a bad path fails here, naming the file.
    pub fn new(hub: &str, opts: Options) -> Result<Self> {
        let hub =
            Url::parse(hub).map_err(|e| Error::Config(format!("bad hub URL {hub:?}: {e}")))?;
        if hub.scheme() != "http" && hub.scheme() != "https" {
            return Err(Error::Config(format!(
                "hub URL {hub} must be http or https"
            )));
        }
        let http = crate::tls::build_client(&opts)?;
        let state = State {
            hub,
            session: None,
            logged_in: false,
            exclusive: false,
            auth: None,
            hub_version: None,
            progress: Progress::default(),
        };
        Ok(ClientSession::with_state(http, opts, state))
    }

    fn with_state(http: reqwest::Client, opts: Options, state: State) -> Self {
        ClientSession {
            shared: Arc::new(Shared {
                http,
                opts,
                state: Mutex::new(state),
                exchange: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// A session that adopts a logged-in session from elsewhere (the koji
    /// CLI plugin hands one over through a pipe).
    pub fn resume(hub: &str, opts: Options, info: SessionInfo) -> Result<Self> {
        let s = ClientSession::new(hub, opts)?;
        s.set_session(Some(info));
        Ok(s)
    }

    /// A new session object on the same hub and HTTP client.
    fn sibling(&self, info: SessionInfo) -> ClientSession {
        let state = State {
            session: Some(info),
            logged_in: true,
            exclusive: false,
            progress: Progress::default(),
            ..self.state().clone()
        };
        let (http, opts) = (self.shared.http.clone(), self.shared.opts.clone());
        ClientSession::with_state(http, opts, state)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state
        // inconsistent (every update is a plain assignment), so a poisoned
        // lock is still usable.
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The options this session was made with.
    pub fn options(&self) -> &Options {
        &self.shared.opts
    }

    /// The hub URL (https after an sslLogin on an http URL).
    pub fn hub_url(&self) -> Url {
        self.state().hub.clone()
    }

    /// The current session, with the callnum of the next call; `None` when
    /// anonymous.
    pub fn session_info(&self) -> Option<SessionInfo> {
        let st = self.state();
        st.session.clone().filter(|_| st.logged_in)
    }

    /// Adopts a session (`Some`) or forgets the current one without logging
    /// out (`None`), like Koji's `setSession`.
    pub fn set_session(&self, info: Option<SessionInfo>) {
        let mut st = self.state();
        st.logged_in = info.is_some();
        st.session = info;
        if st.session.is_none() {
            st.exclusive = false;
            st.auth = None;
        }
    }

    /// `true` when the session is logged in.
    pub fn is_logged_in(&self) -> bool {
        self.state().logged_in
    }

    /// `true` after a successful [`ClientSession::exclusive_session`].
    pub fn is_exclusive(&self) -> bool {
        self.state().exclusive
    }

    /// What the calls on this session did last (see [`Progress`]).
    pub fn progress(&self) -> Progress {
        self.state().progress
    }

    /// The hub's version from its `Koji-Version` header, once a call was
    /// made (hubs ≥ 1.35 send it).
    pub fn hub_version(&self) -> Option<String> {
        self.state().hub_version.clone()
    }

    // -----------------------------------------------------------------
    // Calls

    /// Calls `method` with positional arguments.
    pub async fn call(&self, method: &str, args: Vec<Value>) -> Result<Value> {
        self.call_method(method, args, true).await
    }

    /// Calls `method` with positional and keyword arguments (Koji's
    /// `__starstar` convention). Empty `kwargs` sends no struct, like
    /// `koji.encode_args`.
    pub async fn call_kw(&self, method: &str, args: Vec<Value>, kwargs: Struct) -> Result<Value> {
        self.call_method(method, crate::encode_args(args, kwargs), true)
            .await
    }

    /// Like [`ClientSession::call`], then converts the result with serde
    /// (into an `Option`, a nil reply is `None`).
    pub async fn call_as<T: DeserializeOwned>(&self, method: &str, args: Vec<Value>) -> Result<T> {
        self.call_kw_as(method, args, Struct::new()).await
    }

    /// [`ClientSession::call_kw`], then converted as by [`ClientSession::call_as`].
    pub(crate) async fn call_kw_as<T: DeserializeOwned>(
        &self,
        method: &str,
        args: Vec<Value>,
        kwargs: Struct,
    ) -> Result<T> {
        let v = self.call_kw(method, args, kwargs).await?;
        convert(method, v)
    }

    /// `_callMethod` with Koji's renewal of an expired session: on
    /// AuthExpired, log in again the same way (with `renew`) and repeat the
    /// call once.
    async fn call_method(&self, method: &str, params: Vec<Value>, retry: bool) -> Result<Value> {
        let _turn = self.shared.exchange.lock().await;
        let first = self.call_locked(method, &params, retry).await;
        match first {
            Err(e) if e.is_fault(FaultKind::AuthExpired) && self.can_renew(method) => {
                tracing::info!(method, "Koji session expired; logging in again");
                self.renew_locked().await?;
                self.call_locked(method, &params, retry).await
            }
            other => other,
        }
    }

    fn can_renew(&self, method: &str) -> bool {
        !matches!(method, "login" | "sslLogin" | "logout") && self.state().auth.is_some()
    }

    /// One call with Koji's retry rules; the caller holds the exchange lock.
    async fn call_locked(&self, method: &str, params: &[Value], retry: bool) -> Result<Value> {
        let prepared = self.prepare_call(method, params);
        self.send_with_retries(method, &prepared, retry).await
    }

    fn prepare_call(&self, method: &str, params: &[Value]) -> Prepared {
        let mut st = self.state();
        let body = wire::encode_call(method, params).into_bytes();
        let mut url = st.hub.clone();
        let used = next_call(&mut st);
        // Koji sends the headers whenever it has a session (also while
        // renewing), and the query only when logged in.
        let headers = used.as_ref().map(session_headers).unwrap_or_default();
        if let Some(s) = used.filter(|s| st.logged_in && !s.header_auth) {
            append_session_query(&mut url, &s);
        } else if method == "sslLogin" {
            let path = format!("{}/ssllogin", url.path().trim_end_matches('/'));
            url.set_path(&path);
        }
        let timeout = if method == "sslLogin" {
            self.shared.opts.auth_timeout
        } else {
            self.shared.opts.timeout
        };
        Prepared {
            url,
            headers,
            body,
            content_type: "text/xml",
            timeout,
        }
    }

    /// Koji's `_callMethod` loop: transport and HTTP errors are tried again
    /// up to `max_retries` times (first retry at once, then every
    /// `retry_interval`), only for logged-in sessions unless `anon_retry`;
    /// a fault is final, except ServerOffline with `offline_retry`, which is
    /// retried without limit. Certificate errors are never retried.
    async fn send_with_retries(
        &self,
        method: &str,
        prepared: &Prepared,
        retry: bool,
    ) -> Result<Value> {
        let opts = &self.shared.opts;
        let mut tries: u32 = 0;
        loop {
            tries += 1;
            tracing::debug!(method, attempt = tries, "Koji call");
            let outcome = self.send_once(prepared).await;
            self.state().progress.last_exchange = Some(Instant::now());
            if let Some(observer) = &opts.observer {
                (observer.0)(method, outcome.as_ref().map(|_| ()));
            }
            match outcome {
                Ok(v) => return Ok(v),
                Err(e) if e.is_fault(FaultKind::ServerOffline) && opts.offline_retry => {
                    tracing::info!(
                        method,
                        "Koji hub is offline; retrying in {:?}",
                        opts.offline_retry_interval
                    );
                    self.pause(opts.offline_retry_interval).await;
                    // A hub in maintenance is not a failing hub: start over.
                    tries = 0;
                    continue;
                }
                Err(e @ Error::Fault { .. }) => return Err(e),
                Err(e) => {
                    // Non-logged-in calls were never retried in Koji; the
                    // anon_retry option keeps that compatible.
                    let anonymous = !self.is_logged_in() && !opts.anon_retry;
                    if !retry || !is_retryable(&e) || anonymous || tries > opts.max_retries {
                        return Err(e);
                    }
                    tracing::info!(method, "Try #{tries} for call {method} failed: {e}");
                }
            }
            if tries > 1 {
                self.pause(opts.retry_interval).await;
            }
        }
    }

    /// A pause of the retry loop, shown in [`ClientSession::progress`].
    async fn pause(&self, d: Duration) {
        self.state().progress.pause_until = Some(Instant::now() + d);
        tokio::time::sleep(d).await;
        self.state().progress.pause_until = None;
    }

    /// One HTTP exchange.
    async fn send_once(&self, prepared: &Prepared) -> Result<Value> {
        self.post(prepared).await?.into_value()
    }

    /// One POST, the reply not yet judged.
    async fn post(&self, prepared: &Prepared) -> Result<Reply> {
        let shown = display_url(&prepared.url);
        let mut req = self
            .shared
            .http
            .post(prepared.url.clone())
            .timeout(prepared.timeout)
            .header(reqwest::header::USER_AGENT, "koji/1")
            .header(reqwest::header::CONTENT_TYPE, prepared.content_type)
            .body(prepared.body.clone());
        for (name, value) in &prepared.headers {
            req = req.header(*name, value);
        }
        let resp = req.send().await.map_err(|e| transport_error(&shown, e))?;
        let status = resp.status();
        if let Some(v) = resp
            .headers()
            .get("Koji-Version")
            .and_then(|v| v.to_str().ok())
        {
            self.state().hub_version = Some(v.to_owned());
        }
        // requests-gssapi answers a 401 only if it offers Negotiate.
        let negotiate = resp
            .headers()
            .get_all(reqwest::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.split(',')
                    .any(|c| c.trim().to_ascii_lowercase().starts_with("negotiate"))
            });
        let body = resp.bytes().await.map_err(|e| transport_error(&shown, e))?;
        let body = body.to_vec();
        Ok(Reply {
            shown,
            status: status.as_u16(),
            negotiate,
            body,
        })
    }

    // -----------------------------------------------------------------
    // Sessions

    /// `login(user, password)`: password login. The password is sent once
    /// and kept in memory only to renew an expired session.
    pub async fn login(&self, user: &str, password: &str) -> Result<()> {
        let _turn = self.shared.exchange.lock().await;
        let auth = AuthMethod::Password {
            user: user.to_owned(),
            password: password.to_owned(),
        };
        self.login_locked(&auth, false).await
    }

    /// `sslLogin`: certificate login, POSTed to `<hub>/ssllogin` over https
    /// with the client certificate from [`Options::cert`].
    pub async fn ssl_login(&self) -> Result<()> {
        if self.shared.opts.cert.is_none() {
            return Err(Error::Config(
                "sslLogin needs a client certificate (cert)".to_owned(),
            ));
        }
        let _turn = self.shared.exchange.lock().await;
        self.force_https()?;
        self.login_locked(&AuthMethod::Ssl, false).await
    }

    /// `gssapi_login(principal, keytab, ccache)`: Kerberos login. The
    /// sslLogin call goes to `<hub>/ssllogin` over https; when the hub
    /// answers 401 with `WWW-Authenticate: Negotiate`, it is sent again
    /// with a SPNEGO token for `HTTP/<hub host>` made from the user's
    /// ticket (`kinit`) or from `login.keytab`.
    pub async fn gssapi_login(&self, login: KerberosLogin) -> Result<()> {
        let _turn = self.shared.exchange.lock().await;
        self.force_https()?;
        self.login_locked(&AuthMethod::Gssapi(login), false).await
    }

    /// Koji forces https for certificate and Kerberos logins, and keeps it.
    fn force_https(&self) -> Result<()> {
        let mut st = self.state();
        if st.hub.scheme() != "https" && st.hub.set_scheme("https").is_err() {
            return Err(Error::Config(format!(
                "cannot use https with hub URL {}",
                st.hub
            )));
        }
        Ok(())
    }

    async fn login_locked(&self, auth: &AuthMethod, renew: bool) -> Result<()> {
        let (method, args, mut kw) = match auth {
            AuthMethod::Password { user, password } => (
                "login",
                vec![user.into(), password.into()],
                kwargs([("opts", Value::Nil)]),
            ),
            AuthMethod::Ssl | AuthMethod::Gssapi(_) => {
                ("sslLogin", vec![], kwargs([("proxyuser", Value::Nil)]))
            }
        };
        if renew {
            kw.insert("renew".into(), Value::Bool(true));
            kw.insert("exclusive".into(), Value::Bool(self.is_exclusive()));
        }
        let params = crate::encode_args(args, kw);
        let reply = match auth {
            AuthMethod::Gssapi(login) => self.negotiate_locked(login, &params).await?,
            _ => self.call_locked(method, &params, true).await?,
        };
        let mut info = SessionInfo::from_login_reply(&reply, method)?;
        tracing::debug!(method, session_id = info.id, "logged in to Koji");
        let mut st = self.state();
        if let Some(old) = st.session.as_ref().filter(|s| renew && s.id == info.id) {
            // The hub renewed the session in place (kojihub's
            // createSession(renew=True)) and still holds its last
            // callnum; counting from 0 again would be a SequenceError.
            info.callnum = old.callnum;
        }
        st.session = Some(info);
        st.logged_in = true;
        st.auth = Some(auth.clone());
        Ok(())
    }

    /// sslLogin through HTTP Negotiate, as requests-gssapi does it: the
    /// call first goes without a token; a 401 offering Negotiate gets the
    /// same request again (same callnum: the first never reached the hub)
    /// with the token. Not retried once the token went out (the hub's
    /// replay cache would refuse it again); the first try is retried on
    /// connection errors like any call.
    async fn negotiate_locked(&self, login: &KerberosLogin, params: &[Value]) -> Result<Value> {
        let mut prepared = self.prepare_call("sslLogin", params);
        let first = loop {
            match self.post(&prepared).await {
                Ok(reply) => break reply,
                Err(e) if is_retryable(&e) && self.shared.opts.max_retries > 0 => {
                    tracing::info!("sslLogin (Kerberos) failed, trying again: {e}");
                    self.pause(self.shared.opts.retry_interval).await;
                }
                Err(e) => return Err(e),
            }
        };
        let url = first.shown.clone();
        if first.status != 401 {
            return first.into_value().map_err(|e| match e {
                // The location let us in without Negotiate and the hub found
                // no principal (nor certificate): it has no Kerberos there.
                Error::Fault {
                    kind: FaultKind::AuthError,
                    message,
                    ..
                } if message.starts_with("could not verify client") => {
                    Error::Kerberos(KerberosError::NoNegotiate {
                        url: url.clone(),
                        why: format!("/ssllogin logged nobody in ({message})"),
                    })
                }
                e => e,
            });
        }
        if !first.negotiate {
            return Err(Error::Kerberos(KerberosError::NoNegotiate {
                url,
                why: "/ssllogin answered 401 without 'WWW-Authenticate: Negotiate'".into(),
            }));
        }
        let host = prepared.url.host_str().unwrap_or_default().to_string();
        let service = kerberos::service_name(&host, &self.shared.opts.krb_service);
        let token = {
            let login = login.clone();
            tokio::task::spawn_blocking(move || kerberos::negotiate_token(&login, &service))
                .await
                .map_err(|e| Error::Kerberos(KerberosError::Other(e.to_string())))??
        };
        use base64::Engine as _;
        let token = base64::engine::general_purpose::STANDARD.encode(token);
        prepared
            .headers
            .push(("Authorization", format!("Negotiate {token}")));
        let reply = self.post(&prepared).await?;
        self.state().progress.last_exchange = Some(Instant::now());
        if reply.status == 401 {
            return Err(Error::Kerberos(KerberosError::Refused {
                url,
                who: login.who(),
            }));
        }
        reply.into_value()
    }

    async fn renew_locked(&self) -> Result<()> {
        let auth = self.state().auth.clone();
        let Some(auth) = auth else {
            return Err(Error::NotLoggedIn(
                "the session expired and cannot be renewed".into(),
            ));
        };
        // The old session goes along in the headers, but the session is not
        // "logged in" meanwhile (Koji's `_renew_session`).
        self.state().logged_in = false;
        let result = self.login_locked(&auth, true).await;
        if result.is_err() {
            let mut st = self.state();
            st.logged_in = st.session.is_some();
        }
        result
    }

    /// `exclusiveSession(force=…)`: every `host.*` call needs it. With
    /// `force`, another exclusive session of the same user is closed.
    pub async fn exclusive_session(&self, force: bool) -> Result<()> {
        self.call_kw("exclusiveSession", vec![], kwargs([("force", force)]))
            .await?;
        self.state().exclusive = true;
        Ok(())
    }

    /// `subsession()`: a new session of the same user, as a new session
    /// object on the same hub. kojid gives one to each task worker.
    pub async fn subsession(&self) -> Result<ClientSession> {
        let reply = self.call("subsession", Vec::new()).await?;
        let info = SessionInfo::from_login_reply(&reply, "subsession")?;
        Ok(self.sibling(info))
    }

    /// `logout()`: closes this session and its subsessions. Not retried;
    /// AuthExpired is ignored (a forced exclusive session elsewhere may have
    /// closed it already). Does nothing when not logged in.
    pub async fn logout(&self) -> Result<()> {
        if !self.is_logged_in() {
            return Ok(());
        }
        let kw = kwargs([("session_id", Value::Nil)]);
        let result = match self
            .call_method("logout", crate::encode_args(vec![], kw), false)
            .await
        {
            // Hubs before 1.31 take no session_id.
            Err(e) if e.is_fault(FaultKind::ParameterError) => {
                self.call_method("logout", Vec::new(), false).await
            }
            other => other,
        };
        match result {
            Ok(_) => {}
            Err(e) if e.is_fault(FaultKind::AuthExpired) => {}
            Err(e) => return Err(e),
        }
        self.set_session(None);
        Ok(())
    }

    /// Koji's `multiCall`: runs the calls in one request (one database
    /// transaction on the hub). Each result is `Ok(value)` or the fault of
    /// that call.
    pub async fn multi_call(&self, calls: &[Call]) -> Result<Vec<Result<Value, Fault>>> {
        if calls.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<Value> = calls
            .iter()
            .map(|c| {
                Value::from_pairs([
                    ("methodName", Value::from(c.method.as_str())),
                    ("params", Value::Array(c.params.clone())),
                ])
            })
            .collect();
        let reply = self.call("multiCall", vec![Value::Array(list)]).await?;
        parse_multicall_reply(reply, calls.len())
    }

    // -----------------------------------------------------------------
    // Raw upload

    /// One `rawUpload` POST: the chunk as the raw body, the upload options in
    /// the query. Returns the hub's `{size, fileverify, offset, hexdigest}`.
    pub(crate) async fn raw_upload(
        &self,
        chunk: &[u8],
        offset: i64,
        path: &str,
        name: &str,
        overwrite: bool,
        volume: Option<&str>,
    ) -> Result<Value> {
        let _turn = self.shared.exchange.lock().await;
        let prepare = || -> Result<Prepared> {
            let mut st = self.state();
            if !st.logged_in {
                return Err(Error::NotLoggedIn(
                    "uploads need a logged-in session".into(),
                ));
            }
            let mut url = st.hub.clone();
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("filename", name)
                    .append_pair("filepath", path)
                    .append_pair("fileverify", "adler32")
                    .append_pair("offset", &offset.to_string());
                if overwrite {
                    q.append_pair("overwrite", "1");
                }
                if let Some(v) = volume {
                    q.append_pair("volume", v);
                }
            }
            // Uploads carry the session one way only: headers or query.
            let mut headers = Vec::new();
            match next_call(&mut st) {
                Some(s) if s.header_auth => headers = session_headers(&s),
                Some(s) => append_session_query(&mut url, &s),
                None => {}
            }
            Ok(Prepared {
                url,
                headers,
                body: chunk.to_vec(),
                content_type: "application/octet-stream",
                timeout: self.shared.opts.timeout,
            })
        };
        let first = self.send_with_retries("rawUpload", &prepare()?, true).await;
        match first {
            // Koji's rawUpload goes through _callMethod, which renews an
            // expired session too.
            Err(e) if e.is_fault(FaultKind::AuthExpired) && self.can_renew("rawUpload") => {
                tracing::info!(
                    method = "rawUpload",
                    "Koji session expired; logging in again"
                );
                self.renew_locked().await?;
                self.send_with_retries("rawUpload", &prepare()?, true).await
            }
            other => other,
        }
    }
}

/// A hub's answer to one POST, before it is judged.
struct Reply {
    /// The URL as shown in errors.
    shown: String,
    status: u16,
    /// A 401 that offers `WWW-Authenticate: Negotiate`.
    negotiate: bool,
    body: Vec<u8>,
}

impl Reply {
    /// The call's result: an HTTP error, a fault, or the value.
    fn into_value(self) -> Result<Value> {
        if !(200..300).contains(&self.status) {
            let text = String::from_utf8_lossy(&self.body);
            let text: String = text.trim().chars().take(500).collect();
            return Err(Error::Http {
                url: self.shown,
                status: self.status,
                body: text,
            });
        }
        let response = wire::decode_response(&self.body).map_err(|source| Error::Decode {
            url: self.shown,
            source,
        })?;
        response.map_err(Error::from)
    }
}

/// The session for the next call, if any, with its callnum; takes the
/// callnum.
fn next_call(st: &mut State) -> Option<SessionInfo> {
    let s = st.session.as_mut()?;
    let used = s.clone();
    s.callnum += 1;
    Some(used)
}

/// The session as headers (Koji ≥ 1.35).
fn session_headers(s: &SessionInfo) -> Vec<(&'static str, String)> {
    vec![
        ("Koji-Session-Id", s.id.to_string()),
        ("Koji-Session-Key", s.key.clone()),
        ("Koji-Session-Callnum", s.callnum.to_string()),
    ]
}

/// The session in the query string, where hubs before 1.35 read it.
fn append_session_query(url: &mut Url, s: &SessionInfo) {
    url.query_pairs_mut()
        .append_pair("session-id", &s.id.to_string())
        .append_pair("session-key", &s.key)
        .append_pair("callnum", &s.callnum.to_string());
}

fn transport_error(url: &str, e: reqwest::Error) -> Error {
    let e = e.without_url();
    Error::Transport {
        url: url.to_owned(),
        detail: error_chain(&e),
        source: e,
    }
}

/// The URL as shown in errors and logs: no query string, which may hold
/// the session key.
fn display_url(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    let _ = u.set_password(None);
    u.to_string()
}

/// Errors worth another try: the exchange broke or the hub answered
/// badly. Not: faults (the call ran), bad configuration, certificate
/// problems (they do not fix themselves; Koji's `is_requests_cert_error`).
fn is_retryable(e: &Error) -> bool {
    match e {
        Error::Transport { source, .. } => !source.is_builder() && !has_rustls_error(source, 0),
        Error::Http { .. } | Error::Decode { .. } => true,
        _ => false,
    }
}

/// Looks for a rustls error along the source chain, also inside
/// `io::Error`s, whose `source()` skips the error they wrap (hyper wraps
/// rustls' error in two of them).
fn has_rustls_error(e: &(dyn std::error::Error + 'static), depth: usize) -> bool {
    if depth > 16 {
        return false;
    }
    if e.downcast_ref::<rustls::Error>().is_some() {
        return true;
    }
    if let Some(inner) = e
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        if has_rustls_error(inner, depth + 1) {
            return true;
        }
    }
    e.source().is_some_and(|s| has_rustls_error(s, depth + 1))
}

/// The whole cause chain in one line; reqwest's own message is only
/// "error sending request".
fn error_chain(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut cur = std::error::Error::source(e);
    while let Some(err) = cur {
        let text = err.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = err.source();
    }
    out
}

pub(crate) fn convert<T: DeserializeOwned>(method: &str, v: Value) -> Result<T> {
    crate::value::from_value(v).map_err(|e| Error::UnexpectedReply {
        method: method.to_owned(),
        message: e.to_string(),
    })
}

/// A multiCall reply: `[result]` for a success, a fault struct for a
/// failure, one entry per call.
pub fn parse_multicall_reply(reply: Value, expected: usize) -> Result<Vec<Result<Value, Fault>>> {
    let bad = |message: String| Error::UnexpectedReply {
        method: "multiCall".to_owned(),
        message,
    };
    let Value::Array(entries) = reply else {
        return Err(bad(format!("expected an array, got {}", reply.type_name())));
    };
    if entries.len() != expected {
        return Err(bad(format!(
            "{} results for {expected} calls",
            entries.len()
        )));
    }
    entries
        .into_iter()
        .enumerate()
        .map(|(i, entry)| match entry {
            Value::Array(mut one) if one.len() == 1 => Ok(Ok(one.pop().unwrap_or(Value::Nil))),
            ref v @ Value::Struct(_) => Fault::from_value(v)
                .map(Err)
                .ok_or_else(|| bad(format!("result {i} is a struct but not a fault"))),
            other => Err(bad(format!(
                "result {i} is neither [value] nor a fault: {}",
                other.type_name()
            ))),
        })
        .collect()
}

#[cfg(test)]
mod progress_tests {
    use super::*;

    /// A call waiting out a dead hub shows its tries and pauses.
    #[tokio::test]
    async fn retries_show_in_progress() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let opts = Options {
            max_retries: 3,
            retry_interval: Duration::from_millis(300),
            ..Options::default()
        };
        let info = SessionInfo {
            id: 1,
            key: "1-k".into(),
            callnum: 0,
            header_auth: true,
        };
        let s = ClientSession::resume(&format!("http://127.0.0.1:{port}/kojihub"), opts, info)
            .expect("session");
        assert_eq!(s.progress(), Progress::default());
        let start = Instant::now();
        let call = tokio::spawn({
            let s = s.clone();
            async move { s.call("getLoggedInUser", vec![]).await }
        });
        let mut saw_pause = false;
        while !call.is_finished() {
            let p = s.progress();
            if p.pause_until.is_some_and(|t| t > Instant::now()) {
                saw_pause = true;
                assert!(p.last_exchange.is_some_and(|t| t >= start));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(call.await.expect("joined").is_err(), "nobody answers");
        assert!(saw_pause, "the pauses between tries show");
        let p = s.progress();
        assert_eq!(p.pause_until, None);
        assert!(p.last_exchange.is_some_and(|t| t >= start));
    }
}
