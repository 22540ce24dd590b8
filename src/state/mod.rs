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
//!
//! Each table's SQL lives in its own module, beside the code that reads and
//! writes it: `job` (the phase), `folders` (source and destination folders),
//! `messages` (the map), `fates` (what became of each message), `intents`
//! (APPENDs in flight), `runs`, `search` (the forensic log), and `dav`
//! (address books, calendars and their objects, for `mailferry::dav`). This module
//! opens, locks and checks the file; `schema` creates and upgrades the tables.

mod columns;
mod dav;
mod fates;
mod folders;
mod intents;
mod job;
mod messages;
mod record;
mod runs;
mod schema;
mod search;
#[cfg(test)]
mod tests;

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use fs4::FileExt;
use rusqlite::{Connection, ErrorCode, TransactionBehavior};

pub use dav::{DavCollectionRecord, DavObjectRecord};
pub use record::{
    DestFolderId, DestFolderRecord, FailReason, Fate, FolderId, FolderRecord, Intent, IntentId,
    LogEntry, MessageKey, MessageRecord, NotCopied, Phase, RunCounters, RunId, RunRecord,
    SkipReason, SourceMessage,
};
pub use schema::SCHEMA_VERSION;

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

    /// A second handle on the same job, for the copy of another folder at
    /// the same time in this process: its own SQLite connection (WAL lets
    /// it read while the other writes; a write waits for the other's to
    /// end), sharing this one's job lock, which is released when the last
    /// handle closes. Not for a read-only handle.
    ///
    /// # Errors
    /// [`StateError::Sqlite`] or [`StateError::Io`] if the file cannot be
    /// opened again.
    pub fn sibling(&self) -> Result<State> {
        let sql = |source| classify(&self.path, source);
        let conn = Connection::open(&self.path).map_err(sql)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(sql)?;
        let lock = self._lock.try_clone().map_err(|source| StateError::Io {
            action: "share the lock of",
            path: self.path.clone(),
            source,
        })?;
        Ok(State {
            conn,
            path: self.path.clone(),
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
}

/// Writes a consistent copy of the state file `from` into a new file `to`
/// (replaced if it exists) through SQLite's online backup, in one step: the
/// copy is the database as one read transaction saw it, while a run in this
/// process or another goes on writing. The copy is a single file (no
/// `-wal`), checked with `PRAGMA integrity_check` before it is handed back:
/// what a worker uploads to a state store.
///
/// # Errors
/// [`StateError::Sqlite`] or [`StateError::Io`] if either file cannot be
/// read or written; [`StateError::Corrupt`] if the copy is damaged.
pub fn snapshot(from: &Path, to: &Path) -> Result<()> {
    let source = Connection::open_with_flags(
        from,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| classify(from, e))?;
    source
        .busy_timeout(std::time::Duration::from_secs(30))
        .map_err(|e| classify(from, e))?;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let stale = with_suffix(to, suffix);
        match std::fs::remove_file(&stale) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(StateError::Io {
                    action: "replace",
                    path: stale,
                    source: e,
                })
            }
            _ => {}
        }
    }
    let mut copy = Connection::open(to).map_err(|e| classify(to, e))?;
    {
        let backup =
            rusqlite::backup::Backup::new(&source, &mut copy).map_err(|e| classify(from, e))?;
        // -1: every page in one step, so one read transaction. A writer
        // holding a lock the step needs makes it wait and try again.
        let mut waits = 0;
        loop {
            match backup.step(-1).map_err(|e| classify(from, e))? {
                rusqlite::backup::StepResult::Done => break,
                rusqlite::backup::StepResult::More => {}
                _ if waits < 3000 => {
                    waits += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                _ => {
                    return Err(StateError::Io {
                        action: "take a snapshot of",
                        path: from.to_owned(),
                        source: std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "the file stayed locked for 30 seconds",
                        ),
                    })
                }
            }
        }
    }
    copy.pragma_update(None, "journal_mode", "DELETE")
        .map_err(|e| classify(to, e))?;
    check_integrity(&copy, to)?;
    copy.close().map_err(|(_, e)| classify(to, e))?;
    Ok(())
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
