//! A whole domain: several mailboxes migrated at once between the same two
//! servers, each within the servers' connection budgets.
//!
//! Every mailbox is its own job (its own progress file, folder map and
//! report), exactly as one `mailferry sync` run; what they share is the
//! budget of connections each server allows ([`ServerBudget`]). A mailbox
//! waits for a place before it signs in, and its parallel writers only use
//! places that are free, so the servers never see more connections than
//! their caps whatever the number of mailboxes.

use crate::endpoint::{Credentials, Endpoint};
use crate::error::Error;
use crate::event::{Discard, EventSink};
use crate::folder::{FolderTree, Rules};
use crate::imap::ServerBudget;
use crate::job::{Job, ProgressFile};
use crate::run::{Clock, Options, Report, STOPPED};
use crate::secret::Secret;
use futures::StreamExt;
use std::path::PathBuf;

// A list of mailboxes, as a spreadsheet copies it or a CSV file holds it:
// the desktop app's Mailboxes step and `mailferry sync --mailboxes` read it
// the same way.

/// One row of a mailbox list, as read (nothing signed in yet).
#[derive(Debug)]
pub struct ListRow {
    /// 1-based line number.
    pub line: u32,
    /// Old mailbox.
    pub source_user: String,
    /// New mailbox.
    pub destination_user: String,
    /// Password for the old mailbox, if the list had one.
    pub source_password: Option<Secret<String>>,
    /// Password for the new mailbox.
    pub destination_password: Option<Secret<String>>,
    /// What is wrong with the row.
    pub problem: Option<String>,
}

/// Splits one line into cells: `"` quotes (with `""` inside), the given
/// separator, spaces around cells trimmed.
pub(crate) fn cells(line: &str, sep: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            '"' if quoted => quoted = false,
            '"' if cell.trim().is_empty() => {
                cell.clear();
                quoted = true;
            }
            c if c == sep && !quoted => out.push(std::mem::take(&mut cell)),
            c => cell.push(c),
        }
    }
    out.push(cell);
    out.into_iter().map(|c| c.trim().to_owned()).collect()
}

/// What is wrong with a user name, in words (`which`: "old" or "new").
pub fn user_problem(user: &str, which: &str) -> Option<String> {
    if user.is_empty() {
        return Some(format!("the {which} mailbox is empty."));
    }
    if user.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some(format!(
            "\"{user}\" has a space in it; a user name or email address has none."
        ));
    }
    if user.len() > 254 {
        return Some(format!(
            "the {which} mailbox is longer than any address can be."
        ));
    }
    if user.starts_with('@') || user.ends_with('@') || user.matches('@').count() > 1 {
        return Some(format!("\"{user}\" is not a complete email address."));
    }
    None
}

fn is_header(cells: &[String]) -> bool {
    let has = |cell: Option<&String>, words: &[&str]| {
        cell.is_some_and(|c| {
            let c = c.to_lowercase();
            !c.contains('@') && words.iter().any(|w| c.contains(w))
        })
    };
    has(cells.first(), &["source", "from", "old"])
        && has(cells.get(1), &["destination", "to", "new", "target"])
}

/// Reads a pasted list or CSV file: one pair per line, separated by commas,
/// semicolons or tabs (what a spreadsheet copies); an optional header line;
/// `#` lines and empty lines ignored. Two columns: old and new mailbox.
/// Three: and one password for both. Four: and a password for each.
/// `existing` are the pairs already in the list (for duplicates). Every
/// row comes back, the bad ones with their problem in plain words.
pub fn parse_list(text: &str, existing: &[(String, String)]) -> Vec<ListRow> {
    let lines: Vec<(u32, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i as u32 + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .collect();
    let sep = match lines.first() {
        Some((_, l)) if l.contains('\t') => '\t',
        Some((_, l)) if l.contains(';') && !l.contains(',') => ';',
        _ => ',',
    };
    let mut sources: Vec<(String, u32)> = existing
        .iter()
        .map(|(source, _)| (source.to_lowercase(), 0))
        .collect();
    let mut destinations: Vec<(String, u32)> = existing
        .iter()
        .map(|(_, dest)| (dest.to_lowercase(), 0))
        .collect();
    let mut rows = Vec::new();
    for (index, (line, text)) in lines.into_iter().enumerate() {
        let mut cells = cells(text, sep);
        if index == 0 && is_header(&cells) {
            continue;
        }
        let columns = cells.len();
        let secret = |c: &mut String| {
            let value = std::mem::take(c);
            (!value.is_empty()).then(|| Secret::new(value))
        };
        let (source_password, destination_password) = match columns {
            3 => {
                let both = secret(&mut cells[2]);
                let copy = both.as_ref().map(|s| Secret::new(s.expose().clone()));
                (both, copy)
            }
            4 => {
                let dest = secret(&mut cells[3]);
                (secret(&mut cells[2]), dest)
            }
            _ => (None, None),
        };
        let source_user = cells.first().cloned().unwrap_or_default();
        let destination_user = cells.get(1).cloned().unwrap_or_default();
        // Wipe any password cells a malformed row carried.
        for c in cells.iter_mut().skip(2) {
            drop(Secret::new(std::mem::take(c)));
        }
        let problem = if columns < 2 {
            Some(
                "it needs two columns: the old mailbox, then the new one (separated by a comma)."
                    .to_owned(),
            )
        } else if columns > 4 {
            Some(format!(
                "it has {columns} columns; MailFerry reads 2 (old mailbox, new mailbox), \
                 3 (and one password for both) or 4 (and a password for each)."
            ))
        } else if let Some(p) = user_problem(&source_user, "old") {
            Some(p)
        } else if let Some(p) = user_problem(&destination_user, "new") {
            Some(p)
        } else if let Some((_, at)) = sources
            .iter()
            .find(|(u, _)| *u == source_user.to_lowercase())
        {
            Some(if *at == 0 {
                format!("{source_user} is already in the list.")
            } else {
                format!("{source_user} is already in the list (row {at}).")
            })
        } else if let Some((_, at)) = destinations
            .iter()
            .find(|(u, _)| *u == destination_user.to_lowercase())
        {
            Some(format!(
                "{destination_user} already receives another mailbox{}; two mailboxes would be mixed into one.",
                if *at == 0 { String::new() } else { format!(" (row {at})") }
            ))
        } else {
            None
        };
        if problem.is_none() {
            sources.push((source_user.to_lowercase(), line));
            destinations.push((destination_user.to_lowercase(), line));
        }
        rows.push(ListRow {
            line,
            source_user,
            destination_user,
            source_password,
            destination_password,
            problem: problem.map(|p| format!("Row {line}: {p}")),
        });
    }
    rows
}

/// The two servers of a domain and how hard they may be used.
#[derive(Clone, Debug)]
pub struct Domain {
    /// The old server.
    pub source: Endpoint,
    /// The new server.
    pub dest: Endpoint,
    /// Connections open at once to the old server, all mailboxes together.
    pub source_connections: usize,
    /// Connections open at once to the new server, all mailboxes together.
    pub dest_connections: usize,
    /// Mailboxes copied at the same time.
    pub at_once: usize,
}

/// One mailbox to move: who signs in on each side, and its progress file.
#[derive(Clone, Debug)]
pub struct Mailbox {
    /// The account on the old server.
    pub source: Credentials,
    /// The account on the new server.
    pub dest: Credentials,
    /// This mailbox's progress file.
    pub state: PathBuf,
}

/// How one mailbox's migration ended.
#[derive(Debug)]
pub enum Outcome {
    /// The copy ran (its report says what was copied, skipped or failed).
    Copied(Report),
    /// Folder questions must be decided: the folders they are about were
    /// left out; the rest was copied (the report).
    NeedsDecision {
        /// How many questions.
        count: usize,
        /// The copy of everything else.
        report: Report,
    },
    /// The mailbox could not be migrated (sign-in, a refused folder, …).
    Failed(Error),
}

impl Outcome {
    /// Did everything go through?
    pub fn is_complete(&self) -> bool {
        matches!(self, Outcome::Copied(r) if r.exit_code() == 0)
    }
}

/// The caller's part in one mailbox of [`migrate_all_with`].
pub struct Each<'a> {
    /// Where the mailbox's events go.
    pub sink: &'a mut dyn EventSink,
    /// The user asked for a damaged progress file to be rebuilt from both
    /// servers; otherwise a damaged one fails this mailbox with
    /// [`Problem::ProgressDamaged`](crate::error::Problem::ProgressDamaged).
    pub rebuild_if_damaged: bool,
    /// Renumbered source folders of this mailbox the user said to copy
    /// anyway ([`Options::accept_renumbered`], for this mailbox only).
    pub accept_renumbered: Vec<String>,
}

impl<'a> Each<'a> {
    /// Events to `sink`; a damaged progress file stops the mailbox.
    pub fn to(sink: &'a mut dyn EventSink) -> Each<'a> {
        Each {
            sink,
            rebuild_if_damaged: false,
            accept_renumbered: Vec::new(),
        }
    }
}

/// Migrates `mailboxes`, up to `domain.at_once` at a time, in the order
/// given; one outcome each, in the same order. Every mailbox uses the same
/// folder `rules`; the events go nowhere (see [`migrate_all_with`]).
pub async fn migrate_all(
    domain: &Domain,
    mailboxes: &[Mailbox],
    rules: &Rules,
    options: &Options,
    now: Clock<'_>,
) -> Vec<Outcome> {
    let mut sinks: Vec<Discard> = mailboxes.iter().map(|_| Discard).collect();
    let each = sinks
        .iter_mut()
        .map(|s| Each::to(s as &mut dyn EventSink))
        .collect();
    migrate_all_with(domain, mailboxes, &|_| rules.clone(), options, now, each).await
}

/// [`migrate_all`], with each mailbox's events going to its own sink
/// (`each[i]` for `mailboxes[i]`) and its folder rules made from its source
/// folder tree once signed in (a face whose rules need the source's folder
/// separator: the desktop app's folder edits). A stop asked through
/// `options.cancel` stops the mailboxes being copied after their batch in
/// flight; those still waiting for their turn then do not sign in at all
/// (their report says they stopped).
///
/// # Panics
/// If `each` and `mailboxes` differ in length.
pub async fn migrate_all_with(
    domain: &Domain,
    mailboxes: &[Mailbox],
    rules: &dyn Fn(&FolderTree) -> Rules,
    options: &Options,
    now: Clock<'_>,
    each: Vec<Each<'_>>,
) -> Vec<Outcome> {
    assert_eq!(each.len(), mailboxes.len(), "one Each per mailbox");
    let budgets = (
        ServerBudget::new(domain.source_connections),
        ServerBudget::new(domain.dest_connections),
    );
    futures::stream::iter(mailboxes.iter().zip(each))
        .map(|(mailbox, each)| {
            let budgets = &budgets;
            async move {
                migrate_one(domain, mailbox, budgets, rules, options, now, each)
                    .await
                    .unwrap_or_else(Outcome::Failed)
            }
        })
        .buffered(domain.at_once.max(1))
        .collect()
        .await
}

async fn migrate_one(
    domain: &Domain,
    mailbox: &Mailbox,
    (source_budget, dest_budget): &(ServerBudget, ServerBudget),
    rules: &dyn Fn(&FolderTree) -> Rules,
    options: &Options,
    now: Clock<'_>,
    each: Each<'_>,
) -> Result<Outcome, Error> {
    if options.cancel.is_cancelled() {
        // Stopped before its turn came: nothing signed in, nothing changed.
        return Ok(Outcome::Copied(Report {
            stopped: Some(STOPPED.to_owned()),
            ..Report::default()
        }));
    }
    let mut job = Job::connect_within(
        (&domain.source, &mailbox.source, source_budget),
        (&domain.dest, &mailbox.dest, dest_budget),
        &Rules::default(),
        ProgressFile {
            path: mailbox.state.clone(),
            rebuild_if_damaged: each.rebuild_if_damaged,
        },
    )
    .await?;
    job.remap(&rules(job.source_tree()));
    let mut accepting;
    let options = if each.accept_renumbered.is_empty() {
        options
    } else {
        accepting = options.clone();
        accepting.accept_renumbered.extend(each.accept_renumbered);
        &accepting
    };
    let report = job.run(options, now, each.sink).await;
    let questions = job.questions().len();
    job.close().await;
    let report = report?;
    Ok(if questions == 0 {
        Outcome::Copied(report)
    } else {
        Outcome::NeedsDecision {
            count: questions,
            report,
        }
    })
}
