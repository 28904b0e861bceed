//! When and how long to wait before trying a request again.
//!
//! Mirrors the urllib3 `Retry` upstream mounts on its requests session:
//! `status_forcelist=[500, 502, 503, 504]`, `raise_on_status=False` (after the
//! last retry the 5xx answer is reported with its body), and urllib3's
//! backoff of `factor * 2^(n-1)` where the first retry goes out at once.

use std::time::{Duration, Instant};

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (urllib3 `total`).
    pub max_retries: u32,
    /// urllib3 `backoff_factor`.
    pub backoff_factor: Duration,
    /// urllib3 `backoff_max` (120 s there); also caps `Retry-After`.
    pub max_backoff: Duration,
}

impl RetryPolicy {
    /// Upstream's stand-alone client: `Retry(total=15, backoff_factor=0.3)`.
    pub const STANDALONE: RetryPolicy = RetryPolicy {
        max_retries: 15,
        backoff_factor: Duration::from_millis(300),
        max_backoff: Duration::from_secs(120),
    };

    /// Upstream's builder plugin: `Client(url, 2, 0.05)`.
    pub const BUILDER: RetryPolicy = RetryPolicy {
        max_retries: 2,
        backoff_factor: Duration::from_millis(50),
        max_backoff: Duration::from_secs(120),
    };

    /// Never retry.
    pub const NONE: RetryPolicy = RetryPolicy {
        max_retries: 0,
        backoff_factor: Duration::ZERO,
        max_backoff: Duration::ZERO,
    };

    /// The pause before the next try after `consecutive_errors` failed
    /// attempts (1 after the first failure). As urllib3's
    /// `Retry.get_backoff_time`: no pause after a single error, then
    /// `factor * 2^(n-1)`, at most `max_backoff`.
    pub fn backoff(&self, consecutive_errors: u32) -> Duration {
        if consecutive_errors <= 1 {
            return Duration::ZERO;
        }
        let exp = (consecutive_errors - 1).min(31);
        let factor = self.backoff_factor.as_secs_f64() * f64::from(1u32 << exp);
        let capped = factor.min(self.max_backoff.as_secs_f64());
        Duration::from_secs_f64(capped.max(0.0))
    }

    /// Whether an answer with this status is worth another try: composer
    /// or something in front of it is having a bad moment (upstream's
    /// `status_forcelist`).
    pub fn retries_status(status: u16) -> bool {
        matches!(status, 500 | 502 | 503 | 504)
    }
}

/// What to do after a failed request during an outage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutageStep {
    /// Try again after this pause.
    Retry(Duration),
    /// The outage has lasted `timeout` or longer: stop. `lasted` is how long.
    GiveUp { lasted: Duration },
}

/// How long to keep going while composer is failing: for a caller that
/// follows a compose for hours (the builder), a composer restart or a
/// proxy's bad ten minutes must not end the task, but an outage that does
/// not end must, eventually. Each failure of a transient kind (see
/// [`crate::Error::is_transient`]) after the client's own retries is one
/// [`Outage::failed`]; the first success ends the outage.
///
/// One outage's bookkeeping: when it began and how many tries failed.
/// Pure (the caller passes the time in), so the give-up rule is testable.
#[derive(Debug, Clone)]
pub struct Outage {
    /// Give up once the failures have lasted this long (measured from the
    /// first failure of the outage). Zero: give up at the first failure.
    timeout: Duration,
    since: Option<Instant>,
    failures: u32,
}

impl Outage {
    /// The pause after the first failure; it doubles with each further one.
    const FIRST_PAUSE: Duration = Duration::from_secs(1);
    /// The longest pause between tries.
    const MAX_PAUSE: Duration = Duration::from_secs(60);

    pub fn new(timeout: Duration) -> Self {
        Outage {
            timeout,
            since: None,
            failures: 0,
        }
    }

    /// A request failed at `now`: retry after the returned pause, or give
    /// up. The pause doubles from 1 s up to 60 s and never reaches past the
    /// give-up time, so the last try happens right at it.
    pub fn failed(&mut self, now: Instant) -> OutageStep {
        let since = *self.since.get_or_insert(now);
        self.failures = self.failures.saturating_add(1);
        let lasted = now.saturating_duration_since(since);
        if lasted >= self.timeout {
            return OutageStep::GiveUp { lasted };
        }
        let exp = (self.failures - 1).min(20);
        let pause = Self::FIRST_PAUSE
            .saturating_mul(1u32 << exp)
            .min(Self::MAX_PAUSE)
            .min(self.timeout - lasted);
        OutageStep::Retry(pause)
    }

    /// A request succeeded: the outage (if any) is over.
    pub fn succeeded(&mut self) {
        self.since = None;
        self.failures = 0;
    }

    /// How long the current outage has lasted at `now` (zero if none).
    pub fn lasted(&self, now: Instant) -> Duration {
        self.since
            .map_or(Duration::ZERO, |s| now.saturating_duration_since(s))
    }
}

/// `d` scaled by a random factor in `1 ± fraction` (fraction clamped to
/// 0..=1), so that many pollers with the same interval drift apart instead
/// of hitting composer in the same instant.
pub fn jittered(d: Duration, fraction: f64) -> Duration {
    scale(d, fraction, fastrand::f64())
}

/// A random point in `0..d`: the first poll's offset, which spreads
/// pollers that start together (a builder restart resumes every compose).
pub(crate) fn random_offset(d: Duration) -> Duration {
    d.mul_f64(fastrand::f64())
}

/// `d * (1 + fraction * (2u - 1))` for `u` in `0..1`: the pure part of
/// [`jittered`].
fn scale(d: Duration, fraction: f64, u: f64) -> Duration {
    let fraction = if fraction.is_finite() {
        fraction.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let factor = 1.0 + fraction * (2.0 * u.clamp(0.0, 1.0) - 1.0);
    d.mul_f64(factor.max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_like_urllib3() {
        let p = RetryPolicy::STANDALONE;
        let secs: Vec<f64> = (1..=6).map(|n| p.backoff(n).as_secs_f64()).collect();
        let want = [0.0, 0.6, 1.2, 2.4, 4.8, 9.6];
        for (got, want) in secs.iter().zip(want) {
            assert!((got - want).abs() < 1e-9, "{secs:?}");
        }
        assert_eq!(p.backoff(15), Duration::from_secs(120));
        assert_eq!(p.backoff(100), Duration::from_secs(120));
        assert_eq!(RetryPolicy::BUILDER.backoff(2), Duration::from_millis(100));
    }

    #[test]
    fn retried_statuses() {
        for s in [500, 502, 503, 504] {
            assert!(RetryPolicy::retries_status(s));
        }
        for s in [200, 201, 400, 401, 403, 404, 501] {
            assert!(!RetryPolicy::retries_status(s));
        }
    }
    #[test]
    fn outage_backs_off_and_gives_up_after_the_timeout() {
        let t0 = Instant::now();
        let mut o = Outage::new(Duration::from_secs(200));
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(o.failed(at(0)), OutageStep::Retry(Duration::from_secs(1)));
        assert_eq!(o.failed(at(1)), OutageStep::Retry(Duration::from_secs(2)));
        assert_eq!(o.failed(at(3)), OutageStep::Retry(Duration::from_secs(4)));
        assert_eq!(o.failed(at(7)), OutageStep::Retry(Duration::from_secs(8)));
        assert_eq!(o.failed(at(15)), OutageStep::Retry(Duration::from_secs(16)));
        assert_eq!(o.failed(at(31)), OutageStep::Retry(Duration::from_secs(32)));
        assert_eq!(
            o.failed(at(63)),
            OutageStep::Retry(Duration::from_secs(60)),
            "capped"
        );
        assert_eq!(o.lasted(at(123)), Duration::from_secs(123));
        // the last pause ends right at the give-up time
        assert_eq!(
            o.failed(at(190)),
            OutageStep::Retry(Duration::from_secs(10))
        );
        assert_eq!(
            o.failed(at(200)),
            OutageStep::GiveUp {
                lasted: Duration::from_secs(200)
            }
        );
    }

    #[test]
    fn a_success_ends_the_outage() {
        let t0 = Instant::now();
        let mut o = Outage::new(Duration::from_secs(10));
        assert_eq!(o.failed(t0), OutageStep::Retry(Duration::from_secs(1)));
        assert_eq!(
            o.failed(t0 + Duration::from_secs(9)),
            OutageStep::Retry(Duration::from_secs(1)),
            "only a second left"
        );
        o.succeeded();
        assert_eq!(o.lasted(t0 + Duration::from_secs(20)), Duration::ZERO);
        // a new outage starts its own clock and its own backoff
        let t1 = t0 + Duration::from_secs(20);
        assert_eq!(o.failed(t1), OutageStep::Retry(Duration::from_secs(1)));
        assert!(matches!(
            o.failed(t1 + Duration::from_secs(10)),
            OutageStep::GiveUp { .. }
        ));
    }

    #[test]
    fn zero_timeout_gives_up_at_once() {
        let mut o = Outage::new(Duration::ZERO);
        assert_eq!(
            o.failed(Instant::now()),
            OutageStep::GiveUp {
                lasted: Duration::ZERO
            }
        );
    }

    #[test]
    fn jitter_stays_within_its_band() {
        let d = Duration::from_secs(10);
        assert_eq!(scale(d, 0.15, 0.0), Duration::from_secs_f64(8.5));
        assert_eq!(scale(d, 0.15, 0.5), d);
        assert_eq!(scale(d, 0.15, 1.0), Duration::from_secs_f64(11.5));
        assert_eq!(scale(d, 0.0, 0.9), d);
        assert_eq!(scale(d, f64::NAN, 0.9), d);
        assert_eq!(scale(d, 5.0, 0.0), Duration::ZERO, "clamped to 0..=1");
        for _ in 0..1000 {
            let j = jittered(d, 0.15);
            assert!(j >= Duration::from_millis(8500) && j <= Duration::from_millis(11500));
            assert!(random_offset(d) < d);
        }
    }
}
