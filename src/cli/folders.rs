//! `mailferry folders`: the folder map, shown and changing nothing; exit 1
//! when a folder question needs deciding.

use super::args::FoldersArgs;
use super::open_job;
use std::io::Write;
use std::process::ExitCode;

/// `mailferry folders`: where every source folder goes, and why.
pub(crate) async fn run(args: FoldersArgs) -> anyhow::Result<ExitCode> {
    let job = open_job(args.servers, &args.rules, "mailferry folders", None, false).await?;
    let map = job.mapped().clone();
    job.close().await;
    let mut out = std::io::stdout().lock();
    if args.json {
        let json = serde_json::json!({
            "summary": map.summary(),
            "decisions_needed": map.decisions_needed(),
            "map": map,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&json)?)?;
    } else {
        write!(out, "{}", map.render_text())?;
    }
    Ok(if map.decisions_needed() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
