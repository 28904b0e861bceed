//! `koji-osbuild-builder doctor`: checks this builder host's setup the way
//! the daemon reads it — builder.conf (and kojid.conf) through the same
//! [`Settings::load`], the certificates, composer, the hub, the host's
//! login, channel and the hub plugin — and prints one line per check: `✓`,
//! `✗` with what is wrong and what to do, or `-` for a check that could not
//! run.
//!
//! Composer's certificates are read and its TLS is set up by the composer
//! client's own code ([`ClientCert::load`], [`composer::client_config`]),
//! so doctor trusts and presents exactly what the daemon would.
//!
//! It is safe on a live builder host: it logs in as the host without asking
//! for the exclusive session (so a running builder keeps its own), and logs
//! out again.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use composer::{ClientCert, ClientOptions, Identity, RetryPolicy, SslVerify};
use koji::{ClientSession, FaultKind, Value};
use koji_osbuild_builder::cli::ConfigArgs;
use koji_osbuild_builder::{HostAuth, Settings};
use rustls::pki_types::ServerName;
use rustls::CertificateError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One network step's limit: a doctor should answer in seconds, not wait
/// out the daemons' retries.
const TIMEOUT: Duration = Duration::from_secs(20);
/// The channel osbuildImage tasks are created in (the hub plugin's).
const IMAGE_CHANNEL: &str = osbuild_task::CHANNEL;
/// The hub call the hub plugin adds.
const HUB_METHOD: &str = osbuild_task::METHOD;
/// A compose id no composer has: an authenticated GET of it must be 404.
const NIL_COMPOSE: &str = "00000000-0000-0000-0000-000000000000";
/// Certificates that expire sooner than this get a warning.
const EXPIRY_WARNING_DAYS: i64 = 14;
const DAY: i64 = 24 * 60 * 60;

/// What one check found.
enum Outcome {
    Pass(String),
    /// Passed, with something to act on soon.
    Warn(String, String),
    Fail(String),
    /// Could not run because an earlier check failed.
    Skip(String),
    /// Does not apply to this configuration.
    NotUsed(String),
}

struct Report<'a> {
    out: &'a mut dyn Write,
    failures: usize,
}

impl Report<'_> {
    /// Print the line at once (network checks take a moment each); true
    /// when the check did not fail or get skipped.
    fn record(&mut self, name: &str, outcome: Outcome) -> bool {
        let (line, ok) = match outcome {
            Outcome::Pass(m) => (format!("✓ {name}: {m}"), true),
            Outcome::Warn(m, note) => (format!("✓ {name}: {m} — warning: {note}"), true),
            Outcome::Fail(m) => {
                self.failures += 1;
                (format!("✗ {name}: {m}"), false)
            }
            Outcome::Skip(why) => (format!("- {name}: skipped ({why})"), false),
            Outcome::NotUsed(m) => (format!("- {name}: {m}"), true),
        };
        let _ = writeln!(self.out, "{line}");
        let _ = self.out.flush();
        ok
    }
}

/// Run every check; the exit status is 1 when any failed.
pub async fn run(args: &ConfigArgs, out: &mut dyn Write) -> u8 {
    let paths = args.files();
    let mut report = Report { out, failures: 0 };
    let settings = match Settings::load(&paths, args.kojid_config.as_deref()) {
        Ok(settings) => settings,
        Err(e) => {
            report.record("config", Outcome::Fail(e.to_string()));
            for name in CHECKS_AFTER_CONFIG {
                report.record(name, Outcome::Skip("no usable configuration".into()));
            }
            return 1;
        }
    };
    let doctor = Doctor {
        settings: &settings,
        kojid: args.kojid_config.as_deref(),
        paths: &paths,
    };
    doctor.run(&mut report).await;
    u8::from(report.failures > 0)
}

const CHECKS_AFTER_CONFIG: [&str; 11] = [
    "composer client certificate",
    "composer client certificate validity",
    "host certificate",
    "host certificate validity",
    "composer connection",
    "composer TLS",
    "composer API",
    "hub",
    "host login",
    "host",
    "hub plugin",
];

/// A certificate and key that loaded, with what its checks found.
struct Loaded {
    identity: Identity,
    /// The subject's common name: the Koji user name of a host certificate.
    common_name: Option<String>,
}

struct Doctor<'a> {
    settings: &'a Settings,
    kojid: Option<&'a Path>,
    paths: &'a [PathBuf],
}

impl Doctor<'_> {
    async fn run(&self, report: &mut Report<'_>) {
        let s = self.settings;
        report.record("config", Outcome::Pass(self.config_summary()));

        // Certificates.
        let composer_identity = match &s.composer.ssl_cert {
            None => {
                report.record(
                    "composer client certificate",
                    Outcome::NotUsed("not configured ([composer] ssl_cert)".into()),
                );
                None
            }
            Some(cert) => self.identity(
                report,
                "composer client certificate",
                cert,
                &self.key_in("composer", "ssl_cert"),
            ),
        };
        let host_identity = match &s.auth {
            HostAuth::Password { .. } => {
                report.record(
                    "host certificate",
                    Outcome::NotUsed("not used (the host logs in with a password)".into()),
                );
                None
            }
            // The same loader as composer's: a host certificate has the
            // same forms (one combined PEM, or cert and key).
            HostAuth::Certificate { cert, key } => self.identity(
                report,
                "host certificate",
                &match key {
                    None => ClientCert::Combined(cert.clone()),
                    Some(key) => ClientCert::Pair {
                        cert: cert.clone(),
                        key: key.clone(),
                    },
                },
                &self.host_key_in("cert"),
            ),
        };
        let host_cert_failed =
            matches!(s.auth, HostAuth::Certificate { .. }) && host_identity.is_none();
        let composer_cert_failed = s.composer.ssl_cert.is_some() && composer_identity.is_none();

        // Composer.
        let transport = self
            .composer_transport(report, composer_identity.map(|l| l.identity))
            .await;
        if let Err(why) = transport {
            report.record("composer API", Outcome::Skip(why.into()));
        } else if composer_cert_failed {
            report.record(
                "composer API",
                Outcome::Skip("composer client certificate unusable".into()),
            );
        } else {
            let outcome = self.composer_api().await;
            report.record("composer API", outcome);
        }

        // The hub.
        let hub = match self.hub().await {
            Ok((hub, outcome)) => {
                report.record("hub", outcome);
                Some(hub)
            }
            Err(outcome) => {
                report.record("hub", outcome);
                None
            }
        };
        let Some(hub) = hub else {
            report.record("host login", Outcome::Skip("hub not reachable".into()));
            report.record("host", Outcome::Skip("hub not reachable".into()));
            report.record("hub plugin", Outcome::Skip("hub not reachable".into()));
            return;
        };
        let mut host_name = match &s.auth {
            HostAuth::Password { user, .. } => Some(user.clone()),
            HostAuth::Certificate { .. } => host_identity.and_then(|id| id.common_name),
        };
        if host_cert_failed {
            // sslLogin cannot work without it.
            report.record(
                "host login",
                Outcome::Skip("host certificate unusable".into()),
            );
        } else {
            let (outcome, logged_in_as) = self.host_login().await;
            report.record("host login", outcome);
            if logged_in_as.is_some() {
                host_name = logged_in_as;
            }
        }
        let outcome = match &host_name {
            Some(name) => self.host_channel(&hub, name).await,
            None => Outcome::Skip("host name unknown (the host certificate has no CN)".into()),
        };
        report.record("host", outcome);
        let outcome = self.hub_plugin(&hub).await;
        report.record("hub plugin", outcome);
    }

    fn config_summary(&self) -> String {
        let s = self.settings;
        let mut files: Vec<String> = s
            .files_read()
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        if let Some(k) = self.kojid {
            files.push(k.display().to_string());
        }
        let read = if files.is_empty() {
            let looked: Vec<String> = self.paths.iter().map(|p| p.display().to_string()).collect();
            format!("no builder.conf found (looked for {})", looked.join(", "))
        } else {
            format!("read {}", files.join(", "))
        };
        let auth = match &s.auth {
            HostAuth::Password { user, .. } => format!("host {user} (password)"),
            HostAuth::Certificate { cert, .. } => {
                format!("host certificate {}", cert.display())
            }
        };
        let composer_auth = if s.composer.oauth.is_some() {
            " (OAuth)"
        } else if s.composer.ssl_cert.is_some() {
            " (client certificate)"
        } else {
            ""
        };
        format!(
            "{read}; composer {}{composer_auth}, hub {}, {auth}",
            s.composer.server, s.hub
        )
    }

    /// "[section] key in FILE" for a builder.conf key, for the fix hints.
    fn key_in(&self, section: &str, key: &str) -> String {
        match self.settings.origin(section, key) {
            Some(file) => format!("[{section}] {key} in {}", file.display()),
            None => format!("[{section}] {key}"),
        }
    }

    /// Where a host key ([builder], else [kojid]) came from.
    fn host_key_in(&self, key: &str) -> String {
        if self.settings.origin("builder", key).is_some() {
            return self.key_in("builder", key);
        }
        match self.kojid {
            Some(k) => format!("[kojid] {key} in {}", k.display()),
            None => format!("[builder] {key}"),
        }
    }

    /// "[builder] of FILE" or "[kojid] of FILE": where a host key was set.
    fn host_section_of(&self, key: &str) -> String {
        match (self.settings.origin("builder", key), self.kojid) {
            (Some(file), _) => format!("[builder] of {}", file.display()),
            (None, Some(k)) => format!("[kojid] of {}", k.display()),
            (None, None) => "[builder]".to_string(),
        }
    }

    /// Where the hub URL came from.
    fn hub_key(&self) -> String {
        if self.settings.origin("builder", "server").is_some() || self.kojid.is_some() {
            self.host_key_in("server")
        } else {
            self.key_in("koji", "server")
        }
    }

    /// "NAME" (readable, the key matches: composer's own loader) and "NAME
    /// validity" (the X.509 dates).
    fn identity(
        &self,
        report: &mut Report<'_>,
        name: &str,
        cert: &ClientCert,
        setting: &str,
    ) -> Option<Loaded> {
        let validity_name = format!("{name} validity");
        let (path, _) = cert.files();
        let loaded = cert.load().map_err(|e| e.to_string()).and_then(|identity| {
            let (_, x509) = x509_parser::parse_x509_certificate(&identity.chain[0])
                .map_err(|e| format!("{}: not a valid X.509 certificate: {e}", path.display()))?;
            let common_name = x509
                .subject()
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .map(str::to_owned);
            let dates = x509.validity();
            let dates = (dates.not_before.timestamp(), dates.not_after.timestamp());
            Ok((identity, common_name, dates))
        });
        let (identity, common_name, (not_before, not_after)) = match loaded {
            Ok(loaded) => loaded,
            Err(e) => {
                report.record(name, Outcome::Fail(format!("{e}; fix {setting}")));
                report.record(&validity_name, Outcome::Skip(format!("{name} unreadable")));
                return None;
            }
        };
        let subject = common_name
            .as_deref()
            .map(|cn| format!(" (CN={cn})"))
            .unwrap_or_default();
        report.record(
            name,
            Outcome::Pass(format!(
                "{}{subject}: readable, the private key matches",
                path.display()
            )),
        );
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default();
        // An expired certificate still goes to the checks that use it: they
        // show what composer and the hub make of it.
        report.record(
            &validity_name,
            validity(not_before, not_after, now, path, setting),
        );
        Some(Loaded {
            identity,
            common_name,
        })
    }

    /// "composer connection" and "composer TLS": `Ok` when an API request
    /// can be tried, else why not.
    async fn composer_transport(
        &self,
        report: &mut Report<'_>,
        identity: Option<Identity>,
    ) -> Result<(), &'static str> {
        let composer = &self.settings.composer;
        let server_key = self.key_in("composer", "server");
        let url = match url::Url::parse(&composer.server) {
            Ok(url) => url,
            Err(e) => {
                report.record(
                    "composer connection",
                    Outcome::Fail(format!(
                        "'{}' is not a URL ({e}); fix {server_key}",
                        composer.server
                    )),
                );
                report.record("composer TLS", Outcome::Skip("no composer URL".into()));
                return Err("no composer URL");
            }
        };
        if composer.proxy.is_some() || env_proxy(url.scheme()) {
            let via = if composer.proxy.is_some() {
                self.key_in("composer", "proxy")
            } else {
                "the proxy of the environment".to_string()
            };
            report.record(
                "composer connection",
                Outcome::NotUsed(format!("through {via}: checked by the API request")),
            );
            report.record(
                "composer TLS",
                Outcome::NotUsed(format!("through {via}: checked by the API request")),
            );
            return Ok(());
        }
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
            report.record(
                "composer connection",
                Outcome::Fail(format!(
                    "'{}' names no host; fix {server_key}",
                    composer.server
                )),
            );
            report.record("composer TLS", Outcome::Skip("no composer host".into()));
            return Err("no composer host");
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let stream = match connect(host, port).await {
            Ok(stream) => stream,
            Err(e) => {
                report.record(
                    "composer connection",
                    Outcome::Fail(format!(
                        "cannot connect to {host}:{port}: {e}; is composer running there? \
                         Check {server_key}"
                    )),
                );
                report.record(
                    "composer TLS",
                    Outcome::Skip("composer not reachable".into()),
                );
                return Err("composer not reachable");
            }
        };
        report.record(
            "composer connection",
            Outcome::Pass(format!("{host}:{port} accepts connections")),
        );
        if url.scheme() != "https" {
            report.record(
                "composer TLS",
                Outcome::NotUsed(format!("not used ({} is not https)", composer.server)),
            );
            return Ok(());
        }
        let verify_key = self.key_in("composer", "ssl_verify");
        let (trust, hint) = match &composer.ssl_verify {
            SslVerify::Disabled => {
                report.record(
                    "composer TLS",
                    Outcome::Warn(
                        "composer's certificate is not verified".into(),
                        format!("{verify_key} is off; point it at composer's CA file or directory"),
                    ),
                );
                return Ok(());
            }
            SslVerify::Enabled => (
                "a CA this system trusts".to_string(),
                format!("set {verify_key} to the CA file or directory that issued it"),
            ),
            SslVerify::CaPath(path) => (
                format!("the CA in {}", path.display()),
                format!("point {verify_key} at the CA that issued composer's certificate"),
            ),
        };
        let presents_cert = identity.is_some();
        let result = match composer::client_config(identity, &composer.ssl_verify) {
            Ok(config) => handshake(stream, host, config).await,
            Err(e) => Err(HandshakeError::Other(e.to_string())),
        };
        let outcome = match result {
            Ok(()) => Outcome::Pass(format!(
                "{}'s certificate is signed by {trust}",
                composer.server
            )),
            Err(HandshakeError::UntrustedIssuer) => Outcome::Fail(format!(
                "composer's certificate at {} is not signed by {trust}; {hint}",
                composer.server
            )),
            Err(HandshakeError::WrongName) => Outcome::Fail(format!(
                "composer's certificate is not valid for {host}; use the host name it was \
                 issued for in {server_key}"
            )),
            Err(HandshakeError::ServerCertExpired) => Outcome::Fail(format!(
                "composer's certificate at {} is expired or not yet valid; composer's admin \
                 must renew it",
                composer.server
            )),
            Err(HandshakeError::Rejected(alert)) if presents_cert => Outcome::Fail(format!(
                "composer ended the TLS handshake ({alert}): it does not accept our \
                     client certificate; check {} (a certificate of the CA composer trusts \
                     for clients)",
                self.key_in("composer", "ssl_cert")
            )),
            Err(HandshakeError::Rejected(alert)) => Outcome::Fail(format!(
                "composer ended the TLS handshake ({alert}): it wants a client certificate; \
                 set [composer] ssl_cert"
            )),
            Err(HandshakeError::Other(e)) => Outcome::Fail(format!(
                "TLS with {} failed: {e}; check {verify_key} and {server_key}",
                composer.server
            )),
        };
        if report.record("composer TLS", outcome) {
            Ok(())
        } else {
            Err("composer's TLS handshake failed")
        }
    }

    /// GET composes/<nil uuid> with the configured credentials: 404 means
    /// composer took them (the cloud API answers 401 to a missing or bad
    /// token and needs the client certificate at the handshake).
    async fn composer_api(&self) -> Outcome {
        let conf = &self.settings.composer;
        let options = ClientOptions {
            connect_timeout: TIMEOUT,
            timeout: Some(TIMEOUT),
            retry: RetryPolicy::NONE,
            ..conf.clone()
        };
        let client = match composer::Client::new(options) {
            Ok(client) => client,
            Err(e) => return Outcome::Fail(e.to_string()),
        };
        let how = match (&conf.oauth, &conf.ssl_cert) {
            (Some(o), _) => format!("an OAuth token from {}", o.token_url),
            (None, Some(_)) => "our client certificate".to_string(),
            (None, None) => "no credentials".to_string(),
        };
        let api = client.api_url().to_string();
        match client.compose_status(NIL_COMPOSE).await {
            Ok(_) => Outcome::Pass(format!("{api} answers with {how}")),
            Err(e) => match (&e, e.status()) {
                // composer's "Compose with given id not found" is its
                // error object; a 404 page of some other server is not.
                (composer::Error::Api { .. }, Some(404)) if e.api_error().is_some() => {
                    Outcome::Pass(format!("{api} answers with {how}"))
                }
                (composer::Error::Api { .. }, Some(404)) => Outcome::Fail(format!(
                    "{api} answered 404 without composer's error object: is {} \
                     osbuild-composer? Check {}",
                    conf.server,
                    self.key_in("composer", "server")
                )),
                (composer::Error::OAuth { token_url, .. }, Some(status))
                    if matches!(status, 400 | 401 | 403) =>
                {
                    Outcome::Fail(format!(
                        "composer:oauth client_secret rejected by {token_url} (HTTP {status}); \
                         check client_id and client_secret in {}",
                        self.section_files("composer:oauth", "client_secret")
                    ))
                }
                (composer::Error::OAuth { token_url, .. }, Some(status)) => Outcome::Fail(format!(
                    "the token endpoint {token_url} answered HTTP {status}; check {}",
                    self.key_in("composer:oauth", "token_url")
                )),
                (composer::Error::Api { .. }, Some(status)) if matches!(status, 401 | 403) => {
                    let fix = if conf.oauth.is_some() {
                        format!(
                            "composer does not accept tokens of client_id {}",
                            conf.oauth
                                .as_ref()
                                .map(|o| o.client_id.as_str())
                                .unwrap_or_default()
                        )
                    } else if conf.ssl_cert.is_some() {
                        format!(
                            "composer does not accept our client certificate; check {}",
                            self.key_in("composer", "ssl_cert")
                        )
                    } else {
                        "composer wants credentials: set [composer] ssl_cert or a \
                         [composer:oauth] section"
                            .to_string()
                    };
                    Outcome::Fail(format!("{api} answered HTTP {status}; {fix}"))
                }
                (composer::Error::Api { .. }, Some(status)) => Outcome::Fail(format!(
                    "{api} answered HTTP {status} to a status request, not 404: is {} \
                     osbuild-composer? ({})",
                    conf.server,
                    self.key_in("composer", "server")
                )),
                (composer::Error::Transport { detail, .. }, _)
                    if detail.contains("received fatal alert")
                        && !detail.contains("client certificate") =>
                {
                    // Through a proxy the TLS check could not look: an
                    // alert from composer is mostly about our certificate.
                    Outcome::Fail(format!(
                        "{e}; does composer accept our client certificate? Check {}",
                        self.key_in("composer", "ssl_cert")
                    ))
                }
                _ => Outcome::Fail(e.to_string()),
            },
        }
    }

    fn section_files(&self, section: &str, key: &str) -> String {
        match self.settings.origin(section, key) {
            Some(file) => format!("[{section}] of {}", file.display()),
            None => format!("[{section}]"),
        }
    }

    fn koji_options(&self) -> koji::Options {
        koji::Options {
            max_retries: 0,
            timeout: TIMEOUT,
            auth_timeout: TIMEOUT,
            ..self.settings.koji_options()
        }
    }

    /// An anonymous session: getAPIVersion and the hub's version.
    async fn hub(&self) -> Result<(ClientSession, Outcome), Outcome> {
        let hub = &self.settings.hub;
        let options = koji::Options {
            cert: None,
            key: None,
            ..self.koji_options()
        };
        let fix = format!("check {} and that the hub is up", self.hub_key());
        let session =
            ClientSession::new(hub, options).map_err(|e| Outcome::Fail(format!("{e}; {fix}")))?;
        match session.get_api_version().await {
            Ok(api) => {
                let version = session
                    .hub_version()
                    .map(|v| format!("Koji {v}, "))
                    .unwrap_or_default();
                Ok((
                    session,
                    Outcome::Pass(format!("{hub} answers ({version}API version {api})")),
                ))
            }
            Err(e) => Err(Outcome::Fail(format!("{e}; {fix}"))),
        }
    }

    /// Log in as the host the way the builder does, but without the
    /// exclusive session, then log out. Returns the user logged in as.
    async fn host_login(&self) -> (Outcome, Option<String>) {
        let s = self.settings;
        let session = match ClientSession::new(&s.hub, self.koji_options()) {
            Ok(session) => session,
            Err(e) => return (Outcome::Fail(e.to_string()), None),
        };
        let (how, fix) = match &s.auth {
            HostAuth::Password { .. } => (
                "with a password".to_string(),
                format!(
                    "check user and password in {}",
                    self.host_section_of("user")
                ),
            ),
            HostAuth::Certificate { .. } => (
                "with the host certificate".to_string(),
                format!(
                    "check {}: the hub must trust its CA and its CN must be the host's name",
                    self.host_key_in("cert")
                ),
            ),
        };
        let login = match &s.auth {
            HostAuth::Password { user, password } => session.login(user, password).await,
            HostAuth::Certificate { .. } => session.ssl_login().await,
        };
        let who = match &s.auth {
            HostAuth::Password { user, .. } => format!(" as {user}"),
            HostAuth::Certificate { .. } => String::new(),
        };
        if let Err(e) = login {
            return (
                Outcome::Fail(format!("the hub refused the login{who} {how}: {e}; {fix}")),
                None,
            );
        }
        // Koji lets a non-exclusive session of a host log in while the
        // builder holds the exclusive one, and answers its calls with
        // AuthLockError (logout still works).
        let user = session.get_logged_in_user().await;
        let _ = session.logout().await;
        match user {
            Ok(Some(user)) => (
                Outcome::Pass(format!(
                    "logged in as {} {how} and logged out again (no builder holds the host's \
                     session now)",
                    user.name
                )),
                Some(user.name),
            ),
            Ok(None) => (
                Outcome::Fail(format!(
                    "the hub accepted the login {how} but knows no user for it; {fix}"
                )),
                None,
            ),
            Err(e) if e.is_fault(FaultKind::AuthLockError) => (
                Outcome::Pass(format!(
                    "logged in{who} {how} and logged out again; a running builder holds the \
                     host's exclusive session (left alone)"
                )),
                None,
            ),
            Err(e) => (
                Outcome::Fail(format!("logged in {how}, but then: {e}")),
                None,
            ),
        }
    }

    /// The host exists, is enabled and is in the image channel.
    async fn host_channel(&self, hub: &ClientSession, name: &str) -> Outcome {
        let host = match hub.call("getHost", vec![Value::from(name)]).await {
            Ok(v) if v.is_nil() => {
                return Outcome::Fail(format!(
                    "the hub has no host {name}; add it with `koji add-host {name} <arches>`"
                ))
            }
            Ok(v) => v,
            Err(e) => return Outcome::Fail(format!("getHost({name}): {e}")),
        };
        let Some(id) = host.get("id").and_then(Value::as_i64) else {
            return Outcome::Fail(format!("getHost({name}) answered without an id"));
        };
        if host.get("enabled").and_then(Value::as_bool) == Some(false) {
            return Outcome::Fail(format!(
                "host {name} is disabled; enable it with `koji enable-host {name}`"
            ));
        }
        let kwargs = koji::kwargs([("hostID", Value::Int(id))]);
        let channels = match hub.call_kw("listChannels", Vec::new(), kwargs).await {
            Ok(v) => v,
            Err(e) => return Outcome::Fail(format!("listChannels(hostID={id}): {e}")),
        };
        let channel = channels
            .as_array()
            .unwrap_or_default()
            .iter()
            .find(|c| c.get("name").and_then(Value::as_str) == Some(IMAGE_CHANNEL));
        match channel {
            None => Outcome::Fail(format!(
                "host {name} is not in channel {IMAGE_CHANNEL}, so it gets no osbuildImage \
                 tasks; add it with `koji add-host-to-channel {name} {IMAGE_CHANNEL}`"
            )),
            Some(c) if c.get("enabled").and_then(Value::as_bool) == Some(false) => {
                Outcome::Fail(format!(
                    "channel {IMAGE_CHANNEL} is disabled on the hub; enable it with \
                     `koji edit-channel {IMAGE_CHANNEL} --enable`"
                ))
            }
            Some(_) => Outcome::Pass(format!("{name} is enabled and in channel {IMAGE_CHANNEL}")),
        }
    }

    /// Whether the hub lists the hub plugin's call in system.listMethods.
    async fn hub_plugin(&self, hub: &ClientSession) -> Outcome {
        let offered = hub.call("system.listMethods", Vec::new()).await.map(|m| {
            let methods = m.as_array().unwrap_or_default();
            methods.iter().any(|m| m.as_str() == Some(HUB_METHOD))
        });
        match offered {
            Ok(true) => Outcome::Pass(format!("the hub offers {HUB_METHOD}")),
            Ok(false) => Outcome::Fail(format!(
                "the hub has no {HUB_METHOD} call; install the koji-osbuild hub plugin \
                 (osbuild.py) and add osbuild to Plugins in hub.conf"
            )),
            Err(e) => Outcome::Fail(format!("system.listMethods: {e}")),
        }
    }
}

/// Whether reqwest would send composer requests through a proxy from the
/// environment (then a direct connection proves nothing).
fn env_proxy(scheme: &str) -> bool {
    let names: &[&str] = match scheme {
        "https" => &["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"],
        _ => &["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"],
    };
    names
        .iter()
        .any(|n| std::env::var_os(n).is_some_and(|v| !v.is_empty()))
}

fn plural_days(days: i64) -> String {
    match days {
        0 => "less than a day".to_string(),
        1 => "1 day".to_string(),
        n => format!("{n} days"),
    }
}

/// Where a certificate stands in its validity period at `now` (Unix time).
fn validity(not_before: i64, not_after: i64, now: i64, path: &Path, setting: &str) -> Outcome {
    let path = path.display();
    let days = (not_after - now) / DAY;
    if now < not_before {
        Outcome::Fail(format!(
            "{path} is not valid before {}; check the clock of this host",
            date(not_before)
        ))
    } else if now > not_after {
        Outcome::Fail(format!(
            "{path} expired on {}; renew it (or point {setting} at a current one)",
            date(not_after)
        ))
    } else if not_after - now < EXPIRY_WARNING_DAYS * DAY {
        Outcome::Warn(
            format!("valid until {}", date(not_after)),
            format!("expires in {}; renew {path} soon", plural_days(days)),
        )
    } else {
        Outcome::Pass(format!(
            "valid until {} ({} left)",
            date(not_after),
            plural_days(days)
        ))
    }
}

/// `2026-11-28 00:32 UTC`.
fn date(unix: i64) -> String {
    match x509_parser::time::ASN1Time::from_timestamp(unix) {
        Ok(t) => {
            let t = t.to_datetime();
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02} UTC",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute()
            )
        }
        Err(_) => format!("{unix} (Unix time)"),
    }
}

/// An I/O error without the "(os error N)" tail.
fn io(e: &std::io::Error) -> String {
    let text = e.to_string();
    text.split(" (os error ")
        .next()
        .unwrap_or(&text)
        .to_string()
}

/// Why the handshake with composer did not work.
enum HandshakeError {
    /// composer's certificate is not signed by a trusted CA.
    UntrustedIssuer,
    /// Signed, but not for this host name or address.
    WrongName,
    /// composer's certificate is outside its validity period.
    ServerCertExpired,
    /// composer ended the handshake with an alert: our client certificate
    /// (or the lack of one) was not accepted.
    Rejected(String),
    /// Not TLS on that port, the CA setting unusable, or another failure.
    Other(String),
}

/// A direct TCP connection to composer, so that "not reachable" and the
/// TLS problems below each show as what they are rather than as a failed
/// HTTP request.
async fn connect(host: &str, port: u16) -> Result<TcpStream, String> {
    match tokio::time::timeout(TIMEOUT, TcpStream::connect((host, port))).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(io(&e)),
        Err(_) => Err(format!("no answer within {} s", TIMEOUT.as_secs())),
    }
}

/// A TLS handshake on `stream` with the composer client's own rustls
/// configuration.
async fn handshake(
    stream: TcpStream,
    host: &str,
    config: rustls::ClientConfig,
) -> Result<(), HandshakeError> {
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| HandshakeError::Other(format!("'{host}' is not a TLS server name: {e}")))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let mut tls = match tokio::time::timeout(TIMEOUT, connector.connect(name, stream)).await {
        Err(_) => {
            return Err(HandshakeError::Other(format!(
                "no TLS answer within {} s",
                TIMEOUT.as_secs()
            )))
        }
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => return Err(classify(&e)),
    };
    // In TLS 1.3 the client finishes its handshake before the server has
    // looked at the client certificate; a rejection arrives as an alert on
    // the first read. So ask for something and read the first byte.
    let probe = format!("HEAD / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    if let Err(e) = tls.write_all(probe.as_bytes()).await {
        return Err(classify(&e));
    }
    let mut first = [0u8; 1];
    match tokio::time::timeout(TIMEOUT, tls.read(&mut first)).await {
        Ok(Err(e)) => Err(classify(&e)),
        // An answer, or none in time: the handshake itself went through.
        Ok(Ok(_)) | Err(_) => Ok(()),
    }
}

fn classify(e: &std::io::Error) -> HandshakeError {
    let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return HandshakeError::Other(io(e));
    };
    match tls {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer
            | CertificateError::BadSignature
            | CertificateError::UnhandledCriticalExtension => HandshakeError::UntrustedIssuer,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                HandshakeError::WrongName
            }
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => HandshakeError::ServerCertExpired,
            other => HandshakeError::Other(format!("composer's certificate: {other:?}")),
        },
        rustls::Error::AlertReceived(alert) => HandshakeError::Rejected(format!("{alert:?}")),
        rustls::Error::InvalidMessage(_) => {
            HandshakeError::Other("the server does not speak TLS on this port".to_string())
        }
        other => HandshakeError::Other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(outcome: Outcome) -> (char, String) {
        match outcome {
            Outcome::Pass(m) => ('✓', m),
            Outcome::Warn(m, note) => ('!', format!("{m} — {note}")),
            Outcome::Fail(m) => ('✗', m),
            Outcome::Skip(m) | Outcome::NotUsed(m) => ('-', m),
        }
    }

    #[test]
    fn validity_periods() {
        let now = 1_800_000_000;
        let at = |from, until| mark(validity(from, until, now, Path::new("c.pem"), "[x] y"));
        let (m, text) = at(now + 10, now + 100 * DAY);
        assert!(m == '✗' && text.contains("not valid before"), "{text}");
        let (m, text) = at(now - 100, now - 1);
        assert!(
            m == '✗' && text.contains("expired on") && text.contains("[x] y"),
            "{text}"
        );
        let (m, text) = at(now - 100, now + 3 * DAY + 5);
        assert!(
            m == '!' && text.contains("expires in 3 days; renew c.pem soon"),
            "{text}"
        );
        let (m, text) = at(now - 100, now + 30 * DAY);
        assert!(m == '✓' && text.ends_with("(30 days left)"), "{text}");
        assert_eq!(date(0), "1970-01-01 00:00 UTC");
    }
}
