//! Step 8, "Check": count the messages on both sides of every folder,
//! list what didn't arrive and why, and search the log of every message's
//! fate. Reads only.

use crate::error::{IpcError, IpcResult};
use crate::runs::{RunId, Runs};
use mailferry::folder::Target;
use mailferry::state::Fate;
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
    /// Messages in the source folder now.
    pub source_count: u32,
    /// Messages in the destination folder now.
    pub destination_count: u32,
    /// Left out on purpose by the last copy (with `note`).
    #[ts(type = "number")]
    pub skipped: u64,
    /// Refused by the destination in the last copy.
    #[ts(type = "number")]
    pub failed: u64,
    /// The difference explained, in plain words ("" when the counts match).
    pub note: String,
}

/// A message that didn't arrive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct Missing {
    /// Source folder.
    pub folder: String,
    /// Subject, From, Date (untrusted text).
    pub subject: Option<String>,
    /// From header.
    pub from: Option<String>,
    /// Date header.
    pub date: Option<String>,
    /// Why, and what to do.
    pub reason: String,
}

/// The verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Everything arrived.
    AllArrived,
    /// Some messages need attention.
    NeedsAttention,
}

/// What the check found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct Verification {
    /// The verdict.
    pub verdict: Verdict,
    /// Messages that should be at the destination (source minus skipped on purpose).
    #[ts(type = "number")]
    pub expected: u64,
    /// Of those, how many are there.
    #[ts(type = "number")]
    pub arrived: u64,
    /// Per folder.
    pub folders: Vec<FolderAudit>,
    /// Messages that did not arrive.
    pub missing: Vec<Missing>,
    /// Source folders the folder map left out, with the reason.
    pub excluded_folders: Vec<[String; 2]>,
}

/// Counts both sides after a finished copy.
#[tauri::command]
pub async fn verify(runs: State<'_, Runs>, run: RunId) -> IpcResult<Verification> {
    let run = runs.get(run)?;
    let report = run
        .report
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .ok_or_else(|| {
            IpcError::invalid("The copy hasn't finished yet: check it when it is done.")
        })?;
    let mut pair = super::open_pair(&run.source, &run.dest).await?;
    let mut folders = Vec::new();
    let (mut expected, mut arrived) = (0u64, 0u64);
    for entry in &pair.map.entries {
        let Target::Folder { name, .. } = &entry.target else {
            continue;
        };
        let Some(done) = report
            .folders
            .iter()
            .find(|f| f.source == entry.source.display())
        else {
            continue;
        };
        let source_count = pair.source.examine(entry.source.wire()).await?.exists;
        let destination_count = pair.dest.examine(name.wire()).await?.exists;
        let accounted = done.transferred + done.already_there;
        expected += accounted + done.failed;
        arrived += accounted.min(u64::from(destination_count));
        let mut notes = Vec::new();
        if done.skipped > 0 {
            notes.push(format!(
                "{} left out on purpose (already copied from another Gmail label, or filtered)",
                done.skipped
            ));
        }
        if done.failed > 0 {
            notes.push(format!(
                "{} refused by the new server (listed below)",
                done.failed
            ));
        }
        if u64::from(destination_count) > accounted {
            notes.push(format!(
                "{} more at the destination than copied: they were there before",
                u64::from(destination_count) - accounted
            ));
        }
        folders.push(FolderAudit {
            source: entry.source.display().to_owned(),
            destination: name.display().to_owned(),
            source_count,
            destination_count,
            skipped: done.skipped,
            failed: done.failed,
            note: notes.join("; "),
        });
    }
    pair.source.logout().await;
    pair.dest.logout().await;
    let missing: Vec<Missing> = report
        .folders
        .iter()
        .flat_map(|f| {
            f.errors.iter().map(move |m| Missing {
                folder: f.source.clone(),
                subject: m.subject.clone(),
                from: m.from.clone(),
                date: m.date.clone(),
                reason: m.reason.clone(),
            })
        })
        .collect();
    Ok(Verification {
        verdict: if missing.is_empty() && arrived == expected {
            Verdict::AllArrived
        } else {
            Verdict::NeedsAttention
        },
        expected,
        arrived,
        folders,
        missing,
        excluded_folders: report
            .excluded_folders
            .iter()
            .map(|(f, why)| [f.clone(), why.clone()])
            .collect(),
    })
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

/// A message's fate in words.
pub fn fate_words(fate: &Fate) -> String {
    match fate {
        Fate::Copied => "copied".into(),
        Fate::AlreadyThere => "was already there".into(),
        Fate::Excluded { rule } => format!("left out: {rule}"),
        Fate::Skipped { reason } => format!("not copied: {}", mailferry::run::skip_words(*reason)),
        Fate::Failed {
            server_text,
            attempts,
            ..
        } => format!(
            "refused by the new server after {attempts} tr{}{}",
            if *attempts == 1 { "y" } else { "ies" },
            server_text
                .as_deref()
                .map(|t| format!(": {t}"))
                .unwrap_or_default()
        ),
        Fate::Removed => "removed at the destination (deleted at the source)".into(),
    }
}

/// Searches the log of every message's fate by sender, subject or date.
#[tauri::command]
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
            fate: fate_words(&e.fate),
            folder: e.source_folder,
            destination: e.dest_folder,
            subject: e.subject,
            from: e.from,
            date: e.date,
        })
        .collect())
}
