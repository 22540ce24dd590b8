//! Killed at every step of a copy, resumed: the destination ends identical
//! every time — nothing lost, nothing doubled (RELIABILITY.md R01, R02, R05;
//! how mbsync tests its journal).
//!
//! The engine aborts itself at a named crash point (`MAILFERRY_CRASH_AT`,
//! see `src/crashpoint.rs`): no destructor runs, no buffer is flushed, the
//! SQLite transaction in progress is lost — the same as SIGKILL.

use crate::common::{self, both_sides, content, mailferry, run_both, text};
use mailferry_harness::{Direction, Dovecot, Fault, Layout, Message, Proxy};
use std::process::Output;

fn sync(src: &Dovecot, dst: &Dovecot, state: &std::path::Path, crash_at: Option<String>) -> Output {
    let crash = crash_at.map(|point| ("MAILFERRY_CRASH_AT", point));
    let env: Vec<(&str, &str)> = crash.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run_both("sync", src, dst, state, &["--batch-messages", "3"], &env)
}

fn messages() -> Vec<Message> {
    (0..10)
        .map(|i| {
            Message::new(
                format!("From: k{i}@x\r\nSubject: crash test {i}\r\nMessage-ID: <k{i}@x>\r\n\r\nbody {i}\r\n").into_bytes(),
            )
            .flags(if i % 2 == 0 { &["\\Seen"][..] } else { &["$Forwarded"][..] })
            .internal_date(&format!("{:02}-Jun-2023 10:00:00 +0000", i + 1))
        })
        .collect()
}

#[test]
fn killed_at_every_step_boundary_then_resumed_ends_identical() {
    let src = common::dovecot(Layout::Courier);
    src.create_mailbox("alice", "INBOX.Projects");
    let all = messages();
    src.append("alice", "INBOX", &all[..7]);
    src.append("alice", "INBOX.Projects", &all[7..]);
    let want_inbox = content(&src.fetch_all("alice", "INBOX"));
    let want_projects = content(&src.fetch_all("alice", "INBOX.Projects"));

    let mut crashes = 0;
    for point in ["before_append", "after_literal", "after_ok", "after_commit"] {
        for n in 1.. {
            let dst = common::dovecot(Layout::Exchange);
            let (_dir, state) = common::state_file();
            let crashed = sync(&src, &dst, &state, Some(format!("{point}:{n}")));
            let stderr = String::from_utf8_lossy(&crashed.stderr).into_owned();
            if crashed.status.success() {
                // The run passed `point` fewer than n times: every boundary
                // of this kind has been tried.
                assert!(n > 1, "{point} was never reached: {stderr}");
                break;
            }
            assert!(
                stderr.contains("crashing on purpose"),
                "{point}:{n} failed otherwise: {stderr}"
            );
            crashes += 1;

            let resumed = sync(&src, &dst, &state, None);
            let out = String::from_utf8_lossy(&resumed.stdout);
            assert!(
                resumed.status.success(),
                "{point}:{n}: resume failed: {out}\n{}",
                String::from_utf8_lossy(&resumed.stderr)
            );
            assert_eq!(
                content(&dst.fetch_all("alice", "INBOX")),
                want_inbox,
                "{point}:{n}: INBOX after resume\n{out}"
            );
            assert_eq!(
                content(&dst.fetch_all("alice", "Projects")),
                want_projects,
                "{point}:{n}: Projects after resume\n{out}"
            );
            let again = sync(&src, &dst, &state, None);
            assert!(
                String::from_utf8_lossy(&again.stdout).contains("Copied 0 messages"),
                "{point}:{n}: a further run copies nothing: {}",
                String::from_utf8_lossy(&again.stdout)
            );
        }
    }
    // 4 batches of 3 (7 + 3 messages in two folders) at each of the four
    // points: every one was a crash.
    assert!(crashes >= 12, "only {crashes} crash points were exercised");
}

#[test]
fn killed_after_a_flag_change_is_written_then_resumed_ends_right() {
    let src = common::dovecot(Layout::Exchange);
    src.append("alice", "INBOX", &messages());
    let dst = common::dovecot(Layout::Exchange);
    let (_dir, state) = common::state_file();
    assert!(sync(&src, &dst, &state, None).status.success());

    let mut session = src.session("alice");
    for c in [
        "SELECT INBOX",
        "UID STORE 1:3 +FLAGS (\\Flagged)",
        "UID STORE 1 -FLAGS (\\Seen)",
    ] {
        assert!(session.command(c).unwrap().is_ok(), "{c}");
    }
    session.logout();
    let crashed = sync(&src, &dst, &state, Some("after_store:1".to_owned()));
    assert!(
        !crashed.status.success(),
        "{}",
        String::from_utf8_lossy(&crashed.stderr)
    );
    let resumed = sync(&src, &dst, &state, None);
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    common::assert_folder_same(&src, &dst, "INBOX", "the same messages on both sides");
}

/// RELIABILITY.md R03: the APPEND in doubt, at a destination without
/// UIDPLUS (hidden by a proxy), so no APPENDUID says where a message went;
/// among the messages, two without a Message-ID and two different ones that
/// share one. The resumed run finds what had arrived by fingerprint:
/// nothing doubled, nothing merged.
#[test]
fn without_uidplus_an_append_in_doubt_is_found_by_its_fingerprint() {
    let src = common::dovecot(Layout::Exchange);
    let mut all = messages();
    for (i, (id, body)) in [
        ("", "no id one"),
        ("", "no id two"),
        ("Message-ID: <same@x>\r\n", "same id, first"),
        ("Message-ID: <same@x>\r\n", "same id, second"),
    ]
    .iter()
    .enumerate()
    {
        all.push(Message::new(
            format!("From: odd{i}@x\r\nSubject: odd {i}\r\n{id}\r\n{body}\r\n").into_bytes(),
        ));
    }
    src.append("alice", "INBOX", &all);
    let want = content(&src.fetch_all("alice", "INBOX"));

    let mut crashes = 0;
    for point in ["after_literal", "after_ok"] {
        for n in 1.. {
            let dst = common::dovecot(Layout::Exchange);
            // Dovecot sends APPENDUID whatever the client saw: hide both.
            let no_uidplus = Proxy::with_fault(
                dst.addr_plain(),
                Fault::All(vec![
                    Fault::rewrite(Direction::ToClient, " UIDPLUS", ""),
                    Fault::rewrite(Direction::ToClient, "[APPENDUID ", "[X-HIDDEN "),
                ]),
            );
            let (_dir, state) = common::state_file();
            let run = |crash_at: Option<String>| {
                let (mut args, passwords) = both_sides(&src, &dst);
                let port2 = args.iter().position(|a| a == "--port2").unwrap() + 1;
                args[port2] = no_uidplus.port().to_string();
                let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
                args.insert(0, "sync");
                args.extend(["--state", state.to_str().unwrap(), "--batch-messages", "3"]);
                let mut env = passwords.to_vec();
                if let Some(point) = &crash_at {
                    env.push(("MAILFERRY_CRASH_AT", point.as_str()));
                }
                mailferry(&args, &env)
            };
            let crashed = run(Some(format!("{point}:{n}")));
            if crashed.status.success() {
                assert!(n > 1, "{point} was never reached");
                break;
            }
            crashes += 1;
            let resumed = run(None);
            assert!(
                resumed.status.success(),
                "{point}:{n}: {}",
                String::from_utf8_lossy(&resumed.stderr)
            );
            assert_eq!(
                content(&dst.fetch_all("alice", "INBOX")),
                want,
                "{point}:{n}: every message once, none merged"
            );
        }
    }
    assert!(crashes >= 8, "only {crashes} crash points were exercised");
}

/// A message of about 110 KB: a batch of 40 is over 4 MiB, which the run
/// splits between two destination connections.
fn big(tag: &str, i: usize) -> Message {
    let line = format!("{tag} {i:03} {}\r\n", "y".repeat(68));
    Message::new(
        format!(
            "From: big{i}@x\r\nSubject: {tag} {i}\r\nMessage-ID: <{tag}-{i}@x>\r\n\r\n{}",
            line.repeat(1_400)
        )
        .into_bytes(),
    )
    .flags(match i % 3 {
        0 => &["\\Seen"][..],
        1 => &["\\Seen", "$Forwarded"][..],
        _ => &[][..],
    })
    .internal_date(&format!(
        "{:02}-Jun-2023 10:{:02}:00 +0000",
        1 + i % 28,
        i % 60
    ))
}

/// `sync` of the big job: batches of 40, two writers, through `proxy`
/// in front of the destination; logs the copy's steps to stderr.
fn sync_big(src: &Dovecot, proxy: &Proxy, state: &std::path::Path, crash_at: &str) -> Output {
    let (mut args, passwords) = common::both_ports(src.plain_port(), proxy.port());
    args.insert(0, "sync".to_owned());
    args.extend(
        [
            "--state",
            state.to_str().unwrap(),
            "--batch-messages",
            "40",
            "--connections",
            "2",
        ]
        .map(str::to_owned),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut env = passwords.to_vec();
    env.push(("MAILFERRY_LOG", "mailferry=debug"));
    if !crash_at.is_empty() {
        env.push(("MAILFERRY_CRASH_AT", crash_at));
    }
    mailferry(&args, &env)
}

/// Killed at `point`, then one clean run: the destination must equal the
/// source (content, flags, dates; nothing doubled), and a further run
/// copies nothing. The killed run's log, or `None` when it never reached
/// `point` that often.
fn crash_then_resume(
    src: &Dovecot,
    dst: &Dovecot,
    state: &std::path::Path,
    point: &str,
) -> Option<String> {
    let proxy = Proxy::start(dst.addr_plain());
    let crashed = sync_big(src, &proxy, state, point);
    let stderr = text(&crashed.stderr);
    if crashed.status.success() {
        return None;
    }
    assert!(
        stderr.contains("crashing on purpose"),
        "{point} failed otherwise: {stderr}"
    );
    let resumed = sync_big(src, &proxy, state, "");
    assert_eq!(
        resumed.status.code(),
        Some(0),
        "{point}: the clean run: {}\n{}",
        text(&resumed.stdout),
        text(&resumed.stderr)
    );
    assert_eq!(
        content(&dst.fetch_all("alice", "INBOX")),
        content(&src.fetch_all("alice", "INBOX")),
        "{point}: exact after the clean run\n{}",
        text(&resumed.stdout)
    );
    let again = sync_big(src, &proxy, state, "");
    assert!(
        text(&again.stdout).contains("Copied 0 messages"),
        "{point}: a further run copies nothing: {}",
        text(&again.stdout)
    );
    assert!(
        proxy.peak_connections() >= 2,
        "{point}: the batches went through two destination connections"
    );
    Some(stderr)
}

/// RELIABILITY.md R01 on a 200-message job (about 22 MB) with two
/// writers: killed at every crash point of the first copy, then at every
/// crash point of a second pass that finds new mail and flag changes since
/// a clean one (the CHANGEDSINCE path, with flag writes); after each kill
/// one clean run ends exact.
#[test]
fn killed_at_every_step_of_a_large_job_with_two_writers_and_a_delta_pass_ends_exact() {
    let src = common::dovecot(Layout::Exchange);
    let base: Vec<Message> = (0..200).map(|i| big("base", i)).collect();
    src.append("alice", "INBOX", &base);
    let fresh = || common::dovecot(Layout::Exchange);

    // The first copy: 5 batches; two APPENDs (one per writer) each, but
    // for a first batch or so written over one connection while another
    // folder (copied at the same time) holds the second place.
    let mut crashes = 0;
    for point in ["before_append", "after_literal", "after_ok", "after_commit"] {
        for n in 1.. {
            let dst = fresh();
            let (_dir, state) = common::state_file();
            if crash_then_resume(&src, &dst, &state, &format!("{point}:{n}")).is_none() {
                assert!(n > 1, "{point} was never reached");
                break;
            }
            crashes += 1;
        }
    }
    assert!(
        crashes >= 18,
        "only {crashes} crash points of the first copy"
    );

    // The second pass: after a clean copy, 40 new messages arrive and 40
    // old ones change flags; the run reads only what changed. Each kill
    // starts from the same clean copy: the changes are undone at the
    // source, a fresh destination copied cleanly, the changes made again.
    let originals = src.fetch_all("alice", "INBOX");
    let mut delta_crashes = 0;
    for point in [
        "before_append:1",
        "after_literal:1",
        "after_literal:2",
        "after_ok:1",
        "after_commit:1",
        "after_store:1",
    ] {
        let mut session = src.session("alice");
        assert!(session.command("SELECT INBOX").unwrap().is_ok());
        let last = originals.last().unwrap().uid;
        assert!(session
            .command(&format!(
                "UID STORE {}:* +FLAGS.SILENT (\\Deleted)",
                last + 1
            ))
            .unwrap()
            .is_ok());
        assert!(session.command("EXPUNGE").unwrap().is_ok());
        for m in &originals[..40] {
            let c = format!("UID STORE {} FLAGS.SILENT ({})", m.uid, m.flags.join(" "));
            assert!(session.command(&c).unwrap().is_ok(), "{c}");
        }
        session.logout();

        let dst = fresh();
        let (_dir, state) = common::state_file();
        let proxy = Proxy::start(dst.addr_plain());
        let clean = sync_big(&src, &proxy, &state, "");
        assert_eq!(clean.status.code(), Some(0), "{}", text(&clean.stderr));

        src.append(
            "alice",
            "INBOX",
            &(0..40)
                .map(|i| big(&format!("new{delta_crashes}"), i))
                .collect::<Vec<_>>(),
        );
        let mut session = src.session("alice");
        for c in [
            "SELECT INBOX".to_owned(),
            format!(
                "UID STORE {}:{} +FLAGS.SILENT (\\Flagged $Delta)",
                originals[0].uid, originals[19].uid
            ),
            format!(
                "UID STORE {}:{} -FLAGS.SILENT (\\Seen)",
                originals[20].uid, originals[39].uid
            ),
        ] {
            assert!(session.command(&c).unwrap().is_ok(), "{c}");
        }
        session.logout();

        let killed = crash_then_resume(&src, &dst, &state, point)
            .unwrap_or_else(|| panic!("{point} was never reached in the second pass"));
        assert!(
            killed.contains("changed since the last run"),
            "{point}: the killed pass read only what changed: {killed}"
        );
        delta_crashes += 1;
    }
    assert_eq!(delta_crashes, 6);
}
