//! When and how long to wait before trying a request again.
//!
//! Mirrors the urllib3 `Retry` upstream mounts on its requests session:
//! `status_forcelist=[500, 502, 503, 504]`, `raise_on_status=False` (after the
//! last retry the 5xx answer is reported with its body), and urllib3's
//! backoff of `factor * 2^(n-1)` where the first retry goes out at once.

use std::time::Duration;

/// Statuses that mean "composer or something in front of it is having a bad
/// moment", retried like upstream's `status_forcelist`.
pub const RETRY_STATUSES: [u16; 4] = [500, 502, 503, 504];

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

    /// Whether an answer with this status is worth another try.
    pub fn retries_status(status: u16) -> bool {
        RETRY_STATUSES.contains(&status)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::STANDALONE
    }
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
}
