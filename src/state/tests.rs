//! Tests of the state store: schema, the intent → confirm cycle, crash recovery, locking, corruption, search.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::*;
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
fn upsert_folder_keeps_uidvalidity_and_follows_the_mapping() {
    let (_dir, path) = temp();
    let mut state = State::open(&path, NOW).unwrap();
    let a = state
        .upsert_folder(&name("Sent"), 5, &name("Sent Items"), None, NOW)
        .unwrap();
    assert_eq!(a.dest.uidvalidity, None);
    let b = state
        .upsert_folder(&name("Sent"), 6, &name("Archive"), Some(9), NOW)
        .unwrap();
    assert_eq!(a.id, b.id);
    assert_eq!(
        b.source_uidvalidity, 5,
        "a UIDVALIDITY change goes through forget_folder_uids"
    );
    assert_eq!(b.dest.name, "Archive");
    let c = state
        .upsert_folder(&name("Sent"), 5, &name("Archive"), Some(10), NOW)
        .unwrap();
    assert_eq!(
        c.dest.uidvalidity,
        Some(9),
        "a destination UIDVALIDITY change goes through forget_dest_uids"
    );
    assert_eq!(state.folder(&name("Sent")).unwrap(), Some(c));
    assert_eq!(state.folder(&name("Nope")).unwrap(), None);

    state
        .set_folder_progress(a.id, 40, Some(1000), NOW)
        .unwrap();
    state.set_folder_progress(a.id, 30, None, NOW).unwrap();
    let f = state.folder_by_id(a.id).unwrap();
    assert_eq!(
        (f.highest_uid, f.highest_modseq),
        (40, Some(1000)),
        "progress never moves back"
    );
}

#[test]
fn intent_then_confirm_writes_the_row_and_clears_the_intent() {
    let (_dir, path) = temp();
    let mut state = State::open(&path, NOW).unwrap();
    let f = inbox(&mut state);
    let m = message(
        f.id,
        3,
        "Message-ID: <a@x>\nFrom: bob@x\n\nhi\n",
        Some(NOW - 100),
    );
    let intent = state
        .record_intent(
            &m,
            f.dest.id,
            &["\\Seen", "$Label", "\\Recent", "\\Seen"],
            None,
            NOW,
        )
        .unwrap();
    assert_eq!(
        state.message(m.key).unwrap(),
        None,
        "no message row before the destination confirmed"
    );
    assert!(state.mapped_uids(f.id, 7).unwrap().is_empty());
    state.confirm_copy(intent, Some(55), NOW + 1).unwrap();
    assert!(state.in_doubt_intents().unwrap().is_empty());
    let row = state.message(m.key).unwrap().unwrap();
    assert_eq!(row.fate, Fate::Copied);
    assert_eq!(row.dest_uid, Some(55));
    assert_eq!(row.dest_folder, Some(f.dest.id));
    assert_eq!(row.fingerprint, m.fingerprint);
    assert_eq!(row.size, m.size);
    assert_eq!(row.internaldate, Some(NOW - 100));
    let flags: Vec<&str> = row
        .flags
        .as_ref()
        .unwrap()
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(
        flags,
        ["$Label", "\\Seen"],
        "sorted, deduplicated, never \\Recent"
    );
    assert_eq!(
        state
            .mapped_uids(f.id, 7)
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        [3]
    );
    assert!(
        state.mapped_uids(f.id, 8).unwrap().is_empty(),
        "UIDs mean nothing under another UIDVALIDITY"
    );
    assert!(matches!(
        state.confirm_copy(intent, Some(55), NOW),
        Err(StateError::UnknownIntent(_))
    ));
    let again = state.record_intent(&m, f.dest.id, &[] as &[&str], None, NOW);
    assert!(
        matches!(again, Err(StateError::AlreadyAtDestination { uid: 3 })),
        "a copied message is never sent again"
    );
}

#[test]
fn an_unconfirmed_intent_is_in_doubt_after_a_crash() {
    let (_dir, path) = temp();
    let m;
    let dest;
    {
        let mut state = State::open(&path, NOW).unwrap();
        let f = inbox(&mut state);
        dest = f.dest.id;
        let run = state.start_run(false, NOW).unwrap();
        m = message(
            f.id,
            9,
            "Subject: =?UTF-8?Q?caf=C3=A9?=\nFrom: amy@x\n\nbody\n",
            Some(NOW),
        );
        state
            .record_intent(&m, dest, &["\\Flagged"], Some(run), NOW)
            .unwrap();
        // The process dies here: no confirm_copy, the State is just dropped.
    }
    let mut state = State::open(&path, NOW + 60).unwrap();
    let doubt = state.in_doubt_intents().unwrap();
    assert_eq!(doubt.len(), 1);
    let i = &doubt[0];
    assert_eq!(
        i.message, m,
        "everything needed to look the message up is kept"
    );
    assert_eq!(i.dest_folder, dest);
    assert_eq!(i.flags.iter().collect::<Vec<_>>(), ["\\Flagged"]);
    assert_eq!(i.started_at, NOW);
    assert!(i.run.is_some());
    assert!(matches!(
        state.record_intent(&m, dest, &[] as &[&str], None, NOW),
        Err(StateError::IntentInDoubt { uid: 9 })
    ));
    assert!(matches!(
        state.record_already_there(&m, dest, Some(1), NOW),
        Err(StateError::IntentInDoubt { uid: 9 })
    ));

    // Not found at the destination: discard, then send again.
    state.discard_intent(i.id).unwrap();
    assert!(state.in_doubt_intents().unwrap().is_empty());
    let retry = state
        .record_intent(&m, dest, &["\\Flagged"], None, NOW + 61)
        .unwrap();
    drop(state);

    // Crash again; this time the reconciliation finds it (APPENDUID 12).
    let mut state = State::open(&path, NOW + 120).unwrap();
    let doubt = state.in_doubt_intents().unwrap();
    assert_eq!(doubt.iter().map(|i| i.id).collect::<Vec<_>>(), [retry]);
    state.confirm_copy(retry, Some(12), NOW + 121).unwrap();
    assert_eq!(state.message(m.key).unwrap().unwrap().fate, Fate::Copied);
    assert!(state.in_doubt_intents().unwrap().is_empty());
}

#[test]
fn failures_count_attempts_and_a_definite_no_clears_the_intent() {
    let (_dir, path) = temp();
    let mut state = State::open(&path, NOW).unwrap();
    let f = inbox(&mut state);
    let m = message(f.id, 4, "From: a@b\n\n\0nul\n", None);
    for expected in 1..=3 {
        let intent = state
            .record_intent(&m, f.dest.id, &[] as &[&str], None, NOW)
            .unwrap();
        let fate = state
            .record_fate(
                &m,
                NotCopied::Failed {
                    reason: FailReason::Rejected,
                    server_text: Some("NO Message contains NUL characters".into()),
                },
                NOW,
            )
            .unwrap();
        assert!(matches!(fate, Fate::Failed { attempts, .. } if attempts == expected));
        assert!(
            state.in_doubt_intents().unwrap().is_empty(),
            "the NO settled intent {intent:?}"
        );
    }
    assert!(state.exhausted_uids(f.id, 7, 4).unwrap().is_empty());
    assert_eq!(
        state
            .exhausted_uids(f.id, 7, 3)
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        [4]
    );
    let row = state.message(m.key).unwrap().unwrap();
    assert_eq!(
        row.fate,
        Fate::Failed {
            reason: FailReason::Rejected,
            server_text: Some("NO Message contains NUL characters".into()),
            attempts: 3
        }
    );

    // Skips and exclusions reset the count; a later success overwrites the failure.
    let fate = state
        .record_fate(&m, NotCopied::Skipped(SkipReason::TooBig), NOW)
        .unwrap();
    assert_eq!(
        fate,
        Fate::Skipped {
            reason: SkipReason::TooBig
        }
    );
    let fate = state
        .record_fate(
            &m,
            NotCopied::Excluded {
                rule: "--exclude Junk".into(),
            },
            NOW,
        )
        .unwrap();
    assert_eq!(
        fate,
        Fate::Excluded {
            rule: "--exclude Junk".into()
        }
    );
    let intent = state
        .record_intent(&m, f.dest.id, &[] as &[&str], None, NOW)
        .unwrap();
    state.confirm_copy(intent, None, NOW).unwrap();
    let row = state.message(m.key).unwrap().unwrap();
    assert_eq!((row.fate, row.dest_uid), (Fate::Copied, None));
    assert!(matches!(
        state.record_fate(&m, NotCopied::Skipped(SkipReason::DeletedAtSource), NOW),
        Err(StateError::AlreadyAtDestination { .. })
    ));
}

#[test]
fn already_there_removed_and_forgotten_messages() {
    let (_dir, path) = temp();
    let mut state = State::open(&path, NOW).unwrap();
    let f = inbox(&mut state);
    let m = message(f.id, 1, "Message-ID: <pre@x>\n\n", None);
    state
        .record_already_there(&m, f.dest.id, Some(3), NOW)
        .unwrap();
    let row = state.message(m.key).unwrap().unwrap();
    assert_eq!(row.fate, Fate::AlreadyThere);
    assert_eq!(
        row.flags, None,
        "MailFerry wrote no flags on a message it did not copy"
    );
    assert!(state
        .record_already_there(&m, f.dest.id, Some(3), NOW)
        .is_err());
    state.record_removed(m.key, NOW).unwrap();
    assert_eq!(state.message(m.key).unwrap().unwrap().fate, Fate::Removed);
    assert!(state.mapped_uids(f.id, 7).unwrap().is_empty());
    state.forget_message(m.key).unwrap();
    assert_eq!(state.message(m.key).unwrap(), None);
    assert!(state.forget_message(m.key).is_err());
}

#[test]
fn flags_last_written_are_kept_per_message() {
    let (_dir, path) = temp();
    let mut state = State::open(&path, NOW).unwrap();
    let f = inbox(&mut state);
    let m = message(f.id, 2, "Message-ID: <f@x>\n\n", None);
    let i = state
        .record_intent(&m, f.dest.id, &["\\Seen"], None, NOW)
        .unwrap();
    state.confirm_copy(i, Some(2), NOW).unwrap();
    state
        .set_synced_flags(m.key, &["\\Seen", "\\Answered"], NOW)
        .unwrap();
    let rows = state.messages_in_folder(f.id, 7).unwrap();
    let flags: Vec<&str> = rows[0]
        .flags
        .as_ref()
        .unwrap()
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(flags, ["\\Answered", "\\Seen"]);
    state.set_synced_flags(m.key, &[] as &[&str], NOW).unwrap();
    assert_eq!(
        state.message(m.key).unwrap().unwrap().flags,
        Some(Default::default())
    );
}

#[test]
fn flags_of_many_messages_are_written_together_or_not_at_all() {
    let (_dir, path) = temp();
    let mut state = State::open(&path, NOW).unwrap();
    let f = inbox(&mut state);
    let a = message(f.id, 1, "Message-ID: <a@x>\n\n", None);
    let b = message(f.id, 2, "Message-ID: <b@x>\n\n", None);
    for m in [&a, &b] {
        let i = state
            .record_intent(m, f.dest.id, &["\\Seen"], None, NOW)
            .unwrap();
        state.confirm_copy(i, Some(m.key.uid), NOW).unwrap();
    }
    state
        .set_synced_flags_all(
            &[(a.key, vec!["\\Flagged".to_owned()]), (b.key, Vec::new())],
            NOW,
        )
        .unwrap();
    let flags = |k| state.message(k).unwrap().unwrap().flags.unwrap();
    assert_eq!(flags(a.key).into_iter().collect::<Vec<_>>(), ["\\Flagged"]);
    assert!(flags(b.key).is_empty());
    // An unknown message in the list: nothing of the list is written.
    let unknown = MessageKey { uid: 99, ..a.key };
    assert!(state
        .set_synced_flags_all(
            &[(a.key, vec!["\\Seen".to_owned()]), (unknown, Vec::new())],
            NOW
        )
        .is_err());
    let flags = |k| state.message(k).unwrap().unwrap().flags.unwrap();
    assert_eq!(flags(a.key).into_iter().collect::<Vec<_>>(), ["\\Flagged"]);
}

#[test]
fn fates_are_counted_without_reading_rows() {
    let (_dir, path) = temp();
    let mut state = State::open(&path, NOW).unwrap();
    let f = inbox(&mut state);
    assert_eq!(state.fate_counts(f.id, 7).unwrap(), (0, 0, 0));
    let copied = message(f.id, 1, "Message-ID: <c@x>\n\n", None);
    let i = state
        .record_intent(&copied, f.dest.id, &[] as &[&str], None, NOW)
        .unwrap();
    state.confirm_copy(i, Some(1), NOW).unwrap();
    let there = message(f.id, 2, "Message-ID: <t@x>\n\n", None);
    state
        .record_already_there(&there, f.dest.id, Some(2), NOW)
        .unwrap();
    let gone = message(f.id, 3, "Message-ID: <g@x>\n\n", None);
    state
        .record_already_there(&gone, f.dest.id, Some(3), NOW)
        .unwrap();
    state.record_removed(gone.key, NOW).unwrap();
    let labelled = message(f.id, 4, "Message-ID: <l@x>\n\n", None);
    state
        .record_fate(
            &labelled,
            NotCopied::Excluded {
                rule: "label".to_owned(),
            },
            NOW,
        )
        .unwrap();
    assert_eq!(state.fate_counts(f.id, 7).unwrap(), (3, 2, 1));
    assert_eq!(
        state.fate_counts(f.id, 8).unwrap(),
        (0, 0, 0),
        "another UIDVALIDITY"
    );
}

#[test]
fn uidvalidity_changes_keep_fingerprints_to_re_pair() {
    let (_dir, path) = temp();
    let mut state = State::open(&path, NOW).unwrap();
    let f = inbox(&mut state);
    let raws = [
        "Message-ID: <1@x>\n\n",
        "Message-ID: <2@x>\n\n",
        "Message-ID: <1@x>\n\n",
    ];
    for (uid, raw) in (1..).zip(raws) {
        let m = message(f.id, uid, raw, None);
        let i = state
            .record_intent(&m, f.dest.id, &[] as &[&str], None, NOW)
            .unwrap();
        state.confirm_copy(i, Some(uid + 100), NOW).unwrap();
    }
    state.set_folder_progress(f.id, 3, Some(77), NOW).unwrap();
    let dest = state.dest_fingerprints(f.dest.id).unwrap();
    assert_eq!(dest.len(), 3);
    assert_eq!(
        dest.count(&message(f.id, 0, raws[0], None).fingerprint),
        2,
        "genuine copies stay two"
    );

    // Source folder recreated: UIDVALIDITY 7 → 8.
    assert_eq!(state.forget_folder_uids(f.id, 8, NOW).unwrap(), 3);
    let folder = state.folder_by_id(f.id).unwrap();
    assert_eq!(
        (
            folder.source_uidvalidity,
            folder.highest_uid,
            folder.highest_modseq
        ),
        (8, 0, None)
    );
    assert!(state.mapped_uids(f.id, 8).unwrap().is_empty());
    let stale = state.stale_messages(f.id).unwrap();
    assert_eq!(stale.len(), 3);
    assert_eq!(
        state.dest_fingerprints(f.dest.id).unwrap().len(),
        3,
        "the destination did not change"
    );
    state.rebind_message(stale[1].key, 20, NOW).unwrap();
    assert_eq!(
        state
            .mapped_uids(f.id, 8)
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        [20]
    );
    assert_eq!(state.stale_messages(f.id).unwrap().len(), 2);
    let rebound = state
        .message(MessageKey {
            folder: f.id,
            uidvalidity: 8,
            uid: 20,
        })
        .unwrap()
        .unwrap();
    assert_eq!(rebound.dest_uid, Some(102));

    // Destination folder recreated: its UIDs are dropped, fingerprints kept.
    assert_eq!(state.forget_dest_uids(f.dest.id, 101).unwrap(), 3);
    assert_eq!(
        state.folder_by_id(f.id).unwrap().dest.uidvalidity,
        Some(101)
    );
    assert!(state
        .stale_messages(f.id)
        .unwrap()
        .iter()
        .all(|m| m.dest_uid.is_none()));
    state.set_dest_uid(rebound.key, 5, NOW).unwrap();
    assert_eq!(
        state.message(rebound.key).unwrap().unwrap().dest_uid,
        Some(5)
    );
}

#[test]
fn two_source_folders_can_land_in_one_destination() {
    let (_dir, path) = temp();
    let mut state = State::open(&path, NOW).unwrap();
    let a = state
        .upsert_folder(&name("INBOX.Sent"), 1, &name("Sent"), Some(1), NOW)
        .unwrap();
    let b = state
        .upsert_folder(&name("Sent Items"), 1, &name("Sent"), Some(1), NOW)
        .unwrap();
    assert_ne!(a.id, b.id);
    assert_eq!(a.dest.id, b.dest.id);
    for (folder, raw) in [
        (&a, "Message-ID: <s1@x>\n\n"),
        (&b, "Message-ID: <s2@x>\n\n"),
    ] {
        let mut m = message(folder.id, 1, raw, None);
        m.key.uidvalidity = 1;
        let i = state
            .record_intent(&m, folder.dest.id, &[] as &[&str], None, NOW)
            .unwrap();
        state.confirm_copy(i, None, NOW).unwrap();
    }
    assert_eq!(state.dest_fingerprints(a.dest.id).unwrap().len(), 2);
    assert_eq!(
        state.mapped_uids(a.id, 1).unwrap().len(),
        1,
        "state is keyed by source folder"
    );
}

#[test]
fn phase_is_one_way_and_runs_are_recorded() {
    let (_dir, path) = temp();
    let mut state = State::open(&path, NOW).unwrap();
    let first = state.start_run(false, NOW).unwrap();
    let counters = RunCounters {
        copied: 10,
        bytes_copied: 12345,
        failed: 1,
        ..RunCounters::default()
    };
    state.update_run(first, &counters).unwrap();
    state.set_phase(Phase::PostCutover, NOW + 5).unwrap();
    state.set_phase(Phase::PostCutover, NOW + 6).unwrap();
    assert!(matches!(
        state.set_phase(Phase::PreCutover, NOW),
        Err(StateError::PhaseBackwards)
    ));
    let second = state.start_run(true, NOW + 10).unwrap();
    state
        .finish_run(second, &RunCounters::default(), "completed", NOW + 11)
        .unwrap();
    drop(state);
    let state = State::open(&path, NOW + 20).unwrap();
    assert_eq!(state.phase().unwrap(), Phase::PostCutover);
    let runs = state.runs().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].finished_at, None, "the first run was interrupted");
    assert_eq!(
        runs[0].counters, counters,
        "its checkpointed counters survive"
    );
    assert_eq!(runs[0].phase, Phase::PreCutover);
    assert_eq!(runs[1].phase, Phase::PostCutover);
    assert!(runs[1].dry);
    assert_eq!(runs[1].outcome.as_deref(), Some("completed"));
    assert_eq!(runs[1].finished_at, Some(NOW + 11));
}

#[test]
fn search_finds_bobs_email_from_march() {
    let (_dir, path) = temp();
    let mut state = State::open(&path, NOW).unwrap();
    let f = inbox(&mut state);
    let archive = state
        .upsert_folder(&name("Archive/2023"), 7, &name("Archive/2023"), None, NOW)
        .unwrap();
    let mails = [
        (f.id, 1, "From: Bob Smith <bob@example.com>\nSubject: Budget\nDate: Tue, 12 Mar 2024 10:00:00 +0100\nMessage-ID: <b1@x>\n\n", Some(1_710_234_000)),
        (f.id, 2, "From: Bob Smith <bob@example.com>\nSubject: Lunch\nDate: Fri, 5 Apr 2024 12:00:00 +0200\n\n", Some(1_712_311_200)),
        (archive.id, 3, "From: =?UTF-8?Q?Bj=C3=B6rn?= <bjorn@example.com>\nSubject: Mars trip\nDate: Wed, 1 Mar 2023 09:00:00 +0000\n\n", Some(1_677_661_200)),
        (archive.id, 4, "From: Alice <alice@example.com>\nSubject: Re: Budget for Bob\nDate: Mon, 18 Mar 2024 08:00:00 +0000\n\n", None),
    ];
    for (folder, uid, raw, date) in mails {
        let m = message(folder, uid, raw, date);
        let dest = state.folder_by_id(folder).unwrap().dest.id;
        let i = state
            .record_intent(&m, dest, &[] as &[&str], None, NOW)
            .unwrap();
        state.confirm_copy(i, Some(uid), NOW).unwrap();
    }
    let failed = message(
        f.id,
        5,
        "From: bob@example.com\nSubject: Huge scan\nDate: Thu, 21 Mar 2024 10:00:00 +0000\n\n",
        None,
    );
    state
        .record_fate(
            &failed,
            NotCopied::Failed {
                reason: FailReason::TooBig,
                server_text: Some("NO [TOOBIG] Message too large".into()),
            },
            NOW,
        )
        .unwrap();

    let uids = |q: &str| -> Vec<u32> {
        let mut v: Vec<u32> = state
            .search_log(q, 100)
            .unwrap()
            .iter()
            .map(|e| e.uid)
            .collect();
        v.sort_unstable();
        v
    };
    assert_eq!(
        uids("bob march"),
        [1, 4, 5],
        "sender and month, in any field"
    );
    assert_eq!(uids("Bob March 2024"), [1, 4, 5]);
    assert_eq!(uids("bob@example.com mar"), [1, 5]);
    assert_eq!(
        uids("björn"),
        [3],
        "encoded-words are decoded before they are stored"
    );
    assert_eq!(uids("archive/2023"), [3, 4], "by folder");
    assert_eq!(uids("<b1@x>"), [1], "by Message-ID");
    assert_eq!(uids("2024-04"), [2], "by INTERNALDATE");
    assert_eq!(uids("toobig"), [5], "by the server's words");
    assert_eq!(
        uids("100%"),
        Vec::<u32>::new(),
        "LIKE wildcards are literal"
    );
    assert_eq!(uids("").len(), 5, "an empty search lists everything");
    assert_eq!(state.search_log("", 2).unwrap().len(), 2);
    let entry = &state.search_log("huge", 10).unwrap()[0];
    assert_eq!(entry.source_folder, "INBOX");
    assert_eq!(entry.dest_folder, None);
    assert!(matches!(
        entry.fate,
        Fate::Failed {
            reason: FailReason::TooBig,
            attempts: 1,
            ..
        }
    ));
    assert_eq!(entry.subject.as_deref(), Some("Huge scan"));
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
