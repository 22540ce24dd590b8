//! Discovery against a local DNS responder, local web servers and real
//! Dovecot servers, all on 127.0.0.1: each source finds its server and
//! the check proves it; an earlier source wins; a failing candidate is
//! listed with its reason; what needs the user's say is marked; and no
//! server is ever sent a password.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use mailferry::discover::{discover, Caution, DiscoverSettings, Discovery, Source, Verdict};
use mailferry::endpoint::Security;
use mailferry::mx::{self, Question, Tracker};
use mailferry::watch::Mx;
use mailferry_harness::{DnsServer, Dovecot, HttpServer, Layout, RefusingPort};

const HOME: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// A Dovecot whose certificate is for `names`.
fn server(names: &[&str]) -> Dovecot {
    Dovecot::builder()
        .layout(Layout::Exchange)
        .tls_names(names)
        .build()
}

/// A port on 127.0.0.1 that refuses connections for the whole test run (bound,
/// never listening), so no other test's server can be given it meanwhile.
fn closed_port() -> u16 {
    static CLOSED: std::sync::OnceLock<RefusingPort> = std::sync::OnceLock::new();
    CLOSED.get_or_init(RefusingPort::new).port()
}

/// Settings that ask only `dns`, reach `server` on the usual IMAP ports'
/// stand-ins, trust its CA, and find no web server (a closed port).
fn settings(dns: &DnsServer, server: &Dovecot) -> DiscoverSettings {
    DiscoverSettings {
        resolvers: vec![dns.addr()],
        ispdb: None,
        https_port: closed_port(),
        http_port: closed_port(),
        imaps_port: server.tls_port(),
        imap_port: server.plain_port(),
        extra_roots_pem: vec![server.ca_pem().to_owned()],
        timeout: Duration::from_secs(5),
    }
}

/// An autoconfig document offering one IMAP server.
fn autoconfig(host: &str, port: u16, socket: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="bakery.example">
    <domain>bakery.example</domain>
    <incomingServer type="imap">
      <hostname>{host}</hostname>
      <port>{port}</port>
      <socketType>{socket}</socketType>
      <username>%EMAILADDRESS%</username>
      <authentication>password-cleartext</authentication>
    </incomingServer>
  </emailProvider>
</clientConfig>"#
    )
}

/// An Exchange Autodiscover (POX) answer offering one IMAP server over TLS.
fn autodiscover_xml(host: &str, port: u16) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
    <Account>
      <Protocol><Type>EXCH</Type><Server>{host}</Server></Protocol>
      <Protocol>
        <Type>IMAP</Type><Server>{host}</Server><Port>{port}</Port>
        <SSL>on</SSL><LoginName>anna@bakery.example</LoginName>
      </Protocol>
    </Account>
  </Response>
</Autodiscover>"#
    )
}

fn chosen(d: &Discovery) -> &mailferry::discover::Candidate {
    d.chosen()
        .unwrap_or_else(|| panic!("expected a server to be chosen, got {d:#?}"))
}

/// No client signed in or tried to: Dovecot logged the probes'
/// connections as closed with no sign-in attempt, and no sign-in at all.
fn assert_no_password_sent(server: &Dovecot) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut log = server.log();
    while !log.contains("no auth attempts") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        log = server.log();
    }
    assert!(
        log.contains("no auth attempts"),
        "the probes' connections should be logged as closed without a sign-in:\n{log}"
    );
    for sign_in in [
        "Login: user=",
        "auth failed",
        "password mismatch",
        "Aborted login",
    ] {
        assert!(
            !log.contains(sign_in),
            "discovery must never sign in ({sign_in:?} in the log):\n{log}"
        );
    }
}

#[tokio::test]
async fn a_providers_own_domain_finds_its_preset() {
    let imap = server(&["imap.gmail.com"]);
    let dns = DnsServer::start();
    dns.a("imap.gmail.com", HOME);
    let d = discover("anna@gmail.com", &settings(&dns, &imap)).await;
    let c = chosen(&d);
    assert_eq!((c.source, c.preset), (Source::Preset, "gmail"), "{d:#?}");
    assert_eq!(c.host, "imap.gmail.com");
    assert!(c.cautions.is_empty());
    assert!(!d.needs_confirmation);
    assert!(
        !dns.questions().iter().any(|(_, kind)| kind == "MX"),
        "the preset is the first source: nothing later is asked: {:?}",
        dns.questions()
    );
    assert_no_password_sent(&imap);
}

#[tokio::test]
async fn mx_records_at_google_choose_gmail_without_any_http() {
    let imap = server(&["imap.gmail.com"]);
    let web = HttpServer::start();
    web.serve(
        "/mail/config-v1.1.xml",
        &autoconfig("imap.bakery.example", imap.tls_port(), "SSL"),
    );
    let dns = DnsServer::start();
    dns.mx("bakery.example", 1, "aspmx.l.google.com")
        .mx("bakery.example", 5, "alt1.aspmx.l.google.com")
        .a("imap.gmail.com", HOME)
        .a("autoconfig.bakery.example", HOME)
        .a("imap.bakery.example", HOME);
    let mut s = settings(&dns, &imap);
    s.http_port = web.port();
    let d = discover("anna@bakery.example", &s).await;
    let c = chosen(&d);
    assert_eq!((c.source, c.preset), (Source::Mx, "gmail"), "{d:#?}");
    assert_eq!(c.host, "imap.gmail.com");
    assert!(
        d.words.starts_with(
            "Mail for bakery.example is handled by Google Workspace (from its MX records)"
        ),
        "{}",
        d.words
    );
    assert_eq!(
        d.candidates.len(),
        1,
        "both MX records name Google: one candidate"
    );
    assert!(
        web.requests().is_empty(),
        "MX records naming Google decide without any HTTP: {:?}",
        web.requests()
    );
    assert_no_password_sent(&imap);
}

#[tokio::test]
async fn mx_records_at_microsoft_choose_microsoft_365() {
    let imap = server(&["outlook.office365.com"]);
    let dns = DnsServer::start();
    dns.mx(
        "bakery.example",
        0,
        "bakery-example.mail.protection.outlook.com",
    )
    .a("outlook.office365.com", HOME);
    let d = discover("anna@bakery.example", &settings(&dns, &imap)).await;
    let c = chosen(&d);
    assert_eq!((c.source, c.preset), (Source::Mx, "microsoft"), "{d:#?}");
    assert_eq!(c.host, "outlook.office365.com");
    assert!(d.words.contains("handled by Microsoft 365"), "{}", d.words);
    assert_no_password_sent(&imap);
}

#[tokio::test]
async fn autoconfig_over_https_is_found_and_proven_before_later_sources() {
    let imap = server(&["imap.bakery.example"]);
    let web = HttpServer::start_tls(&["autoconfig.bakery.example"]);
    web.serve(
        "/mail/config-v1.1.xml",
        &autoconfig("imap.%EMAILDOMAIN%", imap.tls_port(), "SSL"),
    );
    let dns = DnsServer::start();
    // An unknown mail host: the MX records name no provider.
    dns.mx("bakery.example", 10, "mx.bakery.example")
        .a("autoconfig.bakery.example", HOME)
        .a("imap.bakery.example", HOME)
        .srv(
            "_imaps._tcp.bakery.example",
            0,
            1,
            imap.tls_port(),
            "imap.bakery.example",
        );
    let mut s = settings(&dns, &imap);
    s.https_port = web.port();
    s.extra_roots_pem.push(web.ca_pem().unwrap().to_owned());
    let d = discover("anna@bakery.example", &s).await;
    let c = chosen(&d);
    assert_eq!(c.source, Source::Autoconfig, "{d:#?}");
    assert_eq!(
        (c.host.as_str(), c.port, c.security),
        ("imap.bakery.example", imap.tls_port(), Security::Tls)
    );
    assert_eq!(c.username.as_deref(), Some("anna@bakery.example"));
    assert!(c.cautions.is_empty(), "HTTPS, inside the domain: {c:#?}");
    assert!(!d.needs_confirmation);
    let requests = web.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(
        requests[0]
            .target
            .starts_with("/mail/config-v1.1.xml?emailaddress=anna%40bakery.example"),
        "{requests:?}"
    );
    assert!(
        !dns.questions().iter().any(|(_, kind)| kind == "SRV"),
        "autoconfig won: the service records are not asked: {:?}",
        dns.questions()
    );
    assert_no_password_sent(&imap);
}

#[tokio::test]
async fn autoconfig_over_plain_http_is_marked_untrusted() {
    let imap = server(&["mailbox.bakery.example"]);
    let web = HttpServer::start();
    web.serve(
        "/.well-known/autoconfig/mail/config-v1.1.xml",
        &autoconfig("mailbox.bakery.example", imap.tls_port(), "SSL"),
    );
    let dns = DnsServer::start();
    dns.a("bakery.example", HOME)
        .a("mailbox.bakery.example", HOME);
    let mut s = settings(&dns, &imap);
    s.http_port = web.port();
    let d = discover("anna@bakery.example", &s).await;
    let c = chosen(&d);
    assert_eq!(c.source, Source::Autoconfig, "{d:#?}");
    assert!(c.proven());
    assert!(
        matches!(&c.cautions[..], [Caution::PlainHttp { url }] if url.starts_with("http://bakery.example:")),
        "{:?}",
        c.cautions
    );
    assert!(
        d.needs_confirmation,
        "settings anyone on the way could have changed are not used without asking"
    );
    assert!(
        d.words.contains("came over an unencrypted connection"),
        "{}",
        d.words
    );
    assert_no_password_sent(&imap);
}

#[tokio::test]
async fn autoconfig_offering_only_plain_text_imap_needs_the_users_choice() {
    let imap = server(&["imap.bakery.example"]);
    let web = HttpServer::start_tls(&["autoconfig.bakery.example"]);
    web.serve(
        "/mail/config-v1.1.xml",
        &autoconfig("imap.bakery.example", imap.plain_port(), "plain"),
    );
    let dns = DnsServer::start();
    dns.a("autoconfig.bakery.example", HOME)
        .a("imap.bakery.example", HOME);
    let mut s = settings(&dns, &imap);
    s.https_port = web.port();
    s.extra_roots_pem.push(web.ca_pem().unwrap().to_owned());
    // The usual ports lead nowhere: only the plain-text server answers.
    s.imaps_port = closed_port();
    s.imap_port = closed_port();
    let d = discover("anna@bakery.example", &s).await;
    let c = chosen(&d);
    assert_eq!(
        (c.source, c.security),
        (Source::Autoconfig, Security::Plain),
        "{d:#?}"
    );
    assert_eq!(c.cautions, [Caution::Unencrypted]);
    assert!(d.needs_confirmation, "{d:#?}");
    assert!(
        d.words.contains("only an unencrypted connection"),
        "{}",
        d.words
    );
    assert_no_password_sent(&imap);
}

#[tokio::test]
async fn the_ispdb_is_asked_at_its_configured_address() {
    let imap = server(&["imap.bakery.example"]);
    let ispdb = HttpServer::start_tls(&["127.0.0.1"]);
    ispdb.serve(
        "/v1.1/bakery.example",
        &autoconfig("imap.bakery.example", imap.tls_port(), "SSL"),
    );
    let dns = DnsServer::start();
    dns.a("imap.bakery.example", HOME);
    let mut s = settings(&dns, &imap);
    s.ispdb = Some(format!("https://127.0.0.1:{}/v1.1/", ispdb.port()));
    s.extra_roots_pem.push(ispdb.ca_pem().unwrap().to_owned());
    s.imaps_port = closed_port();
    let d = discover("anna@bakery.example", &s).await;
    let c = chosen(&d);
    assert_eq!(c.source, Source::Ispdb, "{d:#?}");
    assert!(c.cautions.is_empty());
    assert!(
        d.words.contains("Thunderbird's list of providers"),
        "{}",
        d.words
    );
    assert_no_password_sent(&imap);
}

#[tokio::test]
async fn service_records_find_the_server() {
    let imap = server(&["mailhost.bakery.example"]);
    let dns = DnsServer::start();
    dns.srv(
        "_imaps._tcp.bakery.example",
        0,
        1,
        imap.tls_port(),
        "mailhost.bakery.example",
    )
    .srv("_imap._tcp.bakery.example", 0, 0, 0, ".")
    .a("mailhost.bakery.example", HOME);
    let mut s = settings(&dns, &imap);
    s.imaps_port = closed_port();
    let d = discover("anna@bakery.example", &s).await;
    let c = chosen(&d);
    assert_eq!(c.source, Source::Srv, "{d:#?}");
    assert_eq!(
        (c.host.as_str(), c.port, c.security),
        ("mailhost.bakery.example", imap.tls_port(), Security::Tls)
    );
    assert!(
        d.words.contains("service records (_imaps._tcp)"),
        "{}",
        d.words
    );
    assert_no_password_sent(&imap);
}

#[tokio::test]
async fn exchange_autodiscover_finds_the_server() {
    let imap = server(&["exch01.bakery.example"]);
    let web = HttpServer::start_tls(&["autodiscover.bakery.example"]);
    web.serve(
        "/autodiscover/autodiscover.xml",
        &autodiscover_xml("exch01.bakery.example", imap.tls_port()),
    );
    let dns = DnsServer::start();
    dns.a("autodiscover.bakery.example", HOME)
        .a("exch01.bakery.example", HOME);
    let mut s = settings(&dns, &imap);
    s.https_port = web.port();
    s.extra_roots_pem.push(web.ca_pem().unwrap().to_owned());
    s.imaps_port = closed_port();
    let d = discover("anna@bakery.example", &s).await;
    let c = chosen(&d);
    assert_eq!(c.source, Source::Autodiscover, "{d:#?}");
    assert_eq!(
        (c.host.as_str(), c.port, c.security),
        ("exch01.bakery.example", imap.tls_port(), Security::Tls)
    );
    assert!(c.cautions.is_empty());
    let requests = web.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].method, "POST");
    assert!(
        requests[0]
            .body
            .contains("<EMailAddress>anna@bakery.example</EMailAddress>"),
        "{requests:?}"
    );
    assert_no_password_sent(&imap);
}

#[tokio::test]
async fn a_guess_finds_mail_dot_domain_and_failures_say_why() {
    let imap = server(&["mail.bakery.example"]);
    let dns = DnsServer::start();
    dns.a("mail.bakery.example", HOME);
    let d = discover("anna@bakery.example", &settings(&dns, &imap)).await;
    let c = chosen(&d);
    assert_eq!(
        (c.source, c.host.as_str()),
        (Source::Guess, "mail.bakery.example"),
        "{d:#?}"
    );
    let first = &d.candidates[0];
    assert_eq!(
        first.host, "imap.bakery.example",
        "imap.<domain> is guessed first"
    );
    assert!(
        matches!(&first.verdict, Verdict::Failed { code, .. } if code == "DnsNotFound"),
        "a candidate that fails is listed with its reason: {:?}",
        first.verdict
    );
    assert_no_password_sent(&imap);
}

#[tokio::test]
async fn a_certificate_for_another_name_is_explained_never_accepted() {
    // A cPanel-style host: the domain's mail server answers with the
    // certificate of the shared server it runs on.
    let imap = server(&["server123.hostingco.example"]);
    let dns = DnsServer::start();
    dns.mx("bakery.example", 10, "mail.bakery.example")
        .a("mail.bakery.example", HOME);
    let d = discover("anna@bakery.example", &settings(&dns, &imap)).await;
    assert!(d.chosen.is_none(), "never silently accepted: {d:#?}");
    let c = d
        .candidates
        .iter()
        .find(|c| c.host == "mail.bakery.example")
        .expect("mail.bakery.example is guessed");
    match &c.verdict {
        Verdict::OtherName { names, message } => {
            assert_eq!(names, &["server123.hostingco.example"]);
            assert!(
                message.starts_with(
                    "Your host's certificate is for server123.hostingco.example: use that name instead?"
                ),
                "{message}"
            );
        }
        other => panic!("expected the certificate's own name, got {other:?}"),
    }
    let i = d
        .candidates
        .iter()
        .position(|c| c.host == "mail.bakery.example")
        .unwrap();
    let offered = &d.candidates[i + 1];
    assert_eq!(
        offered.host, "server123.hostingco.example",
        "the certificate's own name is offered right after: {d:#?}"
    );
    assert!(
        matches!(&offered.verdict, Verdict::Failed { code, .. } if code == "DnsNotFound"),
        "this server123 has no address: {:?}",
        offered.verdict
    );
    assert!(
        d.words
            .starts_with("Your host's certificate is for server123.hostingco.example"),
        "{}",
        d.words
    );
    assert_no_password_sent(&imap);
}

#[tokio::test]
async fn the_certificates_own_name_is_proven_and_offered_for_confirmation() {
    let imap = server(&["server123.hostingco.example"]);
    let dns = DnsServer::start();
    dns.a("mail.bakery.example", HOME)
        .a("server123.hostingco.example", HOME);
    let d = discover("anna@bakery.example", &settings(&dns, &imap)).await;
    let c = chosen(&d);
    assert_eq!(c.host, "server123.hostingco.example", "{d:#?}");
    assert!(c.proven());
    assert!(
        c.cautions.contains(&Caution::CertificateName {
            asked: "mail.bakery.example".into()
        }),
        "{:?}",
        c.cautions
    );
    assert!(
        d.needs_confirmation,
        "a name read from a certificate is used only once the user says so"
    );
    assert!(
        d.words.starts_with(
            "Your host's certificate is for server123.hostingco.example: use that name instead?"
        ),
        "{}",
        d.words
    );
    assert!(
        d.words.ends_with("server123.hostingco.example answers, secured by that certificate; no password was sent to it."),
        "{}",
        d.words
    );
    assert_no_password_sent(&imap);
}

#[tokio::test]
async fn the_mail_records_are_asked_of_each_resolver_and_the_domains_own_server() {
    let dns = DnsServer::start();
    dns.mx(
        "bakery.example",
        0,
        "bakery-example.mail.protection.outlook.com",
    )
    .ns("bakery.example", "ns1.bakery.example")
    .a("ns1.bakery.example", HOME);
    let question = Question {
        domain: "bakery.example".into(),
        new_hosts: vec!["mail.protection.outlook.com".into()],
        old_hosts: Vec::new(),
        resolvers: vec![dns.addr()],
        system: false,
        own_port: dns.addr().port(),
    };
    let answers = mx::ask(&question).await;
    assert_eq!(
        answers.len(),
        2,
        "the resolver and the own name server: {answers:?}"
    );
    for answer in &answers {
        let answer = answer.as_ref().expect("both answer");
        assert_eq!(answer.hosts, ["bakery-example.mail.protection.outlook.com"]);
        assert_eq!(answer.ttl_secs, 300);
    }
    assert_eq!(
        answers[1].as_ref().unwrap().from,
        "the domain's own name server"
    );
    assert_eq!(
        Tracker::default().observe(&question, 1_000, &answers),
        Mx::OnlyNew {
            since: 1_000,
            old_ttl_secs: 300
        }
    );
    let old = Question {
        new_hosts: vec!["google.com".into()],
        ..question
    };
    assert_eq!(
        Tracker::default().observe(&old, 1_000, &mx::ask(&old).await),
        Mx::NotYetNew
    );
}

/// The CA file of `server`, for `--cafile`.
fn ca_file(server: &Dovecot) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, server.ca_pem()).unwrap();
    let path = path.to_string_lossy().into_owned();
    (dir, path)
}

/// A responder whose service records send bakery.example's mail to
/// `mailhost.bakery.example` on `server`'s TLS port.
fn srv_to(server: &Dovecot) -> DnsServer {
    let dns = DnsServer::start();
    dns.srv(
        "_imaps._tcp.bakery.example",
        0,
        1,
        server.tls_port(),
        "mailhost.bakery.example",
    )
    .a("mailhost.bakery.example", HOME);
    dns
}

#[test]
fn the_cli_prints_the_candidates_and_the_verdict() {
    let imap = server(&["mailhost.bakery.example"]);
    let dns = srv_to(&imap);
    let (_dir, ca) = ca_file(&imap);
    let resolver = dns.addr().to_string();
    let args = [
        "discover",
        "anna@bakery.example",
        "--name-server",
        &resolver,
        "--no-ispdb",
        "--cafile",
        &ca,
        "--timeout",
        "5",
    ];
    let out = crate::common::mailferry_ok(&args, &[]);
    let stdout = crate::common::text(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "→ mailhost.bakery.example:{} (TLS, SRV records)",
            imap.tls_port()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("found and secured (no password sent)"),
        "{stdout}"
    );

    let mut json_args = args.to_vec();
    json_args.push("--json");
    let out = crate::common::mailferry_ok(&json_args, &[]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let chosen = &json["candidates"][json["chosen"].as_u64().unwrap() as usize];
    assert_eq!(chosen["source"], "srv", "{json:#}");
    assert_eq!(chosen["host"], "mailhost.bakery.example");
    assert_eq!(chosen["verdict"]["kind"], "proven");
    assert_eq!(json["needs_confirmation"], false);
    assert_no_password_sent(&imap);
}

#[test]
fn host_auto_finds_the_server_from_the_users_address() {
    let imap = Dovecot::builder()
        .layout(Layout::Exchange)
        .tls_names(&["mailhost.bakery.example"])
        .user("anna@bakery.example", "annapass")
        .build();
    let dns = srv_to(&imap);
    let (_dir, ca) = ca_file(&imap);
    let resolver = dns.addr().to_string();
    let out = crate::common::mailferry(
        &[
            "check",
            "--host1",
            "auto",
            "--user1",
            "anna@bakery.example",
            "--cafile1",
            &ca,
            "--timeout1",
            "5",
            "--name-server",
            &resolver,
            "--no-ispdb",
        ],
        &[("MAILFERRY_PASSWORD1", "annapass")],
    );
    let all = crate::common::text(&out.stdout) + &crate::common::text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(
        all.contains("using mailhost.bakery.example"),
        "the server's name is said before signing in: {all}"
    );
    assert!(all.contains("Signed in"), "{all}");
}

#[test]
fn host_auto_never_signs_in_where_the_certificate_is_for_another_name() {
    let imap = server(&["server123.hostingco.example"]);
    let dns = DnsServer::start();
    dns.srv(
        "_imaps._tcp.bakery.example",
        0,
        1,
        imap.tls_port(),
        "mail.bakery.example",
    )
    .a("mail.bakery.example", HOME);
    let resolver = dns.addr().to_string();
    let (_dir, ca) = ca_file(&imap);
    let out = crate::common::mailferry(
        &[
            "check",
            "--host1",
            "auto",
            "--user1",
            "alice@bakery.example",
            "--cafile1",
            &ca,
            "--timeout1",
            "5",
            "--name-server",
            &resolver,
            "--no-ispdb",
        ],
        &[("MAILFERRY_PASSWORD1", "alicepass")],
    );
    let all = crate::common::text(&out.stdout) + &crate::common::text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(
        all.contains(
            "Your host's certificate is for server123.hostingco.example: use that name instead?"
        ),
        "{all}"
    );
    assert!(all.contains("Give --host1 NAME"), "{all}");
    assert_no_password_sent(&imap);
}

#[test]
fn forget_asks_for_the_server_name_rather_than_discovering_it() {
    // Sign-ins are saved under the server's name; "auto" is none.
    let out = crate::common::mailferry(
        &[
            "forget",
            "--host1",
            "auto",
            "--user1",
            "anna@bakery.example",
        ],
        &[],
    );
    let all = crate::common::text(&out.stdout) + &crate::common::text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains("give --host1 NAME"), "{all}");
}

#[test]
fn a_port_or_security_given_with_host_auto_is_refused_rather_than_ignored() {
    // Discovery proves one port and security; a --port1 or --starttls1
    // beside --host1 auto would silently lose, so it is refused in words
    // before anything is asked.
    for extra in [
        &["--port1", "143"][..],
        &["--starttls1"][..],
        &["--plain1"][..],
    ] {
        let mut args = vec!["check", "--host1", "auto", "--user1", "anna@bakery.example"];
        args.extend_from_slice(extra);
        let out = crate::common::mailferry(
            &args,
            &[
                ("MAILFERRY_NAME_SERVER", "127.0.0.1:1"),
                ("MAILFERRY_PASSWORD1", "x"),
            ],
        );
        let all = crate::common::text(&out.stdout) + &crate::common::text(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{extra:?}: {all}");
        assert!(
            all.contains("can't be used with --host1 auto"),
            "{extra:?}: {all}"
        );
        assert!(
            !all.contains("No mail server was found"),
            "refused before discovery: {all}"
        );
    }
}

#[tokio::test]
async fn autoconfig_follows_a_redirect_over_https_and_says_where_it_led() {
    let imap = server(&["imap.bakery.example"]);
    // The domain's autoconfig server sends the client to its hosting
    // company's, which serves the settings.
    let domain_web = HttpServer::start_tls(&["autoconfig.bakery.example"]);
    let host_web = HttpServer::start_tls(&["settings.hostingco.example"]);
    let target = format!(
        "https://settings.hostingco.example:{}/clients/bakery.xml",
        host_web.port()
    );
    domain_web.redirect("/mail/config-v1.1.xml", &target);
    host_web.serve(
        "/clients/bakery.xml",
        &autoconfig("imap.bakery.example", imap.tls_port(), "SSL"),
    );
    let dns = DnsServer::start();
    dns.a("autoconfig.bakery.example", HOME)
        .a("settings.hostingco.example", HOME)
        .a("imap.bakery.example", HOME);
    let mut s = settings(&dns, &imap);
    s.https_port = domain_web.port();
    s.extra_roots_pem
        .push(domain_web.ca_pem().unwrap().to_owned());
    s.extra_roots_pem
        .push(host_web.ca_pem().unwrap().to_owned());
    s.imaps_port = closed_port();
    let d = discover("anna@bakery.example", &s).await;
    let c = chosen(&d);
    assert_eq!(c.source, Source::Autoconfig, "{d:#?}");
    assert_eq!(
        (c.host.as_str(), c.port),
        ("imap.bakery.example", imap.tls_port())
    );
    assert!(c.cautions.is_empty(), "HTTPS all the way: {c:#?}");
    assert!(
        c.how.contains("settings.hostingco.example") && c.how.contains("redirected from"),
        "{}",
        c.how
    );
    assert_eq!(host_web.requests().len(), 1);
    assert_no_password_sent(&imap);
}

#[tokio::test]
async fn a_redirect_from_https_down_to_plain_http_is_not_followed() {
    let imap = server(&["imap.bakery.example"]);
    let domain_web = HttpServer::start_tls(&["autoconfig.bakery.example"]);
    let plain_web = HttpServer::start();
    domain_web.redirect(
        "/mail/config-v1.1.xml",
        &format!(
            "http://settings.hostingco.example:{}/bakery.xml",
            plain_web.port()
        ),
    );
    plain_web.serve(
        "/bakery.xml",
        &autoconfig("evil.hostingco.example", imap.tls_port(), "SSL"),
    );
    let dns = DnsServer::start();
    dns.a("autoconfig.bakery.example", HOME)
        .a("settings.hostingco.example", HOME)
        .a("evil.hostingco.example", HOME);
    let mut s = settings(&dns, &imap);
    s.https_port = domain_web.port();
    s.extra_roots_pem
        .push(domain_web.ca_pem().unwrap().to_owned());
    s.imaps_port = closed_port();
    let d = discover("anna@bakery.example", &s).await;
    assert!(
        d.candidates
            .iter()
            .all(|c| c.host != "evil.hostingco.example"),
        "{d:#?}"
    );
    assert!(
        plain_web.requests().is_empty(),
        "the plain address was never asked"
    );
}

#[tokio::test]
async fn autodiscover_by_redirect_over_plain_http_posts_where_it_leads_and_asks_first() {
    let imap = server(&["exch01.bakery.example"]);
    // Nothing answers over HTTPS for the domain itself; its plain-HTTP
    // Autodiscover address redirects to the hosting company's server.
    let plain_web = HttpServer::start();
    let host_web = HttpServer::start_tls(&["autodiscover.hostingco.example"]);
    plain_web.redirect(
        "/autodiscover/autodiscover.xml",
        &format!(
            "https://autodiscover.hostingco.example:{}/autodiscover/autodiscover.xml",
            host_web.port()
        ),
    );
    host_web.serve(
        "/autodiscover/autodiscover.xml",
        &autodiscover_xml("exch01.bakery.example", imap.tls_port()),
    );
    let dns = DnsServer::start();
    dns.a("autodiscover.bakery.example", HOME)
        .a("autodiscover.hostingco.example", HOME)
        .a("exch01.bakery.example", HOME);
    let mut s = settings(&dns, &imap);
    s.http_port = plain_web.port();
    s.extra_roots_pem
        .push(host_web.ca_pem().unwrap().to_owned());
    s.imaps_port = closed_port();
    s.imap_port = closed_port();
    let d = discover("anna@bakery.example", &s).await;
    let c = chosen(&d);
    assert_eq!(c.source, Source::Autodiscover, "{d:#?}");
    assert_eq!(
        (c.host.as_str(), c.port),
        ("exch01.bakery.example", imap.tls_port())
    );
    assert!(
        c.cautions
            .iter()
            .any(|k| matches!(k, mailferry::discover::Caution::PlainHttp { .. })),
        "a redirect over plain HTTP could have been changed on the way: {c:#?}"
    );
    assert!(d.needs_confirmation, "{}", d.words);
    // The plain address got a GET with nothing in it; the address went
    // only to the HTTPS server, in a POST.
    let plain = plain_web.requests();
    assert!(
        plain.iter().all(|r| r.method == "GET" && r.body.is_empty()),
        "{plain:?}"
    );
    let posted = host_web.requests();
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert_eq!(posted[0].method, "POST");
    assert!(posted[0].body.contains("anna@bakery.example"));
    assert_no_password_sent(&imap);
}
