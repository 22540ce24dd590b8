//! Step 8's report: the check's result as a file the user keeps (plain text
//! or a simple HTML page), saved by the shell in their Downloads folder.
//! Counts, folders and the messages that didn't arrive with their reasons;
//! never a password, a token or a message body. It ends with the closing
//! checklist the check carries (the engine's `verify::CLOSING`). The same
//! report can be put in the new mailbox's INBOX as a message
//! ([`mail_report`], the engine's `report_mail`).

use crate::commands::files::FileJobs;
use crate::commands::mailboxes::Choices;
use crate::commands::verify::Verification;
use crate::error::{IpcError, IpcResult};
use crate::runs::{Run, RunId, Runs};
use mailferry::imap::Session;
use mailferry::report_mail::ReportMail;
use mailferry::run::system_clock;
use mailferry::spot::{Outcome as SpotOutcome, SpotCheck};
use std::fmt::Write as _;
use std::path::Path;
use tauri::{AppHandle, Manager, State};

/// Who was moved where, and when (no secret: addresses and servers).
pub struct Header {
    /// `owner@example.com at imap.gmail.com`.
    pub from: String,
    /// `owner@example.com at outlook.office365.com`.
    pub to: String,
    /// `2026-11-26 10:15 UTC`.
    pub when: String,
    /// The domain's mailboxes not (only) moved: kept as files, or left
    /// where they are, each a line in words.
    pub others: Vec<String>,
}

/// The lines of the report, as (kind, text) pairs the two formats share.
fn lines(header: &Header, v: &Verification) -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("h1", "MailFerry migration report".to_owned()),
        ("p", format!("From: {}", header.from)),
        ("p", format!("To: {}", header.to)),
        ("p", format!("Checked: {}", header.when)),
        (
            "strong",
            if v.safe_to_switch {
                "Safe to switch your domain: every message arrived or has a known reason."
                    .to_owned()
            } else {
                format!(
                    "Not safe to switch yet: {} message{} need{} attention.",
                    v.missing.iter().filter(|m| !m.explained).count(),
                    if v.missing.iter().filter(|m| !m.explained).count() == 1 {
                        ""
                    } else {
                        "s"
                    },
                    if v.missing.iter().filter(|m| !m.explained).count() == 1 {
                        "s"
                    } else {
                        ""
                    },
                )
            },
        ),
        ("h2", "Folders".to_owned()),
    ];
    for f in &v.folders {
        let mut line = format!(
            "{} -> {}: {} at the old server, {} at the new",
            f.source, f.destination, f.source_count, f.destination_count
        );
        if f.missing > 0 {
            let _ = write!(line, ", {} not in this folder", f.missing);
            if f.in_other_folders > 0 {
                let _ = write!(line, " ({} of them in other folders)", f.in_other_folders);
            }
        }
        out.push(("li", line));
    }
    for [folder, why] in &v.excluded_folders {
        out.push(("li", format!("{folder}: not copied ({why})")));
    }
    out.push(("h2", "Messages not copied".to_owned()));
    if v.missing.is_empty() {
        out.push(("p", "None.".to_owned()));
    }
    for m in &v.missing {
        out.push((
            "li",
            format!(
                "{} | {} | {} | {}: {}",
                m.folder,
                m.date.as_deref().unwrap_or("no date"),
                m.from.as_deref().unwrap_or("no sender"),
                m.subject.as_deref().unwrap_or("(no subject)"),
                m.reason
            ),
        ));
    }
    if let Some(spot) = &v.spot_check {
        spot_lines(&mut out, spot);
    }
    if !header.others.is_empty() {
        out.push(("h2", "The domain's other mailboxes".to_owned()));
        for line in &header.others {
            out.push(("li", line.clone()));
        }
    }
    out.push(("h2", "Before you close the old account".to_owned()));
    for step in &v.closing {
        out.push(("li", step.clone()));
    }
    out
}

/// The spot check's section: each check's result in words, then the old
/// and the new server side by side (a `row` line holds its three cells
/// separated by tabs).
fn spot_lines(out: &mut Vec<(&'static str, String)>, spot: &SpotCheck) {
    out.push(("h2", "Spot check".to_owned()));
    out.push((
        "p",
        if spot.passed {
            "The four checks you would do by hand, done on both servers: all passed."
        } else {
            "The four checks you would do by hand, done on both servers: one or more found a \
             difference. Run the copy again, then check again."
        }
        .to_owned(),
    ));
    for check in &spot.checks {
        let result = match check.outcome {
            SpotOutcome::Passed => "passed",
            SpotOutcome::Failed => "NOT passed",
            SpotOutcome::NothingToCheck => "nothing to check",
        };
        out.push(("h3", format!("{}: {result}", check.title)));
        out.push(("p", check.said.clone()));
        if check.rows.is_empty() {
            continue;
        }
        out.push(("head", "\tOld server\tNew server".to_owned()));
        let cell = |text: &str| text.replace('\t', " ");
        for row in &check.rows {
            out.push((
                "row",
                format!(
                    "{}\t{}\t{}",
                    cell(&row.label),
                    cell(&row.old),
                    cell(&row.new)
                ),
            ));
        }
    }
}

/// The report as plain text.
pub fn render_text(header: &Header, v: &Verification) -> String {
    let mut text = String::new();
    for (kind, line) in lines(header, v) {
        match kind {
            "h1" | "h2" => {
                if !text.is_empty() {
                    text.push('\n');
                }
                let _ = writeln!(text, "{line}\n{}", "=".repeat(line.chars().count()));
            }
            "li" => {
                let _ = writeln!(text, "- {line}");
            }
            "h3" => {
                let _ = writeln!(text, "\n{line}");
            }
            "head" => {}
            "row" => {
                let cells: Vec<&str> = line.split('\t').collect();
                if let [label, old, new] = cells[..] {
                    let _ = writeln!(text, "  {label}: {old} (old server) | {new} (new server)");
                }
            }
            _ => {
                let _ = writeln!(text, "{line}");
            }
        }
    }
    text
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The report as a small HTML page (no script, no outside resource; every
/// name and subject escaped).
pub fn render_html(header: &Header, v: &Verification) -> String {
    let mut html = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>MailFerry migration report</title>\
         <style>body{font:15px/1.5 system-ui,sans-serif;max-width:50em;margin:2em auto;padding:0 1em;color:#1d2733}\
         h2{margin-top:1.5em}li{margin:.2em 0}table{border-collapse:collapse;margin:.5em 0 1em}\
         th,td{text-align:left;padding:.2em 1em .2em 0;vertical-align:top}</style></head><body>\n",
    );
    let mut in_list = false;
    let mut in_table = false;
    for (kind, line) in lines(header, v) {
        if kind == "li" && !in_list {
            html.push_str("<ul>\n");
            in_list = true;
        } else if kind != "li" && in_list {
            html.push_str("</ul>\n");
            in_list = false;
        }
        if kind == "head" && !in_table {
            html.push_str("<table>\n");
            in_table = true;
        } else if !matches!(kind, "head" | "row") && in_table {
            html.push_str("</table>\n");
            in_table = false;
        }
        let line = escape(&line);
        let _ = match kind {
            "strong" => writeln!(html, "<p><strong>{line}</strong></p>"),
            "head" | "row" => {
                let tag = if kind == "head" { "th" } else { "td" };
                let cells: String = line
                    .split('\t')
                    .enumerate()
                    .map(|(i, c)| {
                        let tag = if i == 0 { "th" } else { tag };
                        format!("<{tag}>{c}</{tag}>")
                    })
                    .collect();
                writeln!(html, "<tr>{cells}</tr>")
            }
            kind => writeln!(html, "<{kind}>{line}</{kind}>"),
        };
    }
    if in_list {
        html.push_str("</ul>\n");
    }
    if in_table {
        html.push_str("</table>\n");
    }
    html.push_str("</body></html>\n");
    html
}

/// Seconds since 1970 as `YYYY-MM-DD HH:MM UTC` (civil-from-days).
pub fn utc_words(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// The last check of `run` with its spot check, and the report's header
/// (who, where, when).
///
/// # Errors
/// The copy was not checked yet.
pub fn report_of(run: &Run) -> IpcResult<(Header, Verification)> {
    let Some(mut verification) = (run.audit.lock().unwrap_or_else(|e| e.into_inner()))
        .as_ref()
        .map(Verification::from)
    else {
        return Err(IpcError::invalid(
            "Check the copy first: the report is the result of the check.",
        ));
    };
    verification.spot_check = run.spot.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let header = Header {
        from: format!(
            "{} at {}",
            run.source.credentials.user, run.source.endpoint.host
        ),
        to: format!(
            "{} at {}",
            run.dest.credentials.user, run.dest.endpoint.host
        ),
        when: utc_words(system_clock() as u64),
        others: Vec::new(),
    };
    Ok((header, verification))
}

/// Saves the last check's report (a web page, or text) where the owner
/// chooses in the system's save dialog (it opens in Downloads, with a
/// name that says what and when); answers the file's path, or `None`
/// when the owner closed the dialog.
pub async fn save_report(
    app: AppHandle,
    runs: State<'_, Runs>,
    run: RunId,
    html: bool,
) -> IpcResult<Option<String>> {
    use tauri_plugin_dialog::DialogExt;
    let run = runs.get(run)?;
    let (mut header, verification) = report_of(&run)?;
    header.others = others(&app.state::<Choices>(), &app.state::<FileJobs>());
    let content = if html {
        render_html(&header, &verification)
    } else {
        render_text(&header, &verification)
    };
    let dir = app
        .path()
        .download_dir()
        .or_else(|_| app.path().home_dir())
        .map_err(IpcError::internal)?;
    let (ext, kind) = if html {
        ("html", "Web page")
    } else {
        ("txt", "Plain text")
    };
    let name = format!("MailFerry report {}.{ext}", &header.when[..10]);
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title("Save the migration report")
        .set_directory(&dir)
        .set_file_name(&name)
        .add_filter(kind, &[ext])
        .save_file(move |chosen| {
            let _ = tx.send(chosen);
        });
    let Some(chosen) = rx.await.map_err(IpcError::internal)? else {
        return Ok(None);
    };
    let path = chosen.into_path().map_err(IpcError::internal)?;
    write_whole(&path, &content)?;
    Ok(Some(path.display().to_string()))
}

/// Writes `content` to `path` whole or not at all: a file beside it,
/// flushed to disk, then renamed over it (the owner chose the name in the
/// dialog, which asked before replacing a file).
pub fn write_whole(path: &Path, content: &str) -> IpcResult<()> {
    if path.file_name().is_none() {
        return Err(IpcError::invalid("Choose a file name, not a folder."));
    }
    mailferry::archive::write_atomic(path, content.as_bytes(), None).map_err(|e| {
        IpcError::invalid(format!(
            "The report could not be saved there ({e}). Choose another folder, such as Documents."
        ))
    })
}

/// Puts the last check's report in the new mailbox's INBOX, as a message
/// (text and web page), unread: where the owner looks, no mail-sending
/// settings needed.
///
/// # Errors
/// The copy was not checked yet, or the new server could not be reached
/// or refused the message.
pub async fn mail_report_of(run: &Run, others: Vec<String>) -> IpcResult<()> {
    let (mut header, verification) = report_of(run)?;
    header.others = others;
    let text = render_text(&header, &verification);
    let html = render_html(&header, &verification);
    let mail = ReportMail {
        owner: &run.dest.credentials.user,
        subject: mailferry::report_mail::subject(verification.safe_to_switch),
        text: &text,
        html: Some(&html),
        date: system_clock(),
    };
    let mut session = Session::connect(&run.dest.endpoint, &run.dest.credentials).await?;
    let delivered = mail.deliver(&mut session).await;
    session.logout().await;
    delivered.map_err(IpcError::from)
}

/// The window's "Put the report in my new inbox".
pub async fn mail_report(
    runs: State<'_, Runs>,
    choices: State<'_, Choices>,
    files: State<'_, FileJobs>,
    run: RunId,
) -> IpcResult<()> {
    let run = runs.get(run)?;
    mail_report_of(&run, others(&choices, &files)).await
}

/// The report's lines for the mailboxes kept as files or left, from the
/// owner's decisions and this session's exports.
pub fn others(choices: &Choices, files: &FileJobs) -> Vec<String> {
    let kept: Vec<(String, String)> = files
        .kept()
        .into_iter()
        .filter_map(|m| m.said.map(|said| (m.mailbox, said)))
        .collect();
    choices.report_lines(&kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::verify::{FolderAudit, Missing};

    fn verification(safe: bool) -> Verification {
        Verification {
            safe_to_switch: safe,
            source_total: 21,
            folders: vec![FolderAudit {
                source: "Receipts".into(),
                destination: "Receipts".into(),
                source_count: 7,
                destination_count: if safe { 7 } else { 6 },
                missing: if safe { 0 } else { 1 },
                in_other_folders: 0,
                only_at_destination: 0,
            }],
            missing: if safe {
                vec![]
            } else {
                vec![Missing {
                    folder: "Receipts".into(),
                    subject: Some("<script>alert(1)</script> Order 18".into()),
                    from: Some("Customer 18 <c18@example.net>".into()),
                    date: Some("19 Mar 2024 10:18:00 +0100".into()),
                    reason: "the new server refused it: message too large".into(),
                    explained: false,
                }]
            },
            excluded_folders: vec![["[Gmail]/Spam".into(), "skipped: spam".into()]],
            closing: mailferry::verify::CLOSING.map(str::to_owned).to_vec(),
            spot_check: Some(spot_check(safe)),
        }
    }

    /// A spot check whose starred message lost its star when not `safe`.
    fn spot_check(safe: bool) -> SpotCheck {
        use mailferry::spot::{Named, Row, Spot, SpotKind};
        let row = |label: &str, old: &str, new: &str| Row {
            label: label.into(),
            old: old.into(),
            new: new.into(),
            same: old == new,
        };
        SpotCheck {
            passed: safe,
            checks: vec![Spot {
                kind: SpotKind::Starred,
                title: "A starred message".into(),
                outcome: if safe {
                    SpotOutcome::Passed
                } else {
                    SpotOutcome::Failed
                },
                said: if safe {
                    "The starred message \"<b>Quote</b>\" from Ann is starred at the new server too."
                } else {
                    "The starred message \"<b>Quote</b>\" from Ann is at the new server in INBOX, \
                     but it is not starred there."
                }
                .into(),
                rows: vec![
                    row("Subject", "<b>Quote</b>", "<b>Quote</b>"),
                    row("Starred", "yes", if safe { "yes" } else { "no" }),
                ],
                message: Some(Named {
                    folder: "INBOX".into(),
                    subject: Some("<b>Quote</b>".into()),
                    from: Some("Ann".into()),
                    date: None,
                }),
            }],
        }
    }

    fn header() -> Header {
        Header {
            from: "owner@example.com at imap.gmail.com".into(),
            to: "owner@example.com at outlook.office365.com".into(),
            when: utc_words(1_764_152_100),
            others: vec![
                "old@example.com: left where it is: not moved, not kept (Sign-in blocked or suspended)".into(),
            ],
        }
    }

    #[test]
    fn the_text_report_has_counts_gaps_and_the_closing_checklist() {
        let text = render_text(&header(), &verification(false));
        assert!(text.contains("Checked: 2025-11-26 10:15 UTC"), "{text}");
        assert!(text.contains("Not safe to switch yet: 1 message needs attention."));
        assert!(text.contains(
            "- Receipts -> Receipts: 7 at the old server, 6 at the new, 1 not in this folder"
        ));
        assert!(text.contains("Order 18: the new server refused it: message too large"));
        assert!(text.contains("- [Gmail]/Spam: not copied (skipped: spam)"));
        assert!(text.contains("Remove the app passwords"));
        assert!(text.contains("Revoke MailFerry's access"));
        assert!(text.contains(
            "Spot check\n==========\nThe four checks you would do by hand, done on both servers: one \
             or more found a difference."
        ));
        assert!(text.contains(
            "A starred message: NOT passed\nThe starred message \"<b>Quote</b>\" from Ann is at the \
             new server in INBOX, but it is not starred there.\n  Subject: <b>Quote</b> (old server) \
             | <b>Quote</b> (new server)\n  Starred: yes (old server) | no (new server)\n"
        ), "{text}");
        assert!(
            text.contains(
                "The domain's other mailboxes\n============================\n- old@example.com: left \
                 where it is: not moved, not kept (Sign-in blocked or suspended)\n"
            ),
            "{text}"
        );
        let safe = render_text(&header(), &verification(true));
        assert!(safe.contains("Safe to switch your domain"));
        assert!(
            safe.contains("Messages not copied\n===================\nNone."),
            "{safe}"
        );
    }

    #[test]
    fn the_html_report_escapes_untrusted_text_and_runs_nothing() {
        let html = render_html(&header(), &verification(false));
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; Order 18"));
        assert!(html.contains("&lt;c18@example.net&gt;"));
        assert!(html.contains(
            "<h2>Before you close the old account</h2>\n<ul>\n<li>Remove the app passwords"
        ));
        assert_eq!(html.matches("<ul>").count(), html.matches("</ul>").count());
        assert!(html.contains(
            "<h3>A starred message: NOT passed</h3>\n<p>The starred message &quot;&lt;b&gt;Quote\
             &lt;/b&gt;&quot; from Ann is at the new server in INBOX, but it is not starred there.\
             </p>\n<table>\n<tr><th></th><th>Old server</th><th>New server</th></tr>\n<tr><th>\
             Subject</th><td>&lt;b&gt;Quote&lt;/b&gt;</td><td>&lt;b&gt;Quote&lt;/b&gt;</td></tr>\n\
             <tr><th>Starred</th><td>yes</td><td>no</td></tr>\n</table>\n"
        ), "{html}");
        assert!(!html.contains("http"), "no outside resource or link");
    }

    #[test]
    fn a_report_is_written_whole_where_the_owner_chose() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("MailFerry report 2025-11-26.txt");
        write_whole(&path, "one").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one");
        // The dialog asked before replacing: the new report replaces it whole.
        write_whole(&path, "two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file left beside it");
        let nowhere = dir.path().join("gone").join("report.txt");
        let err = write_whole(&nowhere, "x").unwrap_err();
        assert!(
            err.message.contains("Choose another folder"),
            "{}",
            err.message
        );
    }

    #[test]
    fn dates_are_utc_calendar_dates() {
        assert_eq!(utc_words(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_words(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc_words(1_767_225_599), "2025-12-31 23:59 UTC");
    }
}
