//! The window's commands, one file per wizard step (made Tauri commands by
//! [`crate::ipc`], from its list). Each is a thin layer over the engine: it
//! checks what the window sent, calls the engine, and turns the answer into
//! a DTO or an [`IpcError`](crate::error::IpcError).

pub mod connect;
pub mod contacts;
pub mod copy;
pub mod cutover;
pub mod demo;
pub mod discover;
pub mod files;
pub mod folder_map;
pub mod google_dav;
pub mod graph;
pub mod job;
pub mod mailboxes;
pub mod oauth;
pub mod report;
pub mod scan;
pub mod servers;
pub mod sign_in;
pub mod update;
pub mod verify;
pub mod watch;

use crate::accounts::Account;
use crate::error::IpcResult;
use mailferry::folder::{read_tree, FolderTree};
use mailferry::imap::Session;

/// Signs in to an account and reads its folder tree.
pub(crate) async fn open_tree(account: &Account) -> IpcResult<(Session, FolderTree)> {
    let mut session = Session::connect(&account.endpoint, &account.credentials).await?;
    let tree = read_tree(&mut session).await?;
    Ok((session, tree))
}
