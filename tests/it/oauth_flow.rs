//! The OAuth2 browser sign-in end to end: an authorization server on
//! loopback that insists on PKCE S256, a stand-in browser that follows the
//! authorization URL and its redirect back to MailFerry's one-shot listener,
//! then the token signing in to a real Dovecot; a wrong `state` is refused,
//! a second request to the listener finds nobody, and a refresh gives a new
//! access token.

use crate::common;
use crate::introspection;

use crate::introspection::{read_request, Introspection};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use mailferry::auth::oauth::{self, percent_decode, Browser, Client, Issuer};
use mailferry::endpoint::{Credentials, Endpoint, Security};
use mailferry::error::Problem;
use mailferry::imap::Session;
use mailferry_harness::Dovecot;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use ureq::ResponseExt;

/// What the authorization server saw and should do.
#[derive(Default)]
struct AuthState {
    /// code → (PKCE challenge, redirect_uri)
    codes: HashMap<String, (String, String)>,
    /// Answer the browser with another `state` than it was given.
    tamper_state: bool,
    issued: Vec<String>,
    verified_pkce: usize,
    /// Every refresh token sent to the token endpoint.
    refresh_tokens: Vec<String>,
}

struct AuthServer {
    base: String,
    state: Arc<Mutex<AuthState>>,
}

fn query(s: &str) -> HashMap<String, String> {
    s.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), percent_decode(v)))
        .collect()
}

fn respond(stream: &mut TcpStream, status: &str, headers: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

impl AuthServer {
    fn start(introspection: Introspection) -> AuthServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(AuthState::default()));
        let (me, shared, b) = (
            AuthServer {
                base: base.clone(),
                state: state.clone(),
            },
            state,
            base,
        );
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                handle(stream, &shared, &b, &introspection);
            }
        });
        me
    }
}

fn handle(mut stream: TcpStream, state: &Mutex<AuthState>, base: &str, idp: &Introspection) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let (first, body) = read_request(&mut reader).expect("a request");
    let body = String::from_utf8(body).unwrap();
    let target = first.split(' ').nth(1).unwrap().to_owned();
    let (path, q) = target.split_once('?').unwrap_or((&target, ""));
    let json = "Content-Type: application/json\r\n";
    match path {
        "/.well-known/openid-configuration" => respond(
            &mut stream,
            "200 OK",
            json,
            &format!(
                r#"{{"issuer":"{base}","authorization_endpoint":"{base}/authorize","token_endpoint":"{base}/token"}}"#
            ),
        ),
        "/authorize" => {
            let p = query(q);
            assert_eq!(p["response_type"], "code");
            assert_eq!(p["code_challenge_method"], "S256", "PKCE S256 is required");
            assert_eq!(p["client_id"], "mailferry-test-client");
            assert!(
                p["redirect_uri"].starts_with("http://127.0.0.1:"),
                "a loopback redirect"
            );
            assert!(p["scope"].contains("mail"), "{:?}", p["scope"]);
            let mut s = state.lock().unwrap();
            let code = format!("code-{}", s.codes.len() + 1);
            s.codes.insert(
                code.clone(),
                (p["code_challenge"].clone(), p["redirect_uri"].clone()),
            );
            let st = if s.tamper_state {
                "forged".to_owned()
            } else {
                p["state"].clone()
            };
            let location = format!("{}?code={code}&state={st}", p["redirect_uri"]);
            respond(
                &mut stream,
                "302 Found",
                &format!("Location: {location}\r\n"),
                "",
            );
        }
        "/token" => {
            let p = query(&body);
            let mut s = state.lock().unwrap();
            let token = format!("at-{}", s.issued.len() + 1);
            let ok = match p["grant_type"].as_str() {
                "authorization_code" => match s.codes.remove(&p["code"]) {
                    Some((challenge, redirect)) => {
                        let computed =
                            URL_SAFE_NO_PAD.encode(Sha256::digest(p["code_verifier"].as_bytes()));
                        assert_eq!(redirect, p["redirect_uri"], "the same redirect_uri");
                        if computed == challenge {
                            s.verified_pkce += 1;
                            true
                        } else {
                            false
                        }
                    }
                    None => false,
                },
                "refresh_token" => {
                    s.refresh_tokens.push(p["refresh_token"].clone());
                    p["refresh_token"] == "rt-1"
                }
                _ => false,
            };
            if ok {
                s.issued.push(token.clone());
                idp.grant(&token, "carol");
                respond(
                    &mut stream,
                    "200 OK",
                    json,
                    &format!(
                        r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-1"}}"#
                    ),
                );
            } else {
                respond(
                    &mut stream,
                    "400 Bad Request",
                    json,
                    r#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#,
                );
            }
        }
        _ => respond(&mut stream, "404 Not Found", "", ""),
    }
}

/// A stand-in for the system browser: follows the URL (and the redirect to
/// MailFerry's listener) on a thread, as a person clicking "Allow" would,
/// and keeps the last page and the address it ended on.
#[derive(Clone, Default)]
struct StandInBrowser {
    seen: Arc<Mutex<Vec<(String, u16, String)>>>,
}

impl Browser for StandInBrowser {
    fn open(&self, url: &str) -> std::io::Result<()> {
        let url = url.to_owned();
        let seen = self.seen.clone();
        std::thread::spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .save_redirect_history(true)
                .build()
                .into();
            let mut r = agent.get(&url).call().expect("the browser gets the pages");
            let status = r.status().as_u16();
            let last = r
                .get_redirect_history()
                .and_then(|h| h.last().map(|u| u.to_string()))
                .unwrap_or_default();
            let page = r.body_mut().read_to_string().unwrap_or_default();
            seen.lock().unwrap().push((last, status, page));
        });
        Ok(())
    }
}

fn client() -> Client {
    Client {
        id: "mailferry-test-client".into(),
        secret: None,
    }
}

#[test]
fn browser_sign_in_with_pkce_then_imap_then_refresh() {
    let idp = Introspection::start();
    let auth = AuthServer::start(idp.clone());
    let server = idp.dovecot();
    let issuer = Issuer::discover(&auth.base, &["mail", "offline_access"]).unwrap();
    assert_eq!(issuer.token_url, format!("{}/token", auth.base));
    let browser = StandInBrowser::default();
    let tokens = oauth::sign_in(
        &issuer,
        &client(),
        Some("carol"),
        &browser,
        Duration::from_secs(20),
    )
    .expect("the sign-in completes");
    assert_eq!(
        auth.state.lock().unwrap().verified_pkce,
        1,
        "the server verified PKCE"
    );
    assert!(tokens.refresh_token.is_some());
    assert!(!tokens.expires_within(Duration::from_secs(60)));
    assert!(
        !format!("{tokens:?}").contains("at-1"),
        "tokens print redacted"
    );

    // The browser saw the "close this tab" page.
    let seen = wait_for_browser(&browser);
    let (last_url, status, page) = &seen[0];
    assert_eq!(*status, 200);
    assert!(page.contains("You can close this tab"), "{page}");
    // The listener took one request and closed: a second finds nobody.
    let listener = last_url.split('?').next().unwrap();
    assert!(listener.starts_with("http://127.0.0.1:"), "{last_url}");
    let again = ureq::get(listener).call();
    assert!(
        again.is_err(),
        "a second request to the listener is refused: {again:?}"
    );

    // The access token signs in to the mail server.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut endpoint = Endpoint::new("127.0.0.1")
        .with_security(Security::Tls)
        .with_port(server.tls_port());
    endpoint.extra_roots_pem.push(server.ca_pem().to_owned());
    let creds = Credentials::access_token("carol", tokens.access_token.clone());
    let session = rt.block_on(Session::connect(&endpoint, &creds)).unwrap();
    rt.block_on(session.logout());

    // A refresh gives a new access token that signs in too.
    let refreshed = oauth::refresh(&issuer, &client(), tokens.refresh_token.as_ref().unwrap())
        .expect("refresh works");
    assert_eq!(refreshed.access_token.expose(), "at-2");
    let creds = Credentials::access_token("carol", refreshed.access_token.clone());
    let session = rt.block_on(Session::connect(&endpoint, &creds)).unwrap();
    rt.block_on(session.logout());

    // A revoked refresh token means signing in again.
    let err = oauth::refresh(
        &issuer,
        &client(),
        &mailferry::secret::Secret::new("rt-revoked".into()),
    )
    .unwrap_err();
    assert!(err.needs_new_token(), "{err:?}");
    assert!(err.to_string().contains("Sign in again"), "{err}");
}

#[test]
fn a_wrong_state_is_refused_and_the_code_never_used() {
    let idp = Introspection::start();
    let auth = AuthServer::start(idp);
    auth.state.lock().unwrap().tamper_state = true;
    let issuer = Issuer::discover(&auth.base, &["mail"]).unwrap();
    let browser = StandInBrowser::default();
    let err =
        oauth::sign_in(&issuer, &client(), None, &browser, Duration::from_secs(20)).unwrap_err();
    assert!(
        matches!(err.problem(), Problem::BrowserSignInFailed { .. }),
        "{err:?}"
    );
    assert!(err.detail().unwrap().contains("wrong state"), "{err:?}");
    let seen = wait_for_browser(&browser);
    assert_eq!(seen[0].1, 400, "the browser is told it failed");
    let s = auth.state.lock().unwrap();
    assert_eq!(s.issued.len(), 0, "the code was never exchanged");
    assert_eq!(s.codes.len(), 1, "the code is still unused at the server");
}

#[test]
fn nobody_answering_in_the_browser_times_out_plainly() {
    struct Nobody;
    impl Browser for Nobody {
        fn open(&self, _url: &str) -> std::io::Result<()> {
            Ok(())
        }
    }
    let issuer = Issuer {
        name: "Example".into(),
        provider: mailferry::provider::Provider::Other,
        authorize_url: "http://127.0.0.1:9/authorize".into(),
        token_url: "http://127.0.0.1:9/token".into(),
        scopes: vec![],
        extra: vec![],
        admin_consent_url: None,
    };
    let err = oauth::sign_in(
        &issuer,
        &client(),
        None,
        &Nobody,
        Duration::from_millis(300),
    )
    .unwrap_err();
    assert!(
        matches!(err.problem(), Problem::BrowserSignInFailed { issuer } if issuer == "Example"),
        "{err:?}"
    );
    assert!(err.detail().unwrap().contains("no answer"), "{err:?}");
}

fn wait_for_browser(browser: &StandInBrowser) -> Vec<(String, u16, String)> {
    for _ in 0..200 {
        let seen = browser.seen.lock().unwrap().clone();
        if !seen.is_empty() {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("the stand-in browser never finished");
}

/// `mailferry check --oauth1 ISSUER`: the browser is a script on the
/// command's behalf (MAILFERRY_BROWSER) that follows the URL with curl, as
/// the user clicking through would; without a keychain the sign-in lives
/// for this run only, and says so.
#[test]
fn cli_oauth_flag_signs_in_through_the_browser() {
    let idp = Introspection::start();
    let auth = AuthServer::start(idp.clone());
    let server = idp.dovecot();
    let dir = tempfile::tempdir().unwrap();
    let browser = curl_browser(dir.path());
    let no_bus = format!("unix:path={}", dir.path().join("no-bus").display());
    let shown = check_in_browser(
        &server,
        &auth,
        &browser,
        &[
            ("DBUS_SESSION_BUS_ADDRESS", no_bus.as_str()),
            ("MAILFERRY_LOG", "trace"),
        ],
    );
    assert!(shown.contains("kept for this run only"), "{shown}");
    assert_eq!(auth.state.lock().unwrap().verified_pkce, 1, "PKCE verified");
    for secret in ["at-1", "rt-1", "code-1"] {
        assert!(
            !shown.contains(secret),
            "the output shows {secret}:\n{shown}"
        );
    }
}

/// `mailferry check --oauth1 ISSUER` as carol with `browser` and `env`,
/// which must sign in; returns all it printed.
fn check_in_browser(
    server: &Dovecot,
    auth: &AuthServer,
    browser: &std::path::Path,
    env: &[(&str, &str)],
) -> String {
    let browser = browser.to_str().expect("a UTF-8 temp path");
    let mut all_env = vec![
        ("MAILFERRY_OAUTH_CLIENT_ID", "mailferry-test-client"),
        ("MAILFERRY_BROWSER", browser),
    ];
    all_env.extend_from_slice(env);
    let (status, shown) = common::check_as(server, "carol", &["--oauth1", &auth.base], &all_env);
    assert_eq!(status.code(), Some(0), "{shown}");
    assert!(shown.contains("✓ Signed in"), "{shown}");
    shown
}

/// A browser script for the command line: follows the URL with curl, as
/// the user clicking through would.
pub(crate) fn curl_browser(dir: &std::path::Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let browser = dir.join("stand-in-browser");
    std::fs::write(&browser, "#!/bin/sh\nexec curl -sfL -o /dev/null \"$1\"\n").unwrap();
    std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
    browser
}

/// A refresh token the keychain holds for another issuer (Google, as the
/// desktop app keeps it, or one kept without saying whose) is never sent to
/// the issuer `--oauth1` names: the user signs in in the browser instead,
/// and the new refresh token is kept for this issuer, which the next run
/// uses without the browser.
#[test]
fn cli_never_sends_a_saved_refresh_token_to_another_issuer() {
    if !introspection::inside_secret_service(
        module_path!(),
        "cli_never_sends_a_saved_refresh_token_to_another_issuer",
    ) {
        return;
    }
    use mailferry::auth::keychain::{Account, Keychain, SecretKind};
    use mailferry::secret::Secret;
    let idp = Introspection::start();
    let auth = AuthServer::start(idp.clone());
    let server = idp.dovecot();
    let dir = tempfile::tempdir().unwrap();
    let browser = curl_browser(dir.path());
    let keychain = Keychain::system().expect("the Secret Service answers");
    let account = Account::new("carol", "127.0.0.1");
    let check = || {
        check_in_browser(&server, &auth, &browser, &[]);
    };
    let google = Issuer::google();
    for (token, bound_to) in [
        ("1//google-refresh-token", Some(google.token_url.as_str())),
        ("1//unbound-refresh-token", None),
    ] {
        keychain
            .save(
                SecretKind::RefreshToken,
                &account,
                &Secret::new(token.into()),
            )
            .unwrap();
        let binding = Secret::new(bound_to.unwrap_or_default().to_owned());
        keychain
            .save(SecretKind::RefreshTokenBinding, &account, &binding)
            .unwrap();
        let signed_in_before = auth.state.lock().unwrap().verified_pkce;
        check();
        let s = auth.state.lock().unwrap();
        assert!(
            !s.refresh_tokens.iter().any(|t| t == token),
            "{token} (kept for {bound_to:?}) was sent to {}'s token service",
            auth.base
        );
        assert_eq!(
            s.verified_pkce,
            signed_in_before + 1,
            "the user signed in in the browser instead"
        );
    }
    // The new refresh token is kept for this issuer: the next run uses it
    // (a refresh, no browser).
    check();
    let s = auth.state.lock().unwrap();
    assert_eq!(s.verified_pkce, 2, "no third browser sign-in");
    assert_eq!(s.refresh_tokens, ["rt-1"], "{:?}", s.refresh_tokens);
    drop(s);
    assert_eq!(keychain.forget(&account).unwrap(), 2);
}
