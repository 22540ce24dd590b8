//! Folders: names, trees on both sides, and the map from source to destination.

pub mod name;
pub mod tree;
pub mod utf7;

pub use name::{near_duplicates, MailboxName, NameError};
pub use tree::{Attribute, Folder, FolderTree, SpecialUse};
pub use utf7::Utf7Error;
