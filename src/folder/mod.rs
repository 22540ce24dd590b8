//! Folders: names, trees on both sides, and the map from source to destination.
//!
//! - [`utf7`]: strict modified UTF-7 (RFC 3501 §5.1.3).
//! - [`name`]: [`MailboxName`], wire bytes plus display form.
//! - [`tree`]: what a listing gives ([`FolderTree`], [`Folder`]) and a pure
//!   `LIST`/`LSUB` parser.
//! - [`rules`]: the user's rules ([`Rules`]), validated when built.
//! - [`names_dict`]: localized special-folder names and Exchange's non-mail folders.
//! - [`map`](mod@map): [`map_folders`], the pure mapping, and [`FolderMap`]
//!   with its text rendering.
//! - [`plan_create`](mod@plan_create): the CREATE and SUBSCRIBE operations a map needs.
//! - [`listing`]: [`read_tree`], a side's tree over a signed-in session.
//! - [`apply`](mod@apply): [`apply()`], running a [`CreatePlan`] on the destination.
//! - [`renamed`]: folders renamed at the source between runs, paired by
//!   their MAILBOXID ([`pair_by_id`]), and what became of their copies
//!   ([`Renamed`]).
//!
//! Everything here but `listing` and `apply` is pure: no network, no files, no clock.
//!
//! Not done here (yet), on purpose or for lack of time:
//! - STATUS counts (`Folder::messages`/`bytes` are filled by the caller).
//! - `UTF8=ACCEPT` is never enabled, so names always travel as modified UTF-7.
//! - The LIST parser reads a literal name only when the caller joins the
//!   literal's bytes to the line.
//! - Look-alike detection lowercases (`to_lowercase`) rather than applying
//!   full Unicode case folding (`ß` and `ss` are not paired).
//! - `FolderMap` and `MailboxName` serialize but do not deserialize (`Rules` does).
//! - A case collision always needs a decision, even on a destination that is
//!   case-sensitive (Dovecot); the map cannot know.
//! - Copying into Gmail's Trash or Spam (Exchange → Gmail) is not flagged,
//!   although Gmail empties them after 30 days.
//! - The name-length check is on the whole wire name ([`Rules::max_name_bytes`],
//!   default 255), not per level.

pub mod apply;
pub mod listing;
pub mod map;
pub mod name;
pub mod names_dict;
pub mod plan_create;
pub mod renamed;
pub mod rules;
pub mod tree;
pub mod utf7;

pub use apply::{apply, ApplyReport, Refusal};
pub use listing::read_tree;
pub use map::{map_folders, Conflict, FolderMap, MapEntry, Reason, Target};
pub use name::{near_duplicates, MailboxName, NameError};
pub use plan_create::{plan_create, CreatePlan, FolderOp, PlanCreateError};
pub use renamed::{pair_by_id, Copies, Renamed};
pub use rules::{AllMailPolicy, FolderPair, MergePolicy, Pattern, Regextrans2, RuleError, Rules};
pub use tree::{Attribute, Folder, FolderTree, SpecialUse};
pub use utf7::Utf7Error;
