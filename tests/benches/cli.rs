//! `koji-osbuild image --nowait` against `koji osbuild-image --nowait` (the
//! koji CLI with our plugin), side by side against the same test hub: the
//! wall time of submitting one image, from process start to exit, as a
//! user or a script sees it. The two run in turns, so that whatever else
//! the machine does weighs on both alike.
//!
//! ```text
//! cargo build --release --workspace --bins
//! cargo bench -p e2e --bench cli -- --runs 30
//! ```
//!
//! Options: `--runs N` (30 of each), `--login ssl|password` (ssl: a client
//! certificate over https, as most Koji sites have; password: over plain
//! http). Prints the median, min and max of each and the ratio of the
//! medians. Not a test: it asserts only that every submission succeeded.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e::hub::TestHub;
use e2e::run::Home;
use e2e::{python, workspace_bin};

const IMAGE: [&str; 5] = [
    "demo-image",
    "42",
    "fedora-42",
    "fedora42-candidate",
    "x86_64",
];

fn main() {
    let mut runs = 30;
    let mut login = "ssl".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => runs = args.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--login" => login = args.next().expect("--login ssl|password"),
            // cargo bench passes --bench; nothing else is ours.
            _ => {}
        }
    }
    let hub = TestHub::start_tls();
    let home = Home::new();
    let (profile, user_args): (String, Vec<&str>) = match login.as_str() {
        "ssl" => {
            let pki = hub.pki.as_ref().expect("a TLS hub");
            let cert = pki.client("kojiuser");
            let profile = format!(
                "[koji]\nserver = {}\nweburl = {}\nauthtype = ssl\ncert = {}\nserverca = {}\n",
                hub.https_url.as_deref().expect("https url"),
                hub.weburl,
                cert.combined().display(),
                pki.ca().display()
            );
            (profile, vec![])
        }
        "password" => (
            format!(
                "[koji]\nserver = {}\nweburl = {}\nauthtype = password\n",
                hub.url, hub.weburl
            ),
            vec!["--user", "kojiuser", "--password", "kojipass"],
        ),
        other => panic!("--login ssl|password, not {other}"),
    };
    home.koji_config(&profile);

    let ours = workspace_bin("koji-osbuild");
    let theirs = python().with_file_name("koji");
    let submit = |program: &PathBuf, subcommand: &str| -> Duration {
        let start = Instant::now();
        let status = Command::new(program)
            .args(&user_args)
            .arg(subcommand)
            .args(IMAGE)
            .arg("--nowait")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("LANG", "C.UTF-8")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .expect("run the client");
        let took = start.elapsed();
        assert!(
            status.success(),
            "{} {subcommand} failed",
            program.display()
        );
        took
    };

    // One of each first, unmeasured: the hub's and the disk's caches.
    submit(&ours, "image");
    submit(&theirs, "osbuild-image");
    let (mut ours_t, mut theirs_t) = (Vec::new(), Vec::new());
    for i in 0..runs {
        if i % 2 == 0 {
            ours_t.push(submit(&ours, "image"));
            theirs_t.push(submit(&theirs, "osbuild-image"));
        } else {
            theirs_t.push(submit(&theirs, "osbuild-image"));
            ours_t.push(submit(&ours, "image"));
        }
    }
    let ours_m = report("koji-osbuild image --nowait", &mut ours_t);
    let theirs_m = report("koji osbuild-image --nowait", &mut theirs_t);
    println!(
        "ratio of the medians (koji / koji-osbuild): {:.1}x ({runs} runs each, {login} login)",
        theirs_m.as_secs_f64() / ours_m.as_secs_f64()
    );
}

/// Prints median, min and max in ms; returns the median.
fn report(what: &str, times: &mut [Duration]) -> Duration {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = times[times.len() / 2];
    println!(
        "{what}: median {:.1} ms, min {:.1} ms, max {:.1} ms",
        ms(median),
        ms(times[0]),
        ms(times[times.len() - 1])
    );
    median
}
