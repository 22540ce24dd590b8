//! Reliability scenarios of RELIABILITY.md §2 not covered elsewhere, each
//! against real Dovecot servers: a source folder replaced under the same
//! name (R09), renamed between runs (R11; with OBJECTID through the
//! harness proxy's `Fault::ObjectId`, which Dovecot 2.3 lacks), a
//! destination that refuses a keyword (R17), and a run killed right after
//! a progress-file commit (R28).

use crate::common::{self, again, content, migrate, run_both, text, NOW};
use mailferry::event::Event;
use mailferry::folder::Copies;
use mailferry::run::{Options, Report};
use mailferry::state::{Fate, State};
use mailferry_harness::{Dovecot, Fault, Layout, Message, Proxy};
use std::net::SocketAddr;
use std::path::Path;

fn server() -> Dovecot {
    common::dovecot(Layout::Exchange)
}

/// `mail(tag, i)` for each `i`.
fn mails(tag: &str, range: std::ops::Range<usize>) -> Vec<Message> {
    range.map(|i| mail(tag, i)).collect()
}

/// The `i`-th message of a test folder; every fifth has no Message-ID
/// (it is known by its header hash and size alone).
fn mail(tag: &str, i: usize) -> Message {
    let id = if i % 5 == 4 {
        String::new()
    } else {
        format!("Message-ID: <{tag}-{i}@example.net>\r\n")
    };
    Message::new(
        format!(
            "From: Sender {i} <s{i}@example.net>\r\nTo: alice@example.com\r\n\
             Subject: {tag} {i}\r\nDate: Mon, 4 Mar 2024 10:{:02}:00 +0100\r\n{id}\r\nBody {i}.\r\n",
            i % 60
        )
        .into_bytes(),
    )
    .flags(match i % 3 {
        0 => &["\\Seen"][..],
        1 => &["\\Seen", "\\Flagged", "$Forwarded"][..],
        _ => &[][..],
    })
    .internal_date(&format!("{:02}-Mar-2024 09:{:02}:00 +0000", 1 + i % 28, i % 60))
}

fn uidvalidity(server: &Dovecot, folder: &str) -> String {
    let mut session = server.session("alice");
    let said = session
        .command(&format!("STATUS \"{folder}\" (UIDVALIDITY)"))
        .unwrap()
        .untagged_text()
        .join(" ");
    session.logout();
    said
}

/// Deletes `folder` at `server` and creates it again, empty (a new
/// UIDVALIDITY: the UIDs of its messages mean nothing any more).
fn recreate(server: &Dovecot, folder: &str) {
    let before = uidvalidity(server, folder);
    let mut session = server.session("alice");
    assert!(session
        .command(&format!("DELETE \"{folder}\""))
        .unwrap()
        .is_ok());
    session.logout();
    server.create_mailbox("alice", folder);
    assert_ne!(
        uidvalidity(server, folder),
        before,
        "the test really changed the UIDVALIDITY"
    );
}

/// Two servers after one copy with removals on: the source's `folder` held
/// `mails(tag, range)`. Returns the servers, the progress file's folder and
/// its path.
async fn copied_once(
    folder: &str,
    tag: &str,
    range: std::ops::Range<usize>,
) -> (Dovecot, Dovecot, tempfile::TempDir, std::path::PathBuf) {
    let src = server();
    let dst = server();
    src.create_mailbox("alice", folder);
    src.append("alice", folder, &mails(tag, range));
    let (dir, state) = common::state_file();
    common::copy(&src, &dst, &state, &common::with_delete2()).await;
    (src, dst, dir, state)
}

/// R09: the source folder is deleted and created again and the same mail
/// put back (two messages fewer, the user's own clean-up): the UIDs on
/// record are not trusted, the messages are found again by identity,
/// nothing is copied again, and — even with removals on — nothing is
/// removed at the destination: the two that were not put back are stale
/// rows of the old folder, not messages "deleted at the source" under the
/// new one.
#[tokio::test]
async fn r09_a_source_folder_recreated_with_the_same_mail_is_paired_again_by_identity() {
    let src = server();
    let dst = server();
    src.create_mailbox("alice", "Projects");
    src.append("alice", "Projects", &mails("projects", 0..30));
    let (_dir, state) = common::state_file();
    let first = common::copy(&src, &dst, &state, &common::with_delete2()).await;
    assert_eq!(first.transferred(), 30, "{first:#?}");
    let copied = content(&dst.fetch_all("alice", "Projects"));

    let old = src.fetch_all("alice", "Projects");
    recreate(&src, "Projects");
    let mut back: Vec<Message> = old[2..].iter().map(again).collect();
    back.reverse(); // new UIDs in another order than the old ones
    src.append("alice", "Projects", &back);

    for round in 0..2 {
        let report = common::copy(&src, &dst, &state, &common::with_delete2()).await;
        let projects = report
            .folders
            .iter()
            .find(|f| f.source == "Projects")
            .unwrap();
        assert_eq!(projects.transferred, 0, "round {round}: {projects:#?}");
        assert_eq!(projects.already_there, 28, "round {round}: {projects:#?}");
        assert_eq!(projects.removed, 0, "round {round}: {projects:#?}");
        assert_eq!(projects.refused, None, "round {round}");
        assert_eq!(
            content(&dst.fetch_all("alice", "Projects")),
            copied,
            "round {round}: the destination is as the first run left it"
        );
    }

    // The pairs were really re-made under the new UIDs: a message the
    // user now deletes in the new folder is removed at the destination,
    // exactly that one.
    let mut session = src.session("alice");
    for c in [
        "SELECT \"Projects\"",
        "UID STORE 1 +FLAGS.SILENT (\\Deleted)",
        "EXPUNGE",
    ] {
        assert!(session.command(c).unwrap().is_ok(), "{c}");
    }
    session.logout();
    let report = common::copy(&src, &dst, &state, &common::with_delete2()).await;
    assert_eq!(report.transferred(), 0, "{report:#?}");
    let projects = &report.folders.iter().find(|f| f.source == "Projects");
    assert_eq!(projects.unwrap().removed, 1, "{report:#?}");
    assert_eq!(dst.fetch_all("alice", "Projects").len(), 29);
}

/// R09, the other way: the folder is replaced by one holding other mail
/// (none of the messages copied before is found again). Like mbsync's
/// re-approval, too few copies found again (neither 20 nor 80 %) holds the
/// folder back with the reason, and every other folder copies: the
/// server may have rewritten the same messages, and copying them would
/// double the folder at the destination. Accepted by the user, the new
/// mail is copied beside the earlier copies, which stay (nothing removed,
/// nothing doubled), and later runs do not ask again.
#[tokio::test]
async fn r09_a_source_folder_replaced_by_other_mail_is_held_back_until_accepted() {
    let (src, dst, _dir, state) = copied_once("Projects", "old", 0..10).await;
    let mut want = content(&dst.fetch_all("alice", "Projects"));

    recreate(&src, "Projects");
    src.append("alice", "Projects", &mails("new", 0..10));
    src.append("alice", "INBOX", &[mail("inbox", 1)]);
    let held = run_both("sync", &src, &dst, &state, &["--delete2"], &[]);
    let said = text(&held.stdout) + &text(&held.stderr);
    assert_eq!(held.status.code(), Some(1), "{said}");
    assert!(
        said.contains("renumbered the folder \"Projects\"")
            && said.contains("only 0 of the 10")
            && said.contains("--accept-renumbered \"Projects\""),
        "{said}"
    );
    assert_eq!(
        content(&dst.fetch_all("alice", "Projects")),
        want,
        "nothing changed in the folder held back"
    );
    common::assert_folder_same(&src, &dst, "INBOX", "the other folders copied");

    let accepted = Options {
        accept_renumbered: vec!["Projects".to_owned()],
        ..common::with_delete2()
    };
    let report = common::copy(&src, &dst, &state, &accepted).await;
    assert_eq!(report.transferred(), 10, "{report:#?}");
    assert_eq!(report.folders.iter().map(|f| f.removed).sum::<u64>(), 0);
    for (k, n) in content(&src.fetch_all("alice", "Projects")) {
        *want.entry(k).or_default() += n;
    }
    assert_eq!(
        content(&dst.fetch_all("alice", "Projects")),
        want,
        "the earlier copies and the new mail, each once"
    );

    // Later runs, without the flag: the renumbering is settled.
    src.append("alice", "Projects", &[mail("new", 20)]);
    let report = common::copy(&src, &dst, &state, &common::with_delete2()).await;
    assert_eq!(report.refused().count(), 0, "{report:#?}");
    assert_eq!(report.transferred(), 1, "{report:#?}");
    assert_eq!(report.folders.iter().map(|f| f.removed).sum::<u64>(), 0);
}

/// R09, the danger the re-approval guards against: the old server put the
/// same messages back rewritten (here: a header added to each, and none
/// has a Message-ID, so none is recognisable). Copying would double the
/// folder; it is held back instead.
#[tokio::test]
async fn r09_a_source_folder_put_back_rewritten_is_not_copied_twice() {
    let src = server();
    let dst = server();
    src.create_mailbox("alice", "Projects");
    let plain = |i: usize| {
        Message::new(
            format!("From: s{i}@example.net\r\nSubject: Plain {i}\r\n\r\nBody {i}.\r\n")
                .into_bytes(),
        )
    };
    src.append("alice", "Projects", &(0..8).map(plain).collect::<Vec<_>>());
    let (_dir, state) = common::state_file();
    common::run_both_ok("sync", &src, &dst, &state, &[]);
    let copied = content(&dst.fetch_all("alice", "Projects"));

    let old = src.fetch_all("alice", "Projects");
    recreate(&src, "Projects");
    let rewritten: Vec<Message> = old
        .iter()
        .map(|m| Message::new([b"X-Restored: yes\r\n".as_slice(), &m.body].concat()))
        .collect();
    src.append("alice", "Projects", &rewritten);
    for _ in 0..2 {
        let run = run_both("sync", &src, &dst, &state, &[], &[]);
        assert_eq!(run.status.code(), Some(1), "{}", text(&run.stdout));
        assert_eq!(
            content(&dst.fetch_all("alice", "Projects")),
            copied,
            "not doubled"
        );
    }
    let verify = run_both("verify", &src, &dst, &state, &[], &[]);
    assert_ne!(verify.status.code(), Some(0), "{}", text(&verify.stdout));
}

/// R11, without OBJECTID (Dovecot 2.3 doesn't offer it): a source folder
/// renamed between runs is a new folder. Its mail is copied into a
/// destination folder of the new name; the folder of the old name keeps
/// its copies, even with removals on (a folder missing from the source is
/// never read as "all deleted"). So the destination holds the mail twice,
/// once per name, as a user who renamed a folder at the old server sees
/// it there; nothing more on later runs.
#[tokio::test]
async fn r11_a_source_folder_renamed_between_runs_keeps_its_old_copies() {
    let (src, dst, _dir, state) = copied_once("Clients", "clients", 0..12).await;
    let copied = content(&dst.fetch_all("alice", "Clients"));
    assert_eq!(copied.values().sum::<usize>(), 12);

    let mut session = src.session("alice");
    assert!(session
        .command("RENAME \"Clients\" \"Customers\"")
        .unwrap()
        .is_ok());
    session.logout();

    for round in 0..2 {
        let report = common::copy(&src, &dst, &state, &common::with_delete2()).await;
        assert_eq!(
            report.transferred(),
            if round == 0 { 12 } else { 0 },
            "round {round}: {report:#?}"
        );
        assert_eq!(
            report.folders.iter().map(|f| f.removed).sum::<u64>(),
            0,
            "round {round}"
        );
        assert!(
            report.folders.iter().all(|f| f.source != "Clients"),
            "the old name is not a source folder any more: {report:#?}"
        );
        assert_eq!(
            content(&dst.fetch_all("alice", "Clients")),
            copied,
            "round {round}: the old folder's copies stay"
        );
        common::assert_folder_same(
            &src,
            &dst,
            "Customers",
            &format!("round {round}: the renamed folder, once"),
        );
    }
}

/// One run as [`migrate`] does it, with the events it emitted.
async fn migrate_said(
    src: SocketAddr,
    dst: SocketAddr,
    state: &Path,
    options: &Options,
) -> (Report, Vec<Event>) {
    let mut job = common::open_job(src, dst, state).await;
    let mut said = Vec::new();
    let report = job
        .run(options, &|| NOW, &mut |e: Event| said.push(e))
        .await
        .unwrap();
    job.close().await;
    (report, said)
}

/// The audit over a new job, as `mailferry verify` makes it.
async fn safe_to_switch(src: SocketAddr, dst: SocketAddr, state: &Path) -> bool {
    common::audit(src, dst, state).await.safe_to_switch
}

/// A folder `A` with a folder `A/x` inside, copied once through a source
/// that offers OBJECTID; returns the destination's copies of each.
async fn copied_a_and_a_x(
    src: &Dovecot,
    dst: &Dovecot,
    proxy: &Proxy,
    state: &Path,
) -> [std::collections::BTreeMap<(Vec<u8>, Vec<String>, String), usize>; 2] {
    src.create_mailbox("alice", "A");
    src.create_mailbox("alice", "A/x");
    src.append("alice", "A", &mails("a", 0..5));
    src.append("alice", "A/x", &mails("ax", 0..3));
    let first = migrate(
        proxy.addr(),
        dst.addr_plain(),
        state,
        &common::with_delete2(),
    )
    .await
    .unwrap();
    assert_eq!(first.transferred(), 8, "{first:#?}");
    {
        let st = State::open(state, NOW).unwrap();
        for f in st.folders().unwrap() {
            assert!(f.mailbox_id.is_some(), "the id of {f:?} is recorded");
        }
    }
    let mut session = src.session("alice");
    assert!(session.command("RENAME \"A\" \"B\"").unwrap().is_ok());
    session.logout();
    [
        content(&dst.fetch_all("alice", "A")),
        content(&dst.fetch_all("alice", "A/x")),
    ]
}

/// R11, with OBJECTID at the source: a folder renamed there (with the
/// folder inside it) is recognised by its MAILBOXID. Nothing is copied
/// again, the destination folder is renamed to match (its inside folder
/// with it), the run says so plainly, and the audit finds it safe to
/// switch; later runs change nothing.
#[tokio::test]
async fn r11_with_objectid_a_renamed_folder_is_renamed_at_the_destination_with_its_children() {
    let src = server();
    let dst = server();
    let proxy = Proxy::with_fault(src.addr_plain(), Fault::ObjectId);
    let (_dir, state) = common::state_file();
    let [a, ax] = copied_a_and_a_x(&src, &dst, &proxy, &state).await;

    let (report, said) = migrate_said(
        proxy.addr(),
        dst.addr_plain(),
        &state,
        &common::with_delete2(),
    )
    .await;
    assert_eq!(report.transferred(), 0, "nothing copied twice: {report:#?}");
    assert_eq!(report.folders.iter().map(|f| f.removed).sum::<u64>(), 0);
    let renamed: Vec<(&str, &str)> = report
        .renamed
        .iter()
        .map(|r| (r.from.as_str(), r.to.as_str()))
        .collect();
    assert_eq!(renamed, [("A", "B"), ("A/x", "B/x")], "parent first");
    assert!(matches!(report.renamed[0].copies, Copies::Renamed { .. }));
    assert!(matches!(
        report.renamed[1].copies,
        Copies::RenamedWithParent { .. }
    ));
    let plain = "“A” was renamed “B” at the old server; its copies were renamed to match at \
                 the new server";
    assert_eq!(report.renamed[0].describe(), plain);
    assert!(
        said.iter()
            .any(|e| matches!(e, Event::FolderRenamed { said, .. } if said == plain)),
        "{said:#?}"
    );
    let listed = dst.list("alice");
    assert!(
        !listed.iter().any(|n| n == "A" || n == "A/x"),
        "the old names are gone at the destination: {listed:?}"
    );
    assert_eq!(
        content(&dst.fetch_all("alice", "B")),
        a,
        "B holds A's copies"
    );
    assert_eq!(content(&dst.fetch_all("alice", "B/x")), ax);
    let mut session = dst.session("alice");
    let shown = session.command("LSUB \"\" \"*\"").unwrap().untagged_text();
    session.logout();
    let shown: Vec<&str> = shown
        .iter()
        .filter_map(|l| l.trim_end().rsplit(' ').next())
        .collect();
    assert!(
        shown.contains(&"B") && shown.contains(&"B/x"),
        "mail apps show the new names: {shown:?}"
    );
    assert!(
        !shown.contains(&"A") && !shown.contains(&"A/x"),
        "and not the old ones: {shown:?}"
    );
    {
        let st = State::open(&state, NOW).unwrap();
        let names: Vec<(String, String)> = st
            .folders()
            .unwrap()
            .into_iter()
            .filter(|f| f.source_name.starts_with(['A', 'B']) && f.source_name != "Archive")
            .map(|f| (f.source_name, f.dest.name))
            .collect();
        assert_eq!(
            names,
            [
                ("B".to_owned(), "B".to_owned()),
                ("B/x".to_owned(), "B/x".to_owned())
            ],
            "the progress rows moved with the names"
        );
    }
    assert!(safe_to_switch(proxy.addr(), dst.addr_plain(), &state).await);

    let (again, _) = migrate_said(
        proxy.addr(),
        dst.addr_plain(),
        &state,
        &common::with_delete2(),
    )
    .await;
    assert_eq!(again.transferred(), 0, "{again:#?}");
    assert!(again.renamed.is_empty(), "{again:#?}");
    assert_eq!(content(&dst.fetch_all("alice", "B")), a);
    assert_eq!(content(&dst.fetch_all("alice", "B/x")), ax);
}

/// R11, with OBJECTID, when the renamed folder's new name is already taken
/// at the destination: that folder is not renamed there, the usual logic
/// applies (its mail goes into the folder that is there, the earlier
/// copies stay). The folder inside it, whose new name is free, is renamed
/// on its own.
#[tokio::test]
async fn r11_with_objectid_a_rename_onto_a_folder_already_at_the_destination_renames_nothing() {
    let src = server();
    let dst = server();
    let proxy = Proxy::with_fault(src.addr_plain(), Fault::ObjectId);
    let (_dir, state) = common::state_file();
    let [a, ax] = copied_a_and_a_x(&src, &dst, &proxy, &state).await;
    dst.create_mailbox("alice", "B");

    let (report, _) = migrate_said(
        proxy.addr(),
        dst.addr_plain(),
        &state,
        &common::with_delete2(),
    )
    .await;
    assert!(
        matches!(&report.renamed[0].copies, Copies::TargetExists { target, stays_in } if target == "B" && stays_in == "A"),
        "{report:#?}"
    );
    assert!(
        matches!(&report.renamed[1].copies, Copies::Renamed { from, to } if from == "A/x" && to == "B/x"),
        "{report:#?}"
    );
    assert_eq!(
        report.transferred(),
        5,
        "B's mail into the B that was there"
    );
    assert_eq!(report.folders.iter().map(|f| f.removed).sum::<u64>(), 0);
    assert_eq!(
        content(&dst.fetch_all("alice", "A")),
        a,
        "the earlier copies stay"
    );
    common::assert_folder_same(&src, &dst, "B", "B's mail, once");
    assert_eq!(content(&dst.fetch_all("alice", "B/x")), ax);
    assert!(!dst.list("alice").iter().any(|n| n == "A/x"));
    let (again, _) = migrate_said(
        proxy.addr(),
        dst.addr_plain(),
        &state,
        &common::with_delete2(),
    )
    .await;
    assert_eq!(again.transferred(), 0, "{again:#?}");
}

/// R11, with OBJECTID, after the switch: nothing is renamed at the new
/// server (its users may be working in those folders); the renamed folder
/// keeps going to the folder it went to, on this run and later ones, so
/// nothing is copied twice and nothing is lost.
#[tokio::test]
async fn r11_with_objectid_after_the_switch_nothing_is_renamed_at_the_destination() {
    let src = server();
    let dst = server();
    let proxy = Proxy::with_fault(src.addr_plain(), Fault::ObjectId);
    let (_dir, state) = common::state_file();
    let [a, _] = copied_a_and_a_x(&src, &dst, &proxy, &state).await;
    src.append("alice", "B", &mails("b", 10..12));
    let switched = Options {
        after_switch: true,
        ..Options::default()
    };

    for round in 0..2 {
        let (report, said) = migrate_said(proxy.addr(), dst.addr_plain(), &state, &switched).await;
        assert_eq!(
            report.transferred(),
            if round == 0 { 2 } else { 0 },
            "round {round}: only the new mail: {report:#?}"
        );
        if round == 0 {
            assert!(
                matches!(&report.renamed[0].copies, Copies::KeptAfterSwitch { into } if into == "A"),
                "{report:#?}"
            );
            assert!(said.iter().any(
                |e| matches!(e, Event::FolderRenamed { from, to, .. } if from == "A" && to == "B")
            ));
        } else {
            assert!(report.renamed.is_empty(), "{report:#?}");
        }
        let listed = dst.list("alice");
        assert!(
            listed.iter().any(|n| n == "A") && listed.iter().any(|n| n == "A/x"),
            "round {round}: nothing renamed at the destination: {listed:?}"
        );
        assert!(
            !listed.iter().any(|n| n == "B" || n == "B/x"),
            "round {round}: no new folder for the renamed one: {listed:?}"
        );
        let mut want = a.clone();
        for (k, n) in content(&src.fetch_all("alice", "B")) {
            want.insert(k, n);
        }
        assert_eq!(
            content(&dst.fetch_all("alice", "A")),
            want,
            "round {round}: the earlier copies and the new mail, each once"
        );
        assert_eq!(
            content(&dst.fetch_all("alice", "A/x")),
            content(&src.fetch_all("alice", "B/x"))
        );
    }
    assert!(safe_to_switch(proxy.addr(), dst.addr_plain(), &state).await);
}

/// R11, with OBJECTID, from the command line: the copy's report says the
/// rename in plain words.
#[test]
fn r11_with_objectid_the_cli_report_says_the_folder_was_renamed() {
    let src = server();
    let dst = server();
    let proxy = Proxy::with_fault(src.addr_plain(), Fault::ObjectId);
    src.create_mailbox("alice", "Clients");
    src.append("alice", "Clients", &mails("cli", 0..4));
    let (_dir, state) = common::state_file();
    let (sides, passwords) = common::both_ports(proxy.port(), dst.plain_port());
    let sync = || {
        let mut args: Vec<&str> = vec!["sync"];
        args.extend(sides.iter().map(String::as_str));
        args.extend(["--state", state.to_str().unwrap()]);
        common::mailferry(&args, &passwords)
    };
    let first = sync();
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let mut session = src.session("alice");
    assert!(session
        .command("RENAME \"Clients\" \"Customers\"")
        .unwrap()
        .is_ok());
    session.logout();
    let second = sync();
    assert_eq!(second.status.code(), Some(0), "{}", text(&second.stderr));
    let out = text(&second.stdout);
    assert!(out.contains("Copied 0 messages"), "{out}");
    assert!(
        out.contains(
            "“Clients” was renamed “Customers” at the old server; its copies were renamed to \
             match at the new server."
        ),
        "{out}"
    );
    common::assert_folder_same(&src, &dst, "Customers", "the same messages on both sides");
}

/// R17: the destination refuses a keyword (Dovecot refuses one longer than
/// its `mail_max_keyword_length`, 50, with `NO [CANNOT] Keyword length too
/// long`; this source allows longer ones). The message is stored with its
/// other flags, the keyword left off is reported once for the folder, and
/// the message is not counted as failed; later runs change nothing.
#[tokio::test]
async fn r17_a_keyword_the_destination_refuses_is_left_off_and_the_message_copied() {
    let src = server();
    let mut conf = std::fs::read_to_string(src.conf_path()).unwrap();
    conf.push_str("mail_max_keyword_length = 200\n");
    std::fs::write(src.conf_path(), conf).unwrap();
    let reload = src.doveadm(&["reload"]);
    assert!(reload.status.success(), "{}", text(&reload.stderr));
    let dst = server();

    let long = format!("Project_{}", "x".repeat(60));
    let mut messages: Vec<Message> = (0..6).map(|i| mail("kw", i)).collect();
    for i in [1, 4] {
        messages[i] = mail("kw", i).flags(&["\\Seen", "\\Flagged", &long]);
    }
    src.append("alice", "INBOX", &messages);
    assert!(
        src.fetch_all("alice", "INBOX")[1].flags.contains(&long),
        "the source keeps the long keyword"
    );

    let (_dir, state) = common::state_file();
    let report = common::copy(&src, &dst, &state, &Options::default()).await;
    let inbox = report.folders.iter().find(|f| f.source == "INBOX").unwrap();
    assert_eq!(inbox.transferred, 6, "{inbox:#?}");
    assert_eq!(inbox.failed, 0, "{inbox:#?}");
    assert_eq!(
        inbox.dropped_keywords,
        vec![long.clone()],
        "once per folder"
    );
    assert_eq!(report.exit_code(), 0);

    // Every message is there with its flags, but the refused keyword.
    let strip = |flags: &[String]| -> Vec<String> {
        let mut f: Vec<String> = flags.iter().filter(|f| **f != long).cloned().collect();
        f.sort();
        f
    };
    let mut want: Vec<(Vec<u8>, Vec<String>)> = src
        .fetch_all("alice", "INBOX")
        .iter()
        .map(|m| (m.body.clone(), strip(&m.flags)))
        .collect();
    let mut got: Vec<(Vec<u8>, Vec<String>)> = dst
        .fetch_all("alice", "INBOX")
        .iter()
        .map(|m| (m.body.clone(), strip(&m.flags)))
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    assert!(got
        .iter()
        .any(|(_, f)| f == &["\\Flagged".to_owned(), "\\Seen".to_owned()]));

    let again = common::copy(&src, &dst, &state, &Options::default()).await;
    assert_eq!(again.transferred(), 0, "{again:#?}");
    assert_eq!(again.failed(), 0, "{again:#?}");
    assert_eq!(again.refused().count(), 0, "{again:#?}");

    // The same keyword set later at the source, with a star: the star is
    // brought over, the keyword left off and reported, the folder copied.
    let mut session = src.session("alice");
    for c in [
        "SELECT INBOX".to_owned(),
        format!("UID STORE 1 +FLAGS.SILENT (\\Flagged {long})"),
    ] {
        assert!(session.command(&c).unwrap().is_ok(), "{c}");
    }
    session.logout();
    let changed = common::copy(&src, &dst, &state, &Options::default()).await;
    let inbox = changed
        .folders
        .iter()
        .find(|f| f.source == "INBOX")
        .unwrap();
    assert_eq!(inbox.refused, None, "{changed:#?}");
    assert_eq!(inbox.flags_updated, 1, "{inbox:#?}");
    assert_eq!(inbox.dropped_keywords, vec![long.clone()], "{inbox:#?}");
    let first = dst
        .fetch_all("alice", "INBOX")
        .into_iter()
        .find(|m| m.body == src.fetch_all("alice", "INBOX")[0].body)
        .unwrap();
    assert!(first.flags.contains(&"\\Flagged".to_owned()), "{first:?}");
    assert!(!first.flags.contains(&long), "{first:?}");
    let settled = common::copy(&src, &dst, &state, &Options::default()).await;
    assert_eq!(settled.refused().count(), 0, "{settled:#?}");
    assert_eq!(
        settled.folders.iter().map(|f| f.flags_updated).sum::<u64>(),
        0,
        "{settled:#?}"
    );
}

/// R28: the process dies (abort, as SIGKILL) right after the progress file
/// committed a batch's copies. The commit is there when the file is opened
/// again (WAL, written through: `synchronous=FULL`, see `src/state`), and a
/// re-run ends exact: nothing doubled, nothing lost.
#[test]
fn r28_killed_right_after_a_commit_the_commit_survives_and_the_rerun_ends_exact() {
    let src = server();
    let dst = server();
    src.append("alice", "INBOX", &mails("durable", 0..20));
    let (_dir, state) = common::state_file();
    let crashed = run_both(
        "sync",
        &src,
        &dst,
        &state,
        &["--batch-messages", "5"],
        &[("MAILFERRY_CRASH_AT", "after_commit:2")],
    );
    assert!(
        !crashed.status.success() && text(&crashed.stderr).contains("crashing on purpose"),
        "{}",
        text(&crashed.stderr)
    );

    // The file, as the killed process left it: a write-ahead log, and the
    // two committed batches in it.
    let raw = rusqlite::Connection::open(&state).unwrap();
    let mode: String = raw
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    drop(raw);
    {
        let st = State::open(&state, NOW).unwrap();
        let inbox = st
            .folders()
            .unwrap()
            .into_iter()
            .find(|f| f.source_name == "INBOX")
            .expect("INBOX is on record");
        let copied = st
            .messages_in_folder(inbox.id, inbox.source_uidvalidity)
            .unwrap()
            .into_iter()
            .filter(|m| m.fate == Fate::Copied)
            .count();
        assert_eq!(copied, 10, "both committed batches are on record");
        assert_eq!(
            st.in_doubt_intents().unwrap().len(),
            0,
            "no APPEND was in flight after the commit"
        );
    }
    assert_eq!(dst.fetch_all("alice", "INBOX").len(), 10);

    let resumed = run_both("sync", &src, &dst, &state, &["--batch-messages", "5"], &[]);
    assert_eq!(resumed.status.code(), Some(0), "{}", text(&resumed.stderr));
    assert!(
        text(&resumed.stdout).contains("Copied 10 messages"),
        "only the rest: {}",
        text(&resumed.stdout)
    );
    common::assert_folder_same(&src, &dst, "INBOX", "the same messages on both sides");
    let again = run_both("sync", &src, &dst, &state, &[], &[]);
    assert!(
        text(&again.stdout).contains("Copied 0 messages"),
        "{}",
        text(&again.stdout)
    );
}
