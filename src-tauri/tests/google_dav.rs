//! Step 9 with Google at the old side: Google's contacts and calendar
//! servers take only a Google sign-in made for them. The owner signs in
//! through the browser (the engine's real sign-in: PKCE, loopback redirect,
//! the refresh token kept in the keychain apart from the mail's), and the
//! contacts and calendars go to a real Radicale server through preview →
//! copy → check, as the window runs them. Google stands on loopback: its
//! sign-in pages and token service, and a front that lets a request through
//! to a real Radicale server only with `Authorization: Bearer` and the
//! token the sign-in got (as Google's servers take nothing else).

use mailferry::auth::keychain::Keychain;
use mailferry::auth::oauth::{Client, Issuer};
use mailferry::endpoint::{Credentials, Endpoint};
use mailferry_desktop::accounts::{Account, Accounts, Kept};
use mailferry_desktop::commands::contacts::{
    check_contacts_with, contacts_plan_with, copy_contacts_with, DavSide,
};
use mailferry_desktop::commands::google_dav::{sign_in_google_dav_with, GoogleDavSignIns};
use mailferry_desktop::commands::graph::GraphMailboxes;
use mailferry_desktop::error::ErrorCode;
use mailferry_harness::{radicale_available, BearerFront, Radicale};
use std::sync::Arc;

const OWNER: &str = "anna@bakery.example";
const CLIENT_ID: &str = "123456789-bakery.apps.googleusercontent.com";
/// The token Google's contacts and calendars take (the renewed one).
const DAV_TOKEN: &str = "ya29.google-dav-token";

mod loopback;
use loopback::StandInBrowser;

#[path = "loopback/issuer.rs"]
mod issuer;

const CARD: &str = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:paul\r\nFN:Paul Müller\r\nN:Müller;Paul;;;\r\nEMAIL;TYPE=work:paul@flour.example\r\nEND:VCARD\r\n";
const DELIVERY: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:delivery\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260311T060000Z\r\nDTEND:20260311T063000Z\r\nSUMMARY:Flour delivery\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

#[tokio::test]
async fn a_google_owner_signs_in_for_contacts_and_calendars_and_the_mail_sign_in_is_not_used() {
    if !radicale_available() {
        eprintln!("skipped: the radicale command is not installed");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    // This binary's only test: the process's environment is its own.
    std::env::set_var(mailferry::paths::DATA_DIR_VAR, data.path());

    // Google's contacts and calendars: Radicale behind the bearer front.
    let old = Radicale::start(&[("anna", "anna-pw")]);
    old.create_collection("anna", "contacts", "addressbook", "Contacts");
    old.create_collection("anna", "calendar", "calendar", "Anna's calendar");
    old.put("anna", "contacts", "paul.vcf", CARD.as_bytes());
    old.put("anna", "calendar", "delivery.ics", DELIVERY.as_bytes());
    let front = BearerFront::start(old.addr(), "anna", "anna-pw", |t| t == DAV_TOKEN);
    let new = Radicale::start(&[("bob", "bob-pw")]);

    // Google's sign-in on loopback: the code's access token is about to
    // expire (renewed before it is used), the refresh token's is the one.
    let service = issuer::Service::start("rt-google-dav-secret", 30, DAV_TOKEN);
    let browser = Arc::new(StandInBrowser::default());
    let client = Client {
        id: CLIENT_ID.into(),
        secret: Some("desktop-app-secret".into()),
    };
    let config = service.config(Issuer::google(), client, browser.clone());
    let keychain = Keychain::with_store(keyring_core::mock::Store::new().unwrap());
    let accounts = Accounts::with_keychain(Some(keychain.clone()));
    let (graphs, googles) = (GraphMailboxes::default(), GoogleDavSignIns::default());
    // The mail signed in to Google in the browser (its IMAP server is not
    // used here): a token for the mail only.
    let gmail = accounts.add(Account {
        endpoint: Endpoint::new("imap.gmail.com"),
        credentials: Credentials::access_token(
            OWNER,
            mailferry::secret::Secret::new("mail-token".into()),
        ),
    });
    let office = accounts.add(Account {
        endpoint: Endpoint::new("127.0.0.1"),
        credentials: Credentials::password("bob", "bob-pw"),
    });
    let to = DavSide {
        url: format!("{}/", new.url()),
        account: office,
        graph: None,
        google: None,
        attendees: None,
    };
    let with_mail_sign_in = DavSide {
        url: format!("{}/", front.url),
        account: gmail,
        graph: None,
        google: None,
        attendees: None,
    };

    // The mail's sign-in is not sent to the contacts and calendars: it
    // would be turned down; the step says what to do instead.
    let err = contacts_plan_with(
        &accounts,
        &graphs,
        &googles,
        with_mail_sign_in.clone(),
        to.clone(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::AuthFailed);
    assert!(
        err.message
            .starts_with("Google's contacts and calendars need their own sign-in"),
        "{}",
        err.message
    );
    assert!(front.refused.lock().unwrap().is_empty(), "nothing sent");
    // Nor the mail's app password, to Google's addresses found from the email.
    let app_password = accounts.add(Account {
        endpoint: Endpoint::new("imap.gmail.com"),
        credentials: Credentials::password(OWNER, "app-password"),
    });
    let err = contacts_plan_with(
        &accounts,
        &graphs,
        &googles,
        DavSide {
            url: String::new(),
            account: app_password,
            ..with_mail_sign_in.clone()
        },
        to.clone(),
    )
    .await
    .unwrap_err();
    assert!(
        err.message
            .starts_with("Google's contacts and calendars need their own sign-in"),
        "{}",
        err.message
    );
    // Sent anyway (a mail account MailFerry does not know is Google's),
    // the front turns that token down, as Google does.
    let elsewhere = accounts.add(Account {
        endpoint: Endpoint::new("127.0.0.1"),
        credentials: Credentials::access_token(
            OWNER,
            mailferry::secret::Secret::new("mail-token".into()),
        ),
    });
    let err = contacts_plan_with(
        &accounts,
        &graphs,
        &googles,
        DavSide {
            account: elsewhere,
            ..with_mail_sign_in.clone()
        },
        to.clone(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::AuthFailed, "{}", err.message);
    assert!(err.message.contains("refused"), "{}", err.message);
    assert_eq!(*front.refused.lock().unwrap(), ["mail-token"]);
    assert_eq!(*front.accepted.lock().unwrap(), 0);

    // Google's own sign-in, before it is done: the step says so.
    let from = DavSide {
        google: Some(true),
        ..with_mail_sign_in.clone()
    };
    let err = contacts_plan_with(&accounts, &graphs, &googles, from.clone(), to.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::AuthFailed);
    assert!(
        err.message.starts_with("Sign in to Google first"),
        "{}",
        err.message
    );

    let signed = sign_in_google_dav_with(&accounts, &googles, &config, gmail)
        .await
        .unwrap();
    assert_eq!(signed.user, OWNER);
    assert_eq!(signed.kept, Kept::Keychain);
    issuer::assert_no_secret(&signed);
    // CardDAV's and CalDAV's permissions, as Google's guides name them.
    service.assert_asked(
        &[
            "https://www.googleapis.com/auth/carddav",
            "https://www.googleapis.com/auth/calendar",
        ],
        CLIENT_ID,
    );
    assert_eq!(*browser.opened.lock().unwrap(), 1);
    assert_eq!(
        issuer::kept(&keychain, OWNER, "www.googleapis.com").as_deref(),
        Some("rt-google-dav-secret")
    );
    assert_eq!(
        issuer::kept(&keychain, OWNER, "imap.gmail.com"),
        None,
        "the mail's sign-in is not touched"
    );

    // The sign-in's token only goes to Google (or this computer).
    let err = contacts_plan_with(
        &accounts,
        &graphs,
        &googles,
        DavSide {
            url: "https://dav.bakery.example/".into(),
            ..from.clone()
        },
        to.clone(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput);
    assert!(err.message.contains("is not at Google"), "{}", err.message);

    // A server that turns the Google sign-in down: the owner is asked to
    // sign in to Google again, in plain words.
    let other = BearerFront::start(old.addr(), "anna", "anna-pw", |t| t == "another-token");
    let err = contacts_plan_with(
        &accounts,
        &graphs,
        &googles,
        DavSide {
            url: format!("{}/", other.url),
            ..from.clone()
        },
        to.clone(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::AuthFailed);
    assert!(
        err.message.starts_with(
            "Google did not let MailFerry into the contacts and calendars of anna@bakery.example. \
             Sign in to Google again"
        ),
        "{}",
        err.message
    );
    assert!(
        err.detail.is_some(),
        "the technical text behind Show details"
    );
    assert_eq!(
        *other.refused.lock().unwrap(),
        [DAV_TOKEN, DAV_TOKEN],
        "a token turned down is renewed once and sent again, then the owner is asked"
    );

    // Preview: the token is taken.
    let plan = contacts_plan_with(&accounts, &graphs, &googles, from.clone(), to.clone())
        .await
        .unwrap();
    let mut names: Vec<(&str, u32)> = plan.iter().map(|p| (p.name.as_str(), p.objects)).collect();
    names.sort();
    assert_eq!(names, [("Anna's calendar", 1), ("Contacts", 1)]);
    assert_eq!(
        service.seen.lock().unwrap().grants,
        [
            ("authorization_code".to_owned(), String::new()),
            // The code's token was about to expire.
            ("refresh_token".to_owned(), String::new()),
            // The other server turned the token down.
            ("refresh_token".to_owned(), String::new()),
        ],
        "renewed with the refresh token, which keeps the permissions given"
    );
    assert!(*front.accepted.lock().unwrap() > 0);
    assert_eq!(
        *front.refused.lock().unwrap(),
        ["mail-token"],
        "the renewed token is taken, the one about to expire never sent"
    );

    // Copy, then check.
    let copy = copy_contacts_with(&accounts, &graphs, &googles, from.clone(), to.clone())
        .await
        .unwrap();
    assert!(copy.complete, "{copy:?}");
    assert_eq!(copy.collections.iter().map(|c| c.copied).sum::<u32>(), 2);
    let check = check_contacts_with(&accounts, &graphs, &googles, from.clone(), to.clone())
        .await
        .unwrap();
    assert!(check.safe_to_switch, "{check:?}");
    assert_eq!(check.collections.iter().map(|c| c.arrived).sum::<u32>(), 2);

    // A new session signs in with the kept refresh token: no browser.
    let later = GoogleDavSignIns::default();
    let again = sign_in_google_dav_with(&accounts, &later, &config, gmail)
        .await
        .unwrap();
    assert_eq!(again.kept, Kept::Keychain);
    assert_eq!(*browser.opened.lock().unwrap(), 1, "no second browser page");
    let copy = copy_contacts_with(&accounts, &graphs, &later, from.clone(), to.clone())
        .await
        .unwrap();
    assert_eq!(
        copy.collections.iter().map(|c| c.already).sum::<u32>(),
        2,
        "nothing twice: {copy:?}"
    );
}
