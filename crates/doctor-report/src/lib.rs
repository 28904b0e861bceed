//! The one line per check that `koji-osbuild doctor` and `koji-osbuild-builder
//! doctor` print (`✓`, `✗` or `-`), and the checks of the hub both make;
//! also the I/O error text both tools print.

use std::io::Write;
use std::time::Duration;

use koji::ClientSession;

/// One network step's limit: a doctor should answer in seconds, not wait
/// out the clients' retries.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// Text without Rust's " (os error N)" notes, wherever a cause put them:
/// the one place that knows them, for the doctors' lines and the tools'
/// one-line errors.
pub fn without_os_error(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(" (os error ") {
        out.push_str(&rest[..at]);
        let note = &rest[at + " (os error ".len()..];
        let digits = note.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && note[digits..].starts_with(')') {
            rest = &note[digits + 1..];
        } else {
            out.push_str(" (os error ");
            rest = note;
        }
    }
    out.push_str(rest);
    out
}

/// An I/O error as a person reads it ("No such file or directory").
pub fn io_reason(err: &std::io::Error) -> String {
    without_os_error(&err.to_string())
}

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass(String),
    /// Passed, with something to act on soon.
    Warn(String, String),
    Fail(String),
    /// Could not run because an earlier check failed.
    Skip(String),
    /// Does not apply to this configuration.
    NotUsed(String),
}

impl Outcome {
    /// The line of check `name`.
    pub fn line(&self, name: &str) -> String {
        match self {
            Outcome::Pass(m) => format!("✓ {name}: {m}"),
            Outcome::Warn(m, note) => format!("✓ {name}: {m} — warning: {note}"),
            Outcome::Fail(m) => format!("✗ {name}: {m}"),
            Outcome::Skip(why) => format!("- {name}: skipped ({why})"),
            Outcome::NotUsed(m) => format!("- {name}: {m}"),
        }
    }
}

/// Prints the checks' lines and counts the failures.
pub struct Report<'a> {
    out: &'a mut dyn Write,
    failures: usize,
}

impl<'a> Report<'a> {
    pub fn new(out: &'a mut dyn Write) -> Self {
        Report { out, failures: 0 }
    }

    /// Print the line at once (network checks take a moment each); true
    /// when the check did not fail or get skipped.
    pub fn record(&mut self, name: &str, outcome: Outcome) -> bool {
        let _ = writeln!(self.out, "{}", outcome.line(name));
        let _ = self.out.flush();
        match outcome {
            Outcome::Fail(_) => {
                self.failures += 1;
                false
            }
            Outcome::Skip(_) => false,
            Outcome::Pass(_) | Outcome::Warn(..) | Outcome::NotUsed(_) => true,
        }
    }

    /// The checks in `names` cannot run, all for the same reason.
    pub fn skip(&mut self, names: &[&str], why: &str) {
        for name in names {
            self.record(name, Outcome::Skip(why.to_string()));
        }
    }

    /// The exit status: 1 when any check failed.
    pub fn status(&self) -> u8 {
        u8::from(self.failures > 0)
    }
}

/// `options` for a doctor's session: no retries, each call within
/// [`TIMEOUT`].
pub fn koji_options(options: koji::Options) -> koji::Options {
    koji::Options {
        max_retries: 0,
        timeout: TIMEOUT,
        auth_timeout: TIMEOUT,
        ..options
    }
}

/// The "hub" check: an anonymous session to `server` (without the client
/// certificate of `options`) that answers getAPIVersion. When it fails,
/// `fix` ends its line and the checks in `needing_hub` are skipped.
pub async fn hub(
    report: &mut Report<'_>,
    server: &str,
    options: &koji::Options,
    fix: &str,
    needing_hub: &[&str],
) -> Option<ClientSession> {
    let anonymous = koji::Options {
        cert: None,
        key: None,
        ..koji_options(options.clone())
    };
    let answer = match ClientSession::new(server, anonymous) {
        Ok(session) => session.get_api_version().await.map(|api| (session, api)),
        Err(e) => Err(e),
    };
    match answer {
        Ok((session, api)) => {
            let version = session
                .hub_version()
                .map(|v| format!("Koji {v}, "))
                .unwrap_or_default();
            let answers = format!("{server} answers ({version}API version {api})");
            report.record("hub", Outcome::Pass(answers));
            Some(session)
        }
        Err(e) => {
            report.record("hub", Outcome::Fail(format!("{e}; {fix}")));
            report.skip(needing_hub, "hub not reachable");
            None
        }
    }
}

/// The "hub plugin" check: whether the hub lists the plugin's call in
/// system.listMethods.
pub async fn hub_plugin(hub: &ClientSession) -> Outcome {
    const METHOD: &str = osbuild_task::METHOD;
    let offered = hub
        .call("system.listMethods", Vec::new())
        .await
        .map(|methods| {
            let methods = methods.as_array().unwrap_or_default();
            methods.iter().any(|m| m.as_str() == Some(METHOD))
        });
    match offered {
        Ok(true) => Outcome::Pass(format!("the hub offers {METHOD}")),
        Ok(false) => Outcome::Fail(format!(
            "the hub has no {METHOD} call: the hub's admin must install the koji-osbuild \
             hub plugin (osbuild.py) and add osbuild to Plugins in hub.conf"
        )),
        Err(e) => Outcome::Fail(format!("system.listMethods: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_error_notes_go_wherever_they_are() {
        assert_eq!(
            without_os_error("a: Connection refused (os error 111); retrying in 1 s"),
            "a: Connection refused; retrying in 1 s"
        );
        assert_eq!(without_os_error("x (os error 2) y (os error 13)"), "x y");
        assert_eq!(
            without_os_error("kept (os error here)"),
            "kept (os error here)"
        );
        let io = std::io::Error::from_raw_os_error(2);
        assert_eq!(io_reason(&io), "No such file or directory");
    }

    #[test]
    fn lines() {
        let text = |s: &str| s.to_string();
        assert_eq!(Outcome::Pass(text("fine")).line("hub"), "✓ hub: fine");
        assert_eq!(
            Outcome::Warn(text("valid until X"), text("expires in 3 days")).line("cert validity"),
            "✓ cert validity: valid until X — warning: expires in 3 days"
        );
        assert_eq!(
            Outcome::Fail(text("refused; fix it")).line("login"),
            "✗ login: refused; fix it"
        );
        assert_eq!(
            Outcome::Skip(text("hub not reachable")).line("hub plugin"),
            "- hub plugin: skipped (hub not reachable)"
        );
        assert_eq!(
            Outcome::NotUsed(text("not used (http)")).line("composer TLS"),
            "- composer TLS: not used (http)"
        );
    }

    #[test]
    fn report_prints_each_line_and_counts_failures() {
        let mut out = Vec::new();
        let mut report = Report::new(&mut out);
        assert!(report.record("a", Outcome::Pass("ok".into())));
        assert!(report.record("b", Outcome::Warn("ok".into(), "soon".into())));
        assert!(report.record("c", Outcome::NotUsed("not used".into())));
        assert_eq!(report.status(), 0);
        assert!(!report.record("d", Outcome::Fail("bad".into())));
        report.skip(&["e", "f"], "d failed");
        assert_eq!(report.status(), 1);
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            "✓ a: ok\n✓ b: ok — warning: soon\n- c: not used\n✗ d: bad\n\
             - e: skipped (d failed)\n- f: skipped (d failed)\n"
        );
    }
}
