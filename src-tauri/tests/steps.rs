//! The wizard's scan, folder-map edits and staged copy against real Dovecot
//! servers (harness), through the shell's own functions.

use mailferry::endpoint::{Credentials, Endpoint, Security};
use mailferry::preset::chosen;
use mailferry_desktop::accounts::Account;
use mailferry_desktop::commands::folder_map::{map_view, FolderEdits};
use mailferry_desktop::commands::report::{
    mail_report_of, render_html, render_text, utc_words, Header,
};
use mailferry_desktop::commands::scan::{scan_account, scan_in_chunks};
use mailferry_desktop::commands::verify::{verify_run, Verification};
use mailferry_desktop::runs::{RunState, Runs};
use mailferry_harness::{Direction, Dovecot, Fault, Layout, Message, Proxy};
use std::time::{Duration, Instant};

fn account(server: &Dovecot) -> Account {
    Account {
        endpoint: Endpoint::new("127.0.0.1")
            .with_security(Security::Plain)
            .with_port(server.plain_port()),
        credentials: Credentials::password("alice", "alicepass"),
    }
}

/// A message of about `size` bytes with this subject.
fn message(subject: &str, size: usize) -> Message {
    let head = format!(
        "From: Customer <customer@example.net>\r\nTo: alice@example.com\r\nSubject: {subject}\r\n\
         Message-ID: <{}@example.net>\r\nDate: Tue, 05 Mar 2024 10:00:00 +0100\r\n\r\n",
        subject.replace(' ', ".")
    );
    let body = "x".repeat(size.saturating_sub(head.len() + 2));
    Message::new(format!("{head}{body}\r\n"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn scan_counts_folders_finds_the_largest_messages_and_estimates_at_the_limits() {
    let source = Dovecot::start(Layout::Gmail);
    source.create_mailbox("alice", "Receipts");
    source.append(
        "alice",
        "INBOX",
        &[
            message("Hello", 1_000),
            message("Big plan", 9_000),
            message("Hi", 800),
        ],
    );
    source.append("alice", "Receipts", &[message("Invoice scan", 20_000)]);
    source.append("alice", "[Gmail]/All Mail", &[message("Hello", 1_000)]);
    let gmail = chosen(Some("gmail"), "127.0.0.1");
    let mut small = chosen(Some("microsoft"), "127.0.0.1");
    assert_eq!(
        small.max_connections, 16,
        "the tile's id is the engine's preset"
    );
    small.max_message_bytes = Some(10_000);
    let scan = runtime()
        .block_on(scan_account(&account(&source), &gmail, &small))
        .unwrap();
    assert_eq!(scan.messages, 5);
    assert_eq!(scan.folders[0].folder, "Receipts", "largest folder first");
    assert_eq!(scan.folders[0].messages, 1);
    let inbox = scan.folders.iter().find(|f| f.folder == "INBOX").unwrap();
    assert_eq!(inbox.messages, 3);
    assert_eq!(
        scan.bytes,
        scan.folders.iter().map(|f| f.bytes).sum::<u64>()
    );
    let biggest: Vec<_> = scan
        .largest_messages
        .iter()
        .map(|m| {
            (
                m.folder.as_str(),
                m.subject.as_deref().unwrap(),
                m.too_large,
            )
        })
        .collect();
    assert_eq!(
        &biggest[..2],
        [
            ("Receipts", "Invoice scan", true),
            ("INBOX", "Big plan", false)
        ]
    );
    assert_eq!(scan.largest_messages.len(), 5);
    assert!(scan
        .largest_messages
        .windows(2)
        .all(|w| w[0].bytes >= w[1].bytes));
    assert!(!scan.whale);
    assert_eq!(scan.max_message_bytes, Some(10_000));
    assert_eq!(
        scan.estimate.seconds, 5,
        "5 messages at Microsoft's 3,600 an hour"
    );
    assert_eq!(scan.estimate.words, "Less than a minute.");
    assert_eq!(
        scan.estimate.limited_by,
        "Microsoft 365 accepts about 3,600 messages an hour"
    );
    // Read two UIDs at a time, across a gap left by a deleted message: the same scan.
    source.append(
        "alice",
        "INBOX",
        &[message("Gone soon", 500), message("Last", 700)],
    );
    let mut s = source.session("alice");
    assert!(s.command("SELECT INBOX").unwrap().is_ok());
    assert!(s.command("UID STORE 4 +FLAGS (\\Deleted)").unwrap().is_ok());
    assert!(s.command("EXPUNGE").unwrap().is_ok());
    s.logout();
    let whole = runtime()
        .block_on(scan_account(&account(&source), &gmail, &small))
        .unwrap();
    let chunked = runtime()
        .block_on(scan_in_chunks(&account(&source), &gmail, &small, 2))
        .unwrap();
    assert_eq!(whole, chunked);
    assert_eq!(whole.messages, 6);
    assert_eq!(whole.bytes, scan.bytes + 700);
}

fn wait_for(runs_view: &tokio::sync::watch::Sender<mailferry_desktop::runs::RunView>) -> RunState {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let state = runs_view.borrow().state;
        if state.is_stopped() {
            return state;
        }
        assert!(Instant::now() < deadline, "the copy did not end");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn folder_edits_reach_the_run_and_the_large_message_pass_brings_what_the_first_stage_left() {
    let source = Dovecot::start(Layout::Gmail);
    let dest = Dovecot::start(Layout::Exchange);
    for folder in ["Receipts", "Clients", "Clients/Acme"] {
        source.create_mailbox("alice", folder);
    }
    source.append(
        "alice",
        "INBOX",
        &[message("Small one", 1_000), message("Huge one", 30_000)],
    );
    source.append("alice", "Receipts", &[message("Order 1", 1_000)]);
    source.append("alice", "Clients", &[message("Client note", 1_000)]);
    source.append("alice", "Clients/Acme", &[message("Acme note", 1_000)]);
    source.append("alice", "[Gmail]/Spam", &[message("Spam we want", 1_000)]);
    let edits = FolderEdits {
        renames: vec![["Receipts".into(), "Old receipts".into()]],
        excluded: vec!["Clients".into()],
        included: vec!["[Gmail]/Spam".into()],
        merge: false,
    };
    let view = runtime()
        .block_on(map_view(&account(&source), &account(&dest), &edits))
        .unwrap();
    let row = |name: &str| view.rows.iter().find(|r| r.source == name).unwrap().clone();
    assert_eq!(
        (row("Clients/Acme").depth, row("Clients/Acme").target_depth),
        (1, 1)
    );
    assert_eq!(row("Receipts").target.as_deref(), Some("Old receipts"));
    assert_eq!(row("Clients").target, None, "left out");
    assert_eq!(
        (
            row("[Gmail]/Spam").depth,
            row("[Gmail]/Spam").target.as_deref()
        ),
        (1, Some("Spam"))
    );
    assert_eq!(row("[Gmail]/Spam").target_depth, 0);

    let dir = tempfile::tempdir().unwrap();
    let runs = Runs::default();
    let run = runs.create(account(&source), account(&dest), dir.path().join("job.db"));
    *run.rules.lock().unwrap() = edits.into_rules().unwrap();
    // Stage 1: the bulk copy leaves messages over 10 kB for their own pass.
    *run.skip_larger_than.lock().unwrap() = Some(10_000);
    run.start().unwrap();
    assert_eq!(
        wait_for(&run.view),
        RunState::Finished,
        "{:?}",
        run.view.borrow().error
    );
    let subjects = |folder: &str| -> Vec<String> {
        dest.fetch_all("alice", folder)
            .iter()
            .map(|m| {
                let text = String::from_utf8_lossy(&m.body).to_string();
                text.lines()
                    .find_map(|l| l.strip_prefix("Subject: "))
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(
        subjects("INBOX"),
        ["Small one"],
        "the large message waits for its pass"
    );
    assert_eq!(subjects("Old receipts"), ["Order 1"], "renamed");
    assert_eq!(
        subjects("Spam"),
        ["Spam we want"],
        "a skipped folder brought back"
    );
    assert_eq!(
        subjects("Clients/Acme"),
        ["Acme note"],
        "a left-out folder's subfolder is still copied"
    );
    assert!(
        subjects("Clients").is_empty(),
        "the left-out folder is created empty, to hold Acme"
    );
    let listed = dest.list("alice");
    assert!(!listed.iter().any(|f| f == "Receipts"), "{listed:?}");
    // Not safe to switch while a big message waits for its pass.
    let v = runtime().block_on(verify_run(run.clone())).unwrap();
    assert!(!v.safe_to_switch);
    let waiting: Vec<_> = v.missing.iter().filter(|m| !m.explained).collect();
    assert_eq!(waiting.len(), 1, "{:?}", v.missing);
    assert_eq!(waiting[0].subject.as_deref(), Some("Huge one"));
    assert!(
        waiting[0].reason.contains("large-message pass"),
        "{}",
        waiting[0].reason
    );
    // Stage 2: the large-message pass, same job, no size limit.
    *run.skip_larger_than.lock().unwrap() = None;
    run.start().unwrap();
    assert_eq!(wait_for(&run.view), RunState::Finished);
    let mut inbox = subjects("INBOX");
    inbox.sort();
    assert_eq!(inbox, ["Huge one", "Small one"], "nothing doubled");
    assert_eq!(subjects("Old receipts"), ["Order 1"]);

    // The check audits the map the copy used, and the report says so.
    let v = runtime().block_on(verify_run(run.clone())).unwrap();
    assert!(v.safe_to_switch, "{v:?}");
    let receipts = v.folders.iter().find(|f| f.source == "Receipts").unwrap();
    assert_eq!(
        (
            receipts.destination.as_str(),
            receipts.source_count,
            receipts.destination_count
        ),
        ("Old receipts", 1, 1)
    );
    assert!(v
        .folders
        .iter()
        .any(|f| f.source == "[Gmail]/Spam" && f.destination == "Spam"));
    assert!(
        v.excluded_folders.iter().any(|[f, _]| f == "Clients"),
        "{:?}",
        v.excluded_folders
    );
    let spot = v
        .spot_check
        .as_ref()
        .expect("the check does the spot check");
    assert!(spot.passed, "{spot:#?}");
    assert!(
        spot.checks.iter().any(|c| c.said
            == "The deepest folder, Clients/Acme, is at the new server with the same 1 message."),
        "{spot:#?}"
    );
    assert_eq!(
        run.audit.lock().unwrap().as_ref().map(|a| {
            Verification::from(a).with_spot_check(run.spot.lock().unwrap().clone().unwrap())
        }),
        Some(v.clone()),
        "kept for the report"
    );
    let header = Header {
        from: "alice at 127.0.0.1".into(),
        to: "alice at 127.0.0.1".into(),
        when: utc_words(0),
        others: vec!["printer@example.com: left where it is: not moved, not kept".into()],
    };
    for report in [render_text(&header, &v), render_html(&header, &v)] {
        assert!(
            report.contains("Receipts -&gt; Old receipts: 1 at the old server, 1 at the new")
                || report.contains("Receipts -> Old receipts: 1 at the old server, 1 at the new"),
            "{report}"
        );
        assert!(report.contains("Safe to switch your domain"));
        assert!(report.contains("Spot check"), "{report}");
        assert!(!report.contains("alicepass"), "no password in a report");
        assert!(
            report.contains("printer@example.com: left where it is"),
            "a mailbox left is listed: {report}"
        );
    }

    // The report in the new INBOX, unread, with the verdict and the counts.
    let before = dest.fetch_all("alice", "INBOX").len();
    runtime()
        .block_on(mail_report_of(
            &run,
            vec!["printer@example.com: left where it is: not moved, not kept".into()],
        ))
        .unwrap();
    let inbox = dest.fetch_all("alice", "INBOX");
    assert_eq!(inbox.len(), before + 1, "one message added");
    let report = inbox
        .iter()
        .find(|m| text_of(&m.body).contains("MailFerry report"))
        .expect("the report is in the new INBOX");
    assert!(
        !report.flags.iter().any(|f| f == "\\Seen"),
        "unread: {:?}",
        report.flags
    );
    let raw = text_of(&report.body);
    assert!(
        raw.contains("Subject: Your mail move: safe to switch (MailFerry report)"),
        "{raw}"
    );
    let plain = plain_part(&raw);
    assert!(
        plain.contains("Receipts -> Old receipts: 1 at the old server, 1 at the new"),
        "{plain}"
    );
    assert!(
        plain.contains("The domain's other mailboxes"),
        "the mailboxes left are in the mailed report too: {plain}"
    );
    assert!(!raw.contains("alicepass") && !plain.contains("alicepass"));
}

fn text_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The text part of a report message, decoded.
fn plain_part(raw: &str) -> String {
    use base64::Engine as _;
    let part = raw
        .split("Content-Type: text/plain; charset=utf-8")
        .nth(1)
        .unwrap();
    let body = part.split("\r\n\r\n").nth(1).unwrap();
    let encoded: String = body
        .split("\r\n")
        .take_while(|l| !l.starts_with("--"))
        .collect();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn a_lost_connection_shows_as_a_wait_with_its_end_then_the_copy_finishes() {
    let source = Dovecot::start(Layout::Gmail);
    let dest = Dovecot::start(Layout::Exchange);
    source.append(
        "alice",
        "INBOX",
        &(0..5)
            .map(|i| message(&format!("Note {i}"), 2_000))
            .collect::<Vec<_>>(),
    );
    let proxy = Proxy::start(source.addr_plain());
    proxy.set_fault_once(Fault::cut_after_match(Direction::ToClient, "BODY[] {"));
    let mut through_proxy = account(&source);
    through_proxy.endpoint = through_proxy.endpoint.with_port(proxy.port());
    let dir = tempfile::tempdir().unwrap();
    let runs = Runs::default();
    let run = runs.create(through_proxy, account(&dest), dir.path().join("job.db"));
    run.start().unwrap();
    // Watch the view while the engine waits before reconnecting.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen_wait = None;
    while !run.view.borrow().state.is_stopped() {
        let view = run.view.borrow().clone();
        if let (Some(until), Some(why)) = (view.waiting_until_ms, view.waiting_reason) {
            seen_wait.get_or_insert((until, why));
        }
        assert!(Instant::now() < deadline, "the copy did not end");
        std::thread::sleep(Duration::from_millis(20));
    }
    let view = run.view.borrow().clone();
    assert_eq!(view.state, RunState::Finished, "{:?}", view.error);
    let (until, why) = seen_wait.expect("the wait showed in the view");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        until > now_ms - 60_000 && until < now_ms + 60_000,
        "a time of day: {until}"
    );
    assert!(!why.is_empty());
    assert!(
        view.recent
            .iter()
            .any(|e| matches!(e, mailferry::event::Event::Throttled { .. })),
        "the engine's event"
    );
    assert_eq!(
        (view.waiting_until_ms, view.waiting_reason),
        (None, None),
        "the wait is over"
    );
    assert_eq!(
        dest.fetch_all("alice", "INBOX").len(),
        5,
        "nothing lost or doubled"
    );
    assert!(proxy.cuts() >= 1);
}

#[test]
fn two_folders_renamed_onto_one_are_a_question_until_the_user_merges_them() {
    let source = Dovecot::start(Layout::Gmail);
    let dest = Dovecot::start(Layout::Exchange);
    for (folder, subject) in [("Invoices", "Invoice 1"), ("Receipts", "Receipt 1")] {
        source.create_mailbox("alice", folder);
        source.append("alice", folder, &[message(subject, 1_000)]);
    }
    let mut edits = FolderEdits {
        renames: vec![
            ["Invoices".into(), "Paperwork".into()],
            ["Receipts".into(), "Paperwork".into()],
        ],
        ..FolderEdits::default()
    };
    // The map the window shows: both rows flagged, merging offered.
    let view = runtime()
        .block_on(map_view(&account(&source), &account(&dest), &edits))
        .unwrap();
    assert_eq!(view.decisions_needed, 1);
    assert!(view.can_merge);
    let mut flagged: Vec<_> = view
        .rows
        .iter()
        .filter(|r| r.conflict)
        .map(|r| r.source.as_str())
        .collect();
    flagged.sort();
    assert_eq!(flagged, ["Invoices", "Receipts"]);
    assert!(
        view.conflicts[0].contains("Paperwork"),
        "{:?}",
        view.conflicts
    );
    let merged = FolderEdits {
        merge: true,
        ..edits.clone()
    };
    let view = runtime()
        .block_on(map_view(&account(&source), &account(&dest), &merged))
        .unwrap();
    assert_eq!((view.decisions_needed, view.can_merge), (0, false));
    assert!(view.rows.iter().all(|r| !r.conflict));

    let dir = tempfile::tempdir().unwrap();
    let runs = Runs::default();
    let run = runs.create(account(&source), account(&dest), dir.path().join("job.db"));
    *run.rules.lock().unwrap() = edits.clone().into_rules().unwrap();
    run.start().unwrap();
    // The question holds back only its two folders, said on the copy
    // screen; everything else copies.
    assert_eq!(wait_for(&run.view), RunState::Finished);
    let mut held: Vec<String> = run
        .view
        .borrow()
        .refused
        .iter()
        .filter(|r| r.reason.contains("until you decide"))
        .map(|r| r.folder.clone())
        .collect();
    held.sort();
    assert_eq!(held, ["Invoices", "Receipts"]);
    assert!(
        !dest.list("alice").iter().any(|f| f == "Paperwork"),
        "nothing created for them"
    );
    edits.merge = true;
    *run.rules.lock().unwrap() = edits.into_rules().unwrap();
    run.start().unwrap();
    assert_eq!(
        wait_for(&run.view),
        RunState::Finished,
        "{:?}",
        run.view.borrow().error
    );
    assert_eq!(
        dest.fetch_all("alice", "Paperwork").len(),
        2,
        "both folders, merged"
    );
}

/// A folder the old server deleted and created again with other mail waits
/// on the copy screen, marked so the window offers to copy it anyway; once
/// the user says so, the copy goes on with it.
#[test]
fn a_renumbered_folder_waits_for_the_user_then_copies() {
    let source = Dovecot::start(Layout::Gmail);
    let dest = Dovecot::start(Layout::Exchange);
    source.create_mailbox("alice", "Projects");
    let mail = |what: &str| -> Vec<Message> {
        (0..5)
            .map(|i| message(&format!("{what} {i}"), 1_000))
            .collect()
    };
    source.append("alice", "Projects", &mail("Old"));
    let dir = tempfile::tempdir().unwrap();
    let runs = Runs::default();
    let run = runs.create(account(&source), account(&dest), dir.path().join("job.db"));
    run.start().unwrap();
    assert_eq!(wait_for(&run.view), RunState::Finished);

    let mut session = source.session("alice");
    assert!(session.command("DELETE \"Projects\"").unwrap().is_ok());
    session.logout();
    source.create_mailbox("alice", "Projects");
    source.append("alice", "Projects", &mail("New"));
    run.start().unwrap();
    assert_eq!(wait_for(&run.view), RunState::Finished);
    let refused = run.view.borrow().refused.clone();
    assert!(
        refused
            .iter()
            .any(|r| r.folder == "Projects" && r.renumbered && r.reason.contains("renumbered")),
        "{refused:?}"
    );
    assert_eq!(dest.fetch_all("alice", "Projects").len(), 5, "held back");

    run.accept_renumbered("Projects".into());
    run.start().unwrap();
    assert_eq!(
        wait_for(&run.view),
        RunState::Finished,
        "{:?}",
        run.view.borrow().error
    );
    assert!(run.view.borrow().refused.is_empty());
    assert_eq!(
        dest.fetch_all("alice", "Projects").len(),
        10,
        "the earlier copies and the new mail"
    );
}
