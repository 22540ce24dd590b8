//! The state database's tables, and the one place that creates or upgrades them.
//!
//! The schema version lives in SQLite's `user_version`. Version 0 is an empty
//! file; each later version has one migration step. No table has a column
//! that could hold a password or a token: credentials live in the OS keychain
//! only (a test checks every column name).

use rusqlite::Connection;

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 1;

/// Version 1: folders, destination folders, messages (the UID map and the
/// forensic log), intents (APPENDs not yet confirmed) and runs.
const V1: &str = r#"
-- One row per migration job: which phase it is in.
CREATE TABLE job (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    phase            TEXT    NOT NULL CHECK (phase IN ('pre_cutover', 'post_cutover')),
    created_at       INTEGER NOT NULL,
    phase_changed_at INTEGER
);

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

-- Each run of the engine on this job.
CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    started_at    INTEGER NOT NULL,
    finished_at   INTEGER,                -- NULL: still running, or interrupted
    phase         TEXT    NOT NULL CHECK (phase IN ('pre_cutover', 'post_cutover')),
    dry           INTEGER NOT NULL,
    outcome       TEXT,
    copied        INTEGER NOT NULL DEFAULT 0,
    already_there INTEGER NOT NULL DEFAULT 0,
    excluded      INTEGER NOT NULL DEFAULT 0,
    skipped       INTEGER NOT NULL DEFAULT 0,
    failed        INTEGER NOT NULL DEFAULT 0,
    removed       INTEGER NOT NULL DEFAULT 0,
    flags_updated INTEGER NOT NULL DEFAULT 0,
    bytes_copied  INTEGER NOT NULL DEFAULT 0
);
"#;

/// What [`migrate`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Migration {
    /// The schema was already current.
    Current,
    /// The tables were created or upgraded from this version.
    Upgraded {
        /// The version found in the file.
        from: i64,
    },
    /// The file is from a newer MailFerry.
    TooNew {
        /// The version found in the file.
        found: i64,
    },
}

/// Brings the schema to [`SCHEMA_VERSION`], in one transaction.
pub(crate) fn migrate(conn: &mut Connection, now: i64) -> rusqlite::Result<Migration> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found == SCHEMA_VERSION {
        return Ok(Migration::Current);
    }
    if found > SCHEMA_VERSION {
        return Ok(Migration::TooNew { found });
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)?;
    if found < 1 {
        tx.execute_batch(V1)?;
        tx.execute(
            "INSERT INTO job (id, phase, created_at) VALUES (1, 'pre_cutover', ?1)",
            [now],
        )?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(Migration::Upgraded { from: found })
}

/// The tables every current database must have.
pub(crate) const TABLES: [&str; 6] = [
    "job",
    "dest_folders",
    "folders",
    "messages",
    "intents",
    "runs",
];
