//! Contacts and calendars from a real Radicale server to Microsoft 365
//! through `mailferry dav --graph2`: a local HTTPS Graph (the harness's
//! [`GraphServer`], documents shaped as Graph v1.0's reference shows them,
//! small pages, a `429` with `Retry-After`) behind the real app-only
//! sign-in pointed at its token endpoint. Each contact and event is
//! converted (checked field by field at the server), what Outlook cannot
//! hold is refused with the reason, a re-run creates nothing, and a run
//! killed between Graph's answer and the record resumes without a double.

use crate::common::{mailferry, text};
use crate::dav::{office, photo, radicale_or_skip};
use mailferry_harness::GraphServer;
use serde_json::Value;
use std::path::Path;

const USER: &str = "bob@office.example";

struct Setup {
    graph: GraphServer,
    ca: std::path::PathBuf,
    args: Vec<String>,
}

fn setup(src_url: &str, dir: &Path) -> Setup {
    let graph = GraphServer::start(USER, "W. Europe Standard Time");
    let ca = dir.join("graph-ca.pem");
    std::fs::write(&ca, graph.ca_pem()).unwrap();
    let args = [
        "--dav1",
        &format!("{src_url}/"),
        "--user1",
        "alice",
        "--graph2",
        USER,
        "--clientcredentials2",
        &graph.token_url(),
        "--graph-api",
        &graph.url(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    Setup { graph, ca, args }
}

impl Setup {
    fn run(
        &self,
        command: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> (Option<i32>, Value, String) {
        let mut all = vec!["dav", command];
        all.extend(self.args.iter().map(String::as_str));
        all.extend(extra);
        all.push("--json");
        let ca = self.ca.display().to_string();
        let mut env = env.to_vec();
        env.extend([
            ("SSL_CERT_FILE", ca.as_str()),
            ("MAILFERRY_PASSWORD1", "alice-pw"),
            (
                "MAILFERRY_OAUTH_CLIENT_ID",
                "6731de76-14a6-49ae-97bc-6eba6914391e",
            ),
            ("MAILFERRY_OAUTH_CLIENT_SECRET", "app-secret-for-tests"),
        ]);
        let out = mailferry(&all, &env);
        let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (
            out.status.code(),
            json,
            format!("{}{}", text(&out.stdout), text(&out.stderr)),
        )
    }
}

fn sum(report: &Value, key: &str) -> usize {
    report["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c[key].as_u64().unwrap() as usize)
        .sum()
}

fn reasons(report: &Value, key: &str) -> Vec<String> {
    report["collections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c[key].as_array().unwrap().clone())
        .map(|p| {
            format!(
                "{}: {}",
                p["what"].as_str().unwrap(),
                p["reason"].as_str().unwrap()
            )
        })
        .collect()
}

fn with_uid<'a>(items: &'a [Value], uid: &str) -> &'a Value {
    let found: Vec<&Value> = items
        .iter()
        .filter(|c| c["singleValueExtendedProperties"][0]["value"] == uid)
        .collect();
    assert_eq!(found.len(), 1, "exactly one copy of {uid}");
    found[0]
}

#[test]
fn radicale_to_microsoft_365_converts_each_entry_and_a_rerun_creates_nothing() {
    if !radicale_or_skip() {
        return;
    }
    let src = office(30, 24);
    // Radicale 3.1 keeps a vCard 3 photo but cuts a vCard 4 `data:` photo
    // at its comma when it stores the card (contact-10 arrives without
    // it): the vCard 4 photo is checked in the unit tests.
    let v3 = format!(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:photo-3\r\nFN:Photo Three\r\nN:Three;Photo;;;\r\n\
         PHOTO;ENCODING=b;TYPE=PNG:{}\r\nEND:VCARD\r\n",
        photo()
    );
    src.put("alice", "contacts", "photo-3.vcf", v3.as_bytes());
    let tmp = tempfile::tempdir().unwrap();
    let s = setup(&src.url(), tmp.path());
    s.graph.throttle_post(5);
    let state = tmp.path().join("state.db").display().to_string();

    // The preview: three collections to make, and what stays behind.
    let (code, plan, out) = s.run("check", &[], &[]);
    assert_eq!(code, Some(0), "{out}");
    let plan = plan["plan"].as_array().expect(&out).clone();
    assert_eq!(plan.len(), 3, "{out}");
    let made: Vec<(&str, bool)> = plan
        .iter()
        .map(|p| (p["dest_name"].as_str().unwrap(), p["create"] == true))
        .collect();
    assert_eq!(
        made,
        [
            ("Office calendar", true),
            ("Clients & partners", true),
            ("Contacts", false)
        ],
        "the address book “Contacts” goes into Outlook's own Contacts: {out}"
    );
    let note = |name: &str| {
        plan.iter()
            .find(|p| p["name"] == name)
            .and_then(|p| p["note"].as_str())
            .unwrap_or("")
            .to_owned()
    };
    assert!(
        note("Contacts").contains("Outlook contacts have no groups: the group card stays behind"),
        "{out}"
    );
    assert!(
        note("Office calendar")
            .contains("Outlook calendars hold events only: the 2 to-dos stay behind"),
        "{out}"
    );
    assert!(note("Office calendar").contains("have attendees"), "{out}");
    assert_eq!(
        s.graph.contacts_created() + s.graph.events_created(),
        0,
        "a check writes nothing"
    );

    let (code, report, out) = s.run("sync", &["--state", &state], &[]);
    assert_eq!(code, Some(1), "the group and the to-dos stay behind: {out}");
    assert_eq!(sum(&report, "copied"), 30 + 22, "{out}");
    assert_eq!(reasons(&report, "failed").len(), 0, "{out}");
    let refused = reasons(&report, "refused");
    assert_eq!(refused.len(), 3, "{refused:?}");
    assert!(
        refused
            .iter()
            .any(|r| r.starts_with("group-0: it is a contact group")),
        "{refused:?}"
    );
    assert_eq!(
        refused.iter().filter(|r| r.contains("to-do")).count(),
        2,
        "{refused:?}"
    );
    let changed = reasons(&report, "changed");
    assert!(
        changed.iter().any(|r| r.starts_with(
            "event-3: times without a time zone were placed in the mailbox's time zone"
        )),
        "floating times are said to be placed: {changed:?}"
    );
    assert!(
        s.graph.requests().iter().any(|r| r.status == 429),
        "Graph throttled once, and the copy waited it out"
    );
    assert!(
        out.contains("Waiting 1 second before going on: Microsoft 365 is busy (HTTP 429)"),
        "the wait is said as for the mail: {out}"
    );
    assert_eq!(s.graph.contacts_created(), 30);
    assert_eq!(s.graph.events_created(), 22);
    assert_eq!(s.graph.folder_names(), ["Clients & partners"]);
    assert_eq!(s.graph.calendar_names(), ["Calendar", "Office calendar"]);

    // A vCard 4 with a photo, field by field.
    let contacts = s.graph.contacts_in("Contacts");
    assert_eq!(contacts.len(), 24);
    let c10 = with_uid(&contacts, "contact-10");
    assert_eq!(c10["displayName"], "Person 10 Ünïcode");
    assert_eq!(c10["givenName"], "Person");
    assert_eq!(c10["surname"], "10");
    assert_eq!(c10["emailAddresses"][0]["address"], "person10@example.com");
    assert_eq!(c10["mobilePhone"], "+49 30 0000010");
    assert_eq!(c10["businessAddress"]["street"], "Hauptstraße 10");
    assert_eq!(c10["businessAddress"]["city"], "Berlin");
    assert_eq!(c10["businessAddress"]["postalCode"], "10115");
    assert_eq!(c10["businessAddress"]["countryOrRegion"], "Germany");
    assert_eq!(c10["personalNotes"], "Met at the fair, 10\nsecond line");
    assert!(
        changed
            .iter()
            .any(|r| r.starts_with("contact-10: the photo")),
        "the photo Radicale cut is said to be lost: {changed:?}"
    );
    use base64::Engine;
    let png = base64::engine::general_purpose::STANDARD
        .decode(photo().replace("\r\n ", ""))
        .unwrap();
    let p3 = with_uid(&contacts, "photo-3");
    assert_eq!(p3["displayName"], "Photo Three");
    assert_eq!(
        s.graph.photo(p3["id"].as_str().unwrap()),
        Some(png),
        "the vCard 3 photo, byte for byte"
    );

    // Events: a zoned weekly series with a moved occurrence, all-day,
    // multi-day, floating, UTC with a duration.
    let events = s.graph.events_in("Office calendar");
    assert_eq!(events.len(), 22);
    let weekly = with_uid(&events, "event-0");
    assert_eq!(weekly["subject"], "Weekly 0");
    assert_eq!(weekly["start"]["dateTime"], "2026-01-01T09:00:00");
    assert_eq!(weekly["start"]["timeZone"], "Europe/Berlin");
    assert_eq!(weekly["recurrence"]["pattern"]["type"], "weekly");
    assert_eq!(
        weekly["recurrence"]["pattern"]["daysOfWeek"],
        serde_json::json!(["thursday"])
    );
    assert_eq!(weekly["recurrence"]["range"]["numberOfOccurrences"], 10);
    assert!(weekly["transactionId"]
        .as_str()
        .unwrap()
        .starts_with("mailferry-"));
    assert_eq!(weekly["reminderMinutesBeforeStart"], 15);
    assert_eq!(
        weekly["organizer"]["emailAddress"]["address"],
        "owner@example.com"
    );
    assert_eq!(
        weekly["attendees"][0]["emailAddress"]["address"],
        "bob@example.com"
    );
    let instances = s.graph.instances(weekly["id"].as_str().unwrap());
    assert_eq!(instances.len(), 10);
    let moved: Vec<&Value> = instances
        .iter()
        .filter(|i| i["type"] == "exception")
        .collect();
    assert_eq!(moved.len(), 1, "{instances:?}");
    assert_eq!(moved[0]["subject"], "Weekly 0 (moved)");
    assert_eq!(moved[0]["originalStart"], "2026-01-08T08:00:00Z");
    assert_eq!(
        moved[0]["start"]["dateTime"], "2026-01-08T10:00:00.0000000",
        "11:00 in Berlin, in UTC"
    );
    let holiday = with_uid(&events, "event-1");
    assert_eq!(holiday["isAllDay"], true);
    assert_eq!(holiday["start"]["dateTime"], "2026-03-02T00:00:00");
    assert_eq!(holiday["end"]["dateTime"], "2026-03-03T00:00:00");
    assert_eq!(
        holiday["categories"],
        serde_json::json!(["Holidays", "Team"])
    );
    let trip = with_uid(&events, "event-2");
    assert_eq!(trip["end"]["dateTime"], "2026-04-06T00:00:00", "three days");
    let floating = with_uid(&events, "event-3");
    assert_eq!(
        floating["start"],
        serde_json::json!({"dateTime": "2026-05-04T08:00:00", "timeZone": "W. Europe Standard Time"})
    );
    assert_eq!(floating["body"]["content"], "Wherever I am, at eight");
    let utc = with_uid(&events, "event-4");
    assert_eq!(
        utc["end"],
        serde_json::json!({"dateTime": "2026-06-05T13:00:00", "timeZone": "UTC"})
    );
    assert_eq!(utc["location"]["displayName"], "Café Zürich");

    // A re-run creates nothing.
    let (code, report, out) = s.run("sync", &["--state", &state], &[]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(sum(&report, "copied"), 0, "{out}");
    assert_eq!(sum(&report, "already"), 52, "{out}");
    assert_eq!(s.graph.contacts_created(), 30);
    assert_eq!(s.graph.events_created(), 22);

    // A change at the source before the switch updates the copy in place.
    let changed_card =
        text(&crate::dav::card(1)).replace("NOTE:Met at the fair", "NOTE:Now a customer");
    src.put(
        "alice",
        "contacts",
        "contact-1.vcf",
        changed_card.as_bytes(),
    );
    let (code, report, out) = s.run("sync", &["--state", &state], &[]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        (sum(&report, "copied"), sum(&report, "updated")),
        (0, 1),
        "{out}"
    );
    assert_eq!(s.graph.contacts_created(), 30, "updated, not created again");
    let contacts = s.graph.contacts_in("Contacts");
    assert_eq!(
        with_uid(&contacts, "contact-1")["personalNotes"],
        "Now a customer, 1\nsecond line"
    );

    // The check: every converted entry there; what stayed behind named.
    let (code, report, out) = s.run("verify", &["--state", &state], &[]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(report["safe_to_switch"], false, "{out}");
    assert_eq!(sum(&report, "same_content"), 52, "{out}");
    let missing = reasons(&report, "missing");
    assert_eq!(missing.len(), 3, "{missing:?}");
    assert_eq!(reasons(&report, "different").len(), 0, "{out}");
}

#[test]
fn a_run_killed_after_graph_stored_an_entry_resumes_without_a_double() {
    if !radicale_or_skip() {
        return;
    }
    let src = office(12, 12);
    let tmp = tempfile::tempdir().unwrap();
    let s = setup(&src.url(), tmp.path());
    let state = tmp.path().join("state.db").display().to_string();
    // Killed right after Graph stored the 4th event, then the 10th entry
    // of the second run (a contact), before either was recorded.
    let (code, _, out) = s.run(
        "sync",
        &["--state", &state],
        &[("MAILFERRY_CRASH_AT", "dav_after_put:4")],
    );
    assert_ne!(code, Some(0), "{out}");
    assert_eq!(s.graph.events_created(), 4, "calendars come first: {out}");
    let (code, _, out) = s.run(
        "sync",
        &["--state", &state],
        &[("MAILFERRY_CRASH_AT", "dav_after_put:10")],
    );
    assert_ne!(code, Some(0), "{out}");
    the_rest_arrives_once(&s, &state);
    let events = s.graph.events_in("Office calendar");
    for i in [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11] {
        with_uid(&events, &format!("event-{i}"));
    }
    let weekly = with_uid(&events, "event-0");
    let instances = s.graph.instances(weekly["id"].as_str().unwrap());
    assert_eq!(
        instances
            .iter()
            .filter(|i| i["type"] == "exception")
            .count(),
        1
    );
}

/// Microsoft 365 turning the sign-in down in the middle of the copy (the
/// owner revoked the app's access): the copy stops with one "sign in
/// again" instead of a refusal per entry, nothing is recorded against the
/// entries, and the next run, signed in again, copies the rest, each once.
#[test]
fn a_sign_in_microsoft_365_turns_down_during_the_copy_stops_it_once() {
    if !radicale_or_skip() {
        return;
    }
    let src = office(12, 12);
    let tmp = tempfile::tempdir().unwrap();
    let s = setup(&src.url(), tmp.path());
    let state = tmp.path().join("state.db").display().to_string();
    s.graph.revoke_sign_in_after_posts(5);
    let (code, _, out) = s.run("sync", &["--state", &state], &[]);
    assert_ne!(code, Some(0), "{out}");
    assert_eq!(
        out.matches("refused the sign-in").count(),
        1,
        "said once, not for every entry left: {out}"
    );
    assert!(out.contains("sign in again"), "{out}");
    assert_eq!(
        s.graph.events_created() + s.graph.contacts_created(),
        5,
        "{out}"
    );

    s.graph.revoke_sign_in_after_posts(0);
    let (report, out) = the_rest_arrives_once(&s, &state);
    assert_eq!(sum(&report, "already"), 5, "{out}");
}

/// The office's 12 cards (one a group) and 12 calendar entries (one a
/// to-do) after an interrupted copy: a run with the progress file `state`
/// copies the rest, only the group and the to-do stay behind, and nothing
/// is doubled. Its report and output.
fn the_rest_arrives_once(s: &Setup, state: &str) -> (Value, String) {
    let (code, report, out) = s.run("sync", &["--state", state], &[]);
    assert_eq!(
        code,
        Some(1),
        "only the group and the to-do stay behind: {out}"
    );
    assert_eq!(reasons(&report, "refused").len(), 2, "{out}");
    assert_eq!(reasons(&report, "failed").len(), 0, "{out}");
    assert_eq!(s.graph.contacts_created(), 11, "no contact doubled");
    assert_eq!(s.graph.events_created(), 11, "no event doubled");
    (report, out)
}

/// A mailbox with a contact (with a photo) in a folder, a weekly series
/// with one occurrence removed and one moved, and an all-day event.
fn seeded() -> (GraphServer, Vec<u8>) {
    let graph = GraphServer::start(USER, "W. Europe Standard Time");
    let picture: Vec<u8> = b"\x89PNG\r\n\x1a\n"
        .iter()
        .copied()
        .chain((0..600u32).map(|i| (i * 13 % 256) as u8))
        .collect();
    let friends = graph.add_folder("Friends");
    graph.add_contact(
        &friends,
        serde_json::json!({
            "displayName": "Anna Baker", "givenName": "Anna", "surname": "Baker",
            "emailAddresses": [{"address": "anna@bakery.example", "name": "Anna Baker"}],
            "mobilePhone": "+49 170 1", "businessPhones": ["+49 30 2"],
            "businessAddress": {"street": "Hauptstraße 1", "city": "Berlin", "state": "", "postalCode": "10115", "countryOrRegion": "Germany"},
            "companyName": "Bakery GmbH", "jobTitle": "Owner", "birthday": "1983-05-25T00:00:00Z",
            "personalNotes": "Bakes on Sundays", "categories": ["Clients"]
        }),
        Some(picture.clone()),
    );
    let team = graph.add_calendar("Team");
    let series = graph.add_event(
        &team,
        serde_json::json!({
            "subject": "Standup", "body": {"contentType": "text", "content": "Daily notes"},
            "start": {"dateTime": "2026-01-05T09:00:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-01-05T09:30:00", "timeZone": "Europe/Berlin"},
            "isReminderOn": true, "reminderMinutesBeforeStart": 10,
            "recurrence": {
                "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"], "firstDayOfWeek": "sunday"},
                "range": {"type": "numbered", "startDate": "2026-01-05", "numberOfOccurrences": 4, "recurrenceTimeZone": "Europe/Berlin"}
            }
        }),
    );
    graph.remove_occurrence(&format!("{series}_20260119"));
    graph.change_occurrence(
        &format!("{series}_20260112"),
        serde_json::json!({"subject": "Standup (late)",
            "start": {"dateTime": "2026-01-12T10:00:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-01-12T10:30:00", "timeZone": "Europe/Berlin"}}),
    );
    graph.add_event(
        &team,
        serde_json::json!({
            "subject": "Holiday", "isAllDay": true, "isReminderOn": false,
            "start": {"dateTime": "2026-03-02T00:00:00", "timeZone": "W. Europe Standard Time"},
            "end": {"dateTime": "2026-03-03T00:00:00", "timeZone": "W. Europe Standard Time"}
        }),
    );
    (graph, picture)
}

fn graph_source_args(graph: &GraphServer) -> Vec<String> {
    [
        "--graph1",
        USER,
        "--clientcredentials1",
        &graph.token_url(),
        "--graph-api",
        &graph.url(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn run_graph(command: &str, args: &[String], ca: &Path) -> (Option<i32>, Value, String) {
    let mut all = vec!["dav", command];
    all.extend(args.iter().map(String::as_str));
    all.push("--json");
    let ca = ca.display().to_string();
    let out = mailferry(
        &all,
        &[
            ("SSL_CERT_FILE", ca.as_str()),
            ("MAILFERRY_PASSWORD2", "bob-pw"),
            (
                "MAILFERRY_OAUTH_CLIENT_ID",
                "6731de76-14a6-49ae-97bc-6eba6914391e",
            ),
            ("MAILFERRY_OAUTH_CLIENT_SECRET", "app-secret-for-tests"),
        ],
    );
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code(),
        json,
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

#[test]
fn microsoft_365_to_radicale_and_to_files() {
    if !radicale_or_skip() {
        return;
    }
    let (graph, picture) = seeded();
    let dst = mailferry_harness::Radicale::start(&[("bob", "bob-pw")]);
    let tmp = tempfile::tempdir().unwrap();
    let ca = tmp.path().join("graph-ca.pem");
    std::fs::write(&ca, graph.ca_pem()).unwrap();
    let state = tmp.path().join("state.db").display().to_string();
    let mut args = graph_source_args(&graph);
    args.extend([
        "--dav2".into(),
        format!("{}/", dst.url()),
        "--user2".into(),
        "bob".into(),
        "--state".into(),
        state,
    ]);

    let (code, report, out) = run_graph("sync", &args, &ca);
    let log = std::fs::read_to_string(dst.dir().join("log")).unwrap_or_default();
    assert_eq!(code, Some(0), "{out} {log}");
    assert_eq!(sum(&report, "copied"), 3, "{out}");
    let mut all = String::new();
    for c in dst.collections("bob") {
        for (_, bytes) in dst.objects("bob", &c) {
            all.push_str(&text(&bytes).replace("\r\n ", ""));
        }
    }
    for wanted in [
        "FN:Anna Baker",
        "EMAIL:anna@bakery.example",
        "ORG:Bakery GmbH",
        "BDAY:19830525",
        "NOTE:Bakes on Sundays",
        "SUMMARY:Standup\r\n",
        "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4",
        "DTSTART;TZID=Europe/Berlin:20260105T090000",
        "EXDATE:20260119T080000Z",
        "RECURRENCE-ID:20260112T080000Z",
        "SUMMARY:Standup (late)",
        "DTSTART;TZID=Europe/Berlin:20260112T100000",
        "TRIGGER:-PT10M",
        "DTSTART;VALUE=DATE:20260302",
    ] {
        assert!(all.contains(wanted), "{wanted} at Radicale:\n{all}");
    }
    assert!(
        !all.contains("20260119T090000\r\nSUMMARY"),
        "the removed occurrence stays removed"
    );

    // A re-run copies nothing.
    let (code, report, out) = run_graph("sync", &args, &ca);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        (sum(&report, "copied"), sum(&report, "already")),
        (0, 3),
        "{out}"
    );

    // Files: the photo byte for byte.
    let dir = tmp.path().join("export");
    let mut export = graph_source_args(&graph);
    export.extend(["--to".into(), dir.display().to_string()]);
    let (code, _, out) = run_graph("export", &export, &ca);
    assert_eq!(code, Some(0), "{out}");
    let vcf = std::fs::read_to_string(dir.join("Friends.vcf"))
        .unwrap()
        .replace("\r\n ", "");
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&picture);
    assert!(
        vcf.contains(&format!("PHOTO:data:image/png;base64,{b64}\r\n")),
        "{vcf}"
    );
    let ics = std::fs::read_to_string(dir.join("Team.ics")).unwrap();
    assert!(ics.contains("RECURRENCE-ID:20260112T080000Z"), "{ics}");
}

#[test]
fn a_creation_whose_answer_was_lost_is_looked_up_not_sent_again() {
    if !radicale_or_skip() {
        return;
    }
    let src = office(6, 6);
    let tmp = tempfile::tempdir().unwrap();
    let s = setup(&src.url(), tmp.path());
    // Calendars go first: five events (one entry is a to-do), then the
    // contacts; the second contact is stored but its answer is lost.
    s.graph.lose_answer_of_post(7);
    let state = tmp.path().join("state.db").display().to_string();
    let (code, report, out) = s.run("sync", &["--state", &state], &[]);
    assert_eq!(
        code,
        Some(1),
        "only the group and the to-do stay behind: {out}"
    );
    assert_eq!(reasons(&report, "failed").len(), 0, "{out}");
    assert_eq!(sum(&report, "copied"), 10, "{out}");
    assert_eq!(
        s.graph.contacts_created(),
        5,
        "no contact sent twice: {out}"
    );
    let contacts = s.graph.contacts_in("Contacts");
    for i in [1, 2, 3] {
        with_uid(&contacts, &format!("contact-{i}"));
    }
}

/// The owner signs in in the browser (`--oauth2` instead of the app's
/// sign-in), through a browser that follows the sign-in pages with curl:
/// the environment the run needs for it.
fn sign_in_in_the_browser(s: &mut Setup, dir: &Path) -> Vec<(&'static str, String)> {
    let at = s
        .args
        .iter()
        .position(|a| a == "--clientcredentials2")
        .unwrap();
    s.args.drain(at..at + 2);
    s.args.extend(["--oauth2".into(), s.graph.url()]);
    let browser = crate::oauth_flow::curl_browser(dir);
    vec![
        ("MAILFERRY_BROWSER", browser.to_str().unwrap().to_owned()),
        ("CURL_CA_BUNDLE", s.ca.display().to_string()),
        (
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", dir.join("no-bus").display()),
        ),
    ]
}

/// Gives the mailbox to the run by `alias`, an address of it the
/// harness's Graph knows but finds no user by.
fn given_by_alias(s: &mut Setup, alias: &str) {
    s.graph.add_alias(alias);
    let at = s.args.iter().position(|a| a == "--graph2").unwrap();
    s.args[at + 1] = alias.into();
}

/// Copies the office (5 contacts, 4 events) into Graph: all but the group
/// card arrive. The paths of the requests to the mailbox itself (under
/// `/v1.0/me/` or `/v1.0/users/{someone}/`).
fn copies_all_but_the_group(s: &Setup, dir: &Path, env: &[(&str, &str)]) -> Vec<String> {
    let state = dir.join("state.db").display().to_string();
    let (code, report, out) = s.run("sync", &["--state", &state], env);
    assert_eq!(code, Some(1), "the group card stays behind: {out}");
    assert_eq!(sum(&report, "copied"), 4 + 4, "{out}");
    assert_eq!(s.graph.events_in("Office calendar").len(), 4, "{out}");
    s.graph
        .requests()
        .into_iter()
        .map(|r| r.target)
        .filter(|t| {
            t.starts_with("/v1.0/me/")
                || (t.starts_with("/v1.0/users/") && t.matches('/').count() > 3)
        })
        .collect()
}

/// An owner who types an alias of their mailbox, not its primary address:
/// Graph knows no user by that name (before, every request was "not a
/// valid user"), so once the sign-in says the alias is theirs the mailbox
/// is reached as their own (`/me`).
#[test]
fn an_owner_who_types_an_alias_of_their_mailbox_reaches_it() {
    if !radicale_or_skip() {
        return;
    }
    let src = office(5, 4);
    let tmp = tempfile::tempdir().unwrap();
    let mut s = setup(&src.url(), tmp.path());
    given_by_alias(&mut s, "Robert.Jones@office.example");
    let env = sign_in_in_the_browser(&mut s, tmp.path());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mailbox = copies_all_but_the_group(&s, tmp.path(), &env);
    assert!(
        !mailbox.is_empty() && mailbox.iter().all(|t| t.starts_with("/v1.0/me/")),
        "{mailbox:#?}"
    );
}

/// The organisation's app (app-only) given an alias of the mailbox: Graph
/// finds users by primary address or id only, so the alias is looked up
/// among the users' addresses and the mailbox reached by its id (before,
/// every request was "not a valid user").
#[test]
fn the_apps_sign_in_given_an_alias_reaches_the_mailbox_by_its_id() {
    if !radicale_or_skip() {
        return;
    }
    let src = office(5, 4);
    let tmp = tempfile::tempdir().unwrap();
    let mut s = setup(&src.url(), tmp.path());
    given_by_alias(&mut s, "robert.jones@office.example");
    let mailbox = copies_all_but_the_group(&s, tmp.path(), &[]);
    let by_id = format!("/v1.0/users/{}/", mailferry_harness::GRAPH_USER_ID);
    assert!(
        !mailbox.is_empty() && mailbox.iter().all(|t| t.starts_with(&by_id)),
        "{mailbox:#?}"
    );
}

/// `--oauth2`: the mailbox's owner signs in in the browser (the harness's
/// Graph is also the sign-in: discovery, PKCE S256, the code traded for a
/// token and a refresh token), asking for Graph's contacts and calendars;
/// `--without-attendees` creates the events without them (no invitation).
/// No token shows, even in a trace log.
#[test]
fn the_owner_signs_in_in_the_browser_and_events_go_without_their_attendees() {
    if !radicale_or_skip() {
        return;
    }
    let src = office(5, 4);
    let tmp = tempfile::tempdir().unwrap();
    let mut s = setup(&src.url(), tmp.path());
    let env = sign_in_in_the_browser(&mut s, tmp.path());
    s.args.push("--without-attendees".into());
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.push(("MAILFERRY_LOG", "trace"));
    let state = tmp.path().join("state.db").display().to_string();

    let (code, report, out) = s.run("sync", &["--state", &state], &env);
    assert_eq!(code, Some(1), "the group card stays behind: {out}");
    assert_eq!(sum(&report, "copied"), 4 + 4, "{out}");
    let asked = s.graph.sign_ins();
    assert_eq!(asked.len(), 1, "one browser sign-in: {asked:?}");
    for scope in mailferry::auth::oauth::GRAPH_SCOPES {
        assert!(asked[0].contains(scope), "{scope} in {}", asked[0]);
    }
    assert!(!asked[0].contains("IMAP"), "not the mail's permission");
    assert_eq!(
        s.graph.token_requests(),
        [("authorization_code".to_owned(), String::new())],
        "the code traded once, PKCE checked"
    );
    let events = s.graph.events_in("Office calendar");
    assert_eq!(events.len(), 4, "{out}");
    for e in &events {
        assert!(
            e["attendees"].as_array().is_none_or(Vec::is_empty),
            "no attendee, no invitation: {e}"
        );
    }
    assert!(
        out.contains("The sign-in is kept for this run only"),
        "no keychain here: {out}"
    );
    for secret in [
        mailferry_harness::GRAPH_TOKEN,
        "graph-refresh-token",
        "graph-code-1",
    ] {
        assert!(!out.contains(secret), "{secret} shows:\n{out}");
    }
}
