//! STATUS of many folders in one flight: every command written at once and
//! the answers read as they come, so a look at all of a server's folders
//! costs one round trip however many there are. Written and read by hand
//! (async-imap sends one command at a time, and would stop the session on
//! a STATUS item it cannot parse, such as MAILBOXID), a byte at a time so
//! that nothing after the last answer is taken from the connection.

use tokio::io::AsyncReadExt;

use super::idle::Counts;
use super::{wire, Session};
use crate::error::{Error, Problem, Stage};

/// Longest response line (with its literals) read in a flight.
const MAX_RESPONSE: usize = 64 * 1024;

impl Session {
    /// Each folder's counts (`wire_names` as sent by the server), asked for
    /// all at once: `STATUS name (MESSAGES UIDNEXT UIDVALIDITY)`, with
    /// HIGHESTMODSEQ when the server has CONDSTORE, one per folder, written
    /// together. A folder the server refuses the STATUS for (gone, not
    /// allowed) or answers without a message count is `None`. Changes
    /// nothing; no folder is opened.
    ///
    /// # Errors
    /// A lost or silent connection, or a name that cannot be sent.
    pub async fn counts_of_all(
        &mut self,
        wire_names: &[&str],
    ) -> Result<Vec<Option<Counts>>, Error> {
        let items = if self.capabilities.has("CONDSTORE") {
            "(MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)"
        } else {
            "(MESSAGES UIDNEXT UIDVALIDITY)"
        };
        let answers = self
            .status_flight(wire_names, items, wire::parse_status_numbers)
            .await?;
        Ok(answers
            .into_iter()
            .map(|items| {
                let items = items?;
                let get = |key: &str| items.iter().find(|(k, _)| k == key).map(|(_, v)| *v);
                Some(Counts {
                    uid_validity: get("UIDVALIDITY").and_then(|v| u32::try_from(v).ok()),
                    uid_next: get("UIDNEXT").and_then(|v| u32::try_from(v).ok()),
                    messages: u32::try_from(get("MESSAGES")?).ok()?,
                    highest_modseq: get("HIGHESTMODSEQ"),
                })
            })
            .collect())
    }

    /// One `STATUS name items` per folder, written together; each answer
    /// read with `parse` (the folder's name as the server spells it, and
    /// what it said). Answers are matched to `wire_names` by name (INBOX in
    /// any case); a folder without one is `None`.
    pub(super) async fn status_flight<T: Clone>(
        &mut self,
        wire_names: &[&str],
        items: &str,
        parse: fn(&[u8]) -> Option<(String, T)>,
    ) -> Result<Vec<Option<T>>, Error> {
        let mut commands = Vec::new();
        let mut tags = Vec::with_capacity(wire_names.len());
        for name in wire_names {
            let quoted = self.quoted(name, "the folder name")?;
            let tag = self.next_raw_tag();
            commands.extend_from_slice(format!("{tag} STATUS {quoted} {items}\r\n").as_bytes());
            tags.push(tag);
        }
        if tags.is_empty() {
            return Ok(Vec::new());
        }
        let timeout = self.endpoint.timeout;
        let activity = self.activity();
        let exchange = async {
            self.write_raw(&commands).await?;
            let mut answers: Vec<(String, T)> = Vec::new();
            let mut open = tags.len();
            while open > 0 {
                let response = self.read_raw_response().await?;
                if let Some(pair) = parse(&response) {
                    answers.push(pair);
                    continue;
                }
                let line = String::from_utf8_lossy(&response);
                match wire::parse_line(line.trim_end()) {
                    Some(wire::Line::Tagged { tag, .. }) if tags.iter().any(|t| t == tag) => {
                        open -= 1;
                    }
                    Some(wire::Line::UntaggedStatus {
                        status: wire::Status::Bye,
                        text,
                        ..
                    }) => {
                        return Err(Error::new(Problem::ConnectionLost {
                            host: self.endpoint.host.clone(),
                            stage: Stage::Working,
                        })
                        .with_detail(format!("The server said: {text}")));
                    }
                    _ => {}
                }
            }
            Ok(answers)
        };
        let answers = match super::until_silent(&activity, timeout, exchange).await {
            Some(result) => result?,
            None => return Err(self.silent()),
        };
        Ok(wire_names
            .iter()
            .map(|name| {
                answers
                    .iter()
                    .find(|(n, _)| {
                        n == name
                            || (n.eq_ignore_ascii_case("INBOX")
                                && name.eq_ignore_ascii_case("INBOX"))
                    })
                    .map(|(_, answer)| answer.clone())
            })
            .collect())
    }

    /// Reads one response straight from the connection: a line, and the
    /// literals it announces with the rest of the line after each.
    async fn read_raw_response(&mut self) -> Result<Vec<u8>, Error> {
        let host = self.endpoint.host.clone();
        let stream: &mut super::transport::Transport =
            super::live(&mut self.inner, &host)?.as_mut();
        let mut out = Vec::new();
        loop {
            let byte = stream
                .read_u8()
                .await
                .map_err(|e| super::lost_working(&host, &e))?;
            out.push(byte);
            if out.len() > MAX_RESPONSE {
                return Err(Error::new(Problem::Protocol { host })
                    .with_detail("a STATUS reply longer than any folder name allows"));
            }
            if byte != b'\n' {
                continue;
            }
            let Some(n) = wire::literal_at_end(&out) else {
                return Ok(out);
            };
            if out.len() + n > MAX_RESPONSE {
                return Err(Error::new(Problem::Protocol { host })
                    .with_detail("a STATUS reply longer than any folder name allows"));
            }
            let start = out.len();
            out.resize(start + n, 0);
            stream
                .read_exact(&mut out[start..])
                .await
                .map_err(|e| super::lost_working(&host, &e))?;
        }
    }
}
