//! The `mailferry` command line: flags an imapsync user recognises, over the
//! same engine the desktop app uses. It writes no protocol or storage logic
//! of its own. Data goes to stdout (`--json` for machines), logs to stderr.
//! The flags, the sign-in of each server and the printing live in `cli`;
//! this file parses the command and hands it on.
//!
//! Exit codes: 0 everything fine, 1 finished but something needs attention
//! (messages not copied, a folder question to decide, a folder the server
//! refused), 2 could not run; `sync --row` (one mailbox per worker of a
//! batch engine) adds 75 (temporary: run again later) and 77 (permanent:
//! retrying cannot help), see `mailferry::batch`.

mod cli;

use anyhow::Context;
use clap::Parser;
use cli::args::{Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    mailferry::logging::init();
    match run(Cli::parse().command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mailferry: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs one command; the async ones on a multi-threaded runtime.
fn run(command: Command) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match command {
        Command::Discover(args) => runtime.block_on(cli::discover::run(args)),
        Command::Check(args) => runtime.block_on(cli::check::run(args)),
        Command::Folders(args) => runtime.block_on(cli::folders::run(args)),
        Command::Sync(args) => runtime.block_on(cli::sync::run(*args)),
        Command::Verify(args) => runtime.block_on(cli::verify::run(args)),
        Command::Watch(args) => runtime.block_on(cli::watch::run(*args)),
        Command::Log(args) => cli::log::run(args),
        Command::Report(args) => runtime.block_on(cli::report::run(args)),
        Command::Forget(args) => cli::forget::run(args),
        Command::Inventory(args) => cli::inventory::run(args),
        Command::Dav(args) => cli::dav::run(args),
        Command::Export(args) => runtime.block_on(cli::files::export(*args)),
        Command::Import(args) => runtime.block_on(cli::files::import(*args)),
    }
}
