//! "Safe to switch" means safe: the audit believes the servers, not the
//! progress file; what went missing at the destination is put back; one
//! folder or message the servers refuse never stops the rest.

use crate::common::{self, content, migrate, run_both, text, NOW};
use mailferry::folder::Rules;
use mailferry::job::{Job, ProgressFile};
use mailferry::run::Options;
use mailferry::state::State;
use mailferry_harness::{Direction, Dovecot, Fault, Layout, Message, Proxy};

fn mail(i: usize) -> Message {
    Message::new(
        format!(
            "From: Sender {i} <s{i}@example.net>\r\nTo: alice@example.com\r\nSubject: Trust {i}\r\n\
             Date: Mon, 4 Mar 2024 10:{:02}:00 +0100\r\nMessage-ID: <trust-{i}@example.net>\r\n\r\nBody {i}.\r\n",
            i % 60
        )
        .into_bytes(),
    )
    .internal_date(&format!("{:02}-Mar-2024 09:00:00 +0000", 1 + i % 28))
}

/// `mail(i)` for each `i`.
fn mails(range: std::ops::Range<usize>) -> Vec<Message> {
    range.map(mail).collect()
}

fn server() -> Dovecot {
    common::dovecot(Layout::Exchange)
}

/// Expunges the messages whose subject contains one of `subjects`, as
/// another mail program would.
fn expunge_at(server: &Dovecot, folder: &str, subjects: &[&str]) {
    let uids: Vec<u32> = server
        .fetch_all("alice", folder)
        .iter()
        .filter(|m| {
            let body = String::from_utf8_lossy(&m.body);
            subjects
                .iter()
                .any(|s| body.contains(&format!("Subject: {s}\r")))
        })
        .map(|m| m.uid)
        .collect();
    assert_eq!(uids.len(), subjects.len());
    let mut session = server.session("alice");
    assert!(session
        .command(&format!("SELECT \"{folder}\""))
        .unwrap()
        .is_ok());
    for uid in uids {
        let reply = session
            .command(&format!("UID STORE {uid} +FLAGS (\\Deleted)"))
            .unwrap();
        assert!(reply.is_ok(), "{reply:?}");
    }
    assert!(session.command("EXPUNGE").unwrap().is_ok());
    session.logout();
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

async fn audit(src: &Dovecot, dst: &Dovecot, state: &std::path::Path) -> mailferry::verify::Audit {
    common::audit(src.addr_plain(), dst.addr_plain(), state).await
}

#[tokio::test]
async fn copies_deleted_at_the_destination_are_a_gap_until_the_next_run_puts_them_back() {
    let src = server();
    let dst = server();
    src.create_mailbox("alice", "Projects");
    src.append("alice", "INBOX", &mails(0..6));
    src.append("alice", "Projects", &mails(6..10));
    let (_dir, state) = common::state_file();
    common::run_both_ok("sync", &src, &dst, &state, &[]);

    // Another mail program deletes two of the copies at the new server
    // (one in a folder whose source never changes again).
    expunge_at(&dst, "INBOX", &["Trust 2"]);
    expunge_at(&dst, "Projects", &["Trust 7"]);

    let verify = run_both("verify", &src, &dst, &state, &[], &[]);
    let said = text(&verify.stdout);
    assert_eq!(verify.status.code(), Some(1), "not safe: {said}");
    assert!(!said.contains("Safe to switch"), "{said}");
    assert!(
        said.contains("Trust 2") && said.contains("Trust 7"),
        "{said}"
    );
    let audit = audit(&src, &dst, &state).await;
    assert!(!audit.safe_to_switch);
    assert_eq!(audit.unexplained(), 2, "{audit:#?}");

    // The next copy puts them back, once.
    common::run_both_ok("sync", &src, &dst, &state, &[]);
    common::assert_folder_same(&src, &dst, "INBOX", "the same messages on both sides");
    common::assert_folder_same(&src, &dst, "Projects", "the same messages on both sides");
    let verify = run_both("verify", &src, &dst, &state, &[], &[]);
    assert_eq!(
        verify.status.code(),
        Some(0),
        "safe now: {}",
        text(&verify.stdout)
    );
    common::run_both_ok("sync", &src, &dst, &state, &[]);
    common::assert_folder_same(&src, &dst, "INBOX", "the same messages on both sides");
}

#[tokio::test]
async fn messages_held_back_by_a_size_limit_are_not_safe_yet() {
    let src = server();
    let dst = server();
    let mut big = mail(1);
    big = Message::new(
        [
            String::from_utf8(big.body.clone()).unwrap(),
            "x".repeat(50_000),
        ]
        .concat()
        .into_bytes(),
    );
    src.append("alice", "INBOX", &[mail(0), big]);
    let (_dir, state) = common::state_file();
    common::run_both_ok("sync", &src, &dst, &state, &["--maxsize", "10000"]);
    let verify = run_both("verify", &src, &dst, &state, &[], &[]);
    let said = text(&verify.stdout);
    assert_eq!(verify.status.code(), Some(1), "{said}");
    assert!(said.contains("Trust 1"), "{said}");
    common::run_both_ok("sync", &src, &dst, &state, &[]);
    common::run_both_ok("verify", &src, &dst, &state, &[]);
}

/// The CLI flags for a source behind `proxy` and the destination `dst`.
fn through(proxy: &Proxy, dst: &Dovecot, state: &std::path::Path, command: &str) -> Vec<String> {
    let (sides, _) = common::both_ports(proxy.port(), dst.plain_port());
    let mut args = vec![command.to_owned()];
    args.extend(sides);
    args.extend(["--state".to_owned(), state.to_str().unwrap().to_owned()]);
    if command == "sync" {
        args.extend(["--reconnectretry".to_owned(), "1".to_owned()]);
    }
    args
}

#[tokio::test]
async fn a_folder_the_server_refuses_to_open_is_reported_and_every_other_folder_copies() {
    let src = server();
    let dst = server();
    for name in ["Alpha", "Broken", "Zulu"] {
        src.create_mailbox("alice", name);
    }
    src.append("alice", "INBOX", &mails(0..3));
    src.append("alice", "Alpha", &mails(3..5));
    src.append("alice", "Broken", &mails(5..7));
    src.append("alice", "Zulu", &mails(7..9));
    // The source server refuses to open one folder (as it does for a name
    // it lists but cannot open).
    let proxy = Proxy::with_fault(
        src.addr_plain(),
        Fault::rewrite(Direction::ToServer, "\"Broken\"", "\"Gone-x\""),
    );
    let (_dir, state) = common::state_file();
    let passwords = [
        ("MAILFERRY_PASSWORD1", "alicepass"),
        ("MAILFERRY_PASSWORD2", "alicepass"),
    ];
    let args = through(&proxy, &dst, &state, "sync");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = common::mailferry(&args, &passwords);
    let said = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "finished, with a folder refused: {said} {}",
        text(&out.stderr)
    );
    assert!(
        said.contains("Broken"),
        "the refused folder is named: {said}"
    );
    for folder in ["INBOX", "Alpha", "Zulu"] {
        common::assert_folder_same(&src, &dst, folder, "the same messages on both sides");
    }
    assert!(dst.fetch_all("alice", "Broken").is_empty());

    // The audit says it could not be checked, never "safe".
    let args = through(&proxy, &dst, &state, "verify");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = common::mailferry(&args, &passwords);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said} {}", text(&out.stderr));
    assert!(!said.contains("Safe to switch"), "{said}");

    // Once the server opens it again, the next run copies it.
    proxy.set_fault(Fault::default());
    let args = through(&proxy, &dst, &state, "sync");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    common::mailferry_ok(&args, &passwords);
    common::assert_folder_same(&src, &dst, "Broken", "the same messages on both sides");
}

#[tokio::test]
async fn a_message_the_source_cannot_deliver_is_a_refusal_and_the_rest_of_the_folder_copies() {
    let src = server();
    let dst = server();
    src.append("alice", "INBOX", &mails(0..8));
    // The identities are read (and cached by the server) first…
    let (_dir, state) = common::state_file();
    let dry = common::copy(
        &src,
        &dst,
        &state,
        &Options {
            dry: true,
            ..Options::default()
        },
    )
    .await;
    assert_eq!(dry.transferred(), 8);
    // …then one message's file becomes unreadable to the server.
    let victim = files_under(&src.dir().join("home/alice"))
        .into_iter()
        .find(|p| {
            std::fs::read_to_string(p)
                .map(|s| s.contains("Subject: Trust 3\r") || s.contains("Subject: Trust 3\n"))
                .unwrap_or(false)
        })
        .unwrap_or_else(|| {
            panic!(
                "the message's file: {:?}",
                files_under(&src.dir().join("home/alice"))
            )
        });
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o000)).unwrap();

    let report = common::copy(&src, &dst, &state, &Options::default()).await;
    assert_eq!(report.transferred(), 7, "{report:#?}");
    assert_eq!(report.failed(), 1, "{report:#?}");
    assert_eq!(report.exit_code(), 1);
    assert_eq!(dst.fetch_all("alice", "INBOX").len(), 7);
    let store = State::open(&state, NOW).unwrap();
    let log = store.search_log("Trust 3", 10).unwrap();
    assert!(!log.is_empty(), "the refusal is in the log");
    drop(store);

    // Readable again: the next run copies it.
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
    let report = common::copy(&src, &dst, &state, &Options::default()).await;
    assert_eq!(report.transferred(), 1, "{report:#?}");
    common::assert_folder_same(&src, &dst, "INBOX", "the same messages on both sides");
}

#[tokio::test]
async fn delete2_removes_nothing_when_the_sources_listing_misses_a_message() {
    let src = server();
    let dst = server();
    src.append("alice", "INBOX", &mails(0..6));
    let (_dir, state) = common::state_file();
    let delete2 = common::with_delete2();
    let proxy = Proxy::start(src.addr_plain());
    migrate(proxy.addr(), dst.addr_plain(), &state, &delete2)
        .await
        .unwrap();
    assert_eq!(dst.fetch_all("alice", "INBOX").len(), 6);

    // One message really is deleted at the source; the listing of another
    // comes back without its UID (a reply the copy cannot place).
    expunge_at(&src, "INBOX", &["Trust 5"]);
    proxy.set_fault(Fault::rewrite(
        Direction::ToClient,
        "FETCH (UID 3 ",
        "FETCH (",
    ));
    let report = migrate(proxy.addr(), dst.addr_plain(), &state, &delete2)
        .await
        .unwrap();
    let removed: u64 = report.folders.iter().map(|f| f.removed).sum();
    assert_eq!(
        removed, 0,
        "nothing removed on an incomplete listing: {report:#?}"
    );
    assert_eq!(dst.fetch_all("alice", "INBOX").len(), 6);

    // With a complete listing, exactly the deleted one goes.
    proxy.set_fault(Fault::default());
    let report = migrate(proxy.addr(), dst.addr_plain(), &state, &delete2)
        .await
        .unwrap();
    let removed: u64 = report.folders.iter().map(|f| f.removed).sum();
    assert_eq!(removed, 1, "{report:#?}");
    common::assert_folder_same(&src, &dst, "INBOX", "the same messages on both sides");
}

#[test]
fn a_stop_signal_finishes_the_batch_in_flight_records_it_and_exits_143() {
    let src = server();
    let dst = server();
    src.append("alice", "INBOX", &mails(0..60));
    // A slow link, so the run is still going when the signal comes.
    let proxy = Proxy::with_fault(
        src.addr_plain(),
        Fault::Delay(std::time::Duration::from_millis(15)),
    );
    let (_dir, state) = common::state_file();
    let mut args = through(&proxy, &dst, &state, "sync");
    args.extend(["--batch-messages".to_owned(), "4".to_owned()]);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_mailferry"))
        .args(&args)
        .env("MAILFERRY_PASSWORD1", "alicepass")
        .env("MAILFERRY_PASSWORD2", "alicepass")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while dst.fetch_all("alice", "INBOX").len() < 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "the copy never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(143), "{said} {}", text(&out.stderr));
    assert!(said.contains("Stopped early"), "{said}");
    let copied = dst.fetch_all("alice", "INBOX").len();
    assert!(copied < 60, "stopped before the end ({copied})");

    // What was copied is recorded: the next run copies only the rest.
    let args = through(&proxy, &dst, &state, "sync");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    proxy.set_fault(Fault::default());
    let again = common::mailferry(
        &args,
        &[
            ("MAILFERRY_PASSWORD1", "alicepass"),
            ("MAILFERRY_PASSWORD2", "alicepass"),
        ],
    );
    let said = text(&again.stdout);
    assert_eq!(again.status.code(), Some(0), "{said}");
    assert!(
        said.contains(&format!("Copied {} message", 60 - copied)),
        "{said}"
    );
    common::assert_folder_same(&src, &dst, "INBOX", "the same messages on both sides");
}

#[tokio::test]
async fn a_different_message_under_the_same_message_id_at_the_destination_is_not_already_there() {
    let src = server();
    let dst = server();
    src.append("alice", "INBOX", &mails(0..4));
    // The new server holds another message that reuses one Message-ID
    // (a mailing list's digest, a careless sender).
    dst.append(
        "alice",
        "INBOX",
        &[Message::new(
            b"From: list@example.org\r\nSubject: Digest\r\nMessage-ID: <trust-2@example.net>\r\n\r\n\
              Something else entirely, and longer than the original message.\r\n"
                .to_vec(),
        )
        .internal_date("15-Jan-2023 12:00:00 +0000")],
    );
    let (_dir, state) = common::state_file();
    let report = common::copy(&src, &dst, &state, &Options::default()).await;
    assert_eq!(report.transferred(), 4, "{report:#?}");
    assert_eq!(report.already_there(), 0);
    let at_dest = dst.fetch_all("alice", "INBOX");
    assert_eq!(at_dest.len(), 5, "the four, and the other one left alone");
    assert!(at_dest
        .iter()
        .any(|m| String::from_utf8_lossy(&m.body).contains("Subject: Trust 2\r")));
}

#[tokio::test]
async fn a_copy_made_earlier_by_another_tool_is_already_there_and_keeps_its_place() {
    let src = server();
    let dst = server();
    src.append("alice", "INBOX", &mails(0..4));
    // Another tool copied two of them already (same bytes, same date).
    let earlier: Vec<Message> = src.fetch_all("alice", "INBOX")[..2]
        .iter()
        .map(common::again)
        .collect();
    dst.append("alice", "INBOX", &earlier);
    let (_dir, state) = common::state_file();
    let report = common::copy(&src, &dst, &state, &Options::default()).await;
    assert_eq!(
        (report.transferred(), report.already_there()),
        (2, 2),
        "{report:#?}"
    );
    common::assert_folder_same(&src, &dst, "INBOX", "the same messages on both sides");
    // Each is paired with its own copy (by UID, in order): a source flag
    // change lands on the right message.
    let store = State::open(&state, NOW).unwrap();
    let rec = store
        .folder(&mailferry::folder::MailboxName::inbox())
        .unwrap()
        .unwrap();
    let pairs: Vec<(u32, Option<u32>)> = store
        .messages_in_folder(rec.id, rec.source_uidvalidity)
        .unwrap()
        .iter()
        .map(|m| (m.key.uid, m.dest_uid))
        .collect();
    assert_eq!(&pairs[..2], &[(1, Some(1)), (2, Some(2))], "{pairs:?}");
}

#[tokio::test]
async fn flag_changes_and_removals_never_touch_a_destination_folder_replaced_meanwhile() {
    let src = server();
    let dst = server();
    src.append("alice", "INBOX", &mails(0..5));
    // The new server has another folder with mail of the user's own, under
    // the same UIDs the copies will get.
    dst.create_mailbox("alice", "Other");
    let own: Vec<Message> = (100..105).map(mail).collect();
    dst.append("alice", "Other", &own);
    let (_dir, state) = common::state_file();
    let delete2 = common::with_delete2();
    let proxy = Proxy::start(dst.addr_plain());
    migrate(src.addr_plain(), proxy.addr(), &state, &delete2)
        .await
        .unwrap();
    assert_eq!(dst.fetch_all("alice", "INBOX").len(), 5);

    // A message is deleted and another flagged at the source; when the copy
    // opens the destination folder to write, it is another folder now (as
    // if deleted and recreated by another program).
    expunge_at(&src, "INBOX", &["Trust 3"]);
    let mut session = src.session("alice");
    assert!(session.command("SELECT INBOX").unwrap().is_ok());
    assert!(session
        .command("UID STORE 1 +FLAGS (\\Flagged)")
        .unwrap()
        .is_ok());
    session.logout();
    proxy.set_fault(Fault::rewrite(
        Direction::ToServer,
        "SELECT \"INBOX\"",
        "SELECT \"Other\"",
    ));
    let report = migrate(src.addr_plain(), proxy.addr(), &state, &delete2)
        .await
        .unwrap();
    let removed: u64 = report.folders.iter().map(|f| f.removed).sum();
    assert_eq!(removed, 0, "{report:#?}");
    let other = dst.fetch_all("alice", "Other");
    assert_eq!(other.len(), 5, "the user's own mail is untouched");
    assert!(other.iter().all(|m| m.flags.is_empty()), "and unflagged");

    // The folder is itself again: the changes arrive.
    proxy.set_fault(Fault::default());
    let report = migrate(src.addr_plain(), proxy.addr(), &state, &delete2)
        .await
        .unwrap();
    let removed: u64 = report.folders.iter().map(|f| f.removed).sum();
    assert_eq!(removed, 1, "{report:#?}");
    common::assert_folder_same(&src, &dst, "INBOX", "the same messages on both sides");
}

#[test]
fn a_damaged_progress_file_is_set_aside_and_rebuilt_from_both_servers_when_asked() {
    let src = server();
    let dst = server();
    src.append("alice", "INBOX", &mails(0..5));
    let (dir, state) = common::state_file();
    common::run_both_ok("sync", &src, &dst, &state, &[]);

    // The disk garbles the file.
    let mut bytes = std::fs::read(&state).unwrap();
    for b in bytes.iter_mut().skip(100).take(4000) {
        *b = 0x5a;
    }
    std::fs::write(&state, &bytes).unwrap();
    let damaged = run_both("sync", &src, &dst, &state, &[], &[]);
    let said = text(&damaged.stdout) + &text(&damaged.stderr);
    assert_eq!(damaged.status.code(), Some(2), "{said}");
    assert!(
        said.contains("--rebuild-progress"),
        "the way out is named: {said}"
    );

    let rebuilt = run_both("sync", &src, &dst, &state, &["--rebuild-progress"], &[]);
    let said = text(&rebuilt.stdout);
    assert_eq!(
        rebuilt.status.code(),
        Some(0),
        "{said} {}",
        text(&rebuilt.stderr)
    );
    assert!(
        said.contains("Copied 0 messages"),
        "nothing copied twice: {said}"
    );
    common::assert_folder_same(&src, &dst, "INBOX", "the same messages on both sides");
    let kept = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".corrupt-")
        })
        .count();
    assert!(kept >= 1, "the damaged file is kept beside the new one");
    common::run_both_ok("verify", &src, &dst, &state, &[]);
}

#[test]
fn a_recreated_destination_folder_gets_back_the_mail_of_every_source_folder_merged_into_it() {
    let src = server();
    let dst = server();
    src.create_mailbox("alice", "Alpha");
    src.create_mailbox("alice", "Beta");
    src.append("alice", "Alpha", &mails(0..3));
    src.append("alice", "Beta", &mails(3..6));
    let (_dir, state) = common::state_file();
    let merge = ["--f1f2", "Alpha=Merged", "--f1f2", "Beta=Merged", "--merge"];
    common::run_both_ok("sync", &src, &dst, &state, &merge);
    assert_eq!(dst.fetch_all("alice", "Merged").len(), 6);

    // Someone deletes the folder at the new server and creates it again.
    let mut session = dst.session("alice");
    assert!(session.command("DELETE \"Merged\"").unwrap().is_ok());
    session.logout();
    dst.create_mailbox("alice", "Merged");

    let again = common::run_both_ok("sync", &src, &dst, &state, &merge);
    assert_eq!(
        dst.fetch_all("alice", "Merged").len(),
        6,
        "both source folders' mail is back: {}",
        text(&again.stdout)
    );
    common::run_both_ok("verify", &src, &dst, &state, &merge);
}

#[test]
fn a_folder_mapped_elsewhere_on_a_later_run_is_copied_to_its_new_place() {
    let src = server();
    let dst = server();
    src.create_mailbox("alice", "Projects");
    src.append("alice", "Projects", &mails(0..4));
    let (_dir, state) = common::state_file();
    common::run_both_ok("sync", &src, &dst, &state, &[]);
    assert_eq!(dst.fetch_all("alice", "Projects").len(), 4);

    let moved = run_both(
        "sync",
        &src,
        &dst,
        &state,
        &["--f1f2", "Projects=Work"],
        &[],
    );
    let said = text(&moved.stdout);
    assert_eq!(moved.status.code(), Some(0), "{said}");
    assert_eq!(
        content(&dst.fetch_all("alice", "Work")),
        content(&src.fetch_all("alice", "Projects")),
        "{said}"
    );
    let verify = run_both(
        "verify",
        &src,
        &dst,
        &state,
        &["--f1f2", "Projects=Work"],
        &[],
    );
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify.stdout));
}

#[test]
fn a_recreated_source_folder_with_duplicates_passes_again_and_again() {
    let src = server();
    let dst = server();
    let twin = Message::new(
        b"From: c@x\r\nSubject: exact duplicate\r\nMessage-ID: <twin@x>\r\n\r\nsame\r\n".to_vec(),
    )
    .internal_date("02-Mar-2024 09:00:00 +0000");
    let mut messages: Vec<Message> = (0..4).map(mail).collect();
    messages.extend([twin.clone(), twin.clone(), twin]);
    src.create_mailbox("alice", "Dups");
    src.append("alice", "Dups", &messages);
    let (_dir, state) = common::state_file();
    common::run_both_ok("sync", &src, &dst, &state, &[]);

    // The source folder is recreated (new UIDVALIDITY) with the same mail
    // in another order, one twin fewer.
    let mut session = src.session("alice");
    assert!(session.command("DELETE \"Dups\"").unwrap().is_ok());
    session.logout();
    src.create_mailbox("alice", "Dups");
    let mut again: Vec<Message> = messages[..6].to_vec();
    again.reverse();
    src.append("alice", "Dups", &again);
    for round in 0..3 {
        let run = run_both("sync", &src, &dst, &state, &[], &[]);
        let said = text(&run.stdout) + &text(&run.stderr);
        assert_eq!(run.status.code(), Some(0), "round {round}: {said}");
        assert!(said.contains("Copied 0 messages"), "round {round}: {said}");
    }
    assert_eq!(
        dst.fetch_all("alice", "Dups").len(),
        7,
        "nothing doubled, nothing removed"
    );
}

#[test]
fn an_empty_message_is_tried_and_a_refusal_is_reported_not_skipped() {
    let src = server();
    let dst = server();
    src.append("alice", "INBOX", &mails(0..2));
    // An empty message file in the source's mail folder (a broken import).
    let new = src.dir().join("home/alice/Maildir/new");
    let empty = new.join("1700000000.M1P1.empty,S=0");
    std::fs::write(&empty, b"").unwrap();
    let status = std::process::Command::new("chown")
        .args(["65534:65534", empty.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let (_dir, state) = common::state_file();
    let out = run_both("sync", &src, &dst, &state, &[], &[]);
    let said = text(&out.stdout);
    assert_eq!(
        src.fetch_all("alice", "INBOX").len(),
        3,
        "the source lists it"
    );
    let at_dest = dst.fetch_all("alice", "INBOX").len();
    if at_dest == 3 {
        assert_eq!(out.status.code(), Some(0), "{said}");
    } else {
        // Dovecot refuses to store an empty message: that is said, with
        // its words, and counted as not copied (not "skipped").
        assert_eq!(at_dest, 2);
        assert_eq!(out.status.code(), Some(1), "{said}");
        assert!(said.contains("1 could not be copied"), "{said}");
        assert!(said.contains("zero byte"), "the server's words: {said}");
    }
}

/// What a run leaves out is said as it starts, to every face: a folder a
/// question holds back reaches the event stream (the app's copy screen)
/// as refused with the question, while every other folder copies.
#[tokio::test]
async fn a_folder_held_back_by_a_question_is_said_at_the_start_of_the_copy() {
    use mailferry::event::Event;
    let (src, dst) = (server(), server());
    for folder in ["Clients", "Customers", "Other"] {
        src.create_mailbox("alice", folder);
    }
    src.append("alice", "Other", &[mail(1), mail(2)]);
    src.append("alice", "Clients", &[mail(3)]);
    src.append("alice", "Customers", &[mail(4)]);
    let dir = tempfile::tempdir().unwrap();
    // Two source folders onto one, merging not allowed: a question.
    let rules = Rules::from_flags(&["Customers=Clients".to_owned()], &[], &[], &[]).unwrap();
    let mut job = Job::open(
        common::connect(src.addr_plain()).await,
        common::connect(dst.addr_plain()).await,
        &rules,
        ProgressFile::at(dir.path().join("job.db")),
    )
    .await
    .unwrap();
    assert_eq!(job.questions().len(), 1, "{:#?}", job.mapped().conflicts);
    let mut said = Vec::new();
    let report = job
        .run(&Options::default(), &|| NOW, &mut |e: Event| said.push(e))
        .await
        .unwrap();
    job.close().await;
    let held: Vec<&str> = said
        .iter()
        .filter_map(|e| match e {
            Event::FolderRefused { folder, reason, .. } if reason.contains("until you decide") => {
                Some(folder.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(held.len(), 2, "both folders of the question: {said:#?}");
    assert!(held.contains(&"Clients") && held.contains(&"Customers"));
    common::assert_folder_same(&src, &dst, "Other", "the same messages on both sides");
    assert_eq!(report.transferred(), 2, "{report:#?}");
}

#[tokio::test]
async fn a_copy_deleted_at_the_destination_is_put_back_even_when_new_mail_there_keeps_the_count() {
    let src = server();
    let dst = server();
    src.create_mailbox("alice", "Projects");
    src.append("alice", "INBOX", &mails(0..6));
    src.append("alice", "Projects", &mails(6..10));
    let (_dir, state) = common::state_file();
    common::run_both_ok("sync", &src, &dst, &state, &[]);

    // At the new server, another mail program deletes a copy and new mail
    // arrives in the same folder: the folder holds as many messages as the
    // progress file knows of. INBOX's source is unchanged; Projects gets a
    // new message too (the changed-since path).
    expunge_at(&dst, "INBOX", &["Trust 2"]);
    dst.append("alice", "INBOX", &[mail(40)]);
    expunge_at(&dst, "Projects", &["Trust 7"]);
    dst.append("alice", "Projects", &[mail(41)]);
    src.append("alice", "Projects", &[mail(11)]);

    common::run_both_ok("sync", &src, &dst, &state, &[]);
    for (folder, subjects) in [
        ("INBOX", vec!["Trust 2", "Trust 40"]),
        ("Projects", vec!["Trust 7", "Trust 11", "Trust 41"]),
    ] {
        let there: Vec<String> = dst
            .fetch_all("alice", folder)
            .iter()
            .map(|m| String::from_utf8_lossy(&m.body).into_owned())
            .collect();
        for s in subjects {
            let n = there
                .iter()
                .filter(|b| b.contains(&format!("Subject: {s}\r")))
                .count();
            assert_eq!(n, 1, "{folder}: {s} once at the new server");
        }
    }
    common::run_both_ok("verify", &src, &dst, &state, &[]);
}
