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
//! session signs in without the browser. When the administrator's app-only
//! sign-in of the organisation's directory is there (step 4), it is tried
//! first: it opens every mailbox of that organisation whose contacts and
//! calendars the app was allowed, with no browser; a mailbox it does not
//! open falls back to the owner's sign-in. Nothing secret crosses to the
//! window: it names the mail account, and gets back where the sign-in is
//! kept. Tokens only go to the configured Microsoft issuer (https) and to
//! Graph's address ([`GRAPH_API`]; a loopback test server in tests).

use super::oauth::{run_sign_in_for, OAuthConfig};
use crate::accounts::{AccountHandle, Accounts};
use crate::error::{ErrorCode, IpcError, IpcResult};
use mailferry::auth::credentials::Proof;
use mailferry::auth::grant::TokenSource;
use mailferry::auth::oauth::Issuer;
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
    how: How,
}

/// How a mailbox signs in to Graph.
#[derive(Clone)]
enum How {
    /// The owner's browser sign-in.
    Owner(Proof),
    /// The organisation's app (app-only).
    Organisation(TokenSource),
}

impl How {
    fn auth(&self) -> IpcResult<GraphAuth> {
        match self {
            How::Owner(proof) => GraphAuth::signed_in(proof.clone())
                .ok_or_else(|| IpcError::internal("a Microsoft 365 sign-in without a token")),
            How::Organisation(app) => Ok(GraphAuth::App(app.clone())),
        }
    }
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
        let graph = Graph::new(&m.api, &m.user, m.how.auth()?).map_err(super::contacts::ipc)?;
        let name = graph.name();
        Ok((graph, name))
    }
}

/// Whether `e` is `graph` turning its sign-in down (rather than the
/// other side's server).
pub fn denied_at(graph: &Graph, e: &DavError) -> bool {
    match e {
        DavError::SignInRefused { server, .. } => server == graph.api(),
        DavError::Refused { action, .. } => action == "sign in to Microsoft 365",
        _ => false,
    }
}

/// Microsoft 365 turning the sign-in down, in plain words: the owner signs
/// in again (or their administrator allows MailFerry).
pub fn refused(user: &str, e: DavError) -> IpcError {
    sign_in_refused(
        format!(
            "Microsoft 365 did not let MailFerry into the contacts and calendars of {user}. \
             Sign in to Microsoft 365 again; if the sign-in page says your organisation must \
             approve MailFerry, ask your Microsoft 365 administrator to approve it."
        ),
        e,
    )
}

/// A provider turning a contacts and calendars sign-in down: `words` for
/// the owner, the server's own answer behind "Show details".
pub(crate) fn sign_in_refused(words: String, e: DavError) -> IpcError {
    IpcError {
        detail: Some(e.to_string()),
        ..IpcError::new(ErrorCode::AuthFailed, words)
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
    /// Signed in with the organisation's administrator sign-in (no
    /// browser), not the owner's.
    pub organisation: bool,
}

/// Opens the contacts and calendars of `user` at `api` signed in `how`
/// (one request); how many there are.
async fn try_open(api: &str, user: &str, how: &How) -> IpcResult<usize> {
    let graph = Graph::new(api, user, how.auth()?).map_err(super::contacts::ipc)?;
    let who = user.to_owned();
    // Here any refusal is Microsoft 365's: a 403 is a permission the
    // organisation did not give.
    tauri::async_runtime::spawn_blocking(move || graph.collections())
        .await
        .map_err(IpcError::internal)?
        .map(|c| c.len())
        .map_err(|e| match e {
            DavError::SignInRefused { .. }
            | DavError::Refused {
                status: 401 | 403, ..
            } => refused(&who, e),
            e => super::contacts::ipc(e),
        })
}

/// Signs the mail account `account` in to Microsoft Graph at `api` and
/// checks that its contacts and calendars open: with the organisation's
/// app-only sign-in `organisation` when it opens them, else the owner's
/// (a saved sign-in first, else the browser). Keeps the sign-in for this
/// session.
pub async fn sign_in_graph_with(
    accounts: &Accounts,
    graphs: &GraphMailboxes,
    config: &OAuthConfig,
    api: &str,
    account: AccountHandle,
    organisation: Option<TokenSource>,
) -> IpcResult<GraphSignedIn> {
    let user = accounts.get(account)?.credentials.user.trim().to_owned();
    let keep = |how: How, collections: usize, kept: Kept| {
        graphs.lock().insert(
            account,
            GraphMailbox {
                user: user.clone(),
                api: api.to_owned(),
                how: how.clone(),
            },
        );
        GraphSignedIn {
            user: user.clone(),
            kept,
            collections: u32::try_from(collections).unwrap_or(u32::MAX),
            organisation: matches!(how, How::Organisation(_)),
        }
    };
    if let Some(app) = organisation {
        let how = How::Organisation(app);
        match try_open(api, &user, &how).await {
            Ok(n) => return Ok(keep(how, n, Kept::SessionOnly)),
            Err(e) => tracing::info!(
                error = %e.message,
                "the organisation's sign-in does not open these contacts and calendars; asking their owner"
            ),
        }
    }
    let signed_in = run_sign_in_for(
        accounts,
        config,
        Provider::Microsoft,
        Issuer::for_graph,
        signin::graph_account(&user),
    )
    .await?;
    let how = How::Owner(signed_in.proof);
    // One request: the sign-in opens the contacts and calendars (an
    // organisation may allow the mail and not these).
    let collections = try_open(api, &user, &how).await?;
    Ok(keep(how, collections, signed_in.kept))
}

/// Signs in to Microsoft 365's contacts and calendars for the mail account
/// `account` (step 9).
pub async fn sign_in_graph(
    accounts: tauri::State<'_, Accounts>,
    graphs: tauri::State<'_, GraphMailboxes>,
    config: tauri::State<'_, OAuthConfig>,
    chosen: tauri::State<'_, super::oauth::ClientOverride>,
    admin: tauri::State<'_, super::mailboxes::AdminSignIn>,
    account: AccountHandle,
) -> IpcResult<GraphSignedIn> {
    let config = chosen.apply(&config);
    let organisation = (admin.0.lock().unwrap_or_else(|e| e.into_inner()))
        .as_ref()
        .and_then(|g| g.graph());
    sign_in_graph_with(
        &accounts,
        &graphs,
        &config,
        GRAPH_API,
        account,
        organisation,
    )
    .await
}
