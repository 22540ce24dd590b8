//! Reading and writing messages through the engine's session against real
//! Dovecot: every APPEND strategy (one MULTIAPPEND, or one APPEND at a time;
//! with or without LITERAL+ offered) stores messages byte for byte with their flags and
//! dates and reports their new UIDs; refusals are reported per message.

use mailferry::endpoint::{Credentials, Endpoint, Security};
use mailferry::imap::messages::{AppendItem, Appended, RefusalKind};
use mailferry::imap::Session;
use mailferry_harness::{Direction, Dovecot, Fault, Layout, Message, Proxy};
use std::time::Duration;

fn plain(port: u16) -> Endpoint {
    let mut e = Endpoint::new("127.0.0.1")
        .with_security(Security::Plain)
        .with_port(port);
    e.timeout = Duration::from_secs(20);
    e
}

fn message(i: usize, extra: &str) -> Vec<u8> {
    format!("From: a{i}@example.net\r\nSubject: m{i}\r\nMessage-ID: <m{i}@x>\r\n\r\nbody {i}{extra}\r\n").into_bytes()
}

/// Capabilities hidden by the proxy, so one Dovecot can play servers of
/// different abilities.
async fn session_without(server: &Dovecot, hidden: &[&str]) -> (Session, Proxy) {
    let faults = hidden
        .iter()
        .map(|cap| Fault::rewrite(Direction::ToClient, format!(" {cap}"), ""))
        .collect();
    let proxy = Proxy::with_fault(server.addr_plain(), Fault::All(faults));
    let session = Session::connect(
        &plain(proxy.port()),
        &Credentials::password("alice", "alicepass"),
    )
    .await
    .expect("sign in");
    for cap in hidden {
        assert!(!session.capabilities().has(cap), "{cap} is hidden");
    }
    (session, proxy)
}

#[tokio::test]
async fn every_append_strategy_stores_messages_exactly() {
    let server = Dovecot::start(Layout::Exchange);
    let flags = [
        vec!["\\Seen".to_owned(), "$Forwarded".to_owned()],
        vec![],
        vec![
            "\\Flagged".to_owned(),
            "\\Answered".to_owned(),
            "\\Draft".to_owned(),
        ],
    ];
    let dates = [
        "01-Mar-2024 09:00:00 +0000",
        "31-Dec-1999 23:59:59 +0000",
        "15-Jul-2021 12:30:00 +0000",
    ];
    for (strategy, hidden) in [
        ("multiappend", vec![]),
        ("pipelined literal+", vec!["MULTIAPPEND"]),
        ("synchronising literals", vec!["MULTIAPPEND", "LITERAL+"]),
        ("multiappend with synchronising literals", vec!["LITERAL+"]),
    ] {
        let folder = strategy.replace(' ', "-");
        server.create_mailbox("alice", &folder);
        let (mut session, _proxy) = session_without(&server, &hidden).await;
        let bodies: Vec<Vec<u8>> = (0..3).map(|i| message(i, &"x".repeat(i * 5000))).collect();
        let items: Vec<AppendItem> = (0..3)
            .map(|i| AppendItem {
                flags: &flags[i],
                internal_date: Some(dates[i]),
                body: &bodies[i],
            })
            .collect();
        let results = session.append(&folder, &items).await.expect(strategy);
        let uids: Vec<u32> = results
            .iter()
            .map(|r| match r {
                Appended::Stored {
                    uid: Some(uid),
                    uid_validity: Some(_),
                } => *uid,
                other => panic!("{strategy}: {other:?}"),
            })
            .collect();
        assert_eq!(
            uids,
            vec![1, 2, 3],
            "{strategy}: APPENDUID gives each message its UID"
        );

        let stored = server.fetch_all("alice", &folder);
        assert_eq!(stored.len(), 3, "{strategy}");
        for (i, m) in stored.iter().enumerate() {
            assert_eq!(m.body, bodies[i], "{strategy}: byte for byte");
            let mut got = m.flags.clone();
            got.sort();
            let mut want = flags[i].clone();
            want.sort();
            assert_eq!(got, want, "{strategy}: flags");
            assert_eq!(m.internal_date, dates[i], "{strategy}: date");
        }
        session.logout().await;
    }
}

#[tokio::test]
async fn examine_fetch_meta_and_bodies_read_without_changing_anything() {
    let server = Dovecot::start(Layout::Exchange);
    let mut msgs = Vec::new();
    for i in 0..5 {
        msgs.push(
            Message::new(message(i, ""))
                .flags(if i % 2 == 0 { &[] } else { &["\\Seen"] })
                .internal_date("02-Feb-2022 02:02:02 +0000"),
        );
    }
    server.append("alice", "INBOX", &msgs);
    let mut session = Session::connect(
        &plain(server.plain_port()),
        &Credentials::password("alice", "alicepass"),
    )
    .await
    .unwrap();
    let status = session.examine("INBOX").await.unwrap();
    assert_eq!(status.exists, 5);
    assert!(status.uid_validity > 0);
    let metas = session.fetch_meta("1:*").await.unwrap();
    assert_eq!(
        metas.iter().map(|m| m.uid).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert!(String::from_utf8_lossy(&metas[2].headers).contains("Message-ID: <m2@x>"));
    assert!(
        !String::from_utf8_lossy(&metas[2].headers).contains("body"),
        "headers only"
    );
    assert_eq!(metas[0].size as usize, message(0, "").len());
    let bodies = session.fetch_bodies(&[2, 4, 99], 0).await.unwrap();
    assert_eq!(
        bodies.iter().map(|m| m.uid).collect::<Vec<_>>(),
        vec![2, 4],
        "a missing UID is just absent"
    );
    assert_eq!(bodies[0].body, message(1, ""));
    assert_eq!(
        bodies[0].internal_date.as_deref(),
        Some("02-Feb-2022 02:02:02 +0000")
    );
    session.logout().await;
    // BODY.PEEK and EXAMINE: unread messages are still unread.
    let after = server.fetch_all("alice", "INBOX");
    assert!(
        !after[0].flags.iter().any(|f| f == "\\Seen"),
        "{:?}",
        after[0].flags
    );
}

#[tokio::test]
async fn a_full_mailbox_is_reported_per_message() {
    let server = Dovecot::builder()
        .layout(Layout::Exchange)
        .quota_bytes(Some(20_000))
        .build();
    let small = message(1, "");
    let big = message(2, &"y".repeat(30_000));
    // A batch in one MULTIAPPEND is all-or-nothing: a full mailbox refuses
    // it whole, and nothing is stored.
    {
        let mut session = Session::connect(
            &plain(server.plain_port()),
            &Credentials::password("alice", "alicepass"),
        )
        .await
        .unwrap();
        let flags = Vec::new();
        let item = |body| AppendItem {
            flags: &flags,
            internal_date: None,
            body,
        };
        let batch = [item(&small), item(&big), item(&small)];
        // Sent without waiting for the server's `+` (LITERAL+, ordinary
        // messages), a refusal closes the connection and is a lost one;
        // sent again they wait for the `+` and are refused one by one.
        let err = session
            .append("INBOX", &batch)
            .await
            .expect_err("a refusal of messages sent at once");
        assert!(err.is_transient(), "{err:?}");
        let results = session.append("INBOX", &batch).await.unwrap();
        assert!(
            results.iter().all(|r| matches!(
                r,
                Appended::Refused {
                    kind: RefusalKind::OverQuota,
                    ..
                }
            )),
            "{results:?}"
        );
        assert!(server.fetch_all("alice", "INBOX").is_empty());
    }
    // One APPEND per message: only the one that doesn't fit is refused.
    let (mut session, _proxy) = session_without(&server, &["MULTIAPPEND"]).await;
    let flags = Vec::new();
    let items = [
        AppendItem {
            flags: &flags,
            internal_date: None,
            body: &small,
        },
        AppendItem {
            flags: &flags,
            internal_date: None,
            body: &big,
        },
        AppendItem {
            flags: &flags,
            internal_date: None,
            body: &small,
        },
    ];
    // Sent at once, the first goes in and the refusal of the second closes
    // the connection: the batch is in doubt (the copy looks at the
    // destination before sending what did not arrive). What did not
    // arrive, sent again, waits for the `+`.
    let err = session
        .append("INBOX", &items)
        .await
        .expect_err("a refusal of a message sent at once");
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(server.fetch_all("alice", "INBOX").len(), 1);
    let rest = session.append("INBOX", &items[1..]).await.unwrap();
    let results = [Appended::Stored {
        uid: None,
        uid_validity: None,
    }]
    .into_iter()
    .chain(rest)
    .collect::<Vec<_>>();
    assert!(
        matches!(
            &results[1],
            Appended::Refused {
                kind: RefusalKind::OverQuota,
                ..
            }
        ),
        "the message that doesn't fit is refused as over quota: {results:?}"
    );
    assert!(
        matches!(results[2], Appended::Stored { .. }),
        "the others still go in: {results:?}"
    );
    assert_eq!(server.fetch_all("alice", "INBOX").len(), 2);
}

#[tokio::test]
async fn several_flag_changes_go_in_one_round_trip_and_a_refusal_keeps_the_others() {
    let server = Dovecot::start(Layout::Exchange);
    let uids = server.append(
        "alice",
        "INBOX",
        &(0..3)
            .map(|i| Message::new(message(i, "")))
            .collect::<Vec<_>>(),
    );
    let mut session = Session::connect(
        &plain(server.plain_port()),
        &Credentials::password("alice", "alicepass"),
    )
    .await
    .unwrap();
    session.select("INBOX").await.unwrap();
    let (a, b) = ([uids[0]], [uids[1], uids[2]]);
    session
        .store_flags(&[
            (&a, "\\Flagged", true),
            (&b, "$Done", true),
            (&[], "\\Seen", true),
        ])
        .await
        .unwrap();
    // \Recent cannot be set: that command is refused, the others still apply.
    let err = session
        .store_flags(&[
            (&b, "\\Recent", true),
            (&a, "\\Flagged", false),
            (&b, "\\Seen", true),
        ])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Recent"), "{err}");
    // The connection is still in step: the next command reads its own reply.
    let metas = session.fetch_meta("1:*").await.unwrap();
    let flags: Vec<Vec<String>> = metas
        .iter()
        .map(|m| {
            let mut f = m.flags.clone();
            f.sort();
            f
        })
        .collect();
    assert_eq!(
        flags,
        [
            vec![],
            vec!["$Done".to_owned(), "\\Seen".to_owned()],
            vec!["$Done".to_owned(), "\\Seen".to_owned()],
        ]
    );
    session.logout().await;
}

/// One message the server refuses sinks its MULTIAPPEND (all or nothing):
/// that batch goes one by one, the good ones are stored, and the next batch
/// is one MULTIAPPEND again. Only a server that refuses MULTIAPPEND itself
/// (every message then goes in on its own) loses it for good.
#[tokio::test]
async fn one_refused_message_does_not_turn_multiappend_off() {
    let server = Dovecot::start(Layout::Exchange);
    // The proxy turns a keyword into a system flag Dovecot refuses.
    let proxy = Proxy::with_fault(
        server.addr_plain(),
        Fault::rewrite(Direction::ToServer, "$Poison", "\\Poison"),
    );
    let mut session = Session::connect(
        &plain(proxy.port()),
        &Credentials::password("alice", "alicepass"),
    )
    .await
    .unwrap();
    let (none, poison) = (Vec::new(), vec!["$Poison".to_owned()]);
    let bodies: Vec<Vec<u8>> = (0..5).map(|i| message(i, "")).collect();
    let item = |i: usize, flags| AppendItem {
        flags,
        internal_date: None,
        body: &bodies[i],
    };
    let batch = [item(0, &none), item(1, &poison), item(2, &none)];
    // These messages are inert, so they go without waiting for the
    // server's `+`: its refusal closes the connection and is a lost
    // connection (the copy settles the batch as in doubt and sends it
    // again); sent again, they wait for the `+`.
    let err = session
        .append("INBOX", &batch)
        .await
        .expect_err("a refusal of messages sent at once");
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(
        server.fetch_all("alice", "INBOX").len(),
        0,
        "nothing stored"
    );
    let first = session.append("INBOX", &batch).await.unwrap();
    assert!(
        matches!(first[0], Appended::Stored { .. })
            && matches!(first[1], Appended::Refused { .. })
            && matches!(first[2], Appended::Stored { .. }),
        "{first:?}"
    );
    assert!(
        session.multiappend_in_use(),
        "the refusal was about one message"
    );
    let second = session
        .append("INBOX", &[item(3, &none), item(4, &none)])
        .await
        .unwrap();
    assert!(
        second.iter().all(|r| matches!(r, Appended::Stored { .. })),
        "{second:?}"
    );
    assert!(session.multiappend_in_use());
    assert_eq!(server.fetch_all("alice", "INBOX").len(), 4);
    session.logout().await;
}
