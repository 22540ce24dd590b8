//! MailFerry's engine: moves a domain's email from one IMAP server to another.

pub mod folder;
