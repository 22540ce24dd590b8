//! Tests of the state store: opening, the schema, locking and damage, and the fixtures the per-table tests (one submodule each) share.

mod fates;
mod folders;
mod intents;
mod messages;
mod runs;
mod search;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::*;
use crate::folder::MailboxName;
use crate::identity::{crlf_size, Fingerprint, Summary};

const NOW: i64 = 1_710_000_000; // 2024-03-09

fn name(s: &str) -> MailboxName {
    MailboxName::from_display(s, false).unwrap()
}

fn temp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("job.mailferry");
    (dir, path)
}

fn message(folder: FolderId, uid: u32, raw: &str, internaldate: Option<i64>) -> SourceMessage {
    let size = crlf_size(raw.as_bytes());
    SourceMessage {
        key: MessageKey {
            folder,
            uidvalidity: 7,
            uid,
        },
        fingerprint: Fingerprint::of_message(raw.as_bytes(), size),
        size,
        internaldate,
        summary: Summary::of_message(raw.as_bytes()),
    }
}

fn inbox(state: &mut State) -> FolderRecord {
    state
        .upsert_folder(
            &MailboxName::inbox(),
            7,
            &MailboxName::inbox(),
            Some(100),
            NOW,
        )
        .unwrap()
}

#[test]
fn creates_the_schema_and_reopens_it() {
    let (_dir, path) = temp();
    {
        let state = State::open(&path, NOW).unwrap();
        let version: i64 = state
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let mode: String = state
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        // 2 = FULL: a commit is on disk before it returns, power loss
        // included (RELIABILITY.md R28).
        let synchronous: i64 = state
            .conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(synchronous, 2);
        assert_eq!(state.phase().unwrap(), Phase::PreCutover);
    }
    let mut state = State::open(&path, NOW + 10).unwrap();
    let f = inbox(&mut state);
    drop(state);
    let state = State::open(&path, NOW + 20).unwrap();
    assert_eq!(state.folders().unwrap(), vec![f.clone()]);
    assert_eq!(f.source_uidvalidity, 7);
    assert_eq!(f.dest.uidvalidity, Some(100));
    assert_eq!(f.highest_uid, 0);
}

#[test]
fn a_file_of_the_first_schema_is_upgraded_with_its_folders_kept() {
    let (_dir, path) = temp();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for tables in [
            super::job::V1,
            super::folders::V1,
            super::messages::V1,
            super::intents::V1,
            super::runs::V1,
        ] {
            conn.execute_batch(tables).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO job (id, phase, created_at) VALUES (1, 'pre_cutover', 1);
             INSERT INTO dest_folders (id, name, wire_name, uidvalidity) VALUES (1, 'INBOX', 'INBOX', 100);
             INSERT INTO folders (source_name, source_wire_name, source_uidvalidity, highest_uid,
                                  highest_modseq, dest_folder_id, updated_at)
                 VALUES ('INBOX', 'INBOX', 7, 12, 30, 1, 1);
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let mut state = State::open(&path, NOW).unwrap();
    let f = state.folder(&MailboxName::inbox()).unwrap().unwrap();
    assert_eq!((f.highest_uid, f.highest_modseq), (12, Some(30)));
    assert_eq!(f.dest.uidvalidity, Some(100));
    assert_eq!(f.dest.uidnext, None, "not known until a clean pass");
    state.set_dest_uidnext(f.dest.id, Some(13)).unwrap();
    assert_eq!(state.dest_folder(f.dest.id).unwrap().uidnext, Some(13));
    state.forget_dest_uids(f.dest.id, 101).unwrap();
    assert_eq!(state.dest_folder(f.dest.id).unwrap().uidnext, None);
}

#[test]
fn a_version_2_file_is_upgraded_keeping_its_rows() {
    let (_dir, path) = temp();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for tables in [
            super::job::V1,
            super::folders::V1,
            super::messages::V1,
            super::intents::V1,
            super::runs::V1,
            super::folders::V2,
        ] {
            conn.execute_batch(tables).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO job (id, phase, created_at) VALUES (1, 'post_cutover', 1);
             INSERT INTO dest_folders (id, name, wire_name, uidvalidity, uidnext)
                 VALUES (1, 'Clients', 'Clients', 100, 13);
             INSERT INTO folders (source_name, source_wire_name, source_uidvalidity, highest_uid,
                                  highest_modseq, dest_folder_id, updated_at)
                 VALUES ('Clients', 'Clients', 7, 12, 30, 1, 1);
             PRAGMA user_version = 2;",
        )
        .unwrap();
    }
    let mut state = State::open(&path, NOW).unwrap();
    let version: i64 = state
        .conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    assert_eq!(state.phase().unwrap(), Phase::PostCutover);
    let f = state.folder(&name("Clients")).unwrap().unwrap();
    assert_eq!((f.highest_uid, f.highest_modseq), (12, Some(30)));
    assert_eq!((f.dest.uidvalidity, f.dest.uidnext), (Some(100), Some(13)));
    assert_eq!(f.mailbox_id, None, "not known until recorded");
    assert!(!f.keeps_dest);
    state.set_mailbox_id(f.id, "F1a2b").unwrap();
    state.set_keeps_dest(f.id, true).unwrap();
    let f = state.folder(&name("Clients")).unwrap().unwrap();
    assert_eq!(f.mailbox_id.as_deref(), Some("F1a2b"));
    assert!(f.keeps_dest);
}

#[test]
fn a_file_from_a_newer_mailferry_is_refused() {
    let (_dir, path) = temp();
    {
        let state = State::open(&path, NOW).unwrap();
        state.conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let err = State::open(&path, NOW).unwrap_err();
    assert!(matches!(err, StateError::TooNew { found: 99, .. }), "{err}");
}

#[test]
fn no_column_could_hold_a_secret() {
    let (_dir, path) = temp();
    let state = State::open(&path, NOW).unwrap();
    let mut columns = Vec::new();
    for table in schema::TABLES {
        let mut stmt = state
            .conn
            .prepare(&format!("PRAGMA table_info({table})"))
            .unwrap();
        let names: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(1))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        columns.extend(names.into_iter().map(|c| format!("{table}.{c}")));
    }
    let tables: i64 = state
        .conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        tables as usize,
        schema::TABLES.len(),
        "every table is checked"
    );
    assert!(columns.len() > 40);
    for col in &columns {
        let lower = col.to_lowercase();
        for word in [
            "pass",
            "token",
            "secret",
            "credential",
            "auth",
            "key",
            "login",
            "user",
        ] {
            assert!(
                !lower.contains(word),
                "{col} looks like it could hold a secret"
            );
        }
    }
}

#[test]
fn a_second_open_in_the_same_process_is_refused() {
    let (_dir, path) = temp();
    let first = State::open(&path, NOW).unwrap();
    let err = State::open(&path, NOW).unwrap_err();
    assert!(err.is_busy(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("another MailFerry run is using this migration"),
        "{text}"
    );
    assert!(
        text.contains(&format!("process {}", std::process::id())),
        "{text}"
    );
    drop(first);
    State::open(&path, NOW).unwrap();
}

/// Not a test on its own: the child process for the lock tests. It opens the
/// state named by `MAILFERRY_LOCK_TEST_STATE`, says so by creating the
/// `MAILFERRY_LOCK_TEST_READY` file, and sleeps until killed.
#[test]
#[ignore = "run as a child process by lock_is_held_across_processes_and_dies_with_the_holder"]
fn lock_holder_child() {
    let (Some(state), Some(ready)) = (
        std::env::var_os("MAILFERRY_LOCK_TEST_STATE"),
        std::env::var_os("MAILFERRY_LOCK_TEST_READY"),
    ) else {
        return;
    };
    let _state = State::open(Path::new(&state), NOW).unwrap();
    std::fs::write(ready, b"ready").unwrap();
    std::thread::sleep(Duration::from_secs(120));
}

#[test]
fn lock_is_held_across_processes_and_dies_with_the_holder() {
    let (dir, path) = temp();
    let ready = dir.path().join("ready");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "state::tests::lock_holder_child",
            "--ignored",
            "--nocapture",
        ])
        .env("MAILFERRY_LOCK_TEST_STATE", &path)
        .env("MAILFERRY_LOCK_TEST_READY", &ready)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready.exists() {
        assert!(
            Instant::now() < deadline,
            "the child never opened the state"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the child exited early"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let err = State::open(&path, NOW).unwrap_err();
    assert!(err.is_busy(), "{err}");
    assert!(
        err.to_string().contains(&format!("process {}", child.id())),
        "{err}"
    );

    child.kill().unwrap(); // SIGKILL on Unix: no destructor runs in the child.
    child.wait().unwrap();
    let state = State::open(&path, NOW).expect("the OS released the lock of the killed process");
    assert_eq!(state.phase().unwrap(), Phase::PreCutover);
}

/// Fills a state file with enough rows to span many pages, then closes it.
fn filled_state(path: &Path) {
    let mut state = State::open(path, NOW).unwrap();
    let f = inbox(&mut state);
    for uid in 1..=400 {
        let raw = format!(
            "Message-ID: <{uid}@filler.example>\nSubject: filler {uid} {}\n\n",
            "x".repeat(200)
        );
        let m = message(f.id, uid, &raw, Some(NOW));
        let i = state
            .record_intent(&m, f.dest.id, &["\\Seen"], None, NOW)
            .unwrap();
        state.confirm_copy(i, Some(uid), NOW).unwrap();
    }
}

#[test]
fn a_damaged_file_is_reported_as_corrupt_and_can_be_replaced() {
    let (dir, path) = temp();
    filled_state(&path);
    assert!(
        !Path::new(&format!("{}-wal", path.display())).exists(),
        "closing checkpointed the WAL"
    );
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 40 * 4096, "many pages: {}", bytes.len());
    let middle = bytes.len() / 2 / 4096 * 4096;
    for b in &mut bytes[middle..middle + 4096] {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();

    let err = State::open(&path, NOW).unwrap_err();
    assert!(err.is_corrupt(), "{err}");
    assert!(err.to_string().contains("damaged"), "{err}");

    let mut fresh = State::replace_corrupt(&path, NOW + 1).unwrap();
    assert!(
        fresh.folders().unwrap().is_empty(),
        "a fresh state: rebuild from the destination"
    );
    inbox(&mut fresh);
    let aside = dir
        .path()
        .join(format!("job.mailferry.corrupt-{}", NOW + 1));
    assert_eq!(
        std::fs::read(aside).unwrap(),
        bytes,
        "the damaged file is kept as evidence"
    );
}

#[test]
fn a_file_that_is_not_a_database_is_corrupt() {
    let (_dir, path) = temp();
    std::fs::write(
        &path,
        b"this is not an SQLite file, just some text that is long enough to matter".repeat(100),
    )
    .unwrap();
    let err = State::open(&path, NOW).unwrap_err();
    assert!(err.is_corrupt(), "{err}");
    let (_dir2, path2) = temp();
    filled_state(&path2);
    let len = std::fs::metadata(&path2).unwrap().len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&path2)
        .unwrap();
    file.set_len(len / 3).unwrap();
    drop(file);
    let err = State::open(&path2, NOW).unwrap_err();
    assert!(err.is_corrupt(), "a truncated file is damaged too: {err}");
}

#[test]
fn an_empty_file_is_a_new_job() {
    let (_dir, path) = temp();
    std::fs::write(&path, b"").unwrap();
    let state = State::open(&path, NOW).unwrap();
    assert_eq!(state.phase().unwrap(), Phase::PreCutover);
}

#[test]
fn a_read_only_open_for_a_dry_run_changes_nothing() {
    let (_dir, path) = temp();
    assert!(
        State::open_read_only(&path).unwrap().is_none(),
        "no job yet: nothing to read"
    );
    assert!(!path.exists(), "and nothing was created");
    filled_state(&path);
    let before = std::fs::read(&path).unwrap();
    {
        let mut state = State::open_read_only(&path).unwrap().unwrap();
        let f = state.folder(&MailboxName::inbox()).unwrap().unwrap();
        assert_eq!(state.mapped_uids(f.id, 7).unwrap().len(), 400);
        assert!(
            State::open(&path, NOW).unwrap_err().is_busy(),
            "a dry run holds the job too"
        );
        assert!(
            state.set_phase(Phase::PostCutover, NOW).is_err(),
            "SQLite refuses writes"
        );
        assert!(state.start_run(true, NOW).is_err());
    }
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the state file is unchanged"
    );
    assert_eq!(
        State::open(&path, NOW).unwrap().phase().unwrap(),
        Phase::PreCutover
    );
}
