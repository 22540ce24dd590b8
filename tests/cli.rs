//! `mailferry check` as an administrator runs it: flags, password sources,
//! the printed verdict, `--json`, and exit codes (0 both fine, 2 otherwise).

use mailferry_harness::{Dovecot, Layout};
use std::process::{Command, Output, Stdio};

fn mailferry(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mailferry"));
    cmd.args(args)
        .stdin(Stdio::null())
        .env_remove("MAILFERRY_PASSWORD1")
        .env_remove("MAILFERRY_PASSWORD2");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run mailferry")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_both_sides_prints_a_verdict_for_each() {
    let src = Dovecot::start(Layout::Gmail);
    let dst = Dovecot::start(Layout::Exchange);
    let dir = tempfile::tempdir().unwrap();
    let passfile = dir.path().join("pass");
    std::fs::write(&passfile, "alicepass\n").unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, dst.ca_pem()).unwrap();
    let (sp, dp) = (src.tls_port().to_string(), dst.plain_port().to_string());
    let pin = src.leaf_sha256_hex();
    let out = mailferry(
        &[
            "check",
            "--host1",
            "127.0.0.1",
            "--port1",
            &sp,
            "--user1",
            "alice",
            "--passfile1",
            passfile.to_str().unwrap(),
            "--pin-cert1",
            &pin,
            "--host2",
            "127.0.0.1",
            "--port2",
            &dp,
            "--starttls2",
            "--user2",
            "alice",
            "--cafile2",
            ca.to_str().unwrap(),
        ],
        &[("MAILFERRY_PASSWORD2", "alicepass")],
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("Source: 127.0.0.1"), "{stdout}");
    assert!(stdout.contains("Destination: 127.0.0.1"), "{stdout}");
    assert_eq!(stdout.matches("✓ Signed in").count(), 2, "{stdout}");
    assert_eq!(stdout.matches("Verdict: ready").count(), 2, "{stdout}");
    assert!(
        stdout.contains("UIDPLUS"),
        "capabilities are printed: {stdout}"
    );
    assert!(!stdout.contains("alicepass") && !text(&out.stderr).contains("alicepass"));
}

#[test]
fn json_output_and_exit_code_two_on_failure() {
    let dst = Dovecot::start(Layout::Exchange);
    let port = dst.tls_port().to_string();
    let out = mailferry(
        &[
            "check",
            "--host2",
            "127.0.0.1",
            "--port2",
            &port,
            "--user2",
            "alice",
            "--json",
            "--timeout2",
            "5",
        ],
        &[("MAILFERRY_PASSWORD2", "alicepass")],
    );
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let failure = &json["destination"]["failure"];
    assert_eq!(failure["problem"]["code"], "TlsUntrustedCertificate");
    assert_eq!(failure["step"], "secure_connection");
    let shown = failure["problem"]["sha256"]
        .as_str()
        .unwrap()
        .replace(':', "")
        .to_lowercase();
    assert_eq!(
        shown,
        dst.leaf_sha256_hex(),
        "the fingerprint to pin is in the output"
    );
    assert!(
        json.get("source").is_none(),
        "only the side asked for is checked"
    );
}

#[test]
fn no_password_anywhere_is_a_clear_error() {
    let out = mailferry(&["check", "--host1", "127.0.0.1", "--user1", "alice"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--passfile1") && stderr.contains("MAILFERRY_PASSWORD1"),
        "{stderr}"
    );
}

#[test]
fn nothing_to_check_is_a_clear_error() {
    let out = mailferry(&["check"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--host1"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn there_is_no_password_flag() {
    // Passwords on the command line end up in shell history and `ps`.
    let out = mailferry(
        &["check", "--host1", "h", "--user1", "u", "--password1", "x"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
}
