//! Step 6, "Folder map": where every source folder lands, and why. Reads
//! both folder lists; changes nothing.

use crate::accounts::{AccountHandle, Accounts};
use crate::error::IpcResult;
use mailferry::folder::{FolderMap, Target};
use serde::Serialize;
use tauri::State;
use ts_rs::TS;

/// One row of the preview.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct FolderRow {
    /// The source folder (display name; untrusted text).
    pub source: String,
    /// Where it goes; `None` when it is skipped.
    pub target: Option<String>,
    /// The destination folder exists already.
    pub exists: bool,
    /// The reasons, in plain words ("Sent folder", "skipped: spam").
    pub reasons: Vec<String>,
}

/// The whole preview.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct FolderMapView {
    /// One row per source folder, in copy order.
    pub rows: Vec<FolderRow>,
    /// Questions and warnings, in plain words.
    pub conflicts: Vec<String>,
    /// How many of them need a decision before anything is copied.
    pub decisions_needed: u32,
    /// "22 folders, 3 skipped, 1 needs a decision".
    pub summary: String,
}

impl From<&FolderMap> for FolderMapView {
    fn from(map: &FolderMap) -> Self {
        FolderMapView {
            rows: map
                .entries
                .iter()
                .map(|e| {
                    let (target, exists) = match &e.target {
                        Target::Folder { name, exists, .. } => {
                            (Some(name.display().to_owned()), *exists)
                        }
                        Target::Excluded => (None, false),
                    };
                    FolderRow {
                        source: e.source.display().to_owned(),
                        target,
                        exists,
                        reasons: e.reasons.iter().map(|r| r.describe()).collect(),
                    }
                })
                .collect(),
            conflicts: map.conflicts.iter().map(|c| c.describe()).collect(),
            decisions_needed: map.decisions_needed() as u32,
            summary: map.summary(),
        }
    }
}

/// The folder map between two signed-in accounts.
#[tauri::command]
pub async fn folder_map(
    accounts: State<'_, Accounts>,
    source: AccountHandle,
    destination: AccountHandle,
) -> IpcResult<FolderMapView> {
    let (source, destination) = (accounts.get(source)?, accounts.get(destination)?);
    let pair = super::open_pair(&source, &destination).await?;
    let view = FolderMapView::from(&pair.map);
    pair.source.logout().await;
    pair.dest.logout().await;
    Ok(view)
}
