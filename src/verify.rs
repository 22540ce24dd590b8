//! The audit after a copy: per mapped folder, what is at the source, what
//! is at the destination, and for every source message missing at the
//! destination, the recorded reason — "safe to switch" only when every gap
//! is explained.
//!
//! Identity is the same as the copy's: fingerprints counted as a multiset,
//! so two genuine copies at the source need two at the destination. Both
//! folders are only read (EXAMINE, headers).

use crate::error::Error;
use crate::folder::{AllMailPolicy, FolderMap, MailboxName, Reason, Target};
use crate::identity::{Fingerprint, Multiset, Summary};
use crate::imap::messages::{MessageMeta, ReadOnly};
use crate::imap::Session;
use crate::state::{Fate, MessageKey, SkipReason, State};
use serde::Serialize;

/// What to do once the move is finished and safe to switch: the closing
/// checklist, written once here and shown by the command line's `verify`,
/// the app's check screen and the report the app saves.
pub const CLOSING: [&str; 4] = [
    "Remove the app passwords you created for MailFerry, in both providers' security settings.",
    "Revoke MailFerry's access if you signed in with Google or Microsoft in the browser (Google: \
     Security, Third-party access; Microsoft: My Apps or the admin center); an administrator removes \
     the service account's delegation or the app's mailbox access.",
    "Remove what MailFerry kept in this computer's keychain: Forget in the app, or `mailferry forget`.",
    "Keep the old account for 30 days before you close it, in case something needs a second look.",
];

/// A source message that is not at the destination.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Missing {
    /// Its UID at the source.
    pub uid: u32,
    /// Message-ID header.
    pub message_id: Option<String>,
    /// From header.
    pub from: Option<String>,
    /// Subject header.
    pub subject: Option<String>,
    /// Date header.
    pub date: Option<String>,
    /// Why it is not there, in plain words.
    pub reason: String,
    /// Is the reason one the user chose or was told about (a filter, a
    /// refusal reported with the server's words)? `false`: nobody knows why
    /// — it may have arrived after the last copy.
    pub explained: bool,
}

/// One folder's audit.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct FolderAudit {
    /// Source folder (display name).
    pub source: String,
    /// Destination folder (display name).
    pub destination: String,
    /// Messages at the source.
    pub source_messages: u64,
    /// Messages at the destination.
    pub destination_messages: u64,
    /// Bytes at the source.
    pub source_bytes: u64,
    /// Bytes at the destination.
    pub destination_bytes: u64,
    /// Source messages not at the destination.
    pub missing: Vec<Missing>,
    /// Messages at the destination that the source doesn't have (mail that
    /// arrived there, or another source folder landing in the same place).
    pub only_at_destination: u64,
    /// Gmail's All Mail: messages that arrived through one of their labels
    /// (another folder) and so are not copied into this one again.
    pub in_other_folders: u64,
    /// The folder could not be read (the server's words): it was not
    /// checked, which is never "nothing missing".
    pub unreadable: Option<String>,
}

/// The whole audit.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Audit {
    /// Per mapped folder.
    pub folders: Vec<FolderAudit>,
    /// Source folders the map leaves out, with the reason.
    pub excluded_folders: Vec<(String, String)>,
    /// Every source message is at the destination or has a known reason.
    pub safe_to_switch: bool,
}

impl Audit {
    /// Folders that could not be checked.
    pub fn unreadable(&self) -> impl Iterator<Item = &FolderAudit> {
        self.folders.iter().filter(|f| f.unreadable.is_some())
    }

    /// Source messages missing with no known reason.
    pub fn unexplained(&self) -> usize {
        self.folders
            .iter()
            .flat_map(|f| &f.missing)
            .filter(|m| !m.explained)
            .count()
    }
}

/// Audits every folder of `map`.
pub async fn verify(
    source: &mut Session,
    dest: &mut Session,
    map: &FolderMap,
    state: Option<&State>,
) -> Result<Audit, Error> {
    // The audit changes nothing on either side: both are read-only views.
    let (source, dest) = (&mut ReadOnly::new(source), &mut ReadOnly::new(dest));
    let mut audit = Audit {
        folders: Vec::new(),
        excluded_folders: Vec::new(),
        safe_to_switch: true,
    };
    // Fingerprints at the destination in the folders audited so far; All
    // Mail (audited last) finds its labelled messages there.
    let mut elsewhere = Multiset::new();
    for entry in &map.entries {
        let Target::Folder { name, .. } = &entry.target else {
            let why = entry
                .reasons
                .iter()
                .map(|r| r.describe())
                .collect::<Vec<_>>()
                .join(", ");
            audit
                .excluded_folders
                .push((entry.source.display().to_owned(), why));
            continue;
        };
        let only_unlabelled = map.all_mail_policy == AllMailPolicy::OnlyUnlabelled
            && entry
                .reasons
                .iter()
                .any(|r| matches!(r, Reason::AllMailToArchive));
        // A connection lost (or a server busy) while one folder is read is
        // tried again on fresh connections, as the copy does: the check's
        // answer must not depend on a cut. (A folder's fingerprints are
        // counted only once both sides are read: a lost attempt counted
        // none.)
        let mut attempt = 0;
        let folder = loop {
            match audit_folder(
                source,
                dest,
                &entry.source,
                name,
                state,
                &mut elsewhere,
                only_unlabelled,
            )
            .await
            {
                Err(e) if e.is_transient() && attempt < crate::job::STEP_RETRIES => {
                    attempt += 1;
                    let wait = crate::run::retry_wait(&e, attempt);
                    tracing::debug!(folder = %entry.source, attempt, error = %e, "checking the folder again");
                    tokio::time::sleep(wait).await;
                    let (s, d) = tokio::join!(source.reconnect(), dest.reconnect());
                    if let Some(e) = [s.err(), d.err()]
                        .into_iter()
                        .flatten()
                        .find(Error::is_auth)
                    {
                        return Err(e);
                    }
                }
                other => break other?,
            }
        };
        audit.folders.push(folder);
    }
    audit.safe_to_switch = audit.unexplained() == 0 && audit.unreadable().next().is_none();
    Ok(audit)
}

/// A folder's messages. `missing_is_empty`: a folder the server refuses to
/// open holds nothing (a destination folder not created yet); a source
/// folder it refuses to open could not be read, which is another thing.
async fn read(
    session: &mut ReadOnly<'_>,
    name: &MailboxName,
    missing_is_empty: bool,
) -> Result<Vec<MessageMeta>, Error> {
    let status = match session.examine(name.wire()).await {
        Ok(status) => status,
        Err(e)
            if missing_is_empty
                && matches!(e.problem(), crate::error::Problem::ServerRefused { .. }) =>
        {
            return Ok(Vec::new())
        }
        Err(e) => return Err(e),
    };
    if status.exists == 0 {
        return Ok(Vec::new());
    }
    session.fetch_meta("1:*").await
}

async fn audit_folder(
    source: &mut ReadOnly<'_>,
    dest: &mut ReadOnly<'_>,
    source_name: &MailboxName,
    dest_name: &MailboxName,
    state: Option<&State>,
    elsewhere: &mut Multiset,
    only_unlabelled: bool,
) -> Result<FolderAudit, Error> {
    // A folder one side refuses to open or read is "could not be checked"
    // and the audit goes on; a lost connection is the caller's to try
    // again.
    let unreadable = |e: Error, side: &str| -> Result<FolderAudit, Error> {
        if e.is_transient() || e.is_auth() {
            return Err(e);
        }
        Ok(FolderAudit {
            source: source_name.display().to_owned(),
            destination: dest_name.display().to_owned(),
            source_messages: 0,
            destination_messages: 0,
            source_bytes: 0,
            destination_bytes: 0,
            missing: Vec::new(),
            only_at_destination: 0,
            in_other_folders: 0,
            unreadable: Some(format!("the {side} server could not read it: {e}")),
        })
    };
    let src = match read(source, source_name, false).await {
        Ok(src) => src,
        Err(e) => return unreadable(e, "old"),
    };
    let dst = match read(dest, dest_name, true).await {
        Ok(dst) => dst,
        Err(e) => return unreadable(e, "new"),
    };
    let mut at_dest = Multiset::new();
    for m in &dst {
        let fingerprint = Fingerprint::of_headers(&m.headers, u64::from(m.size));
        at_dest.insert(fingerprint.clone());
        if !only_unlabelled {
            elsewhere.insert(fingerprint);
        }
    }
    let mut in_other_folders = 0;
    let record = state.and_then(|st| st.folder(source_name).ok().flatten());
    let mut missing = Vec::new();
    for m in &src {
        let fingerprint = Fingerprint::of_headers(&m.headers, u64::from(m.size));
        if at_dest.take(&fingerprint) {
            continue;
        }
        if only_unlabelled && elsewhere.take(&fingerprint) {
            in_other_folders += 1;
            continue;
        }
        let fate = match (&record, state) {
            (Some(rec), Some(st)) => st
                .message(MessageKey {
                    folder: rec.id,
                    uidvalidity: rec.source_uidvalidity,
                    uid: m.uid,
                })
                .ok()
                .flatten()
                .map(|r| r.fate),
            _ => None,
        };
        let deleted = m.flags.iter().any(|f| f.eq_ignore_ascii_case("\\Deleted"));
        let (reason, explained) = match fate {
            // Held back by the size limit of a first pass: the next pass
            // without it copies them, and until then they are not there.
            Some(Fate::Skipped {
                reason: reason @ (SkipReason::TooBig | SkipReason::TooSmall),
            }) => (
                format!(
                    "{}: not at the new server yet (run the copy without the size limit)",
                    reason.words()
                ),
                false,
            ),
            Some(Fate::Skipped { reason }) => (reason.words().to_owned(), true),
            Some(Fate::Excluded { rule }) => (format!("left out: {rule}"), true),
            Some(Fate::Failed {
                reason,
                server_text,
                ..
            }) => {
                let text = server_text.map(|t| format!(" ({t})")).unwrap_or_default();
                (format!("{}{text}", reason.words()), true)
            }
            // The progress file says it arrived, the server says it is not
            // there: a loss until the copy puts it back.
            Some(Fate::Copied | Fate::AlreadyThere) => (
                "was copied, but is no longer at the new server (deleted there?): \
                 run the copy again to put it back"
                    .to_owned(),
                false,
            ),
            Some(Fate::Removed) => (
                "removed at the destination because it was deleted at the source".to_owned(),
                true,
            ),
            None if deleted => ("marked as deleted at the source".to_owned(), true),
            None => (
                "not copied yet (it may have arrived after the last copy): run the copy again"
                    .to_owned(),
                false,
            ),
        };
        let summary = Summary::of_headers(&m.headers);
        missing.push(Missing {
            uid: m.uid,
            message_id: summary.message_id,
            from: summary.from,
            subject: summary.subject,
            date: summary.date,
            reason,
            explained,
        });
    }
    Ok(FolderAudit {
        source: source_name.display().to_owned(),
        destination: dest_name.display().to_owned(),
        source_messages: src.len() as u64,
        destination_messages: dst.len() as u64,
        source_bytes: src.iter().map(|m| u64::from(m.size)).sum(),
        destination_bytes: dst.iter().map(|m| u64::from(m.size)).sum(),
        missing,
        only_at_destination: at_dest.len() as u64,
        in_other_folders,
        unreadable: None,
    })
}
