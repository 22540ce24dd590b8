//! Before the switch: flag changes made at the source since the last run,
//! brought over as a delta (a flag set at the destination and never
//! changed at the source is kept), and, with `delete2`, the removal at the
//! destination of the copies whose source message is gone.

use super::{FolderJob, FolderReport, FolderStop};
use crate::error::Problem;
use crate::imap::messages::FolderStatus;
use crate::imap::Session;
use crate::state::{DestFolderId, Fate, FolderId, MessageKey, State, StateError};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What changed at the source for messages copied earlier.
pub(super) struct Changes {
    /// Flag → destination UIDs that gain it.
    add: BTreeMap<String, Vec<u32>>,
    /// Flag → destination UIDs that lose it.
    remove: BTreeMap<String, Vec<u32>>,
    /// Messages whose synced flags change, with their new set.
    updated: Vec<(MessageKey, Vec<String>)>,
    /// Messages without a recorded flag set yet: their current source flags
    /// become the baseline (nothing is written at the destination).
    baseline: Vec<(MessageKey, Vec<String>)>,
    /// Messages MailFerry copied that are gone from the source: (key, destination UID).
    pub(super) gone: Vec<(MessageKey, u32)>,
    /// Messages of this folder known to be at the destination.
    pub(super) at_destination: usize,
}

impl Changes {
    /// Whether applying these changes writes anything at the destination
    /// (and so opens the folder there read-write).
    pub(super) fn writes(&self, delete2: bool) -> bool {
        !self.updated.is_empty() || (delete2 && !self.gone.is_empty())
    }

    pub(super) fn find(
        st: &State,
        folder: FolderId,
        uidvalidity: u32,
        dest: DestFolderId,
        source_flags: &HashMap<u32, Vec<String>>,
        partial: bool,
        dst_status: &FolderStatus,
    ) -> Result<Changes, StateError> {
        let mut changes = Changes {
            add: BTreeMap::new(),
            remove: BTreeMap::new(),
            updated: Vec::new(),
            baseline: Vec::new(),
            gone: Vec::new(),
            at_destination: 0,
        };
        for rec in st.messages_in_folder(folder, uidvalidity)? {
            if !rec.fate.is_at_destination() || rec.dest_folder != Some(dest) {
                continue;
            }
            changes.at_destination += 1;
            let Some(dest_uid) = rec.dest_uid else {
                continue; // where it is at the destination is not known: leave it alone
            };
            let Some(flags) = source_flags.get(&rec.key.uid) else {
                // `partial`: only what changed was read; the rest is as it was.
                if rec.fate == Fate::Copied && !partial {
                    changes.gone.push((rec.key, dest_uid));
                }
                continue;
            };
            let now: BTreeSet<String> = flags
                .iter()
                .filter(|f| {
                    !f.eq_ignore_ascii_case("\\Recent") && !f.eq_ignore_ascii_case("\\Deleted")
                })
                .filter(|f| dst_status.permanent_flags.is_empty() || dst_status.keeps_flag(f))
                .cloned()
                .collect();
            let Some(last) = rec.flags else {
                changes.baseline.push((rec.key, now.into_iter().collect()));
                continue;
            };
            if last == now {
                continue;
            }
            for f in now.difference(&last) {
                changes.add.entry(f.clone()).or_default().push(dest_uid);
            }
            for f in last.difference(&now) {
                changes.remove.entry(f.clone()).or_default().push(dest_uid);
            }
            changes.updated.push((rec.key, now.into_iter().collect()));
        }
        Ok(changes)
    }
}

/// Writes flag changes (and removals, when asked) at the destination, then
/// records them. A crash in between repeats the same changes next time,
/// which is harmless (adding a flag twice changes nothing). A keyword the
/// destination refuses is left off and added to `dropped`. The folder is
/// opened read-write (SELECT) and checked to be the one whose UIDs are on
/// record (`dest_uidvalidity`); `None`: it is open read-write already,
/// checked when opened. True when the folder is open read-write after it.
#[allow(clippy::too_many_arguments)] // the store, the folder's context and what the report collects
pub(super) async fn apply_changes(
    dest: &mut Session,
    st: &mut State,
    job: &FolderJob<'_>,
    changes: &Changes,
    dest_uidvalidity: Option<u32>,
    dropped: &mut BTreeSet<String>,
    report: &mut FolderReport,
) -> Result<bool, FolderStop> {
    let now = job.now;
    st.set_synced_flags_all(&changes.baseline, now())?;
    if !changes.writes(job.options.delete2) {
        return Ok(false);
    }
    let removing = job.options.delete2 && !changes.gone.is_empty();
    // The destination UIDs were read under this UIDVALIDITY: a folder
    // replaced since (another program deleted and recreated it) holds other
    // messages under them. Nothing is changed there; the next run finds
    // the copies again by identity.
    if let Some(expected) = dest_uidvalidity {
        let selected = dest.select(job.dest_name.wire()).await?;
        if selected.uid_validity != expected {
            tracing::warn!(
                folder = %job.dest_name.display(),
                "the destination folder was replaced during the copy: no flag change or removal there this time"
            );
            return Ok(true);
        }
    }
    let stores: Vec<(&[u32], &str, bool)> = changes
        .add
        .iter()
        .map(|(flag, uids)| (uids.as_slice(), flag.as_str(), true))
        .chain(
            changes
                .remove
                .iter()
                .map(|(flag, uids)| (uids.as_slice(), flag.as_str(), false)),
        )
        .collect();
    // Every change in one flight. A refusal among them (a keyword the
    // destination does not take) sends them again apart: system flags
    // together, then keywords one at a time (adding or removing a flag
    // twice changes nothing).
    match dest.store_flags(&stores).await {
        Ok(()) => {}
        Err(e) if !matches!(e.problem(), Problem::ServerRefused { .. }) => return Err(e.into()),
        Err(_) => {
            let (system, keywords): (Vec<_>, Vec<_>) = stores
                .into_iter()
                .partition(|(_, flag, _)| flag.starts_with('\\'));
            dest.store_flags(&system).await?;
            // A keyword the destination refuses (too long, too many) is
            // left off and reported, as when a message is copied; the
            // others still go.
            for store in &keywords {
                match dest.store_flags(std::slice::from_ref(store)).await {
                    Ok(()) => {}
                    Err(e) if matches!(e.problem(), Problem::ServerRefused { .. }) => {
                        dropped.insert(store.1.to_owned());
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    crate::crashpoint::hit("after_store");
    st.set_synced_flags_all(&changes.updated, now())?;
    report.flags_updated += changes.updated.len() as u64;
    if removing {
        let uids: Vec<u32> = changes.gone.iter().map(|(_, uid)| *uid).collect();
        dest.remove_uids(&uids).await?;
        for (key, _) in &changes.gone {
            st.record_removed(*key, now())?;
        }
        report.removed += changes.gone.len() as u64;
    }
    Ok(true)
}
