//! The domain's mail records (MX) as DNS gives them now, asked of the
//! domain's own name server and of several resolvers, for the watch's
//! stop rule: has every answer moved to the new provider, and since when?
//!
//! [`ask`] does the looking up; [`Tracker`] turns a series of looks into
//! the stop rule's [`Mx`], purely (the time is passed in).

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;

use crate::watch::Mx;

/// What to ask, and of whom.
#[derive(Clone, Debug)]
pub struct Question {
    /// The domain (`example.com`).
    pub domain: String,
    /// The new provider's mail servers: a record names the new provider
    /// when its host is one of these or ends with `.` and one of these
    /// (`mail.protection.outlook.com`, `google.com`).
    pub new_hosts: Vec<String>,
    /// The mail servers the domain used before the switch (as the cutover
    /// checklist saw them): when `new_hosts` is empty, a record names the
    /// new provider when its host is none of these.
    pub old_hosts: Vec<String>,
    /// Resolvers asked besides the system's.
    pub resolvers: Vec<SocketAddr>,
    /// Ask the system's resolver too.
    pub system: bool,
    /// The port the domain's own name servers are asked on (53).
    pub own_port: u16,
}

/// One resolver's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// Who answered: "the system's resolver", "127.0.0.1:53", "the
    /// domain's own name server".
    pub from: String,
    /// The mail hosts named, without the final dot.
    pub hosts: Vec<String>,
    /// The records' time to live.
    pub ttl_secs: u32,
}

impl Question {
    /// Is `host` one of the new provider's? By `new_hosts` when given,
    /// else by not being one of `old_hosts`.
    pub fn is_new(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let names = |list: &[String]| {
            list.iter().any(|n| {
                let n = n.trim_end_matches('.').to_ascii_lowercase();
                host == n || host.ends_with(&format!(".{n}"))
            })
        };
        if self.new_hosts.is_empty() {
            !self.old_hosts.is_empty() && !names(&self.old_hosts)
        } else {
            names(&self.new_hosts)
        }
    }
}

/// A resolver asking only `server`.
fn resolver_at(server: SocketAddr) -> Option<TokioResolver> {
    let mut udp = ConnectionConfig::udp();
    udp.port = server.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = server.port();
    let config = NameServerConfig::new(server.ip(), true, vec![udp, tcp]);
    let mut builder = TokioResolver::builder_with_config(
        ResolverConfig::from_name_servers(vec![config]),
        TokioRuntimeProvider::default(),
    );
    builder.options_mut().timeout = Duration::from_secs(5);
    builder.options_mut().attempts = 2;
    builder.build().ok()
}

/// A resolver asking `servers` (the system's when empty), for discovery.
pub(crate) fn resolver_for(servers: &[SocketAddr]) -> Result<TokioResolver, String> {
    if servers.is_empty() {
        let mut builder = TokioResolver::builder_tokio()
            .map_err(|e| format!("cannot read this computer's DNS settings: {e}"))?;
        builder.options_mut().timeout = Duration::from_secs(5);
        builder.options_mut().attempts = 2;
        return builder
            .build()
            .map_err(|e| format!("cannot read this computer's DNS settings: {e}"));
    }
    let configs = servers
        .iter()
        .map(|server| {
            let mut udp = ConnectionConfig::udp();
            udp.port = server.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = server.port();
            NameServerConfig::new(server.ip(), true, vec![udp, tcp])
        })
        .collect();
    let mut builder = TokioResolver::builder_with_config(
        ResolverConfig::from_name_servers(configs),
        TokioRuntimeProvider::default(),
    );
    builder.options_mut().timeout = Duration::from_secs(5);
    builder.options_mut().attempts = 2;
    builder
        .build()
        .map_err(|e| format!("cannot ask the name servers: {e}"))
}

/// A name as a fully qualified one (`example.com.`), so no search domain
/// is tried.
fn fqdn(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

/// The domain's mail hosts, most preferred first (none when it has none
/// or the question fails).
pub(crate) async fn mail_hosts(resolver: &TokioResolver, domain: &str) -> Vec<String> {
    let Ok(found) = resolver.mx_lookup(fqdn(domain)).await else {
        return Vec::new();
    };
    let mut hosts: Vec<(u16, String)> = found
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            RData::MX(mx) => Some((
                mx.preference,
                mx.exchange
                    .to_utf8()
                    .trim_end_matches('.')
                    .to_ascii_lowercase(),
            )),
            _ => None,
        })
        .filter(|(_, host)| !host.is_empty())
        .collect();
    hosts.sort();
    hosts.into_iter().map(|(_, h)| h).collect()
}

/// One service record (RFC 2782).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Service {
    /// Lower is tried first.
    pub(crate) priority: u16,
    /// Among equal priorities, higher is preferred.
    pub(crate) weight: u16,
    /// The port.
    pub(crate) port: u16,
    /// The host, without the final dot.
    pub(crate) target: String,
}

/// The service records at `name` (`_imaps._tcp.example.com`), in the
/// order to try them; a target of `.` (the service is not offered) is
/// left out.
pub(crate) async fn services(resolver: &TokioResolver, name: &str) -> Vec<Service> {
    let Ok(found) = resolver.srv_lookup(fqdn(name)).await else {
        return Vec::new();
    };
    let mut services: Vec<Service> = found
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            RData::SRV(srv) => Some(Service {
                priority: srv.priority,
                weight: srv.weight,
                port: srv.port,
                target: srv
                    .target
                    .to_utf8()
                    .trim_end_matches('.')
                    .to_ascii_lowercase(),
            }),
            _ => None,
        })
        .filter(|s| !s.target.is_empty())
        .collect();
    services.sort_by_key(|s| (s.priority, std::cmp::Reverse(s.weight)));
    services
}

/// The TXT records at `name`, each as its strings (lossy UTF-8); none
/// when it has none or the question fails.
pub(crate) async fn texts(resolver: &TokioResolver, name: &str) -> Vec<Vec<String>> {
    let Ok(found) = resolver.txt_lookup(fqdn(name)).await else {
        return Vec::new();
    };
    found
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            RData::TXT(txt) => Some(
                txt.txt_data
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

/// The first address of `host`, or why there is none.
pub(crate) async fn address(
    resolver: &TokioResolver,
    host: &str,
) -> Result<std::net::IpAddr, String> {
    if let Ok(ip) = host.parse() {
        return Ok(ip);
    }
    let found = resolver
        .lookup_ip(fqdn(host))
        .await
        .map_err(|e| e.to_string())?;
    found
        .iter()
        .next()
        .ok_or_else(|| "the name has no address".to_owned())
}

/// The mail records as `resolver` gives them; `Err` with the words when
/// it gives none.
async fn lookup(resolver: &TokioResolver, fqdn: &str, from: String) -> Result<Answer, String> {
    let found = resolver
        .mx_lookup(fqdn)
        .await
        .map_err(|e| format!("{from}: {e}"))?;
    let mut hosts = Vec::new();
    let mut ttl_secs = 0;
    for record in found.answers() {
        if let RData::MX(mx) = &record.data {
            hosts.push(mx.exchange.to_utf8().trim_end_matches('.').to_owned());
            ttl_secs = ttl_secs.max(record.ttl);
        }
    }
    Ok(Answer {
        from,
        hosts,
        ttl_secs,
    })
}

/// Asks every resolver (the system's when `question.system`, then each of
/// `question.resolvers`) and the domain's own name server (found through
/// the first resolver that answers its NS question). One entry per
/// resolver asked: its answer, or why there was none.
pub async fn ask(question: &Question) -> Vec<Result<Answer, String>> {
    let fqdn = format!("{}.", question.domain.trim_end_matches('.'));
    let mut resolvers = Vec::new();
    let mut answers = Vec::new();
    if question.system {
        let system = TokioResolver::builder_tokio().and_then(|mut b| {
            b.options_mut().timeout = Duration::from_secs(5);
            b.options_mut().attempts = 2;
            b.build()
        });
        match system {
            Ok(r) => resolvers.push(("the system's resolver".to_owned(), r)),
            Err(e) => answers.push(Err(format!(
                "cannot read this computer's DNS settings: {e}"
            ))),
        }
    }
    for addr in &question.resolvers {
        match resolver_at(*addr) {
            Some(r) => resolvers.push((addr.to_string(), r)),
            None => answers.push(Err(format!("cannot ask the resolver {addr}"))),
        }
    }
    let mut own = None;
    for (from, resolver) in &resolvers {
        answers.push(lookup(resolver, &fqdn, from.clone()).await);
        if own.is_none() {
            own = own_server(resolver, &fqdn, question.own_port).await;
        }
    }
    if let Some(own) = own {
        answers.push(lookup(&own, &fqdn, "the domain's own name server".to_owned()).await);
    }
    answers
}

/// A resolver asking the domain's own name server, when it has one.
async fn own_server(resolver: &TokioResolver, fqdn: &str, port: u16) -> Option<TokioResolver> {
    let ns = resolver.ns_lookup(fqdn).await.ok()?;
    let mut names: Vec<String> = ns
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            RData::NS(ns) => Some(ns.0.to_utf8()),
            _ => None,
        })
        .collect();
    names.sort();
    for name in names {
        if let Ok(ips) = resolver.lookup_ip(name.as_str()).await {
            if let Some(ip) = ips.iter().next() {
                return resolver_at(SocketAddr::new(ip, port));
            }
        }
    }
    None
}

/// The looks so far: since when every answer names only the new
/// provider, and the longest time to live seen on an answer that still
/// named the old one (resolvers may keep that answer so long).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tracker {
    since: Option<i64>,
    old_ttl_secs: u32,
}

impl Tracker {
    /// Takes one look's answers at `now` and says what the stop rule
    /// should know. Only new when every resolver answered, each with
    /// records, each naming only the new provider's hosts.
    pub fn observe(
        &mut self,
        question: &Question,
        now: i64,
        answers: &[Result<Answer, String>],
    ) -> Mx {
        for answer in answers.iter().flatten() {
            if answer.hosts.iter().any(|h| !question.is_new(h)) {
                self.old_ttl_secs = self.old_ttl_secs.max(answer.ttl_secs);
            }
        }
        let only_new = !answers.is_empty()
            && answers.iter().all(|a| {
                a.as_ref().is_ok_and(|a| {
                    !a.hosts.is_empty() && a.hosts.iter().all(|h| question.is_new(h))
                })
            });
        if !only_new {
            self.since = None;
            return Mx::NotYetNew;
        }
        let since = *self.since.get_or_insert(now);
        let ttl = answers
            .iter()
            .flatten()
            .map(|a| a.ttl_secs)
            .max()
            .unwrap_or(0);
        Mx::OnlyNew {
            since,
            // Never seen the old records: their TTL is not known, the new
            // records' is the best guess.
            old_ttl_secs: if self.old_ttl_secs > 0 {
                self.old_ttl_secs
            } else {
                ttl
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(new: &[&str], old: &[&str]) -> Question {
        Question {
            domain: "bakery.example".into(),
            new_hosts: new.iter().map(|h| h.to_string()).collect(),
            old_hosts: old.iter().map(|h| h.to_string()).collect(),
            resolvers: Vec::new(),
            system: false,
            own_port: 53,
        }
    }

    #[test]
    fn a_host_is_new_by_the_new_providers_names_or_by_not_being_an_old_one() {
        let by_new = question(&["mail.protection.outlook.com"], &[]);
        assert!(by_new.is_new("bakery-example.mail.protection.outlook.com."));
        assert!(!by_new.is_new("mx.oldhost.example"));
        assert!(!by_new.is_new("evilmail.protection.outlook.com"));
        let by_old = question(&[], &["mx1.oldhost.example", "MX2.oldhost.example."]);
        assert!(by_old.is_new("aspmx.l.google.com"));
        assert!(!by_old.is_new("mx2.oldhost.example"));
        assert!(!by_old.is_new("MX1.OLDHOST.EXAMPLE."));
        // Nothing known of either: no host can be called new.
        assert!(!question(&[], &[]).is_new("aspmx.l.google.com"));
    }
}
