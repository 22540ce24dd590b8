//! One real, throw-away Dovecot per test: its own temp dir, config, ports, users and TLS
//! certificates, stopped (only its own master PID) and deleted when dropped.

use std::fs;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::certs::TlsMaterial;
use crate::conf::{self, ConfInput, MAIL_GID, MAIL_UID};
use crate::imap::{collect_fetched, collect_list, quote, Fetched, ImapSession, Message};
use crate::layout::Layout;
use crate::mutf7::mutf7_encode;
use crate::{find_binary, free_port, is_root};

static INSTANCES: AtomicUsize = AtomicUsize::new(0);

/// How long a start may take before the harness gives up.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long Drop waits after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(3);
/// Start attempts (each with fresh ports) when another process grabbed a port first.
const START_ATTEMPTS: usize = 5;

/// Configures a [`Dovecot`] before starting it; from [`Dovecot::builder`].
#[derive(Debug, Clone)]
pub struct DovecotBuilder {
    layout: Layout,
    users: Vec<(String, String)>,
    refusals: Vec<(String, String)>,
    tls_names: Vec<String>,
    expired_certificate: bool,
    fsync: Option<bool>,
    quota_bytes: Option<u64>,
    compress: bool,
    oauth2_introspection: Option<String>,
}

impl Default for DovecotBuilder {
    fn default() -> Self {
        DovecotBuilder {
            layout: Layout::default(),
            users: vec![("alice".into(), "alicepass".into())],
            refusals: Vec::new(),
            tls_names: vec!["localhost".into(), "127.0.0.1".into()],
            expired_certificate: false,
            fsync: None,
            quota_bytes: None,
            compress: false,
            oauth2_introspection: None,
        }
    }
}

impl DovecotBuilder {
    /// The mailbox layout (default [`Layout::Courier`]).
    pub fn layout(mut self, layout: Layout) -> Self {
        self.layout = layout;
        self
    }

    /// Adds a user, or changes the password of one already configured (`alice` /
    /// `alicepass` is always there unless replaced this way). The password is stored
    /// hashed, so `:`, quotes, backslashes, spaces and non-ASCII are all fine; Dovecot
    /// itself refuses passwords containing NUL, `\x01`, TAB, CR or LF at login, so those
    /// panic here. The name must not contain `:`, `/`, whitespace or control characters.
    pub fn user(mut self, name: impl Into<String>, password: impl Into<String>) -> Self {
        let name = name.into();
        assert!(
            !name.is_empty()
                && !name.starts_with('.')
                && !name
                    .chars()
                    .any(|c| c == ':' || c == '/' || c.is_whitespace() || c.is_control()),
            "unusable user name {name:?}"
        );
        let password = password.into();
        assert!(
            !password.contains(['\0', '\x01', '\t', '\r', '\n']),
            "Dovecot rejects passwords containing NUL, \\x01, TAB, CR or LF \
             (\"Attempted login with password having illegal chars\"): {password:?}"
        );
        match self.users.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = password,
            None => self.users.push((name, password)),
        }
        self
    }

    /// Refuses every sign-in of `user` (even with the right password) with
    /// `reason` as the server's words, the way a provider that has turned
    /// password sign-in off answers (Dovecot's `nologin` with a reason).
    pub fn refuse_sign_in(mut self, user: &str, reason: &str) -> Self {
        assert!(
            !reason.contains(['\t', '\r', '\n', ':']),
            "a reason on one passwd-file line: {reason:?}"
        );
        self.refusals.push((user.to_owned(), reason.to_owned()));
        self
    }

    /// Host names and IP addresses the leaf certificate is valid for (default
    /// `localhost`, `127.0.0.1`). IP addresses become IP SANs, the rest DNS SANs.
    pub fn tls_names(mut self, names: &[&str]) -> Self {
        self.tls_names = names.iter().map(|n| n.to_string()).collect();
        self
    }

    /// `true` makes the leaf certificate one that expired (valid only in
    /// 2020), still issued by the instance's CA.
    pub fn expired_certificate(mut self, expired: bool) -> Self {
        self.expired_certificate = expired;
        self
    }

    /// `false` sets `mail_fsync = never` (fast bulk loads), `true` sets `always`; not
    /// calling it keeps Dovecot's default (`optimized`).
    pub fn fsync(mut self, fsync: bool) -> Self {
        self.fsync = Some(fsync);
        self
    }

    /// `Some(n)` enables the quota plugin with an `n`-byte limit per user, so APPEND
    /// answers `NO [OVERQUOTA]` once the mailbox is full.
    pub fn quota_bytes(mut self, bytes: Option<u64>) -> Self {
        self.quota_bytes = bytes;
        self
    }

    /// `true` loads `imap_zlib`, so the server offers `COMPRESS=DEFLATE` (off by default,
    /// as in a stock Dovecot).
    pub fn compress(mut self, compress: bool) -> Self {
        self.compress = compress;
        self
    }

    /// Also accepts OAuth2 access tokens (`AUTHENTICATE XOAUTH2` and `OAUTHBEARER`,
    /// advertised next to PLAIN and LOGIN), checked by Dovecot's `oauth2` passdb at this
    /// token-introspection URL (e.g. `http://127.0.0.1:PORT/introspect`, served by the
    /// test). Dovecot POSTs `token=…` (form-encoded) and signs in the `username` of an
    /// answer `{"active": true, "username": "carol"}`; anything else is refused with
    /// `[AUTHENTICATIONFAILED]`. The user must also be configured with
    /// [`DovecotBuilder::user`] (for its home); passwords keep working.
    pub fn oauth2_introspection(mut self, url: impl Into<String>) -> Self {
        self.oauth2_introspection = Some(url.into());
        self
    }

    /// Starts the instance; panics (with Dovecot's log) if it cannot.
    pub fn build(self) -> Dovecot {
        Dovecot::launch(self)
    }
}

/// A running Dovecot on 127.0.0.1. See the crate docs for an example.
#[derive(Debug)]
pub struct Dovecot {
    layout: Layout,
    users: Vec<(String, String)>,
    plain_port: u16,
    tls_port: u16,
    tls: TlsMaterial,
    conf_path: PathBuf,
    child: Child,
    master_pid: u32,
    // Last, so the directory outlives everything that points into it. `None` only
    // inside Drop.
    dir: Option<TempDir>,
}

impl Dovecot {
    /// Starts an instance with `layout` and the default user `alice` / `alicepass`.
    pub fn start(layout: Layout) -> Dovecot {
        Dovecot::builder().layout(layout).build()
    }

    /// A builder with the defaults of [`Dovecot::start`].
    pub fn builder() -> DovecotBuilder {
        DovecotBuilder::default()
    }

    fn launch(b: DovecotBuilder) -> Dovecot {
        let Some(bin) = find_binary("dovecot") else {
            panic!(
                "dovecot is not installed (no `dovecot` in PATH or /usr/sbin): \
                 apt-get install dovecot-imapd"
            );
        };
        assert!(
            is_root(),
            "the Dovecot harness must run as root (it chowns mail homes to uid 65534)"
        );

        let n = INSTANCES.fetch_add(1, Ordering::Relaxed);
        let instance_name = format!("mailferry-{}-{n}", std::process::id());
        // /tmp rather than $TMPDIR: uid 65534 must be able to reach the homes, and unix
        // socket paths under base_dir must stay short.
        let dir = tempfile::Builder::new()
            .prefix("mailferry-dovecot-")
            .tempdir_in("/tmp")
            .expect("create Dovecot temp dir");
        let root = dir.path().to_path_buf();
        set_mode(&root, 0o755);
        for sub in ["run", "state", "log", "home", "tls"] {
            fs::create_dir(root.join(sub)).expect("create Dovecot subdir");
            set_mode(&root.join(sub), 0o755);
        }

        let tls = TlsMaterial::generate(&b.tls_names, &instance_name, b.expired_certificate);
        fs::write(root.join("tls/leaf.pem"), &tls.leaf_pem).expect("write leaf.pem");
        fs::write(root.join("tls/leaf.key"), &tls.leaf_key_pem).expect("write leaf.key");
        set_mode(&root.join("tls/leaf.key"), 0o600);
        fs::write(root.join("tls/ca.pem"), &tls.ca_pem).expect("write ca.pem");

        fs::write(
            root.join("passwd"),
            conf::passwd_file(&root, &b.users, &b.refusals),
        )
        .expect("passwd");
        if let Some(url) = &b.oauth2_introspection {
            fs::write(root.join("oauth2.conf.ext"), conf::oauth2_conf(url)).expect("oauth2 conf");
            set_mode(&root.join("oauth2.conf.ext"), 0o644);
        }
        set_mode(&root.join("passwd"), 0o644);
        for (user, _) in &b.users {
            let home = root.join("home").join(user);
            fs::create_dir(&home).expect("create home");
            chown(&home, Some(MAIL_UID), Some(MAIL_GID)).expect("chown home to 65534");
            set_mode(&home, 0o700);
            // Dovecot creates auto mailboxes lazily; make the `[Gmail]` parent exist from
            // the start, so LIST shows it as `\Noselect \HasChildren` like Gmail does.
            for sub in b.layout.precreated_dirs() {
                let mut path = home.clone();
                for part in sub.split('/') {
                    path.push(part);
                    if !path.exists() {
                        fs::create_dir(&path).expect("create maildir dir");
                        chown(&path, Some(MAIL_UID), Some(MAIL_GID)).expect("chown maildir");
                        set_mode(&path, 0o700);
                    }
                }
            }
        }

        let conf_path = root.join("dovecot.conf");
        let log_path = root.join("log/dovecot.log");
        let stderr_path = root.join("log/stderr.log");
        for attempt in 1..=START_ATTEMPTS {
            let plain_port = free_port();
            let tls_port = loop {
                let p = free_port();
                if p != plain_port {
                    break p;
                }
            };
            let text = conf::dovecot_conf(&ConfInput {
                instance_name: &instance_name,
                dir: &root,
                layout: b.layout,
                plain_port,
                tls_port,
                fsync: b.fsync,
                quota_bytes: b.quota_bytes,
                compress: b.compress,
                oauth2_introspection: b.oauth2_introspection.as_deref(),
                refusals: b.refusals.len(),
            });
            fs::write(&conf_path, text).expect("write dovecot.conf");
            let _ = fs::remove_file(&log_path);
            let _ = fs::remove_file(root.join("run/master.pid"));
            let stderr = fs::File::create(&stderr_path).expect("create stderr log");
            let mut child = Command::new(&bin)
                .arg("-F")
                .arg("-c")
                .arg(&conf_path)
                // Dovecot passes TZ on (import_environment): INTERNALDATEs come back +0000.
                .env("TZ", "UTC")
                .envs(
                    b.refusals
                        .iter()
                        .enumerate()
                        .map(|(n, (_, reason))| (conf::refusal_var(n), reason)),
                )
                .stdin(Stdio::null())
                .stdout(stderr.try_clone().expect("dup stderr log"))
                .stderr(stderr)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));

            match wait_ready(&mut child, &root, plain_port, tls_port) {
                Ok(master_pid) => {
                    return Dovecot {
                        layout: b.layout,
                        users: b.users,
                        plain_port,
                        tls_port,
                        tls,
                        conf_path,
                        child,
                        master_pid,
                        dir: Some(dir),
                    };
                }
                Err(why) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let log = read_logs(&root);
                    if log.contains("Address already in use") && attempt < START_ATTEMPTS {
                        continue;
                    }
                    panic!(
                        "Dovecot ({}) did not start: {why}\n--- config {} ---\n{}\n--- log ---\n{log}",
                        instance_name,
                        conf_path.display(),
                        fs::read_to_string(&conf_path).unwrap_or_default()
                    );
                }
            }
        }
        unreachable!("the last attempt panics")
    }

    /// The layout this instance was configured with.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Plain IMAP port (STARTTLS offered, LOGIN allowed without TLS).
    pub fn plain_port(&self) -> u16 {
        self.plain_port
    }

    /// Implicit-TLS IMAP port.
    pub fn tls_port(&self) -> u16 {
        self.tls_port
    }

    /// `127.0.0.1:plain_port`.
    pub fn addr_plain(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.plain_port).into()
    }

    /// `127.0.0.1:tls_port`.
    pub fn addr_tls(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.tls_port).into()
    }

    /// The per-instance CA certificate (PEM) that signed the leaf. Dovecot does not send
    /// it: a client that does not trust it sees an unknown issuer.
    pub fn ca_pem(&self) -> &str {
        &self.tls.ca_pem
    }

    /// The leaf certificate Dovecot serves (PEM).
    pub fn leaf_pem(&self) -> &str {
        &self.tls.leaf_pem
    }

    /// Lowercase hex SHA-256 of the leaf certificate's DER, for pinning tests.
    pub fn leaf_sha256_hex(&self) -> String {
        self.tls.leaf_sha256_hex()
    }

    /// The instance's directory (config, logs, homes, certificates). Set
    /// `MAILFERRY_HARNESS_KEEP=1` to keep it after the instance is dropped.
    pub fn dir(&self) -> &Path {
        self.root()
    }

    fn root(&self) -> &Path {
        self.dir.as_ref().expect("instance directory").path()
    }

    /// The generated `dovecot.conf`.
    pub fn conf_path(&self) -> &Path {
        &self.conf_path
    }

    /// The master process's PID (from `run/master.pid`).
    pub fn master_pid(&self) -> u32 {
        self.master_pid
    }

    /// Dovecot's log so far (plus anything it printed to stderr).
    pub fn log(&self) -> String {
        read_logs(self.root())
    }

    /// Runs `doveadm -c <conf> <args…>`, e.g. `["mailbox", "delete", "-u", "alice", "X"]`.
    pub fn doveadm(&self, args: &[&str]) -> Output {
        let bin = find_binary("doveadm").expect("doveadm is not installed");
        Command::new(bin)
            .arg("-c")
            .arg(&self.conf_path)
            .args(args)
            .env("TZ", "UTC")
            .stdin(Stdio::null())
            .output()
            .expect("run doveadm")
    }

    /// The users and passwords configured.
    pub fn users(&self) -> &[(String, String)] {
        &self.users
    }

    /// The password configured for `user`; panics for an unknown user.
    pub fn password(&self, user: &str) -> &str {
        self.users
            .iter()
            .find(|(n, _)| n == user)
            .map(|(_, p)| p.as_str())
            .unwrap_or_else(|| panic!("user {user:?} is not configured on this Dovecot"))
    }

    /// A session on the plain port, logged in as `user`; panics on failure.
    pub fn session(&self, user: &str) -> ImapSession {
        let mut s = ImapSession::connect(self.addr_plain())
            .unwrap_or_else(|e| self.fail(&format!("connect to {}", self.addr_plain()), &e));
        let reply = s
            .login(user, self.password(user))
            .unwrap_or_else(|e| self.fail("LOGIN", &e));
        if !reply.is_ok() {
            self.fail("LOGIN", &reply.tagged);
        }
        s
    }

    /// CREATEs a mailbox (a UTF-8 name; the harness encodes it to modified UTF-7).
    pub fn create_mailbox(&self, user: &str, name: &str) {
        let mut s = self.session(user);
        let reply = s
            .command(&format!("CREATE {}", quote(&mutf7_encode(name))))
            .unwrap_or_else(|e| self.fail("CREATE", &e));
        if !reply.is_ok() {
            self.fail(&format!("CREATE {name:?}"), &reply.tagged);
        }
        s.logout();
    }

    /// APPENDs the messages to `mailbox` (UTF-8 name) over one connection and returns
    /// their UIDs in order; panics if any APPEND fails. Uses pipelined MULTIAPPEND
    /// batches with LITERAL+ (5,000 small messages take well under a second on an idle
    /// machine).
    pub fn append(&self, user: &str, mailbox: &str, messages: &[Message]) -> Vec<u32> {
        let mut s = self.session(user);
        let uids = match s.multiappend(&mutf7_encode(mailbox), messages) {
            Ok(Ok(uids)) => uids,
            Ok(Err(status)) => self.fail(&format!("APPEND to {mailbox:?}"), &status),
            Err(e) => self.fail(&format!("APPEND to {mailbox:?}"), &e),
        };
        s.logout();
        uids
    }

    /// Like [`Dovecot::append`], but one APPEND command per message (pipelined with
    /// LITERAL+) and each message's outcome reported: its UID, or the tagged status
    /// (e.g. `NO [OVERQUOTA] Quota exceeded …`).
    pub fn try_append(
        &self,
        user: &str,
        mailbox: &str,
        messages: &[Message],
    ) -> Vec<Result<u32, String>> {
        let mut s = self.session(user);
        // APPENDs to the selected mailbox reuse it; otherwise Dovecot opens and re-syncs
        // the maildir for every message (3x slower at 5,000). A failed SELECT (no such
        // mailbox) just lets each APPEND report it.
        let _ = s.command(&format!("SELECT {}", quote(&mutf7_encode(mailbox))));
        let results = s
            .append_pipelined(&mutf7_encode(mailbox), messages)
            .unwrap_or_else(|e| self.fail(&format!("APPEND to {mailbox:?}"), &e));
        s.logout();
        results
    }

    /// Every message in `mailbox` (UTF-8 name): UID, flags (without `\Recent`),
    /// INTERNALDATE and `BODY[]`, sorted by UID. Read-only (EXAMINE, BODY.PEEK).
    pub fn fetch_all(&self, user: &str, mailbox: &str) -> Vec<Fetched> {
        let mut s = self.session(user);
        let examine = s
            .command(&format!("EXAMINE {}", quote(&mutf7_encode(mailbox))))
            .unwrap_or_else(|e| self.fail("EXAMINE", &e));
        if !examine.is_ok() {
            self.fail(&format!("EXAMINE {mailbox:?}"), &examine.tagged);
        }
        let empty = examine
            .untagged_text()
            .iter()
            .any(|u| u.eq_ignore_ascii_case("* 0 EXISTS"));
        if empty {
            s.logout();
            return Vec::new();
        }
        let reply = s
            .command("UID FETCH 1:* (UID FLAGS INTERNALDATE BODY.PEEK[])")
            .unwrap_or_else(|e| self.fail("FETCH", &e));
        if !reply.is_ok() {
            self.fail(&format!("FETCH in {mailbox:?}"), &reply.tagged);
        }
        s.logout();
        collect_fetched(&reply.untagged)
    }

    /// The raw (modified UTF-7) names from `LIST "" "*"`, in the server's order.
    pub fn list(&self, user: &str) -> Vec<String> {
        let mut s = self.session(user);
        let reply = s
            .command("LIST \"\" \"*\"")
            .unwrap_or_else(|e| self.fail("LIST", &e));
        if !reply.is_ok() {
            self.fail("LIST", &reply.tagged);
        }
        s.logout();
        collect_list(&reply.untagged)
    }

    fn fail(&self, what: &str, why: &dyn std::fmt::Display) -> ! {
        panic!(
            "Dovecot on {}: {what} failed: {why}\n--- log ---\n{}",
            self.addr_plain(),
            self.log()
        )
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let pid = fs::read_to_string(self.root().join("run/master.pid"))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .unwrap_or(self.master_pid);
        // Dovecot's processes are all direct children of the master; note them now,
        // before a SIGKILL of the master would hand them to init.
        let children = children_of(pid);
        send_signal(pid, "TERM");
        let deadline = Instant::now() + STOP_GRACE;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
                _ => {
                    send_signal(pid, "KILL");
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
            }
        }
        // A child stuck in its own start-up can outlive the master (and keep the
        // listening sockets open): end those, checking each is still the same process.
        for (child, started) in children {
            if start_time(child) == Some(started) {
                send_signal(child, "KILL");
            }
        }
        if let Some(dir) = self.dir.take() {
            if std::env::var_os("MAILFERRY_HARNESS_KEEP").is_some() {
                eprintln!("mailferry-harness: keeping {}", dir.keep().display());
            }
        }
    }
}

/// Waits until the master wrote its PID and both listeners answer; returns the PID.
fn wait_ready(child: &mut Child, root: &Path, plain: u16, tls: u16) -> Result<u32, String> {
    let deadline = Instant::now() + START_TIMEOUT;
    let pid_file = root.join("run/master.pid");
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("dovecot exited with {status}"));
        }
        let pid = fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok());
        if let Some(pid) = pid {
            let greeted = ImapSession::connect(([127, 0, 0, 1], plain).into())
                .map(|s| s.greeting().starts_with("* OK"))
                .unwrap_or(false);
            let tls_up = std::net::TcpStream::connect(("127.0.0.1", tls)).is_ok();
            if greeted && tls_up {
                return Ok(pid);
            }
        }
        if Instant::now() > deadline {
            return Err(format!("not ready after {START_TIMEOUT:?}"));
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// `(pid, start time)` of every process whose parent is `parent`.
fn children_of(parent: u32) -> Vec<(u32, u64)> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let (ppid, started) = stat_fields(pid)?;
            (ppid == parent).then_some((pid, started))
        })
        .collect()
}

/// The start time (in clock ticks since boot) of `pid`, to recognise PID reuse.
fn start_time(pid: u32) -> Option<u64> {
    stat_fields(pid).map(|(_, started)| started)
}

/// Parent PID and start time from `/proc/<pid>/stat`.
fn stat_fields(pid: u32) -> Option<(u32, u64)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // rest[0] is field 3 (state): ppid is field 4, starttime field 22.
    Some((fields.get(1)?.parse().ok()?, fields.get(19)?.parse().ok()?))
}

fn read_logs(root: &Path) -> String {
    let mut out = fs::read_to_string(root.join("log/dovecot.log")).unwrap_or_default();
    let stderr = fs::read_to_string(root.join("log/stderr.log")).unwrap_or_default();
    if !stderr.trim().is_empty() {
        out.push_str("--- stderr ---\n");
        out.push_str(&stderr);
    }
    out
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// Sends `SIG<sig>` to exactly one PID, via the `kill` program (the workspace forbids
/// unsafe code, so no libc::kill).
fn send_signal(pid: u32, sig: &str) {
    if pid <= 1 {
        return;
    }
    let kill = find_binary("kill").unwrap_or_else(|| PathBuf::from("kill"));
    let _ = Command::new(kill)
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}
