//! Contacts and calendars copied to Microsoft 365 through Graph.
//!
//! - **Where each collection goes**: the one recorded in the progress file;
//!   else the contact folder (address books) or calendar of the same name;
//!   else a new one with the source's name.
//! - **Each object once**: every contact and event carries the source UID
//!   in a single-value extended property ([`SOURCE_UID`]), events also a
//!   `transactionId` derived from it. An object is recorded after Graph
//!   confirmed it; a run that stopped between the two looks it up by that
//!   property (`$filter`) before creating anything, and finishes it (photo,
//!   removed and changed occurrences: all idempotent).
//! - **Converted, not copied**: what Graph has no field for is listed per
//!   object (the report's `changed`, the progress file's reason); what
//!   Graph cannot hold at all (groups, to-dos, repeat rules it cannot
//!   express) is refused with the reason.
//! - **A change at the source** updates the copy (PATCH), its occurrences
//!   again; nothing is ever deleted at either end.

use super::client::Graph;
use super::{contact, event};
use crate::dav::copy::{
    each_source_object, gone_at_source, now, object_failed, CollectionCheck, CollectionPlan,
    CollectionReport, ObjectProblem, Report, Source, SourceObject, VerifyReport,
};
use crate::dav::object::{self, ObjectKind};
use crate::dav::{Collection, DavError, Entry};
use crate::state::{DavObjectRecord, State};
use chrono::{Duration, NaiveDateTime};
use serde_json::{json, Value};

/// The extended property holding the source object's UID (a MAPI named
/// property of MailFerry's own property set).
pub const SOURCE_UID: &str =
    "String {5b1f3f7e-2a6c-4d1e-9b8a-6d0c4e2f7a91} Name MailFerrySourceUid";

/// The mailbox's default contacts folder.
const DEFAULT_CONTACTS: &str = "/contacts";

/// A folder or calendar at Graph.
#[derive(Debug, Clone)]
pub(super) struct Place {
    /// `/contacts` (the default folder), `/contactFolders/{id}` or `/calendars/{id}`.
    pub(super) href: String,
    pub(super) kind: ObjectKind,
    pub(super) name: String,
}

/// The mailbox's contact folders (its own Contacts first) and calendars.
pub(super) fn places(graph: &Graph) -> Result<Vec<Place>, DavError> {
    // Outlook's own Contacts folder first: an address book called
    // “Contacts” goes there, not into a sub-folder of the same name.
    let mut out = vec![Place {
        href: DEFAULT_CONTACTS.to_owned(),
        kind: ObjectKind::Contact,
        name: "Contacts".to_owned(),
    }];
    for f in graph.list("/contactFolders?$top=100")? {
        if let (Some(id), Some(name)) = (f["id"].as_str(), f["displayName"].as_str()) {
            out.push(Place {
                href: format!("/contactFolders/{id}"),
                kind: ObjectKind::Contact,
                name: name.to_owned(),
            });
        }
    }
    for c in graph.list("/calendars?$top=100")? {
        if let (Some(id), Some(name)) = (c["id"].as_str(), c["name"].as_str()) {
            out.push(Place {
                href: format!("/calendars/{id}"),
                kind: ObjectKind::Calendar,
                name: name.to_owned(),
            });
        }
    }
    Ok(out)
}

/// The mailbox's time zone (for floating and all-day times); UTC when Graph does not say.
fn home_zone(graph: &Graph) -> String {
    graph
        .get("/mailboxSettings/timeZone")
        .ok()
        .flatten()
        .and_then(|v| v["value"].as_str().map(str::to_owned))
        .filter(|z| !z.is_empty())
        .unwrap_or_else(|| "UTC".to_owned())
}

/// Where every source collection will go at Microsoft 365, with its
/// object count; `preview` also converts every object to tell what is
/// known not to carry over. Writes nothing.
pub fn plan(
    source: &Source,
    graph: &Graph,
    state: Option<&State>,
    preview: bool,
) -> Result<Vec<CollectionPlan>, DavError> {
    let at_graph = places(graph)?;
    let zone = if preview {
        home_zone(graph)
    } else {
        String::new()
    };
    let mut plans = Vec::new();
    let mut taken: Vec<String> = Vec::new();
    for collection in source.collections()? {
        let recorded = match state {
            Some(s) => s.dav_collection(&collection.href)?.map(|r| r.dest),
            None => None,
        };
        let entries = source.list(&collection.href);
        let mut p = CollectionPlan {
            objects: entries.as_ref().map(Vec::len).unwrap_or(0),
            source: collection.clone(),
            dest: None,
            dest_name: collection.name.clone(),
            create: false,
            note: entries.as_ref().err().map(|e| e.to_string()),
        };
        let same = at_graph
            .iter()
            .filter(|g| g.kind == collection.kind)
            .find(|g| g.name.eq_ignore_ascii_case(&collection.name));
        if let Some(href) = recorded {
            p.dest_name = at_graph
                .iter()
                .find(|g| g.href == href)
                .map(|g| g.name.clone())
                .unwrap_or(p.dest_name);
            p.dest = Some(href);
        } else if let Some(g) = same.filter(|g| !taken.contains(&g.href)) {
            p.dest = Some(g.href.clone());
            p.dest_name = g.name.clone();
        } else {
            let mut name = collection.name.clone();
            let mut n = 2;
            while at_graph
                .iter()
                .any(|g| g.kind == collection.kind && g.name.eq_ignore_ascii_case(&name))
                || taken.iter().any(|t| t.eq_ignore_ascii_case(&name))
            {
                name = format!("{} ({n})", collection.name);
                n += 1;
            }
            taken.push(name.clone());
            p.dest = Some(format!("new:{name}"));
            p.dest_name = name;
            p.create = true;
        }
        if let Some(h) = &p.dest {
            taken.push(h.clone());
        }
        if preview {
            if let Ok(entries) = &entries {
                let notes = preview_notes(
                    source,
                    collection.kind,
                    entries,
                    &zone,
                    graph.keeps_attendees(),
                )?;
                if !notes.is_empty() {
                    p.note = Some(match p.note.take() {
                        Some(n) => format!("{n}; {}", notes.join("; ")),
                        None => notes.join("; "),
                    });
                }
            }
        }
        plans.push(p);
    }
    Ok(plans)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// What is known not to carry over of a collection's objects, in words.
fn preview_notes(
    source: &Source,
    kind: ObjectKind,
    entries: &[Entry],
    zone: &str,
    attendees: bool,
) -> Result<Vec<String>, DavError> {
    let (mut groups, mut todos, mut refused, mut changed, mut invited) = (0, 0, 0, 0, 0);
    for entry in entries {
        let Some(bytes) = source.get(&entry.href)? else {
            continue;
        };
        match convert(kind, &bytes, zone) {
            Err(r) if r == contact::GROUP_REASON => groups += 1,
            Err(r) if r == event::TODO_REASON => todos += 1,
            Err(_) => refused += 1,
            Ok(c) => {
                if !c.losses.is_empty() {
                    changed += 1;
                }
                if c.body["attendees"]
                    .as_array()
                    .is_some_and(|a| !a.is_empty())
                {
                    invited += 1;
                }
            }
        }
    }
    let mut notes = Vec::new();
    let stay = |n: usize, one: &str, many: &str| {
        if n == 1 {
            format!("the {one} stays behind")
        } else {
            format!("the {n} {many} stay behind")
        }
    };
    let counted = [
        (
            groups,
            "Outlook contacts have no groups: {}",
            stay(groups, "group card", "group cards"),
        ),
        (
            todos,
            "Outlook calendars hold events only: {}",
            stay(todos, "to-do", "to-dos"),
        ),
        (
            refused,
            "{} cannot be held by Outlook (the copy's report says why for each)",
            plural(refused, "entry", "entries"),
        ),
        (
            changed,
            "{} a detail Outlook has no place for (the copy's report lists them)",
            plural(changed, "entry loses", "entries lose"),
        ),
        (
            invited,
            if attendees {
                "{} attendees: Outlook sends them an invitation when the event is created"
            } else {
                "{} attendees: copied without them, so Outlook sends no invitation"
            },
            plural(invited, "event has", "events have"),
        ),
    ];
    for (n, text, words) in counted {
        if n > 0 {
            notes.push(text.replace("{}", &words));
        }
    }
    Ok(notes)
}

/// An object converted for Graph.
struct Converted {
    body: Value,
    photo: Option<Vec<u8>>,
    occurrences: Vec<event::Occurrence>,
    losses: Vec<String>,
    start_utc: Option<NaiveDateTime>,
}

fn convert(kind: ObjectKind, bytes: &[u8], zone: &str) -> Result<Converted, String> {
    match kind {
        ObjectKind::Contact => contact::to_graph(bytes).map(|c| Converted {
            body: c.contact,
            photo: c.photo,
            occurrences: Vec::new(),
            losses: c.losses,
            start_utc: None,
        }),
        ObjectKind::Calendar => event::to_graph(bytes, zone).map(|e| Converted {
            body: e.event,
            photo: None,
            occurrences: e.occurrences,
            losses: e.losses,
            start_utc: e.start_utc,
        }),
    }
}

/// An event without its attendees (and their answers), said in its note:
/// Outlook sends no invitation for it.
fn leave_out_attendees(c: &mut Converted) {
    let mut had = c
        .body
        .as_object_mut()
        .and_then(|o| o.remove("attendees"))
        .is_some();
    for o in &mut c.occurrences {
        if let Some(patch) = o.patch.as_mut().and_then(Value::as_object_mut) {
            had |= patch.remove("attendees").is_some();
        }
    }
    if had {
        c.losses.retain(|l| !l.starts_with("the attendees"));
        c.losses
            .push("its attendees, left out so that Outlook sends no invitation".into());
    }
}

/// Copies every address book and calendar of `source` to the mailbox,
/// recording each object in `state`; see the module's rules.
pub fn sync(source: &Source, graph: &Graph, state: &mut State) -> Result<Report, DavError> {
    let plans = plan(source, graph, Some(state), false)?;
    let zone = home_zone(graph);
    let mut report = Report::default();
    for p in plans {
        let mut r = CollectionReport::new(p);
        // A sign-in refused on the way stops the copy, as in the DAV copy.
        match copy_collection(source, graph, state, &zone, &mut r) {
            Err(e @ DavError::SignInRefused { .. }) => return Err(e),
            Err(e) => r.error = Some(e.to_string()),
            Ok(()) => {}
        }
        report.collections.push(r);
    }
    Ok(report)
}

/// Makes the folder or calendar of a plan (or finds it, made by a run
/// whose answer was lost); its href.
fn make_place(graph: &Graph, source: &Collection, name: &str) -> Result<String, DavError> {
    if let Some(p) = places(graph)?
        .into_iter()
        .find(|p| p.kind == source.kind && p.name == name)
    {
        return Ok(p.href);
    }
    let (target, doc, prefix) = match source.kind {
        ObjectKind::Contact => (
            "/contactFolders",
            json!({ "displayName": name }),
            "/contactFolders",
        ),
        ObjectKind::Calendar => ("/calendars", json!({ "name": name }), "/calendars"),
    };
    let made = graph.send_json("POST", target, &doc, &format!("create “{name}”"))?;
    let id = made["id"].as_str().ok_or_else(|| DavError::Refused {
        action: format!("create “{name}”"),
        status: 0,
        detail: "Microsoft 365 gave no id".into(),
    })?;
    Ok(format!("{prefix}/{id}"))
}

fn copy_collection(
    source: &Source,
    graph: &Graph,
    state: &mut State,
    zone: &str,
    r: &mut CollectionReport,
) -> Result<(), DavError> {
    let p = r.plan.clone();
    let Some(mut dest) = p.dest.clone() else {
        return Err(DavError::Refused {
            action: format!("place “{}”", p.source.name),
            status: 0,
            detail: p.note.clone().unwrap_or_default(),
        });
    };
    if p.create {
        dest = make_place(graph, &p.source, &p.dest_name)?;
        r.plan.dest = Some(dest.clone());
    }
    let calendar = p.source.kind == ObjectKind::Calendar;
    state.record_dav_collection(&p.source.href, calendar, &dest, p.create)?;
    let entries = source.list(&p.source.href)?;
    r.gone_at_source = gone_at_source(state, &p.source.href, &entries)?;
    for entry in &entries {
        match copy_object(source, graph, state, &p.source, &dest, zone, entry) {
            Ok(Outcome::Copied(note)) => {
                r.copied += 1;
                push_note(r, note);
            }
            Ok(Outcome::Updated(note)) => {
                r.updated += 1;
                push_note(r, note);
            }
            Ok(Outcome::Already) => r.already += 1,
            Ok(Outcome::Gone) => {}
            Ok(Outcome::Refused(problem)) => r.refused.push(problem),
            Err(e) => object_failed(r, entry, e)?,
        }
    }
    Ok(())
}

fn push_note(r: &mut CollectionReport, note: Option<ObjectProblem>) {
    if let Some(n) = note {
        r.changed.push(n);
    }
}

enum Outcome {
    Copied(Option<ObjectProblem>),
    Updated(Option<ObjectProblem>),
    Already,
    Gone,
    Refused(ObjectProblem),
}

/// The key an object is known by at Graph: its UID, else its source address.
fn key_of(uid: Option<&str>, href: &str) -> String {
    match uid {
        Some(u) => u.to_owned(),
        None => format!("source:{href}"),
    }
}

/// Graph's `transactionId` of an event: derived from its UID and calendar.
fn transaction_id(key: &str, calendar: &str) -> String {
    let d = object::digest(format!("{calendar}\n{key}").as_bytes());
    format!("mailferry-{}", &d[..32])
}

/// Where the items of a place are (`/contactFolders/{id}/contacts`), and
/// where one item is (`/contacts/{id}`).
fn items_of(place: &str, kind: ObjectKind) -> String {
    if place == DEFAULT_CONTACTS {
        return place.to_owned();
    }
    match kind {
        ObjectKind::Contact => format!("{place}/contacts"),
        ObjectKind::Calendar => format!("{place}/events"),
    }
}

fn item(kind: ObjectKind, id: &str) -> String {
    match kind {
        ObjectKind::Contact => format!("/contacts/{id}"),
        ObjectKind::Calendar => format!("/events/{id}"),
    }
}

/// The id of the item at `place` carrying `key` in [`SOURCE_UID`].
fn lookup(
    graph: &Graph,
    place: &str,
    kind: ObjectKind,
    key: &str,
) -> Result<Option<String>, DavError> {
    let filter = format!(
        "singleValueExtendedProperties/Any(ep: ep/id eq '{SOURCE_UID}' and ep/value eq '{}')",
        key.replace('\'', "''")
    );
    let target = format!(
        "{}?$filter={}&$select=id",
        items_of(place, kind),
        crate::auth::oauth::percent_encode(&filter)
    );
    Ok(graph
        .list(&target)?
        .first()
        .and_then(|v| v["id"].as_str().map(str::to_owned)))
}

#[allow(clippy::too_many_arguments)]
fn copy_object(
    source: &Source,
    graph: &Graph,
    state: &mut State,
    collection: &Collection,
    place: &str,
    zone: &str,
    entry: &Entry,
) -> Result<Outcome, DavError> {
    let kind = collection.kind;
    let record = state.dav_object(&collection.href, &entry.href)?;
    let copied = record.as_ref().filter(|r| r.refused.is_none());
    if let Some(rec) = copied {
        if entry.etag.is_some() && rec.source_etag == entry.etag {
            return Ok(Outcome::Already);
        }
    }
    let Some(bytes) = source.get(&entry.href)? else {
        return Ok(Outcome::Gone);
    };
    let uid = object::uid(&bytes);
    let what = uid.clone().unwrap_or_else(|| entry.href.clone());
    let digest = object::digest(&bytes);
    if let Some(rec) = copied {
        if rec.digest.as_deref() == Some(digest.as_str()) {
            let mut rec = rec.clone();
            rec.source_etag = entry.etag.clone();
            state.record_dav_object(&collection.href, &entry.href, &rec, now())?;
            return Ok(Outcome::Already);
        }
    }
    let refuse = |state: &mut State, reason: String| -> Result<Outcome, DavError> {
        let record = DavObjectRecord {
            uid: uid.clone(),
            source_etag: entry.etag.clone(),
            digest: None,
            dest_href: None,
            dest_etag: None,
            refused: Some(reason.clone()),
            note: None,
        };
        state.record_dav_object(&collection.href, &entry.href, &record, now())?;
        Ok(Outcome::Refused(ObjectProblem {
            what: what.clone(),
            reason,
        }))
    };
    if object::kind_of(&bytes) != Some(kind) {
        let reason = match kind {
            ObjectKind::Contact => "it is not a contact (vCard)",
            ObjectKind::Calendar => "it is not a calendar entry (iCalendar)",
        };
        return refuse(state, reason.into());
    }
    let mut c = match convert(kind, &bytes, zone) {
        Ok(c) => c,
        Err(reason) => return refuse(state, reason),
    };
    if !graph.keeps_attendees() {
        leave_out_attendees(&mut c);
    }
    let key = key_of(uid.as_deref(), &entry.href);
    c.body["singleValueExtendedProperties"] = json!([{ "id": SOURCE_UID, "value": key }]);
    let mut updated = false;
    let mut id = None;
    if let Some(rec_id) = copied.and_then(|r| r.dest_href.clone()) {
        // Changed at the source since it was copied: update the copy.
        let mut patch = c.body.clone();
        if let Some(o) = patch.as_object_mut() {
            o.remove("singleValueExtendedProperties");
        }
        let r = graph.send(
            "PATCH",
            &item(kind, &rec_id),
            Some("application/json"),
            patch.to_string().as_bytes(),
        )?;
        if (200..300).contains(&r.status) {
            id = Some(rec_id);
            updated = true;
        } else if r.status != 404 {
            return refuse(
                state,
                format!(
                    "Microsoft 365 refused the change (HTTP {}): {}",
                    r.status,
                    String::from_utf8_lossy(&r.body)
                        .chars()
                        .take(200)
                        .collect::<String>()
                ),
            );
        }
    }
    let mut found = false;
    if id.is_none() {
        id = lookup(graph, place, kind, &key)?;
        found = id.is_some();
    }
    let id = match id {
        Some(id) => id,
        None => {
            if kind == ObjectKind::Calendar {
                c.body["transactionId"] = json!(transaction_id(&key, place));
            }
            let made = match graph.send_json(
                "POST",
                &items_of(place, kind),
                &c.body,
                &format!("store {what}"),
            ) {
                Ok(m) => m,
                // The answer was lost: Graph may have stored it all the same.
                Err(e @ DavError::Unreachable { .. }) => match lookup(graph, place, kind, &key)? {
                    Some(id) => json!({ "id": id }),
                    None => return Err(e),
                },
                Err(DavError::Refused { status, detail, .. }) if status != 429 && status < 500 => {
                    return refuse(
                        state,
                        format!("Microsoft 365 refused it (HTTP {status}): {detail}"),
                    )
                }
                Err(e) => return Err(e),
            };
            crate::crashpoint::hit("dav_after_put");
            made["id"]
                .as_str()
                .ok_or_else(|| DavError::Refused {
                    action: format!("store {what}"),
                    status: 0,
                    detail: "Microsoft 365 gave no id".into(),
                })?
                .to_owned()
        }
    };
    if let Some(photo) = &c.photo {
        let ct = if photo.starts_with(b"\x89PNG") {
            "image/png"
        } else {
            "image/jpeg"
        };
        graph.put_bytes(
            &format!("/contacts/{id}/photo/$value"),
            ct,
            photo,
            &format!("store the photo of {what}"),
        )?;
    }
    apply_occurrences(graph, &id, &c.occurrences, &what, &mut c.losses)?;
    let note = (!c.losses.is_empty()).then(|| c.losses.join("; "));
    let record = DavObjectRecord {
        uid: uid.clone(),
        source_etag: entry.etag.clone(),
        digest: Some(digest),
        dest_href: Some(id),
        dest_etag: None,
        refused: None,
        note: note.clone(),
    };
    state.record_dav_object(&collection.href, &entry.href, &record, now())?;
    let problem = note.map(|reason| ObjectProblem { what, reason });
    Ok(if updated {
        Outcome::Updated(problem)
    } else if found && problem.is_none() {
        Outcome::Already
    } else {
        Outcome::Copied(problem)
    })
}

/// Graph's `originalStart` (UTC, `2026-01-12T08:00:00Z` or with a fraction
/// or an offset) as a UTC time.
fn graph_utc(v: &str) -> Option<NaiveDateTime> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Some(t.naive_utc());
    }
    let bare = v.trim_end_matches('Z');
    NaiveDateTime::parse_from_str(bare, "%Y-%m-%dT%H:%M:%S%.f").ok()
}

/// Removes (EXDATE) or changes (RECURRENCE-ID) occurrences of the series
/// `id`; each is found among Graph's instances by its original start
/// (the closest within 14 hours: Graph repeats at most once a day). An
/// occurrence already removed is not found, and that is fine.
fn apply_occurrences(
    graph: &Graph,
    id: &str,
    occurrences: &[event::Occurrence],
    what: &str,
    losses: &mut Vec<String>,
) -> Result<(), DavError> {
    for o in occurrences {
        let from = (o.original_utc - Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ");
        let to = (o.original_utc + Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ");
        let target = format!(
            "/events/{id}/instances?startDateTime={from}&endDateTime={to}&$select=id,originalStart"
        );
        let instances = graph.list(&target)?;
        let best = instances
            .iter()
            .filter_map(|i| {
                let start = graph_utc(i["originalStart"].as_str()?)?;
                let gap = (start - o.original_utc).num_minutes().abs();
                let iid = i["id"].as_str()?.to_owned();
                (gap <= 14 * 60).then_some((gap, iid))
            })
            .min();
        let Some((_, instance)) = best else {
            if o.patch.is_some() {
                let when = o.original_utc.format("%Y-%m-%d %H:%M UTC");
                let text =
                    format!("the change to the occurrence of {when} (not found in the series)");
                if !losses.contains(&text) {
                    losses.push(text);
                }
            }
            continue;
        };
        match &o.patch {
            None => graph.delete(
                &format!("/events/{instance}"),
                &format!("remove an occurrence of {what}"),
            )?,
            Some(patch) => {
                graph.send_json(
                    "PATCH",
                    &format!("/events/{instance}"),
                    patch,
                    &format!("change an occurrence of {what}"),
                )?;
            }
        }
    }
    Ok(())
}

/// Whether Graph's start (in the event's zone, or in UTC as Graph answers
/// by default) is the converted one; a start whose instant the object does
/// not tell (floating, all-day) in another zone is not compared.
fn same_start(there: &Value, expected: &Converted) -> bool {
    let (Some(at), Some(zone)) = (there["dateTime"].as_str(), there["timeZone"].as_str()) else {
        return false;
    };
    let want = &expected.body["start"];
    if want["timeZone"].as_str() == Some(zone) {
        return want["dateTime"].as_str().is_some_and(|w| at.starts_with(w));
    }
    match (zone, expected.start_utc, graph_utc(at)) {
        ("UTC", Some(utc), Some(got)) => utc == got,
        ("UTC", None, _) => true,
        _ => false,
    }
}

/// Compares every source object with its copy at Microsoft 365: there,
/// and with the same name or subject and start; writes nothing.
pub fn verify(
    source: &Source,
    graph: &Graph,
    state: Option<&State>,
) -> Result<VerifyReport, DavError> {
    let plans = plan(source, graph, state, false)?;
    let zone = home_zone(graph);
    Ok(crate::dav::copy::check_each(plans, |p, c| {
        check_collection(source, graph, state, p, &zone, c)
    }))
}

fn check_collection(
    source: &Source,
    graph: &Graph,
    state: Option<&State>,
    p: &CollectionPlan,
    zone: &str,
    c: &mut CollectionCheck,
) -> Result<(), DavError> {
    let kind = p.source.kind;
    each_source_object(source, state, p, c, |o, c| {
        let SourceObject {
            entry,
            bytes,
            uid,
            what,
            record,
        } = o;
        if let Some(reason) = record.as_ref().and_then(|r| r.refused.clone()) {
            c.missing.push(ObjectProblem { what, reason });
            return Ok(());
        }
        let expected = match convert(kind, &bytes, zone) {
            Ok(e) => e,
            Err(reason) => {
                c.missing.push(ObjectProblem { what, reason });
                return Ok(());
            }
        };
        let mut id = record.and_then(|r| r.dest_href);
        if id.is_none() && !p.create {
            if let Some(place) = &p.dest {
                id = lookup(graph, place, kind, &key_of(uid.as_deref(), &entry.href))?;
            }
        }
        let there = match &id {
            Some(id) => graph.get(&item(kind, id))?,
            None => None,
        };
        let Some(there) = there else {
            c.missing.push(ObjectProblem {
                what,
                reason: "not at Microsoft 365".into(),
            });
            return Ok(());
        };
        let fields: &[&str] = match kind {
            ObjectKind::Contact => &["displayName", "givenName", "surname"],
            ObjectKind::Calendar => &["subject", "isAllDay"],
        };
        let same_fields = fields.iter().all(|f| there[*f] == expected.body[*f]);
        let same_start = kind == ObjectKind::Contact || same_start(&there["start"], &expected);
        if same_fields && same_start {
            c.same_content += 1;
        } else {
            c.different.push(ObjectProblem {
                what,
                reason: "the copy at Microsoft 365 differs from the original".into(),
            });
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_times_read_with_or_without_a_zone() {
        let t = NaiveDateTime::parse_from_str("2026-01-12T08:00:00", "%Y-%m-%dT%H:%M:%S").unwrap();
        assert_eq!(graph_utc("2026-01-12T08:00:00Z"), Some(t));
        assert_eq!(graph_utc("2026-01-12T08:00:00.0000000Z"), Some(t));
        assert_eq!(graph_utc("2026-01-12T09:00:00+01:00"), Some(t));
        assert_eq!(graph_utc("2026-01-12T08:00:00.0000000"), Some(t));
    }

    #[test]
    fn transaction_ids_follow_the_uid_and_the_calendar() {
        let a = transaction_id("uid-1", "/calendars/A");
        assert_eq!(a, transaction_id("uid-1", "/calendars/A"));
        assert_ne!(a, transaction_id("uid-2", "/calendars/A"));
        assert_ne!(a, transaction_id("uid-1", "/calendars/B"));
        assert!(a.len() <= 64);
    }
}
