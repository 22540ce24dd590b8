//! MailFerry's engine: moves a domain's email from one IMAP server to another.

pub mod check;
pub mod endpoint;
pub mod error;
pub mod folder;
pub mod imap;
pub mod logging;
pub mod provider;
pub mod secret;
pub mod identity;
pub mod state;
pub mod event;
pub mod run;
pub mod crashpoint;
pub mod verify;
