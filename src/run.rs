//! The copy: every mapped source folder's messages into its destination
//! folder, byte for byte with flags and dates, recorded so that a re-run,
//! a crash or a lost connection never loses or doubles a message.
//!
//! Per folder, in order:
//! 1. EXAMINE both folders (the source is only ever read: EXAMINE and
//!    BODY.PEEK; [`Session`] offers this code no way to delete there).
//! 2. Read identities on both sides: size, flags, date and the headers
//!    that make a [`Fingerprint`].
//! 3. Pair: the UID map in the state store first; after a UIDVALIDITY
//!    change, the old rows are re-paired by fingerprint; then an APPEND that
//!    was in flight when a run died (an intent) is settled by looking for
//!    its fingerprint at the destination; then every other source message
//!    whose fingerprint is at the destination and not yet claimed counts as
//!    already there (a multiset: two genuine copies stay two). This is
//!    decided by [`crate::pairing::pair`], a pure function of what was read;
//!    this module reads, and applies its plan.
//! 4. Copy the rest in batches bounded by count and bytes: an intent is
//!    recorded before the APPEND, the copy is confirmed after the server's
//!    OK. A refused message is recorded with the server's words and the run
//!    goes on; a full mailbox stops the run.
//!
//! 5. Before the switch (pre-cutover): bring over flag changes made at the
//!    source since the last run, as a delta (a flag the user set at the
//!    destination, and the source never changed, is kept); with `delete2`,
//!    remove at the destination the messages MailFerry copied that are gone
//!    from the source — and stop to ask when that is suspiciously many.
//!    After the switch, runs only add.
//!
//! Shortcuts from a clean pass (CONDSTORE): a folder whose HIGHESTMODSEQ
//! has not moved costs its two EXAMINEs; one where only new messages and
//! flag changes happened, whose destination holds only what the store
//! knows of, reads just what changed (`UID FETCH 1:* … (CHANGEDSINCE m)`)
//! instead of every message's identity on both sides.

use crate::error::{Error, Problem};
use crate::event::{Event, EventSink};
use crate::folder::{AllMailPolicy, FolderMap, MailboxName, Target};
use crate::identity::{Fingerprint, Multiset, Summary};
use crate::imap::messages::{
    AppendItem, Appended, FetchedMessage, FolderStatus, MessageMeta, ReadOnly, RefusalKind,
};
use crate::imap::Session;
use crate::pairing::{self, DestMessage, Listed, Plan, Recorded, Settled, Verdict};
use crate::state::{
    DestFolderId, FailReason, FolderId, MessageKey, MessageRecord, NotCopied, RunCounters,
    SkipReason, SourceMessage, State, StateError,
};
use crate::state::{Fate, Phase};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

mod pace;
pub use pace::{Budget, Budgets, Pace};

/// What to copy and how.
#[derive(Clone, Debug)]
pub struct Options {
    /// Say what would happen; write nothing anywhere (state included).
    pub dry: bool,
    /// Skip messages larger than this many bytes (`--maxsize`); a later
    /// run without it copies them (the large-message pass).
    pub max_size: Option<u64>,
    /// Skip messages smaller than this (`--minsize`).
    pub min_size: Option<u64>,
    /// Skip messages older than this many days (`--maxage`).
    pub max_age_days: Option<u64>,
    /// Skip messages newer than this many days (`--minage`).
    pub min_age_days: Option<u64>,
    /// At most this many messages per FETCH/APPEND batch.
    pub batch_messages: usize,
    /// At most this many bytes per batch (bounds memory, whatever the count).
    pub batch_bytes: u64,
    /// A message refused this many times is reported, not tried again.
    pub max_attempts: u32,
    /// Before the switch only: remove at the destination the messages
    /// MailFerry copied that are gone from the source (`--delete2`).
    pub delete2: bool,
    /// With `delete2`: remove even when it is many (the user checked the
    /// source and confirms).
    pub delete2_force: bool,
    /// Source folders (display names) the user accepts as renumbered: the
    /// old server gave them new UIDs and too few of the copies made before
    /// were found in them again, so they are held back until accepted
    /// (`--accept-renumbered`).
    pub accept_renumbered: Vec<String>,
    /// The domain's mail now arrives at the destination: recorded in the
    /// job once, and from then on every run of the job only adds (no flag
    /// changes, no removals), whoever starts it.
    pub after_switch: bool,
    /// A folder interrupted by a lost connection, a timeout or a busy
    /// server is retried this many times (reconnecting, waiting longer each
    /// time, or as long as the server asks) before the run gives up.
    pub max_retries: u32,
    /// At most this many messages per second are copied (`--maxmessagespersecond`).
    pub max_messages_per_second: Option<f64>,
    /// At most this many bytes per second are copied (`--maxbytespersecond`).
    pub max_bytes_per_second: Option<u64>,
    /// Daily allowances of the accounts, on top of the per-second pace:
    /// bytes read from the source per day, bytes written to the destination
    /// per day, messages the destination takes per hour. `None`: the
    /// provider's preset (Gmail: 2,500 MB down and 500 MB up a day;
    /// Microsoft 365: 3,600 messages an hour); `Some(0)`: no allowance.
    pub download_bytes_per_day: Option<u64>,
    /// See `download_bytes_per_day`.
    pub upload_bytes_per_day: Option<u64>,
    /// See `download_bytes_per_day`.
    pub messages_per_hour: Option<u64>,
    /// Connections writing to the destination at once: a batch is split
    /// between them, so the destination's per-message disk syncs overlap.
    /// Capped by the destination provider's connection limit.
    pub connections: usize,
    /// Checked between batches: once cancelled, the run finishes the batch
    /// in flight, records it, and stops (the report says so).
    pub cancel: Cancel,
}

/// A cooperative stop signal, shared between the run and whoever may stop
/// it (the desktop shell's pause button, Ctrl-C).
#[derive(Clone, Debug, Default)]
pub struct Cancel(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Cancel {
    /// A fresh signal, not cancelled.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Asks the run to stop after the batch in flight.
    pub fn cancel(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Has a stop been asked for?
    pub fn is_cancelled(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            dry: false,
            max_size: None,
            min_size: None,
            max_age_days: None,
            min_age_days: None,
            batch_messages: 1000,
            batch_bytes: 16 * 1024 * 1024,
            max_attempts: 3,
            delete2: false,
            delete2_force: false,
            accept_renumbered: Vec::new(),
            after_switch: false,
            max_retries: 5,
            max_messages_per_second: None,
            max_bytes_per_second: None,
            download_bytes_per_day: None,
            upload_bytes_per_day: None,
            messages_per_hour: None,
            connections: 4,
            cancel: Cancel::new(),
        }
    }
}

/// A message that could not be copied, as the report lists it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct NotCopiedMessage {
    /// Its UID at the source.
    pub uid: u32,
    /// Message-ID, From, Subject, Date, to recognise it.
    pub message_id: Option<String>,
    /// From header.
    pub from: Option<String>,
    /// Subject header.
    pub subject: Option<String>,
    /// Date header.
    pub date: Option<String>,
    /// Why, in plain words.
    pub reason: String,
}

/// One folder's result.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct FolderReport {
    /// Source folder (display name).
    pub source: String,
    /// Destination folder (display name).
    pub destination: String,
    /// Messages in the source folder.
    pub messages: u64,
    /// Copied now (in a dry run: would be copied).
    pub transferred: u64,
    /// Bytes copied now (or that would be).
    pub bytes: u64,
    /// Already at the destination (copied earlier, or by another tool).
    pub already_there: u64,
    /// Not copied on purpose (filters, deleted at source, Gmail labels).
    pub skipped: u64,
    /// Refused by the destination (listed in `errors`).
    pub failed: u64,
    /// The refused messages, with reasons.
    pub errors: Vec<NotCopiedMessage>,
    /// Keywords the destination folder cannot store (dropped, message kept).
    pub dropped_keywords: Vec<String>,
    /// Messages copied earlier whose read/starred/answered state (or other
    /// tags) changed at the source and was brought over.
    pub flags_updated: u64,
    /// Messages removed at the destination because they are gone from the
    /// source (`--delete2`, before the switch).
    pub removed: u64,
    /// Gmail's All Mail: messages already copied through one of their
    /// labels (another folder), so not copied into this one again.
    pub in_other_folders: u64,
    /// The folder could not be copied this time (a server refused to open
    /// or read it: its words); the next run tries it again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// What a run did.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Report {
    /// Nothing was written.
    pub dry: bool,
    /// Per folder, in the order copied.
    pub folders: Vec<FolderReport>,
    /// Source folders left out by the folder map, with the reason.
    pub excluded_folders: Vec<(String, String)>,
    /// Why the run stopped early, if it did.
    pub stopped: Option<String>,
    /// Source folders renamed at the old server since an earlier run, and
    /// what became of their copies.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub renamed: Vec<crate::folder::Renamed>,
}

impl Report {
    /// Messages copied in this run.
    pub fn transferred(&self) -> u64 {
        self.folders.iter().map(|f| f.transferred).sum()
    }

    /// Folders that could not be copied this run.
    pub fn refused(&self) -> impl Iterator<Item = &FolderReport> {
        self.folders.iter().filter(|f| f.refused.is_some())
    }

    /// Messages refused.
    pub fn failed(&self) -> u64 {
        self.folders.iter().map(|f| f.failed).sum()
    }

    /// Messages already at the destination.
    pub fn already_there(&self) -> u64 {
        self.folders.iter().map(|f| f.already_there).sum()
    }

    /// Messages skipped on purpose.
    pub fn skipped(&self) -> u64 {
        self.folders.iter().map(|f| f.skipped).sum()
    }

    /// 0: all copied; 1: finished with messages not copied.
    pub fn exit_code(&self) -> u8 {
        if self.failed() > 0 || self.stopped.is_some() || self.refused().next().is_some() {
            1
        } else {
            0
        }
    }

    fn counters(&self) -> RunCounters {
        RunCounters {
            copied: self.transferred(),
            already_there: self.already_there(),
            skipped: self.skipped(),
            failed: self.failed(),
            bytes_copied: self.folders.iter().map(|f| f.bytes).sum(),
            flags_updated: self.folders.iter().map(|f| f.flags_updated).sum(),
            removed: self.folders.iter().map(|f| f.removed).sum(),
            ..RunCounters::default()
        }
    }
}

/// The folder id of messages seen in a dry run of a folder the store
/// doesn't know (never written).
const NO_FOLDER: FolderId = FolderId(0);

/// The report's words for a run stopped on request.
pub const STOPPED: &str = "stopped on request; running the copy again picks up where it stopped";

/// The run's clock: unix seconds. Passed in so tests control time.
pub type Clock<'a> = &'a dyn Fn() -> i64;

fn state_error(err: StateError) -> Error {
    if err.is_busy() {
        return Error::new(Problem::JobBusy).with_detail(err.to_string());
    }
    Error::new(Problem::StateFailed {
        path: String::from("the migration's progress file"),
    })
    .with_detail(err.to_string())
}

/// Copies every folder of `map` from `source` to `dest`. With `state` set
/// to `None` (a dry run with no progress file yet), nothing is known and
/// nothing is recorded.
pub async fn sync(
    source: &mut Session,
    dest: &mut Session,
    map: &FolderMap,
    mut state: Option<&mut State>,
    options: &Options,
    now: Clock<'_>,
    sink: &mut dyn EventSink,
) -> Result<Report, Error> {
    // The source is only ever read (EXAMINE, BODY.PEEK): by type, from here.
    let source = &mut ReadOnly::new(source);
    let mut report = Report {
        dry: options.dry,
        ..Report::default()
    };
    // All Mail comes last (the map puts it there): messages already copied
    // from a label are not copied again into Archive.
    let mut labelled = Multiset::new();
    let entries: Vec<_> = map
        .entries
        .iter()
        .filter_map(|e| match &e.target {
            Target::Folder { name, .. } => Some((e, name)),
            Target::Excluded => {
                let why = e
                    .reasons
                    .iter()
                    .map(|r| r.describe())
                    .collect::<Vec<_>>()
                    .join(", ");
                report
                    .excluded_folders
                    .push((e.source.display().to_owned(), why));
                None
            }
        })
        .collect();
    // After the switch, runs only add: the job records it once, and a
    // removal asked for then is refused before anything is touched.
    if let Some(st) = state.as_deref_mut() {
        if options.after_switch && !options.dry {
            st.set_phase(Phase::PostCutover, now())
                .map_err(state_error)?;
        }
        let switched =
            options.after_switch || st.phase().map_err(state_error)? == Phase::PostCutover;
        if switched && options.delete2 {
            return Err(Error::new(Problem::RemovalAfterSwitch));
        }
    } else if options.after_switch && options.delete2 {
        return Err(Error::new(Problem::RemovalAfterSwitch));
    }
    let run = match (&mut state, options.dry) {
        (Some(st), false) => Some(st.start_run(false, now()).map_err(state_error)?),
        _ => None,
    };
    sink.emit(Event::RunStarted {
        dry: options.dry,
        folders: entries.len(),
    });
    let track_labels = map.entries.iter().any(|e| is_all_mail(map, &e.source));
    let mut outcome = "completed";
    let mut pace = Pace::new(options);
    pace.budgets = Budgets::for_run(options, &source.endpoint().host, &dest.endpoint().host);
    // Extra connections to the destination, opened on first need.
    let mut writers: Vec<Session> = Vec::new();
    let connections = options.connections.clamp(
        1,
        crate::preset::for_host(&dest.endpoint().host)
            .max_connections
            .max(2) as usize
            - 1,
    );
    for (entry, target) in entries {
        if options.cancel.is_cancelled() {
            report.stopped = Some(STOPPED.to_owned());
            outcome = "stopped";
            break;
        }
        let all_mail_filter = is_all_mail(map, &entry.source).then_some(map.all_mail_policy);
        let ctx = FolderJob {
            track_labels,
            source_name: &entry.source,
            dest_name: target,
            all_mail: all_mail_filter,
            options,
            now,
            attempt: std::cell::Cell::new(0),
        };
        let mut folder_report = FolderReport {
            source: entry.source.display().to_owned(),
            destination: target.display().to_owned(),
            ..FolderReport::default()
        };
        let mut attempt = 0;
        let stop = loop {
            // Each attempt starts from what the servers and the store say,
            // so a retry after a lost connection neither loses nor doubles.
            let labelled_before = labelled.clone();
            let mut this_try = FolderReport {
                source: folder_report.source.clone(),
                destination: folder_report.destination.clone(),
                ..FolderReport::default()
            };
            ctx.attempt.set(attempt);
            let result = copy_folder(
                source,
                dest,
                state.as_deref_mut(),
                &ctx,
                &mut labelled,
                &mut this_try,
                &mut pace,
                &mut Writers {
                    extra: &mut writers,
                    connections,
                },
                sink,
            )
            .await;
            // What an interrupted attempt copied shows up as "already there"
            // in the next one: count it as copied, once.
            this_try.already_there = this_try
                .already_there
                .saturating_sub(folder_report.transferred);
            this_try.transferred += folder_report.transferred;
            this_try.bytes += folder_report.bytes;
            folder_report = this_try;
            match result {
                Err(FolderStop::Fatal(err))
                    if err.is_transient() && attempt < options.max_retries =>
                {
                    attempt += 1;
                    labelled = labelled_before;
                    let wait = retry_wait(&err, attempt);
                    tracing::debug!(folder = %folder_report.source, attempt, wait_secs = wait.as_secs(), error = %err, "retrying the folder");
                    sink.emit(Event::Throttled {
                        wait_secs: wait.as_secs(),
                        reason: err.to_string(),
                    });
                    tokio::time::sleep(wait).await;
                    // A fresh connection on both sides; if the server is
                    // still away, the next attempt fails and counts. One
                    // that turns the sign-in down (a password changed, a
                    // sign-in withdrawn) will not let a retry in: that is
                    // what the user must hear, not "connection lost".
                    let source_again = source.reconnect().await;
                    let dest_again = dest.reconnect().await;
                    writers.clear();
                    if let Some(e) = [source_again.err(), dest_again.err()]
                        .into_iter()
                        .flatten()
                        .find(Error::is_auth)
                    {
                        break Err(FolderStop::Fatal(e));
                    }
                }
                other => break other,
            }
        };
        match stop {
            Ok(()) => report.folders.push(folder_report),
            // One folder a server refuses to open or read never stops the
            // others: it is reported with the server's words, and the next
            // run tries it again.
            Err(FolderStop::Fatal(err)) if is_folder_refusal(&err) => {
                tracing::warn!(folder = %folder_report.source, error = %err, "folder not copied");
                let reason = match err.detail() {
                    Some(detail) => format!("{err} ({detail})"),
                    None => err.to_string(),
                };
                sink.emit(Event::FolderRefused {
                    folder: folder_report.source.clone(),
                    reason: reason.clone(),
                    renumbered: matches!(err.problem(), Problem::RenumberedUnconfirmed { .. }),
                });
                folder_report.refused = Some(reason);
                report.folders.push(folder_report);
                if matches!(err.problem(), Problem::Protocol { .. }) {
                    // What the server said last was not understood: start
                    // the next folder on fresh connections.
                    let _ = source.reconnect().await;
                    let _ = dest.reconnect().await;
                    writers.clear();
                }
            }
            Err(FolderStop::Fatal(err)) => {
                report.folders.push(folder_report);
                if let (Some(st), Some(run)) = (state.as_deref_mut(), run) {
                    let _ = st.finish_run(run, &report.counters(), "stopped", now());
                }
                return Err(err);
            }
            Err(FolderStop::Full(err)) => {
                report.folders.push(folder_report);
                report.stopped = Some(err.to_string());
                outcome = "destination full";
                break;
            }
            Err(FolderStop::Cancelled) => {
                report.folders.push(folder_report);
                report.stopped = Some(STOPPED.to_owned());
                outcome = "stopped";
                break;
            }
        }
        let touched = report.folders.last().is_some_and(|f| {
            f.transferred + f.failed + f.skipped + f.flags_updated + f.removed > 0
        });
        if let (Some(st), Some(run), true) = (state.as_deref_mut(), run, touched) {
            // A folder that changed nothing leaves the run's counters as
            // they were but for "already there" (written at the end): no
            // disk sync for it.
            st.update_run(run, &report.counters())
                .map_err(state_error)?;
        }
    }
    for writer in writers {
        writer.logout().await;
    }
    if let (Some(st), Some(run)) = (state, run) {
        st.finish_run(run, &report.counters(), outcome, now())
            .map_err(state_error)?;
    }
    sink.emit(Event::RunFinished {
        copied: report.transferred(),
        failed: report.failed(),
    });
    Ok(report)
}

/// A folder-level failure the run goes on after: a server refused to
/// open, create or read this one folder, or answered it with something
/// MailFerry could not read. A lost connection (after its retries), a
/// sign-in turned down or a progress file that can't be written are the
/// whole run's, and stop it.
fn is_folder_refusal(err: &Error) -> bool {
    matches!(
        err.problem(),
        Problem::ServerRefused { .. }
            | Problem::Protocol { .. }
            | Problem::RenumberedUnconfirmed { .. }
    )
}

fn is_all_mail(map: &FolderMap, source: &MailboxName) -> bool {
    map.gmail_source
        && map.entries.iter().any(|e| {
            &e.source == source
                && e.reasons
                    .iter()
                    .any(|r| matches!(r, crate::folder::Reason::AllMailToArchive))
        })
}

struct FolderJob<'a> {
    /// Some folder of the map is Gmail's All Mail: what every folder holds
    /// at the destination must be known by fingerprint (`labelled`).
    track_labels: bool,
    source_name: &'a MailboxName,
    dest_name: &'a MailboxName,
    all_mail: Option<AllMailPolicy>,
    options: &'a Options,
    now: Clock<'a>,
    /// This is the folder's n-th retry (0: the first try).
    attempt: std::cell::Cell<u32>,
}

enum FolderStop {
    /// The folder cannot go on (connection lost, throttled, state
    /// unwritable); transient ones are retried.
    Fatal(Error),
    /// The destination is full.
    Full(Error),
    /// Stopped on request (between batches).
    Cancelled,
}

impl From<Error> for FolderStop {
    fn from(e: Error) -> Self {
        FolderStop::Fatal(e)
    }
}

impl From<StateError> for FolderStop {
    fn from(e: StateError) -> Self {
        FolderStop::Fatal(state_error(e))
    }
}

/// A source message with what the copy needs to decide about it.
struct Candidate {
    meta: MessageMeta,
    message: SourceMessage,
}

fn source_message(folder: Option<FolderId>, uidvalidity: u32, meta: &MessageMeta) -> SourceMessage {
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

#[allow(clippy::too_many_arguments)] // both sessions, the store, and the run's shared counters
async fn copy_folder(
    source: &mut ReadOnly<'_>,
    dest: &mut Session,
    mut state: Option<&mut State>,
    job: &FolderJob<'_>,
    labelled: &mut Multiset,
    report: &mut FolderReport,
    pace: &mut Pace,
    writers: &mut Writers<'_>,
    sink: &mut dyn EventSink,
) -> Result<(), FolderStop> {
    let options = job.options;
    let now = job.now;
    let display = job.source_name.display().to_owned();

    // 1. Both folders, read-only.
    let src_status = source.examine(job.source_name.wire()).await?;
    let dst_status = match dest.examine(job.dest_name.wire()).await {
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
    // A source folder unchanged since the last complete, clean pass (same
    // UIDVALIDITY and HIGHESTMODSEQ: no message added, removed or
    // re-flagged), whose destination folder is the same one (UIDVALIDITY),
    // costs these two EXAMINEs.
    // A folder that did change since such a pass, where only new messages
    // and flag changes happened (nothing removed), and whose destination
    // holds only what the store knows of, is brought up to date from
    // what changed since then (CHANGEDSINCE): see `since` below.
    let mut since: Option<(u64, Vec<MessageRecord>)> = None;
    if let (Some(st), Some(modseq)) = (state.as_deref_mut(), src_status.highest_modseq) {
        if let Some(rec) = st.folder(job.source_name)? {
            let same_folders = rec.source_uidvalidity == src_status.uid_validity
                && rec.highest_modseq.is_some()
                && rec.dest.name == job.dest_name.display()
                && dst_status.as_ref().map(|d| d.uid_validity) == rec.dest.uidvalidity
                && !st
                    .in_doubt_intents()?
                    .iter()
                    .any(|i| i.message.key.folder == rec.id);
            // …and the destination holds exactly what the store knows of
            // there: a copy deleted at the destination goes the long way,
            // which puts it back.
            let known_at_dest = if same_folders {
                Some(st.dest_fingerprints(rec.dest.id)?.len())
            } else {
                None
            };
            // A count alone is not enough: a copy deleted there and new
            // mail arriving keep it. New mail moves UIDNEXT, so it must be
            // where the last clean pass left it.
            let dest_intact = same_folders
                && dst_status.as_ref().map(|d| d.exists as usize) == known_at_dest
                && dst_status
                    .as_ref()
                    .and_then(|d| d.uid_next)
                    .is_some_and(|next| rec.dest.uidnext == Some(next));
            let same = dest_intact && rec.highest_modseq == Some(modseq);
            // Every message has a recorded fate after a clean pass: a count
            // that disagrees (a folder that suddenly looks empty) is not
            // "unchanged", and goes the long way with its safety checks.
            let (present, at_destination, excluded) = if same_folders {
                st.fate_counts(rec.id, rec.source_uidvalidity)?
            } else {
                (0, 0, 0)
            };
            if same && present == u64::from(src_status.exists) {
                report.already_there += at_destination;
                report.in_other_folders += excluded;
                if job.track_labels {
                    for m in st.messages_in_folder(rec.id, rec.source_uidvalidity)? {
                        if m.fate.is_at_destination() {
                            labelled.insert(m.fingerprint);
                        }
                    }
                }
                report.messages = u64::from(src_status.exists);
                tracing::debug!(folder = %job.source_name.display(), "unchanged since the last run");
                sink.emit(Event::FolderScanned {
                    folder: display.clone(),
                    messages: report.messages,
                    to_copy: 0,
                    bytes_to_copy: 0,
                    already_there: report.already_there,
                });
                sink.emit(Event::FolderDone { folder: display });
                return Ok(());
            }
            if let (true, false, Some(last)) = (dest_intact, options.dry, rec.highest_modseq) {
                let known = st.messages_in_folder(rec.id, rec.source_uidvalidity)?;
                since = Some((last, known));
            }
        }
    }
    // Changes since the last clean pass: one FETCH. New messages are those
    // the store has no row for; a count that does not add up means
    // something was removed, which the full comparison handles.
    let mut changed: Option<(Vec<MessageMeta>, Vec<MessageRecord>)> = None;
    if let Some((last, known)) = since {
        let metas = source.fetch_meta_changed_since(last).await?;
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
            let metas = all_meta(source, &src_status).await?;
            let dest_metas = match &dst_status {
                Some(status) => all_meta(&mut ReadOnly::new(dest), status).await?,
                None => Vec::new(),
            };
            (metas, dest_metas, None)
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
    if to_copy.len() > UNSELECT_ABOVE {
        // Appending to the folder this session has open would make the
        // server refresh its view of it after every command (not worth a
        // round trip for a few new messages).
        dest.unselect_examined().await?;
    }

    // 5. Copy in batches. The source FETCH of the next batch overlaps the
    // APPEND of this one, so at most two batches' bytes are in memory.
    let mut dropped: BTreeSet<String> = BTreeSet::new();
    let (batch_messages, batch_bytes) = pace.batch_limits(options);
    let batches = split_batches(&to_copy, batch_messages, batch_bytes);
    let mut next_bodies: Option<Bodies> = None;
    let src_folder = SourceFolder {
        name: job.source_name,
        uid_validity: src_status.uid_validity,
        // A connection lost mid-batch is first the folder's to retry (with
        // its wait, shown to the user); lost again on a retry, the batch is
        // fetched one message at a time, so a message the server breaks off
        // on every time is a refusal of its own.
        reconnect: options.max_retries > 0 && job.attempt.get() > 0,
    };
    for (i, range) in batches.iter().enumerate() {
        if options.cancel.is_cancelled() {
            report.dropped_keywords = dropped.into_iter().collect();
            return Err(FolderStop::Cancelled);
        }
        let batch = &to_copy[range.clone()];
        let batch_bytes_now: u64 = batch.iter().map(|c| c.message.size).sum();
        if let Err(stop) = pace
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
            Some(bodies) => bodies,
            None => fetch_batch(source, &src_folder, batch).await?,
        };
        // The next batch is read ahead only if the allowances would let it go.
        let following = batches
            .get(i + 1)
            .filter(|_| !options.cancel.is_cancelled())
            .map(|r| &to_copy[r.clone()])
            .filter(|next| {
                let bytes = next.iter().map(|c| c.message.size).sum();
                pace.would_admit(next.len() as u64, bytes, now())
            });
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
        pace.account(
            batch.len() as u64,
            batch.iter().map(|c| c.message.size).sum(),
        )
        .await;
    }
    let highest = report_highest_uid(&to_copy, &mapped);

    // 6. Before the switch: flag changes at the source, and (opt-in)
    // removals of messages gone from the source. After it, runs only add.
    if st.phase()? == Phase::PreCutover {
        if let Some(folder) = folder_id {
            let mut changes = Changes::find(
                st,
                folder,
                src_status.uid_validity,
                dest_folder,
                &source_flags,
                partial,
                &dst_status,
            )?;
            if !listing_complete && !changes.gone.is_empty() {
                tracing::warn!(
                    folder = %job.source_name.display(),
                    listed = report.messages,
                    exists = src_status.exists,
                    "the source's listing is incomplete: nothing is removed at the destination this time"
                );
                changes.gone.clear();
            }
            if options.delete2 && !changes.gone.is_empty() {
                let at_dest = changes.at_destination;
                let count = changes.gone.len();
                if !options.delete2_force && (count >= 50 || (count > 3 && count * 10 > at_dest)) {
                    return Err(FolderStop::Fatal(Error::new(
                        Problem::RemovalNeedsConfirmation {
                            folder: display.clone(),
                            count: count as u64,
                            total: at_dest as u64,
                        },
                    )));
                }
            }
            apply_changes(
                dest,
                st,
                job,
                &changes,
                dst_status.uid_validity,
                &mut dropped,
                report,
            )
            .await?;
        }
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
    if let (Some(folder), Some(max)) = (folder_id, highest) {
        // HIGHESTMODSEQ is kept only after a clean pass (nothing refused,
        // nothing held back by a filter, flag changes written), so the next
        // run's shortcuts never skip a message or a change that still has
        // to go.
        let clean = report.failed == 0 && report.skipped == 0;
        st.set_folder_progress(
            folder,
            max,
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

/// Splits the messages to copy into batches of at most `messages` and
/// `bytes` (a message larger than `bytes` goes alone).
fn split_batches(
    to_copy: &[Candidate],
    messages: usize,
    bytes: u64,
) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < to_copy.len() {
        let mut end = start;
        let mut sum = 0u64;
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

/// The whole messages of a batch, from the source.
/// A batch's messages as the source delivered them, and those it refused
/// to deliver (with its words).
struct Bodies {
    messages: Vec<FetchedMessage>,
    refused: BTreeMap<u32, String>,
}

/// Fetches a batch. A source that refuses the batch (Gmail: "Some
/// messages could not be FETCHed") or drops the connection while sending
/// it (Dovecot does, on a message it cannot read) is asked for each
/// message alone, so one unreadable message is a refusal of its own and
/// the rest still copy. A message is refused when the server refuses it
/// alone, or drops a fresh connection twice while sending it; a server
/// that can't be reached again is the folder's problem (retried as a
/// whole).
async fn fetch_batch(
    source: &mut ReadOnly<'_>,
    folder: &SourceFolder<'_>,
    batch: &[Candidate],
) -> Result<Bodies, Error> {
    let uids: Vec<u32> = batch.iter().map(|c| c.meta.uid).collect();
    let expected: u64 = batch.iter().map(|c| c.message.size).sum();
    let err = match source.fetch_bodies(&uids, expected).await {
        Ok(messages) => {
            return Ok(Bodies {
                messages,
                refused: BTreeMap::new(),
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
struct SourceFolder<'a> {
    name: &'a MailboxName,
    uid_validity: u32,
    /// Reconnecting within the batch is allowed (a retry of the folder,
    /// and `--reconnectretry` is not 0).
    reconnect: bool,
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
async fn copy_batch(
    source: &mut ReadOnly<'_>,
    src_folder: &SourceFolder<'_>,
    dest: &mut Session,
    writers: &mut Writers<'_>,
    st: &mut State,
    job: &FolderJob<'_>,
    dest_folder: DestFolderId,
    dst_status: &FolderStatus,
    batch: &[Candidate],
    bodies: Bodies,
    following: Option<&[Candidate]>,
    dropped: &mut BTreeSet<String>,
    report: &mut FolderReport,
    sink: &mut dyn EventSink,
) -> Result<Option<Result<Bodies, Error>>, FolderStop> {
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
            Some(next) => Some(fetch_batch(source, src_folder, next).await),
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

/// How long to wait before retrying a folder: as long as the server asked
/// (plus a little), else 1, 2, 4… seconds up to a minute.
fn retry_wait(err: &Error, attempt: u32) -> std::time::Duration {
    let asked = match err.problem() {
        Problem::ServerBusy {
            wait_secs: Some(secs),
            ..
        } => Some(*secs),
        _ => None,
    };
    let secs = asked
        .map(|s| s.saturating_add(1))
        .unwrap_or_else(|| (1u64 << attempt.saturating_sub(1).min(6)).min(60));
    std::time::Duration::from_secs(secs)
}

/// UIDs asked for per FETCH of identities: bounds the memory a huge folder
/// takes while its replies are read.
const META_CHUNK: u32 = 5_000;

/// Size, flags, date and identifying headers of every message in the
/// selected folder, fetched in UID ranges of [`META_CHUNK`].
async fn all_meta(
    session: &mut ReadOnly<'_>,
    status: &FolderStatus,
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

/// The least a connection gets of a batch split between several.
const MIN_SHARE_BYTES: usize = 2 * 1024 * 1024;

/// The destination connections a batch is written through: the run's own
/// session plus extra ones opened on first need.
pub struct Writers<'a> {
    extra: &'a mut Vec<Session>,
    connections: usize,
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
        let bytes: usize = items.iter().map(|i| i.body.len()).sum();
        let wanted = self
            .connections
            .min(items.len() / 2)
            .min(bytes / MIN_SHARE_BYTES)
            .max(1);
        while self.extra.len() + 1 < wanted {
            match dest.another().await {
                Ok(session) => self.extra.push(session),
                Err(e) => {
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

/// What changed at the source for messages copied earlier.
struct Changes {
    /// Flag → destination UIDs that gain it.
    add: BTreeMap<String, Vec<u32>>,
    /// Flag → destination UIDs that lose it.
    remove: BTreeMap<String, Vec<u32>>,
    /// Messages whose synced flags change, with their new set.
    updated: Vec<(MessageKey, Vec<String>)>,
    /// Messages without a recorded flag set yet: their current source flags
    /// become the baseline (nothing is written at the destination).
    baseline: Vec<(MessageKey, Vec<String>)>,
    /// Messages MailFerry copied that are gone from the source: (key, destination UID).
    gone: Vec<(MessageKey, u32)>,
    /// Messages of this folder known to be at the destination.
    at_destination: usize,
}

impl Changes {
    fn find(
        st: &State,
        folder: FolderId,
        uidvalidity: u32,
        dest: DestFolderId,
        source_flags: &HashMap<u32, Vec<String>>,
        partial: bool,
        dst_status: &FolderStatus,
    ) -> Result<Changes, StateError> {
        let mut changes = Changes {
            add: BTreeMap::new(),
            remove: BTreeMap::new(),
            updated: Vec::new(),
            baseline: Vec::new(),
            gone: Vec::new(),
            at_destination: 0,
        };
        for rec in st.messages_in_folder(folder, uidvalidity)? {
            if !rec.fate.is_at_destination() || rec.dest_folder != Some(dest) {
                continue;
            }
            changes.at_destination += 1;
            let Some(dest_uid) = rec.dest_uid else {
                continue; // where it is at the destination is not known: leave it alone
            };
            let Some(flags) = source_flags.get(&rec.key.uid) else {
                // `partial`: only what changed was read; the rest is as it was.
                if rec.fate == Fate::Copied && !partial {
                    changes.gone.push((rec.key, dest_uid));
                }
                continue;
            };
            let now: BTreeSet<String> = flags
                .iter()
                .filter(|f| {
                    !f.eq_ignore_ascii_case("\\Recent") && !f.eq_ignore_ascii_case("\\Deleted")
                })
                .filter(|f| dst_status.permanent_flags.is_empty() || dst_status.keeps_flag(f))
                .cloned()
                .collect();
            let Some(last) = rec.flags else {
                changes.baseline.push((rec.key, now.into_iter().collect()));
                continue;
            };
            if last == now {
                continue;
            }
            for f in now.difference(&last) {
                changes.add.entry(f.clone()).or_default().push(dest_uid);
            }
            for f in last.difference(&now) {
                changes.remove.entry(f.clone()).or_default().push(dest_uid);
            }
            changes.updated.push((rec.key, now.into_iter().collect()));
        }
        Ok(changes)
    }
}

/// Writes flag changes (and removals, when asked) at the destination, then
/// records them. A crash in between repeats the same changes next time,
/// which is harmless (adding a flag twice changes nothing). A keyword the
/// destination refuses is left off and added to `dropped`.
#[allow(clippy::too_many_arguments)] // the store, the folder's context and what the report collects
async fn apply_changes(
    dest: &mut Session,
    st: &mut State,
    job: &FolderJob<'_>,
    changes: &Changes,
    dest_uidvalidity: u32,
    dropped: &mut BTreeSet<String>,
    report: &mut FolderReport,
) -> Result<(), FolderStop> {
    let now = job.now;
    st.set_synced_flags_all(&changes.baseline, now())?;
    let removing = job.options.delete2 && !changes.gone.is_empty();
    if changes.updated.is_empty() && !removing {
        return Ok(());
    }
    // The destination UIDs were read under this UIDVALIDITY: a folder
    // replaced since (another program deleted and recreated it) holds other
    // messages under them. Nothing is changed there; the next run finds
    // the copies again by identity.
    let selected = dest.select(job.dest_name.wire()).await?;
    if selected.uid_validity != dest_uidvalidity {
        tracing::warn!(
            folder = %job.dest_name.display(),
            "the destination folder was replaced during the copy: no flag change or removal there this time"
        );
        return Ok(());
    }
    let stores: Vec<(&[u32], &str, bool)> = changes
        .add
        .iter()
        .map(|(flag, uids)| (uids.as_slice(), flag.as_str(), true))
        .chain(
            changes
                .remove
                .iter()
                .map(|(flag, uids)| (uids.as_slice(), flag.as_str(), false)),
        )
        .collect();
    let (system, keywords): (Vec<_>, Vec<_>) = stores
        .into_iter()
        .partition(|(_, flag, _)| flag.starts_with('\\'));
    dest.store_flags(&system).await?;
    // A keyword the destination refuses (too long, too many) is left off
    // and reported, as when a message is copied; the others still go.
    if let Err(e) = dest.store_flags(&keywords).await {
        if !matches!(e.problem(), Problem::ServerRefused { .. }) {
            return Err(e.into());
        }
        for store in &keywords {
            match dest.store_flags(std::slice::from_ref(store)).await {
                Ok(()) => {}
                Err(e) if matches!(e.problem(), Problem::ServerRefused { .. }) => {
                    dropped.insert(store.1.to_owned());
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    crate::crashpoint::hit("after_store");
    st.set_synced_flags_all(&changes.updated, now())?;
    report.flags_updated += changes.updated.len() as u64;
    if removing {
        let uids: Vec<u32> = changes.gone.iter().map(|(_, uid)| *uid).collect();
        dest.remove_uids(&uids).await?;
        for (key, _) in &changes.gone {
            st.record_removed(*key, now())?;
        }
        report.removed += changes.gone.len() as u64;
    }
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

fn not_copied(c: &Candidate, reason: &str) -> NotCopiedMessage {
    let s = &c.message.summary;
    NotCopiedMessage {
        uid: c.meta.uid,
        message_id: s.message_id.clone(),
        from: s.from.clone(),
        subject: s.subject.clone(),
        date: s.date.clone(),
        reason: reason.to_owned(),
    }
}

/// Bytes as "3.2 MB".
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
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

    #[test]
    fn bytes_read_naturally() {
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(35_651_584), "35.7 MB");
    }
}
