//! Step 1, "Where from, where to": provider presets and the server settings
//! the window sends back.

use crate::error::{IpcError, IpcResult};
use mailferry::endpoint::{Endpoint, Fingerprint, Security};
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

/// A provider tile: what picking it fills in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct Preset {
    /// Stable id (`gmail`, `microsoft`, …, `other`).
    pub id: String,
    /// What the tile says.
    pub name: String,
    /// The server, when the provider has one (None: the user types it).
    pub host: Option<String>,
    /// Port.
    pub port: u16,
    /// Security.
    pub security: Security,
    /// A hint for the server-name field ("often imap.yourdomain.com").
    pub host_hint: String,
    /// How the user signs in, in a sentence.
    pub sign_in: String,
    /// The provider's page for creating an app password.
    pub app_password_url: Option<String>,
    /// The provider's limits, in words (shown with the estimate).
    pub limits: String,
}

fn preset(
    id: &str,
    name: &str,
    host: Option<&str>,
    sign_in: &str,
    url: Option<&str>,
    limits: &str,
) -> Preset {
    Preset {
        id: id.into(),
        name: name.into(),
        host: host.map(Into::into),
        port: 993,
        security: Security::Tls,
        host_hint: host
            .map(|_| String::new())
            .unwrap_or_else(|| "often imap.yourdomain.com or mail.yourdomain.com".into()),
        sign_in: sign_in.into(),
        app_password_url: url.map(Into::into),
        limits: limits.into(),
    }
}

/// The provider tiles, in the order UX.md lists them.
pub fn presets() -> Vec<Preset> {
    vec![
        preset(
            "gmail",
            "Gmail / Google Workspace",
            Some("imap.gmail.com"),
            "Use an app password (Google account → Security → 2-Step Verification → App passwords).",
            Some("https://myaccount.google.com/apppasswords"),
            "Gmail lets an account download about 2.5 GB a day over IMAP.",
        ),
        preset(
            "microsoft",
            "Microsoft 365 / Outlook.com",
            Some("outlook.office365.com"),
            "Microsoft 365 usually needs \"Sign in with Microsoft\" in your browser; some accounts still allow an app password.",
            None,
            "Microsoft 365 accepts about 3,600 messages an hour per mailbox.",
        ),
        preset(
            "yahoo",
            "Yahoo",
            Some("imap.mail.yahoo.com"),
            "Use an app password from Yahoo's account security page.",
            Some("https://login.yahoo.com/account/security"),
            "",
        ),
        preset(
            "icloud",
            "iCloud",
            Some("imap.mail.me.com"),
            "Use an app-specific password from your Apple account page.",
            Some("https://account.apple.com"),
            "",
        ),
        preset(
            "fastmail",
            "Fastmail",
            Some("imap.fastmail.com"),
            "Use an app password from Fastmail's settings.",
            Some("https://app.fastmail.com/settings/security/apppasswords"),
            "",
        ),
        preset(
            "zoho",
            "Zoho",
            Some("imap.zoho.com"),
            "Use an app password from Zoho's security settings.",
            Some("https://accounts.zoho.com/home#security/app_password"),
            "",
        ),
        preset(
            "hosting",
            "cPanel or other hosting",
            None,
            "Use the mailbox's own password, as in your mail app.",
            None,
            "",
        ),
        preset(
            "other",
            "Other IMAP server",
            None,
            "Use the mailbox's password, or an app password if the provider has them.",
            None,
            "",
        ),
    ]
}

/// The provider tiles.
pub fn provider_presets() -> Vec<Preset> {
    presets()
}

/// The page where a provider's users create an app password, for the
/// preset `preset`: only the presets' own pages, never an address the
/// window chose.
pub fn app_password_page(preset: &str) -> IpcResult<String> {
    presets()
        .into_iter()
        .find(|p| p.id == preset)
        .and_then(|p| p.app_password_url)
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
    fn presets_cover_the_tiles_ux_md_lists() {
        let ids: Vec<String> = presets().into_iter().map(|p| p.id).collect();
        assert_eq!(
            ids,
            [
                "gmail",
                "microsoft",
                "yahoo",
                "icloud",
                "fastmail",
                "zoho",
                "hosting",
                "other"
            ]
        );
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
