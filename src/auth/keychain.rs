//! The OS keychain (macOS Keychain, Windows Credential Manager, the Secret
//! Service on Linux), the only place MailFerry keeps a secret between runs.
//!
//! Entries live under the service name [`SERVICE`], one per account and
//! kind of secret ([`Account::key`]). When there is no keychain (a Linux
//! session without a Secret Service) the answer is
//! [`Problem::KeychainUnavailable`], never a file: the caller offers "use for
//! this session only" instead.

use crate::error::{Error, Problem};
use crate::secret::Secret;
use keyring_core::api::CredentialStore;
use std::fmt;
use std::sync::Arc;

/// The service name every MailFerry entry is stored under.
pub const SERVICE: &str = "MailFerry";

/// What kind of secret an entry holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretKind {
    /// A password or app password.
    Password,
    /// An OAuth2 refresh token (access tokens are never stored).
    RefreshToken,
    /// Where the saved password may be sent: the server settings it was
    /// saved with (the desktop app's; not secret itself, kept beside the
    /// password so that both are forgotten together).
    PasswordBinding,
    /// Which token service the saved refresh token belongs to (likewise).
    RefreshTokenBinding,
}

impl SecretKind {
    /// Every kind, for forgetting an account.
    pub const ALL: [SecretKind; 4] = [
        SecretKind::Password,
        SecretKind::RefreshToken,
        SecretKind::PasswordBinding,
        SecretKind::RefreshTokenBinding,
    ];

    /// The kind that holds what a secret of this kind was kept for (a
    /// binding has none of its own).
    pub fn binding(self) -> SecretKind {
        match self {
            SecretKind::Password => SecretKind::PasswordBinding,
            SecretKind::RefreshToken => SecretKind::RefreshTokenBinding,
            other => other,
        }
    }

    fn word(self) -> &'static str {
        match self {
            SecretKind::Password => "password",
            SecretKind::RefreshToken => "refresh-token",
            SecretKind::PasswordBinding => "password-for",
            SecretKind::RefreshTokenBinding => "refresh-token-for",
        }
    }
}

/// An account on a server: whose secret an entry is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// The user name as given for sign-in.
    pub user: String,
    /// The server name.
    pub host: String,
}

impl Account {
    /// An account.
    pub fn new(user: impl Into<String>, host: impl Into<String>) -> Self {
        Account {
            user: user.into(),
            host: host.into(),
        }
    }

    /// The entry name inside [`SERVICE`]: `password:alice@example.com@imap.example.com`
    /// (the host never holds an `@`, so the last one separates it).
    pub fn key(&self, kind: SecretKind) -> String {
        format!(
            "{}:{}@{}",
            kind.word(),
            self.user,
            self.host.to_ascii_lowercase()
        )
    }
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} on {}", self.user, self.host)
    }
}

/// A credential store: the system's, or any other keyring-core store (the
/// mock one in tests).
#[derive(Clone)]
pub struct Keychain {
    store: Arc<CredentialStore>,
}

impl fmt::Debug for Keychain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keychain")
            .field("store", &self.store.vendor())
            .finish()
    }
}

impl Keychain {
    /// The system keychain, or [`Problem::KeychainUnavailable`] when this
    /// computer has none MailFerry can reach.
    pub fn system() -> Result<Keychain, Error> {
        if let Err(e) = keyring::Entry::store_status() {
            return Err(unavailable(e));
        }
        let store = keyring_core::get_default_store()
            .ok_or_else(|| Error::new(Problem::KeychainUnavailable))?;
        Ok(Keychain { store })
    }

    /// A keychain over a given store (tests use keyring-core's mock store).
    pub fn with_store(store: Arc<CredentialStore>) -> Keychain {
        Keychain { store }
    }

    fn entry(&self, kind: SecretKind, account: &Account) -> Result<keyring_core::Entry, Error> {
        keyring_core::Entry::new_in_store(&self.store, SERVICE, &account.key(kind))
            .map_err(|e| failed(account, e))
    }

    /// Saves (or replaces) a secret.
    pub fn save(
        &self,
        kind: SecretKind,
        account: &Account,
        secret: &Secret<String>,
    ) -> Result<(), Error> {
        self.entry(kind, account)?
            .set_password(secret.expose())
            .map_err(|e| failed(account, e))?;
        tracing::debug!(account = %account, kind = kind.word(), "saved in the keychain");
        Ok(())
    }

    /// The saved secret, or `None` when there is none.
    pub fn load(
        &self,
        kind: SecretKind,
        account: &Account,
    ) -> Result<Option<Secret<String>>, Error> {
        match self.entry(kind, account)?.get_password() {
            Ok(value) => Ok(Some(Secret::new(value))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(failed(account, e)),
        }
    }

    /// Saves a secret and what it is for (`binding`: where it may be sent).
    /// The old binding is emptied first, so a keychain failing half-way
    /// leaves the secret bound to nothing (never used), not to what the
    /// secret it replaced was for.
    pub fn save_bound(
        &self,
        kind: SecretKind,
        account: &Account,
        secret: &Secret<String>,
        binding: &str,
    ) -> Result<(), Error> {
        let binding_kind = kind.binding();
        self.save(binding_kind, account, &Secret::new(String::new()))?;
        self.save(kind, account, secret)?;
        self.save(binding_kind, account, &Secret::new(binding.to_owned()))
    }

    /// The saved secret, only when it was saved for `binding`. A secret
    /// kept for something else, or without saying what for (by an older
    /// version), is `None`: it is never sent anywhere, and the user is
    /// asked again.
    pub fn load_bound(
        &self,
        kind: SecretKind,
        account: &Account,
        binding: &str,
    ) -> Result<Option<Secret<String>>, Error> {
        let kept_for = self.load(kind.binding(), account)?;
        if kept_for.as_ref().map(|b| b.expose().as_str()) != Some(binding) {
            if kept_for.is_some() || self.load(kind, account)?.is_some() {
                tracing::info!(
                    account = %account,
                    kind = kind.word(),
                    "a saved sign-in was kept for something else: not used"
                );
            }
            return Ok(None);
        }
        self.load(kind, account)
    }

    /// Removes every secret of the account and what is kept beside them;
    /// returns how many entries there were.
    pub fn forget(&self, account: &Account) -> Result<usize, Error> {
        let mut removed = 0;
        for kind in SecretKind::ALL {
            match self.entry(kind, account)?.delete_credential() {
                Ok(()) => removed += 1,
                Err(keyring_core::Error::NoEntry) => {}
                Err(e) => return Err(failed(account, e)),
            }
        }
        tracing::debug!(account = %account, removed, "forgot the account's secrets");
        Ok(removed)
    }
}

fn unavailable(e: &keyring_core::Error) -> Error {
    Error::new(Problem::KeychainUnavailable).with_detail(e.to_string())
}

/// A keychain error as a problem.
fn failed(account: &Account, e: keyring_core::Error) -> Error {
    use keyring_core::Error as K;
    match e {
        K::NoDefaultStore | K::PlatformFailure(_) | K::NoStorageAccess(_) => unavailable(&e),
        // These two carry the stored bytes: no detail.
        K::BadEncoding(_) | K::BadDataFormat(..) => Error::new(Problem::KeychainFailed {
            account: account.to_string(),
        })
        .with_detail("the saved secret is not readable text"),
        other => Error::new(Problem::KeychainFailed {
            account: account.to_string(),
        })
        .with_detail(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mock() -> Keychain {
        Keychain::with_store(keyring_core::mock::Store::new().unwrap())
    }

    #[test]
    fn secrets_round_trip_per_account_and_kind() {
        let keychain = mock();
        let alice = Account::new("alice@example.com", "IMAP.Example.com");
        let bob = Account::new("bob@example.com", "imap.example.com");
        assert!(keychain
            .load(SecretKind::Password, &alice)
            .unwrap()
            .is_none());
        keychain
            .save(
                SecretKind::Password,
                &alice,
                &Secret::new("app-pw-1".into()),
            )
            .unwrap();
        keychain
            .save(
                SecretKind::RefreshToken,
                &alice,
                &Secret::new("1//refresh".into()),
            )
            .unwrap();
        keychain
            .save(SecretKind::Password, &bob, &Secret::new("bob-pw".into()))
            .unwrap();
        let loaded = keychain
            .load(SecretKind::Password, &alice)
            .unwrap()
            .unwrap();
        assert_eq!(loaded.expose(), "app-pw-1");
        let refresh = keychain
            .load(SecretKind::RefreshToken, &alice)
            .unwrap()
            .unwrap();
        assert_eq!(refresh.expose(), "1//refresh");
        // Replacing keeps one entry.
        keychain
            .save(
                SecretKind::Password,
                &alice,
                &Secret::new("app-pw-2".into()),
            )
            .unwrap();
        let loaded = keychain
            .load(SecretKind::Password, &alice)
            .unwrap()
            .unwrap();
        assert_eq!(loaded.expose(), "app-pw-2");

        assert_eq!(
            keychain.forget(&alice).unwrap(),
            2,
            "password and refresh token"
        );
        assert!(keychain
            .load(SecretKind::Password, &alice)
            .unwrap()
            .is_none());
        assert!(keychain
            .load(SecretKind::RefreshToken, &alice)
            .unwrap()
            .is_none());
        assert_eq!(
            keychain.forget(&alice).unwrap(),
            0,
            "forgetting twice is fine"
        );
        let bobs = keychain.load(SecretKind::Password, &bob).unwrap().unwrap();
        assert_eq!(bobs.expose(), "bob-pw", "other accounts are untouched");
    }

    #[test]
    fn forgetting_an_account_also_forgets_what_its_secrets_were_kept_for() {
        let keychain = mock();
        let alice = Account::new("alice@example.com", "imap.example.com");
        for kind in SecretKind::ALL {
            keychain
                .save(kind, &alice, &Secret::new(kind.word().into()))
                .unwrap();
        }
        assert_eq!(keychain.forget(&alice).unwrap(), SecretKind::ALL.len());
        for kind in SecretKind::ALL {
            assert!(keychain.load(kind, &alice).unwrap().is_none(), "{kind:?}");
        }
    }

    #[test]
    fn keys_are_per_account_and_kind_under_one_service() {
        let a = Account::new("alice@example.com", "IMAP.Example.com");
        assert_eq!(
            a.key(SecretKind::Password),
            "password:alice@example.com@imap.example.com"
        );
        assert_eq!(
            a.key(SecretKind::RefreshToken),
            "refresh-token:alice@example.com@imap.example.com"
        );
        assert_eq!(SERVICE, "MailFerry");
    }

    #[test]
    fn a_locked_or_missing_keychain_is_a_plain_problem() {
        let keychain = mock();
        let alice = Account::new("alice", "h");
        let entry = keychain.entry(SecretKind::Password, &alice).unwrap();
        let cred: &keyring_core::mock::Cred = entry.as_any().downcast_ref().unwrap();
        cred.set_error(keyring_core::Error::NoStorageAccess(Box::new(
            std::io::Error::other("locked"),
        )));
        let err = keychain.load(SecretKind::Password, &alice).unwrap_err();
        assert_eq!(err.problem(), &Problem::KeychainUnavailable);
        assert!(err.to_string().contains("file"), "{err}");

        let entry = keychain.entry(SecretKind::Password, &alice).unwrap();
        let cred: &keyring_core::mock::Cred = entry.as_any().downcast_ref().unwrap();
        cred.set_error(keyring_core::Error::BadEncoding(b"s3cret\xff".to_vec()));
        let err = keychain.load(SecretKind::Password, &alice).unwrap_err();
        assert!(
            !format!("{err:?}").contains("115, 51"),
            "no stored bytes: {err:?}"
        );
        assert!(
            matches!(err.problem(), Problem::KeychainFailed { account } if account == "alice on h"),
            "{err:?}"
        );
    }
}
