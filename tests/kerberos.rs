//! Kerberos (GSSAPI) logins end to end, against a real MIT KDC started for
//! each test on loopback (support/kdc.rs): `koji-osbuild image` with a
//! ticket from kinit and with a keytab, `koji osbuild-image` through the
//! koji CLI, the builder host logging in with its keytab and running a
//! task to CLOSED, a ticket and session that run out mid-compose, and the
//! one-line errors. The test hub answers /ssllogin with Negotiate against
//! its `HTTP/localhost` keytab and maps principals to users as kojihub does.

use std::path::Path;
use std::time::Duration;

use e2e::builder::BuilderProcess;
use e2e::hub::{HubOptions, TestHub};
use e2e::kdc::{Kdc, REALM};
use e2e::run::{Home, Output};
use e2e::sim::ComposerSim;
use e2e::{repo_root, tasks};
use koji::{TaskState, Value};

const IMAGE: [&str; 6] = [
    "demo-image",
    "42",
    "fedora-42",
    "fedora42-candidate",
    "x86_64",
    "--nowait",
];

/// A TLS hub that takes Kerberos logins: the default seed with
/// `kojiuser@REALM` as kojiuser's principal, and HostPrincipalFormat
/// `compile/%s@REALM` (so host builder.local is `compile/builder.local`).
fn kerberos_hub(kdc: &Kdc, options: &[&str]) -> TestHub {
    let seed_path = repo_root().join("testing/hub/seed.json");
    let mut seed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(seed_path).expect("seed")).expect("json");
    for user in seed["users"].as_array_mut().expect("users") {
        if user["name"] == "kojiuser" {
            user["krb_principals"] = serde_json::json!([format!("kojiuser@{REALM}")]);
        }
    }
    let seed_file = kdc.path().join("seed.json");
    std::fs::write(&seed_file, seed.to_string()).expect("write seed");
    let mut all = vec![format!("HostPrincipalFormat=compile/%s@{REALM}")];
    all.extend(options.iter().map(|o| o.to_string()));
    TestHub::start_with(HubOptions {
        tls: true,
        seed: Some(seed_file),
        krb_keytab: Some(kdc.http_keytab()),
        options: all,
        env: kdc.env(),
        ..HubOptions::default()
    })
}

/// The hub's https URL by the name its service principal has
/// (`HTTP/localhost`): the client derives the principal from the URL.
fn localhost_url(hub: &TestHub) -> String {
    hub.https_url
        .as_deref()
        .expect("a TLS hub")
        .replace("127.0.0.1", "localhost")
}

/// A home whose programs use `kdc` and the ccache `ccache`, with a koji
/// profile for `hub` that sets no authtype (so Kerberos is chosen, as the
/// koji CLI chooses it) plus `extra` lines.
fn kerberos_home(kdc: &Kdc, hub: &TestHub, ccache: &Path, extra: &str) -> Home {
    let mut home = Home::new();
    for (k, v) in kdc.env() {
        home.set_env(&k, &v);
    }
    home.set_env("KRB5CCNAME", &format!("FILE:{}", ccache.display()));
    home.koji_config(&format!(
        "[koji]\nserver = {}\nweburl = {}\nserverca = {}\n{extra}",
        localhost_url(hub),
        hub.weburl,
        hub.pki.as_ref().expect("pki").ca().display()
    ));
    home
}

/// Asserts that the command made a task owned by kojiuser, who logged in
/// once, by GSSAPI (authtype 3).
async fn assert_task_by_kerberos(hub: &TestHub, out: Output) {
    let task_id = out.success().created_task();
    let admin = hub.login("admin", "adminpass").await;
    let info = admin
        .get_task_info(task_id, false)
        .await
        .expect("getTaskInfo")
        .expect("the task exists");
    let owner = info.owner.expect("an owner");
    let user = admin
        .call("getUser", vec![Value::Int(owner)])
        .await
        .expect("getUser");
    let name = user.get("name").and_then(Value::as_str).expect("name");
    let sessions = admin
        .call("testhub.listSessions", vec![])
        .await
        .expect("listSessions");
    let authtypes = sessions
        .as_array()
        .expect("sessions")
        .iter()
        .filter(|s| s.get("user_id").and_then(Value::as_i64) == Some(owner))
        .filter_map(|s| s.get("authtype").and_then(Value::as_i64))
        .collect::<Vec<_>>();
    assert_eq!(name, "kojiuser");
    assert_eq!(authtypes, [3], "one GSSAPI session (authtype 3)");
}

/// A KDC, a Kerberos hub, and kojiuser's ticket from kinit in a home for
/// `koji_conf_extra`.
fn kinit_setup(koji_conf_extra: &str) -> (Kdc, TestHub, Home) {
    let kdc = Kdc::start();
    let hub = kerberos_hub(&kdc, &[]);
    let principal = kdc.add_user("kojiuser", "user-pass", None);
    let ccache = kdc.path().join("user.cc");
    kdc.kinit(&principal, "user-pass", &ccache, None);
    let home = kerberos_home(&kdc, &hub, &ccache, koji_conf_extra);
    (kdc, hub, home)
}

#[tokio::test]
async fn image_with_a_kinit_ticket_creates_a_task() {
    let (_kdc, hub, home) = kinit_setup("");
    let mut args = vec!["image"];
    args.extend(IMAGE);
    assert_task_by_kerberos(&hub, home.koji_osbuild(&args).await).await;

    // the client doctor makes the same login
    let out = home.koji_osbuild(&["doctor"]).await;
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with('✓') && l.contains("login: logged in as kojiuser")),
        "{out:#?}"
    );
}

#[tokio::test]
async fn image_with_a_keytab_creates_a_task() {
    let kdc = Kdc::start();
    let hub = kerberos_hub(&kdc, &[]);
    let keytab = kdc.path().join("kojiuser.keytab");
    let principal = kdc.add_keytab("kojiuser", &keytab, None);
    // no ticket anywhere: the keytab is all there is; the service
    // principal named with its realm, from the canonical host name
    let service = format!("krb_server_realm = {REALM}\nkrb_canon_host = true\n");
    let home = kerberos_home(&kdc, &hub, &kdc.path().join("empty.cc"), &service);

    let keytab = keytab.display().to_string();
    let mut args = vec![
        "--authtype",
        "kerberos",
        "--principal",
        &principal,
        "--keytab",
        &keytab,
        "image",
    ];
    args.extend(IMAGE);
    assert_task_by_kerberos(&hub, home.koji_osbuild(&args).await).await;
    assert!(
        !kdc.path().join("empty.cc").exists(),
        "the keytab's tickets stay in memory, out of the user's ccache"
    );
}

#[tokio::test]
async fn koji_cli_plugin_with_authtype_kerberos_creates_a_task() {
    let (_kdc, hub, home) = kinit_setup("authtype = kerberos\n");
    let mut args = vec!["osbuild-image"];
    args.extend(IMAGE);
    assert_task_by_kerberos(&hub, home.koji(&args).await).await;
}

/// `koji-osbuild image` against `hub` with the ccache `ccache`: it must
/// fail with one line holding each of `wanted`, and no token.
async fn image_error(kdc: &Kdc, hub: &TestHub, ccache: &Path, wanted: &[&str]) {
    let mut args = vec!["image"];
    args.extend(IMAGE);
    let out = kerberos_home(kdc, hub, ccache, "")
        .koji_osbuild(&args)
        .await;
    let line = out.one_line_error();
    for w in wanted {
        assert!(line.contains(w), "{w:?} not in: {line}");
    }
    assert!(!line.contains("Negotiate YII"), "no token in: {line}");
}

#[tokio::test]
async fn no_ticket_expired_ticket_unknown_principal_and_no_negotiate_each_give_one_line() {
    let kdc = Kdc::start();
    let hub = kerberos_hub(&kdc, &[]);

    // no ticket at all
    let none = kdc.path().join("none.cc");
    image_error(&kdc, &hub, &none, &["no Kerberos ticket", "run `kinit`"]).await;

    // a ticket that ran out
    let principal = kdc.add_user("kojiuser", "user-pass", None);
    let short = kdc.path().join("short.cc");
    kdc.kinit(&principal, "user-pass", &short, Some("2s"));
    tokio::time::sleep(Duration::from_secs(4)).await;
    let expired = [
        "the Kerberos ticket of the default principal has expired",
        "run `kinit` again",
    ];
    image_error(&kdc, &hub, &short, &expired).await;

    // a principal the KDC knows but the hub maps to no user
    let stranger = kdc.add_user("stranger", "stranger-pass", None);
    let cc = kdc.path().join("stranger.cc");
    kdc.kinit(&stranger, "stranger-pass", &cc, None);
    let unknown = format!("the hub knows no user with Kerberos principal {stranger}");
    image_error(&kdc, &hub, &cc, &[&unknown, "koji edit-user --add-krb"]).await;

    // a hub that does not offer Negotiate (certificates only)
    let plain = TestHub::start_tls();
    let cc = kdc.path().join("user.cc");
    kdc.kinit(&principal, "user-pass", &cc, None);
    let no = [
        "does not offer Kerberos (GSSAPI) logins",
        "authtype ssl or password",
    ];
    image_error(&kdc, &plain, &cc, &no).await;
}

/// builder.conf (composer, hub over https://localhost, the host name) and a
/// kojid.conf with kojid's Kerberos keys for host builder.local.
fn kerberos_builder_confs(
    kdc: &Kdc,
    hub: &TestHub,
    composer: &str,
    keytab: &Path,
) -> (String, std::path::PathBuf) {
    let conf = format!(
        "[composer]\nserver = {composer}\n\n[koji]\nserver = {}\n\n\
         [builder]\nserver = {}\nserverca = {}\nhostname = builder.local\ntopurl = {}\n\
         sleeptime = 0.3\ncompose_poll_interval = 0.2\n",
        hub.url,
        localhost_url(hub),
        hub.pki.as_ref().expect("pki").ca().display(),
        hub.topurl,
    );
    let kojid = kdc.path().join("kojid.conf");
    std::fs::write(
        &kojid,
        format!(
            "[kojid]\nkeytab = {}\nhost_principal_format = compile/%s@{REALM}\n",
            keytab.display()
        ),
    )
    .expect("write kojid.conf");
    (conf, kojid)
}

#[tokio::test]
async fn builder_logs_in_by_keytab_runs_a_task_to_closed_and_doctor_checks_the_keytab() {
    let kdc = Kdc::start();
    let hub = kerberos_hub(&kdc, &[]);
    let keytab = kdc.path().join("kojid.keytab");
    kdc.add_keytab("compile/builder.local", &keytab, None);
    let sim = ComposerSim::start(&hub, &[]);
    let (conf, kojid) = kerberos_builder_confs(&kdc, &hub, &sim.url, &keytab);

    // doctor first: keytab readable, holding the principal, good for tickets
    let mut home = Home::new();
    for (k, v) in kdc.env() {
        home.set_env(&k, &v);
    }
    let conf_file = home.file("builder.conf", &conf);
    let (conf_arg, kojid_arg) = (conf_file.display().to_string(), kojid.display().to_string());
    let doctor = [
        "doctor",
        "--config",
        &conf_arg,
        "--kojid-config",
        &kojid_arg,
    ];
    let out = home.koji_osbuild_builder(&doctor).await;
    let holds = format!("holds compile/builder.local@{REALM}; got a ticket");
    assert_check(&out, '✓', "host keytab", &holds);
    assert_check(
        &out,
        '✓',
        "host login",
        "logged in as builder.local by Kerberos",
    );

    let mut builder =
        BuilderProcess::start_with_env(&conf, &kdc.env(), &["--kojid-config", &kojid_arg]);
    let user = hub.login("kojiuser", "kojipass").await;
    let task = tasks::submit_guest_image(&user).await;
    let done = tasks::wait_done(&user, task, Duration::from_secs(60)).await;
    assert_eq!(done.state, TaskState::Closed, "{}", builder.log());
    assert!(builder.stop().await, "the builder stops cleanly");

    // a keytab without the host's key: doctor says which principal is missing
    let other = kdc.path().join("other.keytab");
    kdc.add_keytab("compile/elsewhere", &other, None);
    std::fs::write(
        &kojid,
        format!(
            "[kojid]\nkeytab = {}\nhost_principal_format = compile/%s@{REALM}\n",
            other.display()
        ),
    )
    .expect("rewrite kojid.conf");
    let out = home.koji_osbuild_builder(&doctor).await;
    let missing = format!("holds no key for compile/builder.local@{REALM}");
    assert_check(&out, '✗', "host keytab", &missing);
}

/// Doctor's line for `check` has `mark` and holds `text`.
fn assert_check(out: &Output, mark: char, check: &str, text: &str) {
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains(&format!("{check}: ")))
        .unwrap_or_else(|| panic!("no {check} line: {out:#?}"));
    assert!(line.starts_with(mark) && line.contains(text), "{out:#?}");
}

#[tokio::test]
async fn ticket_and_session_that_run_out_mid_compose_are_renewed_and_the_task_closes() {
    let kdc = Kdc::start();
    // sessions expire after 6 s (SessionRenewalTimeout is in minutes)
    let hub = kerberos_hub(&kdc, &["SessionRenewalTimeout=0.1"]);
    let keytab = kdc.path().join("kojid.keytab");
    // the host's tickets live 3 s: several run out during the compose
    let principal = kdc.add_keytab("compile/builder.local", &keytab, Some("3s"));
    let sim = ComposerSim::start(&hub, &["--compose-duration", "15s"]);
    let (conf, kojid) = kerberos_builder_confs(&kdc, &hub, &sim.url, &keytab);
    let kojid = kojid.display().to_string();
    let builder = BuilderProcess::start_with_env(&conf, &kdc.env(), &["--kojid-config", &kojid]);
    let first_tickets = kdc.tickets_issued(&principal);

    let user = hub.login("kojiuser", "kojipass").await;
    let task = tasks::submit_guest_image(&user).await;
    let done = tasks::wait_done(&user, task, Duration::from_secs(90)).await;
    assert_eq!(done.state, TaskState::Closed, "{}", builder.log());

    let log = builder.log();
    assert!(
        log.contains("Koji session expired; logging in again"),
        "the expired session was renewed:\n{log}"
    );
    assert!(
        kdc.tickets_issued(&principal) > first_tickets,
        "a new ticket was obtained from the keytab after the first ran out"
    );
    assert!(!log.contains("Negotiate "), "no token in the log");
}

/// kojihub's principal rules on the test hub, through the koji library
/// itself (it alone sends `proxyuser`): ProxyPrincipals may log in as
/// another user, other principals may not; AllowedKrbRealms limits realms.
#[tokio::test]
async fn proxy_principals_and_allowed_realms_are_kojihubs() {
    let kdc = Kdc::start();
    let web = kdc.add_user("kojiweb", "web-pass", None);
    let hub = kerberos_hub(&kdc, &[&format!("ProxyPrincipals={web}")]);
    let user = kdc.add_user("kojiuser", "user-pass", None);
    let login_as = |ccache: &Path, proxyuser: &str| {
        let script = format!(
            "import koji\n\
             s = koji.ClientSession('{url}', {{'serverca': '{ca}'}})\n\
             try:\n    s.gssapi_login(proxyuser={proxy})\n    print(s.getLoggedInUser()['name'])\n\
             except koji.GenericError as e:\n    print('refused:', e)\n",
            url = localhost_url(&hub),
            ca = hub.pki.as_ref().expect("pki").ca().display(),
            proxy = if proxyuser.is_empty() {
                "None".to_string()
            } else {
                format!("'{proxyuser}'")
            },
        );
        let out = std::process::Command::new(e2e::python())
            .args(["-c", &script])
            .envs(kdc.env())
            .env("KRB5CCNAME", format!("FILE:{}", ccache.display()))
            .output()
            .expect("run python");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let web_cc = kdc.path().join("web.cc");
    kdc.kinit(&web, "web-pass", &web_cc, None);
    let user_cc = kdc.path().join("user.cc");
    kdc.kinit(&user, "user-pass", &user_cc, None);

    assert_eq!(login_as(&web_cc, "kojiuser"), "kojiuser");
    assert_eq!(login_as(&user_cc, ""), "kojiuser");
    let refused = login_as(&user_cc, "admin");
    assert!(
        refused.contains(&format!("{user} is not authorized to login other users")),
        "{refused}"
    );

    // a hub that accepts only another realm refuses this one, in one line
    let strict = kerberos_hub(&kdc, &["AllowedKrbRealms=OTHER.REALM"]);
    let home = kerberos_home(&kdc, &strict, &user_cc, "");
    let mut args = vec!["image"];
    args.extend(IMAGE);
    let out = home.koji_osbuild(&args).await;
    let line = out.one_line_error();
    assert!(
        line.contains(&format!("realm: {REALM} is not allowed")),
        "{line}"
    );
}
