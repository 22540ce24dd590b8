//! A fault-injecting TCP proxy, so tests can put cuts, stalls, delays and rewritten
//! server answers between the engine and a real server.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::imap::literal_announced;

mod objectid;

/// A change made to each whole protocol line (see [`Fault::ObjectId`]).
type LineFn = fn(Vec<u8>) -> Vec<u8>;

/// How often a pump wakes up to notice a new fault, a stop, or a partial line to flush.
const TICK: Duration = Duration::from_millis(50);

/// Which way bytes travel through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client to upstream server.
    ToServer,
    /// Upstream server to client.
    ToClient,
}

/// What the proxy does to traffic. Set with [`Proxy::set_fault`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Fault {
    /// Pass everything through.
    #[default]
    None,
    /// Forward exactly `bytes` bytes in `dir` (counted from when the fault took effect on
    /// the connection), then close both sides.
    CutAfter {
        /// The direction counted.
        dir: Direction,
        /// Bytes forwarded before the cut.
        bytes: usize,
    },
    /// Accept TCP connections but never connect upstream and never send a byte; hold
    /// them open until the proxy is dropped. Live connections stop forwarding.
    Stall,
    /// Sleep this long before forwarding each chunk, in both directions.
    Delay(Duration),
    /// A slow link: at most this many bytes a second in each direction,
    /// forwarded in small, even steps. Connections accepted under it also
    /// get small socket buffers, so that a sender sees the link's pace
    /// instead of filling megabytes of buffers on the loopback at once.
    Bandwidth {
        /// Bytes a second, each way.
        bytes_per_sec: u64,
    },
    /// Replace `from` by `to` in `dir`, within protocol lines (IMAP: CRLF-terminated
    /// lines; literal contents announced by `{n}` pass untouched). Meant for plaintext
    /// IMAP, e.g. stripping ` STARTTLS` from capabilities or turning `* OK` into
    /// `* PREAUTH`.
    Rewrite {
        /// The direction rewritten.
        dir: Direction,
        /// The byte sequence to find (must not contain `\n`).
        from: Vec<u8>,
        /// Its replacement.
        to: Vec<u8>,
    },
    /// Forward up to and including the first occurrence of `pattern` in `dir`, then
    /// close both sides (e.g. `BODY[] {` to cut in the middle of a FETCH).
    CutAfterMatch {
        /// The direction watched.
        dir: Direction,
        /// The bytes that trigger the cut.
        pattern: Vec<u8>,
    },
    /// Forward up to and including the first occurrence of `pattern` in `dir`, then
    /// forward nothing more that way while holding the connection open (a server or
    /// link that goes silent in the middle of a message).
    StallAfterMatch {
        /// The direction watched.
        dir: Direction,
        /// The bytes after which that direction goes silent.
        pattern: Vec<u8>,
    },
    /// Replace, on average, one byte in `one_in` of the protocol lines sent in `dir`
    /// by a pseudo-random byte (the zzuf idea: malformed responses). Literal contents
    /// and line ends are left alone, so what breaks is the protocol, not a message
    /// body that no client could check. Deterministic for a `seed` and connection.
    Garble {
        /// The direction garbled.
        dir: Direction,
        /// One byte in this many, on average.
        one_in: u32,
        /// The pseudo-random sequence's seed.
        seed: u64,
    },
    /// A server that offers OBJECTID (RFC 8474): adds the capability, and
    /// answers STATUS (MAILBOXID) from Dovecot's mailbox GUID (`X-GUID`,
    /// which a RENAME keeps). Line by line, like [`Fault::Rewrite`]: for
    /// plaintext IMAP.
    ObjectId,
    /// Several faults at once, e.g. two rewrites, or a rewrite and a delay.
    All(Vec<Fault>),
}

impl Fault {
    /// Shorthand for [`Fault::Rewrite`].
    pub fn rewrite(dir: Direction, from: impl AsRef<[u8]>, to: impl AsRef<[u8]>) -> Fault {
        Fault::Rewrite {
            dir,
            from: from.as_ref().to_vec(),
            to: to.as_ref().to_vec(),
        }
    }

    /// Shorthand for [`Fault::CutAfterMatch`].
    pub fn cut_after_match(dir: Direction, pattern: impl AsRef<[u8]>) -> Fault {
        Fault::CutAfterMatch {
            dir,
            pattern: pattern.as_ref().to_vec(),
        }
    }

    /// The tightest [`Fault::Bandwidth`] in this fault, if any.
    fn bandwidth(&self) -> Option<u64> {
        match self {
            Fault::Bandwidth { bytes_per_sec } => Some((*bytes_per_sec).max(1)),
            Fault::All(all) => all.iter().filter_map(Fault::bandwidth).min(),
            _ => None,
        }
    }

    fn stalls(&self) -> bool {
        match self {
            Fault::Stall => true,
            Fault::All(all) => all.iter().any(Fault::stalls),
            _ => false,
        }
    }

    /// What a pump in `dir` must do under this fault.
    fn plan(&self, dir: Direction) -> Plan {
        let mut plan = Plan {
            stall: self.stalls(),
            rate: self.bandwidth(),
            ..Plan::default()
        };
        self.add_to(dir, &mut plan);
        plan
    }

    fn add_to(&self, want: Direction, plan: &mut Plan) {
        match self {
            Fault::None | Fault::Stall | Fault::Bandwidth { .. } => {}
            Fault::Delay(d) => plan.delay += *d,
            Fault::CutAfter { dir, bytes } if *dir == want => {
                plan.cut_after = Some(plan.cut_after.map_or(*bytes, |b| b.min(*bytes)));
            }
            Fault::Rewrite { dir, from, to } if *dir == want => {
                assert!(
                    !from.is_empty() && !from.contains(&b'\n'),
                    "a rewrite pattern must be non-empty and within one line"
                );
                plan.rewrites.push((from.clone(), to.clone()));
            }
            Fault::CutAfterMatch { dir, pattern } if *dir == want => {
                assert!(!pattern.is_empty(), "empty cut pattern");
                plan.cut_match.push(pattern.clone());
            }
            Fault::StallAfterMatch { dir, pattern } if *dir == want => {
                assert!(!pattern.is_empty(), "empty stall pattern");
                plan.stall_match.push(pattern.clone());
            }
            Fault::Garble { dir, one_in, seed } if *dir == want => {
                assert!(*one_in > 0, "garble one byte in a positive number");
                plan.garble = Some((*one_in, *seed));
            }
            Fault::ObjectId => {
                plan.line_fn = Some(match want {
                    Direction::ToClient => objectid::to_client,
                    Direction::ToServer => objectid::to_server,
                });
            }
            Fault::All(all) => all.iter().for_each(|f| f.add_to(want, plan)),
            _ => {}
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Plan {
    stall: bool,
    delay: Duration,
    /// Bytes a second, when the link is slow.
    rate: Option<u64>,
    cut_after: Option<usize>,
    cut_match: Vec<Vec<u8>>,
    stall_match: Vec<Vec<u8>>,
    rewrites: Vec<(Vec<u8>, Vec<u8>)>,
    garble: Option<(u32, u64)>,
    line_fn: Option<LineFn>,
}

impl Plan {
    /// Must the stream be read line by line (rewrites, garbling)?
    fn by_line(&self) -> bool {
        !self.rewrites.is_empty() || self.garble.is_some() || self.line_fn.is_some()
    }
}

struct Shared {
    upstream: SocketAddr,
    fault: Mutex<Fault>,
    generation: AtomicU64,
    /// The fault goes back to `None` after its first cut.
    once: AtomicBool,
    /// Connections cut by a fault so far.
    cuts: AtomicUsize,
    stop: AtomicBool,
    accepted: AtomicUsize,
    /// Connections open now (accepted, not yet closed by either end), and
    /// the most there ever were at once.
    open_now: AtomicUsize,
    peak: AtomicUsize,
    next_id: AtomicU64,
    /// Times a server answered after its client spoke, over all connections.
    round_trips: AtomicUsize,
    /// Bytes forwarded to the server and to the client, over all connections.
    forwarded: [AtomicU64; 2],
    /// Connections whose client spoke and whose server has not answered
    /// yet, and the most there ever were at once.
    waiting_now: AtomicUsize,
    peak_waiting: AtomicUsize,
    /// Connections whose client has gone.
    gone: Mutex<std::collections::HashSet<u64>>,
    /// Clones of every live socket, so Drop can shut them all down.
    sockets: Mutex<HashMap<u64, Vec<TcpStream>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poison| poison.into_inner())
}

impl Shared {
    fn fault(&self) -> (u64, Fault) {
        let fault = lock(&self.fault);
        (self.generation.load(Ordering::SeqCst), fault.clone())
    }

    fn spawn(self: &Arc<Self>, f: impl FnOnce() + Send + 'static) {
        let handle = thread::spawn(f);
        let mut threads = lock(&self.threads);
        threads.retain(|h| !h.is_finished());
        threads.push(handle);
    }

    fn register(&self, id: u64, s: &TcpStream) {
        if let Ok(clone) = s.try_clone() {
            lock(&self.sockets).entry(id).or_default().push(clone);
        }
    }

    /// Connection `id` has ended, one end or both (counted once per connection).
    fn client_gone(&self, id: u64) {
        if lock(&self.gone).insert(id) {
            self.open_now.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// One connection fewer waits for its server's answer.
    fn stop_waiting(&self) {
        let _ = self
            .waiting_now
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    }

    /// Shuts down both sockets of connection `id` and forgets them.
    fn close(&self, id: u64) {
        if let Some(socks) = lock(&self.sockets).remove(&id) {
            self.client_gone(id);
            for s in socks {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }
}

/// A TCP proxy on 127.0.0.1 in front of one upstream address. Stops (closing every
/// connection and joining its threads) when dropped.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("addr", &self.addr)
            .field("upstream", &self.shared.upstream)
            .field("fault", &*lock(&self.shared.fault))
            .finish()
    }
}

impl Proxy {
    /// Starts a pass-through proxy to `upstream`.
    pub fn start(upstream: SocketAddr) -> Proxy {
        Proxy::with_fault(upstream, Fault::None)
    }

    /// Starts a proxy whose very first connection already sees `fault`.
    pub fn with_fault(upstream: SocketAddr, fault: Fault) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy on 127.0.0.1:0");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            upstream,
            fault: Mutex::new(fault),
            generation: AtomicU64::new(0),
            once: AtomicBool::new(false),
            cuts: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            accepted: AtomicUsize::new(0),
            gone: Mutex::default(),
            open_now: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
            round_trips: AtomicUsize::new(0),
            forwarded: [AtomicU64::new(0), AtomicU64::new(0)],
            waiting_now: AtomicUsize::new(0),
            peak_waiting: AtomicUsize::new(0),
            sockets: Mutex::new(HashMap::new()),
            threads: Mutex::new(Vec::new()),
        });
        let accept_shared = Arc::clone(&shared);
        let accept_thread = thread::spawn(move || accept_loop(listener, accept_shared));
        Proxy {
            addr,
            shared,
            accept_thread: Some(accept_thread),
        }
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `127.0.0.1:port()`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The upstream address.
    pub fn upstream(&self) -> SocketAddr {
        self.shared.upstream
    }

    /// Replaces the fault. New connections get it; live ones pick it up at their next
    /// chunk (byte counts of [`Fault::CutAfter`] start from there; `Stall` makes them go
    /// silent).
    pub fn set_fault(&self, fault: Fault) {
        let mut current = lock(&self.shared.fault);
        *current = fault;
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Like [`Proxy::set_fault`], but only until the fault has cut one
    /// connection; then everything passes again (a fault that strikes once,
    /// to test recovery within one run).
    pub fn set_fault_once(&self, fault: Fault) {
        self.shared.once.store(true, Ordering::SeqCst);
        self.set_fault(fault);
    }

    /// Connections cut (or silenced by [`Fault::StallAfterMatch`]) so far.
    pub fn cuts(&self) -> usize {
        self.shared.cuts.load(Ordering::SeqCst)
    }

    /// The most connections that were open through the proxy at once (from accept
    /// until either end closed its side).
    pub fn peak_connections(&self) -> usize {
        self.shared.peak.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Round trips so far: the times the server answered after its client
    /// had spoken (the traffic on a connection turning from client→server
    /// to server→client), summed over connections. Commands written
    /// together before any answer count once; a client that waits for each
    /// answer pays one per command.
    pub fn round_trips(&self) -> usize {
        self.shared.round_trips.load(Ordering::SeqCst)
    }

    /// Bytes forwarded in `dir` so far, summed over connections: what
    /// crossed the "link" (compressed, when the connection is).
    pub fn bytes(&self, dir: Direction) -> u64 {
        self.shared.forwarded[usize::from(dir == Direction::ToClient)].load(Ordering::SeqCst)
    }

    /// The most connections that were waiting for their server's answer at
    /// once (their client had spoken, the server not yet answered): more
    /// than one when a client works over several connections at the same
    /// time, whatever the wall clock says.
    pub fn peak_waiting(&self) -> usize {
        self.shared.peak_waiting.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept().
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.accept_thread.take() {
            let _ = t.join();
        }
        let ids: Vec<u64> = lock(&self.shared.sockets).keys().copied().collect();
        for id in ids {
            self.shared.close(id);
        }
        let threads = std::mem::take(&mut *lock(&self.shared.threads));
        for t in threads {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for incoming in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(client) = incoming else {
            continue;
        };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        let now = shared.open_now.fetch_add(1, Ordering::SeqCst) + 1;
        shared.peak.fetch_max(now, Ordering::SeqCst);
        let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
        let (_, fault) = shared.fault();
        if fault.stalls() {
            // Held (and closed) by the registry; nothing is ever sent.
            lock(&shared.sockets).entry(id).or_default().push(client);
            continue;
        }
        if fault.bandwidth().is_some() {
            small_buffers(&client);
        }
        shared.register(id, &client);
        let conn_shared = Arc::clone(&shared);
        shared.spawn(move || connect_and_pump(id, client, conn_shared));
    }
}

fn connect_and_pump(id: u64, client: TcpStream, shared: Arc<Shared>) {
    let upstream = match TcpStream::connect_timeout(&shared.upstream, Duration::from_secs(5)) {
        Ok(s) => s,
        Err(_) => {
            shared.close(id);
            return;
        }
    };
    if shared.stop.load(Ordering::SeqCst) {
        shared.close(id);
        return;
    }
    if shared.fault().1.bandwidth().is_some() {
        small_buffers(&upstream);
    }
    shared.register(id, &upstream);
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (Ok(client2), Ok(upstream2)) = (client.try_clone(), upstream.try_clone()) else {
        shared.close(id);
        return;
    };
    let live = Arc::new(AtomicUsize::new(2));
    let turn = Arc::new(AtomicU8::new(0));
    let (back_shared, back_live, back_turn) =
        (Arc::clone(&shared), Arc::clone(&live), Arc::clone(&turn));
    shared.spawn(move || {
        pump(
            id,
            upstream2,
            client2,
            Direction::ToClient,
            &back_shared,
            &back_turn,
        );
        finished(id, &back_live, &back_shared, &back_turn);
    });
    pump(id, client, upstream, Direction::ToServer, &shared, &turn);
    finished(id, &live, &shared, &turn);
}

/// Socket buffers of a few tens of KiB, as a slow link's sender meets them
/// (the loopback's own grow to megabytes, which would hide the pace).
fn small_buffers(s: &TcpStream) {
    let s = socket2::SockRef::from(s);
    let _ = s.set_recv_buffer_size(32 * 1024);
    let _ = s.set_send_buffer_size(32 * 1024);
}

/// Forgets a connection's sockets once both of its pumps are done (a
/// client left waiting no longer waits).
fn finished(id: u64, live: &AtomicUsize, shared: &Shared, turn: &AtomicU8) {
    if live.fetch_sub(1, Ordering::SeqCst) == 1 {
        if turn.swap(0, Ordering::SeqCst) == 1 {
            shared.stop_waiting();
        }
        shared.close(id);
    }
}

/// Splits a byte stream into IMAP lines (passing literal contents through) and applies
/// rewrites to each complete line.
#[derive(Debug, Default)]
struct LineRewriter {
    partial: Vec<u8>,
    literal_left: usize,
    garbler: Option<Garbler>,
    line_fn: Option<LineFn>,
}

/// xorshift64: a tiny deterministic byte garbler for [`Fault::Garble`].
#[derive(Debug)]
struct Garbler {
    state: u64,
    one_in: u32,
}

impl Garbler {
    fn new(one_in: u32, seed: u64) -> Garbler {
        Garbler {
            state: seed | 1,
            one_in,
        }
    }

    fn next(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    /// Garbles `line` but its line end.
    fn garble(&mut self, line: &mut [u8]) {
        let end = line.len()
            - line
                .iter()
                .rev()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
        for byte in &mut line[..end] {
            let r = self.next();
            if r.is_multiple_of(u64::from(self.one_in)) {
                *byte = (r >> 40) as u8;
            }
        }
    }
}

impl LineRewriter {
    fn feed(&mut self, data: &[u8], rewrites: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len());
        let mut i = 0;
        while i < data.len() {
            if self.literal_left > 0 {
                let take = self.literal_left.min(data.len() - i);
                out.extend_from_slice(&data[i..i + take]);
                self.literal_left -= take;
                i += take;
                continue;
            }
            match data[i..].iter().position(|&b| b == b'\n') {
                Some(nl) => {
                    self.partial.extend_from_slice(&data[i..=i + nl]);
                    i += nl + 1;
                    let mut line = apply(std::mem::take(&mut self.partial), rewrites);
                    if let Some(f) = self.line_fn {
                        line = f(line);
                    }
                    self.literal_left = literal_announced(&line).unwrap_or(0);
                    if let Some(g) = &mut self.garbler {
                        g.garble(&mut line);
                    }
                    out.extend_from_slice(&line);
                }
                None => {
                    self.partial.extend_from_slice(&data[i..]);
                    i = data.len();
                }
            }
        }
        out
    }

    /// Releases a partial line (no line end seen for a while, e.g. after STARTTLS).
    fn flush(&mut self, rewrites: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
        apply(std::mem::take(&mut self.partial), rewrites)
    }
}

fn apply(mut line: Vec<u8>, rewrites: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    for (from, to) in rewrites {
        line = replace_all(&line, from, to);
    }
    line
}

fn replace_all(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Finds cut patterns in a stream read in chunks, including patterns split across two
/// chunks.
#[derive(Debug, Default)]
struct MatchWindow {
    tail: Vec<u8>,
}

impl MatchWindow {
    /// Where in `chunk` the first pattern occurrence ends, if one does.
    fn scan(&mut self, chunk: &[u8], patterns: &[Vec<u8>]) -> Option<usize> {
        if patterns.is_empty() {
            return None;
        }
        let offset = self.tail.len();
        self.tail.extend_from_slice(chunk);
        let end = patterns
            .iter()
            .filter_map(|p| find(&self.tail, p).map(|at| at + p.len()))
            .min()
            .map(|end| end.saturating_sub(offset));
        let keep = patterns.iter().map(Vec::len).max().unwrap_or(1) - 1;
        self.tail.drain(..self.tail.len().saturating_sub(keep));
        end
    }
}

/// Sleeps `total`, waking early if the proxy stops.
fn sleep_unless_stopped(total: Duration, shared: &Shared) {
    let mut left = total;
    while !left.is_zero() && !shared.stop.load(Ordering::SeqCst) {
        let step = left.min(TICK);
        thread::sleep(step);
        left -= step;
    }
}

/// `last`: which way the connection's last chunk went (0 none yet, 1 to
/// the server, 2 to the client), for counting round trips.
fn pump(
    id: u64,
    mut src: TcpStream,
    mut dst: TcpStream,
    dir: Direction,
    shared: &Shared,
    last: &AtomicU8,
) {
    let _ = src.set_read_timeout(Some(TICK));
    let mut generation = u64::MAX;
    let mut plan = Plan::default();
    let mut passed = 0usize;
    let mut matches = MatchWindow::default();
    let mut stall_matches = MatchWindow::default();
    // Set once a StallAfterMatch fired on this connection: it stays silent.
    let mut silenced = false;
    let mut lines = LineRewriter::default();
    let mut buf = vec![0u8; 64 * 1024];
    let result: io::Result<bool> = (|| loop {
        if shared.stop.load(Ordering::SeqCst) {
            return Ok(true);
        }
        // Read first, then look at the fault: a chunk that arrives after set_fault()
        // returned is always handled under the new fault.
        // Under a bandwidth cap, read a twentieth of a second's worth at a
        // time, so the pace is even.
        let want = plan
            .rate
            .map_or(buf.len(), |r| usize::try_from(r / 20).unwrap_or(usize::MAX))
            .clamp(1, buf.len());
        let read = src.read(&mut buf[..want]);
        let current = shared.generation.load(Ordering::SeqCst);
        if current != generation {
            let (gen, fault) = shared.fault();
            generation = gen;
            let next = fault.plan(dir);
            if !next.by_line() {
                let pending = lines.flush(&plan.rewrites);
                dst.write_all(&pending)?;
                lines = LineRewriter::default();
            }
            lines.garbler = next.garble.map(|(one_in, seed)| {
                Garbler::new(one_in, seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            });
            lines.line_fn = next.line_fn;
            plan = next;
            passed = 0;
            matches = MatchWindow::default();
            stall_matches = MatchWindow::default();
        }
        let n = match read {
            Ok(0) => {
                // Either end closing ends the connection for the count: a
                // server closes first after LOGOUT, before the client has
                // even read the reply and let another connection start.
                shared.client_gone(id);
                return Ok(false);
            }
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if !plan.stall && !lines.partial.is_empty() {
                    let pending = lines.flush(&plan.rewrites);
                    dst.write_all(&pending)?;
                }
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if plan.stall || silenced {
            continue; // swallowed: a stalled connection says nothing
        }
        let way = if dir == Direction::ToServer { 1 } else { 2 };
        let before = last.swap(way, Ordering::SeqCst);
        if way == 1 && before != 1 {
            let now = shared.waiting_now.fetch_add(1, Ordering::SeqCst) + 1;
            shared.peak_waiting.fetch_max(now, Ordering::SeqCst);
        }
        if before == 1 && way == 2 {
            shared.round_trips.fetch_add(1, Ordering::SeqCst);
            shared.stop_waiting();
        }
        let out = if !plan.by_line() {
            buf[..n].to_vec()
        } else {
            lines.feed(&buf[..n], &plan.rewrites)
        };
        if !plan.delay.is_zero() {
            sleep_unless_stopped(plan.delay, shared);
        }
        let mut limit = out.len();
        let mut cut = false;
        if let Some(max) = plan.cut_after {
            let room = max.saturating_sub(passed);
            if out.len() >= room {
                limit = room;
                cut = true;
            }
        }
        if let Some(end) = matches.scan(&out[..limit], &plan.cut_match) {
            limit = end;
            cut = true;
        }
        if let Some(end) = stall_matches.scan(&out[..limit], &plan.stall_match) {
            limit = end;
            silenced = true;
            shared.cuts.fetch_add(1, Ordering::SeqCst);
            if shared.once.swap(false, Ordering::SeqCst) {
                *lock(&shared.fault) = Fault::None;
                shared.generation.fetch_add(1, Ordering::SeqCst);
            }
        }
        dst.write_all(&out[..limit])?;
        passed += limit;
        shared.forwarded[usize::from(dir == Direction::ToClient)]
            .fetch_add(limit as u64, Ordering::SeqCst);
        if let Some(rate) = plan.rate {
            let secs = limit as f64 / rate as f64;
            sleep_unless_stopped(Duration::from_secs_f64(secs), shared);
        }
        if cut {
            shared.cuts.fetch_add(1, Ordering::SeqCst);
            if shared.once.swap(false, Ordering::SeqCst) {
                *lock(&shared.fault) = Fault::None;
                shared.generation.fetch_add(1, Ordering::SeqCst);
            }
            return Ok(true);
        }
    })();
    match result {
        // EOF from the source: pass the half-close on, let the other pump finish.
        Ok(false) => {
            let _ = dst.shutdown(Shutdown::Write);
        }
        // A cut, a stop or an error: both sides go.
        _ => shared.close(id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewriter_skips_literals_and_handles_split_lines() {
        let rw = vec![(b"STARTTLS".to_vec(), b"X".to_vec())];
        let mut r = LineRewriter::default();
        let mut out = r.feed(b"* CAPABILITY IMAP4rev1 STAR", &rw);
        out.extend(r.feed(b"TTLS\r\n* 1 FETCH (BODY[] {8}\r\nSTARTTLS)\r\n", &rw));
        assert_eq!(
            out,
            b"* CAPABILITY IMAP4rev1 X\r\n* 1 FETCH (BODY[] {8}\r\nSTARTTLS)\r\n"
        );
    }

    #[test]
    fn cut_pattern_split_across_reads() {
        let patterns = vec![b"BODY[] {".to_vec(), b"NEVER".to_vec()];
        let mut w = MatchWindow::default();
        assert_eq!(w.scan(b"* 1 FETCH (BODY[", &patterns), None);
        assert_eq!(w.scan(b"] {5}\r\nhello)", &patterns), Some(3));
        let mut w = MatchWindow::default();
        assert_eq!(w.scan(b"xx BODY[] {12}", &patterns), Some(11));
        assert_eq!(w.scan(b"anything", &[]), None);
    }

    #[test]
    fn garbling_spares_literals_and_line_ends() {
        let mut r = LineRewriter {
            garbler: Some(Garbler::new(1, 7)),
            ..LineRewriter::default()
        };
        let input = b"* 1 FETCH (BODY[] {5}\r\nhello)\r\n";
        let out = r.feed(input, &[]);
        assert_eq!(out.len(), input.len());
        assert_eq!(&out[23..28], b"hello", "the literal passes untouched");
        assert!(out.ends_with(b"\r\n") && out[21..23] == *b"\r\n");
        assert_ne!(
            &out[..21],
            &input[..21],
            "every protocol byte was fair game"
        );
    }

    #[test]
    fn plans_combine() {
        let f = Fault::All(vec![
            Fault::rewrite(Direction::ToClient, " STARTTLS", ""),
            Fault::rewrite(Direction::ToClient, "* OK", "* PREAUTH"),
            Fault::Delay(Duration::from_millis(5)),
            Fault::CutAfter {
                dir: Direction::ToServer,
                bytes: 10,
            },
        ]);
        let to_client = f.plan(Direction::ToClient);
        assert_eq!(to_client.rewrites.len(), 2);
        assert_eq!(to_client.cut_after, None);
        let to_server = f.plan(Direction::ToServer);
        assert_eq!(to_server.cut_after, Some(10));
        assert_eq!(to_server.delay, Duration::from_millis(5));
        assert!(!to_server.stall);
    }
}
