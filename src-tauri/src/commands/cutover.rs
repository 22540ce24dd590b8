//! Step 7's cutover checklist: the domain's mail records (MX) as DNS answers
//! them now, with their time to live, so the user knows whether the TTL is
//! low enough to switch. Reads DNS only.

use crate::error::{ErrorCode, IpcError, IpcResult};
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;
use serde::Serialize;
use std::net::SocketAddr;
use std::time::Duration;
use ts_rs::TS;

/// One mail record: where the domain's mail is delivered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct MxRecord {
    /// Lower is tried first.
    pub preference: u16,
    /// The mail server's name, without the final dot.
    pub host: String,
}

/// What DNS says about the domain's mail now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct MxCheck {
    /// The domain looked up.
    pub domain: String,
    /// Its mail records, lowest preference first (empty: none found).
    pub records: Vec<MxRecord>,
    /// How long resolvers may keep the answer, in seconds.
    pub ttl_secs: u32,
    /// The TTL is short enough to switch without a long wait.
    pub ttl_low: bool,
    /// The answer came from the domain's own name server (its real TTL),
    /// not from a cache (which reports only what is left of its copy).
    pub authoritative: bool,
    /// What to do next, in plain words.
    pub advice: String,
}

/// A TTL at or below this (5 minutes) lets a switch take effect quickly.
pub const LOW_TTL_SECS: u32 = 300;

/// A resolver: the system's, or the one nameserver given (tests, a user
/// who wants to ask their DNS host's server directly).
pub fn resolver(nameserver: Option<SocketAddr>) -> IpcResult<TokioResolver> {
    let mut builder = match nameserver {
        Some(addr) => {
            let mut udp = ConnectionConfig::udp();
            udp.port = addr.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = addr.port();
            let server = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
            TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(vec![server]),
                TokioRuntimeProvider::default(),
            )
        }
        None => TokioResolver::builder_tokio().map_err(|e| {
            IpcError {
                detail: Some(e.to_string()),
                ..IpcError::new(
                    ErrorCode::NetworkUnreachable,
                    "MailFerry couldn't read this computer's DNS settings. Check the internet connection and try again.",
                )
            }
        })?,
    };
    builder.options_mut().timeout = Duration::from_secs(5);
    builder.options_mut().attempts = 2;
    builder.build().map_err(IpcError::internal)
}

/// Checks what the user typed is a domain name (`example.com`).
pub fn domain_name(text: &str) -> IpcResult<String> {
    let domain = text.trim().trim_end_matches('.').to_ascii_lowercase();
    let domain = domain
        .rsplit_once('@')
        .map_or(domain.as_str(), |(_, d)| d)
        .to_owned();
    let fits = !domain.is_empty()
        && domain.len() <= 253
        && domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if fits {
        Ok(domain)
    } else {
        Err(IpcError::invalid(
            "Enter your domain, the part of your address after the @ (like example.com).",
        ))
    }
}

fn ttl_words(secs: u32) -> String {
    match secs {
        s if s < 120 => format!("{s} seconds"),
        s if s < 7200 => format!("{} minutes", s / 60),
        s if s < 172_800 => format!("{} hours", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

/// A resolver asking the domain's own name server (found through
/// `resolver`) on `port`; `None` when it has none of its own.
async fn authoritative(resolver: &TokioResolver, fqdn: &str, port: u16) -> Option<TokioResolver> {
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
                return self::resolver(Some(SocketAddr::new(ip, port))).ok();
            }
        }
    }
    None
}

/// Looks up `domain`'s mail records: at the domain's own name server
/// (found with `resolver`, asked on `port`, 53 in real life), else with
/// `resolver` itself.
pub async fn check_mx_with(
    resolver: &TokioResolver,
    domain: &str,
    port: u16,
) -> IpcResult<MxCheck> {
    let domain = domain_name(domain)?;
    let fqdn = format!("{domain}.");
    let lookup_failed = |e: &dyn std::fmt::Display| {
        IpcError {
        detail: Some(e.to_string()),
        ..IpcError::new(
            ErrorCode::Timeout,
            format!(
                "MailFerry couldn't look up the mail records of {domain}. Check the internet connection and try again."
            ),
        )
    }
    };
    let mut answer = None;
    if let Some(own) = authoritative(resolver, &fqdn, port).await {
        match own.mx_lookup(fqdn.as_str()).await {
            Ok(lookup) => answer = Some((Some(lookup), true)),
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => answer = Some((None, true)),
            Err(_) => {} // Unreachable name server: ask the cache instead.
        }
    }
    let (lookup, authoritative) = match answer {
        Some(found) => found,
        None => match resolver.mx_lookup(fqdn.as_str()).await {
            Ok(lookup) => (Some(lookup), false),
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => (None, false),
            Err(e) => return Err(lookup_failed(&e)),
        },
    };
    let mut records = Vec::new();
    let mut ttl_secs = 0;
    for record in lookup.iter().flat_map(|l| l.answers()) {
        if let RData::MX(mx) = &record.data {
            records.push(MxRecord {
                preference: mx.preference,
                host: mx.exchange.to_utf8().trim_end_matches('.').to_owned(),
            });
            ttl_secs = ttl_secs.max(record.ttl);
        }
    }
    records.sort_by(|a, b| a.preference.cmp(&b.preference).then(a.host.cmp(&b.host)));
    let ttl_low = !records.is_empty() && ttl_secs <= LOW_TTL_SECS;
    let mut advice = if records.is_empty() {
        format!(
            "{domain} has no mail records (MX) yet, or the name is misspelt. Check it at your DNS host."
        )
    } else if ttl_low {
        format!(
            "The records' time to live is {}: low enough. When the copy has caught up, point the MX records at your new provider.",
            ttl_words(ttl_secs)
        )
    } else {
        format!(
            "The records' time to live is {}. At your DNS host, lower it to 5 minutes at least 48 hours before you switch, so the change reaches everyone quickly.",
            ttl_words(ttl_secs)
        )
    };
    if !records.is_empty() && !authoritative {
        advice.push_str(
            " (MailFerry couldn't ask your domain's own name server, so this is what your internet provider remembers: the time to live set at your DNS host may be longer. Check it there.)",
        );
    }
    Ok(MxCheck {
        domain,
        records,
        ttl_secs,
        ttl_low: ttl_low && authoritative,
        authoritative,
        advice,
    })
}

/// The cutover checklist's DNS check: the domain's mail records and TTL.
pub async fn check_mx(domain: String) -> IpcResult<MxCheck> {
    let resolver = resolver(None)?;
    check_mx_with(&resolver, &domain, 53).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    /// A DNS name in wire form.
    fn name(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for label in text.trim_end_matches('.').split('.') {
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
        out.push(0);
        out
    }

    const MX: u16 = 15;
    const NS: u16 = 2;
    const A: u16 = 1;

    /// One answer: (owner, type, ttl, rdata).
    type Answer = (&'static str, u16, u32, Vec<u8>);

    fn mx(ttl: u32, pref: u16, host: &str) -> Answer {
        let mut rdata = pref.to_be_bytes().to_vec();
        rdata.extend(name(host));
        ("example.com", MX, ttl, rdata)
    }

    /// A tiny DNS server on 127.0.0.1 answering from `table`: a name it
    /// has no record of does not exist; a known name without the type
    /// asked has no such record. Answers until the test ends.
    fn responder(table: Vec<Answer>) -> SocketAddr {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while let Ok((n, peer)) = socket.recv_from(&mut buf) {
                let query = &buf[..n];
                let mut end = 12;
                while query[end] != 0 {
                    end += 1 + query[end] as usize;
                }
                let qname = &query[12..=end];
                let qtype = u16::from_be_bytes([query[end + 1], query[end + 2]]);
                let known = |owner: &str| qname.eq_ignore_ascii_case(&name(owner));
                let answers: Vec<&Answer> = table
                    .iter()
                    .filter(|(owner, t, ..)| known(owner) && *t == qtype)
                    .collect();
                let exists = table.iter().any(|(owner, ..)| known(owner));
                let mut out = query[..2].to_vec(); // id
                out.extend_from_slice(&[0x85, if exists { 0x80 } else { 0x83 }]);
                out.extend_from_slice(&[0, 1, 0, answers.len() as u8, 0, 0, 0, 0]);
                out.extend_from_slice(&query[12..end + 5]);
                for (_, t, ttl, rdata) in answers {
                    out.extend_from_slice(&[0xC0, 12]);
                    out.extend_from_slice(&t.to_be_bytes());
                    out.extend_from_slice(&[0, 1]);
                    out.extend_from_slice(&ttl.to_be_bytes());
                    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
                    out.extend_from_slice(rdata);
                }
                let _ = socket.send_to(&out, peer);
            }
        });
        addr
    }

    /// The user's resolver (a cache that has 200 s left of example.com's
    /// records) and example.com's own name server on another port.
    fn check(own_ttl: u32, domain: &str) -> IpcResult<MxCheck> {
        let own = responder(vec![
            mx(own_ttl, 20, "alt.mx.example.net"),
            mx(own_ttl, 10, "mx.example.net"),
        ]);
        let cache = responder(vec![
            mx(200, 10, "mx.example.net"),
            ("example.com", NS, 3600, name("ns1.example.com")),
            ("ns1.example.com", A, 3600, vec![127, 0, 0, 1]),
            ("elsewhere.example", MX, 200, {
                let mut r = 5u16.to_be_bytes().to_vec();
                r.extend(name("mx.elsewhere.example"));
                r
            }),
        ]);
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async { check_mx_with(&resolver(Some(cache))?, domain, own.port()).await })
    }

    #[test]
    fn the_domains_own_name_server_tells_the_real_ttl_not_the_cache() {
        let mx = check(86_400, "Owner@Example.com").unwrap();
        assert_eq!(mx.domain, "example.com");
        assert_eq!(
            mx.records,
            [
                MxRecord {
                    preference: 10,
                    host: "mx.example.net".into()
                },
                MxRecord {
                    preference: 20,
                    host: "alt.mx.example.net".into()
                }
            ]
        );
        assert!(mx.authoritative);
        assert_eq!(mx.ttl_secs, 86_400, "not the cache's 200 s");
        assert!(!mx.ttl_low);
        assert!(mx.advice.contains("24 hours"), "{}", mx.advice);
        assert!(mx.advice.contains("48 hours before"), "{}", mx.advice);
    }

    #[test]
    fn a_low_ttl_at_the_source_is_ready_to_switch() {
        let mx = check(300, "example.com").unwrap();
        assert!(mx.authoritative && mx.ttl_low);
        assert_eq!(mx.records.len(), 2);
        assert!(mx.advice.contains("low enough"), "{}", mx.advice);
    }

    #[test]
    fn without_a_name_server_of_its_own_the_cache_answers_and_says_so() {
        let mx = check(300, "elsewhere.example").unwrap();
        assert!(!mx.authoritative);
        assert_eq!(mx.records[0].host, "mx.elsewhere.example");
        assert_eq!(mx.ttl_secs, 200);
        assert!(
            !mx.ttl_low,
            "a cache's remainder never proves the TTL is low"
        );
        assert!(mx.advice.contains("may be longer"), "{}", mx.advice);
    }

    #[test]
    fn an_unknown_domain_has_no_records_and_says_so() {
        let mx = check(300, "no-such-domain.example").unwrap();
        assert!(mx.records.is_empty());
        assert!(!mx.ttl_low);
        assert!(mx.advice.contains("no mail records"), "{}", mx.advice);
    }

    #[test]
    fn only_domain_names_are_looked_up() {
        assert_eq!(domain_name(" Example.COM. ").unwrap(), "example.com");
        assert_eq!(domain_name("me@example.org").unwrap(), "example.org");
        for bad in ["", "localhost", "exa mple.com", "-x.com", "a..b"] {
            assert_eq!(
                domain_name(bad).unwrap_err().code,
                ErrorCode::InvalidInput,
                "{bad}"
            );
        }
    }
}
