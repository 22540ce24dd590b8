//! Step 9 with Microsoft 365 at the new side: the owner signs in to
//! Microsoft Graph through the browser (the engine's real sign-in: PKCE,
//! loopback redirect, the refresh token kept in the keychain), and the
//! contacts and calendars of a real Radicale server go to the harness's
//! Graph through preview → copy → check, as the window runs them. The
//! authorization server is a small one on loopback standing in for
//! Microsoft's (its own binary: the Graph server's certificate authority is
//! trusted through `SSL_CERT_FILE` for the whole process).

use mailferry::auth::grant::{ClientCredentials, TokenSource};
use mailferry::auth::keychain::Keychain;
use mailferry::auth::oauth::{Client, Issuer, GRAPH_SCOPES};
use mailferry::endpoint::{Credentials, Endpoint};
use mailferry_desktop::accounts::{Account, Accounts, Kept};
use mailferry_desktop::commands::contacts::{
    check_contacts_with, contacts_plan_with, copy_contacts_with, DavSide,
};
use mailferry_desktop::commands::google_dav::GoogleDavSignIns;
use mailferry_desktop::commands::graph::{sign_in_graph_with, GraphMailboxes};
use mailferry_desktop::error::ErrorCode;
use mailferry_harness::{radicale_available, GraphServer, Radicale, GRAPH_TOKEN};
use std::sync::Arc;

const OWNER: &str = "bob@office.example";
const CLIENT_ID: &str = "6731de76-14a6-49ae-97bc-6eba6914391e";

mod loopback;
use loopback::StandInBrowser;

#[path = "loopback/issuer.rs"]
mod issuer;

/// A mail account of the session (its IMAP server is not used here).
fn mail_account(
    accounts: &Accounts,
    credentials: Credentials,
) -> mailferry_desktop::accounts::AccountHandle {
    accounts.add(Account {
        endpoint: Endpoint::new("127.0.0.1"),
        credentials,
    })
}

const CARD: &str = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:anna\r\nFN:Anna Bäcker\r\nN:Bäcker;Anna;;;\r\nEMAIL;TYPE=work:anna@bakery.example\r\nTEL;TYPE=cell:+49 30 1234567\r\nEND:VCARD\r\n";
const GROUP: &str = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:team\r\nKIND:group\r\nFN:Bakery team\r\nMEMBER:urn:uuid:anna\r\nEND:VCARD\r\n";
const MEETING: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:meeting\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260310T090000Z\r\nDTEND:20260310T100000Z\r\nSUMMARY:Supplier meeting\r\nORGANIZER:mailto:bob@office.example\r\nATTENDEE;CN=Anna;PARTSTAT=NEEDS-ACTION:mailto:anna@bakery.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
const DELIVERY: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:delivery\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260311T060000Z\r\nDTEND:20260311T063000Z\r\nSUMMARY:Flour delivery\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

#[tokio::test]
async fn a_microsoft_365_owner_signs_in_to_graph_in_the_browser_and_moves_contacts_and_calendars() {
    if !radicale_available() {
        eprintln!("skipped: the radicale command is not installed");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let graph = GraphServer::start(OWNER, "W. Europe Standard Time");
    let ca = data.path().join("graph-ca.pem");
    std::fs::write(&ca, graph.ca_pem()).unwrap();
    // This binary's only test: the process's environment is its own.
    std::env::set_var("SSL_CERT_FILE", &ca);
    std::env::set_var(mailferry::paths::DATA_DIR_VAR, data.path());

    let old = Radicale::start(&[("alice", "alice-pw")]);
    old.create_collection("alice", "contacts", "addressbook", "Contacts");
    old.create_collection("alice", "calendar", "calendar", "Office calendar");
    old.put("alice", "contacts", "anna.vcf", CARD.as_bytes());
    old.put("alice", "contacts", "team.vcf", GROUP.as_bytes());
    old.put("alice", "calendar", "meeting.ics", MEETING.as_bytes());
    old.put("alice", "calendar", "delivery.ics", DELIVERY.as_bytes());

    let service = issuer::Service::start("rt-graph-secret", 3600, GRAPH_TOKEN);
    let browser = Arc::new(StandInBrowser::default());
    // Microsoft's issuer as the mail signs in with it, its pages on loopback.
    let client = Client {
        id: CLIENT_ID.into(),
        secret: None,
    };
    let config = service.config(Issuer::microsoft(), client, browser.clone());
    let keychain = Keychain::with_store(keyring_core::mock::Store::new().unwrap());
    let accounts = Accounts::with_keychain(Some(keychain.clone()));
    let graphs = GraphMailboxes::default();
    let googles = GoogleDavSignIns::default();
    let google = mail_account(&accounts, Credentials::password("alice", "alice-pw"));
    let office = mail_account(
        &accounts,
        Credentials::access_token(OWNER, mailferry::secret::Secret::new("mail-token".into())),
    );
    let from = DavSide {
        url: format!("{}/", old.url()),
        account: google,
        graph: None,
        google: None,
        attendees: None,
    };
    let to = DavSide {
        url: String::new(),
        account: office,
        graph: Some(true),
        google: None,
        attendees: None,
    };

    // Before the sign-in, the step says what to do.
    let err = contacts_plan_with(&accounts, &graphs, &googles, from.clone(), to.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::AuthFailed);
    assert!(
        err.message.starts_with("Sign in to Microsoft 365 first"),
        "{}",
        err.message
    );

    let signed = sign_in_graph_with(&accounts, &graphs, &config, &graph.url(), office, None)
        .await
        .unwrap();
    assert!(!signed.organisation);
    assert_eq!(signed.user, OWNER);
    assert_eq!(signed.kept, Kept::Keychain);
    assert_eq!(
        signed.collections, 2,
        "the Contacts folder and the Calendar"
    );
    issuer::assert_no_secret(&signed);
    service.assert_asked(&GRAPH_SCOPES, CLIENT_ID);
    {
        let seen = service.seen.lock().unwrap();
        // The expired access token was turned down by Graph and renewed
        // with the refresh token, asking for Graph's scopes again.
        assert_eq!(
            seen.grants,
            [
                ("authorization_code".to_owned(), String::new()),
                ("refresh_token".to_owned(), GRAPH_SCOPES.join(" ")),
            ]
        );
    }
    assert_eq!(*browser.opened.lock().unwrap(), 1);
    assert_eq!(
        issuer::kept(&keychain, OWNER, "graph.microsoft.com").as_deref(),
        Some("rt-graph-secret")
    );
    assert_eq!(
        issuer::kept(&keychain, OWNER, "127.0.0.1"),
        None,
        "the mail's sign-in is not touched"
    );

    // Preview: where each goes, and what does not carry over, in words.
    let plan = contacts_plan_with(&accounts, &graphs, &googles, from.clone(), to.clone())
        .await
        .unwrap();
    let book = plan.iter().find(|p| !p.calendar).unwrap();
    let calendar = plan.iter().find(|p| p.calendar).unwrap();
    assert_eq!((book.name.as_str(), book.objects), ("Contacts", 2));
    assert_eq!(book.destination.as_deref(), Some("Contacts"));
    assert!(!book.create, "Outlook's own Contacts folder");
    let note = book.note.as_deref().unwrap_or_default();
    assert!(note.contains("Outlook contacts have no groups"), "{note}");
    assert_eq!(calendar.objects, 2);
    let note = calendar.note.as_deref().unwrap_or_default();
    assert!(
        note.contains("1 event has attendees: Outlook sends them an invitation"),
        "{note}"
    );
    assert_eq!(
        graph.contacts_created() + graph.events_created(),
        0,
        "the preview writes nothing"
    );
    // The owner chooses to copy the events without their attendees.
    let to = DavSide {
        attendees: Some(false),
        ..to
    };
    let plan = contacts_plan_with(&accounts, &graphs, &googles, from.clone(), to.clone())
        .await
        .unwrap();
    let note = plan
        .iter()
        .find(|p| p.calendar)
        .unwrap()
        .note
        .clone()
        .unwrap_or_default();
    assert!(
        note.contains("1 event has attendees: copied without them, so Outlook sends no invitation"),
        "{note}"
    );

    // Copy, then check.
    let copy = copy_contacts_with(&accounts, &graphs, &googles, from.clone(), to.clone())
        .await
        .unwrap();
    let copied: u32 = copy.collections.iter().map(|c| c.copied).sum();
    assert_eq!(copied, 3, "{copy:?}");
    let refused: Vec<_> = copy.collections.iter().flat_map(|c| &c.problems).collect();
    assert_eq!(refused.len(), 1, "the group card: {refused:?}");
    assert!(!copy.complete);
    assert_eq!(graph.contacts_created(), 1);
    assert_eq!(graph.events_created(), 2);
    let events = graph.events_in("Office calendar");
    let meeting = events
        .iter()
        .find(|e| e["subject"] == "Supplier meeting")
        .unwrap();
    assert!(
        meeting["attendees"].as_array().is_none_or(Vec::is_empty),
        "no attendee, so no invitation: {meeting}"
    );
    let check = check_contacts_with(&accounts, &graphs, &googles, from.clone(), to.clone())
        .await
        .unwrap();
    let arrived: u32 = check.collections.iter().map(|c| c.arrived).sum();
    assert_eq!(arrived, 3, "{check:?}");

    // A new session signs in with the kept refresh token: no browser.
    let later = GraphMailboxes::default();
    let again = sign_in_graph_with(&accounts, &later, &config, &graph.url(), office, None)
        .await
        .unwrap();
    assert_eq!(again.kept, Kept::Keychain);
    assert_eq!(*browser.opened.lock().unwrap(), 1, "no second browser page");
    let copy = copy_contacts_with(&accounts, &later, &googles, from.clone(), to.clone())
        .await
        .unwrap();
    let already: u32 = copy.collections.iter().map(|c| c.already).sum();
    assert_eq!(already, 3, "nothing twice: {copy:?}");
    assert_eq!(graph.contacts_created() + graph.events_created(), 3);

    // With the organisation's app-only sign-in from the directory step, no
    // browser and no owner's sign-in: the app's token opens the mailbox.
    let app = ClientCredentials::new(
        &graph.token_url(),
        CLIENT_ID,
        mailferry::secret::Secret::new("app-secret".into()),
    )
    .with_scope(mailferry::inventory::GRAPH_SCOPE);
    let third = GraphMailboxes::default();
    let grants_before = service.seen.lock().unwrap().grants.len();
    let by_app = sign_in_graph_with(
        &accounts,
        &third,
        &config,
        &graph.url(),
        office,
        Some(TokenSource::new(app)),
    )
    .await
    .unwrap();
    assert!(by_app.organisation);
    assert_eq!(
        graph.token_requests(),
        [(
            "client_credentials".to_owned(),
            mailferry::inventory::GRAPH_SCOPE.to_owned()
        )],
        "the app's own token, for Graph"
    );
    assert_eq!(by_app.kept, Kept::SessionOnly);
    assert_eq!(*browser.opened.lock().unwrap(), 1, "no browser");
    assert_eq!(
        service.seen.lock().unwrap().grants.len(),
        grants_before,
        "no owner's sign-in"
    );
    let check = check_contacts_with(&accounts, &third, &googles, from.clone(), to.clone())
        .await
        .unwrap();
    assert_eq!(check.collections.iter().map(|c| c.arrived).sum::<u32>(), 3);
    // An app that does not open this mailbox: the owner's sign-in instead.
    let wrong = ClientCredentials::new(
        &format!("{}/wrong-token", service.base),
        CLIENT_ID,
        mailferry::secret::Secret::new("app-secret".into()),
    );
    let fourth = GraphMailboxes::default();
    let fallback = sign_in_graph_with(
        &accounts,
        &fourth,
        &config,
        &graph.url(),
        office,
        Some(TokenSource::new(wrong)),
    )
    .await
    .unwrap();
    assert!(!fallback.organisation, "the owner's kept sign-in");
    assert_eq!(
        *browser.opened.lock().unwrap(),
        1,
        "kept in the keychain: no browser"
    );
}
