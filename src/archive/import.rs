//! `mailferry import`: mail kept in files brought into a mailbox — an
//! archive MailFerry exported, a Maildir, mbox files (mboxrd or mboxo),
//! a folder of `.eml` files, Google Takeout's mbox, or a Thunderbird
//! profile's mail folder.
//!
//! The files are read into a folder tree of their own, which goes through
//! the same folder map as a server's ([`crate::folder::map_folders`]): a
//! Takeout mbox becomes the tree Gmail shows over IMAP (a folder per
//! label, `[Gmail]/Sent Mail` and the others, and All Mail), so its labels
//! land where a copy from Gmail puts them, and mail with no label that
//! lands goes into Archive, once. Each message is sent byte for byte as
//! the file holds it, with its flags and date, through the same progress
//! file as a copy: an intent before the APPEND, the confirmation after the
//! server's OK; an APPEND in doubt after a crash is looked up at the
//! destination by fingerprint before anything is sent again.

use super::export::{read_back, META_DIR};
use super::journal::{Journal, ManifestRow};
use super::mbox::{self, Quoting};
use super::{files, flags, segment_from_file, ArchiveError, OnProgress, Progress};
use crate::folder::{
    map_folders, plan_create, read_tree, Attribute, Folder, FolderMap, FolderTree, MailboxName,
    Rules, Target,
};
use crate::identity::{Fingerprint, Multiset, Summary};
use crate::imap::messages::{AppendItem, Appended};
use crate::imap::Session;
use crate::run::Cancel;
use crate::state::{
    DestFolderId, FailReason, FolderId, MessageKey, NotCopied, SourceMessage, State,
};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Where a message's bytes are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bytes {
    /// A whole file.
    File(PathBuf),
    /// An mbox entry: the file, where the (quoted) message lies, its quoting.
    Mbox {
        /// The mbox file.
        file: PathBuf,
        /// Offset of the quoted message.
        offset: u64,
        /// Its length, quoted.
        length: u64,
        /// How it is quoted.
        quoting: Quoting,
    },
    /// Already read (an mbox without a manifest is split in memory).
    Held(Vec<u8>),
}

/// One message found in the files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// Its number in the archive, from 1, in reading order: its identity
    /// in the progress file together with the folder.
    pub number: u32,
    /// Where its bytes are.
    pub bytes: Bytes,
    /// Flags and keywords.
    pub flags: Vec<String>,
    /// Its date (INTERNALDATE to set), unix seconds.
    pub date: Option<i64>,
    /// The folders it belongs in (in the files' own tree).
    pub folders: Vec<String>,
}

/// What the files hold: their folder tree and their messages.
#[derive(Clone, Debug)]
pub struct Contents {
    /// The folder tree, `/`-separated, as a server would list it.
    pub tree: FolderTree,
    /// Every message, in reading order.
    pub messages: Vec<Found>,
    /// What kind of files these were, in plain words.
    pub kind: String,
}

/// The label Google Takeout writes for a Gmail system folder, and that
/// folder as Gmail lists it over IMAP, with its special use.
const TAKEOUT_LABELS: [(&str, &str, Option<&str>); 7] = [
    ("Inbox", "INBOX", None),
    ("Sent", "[Gmail]/Sent Mail", Some("\\Sent")),
    ("Drafts", "[Gmail]/Drafts", Some("\\Drafts")),
    ("Spam", "[Gmail]/Spam", Some("\\Junk")),
    ("Trash", "[Gmail]/Trash", Some("\\Trash")),
    ("Starred", "[Gmail]/Starred", Some("\\Flagged")),
    ("Important", "[Gmail]/Important", Some("\\Important")),
];

/// Gmail's All Mail, where every Takeout message also is.
const ALL_MAIL: &str = "[Gmail]/All Mail";

/// Takeout labels that are states, not folders.
fn takeout_state_label(label: &str) -> bool {
    matches!(label, "Opened" | "Unread" | "Archived" | "Chat") || label.starts_with("Category ")
}

/// The Gmail folders for a Takeout message's `X-Gmail-Labels` value, and
/// the flags its labels carry.
pub fn takeout_folders(labels: &str) -> (Vec<String>, Vec<String>) {
    let mut folders = Vec::new();
    let mut flags = Vec::new();
    for label in split_labels(labels) {
        if label == "Opened" {
            flags.push("\\Seen".to_owned());
        }
        if label == "Starred" {
            flags.push("\\Flagged".to_owned());
        }
        if takeout_state_label(&label) {
            continue;
        }
        let folder = TAKEOUT_LABELS
            .iter()
            .find(|(l, _, _)| l.eq_ignore_ascii_case(&label))
            .map_or(label.clone(), |(_, f, _)| (*f).to_owned());
        if !folders.contains(&folder) {
            folders.push(folder);
        }
    }
    // Gmail keeps Spam and Trash out of All Mail.
    if !folders
        .iter()
        .any(|f| f == "[Gmail]/Spam" || f == "[Gmail]/Trash")
    {
        folders.push(ALL_MAIL.to_owned());
    }
    (folders, flags)
}

/// `X-Gmail-Labels` values: comma-separated, a label with a comma quoted.
fn split_labels(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in value.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

/// A folder name from a path inside the archive: each level decoded, a
/// Thunderbird `.sbd` and an `.mbox` ending dropped, `Inbox` at the top
/// as INBOX.
fn folder_name(rel: &Path) -> String {
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .map(|p| {
            let p = p.strip_suffix(".sbd").unwrap_or(&p);
            let p = p.strip_suffix(".mbox").unwrap_or(p);
            segment_from_file(p)
        })
        .collect();
    if parts.is_empty() {
        parts.push("INBOX".to_owned());
    }
    if parts[0].eq_ignore_ascii_case("inbox") {
        parts[0] = "INBOX".to_owned();
    }
    parts.join("/")
}

fn file_mtime(path: &Path) -> Option<i64> {
    let t = std::fs::metadata(path).ok()?.modified().ok()?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(secs).ok()
}

/// Reads what the files at `path` hold.
///
/// # Errors
/// A file that cannot be read, or a path that holds no mail.
pub fn read_contents(path: &Path) -> Result<Contents, ArchiveError> {
    let mut contents = Contents {
        tree: FolderTree::from_folders(Vec::new(), false),
        messages: Vec::new(),
        kind: String::new(),
    };
    let mut names: Vec<(String, Option<&'static str>)> = Vec::new();
    let meta = std::fs::metadata(path).map_err(files("read", path))?;
    if meta.is_file() {
        let name = folder_name(Path::new(path.file_name().unwrap_or_default()));
        read_mbox(path, &name, &mut contents)?;
    } else if path.join(META_DIR).join("journal.jsonl").exists() {
        contents.kind = "an archive MailFerry exported".to_owned();
        let journal = Journal::open(&path.join(META_DIR).join("journal.jsonl"))?;
        for row in &journal.rows {
            let folder = folder_of_row(row);
            let number = contents.messages.len() as u32 + 1;
            let bytes = match (row.offset, row.length) {
                (Some(offset), Some(length)) => Bytes::Mbox {
                    file: path.join(&row.file),
                    offset,
                    length,
                    quoting: Quoting::Mboxrd,
                },
                _ => Bytes::File(path.join(&row.file)),
            };
            contents.messages.push(Found {
                number,
                bytes,
                flags: row.flags.clone(),
                date: row.date,
                folders: vec![folder],
            });
        }
    } else {
        contents.kind = "a folder of mail files".to_owned();
        walk(path, path, &mut contents)?;
    }
    if !meta.is_file() {
        // Folders with no message in them (an empty Maildir, mbox file or
        // folder of .eml files) are part of the tree too.
        let mut empty = Vec::new();
        structural_folders(path, path, &mut empty)?;
        for name in empty {
            if !names.iter().any(|(n, _)| *n == name) {
                names.push((name, None));
            }
        }
    }
    let takeout = contents.kind.contains("Takeout");
    for m in &contents.messages {
        for f in &m.folders {
            if !names.iter().any(|(n, _)| n == f) {
                let special = TAKEOUT_LABELS
                    .iter()
                    .find(|(_, g, _)| takeout && g == f)
                    .and_then(|(_, _, s)| *s);
                names.push((f.clone(), special));
            }
        }
    }
    if takeout {
        if !names.iter().any(|(n, _)| n == ALL_MAIL) {
            names.push((ALL_MAIL.to_owned(), Some("\\All")));
        }
        for (n, s) in &mut names {
            if n == ALL_MAIL {
                *s = Some("\\All");
            }
        }
        names.push(("[Gmail]".to_owned(), Some("\\Noselect")));
    }
    let mut folders = Vec::new();
    for (name, special) in names {
        let mailbox = MailboxName::from_display(&name, false).map_err(|e| {
            ArchiveError::Unusable(format!("cannot use the folder name {name} ({e})"))
        })?;
        let attributes = special.map(Attribute::parse).into_iter().collect();
        folders.push(Folder::new(mailbox, Some('/'), attributes));
    }
    if !folders.iter().any(|f| f.name.is_inbox()) {
        folders.insert(0, Folder::new(MailboxName::inbox(), Some('/'), Vec::new()));
    }
    contents.tree = FolderTree::from_folders(folders, false);
    contents.tree.delimiter = Some('/');
    Ok(contents)
}

/// The folder of an exported message, from where its file is.
fn folder_of_row(row: &ManifestRow) -> String {
    let rel = Path::new(&row.file);
    let dir = if row.offset.is_some() {
        rel.to_path_buf()
    } else if rel
        .parent()
        .and_then(|p| p.file_name())
        .is_some_and(|n| n == "cur")
    {
        rel.parent()
            .and_then(Path::parent)
            .unwrap_or(Path::new(""))
            .to_path_buf()
    } else {
        rel.parent().unwrap_or(Path::new("")).to_path_buf()
    };
    folder_name(&dir)
}

/// Reads one mbox file into `contents`, as the folder `name` (a Takeout
/// mbox: into the folders of each message's labels).
fn read_mbox(path: &Path, name: &str, contents: &mut Contents) -> Result<(), ArchiveError> {
    let bytes = std::fs::read(path).map_err(files("read", path))?;
    if !bytes.starts_with(b"From ") {
        return Ok(());
    }
    let mtime = file_mtime(path);
    for entry in mbox::split(&bytes, Quoting::Mboxrd) {
        let number = contents.messages.len() as u32 + 1;
        let labels = flags::header_text(&entry.message, "X-Gmail-Labels");
        let mut message_flags = flags::from_status_headers(&entry.message);
        let folders = match labels {
            Some(labels) => {
                contents.kind = "a Google Takeout mbox".to_owned();
                let (folders, label_flags) = takeout_folders(&labels);
                for f in label_flags {
                    if !message_flags.contains(&f) {
                        message_flags.push(f);
                    }
                }
                folders
            }
            None => {
                if contents.kind.is_empty() {
                    contents.kind = "an mbox file".to_owned();
                }
                vec![name.to_owned()]
            }
        };
        let date = mbox::from_line_time(&entry.from_line)
            .or_else(|| flags::date_header(&entry.message))
            .or(mtime);
        contents.messages.push(Found {
            number,
            bytes: Bytes::Held(entry.message),
            flags: message_flags,
            date,
            folders,
        });
    }
    Ok(())
}

/// Walks a folder of mail files: Maildirs (`cur`/`new`), `.eml` files,
/// and mbox files (anything else that starts with `From `; Thunderbird's
/// `.msf` indexes and hidden files are skipped).
fn walk(root: &Path, dir: &Path, contents: &mut Contents) -> Result<(), ArchiveError> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(files("read", dir))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(files("read", dir))?;
    entries.sort();
    let rel = dir.strip_prefix(root).unwrap_or(Path::new(""));
    let is_maildir = dir.join("cur").is_dir() && dir.join("new").is_dir();
    if is_maildir {
        let name = folder_name(rel);
        for sub in ["new", "cur"] {
            let mut files_in: Vec<PathBuf> = std::fs::read_dir(dir.join(sub))
                .map_err(files("read", &dir.join(sub)))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            files_in.sort();
            for file in files_in {
                let file_name = file
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                let date = file_name
                    .split('.')
                    .next()
                    .and_then(|s| s.parse::<i64>().ok())
                    .filter(|&s| s > 0)
                    .or_else(|| file_mtime(&file));
                let number = contents.messages.len() as u32 + 1;
                contents.messages.push(Found {
                    number,
                    bytes: Bytes::File(file.clone()),
                    flags: flags::from_maildir_name(&file_name),
                    date,
                    folders: vec![name.clone()],
                });
            }
        }
    }
    for path in entries {
        let file_name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if file_name.starts_with('.') || file_name.ends_with(".msf") {
            continue;
        }
        if path.is_dir() {
            if is_maildir && ["cur", "new", "tmp"].contains(&file_name.as_str()) {
                continue;
            }
            walk(root, &path, contents)?;
        } else if file_name.ends_with(".eml") {
            let bytes = std::fs::read(&path).map_err(files("read", &path))?;
            let number = contents.messages.len() as u32 + 1;
            contents.messages.push(Found {
                number,
                flags: flags::from_status_headers(&bytes),
                date: flags::date_header(&bytes).or_else(|| file_mtime(&path)),
                bytes: Bytes::File(path.clone()),
                folders: vec![folder_name(rel)],
            });
        } else if !file_name.contains('.') || file_name.ends_with(".mbox") {
            let name = folder_name(&rel.join(&file_name));
            read_mbox(&path, &name, contents)?;
        }
    }
    Ok(())
}

/// The folders the files below `dir` stand for, whether or not they hold
/// a message: a Maildir (`cur` and `new`), an mbox file (one with no
/// extension or `.mbox`, empty or starting with `From `), a folder holding
/// `.eml` files, and a folder with nothing in it (an empty folder of
/// `.eml` files). Hidden entries and Thunderbird's `.msf` are skipped.
fn structural_folders(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), ArchiveError> {
    let rel = dir.strip_prefix(root).unwrap_or(Path::new(""));
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(files("read", dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    let is_maildir = dir.join("cur").is_dir() && dir.join("new").is_dir();
    let visible: Vec<&PathBuf> = entries
        .iter()
        .filter(|p| {
            let n = p.file_name().unwrap_or_default().to_string_lossy();
            !n.starts_with('.') && !n.ends_with(".msf")
        })
        .collect();
    let holds_eml = visible
        .iter()
        .any(|p| p.is_file() && p.extension().is_some_and(|e| e == "eml"));
    if dir != root && (is_maildir || holds_eml || visible.is_empty()) {
        out.push(folder_name(rel));
    }
    for path in visible {
        let file_name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if path.is_dir() {
            if is_maildir && ["cur", "new", "tmp"].contains(&file_name.as_str()) {
                continue;
            }
            structural_folders(root, path, out)?;
        } else if !file_name.contains('.') || file_name.ends_with(".mbox") {
            let mut start = [0u8; 5];
            let n = std::fs::File::open(path)
                .and_then(|mut f| std::io::Read::read(&mut f, &mut start))
                .unwrap_or(0);
            if n == 0 || start.starts_with(b"From ") {
                out.push(folder_name(&rel.join(&file_name)));
            }
        }
    }
    Ok(())
}

/// A message's bytes.
fn read_bytes(found: &Found) -> Result<Vec<u8>, ArchiveError> {
    match &found.bytes {
        Bytes::Held(b) => Ok(b.clone()),
        Bytes::File(p) => std::fs::read(p).map_err(files("read", p)),
        Bytes::Mbox {
            file,
            offset,
            length,
            quoting,
        } => {
            let row = ManifestRow {
                folder: String::new(),
                file: file.to_string_lossy().into_owned(),
                offset: Some(*offset),
                length: Some(*length),
                end: None,
                uidvalidity: 0,
                uid: 0,
                message_id: None,
                subject: None,
                from: None,
                date_header: None,
                date: None,
                internal_date: None,
                flags: Vec::new(),
                size: 0,
                sha256: String::new(),
            };
            let b = read_back(Path::new(""), &row).map_err(files("read", file))?;
            Ok(if *quoting == Quoting::Mboxrd {
                b
            } else {
                mbox::unquote(&mbox::quote(&b), Quoting::Mboxo)
            })
        }
    }
}

/// The size a server gives the message: bare LF become CRLF there.
fn stored_size(bytes: &[u8]) -> u64 {
    let bare = bytes
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' && (i == 0 || bytes[i - 1] != b'\r'))
        .count();
    (bytes.len() + bare) as u64
}

/// The folder map of an import: the files' tree onto the destination's.
pub fn import_map(contents: &Contents, dest: &FolderTree, rules: &Rules) -> FolderMap {
    map_folders(&contents.tree, dest, rules)
}

/// What one folder of the import did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FolderImport {
    /// The folder in the files.
    pub folder: String,
    /// Where it went at the destination (none: left out).
    pub destination: Option<String>,
    /// Messages sent by this run.
    pub copied: u64,
    /// Messages already there from an earlier run.
    pub already: u64,
    /// Messages the server refused, with its words.
    pub refused: Vec<String>,
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    /// What kind of files these were.
    pub kind: String,
    /// Each folder of the files.
    pub folders: Vec<FolderImport>,
    /// The run was stopped (a signal) before it was done.
    pub stopped: bool,
}

impl ImportReport {
    /// Messages sent by this run.
    pub fn copied(&self) -> u64 {
        self.folders.iter().map(|f| f.copied).sum()
    }

    /// 0 all there, 1 a message refused or the run stopped.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.stopped || self.folders.iter().any(|f| !f.refused.is_empty()))
    }
}

/// IMAP date-time for unix seconds (UTC).
fn imap_date(unix: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|d| d.format("%d-%b-%Y %H:%M:%S +0000").to_string())
}

/// Messages per APPEND batch.
const BATCH: usize = 50;

/// Imports `contents` into the mailbox `dest` is signed in to, keeping
/// progress in the file `state_path`. With `dry`, only the folder map is
/// returned (nothing is created or sent).
///
/// # Errors
/// The server's, the progress file's and the file system's errors.
pub async fn import(
    dest: &mut Session,
    contents: &Contents,
    state_path: &Path,
    rules: &Rules,
    cancel: &Cancel,
    now: &dyn Fn() -> i64,
) -> Result<ImportReport, ArchiveError> {
    import_watched(dest, contents, state_path, rules, cancel, now, &mut |_| {}).await
}

/// [`import`], telling `progress` how far it is after each batch and each
/// folder (the desktop app's progress bar).
///
/// # Errors
/// As [`import`].
pub async fn import_watched(
    dest: &mut Session,
    contents: &Contents,
    state_path: &Path,
    rules: &Rules,
    cancel: &Cancel,
    now: &dyn Fn() -> i64,
    progress: OnProgress<'_>,
) -> Result<ImportReport, ArchiveError> {
    let mut state = State::open(state_path, now())?;
    let dest_tree = read_tree(dest).await?;
    let mut map = import_map(contents, &dest_tree, rules);
    let plan = plan_create(&map, &dest_tree)
        .map_err(|e| ArchiveError::Unusable(format!("cannot plan the folders: {e}")))?;
    let applied = crate::folder::apply(dest, &plan).await?;
    map.move_to_siblings(&applied.moved);
    if let Some(refusal) = applied.refused {
        return Err(ArchiveError::Unusable(refusal.describe()));
    }
    settle(dest, &mut state, now).await?;
    let mut report = ImportReport {
        kind: contents.kind.clone(),
        ..ImportReport::default()
    };
    // Where each of the files' folders goes.
    let mut targets: BTreeMap<String, Option<MailboxName>> = BTreeMap::new();
    for e in &map.entries {
        let target = match &e.target {
            Target::Folder { name, .. } => Some(name.clone()),
            _ => None,
        };
        targets.insert(e.source.display().to_owned(), target);
    }
    let gmail = map.gmail_source;
    let mut told = Progress {
        folders: map.entries.len(),
        ..Progress::default()
    };
    for e in &map.entries {
        told.folder = e.source.display().to_owned();
        progress(&told);
        if cancel.is_cancelled() {
            report.stopped = true;
            break;
        }
        let source = e.source.display().to_owned();
        let Some(target) = targets.get(&source).cloned().flatten() else {
            if contents
                .messages
                .iter()
                .any(|m| m.folders.contains(&source))
            {
                report.folders.push(FolderImport {
                    folder: source,
                    ..FolderImport::default()
                });
            }
            told.folders_done += 1;
            continue;
        };
        // Gmail's All Mail brings only the mail no other folder brought.
        let members: Vec<&Found> = contents
            .messages
            .iter()
            .filter(|m| m.folders.contains(&source))
            .filter(|m| {
                let elsewhere = || {
                    m.folders
                        .iter()
                        .any(|f| f != ALL_MAIL && targets.get(f).is_some_and(Option::is_some))
                };
                !gmail || source != ALL_MAIL || !elsewhere()
            })
            .collect();
        let done = import_folder(
            dest,
            &mut state,
            (&e.source, &target),
            &members,
            cancel,
            now,
            &mut |copied, already| {
                progress(&Progress {
                    done: told.done + copied,
                    already: told.already + already,
                    ..told.clone()
                })
            },
        )
        .await?;
        told.done += done.copied;
        told.already += done.already;
        told.folders_done += 1;
        progress(&told);
        report.folders.push(done);
    }
    report.stopped |= cancel.is_cancelled();
    Ok(report)
}

/// The progress file's record of a message of the files.
fn source_of(folder: FolderId, found: &Found, bytes: &[u8]) -> SourceMessage {
    let size = stored_size(bytes);
    SourceMessage {
        key: MessageKey {
            folder,
            uidvalidity: 1,
            uid: found.number,
        },
        fingerprint: Fingerprint::of_message(bytes, size),
        size,
        internaldate: found.date,
        summary: Summary::of_message(bytes),
    }
}

/// One folder of the files (`from` the files' folder, `to` the
/// destination's); `sent(copied, already)` is told after each batch.
async fn import_folder(
    dest: &mut Session,
    state: &mut State,
    (source, target): (&MailboxName, &MailboxName),
    members: &[&Found],
    cancel: &Cancel,
    now: &dyn Fn() -> i64,
    sent: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<FolderImport, ArchiveError> {
    let mut report = FolderImport {
        folder: source.display().to_owned(),
        destination: Some(target.display().to_owned()),
        ..FolderImport::default()
    };
    let status = dest.select(target.wire()).await?;
    let record = state.upsert_folder(source, 1, target, Some(status.uid_validity), now())?;
    let done = state.mapped_uids(record.id, 1)?;
    let todo: Vec<&&Found> = members
        .iter()
        .filter(|m| !done.contains(&m.number))
        .collect();
    report.already = (members.len() - todo.len()) as u64;
    for batch in todo.chunks(BATCH) {
        if cancel.is_cancelled() {
            break;
        }
        let bodies: Vec<Vec<u8>> = batch
            .iter()
            .map(|m| read_bytes(m))
            .collect::<Result<_, _>>()?;
        let messages: Vec<SourceMessage> = batch
            .iter()
            .zip(&bodies)
            .map(|(m, b)| source_of(record.id, m, b))
            .collect();
        let kept: Vec<Vec<String>> = batch
            .iter()
            .map(|m| {
                // As a copy does: an unknown list of permanent flags keeps all.
                m.flags
                    .iter()
                    .filter(|f| status.permanent_flags.is_empty() || status.keeps_flag(f))
                    .cloned()
                    .collect()
            })
            .collect();
        let dates: Vec<Option<String>> = batch.iter().map(|m| m.date.and_then(imap_date)).collect();
        let pairs: Vec<_> = messages
            .iter()
            .zip(&kept)
            .map(|(s, f)| (s, f.as_slice()))
            .collect();
        let intents = state.record_intents(&pairs, record.dest.id, None, now())?;
        let items: Vec<AppendItem<'_>> = bodies
            .iter()
            .zip(&kept)
            .zip(&dates)
            .map(|((body, flags), date)| AppendItem {
                flags,
                internal_date: date.as_deref(),
                body,
            })
            .collect();
        let results = dest.append(target.wire(), &items).await?;
        crate::crashpoint::hit("import_after_append");
        let mut confirmed = Vec::new();
        for ((result, intent), message) in results.iter().zip(&intents).zip(&messages) {
            match result {
                Appended::Stored { uid, .. } => confirmed.push((*intent, *uid)),
                Appended::Refused { text, .. } => {
                    state.record_fate(
                        message,
                        NotCopied::Failed {
                            reason: FailReason::Rejected,
                            server_text: Some(text.clone()),
                        },
                        now(),
                    )?;
                    report.refused.push(text.clone());
                }
            }
        }
        report.copied += confirmed.len() as u64;
        state.confirm_copies(&confirmed, now())?;
        sent(report.copied, report.already);
    }
    Ok(report)
}

/// APPENDs a killed run left in doubt: confirmed if the destination folder
/// holds more copies of the message than the progress file accounts for,
/// dropped (to be sent again) if not.
async fn settle(
    dest: &mut Session,
    state: &mut State,
    now: &dyn Fn() -> i64,
) -> Result<(), ArchiveError> {
    let intents = state.in_doubt_intents()?;
    let mut at_dest: HashMap<DestFolderId, Multiset> = HashMap::new();
    for intent in intents {
        let folder = intent.dest_folder;
        if let std::collections::hash_map::Entry::Vacant(slot) = at_dest.entry(folder) {
            let record = state.dest_folder(folder)?;
            let status = dest.examine(&record.wire_name).await?;
            let mut there = Multiset::new();
            if status.exists > 0 {
                for meta in dest.fetch_meta("1:*").await? {
                    there.insert(Fingerprint::of_headers(&meta.headers, u64::from(meta.size)));
                }
            }
            let claimed = state.dest_fingerprints(folder)?;
            let mut left = Multiset::new();
            for (fp, n) in there.iter() {
                for _ in 0..n.saturating_sub(claimed.count(fp)) {
                    left.insert(fp.clone());
                }
            }
            slot.insert(left);
        }
        let left = at_dest.get_mut(&folder).expect("just filled");
        if left.take(&intent.message.fingerprint) {
            state.confirm_copy(intent.id, None, now())?;
        } else {
            state.discard_intent(intent.id)?;
        }
    }
    Ok(())
}
