//! `mailferry watch`: after the switch, the engine's `watch` on one pair
//! of accounts, with a live line on stderr and the end in words on
//! stdout; a signal stops it.

use super::args::WatchArgs;
use super::sync::{signalled, stop_on_signal};
use super::{engine_error, progress_path, unix_now};
use anyhow::bail;
use mailferry::event::Discard;
use mailferry::job::ProgressFile;
use mailferry::mx::Question;
use mailferry::run::Options;
use mailferry::watch::{self, End, Mailbox, Notice, Settings};
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

/// `mailferry watch`: exit 0 when the watch ended by itself or was
/// stopped, 2 when it could not run (the switch not recorded, a refused
/// sign-in).
pub(crate) async fn run(args: WatchArgs) -> anyhow::Result<ExitCode> {
    let hours = |h: f64, flag: &str| -> anyhow::Result<Duration> {
        if !(h.is_finite() && h >= 0.0) {
            bail!("{flag} needs a number of hours, like 24 or 0.5");
        }
        Ok(Duration::from_secs_f64(h * 3600.0))
    };
    let settings = Settings {
        renew_idle: Duration::from_secs(args.idle_renew.max(1)),
        poll_every: Duration::from_secs(args.poll.max(1)),
        quiet: hours(args.quiet_hours, "--quiet-hours")?,
        cap: args.for_hours.map(|h| hours(h, "--for")).transpose()?,
        ..Settings::default()
    };
    let question = match &args.domain {
        Some(domain) => {
            if args.new_mx.is_empty() {
                bail!("--domain needs --new-mx: the new provider's mail server (or the end of its name, like outlook.com)");
            }
            Some(Question {
                domain: domain.trim().trim_end_matches('.').to_ascii_lowercase(),
                new_hosts: args.new_mx.clone(),
                old_hosts: Vec::new(),
                resolvers: args.resolver.clone(),
                system: !args.no_system_resolver,
                own_port: args.dns_port,
            })
        }
        None => None,
    };
    let rules = args.rules.rules()?;
    let [source, dest] = args.servers.both("mailferry watch")?;
    let progress = ProgressFile::at(progress_path(args.state, &source, &dest)?);
    let mailbox = Mailbox {
        source,
        dest,
        rules,
        progress,
    };
    let options = Options::default();
    let signal = stop_on_signal(options.cancel.clone());
    let mut notices = |notice: Notice| match notice {
        Notice::Arrived(tally) => {
            let now = unix_now();
            eprintln!("{}", tally.line(now, watch::local_offset(now)));
        }
        Notice::Watching { .. } => {
            eprintln!(
                "{} Press Ctrl-C to stop.",
                notice.words().unwrap_or_default()
            )
        }
        other => eprintln!("{}", other.words().unwrap_or_default()),
    };
    let summary = watch::watch(
        &mailbox,
        &settings,
        &options,
        &unix_now,
        question.as_ref(),
        &mut notices,
        &mut Discard,
    )
    .await
    .map_err(|e| engine_error("Watch", e))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", summary.end.words(settings.quiet))?;
    if summary.end == End::NotSwitched {
        return Ok(ExitCode::from(2));
    }
    writeln!(
        out,
        "Moved while watching: {} message{}. {}",
        summary.tally.total(),
        if summary.tally.total() == 1 { "" } else { "s" },
        summary
            .tally
            .line(unix_now(), watch::local_offset(unix_now()))
    )?;
    Ok(signalled(&signal).unwrap_or(ExitCode::SUCCESS))
}
