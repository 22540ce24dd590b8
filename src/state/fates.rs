//! What became of each source message that was not (or no longer is) a fresh copy: already there, excluded, skipped, failed, removed — written into the `messages` table.
//!
//! The table itself is defined in `messages`; this module holds the writes
//! of a fate and the decoding of the fate columns, which the map and the
//! log search share.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::columns::{to_i64, to_u32};
use super::intents::guard_no_intent;
use super::messages::unknown_message;
use super::{
    begin, classify, DestFolderId, FailReason, Fate, MessageKey, NotCopied, Result, SkipReason,
    SourceMessage, State, StateError, TxError,
};

impl State {
    /// The destination already holds this message (found by fingerprint, e.g.
    /// copied by another tool or before the state was lost): pair it, no copy.
    /// `dest_uid` when known. No flags are recorded as written by MailFerry.
    ///
    /// # Errors
    /// [`StateError::AlreadyAtDestination`] if it is already paired;
    /// [`StateError::IntentInDoubt`] if an APPEND of it is in doubt (settle that first).
    pub fn record_already_there(
        &mut self,
        message: &SourceMessage,
        dest: DestFolderId,
        dest_uid: Option<u32>,
        now: i64,
    ) -> Result<()> {
        let path = self.path.clone();
        let tx = begin(&mut self.conn, &path)?;
        let k = message.key;
        guard_not_at_destination(&tx, k).map_err(|e| e.with_path(&path))?;
        guard_no_intent(&tx, k).map_err(|e| e.with_path(&path))?;
        upsert_message(
            &tx,
            message,
            Some(dest),
            dest_uid,
            "already_there",
            None,
            None,
            0,
            now,
        )
        .map_err(|e| e.with_path(&path))?;
        tx.commit().map_err(|e| classify(&path, e))?;
        Ok(())
    }

    /// Records a fate that involves no copy: excluded, skipped, or failed
    /// (which counts one more attempt). Removes any intent for the message
    /// (an APPEND that got a definite NO) in the same transaction. Returns
    /// the fate as stored, with the attempt count.
    ///
    /// # Errors
    /// [`StateError::AlreadyAtDestination`] if the message is recorded as
    /// there (a copied message does not become "skipped").
    pub fn record_fate(
        &mut self,
        message: &SourceMessage,
        fate: NotCopied,
        now: i64,
    ) -> Result<Fate> {
        let path = self.path.clone();
        let tx = begin(&mut self.conn, &path)?;
        let sql = |e| classify(&path, e);
        let k = message.key;
        guard_not_at_destination(&tx, k).map_err(|e| e.with_path(&path))?;
        tx.execute(
            "DELETE FROM intents WHERE folder_id = ?1 AND source_uidvalidity = ?2 AND source_uid = ?3",
            params![k.folder.0, k.uidvalidity, k.uid],
        )
        .map_err(sql)?;
        let stored = match fate {
            NotCopied::Excluded { rule } => {
                upsert_message(
                    &tx,
                    message,
                    None,
                    None,
                    "excluded",
                    Some(&rule),
                    None,
                    0,
                    now,
                )
                .map_err(|e| e.with_path(&path))?;
                Fate::Excluded { rule }
            }
            NotCopied::Skipped(reason) => {
                upsert_message(
                    &tx,
                    message,
                    None,
                    None,
                    "skipped",
                    Some(reason.code()),
                    None,
                    0,
                    now,
                )
                .map_err(|e| e.with_path(&path))?;
                Fate::Skipped { reason }
            }
            NotCopied::Failed {
                reason,
                server_text,
            } => {
                let before: Option<i64> = tx
                    .query_row(
                        "SELECT attempts FROM messages WHERE folder_id = ?1
                             AND source_uidvalidity = ?2 AND source_uid = ?3 AND fate = 'failed'",
                        params![k.folder.0, k.uidvalidity, k.uid],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(sql)?;
                let attempts = to_u32(before.unwrap_or(0), "messages.attempts")?.saturating_add(1);
                upsert_message(
                    &tx,
                    message,
                    None,
                    None,
                    "failed",
                    Some(reason.code()),
                    server_text.as_deref(),
                    attempts,
                    now,
                )
                .map_err(|e| e.with_path(&path))?;
                Fate::Failed {
                    reason,
                    server_text,
                    attempts,
                }
            }
        };
        tx.commit().map_err(sql)?;
        Ok(stored)
    }

    /// A copied message was removed at the destination (deletion mirroring,
    /// after the destination confirmed the EXPUNGE).
    pub fn record_removed(&mut self, key: MessageKey, now: i64) -> Result<()> {
        let n = self
            .conn
            .execute(
                "UPDATE messages SET fate = 'removed', dest_uid = NULL, updated_at = ?4
                 WHERE folder_id = ?1 AND source_uidvalidity = ?2 AND source_uid = ?3",
                params![key.folder.0, key.uidvalidity, key.uid, now],
            )
            .map_err(|e| self.sql(e))?;
        if n == 0 {
            return Err(unknown_message(key));
        }
        Ok(())
    }

    /// Forgets a message row entirely: it was found missing at the
    /// destination and must be copied again.
    pub fn forget_message(&mut self, key: MessageKey) -> Result<()> {
        let n = self
            .conn
            .execute(
                "DELETE FROM messages
                 WHERE folder_id = ?1 AND source_uidvalidity = ?2 AND source_uid = ?3",
                params![key.folder.0, key.uidvalidity, key.uid],
            )
            .map_err(|e| self.sql(e))?;
        if n == 0 {
            return Err(unknown_message(key));
        }
        Ok(())
    }
}

pub(super) fn guard_not_at_destination(tx: &Connection, k: MessageKey) -> Result<(), TxError> {
    let there: bool = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE folder_id = ?1 AND source_uidvalidity = ?2
                 AND source_uid = ?3 AND fate IN ('copied', 'already_there'))",
        )?
        .query_row(params![k.folder.0, k.uidvalidity, k.uid], |r| r.get(0))?;
    if there {
        return Err(StateError::AlreadyAtDestination { uid: k.uid }.into());
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)] // One row's columns; a struct would only rename them.
fn upsert_message(
    tx: &Connection,
    m: &SourceMessage,
    dest: Option<DestFolderId>,
    dest_uid: Option<u32>,
    fate: &str,
    reason: Option<&str>,
    server_text: Option<&str>,
    attempts: u32,
    now: i64,
) -> Result<(), TxError> {
    let k = m.key;
    let s = &m.summary;
    tx.execute(
        "INSERT INTO messages (folder_id, source_uidvalidity, source_uid, dest_folder_id, dest_uid,
             fingerprint, size, internaldate, fate, reason, server_text, attempts, message_id,
             from_addr, subject, date_header, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
         ON CONFLICT (folder_id, source_uidvalidity, source_uid) DO UPDATE SET
             dest_folder_id = excluded.dest_folder_id, dest_uid = excluded.dest_uid,
             fingerprint = excluded.fingerprint, size = excluded.size,
             internaldate = excluded.internaldate, fate = excluded.fate,
             reason = excluded.reason, server_text = excluded.server_text,
             attempts = excluded.attempts, message_id = excluded.message_id,
             from_addr = excluded.from_addr, subject = excluded.subject,
             date_header = excluded.date_header, updated_at = excluded.updated_at",
        params![
            k.folder.0,
            k.uidvalidity,
            k.uid,
            dest.map(|d| d.0),
            dest_uid,
            m.fingerprint.to_string(),
            to_i64(m.size)?,
            m.internaldate,
            fate,
            reason,
            server_text,
            attempts,
            s.message_id,
            s.from,
            s.subject,
            s.date,
            now
        ],
    )?;
    Ok(())
}

pub(super) struct RawFate {
    fate: String,
    reason: Option<String>,
    server_text: Option<String>,
    attempts: i64,
}

impl RawFate {
    pub(super) fn read(r: &Row<'_>, at: usize) -> rusqlite::Result<RawFate> {
        Ok(RawFate {
            fate: r.get(at)?,
            reason: r.get(at + 1)?,
            server_text: r.get(at + 2)?,
            attempts: r.get(at + 3)?,
        })
    }

    pub(super) fn decode(self) -> Result<Fate> {
        let bad = |what, value: &str| StateError::Decode {
            what,
            value: value.to_owned(),
        };
        let reason = self.reason.unwrap_or_default();
        Ok(match self.fate.as_str() {
            "copied" => Fate::Copied,
            "already_there" => Fate::AlreadyThere,
            "removed" => Fate::Removed,
            "excluded" => Fate::Excluded { rule: reason },
            "skipped" => Fate::Skipped {
                reason: SkipReason::from_code(&reason)
                    .ok_or_else(|| bad("messages.reason", &reason))?,
            },
            "failed" => Fate::Failed {
                reason: FailReason::from_code(&reason)
                    .ok_or_else(|| bad("messages.reason", &reason))?,
                server_text: self.server_text,
                attempts: to_u32(self.attempts, "messages.attempts")?,
            },
            other => return Err(bad("messages.fate", other)),
        })
    }
}
