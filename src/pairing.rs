//! The copy's pairing, decided as data: which of a folder's source messages
//! are already at the destination (and where), which to copy, what became
//! of the copies a crash left in doubt, and which recorded copies the
//! destination no longer holds.
//!
//! [`pair`] is pure, like [`crate::folder::map_folders`]: no network, no
//! store, no clock. `run` reads both servers and the store, hands what it
//! read to [`pair`] as plain values, and applies the [`Plan`] (store writes
//! in the plan's order, then the APPENDs). Same inputs, same plan.
//!
//! The rules, in the order they apply (the order matters: each step takes
//! destination messages the next can no longer claim):
//! 1. The destination's messages that copies on record account for (by
//!    their destination UID, else by identity) are out of reach of
//!    identity matching.
//! 2. After the source folder's UIDVALIDITY changed, rows recorded under
//!    the old one are re-paired with the source message of the same
//!    fingerprint, in UID order, so nothing is copied twice. Like mbsync's
//!    re-approval, the renumbered folder must be recognisably the same one
//!    before anything is copied from it: at least 20, or 80 %, of the copies
//!    on record found again; otherwise messages whose identity changed
//!    (a server that rewrote them) would be copied a second time, so the
//!    folder is held back ([`Plan::unconfirmed`]) until the user accepts
//!    it. Once accepted, or confirmed, the old rows not found again are
//!    retired: their messages are no longer at the source.
//! 3. An APPEND in flight when a run died (an intent) went through if its
//!    message is at the destination folder it was going to, among what no
//!    copy accounts for; otherwise it did not, and the message is copied
//!    again.
//! 4. The destination is believed over the store: after the destination
//!    folder was recreated (its UIDVALIDITY changed), a copy on record
//!    whose fingerprint is no longer there is forgotten; then any copy on
//!    record that the destination does not hold (by destination UID when
//!    known, else by identity; or one recorded in another destination
//!    folder) is forgotten, so it is copied again, once.
//! 5. Per source message, in order: on record at the destination; refused
//!    by the destination too often; held back by a filter; (Gmail's All
//!    Mail, when only unlabelled messages go) already copied from a label;
//!    found at the destination by identity (`DestPool`); larger than the
//!    destination accepts; else copied.
//!
//! A dry run changes nothing in the store: steps 2 to 4 are left out and
//! the records are believed as they are.

use crate::identity::{Fingerprint, Multiset};
use crate::state::{
    DestFolderId, FailReason, Fate, Intent, IntentId, MessageKey, MessageRecord, SkipReason,
    SourceMessage,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A message of the destination folder, as listed there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestMessage {
    /// Its UID at the destination.
    pub uid: u32,
    /// Its identity (see [`crate::identity`]).
    pub fingerprint: Fingerprint,
    /// `RFC822.SIZE` at the destination.
    pub size: u64,
    /// INTERNALDATE (unix seconds), if the server gave a readable one.
    pub date: Option<i64>,
}

/// A source message as listed, with what the user's filters say of it.
#[derive(Debug, Clone, Copy)]
pub struct Listed<'a> {
    /// The message.
    pub message: &'a SourceMessage,
    /// A filter holds it back (consulted only for a message not on record).
    pub skip: Option<SkipReason>,
}

/// What the store knows of the folder, as read before anything changed.
#[derive(Debug, Clone, Copy)]
pub struct Recorded<'a> {
    /// The destination folder the source folder goes to now.
    pub dest_folder: DestFolderId,
    /// The folder's rows under its current UIDVALIDITY, by UID.
    pub rows: &'a [MessageRecord],
    /// Its rows under an earlier UIDVALIDITY (left by a change at the
    /// source), in store order.
    pub stale: &'a [MessageRecord],
    /// The folder's APPENDs in doubt, in the order they were recorded.
    pub intents: &'a [Intent],
    /// The copies on record in `dest_folder`, from every source folder that
    /// lands there: destination UID when known, and identity.
    pub claims: &'a [(Option<u32>, Fingerprint)],
}

/// Everything [`pair`] decides from.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The source folder's UIDVALIDITY now.
    pub uidvalidity: u32,
    /// The source folder's messages, in order: all of them, or after a clean
    /// pass only those that changed since.
    pub source: &'a [Listed<'a>],
    /// The destination folder's messages; `None` when it was not listed
    /// (after a clean pass it holds only what the store knows of).
    pub dest: Option<&'a [DestMessage]>,
    /// What the store knows; `None` when it knows nothing of the folder.
    pub store: Option<Recorded<'a>>,
    /// The destination folder's UIDVALIDITY changed (the store has already
    /// dropped its destination UIDs).
    pub dest_recreated: bool,
    /// A dry run: nothing is to change in the store.
    pub dry: bool,
    /// Refused this many times by the destination, a message is not tried
    /// again.
    pub max_attempts: u32,
    /// The largest message the destination accepts (APPENDLIMIT), if said.
    pub append_limit: Option<u64>,
    /// Gmail's All Mail when only messages without a label go: the
    /// fingerprints already copied from other folders of this run.
    pub only_unlabelled: Option<&'a Multiset>,
    /// The user accepted this folder's renumbering: copy what was not
    /// found again even if too little of it was.
    pub renumbering_accepted: bool,
}

/// What became of an APPEND in doubt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// The message is at the destination: the copy is confirmed.
    Arrived {
        /// Where it is.
        dest_uid: u32,
    },
    /// It is not: the intent is discarded and the message copied again.
    NotArrived,
}

/// An APPEND in doubt, settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settlement {
    /// The intent.
    pub intent: IntentId,
    /// The source message it was copying.
    pub key: MessageKey,
    /// What became of it.
    pub settled: Settled,
}

/// The decision about one source message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// On record as at the destination (copied or found earlier).
    OnRecord {
        /// Where it is, when known.
        dest_uid: Option<u32>,
    },
    /// The destination refused it `max_attempts` times: not tried again.
    Exhausted,
    /// A filter holds it back.
    Skipped(SkipReason),
    /// Already copied from another Gmail label: not doubled in All Mail's
    /// destination.
    InOtherFolder,
    /// The destination has it already (copied by another tool, or before
    /// the store knew): recorded as already there, not copied.
    Found {
        /// Where it is.
        dest_uid: u32,
    },
    /// Larger than the destination accepts.
    TooBig {
        /// What the destination accepts, in bytes.
        limit: u64,
    },
    /// To copy.
    Copy,
}

/// A renumbered source folder too little of which was found again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unconfirmed {
    /// Copies on record (at the destination) found again.
    pub confirmed: usize,
    /// Copies on record from before the folder was renumbered.
    pub recorded: usize,
    /// Messages that would be copied.
    pub to_copy: usize,
}

/// The pairing of one folder: store changes first, in this order, then one
/// verdict per source message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The folder was renumbered and is held back: nothing else in the
    /// plan is to be applied, nothing copied.
    pub unconfirmed: Option<Unconfirmed>,
    /// Rows recorded under an earlier source UIDVALIDITY, found again:
    /// (old key, new source UID).
    pub rebind: Vec<(MessageKey, u32)>,
    /// Rows recorded under an earlier source UIDVALIDITY not found again,
    /// once the renumbered folder is confirmed or accepted: forgotten.
    pub retire: Vec<MessageKey>,
    /// The folder's APPENDs in doubt, settled, in the order recorded.
    pub intents: Vec<Settlement>,
    /// Copies on record whose message the recreated destination folder no
    /// longer holds: forgotten, copied again.
    pub forget_recreated: Vec<MessageKey>,
    /// Copies on record the destination no longer holds (deleted there, or
    /// recorded in another destination folder): forgotten, copied again.
    pub forget_lost: Vec<MessageKey>,
    /// One per source message, in the order given.
    pub messages: Vec<Verdict>,
    /// Source UIDs (current UIDVALIDITY) on record as at the destination
    /// once the store changes are applied, listed or not.
    pub on_record: BTreeSet<u32>,
}

/// A row of the store as the pairing sees it.
#[derive(Debug, Clone, Copy)]
struct Row<'a> {
    key: MessageKey,
    dest_folder: Option<DestFolderId>,
    dest_uid: Option<u32>,
    fingerprint: &'a Fingerprint,
    at_destination: bool,
    /// Refused by the destination `max_attempts` times or more.
    exhausted: bool,
}

impl<'a> Row<'a> {
    fn of(rec: &'a MessageRecord, max_attempts: u32) -> Row<'a> {
        Row {
            key: rec.key,
            dest_folder: rec.dest_folder,
            dest_uid: rec.dest_uid,
            fingerprint: &rec.fingerprint,
            at_destination: rec.fate.is_at_destination(),
            exhausted: matches!(
                &rec.fate,
                Fate::Failed { reason, attempts, .. }
                    if *attempts >= max_attempts && *reason != FailReason::FetchFailed
            ),
        }
    }
}

/// Decides the pairing of one folder. See the module's rules.
pub fn pair(input: &Inputs<'_>) -> Plan {
    let mut plan = Plan::default();
    let dest = input.dest.unwrap_or(&[]);
    let mut pool = DestPool::new(
        dest,
        input.store.map(|s| s.claims).unwrap_or(&[]),
        input.source.iter().map(|l| &l.message.fingerprint),
    );
    let mut rows: BTreeMap<u32, Row<'_>> = BTreeMap::new();
    let mut renumbered = None;
    if let Some(store) = input.store {
        for rec in store.rows {
            rows.insert(rec.key.uid, Row::of(rec, input.max_attempts));
        }
        if !input.dry {
            renumbered = rebind_stale(input, store, &mut rows, &mut plan);
            settle_intents(input, store, &mut pool, &mut rows, &mut plan);
            if input.dest_recreated {
                // Found by fingerprint, never by the old UIDs.
                let mut present: Multiset = dest.iter().map(|m| m.fingerprint.clone()).collect();
                rows.retain(|_, row| {
                    let gone = row.at_destination && !present.take(row.fingerprint);
                    if gone {
                        plan.forget_recreated.push(row.key);
                    }
                    !gone
                });
            }
            if let Some(dest) = input.dest {
                plan.forget_lost = lost_copies(&rows, store.dest_folder, dest);
                for key in &plan.forget_lost {
                    rows.remove(&key.uid);
                }
            }
        }
    }
    plan.on_record = rows
        .values()
        .filter(|r| r.at_destination)
        .map(|r| r.key.uid)
        .collect();

    let mut labelled = input.only_unlabelled.cloned();
    for listed in input.source {
        let m = listed.message;
        let uid = m.key.uid;
        let verdict = if plan.on_record.contains(&uid) {
            Verdict::OnRecord {
                dest_uid: rows.get(&uid).and_then(|r| r.dest_uid),
            }
        } else if rows.get(&uid).is_some_and(|r| r.exhausted) {
            Verdict::Exhausted
        } else if let Some(reason) = listed.skip {
            Verdict::Skipped(reason)
        } else if labelled.as_mut().is_some_and(|l| l.take(&m.fingerprint)) {
            Verdict::InOtherFolder
        } else if let Some(dest_uid) = pool.take(&m.fingerprint, m.size, m.internaldate) {
            Verdict::Found { dest_uid }
        } else if let Some(limit) = input.append_limit.filter(|limit| m.size > *limit) {
            Verdict::TooBig { limit }
        } else {
            Verdict::Copy
        };
        if matches!(verdict, Verdict::OnRecord { .. } | Verdict::Found { .. }) {
            if let Some(labelled) = labelled.as_mut() {
                labelled.insert(m.fingerprint.clone());
            }
        }
        plan.messages.push(verdict);
    }
    if let Some(r) = renumbered {
        let to_copy = plan
            .messages
            .iter()
            .filter(|v| matches!(v, Verdict::Copy))
            .count();
        let confirmed = r.confirmed >= 20 || r.confirmed * 5 >= r.recorded * 4;
        if to_copy > 0 && !confirmed && !input.renumbering_accepted {
            return Plan {
                unconfirmed: Some(Unconfirmed {
                    confirmed: r.confirmed,
                    recorded: r.recorded,
                    to_copy,
                }),
                ..Plan::default()
            };
        }
        plan.retire = r.not_found;
    }
    plan
}

/// How much of a renumbered folder's record was found again.
struct Renumbered {
    /// Old rows at the destination found again.
    confirmed: usize,
    /// Old rows at the destination.
    recorded: usize,
    /// Old rows (whatever their fate) not found again.
    not_found: Vec<MessageKey>,
}

/// Rule 2: stale rows take the new UID of the source message with their
/// fingerprint (the earliest row first). `None` when there are none.
fn rebind_stale<'a>(
    input: &Inputs<'a>,
    store: Recorded<'a>,
    rows: &mut BTreeMap<u32, Row<'a>>,
    plan: &mut Plan,
) -> Option<Renumbered> {
    if store.stale.is_empty() {
        return None;
    }
    let mut by_fp: HashMap<&Fingerprint, Vec<&MessageRecord>> = HashMap::new();
    for rec in store.stale.iter().rev() {
        by_fp.entry(&rec.fingerprint).or_default().push(rec);
    }
    let mut confirmed = 0;
    for listed in input.source {
        let m = listed.message;
        if let Some(old) = by_fp.get_mut(&m.fingerprint).and_then(|v| v.pop()) {
            plan.rebind.push((old.key, m.key.uid));
            let row = Row {
                key: m.key,
                ..Row::of(old, input.max_attempts)
            };
            confirmed += usize::from(row.at_destination);
            rows.insert(m.key.uid, row);
        }
    }
    let mut not_found: Vec<MessageKey> = by_fp.into_values().flatten().map(|r| r.key).collect();
    not_found.sort_by_key(|k| (k.uidvalidity, k.uid));
    Some(Renumbered {
        confirmed,
        recorded: store
            .stale
            .iter()
            .filter(|r| r.fate.is_at_destination())
            .count(),
        not_found,
    })
}

/// Rule 3: an APPEND in doubt arrived if its message is at the destination
/// folder it was going to, among what no copy accounts for.
fn settle_intents<'a>(
    input: &Inputs<'a>,
    store: Recorded<'a>,
    pool: &mut DestPool,
    rows: &mut BTreeMap<u32, Row<'a>>,
    plan: &mut Plan,
) {
    for intent in store.intents {
        let m = &intent.message;
        let arrived = (intent.dest_folder == store.dest_folder)
            .then(|| pool.take(&m.fingerprint, m.size, m.internaldate))
            .flatten();
        let settled = match arrived {
            Some(dest_uid) => {
                if m.key.uidvalidity == input.uidvalidity {
                    rows.insert(
                        m.key.uid,
                        Row {
                            key: m.key,
                            dest_folder: Some(intent.dest_folder),
                            dest_uid: Some(dest_uid),
                            fingerprint: &m.fingerprint,
                            at_destination: true,
                            exhausted: false,
                        },
                    );
                }
                Settled::Arrived { dest_uid }
            }
            None => Settled::NotArrived,
        };
        plan.intents.push(Settlement {
            intent: intent.id,
            key: m.key,
            settled,
        });
    }
}

/// Rule 4: copies on record that the destination does not hold. A copy
/// whose destination UID is known is looked for by that UID (UIDs are never
/// reused under one UIDVALIDITY); the others by identity, among what no
/// known UID accounts for.
fn lost_copies(
    rows: &BTreeMap<u32, Row<'_>>,
    dest_folder: DestFolderId,
    dest: &[DestMessage],
) -> Vec<MessageKey> {
    let mut unaccounted: HashMap<u32, &Fingerprint> =
        dest.iter().map(|m| (m.uid, &m.fingerprint)).collect();
    let mut lost = Vec::new();
    let mut by_identity = Vec::new();
    for row in rows.values().filter(|r| r.at_destination) {
        if row.dest_folder != Some(dest_folder) {
            // The map sends this folder elsewhere now.
            lost.push(row.key);
            continue;
        }
        match row.dest_uid {
            Some(uid) => {
                if unaccounted.remove(&uid).is_none() {
                    lost.push(row.key);
                }
            }
            None => by_identity.push(row),
        }
    }
    let mut pool: Multiset = unaccounted.into_values().cloned().collect();
    for row in by_identity {
        if !pool.take(row.fingerprint) {
            lost.push(row.key);
        }
    }
    lost
}

/// A message at the destination that no recorded copy accounts for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DestCopy {
    uid: u32,
    size: u64,
    date: Option<i64>,
}

/// The destination folder's messages that no recorded copy accounts for,
/// by identity: where an interrupted APPEND is looked for, and what "the
/// destination already has it" means.
///
/// Sharing an identity (the Message-ID, most often) is not enough to be
/// the same message: two messages may share one, and a destination may hold
/// a different message under the same one. A copy is this message when it
/// also has the same size; or, when no other message of the source folder
/// shares the identity, the same arrival date (a server that rewrites
/// messages changes their size, not the date MailFerry gave them).
#[derive(Debug, Default)]
struct DestPool {
    copies: HashMap<Fingerprint, Vec<DestCopy>>,
    /// Source messages of the folder per identity.
    shared: HashMap<Fingerprint, usize>,
}

impl DestPool {
    /// `claims`: the copies on record in this destination folder (their
    /// UID when known); each takes its own message out of the pool.
    fn new<'a>(
        dest: &[DestMessage],
        claims: &[(Option<u32>, Fingerprint)],
        source: impl IntoIterator<Item = &'a Fingerprint>,
    ) -> DestPool {
        let mut pool = DestPool::default();
        for m in dest {
            pool.copies
                .entry(m.fingerprint.clone())
                .or_default()
                .push(DestCopy {
                    uid: m.uid,
                    size: m.size,
                    date: m.date,
                });
        }
        for copies in pool.copies.values_mut() {
            copies.sort_by_key(|c| c.uid);
        }
        let (known, unknown): (Vec<_>, Vec<_>) = claims.iter().partition(|(uid, _)| uid.is_some());
        for (uid, fp) in known {
            if let Some(copies) = pool.copies.get_mut(fp) {
                copies.retain(|c| Some(c.uid) != *uid);
            }
        }
        for (_, fp) in unknown {
            if let Some(copies) = pool.copies.get_mut(fp) {
                if !copies.is_empty() {
                    copies.remove(0);
                }
            }
        }
        for fp in source {
            *pool.shared.entry(fp.clone()).or_default() += 1;
        }
        pool
    }

    /// Takes the copy that is this message, if the destination has one;
    /// its UID.
    fn take(&mut self, fp: &Fingerprint, size: u64, date: Option<i64>) -> Option<u32> {
        let copies = self.copies.get_mut(fp)?;
        let alone = self.shared.get(fp).copied().unwrap_or(0) <= 1;
        let i = copies.iter().position(|c| c.size == size).or_else(|| {
            alone
                .then(|| copies.iter().position(|c| date.is_some() && c.date == date))
                .flatten()
        })?;
        Some(copies.remove(i).uid)
    }
}

#[cfg(test)]
mod tests;
