//! The values the state store hands to the engine and takes from it: ids, fates, folder and message records.

use std::collections::BTreeSet;

use crate::identity::{Fingerprint, Summary};

macro_rules! row_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub(crate) i64);

        impl $name {
            /// The row number in the database (for logs and reports).
            pub fn get(self) -> i64 {
                self.0
            }
        }
    };
}

row_id!(
    /// A source folder known to the state store.
    FolderId
);
row_id!(
    /// A destination folder known to the state store.
    DestFolderId
);
row_id!(
    /// An APPEND that was started and not yet confirmed.
    IntentId
);
row_id!(
    /// One run of the engine on this job.
    RunId
);

/// A source message's key: folder, UIDVALIDITY and UID. UIDs mean nothing
/// without their UIDVALIDITY, so the three always travel together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageKey {
    /// The source folder.
    pub folder: FolderId,
    /// The source folder's UIDVALIDITY when the UID was read.
    pub uidvalidity: u32,
    /// The source UID.
    pub uid: u32,
}

/// What the engine knows about a source message from its FETCH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceMessage {
    /// Where it is at the source.
    pub key: MessageKey,
    /// Its identity (see [`crate::identity`]).
    pub fingerprint: Fingerprint,
    /// `RFC822.SIZE` at the source, in bytes.
    pub size: u64,
    /// INTERNALDATE as unix seconds (a UTC instant), if fetched.
    pub internaldate: Option<i64>,
    /// Header values for the forensic log.
    pub summary: Summary,
}

/// The job's phase: before or after the user switched the MX records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Mail still arrives at the source; deletions may be mirrored (opt-in).
    PreCutover,
    /// Mail arrives at the destination; runs only add, never delete or change flags.
    PostCutover,
}

impl Phase {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Phase::PreCutover => "pre_cutover",
            Phase::PostCutover => "post_cutover",
        }
    }

    pub(crate) fn from_code(code: &str) -> Option<Phase> {
        match code {
            "pre_cutover" => Some(Phase::PreCutover),
            "post_cutover" => Some(Phase::PostCutover),
            _ => None,
        }
    }
}

/// Why a message was deliberately not copied (it may be picked up by a later pass).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// Larger than `--maxsize` (the large-message pass picks it up).
    TooBig,
    /// Smaller than `--minsize`.
    TooSmall,
    /// Older than `--maxage`.
    TooOld,
    /// Newer than `--minage`.
    TooNew,
    /// The source reports 0 bytes: nothing to copy; reported, not retried.
    ZeroBytes,
    /// Flagged `\Deleted` at the source.
    DeletedAtSource,
    /// Expunged at the source between listing and fetching.
    Vanished,
}

/// Why the destination (or the source) refused a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailReason {
    /// Over the destination's APPENDLIMIT, or `NO [TOOBIG]`.
    TooBig,
    /// The destination said NO for another reason (bad header, NUL, …): see the server text.
    Rejected,
    /// The source could not deliver the message's bytes.
    FetchFailed,
}

macro_rules! codes {
    ($ty:ident { $($variant:ident = $code:literal),* $(,)? }) => {
        impl $ty {
            /// The stable code stored in the database and shown in reports.
            pub fn code(self) -> &'static str {
                match self { $($ty::$variant => $code),* }
            }

            /// The value for a stored code.
            pub fn from_code(code: &str) -> Option<$ty> {
                match code { $($code => Some($ty::$variant),)* _ => None }
            }
        }
    };
}

codes!(SkipReason {
    TooBig = "too_big",
    TooSmall = "too_small",
    TooOld = "too_old",
    TooNew = "too_new",
    ZeroBytes = "zero_bytes",
    DeletedAtSource = "deleted_at_source",
    Vanished = "vanished",
});

codes!(FailReason {
    TooBig = "too_big",
    Rejected = "rejected",
    FetchFailed = "fetch_failed",
});

impl SkipReason {
    /// Why the message was not copied, in plain words: the one spelling the
    /// command line, the report, the audit and the app show.
    pub fn words(self) -> &'static str {
        match self {
            SkipReason::TooBig => {
                "larger than the size limit of this pass (copied by the large-message pass)"
            }
            SkipReason::TooSmall => "smaller than the minimum size asked for",
            SkipReason::TooOld => "older than the age limit asked for",
            SkipReason::TooNew => "newer than the age limit asked for",
            SkipReason::ZeroBytes => "empty (0 bytes) at the source: nothing to copy",
            SkipReason::DeletedAtSource => "marked as deleted at the source",
            SkipReason::Vanished => "deleted at the source while copying",
        }
    }
}

impl FailReason {
    /// Why the message could not be copied, in plain words (the server's own
    /// text, when it said any, goes after them).
    pub fn words(self) -> &'static str {
        match self {
            FailReason::TooBig => "too big for the destination",
            FailReason::Rejected => "the destination refused it",
            FailReason::FetchFailed => "the source could not deliver it",
        }
    }
}

/// What happened to one source message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// MailFerry APPENDed it and the destination confirmed.
    Copied,
    /// The destination already held it (found by fingerprint); not sent again.
    AlreadyThere,
    /// Left out by a rule the user saw.
    Excluded {
        /// The rule, as shown to the user.
        rule: String,
    },
    /// Deliberately not copied this time.
    Skipped {
        /// Why.
        reason: SkipReason,
    },
    /// Refused; retried until `attempts` reaches the engine's limit.
    Failed {
        /// Why, as a closed code.
        reason: FailReason,
        /// The server's own words, if it said any.
        server_text: Option<String>,
        /// How many times it was tried and refused.
        attempts: u32,
    },
    /// Copied earlier, then removed at the destination because it was
    /// expunged at the source (opt-in deletion mirroring, before cutover).
    Removed,
}

impl Fate {
    /// The stable code stored in the database.
    pub fn code(&self) -> &'static str {
        match self {
            Fate::Copied => "copied",
            Fate::AlreadyThere => "already_there",
            Fate::Excluded { .. } => "excluded",
            Fate::Skipped { .. } => "skipped",
            Fate::Failed { .. } => "failed",
            Fate::Removed => "removed",
        }
    }

    /// Whether the message is at the destination (copied or already there).
    pub fn is_at_destination(&self) -> bool {
        matches!(self, Fate::Copied | Fate::AlreadyThere)
    }

    /// What happened to the message, in plain words, for the log of every
    /// message's fate (the command line's `log` and the app's search);
    /// `destination` is the folder it went to, when it went anywhere.
    pub fn words(&self, destination: Option<&str>) -> String {
        let at = |with_folder: &str, without: &str| match destination {
            Some(folder) => format!("{with_folder} {folder}"),
            None => without.to_owned(),
        };
        match self {
            Fate::Copied => at("copied to", "copied"),
            Fate::AlreadyThere => at("already in", "was already there"),
            Fate::Excluded { rule } => format!("left out: {rule}"),
            Fate::Skipped { reason } => format!("not copied: {}", reason.words()),
            Fate::Failed {
                reason,
                server_text,
                attempts,
            } => format!(
                "not copied after {attempts} tr{}: {}{}",
                if *attempts == 1 { "y" } else { "ies" },
                reason.words(),
                server_text
                    .as_deref()
                    .map(|t| format!(" ({t})"))
                    .unwrap_or_default()
            ),
            Fate::Removed => "removed at the destination (deleted at the source)".to_owned(),
        }
    }
}

/// A fate that involves no copy at the destination, for [`crate::state::State::record_fate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotCopied {
    /// Left out by a rule the user saw.
    Excluded {
        /// The rule, as shown to the user.
        rule: String,
    },
    /// Deliberately not copied this time.
    Skipped(SkipReason),
    /// Refused once more; the attempt count goes up by one.
    Failed {
        /// Why.
        reason: FailReason,
        /// The server's own words, if any.
        server_text: Option<String>,
    },
}

/// A destination folder as the state store knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestFolderRecord {
    /// Its id in the store.
    pub id: DestFolderId,
    /// Display form (the key).
    pub name: String,
    /// The wire form last used.
    pub wire_name: String,
    /// UIDVALIDITY when last selected; `None` before the first time.
    pub uidvalidity: Option<u32>,
    /// UIDNEXT as the last clean pass left it; `None` when not known.
    pub uidnext: Option<u32>,
}

/// A source folder and where it lands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderRecord {
    /// Its id in the store.
    pub id: FolderId,
    /// Display form (the key).
    pub source_name: String,
    /// The wire form last used.
    pub source_wire_name: String,
    /// The UIDVALIDITY under which the stored UIDs are valid.
    pub source_uidvalidity: u32,
    /// Every source UID up to this one has been decided about.
    pub highest_uid: u32,
    /// HIGHESTMODSEQ seen at the last complete flag pass (CONDSTORE), if any.
    pub highest_modseq: Option<u64>,
    /// The destination folder it is mapped to now.
    pub dest: DestFolderRecord,
    /// Its MAILBOXID at the source (RFC 8474), once recorded.
    pub mailbox_id: Option<String>,
    /// It keeps going to `dest` whatever the folder map says: it was
    /// renamed at the source after the switch, when nothing is renamed at
    /// the new server any more.
    pub keeps_dest: bool,
}

/// One message row: the UID map entry and its fate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    /// Where it is (or was) at the source.
    pub key: MessageKey,
    /// The destination folder it went to, if any.
    pub dest_folder: Option<DestFolderId>,
    /// Its UID at the destination, when known.
    pub dest_uid: Option<u32>,
    /// Its identity.
    pub fingerprint: Fingerprint,
    /// `RFC822.SIZE` at the source.
    pub size: u64,
    /// INTERNALDATE (unix seconds), if known.
    pub internaldate: Option<i64>,
    /// The flags MailFerry last wrote at the destination (`None`: never wrote any).
    pub flags: Option<BTreeSet<String>>,
    /// What happened to it.
    pub fate: Fate,
}

/// An APPEND that was started and not confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// Its id, to confirm or discard it.
    pub id: IntentId,
    /// The message being copied.
    pub message: SourceMessage,
    /// Where it was being copied to.
    pub dest_folder: DestFolderId,
    /// The flags sent with the APPEND.
    pub flags: BTreeSet<String>,
    /// The run that started it.
    pub run: Option<RunId>,
    /// When it started (unix seconds).
    pub started_at: i64,
}

/// What a run did, as the engine counted it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunCounters {
    /// Messages APPENDed and confirmed.
    pub copied: u64,
    /// Messages found already at the destination.
    pub already_there: u64,
    /// Messages left out by a rule.
    pub excluded: u64,
    /// Messages skipped (size, age, `\Deleted`, 0 bytes, vanished).
    pub skipped: u64,
    /// Messages refused.
    pub failed: u64,
    /// Messages removed at the destination (deletion mirroring).
    pub removed: u64,
    /// Messages whose flags were updated at the destination.
    pub flags_updated: u64,
    /// Bytes APPENDed.
    pub bytes_copied: u64,
}

/// A run as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    /// Its id.
    pub id: RunId,
    /// When it started (unix seconds).
    pub started_at: i64,
    /// When it finished; `None` if still running or interrupted.
    pub finished_at: Option<i64>,
    /// The job's phase when it started.
    pub phase: Phase,
    /// Whether it was a dry run.
    pub dry: bool,
    /// How it ended, in the engine's words (`None` until finished).
    pub outcome: Option<String>,
    /// What it did.
    pub counters: RunCounters,
}

/// One line of the forensic log (`mailferry log --search`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The source folder (display form).
    pub source_folder: String,
    /// The source UIDVALIDITY and UID.
    pub uidvalidity: u32,
    /// The source UID.
    pub uid: u32,
    /// The destination folder (display form), if it went anywhere.
    pub dest_folder: Option<String>,
    /// Its UID there, when known.
    pub dest_uid: Option<u32>,
    /// What happened.
    pub fate: Fate,
    /// Message-ID header.
    pub message_id: Option<String>,
    /// From header (decoded).
    pub from: Option<String>,
    /// Subject header (decoded).
    pub subject: Option<String>,
    /// Date header as written.
    pub date: Option<String>,
    /// INTERNALDATE (unix seconds).
    pub internaldate: Option<i64>,
    /// Size in bytes.
    pub size: u64,
    /// When the fate was last recorded (unix seconds).
    pub updated_at: i64,
}

/// Normalises a flag list for storage: sorted, no duplicates, no `\Recent`.
pub(crate) fn flags_text<S: AsRef<str>>(flags: &[S]) -> String {
    let set: BTreeSet<&str> = flags
        .iter()
        .map(AsRef::as_ref)
        .filter(|f| !f.is_empty() && !f.eq_ignore_ascii_case("\\Recent"))
        .collect();
    set.into_iter().collect::<Vec<_>>().join(" ")
}

/// Reads a stored flag list back.
pub(crate) fn flags_set(text: &str) -> BTreeSet<String> {
    text.split(' ')
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect()
}
