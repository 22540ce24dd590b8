//! COMPRESS=DEFLATE (RFC 4978) against real Dovecot servers with
//! `imap_zlib`: a migration over compressed connections arrives exact, and
//! the message text never crosses the wire as it is. The proxy in front of
//! each server cuts any connection on which a marker from the bodies shows
//! up in clear, so the same run without compression must fail. And on a
//! slow link the connections are compressed without being asked.

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
    e.compress_when_slow = compress;
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

/// The endpoint of a server behind `proxy` with the defaults (as the CLI
/// and the app make it: compressed only on a link measured slow).
fn as_made(proxy: &Proxy) -> Endpoint {
    let mut e = Endpoint::new("127.0.0.1")
        .with_security(Security::Plain)
        .with_port(proxy.port());
    e.timeout = Duration::from_secs(20);
    e
}

/// Mail-like text: words from a small vocabulary in a varying order, as
/// compressible as real letters (not one phrase repeated).
fn letter(i: usize, bytes: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "invoice", "delivery", "Monday", "the", "order", "of", "flour", "bakery", "please",
        "confirm", "and", "we", "will", "send", "a", "new", "price", "list", "for", "March",
        "thanks", "regards", "oven", "repair", "customer", "table", "booking", "at",
    ];
    let mut text = format!(
        "From: supplier{i}@example.net\r\nSubject: Order {i}\r\nMessage-ID: <slow{i}@x>\r\n\r\n"
    );
    let mut seed = 0x9E37_79B9_u64 ^ i as u64;
    while text.len() < bytes {
        for _ in 0..12 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            text.push_str(WORDS[(seed >> 33) as usize % WORDS.len()]);
            text.push(' ');
        }
        text.push_str("\r\n");
    }
    text.into_bytes()
}

#[tokio::test]
async fn a_slow_link_is_compressed_without_being_asked_and_the_copy_is_exact() {
    let (src, dst) = (server(), server());
    let messages: Vec<Message> = (0..80).map(|i| Message::new(letter(i, 100_000))).collect();
    let total: u64 = messages.iter().map(|m| m.body.len() as u64).sum();
    src.append("alice", "INBOX", &messages);
    // Each server behind a 1 MB/s link: a tenth of what counts as slow.
    let slow = Fault::Bandwidth {
        bytes_per_sec: 1_000_000,
    };
    let from_src = Proxy::with_fault(src.addr_plain(), slow.clone());
    let from_dst = Proxy::with_fault(dst.addr_plain(), slow);
    let alice = Credentials::password("alice", "alicepass");
    // Nobody asked for compression: the endpoints are as the CLI and the
    // app make them by default.
    assert!(!as_made(&from_src).compress && as_made(&from_src).compress_when_slow);
    let source = Session::connect(&as_made(&from_src), &alice).await.unwrap();
    let dest = Session::connect(&as_made(&from_dst), &alice).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The default batches (16 MB): the folder's first batch is kept small
    // while the link is measured, and the rest goes compressed.
    let report = migrate_sessions(
        source,
        dest,
        &dir.path().join("state.db"),
        &Options::default(),
    )
    .await
    .unwrap();
    assert_eq!(report.failed(), 0, "{report:?}");
    common::assert_folder_same(&src, &dst, "INBOX", "every message exact");
    // Fewer bytes crossed each link than the messages hold: both sides
    // compressed once the first batch showed the link slow.
    let read = from_src.bytes(Direction::ToClient);
    let written = from_dst.bytes(Direction::ToServer);
    assert!(read < total * 3 / 4, "read {read} of {total} bytes");
    assert!(written < total * 3 / 4, "wrote {written} of {total} bytes");
}

#[tokio::test]
async fn a_server_that_refuses_to_compress_is_copied_from_uncompressed() {
    let (src, dst) = (server(), server());
    let messages: Vec<Message> = (0..50).map(|i| Message::new(letter(i, 100_000))).collect();
    let total: u64 = messages.iter().map(|m| m.body.len() as u64).sum();
    src.append("alice", "INBOX", &messages);
    // A slow source whose COMPRESS commands arrive as one it doesn't know.
    let from_src = Proxy::with_fault(
        src.addr_plain(),
        Fault::All(vec![
            Fault::Bandwidth {
                bytes_per_sec: 1_000_000,
            },
            Fault::rewrite(Direction::ToServer, "COMPRESS DEFLATE", "COMPRESS SHRINK"),
        ]),
    );
    let from_dst = Proxy::start(dst.addr_plain());
    let alice = Credentials::password("alice", "alicepass");
    let source = Session::connect(&as_made(&from_src), &alice).await.unwrap();
    let dest = Session::connect(&as_made(&from_dst), &alice).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        batch_bytes: 2 * 1024 * 1024,
        ..Options::default()
    };
    let report = migrate_sessions(source, dest, &dir.path().join("state.db"), &options)
        .await
        .unwrap();
    assert_eq!(report.failed(), 0, "{report:?}");
    common::assert_folder_same(&src, &dst, "INBOX", "every message exact");
    // It was asked (and refused) once, then the copy went on uncompressed.
    assert!(from_src.bytes(Direction::ToClient) >= total);
}
