//! The browser sign-in as the command line and the desktop app both run it:
//! a refresh token an earlier sign-in kept in the keychain, when it came
//! from this issuer, else the browser ([`oauth::sign_in`]: PKCE, loopback
//! redirect, token exchange); the new refresh token kept in the keychain,
//! bound to the issuer that gave it; and the proof a run signs in with,
//! renewing itself during a long copy.
//!
//! The binding is the point of this module: a refresh token is only ever
//! sent to the token service of the issuer that gave it. One kept for
//! another issuer (Google's, when the user now signs in with Microsoft, or
//! an issuer URL given on the command line) or without saying whose (an
//! older version's) stays where it is, and the user signs in in the
//! browser instead. Everything here blocks; async callers use
//! `spawn_blocking`.

use crate::auth::credentials::Proof;
use crate::auth::grant::{RefreshGrant, TokenSource};
use crate::auth::keychain::{Account, Keychain, SecretKind};
use crate::auth::oauth::{self, Browser, Client, Issuer, Tokens};
use crate::error::Error;
use crate::secret::Secret;
use serde::Serialize;
use std::time::Duration;

/// Where a sign-in is kept between runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Kept {
    /// In the OS keychain: the next run signs in again by itself.
    Keychain,
    /// This computer has no keychain MailFerry can use (or it refused, or
    /// the issuer gave no refresh token): for this session only; asked
    /// again next time.
    SessionOnly,
}

/// One browser sign-in: who, with which issuer and app registration, and
/// where to keep it.
pub struct SignIn<'a> {
    /// The issuer the user signs in with.
    pub issuer: &'a Issuer,
    /// This application's registration there.
    pub client: &'a Client,
    /// The account (user and mail server), the keychain entry's name.
    pub account: &'a Account,
    /// The keychain (`None`: this computer has none; kept for this session).
    pub keychain: Option<&'a Keychain>,
    /// Where the sign-in page opens.
    pub browser: &'a dyn Browser,
    /// How long to wait for the user in the browser.
    pub wait: Duration,
}

/// A finished sign-in.
pub struct SignedIn {
    /// What a session signs in with: a self-renewing token when the issuer
    /// gave a refresh token, else the access token alone.
    pub proof: Proof,
    /// Where the sign-in is kept.
    pub kept: Kept,
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("kept", &self.kept)
            .finish_non_exhaustive()
    }
}

/// The host a Microsoft Graph sign-in (contacts and calendars) is kept
/// under in the keychain, beside the mailbox's mail sign-in, never in its
/// place: the two ask for different permissions.
pub const GRAPH_HOST: &str = "graph.microsoft.com";

/// The keychain's name for `user`'s Microsoft Graph sign-in.
pub fn graph_account(user: &str) -> Account {
    Account::new(user, GRAPH_HOST)
}

/// The host a Google contacts and calendars sign-in (CardDAV and CalDAV)
/// is kept under in the keychain, beside the mail's Google sign-in, never
/// in its place: the two ask for different permissions.
pub const GOOGLE_DAV_HOST: &str = "www.googleapis.com";

/// The keychain's name for `user`'s Google contacts and calendars sign-in.
pub fn google_dav_account(user: &str) -> Account {
    Account::new(user, GOOGLE_DAV_HOST)
}

/// What a refresh token is bound to in the keychain: its issuer's token
/// service, the only address it is ever sent to.
fn binding(issuer: &Issuer) -> &str {
    &issuer.token_url
}

/// The refresh token an earlier sign-in with `issuer` kept for `account`;
/// `None` for one another issuer gave, or one kept without saying whose.
pub fn saved_refresh_token(
    keychain: &Keychain,
    account: &Account,
    issuer: &Issuer,
) -> Result<Option<Secret<String>>, Error> {
    keychain.load_bound(SecretKind::RefreshToken, account, binding(issuer))
}

/// Keeps `account`'s refresh token in the keychain, bound to `issuer`.
pub fn keep_refresh_token(
    keychain: &Keychain,
    account: &Account,
    issuer: &Issuer,
    token: &Secret<String>,
) -> Result<(), Error> {
    keychain.save_bound(SecretKind::RefreshToken, account, token, binding(issuer))
}

/// Signs in: with the refresh token kept for this issuer when there is one
/// and it still works, else in the browser. The new refresh token is kept
/// in the keychain (a keychain that refuses is not an error: the sign-in
/// works for this session, and [`SignedIn::kept`] says so).
pub fn sign_in(request: SignIn<'_>) -> Result<SignedIn, Error> {
    let SignIn {
        issuer,
        client,
        account,
        keychain,
        browser,
        wait,
    } = request;
    let saved = match keychain {
        Some(keychain) => saved_refresh_token(keychain, account, issuer).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the keychain could not be read");
            None
        }),
        None => None,
    };
    let mut tokens = None;
    if let Some(refresh) = saved {
        match oauth::refresh(issuer, client, &refresh) {
            Ok(fresh) => tokens = Some(fresh),
            Err(e) if e.needs_new_token() => {
                tracing::debug!(issuer = %issuer.name, "the kept sign-in no longer works");
            }
            Err(e) => return Err(e),
        }
    }
    let tokens = match tokens {
        Some(tokens) => tokens,
        None => oauth::sign_in(issuer, client, Some(&account.user), browser, wait)?,
    };
    let kept = keep(keychain, account, issuer, &tokens);
    Ok(SignedIn {
        proof: proof(issuer, client, &tokens, account, keychain, kept),
        kept,
    })
}

/// Keeps the refresh token in `tokens`, when there is one and a keychain.
fn keep(keychain: Option<&Keychain>, account: &Account, issuer: &Issuer, tokens: &Tokens) -> Kept {
    let (Some(keychain), Some(refresh)) = (keychain, &tokens.refresh_token) else {
        return Kept::SessionOnly;
    };
    match keep_refresh_token(keychain, account, issuer, refresh) {
        Ok(()) => Kept::Keychain,
        Err(e) => {
            tracing::warn!(error = %e, "the keychain refused the sign-in: session only");
            Kept::SessionOnly
        }
    }
}

/// The access token in `tokens`, renewed with its refresh token during a
/// run (a rotated refresh token goes where the first one went, bound to
/// the same issuer); without a refresh token, the access token alone.
fn proof(
    issuer: &Issuer,
    client: &Client,
    tokens: &Tokens,
    account: &Account,
    keychain: Option<&Keychain>,
    kept: Kept,
) -> Proof {
    let Some(refresh) = tokens.refresh_token.clone() else {
        return Proof::AccessToken(tokens.access_token.clone());
    };
    let keychain = keychain.filter(|_| kept == Kept::Keychain).cloned();
    let (account, bound_to) = (account.clone(), issuer.clone());
    let grant = RefreshGrant::new(issuer.clone(), client.clone(), refresh).on_rotate(move |new| {
        if let Some(keychain) = &keychain {
            if let Err(e) = keep_refresh_token(keychain, &account, &bound_to, new) {
                tracing::warn!(error = %e, "the keychain refused the renewed sign-in");
            }
        }
    });
    Proof::Renewable(TokenSource::with_tokens(grant, tokens))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mock() -> Keychain {
        Keychain::with_store(keyring_core::mock::Store::new().unwrap())
    }

    #[test]
    fn a_refresh_token_is_found_only_for_the_issuer_that_gave_it() {
        let keychain = mock();
        let alice = Account::new("alice@example.com", "imap.example.com");
        let token = Secret::new("1//google-refresh".to_owned());
        keep_refresh_token(&keychain, &alice, &Issuer::google(), &token).unwrap();
        let found = saved_refresh_token(&keychain, &alice, &Issuer::google()).unwrap();
        assert_eq!(found.unwrap().expose(), "1//google-refresh");
        assert!(
            saved_refresh_token(&keychain, &alice, &Issuer::microsoft())
                .unwrap()
                .is_none(),
            "Google's refresh token is not Microsoft's"
        );
        // Kept without saying whose (an older version): nobody's.
        keychain
            .save(
                SecretKind::RefreshTokenBinding,
                &alice,
                &Secret::new(String::new()),
            )
            .unwrap();
        assert!(saved_refresh_token(&keychain, &alice, &Issuer::google())
            .unwrap()
            .is_none());
    }
}
