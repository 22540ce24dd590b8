//! Crash points: named places in the copy where a test can make the
//! process die on the spot, to prove that a run killed there resumes with
//! nothing lost or doubled (mbsync tests itself the same way).
//!
//! Inert unless the environment variable `MAILFERRY_CRASH_AT` is set to
//! `NAME:N` — then the N-th time the copy passes the point NAME, the process
//! aborts at once (no destructors, no flushing: as close to SIGKILL as a
//! process can do to itself). Names: `before_append` (intents recorded),
//! `after_literal` (APPEND sent, reply not read), `after_ok` (server said
//! OK, nothing recorded), `after_commit` (copy recorded); in an export,
//! `export_mid_message` (half an mbox entry written),
//! `export_before_journal` (a batch written, not on record) and
//! `export_before_confirm` (on record in the journal, not confirmed); in a
//! copy of contacts and calendars, `dav_after_put` (the server stored the
//! object, nothing recorded).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

static TARGET: OnceLock<Option<(String, u64)>> = OnceLock::new();
static COUNT: AtomicU64 = AtomicU64::new(0);

/// Passes the crash point `name`.
pub fn hit(name: &str) {
    let target = TARGET.get_or_init(|| {
        let value = std::env::var("MAILFERRY_CRASH_AT").ok()?;
        let (point, n) = value.split_once(':')?;
        Some((point.to_owned(), n.parse().ok()?))
    });
    if let Some((point, n)) = target {
        if point == name && COUNT.fetch_add(1, Ordering::SeqCst) + 1 == *n {
            eprintln!("mailferry: crashing on purpose at {name} #{n} (MAILFERRY_CRASH_AT)");
            std::process::abort();
        }
    }
}
