//! The demo domain behind `./dev run` and the desktop app's "Try it on demo
//! servers": a Gmail-like source and a Microsoft 365-like destination on
//! 127.0.0.1, with sample mail in the source for a small office of three
//! people ([`DEMO_USERS`]): the owner, a colleague and a shared mailbox.

use crate::{Dovecot, Layout, Message};

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
        }
    }
}
