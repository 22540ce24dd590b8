//! After "The domain is switched" and the final copy: every mailbox of the
//! domain's copy watched at once at the old server, so mail that still
//! arrives there (senders retrying late, resolvers holding the old mail
//! records) reaches the new mailbox within seconds, until the engine's
//! stop rule says the old server can be let go, or the owner stops it.
//!
//! Each mailbox is the engine's [`watch::watch`] (IDLE on INBOX and Junk,
//! the other folders polled, each catch-up a job run that only adds, the
//! progress file locked only meanwhile), with the folder rules of the
//! copy. They run on a thread of their own with its own runtime, like a
//! domain's copy; the [`WatchView`] is rebuilt on every notice and sent to
//! the window coalesced. When every mailbox's watch has ended, the owner is
//! told where they look ([`crate::notify`]).

use crate::domains::{DomainId, DomainRun};
use crate::error::{IpcError, IpcResult};
use crate::notify::{tell, Notifier};
use crate::runs::Run;
use mailferry::event::Discard;
use mailferry::folder::Rules;
use mailferry::job::ProgressFile;
use mailferry::mx::Question;
use mailferry::run::{system_clock, Cancel, Options};
use mailferry::watch::{self, local_offset, End, Mailbox, Notice, Settings, Summary, Tally};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch as channel;
use ts_rs::TS;

/// Where a mailbox's watch (or the whole domain's) is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum WatchState {
    /// Signing in and reading the folders.
    Starting,
    /// Waiting for mail at the old server.
    Watching,
    /// Lost the connection; trying again.
    Retrying,
    /// Over (by the stop rule, the owner, or a problem).
    Ended,
}

/// One mailbox's watch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct WatchedMailbox {
    /// The user at the old server.
    pub source_user: String,
    /// The user at the new server.
    pub destination_user: String,
    /// Where it is.
    pub state: WatchState,
    /// Messages moved while watching.
    #[ts(type = "number")]
    pub moved: u64,
    /// What it is doing, in plain words ("Watching INBOX as mail arrives,
    /// 3 folders every 2 minutes"; why it is retrying; how it ended).
    pub status: String,
    /// What stopped it, when a problem did.
    pub problem: Option<IpcError>,
}

/// Everything the window shows of the watch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct WatchView {
    /// The domain copy watched.
    pub domain: DomainId,
    /// Watching while any mailbox is; ended when all are.
    pub state: WatchState,
    /// Each mailbox, in the copy's order.
    pub mailboxes: Vec<WatchedMailbox>,
    /// Moved in all.
    #[ts(type = "number")]
    pub moved: u64,
    /// The live line: "Mail still arriving at the old server: 3 today,
    /// last at 14:02".
    pub line: String,
    /// The last look at the domain's mail records, in words (when asked).
    pub records: Option<String>,
    /// How it ended, in words, once every mailbox's watch is over.
    pub end: Option<String>,
    /// While watching: that the computer is kept awake, or that it could
    /// not be and what to do.
    pub awake: Option<String>,
}

/// A domain's watch and its stop.
pub struct DomainWatch {
    /// The domain copy watched.
    pub domain: DomainId,
    /// The view, for the window.
    pub view: channel::Sender<WatchView>,
    tallies: Mutex<Vec<Tally>>,
    cancel: Cancel,
    worker: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// The watches of this session.
#[derive(Default)]
pub struct Watches {
    inner: Mutex<Vec<Arc<DomainWatch>>>,
}

/// How the app watches: the engine's defaults (IDLE renewed before 29
/// minutes, other folders every 2 minutes, stop after 24 quiet hours).
pub fn settings() -> Settings {
    Settings::default()
}

impl Watches {
    /// Starts watching every mailbox of `domain` (its final copy recorded
    /// the switch), unless a watch of it is running already; that one is
    /// returned then. `question`: the domain's mail records to ask for the
    /// stop rule.
    pub fn start(
        &self,
        domain: &DomainRun,
        settings: Settings,
        question: Option<Question>,
        notifier: Option<Arc<dyn Notifier>>,
    ) -> IpcResult<Arc<DomainWatch>> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(running) = inner
            .iter()
            .find(|w| w.domain == domain.id && w.view.borrow().state != WatchState::Ended)
        {
            return Ok(running.clone());
        }
        if domain.is_running() {
            return Err(IpcError::invalid(
                "A copy is running: the watch starts when it has finished.",
            ));
        }
        let members = domain.members.clone();
        let watch = Arc::new(DomainWatch {
            domain: domain.id,
            view: channel::Sender::new(WatchView {
                domain: domain.id,
                state: WatchState::Starting,
                mailboxes: members
                    .iter()
                    .map(|m| WatchedMailbox {
                        source_user: m.source.credentials.user.clone(),
                        destination_user: m.dest.credentials.user.clone(),
                        state: WatchState::Starting,
                        moved: 0,
                        status: "Signing in to both servers…".to_owned(),
                        problem: None,
                    })
                    .collect(),
                moved: 0,
                line: Tally::default().line(0, 0),
                records: None,
                end: None,
                awake: None,
            }),
            tallies: Mutex::new(vec![Tally::default(); members.len()]),
            cancel: Cancel::new(),
            worker: Mutex::new(None),
        });
        let running = watch.clone();
        let awake = domain.awake.clone();
        let handle = std::thread::Builder::new()
            .name(format!("mailferry-watch-{}", domain.id.0))
            .spawn(move || {
                let held = awake
                    .as_ref()
                    .map(|a| a.hold("Watching the old mail server"));
                let words = awake.as_ref().and_then(|a| a.words("the watch ends"));
                running.view.send_modify(|v| v.awake = words);
                let summaries = crate::runs::block_on_own_runtime(async {
                    let each = members
                        .iter()
                        .enumerate()
                        .map(|(i, m)| running.watch_one(i, m, &settings, question.as_ref()));
                    Ok(futures::future::join_all(each).await)
                })
                .unwrap_or_else(|e| vec![Err(e); members.len()]);
                drop(held);
                running.view.send_modify(|v| v.awake = None);
                running.ended(&summaries, &settings, &notifier);
            })
            .map_err(IpcError::internal)?;
        *watch.worker.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
        inner.push(watch.clone());
        Ok(watch)
    }

    /// The watch of `domain`, the latest if there were several.
    pub fn get(&self, domain: DomainId) -> Option<Arc<DomainWatch>> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.iter().rev().find(|w| w.domain == domain).cloned()
    }

    /// The latest watch of this session (a reloaded window shows it again).
    pub fn latest(&self) -> Option<Arc<DomainWatch>> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.last().cloned()
    }
}

impl DomainWatch {
    /// Stops every mailbox's watch (a catch-up in flight finishes its
    /// batch) and waits for the thread, at most 20 seconds.
    pub fn stop(&self) {
        self.cancel.cancel();
        let worker = self.worker.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(worker) = worker {
            let deadline = Instant::now() + Duration::from_secs(20);
            while !worker.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if worker.is_finished() {
                let _ = worker.join();
            }
        }
    }

    /// Watches mailbox `i` until its watch ends.
    async fn watch_one(
        &self,
        i: usize,
        member: &Run,
        settings: &Settings,
        question: Option<&Question>,
    ) -> IpcResult<Summary> {
        let progress = ProgressFile::at(&member.state_path);
        let source = (
            member.source.endpoint.clone(),
            member.source.credentials.clone(),
        );
        let dest = (
            member.dest.endpoint.clone(),
            member.dest.credentials.clone(),
        );
        // The folder rules the copy used are made from the old server's
        // folders (their separator): read them once.
        let rules: Rules = {
            let (session, tree) = crate::commands::open_tree(&member.source)
                .await
                .map_err(|e| self.failed(i, e))?;
            session.logout().await;
            let make = member
                .rules
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            make(&tree)
        };
        let mailbox = Mailbox {
            source,
            dest,
            rules,
            progress,
        };
        let options = Options {
            cancel: self.cancel.clone(),
            ..Options::default()
        };
        let mut notices = |notice: Notice| self.heard(i, notice);
        watch::watch(
            &mailbox,
            settings,
            &options,
            &system_clock,
            question,
            &mut notices,
            &mut Discard,
        )
        .await
        .map_err(|e| self.failed(i, IpcError::from(e)))
    }

    /// Mailbox `i`'s watch stopped on `problem`.
    fn failed(&self, i: usize, problem: IpcError) -> IpcError {
        self.view.send_modify(|v| {
            let m = &mut v.mailboxes[i];
            m.state = WatchState::Ended;
            m.status = problem.message.clone();
            m.problem = Some(problem.clone());
        });
        problem
    }

    /// Mailbox `i`'s watch said something.
    fn heard(&self, i: usize, notice: Notice) {
        let words = notice.words();
        match notice {
            Notice::Watching { .. } => self.view.send_modify(|v| {
                let m = &mut v.mailboxes[i];
                m.state = WatchState::Watching;
                m.status = words.unwrap_or_default();
                v.state = WatchState::Watching;
            }),
            Notice::Records { .. } => self.view.send_modify(|v| v.records = words),
            Notice::Arrived(tally) => {
                let all = {
                    let mut tallies = self.tallies.lock().unwrap_or_else(|e| e.into_inner());
                    tallies[i] = tally.clone();
                    let mut all = Tally::default();
                    for t in tallies.iter() {
                        all.arrivals.extend(t.arrivals.iter().copied());
                    }
                    all.arrivals.sort();
                    all
                };
                let now = system_clock();
                self.view.send_modify(|v| {
                    let m = &mut v.mailboxes[i];
                    m.moved = tally.total();
                    m.state = WatchState::Watching;
                    v.moved = all.total();
                    v.line = all.line(now, local_offset(now));
                });
            }
            Notice::Retrying { .. } => self.view.send_modify(|v| {
                let m = &mut v.mailboxes[i];
                m.state = WatchState::Retrying;
                m.status = words.unwrap_or_default();
            }),
        }
    }

    /// Every mailbox's watch is over: the view says how, and the owner is
    /// told.
    fn ended(
        &self,
        summaries: &[IpcResult<Summary>],
        settings: &Settings,
        notifier: &Option<Arc<dyn Notifier>>,
    ) {
        let ends: Vec<End> = summaries
            .iter()
            .filter_map(|s| s.as_ref().ok().map(|s| s.end))
            .collect();
        let failed = summaries.len() - ends.len();
        let mut words = match ends.first() {
            Some(first) if ends.iter().all(|e| e == first) => first.words(settings.quiet),
            Some(_) => {
                "The watch has ended for every mailbox (each one's own reason is shown beside it)."
                    .to_owned()
            }
            None => "The watch could not go on.".to_owned(),
        };
        if failed > 0 {
            words.push_str(&format!(
                " {} could not be watched: see why beside {}.",
                mailboxes_words(failed),
                if failed == 1 { "it" } else { "each" }
            ));
        }
        let moved = {
            let tallies = self.tallies.lock().unwrap_or_else(|e| e.into_inner());
            tallies.iter().map(Tally::total).sum::<u64>()
        };
        self.view.send_modify(|v| {
            for (m, s) in v.mailboxes.iter_mut().zip(summaries) {
                m.state = WatchState::Ended;
                if let Ok(s) = s {
                    m.status = s.end.words(settings.quiet);
                }
            }
            v.state = WatchState::Ended;
            v.end = Some(words.clone());
        });
        let body = match moved {
            0 => format!("{words} No mail arrived at the old server while watching."),
            n => format!(
                "{words} {} arrived at the old server while watching and {} moved to the new one.",
                messages_words(n),
                if n == 1 { "was" } else { "were" }
            ),
        };
        tell(notifier, "MailFerry: the watch has ended", &body);
    }
}

fn mailboxes_words(n: usize) -> String {
    if n == 1 {
        "1 mailbox".to_owned()
    } else {
        format!("{n} mailboxes")
    }
}

fn messages_words(n: u64) -> String {
    if n == 1 {
        "1 message".to_owned()
    } else {
        format!("{n} messages")
    }
}
