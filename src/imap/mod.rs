//! IMAP sessions: connecting, securing, signing in, and the commands the
//! engine needs, behind our own types.
//!
//! Everything before sign-in (greeting, CAPABILITY, STARTTLS) is done here
//! line by line, so that the security rules are ours to enforce: STARTTLS is
//! required once chosen, every byte and capability received before the TLS
//! handshake is thrown away, and a `PREAUTH` greeting on a connection that
//! was to be upgraded is refused. Sign-in and later commands go through
//! `async-imap`, wrapped in [`Session`] so that it can be extended with raw
//! commands (APPENDUID, LITERAL+, MULTIAPPEND) or replaced.

pub mod capability;
pub mod idle;
pub mod messages;
mod rename;
pub mod tls;
pub mod transport;
pub mod wire;

use crate::endpoint::{AuthMechanism, Credentials, Endpoint, Proof, Security};
use crate::error::{Error, Problem, Stage};
use crate::provider::{
    classify_sign_in_refusal, classify_token_refusal, suggested_backoff_secs, OAuthChallenge,
    Provider, SignInRefusal,
};
use crate::secret::Secret;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use capability::Capabilities;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use transport::Transport;
use wire::{Line, Status};

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

/// Runs `fut`, turning a panic inside it into a lost connection. The IMAP
/// parser under async-imap (imap-proto) panics on some malformed replies
/// (a non-ASCII byte right after a response code's `]`, found by the
/// garbling proxy of tests/faults.rs): a broken or hostile server must
/// cost a reconnection, never the whole migration. The session that
/// panicked is not used again: the caller reconnects.
async fn guarded<F: Future>(host: &str, stage: Stage, fut: F) -> Result<F::Output, Error> {
    use futures::FutureExt;
    match std::panic::AssertUnwindSafe(fut).catch_unwind().await {
        Ok(output) => Ok(output),
        Err(payload) => {
            let why = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::warn!(host, "unreadable reply from the server: {why}");
            Err(Error::new(Problem::ConnectionLost {
                host: host.to_owned(),
                stage,
            })
            .with_detail(format!(
                "the server sent a reply MailFerry could not read ({why})"
            )))
        }
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

/// Runs `fut` until it is done, or until nothing has moved on the
/// connection for `limit` (the endpoint's timeout): a transfer may take as
/// long as the link needs, a silent connection is given up on. `None` when
/// the connection went silent.
async fn until_silent<T>(
    activity: &transport::Activity,
    limit: std::time::Duration,
    fut: impl Future<Output = T>,
) -> Option<T> {
    // The command starts now: the time before it is not silence.
    activity.touch();
    let mut fut = std::pin::pin!(fut);
    loop {
        let silent = activity.idle_for();
        if silent >= limit {
            return None;
        }
        if let Ok(done) = tokio::time::timeout(limit - silent, &mut fut).await {
            return Some(done);
        }
    }
}

fn lost_working(host: &str, err: &io::Error) -> Error {
    Error::new(Problem::ConnectionLost {
        host: host.to_owned(),
        stage: Stage::Working,
    })
    .with_detail(err.to_string())
}

fn lost(endpoint: &Endpoint, stage: Stage, err: &io::Error) -> Error {
    Error::new(Problem::ConnectionLost {
        host: endpoint.host.clone(),
        stage,
    })
    .with_detail(err.to_string())
}

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
        let inner = if endpoint.compress {
            compress(inner, &endpoint).await?
        } else {
            inner
        };
        let mut session = Session {
            inner,
            endpoint,
            credentials: credentials.clone(),
            capabilities: Capabilities::default(),
            raw_tag: 0,
            multiappend_refused: false,
            permit: None,
        };
        session.refresh_capabilities().await?;
        if session.capabilities.has("ENABLE") && session.capabilities.has("CONDSTORE") {
            // EXAMINE then reports HIGHESTMODSEQ: an unchanged folder can be
            // recognised in one round trip. A refusal only costs that.
            if let Err(text) = session.run_ok("ENABLE CONDSTORE").await? {
                tracing::debug!("ENABLE CONDSTORE refused: {text}");
            }
        }
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

/// Extracts the server's words from an async-imap error, which carries the
/// response code and text in its Debug form.
fn server_text(message: &str) -> String {
    let info = message
        .split_once("info: Some(\"")
        .or_else(|| message.split_once("information: Some(\""))
        .map(|(_, rest)| rest.trim_end_matches([')', '}', ' ']).trim_end_matches('"'))
        .unwrap_or(message);
    let code = message
        .split_once("code: Some(")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(c, _)| c)
        .unwrap_or("");
    if code.is_empty() {
        info.to_owned()
    } else {
        format!("[{}] {info}", code.to_ascii_uppercase())
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
                SignInRefusal::AdminConsentRequired => Problem::AdminConsentRequired { provider },
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
            Err(Error::new(problem).with_detail(e.to_string()))
        }
    }
}

/// A mailbox as LIST returned it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// The name as the server sent it (modified UTF-7 unless UTF8=ACCEPT).
    pub name: String,
    /// The hierarchy delimiter, `None` on flat servers.
    pub delimiter: Option<String>,
    /// Attributes such as `\Noselect`, `\Sent`, spelled as sent.
    pub attributes: Vec<String>,
}

/// A signed-in IMAP session.
pub struct Session {
    inner: async_imap::Session<Transport>,
    endpoint: Endpoint,
    capabilities: Capabilities,
    /// Counter for the tags of commands we write ourselves (`MF1`, …),
    /// distinct from async-imap's (`A0001`, …).
    raw_tag: u32,
    /// Kept (in memory only) to reconnect after the server broke the
    /// connection off.
    credentials: Credentials,
    /// The server refuses MULTIAPPEND itself (a batch it refused went in
    /// whole as separate APPENDs), so batches go as separate APPENDs from
    /// then on.
    multiappend_refused: bool,
    /// This connection's place under its server's [`ServerBudget`], if it
    /// has one. Declared after `inner`: the socket closes before the place
    /// is handed on.
    permit: Option<(ServerBudget, tokio::sync::OwnedSemaphorePermit)>,
}

/// How many connections may be open to one server at once, shared by every
/// session that goes there: every mailbox of a domain migrated at the same
/// time, and each one's parallel writers. A session waits for a place when
/// it is the one a migration cannot do without, and does without when it
/// would only be an extra writer.
#[derive(Clone, Debug)]
pub struct ServerBudget(std::sync::Arc<tokio::sync::Semaphore>);

impl ServerBudget {
    /// At most `max` connections at once (at least one).
    pub fn new(max: usize) -> ServerBudget {
        ServerBudget(std::sync::Arc::new(tokio::sync::Semaphore::new(max.max(1))))
    }

    /// Places free right now.
    pub fn available(&self) -> usize {
        self.0.available_permits()
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("host", &self.endpoint.host)
            .finish()
    }
}

impl Session {
    /// Connects, secures and signs in.
    ///
    /// With renewable OAuth credentials, a token the server turns down as
    /// expired or unknown is renewed once and the sign-in tried again on a
    /// new connection: that is how a run outlives its first token.
    pub async fn connect(endpoint: &Endpoint, credentials: &Credentials) -> Result<Session, Error> {
        let Proof::Renewable(source) = &credentials.proof else {
            return Connection::open(endpoint).await?.sign_in(credentials).await;
        };
        let token = source.token().await?;
        let first = Connection::open(endpoint)
            .await?
            .sign_in(&credentials.with_access_token(token.clone()))
            .await;
        let mut session = match first {
            Err(e) if e.needs_new_token() => {
                let fresh = source.renew(&token).await?;
                Connection::open(endpoint)
                    .await?
                    .sign_in(&credentials.with_access_token(fresh))
                    .await?
            }
            other => other?,
        };
        session.credentials = credentials.clone();
        Ok(session)
    }

    /// [`Session::connect`] within a server's connection budget: waits
    /// until a place is free.
    pub async fn connect_within(
        endpoint: &Endpoint,
        credentials: &Credentials,
        budget: &ServerBudget,
    ) -> Result<Session, Error> {
        let permit = budget
            .0
            .clone()
            .acquire_owned()
            .await
            .expect("a budget's semaphore is never closed");
        let mut session = Session::connect(endpoint, credentials).await?;
        session.permit = Some((budget.clone(), permit));
        Ok(session)
    }

    /// Opens a new connection to the same server with the same
    /// credentials, replacing this one (nothing is selected afterwards).
    /// It takes over this one's place in the server's budget.
    pub async fn reconnect(&mut self) -> Result<(), Error> {
        let fresh = Session::connect(&self.endpoint, &self.credentials).await?;
        let mut old = std::mem::replace(self, fresh);
        self.multiappend_refused = old.multiappend_refused;
        self.raw_tag = old.raw_tag;
        self.permit = old.permit.take();
        // The old connection is dropped without LOGOUT: it may be out of step.
        Ok(())
    }

    /// Another connection to the same server with the same credentials
    /// (for writing in parallel). Within a budget with no place free, the
    /// server is "busy" at once: the caller does with fewer connections.
    pub async fn another(&self) -> Result<Session, Error> {
        let permit = match &self.permit {
            Some((budget, _)) => {
                let place = budget.0.clone().try_acquire_owned().map_err(|_| {
                    Error::new(Problem::ServerBusy {
                        host: self.endpoint.host.clone(),
                        wait_secs: None,
                    })
                    .with_detail("every connection this server allows MailFerry is in use")
                })?;
                Some((budget.clone(), place))
            }
            None => None,
        };
        let mut fresh = Session::connect(&self.endpoint, &self.credentials).await?;
        fresh.multiappend_refused = self.multiappend_refused;
        fresh.permit = permit;
        Ok(fresh)
    }

    /// What the server offers after sign-in.
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// The endpoint this session is connected to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn working_error(&self, err: async_imap::error::Error) -> Error {
        use async_imap::error::Error as E;
        match err {
            E::Io(e) => lost(&self.endpoint, Stage::Working, &e),
            E::ConnectionLost => Error::new(Problem::ConnectionLost {
                host: self.endpoint.host.clone(),
                stage: Stage::Working,
            }),
            other => Error::new(Problem::Protocol {
                host: self.endpoint.host.clone(),
            })
            .with_detail(other.to_string()),
        }
    }

    /// Runs an async-imap command until it is done, or until the
    /// connection has been silent for the endpoint's timeout (however long
    /// the command takes while bytes move).
    async fn with_timeout<T>(
        &mut self,
        f: impl for<'a> FnOnce(
            &'a mut async_imap::Session<Transport>,
        ) -> std::pin::Pin<
            Box<dyn Future<Output = Result<T, async_imap::error::Error>> + Send + 'a>,
        >,
    ) -> Result<T, Error> {
        let timeout = self.endpoint.timeout;
        let host = self.endpoint.host.clone();
        let activity = self.activity();
        let command = guarded(&host, Stage::Working, f(&mut self.inner));
        match until_silent(&activity, timeout, command).await {
            Some(Ok(Ok(v))) => Ok(v),
            Some(Ok(Err(e))) => Err(self.working_error(e)),
            Some(Err(unreadable)) => Err(unreadable),
            None => Err(self.silent()),
        }
    }

    /// When bytes last moved on this session's connection.
    fn activity(&mut self) -> transport::Activity {
        let stream: &mut Transport = self.inner.as_mut();
        stream.activity().clone()
    }

    /// The connection said nothing for the endpoint's timeout.
    fn silent(&self) -> Error {
        Error::new(Problem::Timeout {
            host: self.endpoint.host.clone(),
            stage: Stage::Working,
            waited_secs: self.endpoint.timeout.as_secs().max(1),
        })
    }

    /// Asks the server for its capabilities again (they may change after
    /// sign-in).
    pub async fn refresh_capabilities(&mut self) -> Result<&Capabilities, Error> {
        let caps = self
            .with_timeout(|s| Box::pin(async move { s.capabilities().await }))
            .await?;
        let atoms: Vec<String> = caps
            .iter()
            .map(|c| match c {
                async_imap::types::Capability::Imap4rev1 => "IMAP4rev1".to_owned(),
                async_imap::types::Capability::Auth(m) => format!("AUTH={m}"),
                async_imap::types::Capability::Atom(a) => a.clone(),
            })
            .collect();
        // async-imap keeps capabilities in a set; restore a stable order.
        let mut atoms = atoms;
        atoms.sort();
        self.capabilities = Capabilities::parse(&atoms.join(" "));
        Ok(&self.capabilities)
    }

    /// LIST with a reference and a pattern (`""` gives the delimiter, `*`
    /// lists everything). Both are plain text (7-bit, as on the wire); this
    /// quotes them. Names come back unescaped ([`wire::parse_list_reply`]).
    pub async fn list(&mut self, reference: &str, pattern: &str) -> Result<Vec<Listed>, Error> {
        let reference = self.quoted(reference, "the folder reference")?;
        let pattern = self.quoted(pattern, "the folder pattern")?;
        self.list_raw("LIST", &format!("LIST {reference} {pattern}"))
            .await
    }

    /// LSUB: the subscribed folders matching `pattern` (`*` for all).
    pub async fn lsub(&mut self, pattern: &str) -> Result<Vec<Listed>, Error> {
        let pattern = self.quoted(pattern, "the folder pattern")?;
        self.list_raw("LSUB", &format!("LSUB \"\" {pattern}")).await
    }

    /// Sends a LIST or LSUB command ourselves and reads its replies from
    /// the raw response bytes. async-imap cannot be used for this: it hands
    /// back a quoted name with its `\` escapes still in it and a literal's
    /// bytes as they are, and nothing tells the two apart afterwards, so
    /// `Say "hi"` came back as `Say \"hi\"` and could not be opened.
    async fn list_raw(&mut self, kind: &str, command: &str) -> Result<Vec<Listed>, Error> {
        let tag = self.next_raw_tag();
        let timeout = self.endpoint.timeout;
        let host = self.endpoint.host.clone();
        let line = format!("{tag} {command}\r\n");
        let fut = async {
            self.write_raw(line.as_bytes()).await?;
            let mut out = Vec::new();
            loop {
                let response = match self.inner.read_response().await {
                    Ok(Some(r)) => r,
                    Ok(None) => {
                        return Err(Error::new(Problem::ConnectionLost {
                            host: host.clone(),
                            stage: Stage::Working,
                        }))
                    }
                    Err(e) => return Err(lost_working(&host, &e)),
                };
                if let async_imap::imap_proto::Response::Done {
                    tag: t,
                    status,
                    outcome,
                } = response.parsed()
                {
                    if t.0 != tag {
                        continue;
                    }
                    if *status == async_imap::imap_proto::Status::Ok {
                        return Ok(out);
                    }
                    return Err(self.refused(
                        format!("list the folders ({kind})"),
                        outcome.information.as_deref().unwrap_or(""),
                    ));
                }
                let raw: &[u8] = response.borrow_owner();
                if let Some(reply) = wire::parse_list_reply(raw, kind) {
                    out.push(Listed {
                        name: reply.name,
                        delimiter: reply.delimiter,
                        attributes: reply.attributes,
                    });
                } else if raw.len() > 2 + kind.len()
                    && raw[2..2 + kind.len()].eq_ignore_ascii_case(kind.as_bytes())
                {
                    return Err(
                        Error::new(Problem::Protocol { host: host.clone() }).with_detail(format!(
                            "cannot read the {kind} reply {:?}",
                            String::from_utf8_lossy(raw)
                                .lines()
                                .next()
                                .unwrap_or("")
                                .chars()
                                .take(200)
                                .collect::<String>()
                        )),
                    );
                }
            }
        };
        match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(Error::new(Problem::Timeout {
                host: self.endpoint.host.clone(),
                stage: Stage::Working,
                waited_secs: timeout.as_secs().max(1),
            })),
        }
    }

    /// CREATE a folder (its wire name), with a special-use attribute such
    /// as `\Archive` when the server offers CREATE-SPECIAL-USE (RFC 6154).
    /// A folder that already exists is not an error.
    pub async fn create(
        &mut self,
        wire_name: &str,
        special_use: Option<&str>,
    ) -> Result<(), Error> {
        let name = self.quoted(wire_name, "the folder name")?;
        let command = match special_use {
            Some(attr) if self.capabilities.has("CREATE-SPECIAL-USE") => {
                format!("CREATE {name} (USE ({attr}))")
            }
            _ => format!("CREATE {name}"),
        };
        match self.run_ok(&command).await? {
            Ok(()) => Ok(()),
            Err(text)
                if text.to_ascii_uppercase().contains("ALREADYEXISTS")
                    || text.contains("already exists") =>
            {
                Ok(())
            }
            Err(text) => Err(self.refused(format!("create the folder \"{wire_name}\""), &text)),
        }
    }

    /// SUBSCRIBE to a folder, so mail apps show it.
    pub async fn subscribe(&mut self, wire_name: &str) -> Result<(), Error> {
        let name = self.quoted(wire_name, "the folder name")?;
        self.run_ok(&format!("SUBSCRIBE {name}"))
            .await?
            .map_err(|text| {
                self.refused(
                    format!("show the folder \"{wire_name}\" in mail apps (subscribe)"),
                    &text,
                )
            })
    }

    /// Runs a command that needs no data back. The inner `Err` carries the
    /// server's words for a NO or BAD; the outer one a connection that was
    /// lost (a `BYE`, a reset), fell silent or said something unreadable,
    /// which is not the server refusing the command.
    async fn run_ok(&mut self, command: &str) -> Result<Result<(), String>, Error> {
        let command = command.to_owned();
        let timeout = self.endpoint.timeout;
        let activity = self.activity();
        match until_silent(
            &activity,
            timeout,
            self.inner.run_command_and_check_ok(&command),
        )
        .await
        {
            Some(Ok(())) => Ok(Ok(())),
            Some(Err(async_imap::error::Error::No(m) | async_imap::error::Error::Bad(m))) => {
                Ok(Err(server_text(&m)))
            }
            Some(Err(e)) => Err(self.working_error(e)),
            None => Err(self.silent()),
        }
    }

    fn refused(&self, action: String, text: &str) -> Error {
        Error::new(Problem::ServerRefused {
            host: self.endpoint.host.clone(),
            action,
        })
        .with_detail(format!("The server said: {text}"))
    }

    fn quoted(&self, value: &str, what: &str) -> Result<String, Error> {
        match wire::astring(value) {
            Ok(wire::Astring::Quoted(q)) => Ok(q),
            Ok(wire::Astring::Literal(_)) if self.capabilities.has("UTF8=ACCEPT") => {
                // Under UTF8=ACCEPT quoted strings may hold UTF-8 (RFC 6855).
                Ok(format!(
                    "\"{}\"",
                    value.replace('\\', "\\\\").replace('"', "\\\"")
                ))
            }
            _ => Err(Error::new(Problem::Protocol {
                host: self.endpoint.host.clone(),
            })
            .with_detail(format!("cannot send {what} {value:?}"))),
        }
    }

    /// The hierarchy delimiter and the personal namespace prefix, found
    /// without the NAMESPACE command (async-imap cannot parse its reply):
    /// `LIST "" ""` gives the delimiter; the prefix is `INBOX` + delimiter
    /// when every other top-level folder lives under INBOX.
    pub async fn hierarchy(&mut self) -> Result<(Option<String>, String), Error> {
        let root = self.list("", "").await?;
        let delimiter = root.first().and_then(|l| l.delimiter.clone());
        let top = self.list("", "%").await?;
        let prefix = match &delimiter {
            Some(d) => {
                let inbox_children = self.list("", &format!("INBOX{d}%")).await?;
                let others = top.iter().any(|l| !l.name.eq_ignore_ascii_case("INBOX"));
                if !inbox_children.is_empty() && !others {
                    format!("INBOX{d}")
                } else {
                    String::new()
                }
            }
            None => String::new(),
        };
        Ok((delimiter, prefix))
    }

    /// Signs out politely. Errors are ignored: the session is over either way.
    pub async fn logout(mut self) {
        let _ = tokio::time::timeout(self.endpoint.timeout, self.inner.logout()).await;
        // A place in a server's budget is given back a moment after the
        // connection closed, not at the same instant: the server (and
        // anything between) sees the close a little later, and a mailbox
        // waiting for the place must not make it count one too many.
        if let Some(permit) = self.permit.take() {
            drop(self);
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            drop(permit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_text_is_recovered_from_async_imap_errors() {
        assert_eq!(
            server_text(
                r#"code: Some(AuthenticationFailed), info: Some("Authentication failed.")"#
            ),
            "[AUTHENTICATIONFAILED] Authentication failed."
        );
        assert_eq!(
            server_text(
                r#"code: None, info: Some("[ALERT] Application-specific password required")"#
            ),
            "[ALERT] Application-specific password required"
        );
    }
}
