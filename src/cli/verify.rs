//! `mailferry verify`: the job's audit of both servers, folder by folder,
//! and with `--spot-check` the four checks a person would do by hand, and
//! with `--mail-report` the report put in the new inbox; exit 1 unless it
//! is safe to switch and the spot check passed.

use super::args::VerifyArgs;
use super::render::print_audit;
use super::{engine_error, open_job};
use mailferry::report_mail::{self, ReportMail};
use std::io::Write;
use std::process::ExitCode;

/// `mailferry verify`: compares the source and the destination.
pub(crate) async fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let owner = args.servers.side2.user2.clone().unwrap_or_default();
    let mut job = open_job(
        args.servers,
        &args.rules,
        "mailferry verify",
        args.state,
        false,
    )
    .await?;
    let audit = job.audit().await;
    let spot = match (&audit, args.spot_check) {
        (Ok(_), true) => Some(job.spot_check().await),
        _ => None,
    };
    let spot = spot.transpose();
    let mailed = match (&audit, &spot, args.mail_report) {
        (Ok(audit), Ok(spot), true) => {
            let mut text = Vec::new();
            print_audit(&mut text, audit, spot.as_ref())?;
            let text = String::from_utf8_lossy(&text);
            let mail = ReportMail {
                owner: &owner,
                subject: report_mail::subject(audit.safe_to_switch),
                text: &text,
                html: None,
                date: mailferry::run::system_clock(),
            };
            Some(job.deliver_to_destination(&mail).await)
        }
        _ => None,
    };
    job.close().await;
    let audit = audit.map_err(|e| engine_error("Verify", e))?;
    let spot = spot.map_err(|e| engine_error("Spot check", e))?;
    if let Some(mailed) = mailed {
        mailed.map_err(|e| engine_error("Putting the report in the new inbox", e))?;
        eprintln!("The report is in the new mailbox's inbox ({owner}), unread.");
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        let mut json = serde_json::to_value(&audit)?;
        if let (Some(spot), Some(fields)) = (&spot, json.as_object_mut()) {
            fields.insert("spot_check".to_owned(), serde_json::to_value(spot)?);
        }
        writeln!(out, "{}", serde_json::to_string_pretty(&json)?)?;
    } else {
        print_audit(&mut out, &audit, spot.as_ref())?;
    }
    let spot_passed = spot.as_ref().is_none_or(|s| s.passed);
    Ok(if audit.safe_to_switch && spot_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
