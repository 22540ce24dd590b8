//! `mailferry discover`: the mail server of an email address, found and
//! checked by the engine's `discover` (no password asked or sent), and
//! `--hostN auto`, the same search for a side of any command.

use super::args::{DiscoverArgs, LookupArgs};
use super::render::print_discovery;
use anyhow::{bail, Context};
use mailferry::discover::{discover, DiscoverSettings, Discovery};
use mailferry::endpoint::Security;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// Discovery's settings from the flags.
pub(crate) fn settings(
    lookup: &LookupArgs,
    cafile: Option<&Path>,
    timeout: f64,
) -> anyhow::Result<DiscoverSettings> {
    if !(0.1..=3600.0).contains(&timeout) {
        bail!("--timeout must be between 0.1 and 3600 seconds");
    }
    let mut settings = DiscoverSettings {
        resolvers: lookup.resolvers.clone(),
        ispdb: (!lookup.no_ispdb).then(|| lookup.ispdb.clone()),
        timeout: Duration::from_secs_f64(timeout),
        ..DiscoverSettings::default()
    };
    if let Some(path) = cafile {
        settings
            .extra_roots_pem
            .push(std::fs::read_to_string(path).with_context(|| {
                format!("cannot read the certificate authority {}", path.display())
            })?);
    }
    Ok(settings)
}

/// `mailferry discover ADDRESS`: prints the candidates and the verdict;
/// exit 0 when a server was found that needs no confirmation, 1 otherwise.
pub(crate) async fn run(args: DiscoverArgs) -> anyhow::Result<ExitCode> {
    let settings = settings(&args.lookup, args.cafile.as_deref(), args.timeout)?;
    let found = discover(&args.address, &settings).await;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&found)?)?;
    } else {
        print_discovery(&mut out, &found)?;
    }
    Ok(if found.chosen.is_some() && !found.needs_confirmation {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `--hostN auto`: the server discovery chooses for `address`, said on
/// stderr before anything is sent to it; an error (with what was found)
/// when nothing passed or the one found needs the user's confirmation.
pub(crate) fn for_side(
    role: &str,
    n: &str,
    address: &str,
    settings: &DiscoverSettings,
) -> anyhow::Result<Discovery> {
    let found = tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(discover(address, settings))
    });
    match found.chosen() {
        Some(c) if !found.needs_confirmation => {
            eprintln!(
                "{role}: {} — using {} (port {}).",
                found.words, c.host, c.port
            );
            Ok(found)
        }
        Some(c) => {
            let security = match c.security {
                Security::Tls => String::new(),
                Security::StartTls => format!(" --starttls{n}"),
                Security::Plain => format!(" --plain{n}"),
            };
            bail!(
                "{role}: {}\n  To use it, give --host{n} {} --port{n} {}{security} yourself.",
                found.words,
                c.host,
                c.port
            )
        }
        None => bail!("{role}: {} Give --host{n} NAME.", found.words),
    }
}
