//! Step 5, "Scan": how much mail each source folder holds, its largest
//! messages, and how long the copy is likely to take at the providers'
//! limits. Reads counts (EXAMINE), sizes (RFC822.SIZE) and the headers of
//! the few largest messages; changes nothing.

use crate::accounts::{Account, AccountHandle, Accounts};
use crate::error::IpcResult;
use mailferry::identity::Summary;
use mailferry::preset::Preset as EnginePreset;
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

/// One of the mailbox's largest messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct LargeMessage {
    /// Its folder (display name; untrusted text).
    pub folder: String,
    /// Its size in bytes.
    #[ts(type = "number")]
    pub bytes: u64,
    /// Subject (untrusted text).
    pub subject: Option<String>,
    /// From header (untrusted text).
    pub from: Option<String>,
    /// Larger than the new server accepts: it will be listed, not copied.
    pub too_large: bool,
}

/// How long the copy is likely to take.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct ScanEstimate {
    /// Seconds.
    #[ts(type = "number")]
    pub seconds: u64,
    /// The whole estimate in one sentence ("About 3 hours: Gmail allows …").
    pub words: String,
    /// What decides it, in plain words.
    pub limited_by: String,
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
    /// The largest messages, largest first (at most [`LARGEST`]).
    pub largest_messages: Vec<LargeMessage>,
    /// A "whale": over [`WHALE_BYTES`], a mailbox worth staging.
    pub whale: bool,
    /// The estimate at both providers' limits.
    pub estimate: ScanEstimate,
    /// The new server's largest accepted message, when known.
    #[ts(type = "number | null")]
    pub max_message_bytes: Option<u64>,
}

/// How many of the largest messages the scan lists.
pub const LARGEST: usize = 10;
/// Messages read per FETCH while scanning (by UID range).
const CHUNK: u32 = 5_000;
/// A mailbox over 10 GB is a whale (DESIGN.md, "Scan").
pub const WHALE_BYTES: u64 = 10 * 1_000_000_000;

/// The engine's preset for a wizard tile id (the tiles and the engine name
/// Microsoft differently), else the one its server name suggests.
pub fn engine_preset(tile: Option<&str>, host: &str) -> EnginePreset {
    let id = match tile {
        Some("microsoft") => Some("microsoft365"),
        other => other,
    };
    id.and_then(mailferry::preset::by_id)
        .unwrap_or_else(|| mailferry::preset::for_host(host))
}

/// Scans the source mailbox: sizes, largest messages and the estimate for
/// copying it to a server like `dest`.
pub async fn scan_account(
    account: &Account,
    source: &EnginePreset,
    dest: &EnginePreset,
) -> IpcResult<Scan> {
    scan_in_chunks(account, source, dest, CHUNK).await
}

/// [`scan_account`], reading `chunk` UIDs per FETCH.
pub async fn scan_in_chunks(
    account: &Account,
    source: &EnginePreset,
    dest: &EnginePreset,
    chunk: u32,
) -> IpcResult<Scan> {
    let chunk = chunk.max(1);
    let (mut session, tree) = super::open_tree(account).await?;
    let mut folders = Vec::new();
    // (size, folder index, uid), the largest messages so far.
    let mut top: Vec<(u64, usize, u32)> = Vec::new();
    let selectable: Vec<_> = tree.folders.iter().filter(|f| f.is_selectable()).collect();
    for (i, folder) in selectable.iter().enumerate() {
        let status = session.examine(folder.name.wire()).await?;
        let (mut bytes, mut largest) = (0u64, 0u64);
        if status.exists > 0 {
            // In UID ranges, so a huge folder never sits in memory whole;
            // only the running totals and the largest few are kept.
            let ranges = match status.uid_next {
                Some(next) if next > 1 => (1..next)
                    .step_by(chunk as usize)
                    .map(|from| format!("{from}:{}", from.saturating_add(chunk - 1)))
                    .collect(),
                _ => vec!["1:*".to_owned()],
            };
            for range in ranges {
                for meta in session.fetch_meta(&range).await? {
                    let size = u64::from(meta.size);
                    bytes += size;
                    largest = largest.max(size);
                    top.push((size, i, meta.uid));
                }
                top.sort_by_key(|m| std::cmp::Reverse(m.0));
                top.truncate(LARGEST);
            }
        }
        folders.push(ScannedFolder {
            name: folder.name.display().to_owned(),
            messages: status.exists,
            bytes,
            largest,
        });
    }
    // The headers of the largest messages, folder by folder.
    let mut largest_messages = Vec::with_capacity(top.len());
    for &(size, i, uid) in &top {
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
            bytes: size,
            subject: summary.subject,
            from: summary.from,
            too_large: dest.max_message_bytes.is_some_and(|max| size > max),
        });
    }
    session.logout().await;
    folders.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.name.cmp(&b.name)));
    let messages: u32 = folders.iter().map(|f| f.messages).sum();
    let bytes: u64 = folders.iter().map(|f| f.bytes).sum();
    let estimate = mailferry::preset::estimate(u64::from(messages), bytes, source, dest);
    Ok(Scan {
        folders,
        messages,
        bytes,
        largest_messages,
        whale: bytes > WHALE_BYTES,
        estimate: ScanEstimate {
            seconds: estimate.seconds,
            words: estimate.words,
            limited_by: estimate.limited_by,
        },
        max_message_bytes: dest.max_message_bytes,
    })
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
    let source = engine_preset(source_preset.as_deref(), &account.endpoint.host);
    let dest = engine_preset(destination_preset.as_deref(), &dest_host);
    scan_account(&account, &source, &dest).await
}
