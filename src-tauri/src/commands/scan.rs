//! Step 5, "Scan": the engine's scan (`mailferry::scan`) of the source
//! mailbox — how much mail each folder holds, its largest messages, and how
//! long the copy is likely to take at the providers' limits. Changes
//! nothing.

use crate::accounts::{Account, AccountHandle, Accounts};
use crate::error::IpcResult;
use mailferry::preset::Preset;
use mailferry::scan::Scan;
use tauri::State;

/// Scans the source mailbox: sizes, largest messages and the estimate for
/// copying it to a server like `dest`.
pub async fn scan_account(account: &Account, source: &Preset, dest: &Preset) -> IpcResult<Scan> {
    scan_in_chunks(account, source, dest, mailferry::scan::CHUNK).await
}

/// [`scan_account`], reading `chunk` UIDs per FETCH.
pub async fn scan_in_chunks(
    account: &Account,
    source: &Preset,
    dest: &Preset,
    chunk: u32,
) -> IpcResult<Scan> {
    let (mut session, tree) = super::open_tree(account).await?;
    let scan = mailferry::scan::scan_in_chunks(&mut session, &tree, source, dest, chunk).await;
    session.logout().await;
    Ok(scan?)
}

/// Scans the source mailbox. `source_preset` and `destination_preset` are
/// the tiles the user picked (for the providers' limits); without them the
/// server names decide.
pub async fn scan(
    accounts: State<'_, Accounts>,
    account: AccountHandle,
    source_preset: Option<String>,
    destination_preset: Option<String>,
    destination: Option<AccountHandle>,
) -> IpcResult<Scan> {
    let account = accounts.get(account)?;
    let dest_host = match destination {
        Some(handle) => accounts.get(handle)?.endpoint.host,
        None => String::new(),
    };
    let source = mailferry::preset::chosen(source_preset.as_deref(), &account.endpoint.host);
    let dest = mailferry::preset::chosen(destination_preset.as_deref(), &dest_host);
    scan_account(&account, &source, &dest).await
}
