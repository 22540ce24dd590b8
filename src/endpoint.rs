//! Where a mailbox lives and how to reach it: host, port, security, trust.
//!
//! An [`Endpoint`] says nothing about who signs in; that is
//! [`Credentials`] (in [`crate::auth`]; re-exported here). Both are plain data that the CLI builds from flags and the desktop shell
//! from the wizard; neither does any I/O.

pub use crate::auth::credentials::{AuthMechanism, Credentials, Proof};
pub use crate::certificate::{Fingerprint, FingerprintError};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How the connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// TLS from the first byte (IMAPS, port 993). The default (RFC 8314).
    #[default]
    Tls,
    /// Plain TCP upgraded with STARTTLS, which is then required: a server
    /// that does not offer it is refused, never used in the clear.
    StartTls,
    /// No encryption at all. Only on explicit request, for loopback and lab
    /// servers; the password crosses the network readable by anyone.
    Plain,
}

impl Security {
    /// The usual port for this kind of connection.
    pub fn default_port(self) -> u16 {
        match self {
            Security::Tls => 993,
            Security::StartTls | Security::Plain => 143,
        }
    }
}

/// One IMAP server as the user described it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The server's name as the user typed it; certificates are checked
    /// against it.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Connect to this address instead of looking `host` up (when the
    /// name was found through a name server other than the system's, as
    /// discovery may be told to use); certificates are still checked
    /// against `host`.
    #[serde(default)]
    pub address: Option<std::net::IpAddr>,
    /// TLS, STARTTLS or (opt-in) plain.
    pub security: Security,
    /// A certificate the user chose to trust although the system does not.
    pub pinned_certificate: Option<Fingerprint>,
    /// Extra certificate authorities to trust, as PEM text (a company CA,
    /// or a test server's CA). The system's authorities stay trusted.
    #[serde(default)]
    pub extra_roots_pem: Vec<String>,
    /// How long to wait for the TCP connection, the TLS handshake and each
    /// server reply before giving up.
    #[serde(with = "duration_secs")]
    pub timeout: Duration,
    /// Compress the connection (COMPRESS=DEFLATE, RFC 4978) when the server
    /// offers it: less to send over a slow link, more work for both ends.
    #[serde(default)]
    pub compress: bool,
    /// Compress the connection once the link is measured slow (see
    /// [`crate::imap::link`]), where the server offers it. On by default.
    #[serde(default = "yes")]
    pub compress_when_slow: bool,
}

fn yes() -> bool {
    true
}

impl Endpoint {
    /// An endpoint with the defaults: implicit TLS on 993, system trust,
    /// a 30-second timeout.
    pub fn new(host: impl Into<String>) -> Self {
        Endpoint {
            host: host.into(),
            port: Security::Tls.default_port(),
            address: None,
            security: Security::Tls,
            pinned_certificate: None,
            extra_roots_pem: Vec::new(),
            timeout: Duration::from_secs(30),
            compress: false,
            compress_when_slow: true,
        }
    }

    /// The same endpoint with another security and that security's port.
    pub fn with_security(mut self, security: Security) -> Self {
        self.security = security;
        self.port = security.default_port();
        self
    }

    /// The same endpoint on another port.
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Is the host a loopback address (where plain connections are
    /// acceptable without a warning)?
    pub fn is_loopback(&self) -> bool {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .map(|ip| ip.is_loopback())
                .unwrap_or(false)
    }
}

mod duration_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        if !(0.0..=86_400.0).contains(&secs) {
            return Err(serde::de::Error::custom(
                "timeout must be between 0 and 86400 seconds",
            ));
        }
        Ok(Duration::from_secs_f64(secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_detection() {
        assert!(Endpoint::new("127.0.0.1").is_loopback());
        assert!(Endpoint::new("::1").is_loopback());
        assert!(Endpoint::new("localhost").is_loopback());
        assert!(!Endpoint::new("imap.gmail.com").is_loopback());
    }
}
