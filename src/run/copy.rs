//! One folder's copy: both folders opened, the identities read on both
//! sides (or, after a clean pass, only what changed since), the pairing's
//! plan applied to the store, then the messages to copy sent in batches
//! and, before the switch, flag changes and removals brought over.

use super::batch::{copy_batch, fetch_batch, split_batches, Bodies, SourceFolder};
use super::changes::{apply_changes, Changes};
use super::pace::{Held, InFlight};
use super::{
    human_bytes, not_copied, Candidate, Clock, FolderJob, FolderReport, FolderStop, Options, Pace,
    Writers, NO_FOLDER,
};
use crate::error::{Error, Problem};
use crate::event::{Event, EventSink};
use crate::folder::AllMailPolicy;
use crate::identity::{Fingerprint, Multiset, Summary};
use crate::imap::idle::Counts;
use crate::imap::messages::{FirstListing, FolderStatus, MessageMeta, ReadOnly};
use crate::imap::Session;
use crate::pairing::{self, DestMessage, Listed, Plan, Recorded, Settled, Verdict};
use crate::state::{
    DestFolderId, FailReason, Fate, FolderId, MessageKey, MessageRecord, NotCopied, Phase,
    SkipReason, SourceMessage, State, StateError,
};
use std::collections::{BTreeSet, HashMap};

/// What the store keeps of a source message, from its FETCH of headers.
pub(crate) fn source_message(
    folder: Option<FolderId>,
    uidvalidity: u32,
    meta: &MessageMeta,
) -> SourceMessage {
    SourceMessage {
        key: MessageKey {
            folder: folder.unwrap_or(NO_FOLDER),
            uidvalidity,
            uid: meta.uid,
        },
        fingerprint: Fingerprint::of_headers(&meta.headers, u64::from(meta.size)),
        size: u64::from(meta.size),
        internaldate: meta.internal_date.as_deref().and_then(parse_internal_date),
        summary: Summary::of_headers(&meta.headers),
    }
}

/// IMAP date-time (`01-Mar-2024 09:00:00 +0000`) as unix seconds.
pub fn parse_internal_date(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_str(text.trim(), "%d-%b-%Y %H:%M:%S %z")
        .ok()
        .map(|d| d.timestamp())
}

/// A batch to read ahead, with its bytes counted in the run's total, when
/// the allowances would let it go now and it fits beside the bytes the
/// folders copied at once already hold.
fn read_ahead<'c, 'f>(
    batch: &'c [Candidate],
    pace: &Pace,
    in_flight: &'f InFlight,
    now: Clock<'_>,
) -> Option<(&'c [Candidate], Held<'f>)> {
    let bytes = batch.iter().map(|c| c.message.size).sum();
    if !pace.would_admit(batch.len() as u64, bytes, now()) {
        return None;
    }
    in_flight.try_hold(bytes).map(|held| (batch, held))
}

#[allow(clippy::too_many_arguments)] // both sessions, the store, and the run's shared counters
pub(super) async fn copy_folder(
    source: &mut ReadOnly<'_>,
    dest: &mut Session,
    mut state: Option<&mut State>,
    job: &FolderJob<'_>,
    labelled: &mut Multiset,
    report: &mut FolderReport,
    pace: &tokio::sync::Mutex<Pace>,
    in_flight: &InFlight,
    writers: &mut Writers<'_>,
    sink: &mut dyn EventSink,
) -> Result<(), FolderStop> {
    let options = job.options;
    let now = job.now;
    let display = job.source_name.display().to_owned();

    // 0. A folder unchanged since the last clean pass, by the STATUS both
    // servers gave for every folder before the run, is not even opened.
    if let (Some(st), Some(glance)) = (state.as_deref_mut(), job.glance) {
        if let OnRecord::Unchanged {
            at_destination,
            excluded,
        } = on_record(st, job, &glance.source, Some(&glance.dest), false)?
        {
            unchanged(
                st,
                job,
                glance.source.exists,
                at_destination,
                excluded,
                labelled,
                report,
                sink,
            )?;
            return Ok(());
        }
    }

    // 1. Both folders, both servers asked at once; the source in the same
    // flight for its first listing: what changed since the last clean pass
    // on record, else the first UIDs (over a long link a round trip saved
    // per folder; what the store then finds unchanged, or a guess that did
    // not hold, costs only the server's reading).
    //
    // The destination folder is opened read-only, except when the store
    // has a clean pass of it and the look before the run found it there
    // under the same UIDVALIDITY: then it is opened read-write at once, so
    // that flag changes at the source are written without opening it again
    // (a round trip per changed folder). What SELECT opened must be that
    // same folder (the store's UIDVALIDITY; the destination UIDs on record
    // are only meaningful in it), or it is opened read-only again and
    // goes as any other, where the flag changes open it and check again.
    let mut writable: Option<u32> = None;
    let ahead = match state.as_deref_mut() {
        Some(st) if !options.dry && source.capabilities().has("CONDSTORE") => {
            match st.folder(job.source_name)? {
                Some(rec) if rec.highest_modseq.is_some() => {
                    if rec.dest.name == job.dest_name.display()
                        && rec.dest.uidvalidity.is_some()
                        && job.glance.map(|g| g.dest.uid_validity) == rec.dest.uidvalidity
                        && st.phase()? == Phase::PreCutover
                    {
                        writable = rec.dest.uidvalidity;
                    }
                    rec.highest_modseq.map(FirstListing::ChangedSince)
                }
                _ => None,
            }
        }
        _ => None,
    }
    .unwrap_or_else(|| FirstListing::Uids(format!("1:{META_CHUNK}")));
    let (src_opened, dst_status) = tokio::join!(
        source.examine_listed(job.source_name.wire(), ahead.clone()),
        async {
            match writable {
                Some(_) => dest.select(job.dest_name.wire()).await,
                None => dest.examine(job.dest_name.wire()).await,
            }
        }
    );
    let (src_status, first_listing) = src_opened?;
    let mut first_listing = Some((ahead, first_listing));
    let mut selected = false;
    let dst_status = match (dst_status, writable) {
        (Ok(status), Some(expected)) if status.uid_validity == expected => {
            selected = true;
            Ok(status)
        }
        (Ok(_), Some(_)) => {
            tracing::debug!(folder = %job.dest_name.display(), "another destination folder under this name: opened read-only again");
            dest.examine(job.dest_name.wire()).await
        }
        (other, _) => other,
    };
    let dst_status = match dst_status {
        Ok(status) => Some(status),
        Err(_) if options.dry => None,
        Err(_) => {
            dest.create(job.dest_name.wire(), None).await?;
            dest.subscribe(job.dest_name.wire()).await?;
            sink.emit(Event::FolderCreated {
                folder: job.dest_name.display().to_owned(),
            });
            Some(dest.examine(job.dest_name.wire()).await?)
        }
    };

    // 2. The folder in the state store, with UIDVALIDITY changes handled.
    // A source folder unchanged since the last complete, clean pass costs
    // these two EXAMINEs (when the look before the run did not already
    // tell); one that changed only by new messages and flag changes is
    // brought up to date from what changed since then (CHANGEDSINCE):
    // see `since` below.
    let mut since: Option<(u64, Vec<MessageRecord>)> = None;
    if let Some(st) = state.as_deref_mut() {
        match on_record(
            st,
            job,
            &Seen::from(&src_status),
            dst_status.as_ref().map(Seen::from).as_ref(),
            !options.dry,
        )? {
            OnRecord::Unchanged {
                at_destination,
                excluded,
            } => {
                unchanged(
                    st,
                    job,
                    src_status.exists,
                    at_destination,
                    excluded,
                    labelled,
                    report,
                    sink,
                )?;
                return Ok(());
            }
            OnRecord::Since { last, known } => since = Some((last, known)),
            OnRecord::Unknown => {}
        }
    }
    // Changes since the last clean pass: one FETCH. New messages are those
    // the store has no row for; a count that does not add up means
    // something was removed, which the full comparison handles.
    let mut changed: Option<(Vec<MessageMeta>, Vec<MessageRecord>)> = None;
    if let Some((last, known)) = since {
        let metas = match first_listing.take() {
            Some((FirstListing::ChangedSince(asked), metas)) if asked == last => metas,
            _ => source.fetch_meta_changed_since(last).await?,
        };
        let uids: std::collections::HashSet<u32> = known.iter().map(|m| m.key.uid).collect();
        let new = metas.iter().filter(|m| !uids.contains(&m.uid)).count();
        let present = known.iter().filter(|m| m.fate != Fate::Removed).count();
        if present + new == src_status.exists as usize {
            tracing::debug!(folder = %job.source_name.display(), changed = metas.len(), new, "changed since the last run");
            changed = Some((metas, known));
        }
    }
    let mut dest_changed = false;
    let (folder_id, dest_id) = match state.as_deref_mut() {
        Some(st) if !options.dry => {
            let (f, d, changed) = register_folder(st, job, &src_status, dst_status.as_ref())?;
            dest_changed = changed;
            (Some(f), Some(d))
        }
        Some(st) => match st.folder(job.source_name)? {
            Some(rec) if rec.source_uidvalidity == src_status.uid_validity => {
                (Some(rec.id), Some(rec.dest.id))
            }
            _ => (None, None),
        },
        None => (None, None),
    };

    // 3. Identities on both sides (or, from a clean pass, only what changed
    // at the source: the destination holds nothing the store doesn't know).
    // `known`: the store's rows of the folder, when already read for that.
    let (metas, dest_metas, known) = match changed {
        Some((metas, known)) => (metas, Vec::new(), Some(known)),
        None => {
            // Both sides at once: one wait for both listings.
            let first = match first_listing.take() {
                Some((FirstListing::Uids(_), metas)) => Some(metas),
                _ => None,
            };
            let (metas, dest_metas) = tokio::join!(all_meta(source, &src_status, first), async {
                match &dst_status {
                    Some(status) => all_meta(&mut ReadOnly::new(dest), status, None).await,
                    None => Ok(Vec::new()),
                }
            });
            (metas?, dest_metas?, None)
        }
    };
    report.messages = metas.len() as u64;
    let partial = known.is_some();
    // A listing that does not account for every message the folder
    // announced (a reply lost or unreadable) must never make messages look
    // deleted at the source: nothing is removed at the destination then.
    let listing_complete = partial || metas.len() >= src_status.exists as usize;
    if let Some(known) = &known {
        report.messages = u64::from(src_status.exists);
        let changed_uids: std::collections::HashSet<u32> = metas.iter().map(|m| m.uid).collect();
        let unchanged = known
            .iter()
            .filter(|m| !changed_uids.contains(&m.key.uid) && m.fate != Fate::Removed);
        for m in unchanged {
            if m.fate.is_at_destination() {
                labelled.insert(m.fingerprint.clone());
                report.already_there += 1;
            } else if matches!(m.fate, Fate::Excluded { .. }) {
                if job.all_mail == Some(AllMailPolicy::OnlyUnlabelled) {
                    labelled.take(&m.fingerprint);
                }
                report.in_other_folders += 1;
            }
        }
    }
    let source_flags: HashMap<u32, Vec<String>> =
        metas.iter().map(|m| (m.uid, m.flags.clone())).collect();
    let candidates: Vec<Candidate> = metas
        .into_iter()
        .map(|meta| Candidate {
            message: source_message(folder_id, src_status.uid_validity, &meta),
            meta,
        })
        .collect();

    // 4. Pairing: decided from what was read (`pairing::pair`, pure), then
    // applied: the store's changes first, then each message's verdict.
    let dest_listed: Vec<DestMessage> = dest_metas
        .iter()
        .map(|m| DestMessage {
            uid: m.uid,
            fingerprint: Fingerprint::of_headers(&m.headers, u64::from(m.size)),
            size: u64::from(m.size),
            date: m.internal_date.as_deref().and_then(parse_internal_date),
        })
        .collect();
    let recorded = match (state.as_deref(), folder_id, dest_id) {
        (Some(st), Some(folder), Some(dest_folder)) => {
            let rows = match known {
                Some(known) => known,
                None => st.messages_in_folder(folder, src_status.uid_validity)?,
            };
            let (stale, intents) = if options.dry {
                (Vec::new(), Vec::new())
            } else {
                let intents = st
                    .in_doubt_intents()?
                    .into_iter()
                    .filter(|i| i.message.key.folder == folder)
                    .collect();
                (st.stale_messages(folder)?, intents)
            };
            let claims = st.dest_claims(dest_folder)?;
            Some((dest_folder, rows, stale, intents, claims))
        }
        _ => None,
    };
    let plan = {
        let listed: Vec<Listed<'_>> = candidates
            .iter()
            .map(|c| Listed {
                message: &c.message,
                skip: skip_reason(c, options, now()),
            })
            .collect();
        pairing::pair(&pairing::Inputs {
            uidvalidity: src_status.uid_validity,
            source: &listed,
            dest: (!partial).then_some(&dest_listed[..]),
            store: recorded
                .as_ref()
                .map(|(dest_folder, rows, stale, intents, claims)| Recorded {
                    dest_folder: *dest_folder,
                    rows,
                    stale,
                    intents,
                    claims,
                }),
            dest_recreated: dest_changed,
            dry: options.dry,
            max_attempts: options.max_attempts,
            append_limit: dest.capabilities().append_limit(),
            only_unlabelled: (job.all_mail == Some(AllMailPolicy::OnlyUnlabelled))
                .then_some(&*labelled),
            renumbering_accepted: options.accept_renumbered.contains(&display),
        })
    };
    if let Some(held) = plan.unconfirmed {
        tracing::warn!(folder = %job.source_name.display(), confirmed = held.confirmed, recorded = held.recorded, "a renumbered folder is held back");
        return Err(FolderStop::Fatal(Error::new(
            Problem::RenumberedUnconfirmed {
                folder: display,
                confirmed: held.confirmed as u64,
                recorded: held.recorded as u64,
                to_copy: held.to_copy as u64,
            },
        )));
    }
    if let (Some(st), false) = (state.as_deref_mut(), options.dry) {
        for (old, uid) in &plan.rebind {
            st.rebind_message(*old, *uid, now())?;
        }
        for s in &plan.intents {
            match s.settled {
                Settled::Arrived { dest_uid } => {
                    tracing::debug!(uid = s.key.uid, "an interrupted copy had arrived");
                    st.confirm_copy(s.intent, Some(dest_uid), now())?;
                }
                Settled::NotArrived => {
                    tracing::debug!(uid = s.key.uid, "an interrupted copy had not arrived");
                    st.discard_intent(s.intent)?;
                }
            }
        }
        for key in plan
            .retire
            .iter()
            .chain(&plan.forget_recreated)
            .chain(&plan.forget_lost)
        {
            st.forget_message(*key)?;
        }
        if !plan.forget_lost.is_empty() {
            tracing::info!(folder = %job.source_name.display(), lost = plan.forget_lost.len(), "copies no longer at the destination are copied again");
        }
    }
    let Plan {
        messages: verdicts,
        on_record: mapped,
        ..
    } = plan;

    let mut to_copy: Vec<Candidate> = Vec::new();
    for (c, verdict) in candidates.into_iter().zip(verdicts) {
        let uid = c.meta.uid;
        match verdict {
            Verdict::OnRecord { .. } => {
                report.already_there += 1;
                labelled.insert(c.message.fingerprint.clone());
            }
            Verdict::Exhausted => {
                report.failed += 1;
                report.errors.push(not_copied(
                    &c,
                    "refused by the destination several times; not tried again",
                ));
            }
            Verdict::Skipped(reason) => {
                report.skipped += 1;
                record(
                    &mut state,
                    options,
                    &c.message,
                    NotCopied::Skipped(reason),
                    now,
                )?;
                sink.emit(Event::MessageSkipped {
                    folder: display.clone(),
                    uid,
                    reason: reason.words().to_owned(),
                });
            }
            Verdict::InOtherFolder => {
                // Copied from one of its labels already: not doubled in Archive.
                labelled.take(&c.message.fingerprint);
                report.in_other_folders += 1;
                record(
                    &mut state,
                    options,
                    &c.message,
                    NotCopied::Excluded {
                        rule: "already copied from another Gmail label".to_owned(),
                    },
                    now,
                )?;
            }
            Verdict::Found { dest_uid } => {
                report.already_there += 1;
                labelled.insert(c.message.fingerprint.clone());
                if let (Some(st), Some(dest_folder), false) =
                    (state.as_deref_mut(), dest_id, options.dry)
                {
                    st.record_already_there(&c.message, dest_folder, Some(dest_uid), now())?;
                }
            }
            Verdict::TooBig { limit } => {
                report.failed += 1;
                let reason = format!(
                    "larger ({}) than the destination accepts ({})",
                    human_bytes(c.message.size),
                    human_bytes(limit)
                );
                record(
                    &mut state,
                    options,
                    &c.message,
                    NotCopied::Failed {
                        reason: FailReason::TooBig,
                        server_text: None,
                    },
                    now,
                )?;
                report.errors.push(not_copied(&c, &reason));
            }
            Verdict::Copy => to_copy.push(c),
        }
    }

    let bytes_to_copy: u64 = to_copy.iter().map(|c| c.message.size).sum();
    sink.emit(Event::FolderScanned {
        folder: display.clone(),
        messages: report.messages,
        to_copy: to_copy.len() as u64,
        bytes_to_copy,
        already_there: report.already_there,
    });

    if options.dry {
        report.transferred = to_copy.len() as u64;
        report.bytes = bytes_to_copy;
        for c in &to_copy {
            labelled.insert(c.message.fingerprint.clone());
        }
        sink.emit(Event::FolderDone { folder: display });
        return Ok(());
    }
    let (Some(st), Some(dest_folder), Some(dst_status)) = (state, dest_id, dst_status) else {
        unreachable!("a real run has a state store and a destination folder")
    };
    let mut dropped: BTreeSet<String> = BTreeSet::new();
    let (batch_messages, batch_bytes) = pace.lock().await.batch_limits(options);
    // While a link is still being measured, a small first batch measures it
    // early (and the rest may then go compressed).
    let first_bytes = if source.measuring_link() || dest.measuring_link() {
        crate::imap::link::MEASURING_BATCH_BYTES
    } else {
        batch_bytes
    };
    let batches = split_batches(&to_copy, batch_messages, batch_bytes, first_bytes);
    // A batch read ahead, with its bytes counted in the run's total.
    let mut next_bodies: Option<Bodies<'_>> = None;
    let src_folder = SourceFolder {
        name: job.source_name,
        uid_validity: src_status.uid_validity,
        // A connection lost mid-batch is first the folder's to retry (with
        // its wait, shown to the user); lost again on a retry, the batch is
        // fetched one message at a time, so a message the server breaks off
        // on every time is a refusal of its own.
        reconnect: options.max_retries > 0 && job.attempt.get() > 0,
    };

    // 5. Before the switch: flag changes at the source, and (opt-in)
    // removals of messages gone from the source. After it, runs only add.
    // They concern copies made by earlier runs (a copy made now carries its
    // flags, recorded with it), so they are written before the new
    // messages go, while the source reads the first batch: over a long
    // link the two waits overlap.
    let mut needs_confirmation: Option<FolderStop> = None;
    let mut changes: Option<Changes> = None;
    if st.phase()? == Phase::PreCutover {
        if let Some(folder) = folder_id {
            let mut found = Changes::find(
                st,
                folder,
                src_status.uid_validity,
                dest_folder,
                &source_flags,
                partial,
                &dst_status,
            )?;
            if !listing_complete && !found.gone.is_empty() {
                tracing::warn!(
                    folder = %job.source_name.display(),
                    listed = report.messages,
                    exists = src_status.exists,
                    "the source's listing is incomplete: nothing is removed at the destination this time"
                );
                found.gone.clear();
            }
            let count = found.gone.len();
            let at_dest = found.at_destination;
            if options.delete2
                && count > 0
                && !options.delete2_force
                && (count >= 50 || (count > 3 && count * 10 > at_dest))
            {
                // The new messages still go; the folder then stops, asking.
                needs_confirmation = Some(FolderStop::Fatal(Error::new(
                    Problem::RemovalNeedsConfirmation {
                        folder: display.clone(),
                        count: count as u64,
                        total: at_dest as u64,
                    },
                )));
            } else {
                changes = Some(found);
            }
        }
    }
    // Appending to the folder this session has open would make the server
    // refresh its view of it after every command (not worth a round trip
    // for a few new messages). A folder opened read-write is left only by
    // UNSELECT: CLOSE would remove the messages marked deleted there.
    let leave = to_copy.len() > UNSELECT_ABOVE;
    let writes = changes.as_ref().is_some_and(|c| c.writes(options.delete2));
    // The first batch is read meanwhile when the destination has a round
    // trip of its own to make first (and the allowances and the run's
    // bytes in flight let it go).
    let first = if (writes || leave) && !options.cancel.is_cancelled() {
        let pace = pace.lock().await;
        batches
            .first()
            .and_then(|r| read_ahead(&to_copy[r.clone()], &pace, in_flight, now))
    } else {
        None
    };
    let (prepared, fetched) = tokio::join!(
        async {
            let selected = match &changes {
                Some(c) => {
                    apply_changes(
                        dest,
                        st,
                        job,
                        c,
                        (!selected).then_some(dst_status.uid_validity),
                        &mut dropped,
                        report,
                    )
                    .await?
                        || selected
                }
                None => selected,
            };
            if leave && (!selected || dest.capabilities().has("UNSELECT")) {
                dest.unselect_examined().await?;
            }
            Ok::<(), FolderStop>(())
        },
        async {
            match first {
                Some((batch, held)) => Some(fetch_batch(source, &src_folder, batch, held).await),
                None => None,
            }
        }
    );
    prepared?;
    if let Some(bodies) = fetched {
        next_bodies = Some(bodies?);
    }

    // 6. Copy in batches. The source FETCH of the next batch overlaps the
    // APPEND of this one, so a folder holds at most two batches' bytes
    // (the second only within the run's bound on bytes in flight).
    for (i, range) in batches.iter().enumerate() {
        if options.cancel.is_cancelled() {
            report.dropped_keywords = dropped.into_iter().collect();
            return Err(FolderStop::Cancelled);
        }
        let batch = &to_copy[range.clone()];
        let batch_bytes_now: u64 = batch.iter().map(|c| c.message.size).sum();
        // The pace is the run's, shared by the folders copied at once.
        if let Err(stop) = pace
            .lock()
            .await
            .admit(
                batch.len() as u64,
                batch_bytes_now,
                now,
                &options.cancel,
                sink,
            )
            .await
        {
            report.dropped_keywords = dropped.into_iter().collect();
            return Err(stop);
        }
        let bodies = match next_bodies.take() {
            Some(read) => read,
            None => {
                let held = in_flight.hold(batch_bytes_now);
                fetch_batch(source, &src_folder, batch, held).await?
            }
        };
        // The next batch is read ahead only if the allowances and the
        // run's bytes in flight would let it go.
        let following = {
            let pace = pace.lock().await;
            batches
                .get(i + 1)
                .filter(|_| !options.cancel.is_cancelled())
                .and_then(|r| read_ahead(&to_copy[r.clone()], &pace, in_flight, now))
        };
        let outcome = copy_batch(
            source,
            &src_folder,
            dest,
            writers,
            st,
            job,
            dest_folder,
            &dst_status,
            batch,
            bodies,
            following,
            &mut dropped,
            report,
            sink,
        )
        .await;
        // This batch's bodies (and their count in flight) are gone with the copy.
        let fetched_next = match outcome {
            Ok(next) => next,
            Err(stop) => {
                report.dropped_keywords = dropped.into_iter().collect();
                return Err(stop);
            }
        };
        for c in batch {
            labelled.insert(c.message.fingerprint.clone());
        }
        match fetched_next {
            Some(Ok(bodies)) => next_bodies = Some(bodies),
            Some(Err(e)) => {
                report.dropped_keywords = dropped.into_iter().collect();
                return Err(FolderStop::Fatal(e));
            }
            None => {}
        }
        pace.lock()
            .await
            .account(
                batch.len() as u64,
                batch.iter().map(|c| c.message.size).sum(),
            )
            .await;
    }
    let highest = report_highest_uid(&to_copy, &mapped);

    if let Some(stop) = needs_confirmation {
        return Err(stop);
    }
    // The destination's UIDNEXT as this pass leaves it, when the pass was
    // clean: before any APPEND of this pass, or after the last one. Mail
    // arriving there later moves it, so the next run compares the folder in
    // full (see the shortcut above).
    if report.failed == 0 && report.skipped == 0 {
        let uidnext = if report.transferred == 0 {
            dst_status.uid_next
        } else {
            st.highest_dest_uid(dest_folder)?
                .and_then(|uid| uid.checked_add(1))
        };
        st.set_dest_uidnext(dest_folder, uidnext)?;
    }
    if let Some(folder) = folder_id {
        // HIGHESTMODSEQ is kept only after a clean pass (nothing refused,
        // nothing held back by a filter, flag changes written), so the next
        // run's shortcuts never skip a message or a change that still has
        // to go. An empty folder's pass is clean too: kept, it is not
        // opened again until something changes.
        let clean = report.failed == 0 && report.skipped == 0;
        st.set_folder_progress(
            folder,
            highest.unwrap_or(0),
            src_status.highest_modseq.filter(|_| clean),
            now(),
        )?;
    }
    report.dropped_keywords = dropped.into_iter().collect();
    sink.emit(Event::FolderDone { folder: display });
    Ok(())
}

fn report_highest_uid(to_copy: &[Candidate], mapped: &BTreeSet<u32>) -> Option<u32> {
    to_copy
        .iter()
        .map(|c| c.meta.uid)
        .chain(mapped.iter().copied())
        .max()
}

/// UIDs asked for per FETCH of identities: bounds the memory a huge folder
/// takes while its replies are read.
const META_CHUNK: u32 = 5_000;

/// Size, flags, date and identifying headers of every message in the
/// selected folder, fetched in UID ranges of [`META_CHUNK`]; `first`: the
/// first range's, when already read (with opening the folder).
async fn all_meta(
    session: &mut ReadOnly<'_>,
    status: &FolderStatus,
    first: Option<Vec<MessageMeta>>,
) -> Result<Vec<MessageMeta>, Error> {
    if status.exists == 0 {
        return Ok(Vec::new());
    }
    let Some(next) = status.uid_next.filter(|n| *n > 1) else {
        return session.fetch_meta("1:*").await;
    };
    // EXISTS is the server's word, not an allocation size.
    let mut out = Vec::with_capacity((status.exists as usize).min(META_CHUNK as usize));
    let mut start = 1u32;
    if let Some(first) = first {
        out.extend(first);
        start = META_CHUNK + 1;
    }
    while start < next {
        let end = start.saturating_add(META_CHUNK - 1).min(next - 1);
        out.extend(session.fetch_meta(&format!("{start}:{end}")).await?);
        start = end + 1;
    }
    Ok(out)
}

/// More messages to copy than this, and the destination folder is left
/// (UNSELECT) before appending to it.
const UNSELECT_ABOVE: usize = 100;

/// What a look at a folder says: its UIDVALIDITY, message count, next
/// UID and HIGHESTMODSEQ, from EXAMINE or from STATUS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Seen {
    pub(super) uid_validity: u32,
    pub(super) exists: u32,
    pub(super) uid_next: Option<u32>,
    pub(super) highest_modseq: Option<u64>,
}

impl From<&FolderStatus> for Seen {
    fn from(s: &FolderStatus) -> Seen {
        Seen {
            uid_validity: s.uid_validity,
            exists: s.exists,
            uid_next: s.uid_next,
            highest_modseq: s.highest_modseq,
        }
    }
}

impl Seen {
    /// From STATUS counts; `None` without a UIDVALIDITY (nothing can be
    /// compared then).
    pub(super) fn of_counts(c: &Counts) -> Option<Seen> {
        Some(Seen {
            uid_validity: c.uid_validity?,
            exists: c.messages,
            uid_next: c.uid_next,
            highest_modseq: c.highest_modseq,
        })
    }
}

/// Both sides of a folder as STATUS showed them before the run.
#[derive(Clone, Copy, Debug)]
pub(super) struct Glance {
    pub(super) source: Seen,
    pub(super) dest: Seen,
}

/// What the store's record of a folder says, given how both sides look now.
enum OnRecord {
    /// Nothing moved since the last clean pass: this many messages are at
    /// the destination, this many held back as in other folders.
    Unchanged { at_destination: u64, excluded: u64 },
    /// Only new messages and flag changes can have happened since
    /// HIGHESTMODSEQ `last` (the destination holds exactly what the store
    /// knows of); `known`: the store's rows of the folder.
    Since {
        last: u64,
        known: Vec<MessageRecord>,
    },
    /// The long way: read both sides.
    Unknown,
}

/// Compares how a folder looks now with the last clean pass on record.
/// Unchanged: same UIDVALIDITY and HIGHESTMODSEQ at the source (no message
/// added, removed or re-flagged), every message there with a recorded
/// fate, and the same destination folder (UIDVALIDITY) holding exactly
/// what the store knows of (count and UIDNEXT). `since`: also say whether
/// only what changed needs reading.
fn on_record(
    st: &mut State,
    job: &FolderJob<'_>,
    src: &Seen,
    dst: Option<&Seen>,
    since: bool,
) -> Result<OnRecord, FolderStop> {
    let Some(modseq) = src.highest_modseq else {
        return Ok(OnRecord::Unknown);
    };
    let Some(rec) = st.folder(job.source_name)? else {
        return Ok(OnRecord::Unknown);
    };
    let same_folders = rec.source_uidvalidity == src.uid_validity
        && rec.highest_modseq.is_some()
        && rec.dest.name == job.dest_name.display()
        && dst.map(|d| d.uid_validity) == rec.dest.uidvalidity
        && !st
            .in_doubt_intents()?
            .iter()
            .any(|i| i.message.key.folder == rec.id);
    if !same_folders {
        return Ok(OnRecord::Unknown);
    }
    // …and the destination holds exactly what the store knows of there: a
    // copy deleted at the destination goes the long way, which puts it
    // back. A count alone is not enough: a copy deleted there and new mail
    // arriving keep it. New mail moves UIDNEXT, so it must be where the
    // last clean pass left it.
    let known_at_dest = st.dest_fingerprints(rec.dest.id)?.len();
    let dest_intact = dst.map(|d| d.exists as usize) == Some(known_at_dest)
        && dst
            .and_then(|d| d.uid_next)
            .is_some_and(|next| rec.dest.uidnext == Some(next));
    // Every message has a recorded fate after a clean pass: a count that
    // disagrees (a folder that suddenly looks empty) is not "unchanged",
    // and goes the long way with its safety checks.
    let (present, at_destination, excluded) = st.fate_counts(rec.id, rec.source_uidvalidity)?;
    if dest_intact && rec.highest_modseq == Some(modseq) && present == u64::from(src.exists) {
        return Ok(OnRecord::Unchanged {
            at_destination,
            excluded,
        });
    }
    match (dest_intact, since, rec.highest_modseq) {
        (true, true, Some(last)) => Ok(OnRecord::Since {
            last,
            known: st.messages_in_folder(rec.id, rec.source_uidvalidity)?,
        }),
        _ => Ok(OnRecord::Unknown),
    }
}

/// Does the look before the run show this folder unchanged since its last
/// clean pass (so it is not even opened)? No look, or a store that cannot
/// tell: no.
pub(super) fn unchanged_at_glance(st: &mut State, job: &FolderJob<'_>) -> bool {
    let Some(glance) = job.glance else {
        return false;
    };
    matches!(
        on_record(st, job, &glance.source, Some(&glance.dest), false),
        Ok(OnRecord::Unchanged { .. })
    )
}

/// A folder found unchanged: counted as it was, nothing read or written.
#[allow(clippy::too_many_arguments)] // the folder's report, its events and the labels seen
fn unchanged(
    st: &mut State,
    job: &FolderJob<'_>,
    exists: u32,
    at_destination: u64,
    excluded: u64,
    labelled: &mut Multiset,
    report: &mut FolderReport,
    sink: &mut dyn EventSink,
) -> Result<(), FolderStop> {
    report.already_there += at_destination;
    report.in_other_folders += excluded;
    if job.track_labels {
        if let Some(rec) = st.folder(job.source_name)? {
            for m in st.messages_in_folder(rec.id, rec.source_uidvalidity)? {
                if m.fate.is_at_destination() {
                    labelled.insert(m.fingerprint);
                }
            }
        }
    }
    report.messages = u64::from(exists);
    let name = job.source_name.display().to_owned();
    tracing::debug!(folder = %name, "unchanged since the last run");
    sink.emit(Event::FolderScanned {
        folder: name.clone(),
        messages: report.messages,
        to_copy: 0,
        bytes_to_copy: 0,
        already_there: report.already_there,
    });
    sink.emit(Event::FolderDone { folder: name });
    Ok(())
}

fn register_folder(
    st: &mut State,
    job: &FolderJob<'_>,
    src: &FolderStatus,
    dst: Option<&FolderStatus>,
) -> Result<(FolderId, DestFolderId, bool), StateError> {
    let now = (job.now)();
    let mut dest_changed = false;
    if let Some(rec) = st.folder(job.source_name)? {
        if rec.source_uidvalidity != src.uid_validity {
            tracing::debug!(folder = %job.source_name.display(), "source UIDVALIDITY changed; re-pairing by fingerprint");
            st.forget_folder_uids(rec.id, src.uid_validity, now)?;
        }
    }
    let rec = st.upsert_folder(
        job.source_name,
        src.uid_validity,
        job.dest_name,
        dst.map(|d| d.uid_validity),
        now,
    )?;
    if let (Some(known), Some(d)) = (rec.dest.uidvalidity, dst) {
        if known != d.uid_validity {
            tracing::debug!(folder = %job.dest_name.display(), "destination UIDVALIDITY changed; finding messages again by fingerprint");
            st.forget_dest_uids(rec.dest.id, d.uid_validity)?;
            dest_changed = true;
        }
    }
    Ok((rec.id, rec.dest.id, dest_changed))
}

fn record(
    state: &mut Option<&mut State>,
    options: &Options,
    message: &SourceMessage,
    fate: NotCopied,
    now: Clock<'_>,
) -> Result<(), StateError> {
    match state {
        Some(st) if !options.dry && message.key.folder != NO_FOLDER => {
            st.record_fate(message, fate, now())?;
            Ok(())
        }
        _ => Ok(()),
    }
}

fn skip_reason(c: &Candidate, options: &Options, now: i64) -> Option<SkipReason> {
    let size = c.message.size;
    if c.meta
        .flags
        .iter()
        .any(|f| f.eq_ignore_ascii_case("\\Deleted"))
    {
        return Some(SkipReason::DeletedAtSource);
    }
    // A message the source says is empty is still tried: a server may
    // count it wrong, and a destination that refuses it says so in its
    // own words (reported), rather than it being quietly left behind.
    if options.max_size.is_some_and(|max| size > max) {
        return Some(SkipReason::TooBig);
    }
    if options.min_size.is_some_and(|min| size < min) {
        return Some(SkipReason::TooSmall);
    }
    if let Some(date) = c.message.internaldate {
        let age_days = (now - date).max(0) as u64 / 86_400;
        if options.max_age_days.is_some_and(|max| age_days > max) {
            return Some(SkipReason::TooOld);
        }
        if options.min_age_days.is_some_and(|min| age_days < min) {
            return Some(SkipReason::TooNew);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_dates_parse_as_instants() {
        assert_eq!(parse_internal_date("01-Jan-1970 00:00:00 +0000"), Some(0));
        assert_eq!(
            parse_internal_date("01-Jan-1970 01:00:00 +0100"),
            Some(0),
            "the same instant in another zone"
        );
        assert_eq!(
            parse_internal_date(" 1-Mar-2024 09:00:00 +0000"),
            parse_internal_date("01-Mar-2024 09:00:00 +0000")
        );
        assert_eq!(parse_internal_date("garbage"), None);
    }
}
