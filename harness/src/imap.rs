//! A deliberately small blocking IMAP client, so tests can load and inspect a server's
//! mailboxes without depending on the engine (or on an async runtime) they are testing.

use std::fmt;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// How long one blocking read may wait before the session gives up on a silent server.
const READ_TIMEOUT: Duration = Duration::from_secs(120);

/// A message to APPEND.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// The full RFC 5322 message, sent as-is in a literal.
    pub body: Vec<u8>,
    /// Flags and keywords, e.g. `\Seen`, `$Forwarded` (never `\Recent`).
    pub flags: Vec<String>,
    /// IMAP date-time such as `01-Jan-2020 10:00:00 +0000`; `None` lets the server pick now.
    pub internal_date: Option<String>,
}

impl Message {
    /// A message with the given body, no flags and no internal date.
    pub fn new(body: impl Into<Vec<u8>>) -> Message {
        Message {
            body: body.into(),
            ..Message::default()
        }
    }

    /// Builder-style: sets the flags.
    pub fn flags(mut self, flags: &[&str]) -> Message {
        self.flags = flags.iter().map(|f| f.to_string()).collect();
        self
    }

    /// Builder-style: sets the internal date (IMAP date-time syntax).
    pub fn internal_date(mut self, date: &str) -> Message {
        self.internal_date = Some(date.to_string());
        self
    }
}

/// One message as FETCHed back from a mailbox.
#[derive(Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The message's UID.
    pub uid: u32,
    /// Flags and keywords in the server's order, without the session-dependent `\Recent`.
    pub flags: Vec<String>,
    /// INTERNALDATE as the server sent it, without quotes.
    pub internal_date: String,
    /// `BODY[]`, byte for byte.
    pub body: Vec<u8>,
}

/// The outcome of one command: what the server said untagged, and its tagged status.
#[derive(Clone, PartialEq, Eq)]
pub struct Reply {
    /// Every untagged (`* …`) or continuation (`+ …`) response, literals inlined, without
    /// the final CRLF.
    pub untagged: Vec<Vec<u8>>,
    /// The tagged status line without the tag, e.g. `OK [APPENDUID 1 5] Append completed.`
    pub tagged: String,
}

/// At most the first 200 bytes, lossily decoded, with the total size if cut: `Debug`
/// output of bodies and responses stays readable when an assertion fails.
fn preview(bytes: &[u8]) -> String {
    const SHOW: usize = 200;
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(SHOW)]).into_owned();
    if bytes.len() > SHOW {
        format!("{text}… ({} bytes)", bytes.len())
    } else {
        text
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("body", &preview(&self.body))
            .field("flags", &self.flags)
            .field("internal_date", &self.internal_date)
            .finish()
    }
}

impl fmt::Debug for Fetched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fetched")
            .field("uid", &self.uid)
            .field("flags", &self.flags)
            .field("internal_date", &self.internal_date)
            .field("body", &preview(&self.body))
            .finish()
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let untagged: Vec<String> = self.untagged.iter().map(|u| preview(u)).collect();
        f.debug_struct("Reply")
            .field("untagged", &untagged)
            .field("tagged", &self.tagged)
            .finish()
    }
}

impl Reply {
    /// Whether the tagged status is `OK`.
    pub fn is_ok(&self) -> bool {
        self.tagged.starts_with("OK")
    }

    /// The untagged responses as (lossy) UTF-8 strings, for assertions.
    pub fn untagged_text(&self) -> Vec<String> {
        self.untagged
            .iter()
            .map(|u| String::from_utf8_lossy(u).into_owned())
            .collect()
    }
}

/// A blocking IMAP connection over plain TCP.
pub struct ImapSession {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    next_tag: u64,
    greeting: String,
}

impl fmt::Debug for ImapSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapSession")
            .field("peer", &self.writer.peer_addr().ok())
            .field("next_tag", &self.next_tag)
            .finish()
    }
}

impl ImapSession {
    /// Connects and reads the greeting.
    pub fn connect(addr: SocketAddr) -> io::Result<ImapSession> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
        stream.set_read_timeout(Some(READ_TIMEOUT))?;
        stream.set_nodelay(true)?;
        let writer = stream.try_clone()?;
        let mut session = ImapSession {
            reader: BufReader::with_capacity(256 * 1024, stream),
            writer,
            next_tag: 1,
            greeting: String::new(),
        };
        let greeting = session.read_response()?;
        session.greeting = String::from_utf8_lossy(&greeting).into_owned();
        Ok(session)
    }

    /// The server's greeting line, e.g. `* OK [CAPABILITY …] Dovecot ready.`
    pub fn greeting(&self) -> &str {
        &self.greeting
    }

    /// `LOGIN` with both arguments sent as synchronizing literals, so any byte is allowed.
    pub fn login(&mut self, user: &str, password: &str) -> io::Result<Reply> {
        let tag = self.tag();
        let mut untagged = Vec::new();
        self.writer.write_all(format!("{tag} LOGIN ").as_bytes())?;
        if let Some(early) = self.send_sync_literal(&tag, user.as_bytes(), &mut untagged)? {
            return Ok(early);
        }
        self.writer.write_all(b" ")?;
        if let Some(early) = self.send_sync_literal(&tag, password.as_bytes(), &mut untagged)? {
            return Ok(early);
        }
        self.writer.write_all(b"\r\n")?;
        self.finish(&tag, untagged)
    }

    /// `AUTHENTICATE PLAIN` (without SASL-IR: the credentials follow the `+` prompt).
    pub fn authenticate_plain(&mut self, user: &str, password: &str) -> io::Result<Reply> {
        let tag = self.tag();
        self.writer
            .write_all(format!("{tag} AUTHENTICATE PLAIN\r\n").as_bytes())?;
        let mut untagged = Vec::new();
        loop {
            let resp = self.read_response()?;
            if resp.starts_with(b"+") {
                break;
            }
            if let Some(status) = tagged_status(&resp, &tag) {
                return Ok(Reply {
                    untagged,
                    tagged: status,
                });
            }
            untagged.push(resp);
        }
        let mut creds = Vec::new();
        creds.push(0);
        creds.extend_from_slice(user.as_bytes());
        creds.push(0);
        creds.extend_from_slice(password.as_bytes());
        self.writer
            .write_all(format!("{}\r\n", STANDARD.encode(creds)).as_bytes())?;
        self.finish(&tag, untagged)
    }

    /// Sends one command line (the tag is added) and collects the responses up to its
    /// tagged status. The command must not contain literals.
    pub fn command(&mut self, command: &str) -> io::Result<Reply> {
        let tag = self.tag();
        self.writer
            .write_all(format!("{tag} {command}\r\n").as_bytes())?;
        self.finish(&tag, Vec::new())
    }

    /// APPENDs every message to `mailbox` (already in wire form: modified UTF-7, unquoted)
    /// over this one connection, one APPEND command per message, pipelined with
    /// non-synchronizing literals (LITERAL+). One result per message: the UID from
    /// `APPENDUID`, or the tagged status text (e.g. `NO [OVERQUOTA] …`).
    pub fn append_pipelined(
        &mut self,
        mailbox: &str,
        messages: &[Message],
    ) -> io::Result<Vec<Result<u32, String>>> {
        let batches: Vec<&[Message]> = messages.chunks(1).collect();
        Ok(self
            .append_batches(mailbox, &batches)?
            .into_iter()
            .map(|r| r.map(|uids| uids[0]))
            .collect())
    }

    /// APPENDs the messages with MULTIAPPEND (RFC 3502): batches of up to 500 messages
    /// or 8 MiB per command, the commands pipelined with LITERAL+. Much faster than one
    /// command per message (one transaction per batch), but a batch fails as a whole.
    /// Returns the UIDs in order, or the first failing batch's tagged status.
    pub fn multiappend(
        &mut self,
        mailbox: &str,
        messages: &[Message],
    ) -> io::Result<Result<Vec<u32>, String>> {
        const MAX_COUNT: usize = 500;
        const MAX_BYTES: usize = 8 << 20;
        let mut batches: Vec<&[Message]> = Vec::new();
        let mut start = 0;
        while start < messages.len() {
            let mut end = start + 1;
            let mut bytes = messages[start].body.len();
            while end < messages.len()
                && end - start < MAX_COUNT
                && bytes + messages[end].body.len() <= MAX_BYTES
            {
                bytes += messages[end].body.len();
                end += 1;
            }
            batches.push(&messages[start..end]);
            start = end;
        }
        let mut uids = Vec::with_capacity(messages.len());
        for result in self.append_batches(mailbox, &batches)? {
            match result {
                Ok(batch) => uids.extend(batch),
                Err(status) => return Ok(Err(status)),
            }
        }
        Ok(Ok(uids))
    }

    /// Sends one APPEND command per batch (all pipelined) and collects, per batch, the
    /// UIDs from `APPENDUID` or the tagged status text.
    fn append_batches(
        &mut self,
        mailbox: &str,
        batches: &[&[Message]],
    ) -> io::Result<Vec<Result<Vec<u32>, String>>> {
        let first = self.next_tag;
        self.next_tag += batches.len() as u64;
        let mailbox = quote(mailbox);
        let sink = self.writer.try_clone()?;
        let mut results: Vec<Option<Result<Vec<u32>, String>>> = vec![None; batches.len()];
        thread::scope(|scope| {
            let writer = scope.spawn(move || -> io::Result<()> {
                let mut out = BufWriter::with_capacity(256 * 1024, sink);
                for (i, batch) in batches.iter().enumerate() {
                    write!(out, "A{} APPEND {mailbox}", first + i as u64)?;
                    for m in batch.iter() {
                        if !m.flags.is_empty() {
                            write!(out, " ({})", m.flags.join(" "))?;
                        }
                        if let Some(date) = &m.internal_date {
                            write!(out, " \"{date}\"")?;
                        }
                        write!(out, " {{{}+}}\r\n", m.body.len())?;
                        out.write_all(&m.body)?;
                    }
                    out.write_all(b"\r\n")?;
                }
                out.flush()
            });
            let mut remaining = batches.len();
            let read_all = (|| -> io::Result<()> {
                while remaining > 0 {
                    let resp = self.read_response()?;
                    let Some(rest) = resp.strip_prefix(b"A") else {
                        continue;
                    };
                    let Some(space) = rest.iter().position(|&b| b == b' ') else {
                        continue;
                    };
                    let Some(n) = std::str::from_utf8(&rest[..space])
                        .ok()
                        .and_then(|t| t.parse::<u64>().ok())
                    else {
                        continue;
                    };
                    let Some(idx) = n.checked_sub(first).map(|i| i as usize) else {
                        continue;
                    };
                    if idx >= results.len() || results[idx].is_some() {
                        continue;
                    }
                    let status = String::from_utf8_lossy(&rest[space + 1..]).into_owned();
                    results[idx] = Some(match appenduids(&status) {
                        Some(uids) if uids.len() == batches[idx].len() => Ok(uids),
                        _ => Err(status),
                    });
                    remaining -= 1;
                }
                Ok(())
            })();
            if read_all.is_err() {
                // Unblock the writer if it is stuck on a dead connection.
                let _ = self.writer.shutdown(std::net::Shutdown::Both);
            }
            let written = writer.join().expect("APPEND writer thread panicked");
            read_all?;
            written
        })?;
        Ok(results
            .into_iter()
            .map(|r| r.expect("every APPEND was answered"))
            .collect())
    }

    /// Sends `LOGOUT` and waits for the answer (errors are ignored).
    pub fn logout(mut self) {
        let _ = self.command("LOGOUT");
    }

    fn tag(&mut self) -> String {
        let tag = format!("A{}", self.next_tag);
        self.next_tag += 1;
        tag
    }

    /// Sends `{n}` CRLF, waits for the continuation, then the bytes. Returns the tagged
    /// reply if the server refused the literal instead.
    fn send_sync_literal(
        &mut self,
        tag: &str,
        bytes: &[u8],
        untagged: &mut Vec<Vec<u8>>,
    ) -> io::Result<Option<Reply>> {
        self.writer
            .write_all(format!("{{{}}}\r\n", bytes.len()).as_bytes())?;
        loop {
            let resp = self.read_response()?;
            if resp.starts_with(b"+") {
                break;
            }
            if let Some(status) = tagged_status(&resp, tag) {
                return Ok(Some(Reply {
                    untagged: std::mem::take(untagged),
                    tagged: status,
                }));
            }
            untagged.push(resp);
        }
        self.writer.write_all(bytes)?;
        Ok(None)
    }

    fn finish(&mut self, tag: &str, mut untagged: Vec<Vec<u8>>) -> io::Result<Reply> {
        loop {
            let resp = self.read_response()?;
            if let Some(status) = tagged_status(&resp, tag) {
                return Ok(Reply {
                    untagged,
                    tagged: status,
                });
            }
            untagged.push(resp);
        }
    }

    /// Reads one complete response: a line, plus any literals it announces and the line
    /// segments after them. The final CRLF is removed.
    fn read_response(&mut self) -> io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        loop {
            let start = buf.len();
            let n = self.reader.read_until(b'\n', &mut buf)?;
            if n == 0 || !buf.ends_with(b"\n") {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "connection closed mid-response after {:?}",
                        String::from_utf8_lossy(&buf[..buf.len().min(200)])
                    ),
                ));
            }
            match literal_announced(&buf[start..]) {
                Some(len) => {
                    let at = buf.len();
                    buf.resize(at + len, 0);
                    self.reader.read_exact(&mut buf[at..])?;
                }
                None => {
                    buf.truncate(buf.len() - 1);
                    if buf.ends_with(b"\r") {
                        buf.truncate(buf.len() - 1);
                    }
                    return Ok(buf);
                }
            }
        }
    }
}

/// If `resp` is the tagged status for `tag`, the status text after the tag.
fn tagged_status(resp: &[u8], tag: &str) -> Option<String> {
    let rest = resp.strip_prefix(tag.as_bytes())?.strip_prefix(b" ")?;
    Some(String::from_utf8_lossy(rest).into_owned())
}

/// The length of the literal a line ends with (`{12}`, `{12+}`, `~{12}`), if any.
pub(crate) fn literal_announced(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The UIDs from `OK [APPENDUID <validity> <uid-set>] …`, in order.
fn appenduids(status: &str) -> Option<Vec<u32>> {
    let rest = status.strip_prefix("OK [APPENDUID ")?;
    let mut words = rest.split([' ', ']']);
    words.next()?;
    let mut uids = Vec::new();
    for range in words.next()?.split(',') {
        match range.split_once(':') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                uids.extend(a.min(b)..=a.max(b));
            }
            None => uids.push(range.parse().ok()?),
        }
    }
    Some(uids)
}

/// Quotes a string for IMAP (ASCII without CR/LF expected).
pub(crate) fn quote(s: &str) -> String {
    assert!(
        !s.contains(['\r', '\n']) && s.is_ascii(),
        "cannot send {s:?} as an IMAP quoted string"
    );
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A parsed IMAP data item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Atom(Vec<u8>),
    Str(Vec<u8>),
    Nil,
    List(Vec<Value>),
}

impl Value {
    fn bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Atom(b) | Value::Str(b) => Some(b),
            _ => None,
        }
    }

    fn text(&self) -> Option<String> {
        self.bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }
}

/// Parses IMAP data items from a response assembled by [`ImapSession::read_response`].
pub(crate) struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Parser<'a> {
        Parser { buf, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    pub(crate) fn value(&mut self) -> Result<Value, String> {
        self.skip_spaces();
        match self.peek() {
            None => Err("unexpected end of response".into()),
            Some(b'(') => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_spaces();
                    match self.peek() {
                        Some(b')') => {
                            self.pos += 1;
                            return Ok(Value::List(items));
                        }
                        None => return Err("unterminated list".into()),
                        _ => items.push(self.value()?),
                    }
                }
            }
            Some(b'"') => {
                self.pos += 1;
                let mut out = Vec::new();
                loop {
                    match self.peek() {
                        None => return Err("unterminated quoted string".into()),
                        Some(b'"') => {
                            self.pos += 1;
                            return Ok(Value::Str(out));
                        }
                        Some(b'\\') => {
                            let c = *self.buf.get(self.pos + 1).ok_or("dangling backslash")?;
                            out.push(c);
                            self.pos += 2;
                        }
                        Some(c) => {
                            out.push(c);
                            self.pos += 1;
                        }
                    }
                }
            }
            Some(b'{') => self.literal(),
            Some(b'~') if self.buf.get(self.pos + 1) == Some(&b'{') => {
                self.pos += 1;
                self.literal()
            }
            Some(_) => {
                let start = self.pos;
                let mut depth = 0usize;
                while let Some(c) = self.peek() {
                    match c {
                        b'[' => depth += 1,
                        b']' if depth > 0 => depth -= 1,
                        b' ' | b'(' | b')' | b'\r' | b'\n' if depth == 0 => break,
                        _ => {}
                    }
                    self.pos += 1;
                }
                let atom = &self.buf[start..self.pos];
                if atom.eq_ignore_ascii_case(b"NIL") {
                    Ok(Value::Nil)
                } else {
                    Ok(Value::Atom(atom.to_vec()))
                }
            }
        }
    }

    fn literal(&mut self) -> Result<Value, String> {
        let rest = &self.buf[self.pos..];
        let close = rest
            .iter()
            .position(|&b| b == b'}')
            .ok_or("unterminated literal size")?;
        let digits = &rest[1..close];
        let digits = digits.strip_suffix(b"+").unwrap_or(digits);
        let len: usize = std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse().ok())
            .ok_or("bad literal size")?;
        let mut at = self.pos + close + 1;
        if self.buf.get(at) == Some(&b'\r') {
            at += 1;
        }
        if self.buf.get(at) != Some(&b'\n') {
            return Err("literal size not followed by CRLF".into());
        }
        at += 1;
        let data = self
            .buf
            .get(at..at + len)
            .ok_or("literal shorter than announced")?;
        self.pos = at + len;
        Ok(Value::Str(data.to_vec()))
    }
}

/// Parses `* <seq> FETCH (…)`; returns the sequence number and the attribute pairs.
pub(crate) fn parse_fetch(resp: &[u8]) -> Option<(u32, Vec<(String, Value)>)> {
    let rest = resp.strip_prefix(b"* ")?;
    let mut p = Parser::new(rest);
    let seq: u32 = p.value().ok()?.text()?.parse().ok()?;
    if !p.value().ok()?.text()?.eq_ignore_ascii_case("FETCH") {
        return None;
    }
    let Value::List(items) = p.value().ok()? else {
        return None;
    };
    let mut pairs = Vec::new();
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        pairs.push((k.text()?.to_ascii_uppercase(), v));
    }
    Some((seq, pairs))
}

/// Turns the FETCH responses of `UID FETCH 1:* (UID FLAGS INTERNALDATE BODY.PEEK[])`
/// into [`Fetched`] messages, sorted by UID.
pub(crate) fn collect_fetched(untagged: &[Vec<u8>]) -> Vec<Fetched> {
    use std::collections::BTreeMap;
    #[derive(Default)]
    struct Partial {
        uid: Option<u32>,
        flags: Option<Vec<String>>,
        date: Option<String>,
        body: Option<Vec<u8>>,
    }
    let mut by_seq: BTreeMap<u32, Partial> = BTreeMap::new();
    for resp in untagged {
        let Some((seq, pairs)) = parse_fetch(resp) else {
            continue;
        };
        let entry = by_seq.entry(seq).or_default();
        for (key, value) in pairs {
            match key.as_str() {
                "UID" => entry.uid = value.text().and_then(|t| t.parse().ok()),
                "FLAGS" => {
                    if let Value::List(flags) = value {
                        entry.flags = Some(
                            flags
                                .iter()
                                .filter_map(Value::text)
                                .filter(|f| !f.eq_ignore_ascii_case("\\Recent"))
                                .collect(),
                        );
                    }
                }
                "INTERNALDATE" => entry.date = value.text(),
                "BODY[]" => {
                    entry.body = match value {
                        Value::Nil => Some(Vec::new()),
                        other => other.bytes().map(<[u8]>::to_vec),
                    }
                }
                _ => {}
            }
        }
    }
    let mut out: Vec<Fetched> = by_seq
        .into_values()
        .filter_map(|p| {
            Some(Fetched {
                uid: p.uid?,
                flags: p.flags.unwrap_or_default(),
                internal_date: p.date.unwrap_or_default(),
                body: p.body?,
            })
        })
        .collect();
    out.sort_by_key(|f| f.uid);
    out
}

/// Parses the mailbox names out of `* LIST (…) "<sep>" <name>` responses.
pub(crate) fn collect_list(untagged: &[Vec<u8>]) -> Vec<String> {
    untagged
        .iter()
        .filter_map(|resp| {
            let rest = resp.strip_prefix(b"* LIST ")?;
            let mut p = Parser::new(rest);
            let Value::List(_) = p.value().ok()? else {
                return None;
            };
            p.value().ok()?;
            p.value().ok()?.text()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_detection() {
        assert_eq!(literal_announced(b"* 1 FETCH (BODY[] {12}\r\n"), Some(12));
        assert_eq!(literal_announced(b"A1 APPEND x {3+}\r\n"), Some(3));
        assert_eq!(literal_announced(b"* 1 FETCH (BINARY[] ~{0}\r\n"), Some(0));
        assert_eq!(literal_announced(b"* LIST () \"/\" \"a{5}\"\r\n"), None);
        assert_eq!(literal_announced(b"* OK {x}\r\n"), None);
    }

    #[test]
    fn parses_fetch_with_binary_literal() {
        let mut resp = b"* 3 FETCH (UID 7 FLAGS (\\Seen \\Recent $Forwarded) INTERNALDATE \"01-Jan-2020 10:00:00 +0000\" BODY[] {5}\r\n".to_vec();
        resp.extend_from_slice(b")\r\n\xff\x00");
        resp.extend_from_slice(b")");
        let got = collect_fetched(&[resp]);
        assert_eq!(
            got,
            vec![Fetched {
                uid: 7,
                flags: vec!["\\Seen".into(), "$Forwarded".into()],
                internal_date: "01-Jan-2020 10:00:00 +0000".into(),
                body: b")\r\n\xff\x00".to_vec(),
            }]
        );
    }

    #[test]
    fn parses_list_names() {
        let got = collect_list(&[
            b"* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent Items\"".to_vec(),
            b"* LIST (\\HasChildren) \"/\" [Gmail]".to_vec(),
            b"* LIST () \".\" INBOX.Sent".to_vec(),
            b"* LIST () NIL {5}\r\na\"b c".to_vec(),
            b"* LIST () \"/\" \"q\\\"x\"".to_vec(),
        ]);
        assert_eq!(
            got,
            ["Sent Items", "[Gmail]", "INBOX.Sent", "a\"b c", "q\"x"]
        );
    }

    #[test]
    fn appenduids_and_quote() {
        assert_eq!(
            appenduids("OK [APPENDUID 1700000000 42] Append completed."),
            Some(vec![42])
        );
        assert_eq!(
            appenduids("OK [APPENDUID 1 3:5,9] Append completed."),
            Some(vec![3, 4, 5, 9])
        );
        assert_eq!(appenduids("NO [OVERQUOTA] Quota exceeded"), None);
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
