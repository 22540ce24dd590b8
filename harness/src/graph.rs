//! A small stateful Microsoft Graph on 127.0.0.1 (HTTPS with its own CA,
//! as [`crate::HttpServer`]) for one mailbox's contacts and calendars:
//! contact folders, contacts and their photos, calendars, events (series
//! expanded into instances, occurrences removed or changed), the
//! extended-property `$filter`, `transactionId`, `@odata.nextLink` paging
//! in small pages, one `429` with `Retry-After` when asked, and a token
//! endpoint (`POST /token`, the client-credentials grant) whose token is
//! the only one accepted. It is also the owner's sign-in (discovery, an
//! authorize page answering at once with a code, the authorization-code
//! grant checking PKCE S256, the refresh-token grant). Documents are shaped as Graph v1.0's reference
//! shows them (`@odata.context`, `@odata.etag`, ids, change keys, times in
//! UTC with seven fraction digits).

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Weekday};
use serde_json::{json, Value};

use crate::certs::TlsMaterial;

/// The access token the token endpoint hands out.
pub const GRAPH_TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.graph-test.";

/// The mailbox's user id (Entra ID object id).
pub const USER_ID: &str = "5f1e7c8a-3b2d-4e6f-8a9b-0c1d2e3f4a5b";

/// Items per page of a listing (small, so paging is exercised).
const PAGE: usize = 3;

/// One request as the server read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphRequest {
    /// `GET`, `POST`, `PATCH`, `PUT`, `DELETE`.
    pub method: String,
    /// The path with its query, percent-decoded.
    pub target: String,
    /// The status answered.
    pub status: u16,
}

#[derive(Default)]
struct Store {
    next_id: u64,
    user: String,
    /// The mailbox's other addresses (its `proxyAddresses`): Graph finds
    /// the user by none of them, only `/me` reaches the mailbox then.
    aliases: Vec<String>,
    time_zone: String,
    folders: Vec<Value>,
    /// id → (folder id, contact, photo).
    contacts: BTreeMap<String, (String, Value, Option<Vec<u8>>)>,
    calendars: Vec<Value>,
    /// id → (calendar id, event).
    events: BTreeMap<String, (String, Value)>,
    /// Occurrence ids removed from their series.
    removed: HashSet<String>,
    /// Occurrence id → its changes.
    changed: BTreeMap<String, Value>,
    /// Answer the n-th POST of an item with 429 (0: never).
    throttle_post: usize,
    /// Take the sign-in for this many POSTs of an item, then turn its
    /// token down with 401 until restored (0: always take it).
    revoke_after: usize,
    posts: usize,
    /// The request's `Prefer: outlook.timezone="…"`, when it has one.
    prefer: Option<String>,
    /// Carry out the n-th creation of a contact or event, then close the
    /// connection without answering (0: never).
    lose_answer: usize,
    /// The request being handled is to go unanswered.
    unanswered: bool,
    requests: Vec<GraphRequest>,
    /// Codes handed out: (code, PKCE challenge, redirect address).
    codes: Vec<(String, String, String)>,
    /// Each token request's grant and `scope`.
    grants: Vec<(String, String)>,
}

/// The server; stops when dropped.
pub struct GraphServer {
    addr: SocketAddr,
    store: Arc<Mutex<Store>>,
    ca_pem: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl GraphServer {
    /// A Graph for the mailbox `user` (its default calendar “Calendar”
    /// there), whose mailbox time zone is `time_zone` (a Windows name).
    pub fn start(user: &str, time_zone: &str) -> GraphServer {
        let tls = TlsMaterial::generate(
            &["127.0.0.1".to_owned(), "localhost".to_owned()],
            "graph",
            false,
        );
        let ca_pem = tls.ca_pem.clone();
        let config = crate::http::server_config(&tls);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the Graph server");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let store = Arc::new(Mutex::new(Store {
            user: user.to_ascii_lowercase(),
            time_zone: time_zone.to_owned(),
            ..Store::default()
        }));
        {
            let mut s = store.lock().unwrap();
            let id = s.id("AAMkCal");
            s.calendars.push(json!({
                "id": id, "name": "Calendar", "color": "auto", "hexColor": "",
                "isDefaultCalendar": true, "changeKey": "DxYSthXJXEWwAQSYQnXvIgAAIxGttg==",
                "canShare": true, "canViewPrivateItems": true, "canEdit": true,
                "allowedOnlineMeetingProviders": ["teamsForBusiness"],
                "defaultOnlineMeetingProvider": "teamsForBusiness",
                "isTallyingResponses": true, "isRemovable": false,
                "owner": { "name": user, "address": user }
            }));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (store, stop) = (store.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((tcp, _)) => {
                            let _ = tcp.set_nonblocking(false);
                            let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
                            let (store, config) = (store.clone(), config.clone());
                            std::thread::spawn(move || {
                                let Ok(conn) = rustls::ServerConnection::new(config) else {
                                    return;
                                };
                                let mut stream = rustls::StreamOwned::new(conn, tcp);
                                serve(&mut stream, &store, addr);
                            });
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            })
        };
        GraphServer {
            addr,
            store,
            ca_pem,
            stop,
            thread: Some(thread),
        }
    }

    /// `https://127.0.0.1:PORT`, the address given as `--graph-api`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }

    /// The token endpoint (`…/token`), given as the tenant.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.url())
    }

    /// Each token request: its grant type and the scopes it asked for.
    pub fn token_requests(&self) -> Vec<(String, String)> {
        self.store.lock().unwrap().grants.clone()
    }

    /// The CA certificate (PEM) the server's certificate is issued by.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Gives the mailbox another address (an alias, in its
    /// `proxyAddresses`). As in Microsoft 365, `/users/{alias}` is not a
    /// valid user; `/me` of its owner's sign-in reaches the mailbox.
    pub fn add_alias(&self, alias: &str) {
        self.store
            .lock()
            .unwrap()
            .aliases
            .push(alias.to_ascii_lowercase());
    }

    /// Answers the `n`-th creation of a contact or event with `429` and
    /// `Retry-After: 1`, once.
    pub fn throttle_post(&self, n: usize) {
        self.store.lock().unwrap().throttle_post = n;
    }

    /// Carries out the `n`-th creation of a contact or event, then closes
    /// the connection without an answer (a cut after Graph stored it), once.
    pub fn lose_answer_of_post(&self, n: usize) {
        self.store.lock().unwrap().lose_answer = n;
    }

    /// Takes the sign-in for `n` creations of a contact or event, then
    /// answers every request with 401, as Graph does once the owner has
    /// revoked the app's access (0: the sign-in is taken again).
    pub fn revoke_sign_in_after_posts(&self, n: usize) {
        let mut s = self.store.lock().unwrap();
        s.revoke_after = n;
        s.posts = 0;
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<GraphRequest> {
        self.store.lock().unwrap().requests.clone()
    }

    /// The targets of the browser sign-ins it was asked for (`/authorize?…`).
    pub fn sign_ins(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| r.target.starts_with("/authorize"))
            .map(|r| r.target)
            .collect()
    }

    /// Contacts created (answered 201).
    pub fn contacts_created(&self) -> usize {
        self.created("/contacts")
    }

    /// Events created (answered 201).
    pub fn events_created(&self) -> usize {
        self.created("/events")
    }

    fn created(&self, suffix: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| {
                r.method == "POST"
                    && r.status == 201
                    && r.target.split('?').next().unwrap_or("").ends_with(suffix)
            })
            .count()
    }

    /// The contact folders' names.
    pub fn folder_names(&self) -> Vec<String> {
        let s = self.store.lock().unwrap();
        s.folders
            .iter()
            .filter_map(|f| f["displayName"].as_str().map(str::to_owned))
            .collect()
    }

    /// The calendars' names.
    pub fn calendar_names(&self) -> Vec<String> {
        let s = self.store.lock().unwrap();
        s.calendars
            .iter()
            .filter_map(|f| f["name"].as_str().map(str::to_owned))
            .collect()
    }

    /// The contacts of the folder named `folder` (`Contacts`: the default
    /// folder), as stored (with their extended properties).
    pub fn contacts_in(&self, folder: &str) -> Vec<Value> {
        let s = self.store.lock().unwrap();
        let Some(id) = s
            .folders
            .iter()
            .find(|f| f["displayName"] == folder)
            .and_then(|f| f["id"].as_str())
            .or((folder == "Contacts").then_some("root"))
        else {
            return Vec::new();
        };
        s.contacts
            .values()
            .filter(|(f, _, _)| f == id)
            .map(|(_, c, _)| c.clone())
            .collect()
    }

    /// The photo of the contact `id`.
    pub fn photo(&self, id: &str) -> Option<Vec<u8>> {
        self.store
            .lock()
            .unwrap()
            .contacts
            .get(id)
            .and_then(|(_, _, p)| p.clone())
    }

    /// The events of the calendar named `calendar`, as stored.
    pub fn events_in(&self, calendar: &str) -> Vec<Value> {
        let s = self.store.lock().unwrap();
        let Some(id) = s
            .calendars
            .iter()
            .find(|c| c["name"] == calendar)
            .and_then(|c| c["id"].as_str())
        else {
            return Vec::new();
        };
        s.events
            .values()
            .filter(|(c, _)| c == id)
            .map(|(_, e)| e.clone())
            .collect()
    }

    /// The occurrences of the series `id` as Graph lists them (removed
    /// ones left out, changed ones changed).
    pub fn instances(&self, id: &str) -> Vec<Value> {
        let s = self.store.lock().unwrap();
        s.instances(id, None)
    }

    /// Adds a contact folder with contacts (for Graph as a source).
    pub fn add_folder(&self, name: &str) -> String {
        let mut s = self.store.lock().unwrap();
        s.make_folder(name)["id"].as_str().unwrap().to_owned()
    }

    /// Adds a calendar (for Graph as a source).
    pub fn add_calendar(&self, name: &str) -> String {
        let mut s = self.store.lock().unwrap();
        s.make_calendar(name)["id"].as_str().unwrap().to_owned()
    }

    /// Adds a contact to a folder; its id.
    pub fn add_contact(&self, folder: &str, contact: Value, photo: Option<Vec<u8>>) -> String {
        let mut s = self.store.lock().unwrap();
        let c = s.make_contact(folder, contact);
        let id = c["id"].as_str().unwrap().to_owned();
        s.contacts.get_mut(&id).unwrap().2 = photo;
        id
    }

    /// Adds an event to a calendar; its id.
    pub fn add_event(&self, calendar: &str, event: Value) -> String {
        let mut s = self.store.lock().unwrap();
        s.make_event(calendar, event)["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Removes an occurrence (as Outlook's “delete this occurrence”).
    pub fn remove_occurrence(&self, id: &str) {
        self.store.lock().unwrap().removed.insert(id.to_owned());
    }

    /// Changes an occurrence.
    pub fn change_occurrence(&self, id: &str, patch: Value) {
        self.store
            .lock()
            .unwrap()
            .changed
            .insert(id.to_owned(), patch);
    }
}

impl Drop for GraphServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn now_text() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The UTC offset (seconds) of the zones this server knows, at a local time.
fn offset(zone: &str, local: NaiveDateTime) -> i64 {
    match zone {
        "Europe/Berlin" | "W. Europe Standard Time" | "Europe/Paris" | "Romance Standard Time" => {
            let y = local.year();
            let last_sunday = |m: u32| {
                let mut d = NaiveDate::from_ymd_opt(y, m + 1, 1)
                    .unwrap()
                    .pred_opt()
                    .unwrap();
                while d.weekday() != Weekday::Sun {
                    d = d.pred_opt().unwrap();
                }
                d
            };
            let summer_from = last_sunday(3).and_hms_opt(2, 0, 0).unwrap();
            let summer_to = last_sunday(10).and_hms_opt(3, 0, 0).unwrap();
            if local >= summer_from && local < summer_to {
                7200
            } else {
                3600
            }
        }
        "Pacific Standard Time" | "America/Los_Angeles" => -8 * 3600,
        _ => 0,
    }
}

fn parse_local(v: &str) -> Option<NaiveDateTime> {
    let v = v.trim_end_matches('Z');
    NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.f").ok()
}

fn utc_of(t: &Value) -> Option<NaiveDateTime> {
    let local = parse_local(t["dateTime"].as_str()?)?;
    let zone = t["timeZone"].as_str().unwrap_or("UTC");
    Some(local - chrono::Duration::seconds(offset(zone, local)))
}

fn graph_time(t: NaiveDateTime) -> Value {
    json!({ "dateTime": t.format("%Y-%m-%dT%H:%M:%S.0000000").to_string(), "timeZone": "UTC" })
}

impl Store {
    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}AGI2THVSAAA{:06}=", self.next_id)
    }

    fn make_folder(&mut self, name: &str) -> Value {
        let id = self.id("AAMkFld");
        let f = json!({ "id": id, "parentFolderId": "AAMkContactsRoot=", "displayName": name });
        self.folders.push(f.clone());
        f
    }

    fn make_calendar(&mut self, name: &str) -> Value {
        let id = self.id("AAMkCal");
        let c = json!({
            "id": id, "name": name, "color": "auto", "hexColor": "", "isDefaultCalendar": false,
            "changeKey": "DxYSthXJXEWwAQSYQnXvIgAAIxGttg==", "canShare": true,
            "canViewPrivateItems": true, "canEdit": true,
            "allowedOnlineMeetingProviders": ["teamsForBusiness"],
            "defaultOnlineMeetingProvider": "teamsForBusiness", "isTallyingResponses": false,
            "isRemovable": true, "owner": { "name": self.user, "address": self.user }
        });
        self.calendars.push(c.clone());
        c
    }

    fn make_contact(&mut self, folder: &str, mut c: Value) -> Value {
        let id = self.id("AAMkCnt");
        let stamp = now_text();
        let o = c.as_object_mut().unwrap();
        for (k, v) in [
            ("businessPhones", json!([])),
            ("homePhones", json!([])),
            ("categories", json!([])),
            ("emailAddresses", json!([])),
            ("imAddresses", json!([])),
            ("children", json!([])),
        ] {
            o.entry(k).or_insert(v);
        }
        o.insert("id".into(), json!(id));
        o.insert(
            "@odata.etag".into(),
            json!("W/\"EQAAABYAAAAvl7i6ABRqRq5+ZxXEhZ4/AAAAAT1K\""),
        );
        o.insert("createdDateTime".into(), json!(stamp));
        o.insert("lastModifiedDateTime".into(), json!(stamp));
        o.insert(
            "changeKey".into(),
            json!("EQAAABYAAAAvl7i6ABRqRq5+ZxXEhZ4/AAAAAT1K"),
        );
        o.insert("parentFolderId".into(), json!(folder));
        o.entry("fileAs").or_insert(json!(""));
        self.contacts
            .insert(id, (folder.to_owned(), c.clone(), None));
        c
    }

    fn make_event(&mut self, calendar: &str, mut e: Value) -> Value {
        let id = self.id("AAMkEvt");
        let stamp = now_text();
        let o = e.as_object_mut().unwrap();
        let kind = if o.get("recurrence").is_some_and(|r| !r.is_null()) {
            "seriesMaster"
        } else {
            "singleInstance"
        };
        let zone = o
            .get("start")
            .and_then(|s| s["timeZone"].as_str())
            .unwrap_or("UTC")
            .to_owned();
        let end_zone = o
            .get("end")
            .and_then(|s| s["timeZone"].as_str())
            .unwrap_or("UTC")
            .to_owned();
        o.insert("id".into(), json!(id));
        o.insert(
            "@odata.etag".into(),
            json!("W/\"DwAAABYAAAA7ZKO1bxViQq3rAZBaZ/wlAAABDRXm\""),
        );
        o.insert("createdDateTime".into(), json!(stamp));
        o.insert("lastModifiedDateTime".into(), json!(stamp));
        o.insert(
            "changeKey".into(),
            json!("DwAAABYAAAA7ZKO1bxViQq3rAZBaZ/wlAAABDRXm"),
        );
        o.insert("type".into(), json!(kind));
        o.insert("originalStartTimeZone".into(), json!(zone));
        o.insert("originalEndTimeZone".into(), json!(end_zone));
        o.insert(
            "iCalUId".into(),
            json!(format!(
                "040000008200E00074C5B7101A82E008{:016X}",
                self.next_id
            )),
        );
        o.insert(
            "uid".into(),
            json!(format!(
                "040000008200E00074C5B7101A82E008{:016X}",
                self.next_id
            )),
        );
        o.insert("isCancelled".into(), json!(false));
        o.insert("isOrganizer".into(), json!(true));
        o.insert("responseRequested".into(), json!(true));
        o.insert(
            "webLink".into(),
            json!(format!(
                "https://outlook.office365.com/owa/?itemid={id}&exvsurl=1&path=/calendar/item"
            )),
        );
        for (k, v) in [
            ("categories", json!([])),
            ("attendees", json!([])),
            ("isAllDay", json!(false)),
            ("isReminderOn", json!(true)),
            ("reminderMinutesBeforeStart", json!(15)),
            ("sensitivity", json!("normal")),
            ("showAs", json!("busy")),
            ("importance", json!("normal")),
            ("subject", json!("")),
            ("recurrence", Value::Null),
            ("body", json!({"contentType": "html", "content": ""})),
            (
                "location",
                json!({"displayName": "", "locationType": "default", "uniqueIdType": "unknown"}),
            ),
            (
                "organizer",
                json!({"emailAddress": {"name": self.user, "address": self.user}}),
            ),
        ] {
            o.entry(k).or_insert(v);
        }
        let preview: String = o["body"]["content"]
            .as_str()
            .unwrap_or("")
            .chars()
            .take(255)
            .collect();
        o.insert("bodyPreview".into(), json!(preview));
        self.events.insert(id, (calendar.to_owned(), e.clone()));
        e
    }

    /// An event as Graph answers it: times in UTC, extended properties
    /// only when asked.
    fn answer_event(&self, e: &Value, expand: bool) -> Value {
        let mut e = e.clone();
        for k in ["start", "end"] {
            if let Some(t) = utc_of(&e[k]) {
                e[k] = self.zoned(t);
            }
        }
        if !expand {
            if let Some(o) = e.as_object_mut() {
                o.remove("singleValueExtendedProperties");
                o.remove("transactionId");
            }
        }
        e
    }

    /// A UTC time as Graph answers it: in UTC, or in the zone the request
    /// preferred (`Prefer: outlook.timezone`).
    fn zoned(&self, t: NaiveDateTime) -> Value {
        match &self.prefer {
            Some(zone) if zone != "UTC" => {
                let local = t + chrono::Duration::seconds(offset(zone, t));
                json!({ "dateTime": local.format("%Y-%m-%dT%H:%M:%S.0000000").to_string(), "timeZone": zone })
            }
            _ => graph_time(t),
        }
    }

    /// The occurrences of a series (at most 500), in a UTC window if given.
    fn instances(&self, id: &str, window: Option<(NaiveDateTime, NaiveDateTime)>) -> Vec<Value> {
        let Some((_, master)) = self.events.get(id) else {
            return Vec::new();
        };
        let rec = &master["recurrence"];
        let (Some(start), Some(end)) = (
            parse_local(master["start"]["dateTime"].as_str().unwrap_or("")),
            parse_local(master["end"]["dateTime"].as_str().unwrap_or("")),
        ) else {
            return Vec::new();
        };
        let zone = master["start"]["timeZone"].as_str().unwrap_or("UTC");
        let length = end - start;
        let pattern = &rec["pattern"];
        let range = &rec["range"];
        let interval = pattern["interval"].as_i64().unwrap_or(1).max(1);
        let first =
            NaiveDate::parse_from_str(range["startDate"].as_str().unwrap_or(""), "%Y-%m-%d")
                .unwrap_or(start.date());
        let last = range["endDate"]
            .as_str()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
        let count = range["numberOfOccurrences"]
            .as_u64()
            .filter(|_| range["type"] == "numbered")
            .map(|n| n as usize);
        let days: Vec<String> = pattern["daysOfWeek"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d.as_str().map(str::to_owned))
            .collect();
        let mut dates = Vec::new();
        let mut d = first;
        while dates.len() < count.unwrap_or(500).min(500)
            && last.is_none_or(|l| d <= l)
            && d < first + chrono::Duration::days(3660)
        {
            let matches = match pattern["type"].as_str().unwrap_or("") {
                "daily" => (d - first).num_days() % interval == 0,
                "weekly" => {
                    let week = (d - first).num_days().div_euclid(7);
                    let name = format!("{:?}", d.weekday()).to_ascii_lowercase();
                    week % interval == 0 && days.iter().any(|x| x.starts_with(&name[..3]))
                }
                "absoluteMonthly" => d.day() as i64 == pattern["dayOfMonth"].as_i64().unwrap_or(0),
                "absoluteYearly" => {
                    d.day() as i64 == pattern["dayOfMonth"].as_i64().unwrap_or(0)
                        && d.month() as i64 == pattern["month"].as_i64().unwrap_or(0)
                }
                _ => false,
            };
            if matches {
                dates.push(d);
            }
            d = d.succ_opt().unwrap();
        }
        let mut out = Vec::new();
        for date in dates {
            let local = date.and_time(start.time());
            let original = local - chrono::Duration::seconds(offset(zone, local));
            let occ = format!("{id}_{}", date.format("%Y%m%d"));
            if self.removed.contains(&occ) {
                continue;
            }
            if let Some((from, to)) = window {
                if original + length < from || original > to {
                    continue;
                }
            }
            let mut e = json!({
                "@odata.etag": "W/\"DwAAABYAAAA7ZKO1bxViQq3rAZBaZ/wlAAABDRXn\"",
                "id": occ, "seriesMasterId": id, "type": "occurrence",
                "originalStart": format!("{}Z", original.format("%Y-%m-%dT%H:%M:%S")),
                "subject": master["subject"], "isAllDay": master["isAllDay"],
                "start": self.zoned(original), "end": self.zoned(original + length),
                "location": master["location"], "body": master["body"],
            });
            if let Some(change) = self.changed.get(&occ) {
                e["type"] = json!("exception");
                for (k, v) in change.as_object().into_iter().flatten() {
                    e[k] = v.clone();
                }
                for k in ["start", "end"] {
                    if let Some(t) = utc_of(&e[k]) {
                        e[k] = self.zoned(t);
                    }
                }
            }
            out.push(e);
        }
        out
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                Err(_) => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_of(target: &str) -> BTreeMap<String, String> {
    target
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or("")
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

/// A page of `items` from `$skip`, with a next link when more follow.
fn page(
    addr: SocketAddr,
    path: &str,
    query: &BTreeMap<String, String>,
    items: Vec<Value>,
    context: &str,
) -> Value {
    let skip: usize = query.get("$skip").and_then(|s| s.parse().ok()).unwrap_or(0);
    let top: usize = query
        .get("$top")
        .and_then(|s| s.parse().ok())
        .unwrap_or(PAGE)
        .min(PAGE);
    let total = items.len();
    let chunk: Vec<Value> = items.into_iter().skip(skip).take(top).collect();
    let mut doc = json!({ "@odata.context": context, "value": chunk });
    if skip + top < total {
        let mut q: Vec<String> = query
            .iter()
            .filter(|(k, _)| k.as_str() != "$skip")
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        q.push(format!("$skip={}", skip + top));
        doc["@odata.nextLink"] = json!(format!(
            "https://127.0.0.1:{}{path}?{}",
            addr.port(),
            q.join("&")
        ));
    }
    doc
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'$' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A page of a folder's items: those whose extended property has the
/// value the `$filter` asks for, each as `present` shows it (only its id
/// and etag for `$select=id`).
fn listing(
    addr: SocketAddr,
    path: &str,
    query: &BTreeMap<String, String>,
    items: Vec<Value>,
    context: &str,
    present: impl Fn(&Value) -> Value,
) -> Answer {
    let wanted = query.get("$filter").and_then(|f| filter_value(f));
    let items = items
        .iter()
        .filter(|i| wanted.as_deref().is_none_or(|w| source_uid(i) == Some(w)))
        .map(|i| {
            if query.get("$select").is_some_and(|s| s == "id") {
                json!({"@odata.etag": i["@odata.etag"], "id": i["id"]})
            } else {
                present(i)
            }
        })
        .collect();
    ok(200, page(addr, path, query, items, context))
}

/// The value the `$filter` on the extended property asks for.
fn filter_value(filter: &str) -> Option<String> {
    let at = filter.find("ep/value eq '")? + "ep/value eq '".len();
    let rest = &filter[at..];
    let mut out = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            if chars.peek() == Some(&'\'') {
                chars.next();
                out.push('\'');
                continue;
            }
            return Some(out);
        }
        out.push(c);
    }
    None
}

fn source_uid(v: &Value) -> Option<&str> {
    v["singleValueExtendedProperties"]
        .as_array()?
        .iter()
        .find_map(|p| p["value"].as_str())
}

fn error(status: u16, code: &str, message: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    (
        status,
        Vec::new(),
        json!({"error": {"code": code, "message": message, "innerError": {"date": now_text(), "request-id": "4b1b3c6e-0000-4000-8000-000000000000"}}}).to_string().into_bytes(),
    )
}

fn not_found() -> Answer {
    error(
        404,
        "ErrorItemNotFound",
        "The specified object was not found in the store.",
    )
}

fn ok(status: u16, v: Value) -> (u16, Vec<(String, String)>, Vec<u8>) {
    (status, Vec::new(), v.to_string().into_bytes())
}

fn serve(stream: &mut (impl Read + Write), store: &Mutex<Store>, addr: SocketAddr) {
    let Some(read) = crate::http::read_request(stream, 64 << 20) else {
        return;
    };
    let authorization = read.header("authorization");
    let prefer = read
        .header("prefer")
        .split_once("outlook.timezone=")
        .map(|(_, z)| z.trim().trim_matches('"').to_owned());
    let (method, target, body) = (read.method, read.target, read.body);
    let (status, headers, out, content_type) = {
        let mut s = store.lock().unwrap();
        s.prefer = prefer;
        let (status, headers, out) = handle(&mut s, addr, &method, &target, &authorization, &body);
        let ct = if out.starts_with(b"{") || out.is_empty() {
            "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"
        } else {
            "image/jpeg"
        };
        s.requests.push(GraphRequest {
            method: method.clone(),
            target: decode(&target),
            status,
        });
        if std::mem::take(&mut s.unanswered) {
            // Done, but the answer is lost with the connection.
            return;
        }
        (status, headers, out, ct)
    };
    let mut head = format!("HTTP/1.1 {status} Answer\r\nContent-Type: {content_type}\r\nrequest-id: 4b1b3c6e-0000-4000-8000-000000000000\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        out.len()
    ));
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&out);
    let _ = stream.flush();
}

type Answer = (u16, Vec<(String, String)>, Vec<u8>);

fn handle(
    s: &mut Store,
    addr: SocketAddr,
    method: &str,
    target: &str,
    authorization: &str,
    body: &[u8],
) -> Answer {
    let path = decode(target.split('?').next().unwrap_or(""));
    let query = query_of(target);
    if path == "/.well-known/openid-configuration" {
        let base = format!("https://{addr}");
        return ok(
            200,
            json!({"issuer": base, "authorization_endpoint": format!("{base}/authorize"), "token_endpoint": format!("{base}/token")}),
        );
    }
    if path == "/authorize" && method == "GET" {
        // The owner clicking "Accept": back at once with a code.
        let code = format!("graph-code-{}", s.codes.len() + 1);
        let get = |k: &str| query.get(k).cloned().unwrap_or_default();
        s.codes
            .push((code.clone(), get("code_challenge"), get("redirect_uri")));
        let location = format!("{}?code={code}&state={}", get("redirect_uri"), get("state"));
        return (302, vec![("Location".into(), location)], Vec::new());
    }
    if path == "/token" && method == "POST" {
        // A form: `+` is a space there.
        let form = query_of(&format!(
            "?{}",
            String::from_utf8_lossy(body).replace('+', "%20")
        ));
        let get = |k: &str| form.get(k).cloned().unwrap_or_default();
        s.grants.push((get("grant_type"), get("scope")));
        let delegated = json!({"token_type": "Bearer", "expires_in": 3599, "scope": get("scope"), "access_token": GRAPH_TOKEN, "refresh_token": "graph-refresh-token"});
        if get("grant_type") == "authorization_code" {
            use base64::Engine;
            use sha2::Digest;
            let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(sha2::Sha256::digest(get("code_verifier").as_bytes()));
            let known = s.codes.iter().any(|(c, ch, r)| {
                *c == get("code") && *ch == challenge && *r == get("redirect_uri")
            });
            return if known {
                ok(200, delegated)
            } else {
                ok(
                    400,
                    json!({"error": "invalid_grant", "error_description": "AADSTS70000: The provided value for the 'code' parameter is not valid."}),
                )
            };
        }
        if get("grant_type") == "refresh_token" {
            return if get("refresh_token") == "graph-refresh-token" {
                ok(200, delegated)
            } else {
                ok(
                    400,
                    json!({"error": "invalid_grant", "error_description": "AADSTS700082: The refresh token has expired due to inactivity."}),
                )
            };
        }
        let form = String::from_utf8_lossy(body);
        if !form.contains("grant_type=client_credentials") || !form.contains("client_secret=") {
            return error(400, "invalid_request", "AADSTS900144: The request body must contain the following parameter: 'client_secret'.");
        }
        return ok(
            200,
            json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": GRAPH_TOKEN}),
        );
    }
    let revoked = s.revoke_after > 0 && s.posts >= s.revoke_after;
    if authorization != format!("Bearer {GRAPH_TOKEN}") || revoked {
        return error(401, "InvalidAuthenticationToken", "Access token is empty.");
    }
    let lower = path.to_ascii_lowercase();
    if method == "GET" && lower == "/v1.0/me" {
        let proxy: Vec<String> = std::iter::once(format!("SMTP:{}", s.user))
            .chain(s.aliases.iter().map(|a| format!("smtp:{a}")))
            .collect();
        return ok(
            200,
            json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(mail,userPrincipalName,proxyAddresses)/$entity",
                   "mail": s.user, "userPrincipalName": s.user, "proxyAddresses": proxy}),
        );
    }
    // Finding a user (app-only, User.Read.All): by primary address or id
    // only, or by any address with a filter on proxyAddresses.
    let user_entity = json!({"id": USER_ID, "mail": s.user, "userPrincipalName": s.user});
    if method == "GET"
        && (lower == format!("/v1.0/users/{}", s.user) || lower == format!("/v1.0/users/{USER_ID}"))
    {
        return ok(200, user_entity);
    }
    if method == "GET" && lower == "/v1.0/users" {
        let filter = query
            .get("$filter")
            .cloned()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let found = std::iter::once(s.user.clone())
            .chain(s.aliases.iter().cloned())
            .any(|a| filter == format!("proxyaddresses/any(x:x eq 'smtp:{a}')"));
        let value: Vec<Value> = if found { vec![user_entity] } else { Vec::new() };
        return ok(
            200,
            json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(id,mail)", "value": value}),
        );
    }
    let by_id = format!("/v1.0/users/{USER_ID}");
    let base = if lower.starts_with("/v1.0/me/") {
        "/v1.0/me".to_owned()
    } else if lower.starts_with(&format!("{by_id}/")) {
        by_id
    } else {
        format!("/v1.0/users/{}", s.user)
    };
    let Some(rest) = lower.starts_with(&base).then(|| &path[base.len()..]) else {
        return error(
            404,
            "ErrorInvalidUser",
            &format!("The requested user '{path}' is invalid."),
        );
    };
    let parts: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let json_body = || serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
    let user = s.user.clone();
    let ctx =
        |what: &str| format!("https://graph.microsoft.com/v1.0/$metadata#users('{user}')/{what}");
    // The default Contacts folder's contacts, as a folder of its own.
    let parts: Vec<&str> = if parts.as_slice() == ["contacts"] {
        vec!["contactFolders", "root", "contacts"]
    } else {
        parts
    };
    let is_item_post = method == "POST"
        && matches!(
            parts.as_slice(),
            ["contactFolders", _, "contacts"] | ["calendars", _, "events"]
        );
    if is_item_post {
        s.posts += 1;
        if s.lose_answer > 0 && s.posts == s.lose_answer {
            s.unanswered = true;
        }
        if s.throttle_post > 0 && s.posts == s.throttle_post {
            let (st, _, b) = error(
                429,
                "ApplicationThrottled",
                "Application is over its MailboxConcurrency limit.",
            );
            return (st, vec![("Retry-After".into(), "1".into())], b);
        }
    }
    match (method, parts.as_slice()) {
        ("GET", ["mailboxSettings", "timeZone"]) => ok(
            200,
            json!({"@odata.context": ctx("mailboxSettings/timeZone"), "value": s.time_zone}),
        ),
        ("GET", ["contactFolders"]) => {
            let items = s.folders.clone();
            ok(
                200,
                page(addr, &path, &query, items, &ctx("contactFolders")),
            )
        }
        ("POST", ["contactFolders"]) => {
            let name = json_body()["displayName"].as_str().unwrap_or("").to_owned();
            if s.folders.iter().any(|f| f["displayName"] == name.as_str()) {
                return error(
                    409,
                    "ErrorFolderExists",
                    "A folder with the specified name already exists.",
                );
            }
            let mut f = s.make_folder(&name);
            f["@odata.context"] = json!(ctx("contactFolders/$entity"));
            ok(201, f)
        }
        ("GET", ["calendars"]) => {
            let items = s.calendars.clone();
            ok(200, page(addr, &path, &query, items, &ctx("calendars")))
        }
        ("POST", ["calendars"]) => {
            let name = json_body()["name"].as_str().unwrap_or("").to_owned();
            if s.calendars.iter().any(|c| c["name"] == name.as_str()) {
                return error(
                    409,
                    "ErrorFolderExists",
                    "A calendar with the specified name already exists.",
                );
            }
            let mut c = s.make_calendar(&name);
            c["@odata.context"] = json!(ctx("calendars/$entity"));
            ok(201, c)
        }
        ("GET", ["contactFolders", folder, "contacts"]) => {
            if *folder != "root" && !s.folders.iter().any(|f| f["id"] == *folder) {
                return not_found();
            }
            let items: Vec<Value> = s
                .contacts
                .values()
                .filter(|(f, _, _)| f == folder)
                .map(|(_, c, _)| c.clone())
                .collect();
            let context = ctx(&format!("contactFolders('{folder}')/contacts"));
            listing(addr, &path, &query, items, &context, |c| {
                let mut c = c.clone();
                c.as_object_mut()
                    .unwrap()
                    .remove("singleValueExtendedProperties");
                c
            })
        }
        ("POST", ["contactFolders", folder, "contacts"]) => {
            if *folder != "root" && !s.folders.iter().any(|f| f["id"] == *folder) {
                return not_found();
            }
            let mut c = s.make_contact(folder, json_body());
            c.as_object_mut()
                .unwrap()
                .remove("singleValueExtendedProperties");
            c["@odata.context"] = json!(ctx("contactFolders('…')/contacts/$entity"));
            ok(201, c)
        }
        ("GET", ["contacts", id]) => match s.contacts.get(*id) {
            Some((_, c, _)) => {
                let mut c = c.clone();
                if !query
                    .get("$expand")
                    .is_some_and(|e| e.contains("singleValueExtendedProperties"))
                {
                    c.as_object_mut()
                        .unwrap()
                        .remove("singleValueExtendedProperties");
                }
                ok(200, c)
            }
            None => not_found(),
        },
        ("PATCH", ["contacts", id]) => match s.contacts.get_mut(*id) {
            Some((_, c, _)) => {
                for (k, v) in json_body().as_object().into_iter().flatten() {
                    c[k] = v.clone();
                }
                let mut c = c.clone();
                c.as_object_mut()
                    .unwrap()
                    .remove("singleValueExtendedProperties");
                ok(200, c)
            }
            None => not_found(),
        },
        ("PUT", ["contacts", id, "photo", "$value"]) => match s.contacts.get_mut(*id) {
            Some((_, _, p)) => {
                *p = Some(body.to_vec());
                (200, Vec::new(), Vec::new())
            }
            None => not_found(),
        },
        ("GET", ["contacts", id, "photo", "$value"]) => match s.contacts.get(*id) {
            Some((_, _, Some(p))) => (200, Vec::new(), p.clone()),
            _ => error(404, "ImageNotFound", "The photo wasn't found."),
        },
        ("GET", ["calendars", cal, "events"]) => {
            if !s.calendars.iter().any(|c| c["id"] == *cal) {
                return not_found();
            }
            let expand = query
                .get("$expand")
                .is_some_and(|e| e.contains("singleValueExtendedProperties"));
            let items: Vec<Value> = s
                .events
                .values()
                .filter(|(c, _)| c == cal)
                .map(|(_, e)| e.clone())
                .collect();
            let context = ctx(&format!("calendars('{cal}')/events"));
            listing(addr, &path, &query, items, &context, |e| {
                s.answer_event(e, expand)
            })
        }
        ("POST", ["calendars", cal, "events"]) => {
            if !s.calendars.iter().any(|c| c["id"] == *cal) {
                return not_found();
            }
            let e = json_body();
            // The same transactionId again: the event made the first time.
            if let Some(t) = e["transactionId"].as_str() {
                if let Some((_, there)) = s.events.values().find(|(_, x)| x["transactionId"] == t) {
                    let there = s.answer_event(there, false);
                    return ok(201, there);
                }
            }
            let made = s.make_event(cal, e);
            let mut out = s.answer_event(&made, false);
            out["@odata.context"] = json!(ctx("calendars('…')/events/$entity"));
            ok(201, out)
        }
        ("GET", ["events", id, "instances"]) => {
            let (Some(from), Some(to)) = (
                query.get("startDateTime").and_then(|v| parse_local(v)),
                query.get("endDateTime").and_then(|v| parse_local(v)),
            ) else {
                return error(400, "ErrorInvalidParameter", "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.");
            };
            if !s.events.contains_key(*id) {
                return not_found();
            }
            let items = s.instances(id, Some((from, to)));
            ok(
                200,
                page(
                    addr,
                    &path,
                    &query,
                    items,
                    &ctx(&format!("events('{id}')/instances")),
                ),
            )
        }
        ("GET", ["events", id]) => match s.events.get(*id) {
            Some((_, e)) => {
                let out = s.answer_event(e, false);
                ok(200, out)
            }
            None => not_found(),
        },
        ("PATCH", ["events", id]) => {
            let patch = json_body();
            if let Some((_, e)) = s.events.get_mut(*id) {
                for (k, v) in patch.as_object().into_iter().flatten() {
                    e[k] = v.clone();
                }
                let e = e.clone();
                return ok(200, s.answer_event(&e, false));
            }
            let Some((master, _)) = id.split_once('_') else {
                return not_found();
            };
            if !s.instances(master, None).iter().any(|i| i["id"] == *id) {
                return not_found();
            }
            let entry = s.changed.entry(id.to_string()).or_insert_with(|| json!({}));
            for (k, v) in patch.as_object().into_iter().flatten() {
                entry[k] = v.clone();
            }
            let out = s
                .instances(master, None)
                .into_iter()
                .find(|i| i["id"] == *id)
                .unwrap_or(Value::Null);
            ok(200, out)
        }
        ("DELETE", ["events", id]) => {
            if s.events.remove(*id).is_some() {
                return (204, Vec::new(), Vec::new());
            }
            let master = id.split_once('_').map(|(m, _)| m.to_owned());
            match master {
                Some(m) if s.instances(&m, None).iter().any(|i| i["id"] == *id) => {
                    s.removed.insert(id.to_string());
                    (204, Vec::new(), Vec::new())
                }
                _ => not_found(),
            }
        }
        _ => error(
            400,
            "BadRequest",
            &format!("Unsupported request {method} {path}"),
        ),
    }
}
