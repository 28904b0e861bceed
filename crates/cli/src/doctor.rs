//! `koji-osbuild doctor`: the submitting side. The koji profile as
//! `koji-osbuild image` reads it, the hub, the login, the `image`
//! permission the hub plugin asks for, and the plugin itself; one line per
//! check: `✓`, `✗` with what is wrong and what to do, or `-` for a check
//! that could not run. A builder host is checked by `koji-osbuild-builder
//! doctor`, which reads builder.conf as the daemon does.

use std::io::Write;
use std::time::Duration;

use koji::ClientSession;

use crate::args::{DoctorArgs, GlobalArgs};
use crate::config::ConfigLocations;
use crate::session::{self, Auth};

/// One network step's limit: a doctor should answer in seconds, not wait
/// out the client's retries.
const TIMEOUT: Duration = Duration::from_secs(20);
/// The hub call the hub plugin adds.
const HUB_METHOD: &str = osbuild_task::METHOD;

/// What one check found.
enum Outcome {
    Pass(String),
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
    /// Print the line at once (network checks take a moment each).
    fn record(&mut self, name: &str, outcome: Outcome) {
        let line = match outcome {
            Outcome::Pass(m) => format!("✓ {name}: {m}"),
            Outcome::Fail(m) => {
                self.failures += 1;
                format!("✗ {name}: {m}")
            }
            Outcome::Skip(why) => format!("- {name}: skipped ({why})"),
            Outcome::NotUsed(m) => format!("- {name}: {m}"),
        };
        let _ = writeln!(self.out, "{line}");
        let _ = self.out.flush();
    }
}

const CHECKS_AFTER_PROFILE: [&str; 4] = ["hub", "login", "image permission", "hub plugin"];

/// Run the checks; the exit status is 1 when any failed.
pub async fn run(
    args: &DoctorArgs,
    global: &GlobalArgs,
    out: &mut dyn Write,
) -> anyhow::Result<i32> {
    if !args.builder_config.is_empty() || args.kojid_config.is_some() {
        anyhow::bail!(
            "the builder host's checks moved: run `koji-osbuild-builder doctor [--config FILE]... \
             [--kojid-config FILE]` on the builder host"
        );
    }
    let mut report = Report { out, failures: 0 };
    let settings = match session::settings(global, &ConfigLocations::system()) {
        Ok(settings) => settings,
        Err(e) => {
            report.record("koji profile", Outcome::Fail(e.to_string()));
            for name in CHECKS_AFTER_PROFILE {
                report.record(name, Outcome::Skip("no usable koji profile".into()));
            }
            return Ok(1);
        }
    };
    let profile = global.profile.as_deref().unwrap_or("koji");
    let how = match &settings.auth {
        Auth::Anonymous => "no login (noauth)".to_string(),
        Auth::Password { user, .. } => format!("password login as {user}"),
        Auth::Ssl => "certificate login (ssl)".to_string(),
    };
    report.record(
        "koji profile",
        Outcome::Pass(format!("{profile}: hub {}, {how}", settings.server)),
    );

    let options = koji::Options {
        max_retries: 0,
        timeout: TIMEOUT,
        auth_timeout: TIMEOUT,
        ..settings.options.clone()
    };
    let anonymous = koji::Options {
        cert: None,
        key: None,
        ..options.clone()
    };
    let fix = "check --server or server in the profile's section of the koji config";
    let hub = match ClientSession::new(&settings.server, anonymous) {
        Ok(hub) => hub,
        Err(e) => {
            report.record("hub", Outcome::Fail(format!("{e}; {fix}")));
            for name in &CHECKS_AFTER_PROFILE[1..] {
                report.record(name, Outcome::Skip("hub not reachable".into()));
            }
            return Ok(1);
        }
    };
    match hub.get_api_version().await {
        Ok(api) => {
            let version = hub
                .hub_version()
                .map(|v| format!("Koji {v}, "))
                .unwrap_or_default();
            report.record(
                "hub",
                Outcome::Pass(format!(
                    "{} answers ({version}API version {api})",
                    settings.server
                )),
            );
        }
        Err(e) => {
            report.record("hub", Outcome::Fail(format!("{e}; {fix}")));
            for name in &CHECKS_AFTER_PROFILE[1..] {
                report.record(name, Outcome::Skip("hub not reachable".into()));
            }
            return Ok(1);
        }
    }

    let (login, permission) = login_and_permission(&settings, options).await;
    report.record("login", login);
    report.record("image permission", permission);
    let methods = hub.call("system.listMethods", Vec::new()).await;
    let has_method = methods.map(|m| {
        let methods = m.as_array().unwrap_or_default();
        methods.iter().any(|m| m.as_str() == Some(HUB_METHOD))
    });
    let plugin = match has_method {
        Ok(true) => Outcome::Pass(format!("the hub offers {HUB_METHOD}")),
        Ok(false) => Outcome::Fail(format!(
            "the hub has no {HUB_METHOD} call: its admin must install the koji-osbuild hub \
             plugin (osbuild.py) and add osbuild to Plugins in hub.conf"
        )),
        Err(e) => Outcome::Fail(format!("system.listMethods: {e}")),
    };
    report.record("hub plugin", plugin);
    Ok(if report.failures > 0 { 1 } else { 0 })
}

/// Log in as `koji-osbuild image` would, ask whether the user may call
/// osbuildImage (the plugin wants `image`; `admin` has every permission),
/// log out.
async fn login_and_permission(
    settings: &session::Settings,
    options: koji::Options,
) -> (Outcome, Outcome) {
    let session = match ClientSession::new(&settings.server, options) {
        Ok(session) => session,
        Err(e) => {
            return (
                Outcome::Fail(e.to_string()),
                Outcome::Skip("not logged in".into()),
            )
        }
    };
    let (login, what, fix) = match &settings.auth {
        Auth::Anonymous => {
            return (
                Outcome::NotUsed("not logging in (noauth)".into()),
                Outcome::Skip("not logged in".into()),
            )
        }
        Auth::Password { user, password } => (
            session.login(user, password).await,
            format!("as {user} with a password"),
            "check --user and --password (or user and password in the koji config)",
        ),
        Auth::Ssl => (
            session.ssl_login().await,
            "with the client certificate".to_string(),
            "check --cert (or cert in the koji config) and that the hub trusts its CA",
        ),
    };
    if let Err(e) = login {
        return (
            Outcome::Fail(format!("the hub refused the login {what}: {e}; {fix}")),
            Outcome::Skip("not logged in".into()),
        );
    }
    let user = session.get_logged_in_user().await;
    let image = session.has_perm("image").await;
    let admin = session.has_perm("admin").await;
    let _ = session.logout().await;
    let name = match user {
        Ok(Some(user)) => user.name,
        Ok(None) => {
            return (
                Outcome::Fail(format!(
                    "the hub accepted the login {what} but knows no user for it"
                )),
                Outcome::Skip("not logged in".into()),
            )
        }
        Err(e) => {
            return (
                Outcome::Fail(format!("logged in {what}, but then: {e}")),
                Outcome::Skip("not logged in".into()),
            )
        }
    };
    let login = Outcome::Pass(format!("logged in as {name} and logged out again"));
    let permission = match (image, admin) {
        (Ok(true), _) => Outcome::Pass(format!("{name} has the image permission")),
        (_, Ok(true)) => Outcome::Pass(format!("{name} is an admin")),
        (Ok(false), Ok(false)) => Outcome::Fail(format!(
            "{name} may not request images: a Koji admin grants it with \
             `koji grant-permission image {name}`"
        )),
        (Err(e), _) | (_, Err(e)) => Outcome::Fail(format!("hasPerm: {e}")),
    };
    (login, permission)
}
