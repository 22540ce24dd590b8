//! One mailbox per worker, as a batch engine runs MailFerry: separate
//! `mailferry sync --mailboxes FILE --row env:JOB_COMPLETION_INDEX`
//! processes against real Dovecot servers, some killed and started again
//! with their progress restored from the state store, one with a wrong
//! password that must exit with the permanent code; then one report for
//! the whole list. The state store refuses a stale worker's upload, and a
//! snapshot taken while the copy writes is a valid database.

use crate::common::{self, content};
use mailferry::batch::store::{StateStore, StoreError};
use mailferry::batch::{PERMANENT, TEMPORARY};
use mailferry_harness::{Dovecot, GcsServer, Layout, Message, SignedIn};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WORKERS: usize = 10;
const FOLDERS: [&str; 3] = ["INBOX", "Sent Items", "Archive"];
const PER_FOLDER: usize = 12;

fn user(i: usize) -> String {
    format!("user{i}")
}

fn password(i: usize) -> String {
    format!("pass{i}")
}

fn server() -> Dovecot {
    let mut b = Dovecot::builder().layout(Layout::Exchange).fsync(false);
    for i in 0..WORKERS {
        b = b.user(user(i), password(i));
    }
    b.build()
}

fn mails(user: &str, folder: &str) -> Vec<Message> {
    (0..PER_FOLDER)
        .map(|i| {
            Message::new(
                format!(
                    "From: s{i}@example.net\r\nTo: {user}@example.com\r\nSubject: {folder} {i}\r\n\
                     Message-ID: <{user}-{folder}-{i}@example.net>\r\n\r\nHello {user}, {i}.\r\n{}\r\n",
                    "z".repeat(i * 97 % 3000)
                )
                .into_bytes(),
            )
        })
        .collect()
}

/// The servers, the list and the store a batch of workers shares.
struct Batch<'a> {
    src: &'a Dovecot,
    dst: &'a Dovecot,
    list: &'a Path,
    store: &'a str,
    work: &'a Path,
}

impl Batch<'_> {
    /// `mailferry sync` for one row of the list, as pod `attempt` of index
    /// `index` would run it: its own empty data folder, the row from
    /// JOB_COMPLETION_INDEX, progress in the store.
    fn worker(&self, index: usize, attempt: usize, extra: &[&str]) -> Child {
        let Batch {
            src,
            dst,
            list,
            store,
            work,
        } = self;
        let data = work.join(format!("pod-{index}-{attempt}"));
        Command::new(env!("CARGO_BIN_EXE_mailferry"))
            .args([
                "sync",
                "--host1",
                "127.0.0.1",
                "--port1",
                &src.plain_port().to_string(),
                "--plain1",
                "--host2",
                "127.0.0.1",
                "--port2",
                &dst.plain_port().to_string(),
                "--plain2",
                "--mailboxes",
                list.to_str().unwrap(),
                "--row",
                "env:JOB_COMPLETION_INDEX",
                "--state-store",
                store,
                "--share",
                &format!("1/{WORKERS}"),
            ])
            .args(extra)
            .env("JOB_COMPLETION_INDEX", index.to_string())
            .env("MAILFERRY_DATA_DIR", &data)
            .env_remove("MAILFERRY_PASSWORD1")
            .env_remove("MAILFERRY_PASSWORD2")
            .env_remove("MAILFERRY_CRASH_AT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start a worker")
    }
}

/// Waits for a worker; its exit code and everything it printed.
fn finish(child: Child) -> (Option<i32>, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        common::text(&out.stdout) + &common::text(&out.stderr),
    )
}

/// The file a row's progress has in a file:// store.
fn stored(store_dir: &Path, src: &Dovecot, dst: &Dovecot, i: usize) -> PathBuf {
    let endpoint = |port: u16| {
        mailferry::endpoint::Endpoint::new("127.0.0.1")
            .with_security(mailferry::endpoint::Security::Plain)
            .with_port(port)
    };
    let name = mailferry::paths::job_name(
        &user(i),
        &endpoint(src.plain_port()),
        &user(i),
        &endpoint(dst.plain_port()),
    );
    mailferry::paths::job_file(store_dir, &name)
}

/// Ten workers, three killed mid-run and started again as a batch engine
/// would (same index, a new pod: an empty disk, the progress restored from
/// the store), one row with a wrong password: that one exits 77 at once
/// and is not retried; every other mailbox ends exact, with no message
/// twice; the merged report says so, and why the failed row failed.
#[test]
fn ten_workers_killed_and_restarted_end_exact_and_one_report_says_so() {
    let (src, dst) = (server(), server());
    for i in 0..WORKERS {
        for folder in FOLDERS {
            src.append(&user(i), folder, &mails(&user(i), folder));
        }
    }
    let work = tempfile::tempdir().unwrap();
    let store_dir = work.path().join("store");
    let store = format!("file://{}", store_dir.display());
    let list = work.path().join("list.csv");
    let mut csv = String::from("Old mailbox,New mailbox,Old password,New password\n");
    for i in 0..WORKERS {
        let old = if i == 9 {
            "wrong".to_owned()
        } else {
            password(i)
        };
        csv.push_str(&format!("{},{},{old},{}\n", user(i), user(i), password(i)));
    }
    std::fs::write(&list, csv).unwrap();

    // Slow enough (messages per second) that a kill lands mid-run.
    let slow = ["--maxmessagespersecond", "12"];
    let killed = [2usize, 5, 7];
    let batch = Batch {
        src: &src,
        dst: &dst,
        list: &list,
        store: &store,
        work: work.path(),
    };
    let mut children: Vec<Option<Child>> = (0..WORKERS)
        .map(|i| Some(batch.worker(i, 0, &slow)))
        .collect();
    // Kill each victim once its first folder's progress is in the store.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut saved_before_kill = 0;
    for &i in &killed {
        let object = stored(&store_dir, &src, &dst, i);
        while !object.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut child = children[i].take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        if object.exists() {
            saved_before_kill += 1;
            // What the store holds is a valid database, whatever moment the
            // worker was killed at.
            let copy = work.path().join(format!("check-{i}.db"));
            std::fs::copy(&object, &copy).unwrap();
            let st = mailferry::state::State::open_read_only(&copy)
                .expect("a snapshot is a valid progress file")
                .expect("not empty");
            assert!(
                !st.folders().unwrap().is_empty(),
                "worker {i}'s first folder"
            );
        }
    }
    assert_eq!(
        saved_before_kill,
        killed.len(),
        "every victim had saved a folder"
    );
    // The batch engine starts a new pod for each killed index.
    for &i in &killed {
        children[i] = Some(batch.worker(i, 1, &[]));
    }
    for (i, child) in children.into_iter().enumerate() {
        let (code, said) = finish(child.unwrap());
        if i == 9 {
            assert_eq!(
                code,
                Some(i32::from(PERMANENT)),
                "a wrong password is permanent: {said}"
            );
            assert!(!said.contains("wrong,"), "no password printed: {said}");
        } else {
            assert_eq!(code, Some(0), "worker {i}: {said}");
        }
        if killed.contains(&i) {
            // The restarted worker began from the progress restored: the
            // folders saved before the kill were not copied again.
            assert!(said.contains("already there"), "{said}");
        }
    }
    for i in 0..9 {
        for folder in FOLDERS {
            assert_eq!(
                content(&dst.fetch_all(&user(i), folder)),
                content(&src.fetch_all(&user(i), folder)),
                "{} {folder}: exact, nothing twice",
                user(i)
            );
        }
    }
    assert!(dst.fetch_all(&user(9), "INBOX").is_empty());

    let report = report(&src, &dst, &list, &store, &["--json"], &[]);
    let said = common::text(&report.stdout);
    assert_eq!(report.status.code(), Some(1), "one mailbox failed: {said}");
    let lines: serde_json::Value = serde_json::from_str(&said).expect("JSON");
    let lines = lines.as_array().unwrap();
    assert_eq!(lines.len(), WORKERS);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["source"], user(i).as_str());
        if i == 9 {
            assert_eq!(line["standing"], "failed", "{line}");
            let why = line["why"].as_str().unwrap_or_default();
            assert!(why.to_lowercase().contains("password"), "{why}");
            assert_eq!(
                line["safe_to_switch"],
                serde_json::Value::Null,
                "never checked: {line}"
            );
        } else {
            assert_eq!(line["standing"], "done", "{line}");
            assert_eq!(line["at_destination"], (FOLDERS.len() * PER_FOLDER) as u64);
            // Each worker compared both servers after its copy.
            assert_eq!(line["safe_to_switch"], true, "{line}");
        }
    }
}

/// A second worker for the same mailbox (a stale pod still running while
/// its replacement saved newer progress) may not overwrite that progress:
/// its next save is refused, and it stops with the temporary code.
#[test]
fn a_stale_workers_upload_is_refused_and_it_stops() {
    let (src, dst) = (server(), server());
    for folder in FOLDERS {
        src.append(&user(0), folder, &mails(&user(0), folder));
    }
    let work = tempfile::tempdir().unwrap();
    let store_dir = work.path().join("store");
    let store = format!("file://{}", store_dir.display());
    let list = work.path().join("list.csv");
    std::fs::write(&list, format!("{0},{0},{1}\n", user(0), password(0))).unwrap();
    let batch = Batch {
        src: &src,
        dst: &dst,
        list: &list,
        store: &store,
        work: work.path(),
    };
    let child = batch.worker(0, 0, &["--maxmessagespersecond", "8"]);
    let object = stored(&store_dir, &src, &dst, 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !object.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    // Another worker saves its own progress meanwhile.
    let newer = b"another worker's progress".to_vec();
    std::fs::write(&object, &newer).unwrap();
    let (code, said) = finish(child);
    assert_eq!(code, Some(i32::from(TEMPORARY)), "{said}");
    assert!(
        said.contains("another worker saved newer progress"),
        "{said}"
    );
    assert_eq!(
        std::fs::read(&object).unwrap(),
        newer,
        "the newer progress is still there"
    );
}

/// The store's own promise, without servers: the first save creates, a
/// save from the copy seen updates, a save from an older copy (or from
/// none, once there is one) is refused.
async fn puts_only_over_the_copy_seen(store: &StateStore, dir: &Path) {
    let local_a = dir.join("a/p.db");
    let local_b = dir.join("b/p.db");
    std::fs::create_dir_all(local_a.parent().unwrap()).unwrap();
    let st = mailferry::state::State::open(&local_a, 1).unwrap();
    drop(st);

    let mut seen_a = store.restore("p.db", &local_a).await.unwrap();
    assert_eq!(seen_a, None, "nothing stored yet");
    store.save("p.db", &local_a, &mut seen_a).await.unwrap();
    let mut seen_b = store.restore("p.db", &local_b).await.unwrap();
    assert_eq!(seen_b, seen_a, "b starts from a's copy");
    let mut st = mailferry::state::State::open(&local_b, 2).unwrap();
    st.start_run(false, 3).unwrap();
    drop(st);
    store.save("p.db", &local_b, &mut seen_b).await.unwrap();
    assert_ne!(seen_b, seen_a);

    let refused = store.save("p.db", &local_a, &mut seen_a).await;
    assert!(
        matches!(refused, Err(StoreError::Newer { .. })),
        "{refused:?}"
    );
    let mut none = None;
    let refused = store.save("p.db", &local_a, &mut none).await;
    assert!(
        matches!(refused, Err(StoreError::Newer { .. })),
        "{refused:?}"
    );
    // b's copy is what is stored.
    let local_c = dir.join("c/p.db");
    store.restore("p.db", &local_c).await.unwrap();
    let st = mailferry::state::State::open_read_only(&local_c)
        .unwrap()
        .unwrap();
    assert_eq!(st.runs().unwrap().len(), 1);
}

#[tokio::test]
async fn the_file_store_puts_only_over_the_copy_seen() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        StateStore::open(&format!("file://{}", dir.path().join("store").display())).unwrap();
    puts_only_over_the_copy_seen(&store, dir.path()).await;
}

/// A store server's program: the one the variable `env` names (it must
/// exist: `./dev test` installs it and sets the variable), else `name` on
/// the PATH, else `None`, said on stderr (no `what` here).
fn test_program(env: &str, name: &str, what: &str) -> Option<PathBuf> {
    if let Ok(path) = std::env::var(env) {
        assert!(Path::new(&path).exists(), "{env}={path} does not exist");
        return Some(PathBuf::from(path));
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.exists())
    });
    if found.is_none() {
        eprintln!(
            "SKIPPED: no {what} here ({name} not on the PATH and {env} unset; \
             `./dev test` installs it)"
        );
    }
    found
}

/// An S3-compatible server on 127.0.0.1 (moto's server mode, from PyPI):
/// `MAILFERRY_MOTO_SERVER` names its program (`./dev test` installs it and
/// sets it), else `moto_server` on the PATH. Stopped when dropped.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    /// The server with `bucket` made, or `None` (said on stderr) when moto
    /// is not installed here and no one asked for it.
    fn start(bucket: &str) -> Option<Moto> {
        let program = test_program(
            "MAILFERRY_MOTO_SERVER",
            "moto_server",
            "an S3-compatible server",
        )?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        loop {
            match agent
                .put(&format!("{}/{bucket}", moto.endpoint))
                .send_empty()
            {
                Ok(r) if r.status().is_success() => return Some(moto),
                Ok(r) => panic!("moto refused to make the bucket: {}", r.status()),
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Err(e) => panic!("moto_server did not start: {e}"),
            }
        }
    }

    /// The variables a worker reads to reach it.
    fn env(&self) -> [(&'static str, &str); 4] {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One worker saving its progress to the object store `scheme://progress`
/// and the report reading it back from there (with `env`, the store's
/// variables).
fn a_worker_saves_there_and_the_report_reads_it(scheme: &str, env: &[(&str, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (server(), server());
    src.append(&user(1), "INBOX", &mails(&user(1), "INBOX"));
    let list = dir.path().join("list.csv");
    std::fs::write(&list, format!("{0},{0},{1}\n", user(1), password(1))).unwrap();
    let url = format!("{scheme}://progress/run");
    let batch = Batch {
        src: &src,
        dst: &dst,
        list: &list,
        store: &url,
        work: dir.path(),
    };
    let (code, said) = finish(batch.worker(0, 0, &[]));
    assert_eq!(code, Some(0), "{said}");
    let report = report(&src, &dst, &list, &url, &[], env);
    let said = common::text(&report.stdout) + &common::text(&report.stderr);
    assert_eq!(report.status.code(), Some(0), "{said}");
    assert!(
        said.contains(&format!(
            "{0} -> {0}: done, {PER_FOLDER} messages at the new mailbox, safe to switch",
            user(1)
        )),
        "{said}"
    );
}

/// The store's promise at `scheme://progress/jobs`, then a worker and the
/// report through `scheme://progress/run`, with the store's variables
/// `env` set in this process (only the test of that store reads them).
async fn store_promise_then_a_worker(scheme: &str, env: &[(&str, &str)]) {
    for (name, value) in env {
        std::env::set_var(name, value);
    }
    let dir = tempfile::tempdir().unwrap();
    let store = StateStore::open(&format!("{scheme}://progress/jobs")).unwrap();
    puts_only_over_the_copy_seen(&store, dir.path()).await;
    a_worker_saves_there_and_the_report_reads_it(scheme, env);
}

/// The same promise from an S3-compatible server (ETag conditions:
/// `If-None-Match: *` for the first save, `If-Match` after); then one
/// worker saving there and the report reading it back.
#[tokio::test]
async fn the_s3_store_puts_only_over_the_copy_seen_and_a_worker_uses_it() {
    let Some(moto) = Moto::start("progress") else {
        return;
    };
    store_promise_then_a_worker("s3", &moto.env()).await;
}

/// Azure Blob Storage's emulator on 127.0.0.1 (Azurite, from npm):
/// `MAILFERRY_AZURITE` names its `azurite-blob` program (`./dev test`
/// installs it and sets it), else `azurite-blob` on the PATH. Stopped
/// when dropped.
struct Azurite {
    child: Child,
    endpoint: String,
    _dir: tempfile::TempDir,
}

/// Azurite's built-in account and its published key (the same in every
/// copy of the emulator).
const AZURITE_ACCOUNT: &str = "devstoreaccount1";
const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

impl Azurite {
    /// The emulator with `container` made, or `None` (said on stderr)
    /// when Azurite is not installed here and no one asked for it.
    fn start(container: &str) -> Option<Azurite> {
        let program = test_program(
            "MAILFERRY_AZURITE",
            "azurite-blob",
            "an Azure Blob emulator",
        )?;
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(program)
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .args(["--silent", "--disableTelemetry", "--skipApiVersionCheck"])
            .arg("--location")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start azurite-blob");
        let azurite = Azurite {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match azurite.make_container(container) {
                Ok(201) => return Some(azurite),
                Ok(status) => panic!("Azurite refused to make the container: {status}"),
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(200))
                }
                Err(e) => panic!("azurite-blob did not start: {e}"),
            }
        }
    }

    /// `PUT ?restype=container`, signed with the account's key (Shared
    /// Key, as Azure's REST reference describes it); the answer's status.
    fn make_container(&self, name: &str) -> Result<u16, ureq::Error> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let date = chrono::Utc::now()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let version = "2021-08-06";
        let to_sign = format!(
            "PUT\n{}x-ms-date:{date}\nx-ms-version:{version}\n\
             /{AZURITE_ACCOUNT}/{AZURITE_ACCOUNT}/{name}\nrestype:container",
            "\n".repeat(11)
        );
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &b64.decode(AZURITE_KEY).unwrap());
        let signature = b64.encode(ring::hmac::sign(&key, to_sign.as_bytes()));
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let answer = agent
            .put(&format!(
                "{}/{AZURITE_ACCOUNT}/{name}?restype=container",
                self.endpoint
            ))
            .header("x-ms-date", &date)
            .header("x-ms-version", version)
            .header(
                "Authorization",
                &format!("SharedKey {AZURITE_ACCOUNT}:{signature}"),
            )
            .send_empty()?;
        Ok(answer.status().as_u16())
    }

    /// The variables a worker reads to reach it.
    fn env(&self) -> [(&'static str, &str); 2] {
        [
            ("AZURE_STORAGE_USE_EMULATOR", "true"),
            ("AZURITE_BLOB_STORAGE_URL", self.endpoint.as_str()),
        ]
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The same promise from Azure Blob Storage (its emulator: `If-None-Match:
/// *` for the first save, `If-Match` on the ETag after), and a worker and
/// the report through it.
#[tokio::test]
async fn the_azure_store_puts_only_over_the_copy_seen_and_a_worker_uses_it() {
    let Some(azurite) = Azurite::start("progress") else {
        return;
    };
    store_promise_then_a_worker("az", &azurite.env()).await;
}

/// `mailferry export --mailboxes FILE --row N|env:NAME`: one worker per
/// row, the row's mailbox kept as files in DIR/<its address>, with the
/// batch exit codes: done (0), a wrong password (77, at once), a row past
/// the end (0, nothing to do); a worker started again on another machine
/// (a fresh data folder: no progress file) writes nothing twice.
#[test]
fn export_one_row_per_worker_keeps_each_mailbox_as_files() {
    let src = server();
    for i in 0..2 {
        for folder in FOLDERS {
            if folder != "INBOX" {
                src.create_mailbox(&user(i), folder);
            }
            src.append(&user(i), folder, &mails(&user(i), folder));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("list.csv");
    std::fs::write(
        &list,
        format!(
            "{0},{0},{1}\n{2},{2},{3}\n{4},{4},wrong\n",
            user(0),
            password(0),
            user(1),
            password(1),
            user(2)
        ),
    )
    .unwrap();
    let archives = dir.path().join("archives");
    let worker = |index: usize, pod: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_mailferry"))
            .args(["export", "--host1", "127.0.0.1", "--port1"])
            .arg(src.plain_port().to_string())
            .args(["--plain1", "--format", "maildir", "--mailboxes"])
            .arg(&list)
            .args(["--row", "env:JOB_COMPLETION_INDEX", "--to"])
            .arg(&archives)
            .env("JOB_COMPLETION_INDEX", index.to_string())
            .env("MAILFERRY_DATA_DIR", dir.path().join(pod))
            .env_remove("MAILFERRY_PASSWORD1")
            .env_remove("MAILFERRY_CRASH_AT")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code(),
            common::text(&out.stdout) + &common::text(&out.stderr),
        )
    };
    let files = |mailbox: &str| -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![archives.join(mailbox)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.file_name().is_some_and(|n| n == ".mailferry") {
                    continue;
                }
                if p.is_dir() {
                    stack.push(p);
                } else if d != archives.join(mailbox) {
                    // (the archive's manifest sits at its top)
                    out.push(p);
                }
            }
        }
        out.sort();
        out
    };
    let all = FOLDERS.len() * PER_FOLDER;
    for i in 0..2 {
        let (code, said) = worker(i, &format!("pod-{i}"));
        assert_eq!(code, Some(0), "{said}");
        assert!(
            said.contains(&format!("{all} messages written, 0 already")),
            "{said}"
        );
        assert_eq!(files(&user(i)).len(), all, "{said}");
        assert!(
            !archives.join(user(i)).join(".mailferry/export.db").exists(),
            "the progress file stays on the worker's disk"
        );
    }
    let (code, said) = worker(2, "pod-2");
    assert_eq!(
        code,
        Some(i32::from(PERMANENT)),
        "a wrong password is permanent: {said}"
    );
    assert!(!said.contains("wrong"), "no password printed: {said}");
    let (code, said) = worker(7, "pod-7");
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("nothing to do"), "{said}");

    let before = files(&user(0));
    let (code, said) = worker(0, "pod-0-elsewhere");
    assert_eq!(code, Some(0), "{said}");
    assert!(
        said.contains(&format!("0 messages written, {all} already")),
        "{said}"
    );
    assert_eq!(files(&user(0)), before, "nothing written twice");
}

/// The same promise from Google Cloud Storage (a server of the harness
/// answering its XML API: `x-goog-if-generation-match: 0` for the first
/// save, the generation seen after, `412` when it no longer holds), signed
/// in with a service account's key file; then a worker and the report
/// through it, signed in as the machine's own account (the metadata
/// server's token, as on GKE).
#[tokio::test]
async fn the_gcs_store_puts_only_over_the_copy_seen_and_a_worker_uses_it() {
    let Some(gcs) = GcsServer::start("progress") else {
        eprintln!("SKIPPED: openssl cannot make the test's service account key here");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("service-account.json");
    std::fs::write(&key_file, gcs.service_account_json()).unwrap();
    // Only this test reads these variables.
    std::env::set_var("GOOGLE_BASE_URL", gcs.base_url());
    std::env::set_var("GOOGLE_APPLICATION_CREDENTIALS", &key_file);
    let store = StateStore::open("gs://progress/jobs").unwrap();
    puts_only_over_the_copy_seen(&store, dir.path()).await;

    let puts: Vec<_> = gcs
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.object == "jobs/p.db")
        .collect();
    let conditions: Vec<_> = puts
        .iter()
        .map(|r| (r.header("x-goog-if-generation-match"), r.status))
        .collect();
    assert_eq!(conditions.len(), 4, "{conditions:?}");
    assert_eq!(conditions[0], (Some("0"), 200), "the first save creates");
    assert_eq!(
        conditions[2].1, 412,
        "a's stale save is refused: {conditions:?}"
    );
    assert_eq!(
        conditions[1].0, conditions[2].0,
        "b saved over a's copy, a tried the same one again: {conditions:?}"
    );
    assert_eq!(
        conditions[3],
        (Some("0"), 412),
        "a save from no copy, refused"
    );
    let (_, generation) = gcs.object("progress", "jobs/p.db").unwrap();
    assert_ne!(
        conditions[1].0,
        Some(generation.to_string().as_str()),
        "b's save made a new generation"
    );
    assert!(
        gcs.requests()
            .iter()
            .all(|r| r.signed_in == SignedIn::ServiceAccount),
        "every request signed with the service account's key"
    );

    std::env::remove_var("GOOGLE_APPLICATION_CREDENTIALS");
    std::env::set_var("GCE_METADATA_HOST", gcs.metadata_host());
    let before = gcs.requests().len();
    let env = [
        ("GOOGLE_BASE_URL", gcs.base_url()),
        ("GCE_METADATA_HOST", gcs.metadata_host()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    a_worker_saves_there_and_the_report_reads_it("gs", &env);
    let worker = &gcs.requests()[before..];
    assert!(
        worker
            .iter()
            .any(|r| r.target.starts_with("/computeMetadata/")),
        "the worker asked the metadata server for a token"
    );
    let saves: Vec<_> = worker
        .iter()
        .filter(|r| r.method == "PUT" && r.object.ends_with(".db"))
        .collect();
    assert!(!saves.is_empty());
    assert!(
        saves.iter().all(|r| r.signed_in == SignedIn::Metadata
            && r.status == 200
            && r.header("x-goog-if-generation-match").is_some()),
        "{saves:?}"
    );
}

/// A snapshot taken while another connection writes is a whole database:
/// it passes SQLite's integrity check and holds a prefix of the writes.
#[test]
fn a_snapshot_taken_while_the_copy_writes_is_a_valid_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.db");
    let mut st = mailferry::state::State::open(&path, 1).unwrap();
    let writer = std::thread::spawn(move || {
        for i in 0..400 {
            st.start_run(false, i).unwrap();
        }
    });
    let mut seen = Vec::new();
    let mut n = 0;
    while !writer.is_finished() || n == 0 {
        let copy = dir.path().join(format!("snap-{n}.db"));
        mailferry::state::snapshot(&path, &copy).unwrap();
        let snap = mailferry::state::State::open_read_only(&copy)
            .expect("a valid database")
            .expect("not empty");
        seen.push(snap.runs().unwrap().len());
        n += 1;
    }
    writer.join().unwrap();
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "each snapshot holds at least the runs of the one before: {seen:?}"
    );
}

/// The Indexed Job in deploy/kubernetes carries the batch contract: one
/// index per row read from JOB_COMPLETION_INDEX, a retry budget per index,
/// no retry on the permanent code, never two pods for one mailbox, the
/// share matching the parallelism, the list and secrets as files, a
/// non-root pod; and the Containerfile's image runs as a non-root user.
#[test]
fn the_kubernetes_job_and_the_containerfile_carry_the_batch_contract() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("deploy/kubernetes/job.yaml")).unwrap();
    let job: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    assert_eq!(job["apiVersion"].as_str(), Some("batch/v1"));
    assert_eq!(job["kind"].as_str(), Some("Job"));
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"].as_str(), Some("Indexed"));
    assert!(spec["backoffLimitPerIndex"].as_u64().is_some_and(|n| n > 0));
    assert_eq!(spec["podReplacementPolicy"].as_str(), Some("Failed"));
    let rules = spec["podFailurePolicy"]["rules"].as_sequence().unwrap();
    let fail_index = rules
        .iter()
        .find(|r| r["action"].as_str() == Some("FailIndex"))
        .expect("a FailIndex rule");
    assert_eq!(fail_index["onExitCodes"]["operator"].as_str(), Some("In"));
    let codes: Vec<u64> = fail_index["onExitCodes"]["values"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(codes, [u64::from(PERMANENT)], "the permanent code only");
    assert!(!codes.contains(&u64::from(TEMPORARY)), "75 must be retried");

    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"].as_str(), Some("Never"));
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    let container = &pod["containers"][0];
    assert_eq!(
        fail_index["onExitCodes"]["containerName"].as_str(),
        container["name"].as_str()
    );
    let args: Vec<&str> = container["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let after = |flag: &str| {
        args.iter()
            .position(|a| *a == flag)
            .and_then(|i| args.get(i + 1))
            .copied()
            .unwrap_or_else(|| panic!("{flag} in {args:?}"))
    };
    assert_eq!(args[0], "sync");
    assert_eq!(after("--row"), "env:JOB_COMPLETION_INDEX");
    assert!(after("--state-store").starts_with("file:///"));
    let share: mailferry::batch::Share = after("--share").parse().unwrap();
    assert_eq!(
        u64::from(share.of),
        spec["parallelism"].as_u64().unwrap(),
        "each worker takes its share of the parallelism"
    );
    // No password in an argument; the list and secrets are files.
    assert!(!args
        .iter()
        .any(|a| a.contains("pass") && !a.starts_with("--passfile")));
    let list = after("--mailboxes");
    let mounts = container["volumeMounts"].as_sequence().unwrap();
    let volumes = pod["volumes"].as_sequence().unwrap();
    let list_mount = mounts
        .iter()
        .find(|m| list.starts_with(m["mountPath"].as_str().unwrap()))
        .expect("the list is mounted");
    let list_volume = volumes
        .iter()
        .find(|v| v["name"] == list_mount["name"])
        .unwrap();
    assert!(
        list_volume["secret"]["secretName"].as_str().is_some(),
        "the list is a Secret"
    );
    let env = container["env"].as_sequence().unwrap();
    assert!(env
        .iter()
        .any(|e| e["name"].as_str() == Some("MAILFERRY_DATA_DIR")));

    let containerfile = std::fs::read_to_string(root.join("deploy/Containerfile")).unwrap();
    let last_stage = containerfile
        .rsplit_once("\nFROM ")
        .map(|(_, s)| s)
        .unwrap();
    let user = last_stage
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("the image names its user");
    let uid: u32 = user
        .split(':')
        .next()
        .unwrap()
        .parse()
        .expect("a numeric user");
    assert_ne!(uid, 0, "not root");
    assert_eq!(
        Some(uid),
        pod["securityContext"]["runAsUser"]
            .as_u64()
            .map(|u| u as u32),
        "the pod runs as the image's user"
    );
    assert!(last_stage.contains("ENTRYPOINT [\"/usr/local/bin/mailferry\"]"));
}

/// The Containerfile's Rust can build every dependency the command line
/// has in Cargo.lock (the image builds only `mailferry`): a dependency
/// that needs a newer Rust would stop the release's image build, which
/// no builder here runs.
#[test]
fn the_containerfiles_rust_builds_every_locked_dependency_of_the_cli() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("deploy/Containerfile")).unwrap();
    let version = |s: &str| -> [u64; 3] {
        let mut v = [0; 3];
        for (slot, part) in v.iter_mut().zip(s.split('.')) {
            *slot = part.parse().unwrap_or(0);
        }
        v
    };
    let tag = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("FROM docker.io/library/rust:"))
        .and_then(|rest| rest.split(['-', ' ']).next())
        .expect("a FROM line with the rust image and its version");
    let toolchain = version(tag);
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .args(["--filter-platform", "x86_64-unknown-linux-gnu"])
        .current_dir(root)
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "{}", crate::common::text(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id_of_cli = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "mailferry")
        .and_then(|p| p["id"].as_str())
        .unwrap()
        .to_owned();
    // The CLI's build closure: normal and build dependencies, not dev ones.
    let nodes = meta["resolve"]["nodes"].as_array().unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let mut todo = vec![id_of_cli];
    while let Some(id) = todo.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        let node = nodes.iter().find(|n| n["id"] == id.as_str()).unwrap();
        for dep in node["deps"].as_array().unwrap() {
            let needed = dep["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"].is_null() || k["kind"] == "build");
            if needed {
                todo.push(dep["pkg"].as_str().unwrap().to_owned());
            }
        }
    }
    let too_new: Vec<String> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| seen.contains(p["id"].as_str().unwrap()))
        .filter_map(|p| {
            let needs = p["rust_version"].as_str()?;
            (version(needs) > toolchain)
                .then(|| format!("{} {} needs {needs}", p["name"], p["version"]))
        })
        .collect();
    assert!(
        too_new.is_empty(),
        "deploy/Containerfile builds with Rust {tag}, but: {too_new:?}"
    );
    assert!(seen.len() > 50, "the closure was walked: {}", seen.len());
}

/// `mailferry report` for the list `list` between `src` and `dst`, from
/// the store `store`, with `extra` flags and `env`.
fn report(
    src: &Dovecot,
    dst: &Dovecot,
    list: &Path,
    store: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    let (from, to) = (src.plain_port().to_string(), dst.plain_port().to_string());
    let mut args = vec![
        "report",
        "--host1",
        "127.0.0.1",
        "--port1",
        &from,
        "--plain1",
        "--host2",
        "127.0.0.1",
        "--port2",
        &to,
        "--plain2",
        "--mailboxes",
    ];
    args.push(list.to_str().unwrap());
    args.extend(["--state-store", store]);
    args.extend_from_slice(extra);
    common::mailferry(&args, env)
}
