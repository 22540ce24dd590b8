//! Log output for the binaries: human-readable lines on stderr, filtered by
//! `MAILFERRY_LOG` (or `RUST_LOG`), quiet by default.
//!
//! Secrets never reach a log line: credentials live in `Secret`, our wire
//! traces never include sign-in commands, and the `log` records of
//! dependencies (async-imap traces each command it writes) are compiled
//! out above debug level and never bridged into `tracing`.

use tracing_subscriber::EnvFilter;

/// The filter used when none is set: warnings from everything.
pub const DEFAULT_FILTER: &str = "warn";

/// Installs the stderr logger. Safe to call once per process.
pub fn init() {
    let filter = std::env::var("MAILFERRY_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| DEFAULT_FILTER.to_owned());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
