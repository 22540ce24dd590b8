//! Is the link to a server what holds a copy back? Measured from the
//! messages themselves: how fast their bytes came in (a FETCH of bodies)
//! or went out (the bodies of an APPEND). When they move slower than
//! [`LINK_BOUND_BELOW`], compressing the connection (COMPRESS=DEFLATE,
//! RFC 4978) saves more time than it costs, so MailFerry turns it on by
//! itself where the server offers it (see [`super::Session`]); on a fast
//! link or the loopback it stays off and costs nothing.
//!
//! One gauge is shared by every connection to a server that came from one
//! session (its parallel readers and writers, its reconnections): what one
//! connection measured, the next transfer on any of them acts on.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Below this rate (bytes a second, summed over the transfers measured) the
/// link is taken to be what limits the copy: 10 MB/s, 80 Mbit/s. Mail
/// compresses to a half or a third (text, HTML, base64), and inflating
/// costs far less than that link saves; compressing what is sent runs at
/// several times this rate on one core.
pub const LINK_BOUND_BELOW: f64 = 10_000_000.0;

/// A transfer shorter than this says more about the round trip than about
/// the link: it is not counted.
pub const MIN_SAMPLE_BYTES: u64 = 1 << 20;

/// While the link to a server is being measured, a folder's first batch is
/// kept to this many bytes, so that the measure (and with it the
/// compression) comes within seconds even on a slow link, not after a
/// whole batch of 16 MB.
pub const MEASURING_BATCH_BYTES: u64 = 2 * MIN_SAMPLE_BYTES;

/// What was measured so far, and what follows from it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Measured {
    /// Bytes of the transfers counted.
    pub bytes: u64,
    /// The time they took.
    pub secs: f64,
}

impl Measured {
    /// Counts one transfer of `bytes` that took `took`; a short one is left out.
    pub fn record(&mut self, bytes: u64, took: Duration) {
        if bytes < MIN_SAMPLE_BYTES || took.is_zero() {
            return;
        }
        self.bytes += bytes;
        self.secs += took.as_secs_f64();
    }

    /// The rate measured, once a transfer was counted: bytes a second.
    pub fn rate(&self) -> Option<f64> {
        (self.secs > 0.0).then(|| self.bytes as f64 / self.secs)
    }

    /// Is the link what limits the transfers?
    pub fn link_bound(&self) -> bool {
        self.rate().is_some_and(|r| r < LINK_BOUND_BELOW)
    }
}

/// [`Measured`], shared by the connections to one server, and whether
/// the server refused COMPRESS once (then it is not asked again).
#[derive(Clone, Debug, Default)]
pub struct LinkGauge(Arc<Mutex<Measured>>, Arc<AtomicBool>);

impl LinkGauge {
    /// The server refused to compress a connection: don't ask again.
    pub fn compress_refused(&self) {
        self.1.store(true, Ordering::Relaxed);
    }

    /// Is compressing worth asking for: the link measured slow, and the
    /// server never refused it?
    pub fn worth_compressing(&self) -> bool {
        !self.1.load(Ordering::Relaxed) && self.link_bound()
    }

    /// Counts one transfer.
    pub fn record(&self, bytes: u64, took: Duration) {
        self.lock().record(bytes, took);
    }

    /// Is the link what limits the transfers, as far as measured?
    pub fn link_bound(&self) -> bool {
        self.lock().link_bound()
    }

    /// Has nothing been decided yet (nor refused)?
    pub fn undecided(&self) -> bool {
        !self.1.load(Ordering::Relaxed) && self.lock().rate().is_none()
    }

    /// What was measured so far.
    pub fn measured(&self) -> Measured {
        *self.lock()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Measured> {
        self.0.lock().unwrap_or_else(|poison| poison.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1_000_000;

    #[test]
    fn a_slow_link_is_link_bound_once_enough_was_measured() {
        let mut m = Measured::default();
        // 1.5 MB at 1 MB/s.
        m.record(3 * MB / 2, Duration::from_millis(1500));
        assert_eq!(m.rate(), Some(1_000_000.0));
        assert!(m.link_bound());
        // A faster transfer later counts with it.
        m.record(3 * MB / 2, Duration::from_millis(100));
        assert_eq!(m.rate(), Some(1_875_000.0));
    }

    #[test]
    fn a_fast_link_is_not() {
        let mut m = Measured::default();
        for _ in 0..4 {
            // 16 MB in 0.1 s: the loopback.
            m.record(16 * MB, Duration::from_millis(100));
        }
        assert!(!m.link_bound());
        // 100 Mbit/s (12.5 MB/s) is not worth compressing either.
        let mut lan = Measured::default();
        lan.record(25 * MB, Duration::from_secs(2));
        assert!(!lan.link_bound());
    }

    #[test]
    fn short_transfers_say_nothing() {
        let mut m = Measured::default();
        for _ in 0..100 {
            // 60 kB taking a 150 ms round trip looks slow; it is not counted.
            m.record(60_000, Duration::from_millis(150));
        }
        assert_eq!(m, Measured::default());
        assert!(!m.link_bound());
        m.record(4 * MB, Duration::ZERO);
        assert_eq!(m.rate(), None);
    }

    #[test]
    fn the_gauge_is_shared_by_its_clones() {
        let g = LinkGauge::default();
        let other = g.clone();
        other.record(4 * MB, Duration::from_secs(2));
        assert!(g.link_bound());
        assert_eq!(g.measured().bytes, 4 * MB);
        assert!(g.worth_compressing());
        other.compress_refused();
        assert!(!g.worth_compressing(), "a refusal is not asked again");
    }
}
