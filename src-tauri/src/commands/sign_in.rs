//! Step 3, "Sign in": the one place a password crosses from the window.
//! It becomes a `Secret` at once and the window gets a handle back.

use super::connect::Checklist;
use super::servers::Server;
use crate::accounts::{Account, AccountHandle, Accounts};
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
    let checklist = match &report.failure {
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
    };
    let account = report.passed.contains(&Step::CanReadFolders).then(|| {
        accounts.add(Account {
            endpoint,
            credentials,
        })
    });
    Ok(SignedIn { account, checklist })
}

/// Signs in (step 3).
#[tauri::command]
pub async fn sign_in(
    accounts: State<'_, Accounts>,
    server: Server,
    user: String,
    password: String,
) -> IpcResult<SignedIn> {
    sign_in_with(&accounts, server, user, password).await
}

/// Forgets a signed-in account.
#[tauri::command]
pub fn forget_account(accounts: State<'_, Accounts>, account: AccountHandle) {
    accounts.forget(account);
}
