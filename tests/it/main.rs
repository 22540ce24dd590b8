//! The engine's integration tests against real Dovecot servers, in one test
//! binary: each module was once a binary of its own, and every binary
//! linked the whole engine again (ripgrep keeps its tests the same way).
//! Run one module with `cargo test --test it sync::`.
//!
//! tests/secrets.rs stays a binary of its own: it installs process-wide
//! loggers that would capture every other test's output.

mod common;
#[path = "../introspection/mod.rs"]
mod introspection;

mod batch;
mod chaos;
mod check;
mod cli;
mod compress;
mod corpus;
mod crash;
mod dav;
mod dav_discover;
mod dav_graph;
mod discover;
mod domain;
mod faults;
mod files;
mod folders;
mod inventory;
mod messages;
mod oauth;
mod oauth_flow;
mod oauth_grants;
mod registrations;
mod scenarios;
mod sign_in_cli;
mod spot_check;
mod sync;
mod trust;
mod watch;
mod wire;
