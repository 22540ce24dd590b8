//! Step 9, "Contacts & calendars" (optional): the owner's address books and
//! calendars from the old provider's contacts and calendar server to the
//! new one's, with the same preview → copy → check as the mail, through
//! the engine's `mailferry::dav`. Each side signs in with the mail
//! account's user name and password (most providers use the same; an app
//! password works for both); a side at Microsoft 365 goes through
//! Microsoft Graph instead, signed in with [`super::graph`]; a side at
//! Google signs in with its own Google sign-in ([`super::google_dav`]).

use super::google_dav::GoogleDavSignIns;
use super::graph::GraphMailboxes;
use crate::accounts::{AccountHandle, Accounts};
use crate::error::{ErrorCode, IpcError, IpcResult};
use mailferry::auth::credentials::Proof;
use mailferry::dav::locate::{locate, locate_for_mail};
use mailferry::dav::{self, DavError, ObjectKind, Server, Source};
use mailferry::discover::DiscoverSettings;
use serde::{Deserialize, Serialize};
use tauri::State;
use ts_rs::TS;

/// One side: its contacts and calendar server's address, and the mail
/// account whose sign-in it uses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DavSide {
    /// The server's https:// address (or an account's or a collection's);
    /// or an email address or a domain, whose servers are found
    /// (`dav::locate`); empty: found from the mail account's user name.
    pub url: String,
    /// The signed-in mail account whose user name and password it uses.
    pub account: AccountHandle,
    /// The account's Microsoft 365 mailbox through Microsoft Graph instead
    /// of `url` (signed in with `sign_in_graph`).
    #[serde(default)]
    #[ts(optional)]
    pub graph: Option<bool>,
    /// Google's contacts and calendars, signed in with `sign_in_google_dav`
    /// instead of the mail's sign-in; `url` empty: Google's addresses for
    /// the account's email.
    #[serde(default)]
    #[ts(optional)]
    pub google: Option<bool>,
    /// At a Microsoft 365 destination, events with attendees are created
    /// as they are (Microsoft 365 sends each attendee an invitation); with
    /// `false`, without their attendees (no invitation).
    #[serde(default)]
    #[ts(optional)]
    pub attendees: Option<bool>,
}

/// One side, opened: a contacts and calendar server, or a Microsoft 365
/// mailbox.
enum Side {
    Dav(Server),
    Graph(mailferry::dav::graph::Graph),
}

impl Side {
    fn into_source(self) -> Source {
        match self {
            Side::Dav(s) => Source::Server(s),
            Side::Graph(g) => Source::Graph(g),
        }
    }
}

/// Where one address book or calendar will go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct CollectionPlanView {
    /// Its name at the old server.
    pub name: String,
    /// A calendar (else an address book).
    pub calendar: bool,
    /// Contacts or entries in it.
    pub objects: u32,
    /// Its name at the new server (None: it cannot go, see `note`).
    pub destination: Option<String>,
    /// MailFerry will create it at the new server.
    pub create: bool,
    /// What won't carry over, or why it can't, in plain words.
    pub note: Option<String>,
}

/// An entry that did not carry over, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct EntryProblem {
    /// The entry (its UID, else its address).
    pub what: String,
    /// Why, in plain words.
    pub reason: String,
}

/// What the copy did with one address book or calendar.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct CollectionCopyView {
    /// Where it went, as planned.
    pub plan: CollectionPlanView,
    /// Copied now.
    pub copied: u32,
    /// Changed at the old server since the last copy, updated now.
    pub updated: u32,
    /// Already at the new server.
    pub already: u32,
    /// Deleted at the old server after they were copied (kept at the new one).
    pub deleted_at_source: u32,
    /// Entries not copied, with the reason.
    pub problems: Vec<EntryProblem>,
    /// Why it could not be copied at all.
    pub error: Option<String>,
}

/// The result of a copy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct ContactsCopy {
    /// Each address book and calendar.
    pub collections: Vec<CollectionCopyView>,
    /// Everything carried over.
    pub complete: bool,
}

/// One address book or calendar, compared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct CollectionCheckView {
    /// Its name at the old server.
    pub name: String,
    /// A calendar (else an address book).
    pub calendar: bool,
    /// Entries at the old server.
    pub objects: u32,
    /// Of those, at the new server unchanged.
    pub arrived: u32,
    /// Missing or different, with the reason.
    pub problems: Vec<EntryProblem>,
    /// Why it could not be compared.
    pub error: Option<String>,
}

/// The result of the check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct ContactsCheck {
    /// Every entry is at the new server.
    pub safe_to_switch: bool,
    /// Each address book and calendar.
    pub collections: Vec<CollectionCheckView>,
}

pub(crate) fn ipc(e: DavError) -> IpcError {
    let code = match &e {
        DavError::SignInRefused { .. } => ErrorCode::AuthFailed,
        DavError::Unreachable { .. } => ErrorCode::NetworkUnreachable,
        DavError::Certificate { .. } => ErrorCode::TlsFailed,
        DavError::BadAddress { .. }
        | DavError::PlainHttp { .. }
        | DavError::NotDav { .. }
        | DavError::Elsewhere { .. } => ErrorCode::InvalidInput,
        DavError::Refused { .. } => ErrorCode::ServerRefused,
        DavError::State(_) => ErrorCode::StateFailed,
        DavError::File { .. } | DavError::Archive(_) => ErrorCode::Internal,
    };
    IpcError::new(code, e.to_string())
}

/// One side, signed in (its mail account's sign-in, or its Graph
/// sign-in); and its name in the progress file (`user@origin`).
async fn open(
    accounts: &Accounts,
    graphs: &GraphMailboxes,
    googles: &GoogleDavSignIns,
    side: &DavSide,
) -> IpcResult<(Side, String)> {
    if side.graph == Some(true) {
        let (graph, name) = graphs.open(side.account)?;
        let graph = match side.attendees {
            Some(false) => graph.without_attendees(),
            _ => graph,
        };
        return Ok((Side::Graph(graph), name));
    }
    if side.google == Some(true) {
        let (server, name) = google_server(accounts, googles, side).await?;
        return Ok((Side::Dav(server), name));
    }
    let (server, name) = server(accounts, side).await?;
    Ok((Side::Dav(server), name))
}

/// The server of one side, signed in as its mail account; and its name
/// in the progress file (`user@origin`). An address that is not a web
/// address is an email address or a domain: its servers are found first
/// (for the account's own address, from its mail server's provider when
/// MailFerry knows it).
async fn server(accounts: &Accounts, side: &DavSide) -> IpcResult<(Server, String)> {
    let settings =
        DiscoverSettings::from_env().map_err(|e| IpcError::new(ErrorCode::InvalidInput, e))?;
    server_with(accounts, side, &settings).await
}

/// The Google contacts and calendar server of one side, signed in with
/// its Google sign-in; and its name in the progress file. The token goes
/// only to Google's servers: the account's own addresses there when the
/// side names none.
async fn google_server(
    accounts: &Accounts,
    googles: &GoogleDavSignIns,
    side: &DavSide,
) -> IpcResult<(Server, String)> {
    let user = accounts
        .get(side.account)?
        .credentials
        .user
        .trim()
        .to_owned();
    let given = match side.url.trim() {
        "" => user.as_str(),
        url => url,
    };
    let invalid = |e: String| IpcError::new(ErrorCode::InvalidInput, e);
    if given.contains("://") && !mailferry::dav::locate::google_may_receive(given) {
        return Err(invalid(format!(
            "The Google sign-in only goes to Google's contacts and calendars, and {given} is \
             not at Google. Leave the address empty to use Google's."
        )));
    }
    let auth = googles.auth(side.account).await?;
    let server = if given.contains("://") {
        Server::connect(given, auth).map_err(ipc)?
    } else {
        let found = mailferry::dav::locate::google(given).ok_or_else(|| {
            invalid(format!(
                "“{given}” is not an email address: MailFerry cannot find its Google contacts \
                 and calendars."
            ))
        })?;
        tracing::info!(found = %found.words(), "Google's contacts and calendar servers");
        found.connect(auth, &[]).map_err(invalid)?
    };
    let name = format!("{user}@{}", server.origin());
    Ok((server, name))
}

/// [`server`], finding servers with these settings.
async fn server_with(
    accounts: &Accounts,
    side: &DavSide,
    settings: &DiscoverSettings,
) -> IpcResult<(Server, String)> {
    let account = accounts.get(side.account)?;
    let user = account.credentials.user.clone();
    let given = match side.url.trim() {
        "" => user.trim(),
        url => url,
    };
    let google_mail = mailferry::dav::locate::preset_for_mail_host(&account.endpoint.host)
        .is_some_and(|p| p.id == "gmail");
    let password = matches!(account.credentials.proof, Proof::Password(_));
    if google_mail && (!password || given.eq_ignore_ascii_case(user.trim())) {
        // The mail's Google sign-in opens only the mail, and Google's
        // contacts and calendars take no password: they would turn either
        // down, so neither is sent there. (A password still goes to an
        // address the owner names.)
        return Err(IpcError::new(
            ErrorCode::AuthFailed,
            "Google's contacts and calendars need their own sign-in: the mail's sign-in or \
             password only opens the mail. Choose “Sign in to Google in your browser” for contacts and \
             calendars.",
        ));
    }
    let auth = match &account.credentials.proof {
        Proof::Password(p) => dav::Auth::Basic {
            user: user.clone(),
            password: p.expose().clone(),
        },
        Proof::AccessToken(t) => dav::Auth::Bearer(t.expose().clone()),
        Proof::Renewable(source) => dav::Auth::Renewable(source.clone()),
    };
    let server = if given.contains("://") {
        Server::connect(given, auth).map_err(ipc)?
    } else {
        let invalid = |e: String| IpcError::new(ErrorCode::InvalidInput, e);
        // The account's own address: its mail server's provider says first.
        let found = if given.eq_ignore_ascii_case(user.trim()) {
            locate_for_mail(given, &account.endpoint.host, settings).await
        } else {
            locate(given, settings).await
        }
        .map_err(invalid)?;
        tracing::info!(found = %found.words(), "contacts and calendar servers found");
        found.connect(auth, &[]).map_err(invalid)?
    };
    let name = format!("{user}@{}", server.origin());
    Ok((server, name))
}

fn plan_view(p: &dav::CollectionPlan) -> CollectionPlanView {
    CollectionPlanView {
        name: p.source.name.clone(),
        calendar: p.source.kind == ObjectKind::Calendar,
        objects: count(p.objects),
        destination: p.dest.as_ref().map(|_| p.dest_name.clone()),
        create: p.create,
        note: p.note.clone(),
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn problems(p: &[dav::ObjectProblem]) -> Vec<EntryProblem> {
    p.iter()
        .map(|p| EntryProblem {
            what: p.what.clone(),
            reason: p.reason.clone(),
        })
        .collect()
}

/// Runs blocking DAV work off the window's thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> IpcResult<T> + Send + 'static,
) -> IpcResult<T> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(IpcError::internal)?
}

/// The progress file of this pair of accounts.
fn progress_path(source: &str, dest: &str) -> IpcResult<std::path::PathBuf> {
    let dir = mailferry::paths::jobs_dir().ok_or_else(|| {
        IpcError::new(
            ErrorCode::StateFailed,
            "MailFerry cannot find this computer's data folder to keep its progress.",
        )
    })?;
    std::fs::create_dir_all(&dir).map_err(IpcError::internal)?;
    Ok(mailferry::paths::job_file(
        &dir,
        &dav::job_name(source, dest),
    ))
}

/// A side through its Google sign-in: whose, and its server's origin.
type GoogleSide = Option<(String, String)>;

/// `side` opened as `opened`, when it goes through its Google sign-in.
fn google_side(accounts: &Accounts, side: &DavSide, opened: &Side) -> GoogleSide {
    match opened {
        Side::Dav(server) if side.google == Some(true) => {
            let user = accounts.get(side.account).ok()?.credentials.user.clone();
            Some((user.trim().to_owned(), server.origin().to_owned()))
        }
        _ => None,
    }
}

/// A failed plan, copy or check in plain words: a Microsoft 365 or Google
/// side that turned its sign-in down asks the owner to sign in there again.
fn failed(from: &Source, to: &Side, google: &[GoogleSide; 2], e: DavError) -> IpcError {
    if let Some((user, _)) = google
        .iter()
        .flatten()
        .find(|(_, origin)| super::google_dav::denied_at(origin, &e))
    {
        return super::google_dav::refused(user, e);
    }
    let graphs = [
        match from {
            Source::Graph(g) => Some(g),
            _ => None,
        },
        match to {
            Side::Graph(g) => Some(g),
            Side::Dav(_) => None,
        },
    ];
    match graphs
        .into_iter()
        .flatten()
        .find(|g| super::graph::denied_at(g, &e))
    {
        Some(g) => super::graph::refused(g.user(), e),
        None => ipc(e),
    }
}

/// Every address book and calendar at the old server, with where each
/// will go. Changes nothing. Toward Microsoft 365, each entry is converted
/// to tell what is known not to carry over.
pub async fn contacts_plan(
    accounts: State<'_, Accounts>,
    graphs: State<'_, GraphMailboxes>,
    googles: State<'_, GoogleDavSignIns>,
    source: DavSide,
    destination: DavSide,
) -> IpcResult<Vec<CollectionPlanView>> {
    contacts_plan_with(&accounts, &graphs, &googles, source, destination).await
}

/// [`contacts_plan`] with the session's accounts.
pub async fn contacts_plan_with(
    accounts: &Accounts,
    graphs: &GraphMailboxes,
    googles: &GoogleDavSignIns,
    source: DavSide,
    destination: DavSide,
) -> IpcResult<Vec<CollectionPlanView>> {
    let (from, _) = open(accounts, graphs, googles, &source).await?;
    let from_google = google_side(accounts, &source, &from);
    let from = from.into_source();
    let (to, _) = open(accounts, graphs, googles, &destination).await?;
    let google = [from_google, google_side(accounts, &destination, &to)];
    blocking(move || {
        let plans = match &to {
            Side::Dav(to) => dav::plan(&from, to, None),
            Side::Graph(to) => dav::graph::plan(&from, to, None, true),
        }
        .map_err(|e| failed(&from, &to, &google, e))?;
        Ok(plans.iter().map(plan_view).collect())
    })
    .await
}

/// Copies every address book and calendar (only what is missing or changed).
pub async fn copy_contacts(
    accounts: State<'_, Accounts>,
    graphs: State<'_, GraphMailboxes>,
    googles: State<'_, GoogleDavSignIns>,
    source: DavSide,
    destination: DavSide,
) -> IpcResult<ContactsCopy> {
    copy_contacts_with(&accounts, &graphs, &googles, source, destination).await
}

/// [`copy_contacts`] with the session's accounts.
pub async fn copy_contacts_with(
    accounts: &Accounts,
    graphs: &GraphMailboxes,
    googles: &GoogleDavSignIns,
    source: DavSide,
    destination: DavSide,
) -> IpcResult<ContactsCopy> {
    let (from, from_name) = open(accounts, graphs, googles, &source).await?;
    let from_google = google_side(accounts, &source, &from);
    let from = from.into_source();
    let (to, to_name) = open(accounts, graphs, googles, &destination).await?;
    let google = [from_google, google_side(accounts, &destination, &to)];
    let path = progress_path(&from_name, &to_name)?;
    blocking(move || {
        let mut state = mailferry::state::State::open(&path, mailferry::run::system_clock())
            .map_err(|e| ipc(e.into()))?;
        let report = match &to {
            Side::Dav(to) => dav::sync(&from, to, &mut state),
            Side::Graph(to) => dav::graph::sync(&from, to, &mut state),
        }
        .map_err(|e| failed(&from, &to, &google, e))?;
        Ok(ContactsCopy {
            complete: report.complete(),
            collections: report
                .collections
                .iter()
                .map(|c| CollectionCopyView {
                    plan: plan_view(&c.plan),
                    copied: count(c.copied),
                    updated: count(c.updated),
                    already: count(c.already),
                    deleted_at_source: count(c.gone_at_source),
                    problems: problems(&c.refused)
                        .into_iter()
                        .chain(problems(&c.failed))
                        .collect(),
                    error: c.error.clone(),
                })
                .collect(),
        })
    })
    .await
}

/// Compares every entry of the old server with its copy. Reads only.
pub async fn check_contacts(
    accounts: State<'_, Accounts>,
    graphs: State<'_, GraphMailboxes>,
    googles: State<'_, GoogleDavSignIns>,
    source: DavSide,
    destination: DavSide,
) -> IpcResult<ContactsCheck> {
    check_contacts_with(&accounts, &graphs, &googles, source, destination).await
}

/// [`check_contacts`] with the session's accounts.
pub async fn check_contacts_with(
    accounts: &Accounts,
    graphs: &GraphMailboxes,
    googles: &GoogleDavSignIns,
    source: DavSide,
    destination: DavSide,
) -> IpcResult<ContactsCheck> {
    let (from, from_name) = open(accounts, graphs, googles, &source).await?;
    let from_google = google_side(accounts, &source, &from);
    let from = from.into_source();
    let (to, to_name) = open(accounts, graphs, googles, &destination).await?;
    let google = [from_google, google_side(accounts, &destination, &to)];
    let path = progress_path(&from_name, &to_name)?;
    blocking(move || {
        let state = mailferry::state::State::open_read_only(&path).map_err(|e| ipc(e.into()))?;
        let report = match &to {
            Side::Dav(to) => dav::verify(&from, to, state.as_ref()),
            Side::Graph(to) => dav::graph::verify(&from, to, state.as_ref()),
        }
        .map_err(|e| failed(&from, &to, &google, e))?;
        Ok(ContactsCheck {
            safe_to_switch: report.safe_to_switch(),
            collections: report
                .collections
                .iter()
                .map(|c| CollectionCheckView {
                    name: c.source.name.clone(),
                    calendar: c.source.kind == ObjectKind::Calendar,
                    objects: count(c.objects),
                    arrived: count(c.identical + c.same_content),
                    problems: problems(&c.missing)
                        .into_iter()
                        .chain(problems(&c.different))
                        .collect(),
                    error: c.error.clone(),
                })
                .collect(),
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::Account;
    use mailferry::auth::credentials::Credentials;
    use mailferry::endpoint::Endpoint;
    use mailferry_harness::{radicale_available, DnsServer, Radicale};

    #[tokio::test]
    async fn an_empty_address_finds_the_servers_from_the_mail_accounts_address() {
        if !radicale_available() {
            eprintln!("skipped: the radicale command is not installed");
            return;
        }
        let user = "alice@bakery.example";
        let radicale = Radicale::start(&[(user, "alice-pw")]);
        radicale.create_collection(user, "contacts", "addressbook", "Contacts");
        radicale.create_collection(user, "calendar", "calendar", "Office calendar");
        let dns = DnsServer::start();
        for kind in ["carddav", "caldav"] {
            let name = format!("_{kind}._tcp.bakery.example");
            dns.srv(&name, 0, 0, radicale.port(), "127.0.0.1")
                .txt(&name, &[&format!("path=/{user}/")]);
        }
        let accounts = Accounts::with_keychain(None);
        let account = accounts.add(Account {
            endpoint: Endpoint::new("imap.bakery.example"),
            credentials: Credentials::password(user, "alice-pw"),
        });
        let settings = DiscoverSettings {
            resolvers: vec![dns.addr()],
            ..DiscoverSettings::default()
        };
        let side = DavSide {
            url: String::new(),
            account,
            graph: None,
            google: None,
            attendees: None,
        };
        let (server, name) = server_with(&accounts, &side, &settings).await.unwrap();
        assert_eq!(name, format!("{user}@{}", radicale.url()));
        let (_, collections) = blocking(move || server.discover().map_err(ipc))
            .await
            .unwrap();
        let names: Vec<&str> = collections.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["Office calendar", "Contacts"]);

        // Something that is no address at all says so.
        let side = DavSide {
            url: "dav old example".into(),
            account,
            graph: None,
            google: None,
            attendees: None,
        };
        let err = server_with(&accounts, &side, &settings).await.unwrap_err();
        assert!(
            err.message
                .contains("neither an email address nor a domain"),
            "{}",
            err.message
        );
    }
}
