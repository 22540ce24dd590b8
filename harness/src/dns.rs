//! A tiny DNS responder on 127.0.0.1 (UDP), answering MX, SRV, TXT, A and NS
//! questions from a table the test fills, so code that looks mail
//! records up can be tested without the network.
//!
//! A name the table does not hold at all is answered "no such domain"; a
//! name it holds, asked for a type it has no record of, gets an empty
//! answer. Every question is recorded ([`DnsServer::questions`]).

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{A, MX, NS, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// One record of the table.
#[derive(Clone, Debug)]
enum Entry {
    A(Ipv4Addr),
    Mx(u16, String),
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: String,
    },
    Ns(String),
    Txt(Vec<String>),
}

/// The table, by lower-case name without the final dot.
type Table = Vec<(String, Entry)>;

/// A DNS server on 127.0.0.1 answering from a table. Stops when dropped.
pub struct DnsServer {
    addr: SocketAddr,
    table: Arc<Mutex<Table>>,
    questions: Arc<Mutex<Vec<(String, String)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn name(text: &str) -> Name {
    Name::from_ascii(format!("{}.", key(text))).unwrap_or_else(|e| panic!("bad name {text:?}: {e}"))
}

impl DnsServer {
    /// Starts an empty responder on a random UDP port of 127.0.0.1.
    pub fn start() -> DnsServer {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind the DNS responder");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("set a read timeout");
        let addr = socket.local_addr().expect("local address");
        let table: Arc<Mutex<Table>> = Arc::default();
        let questions: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (table, questions, stop) = (table.clone(), questions.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while !stop.load(Ordering::Relaxed) {
                    let Ok((n, from)) = socket.recv_from(&mut buf) else {
                        continue;
                    };
                    let Ok(request) = Message::from_vec(&buf[..n]) else {
                        continue;
                    };
                    let reply = answer(&request, &table.lock().unwrap(), &questions);
                    if let Ok(bytes) = reply.to_vec() {
                        let _ = socket.send_to(&bytes, from);
                    }
                }
            })
        };
        DnsServer {
            addr,
            table,
            questions,
            stop,
            thread: Some(thread),
        }
    }

    /// Where to ask (127.0.0.1 and the port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn add(&self, owner: &str, entry: Entry) -> &Self {
        self.table.lock().unwrap().push((key(owner), entry));
        self
    }

    /// `owner` has the IPv4 address `ip`.
    pub fn a(&self, owner: &str, ip: Ipv4Addr) -> &Self {
        self.add(owner, Entry::A(ip))
    }

    /// `owner`'s mail goes to `exchange` with this preference.
    pub fn mx(&self, owner: &str, preference: u16, exchange: &str) -> &Self {
        self.add(owner, Entry::Mx(preference, key(exchange)))
    }

    /// A service record (`_imaps._tcp.example.com`) pointing at
    /// `target:port`; a `target` of `.` says the service is not offered.
    pub fn srv(&self, owner: &str, priority: u16, weight: u16, port: u16, target: &str) -> &Self {
        self.add(
            owner,
            Entry::Srv {
                priority,
                weight,
                port,
                target: key(target),
            },
        )
    }

    /// A TXT record of these strings (`path=/dav/`, RFC 6764).
    pub fn txt(&self, owner: &str, strings: &[&str]) -> &Self {
        self.add(
            owner,
            Entry::Txt(strings.iter().map(|s| s.to_string()).collect()),
        )
    }

    /// `owner`'s name server is `server`.
    pub fn ns(&self, owner: &str, server: &str) -> &Self {
        self.add(owner, Entry::Ns(key(server)))
    }

    /// Every question asked so far: (name without the final dot, type).
    pub fn questions(&self) -> Vec<(String, String)> {
        self.questions.lock().unwrap().clone()
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn answer(request: &Message, table: &Table, questions: &Mutex<Vec<(String, String)>>) -> Message {
    let mut reply = Message::response(request.metadata.id, request.metadata.op_code);
    reply.metadata.authoritative = true;
    reply.metadata.recursion_desired = request.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    let Some(query) = request.queries.first() else {
        reply.metadata.response_code = ResponseCode::FormErr;
        return reply;
    };
    reply.add_query(query.clone());
    let asked = key(&query.name.to_ascii());
    let kind = query.query_type;
    questions
        .lock()
        .unwrap()
        .push((asked.clone(), kind.to_string()));
    let entries: Vec<&Entry> = table
        .iter()
        .filter(|(owner, _)| *owner == asked)
        .map(|(_, e)| e)
        .collect();
    if entries.is_empty() {
        reply.metadata.response_code = ResponseCode::NXDomain;
        return reply;
    }
    let owner = name(&asked);
    for entry in entries {
        let data = match (entry, kind) {
            (Entry::A(ip), RecordType::A) => RData::A(A(*ip)),
            (Entry::Mx(pref, host), RecordType::MX) => RData::MX(MX::new(*pref, name(host))),
            (
                Entry::Srv {
                    priority,
                    weight,
                    port,
                    target,
                },
                RecordType::SRV,
            ) => RData::SRV(SRV::new(*priority, *weight, *port, name(target))),
            (Entry::Ns(server), RecordType::NS) => RData::NS(NS(name(server))),
            (Entry::Txt(strings), RecordType::TXT) => RData::TXT(TXT::new(strings.clone())),
            _ => continue,
        };
        reply.add_answer(Record::from_rdata(owner.clone(), 300, data));
    }
    reply
}
