//! The `messages` table read as the map: which source message is where at the destination, and which flags MailFerry last wrote there.
//!
//! A row is written by [`State::confirm_copy`] (in `intents`) or by the fate
//! writers in `fates`; this module reads rows, re-pairs them after a
//! UIDVALIDITY change and keeps their destination UID and flags current.

use std::collections::BTreeSet;

use rusqlite::params;

use super::columns::{decode_fingerprint, to_u32, to_u64, RawKey};
use super::fates::RawFate;
use super::record::{flags_set, flags_text};
use super::{
    begin, classify, DestFolderId, FolderId, MessageKey, MessageRecord, Result, State, StateError,
};
use crate::identity::{Fingerprint, Multiset};

/// The table and its indexes as schema version 1 created them. Frozen: a
/// change is a new migration step in [`super::schema`], never an edit here.
pub(super) const V1: &str = r#"
-- One row per source message MailFerry decided about: its fate, where it is
-- at the destination, and what the forensic log shows. Written only after
-- the destination confirmed (or for fates that involve no destination).
CREATE TABLE messages (
    id                 INTEGER PRIMARY KEY,
    folder_id          INTEGER NOT NULL REFERENCES folders(id),
    source_uidvalidity INTEGER NOT NULL,
    source_uid         INTEGER NOT NULL,
    dest_folder_id     INTEGER REFERENCES dest_folders(id),
    dest_uid           INTEGER,              -- NULL when not known (no UIDPLUS)
    fingerprint        TEXT    NOT NULL,     -- identity::Fingerprint storage form
    size               INTEGER NOT NULL,     -- RFC822.SIZE at the source
    internaldate       INTEGER,              -- unix seconds (UTC instant)
    flags              TEXT,                 -- flags last written to the destination
    fate               TEXT    NOT NULL CHECK (fate IN
                           ('copied', 'already_there', 'excluded', 'skipped', 'failed', 'removed')),
    reason             TEXT,                 -- excluded: the rule; skipped/failed: a code
    server_text        TEXT,                 -- failed: the server's own words
    attempts           INTEGER NOT NULL DEFAULT 0,
    message_id         TEXT,
    from_addr          TEXT,
    subject            TEXT,
    date_header        TEXT,
    updated_at         INTEGER NOT NULL,
    UNIQUE (folder_id, source_uidvalidity, source_uid)
);
CREATE INDEX messages_by_dest_fingerprint ON messages (dest_folder_id, fingerprint);
CREATE INDEX messages_by_fate ON messages (fate);
"#;

impl State {
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

    /// The highest destination UID on record in a destination folder, from
    /// every source folder that lands there.
    pub fn highest_dest_uid(&self, dest: DestFolderId) -> Result<Option<u32>> {
        let uid: Option<i64> = self
            .conn
            .query_row(
                "SELECT MAX(dest_uid) FROM messages WHERE dest_folder_id = ?1",
                [dest.0],
                |r| r.get(0),
            )
            .map_err(|e| self.sql(e))?;
        uid.map(|u| to_u32(u, "messages.dest_uid")).transpose()
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
}

pub(super) fn unknown_message(k: MessageKey) -> StateError {
    StateError::UnknownMessage {
        folder: k.folder.0,
        uidvalidity: k.uidvalidity,
        uid: k.uid,
    }
}
