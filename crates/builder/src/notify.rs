//! systemd's service notification protocol (`sd_notify(3)`), for the
//! `Type=notify` unit in packaging/: `READY=1` once the host has logged in
//! to the hub, `WATCHDOG=1` from a task of its own while the host loop shows
//! signs of life (when the unit sets `WatchdogSec=`), `RELOADING=1` on
//! SIGHUP, `STOPPING=1` on shutdown.
//!
//! Outside systemd (`NOTIFY_SOCKET` unset) every call does nothing, so the
//! tests, `make stack` and a foreground run are unaffected. A failed send is
//! logged once per call and never stops the daemon: systemd would notice
//! the missing READY or WATCHDOG by itself.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sd_notify::NotifyState;

/// Tell systemd the daemon is up: logged in as `host_id` on `hub`.
pub fn ready(hub: &str, host_id: i64) {
    let status = format!("logged in to {hub} as host {host_id}");
    send(&[NotifyState::Ready, NotifyState::Status(&status)]);
}

/// Tell systemd the daemon is shutting down (tasks are being freed).
pub fn stopping() {
    let status = NotifyState::Status("freeing tasks and logging out");
    send(&[NotifyState::Stopping, status]);
}

/// Tell systemd the daemon reloads its configuration (SIGHUP); the
/// re-executed process sends `READY=1` when it is logged in again.
pub fn reloading() {
    let mut states = vec![NotifyState::Reloading];
    // systemd >= 253 wants the time of the reload with RELOADING=1.
    if let Ok(now) = NotifyState::monotonic_usec_now() {
        states.push(now);
    }
    states.push(NotifyState::Status("reloading the configuration"));
    send(&states);
}

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!("cannot notify systemd: {e}");
    }
}

/// The host loop's signs of life, for [`spawn_watchdog`]: when it last
/// began or ended a pass, and until when it sleeps between passes.
#[derive(Clone, Debug)]
pub struct Heartbeat(Arc<Mutex<Beat>>);

#[derive(Clone, Copy, Debug)]
struct Beat {
    at: Instant,
    resting_until: Option<Instant>,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Heartbeat(Arc::new(Mutex::new(Beat {
            at: Instant::now(),
            resting_until: None,
        })))
    }
}

impl Heartbeat {
    /// The loop is at the start (or end) of a pass.
    pub fn beat(&self) {
        let mut b = self.lock();
        b.at = Instant::now();
        b.resting_until = None;
    }

    /// The loop sleeps for `d` before its next pass.
    pub fn rest(&self, d: Duration) {
        let mut b = self.lock();
        let now = Instant::now();
        b.at = now;
        b.resting_until = now.checked_add(d);
    }

    fn lock(&self) -> MutexGuard<'_, Beat> {
        // Plain assignments only: a poisoned lock holds a usable value.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether the host loop counts as alive at `now`: it began or ended a
/// pass within `limit`, or sleeps between passes, or it is in a hub call
/// that is waiting out an outage — the host session's tries keep ending
/// (in answers or errors) within `limit`, or it pauses between retries.
/// A loop stuck anywhere else, or a hub exchange that never ends, is not.
fn loop_alive(now: Instant, beat: Beat, hub: koji::Progress, limit: Duration) -> bool {
    let recent = |t: Instant| now.saturating_duration_since(t) < limit;
    recent(beat.at)
        || beat.resting_until.is_some_and(|t| t >= now)
        || hub.pause_until.is_some_and(|t| t >= now)
        || hub.last_exchange.is_some_and(recent)
}

/// Feeds systemd's watchdog (`WatchdogSec=`) from a task of its own, every
/// third of the watchdog period, as long as the host loop is alive (see
/// [`loop_alive`], with half the period as the limit). A pass of the loop
/// may take hours while the hub is down and every call is retried
/// (`max_retries` × `retry_interval`, ServerOffline without end); that must
/// not get the daemon killed, but a loop that hangs must. `None` when
/// systemd expects no watchdog pings.
pub fn spawn_watchdog(
    heartbeat: Heartbeat,
    host_session: koji::ClientSession,
) -> Option<tokio::task::JoinHandle<()>> {
    let period = sd_notify::watchdog_enabled()?;
    let limit = period / 2;
    let every = (period / 3).max(Duration::from_millis(100));
    Some(tokio::spawn(async move {
        let mut starving = false;
        loop {
            tokio::time::sleep(every).await;
            let beat = *heartbeat.lock();
            if loop_alive(Instant::now(), beat, host_session.progress(), limit) {
                if starving {
                    tracing::info!("the host loop is alive again; feeding the watchdog");
                    starving = false;
                }
                send(&[NotifyState::Watchdog]);
            } else if !starving {
                starving = true;
                tracing::error!(
                    "the host loop shows no sign of life for {}s (no pass, no hub exchange); \
                     no longer feeding systemd's watchdog",
                    limit.as_secs()
                );
            }
        }
    }))
}

#[cfg(test)]
mod watchdog_tests {
    use super::*;

    #[test]
    fn a_loop_waiting_out_the_hub_is_alive_a_stuck_one_is_not() {
        let t0 = Instant::now();
        let limit = Duration::from_secs(450);
        let at = |s: u64| t0 + Duration::from_secs(s);
        let beat = |s: u64, rest: Option<u64>| Beat {
            at: at(s),
            resting_until: rest.map(at),
        };
        let idle = koji::Progress::default();
        // a pass began recently
        assert!(loop_alive(at(100), beat(0, None), idle, limit));
        // sleeping between passes, however long the sleeptime
        assert!(loop_alive(at(1000), beat(0, Some(2000)), idle, limit));
        // a pass that began long ago, with no hub activity: stuck
        assert!(!loop_alive(at(1000), beat(0, None), idle, limit));
        // ... unless the hub call keeps trying: an exchange ended lately
        let trying = koji::Progress {
            last_exchange: Some(at(990)),
            pause_until: None,
        };
        assert!(loop_alive(at(1000), beat(0, None), trying, limit));
        // ... or it pauses between retries (offline_retry_interval may be
        // longer than the limit)
        let pausing = koji::Progress {
            last_exchange: Some(at(100)),
            pause_until: Some(at(1200)),
        };
        assert!(loop_alive(at(1000), beat(0, None), pausing, limit));
        // an exchange that never ends (a hub that accepts and never answers)
        let hung = koji::Progress {
            last_exchange: Some(at(100)),
            pause_until: Some(at(110)),
        };
        assert!(!loop_alive(at(1000), beat(0, None), hung, limit));
    }

    #[test]
    fn heartbeat_records_passes_and_rests() {
        let h = Heartbeat::default();
        h.rest(Duration::from_secs(15));
        assert!(h.lock().resting_until.is_some());
        h.beat();
        assert!(h.lock().resting_until.is_none());
        // outside systemd there is nothing to feed
        if std::env::var_os("WATCHDOG_USEC").is_none() {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let s = koji::ClientSession::new(
                    "http://127.0.0.1:1/kojihub",
                    koji::Options::default(),
                )
                .unwrap();
                assert!(spawn_watchdog(h.clone(), s).is_none());
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Without NOTIFY_SOCKET (as in every test run) the calls are no-ops
    // and must not fail or panic.
    #[test]
    fn outside_systemd_nothing_happens() {
        if std::env::var_os("NOTIFY_SOCKET").is_some() {
            return;
        }
        ready("http://hub/kojihub", 1);
        reloading();
        stopping();
    }
}
