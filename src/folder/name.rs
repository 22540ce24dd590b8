//! Mailbox names: the exact bytes a server uses on the wire, kept next to the text a person reads, so a folder is always addressed by the name the server gave it.
//!
//! Rules this module enforces:
//! - The wire form is what goes back to the server, byte for byte. Without
//!   `UTF8=ACCEPT` it is modified UTF-7 and must decode strictly (see
//!   [`utf7`]); with `UTF8=ACCEPT` (RFC 6855) or IMAP4rev2 it is
//!   raw UTF-8 and equal to the display form.
//! - `INBOX` is case-insensitive (RFC 3501 §5.1): `inbox`, `Inbox` and
//!   `INBOX` are one mailbox and are all stored as `INBOX`. Only that
//!   top-level name is; `Sent` and `sent` are two mailboxes, and so are
//!   `Inbox/Foo` and `INBOX/Foo` as far as this type knows.
//! - Names are never Unicode-normalised: `Éléments` in NFC and in NFD are two
//!   mailboxes. [`near_duplicates`] finds such look-alikes so that they can be
//!   shown to the user instead of merged silently.

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

use super::utf7::{self, Utf7Error};

/// Why a mailbox name cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty (an empty name is the delimiter query, not a mailbox).
    #[error("cannot use an empty mailbox name")]
    Empty,
    /// The server sent a name that is not valid modified UTF-7.
    #[error("cannot read the mailbox name {wire:?} sent by the server")]
    Utf7 {
        /// The wire form, escaped for display.
        wire: String,
        /// What is wrong with it.
        #[source]
        source: Utf7Error,
    },
    /// The name holds a character that no IMAP command can carry (NUL, CR, LF) in UTF-8 mode.
    #[error("cannot send a mailbox name containing the character {found:?}")]
    Unsendable {
        /// The offending character.
        found: char,
    },
}

/// A mailbox name as a server knows it (wire form) and as a person reads it (display form).
///
/// Equality, ordering and hashing follow the wire form first, so two names
/// are equal exactly when they address the same mailbox on the same server.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct MailboxName {
    wire: String,
    display: String,
}

impl MailboxName {
    /// Builds a name from what the server sent.
    ///
    /// `utf8_enabled` says whether the session has `UTF8=ACCEPT` enabled (or
    /// is IMAP4rev2): then the wire form is raw UTF-8; otherwise it must be
    /// strict modified UTF-7.
    ///
    /// # Errors
    /// [`NameError::Empty`], [`NameError::Utf7`] for a name that does not
    /// decode strictly, [`NameError::Unsendable`] for NUL/CR/LF in UTF-8 mode.
    pub fn from_wire(wire: &str, utf8_enabled: bool) -> Result<MailboxName, NameError> {
        if wire.is_empty() {
            return Err(NameError::Empty);
        }
        if wire.eq_ignore_ascii_case("INBOX") {
            return Ok(Self::inbox());
        }
        if utf8_enabled {
            check_sendable(wire)?;
            return Ok(MailboxName {
                wire: wire.to_owned(),
                display: wire.to_owned(),
            });
        }
        let display = utf7::decode(wire).map_err(|source| NameError::Utf7 {
            wire: utf7::escape_for_display(wire),
            source,
        })?;
        Ok(MailboxName {
            wire: wire.to_owned(),
            display,
        })
    }

    /// Builds a name from the text a person reads, encoding it for the wire.
    ///
    /// # Errors
    /// [`NameError::Empty`]; [`NameError::Unsendable`] for NUL/CR/LF in
    /// UTF-8 mode (in modified UTF-7 they are encoded, so they can be sent).
    pub fn from_display(display: &str, utf8_enabled: bool) -> Result<MailboxName, NameError> {
        if display.is_empty() {
            return Err(NameError::Empty);
        }
        if display.eq_ignore_ascii_case("INBOX") {
            return Ok(Self::inbox());
        }
        let wire = if utf8_enabled {
            check_sendable(display)?;
            display.to_owned()
        } else {
            utf7::encode(display)
        };
        Ok(MailboxName {
            wire,
            display: display.to_owned(),
        })
    }

    /// The INBOX.
    pub fn inbox() -> MailboxName {
        MailboxName {
            wire: "INBOX".to_owned(),
            display: "INBOX".to_owned(),
        }
    }

    /// A name whose text could not be encoded (empty, or NUL/CR/LF in UTF-8
    /// mode), kept only so that the folder map can show it as a conflict.
    pub(crate) fn unchecked(display: &str) -> MailboxName {
        MailboxName {
            wire: display.to_owned(),
            display: display.to_owned(),
        }
    }

    /// The exact form to send to the server.
    pub fn wire(&self) -> &str {
        &self.wire
    }

    /// The decoded form to show to a person.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// Whether this is the INBOX (in any case on the wire).
    pub fn is_inbox(&self) -> bool {
        self.wire == "INBOX"
    }

    /// The same name encoded for a server in the other mode (modified UTF-7 or UTF-8).
    ///
    /// # Errors
    /// As [`MailboxName::from_display`].
    pub fn for_server(&self, utf8_enabled: bool) -> Result<MailboxName, NameError> {
        MailboxName::from_display(&self.display, utf8_enabled)
    }

    /// The display form split into hierarchy levels (see [`split_segments`]).
    pub fn segments(&self, delimiter: Option<char>) -> Vec<&str> {
        split_segments(&self.display, delimiter)
    }

    /// The last hierarchy level of the display form.
    pub fn leaf(&self, delimiter: Option<char>) -> &str {
        match delimiter {
            Some(d) => self.display.rsplit(d).next().unwrap_or(&self.display),
            None => &self.display,
        }
    }

    /// The display form of the parent level, if the name has one.
    pub fn parent_display(&self, delimiter: Option<char>) -> Option<&str> {
        parent_of(&self.display, delimiter)
    }

    /// A key under which look-alike names are equal: NFC, then lowercase.
    pub(crate) fn fold_key(&self) -> String {
        fold_key(&self.display)
    }
}

impl fmt::Display for MailboxName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

fn check_sendable(s: &str) -> Result<(), NameError> {
    match s.chars().find(|c| matches!(c, '\0' | '\r' | '\n')) {
        Some(found) => Err(NameError::Unsendable { found }),
        None => Ok(()),
    }
}

/// NFC, then lowercase: the key under which two spellings look the same to a person.
pub(crate) fn fold_key(s: &str) -> String {
    s.nfc().collect::<String>().to_lowercase()
}

/// Splits a name into hierarchy levels.
///
/// A NIL delimiter (`None`) means a flat server: the whole name is one
/// level, whatever characters it holds. Empty levels (`a//b`) are kept, so
/// that they can be reported rather than silently dropped.
pub fn split_segments(name: &str, delimiter: Option<char>) -> Vec<&str> {
    match delimiter {
        Some(d) => name.split(d).collect(),
        None => vec![name],
    }
}

/// Joins hierarchy levels with a delimiter.
///
/// With a NIL delimiter the levels are concatenated; callers that turn a
/// hierarchy into one flat name choose the joining text themselves.
pub fn join_segments<S: AsRef<str>>(segments: &[S], delimiter: Option<char>) -> String {
    let mut out = String::new();
    for (i, s) in segments.iter().enumerate() {
        if i > 0 {
            if let Some(d) = delimiter {
                out.push(d);
            }
        }
        out.push_str(s.as_ref());
    }
    out
}

/// The parent level of a name, if it has one.
pub fn parent_of(name: &str, delimiter: Option<char>) -> Option<&str> {
    let d = delimiter?;
    name.rfind(d).map(|i| &name[..i])
}

/// Pairs of names (indices `i < j`) that look the same to a person but are different mailboxes.
///
/// Two names are near-duplicates when their wire forms differ but they are
/// equal after NFC normalisation and lowercasing (`Éléments envoyés` in NFC
/// and NFD; `Clients` and `clients`). Pairs are sorted.
pub fn near_duplicates(names: &[MailboxName]) -> Vec<(usize, usize)> {
    let mut groups: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, n) in names.iter().enumerate() {
        groups.entry(n.fold_key()).or_default().push(i);
    }
    let mut pairs = Vec::new();
    for members in groups.values() {
        for (a, &i) in members.iter().enumerate() {
            for &j in &members[a + 1..] {
                if names[i].wire != names[j].wire {
                    pairs.push((i.min(j), i.max(j)));
                }
            }
        }
    }
    pairs.sort_unstable();
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> MailboxName {
        MailboxName::from_wire(s, false).unwrap()
    }

    #[test]
    fn wire_and_display_forms_are_both_kept() {
        let n = w("Cart&APM-rio");
        assert_eq!(n.wire(), "Cart&APM-rio");
        assert_eq!(n.display(), "Cartório");
        assert_eq!(n.to_string(), "Cartório");
        let d = MailboxName::from_display("Cartório", false).unwrap();
        assert_eq!(
            d, n,
            "encoding the display form gives back the same mailbox"
        );
    }

    #[test]
    fn utf8_mode_uses_raw_utf8_on_the_wire() {
        let n = MailboxName::from_wire("Cartório", true).unwrap();
        assert_eq!(n.wire(), "Cartório");
        assert_eq!(n.display(), "Cartório");
        // In UTF-8 mode '&' is an ordinary character.
        let amp = MailboxName::from_wire("R&D", true).unwrap();
        assert_eq!(amp.display(), "R&D");
        // Moving a name between a UTF-8 and a modified UTF-7 server keeps its text.
        let m7 = n.for_server(false).unwrap();
        assert_eq!(m7.wire(), "Cart&APM-rio");
        assert_eq!(m7.for_server(true).unwrap(), n);
    }

    #[test]
    fn invalid_wire_names_are_rejected_not_repaired() {
        let err = MailboxName::from_wire("&AGE-", false).unwrap_err();
        assert!(matches!(
            err,
            NameError::Utf7 {
                source: Utf7Error::EncodedAscii { .. },
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "cannot read the mailbox name \"&AGE-\" sent by the server"
        );
        assert!(MailboxName::from_wire("Caf\u{e9}", false).is_err());
        assert_eq!(MailboxName::from_wire("", false), Err(NameError::Empty));
        assert_eq!(MailboxName::from_display("", true), Err(NameError::Empty));
        assert_eq!(
            MailboxName::from_display("a\nb", true),
            Err(NameError::Unsendable { found: '\n' })
        );
        // In modified UTF-7 a control character is encoded, so it can be sent.
        assert_eq!(
            MailboxName::from_display("a\nb", false).unwrap().wire(),
            "a&AAo-b"
        );
    }

    #[test]
    fn inbox_is_case_insensitive_and_nothing_else_is() {
        for spelling in ["inbox", "Inbox", "INBOX", "iNbOx"] {
            let n = w(spelling);
            assert!(n.is_inbox(), "{spelling} is the INBOX");
            assert_eq!(n.wire(), "INBOX");
            assert_eq!(n, MailboxName::from_display(spelling, true).unwrap());
        }
        assert_ne!(w("Sent"), w("sent"), "only INBOX is case-insensitive");
        assert_eq!(
            w("inbox/Foo").wire(),
            "inbox/Foo",
            "only the top-level name"
        );
        assert!(!w("INBOX.Sent").is_inbox());
    }

    #[test]
    fn segments_with_and_without_a_delimiter() {
        let n = w("INBOX.Clients.Acme");
        assert_eq!(n.segments(Some('.')), ["INBOX", "Clients", "Acme"]);
        assert_eq!(n.segments(Some('/')), ["INBOX.Clients.Acme"]);
        assert_eq!(n.segments(None), ["INBOX.Clients.Acme"], "NIL: flat");
        assert_eq!(n.leaf(Some('.')), "Acme");
        assert_eq!(n.parent_display(Some('.')), Some("INBOX.Clients"));
        assert_eq!(n.parent_display(None), None);
        assert_eq!(w("a//b").segments(Some('/')), ["a", "", "b"]);
        assert_eq!(join_segments(&["a", "b", "c"], Some('/')), "a/b/c");
        assert_eq!(join_segments(&["a"], None), "a");
        assert_eq!(parent_of("a", Some('/')), None);
    }

    #[test]
    fn display_segments_split_cleanly_in_encoded_names() {
        // The modified base64 alphabet uses ',' not '/', so splitting the
        // display form never cuts through an encoded character.
        let n = w("~peter/mail/&U,BTFw-/&ZeVnLIqe-");
        assert_eq!(n.segments(Some('/')), ["~peter", "mail", "台北", "日本語"]);
    }

    #[test]
    fn near_duplicates_flags_nfc_nfd_and_case_but_not_equal_names() {
        let names = vec![
            w("&AMk-l&AOk-ments envoy&AOk-s"),
            w("E&AwE-le&AwE-ments envoye&AwE-s"),
            w("Clients"),
            w("clients"),
            w("Other"),
            w("inbox"),
            w("INBOX"),
        ];
        assert_eq!(
            names[0].display().nfc().collect::<String>(),
            "Éléments envoyés"
        );
        assert_ne!(names[0], names[1], "NFC and NFD are different mailboxes");
        assert_eq!(near_duplicates(&names), vec![(0, 1), (2, 3)]);
    }
}
