// The shell's commands, typed with the generated bindings. Every command
// rejects with an IpcError ({ code, message, detail, fingerprint }).
import { Channel, invoke } from "@tauri-apps/api/core";
import type {
  AccountHandle,
  Checklist,
  DemoSetup,
  FolderEdits,
  FolderMapView,
  IpcError,
  LogLine,
  MxCheck,
  Preset,
  RunId,
  RunView,
  Scan,
  Server,
  SignedIn,
  Verification,
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

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw asIpcError(e);
  }
}

export const api = {
  providerPresets: () => call<Preset[]>("provider_presets"),
  probeServer: (server: Server) => call<Checklist>("probe_server", { server }),
  signIn: (server: Server, user: string, password: string) =>
    call<SignedIn>("sign_in", { server, user, password }),
  forgetAccount: (account: AccountHandle) => call<void>("forget_account", { account }),
  /** The presets are the tiles' ids, for the providers' limits in the estimate. */
  scan: (
    account: AccountHandle,
    limits?: { sourcePreset?: string; destinationPreset?: string; destination?: AccountHandle },
  ) =>
    call<Scan>("scan", {
      account,
      sourcePreset: limits?.sourcePreset ?? null,
      destinationPreset: limits?.destinationPreset ?? null,
      destination: limits?.destination ?? null,
    }),
  folderMap: (source: AccountHandle, destination: AccountHandle, edits?: FolderEdits) =>
    call<FolderMapView>("folder_map", { source, destination, edits: edits ?? null }),
  /** `skipLargerThan` (bytes): this stage leaves larger messages for the large-message pass. */
  startRun: (
    source: AccountHandle,
    destination: AccountHandle,
    stage?: { edits?: FolderEdits; skipLargerThan?: number | null },
  ) =>
    call<RunId>("start_run", {
      source,
      destination,
      edits: stage?.edits ?? null,
      skipLargerThan: stage?.skipLargerThan ?? null,
    }),
  watchRun: (run: RunId, onView: (view: RunView) => void) => {
    const onUpdate = new Channel<RunView>();
    onUpdate.onmessage = onView;
    return call<void>("watch_run", { run, onUpdate });
  },
  pauseRun: (run: RunId) => call<void>("pause_run", { run }),
  resumeRun: (run: RunId) => call<void>("resume_run", { run }),
  cancelRun: (run: RunId) => call<void>("cancel_run", { run }),
  verify: (run: RunId) => call<Verification>("verify", { run }),
  searchLog: (run: RunId, text: string) => call<LogLine[]>("search_log", { run, text }),
  demoAvailable: () => call<boolean>("demo_available"),
  startDemo: () => call<DemoSetup>("start_demo"),
  updateAvailable: () => call<string | null>("update_available"),
  checkMx: (domain: string) => call<MxCheck>("check_mx", { domain }),
  /** Saves the last check's report in Downloads; answers the file's path. */
  saveReport: (run: RunId, html: boolean) => call<string>("save_report", { run, html }),
};
