//! The step after the final copy: the old server watched for mail that
//! still arrives there ([`crate::watching`]).

use crate::domains::DomainId;
use crate::error::{IpcError, IpcResult};
use crate::runs::Runs;
use crate::watching::{settings, WatchView, Watches};
use mailferry::mx::Question;
use tauri::ipc::Channel;
use tauri::State;

/// Starts watching the old server for every mailbox of the domain's copy
/// (its final copy recorded the switch), or finds the watch running.
/// `mail_domain` and `old_mx`: the domain and the mail servers its records
/// named before the switch (the cutover checklist's look); with both, the
/// watch stops only once every resolver names none of them any more.
pub fn start_watch(
    runs: State<'_, Runs>,
    watches: State<'_, Watches>,
    domain: DomainId,
    mail_domain: Option<String>,
    old_mx: Vec<String>,
) -> IpcResult<WatchView> {
    let copy = runs.domain(domain)?;
    let question = match mail_domain.map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase()) {
        Some(d) if !d.is_empty() && !old_mx.is_empty() => Some(Question {
            domain: crate::commands::cutover::domain_name(&d)?,
            new_hosts: Vec::new(),
            old_hosts: old_mx,
            resolvers: Vec::new(),
            system: true,
            own_port: 53,
        }),
        _ => None,
    };
    let watch = watches.start(&copy, settings(), question, runs.notifier())?;
    let view = watch.view.borrow().clone();
    Ok(view)
}

/// Sends the watch's view now and after each change (coalesced) until the
/// window goes away.
pub fn follow_watch(
    watches: State<'_, Watches>,
    domain: DomainId,
    on_update: Channel<WatchView>,
) -> IpcResult<()> {
    let watch = watches.get(domain).ok_or_else(not_watching)?;
    super::copy::send_coalesced(watch.view.subscribe(), on_update);
    Ok(())
}

/// The latest watch of this session, for a window that re-attaches.
pub fn current_watch(watches: State<'_, Watches>) -> Option<WatchView> {
    watches.latest().map(|w| w.view.borrow().clone())
}

/// Stops the watch and waits for it.
pub async fn stop_watch(watches: State<'_, Watches>, domain: DomainId) -> IpcResult<()> {
    let watch = watches.get(domain).ok_or_else(not_watching)?;
    tauri::async_runtime::spawn_blocking(move || watch.stop())
        .await
        .map_err(IpcError::internal)
}

fn not_watching() -> IpcError {
    IpcError::invalid("MailFerry isn't watching the old server for this copy.")
}
