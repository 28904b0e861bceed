//! From command line and koji.conf to a `koji::ClientSession`, logged in
//! the way koji_cli's `activate_session` would, and the [`Hub`] calls on it.

use std::io::Read as _;
use std::path::PathBuf;
use std::time::Duration;

use koji::{ClientSession, FaultKind, SessionInfo, Value};

use crate::args::{AuthType, GlobalArgs};
use crate::config::{self, ConfigError, ConfigLocations, Profile};
use crate::hub::{BuildTarget, Hub, HubError, ImageCall, TaskInfo, TaskState};

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("no configuration for profile name: {0} (give --server, or --profile with a section of the koji config)")]
    NoProfile(String),
    #[error("unknown authtype {0:?} in the koji config; use noauth, ssl, password or kerberos")]
    BadAuthtype(String),
    #[error(
        "Kerberos (GSSAPI) authentication is not supported yet: use --authtype password \
         with --user and --password, --authtype ssl with --cert, or --noauth; \
         or run `koji osbuild-image`, which hands the koji CLI's session over"
    )]
    Kerberos,
    #[error("password authentication needs --user and --password")]
    PasswordMissing,
    #[error(
        "ssl authentication needs a client certificate: --cert FILE, or cert in the koji config"
    )]
    CertMissing,
    #[error("--session-fd {fd}: cannot read the session handed over: {reason}")]
    Handover { fd: i32, reason: String },
    #[error(transparent)]
    Koji(#[from] koji::Error),
}

/// How to authenticate, decided as koji_cli's `activate_session` decides.
#[derive(Clone)]
pub enum Auth {
    /// A logged-in session from the koji CLI plugin (`--session-fd`).
    Handover(SessionInfo),
    Anonymous,
    Password {
        user: String,
        password: String,
    },
    Ssl,
}

impl std::fmt::Debug for Auth {
    // No password or session key in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Handover(info) => write!(f, "Handover(session {})", info.id),
            Auth::Anonymous => write!(f, "Anonymous"),
            Auth::Password { user, .. } => write!(f, "Password(user {user})"),
            Auth::Ssl => write!(f, "Ssl"),
        }
    }
}

/// Everything the commands need from options and config.
#[derive(Debug)]
pub struct Settings {
    pub server: String,
    pub weburl: String,
    pub topurl: Option<String>,
    pub poll_interval: Duration,
    pub quiet: bool,
    pub auth: Auth,
    pub options: koji::Options,
}

/// Merge the command line over the koji config, as the koji CLI does.
pub fn settings(
    global: &GlobalArgs,
    locations: &ConfigLocations,
) -> Result<Settings, SessionError> {
    let profile_name = global.profile.as_deref().unwrap_or("koji");
    let profile: Profile =
        config::read_config(profile_name, global.config_file.as_deref(), locations)?;
    // koji refuses a missing profile. The `koji osbuild-image` plugin passes
    // --server but not the koji CLI's profile name, so with --server (and
    // no explicit --profile) the defaults are good enough.
    if profile.name.is_none() && (global.profile.is_some() || global.server.is_none()) {
        return Err(SessionError::NoProfile(profile_name.to_string()));
    }

    let expand = |p: &PathBuf| locations.expand_user(&p.to_string_lossy());
    let cert = global.cert.as_ref().map(expand).or(profile.cert.clone());
    let serverca = global
        .serverca
        .as_ref()
        .map(expand)
        .or(profile.serverca.clone());

    let authtype = match (global.authtype, profile.authtype.as_deref()) {
        (Some(t), _) => Some(t),
        (None, None | Some("")) => None,
        (None, Some(text)) => Some(
            AuthType::from_config(text)
                .ok_or_else(|| SessionError::BadAuthtype(text.to_string()))?,
        ),
    };

    let auth = if let Some(fd) = global.session_fd {
        Auth::Handover(read_handover(fd)?)
    } else if authtype == Some(AuthType::Noauth) || global.noauth {
        Auth::Anonymous
    } else if authtype == Some(AuthType::Ssl)
        || (authtype.is_none() && cert.as_ref().is_some_and(|c| c.is_file()))
    {
        if cert.is_none() {
            return Err(SessionError::CertMissing);
        }
        Auth::Ssl
    } else if authtype == Some(AuthType::Password) || (authtype.is_none() && global.user.is_some())
    {
        match (&global.user, &global.password) {
            (Some(user), Some(password)) => Auth::Password {
                user: user.clone(),
                password: password.clone(),
            },
            _ => return Err(SessionError::PasswordMissing),
        }
    } else {
        return Err(SessionError::Kerberos);
    };

    let options = koji::Options {
        max_retries: profile.max_retries,
        retry_interval: Duration::from_secs(profile.retry_interval),
        anon_retry: profile.anon_retry,
        timeout: Duration::from_secs(profile.timeout),
        auth_timeout: Duration::from_secs(profile.auth_timeout),
        serverca,
        cert,
        no_ssl_verify: profile.no_ssl_verify,
        ..koji::Options::default()
    };

    Ok(Settings {
        server: global.server.clone().unwrap_or(profile.server),
        weburl: global.weburl.clone().unwrap_or(profile.weburl),
        topurl: global.topurl.clone().or(profile.topurl),
        poll_interval: global
            .poll_interval
            .unwrap_or(Duration::from_secs(profile.poll_interval)),
        quiet: global.quiet,
        auth,
        options,
    })
}

/// The session the koji CLI plugin hands over: one JSON object,
/// `{"session-id": int, "session-key": str, "callnum": int|null,
/// "header-auth": bool}`, on an inherited file descriptor.
fn read_handover(fd: i32) -> Result<SessionInfo, SessionError> {
    #[derive(serde::Deserialize)]
    struct Handover {
        #[serde(rename = "session-id")]
        id: i64,
        #[serde(rename = "session-key")]
        key: String,
        #[serde(default)]
        callnum: Option<u64>,
        #[serde(rename = "header-auth", default)]
        header_auth: bool,
    }
    let fail = |reason: String| SessionError::Handover { fd, reason };
    let mut text = String::new();
    std::fs::File::open(format!("/dev/fd/{fd}"))
        .and_then(|mut f| f.read_to_string(&mut text))
        .map_err(|e| fail(crate::image::io_reason(&e)))?;
    // Not serde's message: it may quote a value, and a value may be the key.
    let handover: Handover = serde_json::from_str(text.trim()).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Io => "cannot read it",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "a member is missing or of the wrong type",
            serde_json::error::Category::Eof => "the JSON ends early",
        };
        fail(format!(
            "{what} (line {}, column {}); expected {{\"session-id\": int, \"session-key\": str, \
             \"callnum\": int|null, \"header-auth\": bool}}",
            e.line(),
            e.column()
        ))
    })?;
    Ok(SessionInfo {
        id: handover.id,
        key: handover.key,
        callnum: handover.callnum.unwrap_or(0),
        header_auth: handover.header_auth,
    })
}

/// The hub, through a `koji::ClientSession`.
pub struct KojiHub {
    session: ClientSession,
    auth: Auth,
}

impl KojiHub {
    /// Make the session. First make sure the hub answers at all, with one
    /// try: koji would retry a hub it never reached for max_retries ×
    /// retry_interval (10 minutes by default), which only delays the news
    /// that the URL or the network is wrong. Once reached, koji's retry
    /// settings apply to every call.
    pub async fn connect(settings: &Settings) -> Result<KojiHub, SessionError> {
        let probe_options = koji::Options {
            max_retries: 0,
            anon_retry: false,
            cert: None,
            ..settings.options.clone()
        };
        let probe = ClientSession::new(&settings.server, probe_options)?;
        probe.get_api_version().await?;

        let session = match &settings.auth {
            Auth::Handover(info) => {
                ClientSession::resume(&settings.server, settings.options.clone(), info.clone())?
            }
            _ => ClientSession::new(&settings.server, settings.options.clone())?,
        };
        Ok(KojiHub {
            session,
            auth: settings.auth.clone(),
        })
    }
}

impl From<koji::Error> for HubError {
    fn from(err: koji::Error) -> Self {
        match err {
            koji::Error::Fault { code, message, .. } => HubError::Fault { code, message },
            other => HubError::Other(Box::new(other)),
        }
    }
}

impl Hub for KojiHub {
    async fn get_build_target(&mut self, name: &str) -> Result<Option<BuildTarget>, HubError> {
        let target = self.session.get_build_target(name, false).await?;
        Ok(target.map(|t| BuildTarget {
            name: t.name,
            dest_tag: t.dest_tag,
            dest_tag_name: t.dest_tag_name,
        }))
    }

    async fn tag_exists(&mut self, id: i64) -> Result<bool, HubError> {
        Ok(self.session.get_tag(id, false).await?.is_some())
    }

    async fn activate(&mut self) -> Result<(), HubError> {
        if self.session.is_logged_in() {
            return Ok(());
        }
        match &self.auth {
            Auth::Handover(_) | Auth::Anonymous => Ok(()),
            Auth::Password { user, password } => Ok(self.session.login(user, password).await?),
            Auth::Ssl => Ok(self.session.ssl_login().await?),
        }
    }

    async fn osbuild_image(&mut self, call: &ImageCall) -> Result<i64, HubError> {
        // As upstream's plugin calls it: six positional arguments (the image
        // type a plain string), then opts (and priority) as keyword arguments.
        let args = vec![
            Value::from(call.name.as_str()),
            Value::from(call.version.as_str()),
            Value::from(call.distro.as_str()),
            Value::from(call.image_type.as_str()),
            Value::from(call.target.as_str()),
            Value::Array(
                call.arches
                    .iter()
                    .map(|a| Value::from(a.as_str()))
                    .collect(),
            ),
        ];
        let mut kwargs = koji::Struct::new();
        kwargs.insert("opts".into(), call.opts.clone());
        if let Some(priority) = call.priority {
            kwargs.insert("priority".into(), Value::Int(priority));
        }
        let reply = self.session.call_kw("osbuildImage", args, kwargs).await?;
        reply.as_i64().ok_or_else(|| {
            HubError::Other(Box::new(koji::Error::UnexpectedReply {
                method: "osbuildImage".into(),
                message: format!("expected a task id, got {}", reply.type_name()),
            }))
        })
    }

    async fn logout(&mut self) -> Result<(), HubError> {
        Ok(self.session.logout().await?)
    }

    async fn get_task_info(&mut self, id: i64) -> Result<Option<TaskInfo>, HubError> {
        let Some(info) = self.session.get_task_info(id, true).await? else {
            return Ok(None);
        };
        let request = match info.request_params() {
            Some(Ok(params)) => params,
            _ => Vec::new(),
        };
        Ok(Some(TaskInfo {
            id: info.id,
            state: TaskState::from_code(info.state.code()),
            method: info.method,
            arch: info.arch.unwrap_or_default(),
            host_id: info.host_id,
            request,
        }))
    }

    async fn get_task_children(&mut self, id: i64) -> Result<Vec<i64>, HubError> {
        let children = self.session.get_task_children(id).await?;
        Ok(children.into_iter().map(|c| c.id).collect())
    }

    async fn get_host_name(&mut self, id: i64) -> Result<Option<String>, HubError> {
        let host = self.session.call("getHost", vec![Value::Int(id)]).await?;
        Ok(host.get("name").and_then(Value::as_str).map(String::from))
    }

    async fn get_task_result(&mut self, id: i64) -> Result<Value, HubError> {
        Ok(self.session.get_task_result(id).await?)
    }

    async fn list_task_output(&mut self, id: i64) -> Result<Vec<(String, Vec<String>)>, HubError> {
        // koji_cli's list_task_output_all_volumes, with its fallback for
        // hubs that do not know all_volumes.
        let mut kwargs = koji::Struct::new();
        kwargs.insert("all_volumes".into(), Value::Bool(true));
        match self
            .session
            .call_kw("listTaskOutput", vec![Value::Int(id)], kwargs)
            .await
        {
            Ok(Value::Struct(files)) => Ok(files
                .into_iter()
                .map(|(name, volumes)| {
                    let volumes = volumes
                        .as_array()
                        .map(|v| {
                            v.iter()
                                .filter_map(|x| x.as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_default();
                    (name, volumes)
                })
                .collect()),
            Ok(_) => Ok(Vec::new()),
            Err(e)
                if e.is_fault(FaultKind::ParameterError)
                    && e.to_string().contains("got an unexpected keyword argument") =>
            {
                let names = self.session.list_task_output(id).await?;
                Ok(names
                    .into_iter()
                    .map(|n| (n, vec!["DEFAULT".to_string()]))
                    .collect())
            }
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_from;
    use std::fs;

    fn global(argv: &[&str]) -> GlobalArgs {
        let mut full = vec!["koji-osbuild"];
        full.extend_from_slice(argv);
        full.extend_from_slice(&["watch", "1"]);
        parse_from(full).expect("parses").global
    }

    fn locations(conf: &str) -> (tempfile::TempDir, ConfigLocations) {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc");
        fs::create_dir_all(&etc).unwrap();
        fs::write(etc.join("koji.conf"), conf).unwrap();
        let home = dir.path().join("home");
        fs::create_dir_all(&home).unwrap();
        (
            dir,
            ConfigLocations {
                etc,
                home: Some(home),
            },
        )
    }

    const CONF: &str = "[koji]\nserver = https://conf/kojihub\nweburl = https://conf/koji\n\
                        poll_interval = 2\nauthtype = password\n\n\
                        [anon]\nserver = https://anon/kojihub\nauthtype = noauth\n\n\
                        [krb]\nserver = https://krb/kojihub\n";

    #[test]
    fn command_line_overrides_config() {
        let (_dir, loc) = locations(CONF);
        let s = settings(
            &global(&[
                "--server",
                "https://cli/kojihub",
                "--user",
                "u",
                "--password",
                "p",
                "--poll-interval",
                "9",
            ]),
            &loc,
        )
        .unwrap();
        assert_eq!(s.server, "https://cli/kojihub");
        assert_eq!(s.weburl, "https://conf/koji");
        assert_eq!(s.poll_interval, Duration::from_secs(9));
        assert!(matches!(s.auth, Auth::Password { ref user, .. } if user == "u"));
        // the password stays out of debug output
        assert!(!format!("{s:?}").contains("\"p\""));

        let s = settings(&global(&["--user", "u", "--password", "p"]), &loc).unwrap();
        assert_eq!(s.server, "https://conf/kojihub");
        assert_eq!(s.poll_interval, Duration::from_secs(2));
    }

    #[test]
    fn authtype_decisions() {
        let (dir, loc) = locations(CONF);
        let auth = |argv: &[&str]| settings(&global(argv), &loc).map(|s| format!("{:?}", s.auth));
        assert_eq!(auth(&["-p", "anon"]).unwrap(), "Anonymous");
        assert_eq!(auth(&["--noauth"]).unwrap(), "Anonymous");
        assert_eq!(auth(&["--authtype", "noauth"]).unwrap(), "Anonymous");
        assert!(matches!(
            settings(&global(&[]), &loc).unwrap_err(),
            SessionError::PasswordMissing
        ));
        assert!(matches!(
            settings(&global(&["-p", "krb"]), &loc).unwrap_err(),
            SessionError::Kerberos
        ));
        assert!(matches!(
            settings(&global(&["--authtype", "kerberos"]), &loc).unwrap_err(),
            SessionError::Kerberos
        ));
        assert!(matches!(
            settings(&global(&["--authtype", "ssl"]), &loc).unwrap_err(),
            SessionError::CertMissing
        ));
        // an existing cert means ssl when no authtype is set
        let cert = dir.path().join("client.pem");
        fs::write(&cert, "PEM").unwrap();
        let cert = cert.to_str().unwrap();
        assert_eq!(auth(&["-p", "krb", "--cert", cert]).unwrap(), "Ssl");
        // a user without authtype means password
        assert_eq!(
            auth(&["-p", "krb", "--user", "u", "--password", "p"]).unwrap(),
            "Password(user u)"
        );
    }

    #[test]
    fn missing_profile() {
        let (_dir, loc) = locations(CONF);
        let err = settings(&global(&["-p", "nope", "--noauth"]), &loc).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("no configuration for profile name: nope"),
            "{err}"
        );
        // the koji CLI plugin passes --server without the profile name
        let (_dir, empty) = locations("");
        let s = settings(
            &global(&["--server", "http://h/kojihub", "--noauth"]),
            &empty,
        )
        .unwrap();
        assert_eq!(s.weburl, "http://localhost/koji");
        assert!(settings(&global(&["--noauth"]), &empty).is_err());
    }

    #[test]
    fn session_handover() {
        let (dir, loc) = locations(CONF);
        let path = dir.path().join("session.json");
        fs::write(
            &path,
            r#"{"session-id": 7, "session-key": "3-secret", "callnum": null, "header-auth": true}"#,
        )
        .unwrap();
        let file = fs::File::open(&path).unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&file).to_string();
        let s = settings(&global(&["--session-fd", &fd]), &loc).unwrap();
        match &s.auth {
            Auth::Handover(info) => {
                assert_eq!(
                    (info.id, info.key.as_str(), info.callnum, info.header_auth),
                    (7, "3-secret", 0, true)
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(!format!("{s:?}").contains("secret"));

        fs::write(&path, r#"{"session-id": "x", "session-key": "3-secret"}"#).unwrap();
        let file = fs::File::open(&path).unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&file).to_string();
        let err = settings(&global(&["--session-fd", &fd]), &loc)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!(
                "--session-fd {fd}: cannot read the session handed over: "
            )),
            "{err}"
        );
        assert!(!err.contains("secret"), "{err}");
        let err = settings(&global(&["--session-fd", "999"]), &loc)
            .unwrap_err()
            .to_string();
        assert!(err.contains("No such file or directory"), "{err}");
    }
}
