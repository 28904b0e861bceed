//! `koji-osbuild doctor`: the submitting side. The koji profile as
//! `koji-osbuild image` reads it, the hub, the login, the `image`
//! permission the hub plugin asks for, and the plugin itself; one line per
//! check: `✓`, `✗` with what is wrong and what to do, or `-` for a check
//! that could not run. A builder host is checked by `koji-osbuild-builder
//! doctor`, which reads builder.conf as the daemon does.

use std::io::Write;

use doctor_report::{Outcome, Report};
use koji::ClientSession;

use crate::args::{DoctorArgs, GlobalArgs};
use crate::config::ConfigLocations;
use crate::session::{self, Auth};

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
    let mut report = Report::new(out);
    let settings = match session::settings(global, &ConfigLocations::system()) {
        Ok(settings) => settings,
        Err(e) => {
            report.record("koji profile", Outcome::Fail(e.to_string()));
            report.skip(&CHECKS_AFTER_PROFILE, "no usable koji profile");
            return Ok(1);
        }
    };
    let profile = global.profile.as_deref().unwrap_or("koji");
    let how = match &settings.auth {
        Auth::Anonymous => "no login (noauth)".to_string(),
        Auth::Password { user, .. } => format!("password login as {user}"),
        Auth::Ssl => "certificate login (ssl)".to_string(),
        Auth::Kerberos(login) => format!("Kerberos login as {}", login.who()),
    };
    report.record(
        "koji profile",
        Outcome::Pass(format!("{profile}: hub {}, {how}", settings.server)),
    );

    let fix = "check --server or server in the profile's section of the koji config";
    let needing_hub = &CHECKS_AFTER_PROFILE[1..];
    let options = &settings.options;
    let Some(hub) =
        doctor_report::hub(&mut report, &settings.server, options, fix, needing_hub).await
    else {
        return Ok(1);
    };
    match login_and_permission(&settings).await {
        Ok((name, permission)) => {
            let login = format!("logged in as {name} and logged out again");
            report.record("login", Outcome::Pass(login));
            report.record("image permission", permission);
        }
        Err(login) => {
            report.record("login", login);
            report.skip(&["image permission"], "not logged in");
        }
    }
    report.record("hub plugin", doctor_report::hub_plugin(&hub).await);
    Ok(report.status().into())
}

/// Log in as `koji-osbuild image` would, ask whether the user may call
/// osbuildImage (the plugin wants `image`; `admin` has every permission),
/// log out: the user's name and the permission check, or why the login
/// did not work.
async fn login_and_permission(settings: &session::Settings) -> Result<(String, Outcome), Outcome> {
    let options = doctor_report::koji_options(settings.options.clone());
    let session =
        ClientSession::new(&settings.server, options).map_err(|e| Outcome::Fail(e.to_string()))?;
    let (login, what, fix) = match &settings.auth {
        Auth::Anonymous => return Err(Outcome::NotUsed("not logging in (noauth)".into())),
        Auth::Password { user, password } => (
            session
                .login(user, password)
                .await
                .map_err(|e| e.to_string()),
            format!("as {user} with a password"),
            "check --user and --password (or user and password in the koji config)",
        ),
        Auth::Ssl => (
            session.ssl_login().await.map_err(|e| e.to_string()),
            "with the client certificate".to_string(),
            "check --cert (or cert in the koji config) and that the hub trusts its CA",
        ),
        Auth::Kerberos(login) => (
            session::login(&session, &settings.auth)
                .await
                .map_err(|e| e.to_string()),
            format!("by Kerberos as {}", login.who()),
            "see the Kerberos set-up in docs/usage.md",
        ),
    };
    login.map_err(|e| Outcome::Fail(format!("the hub refused the login {what}: {e}; {fix}")))?;
    let user = session.get_logged_in_user().await;
    let image = session.has_perm("image").await;
    let admin = session.has_perm("admin").await;
    let _ = session.logout().await;
    let name = match user {
        Ok(Some(user)) => user.name,
        Ok(None) => {
            let unknown = format!("the hub accepted the login {what} but knows no user for it");
            return Err(Outcome::Fail(unknown));
        }
        Err(e) => return Err(Outcome::Fail(format!("logged in {what}, but then: {e}"))),
    };
    let permission = match (image, admin) {
        (Ok(true), _) => Outcome::Pass(format!("{name} has the image permission")),
        (_, Ok(true)) => Outcome::Pass(format!("{name} is an admin")),
        (Ok(false), Ok(false)) => Outcome::Fail(format!(
            "{name} may not request images: a Koji admin grants it with \
             `koji grant-permission image {name}`"
        )),
        (Err(e), _) | (_, Err(e)) => Outcome::Fail(format!("hasPerm: {e}")),
    };
    Ok((name, permission))
}
