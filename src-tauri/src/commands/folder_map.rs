//! Step 6, "Folder map": where every source folder lands, and why; the
//! user's edits (rename a destination, leave a folder out, bring a skipped
//! one back) become the engine's folder [`Rules`] for the map and the run.
//! Reads both folder lists; changes nothing.

use crate::accounts::{AccountHandle, Accounts};
use crate::error::{IpcError, IpcResult};
use mailferry::folder::map::Conflict;
use mailferry::folder::name::split_segments;
use mailferry::folder::rules::{FolderPair, Pattern};
use mailferry::folder::{FolderMap, MergePolicy, Rules, Target};
use mailferry::job::ProgressFile;
use serde::{Deserialize, Serialize};
use tauri::State;
use ts_rs::TS;

/// The user's changes to the default map, by source folder (display names).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct FolderEdits {
    /// `[source, destination]`: this folder (and its subfolders) goes there.
    pub renames: Vec<[String; 2]>,
    /// Folders left out (their subfolders are still copied unless left out too).
    pub excluded: Vec<String>,
    /// Folders skipped by default that are copied after all.
    pub included: Vec<String>,
    /// Two folders going to one destination folder are copied into it
    /// together (instead of a question to settle).
    #[serde(default)]
    pub merge: bool,
}

impl FolderEdits {
    /// The engine rules these edits stand for: a rename or an inclusion is
    /// an explicit pair (which beats the default exclusions), a left-out
    /// folder an exclude pattern matching exactly its name. Leaving a
    /// folder out wins over renaming it.
    pub fn rules(&self, source_delimiter: Option<char>) -> IpcResult<Rules> {
        let mut rules = Rules {
            merge_policy: if self.merge {
                MergePolicy::Merge
            } else {
                MergePolicy::Ask
            },
            ..Rules::default()
        };
        let excluded = |name: &str| self.excluded.iter().any(|e| e == name);
        for [source, target] in &self.renames {
            let target = target.trim();
            if source.is_empty() || target.is_empty() {
                return Err(IpcError::invalid(
                    "A folder needs a name on the new server.",
                ));
            }
            if target.len() > 1000 || target.chars().any(char::is_control) {
                return Err(IpcError::invalid(
                    "That folder name is too long or has characters a folder name can't have.",
                ));
            }
            if !excluded(source) {
                rules.pairs.push(FolderPair {
                    source: source.clone(),
                    target: target.to_owned(),
                });
            }
        }
        for source in &self.included {
            let renamed = self.renames.iter().any(|[s, _]| s == source);
            if !renamed && !excluded(source) {
                // A skipped folder comes back under its own last name
                // ("[Gmail]/Spam" -> "Spam"); the user can rename it.
                let leaf = split_segments(source, source_delimiter)
                    .last()
                    .copied()
                    .unwrap_or(source)
                    .to_owned();
                rules.pairs.push(FolderPair {
                    source: source.clone(),
                    target: leaf,
                });
            }
        }
        for source in &self.excluded {
            let exact = format!("^{}$", regex::escape(source));
            rules
                .exclude
                .push(Pattern::new(&exact).map_err(IpcError::internal)?);
        }
        Ok(rules)
    }
}

impl FolderEdits {
    /// The edits as the engine's folder rules for any source tree, checked
    /// now (the checks don't depend on the tree's folder separator).
    pub fn into_rules(self) -> IpcResult<crate::runs::FolderRules> {
        self.rules(None)?;
        Ok(std::sync::Arc::new(
            move |tree: &mailferry::folder::FolderTree| {
                self.rules(tree.delimiter)
                    .expect("the folder edits were checked when they were given")
            },
        ))
    }
}

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
    /// How deep the source folder sits in its tree (0 at the top).
    pub depth: u32,
    /// How deep the destination folder sits in its tree.
    pub target_depth: u32,
    /// The row is part of a conflict that needs a decision.
    pub conflict: bool,
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
    /// Some question is two folders going into one: merging them settles it.
    pub can_merge: bool,
}

/// Whether a source folder takes part in a conflict that needs a decision.
fn in_conflict(map: &FolderMap, source: &str) -> bool {
    // Look-alike names (`CaseCollision`) are a note, not a question: the
    // copy keeps them apart (see `FolderMap::move_to_siblings`).
    map.conflicts.iter().any(|c| match c {
        Conflict::SharedTarget { sources, .. } => sources.iter().any(|s| s.display() == source),
        Conflict::UnfitName { source: s, .. } => s.display() == source,
        _ => false,
    })
}

fn depth(name: &str, delimiter: Option<char>) -> u32 {
    split_segments(name, delimiter).len().saturating_sub(1) as u32
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
                    let source = e.source.display();
                    FolderRow {
                        source: source.to_owned(),
                        depth: depth(source, map.source_delimiter),
                        target_depth: target
                            .as_deref()
                            .map_or(0, |t| depth(t, map.dest_delimiter)),
                        conflict: in_conflict(map, source),
                        target,
                        exists,
                        reasons: e.reasons.iter().map(|r| r.describe()).collect(),
                    }
                })
                .collect(),
            conflicts: map.conflicts.iter().map(|c| c.describe()).collect(),
            decisions_needed: map.decisions_needed() as u32,
            summary: map.summary(),
            can_merge: map
                .conflicts
                .iter()
                .any(|c| matches!(c, Conflict::SharedTarget { .. })),
        }
    }
}

/// The folder map between two signed-in accounts, with the user's edits.
pub async fn folder_map(
    accounts: State<'_, Accounts>,
    source: AccountHandle,
    destination: AccountHandle,
    edits: Option<FolderEdits>,
) -> IpcResult<FolderMapView> {
    let (source, destination) = (accounts.get(source)?, accounts.get(destination)?);
    map_view(&source, &destination, &edits.unwrap_or_default()).await
}

/// Reads both folder trees and maps them with the user's edits.
pub async fn map_view(
    source: &crate::accounts::Account,
    destination: &crate::accounts::Account,
    edits: &FolderEdits,
) -> IpcResult<FolderMapView> {
    let progress = ProgressFile::at(super::copy::job_path(source, destination)?);
    let rules = edits.clone().into_rules()?;
    let job = crate::runs::open_job(source, destination, &*rules, progress).await?;
    let view = FolderMapView::from(job.mapped());
    job.close().await;
    Ok(view)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_become_pairs_and_exact_exclusions() {
        let edits = FolderEdits {
            renames: vec![
                ["Receipts".into(), " Old receipts ".into()],
                ["Clients".into(), "Customers".into()],
            ],
            excluded: vec!["[Gmail]/Spam".into(), "Clients".into()],
            included: vec!["[Gmail]/Trash".into()],
            merge: false,
        };
        let rules = edits.rules(Some('/')).unwrap();
        assert_eq!(rules.merge_policy, MergePolicy::Ask);
        let merging = FolderEdits {
            merge: true,
            ..FolderEdits::default()
        };
        assert_eq!(
            merging.rules(None).unwrap().merge_policy,
            MergePolicy::Merge
        );
        let pairs: Vec<String> = rules.pairs.iter().map(ToString::to_string).collect();
        assert_eq!(
            pairs,
            ["Receipts=Old receipts", "[Gmail]/Trash=Trash"],
            "leaving a folder out wins over renaming it"
        );
        let spam = &rules.exclude[0];
        assert!(spam.is_match("[Gmail]/Spam"));
        assert!(!spam.is_match("[Gmail]/Spam old"), "only that folder");
        assert!(!spam.is_match("G"), "brackets are not a character class");
        assert!(
            !rules.exclude[1].is_match("Clients/Acme"),
            "its subfolders stay"
        );
    }

    #[test]
    fn an_empty_or_control_character_name_is_refused() {
        for bad in ["  ", "a\u{7}b"] {
            let edits = FolderEdits {
                renames: vec![["Receipts".into(), bad.into()]],
                ..FolderEdits::default()
            };
            assert_eq!(
                edits.rules(Some('/')).unwrap_err().code,
                crate::error::ErrorCode::InvalidInput
            );
        }
    }
}
