//! Running a [`CreatePlan`] on the destination: CREATE parents first (with CREATE-SPECIAL-USE where planned), then SUBSCRIBE, in flights of operations that do not depend on each other, stopping at the first refusal.
//!
//! Decisions:
//! - **The first refusal stops the run.** Later folders may live inside
//!   the refused one, and half a tree built around a hole is harder to
//!   understand than "stopped at this folder". Nothing is undone: the
//!   folders made so far are kept, and running again (after fixing the
//!   cause) continues, because a new plan holds only what is still missing
//!   and CREATE of an existing folder is not an error. Operations that do
//!   not depend on each other go in one flight (one round trip): folders
//!   at the same depth, then all subscriptions; a refusal in a flight
//!   keeps what the others in it did, and no later flight is sent.
//! - Every refusal of an operation on a folder (the server's NO or BAD, a
//!   name it cannot take) is a [`Refusal`] in the report, not an `Err`:
//!   the run finished, and the report says where it stopped. A lost
//!   connection, a timeout or a busy server is not the folder's fault: it
//!   is [`ApplyReport::lost`], and the caller tries again on a fresh
//!   connection (see `Job::create_folders`).
//! - Idempotent: the plan comes from [`plan_create`](super::plan_create()),
//!   which is empty once the tree is in place; applying a plan twice does
//!   no harm either (an existing folder is "already there", a second
//!   SUBSCRIBE is accepted).

use crate::error::{Error, Problem};
use crate::imap::{FolderCommand, Session};

use super::name::MailboxName;
use super::plan_create::{CreatePlan, FolderOp};

/// A folder operation the destination refused.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The operation that was refused.
    pub op: FolderOp,
    /// The server's refusal (its own words are in [`Error::detail`]).
    pub error: Error,
}

impl Refusal {
    /// The folder concerned.
    pub fn folder(&self) -> &MailboxName {
        match &self.op {
            FolderOp::Create { name, .. } | FolderOp::Subscribe { name } => name,
        }
    }

    /// What happened, in plain words with the next step, naming the folder as a person reads it.
    pub fn describe(&self) -> String {
        let host = match self.error.problem() {
            Problem::ServerRefused { host, .. } | Problem::Protocol { host } => host.clone(),
            _ => "The new server".to_owned(),
        };
        let action = match &self.op {
            FolderOp::Create { .. } => "create the folder",
            FolderOp::Subscribe { .. } => "show (subscribe) the folder",
        };
        let said = self
            .error
            .detail()
            .map(|d| format!(" {}.", d.trim_end_matches('.')))
            .unwrap_or_default();
        format!(
            "{host} refused to {action} \"{}\".{said} MailFerry stopped there; the folders made \
             so far are kept. Rename or skip this folder, or fix the cause on the server, then \
             run again: it continues where it stopped.",
            self.folder().display()
        )
    }
}

/// What applying a plan did.
#[derive(Debug, Clone, Default)]
pub struct ApplyReport {
    /// Folders created, in order.
    pub created: Vec<MailboxName>,
    /// Folders subscribed, in order.
    pub subscribed: Vec<MailboxName>,
    /// The operation that was refused; the run stopped there.
    pub refused: Option<Refusal>,
    /// The operations after the refusal, not attempted.
    pub not_attempted: Vec<FolderOp>,
    /// `(planned, sibling)`: folders the server took for a look-alike one
    /// (the planned name was not listed after CREATE, its look-alike was),
    /// created instead as a sibling such as "Café (2)". Pass to
    /// [`FolderMap::move_to_siblings`](super::FolderMap::move_to_siblings)
    /// before copying.
    pub moved: Vec<(MailboxName, MailboxName)>,
    /// The connection was lost (or timed out, or the server was busy) at
    /// this point: what is listed above was done, the rest was not tried
    /// or is not known.
    pub lost: Option<Error>,
}

impl ApplyReport {
    /// One plain sentence per folder moved to a sibling.
    pub fn moved_lines(&self) -> Vec<String> {
        self.moved
            .iter()
            .map(|(planned, sibling)| {
                format!(
                    "The new server treats \"{}\" as the same folder as a look-alike name \
                     (capital letters or accents), so it was created as \"{}\" instead.",
                    planned.display(),
                    sibling.display()
                )
            })
            .collect()
    }

    /// Whether every operation was done.
    pub fn is_complete(&self) -> bool {
        self.refused.is_none()
    }

    /// One line of counts, like "Created 3 folders and made 4 visible in mail apps."
    pub fn summary(&self) -> String {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        let (c, s) = (self.created.len(), self.subscribed.len());
        if c == 0 && s == 0 && self.refused.is_none() {
            return "Nothing to do: every folder is already there.".to_owned();
        }
        let mut line = format!(
            "Created {c} folder{} and made {s} folder{} visible in mail apps.",
            plural(c),
            plural(s)
        );
        if self.refused.is_some() {
            let n = self.not_attempted.len() + 1;
            line.push_str(&format!(" Stopped with {n} step{} not done.", plural(n)));
        }
        line
    }
}

/// Runs the plan's operations on the destination session: CREATEs in
/// flights, each folder in the flight after its parents' (so a parent is
/// made before anything inside it), then every SUBSCRIBE in one flight.
/// A flight is one round trip however many folders it holds (over a long
/// link, a tree of folders costs its depth, not its size).
///
/// See the module notes: the first refusal stops the run and is reported
/// in [`ApplyReport::refused`]; what was in its flight and done is kept,
/// the later flights are not sent.
///
/// # Errors
/// The session's errors on the LIST after CREATE (a lost connection in
/// CREATE or SUBSCRIBE is [`ApplyReport::lost`], with what was done
/// before it).
pub async fn apply(session: &mut Session, plan: &CreatePlan) -> Result<ApplyReport, Error> {
    let mut report = ApplyReport::default();
    let flights = flights(&plan.ops);
    for (k, flight) in flights.iter().enumerate() {
        let commands: Vec<FolderCommand<'_>> =
            flight.iter().map(|&i| command(&plan.ops[i])).collect();
        let mut not_done: Vec<usize> = Vec::new();
        match session.folder_flight(&commands).await {
            Ok(outcomes) => {
                for (&i, done) in flight.iter().zip(outcomes) {
                    let op = &plan.ops[i];
                    match done {
                        Ok(()) => {
                            tracing::debug!(?op, "folder operation done");
                            match op {
                                FolderOp::Create { name, .. } => report.created.push(name.clone()),
                                FolderOp::Subscribe { name } => {
                                    report.subscribed.push(name.clone())
                                }
                            }
                        }
                        Err(error) if error.is_transient() => {
                            tracing::debug!(
                                ?op,
                                code = error.code(),
                                "server busy in a folder operation"
                            );
                            report.lost.get_or_insert(error);
                        }
                        Err(error) => {
                            tracing::debug!(?op, code = error.code(), "folder operation refused");
                            if report.refused.is_none() {
                                report.refused = Some(Refusal {
                                    op: op.clone(),
                                    error,
                                });
                            } else {
                                not_done.push(i);
                            }
                        }
                    }
                }
            }
            // The connection broke: what the server did of this flight is
            // not known; the caller lists the folders again on a fresh
            // connection and goes on from there.
            Err(error) if error.is_transient() => {
                tracing::debug!(code = error.code(), "connection lost in a folder flight");
                report.lost = Some(error);
                return Ok(report);
            }
            // Anything else ends the flight as a refusal: its first
            // operation carries the error, the others count as not done (a
            // new plan holds what is still missing).
            Err(error) => {
                let op = &plan.ops[flight[0]];
                tracing::debug!(?op, code = error.code(), "folder operation refused");
                report.refused = Some(Refusal {
                    op: op.clone(),
                    error,
                });
                not_done.extend(&flight[1..]);
            }
        }
        if report.lost.is_some() {
            return Ok(report);
        }
        if report.refused.is_some() {
            not_done.extend(flights[k + 1..].iter().flatten());
            not_done.sort_unstable();
            report.not_attempted = not_done.iter().map(|&i| plan.ops[i].clone()).collect();
            break;
        }
    }
    if report.refused.is_none() && !report.created.is_empty() {
        keep_look_alikes_apart(session, plan, &mut report).await?;
    }
    Ok(report)
}

fn command(op: &FolderOp) -> FolderCommand<'_> {
    match op {
        FolderOp::Create { name, special_use } => FolderCommand::Create {
            wire_name: name.wire(),
            special_use: special_use.map(|s| s.attribute_text()),
        },
        FolderOp::Subscribe { name } => FolderCommand::Subscribe {
            wire_name: name.wire(),
        },
    }
}

/// The plan's operations (indexes) in flights: a CREATE goes in the
/// flight after every earlier CREATE of a name its own starts with (its
/// parents, and, to be safe, any name that merely begins the same way),
/// and every SUBSCRIBE after every CREATE.
fn flights(ops: &[FolderOp]) -> Vec<Vec<usize>> {
    let mut level = vec![0usize; ops.len()];
    for (j, op) in ops.iter().enumerate() {
        if let FolderOp::Create { name, .. } = op {
            level[j] = ops[..j]
                .iter()
                .enumerate()
                .filter(|(_, earlier)| {
                    matches!(earlier, FolderOp::Create { name: p, .. } if name.wire().starts_with(p.wire()))
                })
                .map(|(i, _)| level[i] + 1)
                .max()
                .unwrap_or(0);
        }
    }
    let creates = ops
        .iter()
        .zip(&level)
        .filter(|(op, _)| matches!(op, FolderOp::Create { .. }))
        .map(|(_, l)| l + 1)
        .max()
        .unwrap_or(0);
    for (op, l) in ops.iter().zip(level.iter_mut()) {
        if matches!(op, FolderOp::Subscribe { .. }) {
            *l = creates;
        }
    }
    let mut flights: Vec<Vec<usize>> = vec![Vec::new(); level.iter().max().map_or(0, |m| m + 1)];
    for (i, l) in level.iter().enumerate() {
        flights[*l].push(i);
    }
    flights.retain(|f| !f.is_empty());
    flights
}

/// Lists the folders again after CREATE: a created name that is not
/// listed while a look-alike of it is (same letters after NFC and
/// lowercasing) was taken by the server for that other folder (a
/// case-insensitive or normalising server). It gets a sibling of its own,
/// "name (2)" (or 3, …: the first one no other planned folder uses), so
/// that the two folders' mail is never merged. The choice depends only on
/// the plan, so the next run picks the same sibling.
///
/// # Errors
/// The session's errors on LIST; a refused sibling is a [`Refusal`].
async fn keep_look_alikes_apart(
    session: &mut Session,
    plan: &CreatePlan,
    report: &mut ApplyReport,
) -> Result<(), Error> {
    let listed: Vec<MailboxName> = session
        .list("", "*")
        .await?
        .iter()
        .filter_map(|l| MailboxName::from_wire(&l.name, false).ok())
        .collect();
    let planned: Vec<&MailboxName> = plan
        .ops
        .iter()
        .filter_map(|op| match op {
            FolderOp::Create { name, .. } => Some(name),
            FolderOp::Subscribe { .. } => None,
        })
        .collect();
    let mut taken: Vec<MailboxName> = Vec::new();
    for name in &planned {
        let merged = !listed.contains(name)
            && listed
                .iter()
                .any(|l| l.fold_key() == name.fold_key() && l != *name);
        if !merged {
            continue;
        }
        let Some(sibling) = (2..100)
            .filter_map(|k| {
                MailboxName::from_display(&format!("{} ({k})", name.display()), false).ok()
            })
            .find(|n| !planned.contains(&n) && !taken.contains(n))
        else {
            continue;
        };
        let subscribe = plan
            .ops
            .iter()
            .any(|op| matches!(op, FolderOp::Subscribe { name: n } if n == *name));
        tracing::debug!(planned = %name, sibling = %sibling, "look-alike taken by the server");
        let ops = [
            Some(FolderOp::Create {
                name: sibling.clone(),
                special_use: None,
            }),
            subscribe.then(|| FolderOp::Subscribe {
                name: sibling.clone(),
            }),
        ];
        for op in ops.into_iter().flatten() {
            let done = match &op {
                FolderOp::Create { name, .. } => session.create(name.wire(), None).await,
                FolderOp::Subscribe { name } => session.subscribe(name.wire()).await,
            };
            match done {
                Err(error) if error.is_transient() => return Err(error),
                Err(error) => {
                    report.refused = Some(Refusal { op, error });
                    return Ok(());
                }
                Ok(()) => {}
            }
        }
        report.created.push(sibling.clone());
        if subscribe {
            report.subscribed.push(sibling.clone());
        }
        taken.push(sibling.clone());
        report.moved.push(((*name).clone(), sibling));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_flies_after_its_parents_and_subscriptions_after_every_folder() {
        let name = |d: &str| MailboxName::from_display(d, false).unwrap();
        let create = |d: &str| FolderOp::Create {
            name: name(d),
            special_use: None,
        };
        let subscribe = |d: &str| FolderOp::Subscribe { name: name(d) };
        let ops = vec![
            create("Archive"),
            create("Archive/2022"),
            create("Customers"),
            create("Customers/Acme"),
            create("Customers/Acme/Orders"),
            create("Lists"),
            create("Archive/2023"),
            subscribe("INBOX"),
            subscribe("Archive"),
            subscribe("Customers/Acme/Orders"),
        ];
        assert_eq!(
            flights(&ops),
            vec![vec![0, 2, 5], vec![1, 3, 6], vec![4], vec![7, 8, 9]]
        );
        assert_eq!(flights(&[subscribe("INBOX")]), vec![vec![0]]);
        assert!(flights(&[]).is_empty());
    }

    #[test]
    fn a_refusal_names_the_folder_as_people_read_it_and_says_what_next() {
        let name = MailboxName::from_display("Cartório/2024", false).unwrap();
        let r = Refusal {
            op: FolderOp::Create {
                name,
                special_use: None,
            },
            error: Error::new(Problem::ServerRefused {
                host: "mail.example.com".into(),
                action: "create the folder \"Cart&APM-rio/2024\"".into(),
            })
            .with_detail("The server said: [CANNOT] Invalid mailbox name"),
        };
        let text = r.describe();
        assert!(
            text.starts_with("mail.example.com refused to create the folder \"Cartório/2024\".")
        );
        assert!(text.contains("[CANNOT] Invalid mailbox name"), "{text}");
        assert!(text.contains("run again"), "{text}");
        assert!(
            !text.contains("&APM-"),
            "no wire form in the message: {text}"
        );
    }

    #[test]
    fn summary_counts_and_the_nothing_to_do_case() {
        let mut report = ApplyReport::default();
        assert_eq!(
            report.summary(),
            "Nothing to do: every folder is already there."
        );
        report
            .created
            .push(MailboxName::from_display("A", false).unwrap());
        report
            .subscribed
            .push(MailboxName::from_display("A", false).unwrap());
        report
            .subscribed
            .push(MailboxName::from_display("B", false).unwrap());
        assert_eq!(
            report.summary(),
            "Created 1 folder and made 2 folders visible in mail apps."
        );
    }
}
