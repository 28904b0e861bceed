//! From command line and koji.conf to a `koji::ClientSession`, logged in
//! the way koji_cli's `activate_session` would.

use std::path::PathBuf;
use std::time::Duration;

use koji::{ClientSession, FaultKind, KerberosLogin};

use crate::args::{AuthType, GlobalArgs};
use crate::config::{self, ConfigError, ConfigLocations, Profile};

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("no configuration for profile name: {0} (give --server, or --profile with a section of the koji config)")]
    NoProfile(String),
    #[error("unknown authtype {0:?} in the koji config; use noauth, ssl, password or kerberos")]
    BadAuthtype(String),
    #[error("the hub knows no user with Kerberos principal {0}: ask the Koji admins to add it to your user (koji edit-user --add-krb {0} USER), or log in as another principal (--principal, or kinit)")]
    UnknownPrincipal(String),
    #[error("the hub refused the Kerberos login ({0}): ask the Koji admins whether your principal and realm may log in")]
    KerberosRefused(String),
    #[error("password authentication needs --user and --password")]
    PasswordMissing,
    #[error(
        "ssl authentication needs a client certificate: --cert FILE, or cert in the koji config"
    )]
    CertMissing,
    #[error(transparent)]
    Koji(#[from] koji::Error),
}

/// How to authenticate, decided as koji_cli's `activate_session` decides.
#[derive(Clone)]
pub enum Auth {
    Anonymous,
    Password {
        user: String,
        password: String,
    },
    Ssl,
    /// GSSAPI: the ticket cache, or a principal with its keytab.
    Kerberos(KerberosLogin),
}

impl std::fmt::Debug for Auth {
    // No password or session key in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Anonymous => write!(f, "Anonymous"),
            Auth::Password { user, .. } => write!(f, "Password(user {user})"),
            Auth::Ssl => write!(f, "Ssl"),
            Auth::Kerberos(login) => write!(f, "Kerberos({})", login.who()),
        }
    }
}

/// Everything the commands need from options and config.
#[derive(Debug)]
pub struct Settings {
    pub server: String,
    pub weburl: String,
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
    // koji refuses a missing profile; with --server (and no explicit
    // --profile) the defaults are good enough.
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

    let auth = if authtype == Some(AuthType::Noauth) || global.noauth {
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
        // koji_cli's activate_session: kerberos when asked for, and when
        // nothing else applies; the keytab only counts with a principal.
        let principal = global.principal.clone().or(profile.principal.clone());
        let keytab = global
            .keytab
            .as_ref()
            .map(expand)
            .or(profile.keytab.as_deref().map(|k| locations.expand_user(k)))
            .filter(|_| principal.is_some());
        Auth::Kerberos(KerberosLogin {
            principal,
            keytab,
            ccache: None,
        })
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
        krb_service: koji::ServiceOptions {
            rdns: profile.krb_rdns,
            canon_host: profile.krb_canon_host,
            server_realm: profile.krb_server_realm.clone(),
        },
        ..koji::Options::default()
    };

    Ok(Settings {
        server: global.server.clone().unwrap_or(profile.server),
        weburl: global.weburl.clone().unwrap_or(profile.weburl),
        poll_interval: global
            .poll_interval
            .unwrap_or(Duration::from_secs(profile.poll_interval)),
        quiet: global.quiet,
        auth,
        options,
    })
}

/// Make the session: one HTTP client, so every call of the command
/// goes over one connection. Like the koji CLI, calls before the login are
/// not retried unless `anon_retry` is set, so a wrong URL or a hub that
/// cannot be reached is reported at once.
pub fn connect(settings: &Settings) -> Result<ClientSession, SessionError> {
    Ok(ClientSession::new(
        &settings.server,
        settings.options.clone(),
    )?)
}

/// koji_cli's `activate_session`: log in as configured, unless anonymous.
pub async fn login(session: &ClientSession, auth: &Auth) -> Result<(), SessionError> {
    match auth {
        Auth::Anonymous => Ok(()),
        Auth::Password { user, password } => Ok(session.login(user, password).await?),
        Auth::Ssl => Ok(session.ssl_login().await?),
        Auth::Kerberos(login) => session
            .gssapi_login(login.clone())
            .await
            .map_err(kerberos_refusal),
    }
}

/// The hub's refusals of a Kerberos login (kojihub's sslLogin), said with
/// what to do.
pub fn kerberos_refusal(e: koji::Error) -> SessionError {
    match e {
        koji::Error::Fault {
            kind: FaultKind::AuthError,
            message,
            ..
        } => match message.strip_prefix("Unknown user: ") {
            Some(principal) => SessionError::UnknownPrincipal(principal.to_string()),
            None => SessionError::KerberosRefused(message),
        },
        e => e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_from;
    use std::fs;
    use std::path::Path;

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
                        [krb]\nserver = https://krb/kojihub\n\n\
                        [gss]\nserver = https://gss/kojihub\nauthtype = GSSAPI\n";

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
        // nothing else configured: Kerberos, the koji CLI's default
        assert_eq!(
            auth(&["-p", "krb"]).unwrap(),
            "Kerberos(the default principal)"
        );
        assert_eq!(
            auth(&["--authtype", "kerberos", "--principal", "u@R"]).unwrap(),
            "Kerberos(principal u@R)"
        );
        assert_eq!(
            auth(&["-p", "gss", "--principal", "u@R"]).unwrap(),
            "Kerberos(principal u@R)"
        );
        assert_eq!(
            auth(&["--authtype", "gssapi"]).unwrap(),
            "Kerberos(the default principal)"
        );
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
    fn kerberos_settings_from_config_and_command_line() {
        let (_dir, loc) = locations(
            "[k]\nserver = https://k/kojihub\nauthtype = kerberos\nprincipal = me@R\n\
             keytab = ~/me.keytab\nkrb_rdns = yes\nkrb_canon_host = on\nkrb_server_realm = R\n\n\
             [nokt]\nserver = https://k/kojihub\nkeytab = /k.keytab\n",
        );
        let s = settings(&global(&["-p", "k"]), &loc).unwrap();
        let Auth::Kerberos(login) = &s.auth else {
            panic!("{:?}", s.auth)
        };
        assert_eq!(login.principal.as_deref(), Some("me@R"));
        let home = loc.home.clone().unwrap();
        assert_eq!(login.keytab, Some(home.join("me.keytab")), "~ expanded");
        assert_eq!(
            s.options.krb_service,
            koji::ServiceOptions {
                rdns: true,
                canon_host: true,
                server_realm: Some("R".into())
            }
        );
        // the command line wins
        let s = settings(
            &global(&["-p", "k", "--principal", "you@R", "--keytab", "/you.kt"]),
            &loc,
        )
        .unwrap();
        let Auth::Kerberos(login) = &s.auth else {
            panic!()
        };
        assert_eq!(login.principal.as_deref(), Some("you@R"));
        assert_eq!(login.keytab.as_deref(), Some(Path::new("/you.kt")));
        // koji_cli: a keytab without a principal is not used (the ccache is)
        let s = settings(&global(&["-p", "nokt"]), &loc).unwrap();
        let Auth::Kerberos(login) = &s.auth else {
            panic!()
        };
        assert_eq!(
            (login.principal.as_deref(), login.keytab.as_deref()),
            (None, None)
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
}
