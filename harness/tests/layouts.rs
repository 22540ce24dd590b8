//! Each layout starts and presents the folders, separator, prefix and capabilities
//! the engine's tests rely on.

use mailferry_harness::{Dovecot, Layout};

fn list_lines(d: &Dovecot, pattern: &str) -> Vec<String> {
    let mut s = d.session("alice");
    let reply = s
        .command(&format!("LIST \"\" \"{pattern}\""))
        .expect("LIST");
    assert!(reply.is_ok(), "{}", reply.tagged);
    reply.untagged_text()
}

#[test]
fn courier_layout() {
    let d = Dovecot::start(Layout::Courier);
    let names = d.list("alice");
    for want in [
        "INBOX",
        "INBOX.Sent",
        "INBOX.Drafts",
        "INBOX.Trash",
        "INBOX.Junk",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    assert_eq!(names.len(), 5, "{names:?}");
    let lines = list_lines(&d, "*");
    assert!(
        lines.contains(&"* LIST (\\HasNoChildren \\Sent) \".\" INBOX.Sent".to_string()),
        "{lines:?}"
    );
    assert_eq!(list_lines(&d, ""), ["* LIST (\\Noselect) \".\" \"\""]);
    let mut s = d.session("alice");
    let ns = s.command("NAMESPACE").unwrap().untagged_text();
    assert_eq!(ns, ["* NAMESPACE ((\"INBOX.\" \".\")) NIL NIL"]);
    assert_eq!(
        Layout::Courier.mailbox(&["Projects", "2024"]),
        "INBOX.Projects.2024"
    );
    assert_eq!(Layout::Courier.special("\\Sent"), Some("INBOX.Sent"));
}

#[test]
fn exchange_layout() {
    let d = Dovecot::start(Layout::Exchange);
    let mut names = d.list("alice");
    names.sort();
    assert_eq!(
        names,
        [
            "Archive",
            "Calendar",
            "Contacts",
            "Deleted Items",
            "Drafts",
            "INBOX",
            "Junk E-mail",
            "Sent Items"
        ]
    );
    let lines = list_lines(&d, "*");
    for want in [
        "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent Items\"",
        "* LIST (\\HasNoChildren \\Trash) \"/\" \"Deleted Items\"",
        "* LIST (\\HasNoChildren \\Junk) \"/\" \"Junk E-mail\"",
        "* LIST (\\HasNoChildren \\Archive) \"/\" Archive",
        "* LIST (\\HasNoChildren) \"/\" Calendar",
    ] {
        assert!(
            lines.iter().any(|l| l == want),
            "{want} missing from {lines:?}"
        );
    }
    assert_eq!(list_lines(&d, ""), ["* LIST (\\Noselect) \"/\" \"\""]);
    // Subscribed automatically.
    let mut s = d.session("alice");
    let subscribed = s.command("LSUB \"\" \"*\"").unwrap().untagged_text();
    assert!(
        subscribed.iter().any(|l| l.ends_with("Contacts")),
        "{subscribed:?}"
    );
}

#[test]
fn gmail_layout() {
    let d = Dovecot::start(Layout::Gmail);
    let lines = list_lines(&d, "*");
    for want in [
        "* LIST (\\Noselect \\HasChildren) \"/\" [Gmail]",
        "* LIST (\\HasNoChildren \\Sent) \"/\" \"[Gmail]/Sent Mail\"",
        "* LIST (\\HasNoChildren \\Drafts) \"/\" [Gmail]/Drafts",
        "* LIST (\\HasNoChildren \\Junk) \"/\" [Gmail]/Spam",
        "* LIST (\\HasNoChildren \\Trash) \"/\" [Gmail]/Trash",
        "* LIST (\\HasNoChildren \\All) \"/\" \"[Gmail]/All Mail\"",
        "* LIST (\\HasNoChildren \\Flagged) \"/\" [Gmail]/Starred",
        "* LIST (\\HasNoChildren \\Important) \"/\" [Gmail]/Important",
    ] {
        assert!(
            lines.iter().any(|l| l == want),
            "{want} missing from {lines:?}"
        );
    }
    assert_eq!(d.list("alice").len(), 9);
    assert_eq!(Layout::Gmail.special("\\All"), Some("[Gmail]/All Mail"));
}

#[test]
fn capabilities_before_and_after_login() {
    let d = Dovecot::builder().compress(true).build();
    let s = mailferry_harness::ImapSession::connect(d.addr_plain()).unwrap();
    let greeting = s.greeting().to_string();
    for cap in [
        "STARTTLS",
        "AUTH=PLAIN",
        "AUTH=LOGIN",
        "LITERAL+",
        "SASL-IR",
    ] {
        assert!(greeting.contains(cap), "{cap} not in {greeting}");
    }
    assert!(!greeting.contains("LOGINDISABLED"), "{greeting}");

    let mut s = d.session("alice");
    let caps = s.command("CAPABILITY").unwrap().untagged_text().join(" ");
    for cap in [
        "IMAP4rev1",
        "UIDPLUS",
        "CONDSTORE",
        "QRESYNC",
        "LITERAL+",
        "MULTIAPPEND",
        "SPECIAL-USE",
        "MOVE",
        "NAMESPACE",
        "ENABLE",
        "IDLE",
        "LIST-EXTENDED",
        "BINARY",
        "COMPRESS=DEFLATE",
    ] {
        assert!(caps.split(' ').any(|c| c == cap), "{cap} not in {caps}");
    }
    let plain = Dovecot::start(Layout::Courier);
    let mut s = plain.session("alice");
    let caps = s.command("CAPABILITY").unwrap().untagged_text().join(" ");
    assert!(!caps.contains("COMPRESS"), "{caps}");
}

#[test]
fn a_fresh_instance_logs_no_trouble() {
    let d = Dovecot::builder()
        .layout(Layout::Gmail)
        .quota_bytes(Some(1 << 20))
        .fsync(false)
        .build();
    d.list("alice");
    let log = d.log();
    for bad in ["Error", "Fatal", "Warning", "Panic"] {
        assert!(!log.contains(bad), "{bad} in log:\n{log}");
    }
}
