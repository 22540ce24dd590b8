//! The HTTP side of a DAV server: one origin, one sign-in, every request a
//! blocking ureq call (rustls with ring, the system's certificate
//! authorities, as the sign-in code). Credentials go to that origin only:
//! a redirect or an href elsewhere is refused, never followed with them.

use super::DavError;
use crate::auth::grant::TokenSource;
use crate::secret::Secret;
use std::time::Duration;
use ureq::http::{self, Method};

/// How requests sign in.
#[derive(Clone)]
pub enum Auth {
    /// HTTP Basic with a user name and password (an app password at
    /// iCloud, Fastmail or Google).
    Basic {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
    /// An OAuth access token, sent as `Authorization: Bearer`. It is not
    /// renewed: a copy that outlives it is turned down.
    Bearer(String),
    /// OAuth access tokens from a sign-in that renews them (a browser
    /// sign-in's refresh token): each request takes the source's token,
    /// fetched anew when it is about to expire, and a token the server
    /// turns down is renewed once and the request sent again.
    Renewable(TokenSource),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Basic { user, .. } => write!(f, "Basic({user}, <password>)"),
            Auth::Bearer(_) => write!(f, "Bearer(<token>)"),
            Auth::Renewable(source) => write!(f, "Renewable({})", source.issuer()),
        }
    }
}

/// A server's answer: status, the headers MailFerry reads, the body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) etag: Option<String>,
    pub(crate) location: Option<String>,
    pub(crate) retry_after: Option<u64>,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    pub(crate) fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The start of the body as text, for a message.
    pub(crate) fn excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text = text.trim();
        let mut cut: String = text.chars().take(200).collect();
        if cut.len() < text.len() {
            cut.push('…');
        }
        cut
    }
}

/// The largest object or listing read (a contact with a big photo is a few MB).
const MAX_BODY: u64 = 64 * 1024 * 1024;

/// Attempts of a request the server answered "busy" or the network dropped.
const ATTEMPTS: u32 = 4;

/// How servers are reached besides the usual: certificate authorities
/// trusted instead of the system's (a company's own, `--cafile1`), and
/// addresses of names the discovery's own name servers gave (tests, and
/// `MAILFERRY_NAME_SERVER`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reach {
    /// Certificate authorities (PEM) trusted instead of the system's.
    pub extra_roots_pem: Vec<String>,
    /// Host names and the address each is reached at.
    pub addresses: Vec<(String, std::net::IpAddr)>,
}

impl Reach {
    fn agent(&self) -> Result<ureq::Agent, String> {
        use ureq::tls::TlsConfig;
        let roots = root_certs(&self.extra_roots_pem)?;
        let config = ureq::Agent::config_builder()
            .tls_config(TlsConfig::builder().root_certs(roots).build())
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .allow_non_standard_methods(true)
            .max_redirects(0)
            .build();
        Ok(if self.addresses.is_empty() {
            config.into()
        } else {
            ureq::Agent::with_parts(
                config,
                ureq::unversioned::transport::DefaultConnector::new(),
                Pinned(self.addresses.clone()),
            )
        })
    }
}

/// The certificate authorities to trust: these (PEM) instead of the
/// system's, or the system's when none is given.
pub(crate) fn root_certs(extra_roots_pem: &[String]) -> Result<ureq::tls::RootCerts, String> {
    use ureq::tls::{Certificate, RootCerts};
    if extra_roots_pem.is_empty() {
        return Ok(RootCerts::PlatformVerifier);
    }
    let mut certs = Vec::new();
    for pem in extra_roots_pem {
        for cert in rustls_pki_types::pem::PemObject::pem_slice_iter(pem.as_bytes()) {
            let cert: rustls_pki_types::CertificateDer<'static> =
                cert.map_err(|e| format!("the certificate file cannot be read: {e}"))?;
            certs.push(Certificate::from_der(cert.as_ref()).to_owned());
        }
    }
    Ok(RootCerts::new_with_certs(&certs))
}

/// A name resolver answering the names it was given with their address
/// (the one discovery's own name servers gave), and any other name as
/// the system does.
#[derive(Debug)]
pub(crate) struct Pinned(pub(crate) Vec<(String, std::net::IpAddr)>);

impl ureq::unversioned::resolver::Resolver for Pinned {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let host = uri
            .host()
            .unwrap_or("")
            .trim_matches(|c| c == '[' || c == ']')
            .to_ascii_lowercase();
        let Some((_, ip)) = self.0.iter().find(|(h, _)| h.eq_ignore_ascii_case(&host)) else {
            return ureq::unversioned::resolver::DefaultResolver::default()
                .resolve(uri, config, timeout);
        };
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme_str() == Some("http") {
                80
            } else {
                443
            });
        let mut addrs = self.empty();
        addrs.push(std::net::SocketAddr::new(*ip, port));
        Ok(addrs)
    }
}

/// One DAV server: its origin (`https://host[:port]`) and sign-in.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    origin: String,
    auth: Auth,
    /// The longest wait a `Retry-After` may ask for before giving up.
    max_wait: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("origin", &self.origin)
            .field("auth", &self.auth)
            .finish()
    }
}

impl Client {
    /// A client of the server at `url` (its origin is kept; the path is
    /// where discovery starts). Plain `http://` is refused except to this
    /// computer: a password must not cross a network in the clear.
    pub fn new(url: &str, auth: Auth) -> Result<(Client, String), DavError> {
        Client::reached(url, auth, &Reach::default())
    }

    /// [`Client::new`], reaching the server as `reach` says.
    pub fn reached(url: &str, auth: Auth, reach: &Reach) -> Result<(Client, String), DavError> {
        let (origin, path) = split_url(url).ok_or_else(|| DavError::BadAddress {
            url: url.to_owned(),
        })?;
        if origin.starts_with("http://") && !is_loopback(&origin) {
            return Err(DavError::PlainHttp {
                url: url.to_owned(),
            });
        }
        let agent = reach.agent().map_err(|detail| DavError::Unreachable {
            server: origin.clone(),
            detail,
        })?;
        Ok((
            Client {
                agent,
                origin,
                auth,
                max_wait: Duration::from_secs(120),
            },
            path,
        ))
    }

    /// The server's origin, `scheme://host[:port]`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// A client of another origin of the same account, signing in alike
    /// (the caller has decided the credentials may go there). Plain
    /// `http://` is refused as in [`Client::new`].
    pub(crate) fn for_origin(&self, origin: &str) -> Result<Client, DavError> {
        if origin.starts_with("http://") && !is_loopback(origin) {
            return Err(DavError::PlainHttp {
                url: origin.to_owned(),
            });
        }
        Ok(Client {
            origin: origin.to_ascii_lowercase(),
            ..self.clone()
        })
    }

    /// One request; a busy server (429, 503 with `Retry-After`) and a
    /// dropped connection are tried again, a few times.
    pub(crate) fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Answer, DavError> {
        let mut attempt = 0;
        let mut bearer = self.bearer()?;
        let mut renewed = false;
        loop {
            attempt += 1;
            let token = bearer.as_ref().map(|(_, token)| token);
            match self.send_once(method, path, headers, body, token) {
                // The token ran out (or was revoked) during the copy: a
                // renewable sign-in gets a new one, once per request.
                Err(DavError::SignInRefused { .. }) if !renewed && bearer.is_some() => {
                    renewed = true;
                    if let Some((source, token)) = &mut bearer {
                        *token = source
                            .renew_blocking(token)
                            .map_err(|e| self.renewal_failed(source, &e))?;
                    }
                }
                Ok(a) if (a.status == 429 || a.status == 503) && attempt < ATTEMPTS => {
                    let wait = Duration::from_secs(a.retry_after.unwrap_or(1 << attempt));
                    if wait > self.max_wait {
                        return Ok(a);
                    }
                    tracing::info!(status = a.status, ?wait, "the DAV server asked to wait");
                    std::thread::sleep(wait);
                }
                // Every request is safe to send again: PUTs are conditional,
                // and a collection made by a lost attempt is recognised.
                Err(DavError::Unreachable { .. }) if attempt < ATTEMPTS => {
                    std::thread::sleep(Duration::from_millis(200 << attempt));
                }
                other => return other,
            }
        }
    }

    /// A renewable sign-in and its access token, renewed when about to
    /// expire; None for the other sign-ins.
    fn bearer(&self) -> Result<Option<(&TokenSource, Secret<String>)>, DavError> {
        match &self.auth {
            Auth::Renewable(source) => source
                .token_blocking()
                .map(|token| Some((source, token)))
                .map_err(|e| self.renewal_failed(source, &e)),
            _ => Ok(None),
        }
    }

    /// A sign-in whose token could not be had. The token service out of
    /// reach is a connection problem (tried again later); else the server
    /// would turn the requests down, as for a refused sign-in (sign in
    /// again).
    fn renewal_failed(&self, source: &TokenSource, e: &crate::error::Error) -> DavError {
        tracing::warn!(
            issuer = source.issuer(),
            server = %self.origin,
            "the sign-in for contacts and calendars could not be renewed: {e}"
        );
        if e.is_transient() {
            return DavError::Unreachable {
                server: self.origin.clone(),
                detail: format!("{}'s sign-in could not be renewed: {e}", source.issuer()),
            };
        }
        DavError::SignInRefused {
            server: self.origin.clone(),
            password: false,
        }
    }

    fn send_once(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        token: Option<&Secret<String>>,
    ) -> Result<Answer, DavError> {
        let unreachable = |detail: String| DavError::Unreachable {
            server: self.origin.clone(),
            detail,
        };
        let method =
            Method::from_bytes(method.as_bytes()).map_err(|e| unreachable(e.to_string()))?;
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{}{}", self.origin, path));
        request = match &self.auth {
            Auth::Basic { user, password } => {
                use base64::Engine;
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                request.header("Authorization", format!("Basic {token}"))
            }
            Auth::Bearer(token) => request.header("Authorization", format!("Bearer {token}")),
            Auth::Renewable(_) => match token {
                Some(token) => {
                    request.header("Authorization", format!("Bearer {}", token.expose()))
                }
                None => request,
            },
        };
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let request = request
            .body(body.to_vec())
            .map_err(|e| unreachable(e.to_string()))?;
        let mut response = self.agent.run(request).map_err(|e| {
            let detail = e.to_string();
            if detail.contains("certificate") {
                DavError::Certificate {
                    server: self.origin.clone(),
                    detail: detail.trim_start_matches("io: ").to_owned(),
                }
            } else {
                unreachable(detail)
            }
        })?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let etag = header("etag");
        let location = header("location");
        let retry_after = header("retry-after").and_then(|v| v.trim().parse().ok());
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| unreachable(e.to_string()))?;
        if status == 401 {
            return Err(DavError::SignInRefused {
                server: self.origin.clone(),
                password: matches!(self.auth, Auth::Basic { .. }),
            });
        }
        Ok(Answer {
            status,
            etag,
            location,
            retry_after,
            body,
        })
    }
}

/// (`scheme://host[:port]`, path) of an http(s) URL; the path is `/` when empty.
pub(crate) fn split_url(url: &str) -> Option<(String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_owned()),
        None => (rest, "/".to_owned()),
    };
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    Some((
        format!("{scheme}://{}", authority.to_ascii_lowercase()),
        path,
    ))
}

/// The host of an origin (`scheme://host[:port]`), without brackets or port.
pub(crate) fn host_of(origin: &str) -> String {
    let host = origin
        .trim_start_matches("http://")
        .trim_start_matches("https://");
    host.strip_prefix('[')
        .and_then(|h| h.split_once(']'))
        .map(|(h, _)| h)
        .unwrap_or_else(|| host.rsplit_once(':').map_or(host, |(h, _)| h))
        .to_ascii_lowercase()
}

pub(crate) fn is_loopback(origin: &str) -> bool {
    let host = host_of(origin);
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_origin_and_path() {
        assert_eq!(
            split_url("https://Dav.Example.com/remote.php/dav"),
            Some(("https://dav.example.com".into(), "/remote.php/dav".into()))
        );
        assert_eq!(
            split_url("http://127.0.0.1:5232"),
            Some(("http://127.0.0.1:5232".into(), "/".into()))
        );
        assert_eq!(split_url("ftp://x/"), None);
        assert_eq!(
            split_url("https://user:pw@x/"),
            None,
            "no credentials in addresses"
        );
    }

    #[test]
    fn plain_http_is_for_this_computer_only() {
        let auth = || Auth::Basic {
            user: "a".into(),
            password: "b".into(),
        };
        assert!(Client::new("http://127.0.0.1:5232/", auth()).is_ok());
        assert!(Client::new("http://[::1]:5232/", auth()).is_ok());
        assert!(matches!(
            Client::new("http://dav.example.com/", auth()),
            Err(DavError::PlainHttp { .. })
        ));
    }

    #[test]
    fn hosts_of_origins() {
        assert_eq!(host_of("https://DAV.example.com:8443"), "dav.example.com");
        assert_eq!(host_of("http://[::1]:5232"), "::1");
        assert_eq!(
            host_of("https://p42-contacts.icloud.com"),
            "p42-contacts.icloud.com"
        );
    }
}
