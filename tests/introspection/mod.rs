//! A token-introspection endpoint (RFC 7662) on 127.0.0.1 for Dovecot's
//! `oauth2` passdb: a tiny blocking HTTP server that calls the tokens it was
//! given active, for their user, and every other token inactive.

// Each test binary compiles this module (tests/it, tests/secrets.rs and the
// desktop shell's wizard test) and uses part of it.
#![allow(dead_code)]

use mailferry_harness::{Dovecot, Layout};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

/// A token's user, and how many more sign-ins it is good for (None: any).
type Grant = (String, Option<usize>);

/// The running endpoint; its thread lives as long as the test process.
#[derive(Clone)]
pub struct Introspection {
    url: String,
    tokens: Arc<Mutex<HashMap<String, Grant>>>,
    asked: Arc<Mutex<usize>>,
}

impl Introspection {
    /// Starts the endpoint on a free loopback port.
    pub fn start() -> Introspection {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let me = Introspection {
            url: format!("http://{}/introspect", listener.local_addr().unwrap()),
            tokens: Arc::default(),
            asked: Arc::default(),
        };
        let server = me.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let server = server.clone();
                std::thread::spawn(move || server.answer(stream));
            }
        });
        me
    }

    /// The URL to give `DovecotBuilder::oauth2_introspection`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A Dovecot (Exchange layout) with the user `carol` / `carolpass` that
    /// also takes the tokens this endpoint calls active.
    pub fn dovecot(&self) -> Dovecot {
        Dovecot::builder()
            .layout(Layout::Exchange)
            .user("carol", "carolpass")
            .oauth2_introspection(self.url())
            .build()
    }

    /// From now on `token` is active and signs in `user`.
    pub fn grant(&self, token: &str, user: &str) {
        self.tokens
            .lock()
            .unwrap()
            .insert(token.to_owned(), (user.to_owned(), None));
    }

    /// From now on `token` signs in `user` `times` times, then expires (a
    /// token that runs out in the middle of a long run).
    pub fn grant_for(&self, token: &str, user: &str, times: usize) {
        self.tokens
            .lock()
            .unwrap()
            .insert(token.to_owned(), (user.to_owned(), Some(times)));
    }

    /// From now on `token` is inactive (expired or revoked).
    pub fn revoke(&self, token: &str) {
        self.tokens.lock().unwrap().remove(token);
    }

    /// How many tokens Dovecot asked about.
    pub fn asked(&self) -> usize {
        *self.asked.lock().unwrap()
    }

    /// Asks about `token` as a server does for one sign-in (or one
    /// request): its user when it is active, using up one of its times.
    pub fn take(&self, token: &str) -> Option<String> {
        *self.asked.lock().unwrap() += 1;
        match self.tokens.lock().unwrap().get_mut(token) {
            Some((_, Some(0))) | None => None,
            Some((user, left)) => {
                if let Some(n) = left {
                    *n -= 1;
                }
                Some(user.clone())
            }
        }
    }

    fn answer(&self, mut stream: std::net::TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        // Dovecot keeps the connection alive; answer requests until it closes.
        loop {
            let Some((_, body)) = read_request(&mut reader) else {
                return;
            };
            // `token=…&client_id=&client_secret=`; test tokens need no
            // percent-decoding.
            let body = String::from_utf8_lossy(&body).into_owned();
            let token = body
                .split('&')
                .find_map(|kv| kv.strip_prefix("token="))
                .unwrap_or("");
            let answer = match self.take(token) {
                None => r#"{"active": false}"#.to_owned(),
                Some(user) => format!(r#"{{"active": true, "username": "{user}"}}"#),
            };
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{answer}",
                answer.len()
            );
            if stream.write_all(reply.as_bytes()).is_err() {
                return;
            }
        }
    }
}

/// Reads one HTTP/1.1 request from `reader`: its request line and body.
/// None when the peer closed the connection (or sent something broken).
pub fn read_request(reader: &mut impl BufRead) -> Option<(String, Vec<u8>)> {
    let mut first = String::new();
    if reader.read_line(&mut first).ok()? == 0 {
        return None;
    }
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().ok()?;
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((first.trim_end().to_owned(), body))
}

/// Whether `program` is on the PATH.
fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether this process is the run inside the Secret Service. When it is
/// not, `test` (a test of `module`, as `module_path!()` names it) first runs
/// again inside one; the caller then returns.
pub fn inside_secret_service(module: &str, test: &str) -> bool {
    if std::env::var_os("MAILFERRY_IN_SECRET_SERVICE").is_some() {
        return true;
    }
    rerun_under_secret_service(module, test);
    false
}

/// Runs this test binary's `test` of `module` again inside a private D-Bus
/// session with an unlocked GNOME Keyring; returns false when they are not
/// installed.
fn rerun_under_secret_service(module: &str, test: &str) -> bool {
    if !have("dbus-run-session") || !have("gnome-keyring-daemon") {
        eprintln!(
            "skipping the Secret Service run: dbus-run-session or gnome-keyring-daemon is missing"
        );
        return false;
    }
    let home = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    // libtest names a test by its path below the crate root.
    let test = match module.split_once("::") {
        Some((_, below)) => format!("{below}::{test}"),
        None => test.to_owned(),
    };
    let script = format!(
        "printf 'test-keyring-pw' | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec '{}' --exact {test} --nocapture",
        exe.display()
    );
    let out = Command::new("dbus-run-session")
        .args(["--", "sh", "-c", &script])
        .env("MAILFERRY_IN_SECRET_SERVICE", "1")
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env_remove("XDG_RUNTIME_DIR")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let shown = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && shown.contains("1 passed"),
        "the run under the Secret Service failed:\n{shown}"
    );
    true
}

/// A fresh RSA key pair in `dir`: the key file Google's console would
/// download (pointing at `token_url`), and the public key's PEM file.
pub fn service_account_key(dir: &std::path::Path, token_url: &str) -> (std::path::PathBuf, String) {
    let key = dir.join("key.pem");
    let public = dir.join("public.pem");
    for args in [
        vec![
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ],
        vec!["pkey", "-pubout", "-in", key.to_str().unwrap(), "-out"],
    ] {
        let target = if args[0] == "genpkey" { &key } else { &public };
        let status = std::process::Command::new("openssl")
            .args(&args)
            .arg(target)
            .output()
            .expect("openssl runs");
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
    }
    let pem = std::fs::read_to_string(&key).unwrap();
    let file = dir.join("service-account.json");
    std::fs::write(
        &file,
        serde_json::json!({
            "type": "service_account",
            "project_id": "test-project",
            "private_key_id": "key-id-1",
            "private_key": pem,
            "client_email": "mailferry@test-project.iam.gserviceaccount.com",
            "client_id": "1234567890",
            "token_uri": token_url,
        })
        .to_string(),
    )
    .unwrap();
    (public, pem)
}
