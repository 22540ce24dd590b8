//! IMAP sessions: connecting, securing, signing in, and the commands the
//! engine needs, behind our own types.
//!
//! Everything before sign-in (greeting, CAPABILITY, STARTTLS) is done line
//! by line by [`Connection`], so that the security rules are ours to
//! enforce: STARTTLS is required once chosen, every byte and capability
//! received before the TLS handshake is thrown away, and a `PREAUTH`
//! greeting on a connection that was to be upgraded is refused. Sign-in and
//! later commands go through `async-imap`, wrapped in [`Session`] so that
//! it can be extended with raw commands (APPENDUID, LITERAL+, MULTIAPPEND)
//! or replaced.

pub mod capability;
mod connection;
pub mod idle;
pub mod link;
pub mod messages;
mod rename;
mod status;
pub mod tls;
pub mod transport;
pub mod wire;

pub use connection::Connection;

use crate::endpoint::{Credentials, Endpoint, Proof};
use crate::error::{Error, Problem, Stage};
use capability::Capabilities;
use std::future::Future;
use std::io;
use transport::Transport;

/// Runs `fut`, turning a panic inside it into a lost connection. The IMAP
/// parser under async-imap (imap-proto) panics on some malformed replies
/// (a non-ASCII byte right after a response code's `]`, found by the
/// garbling proxy of tests/it/faults.rs): a broken or hostile server must
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

/// The session's connection, or a lost connection when a refused COMPRESS
/// took it.
fn live<'a>(
    inner: &'a mut Option<async_imap::Session<Transport>>,
    host: &str,
) -> Result<&'a mut async_imap::Session<Transport>, Error> {
    inner.as_mut().ok_or_else(|| compress_took(host))
}

/// The connection a refused COMPRESS took.
fn compress_took(host: &str) -> Error {
    Error::new(Problem::ConnectionLost {
        host: host.to_owned(),
        stage: Stage::Working,
    })
    .with_detail("the server refused to compress the connection")
}

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

/// A folder operation of [`Session::folder_flight`].
#[derive(Debug, Clone, Copy)]
pub enum FolderCommand<'a> {
    /// CREATE the folder (its wire name), with a special-use attribute
    /// where the server offers CREATE-SPECIAL-USE.
    Create {
        /// The folder's name as the server spells it.
        wire_name: &'a str,
        /// Such as `\Archive`.
        special_use: Option<&'a str>,
    },
    /// SUBSCRIBE to the folder.
    Subscribe {
        /// The folder's name as the server spells it.
        wire_name: &'a str,
    },
}

/// A side's hierarchy and folders, as [`Session::hierarchy_and_folders`]
/// read them.
#[derive(Clone, Debug, Default)]
pub struct Listing {
    /// The hierarchy delimiter, `None` on flat servers.
    pub delimiter: Option<String>,
    /// The personal namespace prefix (`INBOX.` or empty).
    pub prefix: String,
    /// Every folder (`LIST "" "*"`).
    pub listed: Vec<Listed>,
    /// Every subscription (`LSUB "" "*"`).
    pub subscribed: Vec<Listed>,
}

/// The personal prefix: `INBOX` + delimiter when INBOX has folders inside
/// it and no other folder is at the top (`top`: `LIST "" "%"`).
fn prefix_of(delimiter: &str, top: &[Listed], inbox_children: bool) -> String {
    let others = top.iter().any(|l| !l.name.eq_ignore_ascii_case("INBOX"));
    if inbox_children && !others {
        format!("INBOX{delimiter}")
    } else {
        String::new()
    }
}

/// A signed-in IMAP session.
pub struct Session {
    /// The connection; `None` only after a COMPRESS the server refused,
    /// which took it (async-imap's `compress` consumes the session): every
    /// use is then a lost connection, and the caller reconnects.
    inner: Option<async_imap::Session<Transport>>,
    /// When bytes last moved on the connection (shared by its layers).
    activity: transport::Activity,
    /// How fast message bytes moved on connections to this server: shared
    /// by every connection that came from this one.
    link: link::LinkGauge,
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
    /// Messages to send only as synchronising literals: shared by every
    /// connection to this server that came from this one.
    sync_only: SyncOnly,
    /// This connection's place under its server's [`ServerBudget`], if it
    /// has one. Declared after `inner`: the socket closes before the place
    /// is handed on.
    permit: Option<(ServerBudget, tokio::sync::OwnedSemaphorePermit)>,
}

/// Messages a server refused after they were sent without waiting for its
/// `+` (a hash of their bytes): they go as synchronising literals from then
/// on, on every connection to that server (see [`messages`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct SyncOnly(std::sync::Arc<std::sync::Mutex<std::collections::HashSet<u64>>>);

impl SyncOnly {
    fn key(body: &[u8]) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        body.hash(&mut h);
        h.finish()
    }

    /// Remembers a message as one to send synchronising.
    pub(crate) fn insert(&self, body: &[u8]) {
        let key = SyncOnly::key(body);
        self.0
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .insert(key);
    }

    /// Was this message remembered?
    pub(crate) fn contains(&self, body: &[u8]) -> bool {
        let set = self.0.lock().unwrap_or_else(|poison| poison.into_inner());
        !set.is_empty() && set.contains(&SyncOnly::key(body))
    }
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
        self.sync_only = old.sync_only.clone();
        self.link = old.link.clone();
        self.raw_tag = old.raw_tag;
        self.permit = old.permit.take();
        // The old connection is dropped without LOGOUT: it may be out of step.
        Ok(())
    }

    /// Another connection to the same server with the same credentials
    /// (for writing in parallel). Within a budget with no place free, the
    /// server is "busy" at once: the caller does with fewer connections.
    pub async fn another(&self) -> Result<Session, Error> {
        self.another_later().await
    }

    /// [`Session::another`] as a future that does not borrow this session:
    /// the place in the budget is taken now, the connection made when the
    /// future runs (while this session goes on working).
    pub(crate) fn another_later(
        &self,
    ) -> impl Future<Output = Result<Session, Error>> + Send + 'static {
        let permit = match &self.permit {
            Some((budget, _)) => match budget.0.clone().try_acquire_owned() {
                Ok(place) => Ok(Some((budget.clone(), place))),
                Err(_) => Err(Error::new(Problem::ServerBusy {
                    host: self.endpoint.host.clone(),
                    wait_secs: None,
                })
                .with_detail("every connection this server allows MailFerry is in use")),
            },
            None => Ok(None),
        };
        let endpoint = self.endpoint.clone();
        let credentials = self.credentials.clone();
        let multiappend_refused = self.multiappend_refused;
        let sync_only = self.sync_only.clone();
        let link = self.link.clone();
        async move {
            let permit = permit?;
            let mut fresh = Session::connect(&endpoint, &credentials).await?;
            fresh.multiappend_refused = multiappend_refused;
            fresh.sync_only = sync_only;
            fresh.link = link;
            fresh.permit = permit;
            Ok(fresh)
        }
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
        let command = guarded(&host, Stage::Working, f(live(&mut self.inner, &host)?));
        match until_silent(&activity, timeout, command).await {
            Some(Ok(Ok(v))) => Ok(v),
            Some(Ok(Err(e))) => Err(self.working_error(e)),
            Some(Err(unreadable)) => Err(unreadable),
            None => Err(self.silent()),
        }
    }

    /// Compresses the connection from now on (COMPRESS=DEFLATE, RFC 4978)
    /// when the link to this server was measured slow ([`link`]), the
    /// server offers it and the endpoint allows it. Asked between
    /// commands, before a transfer of messages. A server that refuses
    /// (which takes the connection with it: a lost connection the caller
    /// recovers from as from any other) is not asked again.
    pub(crate) async fn compress_if_link_bound(&mut self) -> Result<(), Error> {
        if !self.may_compress() || !self.link.worth_compressing() {
            return Ok(());
        }
        let host = self.endpoint.host.clone();
        let measured = self.link.measured();
        let Some(inner) = self.inner.take() else {
            return Err(compress_took(&host));
        };
        let activity = self.activity();
        let asked = guarded(&host, Stage::Working, inner.compress(Transport::deflate));
        match until_silent(&activity, self.endpoint.timeout, asked).await {
            Some(Ok(Ok(compressed))) => {
                tracing::info!(
                    host,
                    rate_bytes_per_sec = measured.rate().unwrap_or_default() as u64,
                    "the link is slow: connection compressed"
                );
                self.inner = Some(compressed);
                Ok(())
            }
            outcome => {
                let why = match outcome {
                    Some(Ok(Err(e))) => e.to_string(),
                    Some(Err(e)) => e.to_string(),
                    _ => "no answer".to_owned(),
                };
                tracing::warn!(host, "the server did not compress the connection: {why}");
                self.link.compress_refused();
                Err(compress_took(&host).with_detail(format!(
                    "the server refused to compress the connection: {why}"
                )))
            }
        }
    }

    /// Is the link to this server still being measured, with compression
    /// to follow if it is slow (the server offers it, the endpoint allows
    /// it, nothing decided yet)? A folder's first batch is then kept to
    /// [`link::MEASURING_BATCH_BYTES`].
    pub(crate) fn measuring_link(&self) -> bool {
        self.may_compress() && self.link.undecided()
    }

    /// May this connection be compressed once its link is measured slow:
    /// the endpoint allows it, the server offers it, and it is not
    /// compressed already (nor taken by a refused COMPRESS)?
    fn may_compress(&self) -> bool {
        self.endpoint.compress_when_slow
            && self.capabilities.has("COMPRESS=DEFLATE")
            && self
                .inner
                .as_ref()
                .is_some_and(|s| !s.get_ref().is_compressed())
    }

    /// Counts a transfer of message bytes towards the link's measure.
    pub(crate) fn measure_link(&self, bytes: u64, took: std::time::Duration) {
        self.link.record(bytes, took);
    }

    /// When bytes last moved on this session's connection.
    fn activity(&mut self) -> transport::Activity {
        self.activity.clone()
    }

    /// The connection said nothing for the endpoint's timeout.
    fn silent(&self) -> Error {
        Error::new(Problem::Timeout {
            host: self.endpoint.host.clone(),
            stage: Stage::Working,
            waited_secs: self.endpoint.timeout.as_secs().max(1),
        })
    }

    /// Just after sign-in: the capabilities again (they change with it)
    /// and CONDSTORE turned on where offered (EXAMINE and STATUS then report
    /// HIGHESTMODSEQ: an unchanged folder is recognised without reading it).
    /// When the server named ENABLE before sign-in, both commands go in one
    /// flight: a server ignores an extension it does not offer in ENABLE
    /// (RFC 5161). Otherwise one after the other. A refused ENABLE only
    /// costs its answer.
    pub(crate) async fn capabilities_and_condstore(
        &mut self,
        enable_offered: bool,
    ) -> Result<(), Error> {
        if !enable_offered {
            self.refresh_capabilities().await?;
            if self.capabilities.has("ENABLE") && self.capabilities.has("CONDSTORE") {
                if let Err(text) = self.run_ok("ENABLE CONDSTORE").await? {
                    tracing::debug!("ENABLE CONDSTORE refused: {text}");
                }
            }
            return Ok(());
        }
        let cap_tag = self.next_raw_tag();
        let enable_tag = self.next_raw_tag();
        let lines = format!("{cap_tag} CAPABILITY\r\n{enable_tag} ENABLE CONDSTORE\r\n");
        let host = self.endpoint.host.clone();
        let timeout = self.endpoint.timeout;
        let activity = self.activity();
        let exchange = async {
            use async_imap::imap_proto::{Capability, Response, Status};
            self.write_raw(lines.as_bytes()).await?;
            let mut atoms: Option<Vec<String>> = None;
            let mut open = 2;
            while open > 0 {
                let response = match live(&mut self.inner, &host)?.read_response().await {
                    Ok(Some(r)) => r,
                    Ok(None) => {
                        return Err(Error::new(Problem::ConnectionLost {
                            host: host.clone(),
                            stage: Stage::Working,
                        }))
                    }
                    Err(e) => return Err(lost_working(&host, &e)),
                };
                // `* ENABLED …` reads as capabilities too: only the
                // CAPABILITY reply itself counts.
                let raw: &[u8] = response.borrow_owner();
                let is_capability =
                    raw.len() > 13 && raw[..13].eq_ignore_ascii_case(b"* CAPABILITY ");
                match response.parsed() {
                    Response::Capabilities(caps) if is_capability => {
                        atoms = Some(
                            caps.iter()
                                .map(|c| match c {
                                    Capability::Imap4rev1 => "IMAP4rev1".to_owned(),
                                    Capability::Auth(m) => format!("AUTH={m}"),
                                    Capability::Atom(a) => a.to_string(),
                                })
                                .collect(),
                        );
                    }
                    Response::Done {
                        tag,
                        status,
                        outcome,
                    } if tag.0 == cap_tag || tag.0 == enable_tag => {
                        open -= 1;
                        if *status == Status::Ok {
                            continue;
                        }
                        let text = outcome.information.as_deref().unwrap_or("").to_owned();
                        if tag.0 == cap_tag {
                            return Err(Error::new(Problem::Protocol { host: host.clone() })
                                .with_detail(format!("the server refused CAPABILITY: {text}")));
                        }
                        tracing::debug!("ENABLE CONDSTORE refused: {text}");
                    }
                    _ => {}
                }
            }
            atoms.ok_or_else(|| {
                Error::new(Problem::Protocol { host: host.clone() })
                    .with_detail("the server answered CAPABILITY without its capabilities")
            })
        };
        let mut atoms = match until_silent(&activity, timeout, exchange).await {
            Some(result) => result?,
            None => return Err(self.silent()),
        };
        atoms.sort();
        self.capabilities = Capabilities::parse(&atoms.join(" "));
        Ok(())
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
        let mut all = self.list_flight(&[(kind, command.to_owned())]).await?;
        Ok(all.pop().unwrap_or_default())
    }

    /// Several LIST or LSUB commands (`(kind, command)`) written together,
    /// so their answers cost one round trip; each command's folders in
    /// order. A server answers such commands one after the other (their
    /// untagged replies could not be told apart otherwise), so each reply
    /// belongs to the first command not yet finished.
    async fn list_flight(
        &mut self,
        commands: &[(&str, String)],
    ) -> Result<Vec<Vec<Listed>>, Error> {
        let mut lines = String::new();
        let mut tags = Vec::with_capacity(commands.len());
        for (_, command) in commands {
            let tag = self.next_raw_tag();
            lines.push_str(&format!("{tag} {command}\r\n"));
            tags.push(tag);
        }
        let timeout = self.endpoint.timeout;
        let host = self.endpoint.host.clone();
        let fut = async {
            self.write_raw(lines.as_bytes()).await?;
            let mut all: Vec<Vec<Listed>> = Vec::with_capacity(commands.len());
            let mut out = Vec::new();
            let mut first_refusal: Option<Error> = None;
            loop {
                let Some((kind, _)) = commands.get(all.len()) else {
                    return match first_refusal {
                        Some(e) => Err(e),
                        None => Ok(all),
                    };
                };
                let kind = *kind;
                let tag = &tags[all.len()];
                let response = match live(&mut self.inner, &host)?.read_response().await {
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
                    if t.0 != tag.as_str() {
                        continue;
                    }
                    if *status != async_imap::imap_proto::Status::Ok && first_refusal.is_none() {
                        first_refusal = Some(self.refused(
                            format!("list the folders ({kind})"),
                            outcome.information.as_deref().unwrap_or(""),
                        ));
                    }
                    all.push(std::mem::take(&mut out));
                    continue;
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
        let op = FolderCommand::Create {
            wire_name,
            special_use,
        };
        let command = self.folder_command(&op)?;
        let said = self.run_ok(&command).await?;
        self.folder_outcome(&op, said)
    }

    /// SUBSCRIBE to a folder, so mail apps show it.
    pub async fn subscribe(&mut self, wire_name: &str) -> Result<(), Error> {
        let op = FolderCommand::Subscribe { wire_name };
        let command = self.folder_command(&op)?;
        let said = self.run_ok(&command).await?;
        self.folder_outcome(&op, said)
    }

    /// Several CREATEs and SUBSCRIBEs in one round trip: all written at
    /// once, the server doing them in order, each its own command (a
    /// refusal of one does not stop the others, so only operations that do
    /// not depend on each other belong in one flight). One result per
    /// operation, as [`Session::create`] and [`Session::subscribe`] give
    /// them; a name that cannot be sent is refused without being sent. The
    /// outer error: the connection was lost or fell silent, and what the
    /// server did of the flight is not known.
    pub async fn folder_flight(
        &mut self,
        ops: &[FolderCommand<'_>],
    ) -> Result<Vec<Result<(), Error>>, Error> {
        let built: Vec<Result<String, Error>> =
            ops.iter().map(|op| self.folder_command(op)).collect();
        let commands: Vec<String> = built
            .iter()
            .filter_map(|c| c.as_ref().ok())
            .cloned()
            .collect();
        let mut said = self.flight_ok(&commands).await?.into_iter();
        Ok(ops
            .iter()
            .zip(built)
            .map(|(op, command)| {
                command?;
                let outcome = said.next().unwrap_or(Ok(()));
                self.folder_outcome(op, outcome)
            })
            .collect())
    }

    fn folder_command(&self, op: &FolderCommand<'_>) -> Result<String, Error> {
        Ok(match *op {
            FolderCommand::Create {
                wire_name,
                special_use,
            } => {
                let name = self.quoted(wire_name, "the folder name")?;
                match special_use {
                    Some(attr) if self.capabilities.has("CREATE-SPECIAL-USE") => {
                        format!("CREATE {name} (USE ({attr}))")
                    }
                    _ => format!("CREATE {name}"),
                }
            }
            FolderCommand::Subscribe { wire_name } => {
                format!("SUBSCRIBE {}", self.quoted(wire_name, "the folder name")?)
            }
        })
    }

    /// A folder operation's reply as its result: CREATE of a folder that
    /// already exists is done.
    fn folder_outcome(
        &self,
        op: &FolderCommand<'_>,
        said: Result<(), String>,
    ) -> Result<(), Error> {
        let Err(text) = said else {
            return Ok(());
        };
        match *op {
            FolderCommand::Create { wire_name, .. } => {
                if text.to_ascii_uppercase().contains("ALREADYEXISTS")
                    || text.contains("already exists")
                {
                    Ok(())
                } else {
                    Err(self.refused(format!("create the folder \"{wire_name}\""), &text))
                }
            }
            FolderCommand::Subscribe { wire_name } => Err(self.refused(
                format!("show the folder \"{wire_name}\" in mail apps (subscribe)"),
                &text,
            )),
        }
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
            live(&mut self.inner, &self.endpoint.host)?.run_command_and_check_ok(&command),
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
                prefix_of(d, &top, !inbox_children.is_empty())
            }
            None => String::new(),
        };
        Ok((delimiter, prefix))
    }

    /// The hierarchy ([`Session::hierarchy`]), every folder (`LIST "" "*"`)
    /// and every subscription (`LSUB "" "*"`), all asked in one flight:
    /// whether INBOX has folders inside it is read from the full listing
    /// instead of a `LIST "" "INBOX.%"` that would need the delimiter first.
    pub async fn hierarchy_and_folders(&mut self) -> Result<Listing, Error> {
        let commands = [
            ("LIST", "LIST \"\" \"\"".to_owned()),
            ("LIST", "LIST \"\" \"%\"".to_owned()),
            ("LIST", "LIST \"\" \"*\"".to_owned()),
            ("LSUB", "LSUB \"\" \"*\"".to_owned()),
        ];
        let mut all = self.list_flight(&commands).await?.into_iter();
        let (root, top, listed, subscribed) = (
            all.next().unwrap_or_default(),
            all.next().unwrap_or_default(),
            all.next().unwrap_or_default(),
            all.next().unwrap_or_default(),
        );
        let delimiter = root.first().and_then(|l| l.delimiter.clone());
        let prefix = match &delimiter {
            Some(d) => {
                let inside = format!("INBOX{d}");
                let inbox_children = listed.iter().any(|l| {
                    l.name.len() > inside.len()
                        && l.name.is_char_boundary(inside.len())
                        && l.name[..inside.len()].eq_ignore_ascii_case(&inside)
                });
                prefix_of(d, &top, inbox_children)
            }
            None => String::new(),
        };
        Ok(Listing {
            delimiter,
            prefix,
            listed,
            subscribed,
        })
    }

    /// Signs out politely. Errors are ignored: the session is over either way.
    pub async fn logout(mut self) {
        if let Some(inner) = self.inner.as_mut() {
            let _ = tokio::time::timeout(self.endpoint.timeout, inner.logout()).await;
        }
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
