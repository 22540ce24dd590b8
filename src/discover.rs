//! Discovery: from an email address to the IMAP server that holds its
//! mail, so a user who knows only their address never types a server
//! name.
//!
//! [`discover`] asks, in this order, and stops at the first server that
//! passes: the presets by the address's domain (`gmail.com`); the
//! domain's mail records (MX) recognised as a provider (Google Workspace,
//! Microsoft 365, Zoho, Fastmail, iCloud, a few hosting companies);
//! Mozilla autoconfig (`autoconfig.<domain>`, then
//! `<domain>/.well-known/autoconfig`, then the ISPDB); RFC 6186 service
//! records (`_imaps._tcp`, `_imap._tcp`); Exchange Autodiscover; and guesses (`imap.<domain>`,
//! `mail.<domain>`, the mail host). Every candidate is proven by the
//! connection check's steps before sign-in ([`check::reach`]: found,
//! secured, capabilities read) before it is offered. No credentials are
//! taken, so no password can reach a server the user has not seen.
//!
//! Safe by default: settings learned over plain HTTP, for a host outside
//! the domain, or for an unencrypted connection carry a [`Caution`] and
//! are offered only when nothing without one passed, and then only with
//! the user's confirmation. A certificate for another name is never
//! accepted; its own name is offered instead, in words.
//!
//! Every address asked (name servers, web servers, ports) is a
//! [`DiscoverSettings`] field, so tests run on 127.0.0.1 only.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use serde::Serialize;

use crate::check;
use crate::endpoint::{Endpoint, Security};
use crate::error::{Error, Problem};
use crate::mx;
use crate::preset;

/// The public ISPDB, Thunderbird's database of providers' settings.
pub const ISPDB: &str = "https://autoconfig.thunderbird.net/v1.1/";

/// Where discovery looks, and how long it waits.
#[derive(Clone, Debug)]
pub struct DiscoverSettings {
    /// Name servers to ask; the system's when empty.
    pub resolvers: Vec<SocketAddr>,
    /// The ISPDB's base URL (the domain is appended); `None` skips it.
    pub ispdb: Option<String>,
    /// The port autoconfig documents are fetched from over HTTPS (443).
    pub https_port: u16,
    /// The port autoconfig documents are fetched from over plain HTTP (80).
    pub http_port: u16,
    /// The IMAP-over-TLS port of presets and guesses (993).
    pub imaps_port: u16,
    /// The STARTTLS port of guesses (143).
    pub imap_port: u16,
    /// Certificate authorities trusted besides the system's (PEM), for
    /// both the web servers and the mail servers.
    pub extra_roots_pem: Vec<String>,
    /// How long each connection, question and download may take.
    pub timeout: Duration,
}

impl Default for DiscoverSettings {
    fn default() -> Self {
        DiscoverSettings {
            resolvers: Vec::new(),
            ispdb: Some(ISPDB.to_owned()),
            https_port: 443,
            http_port: 80,
            imaps_port: 993,
            imap_port: 143,
            extra_roots_pem: Vec::new(),
            timeout: Duration::from_secs(10),
        }
    }
}

/// The environment variable naming the name servers discovery asks
/// (`IP:PORT`, comma-separated) instead of the system's; the CLI's
/// `--name-server` reads it too.
pub const NAME_SERVER_VAR: &str = "MAILFERRY_NAME_SERVER";

/// The environment variable giving the ISPDB's base address; empty skips
/// the ISPDB. The CLI's `--ispdb` reads it too.
pub const ISPDB_VAR: &str = "MAILFERRY_ISPDB";

impl DiscoverSettings {
    /// The default settings, with the name servers and the ISPDB the
    /// environment names ([`NAME_SERVER_VAR`], [`ISPDB_VAR`]); an error in
    /// words when a value is not one.
    pub fn from_env() -> Result<DiscoverSettings, String> {
        DiscoverSettings::from_values(
            std::env::var(NAME_SERVER_VAR).ok().as_deref(),
            std::env::var(ISPDB_VAR).ok().as_deref(),
        )
    }

    /// The default settings with these values of [`NAME_SERVER_VAR`] and
    /// [`ISPDB_VAR`] (each `None` when unset).
    pub fn from_values(
        name_servers: Option<&str>,
        ispdb: Option<&str>,
    ) -> Result<DiscoverSettings, String> {
        let mut settings = DiscoverSettings::default();
        for part in name_servers.unwrap_or("").split(',').map(str::trim) {
            if part.is_empty() {
                continue;
            }
            let server = part.parse::<SocketAddr>().map_err(|_| {
                format!(
                    "{NAME_SERVER_VAR} holds {part:?}, which is not an address and port (IP:PORT)"
                )
            })?;
            settings.resolvers.push(server);
        }
        if let Some(base) = ispdb {
            let base = base.trim();
            settings.ispdb = if base.is_empty() {
                None
            } else if base.starts_with("https://") || base.starts_with("http://") {
                Some(base.to_owned())
            } else {
                return Err(format!(
                    "{ISPDB_VAR} holds {base:?}, which is not a web address (https://…)"
                ));
            };
        }
        Ok(settings)
    }
}

/// Where a candidate came from, in the order they are asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The address's domain is a provider's own (`gmail.com`).
    Preset,
    /// The domain's mail records name a known provider.
    Mx,
    /// An autoconfig document the domain publishes.
    Autoconfig,
    /// Thunderbird's database of providers.
    Ispdb,
    /// The domain's service records (RFC 6186).
    Srv,
    /// Exchange Autodiscover (the POX `autodiscover.xml` of an Exchange
    /// server the domain runs itself).
    Autodiscover,
    /// A usual server name tried on the chance.
    Guess,
}

/// Why a candidate needs the user's confirmation before a password is
/// sent to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Caution {
    /// The settings came over plain HTTP, where anyone on the way could
    /// have changed them.
    PlainHttp {
        /// The document's address.
        url: String,
    },
    /// The server is not part of the address's domain.
    OutsideDomain {
        /// The server.
        host: String,
        /// The address's domain.
        domain: String,
    },
    /// The server offers only an unencrypted connection.
    Unencrypted,
    /// The name was read from the certificate another server showed,
    /// not from the domain's settings.
    CertificateName {
        /// The server whose certificate named it.
        asked: String,
    },
}

impl Caution {
    /// The caution in plain words.
    pub fn words(&self) -> String {
        match self {
            Caution::PlainHttp { url } => format!(
                "these settings came over an unencrypted connection ({url}), where anyone on the \
                 way could have changed them"
            ),
            Caution::OutsideDomain { host, domain } => {
                format!("{host} is not part of {domain}")
            }
            Caution::CertificateName { asked } => {
                format!("this name comes from the certificate {asked} showed")
            }
            Caution::Unencrypted => "this server offers only an unencrypted connection: your \
                                     password would cross the network readable by anyone"
                .to_owned(),
        }
    }
}

/// What the check found for a candidate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Verdict {
    /// Not tried: an earlier candidate passed.
    NotTried,
    /// Found, secured, and it speaks IMAP.
    Proven {
        /// What it offers before sign-in.
        capabilities: Vec<String>,
    },
    /// Its certificate is for another name; that name is offered.
    OtherName {
        /// The names the certificate is for.
        names: Vec<String>,
        /// The question, in plain words.
        message: String,
    },
    /// It did not pass.
    Failed {
        /// The problem's code.
        code: String,
        /// Plain words.
        message: String,
    },
}

/// One server discovery found, with where it came from.
#[derive(Clone, Debug, Serialize)]
pub struct Candidate {
    /// Server name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Security.
    pub security: Security,
    /// The address the name was found at, when discovery was told to ask
    /// name servers other than the system's.
    pub address: Option<IpAddr>,
    /// Where it came from.
    pub source: Source,
    /// How it was found, in a sentence ("Mail for bakery.example is
    /// handled by Google Workspace (from its MX records)").
    pub how: String,
    /// The preset it matches (`gmail`, `microsoft`, …; `other` when none).
    pub preset: &'static str,
    /// The user name the source says to sign in with, when it says
    /// (autoconfig's `%EMAILADDRESS%` filled in).
    pub username: Option<String>,
    /// Why it needs the user's confirmation, if it does.
    pub cautions: Vec<Caution>,
    /// What the check found.
    pub verdict: Verdict,
}

impl Candidate {
    /// The endpoint to connect to, with discovery's trust and timeout.
    pub fn endpoint(&self, settings: &DiscoverSettings) -> Endpoint {
        let mut e = Endpoint::new(self.host.clone())
            .with_security(self.security)
            .with_port(self.port);
        e.address = self.address;
        e.extra_roots_pem = settings.extra_roots_pem.clone();
        e.timeout = settings.timeout;
        e
    }

    /// Did the check pass?
    pub fn proven(&self) -> bool {
        matches!(self.verdict, Verdict::Proven { .. })
    }
}

/// What discovery found for one address.
#[derive(Clone, Debug, Serialize)]
pub struct Discovery {
    /// The address asked about.
    pub address: String,
    /// Its domain.
    pub domain: String,
    /// Every candidate, in the order they were asked.
    pub candidates: Vec<Candidate>,
    /// The index of the one chosen: the first that passed with no
    /// caution, else the first that passed.
    pub chosen: Option<usize>,
    /// The chosen one needs the user's confirmation (it has cautions).
    pub needs_confirmation: bool,
    /// The outcome in plain words.
    pub words: String,
}

impl Discovery {
    /// The chosen candidate.
    pub fn chosen(&self) -> Option<&Candidate> {
        self.chosen.and_then(|i| self.candidates.get(i))
    }
}

/// The domain of an email address, lower case; `None` when it is not one.
pub fn domain_of(address: &str) -> Option<String> {
    let (local, domain) = address.trim().rsplit_once('@')?;
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let valid = !local.is_empty()
        && domain.contains('.')
        && domain
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    valid.then_some(domain)
}

/// Is `host` the domain or inside it?
pub fn within(host: &str, domain: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    host == domain || host.ends_with(&format!(".{domain}"))
}

/// A provider recognised from a mail host: its preset id and the name
/// users know it by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recognised {
    /// The preset id, or `None` for a hosting company whose IMAP server is
    /// given in `imap_host`.
    pub preset: Option<&'static str>,
    /// The IMAP server of a hosting company (no preset of its own).
    pub imap_host: Option<&'static str>,
    /// The provider's name ("Google Workspace").
    pub name: &'static str,
}

/// Mail hosts (suffixes) and the provider they belong to.
const MAIL_HOSTS: &[(&str, Recognised)] = &[
    ("google.com", hosted("gmail", "Google Workspace")),
    ("googlemail.com", hosted("gmail", "Google Workspace")),
    (
        "mail.protection.outlook.com",
        hosted("microsoft", "Microsoft 365"),
    ),
    ("outlook.com", hosted("microsoft", "Microsoft 365")),
    ("zoho.com", hosted("zoho", "Zoho")),
    ("zoho.eu", hosted("zoho", "Zoho")),
    ("zoho.in", hosted("zoho", "Zoho")),
    ("messagingengine.com", hosted("fastmail", "Fastmail")),
    ("mail.icloud.com", hosted("icloud", "iCloud")),
    ("yahoodns.net", hosted("yahoo", "Yahoo")),
    (
        "secureserver.net",
        company("imap.secureserver.net", "GoDaddy"),
    ),
    ("ionos.com", company("imap.ionos.com", "IONOS")),
    ("ionos.de", company("imap.ionos.de", "IONOS")),
    ("ovh.net", company("ssl0.ovh.net", "OVHcloud")),
    ("mailspamprotection.com", company("", "SiteGround")),
];

const fn hosted(preset: &'static str, name: &'static str) -> Recognised {
    Recognised {
        preset: Some(preset),
        imap_host: None,
        name,
    }
}

const fn company(imap_host: &'static str, name: &'static str) -> Recognised {
    Recognised {
        preset: None,
        imap_host: if imap_host.is_empty() {
            None
        } else {
            Some(imap_host)
        },
        name,
    }
}

/// The provider a mail host belongs to, when it is a known one.
pub fn recognise_mx(host: &str) -> Option<Recognised> {
    MAIL_HOSTS
        .iter()
        .find(|(suffix, _)| within(host, suffix))
        .map(|(_, r)| *r)
}

/// One incoming server an autoconfig document offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferedServer {
    /// Server name, `%EMAILDOMAIN%` filled in.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Security (`SSL` is TLS, `STARTTLS`, `plain`).
    pub security: Security,
    /// The user name to sign in with, placeholders filled in.
    pub username: Option<String>,
}

/// An incoming server's fields as read so far: host, port, socket type,
/// user name.
type Fields = (Option<String>, Option<u16>, Option<String>, Option<String>);

/// The IMAP servers of a Mozilla autoconfig document
/// (`clientConfig/emailProvider/incomingServer[@type="imap"]`), in the
/// document's order, with `%EMAILADDRESS%`, `%EMAILLOCALPART%` and
/// `%EMAILDOMAIN%` filled in from `address`. POP3 servers and anything
/// unreadable are left out.
pub fn parse_autoconfig(xml: &str, address: &str) -> Vec<OfferedServer> {
    use quick_xml::events::Event;
    let (local, domain) = address.rsplit_once('@').unwrap_or((address, ""));
    let fill = |text: &str| {
        text.replace("%EMAILADDRESS%", address)
            .replace("%EMAILLOCALPART%", local)
            .replace("%EMAILDOMAIN%", domain)
    };
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut servers = Vec::new();
    // Inside an IMAP incomingServer: its fields so far.
    let mut current: Option<Fields> = None;
    let mut field: Option<String> = None;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                let name = e.local_name().as_ref().to_owned();
                if name == "incomingServer" {
                    let imap = e
                        .try_get_attribute("type")
                        .ok()
                        .flatten()
                        .map(|a| a.value.trim().to_owned())
                        .is_some_and(|t| t.eq_ignore_ascii_case("imap"));
                    current = imap.then_some((None, None, None, None));
                } else if current.is_some() {
                    field = Some(name);
                }
            }
            Ok(Event::Text(t)) => {
                if let (Some(server), Some(name)) = (current.as_mut(), field.as_deref()) {
                    let text = t.xml10_content().trim().to_owned();
                    match name {
                        "hostname" => server.0 = Some(fill(&text)),
                        "port" => server.1 = text.parse().ok(),
                        "socketType" => server.2 = Some(text),
                        "username" => server.3 = Some(fill(&text)),
                        _ => {}
                    }
                }
            }
            Ok(Event::End(e)) => {
                let name = e.local_name().as_ref().to_owned();
                if name == "incomingServer" {
                    if let Some((Some(host), port, socket, username)) = current.take() {
                        let security = match socket.as_deref().map(str::to_ascii_uppercase) {
                            Some(s) if s == "SSL" || s == "TLS" => Some(Security::Tls),
                            Some(s) if s == "STARTTLS" => Some(Security::StartTls),
                            Some(s) if s == "PLAIN" => Some(Security::Plain),
                            _ => None,
                        };
                        if let Some(security) = security {
                            if !host.is_empty() {
                                servers.push(OfferedServer {
                                    host: host.to_ascii_lowercase(),
                                    port: port.unwrap_or(security.default_port()),
                                    security,
                                    username,
                                });
                            }
                        }
                    }
                    current = None;
                }
                field = None;
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
    servers
}

/// The POX Autodiscover request for `address` (Outlook's schema).
fn autodiscover_request(address: &str) -> String {
    let address = address
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n\
         <Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\">\
         <Request><EMailAddress>{address}</EMailAddress>\
         <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>\
         </Request></Autodiscover>"
    )
}

/// The IMAP servers of an Exchange Autodiscover answer
/// (`Response/Account/Protocol` with `Type` IMAP): `Server`, `Port`, and
/// `Encryption` (`SSL`, `TLS` meaning STARTTLS, `None`) or else `SSL`
/// (`on`, `off`); `LoginName` as the user name.
pub fn parse_autodiscover(xml: &str) -> Vec<OfferedServer> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut servers = Vec::new();
    let mut fields: Option<std::collections::HashMap<String, String>> = None;
    let mut field: Option<String> = None;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                let name = e.local_name().as_ref().to_owned();
                if name == "Protocol" {
                    fields = Some(Default::default());
                } else if fields.is_some() {
                    field = Some(name);
                }
            }
            Ok(Event::Text(t)) => {
                if let (Some(fields), Some(name)) = (fields.as_mut(), field.as_deref()) {
                    fields.insert(name.to_owned(), t.xml10_content().trim().to_owned());
                }
            }
            Ok(Event::End(e)) => {
                if e.local_name().as_ref() == "Protocol" {
                    if let Some(server) = fields.take().and_then(|f| autodiscover_server(&f)) {
                        servers.push(server);
                    }
                }
                field = None;
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
    servers
}

fn autodiscover_server(f: &std::collections::HashMap<String, String>) -> Option<OfferedServer> {
    if !f.get("Type")?.eq_ignore_ascii_case("IMAP") {
        return None;
    }
    let host = f.get("Server")?.to_ascii_lowercase();
    if host.is_empty() {
        return None;
    }
    let security = match f.get("Encryption").map(|e| e.to_ascii_uppercase()) {
        Some(e) if e == "SSL" => Security::Tls,
        Some(e) if e == "TLS" => Security::StartTls,
        Some(e) if e == "NONE" => Security::Plain,
        Some(_) => return None,
        None => match f.get("SSL").map(|s| s.to_ascii_lowercase()) {
            Some(s) if s == "off" => Security::Plain,
            _ => Security::Tls,
        },
    };
    let port = f
        .get("Port")
        .and_then(|p| p.parse().ok())
        .unwrap_or(security.default_port());
    Some(OfferedServer {
        host,
        port,
        security,
        username: f.get("LoginName").filter(|n| !n.is_empty()).cloned(),
    })
}

/// Finds the IMAP server for `address`: asks each source in turn, proves
/// each candidate with the check's steps before sign-in, and stops at the
/// first one that passes without a caution. Sends no password anywhere.
pub async fn discover(address: &str, settings: &DiscoverSettings) -> Discovery {
    let address = address.trim().to_owned();
    let Some(domain) = domain_of(&address) else {
        return Discovery {
            words: format!("{address} is not an email address (it needs a name, @ and a domain)."),
            address,
            domain: String::new(),
            candidates: Vec::new(),
            chosen: None,
            needs_confirmation: false,
        };
    };
    let mut search = Search {
        address: address.clone(),
        domain: domain.clone(),
        settings,
        dns: mx::resolver_for(&settings.resolvers),
        candidates: Vec::new(),
        tried: 0,
    };
    search.run().await;
    let Search { candidates, .. } = search;
    finish(address, domain, candidates)
}

/// The sources asked in order, and the candidates so far.
struct Search<'a> {
    address: String,
    domain: String,
    settings: &'a DiscoverSettings,
    dns: Result<TokioResolver, String>,
    candidates: Vec<Candidate>,
    /// How many candidates have been through the check.
    tried: usize,
}

impl Search<'_> {
    async fn run(&mut self) {
        self.ask_presets();
        if self.prove().await {
            return;
        }
        let mail_hosts = match &self.dns {
            Ok(dns) => mx::mail_hosts(dns, &self.domain).await,
            Err(_) => Vec::new(),
        };
        self.ask_mx(&mail_hosts);
        if self.prove().await {
            return;
        }
        self.ask_autoconfig().await;
        if self.prove().await {
            return;
        }
        self.ask_ispdb().await;
        if self.prove().await {
            return;
        }
        self.ask_srv().await;
        if self.prove().await {
            return;
        }
        self.ask_autodiscover().await;
        if self.prove().await {
            return;
        }
        self.guess(&mail_hosts);
        self.prove().await;
    }

    /// Adds a candidate unless the same server is already listed.
    fn offer(&mut self, mut candidate: Candidate) {
        let same = self.candidates.iter().any(|c| {
            c.host == candidate.host && c.port == candidate.port && c.security == candidate.security
        });
        if same {
            return;
        }
        if !within(&candidate.host, &self.domain)
            && !matches!(candidate.source, Source::Preset | Source::Mx)
        {
            candidate.cautions.push(Caution::OutsideDomain {
                host: candidate.host.clone(),
                domain: self.domain.clone(),
            });
        }
        if candidate.security == Security::Plain {
            candidate.cautions.push(Caution::Unencrypted);
        }
        self.candidates.push(candidate);
    }

    fn candidate(
        &self,
        host: &str,
        port: u16,
        security: Security,
        source: Source,
        how: String,
    ) -> Candidate {
        Candidate {
            host: host.trim_end_matches('.').to_ascii_lowercase(),
            port,
            security,
            address: None,
            source,
            how,
            preset: preset::for_host(host).id,
            username: None,
            cautions: Vec::new(),
            verdict: Verdict::NotTried,
        }
    }

    fn ask_presets(&mut self) {
        let Some(p) = preset::for_domain(&self.domain) else {
            return;
        };
        let Some(host) = p.host else { return };
        let port = self.port_for(p.security);
        let how = format!("{} addresses are {} accounts", self.domain, p.name);
        let mut c = self.candidate(host, port, p.security, Source::Preset, how);
        c.preset = p.id;
        self.offer(c);
    }

    fn ask_mx(&mut self, mail_hosts: &[String]) {
        for mail_host in mail_hosts {
            let Some(r) = recognise_mx(mail_host) else {
                continue;
            };
            let how = format!(
                "Mail for {} is handled by {} (from its MX records)",
                self.domain, r.name
            );
            match (r.preset.and_then(preset::by_id), r.imap_host) {
                (Some(p), _) => {
                    let Some(host) = p.host else { continue };
                    let port = self.port_for(p.security);
                    let mut c = self.candidate(host, port, p.security, Source::Mx, how);
                    c.preset = p.id;
                    self.offer(c);
                }
                (None, Some(host)) => {
                    let port = self.settings.imaps_port;
                    let mut c = self.candidate(host, port, Security::Tls, Source::Mx, how);
                    c.preset = "hosting";
                    self.offer(c);
                }
                (None, None) => {}
            }
        }
    }

    async fn ask_autoconfig(&mut self) {
        let encoded = percent_encode(&self.address);
        let d = self.domain.clone();
        let places = [
            (
                "https",
                format!("autoconfig.{d}"),
                format!("/mail/config-v1.1.xml?emailaddress={encoded}"),
            ),
            (
                "https",
                d.clone(),
                "/.well-known/autoconfig/mail/config-v1.1.xml".to_owned(),
            ),
            (
                "http",
                format!("autoconfig.{d}"),
                format!("/mail/config-v1.1.xml?emailaddress={encoded}"),
            ),
            (
                "http",
                d.clone(),
                "/.well-known/autoconfig/mail/config-v1.1.xml".to_owned(),
            ),
        ];
        for (scheme, host, path) in places {
            let port = if scheme == "https" {
                self.settings.https_port
            } else {
                self.settings.http_port
            };
            let url = url_of(scheme, &host, port, &path);
            let Ok(got) = self.fetch(&url).await else {
                continue;
            };
            let servers = parse_autoconfig(&got.body, &self.address);
            if servers.is_empty() {
                continue;
            }
            self.offer_servers(servers, Source::Autoconfig, &got);
            return;
        }
    }

    async fn ask_ispdb(&mut self) {
        let Some(base) = self.settings.ispdb.clone() else {
            return;
        };
        let url = format!("{}/{}", base.trim_end_matches('/'), self.domain);
        let Ok(got) = self.fetch(&url).await else {
            return;
        };
        let servers = parse_autoconfig(&got.body, &self.address);
        self.offer_servers(servers, Source::Ispdb, &got);
    }

    fn offer_servers(&mut self, servers: Vec<OfferedServer>, source: Source, got: &Fetched) {
        let url = got.shown();
        for s in servers {
            let how = match source {
                Source::Ispdb => format!("from Thunderbird's list of providers ({url})"),
                Source::Autodiscover => {
                    format!("from {}'s Exchange Autodiscover ({url})", self.domain)
                }
                _ => format!("from the settings {} publishes ({url})", self.domain),
            };
            let mut c = self.candidate(&s.host, s.port, s.security, source, how);
            c.username = s.username;
            if let Some(url) = got.plain_url().filter(|_| got.plain) {
                c.cautions.push(Caution::PlainHttp { url });
            }
            self.offer(c);
        }
    }

    async fn ask_srv(&mut self) {
        let Ok(dns) = &self.dns else { return };
        let mut found = Vec::new();
        for (service, security) in [
            ("_imaps._tcp", Security::Tls),
            ("_imap._tcp", Security::StartTls),
        ] {
            for s in mx::services(dns, &format!("{service}.{}", self.domain)).await {
                found.push((service, security, s));
            }
        }
        for (service, security, s) in found {
            let how = format!("from {}'s service records ({service})", self.domain);
            let c = self.candidate(&s.target, s.port, security, Source::Srv, how);
            self.offer(c);
        }
    }

    async fn ask_autodiscover(&mut self) {
        let d = self.domain.clone();
        let port = self.settings.https_port;
        let body = autodiscover_request(&self.address);
        let path = "/autodiscover/autodiscover.xml";
        // Over HTTPS at autodiscover.<domain> and <domain>, then the
        // redirect method: a GET over plain HTTP answered by a redirect,
        // and the request POSTed where it leads (its settings then carry
        // a caution: anyone on the way could have changed the redirect).
        let places = [
            (
                url_of("https", &format!("autodiscover.{d}"), port, path),
                false,
            ),
            (url_of("https", &d, port, path), false),
            (
                url_of(
                    "http",
                    &format!("autodiscover.{d}"),
                    self.settings.http_port,
                    path,
                ),
                true,
            ),
        ];
        for (url, get_first) in places {
            let Ok(got) = self.request(&url, Some(body.clone()), get_first).await else {
                continue;
            };
            let servers = parse_autodiscover(&got.body);
            if servers.is_empty() {
                continue;
            }
            self.offer_servers(servers, Source::Autodiscover, &got);
            return;
        }
    }

    fn guess(&mut self, mail_hosts: &[String]) {
        let mut hosts = vec![
            format!("imap.{}", self.domain),
            format!("mail.{}", self.domain),
        ];
        hosts.extend(mail_hosts.iter().cloned());
        for security in [Security::Tls, Security::StartTls] {
            for host in &hosts {
                let how = format!(
                    "a usual name for {}'s mail server, tried on the chance",
                    self.domain
                );
                let port = self.port_for(security);
                let c = self.candidate(host, port, security, Source::Guess, how);
                self.offer(c);
            }
        }
    }

    fn port_for(&self, security: Security) -> u16 {
        match security {
            Security::Tls => self.settings.imaps_port,
            Security::StartTls | Security::Plain => self.settings.imap_port,
        }
    }

    /// Checks every candidate not yet tried, in order; true when one
    /// passed without a caution (the search is over).
    async fn prove(&mut self) -> bool {
        while self.tried < self.candidates.len() {
            let i = self.tried;
            self.tried += 1;
            let verdict = self.probe(i).await;
            if let Verdict::OtherName { names, .. } = &verdict {
                self.offer_certificate_name(i, names);
            }
            let clean =
                matches!(verdict, Verdict::Proven { .. }) && self.candidates[i].cautions.is_empty();
            self.candidates[i].verdict = verdict;
            if clean {
                return true;
            }
        }
        false
    }

    /// Offers the name on candidate `i`'s certificate (its first that is
    /// not a wildcard) as a candidate of its own, right after it: proven
    /// like any other, and only ever used with the user's confirmation.
    fn offer_certificate_name(&mut self, i: usize, names: &[String]) {
        let Some(name) = names.iter().find(|n| !n.contains('*')) else {
            return;
        };
        let asked = &self.candidates[i];
        let mut c = self.candidate(
            name,
            asked.port,
            asked.security,
            asked.source,
            format!("the name on the certificate of {}", asked.host),
        );
        c.cautions.push(Caution::CertificateName {
            asked: asked.host.clone(),
        });
        let before = self.candidates.len();
        self.offer(c);
        if self.candidates.len() > before {
            let c = self.candidates.remove(before);
            self.candidates.insert(i + 1, c);
        }
    }

    async fn probe(&mut self, i: usize) -> Verdict {
        if !self.settings.resolvers.is_empty() {
            let host = self.candidates[i].host.clone();
            let found = match &self.dns {
                Ok(dns) => mx::address(dns, &host).await,
                Err(e) => Err(e.clone()),
            };
            match found {
                Ok(ip) => self.candidates[i].address = Some(ip),
                Err(detail) => {
                    let err = Error::new(Problem::DnsNotFound { host }).with_detail(detail);
                    return failed(&err);
                }
            }
        }
        let endpoint = self.candidates[i].endpoint(self.settings);
        tracing::debug!(host = %endpoint.host, port = endpoint.port, "discovery: checking");
        match check::reach(&endpoint).await {
            Ok(capabilities) => Verdict::Proven { capabilities },
            Err(err) if !err.certificate_names().is_empty() => {
                let names = err.certificate_names().to_vec();
                let message = other_name_words(&endpoint.host, &names[0]);
                Verdict::OtherName { names, message }
            }
            Err(err) => failed(&err),
        }
    }

    /// Fetches a document, through discovery's name servers when it has
    /// its own; `Err` when there is none.
    async fn fetch(&self, url: &str) -> Result<Fetched, String> {
        self.request(url, None, false).await
    }

    /// Asks `url`, following up to [`MAX_REDIRECTS`] redirects (never from
    /// HTTPS down to plain HTTP). With `get_first`, the first request is a
    /// GET that must redirect (Autodiscover's redirect over plain HTTP) and
    /// `body` is POSTed where it leads.
    async fn request(
        &self,
        url: &str,
        body: Option<String>,
        get_first: bool,
    ) -> Result<Fetched, String> {
        let mut url = url.to_owned();
        let mut plain = url.starts_with("http://");
        let mut via = Vec::new();
        for hop in 0..=MAX_REDIRECTS {
            let host = host_of(&url).ok_or_else(|| format!("{url} names no server"))?;
            let address = if self.settings.resolvers.is_empty() {
                None
            } else {
                match &self.dns {
                    Ok(dns) => Some(mx::address(dns, &host).await?),
                    Err(e) => return Err(e.clone()),
                }
            };
            let asked = url.clone();
            let sent = if get_first && hop == 0 {
                None
            } else {
                body.clone()
            };
            let roots = self.settings.extra_roots_pem.clone();
            let timeout = self.settings.timeout;
            let answer = tokio::task::spawn_blocking(move || {
                http_request(&asked, sent, address, &roots, timeout)
            })
            .await
            .map_err(|e| e.to_string())??;
            match answer {
                Answer::Body(text) if !(get_first && hop == 0) => {
                    return Ok(Fetched {
                        body: text,
                        url,
                        plain,
                        via,
                    })
                }
                Answer::Body(_) => return Err(format!("{url} answered without a redirect")),
                Answer::Redirect(location) => {
                    let next = redirect_target(&url, &location)?;
                    if url.starts_with("https://") && next.starts_with("http://") {
                        return Err(format!(
                            "{url} redirected to {next}, an unencrypted address; not followed"
                        ));
                    }
                    plain |= next.starts_with("http://");
                    via.push(url);
                    url = next;
                }
            }
        }
        Err(format!("{url}: more than {MAX_REDIRECTS} redirects"))
    }
}

/// A document discovery downloaded, and where it ended up.
struct Fetched {
    /// The document.
    body: String,
    /// The address it came from, after redirects.
    url: String,
    /// Some step was over plain HTTP (the first address or a redirect).
    plain: bool,
    /// The addresses that redirected to it, in order.
    via: Vec<String>,
}

impl Fetched {
    /// The address to show: the one it came from, and the first asked
    /// when it was redirected.
    fn shown(&self) -> String {
        let url = self.url.split('?').next().unwrap_or(&self.url);
        match self.via.first() {
            Some(first) => {
                let first = first.split('?').next().unwrap_or(first);
                format!("{url}, redirected from {first}")
            }
            None => url.to_owned(),
        }
    }

    /// The address that makes the settings untrusted, when one does: the
    /// first plain-HTTP address on the way.
    fn plain_url(&self) -> Option<String> {
        self.via
            .iter()
            .chain(std::iter::once(&self.url))
            .find(|u| u.starts_with("http://"))
            .map(|u| u.split('?').next().unwrap_or(u).to_owned())
    }
}

/// How many redirects discovery follows for one document.
const MAX_REDIRECTS: usize = 3;

/// Where a redirect's `Location` leads from `url`: absolute (`http(s)://`)
/// or a path on the same server; anything else is refused.
fn redirect_target(url: &str, location: &str) -> Result<String, String> {
    let location = location.trim();
    if location.starts_with("https://") || location.starts_with("http://") {
        return Ok(location.to_owned());
    }
    if location.starts_with('/') && !location.starts_with("//") {
        let (scheme, rest) = url.split_once("://").ok_or("not a web address")?;
        let authority = rest.split(['/', '?']).next().unwrap_or(rest);
        return Ok(format!("{scheme}://{authority}{location}"));
    }
    Err(format!(
        "{url} redirected to {location:?}, which is not a web address"
    ))
}

fn failed(err: &Error) -> Verdict {
    Verdict::Failed {
        code: err.code().to_owned(),
        message: err.to_string(),
    }
}

/// The question for a certificate made for another name.
fn other_name_words(host: &str, name: &str) -> String {
    format!(
        "Your host's certificate is for {name}: use that name instead? ({host} showed a \
         certificate made for {name}; hosting companies often serve many domains from one \
         server under its own name. MailFerry will not use {host} with a certificate for \
         another name.)"
    )
}

/// The outcome of the search, in words.
fn finish(address: String, domain: String, candidates: Vec<Candidate>) -> Discovery {
    let clean = candidates
        .iter()
        .position(|c| c.proven() && c.cautions.is_empty());
    let chosen = clean.or_else(|| candidates.iter().position(Candidate::proven));
    let needs_confirmation = clean.is_none() && chosen.is_some();
    let words = match chosen.map(|i| &candidates[i]) {
        Some(c) if needs_confirmation && certificate_named(c).is_some() => format!(
            "{} {} answers, secured by that certificate; no password was sent to it.",
            other_name_words(certificate_named(c).unwrap_or_default(), &c.host),
            c.host
        ),
        Some(c) if !needs_confirmation => format!(
            "{}: {}, port {}, {}.",
            capitalised(&c.how),
            c.host,
            c.port,
            security_words(c.security)
        ),
        Some(c) => format!(
            "Found {} (port {}, {}; {}), but {}. Use it only if you recognise it.",
            c.host,
            c.port,
            security_words(c.security),
            c.how,
            c.cautions
                .iter()
                .map(Caution::words)
                .collect::<Vec<_>>()
                .join("; and ")
        ),
        None => match candidates.iter().find_map(|c| match &c.verdict {
            Verdict::OtherName { message, .. } => Some(message.clone()),
            _ => None,
        }) {
            Some(question) => question,
            None => format!(
                "No mail server was found for {domain}. Type its server name: your provider's help \
                 pages or your mail app's account settings show it."
            ),
        },
    };
    Discovery {
        address,
        domain,
        candidates,
        chosen,
        needs_confirmation,
        words,
    }
}

/// `text` with its first letter in capitals.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The server whose certificate named `c`, when it was named so.
fn certificate_named(c: &Candidate) -> Option<&str> {
    c.cautions.iter().find_map(|caution| match caution {
        Caution::CertificateName { asked } => Some(asked.as_str()),
        _ => None,
    })
}

fn security_words(security: Security) -> &'static str {
    match security {
        Security::Tls => "TLS",
        Security::StartTls => "STARTTLS",
        Security::Plain => "unencrypted",
    }
}

fn url_of(scheme: &str, host: &str, port: u16, path: &str) -> String {
    let default = if scheme == "https" { 443 } else { 80 };
    if port == default {
        format!("{scheme}://{host}{path}")
    } else {
        format!("{scheme}://{host}:{port}{path}")
    }
}

/// The host of an `http(s)://host[:port]/…` URL.
fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => authority,
    };
    (!host.is_empty()).then(|| {
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned()
    })
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The longest document accepted.
const MAX_DOCUMENT: u64 = 256 * 1024;

/// What a web server answered.
enum Answer {
    /// A `200` answer's body.
    Body(String),
    /// A redirect, with its `Location`.
    Redirect(String),
}

/// GETs `url` (POSTs `body` as XML when given; blocking), connecting to
/// `address` when given; the body of a `200` answer or a redirect's
/// location (not followed here), else why not.
fn http_request(
    url: &str,
    body: Option<String>,
    address: Option<IpAddr>,
    extra_roots_pem: &[String],
    timeout: Duration,
) -> Result<Answer, String> {
    use ureq::tls::TlsConfig;
    let roots = crate::dav::http::root_certs(extra_roots_pem)?;
    let config = ureq::Agent::config_builder()
        .tls_config(TlsConfig::builder().root_certs(roots).build())
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .http_status_as_error(false)
        .build();
    let agent = match address {
        Some(ip) => ureq::Agent::with_parts(
            config,
            ureq::unversioned::transport::DefaultConnector::new(),
            crate::dav::http::Pinned(vec![(host_of(url).unwrap_or_default(), ip)]),
        ),
        None => config.into(),
    };
    let sent = match body {
        Some(body) => agent
            .post(url)
            .header("Content-Type", "text/xml; charset=utf-8")
            .send(body),
        None => agent.get(url).call(),
    };
    let mut response = sent.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    if matches!(status, 301 | 302 | 303 | 307 | 308) {
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| format!("{url} redirected without saying where"))?;
        return Ok(Answer::Redirect(location.to_owned()));
    }
    if status != 200 {
        return Err(format!("{url} answered {status}"));
    }
    response
        .body_mut()
        .with_config()
        .limit(MAX_DOCUMENT)
        .read_to_string()
        .map(Answer::Body)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_from_the_environment_are_checked() {
        let unset = DiscoverSettings::from_values(None, None).unwrap();
        assert!(unset.resolvers.is_empty());
        assert_eq!(unset.ispdb.as_deref(), Some(ISPDB));
        let local =
            DiscoverSettings::from_values(Some("127.0.0.1:5353, [::1]:53"), Some("")).unwrap();
        assert_eq!(
            local.resolvers,
            vec![
                "127.0.0.1:5353".parse::<SocketAddr>().unwrap(),
                "[::1]:53".parse().unwrap()
            ]
        );
        assert_eq!(local.ispdb, None, "an empty ISPDB skips it");
        let own = DiscoverSettings::from_values(None, Some("https://ispdb.example/v1.1/")).unwrap();
        assert_eq!(own.ispdb.as_deref(), Some("https://ispdb.example/v1.1/"));
        let wrong = DiscoverSettings::from_values(Some("localhost"), None).unwrap_err();
        assert!(wrong.contains("MAILFERRY_NAME_SERVER"), "{wrong}");
        assert!(DiscoverSettings::from_values(None, Some("file:///etc/passwd")).is_err());
    }

    #[test]
    fn addresses_give_their_domain() {
        assert_eq!(
            domain_of("anna@Bakery.Example"),
            Some("bakery.example".into())
        );
        assert_eq!(
            domain_of(" anna@bakery.example. "),
            Some("bakery.example".into())
        );
        assert_eq!(domain_of("anna"), None);
        assert_eq!(domain_of("@bakery.example"), None);
        assert_eq!(domain_of("anna@localhost"), None, "a domain has a dot");
        assert_eq!(domain_of("anna@bad_domain.example"), None);
    }

    #[test]
    fn mail_hosts_are_recognised() {
        let name = |h: &str| recognise_mx(h).map(|r| r.name);
        assert_eq!(name("aspmx.l.google.com"), Some("Google Workspace"));
        assert_eq!(name("ALT1.ASPMX.L.GOOGLE.COM."), Some("Google Workspace"));
        assert_eq!(
            name("bakery-example.mail.protection.outlook.com"),
            Some("Microsoft 365")
        );
        assert_eq!(name("mx.zoho.eu"), Some("Zoho"));
        assert_eq!(name("in1-smtp.messagingengine.com"), Some("Fastmail"));
        assert_eq!(name("mx01.mail.icloud.com"), Some("iCloud"));
        assert_eq!(
            recognise_mx("mailstore1.secureserver.net").and_then(|r| r.imap_host),
            Some("imap.secureserver.net")
        );
        assert_eq!(name("mail.bakery.example"), None);
        assert_eq!(name("notgoogle.com"), None, "a suffix is a whole label");
    }

    #[test]
    fn hosts_within_a_domain() {
        assert!(within("imap.bakery.example", "bakery.example"));
        assert!(within("bakery.example.", "Bakery.Example"));
        assert!(!within("bakery.example.evil.test", "bakery.example"));
        assert!(!within("notbakery.example", "bakery.example"));
    }

    #[test]
    fn autoconfig_documents_give_their_imap_servers() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="bakery.example">
    <domain>bakery.example</domain>
    <incomingServer type="pop3">
      <hostname>pop.bakery.example</hostname>
      <port>995</port>
      <socketType>SSL</socketType>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>imap.%EMAILDOMAIN%</hostname>
      <port>993</port>
      <socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username>
      <authentication>password-cleartext</authentication>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>mail.bakery.example</hostname>
      <port>143</port>
      <socketType>STARTTLS</socketType>
      <username>%EMAILLOCALPART%</username>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>old.bakery.example</hostname>
      <socketType>plain</socketType>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.bakery.example</hostname>
      <port>465</port>
      <socketType>SSL</socketType>
    </outgoingServer>
  </emailProvider>
</clientConfig>"#;
        let servers = parse_autoconfig(xml, "anna@bakery.example");
        assert_eq!(
            servers,
            vec![
                OfferedServer {
                    host: "imap.bakery.example".into(),
                    port: 993,
                    security: Security::Tls,
                    username: Some("anna@bakery.example".into()),
                },
                OfferedServer {
                    host: "mail.bakery.example".into(),
                    port: 143,
                    security: Security::StartTls,
                    username: Some("anna".into()),
                },
                OfferedServer {
                    host: "old.bakery.example".into(),
                    port: 143,
                    security: Security::Plain,
                    username: None,
                },
            ]
        );
    }

    #[test]
    fn autodiscover_answers_give_their_imap_servers() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
    <Account>
      <AccountType>email</AccountType>
      <Action>settings</Action>
      <Protocol>
        <Type>EXCH</Type>
        <Server>exch01.bakery.example</Server>
      </Protocol>
      <Protocol>
        <Type>IMAP</Type>
        <Server>Exch01.Bakery.Example</Server>
        <Port>993</Port>
        <LoginName>anna@bakery.example</LoginName>
        <SSL>on</SSL>
      </Protocol>
      <Protocol>
        <Type>IMAP</Type>
        <Server>exch02.bakery.example</Server>
        <Port>143</Port>
        <Encryption>TLS</Encryption>
      </Protocol>
      <Protocol>
        <Type>POP3</Type>
        <Server>exch01.bakery.example</Server>
      </Protocol>
    </Account>
  </Response>
</Autodiscover>"#;
        assert_eq!(
            parse_autodiscover(xml),
            vec![
                OfferedServer {
                    host: "exch01.bakery.example".into(),
                    port: 993,
                    security: Security::Tls,
                    username: Some("anna@bakery.example".into()),
                },
                OfferedServer {
                    host: "exch02.bakery.example".into(),
                    port: 143,
                    security: Security::StartTls,
                    username: None,
                },
            ]
        );
        assert!(
            parse_autodiscover("<Autodiscover><Response><Error/></Response></Autodiscover>")
                .is_empty()
        );
        assert!(autodiscover_request("a&b@x.example")
            .contains("<EMailAddress>a&amp;b@x.example</EMailAddress>"));
    }

    #[test]
    fn broken_documents_give_nothing() {
        assert!(parse_autoconfig("", "a@b.example").is_empty());
        assert!(parse_autoconfig("<html><body>Not found</body></html>", "a@b.example").is_empty());
        assert!(parse_autoconfig(
            "<clientConfig><emailProvider><incomingServer type=\"imap\"><port>993</port>",
            "a@b.example"
        )
        .is_empty());
        let unknown = r#"<clientConfig><emailProvider><incomingServer type="imap">
            <hostname>imap.b.example</hostname><socketType>QUIC</socketType>
            </incomingServer></emailProvider></clientConfig>"#;
        assert!(parse_autoconfig(unknown, "a@b.example").is_empty());
    }

    #[test]
    fn urls_and_hosts() {
        assert_eq!(
            url_of("https", "a.example", 443, "/x"),
            "https://a.example/x"
        );
        assert_eq!(
            url_of("http", "a.example", 8080, "/x"),
            "http://a.example:8080/x"
        );
        assert_eq!(
            host_of("http://127.0.0.1:4000/v1.1/"),
            Some("127.0.0.1".into())
        );
        assert_eq!(
            host_of("https://autoconfig.thunderbird.net/v1.1/bakery.example"),
            Some("autoconfig.thunderbird.net".into())
        );
        assert_eq!(percent_encode("anna+x@b.example"), "anna%2Bx%40b.example");
    }

    fn proven(host: &str, how: &str, cautions: Vec<Caution>) -> Candidate {
        Candidate {
            host: host.into(),
            port: 993,
            security: Security::Tls,
            address: None,
            source: Source::Guess,
            how: how.into(),
            preset: "other",
            username: None,
            cautions,
            verdict: Verdict::Proven {
                capabilities: vec!["IMAP4rev1".into()],
            },
        }
    }

    #[test]
    fn the_verdict_says_what_was_found_and_how() {
        let how = "a usual name for b.example's mail server, tried on the chance";
        let d = finish(
            "anna@b.example".into(),
            "b.example".into(),
            vec![proven("mail.b.example", how, Vec::new())],
        );
        assert_eq!(
            d.words,
            "A usual name for b.example's mail server, tried on the chance: mail.b.example, \
             port 993, TLS."
        );
        let plain = Caution::PlainHttp {
            url: "http://b.example/x".into(),
        };
        let d = finish(
            "anna@b.example".into(),
            "b.example".into(),
            vec![
                proven(
                    "imap.b.example",
                    "from the settings b.example publishes",
                    vec![plain],
                ),
                proven("mail.b.example", how, Vec::new()),
            ],
        );
        assert_eq!(d.chosen, Some(1), "a server without a caution comes first");
        assert!(!d.needs_confirmation);
        let d = finish(
            "anna@b.example".into(),
            "b.example".into(),
            vec![proven(
                "imap.other.example",
                "from b.example's service records (_imaps._tcp)",
                vec![Caution::OutsideDomain {
                    host: "imap.other.example".into(),
                    domain: "b.example".into(),
                }],
            )],
        );
        assert!(d.needs_confirmation);
        assert_eq!(
            d.words,
            "Found imap.other.example (port 993, TLS; from b.example's service records \
             (_imaps._tcp)), but imap.other.example is not part of b.example. Use it only if \
             you recognise it."
        );
    }

    #[test]
    fn a_search_that_finds_nothing_says_what_to_do() {
        let d = finish("anna@b.example".into(), "b.example".into(), Vec::new());
        assert!(d.chosen.is_none());
        assert!(d.words.contains("Type its server name"), "{}", d.words);
    }
}
