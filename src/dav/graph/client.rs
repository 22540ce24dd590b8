//! The Graph side: one mailbox (`/users/{id}`) at one Graph address, signed
//! in with the organisation's app (client credentials, renewed as needed)
//! or an access token; every request blocking (ureq, the system's
//! certificate authorities, as the sign-in code).
//!
//! **Politeness**: Microsoft's published Outlook limits are a preset
//! ([`MAX_CONCURRENT`], [`REQUESTS_PER_WINDOW`] per [`WINDOW`] and
//! mailbox): the copy sends one request at a time, counts its requests
//! and waits before the window's limit; a `429`/`503` is waited out as
//! long as `Retry-After` says, with a message saying so.

use super::super::DavError;
use crate::auth::grant::TokenSource;
use crate::secret::Secret;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Microsoft Graph's address.
pub const GRAPH_API: &str = crate::inventory::GRAPH_API;

/// Graph's limit of requests in flight per mailbox (Outlook service limits).
pub const MAX_CONCURRENT: usize = 4;

/// Graph's limit of requests per mailbox and [`WINDOW`].
pub const REQUESTS_PER_WINDOW: usize = 10_000;

/// The window of [`REQUESTS_PER_WINDOW`]: ten minutes.
pub const WINDOW: Duration = Duration::from_secs(600);

/// Attempts of a request answered "busy" or cut.
const ATTEMPTS: u32 = 5;

/// The longest `Retry-After` waited out; longer, the object is tried on the next run.
const MAX_WAIT: u64 = 300;

/// How requests sign in.
pub enum GraphAuth {
    /// An access token given as it is.
    Token(Secret<String>),
    /// The organisation's app (app-only), tokens fetched and renewed.
    App(TokenSource),
    /// The mailbox's owner, signed in through the browser (delegated, the
    /// [`GRAPH_SCOPES`](crate::auth::oauth::GRAPH_SCOPES)): tokens renewed
    /// with the refresh token of that sign-in.
    Delegated(TokenSource),
}

impl GraphAuth {
    /// How a browser sign-in (`auth::signin` with
    /// [`Issuer::for_graph`](crate::auth::oauth::Issuer::for_graph)) signs
    /// in to Graph; `None` for a password, which Graph never takes.
    pub fn signed_in(proof: crate::auth::credentials::Proof) -> Option<GraphAuth> {
        use crate::auth::credentials::Proof;
        match proof {
            Proof::Renewable(source) => Some(GraphAuth::Delegated(source)),
            Proof::AccessToken(token) => Some(GraphAuth::Token(token)),
            Proof::Password(_) => None,
        }
    }

    /// The source of renewable tokens, when there is one.
    fn source(&self) -> Option<&TokenSource> {
        match self {
            GraphAuth::App(source) | GraphAuth::Delegated(source) => Some(source),
            GraphAuth::Token(_) => None,
        }
    }
}

impl std::fmt::Debug for GraphAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GraphAuth::Token(_) => write!(f, "Token(<token>)"),
            GraphAuth::App(t) => write!(f, "App({})", t.issuer()),
            GraphAuth::Delegated(t) => write!(f, "Delegated({})", t.issuer()),
        }
    }
}

/// One mailbox at Microsoft Graph.
pub struct Graph {
    api: String,
    user: String,
    auth: GraphAuth,
    agent: ureq::Agent,
    sent: Mutex<VecDeque<Instant>>,
    /// Events are created with their attendees (Outlook then sends each an
    /// invitation); else without them.
    attendees: bool,
    /// The mailbox's base address, found on the first request ([`Graph::base`]).
    base: std::sync::OnceLock<String>,
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graph")
            .field("api", &self.api)
            .field("user", &self.user)
            .field("auth", &self.auth)
            .field("attendees", &self.attendees)
            .finish()
    }
}

/// A Graph answer: status, body, and the `Retry-After` when busy.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// Graph's error message, else the body's start.
    fn message(&self) -> String {
        let v = self.json();
        match v["error"]["message"].as_str() {
            Some(m) => m.to_owned(),
            None => String::from_utf8_lossy(&self.body)
                .chars()
                .take(200)
                .collect(),
        }
    }
}

impl Graph {
    /// The mailbox `user` (its address or id) at `api` ([`GRAPH_API`], or a
    /// test server's address).
    pub fn new(api: &str, user: &str, auth: GraphAuth) -> Result<Graph, DavError> {
        let api = api.trim_end_matches('/').to_owned();
        if !api.starts_with("https://") && !api.starts_with("http://127.0.0.1") {
            return Err(DavError::BadAddress { url: api });
        }
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::PlatformVerifier)
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .timeout_global(Some(Duration::from_secs(120)))
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        Ok(Graph {
            api,
            user: user.to_owned(),
            auth,
            agent,
            sent: Mutex::new(VecDeque::new()),
            attendees: true,
            base: std::sync::OnceLock::new(),
        })
    }

    /// Creates events without their attendees: Outlook sends an invitation
    /// to every attendee of an event created with them, so an owner who
    /// does not want their contacts to get one for each old meeting copies
    /// the events without (the organiser keeps them in their calendar).
    pub fn without_attendees(mut self) -> Graph {
        self.attendees = false;
        self
    }

    /// Whether events are created with their attendees.
    pub fn keeps_attendees(&self) -> bool {
        self.attendees
    }

    /// The mailbox (its address or id).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Graph's address.
    pub fn api(&self) -> &str {
        &self.api
    }

    /// `user@graph`, the name of this side in the progress file's job name.
    pub fn name(&self) -> String {
        format!("{}@{}", self.user, self.api)
    }

    /// The mailbox's base address: `{api}/v1.0/me` when the owner signed
    /// in (delegated) and the mailbox is theirs by any of their addresses,
    /// else `{api}/v1.0/users/{user}`. Graph finds a user by their primary
    /// address or user name only: an alias the owner typed would be "not a
    /// valid user" there.
    fn base(&self) -> String {
        self.base
            .get_or_init(|| {
                let users = format!(
                    "{}/v1.0/users/{}",
                    self.api,
                    crate::auth::oauth::percent_encode(&self.user)
                );
                if matches!(self.auth, GraphAuth::App(_)) {
                    return match self.user_id_by_any_address() {
                        Some(id) => format!(
                            "{}/v1.0/users/{}",
                            self.api,
                            crate::auth::oauth::percent_encode(&id)
                        ),
                        None => users,
                    };
                }
                match self.signed_in_addresses() {
                    Some(own) if own.iter().any(|a| a.eq_ignore_ascii_case(self.user.trim())) => {
                        format!("{}/v1.0/me", self.api)
                    }
                    _ => users,
                }
            })
            .clone()
    }

    /// With the app's sign-in, the id of the user the mailbox's address
    /// names when Graph doesn't know it as a primary address or user name:
    /// an alias, looked up among every user's `proxyAddresses` (the app's
    /// User.Read.All, as for listing the organisation's mailboxes). `None`
    /// when the address is found as it is, when no single user or more
    /// than one has it, or when the app may not read users: the mailbox is
    /// then addressed by the name given, as before.
    fn user_id_by_any_address(&self) -> Option<String> {
        let token = self.token().ok()?;
        let user = crate::auth::oauth::percent_encode(self.user.trim());
        let get = |url: &str| {
            self.pace();
            self.send_once("GET", url, None, &[], &token, &[])
                .ok()
                .map(|(reply, _)| reply)
        };
        let direct = get(&format!("{}/v1.0/users/{user}?$select=id", self.api))?;
        if direct.status != 404 {
            return None;
        }
        let filter = format!(
            "proxyAddresses/any(x:x eq 'smtp:{}')",
            self.user.trim().replace('\'', "''")
        );
        let found = get(&format!(
            "{}/v1.0/users?$filter={}&$select=id,mail",
            self.api,
            crate::auth::oauth::percent_encode(&filter)
        ))?;
        if !found.ok() {
            tracing::debug!(status = found.status, "Graph did not look the alias up");
            return None;
        }
        match found.json()["value"].as_array().map(Vec::as_slice) {
            Some([one]) => {
                let id = one["id"].as_str()?.to_owned();
                tracing::info!(
                    user = %self.user,
                    mail = one["mail"].as_str().unwrap_or_default(),
                    "an alias: the mailbox is its owner's"
                );
                Some(id)
            }
            _ => None,
        }
    }

    /// With a delegated sign-in, the addresses of the user who signed in:
    /// their primary address, user name and every alias (`proxyAddresses`);
    /// `None` for the app's sign-in, or when Graph doesn't say (a sign-in
    /// consented before `User.Read` was asked for): the mailbox is then
    /// addressed by the name given, as before.
    fn signed_in_addresses(&self) -> Option<Vec<String>> {
        if !matches!(self.auth, GraphAuth::Delegated(_)) {
            return None;
        }
        let token = self.token().ok()?;
        let url = format!(
            "{}/v1.0/me?$select=mail,userPrincipalName,proxyAddresses",
            self.api
        );
        self.pace();
        let (reply, _) = self.send_once("GET", &url, None, &[], &token, &[]).ok()?;
        if !reply.ok() {
            tracing::debug!(status = reply.status, "Graph did not say who signed in");
            return None;
        }
        let me = reply.json();
        let mut own: Vec<String> = ["mail", "userPrincipalName"]
            .iter()
            .filter_map(|k| me[k].as_str().map(str::to_owned))
            .collect();
        for a in me["proxyAddresses"].as_array().into_iter().flatten() {
            // "SMTP:primary@…", "smtp:alias@…" (other kinds: "SIP:", "X500:").
            if let Some((kind, address)) = a.as_str().and_then(|a| a.split_once(':')) {
                if kind.eq_ignore_ascii_case("smtp") {
                    own.push(address.to_owned());
                }
            }
        }
        Some(own)
    }

    fn unreachable(&self, detail: String) -> DavError {
        DavError::Unreachable {
            server: self.api.clone(),
            detail,
        }
    }

    fn token(&self) -> Result<Secret<String>, DavError> {
        match &self.auth {
            GraphAuth::Token(t) => Ok(t.clone()),
            GraphAuth::App(source) | GraphAuth::Delegated(source) => {
                source.token_blocking().map_err(|e| DavError::Refused {
                    action: "sign in to Microsoft 365".into(),
                    status: 401,
                    detail: e.to_string(),
                })
            }
        }
    }

    /// Waits when the window's request budget is spent.
    fn pace(&self) {
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        while sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            sent.pop_front();
        }
        if sent.len() >= REQUESTS_PER_WINDOW {
            if let Some(oldest) = sent.front() {
                let wait = WINDOW.saturating_sub(now.duration_since(*oldest));
                tracing::warn!(
                    "Waiting {} before going on: Microsoft 365 allows {REQUESTS_PER_WINDOW} requests per 10 minutes for a mailbox",
                    crate::error::human_duration(wait.as_secs())
                );
                std::thread::sleep(wait);
            }
            sent.pop_front();
        }
        sent.push_back(Instant::now());
    }

    /// One request to `target` (a path under the mailbox, or a whole
    /// address under the Graph address, as `@odata.nextLink` gives); busy
    /// answers are tried again, and cut connections too except for a POST
    /// (a creation Graph may have carried out); a refused token is renewed once.
    pub(crate) fn send(
        &self,
        method: &str,
        target: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Reply, DavError> {
        self.send_with(method, target, content_type, body, &[])
    }

    /// [`Graph::send`] with more headers (`Prefer`).
    pub(crate) fn send_with(
        &self,
        method: &str,
        target: &str,
        content_type: Option<&str>,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> Result<Reply, DavError> {
        let url = if target.starts_with("https://") || target.starts_with("http://") {
            if !target.starts_with(&self.api) {
                return Err(self.unreachable(format!(
                    "Microsoft 365 pointed to another address ({target}): not followed"
                )));
            }
            target.to_owned()
        } else {
            format!("{}{target}", self.base())
        };
        let mut token = self.token()?;
        let mut renewed = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.pace();
            let reply = self.send_once(method, &url, content_type, body, &token, headers);
            match reply {
                Ok((r, _)) if r.status == 401 && !renewed => {
                    renewed = true;
                    match self.auth.source() {
                        Some(source) => {
                            token =
                                source
                                    .renew_blocking(&token)
                                    .map_err(|e| DavError::Refused {
                                        action: "sign in to Microsoft 365".into(),
                                        status: 401,
                                        detail: e.to_string(),
                                    })?;
                        }
                        None => {
                            return Err(DavError::SignInRefused {
                                server: self.api.clone(),
                                password: false,
                            })
                        }
                    }
                }
                Ok((r, _)) if r.status == 401 => {
                    return Err(DavError::SignInRefused {
                        server: self.api.clone(),
                        password: false,
                    })
                }
                Ok((r, retry_after))
                    if matches!(r.status, 429 | 503 | 504) && attempt < ATTEMPTS =>
                {
                    let wait = retry_after.unwrap_or(1 << attempt);
                    if wait > MAX_WAIT {
                        return Ok(r);
                    }
                    tracing::warn!(
                        "Waiting {} before going on: Microsoft 365 is busy (HTTP {}) and asked MailFerry to wait",
                        crate::error::human_duration(wait),
                        r.status
                    );
                    std::thread::sleep(Duration::from_secs(wait));
                }
                Ok((r, _)) => return Ok(r),
                // A creation whose answer was lost may have been carried
                // out: it is looked up by the caller, never sent twice.
                Err(e) if attempt < ATTEMPTS && method != "POST" => {
                    tracing::info!("the connection to Microsoft 365 broke ({e}); trying again");
                    std::thread::sleep(Duration::from_millis(250 << attempt));
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn send_once(
        &self,
        method: &str,
        url: &str,
        content_type: Option<&str>,
        body: &[u8],
        token: &Secret<String>,
        headers: &[(&str, &str)],
    ) -> Result<(Reply, Option<u64>), DavError> {
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(url)
            .header("Authorization", format!("Bearer {}", token.expose()))
            .header("Accept", "application/json");
        if let Some(ct) = content_type {
            request = request.header("Content-Type", ct);
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let request = request
            .body(body.to_vec())
            .map_err(|e| self.unreachable(e.to_string()))?;
        let mut response = self
            .agent
            .run(request)
            .map_err(|e| self.unreachable(e.to_string()))?;
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_vec()
            .map_err(|e| self.unreachable(e.to_string()))?;
        Ok((Reply { status, body }, retry_after))
    }

    fn refused(&self, action: &str, r: &Reply) -> DavError {
        DavError::Refused {
            action: action.to_owned(),
            status: r.status,
            detail: r.message(),
        }
    }

    /// GETs a JSON document; None when it is not there (404).
    pub(crate) fn get(&self, target: &str) -> Result<Option<Value>, DavError> {
        self.get_with(target, &[])
    }

    /// [`Graph::get`] with more headers.
    pub(crate) fn get_with(
        &self,
        target: &str,
        headers: &[(&str, &str)],
    ) -> Result<Option<Value>, DavError> {
        let r = self.send_with("GET", target, None, b"", headers)?;
        match r.status {
            200 => Ok(Some(r.json())),
            404 => Ok(None),
            _ => Err(self.refused(&format!("read {target}"), &r)),
        }
    }

    /// Every item of a collection, page by page (`@odata.nextLink`).
    pub(crate) fn list(&self, target: &str) -> Result<Vec<Value>, DavError> {
        self.list_with(target, &[])
    }

    /// [`Graph::list`] with more headers.
    pub(crate) fn list_with(
        &self,
        target: &str,
        headers: &[(&str, &str)],
    ) -> Result<Vec<Value>, DavError> {
        let mut out = Vec::new();
        let mut next = Some(target.to_owned());
        while let Some(t) = next.take() {
            let page = self
                .get_with(&t, headers)?
                .ok_or_else(|| DavError::Refused {
                    action: format!("list {target}"),
                    status: 404,
                    detail: "not found".into(),
                })?;
            if let Some(items) = page["value"].as_array() {
                out.extend(items.iter().cloned());
            }
            next = page["@odata.nextLink"].as_str().map(str::to_owned);
        }
        Ok(out)
    }

    /// Sends a JSON document (POST, PATCH); the answer's document.
    pub(crate) fn send_json(
        &self,
        method: &str,
        target: &str,
        doc: &Value,
        action: &str,
    ) -> Result<Value, DavError> {
        let r = self.send(
            method,
            target,
            Some("application/json"),
            doc.to_string().as_bytes(),
        )?;
        if r.ok() {
            Ok(r.json())
        } else {
            Err(self.refused(action, &r))
        }
    }

    /// Sends bytes (a photo) with PUT.
    pub(crate) fn put_bytes(
        &self,
        target: &str,
        content_type: &str,
        bytes: &[u8],
        action: &str,
    ) -> Result<(), DavError> {
        let r = self.send("PUT", target, Some(content_type), bytes)?;
        if r.ok() {
            Ok(())
        } else {
            Err(self.refused(action, &r))
        }
    }

    /// Reads bytes (a photo); None when there are none (404).
    pub(crate) fn get_bytes(&self, target: &str) -> Result<Option<Vec<u8>>, DavError> {
        let r = self.send("GET", target, None, b"")?;
        match r.status {
            200 => Ok(Some(r.body)),
            404 => Ok(None),
            _ => Err(self.refused(&format!("read {target}"), &r)),
        }
    }

    /// Deletes; a thing already gone counts as deleted.
    pub(crate) fn delete(&self, target: &str, action: &str) -> Result<(), DavError> {
        let r = self.send("DELETE", target, None, b"")?;
        if r.ok() || r.status == 404 {
            Ok(())
        } else {
            Err(self.refused(action, &r))
        }
    }
}
