//! Step 5, "Scan": how much mail each source folder holds. Reads counts
//! (EXAMINE) and sizes (RFC822.SIZE, no bodies); changes nothing.

use crate::accounts::{AccountHandle, Accounts};
use crate::error::IpcResult;
use serde::Serialize;
use tauri::State;
use ts_rs::TS;

/// One source folder's size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct ScannedFolder {
    /// Display name (untrusted text: the UI shows it as text only).
    pub name: String,
    /// Messages in it.
    pub messages: u32,
    /// Their total size in bytes.
    #[ts(type = "number")]
    pub bytes: u64,
    /// The largest message's size in bytes.
    #[ts(type = "number")]
    pub largest: u64,
}

/// The scan of one mailbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct Scan {
    /// Folders, largest first.
    pub folders: Vec<ScannedFolder>,
    /// All messages.
    pub messages: u32,
    /// All bytes.
    #[ts(type = "number")]
    pub bytes: u64,
}

/// Scans the source mailbox.
#[tauri::command]
pub async fn scan(accounts: State<'_, Accounts>, account: AccountHandle) -> IpcResult<Scan> {
    let account = accounts.get(account)?;
    let (mut session, tree) = super::open_tree(&account).await?;
    let mut folders = Vec::new();
    for folder in tree.folders.iter().filter(|f| f.is_selectable()) {
        let status = session.examine(folder.name.wire()).await?;
        let (mut bytes, mut largest) = (0u64, 0u64);
        if status.exists > 0 {
            for meta in session.fetch_meta("1:*").await? {
                bytes += u64::from(meta.size);
                largest = largest.max(u64::from(meta.size));
            }
        }
        folders.push(ScannedFolder {
            name: folder.name.display().to_owned(),
            messages: status.exists,
            bytes,
            largest,
        });
    }
    session.logout().await;
    folders.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.name.cmp(&b.name)));
    Ok(Scan {
        messages: folders.iter().map(|f| f.messages).sum(),
        bytes: folders.iter().map(|f| f.bytes).sum(),
        folders,
    })
}
