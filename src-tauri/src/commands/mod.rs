//! The `#[tauri::command]`s, one file per wizard step. Each is a thin layer
//! over the engine: it checks what the window sent, calls the engine, and
//! turns the answer into a DTO or an [`IpcError`](crate::error::IpcError).

pub mod connect;
pub mod copy;
pub mod cutover;
pub mod demo;
pub mod folder_map;
pub mod job;
pub mod mailboxes;
pub mod oauth;
pub mod report;
pub mod scan;
pub mod servers;
pub mod sign_in;
pub mod update;
pub mod verify;

use crate::accounts::Account;
use crate::error::{IpcError, IpcResult};
use mailferry::folder::{read_tree, FolderTree, Rules};
use mailferry::imap::Session;
use mailferry::job::{Job, ProgressFile};

/// Signs in to an account and reads its folder tree.
pub(crate) async fn open_tree(account: &Account) -> IpcResult<(Session, FolderTree)> {
    let mut session = Session::connect(&account.endpoint, &account.credentials).await?;
    let tree = read_tree(&mut session).await?;
    Ok((session, tree))
}

/// Signs in to both accounts and opens their migration job (the engine's
/// [`Job`]: both trees read and mapped with the user's edits, the job's
/// progress file named after the two accounts; a damaged one is rebuilt
/// only when the user asked: `rebuild_if_damaged`).
pub(crate) async fn open_job(
    source: &Account,
    dest: &Account,
    edits: &folder_map::FolderEdits,
    rebuild_if_damaged: bool,
) -> IpcResult<Job> {
    let progress = ProgressFile {
        path: copy::job_path(source, dest)?,
        rebuild_if_damaged,
    };
    let mut job = Job::connect(
        (&source.endpoint, &source.credentials),
        (&dest.endpoint, &dest.credentials),
        &Rules::default(),
        progress,
    )
    .await
    .map_err(|e| IpcError::from(e.error))?;
    match edits.rules(job.source_tree().delimiter) {
        Ok(rules) => job.remap(&rules),
        Err(e) => {
            job.close().await;
            return Err(e);
        }
    }
    Ok(job)
}

/// Runs engine work whose future cannot move between threads (it holds the
/// SQLite state or a `&mut dyn EventSink` across awaits) on a blocking
/// thread with a runtime of its own.
pub(crate) fn block_on_own_runtime<T>(
    work: impl std::future::Future<Output = IpcResult<T>>,
) -> IpcResult<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(IpcError::internal)?
        .block_on(work)
}
