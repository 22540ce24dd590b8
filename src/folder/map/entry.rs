//! What the folder map says of each source folder: where it goes
//! ([`Target`]), why ([`Reason`], in plain words), names the destination
//! can't take ([`NameProblem`]) and what needs the user's decision
//! ([`Conflict`]).

use serde::Serialize;

use super::super::name::MailboxName;
use super::super::tree::SpecialUse;

/// Where a source folder goes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// Into this destination folder.
    Folder {
        /// The destination name, encoded for the destination server.
        name: MailboxName,
        /// The special-use role the destination folder has (or is created with).
        special: Option<SpecialUse>,
        /// Whether the destination folder exists already.
        exists: bool,
    },
    /// Not copied.
    Excluded,
}

/// Why a default exclusion applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DefaultExclusion {
    /// A `\Noselect` or `\NonExistent` folder: it only holds other folders.
    NoSelect,
    /// Gmail's `[Gmail]`/`[Google Mail]` group root.
    GmailGroup,
    /// Gmail's Spam, Trash, Important or Starred.
    GmailView(SpecialUse),
    /// A virtual view (`\All`, `\Flagged`, `\Important`) on another server.
    VirtualView(SpecialUse),
    /// An Exchange folder holding calendar items, contacts, tasks, notes or logs.
    NonMail,
}

/// One reason behind a folder's place in the map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Reason {
    /// The INBOX goes to the INBOX.
    Inbox,
    /// The user paired this folder with a destination (`--f1f2`).
    ExplicitPair,
    /// The folder matches an include pattern.
    UserIncluded,
    /// The folder matches an exclude pattern.
    UserExcluded {
        /// The pattern.
        pattern: String,
    },
    /// There are include patterns and the folder matches none.
    NotIncluded,
    /// Skipped by default.
    DefaultExcluded(DefaultExclusion),
    /// Placed by its special-use attribute.
    SpecialUse(SpecialUse),
    /// Placed as a special folder recognised by its (localized) name.
    LocalizedName(SpecialUse),
    /// Kept inside a folder that was placed by a pair or as a special folder.
    FollowsParent {
        /// The source parent's display name.
        parent: String,
    },
    /// Its subfolder levels are written with the destination's delimiter.
    DelimiterTranslated,
    /// The destination has no hierarchy; the levels became one flat name.
    Flattened,
    /// The personal prefix changed (e.g. `INBOX.` removed or added).
    PrefixChanged {
        /// The source prefix (may be empty).
        from: String,
        /// The destination prefix (may be empty).
        to: String,
    },
    /// Taken out of Gmail's `[Gmail]` group.
    GmailGroupRemoved,
    /// A destination-delimiter character inside a name was replaced (reversible).
    DelimiterCharReplaced {
        /// The character that would have started a subfolder.
        from: char,
        /// What it became.
        to: String,
    },
    /// Renamed by a `--regextrans2` rule.
    UserRename {
        /// The rule.
        rule: String,
    },
    /// The destination reserves this name; a suffix was added.
    ReservedNameRenamed {
        /// The reserved name.
        reserved: String,
    },
    /// Gmail's All Mail goes to Archive, last, only messages not copied from another label.
    AllMailToArchive,
    /// Gmail's All Mail goes to Archive, last, every message.
    AllMailEverything,
    /// Gmail's All Mail is not copied (the user's choice).
    AllMailExcluded,
    /// Shares its destination with another source folder (merging allowed).
    Merged,
    /// The new server took the planned name for the same folder as a
    /// look-alike one (letter case or accents), so this folder went into a
    /// sibling of its own.
    LookAlikeMoved {
        /// The planned name (display form).
        planned: String,
    },
}

impl Reason {
    /// A short tag in plain words for the preview.
    pub fn describe(&self) -> String {
        match self {
            Reason::Inbox => "inbox".into(),
            Reason::ExplicitPair => "your choice".into(),
            Reason::UserIncluded => "in your list of folders to copy".into(),
            Reason::UserExcluded { .. } => "skipped: you chose to leave it out".into(),
            Reason::NotIncluded => "skipped: not in your list of folders to copy".into(),
            Reason::DefaultExcluded(why) => match why {
                DefaultExclusion::NoSelect => "skipped: only holds other folders".into(),
                DefaultExclusion::GmailGroup => {
                    "skipped: Gmail's group of system folders, holds no mail itself".into()
                }
                DefaultExclusion::GmailView(SpecialUse::Junk) => "skipped: spam".into(),
                DefaultExclusion::GmailView(SpecialUse::Trash) => "skipped: Gmail trash".into(),
                DefaultExclusion::GmailView(SpecialUse::Important) => {
                    "skipped: Gmail's Important view (that mail is in other folders)".into()
                }
                DefaultExclusion::GmailView(SpecialUse::Flagged) => {
                    "skipped: Gmail's Starred view (the stars stay on the messages)".into()
                }
                DefaultExclusion::GmailView(_) => "skipped: a Gmail view".into(),
                DefaultExclusion::VirtualView(_) => {
                    "skipped: a view of mail that is kept in other folders".into()
                }
                DefaultExclusion::NonMail => {
                    "skipped: not email (calendar, contacts, tasks, notes or logs)".into()
                }
            },
            Reason::SpecialUse(s) => format!("{} folder", s.label()),
            Reason::LocalizedName(s) => format!("{} folder (recognised by its name)", s.label()),
            Reason::FollowsParent { parent } => format!("stays inside {parent}"),
            Reason::DelimiterTranslated => "subfolder kept".into(),
            Reason::Flattened => {
                "subfolders written as one folder name (the new server has no subfolders)".into()
            }
            Reason::PrefixChanged { from, to } => {
                if to.is_empty() {
                    "now a top-level folder (was inside INBOX)".into()
                } else if from.is_empty() {
                    "placed inside INBOX, as the new server expects".into()
                } else {
                    "moved to where the new server keeps folders".into()
                }
            }
            Reason::GmailGroupRemoved => "taken out of Gmail's group of system folders".into(),
            Reason::DelimiterCharReplaced { from, to } => {
                format!("\"{from}\" in the name became \"{to}\" (it would start a subfolder here)")
            }
            Reason::UserRename { .. } => "renamed by your rule".into(),
            Reason::ReservedNameRenamed { reserved } => {
                format!("renamed: the new server keeps \"{reserved}\" for itself")
            }
            Reason::AllMailToArchive => {
                "All Mail: only mail that is in no other folder goes here, copied last".into()
            }
            Reason::AllMailEverything => "All Mail: every message goes here, copied last".into(),
            Reason::AllMailExcluded => {
                "skipped: All Mail (mail that is in no other folder will not be copied)".into()
            }
            Reason::Merged => "shared with another folder (you allowed merging)".into(),
            Reason::LookAlikeMoved { planned } => format!(
                "the new server treats \"{planned}\" as the same folder as a look-alike name, so \
                 this one got a folder of its own"
            ),
        }
    }
}

/// One source folder and where it goes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MapEntry {
    /// The source folder.
    pub source: MailboxName,
    /// Where it goes.
    pub target: Target,
    /// Why, in the order the decisions were made.
    pub reasons: Vec<Reason>,
}

/// What is wrong with a destination name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum NameProblem {
    /// The name is empty (for example after a rename rule).
    Empty,
    /// A level of the name is empty (`a//b`, or a leading or trailing delimiter).
    EmptyLevel,
    /// The name is longer than the destination is assumed to accept.
    TooLong {
        /// The name's length in wire bytes.
        bytes: usize,
        /// The limit ([`Rules::max_name_bytes`](crate::folder::Rules::max_name_bytes)).
        limit: usize,
    },
    /// The name holds a control character.
    ControlChar,
    /// A level starts or ends with a blank, which Gmail refuses.
    LeadingOrTrailingBlank,
}

impl NameProblem {
    fn describe(&self) -> String {
        match self {
            NameProblem::Empty => "the name is empty".into(),
            NameProblem::EmptyLevel => "part of the name is empty".into(),
            NameProblem::TooLong { bytes, limit } => {
                format!("the name is too long ({bytes} bytes; the limit is {limit})")
            }
            NameProblem::ControlChar => "the name holds an invisible control character".into(),
            NameProblem::LeadingOrTrailingBlank => {
                "Gmail does not accept a name that starts or ends with a space".into()
            }
        }
    }
}

/// Something the user should see before copying.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Conflict {
    /// Several source folders land in one destination folder (and merging was not allowed).
    SharedTarget {
        /// The destination folder.
        target: MailboxName,
        /// The source folders.
        sources: Vec<MailboxName>,
    },
    /// Destination names that differ only in letter case or accent encoding,
    /// at least one of them new: some servers treat them as one folder. Not
    /// a question: after creating them MailFerry lists the folders again,
    /// and a name the server took for its look-alike goes into a sibling
    /// ("Café (2)"; see [`FolderMap::move_to_siblings`](super::FolderMap::move_to_siblings)).
    CaseCollision {
        /// The destination display names.
        names: Vec<String>,
    },
    /// A destination name the destination cannot hold.
    UnfitName {
        /// The source folder.
        source: MailboxName,
        /// The destination display name.
        target: String,
        /// What is wrong.
        problem: NameProblem,
    },
    /// A skipped folder has subfolders that are copied: it will be created empty to hold them.
    ExcludedParent {
        /// The skipped folder.
        parent: MailboxName,
        /// Its copied subfolders.
        children: Vec<MailboxName>,
    },
    /// Two source folders look the same but are different (NFC/NFD, or case); both are copied separately.
    NearDuplicate {
        /// One folder.
        first: MailboxName,
        /// The other.
        second: MailboxName,
    },
    /// An explicit pair names a source folder that does not exist.
    UnusedPair {
        /// The pair as `source=destination`.
        pair: String,
    },
}

impl Conflict {
    /// Whether the user must decide before folders are created (otherwise it is a note).
    pub fn needs_decision(&self) -> bool {
        matches!(
            self,
            Conflict::SharedTarget { .. } | Conflict::UnfitName { .. }
        )
    }

    /// Whether this conflict is about the folder of `entry` (a question
    /// then holds that folder back; see [`FolderMap::hold_back_questions`](super::FolderMap::hold_back_questions)).
    pub fn concerns(&self, entry: &MapEntry) -> bool {
        match self {
            Conflict::SharedTarget { sources, .. } => sources.contains(&entry.source),
            Conflict::UnfitName { source, .. } => *source == entry.source,
            Conflict::CaseCollision { names } => matches!(
                &entry.target,
                Target::Folder { name, exists: false, .. } if names.iter().any(|n| n == name.display())
            ),
            Conflict::ExcludedParent { .. }
            | Conflict::NearDuplicate { .. }
            | Conflict::UnusedPair { .. } => false,
        }
    }

    /// The conflict in plain words.
    pub fn describe(&self) -> String {
        let quote_all = |names: &mut dyn Iterator<Item = &str>| {
            names
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Conflict::SharedTarget { target, sources } => format!(
                "{} folders would go into the same folder \"{}\": {}. Choose one, or allow merging.",
                sources.len(),
                target.display(),
                quote_all(&mut sources.iter().map(MailboxName::display))
            ),
            Conflict::CaseCollision { names } => format!(
                "{} differ only in capital letters or accents. They are kept as separate folders; \
                 if the new server treats them as one, the second gets a folder of its own, \
                 named with \"(2)\".",
                quote_all(&mut names.iter().map(String::as_str))
            ),
            Conflict::UnfitName {
                source,
                target,
                problem,
            } if source.display() == target => format!(
                "\"{target}\" cannot be created on the new server: {}. Rename it.",
                problem.describe()
            ),
            Conflict::UnfitName {
                source,
                target,
                problem,
            } => format!(
                "\"{}\" cannot be created as \"{}\": {}. Rename it.",
                source.display(),
                target,
                problem.describe()
            ),
            Conflict::ExcludedParent { parent, children } => format!(
                "\"{}\" is skipped, but {} inside it {} copied, so \"{}\" will be created empty to hold {}.",
                parent.display(),
                quote_all(&mut children.iter().map(MailboxName::display)),
                if children.len() == 1 { "is" } else { "are" },
                parent.display(),
                if children.len() == 1 { "it" } else { "them" },
            ),
            Conflict::NearDuplicate { first, second } => format!(
                "\"{}\" and \"{}\" look alike but are different folders; both are copied, separately.",
                first.display(),
                second.display()
            ),
            Conflict::UnusedPair { pair } => {
                format!("Your choice \"{pair}\" names a folder that does not exist on the old server.")
            }
        }
    }
}
