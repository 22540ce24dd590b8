//! The fault-injecting proxy: pass-through, rewrites, cuts, stalls and delays, in
//! front of a real Dovecot, and clean shutdown.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use mailferry_harness::{
    never_speaking_server, Direction, Dovecot, Fault, ImapSession, Layout, Message, Proxy,
};

fn greeting_through(proxy: &Proxy) -> String {
    ImapSession::connect(proxy.addr())
        .expect("connect through proxy")
        .greeting()
        .to_string()
}

#[test]
fn passes_a_whole_session_through() {
    let d = Dovecot::start(Layout::Exchange);
    let body = [b"Subject: big\r\n\r\n".to_vec(), vec![b'z'; 3 << 20]].concat();
    d.append("alice", "INBOX", &[Message::new(body.clone())]);
    let proxy = Proxy::start(d.addr_plain());
    assert_eq!(proxy.upstream(), d.addr_plain());
    let mut s = ImapSession::connect(proxy.addr()).unwrap();
    assert!(s.greeting().contains("STARTTLS"));
    assert!(s.login("alice", "alicepass").unwrap().is_ok());
    assert!(s.command("SELECT INBOX").unwrap().is_ok());
    let r = s.command("UID FETCH 1 BODY.PEEK[]").unwrap();
    assert!(r.is_ok());
    assert_eq!(r.untagged.len(), 1);
    assert!(r.untagged[0].ends_with(&[&body[body.len() - 10..], b")"].concat()));
    assert_eq!(
        r.untagged[0].len(),
        body.len() + "* 1 FETCH (UID 1 BODY[] {3145744}\r\n)".len()
    );
    s.logout();
    assert_eq!(proxy.connections(), 1);
}

#[test]
fn rewrites_hide_starttls_and_fake_preauth() {
    let d = Dovecot::start(Layout::Courier);
    let proxy = Proxy::with_fault(
        d.addr_plain(),
        Fault::rewrite(Direction::ToClient, " STARTTLS", ""),
    );
    let mut s = ImapSession::connect(proxy.addr()).unwrap();
    assert!(s.greeting().starts_with("* OK [CAPABILITY IMAP4rev1"));
    assert!(!s.greeting().contains("STARTTLS"), "{}", s.greeting());
    let caps = s.command("CAPABILITY").unwrap();
    assert!(caps.is_ok());
    assert!(!caps.untagged_text()[0].contains("STARTTLS"));
    assert!(s.login("alice", "alicepass").unwrap().is_ok());

    proxy.set_fault(Fault::All(vec![
        Fault::rewrite(Direction::ToClient, "* OK", "* PREAUTH"),
        Fault::rewrite(Direction::ToClient, " STARTTLS", ""),
    ]));
    let g = greeting_through(&proxy);
    assert!(
        g.starts_with("* PREAUTH [CAPABILITY") && !g.contains("STARTTLS"),
        "{g}"
    );

    // Literal contents are not rewritten.
    let body = b"Subject: * OK STARTTLS\r\n\r\n* OK STARTTLS\r\n".to_vec();
    d.append("alice", "INBOX", &[Message::new(body.clone())]);
    proxy.set_fault(Fault::rewrite(Direction::ToClient, "STARTTLS", "XXXXXXXX"));
    let mut s = ImapSession::connect(proxy.addr()).unwrap();
    assert!(s.greeting().contains("XXXXXXXX"));
    s.login("alice", "alicepass").unwrap();
    s.command("SELECT INBOX").unwrap();
    let r = s.command("UID FETCH 1 BODY.PEEK[]").unwrap();
    assert!(r.untagged[0].ends_with(&[body.as_slice(), b")"].concat()));
}

#[test]
fn cut_after_bytes() {
    let d = Dovecot::start(Layout::Courier);
    let proxy = Proxy::with_fault(
        d.addr_plain(),
        Fault::CutAfter {
            dir: Direction::ToClient,
            bytes: 10,
        },
    );
    let mut sock = TcpStream::connect(proxy.addr()).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = Vec::new();
    let _ = sock.read_to_end(&mut got);
    assert_eq!(got, b"* OK [CAPA");

    // Client-to-server cut: the LOGIN line never completes.
    proxy.set_fault(Fault::CutAfter {
        dir: Direction::ToServer,
        bytes: 5,
    });
    let mut s = ImapSession::connect(proxy.addr()).unwrap();
    let err = s.command("LOGIN alice alicepass").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnexpectedEof, "{err}");
}

#[test]
fn cut_in_the_middle_of_a_fetch() {
    let d = Dovecot::start(Layout::Courier);
    let body = [b"Subject: x\r\n\r\n".to_vec(), vec![b'y'; 1 << 20]].concat();
    d.append("alice", "INBOX", &[Message::new(body)]);
    let proxy = Proxy::start(d.addr_plain());
    let mut s = ImapSession::connect(proxy.addr()).unwrap();
    s.login("alice", "alicepass").unwrap();
    s.command("SELECT INBOX").unwrap();
    // Live connections pick the new fault up.
    proxy.set_fault(Fault::cut_after_match(Direction::ToClient, "BODY[] {"));
    let err = s.command("UID FETCH 1 BODY.PEEK[]").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnexpectedEof, "{err}");
    assert!(err.to_string().ends_with("BODY[] {\""), "{err}");
}

#[test]
fn stall_accepts_and_never_speaks() {
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    upstream.set_nonblocking(true).unwrap();
    let proxy = Proxy::with_fault(upstream.local_addr().unwrap(), Fault::Stall);
    let mut sock = TcpStream::connect(proxy.addr()).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    sock.write_all(b"a CAPABILITY\r\n").unwrap();
    let mut buf = [0u8; 16];
    let err = sock.read(&mut buf).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err}"
    );
    assert_eq!(upstream.accept().unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(proxy.connections(), 1);
    // Dropping the proxy closes the held connection.
    drop(proxy);
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(sock.read(&mut buf).unwrap_or(0), 0);
}

#[test]
fn never_speaking_server_holds_connections() {
    let (server, port) = never_speaking_server();
    let mut socks: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    for s in &mut socks {
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut b = [0u8; 1];
        assert!(s.read(&mut b).is_err());
    }
    assert_eq!(server.connections(), 3);
}

#[test]
fn delay_slows_each_chunk() {
    let d = Dovecot::start(Layout::Courier);
    let proxy = Proxy::with_fault(d.addr_plain(), Fault::Delay(Duration::from_millis(300)));
    let t = Instant::now();
    let mut s = ImapSession::connect(proxy.addr()).unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    let t = Instant::now();
    assert!(s.command("NOOP").unwrap().is_ok());
    assert!(
        t.elapsed() >= Duration::from_millis(600),
        "{:?}",
        t.elapsed()
    );
    // Dropping the proxy does not wait out a long delay.
    proxy.set_fault(Fault::Delay(Duration::from_secs(30)));
    let mut sock = TcpStream::connect(proxy.addr()).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let _ = sock.read(&mut [0u8; 8]);
    let t = Instant::now();
    drop(proxy);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}

#[test]
fn drop_closes_live_connections_and_the_port() {
    let d = Dovecot::start(Layout::Courier);
    let proxy = Proxy::start(d.addr_plain());
    let addr = proxy.addr();
    let mut s = ImapSession::connect(addr).unwrap();
    assert!(s.login("alice", "alicepass").unwrap().is_ok());
    drop(proxy);
    assert!(s.command("NOOP").is_err());
    assert!(TcpStream::connect(addr).is_err(), "proxy port still open");
}

/// `Fault::ObjectId` makes Dovecot 2.3 a server that offers OBJECTID: the
/// capability is listed, and STATUS (MAILBOXID) answers with the mailbox
/// GUID, which a RENAME keeps, for the folders inside too.
#[test]
fn object_id_fault_offers_mailbox_ids_that_survive_a_rename() {
    let d = Dovecot::start(Layout::Exchange);
    d.create_mailbox("alice", "A");
    d.create_mailbox("alice", "A/x");
    let proxy = Proxy::with_fault(d.addr_plain(), Fault::ObjectId);
    let mut s = ImapSession::connect(proxy.addr()).unwrap();
    assert!(s.login("alice", "alicepass").unwrap().is_ok());
    let caps = s.command("CAPABILITY").unwrap().untagged_text().join(" ");
    assert!(caps.split(' ').any(|c| c == "OBJECTID"), "{caps}");
    let id = |s: &mut ImapSession, name: &str| -> String {
        let reply = s
            .command(&format!("STATUS \"{name}\" (MESSAGES MAILBOXID)"))
            .unwrap();
        assert!(reply.is_ok(), "{reply:?}");
        let text = reply.untagged_text().join(" ");
        let (_, rest) = text
            .split_once("MAILBOXID (")
            .unwrap_or_else(|| panic!("no MAILBOXID in {text}"));
        let id = rest.split(')').next().unwrap().to_owned();
        assert!(id.len() >= 16, "{text}");
        id
    };
    let (a, x) = (id(&mut s, "A"), id(&mut s, "A/x"));
    assert_ne!(a, x);
    assert!(s.command("RENAME \"A\" \"B\"").unwrap().is_ok());
    assert_eq!(id(&mut s, "B"), a, "the id survives the rename");
    assert_eq!(id(&mut s, "B/x"), x, "and the folders inside keep theirs");
    s.logout();
}
