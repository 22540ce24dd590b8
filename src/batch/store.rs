//! Where a worker's progress file lives between workers: a state store
//! (`file:///shared/folder`; `s3://bucket/prefix` on S3 or an
//! S3-compatible server; `az://container/prefix` on Azure Blob Storage;
//! `gs://bucket/prefix` on Google Cloud Storage) holding one copy of each mailbox's progress file,
//! restored to local disk when a worker starts and written back after every
//! folder and at the end.
//!
//! SQLite itself stays on the worker's local disk (never on a network file
//! system): what is written back is a consistent snapshot
//! ([`crate::state::snapshot`], SQLite's online backup), put only if the
//! copy in the store is still the one this worker restored (or there was
//! none): under a lock for a folder, with the object store's conditional
//! writes (`If-Match` on the ETag seen, `If-None-Match: *` for the first;
//! on Google Cloud Storage `x-goog-if-generation-match` on the generation
//! seen, `0` for the first). A stale duplicate worker for the same mailbox is refused
//! ([`StoreError::Newer`]) instead of overwriting newer progress.

use crate::state::StateError;
use fs4::FileExt;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, UpdateVersion};
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
    /// The object store refused or failed a request.
    #[error("cannot {action} {url}")]
    Object {
        /// What was being done, in plain words.
        action: &'static str,
        /// The store.
        url: String,
        /// The object store client's error.
        #[source]
        source: object_store::Error,
    },
}

/// How a worker ended, as the store keeps it for the report.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ending {
    /// Its exit code (`batch::DONE`, `batch::PERMANENT`, …).
    pub exit_code: u8,
    /// What it said, in plain words (no secret: the engine's messages).
    pub words: String,
    /// The verdict of the audit the worker ran after a finished copy
    /// (both servers compared folder by folder): safe to switch, or not
    /// yet; `None` when no audit ran (stopped, failed, an older worker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safe_to_switch: Option<bool>,
}

/// Which copy of a progress file a worker restored or last saved: an
/// opaque tag the store compares before it accepts a new one (an ETag,
/// and the object's version where the store gives one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    e_tag: String,
    generation: Option<String>,
}

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
    /// An object store (S3 or S3-compatible, Azure Blob, Google Cloud
    /// Storage), under a prefix.
    Object {
        store: std::sync::Arc<dyn ObjectStore>,
        prefix: String,
    },
}

type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StateStore {
    /// The store at `url`: `file:///absolute/folder` (a folder every
    /// worker reaches, created if missing), `s3://bucket/prefix`,
    /// `az://container/prefix` or `gs://bucket/prefix`. Their accounts and
    /// keys come from each cloud's usual variables: for S3 `AWS_REGION`,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_ENDPOINT_URL` for an
    /// S3-compatible server (plain `http://` only to such an endpoint); for
    /// Azure `AZURE_STORAGE_ACCOUNT_NAME` with `AZURE_STORAGE_ACCOUNT_KEY`,
    /// a SAS or a workload identity (`AZURE_FEDERATED_TOKEN_FILE`,
    /// `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`), or
    /// `AZURE_STORAGE_USE_EMULATOR=true` for Azurite; for Google Cloud
    /// Storage a service account's key file (`GOOGLE_APPLICATION_CREDENTIALS`
    /// or `GOOGLE_SERVICE_ACCOUNT`; its JSON itself in
    /// `GOOGLE_SERVICE_ACCOUNT_KEY`), else the machine's own account from
    /// the metadata server (GKE's workload identity, a Compute Engine
    /// VM; `GCE_METADATA_HOST` to reach another), and `GOOGLE_BASE_URL`
    /// for a server other than Google's.
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
        } else if let Some((scheme, rest)) = url.split_once("://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad(&format!(
                    "give a bucket or container, like {scheme}://bucket/mailferry"
                )));
            }
            let store = object_store_for(scheme, bucket)
                .ok_or_else(|| bad(SCHEMES))?
                .map_err(|e| bad(&e.to_string()))?;
            Backend::Object {
                store,
                prefix: prefix.trim_matches('/').to_owned(),
            }
        } else {
            return Err(bad(SCHEMES));
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
        let Some((bytes, version)) = self.get(key).await? else {
            return Ok(None);
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
        Ok(Some(version))
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
        *seen = Some(self.put(key, bytes, seen.as_ref()).await?);
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
        let json = serde_json::to_vec(ending).expect("an ending serializes");
        let name = format!("{key}.ending.json");
        match &self.backend {
            Backend::Dir(dir) => {
                std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                    action: "create",
                    path: dir.clone(),
                    source,
                })?;
                write_atomically(&dir.join(name), &json)
            }
            Backend::Object { store, prefix } => store
                .put(&object_path(prefix, &name), json.into())
                .await
                .map(|_| ())
                .map_err(|source| StoreError::Object {
                    action: "write to",
                    url: self.url.clone(),
                    source,
                }),
        }
    }

    /// How the last worker of `key` ended, if one said.
    ///
    /// # Errors
    /// [`StoreError::Io`] or [`StoreError::Object`] if the store cannot be
    /// read.
    pub async fn ending(&self, key: &str) -> Result<Option<Ending>> {
        Ok(self
            .get(&format!("{key}.ending.json"))
            .await?
            .and_then(|(bytes, _)| serde_json::from_slice(&bytes).ok()))
    }

    /// The object `key` and its version, if there is one.
    async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, Version)>> {
        match &self.backend {
            Backend::Dir(dir) => {
                let object = dir.join(key);
                match std::fs::read(&object) {
                    Ok(bytes) => {
                        let version = version_of(&bytes);
                        Ok(Some((bytes, version)))
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(source) => Err(StoreError::Io {
                        action: "read",
                        path: object,
                        source,
                    }),
                }
            }
            Backend::Object { store, prefix } => {
                let object = object_path(prefix, key);
                let failed = |source| StoreError::Object {
                    action: "read from",
                    url: self.url.clone(),
                    source,
                };
                let found = match store.get(&object).await {
                    Ok(found) => found,
                    Err(object_store::Error::NotFound { .. }) => return Ok(None),
                    Err(e) => return Err(failed(e)),
                };
                let version = Version {
                    e_tag: found.meta.e_tag.clone().unwrap_or_default(),
                    generation: found.meta.version.clone(),
                };
                let bytes = found.bytes().await.map_err(failed)?;
                Ok(Some((bytes.to_vec(), version)))
            }
        }
    }

    /// The conditional put: the copy there must be `expected` (none:
    /// there must be none).
    async fn put(&self, key: &str, bytes: Vec<u8>, expected: Option<&Version>) -> Result<Version> {
        match &self.backend {
            Backend::Dir(dir) => self.put_in_folder(dir, key, &bytes, expected),
            Backend::Object { store, prefix } => {
                let mode = match expected {
                    None => PutMode::Create,
                    Some(seen) => PutMode::Update(UpdateVersion {
                        e_tag: Some(seen.e_tag.clone()),
                        version: seen.generation.clone(),
                    }),
                };
                let options = PutOptions {
                    mode,
                    ..PutOptions::default()
                };
                match store
                    .put_opts(&object_path(prefix, key), bytes.into(), options)
                    .await
                {
                    Ok(put) => Ok(Version {
                        e_tag: put.e_tag.unwrap_or_default(),
                        generation: put.version,
                    }),
                    Err(
                        object_store::Error::Precondition { .. }
                        | object_store::Error::AlreadyExists { .. },
                    ) => Err(StoreError::Newer {
                        url: self.url.clone(),
                    }),
                    Err(source) => Err(StoreError::Object {
                        action: "write to",
                        url: self.url.clone(),
                        source,
                    }),
                }
            }
        }
    }

    /// The conditional put in a folder: under the key's lock, the copy
    /// there must be `expected`.
    fn put_in_folder(
        &self,
        dir: &Path,
        key: &str,
        bytes: &[u8],
        expected: Option<&Version>,
    ) -> Result<Version> {
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

/// An object's path under the store's prefix.
fn object_path(prefix: &str, key: &str) -> object_store::path::Path {
    if prefix.is_empty() {
        object_store::path::Path::from(key)
    } else {
        object_store::path::Path::from(format!("{prefix}/{key}"))
    }
}

/// A copy's tag in a folder: the SHA-256 of its bytes.
fn version_of(bytes: &[u8]) -> Version {
    use sha2::{Digest, Sha256};
    Version {
        e_tag: Sha256::digest(bytes)
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect(),
        generation: None,
    }
}

/// The addresses [`StateStore::open`] reads, in words.
const SCHEMES: &str = "MailFerry reads file:///folder, s3://bucket/prefix, \
                       az://container/prefix and gs://bucket/prefix addresses";

/// The object store client for `scheme://bucket` (its settings from the
/// cloud's usual variables), or `None` for a scheme MailFerry does not
/// know. Every client sends its requests through [`web::Connector`].
fn object_store_for(
    scheme: &str,
    bucket: &str,
) -> Option<object_store::Result<std::sync::Arc<dyn ObjectStore>>> {
    use std::sync::Arc;
    Some(match scheme {
        "s3" => {
            let mut builder = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_http_connector(web::Connector);
            let endpoint = std::env::var("AWS_ENDPOINT_URL")
                .or_else(|_| std::env::var("AWS_ENDPOINT"))
                .ok();
            if let Some(endpoint) = endpoint {
                builder = builder
                    .with_allow_http(endpoint.starts_with("http://"))
                    .with_endpoint(endpoint)
                    .with_virtual_hosted_style_request(false);
            }
            builder.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        }
        "az" | "azure" => {
            let emulator = std::env::var("AZURE_STORAGE_USE_EMULATOR")
                .is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
            object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_container_name(bucket)
                // Azurite listens on plain http://127.0.0.1; Azure itself
                // only on https://.
                .with_allow_http(emulator)
                .with_http_connector(web::Connector)
                .build()
                .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        }
        "gs" => {
            // The credentials as Google's libraries find them: a service
            // account's key (GOOGLE_APPLICATION_CREDENTIALS,
            // GOOGLE_SERVICE_ACCOUNT[_KEY]), gcloud's application default
            // credentials, else the metadata server's token for the
            // machine's own account. Saves carry
            // `x-goog-if-generation-match`.
            // GOOGLE_BASE_URL names a server other than Google's.
            object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_bucket_name(bucket)
                .with_http_connector(web::Connector)
                .build()
                .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        }
        _ => return None,
    })
}

/// Writes `bytes` to `path` through a temporary file renamed over it, so a
/// reader sees the old file or the new one, never half of one.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let temp = with_suffix(path, &format!(".part-{}", std::process::id()));
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

mod web;

/// The error of a file operation on `path` (`action`: "create", "write"…).
fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_owned();
    move |source| StoreError::Io {
        action,
        path,
        source,
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
