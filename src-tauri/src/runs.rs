//! The run registry: copies are owned by the shell, not by an invoke call,
//! so they survive a reloaded window and any number of watchers.
//!
//! Each run copies on its own thread (the engine's `sync` takes a
//! `&mut dyn EventSink`, so its future stays on one thread). Its progress
//! is a [`RunView`] in a `tokio::sync::watch`: the sink folds every engine
//! [`Event`] into it, and watchers send the latest view at most every
//! 100 ms, so a burst of events is coalesced to about 10 updates a second.
//!
//! Pause and cancel ask the engine to stop after the batch in flight (its
//! `Cancel` signal, checked between batches); a copy that doesn't stop
//! within 15 s (a silent server) is dropped at its next await point
//! instead. Both are safe: the engine records an intent before every
//! APPEND and settles it on the next run, so stopping anywhere loses and
//! doubles nothing; resume starts the copy again on the same progress file
//! and skips what already arrived.

use crate::accounts::Account;
use crate::error::{ErrorCode, IpcError, IpcResult};
use mailferry::event::Event;
use mailferry::folder::{FolderTree, Rules};
use mailferry::job::{Job, ProgressFile};
use mailferry::run::Report;
use mailferry::spot::SpotCheck;
use mailferry::verify::Audit;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{oneshot, watch};
use ts_rs::TS;

/// A run's id, as the window refers to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
pub struct RunId(pub u32);

/// Where a run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Waiting for its turn: a whole domain copies a few mailboxes at once
    /// (signing in and creating its folders are part of the wait).
    Waiting,
    /// Signing in, creating folders.
    Starting,
    /// Copying.
    Copying,
    /// Stopped by the user; can resume.
    Paused,
    /// Stopped by the user for good.
    Cancelled,
    /// Every folder was done.
    Finished,
    /// Stopped by a problem (see `error`); can resume.
    Failed,
}

impl RunState {
    /// The copy is not running and will not without the user.
    pub fn is_stopped(self) -> bool {
        !matches!(
            self,
            RunState::Waiting | RunState::Starting | RunState::Copying
        )
    }
}

/// One folder's progress.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, TS)]
pub struct FolderProgress {
    /// Source folder (display name; untrusted text).
    pub folder: String,
    /// Messages in the source folder.
    #[ts(type = "number")]
    pub messages: u64,
    /// Already at the destination before this run.
    #[ts(type = "number")]
    pub already_there: u64,
    /// To copy in this run.
    #[ts(type = "number")]
    pub to_copy: u64,
    /// Their size.
    #[ts(type = "number")]
    pub bytes_to_copy: u64,
    /// Copied so far in this run.
    #[ts(type = "number")]
    pub copied: u64,
    /// Their size.
    #[ts(type = "number")]
    pub bytes_copied: u64,
    /// Not copied on purpose.
    #[ts(type = "number")]
    pub skipped: u64,
    /// Refused by the destination.
    #[ts(type = "number")]
    pub failed: u64,
    /// The folder is done.
    pub done: bool,
    /// When its copy began (ms since 1970), for its own rate.
    #[ts(type = "number | null")]
    pub started_ms: Option<u64>,
    /// Milliseconds from then to its latest copied batch (or its end).
    #[ts(type = "number")]
    pub copy_ms: u64,
}

/// A message the destination refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct Refused {
    /// Source folder.
    pub folder: String,
    /// Why, with the server's words.
    pub reason: String,
    /// The old server renumbered the folder: the user can look at it and
    /// have it copied anyway ([`Run::accept_renumbered`]).
    pub renumbered: bool,
}

/// Everything the copy screen shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct RunView {
    /// The run.
    pub id: RunId,
    /// Where it is.
    pub state: RunState,
    /// Per folder, in copy order.
    pub folders: Vec<FolderProgress>,
    /// Refused messages so far.
    pub refused: Vec<Refused>,
    /// The problem that stopped it.
    pub error: Option<IpcError>,
    /// Milliseconds since this stretch of copying started (for rate and ETA).
    #[ts(type = "number")]
    pub elapsed_ms: u64,
    /// The latest engine events, oldest first (at most 30).
    pub recent: Vec<Event>,
    /// While the copy waits (the server asked to slow down, or a lost
    /// connection is being replaced): when it resumes, in milliseconds
    /// since 1970 (the window shows it as a time of day).
    #[ts(type = "number | null")]
    pub waiting_until_ms: Option<u64>,
    /// Why it waits, in plain words.
    pub waiting_reason: Option<String>,
}

const RECENT: usize = 30;

impl RunView {
    fn new(id: RunId) -> RunView {
        RunView {
            id,
            state: RunState::Starting,
            folders: Vec::new(),
            refused: Vec::new(),
            error: None,
            elapsed_ms: 0,
            recent: Vec::new(),
            waiting_until_ms: None,
            waiting_reason: None,
        }
    }

    /// What the job's progress file knows before any copying: per folder,
    /// the messages it has seen and those already at the destination. A
    /// watcher's first view (after the app was closed, or before a resumed
    /// copy has scanned a folder) shows this; the live events take over
    /// folder by folder. An unreadable or missing file shows nothing.
    pub fn job_snapshot(state_path: &std::path::Path) -> Vec<FolderProgress> {
        let read = || -> Result<Vec<FolderProgress>, mailferry::state::StateError> {
            let Some(state) = mailferry::state::State::open_read_only(state_path)? else {
                return Ok(Vec::new());
            };
            let mut out = Vec::new();
            for folder in state.folders()? {
                let (messages, at_destination, _) =
                    state.fate_counts(folder.id, folder.source_uidvalidity)?;
                out.push(FolderProgress {
                    folder: folder.source_name,
                    messages,
                    already_there: at_destination,
                    ..FolderProgress::default()
                });
            }
            Ok(out)
        };
        read().unwrap_or_else(|e| {
            tracing::debug!(error = %e, "the job's progress file could not be read for the view");
            Vec::new()
        })
    }

    /// A new stretch of copying begins in `state`: the progress file's
    /// picture again (`folders`, from [`RunView::job_snapshot`], read
    /// before the view is locked), nothing refused, no problem, no wait.
    pub fn restart(&mut self, state: RunState, folders: Vec<FolderProgress>) {
        self.state = state;
        self.folders = folders;
        self.refused.clear();
        self.error = None;
        self.elapsed_ms = 0;
        self.waiting_until_ms = None;
        self.waiting_reason = None;
    }

    fn folder(&mut self, name: &str) -> &mut FolderProgress {
        if let Some(i) = self.folders.iter().position(|f| f.folder == name) {
            &mut self.folders[i]
        } else {
            self.folders.push(FolderProgress {
                folder: name.to_owned(),
                ..FolderProgress::default()
            });
            self.folders.last_mut().expect("just pushed")
        }
    }

    /// Folds one engine event into the view.
    pub fn apply(&mut self, event: &Event) {
        self.apply_at(event, now_ms());
    }

    /// Folds one engine event into the view, at `now_ms` (milliseconds
    /// since 1970, for the end of a wait).
    pub fn apply_at(&mut self, event: &Event, now_ms: u64) {
        if let Event::Throttled { wait_secs, reason } = event {
            self.waiting_until_ms = Some(now_ms + wait_secs * 1000);
            self.waiting_reason = Some(reason.clone());
        } else if !matches!(event, Event::FolderCreated { .. }) {
            // Anything the copy did means the wait is over.
            self.waiting_until_ms = None;
            self.waiting_reason = None;
        }
        match event {
            Event::RunStarted { .. } => self.state = RunState::Copying,
            Event::FolderScanned {
                folder,
                messages,
                to_copy,
                bytes_to_copy,
                already_there,
            } => {
                let f = self.folder(folder);
                f.started_ms = Some(now_ms);
                f.copy_ms = 0;
                f.messages = *messages;
                f.to_copy = *to_copy;
                f.bytes_to_copy = *bytes_to_copy;
                f.already_there = *already_there;
            }
            // Waits (the server asked to slow down, or a connection is being
            // replaced) and folders followed after a rename at the old
            // server reach the window through `recent`.
            Event::FolderCreated { .. }
            | Event::FolderRenamed { .. }
            | Event::RunFinished { .. }
            | Event::Throttled { .. } => {}
            Event::MessagesCopied {
                folder,
                count,
                bytes,
            } => {
                let f = self.folder(folder);
                f.copied += count;
                f.bytes_copied += bytes;
                f.copy_ms = now_ms.saturating_sub(f.started_ms.unwrap_or(now_ms));
            }
            Event::MessageSkipped { folder, .. } => self.folder(folder).skipped += 1,
            Event::MessageFailed { folder, reason, .. } => {
                self.folder(folder).failed += 1;
                self.refused.push(Refused {
                    folder: folder.clone(),
                    reason: reason.clone(),
                    renumbered: false,
                });
            }
            Event::FolderRefused {
                folder,
                reason,
                renumbered,
            } => {
                let f = self.folder(folder);
                f.done = true;
                self.refused.push(Refused {
                    folder: folder.clone(),
                    reason: reason.clone(),
                    renumbered: *renumbered,
                });
            }
            Event::FolderDone { folder } => {
                let f = self.folder(folder);
                f.done = true;
                f.copy_ms = now_ms.saturating_sub(f.started_ms.unwrap_or(now_ms));
            }
        }
        if self.recent.len() == RECENT {
            self.recent.remove(0);
        }
        self.recent.push(event.clone());
    }
}

/// A copy's folder rules, made from the source's folder tree (a folder
/// brought back comes under its own last name, which depends on the
/// source's separator): the engine's own currency, as
/// `mailferry::domain::migrate_all_with` takes them.
pub type FolderRules = Arc<dyn Fn(&FolderTree) -> Rules + Send + Sync>;

/// The default folder rules: the map as the engine makes it.
pub fn default_rules() -> FolderRules {
    Arc::new(|_| Rules::default())
}

/// A run and its controls.
pub struct Run {
    /// Its id.
    pub id: RunId,
    /// The source account.
    pub source: Account,
    /// The destination account.
    pub dest: Account,
    /// The job's progress file.
    pub state_path: PathBuf,
    /// The progress, for watchers.
    pub view: watch::Sender<RunView>,
    /// The last complete report.
    pub report: Mutex<Option<Report>>,
    /// The folder rules (the map the folder-map screen showed, with the
    /// user's edits).
    pub rules: Mutex<FolderRules>,
    /// This stage skips messages larger than this (the bulk pre-stage
    /// leaves big attachments for their own pass); `None` copies all.
    pub skip_larger_than: Mutex<Option<u64>>,
    /// The domain is switched: the engine records it in the job, and runs
    /// only add from then on.
    pub after_switch: Mutex<bool>,
    /// The user asked for a damaged progress file to be rebuilt from both
    /// servers (the next start only).
    pub rebuild_progress: Mutex<bool>,
    /// Renumbered source folders the user said to copy anyway (every later
    /// start of this run).
    pub accept_renumbered: Mutex<Vec<String>>,
    /// The last check of this copy, for the report the user saves.
    pub audit: Mutex<Option<Audit>>,
    /// The last check's spot check (kept for the report with the audit).
    pub spot: Mutex<Option<SpotCheck>>,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    /// Asks the engine to stop after the batch in flight.
    cancel: Mutex<mailferry::run::Cancel>,
    worker: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// The runs of this session, and the domain runs they belong to.
#[derive(Default)]
pub struct Runs {
    inner: Mutex<(u32, HashMap<RunId, Arc<Run>>)>,
    /// Every domain run of the session, the latest last.
    pub(crate) domains: Mutex<Vec<Arc<crate::domains::DomainRun>>>,
    /// Tells the owner when a domain's copy ends (set once the app runs).
    notifier: std::sync::OnceLock<Arc<dyn crate::notify::Notifier>>,
    /// What keeps the computer awake while copies and watches run.
    awake: std::sync::OnceLock<Arc<crate::awake::Awake>>,
}

impl Runs {
    /// Registers a run (not started).
    pub fn create(&self, source: Account, dest: Account, state_path: PathBuf) -> Arc<Run> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.0 += 1;
        let id = RunId(inner.0);
        let snapshot = RunView::job_snapshot(&state_path);
        let run = Arc::new(Run {
            id,
            source,
            dest,
            state_path,
            view: watch::Sender::new(RunView {
                folders: snapshot,
                ..RunView::new(id)
            }),
            report: Mutex::new(None),
            rules: Mutex::new(default_rules()),
            skip_larger_than: Mutex::new(None),
            after_switch: Mutex::new(false),
            rebuild_progress: Mutex::new(false),
            accept_renumbered: Mutex::new(Vec::new()),
            audit: Mutex::new(None),
            spot: Mutex::new(None),
            stop: Mutex::new(None),
            cancel: Mutex::new(mailferry::run::Cancel::new()),
            worker: Mutex::new(None),
        });
        inner.1.insert(id, run.clone());
        run
    }

    /// Registers a domain's copy: one run per pair, in order (not started).
    /// Refused while another domain's copy is running, or with folder edits
    /// that can't be used.
    pub fn create_domain(
        &self,
        pairs: Vec<crate::domains::Pair>,
        stage: crate::domains::CopyStage,
        limits: crate::domains::Limits,
    ) -> IpcResult<Arc<crate::domains::DomainRun>> {
        use crate::domains::{DomainId, DomainRun};
        // The same checks the copy makes with the server's folder separator.
        stage.edits.rules(None)?;
        if self.latest_domain().is_some_and(|d| d.is_running()) {
            return Err(IpcError::invalid(
                "A copy is running already: wait for it to finish, or pause it first.",
            ));
        }
        let handles = pairs.iter().map(|p| p.handles).collect();
        let members = pairs
            .into_iter()
            .map(|p| self.create(p.source, p.destination, p.state_path))
            .collect();
        let mut domains = self.domains.lock().unwrap_or_else(|e| e.into_inner());
        let id = DomainId(domains.len() as u32 + 1);
        let domain = Arc::new(DomainRun::new(
            id,
            members,
            handles,
            stage,
            limits,
            self.notifier(),
            self.awake(),
        )?);
        domains.push(domain.clone());
        Ok(domain)
    }

    /// Who is told when a copy ends (the app's OS notifications).
    pub fn set_notifier(&self, notifier: Arc<dyn crate::notify::Notifier>) {
        let _ = self.notifier.set(notifier);
    }

    /// What keeps the computer awake while copies and watches run (the
    /// app's: the system's inhibitor).
    pub fn set_awake(&self, awake: Arc<crate::awake::Awake>) {
        let _ = self.awake.set(awake);
    }

    /// What keeps the computer awake, if anything.
    pub fn awake(&self) -> Option<Arc<crate::awake::Awake>> {
        self.awake.get().cloned()
    }

    /// Who is told when a copy or a watch ends, if anyone.
    pub fn notifier(&self) -> Option<Arc<dyn crate::notify::Notifier>> {
        self.notifier.get().cloned()
    }

    /// The latest domain copy of this session (running or not).
    pub fn latest_domain(&self) -> Option<Arc<crate::domains::DomainRun>> {
        let domains = self.domains.lock().unwrap_or_else(|e| e.into_inner());
        domains.last().cloned()
    }

    /// The domain copy a run belongs to, if any.
    pub fn domain_of(&self, run: RunId) -> Option<Arc<crate::domains::DomainRun>> {
        let domains = self.domains.lock().unwrap_or_else(|e| e.into_inner());
        domains.iter().find(|d| d.has(run)).cloned()
    }

    /// The domain copy behind an id.
    pub fn domain(
        &self,
        id: crate::domains::DomainId,
    ) -> IpcResult<Arc<crate::domains::DomainRun>> {
        let domains = self.domains.lock().unwrap_or_else(|e| e.into_inner());
        domains.iter().find(|d| d.id == id).cloned().ok_or_else(|| {
            IpcError::new(
                ErrorCode::UnknownRun,
                "MailFerry doesn't know this copy any more (the app was restarted). Start it again: \
                 it continues where it stopped and copies nothing twice.",
            )
        })
    }

    /// The run behind an id.
    pub fn get(&self, id: RunId) -> IpcResult<Arc<Run>> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.1.get(&id).cloned().ok_or_else(|| {
            IpcError::new(
                ErrorCode::UnknownRun,
                "MailFerry doesn't know this copy any more (the app was restarted). Start it again: \
                 it continues where it stopped and copies nothing twice.",
            )
        })
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Run {
    /// The renumbered folders the user said to copy anyway.
    pub fn accepted_renumbered(&self) -> Vec<String> {
        (self.accept_renumbered.lock())
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The user looked at `folder`, which the old server renumbered, and
    /// says its messages are new: the next start copies it. A run that
    /// finished is made ready to start again (with its domain).
    pub fn accept_renumbered(&self, folder: String) {
        let mut accepted = (self.accept_renumbered.lock()).unwrap_or_else(|e| e.into_inner());
        if !accepted.contains(&folder) {
            accepted.push(folder);
        }
        self.view.send_modify(|v| {
            if v.state == RunState::Finished {
                v.state = RunState::Paused;
            }
        });
    }

    /// Starts (or resumes) copying on a thread of its own. Does nothing if
    /// it is already copying.
    pub fn start(self: &Arc<Self>) -> IpcResult<()> {
        let mut worker = self.worker.lock().unwrap_or_else(|e| e.into_inner());
        if worker.as_ref().is_some_and(|w| !w.is_finished()) {
            return Ok(());
        }
        let (stop_tx, stop_rx) = oneshot::channel();
        *self.stop.lock().unwrap_or_else(|e| e.into_inner()) = Some(stop_tx);
        *self.cancel.lock().unwrap_or_else(|e| e.into_inner()) = mailferry::run::Cancel::new();
        let snapshot = RunView::job_snapshot(&self.state_path);
        self.view
            .send_modify(|v| v.restart(RunState::Starting, snapshot));
        let run = self.clone();
        let handle = std::thread::Builder::new()
            .name(format!("mailferry-run-{}", self.id.0))
            .spawn(move || {
                let outcome = block_on_own_runtime(async {
                    Ok(tokio::select! {
                        result = run.copy() => Some(result),
                        _ = stop_rx => None,
                    })
                });
                let outcome = match outcome {
                    Ok(outcome) => outcome,
                    Err(err) => Some(Err(err)),
                };
                if let Some(result) = outcome {
                    run.finish(result);
                }
            })
            .map_err(IpcError::internal)?;
        *worker = Some(handle);
        Ok(())
    }

    /// Stops copying at the next await point and waits for the thread to
    /// let go of the progress file; the view then says `state`.
    pub fn stop(&self, state: RunState) {
        // First the polite way: the engine finishes and records the batch
        // in flight, then stops. A copy stuck on a silent server is dropped
        // after a while instead (safe too: see the module comment).
        self.cancel
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .cancel();
        let worker = self.worker.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(worker) = worker {
            let deadline = Instant::now() + std::time::Duration::from_secs(15);
            while !worker.is_finished() && Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            if let Some(stop) = self.stop.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let _ = stop.send(());
            }
            let _ = worker.join();
        }
        self.view.send_modify(|v| {
            if !matches!(v.state, RunState::Finished) {
                v.state = state;
            }
        });
    }

    fn finish(&self, result: IpcResult<Report>) {
        let asked_to_stop = self
            .cancel
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_cancelled();
        self.finish_as(result, asked_to_stop);
    }

    /// Records how a copy ended. A copy the user stopped (`asked_to_stop`)
    /// that ended on its own between batches is not finished: whoever
    /// stopped it says paused or cancelled.
    pub(crate) fn finish_as(&self, result: IpcResult<Report>, asked_to_stop: bool) {
        *self
            .rebuild_progress
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = false;
        match result {
            Ok(report) if asked_to_stop && report.stopped.is_some() => {}
            Ok(report) => {
                *self.report.lock().unwrap_or_else(|e| e.into_inner()) = Some(report);
                self.view.send_modify(|v| v.state = RunState::Finished);
            }
            Err(err) => self.view.send_modify(|v| {
                v.state = RunState::Failed;
                v.error = Some(err);
                v.waiting_until_ms = None;
                v.waiting_reason = None;
            }),
        }
    }

    async fn copy(&self) -> IpcResult<Report> {
        let started = Instant::now();
        let rules = self.rules.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let progress = ProgressFile {
            path: self.state_path.clone(),
            rebuild_if_damaged: *self
                .rebuild_progress
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        };
        let mut job = open_job(&self.source, &self.dest, &*rules, progress).await?;
        let mut sink = |event: Event| {
            self.view.send_modify(|v| {
                v.apply(&event);
                v.elapsed_ms = started.elapsed().as_millis() as u64;
            })
        };
        let options = mailferry::run::Options {
            cancel: self
                .cancel
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            max_size: *self
                .skip_larger_than
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
            after_switch: *self.after_switch.lock().unwrap_or_else(|e| e.into_inner()),
            accept_renumbered: self.accepted_renumbered(),
            ..mailferry::run::Options::default()
        };
        let report = job.run(&options, &now, &mut sink).await;
        job.close().await;
        Ok(report?)
    }
}

impl Run {
    /// Audits both sides with the folder map this copy used (the engine's
    /// `audit`), does the engine's spot check over the same map, and keeps
    /// both for the report.
    pub async fn check(self: &Arc<Self>) -> IpcResult<(Audit, SpotCheck)> {
        let run = self.clone();
        let (audit, spot) = tauri::async_runtime::spawn_blocking(move || {
            block_on_own_runtime(async {
                let rules = run.rules.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let progress = ProgressFile::at(&run.state_path);
                let mut job = open_job(&run.source, &run.dest, &*rules, progress).await?;
                let checked = match job.audit().await {
                    Ok(audit) => job.spot_check().await.map(|spot| (audit, spot)),
                    Err(e) => Err(e),
                };
                job.close().await;
                Ok::<_, IpcError>(checked?)
            })
        })
        .await
        .map_err(IpcError::internal)??;
        *self.audit.lock().unwrap_or_else(|e| e.into_inner()) = Some(audit.clone());
        *self.spot.lock().unwrap_or_else(|e| e.into_inner()) = Some(spot.clone());
        Ok((audit, spot))
    }
}

/// Signs in to both accounts and opens their migration job (the engine's
/// [`Job`]: both trees read and mapped with `rules`).
pub(crate) async fn open_job(
    source: &Account,
    dest: &Account,
    rules: &(dyn Fn(&FolderTree) -> Rules + Send + Sync),
    progress: ProgressFile,
) -> IpcResult<Job> {
    let mut job = Job::connect(
        (&source.endpoint, &source.credentials),
        (&dest.endpoint, &dest.credentials),
        &Rules::default(),
        progress,
    )
    .await
    .map_err(|e| IpcError::from(e.error))?;
    let rules = rules(job.source_tree());
    job.remap(&rules);
    Ok(job)
}

/// Runs engine work whose future cannot move between threads (it holds the
/// SQLite state or a `&mut dyn EventSink` across awaits) on a blocking
/// thread with a runtime of its own.
pub(crate) fn block_on_own_runtime<T>(
    work: impl std::future::Future<Output = IpcResult<T>>,
) -> IpcResult<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(IpcError::internal)?
        .block_on(work)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_fold_into_per_folder_progress() {
        let mut view = RunView::new(RunId(1));
        view.apply(&Event::RunStarted {
            dry: false,
            folders: 1,
        });
        view.apply(&Event::FolderScanned {
            folder: "INBOX".into(),
            messages: 10,
            to_copy: 8,
            bytes_to_copy: 800,
            already_there: 2,
        });
        for _ in 0..2 {
            view.apply(&Event::MessagesCopied {
                folder: "INBOX".into(),
                count: 3,
                bytes: 300,
            });
        }
        view.apply(&Event::MessageFailed {
            folder: "INBOX".into(),
            uid: 9,
            reason: "the new server refused it: message too large".into(),
        });
        view.apply(&Event::FolderDone {
            folder: "INBOX".into(),
        });
        assert_eq!(view.state, RunState::Copying);
        let inbox = &view.folders[0];
        assert_eq!(
            (inbox.copied, inbox.bytes_copied, inbox.failed),
            (6, 600, 1)
        );
        assert!(inbox.done);
        assert_eq!(view.refused.len(), 1);
        assert_eq!(view.recent.len(), 6);
    }

    #[test]
    fn a_wait_shows_until_when_and_ends_with_the_next_progress() {
        let mut view = RunView::new(RunId(1));
        view.apply_at(
            &Event::Throttled {
                wait_secs: 90,
                reason: "Gmail asked MailFerry to slow down".into(),
            },
            1_000_000,
        );
        assert_eq!(view.waiting_until_ms, Some(1_090_000));
        assert_eq!(
            view.waiting_reason.as_deref(),
            Some("Gmail asked MailFerry to slow down")
        );
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["waiting_until_ms"], 1_090_000);
        view.apply_at(
            &Event::MessagesCopied {
                folder: "INBOX".into(),
                count: 1,
                bytes: 10,
            },
            1_100_000,
        );
        assert_eq!((view.waiting_until_ms, view.waiting_reason), (None, None));
    }

    #[test]
    fn each_folder_keeps_its_own_copy_time_for_its_rate() {
        let mut view = RunView::new(RunId(1));
        let scanned = |folder: &str| Event::FolderScanned {
            folder: folder.into(),
            messages: 10,
            to_copy: 10,
            bytes_to_copy: 1000,
            already_there: 0,
        };
        let copied = |folder: &str| Event::MessagesCopied {
            folder: folder.into(),
            count: 5,
            bytes: 500,
        };
        view.apply_at(&scanned("INBOX"), 10_000);
        view.apply_at(&copied("INBOX"), 12_000);
        view.apply_at(&copied("INBOX"), 14_000);
        view.apply_at(
            &Event::FolderDone {
                folder: "INBOX".into(),
            },
            14_500,
        );
        view.apply_at(&scanned("Sent"), 20_000);
        view.apply_at(&copied("Sent"), 21_000);
        assert_eq!(
            (view.folders[0].started_ms, view.folders[0].copy_ms),
            (Some(10_000), 4_500)
        );
        assert_eq!(
            (view.folders[1].started_ms, view.folders[1].copy_ms),
            (Some(20_000), 1_000)
        );
    }

    #[test]
    fn a_copy_the_user_stopped_between_batches_is_not_finished() {
        let runs = Runs::default();
        let account = || Account {
            endpoint: mailferry::endpoint::Endpoint::new("127.0.0.1"),
            credentials: mailferry::endpoint::Credentials::password("a", "b"),
        };
        let run = runs.create(account(), account(), PathBuf::from("/nonexistent/job.db"));
        let stopped = Report {
            stopped: Some(mailferry::run::STOPPED.to_owned()),
            ..Report::default()
        };
        run.finish_as(Ok(stopped.clone()), true);
        assert_eq!(
            run.view.borrow().state,
            RunState::Starting,
            "whoever stopped it says paused or cancelled"
        );
        assert!(
            run.report.lock().unwrap().is_none(),
            "a partial copy is no report"
        );
        run.stop(RunState::Paused);
        assert_eq!(run.view.borrow().state, RunState::Paused);
        run.finish_as(Ok(Report::default()), false);
        assert_eq!(run.view.borrow().state, RunState::Finished);
    }

    #[test]
    fn the_event_tail_is_bounded() {
        let mut view = RunView::new(RunId(1));
        for _ in 0..100 {
            view.apply(&Event::FolderCreated { folder: "x".into() });
        }
        assert_eq!(view.recent.len(), RECENT);
    }
}
