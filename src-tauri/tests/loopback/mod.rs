//! What the sign-in tests' authorization servers on loopback share: one
//! plain HTTP request read and one sent, a form or query parameter, and the
//! owner's browser that follows the sign-in page back to MailFerry.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;

/// The value of `key` in a query or form (`a=1&b=2`), decoded.
pub fn param(q: &str, key: &str) -> String {
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| mailferry::auth::oauth::percent_decode(v))
        .unwrap_or_default()
}

/// One plain HTTP GET: its status line and `Location`.
pub fn get(url: &str) -> (String, Option<String>) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET {} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n",
        if path.is_empty() { "/" } else { path }
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let status = text.lines().next().unwrap_or_default().to_owned();
    let location = text
        .lines()
        .find_map(|l| l.strip_prefix("Location: ").map(str::to_owned));
    (status, location)
}

/// One request read from `stream`: its target and its body.
pub fn read_request(stream: &TcpStream) -> (String, String) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let target = first.split(' ').nth(1).unwrap_or("/").to_owned();
    (target, String::from_utf8(body).unwrap())
}

/// The owner's browser: follows the sign-in page and its redirect back to
/// MailFerry, as a person clicking "Allow" would.
#[derive(Default)]
pub struct StandInBrowser {
    /// Sign-in pages opened.
    pub opened: Mutex<usize>,
}

impl mailferry::auth::oauth::Browser for StandInBrowser {
    fn open(&self, url: &str) -> std::io::Result<()> {
        *self.opened.lock().unwrap() += 1;
        let url = url.to_owned();
        std::thread::spawn(move || {
            let (_, back) = get(&url);
            let (status, _) = get(&back.expect("a redirect back"));
            assert!(status.contains("200"), "{status}");
        });
        Ok(())
    }
}
