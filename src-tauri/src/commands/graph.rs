//! Step 9 with Microsoft 365: the contacts and calendars of a side whose
//! mail is at Microsoft 365 go through Microsoft Graph (the engine's
//! `dav::graph`) instead of a CardDAV/CalDAV address.
//!
//! The owner signs in once more in the browser, as for the mail (the
//! engine's `auth::signin`: PKCE, loopback redirect, the refresh token kept
//! in the keychain bound to Microsoft's token service), with the same app
//! registration but Graph's permissions (`auth::oauth::GRAPH_SCOPES`): the
//! mail's sign-in only opens the mail. The sign-in is kept apart from the
//! mail's in the keychain (`auth::signin::graph_account`), so the next
//! session signs in without the browser. Nothing secret crosses to the
//! window: it names the mail account, and gets back where the sign-in is
//! kept. Tokens only go to the configured Microsoft issuer (https) and to
//! Graph's address ([`GRAPH_API`]; a loopback test server in tests).

use super::oauth::{issuer_id, issuer_named, run_sign_in, OAuthConfig};
use crate::accounts::{AccountHandle, Accounts};
use crate::error::{ErrorCode, IpcError, IpcResult};
use mailferry::auth::credentials::Proof;
use mailferry::auth::registration::Registrations;
use mailferry::auth::signin::{self, Kept};
use mailferry::dav::graph::{Graph, GraphAuth, GRAPH_API};
use mailferry::dav::DavError;
use mailferry::provider::Provider;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Mutex;
use ts_rs::TS;

/// A mailbox signed in to Microsoft Graph: whose, where, and with what.
#[derive(Clone)]
struct GraphMailbox {
    user: String,
    api: String,
    proof: Proof,
}

/// The session's Graph sign-ins, one per mail account (its handle).
#[derive(Default)]
pub struct GraphMailboxes(Mutex<HashMap<AccountHandle, GraphMailbox>>);

impl GraphMailboxes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AccountHandle, GraphMailbox>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The Graph mailbox of the mail account `account`, signed in; its
    /// name in the progress file (`user@graph`).
    pub fn open(&self, account: AccountHandle) -> IpcResult<(Graph, String)> {
        let Some(m) = self.lock().get(&account).cloned() else {
            return Err(IpcError::new(
                ErrorCode::AuthFailed,
                "Sign in to Microsoft 365 first: MailFerry needs your permission to read and \
                 write your contacts and calendars there.",
            ));
        };
        let auth = GraphAuth::signed_in(m.proof)
            .ok_or_else(|| IpcError::internal("a Microsoft 365 sign-in without a token"))?;
        let graph = Graph::new(&m.api, &m.user, auth).map_err(super::contacts::ipc)?;
        let name = graph.name();
        Ok((graph, name))
    }
}

/// Whether `e` is `graph` turning its sign-in down (rather than the
/// other side's server).
pub fn denied_at(graph: &Graph, e: &DavError) -> bool {
    match e {
        DavError::SignInRefused { server } => server == graph.api(),
        DavError::Refused { action, .. } => action == "sign in to Microsoft 365",
        _ => false,
    }
}

/// Microsoft 365 turning the sign-in down, in plain words: the owner signs
/// in again (or their administrator allows MailFerry).
pub fn refused(user: &str, e: DavError) -> IpcError {
    IpcError {
        detail: Some(e.to_string()),
        ..IpcError::new(
            ErrorCode::AuthFailed,
            format!(
                "Microsoft 365 did not let MailFerry into the contacts and calendars of {user}. \
                 Sign in to Microsoft 365 again; if the sign-in page says your organisation must \
                 approve MailFerry, ask your Microsoft 365 administrator to approve it."
            ),
        )
    }
}

/// A finished Microsoft 365 sign-in for contacts and calendars.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct GraphSignedIn {
    /// The mailbox (its address), as Microsoft 365 knows it.
    pub user: String,
    /// Where the sign-in is kept (the keychain, or this session only).
    pub kept: Kept,
    /// Address books and calendars found there.
    pub collections: u32,
}

/// Signs the mail account `account` in to Microsoft Graph at `api` (a
/// saved sign-in first, else the browser) and checks that its contacts and
/// calendars open; keeps the sign-in for this session.
pub async fn sign_in_graph_with(
    accounts: &Accounts,
    graphs: &GraphMailboxes,
    config: &OAuthConfig,
    api: &str,
    account: AccountHandle,
) -> IpcResult<GraphSignedIn> {
    let user = accounts.get(account)?.credentials.user.trim().to_owned();
    // Microsoft's own issuer as configured for the mail (never one the
    // window names), with this copy's or the user's registration there.
    let Some(microsoft) = config
        .issuers
        .iter()
        .find(|i| i.provider == Provider::Microsoft)
    else {
        return Err(unavailable());
    };
    let issuer = issuer_named(config, &issuer_id(microsoft))?.for_graph();
    let Some(client) = config.registrations.get(Provider::Microsoft).cloned() else {
        return Err(unavailable());
    };
    let signed_in = run_sign_in(
        accounts,
        config,
        issuer,
        client,
        signin::graph_account(&user),
    )
    .await?;
    let mailbox = GraphMailbox {
        user: user.clone(),
        api: api.to_owned(),
        proof: signed_in.proof,
    };
    // One request: the sign-in opens the contacts and calendars (an
    // organisation may allow the mail and not these).
    let auth = GraphAuth::signed_in(mailbox.proof.clone())
        .ok_or_else(|| IpcError::internal("a Microsoft 365 sign-in without a token"))?;
    let graph = Graph::new(api, &user, auth).map_err(super::contacts::ipc)?;
    let who = user.clone();
    // Here any refusal is Microsoft 365's: a 403 is a permission the
    // organisation did not give.
    let collections = tauri::async_runtime::spawn_blocking(move || graph.collections())
        .await
        .map_err(IpcError::internal)?
        .map_err(|e| match e {
            DavError::SignInRefused { .. }
            | DavError::Refused {
                status: 401 | 403, ..
            } => refused(&who, e),
            e => super::contacts::ipc(e),
        })?;
    graphs.lock().insert(account, mailbox);
    Ok(GraphSignedIn {
        user,
        kept: signed_in.kept,
        collections: u32::try_from(collections.len()).unwrap_or(u32::MAX),
    })
}

fn unavailable() -> IpcError {
    IpcError::new(
        ErrorCode::OAuthUnavailable,
        Registrations::missing_words(Provider::Microsoft),
    )
}

/// Signs in to Microsoft 365's contacts and calendars for the mail account
/// `account` (step 9).
pub async fn sign_in_graph(
    accounts: tauri::State<'_, Accounts>,
    graphs: tauri::State<'_, GraphMailboxes>,
    config: tauri::State<'_, OAuthConfig>,
    chosen: tauri::State<'_, super::oauth::ClientOverride>,
    account: AccountHandle,
) -> IpcResult<GraphSignedIn> {
    let config = chosen.apply(&config);
    sign_in_graph_with(&accounts, &graphs, &config, GRAPH_API, account).await
}
