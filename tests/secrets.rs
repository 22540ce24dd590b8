//! No secret in logs or errors: a sign-in, good or bad, by every mechanism,
//! leaves no password and no base64 of one in anything MailFerry prints.
//!
//! This file is its own test binary because it installs process-wide
//! loggers (both `tracing` and `log`) that capture everything at the most
//! verbose level.

use base64::Engine;
use mailferry::check::check;
use mailferry::endpoint::{AuthMechanism, Credentials, Endpoint, Security};
use mailferry::imap::Session;
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
