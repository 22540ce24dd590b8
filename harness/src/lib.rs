//! Test harness for MailFerry's integration tests: real Dovecot servers on loopback, a
//! small blocking IMAP client to load and inspect them, and a fault-injecting TCP proxy.
//!
//! Everything here is blocking and std-based (threads, `std::net`), so it works the same
//! from a plain `#[test]` and from `#[tokio::test]`; it never creates a Tokio runtime.
//!
//! # Requirements
//!
//! Debian's `dovecot-imapd` (tested with Dovecot 2.3.19) and root: homes are chowned to
//! uid 65534, which Dovecot runs mail access as. [`dovecot_available`] tells whether both
//! hold, for tests that want to skip rather than fail.
//!
//! # A Dovecot per test
//!
//! ```no_run
//! use mailferry_harness::{Dovecot, Layout, Message};
//!
//! let src = Dovecot::start(Layout::Courier); // alice / alicepass
//! let dst = Dovecot::builder()
//!     .layout(Layout::Exchange)
//!     .user("bob", "pä:ss \"wörd\"") // any characters; stored as {SHA256.b64}
//!     .fsync(false)                  // mail_fsync = never, for bulk loads
//!     .quota_bytes(Some(10_000_000)) // NO [OVERQUOTA] past 10 MB
//!     .build();
//!
//! src.create_mailbox("alice", "INBOX.Projects");
//! let uids = src.append(
//!     "alice",
//!     "INBOX",
//!     &[Message::new(b"Subject: hi\r\n\r\nbody\r\n".to_vec())
//!         .flags(&["\\Seen", "$Forwarded"])
//!         .internal_date("01-Jan-2020 10:00:00 +0000")],
//! );
//! assert_eq!(uids.len(), 1);
//! // ... run the engine from src.addr_plain() / src.addr_tls() to dst ...
//! let moved = dst.fetch_all("bob", "INBOX");
//! assert!(dst.list("bob").contains(&"Sent Items".to_string()));
//! # let _ = moved;
//! ```
//!
//! Each instance has its own temp dir (config, log, homes, certificates: see
//! [`Dovecot::dir`]), random ports ([`Dovecot::plain_port`] offers STARTTLS and allows
//! LOGIN without TLS; [`Dovecot::tls_port`] is implicit TLS) and a private CA whose leaf
//! it serves alone ([`Dovecot::ca_pem`], [`Dovecot::leaf_sha256_hex`]). Dropping it
//! SIGTERMs its master PID (SIGKILL after 3 s) and removes the directory. Dovecot runs
//! with `TZ=UTC`, so INTERNALDATEs come back as `+0000`.
//!
//! Mailbox arguments of the mail helpers ([`Dovecot::append`], [`Dovecot::fetch_all`],
//! [`Dovecot::create_mailbox`]) are UTF-8 names that the harness encodes to modified
//! UTF-7; [`Dovecot::list`] returns the raw wire names (see [`mutf7_decode`]). For
//! anything else, [`Dovecot::session`] gives a logged-in [`ImapSession`] to send raw
//! commands with, and [`Dovecot::doveadm`] runs `doveadm` against the instance.
//!
//! # Faults
//!
//! ```no_run
//! use mailferry_harness::{Direction, Dovecot, Fault, Layout, Proxy};
//!
//! let server = Dovecot::start(Layout::Gmail);
//! let proxy = Proxy::start(server.addr_plain());
//! // Hide STARTTLS, then cut the connection in the middle of the first FETCH body.
//! proxy.set_fault(Fault::All(vec![
//!     Fault::rewrite(Direction::ToClient, " STARTTLS", ""),
//!     Fault::cut_after_match(Direction::ToClient, "BODY[] {"),
//! ]));
//! // ... point the engine at proxy.addr() ...
//! assert!(proxy.connections() <= 10);
//! ```
//!
//! [`never_speaking_server`] accepts connections and never answers (for timeouts).
//!
//! # Dovecot behaviour worth knowing
//!
//! - A failed login is answered after Dovecot's `auth_failure_delay` (2 s). Its growing
//!   per-IP auth penalty (which would delay every later login from 127.0.0.1 by up to
//!   15 s) is switched off in the generated config.
//! - Dovecot refuses passwords containing NUL, `\x01`, TAB, CR or LF, whatever the
//!   passdb says; the builder panics on those instead of producing a mystery failure.
//! - Messages with bare LF line ends are served back with CRLF; INTERNALDATE comes back
//!   in the server's zone (UTC here), not the zone given to APPEND.
//! - `\Recent` depends on which session looks first, so [`Fetched::flags`] leaves it out.
//! - APPENDs to an unselected mailbox make Dovecot reopen and resync the maildir each
//!   time; [`Dovecot::append`] uses MULTIAPPEND batches (5,000 messages: ~0.3 s idle)
//!   and [`Dovecot::try_append`] SELECTs the mailbox first.
//! - Dovecot 2.3 does not offer OBJECTID (RFC 8474), but answers `STATUS name (X-GUID)`
//!   with the mailbox GUID, which RENAME keeps (for the folders inside a renamed one
//!   too); [`Fault::ObjectId`] builds an OBJECTID server out of that.

mod bearer;
mod certs;
mod conf;
pub mod demo;
mod dns;
mod dovecot;
mod gcs;
mod graph;
mod http;
mod imap;
mod layout;
mod mutf7;
mod proxy;
mod radicale;
mod tls_front;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;

pub use bearer::BearerFront;
pub use dns::DnsServer;
pub use dovecot::{Dovecot, DovecotBuilder};
pub use gcs::{GcsRequest, GcsServer, SignedIn};
pub use graph::{GraphRequest, GraphServer, GRAPH_TOKEN, USER_ID as GRAPH_USER_ID};
pub use http::{HttpServer, Request};
pub use imap::{Fetched, ImapSession, Message, Reply};
pub use layout::{Layout, LayoutFolder};
pub use mutf7::{mutf7_decode, mutf7_encode};
pub use proxy::{Direction, Fault, Proxy};
pub use radicale::{radicale_available, Radicale};
pub use tls_front::TlsFront;

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, read, closed).
/// Another process may take it before you use it: retry on a clash.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// A port on 127.0.0.1 that refuses every connection for as long as this lives.
///
/// The socket stays bound but never listens, so a connection is turned away at
/// once (the kernel answers with a reset) and no other test or server can be given
/// the port meanwhile, as can happen to a port bound and dropped.
pub struct RefusingPort {
    socket: socket2::Socket,
}

impl RefusingPort {
    /// Binds a port on 127.0.0.1 without listening on it.
    pub fn new() -> RefusingPort {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("a TCP socket");
        let any: SocketAddr = "127.0.0.1:0".parse().expect("a loopback address");
        socket.bind(&any.into()).expect("bind 127.0.0.1:0");
        RefusingPort { socket }
    }

    /// The port's number.
    pub fn port(&self) -> u16 {
        self.socket
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .map(|a| a.port())
            .expect("a bound port")
    }
}

impl Default for RefusingPort {
    fn default() -> RefusingPort {
        RefusingPort::new()
    }
}

/// Whether [`Dovecot`] can start here: the `dovecot` binary is installed and this
/// process runs as root.
pub fn dovecot_available() -> bool {
    find_binary("dovecot").is_some() && find_binary("doveadm").is_some() && is_root()
}

/// A server that accepts TCP connections and never sends a byte (a [`Proxy`] with
/// [`Fault::Stall`]). Connections stay open until the returned guard is dropped.
pub fn never_speaking_server() -> (Proxy, u16) {
    // The upstream is never contacted while stalling.
    let proxy = Proxy::with_fault(SocketAddr::from(([127, 0, 0, 1], 9)), Fault::Stall);
    let port = proxy.port();
    (proxy, port)
}

/// Finds a program in PATH or the usual sbin directories (root's PATH may lack them).
pub(crate) fn find_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Whether the effective uid is 0 (`/proc/self` belongs to the process's euid).
pub(crate) fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_can_be_shared_across_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Dovecot>();
        send_sync::<Proxy>();
        send_sync::<ImapSession>();
        send_sync::<Fault>();
    }

    #[test]
    fn a_refusing_port_refuses_while_it_lives() {
        let closed = RefusingPort::new();
        let err = std::net::TcpStream::connect(("127.0.0.1", closed.port())).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
        // Nobody else is given it meanwhile.
        assert!(TcpListener::bind(("127.0.0.1", closed.port())).is_err());
    }

    #[test]
    fn free_ports_are_nonzero() {
        assert_ne!(free_port(), 0);
    }
}
