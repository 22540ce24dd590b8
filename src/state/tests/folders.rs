//! Tests of the `folders` and `dest_folders` tables: the folder mapping, progress, and UIDVALIDITY changes on either side.

use super::{inbox, message, name, temp, NOW};
use crate::state::{MessageKey, State};

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
fn a_renamed_folder_keeps_its_record_and_its_destination_follows_with_the_folders_inside() {
    let (_dir, path) = temp();
    let mut state = State::open(&path, NOW).unwrap();
    let a = state
        .upsert_folder(&name("A"), 1, &name("A"), Some(1), NOW)
        .unwrap();
    let x = state
        .upsert_folder(&name("A/x"), 2, &name("A/x"), Some(2), NOW)
        .unwrap();
    let other = state
        .upsert_folder(&name("Ab"), 3, &name("Ab"), Some(3), NOW)
        .unwrap();
    let mut m = message(a.id, 1, "Message-ID: <a1@x>\n\n", None);
    m.key.uidvalidity = 1;
    let i = state
        .record_intent(&m, a.dest.id, &[] as &[&str], None, NOW)
        .unwrap();
    state.confirm_copy(i, Some(9), NOW).unwrap();
    state.set_folder_progress(a.id, 1, None, NOW).unwrap();

    let moved = state.rename_source_folder(a.id, &name("B"), NOW).unwrap();
    assert_eq!(moved.id, a.id);
    assert_eq!(moved.source_name, "B");
    assert_eq!(moved.highest_uid, 1, "the progress goes with the name");
    assert!(state.folder(&name("A")).unwrap().is_none());
    assert_eq!(state.mapped_uids(a.id, 1).unwrap().len(), 1);

    let changed = state
        .rename_dest_folders(&name("A"), &name("Bé"), Some('/'))
        .unwrap();
    assert_eq!(changed, 2, "A and A/x, not Ab");
    assert_eq!(
        state.dest_folder_names().unwrap(),
        vec!["Ab".to_owned(), "Bé".to_owned(), "Bé/x".to_owned()]
    );
    let inner = state.dest_folder(x.dest.id).unwrap();
    assert_eq!(inner.wire_name, "B&AOk-/x", "the wire form follows too");
    assert_eq!(state.dest_folder(other.dest.id).unwrap().name, "Ab");
    assert_eq!(state.folder_by_id(a.id).unwrap().dest.name, "Bé");
}
