//! The one error shape that crosses to the window: `{ code, message, detail }`.
//!
//! `code` is a closed enum the UI switches on: every engine [`Problem`] code
//! (the match in [`ErrorCode::of`] is exhaustive, so a new engine problem
//! does not compile until it has a code here) plus the shell's own. `message`
//! is plain words with the next step; `detail` is what "Show details" shows.

use mailferry::error::{Error as EngineError, Problem};
use serde::Serialize;
use ts_rs::TS;

/// What went wrong, as the UI switches on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[allow(missing_docs)] // The engine's `Problem` documents each engine code.
pub enum ErrorCode {
    DnsNotFound,
    ConnectionRefused,
    NetworkUnreachable,
    Timeout,
    TlsUntrustedCertificate,
    TlsHostnameMismatch,
    TlsCertificateExpired,
    TlsCertificateChanged,
    TlsFailed,
    StartTlsUnavailable,
    StartTlsPreauth,
    NotImap,
    PlainSignInRefused,
    AuthFailed,
    AppPasswordRequired,
    WebLoginRequired,
    BasicAuthDisabled,
    ImapDisabled,
    ServerBusy,
    ConnectionLost,
    ServerRefused,
    JobBusy,
    StateFailed,
    DestinationFull,
    Protocol,
    RemovalNeedsConfirmation,
    /// The window sent something the shell refuses (an empty server name…).
    InvalidInput,
    /// The account handle is unknown (the app was restarted): sign in again.
    UnknownAccount,
    /// The run id is unknown.
    UnknownRun,
    /// The folder map has a question the user must settle first.
    FolderDecisionNeeded,
    /// This build has no demo servers (or Dovecot is missing).
    DemoUnavailable,
    /// A bug or an unexpected failure in the shell.
    Internal,
}

impl ErrorCode {
    /// The code of an engine problem.
    pub fn of(problem: &Problem) -> ErrorCode {
        match problem {
            Problem::DnsNotFound { .. } => ErrorCode::DnsNotFound,
            Problem::ConnectionRefused { .. } => ErrorCode::ConnectionRefused,
            Problem::NetworkUnreachable { .. } => ErrorCode::NetworkUnreachable,
            Problem::Timeout { .. } => ErrorCode::Timeout,
            Problem::TlsUntrustedCertificate { .. } => ErrorCode::TlsUntrustedCertificate,
            Problem::TlsHostnameMismatch { .. } => ErrorCode::TlsHostnameMismatch,
            Problem::TlsCertificateExpired { .. } => ErrorCode::TlsCertificateExpired,
            Problem::TlsCertificateChanged { .. } => ErrorCode::TlsCertificateChanged,
            Problem::TlsFailed { .. } => ErrorCode::TlsFailed,
            Problem::StartTlsUnavailable { .. } => ErrorCode::StartTlsUnavailable,
            Problem::StartTlsPreauth { .. } => ErrorCode::StartTlsPreauth,
            Problem::NotImap { .. } => ErrorCode::NotImap,
            Problem::PlainSignInRefused { .. } => ErrorCode::PlainSignInRefused,
            Problem::AuthFailed { .. } => ErrorCode::AuthFailed,
            Problem::AppPasswordRequired { .. } => ErrorCode::AppPasswordRequired,
            Problem::WebLoginRequired { .. } => ErrorCode::WebLoginRequired,
            Problem::BasicAuthDisabled { .. } => ErrorCode::BasicAuthDisabled,
            Problem::ImapDisabled { .. } => ErrorCode::ImapDisabled,
            Problem::ServerBusy { .. } => ErrorCode::ServerBusy,
            Problem::ConnectionLost { .. } => ErrorCode::ConnectionLost,
            Problem::ServerRefused { .. } => ErrorCode::ServerRefused,
            Problem::JobBusy => ErrorCode::JobBusy,
            Problem::StateFailed { .. } => ErrorCode::StateFailed,
            Problem::DestinationFull { .. } => ErrorCode::DestinationFull,
            Problem::Protocol { .. } => ErrorCode::Protocol,
            Problem::RemovalNeedsConfirmation { .. } => ErrorCode::RemovalNeedsConfirmation,
        }
    }
}

/// An error as the window receives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct IpcError {
    /// What went wrong, for the UI to switch on.
    pub code: ErrorCode,
    /// Plain words with the next step.
    pub message: String,
    /// Technical detail for "Show details" (server words, never a secret).
    pub detail: Option<String>,
    /// The certificate's SHA-256 (`AB:CD:…`) when the problem is about a
    /// certificate, to show in the trust dialog.
    pub fingerprint: Option<String>,
}

impl IpcError {
    /// A shell error with plain words.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> IpcError {
        IpcError {
            code,
            message: message.into(),
            detail: None,
            fingerprint: None,
        }
    }

    /// Bad input from the window.
    pub fn invalid(message: impl Into<String>) -> IpcError {
        IpcError::new(ErrorCode::InvalidInput, message)
    }

    /// An unexpected failure inside the shell.
    pub fn internal(what: impl std::fmt::Display) -> IpcError {
        IpcError {
            detail: Some(what.to_string()),
            ..IpcError::new(
                ErrorCode::Internal,
                "Something went wrong inside MailFerry. Nothing was changed on your servers. \
                 Try again; if it keeps happening, copy the details for a support request.",
            )
        }
    }
}

impl IpcError {
    /// An engine problem with its words and detail.
    pub fn of_problem(problem: &Problem, message: String, detail: Option<String>) -> IpcError {
        let fingerprint = match problem {
            Problem::TlsUntrustedCertificate { sha256, .. }
            | Problem::TlsHostnameMismatch { sha256, .. }
            | Problem::TlsCertificateExpired { sha256, .. } => Some(sha256.to_colon_hex()),
            Problem::TlsCertificateChanged { actual, .. } => Some(actual.to_colon_hex()),
            _ => None,
        };
        IpcError {
            code: ErrorCode::of(problem),
            message,
            detail,
            fingerprint,
        }
    }
}

impl From<&EngineError> for IpcError {
    fn from(err: &EngineError) -> IpcError {
        IpcError::of_problem(
            err.problem(),
            err.to_string(),
            err.detail().map(str::to_owned),
        )
    }
}

impl From<EngineError> for IpcError {
    fn from(err: EngineError) -> IpcError {
        IpcError::from(&err)
    }
}

/// What every command returns.
pub type IpcResult<T> = Result<T, IpcError>;
