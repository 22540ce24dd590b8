//! What the window knows of the shell, generated from Rust: the types that
//! cross IPC (ts-rs) and every command's arguments and answer
//! (`ui/src/lib/bindings.ts`), and the isolation frame's allowlist
//! (`ui/isolation/commands.js`), both from [`crate::ipc`]'s list. The files
//! are committed; this test fails when one is out of date. Regenerate with
//! `UPDATE_BINDINGS=1 cargo test -p mailferry-desktop bindings`.

use crate::accounts::AccountHandle;
use crate::commands::connect::{Checklist, StepFailure};
use crate::commands::contacts::{
    CollectionCheckView, CollectionCopyView, CollectionPlanView, ContactsCheck, ContactsCopy,
    DavSide, EntryProblem,
};
use crate::commands::cutover::{MxCheck, MxRecord};
use crate::commands::demo::{DemoContacts, DemoSetup, DemoSide};
use crate::commands::discover::{Found, Tried};
use crate::commands::folder_map::{FolderEdits, FolderMapView, FolderRow};
use crate::commands::google_dav::GoogleDavSignedIn;
use crate::commands::graph::GraphSignedIn;
use crate::commands::servers::Server;
use crate::commands::sign_in::SignedIn;
use crate::commands::verify::{FolderAudit, LogLine, Missing, Verification};
use crate::domains::{CopyStage, DomainId, DomainMailbox, DomainView, PairHandles};
use crate::error::{ErrorCode, IpcError};
use crate::runs::{FolderProgress, Refused, RunId, RunState, RunView};
use crate::watching::{WatchState, WatchView, WatchedMailbox};
use mailferry::check::Step;
use mailferry::endpoint::Security;
use mailferry::event::Event;
use mailferry::preset::{Estimate, Preset};
use mailferry::scan::{FolderSize, LargeMessage, Scan};
use mailferry::spot::{
    Named as SpotMessage, Outcome as SpotOutcome, Row as SpotRow, Spot, SpotCheck, SpotKind,
};
use ts_rs::{Config, TS};
// Issue 7, several mailboxes, saved jobs, keychain (kept apart for merging).
use crate::accounts::Kept;
use crate::commands::job::{SavedJob, SavedPair, SavedSide};
use crate::commands::mailboxes::{MailboxRow, PairNames};
// Issue 16.
use crate::commands::files::{
    FilesFound, FilesId, FilesKind, FilesMailbox, FilesProgress, FilesState, FilesView,
    FoundFolder, KeepFormat,
};
use crate::commands::mailboxes::{
    AdminSignedIn, Decision, DirectoryList, DirectoryPerson, DirectorySignIn, MailboxChoice,
    MailboxSize, SizeEstimate,
};

const HEADER: &str = "// Generated from Rust by src-tauri/src/bindings.rs. Do not edit:\n\
                      // UPDATE_BINDINGS=1 cargo test -p mailferry-desktop bindings\n";

fn generate() -> String {
    let cfg = Config::default();
    let decls = [
        ErrorCode::decl(&cfg),
        IpcError::decl(&cfg),
        Security::decl(&cfg),
        Step::decl(&cfg),
        Event::decl(&cfg),
        AccountHandle::decl(&cfg),
        Server::decl(&cfg),
        Preset::decl(&cfg),
        Tried::decl(&cfg),
        Found::decl(&cfg),
        Checklist::decl(&cfg),
        StepFailure::decl(&cfg),
        SignedIn::decl(&cfg),
        FolderSize::decl(&cfg),
        LargeMessage::decl(&cfg),
        Estimate::decl(&cfg),
        Scan::decl(&cfg),
        FolderRow::decl(&cfg),
        FolderMapView::decl(&cfg),
        FolderEdits::decl(&cfg),
        RunId::decl(&cfg),
        RunState::decl(&cfg),
        FolderProgress::decl(&cfg),
        Refused::decl(&cfg),
        RunView::decl(&cfg),
        DomainId::decl(&cfg),
        CopyStage::decl(&cfg),
        PairHandles::decl(&cfg),
        DomainMailbox::decl(&cfg),
        DomainView::decl(&cfg),
        FolderAudit::decl(&cfg),
        Missing::decl(&cfg),
        SpotKind::decl(&cfg),
        SpotOutcome::decl(&cfg),
        SpotRow::decl(&cfg),
        SpotMessage::decl(&cfg),
        Spot::decl(&cfg),
        SpotCheck::decl(&cfg),
        Verification::decl(&cfg),
        LogLine::decl(&cfg),
        MxRecord::decl(&cfg),
        MxCheck::decl(&cfg),
        WatchState::decl(&cfg),
        WatchedMailbox::decl(&cfg),
        WatchView::decl(&cfg),
        DemoSide::decl(&cfg),
        DemoContacts::decl(&cfg),
        DemoSetup::decl(&cfg),
        // Issue 7, several mailboxes, saved jobs, keychain.
        Kept::decl(&cfg),
        PairNames::decl(&cfg),
        MailboxRow::decl(&cfg),
        SavedSide::decl(&cfg),
        SavedPair::decl(&cfg),
        SavedJob::decl(&cfg),
        // Issue 17, contacts and calendars.
        DavSide::decl(&cfg),
        CollectionPlanView::decl(&cfg),
        EntryProblem::decl(&cfg),
        CollectionCopyView::decl(&cfg),
        ContactsCopy::decl(&cfg),
        CollectionCheckView::decl(&cfg),
        ContactsCheck::decl(&cfg),
        GraphSignedIn::decl(&cfg),
        GoogleDavSignedIn::decl(&cfg),
        // Issue 16: every mailbox of the domain, kept as files, files brought in.
        Decision::decl(&cfg),
        DirectorySignIn::decl(&cfg),
        DirectoryPerson::decl(&cfg),
        DirectoryList::decl(&cfg),
        MailboxChoice::decl(&cfg),
        AdminSignedIn::decl(&cfg),
        MailboxSize::decl(&cfg),
        SizeEstimate::decl(&cfg),
        FilesId::decl(&cfg),
        KeepFormat::decl(&cfg),
        FilesState::decl(&cfg),
        FilesProgress::decl(&cfg),
        FilesMailbox::decl(&cfg),
        FilesKind::decl(&cfg),
        FilesView::decl(&cfg),
        FoundFolder::decl(&cfg),
        FilesFound::decl(&cfg),
    ];
    let mut out = format!("{HEADER}\nimport type {{ Channel }} from \"@tauri-apps/api/core\";\n\n");
    for decl in decls {
        out.push_str("export ");
        out.push_str(&decl);
        out.push_str("\n\n");
    }
    out.push_str(&commands());
    out
}

/// The `Commands` type: every command of [`crate::ipc`]'s list with what
/// the window sends (byte counts are JSON numbers) and what it gets back.
fn commands() -> String {
    let cfg = Config::default().with_large_int("number");
    let mut out = String::from(
        "/**\n * Every command of the shell: the arguments the window sends (Tauri's\n \
         * camelCase names for the Rust parameters) and what it gets back.\n */\n\
         export interface Commands {\n",
    );
    for command in crate::ipc::signatures(&cfg) {
        let args = if command.args.is_empty() {
            "Record<string, never>".to_owned()
        } else {
            let fields: Vec<String> = (command.args.iter())
                .map(|(name, ty)| format!("{name}: {ty}"))
                .collect();
            format!("{{ {} }}", fields.join("; "))
        };
        out.push_str(&format!(
            "  {}: {{ args: {args}; ret: {} }};\n",
            command.name, command.ret
        ));
    }
    out.push_str("}\n");
    out
}

/// The isolation frame's allowlist: exactly the commands of the list.
fn allowlist() -> String {
    let mut out = format!("{HEADER}const commands = [\n");
    for name in crate::ipc::COMMANDS {
        out.push_str(&format!("  \"{name}\",\n"));
    }
    out.push_str("];\n");
    out
}

/// Writes `fresh` to `file` (from the repository's root) when asked, else
/// checks the committed file is the same.
fn up_to_date(file: &str, fresh: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(file);
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        std::fs::write(&path, fresh).unwrap_or_else(|e| panic!("write {file}: {e}"));
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "{file} is out of date: run UPDATE_BINDINGS=1 cargo test -p mailferry-desktop bindings"
    );
}

#[test]
fn bindings_are_up_to_date() {
    up_to_date("ui/src/lib/bindings.ts", &generate());
}

#[test]
fn bindings_isolation_allowlist_is_up_to_date() {
    up_to_date("ui/isolation/commands.js", &allowlist());
}

#[test]
fn bindings_type_every_command() {
    let typed = commands();
    for name in crate::ipc::COMMANDS {
        assert!(
            typed.contains(&format!("\n  {name}: {{ args: ")),
            "{name} is typed"
        );
    }
    assert!(
        typed.contains("start_run: { args: { source: AccountHandle; destination: AccountHandle; edits: FolderEdits | null; skipLargerThan: number | null;"),
        "arguments are named as Tauri reads them, byte counts are numbers: {typed}"
    );
}

/// The engine's provider presets as the shell sends them, for the browser
/// tests' IPC mock (`ui/tests/presets.json`): the mock answers
/// `provider_presets` with the engine's table, not a copy of its own.
fn presets_fixture() -> String {
    let mut json =
        serde_json::to_string_pretty(&mailferry::preset::all()).expect("plain data serializes");
    json.push('\n');
    json
}

#[test]
fn the_mocks_presets_are_the_engines() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/tests/presets.json");
    let fresh = presets_fixture();
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        std::fs::write(&path, &fresh).expect("write presets.json");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "ui/tests/presets.json is out of date: run UPDATE_BINDINGS=1 cargo test -p mailferry-desktop bindings"
    );
}
