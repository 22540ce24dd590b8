//! TLS setup: the system's trust store with hostname checks, plus
//! certificates the user pinned by fingerprint.
//!
//! rustls is configured with an explicit `ring` provider (the process-wide
//! default panics when two providers are linked, as happens with Tauri).
//! Minimum protocol TLS 1.2. There is no "accept any certificate" switch:
//! a certificate the system does not trust is accepted only when its
//! SHA-256 fingerprint equals the one the user pinned.

use crate::endpoint::{Endpoint, Fingerprint};
use crate::error::{Error, Problem};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, SignatureScheme};
use std::sync::{Arc, Mutex};

/// The crypto provider every TLS config in MailFerry uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS client config for one endpoint, and the record of the certificate
/// the server showed (so an error can show its fingerprint).
pub struct TlsSetup {
    /// The config to hand to the connector.
    pub config: Arc<ClientConfig>,
    /// Filled during the handshake with the leaf certificate's fingerprint.
    pub seen: Arc<Mutex<Option<Fingerprint>>>,
    /// Filled during the handshake with the server names the leaf
    /// certificate is for (to say which name it belongs to when it is not
    /// the one asked for).
    pub names: Arc<Mutex<Vec<String>>>,
}

/// Builds the TLS config for `endpoint`.
pub fn setup(endpoint: &Endpoint) -> Result<TlsSetup, Error> {
    let provider = provider();
    let mut extra = Vec::new();
    for pem in &endpoint.extra_roots_pem {
        for cert in rustls_pki_types::pem::PemObject::pem_slice_iter(pem.as_bytes()) {
            let cert: CertificateDer<'static> = cert.map_err(|e| {
                Error::new(Problem::TlsFailed {
                    host: endpoint.host.clone(),
                    port: endpoint.port,
                })
                .with_detail(format!("cannot read the extra certificate authority: {e}"))
            })?;
            extra.push(cert);
        }
    }
    let inner: Arc<dyn ServerCertVerifier> =
        match rustls_platform_verifier::Verifier::new_with_extra_roots(
            extra.clone(),
            provider.clone(),
        ) {
            Ok(v) => Arc::new(v),
            Err(e) => {
                // No system trust store (a bare container): trust only the
                // extra roots. A pinned certificate still works.
                tracing::debug!("no system certificate store ({e}); using only extra roots");
                let mut roots = rustls::RootCertStore::empty();
                for cert in extra {
                    let _ = roots.add(cert);
                }
                if roots.is_empty() {
                    Arc::new(NoRoots)
                } else {
                    rustls::client::WebPkiServerVerifier::builder_with_provider(
                        Arc::new(roots),
                        provider.clone(),
                    )
                    .build()
                    .map_err(|e| {
                        Error::new(Problem::TlsFailed {
                            host: endpoint.host.clone(),
                            port: endpoint.port,
                        })
                        .with_detail(format!("cannot build the certificate verifier: {e}"))
                    })?
                }
            }
        };
    let seen = Arc::new(Mutex::new(None));
    let names = Arc::new(Mutex::new(Vec::new()));
    let verifier = PinningVerifier {
        inner,
        pin: endpoint.pinned_certificate,
        seen: seen.clone(),
        names: names.clone(),
        provider: provider.clone(),
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| {
            Error::new(Problem::TlsFailed {
                host: endpoint.host.clone(),
                port: endpoint.port,
            })
            .with_detail(e.to_string())
        })?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(TlsSetup {
        config: Arc::new(config),
        seen,
        names,
    })
}

/// Turns a failed handshake into the problem the user must decide on.
pub fn handshake_problem(
    endpoint: &Endpoint,
    seen: Option<Fingerprint>,
    err: &std::io::Error,
) -> Problem {
    let host = endpoint.host.clone();
    let tls_error = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>());
    match (tls_error, seen) {
        (Some(rustls::Error::InvalidCertificate(cert_err)), Some(sha256)) => match cert_err {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                Problem::TlsHostnameMismatch { host, sha256 }
            }
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => {
                Problem::TlsCertificateExpired { host, sha256 }
            }
            CertificateError::Other(other) if other.0.is::<PinMismatch>() => {
                let expected = other
                    .0
                    .downcast_ref::<PinMismatch>()
                    .map(|p| p.expected)
                    .unwrap_or(sha256);
                Problem::TlsCertificateChanged {
                    host,
                    expected,
                    actual: sha256,
                }
            }
            _ => Problem::TlsUntrustedCertificate { host, sha256 },
        },
        _ => Problem::TlsFailed {
            host,
            port: endpoint.port,
        },
    }
}

/// The server showed a certificate other than the pinned one and the
/// system doesn't trust it either.
#[derive(Debug)]
struct PinMismatch {
    expected: Fingerprint,
}

impl std::fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "certificate differs from the pinned {}", self.expected)
    }
}

impl std::error::Error for PinMismatch {}

#[derive(Debug)]
struct PinningVerifier {
    inner: Arc<dyn ServerCertVerifier>,
    pin: Option<Fingerprint>,
    seen: Arc<Mutex<Option<Fingerprint>>>,
    names: Arc<Mutex<Vec<String>>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let fingerprint = Fingerprint::of_der(end_entity);
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(fingerprint);
        }
        if let Ok(mut names) = self.names.lock() {
            *names = crate::certificate::dns_names(end_entity);
        }
        if self.pin == Some(fingerprint) {
            // The user compared this exact certificate and trusted it; like
            // mbsync's host certificates, names and dates don't matter.
            return Ok(ServerCertVerified::assertion());
        }
        let verdict = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match (verdict, self.pin) {
            (Ok(ok), _) => Ok(ok),
            (Err(_), Some(expected)) => Err(rustls::Error::InvalidCertificate(
                CertificateError::Other(rustls::OtherError(Arc::new(PinMismatch { expected }))),
            )),
            (Err(e), None) => Err(e),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A verifier for a machine with no trust store and no extra roots: every
/// certificate is unknown (a pinned one is still accepted above it).
#[derive(Debug)]
struct NoRoots;

impl ServerCertVerifier for NoRoots {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Err(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ))
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ))
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}
