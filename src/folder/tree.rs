//! Folder trees as listed by a server (names, delimiter, attributes, prefix, subscriptions), and a pure parser for `LIST`/`LSUB` replies that does not trust the IMAP library with odd names.
//!
//! The parser reads one untagged reply per call:
//! `* LIST (\HasNoChildren \Sent) "/" "Sent Items"`. It handles quoted names
//! with `\"` and `\\` escapes, atom names, a `NIL` delimiter (flat server),
//! LIST-EXTENDED data after the name (ignored), and literal names when the
//! caller joins the literal's bytes to the line: `* LIST () "/" {5}\r\nab cd`.
//! It does not read from a socket; the caller collects the lines.

use serde::{Deserialize, Serialize};

use super::name::{split_segments, MailboxName, NameError};

/// A SPECIAL-USE role (RFC 6154, plus `\Important` from RFC 8457).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SpecialUse {
    /// `\All`: every message (Gmail's All Mail; usually a virtual view).
    All,
    /// `\Archive`: archived messages.
    Archive,
    /// `\Drafts`: drafts.
    Drafts,
    /// `\Flagged`: flagged messages (Gmail's Starred; a virtual view).
    Flagged,
    /// `\Important`: messages deemed important (Gmail's Important; a view).
    Important,
    /// `\Junk`: spam.
    Junk,
    /// `\Sent`: sent messages.
    Sent,
    /// `\Trash`: deleted messages.
    Trash,
}

impl SpecialUse {
    /// Every role, in a stable order.
    pub const ALL: [SpecialUse; 8] = [
        SpecialUse::All,
        SpecialUse::Archive,
        SpecialUse::Drafts,
        SpecialUse::Flagged,
        SpecialUse::Important,
        SpecialUse::Junk,
        SpecialUse::Sent,
        SpecialUse::Trash,
    ];

    /// The attribute as written in IMAP, e.g. `\Sent`.
    pub fn attribute_text(self) -> &'static str {
        match self {
            SpecialUse::All => "\\All",
            SpecialUse::Archive => "\\Archive",
            SpecialUse::Drafts => "\\Drafts",
            SpecialUse::Flagged => "\\Flagged",
            SpecialUse::Important => "\\Important",
            SpecialUse::Junk => "\\Junk",
            SpecialUse::Sent => "\\Sent",
            SpecialUse::Trash => "\\Trash",
        }
    }

    /// The word a person knows the folder by, e.g. "Sent" or "Starred".
    pub fn label(self) -> &'static str {
        match self {
            SpecialUse::All => "All Mail",
            SpecialUse::Archive => "Archive",
            SpecialUse::Drafts => "Drafts",
            SpecialUse::Flagged => "Starred",
            SpecialUse::Important => "Important",
            SpecialUse::Junk => "Junk",
            SpecialUse::Sent => "Sent",
            SpecialUse::Trash => "Trash",
        }
    }

    fn from_attribute(text: &str) -> Option<SpecialUse> {
        SpecialUse::ALL
            .into_iter()
            .find(|s| s.attribute_text().eq_ignore_ascii_case(text))
    }
}

/// A mailbox attribute from a LIST reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Attribute {
    /// `\Noselect`: the name exists only as a parent; it holds no messages.
    NoSelect,
    /// `\NonExistent` (RFC 5258): listed but does not exist (implies `\Noselect`).
    NonExistent,
    /// `\HasChildren`.
    HasChildren,
    /// `\HasNoChildren`.
    HasNoChildren,
    /// `\Marked`.
    Marked,
    /// `\Unmarked`.
    Unmarked,
    /// `\Subscribed` (RFC 5258).
    Subscribed,
    /// `\Remote` (RFC 5258).
    Remote,
    /// A SPECIAL-USE attribute.
    Special(SpecialUse),
    /// Any other attribute, as the server wrote it (e.g. `\NoInferiors`).
    Other(String),
}

impl Attribute {
    /// Reads one attribute token, case-insensitively.
    pub fn parse(token: &str) -> Attribute {
        let known = [
            ("\\Noselect", Attribute::NoSelect),
            ("\\NonExistent", Attribute::NonExistent),
            ("\\HasChildren", Attribute::HasChildren),
            ("\\HasNoChildren", Attribute::HasNoChildren),
            ("\\Marked", Attribute::Marked),
            ("\\Unmarked", Attribute::Unmarked),
            ("\\Subscribed", Attribute::Subscribed),
            ("\\Remote", Attribute::Remote),
        ];
        for (text, attr) in known {
            if token.eq_ignore_ascii_case(text) {
                return attr;
            }
        }
        match SpecialUse::from_attribute(token) {
            Some(s) => Attribute::Special(s),
            None => Attribute::Other(token.to_owned()),
        }
    }
}

/// One folder as a listing shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Folder {
    /// The folder's name.
    pub name: MailboxName,
    /// The hierarchy delimiter the server gave for this name (`None`: NIL, flat).
    pub delimiter: Option<char>,
    /// Attributes from LIST.
    pub attributes: Vec<Attribute>,
    /// Whether the folder is subscribed (LSUB, or `\Subscribed`).
    pub subscribed: bool,
    /// Message count from STATUS, when scanned.
    pub messages: Option<u64>,
    /// Size in bytes from STATUS (SIZE), when scanned.
    pub bytes: Option<u64>,
}

impl Folder {
    /// A folder with the given attributes, not subscribed and not scanned.
    pub fn new(name: MailboxName, delimiter: Option<char>, attributes: Vec<Attribute>) -> Folder {
        let subscribed = attributes.contains(&Attribute::Subscribed);
        Folder {
            name,
            delimiter,
            attributes,
            subscribed,
            messages: None,
            bytes: None,
        }
    }

    /// Whether the folder can be selected (holds messages).
    pub fn is_selectable(&self) -> bool {
        !self
            .attributes
            .iter()
            .any(|a| matches!(a, Attribute::NoSelect | Attribute::NonExistent))
    }

    /// The folder's SPECIAL-USE role, if it has one (the first, if several).
    pub fn special_use(&self) -> Option<SpecialUse> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Special(s) => Some(*s),
            _ => None,
        })
    }

    /// Whether the folder carries the given SPECIAL-USE role.
    pub fn has_special_use(&self, s: SpecialUse) -> bool {
        self.attributes.contains(&Attribute::Special(s))
    }
}

/// One side's folders, with what is needed to translate names: the delimiter and the personal prefix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FolderTree {
    /// Every listed folder, in listing order.
    pub folders: Vec<Folder>,
    /// The hierarchy delimiter (`None`: NIL, a flat server).
    pub delimiter: Option<char>,
    /// The personal namespace prefix, like `INBOX.` (Courier, Cyrus) or empty.
    pub prefix: String,
    /// Whether names travel as UTF-8 (`UTF8=ACCEPT` enabled, or IMAP4rev2).
    pub utf8: bool,
    /// Whether the server supports `CREATE … (USE (\Sent))` (RFC 6154 CREATE-SPECIAL-USE).
    pub can_create_special_use: bool,
}

/// The top-level names of Gmail's group of system folders.
pub const GMAIL_ROOTS: [&str; 2] = ["[Gmail]", "[Google Mail]"];

impl FolderTree {
    /// A tree from folders, deriving the delimiter and the prefix from the names.
    ///
    /// Use this when NAMESPACE is not available; set `prefix` afterwards when it is.
    pub fn from_folders(folders: Vec<Folder>, utf8: bool) -> FolderTree {
        let delimiter = derive_delimiter(&folders);
        let prefix = derive_prefix(&folders, delimiter);
        FolderTree {
            folders,
            delimiter,
            prefix,
            utf8,
            can_create_special_use: false,
        }
    }

    /// A tree from untagged `LIST` replies and `LSUB` replies (subscriptions).
    ///
    /// Names only in LSUB (subscribed but gone) are ignored. A name listed
    /// twice keeps its first entry.
    ///
    /// # Errors
    /// The first line that cannot be read.
    pub fn from_list_lines<S: AsRef<str>>(
        list: &[S],
        lsub: &[S],
        utf8: bool,
    ) -> Result<FolderTree, ListParseError> {
        let mut folders: Vec<Folder> = Vec::new();
        for line in list {
            let l = parse_list_line(line.as_ref(), utf8)?;
            if folders.iter().any(|f| f.name == l.name) {
                continue;
            }
            folders.push(Folder::new(l.name, l.delimiter, l.attributes));
        }
        for line in lsub {
            let l = parse_list_line(line.as_ref(), utf8)?;
            if let Some(f) = folders.iter_mut().find(|f| f.name == l.name) {
                f.subscribed = true;
            }
        }
        Ok(FolderTree::from_folders(folders, utf8))
    }

    /// The folder with this exact name, if listed.
    pub fn find(&self, name: &MailboxName) -> Option<&Folder> {
        self.folders.iter().find(|f| &f.name == name)
    }

    /// The folder with this display name, if listed (INBOX in any case).
    pub fn find_display(&self, display: &str) -> Option<&Folder> {
        if display.eq_ignore_ascii_case("INBOX") {
            return self.folders.iter().find(|f| f.name.is_inbox());
        }
        self.folders.iter().find(|f| f.name.display() == display)
    }

    /// The first selectable folder carrying a SPECIAL-USE role.
    pub fn special(&self, s: SpecialUse) -> Option<&Folder> {
        self.folders
            .iter()
            .find(|f| f.has_special_use(s) && f.is_selectable())
    }

    /// Gmail's `[Gmail]` or `[Google Mail]` root, when this tree looks like Gmail.
    ///
    /// A tree looks like Gmail when it has such a top-level name and at least
    /// one folder with a SPECIAL-USE attribute (Gmail always advertises them);
    /// an ordinary folder called `[Gmail]` on another server does not count.
    pub fn gmail_root(&self) -> Option<&Folder> {
        if !self.folders.iter().any(|f| f.special_use().is_some()) {
            return None;
        }
        self.folders
            .iter()
            .find(|f| GMAIL_ROOTS.contains(&f.name.display()))
    }

    /// Whether this tree looks like Gmail (see [`FolderTree::gmail_root`]).
    pub fn is_gmail(&self) -> bool {
        self.gmail_root().is_some()
    }

    /// The name with the personal prefix removed, split into levels.
    ///
    /// `INBOX` itself is `["INBOX"]`. Names outside the prefix are split as they are.
    pub fn relative_segments<'a>(&self, display: &'a str) -> Vec<&'a str> {
        let rest = strip_prefix(display, &self.prefix).unwrap_or(display);
        split_segments(rest, self.delimiter)
    }
}

/// Removes a personal prefix; the `INBOX` part of a prefix matches in any case.
pub fn strip_prefix<'a>(display: &'a str, prefix: &str) -> Option<&'a str> {
    if prefix.is_empty() {
        return Some(display);
    }
    if prefix.len() >= 5 && prefix.is_char_boundary(5) && prefix[..5].eq_ignore_ascii_case("INBOX")
    {
        let head = display.get(..5)?;
        let rest = display[5..].strip_prefix(&prefix[5..])?;
        return (head.eq_ignore_ascii_case("INBOX") && !rest.is_empty()).then_some(rest);
    }
    display.strip_prefix(prefix).filter(|r| !r.is_empty())
}

/// The delimiter of a listing: INBOX's, else the most common non-NIL one, else NIL.
pub fn derive_delimiter(folders: &[Folder]) -> Option<char> {
    if let Some(d) = folders
        .iter()
        .find(|f| f.name.is_inbox())
        .and_then(|f| f.delimiter)
    {
        return Some(d);
    }
    let mut counts: Vec<(char, usize)> = Vec::new();
    for d in folders.iter().filter_map(|f| f.delimiter) {
        match counts.iter_mut().find(|(c, _)| *c == d) {
            Some((_, n)) => *n += 1,
            None => counts.push((d, 1)),
        }
    }
    // Ties go to the delimiter seen first.
    let mut best: Option<(char, usize)> = None;
    for (c, n) in counts {
        if best.is_none_or(|(_, m)| n > m) {
            best = Some((c, n));
        }
    }
    best.map(|(c, _)| c)
}

/// The personal prefix: `INBOX` + delimiter when every other folder lives under INBOX, else empty.
pub fn derive_prefix(folders: &[Folder], delimiter: Option<char>) -> String {
    let Some(d) = delimiter else {
        return String::new();
    };
    let prefix = format!("INBOX{d}");
    let mut others = folders.iter().filter(|f| !f.name.is_inbox()).peekable();
    if others.peek().is_none() {
        return String::new();
    }
    if others.all(|f| strip_prefix(f.name.display(), &prefix).is_some()) {
        prefix
    } else {
        String::new()
    }
}

/// Which reply a listing line was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ListKind {
    /// `* LIST …`
    List,
    /// `* LSUB …`
    Lsub,
}

/// One parsed `LIST` or `LSUB` reply.
#[derive(Debug, Clone, PartialEq)]
pub struct ListLine {
    /// LIST or LSUB.
    pub kind: ListKind,
    /// The attributes in parentheses.
    pub attributes: Vec<Attribute>,
    /// The delimiter, `None` for NIL.
    pub delimiter: Option<char>,
    /// The mailbox name.
    pub name: MailboxName,
}

/// Why a listing line could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListParseError {
    /// The line is not a well-formed LIST/LSUB reply.
    #[error("cannot read the folder listing line {line:?}: {problem}")]
    Malformed {
        /// The line, shortened for display.
        line: String,
        /// What was expected.
        problem: &'static str,
    },
    /// The line is well-formed but the name is not valid.
    #[error("cannot read the folder name in the listing line {line:?}")]
    Name {
        /// The line, shortened for display.
        line: String,
        /// Why the name is not valid.
        #[source]
        source: NameError,
    },
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }
    fn eat(&mut self, token: &str) -> bool {
        let r = self.rest();
        if r.len() >= token.len()
            && r.is_char_boundary(token.len())
            && r[..token.len()].eq_ignore_ascii_case(token)
        {
            self.pos += token.len();
            true
        } else {
            false
        }
    }
    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }
    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }
    /// A quoted string after the opening quote, with `\\` and `\"` escapes.
    fn quoted(&mut self) -> Option<String> {
        let mut out = String::new();
        loop {
            match self.bump()? {
                '"' => return Some(out),
                '\\' => out.push(self.bump()?),
                '\r' | '\n' => return None,
                c => out.push(c),
            }
        }
    }
}

fn shorten(line: &str) -> String {
    let mut s: String = line.chars().take(200).collect();
    if s.len() < line.len() {
        s.push('…');
    }
    s
}

/// Parses one untagged `LIST` or `LSUB` reply.
///
/// `utf8` says whether the session has `UTF8=ACCEPT` enabled; it decides how
/// the name is decoded (see [`MailboxName::from_wire`]). A trailing CRLF is
/// ignored, and so is LIST-EXTENDED data after the name.
///
/// # Errors
/// [`ListParseError::Malformed`] for a line that is not a LIST/LSUB reply,
/// [`ListParseError::Name`] for a name that is not valid.
pub fn parse_list_line(line: &str, utf8: bool) -> Result<ListLine, ListParseError> {
    let bad = |problem| ListParseError::Malformed {
        line: shorten(line),
        problem,
    };
    let trimmed = line.strip_suffix("\r\n").unwrap_or(line);
    let trimmed = trimmed.strip_suffix('\n').unwrap_or(trimmed);
    let mut c = Cursor { s: trimmed, pos: 0 };
    let _ = c.eat("* ");
    let kind = if c.eat("LIST ") {
        ListKind::List
    } else if c.eat("LSUB ") {
        ListKind::Lsub
    } else {
        return Err(bad("it does not start with LIST or LSUB"));
    };
    if !c.eat("(") {
        return Err(bad("the attributes are not in parentheses"));
    }
    let close = c
        .rest()
        .find(')')
        .ok_or(bad("the attribute list is not closed"))?;
    let attributes = c.rest()[..close]
        .split_ascii_whitespace()
        .map(Attribute::parse)
        .collect();
    c.pos += close + 1;
    if !c.eat(" ") {
        return Err(bad("a space must follow the attributes"));
    }
    let delimiter = if c.eat("NIL") {
        None
    } else if c.eat("\"") {
        let d = c
            .quoted()
            .ok_or(bad("the delimiter is not a quoted string"))?;
        let mut chars = d.chars();
        match (chars.next(), chars.next()) {
            (Some(ch), None) => Some(ch),
            _ => return Err(bad("the delimiter must be one character")),
        }
    } else {
        return Err(bad("the delimiter must be NIL or a quoted character"));
    };
    if !c.eat(" ") {
        return Err(bad("a space must follow the delimiter"));
    }
    let wire = match c.peek() {
        Some('"') => {
            c.bump();
            c.quoted().ok_or(bad("the quoted name is not closed"))?
        }
        Some('{') => {
            let close = c
                .rest()
                .find('}')
                .ok_or(bad("the literal size is not closed"))?;
            let size_text = c.rest()[1..close].trim_end_matches('+');
            let size: usize = size_text
                .parse()
                .map_err(|_| bad("the literal size is not a number"))?;
            c.pos += close + 1;
            if !c.eat("\r\n") && !c.eat("\n") {
                return Err(bad("the literal must be followed by a line break"));
            }
            let rest = c.rest();
            if rest.len() < size || !rest.is_char_boundary(size) {
                return Err(bad("the literal is shorter than its size"));
            }
            c.pos += size;
            rest[..size].to_owned()
        }
        Some(_) => {
            let rest = c.rest();
            let end = rest.find([' ', '(', ')', '"']).unwrap_or(rest.len());
            if end == 0 {
                return Err(bad("the name is missing"));
            }
            c.pos += end;
            rest[..end].to_owned()
        }
        None => return Err(bad("the name is missing")),
    };
    match c.peek() {
        None => {}
        Some(' ') if c.rest()[1..].starts_with('(') => {}
        Some(_) => return Err(bad("unexpected text after the name")),
    }
    let name = MailboxName::from_wire(&wire, utf8).map_err(|source| ListParseError::Name {
        line: shorten(line),
        source,
    })?;
    Ok(ListLine {
        kind,
        attributes,
        delimiter,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> ListLine {
        parse_list_line(line, false).unwrap()
    }

    #[test]
    fn parses_quoted_names_attributes_and_delimiter() {
        let l = parse("* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent Items\"\r\n");
        assert_eq!(l.kind, ListKind::List);
        assert_eq!(
            l.attributes,
            [
                Attribute::HasNoChildren,
                Attribute::Special(SpecialUse::Sent)
            ]
        );
        assert_eq!(l.delimiter, Some('/'));
        assert_eq!(l.name.display(), "Sent Items");
    }

    #[test]
    fn attributes_are_case_insensitive_and_unknown_ones_kept() {
        let l = parse("* LIST (\\NOSELECT \\haschildren \\NoInferiors \\jUnK) \".\" INBOX");
        assert_eq!(
            l.attributes,
            [
                Attribute::NoSelect,
                Attribute::HasChildren,
                Attribute::Other("\\NoInferiors".into()),
                Attribute::Special(SpecialUse::Junk),
            ]
        );
    }

    #[test]
    fn parses_atoms_nil_delimiter_and_inbox_case() {
        let l = parse("* LIST () NIL inbox");
        assert_eq!(l.delimiter, None);
        assert!(l.name.is_inbox());
        let l = parse("* LSUB () \".\" INBOX.Drafts");
        assert_eq!(l.kind, ListKind::Lsub);
        assert_eq!(l.name.display(), "INBOX.Drafts");
        let l = parse("* LIST (\\HasNoChildren) \"/\" [Gmail]/Spam");
        assert_eq!(l.name.display(), "[Gmail]/Spam");
    }

    #[test]
    fn unescapes_backslash_and_quote_in_names_and_delimiter() {
        let l = parse(r#"* LIST () "\\" "jj\\kk""#);
        assert_eq!(l.delimiter, Some('\\'));
        assert_eq!(l.name.wire(), "jj\\kk");
        let l = parse(r#"* LIST () "/" "OLItest \"1\"""#);
        assert_eq!(l.name.wire(), "OLItest \"1\"");
    }

    #[test]
    fn decodes_modified_utf7_and_keeps_wire_bytes() {
        let l = parse("* LIST (\\HasNoChildren) \"/\" \"&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-\"");
        assert_eq!(l.name.display(), "Отправленные");
        assert_eq!(l.name.wire(), "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-");
        let l = parse_list_line("* LIST () \"/\" \"Отправленные\"", true).unwrap();
        assert_eq!(l.name.wire(), "Отправленные", "UTF8=ACCEPT: raw UTF-8");
    }

    #[test]
    fn literal_names_joined_by_the_caller() {
        let l = parse("* LIST () \"/\" {5}\r\nab cd");
        assert_eq!(l.name.display(), "ab cd");
        let l = parse("* LIST () \"/\" {3+}\r\na\"b");
        assert_eq!(l.name.display(), "a\"b");
        assert!(parse_list_line("* LIST () \"/\" {9}\r\nab", false).is_err());
    }

    #[test]
    fn ignores_list_extended_data_after_the_name() {
        let l = parse("* LIST (\\Subscribed) \"/\" Foo (\"CHILDINFO\" (\"SUBSCRIBED\"))");
        assert_eq!(l.name.display(), "Foo");
        assert_eq!(l.attributes, [Attribute::Subscribed]);
    }

    #[test]
    fn rejects_malformed_lines_and_bad_names() {
        for line in [
            "* STATUS INBOX (MESSAGES 1)",
            "* LIST \\Noselect \"/\" foo",
            "* LIST () \"//\" foo",
            "* LIST () \"/\"",
            "* LIST () \"/\" \"unterminated",
            "* LIST () \"/\" foo bar",
        ] {
            assert!(
                matches!(
                    parse_list_line(line, false),
                    Err(ListParseError::Malformed { .. })
                ),
                "{line}"
            );
        }
        let err = parse_list_line("* LIST () \"/\" \"&AGE-\"", false).unwrap_err();
        assert!(matches!(err, ListParseError::Name { .. }));
        assert!(err.to_string().starts_with("cannot read the folder name"));
    }

    #[test]
    fn tree_derives_courier_prefix_and_subscriptions() {
        let t = FolderTree::from_list_lines(
            &[
                "* LIST (\\HasChildren) \".\" INBOX",
                "* LIST (\\HasNoChildren) \".\" INBOX.Sent",
                "* LIST (\\HasNoChildren) \".\" INBOX.Clients.Acme",
            ],
            &["* LSUB () \".\" INBOX.Sent", "* LSUB () \".\" INBOX.Gone"],
            false,
        )
        .unwrap();
        assert_eq!(t.delimiter, Some('.'));
        assert_eq!(t.prefix, "INBOX.");
        assert!(t.find_display("INBOX.Sent").unwrap().subscribed);
        assert!(!t.find_display("inbox").unwrap().subscribed);
        assert_eq!(
            t.relative_segments("INBOX.Clients.Acme"),
            ["Clients", "Acme"]
        );
        assert_eq!(t.relative_segments("INBOX"), ["INBOX"]);
    }

    #[test]
    fn no_prefix_when_some_folder_is_outside_inbox() {
        let t = FolderTree::from_list_lines(
            &[
                "* LIST () \"/\" INBOX",
                "* LIST () \"/\" INBOX/Sub",
                "* LIST () \"/\" Sent",
            ],
            &[],
            false,
        )
        .unwrap();
        assert_eq!(t.prefix, "");
        let flat =
            FolderTree::from_list_lines(&["* LIST () NIL INBOX", "* LIST () NIL a/b"], &[], false)
                .unwrap();
        assert_eq!(flat.delimiter, None);
        assert_eq!(flat.prefix, "");
        assert_eq!(flat.relative_segments("a/b"), ["a/b"]);
    }

    #[test]
    fn strip_prefix_matches_inbox_in_any_case_only() {
        assert_eq!(strip_prefix("inbox.Sent", "INBOX."), Some("Sent"));
        assert_eq!(strip_prefix("INBOX", "INBOX."), None);
        assert_eq!(strip_prefix("Mail/x", "mail/"), None);
        assert_eq!(strip_prefix("Mail/x", "Mail/"), Some("x"));
    }

    #[test]
    fn gmail_needs_both_the_root_and_special_use() {
        let gmail = FolderTree::from_list_lines(
            &[
                "* LIST (\\HasChildren \\Noselect) \"/\" \"[Google Mail]\"",
                "* LIST (\\HasNoChildren \\Sent) \"/\" \"[Google Mail]/Gesendet\"",
            ],
            &[],
            false,
        )
        .unwrap();
        assert!(gmail.is_gmail());
        assert!(!gmail.folders[0].is_selectable());
        assert_eq!(
            gmail.special(SpecialUse::Sent).unwrap().name.display(),
            "[Google Mail]/Gesendet"
        );
        let fake =
            FolderTree::from_list_lines(&["* LIST () \"/\" \"[Gmail]\""], &[], false).unwrap();
        assert!(!fake.is_gmail());
    }
}
