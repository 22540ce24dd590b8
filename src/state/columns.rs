//! Converting between SQLite's column values and the store's types: signed 64-bit integers, fingerprint text, the key and summary column groups.

use rusqlite::Row;

use super::{FolderId, MessageKey, Result, StateError};
use crate::identity::{Fingerprint, Summary};

pub(super) fn to_u32(v: i64, what: &'static str) -> Result<u32> {
    u32::try_from(v).map_err(|_| StateError::Decode {
        what,
        value: v.to_string(),
    })
}

pub(super) fn to_u64(v: i64, what: &'static str) -> Result<u64> {
    u64::try_from(v).map_err(|_| StateError::Decode {
        what,
        value: v.to_string(),
    })
}

/// SQLite integers are signed 64-bit; sizes and MODSEQs beyond that are refused.
pub(super) fn to_i64(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| StateError::Decode {
        what: "a number to store",
        value: v.to_string(),
    })
}

pub(super) fn decode_fingerprint(text: String) -> Result<Fingerprint> {
    text.parse().map_err(|_| StateError::Decode {
        what: "fingerprint",
        value: text,
    })
}

pub(super) struct RawKey(i64, i64, i64);

impl RawKey {
    pub(super) fn read(r: &Row<'_>, at: usize) -> rusqlite::Result<RawKey> {
        Ok(RawKey(r.get(at)?, r.get(at + 1)?, r.get(at + 2)?))
    }

    pub(super) fn decode(self) -> Result<MessageKey> {
        Ok(MessageKey {
            folder: FolderId(self.0),
            uidvalidity: to_u32(self.1, "source_uidvalidity")?,
            uid: to_u32(self.2, "source_uid")?,
        })
    }
}

pub(super) struct RawSummary([Option<String>; 4]);

impl RawSummary {
    pub(super) fn read(r: &Row<'_>, at: usize) -> rusqlite::Result<RawSummary> {
        Ok(RawSummary([
            r.get(at)?,
            r.get(at + 1)?,
            r.get(at + 2)?,
            r.get(at + 3)?,
        ]))
    }
}

impl From<RawSummary> for Summary {
    fn from(RawSummary([message_id, from, subject, date]): RawSummary) -> Summary {
        Summary {
            message_id,
            from,
            subject,
            date,
        }
    }
}
