//! Folders: names, trees on both sides, and the map from source to destination.
//!
//! - [`utf7`]: strict modified UTF-7 (RFC 3501 §5.1.3).
//! - [`name`]: [`MailboxName`], wire bytes plus display form.
//! - [`tree`]: what a listing gives ([`FolderTree`], [`Folder`]) and a pure
//!   `LIST`/`LSUB` parser.
//! - [`rules`]: the user's rules ([`Rules`]), validated when built.
//! - [`names_dict`]: localized special-folder names and Exchange's non-mail folders.
//! - [`map`](mod@map): [`map_folders`], the pure mapping, and [`FolderMap`] with its
//!   text rendering.
//! - [`plan_create`](mod@plan_create): the CREATE and SUBSCRIBE operations a map needs.

pub mod map;
pub mod name;
pub mod names_dict;
pub mod plan_create;
pub mod rules;
pub mod tree;
pub mod utf7;

pub use map::{map_folders, Conflict, FolderMap, MapEntry, Reason, Target};
pub use name::{near_duplicates, MailboxName, NameError};
pub use plan_create::{plan_create, CreatePlan, FolderOp, PlanCreateError};
pub use rules::{AllMailPolicy, FolderPair, MergePolicy, Pattern, Regextrans2, RuleError, Rules};
pub use tree::{Attribute, Folder, FolderTree, SpecialUse};
pub use utf7::Utf7Error;
