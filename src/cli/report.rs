//! `mailferry report`: one report for a list migrated one mailbox per
//! worker, from the progress every worker saved in the state store
//! (`mailferry::batch::mailbox_line`), as text, JSON, CSV or a web page.

use super::args::ReportArgs;
use anyhow::Context;
use mailferry::batch::store::StateStore;
use mailferry::batch::{mailbox_line, MailboxLine, Standing};
use mailferry::domain::parse_list;
use mailferry::secret::Secret;
use std::io::Write;
use std::process::ExitCode;

/// Reads every row's progress and prints the report; exits 0 when every
/// mailbox is done, 1 otherwise.
pub(crate) async fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let text = Secret::new(
        std::fs::read_to_string(&args.mailboxes)
            .with_context(|| format!("cannot read --mailboxes {}", args.mailboxes.display()))?,
    );
    let rows = parse_list(text.expose(), &[]);
    drop(text);
    let store = StateStore::open(&args.state_store)?;
    let [side1, side2] = args.servers.sides();
    let (source, dest) = (side1.server()?, side2.server()?);
    let scratch = std::env::temp_dir().join(format!("mailferry-report-{}", std::process::id()));
    let mut lines = Vec::with_capacity(rows.len());
    for row in &rows {
        if let Some(problem) = &row.problem {
            lines.push(MailboxLine {
                source: row.source_user.clone(),
                destination: row.destination_user.clone(),
                standing: Standing::Failed,
                at_destination: 0,
                not_copied: 0,
                why: Some(problem.clone()),
                safe_to_switch: None,
            });
            continue;
        }
        // The names a worker gives: the user names as the row has them
        // (an --authuserN sign-in keeps them).
        let job =
            mailferry::paths::job_name(&row.source_user, &source, &row.destination_user, &dest);
        let key =
            super::sync::store_key(&mailferry::paths::job_file(std::path::Path::new(""), &job));
        let local = scratch.join(&key);
        let restored = store.restore(&key, &local).await?;
        let state = match restored {
            Some(_) => mailferry::state::State::open_read_only(&local)?,
            None => None,
        };
        let ending = store.ending(&key).await?;
        lines.push(mailbox_line(
            &row.source_user,
            &row.destination_user,
            state.as_ref(),
            ending.as_ref(),
        )?);
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&lines)?)?;
    } else if args.csv {
        write!(out, "{}", csv(&lines))?;
    } else if args.html {
        write!(out, "{}", html(&lines))?;
    } else {
        for line in &lines {
            writeln!(out, "{}", words(line))?;
        }
        writeln!(out, "{}", total(&lines))?;
    }
    let done = lines.iter().all(|l| l.standing == Standing::Done);
    Ok(ExitCode::from(if done { 0 } else { 1 }))
}

/// One mailbox in words.
fn words(line: &MailboxLine) -> String {
    let mut text = format!(
        "{} -> {}: {}, {} messages at the new mailbox",
        line.source,
        line.destination,
        line.standing.words(),
        line.at_destination
    );
    if line.not_copied > 0 {
        text.push_str(&format!(", {} not copied", line.not_copied));
    }
    match line.safe_to_switch {
        Some(true) => text.push_str(", safe to switch"),
        Some(false) => text.push_str(", not safe to switch yet"),
        None => {}
    }
    if let Some(why) = &line.why {
        text.push_str(&format!(" ({why})"));
    }
    text
}

fn total(lines: &[MailboxLine]) -> String {
    let done = lines
        .iter()
        .filter(|l| l.standing == Standing::Done)
        .count();
    let safe = lines
        .iter()
        .filter(|l| l.safe_to_switch == Some(true))
        .count();
    let mut text = format!(
        "{done} of {} mailboxes done, {safe} checked safe to switch (both servers compared after the copy).",
        lines.len()
    );
    if safe < lines.len() {
        text.push_str(
            " Switch the domain once every mailbox is safe: run the workers of the others again, \
             or `mailferry verify` for a mailbox to see what is missing.",
        );
    }
    text
}

/// "yes", "not yet", or empty when no audit is on record.
fn safe_words(line: &MailboxLine) -> &'static str {
    match line.safe_to_switch {
        Some(true) => "yes",
        Some(false) => "not yet",
        None => "",
    }
}

/// One line per mailbox, RFC 4180 quoting.
fn csv(lines: &[MailboxLine]) -> String {
    let quote = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let mut out = String::from(
        "source,destination,standing,at_destination,not_copied,safe_to_switch,why\r\n",
    );
    for l in lines {
        out.push_str(&format!(
            "{},{},{},{},{},{},{}\r\n",
            quote(&l.source),
            quote(&l.destination),
            quote(l.standing.words()),
            l.at_destination,
            l.not_copied,
            safe_words(l),
            quote(l.why.as_deref().unwrap_or_default())
        ));
    }
    out
}

/// A simple page: a table, every text escaped.
fn html(lines: &[MailboxLine]) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut out = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>MailFerry report</title></head><body>\n\
         <h1>MailFerry migration report</h1>\n<table>\n<tr><th>Old mailbox</th><th>New mailbox</th>\
         <th>Standing</th><th>At the new mailbox</th><th>Not copied</th><th>Safe to switch</th><th>Why</th></tr>\n",
    );
    for l in lines {
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(&l.source),
            esc(&l.destination),
            esc(l.standing.words()),
            l.at_destination,
            l.not_copied,
            safe_words(l),
            esc(l.why.as_deref().unwrap_or_default())
        ));
    }
    out.push_str(&format!(
        "</table>\n<p>{}</p>\n</body></html>\n",
        esc(&total(lines))
    ));
    out
}
