//! The engine's errors: a closed set of problems, each with plain words for
//! the person in front of the app and a code for the program around it.
//!
//! [`Problem`] is what happened, as data (the desktop UI switches on its
//! `code`); [`Error`] wraps a problem with the technical detail that sits
//! behind "Show details". Retry logic asks the predicates
//! ([`Error::is_transient`], [`Error::is_auth`]) instead of reading strings.

use crate::certificate::Fingerprint;
use crate::provider::Provider;
use serde::Serialize;
use std::fmt;

/// The stage of a connection at which something went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Opening the TCP connection.
    Connecting,
    /// Waiting for the server's first words.
    Greeting,
    /// Setting up encryption.
    Securing,
    /// Signing in.
    SigningIn,
    /// Reading folders or messages.
    Working,
}

impl Stage {
    fn words(self) -> &'static str {
        match self {
            Stage::Connecting => "while connecting",
            Stage::Greeting => "while waiting for the server to answer",
            Stage::Securing => "while setting up a secure connection",
            Stage::SigningIn => "while signing in",
            Stage::Working => "while reading from the server",
        }
    }
}

/// Everything that can stop MailFerry from reaching or using a server.
///
/// The variant name is the code the UI and `--json` output carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "code")]
pub enum Problem {
    /// The server's name does not exist.
    DnsNotFound {
        /// The name that was looked up.
        host: String,
    },
    /// Nothing listens on that port.
    ConnectionRefused {
        /// Server name.
        host: String,
        /// Port.
        port: u16,
    },
    /// The network has no route to the server (offline, firewall).
    NetworkUnreachable {
        /// Server name.
        host: String,
    },
    /// The server did not answer in time.
    Timeout {
        /// Server name.
        host: String,
        /// What we were waiting for.
        stage: Stage,
        /// How long we waited, in seconds.
        waited_secs: u64,
    },
    /// The certificate is not signed by an authority this computer trusts
    /// (self-signed, private CA). It can be trusted by its fingerprint.
    TlsUntrustedCertificate {
        /// Server name.
        host: String,
        /// The certificate's SHA-256 fingerprint, to show and to pin.
        sha256: Fingerprint,
    },
    /// The certificate is valid but for another name.
    TlsHostnameMismatch {
        /// Server name.
        host: String,
        /// The certificate's fingerprint.
        sha256: Fingerprint,
    },
    /// The certificate has expired or is not valid yet.
    TlsCertificateExpired {
        /// Server name.
        host: String,
        /// The certificate's fingerprint.
        sha256: Fingerprint,
    },
    /// The server shows a different certificate from the one the user
    /// trusted earlier.
    TlsCertificateChanged {
        /// Server name.
        host: String,
        /// The fingerprint the user pinned.
        expected: Fingerprint,
        /// The fingerprint the server shows now.
        actual: Fingerprint,
    },
    /// The secure connection could not be set up for another reason
    /// (often: this port does not speak TLS).
    TlsFailed {
        /// Server name.
        host: String,
        /// Port.
        port: u16,
    },
    /// STARTTLS was asked for and the server does not offer it.
    StartTlsUnavailable {
        /// Server name.
        host: String,
    },
    /// The server skipped sign-in on a connection that was to be upgraded
    /// with STARTTLS: a known way to attack such connections.
    StartTlsPreauth {
        /// Server name.
        host: String,
    },
    /// Something answered, but not an IMAP server.
    NotImap {
        /// Server name.
        host: String,
        /// Port.
        port: u16,
    },
    /// The server refuses sign-in over an unencrypted connection.
    PlainSignInRefused {
        /// Server name.
        host: String,
    },
    /// The user name or password was not accepted.
    AuthFailed {
        /// Who refused.
        provider: Provider,
    },
    /// The provider wants an app password (2-step verification is on).
    AppPasswordRequired {
        /// Who refused.
        provider: Provider,
    },
    /// The provider wants the user to sign in on its web page first.
    WebLoginRequired {
        /// Who refused.
        provider: Provider,
    },
    /// Password sign-in for mail apps is switched off (Microsoft 365).
    BasicAuthDisabled {
        /// Who refused.
        provider: Provider,
    },
    /// IMAP access is switched off for the account.
    ImapDisabled {
        /// Who refused.
        provider: Provider,
    },
    /// The OAuth sign-in (access token) has expired or was withdrawn.
    TokenExpired {
        /// Who refused.
        provider: Provider,
    },
    /// The OAuth sign-in does not include permission to use mail over IMAP.
    TokenScope {
        /// Who refused.
        provider: Provider,
    },
    /// The OAuth sign-in was not accepted, without a reason (often: for
    /// another account than the user name given).
    TokenRejected {
        /// Who refused.
        provider: Provider,
    },
    /// The organisation's administrator must approve MailFerry first.
    AdminConsentRequired {
        /// Whose administrator.
        provider: Provider,
        /// The page where the administrator approves MailFerry for the
        /// organisation, when it is known.
        approve_at: Option<String>,
        /// MailFerry's client ID there, which the administrator allows.
        client_id: Option<String>,
    },
    /// The server does not accept OAuth sign-in (no XOAUTH2 or OAUTHBEARER).
    OAuthUnavailable {
        /// Server name.
        host: String,
    },
    /// This copy of MailFerry has no registration with the provider, which
    /// browser sign-in needs (a build from source without them).
    RegistrationMissing {
        /// Whose ("Google", "Microsoft").
        provider: Provider,
    },
    /// Signing in through the browser did not finish (declined, closed,
    /// timed out, or answered by something else).
    BrowserSignInFailed {
        /// Whose sign-in page ("Google", "Microsoft", an issuer URL).
        issuer: String,
    },
    /// The organisation-wide access (a Google Workspace service account, a
    /// Microsoft 365 app registration) was refused or is not set up.
    OrganisationAccessRefused {
        /// Whose ("Google", "Microsoft").
        issuer: String,
    },
    /// The organisation's directory (Google's Admin SDK, Microsoft Graph)
    /// would not list its mailboxes to MailFerry.
    DirectoryRefused {
        /// Whose ("Google", "Microsoft").
        issuer: String,
    },
    /// This computer has no keychain MailFerry can use (a Linux session
    /// without a Secret Service), or it is locked.
    KeychainUnavailable,
    /// The keychain refused to read or save a secret.
    KeychainFailed {
        /// Whose secret (`alice on imap.example.com`).
        account: String,
    },
    /// Nothing is saved in the keychain for this account.
    NotInKeychain {
        /// Whose secret (`alice on imap.example.com`).
        account: String,
    },
    /// The server is too busy or limits this account right now.
    ServerBusy {
        /// Server name.
        host: String,
        /// How long the server asked us to wait, when it said.
        wait_secs: Option<u64>,
    },
    /// The server closed the connection.
    ConnectionLost {
        /// Server name.
        host: String,
        /// At which stage.
        stage: Stage,
    },
    /// The server refused an operation on a folder or message; its words
    /// are in the detail.
    ServerRefused {
        /// Server name.
        host: String,
        /// What MailFerry was doing, in plain words ("create the folder
        /// \"Clients\"").
        action: String,
    },
    /// Another MailFerry run is working on this migration right now.
    JobBusy,
    /// The migration's progress file could not be read or written.
    StateFailed {
        /// The file.
        path: String,
    },
    /// The migration's progress file is damaged (not a database, or one
    /// that fails its integrity check); it can be rebuilt from both servers.
    ProgressDamaged {
        /// The file.
        path: String,
    },
    /// Removing this many messages at the destination looks like a fault
    /// (a folder that briefly lists nothing), so the run stopped to ask.
    RemovalNeedsConfirmation {
        /// Source folder (display name).
        folder: String,
        /// Messages that would be removed.
        count: u64,
        /// Messages of that folder at the destination.
        total: u64,
    },
    /// Removing messages at the destination was asked for after the
    /// domain's mail moved there: from then on MailFerry only adds.
    RemovalAfterSwitch,
    /// The old server renumbered a folder (its UIDVALIDITY changed) and too
    /// few of the copies made from it could be found in it again to be sure
    /// its other messages are not copies already at the new server under a
    /// changed identity: the folder was left alone.
    RenumberedUnconfirmed {
        /// Source folder (display name).
        folder: String,
        /// Copies on record found again in the renumbered folder.
        confirmed: u64,
        /// Copies on record from the folder before it was renumbered.
        recorded: u64,
        /// Messages the folder would have copied.
        to_copy: u64,
    },
    /// One message is larger than MailFerry can hold while copying it
    /// (over 512 MB): that message cannot be copied, the others can.
    MessageTooLarge {
        /// The server it is on.
        host: String,
    },
    /// The destination mailbox is full.
    DestinationFull {
        /// Server name.
        host: String,
    },
    /// The server said something MailFerry does not understand.
    Protocol {
        /// Server name.
        host: String,
    },
}

impl Problem {
    /// The code: the variant's name, stable across versions.
    pub fn code(&self) -> &'static str {
        match self {
            Problem::DnsNotFound { .. } => "DnsNotFound",
            Problem::ConnectionRefused { .. } => "ConnectionRefused",
            Problem::NetworkUnreachable { .. } => "NetworkUnreachable",
            Problem::Timeout { .. } => "Timeout",
            Problem::TlsUntrustedCertificate { .. } => "TlsUntrustedCertificate",
            Problem::TlsHostnameMismatch { .. } => "TlsHostnameMismatch",
            Problem::TlsCertificateExpired { .. } => "TlsCertificateExpired",
            Problem::TlsCertificateChanged { .. } => "TlsCertificateChanged",
            Problem::TlsFailed { .. } => "TlsFailed",
            Problem::StartTlsUnavailable { .. } => "StartTlsUnavailable",
            Problem::StartTlsPreauth { .. } => "StartTlsPreauth",
            Problem::NotImap { .. } => "NotImap",
            Problem::PlainSignInRefused { .. } => "PlainSignInRefused",
            Problem::AuthFailed { .. } => "AuthFailed",
            Problem::AppPasswordRequired { .. } => "AppPasswordRequired",
            Problem::WebLoginRequired { .. } => "WebLoginRequired",
            Problem::BasicAuthDisabled { .. } => "BasicAuthDisabled",
            Problem::ImapDisabled { .. } => "ImapDisabled",
            Problem::TokenExpired { .. } => "TokenExpired",
            Problem::TokenScope { .. } => "TokenScope",
            Problem::TokenRejected { .. } => "TokenRejected",
            Problem::AdminConsentRequired { .. } => "AdminConsentRequired",
            Problem::OAuthUnavailable { .. } => "OAuthUnavailable",
            Problem::RegistrationMissing { .. } => "RegistrationMissing",
            Problem::BrowserSignInFailed { .. } => "BrowserSignInFailed",
            Problem::OrganisationAccessRefused { .. } => "OrganisationAccessRefused",
            Problem::DirectoryRefused { .. } => "DirectoryRefused",
            Problem::KeychainUnavailable => "KeychainUnavailable",
            Problem::KeychainFailed { .. } => "KeychainFailed",
            Problem::NotInKeychain { .. } => "NotInKeychain",
            Problem::ServerBusy { .. } => "ServerBusy",
            Problem::ConnectionLost { .. } => "ConnectionLost",
            Problem::ServerRefused { .. } => "ServerRefused",
            Problem::JobBusy => "JobBusy",
            Problem::StateFailed { .. } => "StateFailed",
            Problem::ProgressDamaged { .. } => "ProgressDamaged",
            Problem::DestinationFull { .. } => "DestinationFull",
            Problem::MessageTooLarge { .. } => "MessageTooLarge",
            Problem::RemovalNeedsConfirmation { .. } => "RemovalNeedsConfirmation",
            Problem::RemovalAfterSwitch => "RemovalAfterSwitch",
            Problem::RenumberedUnconfirmed { .. } => "RenumberedUnconfirmed",
            Problem::Protocol { .. } => "Protocol",
        }
    }

    /// What happened and what to do, in words a non-technical owner can act
    /// on. Never contains a secret; server texts are not quoted here (they
    /// go in [`Error::detail`]).
    pub fn message(&self) -> String {
        match self {
            Problem::DnsNotFound { host } => format!(
                "MailFerry couldn't find a server called \"{host}\". Check the spelling of the server name \
                 (it often looks like imap.yourdomain.com) and that this computer is online."
            ),
            Problem::ConnectionRefused { host, port } => format!(
                "The server {host} turned the connection away on port {port}. The port or the security \
                 setting is probably wrong: most servers use port 993 with TLS, or 143 with STARTTLS."
            ),
            Problem::NetworkUnreachable { host } => format!(
                "MailFerry can't reach {host} from this computer. Check that you are online and that a \
                 firewall or VPN isn't blocking email connections."
            ),
            Problem::Timeout { host, stage, waited_secs } => format!(
                "{host} stopped answering {} (we waited {waited_secs} seconds). The server may be down or \
                 overloaded, or a firewall is silently blocking the connection. Try again in a few minutes; \
                 if it keeps happening, check the server name and port.",
                stage.words()
            ),
            Problem::TlsUntrustedCertificate { host, sha256 } => format!(
                "The security certificate of {host} isn't signed by an authority this computer trusts \
                 (common for company or self-hosted servers). If you know this server, compare this \
                 fingerprint with the one your provider or administrator gives you, and trust it only \
                 if they match: {sha256}"
            ),
            Problem::TlsHostnameMismatch { host, sha256 } => format!(
                "The security certificate presented by {host} belongs to a different server name. The \
                 server name may be slightly wrong (try the exact name your provider gives), or \
                 someone may be intercepting the connection. Certificate fingerprint: {sha256}"
            ),
            Problem::TlsCertificateExpired { host, sha256 } => format!(
                "The security certificate of {host} has expired (or this computer's clock is wrong). \
                 Check the date and time on this computer; otherwise ask the server's administrator to \
                 renew the certificate. Certificate fingerprint: {sha256}"
            ),
            Problem::TlsCertificateChanged { host, expected, actual } => format!(
                "{host} now shows a different security certificate from the one you trusted before. \
                 This happens when a server renews its certificate, but also when someone intercepts the \
                 connection. Ask your provider or administrator whether this new fingerprint is right \
                 before trusting it: {actual} (you trusted {expected})"
            ),
            Problem::TlsFailed { host, port } => format!(
                "MailFerry couldn't set up a secure connection with {host} on port {port}. This port may \
                 not use TLS: try STARTTLS on port 143, or TLS on port 993."
            ),
            Problem::StartTlsUnavailable { host } => format!(
                "{host} doesn't offer to encrypt this connection (STARTTLS), so MailFerry stopped before \
                 sending your password. Use TLS on port 993 instead; if the server really has no \
                 encryption, ask its administrator."
            ),
            Problem::StartTlsPreauth { host } => format!(
                "{host} tried to skip both encryption and sign-in. That is a known way to intercept \
                 connections, so MailFerry stopped. Use TLS on port 993, and tell the server's \
                 administrator."
            ),
            Problem::NotImap { host, port } => format!(
                "Something answered at {host} on port {port}, but it isn't an email (IMAP) server. Check \
                 the server name and port: IMAP usually uses port 993 (TLS) or 143 (STARTTLS)."
            ),
            Problem::PlainSignInRefused { host } => format!(
                "{host} won't accept a password over an unencrypted connection. Choose TLS (port 993) or \
                 STARTTLS (port 143)."
            ),
            Problem::AuthFailed { provider } => match provider {
                Provider::Yahoo | Provider::ICloud => format!(
                    "{} turned down the email address or password. {} needs an app password for apps \
                     like MailFerry, not your usual password: create one in your account's security \
                     settings and paste it here.",
                    provider.display_name(),
                    provider.display_name()
                ),
                _ => format!(
                    "{} turned down the user name or password. Check both (the user name is often your \
                     full email address) and try again. If your account uses 2-step verification, you \
                     may need an app password.",
                    provider.display_name()
                ),
            },
            Problem::AppPasswordRequired { provider } => format!(
                "{} refused the password because this account uses 2-step verification. Create an app \
                 password{} and use it here instead of your usual password.",
                provider.display_name(),
                provider
                    .app_password_page()
                    .map(|url| format!(" (at {url})"))
                    .unwrap_or_default()
            ),
            Problem::WebLoginRequired { provider } => format!(
                "{} blocked the sign-in and wants you to confirm it's you. Sign in once in your web \
                 browser, approve any security alert there, then try again here (or use an app password).",
                provider.display_name()
            ),
            Problem::BasicAuthDisabled { provider } => format!(
                "{} turned down the password. Either the password is wrong, or your organisation has \
                 switched off password sign-in for email apps. Check the password; if it is right, use \
                 'Sign in with Microsoft' instead.",
                provider.display_name()
            ),
            Problem::ImapDisabled { provider } => format!(
                "{} accepted your password but has email-app (IMAP) access switched off for this account. \
                 Turn on IMAP in the account's mail settings, or ask your administrator to allow it.",
                provider.display_name()
            ),
            Problem::TokenExpired { provider } => format!(
                "{} no longer accepts MailFerry's sign-in for this account: it has expired or was \
                 withdrawn. Sign in again in your browser.",
                provider.display_name()
            ),
            Problem::TokenScope { provider } => format!(
                "{} let you sign in, but without permission to read and copy mail. Sign in again and \
                 allow MailFerry to access your mail when asked.",
                provider.display_name()
            ),
            Problem::TokenRejected { provider } => format!(
                "{} did not accept the sign-in. It may have expired, or been made with another account \
                 than the user name given here. Sign in again with the same account.",
                provider.display_name()
            ),
            Problem::AdminConsentRequired {
                provider: Provider::Google,
                approve_at: Some(page),
                client_id,
            } => format!(
                "Your organisation's Google Workspace administrator must allow MailFerry before anyone \
                 there can sign in with it. Send them this: in the Google Admin console ({page}), under \
                 Security, API controls, App access control, add the app with client ID {} and mark it \
                 Trusted. Then sign in again.",
                client_id.as_deref().unwrap_or("(shown on MailFerry's sign-in page)")
            ),
            Problem::AdminConsentRequired {
                provider,
                approve_at,
                ..
            } => match approve_at {
                Some(page) => format!(
                    "{} needs your organisation's administrator to approve MailFerry before anyone \
                     there can sign in with it. Send your administrator this link: signed in as an \
                     administrator, they open {page} and accept. Then sign in again.",
                    provider.display_name()
                ),
                None => format!(
                    "{} needs your organisation's administrator to approve MailFerry before anyone \
                     there can sign in with it. Ask your administrator to grant it access, then sign \
                     in again.",
                    provider.display_name()
                ),
            },
            Problem::RegistrationMissing { provider } => {
                crate::auth::registration::Registrations::missing_words(*provider)
            }
            Problem::OAuthUnavailable { host } => format!(
                "{host} does not offer sign-in through your browser. Use the account's password (or an \
                 app password) instead."
            ),
            Problem::BrowserSignInFailed { issuer } => format!(
                "Signing in with {issuer} in your browser did not finish. Try again, and complete the \
                 sign-in in the browser window that opens; the details say what went wrong."
            ),
            Problem::OrganisationAccessRefused { issuer } => format!(
                "{issuer} turned down MailFerry's organisation-wide access, or it is not set up yet. \
                 An administrator must allow it: in Google Workspace, add the service account's client \
                 ID with https://mail.google.com/ under Security, API controls, Domain-wide \
                 delegation; in Microsoft 365, grant the app IMAP.AccessAsApp with admin consent and \
                 give it access to each mailbox. The details say what {issuer} answered."
            ),
            Problem::DirectoryRefused { issuer } => format!(
                "{issuer} did not let MailFerry list your organisation's mailboxes. An \
                 administrator must allow it: in Google Workspace, add the service account's \
                 client ID with https://www.googleapis.com/auth/admin.directory.user.readonly \
                 under Security, API controls, Domain-wide delegation, and name an administrator \
                 to act as; in Microsoft 365, grant the app User.Read.All with admin consent \
                 (AuditLog.Read.All too, for the last sign-ins). The details say what {issuer} \
                 answered."
            ),
            Problem::KeychainUnavailable => format!(
                "MailFerry can't reach this computer's keychain, or it is locked, and it never saves a \
                 password in a file instead. {} Until then, use the password for this session only.",
                keychain_how_to_enable()
            ),
            Problem::KeychainFailed { account } => format!(
                "The keychain refused to read or save the password of {account}. Unlock the keychain and \
                 try again, or use the password for this session only."
            ),
            Problem::NotInKeychain { account } => format!(
                "No password for {account} is saved in this computer's keychain. Sign in once with \
                 \"Remember\" ticked, or give the password another way."
            ),
            Problem::ServerBusy { host, wait_secs } => match wait_secs {
                Some(secs) => format!(
                    "{host} is limiting how fast we can work and asked us to wait about {}. MailFerry \
                     will try again by itself; nothing is lost.",
                    human_duration(*secs)
                ),
                None => format!(
                    "{host} is busy or has too many connections open for this account right now. Close \
                     other mail apps that use this account, or try again in a few minutes."
                ),
            },
            Problem::ConnectionLost { host, stage } => format!(
                "The connection to {host} was closed {}. Check your internet connection and try again; \
                 if it keeps happening, the server may be limiting connections.",
                stage.words()
            ),
            Problem::ServerRefused { host, action } => format!(
                "{host} refused to {action}. The server's own words are in the details; if they \
                 mention space or quota, the mailbox is full."
            ),
            Problem::JobBusy => "Another MailFerry window or command is already working on this migration. \
                 Let it finish (or close it), then try again."
                .to_owned(),
            Problem::StateFailed { path } => format!(
                "MailFerry couldn't save its progress in {path}. Check that the disk has free space and \
                 that the file isn't in use by another program, then try again; nothing copied so far is lost."
            ),
            Problem::ProgressDamaged { path } => format!(
                "MailFerry's progress file for this migration ({path}) is damaged, so MailFerry stopped \
                 before changing anything on either server. Rebuild it (on the command line: run the same \
                 command again with --rebuild-progress): the damaged file is kept beside a new one, built \
                 from what both servers hold, so nothing is copied twice."
            ),
            Problem::RemovalNeedsConfirmation { folder, count, total } => format!(
                "{count} of the {total} messages MailFerry copied from \"{folder}\" are no longer at the \
                 source, so they would be removed at the destination too. That is more than usual (a server \
                 sometimes briefly shows an empty folder), so MailFerry stopped and removed nothing. Check the \
                 folder at the source; if the messages really were deleted there, confirm the removal (on the \
                 command line: --delete2-force)."
            ),
            Problem::RemovalAfterSwitch => "Your domain's mail now arrives at the new server, so MailFerry \
                only adds messages from now on and never removes any there (new mail could be lost). \
                Nothing was changed. Run the copy again without asking it to remove messages \
                (on the command line: without --delete2)."
                .to_owned(),
            Problem::RenumberedUnconfirmed {
                folder,
                confirmed,
                recorded,
                to_copy,
            } => format!(
                "The old server renumbered the folder \"{folder}\" since the last copy (it was deleted \
                 and created again, or restored from a backup), and only {confirmed} of the {recorded} \
                 messages copied from it before could be found in it again. Its {to_copy} other messages \
                 may be copies already at the new server, so MailFerry left this folder alone and changed \
                 nothing in it. Look at the folder on the old server; if those messages really are new, \
                 copy them anyway (on the command line: --accept-renumbered \"{folder}\")."
            ),
            Problem::MessageTooLarge { host } => format!(
                "A message on {host} is larger than MailFerry can copy (over 512 MB), so it was left \
                 where it is; the other messages are copied. Save that message from your mail app and \
                 move it by hand, or ask your provider for help."
            ),
            Problem::DestinationFull { host } => format!(
                "The destination mailbox on {host} is full, so MailFerry stopped copying. Free some space \
                 or ask the provider for more, then run the copy again: it picks up where it stopped."
            ),
            Problem::Protocol { host } => format!(
                "{host} answered in a way MailFerry doesn't understand. Try again; if it keeps happening, \
                 send the details below to support."
            ),
        }
    }
}

/// Seconds as "40 seconds", "5 minutes", "2 hours", "16 days".
pub fn human_duration(secs: u64) -> String {
    let plural = |n: u64, unit: &str| {
        if n == 1 {
            format!("1 {unit}")
        } else {
            format!("{n} {unit}s")
        }
    };
    if secs < 90 {
        plural(secs, "second")
    } else if secs < 90 * 60 {
        plural(secs.div_ceil(60), "minute")
    } else if secs < 36 * 3600 {
        plural(secs.div_ceil(3600), "hour")
    } else {
        plural(secs.div_ceil(86_400), "day")
    }
}

/// The engine's error: a [`Problem`] plus technical detail for support.
#[derive(Debug, Clone)]
pub struct Error {
    problem: Problem,
    detail: Option<String>,
    /// Boxed: most errors have none, and an `Error` stays small.
    certificate_names: Option<Box<Names>>,
}

/// Server names, boxed inside [`Error`].
#[derive(Debug, Clone)]
struct Names(Vec<String>);

impl Error {
    /// An error for a problem, without detail.
    pub fn new(problem: Problem) -> Self {
        Error {
            problem,
            detail: None,
            certificate_names: None,
        }
    }

    /// Adds the server names the certificate shown is for (with
    /// [`Problem::TlsHostnameMismatch`]).
    pub fn with_certificate_names(mut self, names: Vec<String>) -> Self {
        self.certificate_names = (!names.is_empty()).then(|| Box::new(Names(names)));
        self
    }

    /// The server names the certificate shown is for, when it was for
    /// another name than the one asked for; empty otherwise.
    pub fn certificate_names(&self) -> &[String] {
        self.certificate_names
            .as_deref()
            .map_or(&[], |n| n.0.as_slice())
    }

    /// Adds technical detail (an OS error, a server's words after TLS).
    /// Callers must never pass a secret here.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// What happened.
    pub fn problem(&self) -> &Problem {
        &self.problem
    }

    /// The closed code for the UI.
    pub fn code(&self) -> &'static str {
        self.problem.code()
    }

    /// The technical detail behind "Show details".
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// May the same operation succeed if tried again later, unchanged?
    pub fn is_transient(&self) -> bool {
        matches!(
            self.problem,
            Problem::Timeout { .. }
                | Problem::ServerBusy { .. }
                | Problem::ConnectionLost { .. }
                | Problem::NetworkUnreachable { .. }
        )
    }

    /// Is this about the credentials (so asking again may help)?
    pub fn is_auth(&self) -> bool {
        matches!(
            self.problem,
            Problem::AuthFailed { .. }
                | Problem::AppPasswordRequired { .. }
                | Problem::WebLoginRequired { .. }
                | Problem::BasicAuthDisabled { .. }
                | Problem::ImapDisabled { .. }
                | Problem::TokenExpired { .. }
                | Problem::TokenScope { .. }
                | Problem::TokenRejected { .. }
                | Problem::AdminConsentRequired { .. }
        )
    }

    /// Would a fresh access token help (the OAuth sign-in expired or was
    /// turned down without a reason)? A long run refreshes its token then.
    pub fn needs_new_token(&self) -> bool {
        matches!(
            self.problem,
            Problem::TokenExpired { .. } | Problem::TokenRejected { .. }
        )
    }

    /// Is this about one message only, and about that message for good
    /// (asking again, on this run or the next, gets the same answer)? The
    /// copy records that message as not copied, with this reason, and goes
    /// on with the others; the session that met it must be reconnected
    /// (its reply was left half read).
    pub fn is_permanent_for_message(&self) -> bool {
        matches!(self.problem, Problem::MessageTooLarge { .. })
    }

    /// Is this about the account or the server for good, so that running
    /// the same command again, unchanged, cannot help (a wrong password, a
    /// mailbox that does not exist, access refused by the administrator, a
    /// certificate not trusted)? A batch engine stops retrying then
    /// (`batch::PERMANENT`).
    pub fn is_permanent_for_account(&self) -> bool {
        self.is_auth()
            || self.is_certificate()
            || matches!(
                self.problem,
                Problem::OrganisationAccessRefused { .. }
                    | Problem::PlainSignInRefused { .. }
                    | Problem::StartTlsUnavailable { .. }
                    | Problem::StartTlsPreauth { .. }
                    | Problem::RegistrationMissing { .. }
                    | Problem::NotImap { .. }
            )
    }

    /// Is this about trusting the server's certificate (so the user may
    /// decide to pin it)?
    pub fn is_certificate(&self) -> bool {
        matches!(
            self.problem,
            Problem::TlsUntrustedCertificate { .. }
                | Problem::TlsHostnameMismatch { .. }
                | Problem::TlsCertificateExpired { .. }
                | Problem::TlsCertificateChanged { .. }
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.problem.message())
    }
}

impl std::error::Error for Error {}

impl From<Problem> for Error {
    fn from(problem: Problem) -> Self {
        Error::new(problem)
    }
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a user does on this platform so that MailFerry finds a keychain.
fn keychain_how_to_enable() -> &'static str {
    if cfg!(target_os = "macos") {
        "Open the Keychain Access app, unlock your login keychain, then try again."
    } else if cfg!(target_os = "windows") {
        "Windows keeps passwords in its Credential Manager for the signed-in user; sign in to \
         Windows with your own account, then try again."
    } else {
        "To let MailFerry remember passwords, install a password store (GNOME Keyring, in the \
         package gnome-keyring, or KDE's KWallet), let it start when you log in and unlock it, \
         then open MailFerry again."
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_the_variant_name() {
        let p = Problem::ConnectionRefused {
            host: "h".into(),
            port: 1,
        };
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["code"], p.code());
        assert_eq!(json["port"], 1);
    }

    #[test]
    fn messages_avoid_jargon() {
        // The words UX.md asks us not to use in front of users.
        let problems = [
            Problem::AuthFailed {
                provider: Provider::Google,
            },
            Problem::AppPasswordRequired {
                provider: Provider::Google,
            },
            Problem::ImapDisabled {
                provider: Provider::Microsoft,
            },
            Problem::TokenExpired {
                provider: Provider::Google,
            },
            Problem::TokenScope {
                provider: Provider::Google,
            },
            Problem::TokenRejected {
                provider: Provider::Microsoft,
            },
            Problem::AdminConsentRequired {
                provider: Provider::Microsoft,
                approve_at: None,
                client_id: None,
            },
            Problem::AdminConsentRequired {
                provider: Provider::Microsoft,
                approve_at: Some("https://login.example/adminconsent".into()),
                client_id: Some("id".into()),
            },
            Problem::AdminConsentRequired {
                provider: Provider::Google,
                approve_at: Some("https://admin.example/apps".into()),
                client_id: Some("id".into()),
            },
            Problem::OAuthUnavailable { host: "h".into() },
            Problem::RegistrationMissing {
                provider: Provider::Google,
            },
            Problem::KeychainUnavailable,
            Problem::RemovalAfterSwitch,
            Problem::OrganisationAccessRefused {
                issuer: "Google".into(),
            },
            Problem::DirectoryRefused {
                issuer: "Microsoft".into(),
            },
            Problem::BrowserSignInFailed {
                issuer: "Google".into(),
            },
            Problem::NotInKeychain {
                account: "a on h".into(),
            },
            Problem::ConnectionLost {
                host: "h".into(),
                stage: Stage::Working,
            },
            Problem::ServerBusy {
                host: "h".into(),
                wait_secs: Some(300),
            },
            Problem::MessageTooLarge { host: "h".into() },
            Problem::RenumberedUnconfirmed {
                folder: "Projects".into(),
                confirmed: 0,
                recorded: 12,
                to_copy: 12,
            },
        ];
        for p in problems {
            let m = p.message();
            for word in [
                "UID",
                "namespace",
                "delimiter",
                "AUTHENTICATE",
                "NO [",
                "token",
                "OAuth",
                "scope",
            ] {
                assert!(!m.contains(word), "{m}");
            }
        }
        assert!(Problem::ServerBusy {
            host: "h".into(),
            wait_secs: Some(300)
        }
        .message()
        .contains("5 minutes"));
    }

    #[test]
    fn a_message_too_large_is_about_that_message_for_good() {
        let e = Error::new(Problem::MessageTooLarge { host: "h".into() });
        assert!(e.is_permanent_for_message());
        assert!(!e.is_transient(), "retrying gets the same answer");
        for other in [
            Problem::ConnectionLost {
                host: "h".into(),
                stage: Stage::Working,
            },
            Problem::Protocol { host: "h".into() },
            Problem::DestinationFull { host: "h".into() },
        ] {
            assert!(!Error::new(other).is_permanent_for_message());
        }
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(300), "5 minutes");
        assert_eq!(human_duration(7200), "2 hours");
        assert_eq!(human_duration(16 * 86_400), "16 days");
    }
}
