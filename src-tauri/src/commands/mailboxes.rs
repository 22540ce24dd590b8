//! Step 4, "Mailboxes": which mailbox goes where, one pair at a time or a
//! whole list pasted from a spreadsheet or imported from a CSV file.
//!
//! A list may carry passwords (a third column for both sides, or a third
//! and a fourth). They are read here, at once wrapped in a `Secret`, used
//! to sign in and kept only by [`Accounts`] (the session, and the keychain
//! when there is one); the window gets handles and plain words back, never
//! a password. The window drops the pasted text as soon as it is sent.

use super::servers::Server;
use super::sign_in::sign_in_with;
use crate::accounts::{AccountHandle, Accounts};
use crate::error::{IpcError, IpcResult};
use mailferry::domain::user_problem;
use mailferry::secret::Secret;
use serde::{Deserialize, Serialize};
use tauri::State;
use ts_rs::TS;

/// A mailbox pair the window already has (for duplicate checks).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PairNames {
    /// The user at the old server.
    pub source_user: String,
    /// The user at the new server.
    pub destination_user: String,
}

/// One mailbox pair after checking, as the window shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct MailboxRow {
    /// The row in the pasted text or file (1 = first line), 0 for one added by hand.
    pub line: u32,
    /// The user at the old server.
    pub source_user: String,
    /// The user at the new server.
    pub destination_user: String,
    /// What is wrong with the row itself, in plain words (nothing is signed in then).
    pub problem: Option<String>,
    /// The old mailbox, signed in (when the row had its password and it worked).
    pub source: Option<AccountHandle>,
    /// The new mailbox, signed in.
    pub destination: Option<AccountHandle>,
    /// Why signing in to the old mailbox didn't work.
    pub source_error: Option<IpcError>,
    /// Why signing in to the new mailbox didn't work.
    pub destination_error: Option<IpcError>,
}

/// A row as read from the text, before signing in (the engine's reader,
/// shared with `mailferry sync --mailboxes`).
pub use mailferry::domain::ListRow as ParsedRow;

/// Reads a pasted list or CSV file (see [`mailferry::domain::parse_list`]);
/// `existing` are the pairs already in the list (for duplicates).
pub fn parse_mailboxes(text: &str, existing: &[PairNames]) -> Vec<ParsedRow> {
    let existing: Vec<(String, String)> = existing
        .iter()
        .map(|p| (p.source_user.clone(), p.destination_user.clone()))
        .collect();
    mailferry::domain::parse_list(text, &existing)
}

/// Signs in one side with its password, if the row had one.
async fn sign_in_side(
    accounts: &Accounts,
    server: &Server,
    user: &str,
    password: Option<Secret<String>>,
) -> (Option<AccountHandle>, Option<IpcError>) {
    let Some(password) = password else {
        return (None, None);
    };
    match sign_in_with(
        accounts,
        server.clone(),
        user.to_owned(),
        password.expose().clone(),
    )
    .await
    {
        Ok(signed) => match (signed.account, signed.checklist.failure) {
            (Some(handle), _) => (Some(handle), None),
            (None, Some(failure)) => (None, Some(failure.error)),
            (None, None) => (
                None,
                Some(IpcError::internal("the sign-in stopped without a reason")),
            ),
        },
        Err(e) => (None, Some(e)),
    }
}

/// Checks every row and signs in those that came with passwords, one after
/// the other.
pub async fn read_rows(
    accounts: &Accounts,
    source: &Server,
    destination: &Server,
    rows: Vec<ParsedRow>,
) -> IpcResult<Vec<MailboxRow>> {
    // Bad server settings are one problem, not one per row.
    source.endpoint()?;
    destination.endpoint()?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let (mut src, mut dst) = ((None, None), (None, None));
        if row.problem.is_none() {
            src = sign_in_side(accounts, source, &row.source_user, row.source_password).await;
            dst = sign_in_side(
                accounts,
                destination,
                &row.destination_user,
                row.destination_password,
            )
            .await;
        }
        out.push(MailboxRow {
            line: row.line,
            source_user: row.source_user,
            destination_user: row.destination_user,
            problem: row.problem,
            source: src.0,
            destination: dst.0,
            source_error: src.1,
            destination_error: dst.1,
        });
    }
    Ok(out)
}

/// Reads a pasted list or an imported CSV file's text (see
/// [`parse_mailboxes`]) and signs in the rows that carry passwords.
pub async fn read_mailbox_list(
    accounts: State<'_, Accounts>,
    source: Server,
    destination: Server,
    text: String,
    existing: Vec<PairNames>,
) -> IpcResult<Vec<MailboxRow>> {
    // The text may hold passwords: zeroed when this call ends.
    let text = Secret::new(text);
    if text.expose().len() > 1_000_000 {
        return Err(IpcError::invalid(
            "That list is too long for one import (over a million characters). Split it in parts.",
        ));
    }
    let rows = parse_mailboxes(text.expose(), &existing);
    read_rows(&accounts, &source, &destination, rows).await
}

/// Adds one pair typed by hand; with its passwords it is signed in at once.
#[allow(clippy::too_many_arguments)] // each is one field of the "Add a mailbox" form
pub async fn add_mailbox(
    accounts: State<'_, Accounts>,
    source: Server,
    destination: Server,
    source_user: String,
    destination_user: String,
    source_password: String,
    destination_password: String,
    existing: Vec<PairNames>,
) -> IpcResult<MailboxRow> {
    let row = add_row(
        source_user,
        destination_user,
        Secret::new(source_password),
        Secret::new(destination_password),
        &existing,
    );
    let mut rows = read_rows(&accounts, &source, &destination, vec![row]).await?;
    Ok(rows.remove(0))
}

/// One hand-typed pair, checked like a row of a list.
pub fn add_row(
    source_user: String,
    destination_user: String,
    source_password: Secret<String>,
    destination_password: Secret<String>,
    existing: &[PairNames],
) -> ParsedRow {
    let source_user = source_user.trim().to_owned();
    let destination_user = destination_user.trim().to_owned();
    let problem = user_problem(&source_user, "old")
        .or_else(|| user_problem(&destination_user, "new"))
        .or_else(|| {
            let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
            if existing.iter().any(|p| same(&p.source_user, &source_user)) {
                Some(format!("{source_user} is already in the list."))
            } else if existing
                .iter()
                .any(|p| same(&p.destination_user, &destination_user))
            {
                Some(format!(
                    "{destination_user} already receives another mailbox; two mailboxes would be mixed into one."
                ))
            } else {
                None
            }
        })
        .map(|p| {
            let mut chars = p.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        });
    let keep = |s: Secret<String>| (!s.expose().is_empty()).then_some(s);
    ParsedRow {
        line: 0,
        source_user,
        destination_user,
        source_password: keep(source_password),
        destination_password: keep(destination_password),
        problem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(s: &str, d: &str) -> PairNames {
        PairNames {
            source_user: s.into(),
            destination_user: d.into(),
        }
    }

    #[test]
    fn a_spreadsheet_paste_with_a_header_and_passwords_is_read() {
        let text = "Old mailbox\tNew mailbox\tPassword\n\
                    bob@example.com\tbob@example.org\tpw-bob\n\
                    \n\
                    # the office\n\
                    carol@example.com\tcarol@example.org\t\n";
        let rows = parse_mailboxes(text, &[]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[0].source_user, "bob@example.com");
        assert_eq!(rows[0].destination_user, "bob@example.org");
        assert_eq!(rows[0].source_password.as_ref().unwrap().expose(), "pw-bob");
        assert_eq!(
            rows[0].destination_password.as_ref().unwrap().expose(),
            "pw-bob",
            "one password column is for both sides"
        );
        assert!(rows[0].problem.is_none());
        assert_eq!(rows[1].line, 5);
        assert!(
            rows[1].source_password.is_none(),
            "an empty cell is no password"
        );
        assert!(rows[1].problem.is_none());
    }

    #[test]
    fn csv_quotes_semicolons_and_four_columns() {
        let rows = parse_mailboxes(
            "\"dave@example.com\";dave@example.org;\"p;w\"\"1\";pw2\n",
            &[],
        );
        assert_eq!(rows[0].source_user, "dave@example.com");
        assert_eq!(rows[0].source_password.as_ref().unwrap().expose(), "p;w\"1");
        assert_eq!(
            rows[0].destination_password.as_ref().unwrap().expose(),
            "pw2"
        );
        let rows = parse_mailboxes("a@x.com,b@y.com,\"p,1\",p2", &[]);
        assert_eq!(rows[0].source_password.as_ref().unwrap().expose(), "p,1");
    }

    #[test]
    fn every_bad_row_says_what_is_wrong_in_plain_words() {
        let text = "alice@example.com,alice@example.org\n\
                    bob@example.com\n\
                    ,carol@example.org\n\
                    dan smith@example.com,dan@example.org\n\
                    alice@example.com,alice2@example.org\n\
                    erin@example.com,alice@example.org\n\
                    a,b,c,d,e\n\
                    frank@,frank@example.org\n\
                    owner@example.com,someone@example.org\n";
        let rows = parse_mailboxes(text, &[pair("OWNER@example.com", "owner@example.org")]);
        let problems: Vec<Option<&str>> = rows.iter().map(|r| r.problem.as_deref()).collect();
        assert_eq!(
            problems,
            [
                None,
                Some("Row 2: it needs two columns: the old mailbox, then the new one (separated by a comma)."),
                Some("Row 3: the old mailbox is empty."),
                Some("Row 4: \"dan smith@example.com\" has a space in it; a user name or email address has none."),
                Some("Row 5: alice@example.com is already in the list (row 1)."),
                Some("Row 6: alice@example.org already receives another mailbox (row 1); two mailboxes would be mixed into one."),
                Some("Row 7: it has 5 columns; MailFerry reads 2 (old mailbox, new mailbox), 3 (and one password for both) or 4 (and a password for each)."),
                Some("Row 8: \"frank@\" is not a complete email address."),
                Some("Row 9: owner@example.com is already in the list."),
            ]
        );
        assert!(
            rows[6].source_password.is_none(),
            "a malformed row's cells are not passwords"
        );
    }

    #[test]
    fn a_hand_typed_pair_is_checked_like_a_row() {
        let row = add_row(
            " bob@example.com ".into(),
            "bob@example.org".into(),
            Secret::new(String::new()),
            Secret::new("pw".into()),
            &[],
        );
        assert_eq!(row.source_user, "bob@example.com");
        assert!(row.problem.is_none());
        assert!(row.source_password.is_none());
        assert!(row.destination_password.is_some());
        let row = add_row(
            "bob@example.com".into(),
            "".into(),
            Secret::new(String::new()),
            Secret::new(String::new()),
            &[],
        );
        assert_eq!(row.problem.as_deref(), Some("The new mailbox is empty."));
        let row = add_row(
            "Bob@Example.com".into(),
            "x@example.org".into(),
            Secret::new(String::new()),
            Secret::new(String::new()),
            &[pair("bob@example.com", "bob@example.org")],
        );
        assert_eq!(
            row.problem.as_deref(),
            Some("Bob@Example.com is already in the list.")
        );
    }
}
