//! A TLS front for a plain HTTP server on 127.0.0.1 (a Radicale): HTTPS
//! with a certificate for the names given, issued by a CA of its own
//! ([`TlsFront::ca_pem`]); each request is passed on over plain HTTP and
//! its answer sent back, one request per connection. Stops when dropped.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::certs::TlsMaterial;
use crate::http::{read_request, server_config};

/// HTTPS on a random port of 127.0.0.1, passed on to a plain server.
pub struct TlsFront {
    port: u16,
    ca_pem: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TlsFront {
    /// A front for `backend` whose certificate is for `names`.
    pub fn start(backend: SocketAddr, names: &[&str]) -> TlsFront {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let tls = TlsMaterial::generate(&names, "front", false);
        let config = server_config(&tls);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the TLS front");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let port = listener.local_addr().expect("local address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Ok((tcp, _)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    };
                    let _ = tcp.set_nonblocking(false);
                    let _ = tcp.set_read_timeout(Some(Duration::from_secs(30)));
                    let config = config.clone();
                    std::thread::spawn(move || {
                        let Ok(conn) = rustls::ServerConnection::new(config) else {
                            return;
                        };
                        let mut stream = rustls::StreamOwned::new(conn, tcp);
                        pass_on(&mut stream, backend);
                        stream.conn.send_close_notify();
                        let _ = stream.flush();
                    });
                }
            })
        };
        TlsFront {
            port,
            ca_pem: tls.ca_pem,
            stop,
            thread: Some(thread),
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its CA certificate (PEM).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one request, sends it to `backend` (`Connection: close`), and
/// writes its answer back, itself marked `Connection: close`.
fn pass_on(stream: &mut (impl Read + Write), backend: SocketAddr) {
    let Some(request) = read_request(stream, 256 << 20) else {
        return;
    };
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.target);
    for (name, value) in request.headers() {
        if name != "connection" && name != "content-length" {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        request.body.len()
    ));
    let Ok(mut tcp) = TcpStream::connect(backend) else {
        return;
    };
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(30)));
    if tcp.write_all(head.as_bytes()).is_err() || tcp.write_all(&request.body).is_err() {
        return;
    }
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer);
    let Some(split) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return;
    };
    let answer_head = String::from_utf8_lossy(&answer[..split]);
    let mut out: String = answer_head
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    out.push_str("Connection: close\r\n\r\n");
    let _ = stream.write_all(out.as_bytes());
    let _ = stream.write_all(&answer[split + 4..]);
    let _ = stream.flush();
}
