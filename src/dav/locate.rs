//! From an email address (or a bare domain) to the account's contacts and
//! calendar servers, so a user who knows only their address never types a
//! DAV URL.
//!
//! [`locate`] asks, in this order: the provider presets by the address's
//! domain (`icloud.com`), and by the domain's mail records (a custom domain
//! at Fastmail, iCloud, Google); the domain's RFC 6764 service records
//! (`_carddavs._tcp`, `_caldavs._tcp`, with the `path=` of their TXT
//! records); and else the domain's well-known addresses
//! (`https://<domain>/.well-known/carddav`). The principal and its home
//! sets are then found by [`super::Server::discover`].
//!
//! Careful as RFC 6764 §8 asks: the TLS services (`_carddavs`, `_caldavs`)
//! are preferred; a plain-HTTP one (`_carddav`, `_caldav`) is used only
//! when it points at this computer, as no password crosses a network
//! unencrypted. Nothing here signs in: it only names the servers, and the
//! domains the account's credentials may go to ([`super::Trust`]).

use super::{Auth, Reach, Server, Trust};
use crate::discover::{self, DiscoverSettings};
use crate::mx;
use hickory_resolver::TokioResolver;

/// One provider's contacts and calendar addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DavPreset {
    /// The mail preset it belongs to (`icloud`, `gmail`, …), or the kind
    /// of server (`nextcloud`, `sogo`, `cpanel`).
    pub id: &'static str,
    /// The name users know.
    pub name: &'static str,
    /// The CardDAV address; `{email}` is the account's address, `{host}`
    /// the server of a self-hosted kind. None: no contacts over CardDAV.
    pub contacts: Option<&'static str>,
    /// The CalDAV address, likewise.
    pub calendars: Option<&'static str>,
    /// The domains its servers are in (where the password may go).
    pub domains: &'static [&'static str],
    /// What the user should know, in plain words (an app password, a
    /// sign-in that passwords cannot do).
    pub note: Option<&'static str>,
}

const APP_PASSWORD: Option<&str> =
    Some("sign in with an app password made for contacts and calendars");

/// The providers' addresses, as their help pages give them. Self-hosted
/// kinds (`{host}`) are used when the user names the kind and the server.
const PRESETS: &[DavPreset] = &[
    DavPreset {
        id: "icloud",
        name: "iCloud",
        contacts: Some("https://contacts.icloud.com/"),
        calendars: Some("https://caldav.icloud.com/"),
        domains: &["icloud.com"],
        note: APP_PASSWORD,
    },
    DavPreset {
        id: "fastmail",
        name: "Fastmail",
        contacts: Some("https://carddav.fastmail.com/"),
        calendars: Some("https://caldav.fastmail.com/"),
        domains: &["fastmail.com"],
        note: APP_PASSWORD,
    },
    DavPreset {
        id: "gmail",
        name: "Google",
        contacts: Some("https://www.googleapis.com/carddav/v1/principals/{email}/lists/default/"),
        calendars: Some("https://apidata.googleusercontent.com/caldav/v2/{email}/user"),
        domains: &["googleapis.com", "googleusercontent.com", "google.com"],
        note: Some(
            "Google's contacts and calendars take a Google sign-in (an access token), \
             not a password",
        ),
    },
    DavPreset {
        id: "yahoo",
        name: "Yahoo",
        contacts: Some("https://carddav.address.yahoo.com/"),
        calendars: Some("https://caldav.calendar.yahoo.com/"),
        domains: &["yahoo.com"],
        note: APP_PASSWORD,
    },
    DavPreset {
        id: "zoho",
        name: "Zoho",
        contacts: None,
        calendars: Some("https://calendar.zoho.com/caldav/"),
        domains: &["zoho.com"],
        note: Some("Zoho's contacts are not offered over CardDAV: export them as a .vcf file"),
    },
    DavPreset {
        id: "microsoft",
        name: "Microsoft 365 / Outlook.com",
        contacts: None,
        calendars: None,
        domains: &[],
        note: Some(
            "Microsoft 365 and Outlook.com have no CardDAV or CalDAV: MailFerry reaches their \
             contacts and calendars through Microsoft Graph (--graph1/--graph2)",
        ),
    },
    DavPreset {
        id: "nextcloud",
        name: "Nextcloud",
        contacts: Some("https://{host}/remote.php/dav/"),
        calendars: Some("https://{host}/remote.php/dav/"),
        domains: &[],
        note: Some("with two-factor sign-in, make an app password under Settings → Security"),
    },
    DavPreset {
        id: "sogo",
        name: "SOGo",
        contacts: Some("https://{host}/SOGo/dav/"),
        calendars: Some("https://{host}/SOGo/dav/"),
        domains: &[],
        note: None,
    },
    DavPreset {
        id: "cpanel",
        name: "cPanel hosting",
        contacts: Some("https://{host}:2080/"),
        calendars: Some("https://{host}:2080/"),
        domains: &[],
        note: Some("sign in with the full email address and its password"),
    },
];

/// Every provider and server kind with its contacts and calendar addresses.
pub fn presets() -> &'static [DavPreset] {
    PRESETS
}

/// The preset of a mail preset id (`icloud`) or server kind (`nextcloud`).
pub fn preset_by_id(id: &str) -> Option<&'static DavPreset> {
    PRESETS.iter().find(|p| p.id == id)
}

/// The preset of a provider's own address domain (`me.com` → iCloud).
pub fn preset_for_domain(domain: &str) -> Option<&'static DavPreset> {
    crate::preset::for_domain(domain).and_then(|p| preset_by_id(p.id))
}

/// The preset of the provider whose mail server is `host`
/// (`imap.mail.me.com` → iCloud), as the mail side recognises it.
pub fn preset_for_mail_host(host: &str) -> Option<&'static DavPreset> {
    let p = crate::preset::for_host(host);
    preset_by_id(p.id)
}

impl DavPreset {
    /// Its addresses for the account `email` on server `host` (for the
    /// self-hosted kinds): (contacts, calendars).
    pub fn addresses(&self, email: &str, host: &str) -> (Option<String>, Option<String>) {
        let fill = |t: &str| t.replace("{email}", email).replace("{host}", host);
        (self.contacts.map(fill), self.calendars.map(fill))
    }
}

/// The `path=` of an RFC 6764 TXT record (its strings as published): the
/// context path to start at; None when it names none or not an absolute path.
pub fn txt_path(strings: &[String]) -> Option<String> {
    strings.iter().find_map(|s| {
        let (key, value) = s.split_once('=')?;
        (key.trim().eq_ignore_ascii_case("path") && value.starts_with('/'))
            .then(|| value.to_owned())
    })
}

/// Where an account's contacts and calendars are, and how that was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    /// The domain asked about.
    pub domain: String,
    /// Where discovery of the contacts starts (None: the provider has none).
    pub contacts: Option<String>,
    /// Where discovery of the calendars starts.
    pub calendars: Option<String>,
    /// The domains the account's credentials may go to (the address's
    /// domain and the provider's).
    pub trusted: Vec<String>,
    /// The servers' addresses, when discovery was told to ask name
    /// servers other than the system's (then they are reached there).
    pub addresses: Vec<(String, std::net::IpAddr)>,
    /// How they were found, in a sentence.
    pub how: String,
    /// What the user should know about this provider, when anything.
    pub note: Option<String>,
}

impl Located {
    /// The start addresses, contacts first, each once.
    pub fn starts(&self) -> Vec<String> {
        let mut starts: Vec<String> = self.contacts.iter().cloned().collect();
        if let Some(c) = &self.calendars {
            if !starts.contains(c) {
                starts.push(c.clone());
            }
        }
        starts
    }

    /// The account's servers signed in with `auth`, the credentials kept
    /// within the trusted domains, the certificate authorities of
    /// `extra_roots_pem` trusted instead of the system's when given; or
    /// why not, in words.
    pub fn connect(&self, auth: Auth, extra_roots_pem: &[String]) -> Result<Server, String> {
        let starts = self.starts();
        if starts.is_empty() {
            return Err(format!(
                "{} has no contacts and calendar server MailFerry can reach{}",
                self.domain,
                self.note
                    .as_deref()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default()
            ));
        }
        let reach = Reach {
            extra_roots_pem: extra_roots_pem.to_vec(),
            addresses: self.addresses.clone(),
        };
        Server::connect_all(&starts, auth, &Trust::new(&self.trusted), &reach)
            .map_err(|e| e.to_string())
    }

    /// What was found and how, in a sentence.
    pub fn words(&self) -> String {
        format!(
            "contacts at {}, calendars at {} ({}){}",
            self.contacts.as_deref().unwrap_or("none"),
            self.calendars.as_deref().unwrap_or("none"),
            self.how,
            self.note
                .as_deref()
                .map(|n| format!("; {n}"))
                .unwrap_or_default()
        )
    }

    fn from_preset(domain: &str, email: &str, p: &DavPreset, how: String) -> Located {
        let (contacts, calendars) = p.addresses(email, domain);
        let mut trusted = vec![domain.to_owned()];
        trusted.extend(p.domains.iter().map(|d| d.to_string()));
        Located {
            domain: domain.to_owned(),
            contacts,
            calendars,
            trusted,
            addresses: Vec::new(),
            how,
            note: p.note.map(str::to_owned),
        }
    }
}

/// Google's contacts and calendar addresses for `email` (a Gmail or
/// Google Workspace address), trusting Google's own domains only: where a
/// Google sign-in's token may go. None for something that is no address.
pub fn google(email: &str) -> Option<Located> {
    let p = preset_by_id("gmail")?;
    let domain = discover::domain_of(email)?;
    let how = "Google's addresses for the account".to_owned();
    let mut found = Located::from_preset(&domain, email.trim(), p, how);
    found.trusted = p.domains.iter().map(|d| d.to_string()).collect();
    Some(found)
}

/// Whether a Google sign-in for contacts and calendars may be sent to
/// `url`: Google's servers, or this computer (a test's). The token opens
/// the owner's contacts and calendars, so nowhere else.
pub fn google_may_receive(url: &str) -> bool {
    super::http::split_url(url.trim())
        .is_some_and(|(origin, _)| at_google(&origin) || super::http::is_loopback(&origin))
}

/// Whether the origin `scheme://host[:port]` is one of Google's servers.
pub fn at_google(origin: &str) -> bool {
    preset_by_id("gmail")
        .map(|p| Trust::new(p.domains))
        .is_some_and(|t| t.allows(&super::http::host_of(origin)))
}

/// A self-hosted server named by its kind and host (`nextcloud:cloud.bakery.example`,
/// `sogo:…`, `cpanel:…`): its usual addresses there; None for anything else.
pub fn for_kind(input: &str) -> Option<Located> {
    let (kind, host) = input.trim().split_once(':')?;
    let p = preset_by_id(&kind.trim().to_ascii_lowercase())
        .filter(|p| p.contacts.is_some_and(|c| c.contains("{host}")))?;
    let host = host.trim().trim_matches('/').to_ascii_lowercase();
    let domain = domain_of_input(&host)?;
    let (contacts, calendars) = p.addresses("", &domain);
    Some(Located {
        trusted: vec![super::site_of(&domain)],
        how: format!("{}'s usual addresses on {domain}", p.name),
        domain,
        contacts,
        calendars,
        addresses: Vec::new(),
        note: p.note.map(str::to_owned),
    })
}

/// Where the mail account `user` at the mail server `mail_host` keeps its
/// contacts and calendars: the provider of the mail server when MailFerry
/// knows it (a custom domain at Fastmail or iCloud), else [`locate`] of
/// the user's address.
pub async fn locate_for_mail(
    user: &str,
    mail_host: &str,
    settings: &DiscoverSettings,
) -> Result<Located, String> {
    match (discover::domain_of(user), preset_for_mail_host(mail_host)) {
        (Some(domain), Some(p)) if p.contacts.is_some() || p.calendars.is_some() => {
            let how = format!("the mail is at {} ({mail_host})", p.name);
            Ok(Located::from_preset(&domain, user.trim(), p, how))
        }
        _ => locate(user, settings).await,
    }
}

/// The domain of `input`: an email address's, or a bare domain.
fn domain_of_input(input: &str) -> Option<String> {
    let input = input.trim();
    if input.contains('@') {
        return discover::domain_of(input);
    }
    discover::domain_of(&format!("x@{input}"))
}

/// Finds the contacts and calendar servers of `input` (an email address,
/// a bare domain, or a self-hosted server's kind and host, [`for_kind`]). Asks name servers and nothing else: no sign-in.
pub async fn locate(input: &str, settings: &DiscoverSettings) -> Result<Located, String> {
    if let Some(found) = for_kind(input) {
        return Ok(found);
    }
    let domain = domain_of_input(input).ok_or_else(|| {
        format!("“{input}” is neither an email address nor a domain nor a web address (https://…)")
    })?;
    let email = if input.contains('@') {
        input.trim().to_owned()
    } else {
        String::new()
    };
    if let Some(p) = preset_for_domain(&domain) {
        let how = format!("{domain} addresses are {} accounts", p.name);
        return Ok(Located::from_preset(&domain, &email, p, how));
    }
    let dns = mx::resolver_for(&settings.resolvers)?;
    for host in mx::mail_hosts(&dns, &domain).await {
        let preset = discover::recognise_mx(&host)
            .and_then(|r| r.preset)
            .and_then(preset_by_id);
        if let Some(p) = preset {
            let how = format!(
                "Mail for {domain} is handled by {} (from its MX records)",
                p.name
            );
            return Ok(Located::from_preset(&domain, &email, p, how));
        }
    }
    let contacts = service(&dns, &domain, "carddav", settings).await;
    let calendars = service(&dns, &domain, "caldav", settings).await;
    let from_srv = contacts.is_some() || calendars.is_some();
    let mut addresses = Vec::new();
    if !settings.resolvers.is_empty() {
        // Reached where these name servers say, not where the system's would.
        for url in contacts.iter().chain(&calendars) {
            let Some((origin, _)) = super::http::split_url(url) else {
                continue;
            };
            let host = super::http::host_of(&origin);
            if addresses.iter().any(|(h, _)| *h == host) {
                continue;
            }
            if let Ok(ip) = mx::address(&dns, &host).await {
                addresses.push((host, ip));
            }
        }
    }
    let well_known = |kind: &str| {
        let port = match settings.https_port {
            443 => String::new(),
            p => format!(":{p}"),
        };
        format!("https://{domain}{port}/.well-known/{kind}")
    };
    Ok(Located {
        how: if from_srv {
            format!("from {domain}'s RFC 6764 service records")
        } else {
            format!("{domain} publishes no service records: trying its well-known addresses")
        },
        contacts: Some(contacts.unwrap_or_else(|| well_known("carddav"))),
        calendars: Some(calendars.unwrap_or_else(|| well_known("caldav"))),
        trusted: vec![domain.clone()],
        addresses,
        domain,
        note: None,
    })
}

/// The start address the service records of `kind` (`carddav`,
/// `caldav`) give: the TLS service's targets in their order (priority,
/// then weight), else the plain one's that are this computer; its TXT
/// record's `path=`, else the well-known path. Of several targets, the
/// first that takes a connection (RFC 2782: the next is tried when one
/// can't be reached); none, the first.
async fn service(
    dns: &TokioResolver,
    domain: &str,
    kind: &str,
    settings: &DiscoverSettings,
) -> Option<String> {
    let mut found: Vec<(String, String, u16)> = Vec::new();
    for (suffix, scheme) in [("s", "https"), ("", "http")] {
        let name = format!("_{kind}{suffix}._tcp.{domain}");
        let services = mx::services(dns, &name).await;
        if services.is_empty() {
            continue;
        }
        let path = txt_path(&mx::texts(dns, &name).await.concat())
            .unwrap_or_else(|| format!("/.well-known/{kind}"));
        for s in services {
            let host = s.target.clone();
            if scheme == "http" && !this_computer(&host) {
                tracing::info!(%name, %host, "a plain-HTTP DAV service elsewhere is not used");
                continue;
            }
            let default = if scheme == "https" { 443 } else { 80 };
            let port = if s.port == default {
                String::new()
            } else {
                format!(":{}", s.port)
            };
            let shown = if host.contains(':') {
                format!("[{host}]")
            } else {
                host.clone()
            };
            found.push((format!("{scheme}://{shown}{port}{path}"), host, s.port));
        }
        if !found.is_empty() {
            break;
        }
    }
    if found.len() > 1 {
        for (url, host, port) in &found {
            if reachable(dns, host, *port, settings).await {
                return Some(url.clone());
            }
            tracing::info!(%url, "a service record's target can't be reached; trying the next");
        }
    }
    found.into_iter().next().map(|(url, _, _)| url)
}

/// Does `host` take a TCP connection on `port` within the settings'
/// timeout? Its address from the settings' name servers when they are
/// given, else the system's.
async fn reachable(
    dns: &TokioResolver,
    host: &str,
    port: u16,
    settings: &DiscoverSettings,
) -> bool {
    let addresses: Vec<std::net::SocketAddr> = if settings.resolvers.is_empty() {
        match tokio::net::lookup_host((host, port)).await {
            Ok(found) => found.collect(),
            Err(_) => return false,
        }
    } else {
        match mx::address(dns, host).await {
            Ok(ip) => vec![std::net::SocketAddr::new(ip, port)],
            Err(_) => return false,
        }
    };
    for address in addresses {
        let connect = tokio::net::TcpStream::connect(address);
        if let Ok(Ok(_)) = tokio::time::timeout(settings.timeout, connect).await {
            return true;
        }
    }
    false
}

/// Whether `host` is this computer (a loopback address or `localhost`),
/// by its name, as the client decides where plain HTTP may go.
fn this_computer(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_google_token_goes_to_googles_servers_and_this_computer_only() {
        for url in [
            "https://www.googleapis.com/carddav/v1/principals/anna@bakery.example/lists/default/",
            "https://apidata.googleusercontent.com/caldav/v2/anna@bakery.example/user",
            "http://127.0.0.1:5232/",
            "http://[::1]:5232/anna/",
        ] {
            assert!(google_may_receive(url), "{url}");
        }
        for url in [
            "https://dav.bakery.example/",
            "https://www.googleapis.com.evil.example/",
            "https://googleapis.com@evil.example/",
            "https://evilgoogleapis.com/",
            "www.googleapis.com",
        ] {
            assert!(!google_may_receive(url), "{url}");
        }
    }

    #[test]
    fn the_txt_records_path_is_the_context_path() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(txt_path(&s(&["path=/dav/"])).as_deref(), Some("/dav/"));
        assert_eq!(
            txt_path(&s(&["txtvers=1", "PATH=/remote.php/dav"])).as_deref(),
            Some("/remote.php/dav")
        );
        assert_eq!(
            txt_path(&s(&["path=/a=b/"])).as_deref(),
            Some("/a=b/"),
            "only the first = splits"
        );
        assert_eq!(txt_path(&s(&["path=dav/"])), None, "not an absolute path");
        assert_eq!(txt_path(&s(&["pathx=/dav/", "v=spf1"])), None);
        assert_eq!(txt_path(&[]), None);
    }

    #[test]
    fn googles_addresses_for_a_workspace_account_trust_google_only() {
        let found = google("bob@bakery.example").expect("an email address");
        assert_eq!(
            found.contacts.as_deref(),
            Some("https://www.googleapis.com/carddav/v1/principals/bob@bakery.example/lists/default/")
        );
        assert_eq!(
            found.calendars.as_deref(),
            Some("https://apidata.googleusercontent.com/caldav/v2/bob@bakery.example/user")
        );
        assert_eq!(
            found.trusted,
            ["googleapis.com", "googleusercontent.com", "google.com"],
            "the Google sign-in's token never goes to the domain's own servers"
        );
        assert!(google("not an address").is_none());
    }

    #[test]
    fn presets_give_each_providers_servers_and_domains() {
        let icloud = preset_for_domain("me.com").expect("me.com is iCloud");
        assert_eq!(icloud.id, "icloud");
        assert_eq!(
            icloud.addresses("anna@me.com", "me.com"),
            (
                Some("https://contacts.icloud.com/".into()),
                Some("https://caldav.icloud.com/".into())
            )
        );
        let fastmail = preset_for_domain("fastmail.fm").expect("Fastmail");
        let (c, k) = fastmail.addresses("a@fastmail.fm", "fastmail.fm");
        assert_ne!(
            c, k,
            "Fastmail keeps contacts and calendars on separate hosts"
        );
        let google = preset_for_domain("gmail.com").expect("Gmail");
        assert_eq!(
            google.addresses("anna@gmail.com", "gmail.com").1.as_deref(),
            Some("https://apidata.googleusercontent.com/caldav/v2/anna@gmail.com/user")
        );
        assert!(google.note.is_some(), "Google needs a sign-in, said");
        assert_eq!(
            preset_for_domain("yahoo.co.uk").map(|p| p.id),
            Some("yahoo")
        );
        let ms = preset_for_domain("outlook.com").expect("Outlook.com");
        assert_eq!((ms.contacts, ms.calendars), (None, None));
        assert!(ms.note.unwrap().contains("Graph"));
        assert_eq!(preset_for_domain("bakery.example"), None);
        assert_eq!(
            preset_for_mail_host("imap.fastmail.com").map(|p| p.id),
            Some("fastmail")
        );
        assert_eq!(
            preset_by_id("nextcloud")
                .unwrap()
                .addresses("", "cloud.bakery.example")
                .0
                .as_deref(),
            Some("https://cloud.bakery.example/remote.php/dav/")
        );
        // Every preset's addresses are https, and on its own domains.
        for p in presets() {
            for url in [p.contacts, p.calendars].into_iter().flatten() {
                assert!(url.starts_with("https://"), "{}: {url}", p.id);
                if !url.contains("{host}") {
                    let host =
                        super::super::http::host_of(&super::super::http::split_url(url).unwrap().0);
                    assert!(
                        super::super::Trust::new(p.domains).allows(&host),
                        "{}: {host} in its domains",
                        p.id
                    );
                }
            }
        }
    }

    #[test]
    fn a_self_hosted_server_is_named_by_its_kind_and_host() {
        let found = for_kind("nextcloud:Cloud.Bakery.example/").unwrap();
        assert_eq!(
            found.contacts.as_deref(),
            Some("https://cloud.bakery.example/remote.php/dav/")
        );
        assert_eq!(found.trusted, ["bakery.example"]);
        assert_eq!(
            for_kind("cpanel:bakery.example")
                .unwrap()
                .calendars
                .as_deref(),
            Some("https://bakery.example:2080/")
        );
        assert_eq!(
            for_kind("sogo:mail.bakery.example")
                .unwrap()
                .contacts
                .as_deref(),
            Some("https://mail.bakery.example/SOGo/dav/")
        );
        assert_eq!(for_kind("icloud:x.example"), None, "a provider is no kind");
        assert_eq!(for_kind("nextcloud:"), None);
        assert_eq!(for_kind("https://x.example/"), None);
    }

    #[tokio::test]
    async fn the_mail_servers_provider_gives_a_custom_domains_servers() {
        let none = DiscoverSettings {
            resolvers: vec!["127.0.0.1:9".parse().unwrap()],
            ..DiscoverSettings::default()
        };
        let found = locate_for_mail("anna@bakery.example", "imap.mail.me.com", &none)
            .await
            .unwrap();
        assert_eq!(
            found.contacts.as_deref(),
            Some("https://contacts.icloud.com/")
        );
        assert!(found.how.contains("iCloud"), "{}", found.how);
    }

    #[test]
    fn inputs_are_addresses_or_domains() {
        assert_eq!(
            domain_of_input("Anna@Bakery.Example").as_deref(),
            Some("bakery.example")
        );
        assert_eq!(
            domain_of_input(" bakery.example ").as_deref(),
            Some("bakery.example")
        );
        assert_eq!(domain_of_input("bakery"), None);
        assert_eq!(domain_of_input("https://x.example/"), None);
    }
}
