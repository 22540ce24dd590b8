//! Progress, as past-tense facts the engine emits to a sink it doesn't know.
//!
//! The CLI draws them on stderr; the desktop shell forwards them to the
//! window. Events carry display names and counts, never message bodies and
//! never a secret.

use serde::Serialize;

/// Something that happened during a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type")]
pub enum Event {
    /// A run began.
    RunStarted {
        /// Nothing will be written anywhere.
        dry: bool,
        /// How many folders will be copied.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        folders: usize,
    },
    /// A folder was compared on both sides.
    FolderScanned {
        /// Source folder (display name).
        folder: String,
        /// Messages in the source folder.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        messages: u64,
        /// Messages that will be copied now.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        to_copy: u64,
        /// Their total size in bytes.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        bytes_to_copy: u64,
        /// Messages already at the destination.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        already_there: u64,
    },
    /// A destination folder was created.
    FolderCreated {
        /// Destination folder (display name).
        folder: String,
    },
    /// A source folder was found renamed at the old server since an
    /// earlier run (same MAILBOXID): its progress follows it.
    FolderRenamed {
        /// Its name before (display name).
        from: String,
        /// Its name now.
        to: String,
        /// What became of its copies at the new server, in plain words.
        said: String,
    },
    /// Messages were stored at the destination.
    MessagesCopied {
        /// Source folder (display name).
        folder: String,
        /// How many in this step.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        count: u64,
        /// Their size in bytes.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        bytes: u64,
    },
    /// A message was not copied, on purpose (filter, deleted at source).
    MessageSkipped {
        /// Source folder (display name).
        folder: String,
        /// Its UID at the source.
        uid: u32,
        /// Why, in plain words.
        reason: String,
    },
    /// The destination refused a message.
    MessageFailed {
        /// Source folder (display name).
        folder: String,
        /// Its UID at the source.
        uid: u32,
        /// Why, in plain words with the server's text.
        reason: String,
    },
    /// A folder could not be copied (a server refused to open or read
    /// it); the run went on with the others, and the next run tries it
    /// again.
    FolderRefused {
        /// Source folder (display name).
        folder: String,
        /// Why, in plain words with the server's text.
        reason: String,
        /// The old server renumbered the folder and too little of what was
        /// copied from it is found again: it waits until the user says to
        /// copy it anyway ([`crate::run::Options::accept_renumbered`]).
        renumbered: bool,
    },
    /// A folder is done.
    FolderDone {
        /// Source folder (display name).
        folder: String,
    },
    /// The copy is waiting: the server asked to slow down, or the
    /// connection was lost and is being opened again.
    Throttled {
        /// How long the wait is, in seconds.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        wait_secs: u64,
        /// Why, in plain words.
        reason: String,
    },
    /// The run is over.
    RunFinished {
        /// Messages copied in this run.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        copied: u64,
        /// Messages that could not be copied.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        failed: u64,
    },
}

/// Where events go. Implemented for closures, so a caller can pass
/// `&mut |e| …`.
pub trait EventSink {
    /// Receives one event. Must not block for long: the copy waits.
    fn emit(&mut self, event: Event);
}

impl<F: FnMut(Event)> EventSink for F {
    fn emit(&mut self, event: Event) {
        self(event)
    }
}

/// A sink that drops everything.
pub struct Discard;

impl EventSink for Discard {
    fn emit(&mut self, _event: Event) {}
}
