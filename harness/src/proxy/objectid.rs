//! [`Fault::ObjectId`](super::Fault::ObjectId): a server that offers
//! OBJECTID (RFC 8474) made from Dovecot 2.3, which doesn't, but answers
//! `STATUS name (X-GUID)` with its mailbox GUID, which a RENAME keeps (the
//! folders inside a renamed one keep theirs too).
//!
//! Both functions work on one protocol line (CRLF included, literals
//! excluded) and leave every other line as it is.

/// A line going to the client: ` OBJECTID` added to a capability list (a
/// `* CAPABILITY` reply or a `[CAPABILITY …]` code), and `X-GUID <guid>` in
/// a `* STATUS` reply turned into `MAILBOXID (<guid>)`.
pub(super) fn to_client(line: Vec<u8>) -> Vec<u8> {
    if starts_with_no_case(&line, b"* CAPABILITY ") && !has_object_id(&line) {
        let end = line_end(&line);
        let mut out = line[..end].to_vec();
        out.extend_from_slice(b" OBJECTID");
        out.extend_from_slice(&line[end..]);
        return out;
    }
    if let Some(at) = find_no_case(&line, b"[CAPABILITY ") {
        if let Some(close) = line[at..].iter().position(|&b| b == b']') {
            if !has_object_id(&line[at..at + close]) {
                let mut out = line[..at + close].to_vec();
                out.extend_from_slice(b" OBJECTID");
                out.extend_from_slice(&line[at + close..]);
                return out;
            }
        }
        return line;
    }
    if starts_with_no_case(&line, b"* STATUS ") {
        if let Some(at) = find_no_case(&line, b"X-GUID ") {
            let start = at + b"X-GUID ".len();
            let len = line[start..]
                .iter()
                .position(|b| !b.is_ascii_alphanumeric())
                .unwrap_or(line.len() - start);
            let mut out = line[..at].to_vec();
            out.extend_from_slice(b"MAILBOXID (");
            out.extend_from_slice(&line[start..start + len]);
            out.push(b')');
            out.extend_from_slice(&line[start + len..]);
            return out;
        }
    }
    line
}

/// A line going to the server: `MAILBOXID` among the items of a STATUS
/// command (after the name, in its last parenthesised list) asked as
/// `X-GUID`.
pub(super) fn to_server(line: Vec<u8>) -> Vec<u8> {
    let mut words = line.splitn(3, |&b| b == b' ');
    let (Some(_tag), Some(command)) = (words.next(), words.next()) else {
        return line;
    };
    if !command.eq_ignore_ascii_case(b"STATUS") {
        return line;
    }
    let Some(open) = line.iter().rposition(|&b| b == b'(') else {
        return line;
    };
    let mut out = line[..open].to_vec();
    let items = &line[open..];
    let mut i = 0;
    while i < items.len() {
        if items[i..].len() >= 9 && items[i..i + 9].eq_ignore_ascii_case(b"MAILBOXID") {
            out.extend_from_slice(b"X-GUID");
            i += 9;
        } else {
            out.push(items[i]);
            i += 1;
        }
    }
    out
}

fn line_end(line: &[u8]) -> usize {
    line.len()
        - line
            .iter()
            .rev()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count()
}

fn starts_with_no_case(hay: &[u8], prefix: &[u8]) -> bool {
    hay.len() >= prefix.len() && hay[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn find_no_case(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

fn has_object_id(capabilities: &[u8]) -> bool {
    capabilities
        .split(|b| matches!(b, b' ' | b']' | b'\r' | b'\n'))
        .any(|atom| atom.eq_ignore_ascii_case(b"OBJECTID"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(s: &str) -> String {
        String::from_utf8(to_client(s.as_bytes().to_vec())).unwrap()
    }

    fn server(s: &str) -> String {
        String::from_utf8(to_server(s.as_bytes().to_vec())).unwrap()
    }

    #[test]
    fn the_capability_is_offered_and_status_answers_with_the_guid() {
        assert_eq!(
            client("* CAPABILITY IMAP4rev1 LITERAL+\r\n"),
            "* CAPABILITY IMAP4rev1 LITERAL+ OBJECTID\r\n"
        );
        assert_eq!(
            client("a OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n"),
            "a OK [CAPABILITY IMAP4rev1 IDLE OBJECTID] Logged in\r\n"
        );
        assert_eq!(
            client("* CAPABILITY IMAP4rev1 OBJECTID\r\n"),
            "* CAPABILITY IMAP4rev1 OBJECTID\r\n",
            "once"
        );
        assert_eq!(
            client("* STATUS \"A b\" (MESSAGES 0 X-GUID 92358f2d3fc5136be342000083ecc375)\r\n"),
            "* STATUS \"A b\" (MESSAGES 0 MAILBOXID (92358f2d3fc5136be342000083ecc375))\r\n"
        );
        assert_eq!(client("* 3 EXISTS\r\n"), "* 3 EXISTS\r\n");
        assert_eq!(
            server("MF4 STATUS \"MAILBOXID\" (MAILBOXID)\r\n"),
            "MF4 STATUS \"MAILBOXID\" (X-GUID)\r\n",
            "the items only, not the name"
        );
        assert_eq!(
            server("a2 status A (messages mailboxid)\r\n"),
            "a2 status A (messages X-GUID)\r\n"
        );
        assert_eq!(
            server("a3 SELECT \"MAILBOXID (x)\"\r\n"),
            "a3 SELECT \"MAILBOXID (x)\"\r\n"
        );
    }
}
