//! Mail as files on this computer: a mailbox exported to Maildir, mbox or
//! `.eml` files (with a manifest), and such files imported into a mailbox.
//!
//! Both directions keep their durable memory in the same progress file a
//! copy uses ([`crate::state::State`]): an intent before a message is
//! written, the confirmation after it is safely on disk (or at the
//! server), and every message's fate for `mailferry log`. An export keeps
//! its progress file inside the archive (`.mailferry/export.db`), so it
//! never shares one with a copy of the same mailbox.

pub mod export;
pub mod flags;
pub mod import;
pub mod journal;
pub mod mbox;

use crate::error::Error;
use crate::state::StateError;
use std::io::Write;
use std::path::{Path, PathBuf};

/// How an archive holds its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// A Maildir per folder (`cur/`, `new/`, `tmp/`), flags in file names.
    Maildir,
    /// One mbox file per folder (mboxrd quoting).
    Mbox,
    /// One `.eml` file per message.
    Eml,
}

impl Format {
    /// The name used on the command line and in the archive.
    pub fn name(self) -> &'static str {
        match self {
            Format::Maildir => "maildir",
            Format::Mbox => "mbox",
            Format::Eml => "eml",
        }
    }

    /// The format named `name`.
    pub fn from_name(name: &str) -> Option<Format> {
        match name {
            "maildir" => Some(Format::Maildir),
            "mbox" => Some(Format::Mbox),
            "eml" => Some(Format::Eml),
            _ => None,
        }
    }
}

/// How far an export or an import is, told after each batch and each
/// folder: what a progress display shows.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Progress {
    /// Folders finished.
    pub folders_done: usize,
    /// Folders in all.
    pub folders: usize,
    /// The folder at work (display form); empty before the first.
    pub folder: String,
    /// Messages written (an export) or sent (an import) by this run so far.
    pub done: u64,
    /// Messages found there from an earlier run.
    pub already: u64,
}

/// What is told each new [`Progress`].
pub type OnProgress<'a> = &'a mut (dyn FnMut(&Progress) + Send);

/// Why an export or an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The server failed (sign-in, connection, a refused command).
    #[error("{0}")]
    Server(#[from] Error),
    /// The progress file failed.
    #[error("{0}")]
    State(#[from] StateError),
    /// A file or folder on this computer could not be read or written.
    #[error("cannot {action} {path}: {source}")]
    Files {
        /// What was being done, in plain words.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// The archive is not what this command can use.
    #[error("{0}")]
    Unusable(String),
}

/// A file-system error with what was being done and where.
pub(crate) fn files(
    action: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> ArchiveError {
    let path = path.to_owned();
    move |source| ArchiveError::Files {
        action,
        path,
        source,
    }
}

/// Writes `bytes` to `path` so that no reader ever sees half of it: a
/// temporary name beside it, flushed to disk, renamed over, and the folder
/// flushed so the rename survives a power cut.
pub fn write_atomic(path: &Path, bytes: &[u8], mtime: Option<i64>) -> Result<(), ArchiveError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(".part");
    let tmp = dir.join(tmp_name);
    let mut file = std::fs::File::create(&tmp).map_err(files("create", &tmp))?;
    file.write_all(bytes).map_err(files("write", &tmp))?;
    if let Some(t) = mtime.and_then(system_time) {
        file.set_modified(t)
            .map_err(files("set the time of", &tmp))?;
    }
    file.sync_all().map_err(files("flush to disk", &tmp))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(files("rename into place", path))?;
    sync_dir(dir)
}

/// Flushes a folder's entries (a rename, a new file) to disk.
pub fn sync_dir(dir: &Path) -> Result<(), ArchiveError> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(files("flush to disk", dir))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Unix seconds as a file time.
pub(crate) fn system_time(unix: i64) -> Option<std::time::SystemTime> {
    let secs = u64::try_from(unix).ok()?;
    std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(secs))
}

/// A folder name segment as a file name any system accepts: path
/// separators, NUL, and the names `.`/`..` are written as `%XX`, and so is
/// `%` itself (so [`segment_from_file`] gives the name back).
pub fn segment_to_file(segment: &str) -> String {
    if segment == "." || segment == ".." {
        return segment.replace('.', "%2E");
    }
    let mut out = String::with_capacity(segment.len());
    for c in segment.chars() {
        match c {
            '/' | '\\' | '%' | ':' | '\0' | '*' | '?' | '"' | '<' | '>' | '|' => {
                out.push_str(&format!("%{:02X}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("%{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// The folder name segment a file name stands for (undoes [`segment_to_file`]).
pub fn segment_from_file(file: &str) -> String {
    let bytes = file.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(v) = u8::from_str_radix(&file[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| file.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_segments_survive_the_trip_through_file_names() {
        for s in ["INBOX", "a/b", "100%", "..", "C:\\x", "Émoji ✉", "."] {
            let f = segment_to_file(s);
            assert!(!f.contains('/') && f != "." && f != "..", "{f}");
            assert_eq!(segment_from_file(&f), s);
        }
    }
}
