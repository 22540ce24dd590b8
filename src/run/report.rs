//! What a run did, per folder and in all, as the command line and the app
//! show it: the counts, the messages not copied with the reasons, and the
//! exit code.

use crate::state::RunCounters;
use serde::Serialize;

/// A message that could not be copied, as the report lists it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct NotCopiedMessage {
    /// Its UID at the source.
    pub uid: u32,
    /// Message-ID, From, Subject, Date, to recognise it.
    pub message_id: Option<String>,
    /// From header.
    pub from: Option<String>,
    /// Subject header.
    pub subject: Option<String>,
    /// Date header.
    pub date: Option<String>,
    /// Why, in plain words.
    pub reason: String,
}

/// One folder's result.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct FolderReport {
    /// Source folder (display name).
    pub source: String,
    /// Destination folder (display name).
    pub destination: String,
    /// Messages in the source folder.
    pub messages: u64,
    /// Copied now (in a dry run: would be copied).
    pub transferred: u64,
    /// Bytes copied now (or that would be).
    pub bytes: u64,
    /// Already at the destination (copied earlier, or by another tool).
    pub already_there: u64,
    /// Not copied on purpose (filters, deleted at source, Gmail labels).
    pub skipped: u64,
    /// Refused by the destination (listed in `errors`).
    pub failed: u64,
    /// The refused messages, with reasons.
    pub errors: Vec<NotCopiedMessage>,
    /// Keywords the destination folder cannot store (dropped, message kept).
    pub dropped_keywords: Vec<String>,
    /// Messages copied earlier whose read/starred/answered state (or other
    /// tags) changed at the source and was brought over.
    pub flags_updated: u64,
    /// Messages removed at the destination because they are gone from the
    /// source (`--delete2`, before the switch).
    pub removed: u64,
    /// Gmail's All Mail: messages already copied through one of their
    /// labels (another folder), so not copied into this one again.
    pub in_other_folders: u64,
    /// The folder could not be copied this time (a server refused to open
    /// or read it: its words); the next run tries it again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// What a run did.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Report {
    /// Nothing was written.
    pub dry: bool,
    /// Per folder, in the order copied.
    pub folders: Vec<FolderReport>,
    /// Source folders left out by the folder map, with the reason.
    pub excluded_folders: Vec<(String, String)>,
    /// Why the run stopped early, if it did.
    pub stopped: Option<String>,
    /// Source folders renamed at the old server since an earlier run, and
    /// what became of their copies.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub renamed: Vec<crate::folder::Renamed>,
}

impl Report {
    /// Messages copied in this run.
    pub fn transferred(&self) -> u64 {
        self.folders.iter().map(|f| f.transferred).sum()
    }

    /// Folders that could not be copied this run.
    pub fn refused(&self) -> impl Iterator<Item = &FolderReport> {
        self.folders.iter().filter(|f| f.refused.is_some())
    }

    /// Messages refused.
    pub fn failed(&self) -> u64 {
        self.folders.iter().map(|f| f.failed).sum()
    }

    /// Messages already at the destination.
    pub fn already_there(&self) -> u64 {
        self.folders.iter().map(|f| f.already_there).sum()
    }

    /// Messages skipped on purpose.
    pub fn skipped(&self) -> u64 {
        self.folders.iter().map(|f| f.skipped).sum()
    }

    /// 0: all copied; 1: finished with messages not copied.
    pub fn exit_code(&self) -> u8 {
        if self.failed() > 0 || self.stopped.is_some() || self.refused().next().is_some() {
            1
        } else {
            0
        }
    }

    pub(super) fn counters(&self) -> RunCounters {
        RunCounters {
            copied: self.transferred(),
            already_there: self.already_there(),
            skipped: self.skipped(),
            failed: self.failed(),
            bytes_copied: self.folders.iter().map(|f| f.bytes).sum(),
            flags_updated: self.folders.iter().map(|f| f.flags_updated).sum(),
            removed: self.folders.iter().map(|f| f.removed).sum(),
            ..RunCounters::default()
        }
    }
}

/// Bytes as "3.2 MB".
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_naturally() {
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(35_651_584), "35.7 MB");
    }
}
