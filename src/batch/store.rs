//! Where a worker's progress file lives between workers: a state store
//! (`file:///shared/dir`, later object stores) holding one copy of each
//! mailbox's progress file, restored to local disk when a worker starts and
//! written back after every folder and at the end.
//!
//! SQLite itself stays on the worker's local disk (never on a network file
//! system): what is written back is a consistent snapshot
//! ([`crate::state::snapshot`], SQLite's online backup), put only if the
//! copy in the store is still the one this worker restored (or there was
//! none). A stale duplicate worker for the same mailbox is refused
//! ([`StoreError::Newer`]) instead of overwriting newer progress.

use crate::state::StateError;
use fs4::FileExt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why the state store cannot do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The address is not one MailFerry can use.
    #[error("cannot use the state store {url}: {why}")]
    Address {
        /// The address given.
        url: String,
        /// What is wrong with it, in words.
        why: String,
    },
    /// The store holds newer progress than this worker started from:
    /// another worker saved this mailbox since.
    #[error(
        "cannot save the progress of this mailbox to {url}: another worker saved newer progress \
         for it since this one started (two workers for one mailbox). This worker stops so as not \
         to overwrite it; running it again starts from the newer progress"
    )]
    Newer {
        /// The store.
        url: String,
    },
    /// Reading or writing the store failed.
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
    /// The snapshot of the local progress file failed.
    #[error(transparent)]
    State(#[from] StateError),
}

/// How a worker ended, as the store keeps it for the report.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ending {
    /// Its exit code (`batch::DONE`, `batch::PERMANENT`, …).
    pub exit_code: u8,
    /// What it said, in plain words (no secret: the engine's messages).
    pub words: String,
}

/// Which copy of a progress file a worker restored or last saved: an
/// opaque tag the store compares before it accepts a new one (an ETag).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version(String);

/// A state store, from its address.
#[derive(Clone, Debug)]
pub struct StateStore {
    url: String,
    backend: Backend,
}

#[derive(Clone, Debug)]
enum Backend {
    /// A folder: one file per progress file, replaced atomically under a lock.
    Dir(PathBuf),
}

type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StateStore {
    /// The store at `url`: `file:///absolute/folder` (a folder every
    /// worker reaches, created if missing).
    ///
    /// # Errors
    /// [`StoreError::Address`] for an address MailFerry cannot use.
    pub fn open(url: &str) -> Result<StateStore> {
        let bad = |why: &str| StoreError::Address {
            url: url.to_owned(),
            why: why.to_owned(),
        };
        let backend = if let Some(path) = url.strip_prefix("file://") {
            let path = PathBuf::from(path);
            if !path.is_absolute() {
                return Err(bad(
                    "give an absolute folder, like file:///var/lib/mailferry",
                ));
            }
            Backend::Dir(path)
        } else {
            return Err(bad("MailFerry reads file:///folder addresses"));
        };
        Ok(StateStore {
            url: url.to_owned(),
            backend,
        })
    }

    /// The store's address, as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Puts the store's copy of `key` at `local` (the worker's progress
    /// file, replaced with its `-wal` and `-shm`) and says which copy it
    /// was; `None`, and `local` left alone, when the store has none yet.
    ///
    /// # Errors
    /// [`StoreError::Io`] if the store or the local disk cannot be read or
    /// written.
    pub async fn restore(&self, key: &str, local: &Path) -> Result<Option<Version>> {
        let Backend::Dir(dir) = &self.backend;
        let object = dir.join(key);
        let bytes = match std::fs::read(&object) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StoreError::Io {
                    action: "read",
                    path: object,
                    source,
                })
            }
        };
        if let Some(parent) = local.parent() {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Io {
                action: "create the folder of",
                path: local.to_owned(),
                source,
            })?;
        }
        for suffix in ["-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(with_suffix(local, suffix));
        }
        write_atomically(local, &bytes)?;
        tracing::debug!(key, "progress restored from the state store");
        Ok(Some(version_of(&bytes)))
    }

    /// Writes a consistent snapshot of the progress file at `local` back as
    /// `key`, if the store still holds the copy `seen` (`None`: if it holds
    /// none); `seen` then becomes the new copy.
    ///
    /// # Errors
    /// [`StoreError::Newer`] if another worker saved `key` since;
    /// [`StoreError::State`] if the snapshot failed; [`StoreError::Io`].
    pub async fn save(&self, key: &str, local: &Path, seen: &mut Option<Version>) -> Result<()> {
        let snapshot = with_suffix(local, ".snapshot");
        crate::state::snapshot(local, &snapshot)?;
        let bytes = std::fs::read(&snapshot).map_err(|source| StoreError::Io {
            action: "read",
            path: snapshot.clone(),
            source,
        })?;
        let _ = std::fs::remove_file(&snapshot);
        *seen = Some(self.put(key, &bytes, seen.as_ref())?);
        tracing::debug!(key, "progress saved to the state store");
        Ok(())
    }

    /// Keeps how the last worker of `key` ended (its exit code and words),
    /// beside the progress file, for the run's report: a mailbox whose
    /// worker could not sign in has no progress to show why.
    ///
    /// # Errors
    /// [`StoreError::Io`].
    pub async fn save_ending(&self, key: &str, ending: &Ending) -> Result<()> {
        let Backend::Dir(dir) = &self.backend;
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            action: "create",
            path: dir.clone(),
            source,
        })?;
        let json = serde_json::to_vec(ending).expect("an ending serializes");
        write_atomically(&dir.join(format!("{key}.ending.json")), &json)
    }

    /// How the last worker of `key` ended, if one said.
    ///
    /// # Errors
    /// [`StoreError::Io`] if the store cannot be read.
    pub async fn ending(&self, key: &str) -> Result<Option<Ending>> {
        let Backend::Dir(dir) = &self.backend;
        let path = dir.join(format!("{key}.ending.json"));
        match std::fs::read(&path) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Io {
                action: "read",
                path,
                source,
            }),
        }
    }

    /// The conditional put: under the key's lock, the copy there must be
    /// `expected`.
    fn put(&self, key: &str, bytes: &[u8], expected: Option<&Version>) -> Result<Version> {
        let Backend::Dir(dir) = &self.backend;
        let io = |action, path: &Path| {
            let path = path.to_owned();
            move |source| StoreError::Io {
                action,
                path,
                source,
            }
        };
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
        let lock_path = dir.join(format!(".{key}.lock"));
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io("open", &lock_path))?;
        FileExt::lock(&lock).map_err(io("lock", &lock_path))?;
        let object = dir.join(key);
        let current = match std::fs::read(&object) {
            Ok(held) => Some(version_of(&held)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(StoreError::Io {
                    action: "read",
                    path: object,
                    source,
                })
            }
        };
        if current.as_ref() != expected {
            return Err(StoreError::Newer {
                url: self.url.clone(),
            });
        }
        write_atomically(&object, bytes)?;
        drop(lock);
        Ok(version_of(bytes))
    }
}

/// A copy's tag: the SHA-256 of its bytes.
fn version_of(bytes: &[u8]) -> Version {
    use sha2::{Digest, Sha256};
    Version(
        Sha256::digest(bytes)
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

/// Writes `bytes` to `path` through a temporary file renamed over it, so a
/// reader sees the old file or the new one, never half of one.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let temp = with_suffix(path, &format!(".part-{}", std::process::id()));
    let io = |action, path: &Path| {
        let path = path.to_owned();
        move |source| StoreError::Io {
            action,
            path,
            source,
        }
    };
    let mut file = std::fs::File::create(&temp).map_err(io("create", &temp))?;
    file.write_all(bytes).map_err(io("write", &temp))?;
    file.sync_all().map_err(io("write", &temp))?;
    drop(file);
    std::fs::rename(&temp, path).map_err(io("replace", path))?;
    if let Some(dir) = path.parent() {
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
