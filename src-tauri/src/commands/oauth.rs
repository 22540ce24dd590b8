//! Step 3, "Sign in" through the provider's page in the system browser
//! (OAuth2, the engine's `auth::signin`, as the command line runs it:
//! PKCE, loopback redirect, the refresh token kept bound to its issuer), for
//! providers that need it (Microsoft 365) or offer it (Google).
//!
//! Nothing secret crosses to the window: the shell runs the browser flow,
//! keeps the refresh token in the keychain (or, without one, for this
//! session only) and the access token in the session's account, and
//! answers with a handle. A saved refresh token signs in again without the
//! browser. The app's registrations are one per provider (the engine's
//! `auth::registration`: compiled into a release build, or named by the
//! environment as for the command line), or the user's organisation's own,
//! entered on the sign-in screen per provider (`set_oauth_client`) and kept
//! in the app's data folder; without one for a provider, its button is not
//! offered and the screen says why.
//!
//! The window only names an issuer, and only a configured one (the presets:
//! Google, Microsoft), reached over https: an issuer URL from the window is
//! refused before anything is fetched or sent. A saved refresh token is
//! only ever sent to the token service of the issuer that gave it.

use super::servers::Server;
use super::sign_in::SignedIn;
use crate::accounts::{Account, Accounts};
use crate::error::{IpcError, IpcResult};
use mailferry::auth::oauth::{self, Browser, Client, Issuer};
use mailferry::auth::registration::Registrations;
use mailferry::auth::signin::{self, SignIn};
use mailferry::check::{check, Step};
use mailferry::endpoint::{AuthMechanism, Credentials};
use mailferry::provider::Provider;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tauri::State;

/// The app's registration with the providers, and the browser to use.
#[derive(Clone)]
pub struct OAuthConfig {
    /// The app's registration with each provider (a provider without one:
    /// browser sign-in with it is not offered).
    pub registrations: Registrations,
    /// The issuers the window may name (by name, in lower case): the
    /// presets. Nothing else is ever contacted.
    pub issuers: Vec<Issuer>,
    /// Where the sign-in page opens: the system browser (a program named by
    /// `MAILFERRY_BROWSER` instead, for tests and unusual setups).
    pub browser: Arc<dyn Browser + Send + Sync>,
    /// How long to wait for the user in the browser.
    pub wait: Duration,
}

impl OAuthConfig {
    /// From the environment, as the command line reads it.
    pub fn from_env() -> OAuthConfig {
        let browser = oauth::browser_from_env();
        OAuthConfig {
            registrations: Registrations::current(),
            issuers: vec![Issuer::google(), Issuer::microsoft()],
            browser,
            wait: Duration::from_secs(300),
        }
    }
}

/// The registrations the user entered in the app (their organisation's own
/// with Google or Microsoft), each winning over this copy's for its
/// provider. Not secret (RFC 8252 §8.5: a desktop app's "secret" is not
/// one), so kept as a file in the app's data folder beside the saved job:
/// closing the app keeps them.
#[derive(Default)]
pub struct ClientOverride {
    chosen: std::sync::Mutex<Registrations>,
    /// Where they are kept (`None`: for this session only).
    file: Option<PathBuf>,
}

/// One registration as the file keeps it.
#[derive(Serialize, Deserialize)]
struct Kept {
    provider: String,
    id: String,
    secret: Option<String>,
}

/// The providers a user may register their own app with, as the window
/// names them.
const OWN: [(&str, Provider); 2] = [
    ("google", Provider::Google),
    ("microsoft", Provider::Microsoft),
];

impl ClientOverride {
    /// The registrations kept in `file` by an earlier session, kept there
    /// again when the user changes them.
    pub fn kept_in(file: PathBuf) -> ClientOverride {
        let mut chosen = Registrations::default();
        if let Ok(bytes) = std::fs::read(&file) {
            match serde_json::from_slice::<Vec<Kept>>(&bytes) {
                Ok(kept) => {
                    for k in kept {
                        if let Some((_, provider)) = OWN.iter().find(|(n, _)| *n == k.provider) {
                            chosen.set(*provider, client(&k.id, k.secret.as_deref()));
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "the saved app registrations are unreadable"),
            }
        }
        ClientOverride {
            chosen: std::sync::Mutex::new(chosen),
            file: Some(file),
        }
    }

    /// In the app's data folder (for this session only when there is none).
    pub fn in_data_dir() -> ClientOverride {
        match mailferry::paths::data_dir() {
            Some(dir) => ClientOverride::kept_in(registrations_file(&dir)),
            None => ClientOverride::default(),
        }
    }

    /// `config` with the user's registrations in place of this copy's.
    pub fn apply(&self, config: &OAuthConfig) -> OAuthConfig {
        let chosen = self.chosen.lock().unwrap_or_else(|e| e.into_inner());
        let mut registrations = config.registrations.clone();
        for provider in chosen.providers() {
            registrations.set(provider, chosen.get(provider).cloned());
        }
        OAuthConfig {
            registrations,
            ..config.clone()
        }
    }

    /// Sets (or, with an empty ID, clears) the user's registration with
    /// `provider` (`google`, `microsoft`), and keeps them all.
    pub fn set(&self, provider: &str, id: &str, secret: Option<&str>) -> IpcResult<()> {
        let Some((_, provider)) = OWN.iter().find(|(n, _)| *n == provider.trim()) else {
            return Err(IpcError::invalid(
                "MailFerry takes an app registration only for Google or Microsoft.",
            ));
        };
        let id = id.trim();
        if id.chars().any(|c| c.is_whitespace() || c.is_control()) || id.len() > 512 {
            return Err(IpcError::invalid(
                "A client ID is one word without spaces, as the provider's console shows it.",
            ));
        }
        let mut chosen = self.chosen.lock().unwrap_or_else(|e| e.into_inner());
        chosen.set(*provider, client(id, secret));
        if let Some(file) = &self.file {
            keep(file, &chosen)?;
        }
        Ok(())
    }
}

/// Where the user's registrations are kept in MailFerry's data folder.
pub fn registrations_file(data_dir: &Path) -> PathBuf {
    data_dir.join("app-registrations.json")
}

/// A registration from what the user typed; an empty ID is none.
fn client(id: &str, secret: Option<&str>) -> Option<Client> {
    let id = id.trim();
    (!id.is_empty()).then(|| Client {
        id: id.to_owned(),
        secret: secret
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
    })
}

/// Writes the registrations to `file` (a temporary file, then a rename).
fn keep(file: &Path, chosen: &Registrations) -> IpcResult<()> {
    let kept: Vec<Kept> = OWN
        .iter()
        .filter_map(|(name, provider)| {
            chosen.get(*provider).map(|c| Kept {
                provider: (*name).to_owned(),
                id: c.id.clone(),
                secret: c.secret.clone(),
            })
        })
        .collect();
    let failed = |e: std::io::Error| IpcError {
        detail: Some(format!("{}: {e}", file.display())),
        ..IpcError::new(
            crate::error::ErrorCode::StateFailed,
            "MailFerry couldn't keep your app registration, so it is used until the app is \
             closed. Check that your disk isn't full.",
        )
    };
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    let tmp = file.with_extension("json.tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(&kept).map_err(IpcError::internal)?,
    )
    .map_err(failed)?;
    std::fs::rename(&tmp, file).map_err(failed)
}

/// The issuers the window may offer a browser sign-in for.
pub fn providers(config: &OAuthConfig) -> Vec<String> {
    (config.issuers.iter())
        .filter(|i| config.registrations.get(i.provider).is_some())
        .map(issuer_id)
        .collect()
}

/// How the window names an issuer: `google`, `microsoft`.
pub(crate) fn issuer_id(issuer: &Issuer) -> String {
    issuer.name.to_ascii_lowercase()
}

/// The configured issuer the window named. Anything else (an issuer URL,
/// an unknown name) is refused, as is an issuer whose pages are not https,
/// before anything is fetched or sent.
pub fn issuer_named(config: &OAuthConfig, name: &str) -> IpcResult<Issuer> {
    let name = name.trim().to_ascii_lowercase();
    let Some(issuer) = config.issuers.iter().find(|i| issuer_id(i) == name) else {
        let names: Vec<&str> = config.issuers.iter().map(|i| i.name.as_str()).collect();
        let offered = match names.split_last() {
            None => "no provider".to_owned(),
            Some((last, [])) => (*last).to_owned(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        };
        return Err(IpcError::invalid(format!(
            "MailFerry signs in through the browser only with {offered}. \
             For this server, use the password (or an app password) instead."
        )));
    };
    if !safe_url(&issuer.authorize_url) || !safe_url(&issuer.token_url) {
        return Err(IpcError {
            detail: Some(
                "the issuer's sign-in and token addresses must be https (or this computer's \
                 loopback address)"
                    .into(),
            ),
            ..IpcError::invalid(format!(
                "This copy of MailFerry can't sign in with {} safely: its sign-in pages are not \
                 secure. Use an app password instead.",
                issuer.name
            ))
        });
    }
    Ok(issuer.clone())
}

/// An https address, or plain http to this computer's own loopback address
/// (the tests' issuers: nothing leaves the machine).
fn safe_url(url: &str) -> bool {
    let Ok(url) = tauri::Url::parse(url) else {
        return false;
    };
    let loopback = url
        .host_str()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
        .and_then(|h| h.parse::<std::net::IpAddr>().ok())
        .is_some_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => url.host_str().is_some_and(|h| !h.is_empty()),
        "http" => loopback,
        _ => false,
    }
}

/// Signs in through the browser (or with a saved refresh token) and keeps
/// the account for this session.
pub async fn sign_in_oauth_with(
    accounts: &Accounts,
    config: &OAuthConfig,
    server: Server,
    user: String,
    issuer: String,
) -> IpcResult<SignedIn> {
    let endpoint = server.endpoint()?;
    let user = user.trim().to_owned();
    if user.is_empty() {
        return Err(IpcError::invalid(
            "Enter the email address you sign in with.",
        ));
    }
    let issuer = issuer_named(config, &issuer)?;
    // Each provider's own registration, never another's.
    let Some(client) = config.registrations.get(issuer.provider).cloned() else {
        return Err(IpcError::new(
            crate::error::ErrorCode::OAuthUnavailable,
            Registrations::missing_words(issuer.provider),
        ));
    };
    // The engine's browser sign-in, as the command line runs it: a refresh
    // token kept for this issuer, else the browser; the new one kept bound
    // to its issuer, renewing the access token during a long copy.
    let account = mailferry::auth::keychain::Account::new(user.clone(), endpoint.host.clone());
    let signed_in = run_sign_in(accounts, config, issuer, client, account).await?;
    let kept = signed_in.kept;
    let credentials = Credentials {
        user,
        proof: signed_in.proof,
        admin: None,
        mechanism: AuthMechanism::Auto,
    };
    let report = check(&endpoint, &credentials).await;
    let checklist = super::sign_in::checklist_of(&report);
    let account = report.passed.contains(&Step::CanReadFolders).then(|| {
        accounts.add(Account {
            endpoint,
            credentials,
        })
    });
    Ok(SignedIn {
        kept: account.is_some().then_some(kept),
        account,
        checklist,
    })
}

/// The engine's sign-in off the window's thread, with the browser and the
/// patience `config` gives and the session's keychain: a refresh token kept
/// for `issuer` and `account`, else the browser.
pub(crate) async fn run_sign_in(
    accounts: &Accounts,
    config: &OAuthConfig,
    issuer: Issuer,
    client: Client,
    account: mailferry::auth::keychain::Account,
) -> IpcResult<signin::SignedIn> {
    let keychain = accounts.keychain_handle();
    let (browser, wait) = (config.browser.clone(), config.wait);
    tauri::async_runtime::spawn_blocking(move || {
        signin::sign_in(SignIn {
            issuer: &issuer,
            client: &client,
            account: &account,
            keychain: keychain.as_ref(),
            browser: browser.as_ref(),
            wait,
        })
    })
    .await
    .map_err(IpcError::internal)?
    .map_err(IpcError::from)
}

/// The owner's browser sign-in with `provider` for other permissions than
/// the mail's (`scoped` turns the mail's issuer into the one asking for
/// them): the provider's issuer as configured for the mail (never one the
/// window names), with this copy's or the user's registration there; kept
/// in the keychain as `account`, apart from the mail's sign-in.
pub(crate) async fn run_sign_in_for(
    accounts: &Accounts,
    config: &OAuthConfig,
    provider: Provider,
    scoped: impl FnOnce(&Issuer) -> Issuer,
    account: mailferry::auth::keychain::Account,
) -> IpcResult<signin::SignedIn> {
    let unavailable = || {
        IpcError::new(
            crate::error::ErrorCode::OAuthUnavailable,
            Registrations::missing_words(provider),
        )
    };
    let mail = config
        .issuers
        .iter()
        .find(|i| i.provider == provider)
        .ok_or_else(unavailable)?;
    let issuer = scoped(&issuer_named(config, &issuer_id(mail))?);
    let client = config
        .registrations
        .get(provider)
        .cloned()
        .ok_or_else(unavailable)?;
    run_sign_in(accounts, config, issuer, client, account).await
}

/// The providers a browser sign-in is offered for (none when this copy has
/// no client ID).
pub fn oauth_providers(
    config: State<'_, OAuthConfig>,
    chosen: State<'_, ClientOverride>,
) -> Vec<String> {
    providers(&chosen.apply(&config))
}

/// Uses the user's own app registration with `provider` (`google`,
/// `microsoft`: its client ID, and the "secret" Google gives desktop apps)
/// for browser sign-in; an empty ID goes back to this copy's own. Kept for
/// later sessions. Answers the providers now offered.
pub fn set_oauth_client(
    config: State<'_, OAuthConfig>,
    chosen: State<'_, ClientOverride>,
    provider: String,
    id: String,
    secret: Option<String>,
) -> IpcResult<Vec<String>> {
    chosen.set(&provider, &id, secret.as_deref())?;
    Ok(providers(&chosen.apply(&config)))
}

/// Signs in through the provider's page in the browser (step 3).
pub async fn sign_in_oauth(
    accounts: State<'_, Accounts>,
    config: State<'_, OAuthConfig>,
    chosen: State<'_, ClientOverride>,
    server: Server,
    user: String,
    issuer: String,
) -> IpcResult<SignedIn> {
    let config = chosen.apply(&config);
    sign_in_oauth_with(&accounts, &config, server, user, issuer).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::testing::{http_json, Recorder};
    use mailferry::auth::keychain::Keychain;
    use mailferry::endpoint::Security;
    use mailferry::secret::Secret;
    use std::sync::Mutex;

    /// A browser stand-in that notes the address it was asked to open and
    /// fails (so a sign-in that gets this far ends at once).
    #[derive(Default)]
    struct Noting(Mutex<Vec<String>>);

    impl Browser for Noting {
        fn open(&self, url: &str) -> std::io::Result<()> {
            self.0.lock().unwrap().push(url.to_owned());
            Err(std::io::Error::other("no browser in this test"))
        }
    }

    fn mock_keychain() -> Keychain {
        Keychain::with_store(keyring_core::mock::Store::new().unwrap())
    }

    /// A server nobody listens on: a sign-in that got tokens stops there.
    /// The port stays bound (never listening) for the whole test run, so no
    /// other test's server can be given it.
    fn closed_server() -> Server {
        static CLOSED: std::sync::OnceLock<mailferry_harness::RefusingPort> =
            std::sync::OnceLock::new();
        Server {
            host: "127.0.0.1".into(),
            port: CLOSED
                .get_or_init(mailferry_harness::RefusingPort::new)
                .port(),
            security: Security::Tls,
            trusted_fingerprint: None,
        }
    }

    /// This copy's registrations: `client` with each provider.
    fn both(client: Option<&str>) -> Registrations {
        let mut r = Registrations::default();
        for provider in [Provider::Google, Provider::Microsoft] {
            r.set(
                provider,
                client.map(|id| Client {
                    id: id.into(),
                    secret: Some("the-client-secret".into()),
                }),
            );
        }
        r
    }

    fn config(client: Option<&str>) -> OAuthConfig {
        OAuthConfig {
            registrations: both(client),
            issuers: vec![Issuer::google(), Issuer::microsoft()],
            browser: Arc::new(mailferry::auth::oauth::SystemBrowser),
            wait: Duration::from_secs(1),
        }
    }

    #[test]
    fn the_users_registration_turns_browser_sign_in_on_for_its_provider_only_and_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = registrations_file(dir.path());
        let chosen = ClientOverride::kept_in(file.clone());
        assert!(providers(&chosen.apply(&config(None))).is_empty());
        chosen
            .set(
                "google",
                "  1234-abc.apps.googleusercontent.com ",
                Some(" GOCSPX-x "),
            )
            .unwrap();
        let applied = chosen.apply(&config(None));
        assert_eq!(providers(&applied), ["google"], "Google's only");
        let client = applied.registrations.get(Provider::Google).unwrap();
        assert_eq!(client.id, "1234-abc.apps.googleusercontent.com");
        assert_eq!(client.secret.as_deref(), Some("GOCSPX-x"));
        assert!(chosen.set("google", "two words", None).is_err());
        assert!(chosen.set("yahoo", "id", None).is_err());
        // Closing and reopening the app keeps it, and this copy's own
        // registration with Microsoft stays in place beside it.
        let reopened = ClientOverride::kept_in(file.clone());
        let applied = reopened.apply(&config(Some("built-in")));
        assert_eq!(
            applied.registrations.get(Provider::Google).unwrap().id,
            "1234-abc.apps.googleusercontent.com"
        );
        assert_eq!(
            applied.registrations.get(Provider::Microsoft).unwrap().id,
            "built-in"
        );
        reopened.set("google", "", None).unwrap();
        assert_eq!(
            ClientOverride::kept_in(file)
                .apply(&config(Some("built-in")))
                .registrations
                .get(Provider::Google)
                .unwrap()
                .id,
            "built-in"
        );
    }

    #[tokio::test]
    async fn a_hostile_issuer_from_the_window_is_refused_before_anything_is_sent() {
        // An "issuer" that publishes itself as the token endpoint and
        // takes whatever comes.
        let hostile = Recorder::answering(|port, request| {
            let request = String::from_utf8_lossy(request);
            if request.starts_with("GET /.well-known/") {
                Some(http_json(&format!(
                    r#"{{"authorization_endpoint":"http://127.0.0.1:{port}/authorize","token_endpoint":"http://127.0.0.1:{port}/token"}}"#
                )))
            } else if request.starts_with("POST /token") {
                Some(http_json(
                    r#"{"access_token":"a","refresh_token":"r","expires_in":3600}"#,
                ))
            } else {
                None
            }
        });
        let server = closed_server();
        let accounts = Accounts::with_keychain(Some(mock_keychain()));
        signin::keep_refresh_token(
            &accounts.keychain_handle().unwrap(),
            &mailferry::auth::keychain::Account::new("alice@example.com", server.host.clone()),
            &Issuer::google(),
            &Secret::new("1//saved-refresh-token".into()),
        )
        .unwrap();
        let browser = Arc::new(Noting::default());
        let config = OAuthConfig {
            registrations: both(Some("mailferry-desktop")),
            issuers: vec![Issuer::google(), Issuer::microsoft()],
            browser: browser.clone(),
            wait: Duration::from_secs(1),
        };
        let issuer = format!("http://127.0.0.1:{}", hostile.port);

        let answer = sign_in_oauth_with(
            &accounts,
            &config,
            server,
            "alice@example.com".into(),
            issuer,
        )
        .await;

        assert!(
            !hostile.saw("saved-refresh-token"),
            "the saved refresh token went to the window's issuer"
        );
        assert!(
            !hostile.saw("the-client-secret"),
            "the client secret went to the window's issuer"
        );
        let received = hostile.received();
        assert!(
            received.is_empty(),
            "the window's issuer was contacted: {:?}",
            received
                .iter()
                .map(|r| String::from_utf8_lossy(r)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned())
                .collect::<Vec<_>>()
        );
        assert!(browser.0.lock().unwrap().is_empty(), "no browser either");
        let err = answer.expect_err("an unknown issuer is an error");
        assert_eq!(err.code, ErrorCode::InvalidInput, "{err:?}");
        assert!(
            err.message.contains("Google") && err.message.contains("Microsoft"),
            "{}",
            err.message
        );
    }

    /// An issuer like `like`, its pages on a loopback port.
    fn local(like: Issuer, scheme: &str, port: u16) -> Issuer {
        Issuer {
            authorize_url: format!("{scheme}://127.0.0.1:{port}/authorize"),
            token_url: format!("{scheme}://127.0.0.1:{port}/token"),
            ..like
        }
    }

    fn config_with(issuers: Vec<Issuer>, browser: Arc<Noting>) -> OAuthConfig {
        OAuthConfig {
            registrations: both(Some("mailferry-desktop")),
            issuers,
            browser,
            wait: Duration::from_secs(1),
        }
    }

    #[tokio::test]
    async fn a_saved_refresh_token_goes_only_to_the_issuer_that_gave_it() {
        let google_tokens = Recorder::silent();
        let microsoft_tokens = Recorder::silent();
        let google = local(Issuer::google(), "https", google_tokens.port);
        let microsoft = local(Issuer::microsoft(), "https", microsoft_tokens.port);
        let browser = Arc::new(Noting::default());
        let config = config_with(vec![google.clone(), microsoft.clone()], browser.clone());
        let server = closed_server();
        let user = "alice@example.com";
        let accounts = Accounts::with_keychain(Some(mock_keychain()));
        // What a browser sign-in with Google kept.
        signin::keep_refresh_token(
            &accounts.keychain_handle().unwrap(),
            &mailferry::auth::keychain::Account::new(user, server.host.clone()),
            &google,
            &Secret::new("1//google-refresh-token".into()),
        )
        .unwrap();

        // The window now asks for Microsoft for the same account: Google's
        // refresh token stays here, and the user signs in in the browser.
        let answer = sign_in_oauth_with(
            &accounts,
            &config,
            server.clone(),
            user.into(),
            "microsoft".into(),
        )
        .await;
        assert!(
            microsoft_tokens.received().is_empty(),
            "Google's refresh token was sent to Microsoft's token service"
        );
        assert!(google_tokens.received().is_empty());
        let opened = browser.0.lock().unwrap().clone();
        assert_eq!(opened.len(), 1, "{opened:?}");
        assert!(
            opened[0].starts_with(&microsoft.authorize_url),
            "{}",
            opened[0]
        );
        let err = answer.expect_err("this test's browser fails");
        assert_eq!(err.code, ErrorCode::BrowserSignInFailed, "{err:?}");

        // With Google, the saved token is used: Google's token service is
        // contacted (it says nothing here), the browser is not.
        let _ = sign_in_oauth_with(&accounts, &config, server, user.into(), "google".into()).await;
        assert!(!google_tokens.received().is_empty());
        assert!(microsoft_tokens.received().is_empty());
        assert_eq!(browser.0.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_configured_issuer_without_https_is_not_used() {
        for token_url in [
            "http://oauth.example.com/token",
            // Looks like the loopback address; is not.
            "http://127.0.0.1:1@oauth.example.com/token",
            "ftp://oauth.example.com/token",
        ] {
            let browser = Arc::new(Noting::default());
            let issuer = Issuer {
                token_url: token_url.into(),
                ..Issuer::google()
            };
            let answer = sign_in_oauth_with(
                &Accounts::with_keychain(Some(mock_keychain())),
                &config_with(vec![issuer], browser.clone()),
                closed_server(),
                "alice@example.com".into(),
                "google".into(),
            )
            .await;
            let err = answer.expect_err("not https: refused");
            assert_eq!(err.code, ErrorCode::InvalidInput, "{token_url}");
            assert!(err.message.contains("not secure"), "{}", err.message);
            assert!(err.detail.as_deref().unwrap_or("").contains("https"));
            assert!(browser.0.lock().unwrap().is_empty(), "{token_url}");
        }
        assert!(safe_url("https://oauth2.googleapis.com/token"));
        assert!(safe_url("http://127.0.0.1:8080/token"));
        assert!(safe_url("http://[::1]:8080/token"));
    }

    #[tokio::test]
    async fn each_provider_signs_in_with_its_own_registration_only() {
        let browser = Arc::new(Noting::default());
        let google = local(Issuer::google(), "https", 9);
        let microsoft = local(Issuer::microsoft(), "https", 10);
        let mut registrations = Registrations::default();
        registrations.set(
            Provider::Google,
            Some(Client {
                id: "google-desktop-id".into(),
                secret: Some("google-desktop-secret".into()),
            }),
        );
        registrations.set(
            Provider::Microsoft,
            Some(Client {
                id: "microsoft-public-id".into(),
                secret: None,
            }),
        );
        let config = OAuthConfig {
            registrations,
            ..config_with(vec![google.clone(), microsoft.clone()], browser.clone())
        };
        assert_eq!(providers(&config), ["google", "microsoft"]);
        let accounts = Accounts::with_keychain(Some(mock_keychain()));
        for issuer in ["google", "microsoft"] {
            let _ = sign_in_oauth_with(
                &accounts,
                &config,
                closed_server(),
                "alice@example.com".into(),
                issuer.into(),
            )
            .await;
        }
        let opened = browser.0.lock().unwrap().clone();
        assert_eq!(opened.len(), 2, "{opened:?}");
        assert!(
            opened[0].starts_with(&google.authorize_url),
            "{}",
            opened[0]
        );
        assert!(opened[0].contains("client_id=google-desktop-id"));
        assert!(!opened[0].contains("microsoft-public-id"));
        assert!(
            opened[1].starts_with(&microsoft.authorize_url),
            "{}",
            opened[1]
        );
        assert!(opened[1].contains("client_id=microsoft-public-id"));
        assert!(!opened[1].contains("google-desktop"));

        // Without this copy's own registration with Microsoft: not offered,
        // and the words say why and what to do.
        let mut only_google = config.registrations.clone();
        only_google.set(Provider::Microsoft, None);
        let config = OAuthConfig {
            registrations: only_google,
            ..config
        };
        assert_eq!(providers(&config), ["google"]);
        let err = sign_in_oauth_with(
            &accounts,
            &config,
            closed_server(),
            "alice@example.com".into(),
            "microsoft".into(),
        )
        .await
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::OAuthUnavailable);
        assert!(
            err.message.contains("registration with Microsoft"),
            "{}",
            err.message
        );
        assert_eq!(browser.0.lock().unwrap().len(), 2, "no browser for it");
    }
}
