//! Step 2, "Connect": find the server and set up a secure connection,
//! without signing in (no password is sent, so no failed sign-in can lock
//! an account). Signing in is step 3.

use super::servers::Server;
use crate::error::{IpcError, IpcResult};
use mailferry::check::Step;
use mailferry::imap::Connection;
use serde::Serialize;
use ts_rs::TS;

/// The checklist as far as it got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct Checklist {
    /// The steps that passed, in order.
    pub passed: Vec<Step>,
    /// The step that failed, with the problem.
    pub failure: Option<StepFailure>,
    /// Things that work but deserve a word (an unencrypted connection).
    pub warnings: Vec<String>,
    /// How many folders the server listed (after sign-in).
    pub folders: Option<u32>,
}

/// A failed checklist line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct StepFailure {
    /// Where it stopped.
    pub step: Step,
    /// What went wrong.
    pub error: IpcError,
}

impl Checklist {
    /// The checklist after an engine error at some step.
    pub fn failed(passed: Vec<Step>, err: &mailferry::error::Error) -> Checklist {
        let step = Step::of(err.problem());
        Checklist {
            passed: passed.into_iter().take_while(|s| *s != step).collect(),
            failure: Some(StepFailure {
                step,
                error: IpcError::from(err),
            }),
            warnings: Vec::new(),
            folders: None,
        }
    }
}

/// Finds the server and sets up the secure connection.
pub async fn probe_server(server: Server) -> IpcResult<Checklist> {
    let endpoint = server.endpoint()?;
    let mut warnings = Vec::new();
    if endpoint.security == mailferry::endpoint::Security::Plain && !endpoint.is_loopback() {
        warnings.push(
            "This connection is not encrypted: your password and mail would cross the network readable by anyone on the way."
                .to_owned(),
        );
    }
    Ok(match Connection::open(&endpoint).await {
        Ok(conn) => {
            let mut passed = vec![Step::FoundServer];
            if conn.is_encrypted() {
                passed.push(Step::SecureConnection);
            }
            Checklist {
                passed,
                failure: None,
                warnings,
                folders: None,
            }
        }
        Err(err) => Checklist {
            warnings,
            ..Checklist::failed(vec![Step::FoundServer, Step::SecureConnection], &err)
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use mailferry::endpoint::Security;

    #[tokio::test]
    async fn a_closed_port_stops_at_found_the_server_in_plain_words() {
        // Bound but never listening, so no other test's server can be given
        // the port meanwhile (a port bound and dropped could be: CI saw it).
        let closed = mailferry_harness::RefusingPort::new();
        let list = probe_server(Server {
            host: "127.0.0.1".into(),
            port: closed.port(),
            security: Security::Tls,
            trusted_fingerprint: None,
        })
        .await
        .unwrap();
        assert!(list.passed.is_empty());
        let failure = list.failure.unwrap();
        assert_eq!(failure.step, Step::FoundServer);
        assert_eq!(failure.error.code, ErrorCode::ConnectionRefused);
        assert!(
            failure.error.message.contains("port"),
            "{}",
            failure.error.message
        );
        // The error crosses as { code, message, detail, fingerprint }.
        let json = serde_json::to_value(&failure.error).unwrap();
        assert_eq!(json["code"], "ConnectionRefused");
        assert!(json["message"].is_string());
    }
}
