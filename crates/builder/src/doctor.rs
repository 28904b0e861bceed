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

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use composer::{ClientCert, ClientOptions, Identity, RetryPolicy, SslVerify};
use doctor_report::{Outcome, Report, TIMEOUT};
use koji::{ClientSession, FaultKind, Value};
use koji_osbuild_builder::cli::ConfigArgs;
use koji_osbuild_builder::{HostAuth, Settings};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The channel osbuildImage tasks are created in (the hub plugin's).
const IMAGE_CHANNEL: &str = osbuild_task::CHANNEL;
/// A compose id no composer has: an authenticated GET of it must be 404.
const NIL_COMPOSE: &str = "00000000-0000-0000-0000-000000000000";
/// Certificates that expire sooner than this get a warning.
const EXPIRY_WARNING_DAYS: i64 = 14;
const DAY: i64 = 24 * 60 * 60;

/// Every check after "config", in the order they are printed.
const CHECKS_AFTER_CONFIG: [&str; 12] = [
    "composer client certificate",
    "composer client certificate validity",
    "host certificate",
    "host certificate validity",
    "host keytab",
    "composer connection",
    "composer TLS",
    "composer API",
    "hub",
    "host login",
    "host",
    "hub plugin",
];

/// Run every check; the exit status is 1 when any failed.
pub async fn run(args: &ConfigArgs, out: &mut dyn Write) -> u8 {
    let paths = args.files();
    let kojid = args.kojid_config.as_deref();
    let mut report = Report::new(out);
    match args.load() {
        Ok(settings) => {
            let doctor = Doctor {
                settings: &settings,
                kojid,
                paths: &paths,
            };
            doctor.run(&mut report).await;
        }
        Err(e) => {
            report.record("config", Outcome::Fail(e.to_string()));
            report.skip(&CHECKS_AFTER_CONFIG, "no usable configuration");
        }
    }
    report.status()
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

        // Certificates: each what it holds, or why the checks that present
        // it cannot run. The host's goes through composer's loader too: a
        // host certificate has the same forms (one combined PEM, or cert
        // and key).
        let composer_cert = self.certificate(
            report,
            "composer client certificate",
            s.composer.ssl_cert.as_ref(),
            &self.key_in("composer", "ssl_cert"),
            "not configured ([composer] ssl_cert)",
        );
        let host_cert = match &s.auth {
            HostAuth::Password { .. } | HostAuth::Kerberos(_) => None,
            HostAuth::Certificate { cert, key: None } => Some(ClientCert::Combined(cert.clone())),
            HostAuth::Certificate {
                cert,
                key: Some(key),
            } => Some(ClientCert::Pair {
                cert: cert.clone(),
                key: key.clone(),
            }),
        };
        let host_cert = self.certificate(
            report,
            "host certificate",
            host_cert.as_ref(),
            &self.key_in("builder", "cert"),
            match &s.auth {
                HostAuth::Kerberos(_) => "not used (the host logs in with Kerberos)",
                _ => "not used (the host logs in with a password)",
            },
        );
        report.record("host keytab", self.host_keytab().await);

        // Composer: the API request needs the transport and the client
        // certificate; the TLS check goes on without an unusable one.
        let (identity, unusable) = match composer_cert {
            Ok(cert) => (cert.map(|(identity, _)| identity), None),
            Err(why) => (None, Some(why)),
        };
        let outcome = match (self.composer_transport(report, identity).await, unusable) {
            (Err(why), _) | (Ok(()), Some(why)) => Outcome::Skip(why),
            (Ok(()), None) => self.composer_api().await,
        };
        report.record("composer API", outcome);

        // The hub.
        let fix = format!("check {} and that the hub is up", self.hub_key());
        let needing_hub = ["host login", "host", "hub plugin"];
        let options = s.koji_options();
        let Some(hub) = doctor_report::hub(report, &s.hub, &options, &fix, &needing_hub).await
        else {
            return;
        };
        match host_cert {
            // sslLogin cannot work without it.
            Err(why) => report.skip(&["host login", "host"], &why),
            Ok(cert) => {
                let (outcome, logged_in_as) = self
                    .host_login()
                    .await
                    .unwrap_or_else(|failed| (failed, None));
                report.record("host login", outcome);
                let configured = match &s.auth {
                    HostAuth::Password { user, .. } => Some(user.clone()),
                    HostAuth::Certificate { .. } => cert.and_then(|(_, common_name)| common_name),
                    HostAuth::Kerberos(_) => None,
                };
                let outcome = match logged_in_as.or(configured) {
                    Some(name) => self.host_channel(&hub, &name).await,
                    None => {
                        Outcome::Skip("host name unknown (the host certificate has no CN)".into())
                    }
                };
                report.record("host", outcome);
            }
        }
        report.record("hub plugin", doctor_report::hub_plugin(&hub).await);
    }

    /// The host's keytab: readable, holding the host principal, and good
    /// for a ticket for the hub's HTTP service (which asks the KDC).
    async fn host_keytab(&self) -> Outcome {
        let s = self.settings;
        let HostAuth::Kerberos(login) = &s.auth else {
            return Outcome::NotUsed("the host does not log in with Kerberos".into());
        };
        let (Some(keytab), Some(principal)) = (&login.keytab, &login.principal) else {
            return Outcome::NotUsed("no keytab".into());
        };
        let setting = self.key_in("builder", "keytab");
        let held = match koji::kerberos::keytab_principals(keytab) {
            Ok(held) => held,
            Err(e) => return Outcome::Fail(format!("{e}; fix {setting}")),
        };
        if !held.contains(principal) {
            let held = if held.is_empty() {
                "nothing".to_string()
            } else {
                held.join(", ")
            };
            return Outcome::Fail(format!(
                "{} holds no key for {principal} (it holds {held}): export one (kadmin ktadd -k \
                 {} {principal}) or fix host_principal_format / krb_principal",
                keytab.display(),
                keytab.display()
            ));
        }
        let host = url::Url::parse(&s.hub)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        let service = koji::kerberos::service_name(&host, &s.koji_options().krb_service);
        let ticket = {
            let (login, service) = (login.clone(), service.clone());
            tokio::task::spawn_blocking(move || koji::kerberos::negotiate_token(&login, &service))
                .await
        };
        match ticket {
            Ok(Ok(_)) => Outcome::Pass(format!(
                "{} holds {principal}; got a ticket with it, and one for the hub ({service})",
                keytab.display()
            )),
            Ok(Err(e)) => Outcome::Fail(e.to_string()),
            Err(e) => Outcome::Fail(format!("the ticket check stopped: {e}")),
        }
    }

    fn config_summary(&self) -> String {
        let s = self.settings;
        let read = s
            .files_read()
            .iter()
            .map(PathBuf::as_path)
            .chain(self.kojid);
        let read: Vec<String> = read.map(|p| p.display().to_string()).collect();
        let read = if read.is_empty() {
            let looked: Vec<_> = self.paths.iter().map(|p| p.display().to_string()).collect();
            format!("no builder.conf found (looked for {})", looked.join(", "))
        } else {
            format!("read {}", read.join(", "))
        };
        let auth = match &s.auth {
            HostAuth::Password { user, .. } => format!("host {user} (password)"),
            HostAuth::Certificate { cert, .. } => format!("host certificate {}", cert.display()),
            HostAuth::Kerberos(login) => format!("host {} (Kerberos)", login.who()),
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

    /// The section and file that set `key`, for the fix hints. The host's
    /// keys ([builder]) may come from a kojid.conf's [kojid] instead.
    fn origin(&self, section: &str, key: &str) -> (String, Option<&Path>) {
        match (self.settings.origin(section, key), self.kojid) {
            (Some(file), _) => (section.to_string(), Some(file)),
            (None, Some(kojid)) if section == "builder" => ("kojid".to_string(), Some(kojid)),
            (None, _) => (section.to_string(), None),
        }
    }

    /// "[section] key in FILE".
    fn key_in(&self, section: &str, key: &str) -> String {
        match self.origin(section, key) {
            (section, Some(file)) => format!("[{section}] {key} in {}", file.display()),
            (section, None) => format!("[{section}] {key}"),
        }
    }

    /// "[section] of FILE".
    fn section_of(&self, section: &str, key: &str) -> String {
        match self.origin(section, key) {
            (section, Some(file)) => format!("[{section}] of {}", file.display()),
            (section, None) => format!("[{section}]"),
        }
    }

    /// Where the hub URL came from: the host's keys, else [koji].
    fn hub_key(&self) -> String {
        let host_keys = self.settings.origin("builder", "server").is_some() || self.kojid.is_some();
        self.key_in(if host_keys { "builder" } else { "koji" }, "server")
    }

    /// "NAME" (readable, the key matches: composer's own loader) and "NAME
    /// validity" (the X.509 dates) of `cert`, which `setting` sets; only
    /// `not_used` when there is none. The certificate's identity and its
    /// subject's common name (the Koji user name of a host certificate), or
    /// why it cannot be used.
    fn certificate(
        &self,
        report: &mut Report<'_>,
        name: &str,
        cert: Option<&ClientCert>,
        setting: &str,
        not_used: &str,
    ) -> Result<Option<(Identity, Option<String>)>, String> {
        let Some(cert) = cert else {
            report.record(name, Outcome::NotUsed(not_used.to_string()));
            return Ok(None);
        };
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
                report.skip(&[&validity_name], &format!("{name} unreadable"));
                return Err(format!("{name} unusable"));
            }
        };
        let subject = common_name
            .as_deref()
            .map(|cn| format!(" (CN={cn})"))
            .unwrap_or_default();
        let readable = format!(
            "{}{subject}: readable, the private key matches",
            path.display()
        );
        report.record(name, Outcome::Pass(readable));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default();
        // An expired certificate still goes to the checks that use it: they
        // show what composer and the hub make of it.
        let outcome = validity(not_before, not_after, now, path, setting);
        report.record(&validity_name, outcome);
        Ok(Some((identity, common_name)))
    }

    /// "composer connection" and "composer TLS": `Ok` when an API request
    /// can be tried, else why not. The connection is a direct TCP one, so
    /// that "not reachable" and the TLS problems each show as what they are
    /// rather than as a failed HTTP request.
    async fn composer_transport(
        &self,
        report: &mut Report<'_>,
        identity: Option<Identity>,
    ) -> Result<(), String> {
        let composer = &self.settings.composer;
        let server = &composer.server;
        let server_key = self.key_in("composer", "server");
        let url = match url::Url::parse(server) {
            Ok(url) => url,
            Err(e) => {
                let problem = format!("'{server}' is not a URL ({e}); fix {server_key}");
                return no_connection(report, problem, "no composer URL");
            }
        };
        if composer.proxy.is_some() || env_proxy(url.scheme()) {
            let via = match composer.proxy {
                Some(_) => self.key_in("composer", "proxy"),
                None => "the proxy of the environment".to_string(),
            };
            let by_api = format!("through {via}: checked by the API request");
            report.record("composer connection", Outcome::NotUsed(by_api.clone()));
            report.record("composer TLS", Outcome::NotUsed(by_api));
            return Ok(());
        }
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
            let problem = format!("'{server}' names no host; fix {server_key}");
            return no_connection(report, problem, "no composer host");
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let stream = match within("answer", TcpStream::connect((host, port))).await {
            Ok(stream) => stream,
            Err(e) => {
                let problem = format!(
                    "cannot connect to {host}:{port}: {}; is composer running there? Check \
                     {server_key}",
                    doctor_report::io_reason(&e)
                );
                return no_connection(report, problem, "composer not reachable");
            }
        };
        let accepts = format!("{host}:{port} accepts connections");
        report.record("composer connection", Outcome::Pass(accepts));
        let outcome = if url.scheme() == "https" {
            self.composer_tls(stream, host, identity).await
        } else {
            Outcome::NotUsed(format!("not used ({server} is not https)"))
        };
        if report.record("composer TLS", outcome) {
            Ok(())
        } else {
            Err("composer's TLS handshake failed".to_string())
        }
    }

    /// The TLS handshake with composer on `stream`, presenting `identity`.
    async fn composer_tls(
        &self,
        stream: TcpStream,
        host: &str,
        identity: Option<Identity>,
    ) -> Outcome {
        use rustls::{CertificateError as Cert, Error as Tls};
        let composer = &self.settings.composer;
        let server = &composer.server;
        let verify_key = self.key_in("composer", "ssl_verify");
        let (trust, hint) = match &composer.ssl_verify {
            SslVerify::Disabled => {
                return Outcome::Warn(
                    "composer's certificate is not verified".into(),
                    format!("{verify_key} is off; point it at composer's CA file or directory"),
                )
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
        let Err(failure) = handshake(stream, host, identity, &composer.ssl_verify).await else {
            return Outcome::Pass(format!("{server}'s certificate is signed by {trust}"));
        };
        let problem = match failure.get_ref().and_then(|e| e.downcast_ref::<Tls>()) {
            Some(Tls::InvalidCertificate(
                Cert::UnknownIssuer | Cert::BadSignature | Cert::UnhandledCriticalExtension,
            )) => format!("composer's certificate at {server} is not signed by {trust}; {hint}"),
            Some(Tls::InvalidCertificate(
                Cert::NotValidForName | Cert::NotValidForNameContext { .. },
            )) => format!(
                "composer's certificate is not valid for {host}; use the host name it was \
                 issued for in {}",
                self.key_in("composer", "server")
            ),
            Some(Tls::InvalidCertificate(
                Cert::Expired
                | Cert::ExpiredContext { .. }
                | Cert::NotValidYet
                | Cert::NotValidYetContext { .. },
            )) => format!(
                "composer's certificate at {server} is expired or not yet valid; composer's \
                 admin must renew it"
            ),
            // composer ended the handshake: our client certificate (or the
            // lack of one) was not accepted.
            Some(Tls::AlertReceived(alert)) if presents_cert => format!(
                "composer ended the TLS handshake ({alert:?}): it does not accept our client \
                 certificate; check {} (a certificate of the CA composer trusts for clients)",
                self.key_in("composer", "ssl_cert")
            ),
            Some(Tls::AlertReceived(alert)) => format!(
                "composer ended the TLS handshake ({alert:?}): it wants a client certificate; \
                 set [composer] ssl_cert"
            ),
            tls => {
                let e = match tls {
                    Some(Tls::InvalidCertificate(c)) => format!("composer's certificate: {c:?}"),
                    Some(Tls::InvalidMessage(_)) => {
                        "the server does not speak TLS on this port".to_string()
                    }
                    Some(other) => other.to_string(),
                    // Not TLS's: the CA setting unusable, no answer, ...
                    None => doctor_report::io_reason(&failure),
                };
                format!(
                    "TLS with {server} failed: {e}; check {verify_key} and {}",
                    self.key_in("composer", "server")
                )
            }
        };
        Outcome::Fail(problem)
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
        let server_key = self.key_in("composer", "server");
        let cert_key = self.key_in("composer", "ssl_cert");
        // How we authenticate, and what it means when composer says no.
        let (how, refused) = match (&conf.oauth, &conf.ssl_cert) {
            (Some(o), _) => (
                format!("an OAuth token from {}", o.token_url),
                format!(
                    "composer does not accept tokens of client_id {}",
                    o.client_id
                ),
            ),
            (None, Some(_)) => (
                "our client certificate".to_string(),
                format!("composer does not accept our client certificate; check {cert_key}"),
            ),
            (None, None) => (
                "no credentials".to_string(),
                "composer wants credentials: set [composer] ssl_cert or a [composer:oauth] \
                 section"
                    .to_string(),
            ),
        };
        let api = client.api_url().to_string();
        let e = match client.compose_status(NIL_COMPOSE).await {
            // composer's "Compose with given id not found" is its error
            // object; a 404 page of some other server is not.
            Err(e) if e.status() != Some(404) || e.api_error().is_none() => e,
            _ => return Outcome::Pass(format!("{api} answers with {how}")),
        };
        let server = &conf.server;
        let problem = match (&e, e.status()) {
            (composer::Error::Api { .. }, Some(404)) => format!(
                "{api} answered 404 without composer's error object: is {server} \
                 osbuild-composer? Check {server_key}"
            ),
            (composer::Error::OAuth { token_url, .. }, Some(status @ (400 | 401 | 403))) => {
                format!(
                    "composer:oauth client_secret rejected by {token_url} (HTTP {status}); \
                     check client_id and client_secret in {}",
                    self.section_of("composer:oauth", "client_secret")
                )
            }
            (composer::Error::OAuth { token_url, .. }, Some(status)) => format!(
                "the token endpoint {token_url} answered HTTP {status}; check {}",
                self.key_in("composer:oauth", "token_url")
            ),
            (composer::Error::Api { .. }, Some(status @ (401 | 403))) => {
                format!("{api} answered HTTP {status}; {refused}")
            }
            (composer::Error::Api { .. }, Some(status)) => format!(
                "{api} answered HTTP {status} to a status request, not 404: is {server} \
                 osbuild-composer? ({server_key})"
            ),
            // Through a proxy the TLS check could not look: an alert from
            // composer is mostly about our certificate.
            (composer::Error::Transport { detail, .. }, _)
                if detail.contains("received fatal alert")
                    && !detail.contains("client certificate") =>
            {
                format!("{e}; does composer accept our client certificate? Check {cert_key}")
            }
            _ => e.to_string(),
        };
        Outcome::Fail(problem)
    }

    /// Log in as the host the way the builder does, but without the
    /// exclusive session, then log out. Returns the user logged in as, when
    /// the hub could say.
    async fn host_login(&self) -> Result<(Outcome, Option<String>), Outcome> {
        let s = self.settings;
        let options = doctor_report::koji_options(s.koji_options());
        let session =
            ClientSession::new(&s.hub, options).map_err(|e| Outcome::Fail(e.to_string()))?;
        let (login, who, how, fix) = match &s.auth {
            HostAuth::Password { user, password } => (
                session.login(user, password).await,
                format!(" as {user}"),
                "with a password",
                format!(
                    "check user and password in {}",
                    self.section_of("builder", "user")
                ),
            ),
            HostAuth::Certificate { .. } => (
                session.ssl_login().await,
                String::new(),
                "with the host certificate",
                format!(
                    "check {}: the hub must trust its CA and its CN must be the host's name",
                    self.key_in("builder", "cert")
                ),
            ),
            HostAuth::Kerberos(login) => (
                session.gssapi_login(login.clone()).await,
                format!(" as {}", login.who()),
                "by Kerberos",
                "the hub must know the principal (koji add-host --krb-principal, or its \
                 HostPrincipalFormat)"
                    .to_string(),
            ),
        };
        login.map_err(|e| {
            Outcome::Fail(format!("the hub refused the login{who} {how}: {e}; {fix}"))
        })?;
        // Koji lets a non-exclusive session of a host log in while the
        // builder holds the exclusive one, and answers its calls with
        // AuthLockError (logout still works).
        let user = session.get_logged_in_user().await;
        let _ = session.logout().await;
        match user {
            Ok(Some(user)) => Ok((
                Outcome::Pass(format!(
                    "logged in as {} {how} and logged out again (no builder holds the host's \
                     session now)",
                    user.name
                )),
                Some(user.name),
            )),
            Ok(None) => Err(Outcome::Fail(format!(
                "the hub accepted the login {how} but knows no user for it; {fix}"
            ))),
            Err(e) if e.is_fault(FaultKind::AuthLockError) => Ok((
                Outcome::Pass(format!(
                    "logged in{who} {how} and logged out again; a running builder holds the \
                     host's exclusive session (left alone)"
                )),
                None,
            )),
            Err(e) => Err(Outcome::Fail(format!("logged in {how}, but then: {e}"))),
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
    let Ok(t) = x509_parser::time::ASN1Time::from_timestamp(unix) else {
        return format!("{unix} (Unix time)");
    };
    let t = t.to_datetime();
    let (month, day, hour, minute) = (u8::from(t.month()), t.day(), t.hour(), t.minute());
    format!(
        "{:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC",
        t.year()
    )
}

/// The connection check failed with `problem`, so TLS cannot be checked.
fn no_connection(report: &mut Report<'_>, problem: String, why: &str) -> Result<(), String> {
    report.record("composer connection", Outcome::Fail(problem));
    report.skip(&["composer TLS"], why);
    Err(why.to_string())
}

/// `step` within [`TIMEOUT`], else "no `what` within 20 s".
async fn within<T>(
    what: &str,
    step: impl Future<Output = std::io::Result<T>>,
) -> std::io::Result<T> {
    let late = format!("no {what} within {} s", TIMEOUT.as_secs());
    tokio::time::timeout(TIMEOUT, step)
        .await
        .unwrap_or_else(|_| Err(std::io::Error::other(late)))
}

/// A TLS handshake on `stream` with the composer client's own rustls
/// configuration; the rustls error inside a failure says what went wrong.
async fn handshake(
    stream: TcpStream,
    host: &str,
    identity: Option<Identity>,
    verify: &SslVerify,
) -> std::io::Result<()> {
    let config = composer::client_config(identity, verify)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| std::io::Error::other(format!("'{host}' is not a TLS server name: {e}")))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let mut tls = within("TLS answer", connector.connect(name, stream)).await?;
    // In TLS 1.3 the client finishes its handshake before the server has
    // looked at the client certificate; a rejection arrives as an alert on
    // the first read. So ask for something and read the first byte.
    let probe = format!("HEAD / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    tls.write_all(probe.as_bytes()).await?;
    let mut first = [0u8; 1];
    // An answer, or none in time: the handshake itself went through.
    if let Ok(read) = tokio::time::timeout(TIMEOUT, tls.read(&mut first)).await {
        read?;
    }
    Ok(())
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
