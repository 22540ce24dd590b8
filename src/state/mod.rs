//! The durable memory of a migration job: which source message went where, what became of each, and which APPENDs are in doubt after a crash.
//!
//! One SQLite file per job (WAL, `synchronous=FULL`), opened through
//! [`State::open`]. The rules the engine relies on:
//!
//! - **Write after the destination confirmed.** A message row that says
//!   "copied" is written by [`State::confirm_copy`] only, after the server's
//!   OK. Before an APPEND the engine calls [`State::record_intent`]; the intent
//!   and the confirmation are two commits, so a crash between them leaves an
//!   intent that [`State::in_doubt_intents`] returns on the next start. The
//!   engine then looks for the message at the destination (APPENDUID, else a
//!   header search by fingerprint) and calls [`State::confirm_copy`] if it is
//!   there or [`State::discard_intent`] if it is not — before sending anything.
//! - **No second copy by mistake.** [`State::record_intent`] refuses a message
//!   that is already at the destination or already has an intent in doubt.
//! - **One run per job.** An OS file lock on `<file>.lock` (flock /
//!   LockFileEx) is held for the life of a [`State`]; the OS drops it when the
//!   process dies, even by SIGKILL. A second open fails with
//!   [`StateError::Busy`], in this process or another.
//! - **Damage is detected, not trusted.** An existing file is checked with
//!   `PRAGMA integrity_check` on open; damage gives [`StateError::Corrupt`], and
//!   [`State::replace_corrupt`] sets the file aside so the engine can rebuild
//!   the map from the destination by fingerprint.
//! - **A dry run writes nothing.** [`State::open_read_only`] gives a handle
//!   on which SQLite refuses every write.
//! - **No clock inside.** Every write that records a time takes `now` (unix
//!   seconds) from the caller.
//! - **No secrets.** No table has a column for a password or a token.

mod record;
mod schema;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use fs4::FileExt;
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior};

use crate::folder::MailboxName;
use crate::identity::{Fingerprint, Multiset, Summary};

pub use record::{
    DestFolderId, DestFolderRecord, FailReason, Fate, FolderId, FolderRecord, Intent, IntentId,
    LogEntry, MessageKey, MessageRecord, NotCopied, Phase, RunCounters, RunId, RunRecord,
    SkipReason, SourceMessage,
};
pub use schema::SCHEMA_VERSION;

use record::{flags_set, flags_text};
use schema::Migration;

/// Why the state store cannot do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Another process (or another handle in this one) holds the job lock.
    #[error(
        "cannot open the migration state {path}: another MailFerry run is using this migration{}. \
         Wait for it to finish, or stop it, then try again",
        .pid.map(|p| format!(" (process {p})")).unwrap_or_default()
    )]
    Busy {
        /// The state file.
        path: PathBuf,
        /// The process that holds the lock, as it wrote in the lock file.
        pid: Option<u32>,
    },
    /// The file is damaged; the engine can rebuild it from the destination.
    #[error(
        "cannot use the migration state {path}: the file is damaged ({detail}). \
         MailFerry can set it aside and rebuild it from what is already at the destination"
    )]
    Corrupt {
        /// The state file.
        path: PathBuf,
        /// What SQLite found.
        detail: String,
    },
    /// The file was written by a newer MailFerry.
    #[error(
        "cannot use the migration state {path}: it was written by a newer MailFerry \
         (format {found}; this version reads up to {supported}). Update MailFerry"
    )]
    TooNew {
        /// The state file.
        path: PathBuf,
        /// The schema version found.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// A read-only open found a file that needs an upgrade first.
    #[error(
        "cannot read the migration state {path} without updating its format (format {found}): \
         run once without --dry"
    )]
    Outdated {
        /// The state file.
        path: PathBuf,
        /// The schema version found.
        found: i64,
    },
    /// A file-system operation failed.
    #[error("cannot {action} {path}")]
    Io {
        /// What was being done, in plain words.
        action: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// SQLite reported an error.
    #[error("cannot read or write the migration state {path}")]
    Sqlite {
        /// The state file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A stored value is not one this version writes.
    #[error("cannot read the migration state: {what} holds the unexpected value {value:?}")]
    Decode {
        /// Which column.
        what: &'static str,
        /// The stored text.
        value: String,
    },
    /// No such folder in the store.
    #[error("cannot find folder #{0} in the migration state")]
    UnknownFolder(i64),
    /// No such intent (already confirmed or discarded).
    #[error("cannot find copy attempt #{0} in the migration state: it was already settled")]
    UnknownIntent(i64),
    /// No row for that message.
    #[error("cannot find source message UID {uid} (UIDVALIDITY {uidvalidity}) of folder #{folder} in the migration state")]
    UnknownMessage {
        /// Folder id.
        folder: i64,
        /// UIDVALIDITY.
        uidvalidity: u32,
        /// UID.
        uid: u32,
    },
    /// The message is already at the destination; copying it again would double it.
    #[error("cannot copy source message UID {uid} again: it is already at the destination")]
    AlreadyAtDestination {
        /// The source UID.
        uid: u32,
    },
    /// An earlier APPEND of the message is in doubt and must be settled first.
    #[error("cannot copy source message UID {uid}: an earlier copy attempt is in doubt and must be checked first")]
    IntentInDoubt {
        /// The source UID.
        uid: u32,
    },
    /// The job is past cutover; it cannot go back.
    #[error("cannot go back to before the cutover: this migration was marked as cut over")]
    PhaseBackwards,
}

impl StateError {
    /// Whether another run holds the job.
    pub fn is_busy(&self) -> bool {
        matches!(self, StateError::Busy { .. })
    }

    /// Whether the file is damaged (the engine should [`State::replace_corrupt`] and rebuild).
    pub fn is_corrupt(&self) -> bool {
        matches!(self, StateError::Corrupt { .. })
    }
}

/// The open state of one migration job, holding its lock.
///
/// Dropping it releases the lock. Not `Sync`: share it behind a mutex.
#[derive(Debug)]
pub struct State {
    conn: Connection,
    path: PathBuf,
    /// Held for the life of the `State`; closing the file releases the lock.
    _lock: File,
}

type Result<T, E = StateError> = std::result::Result<T, E>;

/// `<file>.lock` next to the state file.
fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Takes the job lock, or says who holds it.
fn take_lock(path: &Path) -> Result<File> {
    let lock = lock_path(path);
    let io = |action, source| StateError::Io {
        action,
        path: lock.clone(),
        source,
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock)
        .map_err(|e| io("open the lock file", e))?;
    // fs4's lock (flock on Unix), not std's `File::try_lock` (newer than our MSRV).
    match FileExt::try_lock(&file) {
        Ok(()) => {}
        Err(fs4::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let pid = file
                .read_to_string(&mut text)
                .ok()
                .and_then(|_| text.trim().parse().ok());
            return Err(StateError::Busy {
                path: path.to_owned(),
                pid,
            });
        }
        Err(fs4::TryLockError::Error(e)) => return Err(io("lock", e)),
    }
    // The PID is for the Busy message only; the lock itself is what counts.
    file.set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .and_then(|_| writeln!(file, "{}", std::process::id()))
        .map_err(|e| io("write the lock file", e))?;
    Ok(file)
}

impl State {
    /// Opens (creating or upgrading) the state of the job stored at `path`.
    ///
    /// `now` (unix seconds) is the job's creation time if the file is new.
    ///
    /// # Errors
    /// [`StateError::Busy`] if another run holds the job;
    /// [`StateError::Corrupt`] if the file is damaged (see
    /// [`State::replace_corrupt`]); [`StateError::TooNew`] for a file from a
    /// newer MailFerry; [`StateError::Io`]/[`StateError::Sqlite`] otherwise.
    pub fn open(path: &Path, now: i64) -> Result<State> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StateError::Io {
                action: "create the folder for",
                path: path.to_owned(),
                source,
            })?;
        }
        let lock = take_lock(path)?;
        State::open_locked(path, lock, now)
    }

    /// Sets a damaged state file aside (renamed `<file>.corrupt-<now>`, with its
    /// `-wal`/`-shm`) and opens a fresh one, empty: the engine must then
    /// rebuild the map from the destination by fingerprint before copying.
    ///
    /// # Errors
    /// As [`State::open`] (but never `Corrupt` for the old file).
    pub fn replace_corrupt(path: &Path, now: i64) -> Result<State> {
        let lock = take_lock(path)?;
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let from = with_suffix(path, suffix);
            if from.exists() {
                let to = with_suffix(path, &format!(".corrupt-{now}{suffix}"));
                std::fs::rename(&from, &to).map_err(|source| StateError::Io {
                    action: "set aside the damaged state file",
                    path: from.clone(),
                    source,
                })?;
            }
        }
        tracing::debug!(path = %path.display(), "damaged state set aside");
        State::open_locked(path, lock, now)
    }

    /// Opens an existing job for reading only, for a dry run: nothing in the
    /// state file can change (SQLite refuses every write on this handle).
    /// `Ok(None)` when there is no state file yet. Takes the job lock like
    /// [`State::open`], so a dry run never reads a half-written job.
    ///
    /// # Errors
    /// As [`State::open`], plus [`StateError::Outdated`] for a file that
    /// would need an upgrade first (a dry run may not write it).
    pub fn open_read_only(path: &Path) -> Result<Option<State>> {
        if !std::fs::metadata(path)
            .map(|m| m.len() > 0)
            .unwrap_or(false)
        {
            return Ok(None);
        }
        let lock = take_lock(path)?;
        let sql = |source| classify(path, source);
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sql)?;
        check_integrity(&conn, path)?;
        let found: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sql)?;
        if found > SCHEMA_VERSION {
            return Err(StateError::TooNew {
                path: path.to_owned(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if found < SCHEMA_VERSION {
            return Err(StateError::Outdated {
                path: path.to_owned(),
                found,
            });
        }
        Ok(Some(State {
            conn,
            path: path.to_owned(),
            _lock: lock,
        }))
    }

    fn open_locked(path: &Path, lock: File, now: i64) -> Result<State> {
        let existed = std::fs::metadata(path)
            .map(|m| m.len() > 0)
            .unwrap_or(false);
        let sql = |source| classify(path, source);
        let mut conn = Connection::open(path).map_err(sql)?;
        if existed {
            check_integrity(&conn, path)?;
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        // FULL: a commit survives power loss, not only a crash (R28).
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(sql)?;
        match schema::migrate(&mut conn, now).map_err(sql)? {
            Migration::TooNew { found } => {
                return Err(StateError::TooNew {
                    path: path.to_owned(),
                    found,
                    supported: SCHEMA_VERSION,
                })
            }
            Migration::Upgraded { from } => {
                tracing::debug!(path = %path.display(), from, "state schema created or upgraded");
            }
            Migration::Current => {}
        }
        for table in schema::TABLES {
            let present: bool = conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
                    [table],
                    |r| r.get(0),
                )
                .map_err(sql)?;
            if !present {
                return Err(StateError::Corrupt {
                    path: path.to_owned(),
                    detail: format!("the table {table} is missing"),
                });
            }
        }
        Ok(State {
            conn,
            path: path.to_owned(),
            _lock: lock,
        })
    }

    /// The state file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sql(&self, e: rusqlite::Error) -> StateError {
        classify(&self.path, e)
    }

    // ----- job phase -----

    /// The job's phase.
    pub fn phase(&self) -> Result<Phase> {
        let code: String = self
            .conn
            .query_row("SELECT phase FROM job WHERE id = 1", [], |r| r.get(0))
            .map_err(|e| self.sql(e))?;
        Phase::from_code(&code).ok_or(StateError::Decode {
            what: "job.phase",
            value: code,
        })
    }

    /// Moves the job to `phase`. Cutover is one-way.
    ///
    /// # Errors
    /// [`StateError::PhaseBackwards`] when asked to go from post- to pre-cutover.
    pub fn set_phase(&mut self, phase: Phase, now: i64) -> Result<()> {
        let current = self.phase()?;
        if current == phase {
            return Ok(());
        }
        if current == Phase::PostCutover {
            return Err(StateError::PhaseBackwards);
        }
        self.conn
            .execute(
                "UPDATE job SET phase = ?1, phase_changed_at = ?2 WHERE id = 1",
                params![phase.code(), now],
            )
            .map_err(|e| self.sql(e))?;
        tracing::debug!(phase = phase.code(), "job phase changed");
        Ok(())
    }

    // ----- folders -----

    /// Records a source folder and where it lands; returns its record.
    ///
    /// A new folder is stored with `source_uidvalidity`. For a known one only
    /// the names and the destination change: a changed UIDVALIDITY goes
    /// through [`State::forget_folder_uids`], deliberately. The destination's
    /// UIDVALIDITY is stored only if none was known (a change goes through
    /// [`State::forget_dest_uids`]).
    pub fn upsert_folder(
        &mut self,
        source: &MailboxName,
        source_uidvalidity: u32,
        dest: &MailboxName,
        dest_uidvalidity: Option<u32>,
        now: i64,
    ) -> Result<FolderRecord> {
        let path = self.path.clone();
        let tx = begin(&mut self.conn, &path)?;
        let sql = |e| classify(&path, e);
        let dest_id: i64 = tx
            .query_row(
                "INSERT INTO dest_folders (name, wire_name, uidvalidity) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET
                     wire_name = excluded.wire_name,
                     uidvalidity = COALESCE(dest_folders.uidvalidity, excluded.uidvalidity)
                 RETURNING id",
                params![dest.display(), dest.wire(), dest_uidvalidity],
                |r| r.get(0),
            )
            .map_err(sql)?;
        let id: i64 = tx
            .query_row(
                "INSERT INTO folders (source_name, source_wire_name, source_uidvalidity,
                                      dest_folder_id, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (source_name) DO UPDATE SET
                     source_wire_name = excluded.source_wire_name,
                     dest_folder_id = excluded.dest_folder_id,
                     updated_at = excluded.updated_at
                 RETURNING id",
                params![
                    source.display(),
                    source.wire(),
                    source_uidvalidity,
                    dest_id,
                    now
                ],
                |r| r.get(0),
            )
            .map_err(sql)?;
        tx.commit().map_err(sql)?;
        self.folder_by_id(FolderId(id))
    }

    /// The record of a source folder, by name.
    pub fn folder(&self, source: &MailboxName) -> Result<Option<FolderRecord>> {
        let id: Option<i64> = self
            .conn
            .query_row(
                "SELECT id FROM folders WHERE source_name = ?1",
                [source.display()],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        id.map(|id| self.folder_by_id(FolderId(id))).transpose()
    }

    /// The record of a source folder, by id.
    pub fn folder_by_id(&self, id: FolderId) -> Result<FolderRecord> {
        self.folders_where("f.id = ?1", params![id.0])?
            .pop()
            .ok_or(StateError::UnknownFolder(id.0))
    }

    /// Every source folder known to the job, by name.
    pub fn folders(&self) -> Result<Vec<FolderRecord>> {
        self.folders_where("1", [])
    }

    fn folders_where(&self, cond: &str, args: impl rusqlite::Params) -> Result<Vec<FolderRecord>> {
        let query = format!(
            "SELECT f.id, f.source_name, f.source_wire_name, f.source_uidvalidity, f.highest_uid,
                    f.highest_modseq, d.id, d.name, d.wire_name, d.uidvalidity
             FROM folders f JOIN dest_folders d ON d.id = f.dest_folder_id
             WHERE {cond} ORDER BY f.source_name"
        );
        let mut stmt = self.conn.prepare_cached(&query).map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(args, |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, String>(8)?,
                    r.get::<_, Option<i64>>(9)?,
                ))
            })
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, source_name, source_wire_name, uv, highest, modseq, did, dname, dwire, duv) =
                row.map_err(|e| self.sql(e))?;
            out.push(FolderRecord {
                id: FolderId(id),
                source_name,
                source_wire_name,
                source_uidvalidity: to_u32(uv, "folders.source_uidvalidity")?,
                highest_uid: to_u32(highest, "folders.highest_uid")?,
                highest_modseq: modseq
                    .map(|m| to_u64(m, "folders.highest_modseq"))
                    .transpose()?,
                dest: DestFolderRecord {
                    id: DestFolderId(did),
                    name: dname,
                    wire_name: dwire,
                    uidvalidity: duv
                        .map(|v| to_u32(v, "dest_folders.uidvalidity"))
                        .transpose()?,
                },
            });
        }
        Ok(out)
    }

    /// The record of a destination folder.
    pub fn dest_folder(&self, id: DestFolderId) -> Result<DestFolderRecord> {
        let row = self
            .conn
            .query_row(
                "SELECT name, wire_name, uidvalidity FROM dest_folders WHERE id = ?1",
                [id.0],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                    ))
                },
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        let (name, wire_name, uv) = row.ok_or(StateError::UnknownFolder(id.0))?;
        Ok(DestFolderRecord {
            id,
            name,
            wire_name,
            uidvalidity: uv
                .map(|v| to_u32(v, "dest_folders.uidvalidity"))
                .transpose()?,
        })
    }

    /// Records how far the engine got in a folder: every source UID up to
    /// `highest_uid` has a decided fate (call it after the batch's rows are
    /// written), and the HIGHESTMODSEQ of a complete flag pass. Never moves back.
    pub fn set_folder_progress(
        &mut self,
        folder: FolderId,
        highest_uid: u32,
        highest_modseq: Option<u64>,
        now: i64,
    ) -> Result<()> {
        let modseq = highest_modseq.map(to_i64).transpose()?;
        let n = self
            .conn
            .execute(
                "UPDATE folders SET
                     highest_uid = MAX(highest_uid, ?2),
                     highest_modseq = CASE WHEN ?3 IS NULL THEN highest_modseq
                                           ELSE MAX(COALESCE(highest_modseq, 0), ?3) END,
                     updated_at = ?4
                 WHERE id = ?1",
                params![folder.0, highest_uid, modseq, now],
            )
            .map_err(|e| self.sql(e))?;
        if n == 0 {
            return Err(StateError::UnknownFolder(folder.0));
        }
        Ok(())
    }

    /// The source folder's UIDVALIDITY changed: its stored UIDs no longer
    /// mean anything. The folder takes `new_uidvalidity` and starts again
    /// from UID 0; the old rows are kept (fingerprint, destination UID, fate)
    /// as [`State::stale_messages`] so the engine can re-pair them by
    /// fingerprint ([`State::rebind_message`]) instead of copying again.
    /// Returns how many rows are stale.
    pub fn forget_folder_uids(
        &mut self,
        folder: FolderId,
        new_uidvalidity: u32,
        now: i64,
    ) -> Result<usize> {
        let path = self.path.clone();
        let tx = begin(&mut self.conn, &path)?;
        let sql = |e| classify(&path, e);
        let n = tx
            .execute(
                "UPDATE folders SET source_uidvalidity = ?2, highest_uid = 0,
                     highest_modseq = NULL, updated_at = ?3 WHERE id = ?1",
                params![folder.0, new_uidvalidity, now],
            )
            .map_err(sql)?;
        if n == 0 {
            return Err(StateError::UnknownFolder(folder.0));
        }
        let stale: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM messages WHERE folder_id = ?1 AND source_uidvalidity <> ?2",
                params![folder.0, new_uidvalidity],
                |r| r.get(0),
            )
            .map_err(sql)?;
        let stale = usize::try_from(stale).unwrap_or(0);
        tx.commit().map_err(sql)?;
        tracing::debug!(
            folder = folder.0,
            new_uidvalidity,
            stale,
            "source UIDs forgotten"
        );
        Ok(stale)
    }

    /// Rows of a folder stored under another UIDVALIDITY than its current one.
    pub fn stale_messages(&self, folder: FolderId) -> Result<Vec<MessageRecord>> {
        self.messages_where(
            "m.folder_id = ?1 AND m.source_uidvalidity <>
                 (SELECT source_uidvalidity FROM folders WHERE id = ?1)",
            params![folder.0],
        )
    }

    /// Re-pairs a stale row (found again by fingerprint) with its new source
    /// UID under the folder's current UIDVALIDITY.
    pub fn rebind_message(&mut self, old: MessageKey, new_uid: u32, now: i64) -> Result<()> {
        let n = self
            .conn
            .execute(
                "UPDATE messages SET
                     source_uidvalidity = (SELECT source_uidvalidity FROM folders WHERE id = ?1),
                     source_uid = ?4, updated_at = ?5
                 WHERE folder_id = ?1 AND source_uidvalidity = ?2 AND source_uid = ?3",
                params![old.folder.0, old.uidvalidity, old.uid, new_uid, now],
            )
            .map_err(|e| self.sql(e))?;
        if n == 0 {
            return Err(unknown_message(old));
        }
        Ok(())
    }

    /// The destination folder's UIDVALIDITY changed: the stored destination
    /// UIDs are dropped (fingerprints kept, so the engine can find the
    /// messages again and [`State::set_dest_uid`]). Returns how many rows lost
    /// their destination UID.
    pub fn forget_dest_uids(&mut self, dest: DestFolderId, new_uidvalidity: u32) -> Result<usize> {
        let path = self.path.clone();
        let tx = begin(&mut self.conn, &path)?;
        let sql = |e| classify(&path, e);
        let n = tx
            .execute(
                "UPDATE dest_folders SET uidvalidity = ?2 WHERE id = ?1",
                params![dest.0, new_uidvalidity],
            )
            .map_err(sql)?;
        if n == 0 {
            return Err(StateError::UnknownFolder(dest.0));
        }
        let dropped = tx
            .execute(
                "UPDATE messages SET dest_uid = NULL
                 WHERE dest_folder_id = ?1 AND dest_uid IS NOT NULL",
                [dest.0],
            )
            .map_err(sql)?;
        tx.commit().map_err(sql)?;
        tracing::debug!(
            dest = dest.0,
            new_uidvalidity,
            dropped,
            "destination UIDs forgotten"
        );
        Ok(dropped)
    }

    /// Records where a message is at the destination, once found again.
    pub fn set_dest_uid(&mut self, key: MessageKey, dest_uid: u32, now: i64) -> Result<()> {
        let n = self
            .conn
            .execute(
                "UPDATE messages SET dest_uid = ?4, updated_at = ?5
                 WHERE folder_id = ?1 AND source_uidvalidity = ?2 AND source_uid = ?3",
                params![key.folder.0, key.uidvalidity, key.uid, dest_uid, now],
            )
            .map_err(|e| self.sql(e))?;
        if n == 0 {
            return Err(unknown_message(key));
        }
        Ok(())
    }

    // ----- copying -----

    /// Records that an APPEND of `message` to `dest` is about to start, with
    /// these flags. Commit this before the first byte goes out.
    ///
    /// # Errors
    /// [`StateError::AlreadyAtDestination`] if the message is recorded as
    /// there; [`StateError::IntentInDoubt`] if an earlier attempt was not
    /// settled (see [`State::in_doubt_intents`]).
    pub fn record_intent<S: AsRef<str>>(
        &mut self,
        message: &SourceMessage,
        dest: DestFolderId,
        flags: &[S],
        run: Option<RunId>,
        now: i64,
    ) -> Result<IntentId> {
        let ids = self.record_intents(&[(message, flags)], dest, run, now)?;
        Ok(ids[0])
    }

    /// [`State::record_intent`] for a whole batch, in one transaction (one
    /// disk sync instead of one per message). All or none are recorded.
    pub fn record_intents<S: AsRef<str>>(
        &mut self,
        messages: &[(&SourceMessage, &[S])],
        dest: DestFolderId,
        run: Option<RunId>,
        now: i64,
    ) -> Result<Vec<IntentId>> {
        let path = self.path.clone();
        let tx = begin(&mut self.conn, &path)?;
        let sql = |e| classify(&path, e);
        let mut ids = Vec::with_capacity(messages.len());
        for (message, flags) in messages {
            let k = message.key;
            guard_not_at_destination(&tx, k).map_err(|e| e.with_path(&path))?;
            guard_no_intent(&tx, k).map_err(|e| e.with_path(&path))?;
            let s = &message.summary;
            tx.prepare_cached(
                "INSERT INTO intents (folder_id, source_uidvalidity, source_uid, fingerprint, size,
                     internaldate, flags, message_id, from_addr, subject, date_header,
                     dest_folder_id, run_id, started_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )
            .map_err(sql)?
            .execute(params![
                k.folder.0,
                k.uidvalidity,
                k.uid,
                message.fingerprint.to_string(),
                to_i64(message.size)?,
                message.internaldate,
                flags_text(flags),
                s.message_id,
                s.from,
                s.subject,
                s.date,
                dest.0,
                run.map(|r| r.0),
                now
            ])
            .map_err(sql)?;
            ids.push(IntentId(tx.last_insert_rowid()));
        }
        tx.commit().map_err(sql)?;
        Ok(ids)
    }

    /// The destination confirmed the APPEND (or, after a crash, the message
    /// was found there): writes the message row as copied and removes the
    /// intent, in one transaction. `dest_uid` is the APPENDUID or the UID
    /// found; `None` when the server gives no UIDs.
    pub fn confirm_copy(
        &mut self,
        intent: IntentId,
        dest_uid: Option<u32>,
        now: i64,
    ) -> Result<()> {
        self.confirm_copies(&[(intent, dest_uid)], now)
    }

    /// [`State::confirm_copy`] for a whole batch, in one transaction.
    pub fn confirm_copies(&mut self, copies: &[(IntentId, Option<u32>)], now: i64) -> Result<()> {
        let path = self.path.clone();
        let tx = begin(&mut self.conn, &path)?;
        let sql = |e| classify(&path, e);
        for (intent, dest_uid) in copies {
            let n = tx
                .prepare_cached(
                    "INSERT INTO messages (folder_id, source_uidvalidity, source_uid, dest_folder_id,
                         dest_uid, fingerprint, size, internaldate, flags, fate, message_id,
                         from_addr, subject, date_header, updated_at)
                     SELECT folder_id, source_uidvalidity, source_uid, dest_folder_id, ?2,
                         fingerprint, size, internaldate, flags, 'copied', message_id, from_addr,
                         subject, date_header, ?3
                     FROM intents WHERE id = ?1
                     ON CONFLICT (folder_id, source_uidvalidity, source_uid) DO UPDATE SET
                         dest_folder_id = excluded.dest_folder_id, dest_uid = excluded.dest_uid,
                         fingerprint = excluded.fingerprint, size = excluded.size,
                         internaldate = excluded.internaldate, flags = excluded.flags,
                         fate = 'copied', reason = NULL, server_text = NULL,
                         message_id = excluded.message_id, from_addr = excluded.from_addr,
                         subject = excluded.subject, date_header = excluded.date_header,
                         updated_at = excluded.updated_at",
                )
                .map_err(sql)?
                .execute(params![intent.0, dest_uid, now])
                .map_err(sql)?;
            if n == 0 {
                return Err(StateError::UnknownIntent(intent.0));
            }
            tx.prepare_cached("DELETE FROM intents WHERE id = ?1")
                .map_err(sql)?
                .execute([intent.0])
                .map_err(sql)?;
        }
        tx.commit().map_err(sql)?;
        Ok(())
    }

    /// APPENDs started and never confirmed: after a crash, each is in doubt
    /// and must be looked up at the destination before anything is re-sent.
    pub fn in_doubt_intents(&self) -> Result<Vec<Intent>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, folder_id, source_uidvalidity, source_uid, fingerprint, size,
                     internaldate, flags, message_id, from_addr, subject, date_header,
                     dest_folder_id, run_id, started_at
                 FROM intents ORDER BY id",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    RawKey::read(r, 1)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                    r.get::<_, Option<String>>(7)?,
                    RawSummary::read(r, 8)?,
                    r.get::<_, i64>(12)?,
                    r.get::<_, Option<i64>>(13)?,
                    r.get::<_, i64>(14)?,
                ))
            })
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, key, fp, size, internaldate, flags, summary, dest, run, started_at) =
                row.map_err(|e| self.sql(e))?;
            out.push(Intent {
                id: IntentId(id),
                message: SourceMessage {
                    key: key.decode()?,
                    fingerprint: decode_fingerprint(fp)?,
                    size: to_u64(size, "intents.size")?,
                    internaldate,
                    summary: summary.into(),
                },
                dest_folder: DestFolderId(dest),
                flags: flags.as_deref().map(flags_set).unwrap_or_default(),
                run: run.map(RunId),
                started_at,
            });
        }
        Ok(out)
    }

    /// The in-doubt APPEND did not reach the destination (or failed for
    /// sure): forget the intent, so the message can be sent again.
    pub fn discard_intent(&mut self, intent: IntentId) -> Result<()> {
        let n = self
            .conn
            .execute("DELETE FROM intents WHERE id = ?1", [intent.0])
            .map_err(|e| self.sql(e))?;
        if n == 0 {
            return Err(StateError::UnknownIntent(intent.0));
        }
        Ok(())
    }

    /// The destination already holds this message (found by fingerprint, e.g.
    /// copied by another tool or before the state was lost): pair it, no copy.
    /// `dest_uid` when known. No flags are recorded as written by MailFerry.
    ///
    /// # Errors
    /// [`StateError::AlreadyAtDestination`] if it is already paired;
    /// [`StateError::IntentInDoubt`] if an APPEND of it is in doubt (settle that first).
    pub fn record_already_there(
        &mut self,
        message: &SourceMessage,
        dest: DestFolderId,
        dest_uid: Option<u32>,
        now: i64,
    ) -> Result<()> {
        let path = self.path.clone();
        let tx = begin(&mut self.conn, &path)?;
        let k = message.key;
        guard_not_at_destination(&tx, k).map_err(|e| e.with_path(&path))?;
        guard_no_intent(&tx, k).map_err(|e| e.with_path(&path))?;
        upsert_message(
            &tx,
            message,
            Some(dest),
            dest_uid,
            "already_there",
            None,
            None,
            0,
            now,
        )
        .map_err(|e| e.with_path(&path))?;
        tx.commit().map_err(|e| classify(&path, e))?;
        Ok(())
    }

    /// Records a fate that involves no copy: excluded, skipped, or failed
    /// (which counts one more attempt). Removes any intent for the message
    /// (an APPEND that got a definite NO) in the same transaction. Returns
    /// the fate as stored, with the attempt count.
    ///
    /// # Errors
    /// [`StateError::AlreadyAtDestination`] if the message is recorded as
    /// there (a copied message does not become "skipped").
    pub fn record_fate(
        &mut self,
        message: &SourceMessage,
        fate: NotCopied,
        now: i64,
    ) -> Result<Fate> {
        let path = self.path.clone();
        let tx = begin(&mut self.conn, &path)?;
        let sql = |e| classify(&path, e);
        let k = message.key;
        guard_not_at_destination(&tx, k).map_err(|e| e.with_path(&path))?;
        tx.execute(
            "DELETE FROM intents WHERE folder_id = ?1 AND source_uidvalidity = ?2 AND source_uid = ?3",
            params![k.folder.0, k.uidvalidity, k.uid],
        )
        .map_err(sql)?;
        let stored = match fate {
            NotCopied::Excluded { rule } => {
                upsert_message(
                    &tx,
                    message,
                    None,
                    None,
                    "excluded",
                    Some(&rule),
                    None,
                    0,
                    now,
                )
                .map_err(|e| e.with_path(&path))?;
                Fate::Excluded { rule }
            }
            NotCopied::Skipped(reason) => {
                upsert_message(
                    &tx,
                    message,
                    None,
                    None,
                    "skipped",
                    Some(reason.code()),
                    None,
                    0,
                    now,
                )
                .map_err(|e| e.with_path(&path))?;
                Fate::Skipped { reason }
            }
            NotCopied::Failed {
                reason,
                server_text,
            } => {
                let before: Option<i64> = tx
                    .query_row(
                        "SELECT attempts FROM messages WHERE folder_id = ?1
                             AND source_uidvalidity = ?2 AND source_uid = ?3 AND fate = 'failed'",
                        params![k.folder.0, k.uidvalidity, k.uid],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(sql)?;
                let attempts = to_u32(before.unwrap_or(0), "messages.attempts")?.saturating_add(1);
                upsert_message(
                    &tx,
                    message,
                    None,
                    None,
                    "failed",
                    Some(reason.code()),
                    server_text.as_deref(),
                    attempts,
                    now,
                )
                .map_err(|e| e.with_path(&path))?;
                Fate::Failed {
                    reason,
                    server_text,
                    attempts,
                }
            }
        };
        tx.commit().map_err(sql)?;
        Ok(stored)
    }

    /// A copied message was removed at the destination (deletion mirroring,
    /// after the destination confirmed the EXPUNGE).
    pub fn record_removed(&mut self, key: MessageKey, now: i64) -> Result<()> {
        let n = self
            .conn
            .execute(
                "UPDATE messages SET fate = 'removed', dest_uid = NULL, updated_at = ?4
                 WHERE folder_id = ?1 AND source_uidvalidity = ?2 AND source_uid = ?3",
                params![key.folder.0, key.uidvalidity, key.uid, now],
            )
            .map_err(|e| self.sql(e))?;
        if n == 0 {
            return Err(unknown_message(key));
        }
        Ok(())
    }

    /// Forgets a message row entirely: it was found missing at the
    /// destination and must be copied again.
    pub fn forget_message(&mut self, key: MessageKey) -> Result<()> {
        let n = self
            .conn
            .execute(
                "DELETE FROM messages
                 WHERE folder_id = ?1 AND source_uidvalidity = ?2 AND source_uid = ?3",
                params![key.folder.0, key.uidvalidity, key.uid],
            )
            .map_err(|e| self.sql(e))?;
        if n == 0 {
            return Err(unknown_message(key));
        }
        Ok(())
    }

    /// Records the flags MailFerry just wrote at the destination (after the
    /// STORE was confirmed). The next flag delta is computed against them, so
    /// a flag a user set at the destination, and the source never changed,
    /// is kept.
    pub fn set_synced_flags<S: AsRef<str>>(
        &mut self,
        key: MessageKey,
        flags: &[S],
        now: i64,
    ) -> Result<()> {
        let n = self
            .conn
            .execute(
                "UPDATE messages SET flags = ?4, updated_at = ?5
                 WHERE folder_id = ?1 AND source_uidvalidity = ?2 AND source_uid = ?3",
                params![
                    key.folder.0,
                    key.uidvalidity,
                    key.uid,
                    flags_text(flags),
                    now
                ],
            )
            .map_err(|e| self.sql(e))?;
        if n == 0 {
            return Err(unknown_message(key));
        }
        Ok(())
    }

    /// [`State::set_synced_flags`] for many messages, in one transaction
    /// (one disk sync, not one per message). All or none are recorded.
    pub fn set_synced_flags_all<S: AsRef<str>>(
        &mut self,
        updates: &[(MessageKey, Vec<S>)],
        now: i64,
    ) -> Result<()> {
        if updates.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let tx = begin(&mut self.conn, &path)?;
        let sql = |e| classify(&path, e);
        for (key, flags) in updates {
            let n = tx
                .prepare_cached(
                    "UPDATE messages SET flags = ?4, updated_at = ?5
                     WHERE folder_id = ?1 AND source_uidvalidity = ?2 AND source_uid = ?3",
                )
                .map_err(sql)?
                .execute(params![
                    key.folder.0,
                    key.uidvalidity,
                    key.uid,
                    flags_text(flags),
                    now
                ])
                .map_err(sql)?;
            if n == 0 {
                return Err(unknown_message(*key));
            }
        }
        tx.commit().map_err(sql)?;
        Ok(())
    }

    // ----- reading the map -----

    /// One message's row.
    pub fn message(&self, key: MessageKey) -> Result<Option<MessageRecord>> {
        Ok(self
            .messages_where(
                "m.folder_id = ?1 AND m.source_uidvalidity = ?2 AND m.source_uid = ?3",
                params![key.folder.0, key.uidvalidity, key.uid],
            )?
            .pop())
    }

    /// Every row of a folder under one UIDVALIDITY, by UID.
    pub fn messages_in_folder(
        &self,
        folder: FolderId,
        uidvalidity: u32,
    ) -> Result<Vec<MessageRecord>> {
        self.messages_where(
            "m.folder_id = ?1 AND m.source_uidvalidity = ?2",
            params![folder.0, uidvalidity],
        )
    }

    /// Source UIDs (under `uidvalidity`) whose message is at the destination
    /// (copied or already there): the delta skips these.
    pub fn mapped_uids(&self, folder: FolderId, uidvalidity: u32) -> Result<BTreeSet<u32>> {
        self.uids_where(
            "folder_id = ?1 AND source_uidvalidity = ?2 AND fate IN ('copied', 'already_there')",
            params![folder.0, uidvalidity],
        )
    }

    /// How many of a source folder's rows there are, by kind: (not removed,
    /// at the destination, excluded). Counted by SQLite, no row is read.
    pub fn fate_counts(&self, folder: FolderId, uidvalidity: u32) -> Result<(u64, u64, u64)> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT COALESCE(SUM(fate <> 'removed'), 0),
                        COALESCE(SUM(fate IN ('copied', 'already_there')), 0),
                        COALESCE(SUM(fate = 'excluded'), 0)
                 FROM messages WHERE folder_id = ?1 AND source_uidvalidity = ?2",
            )
            .map_err(|e| self.sql(e))?;
        let (present, at_dest, excluded): (i64, i64, i64) = stmt
            .query_row(params![folder.0, uidvalidity], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(|e| self.sql(e))?;
        Ok((
            to_u64(present, "present")?,
            to_u64(at_dest, "at destination")?,
            to_u64(excluded, "excluded")?,
        ))
    }

    /// Source UIDs the destination refused at least `max_attempts` times:
    /// reported, not retried again. A message the source could not deliver
    /// is tried on every run (a source's trouble is often passing).
    pub fn exhausted_uids(
        &self,
        folder: FolderId,
        uidvalidity: u32,
        max_attempts: u32,
    ) -> Result<BTreeSet<u32>> {
        self.uids_where(
            "folder_id = ?1 AND source_uidvalidity = ?2 AND fate = 'failed' AND attempts >= ?3
             AND reason <> 'fetch_failed'",
            params![folder.0, uidvalidity, max_attempts],
        )
    }

    fn uids_where(&self, cond: &str, args: impl rusqlite::Params) -> Result<BTreeSet<u32>> {
        let query = format!("SELECT source_uid FROM messages WHERE {cond}");
        let mut stmt = self.conn.prepare_cached(&query).map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(args, |r| r.get::<_, i64>(0))
            .map_err(|e| self.sql(e))?;
        let mut out = BTreeSet::new();
        for uid in rows {
            out.insert(to_u32(
                uid.map_err(|e| self.sql(e))?,
                "messages.source_uid",
            )?);
        }
        Ok(out)
    }

    /// The copies the store knows to be in a destination folder, from every
    /// source folder that lands there: each one's destination UID when
    /// known, and its identity.
    pub fn dest_claims(&self, dest: DestFolderId) -> Result<Vec<(Option<u32>, Fingerprint)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT dest_uid, fingerprint FROM messages
                 WHERE dest_folder_id = ?1 AND fate IN ('copied', 'already_there')",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([dest.0], |r| {
                Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (uid, fp) = row.map_err(|e| self.sql(e))?;
            let uid = match uid {
                Some(uid) => Some(to_u32(uid, "messages.dest_uid")?),
                None => None,
            };
            out.push((uid, decode_fingerprint(fp)?));
        }
        Ok(out)
    }

    /// Fingerprints (with multiplicity) of the messages the store knows to be
    /// in a destination folder, from every source folder that lands there.
    pub fn dest_fingerprints(&self, dest: DestFolderId) -> Result<Multiset> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT fingerprint FROM messages
                 WHERE dest_folder_id = ?1 AND fate IN ('copied', 'already_there')",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([dest.0], |r| r.get::<_, String>(0))
            .map_err(|e| self.sql(e))?;
        let mut out = Multiset::new();
        for fp in rows {
            out.insert(decode_fingerprint(fp.map_err(|e| self.sql(e))?)?);
        }
        Ok(out)
    }

    fn messages_where(
        &self,
        cond: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<MessageRecord>> {
        let query = format!(
            "SELECT m.folder_id, m.source_uidvalidity, m.source_uid, m.dest_folder_id, m.dest_uid,
                    m.fingerprint, m.size, m.internaldate, m.flags,
                    m.fate, m.reason, m.server_text, m.attempts
             FROM messages m WHERE {cond} ORDER BY m.folder_id, m.source_uidvalidity, m.source_uid"
        );
        let mut stmt = self.conn.prepare_cached(&query).map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(args, |r| {
                Ok((
                    RawKey::read(r, 0)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, Option<i64>>(7)?,
                    r.get::<_, Option<String>>(8)?,
                    RawFate::read(r, 9)?,
                ))
            })
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (key, dest, dest_uid, fp, size, internaldate, flags, fate) =
                row.map_err(|e| self.sql(e))?;
            out.push(MessageRecord {
                key: key.decode()?,
                dest_folder: dest.map(DestFolderId),
                dest_uid: dest_uid
                    .map(|u| to_u32(u, "messages.dest_uid"))
                    .transpose()?,
                fingerprint: decode_fingerprint(fp)?,
                size: to_u64(size, "messages.size")?,
                internaldate,
                flags: flags.as_deref().map(flags_set),
                fate: fate.decode()?,
            });
        }
        Ok(out)
    }

    // ----- runs -----

    /// Records the start of a run, in the job's current phase.
    pub fn start_run(&mut self, dry: bool, now: i64) -> Result<RunId> {
        let phase = self.phase()?;
        self.conn
            .execute(
                "INSERT INTO runs (started_at, phase, dry) VALUES (?1, ?2, ?3)",
                params![now, phase.code(), dry],
            )
            .map_err(|e| self.sql(e))?;
        Ok(RunId(self.conn.last_insert_rowid()))
    }

    /// Saves a run's counters so far (a checkpoint; an interrupted run keeps them).
    pub fn update_run(&mut self, run: RunId, counters: &RunCounters) -> Result<()> {
        self.write_run(run, counters, None, None)
    }

    /// Records the end of a run, its counters and its outcome in the engine's words.
    pub fn finish_run(
        &mut self,
        run: RunId,
        counters: &RunCounters,
        outcome: &str,
        now: i64,
    ) -> Result<()> {
        self.write_run(run, counters, Some(outcome), Some(now))
    }

    fn write_run(
        &mut self,
        run: RunId,
        c: &RunCounters,
        outcome: Option<&str>,
        finished_at: Option<i64>,
    ) -> Result<()> {
        let n = self
            .conn
            .execute(
                "UPDATE runs SET copied = ?2, already_there = ?3, excluded = ?4, skipped = ?5,
                     failed = ?6, removed = ?7, flags_updated = ?8, bytes_copied = ?9,
                     outcome = COALESCE(?10, outcome), finished_at = COALESCE(?11, finished_at)
                 WHERE id = ?1",
                params![
                    run.0,
                    to_i64(c.copied)?,
                    to_i64(c.already_there)?,
                    to_i64(c.excluded)?,
                    to_i64(c.skipped)?,
                    to_i64(c.failed)?,
                    to_i64(c.removed)?,
                    to_i64(c.flags_updated)?,
                    to_i64(c.bytes_copied)?,
                    outcome,
                    finished_at
                ],
            )
            .map_err(|e| self.sql(e))?;
        if n == 0 {
            return Err(StateError::Decode {
                what: "runs.id",
                value: run.0.to_string(),
            });
        }
        Ok(())
    }

    /// Every run of the job, oldest first.
    pub fn runs(&self) -> Result<Vec<RunRecord>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, started_at, finished_at, phase, dry, outcome, copied, already_there,
                     excluded, skipped, failed, removed, flags_updated, bytes_copied
                 FROM runs ORDER BY id",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([], |r| {
                let mut counts = [0i64; 8];
                for (i, c) in counts.iter_mut().enumerate() {
                    *c = r.get(6 + i)?;
                }
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, bool>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    counts,
                ))
            })
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, started_at, finished_at, phase, dry, outcome, c) =
                row.map_err(|e| self.sql(e))?;
            let n = |i: usize| to_u64(c[i], "runs counters");
            out.push(RunRecord {
                id: RunId(id),
                started_at,
                finished_at,
                phase: Phase::from_code(&phase).ok_or(StateError::Decode {
                    what: "runs.phase",
                    value: phase.clone(),
                })?,
                dry,
                outcome,
                counters: RunCounters {
                    copied: n(0)?,
                    already_there: n(1)?,
                    excluded: n(2)?,
                    skipped: n(3)?,
                    failed: n(4)?,
                    removed: n(5)?,
                    flags_updated: n(6)?,
                    bytes_copied: n(7)?,
                },
            });
        }
        Ok(out)
    }

    // ----- forensic log -----

    /// Searches the forensic log: every word of `text` must appear
    /// (case-insensitively for ASCII) in the source or destination folder,
    /// Message-ID, From, Subject, Date header, INTERNALDATE (as
    /// `YYYY-MM-DD`), fate, reason or server text. Month names are matched by
    /// their English abbreviation, so "march" finds `Date: … Mar 2024`.
    /// At most `limit` entries, oldest INTERNALDATE first.
    pub fn search_log(&self, text: &str, limit: usize) -> Result<Vec<LogEntry>> {
        let terms: Vec<String> = text
            .split_whitespace()
            .map(|t| like_pattern(&month_abbreviation(t)))
            .collect();
        let mut cond = String::from("1");
        for i in 0..terms.len() {
            cond.push_str(&format!(" AND haystack LIKE ?{} ESCAPE '\\'", i + 1));
        }
        let query = format!(
            "SELECT * FROM (
                 SELECT f.source_name, m.source_uidvalidity, m.source_uid, d.name, m.dest_uid,
                     m.fate, m.reason, m.server_text, m.attempts,
                     m.message_id, m.from_addr, m.subject, m.date_header, m.internaldate,
                     m.size, m.updated_at,
                     f.source_name || ' ' || COALESCE(d.name, '') || ' ' ||
                     COALESCE(m.message_id, '') || ' ' || COALESCE(m.from_addr, '') || ' ' ||
                     COALESCE(m.subject, '') || ' ' || COALESCE(m.date_header, '') || ' ' ||
                     COALESCE(strftime('%Y-%m-%d', m.internaldate, 'unixepoch'), '') || ' ' ||
                     m.fate || ' ' || COALESCE(m.reason, '') || ' ' ||
                     COALESCE(m.server_text, '') AS haystack
                 FROM messages m JOIN folders f ON f.id = m.folder_id
                 LEFT JOIN dest_folders d ON d.id = m.dest_folder_id)
             WHERE {cond}
             ORDER BY internaldate, source_name, source_uid
             LIMIT {limit}"
        );
        let mut stmt = self.conn.prepare(&query).map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(terms.iter()), |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    RawFate::read(r, 5)?,
                    RawSummary::read(r, 9)?,
                    r.get::<_, Option<i64>>(13)?,
                    r.get::<_, i64>(14)?,
                    r.get::<_, i64>(15)?,
                ))
            })
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (folder, uv, uid, dest, dest_uid, fate, s, internaldate, size, updated_at) =
                row.map_err(|e| self.sql(e))?;
            let s: Summary = s.into();
            out.push(LogEntry {
                source_folder: folder,
                uidvalidity: to_u32(uv, "messages.source_uidvalidity")?,
                uid: to_u32(uid, "messages.source_uid")?,
                dest_folder: dest,
                dest_uid: dest_uid
                    .map(|u| to_u32(u, "messages.dest_uid"))
                    .transpose()?,
                fate: fate.decode()?,
                message_id: s.message_id,
                from: s.from,
                subject: s.subject,
                date: s.date,
                internaldate,
                size: to_u64(size, "messages.size")?,
                updated_at,
            });
        }
        Ok(out)
    }
}

/// Starts a write transaction (taking SQLite's write lock at once).
fn begin<'c>(conn: &'c mut Connection, path: &Path) -> Result<rusqlite::Transaction<'c>> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| classify(path, e))
}

/// Maps SQLite's "this is not a (healthy) database" to [`StateError::Corrupt`].
fn classify(path: &Path, e: rusqlite::Error) -> StateError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => StateError::Corrupt {
            path: path.to_owned(),
            detail: e.to_string(),
        },
        _ => StateError::Sqlite {
            path: path.to_owned(),
            source: e,
        },
    }
}

fn check_integrity(conn: &Connection, path: &Path) -> Result<()> {
    let mut stmt = conn
        .prepare("PRAGMA integrity_check")
        .map_err(|e| classify(path, e))?;
    let lines: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect())
        .map_err(|e| classify(path, e))?;
    if lines.len() == 1 && lines[0] == "ok" {
        return Ok(());
    }
    Err(StateError::Corrupt {
        path: path.to_owned(),
        detail: lines.into_iter().take(3).collect::<Vec<_>>().join("; "),
    })
}

/// A row-level error inside a transaction, before the path is attached.
enum TxError {
    Sql(rusqlite::Error),
    State(StateError),
}

impl TxError {
    fn with_path(self, path: &Path) -> StateError {
        match self {
            TxError::Sql(e) => classify(path, e),
            TxError::State(e) => e,
        }
    }
}

impl From<rusqlite::Error> for TxError {
    fn from(e: rusqlite::Error) -> TxError {
        TxError::Sql(e)
    }
}

impl From<StateError> for TxError {
    fn from(e: StateError) -> TxError {
        TxError::State(e)
    }
}

fn guard_not_at_destination(tx: &Connection, k: MessageKey) -> Result<(), TxError> {
    let there: bool = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE folder_id = ?1 AND source_uidvalidity = ?2
                 AND source_uid = ?3 AND fate IN ('copied', 'already_there'))",
        )?
        .query_row(params![k.folder.0, k.uidvalidity, k.uid], |r| r.get(0))?;
    if there {
        return Err(StateError::AlreadyAtDestination { uid: k.uid }.into());
    }
    Ok(())
}

fn guard_no_intent(tx: &Connection, k: MessageKey) -> Result<(), TxError> {
    let pending: bool = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM intents WHERE folder_id = ?1 AND source_uidvalidity = ?2
                 AND source_uid = ?3)",
        )?
        .query_row(params![k.folder.0, k.uidvalidity, k.uid], |r| r.get(0))?;
    if pending {
        return Err(StateError::IntentInDoubt { uid: k.uid }.into());
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)] // One row's columns; a struct would only rename them.
fn upsert_message(
    tx: &Connection,
    m: &SourceMessage,
    dest: Option<DestFolderId>,
    dest_uid: Option<u32>,
    fate: &str,
    reason: Option<&str>,
    server_text: Option<&str>,
    attempts: u32,
    now: i64,
) -> Result<(), TxError> {
    let k = m.key;
    let s = &m.summary;
    tx.execute(
        "INSERT INTO messages (folder_id, source_uidvalidity, source_uid, dest_folder_id, dest_uid,
             fingerprint, size, internaldate, fate, reason, server_text, attempts, message_id,
             from_addr, subject, date_header, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
         ON CONFLICT (folder_id, source_uidvalidity, source_uid) DO UPDATE SET
             dest_folder_id = excluded.dest_folder_id, dest_uid = excluded.dest_uid,
             fingerprint = excluded.fingerprint, size = excluded.size,
             internaldate = excluded.internaldate, fate = excluded.fate,
             reason = excluded.reason, server_text = excluded.server_text,
             attempts = excluded.attempts, message_id = excluded.message_id,
             from_addr = excluded.from_addr, subject = excluded.subject,
             date_header = excluded.date_header, updated_at = excluded.updated_at",
        params![
            k.folder.0,
            k.uidvalidity,
            k.uid,
            dest.map(|d| d.0),
            dest_uid,
            m.fingerprint.to_string(),
            to_i64(m.size)?,
            m.internaldate,
            fate,
            reason,
            server_text,
            attempts,
            s.message_id,
            s.from,
            s.subject,
            s.date,
            now
        ],
    )?;
    Ok(())
}

fn unknown_message(k: MessageKey) -> StateError {
    StateError::UnknownMessage {
        folder: k.folder.0,
        uidvalidity: k.uidvalidity,
        uid: k.uid,
    }
}

fn to_u32(v: i64, what: &'static str) -> Result<u32> {
    u32::try_from(v).map_err(|_| StateError::Decode {
        what,
        value: v.to_string(),
    })
}

fn to_u64(v: i64, what: &'static str) -> Result<u64> {
    u64::try_from(v).map_err(|_| StateError::Decode {
        what,
        value: v.to_string(),
    })
}

/// SQLite integers are signed 64-bit; sizes and MODSEQs beyond that are refused.
fn to_i64(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| StateError::Decode {
        what: "a number to store",
        value: v.to_string(),
    })
}

fn decode_fingerprint(text: String) -> Result<Fingerprint> {
    text.parse().map_err(|_| StateError::Decode {
        what: "fingerprint",
        value: text,
    })
}

struct RawKey(i64, i64, i64);

impl RawKey {
    fn read(r: &Row<'_>, at: usize) -> rusqlite::Result<RawKey> {
        Ok(RawKey(r.get(at)?, r.get(at + 1)?, r.get(at + 2)?))
    }

    fn decode(self) -> Result<MessageKey> {
        Ok(MessageKey {
            folder: FolderId(self.0),
            uidvalidity: to_u32(self.1, "source_uidvalidity")?,
            uid: to_u32(self.2, "source_uid")?,
        })
    }
}

struct RawSummary([Option<String>; 4]);

impl RawSummary {
    fn read(r: &Row<'_>, at: usize) -> rusqlite::Result<RawSummary> {
        Ok(RawSummary([
            r.get(at)?,
            r.get(at + 1)?,
            r.get(at + 2)?,
            r.get(at + 3)?,
        ]))
    }
}

impl From<RawSummary> for Summary {
    fn from(RawSummary([message_id, from, subject, date]): RawSummary) -> Summary {
        Summary {
            message_id,
            from,
            subject,
            date,
        }
    }
}

struct RawFate {
    fate: String,
    reason: Option<String>,
    server_text: Option<String>,
    attempts: i64,
}

impl RawFate {
    fn read(r: &Row<'_>, at: usize) -> rusqlite::Result<RawFate> {
        Ok(RawFate {
            fate: r.get(at)?,
            reason: r.get(at + 1)?,
            server_text: r.get(at + 2)?,
            attempts: r.get(at + 3)?,
        })
    }

    fn decode(self) -> Result<Fate> {
        let bad = |what, value: &str| StateError::Decode {
            what,
            value: value.to_owned(),
        };
        let reason = self.reason.unwrap_or_default();
        Ok(match self.fate.as_str() {
            "copied" => Fate::Copied,
            "already_there" => Fate::AlreadyThere,
            "removed" => Fate::Removed,
            "excluded" => Fate::Excluded { rule: reason },
            "skipped" => Fate::Skipped {
                reason: SkipReason::from_code(&reason)
                    .ok_or_else(|| bad("messages.reason", &reason))?,
            },
            "failed" => Fate::Failed {
                reason: FailReason::from_code(&reason)
                    .ok_or_else(|| bad("messages.reason", &reason))?,
                server_text: self.server_text,
                attempts: to_u32(self.attempts, "messages.attempts")?,
            },
            other => return Err(bad("messages.fate", other)),
        })
    }
}

/// A LIKE pattern matching `term` anywhere, with `%`, `_` and `\` escaped.
fn like_pattern(term: &str) -> String {
    let mut p = String::with_capacity(term.len() + 2);
    p.push('%');
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// English month names become the three-letter form RFC 5322 dates use.
fn month_abbreviation(term: &str) -> String {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let lower = term.to_ascii_lowercase();
    if lower.len() > 3 && MONTHS.iter().any(|m| m.starts_with(&lower)) {
        return lower[..3].to_owned();
    }
    term.to_owned()
}
