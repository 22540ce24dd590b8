//! A whole domain: several mailboxes migrated at once between the same two
//! servers, each within the servers' connection budgets.
//!
//! Every mailbox is its own job (its own progress file, folder map and
//! report), exactly as one `mailferry sync` run; what they share is the
//! budget of connections each server allows ([`ServerBudget`]). A mailbox
//! waits for a place before it signs in, and its parallel writers only use
//! places that are free, so the servers never see more connections than
//! their caps whatever the number of mailboxes.

use crate::endpoint::{Credentials, Endpoint};
use crate::error::{Error, Problem};
use crate::event::Discard;
use crate::folder::{apply, map_folders, plan_create, read_tree, Rules};
use crate::imap::{ServerBudget, Session};
use crate::run::{sync, Clock, Options, Report};
use crate::state::State;
use futures::StreamExt;
use std::path::PathBuf;

/// The two servers of a domain and how hard they may be used.
#[derive(Clone, Debug)]
pub struct Domain {
    /// The old server.
    pub source: Endpoint,
    /// The new server.
    pub dest: Endpoint,
    /// Connections open at once to the old server, all mailboxes together.
    pub source_connections: usize,
    /// Connections open at once to the new server, all mailboxes together.
    pub dest_connections: usize,
    /// Mailboxes copied at the same time.
    pub at_once: usize,
}

/// One mailbox to move: who signs in on each side, and its progress file.
#[derive(Clone, Debug)]
pub struct Mailbox {
    /// The account on the old server.
    pub source: Credentials,
    /// The account on the new server.
    pub dest: Credentials,
    /// This mailbox's progress file.
    pub state: PathBuf,
}

/// How one mailbox's migration ended.
#[derive(Debug)]
pub enum Outcome {
    /// The copy ran (its report says what was copied, skipped or failed).
    Copied(Report),
    /// Folder questions must be decided first; nothing was copied.
    NeedsDecision {
        /// How many folders.
        count: usize,
    },
    /// The mailbox could not be migrated (sign-in, a refused folder, …).
    Failed(Error),
}

impl Outcome {
    /// Did everything go through?
    pub fn is_complete(&self) -> bool {
        matches!(self, Outcome::Copied(r) if r.exit_code() == 0)
    }
}

/// Migrates `mailboxes`, up to `domain.at_once` at a time, in the order
/// given; one outcome each, in the same order.
pub async fn migrate_all(
    domain: &Domain,
    mailboxes: &[Mailbox],
    rules: &Rules,
    options: &Options,
    now: Clock<'_>,
) -> Vec<Outcome> {
    let budgets = (
        ServerBudget::new(domain.source_connections),
        ServerBudget::new(domain.dest_connections),
    );
    futures::stream::iter(mailboxes)
        .map(|mailbox| {
            let budgets = &budgets;
            async move {
                migrate_one(domain, mailbox, budgets, rules, options, now)
                    .await
                    .unwrap_or_else(Outcome::Failed)
            }
        })
        .buffered(domain.at_once.max(1))
        .collect()
        .await
}

async fn migrate_one(
    domain: &Domain,
    mailbox: &Mailbox,
    (source_budget, dest_budget): &(ServerBudget, ServerBudget),
    rules: &Rules,
    options: &Options,
    now: Clock<'_>,
) -> Result<Outcome, Error> {
    // Always the source's place first, then the destination's: mailboxes
    // that wait never hold what another is waiting for in turn.
    let mut source =
        Session::connect_within(&domain.source, &mailbox.source, source_budget).await?;
    let mut dest = Session::connect_within(&domain.dest, &mailbox.dest, dest_budget).await?;
    let outcome = copy(&mut source, &mut dest, mailbox, rules, options, now).await;
    source.logout().await;
    dest.logout().await;
    outcome
}

async fn copy(
    source: &mut Session,
    dest: &mut Session,
    mailbox: &Mailbox,
    rules: &Rules,
    options: &Options,
    now: Clock<'_>,
) -> Result<Outcome, Error> {
    let source_tree = read_tree(source).await?;
    let dest_tree = read_tree(dest).await?;
    let map = map_folders(&source_tree, &dest_tree, rules);
    let Ok(plan) = plan_create(&map, &dest_tree) else {
        return Ok(Outcome::NeedsDecision {
            count: map.decisions_needed(),
        });
    };
    let mut state = if options.dry {
        State::open_read_only(&mailbox.state).map_err(state_failed(mailbox))?
    } else {
        let created = apply(dest, &plan).await?;
        if let Some(refusal) = created.refused {
            return Err(refusal.error);
        }
        if let Some(dir) = mailbox.state.parent() {
            std::fs::create_dir_all(dir).map_err(state_failed(mailbox))?;
        }
        Some(State::open(&mailbox.state, now()).map_err(state_failed(mailbox))?)
    };
    let report = sync(
        source,
        dest,
        &map,
        state.as_mut(),
        options,
        now,
        &mut Discard,
    )
    .await?;
    Ok(Outcome::Copied(report))
}

fn state_failed<E: std::fmt::Display>(mailbox: &Mailbox) -> impl Fn(E) -> Error + '_ {
    move |e| {
        Error::new(Problem::StateFailed {
            path: mailbox.state.display().to_string(),
        })
        .with_detail(e.to_string())
    }
}
