//! The copy engine's promises against real Dovecot pairs: nothing lost,
//! nothing doubled, nothing destroyed — across re-runs, a lost state file,
//! UIDVALIDITY changes, a destination that already holds some of the mail,
//! connections cut mid-FETCH and mid-APPEND, and Gmail's All Mail.

use crate::common::{self, content, migrate, migrate_with, NOW};
use mailferry::error::Problem;
use mailferry::run::Options;
use mailferry::state::State;
use mailferry_harness::{Direction, Dovecot, Fault, Layout, Message, Proxy};
use std::time::Duration;

fn mail(i: usize, extra: &str) -> Message {
    let body = format!(
        "From: Sender {i} <s{i}@example.net>\r\nTo: alice@example.com\r\nSubject: Message {i}\r\n\
         Date: Mon, 4 Mar 2024 10:{:02}:00 +0100\r\nMessage-ID: <msg-{i}@example.net>\r\n\r\nBody {i}.{extra}\r\n",
        i % 60
    );
    Message::new(body.into_bytes())
        .flags(match i % 3 {
            0 => &["\\Seen"][..],
            1 => &["\\Seen", "\\Flagged", "$Forwarded"][..],
            _ => &[][..],
        })
        .internal_date(&format!(
            "{:02}-Mar-2024 09:{:02}:00 +0000",
            1 + i % 28,
            i % 60
        ))
}

/// `mail(i, extra)` for each `i`.
fn mails(range: std::ops::Range<usize>, extra: &str) -> Vec<Message> {
    range.map(|i| mail(i, extra)).collect()
}

/// An Exchange-layout source whose INBOX holds `messages`.
fn exchange_source(messages: &[Message]) -> Dovecot {
    let src = common::dovecot(Layout::Exchange);
    src.append("alice", "INBOX", messages);
    src
}

/// A run stopped by a cut connection.
fn assert_cut(err: &mailferry::error::Error) {
    assert!(
        matches!(
            err.problem(),
            Problem::ConnectionLost { .. } | Problem::Protocol { .. }
        ),
        "{err:?}"
    );
}

/// The edge cases the core suite always carries (no corpus needed).
fn edge_cases() -> Vec<Message> {
    let same_id_a = b"From: a@x\r\nSubject: first\r\nMessage-ID: <dup@x>\r\n\r\nA\r\n".to_vec();
    let same_id_b =
        b"From: b@x\r\nSubject: second, different body\r\nMessage-ID: <dup@x>\r\n\r\nBBBB\r\n"
            .to_vec();
    let exact =
        b"From: c@x\r\nSubject: exact duplicate\r\nMessage-ID: <twin@x>\r\n\r\nsame\r\n".to_vec();
    vec![
        Message::new(b"From: nobody@x\r\nSubject: no message id\r\nDate: Tue, 5 Mar 2024 08:00:00 +0000\r\n\r\nx\r\n".to_vec()),
        Message::new(b"From: h@x\r\nSubject: header only\r\nMessage-ID: <hdr@x>\r\n\r\n".to_vec()),
        Message::new(same_id_a),
        Message::new(same_id_b),
        Message::new(exact.clone()).flags(&["\\Seen"]),
        Message::new(exact),
        Message::new("From: Jörg <j@x>\r\nSubject: Grüße aus Köln\r\nMessage-ID: <8bit@x>\r\n\r\nÄÖÜ\r\n".as_bytes().to_vec()),
        Message::new(b"From: lf@x\nSubject: bare LF\nMessage-ID: <lf@x>\n\nline one\nline two\n".to_vec()),
        Message::new(format!("From: long@x\r\nSubject: long line\r\nMessage-ID: <long@x>\r\n\r\n{}\r\n", "z".repeat(20_000)).into_bytes()),
        Message::new(b"From: old@x\r\nSubject: an old one\r\nMessage-ID: <old@x>\r\n\r\nold\r\n".to_vec())
            .internal_date("01-Jan-1980 00:00:00 +0000"),
        Message::new(b"From: dst@x\r\nSubject: across DST\r\nMessage-ID: <dst@x>\r\n\r\ndst\r\n".to_vec())
            .internal_date("31-Mar-2024 02:30:00 +0100"),
    ]
}

fn assert_same(src: &Dovecot, src_folder: &str, dst: &Dovecot, dst_folder: &str) {
    let a = content(&src.fetch_all("alice", src_folder));
    let b = content(&dst.fetch_all("alice", dst_folder));
    assert_eq!(
        a.values().sum::<usize>(),
        b.values().sum::<usize>(),
        "{src_folder} → {dst_folder}: same number of messages"
    );
    assert!(
        a == b,
        "{src_folder} → {dst_folder}: every message byte for byte with its flags and date"
    );
}

fn load_courier_source() -> Dovecot {
    let src = common::dovecot(Layout::Courier);
    src.create_mailbox("alice", "INBOX.Clients");
    src.create_mailbox("alice", "INBOX.Clients.Acme");
    src.append("alice", "INBOX", &edge_cases());
    src.append("alice", "INBOX", &mails(0..40, ""));
    src.append("alice", "INBOX.Clients.Acme", &mails(40..60, ""));
    src.append("alice", "INBOX.Sent", &mails(60..70, ""));
    src
}

fn assert_courier_copied(src: &Dovecot, dst: &Dovecot) {
    assert_same(src, "INBOX", dst, "INBOX");
    assert_same(src, "INBOX.Clients.Acme", dst, "Clients/Acme");
    assert_same(src, "INBOX.Sent", dst, "Sent Items");
}

#[tokio::test]
async fn full_copy_is_exact_and_a_second_run_copies_nothing() {
    let src = load_courier_source();
    let dst = common::dovecot(Layout::Exchange);
    let (_dir, state) = common::state_file();

    let first = common::copy(&src, &dst, &state, &Options::default()).await;
    assert_eq!(first.transferred(), 11 + 40 + 20 + 10, "{first:#?}");
    assert_eq!(first.failed(), 0);
    assert_eq!(first.exit_code(), 0);
    assert_courier_copied(&src, &dst);

    let second = common::copy(&src, &dst, &state, &Options::default()).await;
    assert_eq!(second.transferred(), 0, "idempotent: {second:#?}");
    assert_eq!(second.already_there(), 81);
    assert_courier_copied(&src, &dst);
}

#[tokio::test]
async fn a_dry_run_writes_nothing_anywhere() {
    let src = load_courier_source();
    let dst = common::dovecot(Layout::Exchange);
    let (_dir, state) = common::state_file();
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let before = sorted(dst.list("alice"));
    let dry = Options {
        dry: true,
        ..Options::default()
    };
    let report = common::copy(&src, &dst, &state, &dry).await;
    assert_eq!(report.transferred(), 81, "says what would be copied");
    assert_eq!(sorted(dst.list("alice")), before, "no folder created");
    assert!(
        dst.fetch_all("alice", "INBOX").is_empty(),
        "no message copied"
    );
    assert!(!state.exists(), "no state file written");
}

#[tokio::test]
async fn a_lost_state_file_or_a_prefilled_destination_copies_only_what_is_missing() {
    let src = load_courier_source();
    let dst = common::dovecot(Layout::Exchange);
    // Another tool copied half of INBOX already.
    let inbox = src.fetch_all("alice", "INBOX");
    let half: Vec<Message> = inbox
        .iter()
        .take(inbox.len() / 2)
        .map(common::again)
        .collect();
    dst.append("alice", "INBOX", &half);

    let (_dir, state) = common::state_file();
    let report = common::copy(&src, &dst, &state, &Options::default()).await;
    assert_eq!(report.already_there(), half.len() as u64, "{report:#?}");
    assert_eq!(report.transferred(), 81 - half.len() as u64);
    assert_courier_copied(&src, &dst);

    // The state file is lost: everything is found again at the destination.
    std::fs::remove_file(&state).unwrap();
    let again = common::copy(&src, &dst, &state, &Options::default()).await;
    assert_eq!(again.transferred(), 0, "{again:#?}");
    assert_eq!(again.already_there(), 81);
    assert_courier_copied(&src, &dst);
}

#[tokio::test]
async fn a_recreated_source_folder_with_a_new_uidvalidity_copies_nothing_again() {
    let src = load_courier_source();
    let dst = common::dovecot(Layout::Exchange);
    let (_dir, state) = common::state_file();
    common::copy(&src, &dst, &state, &Options::default()).await;

    let acme = src.fetch_all("alice", "INBOX.Clients.Acme");
    let mut session = src.session("alice");
    let before = session
        .command("STATUS \"INBOX.Clients.Acme\" (UIDVALIDITY)")
        .unwrap()
        .untagged_text()
        .join(" ");
    assert!(session
        .command("DELETE \"INBOX.Clients.Acme\"")
        .unwrap()
        .is_ok());
    session.logout();
    src.create_mailbox("alice", "INBOX.Clients.Acme");
    src.append(
        "alice",
        "INBOX.Clients.Acme",
        &acme.iter().map(common::again).collect::<Vec<_>>(),
    );
    let mut session = src.session("alice");
    let after = session
        .command("STATUS \"INBOX.Clients.Acme\" (UIDVALIDITY)")
        .unwrap()
        .untagged_text()
        .join(" ");
    session.logout();
    assert_ne!(before, after, "the test really changed the UIDVALIDITY");

    let report = common::copy(&src, &dst, &state, &Options::default()).await;
    assert_eq!(report.transferred(), 0, "{report:#?}");
    assert_courier_copied(&src, &dst);
}

#[tokio::test]
async fn a_connection_cut_mid_fetch_leaves_nothing_partial_and_the_run_recovers() {
    let src = exchange_source(&mails(0..6, &"b".repeat(3_000_000)));
    let dst = common::dovecot(Layout::Exchange);
    let proxy = Proxy::start(src.addr_plain());
    proxy.set_fault_once(Fault::cut_after_match(Direction::ToClient, "BODY[] {"));
    let (_dir, state) = common::state_file();

    // With no retry allowed, the cut stops the run and nothing half-read is stored.
    // One folder at a time: without retries, a connection Dovecot drops
    // while several sessions open its auto-created special folders for the
    // first time (a retry's business) would end the run before the cut.
    let no_retry = Options {
        max_retries: 0,
        connections: 1,
        ..Options::default()
    };
    let err = migrate(proxy.addr(), dst.addr_plain(), &state, &no_retry)
        .await
        .unwrap_err();
    assert_cut(&err);
    assert!(
        dst.fetch_all("alice", "INBOX").is_empty(),
        "nothing was appended from a partial fetch"
    );

    // By default the run reconnects and finishes by itself.
    proxy.set_fault_once(Fault::cut_after_match(Direction::ToClient, "BODY[] {"));
    let report = migrate(proxy.addr(), dst.addr_plain(), &state, &Options::default())
        .await
        .unwrap();
    assert_eq!(proxy.cuts(), 2, "the fault struck again: {report:#?}");
    assert_eq!(report.transferred(), 6, "{report:#?}");
    assert_same(&src, "INBOX", &dst, "INBOX");
}

#[tokio::test]
async fn a_cut_while_fetching_the_next_batch_keeps_the_batch_being_appended() {
    // The next batch is fetched while this one is appended: a source that
    // breaks off mid-FETCH must not cost the batch already on its way.
    let src = exchange_source(
        &(0..6)
            .map(|i| mail(i, &format!(" mark-{i}")))
            .collect::<Vec<_>>(),
    );
    let dst = common::dovecot(Layout::Exchange);
    let proxy = Proxy::start(src.addr_plain());
    // Message 3 is in the second batch of two; only its body carries the mark.
    proxy.set_fault_once(Fault::cut_after_match(Direction::ToClient, "mark-3"));
    let (_dir, state) = common::state_file();
    // One folder at a time: see the test above.
    let options = Options {
        batch_messages: 2,
        max_retries: 0,
        connections: 1,
        ..Options::default()
    };
    let err = migrate(proxy.addr(), dst.addr_plain(), &state, &options)
        .await
        .unwrap_err();
    assert_cut(&err);
    assert_eq!(proxy.cuts(), 1, "{err:?}");
    let stored: Vec<String> = dst
        .fetch_all("alice", "INBOX")
        .iter()
        .map(|m| String::from_utf8_lossy(&m.body).into_owned())
        .collect();
    assert_eq!(stored.len(), 2, "the first batch arrived, nothing else");
    assert!(stored.iter().any(|b| b.contains("mark-0")));
    assert!(stored.iter().any(|b| b.contains("mark-1")));
    {
        let st = State::open(&state, NOW).unwrap();
        assert!(
            st.in_doubt_intents().unwrap().is_empty(),
            "the first batch was recorded"
        );
    }

    let report = migrate(proxy.addr(), dst.addr_plain(), &state, &Options::default())
        .await
        .unwrap();
    assert_eq!(report.transferred(), 4, "{report:#?}");
    assert_eq!(report.already_there(), 2, "{report:#?}");
    assert_same(&src, "INBOX", &dst, "INBOX");
}

#[tokio::test]
async fn a_connection_cut_while_folders_are_created_is_retried_and_the_run_finishes() {
    // Creating the new server's folders is a step of the whole run, before
    // any folder is copied: a connection lost there is retried like one
    // lost in a folder's copy, not the end of the run.
    for (what, pattern) in [
        ("a CREATE", "CREATE \"Projects"),
        ("a SUBSCRIBE", "SUBSCRIBE \"Projects"),
    ] {
        let src = exchange_source(&mails(0..3, ""));
        src.create_mailbox("alice", "Projects");
        src.create_mailbox("alice", "Projects/Acme");
        src.append("alice", "Projects", &mails(3..6, ""));
        src.append("alice", "Projects/Acme", &mails(6..9, ""));
        let dst = common::dovecot(Layout::Exchange);
        let proxy = Proxy::start(dst.addr_plain());
        proxy.set_fault_once(Fault::cut_after_match(Direction::ToServer, pattern));
        let (_dir, state) = common::state_file();
        let report = migrate(src.addr_plain(), proxy.addr(), &state, &Options::default())
            .await
            .unwrap_or_else(|e| panic!("{what} cut: the run must finish by itself: {e:?}"));
        assert_eq!(proxy.cuts(), 1, "{what}: the fault struck");
        assert_eq!(report.failed(), 0, "{what}: {report:#?}");
        assert!(
            report.folders.iter().all(|f| f.refused.is_none()),
            "{what}: {report:#?}"
        );
        for folder in ["INBOX", "Projects", "Projects/Acme"] {
            assert_same(&src, folder, &dst, folder);
        }
        let again = migrate(src.addr_plain(), proxy.addr(), &state, &Options::default())
            .await
            .unwrap();
        assert_eq!(again.transferred(), 0, "{what}: {again:#?}");
    }
}

#[tokio::test]
async fn a_connection_cut_during_the_check_is_retried_and_the_check_completes() {
    // The check reads every folder on both sides: a connection lost there
    // is tried again on a fresh one, and the answer is the same as
    // without the cut (not an error, and never "safe" with a folder left
    // out).
    let src = exchange_source(&mails(0..3, ""));
    src.create_mailbox("alice", "Projects");
    src.append("alice", "Projects", &mails(3..6, ""));
    let dst = common::dovecot(Layout::Exchange);
    let (_dir, state) = common::state_file();
    common::copy(&src, &dst, &state, &Options::default()).await;
    for (side, pattern) in [
        ("old server", "EXAMINE \"Projects"),
        ("new server", "EXAMINE \"Projects"),
    ] {
        let source = Proxy::start(src.addr_plain());
        let dest = Proxy::start(dst.addr_plain());
        let cut = if side == "old server" { &source } else { &dest };
        cut.set_fault_once(Fault::cut_after_match(Direction::ToServer, pattern));
        let audit = common::audit(source.addr(), dest.addr(), &state).await;
        assert_eq!(cut.cuts(), 1, "{side}: the fault struck");
        assert!(audit.safe_to_switch, "{side}: {audit:#?}");
        let projects = audit
            .folders
            .iter()
            .find(|f| f.source == "Projects")
            .expect("Projects was checked");
        assert_eq!(projects.source_messages, 3, "{side}: {audit:#?}");
        assert_eq!(projects.destination_messages, 3, "{side}: {audit:#?}");
    }
}

#[tokio::test]
async fn a_connection_cut_after_the_append_is_settled_without_a_duplicate() {
    let src = exchange_source(&mails(0..5, ""));
    let dst = common::dovecot(Layout::Exchange);
    // The server stores the batch, then the reply never reaches us: the
    // copies are in doubt until the run looks at the destination again.
    let proxy = Proxy::start(dst.addr_plain());
    proxy.set_fault_once(Fault::cut_after_match(Direction::ToClient, "[APPENDUID"));
    let (_dir, state) = common::state_file();
    let report = migrate(src.addr_plain(), proxy.addr(), &state, &Options::default())
        .await
        .unwrap();
    assert_eq!(proxy.cuts(), 1);
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert_same(&src, "INBOX", &dst, "INBOX");
    let again = migrate(src.addr_plain(), proxy.addr(), &state, &Options::default())
        .await
        .unwrap();
    assert_eq!(again.transferred(), 0, "{again:#?}");
    assert_same(&src, "INBOX", &dst, "INBOX");
}

#[tokio::test]
async fn a_throttling_server_is_waited_for_and_nothing_fails_or_doubles() {
    let src = exchange_source(&mails(0..8, ""));
    let dst = common::dovecot(Layout::Exchange);
    // Microsoft's words, for a while. (The server did store the batch; the
    // client is told otherwise — the worst case for doubles.)
    let proxy = Proxy::with_fault(
        dst.addr_plain(),
        Fault::rewrite(
            Direction::ToClient,
            "OK [APPENDUID",
            "NO Request is throttled. Suggested Backoff Time: 1000 milliseconds [APPENDUID",
        ),
    );
    let proxy = std::sync::Arc::new(proxy);
    let clearing = {
        let proxy = proxy.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(1500));
            proxy.set_fault(Fault::None);
        })
    };
    let (_dir, state) = common::state_file();
    let report = migrate(src.addr_plain(), proxy.addr(), &state, &Options::default()).await;
    clearing.join().unwrap();
    let report = report.unwrap();
    assert_eq!(
        report.failed(),
        0,
        "throttling never fails a message: {report:#?}"
    );
    assert_same(&src, "INBOX", &dst, "INBOX");
}

#[tokio::test]
async fn message_and_byte_rate_limits_are_kept() {
    let src = exchange_source(&mails(0..40, ""));
    src.create_mailbox("alice", "Big");
    src.append(
        "alice",
        "Big",
        &(0..8)
            .map(|i| mail(100 + i, &"B".repeat(500_000)))
            .collect::<Vec<_>>(),
    );
    let dst = common::dovecot(Layout::Exchange);
    let dir = tempfile::tempdir().unwrap();

    let started = std::time::Instant::now();
    let by_count = Options {
        max_messages_per_second: Some(10.0),
        ..Options::default()
    };
    let report = migrate(
        src.addr_plain(),
        dst.addr_plain(),
        &dir.path().join("a.db"),
        &by_count,
    )
    .await
    .unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(report.transferred(), 48);
    // 48 messages at 10 per second: the last batch may start at 4.7 s.
    assert!(elapsed >= 3.8, "10 messages/s held: 48 in {elapsed:.1} s");

    let dst2 = common::dovecot(Layout::Exchange);
    let started = std::time::Instant::now();
    let by_bytes = Options {
        max_bytes_per_second: Some(1_000_000),
        ..Options::default()
    };
    let report = migrate(
        src.addr_plain(),
        dst2.addr_plain(),
        &dir.path().join("b.db"),
        &by_bytes,
    )
    .await
    .unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    let bytes: u64 = report.folders.iter().map(|f| f.bytes).sum();
    assert!(bytes > 4_000_000);
    assert!(
        elapsed >= (bytes as f64 / 1_000_000.0) * 0.8,
        "1 MB/s held: {bytes} bytes in {elapsed:.1} s"
    );
}

#[tokio::test]
async fn gmail_archived_mail_lands_in_archive_once_and_labels_are_not_doubled() {
    let src = common::dovecot(Layout::Gmail);
    src.create_mailbox("alice", "Clients");
    let labelled: Vec<Message> = (0..6).map(|i| mail(i, "")).collect();
    let archived: Vec<Message> = (100..104).map(|i| mail(i, " archived")).collect();
    src.append("alice", "INBOX", &labelled[..3]);
    src.append("alice", "Clients", &labelled[3..]);
    // All Mail holds everything: the labelled messages and the archived ones.
    src.append("alice", "[Gmail]/All Mail", &labelled);
    src.append("alice", "[Gmail]/All Mail", &archived);
    src.append("alice", "[Gmail]/Spam", &[mail(200, " spam")]);

    let dst = common::dovecot(Layout::Exchange);
    let (_dir, state) = common::state_file();
    let report = common::copy(&src, &dst, &state, &Options::default()).await;
    assert_eq!(report.transferred(), 6 + 4, "{report:#?}");
    assert_same(&src, "INBOX", &dst, "INBOX");
    assert_same(&src, "Clients", &dst, "Clients");
    let archive = dst.fetch_all("alice", "Archive");
    assert_eq!(archive.len(), 4, "only the archived messages go to Archive");
    assert!(archive
        .iter()
        .all(|m| String::from_utf8_lossy(&m.body).contains("archived")));
    assert!(
        !dst.list("alice").iter().any(|f| f.contains("Spam")),
        "spam is not copied"
    );

    let again = common::copy(&src, &dst, &state, &Options::default()).await;
    assert_eq!(again.transferred(), 0, "{again:#?}");
}

#[tokio::test]
async fn a_full_destination_stops_the_run_cleanly() {
    let src = exchange_source(&mails(0..20, &"q".repeat(2_000)));
    let dst = Dovecot::builder()
        .layout(Layout::Exchange)
        .quota_bytes(Some(20_000))
        .build();
    let (_dir, state) = common::state_file();
    let options = Options {
        batch_messages: 5,
        ..Options::default()
    };
    let report = common::copy(&src, &dst, &state, &options).await;
    let stopped = report.stopped.as_deref().expect("the run says it stopped");
    assert!(stopped.contains("full"), "{stopped}");
    assert_eq!(report.exit_code(), 1);
    let stored = dst.fetch_all("alice", "INBOX").len();
    assert!(
        stored > 0 && stored < 20,
        "some fit, the rest wait: {stored}"
    );
    assert_eq!(
        report.transferred(),
        stored as u64,
        "the report counts what arrived"
    );
    // Re-running (still full) adds nothing twice.
    let again = common::copy(&src, &dst, &state, &options).await;
    assert_eq!(again.transferred(), 0);
    assert_eq!(
        dst.fetch_all("alice", "INBOX").len(),
        stored,
        "no duplicate"
    );
}

#[tokio::test]
async fn filters_skip_and_a_later_pass_picks_up() {
    let src = common::dovecot(Layout::Exchange);
    let mut msgs: Vec<Message> = (0..5).map(|i| mail(i, "")).collect();
    msgs.push(mail(5, &"L".repeat(200_000)));
    msgs.push(mail(6, "").flags(&["\\Deleted"]));
    src.append("alice", "INBOX", &msgs);
    let dst = common::dovecot(Layout::Exchange);
    let (_dir, state) = common::state_file();
    let bulk = Options {
        max_size: Some(100_000),
        ..Options::default()
    };
    let first = common::copy(&src, &dst, &state, &bulk).await;
    assert_eq!(first.transferred(), 5, "{first:#?}");
    assert_eq!(first.skipped(), 2, "the large one and the deleted one");
    let large_pass = common::copy(&src, &dst, &state, &Options::default()).await;
    assert_eq!(
        large_pass.transferred(),
        1,
        "the large message now: {large_pass:#?}"
    );
    assert_eq!(
        dst.fetch_all("alice", "INBOX").len(),
        6,
        "the deleted one is never copied"
    );
}

#[tokio::test]
async fn a_second_run_on_the_same_job_is_refused_while_one_runs() {
    let (_dir, state) = common::state_file();
    let _first = State::open(&state, NOW).unwrap();
    let second = State::open(&state, NOW);
    assert!(
        second.as_ref().err().is_some_and(|e| e.is_busy()),
        "{:?}",
        second.err()
    );
}

fn raw(server: &Dovecot, folder: &str, commands: &[&str]) {
    let mut session = server.session("alice");
    assert!(session
        .command(&format!("SELECT \"{folder}\""))
        .unwrap()
        .is_ok());
    for c in commands {
        let reply = session.command(c).unwrap();
        assert!(reply.is_ok(), "{c}: {reply:?}");
    }
    session.logout();
}

fn flags_of(server: &Dovecot, folder: &str, subject: &str) -> Vec<String> {
    let m = server
        .fetch_all("alice", folder)
        .into_iter()
        .find(|m| String::from_utf8_lossy(&m.body).contains(subject))
        .unwrap_or_else(|| panic!("{subject} in {folder}"));
    let mut flags = m.flags;
    flags.sort();
    flags
}

#[tokio::test]
async fn flag_changes_at_the_source_arrive_and_destination_only_changes_are_kept() {
    let src = exchange_source(&mails(0..4, ""));
    let dst = common::dovecot(Layout::Exchange);
    let (_dir, state) = common::state_file();
    common::copy(&src, &dst, &state, &Options::default()).await;
    // mail(0): \Seen; mail(1): \Seen \Flagged $Forwarded; mail(2): none; mail(3): \Seen.
    raw(
        &src,
        "INBOX",
        &[
            "UID STORE 1 +FLAGS (\\Flagged)",
            "UID STORE 2 -FLAGS (\\Seen $Forwarded)",
        ],
    );
    // The user works on the new server meanwhile (on the copy of mail(2),
    // whatever UID the destination gave it).
    let uid = dst
        .fetch_all("alice", "INBOX")
        .iter()
        .find(|m| String::from_utf8_lossy(&m.body).contains("Body 2."))
        .expect("mail(2) was copied")
        .uid;
    raw(
        &dst,
        "INBOX",
        &[&format!("UID STORE {uid} +FLAGS ($Important \\Seen)")],
    );

    let report = common::copy(&src, &dst, &state, &Options::default()).await;
    assert_eq!(report.transferred(), 0);
    assert_eq!(
        report.folders.iter().map(|f| f.flags_updated).sum::<u64>(),
        2,
        "{report:#?}"
    );
    assert_eq!(
        flags_of(&dst, "INBOX", "Body 0."),
        vec!["\\Flagged", "\\Seen"]
    );
    assert_eq!(flags_of(&dst, "INBOX", "Body 1."), vec!["\\Flagged"]);
    assert_eq!(
        flags_of(&dst, "INBOX", "Body 2."),
        vec!["$Important", "\\Seen"],
        "changes made only at the destination are kept"
    );

    let again = common::copy(&src, &dst, &state, &Options::default()).await;
    assert_eq!(
        again.folders.iter().map(|f| f.flags_updated).sum::<u64>(),
        0,
        "{again:#?}"
    );
}

#[tokio::test]
async fn delete2_removes_exactly_what_was_expunged_at_the_source_and_nothing_after_the_switch() {
    let src = exchange_source(&mails(0..10, ""));
    let dst = common::dovecot(Layout::Exchange);
    dst.append("alice", "INBOX", &[mail(99, " put there by the user")]);
    let (_dir, state) = common::state_file();
    let delete2 = common::with_delete2();
    common::copy(&src, &dst, &state, &delete2).await;
    assert_eq!(dst.fetch_all("alice", "INBOX").len(), 11);

    raw(
        &src,
        "INBOX",
        &["UID STORE 2,5 +FLAGS (\\Deleted)", "EXPUNGE"],
    );
    let report = common::copy(&src, &dst, &state, &delete2).await;
    assert_eq!(
        report.folders.iter().map(|f| f.removed).sum::<u64>(),
        2,
        "{report:#?}"
    );
    let left = dst.fetch_all("alice", "INBOX");
    assert_eq!(left.len(), 9);
    for gone in ["Body 1.", "Body 4."] {
        assert!(
            !left
                .iter()
                .any(|m| String::from_utf8_lossy(&m.body).contains(gone)),
            "{gone} removed"
        );
    }
    assert!(
        left.iter()
            .any(|m| String::from_utf8_lossy(&m.body).contains("put there by the user")),
        "never ours, never removed"
    );

    // After the switch: add-only.
    {
        let mut st = State::open(&state, NOW).unwrap();
        st.set_phase(mailferry::state::Phase::PostCutover, NOW)
            .unwrap();
    }
    raw(
        &src,
        "INBOX",
        &[
            "UID STORE 3 +FLAGS (\\Deleted)",
            "EXPUNGE",
            "UID STORE 4 +FLAGS (\\Answered)",
        ],
    );
    src.append("alice", "INBOX", &[mail(50, " new after the switch")]);
    // Asking for removals now is refused before anything is touched…
    let refused = migrate(src.addr_plain(), dst.addr_plain(), &state, &delete2)
        .await
        .unwrap_err();
    assert!(
        matches!(refused.problem(), Problem::RemovalAfterSwitch),
        "{refused:?}"
    );
    assert_eq!(dst.fetch_all("alice", "INBOX").len(), 9);
    // …and a copy only adds.
    let after = common::copy(&src, &dst, &state, &Options::default()).await;
    assert_eq!(
        after.transferred(),
        1,
        "new mail is still added: {after:#?}"
    );
    assert_eq!(
        after
            .folders
            .iter()
            .map(|f| f.removed + f.flags_updated)
            .sum::<u64>(),
        0,
        "nothing removed or changed"
    );
    assert_eq!(dst.fetch_all("alice", "INBOX").len(), 10);
}

#[tokio::test]
async fn a_folder_that_briefly_lists_nothing_stops_the_run_instead_of_a_mass_removal() {
    let src = exchange_source(&mails(0..10, ""));
    let dst = common::dovecot(Layout::Exchange);
    let (_dir, state) = common::state_file();
    let delete2 = common::with_delete2();
    let proxy = Proxy::start(src.addr_plain());
    migrate(proxy.addr(), dst.addr_plain(), &state, &delete2)
        .await
        .unwrap();

    // Empty to EXAMINE and to the STATUS looked at before the run alike.
    proxy.set_fault(Fault::All(vec![
        Fault::rewrite(Direction::ToClient, "* 10 EXISTS", "* 0 EXISTS"),
        Fault::rewrite(Direction::ToClient, "MESSAGES 10 ", "MESSAGES 0 "),
    ]));
    let err = migrate(proxy.addr(), dst.addr_plain(), &state, &delete2)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.problem(),
            Problem::RemovalNeedsConfirmation { count: 10, .. }
        ),
        "{err:?}"
    );
    assert_eq!(dst.fetch_all("alice", "INBOX").len(), 10, "nothing removed");
}

#[tokio::test]
async fn a_message_the_destination_refuses_is_reported_retried_a_few_times_and_the_rest_copied() {
    let src = common::dovecot(Layout::Exchange);
    let mut msgs: Vec<Message> = (0..5).map(|i| mail(i, "")).collect();
    msgs[2] = mail(2, "").flags(&["\\Draft"]);
    src.append("alice", "INBOX", &msgs);
    let dst = common::dovecot(Layout::Exchange);
    // The proxy turns that message's draft flag into a system flag that
    // does not exist, so the destination says NO to this one message (as
    // real servers do for NUL bytes or 8-bit headers). Not a keyword: a
    // message refused while it carries keywords is sent again without them.
    let proxy = Proxy::with_fault(
        dst.addr_plain(),
        Fault::rewrite(Direction::ToServer, "\\Draft", "\\Drxft"),
    );
    let (_dir, state) = common::state_file();
    let options = Options {
        max_attempts: 2,
        ..Options::default()
    };
    let first = migrate(src.addr_plain(), proxy.addr(), &state, &options)
        .await
        .unwrap();
    assert_eq!(first.transferred(), 4, "{first:#?}");
    assert_eq!(first.failed(), 1);
    assert_eq!(first.exit_code(), 1, "finished with a message not copied");
    let error = &first
        .folders
        .iter()
        .find(|f| f.source == "INBOX")
        .unwrap()
        .errors[0];
    assert_eq!(error.subject.as_deref(), Some("Message 2"));
    assert!(error.reason.contains("refused"), "{error:?}");

    let second = migrate(src.addr_plain(), proxy.addr(), &state, &options)
        .await
        .unwrap();
    assert_eq!(
        (second.transferred(), second.failed()),
        (0, 1),
        "tried once more: {second:#?}"
    );
    let third = migrate(src.addr_plain(), proxy.addr(), &state, &options)
        .await
        .unwrap();
    let error = &third
        .folders
        .iter()
        .find(|f| f.source == "INBOX")
        .unwrap()
        .errors[0];
    assert!(
        error.reason.contains("not tried again"),
        "a message refused twice is no longer retried: {error:?}"
    );
    assert_eq!(dst.fetch_all("alice", "INBOX").len(), 4);
}

/// A message whose lines read as IMAP commands, as a mail about IMAP (or a
/// hostile one) may.
fn commands_inside() -> Message {
    Message::new(
        b"From: x@example.net\r\nSubject: about IMAP\r\nMessage-ID: <imap@x>\r\n\r\n\
          zz CREATE Injected\r\nzz DELETE INBOX\r\nzz1 CREATE Injected1\r\n\
          zz2 DELETE INBOX\r\nzz3 CREATE Injected3\r\n"
            .to_vec(),
    )
    .flags(&["\\Flagged"])
}

/// A message that holds command lines (`zz CREATE Injected`, `zz DELETE
/// INBOX`) is never sent before the server's `+`, even where it offers
/// LITERAL+ and ordinary messages go at once: when the server refuses its
/// command line (here Dovecot answering BAD to a flag the proxy turns into
/// an unknown system flag; Microsoft does so for sizes and long lines), no
/// byte of it was sent, so none can run as a command. Sent at once, Dovecot
/// 2.3 would read its lines as commands after the BAD and create the
/// folder. The message is recorded as refused with the server's words; the
/// others are copied.
#[tokio::test]
async fn a_message_holding_commands_waits_for_the_go_ahead_and_a_refusal_runs_none_of_it() {
    let src = common::dovecot(Layout::Exchange);
    let mut msgs: Vec<Message> = (0..5).map(|i| mail(i * 3 + 2, "")).collect();
    msgs.insert(2, commands_inside());
    src.append("alice", "INBOX", &msgs);
    let dst = common::dovecot(Layout::Exchange);
    let proxy = Proxy::with_fault(
        dst.addr_plain(),
        Fault::rewrite(Direction::ToServer, "\\Flagged", "\\Poison"),
    );
    let (_dir, state) = common::state_file();
    let report = migrate(src.addr_plain(), proxy.addr(), &state, &Options::default())
        .await
        .unwrap();
    let folders = dst.list("alice");
    assert!(
        !folders.iter().any(|f| f.starts_with("Injected")),
        "a message's lines ran as commands: {folders:?}"
    );
    assert_eq!(
        (report.transferred(), report.failed()),
        (5, 1),
        "{report:#?}"
    );
    let inbox = report.folders.iter().find(|f| f.source == "INBOX").unwrap();
    let error = &inbox.errors[0];
    assert_eq!(error.subject.as_deref(), Some("about IMAP"));
    assert!(
        error.reason.contains("refused") && error.reason.contains("flag"),
        "the server's words: {error:?}"
    );
    let stored = dst.fetch_all("alice", "INBOX");
    assert_eq!(stored.len(), 5, "INBOX intact, with the five others");
    // The refusal is on record in the progress file, with its words.
    let st = State::open(&state, NOW).unwrap();
    let log = st.search_log("about IMAP", 10).unwrap();
    assert!(
        log.iter().any(|e| matches!(
            &e.fate,
            mailferry::state::Fate::Failed { server_text: Some(text), .. } if text.contains("flag")
        )),
        "{log:#?}"
    );
}

/// Ordinary messages go without waiting for the server's `+`; when the
/// server still refuses such a command (here Dovecot answering BAD to a
/// keyword the proxy turns into an unknown system flag), what it read
/// after its refusal is unknown: that connection is closed, the batch is
/// settled as in doubt on fresh connections, and its messages go again,
/// waiting for the `+`. Every message arrives once; the one whose keyword
/// the server refuses arrives without it.
#[tokio::test]
async fn a_refused_command_sent_at_once_closes_its_connection_and_the_batch_goes_again() {
    let src = common::dovecot(Layout::Exchange);
    let mut msgs: Vec<Message> = (0..8).map(|i| mail(i * 3 + 2, "")).collect();
    msgs[3] = mail(11, "").flags(&["$Poison"]);
    src.append("alice", "INBOX", &msgs);
    let dst = common::dovecot(Layout::Exchange);
    let proxy = Proxy::with_fault(
        dst.addr_plain(),
        Fault::rewrite(Direction::ToServer, "$Poison", "\\Poison"),
    );
    let (_dir, state) = common::state_file();
    let report = migrate(src.addr_plain(), proxy.addr(), &state, &Options::default())
        .await
        .unwrap();
    let inbox = report.folders.iter().find(|f| f.source == "INBOX").unwrap();
    assert_eq!((inbox.transferred, inbox.failed), (8, 0), "{report:#?}");
    assert_eq!(inbox.dropped_keywords, vec!["$Poison".to_owned()]);
    assert!(
        proxy.connections() >= 3,
        "the connection that saw the refusal was replaced: {}",
        proxy.connections()
    );
    let stored = dst.fetch_all("alice", "INBOX");
    assert_eq!(stored.len(), 8, "each once");
    let again = migrate(src.addr_plain(), proxy.addr(), &state, &Options::default())
        .await
        .unwrap();
    assert_eq!((again.transferred(), again.failed()), (0, 0), "{again:#?}");
    assert_eq!(dst.fetch_all("alice", "INBOX").len(), 8);
}

#[tokio::test]
async fn a_server_that_goes_silent_mid_message_is_replaced_after_the_timeout() {
    let src = exchange_source(&mails(0..6, ""));
    let dst = common::dovecot(Layout::Exchange);
    // The APPEND's bytes stop in the middle of the fourth message.
    let proxy = Proxy::start(dst.addr_plain());
    proxy.set_fault_once(Fault::StallAfterMatch {
        dir: Direction::ToServer,
        pattern: b"Subject: Message 3".to_vec(),
    });
    let (_dir, state) = common::state_file();
    let report = tokio::time::timeout(
        Duration::from_secs(60),
        migrate_with(
            src.addr_plain(),
            proxy.addr(),
            &state,
            &Options::default(),
            Duration::from_secs(2),
        ),
    )
    .await
    .expect("the run never hangs")
    .unwrap();
    assert_eq!(proxy.cuts(), 1, "the stall happened");
    assert!(
        proxy.connections() >= 2,
        "the silent connection was replaced"
    );
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert_same(&src, "INBOX", &dst, "INBOX");
}

#[tokio::test]
async fn a_recreated_destination_folder_gets_back_what_it_lost_and_nothing_twice() {
    let src = load_courier_source();
    let dst = common::dovecot(Layout::Exchange);
    let (_dir, state) = common::state_file();
    common::copy(&src, &dst, &state, &Options::default()).await;
    let acme = dst.fetch_all("alice", "Clients/Acme");
    assert_eq!(acme.len(), 20);

    // Someone deletes the folder at the destination and creates it again
    // (new UIDVALIDITY) with only half of the messages.
    let mut session = dst.session("alice");
    assert!(session.command("DELETE \"Clients/Acme\"").unwrap().is_ok());
    session.logout();
    dst.create_mailbox("alice", "Clients/Acme");
    let half: Vec<Message> = acme[..10].iter().map(common::again).collect();
    dst.append("alice", "Clients/Acme", &half);

    let report = common::copy(&src, &dst, &state, &Options::default()).await;
    assert_eq!(
        report.transferred(),
        10,
        "the lost half is copied again: {report:#?}"
    );
    assert_courier_copied(&src, &dst);
    let again = common::copy(&src, &dst, &state, &Options::default()).await;
    assert_eq!(again.transferred(), 0);
}

#[tokio::test]
async fn an_unchanged_folder_costs_almost_nothing_on_the_next_run() {
    let src = load_courier_source();
    let dst = common::dovecot(Layout::Exchange);
    let (_dir, state) = common::state_file();
    let proxy = Proxy::start(src.addr_plain());
    migrate(proxy.addr(), dst.addr_plain(), &state, &Options::default())
        .await
        .unwrap();
    let sent_first = src_bytes_out(&src);
    let report = migrate(proxy.addr(), dst.addr_plain(), &state, &Options::default())
        .await
        .unwrap();
    let sent_second = src_bytes_out(&src) - sent_first;
    assert_eq!(report.transferred(), 0);
    assert_eq!(report.already_there(), 81, "{report:#?}");
    // The first run read every message; the second only looked at each
    // folder's HIGHESTMODSEQ (and listed the folders).
    assert!(
        sent_second * 10 < sent_first,
        "second run read {sent_second} bytes, first {sent_first}"
    );

    // A change in one folder is still seen.
    src.append("alice", "INBOX.Sent", &[mail(500, " new")]);
    let report = migrate(proxy.addr(), dst.addr_plain(), &state, &Options::default())
        .await
        .unwrap();
    assert_eq!(report.transferred(), 1);
    assert_courier_copied(&src, &dst);
}

#[tokio::test]
async fn an_unchanged_mailbox_costs_the_same_round_trips_however_many_folders_it_has() {
    let src = load_courier_source();
    let dst = common::dovecot(Layout::Exchange);
    let (_dir, state) = common::state_file();
    let src_proxy = Proxy::start(src.addr_plain());
    let dst_proxy = Proxy::start(dst.addr_plain());
    let run = || async {
        migrate(
            src_proxy.addr(),
            dst_proxy.addr(),
            &state,
            &Options::default(),
        )
        .await
        .unwrap()
    };
    // Round trips at each server for a run that finds nothing to do.
    let unchanged_run = || async {
        let before = (src_proxy.round_trips(), dst_proxy.round_trips());
        let report = run().await;
        assert_eq!(report.transferred(), 0, "{report:#?}");
        assert_eq!(report.failed(), 0, "{report:#?}");
        (
            src_proxy.round_trips() - before.0,
            dst_proxy.round_trips() - before.1,
            report.folders.len(),
        )
    };
    run().await;
    let (src_few, dst_few, folders_few) = unchanged_run().await;
    // At each server: sign-in; capabilities and CONDSTORE; the hierarchy,
    // folders and subscriptions; every folder's STATUS; sign-out. One
    // flight each.
    assert_eq!(
        (src_few, dst_few),
        (5, 5),
        "round trips (source, destination) of an unchanged run"
    );

    // Six more folders, copied once: an unchanged run still looks at every
    // folder of both servers in one flight each, not one EXAMINE a folder.
    for i in 0..6 {
        let name = format!("INBOX.Extra{i}");
        src.create_mailbox("alice", &name);
        src.append("alice", &name, &[mail(200 + i, " extra")]);
    }
    assert_eq!(run().await.transferred(), 6);
    let (src_many, dst_many, folders_many) = unchanged_run().await;
    assert_eq!(folders_many, folders_few + 6);
    assert_eq!(
        (src_many, dst_many),
        (src_few, dst_few),
        "round trips (source, destination) with {folders_many} folders against {folders_few}"
    );
    assert_courier_copied(&src, &dst);
}

/// Over a long link each folder costs a handful of round trips (open,
/// list, fetch, append): folders are copied several at once, each over its
/// own pair of connections, so those round trips overlap — the full copy
/// and the delta (new mail and flag changes in every folder) alike. Shown
/// at the proxies: several connections of each server waited for an
/// answer at the same time, and never more connections were open than the
/// cap. With one connection allowed, one folder at a time.
#[tokio::test]
async fn folders_are_copied_several_at_once_within_the_connection_cap() {
    let src = common::dovecot(Layout::Exchange);
    let folders: Vec<String> = (0..8).map(|f| format!("Project{f}")).collect();
    for (f, name) in folders.iter().enumerate() {
        src.create_mailbox("alice", name);
        src.append("alice", name, &mails(f * 10..f * 10 + 6, ""));
    }
    let delay = || Fault::Delay(Duration::from_millis(15));
    let run = |src_port: &Proxy, dst_port: &Proxy, state: &std::path::Path, connections| {
        let options = Options {
            connections,
            ..Options::default()
        };
        let (src_addr, dst_addr, state) = (src_port.addr(), dst_port.addr(), state.to_owned());
        async move { migrate(src_addr, dst_addr, &state, &options).await.unwrap() }
    };
    for connections in [3, 1] {
        let dst = common::dovecot(Layout::Exchange);
        let (_dir, state) = common::state_file();
        let (src_proxy, dst_proxy) = (
            Proxy::with_fault(src.addr_plain(), delay()),
            Proxy::with_fault(dst.addr_plain(), delay()),
        );
        let at_source: usize = folders
            .iter()
            .map(|f| src.fetch_all("alice", f).len())
            .sum();
        let report = run(&src_proxy, &dst_proxy, &state, connections).await;
        assert_eq!(report.transferred() as usize, at_source, "{report:#?}");
        for name in &folders {
            assert_same(&src, name, &dst, name);
        }
        let at_once = (src_proxy.peak_waiting(), dst_proxy.peak_waiting());
        let open = (src_proxy.peak_connections(), dst_proxy.peak_connections());
        assert!(
            open.0 <= connections && open.1 <= connections,
            "connections open at once (source, destination): {open:?}, cap {connections}"
        );
        if connections == 1 {
            assert_eq!(at_once.0, 1, "one folder at a time at the source");
            continue;
        }
        assert!(
            at_once.0 >= 2 && at_once.1 >= 2,
            "connections waiting at once (source, destination): {at_once:?}"
        );

        // New mail and a flag change in every folder: the changed folders
        // are brought up to date several at once too.
        for (f, name) in folders.iter().enumerate() {
            src.append("alice", name, &mails(100 + f..101 + f, " new"));
            raw(&src, name, &["UID STORE 1 +FLAGS (\\Answered)"]);
        }
        let (src_proxy, dst_proxy) = (
            Proxy::with_fault(src.addr_plain(), delay()),
            Proxy::with_fault(dst.addr_plain(), delay()),
        );
        let report = run(&src_proxy, &dst_proxy, &state, connections).await;
        assert_eq!(report.transferred(), 8, "{report:#?}");
        assert_eq!(
            report.folders.iter().map(|f| f.flags_updated).sum::<u64>(),
            8,
            "{report:#?}"
        );
        for name in &folders {
            assert_same(&src, name, &dst, name);
        }
        let at_once = (src_proxy.peak_waiting(), dst_proxy.peak_waiting());
        assert!(
            at_once.0 >= 2 && at_once.1 >= 2,
            "delta: connections waiting at once (source, destination): {at_once:?}"
        );
        assert!(src_proxy.peak_connections() <= connections);
        assert!(dst_proxy.peak_connections() <= connections);
        // …and a run with nothing to do opens no folder, and no second
        // connection.
        let (src_proxy, dst_proxy) = (
            Proxy::start(src.addr_plain()),
            Proxy::start(dst.addr_plain()),
        );
        let report = run(&src_proxy, &dst_proxy, &state, connections).await;
        assert_eq!(report.transferred(), 0, "{report:#?}");
        assert_eq!((src_proxy.connections(), dst_proxy.connections()), (1, 1));
    }
}

/// Over a long link a copy's time is its round trips: the source opens a
/// folder and lists it in one flight — its first UIDs on a first copy,
/// what changed since the last clean pass on the next run (it cost two,
/// EXAMINE and then UID FETCH). Counted at the source's proxy against the
/// number of folders (one connection): each folder more costs two round
/// trips on a full copy (open and list, read the bodies) and two on a
/// delta (open and list what changed, read the new bodies).
#[tokio::test]
async fn a_source_folder_is_opened_and_listed_in_one_round_trip() {
    let round_trips = |folders: usize| async move {
        let src = common::dovecot(Layout::Exchange);
        let dst = common::dovecot(Layout::Exchange);
        let names: Vec<String> = (0..folders).map(|f| format!("Project{f}")).collect();
        for (f, name) in names.iter().enumerate() {
            src.create_mailbox("alice", name);
            src.append("alice", name, &mails(f * 10..f * 10 + 3, ""));
        }
        let (_dir, state) = common::state_file();
        let proxy = Proxy::start(src.addr_plain());
        let options = Options {
            connections: 1,
            ..Options::default()
        };
        let before = proxy.round_trips();
        let report = migrate(proxy.addr(), dst.addr_plain(), &state, &options)
            .await
            .unwrap();
        let full = proxy.round_trips() - before;
        assert_eq!(report.transferred() as usize, folders * 3, "{report:#?}");

        for (f, name) in names.iter().enumerate() {
            src.append("alice", name, &mails(100 + f..101 + f, " new"));
            raw(&src, name, &["UID STORE 1 +FLAGS (\\Answered)"]);
        }
        let before = proxy.round_trips();
        let report = migrate(proxy.addr(), dst.addr_plain(), &state, &options)
            .await
            .unwrap();
        let delta = proxy.round_trips() - before;
        assert_eq!(report.transferred() as usize, folders, "{report:#?}");
        assert_eq!(
            report.folders.iter().map(|f| f.flags_updated).sum::<u64>() as usize,
            folders,
            "{report:#?}"
        );
        for name in &names {
            assert_same(&src, name, &dst, name);
        }
        (full, delta)
    };
    let (full_two, delta_two) = round_trips(2).await;
    let (full_five, delta_five) = round_trips(5).await;
    assert_eq!(
        (full_five - full_two, delta_five - delta_two),
        (3 * 2, 3 * 2),
        "source round trips for three folders more (full copy, delta): \
         {full_two} → {full_five}, {delta_two} → {delta_five}"
    );
}

#[tokio::test]
async fn flag_and_keyword_changes_go_to_the_destination_in_one_flight() {
    let src = exchange_source(&mails(0..20, ""));
    let dst = common::dovecot(Layout::Exchange);
    let proxy = Proxy::start(dst.addr_plain());
    let (_dir, state) = common::state_file();
    let run = || async {
        let before = proxy.round_trips();
        let report = migrate(src.addr_plain(), proxy.addr(), &state, &Options::default())
            .await
            .unwrap();
        (report, proxy.round_trips() - before)
    };
    run().await;
    let (_, unchanged) = run().await;

    raw(
        &src,
        "INBOX",
        &[
            "UID STORE 3 +FLAGS (\\Flagged)",
            "UID STORE 5 +FLAGS ($Project)",
            "UID STORE 1 -FLAGS (\\Seen)",
        ],
    );
    let (report, changed) = run().await;
    assert_eq!(
        report.folders.iter().map(|f| f.flags_updated).sum::<u64>(),
        3,
        "{report:#?}"
    );
    assert_same(&src, "INBOX", &dst, "INBOX");
    // Beyond an unchanged run: the folder opened to write (at once: the
    // look before the run found the folder copied into; it was opened
    // read-only first, then again to write), and every change (a system
    // flag added and removed, a keyword) at once.
    assert_eq!(changed, unchanged + 2, "destination round trips");
}

#[tokio::test]
async fn new_mail_and_flag_changes_are_read_alone_and_a_removal_goes_the_long_way() {
    let src = exchange_source(&mails(0..300, &"x".repeat(2_000)));
    let dst = common::dovecot(Layout::Exchange);
    let (_dir, state) = common::state_file();
    common::copy(&src, &dst, &state, &Options::default()).await;

    // Two new messages and two flag changes: only those are read.
    src.append("alice", "INBOX", &[mail(300, " new"), mail(301, " new")]);
    raw(
        &src,
        "INBOX",
        &[
            "UID STORE 3 +FLAGS (\\Flagged)",
            "UID STORE 5 -FLAGS (\\Seen)",
        ],
    );
    let before = src_bytes_out(&src);
    let report = common::copy(&src, &dst, &state, &Options::default()).await;
    let read = src_bytes_out(&src) - before;
    assert_eq!(report.transferred(), 2, "{report:#?}");
    assert_eq!(report.already_there(), 300, "{report:#?}");
    let inbox = |r: &mailferry::run::Report| {
        r.folders
            .iter()
            .find(|f| f.source == "INBOX")
            .cloned()
            .unwrap()
    };
    assert_eq!(inbox(&report).messages, 302);
    assert_eq!(
        report.folders.iter().map(|f| f.flags_updated).sum::<u64>(),
        2,
        "{report:#?}"
    );
    // A full scan of identities would be 300 header blocks (~60 KB); the
    // delta is the 4 changed messages' headers and the 2 new ones' bodies.
    assert!(read < 30_000, "read {read} bytes from the source");
    assert_same(&src, "INBOX", &dst, "INBOX");

    // A message removed at the source (and one added, so the count alone
    // would not tell): the full comparison runs, and with delete2 removes it.
    raw(
        &src,
        "INBOX",
        &["UID STORE 10 +FLAGS (\\Deleted)", "UID EXPUNGE 10"],
    );
    src.append("alice", "INBOX", &[mail(302, " new")]);
    let report = common::copy(&src, &dst, &state, &common::with_delete2()).await;
    assert_eq!(report.transferred(), 1, "{report:#?}");
    assert_eq!(inbox(&report).removed, 1, "{report:#?}");
    assert_same(&src, "INBOX", &dst, "INBOX");

    // Someone else's message at the destination: the destination is read
    // again, so a source message that is already there is not doubled.
    let extra = mail(303, " both");
    dst.append("alice", "INBOX", std::slice::from_ref(&extra));
    src.append("alice", "INBOX", &[extra]);
    let report = common::copy(&src, &dst, &state, &Options::default()).await;
    assert_eq!(report.transferred(), 0, "{report:#?}");
    assert_same(&src, "INBOX", &dst, "INBOX");
}

/// Bytes the source server has sent to clients, from Dovecot's log of
/// finished sessions (`out=…`).
/// What the server has sent over all its finished sessions. Dovecot logs a
/// session's byte counts when its process ends, a moment after the client
/// left: wait (a few seconds at most) until every logged-in session has.
fn src_bytes_out(server: &Dovecot) -> u64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut log = server.log();
    while log.matches("Login: user=").count() > log.matches(" out=").count()
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
        log = server.log();
    }
    assert!(
        log.contains("Login: user="),
        "the server's log names its sessions"
    );
    log.lines()
        .filter_map(|l| l.split(" out=").nth(1))
        .filter_map(|rest| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

#[tokio::test]
async fn writes_spread_over_several_connections_without_exceeding_the_cap() {
    let src = common::dovecot(Layout::Exchange);
    // About 9 MB: large enough to be worth splitting (small batches go whole).
    let filler = format!("\r\n{}", "w".repeat(70)).repeat(2_000);
    src.append("alice", "INBOX", &mails(0..60, &filler));
    let dst = common::dovecot(Layout::Exchange);
    let proxy = Proxy::start(dst.addr_plain());
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        connections: 3,
        ..Options::default()
    };
    let report = migrate(
        src.addr_plain(),
        proxy.addr(),
        &dir.path().join("job.db"),
        &options,
    )
    .await
    .unwrap();
    assert_eq!(report.transferred(), 60);
    assert_same(&src, "INBOX", &dst, "INBOX");
    // At most 3 open at once (folders copied at once each hold one, and
    // give it back when done; extra writers take only free places).
    let opened = proxy.peak_connections();
    assert!(
        (2..=3).contains(&opened),
        "3 connections at most, and more than one used: {opened}"
    );
}

/// 40 new messages (`extra` in their bodies) arrive in INBOX after a first
/// copy, and a run with 3 connections brings them: the most destination
/// connections that run held at once. Every other folder is unchanged, so
/// only INBOX is opened: any connection beyond the first is an extra
/// writer.
async fn writers_for_new_mail(extra: &str) -> usize {
    let src = exchange_source(&mails(0..1, extra));
    let dst = common::dovecot(Layout::Exchange);
    let (_dir, state) = common::state_file();
    let options = Options {
        connections: 3,
        ..Options::default()
    };
    migrate(src.addr_plain(), dst.addr_plain(), &state, &options)
        .await
        .unwrap();
    src.append("alice", "INBOX", &mails(1..41, extra));
    let proxy = Proxy::start(dst.addr_plain());
    let report = migrate(src.addr_plain(), proxy.addr(), &state, &options)
        .await
        .unwrap();
    assert_eq!(report.transferred(), 40, "{report:#?}");
    assert_same(&src, "INBOX", &dst, "INBOX");
    proxy.peak_connections()
}

#[tokio::test]
async fn many_small_messages_are_written_over_several_connections() {
    // Few bytes, but each message waits a round trip for the server's `+`
    // (a line of it reads as a command that changes something): over a
    // long link that is what a connection more saves. At most 3 open at
    // once (extra writers take only free places).
    let opened = writers_for_new_mail("\r\nzz COPY 1:* Archive").await;
    assert!(
        (2..=3).contains(&opened),
        "3 connections at most, and more than one used: {opened}"
    );
}

/// Messages that go without waiting for the server's `+` gain nothing from
/// another connection, which costs a sign-in (issue 19: over a 50 ms link
/// a delta's 21 new messages opened one at the end, a third of a second).
#[tokio::test]
async fn messages_sent_without_waiting_open_no_extra_connection() {
    assert_eq!(
        writers_for_new_mail("").await,
        1,
        "one folder, one connection"
    );
}

#[tokio::test]
async fn a_stop_request_ends_the_run_after_the_batch_in_flight_and_the_next_run_finishes() {
    use mailferry::event::Event;
    let src = exchange_source(&mails(0..12, ""));
    let dst = common::dovecot(Layout::Exchange);
    let (_dir, state) = common::state_file();

    let mut job = common::open_job(src.addr_plain(), dst.addr_plain(), &state).await;
    let options = Options {
        batch_messages: 4,
        connections: 1,
        ..Options::default()
    };
    let cancel = options.cancel.clone();
    let mut sink = |event: Event| {
        if matches!(event, Event::MessagesCopied { .. }) {
            cancel.cancel(); // the user presses Pause during the first batch
        }
    };
    let report = job.run(&options, &|| NOW, &mut sink).await.unwrap();
    job.close().await;
    assert_eq!(
        report.transferred(),
        4,
        "the batch in flight is finished and recorded: {report:#?}"
    );
    assert_eq!(report.stopped.as_deref(), Some(mailferry::run::STOPPED));
    assert_eq!(report.exit_code(), 1);
    assert_eq!(dst.fetch_all("alice", "INBOX").len(), 4);

    let rest = common::copy(&src, &dst, &state, &Options::default()).await;
    assert_eq!(rest.transferred(), 8);
    assert_same(&src, "INBOX", &dst, "INBOX");
}

/// Folders copied at once start with the biggest (by the look before the
/// run), so a run never ends waiting on one big folder that started last
/// (issue 19: over a 50 ms link the delta's INBOX, a third of the new
/// mail, was the last folder opened).
#[tokio::test]
async fn the_biggest_changed_folder_is_opened_first() {
    use mailferry::event::Event;
    let src = common::dovecot(Layout::Exchange);
    let small = ["Archive", "Projects", "Receipts", "Travel", "Zeta"];
    for (n, folder) in small.iter().enumerate() {
        src.create_mailbox("alice", folder);
        src.append("alice", folder, &mails(n * 10..n * 10 + 2, ""));
    }
    src.append("alice", "INBOX", &mails(100..130, ""));
    let dst = common::dovecot(Layout::Exchange);
    let (_dir, state) = common::state_file();
    let options = Options {
        connections: 2,
        ..Options::default()
    };
    common::copy(&src, &dst, &state, &options).await;
    for (n, folder) in small.iter().enumerate() {
        src.append("alice", folder, &mails(n * 10 + 5..n * 10 + 6, ""));
    }
    src.append("alice", "INBOX", &mails(200..201, ""));
    let mut job = common::open_job(src.addr_plain(), dst.addr_plain(), &state).await;
    let mut scanned = Vec::new();
    let mut sink = |event: Event| {
        if let Event::FolderScanned { folder, .. } = event {
            scanned.push(folder);
        }
    };
    let report = job.run(&options, &|| NOW, &mut sink).await.unwrap();
    job.close().await;
    assert_eq!(report.transferred(), 6, "{report:#?}");
    assert!(
        scanned[..2].contains(&"INBOX".to_owned()),
        "INBOX among the first two opened: {scanned:?}"
    );
}
