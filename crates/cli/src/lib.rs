//! The `koji-osbuild` client as a library: the binary (main.rs) parses
//! with [`args`] and runs [`app::run`]; the man page and shell completion
//! generator (xtask) reads the same clap definitions from [`args`].

pub mod app;
pub mod args;
mod compose;
mod config;
mod doctor;
mod hub;
mod image;
mod pyfmt;
mod session;
mod watch;
