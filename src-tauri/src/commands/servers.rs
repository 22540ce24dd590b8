//! Step 1, "Where from, where to": the engine's provider presets and the
//! server settings the window sends back.

use crate::error::{IpcError, IpcResult};
use mailferry::endpoint::{Endpoint, Fingerprint, Security};
use mailferry::preset::Preset;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use ts_rs::TS;

/// A server as the window describes it. Untrusted input: checked by
/// [`Server::endpoint`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Server {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// TLS, STARTTLS or none.
    pub security: Security,
    /// A certificate the user chose to trust (SHA-256, `AB:CD:…`).
    pub trusted_fingerprint: Option<String>,
}

impl Server {
    /// The engine endpoint, after checking what the window sent.
    pub fn endpoint(&self) -> IpcResult<Endpoint> {
        let host = self.host.trim();
        if host.is_empty() {
            return Err(IpcError::invalid(
                "Enter the server name (it often looks like imap.yourdomain.com).",
            ));
        }
        if host.len() > 253
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        {
            return Err(IpcError::invalid(
                "That server name has characters a server name can't have. Check it for spaces or typos.",
            ));
        }
        if self.port == 0 {
            return Err(IpcError::invalid(
                "Enter a port between 1 and 65535 (usually 993).",
            ));
        }
        let pinned = match &self.trusted_fingerprint {
            None => None,
            Some(text) => Some(Fingerprint::parse(text).map_err(|e| {
                IpcError::invalid(format!("The certificate fingerprint is not valid: {e}."))
            })?),
        };
        let mut endpoint = Endpoint::new(host)
            .with_security(self.security)
            .with_port(self.port);
        endpoint.pinned_certificate = pinned;
        endpoint.timeout = Duration::from_secs(30);
        Ok(endpoint)
    }
}

/// The provider tiles: the engine's presets, as they are (host, port,
/// security, how to sign in, limits).
pub fn provider_presets() -> Vec<Preset> {
    mailferry::preset::all()
}

/// The page where a provider's users create an app password, for the
/// preset `preset`: only the presets' own pages, never an address the
/// window chose.
pub fn app_password_page(preset: &str) -> IpcResult<String> {
    mailferry::preset::by_id(preset)
        .and_then(|p| p.app_password_url)
        .map(str::to_owned)
        .ok_or_else(|| IpcError::invalid("MailFerry knows no app-password page for this provider."))
}

/// Opens the provider's app-password page in the system browser (step 3,
/// "how to get one").
pub fn open_app_password_page(preset: String) -> IpcResult<()> {
    let url = app_password_page(&preset)?;
    open::that_detached(&url).map_err(|e| {
        IpcError::internal(format!(
            "cannot open the browser ({e}); the address is {url}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn only_the_presets_own_app_password_pages_open() {
        assert_eq!(
            app_password_page("gmail").unwrap(),
            "https://myaccount.google.com/apppasswords"
        );
        assert!(
            app_password_page("other").is_err(),
            "no page for a generic server"
        );
        assert!(app_password_page("https://evil.example").is_err());
    }

    fn server(host: &str, port: u16) -> Server {
        Server {
            host: host.into(),
            port,
            security: Security::Tls,
            trusted_fingerprint: None,
        }
    }

    #[test]
    fn server_settings_from_the_window_are_checked() {
        assert_eq!(
            server("", 993).endpoint().unwrap_err().code,
            ErrorCode::InvalidInput
        );
        assert_eq!(
            server("imap.example.com; rm -rf", 993)
                .endpoint()
                .unwrap_err()
                .code,
            ErrorCode::InvalidInput
        );
        assert_eq!(
            server("imap.example.com", 0).endpoint().unwrap_err().code,
            ErrorCode::InvalidInput
        );
        let mut pinned = server("imap.example.com", 993);
        pinned.trusted_fingerprint = Some("not hex".into());
        assert_eq!(pinned.endpoint().unwrap_err().code, ErrorCode::InvalidInput);
        pinned.trusted_fingerprint = Some("ab".repeat(32));
        let endpoint = pinned.endpoint().unwrap();
        assert!(endpoint.pinned_certificate.is_some());
        assert_eq!(endpoint.port, 993);
    }
}
