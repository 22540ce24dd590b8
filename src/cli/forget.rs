//! `mailferry forget`: the keychain's secrets of one or both accounts,
//! removed after a migration.

use super::args::ForgetArgs;
use super::engine_error;
use super::sides::Side;
use anyhow::bail;
use mailferry::auth::keychain::{Account, Keychain};
use std::io::Write;
use std::process::ExitCode;

/// `mailferry forget`: removes each given account's secrets from the
/// keychain.
pub(crate) fn run(args: ForgetArgs) -> anyhow::Result<ExitCode> {
    let sides: [Side; 2] = args.servers.sides();
    for side in &sides {
        if side.host.as_deref() == Some("auto") {
            bail!(
                "forget needs the server name the sign-in was saved under: give --host{n} NAME \
                 (`mailferry discover` shows the one found for an address)",
                n = side.n
            );
        }
    }
    let accounts: Vec<Account> = sides.iter().filter_map(Side::account).collect();
    if accounts.is_empty() {
        bail!("nothing to forget: give --host1 and --user1 and/or --host2 and --user2");
    }
    let keychain = Keychain::system().map_err(|e| engine_error("Keychain", e))?;
    let mut out = std::io::stdout().lock();
    for account in &accounts {
        let removed = keychain
            .forget(account)
            .map_err(|e| engine_error("Keychain", e))?;
        if removed == 0 {
            writeln!(out, "Nothing saved for {account}.")?;
        } else {
            writeln!(
                out,
                "Removed the saved sign-in of {account} from this computer."
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
