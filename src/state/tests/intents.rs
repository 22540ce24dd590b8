//! Tests of the `intents` table: the intent → confirm cycle and what is in doubt after a crash.

use super::{inbox, message, temp, NOW};
use crate::state::{Fate, State, StateError};

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
