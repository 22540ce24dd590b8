//! The folder map: a pure function from (source tree, destination tree, rules) to where every source folder lands and why, shown to the user before anything is copied.
//!
//! [`map_folders`] does no I/O and reads no clock. Its precedence, for each
//! source folder (the first step that decides wins; full details on
//! [`Rules`]):
//!
//! 1. explicit pairs (`--f1f2 'A=B'`);
//! 2. include/exclude patterns on the source name (exclude wins);
//! 3. default exclusions (`\Noselect`, Gmail views, Exchange non-mail) and
//!    Gmail's All Mail policy;
//! 4. special use by attribute, on both sides, at any depth;
//! 5. the localized-name dictionary, on both sides;
//! 6. delimiter and prefix translation (a destination delimiter inside a
//!    name is replaced, never turned into a subfolder);
//! 7. rename rules (`--regextrans2`) on the translated destination name;
//! 8. reserved destination names renamed, not overwritten.
//!
//! Subfolders of a folder placed by 1, 4 or 5 keep their place under it.
//! Gmail's All Mail is the last entry, so that it is copied last.
//!
//! Decisions made here (and why):
//! - Exchange's `Outbox` is copied: it holds mail (possibly an unsent
//!   message); IMAP never sends what is in it.
//! - A source is treated as Exchange-like (and its non-mail folders are
//!   skipped) only if it lists at least two of the well-known non-mail
//!   folders or a Sync Issues folder, so that a Dovecot user's own `Notes`
//!   folder full of mail is not skipped.
//! - Non-Gmail `\All`, `\Flagged` and `\Important` folders are virtual views
//!   (RFC 6154) and are skipped like Gmail's.
//! - A special folder missing at the destination is created under the
//!   source folder's own name (`Sent Items` stays `Sent Items`), except
//!   All Mail, which becomes `Archive`.
//!
//! Not done here: the copy engine enforces the All Mail policy; names are
//! matched by include/exclude and renamed on their decoded display form
//! (imapsync works on the modified UTF-7 bytes).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::name::{fold_key, near_duplicates, parent_of, split_segments, MailboxName};
use super::names_dict::{is_m365_reserved, is_non_mail, is_sync_issues, localized_special_use};
use super::rules::{AllMailPolicy, MergePolicy, Rules};
use super::tree::{strip_prefix, Folder, FolderTree, SpecialUse};

mod entry;
pub use entry::{Conflict, DefaultExclusion, MapEntry, NameProblem, Reason, Target};

/// Where every source folder lands, why, and what needs a decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FolderMap {
    /// One entry per source folder, in listing order, with Gmail's All Mail last.
    pub entries: Vec<MapEntry>,
    /// What to show before copying.
    pub conflicts: Vec<Conflict>,
    /// Whether the source looks like Gmail.
    pub gmail_source: bool,
    /// Whether the source looks like Exchange/M365 (its non-mail folders are skipped).
    pub exchange_source: bool,
    /// The All Mail policy in force (meaningful when `gmail_source`).
    pub all_mail_policy: AllMailPolicy,
    /// The source delimiter, for showing the source tree.
    pub source_delimiter: Option<char>,
    /// The destination delimiter.
    pub dest_delimiter: Option<char>,
}

impl FolderMap {
    /// How many conflicts need a decision before folders are created.
    pub fn decisions_needed(&self) -> usize {
        self.conflicts.iter().filter(|c| c.needs_decision()).count()
    }

    /// This run's map: the folders a question concerns are left out (they
    /// wait for the decision), everything else goes ahead. Returns that map,
    /// without the questions, and the questions.
    pub fn hold_back_questions(&self) -> (FolderMap, Vec<Conflict>) {
        let questions: Vec<Conflict> = self
            .conflicts
            .iter()
            .filter(|c| c.needs_decision())
            .cloned()
            .collect();
        let mut map = self.clone();
        map.entries
            .retain(|e| !questions.iter().any(|q| q.concerns(e)));
        map.conflicts.retain(|c| !c.needs_decision());
        (map, questions)
    }

    /// Sends the folders bound for a planned name the new server took for a
    /// look-alike one to the sibling created instead (`(planned, sibling)`
    /// pairs, as [`ApplyReport::moved`](super::ApplyReport::moved) lists
    /// them), with the reason.
    pub fn move_to_siblings(&mut self, moved: &[(MailboxName, MailboxName)]) {
        for e in &mut self.entries {
            let Target::Folder { name, exists, .. } = &mut e.target else {
                continue;
            };
            if let Some((planned, sibling)) = moved.iter().find(|(p, _)| p == name) {
                e.reasons.push(Reason::LookAlikeMoved {
                    planned: planned.display().to_owned(),
                });
                *name = sibling.clone();
                *exists = true;
            }
        }
    }

    /// Takes out of this run's map every folder bound for `folder` or for a
    /// folder inside it (the new server refused to create it, so nothing
    /// can go there this time), and returns them.
    pub fn hold_back_inside(&mut self, folder: &MailboxName) -> Vec<MapEntry> {
        let inside = |name: &MailboxName| {
            name == folder
                || self.dest_delimiter.is_some_and(|d| {
                    name.wire()
                        .strip_prefix(folder.wire())
                        .is_some_and(|rest| rest.starts_with(d))
                })
        };
        let (held, kept): (Vec<MapEntry>, Vec<MapEntry>) = std::mem::take(&mut self.entries)
            .into_iter()
            .partition(|e| matches!(&e.target, Target::Folder { name, .. } if inside(name)));
        self.entries = kept;
        held
    }

    /// One line of counts, like "22 folders, 3 skipped, 1 needs a decision".
    pub fn summary(&self) -> String {
        let copied = self
            .entries
            .iter()
            .filter(|e| matches!(e.target, Target::Folder { .. }))
            .count();
        let skipped = self.entries.len() - copied;
        let mut s = format!("{copied} folder{}", if copied == 1 { "" } else { "s" });
        if skipped > 0 {
            s.push_str(&format!(", {skipped} skipped"));
        }
        match self.decisions_needed() {
            0 => {}
            1 => s.push_str(", 1 needs a decision"),
            n => s.push_str(&format!(", {n} need a decision")),
        }
        s
    }

    /// The map as a two-column tree with reasons, for the CLI and for tests.
    pub fn render_text(&self) -> String {
        let d = self.source_delimiter;
        // Tree order: INBOX and its subfolders first, then by levels.
        let mut order: Vec<usize> = (0..self.entries.len()).collect();
        let key = |i: &usize| {
            let name = &self.entries[*i].source;
            let segs = split_segments(name.display(), d);
            let inbox_first = !segs[0].eq_ignore_ascii_case("INBOX");
            (inbox_first, segs)
        };
        order.sort_by(|a, b| key(a).cmp(&key(b)));
        let listed: HashMap<&str, ()> = self
            .entries
            .iter()
            .map(|e| (e.source.display(), ()))
            .collect();
        let mut rows: Vec<(String, String, String)> = Vec::new();
        for i in order {
            let e = &self.entries[i];
            let name = e.source.display();
            let mut depth = 0;
            let mut label = name;
            let mut p = parent_of(name, d);
            while let Some(parent) = p {
                if listed.contains_key(parent) {
                    if depth == 0 {
                        label = &name[parent.len() + d.map_or(0, char::len_utf8)..];
                    }
                    depth += 1;
                }
                p = parent_of(parent, d);
            }
            let left = format!("{}{}", "  ".repeat(depth), label);
            let describe = |rs: &[Reason]| {
                let mut tags: Vec<String> = Vec::new();
                for r in rs {
                    let t = r.describe();
                    if !tags.contains(&t) {
                        tags.push(t);
                    }
                }
                tags.join("; ")
            };
            match &e.target {
                Target::Folder { name, exists, .. } => {
                    let mut why = describe(&e.reasons);
                    if !exists {
                        why = if why.is_empty() {
                            "new folder".to_owned()
                        } else {
                            format!("new folder; {why}")
                        };
                    }
                    rows.push((left, format!("-> {}", name.display()), why));
                }
                Target::Excluded => {
                    rows.push((left, format!("   {}", describe(&e.reasons)), String::new()));
                }
            }
        }
        rows.insert(
            0,
            (
                "Old server".to_owned(),
                "   New server".to_owned(),
                "Why".to_owned(),
            ),
        );
        let w1 = rows.iter().map(|r| text_width(&r.0)).max().unwrap_or(0);
        let w2 = rows
            .iter()
            .filter(|r| !r.2.is_empty())
            .map(|r| text_width(&r.1))
            .max()
            .unwrap_or(0);
        let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(text_width(s))));
        let mut out = String::new();
        for (left, mid, why) in rows {
            let line = if why.is_empty() {
                format!("{}  {mid}", pad(&left, w1))
            } else {
                format!("{}  {}  {why}", pad(&left, w1), pad(&mid, w2))
            };
            out.push_str(line.trim_end());
            out.push('\n');
        }
        if self.gmail_source {
            out.push_str(&format!(
                "\nGmail's All Mail: {}.\n  Other choices: {}.\n",
                self.all_mail_policy.describe(),
                [
                    AllMailPolicy::OnlyUnlabelled,
                    AllMailPolicy::Everything,
                    AllMailPolicy::Exclude
                ]
                .into_iter()
                .filter(|p| *p != self.all_mail_policy)
                .map(AllMailPolicy::describe)
                .collect::<Vec<_>>()
                .join("; or ")
            ));
        }
        let decisions: Vec<_> = self
            .conflicts
            .iter()
            .filter(|c| c.needs_decision())
            .collect();
        let notes: Vec<_> = self
            .conflicts
            .iter()
            .filter(|c| !c.needs_decision())
            .collect();
        if !decisions.is_empty() {
            out.push_str("\nNeeds a decision:\n");
            for c in decisions {
                out.push_str(&format!("  ! {}\n", c.describe()));
            }
        }
        if !notes.is_empty() {
            out.push_str("\nGood to know:\n");
            for c in notes {
                out.push_str(&format!("  - {}\n", c.describe()));
            }
        }
        out.push('\n');
        out.push_str(&self.summary());
        out.push('\n');
        out
    }
}

/// Columns a text takes in a terminal, roughly: combining accents take none.
fn text_width(s: &str) -> usize {
    s.chars()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .count()
}

/// Maps every source folder to a destination folder or to "excluded", with reasons and conflicts. Pure.
///
/// See [`Rules`] for the order in which decisions are made.
pub fn map_folders(source: &FolderTree, dest: &FolderTree, rules: &Rules) -> FolderMap {
    let m = Mapper::new(source, dest, rules);
    let mut entries: Vec<MapEntry> = Vec::with_capacity(source.folders.len());
    let mut all_mail: Vec<MapEntry> = Vec::new();
    for (i, f) in source.folders.iter().enumerate() {
        let (target, reasons) = m.resolve(i);
        let entry = MapEntry {
            source: f.name.clone(),
            target,
            reasons,
        };
        if m.gmail_root.is_some() && f.has_special_use(SpecialUse::All) {
            all_mail.push(entry);
        } else {
            entries.push(entry);
        }
    }
    entries.extend(all_mail);
    let conflicts = m.conflicts(&mut entries);
    FolderMap {
        entries,
        conflicts,
        gmail_source: m.gmail_root.is_some(),
        exchange_source: m.src_exchange,
        all_mail_policy: rules.all_mail_policy,
        source_delimiter: source.delimiter,
        dest_delimiter: dest.delimiter,
    }
}

/// Whether a tree looks like Exchange: two or more non-mail folders, or Sync Issues, at the top level.
fn looks_like_exchange(tree: &FolderTree) -> bool {
    let mut seen: Vec<String> = Vec::new();
    for f in &tree.folders {
        let rel = tree.relative_segments(f.name.display());
        if rel.len() != 1 {
            continue;
        }
        if is_sync_issues(rel[0]) {
            return true;
        }
        if is_non_mail(rel[0]) {
            let k = fold_key(rel[0]);
            if !seen.contains(&k) {
                seen.push(k);
            }
        }
    }
    seen.len() >= 2
}

/// Roles that move mail to a matching destination folder.
const MAPPED_ROLES: [SpecialUse; 5] = [
    SpecialUse::Sent,
    SpecialUse::Drafts,
    SpecialUse::Trash,
    SpecialUse::Junk,
    SpecialUse::Archive,
];

struct Mapper<'a> {
    src: &'a FolderTree,
    dst: &'a FolderTree,
    rules: &'a Rules,
    gmail_root: Option<String>,
    dst_gmail: bool,
    src_exchange: bool,
    dst_exchange: bool,
    replacement: String,
    /// Role per source folder (by attribute: true; by name: false).
    roles: Vec<Option<(SpecialUse, bool)>>,
    by_display: HashMap<&'a str, usize>,
}

impl<'a> Mapper<'a> {
    fn new(src: &'a FolderTree, dst: &'a FolderTree, rules: &'a Rules) -> Mapper<'a> {
        let replacement = match dst.delimiter {
            Some(d)
                if rules.delimiter_replacement.is_empty()
                    || rules.delimiter_replacement.contains(d) =>
            {
                "_".to_owned()
            }
            _ => rules.delimiter_replacement.clone(),
        };
        let mut m = Mapper {
            src,
            dst,
            rules,
            gmail_root: src.gmail_root().map(|f| f.name.display().to_owned()),
            dst_gmail: dst.is_gmail(),
            src_exchange: looks_like_exchange(src),
            dst_exchange: looks_like_exchange(dst),
            replacement,
            roles: Vec::new(),
            by_display: src
                .folders
                .iter()
                .enumerate()
                .map(|(i, f)| (f.name.display(), i))
                .collect(),
        };
        m.roles = (0..src.folders.len()).map(|i| m.source_role(i)).collect();
        m
    }

    /// Source levels below the personal prefix and below Gmail's group root.
    fn source_rel(&self, display: &'a str) -> (Vec<&'a str>, bool) {
        let segs = self.src.relative_segments(display);
        if let Some(root) = &self.gmail_root {
            if segs.len() > 1 && segs[0] == root.as_str() {
                return (segs[1..].to_vec(), true);
            }
        }
        (segs, false)
    }

    fn source_role(&self, i: usize) -> Option<(SpecialUse, bool)> {
        let f = &self.src.folders[i];
        if let Some(s) = f.special_use() {
            return MAPPED_ROLES.contains(&s).then_some((s, true));
        }
        if f.name.is_inbox() || !f.is_selectable() {
            return None;
        }
        let (rel, _) = self.source_rel(f.name.display());
        if rel.len() != 1 {
            return None;
        }
        let (role, _) = localized_special_use(rel[0])?;
        // A server that labels its special folders has told us which one is which.
        if self.src.special(role).is_some() {
            return None;
        }
        Some((role, false))
    }

    /// The destination folder for a role: by attribute, else by name, else a new folder.
    fn dest_special(&self, role: SpecialUse, new_leaf: &str) -> String {
        if let Some(f) = self.dst.special(role) {
            return f.name.display().to_owned();
        }
        let by_name = self
            .dst
            .folders
            .iter()
            .filter(|f| f.is_selectable() && !f.name.is_inbox())
            .filter_map(|f| {
                let rel = self.dst.relative_segments(f.name.display());
                if rel.len() != 1 {
                    return None;
                }
                match localized_special_use(rel[0]) {
                    Some((r, rank)) if r == role => Some((rank, f)),
                    _ => None,
                }
            })
            .min_by_key(|(rank, _)| *rank);
        if let Some((_, f)) = by_name {
            return f.name.display().to_owned();
        }
        let (leaf, _) = self.replace_delimiter_char(new_leaf);
        format!("{}{}", self.dst.prefix, leaf)
    }

    fn replace_delimiter_char(&self, segment: &str) -> (String, bool) {
        match self.dst.delimiter {
            Some(d) if segment.contains(d) => (segment.replace(d, &self.replacement), true),
            _ => (segment.to_owned(), false),
        }
    }

    /// Joins translated levels under `base` (a destination display name), or at the top.
    fn join_levels(
        &self,
        base: Option<&str>,
        levels: &[&str],
        reasons: &mut Vec<Reason>,
    ) -> String {
        let mut out: Vec<String> = Vec::with_capacity(levels.len() + 1);
        if let Some(b) = base {
            out.push(b.to_owned());
        }
        let mut replaced = false;
        for l in levels {
            let (seg, r) = self.replace_delimiter_char(l);
            replaced |= r;
            out.push(seg);
        }
        if replaced {
            if let Some(d) = self.dst.delimiter {
                reasons.push(Reason::DelimiterCharReplaced {
                    from: d,
                    to: self.replacement.clone(),
                });
            }
        }
        match self.dst.delimiter {
            Some(d) => {
                if out.len() > 1 && self.src.delimiter != Some(d) {
                    reasons.push(Reason::DelimiterTranslated);
                }
                out.join(&d.to_string())
            }
            None => {
                if out.len() > 1 {
                    reasons.push(Reason::Flattened);
                }
                // Without hierarchy at the destination the source delimiter is an ordinary character.
                out.join(&self.src.delimiter.map(String::from).unwrap_or_default())
            }
        }
    }

    fn pair_for(&self, display: &str, wire: &str) -> Option<&'a str> {
        self.rules
            .pairs
            .iter()
            .find(|p| {
                p.source == display
                    || p.source == wire
                    || (display == "INBOX" && p.source.eq_ignore_ascii_case("INBOX"))
            })
            .map(|p| p.target.as_str())
    }

    /// The nearest ancestor placed by a pair or as a special folder, with its destination display name.
    fn anchor_for(&self, display: &'a str) -> Option<(&'a str, String)> {
        let d = self.src.delimiter;
        let mut p = parent_of(display, d);
        while let Some(parent) = p {
            if let Some(t) = self.pair_for(parent, parent) {
                return Some((parent, t.to_owned()));
            }
            if let Some(&j) = self.by_display.get(parent) {
                if let Some((role, _)) = self.roles[j] {
                    if self.role_is_excluded(&self.src.folders[j], role) {
                        return None;
                    }
                    let leaf = self.src.folders[j].name.leaf(d);
                    let base = self.dest_special(role, leaf);
                    // Gmail has no labels inside its system folders: keep the source path.
                    if self.inside_dest_gmail_group(&base) {
                        return None;
                    }
                    return Some((parent, base));
                }
            }
            p = parent_of(parent, d);
        }
        None
    }

    fn inside_dest_gmail_group(&self, display: &str) -> bool {
        let Some(root) = self.dst.gmail_root() else {
            return false;
        };
        match self.dst.delimiter {
            Some(d) => display.starts_with(&format!("{}{d}", root.name.display())),
            None => false,
        }
    }

    fn role_is_excluded(&self, f: &Folder, role: SpecialUse) -> bool {
        self.gmail_root.is_some()
            && !self.rules.copy_gmail_views
            && matches!(role, SpecialUse::Junk | SpecialUse::Trash)
            && f.has_special_use(role)
    }

    fn default_exclusion(&self, f: &Folder) -> Option<Reason> {
        let display = f.name.display();
        if self.gmail_root.as_deref() == Some(display) {
            return Some(Reason::DefaultExcluded(DefaultExclusion::GmailGroup));
        }
        if !f.is_selectable() {
            return Some(Reason::DefaultExcluded(DefaultExclusion::NoSelect));
        }
        if !self.rules.copy_gmail_views {
            for s in [
                SpecialUse::Junk,
                SpecialUse::Trash,
                SpecialUse::Important,
                SpecialUse::Flagged,
                SpecialUse::All,
            ] {
                if !f.has_special_use(s) {
                    continue;
                }
                match (self.gmail_root.is_some(), s) {
                    (true, SpecialUse::All) => {}
                    (true, _) => {
                        return Some(Reason::DefaultExcluded(DefaultExclusion::GmailView(s)))
                    }
                    (false, SpecialUse::Junk | SpecialUse::Trash) => {}
                    (false, _) => {
                        return Some(Reason::DefaultExcluded(DefaultExclusion::VirtualView(s)))
                    }
                }
            }
        }
        if self.src_exchange && !self.rules.copy_non_mail && !f.name.is_inbox() {
            let rel = self.src.relative_segments(display);
            if is_non_mail(rel[0]) {
                return Some(Reason::DefaultExcluded(DefaultExclusion::NonMail));
            }
        }
        None
    }

    fn resolve(&self, i: usize) -> (Target, Vec<Reason>) {
        let f = &self.src.folders[i];
        let display = f.name.display();
        let mut reasons = Vec::new();

        // 1. Explicit pairs.
        if let Some(t) = self.pair_for(display, f.name.wire()) {
            if !f.is_selectable() {
                return (
                    Target::Excluded,
                    vec![Reason::DefaultExcluded(DefaultExclusion::NoSelect)],
                );
            }
            return (self.target(t, None), vec![Reason::ExplicitPair]);
        }

        // 2. Include / exclude.
        if let Some(p) = self.rules.exclude.iter().find(|p| p.is_match(display)) {
            return (
                Target::Excluded,
                vec![Reason::UserExcluded {
                    pattern: p.as_str().to_owned(),
                }],
            );
        }
        if !self.rules.include.is_empty() {
            if self.rules.include.iter().any(|p| p.is_match(display)) {
                reasons.push(Reason::UserIncluded);
            } else {
                return (Target::Excluded, vec![Reason::NotIncluded]);
            }
        }

        // 3. Default exclusions and Gmail's All Mail.
        if let Some(r) = self.default_exclusion(f) {
            return (Target::Excluded, vec![r]);
        }
        if self.gmail_root.is_some() && f.has_special_use(SpecialUse::All) {
            let r = match self.rules.all_mail_policy {
                AllMailPolicy::Exclude => return (Target::Excluded, vec![Reason::AllMailExcluded]),
                AllMailPolicy::OnlyUnlabelled => Reason::AllMailToArchive,
                AllMailPolicy::Everything => Reason::AllMailEverything,
            };
            let t = self.dest_special(SpecialUse::Archive, "Archive");
            reasons.push(r);
            return (self.target(&t, Some(SpecialUse::Archive)), reasons);
        }

        if f.name.is_inbox() {
            reasons.push(Reason::Inbox);
            let name = self.renamed("INBOX", &mut reasons);
            return (self.target(&name, None), reasons);
        }

        // 4 and 5. Special folders by attribute, then by name.
        if let Some((role, by_attr)) = self.roles[i] {
            let t = self.dest_special(role, f.name.leaf(self.src.delimiter));
            reasons.push(if by_attr {
                Reason::SpecialUse(role)
            } else {
                Reason::LocalizedName(role)
            });
            return (self.target(&t, Some(role)), reasons);
        }

        // Subfolders of a folder placed by a pair or as a special folder.
        let name = if let Some((parent, base)) = self.anchor_for(display) {
            let rest = &display[parent.len() + self.src.delimiter.map_or(0, char::len_utf8)..];
            let levels = split_segments(rest, self.src.delimiter);
            reasons.push(Reason::FollowsParent {
                parent: parent.to_owned(),
            });
            self.join_levels(Some(&base), &levels, &mut reasons)
        } else {
            // 6. Delimiter and prefix translation.
            self.translate(display, &mut reasons)
        };

        // 7. Renames; 8. reserved names.
        let name = self.renamed(&name, &mut reasons);
        let name = self.unreserved(name, &mut reasons);
        (self.target(&name, None), reasons)
    }

    fn translate(&self, display: &'a str, reasons: &mut Vec<Reason>) -> String {
        let (rel, under_gmail_root) = self.source_rel(display);
        if under_gmail_root {
            reasons.push(Reason::GmailGroupRemoved);
        }
        let had_prefix =
            !self.src.prefix.is_empty() && strip_prefix(display, &self.src.prefix).is_some();
        let inbox_subtree = rel[0].eq_ignore_ascii_case("INBOX");
        let mut levels = rel.clone();
        if inbox_subtree {
            levels[0] = "INBOX";
        }
        let joined = self.join_levels(None, &levels, reasons);
        let adds_prefix = !self.dst.prefix.is_empty() && !inbox_subtree;
        let from = if had_prefix {
            self.src.prefix.as_str()
        } else {
            ""
        };
        let to = if adds_prefix {
            self.dst.prefix.as_str()
        } else {
            ""
        };
        if from != to {
            reasons.push(Reason::PrefixChanged {
                from: from.to_owned(),
                to: to.to_owned(),
            });
        }
        format!("{to}{joined}")
    }

    fn renamed(&self, name: &str, reasons: &mut Vec<Reason>) -> String {
        let mut name = name.to_owned();
        for r in &self.rules.renames {
            let new = r.apply(&name);
            if new != name {
                reasons.push(Reason::UserRename {
                    rule: r.as_str().to_owned(),
                });
                name = new;
            }
        }
        name
    }

    fn unreserved(&self, name: String, reasons: &mut Vec<Reason>) -> String {
        let rel = match strip_prefix(&name, &self.dst.prefix) {
            Some(r) => r,
            None if self.dst.prefix.is_empty() => &name,
            None => return name,
        };
        let first = split_segments(rel, self.dst.delimiter)[0];
        let reserved = (self.dst_exchange && is_m365_reserved(first))
            || self
                .rules
                .reserved_names
                .iter()
                .any(|r| fold_key(r) == fold_key(first));
        if !reserved || first.is_empty() {
            return name;
        }
        reasons.push(Reason::ReservedNameRenamed {
            reserved: first.to_owned(),
        });
        let at = name.len() - rel.len() + first.len();
        format!(
            "{}{}{}",
            &name[..at],
            self.rules.reserved_suffix,
            &name[at..]
        )
    }

    fn target(&self, display: &str, special: Option<SpecialUse>) -> Target {
        match MailboxName::from_display(display, self.dst.utf8) {
            Ok(name) => {
                let exists = self.dst.find(&name).is_some();
                Target::Folder {
                    name,
                    special,
                    exists,
                }
            }
            // Only an empty name fails in modified UTF-7; in UTF-8 mode also NUL/CR/LF.
            // Keep the text so the conflict can show it.
            Err(_) => Target::Folder {
                name: MailboxName::unchecked(display),
                special,
                exists: false,
            },
        }
    }

    fn name_problem(&self, display: &str, wire: &str) -> Option<NameProblem> {
        if display.is_empty() {
            return Some(NameProblem::Empty);
        }
        if display.chars().any(|c| c.is_control()) {
            return Some(NameProblem::ControlChar);
        }
        if wire.len() > self.rules.max_name_bytes {
            return Some(NameProblem::TooLong {
                bytes: wire.len(),
                limit: self.rules.max_name_bytes,
            });
        }
        let levels = split_segments(display, self.dst.delimiter);
        if levels.iter().any(|l| l.is_empty()) {
            return Some(NameProblem::EmptyLevel);
        }
        if self.dst_gmail
            && levels
                .iter()
                .any(|l| l.starts_with(char::is_whitespace) || l.ends_with(char::is_whitespace))
        {
            return Some(NameProblem::LeadingOrTrailingBlank);
        }
        None
    }

    fn conflicts(&self, entries: &mut [MapEntry]) -> Vec<Conflict> {
        let mut out = Vec::new();

        for p in &self.rules.pairs {
            let used = self.src.folders.iter().any(|f| {
                p.source == f.name.display()
                    || p.source == f.name.wire()
                    || (f.name.is_inbox() && p.source.eq_ignore_ascii_case("INBOX"))
            });
            if !used {
                out.push(Conflict::UnusedPair {
                    pair: p.to_string(),
                });
            }
        }

        // Several sources onto one target.
        let mut by_target: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, e) in entries.iter().enumerate() {
            if let Target::Folder { name, .. } = &e.target {
                by_target.entry(name.wire().to_owned()).or_default().push(i);
            }
        }
        for members in by_target.values().filter(|m| m.len() > 1) {
            if self.rules.merge_policy == MergePolicy::Merge {
                for &i in members {
                    entries[i].reasons.push(Reason::Merged);
                }
            } else if let Target::Folder { name, .. } = &entries[members[0]].target {
                out.push(Conflict::SharedTarget {
                    target: name.clone(),
                    sources: members.iter().map(|&i| entries[i].source.clone()).collect(),
                });
            }
        }

        // Names the destination cannot hold.
        for e in entries.iter() {
            if let Target::Folder {
                name,
                exists: false,
                ..
            } = &e.target
            {
                if let Some(problem) = self.name_problem(name.display(), name.wire()) {
                    out.push(Conflict::UnfitName {
                        source: e.source.clone(),
                        target: name.display().to_owned(),
                        problem,
                    });
                }
            }
        }

        // Case (and accent-encoding) collisions at the destination.
        let mut groups: BTreeMap<String, Vec<(String, String, bool)>> = BTreeMap::new();
        let mut add = |display: &str, wire: &str, new: bool| {
            let g = groups.entry(fold_key(display)).or_default();
            match g.iter_mut().find(|(_, w, _)| w == wire) {
                Some(existing) => existing.2 &= new,
                None => g.push((display.to_owned(), wire.to_owned(), new)),
            }
        };
        for f in &self.dst.folders {
            add(f.name.display(), f.name.wire(), false);
        }
        for e in entries.iter() {
            if let Target::Folder { name, exists, .. } = &e.target {
                add(name.display(), name.wire(), !exists);
            }
        }
        for g in groups.values() {
            if g.len() > 1 && g.iter().any(|(_, _, new)| *new) {
                out.push(Conflict::CaseCollision {
                    names: g.iter().map(|(d, _, _)| d.clone()).collect(),
                });
            }
        }

        // Skipped folders whose subfolders are copied.
        let d = self.src.delimiter;
        for e in entries.iter() {
            if e.target != Target::Excluded {
                continue;
            }
            let Some(f) = self.src.find(&e.source) else {
                continue;
            };
            if !f.is_selectable() || self.gmail_root.as_deref() == Some(f.name.display()) {
                continue;
            }
            let Some(d) = d else { continue };
            let prefix = format!("{}{d}", f.name.display());
            let children: Vec<MailboxName> = entries
                .iter()
                .filter(|c| {
                    matches!(c.target, Target::Folder { .. })
                        && c.source.display().starts_with(&prefix)
                })
                .map(|c| c.source.clone())
                .collect();
            if !children.is_empty() {
                out.push(Conflict::ExcludedParent {
                    parent: e.source.clone(),
                    children,
                });
            }
        }

        // Look-alike source names.
        let names: Vec<MailboxName> = self.src.folders.iter().map(|f| f.name.clone()).collect();
        for (a, b) in near_duplicates(&names) {
            out.push(Conflict::NearDuplicate {
                first: names[a].clone(),
                second: names[b].clone(),
            });
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use expect_test::{expect, Expect};

    use super::*;
    use crate::folder::rules::{FolderPair, Pattern, Regextrans2};

    /// A tree from `LIST` lines; `subscribed` marks every folder subscribed.
    pub(crate) fn tree(lines: &[&str], subscribed: bool) -> FolderTree {
        let mut t = FolderTree::from_list_lines(lines, &[], false).unwrap();
        for f in &mut t.folders {
            f.subscribed = subscribed;
        }
        t
    }

    fn check(source: &FolderTree, dest: &FolderTree, rules: &Rules, expected: Expect) -> FolderMap {
        let map = map_folders(source, dest, rules);
        expected.assert_eq(&map.render_text());
        map
    }

    pub(crate) fn gmail() -> FolderTree {
        tree(
            &[
                r#"* LIST (\HasNoChildren) "/" "INBOX""#,
                r#"* LIST (\HasChildren) "/" "Clients""#,
                r#"* LIST (\HasNoChildren) "/" "Clients/Acme""#,
                r#"* LIST (\HasNoChildren) "/" "Files""#,
                r#"* LIST (\HasChildren \Noselect) "/" "[Gmail]""#,
                r#"* LIST (\All \HasNoChildren) "/" "[Gmail]/All Mail""#,
                r#"* LIST (\Drafts \HasNoChildren) "/" "[Gmail]/Drafts""#,
                r#"* LIST (\HasNoChildren \Important) "/" "[Gmail]/Important""#,
                r#"* LIST (\HasNoChildren \Sent) "/" "[Gmail]/Sent Mail""#,
                r#"* LIST (\HasNoChildren \Junk) "/" "[Gmail]/Spam""#,
                r#"* LIST (\Flagged \HasNoChildren) "/" "[Gmail]/Starred""#,
                r#"* LIST (\HasNoChildren \Trash) "/" "[Gmail]/Trash""#,
            ],
            true,
        )
    }

    pub(crate) fn exchange() -> FolderTree {
        let mut t = tree(
            &[
                r#"* LIST (\Marked \HasNoChildren) "/" INBOX"#,
                r#"* LIST (\HasNoChildren \Archive) "/" Archive"#,
                r#"* LIST (\HasChildren) "/" Calendar"#,
                r#"* LIST (\HasNoChildren) "/" Calendar/Birthdays"#,
                r#"* LIST (\HasNoChildren) "/" Contacts"#,
                r#"* LIST (\HasNoChildren) "/" "Conversation History""#,
                r#"* LIST (\HasNoChildren \Trash) "/" "Deleted Items""#,
                r#"* LIST (\HasNoChildren \Drafts) "/" Drafts"#,
                r#"* LIST (\HasNoChildren) "/" Journal"#,
                r#"* LIST (\HasNoChildren \Junk) "/" "Junk Email""#,
                r#"* LIST (\HasNoChildren) "/" Notes"#,
                r#"* LIST (\HasNoChildren) "/" Outbox"#,
                r#"* LIST (\HasNoChildren \Sent) "/" "Sent Items""#,
                r#"* LIST (\HasChildren) "/" "Sync Issues""#,
                r#"* LIST (\HasNoChildren) "/" "Sync Issues/Conflicts""#,
                r#"* LIST (\HasNoChildren) "/" Tasks"#,
            ],
            true,
        );
        t.can_create_special_use = false;
        t
    }

    #[test]
    fn gmail_to_exchange() {
        let map = check(
            &gmail(),
            &exchange(),
            &Rules::default(),
            expect![[r#"
            Old server      New server    Why
            INBOX        -> INBOX         inbox
            Clients      -> Clients       new folder
              Acme       -> Clients/Acme  new folder
            Files        -> Files (old)   new folder; renamed: the new server keeps "Files" for itself
            [Gmail]         skipped: Gmail's group of system folders, holds no mail itself
              All Mail   -> Archive       All Mail: only mail that is in no other folder goes here, copied last
              Drafts     -> Drafts        Drafts folder
              Important     skipped: Gmail's Important view (that mail is in other folders)
              Sent Mail  -> Sent Items    Sent folder
              Spam          skipped: spam
              Starred       skipped: Gmail's Starred view (the stars stay on the messages)
              Trash         skipped: Gmail trash

            Gmail's All Mail: copied last into Archive, only mail that is in no other folder (nothing is copied twice).
              Other choices: copied last into Archive, every message (mail that is also in other folders is copied twice); or not copied (mail that is in no other folder will be left behind).

            7 folders, 5 skipped
        "#]],
        );
        assert!(map.gmail_source);
        let last = map.entries.last().unwrap();
        assert_eq!(
            last.source.display(),
            "[Gmail]/All Mail",
            "All Mail is copied last"
        );
        assert!(matches!(
            last.target,
            Target::Folder {
                special: Some(SpecialUse::Archive),
                exists: true,
                ..
            }
        ));
    }

    #[test]
    fn gmail_all_mail_alternatives() {
        let everything = Rules {
            all_mail_policy: AllMailPolicy::Everything,
            ..Rules::default()
        };
        let map = map_folders(&gmail(), &exchange(), &everything);
        assert_eq!(
            map.entries.last().unwrap().reasons,
            [Reason::AllMailEverything]
        );
        let exclude = Rules {
            all_mail_policy: AllMailPolicy::Exclude,
            ..Rules::default()
        };
        let map = map_folders(&gmail(), &exchange(), &exclude);
        let last = map.entries.last().unwrap();
        assert_eq!(last.target, Target::Excluded);
        assert_eq!(last.reasons, [Reason::AllMailExcluded]);
        assert!(map.render_text().contains("Gmail's All Mail: not copied"));
    }

    #[test]
    fn google_mail_german_to_dovecot() {
        let source = tree(
            &[
                r#"* LIST (\HasNoChildren) "/" "INBOX""#,
                r#"* LIST (\HasChildren) "/" "Kunden""#,
                r#"* LIST (\HasNoChildren) "/" "Kunden/M&APw-ller""#,
                r#"* LIST (\HasChildren \Noselect) "/" "[Google Mail]""#,
                r#"* LIST (\All \HasNoChildren) "/" "[Google Mail]/Alle Nachrichten""#,
                r#"* LIST (\Drafts \HasNoChildren) "/" "[Google Mail]/Entw&APw-rfe""#,
                r#"* LIST (\HasNoChildren \Sent) "/" "[Google Mail]/Gesendet""#,
                r#"* LIST (\Flagged \HasNoChildren) "/" "[Google Mail]/Markiert""#,
                r#"* LIST (\HasNoChildren \Trash) "/" "[Google Mail]/Papierkorb""#,
                r#"* LIST (\HasNoChildren \Junk) "/" "[Google Mail]/Spam""#,
                r#"* LIST (\HasNoChildren \Important) "/" "[Google Mail]/Wichtig""#,
            ],
            true,
        );
        let mut dest = tree(
            &[
                r#"* LIST (\HasNoChildren) "/" INBOX"#,
                r#"* LIST (\HasNoChildren \Drafts) "/" Drafts"#,
                r#"* LIST (\HasNoChildren \Junk) "/" Junk"#,
                r#"* LIST (\HasNoChildren \Sent) "/" Sent"#,
                r#"* LIST (\HasNoChildren \Trash) "/" Trash"#,
            ],
            true,
        );
        dest.can_create_special_use = true;
        let map = check(
            &source,
            &dest,
            &Rules::default(),
            expect![[r#"
            Old server             New server     Why
            INBOX               -> INBOX          inbox
            Kunden              -> Kunden         new folder
              Müller            -> Kunden/Müller  new folder
            [Google Mail]          skipped: Gmail's group of system folders, holds no mail itself
              Alle Nachrichten  -> Archive        new folder; All Mail: only mail that is in no other folder goes here, copied last
              Entwürfe          -> Drafts         Drafts folder
              Gesendet          -> Sent           Sent folder
              Markiert             skipped: Gmail's Starred view (the stars stay on the messages)
              Papierkorb           skipped: Gmail trash
              Spam                 skipped: spam
              Wichtig              skipped: Gmail's Important view (that mail is in other folders)

            Gmail's All Mail: copied last into Archive, only mail that is in no other folder (nothing is copied twice).
              Other choices: copied last into Archive, every message (mail that is also in other folders is copied twice); or not copied (mail that is in no other folder will be left behind).

            6 folders, 5 skipped
        "#]],
        );
        let mueller = map
            .entries
            .iter()
            .find(|e| e.source.display() == "Kunden/Müller")
            .unwrap();
        let Target::Folder { name, .. } = &mueller.target else {
            panic!("Kunden/Müller is copied")
        };
        assert_eq!(
            name.wire(),
            "Kunden/M&APw-ller",
            "modified UTF-7 at the destination"
        );
    }

    #[test]
    fn courier_inbox_prefix_dot_to_slash_server() {
        let source = tree(
            &[
                r#"* LIST (\HasChildren) "." "INBOX""#,
                r#"* LIST (\HasChildren) "." "INBOX.Clients""#,
                r#"* LIST (\HasNoChildren) "." "INBOX.Clients.ProjectA""#,
                r#"* LIST (\HasNoChildren) "." "INBOX.Drafts""#,
                r#"* LIST (\HasChildren) "." "INBOX.Sent""#,
                r#"* LIST (\HasNoChildren) "." "INBOX.Sent.2019""#,
                r#"* LIST (\HasNoChildren) "." "INBOX.Trash""#,
                r#"* LIST (\HasNoChildren) "." "INBOX.spam""#,
                r#"* LIST (\HasNoChildren) "." "INBOX.a/b""#,
            ],
            true,
        );
        assert_eq!(source.prefix, "INBOX.");
        let dest = tree(
            &[
                r#"* LIST (\HasNoChildren) "/" INBOX"#,
                r#"* LIST (\HasNoChildren \Drafts) "/" Drafts"#,
                r#"* LIST (\HasNoChildren \Junk) "/" Junk"#,
                r#"* LIST (\HasNoChildren \Sent) "/" Sent"#,
                r#"* LIST (\HasNoChildren \Trash) "/" Trash"#,
            ],
            true,
        );
        check(
            &source,
            &dest,
            &Rules::default(),
            expect![[r#"
            Old server       New server        Why
            INBOX         -> INBOX             inbox
              Clients     -> Clients           new folder; now a top-level folder (was inside INBOX)
                ProjectA  -> Clients/ProjectA  new folder; subfolder kept; now a top-level folder (was inside INBOX)
              Drafts      -> Drafts            Drafts folder (recognised by its name)
              Sent        -> Sent              Sent folder (recognised by its name)
                2019      -> Sent/2019         new folder; stays inside INBOX.Sent; subfolder kept
              Trash       -> Trash             Trash folder (recognised by its name)
              a/b         -> a_b               new folder; "/" in the name became "_" (it would start a subfolder here); now a top-level folder (was inside INBOX)
              spam        -> Junk              Junk folder (recognised by its name)

            9 folders
        "#]],
        );
    }

    #[test]
    fn slash_to_dot_server_with_a_dot_inside_a_name() {
        let source = tree(
            &[
                r#"* LIST (\HasChildren) "/" "INBOX""#,
                r#"* LIST (\HasNoChildren) "/" "INBOX/Receipts""#,
                r#"* LIST (\HasChildren) "/" "Clients""#,
                r#"* LIST (\HasNoChildren) "/" "Clients/Acme Inc.""#,
                r#"* LIST (\HasNoChildren) "/" "v1.2 notes""#,
                r#"* LIST (\HasNoChildren \Sent) "/" "Sent""#,
            ],
            true,
        );
        let dest = tree(
            &[
                r#"* LIST (\HasChildren) "." INBOX"#,
                r#"* LIST (\HasNoChildren \Sent) "." INBOX.Sent"#,
                r#"* LIST (\HasNoChildren \Trash) "." INBOX.Trash"#,
            ],
            true,
        );
        assert_eq!(dest.prefix, "INBOX.");
        let map = check(
            &source,
            &dest,
            &Rules::default(),
            expect![[r#"
            Old server      New server               Why
            INBOX        -> INBOX                    inbox
              Receipts   -> INBOX.Receipts           new folder; subfolder kept
            Clients      -> INBOX.Clients            new folder; placed inside INBOX, as the new server expects
              Acme Inc.  -> INBOX.Clients.Acme Inc_  new folder; "." in the name became "_" (it would start a subfolder here); subfolder kept; placed inside INBOX, as the new server expects
            Sent         -> INBOX.Sent               Sent folder
            v1.2 notes   -> INBOX.v1_2 notes         new folder; "." in the name became "_" (it would start a subfolder here); placed inside INBOX, as the new server expects

            6 folders
        "#]],
        );
        // The replacement is recorded so that it can be undone.
        let acme = map
            .entries
            .iter()
            .find(|e| e.source.display() == "Clients/Acme Inc.")
            .unwrap();
        assert!(acme.reasons.contains(&Reason::DelimiterCharReplaced {
            from: '.',
            to: "_".into()
        }));
        // A configurable replacement.
        let rules = Rules {
            delimiter_replacement: "·".into(),
            ..Rules::default()
        };
        let map = map_folders(&source, &dest, &rules);
        assert!(map.render_text().contains("-> INBOX.v1·2 notes"));
        // A replacement holding the delimiter would make hierarchy: refused, "_" is used.
        let rules = Rules {
            delimiter_replacement: ".".into(),
            ..Rules::default()
        };
        let map = map_folders(&source, &dest, &rules);
        assert!(map.render_text().contains("-> INBOX.v1_2 notes"));
    }

    fn exchange_french() -> FolderTree {
        tree(
            &[
                r#"* LIST (\HasNoChildren) "/" INBOX"#,
                r#"* LIST (\HasNoChildren) "/" "Bo&AO4-te d'envoi""#,
                r#"* LIST (\HasNoChildren) "/" "Brouillons""#,
                r#"* LIST (\HasNoChildren) "/" "Calendrier""#,
                r#"* LIST (\HasChildren) "/" "Clients""#,
                r#"* LIST (\HasNoChildren) "/" "Clients/ Projets ""#,
                r#"* LIST (\HasNoChildren) "/" "Contacts""#,
                r#"* LIST (\HasNoChildren) "/" "Courrier ind&AOk-sirable""#,
                r#"* LIST (\HasNoChildren) "/" "&AMk-l&AOk-ments envoy&AOk-s""#,
                r#"* LIST (\HasNoChildren) "/" "&AMk-l&AOk-ments supprim&AOk-s""#,
                r#"* LIST (\HasChildren) "/" "Probl&AOg-mes de synchronisation""#,
                r#"* LIST (\HasNoChildren) "/" "Probl&AOg-mes de synchronisation/Conflits""#,
                r#"* LIST (\HasNoChildren) "/" "T&AOI-ches""#,
            ],
            true,
        )
    }

    fn gmail_dest() -> FolderTree {
        tree(
            &[
                r#"* LIST (\HasNoChildren) "/" "INBOX""#,
                r#"* LIST (\HasChildren \Noselect) "/" "[Gmail]""#,
                r#"* LIST (\All \HasNoChildren) "/" "[Gmail]/All Mail""#,
                r#"* LIST (\Drafts \HasNoChildren) "/" "[Gmail]/Drafts""#,
                r#"* LIST (\HasNoChildren \Important) "/" "[Gmail]/Important""#,
                r#"* LIST (\HasNoChildren \Sent) "/" "[Gmail]/Sent Mail""#,
                r#"* LIST (\HasNoChildren \Junk) "/" "[Gmail]/Spam""#,
                r#"* LIST (\Flagged \HasNoChildren) "/" "[Gmail]/Starred""#,
                r#"* LIST (\HasNoChildren \Trash) "/" "[Gmail]/Trash""#,
            ],
            true,
        )
    }

    #[test]
    fn exchange_french_by_name_to_gmail() {
        let map = check(
            &exchange_french(),
            &gmail_dest(),
            &Rules::default(),
            expect![[r#"
                Old server                       New server         Why
                INBOX                         -> INBOX              inbox
                Boîte d'envoi                 -> Boîte d'envoi      new folder
                Brouillons                    -> [Gmail]/Drafts     Drafts folder (recognised by its name)
                Calendrier                       skipped: not email (calendar, contacts, tasks, notes or logs)
                Clients                       -> Clients            new folder
                   Projets                    -> Clients/ Projets   new folder
                Contacts                         skipped: not email (calendar, contacts, tasks, notes or logs)
                Courrier indésirable          -> [Gmail]/Spam       Junk folder (recognised by its name)
                Problèmes de synchronisation     skipped: not email (calendar, contacts, tasks, notes or logs)
                  Conflits                       skipped: not email (calendar, contacts, tasks, notes or logs)
                Tâches                           skipped: not email (calendar, contacts, tasks, notes or logs)
                Éléments envoyés              -> [Gmail]/Sent Mail  Sent folder (recognised by its name)
                Éléments supprimés            -> [Gmail]/Trash      Trash folder (recognised by its name)

                Needs a decision:
                  ! "Clients/ Projets " cannot be created on the new server: Gmail does not accept a name that starts or ends with a space. Rename it.

                8 folders, 5 skipped, 1 needs a decision
            "#]],
        );
        assert!(map.exchange_source);
        assert!(!map.gmail_source);
    }

    #[test]
    fn exchange_german_with_attributes_to_gmail() {
        let source = tree(
            &[
                r#"* LIST (\HasNoChildren) "/" INBOX"#,
                r#"* LIST (\HasNoChildren \Archive) "/" "Archiv""#,
                r#"* LIST (\HasNoChildren) "/" "Aufgaben""#,
                r#"* LIST (\HasNoChildren \Drafts) "/" "Entw&APw-rfe""#,
                r#"* LIST (\HasChildren \Sent) "/" "Gesendete Elemente""#,
                r#"* LIST (\HasNoChildren) "/" "Gesendete Elemente/2019""#,
                r#"* LIST (\HasNoChildren \Trash) "/" "Gel&APY-schte Elemente""#,
                r#"* LIST (\HasNoChildren) "/" "Journal""#,
                r#"* LIST (\HasNoChildren \Junk) "/" "Junk-E-Mail""#,
                r#"* LIST (\HasNoChildren) "/" "Kalender""#,
                r#"* LIST (\HasNoChildren) "/" "Kontakte""#,
                r#"* LIST (\HasNoChildren) "/" "Notizen""#,
                r#"* LIST (\HasChildren) "/" "Synchronisierungsprobleme""#,
                r#"* LIST (\HasNoChildren) "/" "Synchronisierungsprobleme/Konflikte""#,
            ],
            true,
        );
        check(
            &source,
            &gmail_dest(),
            &Rules::default(),
            expect![[r#"
                Old server                    New server               Why
                INBOX                      -> INBOX                    inbox
                Archiv                     -> Archiv                   new folder; Archive folder
                Aufgaben                      skipped: not email (calendar, contacts, tasks, notes or logs)
                Entwürfe                   -> [Gmail]/Drafts           Drafts folder
                Gelöschte Elemente         -> [Gmail]/Trash            Trash folder
                Gesendete Elemente         -> [Gmail]/Sent Mail        Sent folder
                  2019                     -> Gesendete Elemente/2019  new folder
                Journal                       skipped: not email (calendar, contacts, tasks, notes or logs)
                Junk-E-Mail                -> [Gmail]/Spam             Junk folder
                Kalender                      skipped: not email (calendar, contacts, tasks, notes or logs)
                Kontakte                      skipped: not email (calendar, contacts, tasks, notes or logs)
                Notizen                       skipped: not email (calendar, contacts, tasks, notes or logs)
                Synchronisierungsprobleme     skipped: not email (calendar, contacts, tasks, notes or logs)
                  Konflikte                   skipped: not email (calendar, contacts, tasks, notes or logs)

                7 folders, 7 skipped
            "#]],
        );
    }

    #[test]
    fn nil_delimiter_source_to_slash_server() {
        let source = tree(
            &[
                r#"* LIST () NIL INBOX"#,
                r#"* LIST () NIL "a/b""#,
                r#"* LIST () NIL "Projects.2024""#,
                r#"* LIST () NIL "Sent""#,
            ],
            true,
        );
        assert_eq!(source.delimiter, None);
        let dest = tree(&[r#"* LIST () "/" INBOX"#], true);
        check(
            &source,
            &dest,
            &Rules::default(),
            expect![[r#"
            Old server        New server     Why
            INBOX          -> INBOX          inbox
            Projects.2024  -> Projects.2024  new folder
            Sent           -> Sent           new folder; Sent folder (recognised by its name)
            a/b            -> a_b            new folder; "/" in the name became "_" (it would start a subfolder here)

            4 folders
        "#]],
        );
    }

    #[test]
    fn slash_source_to_nil_delimiter_server() {
        let source = tree(
            &[
                r#"* LIST () "/" INBOX"#,
                r#"* LIST () "/" "Clients""#,
                r#"* LIST () "/" "Clients/Acme""#,
                r#"* LIST (\Sent) "/" "Sent""#,
                r#"* LIST () "/" "Sent/2019""#,
            ],
            true,
        );
        let dest = tree(&[r#"* LIST () NIL INBOX"#, r#"* LIST () NIL Sent"#], true);
        check(
            &source,
            &dest,
            &Rules::default(),
            expect![[r#"
            Old server     New server    Why
            INBOX       -> INBOX         inbox
            Clients     -> Clients       new folder
              Acme      -> Clients/Acme  new folder; subfolders written as one folder name (the new server has no subfolders)
            Sent        -> Sent          Sent folder
              2019      -> Sent/2019     new folder; stays inside Sent; subfolders written as one folder name (the new server has no subfolders)

            5 folders
        "#]],
        );
    }

    #[test]
    fn deep_hierarchy_and_noselect_parents() {
        let mut lines = vec![r#"* LIST () "/" INBOX"#.to_owned()];
        let mut name = String::new();
        for level in 1..=12 {
            if level > 1 {
                name.push('/');
            }
            name.push_str(&format!("L{level}"));
            let attrs = if level % 4 == 1 {
                r"\Noselect \HasChildren"
            } else {
                r"\HasChildren"
            };
            lines.push(format!(r#"* LIST ({attrs}) "/" "{name}""#));
        }
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let source = tree(&lines, true);
        let dest = tree(&[r#"* LIST () "." INBOX"#], true);
        check(
            &source,
            &dest,
            &Rules::default(),
            expect![[r#"
            Old server                    New server                              Why
            INBOX                      -> INBOX                                   inbox
            L1                            skipped: only holds other folders
              L2                       -> L1.L2                                   new folder; subfolder kept
                L3                     -> L1.L2.L3                                new folder; subfolder kept
                  L4                   -> L1.L2.L3.L4                             new folder; subfolder kept
                    L5                    skipped: only holds other folders
                      L6               -> L1.L2.L3.L4.L5.L6                       new folder; subfolder kept
                        L7             -> L1.L2.L3.L4.L5.L6.L7                    new folder; subfolder kept
                          L8           -> L1.L2.L3.L4.L5.L6.L7.L8                 new folder; subfolder kept
                            L9            skipped: only holds other folders
                              L10      -> L1.L2.L3.L4.L5.L6.L7.L8.L9.L10          new folder; subfolder kept
                                L11    -> L1.L2.L3.L4.L5.L6.L7.L8.L9.L10.L11      new folder; subfolder kept
                                  L12  -> L1.L2.L3.L4.L5.L6.L7.L8.L9.L10.L11.L12  new folder; subfolder kept

            10 folders, 3 skipped
        "#]],
        );
    }

    #[test]
    fn two_sources_onto_one_target_need_a_decision_unless_merging_is_allowed() {
        let source = tree(
            &[
                r#"* LIST () "/" INBOX"#,
                r#"* LIST () "/" "Sent""#,
                r#"* LIST () "/" "Sent Items""#,
            ],
            true,
        );
        let dest = tree(
            &[r#"* LIST () "/" INBOX"#, r#"* LIST (\Sent) "/" "Sent""#],
            true,
        );
        let map = check(
            &source,
            &dest,
            &Rules::default(),
            expect![[r#"
                Old server     New server  Why
                INBOX       -> INBOX       inbox
                Sent        -> Sent        Sent folder (recognised by its name)
                Sent Items  -> Sent        Sent folder (recognised by its name)

                Needs a decision:
                  ! 2 folders would go into the same folder "Sent": "Sent", "Sent Items". Choose one, or allow merging.

                3 folders, 1 needs a decision
            "#]],
        );
        assert_eq!(map.decisions_needed(), 1);
        // The question holds back its two folders only; the rest goes ahead.
        let (run, questions) = map.hold_back_questions();
        assert_eq!(questions, vec![map.conflicts[0].clone()]);
        assert_eq!(
            run.entries
                .iter()
                .map(|e| e.source.display())
                .collect::<Vec<_>>(),
            ["INBOX"]
        );
        assert_eq!(run.decisions_needed(), 0);
        let merge = Rules {
            merge_policy: MergePolicy::Merge,
            ..Rules::default()
        };
        check(
            &source,
            &dest,
            &merge,
            expect![[r#"
                Old server     New server  Why
                INBOX       -> INBOX       inbox
                Sent        -> Sent        Sent folder (recognised by its name); shared with another folder (you allowed merging)
                Sent Items  -> Sent        Sent folder (recognised by its name); shared with another folder (you allowed merging)

                3 folders
            "#]],
        );
    }

    #[test]
    fn pairs_then_include_exclude_then_renames() {
        let source = tree(
            &[
                r#"* LIST () "/" INBOX"#,
                r#"* LIST () "/" "Clients""#,
                r#"* LIST () "/" "Clients/Acme ""#,
                r#"* LIST () "/" "Clients/Private""#,
                r#"* LIST () "/" "Clients/Private/Old""#,
                r#"* LIST () "/" "Old Stuff""#,
                r#"* LIST () "/" "Old Stuff/2019""#,
                r#"* LIST () "/" "Personal""#,
            ],
            true,
        );
        let dest = tree(&[r#"* LIST () "/" INBOX"#], true);
        let rules = Rules {
            pairs: vec![
                FolderPair::parse("Old Stuff=Archive/Old").unwrap(),
                FolderPair::parse("Nowhere=X").unwrap(),
            ],
            include: vec![
                Pattern::new("^Clients").unwrap(),
                Pattern::new("^INBOX$").unwrap(),
            ],
            exclude: vec![Pattern::new("Private").unwrap()],
            renames: vec![
                Regextrans2::parse("s/ +$//").unwrap(),
                Regextrans2::parse("s,^Clients,Customers,").unwrap(),
            ],
            ..Rules::default()
        };
        let map = check(
            &source,
            &dest,
            &rules,
            expect![[r#"
                Old server     New server      Why
                INBOX       -> INBOX           in your list of folders to copy; inbox
                Clients     -> Customers       new folder; in your list of folders to copy; renamed by your rule
                  Acme      -> Customers/Acme  new folder; in your list of folders to copy; renamed by your rule
                  Private      skipped: you chose to leave it out
                    Old        skipped: you chose to leave it out
                Old Stuff   -> Archive/Old     new folder; your choice
                  2019         skipped: not in your list of folders to copy
                Personal       skipped: not in your list of folders to copy

                Good to know:
                  - Your choice "Nowhere=X" names a folder that does not exist on the old server.

                4 folders, 4 skipped
            "#]],
        );
        assert_eq!(map.decisions_needed(), 0);
    }

    #[test]
    fn a_skipped_parent_with_a_copied_child_becomes_a_container() {
        let source = tree(
            &[
                r#"* LIST () "/" INBOX"#,
                r#"* LIST () "/" "Clients""#,
                r#"* LIST () "/" "Clients/Acme""#,
                r#"* LIST () "/" "Clients/Beta""#,
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
            Old server     New server    Why
            INBOX       -> INBOX         inbox
            Clients        skipped: you chose to leave it out
              Acme      -> Clients/Acme  new folder
              Beta      -> Clients/Beta  new folder

            Good to know:
              - "Clients" is skipped, but "Clients/Acme", "Clients/Beta" inside it are copied, so "Clients" will be created empty to hold them.

            3 folders, 1 skipped
        "#]],
        );
    }

    #[test]
    fn reserved_names_are_renamed_and_a_single_notes_folder_is_mail() {
        let source = tree(
            &[
                r#"* LIST () "/" INBOX"#,
                r#"* LIST () "/" "Files""#,
                r#"* LIST () "/" "Files/2020""#,
                r#"* LIST () "/" "Notes""#,
                r#"* LIST () "/" "Outbox""#,
            ],
            true,
        );
        let map = check(
            &source,
            &exchange(),
            &Rules::default(),
            expect![[r#"
            Old server     New server        Why
            INBOX       -> INBOX             inbox
            Files       -> Files (old)       new folder; renamed: the new server keeps "Files" for itself
              2020      -> Files (old)/2020  new folder; renamed: the new server keeps "Files" for itself
            Notes       -> Notes (old)       new folder; renamed: the new server keeps "Notes" for itself
            Outbox      -> Outbox

            5 folders
        "#]],
        );
        assert!(
            !map.exchange_source,
            "one Notes folder does not make an Exchange server"
        );
        // Reserved names can also come from the provider preset.
        let rules = Rules {
            reserved_names: vec!["outbox".into()],
            ..Rules::default()
        };
        let dovecot = tree(&[r#"* LIST () "/" INBOX"#], true);
        let map = map_folders(&source, &dovecot, &rules);
        assert!(map.render_text().contains("-> Outbox (old)"));
        assert!(map.render_text().contains("-> Files "));
    }

    #[test]
    fn non_mail_folders_can_be_kept_on_request() {
        let rules = Rules {
            copy_non_mail: true,
            ..Rules::default()
        };
        let map = map_folders(
            &exchange(),
            &tree(&[r#"* LIST () "/" INBOX"#], true),
            &rules,
        );
        assert!(map
            .entries
            .iter()
            .all(|e| matches!(e.target, Target::Folder { .. })));
    }

    #[test]
    fn nfc_and_nfd_names_are_both_copied_and_flagged() {
        let source = tree(
            &[
                r#"* LIST () "/" INBOX"#,
                r#"* LIST () "/" "Caf&AOk-""#,
                r#"* LIST () "/" "Cafe&AwE-""#,
            ],
            true,
        );
        let dest = tree(&[r#"* LIST () "/" INBOX"#], true);
        check(
            &source,
            &dest,
            &Rules::default(),
            expect![[r#"
                Old server     New server  Why
                INBOX       -> INBOX       inbox
                Café        -> Café        new folder
                Café        -> Café        new folder

                Good to know:
                  - "Café", "Café" differ only in capital letters or accents. They are kept as separate folders; if the new server treats them as one, the second gets a folder of its own, named with "(2)".
                  - "Café" and "Café" look alike but are different folders; both are copied, separately.

                3 folders
            "#]],
        );
    }

    #[test]
    fn a_look_alike_the_server_merged_moves_to_its_sibling() {
        let source = tree(
            &[
                r#"* LIST () "/" INBOX"#,
                r#"* LIST () "/" "Caf&AOk-""#,
                r#"* LIST () "/" "Cafe&AwE-""#,
            ],
            true,
        );
        let dest = tree(&[r#"* LIST () "/" INBOX"#], true);
        let mut map = map_folders(&source, &dest, &Rules::default());
        assert_eq!(map.decisions_needed(), 0, "not a question");
        let (run, questions) = map.hold_back_questions();
        assert!(questions.is_empty());
        assert_eq!(run, map, "nothing held back");
        let nfd = MailboxName::from_wire("Cafe&AwE-", false).unwrap();
        let sibling = MailboxName::from_display("Cafe\u{301} (2)", false).unwrap();
        map.move_to_siblings(&[(nfd.clone(), sibling.clone())]);
        let target = |source: &MailboxName| match &map
            .entries
            .iter()
            .find(|e| &e.source == source)
            .unwrap()
            .target
        {
            Target::Folder { name, .. } => name.clone(),
            Target::Excluded => panic!("skipped"),
        };
        assert_eq!(target(&nfd), sibling, "NFD goes to its sibling");
        let nfc = MailboxName::from_wire("Caf&AOk-", false).unwrap();
        assert_eq!(target(&nfc).wire(), "Caf&AOk-", "NFC stays");
        let moved = map.entries.iter().find(|e| e.source == nfd).unwrap();
        assert!(moved
            .reasons
            .iter()
            .any(|r| r.describe().contains("folder of its own")));
    }

    #[test]
    fn unfit_names_need_a_decision() {
        let long = "x".repeat(300);
        let lines = [
            r#"* LIST () "/" INBOX"#.to_owned(),
            format!(r#"* LIST () "/" "{long}""#),
            r#"* LIST () "/" "a&AAk-b""#.to_owned(),
        ];
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let source = tree(&lines, true);
        let dest = tree(&[r#"* LIST () "/" INBOX"#], true);
        let map = map_folders(&source, &dest, &Rules::default());
        let problems: Vec<_> = map
            .conflicts
            .iter()
            .filter_map(|c| match c {
                Conflict::UnfitName { problem, .. } => Some(problem.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            problems,
            [
                NameProblem::TooLong {
                    bytes: 300,
                    limit: 255
                },
                NameProblem::ControlChar
            ]
        );
        assert_eq!(map.summary(), "3 folders, 2 need a decision");
        // A rename that empties a name is caught too.
        let rules = Rules {
            renames: vec![Regextrans2::parse("s/^x+$//").unwrap()],
            ..Rules::default()
        };
        let map = map_folders(&source, &dest, &rules);
        assert!(map.conflicts.iter().any(|c| matches!(
            c,
            Conflict::UnfitName {
                problem: NameProblem::Empty,
                ..
            }
        )));
    }

    #[test]
    fn utf8_source_to_modified_utf7_destination_keeps_the_text() {
        let source = FolderTree::from_list_lines(
            &[
                r#"* LIST () "/" INBOX"#,
                r#"* LIST () "/" "Cartório""#,
                r#"* LIST (\NonExistent) "/" "Gone""#,
            ],
            &[],
            true,
        )
        .unwrap();
        let dest = tree(&[r#"* LIST () "/" INBOX"#], true);
        let map = map_folders(&source, &dest, &Rules::default());
        let Target::Folder { name, .. } = &map.entries[1].target else {
            panic!("Cartório is copied");
        };
        assert_eq!(name.wire(), "Cart&APM-rio");
        assert_eq!(name.display(), "Cartório");
        assert_eq!(
            map.entries[2].reasons,
            [Reason::DefaultExcluded(DefaultExclusion::NoSelect)],
            "a \\NonExistent folder holds no mail"
        );
        // And back: a modified UTF-7 source to a UTF-8 destination.
        let mut utf8_dest = dest.clone();
        utf8_dest.utf8 = true;
        let back = map_folders(
            &tree(&[r#"* LIST () "/" "Cart&APM-rio""#], true),
            &utf8_dest,
            &Rules::default(),
        );
        let Target::Folder { name, .. } = &back.entries[0].target else {
            panic!("Cartório is copied");
        };
        assert_eq!(name.wire(), "Cartório");
    }

    #[test]
    fn the_map_serializes_for_the_json_output() {
        let map = map_folders(&gmail(), &exchange(), &Rules::default());
        let json = serde_json::to_value(&map).unwrap();
        assert_eq!(json["gmail_source"], true);
        assert_eq!(json["entries"][0]["source"]["wire"], "INBOX");
        assert_eq!(json["entries"][0]["target"]["kind"], "folder");
    }
}
