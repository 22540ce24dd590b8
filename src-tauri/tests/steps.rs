//! The wizard's scan, folder-map edits and staged copy against real Dovecot
//! servers (harness), through the shell's own functions.

use mailferry::endpoint::{Credentials, Endpoint, Security};
use mailferry_desktop::accounts::Account;
use mailferry_desktop::commands::folder_map::FolderEdits;
use mailferry_desktop::commands::scan::{engine_preset, scan_account};
use mailferry_desktop::runs::{RunState, Runs};
use mailferry_harness::{Dovecot, Layout, Message};
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
    let gmail = engine_preset(Some("gmail"), "127.0.0.1");
    let mut small = engine_preset(Some("microsoft"), "127.0.0.1");
    assert_eq!(
        small.id, "microsoft365",
        "the tiles' id is mapped to the engine's"
    );
    small.max_message_bytes = Some(10_000);
    let scan = runtime()
        .block_on(scan_account(&account(&source), &gmail, &small))
        .unwrap();
    assert_eq!(scan.messages, 5);
    assert_eq!(scan.folders[0].name, "Receipts", "largest folder first");
    assert_eq!(scan.folders[0].messages, 1);
    let inbox = scan.folders.iter().find(|f| f.name == "INBOX").unwrap();
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
    };
    let dir = tempfile::tempdir().unwrap();
    let runs = Runs::default();
    let run = runs.create(account(&source), account(&dest), dir.path().join("job.db"));
    *run.edits.lock().unwrap() = edits;
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
    // Stage 2: the large-message pass, same job, no size limit.
    *run.skip_larger_than.lock().unwrap() = None;
    run.start().unwrap();
    assert_eq!(wait_for(&run.view), RunState::Finished);
    let mut inbox = subjects("INBOX");
    inbox.sort();
    assert_eq!(inbox, ["Huge one", "Small one"], "nothing doubled");
    assert_eq!(subjects("Old receipts"), ["Order 1"]);
}
