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

/// Text without Rust's " (os error N)" suffix: the one place that knows
/// it, for file errors and for the error line.
pub fn without_os_error(text: &str) -> &str {
    text.split(" (os error ").next().unwrap_or(text)
}

/// An io::Error's reason, as a person reads it ("No such file or directory").
pub fn io_reason(err: &std::io::Error) -> String {
    without_os_error(&err.to_string()).to_string()
}
