//! A provider's sign-in on loopback (Microsoft's, Google's): an authorize
//! page that sends the browser straight back with a code (the owner
//! clicking "Accept"), and a token service that checks PKCE and hands out,
//! for the code, a first access token (one the server turns down, or one
//! about to expire) with a refresh token, and for that refresh token the
//! one the server takes.
use super::loopback::{param, read_request, StandInBrowser};
use base64::Engine;
use mailferry::auth::keychain::{Account, Keychain, SecretKind};
use mailferry::auth::oauth::{Client, Issuer};
use mailferry::auth::registration::Registrations;
use mailferry_desktop::commands::oauth::OAuthConfig;
use sha2::Digest;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// What the service saw.
#[derive(Default, Debug)]
pub struct Seen {
    /// The authorize requests' scopes.
    pub scopes: Vec<String>,
    /// The authorize requests' client IDs.
    pub clients: Vec<String>,
    /// Each token request's grant, with its `scope` when it had one.
    pub grants: Vec<(String, String)>,
    /// code → PKCE challenge.
    challenges: Vec<(String, String)>,
}

pub struct Service {
    pub base: String,
    pub seen: Arc<Mutex<Seen>>,
}

fn answer(stream: &mut TcpStream, status: &str, headers: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

impl Service {
    /// A service whose code gives `expired-access-token` (good for
    /// `first_life` seconds, as the service says) and the refresh token
    /// `refresh`, and whose refresh token gives `good_token`.
    pub fn start(refresh: &'static str, first_life: u64, good_token: &'static str) -> Service {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Seen::default()));
        let shared = seen.clone();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let (target, body) = read_request(&stream);
                let (path, q) = target.split_once('?').unwrap_or((&target, ""));
                let json = "Content-Type: application/json\r\n";
                let mut seen = shared.lock().unwrap();
                match path {
                    "/authorize" => {
                        assert_eq!(param(q, "code_challenge_method"), "S256");
                        assert!(param(q, "redirect_uri").starts_with("http://127.0.0.1:"));
                        seen.scopes.push(param(q, "scope"));
                        seen.clients.push(param(q, "client_id"));
                        let code = format!("code-{}", seen.challenges.len() + 1);
                        seen.challenges
                            .push((code.clone(), param(q, "code_challenge")));
                        let location = format!(
                            "Location: {}?code={code}&state={}\r\n",
                            param(q, "redirect_uri"),
                            param(q, "state")
                        );
                        answer(&mut stream, "302 Found", &location, "");
                    }
                    "/token" => {
                        let grant = param(&body, "grant_type");
                        seen.grants.push((grant.clone(), param(&body, "scope")));
                        let verified = || {
                            let code = param(&body, "code");
                            let challenge = seen
                                .challenges
                                .iter()
                                .find(|(c, _)| *c == code)
                                .map(|(_, ch)| ch.clone());
                            let digest = sha2::Sha256::digest(param(&body, "code_verifier"));
                            challenge.as_deref()
                                == Some(
                                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                                        .encode(digest)
                                        .as_str(),
                                )
                        };
                        if grant == "authorization_code" && verified() {
                            answer(
                                &mut stream,
                                "200 OK",
                                json,
                                &format!(
                                    r#"{{"access_token":"expired-access-token","token_type":"Bearer","expires_in":{first_life},"refresh_token":"{refresh}"}}"#
                                ),
                            );
                        } else if grant == "refresh_token"
                            && param(&body, "refresh_token") == refresh
                        {
                            answer(
                                &mut stream,
                                "200 OK",
                                json,
                                &format!(
                                    r#"{{"access_token":"{good_token}","token_type":"Bearer","expires_in":3600}}"#
                                ),
                            );
                        } else {
                            answer(
                                &mut stream,
                                "400 Bad Request",
                                json,
                                r#"{"error":"invalid_grant","error_description":"The provided code or refresh token is not valid."}"#,
                            );
                        }
                    }
                    _ => answer(&mut stream, "404 Not Found", "", ""),
                }
            }
        });
        Service { base, seen }
    }
}

impl Service {
    /// The browser asked for `scopes` (these and no others) once, with the
    /// app registration `client`.
    pub fn assert_asked(&self, scopes: &[&str], client: &str) {
        let seen = self.seen.lock().unwrap();
        assert_eq!(
            seen.scopes,
            [scopes.join(" ")],
            "not the mail's permissions"
        );
        assert_eq!(seen.clients, [client], "the mail's app registration");
    }

    /// What the window's sign-ins run with: `mail` (Google's or
    /// Microsoft's issuer as the mail signs in with it) with its pages
    /// here, the other provider's as it is, this copy's registration
    /// `client` there, and the owner's `browser`.
    pub fn config(
        &self,
        mail: Issuer,
        client: Client,
        browser: Arc<StandInBrowser>,
    ) -> OAuthConfig {
        let mut registrations = Registrations::default();
        registrations.set(mail.provider, Some(client));
        let here = Issuer {
            authorize_url: format!("{}/authorize", self.base),
            token_url: format!("{}/token", self.base),
            ..mail
        };
        let issuers = [Issuer::google(), Issuer::microsoft()]
            .into_iter()
            .map(|i| {
                if i.provider == here.provider {
                    here.clone()
                } else {
                    i
                }
            })
            .collect();
        OAuthConfig {
            registrations,
            issuers,
            browser,
            wait: std::time::Duration::from_secs(20),
        }
    }
}

/// The refresh token `keychain` keeps for `user` under `host`, if any.
pub fn kept(keychain: &Keychain, user: &str, host: &str) -> Option<String> {
    keychain
        .load(SecretKind::RefreshToken, &Account::new(user, host))
        .unwrap()
        .map(|t| t.expose().clone())
}

/// What the window gets back from a sign-in holds no token nor secret.
pub fn assert_no_secret(answer: &impl serde::Serialize) {
    let json = serde_json::to_string(answer).unwrap();
    assert!(
        !json.contains("token") && !json.contains("secret"),
        "{json}"
    );
}
