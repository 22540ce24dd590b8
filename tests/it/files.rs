//! Export to files and import from files, against real Dovecot: a source
//! with the edge cases goes out as Maildir, mbox and `.eml`, each run
//! killed part-way and resumed, and comes back into an empty server byte
//! for byte with its flags, keywords and dates; a Google Takeout mbox and
//! a Thunderbird profile land where their folders say.

use crate::common::{self, mailferry, text};
use mailferry::run::parse_internal_date;
use mailferry_harness::{Dovecot, Fetched, Layout, Message};
use std::collections::BTreeMap;
use std::path::Path;

/// The edge cases, with flags, keywords and dates.
fn edge_cases() -> Vec<Message> {
    vec![
        Message::new(b"From: nobody@x\r\nSubject: no message id\r\nDate: Tue, 5 Mar 2024 08:00:00 +0000\r\n\r\nx\r\n".to_vec())
            .flags(&["\\Seen", "$Work"]),
        Message::new(b"From: lf@x\nSubject: bare LF\nMessage-ID: <lf@x>\n\nline one\nFrom the start of a line\n".to_vec())
            .flags(&["\\Answered", "$Forwarded"]),
        Message::new(b"From: nul@x\r\nSubject: a NUL byte\r\nMessage-ID: <nul@x>\r\n\r\nbefore\0after\r\n".to_vec())
            .internal_date("02-Feb-2021 10:11:12 +0000"),
        Message::new("From: Jörg <j@x>\r\nSubject: Grüße aus Köln\r\nMessage-ID: <8bit@x>\r\n\r\nÄÖÜ\r\n".as_bytes().to_vec())
            .flags(&["\\Flagged", "\\Draft"]),
        Message::new(format!("From: long@x\r\nSubject: long line\r\nMessage-ID: <long@x>\r\n\r\n{}\r\n", "z".repeat(200_000)).into_bytes()),
        Message::new(b"From: quote@x\r\nSubject: From lines\r\nMessage-ID: <from@x>\r\n\r\nFrom me\r\n>From you\r\n>>From them\r\n\r\nFrom\r\n".to_vec())
            .flags(&["\\Seen"])
            .internal_date("31-Mar-2024 02:30:00 +0100"),
        Message::new(b"From: end@x\r\nSubject: no line end at the end\r\nMessage-ID: <end@x>\r\n\r\nlast".to_vec())
            .internal_date("01-Jan-1980 00:00:00 +0000"),
        Message::new(b"From: h@x\r\nSubject: header only\r\nMessage-ID: <hdr@x>\r\n\r\n".to_vec())
            .flags(&["\\Deleted"]),
    ]
}

fn plain(n: usize, folder: &str) -> Vec<Message> {
    (0..n)
        .map(|i| {
            Message::new(format!(
                "From: p{i}@x\r\nSubject: {folder} {i}\r\nMessage-ID: <{folder}-{i}@x>\r\n\r\nbody {i}\r\n"
            ))
            .flags(if i % 2 == 0 { &["\\Seen"] } else { &[] })
        })
        .collect()
}

const FOLDERS: [&str; 5] = [
    "INBOX",
    "Projects/Acme",
    "Sent Items",
    "Corpus",
    "Projects/Empty",
];

fn source() -> Dovecot {
    let src = common::dovecot(Layout::Exchange);
    src.create_mailbox("alice", "Projects");
    src.create_mailbox("alice", "Projects/Acme");
    // An empty folder is part of the tree too: it must come back.
    src.create_mailbox("alice", "Projects/Empty");
    src.append("alice", "INBOX", &edge_cases());
    src.append("alice", "Projects/Acme", &plain(12, "acme"));
    src.append("alice", "Sent Items", &plain(3, "sent"));
    // The shared corpus, when present, in a folder of its own.
    src.create_mailbox("alice", "Corpus");
    if let Some(dir) = crate::corpus::corpus_dir() {
        for (_, messages) in crate::corpus::corpus_folders(&dir) {
            src.try_append("alice", "Corpus", &messages);
        }
    }
    src
}

/// A folder's messages as a multiset of body, sorted flags, INTERNALDATE instant.
type Content = BTreeMap<(Vec<u8>, Vec<String>, Option<i64>), usize>;

/// A folder's messages as [`common::content`] gives them, with the
/// INTERNALDATE as an instant: Dovecot serves it in its own zone, not in
/// the one it was given.
fn content(messages: &[Fetched]) -> Content {
    let mut out = Content::new();
    for ((body, flags, date), n) in common::content(messages) {
        *out.entry((body, flags, parse_internal_date(&date)))
            .or_default() += n;
    }
    out
}

#[track_caller]
fn assert_same(src: &Dovecot, dst: &Dovecot, why: &str) {
    for folder in FOLDERS {
        let a = src.fetch_all("alice", folder);
        let b = dst.fetch_all("alice", folder);
        assert_eq!(
            a.len(),
            b.len(),
            "{folder}: nothing missing, nothing doubled ({why})"
        );
        let (ca, cb) = (content(&a), content(&b));
        let brief = |c: &Content, d: &Content| {
            c.keys()
                .filter(|k| !d.contains_key(*k))
                .map(|(b, f, t)| format!("{:?} {f:?} {t:?}", text(&b[..b.len().min(60)])))
                .collect::<Vec<_>>()
        };
        assert!(
            ca == cb,
            "{folder}: every message byte for byte as the source serves it, with its flags, \
             keywords and date ({why}); only at the source: {:#?}; only at the new server: {:#?}",
            brief(&ca, &cb),
            brief(&cb, &ca)
        );
    }
}

fn side(n: &str, server: &Dovecot) -> Vec<String> {
    [
        format!("--host{n}"),
        "127.0.0.1".into(),
        format!("--port{n}"),
        server.plain_port().to_string(),
        format!("--plain{n}"),
        format!("--user{n}"),
        "alice".into(),
    ]
    .to_vec()
}

fn run(args: &[String], crash: Option<&str>) -> std::process::Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut env = vec![
        ("MAILFERRY_PASSWORD1", "alicepass"),
        ("MAILFERRY_PASSWORD2", "alicepass"),
    ];
    if let Some(point) = crash {
        env.push(("MAILFERRY_CRASH_AT", point));
    }
    mailferry(&args, &env)
}

#[track_caller]
fn ok(out: &std::process::Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[track_caller]
fn killed(out: &std::process::Output) {
    assert!(
        out.status.code().is_none() || out.status.code() == Some(134),
        "the run was to die at its crash point: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// Every file under `dir`, relative, except the archive's own folder.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            if rel.starts_with(".mailferry") {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(rel);
            }
        }
    }
    out.sort();
    out
}

fn export_args(src: &Dovecot, to: &Path, format: &str) -> Vec<String> {
    let mut args = vec!["export".to_string()];
    args.extend(side("1", src));
    args.extend([
        "--to".into(),
        to.display().to_string(),
        "--format".into(),
        format.into(),
    ]);
    args
}

fn import_args(dst: &Dovecot, from: &Path, state: &Path) -> Vec<String> {
    let mut args = vec!["import".to_string(), from.display().to_string()];
    args.extend(side("2", dst));
    args.extend(["--state".into(), state.display().to_string()]);
    args
}

/// Exports in `format`, killed once at `export_crash`, then resumed;
/// imports into an empty server, killed once after an APPEND, then
/// resumed; the new server must hold what the source serves.
fn round_trip(src: &Dovecot, format: &str, export_crash: &str) {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    killed(&run(
        &export_args(src, &archive, format),
        Some(export_crash),
    ));
    ok(&run(&export_args(src, &archive, format), None));
    let others = 15 + src.fetch_all("alice", "Corpus").len();
    let total = src.fetch_all("alice", "INBOX").len() + others;
    if format == "mbox" {
        // New mail at the source, and the next export killed half-way
        // through writing it: the mbox already holds committed messages,
        // and the half one must go.
        src.append("alice", "INBOX", &plain(2, "late"));
        killed(&run(
            &export_args(src, &archive, format),
            Some("export_mid_message:2"),
        ));
        ok(&run(&export_args(src, &archive, format), None));
    }
    let total = total + if format == "mbox" { 2 } else { 0 };
    // A second run finds everything there and writes nothing.
    let again = run(&export_args(src, &archive, format), None);
    ok(&again);
    assert!(
        text(&again.stdout).contains(&format!("0 messages written, {total} already")),
        "a finished export writes nothing again: {}",
        text(&again.stdout)
    );
    let listed = files_under(&archive);
    assert!(
        !listed
            .iter()
            .any(|f| f.ends_with(".part") || f.contains("/tmp/")),
        "no half-written file is left behind: {listed:?}"
    );
    let manifest: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(archive.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest.len(), total, "one manifest row per source message");
    match format {
        "mbox" => {
            let inbox = std::fs::read(archive.join("INBOX.mbox")).unwrap();
            let entries =
                mailferry::archive::mbox::split(&inbox, mailferry::archive::mbox::Quoting::Mboxrd);
            assert_eq!(
                entries.len(),
                total - others,
                "the mbox holds each message once, and no half one"
            );
            for e in &entries {
                assert!(
                    e.message.starts_with(b"From: "),
                    "no half message: {:?}",
                    text(&e.message[..e.message.len().min(80)])
                );
            }
        }
        "maildir" => {
            let cur = files_under(&archive.join("INBOX").join("cur"));
            assert_eq!(cur.len(), 8, "each message in one file: {cur:?}");
            assert!(
                cur.iter()
                    .any(|f| f.ends_with(":2,FPRS") || f.ends_with(":2,PR")),
                "flags are in the file names: {cur:?}"
            );
        }
        _ => {
            let eml = files_under(&archive.join("Projects").join("Acme"));
            assert_eq!(eml.len(), 12, "one .eml per message: {eml:?}");
        }
    }
    let mut verify = export_args(src, &archive, format);
    verify.push("--verify".into());
    ok(&run(&verify, None));

    let dst = common::dovecot(Layout::Exchange);
    let state = dir.path().join("import.db");
    killed(&run(
        &import_args(&dst, &archive, &state),
        Some("import_after_append:2"),
    ));
    ok(&run(&import_args(&dst, &archive, &state), None));
    assert_same(
        src,
        &dst,
        &format!("{format}, export and import each killed once"),
    );
    // Run again: nothing is sent twice.
    ok(&run(&import_args(&dst, &archive, &state), None));
    assert_same(src, &dst, &format!("{format}, imported twice"));
}

#[test]
fn export_and_import_round_trip_in_every_format_through_a_kill_each_way() {
    let src = source();
    round_trip(&src, "maildir", "export_before_confirm:1");
    round_trip(&src, "eml", "export_before_journal:2");
    round_trip(&src, "mbox", "export_mid_message:5");
}

/// The archive's journal is its own record: a progress file lost (a batch
/// worker starting on another machine keeps it on its own disk) makes
/// nothing go twice, in any format; only new mail is written.
#[test]
fn an_archive_without_its_progress_file_writes_nothing_twice() {
    for format in ["maildir", "mbox", "eml"] {
        let src = common::dovecot(Layout::Exchange);
        src.append("alice", "INBOX", &plain(5, "first"));
        let dir = tempfile::tempdir().unwrap();
        ok(&run(&export_args(&src, dir.path(), format), None));
        let before = files_under(dir.path());
        let sizes = |files: &[String]| -> u64 {
            files
                .iter()
                .map(|f| std::fs::metadata(dir.path().join(f)).unwrap().len())
                .sum()
        };
        let size = sizes(&before);
        std::fs::remove_file(dir.path().join(".mailferry/export.db")).unwrap();
        let again = run(&export_args(&src, dir.path(), format), None);
        ok(&again);
        assert!(
            text(&again.stdout).contains("0 messages written, 5 already"),
            "{format}: {}",
            text(&again.stdout)
        );
        assert_eq!(files_under(dir.path()), before, "{format}: no file added");
        assert_eq!(sizes(&before), size, "{format}: nothing appended");

        src.append("alice", "INBOX", &plain(1, "later"));
        std::fs::remove_file(dir.path().join(".mailferry/export.db")).unwrap();
        let third = run(&export_args(&src, dir.path(), format), None);
        ok(&third);
        assert!(
            text(&third.stdout).contains("1 messages written, 5 already"),
            "{format}: {}",
            text(&third.stdout)
        );
    }
}

#[test]
fn a_changed_format_is_refused_rather_than_mixed() {
    let src = common::dovecot(Layout::Exchange);
    src.append("alice", "INBOX", &plain(1, "one"));
    let dir = tempfile::tempdir().unwrap();
    ok(&run(&export_args(&src, dir.path(), "eml"), None));
    let out = run(&export_args(&src, dir.path(), "mbox"), None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("holds a eml archive"),
        "{}",
        text(&out.stderr)
    );
}

fn takeout_message(labels: &str, n: u32) -> String {
    format!(
        "From 1{n}@xxx Mon Mar 04 10:00:0{n} +0000 2024\nX-GM-THRID: 1{n}\nX-Gmail-Labels: {labels}\n\
         From: t{n}@x\nSubject: takeout {n}\nMessage-ID: <takeout{n}@x>\n\nFrom inside the body\nbody {n}\n\n"
    )
}

#[test]
fn a_takeout_mbox_lands_like_a_copy_from_gmail() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("All mail Including Spam and Trash.mbox");
    let mut text_of = String::new();
    text_of.push_str(&takeout_message("Inbox,Opened,Work", 1));
    text_of.push_str(&takeout_message("Sent,Opened", 2));
    text_of.push_str(&takeout_message("Archived,Opened,Category Updates", 3));
    text_of.push_str(&takeout_message("Inbox,Unread,Starred", 4));
    text_of.push_str(&takeout_message("Spam", 5));
    std::fs::write(&mbox, mboxrd_quoted(&text_of)).unwrap();
    let dst = common::dovecot(Layout::Exchange);
    let state = dir.path().join("import.db");
    let mut dry = import_args(&dst, &mbox, &state);
    dry.push("--dry".into());
    let preview = run(&dry, None);
    ok(&preview);
    let shown = text(&preview.stdout);
    assert!(
        shown.contains("Google Takeout")
            && shown.contains("Sent Items")
            && shown.contains("Archive"),
        "the folder map is shown before anything is sent: {shown}"
    );
    assert!(
        dst.fetch_all("alice", "INBOX").is_empty(),
        "--dry sends nothing"
    );
    let out = run(&import_args(&dst, &mbox, &state), None);
    ok(&out);
    let subjects = |folder: &str| -> Vec<String> {
        let mut s: Vec<String> = dst
            .fetch_all("alice", folder)
            .iter()
            .map(|m| {
                let t = String::from_utf8_lossy(&m.body).into_owned();
                t.lines()
                    .find_map(|l| l.strip_prefix("Subject: ").map(str::to_owned))
                    .unwrap_or_default()
            })
            .collect();
        s.sort();
        s
    };
    assert_eq!(subjects("INBOX"), ["takeout 1", "takeout 4"], "Inbox label");
    assert_eq!(
        subjects("Work"),
        ["takeout 1"],
        "a user label becomes a folder"
    );
    assert_eq!(
        subjects("Sent Items"),
        ["takeout 2"],
        "Gmail's Sent goes to Sent Items"
    );
    assert_eq!(
        subjects("Archive"),
        ["takeout 3"],
        "only mail with no other folder goes to Archive, once"
    );
    let inbox = dst.fetch_all("alice", "INBOX");
    let starred = inbox
        .iter()
        .find(|m| m.body.windows(9).any(|w| w == b"takeout 4"))
        .unwrap();
    assert!(
        starred.flags.iter().any(|f| f == "\\Flagged"),
        "Starred is \\Flagged"
    );
    assert!(
        !starred.flags.iter().any(|f| f == "\\Seen"),
        "Unread stays unread"
    );
    let opened = inbox
        .iter()
        .find(|m| m.body.windows(9).any(|w| w == b"takeout 1"))
        .unwrap();
    assert!(
        opened.flags.iter().any(|f| f == "\\Seen"),
        "Opened is \\Seen"
    );
    assert!(
        text(&opened.body).contains("\r\nFrom inside the body\r\n"),
        "the quoted From line is given back as it was: {}",
        text(&opened.body)
    );
    // Again: nothing doubled.
    ok(&run(&import_args(&dst, &mbox, &state), None));
    assert_eq!(
        subjects("INBOX").len(),
        2,
        "a second import sends nothing again"
    );
    assert_eq!(
        subjects("Archive").len(),
        1,
        "a second import sends nothing again"
    );
}

/// Quotes `>*From ` lines inside messages the way mboxrd writers do.
fn mboxrd_quoted(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.trim_start_matches('>').starts_with("From ") && !l.starts_with("From 1") {
                format!(">{l}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

#[test]
fn a_thunderbird_profile_folder_is_imported_with_its_status_flags() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("Mail").join("Local Folders");
    std::fs::create_dir_all(profile.join("Inbox.sbd")).unwrap();
    std::fs::write(
        profile.join("Inbox"),
        "From - Mon Mar  4 10:00:00 2024\nX-Mozilla-Status: 0005\nFrom: a@x\nSubject: read and starred\nDate: Mon, 4 Mar 2024 10:00:00 +0000\n\nhello\n\n\
         From - Tue Mar  5 10:00:00 2024\nX-Mozilla-Status: 0000\nFrom: b@x\nSubject: unread\n\nhi\n\n",
    )
    .unwrap();
    std::fs::write(profile.join("Inbox.msf"), "// an index, not mail").unwrap();
    std::fs::write(
        profile.join("Inbox.sbd").join("Receipts"),
        "From - Wed Mar  6 10:00:00 2024\nStatus: RO\nX-Status: A\nFrom: c@x\nSubject: receipt\n\nthanks\n\n",
    )
    .unwrap();
    let dst = common::dovecot(Layout::Exchange);
    let state = dir.path().join("import.db");
    let out = run(&import_args(&dst, &profile, &state), None);
    ok(&out);
    let inbox = dst.fetch_all("alice", "INBOX");
    assert_eq!(inbox.len(), 2, "the .msf index is not mail");
    let first = inbox
        .iter()
        .find(|m| text(&m.body).contains("read and starred"))
        .unwrap();
    let mut flags = first.flags.clone();
    flags.sort();
    assert_eq!(flags, ["\\Flagged", "\\Seen"], "X-Mozilla-Status bits");
    assert_eq!(
        parse_internal_date(&first.internal_date),
        Some(1_709_546_400),
        "the date of the From line"
    );
    // The folder map puts INBOX's subfolders at the top of an
    // Exchange-like server, as a copy from a server does.
    assert!(
        text(&out.stdout).contains("INBOX/Receipts -> Receipts"),
        "{}",
        text(&out.stdout)
    );
    let receipts = dst.fetch_all("alice", "Receipts");
    assert_eq!(receipts.len(), 1, "a .sbd folder holds the subfolders");
    let mut flags = receipts[0].flags.clone();
    flags.sort();
    assert_eq!(flags, ["\\Answered", "\\Seen"], "Status and X-Status");
}

#[test]
fn a_mailbox_can_be_moved_and_archived_at_the_same_time() {
    let src = common::dovecot(Layout::Exchange);
    src.append("alice", "INBOX", &plain(20, "both"));
    let dst = common::dovecot(Layout::Exchange);
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    let data = dir.path().join("data");
    let data_dir = data.display().to_string();
    let spawn = |args: Vec<String>| {
        std::process::Command::new(env!("CARGO_BIN_EXE_mailferry"))
            .args(args)
            .env("MAILFERRY_PASSWORD1", "alicepass")
            .env("MAILFERRY_PASSWORD2", "alicepass")
            .env("MAILFERRY_DATA_DIR", &data_dir)
            .env_remove("MAILFERRY_CRASH_AT")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let mut sync = vec!["sync".to_string()];
    sync.extend(side("1", &src));
    sync.extend(side("2", &dst));
    // Both at once, each with its own progress file (the copy's in the
    // data folder, the export's inside the archive).
    let export_args = export_args(&src, &archive, "eml");
    let (copied, exported) = std::thread::scope(|scope| {
        let export = scope.spawn(|| spawn(export_args));
        let copied = spawn(sync);
        (copied, export.join().unwrap())
    });
    ok(&copied);
    ok(&exported);
    assert_eq!(
        dst.fetch_all("alice", "INBOX").len(),
        20,
        "the copy is whole"
    );
    assert_eq!(
        files_under(&archive.join("INBOX")).len(),
        20,
        "the archive is whole"
    );
    assert!(archive.join(".mailferry").join("export.db").exists());
}
