//! The one error shape that crosses to the window: `{ code, message, detail }`.
//!
//! `code` is a closed enum the UI switches on: every engine [`Problem`] code
//! (the match in [`ErrorCode::of`] is exhaustive, so a new engine problem
//! does not compile until it has a code here) plus the shell's own. `message`
//! is plain words with the next step; `detail` is what "Show details" shows.

use mailferry::error::{Error as EngineError, Problem};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What went wrong, as the UI switches on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
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
    // Browser sign-in (OAuth2) and the keychain (issue 7).
    TokenExpired,
    TokenScope,
    TokenRejected,
    AdminConsentRequired,
    OAuthUnavailable,
    BrowserSignInFailed,
    OrganisationAccessRefused,
    KeychainUnavailable,
    KeychainFailed,
    NotInKeychain,
    ServerBusy,
    ConnectionLost,
    ServerRefused,
    JobBusy,
    StateFailed,
    ProgressDamaged,
    DestinationFull,
    Protocol,
    RemovalNeedsConfirmation,
    RemovalAfterSwitch,
    RenumberedUnconfirmed,
    MessageTooLarge,
    /// The window sent something the shell refuses (an empty server name…).
    InvalidInput,
    /// The account handle is unknown (the app was restarted): sign in again.
    UnknownAccount,
    /// The run id is unknown.
    UnknownRun,
    /// This build has no demo servers (or Dovecot is missing).
    DemoUnavailable,
    /// A bug or an unexpected failure in the shell.
    Internal,
    /// An engine problem this version of the window has no code for.
    Other,
}

impl ErrorCode {
    /// The code of an engine problem. Exhaustive: an engine problem the
    /// window has no code for does not compile.
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
            Problem::TokenExpired { .. } => ErrorCode::TokenExpired,
            Problem::TokenScope { .. } => ErrorCode::TokenScope,
            Problem::TokenRejected { .. } => ErrorCode::TokenRejected,
            Problem::AdminConsentRequired { .. } => ErrorCode::AdminConsentRequired,
            Problem::OAuthUnavailable { .. } | Problem::RegistrationMissing { .. } => {
                ErrorCode::OAuthUnavailable
            }
            Problem::BrowserSignInFailed { .. } => ErrorCode::BrowserSignInFailed,
            Problem::OrganisationAccessRefused { .. } | Problem::DirectoryRefused { .. } => {
                ErrorCode::OrganisationAccessRefused
            }
            Problem::KeychainUnavailable => ErrorCode::KeychainUnavailable,
            Problem::KeychainFailed { .. } => ErrorCode::KeychainFailed,
            Problem::NotInKeychain { .. } => ErrorCode::NotInKeychain,
            Problem::ServerBusy { .. } => ErrorCode::ServerBusy,
            Problem::ConnectionLost { .. } => ErrorCode::ConnectionLost,
            Problem::ServerRefused { .. } => ErrorCode::ServerRefused,
            Problem::JobBusy => ErrorCode::JobBusy,
            Problem::StateFailed { .. } => ErrorCode::StateFailed,
            Problem::ProgressDamaged { .. } => ErrorCode::ProgressDamaged,
            Problem::DestinationFull { .. } => ErrorCode::DestinationFull,
            Problem::MessageTooLarge { .. } => ErrorCode::MessageTooLarge,
            Problem::RemovalNeedsConfirmation { .. } => ErrorCode::RemovalNeedsConfirmation,
            Problem::RemovalAfterSwitch => ErrorCode::RemovalAfterSwitch,
            Problem::RenumberedUnconfirmed { .. } => ErrorCode::RenumberedUnconfirmed,
            Problem::Protocol { .. } => ErrorCode::Protocol,
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

#[cfg(test)]
mod tests {
    use super::*;
    use mailferry::provider::Provider;

    #[test]
    fn engine_problems_keep_their_code_across_ipc() {
        let problems = [
            Problem::DnsNotFound { host: "x".into() },
            Problem::AuthFailed {
                provider: Provider::Google,
            },
            Problem::TlsUntrustedCertificate {
                host: "x".into(),
                sha256: mailferry::endpoint::Fingerprint::of_der(b"cert"),
            },
            Problem::JobBusy,
            Problem::DestinationFull { host: "x".into() },
            Problem::OrganisationAccessRefused {
                issuer: "Google".into(),
            },
            Problem::RemovalAfterSwitch,
            Problem::MessageTooLarge { host: "x".into() },
        ];
        for problem in problems {
            let code = serde_json::to_value(ErrorCode::of(&problem)).unwrap();
            assert_eq!(code, problem.code(), "{problem:?}");
        }
    }

    #[test]
    fn a_certificate_problem_carries_its_fingerprint_and_plain_words() {
        let sha256 = mailferry::endpoint::Fingerprint::of_der(b"cert");
        let problem = Problem::TlsUntrustedCertificate {
            host: "mail.example.com".into(),
            sha256,
        };
        let err = IpcError::of_problem(&problem, problem.message(), Some("UnknownIssuer".into()));
        let json = serde_json::to_value(&err).unwrap();
        assert_eq!(json["code"], "TlsUntrustedCertificate");
        assert_eq!(json["fingerprint"], sha256.to_colon_hex());
        assert!(json["message"]
            .as_str()
            .unwrap()
            .contains("mail.example.com"));
        assert_eq!(json["detail"], "UnknownIssuer");
        assert_eq!(
            json.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["code", "detail", "fingerprint", "message"]
        );
    }
}
