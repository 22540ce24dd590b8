//! Step 3, "Sign in" through the provider's page in the system browser
//! (OAuth2, the engine's `auth::oauth`: PKCE, loopback redirect), for
//! providers that need it (Microsoft 365) or offer it (Google).
//!
//! Nothing secret crosses to the window: the shell runs the browser flow,
//! keeps the refresh token in the keychain (or, without one, for this
//! session only) and the access token in the session's account, and
//! answers with a handle. A saved refresh token signs in again without the
//! browser. The app's client ID is configuration (`MAILFERRY_OAUTH_CLIENT_ID`,
//! and `MAILFERRY_OAUTH_CLIENT_SECRET` when the provider gives one), as for
//! the command line; without it the button is not offered.

use super::servers::Server;
use super::sign_in::SignedIn;
use crate::accounts::{Account, Accounts, Kept};
use crate::error::{IpcError, IpcResult};
use mailferry::auth::oauth::{self, Browser, Client, Issuer, SystemBrowser};
use mailferry::check::{check, Step};
use mailferry::endpoint::Credentials;
use std::sync::Arc;
use std::time::Duration;
use tauri::State;

/// The app's registration with the providers, and the browser to use.
#[derive(Clone)]
pub struct OAuthConfig {
    /// The client ID (None: browser sign-in is not offered).
    pub client: Option<Client>,
    /// Where the sign-in page opens: the system browser (a program named by
    /// `MAILFERRY_BROWSER` instead, for tests and unusual setups).
    pub browser: Arc<dyn Browser + Send + Sync>,
    /// How long to wait for the user in the browser.
    pub wait: Duration,
}

/// A program given the URL (`MAILFERRY_BROWSER`).
struct Program(String);

impl Browser for Program {
    fn open(&self, url: &str) -> std::io::Result<()> {
        std::process::Command::new(&self.0)
            .arg(url)
            .stdin(std::process::Stdio::null())
            .spawn()
            .map(drop)
    }
}

impl OAuthConfig {
    /// From the environment, as the command line reads it.
    pub fn from_env() -> OAuthConfig {
        let client = std::env::var("MAILFERRY_OAUTH_CLIENT_ID")
            .ok()
            .filter(|id| !id.trim().is_empty())
            .map(|id| Client {
                id,
                secret: std::env::var("MAILFERRY_OAUTH_CLIENT_SECRET").ok(),
            });
        let browser: Arc<dyn Browser + Send + Sync> = match std::env::var("MAILFERRY_BROWSER") {
            Ok(program) => Arc::new(Program(program)),
            Err(_) => Arc::new(SystemBrowser),
        };
        OAuthConfig {
            client,
            browser,
            wait: Duration::from_secs(300),
        }
    }
}

/// The issuers the window may offer a browser sign-in for.
pub fn providers(config: &OAuthConfig) -> Vec<String> {
    if config.client.is_some() {
        vec!["google".into(), "microsoft".into()]
    } else {
        Vec::new()
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
    let Some(client) = config.client.clone() else {
        return Err(IpcError::new(
            crate::error::ErrorCode::OAuthUnavailable,
            "This copy of MailFerry isn't set up to sign in through the browser. Use an app password instead.",
        ));
    };
    let saved = accounts.saved_refresh_token(&endpoint.host, &user);
    let browser = config.browser.clone();
    let wait = config.wait;
    let hint = user.clone();
    let tokens = tauri::async_runtime::spawn_blocking(move || {
        let issuer = Issuer::from_name(&issuer)?;
        if let Some(refresh) = saved {
            match oauth::refresh(&issuer, &client, &refresh) {
                Ok(tokens) => return Ok((tokens, Some(refresh))),
                Err(e) if e.needs_new_token() => {}
                Err(e) => return Err(e),
            }
        }
        let tokens = oauth::sign_in(&issuer, &client, Some(&hint), browser.as_ref(), wait)?;
        Ok((tokens, None))
    })
    .await
    .map_err(IpcError::internal)?
    .map_err(IpcError::from)?;
    let (tokens, reused) = tokens;
    let kept = match (&tokens.refresh_token, &reused) {
        (Some(new), _) => accounts.remember_refresh_token(&endpoint.host, &user, new),
        (None, Some(_)) => Kept::Keychain,
        (None, None) => Kept::SessionOnly,
    };
    let credentials = Credentials::access_token(user, tokens.access_token.clone());
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

/// The providers a browser sign-in is offered for (none when this copy has
/// no client ID).
#[tauri::command]
pub fn oauth_providers(config: State<'_, OAuthConfig>) -> Vec<String> {
    providers(&config)
}

/// Signs in through the provider's page in the browser (step 3).
#[tauri::command]
pub async fn sign_in_oauth(
    accounts: State<'_, Accounts>,
    config: State<'_, OAuthConfig>,
    server: Server,
    user: String,
    issuer: String,
) -> IpcResult<SignedIn> {
    sign_in_oauth_with(&accounts, &config, server, user, issuer).await
}
