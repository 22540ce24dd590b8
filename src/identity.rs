//! Message identity: how MailFerry recognises one message on both servers without ever writing anything into it.
//!
//! The UID map in the state store is the first identity; this module is the
//! second, used when UIDs cannot be trusted (UIDVALIDITY changed, state lost,
//! destination pre-filled by another tool, an APPEND in doubt after a crash):
//!
//! - [`Fingerprint`]: the message's Message-ID when it has one, else a hash of
//!   its Date, From, Subject and To header values and its size. The two kinds
//!   are tagged (`mid:` / `hh:`), so they can never collide.
//! - [`Multiset`]: fingerprints are *counted*, so two genuine copies of a
//!   message in one folder stay two.
//! - [`Summary`]: the few header values the forensic log keeps for a person
//!   ("where is Bob's email from March?").
//!
//! Only the header block is read (up to the first empty line), straight from
//! the caller's bytes: a 30 MB message costs a header scan, not a copy.
//!
//! # The size
//!
//! The size in a header hash is the size **the server reports** (`RFC822.SIZE`),
//! passed in explicitly, never the length of the bytes at hand. Servers
//! normalise: Dovecot stores and serves a bare-LF message with CRLF line ends
//! (a 610-byte LF file is served and counted as 642 bytes), so the length of
//! the bytes a client fed to APPEND is not what either server reports later.
//! Both sides of a comparison take `RFC822.SIZE` from their own server; for
//! bytes that never went through a server (a local file), [`crlf_size`] gives
//! the size Dovecot would report.
//!
//! # What counts as equal
//!
//! Header values are unfolded (CR and LF removed), runs of spaces and tabs
//! become one space, and the ends are trimmed; bytes are otherwise kept raw
//! (RFC 2047 encoded-words are *not* decoded for the fingerprint). NUL bytes
//! count as 0x80, because Dovecot serves a NUL as 0x80. The first occurrence of
//! each field wins, as in the server's `HEADER.FIELDS` answer.
//!
//! Two *different* messages that share a Message-ID (a broken mailer, or the
//! CPython test corpus's `msg_01/03/14/20/29`) fingerprint equal. The
//! fingerprint is a candidate match, not proof: the engine disambiguates such
//! pairs by `RFC822.SIZE` and INTERNALDATE, and counts with [`Multiset`] so
//! that N candidates at the source and M at the destination still pair up
//! one to one.

use std::collections::hash_map::{self, HashMap};
use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The header fields a destination-side fetch must ask for to compute a
/// fingerprint and a summary: `BODY.PEEK[HEADER.FIELDS (MESSAGE-ID DATE FROM SUBJECT TO)]`.
pub const FETCH_HEADER_FIELDS: &str = "MESSAGE-ID DATE FROM SUBJECT TO";

/// Longest text kept for one [`Summary`] value, in characters; longer values are cut.
pub const SUMMARY_MAX_CHARS: usize = 998;

/// Which kind of identity a [`Fingerprint`] carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FingerprintKind {
    /// The message's own Message-ID header.
    MessageId,
    /// A SHA-256 of Date, From, Subject, To and the size.
    HeaderHash,
}

/// A message's identity across servers: its Message-ID, else a header hash.
///
/// Built only by [`Fingerprint::of_message`], [`Fingerprint::of_headers`] or
/// by parsing the storage form, so it always holds a normalised value. The
/// storage form (`Display`/`FromStr`) is `mid:<id@host>` or `hh:<64 hex digits>`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(Repr);

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Repr {
    /// Normalised Message-ID, angle brackets included, printable ASCII only
    /// (other bytes and `%` are written `%XX`).
    MessageId(Box<str>),
    /// SHA-256 of the tagged header values and the size.
    HeaderHash([u8; 32]),
}

/// Why a stored fingerprint cannot be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FingerprintError {
    /// The text has neither the `mid:` nor the `hh:` prefix.
    #[error("cannot read the fingerprint {0:?}: it starts with neither \"mid:\" nor \"hh:\"")]
    UnknownKind(String),
    /// A `mid:` value is not a normalised Message-ID.
    #[error("cannot read the fingerprint {0:?}: the Message-ID part is not in normal form")]
    BadMessageId(String),
    /// An `hh:` value is not 64 lowercase hex digits.
    #[error("cannot read the fingerprint {0:?}: the hash part is not 64 lowercase hex digits")]
    BadHash(String),
}

impl Fingerprint {
    /// The fingerprint of a whole message (`BODY.PEEK[]` bytes, or a file).
    ///
    /// `rfc822_size` is the size the server reports for this message
    /// (`RFC822.SIZE`), not `raw.len()`: see the module docs. It is used only
    /// when the message has no Message-ID.
    pub fn of_message(raw: &[u8], rfc822_size: u64) -> Fingerprint {
        Fingerprint::from_fields(&HeaderFields::parse(raw), rfc822_size)
    }

    /// The fingerprint from a header fetch only:
    /// `BODY.PEEK[HEADER.FIELDS (MESSAGE-ID DATE FROM SUBJECT TO)]` (see
    /// [`FETCH_HEADER_FIELDS`]) plus `RFC822.SIZE`.
    ///
    /// Gives the same fingerprint as [`Fingerprint::of_message`] for the same
    /// message and the same `rfc822_size`, whatever line ends the server used.
    pub fn of_headers(header_bytes: &[u8], rfc822_size: u64) -> Fingerprint {
        Fingerprint::from_fields(&HeaderFields::parse(header_bytes), rfc822_size)
    }

    fn from_fields(fields: &HeaderFields, rfc822_size: u64) -> Fingerprint {
        if let Some(id) = fields.message_id.as_deref().and_then(normalise_message_id) {
            return Fingerprint(Repr::MessageId(id.into_boxed_str()));
        }
        let mut hash = Sha256::new();
        hash.update(b"mailferry header hash v1\n");
        for (name, value) in [
            (&b"date"[..], &fields.date),
            (b"from", &fields.from),
            (b"subject", &fields.subject),
            (b"to", &fields.to),
        ] {
            hash.update(name);
            match value {
                // Length-prefixed, so no value can imitate a field boundary.
                Some(v) => {
                    hash.update([1u8]);
                    hash.update((v.len() as u64).to_be_bytes());
                    hash.update(v);
                }
                None => hash.update([0u8]),
            }
        }
        hash.update(b"size");
        hash.update(rfc822_size.to_be_bytes());
        Fingerprint(Repr::HeaderHash(hash.finalize().into()))
    }

    /// Which kind of identity this is.
    pub fn kind(&self) -> FingerprintKind {
        match self.0 {
            Repr::MessageId(_) => FingerprintKind::MessageId,
            Repr::HeaderHash(_) => FingerprintKind::HeaderHash,
        }
    }

    /// The normalised Message-ID (`<id@host>`), when this fingerprint is one.
    ///
    /// Bytes outside printable ASCII, and `%`, appear as `%XX`; for the
    /// ordinary ASCII Message-IDs this is the header value itself, usable in
    /// `SEARCH HEADER Message-ID`.
    pub fn message_id(&self) -> Option<&str> {
        match &self.0 {
            Repr::MessageId(id) => Some(id),
            Repr::HeaderHash(_) => None,
        }
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::MessageId(id) => write!(f, "mid:{id}"),
            Repr::HeaderHash(h) => {
                f.write_str("hh:")?;
                for b in h {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl FromStr for Fingerprint {
    type Err = FingerprintError;

    fn from_str(s: &str) -> Result<Fingerprint, FingerprintError> {
        if let Some(id) = s.strip_prefix("mid:") {
            if is_normal_message_id(id) {
                Ok(Fingerprint(Repr::MessageId(id.into())))
            } else {
                Err(FingerprintError::BadMessageId(s.to_owned()))
            }
        } else if let Some(hex) = s.strip_prefix("hh:") {
            let bad = || FingerprintError::BadHash(s.to_owned());
            let bytes = hex.as_bytes();
            if bytes.len() != 64 {
                return Err(bad());
            }
            let mut out = [0u8; 32];
            for (i, pair) in bytes.chunks(2).enumerate() {
                let hi = lower_hex_value(pair[0]).ok_or_else(bad)?;
                let lo = lower_hex_value(pair[1]).ok_or_else(bad)?;
                out[i] = hi << 4 | lo;
            }
            Ok(Fingerprint(Repr::HeaderHash(out)))
        } else {
            Err(FingerprintError::UnknownKind(s.to_owned()))
        }
    }
}

fn lower_hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// The size Dovecot reports (`RFC822.SIZE`) for these bytes once stored:
/// every bare LF counts as CRLF.
///
/// For bytes that never went through a server, such as a local file about to
/// be compared with a Dovecot destination. A CRLF message's size is its length.
pub fn crlf_size(raw: &[u8]) -> u64 {
    let mut size = raw.len() as u64;
    let mut prev = 0u8;
    for &b in raw {
        if b == b'\n' && prev != b'\r' {
            size += 1;
        }
        prev = b;
    }
    size
}

/// Whether `id` is a possible output of [`normalise_message_id`].
fn is_normal_message_id(id: &str) -> bool {
    let Some(inner) = id.strip_prefix('<').and_then(|r| r.strip_suffix('>')) else {
        return false;
    };
    let b = inner.as_bytes();
    if b.is_empty() || b.contains(&b'>') {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex_ok = |c: Option<&u8>| {
                    c.is_some_and(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c))
                };
                if !(hex_ok(b.get(i + 1)) && hex_ok(b.get(i + 2))) {
                    return false;
                }
                i += 3;
            }
            0x21..=0x7e => i += 1,
            _ => return false,
        }
    }
    true
}

/// Normalises a raw Message-ID value: the first `<…>` (or, without brackets,
/// the first word, bracketed), with whitespace removed and bytes outside
/// printable ASCII written `%XX`. `None` for an empty value.
fn normalise_message_id(value: &[u8]) -> Option<String> {
    let trimmed: &[u8] = value.trim_ascii();
    let inner: &[u8] = if let Some(open) = trimmed.iter().position(|&b| b == b'<') {
        let rest = &trimmed[open + 1..];
        match rest.iter().position(|&b| b == b'>') {
            Some(close) => &rest[..close],
            None => rest,
        }
    } else {
        let end = trimmed
            .iter()
            .position(|b| b.is_ascii_whitespace())
            .unwrap_or(trimmed.len());
        &trimmed[..end]
    };
    let mut out = String::with_capacity(inner.len() + 2);
    out.push('<');
    for &b in inner {
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => {}
            b'%' => out.push_str("%25"),
            b'>' => out.push_str("%3E"),
            0x21..=0x7e => out.push(b as char),
            // NUL counts as 0x80, as Dovecot serves it.
            0 => out.push_str("%80"),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    if out.len() == 1 {
        return None;
    }
    out.push('>');
    Some(out)
}

/// The first occurrence of each identity field, unfolded and normalised.
#[derive(Debug, Default)]
struct HeaderFields {
    message_id: Option<Vec<u8>>,
    date: Option<Vec<u8>>,
    from: Option<Vec<u8>>,
    subject: Option<Vec<u8>>,
    to: Option<Vec<u8>>,
}

#[derive(Clone, Copy)]
enum Field {
    MessageId,
    Date,
    From,
    Subject,
    To,
}

impl HeaderFields {
    /// Reads the header block of `raw` (up to the first empty line, whatever
    /// the line ends) and keeps the first occurrence of each field.
    fn parse(raw: &[u8]) -> HeaderFields {
        let mut fields = HeaderFields::default();
        // The field being collected (with its value so far), if any.
        let mut current: Option<(Field, Vec<u8>)> = None;
        for line in header_lines(raw) {
            if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
                // Continuation: unfolding removes the line break, keeps the blank.
                if let Some((_, value)) = current.as_mut() {
                    value.extend_from_slice(line);
                }
                continue;
            }
            if let Some((field, value)) = current.take() {
                fields.store(field, value);
            }
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                // Not a header line (an mbox "From " line, junk): ignored.
                continue;
            };
            let name = line[..colon].trim_ascii();
            let field = if name.eq_ignore_ascii_case(b"message-id") {
                Field::MessageId
            } else if name.eq_ignore_ascii_case(b"date") {
                Field::Date
            } else if name.eq_ignore_ascii_case(b"from") {
                Field::From
            } else if name.eq_ignore_ascii_case(b"subject") {
                Field::Subject
            } else if name.eq_ignore_ascii_case(b"to") {
                Field::To
            } else {
                continue;
            };
            if fields.slot(field).is_none() {
                current = Some((field, line[colon + 1..].to_vec()));
            }
        }
        if let Some((field, value)) = current.take() {
            fields.store(field, value);
        }
        fields
    }

    fn slot(&mut self, field: Field) -> &mut Option<Vec<u8>> {
        match field {
            Field::MessageId => &mut self.message_id,
            Field::Date => &mut self.date,
            Field::From => &mut self.from,
            Field::Subject => &mut self.subject,
            Field::To => &mut self.to,
        }
    }

    fn store(&mut self, field: Field, value: Vec<u8>) {
        let slot = self.slot(field);
        if slot.is_none() {
            *slot = Some(normalise_value(&value));
        }
    }
}

/// The lines of the header block, without their line ends; stops at the
/// first empty line (CRLF CRLF, LF LF, or a mix) or at the end of the bytes.
fn header_lines(raw: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = raw;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (line, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(lf) => (&rest[..lf], &rest[lf + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            rest = &rest[rest.len()..];
            return None;
        }
        rest = next;
        Some(line)
    })
}

/// Unfolded value: CR/LF dropped, NUL read as 0x80, blank runs collapsed to
/// one space, ends trimmed.
fn normalise_value(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut pending_blank = false;
    for &b in value {
        match b {
            b'\r' | b'\n' => {}
            b' ' | b'\t' => pending_blank = true,
            _ => {
                if pending_blank && !out.is_empty() {
                    out.push(b' ');
                }
                pending_blank = false;
                out.push(if b == 0 { 0x80 } else { b });
            }
        }
    }
    out
}

/// The header values the forensic log keeps for one message.
///
/// From and Subject have their RFC 2047 encoded-words decoded when the
/// charset is UTF-8, US-ASCII or ISO-8859-1; other charsets, and words that do
/// not decode, are kept as written. 8-bit bytes that are not UTF-8 are shown
/// with U+FFFD. Date is kept as written (unfolded). Each value is cut to
/// [`SUMMARY_MAX_CHARS`] characters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// The normalised Message-ID (`<id@host>`), if the message has one.
    pub message_id: Option<String>,
    /// The From header, decoded for reading.
    pub from: Option<String>,
    /// The Subject header, decoded for reading.
    pub subject: Option<String>,
    /// The Date header as written.
    pub date: Option<String>,
}

impl Summary {
    /// The summary of a whole message (only its header block is read).
    pub fn of_message(raw: &[u8]) -> Summary {
        Summary::from_fields(&HeaderFields::parse(raw))
    }

    /// The summary from a header fetch ([`FETCH_HEADER_FIELDS`]); equal to
    /// [`Summary::of_message`] for the same message.
    pub fn of_headers(header_bytes: &[u8]) -> Summary {
        Summary::from_fields(&HeaderFields::parse(header_bytes))
    }

    fn from_fields(fields: &HeaderFields) -> Summary {
        Summary {
            message_id: fields.message_id.as_deref().and_then(normalise_message_id),
            from: fields.from.as_deref().map(|v| cut(decode_rfc2047(v))),
            subject: fields.subject.as_deref().map(|v| cut(decode_rfc2047(v))),
            date: fields
                .date
                .as_deref()
                .map(|v| cut(String::from_utf8_lossy(v).into_owned())),
        }
    }
}

/// Fingerprint and summary in one pass over the header block.
///
/// `bytes` is a whole message or a [`FETCH_HEADER_FIELDS`] answer;
/// `rfc822_size` as for [`Fingerprint::of_message`].
pub fn identify(bytes: &[u8], rfc822_size: u64) -> (Fingerprint, Summary) {
    let fields = HeaderFields::parse(bytes);
    (
        Fingerprint::from_fields(&fields, rfc822_size),
        Summary::from_fields(&fields),
    )
}

fn cut(mut s: String) -> String {
    if let Some((i, _)) = s.char_indices().nth(SUMMARY_MAX_CHARS) {
        s.truncate(i);
    }
    s
}

/// Decodes RFC 2047 encoded-words in the cheap charsets; everything else is
/// kept as written. Blanks between two adjacent encoded-words are dropped.
fn decode_rfc2047(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    let mut out = String::with_capacity(text.len());
    let mut rest: &str = &text;
    // Blank text seen after a decoded word, held back in case another word follows.
    let mut held_blank: Option<&str> = None;
    while let Some(start) = rest.find("=?") {
        let before = &rest[..start];
        let after = &rest[start..];
        match parse_encoded_word(after) {
            Some((decoded, len)) => {
                match held_blank.take() {
                    // Only blanks between two encoded-words: dropped.
                    Some(_) if before.is_empty() => {}
                    Some(blank) => {
                        out.push_str(blank);
                        out.push_str(before);
                    }
                    None => out.push_str(before),
                }
                out.push_str(&decoded);
                rest = &after[len..];
                let blank_len = rest.len() - rest.trim_start_matches([' ', '\t']).len();
                held_blank = Some(&rest[..blank_len]);
                rest = &rest[blank_len..];
            }
            None => {
                if let Some(blank) = held_blank.take() {
                    out.push_str(blank);
                }
                out.push_str(before);
                out.push_str("=?");
                rest = &after[2..];
            }
        }
    }
    if let Some(b) = held_blank.take() {
        out.push_str(b);
    }
    out.push_str(rest);
    out
}

/// Parses one `=?charset?enc?text?=` at the start of `s`; returns the decoded
/// text and the length consumed, or `None` to keep it as written.
fn parse_encoded_word(s: &str) -> Option<(String, usize)> {
    let body = s.strip_prefix("=?")?;
    let q1 = body.find('?')?;
    let charset = body[..q1].split('*').next()?.to_ascii_lowercase();
    let enc = body.get(q1 + 1..q1 + 2)?;
    if body.get(q1 + 2..q1 + 3)? != "?" {
        return None;
    }
    let payload_start = q1 + 3;
    let payload_len = body[payload_start..].find("?=")?;
    let payload = &body[payload_start..payload_start + payload_len];
    if payload.contains([' ', '\t']) {
        return None;
    }
    let bytes = match enc {
        "B" | "b" => base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
        )
        .decode(payload)
        .ok()?,
        "Q" | "q" => decode_q(payload)?,
        _ => return None,
    };
    let text = match charset.as_str() {
        "utf-8" | "utf8" | "us-ascii" => String::from_utf8(bytes).ok()?,
        "iso-8859-1" | "latin1" | "iso_8859-1" => bytes.iter().map(|&b| b as char).collect(),
        _ => return None,
    };
    Some((text, 2 + payload_start + payload_len + 2))
}

fn decode_q(payload: &str) -> Option<Vec<u8>> {
    let b = payload.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'_' => out.push(b' '),
            b'=' => {
                let hex = payload.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Some(out)
}

/// Fingerprints counted with multiplicity: two genuine copies stay two.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Multiset {
    counts: HashMap<Fingerprint, usize>,
    total: usize,
}

/// How a source folder's fingerprints pair with a destination's (see [`Multiset::matching`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matching {
    /// Messages present on both sides (the smaller count of each fingerprint).
    pub already_there: Multiset,
    /// Messages still to copy: source count minus destination count, never below zero.
    pub to_copy: Multiset,
    /// Messages only at the destination: destination count minus source count.
    pub only_at_destination: Multiset,
}

impl Multiset {
    /// An empty multiset.
    pub fn new() -> Multiset {
        Multiset::default()
    }

    /// Adds one occurrence.
    pub fn insert(&mut self, fingerprint: Fingerprint) {
        self.add(fingerprint, 1);
    }

    fn add(&mut self, fingerprint: Fingerprint, n: usize) {
        if n > 0 {
            *self.counts.entry(fingerprint).or_insert(0) += n;
            self.total += n;
        }
    }

    /// Removes one occurrence; `false` if there was none.
    ///
    /// The engine's per-message pairing: build the destination's multiset,
    /// then for each source message in UID order, `take` succeeds for a
    /// message already there and fails for one to copy.
    pub fn take(&mut self, fingerprint: &Fingerprint) -> bool {
        match self.counts.entry(fingerprint.clone()) {
            hash_map::Entry::Occupied(mut e) => {
                *e.get_mut() -= 1;
                if *e.get() == 0 {
                    e.remove();
                }
                self.total -= 1;
                true
            }
            hash_map::Entry::Vacant(_) => false,
        }
    }

    /// How many occurrences of `fingerprint`.
    pub fn count(&self, fingerprint: &Fingerprint) -> usize {
        self.counts.get(fingerprint).copied().unwrap_or(0)
    }

    /// Total occurrences (with multiplicity).
    pub fn len(&self) -> usize {
        self.total
    }

    /// Whether there is no occurrence at all.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Number of distinct fingerprints.
    pub fn distinct(&self) -> usize {
        self.counts.len()
    }

    /// Each distinct fingerprint with its count, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&Fingerprint, usize)> {
        self.counts.iter().map(|(f, &n)| (f, n))
    }

    /// `self − other`: each count reduced by the other's, floored at zero.
    pub fn difference(&self, other: &Multiset) -> Multiset {
        let mut out = Multiset::new();
        for (f, n) in self.iter() {
            out.add(f.clone(), n.saturating_sub(other.count(f)));
        }
        out
    }

    /// The smaller count of each fingerprint present in both.
    pub fn intersection(&self, other: &Multiset) -> Multiset {
        let mut out = Multiset::new();
        for (f, n) in self.iter() {
            out.add(f.clone(), n.min(other.count(f)));
        }
        out
    }

    /// Pairs a source folder with a destination folder: two copies at the
    /// source and one at the destination leave exactly one to copy.
    pub fn matching(source: &Multiset, dest: &Multiset) -> Matching {
        Matching {
            already_there: source.intersection(dest),
            to_copy: source.difference(dest),
            only_at_destination: dest.difference(source),
        }
    }
}

impl FromIterator<Fingerprint> for Multiset {
    fn from_iter<I: IntoIterator<Item = Fingerprint>>(iter: I) -> Multiset {
        let mut m = Multiset::new();
        m.extend(iter);
        m
    }
}

impl Extend<Fingerprint> for Multiset {
    fn extend<I: IntoIterator<Item = Fingerprint>>(&mut self, iter: I) {
        for f in iter {
            self.insert(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fp(raw: &[u8]) -> Fingerprint {
        Fingerprint::of_message(raw, crlf_size(raw))
    }

    /// What a server such as Dovecot answers to
    /// `BODY.PEEK[HEADER.FIELDS (MESSAGE-ID DATE FROM SUBJECT TO)]`, written
    /// independently of the parser under test: the message with CRLF line
    /// ends and NUL served as 0x80, only the requested fields (with their
    /// continuation lines) in message order, and a closing empty line.
    fn server_header_fields(raw: &[u8]) -> Vec<u8> {
        let mut crlf = Vec::with_capacity(raw.len() + raw.len() / 20);
        let mut prev = 0u8;
        for &b in raw {
            if b == b'\n' && prev != b'\r' {
                crlf.push(b'\r');
            }
            crlf.push(if b == 0 { 0x80 } else { b });
            prev = b;
        }
        let header_end = crlf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| p + 2)
            .unwrap_or(crlf.len());
        let header = &crlf[..header_end];
        let wanted = ["message-id", "date", "from", "subject", "to"];
        let mut out = Vec::new();
        let mut keeping = false;
        for line in header.split_inclusive(|&b| b == b'\n') {
            if line.starts_with(b" ") || line.starts_with(b"\t") {
                if keeping {
                    out.extend_from_slice(line);
                }
                continue;
            }
            keeping = match line.iter().position(|&b| b == b':') {
                Some(colon) => {
                    let name = String::from_utf8_lossy(line[..colon].trim_ascii()).to_lowercase();
                    wanted.contains(&name.as_str())
                }
                None => false,
            };
            if keeping {
                out.extend_from_slice(line);
                if !line.ends_with(b"\n") {
                    out.extend_from_slice(b"\r\n");
                }
            }
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    fn assert_same_both_ways(raw: &[u8]) -> Fingerprint {
        let size = crlf_size(raw);
        let whole = Fingerprint::of_message(raw, size);
        let fetched = Fingerprint::of_headers(&server_header_fields(raw), size);
        assert_eq!(
            whole, fetched,
            "the header fetch must give the same identity as the whole message"
        );
        assert_eq!(
            Summary::of_message(raw),
            Summary::of_headers(&server_header_fields(raw))
        );
        whole
    }

    #[test]
    fn message_id_is_used_when_present() {
        let f = fp(b"From: a@b\r\nMessage-ID: <abc@example.com>\r\nSubject: x\r\n\r\nbody\r\n");
        assert_eq!(f.kind(), FingerprintKind::MessageId);
        assert_eq!(f.message_id(), Some("<abc@example.com>"));
        assert_eq!(f.to_string(), "mid:<abc@example.com>");
    }

    #[test]
    fn message_id_header_name_is_case_insensitive_and_value_normalised() {
        let want = Some("<abc@example.com>");
        for raw in [
            &b"message-id: <abc@example.com>\n\n"[..],
            b"MESSAGE-ID:<abc@example.com>\n\n",
            b"Message-Id:   <abc@example.com>   \n\n",
            b"Message-ID:\n <abc@example.com>\n\n",
            b"Message-ID: <abc@\r\n example.com>\r\n\r\n",
            b"Message-ID: abc@example.com\n\n",
            b"Message-ID: <abc@example.com> (a comment)\n\n",
            b"Message-ID : <abc@example.com>\n\n",
        ] {
            assert_eq!(
                fp(raw).message_id(),
                want,
                "for {:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn first_message_id_wins() {
        let f = fp(b"Message-ID: <first@x>\nMessage-ID: <second@x>\n\n");
        assert_eq!(f.message_id(), Some("<first@x>"));
    }

    #[test]
    fn message_id_in_the_body_is_not_read() {
        let f = fp(b"From: a@b\n\nMessage-ID: <body@x>\n");
        assert_eq!(f.kind(), FingerprintKind::HeaderHash);
    }

    #[test]
    fn empty_message_id_falls_back_to_the_header_hash() {
        let with_empty = fp(b"Message-ID:   \nFrom: a@b\n\n");
        assert_eq!(with_empty.kind(), FingerprintKind::HeaderHash);
        assert_eq!(
            fp(b"Message-ID: <>\nFrom: a@b\n\n").kind(),
            FingerprintKind::HeaderHash
        );
    }

    #[test]
    fn without_message_id_the_hash_covers_each_field_and_the_size() {
        let base =
            b"Date: Mon, 4 Mar 2024 10:00:00 +0100\nFrom: bob@x\nSubject: hi\nTo: amy@y\n\nbody\n";
        let f = Fingerprint::of_message(base, 100);
        assert_eq!(f.kind(), FingerprintKind::HeaderHash);
        assert!(f.to_string().starts_with("hh:"));
        assert_eq!(f.to_string().len(), 3 + 64);
        assert_eq!(f, Fingerprint::of_message(base, 100), "the hash is stable");
        assert_ne!(
            f,
            Fingerprint::of_message(base, 101),
            "the size is part of the hash"
        );
        for changed in [
            &b"Date: Mon, 4 Mar 2024 10:00:01 +0100\nFrom: bob@x\nSubject: hi\nTo: amy@y\n\n"[..],
            b"Date: Mon, 4 Mar 2024 10:00:00 +0100\nFrom: bob@z\nSubject: hi\nTo: amy@y\n\n",
            b"Date: Mon, 4 Mar 2024 10:00:00 +0100\nFrom: bob@x\nSubject: ho\nTo: amy@y\n\n",
            b"Date: Mon, 4 Mar 2024 10:00:00 +0100\nFrom: bob@x\nSubject: hi\nTo: amy@z\n\n",
            b"Date: Mon, 4 Mar 2024 10:00:00 +0100\nFrom: bob@x\nSubject: hi\n\n",
        ] {
            assert_ne!(f, Fingerprint::of_message(changed, 100));
        }
        // The body is not part of the identity.
        let other_body =
            b"Date: Mon, 4 Mar 2024 10:00:00 +0100\nFrom: bob@x\nSubject: hi\nTo: amy@y\n\nother\n";
        assert_eq!(f, Fingerprint::of_message(other_body, 100));
    }

    #[test]
    fn an_absent_field_differs_from_an_empty_one() {
        let absent = Fingerprint::of_message(b"From: a@b\n\n", 10);
        let empty = Fingerprint::of_message(b"From: a@b\nSubject:\n\n", 10);
        assert_ne!(absent, empty);
    }

    #[test]
    fn duplicate_message_id_on_different_messages_fingerprints_equal() {
        // Documented: the engine then tells them apart by size and INTERNALDATE.
        let a = fp(b"Message-ID: <same@x>\nSubject: one\n\nfirst body\n");
        let b = fp(b"Message-ID: <same@x>\nSubject: two\n\nsecond, longer body\n");
        assert_eq!(a, b);
    }

    #[test]
    fn folded_and_unfolded_headers_are_equal() {
        let folded = Fingerprint::of_message(
            b"Subject: a long\r\n\tsubject line\r\nFrom: x@y\r\n\r\n",
            50,
        );
        let unfolded =
            Fingerprint::of_message(b"Subject: a long subject line\r\nFrom: x@y\r\n\r\n", 50);
        assert_eq!(folded, unfolded);
        assert_same_both_ways(
            b"Subject: a long\n\tsubject line\nTo: a@b,\n  c@d\nX-Other: 1\n  2\n\nbody\n",
        );
    }

    #[test]
    fn bare_lf_and_crlf_give_the_same_fingerprint_for_the_same_reported_size() {
        let lf = b"Date: Tue, 1 Jan 2019 00:00:00 +0000\nFrom: a@b\nSubject: s\n\nbody\n";
        let crlf =
            b"Date: Tue, 1 Jan 2019 00:00:00 +0000\r\nFrom: a@b\r\nSubject: s\r\n\r\nbody\r\n";
        assert_eq!(
            crlf_size(lf),
            crlf.len() as u64,
            "Dovecot counts a bare LF as CRLF"
        );
        assert_eq!(fp(lf), fp(crlf));
        assert_same_both_ways(lf);
    }

    #[test]
    fn eight_bit_headers_are_hashed_raw() {
        let latin1 = b"From: J\xfcrgen <j@x>\nSubject: Gr\xfc\xdfe\n\nbody\n";
        let f = assert_same_both_ways(latin1);
        assert_eq!(f.kind(), FingerprintKind::HeaderHash);
        let utf8 = "From: Jürgen <j@x>\nSubject: Grüße\n\nbody\n";
        assert_ne!(
            f,
            fp(utf8.as_bytes()),
            "different bytes are different identities"
        );
        let s = Summary::of_message(latin1);
        assert_eq!(s.subject.as_deref(), Some("Gr\u{fffd}\u{fffd}e"));
    }

    #[test]
    fn nul_counts_as_0x80_like_dovecot_serves_it() {
        let with_nul = b"Subject: a\0b\nFrom: x@y\n\nbody\0\n";
        let as_served = b"Subject: a\x80b\nFrom: x@y\n\nbody\x80\n";
        assert_eq!(fp(with_nul), fp(as_served));
        assert_same_both_ways(with_nul);
        let mid = fp(b"Message-ID: <a\0b@x>\n\n");
        assert_eq!(mid.message_id(), Some("<a%80b@x>"));
    }

    #[test]
    fn zero_byte_message() {
        let f = assert_same_both_ways(b"");
        assert_eq!(f.kind(), FingerprintKind::HeaderHash);
        assert_eq!(f, Fingerprint::of_headers(b"\r\n", 0));
        assert_eq!(Summary::of_message(b""), Summary::default());
    }

    #[test]
    fn header_only_message_without_blank_line() {
        let no_body = b"From: a@b\nSubject: only headers";
        let with_body = b"From: a@b\nSubject: only headers\n\nbody";
        assert_eq!(
            Fingerprint::of_message(no_body, 9),
            Fingerprint::of_message(with_body, 9)
        );
        assert_same_both_ways(no_body);
        assert_same_both_ways(b"From: a@b\r\nSubject: s\r\n\r\n");
    }

    #[test]
    fn huge_message_is_read_only_to_the_end_of_its_header() {
        let mut raw = b"From: a@b\r\nSubject: big\r\nMessage-ID: <big@x>\r\n\r\n".to_vec();
        raw.resize(30 * 1024 * 1024, b'A');
        let f = Fingerprint::of_message(&raw, raw.len() as u64);
        assert_eq!(f.message_id(), Some("<big@x>"));
        assert_eq!(
            f,
            Fingerprint::of_headers(
                b"From: a@b\r\nSubject: big\r\nMessage-ID: <big@x>\r\n\r\n",
                raw.len() as u64
            )
        );
    }

    #[test]
    fn storage_form_round_trips_and_rejects_junk() {
        for f in [
            fp(b"Message-ID: <a%b>c@x>\n\n"),
            fp(b"Message-ID: <caf\xc3\xa9@x>\n\n"),
            fp(b"Message-ID: plain>word@x\n\n"),
            fp(b"From: a@b\n\n"),
            fp(b""),
        ] {
            let text = f.to_string();
            assert_eq!(text.parse::<Fingerprint>().as_ref(), Ok(&f), "{text}");
        }
        assert_eq!(
            fp(b"Message-ID: <caf\xc3\xa9@x>\n\n").message_id(),
            Some("<caf%C3%A9@x>")
        );
        for bad in [
            "",
            "x:1",
            "mid:",
            "mid:<>",
            "mid:abc",
            "mid:<a b>",
            "mid:<a%zz>",
            "hh:00",
            "hh:ZZ",
        ] {
            assert!(
                bad.parse::<Fingerprint>().is_err(),
                "{bad:?} must not parse"
            );
        }
        let upper = format!("hh:{}", "AB".repeat(32));
        assert!(
            upper.parse::<Fingerprint>().is_err(),
            "only the lowercase form is canonical"
        );
    }

    #[test]
    fn the_two_kinds_never_collide() {
        let hash = fp(b"From: a@b\n\n");
        let hex = hash.to_string()["hh:".len()..].to_owned();
        let mid = fp(format!("Message-ID: <{hex}>\n\n").as_bytes());
        assert_ne!(hash, mid);
        assert_ne!(hash.to_string(), mid.to_string());
    }

    #[test]
    fn multiset_keeps_genuine_copies() {
        let a = fp(b"Message-ID: <a@x>\n\n");
        let b = fp(b"Message-ID: <b@x>\n\n");
        let source: Multiset = [a.clone(), a.clone(), b.clone()].into_iter().collect();
        let dest: Multiset = [a.clone()].into_iter().collect();
        let m = Multiset::matching(&source, &dest);
        assert_eq!(
            m.to_copy.count(&a),
            1,
            "two at the source, one there: one more to copy"
        );
        assert_eq!(m.to_copy.count(&b), 1);
        assert_eq!(m.to_copy.len(), 2);
        assert_eq!(m.already_there.count(&a), 1);
        assert!(m.only_at_destination.is_empty());

        let extra: Multiset = [a.clone(), a.clone(), a.clone()].into_iter().collect();
        let m = Multiset::matching(&source, &extra);
        assert_eq!(m.only_at_destination.count(&a), 1);
        assert_eq!(m.to_copy.count(&a), 0);

        let mut claim = dest.clone();
        assert!(
            claim.take(&a),
            "the first copy pairs with the one at the destination"
        );
        assert!(!claim.take(&a), "the second copy has nothing to pair with");
        assert!(claim.is_empty());
        assert_eq!(source.distinct(), 2);
    }

    #[test]
    fn summary_decodes_cheap_encoded_words() {
        let raw = b"From: =?UTF-8?Q?Bj=C3=B6rn?= <b@x>\nSubject: =?utf-8?B?R3LDvMOfZQ==?= =?ISO-8859-1?Q?_und_Tsch=FC?= ss\nDate: Tue, 12 Mar 2024\n  10:00:00 +0100\nMessage-ID: <m@x>\n\n";
        let s = Summary::of_message(raw);
        assert_eq!(s.from.as_deref(), Some("Björn <b@x>"));
        assert_eq!(s.subject.as_deref(), Some("Grüße und Tschü ss"));
        assert_eq!(s.date.as_deref(), Some("Tue, 12 Mar 2024 10:00:00 +0100"));
        assert_eq!(s.message_id.as_deref(), Some("<m@x>"));
        let kept = Summary::of_message(b"Subject: =?koi8-r?B?8NLJ18XU?= and =?bad\n\n");
        assert_eq!(
            kept.subject.as_deref(),
            Some("=?koi8-r?B?8NLJ18XU?= and =?bad")
        );
        let long = format!("Subject: {}\n\n", "x".repeat(5000));
        assert_eq!(
            Summary::of_message(long.as_bytes())
                .subject
                .map(|s| s.len()),
            Some(SUMMARY_MAX_CHARS)
        );
    }

    #[test]
    fn identify_matches_the_separate_calls() {
        let raw = b"From: a@b\nSubject: s\n\nbody\n";
        let (f, s) = identify(raw, 42);
        assert_eq!(f, Fingerprint::of_message(raw, 42));
        assert_eq!(s, Summary::of_message(raw));
    }

    /// Splits an mbox file into its messages, without their "From " lines.
    fn mbox_messages(bytes: &[u8]) -> Vec<&[u8]> {
        let mut starts = Vec::new();
        let mut pos = 0;
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            if line.starts_with(b"From ") {
                starts.push((pos, pos + line.len()));
            }
            pos += line.len();
        }
        let mut out = Vec::new();
        for (i, &(_, body_start)) in starts.iter().enumerate() {
            let end = starts.get(i + 1).map_or(bytes.len(), |&(s, _)| s);
            out.push(&bytes[body_start..end]);
        }
        out
    }

    #[test]
    fn corpus_fingerprints_agree_with_header_fetches() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
        let Ok(dirs) = std::fs::read_dir(&root) else {
            return; // No corpus on this machine.
        };
        let mut files = Vec::new();
        for dir in dirs.flatten() {
            if let Ok(entries) = std::fs::read_dir(dir.path()) {
                files.extend(entries.flatten().map(|e| e.path()));
            }
        }
        let mut checked = 0;
        for path in files {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let is_message = name.ends_with(".eml")
                || name.ends_with(".mbox")
                || (name.starts_with("msg_") && name.ends_with(".txt"));
            if !is_message {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let messages = if name.ends_with(".mbox") {
                mbox_messages(&bytes)
            } else {
                vec![&bytes[..]]
            };
            for raw in messages {
                let size = crlf_size(raw);
                let whole = Fingerprint::of_message(raw, size);
                let fetched = Fingerprint::of_headers(&server_header_fields(raw), size);
                assert_eq!(whole, fetched, "{name}: whole message vs header fetch");
                assert_eq!(
                    whole.to_string().parse::<Fingerprint>().as_ref(),
                    Ok(&whole),
                    "{name}"
                );
                checked += 1;
            }
        }
        assert!(
            checked > 100,
            "the corpus holds well over 100 messages, checked {checked}"
        );
    }

    proptest! {
        #[test]
        fn any_header_bytes_agree_across_line_ends_and_fetch(
            lines in proptest::collection::vec(
                prop_oneof![
                    "(Message-ID|message-id|Date|From|Subject|TO|X-Junk): [ -~\\t]{0,20}",
                    "[ \\t][ -~]{0,10}",
                    "[A-Za-z]{1,5}",
                ],
                0..8,
            ),
            body in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let mut lf = lines.join("\n").into_bytes();
            lf.extend_from_slice(b"\n\n");
            lf.extend_from_slice(&body);
            let crlf = lines.join("\r\n").into_bytes();
            let mut crlf = crlf;
            crlf.extend_from_slice(b"\r\n\r\n");
            crlf.extend_from_slice(&body);
            let f = assert_same_both_ways(&lf);
            prop_assert_eq!(&f, &Fingerprint::of_message(&crlf, crlf_size(&lf)));
            prop_assert_eq!(f.to_string().parse::<Fingerprint>().ok(), Some(f.clone()));
        }
    }
}
