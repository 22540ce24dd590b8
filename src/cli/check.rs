//! `mailferry check`: each given server tested step by step (found,
//! secured, signed in, folders read); exit 2 when one needs attention.

use super::args::CheckArgs;
use super::render::print_check;
use super::sides::Side;
use anyhow::bail;
use mailferry::check::check;
use std::io::Write;
use std::process::ExitCode;

/// `mailferry check`: tests the source and/or destination server.
pub(crate) async fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let sides: Vec<Side> = args.servers.sides().into();
    let mut targets = Vec::new();
    for side in sides {
        let role = side.role();
        if let Some(pair) = side.resolve()? {
            targets.push((role, pair));
        }
    }
    if targets.is_empty() {
        bail!("nothing to check: give --host1 and/or --host2 (see mailferry check --help)");
    }
    let mut reports = Vec::new();
    for (role, (endpoint, credentials)) in &targets {
        reports.push((*role, check(endpoint, credentials).await));
    }
    let all_ok = reports.iter().all(|(_, r)| r.ok());
    let mut out = std::io::stdout().lock();
    if args.json {
        let json: serde_json::Map<String, serde_json::Value> = reports
            .iter()
            .map(|(role, r)| {
                (
                    role.to_ascii_lowercase(),
                    serde_json::to_value(r).unwrap_or_default(),
                )
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&json)?)?;
    } else {
        for (role, report) in &reports {
            print_check(&mut out, role, report)?;
        }
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
