//! `./dev run`: two demo mail servers on this computer, with sample mail, and
//! MailFerry run against them — the app without any real account.
//!
//! The source looks like Gmail (labels, `[Gmail]/…`, All Mail); the
//! destination looks like Microsoft 365 (`Sent Items`, `Deleted Items`). Both
//! listen on 127.0.0.1 only and disappear when this program ends.

use mailferry_harness::demo::{DemoDomain, DEMO_PASSWORD, DEMO_USER, DEMO_USERS};
use std::io::IsTerminal;
use std::path::Path;
use std::process::Command;

fn main() {
    let mailferry = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "mailferry".to_owned());
    if !mailferry_harness::dovecot_available() {
        eprintln!(
            "mailferry-demo: Dovecot is not installed or this is not root; run ./dev setup as root"
        );
        std::process::exit(2);
    }
    eprintln!("Starting two demo mail servers on 127.0.0.1 …");
    let DemoDomain {
        source,
        destination,
        contacts,
    } = DemoDomain::start();

    let dir = tempfile::tempdir().expect("temp dir");
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write demo file");
        path
    };
    let pass = file("password", &format!("{DEMO_PASSWORD}\n"));
    let ca1 = file("source-ca.pem", source.ca_pem());
    let ca2 = file("destination-ca.pem", destination.ca_pem());
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let servers = [
        "--host1".to_owned(),
        "127.0.0.1".into(),
        "--port1".into(),
        source.tls_port().to_string(),
        "--cafile1".into(),
        s(&ca1),
        "--host2".into(),
        "127.0.0.1".into(),
        "--port2".into(),
        destination.plain_port().to_string(),
        "--starttls2".into(),
        "--cafile2".into(),
        s(&ca2),
    ];
    let mut sides = servers.to_vec();
    sides.extend([
        "--user1".to_owned(),
        DEMO_USER.into(),
        "--passfile1".into(),
        s(&pass),
        "--user2".into(),
        DEMO_USER.into(),
        "--passfile2".into(),
        s(&pass),
    ]);
    // The other mailboxes of the office, as a list an administrator keeps.
    let list: String = DEMO_USERS[1..]
        .iter()
        .map(|(user, password)| format!("{user},{user},{password}\n"))
        .collect();
    let list = s(&file(
        "mailboxes.csv",
        &format!("Old mailbox,New mailbox,Password\n{list}"),
    ));
    let state = s(&dir.path().join("demo-job.db"));
    eprintln!(
        "Source (Gmail-like):       127.0.0.1:{} TLS, user {DEMO_USER}, password {DEMO_PASSWORD}",
        source.tls_port()
    );
    eprintln!(
        "Destination (365-like):    127.0.0.1:{} STARTTLS, same user",
        destination.plain_port()
    );
    let others: Vec<String> = DEMO_USERS[1..]
        .iter()
        .map(|(user, password)| format!("{user} (password {password})"))
        .collect();
    eprintln!(
        "Also on both servers:      {} (the desktop app moves all three)",
        others.join(", ")
    );
    // The whole migration, step by step, as an administrator would run it;
    // then the rest of the office, from a list, two at a time.
    let steps: [(&str, &[&str], bool); 5] = [
        ("check", &[], true),
        ("folders", &[], true),
        ("sync", &["--state", &state], true),
        ("verify", &["--state", &state], true),
        ("sync", &["--mailboxes", &list, "--at-once", "2"], false),
    ];
    // Progress files go to the demo's folder, not the user's.
    let run = |args: &[String]| match Command::new(&mailferry)
        .args(args)
        .env("MAILFERRY_DATA_DIR", dir.path())
        .status()
    {
        Ok(s) => s.code().unwrap_or(2),
        Err(e) => {
            eprintln!("mailferry-demo: cannot run {mailferry}: {e}");
            2
        }
    };
    let mut code = 0;
    for (command, extra, one_mailbox) in steps {
        let mut args = vec![command.to_owned()];
        args.extend(
            if one_mailbox {
                sides.iter()
            } else {
                servers.iter()
            }
            .cloned(),
        );
        args.extend(extra.iter().map(|a| a.to_string()));
        eprintln!(
            "\n$ mailferry {command} <the two servers above>{}\n",
            if extra.is_empty() {
                String::new()
            } else {
                format!(" {}", extra.join(" "))
            }
        );
        code = run(&args);
        if code != 0 {
            break;
        }
    }
    // The owner's contacts and calendar, when the demo has their servers.
    if let (0, Some((old, new))) = (code, &contacts) {
        let args = [
            "dav".to_owned(),
            "sync".into(),
            "--dav1".into(),
            format!("{}/", old.url()),
            "--user1".into(),
            DEMO_USER.into(),
            "--passfile1".into(),
            s(&pass),
            "--dav2".into(),
            format!("{}/", new.url()),
            "--user2".into(),
            DEMO_USER.into(),
            "--passfile2".into(),
            s(&pass),
        ];
        eprintln!("\n$ mailferry dav sync <the contacts and calendar servers of the demo>\n");
        code = run(&args);
    }
    if std::io::stdin().is_terminal() {
        eprintln!(
            "The demo servers keep running so you can try other commands (files in {}).",
            dir.path().display()
        );
        eprintln!("Press Enter to stop them.");
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    }
    drop(source);
    drop(destination);
    drop(contacts);
    std::process::exit(code);
}
