//! The few pieces of IMAP syntax MailFerry writes and reads itself: string
//! arguments (atom, quoted or literal) and response lines before sign-in.
//!
//! Everything here is pure; reading and writing bytes is the caller's.

/// How a string argument must be sent.
#[derive(Debug, PartialEq, Eq)]
pub enum Astring {
    /// As a quoted string (ready to write, quotes included).
    Quoted(String),
    /// As a literal: `{N}` then the bytes after the server's `+`.
    Literal(Vec<u8>),
}

/// Chooses the form of an `astring` argument (RFC 3501 §4.3, §9): quoted
/// when every character is 7-bit printable, with `"` and `\` escaped; a
/// literal otherwise (8-bit text, CR or LF). NUL cannot be sent at all.
pub fn astring(value: &str) -> Result<Astring, NulInArgument> {
    if value.contains('\0') {
        return Err(NulInArgument);
    }
    if value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        let mut q = String::with_capacity(value.len() + 2);
        q.push('"');
        for c in value.chars() {
            if c == '"' || c == '\\' {
                q.push('\\');
            }
            q.push(c);
        }
        q.push('"');
        Ok(Astring::Quoted(q))
    } else {
        Ok(Astring::Literal(value.as_bytes().to_vec()))
    }
}

/// One untagged `LIST` or `LSUB` reply, read from the bytes of the whole
/// response (its line and any literal in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListReply {
    /// Attributes such as `\Noselect`, `\Sent`, spelled as sent.
    pub attributes: Vec<String>,
    /// The hierarchy delimiter, `None` for NIL.
    pub delimiter: Option<String>,
    /// The mailbox name, unescaped: a quoted string without its quotes and
    /// `\` escapes, a literal's bytes as they are, an atom as it is. This is
    /// the one place a listed name is unescaped; every command that sends it
    /// back quotes (or escapes) it again.
    pub name: String,
}

/// Reads `* LIST (attributes) delimiter name` (with `kind` `"LIST"` or
/// `"LSUB"`) from one response's bytes. `None` when the response is another
/// one, or not well formed, or its name is not UTF-8. Extended data after
/// the name (RFC 5258), and anything after the response's end, is ignored.
pub fn parse_list_reply(raw: &[u8], kind: &str) -> Option<ListReply> {
    let mut r = Reader { buf: raw, pos: 0 };
    r.eat_no_case(b"* ")?;
    r.eat_no_case(kind.as_bytes())?;
    r.eat_no_case(b" (")?;
    let close = r.rest().iter().position(|&b| b == b')')?;
    let attributes = std::str::from_utf8(&r.rest()[..close])
        .ok()?
        .split_ascii_whitespace()
        .map(str::to_owned)
        .collect();
    r.pos += close + 1;
    r.eat_no_case(b" ")?;
    let delimiter = if r.eat_no_case(b"NIL").is_some() {
        None
    } else {
        Some(String::from_utf8(r.quoted()?).ok()?)
    };
    r.eat_no_case(b" ")?;
    let name = String::from_utf8(r.astring()?).ok()?;
    match r.rest() {
        // What follows the response (the buffer may hold the next ones) or
        // extended data.
        [] | [b'\r', b'\n', ..] | [b'\n', ..] | [b' ', b'(', ..] => {}
        _ => return None,
    }
    Some(ListReply {
        attributes,
        delimiter,
        name,
    })
}

/// Reads `* STATUS name (… MAILBOXID (id) …)` (RFC 8474) from one
/// response's bytes: the name, unescaped as [`parse_list_reply`] does, and
/// the id. `None` for another response, or a STATUS reply without a
/// well-formed MAILBOXID (1 to 255 letters, digits, `_` and `-`).
pub fn parse_status_mailbox_id(raw: &[u8]) -> Option<(String, String)> {
    let mut r = Reader { buf: raw, pos: 0 };
    r.eat_no_case(b"* STATUS ")?;
    let name = String::from_utf8(r.astring()?).ok()?;
    r.eat_no_case(b" (")?;
    let rest = r.rest();
    let line = &rest[..rest
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(rest.len())];
    const KEY: &[u8] = b"MAILBOXID (";
    let at = (0..line.len()).find(|&i| {
        line[i..].len() >= KEY.len()
            && line[i..i + KEY.len()].eq_ignore_ascii_case(KEY)
            && (i == 0 || line[i - 1] == b' ')
    })?;
    let id = &line[at + KEY.len()..];
    let id = &id[..id.iter().position(|&b| b == b')')?];
    let well_formed = (1..=255).contains(&id.len())
        && id
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    well_formed.then(|| (name, String::from_utf8_lossy(id).into_owned()))
}

/// Reads `* STATUS name (MESSAGES 3 UIDNEXT 4 …)` from one response's
/// bytes: the name, unescaped as [`parse_list_reply`] does, and each item
/// with a number for its value, its name in capitals. `None` for another
/// response. Items whose value is not a number (MAILBOXID) are left out.
pub fn parse_status_numbers(raw: &[u8]) -> Option<(String, Vec<(String, u64)>)> {
    let mut r = Reader { buf: raw, pos: 0 };
    r.eat_no_case(b"* STATUS ")?;
    let name = String::from_utf8(r.astring()?).ok()?;
    r.eat_no_case(b" (")?;
    let rest = r.rest();
    let inside = &rest[..rest.iter().position(|&b| matches!(b, b'\r' | b'\n'))?];
    let inside = std::str::from_utf8(inside).ok()?;
    let inside = inside.strip_suffix(')').unwrap_or(inside);
    let words: Vec<&str> = inside.split_ascii_whitespace().collect();
    let items = words
        .windows(2)
        .filter_map(|pair| {
            let value = pair[1].parse::<u64>().ok()?;
            pair[0]
                .bytes()
                .all(|b| b.is_ascii_alphabetic() || b == b'-')
                .then(|| (pair[0].to_ascii_uppercase(), value))
        })
        .collect();
    Some((name, items))
}

/// The size of the literal announced at the end of a response line
/// (`{n}` or `{n+}` just before its CRLF), if one is.
pub fn literal_at_end(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"\r\n")?;
    let line = line.strip_suffix(b"}")?;
    let open = line.iter().rposition(|&b| b == b'{')?;
    let digits = &line[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// A cursor over response bytes.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn rest(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    fn eat_no_case(&mut self, token: &[u8]) -> Option<()> {
        let rest = self.rest();
        (rest.len() >= token.len() && rest[..token.len()].eq_ignore_ascii_case(token)).then(|| {
            self.pos += token.len();
        })
    }

    /// `"…"` with `\\` and `\"` escapes: the text between the quotes, unescaped.
    fn quoted(&mut self) -> Option<Vec<u8>> {
        self.eat_no_case(b"\"")?;
        let mut out = Vec::new();
        loop {
            let b = *self.rest().first()?;
            self.pos += 1;
            match b {
                b'"' => return Some(out),
                b'\\' => {
                    let next = *self.rest().first()?;
                    if next != b'"' && next != b'\\' {
                        return None;
                    }
                    out.push(next);
                    self.pos += 1;
                }
                b'\r' | b'\n' => return None,
                b => out.push(b),
            }
        }
    }

    /// `{n}` (or `{n+}`) CRLF and n bytes, taken as they are.
    fn literal(&mut self) -> Option<Vec<u8>> {
        self.eat_no_case(b"{")?;
        let close = self.rest().iter().position(|&b| b == b'}')?;
        let digits = &self.rest()[..close];
        let digits = digits.strip_suffix(b"+").unwrap_or(digits);
        let n: usize = std::str::from_utf8(digits).ok()?.parse().ok()?;
        self.pos += close + 1;
        self.eat_no_case(b"\r\n")?;
        let data = self.rest().get(..n)?.to_vec();
        self.pos += n;
        Some(data)
    }

    /// An atom, a quoted string or a literal.
    fn astring(&mut self) -> Option<Vec<u8>> {
        match self.rest().first()? {
            b'"' => self.quoted(),
            b'{' => self.literal(),
            _ => {
                let end = self
                    .rest()
                    .iter()
                    .position(|&b| matches!(b, b' ' | b'(' | b')' | b'"' | b'\r' | b'\n'))
                    .unwrap_or(self.rest().len());
                if end == 0 {
                    return None;
                }
                let atom = self.rest()[..end].to_vec();
                self.pos += end;
                Some(atom)
            }
        }
    }
}

/// Is `s` a non-empty IMAP atom (no specials, spaces, controls or 8-bit)?
pub fn is_atom(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            (0x21..0x7f).contains(&b)
                && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
        })
}

/// A NUL byte in a user name or password: IMAP cannot carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot send a NUL character to an IMAP server")]
pub struct NulInArgument;

/// The status of a tagged or untagged response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Success.
    Ok,
    /// Refused.
    No,
    /// Not understood.
    Bad,
    /// Already signed in (greeting only).
    Preauth,
    /// The server is closing the connection.
    Bye,
}

/// A response line as read before sign-in (no literals expected there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line<'a> {
    /// `* OK|NO|BAD|PREAUTH|BYE [code] text`
    UntaggedStatus {
        /// Status word.
        status: Status,
        /// Response code including brackets, or empty.
        code: &'a str,
        /// The rest.
        text: &'a str,
    },
    /// `* CAPABILITY …`
    Capability(&'a str),
    /// Another untagged response.
    Untagged(&'a str),
    /// `+ …`
    Continuation(&'a str),
    /// `TAG OK|NO|BAD [code] text`
    Tagged {
        /// The tag.
        tag: &'a str,
        /// Status word.
        status: Status,
        /// Response code including brackets, or empty.
        code: &'a str,
        /// The rest.
        text: &'a str,
    },
}

/// Parses one response line (without its CRLF). `None` if it isn't IMAP.
pub fn parse_line(line: &str) -> Option<Line<'_>> {
    if let Some(rest) = line.strip_prefix("+") {
        return Some(Line::Continuation(rest.trim_start()));
    }
    let (first, rest) = line.split_once(' ').unwrap_or((line, ""));
    if first == "*" {
        let (word, after) = rest.split_once(' ').unwrap_or((rest, ""));
        if word.eq_ignore_ascii_case("CAPABILITY") {
            return Some(Line::Capability(after));
        }
        return Some(match status_word(word) {
            Some(status) => {
                let (code, text) = split_code(after);
                Line::UntaggedStatus { status, code, text }
            }
            None => Line::Untagged(rest),
        });
    }
    if first.is_empty() || !first.bytes().all(|b| b.is_ascii_graphic() && b != b'+') {
        return None;
    }
    let (word, after) = rest.split_once(' ').unwrap_or((rest, ""));
    let status = status_word(word)?;
    if matches!(status, Status::Preauth | Status::Bye) {
        return None;
    }
    let (code, text) = split_code(after);
    Some(Line::Tagged {
        tag: first,
        status,
        code,
        text,
    })
}

fn status_word(word: &str) -> Option<Status> {
    Some(match word.to_ascii_uppercase().as_str() {
        "OK" => Status::Ok,
        "NO" => Status::No,
        "BAD" => Status::Bad,
        "PREAUTH" => Status::Preauth,
        "BYE" => Status::Bye,
        _ => return None,
    })
}

/// Splits `[CODE args] text` into the bracketed code and the text.
fn split_code(s: &str) -> (&str, &str) {
    if s.starts_with('[') {
        if let Some(end) = s.find(']') {
            return (&s[..=end], s[end + 1..].trim_start());
        }
    }
    ("", s)
}

/// The atoms of a `[CAPABILITY …]` response code, if that's what it is.
pub fn capability_code(code: &str) -> Option<&str> {
    let inner = code.strip_prefix('[')?.strip_suffix(']')?;
    let (word, rest) = inner.split_once(' ').unwrap_or((inner, ""));
    word.eq_ignore_ascii_case("CAPABILITY").then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn awkward_passwords_are_quoted_or_sent_as_literals() {
        assert_eq!(
            astring(r#"pa"ss\word with spaces"#).unwrap(),
            Astring::Quoted(r#""pa\"ss\\word with spaces""#.into())
        );
        assert_eq!(astring("").unwrap(), Astring::Quoted("\"\"".into()));
        assert_eq!(
            astring("pässwörd").unwrap(),
            Astring::Literal("pässwörd".as_bytes().to_vec())
        );
        assert_eq!(
            astring("two\r\nlines").unwrap(),
            Astring::Literal(b"two\r\nlines".to_vec())
        );
        assert_eq!(astring("nul\0"), Err(NulInArgument));
    }

    #[test]
    fn response_lines() {
        assert_eq!(
            parse_line("* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready."),
            Some(Line::UntaggedStatus {
                status: Status::Ok,
                code: "[CAPABILITY IMAP4rev1 STARTTLS]",
                text: "Dovecot ready."
            })
        );
        assert_eq!(
            parse_line("* PREAUTH welcome"),
            Some(Line::UntaggedStatus {
                status: Status::Preauth,
                code: "",
                text: "welcome"
            })
        );
        assert_eq!(
            parse_line("* CAPABILITY IMAP4rev1 AUTH=PLAIN"),
            Some(Line::Capability("IMAP4rev1 AUTH=PLAIN"))
        );
        assert_eq!(
            parse_line("a1 NO [AUTHENTICATIONFAILED] Authentication failed."),
            Some(Line::Tagged {
                tag: "a1",
                status: Status::No,
                code: "[AUTHENTICATIONFAILED]",
                text: "Authentication failed."
            })
        );
        assert_eq!(parse_line("+ "), Some(Line::Continuation("")));
        assert_eq!(parse_line("HTTP/1.1 400 Bad Request"), None);
        assert_eq!(parse_line("SSH-2.0-OpenSSH_9.2"), None);
        assert_eq!(capability_code("[CAPABILITY A B]"), Some("A B"));
        assert_eq!(capability_code("[ALERT]"), None);
    }

    #[test]
    fn list_replies_are_unescaped_once_whatever_form_the_name_takes() {
        let read = |raw: &[u8]| parse_list_reply(raw, "LIST").map(|l| l.name);
        // Quoted with escapes: the name is `Say "hi"` and `a\b`.
        assert_eq!(
            read(b"* LIST (\\HasNoChildren) \".\" \"INBOX.Say \\\"hi\\\"\"\r\n").as_deref(),
            Some("INBOX.Say \"hi\"")
        );
        assert_eq!(read(b"* LIST () \"/\" \"a\\\\b\"").as_deref(), Some("a\\b"));
        // A literal is taken byte for byte: its backslashes are the name's.
        assert_eq!(
            read(b"* LIST () \"/\" {8}\r\nSay \\\"hi\r\n").as_deref(),
            Some("Say \\\"hi")
        );
        assert_eq!(
            read(b"* LIST () \"/\" {3+}\r\na\\b").as_deref(),
            Some("a\\b")
        );
        // An atom, modified UTF-7 as it is; UTF-8 (UTF8=ACCEPT) in a quoted string.
        assert_eq!(
            read(b"* LIST () \".\" INBOX.Caf&AOk-").as_deref(),
            Some("INBOX.Caf&AOk-")
        );
        assert_eq!(
            read("* LIST () \"/\" \"Caf\u{e9} \\\"x\\\"\"".as_bytes()).as_deref(),
            Some("Caf\u{e9} \"x\"")
        );
        // Extended data after the name is ignored; the rest must be well formed.
        let full = parse_list_reply(
            b"* LSUB (\\Noselect \\HasChildren) NIL \"a b\" (\"CHILDINFO\" (\"SUBSCRIBED\"))",
            "LSUB",
        )
        .unwrap();
        assert_eq!(full.name, "a b");
        assert_eq!(full.delimiter, None);
        assert_eq!(full.attributes, ["\\Noselect", "\\HasChildren"]);
        // The bytes may go on with the next response; the empty name.
        assert_eq!(
            read(b"* LIST (\\Noselect) \".\" \"\"\r\nMF1 OK done\r\n\0\0").as_deref(),
            Some("")
        );
        assert_eq!(read(b"* LSUB () \"/\" a"), None, "another kind");
        assert_eq!(read(b"* LIST () \"/\" \"a\\xb\""), None, "a bad escape");
        assert_eq!(read(b"* LIST () \"/\" \"open"), None);
        assert_eq!(read(b"* LIST () \"/\" {9}\r\nshort"), None);
        assert_eq!(read(b"* LIST () \"/\" a\"b"), None);
    }

    #[test]
    fn status_numbers_are_read_from_status_replies() {
        let items = |pairs: &[(&str, u64)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            parse_status_numbers(
                b"* STATUS \"Lists/a b\" (MESSAGES 3 UIDNEXT 40 UIDVALIDITY 1700000000 highestmodseq 12)\r\n"
            ),
            Some((
                "Lists/a b".to_owned(),
                items(&[
                    ("MESSAGES", 3),
                    ("UIDNEXT", 40),
                    ("UIDVALIDITY", 1_700_000_000),
                    ("HIGHESTMODSEQ", 12)
                ])
            ))
        );
        assert_eq!(
            parse_status_numbers(b"* STATUS {3}\r\nA B (MESSAGES 0 MAILBOXID (x1))\r\n"),
            Some(("A B".to_owned(), items(&[("MESSAGES", 0)])))
        );
        assert_eq!(
            parse_status_numbers(b"* STATUS INBOX ()\r\n"),
            Some(("INBOX".to_owned(), Vec::new()))
        );
        assert_eq!(parse_status_numbers(b"* LIST () \"/\" A\r\n"), None);
        assert_eq!(parse_status_numbers(b"MF3 OK done\r\n"), None);
    }

    #[test]
    fn mailbox_ids_are_read_from_status_replies() {
        assert_eq!(
            parse_status_mailbox_id(b"* STATUS Clients (MAILBOXID (F2212ea87-6097))\r\n"),
            Some(("Clients".to_owned(), "F2212ea87-6097".to_owned()))
        );
        assert_eq!(
            parse_status_mailbox_id(
                b"* STATUS \"A b/x\" (MESSAGES 3 mailboxid (abc_1) UIDNEXT 4)\r\n"
            ),
            Some(("A b/x".to_owned(), "abc_1".to_owned()))
        );
        assert_eq!(
            parse_status_mailbox_id(b"* STATUS {3}\r\nA B (MAILBOXID (id9))\r\n"),
            Some(("A B".to_owned(), "id9".to_owned()))
        );
        assert_eq!(
            parse_status_mailbox_id(b"* STATUS A (MESSAGES 3)\r\n"),
            None
        );
        assert_eq!(
            parse_status_mailbox_id(b"* STATUS A (X-MAILBOXID (x))"),
            None
        );
        assert_eq!(
            parse_status_mailbox_id(b"* STATUS A (MAILBOXID (a b))"),
            None
        );
        assert_eq!(parse_status_mailbox_id(b"* STATUS A (MAILBOXID ())"), None);
        assert_eq!(parse_status_mailbox_id(b"* LIST () \"/\" A"), None);
        assert_eq!(literal_at_end(b"* STATUS {12}\r\n"), Some(12));
        assert_eq!(literal_at_end(b"* STATUS {3+}\r\n"), Some(3));
        assert_eq!(literal_at_end(b"* STATUS A (MESSAGES 3)\r\n"), None);
        assert_eq!(literal_at_end(b"* OK {x}\r\n"), None);
    }
}
