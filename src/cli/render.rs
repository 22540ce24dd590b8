//! What the command line prints for people: a check's steps, a copy's
//! report, an audit, folder sizes, the log's lines, and the progress bar on
//! stderr. (`--json` output is the engine's types, serialised where each
//! command writes it.)

use super::engine_error;
use mailferry::check::{CheckReport, Step, STEPS};
use mailferry::endpoint::Security;
use mailferry::event::Event;
use mailferry::folder::{self, FolderMap};
use mailferry::imap::Session;
use mailferry::run::{self, Report};
use mailferry::spot::{Outcome, SpotCheck};
use mailferry::state::LogEntry;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

/// `mailferry discover`: every candidate in the order asked, with where
/// it came from and what the check found, then the verdict.
pub(crate) fn print_discovery(
    out: &mut impl Write,
    d: &mailferry::discover::Discovery,
) -> std::io::Result<()> {
    use mailferry::discover::{Source, Verdict};
    if !d.domain.is_empty() {
        writeln!(out, "Looking for the mail server of {}", d.address)?;
    }
    for (i, c) in d.candidates.iter().enumerate() {
        let source = match c.source {
            Source::Preset => "preset",
            Source::Mx => "MX records",
            Source::Autoconfig => "autoconfig",
            Source::Ispdb => "ISPDB",
            Source::Srv => "SRV records",
            Source::Autodiscover => "Autodiscover",
            Source::Guess => "guess",
        };
        let security = match c.security {
            Security::Tls => "TLS",
            Security::StartTls => "STARTTLS",
            Security::Plain => "unencrypted",
        };
        let mark = if d.chosen == Some(i) { "→" } else { " " };
        writeln!(
            out,
            "{mark} {}:{} ({security}, {source}): {}",
            c.host, c.port, c.how
        )?;
        match &c.verdict {
            Verdict::NotTried => writeln!(out, "    not tried")?,
            Verdict::Proven { .. } => writeln!(out, "    ✓ found and secured (no password sent)")?,
            Verdict::OtherName { message, .. } => writeln!(out, "    ✗ {message}")?,
            Verdict::Failed { message, .. } => writeln!(out, "    ✗ {message}")?,
        }
        for caution in &c.cautions {
            writeln!(out, "    ! {}", caution.words())?;
        }
    }
    writeln!(out, "{}", d.words)
}

/// `mailferry check`: each step of one server, passed, failed or not reached.
pub(crate) fn print_check(
    out: &mut impl Write,
    role: &str,
    r: &CheckReport,
) -> std::io::Result<()> {
    let security = match r.security {
        Security::Tls => "TLS",
        Security::StartTls => "STARTTLS",
        Security::Plain => "not encrypted",
    };
    writeln!(out, "{role}: {}:{} ({security})", r.host, r.port)?;
    for step in STEPS {
        if r.passed.contains(&step) {
            let extra = match step {
                Step::CanReadFolders => {
                    let count = r
                        .folders
                        .map(|n| format!("{n} folder{}", if n == 1 { "" } else { "s" }))
                        .unwrap_or_default();
                    let sep = r
                        .delimiter
                        .as_deref()
                        .map(|d| format!(", separator \"{d}\""))
                        .unwrap_or_else(|| ", flat (no subfolders)".to_owned());
                    let prefix = r
                        .prefix
                        .as_deref()
                        .filter(|p| !p.is_empty())
                        .map(|p| format!(", under \"{p}\""))
                        .unwrap_or_default();
                    format!(" ({count}{sep}{prefix})")
                }
                _ => String::new(),
            };
            writeln!(out, "  ✓ {}{extra}", step.label())?;
        } else if let Some(f) = r.failure.as_ref().filter(|f| f.step == step) {
            writeln!(out, "  ✗ {}", step.label())?;
            writeln!(out, "    {}", f.message)?;
            if let Some(detail) = &f.detail {
                writeln!(out, "    Details: {detail} [{}]", f.problem.code())?;
            } else {
                writeln!(out, "    Details: [{}]", f.problem.code())?;
            }
        } else if step == Step::SecureConnection
            && r.security == Security::Plain
            && r.passed.contains(&Step::FoundServer)
        {
            writeln!(
                out,
                "  - {} (skipped: not encrypted, as asked)",
                step.label()
            )?;
        } else {
            writeln!(out, "  · {}", step.label())?;
        }
    }
    for w in &r.warnings {
        writeln!(out, "  ! {w}")?;
    }
    if !r.notable_capabilities.is_empty() {
        writeln!(out, "  Server offers: {}", r.notable_capabilities.join(" "))?;
    }
    writeln!(
        out,
        "  Verdict: {}\n",
        if r.ok() { "ready" } else { "needs attention" }
    )?;
    Ok(())
}

/// `mailferry sync`: what was copied, folder by folder, and what was not.
pub(crate) fn print_sync_report(
    out: &mut impl Write,
    report: &Report,
    state: &std::path::Path,
) -> std::io::Result<()> {
    let verb = if report.dry { "Would copy" } else { "Copied" };
    let bytes: u64 = report.folders.iter().map(|f| f.bytes).sum();
    writeln!(
        out,
        "{verb} {} message{} ({}) in {} folder{}; {} already there; {} skipped; {} could not be copied.",
        report.transferred(),
        plural(report.transferred()),
        run::human_bytes(bytes),
        report.folders.len(),
        plural(report.folders.len() as u64),
        report.already_there(),
        report.skipped(),
        report.failed(),
    )?;
    for f in &report.folders {
        if let Some(why) = &f.refused {
            writeln!(
                out,
                "  {} → {}: this folder could not be copied this time: {why}",
                f.source, f.destination
            )?;
            continue;
        }
        writeln!(
            out,
            "  {} → {}: {} {}, {} already there, {} skipped, {} not copied",
            f.source,
            f.destination,
            f.transferred,
            if report.dry { "to copy" } else { "copied" },
            f.already_there,
            f.skipped,
            f.failed
        )?;
        if f.in_other_folders > 0 {
            writeln!(
                out,
                "    {} already copied through their Gmail labels (other folders), so not copied here again",
                f.in_other_folders
            )?;
        }
        if f.flags_updated > 0 || f.removed > 0 {
            writeln!(
                out,
                "    {} with read/starred/tags brought up to date, {} removed because deleted at the source",
                f.flags_updated, f.removed
            )?;
        }
        if !f.dropped_keywords.is_empty() {
            writeln!(
                out,
                "    (tags the destination can't keep were left off: {})",
                f.dropped_keywords.join(", ")
            )?;
        }
    }
    for (name, why) in &report.excluded_folders {
        writeln!(out, "  {name}: not copied ({why})")?;
    }
    for renamed in &report.renamed {
        writeln!(out, "  {}.", renamed.describe())?;
    }
    let errors: Vec<_> = report
        .folders
        .iter()
        .flat_map(|f| f.errors.iter().map(move |e| (f, e)))
        .collect();
    if !errors.is_empty() {
        writeln!(out, "\nMessages that could not be copied:")?;
        for (f, e) in errors {
            writeln!(
                out,
                "  {}: \"{}\" from {} ({}): {}",
                f.source,
                e.subject.as_deref().unwrap_or("(no subject)"),
                e.from.as_deref().unwrap_or("(unknown sender)"),
                e.date.as_deref().unwrap_or("no date"),
                e.reason
            )?;
        }
    }
    let refused = report.refused().count();
    if refused > 0 {
        writeln!(
            out,
            "\n{refused} folder{} could not be copied (see above); every other folder was. \
             Running the copy again tries {} again.",
            plural(refused as u64),
            if refused == 1 { "it" } else { "them" }
        )?;
    }
    if let Some(why) = &report.stopped {
        writeln!(out, "\nStopped early: {why}")?;
    }
    if !report.dry {
        writeln!(
            out,
            "Progress is kept in {}; running the same command again copies only what is missing.",
            state.display()
        )?;
    }
    Ok(())
}

/// The "s" of a count other than one.
pub(crate) fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Progress on stderr while copying (hidden when stderr is not a terminal).
pub(crate) struct Progress {
    bar: indicatif::ProgressBar,
}

impl Progress {
    pub(crate) fn new(quiet: bool) -> Self {
        let bar = if quiet || !std::io::stderr().is_terminal() {
            indicatif::ProgressBar::hidden()
        } else {
            indicatif::ProgressBar::new(0)
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {msg} [{bar:30}] {pos}/{len} messages, {per_sec}, {eta} left",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        Progress { bar }
    }

    pub(crate) fn show(&mut self, event: &Event) {
        match event {
            Event::FolderScanned {
                folder, to_copy, ..
            } => {
                self.bar.inc_length(*to_copy);
                self.bar.set_message(folder.clone());
            }
            Event::MessagesCopied { count, .. } => self.bar.inc(*count),
            Event::Throttled { wait_secs, reason } => {
                self.bar.println(format!(
                    "Waiting {} before going on: {reason}",
                    mailferry::error::human_duration(*wait_secs)
                ));
            }
            Event::MessageFailed { folder, reason, .. } => {
                self.bar
                    .println(format!("{folder}: a message could not be copied: {reason}"));
            }
            _ => {}
        }
    }

    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// `mailferry verify`: the counts per folder, what is missing and why, and
/// whether it is safe to switch.
pub(crate) fn print_audit(
    out: &mut impl Write,
    audit: &mailferry::verify::Audit,
    spot: Option<&SpotCheck>,
) -> std::io::Result<()> {
    let total: u64 = audit
        .folders
        .iter()
        .map(|f| f.source_messages - f.in_other_folders)
        .sum();
    let missing: usize = audit.folders.iter().map(|f| f.missing.len()).sum();
    if missing == 0 {
        writeln!(out, "All {total} messages arrived.")?;
    } else {
        writeln!(
            out,
            "{} of {total} messages arrived; {missing} did not ({} without a known reason).",
            total - missing as u64,
            audit.unexplained()
        )?;
    }
    writeln!(
        out,
        "\n  {:<30} {:>8} {:>8}  difference",
        "Folder", "source", "dest."
    )?;
    for f in &audit.folders {
        let diff = if let Some(why) = &f.unreadable {
            format!("could not be checked: {why}")
        } else if f.missing.is_empty() {
            "none".to_owned()
        } else {
            format!("{} not there", f.missing.len())
        };
        let mut extra = String::new();
        if f.in_other_folders > 0 {
            extra.push_str(&format!(
                " ({} are in their label folders)",
                f.in_other_folders
            ));
        }
        if f.only_at_destination > 0 {
            extra.push_str(&format!(
                " (+{} only at the destination)",
                f.only_at_destination
            ));
        }
        writeln!(
            out,
            "  {:<30} {:>8} {:>8}  {diff}{extra}",
            format!("{} → {}", f.source, f.destination),
            f.source_messages,
            f.destination_messages
        )?;
    }
    for (name, why) in &audit.excluded_folders {
        writeln!(out, "  {name}: not copied ({why})")?;
    }
    let gaps: Vec<_> = audit
        .folders
        .iter()
        .flat_map(|f| f.missing.iter().map(move |m| (f, m)))
        .collect();
    if !gaps.is_empty() {
        writeln!(out, "\nNot at the destination:")?;
        for (f, m) in gaps {
            writeln!(
                out,
                "  {}: \"{}\" from {} ({}): {}",
                f.source,
                m.subject.as_deref().unwrap_or("(no subject)"),
                m.from.as_deref().unwrap_or("(unknown sender)"),
                m.date.as_deref().unwrap_or("no date"),
                m.reason
            )?;
        }
    }
    if let Some(spot) = spot {
        print_spot(out, spot)?;
    }
    writeln!(
        out,
        "\n{}",
        if audit.safe_to_switch {
            "Safe to switch your domain: every message is there or has a known reason."
        } else {
            "Not safe to switch yet: some messages are missing without a known reason, or a folder could not be \
             checked. Run the copy again, then check again."
        }
    )?;
    if audit.safe_to_switch {
        writeln!(out, "\nWhen the move is finished:")?;
        for step in mailferry::verify::CLOSING {
            writeln!(out, "  - {step}")?;
        }
    }
    Ok(())
}

/// `verify --spot-check`: the four checks, each with its result in words
/// and the old and the new server side by side.
pub(crate) fn print_spot(out: &mut impl Write, spot: &SpotCheck) -> std::io::Result<()> {
    writeln!(out, "\nSpot check (what you would check by hand):")?;
    for check in &spot.checks {
        let mark = match check.outcome {
            Outcome::Passed => "ok",
            Outcome::Failed => "NOT OK",
            Outcome::NothingToCheck => "nothing to check",
        };
        writeln!(out, "\n  {} [{mark}]", check.title)?;
        writeln!(out, "  {}", check.said)?;
        if check.rows.is_empty() {
            continue;
        }
        let width =
            |f: fn(&mailferry::spot::Row) -> usize| check.rows.iter().map(f).max().unwrap_or(0);
        let label = width(|r| r.label.chars().count());
        let old = width(|r| r.old.chars().count()).max("Old server".len());
        writeln!(out, "    {:label$}  {:old$}  New server", "", "Old server")?;
        for row in &check.rows {
            let differs = if row.same { "" } else { "  <- differs" };
            writeln!(
                out,
                "    {:label$}  {:old$}  {}{differs}",
                row.label, row.old, row.new
            )?;
        }
    }
    writeln!(
        out,
        "\n{}",
        if spot.passed {
            "The spot check passed."
        } else {
            "The spot check found a difference (see NOT OK above). Run the copy again, then check again."
        }
    )
}

/// `--justfoldersizes`: messages and bytes per mapped folder on both sides.
pub(crate) async fn print_folder_sizes(
    out: &mut impl Write,
    map: &FolderMap,
    source: &mut Session,
    dest: &mut Session,
    json: bool,
) -> anyhow::Result<()> {
    let pairs: Vec<_> = map
        .entries
        .iter()
        .filter_map(|e| match &e.target {
            folder::Target::Folder { name, .. } => Some((e.source.clone(), name.clone())),
            folder::Target::Excluded => None,
        })
        .collect();
    let sources: Vec<_> = pairs.iter().map(|(s, _)| s.clone()).collect();
    let dests: Vec<_> = pairs.iter().map(|(_, d)| d.clone()).collect();
    let src = mailferry::scan::folder_sizes(source, &sources)
        .await
        .map_err(|e| engine_error("Source server", e))?;
    let dst = mailferry::scan::folder_sizes(dest, &dests)
        .await
        .map_err(|e| engine_error("Destination server", e))?;
    if json {
        let rows: Vec<_> = src
            .iter()
            .zip(&dst)
            .map(|(s, d)| serde_json::json!({ "source": s, "destination": d }))
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<32} {:>9} {:>10} {:>10}   {:<24} {:>9} {:>10}",
        "Source folder", "messages", "size", "largest", "Destination folder", "messages", "size"
    )?;
    for (s, d) in src.iter().zip(&dst) {
        writeln!(
            out,
            "{:<32} {:>9} {:>10} {:>10}   {:<24} {:>9} {:>10}",
            s.folder,
            s.messages,
            run::human_bytes(s.bytes),
            run::human_bytes(s.largest),
            d.folder,
            d.messages,
            run::human_bytes(d.bytes)
        )?;
    }
    let total = |v: &[mailferry::scan::FolderSize]| {
        (
            v.iter().map(|f| f.messages).sum::<u64>(),
            v.iter().map(|f| f.bytes).sum::<u64>(),
        )
    };
    let (sm, sb) = total(&src);
    let (dm, db) = total(&dst);
    writeln!(
        out,
        "Total: {sm} messages ({}) at the source, {dm} ({}) at the destination.",
        run::human_bytes(sb),
        run::human_bytes(db)
    )?;
    let estimate = mailferry::preset::estimate(
        sm.saturating_sub(dm),
        sb.saturating_sub(db),
        &mailferry::preset::for_host(&source.endpoint().host),
        &mailferry::preset::for_host(&dest.endpoint().host),
    );
    writeln!(out, "Copying what is missing: {}", estimate.words)?;
    Ok(())
}

/// `mailferry log`'s lines: where each found message went, or that none matched.
pub(crate) fn print_log(
    out: &mut impl Write,
    search: &str,
    found: &[(PathBuf, LogEntry)],
) -> std::io::Result<()> {
    if found.is_empty() {
        writeln!(out, "No message matches \"{search}\".")?;
    } else {
        for (_, e) in found {
            let fate = e.fate.words(e.dest_folder.as_deref());
            writeln!(
                out,
                "{} | {} | \"{}\" | {} — {fate}",
                e.source_folder,
                e.date.as_deref().unwrap_or("no date"),
                e.subject.as_deref().unwrap_or("(no subject)"),
                e.from.as_deref().unwrap_or("(unknown sender)"),
            )?;
        }
    }
    Ok(())
}
