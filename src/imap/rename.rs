//! Following a folder renamed at the old server between runs: its
//! MAILBOXID there (RFC 8474 OBJECTID: the id stays the same when a folder
//! is renamed), and RENAME at the new server.
//!
//! A `* STATUS` reply carrying MAILBOXID is not something async-imap can
//! parse (it would stop the session on it), so [`Session::mailbox_ids`]
//! writes its commands and reads their replies itself, a byte at a time so
//! that nothing after its last reply is taken from the connection.

use tokio::io::AsyncReadExt;

use super::{wire, Session};
use crate::error::{Error, Problem, Stage};

/// Longest response line (with its literals) read while asking for ids.
const MAX_RESPONSE: usize = 64 * 1024;

impl Session {
    /// Does the server give folders ids that survive a rename (OBJECTID)?
    pub fn offers_object_ids(&self) -> bool {
        self.capabilities.has("OBJECTID")
    }

    /// Each folder's MAILBOXID (`wire_names` as sent by the server), asked
    /// for all at once: one `STATUS name (MAILBOXID)` per folder, written
    /// together, so the answers cost one round trip. A folder the server
    /// refuses the STATUS for (gone, not allowed) or gives no id for is
    /// `None`.
    ///
    /// # Errors
    /// A lost or silent connection, or a name that cannot be sent.
    pub async fn mailbox_ids(&mut self, wire_names: &[&str]) -> Result<Vec<Option<String>>, Error> {
        let mut commands = Vec::new();
        let mut tags = Vec::with_capacity(wire_names.len());
        for name in wire_names {
            let quoted = self.quoted(name, "the folder name")?;
            let tag = self.next_raw_tag();
            commands.extend_from_slice(format!("{tag} STATUS {quoted} (MAILBOXID)\r\n").as_bytes());
            tags.push(tag);
        }
        if tags.is_empty() {
            return Ok(Vec::new());
        }
        let timeout = self.endpoint.timeout;
        let activity = self.activity();
        let exchange = async {
            self.write_raw(&commands).await?;
            let mut ids: Vec<(String, String)> = Vec::new();
            let mut open = tags.len();
            while open > 0 {
                let response = self.read_raw_response().await?;
                if let Some(pair) = wire::parse_status_mailbox_id(&response) {
                    ids.push(pair);
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
            Ok(ids)
        };
        let ids = match super::until_silent(&activity, timeout, exchange).await {
            Some(result) => result?,
            None => return Err(self.silent()),
        };
        Ok(wire_names
            .iter()
            .map(|name| {
                ids.iter()
                    .find(|(n, _)| {
                        n == name
                            || (n.eq_ignore_ascii_case("INBOX")
                                && name.eq_ignore_ascii_case("INBOX"))
                    })
                    .map(|(_, id)| id.clone())
            })
            .collect())
    }

    /// RENAME a folder (wire names); the server moves the folders inside
    /// it along with it.
    ///
    /// # Errors
    /// [`Problem::ServerRefused`] with the server's words when it says no;
    /// a lost or silent connection.
    pub async fn rename(&mut self, from: &str, to: &str) -> Result<(), Error> {
        let command = format!(
            "RENAME {} {}",
            self.quoted(from, "the folder name")?,
            self.quoted(to, "the folder name")?
        );
        self.run_ok(&command).await?.map_err(|text| {
            self.refused(format!("rename the folder \"{from}\" to \"{to}\""), &text)
        })
    }

    /// UNSUBSCRIBE from a folder (its wire name): mail apps stop showing it.
    ///
    /// # Errors
    /// [`Problem::ServerRefused`] with the server's words when it says no;
    /// a lost or silent connection.
    pub async fn unsubscribe(&mut self, wire_name: &str) -> Result<(), Error> {
        let name = self.quoted(wire_name, "the folder name")?;
        self.run_ok(&format!("UNSUBSCRIBE {name}"))
            .await?
            .map_err(|text| {
                self.refused(
                    format!("stop showing the folder \"{wire_name}\" in mail apps (unsubscribe)"),
                    &text,
                )
            })
    }

    /// Reads one response straight from the connection: a line, and the
    /// literals it announces with the rest of the line after each.
    async fn read_raw_response(&mut self) -> Result<Vec<u8>, Error> {
        let host = self.endpoint.host.clone();
        let stream: &mut super::transport::Transport = self.inner.as_mut();
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
