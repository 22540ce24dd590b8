//! The `folders` and `dest_folders` tables: each source folder, the destination folder it lands in, each side's UIDVALIDITY and how far the engine got.
//!
//! The two tables live together because a [`FolderRecord`] is always read
//! joined, and a folder and its destination are written in one transaction.

use rusqlite::{params, OptionalExtension};

use super::columns::{to_i64, to_u32, to_u64};
use super::{
    begin, classify, DestFolderId, DestFolderRecord, FolderId, FolderRecord, Result, State,
    StateError,
};
use crate::folder::MailboxName;

/// The tables as schema version 1 created them. Frozen: a change is a new
/// migration step in [`super::schema`], never an edit here.
pub(super) const V1: &str = r#"
-- Destination mailboxes. Several source folders may land in one.
CREATE TABLE dest_folders (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,  -- display form (decoded): the key
    wire_name   TEXT    NOT NULL,         -- the form last sent to the server
    uidvalidity INTEGER                   -- NULL until first selected
);

-- Source folders, each mapped to one destination folder.
CREATE TABLE folders (
    id                 INTEGER PRIMARY KEY,
    source_name        TEXT    NOT NULL UNIQUE,  -- display form (decoded): the key
    source_wire_name   TEXT    NOT NULL,
    source_uidvalidity INTEGER NOT NULL,
    highest_uid        INTEGER NOT NULL DEFAULT 0,  -- every UID up to it has a row
    highest_modseq     INTEGER,                     -- CONDSTORE, when offered
    dest_folder_id     INTEGER NOT NULL REFERENCES dest_folders(id),
    updated_at         INTEGER NOT NULL
);
"#;

/// Version 2: the destination folder's UIDNEXT as MailFerry last left it
/// after a clean pass. A folder whose UIDNEXT moved since holds mail the
/// progress file does not know of, so its message count alone can no longer
/// tell that none of the copies went missing there.
pub(super) const V2: &str = r#"
ALTER TABLE dest_folders ADD COLUMN uidnext INTEGER;  -- NULL: not known
"#;

/// Version 3: the source folder's MAILBOXID (RFC 8474), which stays the same
/// when the folder is renamed, so a folder that vanished under one name and
/// appeared under another is known to be the same folder; and whether the
/// folder keeps going to its recorded destination folder whatever the map
/// says (a rename recognised after the switch, when the new server's
/// folders are no longer renamed).
pub(super) const V3: &str = r#"
ALTER TABLE folders ADD COLUMN mailbox_id TEXT;                      -- NULL: not known
ALTER TABLE folders ADD COLUMN keeps_dest INTEGER NOT NULL DEFAULT 0; -- 1: pinned
"#;

impl State {
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
                    f.highest_modseq, d.id, d.name, d.wire_name, d.uidvalidity, d.uidnext,
                    f.mailbox_id, f.keeps_dest
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
                    r.get::<_, Option<i64>>(10)?,
                    r.get::<_, Option<String>>(11)?,
                    r.get::<_, bool>(12)?,
                ))
            })
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (
                id,
                source_name,
                source_wire_name,
                uv,
                highest,
                modseq,
                did,
                dname,
                dwire,
                duv,
                dnext,
                mailbox_id,
                keeps_dest,
            ) = row.map_err(|e| self.sql(e))?;
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
                    uidnext: dnext
                        .map(|v| to_u32(v, "dest_folders.uidnext"))
                        .transpose()?,
                },
                mailbox_id,
                keeps_dest,
            });
        }
        Ok(out)
    }

    /// The record of a destination folder.
    pub fn dest_folder(&self, id: DestFolderId) -> Result<DestFolderRecord> {
        let row = self
            .conn
            .query_row(
                "SELECT name, wire_name, uidvalidity, uidnext FROM dest_folders WHERE id = ?1",
                [id.0],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                    ))
                },
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        let (name, wire_name, uv, next) = row.ok_or(StateError::UnknownFolder(id.0))?;
        Ok(DestFolderRecord {
            id,
            name,
            wire_name,
            uidvalidity: uv
                .map(|v| to_u32(v, "dest_folders.uidvalidity"))
                .transpose()?,
            uidnext: next
                .map(|v| to_u32(v, "dest_folders.uidnext"))
                .transpose()?,
        })
    }

    /// Records the destination folder's UIDNEXT as a clean pass left it
    /// (`None`: not known, so the next run compares the folder in full).
    pub fn set_dest_uidnext(&mut self, dest: DestFolderId, uidnext: Option<u32>) -> Result<()> {
        let n = self
            .conn
            .execute(
                "UPDATE dest_folders SET uidnext = ?2 WHERE id = ?1",
                params![dest.0, uidnext],
            )
            .map_err(|e| self.sql(e))?;
        if n == 0 {
            return Err(StateError::UnknownFolder(dest.0));
        }
        Ok(())
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
                "UPDATE dest_folders SET uidvalidity = ?2, uidnext = NULL WHERE id = ?1",
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
}

/// Folders renamed between runs (RFC 8474 MAILBOXID): the records follow
/// the names.
impl State {
    /// Records a source folder's MAILBOXID (it stays the same when the
    /// folder is renamed at the source).
    pub fn set_mailbox_id(&mut self, folder: FolderId, mailbox_id: &str) -> Result<()> {
        let n = self
            .conn
            .execute(
                "UPDATE folders SET mailbox_id = ?2 WHERE id = ?1",
                params![folder.0, mailbox_id],
            )
            .map_err(|e| self.sql(e))?;
        if n == 0 {
            return Err(StateError::UnknownFolder(folder.0));
        }
        Ok(())
    }

    /// A source folder was renamed at the source: its record (progress,
    /// message rows, destination) goes on under the new name `to`, which
    /// must not be on record yet.
    pub fn rename_source_folder(
        &mut self,
        folder: FolderId,
        to: &MailboxName,
        now: i64,
    ) -> Result<FolderRecord> {
        let n = self
            .conn
            .execute(
                "UPDATE folders SET source_name = ?2, source_wire_name = ?3, updated_at = ?4
                 WHERE id = ?1",
                params![folder.0, to.display(), to.wire(), now],
            )
            .map_err(|e| self.sql(e))?;
        if n == 0 {
            return Err(StateError::UnknownFolder(folder.0));
        }
        tracing::debug!(
            folder = folder.0,
            to = to.display(),
            "source folder renamed"
        );
        self.folder_by_id(folder)
    }

    /// Whether a source folder keeps going to the destination folder on
    /// record whatever the folder map says (see [`FolderRecord::keeps_dest`]).
    pub fn set_keeps_dest(&mut self, folder: FolderId, keeps: bool) -> Result<()> {
        let n = self
            .conn
            .execute(
                "UPDATE folders SET keeps_dest = ?2 WHERE id = ?1",
                params![folder.0, keeps],
            )
            .map_err(|e| self.sql(e))?;
        if n == 0 {
            return Err(StateError::UnknownFolder(folder.0));
        }
        Ok(())
    }

    /// Every destination folder on record, by its display name.
    pub fn dest_folder_names(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name FROM dest_folders ORDER BY name")
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.sql(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.sql(e))
    }

    /// The destination folder `from` was renamed `to` at the destination;
    /// the folders inside it (named `from` + `delimiter` + …) went with it,
    /// as IMAP RENAME moves them. Their records take the new names, in one
    /// transaction. Returns how many records changed.
    ///
    /// # Errors
    /// [`StateError::Sqlite`], among others for a new name that is
    /// already on record (the caller checks [`State::dest_folder_names`]
    /// first).
    pub fn rename_dest_folders(
        &mut self,
        from: &MailboxName,
        to: &MailboxName,
        delimiter: Option<char>,
    ) -> Result<usize> {
        let path = self.path.clone();
        let tx = begin(&mut self.conn, &path)?;
        let sql = |e| classify(&path, e);
        let rows: Vec<(i64, String, String)> = {
            let mut stmt = tx
                .prepare("SELECT id, name, wire_name FROM dest_folders")
                .map_err(sql)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(sql)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql)?
        };
        let mut changed = 0;
        for (id, name, wire) in rows {
            let Some((rest, wire_rest)) = inside(&name, &wire, from, delimiter) else {
                continue;
            };
            tx.execute(
                "UPDATE dest_folders SET name = ?2, wire_name = ?3 WHERE id = ?1",
                params![
                    id,
                    format!("{}{rest}", to.display()),
                    format!("{}{wire_rest}", to.wire())
                ],
            )
            .map_err(sql)?;
            changed += 1;
        }
        tx.commit().map_err(sql)?;
        tracing::debug!(
            from = from.display(),
            to = to.display(),
            changed,
            "destination folders renamed"
        );
        Ok(changed)
    }
}

/// When the folder named `name` (wire form `wire`) is `folder` or inside
/// it, what follows `folder`'s name in each form ("" for the folder itself,
/// "/x" for a folder inside it).
fn inside<'n>(
    name: &'n str,
    wire: &'n str,
    folder: &MailboxName,
    delimiter: Option<char>,
) -> Option<(&'n str, &'n str)> {
    if name == folder.display() {
        return Some(("", ""));
    }
    let d = delimiter?;
    let rest = name.strip_prefix(folder.display())?;
    let wire_rest = wire.strip_prefix(folder.wire())?;
    (rest.starts_with(d) && wire_rest.starts_with(d)).then_some((rest, wire_rest))
}
