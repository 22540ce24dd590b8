//! Folder sizes: how many messages and bytes each folder holds, and its
//! largest message — for `--justfoldersizes`, the wizard's scan and
//! estimates. Only reads (EXAMINE and message sizes).

use crate::error::Error;
use crate::folder::MailboxName;
use crate::imap::Session;
use serde::Serialize;

/// One folder's size.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct FolderSize {
    /// The folder (display name).
    pub folder: String,
    /// Messages in it.
    pub messages: u64,
    /// Their total size in bytes.
    pub bytes: u64,
    /// The largest message's size in bytes.
    pub largest: u64,
}

/// Reads the size of each folder; a folder that can't be opened (missing
/// at the destination, `\Noselect`) counts as empty.
pub async fn folder_sizes(
    session: &mut Session,
    folders: &[MailboxName],
) -> Result<Vec<FolderSize>, Error> {
    let mut out = Vec::with_capacity(folders.len());
    for name in folders {
        let mut size = FolderSize {
            folder: name.display().to_owned(),
            messages: 0,
            bytes: 0,
            largest: 0,
        };
        let status = match session.examine(name.wire()).await {
            Ok(status) => status,
            Err(e) if matches!(e.problem(), crate::error::Problem::ServerRefused { .. }) => {
                out.push(size);
                continue;
            }
            Err(e) => return Err(e),
        };
        if status.exists > 0 {
            for s in session.message_sizes().await? {
                size.messages += 1;
                size.bytes += u64::from(s);
                size.largest = size.largest.max(u64::from(s));
            }
        }
        out.push(size);
    }
    Ok(out)
}
