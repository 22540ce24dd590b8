//! The spot check against real servers: it passes on a clean copy and
//! names the exact message when the newest one is not at the new server,
//! or when the starred one arrived without its star.

use crate::common::{migrate, run_both, text};
use mailferry::folder::Rules;
use mailferry::job::{Job, ProgressFile};
use mailferry::run::Options;
use mailferry::spot::{Outcome, SpotCheck, SpotKind};
use mailferry_harness::{Dovecot, Layout, Message};

fn mail(tag: &str, i: usize, day: usize) -> Message {
    Message::new(
        format!(
            "From: Sender {i} <s{i}@example.net>\r\nTo: alice@example.com\r\nSubject: {tag} {i}\r\n\
             Date: Mon, {day} Mar 2024 10:{:02}:00 +0100\r\nMessage-ID: <{tag}-{i}@example.net>\r\n\r\nBody {i}.\r\n",
            i % 60
        )
        .into_bytes(),
    )
    .internal_date(&format!("{day:02}-Mar-2024 09:00:00 +0000"))
}

/// An old server laid out like cPanel hosting (`INBOX.Sent`, dots), with
/// a folder three levels down and one starred message; an empty new server
/// laid out like Exchange (`Sent Items`, slashes).
fn servers() -> (Dovecot, Dovecot) {
    let src = Dovecot::builder()
        .layout(Layout::Courier)
        .fsync(false)
        .build();
    let dst = Dovecot::builder()
        .layout(Layout::Exchange)
        .fsync(false)
        .build();
    let mut inbox: Vec<Message> = (0..5).map(|i| mail("Inbox", i, 1 + i)).collect();
    inbox[2] = mail("Inbox", 2, 3).flags(&["\\Flagged", "\\Seen"]);
    src.append("alice", "INBOX", &inbox);
    src.append(
        "alice",
        "INBOX.Sent",
        &(10..14).map(|i| mail("Sent", i, i)).collect::<Vec<_>>(),
    );
    src.create_mailbox("alice", "INBOX.Clients.2024.Smith");
    src.append(
        "alice",
        "INBOX.Clients.2024.Smith",
        &(20..23).map(|i| mail("Smith", i, 5)).collect::<Vec<_>>(),
    );
    (src, dst)
}

async fn spot(src: &Dovecot, dst: &Dovecot, state: &std::path::Path) -> SpotCheck {
    let mut job = Job::open(
        crate::common::connect(src.addr_plain()).await,
        crate::common::connect(dst.addr_plain()).await,
        &Rules::default(),
        ProgressFile::at(state),
    )
    .await
    .unwrap();
    let spot = job.spot_check().await.unwrap();
    job.close().await;
    spot
}

fn check(spot: &SpotCheck, kind: SpotKind) -> &mailferry::spot::Spot {
    spot.checks
        .iter()
        .find(|c| c.kind == kind)
        .expect("all four checks are there")
}

#[tokio::test]
async fn a_clean_copy_passes_all_four_checks_with_real_dates_and_subjects() {
    let (src, dst) = servers();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("job.db");
    migrate(
        src.addr_plain(),
        dst.addr_plain(),
        &state,
        &Options::default(),
    )
    .await
    .unwrap();
    let spot = spot(&src, &dst, &state).await;
    assert!(spot.passed, "{spot:#?}");
    assert_eq!(spot.checks.len(), 4);
    assert!(spot.checks.iter().all(|c| c.outcome == Outcome::Passed));

    let sent = check(&spot, SpotKind::Sent);
    assert_eq!(
        sent.said,
        "The Sent folder holds the same 4 sent messages on both servers, from 10 Mar 2024, \
         10:10 to 13 Mar 2024, 10:13."
    );
    assert_eq!(sent.rows[0].old, "INBOX.Sent");
    assert_eq!(
        sent.rows[0].new, "Sent Items",
        "found by its role, not its name"
    );

    let deepest = check(&spot, SpotKind::DeepestFolder);
    assert_eq!(
        deepest.said,
        "The deepest folder, INBOX.Clients.2024.Smith, is at the new server with the same 3 \
         messages."
    );
    assert_eq!(deepest.rows[0].new, "Clients/2024/Smith");

    // Sent 13 arrived last (13 March) of everything at the old server.
    let newest = check(&spot, SpotKind::Newest);
    assert_eq!(
        newest.message.as_ref().unwrap().subject.as_deref(),
        Some("Sent 13")
    );
    let starred = check(&spot, SpotKind::Starred);
    assert_eq!(
        starred.said,
        "The starred message \"Inbox 2\" from Sender 2 <s2@example.net> (3 Mar 2024, 10:02) \
         is starred at the new server too."
    );
}

#[tokio::test]
async fn the_newest_message_missing_at_the_new_server_is_named() {
    let (src, dst) = servers();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("job.db");
    migrate(
        src.addr_plain(),
        dst.addr_plain(),
        &state,
        &Options::default(),
    )
    .await
    .unwrap();
    // Mail arrives at the old server after the copy.
    src.append(
        "alice",
        "INBOX",
        &[Message::new(
            b"From: Carol <carol@example.org>\r\nSubject: Late order\r\n\
              Date: Fri, 20 Nov 2026 14:02:00 +0000\r\nMessage-ID: <late@example.org>\r\n\r\nHi.\r\n"
                .to_vec(),
        )
        .internal_date("20-Nov-2026 14:02:30 +0000")],
    );
    let spot = spot(&src, &dst, &state).await;
    assert!(!spot.passed, "{spot:#?}");
    let newest = check(&spot, SpotKind::Newest);
    assert_eq!(newest.outcome, Outcome::Failed);
    assert_eq!(
        newest.said,
        "The newest message at the old server, \"Late order\" from Carol <carol@example.org> \
         (20 Nov 2026, 14:02), is not at the new server (looked in INBOX)."
    );
    assert_eq!(newest.rows[1].old, "Late order");
    assert_eq!(newest.rows[1].new, "not there");
    // The other checks still pass: only the newest message is missing.
    for kind in [SpotKind::Sent, SpotKind::DeepestFolder, SpotKind::Starred] {
        assert_eq!(check(&spot, kind).outcome, Outcome::Passed, "{kind:?}");
    }
}

#[tokio::test]
async fn a_starred_message_without_its_star_at_the_new_server_is_named() {
    let (src, dst) = servers();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("job.db");
    migrate(
        src.addr_plain(),
        dst.addr_plain(),
        &state,
        &Options::default(),
    )
    .await
    .unwrap();
    // Someone un-stars it at the new server.
    let uid = dst
        .fetch_all("alice", "INBOX")
        .iter()
        .find(|m| String::from_utf8_lossy(&m.body).contains("Subject: Inbox 2\r"))
        .expect("copied")
        .uid;
    let mut session = dst.session("alice");
    assert!(session.command("SELECT INBOX").unwrap().is_ok());
    let reply = session
        .command(&format!("UID STORE {uid} -FLAGS (\\Flagged)"))
        .unwrap();
    assert!(reply.is_ok(), "{reply:?}");
    session.logout();

    let spot = spot(&src, &dst, &state).await;
    assert!(!spot.passed);
    let starred = check(&spot, SpotKind::Starred);
    assert_eq!(starred.outcome, Outcome::Failed, "{starred:#?}");
    assert_eq!(
        starred.said,
        "The starred message \"Inbox 2\" from Sender 2 <s2@example.net> (3 Mar 2024, 10:02) \
         is at the new server in INBOX, but it is not starred there."
    );
    let star_row = starred.rows.last().unwrap();
    assert_eq!(
        (star_row.old.as_str(), star_row.new.as_str()),
        ("yes", "no")
    );

    // The command line says the same, and exits 1.
    let out = run_both("verify", &src, &dst, &state, &["--spot-check"], &[]);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("Spot check"), "{said}");
    assert!(
        said.contains("\"Inbox 2\" from Sender 2 <s2@example.net> (3 Mar 2024, 10:02) is at the new server in INBOX, but it is not starred there."),
        "{said}"
    );
}

#[test]
fn verify_spot_check_prints_the_four_checks_side_by_side() {
    let (src, dst) = servers();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("job.db");
    let sync = run_both("sync", &src, &dst, &state, &[], &[]);
    assert_eq!(sync.status.code(), Some(0), "{}", text(&sync.stdout));

    let out = run_both("verify", &src, &dst, &state, &["--spot-check"], &[]);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}{}", text(&out.stderr));
    let spot = &said[said.find("Spot check").expect("a spot check section")..];
    let expected = "\
Spot check (what you would check by hand):

  Sent mail [ok]
  The Sent folder holds the same 4 sent messages on both servers, from 10 Mar 2024, 10:10 to 13 Mar 2024, 10:13.
              Old server          New server
    Folder    INBOX.Sent          Sent Items
    Messages  4                   4
    Oldest    10 Mar 2024, 10:10  10 Mar 2024, 10:10
    Newest    13 Mar 2024, 10:13  13 Mar 2024, 10:13

  Deepest folder [ok]
  The deepest folder, INBOX.Clients.2024.Smith, is at the new server with the same 3 messages.
              Old server                New server
    Folder    INBOX.Clients.2024.Smith  Clients/2024/Smith
    Messages  3                         3

  Newest message [ok]
  The newest message at the old server, \"Sent 13\" from Sender 13 <s13@example.net> (13 Mar 2024, 10:13), is at the new server in Sent Items.
             Old server                   New server
    Folder   INBOX.Sent                   Sent Items
    Subject  Sent 13                      Sent 13
    From     Sender 13 <s13@example.net>  Sender 13 <s13@example.net>
    Date     13 Mar 2024, 10:13           13 Mar 2024, 10:13

  A starred message [ok]
  The starred message \"Inbox 2\" from Sender 2 <s2@example.net> (3 Mar 2024, 10:02) is starred at the new server too.
             Old server                 New server
    Folder   INBOX                      INBOX
    Subject  Inbox 2                    Inbox 2
    From     Sender 2 <s2@example.net>  Sender 2 <s2@example.net>
    Date     3 Mar 2024, 10:02          3 Mar 2024, 10:02
    Starred  yes                        yes

The spot check passed.
";
    assert!(spot.starts_with(expected), "{spot}");

    let json = run_both(
        "verify",
        &src,
        &dst,
        &state,
        &["--spot-check", "--json"],
        &[],
    );
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["safe_to_switch"], true, "the audit's fields stay");
    assert_eq!(value["spot_check"]["passed"], true);
    assert_eq!(value["spot_check"]["checks"][3]["kind"], "starred");
}

#[tokio::test]
async fn gmail_all_mail_copies_are_not_taken_for_the_newest_or_the_starred_message() {
    // Gmail shows every message in All Mail too, with the same arrival
    // date; All Mail goes to Archive only for mail no label took.
    let src = Dovecot::builder()
        .layout(Layout::Gmail)
        .fsync(false)
        .build();
    let dst = Dovecot::builder()
        .layout(Layout::Exchange)
        .fsync(false)
        .build();
    let inbox: Vec<Message> = (0..3)
        .map(|i| {
            let m = mail("Label", i, 1 + i);
            if i == 2 {
                m.flags(&["\\Flagged"])
            } else {
                m
            }
        })
        .collect();
    src.append("alice", "INBOX", &inbox);
    src.append("alice", "[Gmail]/All Mail", &inbox);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("job.db");
    migrate(
        src.addr_plain(),
        dst.addr_plain(),
        &state,
        &Options::default(),
    )
    .await
    .unwrap();
    let spot = spot(&src, &dst, &state).await;
    for kind in [SpotKind::Newest, SpotKind::Starred] {
        let c = check(&spot, kind);
        assert_eq!(c.outcome, Outcome::Passed, "{c:#?}");
        assert_eq!(c.message.as_ref().unwrap().folder, "INBOX");
        assert_eq!(
            c.message.as_ref().unwrap().subject.as_deref(),
            Some("Label 2")
        );
    }
}

#[test]
fn verify_mail_report_puts_the_report_in_the_new_inbox_unread() {
    use base64::Engine as _;
    let (src, dst) = servers();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("job.db");
    let sync = run_both("sync", &src, &dst, &state, &[], &[]);
    assert_eq!(sync.status.code(), Some(0), "{}", text(&sync.stdout));
    let before = dst.fetch_all("alice", "INBOX").len();

    let out = run_both(
        "verify",
        &src,
        &dst,
        &state,
        &["--spot-check", "--mail-report"],
        &[],
    );
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("The report is in the new mailbox's inbox"),
        "{}",
        text(&out.stderr)
    );
    let inbox = dst.fetch_all("alice", "INBOX");
    assert_eq!(inbox.len(), before + 1, "one message added, nothing else");
    let report = inbox
        .iter()
        .find(|m| text(&m.body).contains("MailFerry report"))
        .expect("the report is in the new INBOX");
    assert!(
        !report.flags.iter().any(|f| f == "\\Seen"),
        "unread: {:?}",
        report.flags
    );
    let raw = text(&report.body);
    assert!(
        raw.contains("Subject: Your mail move: safe to switch (MailFerry report)"),
        "{raw}"
    );
    let body = raw
        .split("\r\n\r\n")
        .nth(1)
        .expect("a body")
        .replace("\r\n", "");
    let plain = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(body.trim())
            .expect("a base64 body"),
    )
    .unwrap();
    assert_eq!(plain, said, "the message holds what verify printed");

    // A second verify without the flag adds nothing.
    let again = run_both("verify", &src, &dst, &state, &[], &[]);
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(dst.fetch_all("alice", "INBOX").len(), before + 1);
}
