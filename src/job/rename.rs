//! A folder renamed at the old server between runs, followed: when the old
//! server gives folders ids that survive a rename (RFC 8474 OBJECTID), a
//! folder on record that is no longer listed and a listed folder not on
//! record with the same MAILBOXID are one folder, renamed. Its progress
//! goes on under the new name (nothing is copied twice), and before the
//! switch the folder its copies are in is renamed to match at the new
//! server, when the name it should have there is free.
//!
//! Ids are recorded once per folder ([`remember_ids`], after a copy); they
//! are asked for again only when a folder on record is missing from the
//! listing, so an ordinary run costs no extra round trip. Without OBJECTID
//! nothing here happens: a renamed folder is a new folder, and the copies
//! of the old one stay.

use std::path::Path;

use super::progress_error;
use crate::error::{Error, Problem};
use crate::folder::{pair_by_id, Copies, FolderMap, FolderTree, MailboxName, Renamed, Target};
use crate::imap::Session;
use crate::state::{FolderRecord, State};

/// The two servers and what is known of them, for [`follow`].
pub(super) struct Sides<'a> {
    /// The old server (only asked for ids: STATUS).
    pub source: &'a mut Session,
    /// The new server (RENAME).
    pub dest: &'a mut Session,
    /// The old server's folders as listed for this run.
    pub source_tree: &'a FolderTree,
    /// The new server's folders as listed for this run.
    pub dest_tree: &'a FolderTree,
}

/// Finds the folders renamed at the old server since the last run and
/// follows them (see the module's note): the records move to the new
/// names; before the switch (`switched` false) the destination folder is
/// renamed to the new name's target when that is free at the new server
/// and on record; after it, the folder keeps its recorded destination.
/// Call it before the folders are created (a created target can no longer
/// be a rename's).
///
/// # Errors
/// A lost connection, or a progress file that cannot be written.
pub(super) async fn follow(
    mut sides: Sides<'_>,
    state: &mut State,
    map: &FolderMap,
    switched: bool,
    now: i64,
    path: &Path,
) -> Result<Vec<Renamed>, Error> {
    if !sides.source.offers_object_ids() {
        return Ok(Vec::new());
    }
    let st = |e| progress_error(path, e);
    let rows = state.folders().map_err(st)?;
    let listed = |name: &str| sides.source_tree.find_display(name).is_some();
    let gone: Vec<(&str, &str)> = rows
        .iter()
        .filter(|r| !listed(&r.source_name))
        .filter_map(|r| Some((r.source_name.as_str(), r.mailbox_id.as_deref()?)))
        .collect();
    if gone.is_empty() {
        return Ok(Vec::new());
    }
    let unknown: Vec<&MailboxName> = sides
        .source_tree
        .folders
        .iter()
        .filter(|f| f.is_selectable())
        .filter(|f| !rows.iter().any(|r| r.source_name == f.name.display()))
        .map(|f| &f.name)
        .collect();
    if unknown.is_empty() {
        return Ok(Vec::new());
    }
    let wires: Vec<&str> = unknown.iter().map(|n| n.wire()).collect();
    let ids = sides.source.mailbox_ids(&wires).await?;
    let new: Vec<(&str, Option<&str>)> = unknown
        .iter()
        .zip(&ids)
        .map(|(n, id)| (n.display(), id.as_deref()))
        .collect();
    let delimiter = sides.dest_tree.delimiter;
    let mut out: Vec<Renamed> = Vec::new();
    for (old, name) in pair_by_id(&gone, &new) {
        let Some(row) = rows.iter().find(|r| r.source_name == old) else {
            continue;
        };
        let Some(to) = unknown.iter().find(|n| n.display() == name) else {
            continue;
        };
        // Read again: a parent's rename may have renamed its destination.
        let row = state.folder_by_id(row.id).map_err(st)?;
        let target = map
            .entries
            .iter()
            .find(|e| &e.source == *to)
            .and_then(|e| match &e.target {
                Target::Folder { name, .. } => Some(name),
                Target::Excluded => None,
            });
        let copies = match target {
            None => Copies::InPlace,
            Some(t) if t.display() == row.dest.name => {
                if out
                    .iter()
                    .any(|r| within_renamed(r, &row.dest.name, delimiter))
                {
                    Copies::RenamedWithParent {
                        to: row.dest.name.clone(),
                    }
                } else {
                    Copies::InPlace
                }
            }
            Some(_) if switched => {
                state.set_keeps_dest(row.id, true).map_err(st)?;
                Copies::KeptAfterSwitch {
                    into: row.dest.name.clone(),
                }
            }
            Some(t) => rename_destination(&mut sides, state, &row, t, delimiter, path).await?,
        };
        state.rename_source_folder(row.id, to, now).map_err(st)?;
        let renamed = Renamed {
            from: old.to_owned(),
            to: name.to_owned(),
            copies,
        };
        tracing::debug!(
            from = old,
            to = name,
            "folder renamed at the source followed"
        );
        out.push(renamed);
    }
    Ok(out)
}

/// Renames the destination folder `row`'s copies are in to `target`, when
/// `target` is free at the new server and on record, and its records with
/// it (the folders inside it too); otherwise says why not.
async fn rename_destination(
    sides: &mut Sides<'_>,
    state: &mut State,
    row: &FolderRecord,
    target: &MailboxName,
    delimiter: Option<char>,
    path: &Path,
) -> Result<Copies, Error> {
    let st = |e| progress_error(path, e);
    let there_now = |name: &str| sides.dest_tree.find_display(name).is_some();
    let taken = |name: &str| within(name, target.display(), delimiter);
    let on_record = state.dest_folder_names().map_err(st)?;
    let target_free = !there_now(target.display())
        && !sides
            .dest_tree
            .folders
            .iter()
            .any(|f| taken(f.name.display()))
        && !on_record.iter().any(|n| taken(n));
    let stays = || Copies::TargetExists {
        target: target.display().to_owned(),
        stays_in: row.dest.name.clone(),
    };
    if !there_now(&row.dest.name) {
        return Ok(Copies::CopiesGone {
            target: target.display().to_owned(),
            was_in: row.dest.name.clone(),
        });
    }
    if !target_free {
        return Ok(stays());
    }
    let from = MailboxName::from_wire(&row.dest.wire_name, false)
        .or_else(|_| MailboxName::from_display(&row.dest.name, false));
    let Ok(from) = from else {
        return Ok(stays());
    };
    match sides.dest.rename(from.wire(), target.wire()).await {
        Ok(()) => {}
        Err(e) if matches!(e.problem(), Problem::ServerRefused { .. }) => {
            return Ok(Copies::RenameRefused {
                target: target.display().to_owned(),
                stays_in: row.dest.name.clone(),
                said: e.detail().unwrap_or_default().to_owned(),
            });
        }
        Err(e) => return Err(e),
    }
    // The new server confirmed: the records follow, the folders inside
    // the renamed one too (RENAME took them along).
    state
        .rename_dest_folders(&from, target, delimiter)
        .map_err(st)?;
    // RENAME leaves the subscriptions behind (Dovecot keeps the old names
    // subscribed): mail apps would show folders that are not there. The
    // new names are subscribed when the folders are created.
    let old_names: Vec<&MailboxName> = sides
        .dest_tree
        .folders
        .iter()
        .filter(|f| f.subscribed && within(f.name.display(), from.display(), delimiter))
        .map(|f| &f.name)
        .collect();
    for name in old_names {
        match sides.dest.unsubscribe(name.wire()).await {
            Err(e) if !matches!(e.problem(), Problem::ServerRefused { .. }) => return Err(e),
            _ => {}
        }
    }
    Ok(Copies::Renamed {
        from: row.dest.name.clone(),
        to: target.display().to_owned(),
    })
}

/// Is `name` the destination folder a rename already in `r` produced, or
/// inside it?
fn within_renamed(r: &Renamed, name: &str, delimiter: Option<char>) -> bool {
    let Copies::Renamed { to, .. } = &r.copies else {
        return false;
    };
    within(name, to, delimiter)
}

/// Is `name` the folder `folder`, or inside it (display names)?
fn within(name: &str, folder: &str, delimiter: Option<char>) -> bool {
    name == folder
        || delimiter.is_some_and(|d| {
            name.strip_prefix(folder)
                .is_some_and(|rest| rest.starts_with(d))
        })
}

/// Records the MAILBOXID of every folder on record that has none yet and
/// is listed at the source (a folder copied for the first time), when the
/// old server offers OBJECTID. A failure here is not the copy's: it is
/// only noted, and the next run asks again.
pub(super) async fn remember_ids(
    source: &mut Session,
    state: &mut State,
    source_tree: &FolderTree,
) {
    if !source.offers_object_ids() {
        return;
    }
    let Ok(rows) = state.folders() else {
        return;
    };
    let todo: Vec<(&FolderRecord, &MailboxName)> = rows
        .iter()
        .filter(|r| r.mailbox_id.is_none())
        .filter_map(|r| Some((r, &source_tree.find_display(&r.source_name)?.name)))
        .collect();
    if todo.is_empty() {
        return;
    }
    let wires: Vec<&str> = todo.iter().map(|(_, n)| n.wire()).collect();
    match source.mailbox_ids(&wires).await {
        Ok(ids) => {
            for ((row, _), id) in todo.iter().zip(ids) {
                if let Some(id) = id {
                    if let Err(e) = state.set_mailbox_id(row.id, &id) {
                        tracing::debug!(error = %e, "folder id not recorded");
                    }
                }
            }
        }
        Err(e) => tracing::debug!(error = %e, "folder ids not read; the next run asks again"),
    }
}

/// Sends each folder that keeps its recorded destination (a rename
/// recognised after the switch) there, whatever the rules make of its
/// name.
pub(super) fn keep_recorded(map: &mut FolderMap, rows: &[FolderRecord]) {
    for row in rows.iter().filter(|r| r.keeps_dest) {
        let Some(entry) = map
            .entries
            .iter_mut()
            .find(|e| e.source.display() == row.source_name)
        else {
            continue;
        };
        let Target::Folder { name, exists, .. } = &mut entry.target else {
            continue;
        };
        if let Ok(kept) = MailboxName::from_wire(&row.dest.wire_name, false) {
            *name = kept;
            *exists = true;
        }
    }
}
