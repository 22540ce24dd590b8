// The wizard's state: what the user chose and what the shell answered.
// No secret is kept here: the password lives in the sign-in form only
// until it is sent, and the shell answers with an account handle.
import type {
  AccountHandle,
  Checklist,
  CollectionPlanView,
  ContactsCheck,
  ContactsCopy,
  Decision,
  FilesView,
  FolderMapView,
  GoogleDavSignedIn,
  GraphSignedIn,
  IpcError,
  Kept,
  Preset,
  RunId,
  RunView,
  Scan,
  Server,
  SavedJob,
  Verification,
} from "./api";

export type SideName = "source" | "destination";

export interface Side {
  preset: Preset | null;
  server: Server;
  user: string;
  probe: Checklist | null;
  signIn: Checklist | null;
  account: AccountHandle | null;
  /** Where its password is kept (keychain or this session only). */
  kept: Kept | null;
}

/** A mailbox pair after the first (the first is source.user → destination.user). */
export interface MailboxPair {
  source_user: string;
  destination_user: string;
  source: AccountHandle | null;
  destination: AccountHandle | null;
  source_error: IpcError | null;
  destination_error: IpcError | null;
  /** Its copy, once started; `view` is its latest progress. */
  run: RunId | null;
  view: RunView | null;
  /** A copy of this pair finished (in this session or an earlier one). */
  copied: boolean;
  /** Move, keep as files, both, or leave (issue 16). */
  decision: Decision;
  /** Why the directory says to look at it first, in words. */
  flags: string[];
  /** The person's name, from the directory. */
  name: string | null;
  /** The old mailbox signed in with the administrator sign-in (not its own password). */
  admin: boolean;
  /** The storage it uses ("2.3 GB", and in bytes), from the directory's usage report. */
  storage: string | null;
  storage_bytes: number | null;
}

/** The pair is copied to the new server. */
export const moves = (d: Decision) => d === "move" || d === "move_and_keep";
/** The pair is kept as files on this computer. */
export const keeps = (d: Decision) => d === "keep" || d === "move_and_keep";

function emptySide(): Side {
  return {
    preset: null,
    server: { host: "", port: 993, security: "tls", trusted_fingerprint: null },
    user: "",
    probe: null,
    signIn: null,
    account: null,
    kept: null,
  };
}

export const STEPS = [
  "Where from, where to",
  "Connect",
  "Sign in",
  "Mailboxes",
  "Scan",
  "Folder map",
  "Copy",
  "Check",
  "Contacts & calendars",
] as const;

export const wizard = $state({
  step: 1,
  presets: [] as Preset[],
  source: emptySide(),
  destination: emptySide(),
  /** The demo password, when the demo servers filled the wizard. */
  demoPassword: null as string | null,
  scan: null as Scan | null,
  map: null as FolderMapView | null,
  run: null as RunId | null,
  view: null as RunView | null,
  verification: null as Verification | null,
  // Issue 7: several mailboxes, the demo's list, the saved job.
  mailboxes: [] as MailboxPair[],
  /** The demo office's other mailboxes, as a list to paste (demo passwords). */
  demoList: null as string | null,
  /** The job an earlier session saved, until the user continues or starts anew. */
  saved: null as SavedJob | null,
  /** The first pair's copy finished. */
  firstCopied: false,
  // Issue 17: contacts and calendars (optional last step).
  contacts: {
    /** The old and new contacts and calendar servers' addresses. */
    source: "",
    destination: "",
    plan: null as CollectionPlanView[] | null,
    copy: null as ContactsCopy | null,
    check: null as ContactsCheck | null,
    /** Per side: through Microsoft 365 (Microsoft Graph) instead of an address; null: not chosen (its provider decides). */
    graph: { source: null as boolean | null, destination: null as boolean | null },
    /** Per side: its Microsoft 365 sign-in for contacts and calendars (this session). */
    graphSignedIn: { source: null as GraphSignedIn | null, destination: null as GraphSignedIn | null },
    /** Per side: Google's contacts and calendars with their own Google sign-in instead of an address; null: not chosen (its provider decides). */
    google: { source: null as boolean | null, destination: null as boolean | null },
    /** Per side: its Google sign-in for contacts and calendars (this session). */
    googleSignedIn: { source: null as GoogleDavSignedIn | null, destination: null as GoogleDavSignedIn | null },
    /** Events with attendees at Microsoft 365: created without them (no invitations), or as they are. */
    attendees: "without" as "without" | "as_they_are",
  },
  /** The administrator sign-in that listed the mailboxes signs them in at the old server (this session). */
  adminSignIn: false,
  /** The first pair is always moved; it can be kept as files too. */
  firstKeep: false,
  /** The last "Keep as files" job of this session. */
  kept: null as FilesView | null,
});

/** Every pair after the first has the accounts its decision needs signed in. */
export function mailboxesReady(): boolean {
  return wizard.mailboxes.every(
    (p) => p.decision === "leave" || (p.source !== null && (p.destination !== null || !moves(p.decision))),
  );
}

/** The pairs after the first that are copied to the new server. */
export function movedPairs(): MailboxPair[] {
  return wizard.mailboxes.filter((p) => moves(p.decision));
}

export function sideLabel(side: SideName): string {
  const s = wizard[side];
  return s.preset && s.preset.id !== "other" && s.preset.id !== "hosting"
    ? s.preset.name.split(" / ")[0]
    : side === "source"
      ? "the old server"
      : "the new server";
}

export function connected(side: Side): boolean {
  return !!side.probe && !side.probe.failure && side.probe.passed.length > 0;
}

/** Whether a step is done (ticked in the rail). */
export function stepDone(step: number): boolean {
  const both = (f: (s: Side) => boolean) => f(wizard.source) && f(wizard.destination);
  switch (step) {
    case 1:
      return both((s) => !!s.preset && s.server.host.trim() !== "" && s.user.trim() !== "");
    case 2:
      return both(connected);
    case 3:
      return both((s) => s.account !== null);
    case 4:
      return both((s) => s.account !== null) && mailboxesReady();
    case 5:
      return wizard.scan !== null;
    case 6:
      return wizard.map !== null && wizard.map.decisions_needed === 0;
    case 7:
      return (
        (wizard.firstCopied || wizard.view?.state === "finished") &&
        movedPairs().every((p) => p.copied || p.view?.state === "finished")
      );
    case 8:
      return wizard.verification !== null;
    case 9:
      return wizard.contacts.check?.safe_to_switch === true;
  }
  return false;
}

/** Whether the user can go to a step (every step before it is done). */
export function reachable(step: number): boolean {
  for (let s = 1; s < step; s++) {
    if (s === 5) continue; // The scan is informative; it never blocks.
    if (s === 8 && step === 9) continue; // Contacts can move once the mail is copied.
    if (!stepDone(s)) return false;
  }
  return true;
}

export function choosePreset(side: SideName, preset: Preset) {
  const s = wizard[side];
  s.preset = preset;
  s.server = {
    host: preset.host ?? "",
    port: preset.port,
    security: preset.security,
    trusted_fingerprint: null,
  };
  s.probe = null;
  s.signIn = null;
  s.account = null;
  s.kept = null;
}
