//! The demo domain behind `./dev run` and the desktop app's "Try it on demo
//! servers": a Gmail-like source and a Microsoft 365-like destination on
//! 127.0.0.1, with sample mail in the source for a small office of three
//! people ([`DEMO_USERS`]): the owner, a colleague and a shared mailbox.

use crate::{radicale_available, Dovecot, Layout, Message, Radicale};

/// The demo's user on both servers.
pub const DEMO_USER: &str = "alice";
/// Its password (a demo password, printed and shown on purpose).
pub const DEMO_PASSWORD: &str = "alicepass";
/// Every demo mailbox (user, password), the same on both servers; the
/// first is [`DEMO_USER`].
pub const DEMO_USERS: [(&str, &str); 3] = [
    (DEMO_USER, DEMO_PASSWORD),
    ("bob", "bobpass"),
    ("office", "officepass"),
];

/// The two demo servers; dropping this stops them.
pub struct DemoDomain {
    /// Gmail-like: labels as folders, `[Gmail]/…`, All Mail. Implicit TLS on
    /// [`Dovecot::tls_port`].
    pub source: Dovecot,
    /// Microsoft 365-like: `Sent Items`, `Deleted Items`. STARTTLS on
    /// [`Dovecot::plain_port`].
    pub destination: Dovecot,
    /// The office's contacts and calendar servers (old, new), when Debian's
    /// radicale is installed: the owner's address book and calendar at the
    /// old one, the same users at both.
    pub contacts: Option<(Radicale, Radicale)>,
}

/// The demo owner's address book: colleagues and clients (vCard 3 and 4).
fn demo_cards() -> Vec<(String, Vec<u8>)> {
    let people = [
        ("Bob Baker", "bob@example.com", "+49 30 1111"),
        ("Office Inbox", "office@example.com", "+49 30 1000"),
        ("Anna Acme", "anna@acme.example", "+49 40 2222"),
        ("Carlos Acme", "carlos@acme.example", "+49 40 2223"),
        ("Dana Receipts", "billing@shop.example", "+49 89 3333"),
        ("Eve Accountant", "eve@tax.example", "+49 69 4444"),
        ("Frank Printer", "service@printer.example", "+49 30 5555"),
        ("Grace Landlord", "grace@rent.example", "+49 30 6666"),
    ];
    people
        .iter()
        .enumerate()
        .map(|(i, (name, mail, tel))| {
            let (last, first) = name.split_once(' ').map(|(f, l)| (l, f)).unwrap_or((name, ""));
            let version = if i % 2 == 0 { "3.0" } else { "4.0" };
            (
                format!("demo-contact-{i}.vcf"),
                format!(
                    "BEGIN:VCARD\r\nVERSION:{version}\r\nUID:demo-contact-{i}\r\nFN:{name}\r\nN:{last};{first};;;\r\n\
                     EMAIL;TYPE=work:{mail}\r\nTEL;TYPE=work:{tel}\r\nEND:VCARD\r\n"
                )
                .into_bytes(),
            )
        })
        .collect()
}

/// The demo office's calendar: a weekly meeting with a moved occurrence,
/// an all-day holiday, a client visit.
fn demo_events() -> Vec<(String, Vec<u8>)> {
    let wrap = |body: &str| {
        format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//MailFerry demo//EN\r\n{body}END:VCALENDAR\r\n").into_bytes()
    };
    vec![
        (
            "demo-weekly.ics".into(),
            wrap("BEGIN:VEVENT\r\nUID:demo-weekly\r\nDTSTAMP:20240301T000000Z\r\nDTSTART:20240304T090000Z\r\nDTEND:20240304T093000Z\r\n\
                  RRULE:FREQ=WEEKLY;COUNT=12\r\nSUMMARY:Team meeting\r\nEND:VEVENT\r\n\
                  BEGIN:VEVENT\r\nUID:demo-weekly\r\nDTSTAMP:20240301T000000Z\r\nRECURRENCE-ID:20240311T090000Z\r\n\
                  DTSTART:20240311T100000Z\r\nDTEND:20240311T103000Z\r\nSUMMARY:Team meeting (moved)\r\nEND:VEVENT\r\n"),
        ),
        (
            "demo-holiday.ics".into(),
            wrap("BEGIN:VEVENT\r\nUID:demo-holiday\r\nDTSTAMP:20240301T000000Z\r\nDTSTART;VALUE=DATE:20240329\r\nDTEND;VALUE=DATE:20240402\r\nSUMMARY:Office closed (Easter)\r\nEND:VEVENT\r\n"),
        ),
        (
            "demo-visit.ics".into(),
            wrap("BEGIN:VEVENT\r\nUID:demo-visit\r\nDTSTAMP:20240301T000000Z\r\nDTSTART:20240314T130000Z\r\nDTEND:20240314T150000Z\r\nSUMMARY:Visit at Acme\r\nLOCATION:Acme office\r\nEND:VEVENT\r\n"),
        ),
    ]
}

/// Starts the demo's contacts and calendar servers, when radicale is installed.
fn demo_contacts() -> Option<(Radicale, Radicale)> {
    if !radicale_available() {
        return None;
    }
    let old = Radicale::start(&DEMO_USERS);
    let new = Radicale::start(&DEMO_USERS);
    old.create_collection(DEMO_USER, "contacts", "addressbook", "Contacts");
    old.create_collection(DEMO_USER, "calendar", "calendar", "Office calendar");
    for (name, card) in demo_cards() {
        old.put(DEMO_USER, "contacts", &name, &card);
    }
    for (name, event) in demo_events() {
        old.put(DEMO_USER, "calendar", &name, &event);
    }
    Some((old, new))
}

fn sample(i: usize, folder: &str) -> Message {
    sample_for("Owner <owner@example.com>", "Order", "", i, folder)
}

fn sample_for(to: &str, subject: &str, id: &str, i: usize, folder: &str) -> Message {
    let day = 1 + i % 28;
    let body = format!(
        "From: Customer {i} <customer{i}@example.net>\r\n\
         To: {to}\r\n\
         Subject: {subject} {i} ({folder})\r\n\
         Date: {day:02} Mar 2024 10:{m:02}:00 +0100\r\n\
         Message-ID: <demo-{id}{i}@example.net>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         Hello, this is demo message {i}.\r\n",
        m = i % 60
    );
    let flags: &[&str] = match i % 4 {
        0 => &["\\Seen"],
        1 => &["\\Seen", "\\Flagged"],
        2 => &["\\Seen", "\\Answered", "$Forwarded"],
        _ => &[],
    };
    Message::new(body.into_bytes())
        .flags(flags)
        .internal_date(&format!("{day:02}-Mar-2024 09:{:02}:00 +0000", i % 60))
}

impl DemoDomain {
    /// Starts both servers and fills the source (needs Dovecot and root:
    /// see [`crate::dovecot_available`]).
    pub fn start() -> DemoDomain {
        let mut source = Dovecot::builder().layout(Layout::Gmail).fsync(false);
        let mut destination = Dovecot::builder().layout(Layout::Exchange).fsync(false);
        for (user, password) in DEMO_USERS {
            source = source.user(user, password);
            destination = destination.user(user, password);
        }
        let (source, destination) = (source.build(), destination.build());
        // Gmail keeps one message in several "folders" (labels) and every
        // message in All Mail; archived mail is in All Mail only.
        for folder in ["Clients", "Clients/Acme", "Receipts"] {
            source.create_mailbox(DEMO_USER, folder);
        }
        let mut all_mail = Vec::new();
        for i in 0..40 {
            let folder = match i % 5 {
                0 | 1 => "INBOX",
                2 => "Clients/Acme",
                3 => "Receipts",
                _ => "[Gmail]/Sent Mail",
            };
            let message = sample(i, folder);
            if i % 7 != 6 {
                source.append(DEMO_USER, folder, std::slice::from_ref(&message));
            }
            all_mail.push(message);
        }
        source.append(DEMO_USER, "[Gmail]/All Mail", &all_mail);
        // A colleague with a project folder, and a shared mailbox for
        // invoices; smaller, so the demo's other mailboxes copy quickly.
        let others = [
            (
                "bob",
                "Bob <bob@example.com>",
                "Quote",
                "bob-",
                "Projects",
                18,
            ),
            (
                "office",
                "Office <office@example.com>",
                "Invoice",
                "office-",
                "Invoices",
                12,
            ),
        ];
        for (user, to, subject, id, own, n) in others {
            source.create_mailbox(user, own);
            let mut all_mail = Vec::new();
            for i in 0..n {
                let folder = match i % 3 {
                    0 => "INBOX",
                    1 => own,
                    _ => "[Gmail]/Sent Mail",
                };
                let message = sample_for(to, subject, id, i, folder);
                source.append(user, folder, std::slice::from_ref(&message));
                all_mail.push(message);
            }
            source.append(user, "[Gmail]/All Mail", &all_mail);
        }
        DemoDomain {
            source,
            destination,
            contacts: demo_contacts(),
        }
    }
}
