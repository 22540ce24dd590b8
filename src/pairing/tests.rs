//! The pairing as a table: what the copy read (both servers, the store) →
//! the plan it must follow.

use super::*;
use crate::identity::Summary;
use crate::state::FolderId;

const FOLDER: FolderId = FolderId(1);
/// The source folder's UIDVALIDITY now.
const UV: u32 = 10;
/// The destination folder the source folder goes to.
const DEST: DestFolderId = DestFolderId(1);
const ELSEWHERE: DestFolderId = DestFolderId(2);
const DAY: i64 = 1_700_000_000;

/// A message's identity by its Message-ID.
fn id(text: &str) -> Fingerprint {
    Fingerprint::of_message(
        format!("Message-ID: <{text}@x>\r\n\r\nbody\r\n").as_bytes(),
        40,
    )
}

fn key(uid: u32) -> MessageKey {
    MessageKey {
        folder: FOLDER,
        uidvalidity: UV,
        uid,
    }
}

/// A source message: UID, Message-ID, size, arrival date.
fn src(uid: u32, mid: &str, size: u64, date: i64) -> SourceMessage {
    SourceMessage {
        key: key(uid),
        fingerprint: id(mid),
        size,
        internaldate: Some(date),
        summary: Summary::default(),
    }
}

fn dst(uid: u32, mid: &str, size: u64, date: i64) -> DestMessage {
    DestMessage {
        uid,
        fingerprint: id(mid),
        size,
        date: Some(date),
    }
}

/// A row of the store: the copy of `m` at `dest_uid` in `DEST`.
fn copied(m: &SourceMessage, dest_uid: Option<u32>) -> MessageRecord {
    MessageRecord {
        key: m.key,
        dest_folder: Some(DEST),
        dest_uid,
        fingerprint: m.fingerprint.clone(),
        size: m.size,
        internaldate: m.internaldate,
        flags: None,
        fate: Fate::Copied,
    }
}

/// A row of the store: `m` refused by the destination `attempts` times.
fn refused(m: &SourceMessage, attempts: u32) -> MessageRecord {
    MessageRecord {
        dest_folder: None,
        dest_uid: None,
        fate: Fate::Failed {
            reason: FailReason::Rejected,
            server_text: Some("no".to_owned()),
            attempts,
        },
        ..copied(m, None)
    }
}

/// The same row under an earlier source UIDVALIDITY.
fn under(uidvalidity: u32, mut rec: MessageRecord) -> MessageRecord {
    rec.key.uidvalidity = uidvalidity;
    rec
}

fn intent(n: i64, m: &SourceMessage, dest_folder: DestFolderId) -> Intent {
    Intent {
        id: IntentId(n),
        message: m.clone(),
        dest_folder,
        flags: BTreeSet::new(),
        run: None,
        started_at: DAY,
    }
}

/// What the copy read, owned.
struct Case {
    source: Vec<(SourceMessage, Option<SkipReason>)>,
    dest: Option<Vec<DestMessage>>,
    store: Option<Store>,
    dest_recreated: bool,
    dry: bool,
    append_limit: Option<u64>,
    only_unlabelled: Option<Multiset>,
    renumbering_accepted: bool,
}

struct Store {
    rows: Vec<MessageRecord>,
    stale: Vec<MessageRecord>,
    intents: Vec<Intent>,
    claims: Vec<(Option<u32>, Fingerprint)>,
}

impl Store {
    /// The store as it reads: the destination folder's claims are the
    /// rows (current or stale) at the destination there, and `others`
    /// (copies there from other source folders).
    fn new(
        rows: Vec<MessageRecord>,
        stale: Vec<MessageRecord>,
        intents: Vec<Intent>,
        others: Vec<(Option<u32>, Fingerprint)>,
    ) -> Store {
        let mut claims: Vec<_> = rows
            .iter()
            .chain(&stale)
            .filter(|r| r.fate.is_at_destination() && r.dest_folder == Some(DEST))
            .map(|r| (r.dest_uid, r.fingerprint.clone()))
            .collect();
        claims.extend(others);
        Store {
            rows,
            stale,
            intents,
            claims,
        }
    }

    fn rows(rows: Vec<MessageRecord>) -> Store {
        Store::new(rows, Vec::new(), Vec::new(), Vec::new())
    }
}

impl Case {
    /// A full listing of both folders, a store that knows nothing yet.
    fn new(source: &[SourceMessage], dest: Vec<DestMessage>) -> Case {
        Case {
            source: source.iter().map(|m| (m.clone(), None)).collect(),
            dest: Some(dest),
            store: Some(Store::rows(Vec::new())),
            dest_recreated: false,
            dry: false,
            append_limit: None,
            only_unlabelled: None,
            renumbering_accepted: false,
        }
    }

    fn store(mut self, store: Store) -> Case {
        self.store = Some(store);
        self
    }

    fn plan(&self) -> Plan {
        let listed: Vec<Listed<'_>> = self
            .source
            .iter()
            .map(|(message, skip)| Listed {
                message,
                skip: *skip,
            })
            .collect();
        pair(&Inputs {
            uidvalidity: UV,
            source: &listed,
            dest: self.dest.as_deref(),
            store: self.store.as_ref().map(|s| Recorded {
                dest_folder: DEST,
                rows: &s.rows,
                stale: &s.stale,
                intents: &s.intents,
                claims: &s.claims,
            }),
            dest_recreated: self.dest_recreated,
            dry: self.dry,
            max_attempts: 3,
            append_limit: self.append_limit,
            only_unlabelled: self.only_unlabelled.as_ref(),
            renumbering_accepted: self.renumbering_accepted,
        })
    }
}

/// A plan with only verdicts (no store change) and what is on record.
fn verdicts(messages: Vec<Verdict>, on_record: &[u32]) -> Plan {
    Plan {
        messages,
        on_record: on_record.iter().copied().collect(),
        ..Plan::default()
    }
}

use Verdict::{Copy, Exhausted, Found, InOtherFolder, OnRecord, Skipped, TooBig};

#[test]
fn a_fresh_folder_is_copied_whole() {
    let source = [src(1, "a", 100, DAY), src(2, "b", 200, DAY)];
    let expected = verdicts(vec![Copy, Copy], &[]);
    assert_eq!(Case::new(&source, Vec::new()).plan(), expected);
    // A dry run with no progress file yet: the store knows nothing.
    let mut dry = Case::new(&source, Vec::new());
    dry.store = None;
    dry.dry = true;
    assert_eq!(dry.plan(), expected);
}

#[test]
fn a_rerun_with_everything_recorded_copies_nothing() {
    let source = [src(1, "a", 100, DAY), src(2, "b", 200, DAY)];
    let case = Case::new(
        &source,
        vec![dst(11, "a", 100, DAY), dst(12, "b", 200, DAY)],
    )
    .store(Store::rows(vec![
        copied(&source[0], Some(11)),
        copied(&source[1], Some(12)),
    ]));
    assert_eq!(
        case.plan(),
        verdicts(
            vec![
                OnRecord { dest_uid: Some(11) },
                OnRecord { dest_uid: Some(12) }
            ],
            &[1, 2]
        )
    );
}

#[test]
fn after_the_source_folder_changed_uidvalidity_old_rows_are_found_again_by_fingerprint() {
    // Under UIDVALIDITY 9 the folder held a, b, c (c since deleted), and a
    // refused message r; now it lists b, a, r and a new d, with new UIDs.
    let was = [
        src(1, "a", 100, DAY),
        src(2, "b", 200, DAY),
        src(3, "c", 300, DAY),
        src(4, "r", 400, DAY),
    ];
    let stale = vec![
        under(9, copied(&was[0], Some(11))),
        under(9, copied(&was[1], Some(12))),
        under(9, copied(&was[2], Some(13))),
        under(9, refused(&was[3], 3)),
    ];
    let source = [
        src(101, "b", 200, DAY),
        src(102, "a", 100, DAY),
        src(103, "r", 400, DAY),
        src(104, "d", 500, DAY),
    ];
    let case = Case::new(
        &source,
        vec![
            dst(11, "a", 100, DAY),
            dst(12, "b", 200, DAY),
            dst(13, "c", 300, DAY),
        ],
    )
    .store(Store::new(Vec::new(), stale, Vec::new(), Vec::new()));
    let old = |uid| MessageKey {
        uidvalidity: 9,
        ..key(uid)
    };
    // Two of the three copies on record found again is too few to be sure
    // d is new: held back until the user accepts the renumbering.
    assert_eq!(
        case.plan(),
        Plan {
            unconfirmed: Some(Unconfirmed {
                confirmed: 2,
                recorded: 3,
                to_copy: 1
            }),
            ..Plan::default()
        }
    );
    let mut accepted = case;
    accepted.renumbering_accepted = true;
    assert_eq!(
        accepted.plan(),
        Plan {
            rebind: vec![(old(2), 101), (old(1), 102), (old(4), 103)],
            retire: vec![old(3)],
            messages: vec![
                OnRecord { dest_uid: Some(12) },
                OnRecord { dest_uid: Some(11) },
                Exhausted,
                Copy,
            ],
            on_record: [101, 102].into(),
            ..Plan::default()
        },
        "nothing copied twice, the refusals still count, c's row is retired"
    );
}

/// A renumbered folder of `recorded` copies on record (`m0`, `m1`, …) of
/// which the first `found` are listed again, with `new` new messages.
fn renumbered(recorded: u32, found: u32, new: u32) -> Case {
    let was: Vec<SourceMessage> = (0..recorded)
        .map(|i| src(i + 1, &format!("m{i}"), 100, DAY))
        .collect();
    let stale = was
        .iter()
        .map(|m| under(9, copied(m, Some(m.key.uid + 10))))
        .collect();
    let dest = was
        .iter()
        .map(|m| dst(m.key.uid + 10, &format!("m{}", m.key.uid - 1), 100, DAY))
        .collect();
    let source: Vec<SourceMessage> = (0..found)
        .map(|i| src(500 + i, &format!("m{i}"), 100, DAY))
        .chain((0..new).map(|i| src(900 + i, &format!("new{i}"), 100, DAY)))
        .collect();
    Case::new(&source, dest).store(Store::new(Vec::new(), stale, Vec::new(), Vec::new()))
}

fn copies(plan: &Plan) -> usize {
    plan.messages.iter().filter(|v| **v == Copy).count()
}

#[test]
fn a_renumbered_folder_is_copied_from_when_enough_of_it_is_found_again() {
    // 80 % found again, 2 new: the folder is the same one.
    let plan = renumbered(10, 8, 2).plan();
    assert_eq!(plan.unconfirmed, None);
    assert_eq!(plan.rebind.len(), 8);
    assert_eq!(plan.retire.len(), 2, "the two not found again are retired");
    assert_eq!(copies(&plan), 2);
    // 20 found again in a large folder is enough too (mbsync's rule).
    let plan = renumbered(200, 20, 5).plan();
    assert_eq!(plan.unconfirmed, None);
    assert_eq!((plan.retire.len(), copies(&plan)), (180, 5));
    // Few found again but nothing to copy: nothing can be doubled.
    let plan = renumbered(10, 3, 0).plan();
    assert_eq!(plan.unconfirmed, None);
    assert_eq!((plan.rebind.len(), plan.retire.len()), (3, 7));
}

#[test]
fn a_renumbered_folder_too_little_of_which_is_found_again_is_held_back() {
    // The server rewrote every message (new identities): copying would
    // double the whole folder at the destination.
    let plan = renumbered(12, 0, 12).plan();
    assert_eq!(
        plan,
        Plan {
            unconfirmed: Some(Unconfirmed {
                confirmed: 0,
                recorded: 12,
                to_copy: 12
            }),
            ..Plan::default()
        },
        "nothing to apply, nothing copied"
    );
    let plan = renumbered(30, 19, 1).plan();
    assert!(plan.unconfirmed.is_some(), "19 of 30: neither 20 nor 80 %");
    // Accepted by the user: copied, and the old rows retired so the next
    // run does not ask again.
    let mut case = renumbered(12, 0, 12);
    case.renumbering_accepted = true;
    let plan = case.plan();
    assert_eq!(plan.unconfirmed, None);
    assert_eq!((copies(&plan), plan.retire.len()), (12, 12));
}

#[test]
fn twin_rows_are_re_paired_in_uid_order() {
    let was = [src(1, "t", 100, DAY), src(2, "t", 100, DAY)];
    let stale = vec![
        under(9, copied(&was[0], Some(11))),
        under(9, copied(&was[1], Some(12))),
    ];
    let source = [src(50, "t", 100, DAY), src(60, "t", 100, DAY)];
    let case = Case::new(
        &source,
        vec![dst(11, "t", 100, DAY), dst(12, "t", 100, DAY)],
    )
    .store(Store::new(Vec::new(), stale, Vec::new(), Vec::new()));
    let old = |uid| MessageKey {
        uidvalidity: 9,
        ..key(uid)
    };
    let plan = case.plan();
    assert_eq!(plan.rebind, vec![(old(1), 50), (old(2), 60)]);
    assert_eq!(
        plan.messages,
        vec![
            OnRecord { dest_uid: Some(11) },
            OnRecord { dest_uid: Some(12) }
        ]
    );
}

#[test]
fn after_the_destination_folder_was_recreated_what_is_gone_is_copied_again() {
    // The store dropped the destination UIDs; the new folder holds a and c
    // under new UIDs, b is gone.
    let source = [
        src(1, "a", 100, DAY),
        src(2, "b", 200, DAY),
        src(3, "c", 300, DAY),
    ];
    let mut case = Case::new(&source, vec![dst(1, "a", 100, DAY), dst(2, "c", 300, DAY)]).store(
        Store::rows(source.iter().map(|m| copied(m, None)).collect()),
    );
    case.dest_recreated = true;
    assert_eq!(
        case.plan(),
        Plan {
            forget_recreated: vec![key(2)],
            messages: vec![
                OnRecord { dest_uid: None },
                Copy,
                OnRecord { dest_uid: None }
            ],
            on_record: [1, 3].into(),
            ..Plan::default()
        }
    );
}

#[test]
fn an_append_in_doubt_that_arrived_is_confirmed() {
    let source = [
        src(1, "a", 100, DAY),
        src(2, "b", 200, DAY),
        src(3, "c", 300, DAY),
    ];
    let store = Store::new(
        vec![copied(&source[0], Some(11))],
        Vec::new(),
        vec![intent(7, &source[1], DEST)],
        Vec::new(),
    );
    let case = Case::new(
        &source,
        vec![dst(11, "a", 100, DAY), dst(12, "b", 200, DAY)],
    )
    .store(store);
    assert_eq!(
        case.plan(),
        Plan {
            intents: vec![Settlement {
                intent: IntentId(7),
                key: key(2),
                settled: Settled::Arrived { dest_uid: 12 },
            }],
            messages: vec![
                OnRecord { dest_uid: Some(11) },
                OnRecord { dest_uid: Some(12) },
                Copy
            ],
            on_record: [1, 2].into(),
            ..Plan::default()
        }
    );
}

#[test]
fn an_append_in_doubt_that_did_not_arrive_is_copied_again() {
    let source = [src(1, "a", 100, DAY), src(2, "b", 200, DAY)];
    let store = Store::new(
        vec![copied(&source[0], Some(11))],
        Vec::new(),
        vec![intent(7, &source[1], DEST)],
        Vec::new(),
    );
    // The only b at the destination is the copy another folder's row claims.
    let claimed = Store {
        claims: vec![(Some(11), id("a")), (Some(12), id("b"))],
        ..Store::new(
            vec![copied(&source[0], Some(11))],
            Vec::new(),
            vec![intent(7, &source[1], DEST)],
            Vec::new(),
        )
    };
    let not_arrived = Plan {
        intents: vec![Settlement {
            intent: IntentId(7),
            key: key(2),
            settled: Settled::NotArrived,
        }],
        messages: vec![OnRecord { dest_uid: Some(11) }, Copy],
        on_record: [1].into(),
        ..Plan::default()
    };
    let case = Case::new(&source, vec![dst(11, "a", 100, DAY)]).store(store);
    assert_eq!(case.plan(), not_arrived, "not at the destination");
    let case = Case::new(
        &source,
        vec![dst(11, "a", 100, DAY), dst(12, "b", 200, DAY)],
    )
    .store(claimed);
    assert_eq!(case.plan(), not_arrived, "there, but another copy's");
}

#[test]
fn an_append_in_doubt_to_another_folder_is_discarded_and_the_message_found_by_identity() {
    // The folder map changed since: the intent went elsewhere. The message
    // at this destination is found by identity, not as that APPEND.
    let source = [src(2, "b", 200, DAY)];
    let store = Store::new(
        Vec::new(),
        Vec::new(),
        vec![intent(7, &source[0], ELSEWHERE)],
        Vec::new(),
    );
    let case = Case::new(&source, vec![dst(12, "b", 200, DAY)]).store(store);
    assert_eq!(
        case.plan(),
        Plan {
            intents: vec![Settlement {
                intent: IntentId(7),
                key: key(2),
                settled: Settled::NotArrived,
            }],
            messages: vec![Found { dest_uid: 12 }],
            ..Plan::default()
        }
    );
}

#[test]
fn a_prefilled_destination_is_not_copied_to_again() {
    // Another tool copied a and b; the server rewrote b (new size, same
    // arrival date); c is new.
    let source = [
        src(1, "a", 100, DAY),
        src(2, "b", 200, DAY + 60),
        src(3, "c", 300, DAY),
    ];
    let case = Case::new(
        &source,
        vec![dst(5, "a", 100, DAY), dst(6, "b", 260, DAY + 60)],
    );
    assert_eq!(
        case.plan(),
        verdicts(
            vec![Found { dest_uid: 5 }, Found { dest_uid: 6 }, Copy],
            &[]
        )
    );
}

#[test]
fn two_messages_sharing_a_message_id_one_stored_one_refused() {
    let source = [src(1, "x", 100, DAY), src(2, "x", 200, DAY)];
    let dest = vec![dst(11, "x", 100, DAY)];
    let case = |attempts| {
        Case::new(&source, dest.clone()).store(Store::rows(vec![
            copied(&source[0], Some(11)),
            refused(&source[1], attempts),
        ]))
    };
    assert_eq!(
        case(1).plan(),
        verdicts(vec![OnRecord { dest_uid: Some(11) }, Copy], &[1]),
        "the stored copy is not the refused one's: tried again"
    );
    assert_eq!(
        case(3).plan(),
        verdicts(vec![OnRecord { dest_uid: Some(11) }, Exhausted], &[1]),
        "refused as often as allowed: not tried again"
    );
}

#[test]
fn a_different_message_under_the_same_message_id_is_not_this_one() {
    // Same Message-ID, another size and another date: another message.
    let source = [src(1, "y", 100, DAY)];
    let case = Case::new(&source, vec![dst(7, "y", 300, DAY + 3_600)]);
    assert_eq!(case.plan(), verdicts(vec![Copy], &[]));
    // Two source messages share the Message-ID: only the size tells a copy
    // apart, never the date.
    let source = [src(1, "y", 100, DAY), src(2, "y", 200, DAY)];
    let case = Case::new(&source, vec![dst(7, "y", 300, DAY)]);
    assert_eq!(case.plan(), verdicts(vec![Copy, Copy], &[]));
    let case = Case::new(&source, vec![dst(7, "y", 200, DAY)]);
    assert_eq!(
        case.plan(),
        verdicts(vec![Copy, Found { dest_uid: 7 }], &[])
    );
}

#[test]
fn a_recorded_copy_gone_at_the_destination_is_copied_again() {
    let source = [
        src(1, "a", 100, DAY),
        src(2, "b", 200, DAY),
        src(3, "c", 300, DAY),
        src(4, "d", 400, DAY),
        src(5, "e", 500, DAY),
    ];
    let mut elsewhere = copied(&source[3], Some(14));
    elsewhere.dest_folder = Some(ELSEWHERE);
    let rows = vec![
        copied(&source[0], Some(11)),
        copied(&source[1], Some(12)), // deleted at the destination
        copied(&source[2], None),     // no UID on record: found by identity
        elsewhere,                    // the map sends the folder here now
        copied(&source[4], None),     // no UID, and gone
    ];
    // d is at this destination too, and under the UID its row gives
    // for the other folder: still not a copy on record here.
    let dest = vec![
        dst(11, "a", 100, DAY),
        dst(13, "c", 300, DAY),
        dst(14, "d", 400, DAY),
    ];
    let case = Case::new(&source, dest.clone()).store(Store::rows(rows.clone()));
    assert_eq!(
        case.plan(),
        Plan {
            forget_lost: vec![key(2), key(4), key(5)],
            messages: vec![
                OnRecord { dest_uid: Some(11) },
                Copy,
                OnRecord { dest_uid: None },
                Found { dest_uid: 14 },
                Copy
            ],
            on_record: [1, 3].into(),
            ..Plan::default()
        }
    );
    // A dry run changes nothing in the store and believes it as it is.
    let mut dry = Case::new(&source, dest).store(Store::rows(rows.clone()));
    dry.dry = true;
    assert_eq!(
        dry.plan(),
        verdicts(
            vec![
                OnRecord { dest_uid: Some(11) },
                OnRecord { dest_uid: Some(12) },
                OnRecord { dest_uid: None },
                OnRecord { dest_uid: Some(14) },
                OnRecord { dest_uid: None },
            ],
            &[1, 2, 3, 4, 5]
        )
    );
    // After a clean pass only what changed is read, and the destination
    // is not listed: nothing is taken for lost.
    let new = [src(6, "f", 600, DAY)];
    let mut changed = Case::new(&new, Vec::new()).store(Store::rows(rows));
    changed.dest = None;
    assert_eq!(
        changed.plan(),
        verdicts(vec![Copy], &[1, 2, 3, 4, 5]),
        "unlisted rows stay on record"
    );
}

#[test]
fn filters_hold_back_only_what_is_not_on_record_and_keep_their_place_in_order() {
    let source = [
        src(1, "a", 100, DAY),
        src(2, "x", 100, DAY),
        src(3, "x", 100, DAY),
        src(4, "big", 5_000, DAY),
        src(5, "big2", 5_000, DAY),
    ];
    let mut case = Case::new(
        &source,
        vec![
            dst(11, "a", 100, DAY),
            dst(12, "x", 100, DAY),
            dst(15, "big2", 5_000, DAY),
        ],
    )
    .store(Store::rows(vec![copied(&source[0], Some(11))]));
    case.source[0].1 = Some(SkipReason::DeletedAtSource);
    case.source[1].1 = Some(SkipReason::DeletedAtSource);
    case.append_limit = Some(1_000);
    assert_eq!(
        case.plan(),
        verdicts(
            vec![
                OnRecord { dest_uid: Some(11) },
                Skipped(SkipReason::DeletedAtSource),
                Found { dest_uid: 12 },
                TooBig { limit: 1_000 },
                Found { dest_uid: 15 },
            ],
            &[1]
        ),
        "a held-back twin leaves the destination's copy to the other one; \
         a message already there is never too big"
    );
}

#[test]
fn all_mail_copies_only_what_no_label_brought() {
    let source = [
        src(1, "a", 100, DAY),
        src(2, "b", 200, DAY),
        src(3, "c", 300, DAY),
    ];
    let mut case = Case::new(&source, vec![dst(13, "c", 300, DAY)]);
    case.only_unlabelled = Some([id("b"), id("c")].into_iter().collect());
    assert_eq!(
        case.plan(),
        verdicts(vec![Copy, InOtherFolder, InOtherFolder], &[])
    );
}

fn copy(uid: u32, size: u64, date: Option<i64>) -> DestCopy {
    DestCopy { uid, size, date }
}

fn at(uid: u32, mid: &str, size: u64, date: Option<i64>) -> DestMessage {
    DestMessage {
        uid,
        fingerprint: id(mid),
        size,
        date,
    }
}

#[test]
fn a_destination_copy_is_the_message_by_identity_and_size() {
    let mut pool = DestPool::new(
        &[at(7, "a", 100, Some(1)), at(8, "a", 250, Some(1))],
        &[],
        [&id("a"), &id("a")],
    );
    // Two messages share the Message-ID: the size tells them apart,
    // the date (equal here) does not.
    assert_eq!(pool.take(&id("a"), 250, Some(1)), Some(8));
    assert_eq!(pool.take(&id("a"), 300, Some(1)), None);
    assert_eq!(pool.take(&id("a"), 100, None), Some(7));
    assert_eq!(pool.take(&id("a"), 100, None), None, "each copy once");
}

#[test]
fn a_rewritten_copy_is_found_by_its_date_only_when_its_identity_is_unique() {
    let mut pool = DestPool::new(&[at(3, "b", 120, Some(1_700_000_000))], &[], [&id("b")]);
    assert_eq!(
        pool.take(&id("b"), 100, Some(1_600_000_000)),
        None,
        "another message"
    );
    assert_eq!(
        pool.take(&id("b"), 100, Some(1_700_000_000)),
        Some(3),
        "resized by the server"
    );
    let mut shared = DestPool::new(&[at(3, "c", 120, Some(5))], &[], [&id("c"), &id("c")]);
    assert_eq!(shared.take(&id("c"), 100, Some(5)), None);
}

#[test]
fn copies_on_record_are_not_in_the_pool_and_pairs_go_in_order() {
    let pool = DestPool::new(
        &[
            at(1, "d", 10, None),
            at(2, "d", 10, None),
            at(3, "d", 10, None),
            at(4, "e", 10, None),
        ],
        &[(Some(2), id("d")), (None, id("e"))],
        [&id("d"), &id("d"), &id("d")],
    );
    assert_eq!(
        pool.copies[&id("d")],
        vec![copy(1, 10, None), copy(3, 10, None)]
    );
    assert!(pool.copies[&id("e")].is_empty());
    let mut pool = pool;
    assert_eq!(
        pool.take(&id("d"), 10, None),
        Some(1),
        "the lowest UID first"
    );
}
