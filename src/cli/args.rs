//! The flags, as clap structs with imapsync's names, and their conversion
//! to the engine's copy options and folder rules. Each side's flags are
//! declared twice (`--host1`, `--host2`) and turned into one [`Side`].

use super::sides::Side;
use anyhow::bail;
use clap::{Args, Parser, Subcommand};
use mailferry::folder::{self, Rules};
use mailferry::run;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "mailferry",
    version,
    about = "Move a domain's email from one IMAP server to another."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Find the mail server of an email address (presets, MX records,
    /// autoconfig, DNS service records, usual names), each one checked
    /// before it is offered; no password is asked or sent.
    Discover(DiscoverArgs),
    /// Test the connection to the source (1) and/or destination (2) server:
    /// find it, secure the connection, sign in, read the folder list.
    Check(CheckArgs),
    /// Show where every source folder will go on the destination, and why.
    /// Changes nothing.
    Folders(FoldersArgs),
    /// Copy from the source (1) to the destination (2): create the folders,
    /// then copy every message not yet there. Safe to interrupt and re-run.
    Sync(Box<SyncArgs>),
    /// After the switch: watch the source (1) and move mail still arriving
    /// there to the destination (2) within seconds; stops by itself once
    /// no mail has arrived for the quiet period.
    Watch(Box<WatchArgs>),
    /// Compare the source and the destination folder by folder: counts,
    /// sizes, and every message not at the destination with its reason.
    Verify(VerifyArgs),
    /// Search the record of every message's fate: "where is Bob's email
    /// from March?"
    Log(LogArgs),
    /// Write every folder of the source (1) mailbox to files on this
    /// computer (Maildir, mbox or .eml, with a manifest). Safe to interrupt
    /// and re-run: nothing is written twice.
    Export(Box<ExportArgs>),
    /// Bring mail kept in files into the destination (2) mailbox: an
    /// archive from `export`, a Maildir, mbox files, a folder of .eml
    /// files, a Google Takeout mbox or a Thunderbird profile's mail folder.
    /// Safe to interrupt and re-run: nothing is sent twice.
    Import(Box<ImportArgs>),
    /// One report for a list migrated one mailbox per worker (`sync
    /// --mailboxes FILE --row N --state-store URL`): where every mailbox
    /// stands, from the progress each worker saved.
    Report(ReportArgs),
    /// Remove the passwords and sign-ins of the source (1) and destination
    /// (2) accounts from this computer's keychain (after a migration).
    Forget(ForgetArgs),
    /// List every mailbox of a Google Workspace or Microsoft 365 domain
    /// from its directory, flag the ones worth a second look (suspended,
    /// long unused), and write the list `sync --mailboxes` reads.
    Inventory(InventoryArgs),
    /// Contacts and calendars (CardDAV/CalDAV servers, .vcf/.ics files):
    /// check, sync, verify and export, with the same promises as the mail.
    Dav(super::dav::DavArgs),
}

#[derive(Args)]
pub(crate) struct InventoryArgs {
    /// Google Workspace: the service account's key file (domain-wide
    /// delegation with the directory's read-only user scope).
    #[arg(
        long,
        value_name = "KEYFILE",
        required_unless_present = "microsoft",
        conflicts_with = "microsoft"
    )]
    pub(crate) google: Option<PathBuf>,
    /// Google Workspace: the administrator the service account acts as.
    #[arg(long, value_name = "ADDRESS", requires = "google")]
    pub(crate) admin: Option<String>,
    /// Microsoft 365: the tenant (its ID or domain, or a token URL). The
    /// app's ID and secret come from MAILFERRY_OAUTH_CLIENT_ID and
    /// MAILFERRY_OAUTH_CLIENT_SECRET (User.Read.All, admin consent).
    #[arg(long, value_name = "TENANT")]
    pub(crate) microsoft: Option<String>,
    /// The directory's address (Google's Admin SDK, Microsoft Graph; for
    /// national clouds such as https://graph.microsoft.us).
    #[arg(long, value_name = "URL")]
    pub(crate) api: Option<String>,
    /// Write the mailbox list (`sync --mailboxes` reads it) to this file.
    #[arg(long, value_name = "FILE")]
    pub(crate) list: Option<PathBuf>,
    /// Print the inventory as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    pub(crate) side1: Side1,
    #[command(flatten)]
    pub(crate) lookup: LookupArgs,
    /// The archive folder (created if missing; an earlier export there is resumed).
    #[arg(long, value_name = "DIR")]
    pub(crate) to: PathBuf,
    /// How messages are kept: maildir (flags in file names), mbox (one
    /// file per folder), or eml (one file per message).
    #[arg(long, value_parser = ["maildir", "mbox", "eml"], default_value = "mbox")]
    pub(crate) format: String,
    /// Compare the archive with the source instead of exporting: every
    /// source message on record and every file as it was written.
    #[arg(long)]
    pub(crate) verify: bool,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
    /// One mailbox of a list per worker (the list `sync --mailboxes`
    /// reads; with --row): the row's old mailbox is exported to
    /// DIR/<its address>, with the row's password or the administrator
    /// sign-in given by the --…1 flags.
    #[arg(long, value_name = "FILE", requires = "row", conflicts_with = "verify")]
    pub(crate) mailboxes: Option<PathBuf>,
    /// With --mailboxes: the row this worker exports, counted from 0, or
    /// env:NAME to read it from a variable (env:JOB_COMPLETION_INDEX on a
    /// Kubernetes Indexed Job). Its progress file stays on this computer
    /// (the archive's journal says what the archive holds, so a worker
    /// started elsewhere writes nothing twice). Exit codes as `sync --row`:
    /// 0 done, 1 messages not written, 75 try again later, 77 retrying
    /// cannot help (docs/scale.md).
    #[arg(long, value_name = "N|env:NAME", requires = "mailboxes")]
    pub(crate) row: Option<String>,
}

#[derive(Args)]
pub(crate) struct ImportArgs {
    /// The files: a folder (Maildir, .eml files, mbox files, an export) or one mbox file.
    #[arg(value_name = "DIR|FILE")]
    pub(crate) path: PathBuf,
    #[command(flatten)]
    pub(crate) side2: Side2,
    #[command(flatten)]
    pub(crate) lookup: LookupArgs,
    #[command(flatten)]
    pub(crate) rules: FolderRuleArgs,
    /// The import's progress file (default: one in the data folder named
    /// after the files and the account).
    #[arg(long)]
    pub(crate) state: Option<PathBuf>,
    /// Only show where each folder of the files would go; send nothing.
    #[arg(long)]
    pub(crate) dry: bool,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct ReportArgs {
    #[command(flatten)]
    pub(crate) servers: Servers,
    /// The mailbox list the workers migrated.
    #[arg(long, value_name = "FILE")]
    pub(crate) mailboxes: PathBuf,
    /// Where the workers saved their progress (as `sync --state-store`).
    #[arg(long, value_name = "URL")]
    pub(crate) state_store: String,
    /// Print the report as JSON on stdout.
    #[arg(long, conflicts_with_all = ["csv", "html"])]
    pub(crate) json: bool,
    /// Print the report as CSV (one line per mailbox) on stdout.
    #[arg(long, conflicts_with = "html")]
    pub(crate) csv: bool,
    /// Print the report as a web page on stdout.
    #[arg(long)]
    pub(crate) html: bool,
}

#[derive(Args)]
pub(crate) struct ForgetArgs {
    #[command(flatten)]
    pub(crate) servers: Servers,
}

#[derive(Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    pub(crate) servers: Servers,
    #[command(flatten)]
    pub(crate) rules: FolderRuleArgs,
    /// The migration's progress file (default: the one `sync` uses for
    /// these two accounts).
    #[arg(long)]
    pub(crate) state: Option<PathBuf>,
    /// Print the audit as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
    /// Also do the four checks you would do by hand, side by side: the
    /// Sent folder's span of mail, the deepest folder, the newest message
    /// and a starred one (JSON: a `spot_check` field).
    #[arg(long)]
    pub(crate) spot_check: bool,
    /// Also put the report in the new mailbox's INBOX as a message
    /// (unread, the verdict in its subject), where the owner looks.
    #[arg(long)]
    pub(crate) mail_report: bool,
}

#[derive(Args)]
pub(crate) struct WatchArgs {
    #[command(flatten)]
    pub(crate) servers: Servers,
    #[command(flatten)]
    pub(crate) rules: FolderRuleArgs,
    /// The migration's progress file (default: the one `sync` uses for
    /// these two accounts). It must record the switch (`sync --cutover-done`).
    #[arg(long)]
    pub(crate) state: Option<PathBuf>,
    /// Stop after this many hours whatever happens.
    #[arg(long = "for", value_name = "HOURS")]
    pub(crate) for_hours: Option<f64>,
    /// Stop once no mail has arrived at the old server for this many hours.
    #[arg(long, value_name = "HOURS", default_value_t = 24.0)]
    pub(crate) quiet_hours: f64,
    /// Look at the folders not watched as mail arrives every this many
    /// seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub(crate) poll: u64,
    /// End and start again each wait for new mail (IDLE) after this many
    /// seconds (servers end one after 30 minutes).
    #[arg(long, value_name = "SECONDS", default_value_t = 28 * 60, hide = true)]
    pub(crate) idle_renew: u64,
    /// The domain whose mail records (MX) are watched: the watch stops by
    /// itself only once every answer names the new provider and the old
    /// records' time to live has passed (besides the quiet period).
    #[arg(long)]
    pub(crate) domain: Option<String>,
    /// The new provider's mail server, or the end of its name
    /// (`outlook.com`, `google.com`); repeatable.
    #[arg(long, value_name = "HOST", requires = "domain")]
    pub(crate) new_mx: Vec<String>,
    /// Also ask this resolver (IP:PORT, like 1.1.1.1:53); repeatable.
    #[arg(long, value_name = "IP:PORT", requires = "domain")]
    pub(crate) resolver: Vec<std::net::SocketAddr>,
    /// Do not ask this computer's own resolver (only --resolver ones).
    #[arg(long, requires = "resolver")]
    pub(crate) no_system_resolver: bool,
    /// The port the domain's own name servers are asked on (tests).
    #[arg(long, default_value_t = 53, hide = true)]
    pub(crate) dns_port: u16,
}

#[derive(Args)]
pub(crate) struct LogArgs {
    /// Words to look for in the sender, subject, date, Message-ID, folder
    /// or reason ("bob march"). Every word must match.
    #[arg(long)]
    pub(crate) search: String,
    /// The migration's progress file (default: every migration in your
    /// data folder).
    #[arg(long)]
    pub(crate) state: Option<PathBuf>,
    /// At most this many results.
    #[arg(long, default_value_t = 50)]
    pub(crate) limit: usize,
    /// Print the results as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct DiscoverArgs {
    /// The email address (anna@bakery.example).
    pub(crate) address: String,
    #[command(flatten)]
    pub(crate) lookup: LookupArgs,
    /// Trust this certificate authority (PEM file) besides the system's,
    /// for the web servers and the mail servers asked.
    #[arg(long, value_name = "FILE")]
    pub(crate) cafile: Option<PathBuf>,
    /// Seconds each connection, question and download may take.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) timeout: f64,
    /// Print the candidates and the verdict as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Where discovery looks (`discover`, and `--host1 auto` / `--host2 auto`
/// in every command).
#[derive(Args, Clone, Default)]
pub(crate) struct LookupArgs {
    /// Name servers to ask (IP:PORT, repeatable or comma-separated)
    /// instead of the system's.
    #[arg(
        long = "name-server",
        value_name = "IP:PORT",
        env = "MAILFERRY_NAME_SERVER",
        value_delimiter = ','
    )]
    pub(crate) resolvers: Vec<std::net::SocketAddr>,
    /// The base address of Thunderbird's database of providers (ISPDB).
    #[arg(long, value_name = "URL", env = "MAILFERRY_ISPDB", default_value = mailferry::discover::ISPDB)]
    pub(crate) ispdb: String,
    /// Do not ask Thunderbird's database of providers.
    #[arg(long)]
    pub(crate) no_ispdb: bool,
}

#[derive(Args)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    pub(crate) servers: Servers,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct FoldersArgs {
    #[command(flatten)]
    pub(crate) servers: Servers,
    #[command(flatten)]
    pub(crate) rules: FolderRuleArgs,
    /// Print the folder map as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct SyncArgs {
    #[command(flatten)]
    pub(crate) servers: Servers,
    #[command(flatten)]
    pub(crate) rules: FolderRuleArgs,
    /// Only create the folders on the destination (and show them in mail
    /// apps); copy no messages.
    #[arg(long)]
    pub(crate) justfolders: bool,
    /// Show what would be done, change nothing.
    #[arg(long)]
    pub(crate) dry: bool,
    /// Only show how many messages and bytes each folder holds on both
    /// sides; change nothing.
    #[arg(long)]
    pub(crate) justfoldersizes: bool,
    /// Migrate every mailbox listed in FILE (a CSV file or a pasted list:
    /// old mailbox, new mailbox, then optionally one password for both or
    /// one for each), between the servers given by --host1 and --host2.
    /// Rows without passwords sign in with --serviceaccountN,
    /// --clientcredentialsN, or --authuserN (with that administrator's
    /// password).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["user1", "user2", "justfolders", "justfoldersizes", "state"])]
    pub(crate) mailboxes: Option<PathBuf>,
    /// With --mailboxes: migrate only this row of the list (0 for the first
    /// mailbox), or `env:NAME` for the number in the variable NAME
    /// (`env:JOB_COMPLETION_INDEX` in a Kubernetes Indexed Job). Exit codes
    /// for batch engines: 0 done, 1 done with refusals, 75 run again later,
    /// 77 retrying cannot help (docs/scale.md).
    #[arg(long, value_name = "N|env:NAME", requires = "mailboxes")]
    pub(crate) row: Option<String>,
    /// With --row: where the mailbox's progress file lives between workers
    /// (file:///shared/folder; s3://bucket/prefix with the AWS_*
    /// variables; az://container/prefix with the AZURE_STORAGE_*
    /// variables; gs://bucket/prefix with GOOGLE_APPLICATION_CREDENTIALS
    /// or the machine's own Google account).
    /// Restored at the start, saved after every folder and at
    /// the end; refused if another worker saved it since.
    #[arg(long, value_name = "URL", requires = "row")]
    pub(crate) state_store: Option<String>,
    /// This worker's share of the limits every worker of the job together
    /// keeps (connections to each server, --maxmessagespersecond,
    /// --maxbytespersecond): K parts of N, like 1/50 for one of 50 workers.
    #[arg(long, value_name = "K/N")]
    pub(crate) share: Option<mailferry::batch::Share>,
    /// With --mailboxes: how many mailboxes are copied at the same time.
    #[arg(long, default_value_t = 2)]
    pub(crate) at_once: usize,
    /// Connections open at once to the old server, every mailbox together
    /// (default: what the provider tolerates).
    #[arg(long)]
    pub(crate) maxconnections1: Option<usize>,
    /// The same for the new server.
    #[arg(long)]
    pub(crate) maxconnections2: Option<usize>,
    #[command(flatten)]
    pub(crate) copy: CopyArgs,
}

/// What to copy, and where progress is kept.
#[derive(Args)]
pub(crate) struct CopyArgs {
    /// The progress file of this migration (default: one per pair of
    /// accounts in your data folder). Keeps no password.
    #[arg(long)]
    pub(crate) state: Option<PathBuf>,
    /// The progress file is damaged: keep it aside and build a new one from
    /// what both servers hold (nothing is copied twice).
    #[arg(long)]
    pub(crate) rebuild_progress: bool,
    /// Skip messages larger than this many bytes (a later run without it copies them).
    #[arg(long)]
    pub(crate) maxsize: Option<u64>,
    /// Skip messages smaller than this many bytes.
    #[arg(long)]
    pub(crate) minsize: Option<u64>,
    /// Skip messages older than this many days.
    #[arg(long)]
    pub(crate) maxage: Option<u64>,
    /// Skip messages newer than this many days.
    #[arg(long)]
    pub(crate) minage: Option<u64>,
    /// Before the switch: remove at the destination the messages MailFerry
    /// copied that were deleted at the source. Stops to ask when that is
    /// many (see --delete2-force).
    #[arg(long)]
    pub(crate) delete2: bool,
    /// Copy at most this many messages per second (every connection together).
    #[arg(long)]
    pub(crate) maxmessagespersecond: Option<f64>,
    /// Copy at most this many bytes per second.
    #[arg(long)]
    pub(crate) maxbytespersecond: Option<u64>,
    /// Connections writing to the destination at once (capped by the
    /// provider's limit).
    #[arg(long, default_value_t = run::Options::default().connections)]
    pub(crate) connections: usize,
    /// After a lost connection, a timeout or a busy server, reconnect and
    /// retry a folder up to this many times before giving up.
    #[arg(long, default_value_t = run::Options::default().max_retries)]
    pub(crate) reconnectretry: u32,
    /// With --delete2: remove even when it is many messages.
    #[arg(long, requires = "delete2")]
    pub(crate) delete2_force: bool,
    /// Copy from this source folder although the old server renumbered it
    /// and too few of the copies made before were found in it again
    /// (repeat for several folders).
    #[arg(long, value_name = "FOLDER")]
    pub(crate) accept_renumbered: Vec<String>,
    /// The domain's mail now arrives at the destination (MX switched):
    /// from now on runs only add messages.
    #[arg(long)]
    pub(crate) cutover_done: bool,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
    /// Messages per FETCH/APPEND batch (tuning; the default suits most servers).
    #[arg(long, default_value_t = run::Options::default().batch_messages, hide = true)]
    pub(crate) batch_messages: usize,
}

impl CopyArgs {
    /// The engine's copy options from these flags; `dry` is `--dry`.
    pub(crate) fn options(&self, dry: bool) -> anyhow::Result<run::Options> {
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
            accept_renumbered: self.accept_renumbered.clone(),
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
pub(crate) struct Servers {
    #[command(flatten)]
    pub(crate) side1: Side1,
    #[command(flatten)]
    pub(crate) side2: Side2,
    /// Where `--host1 auto` / `--host2 auto` look.
    #[command(flatten)]
    pub(crate) lookup: LookupArgs,
}

/// The folder rules, with imapsync's flag names.
#[derive(Args)]
pub(crate) struct FolderRuleArgs {
    /// Only folders whose name matches this regular expression (repeatable).
    #[arg(long, value_name = "REGEX")]
    pub(crate) include: Vec<String>,
    /// Skip folders whose name matches this regular expression (repeatable;
    /// wins over --include).
    #[arg(long, value_name = "REGEX")]
    pub(crate) exclude: Vec<String>,
    /// Rename destination folders with a Perl-style substitution such as
    /// 's/^Old/New/' (repeatable, applied in order).
    #[arg(long, value_name = "s/FROM/TO/")]
    pub(crate) regextrans2: Vec<String>,
    /// Put source folder A exactly into destination folder B, e.g.
    /// 'Sent=Sent Items' (repeatable; wins over every other rule).
    #[arg(long, value_name = "A=B")]
    pub(crate) f1f2: Vec<String>,
    /// Let several source folders go into one destination folder (e.g.
    /// two --f1f2 onto the same folder); otherwise that is a question.
    #[arg(long)]
    pub(crate) merge: bool,
}

impl FolderRuleArgs {
    /// The engine's folder rules from these flags.
    pub(crate) fn rules(&self) -> anyhow::Result<Rules> {
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
     $clientcredentials:ident, $compress:ident, $nocompress:ident) => {
        #[derive(Args, Clone)]
        pub(crate) struct $name {
            #[arg(long = concat!("host", $n), help = concat!("Server name of side ", $n, "; `auto` finds it from --user", $n, "'s email address (see `mailferry discover`)."))]
            $host: Option<String>,
            #[arg(long = concat!("port", $n), help = concat!("Port of side ", $n, " (default 993 with TLS, 143 otherwise)."))]
            $port: Option<u16>,
            #[arg(long = concat!("user", $n), help = concat!("User name of side ", $n, " (often the full email address)."))]
            pub(crate) $user: Option<String>,
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
            #[doc = "Never compress the connection, not even when the link is measured slow (by default it is compressed then, where the server offers it)."]
            #[arg(long = concat!("nocompress", $n), conflicts_with = concat!("compress", $n))]
            $nocompress: bool,
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
                    nocompress: a.$nocompress,
                    row_password: None,
                    lookup: LookupArgs::default(),
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
    compress1,
    nocompress1
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
    compress2,
    nocompress2
);

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn every_commands_flags_are_distinct_and_well_formed() {
        // Every command flattens both sides and discovery's flags: a name
        // used twice would only fail when that command is run.
        Cli::command().debug_assert();
    }
}
