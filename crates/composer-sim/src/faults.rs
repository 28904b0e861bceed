//! Faults on demand and counters, shared by every request.
//!
//! Faults start from the command line and change at runtime through
//! `POST /_sim/faults`, so one simulator serves many tests. Counters are
//! read with `GET /_sim/stats`.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use serde::{Deserialize, Serialize};

/// Parses durations as the command line and the admin endpoint take them:
/// `250ms`, `2s`, `1.5s`, `5m`, `1h`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: expected e.g. 250ms, 2s, 5m, 1h"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => {
            return Err(format!(
                "invalid duration {s:?}: unknown unit {unit:?} (ms, s, m, h)"
            ))
        }
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("invalid duration {s:?}: {e}"))
}

fn format_duration(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

/// How a Koji step is made to fail, without asking the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KojiFailure {
    /// Fail before CGInitBuild: nothing is reserved.
    Init,
    /// Fail instead of CGImport: the reserved build is refunded.
    Import,
}

/// The faults in force.
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// Answer the next N API requests with `fail_status`.
    pub fail_next: u32,
    /// 500 or 503 (any 5xx is taken).
    pub fail_status: u16,
    /// Delay every API answer by this much.
    pub delay: Duration,
    /// Image requests of these architectures fail their build.
    pub fail_arches: Vec<String>,
    /// Close the connection without an answer for the next N API requests.
    pub reset_next: u32,
    /// Lifetime of new OAuth tokens.
    pub token_lifetime: Duration,
    /// How long a compose builds before its Koji side runs.
    pub compose_duration: Duration,
    /// Make the Koji side of new composes fail at this step.
    pub koji_fail: Option<KojiFailure>,
    /// Answer `GET composes/{id}/logs` with a 404 (upstream's builder only
    /// warns when it cannot fetch logs).
    pub logs_fail: bool,
    /// Answer `GET composes/{id}/manifests` with a 404 (a warning as well).
    pub manifests_fail: bool,
    /// Answer every API request with `fail_status` until then (an outage:
    /// composer restarting, a proxy with a bad spell).
    pub fail_until: Option<Instant>,
    /// Close every API request's connection without an answer until then.
    pub reset_until: Option<Instant>,
}

/// A partial update of [`Faults`], the body of `POST /_sim/faults`.
/// Absent fields stay as they are; `reset: true` first restores the faults
/// given on the command line; `expire_tokens: true` expires every token
/// issued so far.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsUpdate {
    #[serde(default)]
    pub reset: bool,
    pub fail_next: Option<u32>,
    pub fail_status: Option<u16>,
    pub delay: Option<String>,
    pub fail_arches: Option<Vec<String>>,
    /// One architecture, as `--fail-arch` takes it; `""` clears.
    pub fail_arch: Option<String>,
    pub reset_next: Option<u32>,
    pub token_lifetime: Option<String>,
    pub compose_duration: Option<String>,
    /// `"init"`, `"import"`, or `null`/`"none"` to clear.
    #[serde(default, deserialize_with = "koji_fail_update")]
    pub koji_fail: Option<Option<KojiFailure>>,
    #[serde(default)]
    pub expire_tokens: bool,
    pub logs_fail: Option<bool>,
    pub manifests_fail: Option<bool>,
    /// Fail every API request with `fail_status` for this long from now
    /// (`"0s"` ends such an outage).
    pub fail_for: Option<String>,
    /// Reset every API request's connection for this long from now.
    pub reset_for: Option<String>,
}

fn koji_fail_update<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<KojiFailure>>, D::Error> {
    let v: Option<String> = Option::deserialize(d)?;
    match v.as_deref() {
        None | Some("none") | Some("") => Ok(Some(None)),
        Some("init") => Ok(Some(Some(KojiFailure::Init))),
        Some("import") => Ok(Some(Some(KojiFailure::Import))),
        Some(other) => Err(serde::de::Error::custom(format!(
            "koji_fail must be \"init\", \"import\" or \"none\", not {other:?}"
        ))),
    }
}

impl Faults {
    /// Applies `update` on top of `self`; `initial` is what `reset` restores.
    pub fn apply(&mut self, update: &FaultsUpdate, initial: &Faults) -> Result<(), String> {
        let mut next = if update.reset {
            initial.clone()
        } else {
            self.clone()
        };
        if let Some(n) = update.fail_next {
            next.fail_next = n;
        }
        if let Some(s) = update.fail_status {
            if !(500..=599).contains(&s) {
                return Err(format!("fail_status must be a 5xx status, not {s}"));
            }
            next.fail_status = s;
        }
        if let Some(d) = &update.delay {
            next.delay = parse_duration(d)?;
        }
        if let Some(a) = &update.fail_arches {
            next.fail_arches = a.clone();
        }
        if let Some(a) = &update.fail_arch {
            next.fail_arches = if a.is_empty() {
                vec![]
            } else {
                vec![a.clone()]
            };
        }
        if let Some(n) = update.reset_next {
            next.reset_next = n;
        }
        if let Some(d) = &update.token_lifetime {
            next.token_lifetime = parse_duration(d)?;
        }
        if let Some(d) = &update.compose_duration {
            next.compose_duration = parse_duration(d)?;
        }
        if let Some(k) = update.koji_fail {
            next.koji_fail = k;
        }
        if let Some(b) = update.logs_fail {
            next.logs_fail = b;
        }
        if let Some(b) = update.manifests_fail {
            next.manifests_fail = b;
        }
        let window = |d: &str| -> Result<Option<Instant>, String> {
            let d = parse_duration(d)?;
            Ok((!d.is_zero()).then(|| Instant::now() + d))
        };
        if let Some(d) = &update.fail_for {
            next.fail_until = window(d)?;
        }
        if let Some(d) = &update.reset_for {
            next.reset_until = window(d)?;
        }
        *self = next;
        Ok(())
    }

    /// The faults as `GET /_sim/faults` shows them.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "fail_next": self.fail_next,
            "fail_status": self.fail_status,
            "delay": format_duration(self.delay),
            "fail_arches": self.fail_arches,
            "reset_next": self.reset_next,
            "token_lifetime": format_duration(self.token_lifetime),
            "compose_duration": format_duration(self.compose_duration),
            "koji_fail": self.koji_fail,
            "logs_fail": self.logs_fail,
            "manifests_fail": self.manifests_fail,
            "fail_for": format_duration(remaining(self.fail_until)),
            "reset_for": format_duration(remaining(self.reset_until)),
        })
    }

    /// Whether this API request is to be failed with `fail_status`: one of
    /// the next `fail_next`, or inside a `fail_for` window.
    pub fn take_failure(&mut self) -> Option<u16> {
        if self.fail_next > 0 {
            self.fail_next -= 1;
            return Some(self.fail_status);
        }
        within(self.fail_until).then_some(self.fail_status)
    }

    /// Whether this API request's connection is to be closed unanswered:
    /// one of the next `reset_next`, or inside a `reset_for` window.
    pub fn take_reset(&mut self) -> bool {
        if self.reset_next > 0 {
            self.reset_next -= 1;
            return true;
        }
        within(self.reset_until)
    }
}

fn within(until: Option<Instant>) -> bool {
    until.is_some_and(|t| Instant::now() < t)
}

fn remaining(until: Option<Instant>) -> Duration {
    until.map_or(Duration::ZERO, |t| {
        t.saturating_duration_since(Instant::now())
    })
}

/// Counters, as `GET /_sim/stats` shows them.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Stats {
    pub composes_created: u64,
    pub composes_rejected: u64,
    pub status_polls: u64,
    pub logs_requests: u64,
    pub manifests_requests: u64,
    pub cancels: u64,
    /// Ids of the composes a DELETE canceled, in order.
    pub canceled_composes: Vec<String>,
    pub token_requests: u64,
    pub token_failures: u64,
    pub unauthenticated: u64,
    pub injected_failures: u64,
    pub injected_resets: u64,
    pub koji_imports: u64,
    pub koji_failures: u64,
    pub koji_refunds: u64,
    /// `"METHOD /route"` → count, for every API request that reached a route.
    pub requests: BTreeMap<String, u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn initial() -> Faults {
        Faults {
            fail_next: 0,
            fail_status: 500,
            delay: Duration::ZERO,
            fail_arches: vec![],
            reset_next: 0,
            token_lifetime: Duration::from_secs(300),
            compose_duration: Duration::from_secs(2),
            koji_fail: None,
            logs_fail: false,
            manifests_fail: false,
            fail_until: None,
            reset_until: None,
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("2 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn partial_updates_and_reset() {
        let init = initial();
        let mut f = init.clone();
        let up: FaultsUpdate =
            serde_json::from_str(r#"{"fail_next": 3, "fail_status": 503, "delay": "100ms", "fail_arch": "aarch64", "koji_fail": "import"}"#)
                .expect("parses");
        f.apply(&up, &init).expect("applies");
        assert_eq!(f.fail_next, 3);
        assert_eq!(f.fail_status, 503);
        assert_eq!(f.delay, Duration::from_millis(100));
        assert_eq!(f.fail_arches, vec!["aarch64".to_string()]);
        assert_eq!(f.koji_fail, Some(KojiFailure::Import));
        assert_eq!(f.compose_duration, Duration::from_secs(2), "untouched");

        let up: FaultsUpdate =
            serde_json::from_str(r#"{"reset": true, "reset_next": 1}"#).expect("parses");
        f.apply(&up, &init).expect("applies");
        assert_eq!(f.fail_next, 0);
        assert_eq!(f.reset_next, 1);
        assert_eq!(f.koji_fail, None);

        let up: FaultsUpdate =
            serde_json::from_str(r#"{"logs_fail": true, "manifests_fail": true}"#).expect("parses");
        f.apply(&up, &init).expect("applies");
        assert!(f.logs_fail && f.manifests_fail);
        let up: FaultsUpdate = serde_json::from_str(r#"{"logs_fail": false}"#).expect("parses");
        f.apply(&up, &init).expect("applies");
        assert!(!f.logs_fail && f.manifests_fail, "only logs_fail changed");

        let bad: FaultsUpdate = serde_json::from_str(r#"{"fail_status": 404}"#).expect("parses");
        assert!(f.apply(&bad, &init).is_err());
        assert!(serde_json::from_str::<FaultsUpdate>(r#"{"fial_next": 1}"#).is_err());
    }

    #[tokio::test]
    async fn outage_windows_fail_everything_until_they_end() {
        let init = initial();
        let mut f = init.clone();
        let up: FaultsUpdate = serde_json::from_str(
            r#"{"fail_for": "300ms", "fail_status": 503, "reset_for": "150ms"}"#,
        )
        .expect("parses");
        f.apply(&up, &init).expect("applies");
        for _ in 0..5 {
            assert_eq!(f.take_failure(), Some(503));
            assert!(f.take_reset());
        }
        assert!(f.to_json()["fail_for"] != "0ms");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!f.take_reset(), "the reset window is over");
        assert_eq!(f.take_failure(), Some(503));
        let up: FaultsUpdate = serde_json::from_str(r#"{"fail_for": "0s"}"#).expect("parses");
        f.apply(&up, &init).expect("applies");
        assert_eq!(f.take_failure(), None, "0s ends the outage");
        // counted faults still count down
        f.fail_next = 1;
        assert_eq!(f.take_failure(), Some(503));
        assert_eq!(f.take_failure(), None);
        let up: FaultsUpdate = serde_json::from_str(r#"{"reset": true}"#).expect("parses");
        f.fail_until = Some(Instant::now() + Duration::from_secs(60));
        f.apply(&up, &init).expect("applies");
        assert_eq!(f.fail_until, None, "reset ends windows too");
    }
}
