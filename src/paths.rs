//! Where MailFerry keeps its files, by each platform's conventions, shared
//! by the CLI and the desktop app so that both find the same jobs.
//!
//! | platform | data folder |
//! |---|---|
//! | Linux, BSD | `$XDG_DATA_HOME/MailFerry`, else `~/.local/share/MailFerry` |
//! | macOS | `~/Library/Application Support/MailFerry` |
//! | Windows | `%APPDATA%\MailFerry` |
//!
//! `MAILFERRY_DATA_DIR` replaces the whole folder (a portable install, or a
//! test). Nothing secret is ever written there: passwords and tokens live
//! in the keychain ([`crate::auth::keychain`]).

use crate::endpoint::Endpoint;
use std::path::{Path, PathBuf};

/// The folder's name under the platform's data folder.
pub const APP_FOLDER: &str = "MailFerry";

/// The environment variable that replaces the data folder.
pub const DATA_DIR_VAR: &str = "MAILFERRY_DATA_DIR";

/// MailFerry's data folder, or None when the platform has no home folder
/// to put it in.
pub fn data_dir() -> Option<PathBuf> {
    data_dir_from(std::env::var_os(DATA_DIR_VAR), dirs::data_dir())
}

fn data_dir_from(
    overridden: Option<std::ffi::OsString>,
    platform: Option<PathBuf>,
) -> Option<PathBuf> {
    match overridden {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => platform.map(|d| d.join(APP_FOLDER)),
    }
}

/// The folder of the per-job progress files.
pub fn jobs_dir() -> Option<PathBuf> {
    data_dir().map(|d| d.join("jobs"))
}

/// A job's name: the two accounts and servers (no secret in it).
pub fn job_name(source_user: &str, source: &Endpoint, dest_user: &str, dest: &Endpoint) -> String {
    format!(
        "{source_user}@{}:{} to {dest_user}@{}:{}",
        source.host, source.port, dest.host, dest.port
    )
}

/// The progress file of the job `job_name` in `jobs_dir`: named by a digest
/// of the name, so that user names never become file names.
pub fn job_file(jobs_dir: &Path, job_name: &str) -> PathBuf {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(job_name.as_bytes());
    let id: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    jobs_dir.join(format!("{id}.db"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_override_wins_and_an_empty_one_is_ignored() {
        let platform = Some(PathBuf::from("/home/u/.local/share"));
        assert_eq!(
            data_dir_from(Some("/portable".into()), platform.clone()),
            Some(PathBuf::from("/portable"))
        );
        assert_eq!(
            data_dir_from(Some("".into()), platform.clone()),
            Some(PathBuf::from("/home/u/.local/share/MailFerry"))
        );
        assert_eq!(data_dir_from(None, None), None);
    }

    #[test]
    fn job_files_are_stable_and_hide_the_names() {
        let a = Endpoint::new("imap.gmail.com");
        let b = Endpoint::new("outlook.office365.com");
        let name = job_name("alice@example.com", &a, "alice@example.com", &b);
        assert_eq!(
            name,
            "alice@example.com@imap.gmail.com:993 to alice@example.com@outlook.office365.com:993"
        );
        let file = job_file(Path::new("/d/jobs"), &name);
        // The file every earlier version wrote (CLI and app): a changed
        // name would lose every user's progress.
        assert_eq!(file, Path::new("/d/jobs/35ee1239740d4772.db"));
    }
}
