//! Reading one side's folder tree over a signed-in session: LIST and LSUB, the delimiter and personal prefix, and what the server can create.
//!
//! The names come from our own LIST reader ([`Listed`], via
//! [`crate::imap::wire::parse_list_reply`]: a quoted name is unescaped
//! there, once; a literal is taken byte for byte), then go through the same strict
//! [`MailboxName::from_wire`] and [`Attribute::parse`] as the pure
//! line parser in [`tree`](super::tree), so both paths agree.
//!
//! Decisions:
//! - Names travel as modified UTF-7 (`utf8 = false`): MailFerry does not
//!   `ENABLE UTF8=ACCEPT` yet, so even a server that offers it sends
//!   modified UTF-7 here.
//! - A name that is not valid modified UTF-7 stops the listing with an
//!   error naming it: the map cannot place a folder it cannot read, and a
//!   name is never "repaired" into a different folder.
//! - Names that are only in LSUB (subscribed, but gone) are ignored.

use crate::error::{Error, Problem};
use crate::imap::{Listed, Session};

use super::name::MailboxName;
use super::tree::{Attribute, Folder, FolderTree};

/// Lists every folder (`LIST "" "*"`) and every subscription (`LSUB "" "*"`) into a [`FolderTree`],
/// with the hierarchy, all in one flight.
///
/// The delimiter and personal prefix come from [`Session::hierarchy_and_folders`];
/// [`FolderTree::can_create_special_use`] from the capabilities. Only reads:
/// safe on the source.
///
/// # Errors
/// The session's errors, and [`Problem::Protocol`] for a folder name or a
/// delimiter that cannot be read.
pub async fn read_tree(session: &mut Session) -> Result<FolderTree, Error> {
    // Not enabled yet (see the module notes).
    let utf8 = false;
    // The hierarchy, the folders and the subscriptions in one flight.
    let crate::imap::Listing {
        delimiter,
        prefix,
        listed,
        subscribed,
    } = session.hierarchy_and_folders().await?;
    let host = session.endpoint().host.clone();
    let delimiter = match delimiter {
        Some(d) => Some(one_char(&d, &host)?),
        None => None,
    };
    let mut tree = tree_from_listed(&listed, &subscribed, utf8, &host)?;
    tree.delimiter = delimiter;
    tree.prefix = prefix;
    tree.can_create_special_use = session.capabilities().has("CREATE-SPECIAL-USE");
    tracing::debug!(
        host = %host,
        folders = tree.folders.len(),
        "read the folder tree"
    );
    Ok(tree)
}

/// A tree from LIST and LSUB results; the delimiter and prefix are derived
/// from the names ([`FolderTree::from_folders`]) until the caller sets them.
fn tree_from_listed(
    listed: &[Listed],
    lsub: &[Listed],
    utf8: bool,
    host: &str,
) -> Result<FolderTree, Error> {
    let mut folders: Vec<Folder> = Vec::new();
    for l in listed {
        let name = name(&l.name, utf8, host)?;
        if folders.iter().any(|f| f.name == name) {
            continue;
        }
        let delimiter = match &l.delimiter {
            Some(d) => Some(one_char(d, host)?),
            None => None,
        };
        let attributes = l.attributes.iter().map(|a| Attribute::parse(a)).collect();
        folders.push(Folder::new(name, delimiter, attributes));
    }
    for l in lsub {
        // A subscription whose name cannot be read matches no listed folder.
        let Ok(name) = MailboxName::from_wire(&l.name, utf8) else {
            continue;
        };
        if let Some(f) = folders.iter_mut().find(|f| f.name == name) {
            f.subscribed = true;
        }
    }
    Ok(FolderTree::from_folders(folders, utf8))
}

fn name(wire: &str, utf8: bool, host: &str) -> Result<MailboxName, Error> {
    MailboxName::from_wire(wire, utf8).map_err(|e| {
        Error::new(Problem::Protocol {
            host: host.to_owned(),
        })
        .with_detail(match std::error::Error::source(&e) {
            Some(why) => format!("the folder name {wire:?} cannot be read: {e}: {why}"),
            None => format!("the folder name {wire:?} cannot be read: {e}"),
        })
    })
}

fn one_char(text: &str, host: &str) -> Result<char, Error> {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Ok(c),
        _ => Err(Error::new(Problem::Protocol {
            host: host.to_owned(),
        })
        .with_detail(format!(
            "the folder separator {text:?} is not one character"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::folder::tree::SpecialUse;

    fn listed(name: &str, delimiter: Option<&str>, attributes: &[&str]) -> Listed {
        Listed {
            name: name.to_owned(),
            delimiter: delimiter.map(str::to_owned),
            attributes: attributes.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    #[test]
    fn listed_values_become_the_same_tree_as_parsed_lines() {
        let list = [
            listed("INBOX", Some("."), &["\\HasChildren"]),
            listed("INBOX.Sent", Some("."), &["\\HasNoChildren", "\\Sent"]),
            listed("INBOX.Cart&APM-rio", Some("."), &["\\HasNoChildren"]),
            listed("INBOX.Sent", Some("."), &[]),
        ];
        let lsub = [
            listed("INBOX.Sent", Some("."), &[]),
            listed("INBOX.Gone", Some("."), &[]),
        ];
        let tree = tree_from_listed(&list, &lsub, false, "h").unwrap();
        let lines = FolderTree::from_list_lines(
            &[
                "* LIST (\\HasChildren) \".\" INBOX",
                "* LIST (\\HasNoChildren \\Sent) \".\" INBOX.Sent",
                "* LIST (\\HasNoChildren) \".\" INBOX.Cart&APM-rio",
            ],
            &["* LSUB () \".\" INBOX.Sent", "* LSUB () \".\" INBOX.Gone"],
            false,
        )
        .unwrap();
        assert_eq!(tree, lines, "both paths agree");
        assert_eq!(tree.prefix, "INBOX.");
        assert!(tree.find_display("INBOX.Sent").unwrap().subscribed);
        assert!(tree.find_display("INBOX.Cartório").is_some());
        assert_eq!(
            tree.special(SpecialUse::Sent).unwrap().name.display(),
            "INBOX.Sent"
        );
    }

    #[test]
    fn quoted_and_literal_names_read_the_same_on_both_paths() {
        // As Dovecot sends them: quoted with escapes; and as a literal.
        let lines = [
            "* LIST (\\HasNoChildren) \".\" \"INBOX.Say \\\"hi\\\"\"\r\n",
            "* LIST (\\HasNoChildren) \".\" \"INBOX.back\\\\slash\"\r\n",
            "* LIST (\\HasNoChildren) \".\" {15}\r\nINBOX.lit \\ \"x\"\r\n",
        ];
        let listed: Vec<Listed> = lines
            .iter()
            .map(|l| {
                let r = crate::imap::wire::parse_list_reply(l.as_bytes(), "LIST").unwrap();
                Listed {
                    name: r.name,
                    delimiter: r.delimiter,
                    attributes: r.attributes,
                }
            })
            .collect();
        let tree = tree_from_listed(&listed, &[], false, "h").unwrap();
        let from_lines = FolderTree::from_list_lines(&lines, &[], false).unwrap();
        assert_eq!(tree, from_lines, "both paths agree");
        let names: Vec<&str> = tree.folders.iter().map(|f| f.name.display()).collect();
        assert_eq!(
            names,
            [
                "INBOX.Say \"hi\"",
                "INBOX.back\\slash",
                "INBOX.lit \\ \"x\""
            ]
        );
        assert_eq!(
            tree.folders[0].name.wire(),
            "INBOX.Say \"hi\"",
            "unescaped once"
        );
    }

    #[test]
    fn an_unreadable_name_or_separator_is_an_error_not_a_repair() {
        let bad =
            tree_from_listed(&[listed("&AGE-", Some("/"), &[])], &[], false, "h").unwrap_err();
        assert_eq!(bad.code(), "Protocol");
        assert!(bad.detail().unwrap().contains("folder name"), "{bad:?}");
        let sep = tree_from_listed(&[listed("a", Some("//"), &[])], &[], false, "h").unwrap_err();
        assert!(sep.detail().unwrap().contains("separator"));
        let flat = tree_from_listed(&[listed("a/b", None, &[])], &[], false, "h").unwrap();
        assert_eq!(flat.delimiter, None);
    }
}
