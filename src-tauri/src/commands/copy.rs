//! Step 7, "Copy": start a run, watch it, pause, resume, cancel. The run
//! belongs to the shell's registry ([`crate::runs`]), not to these calls.

use crate::accounts::{AccountHandle, Accounts};
use crate::commands::folder_map::FolderEdits;
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
/// later run of it only adds.
#[tauri::command]
pub fn start_run(
    accounts: State<'_, Accounts>,
    runs: State<'_, Runs>,
    source: AccountHandle,
    destination: AccountHandle,
    edits: Option<FolderEdits>,
    skip_larger_than: Option<u64>,
    after_switch: Option<bool>,
) -> IpcResult<RunId> {
    let (source, dest) = (accounts.get(source)?, accounts.get(destination)?);
    let path = job_path(&source, &dest)?;
    let run = runs.create(source, dest, path);
    *run.edits.lock().unwrap_or_else(|e| e.into_inner()) = edits.unwrap_or_default();
    *run.skip_larger_than
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = skip_larger_than;
    *run.after_switch.lock().unwrap_or_else(|e| e.into_inner()) = after_switch.unwrap_or(false);
    run.start()?;
    Ok(run.id)
}

/// Sends the run's progress now and then at most ten times a second until
/// the window goes away.
#[tauri::command]
pub fn watch_run(runs: State<'_, Runs>, run: RunId, on_update: Channel<RunView>) -> IpcResult<()> {
    let run = runs.get(run)?;
    let mut rx = run.view.subscribe();
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
    Ok(())
}

/// Pauses the copy (safe at any moment: nothing is lost or doubled).
#[tauri::command]
pub async fn pause_run(runs: State<'_, Runs>, run: RunId) -> IpcResult<()> {
    let run = runs.get(run)?;
    tauri::async_runtime::spawn_blocking(move || run.stop(RunState::Paused))
        .await
        .map_err(IpcError::internal)
}

/// Resumes a paused or failed copy where it stopped.
#[tauri::command]
pub fn resume_run(runs: State<'_, Runs>, run: RunId) -> IpcResult<()> {
    runs.get(run)?.start()
}

/// Stops the copy for good (what arrived stays; a new copy continues from there).
#[tauri::command]
pub async fn cancel_run(runs: State<'_, Runs>, run: RunId) -> IpcResult<()> {
    let run = runs.get(run)?;
    tauri::async_runtime::spawn_blocking(move || run.stop(RunState::Cancelled))
        .await
        .map_err(IpcError::internal)
}
