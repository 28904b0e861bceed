//! systemd's service notification protocol (`sd_notify(3)`), for the
//! `Type=notify` unit in packaging/: `READY=1` once the host has logged in
//! to the hub, `WATCHDOG=1` on each pass of the host loop when the unit sets
//! `WatchdogSec=`, `RELOADING=1` on SIGHUP,
//! `STOPPING=1` on shutdown.
//!
//! Outside systemd (`NOTIFY_SOCKET` unset) every call does nothing, so the
//! tests, `make stack` and a foreground run are unaffected. A failed send is
//! logged once per call and never stops the daemon: systemd would notice
//! the missing READY or WATCHDOG by itself.

use sd_notify::NotifyState;

/// Tell systemd the daemon is up: logged in as `host_id` on `hub`.
pub fn ready(hub: &str, host_id: i64) {
    let status = format!("logged in to {hub} as host {host_id}");
    send(&[NotifyState::Ready, NotifyState::Status(&status)]);
}

/// Tell systemd the daemon is shutting down (tasks are being freed).
pub fn stopping() {
    send(&[
        NotifyState::Stopping,
        NotifyState::Status("freeing tasks and logging out"),
    ]);
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

/// Keep systemd's watchdog fed; called once per pass of the host loop, so a
/// wedged loop stops feeding it and systemd restarts the daemon. Does
/// nothing unless the unit sets `WatchdogSec=`.
pub fn watchdog() {
    if watchdog_enabled() {
        send(&[NotifyState::Watchdog]);
    }
}

/// Whether systemd expects `WATCHDOG=1` from this process.
pub fn watchdog_enabled() -> bool {
    sd_notify::watchdog_enabled().is_some()
}

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!("cannot notify systemd: {e}");
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
        watchdog();
        stopping();
    }
}
