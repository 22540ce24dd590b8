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
pub async fn update_available(app: tauri::AppHandle) -> Option<String> {
    if cfg!(debug_assertions) || std::env::var_os("MAILFERRY_NO_UPDATE_CHECK").is_some() {
        return None;
    }
    let pubkey = app
        .config()
        .plugins
        .0
        .get("updater")
        .and_then(|u| u.get("pubkey"))
        .and_then(|k| k.as_str())
        .unwrap_or("");
    if !is_update_key(pubkey) {
        // A build from source without the release's key: nothing to check
        // updates against.
        tracing::debug!("no updater key in this build; not checking for updates");
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

/// Is `pubkey` a minisign public key as `tauri signer generate` writes it
/// (base64 of a text starting "untrusted comment:"), not the placeholder
/// that builds from source carry?
pub fn is_update_key(pubkey: &str) -> bool {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(pubkey.trim())
        .is_ok_and(|text| text.starts_with(b"untrusted comment:") && text.len() > 60)
}

#[cfg(test)]
mod tests {
    use super::is_update_key;

    #[test]
    fn only_a_real_key_turns_the_check_on() {
        // The shape of `tauri signer generate`'s .pub file, base64-encoded.
        use base64::Engine;
        let key = base64::engine::general_purpose::STANDARD.encode(
            "untrusted comment: minisign public key: 0123456789ABCDEF\n\
             RWTvzQEXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLE0000\n",
        );
        assert!(is_update_key(&key));
        assert!(!is_update_key(
            "REPLACE-WITH-THE-PUBLIC-KEY-FROM-tauri-signer-generate (see src-tauri/README.md)"
        ));
        assert!(!is_update_key(""));
    }
}
