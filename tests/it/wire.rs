//! The IMAP layer's promises: defects found by reading it, each
//! shown against real Dovecot (and the harness proxy where it is about the
//! wire) before it was fixed.

use mailferry::endpoint::{Credentials, Endpoint, Security};
use mailferry::imap::messages::{AppendItem, Appended};
use mailferry::imap::Session;
use mailferry_harness::{Direction, Dovecot, Fault, Layout, Message, Proxy};
use std::time::Duration;

fn plain(port: u16, timeout: Duration) -> Endpoint {
    let mut e = Endpoint::new("127.0.0.1")
        .with_security(Security::Plain)
        .with_port(port);
    e.timeout = timeout;
    e
}

async fn sign_in(port: u16, timeout: Duration) -> Session {
    Session::connect(
        &plain(port, timeout),
        &Credentials::password("alice", "alicepass"),
    )
    .await
    .expect("sign in")
}

/// A message whose body holds lines that are IMAP commands, as a mail about
/// IMAP (or a hostile one) may.
fn commands_inside(i: usize) -> Vec<u8> {
    format!(
        "From: a{i}@example.net\r\nSubject: m{i}\r\nMessage-ID: <m{i}@x>\r\n\r\n\
         zz CREATE Injected\r\nzz{i} CREATE Injected{i}\r\n\r\n"
    )
    .into_bytes()
}

/// A server that refuses one message of a batch before reading its body
/// (here Dovecot answering BAD to a flag the proxy turns into an unknown
/// system flag; Microsoft answers BAD to size and long lines) must never be
/// sent a body it might read as commands: with non-synchronising literals
/// Dovecot 2.3 skips to the end of the refused line and runs the body's
/// lines. Both ways of sending a batch are tried: one MULTIAPPEND, and
/// separate APPENDs.
#[tokio::test]
async fn a_refused_message_never_lets_a_body_reach_the_server_as_commands() {
    let server = Dovecot::start(Layout::Exchange);
    for hidden in [vec![], vec!["MULTIAPPEND"]] {
        let mut faults = vec![Fault::rewrite(Direction::ToServer, "$Poison", "\\Poison")];
        faults.extend(
            hidden
                .iter()
                .map(|cap| Fault::rewrite(Direction::ToClient, format!(" {cap}"), "")),
        );
        let proxy = Proxy::with_fault(server.addr_plain(), Fault::All(faults));
        let mut session = sign_in(proxy.port(), Duration::from_secs(20)).await;
        assert!(session.capabilities().has("LITERAL+"));
        let (none, poison) = (Vec::new(), vec!["$Poison".to_owned()]);
        let bodies: Vec<Vec<u8>> = (0..3).map(commands_inside).collect();
        let item = |i: usize, flags| AppendItem {
            flags,
            internal_date: None,
            body: &bodies[i],
        };
        let results = session
            .append("INBOX", &[item(0, &none), item(1, &poison), item(2, &none)])
            .await
            .unwrap();
        assert!(
            matches!(results[0], Appended::Stored { .. })
                && matches!(results[1], Appended::Refused { .. })
                && matches!(results[2], Appended::Stored { .. }),
            "{hidden:?}: {results:?}"
        );
        session.logout().await;
        let folders = server.list("alice");
        assert!(
            !folders.iter().any(|f| f.starts_with("Injected")),
            "{hidden:?}: a message body was run as commands: {folders:?}"
        );
    }
    let stored = server.fetch_all("alice", "INBOX");
    assert_eq!(stored.len(), 4, "two good messages per batch, once each");
    for m in &stored {
        assert!(m.body == commands_inside(0) || m.body == commands_inside(2));
    }
}

/// A message whose lines read as commands that only look or change the
/// session (as ordinary mail does: "a status update", "please check …").
fn session_lines(i: usize) -> Vec<u8> {
    format!(
        "From: a{i}@example.net\r\nSubject: s{i}\r\nMessage-ID: <s{i}@x>\r\n\r\n\
         a status update on the order\r\nPlease check the attached file.\r\n\
         zz SELECT INBOX\r\nzz STATUS INBOX (MESSAGES UNSEEN)\r\nzz SEARCH ALL\r\n\
         zz LIST \"\" *\r\nzz ENABLE CONDSTORE\r\nzz UNSELECT\r\nzz NOOP\r\n"
    )
    .into_bytes()
}

/// Only commands with a lasting effect make a message wait for the
/// server's `+` (issue 19: 660 of the WAN bench's 1000 messages waited
/// for a line like "a status update"). Shown on real Dovecot: such
/// messages go at once (a MULTIAPPEND of 10 is one round trip), and when
/// the server refuses their batch and reads them as commands, nothing is
/// left behind: no message stored or marked read, no folder changed, and
/// sent again (now waiting) the good ones arrive once.
#[tokio::test]
async fn lines_that_only_touch_the_session_do_not_make_a_message_wait() {
    let server = Dovecot::start(Layout::Exchange);
    server.append("alice", "INBOX", &[Message::new(ordinary(0))]);
    let folders = server.list("alice");
    let bodies: Vec<Vec<u8>> = (0..13).map(session_lines).collect();
    assert!(bodies
        .iter()
        .all(|b| mailferry::imap::messages::is_inert(b)));

    let proxy = Proxy::start(server.addr_plain());
    let mut session = sign_in(proxy.port(), Duration::from_secs(20)).await;
    assert_eq!(
        append_counted(&mut session, &proxy, &[], None, &bodies[..10]).await,
        1,
        "ten such messages in one MULTIAPPEND"
    );
    session.logout().await;

    let poisoned = Proxy::with_fault(
        server.addr_plain(),
        Fault::rewrite(Direction::ToServer, "$Poison", "\\Poison"),
    );
    let mut session = sign_in(poisoned.port(), Duration::from_secs(20)).await;
    let (none, poison) = (Vec::new(), vec!["$Poison".to_owned()]);
    let item = |i: usize, flags| AppendItem {
        flags,
        internal_date: None,
        body: &bodies[i],
    };
    let batch = [item(10, &none), item(11, &poison), item(12, &none)];
    let err = session
        .append("INBOX", &batch)
        .await
        .expect_err("a refusal of messages sent at once");
    assert!(err.is_transient(), "{err:?}");
    let stored = server.fetch_all("alice", "INBOX");
    assert_eq!(stored.len(), 11, "nothing of the refused batch stored");
    assert!(
        stored.iter().all(|m| m.flags.is_empty()),
        "no message marked: {:?}",
        stored.iter().map(|m| &m.flags).collect::<Vec<_>>()
    );
    assert_eq!(server.list("alice"), folders, "no folder changed");
    let again = session.append("INBOX", &batch).await.unwrap();
    assert!(
        matches!(again[0], Appended::Stored { .. })
            && matches!(again[1], Appended::Refused { .. })
            && matches!(again[2], Appended::Stored { .. }),
        "{again:?}"
    );
    session.logout().await;
    assert_eq!(server.fetch_all("alice", "INBOX").len(), 13);
}

/// An ordinary message: no line reads as a command.
fn ordinary(i: usize) -> Vec<u8> {
    format!(
        "From: a{i}@example.net\r\nSubject: report {i}\r\nMessage-ID: <o{i}@x>\r\n\r\n\
         The figures for week {i} are attached.\r\n"
    )
    .into_bytes()
}

/// Appends `bodies` in one call, every one stored; the round trips it took
/// at `proxy`.
async fn append_counted(
    session: &mut Session,
    proxy: &Proxy,
    flags: &[String],
    date: Option<&str>,
    bodies: &[Vec<u8>],
) -> usize {
    let items: Vec<AppendItem> = bodies
        .iter()
        .map(|body| AppendItem {
            flags,
            internal_date: date,
            body,
        })
        .collect();
    let before = proxy.round_trips();
    let results = session.append("INBOX", &items).await.unwrap();
    assert!(
        results.iter().all(|r| matches!(r, Appended::Stored { .. })),
        "{results:?}"
    );
    proxy.round_trips() - before
}

/// Over a long link a copy's time is its round trips: ordinary messages
/// go as non-synchronising literals where the server offers LITERAL+, so
/// a MULTIAPPEND of 30 costs one round trip (it cost 31: a `+` per
/// message), and one holding a command line among them still waits for
/// its `+` (one more). Without MULTIAPPEND, one round trip per APPEND
/// instead of two. Counted at the proxy.
#[tokio::test]
async fn ordinary_messages_go_at_once_and_one_holding_a_command_waits_for_the_go_ahead() {
    let server = Dovecot::start(Layout::Exchange);
    let proxy = Proxy::start(server.addr_plain());
    let mut session = sign_in(proxy.port(), Duration::from_secs(20)).await;
    assert!(session.capabilities().has("LITERAL+"));
    let flags = vec!["\\Seen".to_owned(), "$Project".to_owned()];
    let date = Some("04-Mar-2024 10:00:00 +0000");
    assert_eq!(
        append_counted(
            &mut session,
            &proxy,
            &flags,
            date,
            &(0..30).map(ordinary).collect::<Vec<_>>()
        )
        .await,
        1,
        "30 ordinary messages in one MULTIAPPEND"
    );
    // Many small messages, far more bytes than one write carries: still
    // one round trip.
    let padded: Vec<Vec<u8>> = (100..140)
        .map(|i| {
            let mut body = ordinary(i);
            body.extend(std::iter::repeat_n(b"filler line\r\n", 1500).flatten());
            body
        })
        .collect();
    assert_eq!(
        append_counted(&mut session, &proxy, &flags, date, &padded).await,
        1,
        "40 messages of 20 KB in one MULTIAPPEND"
    );
    let mut mixed: Vec<Vec<u8>> = (30..40).map(ordinary).collect();
    mixed[5] = commands_inside(35);
    assert_eq!(
        append_counted(&mut session, &proxy, &flags, date, &mixed).await,
        2,
        "one message holding a command line waits for its +"
    );
    session.logout().await;
    assert_eq!(server.fetch_all("alice", "INBOX").len(), 80);

    let hidden = Proxy::with_fault(
        server.addr_plain(),
        Fault::rewrite(Direction::ToClient, " MULTIAPPEND", ""),
    );
    let mut session = sign_in(hidden.port(), Duration::from_secs(20)).await;
    assert!(!session.multiappend_in_use());
    let bodies: Vec<Vec<u8>> = (40..50).map(ordinary).collect();
    assert_eq!(
        append_counted(&mut session, &hidden, &flags, None, &bodies).await,
        10,
        "one per APPEND"
    );
    session.logout().await;
    let stored = server.fetch_all("alice", "INBOX");
    assert_eq!(stored.len(), 90, "each once");
    assert!(stored.iter().any(|m| m.body == commands_inside(35)));
}

/// Nothing received before TLS is trusted (ARCHITECTURE: "everything
/// received before the TLS handshake is discarded"): a `BYE` greeting on a
/// connection still to be upgraded with STARTTLS, which anyone on the path
/// can write, decides no wait and puts none of its words in a report.
#[tokio::test]
async fn a_greeting_before_tls_decides_nothing_and_is_not_repeated() {
    use mailferry::error::Problem;
    let server = Dovecot::start(Layout::Exchange);
    let proxy = Proxy::with_fault(
        server.addr_plain(),
        Fault::rewrite(
            Direction::ToClient,
            "* OK",
            "* BYE Request is throttled. Suggested Backoff Time: 600000 milliseconds. Call +1 555 0100",
        ),
    );
    let mut endpoint = Endpoint::new("127.0.0.1")
        .with_security(Security::StartTls)
        .with_port(proxy.port());
    endpoint.timeout = Duration::from_secs(10);
    let err = mailferry::imap::Connection::open(&endpoint)
        .await
        .expect_err("a BYE greeting");
    match err.problem() {
        Problem::ServerBusy { wait_secs, .. } => {
            assert_eq!(*wait_secs, None, "a wait taken from text sent in the clear")
        }
        other => panic!("{other:?}"),
    }
    let shown = format!("{err} {}", err.detail().unwrap_or_default());
    assert!(
        !shown.contains("555") && !shown.contains("Backoff"),
        "words sent in the clear reached the report: {shown}"
    );
}

/// A slow link is not a dead server: the timeout counts silence, not the
/// length of a transfer. Through a proxy that passes 96 KiB a second, with
/// a 3-second timeout, a 1 MiB message (about 11 seconds each way, far
/// more than the timeout times the rate) is appended and fetched back
/// whole; the old deadline (the timeout plus a second per 256 KiB) gave up
/// on both. A connection that goes truly silent still times out, soon.
#[tokio::test]
async fn a_slow_link_moves_a_big_message_and_a_silent_one_still_times_out() {
    use mailferry::error::Problem;
    let server = Dovecot::start(Layout::Exchange);
    let rate = 96 * 1024;
    let proxy = Proxy::with_fault(
        server.addr_plain(),
        Fault::Bandwidth {
            bytes_per_sec: rate,
        },
    );
    let timeout = Duration::from_secs(3);
    let mut session = sign_in(proxy.port(), timeout).await;
    let mut body = b"From: big@example.net\r\nSubject: big\r\nMessage-ID: <big@x>\r\n\r\n".to_vec();
    while body.len() < 1024 * 1024 {
        body.extend_from_slice(
            b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuv\r\n",
        );
    }
    assert!(body.len() as u64 > timeout.as_secs() * rate * 3);
    let started = std::time::Instant::now();
    let flags = Vec::new();
    let results = session
        .append(
            "INBOX",
            &[AppendItem {
                flags: &flags,
                internal_date: None,
                body: &body,
            }],
        )
        .await
        .expect("a slow append is not a dead server");
    assert!(matches!(results[0], Appended::Stored { .. }), "{results:?}");
    assert!(
        started.elapsed() > timeout * 2,
        "the link really was slow: {:?}",
        started.elapsed()
    );
    let status = session.examine("INBOX").await.unwrap();
    assert_eq!(status.exists, 1);
    let metas = session.fetch_meta("1:*").await.unwrap();
    let started = std::time::Instant::now();
    let fetched = session
        .fetch_bodies(&[metas[0].uid], u64::from(metas[0].size))
        .await
        .expect("a slow fetch is not a dead server");
    assert!(started.elapsed() > timeout * 2, "{:?}", started.elapsed());
    assert_eq!(fetched.len(), 1);
    assert!(fetched[0].body == body, "byte for byte");

    // Now the link goes silent: the next command gives up after about the
    // timeout, not never and not after a transfer's worth.
    proxy.set_fault(Fault::Stall);
    let started = std::time::Instant::now();
    let err = session
        .fetch_bodies(&[metas[0].uid], u64::from(metas[0].size))
        .await
        .expect_err("a silent connection");
    assert!(matches!(err.problem(), Problem::Timeout { .. }), "{err:?}");
    assert!(err.is_transient());
    let waited = started.elapsed();
    assert!(
        waited >= timeout && waited < timeout * 3,
        "gave up after {waited:?}"
    );
}

/// A message over what the reader can hold (async-imap keeps a reply in
/// one buffer of at most 512 MiB) is about that message, for good: not a
/// lost connection, which would fail its folder again on every run. The
/// proxy announces the message as 600,000,000 bytes.
#[tokio::test]
async fn a_message_over_the_reader_limit_is_a_refusal_of_that_message() {
    let server = Dovecot::start(Layout::Exchange);
    let body = commands_inside(7);
    server.append("alice", "INBOX", &[Message::new(body.clone())]);
    let proxy = Proxy::with_fault(
        server.addr_plain(),
        Fault::rewrite(
            Direction::ToClient,
            format!("BODY[] {{{}}}", body.len()),
            "BODY[] {600000000}",
        ),
    );
    let mut session = sign_in(proxy.port(), Duration::from_secs(20)).await;
    session.examine("INBOX").await.unwrap();
    let metas = session.fetch_meta("1:*").await.unwrap();
    // Known from its size, it is refused before anything is sent, and the
    // session stays usable.
    let err = session
        .fetch_bodies(&[metas[0].uid], 600_000_000)
        .await
        .expect_err("known to be too large");
    assert!(err.is_permanent_for_message(), "{err:?}");
    assert_eq!(session.fetch_meta("1:*").await.unwrap().len(), 1);
    // Found out while reading.
    let err = session
        .fetch_bodies(&[metas[0].uid], u64::from(metas[0].size))
        .await
        .expect_err("too large to read");
    assert!(!err.is_transient(), "retrying cannot help: {err:?}");
    assert_eq!(err.code(), "MessageTooLarge", "{err:?}");
    assert!(err.is_permanent_for_message());
    assert!(err.to_string().contains("512 MB"), "{err}");
}

/// A FETCH reply that leaves out RFC822.SIZE does not describe an empty
/// message: the size is part of a message's identity and of the copy's
/// accounting, so a reply without it is a reply MailFerry cannot use.
#[tokio::test]
async fn a_message_described_without_its_size_is_not_an_empty_message() {
    use mailferry::error::Problem;
    let server = Dovecot::start(Layout::Exchange);
    let body = commands_inside(8);
    server.append("alice", "INBOX", &[Message::new(body.clone())]);
    let proxy = Proxy::with_fault(
        server.addr_plain(),
        Fault::rewrite(
            Direction::ToClient,
            format!("RFC822.SIZE {} ", body.len()),
            "",
        ),
    );
    let mut session = sign_in(proxy.port(), Duration::from_secs(20)).await;
    session.examine("INBOX").await.unwrap();
    match session.fetch_meta("1:*").await {
        Ok(metas) => panic!("read as {metas:?}"),
        Err(err) => assert!(matches!(err.problem(), Problem::Protocol { .. }), "{err:?}"),
    }
}

/// A server that says BYE in the middle of a session (Dovecot when an
/// administrator kicks the user or the service restarts) has closed the
/// connection: a transient fault to reconnect from, never a refusal of
/// the command that was under way.
#[tokio::test]
async fn a_bye_in_the_middle_of_a_session_is_a_lost_connection() {
    let server = Dovecot::start(Layout::Exchange);
    server.create_mailbox("alice", "Kept");
    type Step =
        fn(&mut Session) -> futures::future::BoxFuture<'_, Result<(), mailferry::error::Error>>;
    let steps: [(&str, Step); 4] = [
        ("examine", |s| {
            Box::pin(async move { s.examine("Kept").await.map(|_| ()) })
        }),
        ("create", |s| {
            Box::pin(async move { s.create("Made", None).await })
        }),
        ("subscribe", |s| {
            Box::pin(async move { s.subscribe("Kept").await })
        }),
        ("fetch", |s| {
            Box::pin(async move {
                s.examine("INBOX").await?;
                s.fetch_meta("1:*").await.map(|_| ())
            })
        }),
    ];
    for (what, step) in steps {
        let mut session = sign_in(server.plain_port(), Duration::from_secs(20)).await;
        let kicked = server.doveadm(&["kick", "alice"]);
        assert!(kicked.status.success(), "{kicked:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let err = step(&mut session).await.expect_err(what);
        assert!(
            err.is_transient(),
            "{what}: a closed connection read as {:?}: {err}",
            err.problem()
        );
    }
}

/// An expired certificate, even from an authority this computer trusts, is
/// refused with plain words that say so (and name the clock as the other
/// possible cause), for the TLS port and for STARTTLS alike.
#[tokio::test]
async fn an_expired_certificate_is_refused_in_plain_words() {
    use mailferry::error::Problem;
    let server = Dovecot::builder()
        .layout(Layout::Exchange)
        .expired_certificate(true)
        .build();
    for (port, security) in [
        (server.tls_port(), Security::Tls),
        (server.plain_port(), Security::StartTls),
    ] {
        let mut endpoint = Endpoint::new("127.0.0.1")
            .with_security(security)
            .with_port(port);
        endpoint.timeout = Duration::from_secs(10);
        endpoint.extra_roots_pem.push(server.ca_pem().to_owned());
        let err = mailferry::imap::Connection::open(&endpoint)
            .await
            .expect_err("an expired certificate");
        assert!(
            matches!(err.problem(), Problem::TlsCertificateExpired { .. }),
            "{security:?}: {err:?}"
        );
        assert!(err.is_certificate() && !err.is_transient());
        let words = err.to_string();
        assert!(
            words.contains("has expired") && words.contains("clock"),
            "{words}"
        );
    }
}
