//! "Try it on demo servers": two local Dovecot servers with sample mail
//! (the test harness's demo domain), in builds with the `demo` feature
//! (`./dev run`). Other builds answer `DemoUnavailable`.

use super::servers::Server;
use crate::error::IpcResult;
use serde::Serialize;
use ts_rs::TS;

/// One side of the demo, filled into the wizard's first screens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct DemoSide {
    /// The provider tile it imitates.
    pub preset: String,
    /// The server.
    pub server: Server,
    /// The user.
    pub user: String,
}

/// The demo office's contacts and calendar servers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct DemoContacts {
    /// The old one's address (the owner's address book and calendar).
    pub source: String,
    /// The new one's address (empty).
    pub destination: String,
}

/// The demo servers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct DemoSetup {
    /// Gmail-like source.
    pub source: DemoSide,
    /// Microsoft 365-like destination.
    pub destination: DemoSide,
    /// The demo password for both (not a secret: it is on the screen on
    /// purpose, so the sign-in step can be walked through).
    pub password: String,
    /// The demo office's other mailboxes as a list to paste on the
    /// "Mailboxes" step (old, new, password; demo passwords, shown on
    /// purpose like `password`).
    pub mailbox_list: String,
    /// The contacts and calendar servers, when this computer has radicale.
    pub contacts: Option<DemoContacts>,
}

/// The running demo servers, stopped when the app exits.
#[derive(Default)]
pub struct DemoServers {
    #[cfg(feature = "demo")]
    running: std::sync::Mutex<Option<mailferry_harness::demo::DemoDomain>>,
}

impl DemoServers {
    /// Stops the servers (their processes and temp dirs go away).
    pub fn stop(&self) {
        #[cfg(feature = "demo")]
        drop(
            self.running
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
    }
}

/// Whether this build can start demo servers.
pub fn demo_available() -> bool {
    cfg!(feature = "demo") && available()
}

#[cfg(feature = "demo")]
fn available() -> bool {
    mailferry_harness::dovecot_available()
}

#[cfg(not(feature = "demo"))]
fn available() -> bool {
    false
}

/// Starts the demo servers (or returns the running ones).
pub async fn start_demo(
    demo: tauri::State<'_, DemoServers>,
    accounts: tauri::State<'_, crate::accounts::Accounts>,
) -> IpcResult<DemoSetup> {
    let setup = start(&demo).await?;
    // Demo passwords are on the screen and the servers go away with the
    // app: nothing of them belongs in the keychain.
    for side in [&setup.source, &setup.destination] {
        accounts.session_only_for(&side.server.host, side.server.port);
    }
    Ok(setup)
}

#[cfg(feature = "demo")]
async fn start(demo: &DemoServers) -> IpcResult<DemoSetup> {
    use crate::error::{ErrorCode, IpcError};
    use mailferry::endpoint::Security;
    use mailferry_harness::demo::{DemoDomain, DEMO_PASSWORD, DEMO_USER, DEMO_USERS};
    if !available() {
        return Err(IpcError::new(
            ErrorCode::DemoUnavailable,
            "The demo needs Dovecot installed and MailFerry running as root (run ./dev setup).",
        ));
    }
    let ports = |d: &DemoDomain| {
        let contacts = d.contacts.as_ref().map(|(old, new)| DemoContacts {
            source: format!("{}/", old.url()),
            destination: format!("{}/", new.url()),
        });
        (d.source.tls_port(), d.destination.plain_port(), contacts)
    };
    let running = demo
        .running
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .map(ports);
    let (source_port, dest_port, contacts) = match running {
        Some(ports) => ports,
        None => {
            let domain = tauri::async_runtime::spawn_blocking(DemoDomain::start)
                .await
                .map_err(IpcError::internal)?;
            let found = ports(&domain);
            *demo.running.lock().unwrap_or_else(|e| e.into_inner()) = Some(domain);
            found
        }
    };
    let side = |preset: &str, port, security| DemoSide {
        preset: preset.into(),
        server: Server {
            host: "127.0.0.1".into(),
            port,
            security,
            trusted_fingerprint: None,
        },
        user: DEMO_USER.into(),
    };
    Ok(DemoSetup {
        source: side("gmail", source_port, Security::Tls),
        destination: side("microsoft", dest_port, Security::StartTls),
        password: DEMO_PASSWORD.into(),
        mailbox_list: DEMO_USERS[1..]
            .iter()
            .map(|(user, password)| format!("{user},{user},{password}\n"))
            .collect(),
        contacts,
    })
}

#[cfg(not(feature = "demo"))]
async fn start(_demo: &DemoServers) -> IpcResult<DemoSetup> {
    Err(crate::error::IpcError::new(
        crate::error::ErrorCode::DemoUnavailable,
        "This copy of MailFerry has no demo servers. Run it with ./dev run to try the demo.",
    ))
}

#[cfg(all(test, feature = "demo"))]
mod tests {
    use super::*;
    use crate::accounts::Accounts;
    use crate::commands::mailboxes::{parse_mailboxes, read_rows, PairNames};

    #[tokio::test]
    async fn the_demo_office_has_three_mailboxes_and_its_list_signs_in() {
        if !available() {
            eprintln!("skipped: needs dovecot and root");
            return;
        }
        let demo = DemoServers::default();
        let mut setup = start(&demo).await.unwrap();
        assert_eq!(
            setup.mailbox_list,
            "bob,bob,bobpass\noffice,office,officepass\n"
        );
        {
            let running = demo.running.lock().unwrap();
            let domain = running.as_ref().unwrap();
            for (user, messages) in [("alice", 14), ("bob", 6), ("office", 4)] {
                assert_eq!(
                    domain.source.fetch_all(user, "INBOX").len(),
                    messages,
                    "{user}"
                );
                assert!(domain
                    .destination
                    .list(user)
                    .iter()
                    .any(|f| f == "Sent Items"));
            }
            // The demo's source has a private certificate: trust it as the
            // wizard's dialog does.
            setup.source.server.trusted_fingerprint = Some(domain.source.leaf_sha256_hex());
            setup.destination.server.trusted_fingerprint =
                Some(domain.destination.leaf_sha256_hex());
        }
        let accounts = Accounts::with_keychain(None);
        let owner = PairNames {
            source_user: setup.source.user.clone(),
            destination_user: setup.destination.user.clone(),
        };
        let rows = parse_mailboxes(&setup.mailbox_list, &[owner]);
        let rows = read_rows(
            &accounts,
            &setup.source.server,
            &setup.destination.server,
            rows,
        )
        .await
        .unwrap();
        assert_eq!(rows.len(), 2);
        for row in rows {
            assert!(row.problem.is_none(), "{row:?}");
            assert!(row.source.is_some() && row.destination.is_some(), "{row:?}");
        }
        demo.stop();
    }
}
