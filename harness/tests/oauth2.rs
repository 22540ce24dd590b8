//! `DovecotBuilder::oauth2_introspection`: the instance advertises XOAUTH2 and
//! OAUTHBEARER, signs in a token its introspection endpoint calls active, and
//! still accepts passwords.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use mailferry_harness::{Dovecot, ImapSession, Layout};

/// Answers every POST: active (as `carol`) when the form's `token` is `good-token`.
/// Returns the URL and the bodies received.
fn introspection() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/introspect", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let bodies = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let body = String::from_utf8_lossy(&body).into_owned();
            // Dovecot sends `token=…&client_id=&client_secret=`.
            let token = body.split('&').find_map(|kv| kv.strip_prefix("token="));
            let answer = if token == Some("good-token") {
                r#"{"active": true, "username": "carol"}"#
            } else {
                r#"{"active": false}"#
            };
            bodies.lock().unwrap().push(body);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (url, seen)
}

fn xoauth2(token: &str) -> String {
    STANDARD.encode(format!("user=carol\x01auth=Bearer {token}\x01\x01"))
}

#[test]
fn oauth2_introspection_signs_in_tokens_and_keeps_passwords() {
    let (url, bodies) = introspection();
    let server = Dovecot::builder()
        .layout(Layout::Exchange)
        .user("carol", "carolpass")
        .oauth2_introspection(url)
        .build();

    let mut s = ImapSession::connect(server.addr_plain()).unwrap();
    let caps = s.command("CAPABILITY").unwrap();
    let caps = caps.untagged_text().join(" ");
    for mech in ["AUTH=XOAUTH2", "AUTH=OAUTHBEARER", "SASL-IR"] {
        assert!(caps.contains(mech), "the server offers {mech}: {caps}");
    }
    let reply = s
        .command(&format!("AUTHENTICATE XOAUTH2 {}", xoauth2("good-token")))
        .unwrap();
    assert!(reply.is_ok(), "a good token signs in: {}", reply.tagged);
    s.logout();
    assert_eq!(
        bodies.lock().unwrap().as_slice(),
        ["token=good-token&client_id=&client_secret="],
        "Dovecot asked the endpoint about the token"
    );

    // Passwords still work next to tokens.
    let mut s = ImapSession::connect(server.addr_plain()).unwrap();
    let reply = s.login("carol", "carolpass").unwrap();
    assert!(reply.is_ok(), "the password signs in: {}", reply.tagged);
    s.logout();
    let mut s = ImapSession::connect(server.addr_plain()).unwrap();
    let reply = s.authenticate_plain("carol", "carolpass").unwrap();
    assert!(reply.is_ok(), "PLAIN still works: {}", reply.tagged);
    s.logout();
}
