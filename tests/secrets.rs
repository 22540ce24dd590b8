//! No secret in logs or errors: a sign-in, good or bad, by every mechanism,
//! leaves no password or access token, and no base64 of either, in anything
//! MailFerry prints.
//!
//! This file is its own test binary because it installs process-wide
//! loggers (both `tracing` and `log`) that capture everything at the most
//! verbose level.

mod introspection;

use base64::Engine;
use mailferry::check::check;
use mailferry::endpoint::{AuthMechanism, Credentials, Endpoint, Security};
use mailferry::imap::Session;
use mailferry::secret::Secret;
use mailferry_harness::{Dovecot, Layout};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

const PASSWORD: &str = "Tr0ub4dor&3-très-secret";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct LogCapture(Captured);

impl log::Log for LogCapture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        let line = format!("{} {} {}\n", record.level(), record.target(), record.args());
        self.0 .0.lock().unwrap().extend_from_slice(line.as_bytes());
    }
    fn flush(&self) {}
}

fn capture() -> Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED
        .get_or_init(|| {
            let captured = Captured::default();
            let writer = captured.clone();
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_writer(move || writer.clone())
                .init();
            log::set_logger(Box::leak(Box::new(LogCapture(captured.clone())))).unwrap();
            log::set_max_level(log::LevelFilter::Trace);
            captured
        })
        .clone()
}

/// Every form in which the password could leak.
fn secret_forms(user: &str) -> Vec<String> {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut plain = Vec::new();
    plain.extend_from_slice(b"\0");
    plain.extend_from_slice(user.as_bytes());
    plain.push(0);
    plain.extend_from_slice(PASSWORD.as_bytes());
    vec![
        PASSWORD.to_owned(),
        // Quoted as in a LOGIN command.
        "Tr0ub4dor&3".to_owned(),
        b64(PASSWORD.as_bytes()),
        b64(&plain),
        // A fragment of the PLAIN blob that does not depend on alignment.
        b64(&plain)[8..28].to_owned(),
    ]
}

fn assert_clean(haystack: &str, what: &str) {
    for form in secret_forms("carol") {
        assert!(
            !haystack.contains(&form),
            "{what} contains a secret form {form:?}:\n{haystack}"
        );
    }
}

#[tokio::test]
async fn no_secret_in_logs_or_errors() {
    let captured = capture();
    let server = Dovecot::builder()
        .layout(Layout::Exchange)
        .user("carol", PASSWORD)
        .build();
    let mut everything_shown = String::new();
    for security in [Security::Plain, Security::Tls] {
        for mechanism in [AuthMechanism::Login, AuthMechanism::Plain] {
            for password in [PASSWORD, "Tr0ub4dor&3-wrong"] {
                let port = if security == Security::Tls {
                    server.tls_port()
                } else {
                    server.plain_port()
                };
                let mut endpoint = Endpoint::new("127.0.0.1")
                    .with_security(security)
                    .with_port(port);
                endpoint.extra_roots_pem.push(server.ca_pem().to_owned());
                endpoint.timeout = Duration::from_secs(10);
                let mut credentials = Credentials::password("carol", password);
                credentials.mechanism = mechanism;

                let report = check(&endpoint, &credentials).await;
                assert_eq!(report.ok(), password == PASSWORD, "{report:#?}");
                everything_shown.push_str(&format!("{report:?}\n"));
                everything_shown.push_str(&serde_json::to_string(&report).unwrap());
                everything_shown.push_str(&format!("{credentials:?}\n{endpoint:?}\n"));
                match Session::connect(&endpoint, &credentials).await {
                    Ok(session) => {
                        everything_shown.push_str(&format!("{session:?}\n"));
                        session.logout().await;
                    }
                    Err(e) => everything_shown.push_str(&format!("{e}\n{e:?}\n{:?}\n", e.detail())),
                }
            }
        }
    }
    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    // The capture must really be capturing, or this test proves nothing.
    assert!(
        logs.contains("signing in with LOGIN"),
        "trace capture is empty:\n{logs}"
    );
    assert!(logs.contains("S: "), "wire traces are captured:\n{logs}");
    assert_clean(&logs, "the logs");
    assert_clean(&everything_shown, "reports and errors");
}

const TOKEN: &str = "ya29.a0AfB_Sekret-T0ken_4711";

/// Every form in which the access token could leak: itself, its base64, and
/// the XOAUTH2 and OAUTHBEARER blobs (whole and a fragment of each).
fn token_forms(user: &str, host: &str, port: u16) -> Vec<String> {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let xoauth2 = b64(format!("user={user}\x01auth=Bearer {TOKEN}\x01\x01").as_bytes());
    let bearer = b64(format!(
        "n,a={user},\x01host={host}\x01port={port}\x01auth=Bearer {TOKEN}\x01\x01"
    )
    .as_bytes());
    vec![
        TOKEN.to_owned(),
        "Sekret-T0ken".to_owned(),
        b64(TOKEN.as_bytes()),
        xoauth2[12..40].to_owned(),
        xoauth2,
        bearer[20..48].to_owned(),
        bearer,
    ]
}

#[tokio::test]
async fn no_token_in_logs_or_errors() {
    let captured = capture();
    let idp = introspection::Introspection::start();
    let server = Dovecot::builder()
        .layout(Layout::Exchange)
        .user("carol", PASSWORD)
        .oauth2_introspection(idp.url())
        .build();
    let mut everything_shown = String::new();
    let mut forms = Vec::new();
    // Good, then refused (so the error challenge is read and reported).
    for active in [true, false] {
        if active {
            idp.grant(TOKEN, "carol");
        } else {
            idp.revoke(TOKEN);
        }
        for security in [Security::Plain, Security::Tls] {
            for mechanism in [AuthMechanism::XOAuth2, AuthMechanism::OAuthBearer] {
                let port = if security == Security::Tls {
                    server.tls_port()
                } else {
                    server.plain_port()
                };
                forms.extend(token_forms("carol", "127.0.0.1", port));
                let mut endpoint = Endpoint::new("127.0.0.1")
                    .with_security(security)
                    .with_port(port);
                endpoint.extra_roots_pem.push(server.ca_pem().to_owned());
                endpoint.timeout = Duration::from_secs(10);
                let mut credentials =
                    Credentials::access_token("carol", Secret::new(TOKEN.to_owned()));
                credentials.mechanism = mechanism;

                let report = check(&endpoint, &credentials).await;
                assert_eq!(report.ok(), active, "{report:#?}");
                everything_shown.push_str(&format!("{report:?}\n"));
                everything_shown.push_str(&serde_json::to_string(&report).unwrap());
                everything_shown.push_str(&format!("{credentials:?}\n"));
                match Session::connect(&endpoint, &credentials).await {
                    Ok(session) => {
                        everything_shown.push_str(&format!("{session:?}\n"));
                        session.logout().await;
                    }
                    Err(e) => everything_shown.push_str(&format!("{e}\n{e:?}\n{:?}\n", e.detail())),
                }
            }
        }
    }
    assert!(idp.asked() >= 8, "Dovecot checked every token");
    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(
        logs.contains("signing in with AUTHENTICATE") && logs.contains("OAUTHBEARER"),
        "trace capture is empty:\n{logs}"
    );
    assert!(
        logs.contains("invalid_token"),
        "the refusal was read (and its status, not a secret, logged):\n{logs}"
    );
    for form in &forms {
        assert!(!logs.contains(form), "the logs contain {form:?}:\n{logs}");
        assert!(
            !everything_shown.contains(form),
            "reports and errors contain {form:?}:\n{everything_shown}"
        );
    }
}
