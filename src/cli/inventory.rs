//! `mailferry inventory`: every mailbox of a Google Workspace or Microsoft
//! 365 domain from its directory (the engine's `inventory`), printed with
//! what is worth a second look, and written as the list `sync
//! --mailboxes` reads.

use super::args::InventoryArgs;
use super::engine_error;
use anyhow::{bail, Context};
use mailferry::inventory::{self, Inventory};
use mailferry::secret::Secret;
use std::io::Write;
use std::process::ExitCode;

/// `mailferry inventory`.
pub(crate) fn run(args: InventoryArgs) -> anyhow::Result<ExitCode> {
    let found = read(&args)?;
    let now = mailferry::run::system_clock();
    if let Some(path) = &args.list {
        write_new(path, &found.mailbox_list(now))
            .with_context(|| format!("cannot write the list {}", path.display()))?;
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&found)?)?;
    } else {
        print(&mut out, &found, now)?;
        if let Some(path) = &args.list {
            writeln!(
                out,
                "\nThe list is in {}: `mailferry sync --mailboxes {}` moves its rows.",
                path.display(),
                path.display()
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read(args: &InventoryArgs) -> anyhow::Result<Inventory> {
    if let Some(path) = &args.google {
        let Some(admin) = &args.admin else {
            bail!("--google needs --admin: the administrator the service account acts as");
        };
        let key = Secret::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --google {}", path.display()))?,
        );
        let api = args.api.as_deref().unwrap_or(inventory::GOOGLE_API);
        return inventory::google(&key, admin, api).map_err(|e| engine_error("Google", e));
    }
    let Some(tenant) = &args.microsoft else {
        bail!("give --google KEYFILE --admin ADDRESS, or --microsoft TENANT");
    };
    let (Ok(id), Ok(secret)) = (
        std::env::var("MAILFERRY_OAUTH_CLIENT_ID"),
        std::env::var("MAILFERRY_OAUTH_CLIENT_SECRET"),
    ) else {
        bail!(
            "--microsoft needs the app's ID and secret in MAILFERRY_OAUTH_CLIENT_ID and \
             MAILFERRY_OAUTH_CLIENT_SECRET"
        );
    };
    let api = args.api.as_deref().unwrap_or(inventory::GRAPH_API);
    inventory::microsoft(tenant, &id, Secret::new(secret), api)
        .map_err(|e| engine_error("Microsoft", e))
}

/// Writes `text` to a new file, never over an existing one (a list the
/// owner edited stays theirs).
fn write_new(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

fn print(out: &mut impl Write, found: &Inventory, now: i64) -> std::io::Result<()> {
    let flagged = found
        .people
        .iter()
        .filter(|p| !p.flags(now).is_empty())
        .count();
    let total = found
        .storage_bytes()
        .map(|b| format!(", {} in all", mailferry::run::human_bytes(b)))
        .unwrap_or_default();
    writeln!(
        out,
        "{} mailbox{} in {} ({} worth a second look){total}.",
        found.people.len(),
        if found.people.len() == 1 { "" } else { "es" },
        found.directory,
        flagged
    )?;
    for note in &found.notes {
        writeln!(out, "Note: {note}")?;
    }
    for p in &found.people {
        let flags = p.flags(now);
        let name = p.name.as_deref().unwrap_or("");
        let last = match p.last_sign_in {
            Some(at) => format!(
                "last sign-in {}",
                chrono::DateTime::from_timestamp(at, 0)
                    .map(|t| t.format("%Y-%m-%d").to_string())
                    .unwrap_or_default()
            ),
            None if p.sign_in_known => "never signed in".to_owned(),
            None => "last sign-in unknown".to_owned(),
        };
        let aliases = if p.aliases.is_empty() {
            String::new()
        } else {
            format!(", also {}", p.aliases.join(", "))
        };
        let mark = if flags.is_empty() { " " } else { "!" };
        let size = p
            .storage_bytes
            .map(mailferry::run::human_bytes)
            .unwrap_or_default();
        writeln!(
            out,
            "{mark} {:<32} {name:<24} {size:>9}  {last}{aliases}",
            p.address
        )?;
        if !flags.is_empty() {
            writeln!(out, "    look first: {}", flags.join("; "))?;
        }
    }
    Ok(())
}
