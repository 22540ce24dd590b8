//! Keeping the computer awake while a copy or a watch runs: a laptop that
//! goes to sleep halfway through a night's copy has moved nothing since.
//! The first piece of work to start takes the system's inhibitor (the
//! `keepawake` crate: logind and the screensaver's on Linux, IOKit's power
//! assertions on macOS, `SetThreadExecutionState` on Windows), the last
//! one to end lets it go. Where the system refuses, the work goes on and
//! the screen says so; a sleep is then handled like any cut connection:
//! the copy resumes where it stopped.

use std::sync::{Arc, Mutex};

/// What holds the system awake; released when the returned token drops.
pub trait Inhibitor: Send + Sync {
    /// Asks the system not to sleep, for `why` (shown by the system's own
    /// tools, e.g. `systemd-inhibit --list`).
    ///
    /// # Errors
    /// The system has no such service or refused, in its words.
    fn inhibit(&self, why: &str) -> Result<Box<dyn Send>, String>;
}

/// The system's own inhibitor.
pub struct System;

impl Inhibitor for System {
    fn inhibit(&self, why: &str) -> Result<Box<dyn Send>, String> {
        keepawake::Builder::default()
            .idle(true)
            .sleep(true)
            .reason(why)
            .app_name("MailFerry")
            .app_reverse_domain("app.mailferry.desktop")
            .create()
            .map(|held| Box::new(held) as Box<dyn Send>)
            .map_err(|e| e.to_string())
    }
}

#[derive(Default)]
struct State {
    /// Pieces of work that want the computer awake.
    holders: usize,
    /// The system's token while it is held.
    held: Option<Box<dyn Send>>,
    /// Why the system refused, while it did.
    refused: Option<String>,
}

/// The app's one keep-awake: shared by every copy and watch.
pub struct Awake {
    inhibitor: Box<dyn Inhibitor>,
    state: Mutex<State>,
}

/// One piece of work's hold; the computer may sleep again once every
/// guard has dropped.
pub struct Guard(Arc<Awake>);

impl Awake {
    /// A keep-awake that asks `inhibitor`.
    pub fn new(inhibitor: impl Inhibitor + 'static) -> Arc<Awake> {
        Arc::new(Awake {
            inhibitor: Box::new(inhibitor),
            state: Mutex::new(State::default()),
        })
    }

    /// Keeps the computer awake until the guard drops. Never fails: a
    /// refusal is kept for [`Awake::words`] and the work goes on.
    pub fn hold(self: &Arc<Self>, why: &str) -> Guard {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.holders += 1;
        if state.held.is_none() && state.refused.is_none() {
            match self.inhibitor.inhibit(why) {
                Ok(token) => state.held = Some(token),
                Err(reason) => {
                    tracing::warn!("cannot keep the computer awake: {reason}");
                    state.refused = Some(reason);
                }
            }
        }
        Guard(self.clone())
    }

    /// What the screen says while work holds the computer awake (`until`:
    /// "the copy ends"); `None` when nothing does.
    pub fn words(&self, until: &str) -> Option<String> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.holders == 0 {
            return None;
        }
        Some(match &state.refused {
            None => format!(
                "MailFerry keeps this computer awake until {until}. If it sleeps anyway (a \
                 closed lid), the work picks up where it stopped when it wakes."
            ),
            Some(_) => format!(
                "MailFerry could not keep this computer from going to sleep. Keep it plugged in \
                 and awake until {until}; if it sleeps, the work picks up where it stopped when \
                 it wakes."
            ),
        })
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let mut state = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
        state.holders = state.holders.saturating_sub(1);
        if state.holders == 0 {
            state.held = None;
            state.refused = None;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// An inhibitor that counts what it was asked and what was released.
    #[derive(Clone, Default)]
    pub(crate) struct Counted {
        pub(crate) taken: Arc<AtomicUsize>,
        pub(crate) released: Arc<AtomicUsize>,
        pub(crate) refuse: bool,
    }

    struct Token(Arc<AtomicUsize>);

    impl Drop for Token {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    impl Inhibitor for Counted {
        fn inhibit(&self, _why: &str) -> Result<Box<dyn Send>, String> {
            self.taken.fetch_add(1, Ordering::SeqCst);
            if self.refuse {
                return Err("no power service on this computer".into());
            }
            Ok(Box::new(Token(self.released.clone())))
        }
    }

    impl Counted {
        pub(crate) fn counts(&self) -> (usize, usize) {
            (
                self.taken.load(Ordering::SeqCst),
                self.released.load(Ordering::SeqCst),
            )
        }
    }

    #[test]
    fn the_first_work_takes_the_inhibitor_and_the_last_releases_it() {
        let counted = Counted::default();
        let awake = Awake::new(counted.clone());
        assert_eq!(awake.words("the copy ends"), None);
        let copy = awake.hold("copying mail");
        let watch = awake.hold("watching the old server");
        assert_eq!(counted.counts(), (1, 0), "asked once for both");
        let words = awake.words("the copy ends").unwrap();
        assert!(
            words.starts_with("MailFerry keeps this computer awake until the copy ends."),
            "{words}"
        );
        drop(copy);
        assert_eq!(counted.counts(), (1, 0), "the watch still holds it");
        drop(watch);
        assert_eq!(counted.counts(), (1, 1), "released with the last");
        assert_eq!(awake.words("the copy ends"), None);
        let again = awake.hold("copying mail");
        assert_eq!(counted.counts(), (2, 1), "taken anew by the next work");
        drop(again);
        assert_eq!(counted.counts(), (2, 2));
    }

    #[test]
    fn a_refusal_lets_the_work_go_on_and_is_said_in_words() {
        let counted = Counted {
            refuse: true,
            ..Counted::default()
        };
        let awake = Awake::new(counted.clone());
        let copy = awake.hold("copying mail");
        let words = awake.words("the copy ends").unwrap();
        assert!(
            words.starts_with("MailFerry could not keep this computer from going to sleep.")
                && words.contains("Keep it plugged in"),
            "{words}"
        );
        let second = awake.hold("watching");
        assert_eq!(counted.counts().0, 1, "not asked again while refused");
        drop((copy, second));
        let _later = awake.hold("copying mail");
        assert_eq!(counted.counts().0, 2, "asked again for later work");
    }
}
