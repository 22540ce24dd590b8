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
//! The list comes out as the mailbox list `sync --mailboxes` reads
//! ([`Inventory::mailbox_list`]): one `old,new` row per mailbox to move,
//! and the accounts worth a second look (suspended, disabled, not signed
//! in to for months) as comment lines saying why, for the owner to decide.

use crate::auth::grant::{ClientCredentials, ServiceAccount, TokenSource};
use crate::error::{Error, Problem};
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
        for p in &self.people {
            let flags = p.flags(now);
            if flags.is_empty() {
                out.push_str(&format!("{},{}\n", p.address, p.address));
            } else {
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
        let url = match &next {
            Some(token) => format!(
                "{base}&pageToken={}",
                crate::auth::oauth::percent_encode(token)
            ),
            None => base.clone(),
        };
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
            });
        }
        next = page.next_page_token.filter(|t| !t.is_empty());
        if next.is_none() {
            break;
        }
    }
    people.sort_by(|a, b| a.address.cmp(&b.address));
    Ok(Inventory {
        directory: "Google Workspace".to_owned(),
        people,
        notes: Vec::new(),
    })
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
    for _ in 0..MAX_PAGES {
        let page: Page = get_json("Microsoft", &tokens, &url)?;
        for u in page.value {
            let Some(mail) = u.mail.filter(|m| !m.is_empty()) else {
                continue;
            };
            let address = mail.to_ascii_lowercase();
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
    Ok(Inventory {
        directory: "Microsoft 365".to_owned(),
        people,
        notes,
    })
}

/// GETs `url` with a token from `tokens` and reads its JSON; waits out a
/// throttled answer (up to three times, as long as `Retry-After` says, at
/// most a minute each); a refusal is [`Problem::DirectoryRefused`].
fn get_json<T: serde::de::DeserializeOwned>(
    issuer: &str,
    tokens: &TokenSource,
    url: &str,
) -> Result<T, Error> {
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
            .call()
            .map_err(|e| unreachable(format!("cannot reach {url}: {e}")))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .unwrap_or_default();
        match status {
            200 => {
                return serde_json::from_str(&body).map_err(|e| {
                    unreachable(format!(
                        "{url} answered something that is not a user list: {e}"
                    ))
                })
            }
            429 | 503 if attempt < 3 => {
                let wait = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .unwrap_or(5)
                    .min(60);
                tracing::info!("{issuer}'s directory is busy: waiting {wait} s");
                std::thread::sleep(Duration::from_secs(wait));
            }
            _ => {
                return Err(unreachable(format!(
                    "{url} answered {status}: {}",
                    api_message(&body)
                )))
            }
        }
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
    fn times_are_read_as_instants() {
        assert_eq!(unix_of("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(unix_of("2026-11-30T09:12:44Z"), Some(1_796_029_964));
        assert_eq!(unix_of("yesterday"), None);
    }
}
