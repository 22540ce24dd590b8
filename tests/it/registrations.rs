//! A build with MailFerry's own browser sign-in registrations compiled in,
//! as the release workflow makes one: Google and Microsoft are both
//! offered with no configuration, each with its own client ID, sent only
//! to its own provider. `./dev test` builds that binary (its own build
//! directory, the registrations below in the build's environment) and
//! runs this test with `MAILFERRY_REGISTERED_CLI` naming it.
//!
//! No request leaves this machine: the stand-in browser records the
//! authorization address and answers MailFerry's loopback listener as a
//! user who clicked "Cancel" would (`error=access_denied`), so no code is
//! ever exchanged at the provider.

use crate::common::text;
use std::process::{Command, Stdio};

/// The registrations `./dev test` compiles into the build it tests.
const GOOGLE_ID: &str = "mailferry-ci-google.apps.googleusercontent.com";
const MICROSOFT_ID: &str = "0c0ffee0-0000-4000-8000-00000000beef";

/// A stand-in browser that writes the address it was given to `seen` and
/// answers the redirect address in it with a refusal and the same state.
fn cancelling_browser(dir: &std::path::Path, seen: &std::path::Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let browser = dir.join("cancelling-browser");
    std::fs::write(
        &browser,
        format!(
            "#!/bin/sh\n\
             printf '%s' \"$1\" > '{}'\n\
             q=\"${{1#*\\?}}\"\n\
             redirect=$(printf '%s' \"$q\" | tr '&' '\\n' | sed -n 's/^redirect_uri=//p' | sed 's/%3A/:/g; s/%2F/\\//g')\n\
             state=$(printf '%s' \"$q\" | tr '&' '\\n' | sed -n 's/^state=//p')\n\
             exec curl -s -o /dev/null \"$redirect?error=access_denied&state=$state\"\n",
            seen.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
    browser
}

/// `check --oauth1 PROVIDER` with `cli`, the cancelling browser and no
/// registration in the run's environment; what the browser was sent to,
/// and what the command said.
fn sign_in_with(cli: &str, provider: &str, host: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let seen = dir.path().join("authorization-url");
    let browser = cancelling_browser(dir.path(), &seen);
    let no_bus = format!("unix:path={}", dir.path().join("no-bus").display());
    let out = Command::new(cli)
        .args(["check", "--host1", host, "--user1", "anna@bakery.example"])
        .args(["--oauth1", provider])
        .env("MAILFERRY_BROWSER", &browser)
        .env("DBUS_SESSION_BUS_ADDRESS", &no_bus)
        .env("HOME", dir.path())
        .env_remove("MAILFERRY_GOOGLE_CLIENT_ID")
        .env_remove("MAILFERRY_GOOGLE_CLIENT_SECRET")
        .env_remove("MAILFERRY_MICROSOFT_CLIENT_ID")
        .env_remove("MAILFERRY_MICROSOFT_CLIENT_SECRET")
        .env_remove("MAILFERRY_OAUTH_CLIENT_ID")
        .stdin(Stdio::null())
        .output()
        .expect("run the registered build");
    let said = text(&out.stdout) + &text(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "the user cancelled: {said}");
    (std::fs::read_to_string(&seen).unwrap_or_default(), said)
}

#[test]
#[ignore = "needs the build with registrations compiled in that ./dev test makes (MAILFERRY_REGISTERED_CLI)"]
fn a_release_build_offers_browser_sign_in_with_each_providers_own_registration() {
    let cli = std::env::var("MAILFERRY_REGISTERED_CLI")
        .expect("MAILFERRY_REGISTERED_CLI names the build with registrations");
    for (provider, host, authorize, own, other) in [
        (
            "google",
            "imap.gmail.com",
            "https://accounts.google.com/",
            GOOGLE_ID,
            MICROSOFT_ID,
        ),
        (
            "microsoft",
            "outlook.office365.com",
            "https://login.microsoftonline.com/organizations/",
            MICROSOFT_ID,
            GOOGLE_ID,
        ),
    ] {
        let (url, said) = sign_in_with(&cli, provider, host);
        assert!(url.starts_with(authorize), "{provider}: {url}\n{said}");
        assert!(
            url.contains(&format!("client_id={}", own.replace('@', "%40"))),
            "{provider} gets its own client ID: {url}"
        );
        assert!(
            !url.contains(other),
            "{provider} never sees the other's ID: {url}"
        );
        assert!(
            !said.contains("RegistrationMissing"),
            "offered with no configuration: {said}"
        );
    }

    // The build the tests use has none: it says so instead of opening a browser.
    let (url, said) = sign_in_with(
        env!("CARGO_BIN_EXE_mailferry"),
        "microsoft",
        "outlook.office365.com",
    );
    assert!(url.is_empty(), "no browser without a registration: {url}");
    assert!(said.contains("RegistrationMissing"), "{said}");
}
