//! A whole domain's copy, owned by the shell: the first mailbox pair and
//! every listed one, several mailboxes at once within each server's
//! connection cap (the engine's [`migrate_all_with`]), so a reloaded or
//! reopened window finds it running and watches it again.
//!
//! Each mailbox is still a [`Run`] of the registry, with its own id and
//! [`RunView`] (the copy and check screens, `verify` and the report work
//! per mailbox); the engine's events for mailbox `i` go to run `i`'s view.
//! The domain's own [`DomainView`] (which mailboxes, each one's state,
//! which one the copy screen shows) is rebuilt from them on every change
//! and sent to watchers coalesced, like a run's.
//!
//! The copy runs on a thread of its own with its own runtime (the engine's
//! future holds `&mut dyn EventSink`s, so it stays on one thread). Pause
//! and cancel, of the domain or of any of its mailboxes, stop every
//! mailbox the same safe way as a single run (see [`crate::runs`]): the
//! engine's `Cancel`, checked between batches, then a drop after 15 s;
//! mailboxes still waiting for their turn sign in nowhere. Resume copies
//! again every mailbox that has not finished, each from its progress file.

use crate::accounts::{Account, AccountHandle};
use crate::commands::folder_map::FolderEdits;
use crate::commands::servers::Server;
use crate::error::{IpcError, IpcResult};
use crate::notify::{tell, Notifier};
use crate::runs::{Run, RunId, RunState, RunView};
use mailferry::domain::{migrate_all_with, Domain, Each, Mailbox, Outcome};
use mailferry::endpoint::Endpoint;
use mailferry::event::{Event, EventSink};
use mailferry::folder::{FolderTree, Rules};
use mailferry::run::{Cancel, Options};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};
use ts_rs::TS;

/// Mailboxes copied at the same time by the app (each within the
/// providers' connection caps, which usually bind first).
pub const AT_ONCE: usize = 2;

/// A domain run's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
pub struct DomainId(pub u32);

/// What one stage of the staged plan copies; the same for every mailbox
/// of the domain (the folder edits the user made on the first mailbox's
/// map apply to every mailbox, as the plan shows one map).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CopyStage {
    /// The folder map's edits.
    pub edits: FolderEdits,
    /// Leave messages larger than this (bytes) for the large-message pass.
    #[ts(type = "number | null")]
    pub skip_larger_than: Option<u64>,
    /// The domain's mail now arrives at the destination: every mailbox's
    /// job records it and only adds from then on.
    pub after_switch: bool,
    /// The window's own name for the stage, given back when it re-attaches.
    pub label: Option<String>,
}

/// One mailbox pair of a domain, as the window sends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PairHandles {
    /// The old mailbox.
    pub source: AccountHandle,
    /// The new mailbox.
    pub destination: AccountHandle,
}

/// One mailbox in the domain's view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct DomainMailbox {
    /// The user at the old server.
    pub source_user: String,
    /// The user at the new server.
    pub destination_user: String,
    /// Its accounts (for a window that re-attaches).
    pub source: AccountHandle,
    /// See `source`.
    pub destination: AccountHandle,
    /// Its run (progress, pause, verify, report).
    pub run: RunId,
    /// Where its copy is.
    pub state: RunState,
    /// Messages to copy in this run, as far as scanned.
    #[ts(type = "number")]
    pub to_copy: u64,
    /// Copied so far in this run.
    #[ts(type = "number")]
    pub copied: u64,
}

/// Everything the window shows of a domain's copy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct DomainView {
    /// The domain run.
    pub id: DomainId,
    /// Copying while any mailbox is copying or waiting; then finished when
    /// every mailbox finished, else failed, cancelled or paused (the first
    /// that applies).
    pub state: RunState,
    /// The first pair first, then the list's, in order.
    pub mailboxes: Vec<DomainMailbox>,
    /// The mailbox the copy screen shows (index into `mailboxes`): the
    /// first one copying, else the first waiting, else the first not
    /// finished, else the first.
    pub current: u32,
    /// That mailbox's run view.
    pub current_view: RunView,
    /// Mailboxes copied at once.
    pub at_once: u32,
    /// The stage being copied.
    pub stage: CopyStage,
    /// The old server.
    pub source: Server,
    /// The new server.
    pub destination: Server,
    /// While copying: that the computer is kept awake, or that it could
    /// not be and what to do.
    pub awake: Option<String>,
}

/// One mailbox pair, signed in, with its progress file.
pub struct Pair {
    /// Its handles, as the window knows them.
    pub handles: PairHandles,
    /// The old mailbox.
    pub source: Account,
    /// The new mailbox.
    pub destination: Account,
    /// The job's progress file.
    pub state_path: std::path::PathBuf,
}

/// How hard the domain may use the servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections to the old server, all mailboxes together.
    pub source_connections: usize,
    /// Connections to the new server, all mailboxes together.
    pub dest_connections: usize,
    /// Mailboxes copied at the same time.
    pub at_once: usize,
}

impl Limits {
    /// The providers' caps (the presets' `max_connections`, as the CLI's
    /// `sync --mailboxes` takes them) and [`AT_ONCE`].
    pub fn for_servers(source: &Endpoint, dest: &Endpoint) -> Limits {
        let cap = |host: &str| (mailferry::preset::for_host(host).max_connections as usize).max(1);
        Limits {
            source_connections: cap(&source.host),
            dest_connections: cap(&dest.host),
            at_once: AT_ONCE,
        }
    }
}

/// A domain's copy and its controls.
pub struct DomainRun {
    /// Its id.
    pub id: DomainId,
    /// One run per mailbox pair, in order.
    pub members: Vec<Arc<Run>>,
    handles: Vec<PairHandles>,
    stage: CopyStage,
    limits: Limits,
    source: Endpoint,
    dest: Endpoint,
    /// The view, for watchers.
    pub view: watch::Sender<DomainView>,
    running: AtomicBool,
    cancel: Mutex<Cancel>,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    worker: Mutex<Option<std::thread::JoinHandle<()>>>,
    notifier: Option<Arc<dyn Notifier>>,
    /// What keeps the computer awake while it copies (and its watch runs).
    pub(crate) awake: Option<Arc<crate::awake::Awake>>,
}

fn server_of(endpoint: &Endpoint) -> Server {
    Server {
        host: endpoint.host.clone(),
        port: endpoint.port,
        security: endpoint.security,
        trusted_fingerprint: endpoint.pinned_certificate.map(|f| f.to_colon_hex()),
    }
}

impl DomainRun {
    /// A domain of `members` (runs already registered, one per pair of
    /// `handles`), not started. Every pair must be on the same two servers.
    pub(crate) fn new(
        id: DomainId,
        members: Vec<Arc<Run>>,
        handles: Vec<PairHandles>,
        stage: CopyStage,
        limits: Limits,
        notifier: Option<Arc<dyn Notifier>>,
        awake: Option<Arc<crate::awake::Awake>>,
    ) -> IpcResult<DomainRun> {
        let first = members
            .first()
            .cloned()
            .ok_or_else(|| IpcError::invalid("There is no mailbox to copy."))?;
        let (source, dest) = (first.source.endpoint.clone(), first.dest.endpoint.clone());
        if members
            .iter()
            .any(|m| m.source.endpoint != source || m.dest.endpoint != dest)
        {
            return Err(IpcError::invalid(
                "Every mailbox of one copy must be on the same two servers.",
            ));
        }
        for member in &members {
            *member.rules.lock().unwrap_or_else(|e| e.into_inner()) =
                stage.edits.clone().into_rules()?;
            *member
                .skip_larger_than
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = stage.skip_larger_than;
            *member
                .after_switch
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = stage.after_switch;
        }
        let mut domain = DomainRun {
            id,
            members,
            handles,
            stage,
            limits,
            source,
            dest,
            view: watch::Sender::new(DomainView {
                id,
                state: RunState::Waiting,
                mailboxes: Vec::new(),
                current: 0,
                current_view: first.view.borrow().clone(),
                at_once: limits.at_once as u32,
                stage: CopyStage::default(),
                source: server_of(&first.source.endpoint),
                destination: server_of(&first.dest.endpoint),
                awake: None,
            }),
            running: AtomicBool::new(false),
            cancel: Mutex::new(Cancel::new()),
            stop: Mutex::new(None),
            worker: Mutex::new(None),
            notifier,
            awake,
        };
        domain.view = watch::Sender::new(domain.compute());
        Ok(domain)
    }

    /// Whether it holds this run.
    pub fn has(&self, run: RunId) -> bool {
        self.members.iter().any(|m| m.id == run)
    }

    /// Is the copy going on (or about to)?
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }

    fn compute(&self) -> DomainView {
        let views: Vec<RunView> = self
            .members
            .iter()
            .map(|m| m.view.borrow().clone())
            .collect();
        let states: Vec<RunState> = views.iter().map(|v| v.state).collect();
        let first = |want: &dyn Fn(RunState) -> bool| states.iter().position(|s| want(*s));
        let current = first(&|s| matches!(s, RunState::Starting | RunState::Copying))
            .or_else(|| first(&|s| s == RunState::Waiting))
            .or_else(|| first(&|s| s != RunState::Finished))
            .unwrap_or(0);
        let any = |state| states.contains(&state);
        let state = if self.is_running() {
            RunState::Copying
        } else if states.iter().all(|s| *s == RunState::Finished) {
            RunState::Finished
        } else if any(RunState::Failed) {
            RunState::Failed
        } else if any(RunState::Cancelled) {
            RunState::Cancelled
        } else {
            RunState::Paused
        };
        let mailboxes = self
            .members
            .iter()
            .zip(&views)
            .zip(&self.handles)
            .map(|((member, view), handles)| DomainMailbox {
                source_user: member.source.credentials.user.clone(),
                destination_user: member.dest.credentials.user.clone(),
                source: handles.source,
                destination: handles.destination,
                run: member.id,
                state: view.state,
                to_copy: view.folders.iter().map(|f| f.to_copy).sum(),
                copied: view.folders.iter().map(|f| f.copied).sum(),
            })
            .collect();
        DomainView {
            id: self.id,
            state,
            mailboxes,
            current: current as u32,
            current_view: views[current].clone(),
            at_once: self.limits.at_once as u32,
            stage: self.stage.clone(),
            source: server_of(&self.source),
            destination: server_of(&self.dest),
            awake: self
                .awake
                .as_ref()
                .filter(|_| self.is_running())
                .and_then(|a| a.words("the copy ends")),
        }
    }

    /// Rebuilds the view from the mailboxes' runs; watchers hear of it
    /// only if something changed.
    pub fn refresh(&self) {
        let fresh = self.compute();
        self.view.send_if_modified(|view| {
            let changed = *view != fresh;
            *view = fresh;
            changed
        });
    }

    /// Starts (or resumes) copying every mailbox that has not finished,
    /// on a thread of its own. Does nothing if it is copying already.
    pub fn start(self: &Arc<Self>) -> IpcResult<()> {
        let mut worker = self.worker.lock().unwrap_or_else(|e| e.into_inner());
        if self.is_running() {
            return Ok(());
        }
        // A thread that just said it stopped is at its very end.
        if let Some(done) = worker.take() {
            let _ = done.join();
        }
        let (stop_tx, stop_rx) = oneshot::channel();
        *self.stop.lock().unwrap_or_else(|e| e.into_inner()) = Some(stop_tx);
        *self.cancel.lock().unwrap_or_else(|e| e.into_inner()) = Cancel::new();
        let todo: Vec<Arc<Run>> = self
            .members
            .iter()
            .filter(|m| m.view.borrow().state != RunState::Finished)
            .cloned()
            .collect();
        for member in &todo {
            let snapshot = RunView::job_snapshot(&member.state_path);
            member
                .view
                .send_modify(|v| v.restart(RunState::Waiting, snapshot));
        }
        self.running.store(true, Ordering::SeqCst);
        self.refresh();
        let domain = self.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("mailferry-domain-{}", self.id.0))
            .spawn(move || {
                let awake = domain.awake.as_ref().map(|a| a.hold("Copying mail"));
                domain.refresh();
                let outcome = crate::runs::block_on_own_runtime(async {
                    Ok(tokio::select! {
                        outcomes = domain.copy(&todo) => Some(outcomes),
                        _ = stop_rx => None,
                    })
                });
                let asked_to_stop = domain
                    .cancel
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .is_cancelled();
                match outcome {
                    Ok(Some(outcomes)) => {
                        for (member, outcome) in todo.iter().zip(outcomes) {
                            let result = match outcome {
                                Outcome::Copied(report) | Outcome::NeedsDecision { report, .. } => {
                                    Ok(report)
                                }
                                Outcome::Failed(e) => Err(IpcError::from(e)),
                            };
                            member.finish_as(result, asked_to_stop);
                        }
                    }
                    // Dropped by `stop`, which says how each one ended.
                    Ok(None) => {}
                    Err(err) => {
                        for member in &todo {
                            member.finish_as(Err(err.clone()), asked_to_stop);
                        }
                    }
                }
                // Told before the view says stopped, so whoever sees it
                // stopped finds the owner told.
                if !asked_to_stop {
                    let (title, body) = ended_words(&domain.compute(), domain.stage.after_switch);
                    tell(&domain.notifier, &title, &body);
                }
                drop(awake);
                domain.running.store(false, Ordering::SeqCst);
                domain.refresh();
            });
        match spawned {
            Ok(handle) => {
                *worker = Some(handle);
                Ok(())
            }
            Err(e) => {
                self.running.store(false, Ordering::SeqCst);
                self.refresh();
                Err(IpcError::internal(e))
            }
        }
    }

    /// Stops every mailbox's copy (after the batch in flight, or dropped
    /// after 15 s) and waits for the thread; the mailboxes that had not
    /// finished or failed then say `state`.
    pub fn stop(&self, state: RunState) {
        self.cancel
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .cancel();
        let worker = self.worker.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(worker) = worker {
            let deadline = Instant::now() + Duration::from_secs(15);
            while !worker.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if let Some(stop) = self.stop.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let _ = stop.send(());
            }
            let _ = worker.join();
        }
        for member in &self.members {
            member.view.send_modify(|v| {
                if !matches!(v.state, RunState::Finished | RunState::Failed) {
                    v.state = state;
                    v.waiting_until_ms = None;
                    v.waiting_reason = None;
                }
            });
        }
        self.running.store(false, Ordering::SeqCst);
        self.refresh();
    }

    async fn copy(&self, todo: &[Arc<Run>]) -> Vec<Outcome> {
        let domain = Domain {
            source: self.source.clone(),
            dest: self.dest.clone(),
            source_connections: self.limits.source_connections,
            dest_connections: self.limits.dest_connections,
            at_once: self.limits.at_once,
        };
        let mailboxes: Vec<Mailbox> = todo
            .iter()
            .map(|m| Mailbox {
                source: m.source.credentials.clone(),
                dest: m.dest.credentials.clone(),
                state: m.state_path.clone(),
            })
            .collect();
        let edits = &self.stage.edits;
        // Checked when the copy was created (`Runs::create_domain`); the
        // checks do not depend on the folder separator.
        let rules = |tree: &FolderTree| -> Rules {
            edits
                .rules(tree.delimiter)
                .expect("the folder edits were checked when the copy started")
        };
        let options = Options {
            cancel: self
                .cancel
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            max_size: self.stage.skip_larger_than,
            after_switch: self.stage.after_switch,
            ..Options::default()
        };
        let mut sinks: Vec<MemberSink> = todo
            .iter()
            .map(|run| MemberSink {
                run,
                domain: self,
                started: None,
            })
            .collect();
        let each = todo
            .iter()
            .zip(sinks.iter_mut())
            .map(|(run, sink)| Each {
                sink: sink as &mut dyn EventSink,
                rebuild_if_damaged: *run
                    .rebuild_progress
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()),
                accept_renumbered: run.accepted_renumbered(),
            })
            .collect();
        migrate_all_with(&domain, &mailboxes, &rules, &options, &now, each).await
    }
}

/// Folds one mailbox's events into its run's view, then the domain's.
struct MemberSink<'a> {
    run: &'a Run,
    domain: &'a DomainRun,
    /// When this mailbox's first event came (its copy began).
    started: Option<Instant>,
}

impl EventSink for MemberSink<'_> {
    fn emit(&mut self, event: Event) {
        let started = *self.started.get_or_insert_with(Instant::now);
        self.run.view.send_modify(|v| {
            v.apply(&event);
            v.elapsed_ms = started.elapsed().as_millis() as u64;
        });
        self.domain.refresh();
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The notification for a domain's copy that ended by itself: finished,
/// or stopped by a problem (a pause or stop the owner asked for is not
/// announced).
fn ended_words(view: &DomainView, after_switch: bool) -> (String, String) {
    let n = view.mailboxes.len();
    let done = view
        .mailboxes
        .iter()
        .filter(|m| m.state == RunState::Finished)
        .count();
    let what = if after_switch { "final copy" } else { "copy" };
    let all = match n {
        1 => "The mailbox is".to_owned(),
        n => format!("All {n} mailboxes are"),
    };
    if done == n {
        (
            format!("MailFerry: the {what} has finished"),
            if after_switch {
                format!("{all} caught up. MailFerry now watches the old server for mail that still arrives there.")
            } else {
                format!("{all} copied. Open MailFerry for the next step.")
            },
        )
    } else {
        (
            format!("MailFerry: the {what} stopped"),
            format!(
                "{} of {n} could not be finished. Open MailFerry to see why and resume: nothing is copied twice.",
                n - done
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::runs::Runs;
    use mailferry::endpoint::{Credentials, Security};
    use mailferry_harness::{dovecot_available, Dovecot, Fault, Layout, Message, Proxy};

    const USERS: [(&str, &str); 3] = [
        ("alice", "alicepass"),
        ("bob", "bobpass"),
        ("carol", "carolpass"),
    ];

    fn server() -> Dovecot {
        let mut b = Dovecot::builder().layout(Layout::Exchange).fsync(false);
        for (user, password) in USERS.iter().skip(1) {
            b = b.user(*user, *password);
        }
        b.build()
    }

    fn mail(user: &str, i: usize) -> Message {
        Message::new(
            format!(
                "From: s{i}@example.net\r\nTo: {user}@example.com\r\nSubject: {user} {i}\r\n\
                 Message-ID: <{user}-{i}@example.net>\r\n\r\nHello {user}, number {i}.\r\n{}\r\n",
                "y".repeat(i * 211 % 3000)
            )
            .into_bytes(),
        )
    }

    fn account(proxy: &Proxy, user: &str, password: &str) -> Account {
        let mut endpoint = Endpoint::new("127.0.0.1")
            .with_security(Security::Plain)
            .with_port(proxy.port());
        endpoint.timeout = Duration::from_secs(30);
        Account {
            endpoint,
            credentials: Credentials::password(user, password),
        }
    }

    /// Both servers behind counting proxies, every user's INBOX loaded.
    struct Office {
        src: Dovecot,
        dst: Dovecot,
        from_src: Proxy,
        from_dst: Proxy,
        dir: tempfile::TempDir,
    }

    impl Office {
        fn new(messages: usize) -> Office {
            let (src, dst) = (server(), server());
            for (user, _) in USERS {
                src.append(
                    user,
                    "INBOX",
                    &(0..messages).map(|i| mail(user, i)).collect::<Vec<_>>(),
                );
            }
            let (from_src, from_dst) = (
                Proxy::start(src.addr_plain()),
                Proxy::start(dst.addr_plain()),
            );
            Office {
                src,
                dst,
                from_src,
                from_dst,
                dir: tempfile::tempdir().unwrap(),
            }
        }

        fn pairs(&self) -> Vec<Pair> {
            USERS
                .iter()
                .enumerate()
                .map(|(i, (user, password))| Pair {
                    handles: PairHandles {
                        source: AccountHandle(2 * i as u32 + 1),
                        destination: AccountHandle(2 * i as u32 + 2),
                    },
                    source: account(&self.from_src, user, password),
                    destination: account(&self.from_dst, user, password),
                    state_path: self.dir.path().join(format!("{user}.db")),
                })
                .collect()
        }

        fn arrived(&self, user: &str) -> bool {
            self.dst.fetch_all(user, "INBOX").len() == self.src.fetch_all(user, "INBOX").len()
        }
    }

    /// Waits (as long as it takes) until the domain's copy has stopped.
    fn until_stopped(domain: &DomainRun) -> DomainView {
        let mut rx = domain.view.subscribe();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async { rx.wait_for(|v| v.state.is_stopped()).await.unwrap().clone() })
    }

    fn stage() -> CopyStage {
        CopyStage {
            label: Some("bulk".into()),
            ..CopyStage::default()
        }
    }

    #[test]
    fn a_domain_copies_several_mailboxes_at_once_within_the_connection_caps() {
        if !dovecot_available() {
            eprintln!("skipped: needs dovecot and root");
            return;
        }
        let office = Office::new(60);
        let runs = Runs::default();
        let limits = Limits {
            source_connections: 3,
            dest_connections: 3,
            at_once: 3,
        };
        let domain = runs.create_domain(office.pairs(), stage(), limits).unwrap();
        domain.start().unwrap();
        let end = until_stopped(&domain);
        assert_eq!(end.state, RunState::Finished, "{end:#?}");
        for (mailbox, (user, _)) in end.mailboxes.iter().zip(USERS) {
            assert_eq!(mailbox.state, RunState::Finished, "{user}");
            assert_eq!(mailbox.source_user, user);
            assert_eq!(mailbox.copied, 60, "{user}: its own run saw its own copies");
            assert!(office.arrived(user), "{user}'s INBOX arrived");
            let run = runs.get(mailbox.run).unwrap();
            assert!(
                run.report.lock().unwrap().is_some(),
                "{user}: the report is kept for the check"
            );
        }
        assert_eq!(end.current, 0, "a finished domain shows the first mailbox");
        assert_eq!(end.stage.label.as_deref(), Some("bulk"));
        let (source_peak, dest_peak) = (
            office.from_src.peak_connections(),
            office.from_dst.peak_connections(),
        );
        assert!(
            source_peak <= 3,
            "the old server saw {source_peak} connections at once (cap 3)"
        );
        assert!(
            dest_peak <= 3,
            "the new server saw {dest_peak} connections at once (cap 3)"
        );
        assert!(
            source_peak >= 2,
            "several mailboxes were copied at once (one reading connection each): {source_peak}"
        );
        assert!(
            runs.create_domain(office.pairs(), stage(), limits).is_ok(),
            "a finished copy does not hold up the next stage"
        );
    }

    #[test]
    fn a_paused_domain_stops_every_mailbox_even_on_a_silent_server_and_resumes_to_the_end() {
        if !dovecot_available() {
            eprintln!("skipped: needs dovecot and root");
            return;
        }
        let office = Office::new(10);
        // The old server answers nothing: the mailboxes whose turn came
        // hang in their sign-in; the others wait for a place.
        office.from_src.set_fault(Fault::Stall);
        let runs = Runs::default();
        let limits = Limits {
            source_connections: 1,
            dest_connections: 2,
            at_once: 3,
        };
        let domain = runs.create_domain(office.pairs(), stage(), limits).unwrap();
        domain.start().unwrap();
        assert!(domain.is_running());
        domain.stop(RunState::Paused);
        let paused = domain.view.borrow().clone();
        assert_eq!(paused.state, RunState::Paused, "{paused:#?}");
        for mailbox in &paused.mailboxes {
            assert_eq!(mailbox.state, RunState::Paused, "{}", mailbox.source_user);
        }
        assert!(
            runs.create_domain(office.pairs(), stage(), limits).is_ok(),
            "a paused copy is not running"
        );
        office.from_src.set_fault(Fault::None);
        domain.start().unwrap();
        let end = until_stopped(&domain);
        assert_eq!(end.state, RunState::Finished, "{end:#?}");
        for (user, _) in USERS {
            assert!(office.arrived(user), "{user}");
        }
    }

    #[test]
    fn a_damaged_progress_file_fails_its_mailbox_until_the_user_asks_to_rebuild_it() {
        if !dovecot_available() {
            eprintln!("skipped: needs dovecot and root");
            return;
        }
        let office = Office::new(5);
        std::fs::write(office.dir.path().join("bob.db"), b"not a progress file").unwrap();
        let runs = Runs::default();
        let limits = Limits {
            source_connections: 2,
            dest_connections: 2,
            at_once: 2,
        };
        let domain = runs.create_domain(office.pairs(), stage(), limits).unwrap();
        domain.start().unwrap();
        let end = until_stopped(&domain);
        assert_eq!(end.state, RunState::Failed, "{end:#?}");
        assert_eq!(
            end.current, 1,
            "the copy screen shows the mailbox that needs the user"
        );
        let bob = &end.current_view;
        assert_eq!(bob.state, RunState::Failed);
        assert_eq!(
            bob.error.as_ref().map(|e| e.code),
            Some(ErrorCode::ProgressDamaged)
        );
        assert_eq!(
            end.mailboxes[0].state,
            RunState::Finished,
            "the others went on"
        );
        assert_eq!(end.mailboxes[2].state, RunState::Finished);
        assert_eq!(office.dst.fetch_all("bob", "INBOX").len(), 0);

        // "Rebuild and continue": only Bob's copy runs again, rebuilding.
        *domain.members[1].rebuild_progress.lock().unwrap() = true;
        domain.start().unwrap();
        let end = until_stopped(&domain);
        assert_eq!(end.state, RunState::Finished, "{end:#?}");
        assert!(office.arrived("bob"));
        assert!(
            !*domain.members[1].rebuild_progress.lock().unwrap(),
            "the rebuild was for that one start"
        );
        let kept: Vec<_> = std::fs::read_dir(office.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("bob.db") && n != "bob.db")
            .collect();
        assert!(
            !kept.is_empty(),
            "the damaged file is kept beside the new one"
        );
    }

    /// Waits (at most `limit`) until `ready` holds for the watch's view.
    fn until_watch(
        watch: &crate::watching::DomainWatch,
        limit: Duration,
        ready: impl Fn(&crate::watching::WatchView) -> bool,
    ) -> crate::watching::WatchView {
        let start = Instant::now();
        loop {
            let view = watch.view.borrow().clone();
            if ready(&view) {
                return view;
            }
            assert!(start.elapsed() < limit, "never: {view:#?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    #[test]
    fn after_the_final_copy_every_mailbox_is_watched_and_the_owner_told_when_it_ends() {
        use crate::notify::Recorded;
        use crate::watching::{WatchState, Watches};
        if !dovecot_available() {
            eprintln!("skipped: needs dovecot and root");
            return;
        }
        let office = Office::new(5);
        let said = Arc::new(Recorded::default());
        let runs = Runs::default();
        runs.set_notifier(said.clone());
        let awake = crate::awake::tests::Counted::default();
        runs.set_awake(crate::awake::Awake::new(awake.clone()));
        let limits = Limits {
            source_connections: 6,
            dest_connections: 6,
            at_once: 3,
        };
        let final_copy = CopyStage {
            after_switch: true,
            label: Some("final".into()),
            ..CopyStage::default()
        };
        let domain = runs
            .create_domain(office.pairs(), final_copy, limits)
            .unwrap();
        domain.start().unwrap();
        let copied = until_stopped(&domain);
        assert_eq!(copied.state, RunState::Finished);
        assert_eq!(
            awake.counts(),
            (1, 1),
            "the computer was kept awake for the copy and let go after"
        );
        assert_eq!(copied.awake, None, "nothing said once the copy stopped");
        assert_eq!(
            said.0.lock().unwrap().first().map(|(t, _)| t.as_str()),
            Some("MailFerry: the final copy has finished"),
            "the owner is told the copy ended"
        );

        // Polled every second (IDLE renewed every two), for two minutes at most.
        let settings = mailferry::watch::Settings {
            poll_every: Duration::from_secs(1),
            renew_idle: Duration::from_secs(2),
            cap: Some(Duration::from_secs(120)),
            ..mailferry::watch::Settings::default()
        };
        // Carol's progress file is damaged after the copy: her watch cannot
        // go on, and the others' must not stop for it.
        std::fs::write(
            office.dir.path().join("carol.db"),
            b"not a progress file, damaged on purpose",
        )
        .unwrap();
        let watches = Watches::default();
        let watch = watches
            .start(&domain, settings.clone(), None, runs.notifier())
            .unwrap();
        assert!(
            Arc::ptr_eq(
                &watch,
                &watches.start(&domain, settings, None, None).unwrap()
            ),
            "a second start finds the watch running"
        );
        let watching = until_watch(&watch, Duration::from_secs(60), |v| {
            v.mailboxes[..2]
                .iter()
                .all(|m| m.state == WatchState::Watching)
                && v.mailboxes[2].problem.is_some()
        });
        assert_eq!(awake.counts(), (2, 1), "and again while watching");
        assert!(
            watching.awake.as_deref().is_some_and(
                |w| w.starts_with("MailFerry keeps this computer awake until the watch ends.")
            ),
            "{watching:#?}"
        );
        let carol = &watching.mailboxes[2];
        assert_eq!(carol.state, WatchState::Ended, "{carol:#?}");
        assert!(!carol.status.is_empty(), "her row says why: {carol:#?}");
        assert!(
            watching.mailboxes[1]
                .status
                .contains("INBOX as mail arrives"),
            "{watching:#?}"
        );
        office.src.append("bob", "INBOX", &[mail("bob", 77)]);
        let moved = until_watch(&watch, Duration::from_secs(60), |v| v.moved == 1);
        assert_eq!(moved.mailboxes[1].moved, 1, "{moved:#?}");
        assert!(
            moved
                .line
                .starts_with("Mail still arriving at the old server: 1 today, last at "),
            "{}",
            moved.line
        );
        assert!(office.arrived("bob"), "the straggler is in Bob's new INBOX");
        assert_eq!(office.dst.fetch_all("bob", "INBOX").len(), 6, "once");

        watch.stop();
        let ended = watch.view.borrow().clone();
        assert_eq!(ended.state, WatchState::Ended, "{ended:#?}");
        assert!(
            ended
                .end
                .as_deref()
                .is_some_and(|e| e.starts_with("The watch was stopped.")
                    && e.contains("1 mailbox could not be watched")),
            "{ended:#?}"
        );
        assert!(ended.mailboxes[2].problem.is_some(), "{ended:#?}");
        assert_eq!(awake.counts(), (2, 2), "let go when the watch ended");
        assert_eq!(ended.awake, None);
        let told = said.0.lock().unwrap().clone();
        let (title, body) = told.last().unwrap();
        assert_eq!(title, "MailFerry: the watch has ended");
        assert!(
            body.contains("1 message arrived at the old server while watching and was moved"),
            "{body}"
        );
    }
}
