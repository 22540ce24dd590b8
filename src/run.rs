//! The copy: every mapped source folder's messages into its destination
//! folder, byte for byte with flags and dates, recorded so that a re-run,
//! a crash or a lost connection never loses or doubles a message.
//!
//! Per folder, in order:
//! 1. EXAMINE both folders (the source is only ever read: EXAMINE and
//!    BODY.PEEK; [`Session`] offers this code no way to delete there).
//! 2. Read identities on both sides: size, flags, date and the headers
//!    that make a [`Fingerprint`](crate::identity::Fingerprint).
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
//! Shortcuts from a clean pass (CONDSTORE): before the folder loop, one
//! STATUS flight per server (both at once) looks at every folder, and a
//! folder whose HIGHESTMODSEQ has not moved is not opened at all (when the
//! look could not be had, it costs its two EXAMINEs); one where only new messages and
//! flag changes happened, whose destination holds only what the store
//! knows of, reads just what changed (`UID FETCH 1:* … (CHANGEDSINCE m)`)
//! instead of every message's identity on both sides.
//!
//! Folders at once: over a long link each folder's fixed round trips
//! (open, list, fetch, append, flag changes) add up folder after folder, so
//! the folders to open are copied several at once, each over its own pair
//! of connections (a second handle on the progress file, the run's pace
//! shared): as many as `connections` allows, within both providers'
//! connection caps, never two source folders bound for one destination
//! folder at once, and one at a time when Gmail's All Mail is among them
//! (what its labels copied must be known first) or in a dry run. Extra
//! writers for a large batch take only the destination places the other
//! folders left free. The report lists folders in the map's order.

use crate::error::{Error, Problem};
use crate::event::{Event, EventSink};
use crate::folder::{AllMailPolicy, FolderMap, MailboxName, Target};
use crate::identity::Multiset;
use crate::imap::messages::{MessageMeta, ReadOnly};
use crate::imap::Session;
use crate::state::{FolderId, Phase, SourceMessage, State, StateError};
use std::cell::RefCell;
use std::collections::HashMap;

mod batch;
mod changes;
mod copy;
mod pace;
mod report;
pub use batch::Writers;
pub use copy::parse_internal_date;
pub(crate) use copy::source_message;
use copy::{copy_folder, Glance, Seen};
pub use pace::{Budget, Budgets, Pace};
pub use report::{human_bytes, FolderReport, NotCopiedMessage, Report};

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

/// The folder id of messages seen in a dry run of a folder the store
/// doesn't know (never written).
const NO_FOLDER: FolderId = FolderId(0);

/// The report's words for a run stopped on request.
pub const STOPPED: &str = "stopped on request; running the copy again picks up where it stopped";

/// The run's clock: unix seconds. Passed in so tests control time.
pub type Clock<'a> = &'a dyn Fn() -> i64;

/// Seconds since 1970 by the system clock: the [`Clock`] of a real run.
pub fn system_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

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
    let connections = options.connections.clamp(
        1,
        crate::preset::for_host(&dest.endpoint().host)
            .max_connections
            .max(2) as usize
            - 1,
    );
    // One look at every folder on both sides before the run (STATUS, one
    // flight each, both servers at once): a folder unchanged since the last
    // clean pass is then not opened at all.
    let glances = match state.as_deref_mut() {
        Some(st) => glance(source, dest, st, &entries).await,
        None => HashMap::new(),
    };
    // Folders copied at once, each over its own pair of connections.
    let at_once = match state.as_deref_mut() {
        Some(st) if !options.dry && !track_labels => {
            let source_cap = crate::preset::for_host(&source.endpoint().host)
                .max_connections
                .max(2) as usize
                - 1;
            let work = folders_to_open(st, &entries, &glances, options, now);
            connections.min(source_cap).min(work).max(1)
        }
        _ => 1,
    };
    // Two source folders bound for one destination folder are never copied
    // at once: what one folder's copy finds there must not change under it.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, (_, target)) in entries.iter().enumerate() {
        match groups
            .iter_mut()
            .find(|g| at_once > 1 && entries[g[0]].1 == *target)
        {
            Some(group) => group.push(i),
            None => groups.push(vec![i]),
        }
    }
    // With folders copied at once, the biggest go first (by the look
    // before the run: messages at the source), so the run never ends
    // waiting for one big folder that started last; without a look, INBOX
    // (usually the biggest) first. The report keeps the map's order.
    if at_once > 1 {
        let work = |group: &Vec<usize>| -> (u64, bool) {
            let messages = group
                .iter()
                .filter_map(|&i| glances.get(entries[i].0.source.wire()))
                .map(|g| u64::from(g.source.exists))
                .sum();
            (
                messages,
                group.iter().any(|&i| entries[i].0.source.is_inbox()),
            )
        };
        groups.sort_by_key(|g| std::cmp::Reverse(work(g)));
    }
    let mut siblings = Vec::new();
    let mut openers = Vec::new();
    if let Some(st) = state.as_deref() {
        for _ in 1..at_once {
            match st.sibling() {
                Ok(sibling) => {
                    siblings.push(sibling);
                    openers.push((source.another_later(), dest.another_later()));
                }
                Err(e) => {
                    tracing::debug!(error = %e, "folders are copied one at a time");
                    break;
                }
            }
        }
    }
    let lanes = Lanes {
        entries: &entries,
        groups: RefCell::new(groups.into()),
        glances: RefCell::new(glances),
        options,
        now,
        track_labels,
        map,
        run,
        connections,
        free: std::sync::atomic::AtomicUsize::new(connections.saturating_sub(1 + openers.len())),
        pace: tokio::sync::Mutex::new(pace),
        in_flight: pace::InFlight::new(options.batch_bytes),
        sink: RefCell::new(sink),
        done: RefCell::new(Vec::new()),
        halt: RefCell::new(None),
    };
    tracing::debug!(at_once = 1 + openers.len(), "copying folders");
    let others = siblings.into_iter().zip(openers).map(|(mut st, (src, dst))| {
        let lanes = &lanes;
        async move {
            let (src, dst) = futures::join!(src, dst);
            let (mut src, mut dst) = match (src, dst) {
                (Ok(s), Ok(d)) => (s, d),
                (s, d) => {
                    tracing::debug!(source = ?s.as_ref().err(), dest = ?d.as_ref().err(), "one folder fewer at once");
                    lanes.free.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    return;
                }
            };
            let mut labelled = Multiset::new();
            lane(
                lanes,
                &mut ReadOnly::new(&mut src),
                &mut dst,
                Some(&mut st),
                &mut labelled,
            )
            .await;
            futures::join!(src.logout(), dst.logout());
            lanes.free.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    futures::join!(
        lane(&lanes, source, dest, state.as_deref_mut(), &mut labelled),
        futures::future::join_all(others)
    );
    let Lanes {
        done, halt, sink, ..
    } = lanes;
    let sink = sink.into_inner();
    let mut done = done.into_inner();
    done.sort_by_key(|(i, _)| *i);
    report.folders.extend(done.into_iter().map(|(_, f)| f));
    match halt.into_inner() {
        Some(Halt::Fatal(err)) => {
            if let (Some(st), Some(run)) = (state.as_deref_mut(), run) {
                let _ = st.finish_run(run, &report.counters(), "stopped", now());
            }
            return Err(err);
        }
        Some(Halt::Full(text)) => {
            report.stopped = Some(text);
            outcome = "destination full";
        }
        Some(Halt::Stopped) => {
            report.stopped = Some(STOPPED.to_owned());
            outcome = "stopped";
        }
        None => {}
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

/// What the folders copied at once share: the queue of folders (in
/// groups by destination folder), the run's pace, its events, the reports
/// of the folders done and the destination's free places.
struct Lanes<'a, 'r> {
    entries: &'a [(&'a crate::folder::MapEntry, &'a MailboxName)],
    groups: RefCell<std::collections::VecDeque<Vec<usize>>>,
    glances: RefCell<HashMap<String, Glance>>,
    options: &'a Options,
    now: Clock<'a>,
    track_labels: bool,
    map: &'a FolderMap,
    run: Option<crate::state::RunId>,
    /// The most destination connections the run writes through.
    connections: usize,
    /// Of those, how many may still be opened.
    free: std::sync::atomic::AtomicUsize,
    pace: tokio::sync::Mutex<Pace>,
    /// The bytes read and not yet written, across the folders.
    in_flight: pace::InFlight,
    sink: RefCell<&'r mut dyn EventSink>,
    /// Each folder done (its place in the map, its report).
    done: RefCell<Vec<(usize, FolderReport)>>,
    /// Why the run stops early, once one folder said so.
    halt: RefCell<Option<Halt>>,
}

/// Why no further folder is started.
enum Halt {
    /// An error that ends the run (after its retries).
    Fatal(Error),
    /// The destination is full (its words).
    Full(String),
    /// Stopped on request.
    Stopped,
}

impl Lanes<'_, '_> {
    fn emit(&self, event: Event) {
        self.sink.borrow_mut().emit(event);
    }

    /// The first reason to stop is kept, but an error outranks the others:
    /// it is what the caller must hear.
    fn halt(&self, why: Halt) {
        let mut halt = self.halt.borrow_mut();
        let replace = match (&*halt, &why) {
            (None, _) => true,
            (Some(Halt::Fatal(_)), _) => false,
            (Some(_), Halt::Fatal(_)) => true,
            _ => false,
        };
        if replace {
            *halt = Some(why);
        }
    }

    fn halted(&self) -> bool {
        self.halt.borrow().is_some()
    }

    fn next_group(&self) -> Option<Vec<usize>> {
        if self.halted() {
            return None;
        }
        self.groups.borrow_mut().pop_front()
    }

    /// The run's counters over every folder done so far.
    fn counters(&self) -> crate::state::RunCounters {
        Report {
            folders: self.done.borrow().iter().map(|(_, f)| f.clone()).collect(),
            ..Report::default()
        }
        .counters()
    }
}

/// Copies folders from the run's queue over one source and one destination
/// connection (and extra writers within the run's free places) until the
/// queue is empty or the run stops. Each folder is retried after a
/// transient fault on fresh connections; one a server refuses is reported
/// and the next one taken.
async fn lane(
    lanes: &Lanes<'_, '_>,
    source: &mut ReadOnly<'_>,
    dest: &mut Session,
    mut state: Option<&mut State>,
    labelled: &mut Multiset,
) {
    use std::sync::atomic::Ordering;
    let options = lanes.options;
    let mut writers: Vec<Session> = Vec::new();
    let release = |writers: &mut Vec<Session>| {
        lanes.free.fetch_add(writers.len(), Ordering::SeqCst);
        writers.clear();
    };
    let mut sink = |event: Event| lanes.emit(event);
    'lane: while let Some(group) = lanes.next_group() {
        for index in group {
            if options.cancel.is_cancelled() {
                lanes.halt(Halt::Stopped);
            }
            if lanes.halted() {
                break 'lane;
            }
            let (entry, target) = lanes.entries[index];
            let all_mail_filter =
                is_all_mail(lanes.map, &entry.source).then_some(lanes.map.all_mail_policy);
            let mut ctx = FolderJob {
                track_labels: lanes.track_labels,
                source_name: &entry.source,
                dest_name: target,
                all_mail: all_mail_filter,
                options,
                now: lanes.now,
                attempt: std::cell::Cell::new(0),
                glance: lanes.glances.borrow_mut().remove(entry.source.wire()),
            };
            let mut folder_report = FolderReport {
                source: entry.source.display().to_owned(),
                destination: target.display().to_owned(),
                ..FolderReport::default()
            };
            let mut attempt = 0;
            let stop = loop {
                // Each attempt starts from what the servers and the store
                // say, so a retry after a lost connection neither loses nor
                // doubles.
                let labelled_before = labelled.clone();
                let mut this_try = FolderReport {
                    source: folder_report.source.clone(),
                    destination: folder_report.destination.clone(),
                    ..FolderReport::default()
                };
                ctx.attempt.set(attempt);
                if attempt > 0 {
                    // A retry looks again, on fresh connections.
                    ctx.glance = None;
                }
                // Boxed: a folder's copy is a large future, and several
                // run at once within one task.
                let result = Box::pin(copy_folder(
                    source,
                    dest,
                    state.as_deref_mut(),
                    &ctx,
                    labelled,
                    &mut this_try,
                    &lanes.pace,
                    &lanes.in_flight,
                    &mut Writers {
                        extra: &mut writers,
                        connections: lanes.connections,
                        free: &lanes.free,
                    },
                    &mut sink,
                ))
                .await;
                // What an interrupted attempt copied shows up as "already
                // there" in the next one: count it as copied, once.
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
                        *labelled = labelled_before;
                        let wait = retry_wait(&err, attempt);
                        tracing::debug!(folder = %folder_report.source, attempt, wait_secs = wait.as_secs(), error = %err, "retrying the folder");
                        lanes.emit(Event::Throttled {
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
                        release(&mut writers);
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
            let touched = folder_report.transferred
                + folder_report.failed
                + folder_report.skipped
                + folder_report.flags_updated
                + folder_report.removed
                > 0;
            let done = |report: FolderReport| lanes.done.borrow_mut().push((index, report));
            match stop {
                Ok(()) => done(folder_report),
                // One folder a server refuses to open or read never stops
                // the others: it is reported with the server's words, and
                // the next run tries it again.
                Err(FolderStop::Fatal(err)) if is_folder_refusal(&err) => {
                    tracing::warn!(folder = %folder_report.source, error = %err, "folder not copied");
                    let reason = match err.detail() {
                        Some(detail) => format!("{err} ({detail})"),
                        None => err.to_string(),
                    };
                    lanes.emit(Event::FolderRefused {
                        folder: folder_report.source.clone(),
                        reason: reason.clone(),
                        renumbered: matches!(err.problem(), Problem::RenumberedUnconfirmed { .. }),
                    });
                    folder_report.refused = Some(reason);
                    done(folder_report);
                    if matches!(err.problem(), Problem::Protocol { .. }) {
                        // What the server said last was not understood:
                        // start the next folder on fresh connections.
                        let _ = source.reconnect().await;
                        let _ = dest.reconnect().await;
                        release(&mut writers);
                    }
                }
                Err(FolderStop::Fatal(err)) => {
                    done(folder_report);
                    lanes.halt(Halt::Fatal(err));
                    break 'lane;
                }
                Err(FolderStop::Full(err)) => {
                    done(folder_report);
                    lanes.halt(Halt::Full(err.to_string()));
                    break 'lane;
                }
                Err(FolderStop::Cancelled) => {
                    done(folder_report);
                    lanes.halt(Halt::Stopped);
                    break 'lane;
                }
            }
            if let (Some(st), Some(run), true) = (state.as_deref_mut(), lanes.run, touched) {
                // A folder that changed nothing leaves the run's counters as
                // they were but for "already there" (written at the end): no
                // disk sync for it.
                if let Err(e) = st.update_run(run, &lanes.counters()) {
                    lanes.halt(Halt::Fatal(state_error(e)));
                    break 'lane;
                }
            }
        }
    }
    let extra = writers.len();
    futures::future::join_all(writers.into_iter().map(Session::logout)).await;
    lanes.free.fetch_add(extra, Ordering::SeqCst);
}

/// How many groups of folders the run will open: all but those the look
/// before the run shows unchanged since the last clean pass.
fn folders_to_open(
    st: &mut State,
    entries: &[(&crate::folder::MapEntry, &MailboxName)],
    glances: &HashMap<String, Glance>,
    options: &Options,
    now: Clock<'_>,
) -> usize {
    let mut targets: Vec<&MailboxName> = Vec::new();
    for (entry, target) in entries {
        let job = FolderJob {
            track_labels: false,
            source_name: &entry.source,
            dest_name: target,
            all_mail: None,
            options,
            now,
            attempt: std::cell::Cell::new(0),
            glance: glances.get(entry.source.wire()).copied(),
        };
        if !copy::unchanged_at_glance(st, &job) && !targets.contains(target) {
            targets.push(target);
        }
    }
    targets.len()
}

/// STATUS of every folder of the run on both sides, asked in one flight
/// per server with both servers at once, keyed by the source folder's wire
/// name. Only worth a round trip when the store has a clean pass of some
/// folder to compare with and the source has CONDSTORE; otherwise (and
/// when either server fails to answer) empty, and each folder is opened
/// as before. A side whose flight broke off gets a fresh connection.
async fn glance(
    source: &mut ReadOnly<'_>,
    dest: &mut Session,
    st: &mut State,
    entries: &[(&crate::folder::MapEntry, &MailboxName)],
) -> HashMap<String, Glance> {
    if !source.capabilities().has("CONDSTORE") {
        return HashMap::new();
    }
    let on_record = entries.iter().any(|(e, _)| {
        st.folder(&e.source)
            .ok()
            .flatten()
            .is_some_and(|rec| rec.highest_modseq.is_some())
    });
    if !on_record {
        return HashMap::new();
    }
    let source_names: Vec<&str> = entries.iter().map(|(e, _)| e.source.wire()).collect();
    let dest_names: Vec<&str> = entries.iter().map(|(_, t)| t.wire()).collect();
    let (seen_source, seen_dest) = tokio::join!(
        source.counts_of_all(&source_names),
        dest.counts_of_all(&dest_names)
    );
    let (seen_source, seen_dest) = match (seen_source, seen_dest) {
        (Ok(s), Ok(d)) => (s, d),
        (s, d) => {
            tracing::debug!(source = ?s.as_ref().err(), dest = ?d.as_ref().err(), "no look at the folders before the run");
            if s.is_err() {
                let _ = source.reconnect().await;
            }
            if d.is_err() {
                let _ = dest.reconnect().await;
            }
            return HashMap::new();
        }
    };
    source_names
        .iter()
        .zip(seen_source.iter().zip(&seen_dest))
        .filter_map(|(name, (s, d))| {
            let glance = Glance {
                source: Seen::of_counts(s.as_ref()?)?,
                dest: Seen::of_counts(d.as_ref()?)?,
            };
            Some(((*name).to_owned(), glance))
        })
        .collect()
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
    /// Both sides as STATUS showed them before the run, if asked.
    glance: Option<Glance>,
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

/// How long to wait before retrying a folder: as long as the server asked
/// (plus a little), else 1, 2, 4… seconds up to a minute.
pub(crate) fn retry_wait(err: &Error, attempt: u32) -> std::time::Duration {
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
