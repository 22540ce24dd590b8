//! The scan: how many messages and bytes each folder holds, its largest
//! message, the mailbox's largest messages and how long the copy is likely
//! to take at the providers' limits — for `--justfoldersizes` and the
//! wizard's scan, one reader for both. Only reads (EXAMINE, sizes, and the
//! headers of the few largest messages).

use crate::error::{Error, Problem};
use crate::folder::{FolderTree, MailboxName};
use crate::identity::Summary;
use crate::imap::Session;
use crate::preset::{Estimate, Preset};
use serde::Serialize;

/// One folder's size.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FolderSize {
    /// The folder (display name; untrusted text: shown as text only).
    pub folder: String,
    /// Messages in it.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub messages: u64,
    /// Their total size in bytes.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub bytes: u64,
    /// The largest message's size in bytes.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub largest: u64,
}

/// One of the mailbox's largest messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LargeMessage {
    /// Its folder (display name; untrusted text).
    pub folder: String,
    /// Its size in bytes.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub bytes: u64,
    /// Subject (untrusted text).
    pub subject: Option<String>,
    /// From header (untrusted text).
    pub from: Option<String>,
    /// Larger than the new server accepts: it will be listed, not copied.
    pub too_large: bool,
}

/// The scan of one mailbox.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Scan {
    /// Folders, largest first.
    pub folders: Vec<FolderSize>,
    /// All messages.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub messages: u64,
    /// All bytes.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub bytes: u64,
    /// The largest messages, largest first (at most [`LARGEST`]).
    pub largest_messages: Vec<LargeMessage>,
    /// A "whale": over [`WHALE_BYTES`], a mailbox worth staging.
    pub whale: bool,
    /// The estimate at both providers' limits.
    pub estimate: Estimate,
    /// The new server's largest accepted message, when known.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub max_message_bytes: Option<u64>,
}

/// How many of the largest messages the scan lists.
pub const LARGEST: usize = 10;
/// Messages read per FETCH (by UID range), so a huge folder never sits in
/// memory whole.
pub const CHUNK: u32 = 5_000;
/// A mailbox over 10 GB is a whale (DESIGN.md, "Scan").
pub const WHALE_BYTES: u64 = 10 * 1_000_000_000;

/// Reads one folder's sizes in UID ranges of `chunk`, telling `seen` each
/// message's size and UID; only the running totals are kept.
async fn read_folder(
    session: &mut Session,
    name: &MailboxName,
    chunk: u32,
    mut seen: impl FnMut(u64, u32),
) -> Result<FolderSize, Error> {
    let chunk = chunk.max(1);
    let mut size = FolderSize {
        folder: name.display().to_owned(),
        messages: 0,
        bytes: 0,
        largest: 0,
    };
    let status = session.examine(name.wire()).await?;
    if status.exists == 0 {
        return Ok(size);
    }
    let ranges: Vec<String> = match status.uid_next {
        Some(next) if next > 1 => (1..next)
            .step_by(chunk as usize)
            .map(|from| format!("{from}:{}", from.saturating_add(chunk - 1)))
            .collect(),
        _ => vec!["1:*".to_owned()],
    };
    for range in ranges {
        for (uid, bytes) in session.message_sizes(&range).await? {
            let bytes = u64::from(bytes);
            size.messages += 1;
            size.bytes += bytes;
            size.largest = size.largest.max(bytes);
            seen(bytes, uid);
        }
    }
    Ok(size)
}

/// Reads the size of each folder; a folder that can't be opened (missing
/// at the destination, `\Noselect`) counts as empty.
pub async fn folder_sizes(
    session: &mut Session,
    folders: &[MailboxName],
) -> Result<Vec<FolderSize>, Error> {
    let mut out = Vec::with_capacity(folders.len());
    for name in folders {
        match read_folder(session, name, CHUNK, |_, _| {}).await {
            Ok(size) => out.push(size),
            Err(e) if matches!(e.problem(), Problem::ServerRefused { .. }) => {
                out.push(FolderSize {
                    folder: name.display().to_owned(),
                    messages: 0,
                    bytes: 0,
                    largest: 0,
                });
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// The wizard's scan of the mailbox `session` is signed in to, whose folder
/// tree is `tree`: sizes per folder, the largest messages, and the estimate
/// for copying it from a server like `source` to one like `dest`.
pub async fn scan(
    session: &mut Session,
    tree: &FolderTree,
    source: &Preset,
    dest: &Preset,
) -> Result<Scan, Error> {
    scan_in_chunks(session, tree, source, dest, CHUNK).await
}

/// [`scan`], reading `chunk` UIDs per FETCH.
pub async fn scan_in_chunks(
    session: &mut Session,
    tree: &FolderTree,
    source: &Preset,
    dest: &Preset,
    chunk: u32,
) -> Result<Scan, Error> {
    let selectable: Vec<_> = tree.folders.iter().filter(|f| f.is_selectable()).collect();
    let mut folders = Vec::with_capacity(selectable.len());
    // (size, folder index, uid): the largest messages so far.
    let mut top: Vec<(u64, usize, u32)> = Vec::new();
    for (i, folder) in selectable.iter().enumerate() {
        folders.push(
            read_folder(session, &folder.name, chunk, |bytes, uid| {
                top.push((bytes, i, uid));
                if top.len() > 4 * LARGEST {
                    keep_largest(&mut top);
                }
            })
            .await?,
        );
    }
    keep_largest(&mut top);
    // The headers of the largest messages, folder by folder.
    let mut largest_messages = Vec::with_capacity(top.len());
    for &(bytes, i, uid) in &top {
        session.examine(selectable[i].name.wire()).await?;
        let summary = session
            .fetch_meta(&uid.to_string())
            .await?
            .into_iter()
            .next()
            .map(|m| Summary::of_headers(&m.headers))
            .unwrap_or_default();
        largest_messages.push(LargeMessage {
            folder: selectable[i].name.display().to_owned(),
            bytes,
            subject: summary.subject,
            from: summary.from,
            too_large: dest.max_message_bytes.is_some_and(|max| bytes > max),
        });
    }
    folders.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.folder.cmp(&b.folder)));
    let messages: u64 = folders.iter().map(|f| f.messages).sum();
    let bytes: u64 = folders.iter().map(|f| f.bytes).sum();
    Ok(Scan {
        folders,
        messages,
        bytes,
        largest_messages,
        whale: bytes > WHALE_BYTES,
        estimate: crate::preset::estimate(messages, bytes, source, dest),
        max_message_bytes: dest.max_message_bytes,
    })
}

/// The [`LARGEST`] largest, largest first (the earlier-read on a tie).
fn keep_largest(top: &mut Vec<(u64, usize, u32)>) {
    top.sort_by_key(|&(bytes, i, uid)| (std::cmp::Reverse(bytes), i, uid));
    top.truncate(LARGEST);
}
