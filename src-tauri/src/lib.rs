//! MailFerry's desktop shell: the wizard window and thin commands over the
//! `mailferry` engine. It writes no protocol or storage logic of its own.
//!
//! - [`commands`]: one file per wizard step.
//! - [`accounts`]: signed-in accounts behind handles (secrets stay here).
//! - [`runs`]: the run registry (copies owned by the shell, watched by the window).
//! - [`domains`]: a whole domain's copy, several mailboxes at once.
//! - [`error`]: the `{ code, message }` every command fails with.
//! - `bindings` (tests): the TypeScript types for the window, generated.

pub mod accounts;
pub mod commands;
pub mod domains;
pub mod error;
pub mod runs;

#[cfg(test)]
mod bindings;
#[cfg(test)]
mod testing;

use commands::{
    connect, copy, cutover, demo, folder_map, report, scan, servers, sign_in, update, verify,
};
// Issue 7, several mailboxes, saved jobs (kept apart for merging).
use commands::{job, mailboxes, oauth};

/// Opens the wizard window and runs until it is closed.
pub fn run() {
    let app = tauri::Builder::default()
        .manage(accounts::Accounts::default())
        .manage(runs::Runs::default())
        .manage(demo::DemoServers::default())
        .manage(oauth::OAuthConfig::from_env())
        .manage(oauth::ClientOverride::default())
        // Configured by tauri.conf.json's plugins.updater; only the
        // update_available command uses it (no updater permission for the window).
        .plugin(tauri_plugin_updater::Builder::new().build())
        .invoke_handler(tauri::generate_handler![
            servers::provider_presets,
            servers::open_app_password_page,
            connect::probe_server,
            sign_in::sign_in,
            sign_in::forget_account,
            scan::scan,
            folder_map::folder_map,
            copy::start_run,
            copy::start_domain_run,
            copy::current_domain_run,
            copy::watch_domain,
            copy::watch_run,
            copy::pause_run,
            copy::resume_run,
            copy::cancel_run,
            verify::verify,
            verify::search_log,
            demo::demo_available,
            demo::start_demo,
            update::update_available,
            mailboxes::read_mailbox_list,
            mailboxes::add_mailbox,
            job::save_job,
            job::load_job,
            job::forget_job,
            sign_in::sign_in_saved,
            oauth::oauth_providers,
            oauth::sign_in_oauth,
            oauth::set_oauth_client,
            cutover::check_mx,
            report::save_report,
        ])
        .build(tauri::generate_context!())
        .expect("the window could not be created (is a display available?)");
    app.run(|app, event| {
        if let tauri::RunEvent::Exit = event {
            use tauri::Manager;
            app.state::<demo::DemoServers>().stop();
        }
    });
}
