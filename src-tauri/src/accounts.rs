//! Signed-in accounts, referred to by the window only through a handle.
//!
//! The window sends a password once, to `sign_in`; from then on it holds an
//! [`AccountHandle`] and the password lives here, in a
//! [`mailferry::secret::Secret`], for this session only.
//!
//! A password that signed in is also kept in the OS keychain (the engine's
//! `auth::keychain`, service `MailFerry`, one entry per user and server) by
//! [`Accounts::remember`], so a restarted app signs in again without asking
//! ([`Accounts::saved_password`]). Without a keychain on this computer it is
//! kept for this session only, and the window says so ([`Kept`]). Commands
//! only ever see `(Endpoint, Credentials)` through [`Accounts::get`].
//!
//! A saved secret is bound to where it may go, and the binding is kept
//! beside it in the keychain (the engine's `Keychain::save_bound`): a
//! password to the server settings it signed in with (host, port, security,
//! pinned certificate), a refresh token to the token service of the issuer
//! that gave it (the engine's `auth::signin`, shared with the command
//! line). The window chooses the
//! settings of every sign-in, so a request with other settings (no
//! encryption, another port, another certificate, another issuer) gets no
//! saved secret: the user is asked again. A secret saved without a binding
//! (by an older version) is never sent anywhere, and is replaced at the
//! next sign-in.

use crate::error::{ErrorCode, IpcError, IpcResult};
use mailferry::auth::keychain::{self, Keychain, SecretKind};
use mailferry::endpoint::{Credentials, Endpoint, Fingerprint, Proof, Security};
use mailferry::secret::Secret;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use ts_rs::TS;

/// Where a signed-in account's password or browser sign-in is kept (the
/// engine's word, shared with the command line).
pub use mailferry::auth::signin::Kept;

/// The server settings a saved password signed in with; it is used again
/// only with exactly these.
#[derive(Debug, PartialEq, Eq, Serialize)]
struct PasswordFor {
    host: String,
    port: u16,
    security: Security,
    pinned_certificate: Option<Fingerprint>,
}

impl PasswordFor {
    /// The binding of a password that signed in on `endpoint`, as kept in
    /// the keychain.
    fn of(endpoint: &Endpoint) -> String {
        serde_json::to_string(&PasswordFor {
            host: endpoint.host.to_ascii_lowercase(),
            port: endpoint.port,
            security: endpoint.security,
            pinned_certificate: endpoint.pinned_certificate,
        })
        .expect("plain data serializes")
    }
}

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
pub struct Accounts {
    inner: Mutex<(u32, HashMap<AccountHandle, Account>)>,
    /// The keychain, found on first use; `None`: this computer has none.
    keychain: OnceLock<Option<Keychain>>,
    /// Servers whose sign-ins stay out of the keychain (the demo's).
    session_only: Mutex<Vec<(String, u16)>>,
}

impl Default for Accounts {
    /// The app's accounts: the system keychain when there is one.
    fn default() -> Accounts {
        Accounts {
            inner: Mutex::default(),
            keychain: OnceLock::new(),
            session_only: Mutex::default(),
        }
    }
}

impl Accounts {
    /// Accounts with a given keychain (`None`: session only), for tests.
    pub fn with_keychain(keychain: Option<Keychain>) -> Accounts {
        Accounts {
            inner: Mutex::default(),
            keychain: OnceLock::from(keychain),
            session_only: Mutex::default(),
        }
    }

    /// The keychain, for code that outlives a command (a renewed sign-in
    /// saved during a copy); `None`: this computer has none.
    pub fn keychain_handle(&self) -> Option<Keychain> {
        self.keychain().cloned()
    }

    fn keychain(&self) -> Option<&Keychain> {
        self.keychain
            .get_or_init(|| match Keychain::system() {
                Ok(keychain) => Some(keychain),
                Err(e) => {
                    tracing::info!(error = %e, "no keychain: passwords are kept for this session only");
                    None
                }
            })
            .as_ref()
    }

    /// Sign-ins to this server are never kept in the keychain (the demo
    /// servers: their passwords are on the screen, and they are gone when
    /// the app closes).
    pub fn session_only_for(&self, host: &str, port: u16) {
        self.session_only
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((host.to_owned(), port));
    }

    fn is_session_only(&self, endpoint: &Endpoint) -> bool {
        self.session_only
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|(host, port)| *host == endpoint.host && *port == endpoint.port)
    }

    /// Keeps the account's password in the keychain, when there is one.
    /// A keychain that refuses is not an error: the account still works for
    /// this session, and the answer says so.
    pub fn remember(&self, account: &Account) -> Kept {
        if self.is_session_only(&account.endpoint) {
            return Kept::SessionOnly;
        }
        let (Some(keychain), Proof::Password(password)) =
            (self.keychain(), &account.credentials.proof)
        else {
            return Kept::SessionOnly;
        };
        let key = keychain::Account::new(&account.credentials.user, &account.endpoint.host);
        let binding = PasswordFor::of(&account.endpoint);
        match keychain.save_bound(SecretKind::Password, &key, password, &binding) {
            Ok(()) => Kept::Keychain,
            Err(e) => {
                tracing::warn!(error = %e, "the keychain refused the password: session only");
                Kept::SessionOnly
            }
        }
    }

    /// The password an earlier session kept for this user on this server,
    /// when it signed in with exactly these settings (host, port, security,
    /// pinned certificate); else `None`, and the user is asked for it.
    pub fn saved_password(&self, endpoint: &Endpoint, user: &str) -> Option<Secret<String>> {
        self.saved_bound(
            SecretKind::Password,
            &endpoint.host,
            user,
            &PasswordFor::of(endpoint),
        )
    }

    /// The saved secret of `kind`, when it was kept for `binding`.
    fn saved_bound(
        &self,
        kind: SecretKind,
        host: &str,
        user: &str,
        binding: &str,
    ) -> Option<Secret<String>> {
        let keychain = self.keychain()?;
        let key = keychain::Account::new(user, host);
        match keychain.load_bound(kind, &key, binding) {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "the keychain could not be read");
                None
            }
        }
    }

    /// Removes the account's saved secrets (and their bindings) from the keychain (a password
    /// the server no longer accepts, or "forget").
    pub fn forget_saved(&self, host: &str, user: &str) {
        if let Some(keychain) = self.keychain() {
            let _ = keychain.forget(&keychain::Account::new(user, host));
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_servers_stay_out_of_the_keychain() {
        let keychain = Keychain::with_store(keyring_core::mock::Store::new().unwrap());
        let accounts = Accounts::with_keychain(Some(keychain.clone()));
        let account = |port| Account {
            endpoint: Endpoint::new("127.0.0.1").with_port(port),
            credentials: Credentials::password("alice", "alicepass"),
        };
        accounts.session_only_for("127.0.0.1", 40993);
        assert_eq!(accounts.remember(&account(40993)), Kept::SessionOnly);
        assert!(accounts
            .saved_password(&account(40993).endpoint, "alice")
            .is_none());
        assert_eq!(accounts.remember(&account(993)), Kept::Keychain);
        assert_eq!(
            accounts
                .saved_password(&account(993).endpoint, "alice")
                .unwrap()
                .expose(),
            "alicepass"
        );
    }
}
