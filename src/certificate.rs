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

/// The server names (DNS subject alternative names) a DER-encoded
/// certificate is for, in its own order; empty when it names none or
/// cannot be read. Used to say which name a server's certificate belongs
/// to when it is not the name asked for.
pub fn dns_names(der: &[u8]) -> Vec<String> {
    read_dns_names(der).unwrap_or_default()
}

/// One DER element: its tag, its contents, and what follows it.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[count..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The elements inside a constructed one, in order.
fn children(mut input: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    while let Some((tag, value, rest)) = element(input) {
        out.push((tag, value));
        input = rest;
    }
    out
}

const SEQUENCE: u8 = 0x30;
const EXTENSIONS: u8 = 0xa3;
const OID: u8 = 0x06;
const OCTET_STRING: u8 = 0x04;
const DNS_NAME: u8 = 0x82;
/// 2.5.29.17, subjectAltName.
const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];

fn read_dns_names(der: &[u8]) -> Option<Vec<String>> {
    let (tag, certificate, _) = element(der)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, tbs, _) = element(certificate)?;
    if tag != SEQUENCE {
        return None;
    }
    let (_, extensions) = children(tbs).into_iter().find(|(t, _)| *t == EXTENSIONS)?;
    let (_, list, _) = element(extensions)?;
    for (_, extension) in children(list) {
        let parts = children(extension);
        let is_san = parts
            .first()
            .is_some_and(|(t, v)| *t == OID && *v == SUBJECT_ALT_NAME);
        if !is_san {
            continue;
        }
        let (_, value) = parts.iter().find(|(t, _)| *t == OCTET_STRING)?;
        let (_, names, _) = element(value)?;
        return Some(
            children(names)
                .into_iter()
                .filter(|(t, _)| *t == DNS_NAME)
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
                .collect(),
        );
    }
    None
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
    fn a_certificate_says_which_names_it_is_for() {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec![
            "server123.hostingco.example".to_owned(),
            "*.hostingco.example".to_owned(),
        ])
        .unwrap();
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(
            dns_names(cert.der()),
            ["server123.hostingco.example", "*.hostingco.example"]
        );
        // A certificate whose names are so long that their lengths take
        // two bytes (the long form of DER lengths).
        let long = format!("{}.example", "a".repeat(60));
        let names: Vec<String> = (0..6).map(|i| format!("{i}{long}")).collect();
        let cert = rcgen::CertificateParams::new(names.clone())
            .unwrap()
            .self_signed(&key)
            .unwrap();
        assert_eq!(dns_names(cert.der()), names);
        assert!(dns_names(b"not a certificate").is_empty());
        assert!(dns_names(&cert.der()[..40]).is_empty(), "a cut certificate");
    }

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
