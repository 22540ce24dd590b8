//! OAuth2 for native apps (RFC 8252): the authorization code flow with PKCE
//! S256 in the system browser, a one-shot loopback listener, the token
//! exchange and refresh.
//!
//! A small hand-written client rather than the `oauth2` crate: the flow is
//! four HTTP exchanges, and writing them keeps every secret (code, verifier,
//! tokens) in a [`Secret`] from the moment it is read, keeps the provider
//! error texts readable for [`Problem`]s, and needs only a blocking HTTPS
//! client (`ureq`, rustls with the OS trust store). Everything here blocks;
//! async callers use `spawn_blocking`.
//!
//! Providers are data ([`Issuer`]); client IDs are configuration
//! ([`Client`]): MailFerry never borrows another application's ID.

use crate::error::{Error, Problem};
use crate::provider::Provider;
use crate::secret::Secret;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// An authorization server: where the browser signs in and where tokens
/// come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issuer {
    /// The name users know ("Google", "Microsoft", or the issuer's URL).
    pub name: String,
    /// Whose mail servers take its tokens (for the wording of problems).
    pub provider: Provider,
    /// The authorization endpoint the browser opens.
    pub authorize_url: String,
    /// The token endpoint.
    pub token_url: String,
    /// The scopes to ask for.
    pub scopes: Vec<String>,
    /// Extra parameters for the authorization request.
    pub extra: Vec<(String, String)>,
    /// Where an organisation's administrator approves an app for everyone
    /// there (`{tenant}`: the organisation's domain, `{client}`: the app's
    /// client ID), when the issuer has such a page.
    pub admin_consent_url: Option<String>,
}

impl Issuer {
    /// Google accounts; the IMAP scope is `https://mail.google.com/`.
    pub fn google() -> Issuer {
        Issuer {
            name: "Google".into(),
            provider: Provider::Google,
            authorize_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            token_url: "https://oauth2.googleapis.com/token".into(),
            scopes: vec!["https://mail.google.com/".into()],
            // A refresh token, every time.
            extra: vec![
                ("access_type".into(), "offline".into()),
                ("prompt".into(), "consent".into()),
            ],
            // Google Workspace: the Admin console's list of apps allowed
            // to use Google data (Security, API controls, App access
            // control), where an administrator trusts an app by client ID.
            admin_consent_url: Some(
                "https://admin.google.com/ac/owl/list?tab=configuredApps".into(),
            ),
        }
    }

    /// Microsoft 365 work and school accounts: MailFerry's registration is
    /// a multi-tenant public client, so the `organizations` authority.
    pub fn microsoft() -> Issuer {
        Issuer {
            name: "Microsoft".into(),
            provider: Provider::Microsoft,
            authorize_url: "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize"
                .into(),
            token_url: "https://login.microsoftonline.com/organizations/oauth2/v2.0/token".into(),
            scopes: vec![
                "https://outlook.office.com/IMAP.AccessAsUser.All".into(),
                "offline_access".into(),
            ],
            extra: Vec::new(),
            // Microsoft identity platform: "Admin consent on the Microsoft
            // identity platform" (the tenant-wide approval page of an app).
            admin_consent_url: Some(
                "https://login.microsoftonline.com/{tenant}/adminconsent?client_id={client}".into(),
            ),
        }
    }

    /// This issuer asking for Microsoft Graph's contacts and calendars
    /// ([`GRAPH_SCOPES`]) instead of mail: the same sign-in pages and token
    /// service, the same app registration, another consent.
    pub fn for_graph(&self) -> Issuer {
        Issuer {
            scopes: GRAPH_SCOPES.iter().map(|s| s.to_string()).collect(),
            ..self.clone()
        }
    }

    /// This issuer asking for Google's contacts and calendars
    /// ([`GOOGLE_DAV_SCOPES`]: CardDAV and CalDAV take only these) instead
    /// of mail: the same sign-in pages and token service, the same app
    /// registration, another consent.
    pub fn for_google_dav(&self) -> Issuer {
        Issuer {
            scopes: GOOGLE_DAV_SCOPES.iter().map(|s| s.to_string()).collect(),
            ..self.clone()
        }
    }

    /// The page where the administrator of `user`'s organisation approves
    /// `client` for everyone there, when this issuer has one.
    pub fn admin_consent_page(&self, client: &Client, user: Option<&str>) -> Option<String> {
        let tenant = user?.rsplit_once('@')?.1.trim();
        let valid = !tenant.is_empty()
            && tenant
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        let template = self.admin_consent_url.as_ref().filter(|_| valid)?;
        Some(
            template
                .replace("{tenant}", &tenant.to_ascii_lowercase())
                .replace("{client}", &percent_encode(&client.id)),
        )
    }

    /// Any other issuer, found from its URL through its metadata
    /// (`/.well-known/openid-configuration`, else RFC 8414's
    /// `/.well-known/oauth-authorization-server`), asking for `scopes`.
    pub fn discover(issuer_url: &str, scopes: &[&str]) -> Result<Issuer, Error> {
        #[derive(Deserialize)]
        struct Metadata {
            authorization_endpoint: String,
            token_endpoint: String,
        }
        let base = issuer_url.trim_end_matches('/');
        let mut last = None;
        for path in [
            "/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server",
        ] {
            let url = format!("{base}{path}");
            match agent().get(&url).call() {
                Ok(mut r) if r.status().is_success() => {
                    let m: Metadata = r
                        .body_mut()
                        .read_to_string()
                        .map_err(|e| e.to_string())
                        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
                        .map_err(|e| failed(issuer_url, format!("cannot read {url}: {e}")))?;
                    return Ok(Issuer {
                        name: issuer_url.to_owned(),
                        provider: Provider::Other,
                        authorize_url: m.authorization_endpoint,
                        token_url: m.token_endpoint,
                        scopes: scopes.iter().map(|s| s.to_string()).collect(),
                        extra: Vec::new(),
                        admin_consent_url: None,
                    });
                }
                Ok(r) => last = Some(format!("{url} answered {}", r.status())),
                Err(e) => last = Some(format!("{url}: {e}")),
            }
        }
        Err(failed(issuer_url, last.unwrap_or_default()))
    }

    /// `google`, `microsoft`, or an issuer URL (discovered, asking for the
    /// `openid` and `email` scopes plus `offline_access`).
    pub fn from_name(name: &str) -> Result<Issuer, Error> {
        match name.to_ascii_lowercase().as_str() {
            "google" | "gmail" => Ok(Issuer::google()),
            "microsoft" | "outlook" | "office365" => Ok(Issuer::microsoft()),
            _ => Issuer::discover(name, &["openid", "email", "offline_access"]),
        }
    }
}

/// The delegated Microsoft Graph permissions the contacts and calendars
/// copy asks the owner for: their contacts and calendars (read and write),
/// their mailbox's time zone (for all-day and floating times), and a
/// refresh token (`offline_access`) for a copy that outlives an hour, and
/// their own profile (`User.Read`: which addresses are theirs, so that an
/// alias they type names their own mailbox).
pub const GRAPH_SCOPES: [&str; 5] = [
    "https://graph.microsoft.com/Contacts.ReadWrite",
    "https://graph.microsoft.com/Calendars.ReadWrite",
    "https://graph.microsoft.com/MailboxSettings.Read",
    "https://graph.microsoft.com/User.Read",
    "offline_access",
];

/// What Google's CardDAV and CalDAV servers take: read and write the
/// contacts, and the calendars (Google's People CardDAV and CalDAV guides).
pub const GOOGLE_DAV_SCOPES: [&str; 2] = [
    "https://www.googleapis.com/auth/carddav",
    "https://www.googleapis.com/auth/calendar",
];

/// This application's registration at the issuer. A native app's secret is
/// not secret (RFC 8252 §8.5), so it is plain text here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    /// The client ID.
    pub id: String,
    /// The client "secret" some issuers (Google) want from desktop apps too.
    pub secret: Option<String>,
}

/// What the issuer handed out.
#[derive(Clone, Debug)]
pub struct Tokens {
    /// Sent to the mail server; lives in memory only.
    pub access_token: Secret<String>,
    /// Gets new access tokens; kept in the keychain.
    pub refresh_token: Option<Secret<String>>,
    /// When the access token expires, if the issuer said.
    pub expires_at: Option<Instant>,
}

impl Tokens {
    /// Is the access token expired, or will it be within `margin`?
    pub fn expires_within(&self, margin: Duration) -> bool {
        self.expires_at
            .is_some_and(|at| Instant::now() + margin >= at)
    }
}

/// Opens URLs for the user to sign in. The real one is the system browser
/// ([`SystemBrowser`]); tests put a stand-in here.
pub trait Browser {
    /// Shows `url` to the user.
    fn open(&self, url: &str) -> std::io::Result<()>;
}

/// The system's default browser (never an embedded webview, RFC 8252 §8.12).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemBrowser;

impl Browser for SystemBrowser {
    fn open(&self, url: &str) -> std::io::Result<()> {
        open::that_detached(url)
    }
}

/// A program given the URL (named by `MAILFERRY_BROWSER`), for tests and
/// for machines where the default browser is not the one to use.
#[derive(Clone, Debug)]
pub struct Program(pub String);

impl Browser for Program {
    fn open(&self, url: &str) -> std::io::Result<()> {
        std::process::Command::new(&self.0)
            .arg(url)
            .stdin(std::process::Stdio::null())
            .spawn()
            .map(drop)
    }
}

/// The browser to sign in with: the program `MAILFERRY_BROWSER` names, else
/// the system's default.
pub fn browser_from_env() -> std::sync::Arc<dyn Browser + Send + Sync> {
    match std::env::var("MAILFERRY_BROWSER") {
        Ok(program) => std::sync::Arc::new(Program(program)),
        Err(_) => std::sync::Arc::new(SystemBrowser),
    }
}

/// The page the browser shows once the sign-in reached MailFerry.
const DONE_PAGE: &str = "<!doctype html><meta charset=utf-8><title>MailFerry</title>\
<body style=\"font-family:system-ui;margin:3em\"><h1>You're signed in</h1>\
<p>You can close this tab and go back to MailFerry.</p>";
/// The page for an answer that did not work out.
const FAILED_PAGE: &str = "<!doctype html><meta charset=utf-8><title>MailFerry</title>\
<body style=\"font-family:system-ui;margin:3em\"><h1>The sign-in did not finish</h1>\
<p>Close this tab and go back to MailFerry, which says what to do next.</p>";

/// Runs the whole browser sign-in: PKCE S256 and `state`, the browser on
/// the authorization page, one request on a loopback listener
/// (`127.0.0.1`, a port the system picks), then the code exchanged for
/// tokens. Gives up after `wait`.
pub fn sign_in(
    issuer: &Issuer,
    client: &Client,
    login_hint: Option<&str>,
    browser: &dyn Browser,
    wait: Duration,
) -> Result<Tokens, Error> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| failed(&issuer.name, format!("cannot listen on 127.0.0.1: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| failed(&issuer.name, e.to_string()))?
        .port();
    let redirect_uri = format!("http://127.0.0.1:{port}/");
    let verifier = Secret::new(random_token(32));
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.expose().as_bytes()));
    let state = random_token(16);

    let mut params: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", &client.id),
        ("redirect_uri", &redirect_uri),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("state", &state),
    ];
    let scope = issuer.scopes.join(" ");
    if !scope.is_empty() {
        params.push(("scope", &scope));
    }
    if let Some(hint) = login_hint {
        params.push(("login_hint", hint));
    }
    for (k, v) in &issuer.extra {
        params.push((k, v));
    }
    let sep = if issuer.authorize_url.contains('?') {
        '&'
    } else {
        '?'
    };
    let url = format!("{}{sep}{}", issuer.authorize_url, form_encode(&params));
    tracing::debug!(issuer = %issuer.name, port, "opening the browser to sign in");
    browser.open(&url).map_err(|e| {
        failed(
            &issuer.name,
            format!("cannot open the browser: {e}. Open this address yourself: {url}"),
        )
    })?;

    let answer = receive_redirect(&listener, wait, &state, issuer)?;
    // The listener closes here: a second request is refused.
    drop(listener);
    let consent = |e: Error| with_consent_page(e, issuer, client, login_hint);
    let code = answer.map_err(consent)?;
    tracing::debug!(issuer = %issuer.name, "the browser sign-in came back; exchanging the code");
    let mut form: Vec<(&str, &str)> = vec![
        ("grant_type", "authorization_code"),
        ("code", code.expose()),
        ("redirect_uri", &redirect_uri),
        ("client_id", &client.id),
        ("code_verifier", verifier.expose()),
    ];
    if let Some(secret) = &client.secret {
        form.push(("client_secret", secret));
    }
    token_request(issuer, &form).map_err(consent)
}

/// An administrator's approval the organisation needs, with the page where
/// they give it for this app and the user's organisation, when the issuer
/// has one.
fn with_consent_page(e: Error, issuer: &Issuer, client: &Client, user: Option<&str>) -> Error {
    match e.problem() {
        Problem::AdminConsentRequired {
            provider,
            approve_at: None,
            client_id: None,
        } => match issuer.admin_consent_page(client, user) {
            Some(page) => {
                let problem = Problem::AdminConsentRequired {
                    provider: *provider,
                    approve_at: Some(page),
                    client_id: Some(client.id.clone()),
                };
                match e.detail() {
                    Some(detail) => Error::new(problem).with_detail(detail.to_owned()),
                    None => Error::new(problem),
                }
            }
            None => e,
        },
        _ => e,
    }
}

/// A new access token from a refresh token. A refused refresh token (revoked,
/// expired) is [`Problem::TokenExpired`]: the user signs in again.
pub fn refresh(
    issuer: &Issuer,
    client: &Client,
    refresh_token: &Secret<String>,
) -> Result<Tokens, Error> {
    let mut form: Vec<(&str, &str)> = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.expose()),
        ("client_id", &client.id),
    ];
    if let Some(secret) = &client.secret {
        form.push(("client_secret", secret));
    }
    // Microsoft's refresh tokens open several services (mail, Graph): the
    // scopes say which one the new access token is for.
    let scope = issuer.scopes.join(" ");
    if issuer.provider == Provider::Microsoft && !scope.is_empty() {
        form.push(("scope", &scope));
    }
    let mut tokens = token_request(issuer, &form)?;
    if tokens.refresh_token.is_none() {
        // Most issuers keep the refresh token unchanged.
        tokens.refresh_token = Some(refresh_token.clone());
    }
    tracing::debug!(issuer = %issuer.name, "refreshed the access token");
    Ok(tokens)
}

/// Waits for the one request on the listener; `Ok(Err(_))` is an answer
/// that came but failed (the browser has been told), `Err(_)` no answer.
fn receive_redirect(
    listener: &TcpListener,
    wait: Duration,
    state: &str,
    signing_in_with: &Issuer,
) -> Result<Result<Secret<String>, Error>, Error> {
    let issuer = signing_in_with.name.as_str();
    listener
        .set_nonblocking(true)
        .map_err(|e| failed(issuer, e.to_string()))?;
    let deadline = Instant::now() + wait;
    let mut stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err(failed(
                        issuer,
                        format!(
                            "no answer from the browser within {}",
                            crate::error::human_duration(wait.as_secs())
                        ),
                    ));
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            Err(e) => return Err(failed(issuer, e.to_string())),
        }
    };
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let target = read_request_target(&mut stream);
    let query = target
        .as_deref()
        .and_then(|t| t.split_once('?'))
        .map(|(_, q)| q)
        .unwrap_or("");
    let param = |name: &str| {
        query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == name).then(|| Secret::new(percent_decode(v)))
        })
    };
    let outcome = if param("state").as_ref().map(|s| s.expose().as_str()) != Some(state) {
        Err(failed(
            issuer,
            "the answer in the browser did not belong to this sign-in (wrong state); nothing was used",
        ))
    } else if let Some(code) = param("code") {
        Ok(code)
    } else {
        let error = param("error")
            .map(|e| e.expose().clone())
            .unwrap_or_default();
        let description = param("error_description")
            .map(|e| e.expose().clone())
            .unwrap_or_default();
        Err(issuer_error(
            issuer,
            signing_in_with.provider,
            &error,
            &description,
        ))
    };
    let (status, page) = match &outcome {
        Ok(_) => ("200 OK", DONE_PAGE),
        Err(_) => ("400 Bad Request", FAILED_PAGE),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n{page}",
        page.len()
    );
    let _ = stream.flush();
    Ok(outcome)
}

/// The request target of an HTTP request (`/?code=…&state=…`).
fn read_request_target(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = Secret::new(String::from_utf8_lossy(&head).into_owned());
    let line = head.expose().lines().next()?;
    let mut parts = line.split(' ');
    (parts.next()? == "GET").then_some(())?;
    parts.next().map(str::to_owned)
}

/// One request to the issuer's token endpoint (RFC 6749 §4); the answer's
/// tokens go straight into [`Secret`]s.
pub(crate) fn token_request(issuer: &Issuer, form: &[(&str, &str)]) -> Result<Tokens, Error> {
    #[derive(Deserialize)]
    struct Answer {
        access_token: Option<String>,
        refresh_token: Option<String>,
        expires_in: Option<u64>,
        error: Option<String>,
        error_description: Option<String>,
    }
    let mut response = agent()
        .post(&issuer.token_url)
        .header("Accept", "application/json")
        .send_form(form.iter().copied())
        .map_err(|e| failed(&issuer.name, format!("cannot reach the token service: {e}")))?;
    let status = response.status();
    // The body holds the tokens: read into a Secret, parse, drop.
    let body = Secret::new(response.body_mut().read_to_string().unwrap_or_default());
    let answer: Answer = serde_json::from_str(body.expose()).map_err(|e| {
        failed(
            &issuer.name,
            format!("the token service answered {status} without readable JSON: {e}"),
        )
    })?;
    match answer {
        Answer {
            access_token: Some(access),
            refresh_token,
            expires_in,
            ..
        } if status.is_success() => Ok(Tokens {
            access_token: Secret::new(access),
            refresh_token: refresh_token.map(Secret::new),
            expires_at: expires_in.map(|s| Instant::now() + Duration::from_secs(s)),
        }),
        Answer {
            error,
            error_description,
            ..
        } => Err(issuer_error(
            &issuer.name,
            issuer.provider,
            error.as_deref().unwrap_or(""),
            error_description.as_deref().unwrap_or(""),
        )),
    }
}

/// An OAuth error (`error`, `error_description`, RFC 6749 §5.2) as a
/// problem. The texts name no secret.
fn issuer_error(issuer: &str, provider: Provider, error: &str, description: &str) -> Error {
    let lower = description.to_ascii_lowercase();
    let problem = if error == "consent_required"
        || error == "admin_policy_enforced"
        || lower.contains("admin_policy_enforced")
        || lower.contains("aadsts65001")
        || lower.contains("aadsts90094")
        || lower.contains("admin consent")
        || lower.contains("admin approval")
    {
        Problem::AdminConsentRequired {
            provider,
            approve_at: None,
            client_id: None,
        }
    } else if error == "invalid_grant" {
        Problem::TokenExpired { provider }
    } else {
        Problem::BrowserSignInFailed {
            issuer: issuer.to_owned(),
        }
    };
    let detail = match (error, description) {
        ("", "") => "the sign-in service gave no reason".to_owned(),
        (e, "") => format!("the sign-in service said: {e}"),
        (e, d) => format!("the sign-in service said: {e}: {d}"),
    };
    Error::new(problem).with_detail(detail)
}

fn failed(issuer: &str, detail: impl Into<String>) -> Error {
    Error::new(Problem::BrowserSignInFailed {
        issuer: issuer.to_owned(),
    })
    .with_detail(detail)
}

/// The web client of sign-ins and organisation directories: the system's
/// certificate authorities, 30 s per request, every status readable.
pub(crate) fn agent() -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .into()
}

/// `n` random bytes from the system's CSPRNG, base64url without padding.
fn random_token(n: usize) -> String {
    use ring::rand::SecureRandom;
    let mut bytes = vec![0u8; n];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system's random number generator works");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `application/x-www-form-urlencoded` (also used for query strings).
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `s` with every byte but the unreserved ones (RFC 3986) percent-encoded.
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Decodes `%XX` and `+` in a query or form value.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_round_trips() {
        let encoded = form_encode(&[
            ("scope", "https://mail.google.com/ offline_access"),
            ("a", "ü&="),
        ]);
        assert_eq!(
            encoded,
            "scope=https%3A%2F%2Fmail.google.com%2F%20offline_access&a=%C3%BC%26%3D"
        );
        assert_eq!(
            percent_decode("https%3A%2F%2Fx%20y+z%C3%BC"),
            "https://x y zü"
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
    }

    #[test]
    fn pkce_values_are_long_and_fresh() {
        let a = random_token(32);
        assert_eq!(a.len(), 43, "RFC 7636: 43 to 128 characters");
        assert_ne!(a, random_token(32));
    }

    #[test]
    fn providers_are_data() {
        assert_eq!(Issuer::google().scopes, ["https://mail.google.com/"]);
        assert_eq!(
            Issuer::microsoft().scopes,
            [
                "https://outlook.office.com/IMAP.AccessAsUser.All",
                "offline_access"
            ]
        );
        assert_eq!(Issuer::from_name("Google").unwrap(), Issuer::google());
    }

    /// A token service on loopback answering one request; the form it got.
    fn one_token_answer() -> (String, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/token", listener.local_addr().unwrap());
        let seen = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = stream.read(&mut buf).unwrap();
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if body.len() >= length || n == 0 {
                        break;
                    }
                }
            }
            let answer = r#"{"access_token":"at","token_type":"Bearer","expires_in":3600}"#;
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            )
            .unwrap();
            let text = String::from_utf8_lossy(&got).to_string();
            text.split_once("\r\n\r\n").unwrap().1.to_owned()
        });
        (url, seen)
    }

    #[test]
    fn a_microsoft_refresh_names_the_scopes_of_the_service_it_is_for() {
        let (url, seen) = one_token_answer();
        let graph = Issuer {
            token_url: url,
            ..Issuer::microsoft().for_graph()
        };
        let client = Client {
            id: "app".into(),
            secret: None,
        };
        let tokens = refresh(&graph, &client, &Secret::new("rt".into())).unwrap();
        assert_eq!(tokens.access_token.expose(), "at");
        assert_eq!(tokens.refresh_token.unwrap().expose(), "rt", "kept");
        let form = seen.join().unwrap();
        let scope = form
            .split('&')
            .find_map(|kv| kv.strip_prefix("scope="))
            .map(percent_decode);
        assert_eq!(
            scope.as_deref(),
            Some(GRAPH_SCOPES.join(" ").as_str()),
            "{form}"
        );
        assert_eq!(graph.authorize_url, Issuer::microsoft().authorize_url);
    }

    #[test]
    fn googles_contacts_and_calendars_ask_their_own_scopes_at_googles_pages() {
        let dav = Issuer::google().for_google_dav();
        assert_eq!(
            dav.scopes,
            [
                "https://www.googleapis.com/auth/carddav",
                "https://www.googleapis.com/auth/calendar"
            ]
        );
        let mail = Issuer::google();
        assert_eq!(
            (&dav.authorize_url, &dav.token_url, &dav.extra),
            (&mail.authorize_url, &mail.token_url, &mail.extra),
            "the same sign-in pages, and a refresh token every time"
        );
        assert!(!dav.scopes.contains(&"https://mail.google.com/".to_owned()));
    }

    #[test]
    fn issuer_errors_read_as_problems() {
        let e = issuer_error(
            "Microsoft",
            Provider::Microsoft,
            "invalid_grant",
            "AADSTS65001: The user or administrator has not consented to use the application",
        );
        assert_eq!(
            e.problem(),
            &Problem::AdminConsentRequired {
                provider: Provider::Microsoft,
                approve_at: None,
                client_id: None,
            }
        );
        let e = issuer_error(
            "Google",
            Provider::Google,
            "invalid_grant",
            "Token has been expired or revoked.",
        );
        assert!(e.needs_new_token(), "{e:?}");
        let e = issuer_error("Google", Provider::Google, "access_denied", "");
        assert!(matches!(e.problem(), Problem::BrowserSignInFailed { .. }));
    }

    /// A browser where the organisation's policy turns the user away: the
    /// issuer sends it back to MailFerry with a consent error.
    struct ConsentDenied;

    impl Browser for ConsentDenied {
        fn open(&self, url: &str) -> std::io::Result<()> {
            let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
            let param = |name: &str| {
                query.split('&').find_map(|kv| {
                    let (k, v) = kv.split_once('=')?;
                    (k == name).then(|| percent_decode(v))
                })
            };
            let redirect = param("redirect_uri").unwrap_or_default();
            let state = param("state").unwrap_or_default();
            let back = format!(
                "{redirect}?{}",
                form_encode(&[
                    ("error", "consent_required"),
                    (
                        "error_description",
                        "AADSTS90094: The grant requires admin permission.",
                    ),
                    ("state", &state),
                ])
            );
            std::thread::spawn(move || {
                let target = back.trim_start_matches("http://");
                let (host, path) = target.split_once('/').unwrap();
                let mut s = TcpStream::connect(host).unwrap();
                write!(s, "GET /{path} HTTP/1.1\r\nHost: {host}\r\n\r\n").unwrap();
                let _ = s.read_to_end(&mut Vec::new());
            });
            Ok(())
        }
    }

    #[test]
    fn an_organisation_that_must_approve_gets_the_approval_page_for_its_tenant() {
        let client = Client {
            id: "11111111-2222-3333-4444-555555555555".into(),
            secret: None,
        };
        let microsoft = Issuer {
            // Nothing is fetched: the browser stand-in answers at once.
            authorize_url: "http://127.0.0.1:9/authorize".into(),
            token_url: "http://127.0.0.1:9/token".into(),
            ..Issuer::microsoft()
        };
        let e = sign_in(
            &microsoft,
            &client,
            Some("anna@Bakery.example"),
            &ConsentDenied,
            Duration::from_secs(10),
        )
        .unwrap_err();
        let page = "https://login.microsoftonline.com/bakery.example/adminconsent\
                    ?client_id=11111111-2222-3333-4444-555555555555";
        assert_eq!(
            e.problem(),
            &Problem::AdminConsentRequired {
                provider: Provider::Microsoft,
                approve_at: Some(page.into()),
                client_id: Some(client.id.clone()),
            }
        );
        assert!(e.to_string().contains(page), "{e}");
        // Google Workspace: the Admin console page and the client ID to trust.
        let google = issuer_error("Google", Provider::Google, "admin_policy_enforced", "");
        let google = with_consent_page(
            google,
            &Issuer::google(),
            &client,
            Some("anna@bakery.example"),
        );
        let words = google.to_string();
        assert!(words.contains("https://admin.google.com/"), "{words}");
        assert!(words.contains(&client.id), "{words}");
        // No organisation to name, or an issuer without such a page: the
        // words without a link.
        assert_eq!(microsoft.admin_consent_page(&client, Some("anna")), None);
        assert_eq!(
            microsoft.admin_consent_page(&client, Some("x@evil.example/phish?")),
            None
        );
        assert_eq!(
            Issuer {
                admin_consent_url: None,
                ..Issuer::microsoft()
            }
            .admin_consent_page(&client, Some("a@b.example")),
            None
        );
    }
}
