//! The connection check: the first thing a user does with a server.
//!
//! It walks the four steps the wizard shows as a checklist — found the
//! server, secure connection, signed in, can read folders — and stops at the
//! first failure with the problem in plain words.

use crate::endpoint::{Credentials, Endpoint, Security};
use crate::error::{Error, Problem, Stage};
use crate::imap::{Connection, Session};
use serde::Serialize;

/// One line of the checklist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The name resolved, the port answered, and it speaks IMAP.
    FoundServer,
    /// TLS (or STARTTLS) is up and the certificate is trusted.
    SecureConnection,
    /// The server accepted the credentials.
    SignedIn,
    /// The folder list could be read.
    CanReadFolders,
}

impl Step {
    /// The checklist wording.
    pub fn label(self) -> &'static str {
        match self {
            Step::FoundServer => "Found the server",
            Step::SecureConnection => "Secure connection",
            Step::SignedIn => "Signed in",
            Step::CanReadFolders => "Can read folders",
        }
    }

    /// The step at which a problem shows up.
    pub fn of(problem: &Problem) -> Step {
        match problem {
            Problem::DnsNotFound { .. }
            | Problem::ConnectionRefused { .. }
            | Problem::NetworkUnreachable { .. }
            | Problem::NotImap { .. } => Step::FoundServer,
            Problem::Timeout { stage, .. } | Problem::ConnectionLost { stage, .. } => match stage {
                Stage::Connecting | Stage::Greeting => Step::FoundServer,
                Stage::Securing => Step::SecureConnection,
                Stage::SigningIn => Step::SignedIn,
                Stage::Working => Step::CanReadFolders,
            },
            Problem::TlsUntrustedCertificate { .. }
            | Problem::TlsHostnameMismatch { .. }
            | Problem::TlsCertificateExpired { .. }
            | Problem::TlsCertificateChanged { .. }
            | Problem::TlsFailed { .. }
            | Problem::StartTlsUnavailable { .. }
            | Problem::StartTlsPreauth { .. } => Step::SecureConnection,
            Problem::PlainSignInRefused { .. }
            | Problem::AuthFailed { .. }
            | Problem::AppPasswordRequired { .. }
            | Problem::WebLoginRequired { .. }
            | Problem::BasicAuthDisabled { .. }
            | Problem::ImapDisabled { .. }
            | Problem::TokenExpired { .. }
            | Problem::TokenScope { .. }
            | Problem::TokenRejected { .. }
            | Problem::AdminConsentRequired { .. }
            | Problem::OAuthUnavailable { .. }
            | Problem::RegistrationMissing { .. }
            | Problem::BrowserSignInFailed { .. }
            | Problem::OrganisationAccessRefused { .. }
            | Problem::DirectoryRefused { .. }
            | Problem::KeychainUnavailable
            | Problem::KeychainFailed { .. }
            | Problem::NotInKeychain { .. }
            | Problem::ServerBusy { .. } => Step::SignedIn,
            Problem::Protocol { .. }
            | Problem::ServerRefused { .. }
            | Problem::JobBusy
            | Problem::StateFailed { .. }
            | Problem::ProgressDamaged { .. }
            | Problem::DestinationFull { .. }
            | Problem::MessageTooLarge { .. }
            | Problem::RemovalNeedsConfirmation { .. }
            | Problem::RenumberedUnconfirmed { .. }
            | Problem::RemovalAfterSwitch => Step::CanReadFolders,
        }
    }
}

/// The checklist, in order.
pub const STEPS: [Step; 4] = [
    Step::FoundServer,
    Step::SecureConnection,
    Step::SignedIn,
    Step::CanReadFolders,
];

/// A failure as the report carries it.
#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    /// The step it stopped at.
    pub step: Step,
    /// The problem, with its `code`.
    pub problem: Problem,
    /// Plain words with the next step.
    pub message: String,
    /// Technical detail for "Show details".
    pub detail: Option<String>,
}

impl From<&Error> for Failure {
    fn from(err: &Error) -> Self {
        Failure {
            step: Step::of(err.problem()),
            problem: err.problem().clone(),
            message: err.to_string(),
            detail: err.detail().map(str::to_owned),
        }
    }
}

/// What the check found for one server.
#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    /// Server name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Security as configured.
    pub security: Security,
    /// The steps that passed, in order.
    pub passed: Vec<Step>,
    /// The failure, if a step failed.
    pub failure: Option<Failure>,
    /// Capabilities after sign-in (before it, if sign-in failed).
    pub capabilities: Vec<String>,
    /// The capabilities that matter for a migration, in display order.
    pub notable_capabilities: Vec<String>,
    /// The folder hierarchy separator, when folders could be read.
    pub delimiter: Option<String>,
    /// The personal folder prefix (`INBOX.` on Courier-like servers).
    pub prefix: Option<String>,
    /// How many folders the server listed.
    pub folders: Option<usize>,
    /// Things that work but deserve a word (an unencrypted connection).
    pub warnings: Vec<String>,
}

impl CheckReport {
    /// Did every step pass?
    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }
}

/// Runs the check against one server.
pub async fn check(endpoint: &Endpoint, credentials: &Credentials) -> CheckReport {
    let mut report = CheckReport {
        host: endpoint.host.clone(),
        port: endpoint.port,
        security: endpoint.security,
        passed: Vec::new(),
        failure: None,
        capabilities: Vec::new(),
        notable_capabilities: Vec::new(),
        delimiter: None,
        prefix: None,
        folders: None,
        warnings: Vec::new(),
    };
    if endpoint.security == Security::Plain {
        report.warnings.push(if endpoint.is_loopback() {
            "This connection is not encrypted (fine for a server on this computer).".to_owned()
        } else {
            "This connection is not encrypted: your password and mail cross the network readable by anyone on the way. Use TLS or STARTTLS unless this is a lab server.".to_owned()
        });
    }
    if let Err(err) = run(endpoint, credentials, &mut report).await {
        let failure = Failure::from(&err);
        // A failure at one step means every step before it passed (the TLS
        // handshake, for one, happens inside opening the connection).
        report.passed = STEPS
            .iter()
            .copied()
            .take_while(|s| *s != failure.step)
            .filter(|s| *s != Step::SecureConnection || endpoint.security != Security::Plain)
            .collect();
        report.failure = Some(failure);
    }
    report
}

/// The steps before sign-in, for a server the user has not yet seen the
/// name of (discovery): find it, secure the connection, read what it
/// offers. It takes no credentials, so nothing secret can be sent; the
/// connection is closed before any sign-in. The capabilities on success.
pub async fn reach(endpoint: &Endpoint) -> Result<Vec<String>, Error> {
    let conn = Connection::open(endpoint).await?;
    Ok(conn.capabilities().all().to_vec())
}

async fn run(
    endpoint: &Endpoint,
    credentials: &Credentials,
    report: &mut CheckReport,
) -> Result<(), Error> {
    let conn = Connection::open(endpoint).await?;
    report.passed.push(Step::FoundServer);
    if conn.is_encrypted() {
        report.passed.push(Step::SecureConnection);
    }
    set_capabilities(report, conn.capabilities().all());
    let mut session: Session = conn.sign_in(credentials).await?;
    report.passed.push(Step::SignedIn);
    set_capabilities(report, session.capabilities().all());
    let (delimiter, prefix) = session.hierarchy().await?;
    let folders = session.list("", "*").await?;
    report.delimiter = delimiter;
    report.prefix = Some(prefix);
    report.folders = Some(folders.len());
    report.passed.push(Step::CanReadFolders);
    session.logout().await;
    Ok(())
}

fn set_capabilities(report: &mut CheckReport, atoms: &[String]) {
    let caps = crate::imap::capability::Capabilities::parse(&atoms.join(" "));
    report.capabilities = atoms.to_vec();
    report.notable_capabilities = caps.notable().into_iter().map(str::to_owned).collect();
}
