//! Following a folder renamed at the old server between runs: its
//! MAILBOXID there (RFC 8474 OBJECTID: the id stays the same when a folder
//! is renamed), and RENAME at the new server.
//!
//! A `* STATUS` reply carrying MAILBOXID is not something async-imap can
//! parse (it would stop the session on it), so [`Session::mailbox_ids`]
//! goes through the hand-written STATUS flight (`status.rs`).

use super::{wire, Session};
use crate::error::Error;

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
        self.status_flight(wire_names, "(MAILBOXID)", wire::parse_status_mailbox_id)
            .await
    }

    /// RENAME a folder (wire names); the server moves the folders inside
    /// it along with it.
    ///
    /// # Errors
    /// [`Problem::ServerRefused`](crate::error::Problem::ServerRefused) with the server's words when it says no;
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
    /// [`Problem::ServerRefused`](crate::error::Problem::ServerRefused) with the server's words when it says no;
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
}
