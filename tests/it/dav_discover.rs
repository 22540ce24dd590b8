//! Finding the contacts and calendar servers from an email address or a
//! domain (provider presets, MX records, RFC 6764 service and TXT
//! records, well-known addresses), and an account spread over several
//! servers: real Radicale servers, a local DNS responder and small HTTP
//! fronts, all on 127.0.0.1. The password goes only to the provider's
//! own servers: a home set elsewhere is refused before anything is sent.

use crate::dav::{assert_same, dav, office, radicale_or_skip, totals};
use mailferry::dav::locate::{locate, Located};
use mailferry::discover::DiscoverSettings;
use mailferry_harness::{DnsServer, HttpServer, Radicale, TlsFront};
use std::net::Ipv4Addr;

/// Discovery settings that ask only `dns`, and a closed HTTPS port.
fn settings(dns: &DnsServer) -> DiscoverSettings {
    DiscoverSettings {
        resolvers: vec![dns.addr()],
        ispdb: None,
        https_port: 8443,
        ..DiscoverSettings::default()
    }
}

fn located(input: &str, dns: &DnsServer) -> Located {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(locate(input, &settings(dns)))
        .unwrap_or_else(|e| panic!("{input}: {e}"))
}

/// `sync` from `source` (as --dav1 takes it) to bob at `dst`, asking `dns`.
fn sync_from(
    source: &str,
    dst: &Radicale,
    dns: &DnsServer,
    state: &std::path::Path,
    extra: &[&str],
) -> (Option<i32>, serde_json::Value, String) {
    let args: Vec<String> = [
        "--dav1",
        source,
        "--user1",
        "alice",
        "--dav2",
        &format!("{}/", dst.url()),
        "--user2",
        "bob",
        "--state",
        &state.display().to_string(),
        "--json",
    ]
    .iter()
    .chain(extra)
    .map(|s| s.to_string())
    .collect();
    let resolver = dns.addr().to_string();
    dav("sync", &args, &[("MAILFERRY_NAME_SERVER", &resolver)])
}

#[test]
fn service_records_are_asked_carefully_and_presets_come_first() {
    let dns = DnsServer::start();
    // TLS service records and their TXT paths.
    dns.srv(
        "_carddavs._tcp.bakery.example",
        0,
        0,
        443,
        "dav.bakery.example",
    )
    .txt(
        "_carddavs._tcp.bakery.example",
        &["txtvers=1", "path=/dav/cards/"],
    )
    .srv(
        "_caldavs._tcp.bakery.example",
        0,
        0,
        8443,
        "cal.bakery.example",
    )
    .srv(
        "_caldav._tcp.bakery.example",
        0,
        0,
        80,
        "cal.bakery.example",
    );
    let found = located("anna@bakery.example", &dns);
    assert_eq!(
        found.contacts.as_deref(),
        Some("https://dav.bakery.example/dav/cards/")
    );
    assert_eq!(
        found.calendars.as_deref(),
        Some("https://cal.bakery.example:8443/.well-known/caldav"),
        "TLS preferred; no TXT: the well-known path"
    );
    assert!(found.how.contains("service records"), "{}", found.how);

    // A plain-HTTP service on another computer is not used: the domain's
    // well-known HTTPS address is tried instead.
    dns.srv("_carddav._tcp.plain.example", 0, 0, 80, "dav.plain.example")
        .a("dav.plain.example", Ipv4Addr::new(192, 0, 2, 7));
    let found = located("plain.example", &dns);
    assert_eq!(
        found.contacts.as_deref(),
        Some("https://plain.example:8443/.well-known/carddav")
    );

    // A provider's own domain, and a custom domain by its mail records.
    let found = located("anna@icloud.com", &dns);
    assert_eq!(
        found.contacts.as_deref(),
        Some("https://contacts.icloud.com/")
    );
    assert!(found.trusted.contains(&"icloud.com".to_owned()));
    dns.mx("shop.example", 10, "in1-smtp.messagingengine.com");
    let found = located("anna@shop.example", &dns);
    assert_eq!(
        (found.contacts.as_deref(), found.calendars.as_deref()),
        (
            Some("https://carddav.fastmail.com/"),
            Some("https://caldav.fastmail.com/")
        ),
        "{}",
        found.how
    );
    assert!(found.how.contains("MX"), "{}", found.how);
}

#[test]
fn an_address_whose_service_and_txt_records_name_the_server_copies_everything() {
    if !radicale_or_skip() {
        return;
    }
    let src = office(12, 9);
    let dst = Radicale::start(&[("bob", "bob-pw")]);
    let dns = DnsServer::start();
    for kind in ["carddav", "caldav"] {
        let name = format!("_{kind}._tcp.bakery.example");
        dns.srv(&name, 0, 0, src.port(), "127.0.0.1")
            .txt(&name, &["path=/alice/"]);
    }
    let tmp = tempfile::tempdir().unwrap();
    let (code, report, out) = sync_from(
        "alice@bakery.example",
        &dst,
        &dns,
        &tmp.path().join("state.db"),
        &[],
    );
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(totals(&report), (21, 0, 0), "{out}");
    assert!(
        out.contains("service records"),
        "how it was found is said: {out}"
    );
    assert_same(&src, &dst);
    assert!(
        dns.questions()
            .iter()
            .any(|(n, t)| n == "_carddav._tcp.bakery.example" && t == "TXT"),
        "the TXT record was asked"
    );
}

#[test]
fn a_tls_service_record_leads_to_the_server_by_its_name_and_its_certificate() {
    if !radicale_or_skip() {
        return;
    }
    let src = office(6, 4);
    let front = TlsFront::start(src.addr(), &["dav.secure.example"]);
    let dst = Radicale::start(&[("bob", "bob-pw")]);
    let dns = DnsServer::start();
    dns.a("dav.secure.example", Ipv4Addr::LOCALHOST);
    for kind in ["carddav", "caldav"] {
        let name = format!("_{kind}s._tcp.secure.example");
        dns.srv(&name, 0, 0, front.port(), "dav.secure.example")
            .txt(&name, &["path=/alice/"]);
    }
    // A plain service is published too: the TLS one is preferred.
    dns.srv(
        "_carddav._tcp.secure.example",
        0,
        0,
        80,
        "dav.secure.example",
    );
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state.db");

    // A certificate nobody vouches for stops everything, in words.
    let (code, _, out) = sync_from("alice@secure.example", &dst, &dns, &state, &[]);
    assert_ne!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!("https://dav.secure.example:{}", front.port()))
            && out.contains("certificate this computer does not trust")
            && out.contains("--cafile1"),
        "{out}"
    );
    assert!(dst.collections("bob").is_empty(), "nothing copied: {out}");

    // With its authority trusted, it is found by its name and copied.
    let ca = tmp.path().join("ca.pem");
    std::fs::write(&ca, front.ca_pem()).unwrap();
    let ca = ca.display().to_string();
    let (code, report, out) = sync_from(
        "alice@secure.example",
        &dst,
        &dns,
        &state,
        &["--cafile1", &ca],
    );
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(totals(&report), (10, 0, 0), "{out}");
    assert!(
        out.contains(&format!(
            "contacts at https://dav.secure.example:{}/alice/",
            front.port()
        )),
        "{out}"
    );
    assert_same(&src, &dst);
}

/// Two TLS service records: the first target (by priority) is down, the
/// second answers. RFC 2782 has the client try the next target; before,
/// only the first was used and the account was "not a contacts server".
#[test]
fn a_service_records_target_that_is_down_gives_way_to_the_next() {
    if !radicale_or_skip() {
        return;
    }
    let src = office(6, 4);
    let front = TlsFront::start(src.addr(), &["dav2.bakery.example"]);
    let down = mailferry_harness::RefusingPort::new();
    let dst = Radicale::start(&[("bob", "bob-pw")]);
    let dns = DnsServer::start();
    dns.a("dav1.bakery.example", Ipv4Addr::LOCALHOST)
        .a("dav2.bakery.example", Ipv4Addr::LOCALHOST);
    for kind in ["carddav", "caldav"] {
        let name = format!("_{kind}s._tcp.bakery.example");
        dns.srv(&name, 0, 0, down.port(), "dav1.bakery.example")
            .srv(&name, 10, 0, front.port(), "dav2.bakery.example")
            .txt(&name, &["path=/alice/"]);
    }
    let tmp = tempfile::tempdir().unwrap();
    let ca = tmp.path().join("ca.pem");
    std::fs::write(&ca, front.ca_pem()).unwrap();
    let ca = ca.display().to_string();
    let (code, report, out) = sync_from(
        "alice@bakery.example",
        &dst,
        &dns,
        &tmp.path().join("state.db"),
        &["--cafile1", &ca],
    );
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(totals(&report), (10, 0, 0), "{out}");
    assert!(
        out.contains(&format!(
            "contacts at https://dav2.bakery.example:{}/alice/",
            front.port()
        )),
        "{out}"
    );
    assert_same(&src, &dst);
}

/// The domain's service records name `front`, a web server that sends
/// the well-known addresses on toward `src`'s DAV server: the copy from
/// the domain into an empty account carries everything over. The targets
/// `front` was asked for.
fn copy_through_front(src: &Radicale, front: &HttpServer) -> Vec<String> {
    let dst = Radicale::start(&[("bob", "bob-pw")]);
    let dns = DnsServer::start();
    dns.srv(
        "_carddav._tcp.bakery.example",
        0,
        0,
        front.port(),
        "127.0.0.1",
    )
    .srv(
        "_caldav._tcp.bakery.example",
        0,
        0,
        front.port(),
        "127.0.0.1",
    );
    let tmp = tempfile::tempdir().unwrap();
    let (code, report, out) = sync_from(
        "bakery.example",
        &dst,
        &dns,
        &tmp.path().join("state.db"),
        &[],
    );
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(totals(&report), (12, 0, 0), "{out}");
    assert_same(src, &dst);
    front.requests().iter().map(|r| r.target.clone()).collect()
}

#[test]
fn a_well_known_redirect_to_another_port_is_followed() {
    if !radicale_or_skip() {
        return;
    }
    let src = office(7, 5);
    // The domain's web server sends the well-known addresses on to the
    // DAV server (same host, another port); no TXT record.
    let front = HttpServer::start();
    front
        .redirect("/.well-known/carddav", &format!("{}/", src.url()))
        .redirect("/.well-known/caldav", &format!("{}/", src.url()));
    let asked = copy_through_front(&src, &front);
    assert!(
        asked.contains(&"/.well-known/carddav".to_owned()),
        "{asked:?}"
    );
}

/// A web server that sends the well-known address on, and on again (to
/// its own `/dav/`, which sends it to the DAV server): the chain is
/// followed, not only its first step.
#[test]
fn a_chain_of_well_known_redirects_is_followed() {
    if !radicale_or_skip() {
        return;
    }
    let src = office(7, 5);
    let front = HttpServer::start();
    let dav = format!("http://127.0.0.1:{}/dav/", front.port());
    front
        .redirect("/.well-known/carddav", &dav)
        .redirect("/.well-known/caldav", &dav)
        .redirect("/dav/", &format!("{}/", src.url()));
    let asked = copy_through_front(&src, &front);
    assert!(asked.contains(&"/dav/".to_owned()), "{asked:?}");
}

/// A principal's multistatus: `principal` and home sets at `home`.
fn principal(href: &str, principal: &str, home: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<d:multistatus xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav" xmlns:cal="urn:ietf:params:xml:ns:caldav">
 <d:response><d:href>{href}</d:href><d:propstat><d:prop>
  <d:resourcetype><d:principal/></d:resourcetype>
  <d:current-user-principal><d:href>{principal}</d:href></d:current-user-principal>
  <card:addressbook-home-set><d:href>{home}</d:href></card:addressbook-home-set>
  <cal:calendar-home-set><d:href>{home}</d:href></cal:calendar-home-set>
 </d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
</d:multistatus>"#
    )
}

/// An iCloud-like front: `/` names the principal `/123/principal/`, whose
/// home sets are at `home` (another server).
fn front_with_home(home: &str) -> HttpServer {
    let front = HttpServer::start();
    let multistatus = [("Content-Type", "application/xml; charset=utf-8")];
    front
        .answer(
            "/",
            207,
            &multistatus,
            &principal("/", "/123/principal/", "/123/"),
        )
        .answer(
            "/123/principal/",
            207,
            &multistatus,
            &principal("/123/principal/", "/123/principal/", home),
        );
    front
}

#[test]
fn home_sets_on_another_server_of_the_provider_copy_correctly() {
    if !radicale_or_skip() {
        return;
    }
    let src = office(10, 8);
    let dst = Radicale::start(&[("bob", "bob-pw")]);
    let front = front_with_home(&format!("{}/alice/", src.url()));
    let dns = DnsServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state.db");
    let source = format!("http://127.0.0.1:{}/", front.port());
    let (code, report, out) = sync_from(&source, &dst, &dns, &state, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(totals(&report), (18, 0, 0), "{out}");
    assert_same(&src, &dst);
    // A re-run recognises every entry by its address on the other server.
    let (code, report, out) = sync_from(&source, &dst, &dns, &state, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(totals(&report), (0, 0, 18), "{out}");

    // As the destination: address books and calendars are made, and
    // entries written, on the other server.
    let other = Radicale::start(&[("bob", "bob-pw")]);
    let front = front_with_home(&format!("{}/bob/", other.url()));
    let args: Vec<String> = [
        "--dav1".to_owned(),
        format!("{}/", src.url()),
        "--user1".into(),
        "alice".into(),
        "--dav2".into(),
        format!("http://127.0.0.1:{}/", front.port()),
        "--user2".into(),
        "bob".into(),
        "--state".into(),
        tmp.path().join("to-front.db").display().to_string(),
        "--json".into(),
    ]
    .to_vec();
    let (code, report, out) = dav("sync", &args, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(totals(&report), (18, 0, 0), "{out}");
    assert_same(&src, &other);
    let (code, report, out) = dav("verify", &args, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(report["safe_to_switch"], true, "{out}");
}

#[test]
fn a_home_set_outside_the_providers_domain_gets_no_password() {
    // The foreign server records every request it gets.
    let foreign = HttpServer::start();
    let front = front_with_home(&format!("http://localhost:{}/alice/", foreign.port()));
    let dns = DnsServer::start();
    let args: Vec<String> = vec![
        "--dav1".into(),
        format!("http://127.0.0.1:{}/", front.port()),
        "--user1".into(),
        "alice".into(),
        "--json".into(),
    ];
    let resolver = dns.addr().to_string();
    let (code, _, out) = dav("check", &args, &[("MAILFERRY_NAME_SERVER", &resolver)]);
    assert_ne!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!("localhost:{}", foreign.port()))
            && out.contains("password was not sent"),
        "said in words: {out}"
    );
    assert!(
        foreign
            .requests()
            .iter()
            .all(|r| r.authorization.is_empty()),
        "no credentials reached the foreign server"
    );
    assert!(
        foreign.requests().is_empty(),
        "nothing was sent there at all"
    );
    assert!(
        front.requests().iter().any(|r| !r.authorization.is_empty()),
        "the provider's own server was signed in to"
    );
}
