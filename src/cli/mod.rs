//! The command line's parts, one file per concern: `args` the flags,
//! `sides` how each server is reached and signed in to, `render` what is
//! printed, and a file per command (`discover`, `check`, `folders`, `sync`, `verify`,
//! `log`, `forget`, `watch`, `report`, `inventory`, `dav` (contacts and calendars), and `files` for `export` and `import`) that calls the engine and picks the exit code. The
//! migration sequence itself is the engine's `mailferry::job::Job`.

pub(crate) mod args;
pub(crate) mod check;
pub(crate) mod dav;
pub(crate) mod discover;
pub(crate) mod files;
pub(crate) mod folders;
pub(crate) mod forget;
pub(crate) mod inventory;
pub(crate) mod log;
mod render;
pub(crate) mod report;
mod sides;
pub(crate) mod sync;
pub(crate) mod verify;
pub(crate) mod watch;

use anyhow::{anyhow, Context};
use args::{FolderRuleArgs, Servers};
use mailferry::endpoint::{Credentials, Endpoint};
use mailferry::job::{Job, ProgressFile};
use std::path::PathBuf;

/// An engine error as the CLI prints it: which server, the plain words, the details.
pub(crate) fn engine_error(role: &str, e: mailferry::error::Error) -> anyhow::Error {
    match e.detail() {
        Some(detail) => anyhow!("{role}: {e}\n  Details: {detail} [{}]", e.code()),
        None => anyhow!("{role}: {e} [{}]", e.code()),
    }
}

/// Signs in to both servers and opens the job (trees read and mapped);
/// its progress file is `--state` or the one named after the two accounts.
pub(crate) async fn open_job(
    servers: Servers,
    rules: &FolderRuleArgs,
    command: &str,
    state: Option<PathBuf>,
    rebuild_if_damaged: bool,
) -> anyhow::Result<Job> {
    let rules = rules.rules()?;
    let [source, dest] = servers.both(command)?;
    let progress = ProgressFile {
        path: progress_path(state, &source, &dest)?,
        rebuild_if_damaged,
    };
    Job::connect((&source.0, &source.1), (&dest.0, &dest.1), &rules, progress)
        .await
        .map_err(|e| engine_error(e.side.label(), e.error))
}

/// The job's progress file: `--state`, else the one named after the two
/// accounts.
pub(crate) fn progress_path(
    state: Option<PathBuf>,
    source: &(Endpoint, Credentials),
    dest: &(Endpoint, Credentials),
) -> anyhow::Result<PathBuf> {
    match state {
        Some(path) => Ok(path),
        None => default_state_path(&mailferry::paths::job_name(
            &source.1.user,
            &source.0,
            &dest.1.user,
            &dest.0,
        )),
    }
}

/// Seconds since 1970, the clock of a real run.
pub(crate) fn unix_now() -> i64 {
    mailferry::run::system_clock()
}

/// The per-job progress file in the user's data folder, named after the
/// two accounts (no secret in the name).
pub(crate) fn default_state_path(job_name: &str) -> anyhow::Result<PathBuf> {
    let dir = mailferry::paths::jobs_dir().context(
        "cannot find this user's data folder; give --state FILE or set MAILFERRY_DATA_DIR",
    )?;
    Ok(mailferry::paths::job_file(&dir, job_name))
}
