//! Mail as files on this computer, from the wizard: the mailboxes the
//! owner chose to "Keep as files" written into a folder they pick (the
//! engine's `archive::export`), and mail files (a Maildir, mbox files, a
//! folder of `.eml` files, Google Takeout, a Thunderbird folder) brought
//! into a new mailbox (the engine's `archive::import`).
//!
//! The shell owns each of these jobs like a copy ([`FileJobs`]): it runs on
//! a thread of its own, the window watches its [`FilesView`] over a
//! channel, and one mailbox that fails is said on its line while the
//! others go on. The window never names a path: folders and files are
//! chosen in the system's dialogs, opened by the shell.

use crate::accounts::{Account, AccountHandle, Accounts};
use crate::commands::copy::send_coalesced;
use crate::error::{ErrorCode, IpcError, IpcResult};
use crate::runs::block_on_own_runtime;
use mailferry::archive::{export, import, segment_to_file, ArchiveError, Format, Progress};
use mailferry::folder::Rules;
use mailferry::imap::Session;
use mailferry::preset::thousands;
use mailferry::run::{system_clock, Cancel};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tauri::ipc::Channel;
use tauri::{AppHandle, State};
use tokio::sync::watch;
use ts_rs::TS;

/// One export or import of this session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
pub struct FilesId(pub u32);

/// How the kept files hold the mail (the engine's [`Format`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum KeepFormat {
    /// One `.eml` file per message: opens with a double-click in any mail program.
    Eml,
    /// One mbox file per folder: Apple Mail and Thunderbird import it.
    Mbox,
    /// A Maildir per folder: for mail servers and programs that read Maildir.
    Maildir,
}

impl KeepFormat {
    fn engine(self) -> Format {
        match self {
            KeepFormat::Eml => Format::Eml,
            KeepFormat::Mbox => Format::Mbox,
            KeepFormat::Maildir => Format::Maildir,
        }
    }
}

/// Where a job, or one of its mailboxes, is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum FilesState {
    /// Its turn has not come.
    Waiting,
    /// Writing (or sending) now.
    Working,
    /// Every folder done.
    Finished,
    /// Stopped by the owner before the end; starting again goes on.
    Stopped,
    /// It could not be done; `said` says why.
    Failed,
}

/// One mailbox of a job, as the window shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct FilesMailbox {
    /// The mailbox (its address).
    pub mailbox: String,
    /// Where it is.
    pub state: FilesState,
    /// How far (folders, messages).
    pub progress: FilesProgress,
    /// Where its files are (an export), or the mailbox they went into.
    pub place: String,
    /// The result or the problem, in plain words (`None` while it works).
    pub said: Option<String>,
}

/// How far a mailbox is (the engine's [`Progress`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, TS)]
pub struct FilesProgress {
    /// Folders finished.
    pub folders_done: u32,
    /// Folders in all (0 until known).
    pub folders: u32,
    /// The folder at work.
    pub folder: String,
    /// Messages written (or sent) by this job.
    #[ts(type = "number")]
    pub done: u64,
    /// Messages already there from an earlier run.
    #[ts(type = "number")]
    pub already: u64,
}

impl From<&Progress> for FilesProgress {
    fn from(p: &Progress) -> FilesProgress {
        FilesProgress {
            folders_done: p.folders_done as u32,
            folders: p.folders as u32,
            folder: p.folder.clone(),
            done: p.done,
            already: p.already,
        }
    }
}

/// What a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum FilesKind {
    /// Mailboxes kept as files.
    Keep,
    /// Files brought into a mailbox.
    Import,
}

/// An export or an import, as the window shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct FilesView {
    /// Its id.
    pub id: FilesId,
    /// Keep or import.
    pub kind: FilesKind,
    /// Where the whole job is.
    pub state: FilesState,
    /// The folder the files are kept in (keep), or the files brought in (import).
    pub place: String,
    /// Each mailbox, in order.
    pub mailboxes: Vec<FilesMailbox>,
    /// The headline in plain words.
    pub said: String,
}

/// One job and its controls.
pub struct FileJob {
    /// Its view, for watchers.
    pub view: watch::Sender<FilesView>,
    cancel: Cancel,
}

impl FileJob {
    fn update(&self, f: impl FnOnce(&mut FilesView)) {
        self.view.send_modify(f);
    }

    /// Waits (blocking) until the job has ended; for tests.
    #[cfg(test)]
    pub fn wait(&self) -> FilesView {
        let mut rx = self.view.subscribe();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                rx.wait_for(|v| !matches!(v.state, FilesState::Working | FilesState::Waiting))
                    .await
                    .unwrap()
                    .clone()
            })
    }
}

/// Mail files the owner chose to bring in, read, until they are imported.
struct Chosen {
    path: PathBuf,
    contents: Arc<import::Contents>,
}

/// The exports and imports of this session, and the files chosen for import.
#[derive(Default)]
pub struct FileJobs {
    inner: Mutex<FileJobsInner>,
}

#[derive(Default)]
struct FileJobsInner {
    next: u32,
    jobs: HashMap<FilesId, Arc<FileJob>>,
    chosen: HashMap<FilesId, Chosen>,
}

impl FileJobs {
    fn next_id(inner: &mut FileJobsInner) -> FilesId {
        inner.next += 1;
        FilesId(inner.next)
    }

    fn create(&self, kind: FilesKind, place: String, mailboxes: Vec<FilesMailbox>) -> Arc<FileJob> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let id = FileJobs::next_id(&mut inner);
        let job = Arc::new(FileJob {
            view: watch::Sender::new(FilesView {
                id,
                kind,
                state: FilesState::Working,
                place,
                mailboxes,
                said: String::new(),
            }),
            cancel: Cancel::new(),
        });
        inner.jobs.insert(id, job.clone());
        job
    }

    /// A job of this session.
    pub fn get(&self, id: FilesId) -> IpcResult<Arc<FileJob>> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.jobs.get(&id).cloned().ok_or_else(|| {
            IpcError::new(
                ErrorCode::UnknownRun,
                "MailFerry no longer knows this task (the app was restarted). Start it again: \
                 what was already done is not done twice.",
            )
        })
    }

    /// Every mailbox kept as files in this session, with its result (for
    /// the report).
    pub fn kept(&self) -> Vec<FilesMailbox> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut ids: Vec<&FilesId> = inner.jobs.keys().collect();
        ids.sort_by_key(|id| id.0);
        ids.into_iter()
            .map(|id| inner.jobs[id].view.borrow().clone())
            .filter(|v| v.kind == FilesKind::Keep)
            .flat_map(|v| v.mailboxes)
            .collect()
    }
}

/// The words for an export's or an import's failure.
fn archive_words(e: &ArchiveError) -> String {
    match e {
        ArchiveError::Server(e) => IpcError::from(e).message,
        ArchiveError::State(e) => format!(
            "MailFerry's record of what is already done could not be used ({e}). Choose \
             another folder to start afresh."
        ),
        ArchiveError::Files {
            action,
            path,
            source,
        } => format!(
            "MailFerry could not {action} {} ({source}). Check that the disk is connected and \
             not full, or choose another folder.",
            path.display()
        ),
        ArchiveError::Unusable(words) => {
            let mut chars = words.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect::<String>() + ".")
                .unwrap_or_default()
        }
    }
}

fn messages(n: u64) -> String {
    format!("{} message{}", thousands(n), if n == 1 { "" } else { "s" })
}

/// A mailbox's folder in the archive: its address as a file name.
pub fn mailbox_folder(dir: &Path, address: &str) -> PathBuf {
    dir.join(segment_to_file(address.trim()))
}

/// The result of one mailbox's export in words.
fn kept_words(report: &export::ExportReport) -> (FilesState, String) {
    let problems: Vec<String> = report
        .folders
        .iter()
        .filter_map(|f| f.problem.as_ref().map(|p| format!("{}: {p}", f.folder)))
        .collect();
    let mut said = format!(
        "{} in {} folder{} kept in {}",
        messages(report.written() + report.already()),
        report.folders.len(),
        if report.folders.len() == 1 { "" } else { "s" },
        report.archive.display()
    );
    if report.already() > 0 {
        said.push_str(&format!(
            " ({} of them were there from before)",
            thousands(report.already())
        ));
    }
    said.push('.');
    let vanished: u64 = report.folders.iter().map(|f| f.vanished).sum();
    if vanished > 0 {
        said.push_str(&format!(
            " {} deleted at the old server while MailFerry read them.",
            messages(vanished)
        ));
    }
    if !problems.is_empty() {
        said.push_str(&format!(" Not kept: {}", problems.join("; ")));
    }
    if report.stopped {
        said.push_str(" Stopped before the end: start again to finish.");
        return (FilesState::Stopped, said);
    }
    let state = if problems.is_empty() {
        FilesState::Finished
    } else {
        FilesState::Failed
    };
    (state, said)
}

/// Keeps each mailbox as files in `dir` (one folder per mailbox, named by
/// its address), one after the other, in `format`; a started job of the
/// same folder and mailbox goes on where it stopped. One mailbox that
/// fails is said on its line and the next one goes on.
pub fn start_keep(
    jobs: &FileJobs,
    accounts: Vec<Account>,
    dir: PathBuf,
    format: KeepFormat,
) -> IpcResult<Arc<FileJob>> {
    if accounts.is_empty() {
        return Err(IpcError::invalid(
            "Choose at least one mailbox to keep as files.",
        ));
    }
    let lines = accounts
        .iter()
        .map(|a| FilesMailbox {
            mailbox: a.credentials.user.clone(),
            state: FilesState::Waiting,
            progress: FilesProgress::default(),
            place: mailbox_folder(&dir, &a.credentials.user)
                .display()
                .to_string(),
            said: None,
        })
        .collect();
    let job = jobs.create(FilesKind::Keep, dir.display().to_string(), lines);
    let worker = job.clone();
    std::thread::Builder::new()
        .name("mailferry-keep".into())
        .spawn(move || {
            let _ = block_on_own_runtime(async {
                keep_all(&worker, &accounts, &dir, format.engine()).await;
                Ok(())
            });
        })
        .map_err(IpcError::internal)?;
    Ok(job)
}

async fn keep_all(job: &FileJob, accounts: &[Account], dir: &Path, format: Format) {
    for (i, account) in accounts.iter().enumerate() {
        if job.cancel.is_cancelled() {
            job.update(|v| {
                v.mailboxes[i].state = FilesState::Stopped;
                v.mailboxes[i].said = Some("Not started: you stopped it.".into());
            });
            continue;
        }
        job.update(|v| v.mailboxes[i].state = FilesState::Working);
        let target = mailbox_folder(dir, &account.credentials.user);
        let result = async {
            let mut session = Session::connect(&account.endpoint, &account.credentials)
                .await
                .map_err(ArchiveError::Server)?;
            let report = export::export_watched(
                &mut session,
                &target,
                format,
                &job.cancel,
                &system_clock,
                &mut |p| job.update(|v| v.mailboxes[i].progress = p.into()),
            )
            .await;
            session.logout().await;
            report
        }
        .await;
        let (state, said) = match result {
            Ok(report) => kept_words(&report),
            Err(e) => (
                FilesState::Failed,
                format!("Not kept: {}", archive_words(&e)),
            ),
        };
        job.update(|v| {
            v.mailboxes[i].state = state;
            v.mailboxes[i].said = Some(said);
        });
    }
    job.update(|v| {
        let failed = v
            .mailboxes
            .iter()
            .filter(|m| m.state == FilesState::Failed)
            .count();
        let stopped = v.mailboxes.iter().any(|m| m.state == FilesState::Stopped);
        let kept = v.mailboxes.len() - failed;
        v.state = if stopped {
            FilesState::Stopped
        } else if failed > 0 {
            FilesState::Failed
        } else {
            FilesState::Finished
        };
        v.said = if stopped {
            "Stopped. What was written is safe; start again to finish (nothing is written twice)."
                .to_owned()
        } else if failed == 0 {
            format!(
                "{} kept as files in {}. Your mail program opens them; nothing was changed at \
                 the old server.",
                mailbox_count(kept),
                v.place
            )
        } else {
            format!(
                "{} of {} kept as files in {}; {} could not be: see {} line.",
                kept,
                mailbox_count(v.mailboxes.len()),
                v.place,
                failed,
                if failed == 1 { "its" } else { "their" }
            )
        };
    });
}

fn mailbox_count(n: usize) -> String {
    format!("{n} mailbox{}", if n == 1 { "" } else { "es" })
}

/// Opens the system's folder dialog; the folder chosen, or `None`.
async fn pick(app: &AppHandle, title: &str, folder: bool) -> IpcResult<Option<PathBuf>> {
    use tauri::Manager;
    use tauri_plugin_dialog::DialogExt;
    let start = app
        .path()
        .document_dir()
        .or_else(|_| app.path().home_dir())
        .map_err(IpcError::internal)?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let dialog = app.dialog().file().set_title(title).set_directory(&start);
    if folder {
        dialog.pick_folder(move |chosen| {
            let _ = tx.send(chosen);
        });
    } else {
        // No filter: a Thunderbird folder's mbox file has no extension.
        dialog.pick_file(move |chosen| {
            let _ = tx.send(chosen);
        });
    }
    let Some(chosen) = rx.await.map_err(IpcError::internal)? else {
        return Ok(None);
    };
    chosen.into_path().map(Some).map_err(IpcError::internal)
}

/// The window's "Choose a folder and keep them": the owner picks a folder
/// in the system's dialog, then each mailbox is written there. `None` when
/// the dialog was closed.
pub async fn keep_as_files(
    app: AppHandle,
    accounts: State<'_, Accounts>,
    jobs: State<'_, FileJobs>,
    mailboxes: Vec<AccountHandle>,
    format: KeepFormat,
) -> IpcResult<Option<FilesView>> {
    let accounts = mailboxes
        .into_iter()
        .map(|h| accounts.get(h))
        .collect::<IpcResult<Vec<_>>>()?;
    let Some(dir) = pick(&app, "Choose where to keep the mail files", true).await? else {
        return Ok(None);
    };
    let job = start_keep(&jobs, accounts, dir, format)?;
    let view = job.view.borrow().clone();
    Ok(Some(view))
}

/// Streams a job's view (now, then each change, coalesced).
pub fn watch_files(
    jobs: State<'_, FileJobs>,
    job: FilesId,
    on_update: Channel<FilesView>,
) -> IpcResult<()> {
    let job = jobs.get(job)?;
    send_coalesced(job.view.subscribe(), on_update);
    Ok(())
}

/// Stops a job after the batch in flight (what is written stays).
pub fn stop_files(jobs: State<'_, FileJobs>, job: FilesId) -> IpcResult<()> {
    jobs.get(job)?.cancel.cancel();
    Ok(())
}

/// Mail files found, before they are brought in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct FilesFound {
    /// What to name when bringing them in.
    pub id: FilesId,
    /// The folder or file chosen.
    pub place: String,
    /// What kind of files they are, in words ("Google Takeout's mbox").
    pub kind: String,
    /// Messages in them.
    pub messages: u32,
    /// Each folder with its number of messages.
    pub folders: Vec<FoundFolder>,
}

/// One folder of the files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct FoundFolder {
    /// Its name.
    pub name: String,
    /// Messages in it.
    pub messages: u32,
}

/// Reads what the files at `path` hold, and keeps them for [`start_import`].
pub fn look_at(jobs: &FileJobs, path: PathBuf) -> IpcResult<FilesFound> {
    let contents = read_found(&path)?;
    Ok(keep_found(jobs, path, contents))
}

/// What the files at `path` hold, or why there is nothing to bring in.
fn read_found(path: &Path) -> IpcResult<import::Contents> {
    let contents = import::read_contents(path).map_err(|e| {
        IpcError::invalid(format!(
            "MailFerry found no mail it can read there. {} Choose a Maildir, an mbox file, a \
             folder of .eml files, a Google Takeout mbox or a Thunderbird mail folder.",
            archive_words(&e)
        ))
    })?;
    if contents.messages.is_empty() {
        return Err(IpcError::invalid(format!(
            "There is no message in {}. Choose a Maildir, an mbox file, a folder of .eml \
             files, a Google Takeout mbox or a Thunderbird mail folder.",
            path.display()
        )));
    }
    Ok(contents)
}

/// Keeps the files read for [`start_import`] and says what they hold.
fn keep_found(jobs: &FileJobs, path: PathBuf, contents: import::Contents) -> FilesFound {
    let folders = contents
        .tree
        .folders
        .iter()
        .map(|f| {
            let name = f.name.display().to_owned();
            let n = contents
                .messages
                .iter()
                .filter(|m| m.folders.contains(&name))
                .count();
            FoundFolder {
                name,
                messages: n as u32,
            }
        })
        .filter(|f| f.messages > 0)
        .collect();
    let mut inner = jobs.inner.lock().unwrap_or_else(|e| e.into_inner());
    let id = FileJobs::next_id(&mut inner);
    let found = FilesFound {
        id,
        place: path.display().to_string(),
        kind: contents.kind.clone(),
        messages: contents.messages.len() as u32,
        folders,
    };
    inner.chosen.insert(
        id,
        Chosen {
            path,
            contents: Arc::new(contents),
        },
    );
    found
}

/// The window's "Choose a folder…" / "Choose a file…" of "Import files":
/// the system's dialog, then what the files hold. `None` when closed.
pub async fn choose_files(
    app: AppHandle,
    jobs: State<'_, FileJobs>,
    folder: bool,
) -> IpcResult<Option<FilesFound>> {
    let Some(path) = pick(&app, "Choose the mail files to bring in", folder).await? else {
        return Ok(None);
    };
    // Reading a large archive takes a moment: off the window's thread.
    let read = path.clone();
    let contents = tauri::async_runtime::spawn_blocking(move || read_found(&read))
        .await
        .map_err(IpcError::internal)??;
    Ok(Some(keep_found(&jobs, path, contents)))
}

/// Brings the files found as `found` into the mailbox `destination`
/// (its folders mapped as a copy maps them), keeping progress in its own
/// file in MailFerry's data folder so a second run sends nothing twice.
pub fn start_import(
    jobs: &FileJobs,
    found: FilesId,
    destination: Account,
    state_path: PathBuf,
) -> IpcResult<Arc<FileJob>> {
    let (path, contents) = {
        let inner = jobs.inner.lock().unwrap_or_else(|e| e.into_inner());
        let chosen = inner.chosen.get(&found).ok_or_else(|| {
            IpcError::invalid("Choose the files again: MailFerry no longer has them in mind.")
        })?;
        (chosen.path.clone(), chosen.contents.clone())
    };
    let line = FilesMailbox {
        mailbox: destination.credentials.user.clone(),
        state: FilesState::Working,
        progress: FilesProgress::default(),
        place: destination.credentials.user.clone(),
        said: None,
    };
    let job = jobs.create(FilesKind::Import, path.display().to_string(), vec![line]);
    let worker = job.clone();
    std::thread::Builder::new()
        .name("mailferry-import".into())
        .spawn(move || {
            let _ = block_on_own_runtime(async {
                import_one(&worker, &destination, &contents, &state_path).await;
                Ok(())
            });
        })
        .map_err(IpcError::internal)?;
    Ok(job)
}

async fn import_one(
    job: &FileJob,
    destination: &Account,
    contents: &import::Contents,
    state_path: &Path,
) {
    let result = async {
        let mut session = Session::connect(&destination.endpoint, &destination.credentials)
            .await
            .map_err(ArchiveError::Server)?;
        let report = import::import_watched(
            &mut session,
            contents,
            state_path,
            &Rules::default(),
            &job.cancel,
            &system_clock,
            &mut |p| job.update(|v| v.mailboxes[0].progress = p.into()),
        )
        .await;
        session.logout().await;
        report
    }
    .await;
    let user = destination.credentials.user.clone();
    let (state, said) = match result {
        Ok(report) => {
            let already: u64 = report.folders.iter().map(|f| f.already).sum();
            let refused: Vec<String> = report
                .folders
                .iter()
                .flat_map(|f| f.refused.iter().map(move |r| format!("{}: {r}", f.folder)))
                .collect();
            let left_out: Vec<&str> = report
                .folders
                .iter()
                .filter(|f| f.destination.is_none())
                .map(|f| f.folder.as_str())
                .collect();
            let mut said = format!(
                "{} brought into {user}",
                messages(report.copied() + already)
            );
            if already > 0 {
                said.push_str(&format!(
                    " ({} of them were there from before)",
                    thousands(already)
                ));
            }
            said.push('.');
            if !left_out.is_empty() {
                said.push_str(&format!(
                    " Left out, as a copy leaves them out: {}.",
                    left_out.join(", ")
                ));
            }
            if !refused.is_empty() {
                said.push_str(&format!(
                    " The new server refused {}: {}",
                    messages(refused.len() as u64),
                    refused.join("; ")
                ));
            }
            if report.stopped {
                said.push_str(" Stopped before the end: start again to finish.");
                (FilesState::Stopped, said)
            } else if refused.is_empty() {
                (FilesState::Finished, said)
            } else {
                (FilesState::Failed, said)
            }
        }
        Err(e) => (
            FilesState::Failed,
            format!("Not brought in: {}", archive_words(&e)),
        ),
    };
    job.update(|v| {
        v.mailboxes[0].state = state;
        v.mailboxes[0].said = Some(said.clone());
        v.state = state;
        v.said = said;
    });
}

/// The window's "Bring them into this mailbox".
pub fn import_files(
    accounts: State<'_, Accounts>,
    jobs: State<'_, FileJobs>,
    found: FilesId,
    destination: AccountHandle,
) -> IpcResult<FilesView> {
    let destination = accounts.get(destination)?;
    let place = {
        let inner = jobs.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner
            .chosen
            .get(&found)
            .map(|c| std::fs::canonicalize(&c.path).unwrap_or(c.path.clone()))
    };
    let dir = mailferry::paths::jobs_dir().ok_or_else(|| {
        IpcError::new(
            ErrorCode::StateFailed,
            "MailFerry can't find your user data folder to keep its progress in.",
        )
    })?;
    let state_path = mailferry::paths::job_file(
        &dir,
        &format!(
            "import {} to {}@{}:{}",
            place.unwrap_or_default().display(),
            destination.credentials.user,
            destination.endpoint.host,
            destination.endpoint.port
        ),
    );
    let job = start_import(&jobs, found, destination, state_path)?;
    let view = job.view.borrow().clone();
    Ok(view)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailferry::endpoint::{Credentials, Endpoint, Security};
    use mailferry_harness::{dovecot_available, Dovecot, Layout, Message};
    use std::time::Duration;

    fn account(server: &Dovecot, user: &str, password: &str) -> Account {
        let mut endpoint = Endpoint::new("127.0.0.1")
            .with_security(Security::Plain)
            .with_port(server.plain_port());
        endpoint.timeout = Duration::from_secs(30);
        Account {
            endpoint,
            credentials: Credentials::password(user, password),
        }
    }

    fn mail(user: &str, i: usize) -> Message {
        Message::new(
            format!(
                "From: s{i}@example.net\r\nTo: {user}@example.com\r\nSubject: {user} {i}\r\n\
                 Message-ID: <{user}-{i}@example.net>\r\n\r\nHello {user}, number {i}.\r\n"
            )
            .into_bytes(),
        )
        .flags(&["\\Seen"])
    }

    #[test]
    fn kept_mailboxes_are_written_as_files_one_failing_mailbox_does_not_stop_the_others() {
        if !dovecot_available() {
            eprintln!("skipped: needs dovecot and root");
            return;
        }
        let src = Dovecot::builder()
            .layout(Layout::Exchange)
            .fsync(false)
            .user("bob", "bobpass")
            .build();
        src.create_mailbox("alice", "Receipts");
        src.append(
            "alice",
            "INBOX",
            &(0..7).map(|i| mail("alice", i)).collect::<Vec<_>>(),
        );
        src.append("alice", "Receipts", &[mail("alice", 100)]);
        src.append(
            "bob",
            "INBOX",
            &(0..3).map(|i| mail("bob", i)).collect::<Vec<_>>(),
        );
        let dir = tempfile::tempdir().unwrap();
        let jobs = FileJobs::default();
        let accounts = vec![
            account(&src, "alice", "alicepass"),
            // Its password changed since it signed in: said on its line.
            account(&src, "carol", "wrong"),
            account(&src, "bob", "bobpass"),
        ];
        let job = start_keep(&jobs, accounts.clone(), dir.path().into(), KeepFormat::Eml).unwrap();
        let view = job.wait();
        assert_eq!(view.kind, FilesKind::Keep);
        let states: Vec<FilesState> = view.mailboxes.iter().map(|m| m.state).collect();
        assert_eq!(
            states,
            [
                FilesState::Finished,
                FilesState::Failed,
                FilesState::Finished
            ],
            "{view:#?}"
        );
        assert_eq!(view.state, FilesState::Failed);
        assert_eq!(view.mailboxes[0].progress.done, 8, "{view:#?}");
        assert_eq!(
            view.mailboxes[0].progress.folders_done,
            view.mailboxes[0].progress.folders
        );
        let said = view.mailboxes[0].said.clone().unwrap();
        assert!(said.starts_with("8 messages in "), "{said}");
        assert!(
            view.mailboxes[1]
                .said
                .as_deref()
                .unwrap()
                .starts_with("Not kept: "),
            "{view:#?}"
        );
        assert!(
            view.said.starts_with("2 of 3 mailboxes kept as files in "),
            "{}",
            view.said
        );
        // Every message is a file, byte for byte as the server holds it.
        let alice = mailbox_folder(dir.path(), "alice");
        let inbox: Vec<_> = std::fs::read_dir(alice.join("INBOX"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        assert_eq!(inbox.len(), 7);
        let bodies: Vec<Vec<u8>> = src
            .fetch_all("alice", "INBOX")
            .into_iter()
            .map(|m| m.body)
            .collect();
        for file in &inbox {
            let bytes = std::fs::read(file).unwrap();
            assert!(bodies.contains(&bytes), "{} is as sent", file.display());
        }
        assert_eq!(
            std::fs::read_dir(mailbox_folder(dir.path(), "bob").join("INBOX"))
                .unwrap()
                .count(),
            3
        );
        // Again into the same folder: nothing is written twice.
        let again = start_keep(
            &jobs,
            accounts[..1].to_vec(),
            dir.path().into(),
            KeepFormat::Eml,
        )
        .unwrap()
        .wait();
        assert_eq!(again.state, FilesState::Finished, "{again:#?}");
        assert_eq!(again.mailboxes[0].progress.done, 0);
        assert_eq!(again.mailboxes[0].progress.already, 8);
        assert!(
            again.mailboxes[0]
                .said
                .as_deref()
                .unwrap()
                .contains("(8 of them were there from before)"),
            "{again:#?}"
        );
        let kept = jobs.kept();
        assert_eq!(kept.len(), 4, "every mailbox of both jobs, for the report");
    }

    #[test]
    fn kept_files_are_brought_into_another_mailbox_once() {
        if !dovecot_available() {
            eprintln!("skipped: needs dovecot and root");
            return;
        }
        let server = || {
            Dovecot::builder()
                .layout(Layout::Exchange)
                .fsync(false)
                .build()
        };
        let (src, dst) = (server(), server());
        src.create_mailbox("alice", "Projects");
        src.append(
            "alice",
            "INBOX",
            &(0..5).map(|i| mail("alice", i)).collect::<Vec<_>>(),
        );
        src.append("alice", "Projects", &[mail("alice", 50), mail("alice", 51)]);
        let dir = tempfile::tempdir().unwrap();
        let jobs = FileJobs::default();
        let kept = start_keep(
            &jobs,
            vec![account(&src, "alice", "alicepass")],
            dir.path().into(),
            KeepFormat::Mbox,
        )
        .unwrap()
        .wait();
        assert_eq!(kept.state, FilesState::Finished, "{kept:#?}");

        let archive = mailbox_folder(dir.path(), "alice");
        let found = look_at(&jobs, archive.clone()).unwrap();
        assert_eq!(found.messages, 7);
        assert_eq!(found.kind, "an archive MailFerry exported");
        assert!(
            found
                .folders
                .iter()
                .any(|f| f.name == "Projects" && f.messages == 2),
            "{found:#?}"
        );
        let state = dir.path().join("import.db");
        let into = account(&dst, "alice", "alicepass");
        let view = start_import(&jobs, found.id, into.clone(), state.clone())
            .unwrap()
            .wait();
        assert_eq!(view.state, FilesState::Finished, "{view:#?}");
        assert_eq!(view.kind, FilesKind::Import);
        assert_eq!(view.mailboxes[0].progress.done, 7);
        assert!(
            view.said.starts_with("7 messages brought into alice."),
            "{}",
            view.said
        );
        let bodies = |server: &Dovecot, folder: &str| {
            let mut b: Vec<Vec<u8>> = server
                .fetch_all("alice", folder)
                .into_iter()
                .map(|m| m.body)
                .collect();
            b.sort();
            b
        };
        assert_eq!(bodies(&dst, "INBOX"), bodies(&src, "INBOX"));
        assert_eq!(bodies(&dst, "Projects"), bodies(&src, "Projects"));
        // The same files again: nothing is sent twice.
        let again = start_import(&jobs, found.id, into, state).unwrap().wait();
        assert_eq!(again.mailboxes[0].progress.done, 0, "{again:#?}");
        assert_eq!(dst.fetch_all("alice", "INBOX").len(), 5);
        assert!(again.said.contains("(7 of them were there from before)"));

        // A folder with no mail in it is said in words.
        let empty = tempfile::tempdir().unwrap();
        let err = look_at(&jobs, empty.path().into()).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidInput);
        assert!(err.message.contains("Choose a Maildir"), "{}", err.message);
    }

    #[test]
    fn message_counts_read_as_words() {
        assert_eq!(messages(1), "1 message");
        assert_eq!(messages(14_212), "14,212 messages");
    }
}
