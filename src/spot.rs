//! The spot check: the four checks a migration guide asks a person to do by
//! hand at the end, done for them and said with real subjects and dates —
//! the Sent folder spans the same mail on both servers, the deepest folder
//! is there with the same count, the newest message at the old server is at
//! the new one, and a starred message is starred there too.
//!
//! It reads the folder map the audit uses ([`crate::job::Job::spot_check`]);
//! a message is found at the new server by the copy's own identity
//! ([`Fingerprint`]). Both sides are only read (EXAMINE, headers).

use crate::error::{Error, Problem};
use crate::folder::{FolderMap, MailboxName, Reason, SpecialUse, Target};
use crate::identity::{Fingerprint, Summary};
use crate::imap::messages::{MessageMeta, ReadOnly};
use crate::imap::Session;
use crate::preset::thousands;
use chrono::{DateTime, FixedOffset};
use serde::Serialize;

/// Which of the four checks.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SpotKind {
    /// The Sent folder holds the same span of sent mail on both sides.
    Sent,
    /// The deepest folder is at the new server with the same count.
    DeepestFolder,
    /// The most recent message at the old server is at the new one.
    Newest,
    /// A starred message is starred at the new server.
    Starred,
}

/// How a check came out.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "SpotOutcome"))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Both sides agree.
    Passed,
    /// They don't; `said` tells what differs.
    Failed,
    /// There was nothing to compare (no Sent folder, no starred message).
    NothingToCheck,
}

/// One line of the side-by-side comparison: what the old server shows and
/// what the new one shows.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "SpotRow"))]
pub struct Row {
    /// What is compared ("Messages", "Oldest", "Subject").
    pub label: String,
    /// At the old server.
    pub old: String,
    /// At the new server.
    pub new: String,
    /// The two agree.
    pub same: bool,
}

/// The message a check looked for, by its headers.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "SpotMessage"))]
pub struct Named {
    /// Its folder at the old server.
    pub folder: String,
    /// Subject header (untrusted text).
    pub subject: Option<String>,
    /// From header.
    pub from: Option<String>,
    /// Date header, as written.
    pub date: Option<String>,
}

impl Named {
    /// "\"Subject\" from Sender (4 Mar 2024, 10:05)".
    pub fn describe(&self) -> String {
        format!(
            "\"{}\" from {} ({})",
            self.subject.as_deref().unwrap_or("(no subject)"),
            self.from.as_deref().unwrap_or("(unknown sender)"),
            self.date
                .as_deref()
                .map(readable_date)
                .unwrap_or_else(|| "no date".to_owned())
        )
    }
}

/// One of the four checks.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Spot {
    /// Which check.
    pub kind: SpotKind,
    /// Its heading in plain words ("Sent mail").
    pub title: String,
    /// How it came out.
    pub outcome: Outcome,
    /// The result in one or two sentences, naming the message or folder.
    pub said: String,
    /// Old and new server side by side.
    pub rows: Vec<Row>,
    /// The message looked for (newest, starred), when there is one.
    pub message: Option<Named>,
}

/// The four checks.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SpotCheck {
    /// Sent mail, deepest folder, newest message, starred message.
    pub checks: Vec<Spot>,
    /// No check failed.
    pub passed: bool,
}

/// A message read at the old server, with where it goes.
struct Seen<'m> {
    /// Index of its entry in the map.
    entry: usize,
    meta: &'m MessageMeta,
    arrived: Option<DateTime<FixedOffset>>,
}

/// Runs the four checks over the mapped folders of `map`.
///
/// # Errors
/// A lost connection or a failed sign-in; a folder one server refuses to
/// open is left out of the checks (the audit reports it).
pub async fn spot_check(
    source: &mut Session,
    dest: &mut Session,
    map: &FolderMap,
) -> Result<SpotCheck, Error> {
    let (source, dest) = (&mut ReadOnly::new(source), &mut ReadOnly::new(dest));
    let mapped: Vec<(usize, &MailboxName, &MailboxName)> = (map.entries.iter().enumerate())
        .filter_map(|(i, e)| match &e.target {
            Target::Folder { name, .. } => Some((i, &e.source, name)),
            Target::Excluded => None,
        })
        .collect();
    // Every mapped folder at the old server, read once.
    let mut at_source: Vec<(usize, Vec<MessageMeta>)> = Vec::new();
    for &(i, name, _) in &mapped {
        match read(source, name).await? {
            Some(metas) => at_source.push((i, metas)),
            None => continue,
        }
    }
    let seen: Vec<Seen> = at_source
        .iter()
        .flat_map(|(i, metas)| {
            metas.iter().map(move |m| Seen {
                entry: *i,
                meta: m,
                arrived: m.internal_date.as_deref().and_then(internal_date),
            })
        })
        .collect();
    let target = |entry: usize| -> &MailboxName {
        match &map.entries[entry].target {
            Target::Folder { name, .. } => name,
            Target::Excluded => &map.entries[entry].source,
        }
    };

    let mut checks = Vec::new();

    // 1. Sent mail.
    let sent = map.entries.iter().position(|e| {
        e.reasons.iter().any(|r| {
            matches!(
                r,
                Reason::SpecialUse(SpecialUse::Sent) | Reason::LocalizedName(SpecialUse::Sent)
            )
        }) && matches!(e.target, Target::Folder { .. })
    });
    checks.push(match sent {
        None => nothing(
            SpotKind::Sent,
            "Sent mail",
            "No Sent folder was found at the old server, so there was no sent mail to compare.",
        ),
        Some(i) => {
            let old: Vec<&MessageMeta> = (at_source.iter().filter(|(e, _)| *e == i))
                .flat_map(|(_, m)| m)
                .collect();
            let new_metas = read(dest, target(i)).await?.unwrap_or_default();
            sent_check(
                map.entries[i].source.display(),
                target(i).display(),
                &old,
                &new_metas.iter().collect::<Vec<_>>(),
            )
        }
    });

    // 2. The deepest folder.
    let deepest = mapped
        .iter()
        .max_by_key(|(i, name, _)| {
            (
                name.segments(map.source_delimiter).len(),
                std::cmp::Reverse(*i),
            )
        })
        .copied();
    checks.push(match deepest {
        None => nothing(
            SpotKind::DeepestFolder,
            "Deepest folder",
            "No folder is copied, so there was no folder to compare.",
        ),
        Some((_, src_name, dst_name)) => {
            let old = count(source, src_name).await?;
            let new = count(dest, dst_name).await?;
            deepest_check(src_name.display(), dst_name.display(), old, new)
        }
    });

    // 3. The newest message, and 4. a starred one: the most recent of each
    // to arrive at the old server. Of copies that arrived together (Gmail
    // shows a message in its label's folder and in All Mail, which is
    // mapped last) the first folder's is checked: All Mail's copy goes
    // only where the label didn't take it.
    let latest = |s: &&Seen| (s.arrived, std::cmp::Reverse(s.entry));
    let newest = seen.iter().max_by_key(latest);
    let starred = seen
        .iter()
        .filter(|s| has_flag(&s.meta.flags, "\\Flagged"))
        .max_by_key(latest);
    for (kind, found) in [(SpotKind::Newest, newest), (SpotKind::Starred, starred)] {
        let Some(s) = found else {
            checks.push(match kind {
                SpotKind::Starred => nothing(
                    kind,
                    "A starred message",
                    "No message is starred at the old server, so there was no star to compare.",
                ),
                _ => nothing(
                    kind,
                    "Newest message",
                    "The old server holds no messages in the copied folders.",
                ),
            });
            continue;
        };
        let dst_name = target(s.entry);
        let at_dest = read(dest, dst_name).await?.unwrap_or_default();
        let fingerprint = Fingerprint::of_headers(&s.meta.headers, u64::from(s.meta.size));
        let copies: Vec<&MessageMeta> = at_dest
            .iter()
            .filter(|m| Fingerprint::of_headers(&m.headers, u64::from(m.size)) == fingerprint)
            .collect();
        let summary = Summary::of_headers(&s.meta.headers);
        let named = Named {
            folder: map.entries[s.entry].source.display().to_owned(),
            subject: summary.subject,
            from: summary.from,
            date: summary.date,
        };
        checks.push(message_check(kind, named, dst_name.display(), &copies));
    }

    let passed = checks.iter().all(|c| c.outcome != Outcome::Failed);
    Ok(SpotCheck { checks, passed })
}

fn nothing(kind: SpotKind, title: &str, said: &str) -> Spot {
    Spot {
        kind,
        title: title.to_owned(),
        outcome: Outcome::NothingToCheck,
        said: said.to_owned(),
        rows: Vec::new(),
        message: None,
    }
}

/// Compares the sent mail on both sides: count, oldest and newest date.
fn sent_check(old_name: &str, new_name: &str, old: &[&MessageMeta], new: &[&MessageMeta]) -> Spot {
    let (old_first, old_last) = span(old);
    let (new_first, new_last) = span(new);
    let shown = |d: Option<DateTime<FixedOffset>>| d.map(show).unwrap_or_else(|| "—".to_owned());
    let rows = vec![
        row("Folder", old_name, new_name, true),
        row(
            "Messages",
            &thousands(old.len() as u64),
            &thousands(new.len() as u64),
            old.len() == new.len(),
        ),
        row(
            "Oldest",
            &shown(old_first),
            &shown(new_first),
            old_first == new_first,
        ),
        row(
            "Newest",
            &shown(old_last),
            &shown(new_last),
            old_last == new_last,
        ),
    ];
    let passed = rows.iter().all(|r| r.same);
    let said = if passed && old.is_empty() {
        "The Sent folder is empty on both servers.".to_owned()
    } else if passed {
        format!(
            "The Sent folder holds the same {} on both servers, from {} to {}.",
            messages(old.len() as u64, "sent message"),
            shown(old_first),
            shown(old_last)
        )
    } else {
        format!(
            "The Sent folder differs: the old server has {} ({} to {}), the new server {} ({} \
             to {}).",
            messages(old.len() as u64, "sent message"),
            shown(old_first),
            shown(old_last),
            thousands(new.len() as u64),
            shown(new_first),
            shown(new_last)
        )
    };
    Spot {
        kind: SpotKind::Sent,
        title: "Sent mail".to_owned(),
        outcome: if passed {
            Outcome::Passed
        } else {
            Outcome::Failed
        },
        said,
        rows,
        message: None,
    }
}

/// Compares the deepest folder's count; `None`: the folder is not there.
fn deepest_check(old_name: &str, new_name: &str, old: Option<u32>, new: Option<u32>) -> Spot {
    let number = |n: Option<u32>| n.map_or("not there".to_owned(), |n| thousands(n.into()));
    let old_count = old.unwrap_or(0);
    let (outcome, said) = match new {
        None => (
            Outcome::Failed,
            format!(
                "The deepest folder, {old_name}, is not at the new server (it should be {new_name})."
            ),
        ),
        Some(n) if n == old_count => (
            Outcome::Passed,
            format!(
                "The deepest folder, {old_name}, is at the new server with the same {}.",
                messages(n.into(), "message")
            ),
        ),
        Some(n) => (
            Outcome::Failed,
            format!(
                "The deepest folder, {old_name}, has {} at the old server and {} at the new one.",
                messages(old_count.into(), "message"),
                thousands(n.into())
            ),
        ),
    };
    Spot {
        kind: SpotKind::DeepestFolder,
        title: "Deepest folder".to_owned(),
        outcome,
        said,
        rows: vec![
            row(
                "Folder",
                old_name,
                if new.is_some() { new_name } else { "not there" },
                new.is_some(),
            ),
            row(
                "Messages",
                &number(old),
                &number(new),
                new == Some(old_count),
            ),
        ],
        message: None,
    }
}

/// The newest or the starred message: is it at the new server (and
/// starred there)? `copies`: the messages with its identity in the folder
/// it was copied to.
fn message_check(kind: SpotKind, named: Named, new_folder: &str, copies: &[&MessageMeta]) -> Spot {
    let there = !copies.is_empty();
    let starred = copies.iter().any(|m| has_flag(&m.flags, "\\Flagged"));
    let absent = "not there".to_owned();
    let at_new = |v: &Option<String>, fallback: &str| {
        if there {
            v.clone().unwrap_or_else(|| fallback.to_owned())
        } else {
            absent.clone()
        }
    };
    let mut rows = vec![
        row(
            "Folder",
            &named.folder,
            if there { new_folder } else { "not there" },
            there,
        ),
        row(
            "Subject",
            named.subject.as_deref().unwrap_or("(no subject)"),
            &at_new(&named.subject, "(no subject)"),
            there,
        ),
        row(
            "From",
            named.from.as_deref().unwrap_or("(unknown sender)"),
            &at_new(&named.from, "(unknown sender)"),
            there,
        ),
        row(
            "Date",
            &named
                .date
                .as_deref()
                .map(readable_date)
                .unwrap_or_else(|| "no date".to_owned()),
            &at_new(&named.date.as_deref().map(readable_date), "no date"),
            there,
        ),
    ];
    let it = named.describe();
    let (outcome, said) = match kind {
        SpotKind::Starred => {
            rows.push(row(
                "Starred",
                "yes",
                match (there, starred) {
                    (false, _) => "not there",
                    (true, true) => "yes",
                    (true, false) => "no",
                },
                starred,
            ));
            match (there, starred) {
                (true, true) => (
                    Outcome::Passed,
                    format!("The starred message {it} is starred at the new server too."),
                ),
                (true, false) => (
                    Outcome::Failed,
                    format!(
                        "The starred message {it} is at the new server in {new_folder}, but it \
                         is not starred there."
                    ),
                ),
                (false, _) => (
                    Outcome::Failed,
                    format!(
                        "The starred message {it} is not at the new server (looked in \
                         {new_folder})."
                    ),
                ),
            }
        }
        _ if there => (
            Outcome::Passed,
            format!(
                "The newest message at the old server, {it}, is at the new server in {new_folder}."
            ),
        ),
        _ => (
            Outcome::Failed,
            format!(
                "The newest message at the old server, {it}, is not at the new server (looked \
                 in {new_folder})."
            ),
        ),
    };
    Spot {
        kind,
        title: match kind {
            SpotKind::Starred => "A starred message",
            _ => "Newest message",
        }
        .to_owned(),
        outcome,
        said,
        rows,
        message: Some(named),
    }
}

/// "1 message", "14,212 messages".
fn messages(n: u64, word: &str) -> String {
    format!("{} {word}{}", thousands(n), if n == 1 { "" } else { "s" })
}

fn row(label: &str, old: &str, new: &str, same: bool) -> Row {
    Row {
        label: label.to_owned(),
        old: old.to_owned(),
        new: new.to_owned(),
        same,
    }
}

fn has_flag(flags: &[String], flag: &str) -> bool {
    flags.iter().any(|f| f.eq_ignore_ascii_case(flag))
}

/// A folder's messages; `None` when the server refuses to open it (not
/// there, or not readable).
async fn read(
    session: &mut ReadOnly<'_>,
    name: &MailboxName,
) -> Result<Option<Vec<MessageMeta>>, Error> {
    let Some(exists) = count(session, name).await? else {
        return Ok(None);
    };
    if exists == 0 {
        return Ok(Some(Vec::new()));
    }
    match session.fetch_meta("1:*").await {
        Ok(metas) => Ok(Some(metas)),
        Err(e) if e.is_transient() || e.is_auth() => Err(e),
        Err(_) => Ok(None),
    }
}

/// A folder's message count; `None` when the server refuses to open it.
async fn count(session: &mut ReadOnly<'_>, name: &MailboxName) -> Result<Option<u32>, Error> {
    match session.examine(name.wire()).await {
        Ok(status) => Ok(Some(status.exists)),
        Err(e) if matches!(e.problem(), Problem::ServerRefused { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The span of sent mail: its oldest and newest date (the Date header,
/// else the arrival date).
fn span(
    messages: &[&MessageMeta],
) -> (Option<DateTime<FixedOffset>>, Option<DateTime<FixedOffset>>) {
    let dates: Vec<DateTime<FixedOffset>> = messages
        .iter()
        .filter_map(|m| {
            Summary::of_headers(&m.headers)
                .date
                .as_deref()
                .and_then(header_date)
                .or_else(|| m.internal_date.as_deref().and_then(internal_date))
        })
        .collect();
    (dates.iter().min().copied(), dates.iter().max().copied())
}

fn internal_date(text: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_str(text.trim(), "%d-%b-%Y %H:%M:%S %z").ok()
}

fn header_date(text: &str) -> Option<DateTime<FixedOffset>> {
    // The day of the week is left out: mail programs get it wrong, and a
    // wrong one doesn't change the date. A trailing comment ("(CET)") is
    // allowed by RFC 5322 and by chrono.
    let text = text.trim();
    let date = match text.split_once(',') {
        Some((day, rest)) if day.trim().chars().all(|c| c.is_ascii_alphabetic()) => rest,
        _ => text,
    };
    DateTime::parse_from_rfc2822(date.trim()).ok()
}

/// A date as people write it: "4 Mar 2024, 10:05" (in the sender's own
/// time zone).
fn show(date: DateTime<FixedOffset>) -> String {
    date.format("%-d %b %Y, %H:%M").to_string()
}

/// A Date header as people read it, or as written when it doesn't parse.
fn readable_date(text: &str) -> String {
    header_date(text).map_or_else(|| text.to_owned(), show)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(headers: &str, flags: &[&str], date: &str) -> MessageMeta {
        MessageMeta {
            uid: 1,
            size: 100,
            flags: flags.iter().map(|f| f.to_string()).collect(),
            internal_date: Some(date.to_owned()),
            headers: headers.as_bytes().to_vec(),
        }
    }

    #[test]
    fn dates_read_as_people_write_them() {
        assert_eq!(
            readable_date("Mon, 4 Mar 2024 10:05:00 +0100"),
            "4 Mar 2024, 10:05"
        );
        assert_eq!(readable_date("yesterday"), "yesterday");
        // 10 March 2024 was a Sunday; the date is still the date.
        assert_eq!(
            readable_date("Mon, 10 Mar 2024 10:05:00 +0100 (CET)"),
            "10 Mar 2024, 10:05"
        );
    }

    #[test]
    fn sent_mail_differs_when_the_newest_sent_message_is_missing() {
        let a = meta("Date: Mon, 4 Mar 2024 10:05:00 +0100\r\n", &[], "");
        let b = meta("Date: Tue, 5 Mar 2024 11:00:00 +0100\r\n", &[], "");
        let same = sent_check("Sent", "Sent", &[&a, &b], &[&a, &b]);
        assert_eq!(same.outcome, Outcome::Passed, "{same:#?}");
        assert!(same.said.contains("4 Mar 2024, 10:05 to 5 Mar 2024, 11:00"));
        let short = sent_check("Sent", "Sent", &[&a, &b], &[&a]);
        assert_eq!(short.outcome, Outcome::Failed);
        assert!(
            short
                .said
                .contains("the new server 1 (4 Mar 2024, 10:05 to 4 Mar 2024, 10:05)"),
            "{}",
            short.said
        );
    }

    #[test]
    fn a_starred_message_there_without_its_star_fails_and_is_named() {
        let named = Named {
            folder: "INBOX".into(),
            subject: Some("Invoice".into()),
            from: Some("Bob <bob@example.net>".into()),
            date: Some("Mon, 4 Mar 2024 10:05:00 +0100".into()),
        };
        let plain = meta("", &["\\Seen"], "");
        let spot = message_check(SpotKind::Starred, named.clone(), "INBOX", &[&plain]);
        assert_eq!(spot.outcome, Outcome::Failed);
        assert_eq!(
            spot.said,
            "The starred message \"Invoice\" from Bob <bob@example.net> (4 Mar 2024, 10:05) is \
             at the new server in INBOX, but it is not starred there."
        );
        let starred = meta("", &["\\Flagged"], "");
        let spot = message_check(SpotKind::Starred, named, "INBOX", &[&starred]);
        assert_eq!(spot.outcome, Outcome::Passed);
    }
}
