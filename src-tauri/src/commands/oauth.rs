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
//! the command line, or the user's own, entered on the sign-in screen
//! (`set_oauth_client`); without one the button is not offered.

use super::servers::Server;
use super::sign_in::SignedIn;
use crate::accounts::{Account, Accounts, Kept};
use crate::error::{IpcError, IpcResult};
use mailferry::auth::grant::{RefreshGrant, TokenSource};
use mailferry::auth::oauth::{self, Browser, Client, Issuer};
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
        let browser = oauth::browser_from_env();
        OAuthConfig {
            client,
            browser,
            wait: Duration::from_secs(300),
        }
    }
}

/// A client ID the user entered in the app (their own registration with
/// Google or Microsoft), which wins over the one this copy came with. Not
/// secret (RFC 8252 §8.5: a desktop app's "secret" is not one), kept for
/// this session.
#[derive(Default)]
pub struct ClientOverride(std::sync::Mutex<Option<Client>>);

impl ClientOverride {
    /// `config` with the user's client ID in place, if they entered one.
    pub fn apply(&self, config: &OAuthConfig) -> OAuthConfig {
        let chosen = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        OAuthConfig {
            client: chosen.or_else(|| config.client.clone()),
            ..config.clone()
        }
    }

    /// Sets (or, with an empty ID, clears) the user's client ID.
    pub fn set(&self, id: &str, secret: Option<&str>) -> IpcResult<()> {
        let id = id.trim();
        if id.chars().any(|c| c.is_whitespace() || c.is_control()) || id.len() > 512 {
            return Err(IpcError::invalid(
                "A client ID is one word without spaces, as the provider's console shows it.",
            ));
        }
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = (!id.is_empty()).then(|| Client {
            id: id.to_owned(),
            secret: secret
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        });
        Ok(())
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
    let grant_client = client.clone();
    let tokens = tauri::async_runtime::spawn_blocking(move || {
        let issuer = Issuer::from_name(&issuer)?;
        if let Some(refresh) = saved {
            match oauth::refresh(&issuer, &client, &refresh) {
                Ok(tokens) => return Ok((issuer, tokens, Some(refresh))),
                Err(e) if e.needs_new_token() => {}
                Err(e) => return Err(e),
            }
        }
        let tokens = oauth::sign_in(&issuer, &client, Some(&hint), browser.as_ref(), wait)?;
        Ok((issuer, tokens, None))
    })
    .await
    .map_err(IpcError::internal)?
    .map_err(IpcError::from)?;
    let (issuer, tokens, reused) = tokens;
    let kept = match (&tokens.refresh_token, &reused) {
        (Some(new), _) => accounts.remember_refresh_token(&endpoint.host, &user, new),
        (None, Some(_)) => Kept::Keychain,
        (None, None) => Kept::SessionOnly,
    };
    // With a refresh token, the access token renews itself during a long
    // copy (engine auth::grant); a rotated refresh token goes where the
    // first one went.
    let credentials = match tokens.refresh_token.clone().or(reused) {
        Some(refresh) => {
            let keychain = matches!(kept, Kept::Keychain)
                .then(|| accounts.keychain_handle())
                .flatten();
            let account =
                mailferry::auth::keychain::Account::new(user.clone(), endpoint.host.clone());
            let grant = RefreshGrant::new(issuer, grant_client, refresh).on_rotate(move |new| {
                if let Some(keychain) = &keychain {
                    let kind = mailferry::auth::keychain::SecretKind::RefreshToken;
                    if let Err(e) = keychain.save(kind, &account, new) {
                        tracing::warn!(error = %e, "the keychain refused the renewed sign-in");
                    }
                }
            });
            Credentials::renewable(user, TokenSource::with_tokens(grant, &tokens))
        }
        None => Credentials::access_token(user, tokens.access_token.clone()),
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

/// The providers a browser sign-in is offered for (none when this copy has
/// no client ID).
#[tauri::command]
pub fn oauth_providers(
    config: State<'_, OAuthConfig>,
    chosen: State<'_, ClientOverride>,
) -> Vec<String> {
    providers(&chosen.apply(&config))
}

/// Uses the user's own app registration (client ID, and the "secret"
/// Google gives desktop apps) for browser sign-in; an empty ID goes back to
/// this copy's own. Answers the providers now offered.
#[tauri::command]
pub fn set_oauth_client(
    config: State<'_, OAuthConfig>,
    chosen: State<'_, ClientOverride>,
    id: String,
    secret: Option<String>,
) -> IpcResult<Vec<String>> {
    chosen.set(&id, secret.as_deref())?;
    Ok(providers(&chosen.apply(&config)))
}

/// Signs in through the provider's page in the browser (step 3).
#[tauri::command]
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

    fn config(client: Option<&str>) -> OAuthConfig {
        OAuthConfig {
            client: client.map(|id| Client {
                id: id.into(),
                secret: None,
            }),
            browser: Arc::new(mailferry::auth::oauth::SystemBrowser),
            wait: Duration::from_secs(1),
        }
    }

    #[test]
    fn the_users_client_id_turns_browser_sign_in_on_and_wins() {
        let chosen = ClientOverride::default();
        assert!(providers(&chosen.apply(&config(None))).is_empty());
        chosen
            .set("  1234-abc.apps.googleusercontent.com ", Some(" GOCSPX-x "))
            .unwrap();
        let applied = chosen.apply(&config(Some("built-in")));
        let client = applied.client.unwrap();
        assert_eq!(client.id, "1234-abc.apps.googleusercontent.com");
        assert_eq!(client.secret.as_deref(), Some("GOCSPX-x"));
        assert!(chosen.set("two words", None).is_err());
        chosen.set("", None).unwrap();
        assert_eq!(
            chosen.apply(&config(Some("built-in"))).client.unwrap().id,
            "built-in"
        );
    }
}
