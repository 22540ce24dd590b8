//! The mbox format: a `From ` line before each message, and mboxrd quoting
//! so that a line of the message that starts with `From ` (after any number
//! of `>`) cannot be read as the start of the next one.
//!
//! Writing always uses mboxrd (every `>*From ` line gains one `>`), which
//! reading undoes exactly. Reading an mboxo file (only `From ` was quoted,
//! as `>From `) undoes that one level; a `>From ` line that was in the
//! original message cannot be told apart there, which is mboxo's flaw.

/// Which quoting an mbox file uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quoting {
    /// `>*From ` lines were given one more `>` (lossless).
    Mboxrd,
    /// Only `From ` lines were quoted, as `>From `.
    Mboxo,
}

/// The `From ` line that opens a message: the envelope sender is unknown
/// to IMAP, so it is `MAILER-DAEMON`, as most tools write it; the time is
/// `unix` seconds in UTC, in asctime form.
pub fn from_line(unix: i64) -> Vec<u8> {
    let when = chrono::DateTime::from_timestamp(unix, 0)
        .unwrap_or_default()
        .format("%a %b %e %H:%M:%S %Y");
    format!("From MAILER-DAEMON {when}\n").into_bytes()
}

/// Whether `line` (without its line end) is `>*From `.
fn is_from_line(line: &[u8]) -> bool {
    let rest = &line[line.iter().take_while(|&&b| b == b'>').count()..];
    rest.starts_with(b"From ")
}

/// The message with every `>*From ` line given one more `>` (mboxrd).
pub fn quote(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 16);
    for line in message.split_inclusive(|&b| b == b'\n') {
        if is_from_line(line) {
            out.push(b'>');
        }
        out.extend_from_slice(line);
    }
    out
}

/// The message as it was before [`quote`] (mboxrd) or before mboxo's quoting.
pub fn unquote(quoted: &[u8], quoting: Quoting) -> Vec<u8> {
    let mut out = Vec::with_capacity(quoted.len());
    for line in quoted.split_inclusive(|&b| b == b'\n') {
        let drop = match quoting {
            Quoting::Mboxrd => line.starts_with(b">") && is_from_line(line),
            Quoting::Mboxo => line.starts_with(b">From "),
        };
        out.extend_from_slice(if drop { &line[1..] } else { line });
    }
    out
}

/// One message's entry in an mbox file: `From ` line, the quoted message,
/// a line end if the message has none at its end, and the blank line that
/// separates it from the next. Returns the entry and where the quoted
/// message lies within it (start, length).
pub fn entry(message: &[u8], unix: i64) -> (Vec<u8>, usize, usize) {
    let mut out = from_line(unix);
    let start = out.len();
    let quoted = quote(message);
    let len = quoted.len();
    out.extend_from_slice(&quoted);
    if !quoted.ends_with(b"\n") {
        out.push(b'\n');
    }
    out.push(b'\n');
    (out, start, len)
}

/// One message read from an mbox file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The `From ` line, without its line end.
    pub from_line: Vec<u8>,
    /// The message, unquoted; the blank line before the next `From ` line
    /// (the separator) is not part of it.
    pub message: Vec<u8>,
}

/// Splits an mbox file into its messages. A `From ` line counts as a new
/// message only at the start of the file or after a line end (mboxrd and
/// mboxo writers quote every other one). Bytes before the first `From `
/// line are not a message and are ignored.
pub fn split(file: &[u8], quoting: Quoting) -> Vec<Entry> {
    let mut starts = Vec::new();
    let mut pos = 0;
    while pos < file.len() {
        if file[pos..].starts_with(b"From ") && (pos == 0 || file[pos - 1] == b'\n') {
            starts.push(pos);
        }
        match file[pos..].iter().position(|&b| b == b'\n') {
            Some(n) => pos += n + 1,
            None => break,
        }
    }
    let mut out = Vec::with_capacity(starts.len());
    for (i, &start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(file.len());
        let chunk = &file[start..end];
        let line_end = chunk
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(chunk.len());
        let from_line = chunk[..line_end]
            .strip_suffix(b"\r")
            .unwrap_or(&chunk[..line_end])
            .to_vec();
        let mut body = &chunk[(line_end + 1).min(chunk.len())..];
        // The separator: one empty line (LF, or CRLF in a CRLF file).
        if let Some(b) = body.strip_suffix(b"\r\n\r\n") {
            body = &body[..b.len() + 2];
        } else if let Some(b) = body.strip_suffix(b"\n\n") {
            body = &body[..b.len() + 1];
        }
        out.push(Entry {
            from_line,
            message: unquote(body, quoting),
        });
    }
    out
}

/// The time on a `From ` line (asctime after the sender), as unix seconds in UTC.
pub fn from_line_time(line: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(line).ok()?;
    let words: Vec<&str> = text.split_whitespace().collect();
    // From SENDER Www Mmm dd hh:mm:ss yyyy
    if words.len() < 7 {
        return None;
    }
    let when = words[words.len() - 5..].join(" ");
    chrono::NaiveDateTime::parse_from_str(&when, "%a %b %d %H:%M:%S %Y")
        .ok()
        .map(|d| d.and_utc().timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_adds_one_level_to_every_from_line_and_unquoting_removes_it() {
        let message =
            b"Subject: x\r\n\r\nFrom here\r\n>From there\r\n>>From far\r\nFromage\r\n From not\r\n";
        let quoted = quote(message);
        assert_eq!(
            quoted,
            b"Subject: x\r\n\r\n>From here\r\n>>From there\r\n>>>From far\r\nFromage\r\n From not\r\n"
                .to_vec()
        );
        assert_eq!(unquote(&quoted, Quoting::Mboxrd), message.to_vec());
    }

    #[test]
    fn mboxo_unquotes_only_one_level_of_from() {
        assert_eq!(
            unquote(b">From a\n>>From b\n", Quoting::Mboxo),
            b"From a\n>>From b\n".to_vec()
        );
    }

    #[test]
    fn entries_split_back_into_the_same_messages() {
        let messages: [&[u8]; 4] = [
            b"Subject: one\r\n\r\nFrom the start\r\n",
            b"Subject: two\n\nno line end at the end",
            b"Subject: three\r\n\r\n\r\n\r\n",
            b"Subject: four\n\nFrom x\n\n>From y\n",
        ];
        let mut file = Vec::new();
        let mut regions = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            let (bytes, start, len) = entry(m, 1_700_000_000 + i as i64);
            regions.push((file.len() + start, len));
            file.extend_from_slice(&bytes);
        }
        let read = split(&file, Quoting::Mboxrd);
        assert_eq!(read.len(), 4);
        // A message that ends with a line end reads back exactly.
        assert_eq!(read[0].message, messages[0].to_vec());
        assert_eq!(read[2].message, messages[2].to_vec());
        assert_eq!(read[3].message, messages[3].to_vec());
        // One without gains the line end mbox needs; the recorded region
        // still gives it back exactly.
        assert_eq!(read[1].message, [messages[1], b"\n"].concat());
        let (start, len) = regions[1];
        assert_eq!(
            unquote(&file[start..start + len], Quoting::Mboxrd),
            messages[1].to_vec()
        );
        assert_eq!(from_line_time(&read[2].from_line), Some(1_700_000_002));
    }

    #[test]
    fn text_before_the_first_from_line_is_not_a_message() {
        let read = split(
            b"junk\nFrom a Thu Jan  1 00:00:00 1970\nX: y\n\n",
            Quoting::Mboxrd,
        );
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].message, b"X: y\n".to_vec());
        assert_eq!(from_line_time(&read[0].from_line), Some(0));
    }
}
