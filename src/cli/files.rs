//! `mailferry export` and `mailferry import`: a mailbox to files on this
//! computer and files into a mailbox, through the engine's `archive`.

use super::args::{ExportArgs, ImportArgs};
use super::engine_error;
use super::sides::Side;
use super::sync::{signalled, stop_on_signal};
use super::{default_state_path, unix_now};
use anyhow::{anyhow, Context};
use mailferry::archive::{export, import, ArchiveError, Format};
use mailferry::batch;
use mailferry::domain::parse_list;
use mailferry::imap::Session;
use mailferry::run::Cancel;
use mailferry::secret::Secret;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// An archive error as the CLI prints it.
fn archive_error(role: &str, e: ArchiveError) -> anyhow::Error {
    match e {
        ArchiveError::Server(e) => engine_error(role, e),
        other => anyhow!("{other}"),
    }
}

/// Signs in to one side.
async fn sign_in(side: Side) -> anyhow::Result<Session> {
    let role = side.role();
    let n = side.n;
    let (endpoint, credentials) = side
        .resolve()?
        .with_context(|| format!("give --host{n} and --user{n}"))?;
    Session::connect(&endpoint, &credentials)
        .await
        .map_err(|e| engine_error(role, e))
}

/// `mailferry export`: the source mailbox to files, or with `--verify`
/// the archive compared with the source.
pub(crate) async fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    if let (Some(list), Some(spec)) = (args.mailboxes.clone(), args.row.clone()) {
        return export_row(args, &list, &spec).await;
    }
    let mut side = Side::from(args.side1);
    side.lookup = args.lookup;
    let format = Format::from_name(&args.format).expect("clap checked the format");
    let mut session = sign_in(side).await?;
    let mut out = std::io::stdout().lock();
    if args.verify {
        let audit = export::verify(&mut session, &args.to).await;
        session.logout().await;
        let audit = audit.map_err(|e| archive_error("Source", e))?;
        if args.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&audit)?)?;
        } else {
            for f in &audit.folders {
                writeln!(
                    out,
                    "{}: {} at the source, {} in the archive{}",
                    f.folder,
                    f.at_source,
                    f.in_archive,
                    if f.missing.is_empty() {
                        String::new()
                    } else {
                        format!(", {} missing", f.missing.len())
                    }
                )?;
            }
            for file in &audit.damaged {
                writeln!(out, "  ! {file} no longer holds what was written")?;
            }
            writeln!(
                out,
                "{}",
                if audit.complete {
                    "The archive holds every message of the source, as written."
                } else {
                    "The archive is not complete: run the export again."
                }
            )?;
        }
        return Ok(ExitCode::from(u8::from(!audit.complete)));
    }
    let cancel = Cancel::new();
    let signal = stop_on_signal(cancel.clone());
    let report = export::export(&mut session, &args.to, format, &cancel, &unix_now).await;
    session.logout().await;
    let report = report.map_err(|e| archive_error("Source", e))?;
    print_export(&report, args.json)?;
    Ok(signalled(&signal).unwrap_or(ExitCode::from(report.exit_code())))
}

/// `mailferry export --mailboxes FILE --row N`: one row's old mailbox to
/// `--to DIR/<its address>`, as one worker of a batch engine; exit codes
/// as `sync --row` (`batch::DONE`, `REFUSALS`, `TEMPORARY`, `PERMANENT`).
async fn export_row(args: ExportArgs, list: &Path, spec: &str) -> anyhow::Result<ExitCode> {
    let text = Secret::new(
        std::fs::read_to_string(list)
            .with_context(|| format!("cannot read --mailboxes {}", list.display()))?,
    );
    let rows = parse_list(text.expose(), &[]);
    drop(text);
    let row = match super::sync::row_for_worker(rows, spec, "exported")? {
        Ok(row) => row,
        Err(code) => return Ok(code),
    };
    let mut side = Side::from(args.side1);
    side.lookup = args.lookup;
    let (endpoint, credentials) = side.resolve_for(&row.source_user, row.source_password)?;
    let dir = args.to.join(archive_dir_name(&credentials.user));
    let progress = default_state_path(&format!(
        "export of {} at {} to {}",
        credentials.user,
        endpoint.host,
        dir.display()
    ))?;
    let failed = |e: mailferry::error::Error| {
        let code = if e.is_transient() {
            batch::TEMPORARY
        } else {
            batch::PERMANENT
        };
        eprintln!("mailferry: {:#}", engine_error("Source", e));
        Ok(ExitCode::from(code))
    };
    let mut session = match Session::connect(&endpoint, &credentials).await {
        Ok(session) => session,
        Err(e) => return failed(e),
    };
    let format = Format::from_name(&args.format).expect("clap checked the format");
    let cancel = Cancel::new();
    let signal = stop_on_signal(cancel.clone());
    let report = export::export_with_progress_file(
        &mut session,
        &dir,
        Some(&progress),
        format,
        &cancel,
        &unix_now,
        &mut |_| {},
    )
    .await;
    session.logout().await;
    let report = match report {
        Ok(report) => report,
        Err(ArchiveError::Server(e)) => return failed(e),
        // A folder that holds another format, a name the file system
        // cannot take: the same again tomorrow.
        Err(e @ ArchiveError::Unusable(_)) => {
            eprintln!("mailferry: {e}");
            return Ok(ExitCode::from(batch::PERMANENT));
        }
        // The disk or the progress file: worth another try.
        Err(e) => {
            eprintln!("mailferry: {e}");
            return Ok(ExitCode::from(batch::TEMPORARY));
        }
    };
    print_export(&report, args.json)?;
    Ok(signalled(&signal).unwrap_or(ExitCode::from(report.exit_code())))
}

/// The folder of one mailbox's archive under `--to`: its address, with
/// what a file name cannot hold replaced.
fn archive_dir_name(user: &str) -> String {
    let name: String = user
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    match name.trim_start_matches('.') {
        "" => "mailbox".to_owned(),
        rest if rest.len() == name.len() => name,
        rest => format!("_{rest}"),
    }
}

/// An export's report, as words or JSON.
fn print_export(report: &export::ExportReport, json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(report)?)?;
        return Ok(());
    }
    {
        for f in &report.folders {
            write!(
                out,
                "{} -> {}: {} written, {} already there",
                f.folder, f.path, f.written, f.already
            )?;
            if f.vanished > 0 {
                write!(out, ", {} deleted at the source meanwhile", f.vanished)?;
            }
            writeln!(out)?;
            if let Some(problem) = &f.problem {
                writeln!(out, "  ! {problem}")?;
            }
        }
        writeln!(
            out,
            "{} messages written, {} already in {}.",
            report.written(),
            report.already(),
            report.archive.display()
        )?;
    }
    Ok(())
}

/// `mailferry import`: files into the destination mailbox.
pub(crate) async fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let mut side = Side::from(args.side2);
    side.lookup = args.lookup;
    let rules = args.rules.rules()?;
    let contents = import::read_contents(&args.path).map_err(|e| archive_error("Files", e))?;
    let (endpoint, credentials) = side
        .clone()
        .resolve()?
        .context("give --host2 and --user2 (where the mail goes)")?;
    let state = match args.state {
        Some(path) => path,
        None => {
            let archive = std::fs::canonicalize(&args.path).unwrap_or(args.path.clone());
            default_state_path(&format!(
                "import {} to {}@{}:{}",
                archive.display(),
                credentials.user,
                endpoint.host,
                endpoint.port
            ))?
        }
    };
    let mut session = Session::connect(&endpoint, &credentials)
        .await
        .map_err(|e| engine_error(side.role(), e))?;
    let mut out = std::io::stdout().lock();
    if args.dry {
        let tree = mailferry::folder::read_tree(&mut session).await;
        session.logout().await;
        let tree = tree.map_err(|e| engine_error("Destination", e))?;
        let map = import::import_map(&contents, &tree, &rules);
        if args.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&map)?)?;
        } else {
            writeln!(
                out,
                "{} messages in {} (--dry: nothing was sent). Where each folder would go:",
                contents.messages.len(),
                contents.kind
            )?;
            write!(out, "{}", map.render_text())?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let cancel = Cancel::new();
    let signal = stop_on_signal(cancel.clone());
    let report = import::import(&mut session, &contents, &state, &rules, &cancel, &unix_now).await;
    session.logout().await;
    let report = report.map_err(|e| archive_error("Destination", e))?;
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        writeln!(out, "Importing {}:", report.kind)?;
        for f in &report.folders {
            match &f.destination {
                Some(d) => writeln!(
                    out,
                    "{} -> {d}: {} copied, {} already there",
                    f.folder, f.copied, f.already
                )?,
                None => writeln!(
                    out,
                    "{}: left out (see the folder map with --dry)",
                    f.folder
                )?,
            }
            for text in &f.refused {
                writeln!(out, "  ! refused: {text}")?;
            }
        }
        writeln!(out, "{} messages copied.", report.copied())?;
    }
    Ok(signalled(&signal).unwrap_or(ExitCode::from(report.exit_code())))
}
