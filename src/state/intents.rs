//! The `intents` table: APPENDs started and not yet confirmed, the heart of crash safety.
//!
//! An intent is committed before the first byte of an APPEND goes out; the
//! destination's confirmation turns it into a `messages` row in one
//! transaction. An intent left over after a crash is in doubt.

use rusqlite::{params, Connection};

use super::columns::{decode_fingerprint, to_i64, to_u64, RawKey, RawSummary};
use super::fates::guard_not_at_destination;
use super::record::{flags_set, flags_text};
use super::{
    begin, classify, DestFolderId, Intent, IntentId, MessageKey, Result, RunId, SourceMessage,
    State, StateError, TxError,
};

/// The table as schema version 1 created it. Frozen: a change is a new
/// migration step in [`super::schema`], never an edit here.
pub(super) const V1: &str = r#"
-- APPENDs started and not yet confirmed. A row left here after a crash is in
-- doubt: the server may or may not have stored the message.
CREATE TABLE intents (
    id                 INTEGER PRIMARY KEY,
    folder_id          INTEGER NOT NULL REFERENCES folders(id),
    source_uidvalidity INTEGER NOT NULL,
    source_uid         INTEGER NOT NULL,
    fingerprint        TEXT    NOT NULL,
    size               INTEGER NOT NULL,
    internaldate       INTEGER,
    flags              TEXT,
    message_id         TEXT,
    from_addr          TEXT,
    subject            TEXT,
    date_header        TEXT,
    dest_folder_id     INTEGER NOT NULL REFERENCES dest_folders(id),
    run_id             INTEGER REFERENCES runs(id),
    started_at         INTEGER NOT NULL,
    UNIQUE (folder_id, source_uidvalidity, source_uid)
);
"#;

impl State {
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
}

pub(super) fn guard_no_intent(tx: &Connection, k: MessageKey) -> Result<(), TxError> {
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
