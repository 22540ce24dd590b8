//! Access tokens that outlive a run, and organisation-wide sign-in, against
//! a real Dovecot whose `oauth2` passdb asks a loopback introspection
//! endpoint, with a token service on loopback standing in for Google's and
//! Microsoft's:
//! - a token that expires in the middle of a migration is renewed with the
//!   refresh token and the run goes on, renewing once;
//! - a Google service account (domain-wide delegation) signs in to each
//!   mailbox with a JWT that the token service verifies with the key's
//!   public half (`openssl`), claim by claim;
//! - Microsoft 365 app-only access (client credentials) signs in;
//! - a refused delegation ends in plain words naming the administrator;
//! - no token, assertion, key or client secret appears in any output.

use crate::common::{self, content, migrate_sessions, text};
/// Shared with the inventory tests (and the desktop shell's).
pub(crate) use crate::introspection::service_account_key;
use crate::introspection::{read_request, Introspection};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use mailferry::auth::grant::{RefreshGrant, ServiceAccount, TokenSource};
use mailferry::auth::oauth::{percent_decode, Client, Issuer, Tokens};
use mailferry::endpoint::{Credentials, Endpoint, Security};
use mailferry::imap::Session;
use mailferry::provider::Provider;
use mailferry::run::Options;
use mailferry::secret::Secret;
use mailferry_harness::{Direction, Dovecot, Fault, Layout, Message, Proxy};
use std::collections::HashMap;
use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What the token service does and saw.
#[derive(Default)]
struct Service {
    /// Answer every request with this OAuth error (`error`, description).
    refuse: Option<(String, String)>,
    /// The public key (PEM file) that signs service-account assertions.
    public_key: Option<std::path::PathBuf>,
    /// Access tokens handed out, in order.
    issued: Vec<String>,
    /// Every form received (for the hygiene check).
    forms: Vec<HashMap<String, String>>,
    /// Assertions whose signature `openssl` verified.
    verified: usize,
}

/// A token endpoint on 127.0.0.1: refresh tokens (`rt-1`), JWT bearer
/// assertions (RFC 7523, Google's service accounts) and client credentials
/// (Microsoft's app-only access). Every token it hands out is made active
/// at the introspection endpoint for the user it names.
#[derive(Clone)]
pub(crate) struct TokenService {
    pub(crate) url: String,
    state: Arc<Mutex<Service>>,
}

impl TokenService {
    pub(crate) fn start(idp: Introspection) -> TokenService {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let me = TokenService {
            url: format!("http://{}/token", listener.local_addr().unwrap()),
            state: Arc::default(),
        };
        let server = me.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                server.answer(stream, &idp);
            }
        });
        me
    }

    /// The access tokens handed out, in order.
    pub(crate) fn issued(&self) -> Vec<String> {
        self.state.lock().unwrap().issued.clone()
    }

    fn answer(&self, mut stream: std::net::TcpStream, idp: &Introspection) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let Some((_, body)) = read_request(&mut reader) else {
            return;
        };
        let form: HashMap<String, String> = String::from_utf8(body)
            .unwrap()
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), percent_decode(&v.replace('+', " "))))
            .collect();
        let mut s = self.state.lock().unwrap();
        s.forms.push(form.clone());
        let user = match (&s.refuse, form["grant_type"].as_str()) {
            (Some(_), _) => Err("refused".to_owned()),
            (None, "refresh_token") if form["refresh_token"] == "1//rt-mf" => {
                Ok("carol".to_owned())
            }
            (None, "urn:ietf:params:oauth:grant-type:jwt-bearer") => {
                let key = s.public_key.clone().expect("a public key");
                let subject = check_assertion(&form["assertion"], &key, &self.url);
                s.verified += 1;
                Ok(subject)
            }
            (None, "client_credentials") => {
                assert_eq!(form["client_id"], "app-id");
                assert_eq!(form["client_secret"], "app-secret-xyz");
                assert_eq!(form["scope"], "https://outlook.office365.com/.default");
                Ok("carol".to_owned())
            }
            (None, other) => Err(format!("unexpected grant {other}")),
        };
        let (status, body) = match user {
            Ok(user) => {
                let token = format!("ya29.mf-{}", s.issued.len() + 2);
                s.issued.push(token.clone());
                idp.grant(&token, &user);
                (
                    "200 OK",
                    format!(
                        r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":3600}}"#
                    ),
                )
            }
            Err(_) => {
                let (error, description) = s
                    .refuse
                    .clone()
                    .unwrap_or(("invalid_grant".into(), "no".into()));
                (
                    "400 Bad Request",
                    format!(r#"{{"error":"{error}","error_description":"{description}"}}"#),
                )
            }
        };
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }
}

/// Checks a service-account assertion as Google does: RS256 over
/// `header.claims`, verified by `openssl` with the public key; issuer,
/// audience, scope and an hour's lifetime. Returns the mailbox (`sub`).
fn check_assertion(jwt: &str, public_key: &Path, token_url: &str) -> String {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "header.claims.signature");
    let decode = |p: &str| -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).expect("base64url")).expect("JSON")
    };
    let header = decode(parts[0]);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["kid"], "key-id-1");
    let claims = decode(parts[1]);
    assert_eq!(
        claims["iss"],
        "mailferry@test-project.iam.gserviceaccount.com"
    );
    assert_eq!(claims["aud"], token_url);
    assert_eq!(claims["scope"], "https://mail.google.com/");
    let (iat, exp) = (
        claims["iat"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    assert_eq!(exp - iat, 3600, "an hour, Google's longest");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(iat.abs_diff(now) < 60, "issued now");

    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    let signature = dir.path().join("signature");
    std::fs::write(&input, format!("{}.{}", parts[0], parts[1])).unwrap();
    std::fs::write(&signature, URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(public_key)
        .arg("-signature")
        .arg(&signature)
        .arg(&input)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success() && text(&out.stdout).contains("Verified OK"),
        "the signature verifies with the public key: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    claims["sub"].as_str().unwrap().to_owned()
}

/// A Dovecot that takes introspected tokens, with the users carol and dave.
fn oauth_dovecot(idp: &Introspection) -> Dovecot {
    Dovecot::builder()
        .layout(Layout::Exchange)
        .fsync(false)
        .user("carol", "carolpass")
        .user("dave", "davepass")
        .oauth2_introspection(idp.url())
        .build()
}

fn plain(port: u16) -> Endpoint {
    let mut e = Endpoint::new("127.0.0.1")
        .with_security(Security::Plain)
        .with_port(port);
    e.timeout = Duration::from_secs(20);
    e
}

fn mail(i: usize, filler: &str) -> Message {
    Message::new(
        format!(
            "From: s{i}@example.net\r\nTo: carol@example.com\r\nSubject: Renewal {i}\r\n\
             Message-ID: <renewal-{i}@example.net>\r\n\r\nBody {i}.{filler}\r\n"
        )
        .into_bytes(),
    )
    .flags(&["\\Seen"])
}

/// The check of every output: none of these secrets, nor their base64.
fn assert_hides(outputs: &[&str], secrets: &[&str]) {
    for out in outputs {
        for secret in secrets {
            for form in [secret.to_string(), STANDARD.encode(secret)] {
                assert!(!out.contains(&form), "{secret:?} leaked into:\n{out}");
            }
        }
    }
}

/// A migration from carol's mailbox whose first access token is good for
/// one sign-in, renewed with `refresh_token`; the source connection is cut
/// in the middle of a message, so the reconnection finds it expired.
struct PastExpiry {
    _idp: Introspection,
    service: TokenService,
    src: Dovecot,
    dst: Dovecot,
    _proxy: Proxy,
    dir: tempfile::TempDir,
    result: Result<mailferry::run::Report, mailferry::error::Error>,
}

/// A sign-in that starts with the access token `ya29.mf-1` (an hour
/// left) and renews it at `service` with `refresh_token`.
pub(crate) fn renewable(service: &TokenService, refresh_token: &str) -> TokenSource {
    let issuer = Issuer {
        name: "Example".into(),
        provider: Provider::Other,
        authorize_url: String::new(),
        token_url: service.url.clone(),
        scopes: vec!["mail".into()],
        extra: Vec::new(),
        admin_consent_url: None,
    };
    let client = Client {
        id: "mailferry-test-client".into(),
        secret: None,
    };
    let tokens = Tokens {
        access_token: Secret::new("ya29.mf-1".into()),
        refresh_token: Some(Secret::new(refresh_token.into())),
        expires_at: Some(Instant::now() + Duration::from_secs(3600)),
    };
    let grant = RefreshGrant::new(issuer, client, Secret::new(refresh_token.into()));
    TokenSource::with_tokens(grant, &tokens)
}

async fn run_past_expiry(refresh_token: &str) -> PastExpiry {
    let idp = Introspection::start();
    let service = TokenService::start(idp.clone());
    let src = oauth_dovecot(&idp);
    let filler = "r".repeat(2_000_000);
    src.append(
        "carol",
        "INBOX",
        &(0..5).map(|i| mail(i, &filler)).collect::<Vec<_>>(),
    );
    let dst = common::dovecot(Layout::Exchange);
    idp.grant_for("ya29.mf-1", "carol", 1);
    let proxy = Proxy::start(src.addr_plain());
    proxy.set_fault_once(Fault::cut_after_match(Direction::ToClient, "BODY[] {"));

    let credentials = Credentials::renewable("carol", renewable(&service, refresh_token));

    let source = Session::connect(&plain(proxy.addr().port()), &credentials)
        .await
        .expect("the first token signs in");
    let dest = Session::connect(
        &plain(dst.plain_port()),
        &Credentials::password("alice", "alicepass"),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let result = migrate_sessions(
        source,
        dest,
        &dir.path().join("job.db"),
        &Options::default(),
    )
    .await;
    assert_eq!(proxy.cuts(), 1, "the connection was cut once");
    PastExpiry {
        _idp: idp,
        service,
        src,
        dst,
        _proxy: proxy,
        dir,
        result,
    }
}

#[tokio::test]
async fn a_token_that_expires_mid_run_is_renewed_and_the_run_goes_on() {
    let PastExpiry {
        service,
        src,
        dst,
        dir,
        result,
        ..
    } = run_past_expiry("1//rt-mf").await;
    let report = result.expect("the run renews its token and finishes");

    assert_eq!(report.transferred(), 5, "{report:#?}");
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert_eq!(
        content(&dst.fetch_all("alice", "INBOX")),
        content(&src.fetch_all("carol", "INBOX")),
        "every message arrived once, exact"
    );
    let s = service.state.lock().unwrap();
    assert_eq!(
        s.issued,
        ["ya29.mf-2"],
        "renewed once, with the refresh token"
    );
    // The job's state (and its write-ahead log) holds no token.
    let mut stored = String::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        stored += &String::from_utf8_lossy(&std::fs::read(entry.unwrap().path()).unwrap());
    }
    assert_hides(
        &[&stored, &format!("{report:?}")],
        &["ya29.mf-1", "ya29.mf-2", "1//rt-mf"],
    );
    assert!(
        src.log().contains("carol"),
        "the source saw carol sign in:\n{}",
        src.log()
    );
}

#[tokio::test]
async fn a_token_that_cannot_be_renewed_stops_the_run_with_sign_in_words() {
    // The refresh token was withdrawn meanwhile: the issuer refuses it.
    let past = run_past_expiry("1//rt-withdrawn").await;
    let err = past.result.expect_err("the run cannot go on");
    assert!(
        err.needs_new_token(),
        "the user hears to sign in again, not 'connection lost': {err:?}"
    );
    assert!(err.to_string().contains("Sign in again"), "{err}");
    assert!(
        past.service.state.lock().unwrap().issued.is_empty(),
        "no token was handed out"
    );
}

#[test]
fn a_google_service_account_signs_in_to_each_mailbox_with_a_signed_assertion() {
    let idp = Introspection::start();
    let service = TokenService::start(idp.clone());
    let server = oauth_dovecot(&idp);
    let dir = tempfile::tempdir().unwrap();
    let (public, pem) = service_account_key(dir.path(), &service.url);
    service.state.lock().unwrap().public_key = Some(public);
    let key_file = dir.path().join("service-account.json");

    let mut outputs = Vec::new();
    for user in ["carol", "dave"] {
        let (status, all) = common::check_as(
            &server,
            user,
            &["--serviceaccount1", key_file.to_str().unwrap()],
            &[],
        );
        assert!(status.success(), "{user}: {all}\n{}", server.log());
        outputs.push(all);
    }
    let s = service.state.lock().unwrap();
    assert_eq!(s.verified, 2, "one verified assertion per mailbox");
    assert_eq!(s.issued, ["ya29.mf-2", "ya29.mf-3"]);
    // The assertions themselves are as good as a token for an hour.
    let assertions: Vec<String> = s.forms.iter().map(|f| f["assertion"].clone()).collect();
    let key_body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut secrets = vec!["ya29.mf-2", "ya29.mf-3", key_body.as_str()];
    secrets.extend(assertions.iter().map(String::as_str));
    assert_hides(
        &outputs.iter().map(String::as_str).collect::<Vec<_>>(),
        &secrets,
    );
}

#[test]
fn the_assertion_is_signed_by_the_key_file_and_names_the_mailbox() {
    // The library call, without a mail server: the JWT is well-formed and
    // its signature verifies with the public key.
    let dir = tempfile::tempdir().unwrap();
    let url = "https://oauth2.example.test/token";
    let (public, _) = service_account_key(dir.path(), url);
    let json = std::fs::read_to_string(dir.path().join("service-account.json")).unwrap();
    let account = ServiceAccount::from_key_json(&Secret::new(json), "erin@example.com").unwrap();
    assert_eq!(
        account.client_email(),
        "mailferry@test-project.iam.gserviceaccount.com"
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let jwt = account.assertion(now).unwrap();
    assert_eq!(
        check_assertion(jwt.expose(), &public, url),
        "erin@example.com"
    );
    // A signature over other claims does not verify.
    let parts: Vec<&str> = jwt.expose().split('.').collect();
    let other = URL_SAFE_NO_PAD.encode(
        String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap())
            .unwrap()
            .replace("erin@", "mallory@"),
    );
    let forged = format!("{}.{other}.{}", parts[0], parts[2]);
    let caught = std::panic::catch_unwind(|| check_assertion(&forged, &public, url));
    assert!(caught.is_err(), "a forged assertion is caught by the check");
}

#[test]
fn microsoft_app_only_access_signs_in_without_a_password() {
    let idp = Introspection::start();
    let service = TokenService::start(idp.clone());
    let server = oauth_dovecot(&idp);
    let (status, all) = common::check_as(
        &server,
        "carol",
        &["--clientcredentials1", &service.url],
        &[
            ("MAILFERRY_OAUTH_CLIENT_ID", "app-id"),
            ("MAILFERRY_OAUTH_CLIENT_SECRET", "app-secret-xyz"),
        ],
    );
    assert!(status.success(), "{all}\n{}", server.log());
    assert_eq!(service.state.lock().unwrap().issued, ["ya29.mf-2"]);
    assert_hides(&[&all], &["ya29.mf-2", "app-secret-xyz"]);
}

#[test]
fn a_refused_delegation_names_the_administrator_in_plain_words() {
    let idp = Introspection::start();
    let service = TokenService::start(idp.clone());
    service.state.lock().unwrap().refuse = Some((
        "unauthorized_client".into(),
        "Client is unauthorized to retrieve access tokens using this method".into(),
    ));
    let server = oauth_dovecot(&idp);
    let dir = tempfile::tempdir().unwrap();
    service_account_key(dir.path(), &service.url);
    let key_file = dir.path().join("service-account.json");
    let (status, all) = common::check_as(
        &server,
        "carol",
        &["--serviceaccount1", key_file.to_str().unwrap()],
        &[],
    );
    assert_eq!(status.code(), Some(2), "{all}");
    assert!(all.contains("administrator must allow it"), "{all}");
    assert!(all.contains("Domain-wide delegation"), "{all}");
    assert!(
        all.contains("unauthorized_client"),
        "the details keep Google's words: {all}"
    );
    assert!(all.contains("OrganisationAccessRefused"), "{all}");
}
