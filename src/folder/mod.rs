//! Folders: names, trees on both sides, and the map from source to destination.

pub mod name;
pub mod utf7;

pub use name::{near_duplicates, MailboxName, NameError};
pub use utf7::Utf7Error;
