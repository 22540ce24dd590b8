//! A small Google Cloud Storage on 127.0.0.1: the XML API requests
//! object_store's GCS client makes (GET, HEAD, PUT and DELETE of an object
//! at `/{bucket}/{name}`), with object generations and the
//! `x-goog-if-generation-match` precondition (`ifGenerationMatch` in the
//! query too) as Google's reference documents them: a write whose
//! precondition does not hold is refused with `412 Precondition Failed`,
//! `0` meaning "there must be no such object".
//!
//! Every storage request must carry a bearer token: either a service
//! account's self-signed JWT (RS256, Google's AIP-4111: `kid` the key's id,
//! `iss` its e-mail, a scope that reaches Cloud Storage), checked against the key this server
//! made, or the token its metadata server
//! (`/computeMetadata/v1/instance/service-accounts/default/token`, with
//! `Metadata-Flavor: Google`) handed out, as GKE's and Compute Engine's do.
//! Each request is recorded with its headers and the status answered.

use std::collections::HashMap;
use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;

/// The service account the server trusts (its key is made at start).
const ACCOUNT_EMAIL: &str = "mailferry-worker@mailferry-test.iam.gserviceaccount.com";

/// How a request signed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignedIn {
    /// No usable bearer token (answered `401`), or none needed (the
    /// metadata server).
    No,
    /// A JWT signed with the service account's key.
    ServiceAccount,
    /// The metadata server's token for the machine's own account.
    Metadata,
}

/// One request as the server read it, and how it answered.
#[derive(Clone, Debug)]
pub struct GcsRequest {
    /// `GET`, `PUT`, …
    pub method: String,
    /// The path with its query (`/bucket/jobs%2Fp%2Edb`).
    pub target: String,
    /// The object's name, decoded (`jobs/p.db`); empty for other paths.
    pub object: String,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// How it signed in.
    pub signed_in: SignedIn,
    /// The status answered.
    pub status: u16,
}

impl GcsRequest {
    /// The value of header `name` (lower case), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One stored object.
#[derive(Clone, Debug)]
struct Object {
    bytes: Vec<u8>,
    generation: u64,
    updated: SystemTime,
}

#[derive(Default)]
struct Shared {
    buckets: HashMap<String, HashMap<String, Object>>,
    requests: Vec<GcsRequest>,
    last_generation: u64,
}

/// What the connection threads need.
struct Server {
    shared: Mutex<Shared>,
    /// The service account's public key (PKCS#1 `RSAPublicKey`, DER).
    public_key: Vec<u8>,
    key_id: String,
    metadata_token: String,
}

/// The server. Stops when dropped.
pub struct GcsServer {
    addr: SocketAddr,
    server: Arc<Server>,
    key_pem: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl GcsServer {
    /// A server with the empty bucket `bucket`, and a new service account
    /// key (made by the `openssl` program: ring cannot make RSA keys);
    /// `None` when `openssl` cannot run here.
    pub fn start(bucket: &str) -> Option<GcsServer> {
        let made = std::process::Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ])
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|out| out.status.success())?;
        let key_pem = String::from_utf8(made.stdout).expect("openssl writes PEM");
        let public_key = {
            use rustls::pki_types::pem::PemObject;
            let der = rustls::pki_types::PrivatePkcs8KeyDer::from_pem_slice(key_pem.as_bytes())
                .expect("a PKCS#8 key");
            let pair = ring::signature::RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
                .expect("an RSA key");
            use ring::signature::KeyPair;
            pair.public_key().as_ref().to_vec()
        };
        let mut shared = Shared::default();
        shared.buckets.insert(bucket.to_owned(), HashMap::new());
        let server = Arc::new(Server {
            shared: Mutex::new(shared),
            public_key,
            key_id: random_hex(20),
            metadata_token: format!("ya29.metadata-{}", random_hex(16)),
        });
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the GCS server");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (server, stop) = (server.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((tcp, _)) => {
                            let server = server.clone();
                            std::thread::spawn(move || server.connection(tcp));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            })
        };
        Some(GcsServer {
            addr,
            server,
            key_pem,
            stop,
            thread: Some(thread),
        })
    }

    /// Its address for `GOOGLE_BASE_URL` (`http://127.0.0.1:PORT`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Its address for `GCE_METADATA_HOST` (`127.0.0.1:PORT`): it is also
    /// the metadata server.
    pub fn metadata_host(&self) -> String {
        self.addr.to_string()
    }

    /// The service account's key file, as the Cloud console downloads it.
    pub fn service_account_json(&self) -> String {
        format!(
            "{{\"type\":\"service_account\",\"project_id\":\"mailferry-test\",\
             \"private_key_id\":\"{}\",\"private_key\":{},\"client_email\":\"{ACCOUNT_EMAIL}\",\
             \"client_id\":\"100000000000000000001\",\"token_uri\":\"{}/token\"}}",
            self.server.key_id,
            json_string(&self.key_pem),
            self.base_url()
        )
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<GcsRequest> {
        self.server.shared.lock().unwrap().requests.clone()
    }

    /// The object `name` in `bucket`: its bytes and generation.
    pub fn object(&self, bucket: &str, name: &str) -> Option<(Vec<u8>, u64)> {
        let shared = self.server.shared.lock().unwrap();
        let object = shared.buckets.get(bucket)?.get(name)?;
        Some((object.bytes.clone(), object.generation))
    }
}

impl Drop for GcsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What a request is answered with.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn new(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn header(mut self, name: &str, value: impl ToString) -> Answer {
        self.headers.push((name.to_owned(), value.to_string()));
        self
    }

    /// An error in the XML API's shape.
    fn error(status: u16, code: &str, message: &str) -> Answer {
        let mut answer =
            Answer::new(status).header("Content-Type", "application/xml; charset=UTF-8");
        answer.body = format!(
            "<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>\
             <Message>{message}</Message></Error>"
        )
        .into_bytes();
        answer
    }

    /// An object's metadata headers, as the XML API sends them.
    fn object_headers(self, object: &Object) -> Answer {
        let md5 = md5_digest(&object.bytes);
        let hex: String = md5.iter().map(|b| format!("{b:02x}")).collect();
        self.header("ETag", format!("\"{hex}\""))
            .header("x-goog-generation", object.generation)
            .header("x-goog-metageneration", 1)
            .header("x-goog-hash", format!("md5={}", STANDARD.encode(md5)))
            .header("x-goog-stored-content-encoding", "identity")
            .header("x-goog-stored-content-length", object.bytes.len())
            .header("x-goog-storage-class", "STANDARD")
            .header("Last-Modified", http_date(object.updated))
    }
}

impl Server {
    fn connection(&self, tcp: TcpStream) {
        let _ = tcp.set_nonblocking(false);
        let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
        let mut stream = tcp;
        let mut reader = BufReader::new(&mut stream);
        let Some((method, target, headers)) = crate::http::read_head(&mut reader) else {
            return;
        };
        let mut request = GcsRequest {
            method,
            target,
            object: String::new(),
            headers,
            signed_in: SignedIn::No,
            status: 0,
        };
        let length = request
            .header("content-length")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(0)
            .min(256 << 20);
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        drop(reader);
        let answer = self.answer(&mut request, body);
        request.status = answer.status;
        self.shared.lock().unwrap().requests.push(request);
        let mut head = format!("HTTP/1.1 {} {}\r\n", answer.status, reason(answer.status));
        for (name, value) in &answer.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            answer.body.len()
        ));
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(&answer.body);
        let _ = stream.flush();
    }

    fn answer(&self, request: &mut GcsRequest, body: Vec<u8>) -> Answer {
        let (path, query) = request
            .target
            .split_once('?')
            .unwrap_or((&request.target, ""));
        let query: HashMap<String, String> = query
            .split('&')
            .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
            .filter(|(k, _)| !k.is_empty())
            .map(|(k, v)| (percent_decode(k), percent_decode(v)))
            .collect();
        if path == "/computeMetadata/v1/instance/service-accounts/default/token" {
            return self.metadata_token(request);
        }
        request.signed_in = self.signed_in(request.header("authorization").unwrap_or(""));
        if request.signed_in == SignedIn::No {
            return Answer::error(
                401,
                "AuthenticationRequired",
                "Authentication required: no valid bearer token.",
            )
            .header("WWW-Authenticate", "Bearer realm=\"storage\"");
        }
        let Some((bucket, name)) = path.trim_start_matches('/').split_once('/') else {
            return Answer::error(
                501,
                "NotImplemented",
                "Only object requests are served here.",
            );
        };
        let (bucket, name) = (percent_decode(bucket), percent_decode(name));
        request.object = name.clone();
        if name.is_empty() || request.header("x-goog-copy-source").is_some() {
            return Answer::error(
                501,
                "NotImplemented",
                "Only object requests are served here.",
            );
        }
        let mut shared = self.shared.lock().unwrap();
        let Some(objects) = shared.buckets.get(&bucket) else {
            return Answer::error(404, "NoSuchBucket", "The specified bucket does not exist.");
        };
        let current = objects.get(&name).cloned();
        let condition = match request
            .header("x-goog-if-generation-match")
            .or(query.get("ifGenerationMatch").map(String::as_str))
            .map(str::parse::<u64>)
        {
            None => None,
            Some(Ok(generation)) => Some(generation),
            Some(Err(_)) => {
                return Answer::error(
                    400,
                    "InvalidArgument",
                    "Invalid argument: the generation to match is not a number.",
                )
            }
        };
        let holds = condition.is_none_or(|g| g == current.as_ref().map_or(0, |o| o.generation));
        match request.method.as_str() {
            "GET" | "HEAD" => {
                let wanted = query.get("generation").and_then(|g| g.parse::<u64>().ok());
                let Some(object) = current.filter(|o| wanted.is_none_or(|g| g == o.generation))
                else {
                    return Answer::error(404, "NoSuchKey", "The specified key does not exist.");
                };
                if !holds {
                    return precondition_failed();
                }
                let mut answer = Answer::new(200)
                    .header("Content-Type", "application/octet-stream")
                    .object_headers(&object);
                if request.method == "GET" {
                    answer.body = object.bytes;
                }
                answer
            }
            "PUT" => {
                if !holds {
                    return precondition_failed();
                }
                let now = SystemTime::now();
                let micros = now.duration_since(UNIX_EPOCH).unwrap().as_micros() as u64;
                let generation = micros.max(shared.last_generation + 1);
                shared.last_generation = generation;
                let object = Object {
                    bytes: body,
                    generation,
                    updated: now,
                };
                let answer = Answer::new(200).object_headers(&object);
                shared
                    .buckets
                    .get_mut(&bucket)
                    .expect("the bucket is there")
                    .insert(name, object);
                answer
            }
            "DELETE" => {
                if current.is_none() {
                    return Answer::error(404, "NoSuchKey", "The specified key does not exist.");
                }
                if !holds {
                    return precondition_failed();
                }
                shared
                    .buckets
                    .get_mut(&bucket)
                    .expect("the bucket is there")
                    .remove(&name);
                Answer::new(204)
            }
            _ => Answer::error(
                405,
                "MethodNotAllowed",
                "The specified method is not allowed against this resource.",
            ),
        }
    }

    /// The metadata server's token for the machine's own account.
    fn metadata_token(&self, request: &GcsRequest) -> Answer {
        if request.header("metadata-flavor") != Some("Google") {
            return Answer::new(403);
        }
        let mut answer = Answer::new(200)
            .header("Metadata-Flavor", "Google")
            .header("Content-Type", "application/json");
        answer.body = format!(
            "{{\"access_token\":\"{}\",\"expires_in\":3599,\"token_type\":\"Bearer\"}}",
            self.metadata_token
        )
        .into_bytes();
        answer
    }

    /// Which credential signed `authorization` (`Bearer …`), if any holds.
    fn signed_in(&self, authorization: &str) -> SignedIn {
        let Some(token) = authorization.strip_prefix("Bearer ") else {
            return SignedIn::No;
        };
        if token == self.metadata_token {
            return SignedIn::Metadata;
        }
        if self.jwt_holds(token) {
            SignedIn::ServiceAccount
        } else {
            SignedIn::No
        }
    }

    /// A self-signed JWT (AIP-4111): RS256 with this account's key, its
    /// key id, issued by and for the account, a storage scope, not expired.
    fn jwt_holds(&self, token: &str) -> bool {
        let parts: Vec<&str> = token.split('.').collect();
        let [header, claims, signature] = parts[..] else {
            return false;
        };
        let decode = |part: &str| -> Option<serde_json::Value> {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
        };
        let (Some(head), Some(claims), Ok(signature)) = (
            decode(header),
            decode(claims),
            URL_SAFE_NO_PAD.decode(signature),
        ) else {
            return false;
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let key = ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            &self.public_key,
        );
        head["alg"] == "RS256"
            && head["kid"] == self.key_id.as_str()
            && claims["iss"] == ACCOUNT_EMAIL
            && claims["sub"] == ACCOUNT_EMAIL
            && claims["scope"].as_str().is_some_and(|scopes| {
                scopes.split(' ').any(|scope| {
                    scope == "https://www.googleapis.com/auth/cloud-platform"
                        || scope.starts_with("https://www.googleapis.com/auth/devstorage.")
                })
            })
            && claims["exp"].as_u64().is_some_and(|exp| exp > now)
            && key
                .verify(format!("{header}.{}", parts[1]).as_bytes(), &signature)
                .is_ok()
    }
}

fn precondition_failed() -> Answer {
    Answer::error(
        412,
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold.",
    )
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        412 => "Precondition Failed",
        _ => "Not Implemented",
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

fn random_hex(bytes: usize) -> String {
    use ring::rand::SecureRandom;
    let mut buf = vec![0u8; bytes];
    ring::rand::SystemRandom::new()
        .fill(&mut buf)
        .expect("random bytes");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn md5_digest(bytes: &[u8]) -> [u8; 16] {
    use md5::Digest;
    md5::Md5::digest(bytes).into()
}

/// `time` as an HTTP date (`Sun, 06 Dec 2026 02:36:40 GMT`).
fn http_date(time: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(time)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed JWT as object_store makes one, with `server`'s key.
    fn jwt(server: &GcsServer, kid: &str, scope: &str, exp: u64) -> String {
        use rustls::pki_types::pem::PemObject;
        let der = rustls::pki_types::PrivatePkcs8KeyDer::from_pem_slice(server.key_pem.as_bytes())
            .unwrap();
        let pair = ring::signature::RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).unwrap();
        let head = URL_SAFE_NO_PAD.encode(format!(
            "{{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"{kid}\"}}"
        ));
        let claims = URL_SAFE_NO_PAD.encode(format!(
            "{{\"iss\":\"{ACCOUNT_EMAIL}\",\"sub\":\"{ACCOUNT_EMAIL}\",\"scope\":\"{scope}\",\
             \"iat\":{},\"exp\":{exp}}}",
            exp - 3600
        ));
        let message = format!("{head}.{claims}");
        let mut signature = vec![0u8; pair.public().modulus_len()];
        pair.sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            message.as_bytes(),
            &mut signature,
        )
        .unwrap();
        format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    #[test]
    fn only_the_accounts_own_unexpired_tokens_sign_in() {
        let (Some(one), Some(other)) = (GcsServer::start("b"), GcsServer::start("b")) else {
            eprintln!("SKIPPED: openssl cannot make a key here");
            return;
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let scope = "https://www.googleapis.com/auth/cloud-platform";
        let kid = one.server.key_id.clone();
        let good = jwt(&one, &kid, scope, now + 3600);
        assert!(one.server.jwt_holds(&good));
        assert_eq!(
            one.server.signed_in(&format!("Bearer {good}")),
            SignedIn::ServiceAccount
        );
        assert!(!other.server.jwt_holds(&good), "another key");
        assert!(!one.server.jwt_holds(&jwt(&other, &kid, scope, now + 3600)));
        assert!(!one
            .server
            .jwt_holds(&jwt(&one, "other-key", scope, now + 3600)));
        assert!(
            !one.server.jwt_holds(&jwt(&one, &kid, scope, now - 10)),
            "expired"
        );
        let gmail = "https://www.googleapis.com/auth/gmail.readonly";
        assert!(!one.server.jwt_holds(&jwt(&one, &kid, gmail, now + 3600)));
        let mut tampered = good.clone();
        tampered.insert_str(good.find('.').unwrap() + 1, "e30");
        assert!(!one.server.jwt_holds(&tampered));
        assert_eq!(one.server.signed_in("Bearer nothing"), SignedIn::No);
        assert_eq!(
            one.server
                .signed_in(&format!("Bearer {}", one.server.metadata_token)),
            SignedIn::Metadata
        );
    }

    #[test]
    fn http_dates_are_the_calendars() {
        let t = UNIX_EPOCH + Duration::from_secs(1_796_524_600);
        assert_eq!(http_date(t), "Sun, 06 Dec 2026 02:36:40 GMT");
        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
    }
}
