//! MailFerry's desktop shell: the wizard window and thin commands over the
//! `mailferry` engine. It writes no protocol or storage logic of its own.
//!
//! - [`commands`]: one file per wizard step.
//! - [`ipc`]: the one list of the window's commands, made Tauri commands.
//! - [`accounts`]: signed-in accounts behind handles (secrets stay here).
//! - [`runs`]: the run registry (copies owned by the shell, watched by the window).
//! - [`domains`]: a whole domain's copy, several mailboxes at once.
//! - [`error`]: the `{ code, message }` every command fails with.
//! - `bindings` (tests): the TypeScript types for the window, generated.

pub mod accounts;
pub mod awake;
pub mod commands;
pub mod domains;
pub mod error;
pub mod ipc;
pub mod notify;
pub mod runs;
pub mod watching;

#[cfg(test)]
mod bindings;
#[cfg(test)]
mod testing;

use commands::{demo, oauth};

/// Opens the wizard window and runs until it is closed.
pub fn run() {
    let app = tauri::Builder::default()
        .manage(accounts::Accounts::default())
        .manage(runs::Runs::default())
        .manage(watching::Watches::default())
        .manage(demo::DemoServers::default())
        .manage(oauth::OAuthConfig::from_env())
        .manage(oauth::ClientOverride::in_data_dir())
        .manage(commands::mailboxes::Directory::default())
        .manage(commands::mailboxes::Choices::default())
        .manage(commands::mailboxes::AdminSignIn::default())
        .manage(commands::files::FileJobs::default())
        .manage(commands::graph::GraphMailboxes::default())
        .manage(commands::google_dav::GoogleDavSignIns::default())
        // Configured by tauri.conf.json's plugins.updater; only the
        // update_available command uses it (no updater permission for the window).
        .plugin(tauri_plugin_updater::Builder::new().build())
        // Only the shell notifies (no notification permission for the window).
        .plugin(tauri_plugin_notification::init())
        // Only the shell opens the save dialog (no dialog permission for the window).
        .plugin(tauri_plugin_dialog::init())
        .invoke_handler(ipc::handler())
        .build(tauri::generate_context!())
        .expect("the window could not be created (is a display available?)");
    {
        use tauri::Manager;
        let runs = app.state::<runs::Runs>();
        runs.set_notifier(std::sync::Arc::new(notify::Desktop(app.handle().clone())));
        runs.set_awake(awake::Awake::new(awake::System));
    }
    app.run(|app, event| {
        if let tauri::RunEvent::Exit = event {
            use tauri::Manager;
            app.state::<demo::DemoServers>().stop();
        }
    });
}
