//! "Update available": asks the release host once whether a newer MailFerry
//! is published (tauri-plugin-updater, signed `latest.json`). It only tells
//! the window; nothing is downloaded or installed, so a running copy is
//! never interrupted. Debug builds (tests, `./dev run`) never ask, and
//! `MAILFERRY_NO_UPDATE_CHECK` turns the check off; an unreachable host,
//! a timeout or a bad manifest all mean "no update".

use std::time::Duration;
use tauri_plugin_updater::UpdaterExt;

/// The newer version's number, or `None` (none published, checks off, or
/// the host could not be asked).
#[tauri::command]
pub async fn update_available(app: tauri::AppHandle) -> Option<String> {
    if cfg!(debug_assertions) || std::env::var_os("MAILFERRY_NO_UPDATE_CHECK").is_some() {
        return None;
    }
    let updater = app
        .updater_builder()
        .timeout(Duration::from_secs(15))
        .build()
        .inspect_err(|e| tracing::debug!("updater unavailable: {e}"))
        .ok()?;
    match updater.check().await {
        Ok(update) => update.map(|u| u.version),
        Err(e) => {
            tracing::debug!("update check failed: {e}");
            None
        }
    }
}
