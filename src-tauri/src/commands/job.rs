//! The job's settings between launches: the servers, the mailbox pairs,
//! the folder-map edits and how far the wizard got, saved as JSON in the
//! app's data folder so closing the app loses nothing ("Continue where you
//! left off"). No secret is in it: the type has no field that could hold
//! one (passwords stay in the keychain or the session). The copy's own
//! progress is the engine's state database per mailbox pair (`jobs/*.db`),
//! so a copy interrupted by closing the app continues from there.

use super::servers::Server;
use crate::error::{IpcError, IpcResult};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use ts_rs::TS;

/// One side of the saved job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SavedSide {
    /// The provider tile picked (`gmail`, …, `other`).
    pub preset: Option<String>,
    /// The server.
    pub server: Server,
    /// The user of the first mailbox (the one signed in on "Sign in").
    pub user: String,
}

/// A mailbox pair of the saved job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SavedPair {
    /// The user at the old server.
    pub source_user: String,
    /// The user at the new server.
    pub destination_user: String,
    /// A copy of this pair finished.
    pub copied: bool,
    /// What the owner decided for it (a job saved before there were
    /// decisions: moved).
    #[serde(default)]
    pub decision: Option<crate::commands::mailboxes::Decision>,
    /// Its flags from the directory, in words.
    #[serde(default)]
    pub flags: Vec<String>,
    /// The person's name, from the directory.
    #[serde(default)]
    pub name: Option<String>,
    /// The old mailbox signed in with the administrator sign-in the
    /// directory was read with (not with a password of its own).
    #[serde(default)]
    pub admin: bool,
    /// The storage it uses, in words, from the directory's usage report.
    #[serde(default)]
    pub storage: Option<String>,
    /// The same in bytes (for the estimate).
    #[serde(default)]
    #[ts(type = "number | null")]
    pub storage_bytes: Option<u64>,
}

/// Everything about the job but its secrets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct SavedJob {
    /// Where the mail comes from.
    pub source: SavedSide,
    /// Where it goes.
    pub destination: SavedSide,
    /// A copy of the first pair (`source.user` → `destination.user`) finished.
    #[serde(default)]
    pub first_copied: bool,
    /// The first pair is kept as files on this computer too.
    #[serde(default)]
    pub first_keep: bool,
    /// The mailbox pairs after the first.
    pub mailboxes: Vec<SavedPair>,
    /// The user's folder-map edits and where the staged copy plan stands,
    /// as the window keeps them.
    #[ts(type = "unknown")]
    pub folder_map: Option<serde_json::Value>,
    /// The wizard step the user was on (1-8).
    pub step: u8,
    /// When it was saved (seconds since 1970), to say "saved on …".
    #[ts(type = "number")]
    pub saved_at: i64,
}

/// The settings file in MailFerry's data folder ([`mailferry::paths`]).
pub fn job_file(data_dir: &Path) -> PathBuf {
    data_dir.join("job.json")
}

fn save_failed(path: &Path, e: impl std::fmt::Display) -> IpcError {
    IpcError {
        detail: Some(format!("{}: {e}", path.display())),
        ..IpcError::new(
            crate::error::ErrorCode::StateFailed,
            "MailFerry couldn't save this migration's settings, so they will have to be entered \
             again after closing the app. Check that your disk isn't full.",
        )
    }
}

/// Saves the settings (write to a temporary file, then rename: a crash
/// leaves the old file or the new one, never half of one).
pub fn save_to(path: &Path, job: &SavedJob) -> IpcResult<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| save_failed(path, e))?;
    }
    let json = serde_json::to_vec_pretty(job).map_err(IpcError::internal)?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, json).map_err(|e| save_failed(path, e))?;
    std::fs::rename(&tmp, path).map_err(|e| save_failed(path, e))
}

/// The saved settings; `None` when there are none or the file can't be read
/// (an unreadable file is set aside as `job.json.unreadable`, not deleted).
pub fn load_from(path: &Path) -> Option<SavedJob> {
    let bytes = std::fs::read(path).ok()?;
    match serde_json::from_slice(&bytes) {
        Ok(job) => Some(job),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "the saved job is unreadable");
            let _ = std::fs::rename(path, path.with_extension("json.unreadable"));
            None
        }
    }
}

/// MailFerry's data folder, the same for the app and the CLI.
fn data_dir() -> IpcResult<PathBuf> {
    mailferry::paths::data_dir().ok_or_else(|| {
        IpcError::internal("this computer has no user data folder (set MAILFERRY_DATA_DIR)")
    })
}

/// Saves the job's settings (no secrets; see [`SavedJob`]).
pub fn save_job(job: SavedJob) -> IpcResult<()> {
    save_to(&job_file(&data_dir()?), &job)
}

/// The settings saved by an earlier session, if any.
pub fn load_job() -> IpcResult<Option<SavedJob>> {
    Ok(load_from(&job_file(&data_dir()?)))
}

/// Forgets the saved settings ("Start a new migration"). The copies'
/// progress files stay: copying the same mailboxes again copies nothing twice.
pub fn forget_job() -> IpcResult<()> {
    match std::fs::remove_file(job_file(&data_dir()?)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(IpcError::internal(e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailferry::endpoint::Security;

    fn job() -> SavedJob {
        let side = |user: &str, port| SavedSide {
            preset: Some("gmail".into()),
            server: Server {
                host: "127.0.0.1".into(),
                port,
                security: Security::Tls,
                trusted_fingerprint: Some("ab".repeat(32)),
            },
            user: user.into(),
        };
        SavedJob {
            source: side("alice", 993),
            destination: side("alice", 143),
            first_copied: true,
            first_keep: true,
            mailboxes: vec![SavedPair {
                source_user: "bob".into(),
                destination_user: "bob".into(),
                copied: true,
                decision: Some(crate::commands::mailboxes::Decision::MoveAndKeep),
                flags: vec!["Never signed in".into()],
                name: Some("Bob Baker".into()),
                admin: true,
                storage: Some("2.3 GB".into()),
                storage_bytes: Some(2_300_000_000),
            }],
            folder_map: Some(serde_json::json!({ "renames": [["Receipts", "Bills"]] })),
            step: 7,
            saved_at: 1_767_225_600,
        }
    }

    #[test]
    fn settings_round_trip_through_the_data_folder_without_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let path = job_file(dir.path());
        assert_eq!(load_from(&path), None, "nothing saved yet");
        save_to(&path, &job()).unwrap();
        assert_eq!(load_from(&path), Some(job()));
        let text = std::fs::read_to_string(&path).unwrap().to_lowercase();
        for word in ["password", "secret", "token"] {
            assert!(!text.contains(word), "{word} in {text}");
        }
        let mut later = job();
        later.step = 8;
        save_to(&path, &later).unwrap();
        assert_eq!(load_from(&path).unwrap().step, 8);
        assert!(!path.with_extension("json.tmp").exists());
    }

    #[test]
    fn an_unreadable_file_is_set_aside_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let path = job_file(dir.path());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"{ half a file").unwrap();
        assert_eq!(load_from(&path), None);
        assert!(path.with_extension("json.unreadable").exists());
        assert!(!path.exists());
    }

    #[test]
    fn a_password_sent_by_the_window_is_not_kept() {
        // serde ignores fields the type doesn't have: a window that sent a
        // password along with the settings would not get it saved.
        let mut value = serde_json::to_value(job()).unwrap();
        value["source"]["password"] = "hunter2".into();
        value["password"] = "hunter2".into();
        let job: SavedJob = serde_json::from_value(value).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = job_file(dir.path());
        save_to(&path, &job).unwrap();
        assert!(!std::fs::read_to_string(&path).unwrap().contains("hunter2"));
    }
}
