//! Step 8, "Check": count the messages on both sides of every folder,
//! list what didn't arrive and why, and search the log of every message's
//! fate. Reads only.

use crate::error::{IpcError, IpcResult};
use crate::runs::{RunId, Runs};
use mailferry::spot::SpotCheck;
use mailferry::verify::Audit;
use serde::Serialize;
use tauri::State;
use ts_rs::TS;

/// One folder, counted on both sides.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct FolderAudit {
    /// Source folder.
    pub source: String,
    /// Destination folder.
    pub destination: String,
    /// Messages in the source folder.
    #[ts(type = "number")]
    pub source_count: u64,
    /// Messages in the destination folder.
    #[ts(type = "number")]
    pub destination_count: u64,
    /// Source messages not in this destination folder.
    #[ts(type = "number")]
    pub missing: u64,
    /// Of those, how many are at the destination through another folder
    /// (Gmail labels).
    #[ts(type = "number")]
    pub in_other_folders: u64,
    /// Messages only at the destination (there before).
    #[ts(type = "number")]
    pub only_at_destination: u64,
}

/// A message that didn't arrive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct Missing {
    /// Source folder.
    pub folder: String,
    /// Subject (untrusted text).
    pub subject: Option<String>,
    /// From header.
    pub from: Option<String>,
    /// Date header.
    pub date: Option<String>,
    /// Why, and what to do.
    pub reason: String,
    /// The reason is a known, deliberate one (a rule, a refusal on record).
    pub explained: bool,
}

/// What the check found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct Verification {
    /// Every gap is explained: safe to switch the domain.
    pub safe_to_switch: bool,
    /// Messages at the source in the audited folders.
    #[ts(type = "number")]
    pub source_total: u64,
    /// Per folder.
    pub folders: Vec<FolderAudit>,
    /// Messages that are not at the destination.
    pub missing: Vec<Missing>,
    /// Source folders the folder map left out, with the reason.
    pub excluded_folders: Vec<[String; 2]>,
    /// What to do once the move is finished (the engine's closing
    /// checklist).
    pub closing: Vec<String>,
    /// The four checks a person would do by hand, old and new server side
    /// by side (the engine's spot check); absent when it wasn't done.
    pub spot_check: Option<SpotCheck>,
}

/// Audits both sides (the engine's `verify`): counts, and every source
/// message missing at the destination with its recorded reason.
pub async fn verify(runs: State<'_, Runs>, run: RunId) -> IpcResult<Verification> {
    verify_run(runs.get(run)?).await
}

/// The audit of one run, with the folder map its copy used (the run keeps
/// it for the report).
pub async fn verify_run(run: std::sync::Arc<crate::runs::Run>) -> IpcResult<Verification> {
    let (audit, spot) = run.check().await?;
    Ok(Verification::from(&audit).with_spot_check(spot))
}

impl Verification {
    /// The same, with the spot check done over the same map.
    pub fn with_spot_check(mut self, spot: SpotCheck) -> Verification {
        self.spot_check = Some(spot);
        self
    }
}

impl From<&Audit> for Verification {
    /// The engine's audit as the check screen shows it; the engine's one
    /// rule decides: a message left for the big-message pass, or a folder
    /// that could not be read, is not safe yet.
    fn from(audit: &Audit) -> Self {
        Verification {
            safe_to_switch: audit.safe_to_switch,
            source_total: audit.folders.iter().map(|f| f.source_messages).sum(),
            missing: audit.folders.iter().flat_map(missing_in).collect(),
            folders: audit
                .folders
                .iter()
                .map(|f| FolderAudit {
                    source: f.source.clone(),
                    destination: f.destination.clone(),
                    source_count: f.source_messages,
                    destination_count: f.destination_messages,
                    missing: f.missing.len() as u64,
                    in_other_folders: f.in_other_folders,
                    only_at_destination: f.only_at_destination,
                })
                .collect(),
            excluded_folders: (audit.excluded_folders.iter())
                .map(|(f, why)| [f.clone(), why.clone()])
                .collect(),
            closing: mailferry::verify::CLOSING.map(str::to_owned).to_vec(),
            spot_check: None,
        }
    }
}

/// A folder's missing messages; a folder that could not be checked is one
/// line of its own.
fn missing_in(f: &mailferry::verify::FolderAudit) -> impl Iterator<Item = Missing> + '_ {
    let unchecked = f.unreadable.as_ref().map(|why| Missing {
        folder: f.source.clone(),
        subject: None,
        from: None,
        date: None,
        reason: format!("this folder could not be checked ({why}); try the check again"),
        explained: false,
    });
    unchecked
        .into_iter()
        .chain(f.missing.iter().map(move |m| Missing {
            folder: f.source.clone(),
            subject: m.subject.clone(),
            from: m.from.clone(),
            date: m.date.clone(),
            reason: m.reason.clone(),
            explained: m.explained,
        }))
}

/// One message's fate, as the log shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct LogLine {
    /// Source folder.
    pub folder: String,
    /// Where it went.
    pub destination: Option<String>,
    /// Subject (untrusted text).
    pub subject: Option<String>,
    /// From header.
    pub from: Option<String>,
    /// Date header.
    pub date: Option<String>,
    /// What happened, in plain words.
    pub fate: String,
}

/// Searches the log of every message's fate by sender, subject or date.
pub fn search_log(runs: State<'_, Runs>, run: RunId, text: String) -> IpcResult<Vec<LogLine>> {
    let run = runs.get(run)?;
    let text = text.chars().take(200).collect::<String>();
    let Some(state) = mailferry::state::State::open_read_only(&run.state_path)
        .map_err(|e| IpcError::internal(e.to_string()))?
    else {
        return Ok(Vec::new());
    };
    let entries = state
        .search_log(text.trim(), 200)
        .map_err(|e| IpcError::internal(e.to_string()))?;
    Ok(entries
        .into_iter()
        .map(|e| LogLine {
            fate: e.fate.words(e.dest_folder.as_deref()),
            folder: e.source_folder,
            destination: e.dest_folder,
            subject: e.subject,
            from: e.from,
            date: e.date,
        })
        .collect())
}
