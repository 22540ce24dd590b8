//! Contacts and calendars: CardDAV (RFC 6352) and CalDAV (RFC 4791)
//! servers, and `.vcf` / `.ics` files, moved with the same promises as the
//! mail: a preview, objects copied exactly as the source sent them (no
//! re-serialisation), progress recorded in the job's progress file so a
//! re-run copies only what is missing or changed, and every object that
//! did not carry over listed with its reason.
//!
//! - [`http`]: one server's origin and sign-in (credentials never leave it).
//! - [`Server`]: discovery (RFC 6764 well-known URLs, the principal, its
//!   address-book and calendar home sets) and the collections' objects.
//! - [`files`]: `.vcf` / `.ics` files as a source, and an export to them.
//! - [`object`]: the UID and kind of an object, and files split and joined
//!   at line boundaries.
//! - [`copy`]: the plan, the copy and the check.
//!
//! Everything here is blocking (ureq): the CLI runs it on its own thread.

pub mod copy;
pub mod files;
pub mod graph;
pub mod http;
pub mod object;
mod xml;

pub use copy::{
    export, plan, sync, verify, CollectionCheck, CollectionPlan, CollectionReport, ExportedFile,
    ObjectProblem, Report, Source, VerifyReport,
};
pub use files::Files;
pub use http::{Auth, Client};
pub use object::ObjectKind;

use xml::{CALDAV, CALSERVER, CARDDAV, DAV};

/// The progress file's job name of a copy of contacts and calendars from
/// `source` to `dest` (each `user@origin`, or `files PATH`): the CLI and
/// the app name it alike, so both find the same progress.
pub fn job_name(source: &str, dest: &str) -> String {
    format!("contacts and calendars: {source} to {dest}")
}

/// Why a contacts or calendar server could not be used, in plain words.
#[derive(Debug, thiserror::Error)]
pub enum DavError {
    /// The address is not an http(s) address.
    #[error("“{url}” is not a web address MailFerry can use: it should start with https://")]
    BadAddress {
        /// What was given.
        url: String,
    },
    /// A password would cross the network unencrypted.
    #[error(
        "“{url}” is not encrypted (http://): MailFerry will not send your password over it. \
         Use the https:// address of the server"
    )]
    PlainHttp {
        /// What was given.
        url: String,
    },
    /// The server could not be reached, or the connection broke.
    #[error("cannot reach the contacts and calendar server {server}: {detail}. Check the address and your internet connection, then try again")]
    Unreachable {
        /// The server's origin.
        server: String,
        /// What failed.
        detail: String,
    },
    /// The server refused the user name and password (401).
    #[error("the server {server} refused the user name and password. Check them (some providers need an app password for contacts and calendars), then try again")]
    SignInRefused {
        /// The server's origin.
        server: String,
    },
    /// The address answers, but not as a contacts or calendar server.
    #[error("{url} does not answer as a contacts or calendar server (CardDAV/CalDAV). Check the address: your provider's help pages give it")]
    NotDav {
        /// The address asked.
        url: String,
    },
    /// The server answered a request with an error.
    #[error("the server refused to {action} (HTTP {status}): {detail}")]
    Refused {
        /// What was asked, in plain words.
        action: String,
        /// The HTTP status.
        status: u16,
        /// The start of the server's answer.
        detail: String,
    },
    /// A file could not be read or written.
    #[error("cannot {action} {path}: {source}")]
    File {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// An export file could not be written.
    #[error(transparent)]
    Archive(#[from] crate::archive::ArchiveError),
    /// The progress file could not be used.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
}

impl DavError {
    /// Whether trying again later may help (the network, a busy server).
    pub fn is_temporary(&self) -> bool {
        match self {
            DavError::Unreachable { .. } => true,
            DavError::Refused { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

/// An address book or a calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    /// Where it is: a path on its server, or a file name.
    pub href: String,
    /// Contacts or calendar objects.
    pub kind: ObjectKind,
    /// Its name as people see it (display name, else the last part of its address).
    pub name: String,
    /// A calendar's component types (VEVENT, VTODO …), when the server says.
    pub components: Vec<String>,
}

impl Collection {
    /// The last part of its address, without slashes (for a file, its
    /// name without the extension).
    pub fn segment(&self) -> &str {
        let last = last_segment(&self.href);
        [".vcf", ".ics"]
            .iter()
            .find_map(|ext| last.strip_suffix(ext))
            .filter(|stem| !stem.is_empty())
            .unwrap_or(last)
    }
}

/// An object's address in its collection and the version the server gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its path (or, for files, `file#n`).
    pub href: String,
    /// Its ETag, when known.
    pub etag: Option<String>,
}

fn last_segment(href: &str) -> &str {
    href.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(href)
}

/// The home sets where new collections are made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Homes {
    /// Where address books live.
    pub contacts: Option<String>,
    /// Where calendars live.
    pub calendars: Option<String>,
}

/// A PROPFIND's status, its multistatus when it was one, and the
/// redirect's target.
type Found = (u16, Option<Vec<xml::Response>>, Option<String>);

/// An object's bytes as served, and its ETag.
pub type Fetched = (Vec<u8>, Option<String>);

/// A CardDAV/CalDAV account: a server and where discovery starts.
#[derive(Debug, Clone)]
pub struct Server {
    client: Client,
    start: String,
}

/// Properties asked when looking for the account's collections.
const DISCOVERY_PROPS: [(&str, &str); 6] = [
    (DAV, "resourcetype"),
    (DAV, "displayname"),
    (DAV, "current-user-principal"),
    (CARDDAV, "addressbook-home-set"),
    (CALDAV, "calendar-home-set"),
    (CALDAV, "supported-calendar-component-set"),
];

impl Server {
    /// The account at `url` (a server, a principal, a home or one collection).
    pub fn connect(url: &str, auth: Auth) -> Result<Server, DavError> {
        let (client, start) = Client::new(url, auth)?;
        Ok(Server { client, start })
    }

    /// The server's origin.
    pub fn origin(&self) -> &str {
        self.client.origin()
    }

    fn propfind(&self, path: &str, depth: &str, props: &[(&str, &str)]) -> Result<Found, DavError> {
        let answer = self.client.send(
            "PROPFIND",
            path,
            &[
                ("Depth", depth),
                ("Content-Type", "application/xml; charset=utf-8"),
            ],
            xml::propfind(props).as_bytes(),
        )?;
        let parsed = (answer.status == 207)
            .then(|| xml::parse_multistatus(&String::from_utf8_lossy(&answer.body)))
            .flatten();
        Ok((answer.status, parsed, answer.location))
    }

    /// Where new collections go, and every address book and calendar of
    /// the account.
    pub fn discover(&self) -> Result<(Homes, Vec<Collection>), DavError> {
        let not_dav = || DavError::NotDav {
            url: format!("{}{}", self.client.origin(), self.start),
        };
        let mut at = self.start.clone();
        let mut first = None;
        // The start, else the RFC 6764 well-known addresses (one redirect each).
        let mut candidates = vec![at.clone()];
        if at == "/" {
            candidates.push("/.well-known/carddav".into());
            candidates.push("/.well-known/caldav".into());
        }
        for candidate in candidates {
            let (status, parsed, location) = self.propfind(&candidate, "0", &DISCOVERY_PROPS)?;
            if (300..400).contains(&status) {
                if let Some(path) = location.as_deref().and_then(|l| self.client.path_of(l)) {
                    let (_, parsed, _) = self.propfind(&path, "0", &DISCOVERY_PROPS)?;
                    if let Some(r) = parsed.and_then(|mut r| (!r.is_empty()).then(|| r.remove(0))) {
                        at = path;
                        first = Some(r);
                        break;
                    }
                }
                continue;
            }
            if let Some(r) = parsed.and_then(|mut r| (!r.is_empty()).then(|| r.remove(0))) {
                at = candidate;
                first = Some(r);
                break;
            }
        }
        let first = first.ok_or_else(not_dav)?;
        if let Some(c) = self.collection_of(&first, &at) {
            let mut homes = Homes::default();
            let parent = parent_of(&c.href);
            match c.kind {
                ObjectKind::Contact => homes.contacts = Some(parent),
                ObjectKind::Calendar => homes.calendars = Some(parent),
            }
            return Ok((homes, vec![c]));
        }
        // The principal's home sets.
        let mut principal = first.clone();
        if let Some(p) = first
            .prop(DAV, "current-user-principal")
            .and_then(|p| p.hrefs.first())
            .and_then(|h| self.client.path_of(h))
        {
            if p != at {
                if let (_, Some(mut r), _) = self.propfind(&p, "0", &DISCOVERY_PROPS)? {
                    if !r.is_empty() {
                        principal = r.remove(0);
                    }
                }
            }
        }
        let home = |ns: &str, name: &str| {
            principal
                .prop(ns, name)
                .and_then(|p| p.hrefs.first())
                .and_then(|h| self.client.path_of(h))
        };
        let homes = Homes {
            contacts: home(CARDDAV, "addressbook-home-set"),
            calendars: home(CALDAV, "calendar-home-set"),
        };
        let mut places: Vec<String> = [homes.contacts.clone(), homes.calendars.clone()]
            .into_iter()
            .flatten()
            .collect();
        if places.is_empty() {
            places.push(at.clone());
        }
        places.dedup();
        let mut collections: Vec<Collection> = Vec::new();
        for place in places {
            let (_, parsed, _) = self.propfind(&place, "1", &DISCOVERY_PROPS)?;
            for r in parsed.unwrap_or_default() {
                if let Some(c) = self.collection_of(&r, &place) {
                    if !collections.iter().any(|k| k.href == c.href) {
                        collections.push(c);
                    }
                }
            }
        }
        collections.sort_by(|a, b| a.href.cmp(&b.href));
        Ok((homes, collections))
    }

    fn collection_of(&self, r: &xml::Response, fallback: &str) -> Option<Collection> {
        let kind = if r.is(CARDDAV, "addressbook") {
            ObjectKind::Contact
        } else if r.is(CALDAV, "calendar") {
            ObjectKind::Calendar
        } else {
            return None;
        };
        let href = self
            .client
            .path_of(&r.href)
            .unwrap_or_else(|| fallback.to_owned());
        let name = r
            .text(DAV, "displayname")
            .unwrap_or_else(|| last_segment(&href).to_owned());
        let components = r
            .prop(CALDAV, "supported-calendar-component-set")
            .map(|p| p.components.clone())
            .unwrap_or_default();
        Some(Collection {
            href,
            kind,
            name,
            components,
        })
    }

    /// The objects of a collection with their ETags (its sub-collections left out).
    pub fn list(&self, collection: &str) -> Result<Vec<Entry>, DavError> {
        let (status, parsed, _) = self.propfind(
            collection,
            "1",
            &[
                (DAV, "resourcetype"),
                (DAV, "getetag"),
                (CALSERVER, "getctag"),
            ],
        )?;
        let parsed = parsed.ok_or_else(|| DavError::Refused {
            action: format!("list {collection}"),
            status,
            detail: String::new(),
        })?;
        let own = collection.trim_end_matches('/');
        let mut entries: Vec<Entry> = parsed
            .into_iter()
            .filter(|r| !r.is(DAV, "collection"))
            .filter_map(|r| {
                let href = self.client.path_of(&r.href)?;
                (href.trim_end_matches('/') != own).then(|| Entry {
                    href,
                    etag: r.text(DAV, "getetag"),
                })
            })
            .collect();
        entries.sort_by(|a, b| a.href.cmp(&b.href));
        Ok(entries)
    }

    /// One object's bytes exactly as served, and its ETag; None when gone (404).
    pub fn get(&self, href: &str) -> Result<Option<Fetched>, DavError> {
        let answer = self.client.send("GET", href, &[], b"")?;
        match answer.status {
            200 => Ok(Some((answer.body, answer.etag))),
            404 | 410 => Ok(None),
            status => Err(DavError::Refused {
                action: format!("send {href}"),
                status,
                detail: answer.excerpt(),
            }),
        }
    }

    /// Stores an object: only when none is there (`If-None-Match: *`), or
    /// only over the version with this ETag. The server's answer is given
    /// back for the caller to judge (201/204 stored, 412 precondition).
    pub(crate) fn put(
        &self,
        href: &str,
        kind: ObjectKind,
        bytes: &[u8],
        if_match: Option<&str>,
    ) -> Result<http::Answer, DavError> {
        let content_type = match kind {
            ObjectKind::Contact => "text/vcard; charset=utf-8",
            ObjectKind::Calendar => "text/calendar; charset=utf-8",
        };
        let mut headers = vec![("Content-Type", content_type)];
        match if_match {
            Some(etag) => headers.push(("If-Match", etag)),
            None => headers.push(("If-None-Match", "*")),
        }
        self.client.send("PUT", href, &headers, bytes)
    }

    /// Makes an address book or calendar at `href` named `name`
    /// (extended MKCOL, RFC 5689; MKCALENDAR, RFC 4791).
    pub(crate) fn make_collection(&self, href: &str, like: &Collection) -> Result<(), DavError> {
        let name = xml::escape(&like.name);
        let (method, body) = match like.kind {
            ObjectKind::Contact => (
                "MKCOL",
                format!(
                    "<?xml version=\"1.0\" encoding=\"utf-8\"?><D:mkcol xmlns:D=\"DAV:\" xmlns:C=\"{CARDDAV}\">\
                     <D:set><D:prop><D:resourcetype><D:collection/><C:addressbook/></D:resourcetype>\
                     <D:displayname>{name}</D:displayname></D:prop></D:set></D:mkcol>"
                ),
            ),
            ObjectKind::Calendar => {
                let comps: String = like
                    .components
                    .iter()
                    .map(|c| format!("<C:comp name=\"{}\"/>", xml::escape(c)))
                    .collect();
                let set = if comps.is_empty() {
                    String::new()
                } else {
                    format!("<C:supported-calendar-component-set>{comps}</C:supported-calendar-component-set>")
                };
                (
                    "MKCALENDAR",
                    format!(
                        "<?xml version=\"1.0\" encoding=\"utf-8\"?><C:mkcalendar xmlns:D=\"DAV:\" xmlns:C=\"{CALDAV}\">\
                         <D:set><D:prop><D:displayname>{name}</D:displayname>{set}</D:prop></D:set></C:mkcalendar>"
                    ),
                )
            }
        };
        let answer = self.client.send(
            method,
            href,
            &[("Content-Type", "application/xml; charset=utf-8")],
            body.as_bytes(),
        )?;
        if answer.ok() || self.is_collection(href, like.kind)? {
            // Made now, or by an earlier attempt whose answer was lost.
            Ok(())
        } else {
            Err(DavError::Refused {
                action: format!("create “{}”", like.name),
                status: answer.status,
                detail: answer.excerpt(),
            })
        }
    }

    /// Whether `href` is an address book (or a calendar, per `kind`).
    fn is_collection(&self, href: &str, kind: ObjectKind) -> Result<bool, DavError> {
        let (_, parsed, _) = self.propfind(href, "0", &[(DAV, "resourcetype")])?;
        Ok(parsed
            .unwrap_or_default()
            .first()
            .is_some_and(|r| match kind {
                ObjectKind::Contact => r.is(CARDDAV, "addressbook"),
                ObjectKind::Calendar => r.is(CALDAV, "calendar"),
            }))
    }
}

fn parent_of(href: &str) -> String {
    let trimmed = href.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(i) => trimmed[..=i].to_owned(),
        None => "/".to_owned(),
    }
}
