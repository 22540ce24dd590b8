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

    /// The plan as lines a person (or `--dry`) can read: `CREATE "name"`, `SUBSCRIBE "name"`.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for op in &self.ops {
            match op {
                FolderOp::Create {
                    name,
                    special_use: Some(s),
                } => out.push_str(&format!(
                    "CREATE \"{}\" (USE ({}))\n",
                    name.display(),
                    s.attribute_text()
                )),
                FolderOp::Create { name, .. } => {
                    out.push_str(&format!("CREATE \"{}\"\n", name.display()))
                }
                FolderOp::Subscribe { name } => {
                    out.push_str(&format!("SUBSCRIBE \"{}\"\n", name.display()))
                }
            }
        }
        out
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

#[cfg(test)]
mod tests {
    use expect_test::{expect, Expect};

    use super::*;
    use crate::folder::map::map_folders;
    use crate::folder::map::tests::{exchange, gmail, tree};
    use crate::folder::rules::{Pattern, Rules};

    /// Plans, checks the plan, applies it, maps and plans again: the second plan must be empty.
    fn check(source: &FolderTree, dest: &FolderTree, rules: &Rules, expected: Expect) {
        let map = map_folders(source, dest, rules);
        let plan = plan_create(&map, dest).unwrap();
        expected.assert_eq(&plan.render_text());
        let after = plan.applied_to(dest);
        let again = map_folders(source, &after, rules);
        let targets = |m: &FolderMap| -> Vec<Option<String>> {
            m.entries
                .iter()
                .map(|e| match &e.target {
                    Target::Folder { name, .. } => Some(name.wire().to_owned()),
                    Target::Excluded => None,
                })
                .collect()
        };
        assert_eq!(
            targets(&again),
            targets(&map),
            "the map is stable once applied"
        );
        let second = plan_create(&again, &after).unwrap();
        assert!(
            second.is_empty(),
            "a second run creates nothing: {second:?}"
        );
    }

    #[test]
    fn gmail_to_exchange_creates_labels_and_subscribes_them() {
        check(
            &gmail(),
            &exchange(),
            &Rules::default(),
            expect![[r#"
            CREATE "Clients"
            CREATE "Clients/Acme"
            CREATE "Files (old)"
            SUBSCRIBE "Clients"
            SUBSCRIBE "Clients/Acme"
            SUBSCRIBE "Files (old)"
        "#]],
        );
    }

    #[test]
    fn a_missing_special_folder_is_created_with_its_role_when_supported() {
        let source = gmail();
        let mut dest = tree(
            &[
                r#"* LIST () "/" INBOX"#,
                r#"* LIST (\Sent) "/" Sent"#,
                r#"* LIST (\Drafts) "/" Drafts"#,
            ],
            false,
        );
        dest.can_create_special_use = true;
        check(
            &source,
            &dest,
            &Rules::default(),
            expect![[r#"
            CREATE "Clients"
            CREATE "Clients/Acme"
            CREATE "Files"
            CREATE "Archive" (USE (\Archive))
            SUBSCRIBE "INBOX"
            SUBSCRIBE "Clients"
            SUBSCRIBE "Clients/Acme"
            SUBSCRIBE "Files"
            SUBSCRIBE "Drafts"
            SUBSCRIBE "Sent"
            SUBSCRIBE "Archive"
        "#]],
        );
        // Without CREATE-SPECIAL-USE it is a plain CREATE.
        dest.can_create_special_use = false;
        let plan = plan_create(&map_folders(&source, &dest, &Rules::default()), &dest).unwrap();
        assert!(plan.render_text().contains("CREATE \"Archive\"\n"));
    }

    #[test]
    fn deep_hierarchy_creates_parents_first_each_once() {
        let source = tree(
            &[
                r#"* LIST () "/" INBOX"#,
                r#"* LIST () "/" "L1/L2/L3/L4/L5/L6/L7/L8/L9/L10/L11/L12""#,
                r#"* LIST () "/" "L1/L2/L3/other""#,
            ],
            true,
        );
        let dest = tree(
            &[r#"* LIST () "." INBOX"#, r#"* LIST (\Noselect) "." L1"#],
            true,
        );
        check(
            &source,
            &dest,
            &Rules::default(),
            expect![[r#"
            CREATE "L1.L2"
            CREATE "L1.L2.L3"
            CREATE "L1.L2.L3.L4"
            CREATE "L1.L2.L3.L4.L5"
            CREATE "L1.L2.L3.L4.L5.L6"
            CREATE "L1.L2.L3.L4.L5.L6.L7"
            CREATE "L1.L2.L3.L4.L5.L6.L7.L8"
            CREATE "L1.L2.L3.L4.L5.L6.L7.L8.L9"
            CREATE "L1.L2.L3.L4.L5.L6.L7.L8.L9.L10"
            CREATE "L1.L2.L3.L4.L5.L6.L7.L8.L9.L10.L11"
            CREATE "L1.L2.L3.L4.L5.L6.L7.L8.L9.L10.L11.L12"
            CREATE "L1.L2.L3.other"
            SUBSCRIBE "L1.L2"
            SUBSCRIBE "L1.L2.L3"
            SUBSCRIBE "L1.L2.L3.L4"
            SUBSCRIBE "L1.L2.L3.L4.L5"
            SUBSCRIBE "L1.L2.L3.L4.L5.L6"
            SUBSCRIBE "L1.L2.L3.L4.L5.L6.L7"
            SUBSCRIBE "L1.L2.L3.L4.L5.L6.L7.L8"
            SUBSCRIBE "L1.L2.L3.L4.L5.L6.L7.L8.L9"
            SUBSCRIBE "L1.L2.L3.L4.L5.L6.L7.L8.L9.L10"
            SUBSCRIBE "L1.L2.L3.L4.L5.L6.L7.L8.L9.L10.L11"
            SUBSCRIBE "L1.L2.L3.L4.L5.L6.L7.L8.L9.L10.L11.L12"
            SUBSCRIBE "L1.L2.L3.other"
        "#]],
        );
    }

    #[test]
    fn courier_destination_never_creates_inbox_and_creates_noselect_targets() {
        let source = tree(
            &[
                r#"* LIST () "/" INBOX"#,
                r#"* LIST () "/" "Clients""#,
                r#"* LIST () "/" "Clients/Acme""#,
            ],
            true,
        );
        let dest = tree(
            &[
                r#"* LIST () "." INBOX"#,
                r#"* LIST (\Noselect \HasChildren) "." INBOX.Clients"#,
                r#"* LIST () "." INBOX.Old"#,
            ],
            true,
        );
        assert_eq!(dest.prefix, "INBOX.");
        check(
            &source,
            &dest,
            &Rules::default(),
            expect![[r#"
            CREATE "INBOX.Clients"
            CREATE "INBOX.Clients.Acme"
            SUBSCRIBE "INBOX.Clients.Acme"
        "#]],
        );
    }

    #[test]
    fn an_excluded_parent_is_created_as_a_container() {
        let source = tree(
            &[
                r#"* LIST () "/" INBOX"#,
                r#"* LIST () "/" "Clients""#,
                r#"* LIST () "/" "Clients/Acme""#,
            ],
            true,
        );
        let dest = tree(&[r#"* LIST () "/" INBOX"#], true);
        let rules = Rules {
            exclude: vec![Pattern::new("^Clients$").unwrap()],
            ..Rules::default()
        };
        check(
            &source,
            &dest,
            &rules,
            expect![[r#"
            CREATE "Clients"
            CREATE "Clients/Acme"
            SUBSCRIBE "Clients"
            SUBSCRIBE "Clients/Acme"
        "#]],
        );
    }

    #[test]
    fn refuses_to_plan_while_a_decision_is_needed() {
        let source = tree(
            &[
                r#"* LIST () "/" INBOX"#,
                r#"* LIST () "/" "Sent""#,
                r#"* LIST () "/" "Sent Items""#,
            ],
            true,
        );
        let dest = tree(
            &[r#"* LIST () "/" INBOX"#, r#"* LIST (\Sent) "/" Sent"#],
            true,
        );
        let map = map_folders(&source, &dest, &Rules::default());
        let err = plan_create(&map, &dest).unwrap_err();
        assert_eq!(err, PlanCreateError::Undecided { count: 1 });
        assert_eq!(
            err.to_string(),
            "cannot create folders while 1 folder question(s) need a decision"
        );
    }

    fn arbitrary_tree(names: Vec<String>, delimiter: Option<char>, prefix: bool) -> FolderTree {
        let mut folders = vec![Folder::new(MailboxName::inbox(), delimiter, vec![])];
        for n in names {
            let display = match (prefix, delimiter) {
                (true, Some(d)) => format!("INBOX{d}{n}"),
                _ => n,
            };
            let Ok(name) = MailboxName::from_display(&display, false) else {
                continue;
            };
            if folders.iter().all(|f| f.name != name) {
                folders.push(Folder::new(name, delimiter, vec![]));
            }
        }
        FolderTree::from_folders(folders, false)
    }

    proptest::proptest! {
        #[test]
        fn applying_a_plan_then_planning_again_creates_nothing(
            src_names in proptest::collection::vec("[ab/. é]{1,8}", 0..8),
            dst_names in proptest::collection::vec("[ab/. é]{1,8}", 0..4),
            src_delim in proptest::option::of(proptest::sample::select(vec!['/', '.'])),
            dst_delim in proptest::option::of(proptest::sample::select(vec!['/', '.'])),
            src_prefix in proptest::bool::ANY,
            dst_prefix in proptest::bool::ANY,
        ) {
            let source = arbitrary_tree(src_names, src_delim, src_prefix);
            let dest = arbitrary_tree(dst_names, dst_delim, dst_prefix);
            let rules = Rules::default();
            let map = map_folders(&source, &dest, &rules);
            proptest::prop_assert_eq!(map.entries.len(), source.folders.len());
            let _ = map.render_text();
            if let Ok(plan) = plan_create(&map, &dest) {
                let after = plan.applied_to(&dest);
                let again = map_folders(&source, &after, &rules);
                let second = plan_create(&again, &after);
                proptest::prop_assert!(
                    matches!(&second, Ok(p) if p.is_empty()),
                    "second plan: {:?}", second
                );
            }
        }
    }
}
