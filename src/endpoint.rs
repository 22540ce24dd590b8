//! Where a mailbox lives and how to reach it: host, port, security, trust.
//!
//! An [`Endpoint`] says nothing about who signs in; that is [`Credentials`].
//! Both are plain data that the CLI builds from flags and the desktop shell
//! from the wizard; neither does any I/O.

use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use std::fmt;
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

/// The SHA-256 fingerprint of a server's certificate (its DER bytes).
///
/// A certificate that the system does not trust is accepted only when its
/// fingerprint was pinned by the user, after seeing it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of_der(der: &[u8]) -> Self {
        use sha2::{Digest, Sha256};
        Fingerprint(Sha256::digest(der).into())
    }

    /// Reads a fingerprint written as 64 hex digits, with or without `:`
    /// separators and in either case (`AB:CD:…` as browsers show it, or
    /// `abcd…` as `openssl x509 -fingerprint -sha256` prints it after `=`).
    pub fn parse(text: &str) -> Result<Self, FingerprintError> {
        let text = text.trim();
        let text = text
            .strip_prefix("sha256:")
            .or_else(|| text.strip_prefix("SHA256:"))
            .unwrap_or(text);
        let hex: String = text.chars().filter(|c| *c != ':').collect();
        if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(FingerprintError);
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| FingerprintError)?;
        }
        Ok(Fingerprint(out))
    }

    /// The fingerprint as `AB:CD:…`, the form users compare by eye.
    pub fn to_colon_hex(self) -> String {
        self.0
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    /// The fingerprint as 64 lowercase hex digits.
    pub fn to_hex(self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.to_hex())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_colon_hex())
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_colon_hex())
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Fingerprint::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A fingerprint that is not 64 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot read the certificate fingerprint: expected 64 hex digits (SHA-256), optionally separated by ':'")]
pub struct FingerprintError;

/// One IMAP server as the user described it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The server's name as the user typed it; certificates are checked
    /// against it.
    pub host: String,
    /// TCP port.
    pub port: u16,
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
}

impl Endpoint {
    /// An endpoint with the defaults: implicit TLS on 993, system trust,
    /// a 30-second timeout.
    pub fn new(host: impl Into<String>) -> Self {
        Endpoint {
            host: host.into(),
            port: Security::Tls.default_port(),
            security: Security::Tls,
            pinned_certificate: None,
            extra_roots_pem: Vec::new(),
            timeout: Duration::from_secs(30),
            compress: false,
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

/// How to sign in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum AuthMechanism {
    /// With a password: AUTHENTICATE PLAIN when the server offers it, else
    /// LOGIN. With an access token: OAUTHBEARER when offered, else XOAUTH2.
    #[default]
    Auto,
    /// The LOGIN command.
    Login,
    /// SASL PLAIN (RFC 4616), with SASL-IR when offered.
    Plain,
    /// SASL XOAUTH2 (Google's and Microsoft's), with SASL-IR when offered.
    XOAuth2,
    /// SASL OAUTHBEARER (RFC 7628), with SASL-IR when offered.
    OAuthBearer,
}

/// What proves that the user is who they say.
#[derive(Clone, Debug)]
pub enum Proof {
    /// A password or app password.
    Password(Secret<String>),
    /// An OAuth2 access token (sent with XOAUTH2 or OAUTHBEARER). Held in
    /// memory only; it expires, typically after an hour.
    AccessToken(Secret<String>),
    /// OAuth2 access tokens from a source that renews them: before they
    /// expire, and when a server turns one down (a long run outlives a
    /// one-hour token). Every connection of a run shares the source.
    Renewable(crate::auth::grant::TokenSource),
}

/// Who signs in, and with what.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The account name (usually the email address).
    pub user: String,
    /// The password or the access token.
    pub proof: Proof,
    /// Sign in as `user` with the password of this administrator (SASL
    /// PLAIN authorization identity; Dovecot and Cyrus master users).
    pub admin: Option<String>,
    /// Which mechanism to use.
    pub mechanism: AuthMechanism,
}

impl Credentials {
    /// A user name and password, with the automatic mechanism choice.
    pub fn password(user: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            user: user.into(),
            proof: Proof::Password(Secret::new(password.into())),
            admin: None,
            mechanism: AuthMechanism::Auto,
        }
    }

    /// A user name and an OAuth2 access token, with the automatic mechanism
    /// choice (OAUTHBEARER when offered, else XOAUTH2).
    pub fn access_token(user: impl Into<String>, token: Secret<String>) -> Self {
        Credentials {
            user: user.into(),
            proof: Proof::AccessToken(token),
            admin: None,
            mechanism: AuthMechanism::Auto,
        }
    }

    /// Does this sign in with an OAuth2 access token?
    pub fn is_oauth(&self) -> bool {
        matches!(self.proof, Proof::AccessToken(_) | Proof::Renewable(_))
    }

    /// A user name and a source of access tokens that renews them.
    pub fn renewable(user: impl Into<String>, source: crate::auth::grant::TokenSource) -> Self {
        Credentials {
            user: user.into(),
            proof: Proof::Renewable(source),
            admin: None,
            mechanism: AuthMechanism::Auto,
        }
    }

    /// The same user and mechanism with this access token.
    pub fn with_access_token(&self, token: Secret<String>) -> Self {
        Credentials {
            proof: Proof::AccessToken(token),
            ..self.clone()
        }
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
    fn fingerprint_parses_every_common_spelling() {
        let hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let a = Fingerprint::parse(hex).unwrap();
        let colon = a.to_colon_hex();
        assert_eq!(Fingerprint::parse(&colon).unwrap(), a);
        assert_eq!(Fingerprint::parse(&hex.to_uppercase()).unwrap(), a);
        assert_eq!(Fingerprint::parse(&format!("sha256:{hex}")).unwrap(), a);
        assert_eq!(a.to_hex(), hex);
        assert!(Fingerprint::parse("abcd").is_err());
        assert!(Fingerprint::parse(&hex.replace('0', "g")).is_err());
    }

    #[test]
    fn loopback_detection() {
        assert!(Endpoint::new("127.0.0.1").is_loopback());
        assert!(Endpoint::new("::1").is_loopback());
        assert!(Endpoint::new("localhost").is_loopback());
        assert!(!Endpoint::new("imap.gmail.com").is_loopback());
    }

    #[test]
    fn credentials_debug_hides_the_password() {
        let c = Credentials::password("alice", "s3cr3t-pw");
        assert!(!format!("{c:?}").contains("s3cr3t-pw"));
        let t = Credentials::access_token("alice", Secret::new("ya29.tok".into()));
        assert!(!format!("{t:?}").contains("ya29"));
        assert!(t.is_oauth() && !c.is_oauth());
    }
}
