//! `mailferry export`: every folder of a mailbox written to files on this
//! computer, in Maildir, mbox or `.eml` form, each message byte for byte as
//! the server sent it, with a manifest.
//!
//! Nothing is written twice and nothing is left half-written: each message
//! goes through an intent in the archive's progress file, its bytes are
//! written under a temporary name (or appended to an mbox), flushed to
//! disk and renamed into place, then a line in the archive's journal says
//! it is there, and only then is the copy confirmed in the progress file.
//! A run that was killed finds, on the next start, intents in doubt: a
//! message in the journal is confirmed, any other is written again (an
//! mbox is cut back to the length the journal last recorded, so no half
//! message stays behind).

use super::journal::{write_manifest, Journal, ManifestRow};
use super::{
    files, flags, mbox, segment_to_file, sync_dir, system_time, ArchiveError, Format, OnProgress,
    Progress,
};
use crate::folder::{read_tree, MailboxName};
use crate::identity::Summary;
use crate::imap::messages::{FetchedMessage, MessageMeta, ReadOnly};
use crate::imap::Session;
use crate::run::{parse_internal_date, source_message, Cancel};
use crate::state::{NotCopied, SkipReason, State};
use sha2::Digest;
use std::collections::{BTreeSet, HashMap};
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

/// The archive's own folder: its progress file, its journal and the format.
pub const META_DIR: &str = ".mailferry";

/// Messages per batch (one intent transaction, one FETCH, one flush).
const BATCH_MESSAGES: usize = 100;
/// Bytes per batch, at most (a larger message goes alone).
const BATCH_BYTES: u64 = 16 * 1024 * 1024;

/// What one folder's export did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FolderExport {
    /// The folder at the source (display form).
    pub folder: String,
    /// Where it is in the archive (relative path).
    pub path: String,
    /// Messages written by this run.
    pub written: u64,
    /// Messages already in the archive from an earlier run.
    pub already: u64,
    /// Messages gone from the server between listing and reading.
    pub vanished: u64,
    /// Why the folder was left as it was, if it was.
    pub problem: Option<String>,
}

/// What an export did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportReport {
    /// The archive folder.
    pub archive: PathBuf,
    /// Each folder, in the server's order.
    pub folders: Vec<FolderExport>,
    /// The run was stopped (a signal) before every folder was done.
    pub stopped: bool,
}

impl ExportReport {
    /// Messages written by this run.
    pub fn written(&self) -> u64 {
        self.folders.iter().map(|f| f.written).sum()
    }

    /// Messages already in the archive.
    pub fn already(&self) -> u64 {
        self.folders.iter().map(|f| f.already).sum()
    }

    /// 0 every folder done, 1 a folder left out or the run stopped.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.stopped || self.folders.iter().any(|f| f.problem.is_some()))
    }
}

/// The archive's journal and progress file, open.
pub(crate) struct Archive {
    pub(crate) dir: PathBuf,
    pub(crate) state: State,
    pub(crate) journal: Journal,
}

/// Opens (creating) the archive at `dir` for `format`: refuses one written
/// in another format, settles what a killed run left in doubt.
pub(crate) fn open_archive(
    dir: &Path,
    progress_file: Option<&Path>,
    format: Format,
    now: &dyn Fn() -> i64,
) -> Result<Archive, ArchiveError> {
    let meta = dir.join(META_DIR);
    std::fs::create_dir_all(&meta).map_err(files("create", &meta))?;
    let marker = meta.join("format");
    match std::fs::read_to_string(&marker) {
        Ok(found) if found.trim() == format.name() => {}
        Ok(found) => {
            return Err(ArchiveError::Unusable(format!(
                "the folder {} holds a {} archive; give --format {} or another folder",
                dir.display(),
                found.trim(),
                found.trim()
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            super::write_atomic(&marker, format.name().as_bytes(), None)?;
        }
        Err(e) => return Err(files("read", &marker)(e)),
    }
    let progress_file = progress_file.map_or_else(|| meta.join("export.db"), Path::to_owned);
    let mut state = State::open(&progress_file, now())?;
    let journal = Journal::open(&meta.join("journal.jsonl"))?;
    settle(&mut state, &journal, now)?;
    Ok(Archive {
        dir: dir.to_owned(),
        state,
        journal,
    })
}

/// Intents a killed run left: confirmed if the journal has the message,
/// dropped (to be written again) if not.
fn settle(state: &mut State, journal: &Journal, now: &dyn Fn() -> i64) -> Result<(), ArchiveError> {
    let intents = state.in_doubt_intents()?;
    if intents.is_empty() {
        return Ok(());
    }
    let on_record: BTreeSet<(&str, u32, u32)> = journal
        .rows
        .iter()
        .map(|r| (r.folder.as_str(), r.uidvalidity, r.uid))
        .collect();
    for intent in intents {
        let k = intent.message.key;
        let folder = state.folder_by_id(k.folder)?.source_name;
        if on_record.contains(&(folder.as_str(), k.uidvalidity, k.uid)) {
            state.confirm_copy(intent.id, Some(k.uid), now())?;
        } else {
            state.discard_intent(intent.id)?;
        }
    }
    Ok(())
}

/// A folder's place in the archive, as path segments: each level of its
/// name one folder of the file system.
fn folder_segments(name: &MailboxName, delimiter: Option<char>) -> Vec<String> {
    name.segments(delimiter)
        .into_iter()
        .map(segment_to_file)
        .collect()
}

/// Where the folder's messages go, relative to the archive: a Maildir or
/// an `.eml` folder is the folder's own path; an mbox is `<path>.mbox`.
pub fn folder_path(name: &MailboxName, delimiter: Option<char>, format: Format) -> String {
    let mut path = folder_segments(name, delimiter).join("/");
    if format == Format::Mbox {
        path.push_str(".mbox");
    }
    path
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Exports every folder of the mailbox `session` is signed in to into
/// `dir`, resuming an earlier export there. Only reads at the server.
///
/// # Errors
/// The server's errors, the progress file's, and the file system's; a
/// folder the server renumbered since the last run is not an error but a
/// problem in its [`FolderExport`].
pub async fn export(
    session: &mut Session,
    dir: &Path,
    format: Format,
    cancel: &Cancel,
    now: &dyn Fn() -> i64,
) -> Result<ExportReport, ArchiveError> {
    export_watched(session, dir, format, cancel, now, &mut |_| {}).await
}

/// [`export`], telling `progress` how far it is after each batch and each
/// folder (the desktop app's progress bar).
///
/// # Errors
/// As [`export`].
pub async fn export_watched(
    session: &mut Session,
    dir: &Path,
    format: Format,
    cancel: &Cancel,
    now: &dyn Fn() -> i64,
    progress: OnProgress<'_>,
) -> Result<ExportReport, ArchiveError> {
    export_with_progress_file(session, dir, None, format, cancel, now, progress).await
}

/// [`export_watched`] with the archive's progress file at `progress_file`
/// instead of inside the archive (`None`: inside it). A batch worker keeps
/// it on its own disk, since SQLite must not sit on the network file
/// system that holds the archives; the archive's journal alone says what
/// it holds, so a worker that starts without the progress file writes
/// nothing twice.
///
/// # Errors
/// As [`export`].
pub async fn export_with_progress_file(
    session: &mut Session,
    dir: &Path,
    progress_file: Option<&Path>,
    format: Format,
    cancel: &Cancel,
    now: &dyn Fn() -> i64,
    progress: OnProgress<'_>,
) -> Result<ExportReport, ArchiveError> {
    let mut archive = open_archive(dir, progress_file, format, now)?;
    let tree = read_tree(session).await?;
    let mut report = ExportReport {
        archive: dir.to_owned(),
        ..ExportReport::default()
    };
    let selectable: Vec<_> = tree.folders.iter().filter(|f| f.is_selectable()).collect();
    let mut told = Progress {
        folders: selectable.len(),
        ..Progress::default()
    };
    for folder in selectable {
        if cancel.is_cancelled() {
            report.stopped = true;
            break;
        }
        let path = folder_path(&folder.name, tree.delimiter, format);
        told.folder = folder.name.display().to_owned();
        progress(&told);
        let done = export_folder(
            &mut ReadOnly::new(session),
            &mut archive,
            &folder.name,
            &path,
            format,
            cancel,
            now,
            &mut |written, already| {
                progress(&Progress {
                    done: told.done + written,
                    already: told.already + already,
                    ..told.clone()
                })
            },
        )
        .await?;
        told.done += done.written;
        told.already += done.already;
        told.folders_done += 1;
        progress(&told);
        report.stopped |= cancel.is_cancelled();
        report.folders.push(done);
    }
    write_manifest(dir, &archive.journal.rows)?;
    Ok(report)
}

/// Where an mbox's committed messages end, by the journal: the file is cut
/// back to it before anything is appended.
fn committed_end(journal: &Journal, file: &str) -> u64 {
    journal
        .rows
        .iter()
        .filter(|r| r.file == file)
        .filter_map(|r| r.end)
        .max()
        .unwrap_or(0)
}

/// The file a folder's messages go to, open.
enum Sink {
    Mbox {
        file: std::fs::File,
        len: u64,
    },
    Maildir {
        cur: PathBuf,
        tmp: PathBuf,
        names: HashMap<String, String>,
    },
    Eml {
        dir: PathBuf,
    },
}

/// The part of a Maildir name that stays the same whatever the flags.
fn maildir_base(uidvalidity: u32, uid: u32) -> String {
    format!("U{uidvalidity}_{uid}.mailferry")
}

fn open_sink(archive: &Archive, path: &str, format: Format) -> Result<Sink, ArchiveError> {
    let full = archive.dir.join(path);
    match format {
        Format::Mbox => {
            if let Some(parent) = full.parent() {
                std::fs::create_dir_all(parent).map_err(files("create", parent))?;
            }
            let committed = committed_end(&archive.journal, path);
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&full)
                .map_err(files("open", &full))?;
            let len = file.metadata().map_err(files("read", &full))?.len();
            if len != committed {
                // What a killed run appended after its last recorded message.
                file.set_len(committed).map_err(files("cut back", &full))?;
                file.sync_all().map_err(files("flush to disk", &full))?;
            }
            let mut file = file;
            file.seek(std::io::SeekFrom::Start(committed))
                .map_err(files("read", &full))?;
            Ok(Sink::Mbox {
                file,
                len: committed,
            })
        }
        Format::Maildir => {
            for sub in ["cur", "new", "tmp"] {
                let d = full.join(sub);
                std::fs::create_dir_all(&d).map_err(files("create", &d))?;
            }
            let cur = full.join("cur");
            let mut names = HashMap::new();
            for entry in std::fs::read_dir(&cur).map_err(files("read", &cur))? {
                let name = entry.map_err(files("read", &cur))?.file_name();
                let name = name.to_string_lossy().into_owned();
                if let Some(base) = name
                    .split(':')
                    .next()
                    .and_then(|b| b.split_once('.').map(|(_, r)| r))
                {
                    names.insert(base.to_owned(), name.clone());
                }
            }
            Ok(Sink::Maildir {
                cur,
                tmp: full.join("tmp"),
                names,
            })
        }
        Format::Eml => {
            std::fs::create_dir_all(&full).map_err(files("create", &full))?;
            Ok(Sink::Eml { dir: full })
        }
    }
}

/// Where a message lies in an mbox: offset, quoted length, and the file's
/// length after it.
type MboxRegion = (u64, u64, u64);

/// Writes one message; returns its file (relative to the archive) and,
/// for an mbox, (offset, length, end).
fn write_message(
    sink: &mut Sink,
    path: &str,
    uidvalidity: u32,
    message: &FetchedMessage,
    date: Option<i64>,
) -> Result<(String, Option<MboxRegion>), ArchiveError> {
    match sink {
        Sink::Mbox { file, len } => {
            let (entry, start, quoted) = mbox::entry(&message.body, date.unwrap_or(0));
            // In two writes, so that a test can kill the run between them
            // and see the half message cut off on the next run.
            let half = entry.len() / 2;
            file.write_all(&entry[..half])
                .map_err(files("write", Path::new(path)))?;
            crate::crashpoint::hit("export_mid_message");
            file.write_all(&entry[half..])
                .map_err(files("write", Path::new(path)))?;
            let offset = *len + start as u64;
            *len += entry.len() as u64;
            Ok((path.to_owned(), Some((offset, quoted as u64, *len))))
        }
        Sink::Maildir { cur, tmp, names } => {
            let base = maildir_base(uidvalidity, message.uid);
            let name = format!(
                "{}.{base}:{}",
                date.unwrap_or(0),
                flags::maildir_info(&message.flags)
            );
            let staged = tmp.join(&name);
            write_file(&staged, &message.body, date)?;
            let target = cur.join(&name);
            std::fs::rename(&staged, &target).map_err(files("move into place", &target))?;
            // A copy written by a killed run under other flags.
            if let Some(old) = names.insert(base, name.clone()) {
                if old != name {
                    let old = cur.join(old);
                    std::fs::remove_file(&old).map_err(files("remove", &old))?;
                }
            }
            Ok((format!("{path}/cur/{name}"), None))
        }
        Sink::Eml { dir } => {
            let name = format!("{uidvalidity}-{}.eml", message.uid);
            let staged = dir.join(format!(".{name}.part"));
            write_file(&staged, &message.body, date)?;
            let target = dir.join(&name);
            std::fs::rename(&staged, &target).map_err(files("move into place", &target))?;
            let rel = if path.is_empty() {
                name
            } else {
                format!("{path}/{name}")
            };
            Ok((rel, None))
        }
    }
}

/// A new file with these bytes and this time, flushed to disk.
fn write_file(path: &Path, bytes: &[u8], date: Option<i64>) -> Result<(), ArchiveError> {
    let mut file = std::fs::File::create(path).map_err(files("create", path))?;
    file.write_all(bytes).map_err(files("write", path))?;
    if let Some(t) = date.and_then(system_time) {
        file.set_modified(t)
            .map_err(files("set the time of", path))?;
    }
    file.sync_all().map_err(files("flush to disk", path))
}

/// Flushes what a batch wrote to disk.
fn flush(sink: &mut Sink, dir: &Path, path: &str) -> Result<(), ArchiveError> {
    match sink {
        Sink::Mbox { file, .. } => file
            .sync_data()
            .map_err(files("flush to disk", &dir.join(path))),
        Sink::Maildir { cur, .. } => sync_dir(cur),
        Sink::Eml { dir } => sync_dir(dir),
    }
}

/// Splits the messages to write into batches.
fn batches<'a>(todo: &[&'a MessageMeta]) -> Vec<Vec<&'a MessageMeta>> {
    let mut out: Vec<Vec<&MessageMeta>> = Vec::new();
    let mut bytes = 0u64;
    for m in todo {
        let size = u64::from(m.size);
        let start_new = match out.last() {
            None => true,
            Some(b) => b.len() >= BATCH_MESSAGES || bytes + size > BATCH_BYTES,
        };
        if start_new {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        out.last_mut().expect("just pushed").push(m);
    }
    out
}

/// One folder into the archive; `written(written, already)` is told after
/// each batch.
#[allow(clippy::too_many_arguments)] // the folder, where it goes, and the run's own handles
async fn export_folder(
    source: &mut ReadOnly<'_>,
    archive: &mut Archive,
    name: &MailboxName,
    path: &str,
    format: Format,
    cancel: &Cancel,
    now: &dyn Fn() -> i64,
    written: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<FolderExport, ArchiveError> {
    let mut report = FolderExport {
        folder: name.display().to_owned(),
        path: path.to_owned(),
        ..FolderExport::default()
    };
    let status = source.examine(name.wire()).await?;
    let v = status.uid_validity;
    let dest = MailboxName::from_display(if path.is_empty() { "." } else { path }, true)
        .map_err(|e| ArchiveError::Unusable(format!("cannot name {path} ({e})")))?;
    let record = archive.state.upsert_folder(name, v, &dest, None, now())?;
    if record.source_uidvalidity != v {
        report.problem = Some(format!(
            "the server renumbered this folder since the last export (UIDVALIDITY {} is now {v}): \
             it was left as it is in the archive; export it to another folder to have a fresh copy",
            record.source_uidvalidity
        ));
        return Ok(report);
    }
    // What the progress file says is written, and what the journal does:
    // the journal is the archive's own record, so a progress file lost or
    // kept elsewhere (a batch worker's) never makes a message go twice.
    let mut done = archive.state.mapped_uids(record.id, v)?;
    done.extend(
        archive
            .journal
            .rows
            .iter()
            .filter(|r| r.folder == name.display() && r.uidvalidity == v)
            .map(|r| r.uid),
    );
    let metas = if status.exists == 0 {
        Vec::new()
    } else {
        source.fetch_meta("1:*").await?
    };
    let todo: Vec<&MessageMeta> = metas.iter().filter(|m| !done.contains(&m.uid)).collect();
    report.already = (metas.len() - todo.len()) as u64;
    let mut sink = open_sink(archive, path, format)?;
    for batch in batches(&todo) {
        if cancel.is_cancelled() {
            break;
        }
        let messages: Vec<_> = batch
            .iter()
            .map(|m| source_message(Some(record.id), v, m))
            .collect();
        let pairs: Vec<_> = messages
            .iter()
            .zip(&batch)
            .map(|(s, m)| (s, m.flags.as_slice()))
            .collect();
        let intents = archive
            .state
            .record_intents(&pairs, record.dest.id, None, now())?;
        let uids: Vec<u32> = batch.iter().map(|m| m.uid).collect();
        let bytes = batch.iter().map(|m| u64::from(m.size)).sum();
        let fetched = source.fetch_bodies(&uids, bytes).await?;
        let by_uid: HashMap<u32, &FetchedMessage> = fetched.iter().map(|f| (f.uid, f)).collect();
        let mut rows = Vec::new();
        let mut confirmed = Vec::new();
        for ((meta, message), intent) in batch.iter().zip(&messages).zip(&intents) {
            let Some(fetched) = by_uid.get(&meta.uid) else {
                archive.state.record_fate(
                    message,
                    NotCopied::Skipped(SkipReason::Vanished),
                    now(),
                )?;
                report.vanished += 1;
                continue;
            };
            let date = fetched
                .internal_date
                .as_deref()
                .and_then(parse_internal_date)
                .or(message.internaldate);
            let (file, region) = write_message(&mut sink, path, v, fetched, date)?;
            let summary: &Summary = &message.summary;
            rows.push(ManifestRow {
                folder: name.display().to_owned(),
                file,
                offset: region.map(|r| r.0),
                length: region.map(|r| r.1),
                end: region.map(|r| r.2),
                uidvalidity: v,
                uid: meta.uid,
                message_id: summary.message_id.clone(),
                subject: summary.subject.clone(),
                from: summary.from.clone(),
                date_header: summary.date.clone(),
                date,
                internal_date: fetched.internal_date.clone(),
                flags: fetched.flags.clone(),
                size: fetched.body.len() as u64,
                sha256: sha256_hex(&fetched.body),
            });
            confirmed.push((*intent, Some(meta.uid)));
        }
        flush(&mut sink, &archive.dir, path)?;
        crate::crashpoint::hit("export_before_journal");
        archive.journal.append(rows)?;
        crate::crashpoint::hit("export_before_confirm");
        report.written += confirmed.len() as u64;
        archive.state.confirm_copies(&confirmed, now())?;
        written(report.written, report.already);
    }
    Ok(report)
}

/// One folder compared between the source and the archive.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FolderAudit {
    /// The folder at the source (display form).
    pub folder: String,
    /// Messages at the source now.
    pub at_source: u64,
    /// Of those, in the archive.
    pub in_archive: u64,
    /// Source UIDs not in the archive.
    pub missing: Vec<u32>,
}

/// An archive compared with its source.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ArchiveAudit {
    /// Each source folder.
    pub folders: Vec<FolderAudit>,
    /// Files whose bytes are no longer what was written (path relative to the archive).
    pub damaged: Vec<String>,
    /// Every source message is in the archive and every file reads back as written.
    pub complete: bool,
}

/// The bytes of the message `row` describes, read back from the archive.
pub fn read_back(dir: &Path, row: &ManifestRow) -> std::io::Result<Vec<u8>> {
    let bytes = std::fs::read(dir.join(&row.file))?;
    match (row.offset, row.length) {
        (Some(offset), Some(length)) => {
            let start = usize::try_from(offset).unwrap_or(usize::MAX);
            let end = start.saturating_add(usize::try_from(length).unwrap_or(usize::MAX));
            let region = bytes.get(start..end).ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the mbox is shorter")
            })?;
            Ok(mbox::unquote(region, mbox::Quoting::Mboxrd))
        }
        _ => Ok(bytes),
    }
}

/// Compares the archive at `dir` with the mailbox `session` is signed in
/// to: every message at the source must be on record in the archive, and
/// every file must read back with the SHA-256 of the bytes the server sent.
/// Only reads, on both sides.
pub async fn verify(session: &mut Session, dir: &Path) -> Result<ArchiveAudit, ArchiveError> {
    let journal_path = dir.join(META_DIR).join("journal.jsonl");
    if !journal_path.exists() {
        return Err(ArchiveError::Unusable(format!(
            "{} is not an archive MailFerry wrote (no {META_DIR}/journal.jsonl)",
            dir.display()
        )));
    }
    let journal = Journal::open(&journal_path)?;
    let mut audit = ArchiveAudit::default();
    for row in &journal.rows {
        let good = read_back(dir, row).is_ok_and(|b| sha256_hex(&b) == row.sha256);
        if !good {
            audit.damaged.push(row.file.clone());
        }
    }
    let mut on_record: HashMap<(&str, u32), BTreeSet<u32>> = HashMap::new();
    for row in &journal.rows {
        on_record
            .entry((row.folder.as_str(), row.uidvalidity))
            .or_default()
            .insert(row.uid);
    }
    let tree = read_tree(session).await?;
    let mut source = ReadOnly::new(session);
    for folder in tree.folders.iter().filter(|f| f.is_selectable()) {
        let status = source.examine(folder.name.wire()).await?;
        let uids: Vec<u32> = if status.exists == 0 {
            Vec::new()
        } else {
            source
                .message_sizes("1:*")
                .await?
                .into_iter()
                .map(|(uid, _)| uid)
                .collect()
        };
        let empty = BTreeSet::new();
        let have = on_record
            .get(&(folder.name.display(), status.uid_validity))
            .unwrap_or(&empty);
        let missing: Vec<u32> = uids.iter().copied().filter(|u| !have.contains(u)).collect();
        audit.folders.push(FolderAudit {
            folder: folder.name.display().to_owned(),
            at_source: uids.len() as u64,
            in_archive: (uids.len() - missing.len()) as u64,
            missing,
        });
    }
    audit.complete = audit.damaged.is_empty() && audit.folders.iter().all(|f| f.missing.is_empty());
    Ok(audit)
}
