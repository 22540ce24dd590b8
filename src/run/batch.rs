//! A folder's copy, batch by batch: the messages to copy split by count
//! and bytes, fetched from the source (one at a time when the source
//! refuses a batch or breaks off while sending it), and appended at the
//! destination, over several connections when the batch is large, with an
//! intent recorded before and a confirmation after.

use super::pace::Held;
use super::{not_copied, Candidate, Clock, FolderJob, FolderReport, FolderStop};
use crate::error::{Error, Problem};
use crate::event::{Event, EventSink};
use crate::folder::MailboxName;
use crate::imap::messages::{
    AppendItem, Appended, FetchedMessage, FolderStatus, ReadOnly, RefusalKind,
};
use crate::imap::Session;
use crate::state::{
    DestFolderId, FailReason, NotCopied, SkipReason, SourceMessage, State, StateError,
};
use std::collections::{BTreeMap, BTreeSet};

/// Splits the messages to copy into batches of at most `messages` and
/// `bytes` (a message larger than `bytes` goes alone).
pub(super) fn split_batches(
    to_copy: &[Candidate],
    messages: usize,
    bytes: u64,
    first_bytes: u64,
) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < to_copy.len() {
        let mut end = start;
        let mut sum = 0u64;
        let bytes = if out.is_empty() {
            first_bytes.min(bytes)
        } else {
            bytes
        };
        while end < to_copy.len()
            && (end == start
                || (end - start < messages && sum + to_copy[end].message.size <= bytes))
        {
            sum += to_copy[end].message.size;
            end += 1;
        }
        out.push(start..end);
        start = end;
    }
    out
}

/// A batch's messages as the source delivered them, and those it refused
/// to deliver (with its words). Their bytes are counted in the run's
/// [`InFlight`](super::pace::InFlight) for as long as they are held: a
/// batch can't be read without a [`Held`] to carry.
pub(super) struct Bodies<'f> {
    messages: Vec<FetchedMessage>,
    refused: BTreeMap<u32, String>,
    _held: Held<'f>,
}

/// Fetches a batch. A source that refuses the batch (Gmail: "Some
/// messages could not be FETCHed") or drops the connection while sending
/// it (Dovecot does, on a message it cannot read) is asked for each
/// message alone, so one unreadable message is a refusal of its own and
/// the rest still copy. A message is refused when the server refuses it
/// alone, or drops a fresh connection twice while sending it; a server
/// that can't be reached again is the folder's problem (retried as a
/// whole).
pub(super) async fn fetch_batch<'f>(
    source: &mut ReadOnly<'_>,
    folder: &SourceFolder<'_>,
    batch: &[Candidate],
    held: Held<'f>,
) -> Result<Bodies<'f>, Error> {
    let uids: Vec<u32> = batch.iter().map(|c| c.meta.uid).collect();
    let expected: u64 = batch.iter().map(|c| c.message.size).sum();
    let err = match source.fetch_bodies(&uids, expected).await {
        Ok(messages) => {
            return Ok(Bodies {
                messages,
                refused: BTreeMap::new(),
                _held: held,
            })
        }
        Err(e) => e,
    };
    // After a broken connection, or a reply too large to read, the next
    // command needs a fresh connection.
    let mut fresh = match Trouble::of(&err) {
        Trouble::Refused => false,
        Trouble::Unreadable => true,
        Trouble::Broken if folder.reconnect => true,
        Trouble::Broken | Trouble::Other => return Err(err),
    };
    tracing::debug!(error = %err, "the source did not deliver a batch; fetching its messages one by one");
    let mut bodies = Bodies {
        messages: Vec::with_capacity(batch.len()),
        refused: BTreeMap::new(),
        _held: held,
    };
    for c in batch {
        let mut broken = 0;
        loop {
            if fresh {
                folder.reopen(source).await?;
                fresh = false;
            }
            let e = match source.fetch_bodies(&[c.meta.uid], c.message.size).await {
                Ok(one) => {
                    bodies.messages.extend(one);
                    break;
                }
                Err(e) => e,
            };
            let words = match e.detail() {
                Some(detail) => detail.to_owned(),
                None => e.to_string(),
            };
            match Trouble::of(&e) {
                Trouble::Refused => {}
                Trouble::Unreadable => fresh = true,
                Trouble::Broken if folder.reconnect && broken == 0 => {
                    broken += 1;
                    fresh = true;
                    continue;
                }
                Trouble::Broken if folder.reconnect => {
                    fresh = true;
                    bodies.refused.insert(
                        c.meta.uid,
                        format!(
                            "the old server broke off each time it sent this message ({words})"
                        ),
                    );
                    break;
                }
                Trouble::Broken | Trouble::Other => return Err(e),
            }
            bodies.refused.insert(c.meta.uid, words);
            break;
        }
    }
    Ok(bodies)
}

/// What went wrong with a fetch, for [`fetch_batch`].
enum Trouble {
    /// The server said no (to these messages): the connection is fine.
    Refused,
    /// A message too large to read: that message's for good; the
    /// connection needs replacing.
    Unreadable,
    /// The connection was lost, or a reply could not be read (it is out of
    /// step): a fresh one may do, or the message breaks it every time.
    Broken,
    /// Not about these messages (a timeout, a busy server): the folder's
    /// to retry.
    Other,
}

impl Trouble {
    fn of(err: &Error) -> Trouble {
        if err.is_permanent_for_message() {
            return Trouble::Unreadable;
        }
        match err.problem() {
            Problem::ServerRefused { .. } => Trouble::Refused,
            Problem::ConnectionLost { .. } | Problem::Protocol { .. } => Trouble::Broken,
            _ => Trouble::Other,
        }
    }
}

/// The source folder being copied, to open again on a fresh connection.
pub(super) struct SourceFolder<'a> {
    pub(super) name: &'a MailboxName,
    pub(super) uid_validity: u32,
    /// Reconnecting within the batch is allowed (a retry of the folder,
    /// and `--reconnectretry` is not 0).
    pub(super) reconnect: bool,
}

impl SourceFolder<'_> {
    /// A fresh connection with the folder open again; the folder must be
    /// the same one (UIDVALIDITY), or the UIDs mean other messages.
    async fn reopen(&self, source: &mut ReadOnly<'_>) -> Result<(), Error> {
        source.reconnect().await?;
        let status = source.examine(self.name.wire()).await?;
        if status.uid_validity != self.uid_validity {
            return Err(Error::new(Problem::ServerBusy {
                host: source.endpoint().host.clone(),
                wait_secs: None,
            })
            .with_detail("the folder was replaced while it was being copied".to_owned()));
        }
        Ok(())
    }
}

/// Copies one batch whose messages were fetched (`bodies`): intents, the
/// APPENDs, confirmations. Meanwhile the `following` batch, if any, is
/// fetched from the source; its result is returned (a failure there is the
/// next batch's, not this one's: this one is recorded first).
#[allow(clippy::too_many_arguments)] // the batch needs both sides, the store and the folder's context
pub(super) async fn copy_batch<'f>(
    source: &mut ReadOnly<'_>,
    src_folder: &SourceFolder<'_>,
    dest: &mut Session,
    writers: &mut Writers<'_>,
    st: &mut State,
    job: &FolderJob<'_>,
    dest_folder: DestFolderId,
    dst_status: &FolderStatus,
    batch: &[Candidate],
    bodies: Bodies<'_>,
    following: Option<(&[Candidate], Held<'f>)>,
    dropped: &mut BTreeSet<String>,
    report: &mut FolderReport,
    sink: &mut dyn EventSink,
) -> Result<Option<Result<Bodies<'f>, Error>>, FolderStop> {
    let now = job.now;
    let display = job.source_name.display().to_owned();
    let by_uid: BTreeMap<u32, _> = bodies.messages.into_iter().map(|m| (m.uid, m)).collect();

    // Intents first: a crash from here on leaves a question, not a duplicate.
    let mut sending = Vec::new();
    for c in batch {
        if let Some(text) = bodies.refused.get(&c.meta.uid) {
            let words = format!("{}: {text}", FailReason::FetchFailed.words());
            refused(
                st,
                c,
                FailReason::FetchFailed,
                text,
                words,
                now,
                report,
                sink,
                &display,
            )?;
            continue;
        }
        let Some(body) = by_uid.get(&c.meta.uid) else {
            report.skipped += 1;
            st.record_fate(&c.message, NotCopied::Skipped(SkipReason::Vanished), now())?;
            continue;
        };
        let flags: Vec<String> = body
            .flags
            .iter()
            .filter(|f| !f.eq_ignore_ascii_case("\\Recent") && !f.eq_ignore_ascii_case("\\Deleted"))
            .filter(|f| {
                let kept = dst_status.keeps_flag(f) || dst_status.permanent_flags.is_empty();
                if !kept {
                    dropped.insert((*f).clone());
                }
                kept
            })
            .cloned()
            .collect();
        sending.push((c, body, flags));
    }
    let fetch_next = async {
        match following {
            Some((next, held)) => Some(fetch_batch(source, src_folder, next, held).await),
            None => None,
        }
    };
    if sending.is_empty() {
        return Ok(fetch_next.await);
    }
    // One transaction for the batch's intents, one for its confirmations:
    // a disk sync per batch, not two per message.
    let batch_intents: Vec<(&SourceMessage, &[String])> = sending
        .iter()
        .map(|(c, _, flags)| (&c.message, flags.as_slice()))
        .collect();
    let intents = st.record_intents(&batch_intents, dest_folder, None, now())?;
    let sending: Vec<_> = sending
        .into_iter()
        .zip(intents)
        .map(|((c, body, flags), intent)| (c, body, flags, intent))
        .collect();
    let items: Vec<AppendItem> = sending
        .iter()
        .map(|(_, body, flags, _)| AppendItem {
            flags,
            internal_date: body.internal_date.as_deref(),
            body: &body.body,
        })
        .collect();
    crate::crashpoint::hit("before_append");
    let (results, next) = futures::join!(
        writers.append(dest, job.dest_name.wire(), &items),
        fetch_next
    );
    let mut results = results?;
    crate::crashpoint::hit("after_ok");
    // A refusal may be the keywords' (Dovecot: "Keyword length too long"):
    // such a message goes once more with its system flags only; stored
    // then, its keywords are reported as left off, and it is not a failure.
    let retry: Vec<usize> = (0..results.len())
        .filter(|&i| {
            matches!(
                results[i],
                Appended::Refused {
                    kind: RefusalKind::Other,
                    ..
                }
            ) && sending[i].2.iter().any(|f| !f.starts_with('\\'))
        })
        .collect();
    if !retry.is_empty() {
        let system: Vec<Vec<String>> = retry
            .iter()
            .map(|&i| {
                sending[i]
                    .2
                    .iter()
                    .filter(|f| f.starts_with('\\'))
                    .cloned()
                    .collect()
            })
            .collect();
        let items: Vec<AppendItem> = retry
            .iter()
            .zip(&system)
            .map(|(&i, flags)| AppendItem {
                flags,
                internal_date: sending[i].1.internal_date.as_deref(),
                body: &sending[i].1.body,
            })
            .collect();
        let again = dest.append(job.dest_name.wire(), &items).await?;
        for (&i, result) in retry.iter().zip(again) {
            if !matches!(
                result,
                Appended::Refused {
                    kind: RefusalKind::Other,
                    ..
                }
            ) {
                if matches!(result, Appended::Stored { .. }) {
                    dropped.extend(
                        sending[i]
                            .2
                            .iter()
                            .filter(|f| !f.starts_with('\\'))
                            .cloned(),
                    );
                }
                results[i] = result;
            }
        }
    }

    let mut copied = 0u64;
    let mut copied_bytes = 0u64;
    let mut confirmed = Vec::with_capacity(sending.len());
    let mut full: Option<String> = None;
    let mut throttled: Option<String> = None;
    for ((c, body, _, intent), result) in sending.iter().zip(results) {
        match result {
            Appended::Stored { uid, uid_validity } => {
                let uid = uid.filter(|_| uid_validity.is_none_or(|v| v == dst_status.uid_validity));
                confirmed.push((*intent, uid));
                copied += 1;
                copied_bytes += body.body.len() as u64;
            }
            Appended::Refused {
                kind: RefusalKind::OverQuota,
                text,
            } => {
                // Not the message's fault: leave it for the next run.
                st.discard_intent(*intent)?;
                full.get_or_insert(text);
            }
            Appended::Refused {
                kind: RefusalKind::Throttled,
                text,
            } => {
                // Never the message's fault either: wait and try again.
                st.discard_intent(*intent)?;
                throttled.get_or_insert(text);
            }
            Appended::Refused { kind, text } => {
                let reason = match kind {
                    RefusalKind::TooBig => FailReason::TooBig,
                    _ => FailReason::Rejected,
                };
                let words = format!("{}: {text}", reason.words());
                refused(st, c, reason, &text, words, now, report, sink, &display)?;
            }
        }
    }
    st.confirm_copies(&confirmed, now())?;
    crate::crashpoint::hit("after_commit");
    report.transferred += copied;
    report.bytes += copied_bytes;
    if copied > 0 {
        sink.emit(Event::MessagesCopied {
            folder: display.clone(),
            count: copied,
            bytes: copied_bytes,
        });
    }
    if let Some(text) = throttled {
        let err = Error::new(Problem::ServerBusy {
            host: dest.endpoint().host.clone(),
            wait_secs: crate::provider::suggested_backoff_secs(&text),
        })
        .with_detail(format!("The server said: {text}"));
        return Err(FolderStop::Fatal(err));
    }
    if let Some(text) = full {
        let err = Error::new(Problem::DestinationFull {
            host: dest.endpoint().host.clone(),
        })
        .with_detail(format!("The server said: {text}"));
        return Err(FolderStop::Full(err));
    }
    Ok(next)
}

/// The least a connection gets of a batch split between several, in
/// bytes, or else in messages that wait a round trip for the server's `+`
/// (another sign-in costs a handful, so over a long link a share of this
/// many such messages gains more than the new connection costs; messages
/// sent without waiting gain nothing from it).
const MIN_SHARE_BYTES: usize = 2 * 1024 * 1024;
/// See [`MIN_SHARE_BYTES`].
const MIN_SHARE_MESSAGES: usize = 8;

/// The destination connections a batch is written through: the run's own
/// session plus extra ones opened on first need.
pub struct Writers<'a> {
    pub(super) extra: &'a mut Vec<Session>,
    pub(super) connections: usize,
    /// Destination connections the run may still open: shared by the
    /// folders copied at once, each holding one and taking extra writers
    /// only from what is left.
    pub(super) free: &'a std::sync::atomic::AtomicUsize,
}

/// Takes one of the run's free destination places, if any is left.
pub(super) fn take_place(free: &std::sync::atomic::AtomicUsize) -> bool {
    use std::sync::atomic::Ordering;
    free.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

impl Writers<'_> {
    /// APPENDs `items`, split over up to `connections` sessions at once;
    /// results come back in the order of `items`.
    async fn append(
        &mut self,
        dest: &mut Session,
        folder: &str,
        items: &[AppendItem<'_>],
    ) -> Result<Vec<Appended>, Error> {
        // Small batches go whole: another sign-in costs more than it saves.
        // Connections already open (kept from an earlier batch) are used
        // whenever each gets two messages or more.
        let bytes: usize = items.iter().map(|i| i.body.len()).sum();
        // Fewer than two shares' worth of messages decide nothing here:
        // each message's inertness is then read only once, by the APPEND.
        let waiting = if items.len() >= 2 * MIN_SHARE_MESSAGES {
            items.iter().filter(|i| dest.waits_for_go_ahead(i)).count()
        } else {
            0
        };
        let worth = (bytes / MIN_SHARE_BYTES)
            .max(waiting / MIN_SHARE_MESSAGES)
            .max(1 + self.extra.len());
        let wanted = self.connections.min(items.len() / 2).min(worth).max(1);
        while self.extra.len() + 1 < wanted && take_place(self.free) {
            match dest.another().await {
                Ok(session) => self.extra.push(session),
                Err(e) => {
                    self.free.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    // The server may limit connections: carry on with fewer.
                    tracing::debug!(error = %e, "could not open another connection to the destination");
                    break;
                }
            }
        }
        let sessions = 1 + self.extra.len().min(wanted - 1);
        if sessions == 1 {
            return dest.append(folder, items).await;
        }
        let per = items.len().div_ceil(sessions);
        let writes = std::iter::once(dest)
            .chain(self.extra.iter_mut())
            .zip(items.chunks(per))
            .map(|(session, chunk)| session.append(folder, chunk));
        let mut results = Vec::with_capacity(items.len());
        let mut failure = None;
        for outcome in futures::future::join_all(writes).await {
            match outcome {
                Ok(r) => results.extend(r),
                // The whole batch is then in doubt: the retry finds what
                // arrived by fingerprint and sends only the rest.
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(results),
        }
    }
}

/// A message one server refused: its fate recorded with the server's
/// words, reported, and told to the watcher.
#[allow(clippy::too_many_arguments)] // the store, the report and the sink all hear of it
fn refused(
    st: &mut State,
    c: &Candidate,
    reason: FailReason,
    server_text: &str,
    words: String,
    now: Clock<'_>,
    report: &mut FolderReport,
    sink: &mut dyn EventSink,
    folder: &str,
) -> Result<(), StateError> {
    st.record_fate(
        &c.message,
        NotCopied::Failed {
            reason,
            server_text: Some(server_text.to_owned()),
        },
        now(),
    )?;
    report.failed += 1;
    report.errors.push(not_copied(c, &words));
    sink.emit(Event::MessageFailed {
        folder: folder.to_owned(),
        uid: c.meta.uid,
        reason: words,
    });
    Ok(())
}
