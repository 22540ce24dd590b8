//! Tests of the fate writers: failures and their attempts, already there, removed, forgotten.

use super::{inbox, message, temp, NOW};
use crate::state::{FailReason, Fate, NotCopied, SkipReason, State, StateError};

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
