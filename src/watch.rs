//! Watching the old server after the switch, so that mail still arriving
//! there (resolvers that kept the old MX, senders that retry late) is
//! moved to the new one within seconds, and saying when it is safe to stop.
//!
//! How it watches one mailbox ([`watch`]):
//! - only a job whose progress file records the switch is watched (the
//!   phase `sync --cutover-done` records); before it, [`End::NotSwitched`];
//! - IDLE on the old INBOX and Junk/Spam folder (when mapped), each on its
//!   own connection, renewed before the server's 30 minutes
//!   ([`Settings::renew_idle`]); every other mapped folder is polled with
//!   STATUS (UIDNEXT, UIDVALIDITY, MESSAGES, HIGHESTMODSEQ) every
//!   [`Settings::poll_every`], and every folder when the server does not
//!   offer IDLE;
//! - every change runs a catch-up through [`Job`], the same sequence as
//!   `sync` (folders, then the copy, into the fate log), after the switch
//!   so it only adds. A catch-up holds the progress file's lock only while
//!   it runs: a manual `sync` may run between two, and a catch-up that
//!   finds the file busy waits and tries again;
//! - a dropped connection (sleep, a network change, a server restart) is
//!   opened again with a growing wait, and a catch-up follows each
//!   reconnection (mail may have come in meanwhile).
//!
//! When it stops is [`stop_rule`], pure and clocked from outside.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::endpoint::{Credentials, Endpoint};
use crate::error::{Error, Problem};
use crate::event::EventSink;
use crate::folder::{Rules, SpecialUse, Target};
use crate::imap::idle::{Counts, IdleEnd};
use crate::imap::Session;
use crate::job::{progress_error, Job, ProgressFile};
use crate::run::{Clock, Options, Report};
use crate::state::{Phase, State};

/// How the watch waits, polls and gives up.
#[derive(Clone, Debug)]
pub struct Settings {
    /// An IDLE is ended and started again after this long (servers end an
    /// IDLE after 30 minutes; the default is 28).
    pub renew_idle: Duration,
    /// Folders without IDLE are looked at this often.
    pub poll_every: Duration,
    /// No new mail at the old server for this long is one condition of
    /// the stop rule (default 24 hours).
    pub quiet: Duration,
    /// The watch ends after this long whatever happens (`--for`).
    pub cap: Option<Duration>,
    /// The first wait before reconnecting or retrying a catch-up; it
    /// doubles up to [`Settings::backoff_max`].
    pub backoff_first: Duration,
    /// The longest wait before reconnecting.
    pub backoff_max: Duration,
    /// The domain's mail records are looked up this often.
    pub mx_every: Duration,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            renew_idle: Duration::from_secs(28 * 60),
            poll_every: Duration::from_secs(120),
            quiet: Duration::from_secs(24 * 3600),
            cap: None,
            backoff_first: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            mx_every: Duration::from_secs(600),
        }
    }
}

/// One mailbox to watch: both servers, the folder rules the copy used,
/// and the job's progress file.
#[derive(Clone, Debug)]
pub struct Mailbox {
    /// The old server.
    pub source: (Endpoint, Credentials),
    /// The new server.
    pub dest: (Endpoint, Credentials),
    /// The folder rules of the copy.
    pub rules: Rules,
    /// The job's progress file.
    pub progress: ProgressFile,
}

/// What the DNS said of the domain's mail records, for the stop rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mx {
    /// Not looked up (no domain given): the rule goes by the quiet period
    /// and the cap alone.
    NotAsked,
    /// Some answer still names the old provider (or none could be had).
    NotYetNew,
    /// Every answer names only the new provider, first seen at `since`;
    /// resolvers may keep the old answer for `old_ttl_secs` after that.
    OnlyNew {
        /// When every answer first showed only the new provider.
        since: i64,
        /// The old records' time to live.
        old_ttl_secs: u32,
    },
}

/// What the stop rule looks at; every time is unix seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StopInputs {
    /// When the watch began.
    pub started: i64,
    /// Now.
    pub now: i64,
    /// When mail last arrived at the old server (and was moved).
    pub last_arrival: Option<i64>,
    /// The quiet period, seconds.
    pub quiet_secs: i64,
    /// The cap (`--for`), seconds.
    pub cap_secs: Option<i64>,
    /// The domain's mail records.
    pub mx: Mx,
}

/// Why the watch ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The progress file does not record the switch: nothing was watched.
    NotSwitched,
    /// The mail records show only the new provider (when asked), the old
    /// ones have expired everywhere, and no mail arrived for the quiet
    /// period: the old server can be let go.
    Quiet,
    /// The time given with `--for` is over.
    Cap,
    /// Stopped on request.
    Stopped,
}

impl End {
    /// What the watch says as it ends.
    pub fn words(self, quiet: Duration) -> String {
        match self {
            End::NotSwitched => "The switch is not recorded for this mailbox yet: run the final \
                 copy with --cutover-done once the domain's mail records (MX) point at the new \
                 provider, then watch."
                .to_owned(),
            End::Quiet => format!(
                "No mail has arrived at the old server for {}: the switch is complete and the \
                 watch has stopped. Keep the old account a few more days in case, then close it.",
                duration_words(quiet.as_secs())
            ),
            End::Cap => "The watch ran for the time it was given and has stopped. Run it again \
                 if mail may still arrive at the old server."
                .to_owned(),
            End::Stopped => "The watch was stopped. Mail that arrives at the old server from \
                 now on is not moved until you watch or copy again."
                .to_owned(),
        }
    }
}

/// The stop rule: the cap (`--for`) when it is reached; otherwise only
/// when the mail records show only the new provider (if they were asked),
/// the old records' time to live has passed since, and no mail arrived at
/// the old server for the quiet period (counted from the start of the
/// watch when none arrived). Pure: the clock is in `inputs`.
pub fn stop_rule(inputs: &StopInputs) -> Option<End> {
    if let Some(cap) = inputs.cap_secs {
        if inputs.now - inputs.started >= cap {
            return Some(End::Cap);
        }
    }
    let records_settled = match inputs.mx {
        Mx::NotAsked => true,
        Mx::NotYetNew => false,
        Mx::OnlyNew {
            since,
            old_ttl_secs,
        } => inputs.now >= since + i64::from(old_ttl_secs),
    };
    let quiet_from = inputs
        .last_arrival
        .map_or(inputs.started, |t| t.max(inputs.started));
    let quiet = inputs.now - quiet_from >= inputs.quiet_secs;
    (records_settled && quiet).then_some(End::Quiet)
}

/// The mail that arrived at the old server while watching.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// When each catch-up that moved mail ended, and how many messages.
    pub arrivals: Vec<(i64, u64)>,
}

impl Tally {
    /// Messages moved in all.
    pub fn total(&self) -> u64 {
        self.arrivals.iter().map(|(_, n)| n).sum()
    }

    /// When mail last arrived.
    pub fn last(&self) -> Option<i64> {
        self.arrivals.last().map(|(t, _)| *t)
    }

    /// The live line: "Mail still arriving at the old server: 3 today,
    /// last at 14:02". `utc_offset_secs` is the local time zone's offset
    /// (what "today" and the time are in).
    pub fn line(&self, now: i64, utc_offset_secs: i32) -> String {
        let local = |t: i64| t + i64::from(utc_offset_secs);
        let today = local(now).div_euclid(86_400);
        let count: u64 = self
            .arrivals
            .iter()
            .filter(|(t, _)| local(*t).div_euclid(86_400) == today)
            .map(|(_, n)| n)
            .sum();
        match self.last() {
            None => "No new mail at the old server since the watch began.".to_owned(),
            Some(last) => {
                let minutes = local(last).rem_euclid(86_400) / 60;
                let at = format!("{:02}:{:02}", minutes / 60, minutes % 60);
                if local(last).div_euclid(86_400) == today {
                    format!("Mail still arriving at the old server: {count} today, last at {at}")
                } else {
                    format!(
                        "No new mail at the old server today ({} in all, last on an earlier day at {at})",
                        self.total()
                    )
                }
            }
        }
    }
}

/// What the watch tells whoever runs it, as it happens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// Watching began: the folders waited on with IDLE, and how many are
    /// polled (and how often).
    Watching {
        /// Source folders (display names) waited on with IDLE.
        idle: Vec<String>,
        /// Source folders looked at every `poll_secs`.
        polled: usize,
        /// The poll interval.
        poll_secs: u64,
    },
    /// The domain's mail records were looked up.
    Records {
        /// Every answer names only the new provider.
        only_new: bool,
        /// Each resolver's answer in words ("127.0.0.1:53: mx.new.example").
        answers: Vec<String>,
    },
    /// A catch-up moved mail; the tally so far.
    Arrived(Tally),
    /// A connection dropped or a catch-up could not run; tried again
    /// after `wait_secs`.
    Retrying {
        /// What went wrong, in plain words.
        what: String,
        /// The wait before the next try.
        wait_secs: u64,
    },
}

impl Notice {
    /// What the notice says, in plain words; `None` for [`Notice::Arrived`],
    /// whose words are its tally's [`Tally::line`] (they need the clock).
    pub fn words(&self) -> Option<String> {
        match self {
            Notice::Watching {
                idle,
                polled,
                poll_secs,
            } => Some(watching_words(idle, *polled, *poll_secs)),
            Notice::Records { only_new, answers } => Some(if *only_new {
                format!(
                    "Your domain's mail records name only the new provider ({}).",
                    answers.join("; ")
                )
            } else {
                format!(
                    "Some of your domain's mail records still name the old server ({}): mail may still go there.",
                    answers.join("; ")
                )
            }),
            Notice::Arrived(_) => None,
            Notice::Retrying { what, wait_secs } => {
                Some(format!("{what} Trying again in {wait_secs} seconds…"))
            }
        }
    }
}

/// What a watch waits on, in words.
fn watching_words(idle: &[String], polled: usize, poll_secs: u64) -> String {
    let mut said = String::from("Watching the old server");
    if !idle.is_empty() {
        said.push_str(&format!(": {} as mail arrives", idle.join(", ")));
    }
    if polled > 0 {
        let every = if poll_secs.is_multiple_of(60) && poll_secs >= 120 {
            format!("{} minutes", poll_secs / 60)
        } else {
            format!("{poll_secs} seconds")
        };
        let folders = if polled == 1 {
            "1 other folder".to_owned()
        } else {
            format!("{polled} other folders")
        };
        said.push_str(&format!(
            "{} {folders} every {every}",
            if idle.is_empty() { ":" } else { "," }
        ));
    }
    said.push('.');
    said
}

/// The computer's time zone offset from UTC at `now` (unix seconds), in
/// seconds: what [`Tally::line`]'s "today" and "at 14:02" are in.
pub fn local_offset(now: i64) -> i32 {
    use chrono::{Local, Offset, TimeZone};
    Local
        .timestamp_opt(now, 0)
        .single()
        .map_or(0, |t| t.offset().fix().local_minus_utc())
}

/// How a watch ended, and what it moved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Why it ended.
    pub end: End,
    /// The mail moved while watching.
    pub tally: Tally,
}

/// What the waiting tasks tell the watch.
enum Signal {
    /// A folder waited on with IDLE changed, or its connection was opened
    /// again (mail may have arrived while it was down).
    Changed,
    /// A connection dropped; it is opened again after `wait`.
    Dropped { what: String, wait: Duration },
}

/// Does the progress file record the switch? A file held by a running
/// copy is waited for.
///
/// # Errors
/// A damaged or unreadable progress file.
pub async fn switched(progress: &ProgressFile) -> Result<bool, Error> {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        match State::open_read_only(&progress.path) {
            Ok(None) => return Ok(false),
            Ok(Some(state)) => {
                let phase = state
                    .phase()
                    .map_err(|e| progress_error(&progress.path, e))?;
                return Ok(phase == Phase::PostCutover);
            }
            Err(e) if e.is_busy() && Instant::now() < until => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(progress_error(&progress.path, e)),
        }
    }
}

/// Watches one mailbox's old server after the switch and moves what
/// arrives there, until [`stop_rule`] says so, `options.cancel` is
/// cancelled, or a problem retrying cannot fix (a refused sign-in).
/// With `mx`, the domain's mail records are looked up at the start and
/// every [`Settings::mx_every`] for the stop rule; without, the rule goes
/// by the quiet period and the cap.
///
/// # Errors
/// What stops the watch: a sign-in refused, a damaged progress file, a
/// first connection that could not be made.
pub async fn watch(
    mailbox: &Mailbox,
    settings: &Settings,
    options: &Options,
    now: Clock<'_>,
    mx: Option<&crate::mx::Question>,
    notices: &mut dyn FnMut(Notice),
    sink: &mut dyn EventSink,
) -> Result<Summary, Error> {
    let mut tally = Tally::default();
    if !switched(&mailbox.progress).await? {
        return Ok(Summary {
            end: End::NotSwitched,
            tally,
        });
    }
    let options = Options {
        after_switch: true,
        delete2: false,
        dry: false,
        ..options.clone()
    };
    let started = now();
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();

    // The first catch-up's job also says which folders to watch.
    let mut job = open_job(mailbox).await?;
    let folders = watched_folders(&job);
    let idle_offered = job.sessions().0.offers_idle();
    let (idled, polled): (Vec<_>, Vec<_>) = folders
        .into_iter()
        .partition(|f| idle_offered && f.wait_on_idle);
    // The polled folders' counts before the first catch-up: what arrives
    // after it is seen at the first poll.
    let mut poller = Poller::new(mailbox.source.clone(), polled);
    let mut pending = poller.look().await.is_err();
    let mut tasks = Vec::new();
    for folder in &idled {
        tasks.push(tokio::spawn(idle_folder(
            mailbox.source.clone(),
            folder.wire.clone(),
            settings.clone(),
            stop.clone(),
            tx.clone(),
        )));
    }
    notices(Notice::Watching {
        idle: idled.iter().map(|f| f.display.clone()).collect(),
        polled: poller.folders.len(),
        poll_secs: settings.poll_every.as_secs(),
    });
    let first = run_job(&mut job, &options, now, sink).await;
    job.close().await;

    let mut retry = Retry::new(settings);
    match first {
        Ok(report) => arrived(&mut tally, &report, now(), notices),
        Err(e) if retry_later(&e) => {
            pending = true;
            retry.failed(&e, notices);
        }
        Err(e) => {
            halt(&stop, tasks).await;
            return Err(e);
        }
    }
    let mut next_poll = Instant::now() + settings.poll_every;
    let mut tracker = crate::mx::Tracker::default();
    let mut records = Mx::NotAsked;
    let mut next_mx = Instant::now();
    let end = loop {
        if options.cancel.is_cancelled() {
            break End::Stopped;
        }
        if let (Some(question), true) = (mx, Instant::now() >= next_mx) {
            next_mx = Instant::now() + settings.mx_every;
            let answers = crate::mx::ask(question).await;
            records = tracker.observe(question, now(), &answers);
            notices(Notice::Records {
                only_new: matches!(records, Mx::OnlyNew { .. }),
                answers: answers
                    .iter()
                    .map(|a| match a {
                        Ok(a) if a.hosts.is_empty() => format!("{}: no mail records", a.from),
                        Ok(a) => format!("{}: {}", a.from, a.hosts.join(", ")),
                        Err(why) => why.clone(),
                    })
                    .collect(),
            });
        }
        let at = now();
        let inputs = StopInputs {
            started,
            now: at,
            last_arrival: tally.last(),
            quiet_secs: settings.quiet.as_secs() as i64,
            cap_secs: settings.cap.map(|c| c.as_secs() as i64),
            mx: records,
        };
        if let Some(end) = stop_rule(&inputs) {
            break end;
        }
        if Instant::now() >= next_poll {
            next_poll = Instant::now() + settings.poll_every;
            match poller.look().await {
                Ok(changed) => pending |= changed,
                Err(e) => {
                    pending = true;
                    notices(Notice::Retrying {
                        what: e.to_string(),
                        wait_secs: settings.poll_every.as_secs(),
                    });
                }
            }
        }
        if pending && retry.due() {
            match catch_up(mailbox, &options, now, sink).await {
                Ok(report) => {
                    pending = false;
                    retry.succeeded();
                    arrived(&mut tally, &report, now(), notices);
                }
                Err(e) if retry_later(&e) => retry.failed(&e, notices),
                Err(e) => {
                    halt(&stop, tasks).await;
                    return Err(e);
                }
            }
            continue;
        }
        tokio::select! {
            signal = rx.recv() => match signal {
                Some(Signal::Changed) => pending = true,
                Some(Signal::Dropped { what, wait }) => notices(Notice::Retrying {
                    what,
                    wait_secs: wait.as_secs(),
                }),
                None => {}
            },
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    };
    halt(&stop, tasks).await;
    poller.close().await;
    Ok(Summary { end, tally })
}

/// A source folder the watch looks at.
#[derive(Clone, Debug)]
struct Watched {
    wire: String,
    display: String,
    /// INBOX, or the Junk/Spam folder: waited on with IDLE when offered.
    wait_on_idle: bool,
}

/// Every folder the job copies; INBOX and Junk waited on with IDLE.
fn watched_folders(job: &Job) -> Vec<Watched> {
    job.map()
        .entries
        .iter()
        .filter(|e| matches!(e.target, Target::Folder { .. }))
        .map(|e| {
            let junk = job
                .source_tree()
                .find(&e.source)
                .is_some_and(|f| f.special_use() == Some(SpecialUse::Junk));
            Watched {
                wire: e.source.wire().to_owned(),
                display: e.source.display().to_owned(),
                wait_on_idle: e.source.is_inbox() || junk,
            }
        })
        .collect()
}

async fn open_job(mailbox: &Mailbox) -> Result<Job, Error> {
    Job::connect(
        (&mailbox.source.0, &mailbox.source.1),
        (&mailbox.dest.0, &mailbox.dest.1),
        &mailbox.rules,
        mailbox.progress.clone(),
    )
    .await
    .map_err(Error::from)
}

/// Folders, then the copy, after the switch: the same as `sync`.
async fn run_job(
    job: &mut Job,
    options: &Options,
    now: Clock<'_>,
    sink: &mut dyn EventSink,
) -> Result<Report, Error> {
    job.set_after_switch(true);
    job.create_folders(now).await?;
    job.copy(options, now, sink).await
}

/// One catch-up: the job opened, run and closed (its progress file is
/// locked only meanwhile).
async fn catch_up(
    mailbox: &Mailbox,
    options: &Options,
    now: Clock<'_>,
    sink: &mut dyn EventSink,
) -> Result<Report, Error> {
    let mut job = open_job(mailbox).await?;
    let result = run_job(&mut job, options, now, sink).await;
    job.close().await;
    result
}

fn arrived(tally: &mut Tally, report: &Report, at: i64, notices: &mut dyn FnMut(Notice)) {
    let moved = report.transferred();
    if moved > 0 {
        tally.arrivals.push((at, moved));
        notices(Notice::Arrived(tally.clone()));
    }
}

/// A problem a later try may not meet: a lost connection, a server down
/// or busy, the network gone, the progress file used by a manual copy.
fn retry_later(e: &Error) -> bool {
    e.is_transient()
        || matches!(
            e.problem(),
            Problem::ConnectionRefused { .. } | Problem::DnsNotFound { .. } | Problem::JobBusy
        )
}

/// The growing wait between tries.
struct Retry {
    first: Duration,
    max: Duration,
    wait: Duration,
    at: Instant,
}

impl Retry {
    fn new(settings: &Settings) -> Retry {
        Retry {
            first: settings.backoff_first,
            max: settings.backoff_max,
            wait: settings.backoff_first,
            at: Instant::now(),
        }
    }

    fn due(&self) -> bool {
        Instant::now() >= self.at
    }

    fn failed(&mut self, e: &Error, notices: &mut dyn FnMut(Notice)) {
        notices(Notice::Retrying {
            what: e.to_string(),
            wait_secs: self.wait.as_secs(),
        });
        self.at = Instant::now() + self.wait;
        self.wait = (self.wait * 2).min(self.max);
    }

    fn succeeded(&mut self) {
        self.wait = self.first;
    }
}

/// The polled folders, on a connection of their own (opened again when
/// it drops).
struct Poller {
    source: (Endpoint, Credentials),
    folders: Vec<Watched>,
    session: Option<Session>,
    seen: BTreeMap<String, Counts>,
}

impl Poller {
    fn new(source: (Endpoint, Credentials), folders: Vec<Watched>) -> Poller {
        Poller {
            source,
            folders,
            session: None,
            seen: BTreeMap::new(),
        }
    }

    /// STATUS of every polled folder: has any changed since last time?
    /// A folder the server refuses (gone) is passed over. The first look
    /// sets what later ones compare with.
    async fn look(&mut self) -> Result<bool, Error> {
        if self.folders.is_empty() {
            return Ok(false);
        }
        let mut session = match self.session.take() {
            Some(s) => s,
            None => Session::connect(&self.source.0, &self.source.1).await?,
        };
        let mut changed = false;
        for folder in &self.folders {
            match session.counts(&folder.wire).await {
                Ok(counts) => {
                    let before = self.seen.insert(folder.wire.clone(), counts);
                    changed |= before.is_some_and(|b| b != counts);
                }
                Err(e) if retry_later(&e) => return Err(e),
                Err(e) => tracing::debug!(folder = folder.display, "cannot poll: {e}"),
            }
        }
        self.session = Some(session);
        Ok(changed)
    }

    async fn close(self) {
        if let Some(session) = self.session {
            session.logout().await;
        }
    }
}

/// Waits on one folder with IDLE, on its own connection, until `stop`;
/// says [`Signal::Changed`] at each change and after each (re)connection.
async fn idle_folder(
    source: (Endpoint, Credentials),
    wire: String,
    settings: Settings,
    stop: Arc<AtomicBool>,
    tx: tokio::sync::mpsc::UnboundedSender<Signal>,
) {
    let stopped = || stop.load(Ordering::SeqCst);
    let mut wait = settings.backoff_first;
    while !stopped() {
        let opened = async {
            let mut session = Session::connect(&source.0, &source.1).await?;
            let status = session.examine(&wire).await?;
            Ok::<_, Error>((session, status.exists))
        }
        .await;
        let (mut session, mut exists) = match opened {
            Ok(opened) => opened,
            Err(e) => {
                let _ = tx.send(Signal::Dropped {
                    what: e.to_string(),
                    wait,
                });
                pause(wait, &stopped).await;
                wait = (wait * 2).min(settings.backoff_max);
                continue;
            }
        };
        // Mail may have arrived before this EXAMINE (since the last
        // catch-up, or while the connection was down): a catch-up looks.
        let _ = tx.send(Signal::Changed);
        wait = settings.backoff_first;
        loop {
            match session.idle(exists, settings.renew_idle, &stopped).await {
                Ok(IdleEnd::Changed { exists: n }) => {
                    exists = n;
                    let _ = tx.send(Signal::Changed);
                }
                Ok(IdleEnd::Renew) => {}
                Ok(IdleEnd::Stopped) => {
                    session.logout().await;
                    return;
                }
                Err(e) => {
                    tracing::debug!(folder = wire, "IDLE ended: {e}");
                    let _ = tx.send(Signal::Dropped {
                        what: e.to_string(),
                        wait,
                    });
                    pause(wait, &stopped).await;
                    break;
                }
            }
        }
    }
}

/// Sleeps `wait`, or less if `stopped()` turns true.
async fn pause(wait: Duration, stopped: &(dyn Fn() -> bool + Sync)) {
    let until = Instant::now() + wait;
    while Instant::now() < until && !stopped() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Ends the IDLE tasks: each ends its IDLE and signs out (a task that
/// does not within a few seconds is dropped).
async fn halt(stop: &AtomicBool, tasks: Vec<tokio::task::JoinHandle<()>>) {
    stop.store(true, Ordering::SeqCst);
    for task in tasks {
        let abort = task.abort_handle();
        if tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
}

/// "24 hours", "90 minutes", "3 days".
fn duration_words(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s} seconds"),
        s if s < 7200 => format!("{} minutes", s / 60),
        s if s < 172_800 => format!("{} hours", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_watch_waits_on_is_said_in_plain_words() {
        assert_eq!(
            watching_words(&["INBOX".into(), "Junk".into()], 3, 120),
            "Watching the old server: INBOX, Junk as mail arrives, 3 other folders every 2 minutes."
        );
        assert_eq!(
            watching_words(&[], 1, 45),
            "Watching the old server: 1 other folder every 45 seconds."
        );
    }
}
