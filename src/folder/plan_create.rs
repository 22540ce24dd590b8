//! Which folders to CREATE (parents first, with CREATE-SPECIAL-USE where it helps) and SUBSCRIBE at the destination so that the map holds; pure, and empty the second time.

use std::collections::HashSet;

use serde::Serialize;

use super::map::{FolderMap, Target};
use super::name::{join_segments, split_segments, MailboxName};
use super::tree::{Attribute, Folder, FolderTree, SpecialUse};

/// One operation on the destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum FolderOp {
    /// `CREATE name`, or `CREATE name (USE (\Role))` when `special_use` is set.
    Create {
        /// The folder to create (destination wire form).
        name: MailboxName,
        /// The SPECIAL-USE role to create it with (RFC 6154 CREATE-SPECIAL-USE).
        special_use: Option<SpecialUse>,
    },
    /// `SUBSCRIBE name`.
    Subscribe {
        /// The folder to subscribe.
        name: MailboxName,
    },
}

/// The ordered operations: every CREATE (parents before children, each once), then every SUBSCRIBE.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct CreatePlan {
    /// The operations, in the order to run them.
    pub ops: Vec<FolderOp>,
}

/// Why folders cannot be planned yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanCreateError {
    /// The map still has conflicts that need a decision.
    #[error("cannot create folders while {count} folder question(s) need a decision")]
    Undecided {
        /// How many.
        count: usize,
    },
}

impl CreatePlan {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The destination tree as it will be after the plan has run (for previews and tests).
    pub fn applied_to(&self, dest: &FolderTree) -> FolderTree {
        let mut tree = dest.clone();
        for op in &self.ops {
            match op {
                FolderOp::Create { name, special_use } => {
                    if let Some(f) = tree.folders.iter_mut().find(|f| &f.name == name) {
                        f.attributes
                            .retain(|a| !matches!(a, Attribute::NoSelect | Attribute::NonExistent));
                    } else {
                        let attributes = special_use.map(Attribute::Special).into_iter().collect();
                        tree.folders
                            .push(Folder::new(name.clone(), dest.delimiter, attributes));
                    }
                }
                FolderOp::Subscribe { name } => {
                    if let Some(f) = tree.folders.iter_mut().find(|f| &f.name == name) {
                        f.subscribed = true;
                    }
                }
            }
        }
        tree
    }
}

/// Plans the CREATE and SUBSCRIBE operations that make the destination hold the map's folders.
///
/// - Every missing parent is created before its children, each name once;
///   the INBOX is never created.
/// - A destination folder that is listed but `\Noselect` is created, so it can hold mail.
/// - A new special folder is created with `USE (\Role)` when the
///   destination supports CREATE-SPECIAL-USE and has no folder with that
///   role yet.
/// - Every target folder and every created parent is subscribed unless it is
///   already, so that mail clients show the tree.
///
/// Running the plan and planning again against the new tree gives an empty plan.
///
/// # Errors
/// [`PlanCreateError::Undecided`] while the map has conflicts that need a decision.
pub fn plan_create(map: &FolderMap, dest: &FolderTree) -> Result<CreatePlan, PlanCreateError> {
    let count = map.decisions_needed();
    if count > 0 {
        return Err(PlanCreateError::Undecided { count });
    }
    let mut creates: Vec<FolderOp> = Vec::new();
    let mut subscribes: Vec<FolderOp> = Vec::new();
    let mut planned: HashSet<String> = HashSet::new();
    let mut subscribed: HashSet<String> = HashSet::new();
    let mut roles_planned: HashSet<SpecialUse> = HashSet::new();

    let mut subscribe = |name: &MailboxName, subscribes: &mut Vec<FolderOp>| {
        let already = dest.find(name).is_some_and(|f| f.subscribed);
        if !already && subscribed.insert(name.wire().to_owned()) {
            subscribes.push(FolderOp::Subscribe { name: name.clone() });
        }
    };

    for e in &map.entries {
        let Target::Folder { name, special, .. } = &e.target else {
            continue;
        };
        let levels = split_segments(name.display(), dest.delimiter);
        for k in 1..levels.len() {
            let parent_display = join_segments(&levels[..k], dest.delimiter);
            let Ok(parent) = MailboxName::from_display(&parent_display, dest.utf8) else {
                continue;
            };
            if parent.is_inbox() {
                continue;
            }
            if dest.find(&parent).is_none() && planned.insert(parent.wire().to_owned()) {
                creates.push(FolderOp::Create {
                    name: parent.clone(),
                    special_use: None,
                });
                subscribe(&parent, &mut subscribes);
            }
        }
        let needs_create = match dest.find(name) {
            Some(f) => !f.is_selectable(),
            None => !name.is_inbox(),
        };
        if needs_create && planned.insert(name.wire().to_owned()) {
            let special_use = special.filter(|s| {
                dest.can_create_special_use
                    && dest.special(*s).is_none()
                    && roles_planned.insert(*s)
            });
            creates.push(FolderOp::Create {
                name: name.clone(),
                special_use,
            });
        }
        subscribe(name, &mut subscribes);
    }
    creates.extend(subscribes);
    Ok(CreatePlan { ops: creates })
}
