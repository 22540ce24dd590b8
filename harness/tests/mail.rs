//! The mail helpers round-trip what the engine's tests load and check: flags,
//! keywords, internal dates, huge and odd bodies, awkward passwords, quota.

use std::collections::BTreeSet;
use std::time::Instant;

use mailferry_harness::{Dovecot, ImapSession, Layout, Message};

fn flag_set(flags: &[String]) -> BTreeSet<String> {
    flags.iter().cloned().collect()
}

#[test]
fn append_fetch_round_trip() {
    let d = Dovecot::start(Layout::Exchange);
    let msgs = vec![
        Message::new(b"Subject: one\r\n\r\nfirst\r\n".to_vec())
            .flags(&["\\Seen", "$Forwarded"])
            .internal_date("01-Jan-2020 10:00:00 +0000"),
        Message::new(b"Subject: two\r\n\r\nsecond\r\n".to_vec()).flags(&[
            "\\Answered",
            "\\Flagged",
            "\\Draft",
            "\\Deleted",
        ]),
        // Bare LF line ends and 8-bit bytes: Dovecot serves CRLF.
        Message::new(b"Subject: lf\n\nline\nline \xe4\xff\n".to_vec())
            .internal_date("29-Feb-2016 23:59:59 +0200"),
    ];
    let uids = d.append("alice", "Sent Items", &msgs);
    assert_eq!(uids, [1, 2, 3]);
    let got = d.fetch_all("alice", "Sent Items");
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].uid, 1);
    assert_eq!(flag_set(&got[0].flags), flag_set(&msgs[0].flags));
    assert_eq!(got[0].internal_date, "01-Jan-2020 10:00:00 +0000");
    assert_eq!(got[0].body, msgs[0].body);
    assert_eq!(flag_set(&got[1].flags), flag_set(&msgs[1].flags));
    assert_eq!(got[2].flags, Vec::<String>::new());
    // Same instant, shown in the server's zone (the harness runs Dovecot with TZ=UTC).
    assert_eq!(got[2].internal_date, "29-Feb-2016 21:59:59 +0000");
    assert_eq!(got[2].body, b"Subject: lf\r\n\r\nline\r\nline \xe4\xff\r\n");
    assert!(d.fetch_all("alice", "Drafts").is_empty());
}

#[test]
fn thirty_megabyte_body() {
    let d = Dovecot::builder().fsync(false).build();
    let mut body = b"Subject: big\r\nContent-Type: application/octet-stream\r\n\r\n".to_vec();
    let line: Vec<u8> = (0..76u8).map(|i| b'A' + i % 26).chain(*b"\r\n").collect();
    while body.len() < 30 * 1024 * 1024 {
        body.extend_from_slice(&line);
    }
    let t = Instant::now();
    let uids = d.append("alice", "INBOX", &[Message::new(body.clone())]);
    let fetched = d.fetch_all("alice", "INBOX");
    eprintln!("30 MB append + fetch: {:?}", t.elapsed());
    assert_eq!(uids, [1]);
    assert_eq!(fetched.len(), 1);
    assert!(fetched[0].body == body, "30 MB body differs");
}

#[test]
fn five_thousand_messages_quickly() {
    let d = Dovecot::builder()
        .layout(Layout::Gmail)
        .fsync(false)
        .build();
    let msgs: Vec<Message> = (0..5000)
        .map(|i| {
            Message::new(format!(
                "From: a@example.com\r\nSubject: message {i}\r\nMessage-ID: <{i}@example.com>\r\n\r\n{}\r\n",
                "body text ".repeat(30)
            ))
            .flags(if i % 2 == 0 { &["\\Seen"] } else { &[] })
        })
        .collect();
    let t = Instant::now();
    let uids = d.append("alice", "[Gmail]/All Mail", &msgs);
    let took = t.elapsed();
    eprintln!("5000 APPENDs (MULTIAPPEND batches): {took:?}");
    assert_eq!(uids, (1..=5000).collect::<Vec<u32>>());
    let t = Instant::now();
    let got = d.fetch_all("alice", "[Gmail]/All Mail");
    eprintln!("fetch_all of 5000: {:?}", t.elapsed());
    assert_eq!(got.len(), 5000);
    assert_eq!(got[4999].body, msgs[4999].body);
    assert_eq!(got[10].flags, ["\\Seen"]);
    assert!(took.as_secs() < 20, "5000 APPENDs took {took:?}");
}

#[test]
fn awkward_passwords_log_in() {
    let awkward = "pä\"ss\\ wö:rd {3}*%€ ";
    let d = Dovecot::builder()
        .user("carol", awkward)
        .user("dave", "pässwörd")
        .user("alice", "new:alice")
        .build();
    let passwd = std::fs::read_to_string(d.dir().join("passwd")).unwrap();
    assert!(
        passwd.contains("{SHA256.b64}") && !passwd.contains("pässwörd"),
        "{passwd}"
    );
    assert_eq!(passwd.lines().count(), 3, "{passwd}");

    for (user, pass) in [
        ("carol", awkward),
        ("dave", "pässwörd"),
        ("alice", "new:alice"),
    ] {
        let mut s = ImapSession::connect(d.addr_plain()).unwrap();
        let r = s.login(user, pass).unwrap();
        assert!(r.is_ok(), "LOGIN {user}: {}\n{}", r.tagged, d.log());
        let mut s = ImapSession::connect(d.addr_plain()).unwrap();
        let r = s.authenticate_plain(user, pass).unwrap();
        assert!(r.is_ok(), "AUTHENTICATE {user}: {}\n{}", r.tagged, d.log());
    }
    let mut s = ImapSession::connect(d.addr_plain()).unwrap();
    let r = s.login("alice", "alicepass").unwrap();
    assert!(
        r.tagged.starts_with("NO [AUTHENTICATIONFAILED]"),
        "{}",
        r.tagged
    );
    // The helpers use the configured password.
    d.create_mailbox("carol", "INBOX.Entwürfe");
    assert!(d.list("carol").contains(&"INBOX.Entw&APw-rfe".to_string()));
    d.append(
        "carol",
        "INBOX.Entwürfe",
        &[Message::new(b"Subject: x\r\n\r\ny\r\n".to_vec())],
    );
    assert_eq!(d.fetch_all("carol", "INBOX.Entwürfe").len(), 1);
}

#[test]
fn quota_gives_overquota_and_the_pipeline_stays_in_sync() {
    let d = Dovecot::builder().quota_bytes(Some(50_000)).build();
    let big = Message::new([b"Subject: q\r\n\r\n".to_vec(), vec![b'x'; 20_000]].concat());
    let results = d.try_append(
        "alice",
        "INBOX",
        &[big.clone(), big.clone(), big.clone(), big],
    );
    assert_eq!(results[0], Ok(1));
    assert_eq!(results[1], Ok(2));
    for r in &results[2..] {
        let err = r.as_ref().unwrap_err();
        assert!(err.starts_with("NO [OVERQUOTA]"), "{err}");
    }
    assert_eq!(d.fetch_all("alice", "INBOX").len(), 2);
    let mut s = d.session("alice");
    let quota = s.command("GETQUOTAROOT INBOX").unwrap().untagged_text();
    assert!(quota.iter().any(|l| l.contains("STORAGE")), "{quota:?}");
}

#[test]
fn append_to_missing_mailbox_fails_cleanly() {
    let d = Dovecot::start(Layout::Courier);
    let m = Message::new(b"Subject: x\r\n\r\n{5}\r\nhello\r\n".to_vec());
    let results = d.try_append("alice", "INBOX.Nope", &[m.clone(), m.clone()]);
    for r in &results {
        assert!(
            r.as_ref().unwrap_err().starts_with("NO [TRYCREATE]"),
            "{r:?}"
        );
    }
    d.create_mailbox("alice", "INBOX.Nope");
    assert_eq!(d.append("alice", "INBOX.Nope", &[m]), [1]);
}

#[test]
fn doveadm_deletes_a_mailbox() {
    let d = Dovecot::start(Layout::Exchange);
    d.create_mailbox("alice", "Projects/2024");
    assert!(d.list("alice").contains(&"Projects/2024".to_string()));
    let out = d.doveadm(&["mailbox", "delete", "-u", "alice", "Projects/2024"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!d.list("alice").contains(&"Projects/2024".to_string()));
}

#[test]
fn drop_stops_the_master_and_removes_the_dir() {
    let d = Dovecot::start(Layout::Courier);
    let pid = d.master_pid();
    let dir = d.dir().to_path_buf();
    let addr = d.addr_plain();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "dovecot");
    let t = Instant::now();
    drop(d);
    eprintln!("drop took {:?}", t.elapsed());
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "master {pid} still alive"
    );
    assert!(!dir.exists(), "{} not removed", dir.display());
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "{addr} still accepts"
    );
}

#[test]
#[should_panic(expected = "Dovecot rejects passwords containing")]
fn passwords_dovecot_cannot_take_are_refused_up_front() {
    let _ = Dovecot::builder().user("eve", "tab\there");
}
