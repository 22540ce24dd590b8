//! A domain's mailboxes migrated at once between two real Dovecot servers:
//! the connections each server sees, counted at a proxy in front of it,
//! never exceed its cap, whatever the number of mailboxes and writers; every
//! mailbox arrives exact; a second pass copies nothing.

use crate::common::{self, content};
use mailferry::domain::{migrate_all, migrate_all_with, Domain, Each, Mailbox, Outcome};
use mailferry::endpoint::{Credentials, Endpoint, Security};
use mailferry::event::{Event, EventSink};
use mailferry::folder::Rules;
use mailferry::run::{Cancel, Options};
use mailferry_harness::{Dovecot, Layout, Message, Proxy};
use std::path::Path;
use std::time::Duration;

const USERS: [(&str, &str); 4] = [
    ("alice", "alicepass"),
    ("bob", "bobpass"),
    ("carol", "carolpass"),
    ("dave", "davepass"),
];

fn server() -> Dovecot {
    let mut b = Dovecot::builder().layout(Layout::Exchange).fsync(false);
    for (user, password) in USERS.iter().skip(1) {
        b = b.user(*user, *password);
    }
    b.build()
}

fn mail(user: &str, i: usize) -> Message {
    Message::new(
        format!(
            "From: s{i}@example.net\r\nTo: {user}@example.com\r\nSubject: {user} {i}\r\n\
             Message-ID: <{user}-{i}@example.net>\r\n\r\nHello {user}, number {i}.\r\n{}\r\n",
            "y".repeat(i * 211 % 5000)
        )
        .into_bytes(),
    )
    .flags(if i.is_multiple_of(2) {
        &["\\Seen"][..]
    } else {
        &[][..]
    })
}

/// `mail(user, i)` for each `i`.
fn mails(user: &str, range: std::ops::Range<usize>) -> Vec<Message> {
    range.map(|i| mail(user, i)).collect()
}

/// A domain reached through proxies in front of `src` and `dst` (they count
/// connections), with these caps; the proxies go with it.
fn through_proxies(
    src: &Dovecot,
    dst: &Dovecot,
    source_connections: usize,
    dest_connections: usize,
    at_once: usize,
) -> (Domain, Proxy, Proxy) {
    let (from_src, from_dst) = (
        Proxy::start(src.addr_plain()),
        Proxy::start(dst.addr_plain()),
    );
    let domain = Domain {
        source: endpoint(&from_src),
        dest: endpoint(&from_dst),
        source_connections,
        dest_connections,
        at_once,
    };
    (domain, from_src, from_dst)
}

/// `user`'s mailbox, with the same password on both servers and its
/// progress file in `dir`.
fn mailbox(dir: &Path, user: &str, password: &str) -> Mailbox {
    Mailbox {
        source: Credentials::password(user, password),
        dest: Credentials::password(user, password),
        state: dir.join(format!("{user}.db")),
    }
}

fn endpoint(proxy: &Proxy) -> Endpoint {
    let mut e = Endpoint::new("127.0.0.1")
        .with_security(Security::Plain)
        .with_port(proxy.port());
    e.timeout = Duration::from_secs(30);
    e
}

#[tokio::test]
async fn mailboxes_at_once_never_exceed_a_servers_connection_cap() {
    let (src, dst) = (server(), server());
    for (n, (user, _)) in USERS.iter().enumerate() {
        src.append(user, "INBOX", &mails(user, 0..40 + n * 10));
        src.create_mailbox(user, "Clients");
        src.append(user, "Clients", &mails(user, 100..115));
    }
    let (domain, from_src, from_dst) = through_proxies(&src, &dst, 2, 3, 4);
    let dir = tempfile::tempdir().unwrap();
    let mailboxes: Vec<Mailbox> = USERS
        .iter()
        .map(|(user, password)| mailbox(dir.path(), user, password))
        .collect();
    // Each mailbox would like four writers of ten-message batches.
    let options = Options {
        connections: 4,
        batch_messages: 10,
        ..Options::default()
    };
    let now = || common::NOW;

    let outcomes = migrate_all(&domain, &mailboxes, &Rules::default(), &options, &now).await;
    for ((user, _), outcome) in USERS.iter().zip(&outcomes) {
        assert!(outcome.is_complete(), "{user}: {outcome:#?}");
        for folder in ["INBOX", "Clients"] {
            assert_eq!(
                content(&dst.fetch_all(user, folder)),
                content(&src.fetch_all(user, folder)),
                "{user}'s {folder} arrived exact"
            );
        }
    }
    assert!(
        from_src.peak_connections() <= 2,
        "the old server saw {} connections at once (cap 2)",
        from_src.peak_connections()
    );
    assert!(
        from_dst.peak_connections() <= 3,
        "the new server saw {} connections at once (cap 3)",
        from_dst.peak_connections()
    );
    assert!(
        from_dst.peak_connections() >= 2,
        "the cap was used, not just respected: {}",
        from_dst.peak_connections()
    );

    // A second pass over the whole domain copies nothing.
    let again = migrate_all(&domain, &mailboxes, &Rules::default(), &options, &now).await;
    for ((user, _), outcome) in USERS.iter().zip(&again) {
        match outcome {
            Outcome::Copied(report) => {
                assert_eq!(report.transferred(), 0, "{user}: {report:#?}")
            }
            other => panic!("{user}: {other:#?}"),
        }
    }
}

#[tokio::test]
async fn one_mailbox_that_cannot_sign_in_does_not_stop_the_others() {
    let (src, dst) = (server(), server());
    src.append("bob", "INBOX", &[mail("bob", 1)]);
    let (domain, _from_src, _from_dst) = through_proxies(&src, &dst, 1, 1, 2);
    let dir = tempfile::tempdir().unwrap();
    let mailboxes = vec![
        Mailbox {
            source: Credentials::password("alice", "wrong"),
            dest: Credentials::password("alice", "alicepass"),
            state: dir.path().join("alice.db"),
        },
        mailbox(dir.path(), "bob", "bobpass"),
    ];
    let outcomes = migrate_all(
        &domain,
        &mailboxes,
        &Rules::default(),
        &Options::default(),
        &|| common::NOW,
    )
    .await;
    assert!(
        matches!(&outcomes[0], Outcome::Failed(e) if e.is_auth()),
        "{:#?}",
        outcomes[0]
    );
    assert!(outcomes[1].is_complete(), "{:#?}", outcomes[1]);
    assert_eq!(dst.fetch_all("bob", "INBOX").len(), 1);
}

/// The desktop app's domain copy: each mailbox's events reach its own sink
/// (its own progress on screen), its rules are made from its own folder
/// tree, a damaged progress file is rebuilt only for the mailbox whose user
/// asked, and a stop asked before a mailbox's turn signs in nowhere.
#[tokio::test]
async fn each_mailbox_reports_to_its_own_sink_and_rebuilds_only_when_asked() {
    let (src, dst) = (server(), server());
    for (n, (user, _)) in USERS.iter().take(3).enumerate() {
        src.append(user, "INBOX", &mails(user, 0..5 + n * 3));
        src.create_mailbox(user, "Skip me");
        src.append(user, "Skip me", &[mail(user, 90)]);
    }
    let (domain, from_src, from_dst) = through_proxies(&src, &dst, 2, 2, 2);
    let dir = tempfile::tempdir().unwrap();
    let mailboxes: Vec<Mailbox> = USERS
        .iter()
        .take(3)
        .map(|(user, password)| mailbox(dir.path(), user, password))
        .collect();
    // Carol's progress file is damaged; she asks for it to be rebuilt, Bob
    // (whose file is damaged too) does not.
    for user in ["bob", "carol"] {
        std::fs::write(
            dir.path().join(format!("{user}.db")),
            b"not a progress file",
        )
        .unwrap();
    }
    let trees = std::sync::Mutex::new(0);
    let rules = |tree: &mailferry::folder::FolderTree| {
        *trees.lock().unwrap() += 1;
        assert!(
            tree.folders.iter().any(|f| f.name.display() == "Skip me"),
            "the rules see the mailbox's own tree"
        );
        Rules {
            exclude: vec![mailferry::folder::rules::Pattern::new("^Skip me$").unwrap()],
            ..Rules::default()
        }
    };
    let mut events: Vec<Vec<Event>> = vec![Vec::new(); 3];
    let mut sinks: Vec<_> = events
        .iter_mut()
        .map(|log| move |e: Event| log.push(e))
        .collect();
    let each: Vec<Each> = sinks
        .iter_mut()
        .enumerate()
        .map(|(i, sink)| Each {
            sink: sink as &mut dyn EventSink,
            rebuild_if_damaged: i == 2,
            accept_renumbered: Vec::new(),
        })
        .collect();
    let outcomes = migrate_all_with(
        &domain,
        &mailboxes,
        &rules,
        &Options::default(),
        &|| common::NOW,
        each,
    )
    .await;
    drop(sinks);
    assert_eq!(
        *trees.lock().unwrap(),
        3,
        "rules made once per mailbox, from its own tree"
    );
    assert!(outcomes[0].is_complete(), "{:#?}", outcomes[0]);
    assert!(
        matches!(&outcomes[1], Outcome::Failed(e) if e.code() == "ProgressDamaged"),
        "Bob did not ask for a rebuild: {:#?}",
        outcomes[1]
    );
    assert!(outcomes[2].is_complete(), "{:#?}", outcomes[2]);
    assert!(
        events[1].is_empty(),
        "nothing was copied for Bob: {:?}",
        events[1]
    );
    for (i, user) in [(0, "alice"), (2, "carol")] {
        let copied: u64 = events[i]
            .iter()
            .map(|e| match e {
                Event::MessagesCopied { count, .. } => *count,
                _ => 0,
            })
            .sum();
        assert_eq!(
            copied as usize,
            src.fetch_all(user, "INBOX").len(),
            "{user}'s sink got {user}'s copies, and only those"
        );
        assert!(
            !events[i]
                .iter()
                .any(|e| matches!(e, Event::FolderScanned { folder, .. } if folder == "Skip me")),
            "{user}: the rules held the folder back"
        );
        assert_eq!(
            dst.fetch_all(user, "INBOX").len(),
            src.fetch_all(user, "INBOX").len()
        );
    }

    // Stopped before anyone's turn: nobody signs in.
    let before = (from_src.connections(), from_dst.connections());
    let cancel = Cancel::new();
    cancel.cancel();
    let options = Options {
        cancel,
        ..Options::default()
    };
    let stopped = migrate_all(&domain, &mailboxes, &Rules::default(), &options, &|| {
        common::NOW
    })
    .await;
    for outcome in &stopped {
        assert!(
            matches!(outcome, Outcome::Copied(r) if r.stopped.is_some() && r.transferred() == 0),
            "{outcome:#?}"
        );
    }
    assert_eq!(
        (from_src.connections(), from_dst.connections()),
        before,
        "a stopped domain signs in nowhere"
    );
}

/// `mailferry sync --mailboxes FILE`: a spreadsheet's list (header, one
/// password for both sides or one each), copied two at a time; a list with
/// a bad row copies nothing and names the row, never a password.
#[test]
fn the_cli_migrates_a_list_of_mailboxes() {
    let (src, dst) = (server(), server());
    for (user, _) in USERS.iter().take(3) {
        src.append(user, "INBOX", &mails(user, 0..12));
    }
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("mailboxes.csv");
    let servers = |list: &std::path::Path| -> Vec<String> {
        [
            "sync",
            "--host1",
            "127.0.0.1",
            "--port1",
            &src.plain_port().to_string(),
            "--plain1",
            "--host2",
            "127.0.0.1",
            "--port2",
            &dst.plain_port().to_string(),
            "--plain2",
            "--mailboxes",
            list.to_str().unwrap(),
            "--at-once",
            "2",
            "--maxconnections2",
            "2",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let data = dir.path().join("data");
    let env = [("MAILFERRY_DATA_DIR", data.to_str().unwrap())];

    std::fs::write(
        &list,
        "Old mailbox;New mailbox;Password\nalice;alice;alicepass\nbob;bob;secret one;secret two;secret three\n",
    )
    .unwrap();
    let bad = common::mailferry(
        &servers(&list)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        &env,
    );
    let said = common::text(&bad.stdout) + &common::text(&bad.stderr);
    assert_eq!(bad.status.code(), Some(2), "{said}");
    assert!(said.contains("Row 3") && said.contains("columns"), "{said}");
    assert!(
        !said.contains("alicepass") && !said.contains("secret"),
        "{said}"
    );
    assert!(
        dst.fetch_all("alice", "INBOX").is_empty(),
        "nothing was copied"
    );

    std::fs::write(
        &list,
        "Old mailbox,New mailbox,Old password,New password\n\
         alice,alice,alicepass,alicepass\nbob,bob,bobpass,bobpass\n\"carol\",carol,carolpass,carolpass\n",
    )
    .unwrap();
    let run = common::mailferry(
        &servers(&list)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        &env,
    );
    let said = common::text(&run.stdout) + &common::text(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{said}");
    assert!(said.contains("3 of 3 mailboxes complete"), "{said}");
    assert!(said.contains("bob -> bob: copied 12"), "{said}");
    assert!(!said.contains("pass,"), "{said}");
    for (user, _) in USERS.iter().take(3) {
        assert_eq!(
            content(&dst.fetch_all(user, "INBOX")),
            content(&src.fetch_all(user, "INBOX")),
            "{user}"
        );
    }
    // One progress file per mailbox, where a single `sync` finds it.
    let jobs = std::fs::read_dir(data.join("jobs"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "db")
        })
        .count();
    assert_eq!(jobs, 3);

    // The switch, for the whole list: every mailbox's job records it, so
    // from then on every run of it only adds, whoever starts it.
    let mut args = servers(&list);
    args.push("--cutover-done".to_owned());
    common::mailferry_ok(&args.iter().map(String::as_str).collect::<Vec<_>>(), &env);
    for entry in std::fs::read_dir(data.join("jobs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "db") {
            let st = mailferry::state::State::open_read_only(&path)
                .unwrap()
                .unwrap();
            assert_eq!(
                st.phase().unwrap(),
                mailferry::state::Phase::PostCutover,
                "{}",
                path.display()
            );
        }
    }
    args.push("--delete2".to_owned());
    let run = common::mailferry(&args.iter().map(String::as_str).collect::<Vec<_>>(), &env);
    let said = common::text(&run.stdout);
    assert_ne!(run.status.code(), Some(0), "{said}");
    assert!(said.contains("only adds"), "{said}");
}

/// A folder question in one mailbox holds back only the folders it is
/// about: the rest of that mailbox is copied, and the outcome says how many
/// questions are left.
#[tokio::test]
async fn a_folder_question_holds_back_only_its_folders() {
    let (src, dst) = (server(), server());
    for folder in ["Clients", "Cartório", "Other"] {
        src.create_mailbox("alice", folder);
    }
    src.append("alice", "INBOX", &mails("alice", 0..5));
    src.append("alice", "Other", &mails("alice", 10..13));
    src.append("alice", "Clients", &mails("alice", 20..22));
    let (domain, _from_src, _from_dst) = through_proxies(&src, &dst, 2, 2, 1);
    let dir = tempfile::tempdir().unwrap();
    let mailboxes = [mailbox(dir.path(), "alice", "alicepass")];
    let rules = Rules {
        pairs: vec![mailferry::folder::FolderPair::parse("Cartório=Clients").unwrap()],
        ..Rules::default()
    };
    let now = || common::NOW;
    let outcomes = migrate_all(&domain, &mailboxes, &rules, &Options::default(), &now).await;
    match &outcomes[0] {
        Outcome::NeedsDecision { count, report } => {
            assert_eq!(*count, 1);
            assert_eq!(report.transferred(), 8, "{report:#?}");
        }
        other => panic!("{other:#?}"),
    }
    assert!(!outcomes[0].is_complete());
    for folder in ["INBOX", "Other"] {
        common::assert_folder_same(&src, &dst, folder, &format!("{folder} arrived exact"));
    }
    let listed = dst.list("alice");
    assert!(
        !listed
            .iter()
            .any(|n| n == "Clients" || n.starts_with("Cart")),
        "held back: {listed:?}"
    );
}

/// A folder the new server refuses to create holds back only that folder
/// (and what would go inside it): every other folder of the mailbox is
/// created and copied, the refusal is in the report with the server's
/// words, and the mailbox is not complete (exit 1), so the next run tries
/// it again.
#[tokio::test]
async fn a_folder_the_new_server_refuses_to_create_holds_back_only_itself() {
    let (src, dst) = (server(), server());
    for folder in ["Projects", "Other"] {
        src.create_mailbox("alice", folder);
    }
    src.append("alice", "INBOX", &mails("alice", 0..4));
    src.append("alice", "Projects", &mails("alice", 10..12));
    src.append("alice", "Other", &mails("alice", 20..23));
    let (domain, _from_src, _from_dst) = through_proxies(&src, &dst, 2, 2, 1);
    let dir = tempfile::tempdir().unwrap();
    let mailboxes = [mailbox(dir.path(), "alice", "alicepass")];
    // A 300-byte level: Dovecot refuses to create it. The map's own length
    // check is lifted so that the name reaches the server.
    let long = "x".repeat(300);
    let mut rules =
        Rules::from_flags(&[format!("Projects=Projects/{long}")], &[], &[], &[]).unwrap();
    rules.max_name_bytes = 10_000;
    let now = || common::NOW;
    let outcomes = migrate_all(&domain, &mailboxes, &rules, &Options::default(), &now).await;
    let report = match &outcomes[0] {
        Outcome::Copied(report) => report,
        other => panic!("the other folders go ahead: {other:#?}"),
    };
    assert_eq!(report.exit_code(), 1, "{report:#?}");
    let refused: Vec<_> = report.refused().collect();
    assert_eq!(refused.len(), 1, "{report:#?}");
    assert_eq!(refused[0].source, "Projects");
    let why = refused[0].refused.as_deref().unwrap();
    assert!(why.contains("refused to create the folder"), "{why}");
    for folder in ["INBOX", "Other"] {
        common::assert_folder_same(&src, &dst, folder, &format!("{folder} arrived exact"));
    }
    assert!(!outcomes[0].is_complete());
}
