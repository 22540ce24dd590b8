//! Step 4, "Mailboxes": which mailbox goes where, one pair at a time or a
//! whole list pasted from a spreadsheet or imported from a CSV file.
//!
//! A list may carry passwords (a third column for both sides, or a third
//! and a fourth). They are read here, at once wrapped in a `Secret`, used
//! to sign in and kept only by [`Accounts`] (the session, and the keychain
//! when there is one); the window gets handles and plain words back, never
//! a password. The window drops the pasted text as soon as it is sent.
//!
//! The list can also come from the organisation's own directory
//! ([`read_directory`], the engine's `inventory`): every mailbox of a Google
//! Workspace or Microsoft 365 domain, the ones worth a second look flagged
//! in words, each with a suggested [`Decision`] the owner changes per row
//! (move, keep as files on this computer, leave). The window tells the
//! shell the decisions ([`set_decisions`]) so the report lists every
//! mailbox, the ones left where they are included. The administrator
//! sign-in that read the directory also signs each listed mailbox in at the
//! old server ([`sign_in_listed`]): no password per mailbox.

use super::oauth::{ClientOverride, OAuthConfig};
use super::servers::Server;
use super::sign_in::{checklist_of, sign_in_with};
use crate::accounts::{Account, AccountHandle, Accounts};
use crate::error::{ErrorCode, IpcError, IpcResult};
use mailferry::auth::grant::{ClientCredentials, ServiceAccount, TokenSource};
use mailferry::auth::oauth::Client;
use mailferry::check::{check, Step};
use mailferry::domain::user_problem;
use mailferry::endpoint::Credentials;
use mailferry::inventory::{self, Inventory};
use mailferry::provider::Provider;
use mailferry::secret::Secret;
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use tauri::State;
use ts_rs::TS;

/// A mailbox pair the window already has (for duplicate checks).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PairNames {
    /// The user at the old server.
    pub source_user: String,
    /// The user at the new server.
    pub destination_user: String,
}

/// One mailbox pair after checking, as the window shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct MailboxRow {
    /// The row in the pasted text or file (1 = first line), 0 for one added by hand.
    pub line: u32,
    /// The user at the old server.
    pub source_user: String,
    /// The user at the new server.
    pub destination_user: String,
    /// What is wrong with the row itself, in plain words (nothing is signed in then).
    pub problem: Option<String>,
    /// The old mailbox, signed in (when the row had its password and it worked).
    pub source: Option<AccountHandle>,
    /// The new mailbox, signed in.
    pub destination: Option<AccountHandle>,
    /// Why signing in to the old mailbox didn't work.
    pub source_error: Option<IpcError>,
    /// Why signing in to the new mailbox didn't work.
    pub destination_error: Option<IpcError>,
}

/// A row as read from the text, before signing in (the engine's reader,
/// shared with `mailferry sync --mailboxes`).
pub use mailferry::domain::ListRow as ParsedRow;

/// Reads a pasted list or CSV file (see [`mailferry::domain::parse_list`]);
/// `existing` are the pairs already in the list (for duplicates).
pub fn parse_mailboxes(text: &str, existing: &[PairNames]) -> Vec<ParsedRow> {
    let existing: Vec<(String, String)> = existing
        .iter()
        .map(|p| (p.source_user.clone(), p.destination_user.clone()))
        .collect();
    mailferry::domain::parse_list(text, &existing)
}

/// Signs in one side with its password, if the row had one.
async fn sign_in_side(
    accounts: &Accounts,
    server: &Server,
    user: &str,
    password: Option<Secret<String>>,
) -> (Option<AccountHandle>, Option<IpcError>) {
    let Some(password) = password else {
        return (None, None);
    };
    match sign_in_with(
        accounts,
        server.clone(),
        user.to_owned(),
        password.expose().clone(),
    )
    .await
    {
        Ok(signed) => match (signed.account, signed.checklist.failure) {
            (Some(handle), _) => (Some(handle), None),
            (None, Some(failure)) => (None, Some(failure.error)),
            (None, None) => (
                None,
                Some(IpcError::internal("the sign-in stopped without a reason")),
            ),
        },
        Err(e) => (None, Some(e)),
    }
}

/// Checks every row and signs in those that came with passwords, one after
/// the other.
pub async fn read_rows(
    accounts: &Accounts,
    source: &Server,
    destination: &Server,
    rows: Vec<ParsedRow>,
) -> IpcResult<Vec<MailboxRow>> {
    // Bad server settings are one problem, not one per row.
    source.endpoint()?;
    destination.endpoint()?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let (mut src, mut dst) = ((None, None), (None, None));
        if row.problem.is_none() {
            src = sign_in_side(accounts, source, &row.source_user, row.source_password).await;
            dst = sign_in_side(
                accounts,
                destination,
                &row.destination_user,
                row.destination_password,
            )
            .await;
        }
        out.push(MailboxRow {
            line: row.line,
            source_user: row.source_user,
            destination_user: row.destination_user,
            problem: row.problem,
            source: src.0,
            destination: dst.0,
            source_error: src.1,
            destination_error: dst.1,
        });
    }
    Ok(out)
}

/// Reads a pasted list or an imported CSV file's text (see
/// [`parse_mailboxes`]) and signs in the rows that carry passwords.
pub async fn read_mailbox_list(
    accounts: State<'_, Accounts>,
    source: Server,
    destination: Server,
    text: String,
    existing: Vec<PairNames>,
) -> IpcResult<Vec<MailboxRow>> {
    // The text may hold passwords: zeroed when this call ends.
    let text = Secret::new(text);
    if text.expose().len() > 1_000_000 {
        return Err(IpcError::invalid(
            "That list is too long for one import (over a million characters). Split it in parts.",
        ));
    }
    let rows = parse_mailboxes(text.expose(), &existing);
    read_rows(&accounts, &source, &destination, rows).await
}

/// Adds one pair typed by hand; with its passwords it is signed in at once.
#[allow(clippy::too_many_arguments)] // each is one field of the "Add a mailbox" form
pub async fn add_mailbox(
    accounts: State<'_, Accounts>,
    source: Server,
    destination: Server,
    source_user: String,
    destination_user: String,
    source_password: String,
    destination_password: String,
    existing: Vec<PairNames>,
) -> IpcResult<MailboxRow> {
    let row = add_row(
        source_user,
        destination_user,
        Secret::new(source_password),
        Secret::new(destination_password),
        &existing,
    );
    let mut rows = read_rows(&accounts, &source, &destination, vec![row]).await?;
    Ok(rows.remove(0))
}

/// One hand-typed pair, checked like a row of a list.
pub fn add_row(
    source_user: String,
    destination_user: String,
    source_password: Secret<String>,
    destination_password: Secret<String>,
    existing: &[PairNames],
) -> ParsedRow {
    let source_user = source_user.trim().to_owned();
    let destination_user = destination_user.trim().to_owned();
    let problem = user_problem(&source_user, "old")
        .or_else(|| user_problem(&destination_user, "new"))
        .or_else(|| {
            let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
            if existing.iter().any(|p| same(&p.source_user, &source_user)) {
                Some(format!("{source_user} is already in the list."))
            } else if existing
                .iter()
                .any(|p| same(&p.destination_user, &destination_user))
            {
                Some(format!(
                    "{destination_user} already receives another mailbox; two mailboxes would be mixed into one."
                ))
            } else {
                None
            }
        })
        .map(|p| {
            let mut chars = p.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        });
    let keep = |s: Secret<String>| (!s.expose().is_empty()).then_some(s);
    ParsedRow {
        line: 0,
        source_user,
        destination_user,
        source_password: keep(source_password),
        destination_password: keep(destination_password),
        problem,
    }
}

/// What becomes of a mailbox, as the owner decided on its row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Copied to the new server.
    Move,
    /// Copied to the new server, and kept as files on this computer first
    /// (a safety copy).
    MoveAndKeep,
    /// Kept as files on this computer only.
    Keep,
    /// Left where it is: not copied, not kept.
    Leave,
}

impl Decision {
    /// The decision in the report's words.
    pub fn words(self) -> &'static str {
        match self {
            Decision::Move => "moved to the new server",
            Decision::MoveAndKeep => "moved to the new server and kept as files on this computer",
            Decision::Keep => "kept as files on this computer, not moved",
            Decision::Leave => "left where it is: not moved, not kept",
        }
    }
}

/// Where the organisation's directory is asked: the real services, never
/// an address from the window (the administrator's token and the app's
/// secret go only here). Tests point it at a local server.
#[derive(Clone, Debug)]
pub struct Directory {
    /// Google's Directory API.
    pub google_api: String,
    /// Microsoft Graph.
    pub graph_api: String,
    /// Microsoft's sign-in service; the tenant's token address is under it.
    pub microsoft_login: String,
}

impl Directory {
    /// The token address of a Microsoft tenant (a name checked by
    /// [`list_directory`], never an address from the window).
    fn token_url(&self, tenant: &str) -> String {
        format!(
            "{}/{tenant}/oauth2/v2.0/token",
            self.microsoft_login.trim_end_matches('/')
        )
    }
}

impl Default for Directory {
    fn default() -> Directory {
        Directory {
            google_api: inventory::GOOGLE_API.to_owned(),
            graph_api: inventory::GRAPH_API.to_owned(),
            microsoft_login: "https://login.microsoftonline.com".to_owned(),
        }
    }
}

/// How the window asks for the organisation's list of mailboxes.
#[derive(Clone, Debug, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DirectorySignIn {
    /// Google Workspace: the service account's key file (its text, read
    /// from the file the owner picked, and at once a `Secret` here) and the
    /// administrator it acts as.
    Google {
        /// The key file's text.
        key: String,
        /// An administrator's address.
        admin: String,
    },
    /// Microsoft 365: the organisation (its tenant ID or a domain such as
    /// `contoso.onmicrosoft.com`), signed in as the organisation's app
    /// entered on the sign-in screen.
    Microsoft {
        /// The tenant.
        tenant: String,
    },
}

/// One mailbox of the organisation, as the Mailboxes table shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct DirectoryPerson {
    /// Its address (at the old server).
    pub address: String,
    /// The address suggested at the new server.
    pub destination_user: String,
    /// The person's name, when the directory has one.
    pub name: Option<String>,
    /// Other addresses of the same mailbox.
    pub aliases: Vec<String>,
    /// Why it is worth a second look, each in plain words ("No sign-in for
    /// 14 months"); empty when nothing.
    pub flags: Vec<String>,
    /// The suggested decision: move, or leave for a flagged one.
    pub decision: Decision,
    /// The storage its mail uses, in bytes, when the directory's usage
    /// report says.
    #[ts(type = "number | null")]
    pub storage_bytes: Option<u64>,
    /// The same in words ("2.3 GB").
    pub storage: Option<String>,
}

/// The organisation's mailboxes, as its directory lists them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct DirectoryList {
    /// Whose directory ("Google Workspace", "Microsoft 365").
    pub directory: String,
    /// The mailboxes not in the list yet.
    pub people: Vec<DirectoryPerson>,
    /// How many were in the list already (not repeated).
    pub already_listed: u32,
    /// What the directory could not say, in words.
    pub notes: Vec<String>,
}

/// The address at the new server for `address`: the same mailbox name at
/// the new domain when the first pair moves between two domains
/// (alice@old → alice@new), else the same address.
pub fn suggest_destination(address: &str, first: Option<&PairNames>) -> String {
    let domain = |a: &str| a.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase());
    if let (Some(first), Some((local, dom))) = (first, address.rsplit_once('@')) {
        let (old, new) = (domain(&first.source_user), domain(&first.destination_user));
        if let (Some(old), Some(new)) = (old, new) {
            if old == dom.to_ascii_lowercase() && old != new {
                return format!("{local}@{new}");
            }
        }
    }
    address.to_owned()
}

/// The rows for an inventory: each mailbox not in `existing` (by its old
/// address), flagged in words, with its suggested decision, at `now`.
pub fn directory_rows(found: Inventory, existing: &[PairNames], now: i64) -> DirectoryList {
    let listed = |a: &str| {
        existing
            .iter()
            .any(|p| p.source_user.eq_ignore_ascii_case(a))
    };
    let mut people = Vec::new();
    let mut already = 0;
    for p in &found.people {
        if listed(&p.address) {
            already += 1;
            continue;
        }
        let flags: Vec<String> = p.flags(now).iter().map(|f| capital(f)).collect();
        people.push(DirectoryPerson {
            address: p.address.clone(),
            destination_user: suggest_destination(&p.address, existing.first()),
            name: p.name.clone(),
            aliases: p.aliases.clone(),
            storage_bytes: p.storage_bytes,
            storage: p.storage_bytes.map(mailferry::run::human_bytes),
            decision: if flags.is_empty() {
                Decision::Move
            } else {
                Decision::Leave
            },
            flags,
        });
    }
    DirectoryList {
        directory: found.directory,
        people,
        already_listed: already,
        notes: found.notes,
    }
}

fn capital(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Asks the organisation's directory (blocking); `microsoft` is the app's
/// registration with Microsoft (with its secret) for a Microsoft tenant.
pub fn list_directory(
    directory: &Directory,
    microsoft: Option<Client>,
    sign_in: DirectorySignIn,
) -> IpcResult<Inventory> {
    match sign_in {
        DirectorySignIn::Google { key, admin } => {
            let key = Secret::new(key);
            let admin = admin.trim();
            if user_problem(admin, "administrator's").is_some() || !admin.contains('@') {
                return Err(IpcError::invalid(
                    "Enter the address of an administrator of your Google Workspace (the \
                     service account reads the list as them).",
                ));
            }
            if key.expose().len() > 100_000 || !key.expose().trim_start().starts_with('{') {
                return Err(IpcError::invalid(
                    "That file is not a service account's key. In the Google Cloud console, \
                     open the service account, then Keys, Add key, JSON, and choose the file \
                     it downloads.",
                ));
            }
            inventory::google(&key, admin, &directory.google_api).map_err(IpcError::from)
        }
        DirectorySignIn::Microsoft { tenant } => {
            let tenant = tenant.trim();
            if tenant.is_empty()
                || tenant.len() > 200
                || !tenant
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            {
                return Err(IpcError::invalid(
                    "Enter your organisation's Microsoft 365 domain (such as \
                     yourcompany.onmicrosoft.com) or its tenant ID.",
                ));
            }
            let Some(Client {
                id,
                secret: Some(secret),
            }) = microsoft
            else {
                return Err(IpcError::new(
                    ErrorCode::OAuthUnavailable,
                    "Listing your organisation's mailboxes needs your organisation's own app \
                     registration with Microsoft, with its client secret. Enter both under \"Sign \
                     in through the browser with your own app registration\" on the sign-in \
                     screen, then try again.",
                ));
            };
            inventory::microsoft(
                &directory.token_url(tenant),
                &id,
                Secret::new(secret),
                &directory.graph_api,
            )
            .map_err(IpcError::from)
        }
    }
}

/// The window's "List every mailbox": the organisation's directory read
/// with the administrator's sign-in, the mailboxes not in the list yet
/// with their flags and suggested decisions.
pub async fn read_directory(
    directory: State<'_, Directory>,
    config: State<'_, OAuthConfig>,
    chosen: State<'_, ClientOverride>,
    admin: State<'_, AdminSignIn>,
    sign_in: DirectorySignIn,
    existing: Vec<PairNames>,
) -> IpcResult<DirectoryList> {
    let microsoft = chosen
        .apply(&config)
        .registrations
        .get(Provider::Microsoft)
        .cloned();
    let directory = directory.inner().clone();
    let (found, grant) = tauri::async_runtime::spawn_blocking(move || {
        let grant = AdminGrant::of(&directory, microsoft.clone(), &sign_in);
        list_directory(&directory, microsoft, sign_in).map(|found| (found, grant))
    })
    .await
    .map_err(IpcError::internal)??;
    // The sign-in that read the list signs in each listed mailbox too.
    *admin.0.lock().unwrap_or_else(|e| e.into_inner()) = grant;
    Ok(directory_rows(
        found,
        &existing,
        mailferry::run::system_clock(),
    ))
}

/// The administrator sign-in the organisation's list was read with, kept
/// for this session only (in memory, never in a file or the keychain), so
/// each listed mailbox signs in to the old server with it rather than with
/// its own password ([`sign_in_listed`]), as `mailferry sync --mailboxes`
/// does with `--serviceaccount1` or `--clientcredentials1`.
#[derive(Default)]
pub struct AdminSignIn(pub Mutex<Option<AdminGrant>>);

/// An administrator sign-in that opens any mailbox of the organisation.
#[derive(Clone)]
pub enum AdminGrant {
    /// A Google service account with domain-wide delegation acting as each
    /// user (scope `https://mail.google.com/`): its key file's text.
    Google {
        /// The key file's text.
        key: Secret<String>,
    },
    /// Microsoft 365 app-only access (client credentials, scope
    /// `https://outlook.office365.com/.default`): one token for every
    /// mailbox of the tenant.
    Microsoft {
        /// The app's tokens, renewed before they expire.
        tokens: TokenSource,
        /// The app's tokens for Microsoft Graph (the contacts and
        /// calendars step tries them before a browser sign-in).
        graph: TokenSource,
    },
}

impl AdminGrant {
    /// The organisation's app-only tokens for Microsoft Graph, when this
    /// is Microsoft 365's administrator sign-in.
    pub fn graph(&self) -> Option<TokenSource> {
        match self {
            AdminGrant::Microsoft { graph, .. } => Some(graph.clone()),
            AdminGrant::Google { .. } => None,
        }
    }

    /// The grant for the mailboxes of the organisation `sign_in` lists;
    /// `None` when it cannot be one (no app registration with its secret).
    pub fn of(
        directory: &Directory,
        microsoft: Option<Client>,
        sign_in: &DirectorySignIn,
    ) -> Option<AdminGrant> {
        match sign_in {
            DirectorySignIn::Google { key, .. } => Some(AdminGrant::Google {
                key: Secret::new(key.clone()),
            }),
            DirectorySignIn::Microsoft { tenant } => {
                let Client {
                    id,
                    secret: Some(secret),
                } = microsoft?
                else {
                    return None;
                };
                let token_url = directory.token_url(tenant.trim());
                let app = ClientCredentials::new(&token_url, &id, Secret::new(secret.clone()));
                let graph = ClientCredentials::new(&token_url, &id, Secret::new(secret))
                    .with_scope(mailferry::inventory::GRAPH_SCOPE);
                Some(AdminGrant::Microsoft {
                    tokens: TokenSource::new(app),
                    graph: TokenSource::new(graph),
                })
            }
        }
    }

    /// The provider's own mail server this grant signs in to (its tokens
    /// open every mailbox of the organisation: they go nowhere else).
    fn mail_server(&self) -> &'static str {
        match self {
            AdminGrant::Google { .. } => "imap.gmail.com",
            AdminGrant::Microsoft { .. } => "outlook.office365.com",
        }
    }

    /// Whether its tokens may go to `host`: the provider's mail server, or
    /// this computer's loopback address (the tests' servers).
    fn admits(&self, host: &str) -> bool {
        let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
        let loopback = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
        loopback || host == self.mail_server()
    }

    /// How `user` signs in to IMAP with this grant (XOAUTH2 with the
    /// user's address and a token for their mailbox).
    fn credentials(&self, user: &str) -> Result<Credentials, mailferry::error::Error> {
        let tokens = match self {
            AdminGrant::Google { key } => {
                TokenSource::new(ServiceAccount::from_key_json(key, user)?)
            }
            AdminGrant::Microsoft { tokens, .. } => tokens.clone(),
        };
        Ok(Credentials::renewable(user, tokens))
    }
}

/// One listed mailbox, signed in to the old server with the administrator
/// sign-in (or why not).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct AdminSignedIn {
    /// The address at the old server.
    pub source_user: String,
    /// The old mailbox, signed in.
    pub source: Option<AccountHandle>,
    /// Why signing in to it didn't work, in plain words.
    pub source_error: Option<IpcError>,
}

/// Signs in each of `users` at the old server `source` with `grant`, one
/// after the other; a mailbox that does not sign in is said on its own row
/// and the others go on.
pub async fn sign_in_listed_with(
    accounts: &Accounts,
    grant: &AdminGrant,
    source: &Server,
    users: Vec<String>,
) -> IpcResult<Vec<AdminSignedIn>> {
    let endpoint = source.endpoint()?;
    if !grant.admits(&endpoint.host) {
        return Err(IpcError::invalid(format!(
            "Your administrator sign-in opens the mailboxes at {} only, and the old server here \
             is {}. Type each mailbox's password on its row instead.",
            grant.mail_server(),
            endpoint.host
        )));
    }
    let mut out = Vec::with_capacity(users.len());
    for user in users {
        let user = user.trim().to_owned();
        let (account, error) = match grant.credentials(&user) {
            Err(e) => (None, Some(IpcError::from(e))),
            Ok(credentials) => {
                let report = check(&endpoint, &credentials).await;
                if report.passed.contains(&Step::CanReadFolders) {
                    let handle = accounts.add(Account {
                        endpoint: endpoint.clone(),
                        credentials,
                    });
                    (Some(handle), None)
                } else {
                    let failure = checklist_of(&report).failure.map(|f| f.error);
                    (
                        None,
                        Some(failure.unwrap_or_else(|| {
                            IpcError::internal("the sign-in stopped without a reason")
                        })),
                    )
                }
            }
        };
        out.push(AdminSignedIn {
            source_user: user,
            source: account,
            source_error: error,
        });
    }
    Ok(out)
}

/// The window's listed mailboxes, signed in to the old server with the
/// administrator sign-in that read the list: no password per mailbox.
pub async fn sign_in_listed(
    accounts: State<'_, Accounts>,
    admin: State<'_, AdminSignIn>,
    source: Server,
    users: Vec<String>,
) -> IpcResult<Vec<AdminSignedIn>> {
    let grant = admin.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let Some(grant) = grant else {
        return Err(IpcError::invalid(
            "MailFerry no longer has your administrator sign-in (the app was restarted). List \
             every mailbox again, or type each mailbox's password on its row.",
        ));
    };
    if users.len() > 10_000 {
        return Err(IpcError::invalid(
            "That is too many mailboxes for one sign-in.",
        ));
    }
    sign_in_listed_with(&accounts, &grant, &source, users).await
}

/// One mailbox's size, as the directory's usage report gave it.
#[derive(Clone, Debug, Deserialize, TS)]
pub struct MailboxSize {
    /// The address at the old server.
    pub address: String,
    /// The storage its mail uses, in bytes.
    #[ts(type = "number")]
    pub bytes: u64,
}

/// How long moving the mailboxes is likely to take, by their sizes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct SizeEstimate {
    /// The storage they use in all, in words ("12.4 GB").
    pub total: String,
    /// The estimate in a sentence.
    pub words: String,
}

/// The estimate for moving mailboxes of these `sizes` from a server like
/// `source` to one like `destination` (the tiles picked, else the server
/// names): mailboxes are copied several at once and each provider limits
/// each account, so the biggest one decides, unless the connection is
/// slower for all of them together. `None` without any size.
pub fn size_estimate(
    source_preset: Option<String>,
    destination_preset: Option<String>,
    source: Server,
    destination: Server,
    sizes: Vec<MailboxSize>,
) -> Option<SizeEstimate> {
    use mailferry::preset::{chosen, estimate, OPEN_ROAD_BYTES_PER_SECOND};
    let biggest = sizes.iter().max_by_key(|s| s.bytes)?;
    let total: u64 = sizes.iter().map(|s| s.bytes).sum();
    let src = chosen(source_preset.as_deref(), &source.host);
    let dst = chosen(destination_preset.as_deref(), &destination.host);
    // Messages are not counted by the report: the limits on bytes decide.
    let one = estimate(0, biggest.bytes, &src, &dst);
    let together = total.div_ceil(OPEN_ROAD_BYTES_PER_SECOND);
    let words = if one.seconds >= together && sizes.len() > 1 {
        format!(
            "The biggest, {} ({}), decides how long: {}",
            biggest.address,
            mailferry::run::human_bytes(biggest.bytes),
            one.words
        )
    } else if one.seconds >= together {
        one.words
    } else {
        format!(
            "About {} at the speed of the connection.",
            mailferry::error::human_duration(together)
        )
    };
    Some(SizeEstimate {
        total: mailferry::run::human_bytes(total),
        words,
    })
}

/// One mailbox and what the owner decided for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct MailboxChoice {
    /// The address at the old server.
    pub source_user: String,
    /// The decision.
    pub decision: Decision,
    /// Its flags in words, as the table showed them.
    pub flags: Vec<String>,
}

/// The owner's decisions for every mailbox of the list, for the report.
#[derive(Default)]
pub struct Choices(pub Mutex<Vec<MailboxChoice>>);

impl Choices {
    /// The report's lines for the mailboxes not moved (kept, or left),
    /// with `kept`: what each export said, by mailbox.
    pub fn report_lines(&self, kept: &[(String, String)]) -> Vec<String> {
        let choices = self.0.lock().unwrap_or_else(|e| e.into_inner());
        choices
            .iter()
            .filter(|c| c.decision != Decision::Move)
            .map(|c| {
                let mut line = format!("{}: {}", c.source_user, c.decision.words());
                if !c.flags.is_empty() {
                    line.push_str(&format!(" ({})", c.flags.join("; ")));
                }
                if matches!(c.decision, Decision::Keep | Decision::MoveAndKeep) {
                    match kept
                        .iter()
                        .rev()
                        .find(|(m, _)| m.eq_ignore_ascii_case(&c.source_user))
                    {
                        Some((_, said)) => line.push_str(&format!(". {said}")),
                        None => line.push_str(". Not written yet."),
                    }
                }
                line
            })
            .collect()
    }
}

/// The window tells the shell each mailbox's decision (kept for the report).
pub fn set_decisions(choices: State<'_, Choices>, decisions: Vec<MailboxChoice>) {
    *choices.0.lock().unwrap_or_else(|e| e.into_inner()) = decisions;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(s: &str, d: &str) -> PairNames {
        PairNames {
            source_user: s.into(),
            destination_user: d.into(),
        }
    }

    #[test]
    fn a_spreadsheet_paste_with_a_header_and_passwords_is_read() {
        let text = "Old mailbox\tNew mailbox\tPassword\n\
                    bob@example.com\tbob@example.org\tpw-bob\n\
                    \n\
                    # the office\n\
                    carol@example.com\tcarol@example.org\t\n";
        let rows = parse_mailboxes(text, &[]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[0].source_user, "bob@example.com");
        assert_eq!(rows[0].destination_user, "bob@example.org");
        assert_eq!(rows[0].source_password.as_ref().unwrap().expose(), "pw-bob");
        assert_eq!(
            rows[0].destination_password.as_ref().unwrap().expose(),
            "pw-bob",
            "one password column is for both sides"
        );
        assert!(rows[0].problem.is_none());
        assert_eq!(rows[1].line, 5);
        assert!(
            rows[1].source_password.is_none(),
            "an empty cell is no password"
        );
        assert!(rows[1].problem.is_none());
    }

    #[test]
    fn csv_quotes_semicolons_and_four_columns() {
        let rows = parse_mailboxes(
            "\"dave@example.com\";dave@example.org;\"p;w\"\"1\";pw2\n",
            &[],
        );
        assert_eq!(rows[0].source_user, "dave@example.com");
        assert_eq!(rows[0].source_password.as_ref().unwrap().expose(), "p;w\"1");
        assert_eq!(
            rows[0].destination_password.as_ref().unwrap().expose(),
            "pw2"
        );
        let rows = parse_mailboxes("a@x.com,b@y.com,\"p,1\",p2", &[]);
        assert_eq!(rows[0].source_password.as_ref().unwrap().expose(), "p,1");
    }

    #[test]
    fn every_bad_row_says_what_is_wrong_in_plain_words() {
        let text = "alice@example.com,alice@example.org\n\
                    bob@example.com\n\
                    ,carol@example.org\n\
                    dan smith@example.com,dan@example.org\n\
                    alice@example.com,alice2@example.org\n\
                    erin@example.com,alice@example.org\n\
                    a,b,c,d,e\n\
                    frank@,frank@example.org\n\
                    owner@example.com,someone@example.org\n";
        let rows = parse_mailboxes(text, &[pair("OWNER@example.com", "owner@example.org")]);
        let problems: Vec<Option<&str>> = rows.iter().map(|r| r.problem.as_deref()).collect();
        assert_eq!(
            problems,
            [
                None,
                Some("Row 2: it needs two columns: the old mailbox, then the new one (separated by a comma)."),
                Some("Row 3: the old mailbox is empty."),
                Some("Row 4: \"dan smith@example.com\" has a space in it; a user name or email address has none."),
                Some("Row 5: alice@example.com is already in the list (row 1)."),
                Some("Row 6: alice@example.org already receives another mailbox (row 1); two mailboxes would be mixed into one."),
                Some("Row 7: it has 5 columns; MailFerry reads 2 (old mailbox, new mailbox), 3 (and one password for both) or 4 (and a password for each)."),
                Some("Row 8: \"frank@\" is not a complete email address."),
                Some("Row 9: owner@example.com is already in the list."),
            ]
        );
        assert!(
            rows[6].source_password.is_none(),
            "a malformed row's cells are not passwords"
        );
    }

    #[test]
    fn a_hand_typed_pair_is_checked_like_a_row() {
        let row = add_row(
            " bob@example.com ".into(),
            "bob@example.org".into(),
            Secret::new(String::new()),
            Secret::new("pw".into()),
            &[],
        );
        assert_eq!(row.source_user, "bob@example.com");
        assert!(row.problem.is_none());
        assert!(row.source_password.is_none());
        assert!(row.destination_password.is_some());
        let row = add_row(
            "bob@example.com".into(),
            "".into(),
            Secret::new(String::new()),
            Secret::new(String::new()),
            &[],
        );
        assert_eq!(row.problem.as_deref(), Some("The new mailbox is empty."));
        let row = add_row(
            "Bob@Example.com".into(),
            "x@example.org".into(),
            Secret::new(String::new()),
            Secret::new(String::new()),
            &[pair("bob@example.com", "bob@example.org")],
        );
        assert_eq!(
            row.problem.as_deref(),
            Some("Bob@Example.com is already in the list.")
        );
    }

    const NOW: i64 = 1_796_000_000;

    fn person(address: &str, blocked: bool, last: Option<i64>) -> mailferry::inventory::Person {
        mailferry::inventory::Person {
            address: address.into(),
            name: None,
            aliases: Vec::new(),
            blocked,
            last_sign_in: last,
            sign_in_known: true,
            storage_bytes: None,
        }
    }

    #[test]
    fn the_directory_rows_are_new_flagged_in_words_and_suggested_a_decision() {
        let found = Inventory {
            directory: "Google Workspace".into(),
            people: vec![
                person("owner@old.example", false, Some(NOW)),
                mailferry::inventory::Person {
                    storage_bytes: Some(2_300_000_000),
                    ..person("anna@old.example", false, Some(NOW - 86_400))
                },
                person("ben@old.example", true, Some(NOW - 425 * 86_400)),
                person("printer@old.example", false, None),
                person("guest@elsewhere.example", false, Some(NOW)),
            ],
            notes: vec![],
        };
        let list = directory_rows(
            found,
            &[pair("Owner@old.example", "owner@new.example")],
            NOW,
        );
        assert_eq!(list.already_listed, 1, "the first pair is not repeated");
        assert_eq!(list.people[0].storage.as_deref(), Some("2.3 GB"));
        assert_eq!(list.people[0].storage_bytes, Some(2_300_000_000));
        assert_eq!(list.people[1].storage, None, "no figure: nothing made up");
        let rows: Vec<(&str, &str, Vec<&str>, Decision)> = list
            .people
            .iter()
            .map(|p| {
                (
                    p.address.as_str(),
                    p.destination_user.as_str(),
                    p.flags.iter().map(String::as_str).collect(),
                    p.decision,
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                (
                    "anna@old.example",
                    "anna@new.example",
                    vec![],
                    Decision::Move
                ),
                (
                    "ben@old.example",
                    "ben@new.example",
                    vec!["Sign-in blocked or suspended", "No sign-in for 14 months"],
                    Decision::Leave
                ),
                (
                    "printer@old.example",
                    "printer@new.example",
                    vec!["Never signed in"],
                    Decision::Leave
                ),
                // Another domain keeps its address.
                (
                    "guest@elsewhere.example",
                    "guest@elsewhere.example",
                    vec![],
                    Decision::Move
                ),
            ]
        );
    }

    #[test]
    fn the_biggest_mailbox_decides_how_long_at_the_providers_limits() {
        let server = |host: &str| Server {
            host: host.into(),
            port: 993,
            security: mailferry::endpoint::Security::Tls,
            trusted_fingerprint: None,
        };
        let size = |address: &str, bytes| MailboxSize {
            address: address.into(),
            bytes,
        };
        let gmail = || {
            size_estimate(
                Some("gmail".into()),
                Some("microsoft".into()),
                server("imap.gmail.com"),
                server("outlook.office365.com"),
                vec![
                    size("anna@x.example", 9_100_000_000),
                    size("ben@x.example", 3_300_000_000),
                ],
            )
            .unwrap()
        };
        let said = gmail();
        assert_eq!(said.total, "12.4 GB");
        assert!(
            said.words.starts_with(
                "The biggest, anna@x.example (9.1 GB), decides how long: About 4 days"
            ),
            "{}",
            said.words
        );
        assert!(said.words.contains("2.5 GB"), "{}", said.words);
        // Without limits per account, the connection carries them all.
        let open = size_estimate(
            None,
            None,
            server("mail.old.example"),
            server("mail.new.example"),
            vec![
                size("a@x.example", 9_000_000_000),
                size("b@x.example", 9_000_000_000),
            ],
        )
        .unwrap();
        assert_eq!(
            open.words,
            "About 60 minutes at the speed of the connection."
        );
        assert_eq!(
            size_estimate(None, None, server("a"), server("b"), vec![]),
            None
        );
    }

    #[tokio::test]
    async fn the_administrator_sign_in_goes_to_the_providers_mail_server_only() {
        let grant = AdminGrant::of(
            &Directory::default(),
            None,
            &DirectorySignIn::Google {
                key: "{}".into(),
                admin: "boss@x.example".into(),
            },
        )
        .unwrap();
        let elsewhere = crate::testing::Recorder::silent();
        let server = |host: &str, port| Server {
            host: host.into(),
            port,
            security: mailferry::endpoint::Security::Tls,
            trusted_fingerprint: None,
        };
        let accounts = Accounts::with_keychain(None);
        let err = sign_in_listed_with(
            &accounts,
            &grant,
            &server("mail.elsewhere.example", 993),
            vec!["anna@x.example".into()],
        )
        .await
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidInput);
        assert!(
            err.message.contains("imap.gmail.com only"),
            "{}",
            err.message
        );
        assert!(grant.admits("IMAP.gmail.com."));
        assert!(!grant.admits("imap.gmail.com.evil.example"));
        // Loopback (the tests' servers) is this computer: it passes; this
        // key file is not one, which its row says, and nothing is sent.
        let rows = sign_in_listed_with(
            &accounts,
            &grant,
            &server("127.0.0.1", elsewhere.port),
            vec!["anna@x.example".into()],
        )
        .await
        .unwrap();
        assert!(rows[0].source.is_none() && rows[0].source_error.is_some());
        assert!(elsewhere.received().is_empty());
    }

    #[test]
    fn a_domain_that_keeps_its_name_keeps_its_addresses() {
        let first = pair("owner@bakery.example", "owner@bakery.example");
        assert_eq!(
            suggest_destination("anna@bakery.example", Some(&first)),
            "anna@bakery.example"
        );
        assert_eq!(suggest_destination("anna", Some(&first)), "anna");
        assert_eq!(
            suggest_destination("anna@x.example", None),
            "anna@x.example"
        );
    }

    #[test]
    fn the_report_lists_the_mailboxes_kept_and_left_with_their_flags() {
        let choices = Choices::default();
        *choices.0.lock().unwrap() = vec![
            MailboxChoice {
                source_user: "anna@x.example".into(),
                decision: Decision::Move,
                flags: vec![],
            },
            MailboxChoice {
                source_user: "ben@x.example".into(),
                decision: Decision::Leave,
                flags: vec!["Sign-in blocked or suspended".into()],
            },
            MailboxChoice {
                source_user: "carl@x.example".into(),
                decision: Decision::Keep,
                flags: vec![],
            },
            MailboxChoice {
                source_user: "dora@x.example".into(),
                decision: Decision::MoveAndKeep,
                flags: vec![],
            },
        ];
        let kept = [(
            "carl@x.example".to_owned(),
            "12 messages in 3 folders kept in /k/carl@x.example.".to_owned(),
        )];
        assert_eq!(
            choices.report_lines(&kept),
            [
                "ben@x.example: left where it is: not moved, not kept (Sign-in blocked or suspended)",
                "carl@x.example: kept as files on this computer, not moved. 12 messages in 3 folders kept in /k/carl@x.example.",
                "dora@x.example: moved to the new server and kept as files on this computer. Not written yet.",
            ]
        );
    }

    fn graph_user(name: &str, mail: &str, enabled: bool, last: &str) -> serde_json::Value {
        serde_json::json!({
            "id": format!("87d349ed-44d7-43e1-9a83-{:012}", name.len()),
            "displayName": name,
            "userPrincipalName": mail,
            "mail": mail,
            "accountEnabled": enabled,
            "proxyAddresses": [format!("SMTP:{mail}")],
            "signInActivity": {
                "lastSignInDateTime": last,
                "lastSignInRequestId": "c7df2760-2c81-4ef7-b578-5b5392b571df",
            },
        })
    }

    #[test]
    fn a_microsoft_tenant_is_listed_with_the_apps_registration_and_nothing_goes_elsewhere() {
        let web = mailferry_harness::HttpServer::start();
        let base = format!("http://127.0.0.1:{}", web.port());
        web.serve(
            "/bakery.onmicrosoft.com/oauth2/v2.0/token",
            r#"{"access_token":"graph-token-1","token_type":"Bearer","expires_in":3600}"#,
        );
        let select = "displayName,userPrincipalName,mail,accountEnabled,proxyAddresses";
        web.answer(
            &format!("/v1.0/users?$select={select},signInActivity&$top=999"),
            200,
            &[],
            &serde_json::json!({
                "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users",
                "value": [
                    graph_user("Anna Baker", "anna@bakery.example", true, "2026-12-01T09:00:00Z"),
                    graph_user("Ben Old", "ben@bakery.example", false, "2025-06-01T08:00:00Z"),
                ],
            })
            .to_string(),
        );
        let directory = Directory {
            google_api: base.clone(),
            graph_api: base.clone(),
            microsoft_login: base.clone(),
        };
        let app = Client {
            id: "app-id".into(),
            secret: Some("app-secret-xyz".into()),
        };
        let found = list_directory(
            &directory,
            Some(app.clone()),
            DirectorySignIn::Microsoft {
                tenant: "bakery.onmicrosoft.com".into(),
            },
        )
        .unwrap();
        let list = directory_rows(found, &[], 1_796_100_000);
        assert_eq!(list.directory, "Microsoft 365");
        let ben = &list.people[1];
        assert_eq!(ben.address, "ben@bakery.example");
        assert_eq!(ben.decision, Decision::Leave);
        assert_eq!(ben.flags[0], "Sign-in blocked or suspended");
        assert!(ben.flags[1].starts_with("No sign-in for 1"), "{ben:?}");
        assert!(list.people[0].flags.is_empty());
        let token = web
            .requests()
            .into_iter()
            .find(|r| r.target == "/bakery.onmicrosoft.com/oauth2/v2.0/token")
            .expect("the app signed in at its tenant's token address");
        assert!(
            token.body.contains("grant_type=client_credentials"),
            "{}",
            token.body
        );

        // A tenant from the window is a name, never an address the
        // secret could be sent to.
        let before = web.requests().len();
        let err = list_directory(
            &directory,
            Some(app),
            DirectorySignIn::Microsoft {
                tenant: format!("{base}/steal"),
            },
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidInput);
        assert_eq!(web.requests().len(), before, "nothing was sent");
        // Without the organisation's own registration (and its secret): words.
        let err = list_directory(
            &directory,
            Some(Client {
                id: "app-id".into(),
                secret: None,
            }),
            DirectorySignIn::Microsoft {
                tenant: "bakery.onmicrosoft.com".into(),
            },
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::OAuthUnavailable);
        assert!(err.message.contains("sign-in screen"), "{}", err.message);
    }
}
