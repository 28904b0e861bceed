//! The `koji-osbuild` client as a library: the binary (main.rs) parses
//! with [`args`] and runs [`app::run`]; the man page and shell completion
//! generator (xtask) reads the same clap definitions from [`args`].

pub mod app;
pub mod args;
mod config;
mod doctor;
mod image;
mod session;
mod watch;

// Shared with the builder's tools through doctor-report.
pub use doctor_report::{io_reason, without_os_error};
