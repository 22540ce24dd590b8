//! The OS keychain (macOS Keychain, Windows Credential Manager, the Secret
//! Service on Linux), the only place MailFerry keeps a secret between runs.
//!
//! Entries live under the service name [`SERVICE`], one per account and
//! kind of secret ([`Account::key`]). A secret longer than [`PART_LEN`]
//! (a Microsoft 365 refresh token can be) is kept in several entries: the
//! Windows Credential Manager holds at most 2,560 bytes, 1,280 UTF-16
//! characters, in one. When there is no keychain (a Linux
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

/// The most UTF-16 code units one entry holds; a longer secret is split
/// into parts of at most this many. Below the Windows Credential Manager's
/// 1,280 (`CRED_MAX_CREDENTIAL_BLOB_SIZE`, 2,560 bytes of UTF-16), with room
/// to spare.
pub const PART_LEN: usize = 1200;

/// What the main entry of a split secret holds: this, then the number of
/// parts. It starts with a NUL, which no password or token holds (IMAP's
/// LOGIN cannot carry one, and SASL PLAIN uses it as its separator), so a
/// secret saved whole is never mistaken for it.
const PARTS_MARK: &str = "\0mailferry-parts:";

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
        self.named(account, &account.key(kind))
    }

    /// The entry holding part `n` (from 1) of a split secret.
    fn part(
        &self,
        kind: SecretKind,
        account: &Account,
        n: usize,
    ) -> Result<keyring_core::Entry, Error> {
        self.named(account, &format!("{}#part{n}", account.key(kind)))
    }

    fn named(&self, account: &Account, key: &str) -> Result<keyring_core::Entry, Error> {
        keyring_core::Entry::new_in_store(&self.store, SERVICE, key).map_err(|e| failed(account, e))
    }

    /// Saves (or replaces) a secret: in one entry when it fits in
    /// [`PART_LEN`], else in parts with a count in the main entry. The main
    /// entry is removed before the parts are written, so a keychain failing
    /// half-way leaves no secret (the user is asked again), never one made
    /// of two secrets' parts.
    pub fn save(
        &self,
        kind: SecretKind,
        account: &Account,
        secret: &Secret<String>,
    ) -> Result<(), Error> {
        let parts = split(secret.expose());
        if parts.len() == 1 {
            self.entry(kind, account)?
                .set_password(secret.expose())
                .map_err(|e| failed(account, e))?;
        } else {
            delete(&self.entry(kind, account)?, account)?;
            for (i, part) in parts.iter().enumerate() {
                self.part(kind, account, i + 1)?
                    .set_password(part)
                    .map_err(|e| failed(account, e))?;
            }
            self.entry(kind, account)?
                .set_password(&format!("{PARTS_MARK}{}", parts.len()))
                .map_err(|e| failed(account, e))?;
        }
        // Parts a longer secret saved before left behind.
        let kept = if parts.len() == 1 { 0 } else { parts.len() };
        self.delete_parts(kind, account, kept + 1)?;
        tracing::debug!(account = %account, kind = kind.word(), parts = parts.len(), "saved in the keychain");
        Ok(())
    }

    /// The saved secret, or `None` when there is none (or when a part of a
    /// split one is missing: it is asked for again).
    pub fn load(
        &self,
        kind: SecretKind,
        account: &Account,
    ) -> Result<Option<Secret<String>>, Error> {
        let Some(value) = self.read(&self.entry(kind, account)?, account)? else {
            return Ok(None);
        };
        let Some(count) = value.strip_prefix(PARTS_MARK) else {
            return Ok(Some(Secret::new(value)));
        };
        let count: usize = count.parse().map_err(|_| {
            Error::new(Problem::KeychainFailed {
                account: account.to_string(),
            })
            .with_detail("the saved secret's list of parts is not readable")
        })?;
        let mut whole = String::new();
        for n in 1..=count {
            match self.read(&self.part(kind, account, n)?, account)? {
                Some(part) => whole.push_str(&part),
                None => {
                    tracing::info!(
                        account = %account,
                        kind = kind.word(),
                        "a part of a saved sign-in is missing: not used"
                    );
                    return Ok(None);
                }
            }
        }
        Ok(Some(Secret::new(whole)))
    }

    fn read(
        &self,
        entry: &keyring_core::Entry,
        account: &Account,
    ) -> Result<Option<String>, Error> {
        match entry.get_password() {
            Ok(value) => Ok(Some(value)),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(failed(account, e)),
        }
    }

    /// Removes the parts of a split secret from part `from` on.
    fn delete_parts(&self, kind: SecretKind, account: &Account, from: usize) -> Result<(), Error> {
        let mut n = from;
        while delete(&self.part(kind, account, n)?, account)? {
            n += 1;
        }
        Ok(())
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

    /// Removes every secret of the account and what is kept beside them,
    /// each part of a split one too; returns how many secrets there were.
    pub fn forget(&self, account: &Account) -> Result<usize, Error> {
        let mut removed = 0;
        for kind in SecretKind::ALL {
            if delete(&self.entry(kind, account)?, account)? {
                removed += 1;
            }
            self.delete_parts(kind, account, 1)?;
        }
        tracing::debug!(account = %account, removed, "forgot the account's secrets");
        Ok(removed)
    }
}

/// Removes an entry; whether there was one.
fn delete(entry: &keyring_core::Entry, account: &Account) -> Result<bool, Error> {
    match entry.delete_credential() {
        Ok(()) => Ok(true),
        Err(keyring_core::Error::NoEntry) => Ok(false),
        Err(e) => Err(failed(account, e)),
    }
}

/// A secret cut into pieces of at most [`PART_LEN`] UTF-16 code units, on
/// character boundaries; one piece when it fits.
fn split(secret: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut units) = (0, 0);
    for (at, c) in secret.char_indices() {
        if units + c.len_utf16() > PART_LEN {
            parts.push(&secret[start..at]);
            (start, units) = (at, 0);
        }
        units += c.len_utf16();
    }
    parts.push(&secret[start..]);
    parts
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

    /// The raw entries a secret occupies: the main one, then its parts.
    fn raw_entries(keychain: &Keychain, kind: SecretKind, account: &Account) -> Vec<String> {
        let mut found = Vec::new();
        let main = keychain.entry(kind, account).unwrap();
        found.extend(keychain.read(&main, account).unwrap());
        for n in 1.. {
            let part = keychain.part(kind, account, n).unwrap();
            match keychain.read(&part, account).unwrap() {
                Some(value) => found.push(value),
                None => break,
            }
        }
        found
    }

    /// A Microsoft 365 refresh token can be longer than the 1,280 UTF-16
    /// characters the Windows Credential Manager keeps in one entry: saving
    /// it failed there, and the user was signed in for the session only.
    #[test]
    fn a_4kb_token_is_kept_in_entries_windows_can_hold() {
        let keychain = mock();
        let alice = Account::new("alice@example.com", "outlook.office365.com");
        // 4 KB, with characters of two UTF-16 units so parts are cut by
        // UTF-16 length, not by bytes or chars.
        let token: String = (0..4096)
            .map(|i| match i % 97 {
                0 => '𝄞',
                1 => 'é',
                _ => char::from(b'A' + (i % 26) as u8),
            })
            .collect();
        keychain
            .save(
                SecretKind::RefreshToken,
                &alice,
                &Secret::new(token.clone()),
            )
            .unwrap();
        let entries = raw_entries(&keychain, SecretKind::RefreshToken, &alice);
        assert!(
            entries.len() >= 5,
            "a count and at least four parts: {}",
            entries.len()
        );
        for entry in &entries {
            let units = entry.encode_utf16().count();
            assert!(
                units <= 1280,
                "an entry of {units} UTF-16 units does not fit in Windows"
            );
        }
        let loaded = keychain
            .load(SecretKind::RefreshToken, &alice)
            .unwrap()
            .unwrap();
        assert!(loaded.expose() == &token, "the token comes back whole");

        // A short secret replacing it leaves no part behind.
        keychain
            .save(
                SecretKind::RefreshToken,
                &alice,
                &Secret::new("1//short".into()),
            )
            .unwrap();
        assert_eq!(
            raw_entries(&keychain, SecretKind::RefreshToken, &alice),
            ["1//short"]
        );
        assert_eq!(
            keychain
                .load(SecretKind::RefreshToken, &alice)
                .unwrap()
                .unwrap()
                .expose(),
            "1//short"
        );

        // A shorter split secret replacing a longer one leaves no stale part.
        keychain
            .save(
                SecretKind::RefreshToken,
                &alice,
                &Secret::new(token.clone()),
            )
            .unwrap();
        let shorter = "x".repeat(PART_LEN + 1);
        keychain
            .save(
                SecretKind::RefreshToken,
                &alice,
                &Secret::new(shorter.clone()),
            )
            .unwrap();
        assert_eq!(
            raw_entries(&keychain, SecretKind::RefreshToken, &alice).len(),
            3
        );
        assert!(
            keychain
                .load(SecretKind::RefreshToken, &alice)
                .unwrap()
                .unwrap()
                .expose()
                == &shorter
        );

        // Forgetting removes every part, and counts the token once.
        keychain
            .save(SecretKind::RefreshToken, &alice, &Secret::new(token))
            .unwrap();
        assert_eq!(keychain.forget(&alice).unwrap(), 1);
        assert!(raw_entries(&keychain, SecretKind::RefreshToken, &alice).is_empty());
        for n in 1..=5 {
            let part = keychain.part(SecretKind::RefreshToken, &alice, n).unwrap();
            assert!(
                keychain.read(&part, &alice).unwrap().is_none(),
                "part {n} is gone"
            );
        }
    }

    #[test]
    fn a_secret_saved_whole_by_an_older_version_is_still_read() {
        let keychain = mock();
        let alice = Account::new("alice@example.com", "imap.example.com");
        // Older versions wrote every secret whole into the main entry (on
        // macOS and Linux, where it fit, of any length).
        let long = "t".repeat(3000);
        keychain
            .entry(SecretKind::RefreshToken, &alice)
            .unwrap()
            .set_password(&long)
            .unwrap();
        keychain
            .entry(SecretKind::Password, &alice)
            .unwrap()
            .set_password("app-pw")
            .unwrap();
        assert!(
            keychain
                .load(SecretKind::RefreshToken, &alice)
                .unwrap()
                .unwrap()
                .expose()
                == &long
        );
        assert_eq!(
            keychain
                .load(SecretKind::Password, &alice)
                .unwrap()
                .unwrap()
                .expose(),
            "app-pw"
        );
        assert_eq!(keychain.forget(&alice).unwrap(), 2);
    }

    #[test]
    fn a_split_secret_missing_a_part_is_not_used() {
        let keychain = mock();
        let alice = Account::new("alice@example.com", "imap.example.com");
        let token = "r".repeat(3 * PART_LEN);
        keychain
            .save(SecretKind::RefreshToken, &alice, &Secret::new(token))
            .unwrap();
        keychain
            .part(SecretKind::RefreshToken, &alice, 2)
            .unwrap()
            .delete_credential()
            .unwrap();
        assert!(
            keychain
                .load(SecretKind::RefreshToken, &alice)
                .unwrap()
                .is_none(),
            "never a token with a hole in it"
        );
    }
}
