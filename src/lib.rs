//! MailFerry's engine: moves a domain's email from one IMAP server to another.

pub mod auth;
pub mod certificate;
pub mod check;
pub mod crashpoint;
pub mod discover;
pub mod domain;
pub mod endpoint;
pub mod error;
pub mod event;
pub mod folder;
pub mod identity;
pub mod imap;
pub mod job;
pub mod logging;
pub mod mx;
pub mod pairing;
pub mod paths;
pub mod preset;
pub mod provider;
pub mod run;
pub mod scan;
pub mod secret;
pub mod spot;
pub mod state;
pub mod verify;
pub mod watch;
