//! Helpers shared by the engine's integration tests: one migration run as
//! the CLI does it, the CLI itself with plain connections to two harness
//! servers, and the comparison of two folders' messages.

use mailferry::check::{check, CheckReport};
use mailferry::endpoint::{Credentials, Endpoint, Security};
use mailferry::error::Problem;
use mailferry::event::Discard;
use mailferry::folder::Rules;
use mailferry::imap::Session;
use mailferry::job::{Job, ProgressFile};
use mailferry::run::{Options, Report};
use mailferry::verify::Audit;
use mailferry_harness::{Dovecot, Fetched, Layout, Message};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// The clock of library-level runs (2026-01-01).
pub const NOW: i64 = 1_767_225_600;

/// A Dovecot with this folder layout and no fsync (the tests kill
/// processes, never the machine).
pub fn dovecot(layout: Layout) -> Dovecot {
    Dovecot::builder().layout(layout).fsync(false).build()
}

/// A temporary folder for one job and its state file's path in it; the
/// folder goes when the first value is dropped.
pub fn state_file() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("job.db");
    (dir, state)
}

/// The default options with removals on (`--delete2`).
pub fn with_delete2() -> Options {
    Options {
        delete2: true,
        ..Options::default()
    }
}

/// Signs in as alice/alicepass over a plain connection.
pub async fn connect(addr: SocketAddr) -> Session {
    connect_with(addr, Duration::from_secs(60)).await
}

/// The same, with another timeout for every server reply.
pub async fn connect_with(addr: SocketAddr, timeout: Duration) -> Session {
    let mut e = Endpoint::new("127.0.0.1")
        .with_security(Security::Plain)
        .with_port(addr.port());
    e.timeout = timeout;
    Session::connect(&e, &Credentials::password("alice", "alicepass"))
        .await
        .expect("sign in")
}

/// One migration run, as the CLI does it: map folders, create them, copy.
pub async fn migrate(
    src: SocketAddr,
    dst: SocketAddr,
    state: &Path,
    options: &Options,
) -> Result<Report, mailferry::error::Error> {
    migrate_with(src, dst, state, options, Duration::from_secs(60)).await
}

/// [`migrate`] between two servers' plain ports; the run must succeed.
pub async fn copy(src: &Dovecot, dst: &Dovecot, state: &Path, options: &Options) -> Report {
    migrate(src.addr_plain(), dst.addr_plain(), state, options)
        .await
        .expect("the copy runs")
}

/// [`migrate`] with another timeout for every server reply.
pub async fn migrate_with(
    src: SocketAddr,
    dst: SocketAddr,
    state: &Path,
    options: &Options,
    timeout: Duration,
) -> Result<Report, mailferry::error::Error> {
    let source = connect_with(src, timeout).await;
    let dest = connect_with(dst, timeout).await;
    migrate_sessions(source, dest, state, options).await
}

/// [`migrate`] between two sessions already signed in (logged out after).
pub async fn migrate_sessions(
    source: Session,
    dest: Session,
    state: &Path,
    options: &Options,
) -> Result<Report, mailferry::error::Error> {
    let mut job = Job::open(source, dest, &Rules::default(), ProgressFile::at(state)).await?;
    let report = job.run(options, &|| NOW, &mut Discard).await;
    job.close().await;
    report
}

/// Runs the check with a hard ceiling, so a hang fails the test instead of
/// stalling the suite.
pub async fn check_within(endpoint: &Endpoint, credentials: &Credentials) -> CheckReport {
    tokio::time::timeout(Duration::from_secs(60), check(endpoint, credentials))
        .await
        .expect("the check must end by itself, never hang")
}

/// The problem a check ended on; the test fails if it passed.
#[track_caller]
pub fn problem(report: &CheckReport) -> &Problem {
    &report
        .failure
        .as_ref()
        .unwrap_or_else(|| panic!("expected a failure, got {report:#?}"))
        .problem
}

/// A job between two plain ports with the default folder rules, opened as
/// the CLI opens it.
pub async fn open_job(src: SocketAddr, dst: SocketAddr, state: &Path) -> Job {
    Job::open(
        connect(src).await,
        connect(dst).await,
        &Rules::default(),
        ProgressFile::at(state),
    )
    .await
    .unwrap()
}

/// The audit over a new job, as `mailferry verify` makes it.
pub async fn audit(src: SocketAddr, dst: SocketAddr, state: &Path) -> Audit {
    let mut job = open_job(src, dst, state).await;
    let audit = job.audit().await.unwrap();
    job.close().await;
    audit
}

/// A folder's messages as a comparable multiset: body, sorted flags, date.
pub fn content(messages: &[Fetched]) -> BTreeMap<(Vec<u8>, Vec<String>, String), usize> {
    let mut out = BTreeMap::new();
    for m in messages {
        let mut flags = m.flags.clone();
        flags.sort();
        *out.entry((m.body.clone(), flags, m.internal_date.clone()))
            .or_default() += 1;
    }
    out
}

/// `folder` holds the same messages (body, flags, date) at both servers;
/// `why` says what that proves.
#[track_caller]
pub fn assert_folder_same(src: &Dovecot, dst: &Dovecot, folder: &str, why: &str) {
    assert_eq!(
        content(&dst.fetch_all("alice", folder)),
        content(&src.fetch_all("alice", folder)),
        "{folder}: {why}"
    );
}

/// A fetched message as a message to APPEND again, with its flags and date
/// (another tool copying it, or a folder being refilled).
pub fn again(m: &Fetched) -> Message {
    Message::new(m.body.clone())
        .flags(&m.flags.iter().map(String::as_str).collect::<Vec<_>>())
        .internal_date(&m.internal_date)
}

/// Runs the `mailferry` binary with no password in the environment but
/// those given.
pub fn mailferry(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mailferry"));
    cmd.args(args)
        .stdin(Stdio::null())
        .env_remove("MAILFERRY_PASSWORD1")
        .env_remove("MAILFERRY_PASSWORD2")
        .env_remove("MAILFERRY_CRASH_AT");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run mailferry")
}

/// [`mailferry`], which must exit 0 (else the test fails with its output).
#[track_caller]
pub fn mailferry_ok(args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = mailferry(args, env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    out
}

/// `mailferry check` of `user` on `server` (plain), signing in with
/// `sign_in` flags; the exit status and everything it printed.
pub fn check_as(
    server: &Dovecot,
    user: &str,
    sign_in: &[&str],
    env: &[(&str, &str)],
) -> (std::process::ExitStatus, String) {
    let port = server.plain_port().to_string();
    let mut args = vec![
        "check",
        "--host1",
        "127.0.0.1",
        "--port1",
        &port,
        "--plain1",
        "--user1",
        user,
    ];
    args.extend_from_slice(sign_in);
    let out = mailferry(&args, env);
    (out.status, text(&out.stdout) + &text(&out.stderr))
}

/// The flags for plain connections to `src` (side 1) and `dst` (side 2)
/// as alice, and the environment with both passwords.
pub fn both_sides(
    src: &Dovecot,
    dst: &Dovecot,
) -> (Vec<String>, [(&'static str, &'static str); 2]) {
    both_ports(src.plain_port(), dst.plain_port())
}

/// [`both_sides`] for servers on these ports (a proxy in front of one).
pub fn both_ports(src: u16, dst: u16) -> (Vec<String>, [(&'static str, &'static str); 2]) {
    let args = [
        "--host1",
        "127.0.0.1",
        "--port1",
        &src.to_string(),
        "--plain1",
        "--user1",
        "alice",
        "--host2",
        "127.0.0.1",
        "--port2",
        &dst.to_string(),
        "--plain2",
        "--user2",
        "alice",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    (
        args,
        [
            ("MAILFERRY_PASSWORD1", "alicepass"),
            ("MAILFERRY_PASSWORD2", "alicepass"),
        ],
    )
}

/// Runs `mailferry COMMAND <both sides> --state STATE EXTRA…`.
pub fn run_both(
    command: &str,
    src: &Dovecot,
    dst: &Dovecot,
    state: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let (sides, passwords) = both_sides(src, dst);
    let mut args: Vec<&str> = vec![command];
    args.extend(sides.iter().map(String::as_str));
    args.extend(["--state", state.to_str().expect("a UTF-8 temp path")]);
    args.extend_from_slice(extra);
    let mut all_env: Vec<(&str, &str)> = passwords.to_vec();
    all_env.extend_from_slice(env);
    mailferry(&args, &all_env)
}

/// [`run_both`] with no more environment, which must exit 0 (else the test
/// fails with its output).
#[track_caller]
pub fn run_both_ok(
    command: &str,
    src: &Dovecot,
    dst: &Dovecot,
    state: &Path,
    extra: &[&str],
) -> Output {
    let out = run_both(command, src, dst, state, extra, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    out
}

/// Output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
