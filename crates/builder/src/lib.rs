//! koji-osbuild-builder: a Koji builder host that builds OS images through
//! osbuild-composer. One process, one tokio runtime, each Koji task an async
//! task; the osbuildImage handler ([`osbuild::handle`]) is a library
//! function over one Koji session and one composer client.
//!
//! - [`cli`]: the daemon's command line.
//! - [`config`]: builder.conf (+ `[builder]`, or a kojid.conf).
//! - [`host`]: the kojid-style host loop and the task table.
//! - [`osbuild`], [`tagbuild`]: the task handlers; [`compose_request`]:
//!   an osbuildImage task as a composer compose request.
//! - [`run_task`]: one task for kojid's plugin, on kojid's task session.
//! - [`metrics`]: the Prometheus metrics and `/metrics` (`metrics_listen`).
//! - [`notify`]: systemd readiness and watchdog notifications.
//! - [`pyjson`]: attachments formatted as Python's json.dump does.

pub mod cli;
pub mod compose_request;
pub mod config;
pub mod error;
pub mod host;
pub mod metrics;
pub mod notify;
pub mod osbuild;
pub mod pyjson;
pub mod run_task;
pub mod tagbuild;

pub use cli::Cli;
pub use config::{ConfigError, HostAuth, Settings};
pub use error::TaskError;
pub use host::{Builder, HostError, METHODS};
