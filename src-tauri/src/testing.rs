//! Test helpers: a listener on the loopback address that records every
//! connection made to it and what was sent, so a test can prove a secret
//! never left (or did reach) a given address.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What one connection sent before it closed or went quiet.
pub type Received = Vec<u8>;

/// A recording listener on `127.0.0.1`, alive until the test ends.
pub struct Recorder {
    /// The port it listens on.
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Recorder {
    /// Records and closes each connection without answering.
    pub fn silent() -> Recorder {
        Recorder::answering(|_, _| None)
    }

    /// Records each connection, then writes `answer(own port, what it
    /// sent)`, if any, and closes it. Reading stops at the end of an HTTP request (head and
    /// `Content-Length` body), at the peer's end, or after 300 ms of quiet.
    pub fn answering(
        answer: impl Fn(u16, &[u8]) -> Option<Vec<u8>> + Send + Sync + 'static,
    ) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().unwrap().port();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let log = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_millis(300)));
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                let started = Instant::now();
                while started.elapsed() < Duration::from_secs(5) && !http_complete(&got) {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let reply = answer(port, &got);
                log.lock().unwrap().push(got);
                if let Some(reply) = reply {
                    let _ = stream.write_all(&reply);
                    let _ = stream.flush();
                }
            }
        });
        Recorder { port, received }
    }

    /// Everything received so far, one entry per connection.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Did `needle` arrive in any connection?
    pub fn saw(&self, needle: &str) -> bool {
        self.received()
            .iter()
            .any(|r| String::from_utf8_lossy(r).contains(needle))
    }
}

/// An HTTP/1.1 answer with a JSON body.
pub fn http_json(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Has a whole HTTP request (head and body) arrived?
fn http_complete(got: &[u8]) -> bool {
    let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    got.len() >= end + 4 + length
}
