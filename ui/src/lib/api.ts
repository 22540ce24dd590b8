// The shell's commands, typed with the generated bindings (`Commands`: every
// command's arguments and answer, from the shell's one list). Every command
// rejects with an IpcError ({ code, message, detail, fingerprint }).
import { Channel, invoke } from "@tauri-apps/api/core";
import type {
  AccountHandle,
  Commands,
  CopyStage,
  DavSide,
  DirectorySignIn,
  DomainId,
  FilesId,
  FilesView,
  KeepFormat,
  MailboxChoice,
  MailboxSize,
  DomainView,
  FolderEdits,
  IpcError,
  PairHandles,
  PairNames,
  RunId,
  RunView,
  SavedJob,
  Server,
  WatchView,
} from "./bindings";

export type * from "./bindings";

/** Turns anything a command threw into an IpcError. */
export function asIpcError(e: unknown): IpcError {
  if (e && typeof e === "object" && "code" in e && "message" in e) return e as IpcError;
  return {
    code: "Internal",
    message: "Something went wrong inside MailFerry. Nothing was changed on your servers. Try again.",
    detail: String(e),
    fingerprint: null,
  };
}

type None = Record<string, never>;

/** Calls a command by its name with exactly its arguments. */
async function call<C extends keyof Commands>(
  cmd: C,
  ...args: Commands[C]["args"] extends None ? [] : [Commands[C]["args"]]
): Promise<Commands[C]["ret"]> {
  try {
    return await invoke<Commands[C]["ret"]>(cmd, args[0]);
  } catch (e) {
    throw asIpcError(e);
  }
}

export const api = {
  providerPresets: () => call("provider_presets"),
  /** Opens the provider's app-password page in the system browser. */
  openAppPasswordPage: (preset: string) => call("open_app_password_page", { preset }),
  /** Finds and checks the server of an email address (no password). */
  discoverServer: (address: string) => call("discover_server", { address }),
  probeServer: (server: Server) => call("probe_server", { server }),
  signIn: (server: Server, user: string, password: string) =>
    call("sign_in", { server, user, password }),
  forgetAccount: (account: AccountHandle) => call("forget_account", { account }),
  /** The presets are the tiles' ids, for the providers' limits in the estimate. */
  scan: (
    account: AccountHandle,
    limits?: { sourcePreset?: string; destinationPreset?: string; destination?: AccountHandle },
  ) =>
    call("scan", {
      account,
      sourcePreset: limits?.sourcePreset ?? null,
      destinationPreset: limits?.destinationPreset ?? null,
      destination: limits?.destination ?? null,
    }),
  folderMap: (source: AccountHandle, destination: AccountHandle, edits?: FolderEdits) =>
    call("folder_map", { source, destination, edits: edits ?? null }),
  /**
   * `skipLargerThan` (bytes): this stage leaves larger messages for the large-message pass.
   * `afterSwitch`: the domain's mail now arrives at the destination; the job records it and only adds from now on.
   */
  startRun: (
    source: AccountHandle,
    destination: AccountHandle,
    stage?: { edits?: FolderEdits; skipLargerThan?: number | null; afterSwitch?: boolean },
  ) =>
    call("start_run", {
      source,
      destination,
      edits: stage?.edits ?? null,
      skipLargerThan: stage?.skipLargerThan ?? null,
      afterSwitch: stage?.afterSwitch ?? null,
      rebuildProgress: null,
    }),
  /**
   * Copies the first pair and every listed one with the same stage, several
   * mailboxes at once within the providers' connection caps (the shell owns
   * the copy: a reloaded window finds it with `currentDomainRun`).
   */
  startDomainRun: (pairs: PairHandles[], stage: CopyStage) => call("start_domain_run", { pairs, stage }),
  /** The domain copy running now, or the last one of this session. */
  currentDomainRun: () => call("current_domain_run"),
  watchDomain: (domain: DomainId, onView: (view: DomainView) => void) => {
    const onUpdate = new Channel<DomainView>();
    onUpdate.onmessage = onView;
    return call("watch_domain", { domain, onUpdate });
  },
  watchRun: (run: RunId, onView: (view: RunView) => void) => {
    const onUpdate = new Channel<RunView>();
    onUpdate.onmessage = onView;
    return call("watch_run", { run, onUpdate });
  },
  pauseRun: (run: RunId) => call("pause_run", { run }),
  /** `rebuildProgress`: the copy stopped on a damaged progress file; rebuild it from both servers. */
  resumeRun: (run: RunId, rebuildProgress = false) => call("resume_run", { run, rebuildProgress }),
  /** The user looked at a folder the old server renumbered and says its messages are new: copy it. */
  acceptRenumbered: (run: RunId, folder: string) => call("accept_renumbered", { run, folder }),
  cancelRun: (run: RunId) => call("cancel_run", { run }),
  verify: (run: RunId) => call("verify", { run }),
  searchLog: (run: RunId, text: string) => call("search_log", { run, text }),
  demoAvailable: () => call("demo_available"),
  startDemo: () => call("start_demo"),
  /** Step 9: the old server's address books and calendars, and where each goes. */
  contactsPlan: (source: DavSide, destination: DavSide) => call("contacts_plan", { source, destination }),
  /** Copies contacts and calendars (only what is missing or changed). */
  copyContacts: (source: DavSide, destination: DavSide) => call("copy_contacts", { source, destination }),
  /** Compares every contact and calendar entry with its copy. */
  checkContacts: (source: DavSide, destination: DavSide) => call("check_contacts", { source, destination }),
  /** Signs the mail account in to Microsoft 365's contacts and calendars (Microsoft Graph) through the browser. */
  signInGraph: (account: AccountHandle) => call("sign_in_graph", { account }),
  /** Signs the mail account in to Google's contacts and calendars (CardDAV and CalDAV) through the browser. */
  signInGoogleDav: (account: AccountHandle) => call("sign_in_google_dav", { account }),
  updateAvailable: () => call("update_available"),
  // Issue 7: several mailboxes, saved job, sign-in from the keychain.
  readMailboxList: (source: Server, destination: Server, text: string, existing: PairNames[]) =>
    call("read_mailbox_list", { source, destination, text, existing }),
  addMailbox: (
    source: Server,
    destination: Server,
    pair: PairNames,
    sourcePassword: string,
    destinationPassword: string,
    existing: PairNames[],
  ) =>
    call("add_mailbox", {
      source,
      destination,
      sourceUser: pair.source_user,
      destinationUser: pair.destination_user,
      sourcePassword,
      destinationPassword,
      existing,
    }),
  saveJob: (job: SavedJob) => call("save_job", { job }),
  loadJob: () => call("load_job"),
  forgetJob: () => call("forget_job"),
  signInSaved: (server: Server, user: string) => call("sign_in_saved", { server, user }),
  oauthProviders: () => call("oauth_providers"),
  signInOAuth: (server: Server, user: string, issuer: string) => call("sign_in_oauth", { server, user, issuer }),
  /** The user's own app registration for browser sign-in (empty: this copy's own). */
  /** The user's own app registration with `provider` ("google", "microsoft"); kept by the shell. */
  setOAuthClient: (provider: string, id: string, secret: string | null) =>
    call("set_oauth_client", { provider, id, secret }),
  checkMx: (domain: string) => call("check_mx", { domain }),
  /**
   * After the final copy: watch the old server for every mailbox of the
   * domain's copy. `mailDomain` and `oldMx` (the records before the switch)
   * let the watch wait until no resolver names the old server any more.
   */
  startWatch: (domain: DomainId, mailDomain: string | null, oldMx: string[]) =>
    call("start_watch", { domain, mailDomain, oldMx }),
  followWatch: (domain: DomainId, onView: (view: WatchView) => void) => {
    const onUpdate = new Channel<WatchView>();
    onUpdate.onmessage = onView;
    return call("follow_watch", { domain, onUpdate });
  },
  /** The watch of this session, for a reloaded window. */
  currentWatch: () => call("current_watch"),
  stopWatch: (domain: DomainId) => call("stop_watch", { domain }),
  /** Saves the last check's report where the owner chooses (the save dialog); answers the file's path, or null. */
  saveReport: (run: RunId, html: boolean) => call("save_report", { run, html }),
  /** Puts the last check's report in the new mailbox's INBOX as a message. */
  mailReport: (run: RunId) => call("mail_report", { run }),
  // Issue 16: every mailbox of the domain, kept as files, files brought in.
  /** Every mailbox of the organisation from its directory (not yet in `existing`). */
  readDirectory: (signIn: DirectorySignIn, existing: PairNames[]) => call("read_directory", { signIn, existing }),
  /** Signs in listed mailboxes at the old server with the administrator sign-in that read the list. */
  signInListed: (source: Server, users: string[]) => call("sign_in_listed", { source, users }),
  /** How long moving mailboxes of these sizes is likely to take; null without sizes. */
  sizeEstimate: (sourcePreset: string | null, destinationPreset: string | null, source: Server, destination: Server, sizes: MailboxSize[]) =>
    call("size_estimate", { sourcePreset, destinationPreset, source, destination, sizes }),
  /** Each mailbox's decision, for the report. */
  setDecisions: (decisions: MailboxChoice[]) => call("set_decisions", { decisions }),
  /** Opens the folder dialog, then keeps these mailboxes as files there; null when the dialog was closed. */
  keepAsFiles: (mailboxes: AccountHandle[], format: KeepFormat) => call("keep_as_files", { mailboxes, format }),
  watchFiles: (job: FilesId, onView: (view: FilesView) => void) => {
    const onUpdate = new Channel<FilesView>();
    onUpdate.onmessage = onView;
    return call("watch_files", { job, onUpdate });
  },
  stopFiles: (job: FilesId) => call("stop_files", { job }),
  /** Opens the dialog for a folder (or a file), then says what the mail files hold; null when closed. */
  chooseFiles: (folder: boolean) => call("choose_files", { folder }),
  importFiles: (found: FilesId, destination: AccountHandle) => call("import_files", { found, destination }),
};
