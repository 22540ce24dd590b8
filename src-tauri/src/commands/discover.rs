//! Step 1 from an email address: the engine's discovery finds the server
//! and proves it (no password is asked or sent), and the window fills in
//! the provider tile and the server settings from what it found.

use super::servers::Server;
use crate::error::{IpcError, IpcResult};
use mailferry::discover::{discover, Candidate, DiscoverSettings, Discovery, Verdict};
use serde::Serialize;
use ts_rs::TS;

/// What discovery found for one address, as the window shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct Found {
    /// The address's domain (empty when it is not an address).
    pub domain: String,
    /// The outcome in plain words.
    pub words: String,
    /// The server chosen, when one passed.
    pub server: Option<Server>,
    /// The provider tile it matches (`gmail`, `microsoft`, …, `other`).
    pub preset: Option<String>,
    /// How it was found, in a sentence.
    pub how: Option<String>,
    /// The user name its settings say to sign in with, when they say.
    pub username: Option<String>,
    /// Why the user should look before a password goes there, in words;
    /// empty when nothing needs a look.
    pub cautions: Vec<String>,
    /// Every server asked, in order, with what the check found.
    pub tried: Vec<Tried>,
}

/// One server discovery asked about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct Tried {
    /// Server name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// How it was found.
    pub how: String,
    /// What the check found, in words.
    pub outcome: String,
}

/// Finds the server of `address` (the engine's discovery, with the name
/// servers and ISPDB the environment names, as the CLI does).
pub async fn discover_server(address: String) -> IpcResult<Found> {
    if address.len() > 320 {
        return Err(IpcError::invalid(
            "That is longer than any email address can be. Check what was typed.",
        ));
    }
    let settings = DiscoverSettings::from_env().map_err(IpcError::invalid)?;
    Ok(found(&discover(&address, &settings).await))
}

/// The window's view of a discovery.
pub fn found(discovery: &Discovery) -> Found {
    let chosen = discovery.chosen();
    Found {
        domain: discovery.domain.clone(),
        words: discovery.words.clone(),
        server: chosen.map(|c| Server {
            host: c.host.clone(),
            port: c.port,
            security: c.security,
            trusted_fingerprint: None,
        }),
        preset: chosen.map(|c| c.preset.to_owned()),
        how: chosen.map(|c| c.how.clone()),
        username: chosen.and_then(|c| c.username.clone()),
        cautions: chosen
            .map(|c| c.cautions.iter().map(|w| w.words()).collect())
            .unwrap_or_default(),
        tried: discovery
            .candidates
            .iter()
            .filter(|c| c.verdict != Verdict::NotTried)
            .map(tried)
            .collect(),
    }
}

fn tried(c: &Candidate) -> Tried {
    Tried {
        host: c.host.clone(),
        port: c.port,
        how: c.how.clone(),
        outcome: match &c.verdict {
            Verdict::NotTried => "not tried".to_owned(),
            Verdict::Proven { .. } => "answers as a mail server".to_owned(),
            Verdict::OtherName { message, .. } | Verdict::Failed { message, .. } => message.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailferry_harness::{DnsServer, Dovecot};
    use std::net::Ipv4Addr;

    /// The window's view of a real discovery: a domain whose service
    /// record names a real Dovecot, proven with no sign-in.
    #[tokio::test(flavor = "multi_thread")]
    async fn an_address_gives_the_server_its_domain_names_and_how_it_was_found() {
        let dovecot = Dovecot::builder()
            .tls_names(&["mail.bakery.example"])
            .build();
        let dns = DnsServer::start();
        dns.srv(
            "_imaps._tcp.bakery.example",
            0,
            1,
            dovecot.tls_port(),
            "mail.bakery.example",
        )
        .a("mail.bakery.example", Ipv4Addr::LOCALHOST);
        let settings = DiscoverSettings {
            resolvers: vec![dns.addr()],
            ispdb: None,
            https_port: 1,
            http_port: 1,
            imaps_port: 1,
            imap_port: 1,
            extra_roots_pem: vec![dovecot.ca_pem().to_owned()],
            timeout: std::time::Duration::from_secs(5),
        };
        let view = found(&discover("anna@bakery.example", &settings).await);
        assert_eq!(view.domain, "bakery.example");
        let server = view.server.expect("the service record's server is chosen");
        assert_eq!(server.host, "mail.bakery.example");
        assert_eq!(server.port, dovecot.tls_port());
        assert!(view.cautions.is_empty(), "{:?}", view.cautions);
        assert_eq!(view.preset.as_deref(), Some("other"));
        assert!(
            view.how.as_deref().unwrap_or("").contains("bakery.example"),
            "{:?}",
            view.how
        );
        assert!(!view.tried.is_empty());
        assert!(
            view.tried
                .iter()
                .any(|t| t.host == "mail.bakery.example" && t.outcome == "answers as a mail server"),
            "{:?}",
            view.tried
        );
        let log = dovecot.log();
        assert!(
            !log.contains("Login: user=") && !log.contains("auth failed"),
            "no sign-in was attempted while finding the server:\n{log}"
        );
    }

    #[tokio::test]
    async fn what_is_not_an_address_is_said_in_words() {
        let view = discover_server("not an address".into()).await.unwrap();
        assert!(view.server.is_none());
        assert!(
            view.words.contains("is not an email address"),
            "{}",
            view.words
        );
        assert!(discover_server("a".repeat(400)).await.is_err());
    }
}
