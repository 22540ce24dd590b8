//! The sign-in flags of the command line: `--oauthaccesstokenN FILE`,
//! `--keychainN` and `mailferry forget`, against real Dovecot servers, with
//! no secret in what the command prints. With a real Secret Service
//! (`dbus-run-session` + `gnome-keyring-daemon`, when installed) the
//! keychain test runs end to end; without one, the plain-words refusal is
//! what is tested.

use crate::common;
use crate::introspection::{self, Introspection};
use base64::Engine;
use mailferry_harness::{Dovecot, Layout};
use std::process::Output;

const TOKEN: &str = "ya29.cli-Sekret-T0ken";

/// [`common::mailferry`] logging everything, so that a secret in any log
/// line shows.
fn mailferry(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut all_env = vec![("MAILFERRY_LOG", "trace")];
    all_env.extend_from_slice(env);
    common::mailferry(args, &all_env)
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn assert_no_token(shown: &str) {
    let b64 = base64::engine::general_purpose::STANDARD.encode(TOKEN);
    for form in [TOKEN, "Sekret-T0ken", b64.as_str()] {
        assert!(!shown.contains(form), "the output shows {form:?}:\n{shown}");
    }
}

fn check_args<'a>(port: &'a str, user: &'a str) -> Vec<&'a str> {
    vec![
        "check",
        "--host1",
        "127.0.0.1",
        "--port1",
        port,
        "--plain1",
        "--user1",
        user,
    ]
}

#[test]
fn oauthaccesstoken_signs_in_and_an_expired_token_says_sign_in_again() {
    let idp = Introspection::start();
    idp.grant(TOKEN, "carol");
    let server = idp.dovecot();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    let port = server.plain_port().to_string();
    let mut args = check_args(&port, "carol");
    args.extend(["--oauthaccesstoken1", file.to_str().unwrap()]);

    let out = mailferry(&args, &[]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(shown.contains("✓ Signed in"), "{shown}");
    assert_no_token(&shown);

    idp.revoke(TOKEN);
    for mech in ["XOAUTH2", "OAUTHBEARER"] {
        let mut args = args.clone();
        args.extend(["--authmech1", mech]);
        let out = mailferry(&args, &[]);
        let shown = text(&out);
        assert_eq!(out.status.code(), Some(2), "{shown}");
        assert!(
            shown.contains("Sign in again") && shown.contains("[TokenExpired]"),
            "{mech}: {shown}"
        );
        assert_no_token(&shown);
    }
}

#[test]
fn a_password_flag_and_a_token_flag_cannot_be_mixed() {
    let out = mailferry(
        &[
            "check",
            "--host1",
            "h",
            "--user1",
            "u",
            "--passfile1",
            "/dev/null",
            "--oauthaccesstoken1",
            "/dev/null",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("cannot be used with"), "{}", text(&out));
}

/// No Secret Service on this bus: a plain refusal, never a file.
#[test]
fn without_a_keychain_keychain_and_forget_say_so_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let no_bus = format!("unix:path={}", dir.path().join("no-bus").display());
    let env = [("DBUS_SESSION_BUS_ADDRESS", no_bus.as_str())];
    let mut args = check_args("143", "carol");
    args.push("--keychain1");
    for args in [
        args,
        vec!["forget", "--host1", "127.0.0.1", "--user1", "carol"],
    ] {
        let out = mailferry(&args, &env);
        let shown = text(&out);
        assert_eq!(out.status.code(), Some(2), "{shown}");
        assert!(
            shown.contains("never saves a")
                && shown.contains("install a password store (GNOME Keyring")
                && shown.contains("session only")
                && shown.contains("[KeychainUnavailable]"),
            "{shown}"
        );
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing was written instead"
    );
}

#[test]
fn keychain_round_trip_with_the_real_secret_service() {
    if !introspection::inside_secret_service(
        module_path!(),
        "keychain_round_trip_with_the_real_secret_service",
    ) {
        return;
    }
    use mailferry::auth::keychain::{Account, Keychain, SecretKind};
    use mailferry::secret::Secret;
    let server = Dovecot::builder()
        .layout(Layout::Exchange)
        .user("carol", "carol-keychain-pw")
        .build();
    let keychain = Keychain::system().expect("the Secret Service answers");
    let account = Account::new("carol", "127.0.0.1");
    keychain
        .save(
            SecretKind::Password,
            &account,
            &Secret::new("carol-keychain-pw".into()),
        )
        .unwrap();
    keychain
        .save(
            SecretKind::RefreshToken,
            &account,
            &Secret::new("1//refresh-x".into()),
        )
        .unwrap();

    let port = server.plain_port().to_string();
    let mut args = check_args(&port, "carol");
    args.push("--keychain1");
    let out = mailferry(&args, &[]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(!shown.contains("carol-keychain-pw"), "{shown}");

    let out = mailferry(&["forget", "--host1", "127.0.0.1", "--user1", "carol"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("Removed"), "{}", text(&out));
    assert!(keychain
        .load(SecretKind::Password, &account)
        .unwrap()
        .is_none());
    assert!(keychain
        .load(SecretKind::RefreshToken, &account)
        .unwrap()
        .is_none());

    let out = mailferry(&args, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("[NotInKeychain]"), "{}", text(&out));
}
