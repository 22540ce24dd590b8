//! One migration job: the sequence and its rules, written once. The CLI,
//! a whole domain (`domain::migrate_all`), the desktop shell and the tests
//! all go through [`Job`]; nothing else spells the sequence out.
//!
//! The sequence, and the policy each step owns:
//! 1. [`Job::open`]: both folder trees are read and mapped with the user's
//!    rules. A folder question (two source folders onto one target…)
//!    holds back only the folders it is about; everything else goes ahead
//!    and the questions are listed at the end ([`Job::questions`]).
//! 2. [`Job::create_folders`]: the create plan runs on the new server. A
//!    folder it refuses holds back that folder and the ones inside it
//!    (each is reported as refused, with the server's words, in the copy's
//!    report); every other folder is created and copied. A folder the
//!    server took for a look-alike one goes into a sibling ("Café (2)").
//! 3. [`Job::copy`]: opens and locks the progress file (read-only in a dry
//!    run; a damaged one is rebuilt only when the user asked), then copies.
//!    The phase rules live in the copy: before the switch, flag deltas and
//!    opt-in removals; once the switch is recorded in the progress file
//!    (`Options::after_switch`), only additions, on every later run.
//! 4. [`Job::audit`]: both servers compared, the progress file only
//!    explaining; the one *safe to switch* rule is the audit's.
//!
//! [`Job::run`] is steps 2 and 3 (step 2 skipped in a dry run), for faces
//! that need nothing between them.
//!
//! A folder renamed at the old server between runs is followed in step 2,
//! before anything is created, when that server offers OBJECTID: its
//! progress goes on under the new name, and before the switch its copies'
//! folder is renamed to match at the new server ([`Job::renamed`]).

mod rename;

/// How often a step of the whole run (creating the folders, checking a
/// folder) is tried again after a lost connection: as often as a folder's
/// copy is by default.
pub(crate) const STEP_RETRIES: u32 = 5;

use std::path::{Path, PathBuf};

use crate::endpoint::{Credentials, Endpoint};
use crate::error::{Error, Problem};
use crate::event::{Event, EventSink};
use crate::folder::{
    apply, map_folders, plan_create, read_tree, ApplyReport, Conflict, CreatePlan, FolderMap,
    FolderTree, Renamed, Rules, Target,
};
use crate::imap::{ServerBudget, Session};
use crate::run::{self, Clock, FolderReport, Options, Report};
use crate::spot::SpotCheck;
use crate::state::{Phase, State, StateError};
use crate::verify::Audit;

/// Which server something happened on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The old server.
    Source,
    /// The new server.
    Destination,
}

impl Side {
    /// As a person says it: "Source server", "Destination server".
    pub fn label(self) -> &'static str {
        match self {
            Side::Source => "Source server",
            Side::Destination => "Destination server",
        }
    }
}

/// A job that could not be opened, and on which side.
#[derive(Debug)]
pub struct OpenError {
    /// Where it failed.
    pub side: Side,
    /// What happened.
    pub error: Error,
}

impl From<OpenError> for Error {
    fn from(e: OpenError) -> Error {
        e.error
    }
}

/// The job's progress file, and what to do if it is damaged.
#[derive(Clone, Debug)]
pub struct ProgressFile {
    /// Where it is.
    pub path: PathBuf,
    /// A damaged file is kept beside a new one built from both servers
    /// (the user asked for it); otherwise a damaged file stops the copy
    /// with [`Problem::ProgressDamaged`] before anything changes.
    pub rebuild_if_damaged: bool,
}

impl ProgressFile {
    /// The file at `path`; a damaged one stops the copy.
    pub fn at(path: impl Into<PathBuf>) -> ProgressFile {
        ProgressFile {
            path: path.into(),
            rebuild_if_damaged: false,
        }
    }
}

/// One mailbox's migration: both servers signed in, their trees read and
/// mapped.
pub struct Job {
    source: Session,
    dest: Session,
    source_tree: FolderTree,
    dest_tree: FolderTree,
    /// The map as the rules make it, questions included (what `folders`
    /// shows and what the audit checks).
    mapped: FolderMap,
    /// This run's map: questions held back, refused folders held back,
    /// look-alikes moved to their siblings.
    map: FolderMap,
    questions: Vec<Conflict>,
    /// Folders held back because the new server refused to create them.
    refused: Vec<FolderReport>,
    progress: ProgressFile,
    /// The progress file, once opened (and locked) for this run.
    state: Option<State>,
    rebuilt: bool,
    /// This run is after the switch (see [`Job::set_after_switch`]).
    after_switch: bool,
    /// Folders found renamed at the old server since an earlier run.
    renamed: Vec<Renamed>,
}

impl Job {
    /// Signs in to both servers at once and opens the job.
    ///
    /// # Errors
    /// The side that failed, and why (sign-in, listing).
    pub async fn connect(
        source: (&Endpoint, &Credentials),
        dest: (&Endpoint, &Credentials),
        rules: &Rules,
        progress: ProgressFile,
    ) -> Result<Job, OpenError> {
        // Both sides at once: two sign-ins cost one's wait.
        let (source, dest) = tokio::join!(
            Session::connect(source.0, source.1),
            Session::connect(dest.0, dest.1)
        );
        let (source, dest) = both(source, dest).await?;
        Job::open(source, dest, rules, progress).await
    }

    /// Signs in within each server's connection budget (a whole domain's
    /// mailboxes share them) and opens the job. Always the source's place
    /// first, then the destination's: mailboxes that wait never hold what
    /// another is waiting for in turn.
    ///
    /// # Errors
    /// As [`Job::connect`].
    pub async fn connect_within(
        source: (&Endpoint, &Credentials, &ServerBudget),
        dest: (&Endpoint, &Credentials, &ServerBudget),
        rules: &Rules,
        progress: ProgressFile,
    ) -> Result<Job, OpenError> {
        let source = Session::connect_within(source.0, source.1, source.2)
            .await
            .map_err(|error| OpenError {
                side: Side::Source,
                error,
            })?;
        let dest = Session::connect_within(dest.0, dest.1, dest.2).await;
        let (source, dest) = both(Ok(source), dest).await?;
        Job::open(source, dest, rules, progress).await
    }

    /// Reads both folder trees over sessions already signed in (the source
    /// is only listed: LIST and LSUB change nothing there) and maps them.
    ///
    /// # Errors
    /// The side whose listing failed.
    pub async fn open(
        mut source: Session,
        mut dest: Session,
        rules: &Rules,
        progress: ProgressFile,
    ) -> Result<Job, OpenError> {
        let trees = tokio::join!(read_tree(&mut source), read_tree(&mut dest));
        let failed = match trees {
            (Ok(source_tree), Ok(dest_tree)) => Ok((source_tree, dest_tree)),
            (Err(error), _) => Err(OpenError {
                side: Side::Source,
                error,
            }),
            (Ok(_), Err(error)) => Err(OpenError {
                side: Side::Destination,
                error,
            }),
        };
        let (source_tree, dest_tree) = match failed {
            Ok(trees) => trees,
            Err(e) => {
                source.logout().await;
                dest.logout().await;
                return Err(e);
            }
        };
        let mapped = map_folders(&source_tree, &dest_tree, rules);
        let (map, questions) = mapped.hold_back_questions();
        Ok(Job {
            source,
            dest,
            source_tree,
            dest_tree,
            mapped,
            map,
            questions,
            refused: Vec::new(),
            progress,
            state: None,
            rebuilt: false,
            after_switch: false,
            renamed: Vec::new(),
        })
    }

    /// Maps the folders again with other rules (the user's edits, which
    /// may need the source's folder separator: [`Job::source_tree`]).
    /// Before folders are created.
    pub fn remap(&mut self, rules: &Rules) {
        self.mapped = map_folders(&self.source_tree, &self.dest_tree, rules);
        (self.map, self.questions) = self.mapped.hold_back_questions();
        self.refused.clear();
    }

    /// The source's folder tree as listed.
    pub fn source_tree(&self) -> &FolderTree {
        &self.source_tree
    }

    /// The map as the rules make it, questions included.
    pub fn mapped(&self) -> &FolderMap {
        &self.mapped
    }

    /// This run's map (questions and refused folders held back).
    pub fn map(&self) -> &FolderMap {
        &self.map
    }

    /// The folder questions this run leaves for the user; their folders
    /// wait for the decision.
    pub fn questions(&self) -> &[Conflict] {
        &self.questions
    }

    /// Folders held back because the new server refused to create them
    /// (each with the server's words in `refused`).
    pub fn refused_folders(&self) -> &[FolderReport] {
        &self.refused
    }

    /// Says that this run is after the switch (`Options::after_switch`)
    /// before [`Job::create_folders`], which then renames nothing at the
    /// new server ([`Job::run`] says it itself). A job whose progress file
    /// records the switch is after it anyway.
    pub fn set_after_switch(&mut self, after: bool) {
        self.after_switch = after;
    }

    /// Folders found renamed at the old server since an earlier run, and
    /// what became of their copies (known after [`Job::create_folders`]).
    pub fn renamed(&self) -> &[Renamed] {
        &self.renamed
    }

    /// The job's progress file.
    pub fn progress_path(&self) -> &Path {
        &self.progress.path
    }

    /// Whether this run replaced a damaged progress file.
    pub fn rebuilt_progress(&self) -> bool {
        self.rebuilt
    }

    /// Both sessions, for reads outside the sequence (folder sizes).
    pub fn sessions(&mut self) -> (&mut Session, &mut Session) {
        (&mut self.source, &mut self.dest)
    }

    /// What creating the folders would do, without doing it.
    ///
    /// # Errors
    /// A map that still needs a decision (cannot happen after
    /// [`Job::open`], which holds questions back).
    pub fn plan(&self) -> Result<CreatePlan, Error> {
        plan_create(&self.map, &self.dest_tree).map_err(|e| {
            Error::new(Problem::Protocol {
                host: self.dest.endpoint().host.clone(),
            })
            .with_detail(e.to_string())
        })
    }

    /// Creates the folders this run's map needs on the new server, after
    /// opening (and locking) the progress file, so that a damaged or busy
    /// one stops the job before anything changes.
    /// A refused folder is held back with the folders inside it (reported
    /// as refused in the copy's report, with the server's words) and the
    /// rest is created: one bad folder never stops the others.
    ///
    /// # Errors
    /// The progress file's, and what stops the whole job (the session's
    /// errors on LIST).
    pub async fn create_folders(&mut self, now: Clock<'_>) -> Result<ApplyReport, Error> {
        self.open_progress(false, now)?;
        let mut all = ApplyReport::default();
        // A connection lost (or a server busy) in this step is the whole
        // run's step, not a folder's: it is tried again on fresh
        // connections, as a folder's copy is, from what the new server
        // lists then (a folder the lost attempt created is not created
        // twice).
        let mut attempt = 0;
        loop {
            match self.try_create_folders(now, &mut all).await {
                Err(e) if e.is_transient() && attempt < STEP_RETRIES => {
                    attempt += 1;
                    let wait = run::retry_wait(&e, attempt);
                    tracing::debug!(attempt, wait_secs = wait.as_secs(), error = %e, "creating the folders again");
                    tokio::time::sleep(wait).await;
                    self.reconnect().await?;
                }
                Err(e) => return Err(e),
                Ok(()) => return Ok(all),
            }
        }
    }

    /// Fresh connections to both servers, and the new server's folders
    /// listed again. A server that is still away is not an error here:
    /// the next attempt fails and counts; one that turns the sign-in down
    /// is, as that is what the user must hear.
    async fn reconnect(&mut self) -> Result<(), Error> {
        let (source, dest) = tokio::join!(self.source.reconnect(), self.dest.reconnect());
        if let Some(e) = [source.err(), dest.err()]
            .into_iter()
            .flatten()
            .find(Error::is_auth)
        {
            return Err(e);
        }
        if let Ok(tree) = read_tree(&mut self.dest).await {
            self.dest_tree = tree;
            refresh_exists(&self.dest_tree, [&mut self.map, &mut self.mapped]);
        }
        Ok(())
    }

    /// One attempt at [`Job::create_folders`], adding to `all`.
    async fn try_create_folders(
        &mut self,
        now: Clock<'_>,
        all: &mut ApplyReport,
    ) -> Result<(), Error> {
        self.follow_renames(now).await?;
        // Each refusal takes at least one folder out of the plan, so this
        // ends; the bound is for safety.
        for _ in 0..=self.map.entries.len() {
            let plan = self.plan()?;
            let report = apply(&mut self.dest, &plan).await?;
            all.created.extend(report.created);
            all.subscribed.extend(report.subscribed);
            self.map.move_to_siblings(&report.moved);
            all.moved.extend(report.moved);
            if let Some(lost) = report.lost {
                return Err(lost);
            }
            let Some(refusal) = report.refused else {
                all.refused = None;
                all.not_attempted.clear();
                return Ok(());
            };
            let why = refusal.describe();
            let held = self.map.hold_back_inside(refusal.folder());
            for entry in &held {
                let Target::Folder { name, .. } = &entry.target else {
                    continue;
                };
                self.refused.push(FolderReport {
                    source: entry.source.display().to_owned(),
                    destination: name.display().to_owned(),
                    refused: Some(why.clone()),
                    ..FolderReport::default()
                });
            }
            if held.is_empty() {
                // A refusal no folder of the map accounts for (a
                // subscription of a folder no entry targets): report it
                // and stop creating, as before.
                all.not_attempted = report.not_attempted;
                all.refused = Some(refusal);
                return Ok(());
            }
            all.refused = Some(refusal);
        }
        Ok(())
    }

    /// Copies every folder of this run's map (see [`run::sync`]), with the
    /// progress file opened and locked for the run. Folders held back by a
    /// refused CREATE are in the report as refused.
    ///
    /// # Errors
    /// A damaged or busy progress file, or a problem that stopped the run.
    pub async fn copy(
        &mut self,
        options: &Options,
        now: Clock<'_>,
        sink: &mut dyn EventSink,
    ) -> Result<Report, Error> {
        self.open_progress(options.dry, now)?;
        // What this run leaves out reaches every face as it starts: the
        // folders a question holds back, and those the new server refused.
        for entry in &self.mapped.entries {
            if let Some(q) = self.questions.iter().find(|q| q.concerns(entry)) {
                sink.emit(Event::FolderRefused {
                    folder: entry.source.display().to_owned(),
                    reason: format!("left out until you decide: {}", q.describe()),
                    renumbered: false,
                });
            }
        }
        for folder in &self.refused {
            sink.emit(Event::FolderRefused {
                folder: folder.source.clone(),
                reason: folder.refused.clone().unwrap_or_default(),
                renumbered: false,
            });
        }
        for r in &self.renamed {
            sink.emit(Event::FolderRenamed {
                from: r.from.clone(),
                to: r.to.clone(),
                said: r.describe(),
            });
        }
        let mut report = run::sync(
            &mut self.source,
            &mut self.dest,
            &self.map,
            self.state.as_mut(),
            options,
            now,
            sink,
        )
        .await?;
        report.folders.extend(self.refused.iter().cloned());
        report.renamed = self.renamed.clone();
        if let (Some(state), false) = (self.state.as_mut(), options.dry) {
            rename::remember_ids(&mut self.source, state, &self.source_tree).await;
        }
        Ok(report)
    }

    /// Creates the folders (not in a dry run), then copies.
    ///
    /// # Errors
    /// As [`Job::create_folders`] and [`Job::copy`].
    pub async fn run(
        &mut self,
        options: &Options,
        now: Clock<'_>,
        sink: &mut dyn EventSink,
    ) -> Result<Report, Error> {
        if !options.dry {
            self.after_switch |= options.after_switch;
            self.create_folders(now).await?;
        }
        self.copy(options, now, sink).await
    }

    /// Compares both servers, folder by folder, over the map as the rules
    /// make it; the progress file (if there is one) only explains.
    ///
    /// # Errors
    /// A progress file that can't be read, or a lost connection.
    pub async fn audit(&mut self) -> Result<Audit, Error> {
        let (mapped, state) = self.audited_map()?;
        crate::verify::verify(&mut self.source, &mut self.dest, &mapped, state.as_ref()).await
    }

    /// The four checks a person would do by hand (Sent mail, the deepest
    /// folder, the newest message, a starred one), over the same map as
    /// [`Job::audit`].
    ///
    /// # Errors
    /// A progress file that can't be read, or a lost connection.
    pub async fn spot_check(&mut self) -> Result<SpotCheck, Error> {
        let (mapped, _) = self.audited_map()?;
        crate::spot::spot_check(&mut self.source, &mut self.dest, &mapped).await
    }

    /// The map as the rules make it, with folders the progress file
    /// records as renamed kept where their copies are; and that file, if
    /// there is one.
    fn audited_map(&self) -> Result<(FolderMap, Option<State>), Error> {
        let state = State::open_read_only(&self.progress.path)
            .map_err(|e| progress_error(&self.progress.path, e))?;
        let mut mapped = self.mapped.clone();
        if let Some(st) = &state {
            let rows = st
                .folders()
                .map_err(|e| progress_error(&self.progress.path, e))?;
            rename::keep_recorded(&mut mapped, &rows);
        }
        Ok((mapped, state))
    }

    /// Puts `mail` (the report) in the new mailbox's INBOX, unread, over
    /// the job's own connection to the new server.
    ///
    /// # Errors
    /// The new server refused the message or the connection was lost.
    pub async fn deliver_to_destination(
        &mut self,
        mail: &crate::report_mail::ReportMail<'_>,
    ) -> Result<(), Error> {
        mail.deliver(&mut self.dest).await
    }

    /// Signs out of both servers (and lets go of the progress file).
    pub async fn close(self) {
        drop(self.state);
        self.source.logout().await;
        self.dest.logout().await;
    }

    /// Follows the folders renamed at the old server since an earlier run
    /// (see `job/rename.rs`), before any folder is created; the new server's
    /// tree is listed again when a folder was renamed there. Then sends
    /// the folders that keep their recorded destination there.
    async fn follow_renames(&mut self, now: Clock<'_>) -> Result<(), Error> {
        let Some(state) = self.state.as_mut() else {
            return Ok(());
        };
        let path = self.progress.path.clone();
        let switched = self.after_switch
            || state.phase().map_err(|e| progress_error(&path, e))? == Phase::PostCutover;
        let sides = rename::Sides {
            source: &mut self.source,
            dest: &mut self.dest,
            source_tree: &self.source_tree,
            dest_tree: &self.dest_tree,
        };
        self.renamed = rename::follow(sides, state, &self.map, switched, now(), &path).await?;
        if self.renamed.iter().any(Renamed::renamed_at_destination) {
            self.dest_tree = read_tree(&mut self.dest).await?;
            refresh_exists(&self.dest_tree, [&mut self.map, &mut self.mapped]);
        }
        let rows = state.folders().map_err(|e| progress_error(&path, e))?;
        rename::keep_recorded(&mut self.map, &rows);
        rename::keep_recorded(&mut self.mapped, &rows);
        Ok(())
    }

    /// Opens the progress file once per job: read-only in a dry run (none
    /// yet is fine), else created if need be and locked.
    fn open_progress(&mut self, dry: bool, now: Clock<'_>) -> Result<(), Error> {
        if self.state.is_some() {
            return Ok(());
        }
        let path = &self.progress.path;
        if dry {
            self.state = State::open_read_only(path).map_err(|e| progress_error(path, e))?;
            return Ok(());
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::new(Problem::StateFailed {
                    path: dir.display().to_string(),
                })
                .with_detail(e.to_string())
            })?;
        }
        let opened = match patiently(|| State::open(path, now())) {
            Err(e) if e.is_corrupt() && self.progress.rebuild_if_damaged => {
                self.rebuilt = true;
                State::replace_corrupt(path, now())
            }
            other => other,
        };
        self.state = Some(opened.map_err(|e| progress_error(path, e))?);
        Ok(())
    }
}

/// Each mapped folder's "already at the new server", from its tree.
fn refresh_exists(dest_tree: &FolderTree, maps: [&mut FolderMap; 2]) {
    for entry in maps.into_iter().flat_map(|m| m.entries.iter_mut()) {
        if let Target::Folder { name, exists, .. } = &mut entry.target {
            *exists = dest_tree.find(name).is_some();
        }
    }
}

/// Both sessions, or the side that failed to sign in (the other one is
/// signed out).
async fn both(
    source: Result<Session, Error>,
    dest: Result<Session, Error>,
) -> Result<(Session, Session), OpenError> {
    match (source, dest) {
        (Ok(source), Ok(dest)) => Ok((source, dest)),
        (Err(error), dest) => {
            if let Ok(dest) = dest {
                dest.logout().await;
            }
            Err(OpenError {
                side: Side::Source,
                error,
            })
        }
        (Ok(source), Err(error)) => {
            source.logout().await;
            Err(OpenError {
                side: Side::Destination,
                error,
            })
        }
    }
}

/// Opens the progress file, waiting while its lock looks held for a
/// moment: a process that starts programs (a test harness, the desktop
/// app's demo servers) hands a copy of every descriptor to each child
/// from fork until exec, the lock file's too, so a lock just released can
/// look held for a few milliseconds. A run that really holds it holds it
/// far longer than this wait, and is then reported as busy.
fn patiently(mut open: impl FnMut() -> Result<State, StateError>) -> Result<State, StateError> {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        match open() {
            Err(e) if e.is_busy() && std::time::Instant::now() < until => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// The one conversion from the progress file's errors to a user's problem.
pub fn progress_error(path: &Path, e: StateError) -> Error {
    let path_text = path.display().to_string();
    let problem = if e.is_busy() {
        Problem::JobBusy
    } else if e.is_corrupt() {
        Problem::ProgressDamaged { path: path_text }
    } else {
        Problem::StateFailed { path: path_text }
    };
    Error::new(problem).with_detail(e.to_string())
}
