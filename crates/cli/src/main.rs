//! `koji-osbuild`: build OS images with osbuild-composer through Koji.
//!
//! `koji-osbuild image` takes upstream's `koji osbuild-image` options,
//! `koji-osbuild watch` follows tasks; both read the koji client configuration.
//! This file only parses, runs, and turns an error into one line.

use koji_osbuild::{app, args};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match args::parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        // --help and --version too: clap prints them and picks the status.
        Err(err) => err.exit(),
    };
    let verbose = cli.global.verbose;
    init_logging(verbose);

    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("koji-osbuild: error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(app::run(cli)) {
        Ok(status) => ExitCode::from(u8::try_from(status).unwrap_or(1)),
        Err(err) => {
            eprintln!("koji-osbuild: error: {}", one_line(err.as_ref()));
            if verbose {
                for (i, cause) in err.chain().enumerate().skip(1) {
                    eprintln!("  caused by ({i}): {cause}");
                }
            }
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, each cause only if it adds
/// something the line does not say yet, without "(os error N)" notes.
fn one_line(err: &(dyn std::error::Error + 'static)) -> String {
    let mut line = koji_osbuild::without_os_error(&err.to_string());
    let mut source = err.source();
    while let Some(cause) = source {
        let text = koji_osbuild::without_os_error(&cause.to_string());
        if !text.is_empty() && !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

fn init_logging(verbose: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = if verbose {
        EnvFilter::new("debug")
    } else {
        // The koji client's warnings (retries) only: the TLS and HTTP
        // stacks' own logs would repeat the error line.
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("off,koji=warn"))
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .with_target(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot talk to Koji hub http://h/kojihub: {0}")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("error sending request")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn causes_join_one_line_without_repeats() {
        let io = std::io::Error::from_raw_os_error(111);
        let err = Outer(Middle(io));
        let line = one_line(&err);
        assert_eq!(
            line,
            "cannot talk to Koji hub http://h/kojihub: error sending request: \
             Connection refused"
        );
    }
}
