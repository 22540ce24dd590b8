//! Flags as files keep them: the info part of a Maildir file name
//! (`:2,FRS`), and the `Status`, `X-Status` and `X-Mozilla-Status` header
//! fields mbox programs write.

/// Maildir's flag letters and the IMAP flag each stands for, in the
/// (ASCII) order the info part lists them.
const MAILDIR: [(char, &str); 6] = [
    ('D', "\\Draft"),
    ('F', "\\Flagged"),
    ('P', "$Forwarded"),
    ('R', "\\Answered"),
    ('S', "\\Seen"),
    ('T', "\\Deleted"),
];

/// The info part (`2,` and the letters) for these flags; keywords with no
/// letter are left out (the manifest keeps them).
pub fn maildir_info(flags: &[String]) -> String {
    let mut info = String::from("2,");
    for (letter, flag) in MAILDIR {
        if flags.iter().any(|f| f.eq_ignore_ascii_case(flag)) {
            info.push(letter);
        }
    }
    info
}

/// The flags a Maildir file name carries (`…:2,FS`); none when it has no
/// info part.
pub fn from_maildir_name(name: &str) -> Vec<String> {
    let Some((_, info)) = name.rsplit_once(":2,") else {
        return Vec::new();
    };
    MAILDIR
        .iter()
        .filter(|(letter, _)| info.contains(*letter))
        .map(|(_, flag)| (*flag).to_owned())
        .collect()
}

/// The value of the first header field `name` in the message's header block.
fn header<'a>(message: &'a [u8], name: &str) -> Option<&'a [u8]> {
    for line in message.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return None;
        }
        if line.len() > name.len()
            && line[name.len()] == b':'
            && line[..name.len()].eq_ignore_ascii_case(name.as_bytes())
        {
            return Some(trim(&line[name.len() + 1..]));
        }
    }
    None
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

/// The flags mbox programs record in the message's header: `Status:`
/// (`R` read), `X-Status:` (`A` answered, `F` flagged, `T` draft, `D`
/// deleted) and Thunderbird's `X-Mozilla-Status:` (hex bits: 0x1 read, 0x2
/// replied, 0x4 flagged, 0x8 deleted, 0x1000 forwarded). Sorted, no repeats.
pub fn from_status_headers(message: &[u8]) -> Vec<String> {
    let mut flags = Vec::new();
    let mut add = |f: &str| {
        if !flags.iter().any(|g: &String| g == f) {
            flags.push(f.to_owned());
        }
    };
    if let Some(v) = header(message, "Status") {
        if v.contains(&b'R') {
            add("\\Seen");
        }
    }
    if let Some(v) = header(message, "X-Status") {
        for (letter, flag) in [
            (b'A', "\\Answered"),
            (b'F', "\\Flagged"),
            (b'T', "\\Draft"),
            (b'D', "\\Deleted"),
        ] {
            if v.contains(&letter) {
                add(flag);
            }
        }
    }
    if let Some(bits) = header(message, "X-Mozilla-Status")
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| u32::from_str_radix(v, 16).ok())
    {
        for (bit, flag) in [
            (0x1, "\\Seen"),
            (0x2, "\\Answered"),
            (0x4, "\\Flagged"),
            (0x8, "\\Deleted"),
            (0x1000, "$Forwarded"),
        ] {
            if bits & bit != 0 {
                add(flag);
            }
        }
    }
    flags.sort();
    flags
}

/// The message's `Date:` field as unix seconds, if it reads as RFC 5322.
pub fn date_header(message: &[u8]) -> Option<i64> {
    let v = std::str::from_utf8(header(message, "Date")?).ok()?;
    // Some writers add a zone name in parentheses, which chrono refuses.
    let v = v.split(" (").next().unwrap_or(v).trim();
    chrono::DateTime::parse_from_rfc2822(v)
        .ok()
        .map(|d| d.timestamp())
}

/// The header field `name` as text (the first one), for labels and the like.
pub fn header_text(message: &[u8], name: &str) -> Option<String> {
    header(message, name).map(|v| String::from_utf8_lossy(v).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(flags: &[&str]) -> Vec<String> {
        flags.iter().map(|f| (*f).to_owned()).collect()
    }

    #[test]
    fn maildir_info_lists_letters_in_ascii_order_and_reads_back() {
        let flags = owned(&["\\Seen", "$Forwarded", "\\Flagged", "$Work", "\\Answered"]);
        assert_eq!(maildir_info(&flags), "2,FPRS");
        let mut back = from_maildir_name("1700000000.U1_5.host:2,FPRS");
        back.sort();
        assert_eq!(
            back,
            owned(&["$Forwarded", "\\Answered", "\\Flagged", "\\Seen"])
        );
        assert_eq!(maildir_info(&owned(&["\\Draft", "\\Deleted"])), "2,DT");
        assert!(from_maildir_name("1700000000.U1_5.host").is_empty());
    }

    #[test]
    fn status_headers_give_flags() {
        let m = b"From: a\r\nStatus: RO\r\nX-Status: AF\r\n\r\nStatus: D\r\n";
        assert_eq!(
            from_status_headers(m),
            owned(&["\\Answered", "\\Flagged", "\\Seen"])
        );
        let t = b"X-Mozilla-Status: 1009\nSubject: x\n\n";
        assert_eq!(
            from_status_headers(t),
            owned(&["$Forwarded", "\\Deleted", "\\Seen"])
        );
        assert!(from_status_headers(b"Subject: x\n\nX-Status: A\n").is_empty());
    }

    #[test]
    fn the_date_field_is_read_with_or_without_a_zone_comment() {
        assert_eq!(
            date_header(b"Date: Fri, 1 Mar 2024 10:00:00 +0100 (CET)\r\n\r\n"),
            Some(1_709_283_600)
        );
        assert_eq!(date_header(b"Subject: none\r\n\r\n"), None);
    }
}
