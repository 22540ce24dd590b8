//! Step 3, "Sign in": the one place a password crosses from the window.
//! It becomes a `Secret` at once and the window gets a handle back.

use super::connect::Checklist;
use super::servers::Server;
use crate::accounts::{Account, AccountHandle, Accounts, Kept};
use crate::error::IpcResult;
use mailferry::check::{check, Step};
use mailferry::endpoint::Credentials;
use serde::Serialize;
use tauri::State;
use ts_rs::TS;

/// What signing in gave.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct SignedIn {
    /// The account, when every step passed.
    pub account: Option<AccountHandle>,
    /// The full checklist (found, secure, signed in, can read folders).
    pub checklist: Checklist,
    /// Where the password is kept, when signing in worked.
    pub kept: Option<Kept>,
}

/// Signs in and, when it works, keeps the account for this session.
pub async fn sign_in_with(
    accounts: &Accounts,
    server: Server,
    user: String,
    password: String,
) -> IpcResult<SignedIn> {
    let endpoint = server.endpoint()?;
    let user = user.trim().to_owned();
    if user.is_empty() {
        return Err(crate::error::IpcError::invalid(
            "Enter the email address (or user name) you sign in with.",
        ));
    }
    let credentials = Credentials::password(user, password);
    let report = check(&endpoint, &credentials).await;
    let checklist = checklist_of(&report);
    let signed_in = report.passed.contains(&Step::CanReadFolders);
    let (account, kept) = if signed_in {
        let account = Account {
            endpoint,
            credentials,
        };
        let kept = accounts.remember(&account);
        (Some(accounts.add(account)), Some(kept))
    } else {
        (None, None)
    };
    Ok(SignedIn {
        account,
        checklist,
        kept,
    })
}

/// The sign-in checklist of a connection check's report.
pub(crate) fn checklist_of(report: &mailferry::check::CheckReport) -> Checklist {
    match &report.failure {
        None => Checklist {
            passed: report.passed.clone(),
            failure: None,
            warnings: report.warnings.clone(),
            folders: report.folders.map(|n| n as u32),
        },
        Some(failure) => Checklist {
            passed: report.passed.clone(),
            failure: Some(super::connect::StepFailure {
                step: failure.step,
                error: crate::error::IpcError::of_problem(
                    &failure.problem,
                    failure.message.clone(),
                    failure.detail.clone(),
                ),
            }),
            warnings: report.warnings.clone(),
            folders: None,
        },
    }
}

/// Signs in with the password an earlier session kept in the keychain;
/// `None` when there is none (or no keychain), or when it was kept for
/// other settings than the window sends now (no encryption instead of TLS,
/// another port or host, another pinned certificate): the window asks for
/// it, and the saved password goes nowhere.
pub async fn sign_in_saved_with(
    accounts: &Accounts,
    server: Server,
    user: String,
) -> IpcResult<Option<SignedIn>> {
    let user = user.trim().to_owned();
    let endpoint = server.endpoint()?;
    let host = endpoint.host.clone();
    let Some(password) = accounts.saved_password(&endpoint, &user) else {
        return Ok(None);
    };
    let signed = sign_in_with(accounts, server, user.clone(), password.expose().clone()).await?;
    let refused = signed
        .checklist
        .failure
        .as_ref()
        .is_some_and(|f| f.error.code == crate::error::ErrorCode::AuthFailed);
    if refused {
        // The server no longer takes it (changed or revoked): not worth keeping.
        accounts.forget_saved(&host, &user);
    }
    Ok(Some(signed))
}

/// Signs in with a saved password ("Continue where you left off").
pub async fn sign_in_saved(
    accounts: State<'_, Accounts>,
    server: Server,
    user: String,
) -> IpcResult<Option<SignedIn>> {
    sign_in_saved_with(&accounts, server, user).await
}

/// Signs in (step 3).
pub async fn sign_in(
    accounts: State<'_, Accounts>,
    server: Server,
    user: String,
    password: String,
) -> IpcResult<SignedIn> {
    sign_in_with(&accounts, server, user, password).await
}

/// Forgets a signed-in account.
pub fn forget_account(accounts: State<'_, Accounts>, account: AccountHandle) {
    accounts.forget(account);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Recorder;
    use mailferry::auth::keychain::Keychain;
    use mailferry::endpoint::{Fingerprint, Security};

    #[tokio::test]
    async fn a_saved_password_is_used_only_with_the_settings_it_was_saved_for() {
        let saved_server = Recorder::silent();
        let other_port = Recorder::silent();
        let pin = Fingerprint::of_der(b"the certificate alice chose to trust");
        let saved_for = Server {
            host: "127.0.0.1".into(),
            port: saved_server.port,
            security: Security::Tls,
            trusted_fingerprint: Some(pin.to_colon_hex()),
        };
        let user = "alice@example.com";
        let accounts = Accounts::with_keychain(Some(Keychain::with_store(
            keyring_core::mock::Store::new().unwrap(),
        )));
        // What signing in with these settings kept.
        let kept = accounts.remember(&Account {
            endpoint: saved_for.endpoint().unwrap(),
            credentials: Credentials::password(user, "alice-saved-password"),
        });
        assert_eq!(kept, Kept::Keychain);

        let other_pin = Fingerprint::of_der(b"a certificate the window chose").to_colon_hex();
        let requests = [
            (
                "no encryption",
                Server {
                    security: Security::Plain,
                    ..saved_for.clone()
                },
            ),
            (
                "STARTTLS",
                Server {
                    security: Security::StartTls,
                    ..saved_for.clone()
                },
            ),
            (
                "another port",
                Server {
                    port: other_port.port,
                    ..saved_for.clone()
                },
            ),
            (
                "another pinned certificate",
                Server {
                    trusted_fingerprint: Some(other_pin),
                    ..saved_for.clone()
                },
            ),
            (
                "no pinned certificate",
                Server {
                    trusted_fingerprint: None,
                    ..saved_for.clone()
                },
            ),
            (
                "another host name",
                Server {
                    host: "localhost".into(),
                    ..saved_for.clone()
                },
            ),
        ];
        for (what, request) in requests {
            let answer = sign_in_saved_with(&accounts, request, user.into())
                .await
                .unwrap();
            assert_eq!(
                answer, None,
                "{what}: the saved password was used instead of asking for it"
            );
        }
        assert!(
            saved_server.received().is_empty() && other_port.received().is_empty(),
            "a connection was made with the saved password in hand: {} to the saved port, {} to another",
            saved_server.received().len(),
            other_port.received().len()
        );

        // With the settings it was saved for, it is used: the server is
        // contacted (it says nothing, so the sign-in fails there).
        let answer = sign_in_saved_with(&accounts, saved_for, user.into())
            .await
            .unwrap();
        let answer = answer.expect("the saved password is used with its own settings");
        assert!(answer.account.is_none());
        assert!(!saved_server.received().is_empty());
    }
}
