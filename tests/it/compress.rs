//! COMPRESS=DEFLATE (RFC 4978) against real Dovecot servers with
//! `imap_zlib`: a migration over compressed connections arrives exact, and
//! the message text never crosses the wire as it is. The proxy in front of
//! each server cuts any connection on which a marker from the bodies shows
//! up in clear, so the same run without compression must fail.

use crate::common::{self, migrate_sessions};
use mailferry::endpoint::{Credentials, Endpoint, Security};
use mailferry::imap::Session;
use mailferry::run::Options;
use mailferry_harness::{Direction, Dovecot, Fault, Layout, Message, Proxy};
use std::time::Duration;

const MARKER: &str = "PLAINTEXT-MARKER-7Q";

fn server() -> Dovecot {
    Dovecot::builder()
        .layout(Layout::Exchange)
        .fsync(false)
        .compress(true)
        .build()
}

fn endpoint(proxy: &Proxy, compress: bool) -> Endpoint {
    let mut e = Endpoint::new("127.0.0.1")
        .with_security(Security::Plain)
        .with_port(proxy.port());
    e.timeout = Duration::from_secs(10);
    e.compress = compress;
    e
}

/// Proxies that cut a connection where the marker passes in clear, either way.
fn watching(server: &Dovecot) -> Proxy {
    Proxy::with_fault(
        server.addr_plain(),
        Fault::All(vec![
            Fault::cut_after_match(Direction::ToClient, MARKER),
            Fault::cut_after_match(Direction::ToServer, MARKER),
        ]),
    )
}

async fn migrate(src: &Proxy, dst: &Proxy, compress: bool, state: &std::path::Path) -> bool {
    let alice = Credentials::password("alice", "alicepass");
    let source = Session::connect(&endpoint(src, compress), &alice)
        .await
        .expect("sign in at the source");
    let dest = Session::connect(&endpoint(dst, compress), &alice)
        .await
        .expect("sign in at the destination");
    let options = Options {
        max_retries: 0,
        ..Options::default()
    };
    // Everything copied: a connection broken off every time a message
    // crosses makes each such message a refusal (or stops the run).
    migrate_sessions(source, dest, state, &options)
        .await
        .is_ok_and(|report| report.failed() == 0)
}

#[tokio::test]
async fn compressed_connections_copy_exactly_and_never_show_the_text() {
    let (src, dst) = (server(), server());
    let messages: Vec<Message> = (0..30)
        .map(|i| {
            Message::new(
                format!(
                    "From: s{i}@example.net\r\nSubject: Report {i}\r\nMessage-ID: <c{i}@x>\r\n\r\n\
                     {MARKER} {}\r\n",
                    "The quarterly figures are attached. ".repeat(200)
                )
                .into_bytes(),
            )
            .flags(&["\\Seen", "$Reviewed"])
        })
        .collect();
    src.append("alice", "INBOX", &messages);
    let (from_src, from_dst) = (watching(&src), watching(&dst));
    let dir = tempfile::tempdir().unwrap();

    assert!(
        !migrate(&from_src, &from_dst, false, &dir.path().join("plain.db")).await,
        "without compression the marker crosses in clear and the proxy cuts"
    );
    assert!(from_src.cuts() > 0);
    let cuts = from_src.cuts() + from_dst.cuts();

    assert!(
        migrate(&from_src, &from_dst, true, &dir.path().join("deflate.db")).await,
        "compressed, the run goes through"
    );
    assert_eq!(
        from_src.cuts() + from_dst.cuts(),
        cuts,
        "no marker seen in clear on either connection"
    );
    common::assert_folder_same(
        &src,
        &dst,
        "INBOX",
        "every message exact, flags and dates included",
    );
}
