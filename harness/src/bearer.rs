//! A contacts and calendar server that takes only OAuth bearer tokens, as
//! Google's do: a front on 127.0.0.1 that turns down every request without
//! `Authorization: Bearer` and a token it takes (401, as Google answers),
//! and forwards the others to a real Radicale server, signed in there with
//! the account's password. Which tokens it takes is the test's to say: one
//! fixed token, or tokens that run out (asked of a token service's
//! introspection).

use base64::Engine;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// Whether a bearer token is taken for one request.
type Takes = dyn Fn(&str) -> bool + Send + Sync;

/// The running front; its thread lives as long as the test process.
pub struct BearerFront {
    /// Its address, `http://127.0.0.1:PORT`.
    pub url: String,
    /// The bearer tokens it turned down, in order (`(none)` for a request
    /// without one).
    pub refused: Arc<Mutex<Vec<String>>>,
    /// How many requests it let through.
    pub accepted: Arc<Mutex<usize>>,
}

impl BearerFront {
    /// A front before the Radicale server at `radicale`, signing in there
    /// as `user`/`password`, letting a request through when `takes` says
    /// its token is good.
    pub fn start(
        radicale: SocketAddr,
        user: &str,
        password: &str,
        takes: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) -> BearerFront {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let refused = Arc::new(Mutex::new(Vec::new()));
        let accepted = Arc::new(Mutex::new(0));
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let takes: Arc<Takes> = Arc::new(takes);
        let (seen_refused, seen_accepted) = (refused.clone(), accepted.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (refused, accepted, basic, takes) = (
                    seen_refused.clone(),
                    seen_accepted.clone(),
                    basic.clone(),
                    takes.clone(),
                );
                std::thread::spawn(move || {
                    answer(stream, radicale, &basic, &*takes, &refused, &accepted)
                });
            }
        });
        BearerFront {
            url,
            refused,
            accepted,
        }
    }
}

/// One request: checked, then forwarded (one request a connection).
fn answer(
    stream: TcpStream,
    radicale: SocketAddr,
    basic: &str,
    takes: &Takes,
    refused: &Mutex<Vec<String>>,
    accepted: &Mutex<usize>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    let Some((head, body)) = read(&mut reader) else {
        return;
    };
    let bearer = head.iter().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("authorization")
            .then(|| v.trim().strip_prefix("Bearer ").map(str::to_owned))
            .flatten()
    });
    if !bearer.as_deref().is_some_and(takes) {
        refused
            .lock()
            .unwrap()
            .push(bearer.unwrap_or_else(|| "(none)".into()));
        let _ = write!(
            stream,
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"https://accounts.google.com/\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        return;
    }
    *accepted.lock().unwrap() += 1;
    let mut upstream = TcpStream::connect(radicale).unwrap();
    let mut out = Vec::new();
    out.extend_from_slice(head[0].as_bytes());
    out.extend_from_slice(b"\r\n");
    for line in &head[1..] {
        let name = line.split(':').next().unwrap_or_default();
        if !name.eq_ignore_ascii_case("authorization") && !name.eq_ignore_ascii_case("connection") {
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(
        format!("Authorization: Basic {basic}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    out.extend_from_slice(&body);
    upstream.write_all(&out).unwrap();
    let mut answer = Vec::new();
    upstream.read_to_end(&mut answer).unwrap();
    // Back to the client, closing after it.
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(answer.len());
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let mut back = String::new();
    for line in head.split("\r\n") {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            back.push_str(line);
            back.push_str("\r\n");
        }
    }
    back.push_str("Connection: close\r\n\r\n");
    let _ = stream.write_all(back.as_bytes());
    let _ = stream.write_all(answer.get(split + 4..).unwrap_or_default());
}

/// One request: its head's lines and its body; None at the end.
fn read(reader: &mut BufReader<TcpStream>) -> Option<(Vec<String>, Vec<u8>)> {
    let mut head = Vec::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end().to_owned();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().ok()?;
        }
        head.push(line);
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((head, body))
}
