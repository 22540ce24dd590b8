//! A server certificate's identity: its SHA-256 fingerprint. A leaf: it
//! depends on nothing else of the engine.

use serde::{Deserialize, Serialize};
use std::fmt;

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
}
