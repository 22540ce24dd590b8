//! Reading and writing messages: EXAMINE, UID FETCH of headers and bodies,
//! and APPEND in as few round trips as the server allows.
//!
//! APPEND is written by hand (async-imap's returns no APPENDUID and knows
//! no MULTIAPPEND): one MULTIAPPEND command per batch where offered, else
//! one APPEND at a time.
//!
//! # Literals: when a message may go without waiting for the server's `+`
//!
//! A synchronising literal (`{n}`) waits for the server's `+` before the
//! message's bytes leave: a round trip per message, which over a long link
//! is most of a copy's time. A non-synchronising one (`{n+}`, LITERAL+,
//! RFC 7888) sends them at once. The danger: a server that refuses the
//! command line before the literal (a flag it dislikes, a size, a long
//! line; Microsoft answers BAD to those) may go back to reading commands
//! where the message starts. Dovecot 2.3 does, after a BAD, and then runs
//! any line of the message that reads as a command (`zz CREATE …`, `zz
//! DELETE …`). RFC 3502 also lets a server end a MULTIAPPEND with a tagged
//! reply in place of any message's `+`.
//!
//! So a message goes as a non-synchronising literal only when all of these
//! hold, and as a synchronising one otherwise:
//! - the server offers LITERAL+ (or LITERAL-, and the message is at most
//!   4096 bytes);
//! - the message is inert ([`is_inert`]): read as commands, none of its
//!   lines could do anything that outlasts the connection. No line (split
//!   at LF and CR) is a tag followed by a command that changes folders,
//!   messages, flags or rights (`zz create …`, `a1 UID …`, `x DELETE …`;
//!   the whole second word, any case; any private `X…` command too), or
//!   `DONE` alone; no line holds what could start a literal (`{5}`,
//!   `{5+}`, `{5-}`); no NUL byte; not empty. Such a message read as
//!   commands draws BADs or answers to questions nobody asked (`a status
//!   update…` is a STATUS command), and whatever they did to the session
//!   (a folder opened, an extension enabled) dies with it: the connection
//!   is closed on the refusal (below);
//! - the command line is one the server has no reason to refuse
//!   ([`strict_announcement`]): flags are the five system flags APPEND may
//!   set and keywords are atoms of at most 50 characters (Dovecot's
//!   default `mail_max_keyword_length`), the date is a valid date-time
//!   after 1970, the line is short, and the message fits APPENDLIMIT when
//!   the server gives one;
//! - no earlier refusal of this very message came after it had been sent
//!   without waiting (below).
//!
//! A tagged NO or BAD to a command that carried a non-synchronising
//! literal makes its connection untrustworthy: what the server read after
//! the refusal is unknown. The connection is closed at once, the
//! command's messages are remembered (by a hash of their bytes, for every
//! connection to that server) as ones to send synchronising from then on,
//! and the batch fails as a lost connection does: its intents stay in
//! doubt, the folder is retried on fresh connections, and the retry finds
//! at the destination what arrived (nothing, for a refused command) before
//! sending the rest. A message refused for itself is then refused before
//! its `+`, and recorded with the server's words, as before.

use super::{server_text, wire, Session};
use crate::error::{Error, Problem, Stage};
use async_imap::imap_proto::{self, Response, Status};
use futures::TryStreamExt;
use tokio::io::AsyncWriteExt;

/// What EXAMINE (or SELECT) says about a folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderStatus {
    /// UIDVALIDITY: UIDs are only meaningful together with it.
    pub uid_validity: u32,
    /// The UID the next message will get.
    pub uid_next: Option<u32>,
    /// Number of messages.
    pub exists: u32,
    /// HIGHESTMODSEQ, when the server has CONDSTORE.
    pub highest_modseq: Option<u64>,
    /// Flags the server stores permanently; `\*` means any keyword.
    pub permanent_flags: Vec<String>,
}

impl FolderStatus {
    /// Can a message in this folder carry this flag or keyword?
    pub fn keeps_flag(&self, flag: &str) -> bool {
        self.permanent_flags
            .iter()
            .any(|f| f.eq_ignore_ascii_case(flag))
            || (!flag.starts_with('\\') && self.permanent_flags.iter().any(|f| f == "\\*"))
    }
}

/// A message's metadata and identifying headers, without the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageMeta {
    /// UID in its folder.
    pub uid: u32,
    /// RFC822.SIZE as the server reports it.
    pub size: u32,
    /// Flags and keywords (never `\Recent`).
    pub flags: Vec<String>,
    /// INTERNALDATE in IMAP syntax (`01-Mar-2024 09:00:00 +0000`).
    pub internal_date: Option<String>,
    /// The header fields asked for (Message-ID, Date, From, Subject, To).
    pub headers: Vec<u8>,
}

/// A whole message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedMessage {
    /// UID in its folder.
    pub uid: u32,
    /// Flags and keywords (never `\Recent`).
    pub flags: Vec<String>,
    /// INTERNALDATE in IMAP syntax.
    pub internal_date: Option<String>,
    /// The raw message, byte for byte as the server sends it.
    pub body: Vec<u8>,
}

/// One message to APPEND.
#[derive(Clone, Debug)]
pub struct AppendItem<'a> {
    /// Flags and keywords to set (the caller filters what the folder keeps).
    pub flags: &'a [String],
    /// INTERNALDATE to keep, in IMAP syntax.
    pub internal_date: Option<&'a str>,
    /// The raw message.
    pub body: &'a [u8],
}

/// Why the destination refused a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalKind {
    /// Larger than the server accepts (`[TOOBIG]`, RFC 4469/7889).
    TooBig,
    /// The mailbox is full (`[OVERQUOTA]`, RFC 5530).
    OverQuota,
    /// The server asks us to slow down (`[THROTTLED]`, `[UNAVAILABLE]`,
    /// Microsoft's "Request is throttled"): not the message's fault.
    Throttled,
    /// Anything else (bad header, NUL, policy).
    Other,
}

/// The result of appending one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Appended {
    /// Stored; the UID when the server has UIDPLUS.
    Stored {
        /// The new message's UID.
        uid: Option<u32>,
        /// The folder's UIDVALIDITY that UID belongs to.
        uid_validity: Option<u32>,
    },
    /// Refused, with the server's words.
    Refused {
        /// What kind of refusal.
        kind: RefusalKind,
        /// The server's words.
        text: String,
    },
}

/// The largest message MailFerry can read: async-imap holds a whole reply
/// in one buffer of at most 512 MiB (its `Buffer::MAX_CAPACITY`), and the
/// reply carries a little more than the message.
pub const MAX_READABLE_MESSAGE: u64 = 512 * 1024 * 1024 - 64 * 1024;

/// The header fields fetched to identify a message.
pub const IDENTITY_FIELDS: &str = "MESSAGE-ID DATE FROM SUBJECT TO";

/// A flag as FETCH gave it, system flags in their usual spelling
/// (`\\SEEN` is `\\Seen`); `\\Recent` (session-only) is none, and so is
/// any other `\\Something`: no server can take it back (APPEND and STORE
/// answer BAD), and a garbled reply must not leave one on record to be
/// "brought over" on every later run.
fn flag_of(raw: &str) -> Option<String> {
    const SYSTEM: [&str; 5] = ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"];
    if !raw.starts_with('\\') {
        return Some(raw.to_owned());
    }
    SYSTEM
        .iter()
        .find(|f| f.eq_ignore_ascii_case(raw))
        .map(|f| (*f).to_owned())
}

/// The parts of one FETCH reply the copy reads.
struct FetchReply {
    uid: Option<u32>,
    size: Option<u32>,
    flags: Vec<String>,
    internal_date: Option<String>,
    /// `BODY[HEADER…]`.
    header: Option<Vec<u8>>,
    /// `BODY[]`.
    body: Option<Vec<u8>>,
}

impl FetchReply {
    fn of(attrs: &[imap_proto::AttributeValue<'_>]) -> FetchReply {
        use imap_proto::AttributeValue as A;
        let mut reply = FetchReply {
            uid: None,
            size: None,
            flags: Vec::new(),
            internal_date: None,
            header: None,
            body: None,
        };
        for attr in attrs {
            match attr {
                A::Uid(uid) => reply.uid = Some(*uid),
                A::Rfc822Size(size) => reply.size = Some(*size),
                A::Flags(flags) => reply.flags = flags.iter().filter_map(|f| flag_of(f)).collect(),
                A::InternalDate(date) => {
                    reply.internal_date =
                        chrono::DateTime::parse_from_str(date.trim(), "%d-%b-%Y %H:%M:%S %z")
                            .ok()
                            .map(|d| d.format("%d-%b-%Y %H:%M:%S %z").to_string())
                }
                A::BodySection {
                    section: None,
                    data,
                    ..
                }
                // NIL: expunged meanwhile (Dovecot says so), not empty.
                | A::Rfc822(data) => reply.body = data.as_deref().map(<[u8]>::to_vec),
                A::BodySection {
                    section: Some(_),
                    data,
                    ..
                }
                | A::Rfc822Header(data) => {
                    reply.header = Some(data.as_deref().unwrap_or_default().to_vec())
                }
                _ => {}
            }
        }
        reply
    }
}

/// What [`Session::examine_listed`] reads of a folder with opening it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FirstListing {
    /// The messages of these UIDs (IMAP syntax: `1:5000`).
    Uids(String),
    /// Every message whose flags changed, or that arrived, after this
    /// HIGHESTMODSEQ (CONDSTORE `CHANGEDSINCE`).
    ChangedSince(u64),
}

/// The FETCH items of a listing: size, flags, date and identifying
/// headers, with `modifier` (such as ` (CHANGEDSINCE 5)`) after them.
fn meta_query(modifier: &str) -> String {
    format!(
        "(UID RFC822.SIZE FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS ({IDENTITY_FIELDS})]){modifier}"
    )
}

/// One reply of a listing, with its size as given (checked later). A reply
/// without the headers asked for is not an answer to the listing (a server
/// may report another session's flag change at any time, RFC 3501 §7).
fn meta_reply(f: FetchReply) -> Option<(Option<u32>, MessageMeta)> {
    let (Some(uid), Some(headers)) = (f.uid, f.header) else {
        return None;
    };
    Some((
        f.size,
        MessageMeta {
            uid,
            size: 0,
            flags: f.flags,
            internal_date: f.internal_date,
            headers,
        },
    ))
}

/// A UID FETCH read to its very end: each reply goes to `each` as it
/// arrives, and the command's own outcome comes back (`Err` with the
/// server's words for a NO or BAD). async-imap's FETCH stream ends quietly
/// both on a NO ("Some messages could not be FETCHed") and on a connection
/// closed mid-reply, which the copy would read as "these messages are
/// gone"; here the first is a refusal and the second a lost connection.
async fn uid_fetch_all(
    s: &mut async_imap::Session<super::transport::Transport>,
    set: &str,
    query: &str,
    mut each: impl FnMut(FetchReply) + Send,
) -> Result<Result<(), String>, async_imap::error::Error> {
    let tag = s.run_command(format!("UID FETCH {set} {query}")).await?;
    loop {
        let Some(reply) = s.read_response().await? else {
            return Err(async_imap::error::Error::ConnectionLost);
        };
        match reply.parsed() {
            Response::Fetch(_, attrs) => each(FetchReply::of(attrs)),
            Response::Done {
                tag: done,
                status,
                outcome,
            } if *done == tag => {
                return Ok(said(status, outcome.information.as_deref()));
            }
            Response::Data {
                status: Status::Bye,
                ..
            } => return Err(async_imap::error::Error::ConnectionLost),
            // Unsolicited news (EXISTS, EXPUNGE, FLAGS…): the next EXAMINE
            // reads the folder afresh.
            _ => {}
        }
    }
}

/// A command's tagged outcome: OK, or the server's words.
fn said(status: &Status, information: Option<&str>) -> Result<(), String> {
    match status {
        Status::Ok => Ok(()),
        _ => Err(information.unwrap_or("no reason given").to_owned()),
    }
}

fn refusal_kind(text: &str) -> RefusalKind {
    let upper = text.to_ascii_uppercase();
    if upper.contains("[OVERQUOTA]")
        || upper.contains("QUOTA EXCEEDED")
        || upper.contains("OVER QUOTA")
    {
        RefusalKind::OverQuota
    } else if upper.contains("[THROTTLED]")
        || upper.contains("[UNAVAILABLE]")
        || upper.contains("REQUEST IS THROTTLED")
        || upper.contains("TOO MANY SIMULTANEOUS")
    {
        RefusalKind::Throttled
    } else if upper.contains("[TOOBIG]") || upper.contains("TOO BIG") || upper.contains("TOO LARGE")
    {
        RefusalKind::TooBig
    } else {
        RefusalKind::Other
    }
}

impl Session {
    /// EXAMINE: opens a folder read-only (nothing in it can change through
    /// this session) and reports its status.
    pub async fn examine(&mut self, wire_name: &str) -> Result<FolderStatus, Error> {
        // async-imap quotes the name itself.
        let name = wire_name.to_owned();
        let mailbox = self
            .with_timeout(move |s| Box::pin(async move { s.examine(&name).await }))
            .await;
        self.opened(mailbox, wire_name)
    }

    /// EXAMINE and, in the same flight, the first listing of the folder
    /// (what [`Session::fetch_meta`] or
    /// [`Session::fetch_meta_changed_since`] give): one round trip for
    /// both. The listing is kept only when EXAMINE opened the folder (a
    /// FETCH after a refused EXAMINE reads nothing of this folder, and is
    /// dropped with the refusal).
    pub async fn examine_listed(
        &mut self,
        wire_name: &str,
        listing: FirstListing,
    ) -> Result<(FolderStatus, Vec<MessageMeta>), Error> {
        let Ok(name) = self.quoted(wire_name, "the folder name") else {
            // A name that goes only as a literal: one command at a time.
            let status = self.examine(wire_name).await?;
            let metas = match listing {
                FirstListing::Uids(set) => self.fetch_meta(&set).await?,
                FirstListing::ChangedSince(modseq) => self.fetch_meta_changed_since(modseq).await?,
            };
            return Ok((status, metas));
        };
        let (set, modifier) = match listing {
            FirstListing::Uids(set) => (set, String::new()),
            FirstListing::ChangedSince(modseq) => {
                ("1:*".to_owned(), format!(" (CHANGEDSINCE {modseq})"))
            }
        };
        let query = meta_query(&modifier);
        // Both commands in one write, so that they leave together.
        let (examine, fetch) = (self.next_raw_tag(), self.next_raw_tag());
        self.write_raw(
            format!("{examine} EXAMINE {name}\r\n{fetch} UID FETCH {set} {query}\r\n").as_bytes(),
        )
        .await?;
        let (opened, replies, outcome) = self
            .with_timeout(move |s| {
                Box::pin(async move {
                    let mut mailbox = async_imap::types::Mailbox::default();
                    let mut opened: Option<Result<(), async_imap::error::Error>> = None;
                    let mut replies = Vec::new();
                    loop {
                        let Some(reply) = s.read_response().await? else {
                            return Err(async_imap::error::Error::ConnectionLost);
                        };
                        match reply.parsed() {
                            Response::Done {
                                tag,
                                status,
                                outcome,
                            } if tag.0 == examine => {
                                opened = Some(match status {
                                    Status::Ok => Ok(()),
                                    Status::No => Err(async_imap::error::Error::No(format!(
                                        "outcome: {outcome:?}"
                                    ))),
                                    _ => Err(async_imap::error::Error::Bad(format!(
                                        "outcome: {outcome:?}"
                                    ))),
                                });
                            }
                            Response::Done {
                                tag,
                                status,
                                outcome,
                            } if tag.0 == fetch => {
                                let said = said(status, outcome.information.as_deref());
                                let opened = opened.unwrap_or_else(|| {
                                    Err(async_imap::error::Error::Bad(
                                        "no answer to EXAMINE".to_owned(),
                                    ))
                                });
                                return Ok((opened.map(|()| mailbox), replies, said));
                            }
                            Response::Data {
                                status: Status::Bye,
                                ..
                            } => return Err(async_imap::error::Error::ConnectionLost),
                            Response::Data {
                                status: Status::Ok,
                                outcome,
                            } if opened.is_none() => {
                                use imap_proto::ResponseCode as C;
                                match &outcome.code {
                                    Some(C::UidValidity(v)) => mailbox.uid_validity = Some(*v),
                                    Some(C::UidNext(n)) => mailbox.uid_next = Some(*n),
                                    Some(C::HighestModSeq(m)) => mailbox.highest_modseq = Some(*m),
                                    Some(C::PermanentFlags(flags)) => {
                                        mailbox.permanent_flags.extend(flags.iter().map(|f| {
                                            async_imap::types::Flag::from((*f).to_string())
                                        }))
                                    }
                                    _ => {}
                                }
                            }
                            Response::MailboxData(imap_proto::MailboxDatum::Exists(n))
                                if opened.is_none() =>
                            {
                                mailbox.exists = *n;
                            }
                            Response::Fetch(_, attrs) if matches!(opened, Some(Ok(()))) => {
                                replies.extend(meta_reply(FetchReply::of(attrs)));
                            }
                            _ => {}
                        }
                    }
                })
            })
            .await?;
        let opened = opened.map_err(|e| self.working_error(e));
        let status = self.opened(opened, wire_name)?;
        Ok((status, self.metas(replies, outcome)?))
    }

    /// EXAMINE's answer as the folder's status, or why it could not be
    /// opened, in words.
    fn opened(
        &self,
        mailbox: Result<async_imap::types::Mailbox, Error>,
        wire_name: &str,
    ) -> Result<FolderStatus, Error> {
        let host = self.endpoint.host.clone();
        let mailbox = mailbox.map_err(|e| {
            let detail = e.detail().unwrap_or_default();
            if detail.contains("ALREADYEXISTS") {
                // Dovecot creating a special folder (`auto = create`)
                // for another session at that moment answers this:
                // busy, not a refusal; the folder is tried again.
                Error::new(Problem::ServerBusy {
                    host,
                    wait_secs: None,
                })
                .with_detail(format!(
                    "another connection was creating the folder \"{wire_name}\" ({detail})"
                ))
            } else if matches!(e.problem(), Problem::Protocol { .. }) {
                Error::new(Problem::ServerRefused {
                    host,
                    action: format!("open the folder \"{wire_name}\""),
                })
                .with_detail(e.detail().unwrap_or_default().to_owned())
            } else {
                e
            }
        })?;
        self.status_of(&mailbox, wire_name)
    }

    /// What opening a folder told of it.
    fn status_of(
        &self,
        mailbox: &async_imap::types::Mailbox,
        wire_name: &str,
    ) -> Result<FolderStatus, Error> {
        Ok(FolderStatus {
            uid_validity: self.uid_validity_of(mailbox, wire_name)?,
            uid_next: mailbox.uid_next,
            exists: mailbox.exists,
            highest_modseq: mailbox.highest_modseq,
            permanent_flags: mailbox
                .permanent_flags
                .iter()
                .map(|f| match f {
                    async_imap::types::Flag::Custom(c) => c.to_string(),
                    async_imap::types::Flag::MayCreate => "\\*".to_owned(),
                    other => format!("{other:?}")
                        .split('(')
                        .next()
                        .map(|n| format!("\\{n}"))
                        .unwrap_or_default(),
                })
                .collect(),
        })
    }

    /// Leaves the folder opened by EXAMINE, so that APPENDs to it do not
    /// make the server update this session's view of it after every
    /// command (UNSELECT where offered, else CLOSE, which removes nothing
    /// from a folder opened read-only).
    pub async fn unselect_examined(&mut self) -> Result<(), Error> {
        let command = if self.capabilities.has("UNSELECT") {
            "UNSELECT"
        } else {
            "CLOSE"
        };
        self.with_timeout(move |s| {
            Box::pin(async move { s.run_command_and_check_ok(command).await })
        })
        .await
    }

    /// SELECT: opens a folder read-write (for flag changes and removals at
    /// the destination only — the copy never selects a source folder).
    pub async fn select(&mut self, wire_name: &str) -> Result<FolderStatus, Error> {
        let name = wire_name.to_owned();
        let mailbox = self
            .with_timeout(move |s| Box::pin(async move { s.select(&name).await }))
            .await?;
        self.status_of(&mailbox, wire_name)
    }

    /// The folder's UIDVALIDITY, which every server must send when a folder
    /// is opened (RFC 3501 §6.3.1). Without it the UIDs in the state store
    /// cannot be trusted or refuted, so a reply that lacks it (or garbled
    /// it) is never read as a new folder: the folder is tried again later,
    /// as with a busy server. (Dovecot sends UIDVALIDITY 0 for a special
    /// folder that another session is creating at that moment.)
    fn uid_validity_of(
        &self,
        mailbox: &async_imap::types::Mailbox,
        wire_name: &str,
    ) -> Result<u32, Error> {
        match mailbox.uid_validity {
            Some(v) if v != 0 => Ok(v),
            _ => Err(Error::new(Problem::ServerBusy {
                host: self.endpoint.host.clone(),
                wait_secs: None,
            })
            .with_detail(format!(
                "the server opened the folder \"{wire_name}\" without a valid UIDVALIDITY"
            ))),
        }
    }

    /// Adds (`add`) or removes a flag on messages of the selected folder,
    /// without asking for their new flags back.
    pub async fn store_flag(&mut self, uids: &[u32], flag: &str, add: bool) -> Result<(), Error> {
        if uids.is_empty() {
            return Ok(());
        }
        if !wire::is_atom(flag.trim_start_matches('\\')) {
            return Err(self.refused(format!("set the tag {flag:?}"), "not a valid flag name"));
        }
        let sign = if add { '+' } else { '-' };
        let command = format!("UID STORE {} {sign}FLAGS.SILENT ({flag})", uid_set(uids));
        self.run_ok(&command).await?.map_err(|text| {
            self.refused(
                format!("change the tag {flag} on {} message(s)", uids.len()),
                &text,
            )
        })
    }

    /// Several flag changes on the selected folder in one round trip: every
    /// `UID STORE` is written, then every reply read (each is its own
    /// command; the first refusal is reported after all replies are in, so
    /// the connection stays in step).
    pub async fn store_flags(&mut self, changes: &[(&[u32], &str, bool)]) -> Result<(), Error> {
        let changes: Vec<_> = changes.iter().filter(|(u, _, _)| !u.is_empty()).collect();
        if changes.is_empty() {
            return Ok(());
        }
        if let Some((_, flag, _)) = changes
            .iter()
            .find(|(_, f, _)| !wire::is_atom(f.trim_start_matches('\\')))
        {
            return Err(self.refused(format!("set the tag {flag:?}"), "not a valid flag name"));
        }
        let commands: Vec<String> = changes
            .iter()
            .map(|(uids, flag, add)| {
                let sign = if *add { '+' } else { '-' };
                format!("UID STORE {} {sign}FLAGS.SILENT ({flag})", uid_set(uids))
            })
            .collect();
        let outcomes = self.flight_ok(&commands).await?;
        // The first refusal is reported after all replies are in, so the
        // connection stays in step.
        match changes
            .iter()
            .zip(outcomes)
            .find_map(|(change, outcome)| outcome.err().map(|text| (change, text)))
        {
            Some(((uids, flag, _), text)) => Err(self.refused(
                format!("change the tag {flag} on {} message(s)", uids.len()),
                &text,
            )),
            None => Ok(()),
        }
    }

    /// Commands that need no data back, all written at once and their
    /// replies read in order: one round trip however many there are. Each
    /// is its own command (a refusal of one does not stop the others); the
    /// inner results are the server's OK or the words of its NO or BAD, the
    /// outer error a connection lost or fallen silent.
    pub(super) async fn flight_ok(
        &mut self,
        commands: &[String],
    ) -> Result<Vec<Result<(), String>>, Error> {
        if commands.is_empty() {
            return Ok(Vec::new());
        }
        let timeout = self.endpoint.timeout;
        let activity = self.activity();
        let fut = async {
            let mut bytes = Vec::new();
            let mut tags = Vec::with_capacity(commands.len());
            for command in commands {
                let tag = self.next_raw_tag();
                bytes.extend_from_slice(format!("{tag} {command}\r\n").as_bytes());
                tags.push(tag);
            }
            self.write_raw(&bytes).await?;
            let mut outcomes = Vec::with_capacity(tags.len());
            for tag in &tags {
                let done = self.read_done(tag).await?;
                outcomes.push(if done.ok { Ok(()) } else { Err(done.text) });
            }
            Ok(outcomes)
        };
        match super::until_silent(&activity, timeout, fut).await {
            Some(r) => r,
            None => Err(self.silent()),
        }
    }

    /// Removes messages of the selected folder by UID: marks them deleted,
    /// then UID EXPUNGE (RFC 4315) so that no other message marked deleted
    /// by someone else is removed. Refused without UIDPLUS.
    pub async fn remove_uids(&mut self, uids: &[u32]) -> Result<(), Error> {
        if uids.is_empty() {
            return Ok(());
        }
        if !self.capabilities.has("UIDPLUS") {
            return Err(self.refused(
                "remove messages".to_owned(),
                "the server lacks UIDPLUS, so removing only our messages is not possible",
            ));
        }
        self.store_flag(uids, "\\Deleted", true).await?;
        let command = format!("UID EXPUNGE {}", uid_set(uids));
        self.run_ok(&command)
            .await?
            .map_err(|text| self.refused(format!("remove {} message(s)", uids.len()), &text))
    }

    /// UID FETCH of size, flags, date and identifying headers for the UIDs
    /// in `uid_set` (IMAP syntax: `1:*`, `5,7:9`), in the selected folder.
    pub async fn fetch_meta(&mut self, uid_set: &str) -> Result<Vec<MessageMeta>, Error> {
        self.fetch_meta_with(uid_set, "").await
    }

    /// Like [`Session::fetch_meta`] for every message of the selected
    /// folder whose flags changed, or that arrived, after `modseq` (CONDSTORE
    /// `CHANGEDSINCE`, RFC 7162): one round trip however big the folder.
    pub async fn fetch_meta_changed_since(
        &mut self,
        modseq: u64,
    ) -> Result<Vec<MessageMeta>, Error> {
        self.fetch_meta_with("1:*", &format!(" (CHANGEDSINCE {modseq})"))
            .await
    }

    async fn fetch_meta_with(
        &mut self,
        uid_set: &str,
        modifier: &str,
    ) -> Result<Vec<MessageMeta>, Error> {
        let set = uid_set.to_owned();
        let query = meta_query(modifier);
        let (replies, outcome) = self
            .with_timeout(move |s| {
                Box::pin(async move {
                    let mut replies = Vec::new();
                    let outcome =
                        uid_fetch_all(s, &set, &query, |f| replies.extend(meta_reply(f))).await?;
                    Ok((replies, outcome))
                })
            })
            .await?;
        self.metas(replies, outcome)
    }

    /// A listing's replies (see [`meta_reply`]) and the FETCH's outcome
    /// as the messages it describes, by UID.
    fn metas(
        &self,
        replies: Vec<(Option<u32>, MessageMeta)>,
        outcome: Result<(), String>,
    ) -> Result<Vec<MessageMeta>, Error> {
        if let Err(text) = outcome {
            return Err(self.refused("read the messages' headers".to_owned(), &text));
        }
        // One reply with the headers but without RFC822.SIZE is unusable:
        // the size is part of the message's identity, and 0 would describe
        // an empty message.
        let mut metas = Vec::with_capacity(replies.len());
        for (size, mut meta) in replies {
            let Some(size) = size else {
                return Err(Error::new(Problem::Protocol {
                    host: self.endpoint.host.clone(),
                })
                .with_detail(format!(
                    "the server described a message (UID {}) without its size (RFC822.SIZE)",
                    meta.uid
                )));
            };
            meta.size = size;
            metas.push(meta);
        }
        metas.sort_by_key(|m| m.uid);
        metas.dedup_by_key(|m| m.uid);
        Ok(metas)
    }

    /// UID and RFC822.SIZE of the messages in `uid_set` (IMAP syntax:
    /// `1:*`, `1:5000`) in the selected folder.
    pub async fn message_sizes(&mut self, uid_set: &str) -> Result<Vec<(u32, u32)>, Error> {
        let set = uid_set.to_owned();
        self.with_timeout(move |s| {
            Box::pin(async move {
                let stream = s.uid_fetch(&set, "(UID RFC822.SIZE)").await?;
                let fetches: Vec<_> = stream.try_collect().await?;
                Ok(fetches
                    .iter()
                    .filter_map(|f| Some((f.uid?, f.size?)))
                    .collect())
            })
        })
        .await
    }

    /// UID FETCH of whole messages (BODY.PEEK[]: the \Seen flag is not
    /// touched) in the selected folder. Messages that vanished meanwhile
    /// are simply absent from the result.
    /// There is no deadline for the whole transfer, only for silence (see
    /// [`Session::append`]).
    ///
    /// A message larger than MailFerry can hold ([`MAX_READABLE_MESSAGE`])
    /// is [`Problem::MessageTooLarge`]
    /// ([`Error::is_permanent_for_message`]): asked for alone (the
    /// caller knows it from `expected_bytes`, its RFC822.SIZE) it is
    /// refused before anything is sent and the session stays usable; met
    /// within a batch, the session is left half-read and must be
    /// reconnected.
    pub async fn fetch_bodies(
        &mut self,
        uids: &[u32],
        expected_bytes: u64,
    ) -> Result<Vec<FetchedMessage>, Error> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let host = self.endpoint.host.clone();
        let too_large = move || Error::new(Problem::MessageTooLarge { host: host.clone() });
        if uids.len() == 1 && expected_bytes > MAX_READABLE_MESSAGE {
            return Err(too_large()
                .with_detail(format!("message UID {} is {expected_bytes} bytes", uids[0])));
        }
        self.compress_if_link_bound().await?;
        let started = std::time::Instant::now();
        let set = uid_set(uids);
        let (mut messages, outcome) = self
            .with_timeout(move |s| {
                Box::pin(async move {
                    // Each reply is copied out and its buffer released as
                    // it arrives: a message is held once, not twice.
                    let mut out = Vec::new();
                    let outcome =
                        uid_fetch_all(s, &set, "(UID FLAGS INTERNALDATE BODY.PEEK[])", |f| {
                            if let (Some(uid), Some(body)) = (f.uid, f.body) {
                                out.push(FetchedMessage {
                                    uid,
                                    flags: f.flags,
                                    internal_date: f.internal_date,
                                    body,
                                });
                            }
                        })
                        .await?;
                    Ok((out, outcome))
                })
            })
            .await
            .map_err(|e| {
                // async-imap's words when a reply outgrows its buffer.
                let outgrown = matches!(e.problem(), Problem::ConnectionLost { .. })
                    && e.detail() == Some("incoming data too large");
                if outgrown {
                    too_large().with_detail(format!(
                        "a message among UIDs {} is larger than {MAX_READABLE_MESSAGE} bytes",
                        uid_set(uids)
                    ))
                } else {
                    e
                }
            })?;
        if let Err(text) = outcome {
            return Err(self.refused("read the messages".to_owned(), &text));
        }
        let bytes = messages.iter().map(|m| m.body.len() as u64).sum();
        self.measure_link(bytes, started.elapsed());
        messages.sort_by_key(|m| m.uid);
        messages.dedup_by_key(|m| m.uid);
        Ok(messages)
    }

    /// APPENDs messages to a folder and says, for each, whether it was
    /// stored (with its new UID when the server has UIDPLUS) or refused.
    ///
    /// A batch goes as one MULTIAPPEND where offered; if the server refuses
    /// it (MULTIAPPEND is all-or-nothing), the messages are sent one by one
    /// so that one bad message does not hold back the others.
    ///
    /// A transfer may take as long as the link needs: the endpoint's
    /// timeout is for silence (no byte moving either way), so a 40 MB
    /// message goes through a slow uplink shared by several writers, and a
    /// connection that went silent is still given up on.
    pub async fn append(
        &mut self,
        wire_name: &str,
        items: &[AppendItem<'_>],
    ) -> Result<Vec<Appended>, Error> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let mailbox = self.quoted(wire_name, "the folder name")?;
        self.compress_if_link_bound().await?;
        let mut fell_back = false;
        if items.len() > 1 && self.capabilities.has("MULTIAPPEND") && !self.multiappend_refused {
            let outcome = self.timed_append(&mailbox, items).await?;
            if let Some(Done {
                ok: true,
                uid_validity,
                uids,
                ..
            }) = outcome.first()
            {
                let uids = uids.clone();
                return Ok((0..items.len())
                    .map(|i| Appended::Stored {
                        uid: (uids.len() == items.len()).then(|| uids[i]),
                        uid_validity: *uid_validity,
                    })
                    .collect());
            }
            // MULTIAPPEND is all-or-nothing (RFC 3502): nothing was stored.
            // No message was sent without the server's `+`, but a server
            // that ended the command early may still answer what followed
            // the message it refused: start afresh.
            let text = outcome.first().map(|d| d.text.clone()).unwrap_or_default();
            let kind = refusal_kind(&text);
            self.reconnect().await?;
            if matches!(kind, RefusalKind::Throttled | RefusalKind::OverQuota) {
                // Not about one message: sending them one by one now would
                // only be refused again. The caller waits or stops.
                tracing::debug!("MULTIAPPEND refused for the whole account: {text}");
                return Ok(vec![Appended::Refused { kind, text }; items.len()]);
            }
            tracing::debug!("MULTIAPPEND refused; appending this batch one by one");
            fell_back = true;
        }
        let mut results = Vec::with_capacity(items.len());
        for item in items {
            let done = self
                .timed_append(&mailbox, std::slice::from_ref(item))
                .await?;
            results.extend(done.into_iter().map(Done::into_appended));
        }
        if fell_back
            && !results
                .iter()
                .any(|r| matches!(r, Appended::Refused { .. }))
        {
            // Every message went in on its own: the server refused
            // MULTIAPPEND itself, not a message. Don't offer it again. (When
            // one message was refused, later batches try MULTIAPPEND again.)
            tracing::debug!("the server takes single APPENDs only; MULTIAPPEND stays off");
            self.multiappend_refused = true;
        }
        Ok(results)
    }

    /// Will the next batch of several messages go as one MULTIAPPEND?
    pub fn multiappend_in_use(&self) -> bool {
        self.capabilities.has("MULTIAPPEND") && !self.multiappend_refused
    }

    async fn timed_append(
        &mut self,
        mailbox: &str,
        items: &[AppendItem<'_>],
    ) -> Result<Vec<Done>, Error> {
        let timeout = self.endpoint.timeout;
        let activity = self.activity();
        match super::until_silent(&activity, timeout, self.append_command(mailbox, items)).await {
            Some(r) => r.map(|d| vec![d]),
            None => Err(self.silent()),
        }
    }

    /// One APPEND command carrying one or (MULTIAPPEND) several messages,
    /// each a synchronising literal (sent only after the server's `+`)
    /// unless [`Session::may_send_unwaited`] lets it go at once. A refusal
    /// of a command that carried a message sent at once closes the
    /// connection and is a lost connection (see the module's note).
    async fn append_command(
        &mut self,
        mailbox: &str,
        items: &[AppendItem<'_>],
    ) -> Result<Done, Error> {
        let tag = self.next_raw_tag();
        // How fast the messages went, for the link's measure: the time
        // spent waiting for the server's `+` is round trips, not the link.
        let started = std::time::Instant::now();
        let mut waited = std::time::Duration::ZERO;
        let mut pending = format!("{tag} APPEND {mailbox}").into_bytes();
        let mut unwaited: Vec<&[u8]> = Vec::new();
        for item in items {
            if self.may_send_unwaited(item) {
                push_announcement(&mut pending, item, Literal::NonSynchronising);
                unwaited.push(item.body);
                if item.body.len() <= COALESCE_BELOW {
                    pending.extend_from_slice(item.body);
                    // Written in pieces of about COALESCE_BELOW: a copy of
                    // the whole batch would double what a batch holds in
                    // memory (nothing comes back before the command ends,
                    // so it is still one round trip).
                    if pending.len() >= COALESCE_BELOW {
                        self.write_raw(&pending).await?;
                        pending.clear();
                    }
                } else {
                    self.write_raw(&pending).await?;
                    pending.clear();
                    self.write_raw(item.body).await?;
                }
                continue;
            }
            push_announcement(&mut pending, item, Literal::Synchronising);
            // Send up to the literal's announcement, wait for "+".
            self.write_raw(&pending).await?;
            pending.clear();
            let asked = std::time::Instant::now();
            if let Some(done) = self.wait_continuation(&tag).await? {
                return self.trusted(done, &unwaited).await;
            }
            waited += asked.elapsed();
            self.write_raw(item.body).await?;
        }
        pending.extend_from_slice(b"\r\n");
        self.write_raw(&pending).await?;
        crate::crashpoint::hit("after_literal");
        let done = self.read_done(&tag).await?;
        if done.ok {
            let bytes = items.iter().map(|i| i.body.len() as u64).sum();
            self.measure_link(bytes, started.elapsed().saturating_sub(waited));
        }
        self.trusted(done, &unwaited).await
    }

    /// Will APPEND wait a round trip for the server's `+` before sending
    /// this message (it may not go as a non-synchronising literal)?
    pub fn waits_for_go_ahead(&self, item: &AppendItem<'_>) -> bool {
        !self.may_send_unwaited(item)
    }

    /// May this message go as a non-synchronising literal? See the
    /// module's note for the rule and why.
    fn may_send_unwaited(&self, item: &AppendItem<'_>) -> bool {
        let size = item.body.len() as u64;
        let offered = self.capabilities.has("LITERAL+")
            || (self.capabilities.has("LITERAL-") && size <= LITERAL_MINUS_MAX);
        offered
            && strict_announcement(item, self.capabilities.append_limit())
            && is_inert(item.body)
            && !self.sync_only.contains(item.body)
    }

    /// The reply to an APPEND, unless it refused a command that carried
    /// messages sent without waiting (`unwaited`): then the connection is
    /// closed (what the server read after its refusal is unknown), those
    /// messages go synchronising from now on, and the command is a lost
    /// connection, so its messages are settled as in doubt.
    async fn trusted(&mut self, done: Done, unwaited: &[&[u8]]) -> Result<Done, Error> {
        if done.ok || unwaited.is_empty() {
            return Ok(done);
        }
        for body in unwaited {
            self.sync_only.insert(body);
        }
        tracing::debug!(
            messages = unwaited.len(),
            "an APPEND sent without waiting was refused; closing the connection: {}",
            done.text
        );
        let host = self.endpoint.host.clone();
        let lost = match refusal_kind(&done.text) {
            // The server's words still say when to come back.
            RefusalKind::Throttled => Error::new(Problem::ServerBusy {
                host,
                wait_secs: crate::provider::suggested_backoff_secs(&done.text),
            }),
            _ => Error::new(Problem::ConnectionLost {
                host,
                stage: Stage::Working,
            }),
        }
        .with_detail(format!(
            "the server refused messages sent without waiting for its go-ahead ({}); \
             MailFerry closed that connection and checks what arrived before sending them again",
            done.text
        ));
        // Boxed: a sign-in is a large future, and this one is rare.
        Box::pin(self.reconnect()).await?;
        Err(lost)
    }

    pub(super) fn next_raw_tag(&mut self) -> String {
        self.raw_tag += 1;
        format!("MF{}", self.raw_tag)
    }

    pub(super) async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let host = self.endpoint.host.clone();
        let stream: &mut super::transport::Transport =
            super::live(&mut self.inner, &host)?.as_mut();
        let result = async {
            stream.write_all(bytes).await?;
            stream.flush().await
        }
        .await;
        result.map_err(|e| super::lost_working(&host, &e))
    }

    /// Waits for a continuation request; a tagged reply instead (the server
    /// refused before the literal) ends the command.
    async fn wait_continuation(&mut self, tag: &str) -> Result<Option<Done>, Error> {
        loop {
            match self.read_reply(tag).await? {
                Reply::Continue => return Ok(None),
                Reply::Done(done) => return Ok(Some(done)),
                Reply::Other => {}
            }
        }
    }

    async fn read_done(&mut self, tag: &str) -> Result<Done, Error> {
        loop {
            if let Reply::Done(done) = self.read_reply(tag).await? {
                return Ok(done);
            }
        }
    }

    /// Reads one response and sorts it: our tagged reply, a continuation,
    /// or anything else (untagged data, which is ignored here). A `BYE`
    /// ends the session.
    async fn read_reply(&mut self, tag: &str) -> Result<Reply, Error> {
        let response = match super::live(&mut self.inner, &self.endpoint.host)?
            .read_response()
            .await
        {
            Ok(Some(r)) => r,
            Ok(None) => {
                return Err(Error::new(Problem::ConnectionLost {
                    host: self.endpoint.host.clone(),
                    stage: Stage::Working,
                }))
            }
            Err(e) => return Err(super::lost_working(&self.endpoint.host, &e)),
        };
        let parsed = response.parsed();
        if let Some(done) = Done::from_response(parsed, tag) {
            return Ok(Reply::Done(done));
        }
        match parsed {
            Response::Continue { .. } => Ok(Reply::Continue),
            Response::Data {
                status: Status::Bye,
                outcome,
                ..
            } => Err(Error::new(Problem::ConnectionLost {
                host: self.endpoint.host.clone(),
                stage: Stage::Working,
            })
            .with_detail(format!(
                "The server said: {}",
                outcome.information.as_deref().unwrap_or("")
            ))),
            _ => Ok(Reply::Other),
        }
    }
}

enum Reply {
    Continue,
    Done(Done),
    Other,
}

/// Commands of IMAP4rev1 and rev2 and of the extensions servers offer
/// whose effect outlasts the connection: they change folders, messages,
/// flags, rights, quotas, annotations or access keys, or (`FETCH`, `CLOSE`
/// in a folder opened for writing) mark messages read or expunge them. A
/// line whose second word is one of these is not inert. Every other
/// command only reads or changes the session (`STATUS`, `LIST`, `CHECK`,
/// `SEARCH`, `SELECT`, `LOGOUT`, `IDLE`…), and the session ends the moment
/// a refusal is seen (the connection is closed, see the module's note),
/// so a message whose lines read as those is harmless.
const LASTING_COMMANDS: &[&str] = &[
    "APPEND",
    "CLOSE",
    "CONVERT",
    "COPY",
    "CREATE",
    "DELETE",
    "DELETEACL",
    "EXPUNGE",
    "FETCH",
    "GENURLAUTH",
    "MOVE",
    "RENAME",
    "REPLACE",
    "RESETKEY",
    "SETACL",
    "SETMETADATA",
    "SETQUOTA",
    "STORE",
    "SUBSCRIBE",
    "UID",
    "UNSUBSCRIBE",
];

/// The length of the longest name in [`LASTING_COMMANDS`].
const LONGEST_LASTING_COMMAND: usize = {
    let mut longest = 0;
    let mut i = 0;
    while i < LASTING_COMMANDS.len() {
        if LASTING_COMMANDS[i].len() > longest {
            longest = LASTING_COMMANDS[i].len();
        }
        i += 1;
    }
    longest
};

/// Could a server that went back to reading commands where this message
/// starts do anything lasting with it? Inert: no line (split at LF and at
/// CR) is a tag followed by a command with a lasting effect (any
/// [`LASTING_COMMANDS`] as the whole second word, any case, whatever
/// whitespace, or any private `X…` command, RFC 3501 §6.5.1, whose effect
/// nobody can know) or `DONE` alone, no line holds `{digits}`, `{digits+}`
/// or `{digits-}` (the start of a literal, which could smuggle an APPEND),
/// and there is no NUL byte; an empty message is not inert either
/// (servers refuse it). See the module's note.
pub fn is_inert(body: &[u8]) -> bool {
    // This runs on every message copied, so the bytes are searched with
    // memchr (many at a time), not looked at one by one, in two passes:
    // the `{`s (a literal's announcement holds no line end, so looking past
    // a line is the same as looking within it), then the line ends and NULs.
    if body.is_empty() {
        return false;
    }
    if memchr::memchr_iter(b'{', body).any(|i| announces_literal(&body[i + 1..])) {
        return false;
    }
    let mut start = 0;
    for end in memchr::memchr3_iter(b'\n', b'\r', 0, body) {
        if body[end] == 0 || reads_as_lasting_command(&body[start..end]) {
            return false;
        }
        start = end + 1;
    }
    !reads_as_lasting_command(&body[start..])
}

/// `^\s*<tag>\s+<lasting command>(\s|$)` or `DONE`, case-insensitively,
/// for a line (no CR or LF in it). A server reads the command name up to
/// the next space, so `copyright` is not `COPY` and `UIDs` is not `UID`.
fn reads_as_lasting_command(line: &[u8]) -> bool {
    // The next word of `rest`, and what follows it.
    fn word(rest: &[u8]) -> Option<(&[u8], &[u8])> {
        let start = rest.iter().position(|b| !b.is_ascii_whitespace())?;
        let rest = &rest[start..];
        let end = memchr::memchr3(b' ', b'\t', b'\x0c', rest).unwrap_or(rest.len());
        Some((&rest[..end], &rest[end..]))
    }
    let Some((first, rest)) = word(line) else {
        return false;
    };
    if first.eq_ignore_ascii_case(b"DONE") {
        return true;
    }
    let Some((second, _)) = word(rest) else {
        return false;
    };
    // `X` alone is a word, not a private command (`Subject: x`).
    let private = second.len() > 1
        && second[0].eq_ignore_ascii_case(&b'X')
        && second[1].is_ascii_alphabetic();
    private
        || (second.len() <= LONGEST_LASTING_COMMAND
            && LASTING_COMMANDS
                .iter()
                .any(|name| second.eq_ignore_ascii_case(name.as_bytes())))
}

/// Does what follows a `{` read as digits, an optional `+` or `-`, and
/// `}` (a literal's announcement)?
fn announces_literal(rest: &[u8]) -> bool {
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    digits > 0 && matches!(&rest[digits..], [b'}', ..] | [b'+' | b'-', b'}', ..])
}

/// LITERAL- (RFC 7888): non-synchronising literals of at most this many
/// bytes.
const LITERAL_MINUS_MAX: u64 = 4096;

/// A message sent without waiting and smaller than this goes in the same
/// write as its command line (and the small messages after it, up to
/// about this many bytes a write).
const COALESCE_BELOW: usize = 64 * 1024;

/// The longest keyword sent without waiting for the server's `+`:
/// Dovecot's default `mail_max_keyword_length`.
const STRICT_KEYWORD_LEN: usize = 50;

/// The longest command line (flags and date) sent without waiting.
const STRICT_LINE_LEN: usize = 1000;

/// Is the command line for this message one a server has no reason to
/// refuse? Every flag it carries a system flag APPEND may set or an atom
/// of at most [`STRICT_KEYWORD_LEN`] characters (flags that are neither
/// are left off the line anyway), the date a valid IMAP date-time after
/// 1970, the line short, and the message within `append_limit`.
pub fn strict_announcement(item: &AppendItem<'_>, append_limit: Option<u64>) -> bool {
    let flags_ok = item
        .flags
        .iter()
        .filter(|f| is_appendable_flag(f))
        .all(|f| f.starts_with('\\') || f.len() <= STRICT_KEYWORD_LEN);
    let line_len: usize = item.flags.iter().map(|f| f.len() + 1).sum::<usize>() + 64;
    let date_ok = item.internal_date.is_none_or(|d| {
        chrono::DateTime::parse_from_str(d, "%d-%b-%Y %H:%M:%S %z").is_ok_and(|t| {
            t.format("%d-%b-%Y %H:%M:%S %z").to_string() == d
                && (1970..=2200).contains(&chrono::Datelike::year(&t))
        })
    });
    flags_ok
        && date_ok
        && line_len <= STRICT_LINE_LEN
        && append_limit.is_none_or(|limit| item.body.len() as u64 <= limit)
}

/// How a message's literal is announced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Literal {
    /// `{n}`: the bytes leave after the server's `+`.
    Synchronising,
    /// `{n+}`: the bytes follow at once (see the module's note).
    NonSynchronising,
}

/// Appends ` (flags) "date" {n}` (or `{n+}`) to a command: all but the
/// message itself. The text starts with ` (`: read as a command line of
/// its own, it has no tag a server takes.
fn push_announcement(command: &mut Vec<u8>, item: &AppendItem<'_>, literal: Literal) {
    let flags: Vec<&str> = item
        .flags
        .iter()
        .map(String::as_str)
        .filter(|f| is_appendable_flag(f))
        .collect();
    command.extend_from_slice(format!(" ({})", flags.join(" ")).as_bytes());
    if let Some(date) = item.internal_date {
        command.extend_from_slice(format!(" \"{date}\"").as_bytes());
    }
    let plus = match literal {
        Literal::Synchronising => "",
        Literal::NonSynchronising => "+",
    };
    command.extend_from_slice(format!(" {{{}{plus}}}\r\n", item.body.len()).as_bytes());
}

/// Can this flag go in an APPEND? The five system flags APPEND may set
/// (not `\\Recent`, not an unknown `\\Something`, which servers answer with
/// BAD) and keywords that are atoms.
fn is_appendable_flag(flag: &str) -> bool {
    match flag.strip_prefix('\\') {
        Some(system) => ["Seen", "Answered", "Flagged", "Deleted", "Draft"]
            .iter()
            .any(|known| known.eq_ignore_ascii_case(system)),
        None => wire::is_atom(flag),
    }
}

/// A compact UID set: `1:3,7,9:10`.
pub fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// A tagged reply to one of our raw commands.
#[derive(Debug)]
struct Done {
    ok: bool,
    text: String,
    uid_validity: Option<u32>,
    uids: Vec<u32>,
}

impl Done {
    fn from_response(response: &Response<'_>, tag: &str) -> Option<Done> {
        let Response::Done {
            tag: t,
            status,
            outcome,
        } = response
        else {
            return None;
        };
        let (code, information) = (&outcome.code, &outcome.information);
        if t.0 != tag {
            return None;
        }
        let (uid_validity, uids) = match code {
            Some(imap_proto::ResponseCode::AppendUid(validity, set)) => {
                let mut uids = Vec::new();
                let claimed: u64 = set
                    .iter()
                    .map(|member| match member {
                        imap_proto::rfc4315::UidSetMember::Uid(_) => 1,
                        imap_proto::rfc4315::UidSetMember::UidRange(r) => {
                            u64::from(r.end().abs_diff(*r.start())) + 1
                        }
                    })
                    .sum();
                // A server's range is not an allocation size: more UIDs
                // than any batch holds are not believed (the messages are
                // stored, their UIDs unknown, as without UIDPLUS).
                let set = if claimed <= MAX_APPENDUIDS {
                    &set[..]
                } else {
                    &[]
                };
                for member in set {
                    match member {
                        imap_proto::rfc4315::UidSetMember::Uid(u) => uids.push(*u),
                        imap_proto::rfc4315::UidSetMember::UidRange(r) => uids.extend(r.clone()),
                    }
                }
                (Some(*validity), uids)
            }
            _ => (None, Vec::new()),
        };
        let info = information.as_deref().unwrap_or("").to_owned();
        let text = match code {
            Some(c) if uid_validity.is_none() => {
                server_text(&format!("code: Some({c:?}), info: Some(\"{info}\")"))
            }
            _ => info,
        };
        Some(Done {
            ok: *status == Status::Ok,
            text,
            uid_validity,
            uids,
        })
    }

    fn into_appended(self) -> Appended {
        if self.ok {
            Appended::Stored {
                uid: self.uids.first().copied(),
                uid_validity: self.uid_validity,
            }
        } else {
            Appended::Refused {
                kind: refusal_kind(&self.text),
                text: self.text,
            }
        }
    }
}

/// More UIDs than this in one APPENDUID are not believed: far above any
/// batch the copy sends.
const MAX_APPENDUIDS: u64 = 100_000;

/// A session that can only read: the source mailbox as the copy and the
/// audit hold it. It opens folders with EXAMINE (read-only at the server
/// too) and fetches with BODY.PEEK (no `\Seen` set); it has no way to
/// APPEND, STORE, EXPUNGE, CREATE or even SELECT, so "the old mailbox is
/// only read" holds by construction, not only by review.
pub struct ReadOnly<'s>(&'s mut Session);

impl<'s> ReadOnly<'s> {
    /// A read-only view of `session` for as long as it is borrowed.
    pub fn new(session: &'s mut Session) -> ReadOnly<'s> {
        ReadOnly(session)
    }

    /// [`Session::examine`].
    pub async fn examine(&mut self, wire_name: &str) -> Result<FolderStatus, Error> {
        self.0.examine(wire_name).await
    }

    /// [`Session::measuring_link`].
    pub(crate) fn measuring_link(&self) -> bool {
        self.0.measuring_link()
    }

    /// [`Session::examine_listed`].
    pub async fn examine_listed(
        &mut self,
        wire_name: &str,
        listing: FirstListing,
    ) -> Result<(FolderStatus, Vec<MessageMeta>), Error> {
        self.0.examine_listed(wire_name, listing).await
    }

    /// [`Session::counts_of_all`] (STATUS: nothing is opened).
    pub async fn counts_of_all(
        &mut self,
        wire_names: &[&str],
    ) -> Result<Vec<Option<super::idle::Counts>>, Error> {
        self.0.counts_of_all(wire_names).await
    }

    /// [`Session::fetch_meta`].
    pub async fn fetch_meta(&mut self, uid_set: &str) -> Result<Vec<MessageMeta>, Error> {
        self.0.fetch_meta(uid_set).await
    }

    /// [`Session::fetch_meta_changed_since`].
    pub async fn fetch_meta_changed_since(
        &mut self,
        modseq: u64,
    ) -> Result<Vec<MessageMeta>, Error> {
        self.0.fetch_meta_changed_since(modseq).await
    }

    /// [`Session::fetch_bodies`] (BODY.PEEK).
    pub async fn fetch_bodies(
        &mut self,
        uids: &[u32],
        expected_bytes: u64,
    ) -> Result<Vec<FetchedMessage>, Error> {
        self.0.fetch_bodies(uids, expected_bytes).await
    }

    /// [`Session::message_sizes`].
    pub async fn message_sizes(&mut self, uid_set: &str) -> Result<Vec<(u32, u32)>, Error> {
        self.0.message_sizes(uid_set).await
    }

    /// A second connection to the same server ([`Session::another_later`]),
    /// for reading another folder at the same time; the copy holds it only
    /// through a `ReadOnly` of its own.
    pub(crate) fn another_later(
        &self,
    ) -> impl std::future::Future<Output = Result<Session, Error>> + Send + 'static {
        self.0.another_later()
    }

    /// [`Session::reconnect`]: a fresh connection, as read-only as this one.
    pub async fn reconnect(&mut self) -> Result<(), Error> {
        self.0.reconnect().await
    }

    /// The endpoint read from.
    pub fn endpoint(&self) -> &crate::endpoint::Endpoint {
        self.0.endpoint()
    }

    /// What the server offers.
    pub fn capabilities(&self) -> &crate::imap::capability::Capabilities {
        self.0.capabilities()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_five_system_flags_and_keywords_are_read_as_flags() {
        assert_eq!(flag_of("\\SEEN").as_deref(), Some("\\Seen"));
        assert_eq!(flag_of("$Label1").as_deref(), Some("$Label1"));
        assert_eq!(flag_of("\\Recent"), None);
        // What a garbled reply made of \\Flagged: never recorded.
        assert_eq!(flag_of("\\aldgged"), None);
    }

    #[test]
    fn only_flags_a_server_accepts_are_appended() {
        for ok in ["\\Seen", "\\draft", "$Forwarded", "NonJunk"] {
            assert!(is_appendable_flag(ok), "{ok}");
        }
        for bad in [
            "\\Recent",
            "\\Forwarded",
            "\\*",
            "",
            "two words",
            "bad(paren",
        ] {
            assert!(!is_appendable_flag(bad), "{bad}");
        }
    }

    #[test]
    fn an_appenduid_range_is_not_an_allocation_size() {
        let done = |line: &'static [u8]| {
            let (_, response) = imap_proto::Response::parse(line).unwrap();
            Done::from_response(&response, "MF1").unwrap()
        };
        let d = done(b"MF1 OK [APPENDUID 7 3:5,9] done\r\n");
        assert_eq!((d.uid_validity, d.uids), (Some(7), vec![3, 4, 5, 9]));
        // Four billion UIDs for one batch: not believed, and not a 16 GB
        // vector either.
        let d = done(b"MF1 OK [APPENDUID 7 1:4294967295] done\r\n");
        assert!(d.ok);
        assert_eq!((d.uid_validity, d.uids), (Some(7), vec![]));
        let d = done(b"MF1 OK [APPENDUID 7 1:60000000] done\r\n");
        assert!(d.uids.is_empty());
    }

    #[test]
    fn uid_sets_are_compact() {
        assert_eq!(uid_set(&[3, 1, 2, 7, 9, 10, 10]), "1:3,7,9:10");
        assert_eq!(uid_set(&[5]), "5");
    }

    #[test]
    fn refusals_are_classified() {
        assert_eq!(
            refusal_kind("[OVERQUOTA] Quota exceeded (mailbox for user is full)"),
            RefusalKind::OverQuota
        );
        assert_eq!(refusal_kind("[TOOBIG] Mail too big"), RefusalKind::TooBig);
        assert_eq!(
            refusal_kind("Message contains NUL characters"),
            RefusalKind::Other
        );
    }

    #[test]
    fn a_message_is_inert_only_when_no_line_could_do_anything_lasting() {
        let inert: [&[u8]; 9] = [
            b"From: a@example.net\r\nSubject: hello\r\n\r\nSee you at ten.\r\n",
            b"Subject: x\r\n\r\nQkFTRTY0Cg==\r\nline with {braces} and {12 } and {x}\r\n",
            b"one-word-lines\r\nonly\r\n",
            b"\r\n\r\ntrailing without newline",
            // Commands that only read or change the session, which the
            // closed connection ends.
            b"Subject: x\r\n\r\nPlease check the attached file.\r\n",
            b"Subject: x\r\n\r\na status update on the order\r\n",
            b"Subject: x\r\n\r\nzz SELECT INBOX\r\nzz LIST \"\" *\r\nzz LOGOUT\r\n",
            // A command's name is the whole word.
            b"Subject: x\r\n\r\nAll copyright reserved.\r\na1 UIDs expunged\r\n",
            b"Subject: x\r\n\r\nthe delete-key, the (copy)\r\n",
        ];
        for body in inert {
            assert!(is_inert(body), "{}", String::from_utf8_lossy(body));
        }
        let not_inert: [&[u8]; 16] = [
            b"Subject: x\r\n\r\nzz CREATE Injected\r\n",
            b"Subject: x\r\n\r\n  zz delete INBOX\r\n",
            b"Subject: x\r\n\r\na1\tUid expunge 1:*\r\n",
            b"Subject: x\r\n\r\nPlease copy the attached file.\r\n",
            b"Subject: x\r\n\r\nzz SELECT INBOX\r\nzz close\r\n",
            b"Subject: x\r\n\r\nzz fetch 1:* body[]\r\n",
            b"Subject: x\r\n\r\nx XMAS party\r\n",
            b"Subject: x\r\n\r\ndone\r\n",
            b"Subject: x\r\n\r\n  DONE  \r\n",
            b"Subject: x\r\n\r\nabc {5}\r\n",
            b"Subject: x\r\n\r\nabc {5+}\r\n",
            b"Subject: x\r\n\r\nabc {12-} def\r\n",
            b"Subject: x\r\rzz RENAME INBOX Old\r",
            b"Subject: x\r\n\r\nNUL \0 inside\r\n",
            b"",
            b"Subject: x\nzz STORE 1 +FLAGS (\\Deleted)",
        ];
        for body in not_inert {
            assert!(!is_inert(body), "{}", String::from_utf8_lossy(body));
        }
    }

    /// [`reads_as_lasting_command`] word by word, as its comment says it.
    fn reads_as_lasting_command_by_definition(line: &[u8]) -> bool {
        let mut words = line
            .split(u8::is_ascii_whitespace)
            .filter(|w| !w.is_empty());
        let Some(first) = words.next() else {
            return false;
        };
        if first.eq_ignore_ascii_case(b"DONE") {
            return true;
        }
        let Some(second) = words.next() else {
            return false;
        };
        (second.len() > 1
            && second[0].eq_ignore_ascii_case(&b'X')
            && second[1].is_ascii_alphabetic())
            || LASTING_COMMANDS
                .iter()
                .any(|name| second.eq_ignore_ascii_case(name.as_bytes()))
    }

    proptest::proptest! {
        /// The fast reading says what the definition says: no line
        /// (split at LF and CR) reads as a lasting command or holds a
        /// literal's announcement, no NUL, not empty.
        #[test]
        fn inertness_read_fast_is_the_line_by_line_definition(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "a1 ", "zz", " ", "\t", "\x0c", "\r", "\n", "\r\n", "UID", "uid", "COPY",
                    "copyright", "done", "DONE", "X", "xmas", "Xy", "{", "}", "5", "12",
                    "+", "-", "\0", "select", "Store", "word", ".",
                ]),
                0..24,
            )
        ) {
            let body = parts.concat().into_bytes();
            let holds_literal = |line: &[u8]| {
                line.iter()
                    .enumerate()
                    .any(|(i, b)| *b == b'{' && announces_literal(&line[i + 1..]))
            };
            let defined = !body.is_empty()
                && !body.contains(&0)
                && body
                    .split(|b| *b == b'\n' || *b == b'\r')
                    .all(|line| !reads_as_lasting_command_by_definition(line) && !holds_literal(line));
            proptest::prop_assert_eq!(is_inert(&body), defined, "{:?}", String::from_utf8_lossy(&body));
        }
    }

    #[test]
    fn only_a_command_line_a_server_has_no_reason_to_refuse_is_strict() {
        let item = |flags, date, body| AppendItem {
            flags,
            internal_date: date,
            body,
        };
        let plain = vec!["\\Seen".to_owned(), "$Project".to_owned()];
        let date = Some("01-Mar-2024 09:00:00 +0000");
        assert!(strict_announcement(&item(&plain, date, b"abc"), None));
        assert!(strict_announcement(&item(&plain, None, b"abc"), Some(3)));
        assert!(!strict_announcement(&item(&plain, date, b"abcd"), Some(3)));
        let long = vec![format!("Project_{}", "x".repeat(60))];
        assert!(!strict_announcement(&item(&long, date, b"abc"), None));
        let many: Vec<String> = (0..200).map(|i| format!("$Label{i}")).collect();
        assert!(!strict_announcement(&item(&many, date, b"abc"), None));
        for bad in [
            "31-Feb-2024 09:00:00 +0000",
            "01-Mar-1901 09:00:00 +0000",
            "1-Mar-2024 09:00:00 +0000",
            "garbage",
        ] {
            assert!(
                !strict_announcement(&item(&plain, Some(bad), b"abc"), None),
                "{bad}"
            );
        }
    }

    #[test]
    fn append_arguments() {
        let flags = vec![
            "\\Seen".to_owned(),
            "\\Recent".to_owned(),
            "$Forwarded".to_owned(),
        ];
        let item = AppendItem {
            flags: &flags,
            internal_date: Some("01-Mar-2024 09:00:00 +0000"),
            body: b"abc",
        };
        let mut cmd = Vec::new();
        push_announcement(&mut cmd, &item, Literal::Synchronising);
        assert_eq!(
            cmd,
            b" (\\Seen $Forwarded) \"01-Mar-2024 09:00:00 +0000\" {3}\r\n".to_vec()
        );
        cmd.clear();
        push_announcement(&mut cmd, &item, Literal::NonSynchronising);
        assert_eq!(
            cmd,
            b" (\\Seen $Forwarded) \"01-Mar-2024 09:00:00 +0000\" {3+}\r\n".to_vec()
        );
    }
}
