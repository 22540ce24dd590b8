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
pub mod locate;
pub mod object;
mod xml;

pub use copy::{
    export, plan, sync, verify, CollectionCheck, CollectionPlan, CollectionReport, ExportedFile,
    ObjectProblem, Report, Source, VerifyReport,
};
pub use files::Files;
pub use http::{Auth, Client, Reach};
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
    /// The server's certificate is not one this computer trusts.
    #[error(
        "the contacts and calendar server {server} showed a certificate this computer does not \
         trust ({detail}), so MailFerry did not sign in. Check the address; if your organisation \
         runs its own certificate authority, give its certificate (on the command line: --cafile1/--cafile2)"
    )]
    Certificate {
        /// The server's origin.
        server: String,
        /// What the check said.
        detail: String,
    },
    /// The server refused the sign-in (401): the user name and password,
    /// or the access token.
    #[error("{}", sign_in_refused_words(server, *password))]
    SignInRefused {
        /// The server's origin.
        server: String,
        /// Whether it was a user name and password (else a sign-in's token).
        password: bool,
    },
    /// The server named another server, outside the provider's domain,
    /// for the account's contacts or calendars: the password is not sent there.
    #[error(
        "the contacts and calendar server sent MailFerry on to {url}, which is not part of \
         {trusted}: your password was not sent there. If that server really is your \
         provider's, give its address itself (with --dav1/--dav2, or in the Contacts step)"
    )]
    Elsewhere {
        /// The other server.
        url: String,
        /// The domains the credentials may go to.
        trusted: String,
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

/// [`DavError::SignInRefused`] in words: what to check depends on what
/// was refused.
fn sign_in_refused_words(server: &str, password: bool) -> String {
    if password {
        format!(
            "the server {server} refused the user name and password. Check them (some \
             providers need an app password for contacts and calendars), then try again"
        )
    } else {
        format!(
            "the server {server} refused the sign-in (it may have run out, or the access \
             may have been taken back): sign in again, then try again"
        )
    }
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

/// The most redirects followed from one discovery address (each to a
/// server the account's credentials may go to).
const MAX_REDIRECTS: usize = 5;

/// A PROPFIND's status, its multistatus when it was one, and the
/// redirect's target.
type Found = (u16, Option<Vec<xml::Response>>, Option<String>);

/// An object's bytes as served, and its ETag.
pub type Fetched = (Vec<u8>, Option<String>);

/// A CardDAV/CalDAV account: its servers and where discovery starts.
///
/// One account may span several origins: Fastmail and Google keep
/// contacts and calendars on separate hosts, and iCloud's principal names
/// home sets on another host. Hrefs on the first origin are paths; hrefs
/// on any other are absolute URLs, so every href names its server.
/// Credentials go only to the hosts [`Trust`] allows.
#[derive(Debug, Clone)]
pub struct Server {
    client: Client,
    /// Clients of the account's other origins, made as they are met.
    others: std::sync::Arc<std::sync::Mutex<Vec<Client>>>,
    starts: Vec<String>,
    trust: Trust,
}

/// The hosts an account's credentials may go to: those within the
/// domains of the addresses the user gave (and of the provider's preset),
/// and the exact hosts given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust {
    domains: Vec<String>,
}

impl Trust {
    /// Trust within `domains` (`icloud.com`; an exact host or IP address
    /// for one that has no domain to share).
    pub fn new<S: AsRef<str>>(domains: &[S]) -> Trust {
        let mut trust = Trust::default();
        for d in domains {
            trust.add(d.as_ref());
        }
        trust
    }

    fn add(&mut self, domain: &str) {
        let d = domain.trim_end_matches('.').to_ascii_lowercase();
        if !d.is_empty() && !self.domains.contains(&d) {
            self.domains.push(d);
        }
    }

    /// Also trust the site (registrable domain) of `url`'s host.
    fn add_site_of(&mut self, url: &str) {
        if let Some((origin, _)) = http::split_url(url) {
            self.add(&site_of(&http::host_of(&origin)));
        }
    }

    /// Whether credentials may go to `host`.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        // An address is trusted as itself only, never as a "subdomain".
        let by_suffix = !is_address(&host);
        self.domains.iter().any(|d| {
            host == *d || (by_suffix && !is_address(d) && host.ends_with(&format!(".{d}")))
        })
    }

    /// The domains trusted, for a message.
    pub fn domains(&self) -> &[String] {
        &self.domains
    }
}

fn is_address(host: &str) -> bool {
    host.trim_matches(|c| c == '[' || c == ']')
        .parse::<std::net::IpAddr>()
        .is_ok()
}

/// The site of a host: its registrable domain by Mozilla's public suffix
/// list (`icloud.com` for `p42-contacts.icloud.com`, `bakery.com.pl` for
/// `dav.bakery.com.pl`, `anna.duckdns.org` for `cloud.anna.duckdns.org`:
/// private suffixes count, every name under them is someone else's), or
/// the host itself for an IP address, a one-label name, or a name that is
/// itself a public suffix.
pub fn site_of(host: &str) -> String {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if is_address(&host) || !host.contains('.') {
        return host;
    }
    psl::domain_str(&host).map(str::to_owned).unwrap_or(host)
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
    /// The account at `url` (a server, a principal, a home or one
    /// collection); its credentials go only within `url`'s site.
    pub fn connect(url: &str, auth: Auth) -> Result<Server, DavError> {
        Server::connect_all(&[url], auth, &Trust::default(), &Reach::default())
    }

    /// The account whose contacts and calendars start at `urls` (one
    /// each, or one for both), its credentials sent only within `trust`
    /// and the sites of `urls`; each server reached as `reach` says.
    pub fn connect_all<S: AsRef<str>>(
        urls: &[S],
        auth: Auth,
        trust: &Trust,
        reach: &Reach,
    ) -> Result<Server, DavError> {
        let first = urls.first().map(AsRef::as_ref).unwrap_or("");
        let (client, start) = Client::reached(first, auth, reach)?;
        let mut trust = trust.clone();
        let mut server = Server {
            client,
            others: Default::default(),
            starts: vec![start],
            trust: Trust::default(),
        };
        for url in urls {
            trust.add_site_of(url.as_ref());
        }
        server.trust = trust;
        for url in urls.iter().skip(1) {
            let url = url.as_ref();
            let (origin, path) = http::split_url(url).ok_or_else(|| DavError::BadAddress {
                url: url.to_owned(),
            })?;
            server.client_for(&origin)?;
            let start = server.href(&origin, &path);
            if !server.starts.contains(&start) {
                server.starts.push(start);
            }
        }
        Ok(server)
    }

    /// The server's origin (the first one's, when the account has several).
    pub fn origin(&self) -> &str {
        self.client.origin()
    }

    /// The client of `origin`: the account's own, or a new one when the
    /// origin's host is trusted; else the refusal in words.
    fn client_for(&self, origin: &str) -> Result<Client, DavError> {
        if origin.eq_ignore_ascii_case(self.client.origin()) {
            return Ok(self.client.clone());
        }
        let mut others = self.others.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = others
            .iter()
            .find(|c| c.origin().eq_ignore_ascii_case(origin))
        {
            return Ok(c.clone());
        }
        let host = http::host_of(origin);
        if !self.trust.allows(&host) {
            return Err(DavError::Elsewhere {
                url: origin.to_owned(),
                trusted: self.trust.domains().join(", "),
            });
        }
        let client = self.client.for_origin(origin)?;
        others.push(client.clone());
        Ok(client)
    }

    /// The client and path of `href` (a path on the first origin, or an
    /// absolute URL).
    fn route(&self, href: &str) -> Result<(Client, String), DavError> {
        if href.starts_with('/') {
            return Ok((self.client.clone(), href.to_owned()));
        }
        let (origin, path) = http::split_url(href).ok_or_else(|| DavError::BadAddress {
            url: href.to_owned(),
        })?;
        Ok((self.client_for(&origin)?, path))
    }

    /// `href` as read from `origin`'s answer, as this account names it: a
    /// path on the first origin, else an absolute URL.
    fn href(&self, origin: &str, href: &str) -> String {
        let (origin, path) = if href.starts_with('/') {
            (origin.to_ascii_lowercase(), href.to_owned())
        } else {
            match http::split_url(href) {
                Some(split) => split,
                None => return href.to_owned(),
            }
        };
        if origin.eq_ignore_ascii_case(self.client.origin()) {
            path
        } else {
            format!("{origin}{path}")
        }
    }

    /// The origin `href` is on.
    fn origin_of(&self, href: &str) -> String {
        match http::split_url(href) {
            Some((origin, _)) if !href.starts_with('/') => origin,
            _ => self.client.origin().to_owned(),
        }
    }

    /// One request to the server `href` is on.
    fn send(
        &self,
        method: &str,
        href: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<http::Answer, DavError> {
        let (client, path) = self.route(href)?;
        client.send(method, &path, headers, body)
    }

    fn propfind(&self, path: &str, depth: &str, props: &[(&str, &str)]) -> Result<Found, DavError> {
        let answer = self.send(
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
    /// the account (from each of its starts: contacts and calendars may
    /// live on different servers).
    pub fn discover(&self) -> Result<(Homes, Vec<Collection>), DavError> {
        let mut homes = Homes::default();
        let mut collections: Vec<Collection> = Vec::new();
        for start in &self.starts {
            let (h, found) = self.discover_from(start)?;
            homes.contacts = homes.contacts.or(h.contacts);
            homes.calendars = homes.calendars.or(h.calendars);
            for c in found {
                if !collections.iter().any(|k| k.href == c.href) {
                    collections.push(c);
                }
            }
        }
        collections.sort_by(|a, b| a.href.cmp(&b.href));
        Ok((homes, collections))
    }

    /// The home sets and collections found from one start.
    fn discover_from(&self, start: &str) -> Result<(Homes, Vec<Collection>), DavError> {
        let origin = self.origin_of(start);
        let not_dav = || DavError::NotDav {
            url: if start.starts_with('/') {
                format!("{origin}{start}")
            } else {
                start.to_owned()
            },
        };
        let mut at = start.to_owned();
        let mut first = None;
        // The start, else the RFC 6764 well-known addresses, each followed
        // through up to [`MAX_REDIRECTS`] redirects (a web server may send
        // the well-known address on to a path that sends it on again).
        let mut candidates = vec![at.clone()];
        let (root, path) = match start.strip_prefix(origin.as_str()) {
            Some(path) if !start.starts_with('/') => (origin.as_str(), path),
            _ => ("", start),
        };
        if path == "/" {
            candidates.push(format!("{root}/.well-known/carddav"));
            candidates.push(format!("{root}/.well-known/caldav"));
        }
        'candidates: for candidate in candidates {
            let mut here = candidate;
            for _ in 0..=MAX_REDIRECTS {
                let (status, parsed, location) = self.propfind(&here, "0", &DISCOVERY_PROPS)?;
                match location.filter(|_| (300..400).contains(&status)) {
                    Some(l) => here = self.href(&self.origin_of(&here), &l),
                    None => {
                        if let Some(r) =
                            parsed.and_then(|mut r| (!r.is_empty()).then(|| r.remove(0)))
                        {
                            at = here;
                            first = Some(r);
                            break 'candidates;
                        }
                        break;
                    }
                }
            }
        }
        let first = first.ok_or_else(not_dav)?;
        let here = self.origin_of(&at);
        if let Some(c) = self.collection_of(&first, &here, &at) {
            let mut homes = Homes::default();
            let parent = parent_of(&c.href);
            match c.kind {
                ObjectKind::Contact => homes.contacts = Some(parent),
                ObjectKind::Calendar => homes.calendars = Some(parent),
            }
            return Ok((homes, vec![c]));
        }
        // The principal's home sets (on this server or, at iCloud, another).
        let mut principal = first.clone();
        let mut principal_origin = here.clone();
        if let Some(p) = first
            .prop(DAV, "current-user-principal")
            .and_then(|p| p.hrefs.first())
            .map(|h| self.href(&here, h))
        {
            if p != at {
                if let (_, Some(mut r), _) = self.propfind(&p, "0", &DISCOVERY_PROPS)? {
                    if !r.is_empty() {
                        principal = r.remove(0);
                        principal_origin = self.origin_of(&p);
                    }
                }
            }
        }
        let home = |ns: &str, name: &str| {
            principal
                .prop(ns, name)
                .and_then(|p| p.hrefs.first())
                .map(|h| self.href(&principal_origin, h))
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
            let there = self.origin_of(&place);
            for r in parsed.unwrap_or_default() {
                if let Some(c) = self.collection_of(&r, &there, &place) {
                    if !collections.iter().any(|k| k.href == c.href) {
                        collections.push(c);
                    }
                }
            }
        }
        Ok((homes, collections))
    }

    fn collection_of(&self, r: &xml::Response, origin: &str, fallback: &str) -> Option<Collection> {
        let kind = if r.is(CARDDAV, "addressbook") {
            ObjectKind::Contact
        } else if r.is(CALDAV, "calendar") {
            ObjectKind::Calendar
        } else {
            return None;
        };
        let href = Some(self.href(origin, &r.href))
            .filter(|h| self.origin_of(h) == origin)
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
        let origin = self.origin_of(collection);
        let mut entries: Vec<Entry> = parsed
            .into_iter()
            .filter(|r| !r.is(DAV, "collection"))
            .filter_map(|r| {
                // Objects of this collection's server only.
                let href =
                    Some(self.href(&origin, &r.href)).filter(|h| self.origin_of(h) == origin)?;
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
        let answer = self.send("GET", href, &[], b"")?;
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
        self.send("PUT", href, &headers, bytes)
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
        let answer = self.send(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_sign_in_says_what_to_do_about_what_was_refused() {
        let password = DavError::SignInRefused {
            server: "https://contacts.example".into(),
            password: true,
        }
        .to_string();
        assert!(password.contains("user name and password"), "{password}");
        assert!(password.contains("app password"), "{password}");
        let token = DavError::SignInRefused {
            server: "https://graph.microsoft.com".into(),
            password: false,
        }
        .to_string();
        assert!(token.contains("sign in again"), "{token}");
        assert!(
            !token.contains("password"),
            "a sign-in's token has no password to check: {token}"
        );
    }

    #[test]
    fn a_hosts_site_is_its_registrable_domain() {
        assert_eq!(site_of("p42-contacts.icloud.com"), "icloud.com");
        assert_eq!(site_of("Contacts.iCloud.com."), "icloud.com");
        assert_eq!(site_of("dav.bakery.co.uk"), "bakery.co.uk");
        assert_eq!(site_of("bakery.co.uk"), "bakery.co.uk");
        // Beyond the handful of country second levels once listed by hand:
        // the last two labels would have trusted every name under them.
        assert_eq!(site_of("dav.bakery.com.pl"), "bakery.com.pl");
        assert_eq!(site_of("cal.bakery.gov.br"), "bakery.gov.br");
        // Private suffixes: a dynamic-DNS or hosting name is its owner's only.
        assert_eq!(site_of("cloud.anna.duckdns.org"), "anna.duckdns.org");
        assert_eq!(site_of("anna.github.io"), "anna.github.io");
        // A public suffix is nobody's site but itself.
        assert_eq!(site_of("co.uk"), "co.uk");
        // So a sign-in at a self-hosted server goes to no neighbour's.
        let mut trust = Trust::default();
        trust.add_site_of("https://cloud.anna.duckdns.org/remote.php/dav/");
        assert!(trust.allows("cloud.anna.duckdns.org"));
        assert!(!trust.allows("evil.duckdns.org"));
        assert_eq!(site_of("127.0.0.1"), "127.0.0.1");
        assert_eq!(site_of("::1"), "::1");
        assert_eq!(site_of("localhost"), "localhost");
    }

    #[test]
    fn credentials_stay_within_the_trusted_domains() {
        let trust = Trust::new(&["icloud.com", "127.0.0.1"]);
        assert!(trust.allows("p42-contacts.icloud.com"));
        assert!(trust.allows("icloud.com"));
        assert!(
            !trust.allows("evil-icloud.com"),
            "a suffix is not a subdomain"
        );
        assert!(!trust.allows("icloud.com.evil.example"));
        assert!(trust.allows("127.0.0.1"));
        assert!(
            !trust.allows("localhost"),
            "an address is trusted as itself only"
        );
        assert!(!Trust::new(&["0.0.1"]).allows("127.0.0.1"));
    }

    #[test]
    fn hrefs_on_other_servers_are_absolute_and_refused_outside_the_trust() {
        let auth = || Auth::Basic {
            user: "a".into(),
            password: "b".into(),
        };
        let server = Server::connect_all(
            &["https://contacts.icloud.com/", "https://caldav.icloud.com/"],
            auth(),
            &Trust::default(),
            &Reach::default(),
        )
        .unwrap();
        assert_eq!(server.starts, vec!["/", "https://caldav.icloud.com/"]);
        assert_eq!(
            server.href("https://contacts.icloud.com", "/123/principal/"),
            "/123/principal/"
        );
        assert_eq!(
            server.href(
                "https://contacts.icloud.com",
                "https://P42-Contacts.icloud.com:443/123/carddavhome/"
            ),
            "https://p42-contacts.icloud.com:443/123/carddavhome/"
        );
        assert_eq!(
            server.href("https://caldav.icloud.com", "/123/calendars/"),
            "https://caldav.icloud.com/123/calendars/"
        );
        assert!(server.route("https://p42-caldav.icloud.com/1/").is_ok());
        let refused = server.route("https://dav.evil.example/1/").unwrap_err();
        assert!(matches!(refused, DavError::Elsewhere { .. }), "{refused}");
        assert!(refused.to_string().contains("icloud.com"), "{refused}");
        assert!(
            Server::connect_all(
                &["https://contacts.icloud.com/", "https://dav.evil.example/"],
                auth(),
                &Trust::default(),
                &Reach::default()
            )
            .is_ok(),
            "addresses the user gave are trusted"
        );
    }
}
