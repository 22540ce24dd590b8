//! Contacts (vCard 3 and 4) and calendar objects (iCalendar) as bytes:
//! MailFerry reads the few properties it needs (the UID, which kind of
//! object) and splits or joins files at line boundaries, never
//! re-serialising what it copies: an object leaves exactly as it came.

/// What an object or a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// A vCard (`BEGIN:VCARD`).
    Contact,
    /// An iCalendar object (`BEGIN:VCALENDAR`).
    Calendar,
}

/// The kind of an object, from its first line; None for anything else.
pub fn kind_of(bytes: &[u8]) -> Option<ObjectKind> {
    let first = raw_lines(bytes).map(trim_line).find(|l| !l.is_empty())?;
    let first = first.strip_prefix("\u{feff}".as_bytes()).unwrap_or(first);
    if first.eq_ignore_ascii_case(b"BEGIN:VCARD") {
        Some(ObjectKind::Contact)
    } else if first.eq_ignore_ascii_case(b"BEGIN:VCALENDAR") {
        Some(ObjectKind::Calendar)
    } else {
        None
    }
}

/// The object's UID: a vCard's UID, or the UID of a calendar object's first
/// component that has one (events, to-dos, journals; not time zones).
pub fn uid(bytes: &[u8]) -> Option<String> {
    let mut depth_in_timezone = 0usize;
    for line in unfold(bytes) {
        let (name, value) = property(&line)?;
        match name.as_str() {
            "BEGIN" if value.eq_ignore_ascii_case("VTIMEZONE") => depth_in_timezone += 1,
            "END" if value.eq_ignore_ascii_case("VTIMEZONE") => {
                depth_in_timezone = depth_in_timezone.saturating_sub(1)
            }
            "UID" if depth_in_timezone == 0 && !value.trim().is_empty() => {
                return Some(value.trim().to_owned())
            }
            _ => {}
        }
    }
    None
}

/// SHA-256 of the bytes, in hex: how an object is recognised unchanged.
pub fn digest(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Logical lines (folded lines joined, RFC 6350 §3.2 / RFC 5545 §3.1), as text.
fn unfold(bytes: &[u8]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for raw in raw_lines(bytes) {
        let line = trim_line(raw);
        if (line.starts_with(b" ") || line.starts_with(b"\t")) && !out.is_empty() {
            let last = out.last_mut().expect("not empty");
            last.push_str(&String::from_utf8_lossy(&line[1..]));
        } else {
            out.push(String::from_utf8_lossy(line).into_owned());
        }
    }
    out
}

/// A content line's property name (upper case, without group or
/// parameters) and value; None for a line that is not one.
fn property(line: &str) -> Option<(String, String)> {
    if line.is_empty() {
        return Some((String::new(), String::new()));
    }
    let colon = value_colon(line)?;
    let head = &line[..colon];
    let name = head.split(';').next().unwrap_or(head);
    let name = name.rsplit('.').next().unwrap_or(name);
    Some((name.to_ascii_uppercase(), line[colon + 1..].to_owned()))
}

/// The colon that starts the value: the first one outside quoted parameter values.
fn value_colon(line: &str) -> Option<usize> {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ':' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// The lines of `bytes`, each with its own line ending.
fn raw_lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes.split_inclusive(|b| *b == b'\n')
}

/// A line without its line ending.
fn trim_line(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The vCards of a `.vcf` file, each exactly as written in the file.
pub fn split_contacts(file: &[u8]) -> Vec<Vec<u8>> {
    let mut cards = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    let mut depth = 0usize;
    for line in raw_lines(file) {
        let bare = trim_line(line);
        let bare = bare.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bare);
        if bare.eq_ignore_ascii_case(b"BEGIN:VCARD") {
            depth += 1;
            if depth == 1 {
                current = Some(Vec::new());
            }
        }
        if let Some(card) = current.as_mut() {
            card.extend_from_slice(if depth == 1 && bare.eq_ignore_ascii_case(b"BEGIN:VCARD") {
                // A byte-order mark belongs to the file, not to the card.
                line.strip_prefix("\u{feff}".as_bytes()).unwrap_or(line)
            } else {
                line
            });
        }
        if bare.eq_ignore_ascii_case(b"END:VCARD") && depth > 0 {
            depth -= 1;
            if depth == 0 {
                if let Some(mut card) = current.take() {
                    if !card.ends_with(b"\n") {
                        card.extend_from_slice(b"\r\n");
                    }
                    cards.push(card);
                }
            }
        }
    }
    cards
}

/// Cards joined into one `.vcf` file.
pub fn join_contacts(cards: &[Vec<u8>]) -> Vec<u8> {
    let mut file = Vec::new();
    for card in cards {
        file.extend_from_slice(card);
        if !card.ends_with(b"\n") {
            file.extend_from_slice(b"\r\n");
        }
    }
    file
}

/// One calendar file taken apart at line boundaries: its calendar
/// properties, its time zones, and its other components grouped by UID.
struct CalendarParts {
    /// Lines between BEGIN:VCALENDAR and the first component (VERSION, PRODID …).
    header: Vec<Vec<u8>>,
    /// (TZID, the VTIMEZONE block's lines).
    timezones: Vec<(String, Vec<u8>)>,
    /// (UID, every component with it: the series and its exceptions).
    objects: Vec<(Option<String>, Vec<u8>)>,
}

fn calendar_parts(file: &[u8]) -> CalendarParts {
    let mut parts = CalendarParts {
        header: Vec::new(),
        timezones: Vec::new(),
        objects: Vec::new(),
    };
    // The component being read at depth 1 (inside VCALENDAR): its name and lines.
    let mut component: Option<(String, Vec<u8>)> = None;
    let mut depth = 0usize;
    for line in raw_lines(file) {
        let bare = trim_line(line);
        let bare = bare.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bare);
        let text = String::from_utf8_lossy(bare);
        let upper = text.to_ascii_uppercase();
        if let Some(name) = upper.strip_prefix("BEGIN:") {
            depth += 1;
            if depth == 1 {
                continue; // BEGIN:VCALENDAR
            }
            if depth == 2 {
                component = Some((name.to_owned(), Vec::new()));
            }
        }
        if upper.starts_with("END:") && depth > 0 {
            depth -= 1;
            if depth == 0 {
                continue; // END:VCALENDAR
            }
            if depth == 1 {
                if let Some((name, mut lines)) = component.take() {
                    lines.extend_from_slice(line);
                    file_component(&mut parts, &name, lines);
                }
                continue;
            }
        }
        match component.as_mut() {
            Some((_, lines)) => lines.extend_from_slice(line),
            None if depth == 1 => parts.header.push(line.to_vec()),
            None => {}
        }
    }
    parts
}

fn file_component(parts: &mut CalendarParts, name: &str, lines: Vec<u8>) {
    if name == "VTIMEZONE" {
        let tzid = unfold(&lines)
            .iter()
            .filter_map(|l| property(l))
            .find(|(n, _)| n == "TZID")
            .map(|(_, v)| v)
            .unwrap_or_default();
        if !parts.timezones.iter().any(|(t, _)| *t == tzid) {
            parts.timezones.push((tzid, lines));
        }
        return;
    }
    let uid = uid(&lines);
    match parts
        .objects
        .iter_mut()
        .find(|(u, _)| u.is_some() && *u == uid)
    {
        Some((_, existing)) => existing.extend_from_slice(&lines),
        None => parts.objects.push((uid, lines)),
    }
}

/// The calendar objects of an `.ics` file: one per UID (a recurring
/// event with its exceptions is one object), each a VCALENDAR holding the
/// file's calendar properties, the time zones it names, and its
/// components exactly as written.
pub fn split_calendar(file: &[u8]) -> Vec<Vec<u8>> {
    let parts = calendar_parts(file);
    let header: Vec<u8> = if parts.header.is_empty() {
        b"VERSION:2.0\r\nPRODID:-//MailFerry//Contacts and calendars//EN\r\n".to_vec()
    } else {
        parts.header.concat()
    };
    parts
        .objects
        .iter()
        .map(|(_, components)| {
            let text = String::from_utf8_lossy(components);
            let mut object = b"BEGIN:VCALENDAR\r\n".to_vec();
            object.extend_from_slice(&header);
            for (tzid, block) in &parts.timezones {
                let named = text.contains(&format!("TZID={tzid}"))
                    || text.contains(&format!("TZID=\"{tzid}\""));
                if !tzid.is_empty() && named {
                    object.extend_from_slice(block);
                }
            }
            object.extend_from_slice(components);
            object.extend_from_slice(b"END:VCALENDAR\r\n");
            object
        })
        .collect()
}

/// Calendar objects joined into one `.ics` file: the first object's
/// calendar properties, each time zone once, then every component.
pub fn join_calendar(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut header: Vec<Vec<u8>> = Vec::new();
    let mut timezones: Vec<(String, Vec<u8>)> = Vec::new();
    let mut components = Vec::new();
    for object in objects {
        let parts = calendar_parts(object);
        if header.is_empty() {
            header = parts.header;
        }
        for (tzid, block) in parts.timezones {
            if !timezones.iter().any(|(t, _)| *t == tzid) {
                timezones.push((tzid, block));
            }
        }
        for (_, c) in parts.objects {
            components.extend_from_slice(&c);
        }
    }
    let mut file = b"BEGIN:VCALENDAR\r\n".to_vec();
    if header.is_empty() {
        file.extend_from_slice(
            b"VERSION:2.0\r\nPRODID:-//MailFerry//Contacts and calendars//EN\r\n",
        );
    }
    for line in header {
        file.extend_from_slice(&line);
    }
    for (_, block) in timezones {
        file.extend_from_slice(&block);
    }
    file.extend_from_slice(&components);
    file.extend_from_slice(b"END:VCALENDAR\r\n");
    file
}

/// The components of a calendar object other than its time zones, as
/// written: what must survive a trip through a file.
pub fn calendar_components(object: &[u8]) -> Vec<u8> {
    calendar_parts(object)
        .objects
        .into_iter()
        .flat_map(|(_, c)| c)
        .collect()
}

/// Whether `line` is a line of `bytes` (a helper of the tests).
#[cfg(test)]
fn has_line(bytes: &[u8], text: &str) -> bool {
    raw_lines(bytes).any(|l| trim_line(l).eq_ignore_ascii_case(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &[u8] = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\n\
BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:weekly-1\r\nDTSTART;TZID=Europe/Berlin:20260105T090000\r\nRRULE:FREQ=WEEKLY\r\nSUMMARY:Stand-up\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:weekly-1\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260112T090000\r\nDTSTART;TZID=Europe/Berlin:20260112T100000\r\nSUMMARY:Stand-up (late)\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:all-day\r\nDTSTART;VALUE=DATE:20260301\r\nSUMMARY:Holiday\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";

    #[test]
    fn the_uid_is_found_folded_grouped_or_after_time_zones() {
        assert_eq!(uid(EVENT).as_deref(), Some("weekly-1"));
        assert_eq!(
            uid(b"BEGIN:VCARD\nVERSION:4.0\nitem1.UID:urn:uuid:\n 1234\nEND:VCARD\n").as_deref(),
            Some("urn:uuid:1234")
        );
        assert_eq!(
            uid(b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No UID\r\nEND:VCARD\r\n"),
            None
        );
        assert_eq!(kind_of(b"\r\nBEGIN:VCARD\r\n"), Some(ObjectKind::Contact));
        assert_eq!(kind_of(EVENT), Some(ObjectKind::Calendar));
        assert_eq!(kind_of(b"<html>"), None);
    }

    #[test]
    fn a_vcf_file_splits_into_its_cards_byte_for_byte() {
        let a = b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:A\r\nEND:VCARD\r\n".to_vec();
        let b = b"BEGIN:VCARD\nVERSION:4.0\nUID:b\nFN:B\nEND:VCARD\n".to_vec();
        let file = join_contacts(&[a.clone(), b.clone()]);
        assert_eq!(split_contacts(&file), vec![a.clone(), b.clone()]);
        let mut with_bom = "\u{feff}".as_bytes().to_vec();
        with_bom.extend_from_slice(&file);
        assert_eq!(split_contacts(&with_bom), vec![a, b]);
    }

    #[test]
    fn an_ics_file_splits_by_uid_keeping_exceptions_and_their_time_zone() {
        let objects = split_calendar(EVENT);
        assert_eq!(
            objects.len(),
            2,
            "the series and its exception are one object"
        );
        assert_eq!(uid(&objects[0]).as_deref(), Some("weekly-1"));
        assert!(has_line(&objects[0], "TZID:Europe/Berlin"));
        assert!(has_line(&objects[0], "SUMMARY:Stand-up (late)"));
        assert!(has_line(&objects[0], "PRODID:-//Test//EN"));
        assert!(
            !has_line(&objects[1], "TZID:Europe/Berlin"),
            "the all-day event names no zone"
        );
        // Joined again, every component is there exactly once, as written.
        let joined = join_calendar(&objects);
        assert_eq!(calendar_components(&joined), calendar_components(EVENT));
        assert_eq!(
            String::from_utf8_lossy(&joined)
                .matches("BEGIN:VTIMEZONE")
                .count(),
            1
        );
        assert_eq!(split_calendar(&joined), objects);
    }
}
