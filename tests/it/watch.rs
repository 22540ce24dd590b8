//! `watch`: after the switch, mail still arriving at the old server is
//! moved within seconds (IDLE on INBOX), or within the poll interval
//! (other folders, or a server without IDLE), each message once whatever
//! cuts the connections or kills the process; and the stop rule, with a
//! clock the test sets.

use crate::common::{content, migrate, run_both, text};
use mailferry::endpoint::{Credentials, Endpoint, Security};
use mailferry::event::Discard;
use mailferry::folder::Rules;
use mailferry::job::ProgressFile;
use mailferry::mx::Question;
use mailferry::run::Options;
use mailferry::watch::{self, stop_rule, End, Mailbox, Mx, Notice, Settings, StopInputs, Tally};
use mailferry_harness::{Direction, Dovecot, Fault, Layout, Message, Proxy};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn server() -> Dovecot {
    Dovecot::builder()
        .layout(Layout::Exchange)
        .fsync(false)
        .build()
}

fn mail(tag: &str, i: usize) -> Message {
    Message::new(
        format!(
            "From: Sender {i} <s{i}@example.net>\r\nTo: alice@example.com\r\n\
             Subject: {tag} {i}\r\nDate: Mon, 4 Mar 2024 10:{:02}:00 +0100\r\n\
             Message-ID: <{tag}-{i}@example.net>\r\n\r\nBody {i}.\r\n",
            i % 60
        )
        .into_bytes(),
    )
    .internal_date(&format!(
        "{:02}-Mar-2024 09:{:02}:00 +0000",
        1 + i % 28,
        i % 60
    ))
}

fn plain(port: u16) -> (Endpoint, Credentials) {
    let mut e = Endpoint::new("127.0.0.1")
        .with_security(Security::Plain)
        .with_port(port);
    e.timeout = Duration::from_secs(20);
    (e, Credentials::password("alice", "alicepass"))
}

/// Two servers with mail in INBOX and Work, copied once and switched.
async fn switched_pair(state: &Path) -> (Dovecot, Dovecot) {
    let src = server();
    let dst = server();
    src.create_mailbox("alice", "Work");
    src.append(
        "alice",
        "INBOX",
        &(0..3).map(|i| mail("in", i)).collect::<Vec<_>>(),
    );
    src.append(
        "alice",
        "Work",
        &(0..2).map(|i| mail("work", i)).collect::<Vec<_>>(),
    );
    let switched = Options {
        after_switch: true,
        ..Options::default()
    };
    let report = migrate(src.addr_plain(), dst.addr_plain(), state, &switched)
        .await
        .expect("the final copy");
    assert_eq!(report.transferred(), 5, "{report:#?}");
    (src, dst)
}

fn mailbox(src_port: u16, dst: &Dovecot, state: &Path) -> Mailbox {
    Mailbox {
        source: plain(src_port),
        dest: plain(dst.plain_port()),
        rules: Rules::default(),
        progress: ProgressFile::at(state),
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Waits (at most `limit`) until `folder` at `dst` holds `n` messages;
/// how long it took.
async fn arrives(dst: &Dovecot, folder: &str, n: usize, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if dst.fetch_all("alice", folder).len() >= n {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Runs a watch beside `drive`, which says when the watch began (its
/// `Watching` notice) and is cancelled when `drive` ends. The notices.
async fn watch_while<F: std::future::Future<Output = ()>>(
    mailbox: &Mailbox,
    mx: Option<&Question>,
    settings: &Settings,
    drive: impl FnOnce(Arc<Mutex<Vec<Notice>>>) -> F,
) -> (watch::Summary, Vec<Notice>) {
    let options = Options::default();
    let cancel = options.cancel.clone();
    let said = Arc::new(Mutex::new(Vec::new()));
    let heard = said.clone();
    let mut notices = move |n: Notice| heard.lock().unwrap().push(n);
    let mut sink = Discard;
    let watching = watch::watch(
        mailbox,
        settings,
        &options,
        &unix_now,
        mx,
        &mut notices,
        &mut sink,
    );
    let driving = async {
        let start = Instant::now();
        while !said
            .lock()
            .unwrap()
            .iter()
            .any(|n| matches!(n, Notice::Watching { .. }))
        {
            assert!(start.elapsed() < Duration::from_secs(30), "never watching");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        drive(said.clone()).await;
        cancel.cancel();
    };
    let (summary, ()) = tokio::join!(watching, driving);
    let summary = summary.expect("the watch ends without an error");
    let notices = said.lock().unwrap().clone();
    (summary, notices)
}

fn settings(poll_secs: u64, renew_secs: u64) -> Settings {
    Settings {
        renew_idle: Duration::from_secs(renew_secs),
        poll_every: Duration::from_secs(poll_secs),
        cap: Some(Duration::from_secs(120)),
        ..Settings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_delivered_to_the_old_inbox_during_watch_is_at_the_new_server_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("job.db");
    let (src, dst) = switched_pair(&state).await;
    // The poll comes only after ten minutes, and each IDLE is renewed every
    // two seconds: a message there within seconds came through IDLE, and
    // through its renewals.
    let (summary, notices) = watch_while(
        &mailbox(src.plain_port(), &dst, &state),
        None,
        &settings(600, 2),
        |_| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            src.append("alice", "INBOX", &[mail("late", 1)]);
            let took = arrives(&dst, "INBOX", 4, Duration::from_secs(20)).await;
            // Well inside the ten-minute poll: IDLE brought it (no timed
            // bound beyond that, so a loaded machine doesn't fail it).
            assert!(took.is_some(), "the straggler never reached the new INBOX");
            src.append("alice", "INBOX", &[mail("late", 2)]);
            let took = arrives(&dst, "INBOX", 5, Duration::from_secs(20)).await;
            assert!(took.is_some(), "the second straggler never arrived");
        },
    )
    .await;
    assert_eq!(summary.end, End::Stopped);
    assert_eq!(summary.tally.total(), 2, "{notices:?}");
    assert!(
        matches!(&notices[0], Notice::Watching { idle, .. } if idle.iter().any(|f| f == "INBOX")),
        "{notices:?}"
    );
    assert_eq!(
        content(&dst.fetch_all("alice", "INBOX")),
        content(&src.fetch_all("alice", "INBOX")),
        "each message once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_delivered_to_another_folder_is_there_within_the_poll_interval() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("job.db");
    let (src, dst) = switched_pair(&state).await;
    let (summary, _) = watch_while(
        &mailbox(src.plain_port(), &dst, &state),
        None,
        &settings(2, 600),
        |_| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            src.append("alice", "Work", &[mail("late-work", 1)]);
            let took = arrives(&dst, "Work", 3, Duration::from_secs(20)).await;
            assert!(took.is_some(), "never caught by the 2 s poll");
        },
    )
    .await;
    assert_eq!(summary.tally.total(), 1);
    assert_eq!(
        content(&dst.fetch_all("alice", "Work")),
        content(&src.fetch_all("alice", "Work"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_idle_is_polled_and_the_message_still_caught() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("job.db");
    let (src, dst) = switched_pair(&state).await;
    let proxy = Proxy::with_fault(
        src.addr_plain(),
        Fault::rewrite(Direction::ToClient, " IDLE", ""),
    );
    let (summary, notices) = watch_while(
        &mailbox(proxy.port(), &dst, &state),
        None,
        &settings(2, 600),
        |_| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            src.append("alice", "INBOX", &[mail("late", 1)]);
            let took = arrives(&dst, "INBOX", 4, Duration::from_secs(20)).await;
            assert!(took.is_some(), "never caught by the poll");
        },
    )
    .await;
    assert!(
        matches!(&notices[0], Notice::Watching { idle, polled, .. } if idle.is_empty() && *polled > 2),
        "no IDLE offered: every folder polled: {notices:?}"
    );
    assert_eq!(summary.tally.total(), 1);
    assert_eq!(
        content(&dst.fetch_all("alice", "INBOX")),
        content(&src.fetch_all("alice", "INBOX"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_doubled_when_the_watch_is_cut_by_the_proxy_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("job.db");
    let (src, dst) = switched_pair(&state).await;
    let proxy = Proxy::start(src.addr_plain());
    let (summary, notices) = watch_while(
        &mailbox(proxy.port(), &dst, &state),
        None,
        &settings(600, 2),
        |_| async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            // The next IDLE (a renewal comes every 2 s) is cut as it starts.
            let cuts = proxy.cuts();
            proxy.set_fault_once(Fault::cut_after_match(Direction::ToClient, "+ idling"));
            let start = Instant::now();
            while proxy.cuts() == cuts {
                assert!(start.elapsed() < Duration::from_secs(20), "never cut");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
            src.append("alice", "INBOX", &[mail("after-cut", 1)]);
            assert!(arrives(&dst, "INBOX", 4, Duration::from_secs(20))
                .await
                .is_some());
            // Now the catch-up itself is cut as it reads the message.
            let cuts = proxy.cuts();
            proxy.set_fault_once(Fault::cut_after_match(Direction::ToClient, "BODY[] {"));
            src.append("alice", "INBOX", &[mail("after-cut", 2)]);
            assert!(arrives(&dst, "INBOX", 5, Duration::from_secs(30))
                .await
                .is_some());
            assert!(proxy.cuts() > cuts, "the catch-up was cut");
            tokio::time::sleep(Duration::from_secs(3)).await;
        },
    )
    .await;
    assert!(
        notices.iter().any(|n| matches!(n, Notice::Retrying { .. })),
        "the dropped IDLE was said: {notices:?}"
    );
    assert_eq!(summary.tally.total(), 2, "{notices:?}");
    assert_eq!(
        content(&dst.fetch_all("alice", "INBOX")),
        content(&src.fetch_all("alice", "INBOX")),
        "each message once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_up_waits_while_a_manual_copy_holds_the_progress_file() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("job.db");
    let (src, dst) = switched_pair(&state).await;
    let (summary, _) = watch_while(
        &mailbox(src.plain_port(), &dst, &state),
        None,
        &settings(600, 600),
        |_| async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let held = mailferry::state::State::open(&state, unix_now()).expect("the lock");
            src.append("alice", "INBOX", &[mail("while-held", 1)]);
            assert!(
                arrives(&dst, "INBOX", 4, Duration::from_secs(6))
                    .await
                    .is_none(),
                "nothing is written while another run holds the progress file"
            );
            drop(held);
            assert!(arrives(&dst, "INBOX", 4, Duration::from_secs(30))
                .await
                .is_some());
        },
    )
    .await;
    assert_eq!(summary.tally.total(), 1);
}

/// Starts `mailferry watch` on the pair.
fn spawn_watch(src: &Dovecot, dst: &Dovecot, state: &Path) -> std::process::Child {
    let (sides, passwords) = crate::common::both_sides(src, dst);
    std::process::Command::new(env!("CARGO_BIN_EXE_mailferry"))
        .arg("watch")
        .args(&sides)
        .args([
            "--state",
            state.to_str().unwrap(),
            "--poll",
            "2",
            "--for",
            "0.05",
        ])
        .envs(passwords)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start mailferry watch")
}

fn wait_for(dst: &Dovecot, n: usize) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if dst.fetch_all("alice", "INBOX").len() >= n {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn the_cli_watch_killed_and_restarted_doubles_nothing_and_ends_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("job.db");
    let src = server();
    let dst = server();
    src.append(
        "alice",
        "INBOX",
        &(0..3).map(|i| mail("in", i)).collect::<Vec<_>>(),
    );
    let before = run_both("watch", &src, &dst, &state, &[], &[]);
    assert_eq!(before.status.code(), Some(2), "{}", text(&before.stderr));
    assert!(
        text(&before.stdout).contains("switch is not recorded"),
        "{}",
        text(&before.stdout)
    );
    let sync = run_both("sync", &src, &dst, &state, &["--cutover-done"], &[]);
    assert_eq!(sync.status.code(), Some(0), "{}", text(&sync.stderr));

    let mut child = spawn_watch(&src, &dst, &state);
    src.append("alice", "INBOX", &[mail("late", 1)]);
    assert!(wait_for(&dst, 4), "the first straggler arrived");
    // Killed as the next one is being moved.
    src.append("alice", "INBOX", &[mail("late", 2)]);
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();

    let mut child = spawn_watch(&src, &dst, &state);
    assert!(
        wait_for(&dst, 5),
        "the second straggler arrived after the restart"
    );
    src.append("alice", "INBOX", &[mail("late", 3)]);
    assert!(wait_for(&dst, 6));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        content(&dst.fetch_all("alice", "INBOX")),
        content(&src.fetch_all("alice", "INBOX")),
        "each message once"
    );
    // --for 0.02 hours: it ends by itself after 72 seconds.
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(240),
            "--for ends the watch"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let out = child.wait_with_output().unwrap();
    assert!(status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("ran for the time it was given"), "{said}");
    assert!(
        text(&out.stderr).contains("Mail still arriving at the old server:"),
        "{}",
        text(&out.stderr)
    );
}

const H: i64 = 3600;

/// The stop rule, with the clock in the inputs: the cap always stops;
/// otherwise not before every answer shows the new MX and its old TTL has
/// passed, and not while mail still arrives.
#[test]
fn the_stop_rule() {
    let base = StopInputs {
        started: 1_000_000,
        now: 1_000_000,
        last_arrival: None,
        quiet_secs: 24 * H,
        cap_secs: None,
        mx: Mx::NotAsked,
    };
    let at = |hours: i64| base.now + hours * H;
    let new_mx = |since_h: i64, ttl_h: u32| Mx::OnlyNew {
        since: at(since_h),
        old_ttl_secs: ttl_h * 3600,
    };
    let cases: Vec<(&str, StopInputs, Option<End>)> = vec![
        ("just started", base, None),
        (
            "quiet for a day, MX not asked",
            StopInputs {
                now: at(24),
                ..base
            },
            Some(End::Quiet),
        ),
        (
            "quiet for 23 h",
            StopInputs {
                now: at(23),
                ..base
            },
            None,
        ),
        (
            "mail 2 h ago",
            StopInputs {
                now: at(30),
                last_arrival: Some(at(28)),
                ..base
            },
            None,
        ),
        (
            "quiet a day since the last mail",
            StopInputs {
                now: at(52),
                last_arrival: Some(at(28)),
                ..base
            },
            Some(End::Quiet),
        ),
        (
            "quiet, but a resolver still gives the old MX",
            StopInputs {
                now: at(48),
                mx: Mx::NotYetNew,
                ..base
            },
            None,
        ),
        (
            "quiet, new MX everywhere, old TTL not yet over",
            StopInputs {
                now: at(48),
                mx: new_mx(40, 12),
                ..base
            },
            None,
        ),
        (
            "quiet, new MX everywhere, old TTL over",
            StopInputs {
                now: at(48),
                mx: new_mx(30, 12),
                ..base
            },
            Some(End::Quiet),
        ),
        (
            "new MX and TTL over, but mail arrived an hour ago",
            StopInputs {
                now: at(48),
                mx: new_mx(1, 1),
                last_arrival: Some(at(47)),
                ..base
            },
            None,
        ),
        (
            "the cap, whatever arrives",
            StopInputs {
                now: at(5),
                cap_secs: Some(5 * H),
                last_arrival: Some(at(5)),
                mx: Mx::NotYetNew,
                ..base
            },
            Some(End::Cap),
        ),
        (
            "before the cap",
            StopInputs {
                now: at(4),
                cap_secs: Some(5 * H),
                ..base
            },
            None,
        ),
    ];
    for (what, inputs, want) in cases {
        assert_eq!(stop_rule(&inputs), want, "{what}");
    }
}

#[test]
fn the_live_line_counts_today_in_local_time() {
    // 2026-01-01 00:00 UTC.
    let midnight = 1_767_225_600;
    let tally = Tally {
        arrivals: vec![
            (midnight - 600, 2),
            (midnight + 3600, 1),
            (midnight + 14 * 3600 + 120, 2),
        ],
    };
    let now = midnight + 15 * 3600;
    assert_eq!(
        tally.line(now, 0),
        "Mail still arriving at the old server: 3 today, last at 14:02"
    );
    // An hour east of UTC, 23:50 UTC the day before is already today.
    assert_eq!(
        tally.line(now, 3600),
        "Mail still arriving at the old server: 5 today, last at 15:02"
    );
    assert_eq!(
        Tally::default().line(now, 0),
        "No new mail at the old server since the watch began."
    );
}
