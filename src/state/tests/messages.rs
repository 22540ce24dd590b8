//! Tests of the `messages` table read as the map: flags last written, fates counted.

use super::{inbox, message, temp, NOW};
use crate::state::{MessageKey, NotCopied, State};

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
