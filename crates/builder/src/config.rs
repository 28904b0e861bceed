//! builder.conf, read once into types: upstream's `[composer]`,
//! `[composer:oauth]` and `[koji]` (how to reach composer, filled into
//! [`composer::ClientOptions`], and the hub composer imports into), and a
//! `[builder]` section with what a Koji host needs. A kojid.conf
//! (`[kojid]`) may provide those host keys instead, so that a kojid host
//! can switch over; `[builder]` wins. This is the only code that reads
//! builder.conf: the daemon, `doctor` and the compose commands all go
//! through it, so they cannot read the file differently.
//!
//! Files are read like upstream's `configparser.read(DEFAULT_CONFIG_FILES)`:
//! in order, later files winning key by key, missing files skipped. That
//! is for the default paths only: a file given on the command line
//! (`--config`, `--kojid-config`) must exist ([`check_given`]).
//!
//! ```ini
//! [composer]
//! server = https://composer.example.com       ; default: https://localhost
//! ssl_cert = /etc/koji-osbuild/c.pem, /etc/koji-osbuild/c.key   ; or one combined PEM
//! ssl_verify = /etc/koji-osbuild/ca.pem       ; True (default), False, a CA file or directory
//! proxy = http://squid.example.com:3128       ; for composer and token requests
//!
//! [composer:oauth]                            ; instead of (or with) ssl_cert
//! client_id = koji-osbuild
//! client_secret = …
//! token_url = https://sso.example.com/token
//!
//! [koji]
//! server = https://koji.example.com/kojihub   ; the hub composer imports into
//!
//! [builder]
//! server = https://koji.example.com/kojihub   ; default: [koji] server
//! topurl = https://koji.example.com/kojifiles
//! cert = /etc/koji-osbuild/builder.pem        ; or user + password, or Kerberos:
//! ; keytab = /etc/kojid/kojid.keytab          ; kojid's keys and defaults
//! ; host_principal_format = compile/%s@EXAMPLE.COM   ; %s = hostname
//! ; krb_principal = compile/b1@EXAMPLE.COM    ; instead of the format
//! ; ccache = FILE:/var/tmp/koji-osbuild.ccache ; default: in memory
//! ; hostname = b1.example.com                 ; default: this machine's FQDN
//! serverca = /etc/pki/tls/certs/ca-bundle.crt
//! sleeptime = 15                              ; seconds between polls of the hub
//! capacity = 10                               ; tasks at once (kojid: maxjobs)
//! force_exclusive = true                      ; take over the host's session
//! compose_poll_interval = 2                   ; seconds between compose status polls
//!
//! ; Koji client retries, with kojid's names and defaults (also read from
//! ; [kojid]); they apply to the host's session and every task's subsession
//! max_retries = 120                           ; tries again after a failed hub call
//! retry_interval = 60                         ; seconds between those tries
//! offline_retry = true                        ; keep waiting while the hub says ServerOffline
//! offline_retry_interval = 120                ; seconds between tries while offline
//!
//! ; composer trouble ([builder] only)
//! composer_outage_timeout = 1800              ; seconds composer may fail before a task gives up
//! compose_timeout = 86400                     ; seconds a compose may run; 0 = no limit
//! metrics_listen = 127.0.0.1:9100             ; serve Prometheus /metrics here (default: off)
//! ```
//!
//! How the builder rides out trouble:
//!
//! - **The hub is unreachable or answers ServerOffline.** Every hub call
//!   is tried again `max_retries` times, `retry_interval` apart (the first
//!   retry at once); ServerOffline is waited out without limit every
//!   `offline_retry_interval` when `offline_retry` is on. With the
//!   defaults a call keeps trying for two hours. A task whose call still
//!   finds the hub unreachable after that does not fail: it starts over
//!   with the same call until the hub answers (the task could not report
//!   a failure to an unreachable hub anyway), and its compose keeps
//!   running. An expired session is logged in again. The systemd watchdog
//!   keeps being fed while the host loop waits out the hub, as long as
//!   its calls keep getting answers or errors (see notify.rs).
//! - **Composer answers 5xx or drops connections** (also refused
//!   connections and timeouts; not 4xx, not certificate problems). While a
//!   task follows its compose (status polls, logs, manifests) such
//!   failures are tried again with a growing pause (1 s, doubling, at most
//!   60 s) until they have lasted `composer_outage_timeout` seconds in a
//!   row; then the task fails with a BuildError naming composer, the
//!   compose, how long it failed and the last error. A compose request
//!   (POST) is never sent twice unless the connection was refused, so no
//!   second compose is created.
//! - **A compose runs too long.** After `compose_timeout` seconds the
//!   compose is canceled in composer and the task fails with a BuildError
//!   saying so. The clock starts when composer accepted the compose: for a
//!   compose this task created, that moment; for one a rerun of the task
//!   resumes (compose.json), the time the hub stored compose.json, which
//!   the earlier run attached right after composer accepted the compose
//!   (composer's API does not tell when a compose started). If the hub
//!   gives no time, the clock starts at the resume.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use composer::{ClientCert, ClientOptions, OAuthCredentials, RetryPolicy, Secret, SslVerify};
use pyini::{Ini, IniError};

/// Where upstream's builder plugin looks for builder.conf, in reading order.
pub const DEFAULT_CONFIG_FILES: [&str; 2] = [
    "/usr/share/koji-osbuild/builder.conf",
    "/etc/koji-osbuild/builder.conf",
];

/// Upstream's defaults for `[composer] server` and `[koji] server`.
const DEFAULT_COMPOSER_URL: &str = "https://localhost";
const DEFAULT_KOJIHUB_URL: &str = "https://localhost/kojihub";
/// kojid's defaults: `sleeptime`, `maxjobs`, `max_retries` (the koji
/// library's is 30), `retry_interval` (the library's is 20 s),
/// `offline_retry_interval`.
const DEFAULT_SLEEPTIME: Duration = Duration::from_secs(15);
const DEFAULT_CAPACITY: usize = 10;
const DEFAULT_MAX_RETRIES: u32 = 120;
const DEFAULT_RETRY_INTERVAL: Duration = Duration::from_secs(60);
const DEFAULT_OFFLINE_RETRY_INTERVAL: Duration = Duration::from_secs(120);
/// How long composer may fail in a row before a task gives up: 30 min.
const DEFAULT_COMPOSER_OUTAGE_TIMEOUT: Duration = Duration::from_secs(1800);
/// How long a compose may run: a day.
const DEFAULT_COMPOSE_TIMEOUT: Duration = Duration::from_secs(86400);

/// A configuration that cannot be used. Each names the file (and key) to
/// fix; none carries a secret value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file named on the command line (`flag`) that is not there: the
    /// default files may be missing, a file given by hand may not.
    #[error("config file {} does not exist (given with {flag})", path.display())]
    NotFound { path: PathBuf, flag: &'static str },
    #[error("cannot read config file {}: {}", path.display(), doctor_report::io_reason(source))]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {} is not valid UTF-8", path.display())]
    Encoding { path: PathBuf },
    #[error("invalid config: {0}")]
    Syntax(#[from] IniError),
    #[error("invalid '{key}' in [{section}] of {file}: {reason}")]
    Invalid {
        file: String,
        section: String,
        key: String,
        reason: String,
    },
    #[error("[{section}] in {files} is missing '{key}'")]
    MissingKey {
        /// The files that have a `[section]` header.
        files: String,
        section: String,
        key: String,
    },
    #[error("no Koji host credentials: set 'cert', 'user' and 'password', or 'keytab' and 'host_principal_format' in [builder] of {files} (or in [kojid] of --kojid-config)")]
    NoCredentials { files: String },
    #[error("'user' without 'password' in [{section}] of {file}")]
    PasswordMissing { file: String, section: String },
}

/// How the builder logs in to the hub as its host user.
#[derive(Clone, PartialEq, Eq)]
pub enum HostAuth {
    /// `login(user, password)` (test setups).
    Password { user: String, password: String },
    /// `sslLogin` with a client certificate (`cert` may hold the key).
    Certificate { cert: PathBuf, key: Option<PathBuf> },
    /// Kerberos (`gssapi_login`) with the host principal's keytab, as
    /// kojid does: `krb_principal`, else `host_principal_format` % the
    /// host name.
    Kerberos(koji::KerberosLogin),
}

// The password never shows in logs or error messages.
impl fmt::Debug for HostAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostAuth::Password { user, .. } => f
                .debug_struct("Password")
                .field("user", user)
                .field("password", &"<hidden>")
                .finish(),
            HostAuth::Certificate { cert, key } => f
                .debug_struct("Certificate")
                .field("cert", cert)
                .field("key", key)
                .finish(),
            HostAuth::Kerberos(login) => f.debug_tuple("Kerberos").field(login).finish(),
        }
    }
}

/// Everything the daemon runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How to reach composer (`[composer]`, `[composer:oauth]`), with the
    /// daemon's retry policy.
    pub composer: ClientOptions,
    /// `[koji] server`: the hub composer imports the builds into.
    pub koji_server: String,
    /// The hub the host loop talks to.
    pub hub: String,
    /// The hub's file URL (kojid `topurl`), for the build tag's repo URL.
    pub topurl: Option<String>,
    pub auth: HostAuth,
    /// CA bundle for the hub's certificate.
    pub serverca: Option<PathBuf>,
    /// Pause between polls of the hub (kojid `sleeptime`).
    pub sleeptime: Duration,
    /// Tasks run at once (kojid `maxjobs`).
    pub capacity: usize,
    /// `exclusiveSession(force=…)`. On by default: after a crash the old
    /// exclusive session of the host is still open, and a restarted daemon
    /// could not get its own without force (kojid's `--force-lock`).
    pub force_exclusive: bool,
    /// Pause between compose status polls (upstream's `sleep_time=2`), also
    /// used while waiting for subtasks.
    pub compose_poll_interval: Duration,
    /// Koji client retries (kojid's `max_retries`, `retry_interval`,
    /// `offline_retry`, `offline_retry_interval`).
    pub max_retries: u32,
    pub retry_interval: Duration,
    pub offline_retry: bool,
    pub offline_retry_interval: Duration,
    /// How long composer may fail in a row while a task follows its
    /// compose; zero gives up at the first failure the client's own
    /// retries do not fix.
    pub composer_outage_timeout: Duration,
    /// How long a compose may run before it is canceled; `None`: no limit.
    pub compose_timeout: Option<Duration>,
    /// Where to serve the Prometheus metrics (`/metrics`); `None`: nowhere.
    pub metrics_listen: Option<SocketAddr>,
    /// builder.conf as read: doctor's hints name the file a key is in.
    conf: Conf,
}

/// The builder.conf files as read.
#[derive(Debug, Clone)]
struct Conf {
    ini: Ini,
    files: Vec<PathBuf>,
}

impl Conf {
    /// Read `paths` in order; later files override earlier ones key by
    /// key. A missing file is skipped (as `configparser.read` does) unless
    /// `must_exist`; one that exists but cannot be read is an error.
    fn read<P: AsRef<Path>>(paths: &[P], must_exist: bool) -> Result<Conf, ConfigError> {
        let mut conf = Conf {
            ini: Ini::new(),
            files: Vec::new(),
        };
        for path in paths {
            let path = path.as_ref();
            match read_into(&mut conf.ini, path) {
                Err(ConfigError::Read { source, .. })
                    if !must_exist && source.kind() == std::io::ErrorKind::NotFound =>
                {
                    tracing::debug!(path = %path.display(), "config file not present, skipped");
                }
                Err(e) => return Err(e),
                Ok(()) => conf.files.push(path.to_path_buf()),
            }
        }
        Ok(conf)
    }

    fn files_display(&self) -> String {
        let files: Vec<String> = self.files.iter().map(|p| p.display().to_string()).collect();
        if files.is_empty() {
            "builder.conf".to_string()
        } else {
            files.join(" and ")
        }
    }

    fn section(&self, section: &'static str) -> Source<'_> {
        Source {
            ini: &self.ini,
            section,
            fallback_file: self.files_display(),
            raw: false,
        }
    }

    /// `[composer]`, `[composer:oauth]` and `[koji] server`, as upstream's
    /// builder plugin reads them.
    fn composer(&self) -> Result<(ClientOptions, String), ConfigError> {
        let c = self.section("composer");
        // Upstream tests `"ssl_cert" in composer`, so an empty value is
        // still "set" and then fails; we say so instead of failing at
        // connect time.
        let ssl_cert = c.get("ssl_cert")?.map(|v| parse_cert(&v));
        let ssl_cert = ssl_cert.transpose().map_err(|e| c.invalid("ssl_cert", e))?;
        let ssl_verify = c.get("ssl_verify")?.map(|v| parse_verify(&v));
        let ssl_verify = ssl_verify
            .transpose()
            .map_err(|e| c.invalid("ssl_verify", e))?;
        let oauth = if self.ini.has_section("composer:oauth") {
            let o = self.section("composer:oauth");
            Some(OAuthCredentials {
                client_id: o.required("client_id")?,
                client_secret: Secret::new(o.required("client_secret")?),
                token_url: o.required("token_url")?,
            })
        } else {
            None
        };
        let server = c.get("server")?;
        let options = ClientOptions {
            ssl_cert,
            ssl_verify: ssl_verify.unwrap_or_default(),
            // Upstream: `if proxy:` - an empty value means no proxy.
            proxy: c.nonempty("proxy")?,
            oauth,
            retry: RetryPolicy::BUILDER,
            ..ClientOptions::new(server.unwrap_or_else(|| DEFAULT_COMPOSER_URL.into()))
        };
        let koji_server = self.section("koji").get("server")?;
        Ok((
            options,
            koji_server.unwrap_or_else(|| DEFAULT_KOJIHUB_URL.into()),
        ))
    }
}

/// Read one file into `ini`.
fn read_into(ini: &mut Ini, path: &Path) -> Result<(), ConfigError> {
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| ConfigError::Encoding {
        path: path.to_path_buf(),
    })?;
    Ok(ini.read_str(&text, path)?)
}

/// `ssl_cert` (and the compose commands' `--cert`) as upstream's
/// `Client.parse_certs` reads it, in its words: split on `,`, each part
/// stripped; one part is a combined PEM file, two are cert and key.
pub fn parse_cert(value: &str) -> Result<ClientCert, String> {
    let parts: Vec<&str> = value.split(',').map(str::trim).collect();
    match parts[..] {
        [one] if !one.is_empty() => Ok(ClientCert::Combined(one.into())),
        [cert, key] if !cert.is_empty() && !key.is_empty() => Ok(ClientCert::Pair {
            cert: cert.into(),
            key: key.into(),
        }),
        // Upstream would hand an empty path to requests and fail on the
        // first connection; saying it now names the key instead.
        [_] | [_, _] => Err(format!("Invalid cert string '{value}' (empty path)")),
        _ => Err(format!(
            "Invalid cert string '{value}' ({} certs)",
            parts.len()
        )),
    }
}

/// `ssl_verify` as upstream reads it: a configparser boolean, else a CA
/// file or directory.
fn parse_verify(value: &str) -> Result<SslVerify, String> {
    match pyini::parse_bool(value) {
        Some(true) => Ok(SslVerify::Enabled),
        Some(false) => Ok(SslVerify::Disabled),
        // requests would treat "" as falsy and silently skip verification;
        // an empty value is far more likely a mistake than a wish.
        None if value.is_empty() => {
            Err("is empty (use True, False, or a CA file or directory)".to_string())
        }
        None => Ok(SslVerify::CaPath(value.into())),
    }
}

/// A file given on the command line with `flag` (`--config`,
/// `--kojid-config`) must exist and be readable, before anything starts.
pub fn check_given(path: &Path, flag: &'static str) -> Result<(), ConfigError> {
    match std::fs::File::open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ConfigError::NotFound {
            path: path.to_path_buf(),
            flag,
        }),
        Err(source) => Err(ConfigError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// What the compose commands take from builder.conf.
#[derive(Debug)]
pub struct ComposerSettings {
    pub client: ClientOptions,
    /// `[koji] server`, else upstream's default.
    pub koji_server: String,
    /// Whether a file set `[composer] server`; if not, `client.server` is
    /// upstream's default, which the compose commands do not use.
    pub server_configured: bool,
}

/// `[composer]`, `[composer:oauth]` and `[koji] server` of the builder.conf
/// files `paths`, all given with `--config` and so all required: the
/// compose commands, which need no `[builder]` section.
pub fn composer_settings(paths: &[PathBuf]) -> Result<ComposerSettings, ConfigError> {
    for path in paths {
        check_given(path, "--config")?;
    }
    let conf = Conf::read(paths, true)?;
    let (client, koji_server) = conf.composer()?;
    Ok(ComposerSettings {
        client,
        koji_server,
        server_configured: conf.ini.entry("composer", "server").is_some(),
    })
}

/// One section of one configuration: typed values, and errors that name
/// the file a bad value came from.
struct Source<'a> {
    ini: &'a Ini,
    section: &'static str,
    fallback_file: String,
    /// Values as written, without configparser's `%` interpolation: kojid
    /// reads kojid.conf raw (`host_principal_format = compile/%s@…`).
    raw: bool,
}

impl Source<'_> {
    /// The value (interpolated like configparser, `[DEFAULT]` applies).
    fn get(&self, key: &str) -> Result<Option<String>, ConfigError> {
        if self.raw {
            return Ok(self.raw_value(key));
        }
        Ok(self.ini.get(self.section, key)?)
    }

    /// The value as written (no interpolation).
    fn raw_value(&self, key: &str) -> Option<String> {
        self.ini.entry(self.section, key).map(|e| e.value.clone())
    }

    fn file(&self, key: &str) -> String {
        self.ini
            .entry(self.section, key)
            .map(|e| e.origin.file.display().to_string())
            .unwrap_or_else(|| self.fallback_file.clone())
    }

    fn invalid(&self, key: &str, reason: String) -> ConfigError {
        ConfigError::Invalid {
            file: self.file(key),
            section: self.section.to_string(),
            key: key.to_string(),
            reason,
        }
    }

    /// A key the section cannot do without.
    fn required(&self, key: &str) -> Result<String, ConfigError> {
        match self.get(key)? {
            Some(v) if !v.is_empty() => Ok(v),
            Some(_) => Err(self.invalid(key, "is empty".to_string())),
            None => {
                let mut files: Vec<String> = Vec::new();
                let headers = self.ini.section(self.section).into_iter();
                for file in headers.flat_map(|s| &s.headers).map(|h| h.file.display()) {
                    let file = file.to_string();
                    if !files.contains(&file) {
                        files.push(file);
                    }
                }
                Err(ConfigError::MissingKey {
                    files: files.join(" and "),
                    section: self.section.to_string(),
                    key: key.to_string(),
                })
            }
        }
    }

    /// The value converted by `parse`, which says `None` when the value is
    /// not `what`; the error quotes the value.
    fn parsed<T>(
        &self,
        key: &str,
        what: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, ConfigError> {
        let Some(v) = self.get(key)? else {
            return Ok(None);
        };
        match parse(v.trim()) {
            Some(value) => Ok(Some(value)),
            None => Err(self.invalid(key, format!("'{v}' is not {what}"))),
        }
    }

    fn seconds(&self, key: &str) -> Result<Option<Duration>, ConfigError> {
        self.parsed(key, "a positive number of seconds", |v| {
            let s = Duration::try_from_secs_f64(v.parse().ok()?).ok()?;
            (!s.is_zero()).then_some(s)
        })
    }

    /// Seconds, where 0 is allowed (it means "none" or "never").
    fn seconds_or_zero(&self, key: &str) -> Result<Option<Duration>, ConfigError> {
        self.parsed(key, "a number of seconds (0 or more)", |v| {
            let s = v.parse::<f64>().ok()?;
            (0.0..1e12).contains(&s).then(|| Duration::from_secs_f64(s))
        })
    }

    /// A whole number, 0 included.
    fn whole(&self, key: &str) -> Result<Option<u32>, ConfigError> {
        self.parsed(key, "a whole number (0 or more)", |v| v.parse().ok())
    }

    fn count(&self, key: &str) -> Result<Option<usize>, ConfigError> {
        self.parsed(key, "a positive whole number", |v| {
            v.parse().ok().filter(|n: &usize| *n > 0)
        })
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        let what = "a boolean (use yes/no, true/false, on/off, 1/0)";
        self.parsed(key, what, pyini::parse_bool)
    }

    /// An address and port to listen on; empty means none.
    fn listen_address(&self, key: &str) -> Result<Option<SocketAddr>, ConfigError> {
        let what = "an address:port to listen on (e.g. 127.0.0.1:9100 or [::]:9100)";
        let address = self.parsed(key, what, |v| match v {
            "" => Some(None),
            v => v.parse().ok().map(Some),
        })?;
        Ok(address.flatten())
    }

    fn nonempty(&self, key: &str) -> Result<Option<String>, ConfigError> {
        Ok(self.get(key)?.filter(|v| !v.trim().is_empty()))
    }
}

/// kojid's defaults for a Kerberos host.
const DEFAULT_KEYTAB: &str = "/etc/kojid/kojid.keytab";
/// kojid's default `host_principal_format`: with kojid.conf, a host with
/// no cert and no user logs in by Kerberos, as kojid does.
const KOJID_PRINCIPAL_FORMAT: &str = "compile/%s@EXAMPLE.COM";
/// kojid uses these when kojid.conf names no `cert` or `serverca` and the
/// file exists.
const KOJID_CERT: &str = "/etc/kojid/client.crt";
const KOJID_SERVERCA: &str = "/etc/kojid/serverca.crt";

/// kojid's default for a file it uses only if it is there.
fn kojid_file(source: &Source, default: &str) -> Option<String> {
    (source.section == "kojid" && Path::new(default).exists()).then(|| default.to_string())
}

/// The host's credentials from the first of `sources` that has any. They
/// come as a set from one section: a cert in [builder] is not combined with
/// a password from kojid.conf. `hostname` fills `host_principal_format`.
fn host_auth(
    sources: &[&Source],
    hostname: &dyn Fn() -> String,
) -> Result<Option<HostAuth>, ConfigError> {
    for s in sources {
        if let Some(cert) = s.nonempty("cert")?.or_else(|| kojid_file(s, KOJID_CERT)) {
            let key = s.nonempty("key")?.map(PathBuf::from);
            let cert = PathBuf::from(cert);
            return Ok(Some(HostAuth::Certificate { cert, key }));
        }
        if let Some(user) = s.nonempty("user")? {
            let Some(password) = s.get("password")? else {
                return Err(ConfigError::PasswordMissing {
                    file: s.file("user"),
                    section: s.section.to_string(),
                });
            };
            return Ok(Some(HostAuth::Password { user, password }));
        }
        // Read as written in builder.conf too: `%s` is kojid's placeholder,
        // not configparser's interpolation.
        let format = s
            .raw_value("host_principal_format")
            .filter(|v| !v.trim().is_empty())
            .or_else(|| (s.section == "kojid").then(|| KOJID_PRINCIPAL_FORMAT.to_string()));
        let principal = match (s.nonempty("krb_principal")?, &format) {
            (Some(p), _) => Some(p),
            (None, Some(f)) if f.contains("%s") => Some(f.replacen("%s", &hostname(), 1)),
            (None, Some(_)) => {
                let why = "has no %s for the host name (e.g. compile/%s@EXAMPLE.COM)";
                return Err(s.invalid("host_principal_format", why.to_string()));
            }
            (None, None) => None,
        };
        let keytab = s.nonempty("keytab")?;
        if principal.is_some() || keytab.is_some() {
            let Some(principal) = principal else {
                return Err(ConfigError::MissingKey {
                    files: s.file("keytab"),
                    section: s.section.to_string(),
                    key: "host_principal_format' or 'krb_principal".to_string(),
                });
            };
            return Ok(Some(HostAuth::Kerberos(koji::KerberosLogin {
                principal: Some(principal),
                keytab: Some(keytab.unwrap_or_else(|| DEFAULT_KEYTAB.to_string()).into()),
                ccache: s.nonempty("ccache")?,
            })));
        }
    }
    Ok(None)
}

impl Settings {
    /// Read builder.conf from `builder_paths` (later files win, missing
    /// files skipped, as upstream) and, if given, a kojid.conf, which must
    /// exist.
    pub fn load<P: AsRef<Path>>(
        builder_paths: &[P],
        kojid_conf: Option<&Path>,
    ) -> Result<Settings, ConfigError> {
        let conf = Conf::read(builder_paths, false)?;
        let (composer, koji_server) = conf.composer()?;
        let mut kojid_ini = Ini::new();
        let kojid = match kojid_conf {
            None => None,
            Some(path) => {
                check_given(path, "--kojid-config")?;
                read_into(&mut kojid_ini, path)?;
                Some(Source {
                    ini: &kojid_ini,
                    section: "kojid",
                    fallback_file: path.display().to_string(),
                    raw: true,
                })
            }
        };
        let builder = conf.section("builder");
        // [builder] first, then [kojid]; each value is checked where it was
        // found so the error names that file.
        let sources: Vec<&Source> = std::iter::once(&builder).chain(kojid.as_ref()).collect();
        macro_rules! first {
            ($method:ident, $($key:expr),+) => {{
                let mut found = None;
                'outer: for s in &sources {
                    for key in [$($key),+] {
                        if let Some(v) = s.$method(key)? {
                            found = Some(v);
                            break 'outer;
                        }
                    }
                }
                found
            }};
        }

        // The host's name in host_principal_format (kojid: the FQDN).
        let hostname = first!(nonempty, "hostname");
        Ok(Settings {
            hub: first!(nonempty, "server").unwrap_or_else(|| koji_server.clone()),
            topurl: first!(nonempty, "topurl"),
            serverca: first!(nonempty, "serverca")
                .or_else(|| kojid.as_ref().and_then(|k| kojid_file(k, KOJID_SERVERCA)))
                .map(PathBuf::from),
            sleeptime: first!(seconds, "sleeptime").unwrap_or(DEFAULT_SLEEPTIME),
            capacity: first!(count, "capacity", "maxjobs").unwrap_or(DEFAULT_CAPACITY),
            force_exclusive: builder.boolean("force_exclusive")?.unwrap_or(true),
            compose_poll_interval: builder
                .seconds("compose_poll_interval")?
                .unwrap_or(composer::DEFAULT_POLL_INTERVAL),
            max_retries: first!(whole, "max_retries").unwrap_or(DEFAULT_MAX_RETRIES),
            retry_interval: first!(seconds, "retry_interval").unwrap_or(DEFAULT_RETRY_INTERVAL),
            offline_retry: first!(boolean, "offline_retry").unwrap_or(true),
            offline_retry_interval: first!(seconds, "offline_retry_interval")
                .unwrap_or(DEFAULT_OFFLINE_RETRY_INTERVAL),
            composer_outage_timeout: builder
                .seconds_or_zero("composer_outage_timeout")?
                .unwrap_or(DEFAULT_COMPOSER_OUTAGE_TIMEOUT),
            compose_timeout: match builder.seconds_or_zero("compose_timeout")? {
                None => Some(DEFAULT_COMPOSE_TIMEOUT),
                Some(d) if d.is_zero() => None,
                Some(d) => Some(d),
            },
            metrics_listen: builder.listen_address("metrics_listen")?,
            auth: host_auth(&sources, &|| {
                hostname.clone().unwrap_or_else(koji::kerberos::local_fqdn)
            })?
            .ok_or_else(|| ConfigError::NoCredentials {
                files: conf.files_display(),
            })?,
            composer,
            koji_server,
            conf,
        })
    }

    /// The builder.conf files that were read, in order.
    pub fn files_read(&self) -> &[PathBuf] {
        &self.conf.files
    }

    /// The builder.conf file that set `key` in `section`, for messages that
    /// say where to fix something.
    pub fn origin(&self, section: &str, key: &str) -> Option<&Path> {
        let entry = self.conf.ini.entry(section, key)?;
        Some(&entry.origin.file)
    }

    /// Koji client options for the hub session.
    pub fn koji_options(&self) -> koji::Options {
        // Subsessions copy these, so every task's calls retry alike.
        let mut opts = koji::Options {
            serverca: self.serverca.clone(),
            max_retries: self.max_retries,
            retry_interval: self.retry_interval,
            offline_retry: self.offline_retry,
            offline_retry_interval: self.offline_retry_interval,
            ..koji::Options::default()
        };
        if let HostAuth::Certificate { cert, key } = &self.auth {
            opts.cert = Some(cert.clone());
            opts.key = key.clone();
        }
        opts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn builder_section_with_password() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a.conf", "[composer]\nserver = https://composer\n[koji]\nserver = https://koji/kojihub\n[builder]\nuser = builder.local\npassword = secret\nsleeptime = 0.5\ncapacity = 3\n");
        let s = Settings::load(&[a], None).unwrap();
        assert_eq!(s.hub, "https://koji/kojihub");
        assert_eq!(
            s.auth,
            HostAuth::Password {
                user: "builder.local".into(),
                password: "secret".into()
            }
        );
        assert_eq!(s.sleeptime, Duration::from_millis(500));
        assert_eq!(s.capacity, 3);
        assert!(s.force_exclusive);
        assert_eq!(s.compose_poll_interval, Duration::from_secs(2));
        assert!(!format!("{s:?}").contains("secret"));
        // kojid's retry defaults, and ours for composer
        assert_eq!(s.max_retries, 120);
        assert_eq!(s.retry_interval, Duration::from_secs(60));
        assert!(s.offline_retry);
        assert_eq!(s.offline_retry_interval, Duration::from_secs(120));
        assert_eq!(s.composer_outage_timeout, Duration::from_secs(1800));
        assert_eq!(s.compose_timeout, Some(Duration::from_secs(86400)));
        let o = s.koji_options();
        assert_eq!(
            (
                o.max_retries,
                o.retry_interval,
                o.offline_retry,
                o.offline_retry_interval
            ),
            (120, Duration::from_secs(60), true, Duration::from_secs(120))
        );
    }

    #[test]
    fn retry_and_timeout_keys() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(
            dir.path(),
            "a.conf",
            "[builder]\nuser = a\npassword = p\nmax_retries = 0\nretry_interval = 0.5\n\
             offline_retry = no\noffline_retry_interval = 2\ncomposer_outage_timeout = 0\n\
             compose_timeout = 0\n",
        );
        let s = Settings::load(&[&a], None).unwrap();
        assert_eq!(s.max_retries, 0);
        assert_eq!(s.retry_interval, Duration::from_millis(500));
        assert!(!s.offline_retry);
        assert_eq!(s.offline_retry_interval, Duration::from_secs(2));
        assert_eq!(s.composer_outage_timeout, Duration::ZERO);
        assert_eq!(s.compose_timeout, None, "0 = no limit");

        // kojid.conf provides the Koji retry keys; [builder] wins
        let b = write(
            dir.path(),
            "b.conf",
            "[builder]\nuser = a\npassword = p\nretry_interval = 5\ncompose_timeout = 3600\n",
        );
        let k = write(
            dir.path(),
            "kojid.conf",
            "[kojid]\nmax_retries = 7\nretry_interval = 9\noffline_retry = false\n\
             offline_retry_interval = 11\ncompose_timeout = 1\n",
        );
        let s = Settings::load(&[&b], Some(&k)).unwrap();
        assert_eq!(s.max_retries, 7);
        assert_eq!(s.retry_interval, Duration::from_secs(5), "[builder] wins");
        assert!(!s.offline_retry);
        assert_eq!(s.offline_retry_interval, Duration::from_secs(11));
        assert_eq!(
            s.compose_timeout,
            Some(Duration::from_secs(3600)),
            "compose_timeout is read from [builder] only"
        );

        for (key, value, file, section) in [
            ("max_retries", "-1", "c.conf", "[builder]"),
            ("max_retries", "lots", "c.conf", "[builder]"),
            ("retry_interval", "0", "c.conf", "[builder]"),
            ("offline_retry", "perhaps", "c.conf", "[builder]"),
            ("offline_retry_interval", "soon", "c.conf", "[builder]"),
            ("composer_outage_timeout", "-5", "c.conf", "[builder]"),
            ("compose_timeout", "a day", "c.conf", "[builder]"),
        ] {
            let c = write(
                dir.path(),
                "c.conf",
                &format!("[builder]\nuser = a\npassword = p\n{key} = {value}\n"),
            );
            let e = Settings::load(&[&c], None).unwrap_err().to_string();
            assert!(
                e.contains(&format!("'{key}'"))
                    && e.contains(file)
                    && e.contains(section)
                    && e.contains(value),
                "{e}"
            );
        }
        let k = write(dir.path(), "kojid2.conf", "[kojid]\nmax_retries = many\n");
        let c = write(dir.path(), "d.conf", "[builder]\nuser = a\npassword = p\n");
        let e = Settings::load(&[&c], Some(&k)).unwrap_err().to_string();
        assert!(
            e.contains("'max_retries'") && e.contains("kojid2.conf") && e.contains("[kojid]"),
            "{e}"
        );
    }

    #[test]
    fn later_file_wins() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(
            dir.path(),
            "a.conf",
            "[builder]\nuser = a\npassword = p\ncapacity = 3\n",
        );
        let b = write(
            dir.path(),
            "b.conf",
            "[builder]\ncapacity = 5\nserver = http://hub/kojihub\n",
        );
        let missing = dir.path().join("missing.conf");
        let s = Settings::load(&[missing, a, b], None).unwrap();
        assert_eq!(s.capacity, 5);
        assert_eq!(s.hub, "http://hub/kojihub");
    }

    #[test]
    fn kojid_conf_provides_host_keys() {
        let dir = tempfile::tempdir().unwrap();
        let b = write(
            dir.path(),
            "builder.conf",
            "[koji]\nserver = https://other/kojihub\n[builder]\nsleeptime = 2\n",
        );
        let k = write(dir.path(), "kojid.conf", "[kojid]\nserver = https://koji/kojihub\ntopurl = https://koji/kojifiles\ncert = /etc/kojid/kojid.pem\nserverca = /etc/kojid/ca.crt\nsleeptime = 15\nmaxjobs = 7\nuser = kojibuilder\n");
        let s = Settings::load(&[b], Some(&k)).unwrap();
        assert_eq!(s.hub, "https://koji/kojihub");
        assert_eq!(s.topurl.as_deref(), Some("https://koji/kojifiles"));
        assert_eq!(
            s.auth,
            HostAuth::Certificate {
                cert: "/etc/kojid/kojid.pem".into(),
                key: None
            }
        );
        assert_eq!(s.serverca, Some(PathBuf::from("/etc/kojid/ca.crt")));
        assert_eq!(s.sleeptime, Duration::from_secs(2), "[builder] wins");
        assert_eq!(s.capacity, 7);
        let opts = s.koji_options();
        assert_eq!(opts.cert, Some(PathBuf::from("/etc/kojid/kojid.pem")));
    }

    #[test]
    fn kerberos_host_keys_as_kojid() {
        let dir = tempfile::tempdir().unwrap();
        let b = write(
            dir.path(),
            "b.conf",
            "[builder]\nhostname = b1.example.com\n",
        );
        // kojid.conf is read raw, as kojid reads it: %s stays
        let k = write(
            dir.path(),
            "kojid.conf",
            "[kojid]\nhost_principal_format = compile/%s@EXAMPLE.COM\nkeytab = /k.keytab\n",
        );
        let s = Settings::load(&[&b], Some(&k)).unwrap();
        assert_eq!(
            s.auth,
            HostAuth::Kerberos(koji::KerberosLogin {
                principal: Some("compile/b1.example.com@EXAMPLE.COM".into()),
                keytab: Some("/k.keytab".into()),
                ccache: None,
            })
        );
        // a kojid.conf with no credentials: kojid's Kerberos defaults
        let bare = write(
            dir.path(),
            "bare.conf",
            "[kojid]\nserver = https://koji/kojihub\n",
        );
        let s = Settings::load(&[&b], Some(&bare)).unwrap();
        assert_eq!(
            s.auth,
            HostAuth::Kerberos(koji::KerberosLogin {
                principal: Some("compile/b1.example.com@EXAMPLE.COM".into()),
                keytab: Some("/etc/kojid/kojid.keytab".into()),
                ccache: None,
            })
        );
        // [builder] alone: kojid's default keytab; krb_principal wins over the format
        let c = write(
            dir.path(),
            "c.conf",
            "[builder]\nhost_principal_format = compile/%s@X\nkrb_principal = h@X\n\
             ccache = FILE:/tmp/cc\n",
        );
        let s = Settings::load(&[&c], None).unwrap();
        assert_eq!(
            s.auth,
            HostAuth::Kerberos(koji::KerberosLogin {
                principal: Some("h@X".into()),
                keytab: Some("/etc/kojid/kojid.keytab".into()),
                ccache: Some("FILE:/tmp/cc".into()),
            })
        );
        // a format without %s, or a keytab without a principal, is refused
        let d = write(
            dir.path(),
            "d.conf",
            "[builder]\nhost_principal_format = compile@X\n",
        );
        let e = Settings::load(&[&d], None).unwrap_err().to_string();
        assert!(
            e.contains("'host_principal_format'") && e.contains("%s"),
            "{e}"
        );
        let e2 = write(dir.path(), "e.conf", "[builder]\nkeytab = /k.keytab\n");
        let e = Settings::load(&[&e2], None).unwrap_err().to_string();
        assert!(e.contains("host_principal_format"), "{e}");
        // a cert still wins, as in kojid
        let f = write(
            dir.path(),
            "f.conf",
            "[builder]\ncert = /c.pem\nkeytab = /k.keytab\n",
        );
        assert!(matches!(
            Settings::load(&[&f], None).unwrap().auth,
            HostAuth::Certificate { .. }
        ));
    }

    #[test]
    fn bad_value_names_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(
            dir.path(),
            "a.conf",
            "[builder]\nuser = a\npassword = p\ncapacity = many\n",
        );
        let e = Settings::load(&[&a], None).unwrap_err().to_string();
        assert!(
            e.contains("'capacity'") && e.contains("a.conf") && e.contains("many"),
            "{e}"
        );
        let k = write(dir.path(), "kojid.conf", "[kojid]\nsleeptime = soon\n");
        assert!(Settings::load(&[&a], Some(&k)).is_err());
        let b = write(dir.path(), "b.conf", "[builder]\nuser = a\npassword = p\n");
        let e = Settings::load(&[&b], Some(&k)).unwrap_err().to_string();
        assert!(
            e.contains("'sleeptime'") && e.contains("kojid.conf") && e.contains("[kojid]"),
            "{e}"
        );
        let nope = dir.path().join("nope.conf");
        let e = Settings::load(&[&b], Some(&nope)).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "config file {} does not exist (given with --kojid-config)",
                nope.display()
            )
        );
    }

    #[test]
    fn credentials_are_required_and_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a.conf", "[builder]\nsleeptime = 1\n");
        let e = Settings::load(&[&a], None).unwrap_err().to_string();
        assert!(
            e.contains("no Koji host credentials") && e.contains("a.conf"),
            "{e}"
        );
        let b = write(dir.path(), "b.conf", "[builder]\nuser = x\n");
        let e = Settings::load(&[&b], None).unwrap_err().to_string();
        assert!(e.contains("password") && e.contains("b.conf"), "{e}");
        let c = write(
            dir.path(),
            "c.conf",
            "[builder]\nuser = x\npassword = hunter2\nforce_exclusive = maybe\n",
        );
        let e = Settings::load(&[&c], None).unwrap_err().to_string();
        assert!(
            e.contains("force_exclusive") && !e.contains("hunter2"),
            "{e}"
        );
    }

    #[test]
    fn metrics_listen_is_an_address_or_off() {
        let dir = tempfile::tempdir().unwrap();
        let conf = |value: &str| {
            let text = format!("[builder]\nuser = a\npassword = p\n{value}");
            let path = write(dir.path(), "m.conf", &text);
            (Settings::load(&[&path], None), path)
        };
        assert_eq!(conf("").0.unwrap().metrics_listen, None);
        assert_eq!(conf("metrics_listen =\n").0.unwrap().metrics_listen, None);
        let on = conf("metrics_listen = 127.0.0.1:9100\n").0.unwrap();
        assert_eq!(on.metrics_listen, Some("127.0.0.1:9100".parse().unwrap()));
        let v6 = conf("metrics_listen = [::]:9100\n").0.unwrap();
        assert_eq!(v6.metrics_listen, Some("[::]:9100".parse().unwrap()));
        for bad in ["9100", "localhost:9100", "127.0.0.1"] {
            let (result, path) = conf(&format!("metrics_listen = {bad}\n"));
            let e = result.unwrap_err().to_string();
            let want = format!(
                "invalid 'metrics_listen' in [builder] of {}: '{bad}' is not an address:port",
                path.display()
            );
            assert!(e.starts_with(&want), "{e}");
        }
    }

    /// [composer], [composer:oauth] and [koji] of one file that must exist.
    fn composer_part(dir: &Path, text: &str) -> Result<(ClientOptions, String), ConfigError> {
        composer_settings(&[write(dir, "builder.conf", text)]).map(|c| (c.client, c.koji_server))
    }

    #[test]
    fn upstream_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a.conf", "[builder]\nuser = a\npassword = p\n");
        let s = Settings::load(&[dir.path().join("nope.conf"), a.clone()], None).unwrap();
        assert_eq!(s.composer.server, "https://localhost");
        assert_eq!(s.koji_server, "https://localhost/kojihub");
        assert_eq!(s.hub, "https://localhost/kojihub", "[koji] server");
        assert_eq!(s.composer.ssl_cert, None);
        assert_eq!(s.composer.ssl_verify, SslVerify::Enabled);
        assert_eq!(s.composer.proxy, None);
        assert!(s.composer.oauth.is_none());
        assert_eq!(s.composer.retry, RetryPolicy::BUILDER);
        assert_eq!(s.files_read(), [a]);
    }

    #[test]
    fn upstream_readme_example() {
        let dir = tempfile::tempdir().unwrap();
        let (c, koji) = composer_part(
            dir.path(),
            "[composer]\n\
             # The host, port and transport\n\
             server = https://composer.osbuild.org\n\
             ssl_cert = /share/worker-crt.pem, /share/worker-key.pem\n\
             ssl_verify = /share/worker-ca.pem\n\
             proxy = http://squid.example.com:3128\n\
             \n\
             [composer:oauth]\n\
             client_id = koji\n\
             client_secret = s3cr3t-value\n\
             token_url = https://localhost:8081/token\n\
             \n\
             [koji]\n\
             server = https://koji.fedoraproject.org/kojihub\n",
        )
        .unwrap();
        assert_eq!(c.server, "https://composer.osbuild.org");
        assert_eq!(
            c.ssl_cert,
            Some(ClientCert::Pair {
                cert: "/share/worker-crt.pem".into(),
                key: "/share/worker-key.pem".into()
            })
        );
        assert_eq!(
            c.ssl_verify,
            SslVerify::CaPath("/share/worker-ca.pem".into())
        );
        assert_eq!(c.proxy.as_deref(), Some("http://squid.example.com:3128"));
        let oauth = c.oauth.as_ref().unwrap();
        assert_eq!(oauth.client_id, "koji");
        assert_eq!(oauth.client_secret.expose(), "s3cr3t-value");
        assert_eq!(oauth.token_url, "https://localhost:8081/token");
        assert_eq!(koji, "https://koji.fedoraproject.org/kojihub");
        assert!(!format!("{c:?}").contains("s3cr3t-value"));
    }

    #[test]
    fn ssl_verify_and_ssl_cert_forms() {
        let dir = tempfile::tempdir().unwrap();
        for (text, want) in [
            ("True", SslVerify::Enabled),
            ("on", SslVerify::Enabled),
            ("1", SslVerify::Enabled),
            ("NO", SslVerify::Disabled),
            ("off", SslVerify::Disabled),
            ("/a/ca", SslVerify::CaPath("/a/ca".into())),
        ] {
            let (c, _) =
                composer_part(dir.path(), &format!("[composer]\nssl_verify = {text}\n")).unwrap();
            assert_eq!(c.ssl_verify, want, "{text}");
        }
        assert_eq!(
            parse_cert("/a/cert").unwrap(),
            ClientCert::Combined("/a/cert".into())
        );
        assert_eq!(
            parse_cert(" /c.pem ,/k.pem  ").unwrap(),
            ClientCert::Pair {
                cert: "/c.pem".into(),
                key: "/k.pem".into()
            }
        );
        assert_eq!(
            parse_cert("/c, ").unwrap_err(),
            "Invalid cert string '/c, ' (empty path)"
        );
        let (c, _) = composer_part(dir.path(), "[composer]\nproxy =\n").unwrap();
        assert_eq!(c.proxy, None, "an empty proxy is none");
    }

    #[test]
    fn bad_composer_keys_name_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("builder.conf").display().to_string();
        let e = composer_part(dir.path(), "[composer]\nssl_cert = 1, 2, 3\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("invalid 'ssl_cert' in [composer] of {path}: Invalid cert string '1, 2, 3' (3 certs)")
        );
        let e = composer_part(dir.path(), "[composer]\nssl_verify =\n").unwrap_err();
        assert!(e.to_string().contains("'ssl_verify'"), "{e}");
        let e = composer_part(
            dir.path(),
            "[composer:oauth]\nclient_id = koji\ntoken_url = https://sso/token\n",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("[composer:oauth] in {path} is missing 'client_secret'")
        );
        // a file named for the compose commands must exist
        let nope = dir.path().join("nope.conf");
        let e = composer_settings(std::slice::from_ref(&nope)).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "config file {} does not exist (given with --config)",
                nope.display()
            )
        );
        // one that exists but cannot be read is an error for the daemon too
        let e = Settings::load(&[dir.path()], None).unwrap_err();
        assert!(matches!(e, ConfigError::Read { .. }), "{e}");
    }
}
