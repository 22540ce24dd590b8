//! `mailferry log`: the record of every message's fate, searched in one
//! progress file or in every migration of the data folder.

use super::args::LogArgs;
use super::default_state_path;
use super::render::print_log;
use anyhow::{anyhow, Context};
use mailferry::state::State;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// A progress file that cannot be read, named unless it is only busy.
fn state_problem(path: &std::path::Path, e: mailferry::state::StateError) -> anyhow::Error {
    if e.is_busy() {
        anyhow!("{e}")
    } else {
        anyhow!("{e} (progress file: {})", path.display())
    }
}

/// `mailferry log --search WORDS`: the matching messages and their fates.
pub(crate) fn run(args: LogArgs) -> anyhow::Result<ExitCode> {
    let files: Vec<PathBuf> = match &args.state {
        Some(path) => vec![path.clone()],
        None => {
            let dir = default_state_path("")?
                .parent()
                .map(std::path::Path::to_path_buf)
                .context("cannot find the data folder")?;
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map(|rd| {
                    rd.filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.extension().is_some_and(|x| x == "db"))
                        .collect()
                })
                .unwrap_or_default();
            files.sort();
            files
        }
    };
    let mut found = Vec::new();
    for path in &files {
        let Some(store) = State::open_read_only(path).map_err(|e| state_problem(path, e))? else {
            continue;
        };
        for entry in store
            .search_log(&args.search, args.limit)
            .map_err(|e| state_problem(path, e))?
        {
            found.push((path.clone(), entry));
        }
    }
    found.truncate(args.limit);
    let mut out = std::io::stdout().lock();
    if args.json {
        let rows: Vec<_> = found
            .iter()
            .map(|(path, e)| {
                serde_json::json!({
                    "job": path.display().to_string(),
                    "source_folder": e.source_folder,
                    "uid": e.uid,
                    "destination_folder": e.dest_folder,
                    "destination_uid": e.dest_uid,
                    "fate": e.fate.code(),
                    "message_id": e.message_id,
                    "from": e.from,
                    "subject": e.subject,
                    "date": e.date,
                    "size": e.size,
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
    } else {
        print_log(&mut out, &args.search, &found)?;
    }
    Ok(ExitCode::SUCCESS)
}
