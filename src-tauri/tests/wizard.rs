//! The wizard's commands against real Dovecot servers (one test binary for
//! all of them: each links the whole shell).
//!
//! - Mailbox lists: rows with passwords are signed in one after the other
//!   and come back as handles (never a password); a wrong password is said
//!   on its row in plain words; rows without passwords wait for the user.
//! - Sign-in: a password that works is kept in the keychain (keyring-core's
//!   mock store here) and a restarted app signs in with it without asking;
//!   without a keychain it is for this session only, and the answer says so.
//! - Listed mailboxes: the administrator sign-in that read the directory
//!   (a Google service account acting as each user, Microsoft 365's app)
//!   signs each one in over XOAUTH2 against a Dovecot that introspects the
//!   tokens; a refused one is said on its row and the others go on.

use mailferry::auth::keychain::{Account, Keychain, SecretKind};
use mailferry::endpoint::Security;
use mailferry::secret::Secret;
use mailferry_desktop::accounts::{Accounts, Kept};
use mailferry_desktop::commands::mailboxes::{parse_mailboxes, read_rows};
use mailferry_desktop::commands::servers::Server;
use mailferry_desktop::commands::sign_in::{sign_in_saved_with, sign_in_with};
use mailferry_desktop::error::ErrorCode;
use mailferry_harness::{dovecot_available, Dovecot, Layout};

fn server(d: &Dovecot) -> Server {
    Server {
        host: "127.0.0.1".into(),
        port: d.plain_port(),
        security: Security::Plain,
        trusted_fingerprint: None,
    }
}

#[tokio::test]
async fn a_list_with_passwords_signs_in_each_row_and_says_which_failed() {
    if !dovecot_available() {
        eprintln!("skipped: needs dovecot and root");
        return;
    }
    let source = Dovecot::builder()
        .layout(Layout::Gmail)
        .user("bob", "bob-old")
        .user("carol", "carol-old")
        .fsync(false)
        .build();
    let dest = Dovecot::builder()
        .layout(Layout::Exchange)
        .user("bob", "bob-new")
        .user("carol", "carol-new")
        .user("dave", "dave-new")
        .fsync(false)
        .build();
    let text = "old,new,old password,new password\n\
                bob,bob,bob-old,bob-new\n\
                carol,carol,not-carols,carol-new\n\
                dave,dave\n\
                bob,erin\n";
    let accounts = Accounts::with_keychain(None);
    let rows = parse_mailboxes(text, &[]);
    let rows = read_rows(&accounts, &server(&source), &server(&dest), rows)
        .await
        .unwrap();
    assert_eq!(rows.len(), 4);

    let bob = &rows[0];
    assert!(bob.problem.is_none() && bob.source_error.is_none() && bob.destination_error.is_none());
    let (s, d) = (bob.source.unwrap(), bob.destination.unwrap());
    assert_ne!(s, d);
    assert_eq!(accounts.get(s).unwrap().credentials.user, "bob");
    assert_eq!(accounts.get(d).unwrap().endpoint.port, dest.plain_port());

    let carol = &rows[1];
    assert!(carol.source.is_none(), "a wrong password gives no account");
    assert_eq!(
        carol.source_error.as_ref().unwrap().code,
        ErrorCode::AuthFailed
    );
    assert!(carol.destination.is_some(), "the other side still signs in");

    let dave = &rows[2];
    assert!(dave.problem.is_none());
    assert!(dave.source.is_none() && dave.destination.is_none() && dave.source_error.is_none());

    assert_eq!(
        rows[3].problem.as_deref(),
        Some("Row 5: bob is already in the list (row 2).")
    );
    assert!(rows[3].source.is_none());

    let json = serde_json::to_string(&rows).unwrap();
    for password in ["bob-old", "bob-new", "not-carols", "carol-new"] {
        assert!(
            !json.contains(password),
            "no password goes back to the window"
        );
    }
}

#[tokio::test]
async fn a_password_that_works_is_kept_in_the_keychain_and_signs_in_after_a_restart() {
    if !dovecot_available() {
        eprintln!("skipped: needs dovecot and root");
        return;
    }
    let d = Dovecot::builder()
        .layout(Layout::Exchange)
        .user("alice", "alicepass")
        .user("bob", "bobpass")
        .fsync(false)
        .build();
    let keychain = Keychain::with_store(keyring_core::mock::Store::new().unwrap());

    let first = Accounts::with_keychain(Some(keychain.clone()));
    let wrong = sign_in_with(&first, server(&d), "alice".into(), "nope".into())
        .await
        .unwrap();
    assert_eq!((wrong.account, wrong.kept), (None, None));
    let key = Account::new("alice", "127.0.0.1");
    assert!(
        keychain.load(SecretKind::Password, &key).unwrap().is_none(),
        "a refused password is not kept"
    );
    let signed = sign_in_with(&first, server(&d), " alice ".into(), "alicepass".into())
        .await
        .unwrap();
    assert!(signed.account.is_some());
    assert_eq!(signed.kept, Some(Kept::Keychain));
    assert_eq!(
        keychain
            .load(SecretKind::Password, &key)
            .unwrap()
            .unwrap()
            .expose(),
        "alicepass"
    );
    let json = serde_json::to_string(&signed).unwrap();
    assert!(
        !json.contains("alicepass"),
        "the window gets no password: {json}"
    );

    // The app restarts: new session, same keychain.
    let restarted = Accounts::with_keychain(Some(keychain.clone()));
    let again = sign_in_saved_with(&restarted, server(&d), "alice".into())
        .await
        .unwrap()
        .expect("signed in from the keychain");
    let handle = again.account.expect("an account");
    assert_eq!(restarted.get(handle).unwrap().credentials.user, "alice");
    assert!(
        sign_in_saved_with(&restarted, server(&d), "bob".into())
            .await
            .unwrap()
            .is_none(),
        "nothing saved for bob: the window asks"
    );

    // A password saved without what it is for (by an older version) is
    // not used: the window asks.
    keychain
        .save(
            SecretKind::Password,
            &Account::new("bob", "127.0.0.1"),
            &Secret::new("bobpass".into()),
        )
        .unwrap();
    assert!(
        sign_in_saved_with(&restarted, server(&d), "bob".into())
            .await
            .unwrap()
            .is_none(),
        "an unbound saved password is not used"
    );

    // A saved password the server no longer takes is said and dropped.
    restarted.remember(&mailferry_desktop::accounts::Account {
        endpoint: server(&d).endpoint().unwrap(),
        credentials: mailferry::endpoint::Credentials::password("bob", "old-bob"),
    });
    let stale = sign_in_saved_with(&restarted, server(&d), "bob".into())
        .await
        .unwrap()
        .unwrap();
    assert!(stale.account.is_none());
    assert_eq!(
        stale.checklist.failure.unwrap().error.code,
        ErrorCode::AuthFailed
    );
    assert!(keychain
        .load(SecretKind::Password, &Account::new("bob", "127.0.0.1"))
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn without_a_keychain_the_password_is_for_this_session_only() {
    if !dovecot_available() {
        eprintln!("skipped: needs dovecot and root");
        return;
    }
    let d = Dovecot::builder()
        .layout(Layout::Exchange)
        .user("alice", "alicepass")
        .fsync(false)
        .build();
    let accounts = Accounts::with_keychain(None);
    let signed = sign_in_with(&accounts, server(&d), "alice".into(), "alicepass".into())
        .await
        .unwrap();
    assert!(signed.account.is_some());
    assert_eq!(signed.kept, Some(Kept::SessionOnly));
    assert!(sign_in_saved_with(&accounts, server(&d), "alice".into())
        .await
        .unwrap()
        .is_none());
}

/// A run interrupted by closing the app (its registry gone with the
/// process) continues from the engine's progress file when the reopened
/// app starts it again: what arrived is counted as already there, the
/// rest is copied, nothing twice.
#[test]
fn a_copy_interrupted_by_closing_the_app_resumes_from_its_progress_file() {
    use mailferry::endpoint::{Credentials, Endpoint};
    use mailferry_desktop::accounts::Account;
    use mailferry_desktop::runs::{RunState, Runs};
    use mailferry_harness::Message;
    use std::time::{Duration, Instant};

    if !dovecot_available() {
        eprintln!("skipped: needs dovecot and root");
        return;
    }
    let source = Dovecot::builder()
        .layout(Layout::Gmail)
        .user("alice", "alicepass")
        .fsync(false)
        .build();
    let dest = Dovecot::builder()
        .layout(Layout::Exchange)
        .user("alice", "alicepass")
        .fsync(false)
        .build();
    // 100 KB each: the engine's batches (at most 16 MB) then hold about
    // 160, so the copy is stopped with several batches still to go.
    const N: usize = 600;
    let filler = "x".repeat(100_000);
    let messages: Vec<Message> = (0..N)
        .map(|i| {
            Message::new(
                format!(
                    "From: a@example.net\r\nSubject: m{i}\r\nMessage-ID: <resume-{i}@example.net>\r\n\r\nbody {i}\r\n{filler}\r\n"
                )
                .into_bytes(),
            )
        })
        .collect();
    source.append("alice", "INBOX", &messages);
    let account = |d: &Dovecot| Account {
        endpoint: Endpoint::new("127.0.0.1")
            .with_security(Security::Plain)
            .with_port(d.plain_port()),
        credentials: Credentials::password("alice", "alicepass"),
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("job.db");
    let wait = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    };

    let first_session = Runs::default();
    let run = first_session.create(account(&source), account(&dest), path.clone());
    run.start().unwrap();
    let copied = |run: &mailferry_desktop::runs::Run| {
        run.view
            .borrow()
            .folders
            .iter()
            .map(|f| f.copied)
            .sum::<u64>()
    };
    wait("the first batch", &|| copied(&run) > 0);
    run.stop(RunState::Paused);
    let arrived = dest.fetch_all("alice", "INBOX").len();
    assert!(
        arrived > 0 && arrived < N,
        "stopped part-way: {arrived} of {N}"
    );
    drop(run);
    drop(first_session); // the app is closed

    let reopened = Runs::default();
    let run = reopened.create(account(&source), account(&dest), path);
    // Before anything runs, a watcher's first view comes from the progress
    // file: what already arrived, per folder.
    let first = run.view.borrow().clone();
    let inbox = first.folders.iter().find(|f| f.folder == "INBOX");
    assert_eq!(
        inbox.map(|f| f.already_there as usize),
        Some(arrived),
        "the reopened app shows the earlier progress: {first:?}"
    );
    run.start().unwrap();
    wait("the resumed copy", &|| run.view.borrow().state.is_stopped());
    let view = run.view.borrow().clone();
    assert_eq!(view.state, RunState::Finished, "{:?}", view.error);
    let inbox = view.folders.iter().find(|f| f.folder == "INBOX").unwrap();
    assert_eq!(
        inbox.already_there as usize, arrived,
        "counted from the progress file"
    );
    assert_eq!(
        inbox.copied as usize,
        N - arrived,
        "only the rest is copied"
    );
    let at_dest = dest.fetch_all("alice", "INBOX");
    assert_eq!(at_dest.len(), N, "every message once, none twice");
}

// The engine's token-introspection endpoint for Dovecot's oauth2 passdb,
// shared with its OAuth tests (read only).
#[path = "../../tests/introspection/mod.rs"]
mod introspection;
mod loopback;
use loopback::StandInBrowser;

mod oauth_server {
    //! A small authorization server on loopback: discovery, an authorize
    //! page that redirects straight back with a code (the user clicking
    //! "Allow"), and a token endpoint whose tokens Dovecot accepts.
    use super::introspection::Introspection;
    use super::loopback::{param, read_request};
    use std::io::Write;
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    pub struct AuthServer {
        pub base: String,
        pub issued: Arc<Mutex<Vec<String>>>,
    }

    impl AuthServer {
        pub fn start(idp: Introspection, user: &'static str) -> AuthServer {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let issued = Arc::new(Mutex::new(Vec::new()));
            let (b, i) = (base.clone(), issued.clone());
            std::thread::spawn(move || {
                for mut stream in listener.incoming().flatten() {
                    let (target, body) = read_request(&stream);
                    let (path, q) = target.split_once('?').unwrap_or((&target, ""));
                    let (status, headers, answer) = match path {
                        "/.well-known/openid-configuration" => (
                            "200 OK",
                            "Content-Type: application/json\r\n".to_owned(),
                            format!(
                                r#"{{"issuer":"{b}","authorization_endpoint":"{b}/authorize","token_endpoint":"{b}/token"}}"#
                            ),
                        ),
                        "/authorize" => (
                            "302 Found",
                            format!(
                                "Location: {}?code=the-code&state={}\r\n",
                                param(q, "redirect_uri"),
                                param(q, "state")
                            ),
                            String::new(),
                        ),
                        "/token" => {
                            let grant = param(&body, "grant_type");
                            let ok = (grant == "authorization_code"
                                && param(&body, "code") == "the-code")
                                || (grant == "refresh_token"
                                    && param(&body, "refresh_token") == "rt-secret");
                            if ok {
                                let mut issued = i.lock().unwrap();
                                let token = format!("at-secret-{}", issued.len() + 1);
                                issued.push(grant);
                                idp.grant(&token, user);
                                (
                                    "200 OK",
                                    "Content-Type: application/json\r\n".to_owned(),
                                    format!(
                                        r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-secret"}}"#
                                    ),
                                )
                            } else {
                                (
                                    "400 Bad Request",
                                    "Content-Type: application/json\r\n".to_owned(),
                                    r#"{"error":"invalid_grant"}"#.to_owned(),
                                )
                            }
                        }
                        _ => ("404 Not Found", String::new(), String::new()),
                    };
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                        answer.len()
                    );
                }
            });
            AuthServer { base, issued }
        }
    }
}

#[tokio::test]
async fn a_browser_sign_in_keeps_its_refresh_token_and_signs_in_again_without_the_browser() {
    use mailferry::auth::oauth::{Client, Issuer};
    use mailferry::auth::registration::Registrations;
    use mailferry::provider::Provider;
    use mailferry_desktop::commands::oauth::{providers, sign_in_oauth_with, OAuthConfig};
    use std::sync::Arc;
    use std::time::Duration;

    if !dovecot_available() {
        eprintln!("skipped: needs dovecot and root");
        return;
    }
    let idp = introspection::Introspection::start();
    let d = idp.dovecot();
    let auth = oauth_server::AuthServer::start(idp.clone(), "carol");
    let browser = Arc::new(StandInBrowser::default());
    // The test's issuer, configured as the presets are (the window only
    // names it).
    // The stand-in plays Microsoft, with this copy's registration there.
    let mut registrations = Registrations::default();
    registrations.set(
        Provider::Microsoft,
        Some(Client {
            id: "mailferry-test-client".into(),
            secret: None,
        }),
    );
    let config = OAuthConfig {
        registrations,
        issuers: vec![Issuer {
            name: "Local".into(),
            provider: Provider::Microsoft,
            authorize_url: format!("{}/authorize", auth.base),
            token_url: format!("{}/token", auth.base),
            scopes: vec!["openid".into(), "email".into(), "offline_access".into()],
            extra: Vec::new(),
            admin_consent_url: None,
        }],
        browser: browser.clone(),
        wait: Duration::from_secs(20),
    };
    assert_eq!(providers(&config), ["local"]);
    let keychain = Keychain::with_store(keyring_core::mock::Store::new().unwrap());

    let accounts = Accounts::with_keychain(Some(keychain.clone()));
    let signed = sign_in_oauth_with(
        &accounts,
        &config,
        server(&d),
        "carol".into(),
        "local".into(),
    )
    .await
    .unwrap();
    assert!(signed.account.is_some(), "{:?}", signed.checklist);
    assert_eq!(signed.kept, Some(Kept::Keychain));
    assert_eq!(*browser.opened.lock().unwrap(), 1);
    let key = Account::new("carol", "127.0.0.1");
    assert_eq!(
        keychain
            .load(SecretKind::RefreshToken, &key)
            .unwrap()
            .unwrap()
            .expose(),
        "rt-secret"
    );
    let json = serde_json::to_string(&signed).unwrap();
    assert!(
        !json.contains("secret"),
        "no token goes to the window: {json}"
    );
    // The copy renews the access token with the refresh token (a long copy
    // outlives an hour's token).
    let kept = accounts.get(signed.account.unwrap()).unwrap();
    assert!(
        matches!(
            kept.credentials.proof,
            mailferry::endpoint::Proof::Renewable(_)
        ),
        "{:?}",
        kept.credentials
    );

    // After a restart: the refresh token signs in; no browser this time.
    let restarted = Accounts::with_keychain(Some(keychain.clone()));
    let again = sign_in_oauth_with(
        &restarted,
        &config,
        server(&d),
        "carol".into(),
        "local".into(),
    )
    .await
    .unwrap();
    assert!(again.account.is_some());
    assert_eq!(*browser.opened.lock().unwrap(), 1, "no second browser page");
    assert_eq!(
        *auth.issued.lock().unwrap(),
        ["authorization_code", "refresh_token"]
    );

    // Without a client ID the browser sign-in is not offered, and says so.
    let unconfigured = OAuthConfig {
        registrations: Registrations::default(),
        ..config
    };
    assert!(providers(&unconfigured).is_empty());
    let err = sign_in_oauth_with(
        &restarted,
        &unconfigured,
        server(&d),
        "carol".into(),
        "local".into(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::OAuthUnavailable);
}

mod admin_tokens {
    //! A token service on loopback standing in for Google's and Microsoft's
    //! organisation-wide sign-ins: a service account's JWT assertion
    //! (domain-wide delegation) gets a token for the user it names (`sub`),
    //! the app's client credentials a token for `app_user` (Dovecot's
    //! introspection names one user per token). Every token is made active
    //! at the introspection endpoint.
    use super::introspection::{read_request, Introspection};
    use base64::Engine;
    use std::io::{BufReader, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    pub struct TokenService {
        pub url: String,
        /// Every form received: (grant type, scope, subject).
        pub forms: Arc<Mutex<Vec<(String, String, String)>>>,
    }

    fn param(body: &str, key: &str) -> String {
        body.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| mailferry::auth::oauth::percent_decode(&v.replace('+', " ")))
            .unwrap_or_default()
    }

    impl TokenService {
        pub fn start(idp: Introspection, app_user: &'static str) -> TokenService {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let url = format!("http://{}/token", listener.local_addr().unwrap());
            let forms: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();
            let seen = forms.clone();
            std::thread::spawn(move || {
                for mut stream in listener.incoming().flatten() {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let Some((_, body)) = read_request(&mut reader) else {
                        continue;
                    };
                    let body = String::from_utf8(body).unwrap();
                    let grant = param(&body, "grant_type");
                    let (scope, user) = match grant.as_str() {
                        "urn:ietf:params:oauth:grant-type:jwt-bearer" => {
                            let jwt = param(&body, "assertion");
                            let claims = jwt.split('.').nth(1).unwrap();
                            let claims: serde_json::Value = serde_json::from_slice(
                                &base64::engine::general_purpose::URL_SAFE_NO_PAD
                                    .decode(claims)
                                    .unwrap(),
                            )
                            .unwrap();
                            (
                                claims["scope"].as_str().unwrap().to_owned(),
                                claims["sub"].as_str().unwrap().to_owned(),
                            )
                        }
                        "client_credentials" => {
                            assert_eq!(param(&body, "client_id"), "app-id");
                            assert_eq!(param(&body, "client_secret"), "app-secret-xyz");
                            (param(&body, "scope"), app_user.to_owned())
                        }
                        other => panic!("unexpected grant {other}"),
                    };
                    let mut forms = seen.lock().unwrap();
                    let token = format!("admin-token-{}", forms.len() + 1);
                    forms.push((grant, scope, user.clone()));
                    // Google refuses a user outside the delegation (`erin`).
                    let (status, answer) = if user == "erin" {
                        (
                            "400 Bad Request",
                            r#"{"error":"invalid_grant","error_description":"Invalid email or User ID"}"#.to_owned(),
                        )
                    } else {
                        idp.grant(&token, &user);
                        (
                            "200 OK",
                            format!(
                                r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":3600}}"#
                            ),
                        )
                    };
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                        answer.len()
                    );
                }
            });
            TokenService { url, forms }
        }
    }
}

#[tokio::test]
async fn listed_mailboxes_sign_in_with_the_administrator_sign_in_not_a_password_each() {
    use mailferry::auth::oauth::Client;
    use mailferry_desktop::commands::mailboxes::{
        sign_in_listed_with, AdminGrant, Directory, DirectorySignIn,
    };

    if !dovecot_available() {
        eprintln!("skipped: needs dovecot and root");
        return;
    }
    let idp = introspection::Introspection::start();
    let d = Dovecot::builder()
        .layout(Layout::Exchange)
        .fsync(false)
        .user("carol", "carolpass")
        .user("dave", "davepass")
        .oauth2_introspection(idp.url())
        .build();
    let tokens = admin_tokens::TokenService::start(idp.clone(), "carol");
    let dir = tempfile::tempdir().unwrap();
    let accounts = Accounts::with_keychain(None);

    // Google: the service account acts as each user in turn, asking for
    // mail access; a user the server does not know is said on its row and
    // the next one still signs in.
    introspection::service_account_key(dir.path(), &tokens.url);
    let key = std::fs::read_to_string(dir.path().join("service-account.json")).unwrap();
    let google = DirectorySignIn::Google {
        key: key.clone(),
        admin: "admin@bakery.example".into(),
    };
    let grant = AdminGrant::of(&Directory::default(), None, &google).expect("a Google grant");
    let users = vec!["carol".to_owned(), "erin".to_owned(), "dave".to_owned()];
    let rows = sign_in_listed_with(&accounts, &grant, &server(&d), users)
        .await
        .unwrap();
    let signed: Vec<(&str, bool)> = rows
        .iter()
        .map(|r| (r.source_user.as_str(), r.source.is_some()))
        .collect();
    assert_eq!(signed, [("carol", true), ("erin", false), ("dave", true)]);
    let refused = rows[1].source_error.as_ref().unwrap();
    assert_eq!(
        refused.code,
        ErrorCode::OrganisationAccessRefused,
        "{refused:?}"
    );
    assert!(
        refused.message.contains("administrator"),
        "{}",
        refused.message
    );
    assert!(rows[0].source_error.is_none() && rows[2].source_error.is_none());
    let forms = tokens.forms.lock().unwrap().clone();
    assert_eq!(
        forms
            .iter()
            .map(|(g, s, u)| (g.as_str(), s.as_str(), u.as_str()))
            .collect::<Vec<_>>(),
        [
            (
                "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "https://mail.google.com/",
                "carol"
            ),
            (
                "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "https://mail.google.com/",
                "erin"
            ),
            (
                "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "https://mail.google.com/",
                "dave"
            ),
        ],
        "one token per mailbox, each for its own user, with mail access only"
    );
    // The account kept is the copy's: it reads dave's folders with a
    // token it renews, and nothing of the key reaches the window.
    let dave = accounts.get(rows[2].source.unwrap()).unwrap();
    assert_eq!(dave.credentials.user, "dave");
    assert!(matches!(
        dave.credentials.proof,
        mailferry::endpoint::Proof::Renewable(_)
    ));
    let json = serde_json::to_string(&rows).unwrap();
    assert!(
        !json.contains("PRIVATE") && !json.contains("admin-token"),
        "{json}"
    );
    let mut session = mailferry::imap::Session::connect(&dave.endpoint, &dave.credentials)
        .await
        .unwrap();
    assert!(!session.list("", "*").await.unwrap().is_empty());

    // Microsoft 365: the app's client credentials, one token for every
    // mailbox (asked once), with Exchange Online's IMAP scope.
    tokens.forms.lock().unwrap().clear();
    let directory = Directory {
        microsoft_login: tokens.url.trim_end_matches("/token").to_owned(),
        ..Directory::default()
    };
    let app = Client {
        id: "app-id".into(),
        secret: Some("app-secret-xyz".into()),
    };
    let microsoft = DirectorySignIn::Microsoft {
        tenant: "bakery.onmicrosoft.com".into(),
    };
    assert!(
        AdminGrant::of(
            &directory,
            Some(Client {
                secret: None,
                ..app.clone()
            }),
            &microsoft
        )
        .is_none(),
        "without the app's secret there is no administrator sign-in"
    );
    let grant = AdminGrant::of(&directory, Some(app), &microsoft).expect("a Microsoft grant");
    let rows = sign_in_listed_with(
        &accounts,
        &grant,
        &server(&d),
        vec!["carol".into(), "dave".into()],
    )
    .await
    .unwrap();
    assert!(rows[0].source.is_some(), "{:?}", rows[0].source_error);
    // The token names carol only (the stand-in's introspection is per user):
    // dave's row says so and carol's still stands.
    assert!(rows[1].source.is_none() && rows[1].source_error.is_some());
    let forms = tokens.forms.lock().unwrap().clone();
    assert_eq!(forms.len(), 1, "one app token for the tenant: {forms:?}");
    assert_eq!(forms[0].0, "client_credentials");
    assert_eq!(forms[0].1, "https://outlook.office365.com/.default");
}
