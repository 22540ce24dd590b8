// Generated from Rust by src-tauri/src/bindings.rs. Do not edit:
// UPDATE_BINDINGS=1 cargo test -p mailferry-desktop bindings

import type { Channel } from "@tauri-apps/api/core";

export type ErrorCode = "DnsNotFound" | "ConnectionRefused" | "NetworkUnreachable" | "Timeout" | "TlsUntrustedCertificate" | "TlsHostnameMismatch" | "TlsCertificateExpired" | "TlsCertificateChanged" | "TlsFailed" | "StartTlsUnavailable" | "StartTlsPreauth" | "NotImap" | "PlainSignInRefused" | "AuthFailed" | "AppPasswordRequired" | "WebLoginRequired" | "BasicAuthDisabled" | "ImapDisabled" | "TokenExpired" | "TokenScope" | "TokenRejected" | "AdminConsentRequired" | "OAuthUnavailable" | "BrowserSignInFailed" | "OrganisationAccessRefused" | "KeychainUnavailable" | "KeychainFailed" | "NotInKeychain" | "ServerBusy" | "ConnectionLost" | "ServerRefused" | "JobBusy" | "StateFailed" | "ProgressDamaged" | "DestinationFull" | "Protocol" | "RemovalNeedsConfirmation" | "RemovalAfterSwitch" | "RenumberedUnconfirmed" | "MessageTooLarge" | "InvalidInput" | "UnknownAccount" | "UnknownRun" | "DemoUnavailable" | "Internal" | "Other";

export type IpcError = { 
/**
 * What went wrong, for the UI to switch on.
 */
code: ErrorCode, 
/**
 * Plain words with the next step.
 */
message: string, 
/**
 * Technical detail for "Show details" (server words, never a secret).
 */
detail: string | null, 
/**
 * The certificate's SHA-256 (`AB:CD:…`) when the problem is about a
 * certificate, to show in the trust dialog.
 */
fingerprint: string | null, };

export type Security = "tls" | "starttls" | "plain";

export type Step = "found_server" | "secure_connection" | "signed_in" | "can_read_folders";

export type Event = { "type": "RunStarted", 
/**
 * Nothing will be written anywhere.
 */
dry: boolean, 
/**
 * How many folders will be copied.
 */
folders: number, } | { "type": "FolderScanned", 
/**
 * Source folder (display name).
 */
folder: string, 
/**
 * Messages in the source folder.
 */
messages: number, 
/**
 * Messages that will be copied now.
 */
to_copy: number, 
/**
 * Their total size in bytes.
 */
bytes_to_copy: number, 
/**
 * Messages already at the destination.
 */
already_there: number, } | { "type": "FolderCreated", 
/**
 * Destination folder (display name).
 */
folder: string, } | { "type": "FolderRenamed", 
/**
 * Its name before (display name).
 */
from: string, 
/**
 * Its name now.
 */
to: string, 
/**
 * What became of its copies at the new server, in plain words.
 */
said: string, } | { "type": "MessagesCopied", 
/**
 * Source folder (display name).
 */
folder: string, 
/**
 * How many in this step.
 */
count: number, 
/**
 * Their size in bytes.
 */
bytes: number, } | { "type": "MessageSkipped", 
/**
 * Source folder (display name).
 */
folder: string, 
/**
 * Its UID at the source.
 */
uid: number, 
/**
 * Why, in plain words.
 */
reason: string, } | { "type": "MessageFailed", 
/**
 * Source folder (display name).
 */
folder: string, 
/**
 * Its UID at the source.
 */
uid: number, 
/**
 * Why, in plain words with the server's text.
 */
reason: string, } | { "type": "FolderRefused", 
/**
 * Source folder (display name).
 */
folder: string, 
/**
 * Why, in plain words with the server's text.
 */
reason: string, 
/**
 * The old server renumbered the folder and too little of what was
 * copied from it is found again: it waits until the user says to
 * copy it anyway ([`crate::run::Options::accept_renumbered`]).
 */
renumbered: boolean, } | { "type": "FolderDone", 
/**
 * Source folder (display name).
 */
folder: string, } | { "type": "Throttled", 
/**
 * How long the wait is, in seconds.
 */
wait_secs: number, 
/**
 * Why, in plain words.
 */
reason: string, } | { "type": "RunFinished", 
/**
 * Messages copied in this run.
 */
copied: number, 
/**
 * Messages that could not be copied.
 */
failed: number, };

export type AccountHandle = number;

export type Server = { 
/**
 * Host name or address.
 */
host: string, 
/**
 * Port.
 */
port: number, 
/**
 * TLS, STARTTLS or none.
 */
security: Security, 
/**
 * A certificate the user chose to trust (SHA-256, `AB:CD:…`).
 */
trusted_fingerprint: string | null, };

export type Preset = { 
/**
 * Stable identifier, the wizard's tile id (`gmail`, `microsoft`, …,
 * `other`); saved with a job, so never renamed.
 */
id: string, 
/**
 * The name users know (what the tile says).
 */
name: string, 
/**
 * IMAP server name; `None` when each customer has their own (the user
 * types it).
 */
host: string | null, 
/**
 * Port.
 */
port: number, 
/**
 * Security.
 */
security: Security, 
/**
 * A hint for the server-name field when the user types it.
 */
host_hint: string, 
/**
 * How the user signs in, in a sentence.
 */
sign_in: string, 
/**
 * The issuer a browser sign-in goes to (`google`, `microsoft`, as
 * [`crate::auth::oauth::Issuer::from_name`] reads it), when the
 * provider offers one.
 */
browser_sign_in: string | null, 
/**
 * The provider's page for creating an app password.
 */
app_password_url: string | null, 
/**
 * The limits below in words (shown with the estimate); empty when
 * none is known.
 */
limits: string, 
/**
 * Simultaneous IMAP connections per account the provider tolerates.
 */
max_connections: number, 
/**
 * The largest message the server accepts, in bytes.
 */
max_message_bytes: number | null, 
/**
 * How much an account may download per day (reading the source).
 */
download_bytes_per_day: number | null, 
/**
 * How much an account may upload per day (writing the destination).
 */
upload_bytes_per_day: number | null, 
/**
 * How many messages a mailbox may receive per hour.
 */
messages_per_hour: number | null, 
/**
 * A polite message rate per second (what migration tools use).
 */
messages_per_second: number | null, };

export type Tried = { 
/**
 * Server name.
 */
host: string, 
/**
 * Port.
 */
port: number, 
/**
 * How it was found.
 */
how: string, 
/**
 * What the check found, in words.
 */
outcome: string, };

export type Found = { 
/**
 * The address's domain (empty when it is not an address).
 */
domain: string, 
/**
 * The outcome in plain words.
 */
words: string, 
/**
 * The server chosen, when one passed.
 */
server: Server | null, 
/**
 * The provider tile it matches (`gmail`, `microsoft`, …, `other`).
 */
preset: string | null, 
/**
 * How it was found, in a sentence.
 */
how: string | null, 
/**
 * The user name its settings say to sign in with, when they say.
 */
username: string | null, 
/**
 * Why the user should look before a password goes there, in words;
 * empty when nothing needs a look.
 */
cautions: Array<string>, 
/**
 * Every server asked, in order, with what the check found.
 */
tried: Array<Tried>, };

export type Checklist = { 
/**
 * The steps that passed, in order.
 */
passed: Array<Step>, 
/**
 * The step that failed, with the problem.
 */
failure: StepFailure | null, 
/**
 * Things that work but deserve a word (an unencrypted connection).
 */
warnings: Array<string>, 
/**
 * How many folders the server listed (after sign-in).
 */
folders: number | null, };

export type StepFailure = { 
/**
 * Where it stopped.
 */
step: Step, 
/**
 * What went wrong.
 */
error: IpcError, };

export type SignedIn = { 
/**
 * The account, when every step passed.
 */
account: AccountHandle | null, 
/**
 * The full checklist (found, secure, signed in, can read folders).
 */
checklist: Checklist, 
/**
 * Where the password is kept, when signing in worked.
 */
kept: Kept | null, };

export type FolderSize = { 
/**
 * The folder (display name; untrusted text: shown as text only).
 */
folder: string, 
/**
 * Messages in it.
 */
messages: number, 
/**
 * Their total size in bytes.
 */
bytes: number, 
/**
 * The largest message's size in bytes.
 */
largest: number, };

export type LargeMessage = { 
/**
 * Its folder (display name; untrusted text).
 */
folder: string, 
/**
 * Its size in bytes.
 */
bytes: number, 
/**
 * Subject (untrusted text).
 */
subject: string | null, 
/**
 * From header (untrusted text).
 */
from: string | null, 
/**
 * Larger than the new server accepts: it will be listed, not copied.
 */
too_large: boolean, };

export type Estimate = { 
/**
 * Seconds.
 */
seconds: number, 
/**
 * The limit that decides it, in plain words.
 */
limited_by: string, 
/**
 * The whole estimate in one sentence.
 */
words: string, };

export type Scan = { 
/**
 * Folders, largest first.
 */
folders: Array<FolderSize>, 
/**
 * All messages.
 */
messages: number, 
/**
 * All bytes.
 */
bytes: number, 
/**
 * The largest messages, largest first (at most [`LARGEST`]).
 */
largest_messages: Array<LargeMessage>, 
/**
 * A "whale": over [`WHALE_BYTES`], a mailbox worth staging.
 */
whale: boolean, 
/**
 * The estimate at both providers' limits.
 */
estimate: Estimate, 
/**
 * The new server's largest accepted message, when known.
 */
max_message_bytes: number | null, };

export type FolderRow = { 
/**
 * The source folder (display name; untrusted text).
 */
source: string, 
/**
 * Where it goes; `None` when it is skipped.
 */
target: string | null, 
/**
 * The destination folder exists already.
 */
exists: boolean, 
/**
 * The reasons, in plain words ("Sent folder", "skipped: spam").
 */
reasons: Array<string>, 
/**
 * How deep the source folder sits in its tree (0 at the top).
 */
depth: number, 
/**
 * How deep the destination folder sits in its tree.
 */
target_depth: number, 
/**
 * The row is part of a conflict that needs a decision.
 */
conflict: boolean, };

export type FolderMapView = { 
/**
 * One row per source folder, in copy order.
 */
rows: Array<FolderRow>, 
/**
 * Questions and warnings, in plain words.
 */
conflicts: Array<string>, 
/**
 * How many of them need a decision before anything is copied.
 */
decisions_needed: number, 
/**
 * "22 folders, 3 skipped, 1 needs a decision".
 */
summary: string, 
/**
 * Some question is two folders going into one: merging them settles it.
 */
can_merge: boolean, };

export type FolderEdits = { 
/**
 * `[source, destination]`: this folder (and its subfolders) goes there.
 */
renames: Array<[string, string]>, 
/**
 * Folders left out (their subfolders are still copied unless left out too).
 */
excluded: Array<string>, 
/**
 * Folders skipped by default that are copied after all.
 */
included: Array<string>, 
/**
 * Two folders going to one destination folder are copied into it
 * together (instead of a question to settle).
 */
merge: boolean, };

export type RunId = number;

export type RunState = "waiting" | "starting" | "copying" | "paused" | "cancelled" | "finished" | "failed";

export type FolderProgress = { 
/**
 * Source folder (display name; untrusted text).
 */
folder: string, 
/**
 * Messages in the source folder.
 */
messages: number, 
/**
 * Already at the destination before this run.
 */
already_there: number, 
/**
 * To copy in this run.
 */
to_copy: number, 
/**
 * Their size.
 */
bytes_to_copy: number, 
/**
 * Copied so far in this run.
 */
copied: number, 
/**
 * Their size.
 */
bytes_copied: number, 
/**
 * Not copied on purpose.
 */
skipped: number, 
/**
 * Refused by the destination.
 */
failed: number, 
/**
 * The folder is done.
 */
done: boolean, 
/**
 * When its copy began (ms since 1970), for its own rate.
 */
started_ms: number | null, 
/**
 * Milliseconds from then to its latest copied batch (or its end).
 */
copy_ms: number, };

export type Refused = { 
/**
 * Source folder.
 */
folder: string, 
/**
 * Why, with the server's words.
 */
reason: string, 
/**
 * The old server renumbered the folder: the user can look at it and
 * have it copied anyway ([`Run::accept_renumbered`]).
 */
renumbered: boolean, };

export type RunView = { 
/**
 * The run.
 */
id: RunId, 
/**
 * Where it is.
 */
state: RunState, 
/**
 * Per folder, in copy order.
 */
folders: Array<FolderProgress>, 
/**
 * Refused messages so far.
 */
refused: Array<Refused>, 
/**
 * The problem that stopped it.
 */
error: IpcError | null, 
/**
 * Milliseconds since this stretch of copying started (for rate and ETA).
 */
elapsed_ms: number, 
/**
 * The latest engine events, oldest first (at most 30).
 */
recent: Array<Event>, 
/**
 * While the copy waits (the server asked to slow down, or a lost
 * connection is being replaced): when it resumes, in milliseconds
 * since 1970 (the window shows it as a time of day).
 */
waiting_until_ms: number | null, 
/**
 * Why it waits, in plain words.
 */
waiting_reason: string | null, };

export type DomainId = number;

export type CopyStage = { 
/**
 * The folder map's edits.
 */
edits: FolderEdits, 
/**
 * Leave messages larger than this (bytes) for the large-message pass.
 */
skip_larger_than: number | null, 
/**
 * The domain's mail now arrives at the destination: every mailbox's
 * job records it and only adds from then on.
 */
after_switch: boolean, 
/**
 * The window's own name for the stage, given back when it re-attaches.
 */
label: string | null, };

export type PairHandles = { 
/**
 * The old mailbox.
 */
source: AccountHandle, 
/**
 * The new mailbox.
 */
destination: AccountHandle, };

export type DomainMailbox = { 
/**
 * The user at the old server.
 */
source_user: string, 
/**
 * The user at the new server.
 */
destination_user: string, 
/**
 * Its accounts (for a window that re-attaches).
 */
source: AccountHandle, 
/**
 * See `source`.
 */
destination: AccountHandle, 
/**
 * Its run (progress, pause, verify, report).
 */
run: RunId, 
/**
 * Where its copy is.
 */
state: RunState, 
/**
 * Messages to copy in this run, as far as scanned.
 */
to_copy: number, 
/**
 * Copied so far in this run.
 */
copied: number, };

export type DomainView = { 
/**
 * The domain run.
 */
id: DomainId, 
/**
 * Copying while any mailbox is copying or waiting; then finished when
 * every mailbox finished, else failed, cancelled or paused (the first
 * that applies).
 */
state: RunState, 
/**
 * The first pair first, then the list's, in order.
 */
mailboxes: Array<DomainMailbox>, 
/**
 * The mailbox the copy screen shows (index into `mailboxes`): the
 * first one copying, else the first waiting, else the first not
 * finished, else the first.
 */
current: number, 
/**
 * That mailbox's run view.
 */
current_view: RunView, 
/**
 * Mailboxes copied at once.
 */
at_once: number, 
/**
 * The stage being copied.
 */
stage: CopyStage, 
/**
 * The old server.
 */
source: Server, 
/**
 * The new server.
 */
destination: Server, 
/**
 * While copying: that the computer is kept awake, or that it could
 * not be and what to do.
 */
awake: string | null, };

export type FolderAudit = { 
/**
 * Source folder.
 */
source: string, 
/**
 * Destination folder.
 */
destination: string, 
/**
 * Messages in the source folder.
 */
source_count: number, 
/**
 * Messages in the destination folder.
 */
destination_count: number, 
/**
 * Source messages not in this destination folder.
 */
missing: number, 
/**
 * Of those, how many are at the destination through another folder
 * (Gmail labels).
 */
in_other_folders: number, 
/**
 * Messages only at the destination (there before).
 */
only_at_destination: number, };

export type Missing = { 
/**
 * Source folder.
 */
folder: string, 
/**
 * Subject (untrusted text).
 */
subject: string | null, 
/**
 * From header.
 */
from: string | null, 
/**
 * Date header.
 */
date: string | null, 
/**
 * Why, and what to do.
 */
reason: string, 
/**
 * The reason is a known, deliberate one (a rule, a refusal on record).
 */
explained: boolean, };

export type SpotKind = "sent" | "deepest_folder" | "newest" | "starred";

export type SpotOutcome = "passed" | "failed" | "nothing_to_check";

export type SpotRow = { 
/**
 * What is compared ("Messages", "Oldest", "Subject").
 */
label: string, 
/**
 * At the old server.
 */
old: string, 
/**
 * At the new server.
 */
new: string, 
/**
 * The two agree.
 */
same: boolean, };

export type SpotMessage = { 
/**
 * Its folder at the old server.
 */
folder: string, 
/**
 * Subject header (untrusted text).
 */
subject: string | null, 
/**
 * From header.
 */
from: string | null, 
/**
 * Date header, as written.
 */
date: string | null, };

export type Spot = { 
/**
 * Which check.
 */
kind: SpotKind, 
/**
 * Its heading in plain words ("Sent mail").
 */
title: string, 
/**
 * How it came out.
 */
outcome: SpotOutcome, 
/**
 * The result in one or two sentences, naming the message or folder.
 */
said: string, 
/**
 * Old and new server side by side.
 */
rows: Array<SpotRow>, 
/**
 * The message looked for (newest, starred), when there is one.
 */
message: SpotMessage | null, };

export type SpotCheck = { 
/**
 * Sent mail, deepest folder, newest message, starred message.
 */
checks: Array<Spot>, 
/**
 * No check failed.
 */
passed: boolean, };

export type Verification = { 
/**
 * Every gap is explained: safe to switch the domain.
 */
safe_to_switch: boolean, 
/**
 * Messages at the source in the audited folders.
 */
source_total: number, 
/**
 * Per folder.
 */
folders: Array<FolderAudit>, 
/**
 * Messages that are not at the destination.
 */
missing: Array<Missing>, 
/**
 * Source folders the folder map left out, with the reason.
 */
excluded_folders: Array<[string, string]>, 
/**
 * What to do once the move is finished (the engine's closing
 * checklist).
 */
closing: Array<string>, 
/**
 * The four checks a person would do by hand, old and new server side
 * by side (the engine's spot check); absent when it wasn't done.
 */
spot_check: SpotCheck | null, };

export type LogLine = { 
/**
 * Source folder.
 */
folder: string, 
/**
 * Where it went.
 */
destination: string | null, 
/**
 * Subject (untrusted text).
 */
subject: string | null, 
/**
 * From header.
 */
from: string | null, 
/**
 * Date header.
 */
date: string | null, 
/**
 * What happened, in plain words.
 */
fate: string, };

export type MxRecord = { 
/**
 * Lower is tried first.
 */
preference: number, 
/**
 * The mail server's name, without the final dot.
 */
host: string, };

export type MxCheck = { 
/**
 * The domain looked up.
 */
domain: string, 
/**
 * Its mail records, lowest preference first (empty: none found).
 */
records: Array<MxRecord>, 
/**
 * How long resolvers may keep the answer, in seconds.
 */
ttl_secs: number, 
/**
 * The TTL is short enough to switch without a long wait.
 */
ttl_low: boolean, 
/**
 * The answer came from the domain's own name server (its real TTL),
 * not from a cache (which reports only what is left of its copy).
 */
authoritative: boolean, 
/**
 * What to do next, in plain words.
 */
advice: string, };

export type WatchState = "starting" | "watching" | "retrying" | "ended";

export type WatchedMailbox = { 
/**
 * The user at the old server.
 */
source_user: string, 
/**
 * The user at the new server.
 */
destination_user: string, 
/**
 * Where it is.
 */
state: WatchState, 
/**
 * Messages moved while watching.
 */
moved: number, 
/**
 * What it is doing, in plain words ("Watching INBOX as mail arrives,
 * 3 folders every 2 minutes"; why it is retrying; how it ended).
 */
status: string, 
/**
 * What stopped it, when a problem did.
 */
problem: IpcError | null, };

export type WatchView = { 
/**
 * The domain copy watched.
 */
domain: DomainId, 
/**
 * Watching while any mailbox is; ended when all are.
 */
state: WatchState, 
/**
 * Each mailbox, in the copy's order.
 */
mailboxes: Array<WatchedMailbox>, 
/**
 * Moved in all.
 */
moved: number, 
/**
 * The live line: "Mail still arriving at the old server: 3 today,
 * last at 14:02".
 */
line: string, 
/**
 * The last look at the domain's mail records, in words (when asked).
 */
records: string | null, 
/**
 * How it ended, in words, once every mailbox's watch is over.
 */
end: string | null, 
/**
 * While watching: that the computer is kept awake, or that it could
 * not be and what to do.
 */
awake: string | null, };

export type DemoSide = { 
/**
 * The provider tile it imitates.
 */
preset: string, 
/**
 * The server.
 */
server: Server, 
/**
 * The user.
 */
user: string, };

export type DemoContacts = { 
/**
 * The old one's address (the owner's address book and calendar).
 */
source: string, 
/**
 * The new one's address (empty).
 */
destination: string, };

export type DemoSetup = { 
/**
 * Gmail-like source.
 */
source: DemoSide, 
/**
 * Microsoft 365-like destination.
 */
destination: DemoSide, 
/**
 * The demo password for both (not a secret: it is on the screen on
 * purpose, so the sign-in step can be walked through).
 */
password: string, 
/**
 * The demo office's other mailboxes as a list to paste on the
 * "Mailboxes" step (old, new, password; demo passwords, shown on
 * purpose like `password`).
 */
mailbox_list: string, 
/**
 * The contacts and calendar servers, when this computer has radicale.
 */
contacts: DemoContacts | null, };

export type Kept = "keychain" | "session_only";

export type PairNames = { 
/**
 * The user at the old server.
 */
source_user: string, 
/**
 * The user at the new server.
 */
destination_user: string, };

export type MailboxRow = { 
/**
 * The row in the pasted text or file (1 = first line), 0 for one added by hand.
 */
line: number, 
/**
 * The user at the old server.
 */
source_user: string, 
/**
 * The user at the new server.
 */
destination_user: string, 
/**
 * What is wrong with the row itself, in plain words (nothing is signed in then).
 */
problem: string | null, 
/**
 * The old mailbox, signed in (when the row had its password and it worked).
 */
source: AccountHandle | null, 
/**
 * The new mailbox, signed in.
 */
destination: AccountHandle | null, 
/**
 * Why signing in to the old mailbox didn't work.
 */
source_error: IpcError | null, 
/**
 * Why signing in to the new mailbox didn't work.
 */
destination_error: IpcError | null, };

export type SavedSide = { 
/**
 * The provider tile picked (`gmail`, …, `other`).
 */
preset: string | null, 
/**
 * The server.
 */
server: Server, 
/**
 * The user of the first mailbox (the one signed in on "Sign in").
 */
user: string, };

export type SavedPair = { 
/**
 * The user at the old server.
 */
source_user: string, 
/**
 * The user at the new server.
 */
destination_user: string, 
/**
 * A copy of this pair finished.
 */
copied: boolean, 
/**
 * What the owner decided for it (a job saved before there were
 * decisions: moved).
 */
decision: Decision | null, 
/**
 * Its flags from the directory, in words.
 */
flags: Array<string>, 
/**
 * The person's name, from the directory.
 */
name: string | null, 
/**
 * The old mailbox signed in with the administrator sign-in the
 * directory was read with (not with a password of its own).
 */
admin: boolean, 
/**
 * The storage it uses, in words, from the directory's usage report.
 */
storage: string | null, 
/**
 * The same in bytes (for the estimate).
 */
storage_bytes: number | null, };

export type SavedJob = { 
/**
 * Where the mail comes from.
 */
source: SavedSide, 
/**
 * Where it goes.
 */
destination: SavedSide, 
/**
 * A copy of the first pair (`source.user` → `destination.user`) finished.
 */
first_copied: boolean, 
/**
 * The first pair is kept as files on this computer too.
 */
first_keep: boolean, 
/**
 * The mailbox pairs after the first.
 */
mailboxes: Array<SavedPair>, 
/**
 * The user's folder-map edits and where the staged copy plan stands,
 * as the window keeps them.
 */
folder_map: unknown, 
/**
 * The wizard step the user was on (1-8).
 */
step: number, 
/**
 * When it was saved (seconds since 1970), to say "saved on …".
 */
saved_at: number, };

export type DavSide = { 
/**
 * The server's https:// address (or an account's or a collection's);
 * or an email address or a domain, whose servers are found
 * (`dav::locate`); empty: found from the mail account's user name.
 */
url: string, 
/**
 * The signed-in mail account whose user name and password it uses.
 */
account: AccountHandle, 
/**
 * The account's Microsoft 365 mailbox through Microsoft Graph instead
 * of `url` (signed in with `sign_in_graph`).
 */
graph?: boolean, 
/**
 * Google's contacts and calendars, signed in with `sign_in_google_dav`
 * instead of the mail's sign-in; `url` empty: Google's addresses for
 * the account's email.
 */
google?: boolean, 
/**
 * At a Microsoft 365 destination, events with attendees are created
 * as they are (Microsoft 365 sends each attendee an invitation); with
 * `false`, without their attendees (no invitation).
 */
attendees?: boolean, };

export type CollectionPlanView = { 
/**
 * Its name at the old server.
 */
name: string, 
/**
 * A calendar (else an address book).
 */
calendar: boolean, 
/**
 * Contacts or entries in it.
 */
objects: number, 
/**
 * Its name at the new server (None: it cannot go, see `note`).
 */
destination: string | null, 
/**
 * MailFerry will create it at the new server.
 */
create: boolean, 
/**
 * What won't carry over, or why it can't, in plain words.
 */
note: string | null, };

export type EntryProblem = { 
/**
 * The entry (its UID, else its address).
 */
what: string, 
/**
 * Why, in plain words.
 */
reason: string, };

export type CollectionCopyView = { 
/**
 * Where it went, as planned.
 */
plan: CollectionPlanView, 
/**
 * Copied now.
 */
copied: number, 
/**
 * Changed at the old server since the last copy, updated now.
 */
updated: number, 
/**
 * Already at the new server.
 */
already: number, 
/**
 * Deleted at the old server after they were copied (kept at the new one).
 */
deleted_at_source: number, 
/**
 * Entries not copied, with the reason.
 */
problems: Array<EntryProblem>, 
/**
 * Why it could not be copied at all.
 */
error: string | null, };

export type ContactsCopy = { 
/**
 * Each address book and calendar.
 */
collections: Array<CollectionCopyView>, 
/**
 * Everything carried over.
 */
complete: boolean, };

export type CollectionCheckView = { 
/**
 * Its name at the old server.
 */
name: string, 
/**
 * A calendar (else an address book).
 */
calendar: boolean, 
/**
 * Entries at the old server.
 */
objects: number, 
/**
 * Of those, at the new server unchanged.
 */
arrived: number, 
/**
 * Missing or different, with the reason.
 */
problems: Array<EntryProblem>, 
/**
 * Why it could not be compared.
 */
error: string | null, };

export type ContactsCheck = { 
/**
 * Every entry is at the new server.
 */
safe_to_switch: boolean, 
/**
 * Each address book and calendar.
 */
collections: Array<CollectionCheckView>, };

export type GraphSignedIn = { 
/**
 * The mailbox (its address), as Microsoft 365 knows it.
 */
user: string, 
/**
 * Where the sign-in is kept (the keychain, or this session only).
 */
kept: Kept, 
/**
 * Address books and calendars found there.
 */
collections: number, 
/**
 * Signed in with the organisation's administrator sign-in (no
 * browser), not the owner's.
 */
organisation: boolean, };

export type GoogleDavSignedIn = { 
/**
 * The Google account (its address).
 */
user: string, 
/**
 * Where the sign-in is kept (the keychain, or this session only).
 */
kept: Kept, };

export type Decision = "move" | "move_and_keep" | "keep" | "leave";

export type DirectorySignIn = { "kind": "google", 
/**
 * The key file's text.
 */
key: string, 
/**
 * An administrator's address.
 */
admin: string, } | { "kind": "microsoft", 
/**
 * The tenant.
 */
tenant: string, };

export type DirectoryPerson = { 
/**
 * Its address (at the old server).
 */
address: string, 
/**
 * The address suggested at the new server.
 */
destination_user: string, 
/**
 * The person's name, when the directory has one.
 */
name: string | null, 
/**
 * Other addresses of the same mailbox.
 */
aliases: Array<string>, 
/**
 * Why it is worth a second look, each in plain words ("No sign-in for
 * 14 months"); empty when nothing.
 */
flags: Array<string>, 
/**
 * The suggested decision: move, or leave for a flagged one.
 */
decision: Decision, 
/**
 * The storage its mail uses, in bytes, when the directory's usage
 * report says.
 */
storage_bytes: number | null, 
/**
 * The same in words ("2.3 GB").
 */
storage: string | null, };

export type DirectoryList = { 
/**
 * Whose directory ("Google Workspace", "Microsoft 365").
 */
directory: string, 
/**
 * The mailboxes not in the list yet.
 */
people: Array<DirectoryPerson>, 
/**
 * How many were in the list already (not repeated).
 */
already_listed: number, 
/**
 * What the directory could not say, in words.
 */
notes: Array<string>, };

export type MailboxChoice = { 
/**
 * The address at the old server.
 */
source_user: string, 
/**
 * The decision.
 */
decision: Decision, 
/**
 * Its flags in words, as the table showed them.
 */
flags: Array<string>, };

export type AdminSignedIn = { 
/**
 * The address at the old server.
 */
source_user: string, 
/**
 * The old mailbox, signed in.
 */
source: AccountHandle | null, 
/**
 * Why signing in to it didn't work, in plain words.
 */
source_error: IpcError | null, };

export type MailboxSize = { 
/**
 * The address at the old server.
 */
address: string, 
/**
 * The storage its mail uses, in bytes.
 */
bytes: number, };

export type SizeEstimate = { 
/**
 * The storage they use in all, in words ("12.4 GB").
 */
total: string, 
/**
 * The estimate in a sentence.
 */
words: string, };

export type FilesId = number;

export type KeepFormat = "eml" | "mbox" | "maildir";

export type FilesState = "waiting" | "working" | "finished" | "stopped" | "failed";

export type FilesProgress = { 
/**
 * Folders finished.
 */
folders_done: number, 
/**
 * Folders in all (0 until known).
 */
folders: number, 
/**
 * The folder at work.
 */
folder: string, 
/**
 * Messages written (or sent) by this job.
 */
done: number, 
/**
 * Messages already there from an earlier run.
 */
already: number, };

export type FilesMailbox = { 
/**
 * The mailbox (its address).
 */
mailbox: string, 
/**
 * Where it is.
 */
state: FilesState, 
/**
 * How far (folders, messages).
 */
progress: FilesProgress, 
/**
 * Where its files are (an export), or the mailbox they went into.
 */
place: string, 
/**
 * The result or the problem, in plain words (`None` while it works).
 */
said: string | null, };

export type FilesKind = "keep" | "import";

export type FilesView = { 
/**
 * Its id.
 */
id: FilesId, 
/**
 * Keep or import.
 */
kind: FilesKind, 
/**
 * Where the whole job is.
 */
state: FilesState, 
/**
 * The folder the files are kept in (keep), or the files brought in (import).
 */
place: string, 
/**
 * Each mailbox, in order.
 */
mailboxes: Array<FilesMailbox>, 
/**
 * The headline in plain words.
 */
said: string, };

export type FoundFolder = { 
/**
 * Its name.
 */
name: string, 
/**
 * Messages in it.
 */
messages: number, };

export type FilesFound = { 
/**
 * What to name when bringing them in.
 */
id: FilesId, 
/**
 * The folder or file chosen.
 */
place: string, 
/**
 * What kind of files they are, in words ("Google Takeout's mbox").
 */
kind: string, 
/**
 * Messages in them.
 */
messages: number, 
/**
 * Each folder with its number of messages.
 */
folders: Array<FoundFolder>, };

/**
 * Every command of the shell: the arguments the window sends (Tauri's
 * camelCase names for the Rust parameters) and what it gets back.
 */
export interface Commands {
  provider_presets: { args: Record<string, never>; ret: Array<Preset> };
  open_app_password_page: { args: { preset: string }; ret: void };
  discover_server: { args: { address: string }; ret: Found };
  probe_server: { args: { server: Server }; ret: Checklist };
  sign_in: { args: { server: Server; user: string; password: string }; ret: SignedIn };
  forget_account: { args: { account: AccountHandle }; ret: void };
  scan: { args: { account: AccountHandle; sourcePreset: string | null; destinationPreset: string | null; destination: AccountHandle | null }; ret: Scan };
  folder_map: { args: { source: AccountHandle; destination: AccountHandle; edits: FolderEdits | null }; ret: FolderMapView };
  start_run: { args: { source: AccountHandle; destination: AccountHandle; edits: FolderEdits | null; skipLargerThan: number | null; afterSwitch: boolean | null; rebuildProgress: boolean | null }; ret: RunId };
  start_domain_run: { args: { pairs: Array<PairHandles>; stage: CopyStage }; ret: DomainId };
  current_domain_run: { args: Record<string, never>; ret: DomainView | null };
  watch_domain: { args: { domain: DomainId; onUpdate: Channel<DomainView> }; ret: void };
  watch_run: { args: { run: RunId; onUpdate: Channel<RunView> }; ret: void };
  pause_run: { args: { run: RunId }; ret: void };
  resume_run: { args: { run: RunId; rebuildProgress: boolean | null }; ret: void };
  cancel_run: { args: { run: RunId }; ret: void };
  accept_renumbered: { args: { run: RunId; folder: string }; ret: void };
  verify: { args: { run: RunId }; ret: Verification };
  search_log: { args: { run: RunId; text: string }; ret: Array<LogLine> };
  demo_available: { args: Record<string, never>; ret: boolean };
  start_demo: { args: Record<string, never>; ret: DemoSetup };
  update_available: { args: Record<string, never>; ret: string | null };
  read_mailbox_list: { args: { source: Server; destination: Server; text: string; existing: Array<PairNames> }; ret: Array<MailboxRow> };
  add_mailbox: { args: { source: Server; destination: Server; sourceUser: string; destinationUser: string; sourcePassword: string; destinationPassword: string; existing: Array<PairNames> }; ret: MailboxRow };
  save_job: { args: { job: SavedJob }; ret: void };
  load_job: { args: Record<string, never>; ret: SavedJob | null };
  forget_job: { args: Record<string, never>; ret: void };
  sign_in_saved: { args: { server: Server; user: string }; ret: SignedIn | null };
  oauth_providers: { args: Record<string, never>; ret: Array<string> };
  sign_in_oauth: { args: { server: Server; user: string; issuer: string }; ret: SignedIn };
  set_oauth_client: { args: { provider: string; id: string; secret: string | null }; ret: Array<string> };
  check_mx: { args: { domain: string }; ret: MxCheck };
  start_watch: { args: { domain: DomainId; mailDomain: string | null; oldMx: Array<string> }; ret: WatchView };
  follow_watch: { args: { domain: DomainId; onUpdate: Channel<WatchView> }; ret: void };
  current_watch: { args: Record<string, never>; ret: WatchView | null };
  stop_watch: { args: { domain: DomainId }; ret: void };
  save_report: { args: { run: RunId; html: boolean }; ret: string | null };
  contacts_plan: { args: { source: DavSide; destination: DavSide }; ret: Array<CollectionPlanView> };
  copy_contacts: { args: { source: DavSide; destination: DavSide }; ret: ContactsCopy };
  check_contacts: { args: { source: DavSide; destination: DavSide }; ret: ContactsCheck };
  sign_in_graph: { args: { account: AccountHandle }; ret: GraphSignedIn };
  sign_in_google_dav: { args: { account: AccountHandle }; ret: GoogleDavSignedIn };
  mail_report: { args: { run: RunId }; ret: void };
  read_directory: { args: { signIn: DirectorySignIn; existing: Array<PairNames> }; ret: DirectoryList };
  set_decisions: { args: { decisions: Array<MailboxChoice> }; ret: void };
  sign_in_listed: { args: { source: Server; users: Array<string> }; ret: Array<AdminSignedIn> };
  size_estimate: { args: { sourcePreset: string | null; destinationPreset: string | null; source: Server; destination: Server; sizes: Array<MailboxSize> }; ret: SizeEstimate | null };
  keep_as_files: { args: { mailboxes: Array<AccountHandle>; format: KeepFormat }; ret: FilesView | null };
  watch_files: { args: { job: FilesId; onUpdate: Channel<FilesView> }; ret: void };
  stop_files: { args: { job: FilesId }; ret: void };
  choose_files: { args: { folder: boolean }; ret: FilesFound | null };
  import_files: { args: { found: FilesId; destination: AccountHandle }; ret: FilesView };
}
