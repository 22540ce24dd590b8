//! Real-world messages (`../shared/corpus`, when present) and the large
//! ones the corpus lacks (generated): every message the source accepted
//! arrives once, byte for byte as the server serves it, with its flags and
//! date; a second run copies nothing.

use crate::common::{self, content};
use mailferry::run::Options;
use mailferry_harness::{Layout, Message};
use std::path::{Path, PathBuf};

/// The messages of a corpus file: an mbox is split at its `From ` lines.
fn messages_in(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    if !bytes.starts_with(b"From ") {
        return vec![bytes];
    }
    let mut out = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    for line in bytes.split_inclusive(|b| *b == b'\n') {
        if line.starts_with(b"From ") {
            out.extend(current.take());
            current = Some(Vec::new());
        } else if let Some(c) = current.as_mut() {
            c.extend_from_slice(line);
        }
    }
    out.extend(current);
    out
}

/// The corpus folder by folder: each subfolder's name (with `-` for `.`)
/// and its messages, each with flags and a date that vary.
pub(crate) fn corpus_folders(dir: &Path) -> Vec<(String, Vec<Message>)> {
    let mut out = Vec::new();
    let mut subdirs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    subdirs.sort();
    for sub in subdirs {
        let name = sub.file_name().unwrap().to_string_lossy().replace('.', "-");
        let mut files: Vec<_> = std::fs::read_dir(&sub)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .collect();
        files.sort();
        let mut messages = Vec::new();
        for (i, file) in files.iter().enumerate() {
            let lower = file.file_name().unwrap().to_string_lossy().to_lowercase();
            if lower.starts_with("license")
                || lower.starts_with("copying")
                || lower.ends_with(".md")
                || lower.starts_with("apache")
                || lower.starts_with("mit")
            {
                continue;
            }
            for body in messages_in(file) {
                let flags: &[&str] = match i % 3 {
                    0 => &["\\Seen"],
                    1 => &["\\Answered", "$Forwarded"],
                    _ => &[],
                };
                messages.push(
                    Message::new(body)
                        .flags(flags)
                        .internal_date(&format!("{:02}-Feb-2019 12:00:00 +0000", 1 + i % 28)),
                );
            }
        }
        out.push((name, messages));
    }
    out
}

/// The shared corpus, when present.
pub(crate) fn corpus_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    dir.is_dir().then_some(dir)
}

#[tokio::test]
async fn the_real_world_corpus_arrives_intact() {
    let Some(dir) = corpus_dir() else {
        eprintln!("../shared/corpus is absent: skipping the real-world corpus (the generated edge cases run in tests/it/sync.rs)");
        return;
    };
    let src = common::dovecot(Layout::Courier);
    let dst = common::dovecot(Layout::Exchange);
    let mut folders = Vec::new();
    let mut offered = 0;
    let mut accepted = 0;
    for (name, mut messages) in corpus_folders(&dir) {
        let folder = format!("INBOX.{name}");
        src.create_mailbox("alice", &folder);
        // One exact duplicate: two genuine copies must stay two.
        if let Some(first) = messages.first().cloned() {
            messages.push(first);
        }
        offered += messages.len();
        accepted += src
            .try_append("alice", &folder, &messages)
            .iter()
            .filter(|r| r.is_ok())
            .count();
        folders.push((folder, name));
    }
    assert!(accepted > 100, "the corpus loaded: {accepted} of {offered}");

    let (_dir, state) = common::state_file();
    let report = common::copy(&src, &dst, &state, &Options::default()).await;
    assert_eq!(report.failed(), 0, "{report:#?}");
    for (src_folder, dst_folder) in &folders {
        let a = content(&src.fetch_all("alice", src_folder));
        let b = content(&dst.fetch_all("alice", dst_folder));
        assert_eq!(
            a.values().sum::<usize>(),
            b.values().sum::<usize>(),
            "{src_folder}: every message once"
        );
        assert!(a == b, "{src_folder}: bodies, flags and dates equal");
    }
    assert_eq!(
        report.transferred() as usize,
        accepted - report.skipped() as usize
    );
    let again = common::copy(&src, &dst, &state, &Options::default()).await;
    assert_eq!(again.transferred(), 0, "{again:#?}");
}

#[tokio::test]
async fn a_30_mb_message_arrives_intact() {
    let src = common::dovecot(Layout::Exchange);
    let dst = common::dovecot(Layout::Exchange);
    let mut body = b"From: big@x\r\nSubject: a 30 MB attachment\r\nMessage-ID: <big@x>\r\nContent-Type: application/octet-stream\r\n\r\n".to_vec();
    let line =
        b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3\r\n";
    while body.len() < 30 * 1024 * 1024 {
        body.extend_from_slice(line);
    }
    src.append(
        "alice",
        "INBOX",
        &[Message::new(body.clone()).flags(&["\\Seen"])],
    );
    let (_dir, state) = common::state_file();
    let report = common::copy(&src, &dst, &state, &Options::default()).await;
    assert_eq!(report.transferred(), 1, "{report:#?}");
    let got = dst.fetch_all("alice", "INBOX");
    assert_eq!(got.len(), 1);
    assert!(got[0].body == body, "30 MB byte for byte");
}
