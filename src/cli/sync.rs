//! `mailferry sync`: one pair of accounts through the engine's `Job`
//! (folders first, then the copy), or a list of mailboxes through
//! `mailferry::domain`; a signal stops it after the batch in flight.

use super::args::SyncArgs;
use super::render::{plural, print_folder_sizes, print_sync_report, Progress};
use super::{default_state_path, engine_error, open_job, unix_now};
use anyhow::{bail, Context};
use mailferry::batch::store::{Ending, StateStore, StoreError};
use mailferry::batch::{self, Share};
use mailferry::domain::{
    migrate_all, migrate_all_with, parse_list, Domain, Each, ListRow, Mailbox, Outcome,
};
use mailferry::endpoint::Endpoint;
use mailferry::event::Event;
use mailferry::job::{Job, ProgressFile};
use mailferry::run::Cancel;
use mailferry::secret::Secret;
use std::io::Write;
use std::process::ExitCode;

/// Ctrl-C, or a service manager's stop (SIGTERM): the copy finishes the
/// batch in flight, records it and stops; the command then exits 130 or
/// 143. A second signal exits at once (the progress file is safe at any
/// moment: the next run settles what was in flight).
pub(crate) fn stop_on_signal(cancel: Cancel) -> std::sync::Arc<std::sync::atomic::AtomicU8> {
    use std::sync::atomic::{AtomicU8, Ordering};
    let got = std::sync::Arc::new(AtomicU8::new(0));
    let seen = got.clone();
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return,
            };
        loop {
            #[cfg(unix)]
            let code = tokio::select! {
                _ = tokio::signal::ctrl_c() => 130,
                _ = term.recv() => 143,
            };
            #[cfg(not(unix))]
            let code = match tokio::signal::ctrl_c().await {
                Ok(()) => 130,
                Err(_) => return,
            };
            if seen.swap(code, Ordering::SeqCst) != 0 {
                std::process::exit(i32::from(code));
            }
            eprintln!(
                "Stopping after the messages being copied now are recorded… (press Ctrl-C again to stop at once)"
            );
            cancel.cancel();
        }
    });
    got
}

/// The exit code after a run a signal stopped, if one did.
pub(crate) fn signalled(got: &std::sync::atomic::AtomicU8) -> Option<ExitCode> {
    match got.load(std::sync::atomic::Ordering::SeqCst) {
        0 => None,
        code => Some(ExitCode::from(code)),
    }
}

/// `mailferry sync`: creates the folders and copies one pair of accounts
/// through the engine's `Job`, or every mailbox of `--mailboxes FILE`.
pub(crate) async fn run(args: SyncArgs) -> anyhow::Result<ExitCode> {
    if args.mailboxes.is_some() {
        return run_mailboxes(args).await;
    }
    let options = args.copy.options(args.dry)?;
    let signal = stop_on_signal(options.cancel.clone());
    let json = args.copy.json;
    let mut job = open_job(
        args.servers,
        &args.rules,
        "mailferry sync",
        args.copy.state.clone(),
        args.copy.rebuild_progress,
    )
    .await?;
    let mut out = std::io::stdout().lock();
    if args.justfoldersizes {
        let map = job.mapped().clone();
        let (source, dest) = job.sessions();
        let result = print_folder_sizes(&mut out, &map, source, dest, json).await;
        job.close().await;
        result?;
        return Ok(ExitCode::SUCCESS);
    }
    // A folder question holds back only the folders it is about; the rest
    // goes ahead, and the questions are listed at the end (exit 1).
    let questions = job.questions().to_vec();
    let asked = |out: &mut dyn Write, code: u8| -> anyhow::Result<ExitCode> {
        if questions.is_empty() {
            return Ok(ExitCode::from(code));
        }
        let mut text = format!(
            "\n{} folder question{} to decide (--f1f2, --exclude, --regextrans2 or --merge settle them); \
             the folders concerned were left out of this run:\n",
            questions.len(),
            plural(questions.len() as u64)
        );
        for q in &questions {
            text.push_str(&format!("  ! {}\n", q.describe()));
        }
        if json {
            eprint!("{text}");
        } else {
            write!(out, "{text}")?;
        }
        Ok(ExitCode::from(code.max(1)))
    };
    let plan = match job.plan() {
        Ok(plan) => plan,
        Err(e) => {
            job.close().await;
            return Err(engine_error("Destination server", e));
        }
    };
    if args.dry && args.justfolders {
        job.close().await;
        if plan.is_empty() {
            writeln!(out, "Nothing to do: every folder is already there.")?;
        } else {
            writeln!(
                out,
                "Would run these steps on the destination (--dry: nothing was changed):"
            )?;
            write!(out, "{}", plan.render_text())?;
        }
        return asked(&mut out, 0);
    }
    if !args.dry {
        job.set_after_switch(options.after_switch);
        let created = match job.create_folders(&unix_now).await {
            Ok(created) => created,
            Err(e) => {
                job.close().await;
                return Err(engine_error("Destination server", e));
            }
        };
        for line in created.moved_lines() {
            if json {
                eprintln!("{line}");
            } else {
                writeln!(out, "{line}")?;
            }
        }
        if args.justfolders {
            let refused = job.refused_folders().to_vec();
            job.close().await;
            for name in &created.created {
                writeln!(out, "  + {}", name.display())?;
            }
            for folder in &refused {
                let why = folder.refused.as_deref().unwrap_or_default();
                writeln!(out, "  ! {why}")?;
            }
            writeln!(out, "{}", created.summary())?;
            return asked(&mut out, if refused.is_empty() { 0 } else { 1 });
        }
    } else if !plan.is_empty() {
        writeln!(out, "Would create these folders first:")?;
        write!(out, "{}", plan.render_text())?;
    }

    // The copy.
    let mut progress = Progress::new(json);
    let result = job
        .copy(&options, &unix_now, &mut |e| progress.show(&e))
        .await;
    progress.finish();
    if job.rebuilt_progress() {
        eprintln!(
            "The progress file {} was damaged: it is kept beside a new one, which this run \
             built from what both servers hold.",
            job.progress_path().display()
        );
    }
    let state_path = job.progress_path().to_owned();
    job.close().await;
    let report = result.map_err(|e| engine_error("Copy", e))?;
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        print_sync_report(&mut out, &report, &state_path)?;
    }
    let code = asked(&mut out, report.exit_code())?;
    Ok(signalled(&signal).unwrap_or(code))
}

/// `mailferry sync --mailboxes FILE`: every mailbox of the list, several at
/// once, within each server's connection budget; a line per mailbox.
async fn run_mailboxes(args: SyncArgs) -> anyhow::Result<ExitCode> {
    let path = args.mailboxes.clone().expect("checked by the caller");
    let text = Secret::new(
        std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read --mailboxes {}", path.display()))?,
    );
    let rows = parse_list(text.expose(), &[]);
    drop(text);
    if let Some(spec) = args.row.clone() {
        return run_row(args, rows, &spec).await;
    }
    let bad: Vec<&str> = rows.iter().filter_map(|r| r.problem.as_deref()).collect();
    if !bad.is_empty() {
        bail!(
            "nothing was copied: the list {} needs fixing first:\n  {}",
            path.display(),
            bad.join("\n  ")
        );
    }
    if rows.is_empty() {
        bail!("the list {} names no mailbox", path.display());
    }
    let [side1, side2] = args.servers.sides();
    let mut mailboxes = Vec::with_capacity(rows.len());
    let mut endpoints = None;
    for row in rows {
        let (mailbox, source, dest) = mailbox_of(&side1, &side2, row)?;
        mailboxes.push(mailbox);
        endpoints.get_or_insert((source, dest));
    }
    let (source, dest) = endpoints.expect("at least one row");
    let domain = domain_of(
        args.share,
        [args.maxconnections1, args.maxconnections2],
        args.at_once,
        source,
        dest,
    );
    let options = shared(args.copy.options(args.dry)?, args.share)?;
    let signal = stop_on_signal(options.cancel.clone());
    let rules = args.rules.rules()?;
    let now = unix_now;
    eprintln!(
        "Copying {} mailboxes, {} at a time (at most {} connections to {}, {} to {})…",
        mailboxes.len(),
        domain.at_once,
        domain.source_connections,
        domain.source.host,
        domain.dest_connections,
        domain.dest.host
    );
    let outcomes = migrate_all(&domain, &mailboxes, &rules, &options, &now).await;
    let mut out = std::io::stdout().lock();
    let mut code = 0u8;
    for (mailbox, outcome) in mailboxes.iter().zip(&outcomes) {
        print_outcome(&mut out, mailbox, outcome)?;
        code = match outcome {
            Outcome::Failed(_) => 2,
            _ => code.max(batch::exit_code(outcome)),
        };
    }
    let done = outcomes.iter().filter(|o| o.is_complete()).count();
    writeln!(out, "{done} of {} mailboxes complete.", outcomes.len())?;
    Ok(signalled(&signal).unwrap_or(ExitCode::from(code)))
}

/// One mailbox's line: what was copied, or why it was not.
fn print_outcome(out: &mut dyn Write, mailbox: &Mailbox, outcome: &Outcome) -> anyhow::Result<()> {
    let who = format!("{} -> {}", mailbox.source.user, mailbox.dest.user);
    match outcome {
        Outcome::Copied(report) => writeln!(
            out,
            "{who}: copied {}, already there {}, skipped {}, failed {}",
            report.transferred(),
            report.already_there(),
            report.skipped(),
            report.failed()
        )?,
        Outcome::NeedsDecision { count, report } => writeln!(
            out,
            "{who}: copied {}, already there {}, skipped {}, failed {}; \
             {count} folder question(s) to decide: those folders were left out \
             (run `mailferry folders` for this mailbox)",
            report.transferred(),
            report.already_there(),
            report.skipped(),
            report.failed()
        )?,
        Outcome::Failed(e) => {
            writeln!(out, "{who}: not copied: {e} [{}]", e.code())?;
            if let Some(detail) = e.detail() {
                writeln!(out, "  Details: {detail}")?;
            }
        }
    }
    Ok(())
}

/// A row of the list as a mailbox to migrate (its accounts on both
/// servers, its own progress file), with the two servers' addresses.
fn mailbox_of(
    side1: &super::sides::Side,
    side2: &super::sides::Side,
    row: ListRow,
) -> anyhow::Result<(Mailbox, Endpoint, Endpoint)> {
    let (source, source_credentials) = side1.resolve_for(&row.source_user, row.source_password)?;
    let (dest, dest_credentials) =
        side2.resolve_for(&row.destination_user, row.destination_password)?;
    let job = mailferry::paths::job_name(
        &source_credentials.user,
        &source,
        &dest_credentials.user,
        &dest,
    );
    let mailbox = Mailbox {
        source: source_credentials,
        dest: dest_credentials,
        state: default_state_path(&job)?,
    };
    Ok((mailbox, source, dest))
}

/// The two servers and this worker's share of their connection caps
/// (`--maxconnectionsN`, else the provider's, times `--share`).
fn domain_of(
    share: Option<Share>,
    [given1, given2]: [Option<usize>; 2],
    at_once: usize,
    source: Endpoint,
    dest: Endpoint,
) -> Domain {
    let share = share.unwrap_or(Share::WHOLE);
    let cap = |given: Option<usize>, host: &str| {
        share.of_connections(
            given
                .unwrap_or(mailferry::preset::for_host(host).max_connections as usize)
                .max(1),
        )
    };
    Domain {
        source_connections: cap(given1, &source.host),
        dest_connections: cap(given2, &dest.host),
        at_once: at_once.max(1),
        source,
        dest,
    }
}

/// `options` with `share` applied to the rates given.
fn shared(
    mut options: mailferry::run::Options,
    share: Option<Share>,
) -> anyhow::Result<mailferry::run::Options> {
    if let Some(share) = share {
        options.max_messages_per_second = options.max_messages_per_second.map(|r| share.of_rate(r));
        options.max_bytes_per_second = options
            .max_bytes_per_second
            .map(|r| (share.of_rate(r as f64) as u64).max(1));
    }
    Ok(options)
}

/// `mailferry sync --mailboxes FILE --row N`: one worker of a batch engine
/// migrates one row of the list, its progress file restored from and saved
/// to `--state-store`; the exit code says whether to run it again
/// (`mailferry::batch`).
/// The row of `rows` that `spec` (`N` or `env:NAME`) names, for one batch
/// worker; else the exit code to end with, said on stderr: nothing to do
/// past the end of the list, a permanent failure for a row that cannot be
/// used (`doing`: "migrated", "exported").
pub(crate) fn row_for_worker(
    rows: Vec<ListRow>,
    spec: &str,
    doing: &str,
) -> anyhow::Result<Result<ListRow, ExitCode>> {
    let index =
        batch::row_index(spec, |name| std::env::var(name).ok()).map_err(anyhow::Error::msg)?;
    let count = rows.len();
    let Some(row) = rows.into_iter().nth(index) else {
        eprintln!(
            "The list has {count} mailboxes (rows 0 to {}): row {index} has nothing to do.",
            count.saturating_sub(1)
        );
        return Ok(Err(ExitCode::from(batch::DONE)));
    };
    if let Some(problem) = &row.problem {
        eprintln!("mailferry: row {index} of the list cannot be {doing}: {problem}");
        return Ok(Err(ExitCode::from(batch::PERMANENT)));
    }
    Ok(Ok(row))
}

async fn run_row(args: SyncArgs, rows: Vec<ListRow>, spec: &str) -> anyhow::Result<ExitCode> {
    let row = match row_for_worker(rows, spec, "migrated")? {
        Ok(row) => row,
        Err(code) => return Ok(code),
    };
    let store = args
        .state_store
        .as_deref()
        .map(StateStore::open)
        .transpose()?;
    let [side1, side2] = args.servers.sides();
    let (mailbox, source, dest) = mailbox_of(&side1, &side2, row)?;
    let key = store_key(&mailbox.state);
    let mut seen = None;
    if let Some(store) = &store {
        match store.restore(&key, &mailbox.state).await {
            Ok(version) => seen = version,
            Err(e) => {
                eprintln!("mailferry: {e:#}");
                return Ok(ExitCode::from(batch::TEMPORARY));
            }
        }
    }
    let (source_endpoint, dest_endpoint) = (source.clone(), dest.clone());
    let domain = domain_of(
        args.share,
        [args.maxconnections1, args.maxconnections2],
        args.at_once,
        source,
        dest,
    );
    let options = shared(args.copy.options(args.dry)?, args.share)?;
    let signal = stop_on_signal(options.cancel.clone());
    let rules = args.rules.rules()?;
    let now = unix_now;
    let (folder_done, mut done) = tokio::sync::mpsc::unbounded_channel::<()>();
    let copy = async {
        let mut sink = move |event: Event| {
            if matches!(event, Event::FolderDone { .. }) {
                let _ = folder_done.send(());
            }
        };
        let each = vec![Each::to(&mut sink)];
        let mailboxes = std::slice::from_ref(&mailbox);
        migrate_all_with(&domain, mailboxes, &|_| rules.clone(), &options, &now, each).await
    };
    // After every folder: the progress so far, to the store. Newer progress
    // there stops this worker.
    let upload = async {
        let Some(store) = &store else {
            while done.recv().await.is_some() {}
            return None;
        };
        while done.recv().await.is_some() {
            while done.try_recv().is_ok() {}
            match store.save(&key, &mailbox.state, &mut seen).await {
                Ok(()) => {}
                Err(e @ StoreError::Newer { .. }) => {
                    options.cancel.cancel();
                    while done.recv().await.is_some() {}
                    return Some(e);
                }
                Err(e) => eprintln!("mailferry: {e:#} (saved again after the next folder)"),
            }
        }
        None
    };
    let (mut outcomes, refused) = tokio::join!(copy, upload);
    let outcome = outcomes.pop().expect("one outcome per mailbox");
    let mut line = Vec::new();
    print_outcome(&mut line, &mailbox, &outcome)?;
    std::io::stdout().write_all(&line)?;
    let mut ending = Ending {
        exit_code: batch::exit_code(&outcome),
        words: String::from_utf8_lossy(&line).trim_end().to_owned(),
        safe_to_switch: None,
    };
    if let Some(e) = refused {
        // Newer progress is in the store: this worker's must not replace it.
        eprintln!("mailferry: {e}");
        return Ok(ExitCode::from(batch::TEMPORARY));
    }
    // A finished copy: both servers compared, as `mailferry verify` does,
    // so the report can say which mailboxes are safe to switch.
    let finished = matches!(ending.exit_code, batch::DONE | batch::REFUSALS);
    if finished && !args.dry && signal.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        let progress = ProgressFile {
            path: mailbox.state.clone(),
            rebuild_if_damaged: false,
        };
        let audited = match Job::connect(
            (&source_endpoint, &mailbox.source),
            (&dest_endpoint, &mailbox.dest),
            &rules,
            progress,
        )
        .await
        {
            Ok(mut job) => {
                let audit = job.audit().await;
                job.close().await;
                audit.map_err(|e| e.to_string())
            }
            Err(e) => Err(e.error.to_string()),
        };
        match audited {
            Ok(audit) => {
                ending.safe_to_switch = Some(audit.safe_to_switch);
                println!(
                    "{}",
                    if audit.safe_to_switch {
                        "Checked: safe to switch (both servers compared)."
                    } else {
                        "Checked: not safe to switch yet (run `mailferry verify` to see what is missing)."
                    }
                );
            }
            Err(e) => eprintln!("mailferry: the check after the copy could not run: {e}"),
        }
    }
    if let Some(store) = &store {
        if mailbox.state.exists() {
            if let Err(e) = store.save(&key, &mailbox.state, &mut seen).await {
                eprintln!("mailferry: {e:#}");
                return Ok(ExitCode::from(batch::TEMPORARY));
            }
        }
        match signal.load(std::sync::atomic::Ordering::SeqCst) {
            0 => {}
            code => ending.exit_code = code,
        }
        if let Err(e) = store.save_ending(&key, &ending).await {
            eprintln!("mailferry: {e:#}");
        }
    }
    Ok(signalled(&signal).unwrap_or(ExitCode::from(ending.exit_code)))
}

/// The name a progress file has in a state store: its own file name (a
/// digest of the job's name, no user name in it).
pub(crate) fn store_key(state: &std::path::Path) -> String {
    state
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "progress.db".to_owned())
}
