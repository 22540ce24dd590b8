// The window's commands, the one list of them. Included (not a module) by
// `src/ipc.rs`, which makes a Tauri command of each entry, registers them and
// writes their TypeScript types, and by `build.rs`, which gives each its
// permission. Adding a command is adding a line here.
//
// An entry: `fn` (runs on the main thread) or `async`, the function in
// `src/commands/`, in brackets the shell's own state it takes first (Tauri
// hands it over, the window never sends it), then what the window sends and
// what it gets back. The compiler checks each entry against its function.
commands! {
    (fn servers::provider_presets() -> Vec<Preset>)
    (fn servers::open_app_password_page(preset: String) -> ())
    (async discover::discover_server(address: String) -> Found)
    (async connect::probe_server(server: Server) -> Checklist)
    (async sign_in::sign_in[accounts](server: Server, user: String, password: String) -> SignedIn)
    (fn sign_in::forget_account[accounts](account: AccountHandle) -> ())
    (async scan::scan[accounts](
        account: AccountHandle,
        source_preset: Option<String>,
        destination_preset: Option<String>,
        destination: Option<AccountHandle>,
    ) -> Scan)
    (async folder_map::folder_map[accounts](
        source: AccountHandle,
        destination: AccountHandle,
        edits: Option<FolderEdits>,
    ) -> FolderMapView)
    (fn copy::start_run[accounts, runs](
        source: AccountHandle,
        destination: AccountHandle,
        edits: Option<FolderEdits>,
        skip_larger_than: Option<u64>,
        after_switch: Option<bool>,
        rebuild_progress: Option<bool>,
    ) -> RunId)
    (fn copy::start_domain_run[accounts, runs](pairs: Vec<PairHandles>, stage: CopyStage) -> DomainId)
    (fn copy::current_domain_run[runs]() -> Option<DomainView>)
    (fn copy::watch_domain[runs](domain: DomainId, on_update: Channel<DomainView>) -> ())
    (fn copy::watch_run[runs](run: RunId, on_update: Channel<RunView>) -> ())
    (async copy::pause_run[runs](run: RunId) -> ())
    (fn copy::resume_run[runs](run: RunId, rebuild_progress: Option<bool>) -> ())
    (async copy::cancel_run[runs](run: RunId) -> ())
    (fn copy::accept_renumbered[runs](run: RunId, folder: String) -> ())
    (async verify::verify[runs](run: RunId) -> Verification)
    (fn verify::search_log[runs](run: RunId, text: String) -> Vec<LogLine>)
    (fn demo::demo_available() -> bool)
    (async demo::start_demo[demo, accounts]() -> DemoSetup)
    (async update::update_available[app]() -> Option<String>)
    (async mailboxes::read_mailbox_list[accounts](
        source: Server,
        destination: Server,
        text: String,
        existing: Vec<PairNames>,
    ) -> Vec<MailboxRow>)
    (async mailboxes::add_mailbox[accounts](
        source: Server,
        destination: Server,
        source_user: String,
        destination_user: String,
        source_password: String,
        destination_password: String,
        existing: Vec<PairNames>,
    ) -> MailboxRow)
    (fn job::save_job(job: SavedJob) -> ())
    (fn job::load_job() -> Option<SavedJob>)
    (fn job::forget_job() -> ())
    (async sign_in::sign_in_saved[accounts](server: Server, user: String) -> Option<SignedIn>)
    (fn oauth::oauth_providers[config, chosen]() -> Vec<String>)
    (async oauth::sign_in_oauth[accounts, config, chosen](
        server: Server,
        user: String,
        issuer: String,
    ) -> SignedIn)
    (fn oauth::set_oauth_client[config, chosen](provider: String, id: String, secret: Option<String>) -> Vec<String>)
    (async cutover::check_mx(domain: String) -> MxCheck)
    (fn watch::start_watch[runs, watches](
        domain: DomainId,
        mail_domain: Option<String>,
        old_mx: Vec<String>,
    ) -> WatchView)
    (fn watch::follow_watch[watches](domain: DomainId, on_update: Channel<WatchView>) -> ())
    (fn watch::current_watch[watches]() -> Option<WatchView>)
    (async watch::stop_watch[watches](domain: DomainId) -> ())
    (async report::save_report[app, runs](run: RunId, html: bool) -> Option<String>)
    (async contacts::contacts_plan[accounts, graphs, googles](source: DavSide, destination: DavSide) -> Vec<CollectionPlanView>)
    (async contacts::copy_contacts[accounts, graphs, googles](source: DavSide, destination: DavSide) -> ContactsCopy)
    (async contacts::check_contacts[accounts, graphs, googles](source: DavSide, destination: DavSide) -> ContactsCheck)
    (async graph::sign_in_graph[accounts, graphs, config, chosen, admin](account: AccountHandle) -> GraphSignedIn)
    (async google_dav::sign_in_google_dav[accounts, googles, config, chosen](account: AccountHandle) -> GoogleDavSignedIn)
    (async report::mail_report[runs, choices, files](run: RunId) -> ())
    (async mailboxes::read_directory[directory, config, chosen, admin](
        sign_in: DirectorySignIn,
        existing: Vec<PairNames>,
    ) -> DirectoryList)
    (fn mailboxes::set_decisions[choices](decisions: Vec<MailboxChoice>) -> ())
    (async mailboxes::sign_in_listed[accounts, admin](source: Server, users: Vec<String>) -> Vec<AdminSignedIn>)
    (fn mailboxes::size_estimate(
        source_preset: Option<String>,
        destination_preset: Option<String>,
        source: Server,
        destination: Server,
        sizes: Vec<MailboxSize>,
    ) -> Option<SizeEstimate>)
    (async files::keep_as_files[app, accounts, files](
        mailboxes: Vec<AccountHandle>,
        format: KeepFormat,
    ) -> Option<FilesView>)
    (fn files::watch_files[files](job: FilesId, on_update: Channel<FilesView>) -> ())
    (fn files::stop_files[files](job: FilesId) -> ())
    (async files::choose_files[app, files](folder: bool) -> Option<FilesFound>)
    (fn files::import_files[accounts, files](found: FilesId, destination: AccountHandle) -> FilesView)
}
