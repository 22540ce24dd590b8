//! The `dav_collections` and `dav_objects` tables: where each source address
//! book and calendar went, and each contact or event copied (by its href,
//! with its UID, the source's ETag, the SHA-256 of the bytes copied and the
//! destination's href and ETag), so a re-run copies only what is missing or
//! changed, and never a second time.
//!
//! Rows are written after the destination confirmed the write (201/204, or
//! the same bytes found there), so a crash between a PUT and its row leaves
//! nothing to undo: the next run's PUT finds the object (412) and compares.

use rusqlite::{params, OptionalExtension};

use super::{Result, State};

/// The tables as schema version 4 created them. Frozen: a change is a new
/// migration step in [`super::schema`], never an edit here.
pub(super) const V4: &str = r#"
-- Each source address book or calendar, and the destination one it goes to.
CREATE TABLE dav_collections (
    source      TEXT    PRIMARY KEY,      -- the source collection's href
    kind        TEXT    NOT NULL CHECK (kind IN ('addressbook', 'calendar')),
    dest        TEXT    NOT NULL,         -- the destination collection's href
    created     INTEGER NOT NULL          -- 1: MailFerry created it
);
-- Each contact or calendar object, and what became of it.
CREATE TABLE dav_objects (
    source_collection TEXT    NOT NULL,
    source_href       TEXT    NOT NULL,
    uid               TEXT,
    source_etag       TEXT,
    digest            TEXT,               -- SHA-256 (hex) of the bytes copied
    dest_href         TEXT,
    dest_etag         TEXT,
    fate              TEXT    NOT NULL CHECK (fate IN ('copied', 'refused')),
    reason            TEXT,               -- why not copied, in plain words
    updated_at        INTEGER NOT NULL,
    PRIMARY KEY (source_collection, source_href)
);
"#;

/// What the progress file holds of one source object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DavObjectRecord {
    /// The object's UID, when it has one.
    pub uid: Option<String>,
    /// The source's ETag when it was last read.
    pub source_etag: Option<String>,
    /// SHA-256 (hex) of the bytes copied.
    pub digest: Option<String>,
    /// Where it is at the destination.
    pub dest_href: Option<String>,
    /// The destination's ETag after the write, when the server gave one.
    pub dest_etag: Option<String>,
    /// Copied (`None`), or refused with this reason.
    pub refused: Option<String>,
    /// Copied, with what did not carry over in a conversion (to Microsoft
    /// Graph), in plain words.
    pub note: Option<String>,
}

/// A source collection's destination, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DavCollectionRecord {
    /// The destination collection's href.
    pub dest: String,
    /// Whether MailFerry created it.
    pub created: bool,
}

impl State {
    /// The destination recorded for a source collection.
    pub fn dav_collection(&self, source: &str) -> Result<Option<DavCollectionRecord>> {
        self.conn
            .query_row(
                "SELECT dest, created FROM dav_collections WHERE source = ?1",
                [source],
                |r| {
                    Ok(DavCollectionRecord {
                        dest: r.get(0)?,
                        created: r.get(1)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.sql(e))
    }

    /// Records where a source collection goes (kept on later runs).
    pub fn record_dav_collection(
        &mut self,
        source: &str,
        calendar: bool,
        dest: &str,
        created: bool,
    ) -> Result<()> {
        let kind = if calendar { "calendar" } else { "addressbook" };
        self.conn
            .execute(
                "INSERT INTO dav_collections (source, kind, dest, created) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (source) DO UPDATE SET dest = ?3, created = MAX(created, ?4)",
                params![source, kind, dest, created],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// What is recorded of one source object.
    pub fn dav_object(&self, collection: &str, href: &str) -> Result<Option<DavObjectRecord>> {
        self.conn
            .query_row(
                "SELECT uid, source_etag, digest, dest_href, dest_etag, fate, reason
                 FROM dav_objects WHERE source_collection = ?1 AND source_href = ?2",
                [collection, href],
                |r| {
                    let fate: String = r.get(5)?;
                    Ok(DavObjectRecord {
                        uid: r.get(0)?,
                        source_etag: r.get(1)?,
                        digest: r.get(2)?,
                        dest_href: r.get(3)?,
                        dest_etag: r.get(4)?,
                        refused: (fate == "refused")
                            .then(|| r.get::<_, Option<String>>(6))
                            .transpose()?
                            .map(Option::unwrap_or_default),
                        note: if fate == "refused" { None } else { r.get(6)? },
                    })
                },
            )
            .optional()
            .map_err(|e| self.sql(e))
    }

    /// Records a source object as copied (after the destination confirmed)
    /// or refused with its reason; one commit.
    pub fn record_dav_object(
        &mut self,
        collection: &str,
        href: &str,
        record: &DavObjectRecord,
        now: i64,
    ) -> Result<()> {
        let fate = if record.refused.is_some() {
            "refused"
        } else {
            "copied"
        };
        self.conn
            .execute(
                "INSERT INTO dav_objects (source_collection, source_href, uid, source_etag, digest,
                     dest_href, dest_etag, fate, reason, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (source_collection, source_href) DO UPDATE SET
                     uid = ?3, source_etag = ?4, digest = ?5, dest_href = ?6, dest_etag = ?7,
                     fate = ?8, reason = ?9, updated_at = ?10",
                params![
                    collection,
                    href,
                    record.uid,
                    record.source_etag,
                    record.digest,
                    record.dest_href,
                    record.dest_etag,
                    fate,
                    record.refused.as_ref().or(record.note.as_ref()),
                    now
                ],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Every object recorded for a source collection: (source href, record).
    pub fn dav_objects(&self, collection: &str) -> Result<Vec<(String, DavObjectRecord)>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT source_href FROM dav_objects WHERE source_collection = ?1 ORDER BY source_href",
            )
            .map_err(|e| self.sql(e))?;
        let hrefs: Vec<String> = stmt
            .query_map([collection], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.sql(e))?;
        drop(stmt);
        let mut out = Vec::with_capacity(hrefs.len());
        for href in hrefs {
            if let Some(record) = self.dav_object(collection, &href)? {
                out.push((href, record));
            }
        }
        Ok(out)
    }
}
