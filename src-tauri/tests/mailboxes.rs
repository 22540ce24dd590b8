//! The mailbox list against a real Dovecot server: rows with passwords are
//! signed in one after the other and come back as handles (never a
//! password); a wrong password is said on its row in plain words; rows
//! without passwords wait for the user.

use mailferry::endpoint::Security;
use mailferry_desktop::accounts::Accounts;
use mailferry_desktop::commands::mailboxes::{parse_mailboxes, read_rows};
use mailferry_desktop::commands::servers::Server;
use mailferry_desktop::error::ErrorCode;
use mailferry_harness::{dovecot_available, Dovecot, Layout};

fn server(d: &Dovecot) -> Server {
    Server {
        host: "127.0.0.1".into(),
        port: d.plain_port(),
        security: Security::Plain,
        trusted_fingerprint: None,
    }
}

#[tokio::test]
async fn a_list_with_passwords_signs_in_each_row_and_says_which_failed() {
    if !dovecot_available() {
        eprintln!("skipped: needs dovecot and root");
        return;
    }
    let source = Dovecot::builder()
        .layout(Layout::Gmail)
        .user("bob", "bob-old")
        .user("carol", "carol-old")
        .fsync(false)
        .build();
    let dest = Dovecot::builder()
        .layout(Layout::Exchange)
        .user("bob", "bob-new")
        .user("carol", "carol-new")
        .user("dave", "dave-new")
        .fsync(false)
        .build();
    let text = "old,new,old password,new password\n\
                bob,bob,bob-old,bob-new\n\
                carol,carol,not-carols,carol-new\n\
                dave,dave\n\
                bob,erin\n";
    let accounts = Accounts::default();
    let rows = parse_mailboxes(text, &[]);
    let rows = read_rows(&accounts, &server(&source), &server(&dest), rows)
        .await
        .unwrap();
    assert_eq!(rows.len(), 4);

    let bob = &rows[0];
    assert!(bob.problem.is_none() && bob.source_error.is_none() && bob.destination_error.is_none());
    let (s, d) = (bob.source.unwrap(), bob.destination.unwrap());
    assert_ne!(s, d);
    assert_eq!(accounts.get(s).unwrap().credentials.user, "bob");
    assert_eq!(accounts.get(d).unwrap().endpoint.port, dest.plain_port());

    let carol = &rows[1];
    assert!(carol.source.is_none(), "a wrong password gives no account");
    assert_eq!(
        carol.source_error.as_ref().unwrap().code,
        ErrorCode::AuthFailed
    );
    assert!(carol.destination.is_some(), "the other side still signs in");

    let dave = &rows[2];
    assert!(dave.problem.is_none());
    assert!(dave.source.is_none() && dave.destination.is_none() && dave.source_error.is_none());

    assert_eq!(
        rows[3].problem.as_deref(),
        Some("Row 5: bob is already in the list (row 2).")
    );
    assert!(rows[3].source.is_none());

    let json = serde_json::to_string(&rows).unwrap();
    for password in ["bob-old", "bob-new", "not-carols", "carol-new"] {
        assert!(
            !json.contains(password),
            "no password goes back to the window"
        );
    }
}
