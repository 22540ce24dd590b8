//! Per-instance TLS material (a private CA and a leaf it signed), so tests can check
//! certificate verification, pinning and "unknown issuer" paths against a real server.

use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use sha2::{Digest, Sha256};

/// A CA certificate and a server certificate issued by it.
#[derive(Debug, Clone)]
pub(crate) struct TlsMaterial {
    pub(crate) ca_pem: String,
    pub(crate) leaf_pem: String,
    pub(crate) leaf_key_pem: String,
    pub(crate) leaf_der: Vec<u8>,
}

impl TlsMaterial {
    /// Generates a fresh CA and a leaf for `names` (IP addresses become IP SANs, anything
    /// else a DNS SAN). `label` goes into the subject names, to tell instances apart.
    /// An `expired` leaf was valid only in 2020.
    pub(crate) fn generate(names: &[String], label: &str, expired: bool) -> TlsMaterial {
        assert!(!names.is_empty(), "tls_names must name at least one host");

        let ca_key = KeyPair::generate().expect("generate CA key");
        let mut ca = CertificateParams::default();
        ca.distinguished_name = dn(&format!("MailFerry harness CA {label}"));
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key).expect("self-sign CA");

        let leaf_key = KeyPair::generate().expect("generate leaf key");
        let mut leaf = CertificateParams::default();
        leaf.distinguished_name = dn(&names[0]);
        leaf.subject_alt_names = names
            .iter()
            .map(|n| match n.parse::<IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName(
                    n.clone()
                        .try_into()
                        .unwrap_or_else(|e| panic!("bad DNS name {n:?}: {e}")),
                ),
            })
            .collect();
        leaf.is_ca = IsCa::ExplicitNoCa;
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        leaf.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        leaf.use_authority_key_identifier_extension = true;
        if expired {
            leaf.not_before = rcgen::date_time_ymd(2020, 1, 1);
            leaf.not_after = rcgen::date_time_ymd(2020, 12, 31);
        }
        let leaf_cert = leaf
            .signed_by(&leaf_key, &ca_cert, &ca_key)
            .expect("sign leaf");

        TlsMaterial {
            ca_pem: ca_cert.pem(),
            leaf_pem: leaf_cert.pem(),
            leaf_key_pem: leaf_key.serialize_pem(),
            leaf_der: leaf_cert.der().to_vec(),
        }
    }

    /// Lowercase hex SHA-256 of the leaf's DER encoding.
    pub(crate) fn leaf_sha256_hex(&self) -> String {
        Sha256::digest(&self.leaf_der)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

fn dn(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}
