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
use crate::error::{ErrorCode, IpcError, IpcResult};
use mailferry::folder::{map_folders, read_tree, FolderMap, FolderTree, Rules};
use mailferry::imap::Session;

/// Signs in to an account and reads its folder tree.
pub(crate) async fn open_tree(account: &Account) -> IpcResult<(Session, FolderTree)> {
    let mut session = Session::connect(&account.endpoint, &account.credentials).await?;
    let tree = read_tree(&mut session).await?;
    Ok((session, tree))
}

/// Both sides of a mailbox pair, signed in, with the folder map between them.
pub(crate) struct Pair {
    pub source: Session,
    pub dest: Session,
    pub dest_tree: FolderTree,
    pub map: FolderMap,
}

/// Opens both sides and maps the folders with the default rules.
#[allow(dead_code)] // Every caller passes the user's edits now; kept for the other pairs' callers.
pub(crate) async fn open_pair(source: &Account, dest: &Account) -> IpcResult<Pair> {
    open_pair_with(source, dest, &folder_map::FolderEdits::default()).await
}

/// Opens both sides and maps the folders with the user's edits (the map
/// the folder-map screen showed).
pub(crate) async fn open_pair_with(
    source: &Account,
    dest: &Account,
    edits: &folder_map::FolderEdits,
) -> IpcResult<Pair> {
    let (source_session, source_tree) = open_tree(source).await?;
    let (dest_session, dest_tree) = open_tree(dest).await?;
    let rules: Rules = edits.rules(source_tree.delimiter)?;
    let map = map_folders(&source_tree, &dest_tree, &rules);
    Ok(Pair {
        source: source_session,
        dest: dest_session,
        dest_tree,
        map,
    })
}

/// The error for a map with open questions.
pub(crate) fn decision_needed(map: &FolderMap) -> IpcError {
    IpcError::new(
        ErrorCode::FolderDecisionNeeded,
        format!(
            "Nothing was copied: {} folder question{} must be settled first (see the folder map).",
            map.decisions_needed(),
            if map.decisions_needed() == 1 { "" } else { "s" }
        ),
    )
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
