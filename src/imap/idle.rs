//! Waiting for new mail at the old server: IMAP IDLE (RFC 2177) on a
//! folder opened read-only, and STATUS for the folders only polled.
//!
//! IDLE is written and read here by hand, on our own session: async-imap's
//! IDLE handle takes its session by value, which our `Session` (holding its
//! async-imap session for its whole life) cannot hand over. The replies are
//! read straight from the connection a byte at a time, so nothing after
//! the IDLE's own tagged reply is taken from it, and the line read so far
//! survives a wait that ends without one (the partial line stays in
//! `Idle`).

use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

use super::{wire, Session};
use crate::error::{Error, Problem, Stage};

/// Longest untagged line accepted while idling (IDLE replies are short).
const MAX_LINE: usize = 8 * 1024;

/// How often a wait looks at its stop condition.
const TICK: Duration = Duration::from_millis(200);

/// Why an IDLE ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdleEnd {
    /// The folder's message count changed (new mail, or mail removed).
    Changed {
        /// The count the server now gives.
        exists: u32,
    },
    /// The renewal time came (servers drop an IDLE after 30 minutes):
    /// nothing changed, the caller idles again.
    Renew,
    /// The caller asked to stop.
    Stopped,
}

/// What STATUS says about a folder that is polled, not opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counts {
    /// UIDVALIDITY.
    pub uid_validity: Option<u32>,
    /// The UID the next message will get.
    pub uid_next: Option<u32>,
    /// Messages in the folder.
    pub messages: u32,
    /// HIGHESTMODSEQ, when the server has CONDSTORE.
    pub highest_modseq: Option<u64>,
}

/// One IDLE's partial reply line, kept across waits.
#[derive(Default)]
struct Idle {
    line: Vec<u8>,
}

impl Session {
    /// Does the server offer IDLE?
    pub fn offers_idle(&self) -> bool {
        self.capabilities.has("IDLE")
    }

    /// STATUS of a folder not opened: UIDNEXT, UIDVALIDITY, MESSAGES and,
    /// with CONDSTORE, HIGHESTMODSEQ. Changes nothing.
    ///
    /// # Errors
    /// A refusal (the folder is gone), a lost or silent connection.
    pub async fn counts(&mut self, wire_name: &str) -> Result<Counts, Error> {
        let items = if self.capabilities.has("CONDSTORE") {
            "(MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)"
        } else {
            "(MESSAGES UIDNEXT UIDVALIDITY)"
        };
        let name = wire_name.to_owned();
        let mailbox = self
            .with_timeout(move |s| Box::pin(async move { s.status(&name, items).await }))
            .await?;
        Ok(Counts {
            uid_validity: mailbox.uid_validity,
            uid_next: mailbox.uid_next,
            messages: mailbox.exists,
            highest_modseq: mailbox.highest_modseq,
        })
    }

    /// IDLE on the folder this session has opened (EXAMINE), whose count
    /// was `exists`: waits until the server says the count changed, until
    /// `renew` has passed, or until `stop()` says so (looked at every
    /// 200 ms), then ends the IDLE (DONE) and reads its tagged reply.
    /// Reminders the server sends while idling ("still here") are read
    /// and ignored.
    ///
    /// # Errors
    /// The server refused IDLE, dropped the connection (a `BYE`, a reset),
    /// or went silent for the endpoint's timeout after DONE.
    pub async fn idle(
        &mut self,
        exists: u32,
        renew: Duration,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Result<IdleEnd, Error> {
        let tag = self.next_raw_tag();
        self.write_raw(format!("{tag} IDLE\r\n").as_bytes()).await?;
        let mut idle = Idle::default();
        // The continuation ("+ idling"), or a refusal.
        let deadline = Instant::now() + self.endpoint.timeout;
        loop {
            let Some(line) = self.idle_line(&mut idle, deadline, &|| false).await? else {
                return Err(self.silent());
            };
            if line.starts_with(b"+") {
                break;
            }
            if let Some(Err(refusal)) = self.tagged_end(&tag, &line)? {
                return Err(self.refused("wait for new mail (IDLE)".to_owned(), &refusal));
            }
        }
        let renew_at = Instant::now() + renew;
        let mut end = IdleEnd::Renew;
        while let Some(line) = self.idle_line(&mut idle, renew_at, stop).await? {
            if let Some(n) = exists_count(&line) {
                if n != exists {
                    end = IdleEnd::Changed { exists: n };
                    break;
                }
            }
            self.bye(&line)?;
        }
        if end == IdleEnd::Renew && stop() {
            end = IdleEnd::Stopped;
        }
        self.write_raw(b"DONE\r\n").await?;
        let deadline = Instant::now() + self.endpoint.timeout;
        loop {
            let Some(line) = self.idle_line(&mut idle, deadline, &|| false).await? else {
                return Err(self.silent());
            };
            if let (Some(n), IdleEnd::Renew | IdleEnd::Stopped) = (exists_count(&line), end) {
                if n != exists {
                    end = IdleEnd::Changed { exists: n };
                }
            }
            match self.tagged_end(&tag, &line)? {
                Some(Err(refusal)) => {
                    return Err(self.refused("wait for new mail (IDLE)".to_owned(), &refusal));
                }
                Some(Ok(())) => return Ok(end),
                None => {}
            }
        }
    }

    /// The tagged reply ending `tag`: `Some(Ok)` for OK, `Some(Err(words))`
    /// for NO or BAD; `None` for any other line. A `BYE` is a lost
    /// connection.
    fn tagged_end(&self, tag: &str, line: &[u8]) -> Result<Option<Result<(), String>>, Error> {
        self.bye(line)?;
        let text = String::from_utf8_lossy(line);
        match wire::parse_line(text.trim_end()) {
            Some(wire::Line::Tagged {
                tag: t,
                status,
                text,
                ..
            }) if t == tag => Ok(Some(if status == wire::Status::Ok {
                Ok(())
            } else {
                Err(text.to_owned())
            })),
            _ => Ok(None),
        }
    }

    /// A `* BYE`: the server is closing the connection.
    fn bye(&self, line: &[u8]) -> Result<(), Error> {
        let text = String::from_utf8_lossy(line);
        if let Some(wire::Line::UntaggedStatus {
            status: wire::Status::Bye,
            text,
            ..
        }) = wire::parse_line(text.trim_end())
        {
            return Err(Error::new(Problem::ConnectionLost {
                host: self.endpoint.host.clone(),
                stage: Stage::Working,
            })
            .with_detail(format!("The server said: {text}")));
        }
        Ok(())
    }

    /// The next whole line, or `None` once `until` has passed or `stop()`
    /// says so (the part of a line read so far stays in `idle`).
    async fn idle_line(
        &mut self,
        idle: &mut Idle,
        until: Instant,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Result<Option<Vec<u8>>, Error> {
        let host = self.endpoint.host.clone();
        loop {
            let now = Instant::now();
            if now >= until || stop() {
                return Ok(None);
            }
            let wait = (until - now).min(TICK);
            let stream: &mut super::transport::Transport =
                super::live(&mut self.inner, &host)?.as_mut();
            // Reading one byte either takes it or leaves it: a wait that
            // ends first loses nothing.
            match tokio::time::timeout(wait, stream.read_u8()).await {
                Err(_) => continue,
                Ok(Err(e)) => return Err(super::lost_working(&host, &e)),
                Ok(Ok(byte)) => {
                    idle.line.push(byte);
                    if idle.line.len() > MAX_LINE {
                        return Err(Error::new(Problem::Protocol { host })
                            .with_detail("an IDLE reply longer than any IDLE reply can be"));
                    }
                    if byte == b'\n' {
                        return Ok(Some(std::mem::take(&mut idle.line)));
                    }
                }
            }
        }
    }
}

/// `* 12 EXISTS` → 12.
fn exists_count(line: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(line).ok()?.trim_end();
    let rest = text.strip_prefix("* ")?;
    let (n, word) = rest.split_once(' ')?;
    word.eq_ignore_ascii_case("EXISTS")
        .then(|| n.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::exists_count;

    #[test]
    fn exists_lines_are_read_and_nothing_else() {
        assert_eq!(exists_count(b"* 12 EXISTS\r\n"), Some(12));
        assert_eq!(exists_count(b"* 0 exists\r\n"), Some(0));
        assert_eq!(exists_count(b"* 3 RECENT\r\n"), None);
        assert_eq!(exists_count(b"* OK Still here\r\n"), None);
        assert_eq!(exists_count(b"MF1 OK Idle completed.\r\n"), None);
    }
}
