//! Tests of the forensic log search.

use super::{inbox, message, name, temp, NOW};
use crate::state::{FailReason, Fate, NotCopied, State};

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
