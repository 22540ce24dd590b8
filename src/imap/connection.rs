//! Before sign-in, and the sign-in itself: the server found (DNS) and
//! reached (TCP), the connection secured (TLS from the start, or STARTTLS
//! after the greeting), the greeting and capabilities read line by line,
//! then LOGIN or AUTHENTICATE (PLAIN, XOAUTH2, OAUTHBEARER), which turns a
//! [`Connection`] into a [`Session`].

use super::capability::Capabilities;
use super::link::LinkGauge;
use super::tls;
use super::transport::Transport;
use super::wire::{self, Line, Status};
use super::{guarded, lost, server_text, Session, SyncOnly};
use crate::endpoint::{AuthMechanism, Credentials, Endpoint, Proof, Security};
use crate::error::{Error, Problem, Stage};
use crate::provider::{
    classify_sign_in_refusal, classify_token_refusal, suggested_backoff_secs, OAuthChallenge,
    Provider, SignInRefusal,
};
use crate::secret::Secret;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The longest response line accepted before sign-in. Greetings and
/// capability lists are a few hundred bytes; anything longer is not a
/// server we should talk to.
const MAX_PREAUTH_LINE: usize = 16 * 1024;

/// A connection that is open (and secured, unless the user chose plain) but
/// not signed in.
pub struct Connection {
    reader: BufReader<Transport>,
    endpoint: Endpoint,
    capabilities: Capabilities,
    preauth: bool,
    greeting: String,
    next_tag: u32,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("host", &self.endpoint.host)
            .field("port", &self.endpoint.port)
            .field("security", &self.endpoint.security)
            .finish()
    }
}

/// Runs `fut` under the endpoint's timeout, turning an expiry into
/// [`Problem::Timeout`].
async fn timed<T>(
    endpoint: &Endpoint,
    stage: Stage,
    fut: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    match tokio::time::timeout(endpoint.timeout, guarded(&endpoint.host, stage, fut)).await {
        Ok(Ok(result)) => result,
        Ok(Err(unreadable)) => Err(unreadable),
        Err(_) => Err(Error::new(Problem::Timeout {
            host: endpoint.host.clone(),
            stage,
            waited_secs: endpoint.timeout.as_secs().max(1),
        })),
    }
}

/// Keeps what the kernel holds unsent for this connection small (Linux:
/// TCP_NOTSENT_LOWAT), so that a writer sees the link's real pace: a
/// message is only "written" when most of it has left, and the silence
/// while the last bytes drain stays short. (It bounds only what waits to
/// be sent, not the window in flight, so throughput is not capped.)
fn limit_unsent(tcp: &TcpStream) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let _ = socket2::SockRef::from(tcp).set_tcp_notsent_lowat(UNSENT_LIMIT);
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = tcp;
}

/// See [`limit_unsent`].
#[cfg(any(target_os = "linux", target_os = "android"))]
const UNSENT_LIMIT: u32 = 64 * 1024;

impl Connection {
    /// Finds the server, connects, reads its greeting and secures the
    /// connection as the endpoint asks. Nothing secret is sent.
    pub async fn open(endpoint: &Endpoint) -> Result<Connection, Error> {
        let addrs = timed(endpoint, Stage::Connecting, resolve(endpoint)).await?;
        let tcp = timed(endpoint, Stage::Connecting, connect_any(endpoint, &addrs)).await?;
        let _ = tcp.set_nodelay(true);
        limit_unsent(&tcp);
        tracing::debug!(host = %endpoint.host, port = endpoint.port, "connected");

        let transport = match endpoint.security {
            Security::Tls => timed(endpoint, Stage::Securing, handshake(endpoint, tcp)).await?,
            Security::StartTls | Security::Plain => Transport::plain(tcp),
        };
        let mut conn = Connection {
            reader: BufReader::new(transport),
            endpoint: endpoint.clone(),
            capabilities: Capabilities::default(),
            preauth: false,
            greeting: String::new(),
            next_tag: 0,
        };
        timed(endpoint, Stage::Greeting, conn.read_greeting()).await?;
        if endpoint.security == Security::StartTls {
            conn = timed(endpoint, Stage::Securing, conn.start_tls()).await?;
        }
        if conn.capabilities.is_empty() {
            timed(endpoint, Stage::Greeting, conn.ask_capabilities()).await?;
        }
        if endpoint.security == Security::Plain && !endpoint.is_loopback() {
            tracing::warn!(host = %endpoint.host, "using an unencrypted connection: the password is readable on the network");
        }
        Ok(conn)
    }

    /// What the server offers before sign-in (after TLS, if any).
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// The server's greeting text (after TLS; for STARTTLS, the pre-TLS
    /// greeting is untrusted and not kept).
    pub fn greeting(&self) -> &str {
        &self.greeting
    }

    /// Is the connection encrypted?
    pub fn is_encrypted(&self) -> bool {
        self.reader.get_ref().is_encrypted()
    }

    fn tag(&mut self) -> String {
        self.next_tag += 1;
        format!("m{}", self.next_tag)
    }

    async fn read_line(&mut self, stage: Stage) -> Result<String, Error> {
        let mut buf = Vec::new();
        let n = (&mut self.reader)
            .take(MAX_PREAUTH_LINE as u64)
            .read_until(b'\n', &mut buf)
            .await
            .map_err(|e| lost(&self.endpoint, stage, &e))?;
        if n == 0 {
            return Err(Error::new(Problem::ConnectionLost {
                host: self.endpoint.host.clone(),
                stage,
            }));
        }
        if !buf.ends_with(b"\n") {
            return Err(self.not_imap("a reply line was too long"));
        }
        while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            buf.pop();
        }
        let line = String::from_utf8_lossy(&buf).into_owned();
        tracing::trace!(target: "mailferry::imap::wire", "S: {line}");
        Ok(line)
    }

    fn not_imap(&self, why: &str) -> Error {
        Error::new(Problem::NotImap {
            host: self.endpoint.host.clone(),
            port: self.endpoint.port,
        })
        .with_detail(why.to_owned())
    }

    async fn read_greeting(&mut self) -> Result<(), Error> {
        let line = self.read_line(Stage::Greeting).await?;
        let trusted = self.is_encrypted() || self.endpoint.security == Security::Plain;
        match wire::parse_line(&line) {
            Some(Line::UntaggedStatus {
                status: Status::Ok,
                code,
                text,
            }) => {
                if let Some(atoms) = wire::capability_code(code) {
                    self.capabilities = Capabilities::parse(atoms);
                }
                if trusted {
                    self.greeting = text.to_owned();
                }
                Ok(())
            }
            Some(Line::UntaggedStatus {
                status: Status::Preauth,
                ..
            }) => {
                if self.endpoint.security == Security::StartTls {
                    // "Why TLS is better without STARTTLS" (USENIX 2021): a
                    // PREAUTH greeting skips STARTTLS; clients that go on
                    // talk in the clear to whoever injected it.
                    return Err(Error::new(Problem::StartTlsPreauth {
                        host: self.endpoint.host.clone(),
                    }));
                }
                self.preauth = true;
                Ok(())
            }
            Some(Line::UntaggedStatus {
                status: Status::Bye,
                text,
                ..
            }) => {
                // Before TLS anyone on the path may have written this line:
                // its words neither set the wait nor reach the report.
                let mut err = Error::new(Problem::ServerBusy {
                    host: self.endpoint.host.clone(),
                    wait_secs: trusted.then(|| suggested_backoff_secs(text)).flatten(),
                });
                if trusted {
                    err = err.with_detail(format!("The server said: {text}"));
                }
                Err(err)
            }
            _ => Err(self.not_imap("the server's first line is not an IMAP greeting")),
        }
    }

    /// Sends a command (never a secret: it is logged at trace level) and
    /// collects the untagged lines until its tagged reply.
    async fn command(
        &mut self,
        command: &str,
        stage: Stage,
    ) -> Result<(Vec<String>, Status, String), Error> {
        let tag = self.tag();
        tracing::trace!(target: "mailferry::imap::wire", "C: {tag} {command}");
        let bytes = format!("{tag} {command}\r\n");
        let stream = self.reader.get_mut();
        stream
            .write_all(bytes.as_bytes())
            .await
            .map_err(|e| lost(&self.endpoint, stage, &e))?;
        stream
            .flush()
            .await
            .map_err(|e| lost(&self.endpoint, stage, &e))?;
        let mut untagged = Vec::new();
        loop {
            let line = self.read_line(stage).await?;
            match wire::parse_line(&line) {
                Some(Line::Tagged {
                    tag: t,
                    status,
                    code,
                    text,
                }) if t == tag => {
                    let rest = if code.is_empty() {
                        text.to_owned()
                    } else {
                        format!("{code} {text}")
                    };
                    return Ok((untagged, status, rest));
                }
                Some(Line::UntaggedStatus {
                    status: Status::Bye,
                    ..
                }) => {
                    return Err(Error::new(Problem::ConnectionLost {
                        host: self.endpoint.host.clone(),
                        stage,
                    }))
                }
                Some(_) => untagged.push(line),
                None => return Err(self.not_imap("a reply did not follow IMAP syntax")),
            }
        }
    }

    async fn ask_capabilities(&mut self) -> Result<(), Error> {
        let (lines, status, _) = self.command("CAPABILITY", Stage::Greeting).await?;
        if status != Status::Ok {
            return Err(self.not_imap("the server refused CAPABILITY"));
        }
        for line in &lines {
            if let Some(Line::Capability(atoms)) = wire::parse_line(line) {
                self.capabilities = Capabilities::parse(atoms);
            }
        }
        if self.capabilities.is_empty() {
            return Err(self.not_imap("the server listed no capabilities"));
        }
        Ok(())
    }

    async fn start_tls(mut self) -> Result<Self, Error> {
        if self.capabilities.is_empty() {
            self.ask_capabilities().await?;
        }
        if !self.capabilities.has("STARTTLS") {
            return Err(Error::new(Problem::StartTlsUnavailable {
                host: self.endpoint.host.clone(),
            }));
        }
        let (_, status, _) = self.command("STARTTLS", Stage::Securing).await?;
        if status != Status::Ok {
            return Err(Error::new(Problem::StartTlsUnavailable {
                host: self.endpoint.host.clone(),
            }));
        }
        // Everything learned in the clear is forgotten: capabilities (an
        // attacker may have removed or added some) and any bytes already
        // buffered after the OK (a response injected to be read as if it
        // came through TLS).
        self.capabilities = Capabilities::default();
        let buffered = self.reader.buffer().len();
        if buffered > 0 {
            tracing::debug!(
                bytes = buffered,
                "discarded bytes received before the TLS handshake"
            );
        }
        let Connection {
            reader,
            endpoint,
            next_tag,
            ..
        } = self;
        let Some(tcp) = reader.into_inner().into_plain() else {
            unreachable!("STARTTLS runs only on a plain connection")
        };
        let tls = handshake(&endpoint, tcp).await?;
        Ok(Connection {
            reader: BufReader::new(tls),
            endpoint,
            capabilities: Capabilities::default(),
            preauth: false,
            greeting: String::new(),
            next_tag,
        })
    }

    /// Signs in. Consumes the connection: a failed sign-in closes it.
    pub async fn sign_in(self, credentials: &Credentials) -> Result<Session, Error> {
        let endpoint = self.endpoint.clone();
        if let Proof::Renewable(source) = &credentials.proof {
            let token = source.token().await?;
            let with_token = credentials.with_access_token(token);
            let mut session =
                timed(&endpoint, Stage::SigningIn, self.sign_in_inner(&with_token)).await?;
            // Reconnections ask the source again.
            session.credentials = credentials.clone();
            return Ok(session);
        }
        timed(&endpoint, Stage::SigningIn, self.sign_in_inner(credentials)).await
    }

    async fn sign_in_inner(self, credentials: &Credentials) -> Result<Session, Error> {
        let endpoint = self.endpoint.clone();
        let provider = Provider::from_host(&endpoint.host);
        if !self.reader.buffer().is_empty() {
            return Err(self.not_imap("the server sent data nobody asked for"));
        }
        if self.preauth {
            // Already signed in by the server (only accepted on TLS or an
            // explicitly plain connection; see read_greeting).
            return Err(Error::new(Problem::Protocol {
                host: endpoint.host.clone(),
            })
            .with_detail("the server signed us in before we asked (PREAUTH), which MailFerry does not support"));
        }
        let caps = self.capabilities.clone();
        let method = choose_method(&endpoint, &caps, credentials)?;
        let client = async_imap::Client::new(self.reader.into_inner());
        let mut exchange = None;
        let result = match method {
            Method::Login(password) => {
                tracing::debug!(user = %credentials.user, "signing in with LOGIN");
                if password.expose().contains(['\r', '\n', '\0']) {
                    return Err(Error::new(Problem::AuthFailed { provider })
                        .with_detail("the password contains a line break, which the LOGIN command cannot carry; try AUTHENTICATE PLAIN"));
                }
                client
                    .login(&credentials.user, password.expose())
                    .await
                    .map_err(|(e, _)| e)
            }
            Method::Sasl(mechanism) => {
                let name = mechanism.name();
                tracing::debug!(user = %credentials.user, mechanism = name, "signing in with AUTHENTICATE");
                let initial = mechanism.initial_response(credentials, &endpoint);
                let sasl_ir = caps.has("SASL-IR");
                // With SASL-IR the first response rides on the command line.
                // async-imap copies that line into a String of its own (not
                // zeroed) and traces it through `log`, which is compiled out
                // (see Cargo.toml); nothing of ours logs it.
                let command = Secret::new(if sasl_ir {
                    format!("{name} {}", STANDARD.encode(initial.expose()))
                } else {
                    name.to_owned()
                });
                let state = exchange.insert(SaslExchange {
                    initial: (!sasl_ir).then_some(initial),
                    after_error: mechanism.after_error(),
                    error_challenge: None,
                });
                client
                    .authenticate(command.expose(), state)
                    .await
                    .map_err(|(e, _)| e)
            }
        };
        let inner = match result {
            Ok(session) => session,
            Err(e) => {
                let challenge = exchange.and_then(|x| x.error_challenge);
                return Err(sign_in_error(
                    &endpoint,
                    provider,
                    credentials.is_oauth(),
                    challenge.as_deref(),
                    e,
                ));
            }
        };
        let mut inner = if endpoint.compress {
            compress(inner, &endpoint).await?
        } else {
            inner
        };
        let activity = {
            let stream: &mut Transport = inner.as_mut();
            stream.activity().clone()
        };
        let mut session = Session {
            inner: Some(inner),
            activity,
            link: LinkGauge::default(),
            endpoint,
            credentials: credentials.clone(),
            capabilities: Capabilities::default(),
            raw_tag: 0,
            multiappend_refused: false,
            sync_only: SyncOnly::default(),
            permit: None,
        };
        session
            .capabilities_and_condstore(caps.has("ENABLE"))
            .await?;
        tracing::debug!("signed in");
        Ok(session)
    }
}

/// Turns on COMPRESS=DEFLATE (RFC 4978) when the server offers it; a server
/// without it is used as it is.
async fn compress(
    mut inner: async_imap::Session<Transport>,
    endpoint: &Endpoint,
) -> Result<async_imap::Session<Transport>, Error> {
    let failed = |e: async_imap::error::Error| {
        Error::new(Problem::Protocol {
            host: endpoint.host.clone(),
        })
        .with_detail(format!("turning on compression failed: {e}"))
    };
    let offered = inner
        .capabilities()
        .await
        .map_err(failed)?
        .has_str("COMPRESS=DEFLATE");
    if !offered {
        tracing::debug!("the server does not offer COMPRESS=DEFLATE");
        return Ok(inner);
    }
    let inner = inner.compress(Transport::deflate).await.map_err(failed)?;
    tracing::debug!("compressed connection");
    Ok(inner)
}

/// How a sign-in goes on the wire.
enum Method<'a> {
    /// `LOGIN user password`.
    Login(&'a Secret<String>),
    /// `AUTHENTICATE` with a SASL mechanism.
    Sasl(Sasl<'a>),
}

/// The SASL mechanisms MailFerry speaks, with what each sends.
enum Sasl<'a> {
    /// RFC 4616: authorization identity, authentication identity, password.
    Plain(&'a Secret<String>),
    /// Google's and Microsoft's `user=…^Aauth=Bearer …^A^A`.
    XOAuth2(&'a Secret<String>),
    /// RFC 7628: a GS2 header, then `host`, `port` and `auth` key/values.
    OAuthBearer(&'a Secret<String>),
}

impl Sasl<'_> {
    fn name(&self) -> &'static str {
        match self {
            Sasl::Plain(_) => "PLAIN",
            Sasl::XOAuth2(_) => "XOAUTH2",
            Sasl::OAuthBearer(_) => "OAUTHBEARER",
        }
    }

    /// The client's first message, unencoded.
    fn initial_response(&self, c: &Credentials, endpoint: &Endpoint) -> Secret<Vec<u8>> {
        let mut out = Vec::new();
        match self {
            Sasl::Plain(password) => {
                let (authz, authc) = match &c.admin {
                    Some(admin) => (c.user.as_str(), admin.as_str()),
                    None => ("", c.user.as_str()),
                };
                out.extend_from_slice(authz.as_bytes());
                out.push(0);
                out.extend_from_slice(authc.as_bytes());
                out.push(0);
                out.extend_from_slice(password.expose().as_bytes());
            }
            Sasl::XOAuth2(token) => {
                out.extend_from_slice(b"user=");
                out.extend_from_slice(c.user.as_bytes());
                out.extend_from_slice(b"\x01auth=Bearer ");
                out.extend_from_slice(token.expose().as_bytes());
                out.extend_from_slice(b"\x01\x01");
            }
            Sasl::OAuthBearer(token) => {
                // GS2 header: no channel binding, the user as authorization
                // identity (`,` and `=` escaped as RFC 5801 says).
                let authz = c.user.replace('=', "=3D").replace(',', "=2C");
                let host = endpoint.host.trim_start_matches('[').trim_end_matches(']');
                out.extend_from_slice(
                    format!(
                        "n,a={authz},\x01host={host}\x01port={}\x01auth=Bearer ",
                        endpoint.port
                    )
                    .as_bytes(),
                );
                out.extend_from_slice(token.expose().as_bytes());
                out.extend_from_slice(b"\x01\x01");
            }
        }
        Secret::new(out)
    }

    /// What the client answers to an error challenge, to let the server
    /// finish with its tagged NO: OAUTHBEARER's dummy `%x01` (RFC 7628
    /// §3.2.3), an empty response otherwise (Google's XOAUTH2 page).
    fn after_error(&self) -> &'static [u8] {
        match self {
            Sasl::OAuthBearer(_) => b"\x01",
            Sasl::Plain(_) | Sasl::XOAuth2(_) => b"",
        }
    }
}

/// Picks the mechanism from the credentials, the user's choice and what the
/// server offers.
fn choose_method<'a>(
    endpoint: &Endpoint,
    caps: &Capabilities,
    credentials: &'a Credentials,
) -> Result<Method<'a>, Error> {
    let provider = Provider::from_host(&endpoint.host);
    let mismatch =
        |why: &str| Err(Error::new(Problem::AuthFailed { provider }).with_detail(why.to_owned()));
    match (&credentials.proof, credentials.mechanism) {
        (Proof::Password(password), mechanism) => {
            let use_plain = match mechanism {
                AuthMechanism::Plain => true,
                AuthMechanism::Login => false,
                AuthMechanism::Auto => caps.has_auth("PLAIN") || credentials.admin.is_some(),
                AuthMechanism::XOAuth2 | AuthMechanism::OAuthBearer => {
                    return mismatch("XOAUTH2 and OAUTHBEARER need an access token, not a password")
                }
            };
            if caps.has("LOGINDISABLED") && !(use_plain && caps.has_auth("PLAIN")) {
                return Err(Error::new(Problem::PlainSignInRefused {
                    host: endpoint.host.clone(),
                }));
            }
            Ok(if use_plain {
                Method::Sasl(Sasl::Plain(password))
            } else {
                Method::Login(password)
            })
        }
        (Proof::Renewable(_), _) => {
            mismatch("internal: the access token was not fetched before signing in")
        }
        (Proof::AccessToken(token), mechanism) => match mechanism {
            AuthMechanism::XOAuth2 => Ok(Method::Sasl(Sasl::XOAuth2(token))),
            AuthMechanism::OAuthBearer => Ok(Method::Sasl(Sasl::OAuthBearer(token))),
            AuthMechanism::Auto if caps.has_auth("OAUTHBEARER") => {
                Ok(Method::Sasl(Sasl::OAuthBearer(token)))
            }
            AuthMechanism::Auto if caps.has_auth("XOAUTH2") => {
                Ok(Method::Sasl(Sasl::XOAuth2(token)))
            }
            AuthMechanism::Auto => Err(Error::new(Problem::OAuthUnavailable {
                host: endpoint.host.clone(),
            })
            .with_detail(format!(
                "the server offers these sign-in mechanisms: {}",
                caps.auth_mechanisms().join(" ")
            ))),
            AuthMechanism::Login | AuthMechanism::Plain => {
                mismatch("an access token is sent with XOAUTH2 or OAUTHBEARER, not LOGIN or PLAIN")
            }
        },
    }
}

/// One AUTHENTICATE exchange: the first response (unless it went with the
/// command, SASL-IR), then, for any further challenge, the server's error
/// report kept for diagnosis and the answer that lets it finish.
struct SaslExchange {
    initial: Option<Secret<Vec<u8>>>,
    after_error: &'static [u8],
    error_challenge: Option<Vec<u8>>,
}

impl async_imap::Authenticator for &mut SaslExchange {
    type Response = Vec<u8>;
    fn process(&mut self, challenge: &[u8]) -> Vec<u8> {
        match self.initial.take() {
            Some(initial) => initial.expose().clone(),
            None => {
                // Error challenges name a status and a scope, never a
                // secret; only the first is kept.
                if self.error_challenge.is_none() {
                    self.error_challenge = Some(challenge.to_vec());
                }
                self.after_error.to_vec()
            }
        }
    }
}

fn sign_in_error(
    endpoint: &Endpoint,
    provider: Provider,
    oauth: bool,
    challenge: Option<&[u8]>,
    err: async_imap::error::Error,
) -> Error {
    use async_imap::error::Error as E;
    match err {
        E::No(msg) | E::Bad(msg) => {
            let text = server_text(&msg);
            let refusal = if oauth {
                let challenge = challenge.and_then(OAuthChallenge::parse);
                if let Some(c) = &challenge {
                    tracing::debug!(status = %c.status, scope = ?c.scope, "the server refused the access token");
                }
                classify_token_refusal(provider, challenge.as_ref(), &text)
            } else {
                classify_sign_in_refusal(provider, &text)
            };
            let problem = match refusal {
                SignInRefusal::WrongPassword => Problem::AuthFailed { provider },
                SignInRefusal::AppPasswordRequired => Problem::AppPasswordRequired { provider },
                SignInRefusal::WebLoginRequired => Problem::WebLoginRequired { provider },
                SignInRefusal::BasicAuthDisabled => Problem::BasicAuthDisabled { provider },
                SignInRefusal::ImapDisabled => Problem::ImapDisabled { provider },
                SignInRefusal::TokenExpired => Problem::TokenExpired { provider },
                SignInRefusal::TokenScope => Problem::TokenScope { provider },
                SignInRefusal::TokenRejected => Problem::TokenRejected { provider },
                SignInRefusal::AdminConsentRequired => Problem::AdminConsentRequired {
                    provider,
                    approve_at: None,
                    client_id: None,
                },
                SignInRefusal::Busy => Problem::ServerBusy {
                    host: endpoint.host.clone(),
                    wait_secs: suggested_backoff_secs(&text),
                },
            };
            Error::new(problem).with_detail(format!("The server said: {text}"))
        }
        E::Io(e) => lost(endpoint, Stage::SigningIn, &e),
        E::ConnectionLost => Error::new(Problem::ConnectionLost {
            host: endpoint.host.clone(),
            stage: Stage::SigningIn,
        }),
        other => Error::new(Problem::Protocol {
            host: endpoint.host.clone(),
        })
        .with_detail(other.to_string()),
    }
}

async fn resolve(endpoint: &Endpoint) -> Result<Vec<SocketAddr>, Error> {
    let not_found = |detail: String| {
        Error::new(Problem::DnsNotFound {
            host: endpoint.host.clone(),
        })
        .with_detail(detail)
    };
    let host = endpoint.host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(not_found("no server name was given".into()));
    }
    if let Some(ip) = endpoint.address {
        return Ok(vec![SocketAddr::new(ip, endpoint.port)]);
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, endpoint.port))
        .await
        .map_err(|e| not_found(e.to_string()))?
        .collect();
    if addrs.is_empty() {
        return Err(not_found("the name has no address".into()));
    }
    Ok(addrs)
}

async fn connect_any(endpoint: &Endpoint, addrs: &[SocketAddr]) -> Result<TcpStream, Error> {
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => {
                tracing::debug!(%addr, error = %e, "connection attempt failed");
                last = Some(e);
            }
        }
    }
    let e = last.unwrap_or_else(|| io::Error::other("no address to connect to"));
    let problem = match e.kind() {
        io::ErrorKind::ConnectionRefused => Problem::ConnectionRefused {
            host: endpoint.host.clone(),
            port: endpoint.port,
        },
        io::ErrorKind::TimedOut => Problem::Timeout {
            host: endpoint.host.clone(),
            stage: Stage::Connecting,
            waited_secs: endpoint.timeout.as_secs().max(1),
        },
        _ => Problem::NetworkUnreachable {
            host: endpoint.host.clone(),
        },
    };
    Err(Error::new(problem).with_detail(e.to_string()))
}

async fn handshake(endpoint: &Endpoint, tcp: TcpStream) -> Result<Transport, Error> {
    let setup = tls::setup(endpoint)?;
    let host = endpoint.host.trim_start_matches('[').trim_end_matches(']');
    let name = rustls::pki_types::ServerName::try_from(host.to_owned()).map_err(|_| {
        Error::new(Problem::DnsNotFound {
            host: endpoint.host.clone(),
        })
        .with_detail("the server name is not a valid host name")
    })?;
    let connector = tokio_rustls::TlsConnector::from(setup.config);
    match connector.connect(name, tcp).await {
        Ok(stream) => {
            tracing::debug!(host = %endpoint.host, "secured with TLS");
            Ok(Transport::tls(stream))
        }
        Err(e) => {
            let seen = setup.seen.lock().ok().and_then(|s| *s);
            let problem = tls::handshake_problem(endpoint, seen, &e);
            let mut err = Error::new(problem).with_detail(e.to_string());
            if matches!(err.problem(), Problem::TlsHostnameMismatch { .. }) {
                let names = setup.names.lock().map(|n| n.clone()).unwrap_or_default();
                err = err.with_certificate_names(names);
            }
            Err(err)
        }
    }
}
