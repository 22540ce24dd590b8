//! A tiny HTTP and HTTPS server on 127.0.0.1 serving fixed documents by
//! path (autoconfig files, in the discovery tests), recording every
//! request. The HTTPS one has its own CA, like [`crate::Dovecot`].

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::certs::TlsMaterial;

/// One request as the server read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// `GET` or `POST`.
    pub method: String,
    /// The body (a POST's).
    pub body: String,
    /// The `Host` header.
    pub host: String,
    /// The path with its query (`/mail/config-v1.1.xml?emailaddress=…`).
    pub target: String,
    /// The `Authorization` header, empty when none.
    pub authorization: String,
}

/// An HTTP(S) server answering `200` with the document registered for a
/// path (the query ignored; GET or POST alike), `302` for a path
/// registered as a redirect, the answers registered for a path with its
/// exact query ([`HttpServer::answer`]) before those, and `404` otherwise.
/// Stops when dropped.
pub struct HttpServer {
    addr: SocketAddr,
    documents: Arc<Mutex<HashMap<String, Answer>>>,
    answers: Queued,
    requests: Arc<Mutex<Vec<Request>>>,
    ca_pem: Option<String>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// A plain HTTP server on a random port of 127.0.0.1.
    pub fn start() -> HttpServer {
        Self::launch(None)
    }

    /// An HTTPS server whose certificate is for `names`, issued by a CA of
    /// its own ([`HttpServer::ca_pem`]).
    pub fn start_tls(names: &[&str]) -> HttpServer {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        Self::launch(Some(TlsMaterial::generate(&names, "http", false)))
    }

    fn launch(tls: Option<TlsMaterial>) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the HTTP server");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let documents: Arc<Mutex<HashMap<String, Answer>>> = Arc::default();
        let answers: Queued = Arc::default();
        let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let ca_pem = tls.as_ref().map(|t| t.ca_pem.clone());
        let config = tls.map(|t| server_config(&t));
        let thread = {
            let (documents, answers, requests, stop) = (
                documents.clone(),
                answers.clone(),
                requests.clone(),
                stop.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((tcp, _)) => {
                            let _ = tcp.set_nonblocking(false);
                            let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
                            let (documents, answers, requests, config) = (
                                documents.clone(),
                                answers.clone(),
                                requests.clone(),
                                config.clone(),
                            );
                            std::thread::spawn(move || match config {
                                Some(config) => {
                                    let Ok(conn) = rustls::ServerConnection::new(config) else {
                                        return;
                                    };
                                    let mut stream = rustls::StreamOwned::new(conn, tcp);
                                    serve(&mut stream, &documents, &answers, &requests);
                                }
                                None => {
                                    let mut tcp = tcp;
                                    serve(&mut tcp, &documents, &answers, &requests);
                                }
                            });
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            })
        };
        HttpServer {
            addr,
            documents,
            answers,
            requests,
            ca_pem,
            stop,
            thread: Some(thread),
        }
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The HTTPS server's CA certificate (PEM); `None` for plain HTTP.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Serves `body` at `path` (`/mail/config-v1.1.xml`).
    pub fn serve(&self, path: &str, body: &str) -> &Self {
        self.documents
            .lock()
            .unwrap()
            .insert(path.to_owned(), Answer::Document(body.to_owned()));
        self
    }

    /// Answers `target` (a path with its exact query, as the client sends
    /// it) with `status`, `headers` and `body`, after any answers queued
    /// for it before; the last one queued is repeated.
    pub fn answer(&self, target: &str, status: u16, headers: &[(&str, &str)], body: &str) -> &Self {
        let reply = Answer::Reply {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.to_owned(),
        };
        self.answers
            .lock()
            .unwrap()
            .entry(target.to_owned())
            .or_default()
            .push(reply);
        self
    }

    /// Answers `path` with a `302` redirect to `location`.
    pub fn redirect(&self, path: &str, location: &str) -> &Self {
        self.documents
            .lock()
            .unwrap()
            .insert(path.to_owned(), Answer::Redirect(location.to_owned()));
        self
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub(crate) fn server_config(tls: &TlsMaterial) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = vec![CertificateDer::from_pem_slice(tls.leaf_pem.as_bytes()).expect("leaf PEM")];
    let key = PrivateKeyDer::from_pem_slice(tls.leaf_key_pem.as_bytes()).expect("key PEM");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server certificate");
    Arc::new(config)
}

/// A request as read from a connection.
pub(crate) struct Incoming {
    pub(crate) method: String,
    pub(crate) target: String,
    headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Incoming {
    /// Every header (names in lower case).
    pub(crate) fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// A header's value (name case-insensitive), empty when absent.
    pub(crate) fn header(&self, name: &str) -> String {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }
}

/// Reads one request (its body up to `max_body` bytes); None when the
/// connection closed or broke first.
pub(crate) fn read_request(stream: &mut (impl Read + Write), max_body: usize) -> Option<Incoming> {
    let mut reader = BufReader::new(&mut *stream);
    let (method, target, headers) = read_head(&mut reader)?;
    let mut read = Incoming {
        method,
        target,
        headers,
        body: Vec::new(),
    };
    let length = read
        .header("content-length")
        .parse()
        .unwrap_or(0usize)
        .min(max_body);
    read.body = vec![0u8; length];
    reader.read_exact(&mut read.body).ok()?;
    Some(read)
}

/// What a path is answered with.
#[derive(Clone)]
enum Answer {
    Document(String),
    Redirect(String),
    Reply {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
}

/// Answers by exact target, each queue served in order, its last repeated.
type Queued = Arc<Mutex<HashMap<String, Vec<Answer>>>>;

fn serve(
    stream: &mut (impl Read + Write),
    documents: &Mutex<HashMap<String, Answer>>,
    answers: &Mutex<HashMap<String, Vec<Answer>>>,
    requests: &Mutex<Vec<Request>>,
) {
    let Some(read) = read_request(stream, 1 << 20) else {
        return;
    };
    let host = read.header("host");
    let authorization = read.header("authorization");
    let (method, target, body) = (read.method, read.target, read.body);
    let body = String::from_utf8_lossy(&body).into_owned();
    let path = target.split('?').next().unwrap_or("").to_owned();
    let queued = {
        let mut answers = answers.lock().unwrap();
        match answers.get_mut(&target) {
            Some(queue) if queue.len() > 1 => Some(queue.remove(0)),
            Some(queue) => queue.first().cloned(),
            None => None,
        }
    };
    requests.lock().unwrap().push(Request {
        method,
        body,
        host,
        target,
        authorization,
    });
    let document = queued.or_else(|| documents.lock().unwrap().get(&path).cloned());
    let response = match document {
        Some(Answer::Document(body)) => format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
        Some(Answer::Reply {
            status,
            headers,
            body,
        }) => {
            let mut head = format!("HTTP/1.1 {status} Answer\r\nContent-Type: application/json\r\n");
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            format!(
                "{head}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
        }
        Some(Answer::Redirect(location)) => format!(
            "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
        None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned(),
    };
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
}

/// A request's method, target and headers (names in lower case).
pub(crate) type Head = (String, String, Vec<(String, String)>);

/// A request's first line and headers; `None` when the client sent
/// nothing.
pub(crate) fn read_head(reader: &mut impl BufRead) -> Option<Head> {
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return None;
    }
    let mut words = line.split_whitespace();
    let method = words.next().unwrap_or("").to_owned();
    let target = words.next().unwrap_or("/").to_owned();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 {
            break;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    Some((method, target, headers))
}
