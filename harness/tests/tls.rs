//! The per-instance CA and leaf: Dovecot serves only the leaf, which verifies against
//! the instance's CA for every configured name, and is unknown to anyone else.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use mailferry_harness::{Dovecot, Layout};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, ClientConfig, ClientConnection, RootCertStore};
use sha2::{Digest, Sha256};

fn config(ca_pem: Option<&str>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    if let Some(pem) = ca_pem {
        roots
            .add(CertificateDer::from_pem_slice(pem.as_bytes()).unwrap())
            .unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// Handshakes over `sock`; returns the certificates the server sent.
fn handshake(
    sock: &mut TcpStream,
    config: Arc<ClientConfig>,
    name: &str,
) -> Result<(ClientConnection, Vec<Vec<u8>>), rustls::Error> {
    let server_name = ServerName::try_from(name.to_string()).unwrap();
    let mut conn = ClientConnection::new(config, server_name).unwrap();
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(sock) {
            let inner = e
                .get_ref()
                .and_then(|i| i.downcast_ref::<rustls::Error>())
                .cloned();
            return Err(inner.unwrap_or_else(|| panic!("I/O error in handshake: {e}")));
        }
    }
    let chain = conn
        .peer_certificates()
        .unwrap()
        .iter()
        .map(|c| c.to_vec())
        .collect();
    Ok((conn, chain))
}

fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).unwrap()
}

#[test]
fn implicit_tls_serves_only_the_leaf() {
    let d = Dovecot::start(Layout::Courier);
    for name in ["localhost", "127.0.0.1"] {
        let mut sock = connect(d.addr_tls());
        let (mut conn, chain) =
            handshake(&mut sock, config(Some(d.ca_pem())), name).expect("trusted handshake");
        assert_eq!(chain.len(), 1, "Dovecot must send the leaf alone");
        let hex: String = Sha256::digest(&chain[0])
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, d.leaf_sha256_hex());
        assert_eq!(
            chain[0],
            CertificateDer::from_pem_slice(d.leaf_pem().as_bytes())
                .unwrap()
                .to_vec()
        );
        let mut tls = rustls::Stream::new(&mut conn, &mut sock);
        let mut greeting = [0u8; 4];
        tls.read_exact(&mut greeting).unwrap();
        assert_eq!(&greeting, b"* OK");
    }
}

#[test]
fn unknown_issuer_and_wrong_name_are_refused() {
    let d = Dovecot::start(Layout::Courier);
    let mut sock = connect(d.addr_tls());
    let err = handshake(&mut sock, config(None), "localhost").unwrap_err();
    assert_eq!(
        err,
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
    );
    let mut sock = connect(d.addr_tls());
    let err = handshake(&mut sock, config(Some(d.ca_pem())), "mail.example.com").unwrap_err();
    assert!(
        matches!(
            err,
            rustls::Error::InvalidCertificate(CertificateError::NotValidForName)
                | rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForNameContext { .. }
                )
        ),
        "{err:?}"
    );
}

#[test]
fn custom_names_and_starttls() {
    let d = Dovecot::builder()
        .tls_names(&["imap.test", "127.0.0.2"])
        .build();
    assert_ne!(
        d.leaf_sha256_hex(),
        Dovecot::start(Layout::Courier).leaf_sha256_hex()
    );
    let mut sock = connect(d.addr_plain());
    let mut reader = BufReader::new(sock.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.contains("STARTTLS"), "{line}");
    sock.write_all(b"a STARTTLS\r\n").unwrap();
    line.clear();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("a OK"), "{line}");
    for name in ["imap.test", "127.0.0.2"] {
        let mut sock = connect(d.addr_tls());
        handshake(&mut sock, config(Some(d.ca_pem())), name).expect(name);
    }
    let (mut conn, chain) = handshake(&mut sock, config(Some(d.ca_pem())), "imap.test").unwrap();
    assert_eq!(chain.len(), 1);
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    tls.write_all(b"b CAPABILITY\r\n").unwrap();
    let mut reply = BufReader::new(tls);
    line.clear();
    reply.read_line(&mut line).unwrap();
    assert!(
        line.starts_with("* CAPABILITY") && !line.contains("STARTTLS"),
        "{line}"
    );
}
