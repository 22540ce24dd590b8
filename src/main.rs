//! The `mailferry` command line: flags an imapsync user recognises, over the
//! same engine the desktop app uses. It writes no protocol or storage logic
//! of its own. Data goes to stdout (`--json` for machines), logs to stderr.
//!
//! Exit codes: 0 everything fine, 1 finished but something needs attention
//! (messages not copied, a folder question to decide, a folder the server
//! refused), 2 could not run.

use anyhow::{anyhow, bail, Context};
use clap::{Args, Parser, Subcommand};
use mailferry::auth::grant::{ClientCredentials, RefreshGrant, ServiceAccount, TokenSource};
use mailferry::auth::keychain::{Account, Keychain, SecretKind};
use mailferry::check::{check, CheckReport, Step, STEPS};
use mailferry::endpoint::{AuthMechanism, Credentials, Endpoint, Fingerprint, Proof, Security};
use mailferry::error::Problem;
use mailferry::event::Event;
use mailferry::folder::{self, FolderMap, Rules};
use mailferry::imap::Session;
use mailferry::job::{Job, ProgressFile};
use mailferry::run::{self, Report};
use mailferry::secret::Secret;
use mailferry::state::State;
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
    /// Copy from the source (1) to the destination (2): create the folders,
    /// then copy every message not yet there. Safe to interrupt and re-run.
    Sync(SyncArgs),
    /// Compare the source and the destination folder by folder: counts,
    /// sizes, and every message not at the destination with its reason.
    Verify(VerifyArgs),
    /// Search the record of every message's fate: "where is Bob's email
    /// from March?"
    Log(LogArgs),
    /// Remove the passwords and sign-ins of the source (1) and destination
    /// (2) accounts from this computer's keychain (after a migration).
    Forget(ForgetArgs),
}

#[derive(Args)]
struct ForgetArgs {
    #[command(flatten)]
    servers: Servers,
}

#[derive(Args)]
struct VerifyArgs {
    #[command(flatten)]
    servers: Servers,
    #[command(flatten)]
    rules: FolderRuleArgs,
    /// The migration's progress file (default: the one `sync` uses for
    /// these two accounts).
    #[arg(long)]
    state: Option<PathBuf>,
    /// Print the audit as JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct LogArgs {
    /// Words to look for in the sender, subject, date, Message-ID, folder
    /// or reason ("bob march"). Every word must match.
    #[arg(long)]
    search: String,
    /// The migration's progress file (default: every migration in your
    /// data folder).
    #[arg(long)]
    state: Option<PathBuf>,
    /// At most this many results.
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Print the results as JSON on stdout.
    #[arg(long)]
    json: bool,
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
    /// Only show how many messages and bytes each folder holds on both
    /// sides; change nothing.
    #[arg(long)]
    justfoldersizes: bool,
    /// Migrate every mailbox listed in FILE (a CSV file or a pasted list:
    /// old mailbox, new mailbox, then optionally one password for both or
    /// one for each), between the servers given by --host1 and --host2.
    /// Rows without passwords sign in with --serviceaccountN,
    /// --clientcredentialsN, or --authuserN (with that administrator's
    /// password).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["user1", "user2", "justfolders", "justfoldersizes", "state"])]
    mailboxes: Option<PathBuf>,
    /// With --mailboxes: how many mailboxes are copied at the same time.
    #[arg(long, default_value_t = 2)]
    at_once: usize,
    /// Connections open at once to the old server, every mailbox together
    /// (default: what the provider tolerates).
    #[arg(long)]
    maxconnections1: Option<usize>,
    /// The same for the new server.
    #[arg(long)]
    maxconnections2: Option<usize>,
    #[command(flatten)]
    copy: CopyArgs,
}

/// What to copy, and where progress is kept.
#[derive(Args)]
struct CopyArgs {
    /// The progress file of this migration (default: one per pair of
    /// accounts in your data folder). Keeps no password.
    #[arg(long)]
    state: Option<PathBuf>,
    /// The progress file is damaged: keep it aside and build a new one from
    /// what both servers hold (nothing is copied twice).
    #[arg(long)]
    rebuild_progress: bool,
    /// Skip messages larger than this many bytes (a later run without it copies them).
    #[arg(long)]
    maxsize: Option<u64>,
    /// Skip messages smaller than this many bytes.
    #[arg(long)]
    minsize: Option<u64>,
    /// Skip messages older than this many days.
    #[arg(long)]
    maxage: Option<u64>,
    /// Skip messages newer than this many days.
    #[arg(long)]
    minage: Option<u64>,
    /// Before the switch: remove at the destination the messages MailFerry
    /// copied that were deleted at the source. Stops to ask when that is
    /// many (see --delete2-force).
    #[arg(long)]
    delete2: bool,
    /// Copy at most this many messages per second (every connection together).
    #[arg(long)]
    maxmessagespersecond: Option<f64>,
    /// Copy at most this many bytes per second.
    #[arg(long)]
    maxbytespersecond: Option<u64>,
    /// Connections writing to the destination at once (capped by the
    /// provider's limit).
    #[arg(long, default_value_t = run::Options::default().connections)]
    connections: usize,
    /// After a lost connection, a timeout or a busy server, reconnect and
    /// retry a folder up to this many times before giving up.
    #[arg(long, default_value_t = run::Options::default().max_retries)]
    reconnectretry: u32,
    /// With --delete2: remove even when it is many messages.
    #[arg(long, requires = "delete2")]
    delete2_force: bool,
    /// The domain's mail now arrives at the destination (MX switched):
    /// from now on runs only add messages.
    #[arg(long)]
    cutover_done: bool,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Messages per FETCH/APPEND batch (tuning; the default suits most servers).
    #[arg(long, default_value_t = run::Options::default().batch_messages, hide = true)]
    batch_messages: usize,
}

impl CopyArgs {
    fn options(&self, dry: bool) -> anyhow::Result<run::Options> {
        if let (Some(min), Some(max)) = (self.minsize, self.maxsize) {
            if min > max {
                bail!("--minsize {min} is larger than --maxsize {max}: nothing would be copied");
            }
        }
        Ok(run::Options {
            dry,
            max_size: self.maxsize,
            min_size: self.minsize,
            max_age_days: self.maxage,
            min_age_days: self.minage,
            batch_messages: self.batch_messages.max(1),
            delete2: self.delete2,
            delete2_force: self.delete2_force,
            after_switch: self.cutover_done,
            max_retries: self.reconnectretry,
            connections: self.connections.max(1),
            max_messages_per_second: self.maxmessagespersecond,
            max_bytes_per_second: self.maxbytespersecond,
            ..run::Options::default()
        })
    }
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
    /// Let several source folders go into one destination folder (e.g.
    /// two --f1f2 onto the same folder); otherwise that is a question.
    #[arg(long)]
    merge: bool,
}

impl FolderRuleArgs {
    fn rules(&self) -> anyhow::Result<Rules> {
        let mut rules =
            Rules::from_flags(&self.f1f2, &self.include, &self.exclude, &self.regextrans2)?;
        if self.merge {
            rules.merge_policy = folder::MergePolicy::Merge;
        }
        Ok(rules)
    }
}

/// Flags of one side, declared twice (clap needs distinct names).
macro_rules! side_args {
    ($name:ident, $n:literal, $host:ident, $port:ident, $user:ident, $passfile:ident, $tls:ident, $ssl:ident,
     $starttls:ident, $plain:ident, $pin:ident, $cafile:ident, $timeout:ident, $authmech:ident, $authuser:ident,
     $keychain:ident, $oauthaccesstoken:ident, $oauth:ident, $serviceaccount:ident,
     $clientcredentials:ident, $compress:ident) => {
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
            #[doc = "Read the password from this computer's keychain (where the desktop app keeps it), not from a file or a prompt."]
            #[arg(long = concat!("keychain", $n), conflicts_with = concat!("passfile", $n))]
            $keychain: bool,
            #[doc = "Sign in with the OAuth2 access token in the first line of FILE, obtained elsewhere (XOAUTH2 or OAUTHBEARER)."]
            #[arg(long = concat!("oauthaccesstoken", $n), value_name = "FILE", conflicts_with_all = [concat!("passfile", $n), concat!("keychain", $n)])]
            $oauthaccesstoken: Option<PathBuf>,
            #[doc = "Sign in through the browser: google, microsoft, or an issuer URL. The client ID comes from MAILFERRY_OAUTH_CLIENT_ID; the sign-in is kept in the keychain."]
            #[arg(long = concat!("oauth", $n), value_name = "PROVIDER", conflicts_with_all = [concat!("passfile", $n), concat!("keychain", $n), concat!("oauthaccesstoken", $n)])]
            $oauth: Option<String>,
            #[doc = "Google Workspace: sign in to --userN through the service account in this key file (domain-wide delegation; no password needed)."]
            #[arg(long = concat!("serviceaccount", $n), value_name = "KEYFILE", conflicts_with_all = [concat!("passfile", $n), concat!("keychain", $n), concat!("oauthaccesstoken", $n), concat!("oauth", $n)])]
            $serviceaccount: Option<PathBuf>,
            #[doc = "Microsoft 365: sign in to --userN as the organisation's app (IMAP.AccessAsApp) of this tenant (its ID, domain, or token URL). The app's ID and secret come from MAILFERRY_OAUTH_CLIENT_ID and MAILFERRY_OAUTH_CLIENT_SECRET."]
            #[arg(long = concat!("clientcredentials", $n), value_name = "TENANT", conflicts_with_all = [concat!("passfile", $n), concat!("keychain", $n), concat!("oauthaccesstoken", $n), concat!("oauth", $n), concat!("serviceaccount", $n)])]
            $clientcredentials: Option<String>,
            #[doc = "Compress the connection (COMPRESS=DEFLATE) when the server offers it: for slow links."]
            #[arg(long = concat!("compress", $n))]
            $compress: bool,
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
                    keychain: a.$keychain,
                    oauthaccesstoken: a.$oauthaccesstoken,
                    oauth: a.$oauth,
                    serviceaccount: a.$serviceaccount,
                    clientcredentials: a.$clientcredentials,
                    compress: a.$compress,
                    row_password: None,
                }
            }
        }
    };
}

side_args!(
    Side1,
    "1",
    host1,
    port1,
    user1,
    passfile1,
    tls1,
    ssl1,
    starttls1,
    plain1,
    pin_cert1,
    cafile1,
    timeout1,
    authmech1,
    authuser1,
    keychain1,
    oauthaccesstoken1,
    oauth1,
    serviceaccount1,
    clientcredentials1,
    compress1
);
side_args!(
    Side2,
    "2",
    host2,
    port2,
    user2,
    passfile2,
    tls2,
    ssl2,
    starttls2,
    plain2,
    pin_cert2,
    cafile2,
    timeout2,
    authmech2,
    authuser2,
    keychain2,
    oauthaccesstoken2,
    oauth2,
    serviceaccount2,
    clientcredentials2,
    compress2
);

#[derive(Clone)]
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
    keychain: bool,
    oauthaccesstoken: Option<PathBuf>,
    oauth: Option<String>,
    serviceaccount: Option<PathBuf>,
    clientcredentials: Option<String>,
    compress: bool,
    /// A password from a --mailboxes list's row.
    row_password: Option<Secret<String>>,
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
        endpoint.compress = self.compress;
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
        let proof = self.proof()?;
        let mechanism = match self.authmech.to_ascii_uppercase().as_str() {
            "AUTO" => AuthMechanism::Auto,
            "LOGIN" => AuthMechanism::Login,
            "PLAIN" => AuthMechanism::Plain,
            "XOAUTH2" => AuthMechanism::XOAuth2,
            "OAUTHBEARER" => AuthMechanism::OAuthBearer,
            other => bail!("--authmech{n} {other}: use LOGIN, PLAIN, XOAUTH2, OAUTHBEARER or AUTO"),
        };
        let credentials = Credentials {
            user,
            proof,
            admin: self.authuser.clone(),
            mechanism,
        };
        Ok(Some((endpoint, credentials)))
    }

    /// This side for one mailbox of a list: its user, and the row's
    /// password when the list had one (else the side's own sign-in flags).
    fn resolve_for(
        &self,
        user: &str,
        password: Option<Secret<String>>,
    ) -> anyhow::Result<(Endpoint, Credentials)> {
        let mut side = self.clone();
        side.user = Some(user.to_owned());
        if let Some(password) = password {
            side.passfile = None;
            side.keychain = false;
            side.row_password = Some(password);
        } else if side.authuser.is_none()
            && side.serviceaccount.is_none()
            && side.clientcredentials.is_none()
            && side.oauth.is_none()
            && !side.keychain
        {
            bail!(
                "{user}: the list has no password for side {} and no sign-in for every mailbox was \
                 given (--serviceaccount{n}, --clientcredentials{n} or --authuser{n})",
                side.n,
                n = side.n
            );
        }
        side.resolve()?
            .with_context(|| format!("--host{} is needed with --mailboxes", self.n))
    }

    /// The account this side signs in to, for the keychain.
    fn account(&self) -> Option<Account> {
        Some(Account::new(self.user.clone()?, self.host.clone()?))
    }

    /// An access token from --oauthaccesstokenN, a password from the
    /// keychain (--keychainN), or else [`Side::password`].
    fn proof(&self) -> anyhow::Result<Proof> {
        let n = self.n;
        if let Some(password) = &self.row_password {
            return Ok(Proof::Password(password.clone()));
        }
        if let Some(path) = &self.oauthaccesstoken {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --oauthaccesstoken{n} {}", path.display()))?;
            let text = Secret::new(text);
            let token = text.expose().lines().next().unwrap_or("").trim().to_owned();
            if token.is_empty() {
                bail!(
                    "--oauthaccesstoken{n} {}: the first line is empty",
                    path.display()
                );
            }
            return Ok(Proof::AccessToken(Secret::new(token)));
        }
        if let Some(issuer) = &self.oauth {
            let account = self.account().context("--oauth needs --user and --host")?;
            return oauth_proof(issuer, &account).map_err(|e| engine_error(self.role(), e));
        }
        if let Some(path) = &self.serviceaccount {
            let user = self
                .user
                .as_deref()
                .context("--serviceaccount needs --user")?;
            let json =
                Secret::new(std::fs::read_to_string(path).with_context(|| {
                    format!("cannot read --serviceaccount{n} {}", path.display())
                })?);
            let grant = ServiceAccount::from_key_json(&json, user)
                .map_err(|e| engine_error(self.role(), e))?;
            return Ok(Proof::Renewable(TokenSource::new(grant)));
        }
        if let Some(tenant) = &self.clientcredentials {
            let (Ok(id), Ok(secret)) = (
                std::env::var("MAILFERRY_OAUTH_CLIENT_ID"),
                std::env::var("MAILFERRY_OAUTH_CLIENT_SECRET"),
            ) else {
                bail!(
                    "--clientcredentials{n} needs the app's ID and secret in MAILFERRY_OAUTH_CLIENT_ID \
                     and MAILFERRY_OAUTH_CLIENT_SECRET"
                );
            };
            let grant = ClientCredentials::new(tenant, &id, Secret::new(secret));
            return Ok(Proof::Renewable(TokenSource::new(grant)));
        }
        if self.keychain {
            let account = self
                .account()
                .context("--keychain needs --user and --host")?;
            let keychain = Keychain::system().map_err(|e| engine_error(self.role(), e))?;
            return match keychain
                .load(SecretKind::Password, &account)
                .map_err(|e| engine_error(self.role(), e))?
            {
                Some(password) => Ok(Proof::Password(password)),
                None => Err(engine_error(
                    self.role(),
                    Problem::NotInKeychain {
                        account: account.to_string(),
                    }
                    .into(),
                )),
            };
        }
        Ok(Proof::Password(self.password()?))
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
        Command::Verify(args) => runtime.block_on(run_verify(args)),
        Command::Log(args) => run_log(args),
        Command::Forget(args) => run_forget(args),
    }
}

/// Access tokens for `account` from the issuer (`google`, `microsoft` or
/// a URL): from the refresh token in the keychain when there is one, else
/// by signing in in the browser (the stand-in named by MAILFERRY_BROWSER in
/// tests). The refresh token goes to the keychain, or, without one, lives
/// for this run only; either way it renews the access token during the run.
fn oauth_proof(issuer: &str, account: &Account) -> Result<Proof, mailferry::error::Error> {
    use mailferry::auth::oauth::{self, Client, Issuer};
    let issuer = Issuer::from_name(issuer)?;
    let Ok(id) = std::env::var("MAILFERRY_OAUTH_CLIENT_ID") else {
        return Err(mailferry::error::Error::new(Problem::BrowserSignInFailed {
            issuer: issuer.name.clone(),
        })
        .with_detail(
            "no client ID: register MailFerry as a desktop app with the provider and set \
             MAILFERRY_OAUTH_CLIENT_ID (and MAILFERRY_OAUTH_CLIENT_SECRET if it gave one)",
        ));
    };
    let client = Client {
        id,
        secret: std::env::var("MAILFERRY_OAUTH_CLIENT_SECRET").ok(),
    };
    let keychain = Keychain::system();
    if let Ok(keychain) = &keychain {
        if let Some(refresh) = keychain.load(SecretKind::RefreshToken, account)? {
            match oauth::refresh(&issuer, &client, &refresh) {
                Ok(tokens) => return Ok(renewable(issuer, client, tokens, account)),
                Err(e) if e.needs_new_token() => {}
                Err(e) => return Err(e),
            }
        }
    }
    let browser = oauth::browser_from_env();
    eprintln!(
        "Opening your browser to sign in to {} as {}…",
        issuer.name, account.user
    );
    let tokens = oauth::sign_in(
        &issuer,
        &client,
        Some(&account.user),
        browser.as_ref(),
        Duration::from_secs(300),
    )?;
    match (&keychain, &tokens.refresh_token) {
        (Ok(keychain), Some(refresh)) => {
            keychain.save(SecretKind::RefreshToken, account, refresh)?
        }
        (Err(e), Some(_)) => eprintln!("mailferry: {e} The sign-in is kept for this run only."),
        _ => {}
    }
    Ok(renewable(issuer, client, tokens, account))
}

/// The access token in `tokens`, renewed with its refresh token during the
/// run (a rotated refresh token is saved to the keychain); without a
/// refresh token, the access token alone.
fn renewable(
    issuer: mailferry::auth::oauth::Issuer,
    client: mailferry::auth::oauth::Client,
    tokens: mailferry::auth::oauth::Tokens,
    account: &Account,
) -> Proof {
    let Some(refresh) = tokens.refresh_token.clone() else {
        return Proof::AccessToken(tokens.access_token);
    };
    let account = account.clone();
    let grant = RefreshGrant::new(issuer, client, refresh).on_rotate(move |new| {
        if let Ok(keychain) = Keychain::system() {
            if let Err(e) = keychain.save(SecretKind::RefreshToken, &account, new) {
                tracing::warn!("cannot keep the new sign-in in the keychain: {e}");
            }
        }
    });
    Proof::Renewable(TokenSource::with_tokens(grant, &tokens))
}

/// `mailferry forget`: removes each given account's secrets from the
/// keychain.
fn run_forget(args: ForgetArgs) -> anyhow::Result<ExitCode> {
    let sides: [Side; 2] = [args.servers.side1.into(), args.servers.side2.into()];
    let accounts: Vec<Account> = sides.iter().filter_map(Side::account).collect();
    if accounts.is_empty() {
        bail!("nothing to forget: give --host1 and --user1 and/or --host2 and --user2");
    }
    let keychain = Keychain::system().map_err(|e| engine_error("Keychain", e))?;
    let mut out = std::io::stdout().lock();
    for account in &accounts {
        let removed = keychain
            .forget(account)
            .map_err(|e| engine_error("Keychain", e))?;
        if removed == 0 {
            writeln!(out, "Nothing saved for {account}.")?;
        } else {
            writeln!(
                out,
                "Removed the saved sign-in of {account} from this computer."
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
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

/// Signs in to both servers and opens the job (trees read and mapped);
/// its progress file is `--state` or the one named after the two accounts.
async fn open_job(
    servers: Servers,
    rules: &FolderRuleArgs,
    command: &str,
    state: Option<PathBuf>,
    rebuild_if_damaged: bool,
) -> anyhow::Result<Job> {
    let rules = rules.rules()?;
    let [source, dest] = servers.both(command)?;
    let path = match state {
        Some(path) => path,
        None => default_state_path(&mailferry::paths::job_name(
            &source.1.user,
            &source.0,
            &dest.1.user,
            &dest.0,
        ))?,
    };
    let progress = ProgressFile {
        path,
        rebuild_if_damaged,
    };
    Job::connect((&source.0, &source.1), (&dest.0, &dest.1), &rules, progress)
        .await
        .map_err(|e| engine_error(e.side.label(), e.error))
}

async fn run_folders(args: FoldersArgs) -> anyhow::Result<ExitCode> {
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

/// Ctrl-C, or a service manager's stop (SIGTERM): the copy finishes the
/// batch in flight, records it and stops; the command then exits 130 or
/// 143. A second signal exits at once (the progress file is safe at any
/// moment: the next run settles what was in flight).
fn stop_on_signal(cancel: run::Cancel) -> std::sync::Arc<std::sync::atomic::AtomicU8> {
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
fn signalled(got: &std::sync::atomic::AtomicU8) -> Option<ExitCode> {
    match got.load(std::sync::atomic::Ordering::SeqCst) {
        0 => None,
        code => Some(ExitCode::from(code)),
    }
}

async fn run_sync(args: SyncArgs) -> anyhow::Result<ExitCode> {
    if args.mailboxes.is_some() {
        return run_sync_mailboxes(args).await;
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
async fn run_sync_mailboxes(args: SyncArgs) -> anyhow::Result<ExitCode> {
    use mailferry::domain::{migrate_all, parse_list, Domain, Mailbox, Outcome};
    let path = args.mailboxes.clone().expect("checked by the caller");
    let text = Secret::new(
        std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read --mailboxes {}", path.display()))?,
    );
    let rows = parse_list(text.expose(), &[]);
    drop(text);
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
    let (side1, side2) = (
        Side::from(args.servers.side1),
        Side::from(args.servers.side2),
    );
    let mut mailboxes = Vec::with_capacity(rows.len());
    let mut endpoints = None;
    for row in rows {
        let (source, source_credentials) =
            side1.resolve_for(&row.source_user, row.source_password)?;
        let (dest, dest_credentials) =
            side2.resolve_for(&row.destination_user, row.destination_password)?;
        let job = mailferry::paths::job_name(
            &source_credentials.user,
            &source,
            &dest_credentials.user,
            &dest,
        );
        mailboxes.push(Mailbox {
            source: source_credentials,
            dest: dest_credentials,
            state: default_state_path(&job)?,
        });
        endpoints.get_or_insert((source, dest));
    }
    let (source, dest) = endpoints.expect("at least one row");
    let cap = |given: Option<usize>, host: &str| {
        given
            .unwrap_or(mailferry::preset::for_host(host).max_connections as usize)
            .max(1)
    };
    let domain = Domain {
        source_connections: cap(args.maxconnections1, &source.host),
        dest_connections: cap(args.maxconnections2, &dest.host),
        at_once: args.at_once.max(1),
        source,
        dest,
    };
    let options = args.copy.options(args.dry)?;
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
        let who = format!("{} -> {}", mailbox.source.user, mailbox.dest.user);
        match outcome {
            Outcome::Copied(report) => {
                writeln!(
                    out,
                    "{who}: copied {}, already there {}, skipped {}, failed {}",
                    report.transferred(),
                    report.already_there(),
                    report.skipped(),
                    report.failed()
                )?;
                code = code.max(report.exit_code());
            }
            Outcome::NeedsDecision { count, report } => {
                writeln!(
                    out,
                    "{who}: copied {}, already there {}, skipped {}, failed {}; \
                     {count} folder question(s) to decide: those folders were left out \
                     (run `mailferry folders` for this mailbox)",
                    report.transferred(),
                    report.already_there(),
                    report.skipped(),
                    report.failed()
                )?;
                code = code.max(report.exit_code()).max(1);
            }
            Outcome::Failed(e) => {
                writeln!(out, "{who}: not copied: {e} [{}]", e.code())?;
                if let Some(detail) = e.detail() {
                    writeln!(out, "  Details: {detail}")?;
                }
                code = 2;
            }
        }
    }
    let done = outcomes.iter().filter(|o| o.is_complete()).count();
    writeln!(out, "{done} of {} mailboxes complete.", outcomes.len())?;
    Ok(signalled(&signal).unwrap_or(ExitCode::from(code)))
}

/// Seconds since 1970, the clock of a real run.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The per-job progress file in the user's data folder, named after the
/// two accounts (no secret in the name).
fn default_state_path(job_name: &str) -> anyhow::Result<PathBuf> {
    let dir = mailferry::paths::jobs_dir().context(
        "cannot find this user's data folder; give --state FILE or set MAILFERRY_DATA_DIR",
    )?;
    Ok(mailferry::paths::job_file(&dir, job_name))
}

fn state_problem(path: &std::path::Path, e: mailferry::state::StateError) -> anyhow::Error {
    if e.is_busy() {
        anyhow!("{e}")
    } else {
        anyhow!("{e} (progress file: {})", path.display())
    }
}

fn print_sync_report(
    out: &mut impl Write,
    report: &Report,
    state: &std::path::Path,
) -> std::io::Result<()> {
    let verb = if report.dry { "Would copy" } else { "Copied" };
    let bytes: u64 = report.folders.iter().map(|f| f.bytes).sum();
    writeln!(
        out,
        "{verb} {} message{} ({}) in {} folder{}; {} already there; {} skipped; {} could not be copied.",
        report.transferred(),
        plural(report.transferred()),
        run::human_bytes(bytes),
        report.folders.len(),
        plural(report.folders.len() as u64),
        report.already_there(),
        report.skipped(),
        report.failed(),
    )?;
    for f in &report.folders {
        if let Some(why) = &f.refused {
            writeln!(
                out,
                "  {} → {}: this folder could not be copied this time: {why}",
                f.source, f.destination
            )?;
            continue;
        }
        writeln!(
            out,
            "  {} → {}: {} {}, {} already there, {} skipped, {} not copied",
            f.source,
            f.destination,
            f.transferred,
            if report.dry { "to copy" } else { "copied" },
            f.already_there,
            f.skipped,
            f.failed
        )?;
        if f.in_other_folders > 0 {
            writeln!(
                out,
                "    {} already copied through their Gmail labels (other folders), so not copied here again",
                f.in_other_folders
            )?;
        }
        if f.flags_updated > 0 || f.removed > 0 {
            writeln!(
                out,
                "    {} with read/starred/tags brought up to date, {} removed because deleted at the source",
                f.flags_updated, f.removed
            )?;
        }
        if !f.dropped_keywords.is_empty() {
            writeln!(
                out,
                "    (tags the destination can't keep were left off: {})",
                f.dropped_keywords.join(", ")
            )?;
        }
    }
    for (name, why) in &report.excluded_folders {
        writeln!(out, "  {name}: not copied ({why})")?;
    }
    let errors: Vec<_> = report
        .folders
        .iter()
        .flat_map(|f| f.errors.iter().map(move |e| (f, e)))
        .collect();
    if !errors.is_empty() {
        writeln!(out, "\nMessages that could not be copied:")?;
        for (f, e) in errors {
            writeln!(
                out,
                "  {}: \"{}\" from {} ({}): {}",
                f.source,
                e.subject.as_deref().unwrap_or("(no subject)"),
                e.from.as_deref().unwrap_or("(unknown sender)"),
                e.date.as_deref().unwrap_or("no date"),
                e.reason
            )?;
        }
    }
    let refused = report.refused().count();
    if refused > 0 {
        writeln!(
            out,
            "\n{refused} folder{} could not be copied (see above); every other folder was. \
             Running the copy again tries {} again.",
            plural(refused as u64),
            if refused == 1 { "it" } else { "them" }
        )?;
    }
    if let Some(why) = &report.stopped {
        writeln!(out, "\nStopped early: {why}")?;
    }
    if !report.dry {
        writeln!(
            out,
            "Progress is kept in {}; running the same command again copies only what is missing.",
            state.display()
        )?;
    }
    Ok(())
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Progress on stderr while copying (hidden when stderr is not a terminal).
struct Progress {
    bar: indicatif::ProgressBar,
}

impl Progress {
    fn new(quiet: bool) -> Self {
        let bar = if quiet || !std::io::stderr().is_terminal() {
            indicatif::ProgressBar::hidden()
        } else {
            indicatif::ProgressBar::new(0)
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {msg} [{bar:30}] {pos}/{len} messages, {per_sec}, {eta} left",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        Progress { bar }
    }

    fn show(&mut self, event: &Event) {
        match event {
            Event::FolderScanned {
                folder, to_copy, ..
            } => {
                self.bar.inc_length(*to_copy);
                self.bar.set_message(folder.clone());
            }
            Event::MessagesCopied { count, .. } => self.bar.inc(*count),
            Event::Throttled { wait_secs, reason } => {
                self.bar.println(format!(
                    "Waiting {} before going on: {reason}",
                    mailferry::error::human_duration(*wait_secs)
                ));
            }
            Event::MessageFailed { folder, reason, .. } => {
                self.bar
                    .println(format!("{folder}: a message could not be copied: {reason}"));
            }
            _ => {}
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

async fn run_verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
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

fn print_audit(out: &mut impl Write, audit: &mailferry::verify::Audit) -> std::io::Result<()> {
    let total: u64 = audit
        .folders
        .iter()
        .map(|f| f.source_messages - f.in_other_folders)
        .sum();
    let missing: usize = audit.folders.iter().map(|f| f.missing.len()).sum();
    if missing == 0 {
        writeln!(out, "All {total} messages arrived.")?;
    } else {
        writeln!(
            out,
            "{} of {total} messages arrived; {missing} did not ({} without a known reason).",
            total - missing as u64,
            audit.unexplained()
        )?;
    }
    writeln!(
        out,
        "\n  {:<30} {:>8} {:>8}  difference",
        "Folder", "source", "dest."
    )?;
    for f in &audit.folders {
        let diff = if let Some(why) = &f.unreadable {
            format!("could not be checked: {why}")
        } else if f.missing.is_empty() {
            "none".to_owned()
        } else {
            format!("{} not there", f.missing.len())
        };
        let mut extra = String::new();
        if f.in_other_folders > 0 {
            extra.push_str(&format!(
                " ({} are in their label folders)",
                f.in_other_folders
            ));
        }
        if f.only_at_destination > 0 {
            extra.push_str(&format!(
                " (+{} only at the destination)",
                f.only_at_destination
            ));
        }
        writeln!(
            out,
            "  {:<30} {:>8} {:>8}  {diff}{extra}",
            format!("{} → {}", f.source, f.destination),
            f.source_messages,
            f.destination_messages
        )?;
    }
    for (name, why) in &audit.excluded_folders {
        writeln!(out, "  {name}: not copied ({why})")?;
    }
    let gaps: Vec<_> = audit
        .folders
        .iter()
        .flat_map(|f| f.missing.iter().map(move |m| (f, m)))
        .collect();
    if !gaps.is_empty() {
        writeln!(out, "\nNot at the destination:")?;
        for (f, m) in gaps {
            writeln!(
                out,
                "  {}: \"{}\" from {} ({}): {}",
                f.source,
                m.subject.as_deref().unwrap_or("(no subject)"),
                m.from.as_deref().unwrap_or("(unknown sender)"),
                m.date.as_deref().unwrap_or("no date"),
                m.reason
            )?;
        }
    }
    writeln!(
        out,
        "\n{}",
        if audit.safe_to_switch {
            "Safe to switch your domain: every message is there or has a known reason."
        } else {
            "Not safe to switch yet: some messages are missing without a known reason, or a folder could not be \
             checked. Run the copy again, then check again."
        }
    )?;
    if audit.safe_to_switch {
        writeln!(
            out,
            "When the move is finished: remove the app passwords you created for MailFerry (and its access \
             to your accounts, if you signed in with Google or Microsoft; an administrator removes the \
             service account's delegation or the app's mailbox access), run `mailferry forget` to remove \
             what it kept in this computer's keychain, and keep the old account for 30 days."
        )?;
    }
    Ok(())
}

fn run_log(args: LogArgs) -> anyhow::Result<ExitCode> {
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
    } else if found.is_empty() {
        writeln!(out, "No message matches \"{}\".", args.search)?;
    } else {
        for (_, e) in &found {
            let fate = match &e.fate {
                mailferry::state::Fate::Copied => {
                    format!("copied to {}", e.dest_folder.as_deref().unwrap_or("?"))
                }
                mailferry::state::Fate::AlreadyThere => {
                    format!("already in {}", e.dest_folder.as_deref().unwrap_or("?"))
                }
                mailferry::state::Fate::Excluded { rule } => format!("left out: {rule}"),
                mailferry::state::Fate::Skipped { reason } => {
                    format!("skipped: {}", run::skip_words(*reason))
                }
                mailferry::state::Fate::Failed { server_text, .. } => format!(
                    "not copied: {}",
                    server_text
                        .as_deref()
                        .unwrap_or("the destination refused it")
                ),
                mailferry::state::Fate::Removed => "removed at the destination".to_owned(),
            };
            writeln!(
                out,
                "{} | {} | \"{}\" | {} — {fate}",
                e.source_folder,
                e.date.as_deref().unwrap_or("no date"),
                e.subject.as_deref().unwrap_or("(no subject)"),
                e.from.as_deref().unwrap_or("(unknown sender)"),
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `--justfoldersizes`: messages and bytes per mapped folder on both sides.
async fn print_folder_sizes(
    out: &mut impl Write,
    map: &FolderMap,
    source: &mut Session,
    dest: &mut Session,
    json: bool,
) -> anyhow::Result<()> {
    let pairs: Vec<_> = map
        .entries
        .iter()
        .filter_map(|e| match &e.target {
            folder::Target::Folder { name, .. } => Some((e.source.clone(), name.clone())),
            folder::Target::Excluded => None,
        })
        .collect();
    let sources: Vec<_> = pairs.iter().map(|(s, _)| s.clone()).collect();
    let dests: Vec<_> = pairs.iter().map(|(_, d)| d.clone()).collect();
    let src = mailferry::scan::folder_sizes(source, &sources)
        .await
        .map_err(|e| engine_error("Source server", e))?;
    let dst = mailferry::scan::folder_sizes(dest, &dests)
        .await
        .map_err(|e| engine_error("Destination server", e))?;
    if json {
        let rows: Vec<_> = src
            .iter()
            .zip(&dst)
            .map(|(s, d)| serde_json::json!({ "source": s, "destination": d }))
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<32} {:>9} {:>10} {:>10}   {:<24} {:>9} {:>10}",
        "Source folder", "messages", "size", "largest", "Destination folder", "messages", "size"
    )?;
    for (s, d) in src.iter().zip(&dst) {
        writeln!(
            out,
            "{:<32} {:>9} {:>10} {:>10}   {:<24} {:>9} {:>10}",
            s.folder,
            s.messages,
            run::human_bytes(s.bytes),
            run::human_bytes(s.largest),
            d.folder,
            d.messages,
            run::human_bytes(d.bytes)
        )?;
    }
    let total = |v: &[mailferry::scan::FolderSize]| {
        (
            v.iter().map(|f| f.messages).sum::<u64>(),
            v.iter().map(|f| f.bytes).sum::<u64>(),
        )
    };
    let (sm, sb) = total(&src);
    let (dm, db) = total(&dst);
    writeln!(
        out,
        "Total: {sm} messages ({}) at the source, {dm} ({}) at the destination.",
        run::human_bytes(sb),
        run::human_bytes(db)
    )?;
    let estimate = mailferry::preset::estimate(
        sm.saturating_sub(dm),
        sb.saturating_sub(db),
        &mailferry::preset::for_host(&source.endpoint().host),
        &mailferry::preset::for_host(&dest.endpoint().host),
    );
    writeln!(out, "Copying what is missing: {}", estimate.words)?;
    Ok(())
}
