//! One mailbox per worker, under a batch engine (a Kubernetes Indexed Job,
//! GNU parallel, systemd units): which row of the mailbox list a worker
//! takes, its share of the providers' limits, the exit codes the engine
//! reads, and the state store the progress file lives in between workers
//! (`store`).
//!
//! Exit codes (also in `docs/scale.md`):
//!
//! | code | meaning | what the batch engine does |
//! |---|---|---|
//! | 0 ([`DONE`]) | done, or nothing left to copy | nothing |
//! | 1 ([`REFUSALS`]) | finished, but some messages or folders were refused (the report says why) | nothing: run it again after fixing them |
//! | 2 ([`COULD_NOT_RUN`]) | could not run (a bad flag, an unreadable list, an unexpected error) | retry within its limit |
//! | 75 ([`TEMPORARY`], `EX_TEMPFAIL`) | throttled, server busy, connection lost after the retries, the mailbox busy elsewhere, newer progress saved by another worker | run again later: it picks up where the last run stopped |
//! | 77 ([`PERMANENT`], `EX_NOPERM`) | wrong password, mailbox that does not exist, access refused by the administrator, certificate not trusted | stop: retrying cannot help |
//!
//! A worker stopped by a signal exits 130 (SIGINT) or 143 (SIGTERM), after
//! recording what was in flight.

pub mod store;

use crate::domain::Outcome;
use crate::error::{Error, Problem};

/// Done, or nothing left to copy.
pub const DONE: u8 = 0;
/// Finished, with messages or folders refused (listed with reasons).
pub const REFUSALS: u8 = 1;
/// Could not run: a bad flag or list, an unexpected error.
pub const COULD_NOT_RUN: u8 = 2;
/// Temporary (`EX_TEMPFAIL`): run again later.
pub const TEMPORARY: u8 = 75;
/// Permanent (`EX_NOPERM`): retrying the same command cannot help.
pub const PERMANENT: u8 = 77;

/// The exit code for an engine error: [`TEMPORARY`] for what may pass
/// (the engine's own `is_transient`, a mailbox busy in another run),
/// [`PERMANENT`] for what cannot (`is_permanent_for_account`),
/// [`COULD_NOT_RUN`] otherwise.
pub fn error_exit_code(e: &Error) -> u8 {
    if e.is_transient() || matches!(e.problem(), Problem::JobBusy) {
        TEMPORARY
    } else if e.is_permanent_for_account() {
        PERMANENT
    } else {
        COULD_NOT_RUN
    }
}

/// The exit code for one mailbox's outcome (see the module's table).
pub fn exit_code(outcome: &Outcome) -> u8 {
    match outcome {
        Outcome::Copied(report) => report.exit_code(),
        Outcome::NeedsDecision { report, .. } => report.exit_code().max(REFUSALS),
        Outcome::Failed(e) => error_exit_code(e),
    }
}

/// Which row of the mailbox list a worker takes: `N` (0-based: the first
/// mailbox is row 0, as Kubernetes numbers its indexes), or `env:NAME`,
/// the number in the environment variable NAME (`env:JOB_COMPLETION_INDEX`).
/// `env` reads a variable.
///
/// # Errors
/// The problem in words: not a number, or the variable is not set.
pub fn row_index(spec: &str, env: impl Fn(&str) -> Option<String>) -> Result<usize, String> {
    let (value, from) = match spec.strip_prefix("env:") {
        Some(name) => (
            env(name).ok_or_else(|| format!("--row {spec}: the variable {name} is not set"))?,
            format!(" (from {name})"),
        ),
        None => (spec.to_owned(), String::new()),
    };
    value.trim().parse().map_err(|_| {
        format!("--row {spec}: \"{value}\"{from} is not a row number (0 for the first mailbox)")
    })
}

/// This worker's share of limits that every worker of the job together
/// must keep (`--share K/N`: K parts of N, usually 1 of the job's
/// parallelism): connections to each server, messages and bytes per second.
/// Per-account allowances (a mailbox's daily download) are not shared: each
/// worker has its own mailbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Share {
    /// The parts this worker takes.
    pub part: u32,
    /// The parts there are.
    pub of: u32,
}

impl Share {
    /// The whole: a worker alone.
    pub const WHOLE: Share = Share { part: 1, of: 1 };

    /// This share of a count of connections: rounded down, never below 1
    /// (a worker needs one connection to each server).
    pub fn of_connections(&self, cap: usize) -> usize {
        (cap.saturating_mul(self.part as usize) / self.of as usize).max(1)
    }

    /// This share of a rate (messages or bytes per second).
    pub fn of_rate(&self, rate: f64) -> f64 {
        rate * f64::from(self.part) / f64::from(self.of)
    }
}

impl std::str::FromStr for Share {
    type Err = String;

    fn from_str(s: &str) -> Result<Share, String> {
        let bad = || format!("--share {s}: give K/N, this worker's K parts of N (like 1/50)");
        let (part, of) = s.split_once('/').ok_or_else(bad)?;
        let part: u32 = part.trim().parse().map_err(|_| bad())?;
        let of: u32 = of.trim().parse().map_err(|_| bad())?;
        if part == 0 || of == 0 || part > of {
            return Err(bad());
        }
        Ok(Share { part, of })
    }
}

/// Where one mailbox of the list stands, for the run's report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// Every message copied (or already there, or left out by a rule).
    Done,
    /// Finished, with messages or folders refused (the count says how many).
    Refusals,
    /// Started, not finished yet (stopped, killed, or still running).
    Unfinished,
    /// Its worker could not run it (the words say why).
    Failed,
    /// No worker has saved anything for it yet.
    NotStarted,
}

impl Standing {
    /// In words.
    pub fn words(self) -> &'static str {
        match self {
            Standing::Done => "done",
            Standing::Refusals => "done, with messages not copied",
            Standing::Unfinished => "not finished",
            Standing::Failed => "could not be migrated",
            Standing::NotStarted => "not started",
        }
    }
}

/// One mailbox's line in the run's report.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MailboxLine {
    /// The old mailbox.
    pub source: String,
    /// The new mailbox.
    pub destination: String,
    /// Where it stands.
    pub standing: Standing,
    /// Messages at the new mailbox on record (copied, or found there).
    pub at_destination: u64,
    /// Messages the last finished run could not copy.
    pub not_copied: u64,
    /// Its worker's last words when it did not end well.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// The audit after its last finished copy: safe to switch, or not yet
    /// (`None`: no audit on record).
    pub safe_to_switch: Option<bool>,
}

/// One mailbox's line from its progress file (`None`: none saved) and
/// its last worker's ending.
///
/// # Errors
/// If the progress file cannot be read.
pub fn mailbox_line(
    source: &str,
    destination: &str,
    state: Option<&crate::state::State>,
    ending: Option<&store::Ending>,
) -> Result<MailboxLine, crate::state::StateError> {
    let mut line = MailboxLine {
        source: source.to_owned(),
        destination: destination.to_owned(),
        standing: Standing::NotStarted,
        at_destination: 0,
        not_copied: 0,
        why: None,
        safe_to_switch: None,
    };
    if let Some(state) = state {
        for folder in state.folders()? {
            line.at_destination += state.fate_counts(folder.id, folder.source_uidvalidity)?.1;
        }
        let last = state
            .runs()?
            .into_iter()
            .filter(|r| !r.dry)
            .max_by_key(|r| r.id.get());
        line.standing = match &last {
            Some(run) if run.outcome.as_deref() == Some("completed") => {
                line.not_copied = run.counters.failed;
                if run.counters.failed > 0 {
                    Standing::Refusals
                } else {
                    Standing::Done
                }
            }
            _ => Standing::Unfinished,
        };
    }
    if let Some(ending) = ending {
        line.safe_to_switch = ending.safe_to_switch;
        if matches!(ending.exit_code, PERMANENT | COULD_NOT_RUN) {
            line.standing = Standing::Failed;
        }
        if ending.exit_code != DONE {
            line.why = Some(ending.words.clone());
        }
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_a_number_or_an_environment_variable() {
        let env = |name: &str| (name == "JOB_COMPLETION_INDEX").then(|| "7".to_owned());
        assert_eq!(row_index("3", env), Ok(3));
        assert_eq!(row_index("env:JOB_COMPLETION_INDEX", env), Ok(7));
        assert!(row_index("env:NOPE", env)
            .unwrap_err()
            .contains("NOPE is not set"));
        assert!(row_index("-1", env)
            .unwrap_err()
            .contains("not a row number"));
    }

    #[test]
    fn a_share_divides_connections_and_rates_and_keeps_one_connection() {
        let table = [
            ("1/1", 15, 15),
            ("1/5", 15, 3),
            ("2/5", 15, 6),
            ("1/50", 15, 1),
            ("1/4", 10, 2),
        ];
        for (share, cap, expected) in table {
            let share: Share = share.parse().unwrap();
            assert_eq!(share.of_connections(cap), expected, "{share:?} of {cap}");
        }
        let quarter: Share = "1/4".parse().unwrap();
        assert_eq!(quarter.of_rate(10.0), 2.5);
        for bad in ["", "1", "0/3", "4/3", "a/b", "1/0"] {
            assert!(bad.parse::<Share>().is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_map_to_temporary_permanent_or_could_not_run() {
        use crate::provider::Provider;
        let auth = Error::new(Problem::AuthFailed {
            provider: Provider::Other,
        });
        assert_eq!(error_exit_code(&auth), PERMANENT);
        let lost = Error::new(Problem::ConnectionLost {
            host: "h".into(),
            stage: crate::error::Stage::Working,
        });
        assert_eq!(error_exit_code(&lost), TEMPORARY);
        assert_eq!(error_exit_code(&Error::new(Problem::JobBusy)), TEMPORARY);
        let refused = Error::new(Problem::OrganisationAccessRefused {
            issuer: "Google".into(),
        });
        assert_eq!(error_exit_code(&refused), PERMANENT);
    }
}
