//! The folder map against real Dovecot servers in every pair of layouts: the
//! preview places every folder where a person expects (with the reason),
//! creating the tree builds exactly that, a second run creates nothing, and a
//! mail client then sees the tree, subscribed, special folders marked.

use crate::common;
use std::time::Duration;

use mailferry::endpoint::{Credentials, Endpoint, Security};
use mailferry::folder::{
    apply, map_folders, plan_create, read_tree, ApplyReport, CreatePlan, FolderMap, FolderTree,
    MapEntry, Rules, SpecialUse, Target,
};
use mailferry::imap::Session;
use mailferry_harness::{mutf7_encode, Dovecot, Layout, Message};

/// User folders every source gets, as paths below the personal prefix.
/// Parents are created first, so none is a `\Noselect` placeholder.
const USER_FOLDERS: &[&[&str]] = &[
    &["Clients"],
    &["Clients", "Acme"],
    &["Cartório"],
    &["Проекты"],
    &["Проекты", "2024"],
    &["Orders 📦"],
];

fn endpoint(server: &Dovecot) -> Endpoint {
    let mut e = Endpoint::new("127.0.0.1")
        .with_security(Security::Tls)
        .with_port(server.tls_port());
    e.extra_roots_pem.push(server.ca_pem().to_owned());
    e.timeout = Duration::from_secs(10);
    e
}

async fn session(server: &Dovecot) -> Session {
    Session::connect(
        &endpoint(server),
        &Credentials::password("alice", "alicepass"),
    )
    .await
    .expect("sign in to the harness server")
}

async fn tree(server: &Dovecot) -> FolderTree {
    let mut s = session(server).await;
    let t = read_tree(&mut s).await.expect("read the folder tree");
    s.logout().await;
    t
}

/// Runs the plan on the destination over a fresh session.
async fn apply_on(dest: &Dovecot, plan: &CreatePlan) -> ApplyReport {
    let mut s = session(dest).await;
    let report = apply(&mut s, plan).await.expect("the run happens");
    s.logout().await;
    report
}

fn assert_complete(report: &ApplyReport) {
    assert!(
        report.is_complete(),
        "{:?}",
        report.refused.as_ref().map(|r| r.describe())
    );
}

fn source_server(layout: Layout) -> Dovecot {
    let server = Dovecot::start(layout);
    for path in USER_FOLDERS {
        server.create_mailbox("alice", &layout.mailbox(path));
    }
    server
}

/// What a mail client sees: `LIST "" "*"` and `LSUB "" "*"` over the
/// harness's own raw connection, read with the engine's line parser (not
/// the IMAP library the engine lists with).
fn client_view(server: &Dovecot) -> FolderTree {
    let mut s = server.session("alice");
    let list = s.command("LIST \"\" \"*\"").unwrap();
    let lsub = s.command("LSUB \"\" \"*\"").unwrap();
    s.logout();
    assert!(list.is_ok() && lsub.is_ok(), "{list:?} {lsub:?}");
    FolderTree::from_list_lines(&list.untagged_text(), &lsub.untagged_text(), false)
        .expect("the server's listing reads")
}

fn entry<'a>(map: &'a FolderMap, source: &str) -> &'a MapEntry {
    map.entries
        .iter()
        .find(|e| e.source.display() == source)
        .unwrap_or_else(|| panic!("no map row for {source:?}:\n{}", map.render_text()))
}

fn reasons(e: &MapEntry) -> String {
    e.reasons
        .iter()
        .map(|r| r.describe())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Asserts that `source` goes to `target` and a reason contains `why`.
fn goes(map: &FolderMap, source: &str, target: &str, why: &str) {
    let e = entry(map, source);
    match &e.target {
        Target::Folder { name, .. } => assert_eq!(
            name.display(),
            target,
            "{source:?} lands in {target:?}:\n{}",
            map.render_text()
        ),
        Target::Excluded => panic!("{source:?} is skipped:\n{}", map.render_text()),
    }
    assert!(
        reasons(e).contains(why),
        "{source:?} says {why:?}: {}",
        reasons(e)
    );
}

/// Asserts that `source` is skipped and a reason contains `why`.
fn skipped(map: &FolderMap, source: &str, why: &str) {
    let e = entry(map, source);
    assert_eq!(
        e.target,
        Target::Excluded,
        "{source:?} is skipped:\n{}",
        map.render_text()
    );
    assert!(
        reasons(e).contains(why),
        "{source:?} says {why:?}: {}",
        reasons(e)
    );
}

/// The key rows every pair must get right.
fn assert_key_rows(map: &FolderMap, src: Layout, dst: Layout) {
    goes(map, "INBOX", "INBOX", "inbox");
    // Special folders go by their attribute to the destination's folder with the same one;
    // Gmail's Trash and Spam are views, skipped below.
    let roles: &[(&str, &str)] = &[
        ("\\Sent", "Sent folder"),
        ("\\Drafts", "Drafts folder"),
        ("\\Trash", "Trash folder"),
        ("\\Junk", "Junk folder"),
    ];
    let roles = if src == Layout::Gmail {
        &roles[..2]
    } else {
        roles
    };
    for (role, why) in roles {
        let (from, to) = (src.special(role).unwrap(), dst.special(role).unwrap());
        goes(map, from, to, why);
    }
    // User folders keep their levels and their names, whatever the separator and prefix.
    for path in USER_FOLDERS {
        goes(map, &src.mailbox(path), &dst.mailbox(path), "");
    }
    if src == Layout::Courier && dst != Layout::Courier {
        goes(
            map,
            "INBOX.Clients.Acme",
            "Clients/Acme",
            "now a top-level folder (was inside INBOX)",
        );
    }
    if dst == Layout::Courier && src != Layout::Courier {
        goes(
            map,
            "Clients/Acme",
            "INBOX.Clients.Acme",
            "placed inside INBOX",
        );
    }
    match src {
        Layout::Gmail => {
            skipped(map, "[Gmail]", "Gmail's group of system folders");
            skipped(map, "[Gmail]/Spam", "skipped: spam");
            skipped(map, "[Gmail]/Trash", "skipped: Gmail trash");
            skipped(map, "[Gmail]/Important", "Important view");
            skipped(map, "[Gmail]/Starred", "Starred view");
            let archive = dst
                .special("\\Archive")
                .map_or_else(|| dst.mailbox(&["Archive"]), |name| name.to_owned());
            goes(map, "[Gmail]/All Mail", &archive, "All Mail");
            assert_eq!(
                map.entries.last().unwrap().source.display(),
                "[Gmail]/All Mail",
                "All Mail is copied last, after every label"
            );
            assert!(map.gmail_source);
        }
        Layout::Exchange => {
            skipped(map, "Calendar", "not email");
            skipped(map, "Contacts", "not email");
        }
        Layout::Courier => {}
    }
    assert_eq!(
        map.decisions_needed(),
        0,
        "nothing to decide:\n{}",
        map.render_text()
    );
}

/// Preview, create, create again, then look as a mail client.
async fn migrate_folders(src: Layout, dst: Layout) {
    let source = source_server(src);
    let dest = Dovecot::start(dst);
    let before = dest.list("alice");

    // The preview.
    let source_tree = tree(&source).await;
    let dest_tree = tree(&dest).await;
    assert_eq!(source_tree.delimiter, Some(src.separator()));
    assert_eq!(source_tree.prefix, src.prefix());
    assert_eq!(dest_tree.prefix, dst.prefix());
    let rules = Rules::default();
    let map = map_folders(&source_tree, &dest_tree, &rules);
    assert_key_rows(&map, src, dst);
    let text = map.render_text();
    assert!(text.starts_with("Old server"), "{text}");
    assert!(text.trim_end().ends_with(&map.summary()), "{text}");
    assert_eq!(
        dest.list("alice"),
        before,
        "the preview changes nothing at the destination"
    );

    // Creating the tree.
    let plan = plan_create(&map, &dest_tree).expect("nothing to decide");
    assert!(!plan.is_empty(), "the user folders are new");
    let report = apply_on(&dest, &plan).await;
    assert_complete(&report);
    for path in USER_FOLDERS {
        let name = dst.mailbox(path);
        assert!(
            report.created.iter().any(|c| c.display() == name),
            "{name:?} created: {:?}",
            report.created
        );
    }

    // A second run: re-read, re-map, re-plan: nothing to do, nothing created.
    let after = tree(&dest).await;
    let again = map_folders(&source_tree, &after, &rules);
    let second = plan_create(&again, &after).unwrap();
    assert!(
        second.is_empty(),
        "a second run creates nothing:\n{}",
        second.render_text()
    );
    let report2 = apply_on(&dest, &second).await;
    assert!(report2.created.is_empty() && report2.subscribed.is_empty());
    assert_eq!(
        report2.summary(),
        "Nothing to do: every folder is already there."
    );

    // What a mail client sees.
    let view = client_view(&dest);
    for e in &map.entries {
        let Target::Folder { name, special, .. } = &e.target else {
            continue;
        };
        let f = view
            .find_display(name.display())
            .unwrap_or_else(|| panic!("{:?} is on the destination: {view:#?}", name.display()));
        assert!(f.is_selectable(), "{:?} can hold mail", name.display());
        assert!(
            f.subscribed || f.name.is_inbox(),
            "{:?} is subscribed, so mail apps show it",
            name.display()
        );
        assert_eq!(
            f.name.wire(),
            mutf7_encode(name.display()),
            "the destination holds the encoded name, not the text of an encoding"
        );
        // Special folders carry their attribute where the server has one for that role.
        if let Some(role) = special {
            if dst.special(role.attribute_text()).is_some() || after.can_create_special_use {
                assert!(
                    f.has_special_use(*role),
                    "{:?} is marked {}",
                    name.display(),
                    role.attribute_text()
                );
            }
        }
    }
    let sent = view.find_display(dst.special("\\Sent").unwrap()).unwrap();
    assert!(
        sent.has_special_use(SpecialUse::Sent) && sent.subscribed,
        "a mail client finds the Sent folder by its attribute: {sent:?}"
    );
    // Same display names for the non-ASCII folders.
    for path in [&["Cartório"][..], &["Проекты", "2024"], &["Orders 📦"]] {
        let name = dst.mailbox(path);
        assert!(
            view.find_display(&name).is_some(),
            "{name:?} arrives with the same name: {:?}",
            dest.list("alice")
        );
        assert!(dest.list("alice").contains(&mutf7_encode(&name)));
    }
    // Nothing but the map was created: no Gmail group, no skipped views.
    let targets: Vec<&str> = map
        .entries
        .iter()
        .filter_map(|e| match &e.target {
            Target::Folder { name, .. } => Some(name.display()),
            Target::Excluded => None,
        })
        .collect();
    for f in &view.folders {
        let name = f.name.display();
        let was_there = dest_tree.find(&f.name).is_some();
        let parent_of_target = targets.iter().any(|t| {
            t.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(dst.separator()))
        });
        assert!(
            was_there || targets.contains(&name) || parent_of_target,
            "{name:?} was created but is not in the map"
        );
    }
    if src == Layout::Gmail && dst != Layout::Gmail {
        assert!(view.find_display("[Gmail]").is_none(), "never created");
    }
}

/// One test per (source, destination) pair, named after it.
macro_rules! pairs {
    ($($name:ident: $src:ident -> $dst:ident;)*) => {$(
        #[tokio::test]
        async fn $name() {
            migrate_folders(Layout::$src, Layout::$dst).await;
        }
    )*};
}

pairs! {
    gmail_to_exchange: Gmail -> Exchange;
    gmail_to_courier: Gmail -> Courier;
    courier_to_exchange: Courier -> Exchange;
    courier_to_gmail: Courier -> Gmail;
    exchange_to_courier: Exchange -> Courier;
    exchange_to_gmail: Exchange -> Gmail;
}

/// A folder the destination refuses stops the run at that folder, keeps
/// what was made, says which folder in plain words, and a later run (after
/// the user skips it) carries on.
#[tokio::test]
async fn a_refused_folder_stops_the_run_and_is_named() {
    let source = source_server(Layout::Gmail);
    let dest = Dovecot::start(Layout::Exchange);
    let long = "x".repeat(300);
    let mut rules = Rules::from_flags(&[format!("Clients=Clients/{long}")], &[], &[], &[]).unwrap();
    // Let the name through the map's own length check, to reach the server's.
    rules.max_name_bytes = 10_000;
    let (source_tree, dest_tree) = (tree(&source).await, tree(&dest).await);
    let map = map_folders(&source_tree, &dest_tree, &rules);
    let plan = plan_create(&map, &dest_tree).unwrap();
    let report = apply_on(&dest, &plan).await;
    let refusal = report
        .refused
        .as_ref()
        .expect("Dovecot refuses a 300-byte level");
    assert_eq!(refusal.folder().display(), format!("Clients/{long}"));
    let text = refusal.describe();
    assert!(text.contains("refused to create the folder"), "{text}");
    assert!(text.contains("run again"), "{text}");
    assert!(!report.not_attempted.is_empty(), "the run stopped there");
    assert!(
        report.subscribed.is_empty(),
        "subscriptions come after every folder"
    );
    assert!(report.summary().contains("Stopped"), "{}", report.summary());
    let made = dest.list("alice");
    assert!(
        made.contains(&"Clients".to_owned()),
        "the parent made before is kept: {made:?}"
    );

    // The user skips the folder; the next run makes the rest.
    let rules = Rules::from_flags(&[], &[], &["^Clients/Acme$".to_owned()], &[]).unwrap();
    let after = tree(&dest).await;
    let map = map_folders(&source_tree, &after, &rules);
    let plan = plan_create(&map, &after).unwrap();
    assert!(
        !plan.render_text().contains("CREATE \"Clients\""),
        "what was made is not made again:\n{}",
        plan.render_text()
    );
    let report = apply_on(&dest, &plan).await;
    assert_complete(&report);
    assert!(
        client_view(&dest)
            .find_display("Cartório")
            .unwrap()
            .subscribed
    );
}

/// Over a long link a tree of folders costs its depth, not its size: the
/// CREATEs of one depth go in one flight, every SUBSCRIBE in another (it
/// cost a round trip per operation: 12 for these 6 folders and their
/// subscriptions). Counted at the harness proxy; the tree is then
/// complete, every folder subscribed.
#[tokio::test]
async fn a_tree_of_folders_costs_its_depth_in_round_trips() {
    let source = source_server(Layout::Courier);
    let dest = Dovecot::start(Layout::Exchange);
    let (source_tree, dest_tree) = (tree(&source).await, tree(&dest).await);
    let map = map_folders(&source_tree, &dest_tree, &Rules::default());
    let plan = plan_create(&map, &dest_tree).unwrap();
    let ops = plan.ops.len();
    assert!(
        ops >= 12,
        "six folders, each created and subscribed:\n{}",
        plan.render_text()
    );

    let proxy = mailferry_harness::Proxy::start(dest.addr_plain());
    let mut endpoint = Endpoint::new("127.0.0.1")
        .with_security(Security::Plain)
        .with_port(proxy.port());
    endpoint.timeout = Duration::from_secs(10);
    let mut s = Session::connect(&endpoint, &Credentials::password("alice", "alicepass"))
        .await
        .expect("sign in through the proxy");
    let before = proxy.round_trips();
    let report = apply(&mut s, &plan).await.expect("the run happens");
    let spent = proxy.round_trips() - before;
    s.logout().await;
    assert_complete(&report);
    // Two depths of CREATE, one flight of SUBSCRIBE, one LIST to find
    // folders the server took for look-alikes.
    assert!(spent <= 4, "{spent} round trips for {ops} operations");

    // Every folder there, selectable and subscribed: nothing left to plan.
    let again = plan_create(&map, &tree(&dest).await).unwrap();
    assert!(
        again.is_empty(),
        "left to do after one run:\n{}",
        again.render_text()
    );
}

/// Both passwords, as the CLI reads them from the environment.
const PASSWORDS: [(&str, &str); 2] = [
    ("MAILFERRY_PASSWORD1", "alicepass"),
    ("MAILFERRY_PASSWORD2", "alicepass"),
];

/// Runs the built `mailferry` against a source and a destination, with the
/// folder rule flags in `extra`; passwords come from the environment.
fn cli(
    source: &Dovecot,
    dest: &Dovecot,
    command: &[&str],
    extra: &[&str],
) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let ca1 = dir.path().join("ca1.pem");
    let ca2 = dir.path().join("ca2.pem");
    std::fs::write(&ca1, source.ca_pem()).unwrap();
    std::fs::write(&ca2, dest.ca_pem()).unwrap();
    let (p1, p2) = (source.tls_port().to_string(), dest.tls_port().to_string());
    let mut args: Vec<&str> = command.to_vec();
    args.extend([
        "--host1",
        "127.0.0.1",
        "--port1",
        &p1,
        "--user1",
        "alice",
        "--cafile1",
        ca1.to_str().unwrap(),
        "--host2",
        "127.0.0.1",
        "--port2",
        &p2,
        "--user2",
        "alice",
        "--cafile2",
        ca2.to_str().unwrap(),
    ]);
    args.extend(extra);
    let out = common::mailferry(&args, &PASSWORDS);
    (
        out.status.code(),
        common::text(&out.stdout),
        common::text(&out.stderr),
    )
}

/// `mailferry folders` prints the map an owner can read (and JSON),
/// `sync --justfolders --dry` changes nothing, `sync --justfolders` builds
/// the tree, and running it again has nothing to do.
#[test]
fn cli_folders_then_sync_justfolders() {
    let source = source_server(Layout::Gmail);
    let dest = Dovecot::start(Layout::Exchange);
    let before = dest.list("alice");

    let (code, out, err) = cli(&source, &dest, &["folders"], &[]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    let row = |needle: &[&str]| {
        out.lines()
            .find(|l| needle.iter().all(|n| l.contains(n)))
            .unwrap_or_else(|| panic!("a row with {needle:?} in:\n{out}"))
            .to_owned()
    };
    assert!(out.starts_with("Old server"), "{out}");
    row(&["Sent Mail", "-> Sent Items", "Sent folder"]);
    row(&["Spam", "skipped: spam"]);
    row(&["Trash", "skipped: Gmail trash"]);
    row(&["All Mail", "-> Archive", "copied last"]);
    row(&["Acme", "-> Clients/Acme", "new folder"]);
    row(&["Cartório", "-> Cartório"]);
    assert!(out.contains("10 folders, 5 skipped"), "the summary: {out}");
    assert!(
        !out.contains("mailbox") && !out.contains("delimiter") && !out.contains("&APM-"),
        "plain words, decoded names: {out}"
    );

    let (code, json, err) = cli(&source, &dest, &["folders"], &["--json"]);
    assert_eq!(code, Some(0), "{err}");
    let json: serde_json::Value = serde_json::from_str(&json).expect("stdout is JSON");
    assert_eq!(json["summary"], "10 folders, 5 skipped");
    assert_eq!(json["decisions_needed"], 0);
    assert!(json["map"]["entries"].as_array().unwrap().len() >= 15);

    // A rule that makes two folders share one target needs a decision: exit 1.
    let (code, out, _) = cli(
        &source,
        &dest,
        &["folders"],
        &["--f1f2", "Cartório=Clients"],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("Needs a decision"), "{out}");
    // `sync` holds back the two folders concerned and creates the rest.
    let (code, out, _) = cli(
        &source,
        &dest,
        &["sync", "--justfolders", "--dry"],
        &["--f1f2", "Cartório=Clients"],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("left out of this run"), "{out}");
    // "Clients" itself is only created to hold "Clients/Acme", empty.
    assert!(
        !out.contains("CREATE \"Cartório\"") && out.contains("CREATE \"Clients/Acme\""),
        "{out}"
    );
    assert_eq!(dest.list("alice"), before, "--dry changes nothing");

    let (code, out, err) = cli(&source, &dest, &["sync", "--justfolders", "--dry"], &[]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains("nothing was changed"), "{out}");
    assert!(out.contains("CREATE \"Clients/Acme\""), "{out}");
    assert!(out.contains("SUBSCRIBE \"Cartório\""), "{out}");
    assert_eq!(dest.list("alice"), before, "--dry changes nothing");

    let (code, out, err) = cli(&source, &dest, &["sync", "--justfolders"], &[]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains("+ Clients/Acme"), "{out}");
    let after = dest.list("alice");
    for name in [
        "Clients",
        "Clients/Acme",
        "Cartório",
        "Проекты/2024",
        "Orders 📦",
    ] {
        assert!(after.contains(&mutf7_encode(name)), "{name:?} in {after:?}");
    }
    let view = client_view(&dest);
    assert!(view.find_display("Clients/Acme").unwrap().subscribed);

    let (code, out, _) = cli(&source, &dest, &["sync", "--justfolders"], &[]);
    assert_eq!(code, Some(0));
    assert!(out.contains("Nothing to do"), "the second run: {out}");
    assert_eq!(dest.list("alice"), after);

    // Without --justfolders, sync goes on to copy the messages (none here).
    let (_dir, state) = common::state_file();
    let (code, out, err) = cli(
        &source,
        &dest,
        &["sync", "--state", state.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains("Copied 0 messages"), "{out}");
    assert!(state.exists(), "the progress file is where --state says");
}

/// `folders` needs both servers and says which flags.
#[test]
fn cli_folders_needs_both_servers() {
    let out = common::mailferry(
        &["folders", "--host1", "127.0.0.1", "--user1", "alice"],
        &[("MAILFERRY_PASSWORD1", "x")],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--host2"), "{err}");
}

/// Puts `n` messages, each unique to `folder` (a UTF-8 name), into it and
/// returns their bodies.
fn fill(server: &Dovecot, folder: &str, n: usize) -> Vec<Vec<u8>> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    folder.hash(&mut h);
    let tag = h.finish();
    let bodies: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            format!(
                "From: a@example.com\r\nTo: b@example.com\r\nSubject: message {i}\r\n\
                 Message-ID: <{i}.{tag:x}@folders.test>\r\nDate: Mon, 5 Jan 2026 10:0{i}:00 +0000\r\n\
                 \r\nIn the folder {folder}.\r\n"
            )
            .into_bytes()
        })
        .collect();
    let messages: Vec<Message> = bodies.iter().map(|b| Message::new(b.clone())).collect();
    server.append("alice", folder, &messages);
    bodies
}

/// The folder `folder` (UTF-8) on `server` holds exactly these messages.
fn holds(server: &Dovecot, folder: &str, bodies: &[Vec<u8>]) {
    let listed = server.list("alice");
    assert!(
        listed.contains(&mutf7_encode(folder)),
        "{folder:?} is at the destination: {listed:?}"
    );
    let mut got: Vec<Vec<u8>> = server
        .fetch_all("alice", folder)
        .into_iter()
        .map(|m| m.body)
        .collect();
    let mut want = bodies.to_vec();
    got.sort();
    want.sort();
    assert_eq!(
        got.iter()
            .map(|b| String::from_utf8_lossy(b))
            .collect::<Vec<_>>(),
        want.iter()
            .map(|b| String::from_utf8_lossy(b))
            .collect::<Vec<_>>(),
        "{folder:?} holds exactly its messages"
    );
}

/// A name with `"` or `\` comes back from LIST as a quoted string with
/// escapes; it is unescaped once, shown as it is, created under the same
/// name and opened on both sides, so its messages arrive (one `sync`).
#[test]
fn names_with_quotes_and_backslashes_round_trip() {
    let source = Dovecot::start(Layout::Courier);
    let dest = Dovecot::start(Layout::Exchange);
    let names = [r#"Say "hi""#, r"back\slash", r#"both \"x\" \\"#];
    let mut expected = Vec::new();
    for name in names {
        let full = Layout::Courier.mailbox(&[name]);
        source.create_mailbox("alice", &full);
        expected.push((name, fill(&source, &full, 2)));
    }

    let (code, out, err) = cli(&source, &dest, &["folders"], &[]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    for name in names {
        assert!(
            out.lines().any(|l| l.contains(&format!("-> {name}"))),
            "{name:?} shown as it is:\n{out}"
        );
    }

    let (_dir, state) = common::state_file();
    let (code, out, err) = cli(
        &source,
        &dest,
        &["sync", "--state", state.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
    for (name, bodies) in &expected {
        holds(&dest, name, bodies);
    }
}

/// `sync` through [`cli_plain`] with a progress file of its own.
fn sync_plain(source: u16, dest: u16, extra: &[&str]) -> (Option<i32>, String) {
    let (_dir, state) = common::state_file();
    cli_plain(
        source,
        dest,
        &["sync", "--state", state.to_str().unwrap()],
        extra,
    )
}

/// Runs the built `mailferry` over plain connections to the given ports
/// (a harness server or a proxy in front of one).
fn cli_plain(source: u16, dest: u16, command: &[&str], extra: &[&str]) -> (Option<i32>, String) {
    let (sides, passwords) = common::both_ports(source, dest);
    let mut args: Vec<&str> = command.to_vec();
    args.extend(sides.iter().map(String::as_str));
    args.extend(extra);
    let out = common::mailferry(&args, &passwords);
    (
        out.status.code(),
        format!(
            "{}\n--- stderr ---\n{}",
            common::text(&out.stdout),
            common::text(&out.stderr)
        ),
    )
}

const CAFE_NFC: &str = "Caf\u{e9}";
const CAFE_NFD: &str = "Cafe\u{301}";

/// A source with `Café` in NFC and in NFD (a Mac client creates NFD), two
/// messages in each.
fn look_alike_source() -> (Dovecot, Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let source = Dovecot::start(Layout::Courier);
    let (nfc, nfd) = (
        Layout::Courier.mailbox(&[CAFE_NFC]),
        Layout::Courier.mailbox(&[CAFE_NFD]),
    );
    source.create_mailbox("alice", &nfc);
    source.create_mailbox("alice", &nfd);
    let a = fill(&source, &nfc, 2);
    let b = fill(&source, &nfd, 2);
    (source, a, b)
}

/// Two look-alike source folders are not a question when the destination
/// keeps them apart (Dovecot does): one `sync` copies both, separately.
#[test]
fn look_alike_folders_are_copied_apart_when_the_destination_keeps_them_apart() {
    let (source, nfc_bodies, nfd_bodies) = look_alike_source();
    let dest = Dovecot::start(Layout::Exchange);
    let (code, out) = sync_plain(source.plain_port(), dest.plain_port(), &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("decided first"), "{out}");
    holds(&dest, CAFE_NFC, &nfc_bodies);
    holds(&dest, CAFE_NFD, &nfd_bodies);
    assert!(
        !dest.list("alice").iter().any(|n| n.contains("(2)")),
        "no sibling needed: {:?}",
        dest.list("alice")
    );
}

/// A destination that turns NFD names into NFC (as a server on a
/// normalising file system does; imitated by a proxy rewriting the name in
/// every command) would merge the two: the second goes into "Café (2)",
/// and the output says so.
#[test]
fn look_alike_folders_go_to_a_named_sibling_when_the_destination_merges_them() {
    use mailferry_harness::{Direction, Fault, Proxy};
    let (source, nfc_bodies, nfd_bodies) = look_alike_source();
    let dest = Dovecot::start(Layout::Exchange);
    let normalising = Proxy::with_fault(
        dest.addr_plain(),
        Fault::rewrite(
            Direction::ToServer,
            mutf7_encode(CAFE_NFD),
            mutf7_encode(CAFE_NFC),
        ),
    );
    let (_dir, state) = common::state_file();
    let (code, out) = cli_plain(
        source.plain_port(),
        normalising.port(),
        &["sync", "--state", state.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!("\"{CAFE_NFD} (2)\"")),
        "the output names the sibling: {out}"
    );
    holds(&dest, CAFE_NFC, &nfc_bodies);
    // The sibling's name went through the normalising server too.
    holds(&dest, &format!("{CAFE_NFC} (2)"), &nfd_bodies);

    // Running again puts nothing anywhere twice.
    let (code, out) = cli_plain(
        source.plain_port(),
        normalising.port(),
        &["sync", "--state", state.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, Some(0), "{out}");
    holds(&dest, CAFE_NFC, &nfc_bodies);
    holds(&dest, &format!("{CAFE_NFC} (2)"), &nfd_bodies);
}

/// Two source folders onto one destination folder is a real question: it
/// holds back those two folders only; everything else is copied, and
/// `sync` exits 1 with the question listed.
#[test]
fn a_real_question_holds_back_only_the_folders_concerned() {
    let source = Dovecot::start(Layout::Courier);
    let dest = Dovecot::start(Layout::Exchange);
    let mut copied = Vec::new();
    for name in ["Clients", "Cartório", "Other"] {
        let full = Layout::Courier.mailbox(&[name]);
        source.create_mailbox("alice", &full);
        copied.push((name, fill(&source, &full, 2)));
    }
    let inbox = fill(&source, "INBOX", 2);
    let (code, out) = sync_plain(
        source.plain_port(),
        dest.plain_port(),
        &["--f1f2", "INBOX.Cartório=Clients"],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("would go into the same folder \"Clients\""),
        "the question is listed: {out}"
    );
    holds(&dest, "INBOX", &inbox);
    holds(&dest, "Other", &copied[2].1);
    let listed = dest.list("alice");
    for held in ["Clients", "Cartório"] {
        assert!(
            !listed.contains(&mutf7_encode(held)),
            "{held:?} is held back: {listed:?}"
        );
    }
}

/// The folder-name torture tree: a Courier-like source (`.` hierarchy,
/// `INBOX.` prefix) with quotes, backslashes, `&`, NFC/NFD twins, case
/// twins, Cyrillic, CJK, emoji and four levels of hierarchy, two messages
/// in each, migrated to the Exchange-like layout (`/` hierarchy, no prefix)
/// in ONE `sync`: exit 0, and every folder is at the destination with
/// exactly its messages. A `/` inside a name cannot be in this source
/// (Dovecot's Maildir++ refuses it: "Name must not have '/' characters");
/// the other way round is
/// [`a_hierarchy_character_inside_a_name_becomes_an_underscore`].
#[test]
fn folder_name_torture_tree_in_one_sync() {
    let source = Dovecot::start(Layout::Courier);
    let dest = Dovecot::start(Layout::Exchange);
    // (path below the source prefix, where it lands at the destination)
    let tree: &[(&[&str], &str)] = &[
        (&[r#"Say "hi""#], r#"Say "hi""#),
        (&[r"back\slash"], r"back\slash"),
        (&["R&D"], "R&D"),
        (&["Tom & Jerry"], "Tom & Jerry"),
        (&[CAFE_NFC], CAFE_NFC),
        (&[CAFE_NFD], CAFE_NFD),
        (&["sent"], "sent"),
        (&["Reports"], "Reports"),
        (&["reports"], "reports"),
        (&["Входящие важные"], "Входящие важные"),
        (&["日本語 資料"], "日本語 資料"),
        (&["Orders 📦"], "Orders 📦"),
        (&["L1"], "L1"),
        (&["L1", "L2"], "L1/L2"),
        (&["L1", "L2", "L3"], "L1/L2/L3"),
        (&["L1", "L2", "L3", "L4 \"deep\""], "L1/L2/L3/L4 \"deep\""),
    ];
    let mut expected = Vec::new();
    for (path, target) in tree {
        let full = Layout::Courier.mailbox(path);
        source.create_mailbox("alice", &full);
        expected.push((target.to_string(), fill(&source, &full, 2)));
    }
    // The layout's own Sent (the case twin of "sent") goes to Sent Items.
    expected.push(("Sent Items".into(), fill(&source, "INBOX.Sent", 2)));
    expected.push(("INBOX".into(), fill(&source, "INBOX", 2)));

    let (code, out) = cli_plain(source.plain_port(), dest.plain_port(), &["folders"], &[]);
    assert_eq!(code, Some(0), "no question in this tree:\n{out}");

    let (_dir, state) = common::state_file();
    let sync = || {
        cli_plain(
            source.plain_port(),
            dest.plain_port(),
            &["sync", "--state", state.to_str().unwrap()],
            &[],
        )
    };
    let (code, out) = sync();
    assert_eq!(code, Some(0), "{out}");
    for (target, bodies) in &expected {
        holds(&dest, target, bodies);
    }
    assert!(
        !dest.list("alice").iter().any(|n| n.contains("(2)")),
        "Dovecot keeps every look-alike apart: {:?}",
        dest.list("alice")
    );

    // A second run finds everything there.
    let (code, out) = sync();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("Copied 0 messages"), "{out}");
    for (target, bodies) in &expected {
        holds(&dest, target, bodies);
    }
}

/// A name holding the destination's hierarchy character (`.` on a
/// Courier-like server) keeps its place: the character becomes `_`
/// (`v1.2` → `INBOX.v1_2`, said in the map), never a subfolder, and the
/// messages follow.
#[test]
fn a_hierarchy_character_inside_a_name_becomes_an_underscore() {
    let source = Dovecot::start(Layout::Exchange);
    let dest = Dovecot::start(Layout::Courier);
    source.create_mailbox("alice", "v1.2");
    let bodies = fill(&source, "v1.2", 2);
    let (code, out) = cli_plain(source.plain_port(), dest.plain_port(), &["folders"], &[]);
    assert_eq!(code, Some(0), "{out}");
    let row = out
        .lines()
        .find(|l| l.contains("v1.2"))
        .unwrap_or_else(|| panic!("a row for v1.2:\n{out}"));
    assert!(row.contains("-> INBOX.v1_2"), "{row}");
    assert!(row.contains("became \"_\""), "the map says why: {row}");
    let (code, out) = sync_plain(source.plain_port(), dest.plain_port(), &[]);
    assert_eq!(code, Some(0), "{out}");
    holds(&dest, "INBOX.v1_2", &bodies);
    assert!(
        !dest.list("alice").contains(&"INBOX.v1".to_owned()),
        "no subfolder made of it: {:?}",
        dest.list("alice")
    );
}

/// A server may send a name as a literal (`{n}` and the bytes) instead of
/// a quoted string: its bytes are the name as they are, backslashes and
/// quotes included (imitated by a proxy that turns the quoted form Dovecot
/// sends into a literal). Listed, shown, opened and copied as it is.
#[test]
fn a_name_listed_as_a_literal_round_trips() {
    use mailferry_harness::{Direction, Fault, Proxy};
    let source = Dovecot::start(Layout::Courier);
    let dest = Dovecot::start(Layout::Exchange);
    let name = r#"lit \ "x""#;
    let full = Layout::Courier.mailbox(&[name]);
    source.create_mailbox("alice", &full);
    let bodies = fill(&source, &full, 2);
    let quoted = format!("\"{}\"", full.replace('\\', "\\\\").replace('"', "\\\""));
    let literal = format!("{{{}}}\r\n{full}", full.len());
    let literal_lists = Proxy::with_fault(
        source.addr_plain(),
        Fault::rewrite(Direction::ToClient, quoted, &literal),
    );
    // The proxy does send the name as a literal.
    let mut raw = mailferry_harness::ImapSession::connect(literal_lists.addr()).unwrap();
    assert!(raw.login("alice", "alicepass").unwrap().is_ok());
    let listed = raw.command("LIST \"\" \"*\"").unwrap();
    raw.logout();
    assert!(
        listed
            .untagged
            .iter()
            .any(|u| u.windows(literal.len()).any(|w| w == literal.as_bytes())),
        "{listed:?}"
    );
    let (code, out) = cli_plain(literal_lists.port(), dest.plain_port(), &["folders"], &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.lines().any(|l| l.contains(&format!("-> {name}"))),
        "{name:?} shown as it is:\n{out}"
    );
    let (code, out) = sync_plain(literal_lists.port(), dest.plain_port(), &[]);
    assert_eq!(code, Some(0), "{out}");
    holds(&dest, name, &bodies);
}
