//! Contacts and calendars between two real Radicale servers (CardDAV and
//! CalDAV), through the `mailferry dav` command: copied exactly, a re-run
//! copies nothing, a change at the source arrives, a cut connection and a
//! killed run resume without doubling anything, `verify` tells a loss, and
//! `.vcf`/`.ics` files go out and come back.

use crate::common::{mailferry, text};
use mailferry_harness::{radicale_available, Direction, Fault, Proxy, Radicale};
use std::path::Path;

/// Skips (with a printed reason) where Debian's radicale is not installed;
/// `./dev setup` installs it, so CI always runs these.
pub(crate) fn radicale_or_skip() -> bool {
    if radicale_available() {
        return true;
    }
    eprintln!("skipped: the radicale command is not installed (Debian package radicale; ./dev setup installs it)");
    false
}

pub(crate) fn photo() -> String {
    // A small PNG-like blob, base64, folded at 75 octets as vCard wants.
    use base64::Engine;
    let bytes: Vec<u8> = (0..900u32).map(|i| (i * 7 % 251) as u8).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::new();
    for (i, chunk) in b64.as_bytes().chunks(74).enumerate() {
        if i > 0 {
            out.push_str("\r\n ");
        }
        out.push_str(std::str::from_utf8(chunk).unwrap());
    }
    out
}

/// Contact `i`: vCard 3 or 4, some with a photo, some groups.
pub(crate) fn card(i: usize) -> Vec<u8> {
    let v4 = i.is_multiple_of(2);
    let mut c = format!(
        "BEGIN:VCARD\r\nVERSION:{}\r\nUID:contact-{i}\r\nFN:Person {i} Ünïcode\r\nN:{i};Person;;;\r\n\
         EMAIL;TYPE=work:person{i}@example.com\r\nTEL;TYPE=cell:+49 30 {i:07}\r\n\
         ADR;TYPE=work:;;Hauptstraße {i};Berlin;;10115;Germany\r\nNOTE:Met at the fair\\, {i}\\nsecond line\r\n",
        if v4 { "4.0" } else { "3.0" }
    );
    if i.is_multiple_of(10) {
        if v4 {
            c.push_str(&format!("PHOTO:data:image/png;base64,{}\r\n", photo()));
        } else {
            c.push_str(&format!("PHOTO;ENCODING=b;TYPE=PNG:{}\r\n", photo()));
        }
    }
    if i.is_multiple_of(25) && v4 {
        c = format!(
            "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:group-{i}\r\nKIND:group\r\nFN:Team {i}\r\n\
             MEMBER:urn:uuid:contact-{}\r\nMEMBER:urn:uuid:contact-{}\r\n",
            i + 1,
            i + 3
        );
    }
    c.push_str("END:VCARD\r\n");
    c.into_bytes()
}

const BERLIN: &str = "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n";

/// Calendar object `i`: recurring with exceptions, all-day, multi-day,
/// floating, zoned and UTC times, reminders, attendees; every 12th a to-do.
pub(crate) fn event(i: usize) -> Vec<u8> {
    let day = 1 + i % 20;
    let body = match i % 6 {
        0 => format!(
            "{BERLIN}BEGIN:VEVENT\r\nUID:event-{i}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Berlin:202601{day:02}T090000\r\n\
             DTEND;TZID=Europe/Berlin:202601{day:02}T093000\r\nRRULE:FREQ=WEEKLY;COUNT=10\r\nEXDATE;TZID=Europe/Berlin:202602{day:02}T090000\r\n\
             SUMMARY:Weekly {i}\r\nORGANIZER;CN=Owner:mailto:owner@example.com\r\nATTENDEE;CN=Bob;PARTSTAT=ACCEPTED:mailto:bob@example.com\r\n\
             BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT\r\n\
             BEGIN:VEVENT\r\nUID:event-{i}\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:202601{:02}T090000\r\n\
             DTSTART;TZID=Europe/Berlin:202601{:02}T110000\r\nDTEND;TZID=Europe/Berlin:202601{:02}T113000\r\nSUMMARY:Weekly {i} (moved)\r\nEND:VEVENT\r\n",
            day + 7, day + 7, day + 7
        ),
        1 => format!(
            "BEGIN:VEVENT\r\nUID:event-{i}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:202603{day:02}\r\nDTEND;VALUE=DATE:202603{:02}\r\nSUMMARY:Holiday {i}\r\nCATEGORIES:Holidays,Team\r\nEND:VEVENT\r\n",
            day + 1
        ),
        2 => format!(
            "BEGIN:VEVENT\r\nUID:event-{i}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:202604{day:02}\r\nDTEND;VALUE=DATE:202604{:02}\r\nSUMMARY:Trip {i} (three days)\r\nEND:VEVENT\r\n",
            day + 3
        ),
        3 => format!(
            "BEGIN:VEVENT\r\nUID:event-{i}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:202605{day:02}T080000\r\nDTEND:202605{day:02}T090000\r\nSUMMARY:Floating {i}\r\nDESCRIPTION:Wherever I am\\, at eight\r\nEND:VEVENT\r\n"
        ),
        4 => format!(
            "BEGIN:VEVENT\r\nUID:event-{i}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:202606{day:02}T120000Z\r\nDURATION:PT1H\r\nSUMMARY:UTC {i}\r\nLOCATION:Café Zürich\r\nEND:VEVENT\r\n"
        ),
        _ if i % 12 == 5 => format!(
            "BEGIN:VTODO\r\nUID:todo-{i}\r\nDTSTAMP:20260101T000000Z\r\nDUE;VALUE=DATE:202607{day:02}\r\nSUMMARY:Task {i}\r\nSTATUS:NEEDS-ACTION\r\nEND:VTODO\r\n"
        ),
        _ => format!(
            "BEGIN:VEVENT\r\nUID:event-{i}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Berlin:202607{day:02}T170000\r\nDTEND;TZID=Europe/Berlin:202607{:02}T100000\r\nSUMMARY:Overnight {i}\r\nEND:VEVENT\r\n{BERLIN}",
            day + 1
        ),
    };
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//MailFerry tests//EN\r\n{body}END:VCALENDAR\r\n").into_bytes()
}

/// The source: two address books and a calendar for alice.
pub(crate) fn office(contacts: usize, events: usize) -> Radicale {
    let src = Radicale::start(&[("alice", "alice-pw")]);
    src.create_collection("alice", "contacts", "addressbook", "Contacts");
    src.create_collection("alice", "clients", "addressbook", "Clients & partners");
    src.create_collection("alice", "calendar", "calendar", "Office calendar");
    for i in 0..contacts {
        let book = if i % 5 == 4 { "clients" } else { "contacts" };
        let name = if i.is_multiple_of(25) && i.is_multiple_of(2) {
            format!("group-{i}.vcf")
        } else {
            format!("contact-{i}.vcf")
        };
        src.put("alice", book, &name, &card(i));
    }
    for i in 0..events {
        src.put("alice", "calendar", &format!("event-{i}.ics"), &event(i));
    }
    src
}

pub(crate) fn dav_args(src: &str, dst: &str, state: &Path) -> Vec<String> {
    [
        "--dav1", src, "--user1", "alice", "--dav2", dst, "--user2", "bob", "--state",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([state.display().to_string(), "--json".into()])
    .collect()
}

const PASSWORDS: [(&str, &str); 2] = [
    ("MAILFERRY_PASSWORD1", "alice-pw"),
    ("MAILFERRY_PASSWORD2", "bob-pw"),
];

pub(crate) fn dav(
    command: &str,
    args: &[String],
    env: &[(&str, &str)],
) -> (Option<i32>, serde_json::Value, String) {
    let mut all = vec!["dav", command];
    all.extend(args.iter().map(String::as_str));
    let mut env = env.to_vec();
    env.extend(PASSWORDS);
    let out = mailferry(&all, &env);
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (
        out.status.code(),
        json,
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

pub(crate) fn totals(report: &serde_json::Value) -> (u64, u64, u64) {
    let sum = |k: &str| {
        report["collections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c[k].as_u64().unwrap())
            .sum()
    };
    (sum("copied"), sum("updated"), sum("already"))
}

/// Every object of alice's collections is at bob's, same name, same bytes.
pub(crate) fn assert_same(src: &Radicale, dst: &Radicale) {
    for collection in src.collections("alice") {
        let a = src.objects("alice", &collection);
        let b = dst.objects("bob", &collection);
        assert_eq!(
            a.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            b.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            "{collection}: the same objects, none doubled"
        );
        for ((name, x), (_, y)) in a.iter().zip(&b) {
            assert_eq!(text(x), text(y), "{collection}/{name} byte for byte");
        }
    }
}

#[test]
fn contacts_and_calendars_copy_exactly_and_a_rerun_copies_nothing() {
    if !radicale_or_skip() {
        return;
    }
    let src = office(150, 120);
    let dst = Radicale::start(&[("bob", "bob-pw")]);
    let tmp = tempfile::tempdir().unwrap();
    let args = dav_args(
        &format!("{}/", src.url()),
        &format!("{}/", dst.url()),
        &tmp.path().join("state.db"),
    );

    // The plan: three collections, each to be made at the destination.
    let (code, plan, out) = dav(
        "check",
        &args[..args.len() - 3]
            .iter()
            .cloned()
            .chain(["--json".into()])
            .collect::<Vec<_>>(),
        &[],
    );
    assert_eq!(code, Some(0), "{out}");
    let plan = plan["plan"].as_array().expect(&out).clone();
    assert_eq!(plan.len(), 3, "{out}");
    assert!(plan.iter().all(|p| p["create"] == true), "{out}");
    let objects: u64 = plan.iter().map(|p| p["objects"].as_u64().unwrap()).sum();
    assert_eq!(objects, 270);

    let (code, report, out) = dav("sync", &args, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(totals(&report), (270, 0, 0), "{out}");
    assert_eq!(dst.collections("bob"), ["calendar", "clients", "contacts"]);
    assert_same(&src, &dst);
    let names = dst
        .request("bob", "PROPFIND", "/bob/clients/", &[("Depth", "0")], b"")
        .2;
    assert!(
        text(&names).contains("Clients &amp; partners"),
        "the display name is kept"
    );

    // A re-run copies nothing.
    let (code, report, out) = dav("sync", &args, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(totals(&report), (0, 0, 270), "{out}");

    // A change at the source before the switch arrives; so does a new entry.
    let mut changed = String::from_utf8(card(1)).unwrap();
    changed = changed.replace("NOTE:Met at the fair", "NOTE:Now a customer");
    src.put("alice", "contacts", "contact-1.vcf", changed.as_bytes());
    src.put("alice", "calendar", "event-500.ics", &event(500));
    let (code, report, out) = dav("sync", &args, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(totals(&report), (1, 1, 269), "{out}");
    assert_same(&src, &dst);

    let (code, report, out) = dav("verify", &args, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(report["safe_to_switch"], true, "{out}");

    // A loss at the destination is never "safe to switch".
    let (status, _, _) = dst.request("bob", "DELETE", "/bob/calendar/event-7.ics", &[], b"");
    assert_eq!(status, 200);
    let (code, report, out) = dav("verify", &args, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(report["safe_to_switch"], false, "{out}");
    assert!(out.contains("event-7"), "the missing entry is named: {out}");
}

#[test]
fn a_cut_connection_and_a_killed_run_resume_without_doubles() {
    if !radicale_or_skip() {
        return;
    }
    let src = office(40, 30);
    let tmp = tempfile::tempdir().unwrap();
    // Every request of the copy goes through a proxy that cuts one
    // connection: right after the server said it made a calendar (the
    // calendar is there, the answer never arrives), or right after a
    // contact was sent in full (stored, answer lost).
    for (n, cut) in [
        Fault::cut_after_match(Direction::ToClient, "201 Created"),
        Fault::cut_after_match(Direction::ToServer, "END:VCARD\r\n"),
    ]
    .into_iter()
    .enumerate()
    {
        let dst = Radicale::start(&[("bob", "bob-pw")]);
        let proxy = Proxy::start(dst.addr());
        proxy.set_fault_once(cut);
        let state = tmp.path().join(format!("cut-{n}.db"));
        let args = dav_args(
            &format!("{}/", src.url()),
            &format!("http://127.0.0.1:{}/", proxy.port()),
            &state,
        );
        let (code, report, out) = dav("sync", &args, &[]);
        assert_eq!(code, Some(0), "{out}");
        assert_eq!(proxy.cuts(), 1, "the connection was cut once");
        let (copied, _, already) = totals(&report);
        assert_eq!(copied + already, 70, "{out}");
        assert_same(&src, &dst);
    }

    // A run killed after the server stored an object and before it was
    // recorded: the next run finds it there and records it, nothing doubled.
    let dst2 = Radicale::start(&[("bob", "bob-pw")]);
    let state2 = tmp.path().join("state2.db");
    let args2 = dav_args(
        &format!("{}/", src.url()),
        &format!("{}/", dst2.url()),
        &state2,
    );
    let (code, _, out) = dav(
        "sync",
        &args2,
        &[("MAILFERRY_CRASH_AT", "dav_after_put:25")],
    );
    assert_ne!(code, Some(0), "the run was killed: {out}");
    assert!(out.contains("crashing on purpose"), "{out}");
    let (code, report, out) = dav("sync", &args2, &[]);
    assert_eq!(code, Some(0), "{out}");
    // 24 recorded before the kill, the 25th stored but not recorded (found
    // there, same bytes), the other 45 copied now.
    assert_eq!(totals(&report), (45, 0, 25), "{out}");
    assert_same(&src, &dst2);
    let (code, report, _) = dav("sync", &args2, &[]);
    assert_eq!((code, totals(&report)), (Some(0), (0, 0, 70)));
}

#[test]
fn a_change_on_both_sides_keeps_the_destination_and_says_so() {
    if !radicale_or_skip() {
        return;
    }
    let src = office(5, 0);
    let dst = Radicale::start(&[("bob", "bob-pw")]);
    let tmp = tempfile::tempdir().unwrap();
    let args = dav_args(
        &format!("{}/", src.url()),
        &format!("{}/", dst.url()),
        &tmp.path().join("s.db"),
    );
    assert_eq!(dav("sync", &args, &[]).0, Some(0));
    // Bob edits his copy; alice edits hers: nothing of bob's is overwritten.
    let bobs = String::from_utf8(card(2))
        .unwrap()
        .replace("Person 2", "Person Two (Bob's edit)");
    dst.put("bob", "contacts", "contact-2.vcf", bobs.as_bytes());
    let alices = String::from_utf8(card(2))
        .unwrap()
        .replace("Person 2", "Person Two (Alice's edit)");
    src.put("alice", "contacts", "contact-2.vcf", alices.as_bytes());
    let (code, report, out) = dav("sync", &args, &[]);
    assert_eq!(code, Some(1), "{out}");
    let refused = report["collections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["refused"].as_array().unwrap().clone())
        .collect::<Vec<_>>();
    assert_eq!(refused.len(), 1, "{out}");
    assert_eq!(refused[0]["what"], "contact-2");
    assert!(
        refused[0]["reason"].as_str().unwrap().contains("both"),
        "{out}"
    );
    let kept = dst.get("bob", "contacts", "contact-2.vcf").unwrap();
    assert!(text(&kept).contains("Bob's edit"), "bob's version kept");
}

#[test]
fn files_go_out_and_come_back() {
    if !radicale_or_skip() {
        return;
    }
    let src = office(30, 24);
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("export");
    let mut all = vec![
        "dav".to_string(),
        "export".into(),
        "--dav1".into(),
        format!("{}/", src.url()),
        "--user1".into(),
        "alice".into(),
        "--to".into(),
        out_dir.display().to_string(),
    ];
    let out = mailferry(
        &all.iter().map(String::as_str).collect::<Vec<_>>(),
        &[("MAILFERRY_PASSWORD1", "alice-pw")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let mut files: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "Clients & partners.vcf",
            "Contacts.vcf",
            "Office calendar.ics"
        ]
    );
    let ics = std::fs::read_to_string(out_dir.join("Office calendar.ics")).unwrap();
    assert_eq!(
        ics.matches("BEGIN:VCALENDAR").count(),
        1,
        "one calendar file"
    );
    assert_eq!(
        ics.matches("BEGIN:VTIMEZONE").count(),
        1,
        "each time zone once"
    );
    // A second export rewrites, never appends.
    assert_eq!(
        mailferry(
            &all.iter().map(String::as_str).collect::<Vec<_>>(),
            &[("MAILFERRY_PASSWORD1", "alice-pw")]
        )
        .status
        .code(),
        Some(0)
    );
    let vcf = std::fs::read_to_string(out_dir.join("Contacts.vcf")).unwrap();
    assert_eq!(vcf.matches("BEGIN:VCARD").count(), 24);

    // The files into an empty account: every object arrives, once.
    let dst = Radicale::start(&[("bob", "bob-pw")]);
    all = vec![
        "--files1".into(),
        out_dir.display().to_string(),
        "--dav2".into(),
        format!("{}/", dst.url()),
        "--user2".into(),
        "bob".into(),
        "--state".into(),
        tmp.path().join("import.db").display().to_string(),
        "--json".into(),
    ];
    let (code, report, out) = dav("sync", &all, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(totals(&report), (54, 0, 0), "{out}");
    let (code, report, out) = dav("sync", &all, &[]);
    assert_eq!((code, totals(&report)), (Some(0), (0, 0, 54)), "{out}");
    let (code, report, out) = dav("verify", &all, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(report["safe_to_switch"], true, "{out}");
    // Every source object is at the destination with the same content.
    let mut at_dst: Vec<String> = dst
        .collections("bob")
        .iter()
        .flat_map(|c| dst.objects("bob", c))
        .map(|(_, b)| uid_line(&b))
        .collect();
    let mut at_src: Vec<String> = src
        .collections("alice")
        .iter()
        .flat_map(|c| src.objects("alice", c))
        .map(|(_, b)| uid_line(&b))
        .collect();
    at_dst.sort();
    at_src.sort();
    assert_eq!(at_dst, at_src);
}

fn uid_line(bytes: &[u8]) -> String {
    text(bytes)
        .lines()
        .find(|l| l.starts_with("UID:"))
        .unwrap_or_default()
        .to_owned()
}

/// Google's contacts server on loopback, for a sign-in that runs out: a
/// front before a real Radicale holding 12 contacts that takes only the
/// tokens the token service handed out, each as long as it lasts; and an
/// empty Radicale to copy them to.
struct GoogleFront {
    idp: crate::introspection::Introspection,
    service: crate::oauth_grants::TokenService,
    front: mailferry_harness::BearerFront,
    new: Radicale,
    _old: Radicale,
}

impl GoogleFront {
    fn start() -> GoogleFront {
        let idp = crate::introspection::Introspection::start();
        let service = crate::oauth_grants::TokenService::start(idp.clone());
        let old = Radicale::start(&[("carol", "carol-pw")]);
        old.create_collection("carol", "contacts", "addressbook", "Contacts");
        for i in 1..=12 {
            assert_eq!(
                old.put("carol", "contacts", &format!("c{i}.vcf"), &card(i)),
                201
            );
        }
        let front = {
            let idp = idp.clone();
            mailferry_harness::BearerFront::start(old.addr(), "carol", "carol-pw", move |token| {
                idp.take(token).is_some()
            })
        };
        let new = Radicale::start(&[("bob", "bob-pw")]);
        GoogleFront {
            idp,
            service,
            front,
            new,
            _old: old,
        }
    }

    /// The contacts server signed in with `refresh_token`'s sign-in (its
    /// first token `ya29.mf-1`).
    fn source(&self, refresh_token: &str) -> mailferry::dav::Source {
        mailferry::dav::Source::Server(
            mailferry::dav::Server::connect(
                &format!("{}/", self.front.url),
                mailferry::dav::Auth::Renewable(crate::oauth_grants::renewable(
                    &self.service,
                    refresh_token,
                )),
            )
            .unwrap(),
        )
    }

    fn dest(&self) -> mailferry::dav::Server {
        mailferry::dav::Server::connect(
            &format!("{}/", self.new.url()),
            mailferry::dav::Auth::Basic {
                user: "bob".into(),
                password: "bob-pw".into(),
            },
        )
        .unwrap()
    }

    /// The contacts at the new server, by their UID line, sorted.
    fn copied(&self) -> Vec<String> {
        let mut uids: Vec<String> = self
            .new
            .collections("bob")
            .iter()
            .flat_map(|c| self.new.objects("bob", c))
            .map(|(_, bytes)| uid_line(&bytes))
            .collect();
        uids.sort();
        uids
    }
}

/// The 12 contacts' UID lines, sorted.
fn twelve() -> Vec<String> {
    let mut expected: Vec<String> = (1..=12).map(|i| uid_line(&card(i))).collect();
    expected.sort();
    expected
}

/// A sign-in whose access token runs out during a copy (Google's last an
/// hour; an address book with thousands of photos takes longer): the token
/// the server turns down is renewed with the sign-in's refresh token, once,
/// and the copy goes on; nothing is doubled or missing.
#[test]
fn a_sign_in_that_runs_out_during_the_copy_is_renewed_and_the_copy_goes_on() {
    use mailferry::dav;
    use mailferry::state::State;
    if !radicale_or_skip() {
        return;
    }
    let google = GoogleFront::start();
    // The first token is good for five requests: it runs out while the
    // contacts are read.
    google.idp.grant_for("ya29.mf-1", "carol", 5);
    let source = google.source("1//rt-mf");
    let dest = google.dest();
    let dir = tempfile::tempdir().unwrap();
    let mut state = State::open(&dir.path().join("dav.db"), 1_767_225_600).unwrap();
    let report = dav::sync(&source, &dest, &mut state).unwrap();
    assert!(report.complete(), "{report:?}");
    assert_eq!(
        report.collections.iter().map(|c| c.copied).sum::<usize>(),
        12
    );
    assert_eq!(
        google.service.issued(),
        ["ya29.mf-2"],
        "renewed once, when the server turned the first token down"
    );
    assert_eq!(*google.front.refused.lock().unwrap(), ["ya29.mf-1"]);
    assert_eq!(google.copied(), twelve(), "each contact once");

    // The renewed sign-in also checks the copy.
    let check = dav::verify(&source, &dest, Some(&state)).unwrap();
    assert!(check.safe_to_switch(), "{check:?}");
    assert_eq!(
        google.service.issued().len(),
        1,
        "no renewal while the token lasts"
    );
}

/// A sign-in the provider stops taking during a copy (the owner revoked
/// MailFerry's access, or changed the password): every later entry would
/// be turned down the same way, so the copy stops with one "sign in
/// again", not a refusal per entry, and nothing is recorded against the
/// entries. Signed in again, the next run copies the rest, each once.
#[test]
fn a_sign_in_refused_during_the_copy_stops_it_once_and_a_new_sign_in_finishes_it() {
    use mailferry::dav::{self, DavError};
    use mailferry::state::State;
    if !radicale_or_skip() {
        return;
    }
    let google = GoogleFront::start();
    let dest = google.dest();
    let dir = tempfile::tempdir().unwrap();
    let mut state = State::open(&dir.path().join("dav.db"), 1_767_225_600).unwrap();

    // The first token is good long enough to find the address book and
    // copy a few contacts; its renewal is then refused (access revoked).
    google.idp.grant_for("ya29.mf-1", "carol", 9);
    let stopped = dav::sync(&google.source("1//rt-revoked"), &dest, &mut state);
    assert!(
        matches!(stopped, Err(DavError::SignInRefused { .. })),
        "one sign-in problem, not a refusal per entry: {stopped:?}"
    );
    let first = google.copied().len();
    assert!(
        (1..12).contains(&first),
        "the sign-in ran out during the copy: {first} of 12 copied"
    );
    let said = stopped.unwrap_err().to_string();
    assert!(said.contains("sign in again"), "{said}");
    assert!(
        google.service.issued().is_empty(),
        "the renewal was refused"
    );

    // Signed in again: the rest arrives, and nothing is doubled.
    google.idp.grant_for("ya29.mf-1", "carol", 1_000);
    let signed_in = google.source("1//rt-mf");
    let report = dav::sync(&signed_in, &dest, &mut state).unwrap();
    assert!(report.complete(), "{report:?}");
    let copied: usize = report.collections.iter().map(|c| c.copied).sum();
    let already: usize = report.collections.iter().map(|c| c.already).sum();
    assert_eq!(
        (copied, already),
        (12 - first, first),
        "the rest copied, what came before left as it is"
    );
    assert_eq!(google.copied(), twelve(), "each contact once");
    let check = dav::verify(&signed_in, &dest, Some(&state)).unwrap();
    assert!(check.safe_to_switch(), "{check:?}");
}

/// `mailferry dav sync --oauth1`: Google's contacts and calendars take no
/// password, so the owner signs in in the browser (discovery, PKCE, the
/// code traded for a token and a refresh token; the harness's Microsoft
/// Graph stands in for Google's sign-in here), asking for CardDAV and
/// CalDAV only. The token goes to the contacts server only, never to an
/// address elsewhere, and never shows in the output, even in a trace log.
#[test]
fn the_cli_signs_in_to_googles_contacts_in_the_browser() {
    use mailferry_harness::{BearerFront, GraphServer, GRAPH_TOKEN};
    if !radicale_or_skip() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let old = Radicale::start(&[("carol", "carol-pw")]);
    old.create_collection("carol", "contacts", "addressbook", "Contacts");
    for i in 1..=3 {
        assert_eq!(
            old.put("carol", "contacts", &format!("c{i}.vcf"), &card(i)),
            201
        );
    }
    let google = BearerFront::start(old.addr(), "carol", "carol-pw", |t| t == GRAPH_TOKEN);
    let new = Radicale::start(&[("bob", "bob-pw")]);
    let sign_in = GraphServer::start("carol@bakery.example", "W. Europe Standard Time");
    let ca = tmp.path().join("ca.pem");
    std::fs::write(&ca, sign_in.ca_pem()).unwrap();
    let browser = crate::oauth_flow::curl_browser(tmp.path());
    let no_bus = format!("unix:path={}", tmp.path().join("no-bus").display());
    let state = tmp.path().join("state.db").display().to_string();
    let (ca, issuer, front) = (
        ca.display().to_string(),
        sign_in.url(),
        format!("{}/", google.url),
    );
    let new_url = format!("{}/", new.url());
    let env = [
        ("MAILFERRY_BROWSER", browser.to_str().unwrap()),
        ("CURL_CA_BUNDLE", ca.as_str()),
        ("SSL_CERT_FILE", ca.as_str()),
        ("DBUS_SESSION_BUS_ADDRESS", no_bus.as_str()),
        ("MAILFERRY_LOG", "trace"),
        ("MAILFERRY_PASSWORD2", "bob-pw"),
        ("MAILFERRY_OAUTH_CLIENT_ID", "123456789-bakery.apps.example"),
    ];
    let sync = |dav1: &str| {
        mailferry(
            &[
                "dav",
                "sync",
                "--dav1",
                dav1,
                "--user1",
                "carol@bakery.example",
                "--oauth1",
                &issuer,
                "--dav2",
                &new_url,
                "--user2",
                "bob",
                "--state",
                &state,
            ],
            &env,
        )
    };

    // An address that is not Google's: nothing is asked, nothing sent.
    let out = sync("https://dav.bakery.example/");
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_ne!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("is not at Google"), "{said}");
    assert!(sign_in.requests().is_empty(), "no sign-in started");

    let out = sync(&front);
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{said}");
    let asked = sign_in.sign_ins();
    assert_eq!(asked.len(), 1, "one browser sign-in: {asked:?}");
    for scope in mailferry::auth::oauth::GOOGLE_DAV_SCOPES {
        assert!(asked[0].contains(scope), "{scope} in {}", asked[0]);
    }
    assert!(
        !asked[0].contains("mail.google.com"),
        "not the mail's permission"
    );
    assert!(google.refused.lock().unwrap().is_empty(), "{said}");
    assert_eq!(
        new.objects("bob", &new.collections("bob")[0]).len(),
        3,
        "{said}"
    );
    for secret in [GRAPH_TOKEN, "graph-refresh-token", "graph-code-1"] {
        assert!(!said.contains(secret), "{secret} shows:\n{said}");
    }
}
