//! The connection check against real Dovecot servers: every way a first
//! connection can go right or wrong ends in the right verdict, fast.

use crate::common::{check_within, problem};
use mailferry::check::{CheckReport, Step};
use mailferry::endpoint::{AuthMechanism, Credentials, Endpoint, Fingerprint, Security};
use mailferry::error::{Problem, Stage};
use mailferry_harness::{never_speaking_server, Direction, Dovecot, Fault, Layout, Proxy};
use std::time::Duration;

fn endpoint(port: u16, security: Security) -> Endpoint {
    let mut e = Endpoint::new("127.0.0.1")
        .with_security(security)
        .with_port(port);
    e.timeout = Duration::from_secs(5);
    e
}

fn trusting_ca(server: &Dovecot, port: u16, security: Security) -> Endpoint {
    let mut e = endpoint(port, security);
    e.extra_roots_pem.push(server.ca_pem().to_owned());
    e
}

fn alice() -> Credentials {
    Credentials::password("alice", "alicepass")
}

/// The STARTTLS check as alice through a proxy that rewrites `from` to
/// `to` in what the server says.
async fn starttls_rewritten(server: &Dovecot, from: &str, to: &str) -> CheckReport {
    let proxy = Proxy::with_fault(
        server.addr_plain(),
        Fault::rewrite(Direction::ToClient, from, to),
    );
    check_within(
        &trusting_ca(server, proxy.port(), Security::StartTls),
        &alice(),
    )
    .await
}

fn assert_ready(report: &CheckReport) {
    assert!(report.ok(), "expected success, got {report:#?}");
    assert!(report.passed.contains(&Step::SignedIn));
    assert!(report.passed.contains(&Step::CanReadFolders));
}

#[tokio::test]
async fn implicit_tls_with_a_pinned_certificate() {
    let server = Dovecot::start(Layout::Exchange);
    let mut e = endpoint(server.tls_port(), Security::Tls);
    e.pinned_certificate = Some(Fingerprint::parse(&server.leaf_sha256_hex()).unwrap());
    let report = check_within(&e, &alice()).await;
    assert_ready(&report);
    assert_eq!(
        report.passed.len(),
        4,
        "all four steps, secure connection included"
    );
    for cap in [
        "UIDPLUS",
        "CONDSTORE",
        "LITERAL+",
        "MULTIAPPEND",
        "SPECIAL-USE",
    ] {
        assert!(
            report.notable_capabilities.iter().any(|c| c == cap),
            "{cap} in {:?}",
            report.notable_capabilities
        );
    }
    assert_eq!(report.delimiter.as_deref(), Some("/"));
    assert_eq!(report.prefix.as_deref(), Some(""));
    assert!(report.folders.unwrap() >= 5, "INBOX, Sent Items, Drafts, …");
    // What the STARTTLS-stripping test relies on: a sign-in shows in the log.
    assert!(server.log().contains("user=<alice>"), "{}", server.log());
}

#[tokio::test]
async fn implicit_tls_with_a_trusted_authority() {
    let server = Dovecot::start(Layout::Gmail);
    let report = check_within(
        &trusting_ca(&server, server.tls_port(), Security::Tls),
        &alice(),
    )
    .await;
    assert_ready(&report);
}

#[tokio::test]
async fn starttls_and_plain_both_work_and_plain_warns() {
    let server = Dovecot::start(Layout::Courier);
    let report = check_within(
        &trusting_ca(&server, server.plain_port(), Security::StartTls),
        &alice(),
    )
    .await;
    assert_ready(&report);
    assert!(report.passed.contains(&Step::SecureConnection));
    assert_eq!(report.delimiter.as_deref(), Some("."));
    assert_eq!(
        report.prefix.as_deref(),
        Some("INBOX."),
        "Courier-like servers keep folders under INBOX."
    );

    let plain = check_within(&endpoint(server.plain_port(), Security::Plain), &alice()).await;
    assert_ready(&plain);
    assert!(
        !plain.passed.contains(&Step::SecureConnection),
        "a plain connection is not called secure"
    );
    assert!(plain.warnings.iter().any(|w| w.contains("not encrypted")));
}

#[tokio::test]
async fn an_unpinned_self_signed_certificate_is_refused_with_its_fingerprint() {
    let server = Dovecot::start(Layout::Exchange);
    for (port, security) in [
        (server.tls_port(), Security::Tls),
        (server.plain_port(), Security::StartTls),
    ] {
        let report = check_within(&endpoint(port, security), &alice()).await;
        let expected = Fingerprint::parse(&server.leaf_sha256_hex()).unwrap();
        assert_eq!(
            problem(&report),
            &Problem::TlsUntrustedCertificate {
                host: "127.0.0.1".into(),
                sha256: expected
            }
        );
        let failure = report.failure.as_ref().unwrap();
        assert_eq!(failure.step, Step::SecureConnection);
        assert!(
            failure.message.contains(&expected.to_colon_hex()),
            "the user sees the fingerprint to compare"
        );
        assert_eq!(report.passed, vec![Step::FoundServer]);
    }
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    let server = Dovecot::builder()
        .layout(Layout::Exchange)
        .tls_names(&["mail.example.test"])
        .build();
    let report = check_within(
        &trusting_ca(&server, server.tls_port(), Security::Tls),
        &alice(),
    )
    .await;
    assert!(
        matches!(problem(&report), Problem::TlsHostnameMismatch { .. }),
        "{report:#?}"
    );
}

#[tokio::test]
async fn a_changed_certificate_is_refused_even_if_another_was_pinned() {
    let server = Dovecot::start(Layout::Exchange);
    let mut e = endpoint(server.tls_port(), Security::Tls);
    let old = Fingerprint::parse(&"ab".repeat(32)).unwrap();
    e.pinned_certificate = Some(old);
    let report = check_within(&e, &alice()).await;
    assert_eq!(
        problem(&report),
        &Problem::TlsCertificateChanged {
            host: "127.0.0.1".into(),
            expected: old,
            actual: Fingerprint::parse(&server.leaf_sha256_hex()).unwrap(),
        }
    );
}

#[tokio::test]
async fn starttls_stripped_by_a_proxy_stops_before_the_password() {
    let server = Dovecot::start(Layout::Exchange);
    let report = starttls_rewritten(&server, " STARTTLS", "").await;
    assert_eq!(
        problem(&report),
        &Problem::StartTlsUnavailable {
            host: "127.0.0.1".into()
        }
    );
    assert!(
        !server.log().contains("user=<alice>"),
        "no sign-in was attempted:\n{}",
        server.log()
    );
}

#[tokio::test]
async fn preauth_greeting_on_starttls_is_refused() {
    let server = Dovecot::start(Layout::Exchange);
    let report = starttls_rewritten(&server, "* OK", "* PREAUTH").await;
    assert_eq!(
        problem(&report),
        &Problem::StartTlsPreauth {
            host: "127.0.0.1".into()
        }
    );
}

#[tokio::test]
async fn bytes_injected_before_the_tls_handshake_are_discarded() {
    // An attacker appends a response right after the STARTTLS OK; a client
    // that kept it would read it as if it came through TLS (or, here, feed it
    // to the TLS layer and fail). MailFerry throws it away.
    let server = Dovecot::start(Layout::Exchange);
    let proxy = Proxy::with_fault(
        server.addr_plain(),
        Fault::rewrite(
            Direction::ToClient,
            "Begin TLS negotiation now.",
            "Begin TLS negotiation now.\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN INJECTED",
        ),
    );
    let report = check_within(
        &trusting_ca(&server, proxy.port(), Security::StartTls),
        &alice(),
    )
    .await;
    assert_ready(&report);
    assert!(
        !report.capabilities.iter().any(|c| c == "INJECTED"),
        "{:?}",
        report.capabilities
    );
}

#[tokio::test]
async fn a_wrong_password_is_refused_in_plain_words() {
    let server = Dovecot::start(Layout::Exchange);
    for mechanism in [
        AuthMechanism::Auto,
        AuthMechanism::Login,
        AuthMechanism::Plain,
    ] {
        let mut creds = Credentials::password("alice", "not-the-password");
        creds.mechanism = mechanism;
        let report = check_within(
            &trusting_ca(&server, server.tls_port(), Security::Tls),
            &creds,
        )
        .await;
        assert!(
            matches!(problem(&report), Problem::AuthFailed { .. }),
            "{mechanism:?}: {report:#?}"
        );
        let failure = report.failure.as_ref().unwrap();
        assert_eq!(failure.step, Step::SignedIn);
        assert!(failure
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("AUTHENTICATIONFAILED"));
        assert!(failure.message.contains("password"));
    }
}

#[tokio::test]
async fn passwords_with_awkward_characters_sign_in() {
    let passwords = [
        r#"with "quotes" and \backslash\"#,
        "spaces  in  the middle ",
        "pässwörd-ünïcødé-日本",
        "colon:semi;brace{5}",
        "{3}",
    ];
    let mut builder = Dovecot::builder().layout(Layout::Exchange);
    for (i, pw) in passwords.iter().enumerate() {
        builder = builder.user(format!("user{i}"), *pw);
    }
    let server = builder.build();
    for (i, pw) in passwords.iter().enumerate() {
        for mechanism in [AuthMechanism::Plain, AuthMechanism::Login] {
            let mut creds = Credentials::password(format!("user{i}"), *pw);
            creds.mechanism = mechanism;
            let report = check_within(
                &trusting_ca(&server, server.tls_port(), Security::Tls),
                &creds,
            )
            .await;
            assert!(report.ok(), "{pw:?} with {mechanism:?}: {report:#?}");
        }
    }
}

#[tokio::test]
async fn a_refused_port_says_so() {
    let closed = mailferry_harness::RefusingPort::new();
    let port = closed.port();
    let report = check_within(&endpoint(port, Security::Tls), &alice()).await;
    assert_eq!(
        problem(&report),
        &Problem::ConnectionRefused {
            host: "127.0.0.1".into(),
            port
        }
    );
    assert!(report.passed.is_empty());
}

#[tokio::test]
async fn a_name_that_does_not_resolve_says_so() {
    let mut e = Endpoint::new("no-such-host.invalid");
    e.timeout = Duration::from_secs(10);
    let report = check_within(&e, &alice()).await;
    assert_eq!(
        problem(&report),
        &Problem::DnsNotFound {
            host: "no-such-host.invalid".into()
        }
    );
}

#[tokio::test]
async fn a_server_that_never_speaks_times_out() {
    let (_guard, port) = never_speaking_server();
    for security in [Security::Tls, Security::StartTls, Security::Plain] {
        let mut e = endpoint(port, security);
        e.timeout = Duration::from_secs(1);
        let report = check_within(&e, &alice()).await;
        match problem(&report) {
            Problem::Timeout {
                stage, waited_secs, ..
            } => {
                let expected = if security == Security::Tls {
                    Stage::Securing
                } else {
                    Stage::Greeting
                };
                assert_eq!(*stage, expected);
                assert_eq!(*waited_secs, 1);
            }
            other => panic!("{security:?}: expected a timeout, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn tls_to_a_plain_port_says_so() {
    let server = Dovecot::start(Layout::Exchange);
    let report = check_within(&endpoint(server.plain_port(), Security::Tls), &alice()).await;
    assert_eq!(
        problem(&report),
        &Problem::TlsFailed {
            host: "127.0.0.1".into(),
            port: server.plain_port()
        }
    );
}

#[tokio::test]
async fn something_that_is_not_imap_says_so() {
    // A listener that answers like a web server.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let thread = std::thread::spawn(move || {
        use std::io::Write;
        if let Ok((mut s, _)) = listener.accept() {
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let report = check_within(&endpoint(port, Security::Plain), &alice()).await;
    assert_eq!(
        problem(&report),
        &Problem::NotImap {
            host: "127.0.0.1".into(),
            port
        }
    );
    thread.join().unwrap();
}

#[tokio::test]
async fn microsoft_365_with_password_sign_in_turned_off_leads_to_browser_sign_in() {
    use mailferry::endpoint::{Credentials, Endpoint, Security};
    use mailferry::error::Problem;
    use mailferry::imap::Session;
    use mailferry::provider::Provider;
    // A server that answers as Exchange Online does when basic
    // authentication is off for the tenant: the right password, and still
    // "LOGIN failed." (Dovecot refusing with that reason), reached under
    // Microsoft's name with a certificate for it.
    let server = mailferry_harness::Dovecot::builder()
        .tls_names(&["outlook.office365.com"])
        .refuse_sign_in("alice", "LOGIN failed.")
        .build();
    let mut endpoint = Endpoint::new("outlook.office365.com")
        .with_security(Security::Tls)
        .with_port(server.tls_port());
    endpoint.address = Some(std::net::Ipv4Addr::LOCALHOST.into());
    endpoint.extra_roots_pem = vec![server.ca_pem().to_owned()];
    endpoint.timeout = std::time::Duration::from_secs(30);
    let err = Session::connect(&endpoint, &Credentials::password("alice", "alicepass"))
        .await
        .expect_err("password sign-in is off");
    assert_eq!(
        err.problem(),
        &Problem::BasicAuthDisabled {
            provider: Provider::Microsoft
        },
        "{err:?}"
    );
    let words = err.to_string();
    assert!(
        words.contains("Sign in with Microsoft"),
        "the way in is named: {words}"
    );

    // The same words from an ordinary server are a wrong password, nothing more.
    let mut plain = Endpoint::new("127.0.0.1")
        .with_security(Security::Tls)
        .with_port(server.tls_port());
    plain.extra_roots_pem = vec![server.ca_pem().to_owned()];
    let other = mailferry_harness::Dovecot::builder()
        .refuse_sign_in("alice", "LOGIN failed.")
        .build();
    plain.port = other.tls_port();
    plain.extra_roots_pem = vec![other.ca_pem().to_owned()];
    let err = Session::connect(&plain, &Credentials::password("alice", "alicepass"))
        .await
        .expect_err("refused");
    assert!(
        matches!(err.problem(), Problem::AuthFailed { .. }),
        "{err:?}"
    );
}
