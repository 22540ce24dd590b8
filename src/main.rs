//! The `mailferry` command line: flags an imapsync user recognises, over the
//! same engine the desktop app uses. It writes no protocol or storage logic
//! of its own. Data goes to stdout (`--json` for machines), logs to stderr.
//!
//! Exit codes: 0 everything fine, 1 finished but something needs attention
//! (messages not copied, a folder question to decide, a folder the server
//! refused), 2 could not run.

use anyhow::{anyhow, bail, Context};
use clap::{Args, Parser, Subcommand};
use mailferry::check::{check, CheckReport, Step, STEPS};
use mailferry::endpoint::{AuthMechanism, Credentials, Endpoint, Fingerprint, Security};
use mailferry::folder::{self, map_folders, plan_create, FolderMap, FolderTree, Rules};
use mailferry::imap::Session;
use mailferry::secret::Secret;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "mailferry",
    version,
    about = "Move a domain's email from one IMAP server to another."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Test the connection to the source (1) and/or destination (2) server:
    /// find it, secure the connection, sign in, read the folder list.
    Check(CheckArgs),
    /// Show where every source folder will go on the destination, and why.
    /// Changes nothing.
    Folders(FoldersArgs),
    /// Copy from the source (1) to the destination (2). Today only
    /// --justfolders: create the folder tree.
    Sync(SyncArgs),
}

#[derive(Args)]
struct CheckArgs {
    #[command(flatten)]
    servers: Servers,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct FoldersArgs {
    #[command(flatten)]
    servers: Servers,
    #[command(flatten)]
    rules: FolderRuleArgs,
    /// Print the folder map as JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct SyncArgs {
    #[command(flatten)]
    servers: Servers,
    #[command(flatten)]
    rules: FolderRuleArgs,
    /// Only create the folders on the destination (and show them in mail
    /// apps); copy no messages.
    #[arg(long)]
    justfolders: bool,
    /// Show what would be done, change nothing.
    #[arg(long)]
    dry: bool,
}

/// The source (`…1` flags) and destination (`…2` flags) servers.
#[derive(Args)]
struct Servers {
    #[command(flatten)]
    side1: Side1,
    #[command(flatten)]
    side2: Side2,
}

impl Servers {
    /// Both sides, resolved; `command` names the command in the error when one is missing.
    fn both(self, command: &str) -> anyhow::Result<[(Endpoint, Credentials); 2]> {
        let source = Side::from(self.side1).resolve()?;
        let dest = Side::from(self.side2).resolve()?;
        match (source, dest) {
            (Some(s), Some(d)) => Ok([s, d]),
            _ => bail!(
                "{command} needs both servers: give --host1 (where the mail is now) and --host2 \
                 (where it goes)"
            ),
        }
    }
}

/// The folder rules, with imapsync's flag names.
#[derive(Args)]
struct FolderRuleArgs {
    /// Only folders whose name matches this regular expression (repeatable).
    #[arg(long, value_name = "REGEX")]
    include: Vec<String>,
    /// Skip folders whose name matches this regular expression (repeatable;
    /// wins over --include).
    #[arg(long, value_name = "REGEX")]
    exclude: Vec<String>,
    /// Rename destination folders with a Perl-style substitution such as
    /// 's/^Old/New/' (repeatable, applied in order).
    #[arg(long, value_name = "s/FROM/TO/")]
    regextrans2: Vec<String>,
    /// Put source folder A exactly into destination folder B, e.g.
    /// 'Sent=Sent Items' (repeatable; wins over every other rule).
    #[arg(long, value_name = "A=B")]
    f1f2: Vec<String>,
}

impl FolderRuleArgs {
    fn rules(&self) -> anyhow::Result<Rules> {
        Ok(Rules::from_flags(
            &self.f1f2,
            &self.include,
            &self.exclude,
            &self.regextrans2,
        )?)
    }
}

/// Flags of one side, declared twice (clap needs distinct names).
macro_rules! side_args {
    ($name:ident, $n:literal, $host:ident, $port:ident, $user:ident, $passfile:ident, $tls:ident, $ssl:ident,
     $starttls:ident, $plain:ident, $pin:ident, $cafile:ident, $timeout:ident, $authmech:ident, $authuser:ident) => {
        #[derive(Args, Clone)]
        struct $name {
            #[arg(long = concat!("host", $n), help = concat!("Server name of side ", $n, "."))]
            $host: Option<String>,
            #[arg(long = concat!("port", $n), help = concat!("Port of side ", $n, " (default 993 with TLS, 143 otherwise)."))]
            $port: Option<u16>,
            #[arg(long = concat!("user", $n), help = concat!("User name of side ", $n, " (often the full email address)."))]
            $user: Option<String>,
            #[arg(long = concat!("passfile", $n), help = concat!("File whose first line is the password of side ", $n, ". Also read: the MAILFERRY_PASSWORD", $n, " environment variable, then a prompt."))]
            $passfile: Option<PathBuf>,
            #[doc = "Implicit TLS (the default)."]
            #[arg(long = concat!("tls", $n), conflicts_with_all = [concat!("starttls", $n), concat!("plain", $n)])]
            $tls: bool,
            #[doc = "Same as --tlsN (imapsync's name for implicit TLS)."]
            #[arg(long = concat!("ssl", $n), hide = true)]
            $ssl: bool,
            #[doc = "STARTTLS on a plain port; refused if the server doesn't offer it."]
            #[arg(long = concat!("starttls", $n), conflicts_with = concat!("plain", $n))]
            $starttls: bool,
            #[doc = "No encryption (loopback and lab servers only)."]
            #[arg(long = concat!("plain", $n))]
            $plain: bool,
            #[doc = "Trust the server's certificate with this SHA-256 fingerprint, as the check shows it."]
            #[arg(long = concat!("pin-cert", $n), value_name = "SHA256")]
            $pin: Option<String>,
            #[doc = "Also trust the certificate authorities in this PEM file."]
            #[arg(long = concat!("cafile", $n))]
            $cafile: Option<PathBuf>,
            #[doc = "Seconds to wait for the server at each step."]
            #[arg(long = concat!("timeout", $n), default_value_t = 30.0)]
            $timeout: f64,
            #[doc = "Sign-in mechanism: LOGIN, PLAIN, or AUTO (PLAIN when offered)."]
            #[arg(long = concat!("authmech", $n), default_value = "AUTO")]
            $authmech: String,
            #[doc = "Administrator who signs in on behalf of the user (Dovecot/Cyrus master user); the password is the administrator's."]
            #[arg(long = concat!("authuser", $n))]
            $authuser: Option<String>,
        }

        impl From<$name> for Side {
            fn from(a: $name) -> Side {
                Side {
                    n: $n,
                    host: a.$host,
                    port: a.$port,
                    user: a.$user,
                    passfile: a.$passfile,
                    tls: a.$tls || a.$ssl,
                    starttls: a.$starttls,
                    plain: a.$plain,
                    pin: a.$pin,
                    cafile: a.$cafile,
                    timeout: a.$timeout,
                    authmech: a.$authmech,
                    authuser: a.$authuser,
                }
            }
        }
    };
}

side_args!(
    Side1, "1", host1, port1, user1, passfile1, tls1, ssl1, starttls1, plain1, pin_cert1, cafile1,
    timeout1, authmech1, authuser1
);
side_args!(
    Side2, "2", host2, port2, user2, passfile2, tls2, ssl2, starttls2, plain2, pin_cert2, cafile2,
    timeout2, authmech2, authuser2
);

struct Side {
    n: &'static str,
    host: Option<String>,
    port: Option<u16>,
    user: Option<String>,
    passfile: Option<PathBuf>,
    tls: bool,
    starttls: bool,
    plain: bool,
    pin: Option<String>,
    cafile: Option<PathBuf>,
    timeout: f64,
    authmech: String,
    authuser: Option<String>,
}

impl Side {
    fn role(&self) -> &'static str {
        if self.n == "1" {
            "Source"
        } else {
            "Destination"
        }
    }

    /// The endpoint and credentials, or None when this side wasn't given.
    fn resolve(self) -> anyhow::Result<Option<(Endpoint, Credentials)>> {
        let n = self.n;
        let Some(host) = self.host.clone() else {
            if self.user.is_some() || self.passfile.is_some() {
                bail!("--user{n} or --passfile{n} given without --host{n}");
            }
            return Ok(None);
        };
        let security = match (self.tls, self.starttls, self.plain) {
            (_, true, _) => Security::StartTls,
            (_, _, true) => Security::Plain,
            _ => Security::Tls,
        };
        let mut endpoint = Endpoint::new(host).with_security(security);
        if let Some(port) = self.port {
            endpoint = endpoint.with_port(port);
        }
        if !(0.1..=3600.0).contains(&self.timeout) {
            bail!("--timeout{n} must be between 0.1 and 3600 seconds");
        }
        endpoint.timeout = Duration::from_secs_f64(self.timeout);
        if let Some(pin) = &self.pin {
            endpoint.pinned_certificate =
                Some(Fingerprint::parse(pin).with_context(|| format!("--pin-cert{n}"))?);
        }
        if let Some(path) = &self.cafile {
            endpoint.extra_roots_pem.push(
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read --cafile{n} {}", path.display()))?,
            );
        }
        let user = self
            .user
            .clone()
            .with_context(|| format!("--user{n} is needed with --host{n}"))?;
        let password = self.password()?;
        let mechanism = match self.authmech.to_ascii_uppercase().as_str() {
            "AUTO" => AuthMechanism::Auto,
            "LOGIN" => AuthMechanism::Login,
            "PLAIN" => AuthMechanism::Plain,
            other => bail!("--authmech{n} {other}: use LOGIN, PLAIN or AUTO"),
        };
        let credentials = Credentials {
            user,
            password,
            admin: self.authuser.clone(),
            mechanism,
        };
        Ok(Some((endpoint, credentials)))
    }

    /// The password from a file, the environment, or a prompt — never argv.
    fn password(&self) -> anyhow::Result<Secret<String>> {
        let n = self.n;
        if let Some(path) = &self.passfile {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --passfile{n} {}", path.display()))?;
            let text = Secret::new(text);
            let first = text.expose().lines().next().unwrap_or("").to_owned();
            return Ok(Secret::new(first));
        }
        if let Ok(value) = std::env::var(format!("MAILFERRY_PASSWORD{n}")) {
            return Ok(Secret::new(value));
        }
        if std::io::stdin().is_terminal() {
            let prompt = format!(
                "Password for {} on {}: ",
                self.user.as_deref().unwrap_or(""),
                self.host.as_deref().unwrap_or("")
            );
            let value = rpassword::prompt_password(prompt).context("cannot read the password")?;
            return Ok(Secret::new(value));
        }
        bail!("no password for side {n}: give --passfile{n} FILE or set MAILFERRY_PASSWORD{n}")
    }
}

fn main() -> ExitCode {
    mailferry::logging::init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mailferry: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match cli.command {
        Command::Check(args) => runtime.block_on(run_check(args)),
        Command::Folders(args) => runtime.block_on(run_folders(args)),
        Command::Sync(args) => runtime.block_on(run_sync(args)),
    }
}

async fn run_check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let sides: Vec<Side> = vec![args.servers.side1.into(), args.servers.side2.into()];
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
            print_report(&mut out, role, report)?;
        }
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn print_report(out: &mut impl Write, role: &str, r: &CheckReport) -> std::io::Result<()> {
    let security = match r.security {
        Security::Tls => "TLS",
        Security::StartTls => "STARTTLS",
        Security::Plain => "not encrypted",
    };
    writeln!(out, "{role}: {}:{} ({security})", r.host, r.port)?;
    for step in STEPS {
        if r.passed.contains(&step) {
            let extra = match step {
                Step::CanReadFolders => {
                    let count = r
                        .folders
                        .map(|n| format!("{n} folder{}", if n == 1 { "" } else { "s" }))
                        .unwrap_or_default();
                    let sep = r
                        .delimiter
                        .as_deref()
                        .map(|d| format!(", separator \"{d}\""))
                        .unwrap_or_else(|| ", flat (no subfolders)".to_owned());
                    let prefix = r
                        .prefix
                        .as_deref()
                        .filter(|p| !p.is_empty())
                        .map(|p| format!(", under \"{p}\""))
                        .unwrap_or_default();
                    format!(" ({count}{sep}{prefix})")
                }
                _ => String::new(),
            };
            writeln!(out, "  ✓ {}{extra}", step.label())?;
        } else if let Some(f) = r.failure.as_ref().filter(|f| f.step == step) {
            writeln!(out, "  ✗ {}", step.label())?;
            writeln!(out, "    {}", f.message)?;
            if let Some(detail) = &f.detail {
                writeln!(out, "    Details: {detail} [{}]", f.problem.code())?;
            } else {
                writeln!(out, "    Details: [{}]", f.problem.code())?;
            }
        } else if step == Step::SecureConnection
            && r.security == Security::Plain
            && r.passed.contains(&Step::FoundServer)
        {
            writeln!(
                out,
                "  - {} (skipped: not encrypted, as asked)",
                step.label()
            )?;
        } else {
            writeln!(out, "  · {}", step.label())?;
        }
    }
    for w in &r.warnings {
        writeln!(out, "  ! {w}")?;
    }
    if !r.notable_capabilities.is_empty() {
        writeln!(out, "  Server offers: {}", r.notable_capabilities.join(" "))?;
    }
    writeln!(
        out,
        "  Verdict: {}\n",
        if r.ok() { "ready" } else { "needs attention" }
    )?;
    Ok(())
}

/// An engine error as the CLI prints it: which server, the plain words, the details.
fn engine_error(role: &str, e: mailferry::error::Error) -> anyhow::Error {
    match e.detail() {
        Some(detail) => anyhow!("{role}: {e}\n  Details: {detail} [{}]", e.code()),
        None => anyhow!("{role}: {e} [{}]", e.code()),
    }
}

/// Signs in to one side and reads its folder tree. The session stays open.
async fn open_tree(
    role: &str,
    (endpoint, credentials): &(Endpoint, Credentials),
) -> anyhow::Result<(Session, FolderTree)> {
    let mut session = Session::connect(endpoint, credentials)
        .await
        .map_err(|e| engine_error(role, e))?;
    let tree = folder::read_tree(&mut session)
        .await
        .map_err(|e| engine_error(role, e))?;
    Ok((session, tree))
}

/// Reads both trees and maps them; returns the destination session (open) and tree.
async fn map_both(
    servers: Servers,
    rules: &FolderRuleArgs,
    command: &str,
) -> anyhow::Result<(FolderMap, Session, FolderTree)> {
    let rules = rules.rules()?;
    let [source, dest] = servers.both(command)?;
    // The source is only listed: LIST and LSUB change nothing there.
    let (source_session, source_tree) = open_tree("Source server", &source).await?;
    source_session.logout().await;
    let (dest_session, dest_tree) = open_tree("Destination server", &dest).await?;
    let map = map_folders(&source_tree, &dest_tree, &rules);
    Ok((map, dest_session, dest_tree))
}

async fn run_folders(args: FoldersArgs) -> anyhow::Result<ExitCode> {
    let (map, dest_session, _) = map_both(args.servers, &args.rules, "mailferry folders").await?;
    dest_session.logout().await;
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

async fn run_sync(args: SyncArgs) -> anyhow::Result<ExitCode> {
    if !args.justfolders {
        // The message copy engine plugs in here.
        bail!(
            "copying messages is not ready yet: add --justfolders to create the folders only \
             (see mailferry folders for the map)"
        );
    }
    let (map, mut dest_session, dest_tree) =
        map_both(args.servers, &args.rules, "mailferry sync").await?;
    let mut out = std::io::stdout().lock();
    let plan = match plan_create(&map, &dest_tree) {
        Ok(plan) => plan,
        Err(e) => {
            dest_session.logout().await;
            write!(out, "{}", map.render_text())?;
            writeln!(
                out,
                "\nNo folders were created: {} folder question{} must be decided first \
                 (see \"Needs a decision\" above; --f1f2, --exclude or --regextrans2 settle them).",
                map.decisions_needed(),
                if map.decisions_needed() == 1 { "" } else { "s" }
            )?;
            tracing::debug!(error = %e, "folder plan refused");
            return Ok(ExitCode::from(1));
        }
    };
    if args.dry {
        dest_session.logout().await;
        if plan.is_empty() {
            writeln!(out, "Nothing to do: every folder is already there.")?;
        } else {
            writeln!(
                out,
                "Would run these steps on the destination (--dry: nothing was changed):"
            )?;
            write!(out, "{}", plan.render_text())?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let report = folder::apply(&mut dest_session, &plan)
        .await
        .map_err(|e| engine_error("Destination server", e))?;
    dest_session.logout().await;
    for name in &report.created {
        writeln!(out, "  + {}", name.display())?;
    }
    if let Some(refusal) = &report.refused {
        writeln!(out, "  ! {}", refusal.describe())?;
    }
    writeln!(out, "{}", report.summary())?;
    Ok(if report.is_complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
