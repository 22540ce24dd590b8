//! Generates the app context and one permission per command; the window's
//! capability (capabilities/main.json) allows exactly the wizard's commands.

const COMMANDS: &[&str] = &[
    "provider_presets",
    "open_app_password_page",
    "probe_server",
    "sign_in",
    "forget_account",
    "scan",
    "folder_map",
    "start_run",
    "start_domain_run",
    "current_domain_run",
    "watch_domain",
    "watch_run",
    "pause_run",
    "resume_run",
    "cancel_run",
    "verify",
    "search_log",
    "demo_available",
    "start_demo",
    "update_available",
    "read_mailbox_list",
    "add_mailbox",
    "save_job",
    "load_job",
    "forget_job",
    "sign_in_saved",
    "oauth_providers",
    "sign_in_oauth",
    "set_oauth_client",
    "check_mx",
    "save_report",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build failed");
}
