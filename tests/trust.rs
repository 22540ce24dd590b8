//! Issue 12 ("Trust"): defects of the IMAP layer found by reading it, each
//! shown against real Dovecot (and the harness proxy where it is about the
//! wire) before it was fixed.

use mailferry::endpoint::{Credentials, Endpoint, Security};
use mailferry::imap::messages::{AppendItem, Appended};
use mailferry::imap::Session;
use mailferry_harness::{Direction, Dovecot, Fault, Layout, Proxy};
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
