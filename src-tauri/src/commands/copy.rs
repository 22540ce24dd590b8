//! Step 7, "Copy": start a run or a whole domain's copy, watch it, pause,
//! resume, cancel. Runs belong to the shell's registry ([`crate::runs`],
//! [`crate::domains`]), not to these calls. A run that belongs to a domain's
//! copy is paused, resumed and cancelled with its domain.

use crate::accounts::{AccountHandle, Accounts};
use crate::commands::folder_map::FolderEdits;
use crate::domains::{CopyStage, DomainId, DomainView, Limits, Pair, PairHandles};
use crate::error::{IpcError, IpcResult};
use crate::runs::{RunId, RunState, RunView, Runs};
use std::path::PathBuf;
use std::time::Duration;
use tauri::ipc::Channel;
use tauri::State;

/// The job's progress file: in the user's data folder (see
/// [`mailferry::paths`]), named after the two accounts (no secret in the
/// name), the same file `mailferry sync` uses.
pub fn job_path(
    source: &crate::accounts::Account,
    dest: &crate::accounts::Account,
) -> IpcResult<PathBuf> {
    use mailferry::paths;
    let dir = paths::jobs_dir().ok_or_else(|| {
        IpcError::internal("this computer has no user data folder (set MAILFERRY_DATA_DIR)")
    })?;
    let name = paths::job_name(
        &source.credentials.user,
        &source.endpoint,
        &dest.credentials.user,
        &dest.endpoint,
    );
    Ok(paths::job_file(&dir, &name))
}

/// Starts copying from one account to the other; returns the run's id.
/// `edits` are the folder map's edits; `skip_larger_than` (bytes) makes
/// this stage leave larger messages for the large-message pass (a later
/// copy without it brings them). `after_switch`: the domain's mail now
/// arrives at the destination; the job records it, and this and every
/// later run of it only adds. `rebuild_progress`: the user asked for a
/// damaged progress file to be rebuilt from both servers.
#[allow(clippy::too_many_arguments)] // each is one choice of the copy screen
pub fn start_run(
    accounts: State<'_, Accounts>,
    runs: State<'_, Runs>,
    source: AccountHandle,
    destination: AccountHandle,
    edits: Option<FolderEdits>,
    skip_larger_than: Option<u64>,
    after_switch: Option<bool>,
    rebuild_progress: Option<bool>,
) -> IpcResult<RunId> {
    let (source, dest) = (accounts.get(source)?, accounts.get(destination)?);
    let rules = edits.unwrap_or_default().into_rules()?;
    let path = job_path(&source, &dest)?;
    let run = runs.create(source, dest, path);
    *run.rules.lock().unwrap_or_else(|e| e.into_inner()) = rules;
    *run.skip_larger_than
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = skip_larger_than;
    *run.after_switch.lock().unwrap_or_else(|e| e.into_inner()) = after_switch.unwrap_or(false);
    *run.rebuild_progress
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = rebuild_progress.unwrap_or(false);
    run.start()?;
    Ok(run.id)
}

/// Starts copying a whole domain: `pairs` (the first pair first), every
/// mailbox with the same `stage`, several at once within the providers'
/// connection caps ([`crate::domains`]). Returns its id; each mailbox's
/// run is in its view.
pub fn start_domain_run(
    accounts: State<'_, Accounts>,
    runs: State<'_, Runs>,
    pairs: Vec<PairHandles>,
    stage: CopyStage,
) -> IpcResult<DomainId> {
    let mut signed = Vec::with_capacity(pairs.len());
    for handles in pairs {
        let (source, destination) = (
            accounts.get(handles.source)?,
            accounts.get(handles.destination)?,
        );
        let state_path = job_path(&source, &destination)?;
        signed.push(Pair {
            handles,
            source,
            destination,
            state_path,
        });
    }
    let first = signed
        .first()
        .ok_or_else(|| IpcError::invalid("There is no mailbox to copy."))?;
    let limits = Limits::for_servers(&first.source.endpoint, &first.destination.endpoint);
    let domain = runs.create_domain(signed, stage, limits)?;
    domain.start()?;
    Ok(domain.id)
}

/// The domain copy running now, or the last one of this session: a
/// reloaded or reopened window watches it again instead of starting anew.
pub fn current_domain_run(runs: State<'_, Runs>) -> Option<DomainView> {
    runs.latest_domain().map(|d| d.view.borrow().clone())
}

/// Sends the domain's view now and then at most ten times a second until
/// the window goes away.
pub fn watch_domain(
    runs: State<'_, Runs>,
    domain: DomainId,
    on_update: Channel<DomainView>,
) -> IpcResult<()> {
    let domain = runs.domain(domain)?;
    send_coalesced(domain.view.subscribe(), on_update);
    Ok(())
}

/// Sends the run's progress now and then at most ten times a second until
/// the window goes away.
pub fn watch_run(runs: State<'_, Runs>, run: RunId, on_update: Channel<RunView>) -> IpcResult<()> {
    let run = runs.get(run)?;
    send_coalesced(run.view.subscribe(), on_update);
    Ok(())
}

/// Sends the latest value now, then after each change at most ten times a
/// second (a burst of changes is coalesced), until the window goes away.
pub(crate) fn send_coalesced<T>(mut rx: tokio::sync::watch::Receiver<T>, on_update: Channel<T>)
where
    T: Clone + serde::Serialize + Send + Sync + 'static,
{
    tauri::async_runtime::spawn(async move {
        loop {
            let view = rx.borrow_and_update().clone();
            if on_update.send(view).is_err() {
                break;
            }
            if rx.changed().await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

/// Stops a run, or the whole domain's copy it belongs to, and waits.
async fn stop(runs: &Runs, run: RunId, state: RunState) -> IpcResult<()> {
    let domain = runs.domain_of(run);
    let run = runs.get(run)?;
    tauri::async_runtime::spawn_blocking(move || match domain {
        Some(domain) => domain.stop(state),
        None => run.stop(state),
    })
    .await
    .map_err(IpcError::internal)
}

/// Pauses the copy, and every mailbox of its domain (safe at any moment:
/// nothing is lost or doubled).
pub async fn pause_run(runs: State<'_, Runs>, run: RunId) -> IpcResult<()> {
    stop(&runs, run, RunState::Paused).await
}

/// Resumes a paused or failed copy where it stopped (with its domain: every
/// mailbox not finished). `rebuild_progress`: the copy stopped on a damaged
/// progress file and the user asked for it to be rebuilt from both servers.
pub fn resume_run(
    runs: State<'_, Runs>,
    run: RunId,
    rebuild_progress: Option<bool>,
) -> IpcResult<()> {
    let domain = runs.domain_of(run);
    let run = runs.get(run)?;
    *run.rebuild_progress
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = rebuild_progress.unwrap_or(false);
    match domain {
        Some(domain) => domain.start(),
        None => run.start(),
    }
}

/// Copies a folder the old server renumbered after all: the user looked at
/// it and says its messages are new. The copy (with its domain: every
/// mailbox not finished) then goes on as after a pause.
pub fn accept_renumbered(runs: State<'_, Runs>, run: RunId, folder: String) -> IpcResult<()> {
    let domain = runs.domain_of(run);
    let run = runs.get(run)?;
    run.accept_renumbered(folder);
    match domain {
        Some(domain) => domain.start(),
        None => run.start(),
    }
}

/// Stops the copy for good, with its domain's (what arrived stays; a new
/// copy continues from there).
pub async fn cancel_run(runs: State<'_, Runs>, run: RunId) -> IpcResult<()> {
    stop(&runs, run, RunState::Cancelled).await
}
