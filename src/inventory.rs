//! Every mailbox of a domain, from the organisation's own directory, so
//! the owner decides for each one (move it, keep it as files, leave it)
//! instead of finding out later about the ex-employee's or the printer's
//! mailbox nobody listed.
//!
//! Google Workspace is asked through the Admin SDK's Directory API
//! (`users.list`) with the service account the copy already uses, acting
//! as an administrator; Microsoft 365 through Microsoft Graph (`/users`)
//! with the app-only sign-in the copy already uses. Both are read page by
//! page to the end; a throttled answer is waited out (its `Retry-After`).
//! Hosts with neither keep the pasted or imported list.
//!
//! The storage each mailbox uses comes from the same sign-ins: Google's
//! Admin SDK Reports API (`userUsageReport`, the Gmail storage of the most
//! recent day it has, two or more days back), Microsoft Graph's mailbox
//! usage report (`getMailboxUsageDetail`, a CSV file behind a redirect).
//! Without the permission for it the list still comes, with a note saying
//! what to allow.
//!
//! The list comes out as the mailbox list `sync --mailboxes` reads
//! ([`Inventory::mailbox_list`]): one `old,new` row per mailbox to move,
//! and the accounts worth a second look (suspended, disabled, not signed
//! in to for months) as comment lines saying why, for the owner to decide.

use crate::auth::grant::{ClientCredentials, ServiceAccount, TokenSource};
use crate::error::{Error, Problem};
use crate::run::human_bytes;
use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The Directory API's address.
pub const GOOGLE_API: &str = "https://admin.googleapis.com";

/// Microsoft Graph's address.
pub const GRAPH_API: &str = "https://graph.microsoft.com";

/// The scope that lets a service account list the domain's users.
pub const GOOGLE_DIRECTORY_SCOPE: &str =
    "https://www.googleapis.com/auth/admin.directory.user.readonly";

/// The scope that lets a service account read the domain's usage reports
/// (the storage each mailbox uses).
pub const GOOGLE_REPORTS_SCOPE: &str =
    "https://www.googleapis.com/auth/admin.reports.usage.readonly";

/// Microsoft Graph's scope for app-only access (its permissions, e.g.
/// User.Read.All, are granted to the app by an administrator).
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// An account is flagged when nobody signed in to it for this long.
pub const LONG_UNUSED_DAYS: i64 = 180;

/// How many pages are read at most (a safety stop: 1,000 pages of 500).
const MAX_PAGES: usize = 1000;

/// One mailbox of the domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Person {
    /// Its address.
    pub address: String,
    /// The person's name, when the directory has one.
    pub name: Option<String>,
    /// Other addresses that reach the same mailbox.
    pub aliases: Vec<String>,
    /// Suspended (Google) or sign-in blocked (Microsoft): often a former
    /// employee, or a shared mailbox in Microsoft 365.
    pub blocked: bool,
    /// The last sign-in, Unix seconds; `None` when never or unknown.
    pub last_sign_in: Option<i64>,
    /// Whether the directory says when it was last signed in to at all.
    pub sign_in_known: bool,
    /// The storage its mail uses, in bytes, when the usage report says.
    pub storage_bytes: Option<u64>,
}

/// Every mailbox of a domain, as its directory lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Inventory {
    /// Whose directory ("Google Workspace", "Microsoft 365").
    pub directory: String,
    /// The mailboxes, by address.
    pub people: Vec<Person>,
    /// What the directory could not say, in words.
    pub notes: Vec<String>,
}

impl Person {
    /// Why this account is worth a second look before it is moved, in
    /// words (empty when nothing), at `now` (Unix seconds).
    pub fn flags(&self, now: i64) -> Vec<String> {
        let mut out = Vec::new();
        if self.blocked {
            out.push("sign-in blocked or suspended".to_owned());
        }
        match self.last_sign_in {
            Some(at) if now - at >= LONG_UNUSED_DAYS * 86_400 => {
                let months = (now - at) / (30 * 86_400);
                out.push(format!(
                    "no sign-in for {months} month{}",
                    if months == 1 { "" } else { "s" }
                ));
            }
            None if self.sign_in_known => out.push("never signed in".to_owned()),
            _ => {}
        }
        out
    }
}

impl Inventory {
    /// The storage all the mailboxes use, in bytes (those the usage report
    /// knows); `None` when it gave no size at all.
    pub fn storage_bytes(&self) -> Option<u64> {
        let sizes: Vec<u64> = self.people.iter().filter_map(|p| p.storage_bytes).collect();
        (!sizes.is_empty()).then(|| sizes.iter().sum())
    }

    /// The mailbox list `sync --mailboxes` reads: a row `old,new` (the same
    /// address: a domain keeps its addresses when it moves) for each
    /// mailbox with nothing to look at, and each flagged one as a comment
    /// saying why, to move by removing the `#`.
    pub fn mailbox_list(&self, now: i64) -> String {
        let mut out = format!(
            "# Every mailbox of the domain, from {}.\n\
             # Each row is moved by `mailferry sync --mailboxes`; the ones starting with # are\n\
             # not: remove the # to move one, or keep it as files with `mailferry export`.\n",
            self.directory
        );
        for note in &self.notes {
            out.push_str(&format!("# Note: {note}\n"));
        }
        if let Some(total) = self.storage_bytes() {
            out.push_str(&format!("# Storage used: {} in all.\n", human_bytes(total)));
        }
        for p in &self.people {
            let mut flags = p.flags(now);
            let size = p.storage_bytes.map(human_bytes);
            if flags.is_empty() {
                if let Some(size) = size {
                    out.push_str(&format!("# {}: {size} used\n", p.address));
                }
                out.push_str(&format!("{},{}\n", p.address, p.address));
            } else {
                flags.extend(size.map(|s| format!("{s} used")));
                out.push_str(&format!(
                    "# {},{}    <- {}\n",
                    p.address,
                    p.address,
                    flags.join("; ")
                ));
            }
        }
        out
    }
}

/// Lists a Google Workspace domain's users through the Directory API at
/// `api` ([`GOOGLE_API`]), signed in as the service account `key` acting
/// as the administrator `admin`. Blocking.
///
/// # Errors
/// The sign-in or the directory refused ([`Problem::DirectoryRefused`]),
/// or it could not be reached.
pub fn google(key: &Secret<String>, admin: &str, api: &str) -> Result<Inventory, Error> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Page {
        #[serde(default)]
        users: Vec<User>,
        next_page_token: Option<String>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct User {
        primary_email: String,
        name: Option<Name>,
        #[serde(default)]
        suspended: bool,
        #[serde(default)]
        archived: bool,
        #[serde(default)]
        aliases: Vec<String>,
        last_login_time: Option<String>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Name {
        full_name: Option<String>,
    }
    let account = ServiceAccount::from_key_json(key, admin)?.with_scope(GOOGLE_DIRECTORY_SCOPE);
    let tokens = TokenSource::new(account);
    let base = format!(
        "{}/admin/directory/v1/users?customer=my_customer&maxResults=500&orderBy=email&projection=basic",
        api.trim_end_matches('/')
    );
    let mut people = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let url = google_page(&base, next.as_deref());
        let page: Page = get_json("Google", &tokens, &url)?;
        for u in page.users {
            // Google says 1970 for an account never signed in to.
            let last = u
                .last_login_time
                .as_deref()
                .and_then(unix_of)
                .filter(|t| *t > 0);
            people.push(Person {
                address: u.primary_email.to_ascii_lowercase(),
                name: u.name.and_then(|n| n.full_name),
                aliases: u.aliases,
                blocked: u.suspended || u.archived,
                last_sign_in: last,
                sign_in_known: true,
                storage_bytes: None,
            });
        }
        next = page.next_page_token.filter(|t| !t.is_empty());
        if next.is_none() {
            break;
        }
    }
    people.sort_by(|a, b| a.address.cmp(&b.address));
    let mut found = Inventory {
        directory: "Google Workspace".to_owned(),
        people,
        notes: Vec::new(),
    };
    let today = chrono::Utc::now().date_naive();
    let sizes = ServiceAccount::from_key_json(key, admin)
        .map_err(|e| e.to_string())
        .and_then(|account| {
            let tokens = TokenSource::new(account.with_scope(GOOGLE_REPORTS_SCOPE));
            google_storage(&tokens, api, today)
        });
    found.add_sizes(sizes);
    Ok(found)
}

/// Lists a Microsoft 365 tenant's mailboxes through Microsoft Graph at
/// `api` ([`GRAPH_API`]), signed in as the organisation's app (`tenant`,
/// `client_id`, `client_secret`; app-only). Accounts without a mailbox
/// (no mail address) are left out. Blocking.
///
/// # Errors
/// As [`google`].
pub fn microsoft(
    tenant: &str,
    client_id: &str,
    client_secret: Secret<String>,
    api: &str,
) -> Result<Inventory, Error> {
    #[derive(Deserialize)]
    struct Page {
        #[serde(default)]
        value: Vec<User>,
        #[serde(rename = "@odata.nextLink")]
        next_link: Option<String>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct User {
        display_name: Option<String>,
        user_principal_name: Option<String>,
        mail: Option<String>,
        account_enabled: Option<bool>,
        #[serde(default)]
        proxy_addresses: Vec<String>,
        sign_in_activity: Option<Activity>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Activity {
        last_sign_in_date_time: Option<String>,
    }
    let app = ClientCredentials::new(tenant, client_id, client_secret).with_scope(GRAPH_SCOPE);
    let tokens = TokenSource::new(app);
    let api = api.trim_end_matches('/');
    let select = "displayName,userPrincipalName,mail,accountEnabled,proxyAddresses";
    let with_activity = format!("{api}/v1.0/users?$select={select},signInActivity&$top=999");
    let mut notes = Vec::new();
    // Last sign-ins need AuditLog.Read.All and Microsoft Entra ID P1; a
    // tenant without them answers 403 to the whole list: ask again without.
    let (mut url, sign_in_known) = match get_json::<Page>("Microsoft", &tokens, &with_activity) {
        Ok(_) => (with_activity, true),
        Err(e) if matches!(e.problem(), Problem::DirectoryRefused { .. }) => {
            notes.push(
                "Microsoft 365 did not give the last sign-ins (they need the AuditLog.Read.All \
                 permission and Microsoft Entra ID P1), so long-unused accounts are not flagged."
                    .to_owned(),
            );
            (format!("{api}/v1.0/users?$select={select}&$top=999"), false)
        }
        Err(e) => return Err(e),
    };
    let mut people = Vec::new();
    let mut sign_in_names = std::collections::HashMap::new();
    for _ in 0..MAX_PAGES {
        let page: Page = get_json("Microsoft", &tokens, &url)?;
        for u in page.value {
            let Some(mail) = u.mail.filter(|m| !m.is_empty()) else {
                continue;
            };
            let address = mail.to_ascii_lowercase();
            // The usage report names mailboxes by sign-in name.
            if let Some(upn) = &u.user_principal_name {
                sign_in_names.insert(upn.to_ascii_lowercase(), address.clone());
            }
            let aliases = u
                .proxy_addresses
                .iter()
                .filter_map(|a| a.strip_prefix("smtp:").or_else(|| a.strip_prefix("SMTP:")))
                .map(str::to_ascii_lowercase)
                .filter(|a| *a != address)
                .collect();
            people.push(Person {
                address,
                name: u.display_name,
                aliases,
                blocked: u.account_enabled == Some(false),
                last_sign_in: u
                    .sign_in_activity
                    .and_then(|a| a.last_sign_in_date_time)
                    .as_deref()
                    .and_then(unix_of),
                sign_in_known,
                storage_bytes: None,
            });
        }
        match page.next_link {
            // Only Graph's own address is followed: the token goes nowhere else.
            Some(next) if next.starts_with(api) => url = next,
            Some(next) => {
                return Err(Error::new(Problem::DirectoryRefused {
                    issuer: "Microsoft".into(),
                })
                .with_detail(format!("the next page is at another address ({next})")))
            }
            None => break,
        }
    }
    people.sort_by(|a, b| a.address.cmp(&b.address));
    let mut found = Inventory {
        directory: "Microsoft 365".to_owned(),
        people,
        notes,
    };
    let sizes = microsoft_storage(&tokens, api).map(|by_name| {
        by_name
            .into_iter()
            .map(|(name, bytes)| (sign_in_names.get(&name).cloned().unwrap_or(name), bytes))
            .collect()
    });
    found.add_sizes(sizes);
    Ok(found)
}

impl Inventory {
    /// Puts the usage report's sizes (by address, lower case) on the
    /// mailboxes; a report that could not be read is a note, and one that
    /// names none of them (Microsoft 365 hides the names in its reports by
    /// default) says what to change.
    fn add_sizes(&mut self, sizes: Result<std::collections::HashMap<String, u64>, String>) {
        let sizes = match sizes {
            Ok(sizes) => sizes,
            Err(note) => return self.notes.push(note),
        };
        let mut matched = 0;
        for p in &mut self.people {
            p.storage_bytes = sizes.get(&p.address).copied();
            matched += usize::from(p.storage_bytes.is_some());
        }
        if matched == 0 && !sizes.is_empty() && !self.people.is_empty() {
            self.notes.push(format!(
                "{}'s usage report names no mailbox of this list, so sizes are not shown. \
                 If it hides the names (Microsoft 365 does by default), an administrator can turn \
                 off \"Display concealed user, group, and site names in all reports\" in the \
                 Microsoft 365 admin center (Settings, Org settings, Reports).",
                self.directory
            ));
        }
    }
}

/// The address of a Google list's page: the first, or the one `next`
/// (the previous page's `nextPageToken`) names.
fn google_page(base: &str, next: Option<&str>) -> String {
    match next {
        Some(token) => format!(
            "{base}&pageToken={}",
            crate::auth::oauth::percent_encode(token)
        ),
        None => base.to_owned(),
    }
}

/// How many days back a Google usage report is looked for: the figures of
/// a day come two or three days later.
const GOOGLE_REPORT_DAYS: std::ops::RangeInclusive<i64> = 2..=6;

/// The Gmail storage of every user of the domain, in bytes by address,
/// from the Reports API (`userUsageReport`) of the latest day it has
/// figures for; else the note to show, in words.
fn google_storage(
    tokens: &TokenSource,
    api: &str,
    today: chrono::NaiveDate,
) -> Result<std::collections::HashMap<String, u64>, String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Reports {
        #[serde(default)]
        usage_reports: Vec<Report>,
        next_page_token: Option<String>,
        #[serde(default)]
        warnings: Vec<Warning>,
    }
    #[derive(Deserialize)]
    struct Report {
        entity: Entity,
        #[serde(default)]
        parameters: Vec<Parameter>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Entity {
        user_email: Option<String>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Parameter {
        name: String,
        /// An int64: a string in Google's JSON.
        int_value: Option<serde_json::Value>,
    }
    #[derive(Deserialize)]
    struct Warning {
        code: Option<String>,
    }
    let refused = "Google Workspace did not give the storage each mailbox uses: the service \
                   account needs the scope https://www.googleapis.com/auth/admin.reports.usage.readonly \
                   in its domain-wide delegation (Security, API controls), and the administrator \
                   the Reports privilege. The list is complete without the sizes.";
    let mb = |p: &Parameter| -> Option<u64> {
        match p.int_value.as_ref()? {
            serde_json::Value::String(s) => s.trim().parse().ok(),
            v => v.as_u64(),
        }
    };
    for back in GOOGLE_REPORT_DAYS {
        let date = today - chrono::Duration::days(back);
        let base = format!(
            "{}/admin/reports/v1/usage/users/all/dates/{}?parameters=accounts:gmail_used_quota_in_mb,accounts:used_quota_in_mb&maxResults=1000",
            api.trim_end_matches('/'),
            date.format("%Y-%m-%d")
        );
        let mut sizes = std::collections::HashMap::new();
        let mut next: Option<String> = None;
        let mut not_yet = false;
        for page in 0..MAX_PAGES {
            let url = google_page(&base, next.as_deref());
            let (status, body) = match fetch("Google", tokens, &url) {
                Ok(answer) => answer,
                Err(e) if matches!(e.problem(), Problem::OrganisationAccessRefused { .. }) => {
                    return Err(refused.to_owned())
                }
                Err(e) => return Err(format!("Google Workspace's usage report could not be read ({e}), so sizes are not shown.")),
            };
            match status {
                200 => {}
                // A day whose figures are not ready is refused: an earlier one.
                400 if page == 0 => {
                    not_yet = true;
                    break;
                }
                401 | 403 => return Err(refused.to_owned()),
                _ => {
                    return Err(format!(
                        "Google Workspace's usage report answered {status} ({}), so sizes are not shown.",
                        api_message(&body)
                    ))
                }
            }
            let reports: Reports = serde_json::from_str(&body).map_err(|e| {
                format!("Google Workspace's usage report could not be read ({e}), so sizes are not shown.")
            })?;
            if page == 0
                && reports.usage_reports.is_empty()
                && reports
                    .warnings
                    .iter()
                    .any(|w| w.code.as_deref() == Some("DATA_NOT_AVAILABLE"))
            {
                not_yet = true;
                break;
            }
            for r in reports.usage_reports {
                let Some(address) = r.entity.user_email else {
                    continue;
                };
                let find = |name: &str| r.parameters.iter().find(|p| p.name == name).and_then(mb);
                // Gmail's own storage; the whole account's when that is all there is.
                if let Some(mb) = find("accounts:gmail_used_quota_in_mb")
                    .or_else(|| find("accounts:used_quota_in_mb"))
                {
                    sizes.insert(address.to_ascii_lowercase(), mb * 1024 * 1024);
                }
            }
            next = reports.next_page_token.filter(|t| !t.is_empty());
            if next.is_none() {
                break;
            }
        }
        if !not_yet {
            return Ok(sizes);
        }
    }
    Err(
        "Google Workspace has no usage report for the last days yet, so sizes are not shown \
         (its figures come two or three days late)."
            .to_owned(),
    )
}

/// The storage each mailbox of a Microsoft 365 tenant uses, in bytes by
/// address, from Graph's mailbox usage report: a `302` to a download
/// address (fetched without the token: it is pre-authenticated) of a CSV
/// file; else the note to show, in words.
fn microsoft_storage(
    tokens: &TokenSource,
    api: &str,
) -> Result<std::collections::HashMap<String, u64>, String> {
    let refused = "Microsoft 365 did not give the storage each mailbox uses (the app needs the \
                   Reports.Read.All permission, with an administrator's consent). The list is \
                   complete without the sizes.";
    let unread = |why: String| {
        format!("Microsoft 365's mailbox usage report could not be read ({why}), so sizes are not shown.")
    };
    let url = format!(
        "{}/v1.0/reports/getMailboxUsageDetail(period='D7')",
        api.trim_end_matches('/')
    );
    let (status, location, body) =
        fetch_with("Microsoft", tokens, &url).map_err(|e| unread(e.to_string()))?;
    let csv = match (status, location) {
        (302 | 303 | 307, Some(location)) => {
            let https = location.starts_with("https://");
            let loopback =
                location.starts_with("http://127.0.0.1:") || location.starts_with("http://[::1]:");
            if !https && !loopback {
                return Err(unread(format!(
                    "the report is at an address that is not secure: {location}"
                )));
            }
            let mut response = crate::auth::oauth::agent()
                .get(&location)
                .call()
                .map_err(|e| unread(format!("cannot reach {location}: {e}")))?;
            let status = response.status().as_u16();
            let body = response
                .body_mut()
                .with_config()
                .limit(256 * 1024 * 1024)
                .read_to_string()
                .map_err(|e| unread(e.to_string()))?;
            if status != 200 {
                return Err(unread(format!("its download answered {status}")));
            }
            body
        }
        (200, _) => body,
        (401 | 403, _) => return Err(refused.to_owned()),
        (status, _) => return Err(unread(format!("{status}: {}", api_message(&body)))),
    };
    read_usage_csv(&csv).map_err(unread)
}

/// The mailbox usage report's CSV: storage by address (deleted mailboxes
/// left out).
fn read_usage_csv(csv: &str) -> Result<std::collections::HashMap<String, u64>, String> {
    let mut lines = csv
        .trim_start_matches('\u{feff}')
        .lines()
        .filter(|l| !l.trim().is_empty());
    let header = crate::domain::cells(lines.next().ok_or("the report is empty")?, ',');
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name))
            .ok_or_else(|| format!("it has no \"{name}\" column"))
    };
    let (user, used) = (
        column("User Principal Name")?,
        column("Storage Used (Byte)")?,
    );
    let deleted = column("Is Deleted").ok();
    let mut sizes = std::collections::HashMap::new();
    for line in lines {
        let row = crate::domain::cells(line, ',');
        if deleted
            .and_then(|d| row.get(d))
            .is_some_and(|d| d.eq_ignore_ascii_case("true"))
        {
            continue;
        }
        if let (Some(address), Some(Ok(bytes))) =
            (row.get(user), row.get(used).map(|b| b.parse::<u64>()))
        {
            sizes.insert(address.to_ascii_lowercase(), bytes);
        }
    }
    Ok(sizes)
}

/// GETs `url` with a token from `tokens` and reads its JSON; a refusal
/// is [`Problem::DirectoryRefused`].
fn get_json<T: serde::de::DeserializeOwned>(
    issuer: &str,
    tokens: &TokenSource,
    url: &str,
) -> Result<T, Error> {
    let refused = |detail: String| {
        Error::new(Problem::DirectoryRefused {
            issuer: issuer.to_owned(),
        })
        .with_detail(detail)
    };
    match fetch(issuer, tokens, url)? {
        (200, body) => serde_json::from_str(&body).map_err(|e| {
            refused(format!(
                "{url} answered something that is not a user list: {e}"
            ))
        }),
        (status, body) => Err(refused(format!(
            "{url} answered {status}: {}",
            api_message(&body)
        ))),
    }
}

/// GETs `url` with a token from `tokens`: its status and body.
fn fetch(issuer: &str, tokens: &TokenSource, url: &str) -> Result<(u16, String), Error> {
    fetch_with(issuer, tokens, url).map(|(status, _, body)| (status, body))
}

/// GETs `url` with a token from `tokens`, following no redirect (the
/// token goes to `url` only): its status, `Location` and body. A throttled
/// answer is waited out (up to three times, as long as `Retry-After` says,
/// at most a minute each).
fn fetch_with(
    issuer: &str,
    tokens: &TokenSource,
    url: &str,
) -> Result<(u16, Option<String>, String), Error> {
    let agent = crate::auth::oauth::agent();
    let unreachable = |detail: String| {
        Error::new(Problem::DirectoryRefused {
            issuer: issuer.to_owned(),
        })
        .with_detail(detail)
    };
    for attempt in 0..4 {
        let token = tokens.token_blocking()?;
        let mut response = agent
            .get(url)
            .header("Authorization", &format!("Bearer {}", token.expose()))
            .header("Accept", "application/json")
            .config()
            .max_redirects(0)
            .build()
            .call()
            .map_err(|e| unreachable(format!("cannot reach {url}: {e}")))?;
        let status = response.status().as_u16();
        let headers = response.headers();
        let [location, retry_after] = ["location", "retry-after"].map(|name| {
            let value = headers.get(name)?;
            value.to_str().ok().map(str::to_owned)
        });
        let body = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .unwrap_or_default();
        if matches!(status, 429 | 503) && attempt < 3 {
            let wait = retry_after
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(5)
                .min(60);
            tracing::info!("{issuer}'s directory is busy: waiting {wait} s");
            std::thread::sleep(Duration::from_secs(wait));
            continue;
        }
        return Ok((status, location, body));
    }
    Err(unreachable(format!("{url} stayed busy")))
}

/// The error message of a Google or Graph error document, else the body's
/// start.
fn api_message(body: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    value["error"]["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| body.chars().take(300).collect())
}

/// Unix seconds of an RFC 3339 time (`2026-11-30T09:12:44.000Z`).
fn unix_of(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_000_000;

    fn person(address: &str, blocked: bool, last: Option<i64>, known: bool) -> Person {
        Person {
            address: address.into(),
            name: None,
            aliases: Vec::new(),
            blocked,
            last_sign_in: last,
            sign_in_known: known,
            storage_bytes: None,
        }
    }

    #[test]
    fn accounts_worth_a_second_look_say_why() {
        assert!(person("a@x.example", false, Some(NOW - 86_400), true)
            .flags(NOW)
            .is_empty());
        assert_eq!(
            person("b@x.example", false, Some(NOW - 425 * 86_400), true).flags(NOW),
            vec!["no sign-in for 14 months"]
        );
        assert_eq!(
            person("c@x.example", true, None, true).flags(NOW),
            vec!["sign-in blocked or suspended", "never signed in"]
        );
        assert!(
            person("d@x.example", false, None, false)
                .flags(NOW)
                .is_empty(),
            "unknown is not never"
        );
    }

    #[test]
    fn the_list_moves_the_plain_ones_and_comments_out_the_flagged_ones() {
        let inventory = Inventory {
            directory: "Google Workspace".into(),
            people: vec![
                person("anna@x.example", false, Some(NOW), true),
                person("old@x.example", true, Some(NOW - 500 * 86_400), true),
            ],
            notes: vec!["a note".into()],
        };
        let list = inventory.mailbox_list(NOW);
        assert!(list.contains("\nanna@x.example,anna@x.example\n"), "{list}");
        assert!(
            list.contains(
                "\n# old@x.example,old@x.example    <- sign-in blocked or suspended; no sign-in for 16 months\n"
            ),
            "{list}"
        );
        assert!(list.contains("# Note: a note\n"));
        let rows = crate::domain::parse_list(&list, &[]);
        assert_eq!(rows.len(), 1, "only the plain row is read: {rows:?}");
        assert_eq!(rows[0].source_user, "anna@x.example");
        assert!(rows[0].problem.is_none());
    }

    #[test]
    fn sizes_go_in_the_list_as_words_and_the_report_csv_is_read_by_its_columns() {
        let mut inventory = Inventory {
            directory: "Microsoft 365".into(),
            people: vec![
                person("anna@x.example", false, Some(NOW), true),
                person("old@x.example", true, Some(NOW - 500 * 86_400), true),
            ],
            notes: vec![],
        };
        // As the reference's CSV: a byte-order mark, quoted names with commas.
        let csv = "\u{feff}Report Refresh Date,User Principal Name,Display Name,Is Deleted,Deleted Date,\
                   Created Date,Last Activity Date,Item Count,Storage Used (Byte),Issue Warning Quota (Byte),\
                   Prohibit Send Quota (Byte),Prohibit Send/Receive Quota (Byte),Deleted Item Count,\
                   Deleted Item Size (Byte),Deleted Item Quota (Byte),Has Archive,Report Period\r\n\
                   2026-12-04,Anna@x.example,\"Baker, Anna\",False,,2019-03-01,2026-12-03,5120,2300000000,\
                   106300440576,106742614016,107374182400,12,3400,32212254720,False,7\r\n\
                   2026-12-04,old@x.example,Old,False,,2019-03-01,2025-06-01,100,5242880,1,1,1,0,0,1,False,7\r\n\
                   2026-12-04,gone@x.example,Gone,True,2026-10-01,2019-03-01,,1,999,1,1,1,0,0,1,False,7\r\n";
        let sizes = read_usage_csv(csv).unwrap();
        assert_eq!(sizes.get("anna@x.example"), Some(&2_300_000_000));
        assert_eq!(sizes.get("old@x.example"), Some(&5_242_880));
        assert!(
            !sizes.contains_key("gone@x.example"),
            "deleted mailboxes are left out"
        );
        inventory.add_sizes(Ok(sizes));
        assert_eq!(inventory.storage_bytes(), Some(2_305_242_880));
        let list = inventory.mailbox_list(NOW);
        assert!(list.contains("# Storage used: 2.3 GB in all.\n"), "{list}");
        assert!(
            list.contains("\n# anna@x.example: 2.3 GB used\nanna@x.example,anna@x.example\n"),
            "{list}"
        );
        assert!(
            list.contains("no sign-in for 16 months; 5.2 MB used\n"),
            "{list}"
        );
        assert_eq!(
            crate::domain::parse_list(&list, &[]).len(),
            1,
            "the sizes are comments"
        );
        // A report that names none of them (hidden names): a note, no sizes.
        let mut hidden = inventory.clone();
        hidden.add_sizes(Ok([("3f2a9c0e41d7".to_owned(), 10)].into_iter().collect()));
        assert_eq!(hidden.storage_bytes(), None);
        assert!(
            hidden.notes[0].contains("Display concealed user"),
            "{:?}",
            hidden.notes
        );
        assert!(read_usage_csv("User Principal Name,Item Count\na@x,1\n")
            .unwrap_err()
            .contains("Storage Used (Byte)"));
    }

    #[test]
    fn times_are_read_as_instants() {
        assert_eq!(unix_of("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(unix_of("2026-11-30T09:12:44Z"), Some(1_796_029_964));
        assert_eq!(unix_of("yesterday"), None);
    }
}
