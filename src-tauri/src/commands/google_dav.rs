//! Step 9 with Google: Google's contacts and calendar servers (CardDAV and
//! CalDAV) take only a Google sign-in made for them
//! (`auth::oauth::GOOGLE_DAV_SCOPES`), never a password and never the
//! mail's sign-in (it only opens the mail).
//!
//! The owner signs in once more in the browser, as for the mail (the
//! engine's `auth::signin`: PKCE, loopback redirect, the refresh token kept
//! in the keychain bound to Google's token service), with the same app
//! registration but the contacts and calendar permissions. The sign-in is
//! kept apart from the mail's in the keychain
//! (`auth::signin::google_dav_account`), so the next session signs in
//! without the browser; its access token is renewed when it is about to
//! expire, or when a server turns it down during a copy. Nothing secret
//! crosses to the window: it names the mail account, and gets back where
//! the sign-in is kept. The token goes only
//! to the configured Google issuer and to Google's contacts and calendar
//! servers (`dav::locate::google_may_receive`; a server on this computer
//! in tests).

use super::oauth::{run_sign_in_for, OAuthConfig};
use crate::accounts::{AccountHandle, Accounts};
use crate::error::{ErrorCode, IpcError, IpcResult};
use mailferry::auth::credentials::Proof;
use mailferry::auth::oauth::Issuer;
use mailferry::auth::signin::{self, Kept};
use mailferry::dav::{self, locate, DavError};
use mailferry::provider::Provider;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Mutex;
use ts_rs::TS;

/// The session's Google contacts and calendars sign-ins, one per mail
/// account (its handle).
#[derive(Default)]
pub struct GoogleDavSignIns(Mutex<HashMap<AccountHandle, Proof>>);

impl GoogleDavSignIns {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AccountHandle, Proof>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How the contacts and calendar servers of the mail account `account`
    /// are signed in to: its Google sign-in, whose access token is renewed
    /// when it is about to expire or turned down.
    pub async fn auth(&self, account: AccountHandle) -> IpcResult<dav::Auth> {
        let Some(proof) = self.lock().get(&account).cloned() else {
            return Err(IpcError::new(
                ErrorCode::AuthFailed,
                "Sign in to Google first: MailFerry needs your permission to read and write \
                 your contacts and calendars there.",
            ));
        };
        match proof {
            Proof::AccessToken(t) => Ok(dav::Auth::Bearer(t.expose().clone())),
            // Renewed as the copy goes: an address book or calendar may
            // take longer to copy than a token lasts.
            Proof::Renewable(source) => Ok(dav::Auth::Renewable(source)),
            Proof::Password(_) => Err(IpcError::internal("a Google sign-in without a token")),
        }
    }
}

/// Whether the sign-in a server turned down (`server`, its origin) is the
/// Google side's, whose server is at `origin`.
pub fn denied_at(origin: &str, e: &DavError) -> bool {
    match e {
        DavError::SignInRefused { server, .. } => server == origin || locate::at_google(server),
        _ => false,
    }
}

/// Google turning the contacts and calendars sign-in down, in plain words.
pub fn refused(user: &str, e: DavError) -> IpcError {
    super::graph::sign_in_refused(
        format!(
            "Google did not let MailFerry into the contacts and calendars of {user}. Sign in to \
             Google again; if the sign-in page says your organisation blocks MailFerry, ask your \
             Google Workspace administrator to allow it."
        ),
        e,
    )
}

/// A finished Google sign-in for contacts and calendars.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct GoogleDavSignedIn {
    /// The Google account (its address).
    pub user: String,
    /// Where the sign-in is kept (the keychain, or this session only).
    pub kept: Kept,
}

/// Signs the mail account `account` in to Google's contacts and calendars
/// (a saved sign-in first, else the browser) and keeps the sign-in for
/// this session.
pub async fn sign_in_google_dav_with(
    accounts: &Accounts,
    googles: &GoogleDavSignIns,
    config: &OAuthConfig,
    account: AccountHandle,
) -> IpcResult<GoogleDavSignedIn> {
    let user = accounts.get(account)?.credentials.user.trim().to_owned();
    let signed_in = run_sign_in_for(
        accounts,
        config,
        Provider::Google,
        Issuer::for_google_dav,
        signin::google_dav_account(&user),
    )
    .await?;
    googles.lock().insert(account, signed_in.proof);
    Ok(GoogleDavSignedIn {
        user,
        kept: signed_in.kept,
    })
}

/// Signs in to Google's contacts and calendars for the mail account
/// `account` (step 9).
pub async fn sign_in_google_dav(
    accounts: tauri::State<'_, Accounts>,
    googles: tauri::State<'_, GoogleDavSignIns>,
    config: tauri::State<'_, OAuthConfig>,
    chosen: tauri::State<'_, super::oauth::ClientOverride>,
    account: AccountHandle,
) -> IpcResult<GoogleDavSignedIn> {
    let config = chosen.apply(&config);
    sign_in_google_dav_with(&accounts, &googles, &config, account).await
}
