//! Telling the owner that something ended, where they look: an OS
//! notification (Tauri's notification plugin), so a copy, the final
//! catch-up or the watch that ends while the window is hidden or
//! minimised is not missed.

use std::sync::Arc;

/// Says something to the owner outside the window.
pub trait Notifier: Send + Sync {
    /// Shows a notification with this title and text.
    fn notify(&self, title: &str, body: &str);
}

/// The operating system's notifications.
pub struct Desktop(pub tauri::AppHandle);

impl Notifier for Desktop {
    fn notify(&self, title: &str, body: &str) {
        use tauri_plugin_notification::NotificationExt;
        let shown = self
            .0
            .notification()
            .builder()
            .title(title)
            .body(body)
            .show();
        // A desktop without a notification service still has the window.
        if let Err(e) = shown {
            tracing::warn!("a notification could not be shown: {e}");
        }
    }
}

/// Tells `notifier`, when there is one.
pub fn tell(notifier: &Option<Arc<dyn Notifier>>, title: &str, body: &str) {
    if let Some(notifier) = notifier {
        notifier.notify(title, body);
    }
}

/// Keeps what it was told (the shell's tests).
#[cfg(test)]
#[derive(Default)]
pub struct Recorded(pub std::sync::Mutex<Vec<(String, String)>>);

#[cfg(test)]
impl Notifier for Recorded {
    fn notify(&self, title: &str, body: &str) {
        self.0
            .lock()
            .unwrap()
            .push((title.to_owned(), body.to_owned()));
    }
}
