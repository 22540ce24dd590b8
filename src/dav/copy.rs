//! The plan, the copy and the check of contacts and calendars.
//!
//! - **Where each collection goes**: the one recorded in the progress file;
//!   else the destination's collection of the same kind with the same
//!   address or name; else a new one made in the destination's home set
//!   (its name and, for calendars, its component types kept). A server
//!   that lets nobody make collections (Google's CardDAV) gets the objects
//!   in its existing one, and the plan says so.
//! - **Each object once**: an object is written with `If-None-Match: *`
//!   under a name derived from its source address (else its UID), and
//!   recorded only after the server confirmed. A re-run (or a run after a
//!   crash between the write and the record) finds it there (412), compares
//!   its bytes, and records it; nothing is ever written twice. An object
//!   changed at the source since it was copied replaces the copy with
//!   `If-Match` on the copy's ETag, so a change made meanwhile at the
//!   destination is never overwritten: it is reported instead.
//! - **Exactly as sent**: bytes go from the source's GET to the
//!   destination's PUT untouched.
//! - **Nothing destroyed**: nothing is ever deleted, at either end. An
//!   object deleted at the source after it was copied stays at the
//!   destination and is counted in the report.
//! - **One bad object, one bad collection, never the rest**: each is
//!   reported with its reason, and the copy goes on.

use super::files::{self, Files};
use super::object::{self, ObjectKind};
use super::{Collection, DavError, Entry, Homes, Server};
use crate::state::{DavObjectRecord, State};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where contacts and calendars come from.
#[derive(Debug)]
pub enum Source {
    /// A CardDAV/CalDAV account.
    Server(Server),
    /// `.vcf` / `.ics` files.
    Files(Files),
    /// A Microsoft 365 mailbox (contacts and events converted to vCard 4
    /// and iCalendar).
    Graph(super::graph::Graph),
}

impl Source {
    /// Every address book and calendar.
    pub fn collections(&self) -> Result<Vec<Collection>, DavError> {
        match self {
            Source::Server(s) => Ok(s.discover()?.1),
            Source::Files(f) => Ok(f.collections()),
            Source::Graph(g) => g.collections(),
        }
    }

    pub(crate) fn list(&self, collection: &str) -> Result<Vec<Entry>, DavError> {
        match self {
            Source::Server(s) => s.list(collection),
            Source::Files(f) => Ok(f.list(collection)),
            Source::Graph(g) => g.entries(collection),
        }
    }

    pub(crate) fn get(&self, href: &str) -> Result<Option<Vec<u8>>, DavError> {
        match self {
            Source::Server(s) => Ok(s.get(href)?.map(|(b, _)| b)),
            Source::Files(f) => Ok(f.get(href)),
            Source::Graph(g) => g.object(href),
        }
    }
}

/// Where one source collection will go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionPlan {
    /// The source address book or calendar.
    pub source: Collection,
    /// How many objects it holds.
    pub objects: usize,
    /// The destination collection's address (None: it cannot go anywhere).
    pub dest: Option<String>,
    /// The destination collection's name.
    pub dest_name: String,
    /// Whether MailFerry will create it.
    pub create: bool,
    /// What is known not to carry over, or why it cannot go, in plain words.
    pub note: Option<String>,
}

/// One object that did not carry over (or carried over changed), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectProblem {
    /// The object: its UID, else its address.
    pub what: String,
    /// Why, in plain words.
    pub reason: String,
}

/// What became of one source collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionReport {
    /// Where it was planned to go.
    pub plan: CollectionPlan,
    /// Objects copied in this run.
    pub copied: usize,
    /// Objects changed at the source since the last run, updated.
    pub updated: usize,
    /// Objects already at the destination.
    pub already: usize,
    /// Objects deleted at the source after they were copied (left at the destination).
    pub gone_at_source: usize,
    /// Objects not copied, with the reason.
    pub refused: Vec<ObjectProblem>,
    /// Objects copied with something left out or changed on the way
    /// (a conversion for Microsoft 365), with what.
    pub changed: Vec<ObjectProblem>,
    /// Objects that could not be copied this time (network, busy server):
    /// a re-run tries again.
    pub failed: Vec<ObjectProblem>,
    /// Why the collection could not be copied at all.
    pub error: Option<String>,
}

impl CollectionReport {
    /// Nothing done yet for `plan`.
    pub(crate) fn new(plan: CollectionPlan) -> CollectionReport {
        CollectionReport {
            plan,
            copied: 0,
            updated: 0,
            already: 0,
            gone_at_source: 0,
            refused: Vec::new(),
            changed: Vec::new(),
            failed: Vec::new(),
            error: None,
        }
    }
}

/// What a copy did, collection by collection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// One entry per source collection.
    pub collections: Vec<CollectionReport>,
}

impl Report {
    /// Whether everything carried over.
    pub fn complete(&self) -> bool {
        self.collections
            .iter()
            .all(|c| c.error.is_none() && c.refused.is_empty() && c.failed.is_empty())
    }

    /// Whether only temporary problems stopped something (run again later).
    pub fn temporary(&self) -> bool {
        !self.complete()
            && self
                .collections
                .iter()
                .all(|c| c.refused.is_empty() && c.error.is_none())
    }
}

/// The destination's collections, its home sets and what the source's go to.
struct Destination {
    homes: Homes,
    collections: Vec<Collection>,
    /// Whether new address books cannot be made there (Google).
    no_new_address_books: bool,
}

impl Destination {
    fn read(dest: &Server) -> Result<Destination, DavError> {
        let (homes, collections) = dest.discover()?;
        let origin = dest.origin();
        let google = origin.ends_with("google.com") || origin.ends_with("googleapis.com");
        Ok(Destination {
            homes,
            collections,
            no_new_address_books: google,
        })
    }

    /// Where `source` goes: (address, name, create, note), or why nowhere.
    fn target(
        &self,
        source: &Collection,
        recorded: Option<String>,
        taken: &[String],
    ) -> Result<(String, String, bool, Option<String>), String> {
        let same_kind = || self.collections.iter().filter(|c| c.kind == source.kind);
        if let Some(href) = recorded {
            let name = same_kind()
                .find(|c| c.href == href)
                .map(|c| c.name.clone())
                .unwrap_or_else(|| source.name.clone());
            return Ok((href, name, false, None));
        }
        if let Some(c) = same_kind()
            .find(|c| c.segment() == source.segment())
            .or_else(|| same_kind().find(|c| c.name.eq_ignore_ascii_case(&source.name)))
        {
            return Ok((c.href.clone(), c.name.clone(), false, None));
        }
        let home = match source.kind {
            ObjectKind::Contact => self.homes.contacts.as_ref(),
            ObjectKind::Calendar => self.homes.calendars.as_ref(),
        };
        if source.kind == ObjectKind::Contact && self.no_new_address_books {
            if let Some(c) = same_kind().next() {
                return Ok((
                    c.href.clone(),
                    c.name.clone(),
                    false,
                    Some(format!(
                        "the new server lets nobody make address books: these contacts go into “{}”",
                        c.name
                    )),
                ));
            }
        }
        let Some(home) = home else {
            return Err(match source.kind {
                ObjectKind::Contact => "the new server has no place for address books".into(),
                ObjectKind::Calendar => "the new server has no place for calendars".into(),
            });
        };
        let mut segment = safe_segment(source.segment());
        let mut n = 2;
        while self
            .collections
            .iter()
            .any(|c| c.segment().eq_ignore_ascii_case(&segment))
            || taken.iter().any(|t| t.eq_ignore_ascii_case(&segment))
        {
            segment = format!("{}-{n}", safe_segment(source.segment()));
            n += 1;
        }
        let href = format!("{}/{segment}/", home.trim_end_matches('/'));
        Ok((href, source.name.clone(), true, None))
    }
}

/// A collection's address part made of characters every server takes.
fn safe_segment(segment: &str) -> String {
    let s: String = segment
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.@".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches('.').to_owned();
    if s.is_empty() {
        object::digest(segment.as_bytes())[..16].to_owned()
    } else {
        s
    }
}

/// The name an object gets in its destination collection: its source
/// name when plain, else its UID when plain, else a digest of the UID (or
/// of the bytes, for an object without UID). `=` and `+` are not plain:
/// servers list such names percent-encoded (Radicale: `%3D`), so a re-run
/// would not recognise its own copy.
fn object_name(source_href: &str, uid: Option<&str>, kind: ObjectKind, bytes: &[u8]) -> String {
    let ext = match kind {
        ObjectKind::Contact => "vcf",
        ObjectKind::Calendar => "ics",
    };
    let plain = |s: &str| {
        !s.is_empty()
            && s.len() <= 120
            && !s.starts_with('.')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
    };
    let segment = super::last_segment(source_href);
    if !source_href.contains('#') && plain(segment) && segment.ends_with(&format!(".{ext}")) {
        return segment.to_owned();
    }
    match uid {
        Some(u) if plain(u) => format!("{u}.{ext}"),
        Some(u) => format!("{}.{ext}", &object::digest(u.as_bytes())[..32]),
        None => format!("{}.{ext}", &object::digest(bytes)[..32]),
    }
}

/// Where every source collection will go, with its object count; writes nothing.
pub fn plan(
    source: &Source,
    dest: &Server,
    state: Option<&State>,
) -> Result<Vec<CollectionPlan>, DavError> {
    let destination = Destination::read(dest)?;
    let mut plans = Vec::new();
    let mut taken = Vec::new();
    for collection in source.collections()? {
        let recorded = match state {
            Some(s) => s.dav_collection(&collection.href)?.map(|r| r.dest),
            None => None,
        };
        let objects = source.list(&collection.href).map(|l| l.len());
        let mut p = CollectionPlan {
            objects: *objects.as_ref().unwrap_or(&0),
            source: collection.clone(),
            dest: None,
            dest_name: collection.name.clone(),
            create: false,
            note: objects.err().map(|e| e.to_string()),
        };
        match destination.target(&collection, recorded, &taken) {
            Ok((href, name, create, note)) => {
                if create {
                    taken.push(super::last_segment(&href).to_owned());
                }
                p.dest = Some(href);
                p.dest_name = name;
                p.create = create;
                p.note = p.note.or(note);
            }
            Err(why) => p.note = Some(why),
        }
        plans.push(p);
    }
    Ok(plans)
}

/// Copies every address book and calendar of `source` to `dest`,
/// recording each object in `state`; see the module's rules. A sign-in
/// either server stops taking on the way ends the copy with that error;
/// what was copied is recorded, so the next run goes on from there.
pub fn sync(source: &Source, dest: &Server, state: &mut State) -> Result<Report, DavError> {
    let plans = plan(source, dest, Some(state))?;
    let mut report = Report::default();
    for p in plans {
        let mut r = CollectionReport::new(p.clone());
        match copy_collection(source, dest, state, &p, &mut r) {
            Err(e @ DavError::SignInRefused { .. }) => return Err(e),
            Err(e) => r.error = Some(e.to_string()),
            Ok(()) => {}
        }
        report.collections.push(r);
    }
    Ok(report)
}

/// Now, in Unix seconds, as the progress file records times.
pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn copy_collection(
    source: &Source,
    dest: &Server,
    state: &mut State,
    p: &CollectionPlan,
    r: &mut CollectionReport,
) -> Result<(), DavError> {
    let Some(dest_href) = p.dest.clone() else {
        return Err(DavError::Refused {
            action: format!("place “{}”", p.source.name),
            status: 0,
            detail: p.note.clone().unwrap_or_default(),
        });
    };
    if p.create {
        dest.make_collection(&dest_href, &p.source)?;
    }
    let calendar = p.source.kind == ObjectKind::Calendar;
    state.record_dav_collection(&p.source.href, calendar, &dest_href, p.create)?;
    let at_dest: HashMap<String, Option<String>> = dest
        .list(&dest_href)?
        .into_iter()
        .map(|e| (e.href, e.etag))
        .collect();
    let entries = source.list(&p.source.href)?;
    r.gone_at_source = gone_at_source(state, &p.source.href, &entries)?;
    for entry in &entries {
        match copy_object(source, dest, state, p, &dest_href, &at_dest, entry) {
            Ok(Outcome::Copied) => r.copied += 1,
            Ok(Outcome::Updated) => r.updated += 1,
            Ok(Outcome::Already) => r.already += 1,
            Ok(Outcome::Gone) => {}
            Ok(Outcome::Refused { what, reason }) => r.refused.push(ObjectProblem { what, reason }),
            Err(e) => object_failed(r, entry, e)?,
        }
    }
    Ok(())
}

/// Objects copied from the collection at `collection` (and not refused)
/// that its listing `entries` no longer holds: deleted at the source since.
pub(crate) fn gone_at_source(
    state: &State,
    collection: &str,
    entries: &[Entry],
) -> Result<usize, DavError> {
    let listed: std::collections::HashSet<&str> = entries.iter().map(|e| e.href.as_str()).collect();
    Ok(state
        .dav_objects(collection)?
        .iter()
        .filter(|(href, rec)| rec.refused.is_none() && !listed.contains(href.as_str()))
        .count())
}

/// An object whose copy failed with `e`: worth another run when the error
/// is temporary, refused otherwise; the others go on. A progress file that
/// cannot be written stops the copy, and so does a sign-in the server no
/// longer takes (every later entry would be refused the same way: one
/// "sign in again" says it, and nothing is recorded against the entries).
pub(crate) fn object_failed(
    r: &mut CollectionReport,
    entry: &Entry,
    e: DavError,
) -> Result<(), DavError> {
    let problem = ObjectProblem {
        what: entry.href.clone(),
        reason: e.to_string(),
    };
    match e {
        DavError::State(_) | DavError::SignInRefused { .. } => return Err(e),
        e if e.is_temporary() => r.failed.push(problem),
        _ => r.refused.push(problem),
    }
    Ok(())
}

enum Outcome {
    Copied,
    Updated,
    Already,
    Gone,
    Refused { what: String, reason: String },
}

fn copy_object(
    source: &Source,
    dest: &Server,
    state: &mut State,
    p: &CollectionPlan,
    dest_collection: &str,
    at_dest: &HashMap<String, Option<String>>,
    entry: &Entry,
) -> Result<Outcome, DavError> {
    let collection = &p.source.href;
    let kind = p.source.kind;
    let record = state.dav_object(collection, &entry.href)?;
    let copied = record.as_ref().filter(|r| r.refused.is_none());
    // Unchanged at the source and still where it was put: nothing to read.
    if let Some(rec) = copied {
        let unchanged = entry.etag.is_some() && rec.source_etag == entry.etag;
        let there = rec.dest_href.as_ref().and_then(|h| at_dest.get(h));
        let untouched = match (there, &rec.dest_etag) {
            (Some(etag), Some(recorded)) => etag.as_ref() == Some(recorded),
            (Some(_), None) => true,
            (None, _) => false,
        };
        if unchanged && untouched {
            return Ok(Outcome::Already);
        }
    }
    let Some(bytes) = source.get(&entry.href)? else {
        return Ok(Outcome::Gone);
    };
    let uid = object::uid(&bytes);
    let what = uid.clone().unwrap_or_else(|| entry.href.clone());
    if object::kind_of(&bytes) != Some(kind) {
        let reason = match kind {
            ObjectKind::Contact => "it is not a contact (vCard)",
            ObjectKind::Calendar => "it is not a calendar entry (iCalendar)",
        };
        return refuse(state, collection, entry, uid, what, reason.into());
    }
    let digest = object::digest(&bytes);
    let target = match copied.and_then(|r| r.dest_href.clone()) {
        Some(h) => h,
        None => format!(
            "{}/{}",
            dest_collection.trim_end_matches('/'),
            object_name(&entry.href, uid.as_deref(), kind, &bytes)
        ),
    };
    let mut record = DavObjectRecord {
        uid: uid.clone(),
        source_etag: entry.etag.clone(),
        digest: Some(digest.clone()),
        dest_href: Some(target.clone()),
        dest_etag: None,
        refused: None,
        note: None,
    };
    let changed = copied.is_some_and(|r| r.digest.as_deref() != Some(digest.as_str()));
    if changed && at_dest.contains_key(&target) {
        // Replace our copy, only if it is still the version we wrote.
        let rec = copied.expect("changed implies a record");
        let mut if_match = rec
            .dest_etag
            .clone()
            .filter(|e| at_dest.get(&target) == Some(&Some(e.clone())));
        if if_match.is_none() && rec.dest_etag.is_none() {
            // No ETag was given when it was written: compare the bytes.
            if let Some((now_there, etag)) = dest.get(&target)? {
                if Some(object::digest(&now_there)) == rec.digest {
                    if_match = etag;
                }
            }
        }
        let Some(if_match) = if_match else {
            return Ok(Outcome::Refused {
                what,
                reason: "changed at both the old and the new server since it was copied: the new server's version was kept".into(),
            });
        };
        let answer = dest.put(&target, kind, &bytes, Some(&if_match))?;
        if answer.ok() {
            record.dest_etag = answer.etag;
            state.record_dav_object(collection, &entry.href, &record, now())?;
            return Ok(Outcome::Updated);
        }
        if answer.status == 412 {
            return Ok(Outcome::Refused {
                what,
                reason: "changed at both the old and the new server since it was copied: the new server's version was kept".into(),
            });
        }
        return put_refused(state, collection, entry, uid, what, &answer);
    }
    if copied.is_some() && !changed && at_dest.contains_key(&target) {
        // The same bytes under a new source ETag: only the record changes.
        record.dest_etag = copied.and_then(|r| r.dest_etag.clone());
        state.record_dav_object(collection, &entry.href, &record, now())?;
        return Ok(Outcome::Already);
    }
    let answer = dest.put(&target, kind, &bytes, None)?;
    if answer.ok() {
        crate::crashpoint::hit("dav_after_put");
        record.dest_etag = answer.etag;
        state.record_dav_object(collection, &entry.href, &record, now())?;
        return Ok(if changed {
            Outcome::Updated
        } else {
            Outcome::Copied
        });
    }
    if answer.status == 412 {
        // Something is already there under this name: ours from a run that
        // stopped before recording it, or someone else's.
        if let Some((there, etag)) = dest.get(&target)? {
            if object::digest(&there) == digest {
                record.dest_etag = etag;
                state.record_dav_object(collection, &entry.href, &record, now())?;
                return Ok(Outcome::Already);
            }
        }
        return refuse(
            state,
            collection,
            entry,
            uid,
            what,
            "a different entry with the same name is already at the new server: both were left as they are".into(),
        );
    }
    put_refused(state, collection, entry, uid, what, &answer)
}

fn put_refused(
    state: &mut State,
    collection: &str,
    entry: &Entry,
    uid: Option<String>,
    what: String,
    answer: &super::http::Answer,
) -> Result<Outcome, DavError> {
    if answer.status == 429 || answer.status >= 500 {
        return Err(DavError::Refused {
            action: format!("store {what}"),
            status: answer.status,
            detail: answer.excerpt(),
        });
    }
    let text = String::from_utf8_lossy(&answer.body).to_ascii_lowercase();
    let reason = if text.contains("uid-conflict") || (answer.status == 409 && text.contains("uid"))
    {
        "the new server already holds an entry with the same UID under another name: it was left as it is".to_owned()
    } else {
        format!(
            "the new server refused it (HTTP {}): {}",
            answer.status,
            answer.excerpt()
        )
    };
    refuse(state, collection, entry, uid, what, reason)
}

fn refuse(
    state: &mut State,
    collection: &str,
    entry: &Entry,
    uid: Option<String>,
    what: String,
    reason: String,
) -> Result<Outcome, DavError> {
    let record = DavObjectRecord {
        uid,
        source_etag: entry.etag.clone(),
        digest: None,
        dest_href: None,
        dest_etag: None,
        refused: Some(reason.clone()),
        note: None,
    };
    state.record_dav_object(collection, &entry.href, &record, now())?;
    Ok(Outcome::Refused { what, reason })
}

/// How one collection compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionCheck {
    /// The source collection.
    pub source: Collection,
    /// Its destination, when it has one.
    pub dest: Option<String>,
    /// Objects at the source.
    pub objects: usize,
    /// Objects at the destination byte for byte.
    pub identical: usize,
    /// Objects at the destination with the same content in the server's
    /// own layout (a server that rewrites what it stores).
    pub same_content: usize,
    /// Objects not at the destination, with the reason.
    pub missing: Vec<ObjectProblem>,
    /// Objects that differ at the destination.
    pub different: Vec<ObjectProblem>,
    /// Why the collection could not be compared.
    pub error: Option<String>,
}

impl CollectionCheck {
    /// Nothing compared yet for `plan`.
    pub(crate) fn new(plan: &CollectionPlan) -> CollectionCheck {
        CollectionCheck {
            source: plan.source.clone(),
            dest: plan.dest.clone(),
            objects: 0,
            identical: 0,
            same_content: 0,
            missing: Vec::new(),
            different: Vec::new(),
            error: None,
        }
    }
}

/// The check of every collection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// One entry per source collection.
    pub collections: Vec<CollectionCheck>,
}

impl VerifyReport {
    /// Whether every source object is at the destination, unchanged.
    pub fn safe_to_switch(&self) -> bool {
        self.collections
            .iter()
            .all(|c| c.error.is_none() && c.missing.is_empty() && c.different.is_empty())
    }
}

/// Compares every source object with its copy at the destination; writes nothing.
pub fn verify(
    source: &Source,
    dest: &Server,
    state: Option<&State>,
) -> Result<VerifyReport, DavError> {
    let plans = plan(source, dest, state)?;
    Ok(check_each(plans, |p, c| {
        check_collection(source, dest, state, p, c)
    }))
}

/// Each plan's collection checked by `check`; one that cannot be checked
/// says why, and the others are checked all the same.
pub(crate) fn check_each(
    plans: Vec<CollectionPlan>,
    mut check: impl FnMut(&CollectionPlan, &mut CollectionCheck) -> Result<(), DavError>,
) -> VerifyReport {
    let mut report = VerifyReport::default();
    for p in plans {
        let mut c = CollectionCheck::new(&p);
        if let Err(e) = check(&p, &mut c) {
            c.error = Some(e.to_string());
        }
        report.collections.push(c);
    }
    report
}

fn check_collection(
    source: &Source,
    dest: &Server,
    state: Option<&State>,
    p: &CollectionPlan,
    c: &mut CollectionCheck,
) -> Result<(), DavError> {
    let Some(dest_collection) = p.dest.as_deref() else {
        return Err(DavError::Refused {
            action: format!("find where “{}” went", p.source.name),
            status: 0,
            detail: p.note.clone().unwrap_or_default(),
        });
    };
    if p.create {
        // Not made yet: everything is missing.
        for entry in source.list(&p.source.href)? {
            c.objects += 1;
            c.missing.push(ObjectProblem {
                what: entry.href,
                reason: "not copied yet: its address book or calendar is not at the new server"
                    .into(),
            });
        }
        return Ok(());
    }
    each_source_object(source, state, p, c, |o, c| {
        let SourceObject {
            entry,
            bytes,
            uid,
            what,
            record,
        } = o;
        let target = record
            .as_ref()
            .and_then(|r| r.dest_href.clone())
            .unwrap_or_else(|| {
                format!(
                    "{}/{}",
                    dest_collection.trim_end_matches('/'),
                    object_name(&entry.href, uid.as_deref(), p.source.kind, &bytes)
                )
            });
        match dest.get(&target)? {
            None => c.missing.push(ObjectProblem {
                what,
                reason: record
                    .and_then(|r| r.refused)
                    .unwrap_or_else(|| "not at the new server".into()),
            }),
            Some((there, _)) if there == bytes => c.identical += 1,
            Some((there, _)) if same_content(&there, &bytes) => c.same_content += 1,
            Some(_) => c.different.push(ObjectProblem {
                what,
                reason: "the copy at the new server differs from the original".into(),
            }),
        }
        Ok(())
    })
}

/// A source object as a check sees it.
pub(crate) struct SourceObject {
    /// Where it is at the source.
    pub(crate) entry: Entry,
    /// Its bytes as the source serves them.
    pub(crate) bytes: Vec<u8>,
    /// Its UID, when it has one.
    pub(crate) uid: Option<String>,
    /// How a report names it: its UID, else its address.
    pub(crate) what: String,
    /// What the progress file says of it, if anything.
    pub(crate) record: Option<DavObjectRecord>,
}

/// Each object still at the source of `p`'s collection, counted in
/// `c.objects` and handed to `check` with its record in `state`.
pub(crate) fn each_source_object(
    source: &Source,
    state: Option<&State>,
    p: &CollectionPlan,
    c: &mut CollectionCheck,
    mut check: impl FnMut(SourceObject, &mut CollectionCheck) -> Result<(), DavError>,
) -> Result<(), DavError> {
    for entry in source.list(&p.source.href)? {
        let Some(bytes) = source.get(&entry.href)? else {
            continue;
        };
        c.objects += 1;
        let uid = object::uid(&bytes);
        let what = uid.clone().unwrap_or_else(|| entry.href.clone());
        let record = match state {
            Some(s) => s.dav_object(&p.source.href, &entry.href)?,
            None => None,
        };
        check(
            SourceObject {
                entry,
                bytes,
                uid,
                what,
                record,
            },
            c,
        )?;
    }
    Ok(())
}

/// Whether two objects hold the same content lines, whatever their order,
/// folding and line endings.
fn same_content(a: &[u8], b: &[u8]) -> bool {
    let lines = |x: &[u8]| {
        let mut v: Vec<String> = unfolded(x)
            .into_iter()
            .map(|l| l.trim_end().to_owned())
            .filter(|l| !l.is_empty())
            .collect();
        v.sort();
        v
    };
    lines(a) == lines(b)
}

fn unfolded(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes).replace("\r\n", "\n");
    let mut out: Vec<String> = Vec::new();
    for line in text.split('\n') {
        if let Some(rest) = line.strip_prefix([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.push_str(rest);
                continue;
            }
        }
        out.push(line.to_owned());
    }
    out
}

/// One exported file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedFile {
    /// The source collection.
    pub source: Collection,
    /// The file written (None: not written, see `error`).
    pub path: Option<PathBuf>,
    /// Objects in it.
    pub objects: usize,
    /// Objects that could not be read, with the reason.
    pub failed: Vec<ObjectProblem>,
    /// Why the file could not be written.
    pub error: Option<String>,
}

/// Writes every address book and calendar of `source` to `dir`, one
/// `.vcf` or `.ics` file each, whole or not at all; a re-run rewrites
/// them from the source (nothing doubled).
pub fn export(source: &Source, dir: &Path) -> Result<Vec<ExportedFile>, DavError> {
    let mut out = Vec::new();
    let mut taken: Vec<String> = Vec::new();
    for collection in source.collections()? {
        let name = files::export_file_name(&collection, &taken);
        taken.push(name.clone());
        let mut file = ExportedFile {
            source: collection.clone(),
            path: None,
            objects: 0,
            failed: Vec::new(),
            error: None,
        };
        let result = (|| -> Result<PathBuf, DavError> {
            let mut objects = Vec::new();
            for entry in source.list(&collection.href)? {
                match source.get(&entry.href) {
                    Ok(Some(bytes)) => objects.push(bytes),
                    Ok(None) => {}
                    Err(e) => file.failed.push(ObjectProblem {
                        what: entry.href.clone(),
                        reason: e.to_string(),
                    }),
                }
            }
            file.objects = objects.len();
            files::write_collection(dir, &name, collection.kind, &objects)
        })();
        match result {
            Ok(path) => file.path = Some(path),
            Err(e) => file.error = Some(e.to_string()),
        }
        out.push(file);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_keep_plain_names_and_get_safe_ones_otherwise() {
        let c = ObjectKind::Contact;
        assert_eq!(object_name("/a/book/abc-1.vcf", None, c, b""), "abc-1.vcf");
        assert_eq!(
            object_name("/a/book/we%20ird.vcf", Some("uid-7"), c, b""),
            "uid-7.vcf"
        );
        assert_eq!(object_name("book.vcf#3", Some("u"), c, b""), "u.vcf");
        let odd = object_name("book.vcf#3", Some("urn:uuid:1/2"), c, b"");
        assert!(odd.ends_with(".vcf") && odd.len() == 36, "{odd}");
        assert_eq!(
            object_name("book.vcf#3", None, ObjectKind::Calendar, b"x"),
            format!("{}.ics", &object::digest(b"x")[..32])
        );
        assert_eq!(safe_segment("Work & home"), "Work---home");
        let graph_id = object_name("/contacts/AAMkADA=", Some("AAMkADA="), c, b"");
        assert!(
            !graph_id.contains('=') && graph_id.ends_with(".vcf"),
            "{graph_id}"
        );
    }

    #[test]
    fn content_compares_whatever_the_layout() {
        let a = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A long\r\n  name\r\nUID:1\r\nEND:VCARD\r\n";
        let b = b"BEGIN:VCARD\nVERSION:3.0\nUID:1\nFN:A long name\nEND:VCARD\n";
        assert!(same_content(a, b));
        assert!(!same_content(
            a,
            b"BEGIN:VCARD\nVERSION:3.0\nUID:1\nFN:Other\nEND:VCARD\n"
        ));
    }
}
