//! One real, throw-away Radicale (CalDAV/CardDAV) per test: its own temp
//! dir, config, port and users, stopped by PID when dropped.
//!
//! Debian's `radicale` package (3.1): the `radicale` command of the system
//! Python. Users sign in with HTTP Basic against a plain htpasswd file;
//! each user sees only their own collections (`owner_only`).

use crate::{find_binary, free_port};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether the `radicale` command is installed.
pub fn radicale_available() -> bool {
    find_binary("radicale").is_some()
}

/// A running Radicale on 127.0.0.1.
pub struct Radicale {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    users: Vec<(String, String)>,
}

impl Radicale {
    /// Starts Radicale with these users (name, password); panics when it
    /// cannot start.
    pub fn start(users: &[(&str, &str)]) -> Radicale {
        let binary =
            find_binary("radicale").expect("radicale is installed (Debian package radicale)");
        let dir = tempfile::Builder::new()
            .prefix("mailferry-radicale-")
            .tempdir()
            .expect("temp dir");
        let htpasswd: String = users.iter().map(|(u, p)| format!("{u}:{p}\n")).collect();
        std::fs::write(dir.path().join("users"), htpasswd).expect("write users");
        let mut last_log = String::new();
        for _ in 0..5 {
            let port = free_port();
            let config = format!(
                "[server]\nhosts = 127.0.0.1:{port}\nmax_connections = 64\n\
                 [auth]\ntype = htpasswd\nhtpasswd_filename = {users}\nhtpasswd_encryption = plain\ndelay = 0\n\
                 [storage]\nfilesystem_folder = {storage}\n\
                 [rights]\ntype = owner_only\n\
                 [web]\ntype = none\n\
                 [logging]\nlevel = warning\nmask_passwords = True\n",
                users = dir.path().join("users").display(),
                storage = dir.path().join("collections").display(),
            );
            let config_path = dir.path().join("config");
            std::fs::write(&config_path, config).expect("write config");
            let log = std::fs::File::create(dir.path().join("log")).expect("log file");
            let mut child = Command::new(&binary)
                .arg("--config")
                .arg(&config_path)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log file"))
                .stderr(log)
                .spawn()
                .expect("start radicale");
            if wait_ready(&mut child, port) {
                return Radicale {
                    child,
                    port,
                    dir,
                    users: users
                        .iter()
                        .map(|(u, p)| (u.to_string(), p.to_string()))
                        .collect(),
                };
            }
            let _ = child.kill();
            let _ = child.wait();
            last_log = std::fs::read_to_string(dir.path().join("log")).unwrap_or_default();
        }
        panic!("radicale did not start: {last_log}");
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The folder holding its config, users and collections.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The password of `user`.
    pub fn password(&self, user: &str) -> &str {
        self.users
            .iter()
            .find(|(u, _)| u == user)
            .map(|(_, p)| p.as_str())
            .expect("a user of this server")
    }

    /// One HTTP request as `user` (`Connection: close`), answered as
    /// (status, headers in lower case, body); panics on a transport failure.
    pub fn request(
        &self,
        user: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, Vec<(String, String)>, Vec<u8>) {
        use base64::Engine;
        let auth = base64::engine::general_purpose::STANDARD
            .encode(format!("{user}:{}", self.password(user)));
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Basic {auth}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.port,
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let mut stream = TcpStream::connect(self.addr()).expect("connect to radicale");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        stream.write_all(head.as_bytes()).expect("send");
        stream.write_all(body).expect("send");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).expect("read answer");
        parse_answer(&answer)
    }

    /// Creates an address book (`kind` "addressbook") or a calendar
    /// ("calendar") at `/user/name/` with this display name.
    pub fn create_collection(&self, user: &str, name: &str, kind: &str, display: &str) {
        let resource = match kind {
            "addressbook" => "<C:addressbook xmlns:C=\"urn:ietf:params:xml:ns:carddav\"/>",
            "calendar" => "<C:calendar xmlns:C=\"urn:ietf:params:xml:ns:caldav\"/>",
            other => panic!("unknown collection kind {other}"),
        };
        let display = display
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><mkcol xmlns=\"DAV:\"><set><prop>\
             <resourcetype><collection/>{resource}</resourcetype><displayname>{display}</displayname>\
             </prop></set></mkcol>"
        );
        let (status, _, answer) = self.request(
            user,
            "MKCOL",
            &format!("/{user}/{name}/"),
            &[("Content-Type", "application/xml")],
            body.as_bytes(),
        );
        assert_eq!(
            status,
            201,
            "MKCOL /{user}/{name}/: {}",
            String::from_utf8_lossy(&answer)
        );
    }

    /// Stores one object (a vCard or an iCalendar object) at
    /// `/user/collection/name`; returns the status (201 new, 204 replaced).
    pub fn put(&self, user: &str, collection: &str, name: &str, body: &[u8]) -> u16 {
        let kind = if body.starts_with(b"BEGIN:VCARD") {
            "text/vcard"
        } else {
            "text/calendar"
        };
        let (status, _, answer) = self.request(
            user,
            "PUT",
            &format!("/{user}/{collection}/{name}"),
            &[("Content-Type", kind)],
            body,
        );
        assert!(
            status == 201 || status == 204,
            "PUT {name}: {status} {}",
            String::from_utf8_lossy(&answer)
        );
        status
    }

    /// The bytes of one object as the server serves them, or None (404).
    pub fn get(&self, user: &str, collection: &str, name: &str) -> Option<Vec<u8>> {
        let (status, _, body) = self.request(
            user,
            "GET",
            &format!("/{user}/{collection}/{name}"),
            &[],
            b"",
        );
        match status {
            200 => Some(body),
            404 => None,
            other => panic!("GET {name}: {other}"),
        }
    }

    /// Every object of a collection: (file name, bytes as served), sorted by name.
    pub fn objects(&self, user: &str, collection: &str) -> Vec<(String, Vec<u8>)> {
        let mut names = Vec::new();
        let root = self
            .dir
            .path()
            .join("collections/collection-root")
            .join(user)
            .join(collection);
        if let Ok(entries) = std::fs::read_dir(&root) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if entry.path().is_file() && !name.starts_with('.') {
                    names.push(name);
                }
            }
        }
        names.sort();
        names
            .into_iter()
            .filter_map(|n| self.get(user, collection, &n).map(|b| (n, b)))
            .collect()
    }

    /// The collections of `user` (folder names), sorted.
    pub fn collections(&self, user: &str) -> Vec<String> {
        let root = self
            .dir
            .path()
            .join("collections/collection-root")
            .join(user);
        let mut names: Vec<String> = std::fs::read_dir(root)
            .map(|entries| {
                entries
                    .flatten()
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }
}

impl Drop for Radicale {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the server answers on `port`, or its process ended.
fn wait_ready(child: &mut Child, port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let ok = s
                .write_all(b"OPTIONS / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .is_ok();
            let mut buf = [0u8; 12];
            if ok && s.read_exact(&mut buf).is_ok() && buf.starts_with(b"HTTP/") {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn parse_answer(answer: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer");
    let head = String::from_utf8_lossy(&answer[..split]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect::<Vec<_>>();
    let mut body = answer[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"))
    {
        body = unchunk(&body);
    }
    (status, headers, body)
}

fn unchunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = body.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&body[..end])
                .split(';')
                .next()
                .unwrap_or("0")
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[end + 2..end + 2 + size]);
        body = &body[end + 2 + size + 2..];
    }
}
