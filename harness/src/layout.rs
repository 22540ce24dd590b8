//! The mailbox layouts real servers present (Courier/cPanel, Exchange, Gmail), so tests
//! can migrate between the hierarchies a migration tool meets in the field.

/// Which kind of server a [`crate::Dovecot`] imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Layout {
    /// Courier/cPanel-like: Maildir++, separator `.`, everything under the `INBOX.`
    /// prefix: `INBOX.Sent`, `INBOX.Drafts`, `INBOX.Trash`, `INBOX.Junk`.
    #[default]
    Courier,
    /// Exchange-like: separator `/`, no prefix: `Sent Items`, `Drafts`, `Deleted Items`,
    /// `Junk E-mail`, `Archive`, plus the non-mail folders `Calendar` and `Contacts`.
    Exchange,
    /// Gmail-like: separator `/`, no prefix, the `[Gmail]/…` special folders including
    /// `[Gmail]/All Mail` (`\All`), under a `[Gmail]` parent listed as `\Noselect` as on
    /// Gmail. All Mail is an ordinary folder: loaders append each message to it
    /// explicitly.
    Gmail,
}

/// A folder a layout creates and subscribes automatically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LayoutFolder {
    /// The full name as LIST shows it (e.g. `INBOX.Sent`, `[Gmail]/Sent Mail`).
    pub name: &'static str,
    /// The name inside Dovecot's `namespace { mailbox … }` block (without the prefix).
    pub config_name: &'static str,
    /// The RFC 6154 attribute, e.g. `\Sent`; `None` for plain folders.
    pub special_use: Option<&'static str>,
}

const fn folder(
    name: &'static str,
    config_name: &'static str,
    special_use: Option<&'static str>,
) -> LayoutFolder {
    LayoutFolder {
        name,
        config_name,
        special_use,
    }
}

const COURIER: &[LayoutFolder] = &[
    folder("INBOX.Sent", "Sent", Some("\\Sent")),
    folder("INBOX.Drafts", "Drafts", Some("\\Drafts")),
    folder("INBOX.Trash", "Trash", Some("\\Trash")),
    folder("INBOX.Junk", "Junk", Some("\\Junk")),
];

const EXCHANGE: &[LayoutFolder] = &[
    folder("Sent Items", "Sent Items", Some("\\Sent")),
    folder("Drafts", "Drafts", Some("\\Drafts")),
    folder("Deleted Items", "Deleted Items", Some("\\Trash")),
    folder("Junk E-mail", "Junk E-mail", Some("\\Junk")),
    folder("Archive", "Archive", Some("\\Archive")),
    folder("Calendar", "Calendar", None),
    folder("Contacts", "Contacts", None),
];

const GMAIL: &[LayoutFolder] = &[
    folder("[Gmail]/Sent Mail", "[Gmail]/Sent Mail", Some("\\Sent")),
    folder("[Gmail]/Drafts", "[Gmail]/Drafts", Some("\\Drafts")),
    folder("[Gmail]/Spam", "[Gmail]/Spam", Some("\\Junk")),
    folder("[Gmail]/Trash", "[Gmail]/Trash", Some("\\Trash")),
    folder("[Gmail]/All Mail", "[Gmail]/All Mail", Some("\\All")),
    folder("[Gmail]/Starred", "[Gmail]/Starred", Some("\\Flagged")),
    folder(
        "[Gmail]/Important",
        "[Gmail]/Important",
        Some("\\Important"),
    ),
];

impl Layout {
    /// Every layout, for tests that loop over them.
    pub const ALL: [Layout; 3] = [Layout::Courier, Layout::Exchange, Layout::Gmail];

    /// The hierarchy separator LIST reports.
    pub fn separator(self) -> char {
        match self {
            Layout::Courier => '.',
            Layout::Exchange | Layout::Gmail => '/',
        }
    }

    /// The personal namespace prefix (`INBOX.` or empty).
    pub fn prefix(self) -> &'static str {
        match self {
            Layout::Courier => "INBOX.",
            Layout::Exchange | Layout::Gmail => "",
        }
    }

    /// The folders this layout creates and subscribes (INBOX not included).
    pub fn folders(self) -> &'static [LayoutFolder] {
        match self {
            Layout::Courier => COURIER,
            Layout::Exchange => EXCHANGE,
            Layout::Gmail => GMAIL,
        }
    }

    /// The folder carrying a special-use attribute such as `\Sent`, if the layout has one.
    pub fn special(self, special_use: &str) -> Option<&'static str> {
        self.folders()
            .iter()
            .find(|f| {
                f.special_use
                    .is_some_and(|s| s.eq_ignore_ascii_case(special_use))
            })
            .map(|f| f.name)
    }

    /// Joins a path of folder names into a full mailbox name for this layout, adding the
    /// prefix: `["Projects", "2024"]` is `INBOX.Projects.2024` on Courier.
    pub fn mailbox(self, path: &[&str]) -> String {
        let sep = self.separator().to_string();
        format!("{}{}", self.prefix(), path.join(&sep))
    }

    /// Directories (relative to the home) created before Dovecot starts.
    pub(crate) fn precreated_dirs(self) -> &'static [&'static str] {
        match self {
            Layout::Gmail => &["Maildir/[Gmail]"],
            Layout::Courier | Layout::Exchange => &[],
        }
    }

    /// The `mail_location` Dovecot uses for this layout (`~` is the user's home).
    pub(crate) fn mail_location(self) -> &'static str {
        match self {
            Layout::Courier => "maildir:~/Maildir",
            Layout::Exchange | Layout::Gmail => "maildir:~/Maildir:LAYOUT=fs",
        }
    }
}
