//! The state database's versions, and the one place that creates or upgrades its tables.
//!
//! Each table is defined in its own module, beside the SQL that reads and
//! writes it; this module decides which definitions run, in which order, for
//! which version. The schema version lives in SQLite's `user_version`. Version 0 is an empty
//! file; each later version has one migration step. No table has a column
//! that could hold a password or a token: credentials live in the OS keychain
//! only (a test checks every column name).

use rusqlite::Connection;

use super::{dav, folders, intents, job, messages, runs};

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 4;

/// Version 1: folders, destination folders, messages (the UID map and the
/// forensic log), intents (APPENDs not yet confirmed) and runs. Each table's
/// definition lives beside its accessors; this is the order they are created in.
const V1: [&str; 5] = [job::V1, folders::V1, messages::V1, intents::V1, runs::V1];

/// Version 2: the destination folders' UIDNEXT.
const V2: [&str; 1] = [folders::V2];

/// Version 3: the source folders' MAILBOXID, and the folders that keep
/// their recorded destination.
const V3: [&str; 1] = [folders::V3];

/// Version 4: contacts and calendars (address books, calendars and their
/// objects).
const V4: [&str; 1] = [dav::V4];

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
        for tables in V1 {
            tx.execute_batch(tables)?;
        }
        tx.execute(
            "INSERT INTO job (id, phase, created_at) VALUES (1, 'pre_cutover', ?1)",
            [now],
        )?;
    }
    if found < 2 {
        for change in V2 {
            tx.execute_batch(change)?;
        }
    }
    if found < 3 {
        for change in V3 {
            tx.execute_batch(change)?;
        }
    }
    if found < 4 {
        for change in V4 {
            tx.execute_batch(change)?;
        }
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(Migration::Upgraded { from: found })
}

/// The tables every current database must have.
pub(crate) const TABLES: [&str; 8] = [
    "job",
    "dav_collections",
    "dav_objects",
    "dest_folders",
    "folders",
    "messages",
    "intents",
    "runs",
];
