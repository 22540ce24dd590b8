//! The TypeScript types the window uses, generated from the Rust types that
//! cross IPC (ts-rs). `ui/src/lib/bindings.ts` is committed; this test fails
//! when it is out of date. Regenerate with
//! `UPDATE_BINDINGS=1 cargo test -p mailferry-desktop bindings`.

use crate::accounts::AccountHandle;
use crate::commands::connect::{Checklist, StepFailure};
use crate::commands::cutover::{MxCheck, MxRecord};
use crate::commands::demo::{DemoSetup, DemoSide};
use crate::commands::folder_map::{FolderEdits, FolderMapView, FolderRow};
use crate::commands::scan::{LargeMessage, Scan, ScanEstimate, ScannedFolder};
use crate::commands::servers::{Preset, Server};
use crate::commands::sign_in::SignedIn;
use crate::commands::verify::{FolderAudit, LogLine, Missing, Verification};
use crate::domains::{CopyStage, DomainId, DomainMailbox, DomainView, PairHandles};
use crate::error::{ErrorCode, IpcError};
use crate::runs::{FolderProgress, Refused, RunId, RunState, RunView};
use mailferry::check::Step;
use mailferry::endpoint::Security;
use mailferry::event::Event;
use ts_rs::{Config, TS};
// Issue 7, several mailboxes, saved jobs, keychain (kept apart for merging).
use crate::accounts::Kept;
use crate::commands::job::{SavedJob, SavedPair, SavedSide};
use crate::commands::mailboxes::{MailboxRow, PairNames};

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
        Checklist::decl(&cfg),
        StepFailure::decl(&cfg),
        SignedIn::decl(&cfg),
        ScannedFolder::decl(&cfg),
        LargeMessage::decl(&cfg),
        ScanEstimate::decl(&cfg),
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
        Verification::decl(&cfg),
        LogLine::decl(&cfg),
        MxRecord::decl(&cfg),
        MxCheck::decl(&cfg),
        DemoSide::decl(&cfg),
        DemoSetup::decl(&cfg),
        // Issue 7, several mailboxes, saved jobs, keychain.
        Kept::decl(&cfg),
        PairNames::decl(&cfg),
        MailboxRow::decl(&cfg),
        SavedSide::decl(&cfg),
        SavedPair::decl(&cfg),
        SavedJob::decl(&cfg),
    ];
    let mut out = String::from(
        "// Generated from the Rust types by src-tauri/src/bindings.rs (ts-rs). Do not edit:\n\
         // UPDATE_BINDINGS=1 cargo test -p mailferry-desktop bindings\n\n",
    );
    for decl in decls {
        out.push_str("export ");
        out.push_str(&decl);
        out.push_str("\n\n");
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

#[test]
fn bindings_are_up_to_date() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/bindings.ts");
    let fresh = generate();
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        std::fs::write(&path, &fresh).expect("write bindings.ts");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "ui/src/lib/bindings.ts is out of date: run UPDATE_BINDINGS=1 cargo test -p mailferry-desktop bindings"
    );
}
