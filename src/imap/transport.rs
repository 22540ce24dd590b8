//! The byte stream under an IMAP session: TCP, or TLS over TCP, either of
//! them compressed (COMPRESS=DEFLATE) once signed in, and when bytes last
//! moved through it ([`Activity`]): a connection is given up on when it
//! has been silent too long, not when a transfer takes long.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A connection to a server, encrypted or (by explicit choice) not.
pub struct Transport {
    stream: Stream,
    activity: Activity,
}

enum Stream {
    /// Plain TCP: only before STARTTLS, or when the user chose no security.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<TcpStream>>),
    /// Either of the others, compressed in both directions (RFC 4978).
    Deflate(Box<async_imap::DeflateStream<Transport>>),
}

/// When bytes last moved (either way) through a connection; shared by its
/// layers (TCP, TLS, compression) and read by the session's timeouts.
#[derive(Clone, Debug)]
pub struct Activity(Arc<Clock>);

#[derive(Debug)]
struct Clock {
    origin: Instant,
    /// Milliseconds from `origin` to the last movement.
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity(Arc::new(Clock {
            origin: Instant::now(),
            last_ms: AtomicU64::new(0),
        }))
    }

    /// Something moved (or a command starts) now.
    pub fn touch(&self) {
        let ms = u64::try_from(self.0.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.0.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// How long nothing has moved.
    pub fn idle_for(&self) -> Duration {
        let now = self.0.origin.elapsed();
        now.saturating_sub(Duration::from_millis(
            self.0.last_ms.load(Ordering::Relaxed),
        ))
    }
}

impl Transport {
    /// Plain TCP.
    pub fn plain(tcp: TcpStream) -> Transport {
        Transport {
            stream: Stream::Plain(tcp),
            activity: Activity::new(),
        }
    }

    /// TLS over TCP.
    pub fn tls(tls: TlsStream<TcpStream>) -> Transport {
        Transport {
            stream: Stream::Tls(Box::new(tls)),
            activity: Activity::new(),
        }
    }

    /// A compressed stream over one of the others; it shares their
    /// [`Activity`].
    pub fn deflate(deflate: async_imap::DeflateStream<Transport>) -> Transport {
        let activity = deflate.get_ref().activity.clone();
        Transport {
            stream: Stream::Deflate(Box::new(deflate)),
            activity,
        }
    }

    /// The TCP stream of a plain connection (for STARTTLS); `None` for
    /// the others.
    pub fn into_plain(self) -> Option<TcpStream> {
        match self.stream {
            Stream::Plain(tcp) => Some(tcp),
            _ => None,
        }
    }

    /// Is the stream compressed (COMPRESS=DEFLATE)?
    pub fn is_compressed(&self) -> bool {
        matches!(self.stream, Stream::Deflate(_))
    }

    /// Is the stream encrypted?
    pub fn is_encrypted(&self) -> bool {
        match &self.stream {
            Stream::Plain(_) => false,
            Stream::Tls(_) => true,
            Stream::Deflate(d) => d.get_ref().is_encrypted(),
        }
    }

    /// When bytes last moved through this connection.
    pub fn activity(&self) -> &Activity {
        &self.activity
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.stream {
            Stream::Plain(_) => f.write_str("Transport::Plain"),
            Stream::Tls(_) => f.write_str("Transport::Tls"),
            Stream::Deflate(d) => write!(f, "Transport::Deflate({:?})", d.get_ref()),
        }
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = match &mut this.stream {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Deflate(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        };
        if buf.filled().len() > before {
            this.activity.touch();
        }
        poll
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = match &mut this.stream {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Deflate(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        };
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        poll
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Deflate(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Deflate(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_measures_silence() {
        let a = Activity::new();
        std::thread::sleep(Duration::from_millis(30));
        assert!(a.idle_for() >= Duration::from_millis(30));
        a.clone().touch();
        assert!(
            a.idle_for() < Duration::from_millis(30),
            "clones share the clock"
        );
    }
}
