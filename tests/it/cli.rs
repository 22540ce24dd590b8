//! `mailferry check` as an administrator runs it: flags, password sources,
//! the printed verdict, `--json`, and exit codes (0 both fine, 2 otherwise).

use crate::common::{self, mailferry, run_both, text};
use mailferry_harness::{Dovecot, Layout, Message};

#[test]
fn check_both_sides_prints_a_verdict_for_each() {
    let src = Dovecot::start(Layout::Gmail);
    let dst = Dovecot::start(Layout::Exchange);
    let dir = tempfile::tempdir().unwrap();
    let passfile = dir.path().join("pass");
    std::fs::write(&passfile, "alicepass\n").unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, dst.ca_pem()).unwrap();
    let (sp, dp) = (src.tls_port().to_string(), dst.plain_port().to_string());
    let pin = src.leaf_sha256_hex();
    let out = mailferry(
        &[
            "check",
            "--host1",
            "127.0.0.1",
            "--port1",
            &sp,
            "--user1",
            "alice",
            "--passfile1",
            passfile.to_str().unwrap(),
            "--pin-cert1",
            &pin,
            "--host2",
            "127.0.0.1",
            "--port2",
            &dp,
            "--starttls2",
            "--user2",
            "alice",
            "--cafile2",
            ca.to_str().unwrap(),
        ],
        &[("MAILFERRY_PASSWORD2", "alicepass")],
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("Source: 127.0.0.1"), "{stdout}");
    assert!(stdout.contains("Destination: 127.0.0.1"), "{stdout}");
    assert_eq!(stdout.matches("✓ Signed in").count(), 2, "{stdout}");
    assert_eq!(stdout.matches("Verdict: ready").count(), 2, "{stdout}");
    assert!(
        stdout.contains("UIDPLUS"),
        "capabilities are printed: {stdout}"
    );
    assert!(!stdout.contains("alicepass") && !text(&out.stderr).contains("alicepass"));
}

#[test]
fn json_output_and_exit_code_two_on_failure() {
    let dst = Dovecot::start(Layout::Exchange);
    let port = dst.tls_port().to_string();
    let out = mailferry(
        &[
            "check",
            "--host2",
            "127.0.0.1",
            "--port2",
            &port,
            "--user2",
            "alice",
            "--json",
            "--timeout2",
            "5",
        ],
        &[("MAILFERRY_PASSWORD2", "alicepass")],
    );
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let failure = &json["destination"]["failure"];
    assert_eq!(failure["problem"]["code"], "TlsUntrustedCertificate");
    assert_eq!(failure["step"], "secure_connection");
    let shown = failure["problem"]["sha256"]
        .as_str()
        .unwrap()
        .replace(':', "")
        .to_lowercase();
    assert_eq!(
        shown,
        dst.leaf_sha256_hex(),
        "the fingerprint to pin is in the output"
    );
    assert!(
        json.get("source").is_none(),
        "only the side asked for is checked"
    );
}

#[test]
fn no_password_anywhere_is_a_clear_error() {
    let out = mailferry(&["check", "--host1", "127.0.0.1", "--user1", "alice"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--passfile1") && stderr.contains("MAILFERRY_PASSWORD1"),
        "{stderr}"
    );
}

#[test]
fn nothing_to_check_is_a_clear_error() {
    let out = mailferry(&["check"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--host1"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn there_is_no_password_flag() {
    // Passwords on the command line end up in shell history and `ps`.
    let out = mailferry(
        &["check", "--host1", "h", "--user1", "u", "--password1", "x"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn sync_copies_then_copies_nothing_and_reports_as_json() {
    let src = Dovecot::start(Layout::Courier);
    let dst = Dovecot::start(Layout::Exchange);
    src.create_mailbox("alice", "INBOX.Clients");
    let msgs: Vec<Message> = (0..12)
        .map(|i| {
            let extra = if i == 11 {
                "x".repeat(50_000)
            } else {
                String::new()
            };
            Message::new(
                format!(
                    "From: s{i}@x\r\nSubject: s{i}\r\nMessage-ID: <s{i}@x>\r\n\r\nbody{extra}\r\n"
                )
                .into_bytes(),
            )
        })
        .collect();
    src.append("alice", "INBOX", &msgs[..8]);
    src.append("alice", "INBOX.Clients", &msgs[8..]);
    let (_dir, state) = common::state_file();
    let sync = |extra: &[&str]| run_both("sync", &src, &dst, &state, extra, &[]);

    let dry = sync(&["--dry"]);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry.stderr));
    assert!(
        text(&dry.stdout).contains("Would copy 12 messages"),
        "{}",
        text(&dry.stdout)
    );
    assert!(
        dst.fetch_all("alice", "INBOX").is_empty(),
        "--dry copies nothing"
    );

    let bulk = sync(&["--maxsize", "10000", "--json"]);
    assert_eq!(bulk.status.code(), Some(0), "{}", text(&bulk.stderr));
    let report: serde_json::Value = serde_json::from_slice(&bulk.stdout).expect("JSON report");
    let copied: u64 = report["folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["transferred"].as_u64().unwrap())
        .sum();
    assert_eq!(
        copied, 11,
        "the large message waits for the large-message pass"
    );

    let rest = sync(&[]);
    let out = text(&rest.stdout);
    assert_eq!(rest.status.code(), Some(0), "{out}\n{}", text(&rest.stderr));
    assert!(out.contains("Copied 1 message "), "{out}");
    assert!(
        out.contains("INBOX.Clients") || out.contains("Clients → Clients"),
        "{out}"
    );

    let again = sync(&[]);
    assert!(
        text(&again.stdout).contains("Copied 0 messages"),
        "{}",
        text(&again.stdout)
    );
    assert_eq!(dst.fetch_all("alice", "INBOX").len(), 8);
    assert_eq!(dst.fetch_all("alice", "Clients").len(), 4);

    let sizes = sync(&["--justfoldersizes"]);
    let out = text(&sizes.stdout);
    assert_eq!(sizes.status.code(), Some(0), "{out}");
    assert!(
        out.contains("Total: 12 messages") && out.contains("at the destination"),
        "{out}"
    );
    assert!(
        out.matches("12 messages").count() == 1 && out.contains("12 ("),
        "both sides counted: {out}"
    );
}

#[test]
fn verify_says_safe_only_when_every_gap_is_explained_and_log_finds_messages() {
    let src = Dovecot::start(Layout::Gmail);
    let dst = Dovecot::start(Layout::Exchange);
    let msg = |i: usize, from: &str, extra: &str| {
        Message::new(
            format!(
                "From: {from}\r\nSubject: Invoice {i}\r\nDate: Tue, 12 Mar 2024 10:00:00 +0000\r\nMessage-ID: <v{i}@x>\r\n\r\nbody{extra}\r\n"
            )
            .into_bytes(),
        )
    };
    let inbox = vec![
        msg(1, "Bob <bob@example.com>", ""),
        msg(2, "Carol <carol@example.com>", ""),
        msg(3, "Bob <bob@example.com>", &"z".repeat(40_000)),
    ];
    src.append("alice", "INBOX", &inbox);
    src.append("alice", "[Gmail]/All Mail", &inbox);
    let (_dir, state) = common::state_file();
    let run = |command: &str, extra: &[&str]| run_both(command, &src, &dst, &state, extra, &[]);

    // The big one is held back by --maxsize: a known reason, but it is not
    // at the new server yet, so not safe until the large-message pass.
    let copy = run("sync", &["--maxsize", "10000"]);
    assert_eq!(copy.status.code(), Some(0), "{}", text(&copy.stderr));
    let check = run("verify", &[]);
    let out = text(&check.stdout);
    assert_eq!(
        check.status.code(),
        Some(1),
        "{out}\n{}",
        text(&check.stderr)
    );
    assert!(out.contains("Not safe to switch yet"), "{out}");
    assert!(
        out.contains("Invoice 3") && out.contains("size limit"),
        "the gap is listed with its reason: {out}"
    );

    // New mail at the source since the copy: not safe until copied.
    src.append("alice", "INBOX", &[msg(4, "Dave <dave@example.com>", "")]);
    let check = run("verify", &["--json"]);
    assert_eq!(check.status.code(), Some(1));
    let audit: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(audit["safe_to_switch"], false);
    let copy = run("sync", &[]);
    assert_eq!(copy.status.code(), Some(0));
    let check = run("verify", &[]);
    assert!(
        text(&check.stdout).contains("All 4 messages arrived"),
        "{}",
        text(&check.stdout)
    );

    // "Where is Bob's email from March?"
    let found = mailferry(
        &[
            "log",
            "--search",
            "bob march",
            "--state",
            state.to_str().unwrap(),
        ],
        &[],
    );
    let out = text(&found.stdout);
    assert_eq!(found.status.code(), Some(0), "{}", text(&found.stderr));
    assert!(
        out.contains("Invoice 1") && out.contains("Invoice 3"),
        "{out}"
    );
    assert!(!out.contains("Invoice 2"), "Carol's is not Bob's: {out}");
    assert!(out.contains("copied to INBOX"), "{out}");
}

/// The whole staged plan as an administrator runs it: bulk copy without
/// the big messages, a catch-up, the large-message pass, the switch, the
/// final catch-up, and the check that says it is safe.
#[test]
fn a_staged_migration_end_to_end() {
    let src = common::dovecot(Layout::Gmail);
    let dst = common::dovecot(Layout::Exchange);
    let msg = |i: usize, size: usize| {
        Message::new(
            format!(
                "From: c{i}@x\r\nSubject: staged {i}\r\nMessage-ID: <st{i}@x>\r\n\r\n{}\r\n",
                "s".repeat(size)
            )
            .into_bytes(),
        )
        .flags(&["\\Seen"])
    };
    src.create_mailbox("alice", "Clients");
    let first: Vec<Message> = (0..20).map(|i| msg(i, 100)).collect();
    src.append("alice", "INBOX", &first[..12]);
    src.append("alice", "Clients", &first[12..]);
    src.append("alice", "[Gmail]/All Mail", &first);
    src.append("alice", "[Gmail]/All Mail", &[msg(90, 100)]); // archived only
    let whale = msg(99, 26_000_000);
    src.append("alice", "INBOX", std::slice::from_ref(&whale));
    src.append("alice", "[Gmail]/All Mail", &[whale]);

    let (dir, state) = common::state_file();
    let passfile = dir.path().join("pw");
    std::fs::write(&passfile, "alicepass\n").unwrap();
    let (sp, dp) = (src.plain_port().to_string(), dst.plain_port().to_string());
    let run = |command: &str, extra: &[&str]| {
        let mut args = vec![
            command,
            "--host1",
            "127.0.0.1",
            "--port1",
            &sp,
            "--plain1",
            "--user1",
            "alice",
            "--passfile1",
            passfile.to_str().unwrap(),
            "--host2",
            "127.0.0.1",
            "--port2",
            &dp,
            "--plain2",
            "--user2",
            "alice",
            "--passfile2",
            passfile.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = mailferry(&args, &[]);
        assert!(
            out.status.code() == Some(0) || command == "verify",
            "{command} {extra:?}: {}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    };

    let bulk = run("sync", &["--maxsize", "25000000"]);
    assert!(bulk.contains("Copied 21 messages"), "bulk: {bulk}");
    src.append("alice", "INBOX", &[msg(21, 100)]);
    src.append("alice", "[Gmail]/All Mail", &[msg(21, 100)]);
    let delta = run("sync", &["--maxsize", "25000000"]);
    assert!(delta.contains("Copied 1 message "), "catch-up: {delta}");
    let large = run("sync", &[]);
    assert!(
        large.contains("Copied 1 message "),
        "large-message pass: {large}"
    );
    let switch = run("sync", &["--cutover-done"]);
    assert!(switch.contains("Copied 0 messages"), "{switch}");
    src.append("alice", "INBOX", &[msg(22, 100)]);
    src.append("alice", "[Gmail]/All Mail", &[msg(22, 100)]);
    let last = run("sync", &[]);
    assert!(last.contains("Copied 1 message "), "final catch-up: {last}");
    let verdict = run("verify", &[]);
    assert!(verdict.contains("All 24 messages arrived"), "{verdict}");
    assert!(verdict.contains("Safe to switch"), "{verdict}");
    assert_eq!(
        dst.fetch_all("alice", "Archive").len(),
        1,
        "the archived-only message"
    );

    // No secret in the progress file (database and its journal).
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("job.db"))
        {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(9).any(|w| w == b"alicepass"),
                "{} holds the password",
                path.display()
            );
        }
    }
}

/// Without `--state`, progress goes to the platform's data folder
/// (`$XDG_DATA_HOME/MailFerry/jobs` here, on Linux), one file per pair of
/// accounts, where `log` and the desktop app find it; `MAILFERRY_DATA_DIR`
/// moves the whole folder (a portable install).
#[test]
fn progress_lives_in_the_platform_data_folder() {
    let src = Dovecot::start(Layout::Gmail);
    let dst = Dovecot::start(Layout::Exchange);
    src.append(
        "alice",
        "INBOX",
        &[Message::new(
            b"From: Bob <bob@example.com>\r\nSubject: Lease renewal\r\nMessage-ID: <lease@x>\r\n\r\nhi\r\n"
                .to_vec(),
        )],
    );
    let dir = tempfile::tempdir().unwrap();
    let (home, xdg, portable) = (
        dir.path().join("home"),
        dir.path().join("xdg"),
        dir.path().join("portable"),
    );
    let (sides, passwords) = common::both_sides(&src, &dst);
    let run = |command: &[&str], data_dir: Option<&std::path::Path>| {
        let mut args: Vec<&str> = command.to_vec();
        if command[0] == "sync" {
            args.extend(sides.iter().map(String::as_str));
        }
        let mut env: Vec<(&str, &str)> = passwords.to_vec();
        env.push(("HOME", home.to_str().unwrap()));
        env.push(("XDG_DATA_HOME", xdg.to_str().unwrap()));
        env.push((
            "MAILFERRY_DATA_DIR",
            data_dir.map_or("", |d| d.to_str().unwrap()),
        ));
        mailferry(&args, &env)
    };
    let job = |root: &std::path::Path| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(root.join("jobs"))
            .map(|rd| {
                rd.map(|e| e.unwrap().path())
                    .filter(|p| p.extension().is_some_and(|x| x == "db"))
                    .collect()
            })
            .unwrap_or_default()
    };

    let out = run(&["sync"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let files = job(&xdg.join("MailFerry"));
    assert_eq!(files.len(), 1, "one progress file: {files:?}");
    let name = files[0].file_name().unwrap().to_str().unwrap();
    assert!(
        name.ends_with(".db") && !name.contains("alice"),
        "named by a digest, not by the accounts: {name}"
    );
    let found = run(&["log", "--search", "lease"], None);
    assert!(
        text(&found.stdout).contains("Lease renewal"),
        "log finds the job without --state: {}{}",
        text(&found.stdout),
        text(&found.stderr)
    );

    let out = run(&["sync"], Some(&portable));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(job(&portable).len(), 1, "MAILFERRY_DATA_DIR holds the job");
    assert_eq!(
        job(&xdg.join("MailFerry")).len(),
        1,
        "and nothing more went to the other"
    );
    assert!(
        !home.exists(),
        "nothing was written in the home folder itself"
    );
}
