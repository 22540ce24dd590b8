//! Access tokens for a whole run: a [`TokenSource`] hands every connection
//! of a migration a token that is still good, gets a new one shortly before
//! the old one expires, and again when a server turns the old one down (a
//! migration outlives a one-hour token).
//!
//! Where the new tokens come from is a [`Grant`]: the user's refresh token
//! ([`RefreshGrant`], after the browser sign-in), a Google Workspace service
//! account with domain-wide delegation ([`ServiceAccount`], a signed JWT per
//! mailbox), or a Microsoft 365 app registration ([`ClientCredentials`],
//! app-only access with `IMAP.AccessAsApp`). The last two let an
//! administrator migrate every mailbox of a domain without collecting
//! passwords.

use super::oauth::{self, Client, Issuer, Tokens};
use crate::error::{Error, Problem};
use crate::provider::Provider;
use crate::secret::Secret;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A token is renewed when it has less than this left: a connection opened
/// with it has time to sign in, and a batch started with it time to finish.
pub const RENEW_MARGIN: Duration = Duration::from_secs(120);

/// Where new access tokens come from. Blocking (HTTP to the issuer).
pub trait Grant: Send + Sync {
    /// Who hands out the tokens, for logs and problems ("Google").
    fn issuer(&self) -> &str;
    /// A new access token.
    fn fetch(&self) -> Result<Tokens, Error>;
}

/// A shared, self-renewing access token. Cloning shares the token: every
/// connection of a run asks the same source, and a token turned down by the
/// server is renewed once, not once per connection.
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    grant: Box<dyn Grant>,
    /// Held while fetching, so that connections that ask at the same time
    /// wait for one new token instead of each fetching their own.
    cached: Mutex<Option<Cached>>,
}

struct Cached {
    token: Secret<String>,
    expires_at: Option<Instant>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("issuer", &self.inner.grant.issuer())
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    /// A source that fetches its first token when first asked.
    pub fn new(grant: impl Grant + 'static) -> TokenSource {
        TokenSource {
            inner: Arc::new(Inner {
                grant: Box::new(grant),
                cached: Mutex::new(None),
            }),
        }
    }

    /// A source that starts with tokens already in hand (from the browser
    /// sign-in).
    pub fn with_tokens(grant: impl Grant + 'static, tokens: &Tokens) -> TokenSource {
        let source = TokenSource::new(grant);
        *source.lock() = Some(Cached {
            token: tokens.access_token.clone(),
            expires_at: tokens.expires_at,
        });
        source
    }

    /// Who hands out the tokens.
    pub fn issuer(&self) -> &str {
        self.inner.grant.issuer()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Cached>> {
        // A panic while fetching leaves no half-written token behind.
        self.inner.cached.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A token with at least [`RENEW_MARGIN`] left, fetching one when the
    /// one in hand is about to expire. Blocking.
    pub fn token_blocking(&self) -> Result<Secret<String>, Error> {
        let mut cached = self.lock();
        if let Some(c) = cached.as_ref() {
            let fresh = c
                .expires_at
                .is_none_or(|at| Instant::now() + RENEW_MARGIN < at);
            if fresh {
                return Ok(c.token.clone());
            }
            tracing::info!(
                issuer = self.issuer(),
                "the access token is about to expire; getting a new one"
            );
        }
        self.fetch_into(&mut cached)
    }

    /// A new token after a server turned `refused` down. When another
    /// connection already replaced that token, its replacement is used.
    /// Blocking.
    pub fn renew_blocking(&self, refused: &Secret<String>) -> Result<Secret<String>, Error> {
        let mut cached = self.lock();
        if let Some(c) = cached.as_ref() {
            if c.token.expose() != refused.expose() {
                return Ok(c.token.clone());
            }
        }
        tracing::info!(
            issuer = self.issuer(),
            "the server turned the access token down; getting a new one"
        );
        self.fetch_into(&mut cached)
    }

    fn fetch_into(&self, cached: &mut Option<Cached>) -> Result<Secret<String>, Error> {
        let tokens = self.inner.grant.fetch()?;
        let token = tokens.access_token.clone();
        *cached = Some(Cached {
            token: tokens.access_token,
            expires_at: tokens.expires_at,
        });
        Ok(token)
    }

    /// [`TokenSource::token_blocking`] off the async runtime's threads.
    pub async fn token(&self) -> Result<Secret<String>, Error> {
        let source = self.clone();
        blocking(move || source.token_blocking()).await
    }

    /// [`TokenSource::renew_blocking`] off the async runtime's threads.
    pub async fn renew(&self, refused: &Secret<String>) -> Result<Secret<String>, Error> {
        let source = self.clone();
        let refused = refused.clone();
        blocking(move || source.renew_blocking(&refused)).await
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(Error::new(Problem::BrowserSignInFailed {
            issuer: "the sign-in service".into(),
        })
        .with_detail(format!("getting a new access token stopped: {e}")))
    })
}

/// New tokens from the user's refresh token (kept in the keychain). When
/// the issuer rotates refresh tokens, `on_rotate` is told the new one.
pub struct RefreshGrant {
    issuer: Issuer,
    client: Client,
    refresh_token: Mutex<Secret<String>>,
    on_rotate: Option<OnRotate>,
}

/// Told each new refresh token.
type OnRotate = Box<dyn Fn(&Secret<String>) + Send + Sync>;

impl RefreshGrant {
    /// A grant from `refresh_token`, issued to `client` by `issuer`.
    pub fn new(issuer: Issuer, client: Client, refresh_token: Secret<String>) -> RefreshGrant {
        RefreshGrant {
            issuer,
            client,
            refresh_token: Mutex::new(refresh_token),
            on_rotate: None,
        }
    }

    /// Calls `f` with each new refresh token the issuer hands out (to keep
    /// it in the keychain).
    pub fn on_rotate(mut self, f: impl Fn(&Secret<String>) + Send + Sync + 'static) -> Self {
        self.on_rotate = Some(Box::new(f));
        self
    }
}

impl Grant for RefreshGrant {
    fn issuer(&self) -> &str {
        &self.issuer.name
    }

    fn fetch(&self) -> Result<Tokens, Error> {
        let mut current = self.refresh_token.lock().unwrap_or_else(|p| p.into_inner());
        let tokens = oauth::refresh(&self.issuer, &self.client, &current)?;
        if let Some(new) = &tokens.refresh_token {
            if new.expose() != current.expose() {
                *current = new.clone();
                if let Some(f) = &self.on_rotate {
                    f(new);
                }
            }
        }
        Ok(tokens)
    }
}

/// The Google scope for IMAP.
pub const GOOGLE_MAIL_SCOPE: &str = "https://mail.google.com/";

/// A Google Workspace service account with domain-wide delegation: for each
/// mailbox, a JWT signed with the account's private key (RS256) is traded
/// for an access token to that mailbox (RFC 7523). The administrator
/// downloads the key file and allows the account's client ID the scope
/// `https://mail.google.com/` in the Admin console.
pub struct ServiceAccount {
    client_email: String,
    token_uri: String,
    key_id: Option<String>,
    key: ring::signature::RsaKeyPair,
    /// The mailbox to act as (the JWT's `sub`).
    subject: String,
    scope: String,
}

/// The fields of a Google service-account key file that matter here.
#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: String,
    private_key: String,
    private_key_id: Option<String>,
    token_uri: Option<String>,
}

impl ServiceAccount {
    /// Reads a key file (the JSON Google's console downloads) for acting as
    /// `subject`. The key text is dropped (and zeroed) once parsed.
    pub fn from_key_json(json: &Secret<String>, subject: &str) -> Result<ServiceAccount, Error> {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::PrivatePkcs8KeyDer;
        let bad = |why: &str| {
            Error::new(Problem::OrganisationAccessRefused {
                issuer: "Google".into(),
            })
            .with_detail(format!("the service-account key file {why}"))
        };
        let file: KeyFile = serde_json::from_str(json.expose()).map_err(|e| {
            bad(&format!(
                "is not a Google key file (JSON): line {}",
                e.line()
            ))
        })?;
        let file = ZeroOnDrop(file);
        if file
            .0
            .kind
            .as_deref()
            .is_some_and(|k| k != "service_account")
        {
            return Err(bad(
                "is not for a service account (its \"type\" is not \"service_account\")",
            ));
        }
        let der = PrivatePkcs8KeyDer::from_pem_slice(file.0.private_key.as_bytes())
            .map_err(|_| bad("holds no readable private key (PKCS #8 PEM)"))?;
        let key = ring::signature::RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
            .map_err(|e| bad(&format!("holds a private key MailFerry cannot use: {e}")))?;
        Ok(ServiceAccount {
            client_email: file.0.client_email.clone(),
            token_uri: file
                .0
                .token_uri
                .clone()
                .unwrap_or_else(|| "https://oauth2.googleapis.com/token".into()),
            key_id: file.0.private_key_id.clone(),
            key,
            subject: subject.to_owned(),
            scope: GOOGLE_MAIL_SCOPE.into(),
        })
    }

    /// The same account asking for `scope` instead of mail access (the
    /// directory's, to list the domain's mailboxes).
    pub fn with_scope(mut self, scope: &str) -> ServiceAccount {
        self.scope = scope.to_owned();
        self
    }

    /// The service account's address (`…@….iam.gserviceaccount.com`).
    pub fn client_email(&self) -> &str {
        &self.client_email
    }

    /// The signed assertion for one token request, issued at `now` (Unix
    /// seconds) and valid for an hour, Google's maximum.
    pub fn assertion(&self, now: u64) -> Result<Secret<String>, Error> {
        let mut header = serde_json::json!({ "alg": "RS256", "typ": "JWT" });
        if let Some(kid) = &self.key_id {
            header["kid"] = kid.clone().into();
        }
        let claims = serde_json::json!({
            "iss": self.client_email,
            "sub": self.subject,
            "scope": self.scope,
            "aud": self.token_uri,
            "iat": now,
            "exp": now + 3600,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| {
                Error::new(Problem::OrganisationAccessRefused {
                    issuer: "Google".into(),
                })
                .with_detail("cannot sign with the service account's key")
            })?;
        Ok(Secret::new(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        )))
    }
}

/// Zeroes the private key text of a parsed key file when it goes.
struct ZeroOnDrop(KeyFile);

impl Drop for ZeroOnDrop {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.0.private_key.zeroize();
    }
}

impl Grant for ServiceAccount {
    fn issuer(&self) -> &str {
        "Google"
    }

    fn fetch(&self) -> Result<Tokens, Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let assertion = self.assertion(now)?;
        let issuer = Issuer {
            name: "Google".into(),
            provider: Provider::Google,
            authorize_url: String::new(),
            token_url: self.token_uri.clone(),
            scopes: vec![self.scope.clone()],
            extra: Vec::new(),
            admin_consent_url: None,
        };
        organisation_grant(
            &issuer,
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.expose()),
            ],
        )
    }
}

/// The scope of Microsoft 365 app-only IMAP access (`IMAP.AccessAsApp`).
pub const MICROSOFT_APP_SCOPE: &str = "https://outlook.office365.com/.default";

/// Microsoft 365 app-only access (OAuth client credentials): the
/// organisation's app registration, granted `IMAP.AccessAsApp` with admin
/// consent and given access to the mailboxes in Exchange Online, signs in
/// to every mailbox with its own secret. One token serves every mailbox of
/// the tenant.
pub struct ClientCredentials {
    issuer: Issuer,
    client_id: String,
    client_secret: Secret<String>,
    scope: String,
}

impl ClientCredentials {
    /// For the tenant `tenant` (its ID or a domain such as
    /// `contoso.onmicrosoft.com`), or a token URL given in full.
    pub fn new(tenant: &str, client_id: &str, client_secret: Secret<String>) -> ClientCredentials {
        let token_url = if tenant.starts_with("https://") || tenant.starts_with("http://") {
            tenant.to_owned()
        } else {
            format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token")
        };
        ClientCredentials {
            issuer: Issuer {
                name: "Microsoft".into(),
                provider: Provider::Microsoft,
                authorize_url: String::new(),
                token_url,
                scopes: vec![MICROSOFT_APP_SCOPE.into()],
                extra: Vec::new(),
                admin_consent_url: None,
            },
            client_id: client_id.to_owned(),
            client_secret,
            scope: MICROSOFT_APP_SCOPE.to_owned(),
        }
    }

    /// The same app asking for `scope` instead of IMAP access (Microsoft
    /// Graph's, `https://graph.microsoft.com/.default`, to list mailboxes).
    pub fn with_scope(mut self, scope: &str) -> ClientCredentials {
        self.scope = scope.to_owned();
        self.issuer.scopes = vec![self.scope.clone()];
        self
    }
}

impl Grant for ClientCredentials {
    fn issuer(&self) -> &str {
        &self.issuer.name
    }

    fn fetch(&self) -> Result<Tokens, Error> {
        organisation_grant(
            &self.issuer,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &self.client_id),
                ("client_secret", self.client_secret.expose()),
                ("scope", &self.scope),
            ],
        )
    }
}

/// A token request of an organisation-wide grant; a refusal is the
/// administrator's to fix, and says so.
fn organisation_grant(issuer: &Issuer, form: &[(&str, &str)]) -> Result<Tokens, Error> {
    oauth::token_request(issuer, form).map_err(|e| match e.problem() {
        Problem::BrowserSignInFailed { .. }
        | Problem::TokenExpired { .. }
        | Problem::AdminConsentRequired { .. } => {
            let mut out = Error::new(Problem::OrganisationAccessRefused {
                issuer: issuer.name.clone(),
            });
            if let Some(detail) = e.detail() {
                out = out.with_detail(detail.to_owned());
            }
            out
        }
        _ => e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Hands out `tok-1`, `tok-2`, … each living `life`.
    struct Counter {
        n: AtomicUsize,
        life: Duration,
    }

    impl Grant for Counter {
        fn issuer(&self) -> &str {
            "Test"
        }
        fn fetch(&self) -> Result<Tokens, Error> {
            let n = self.n.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(Tokens {
                access_token: Secret::new(format!("tok-{n}")),
                refresh_token: None,
                expires_at: Some(Instant::now() + self.life),
            })
        }
    }

    fn source(life: Duration) -> TokenSource {
        TokenSource::new(Counter {
            n: AtomicUsize::new(0),
            life,
        })
    }

    #[test]
    fn a_good_token_is_reused() {
        let s = source(Duration::from_secs(3600));
        assert_eq!(s.token_blocking().unwrap().expose(), "tok-1");
        assert_eq!(s.clone().token_blocking().unwrap().expose(), "tok-1");
    }

    #[test]
    fn a_token_about_to_expire_is_renewed_before_use() {
        let s = source(RENEW_MARGIN / 2);
        assert_eq!(s.token_blocking().unwrap().expose(), "tok-1");
        assert_eq!(s.token_blocking().unwrap().expose(), "tok-2");
    }

    #[test]
    fn a_refused_token_is_renewed_once_for_every_connection() {
        let s = source(Duration::from_secs(3600));
        let first = s.token_blocking().unwrap();
        // Four connections find `tok-1` turned down at about the same time.
        let renewed: Vec<String> = (0..4)
            .map(|_| s.renew_blocking(&first).unwrap().expose().clone())
            .collect();
        assert_eq!(renewed, ["tok-2"; 4]);
        let second = s.token_blocking().unwrap();
        assert_eq!(s.renew_blocking(&second).unwrap().expose(), "tok-3");
    }

    #[test]
    fn tokens_in_hand_are_used_first() {
        let tokens = Tokens {
            access_token: Secret::new("from-browser".into()),
            refresh_token: None,
            expires_at: Some(Instant::now() + Duration::from_secs(3600)),
        };
        let s = TokenSource::with_tokens(
            Counter {
                n: AtomicUsize::new(0),
                life: Duration::from_secs(3600),
            },
            &tokens,
        );
        assert_eq!(s.token_blocking().unwrap().expose(), "from-browser");
        assert!(!format!("{s:?}").contains("from-browser"));
    }

    #[test]
    fn a_key_file_that_is_not_one_says_so() {
        for (text, says) in [
            ("not json", "is not a Google key file"),
            (
                r#"{"type":"authorized_user","client_email":"a","private_key":"x"}"#,
                "not for a service account",
            ),
            (
                r#"{"type":"service_account","client_email":"a","private_key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}"#,
                "cannot use",
            ),
        ] {
            let err = ServiceAccount::from_key_json(&Secret::new(text.into()), "u@example.com")
                .err()
                .expect(text);
            assert!(
                matches!(err.problem(), Problem::OrganisationAccessRefused { .. }),
                "{err:?}"
            );
            assert!(
                format!("{err:#}").contains(says) || err.detail().unwrap_or("").contains(says),
                "{text}: {err:?}"
            );
        }
    }

    #[test]
    fn microsoft_tenants_name_their_token_endpoint() {
        let c = ClientCredentials::new("contoso.onmicrosoft.com", "id", Secret::new("s".into()));
        assert_eq!(
            c.issuer.token_url,
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        let c = ClientCredentials::new("http://127.0.0.1:9/token", "id", Secret::new("s".into()));
        assert_eq!(c.issuer.token_url, "http://127.0.0.1:9/token");
    }
}
