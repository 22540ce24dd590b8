//! Signed-in accounts, referred to by the window only through a handle.
//!
//! The window sends a password once, to `sign_in`; from then on it holds an
//! [`AccountHandle`] and the password lives here, in a
//! [`mailferry::secret::Secret`], for this session only.
//!
//! Seam for the keychain (src/auth, another issue): "Remember in Keychain"
//! will make [`Accounts::add`] also store the secret in the OS keychain under
//! the account's key, and a restarted app will rebuild the account from the
//! keychain instead of asking again. Nothing else here changes: commands
//! only ever see `(Endpoint, Credentials)` through [`Accounts::get`].

use crate::error::{ErrorCode, IpcError, IpcResult};
use mailferry::endpoint::{Credentials, Endpoint};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
use ts_rs::TS;

/// An opaque reference to a signed-in account (no secret in it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
pub struct AccountHandle(pub u32);

/// A signed-in account.
#[derive(Clone, Debug)]
pub struct Account {
    /// Where it lives.
    pub endpoint: Endpoint,
    /// Who signs in, with the password in a `Secret`.
    pub credentials: Credentials,
}

/// The session's accounts.
#[derive(Default)]
pub struct Accounts {
    inner: Mutex<(u32, HashMap<AccountHandle, Account>)>,
}

impl Accounts {
    /// Keeps an account for this session; returns its handle.
    pub fn add(&self, account: Account) -> AccountHandle {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.0 += 1;
        let handle = AccountHandle(inner.0);
        inner.1.insert(handle, account);
        handle
    }

    /// The account behind a handle.
    pub fn get(&self, handle: AccountHandle) -> IpcResult<Account> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.1.get(&handle).cloned().ok_or_else(|| {
            IpcError::new(
                ErrorCode::UnknownAccount,
                "MailFerry no longer has this account's password (the app was restarted). \
                 Go back to \"Sign in\" and enter it again.",
            )
        })
    }

    /// Forgets an account (its password is zeroed when dropped).
    pub fn forget(&self, handle: AccountHandle) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.1.remove(&handle);
    }
}
