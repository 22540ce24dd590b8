//! `mailferry verify`: the job's audit of both servers, folder by folder;
//! exit 1 unless it is safe to switch.

use super::args::VerifyArgs;
use super::render::print_audit;
use super::{engine_error, open_job};
use std::io::Write;
use std::process::ExitCode;

/// `mailferry verify`: compares the source and the destination.
pub(crate) async fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let mut job = open_job(
        args.servers,
        &args.rules,
        "mailferry verify",
        args.state,
        false,
    )
    .await?;
    let result = job.audit().await;
    job.close().await;
    let audit = result.map_err(|e| engine_error("Verify", e))?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&audit)?)?;
    } else {
        print_audit(&mut out, &audit)?;
    }
    Ok(if audit.safe_to_switch {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
