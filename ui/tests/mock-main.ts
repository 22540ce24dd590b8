// The browser tests' entry: the real app with Tauri's IPC mocked
// (@tauri-apps/api/mocks). The scenario comes from ?scenario=… and the
// answers below are test fixtures shaped by the generated bindings; none
// of this is in the app build.
import { mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import type {
  Checklist,
  MailboxRow,
  SavedJob,
  FolderMapView,
  IpcError,
  Preset,
  RunView,
  Scan,
  Server,
  SignedIn,
  Step,
  Verification,
} from "../src/lib/bindings";

const scenario = new URLSearchParams(location.search).get("scenario") ?? "happy";
const FINGERPRINT =
  "3A:7F:12:9C:44:E0:5B:21:8D:0C:F3:6A:91:BE:27:5E:C8:14:0D:77:A2:39:6B:E5:4F:80:1C:D6:93:2B:58:EF";

const preset = (id: string, name: string, host: string | null, url: string | null, limits = ""): Preset => ({
  id,
  name,
  host,
  port: 993,
  security: "tls",
  host_hint: host ? "" : "often imap.yourdomain.com or mail.yourdomain.com",
  sign_in: "Use an app password (Google account → Security → 2-Step Verification → App passwords).",
  app_password_url: url,
  limits,
});
const presets: Preset[] = [
  preset("gmail", "Gmail / Google Workspace", "imap.gmail.com", "https://myaccount.google.com/apppasswords",
    "Gmail lets an account download about 2.5 GB a day over IMAP."),
  preset("microsoft", "Microsoft 365 / Outlook.com", "outlook.office365.com", null),
  preset("yahoo", "Yahoo", "imap.mail.yahoo.com", null),
  preset("icloud", "iCloud", "imap.mail.me.com", null),
  preset("fastmail", "Fastmail", "imap.fastmail.com", null),
  preset("zoho", "Zoho", "imap.zoho.com", null),
  preset("hosting", "cPanel or other hosting", null, null),
  preset("other", "Other IMAP server", null, null),
];

const err = (code: IpcError["code"], message: string, detail: string | null = null, fingerprint: string | null = null): IpcError =>
  ({ code, message, detail, fingerprint });
const ALL: Step[] = ["found_server", "secure_connection", "signed_in", "can_read_folders"];

function probe(server: Server): Checklist {
  if (scenario === "untrusted" && server.port === 993 && server.trusted_fingerprint === null) {
    return {
      passed: ["found_server"],
      failure: {
        step: "secure_connection",
        error: err("TlsUntrustedCertificate",
          `The security certificate of ${server.host} isn't signed by an authority this computer trusts (common for company or self-hosted servers). If you know this server, compare this fingerprint with the one your provider or administrator gives you, and trust it only if they match: ${FINGERPRINT}`,
          "invalid peer certificate: UnknownIssuer", FINGERPRINT),
      },
      warnings: [],
      folders: null,
    };
  }
  return { passed: ["found_server", "secure_connection"], failure: null, warnings: [], folders: null };
}

// The keychain answer: none on this computer in the "no-keychain" scenario.
const KEPT = scenario === "no-keychain" ? "session_only" : "keychain";
let signIns = 0;
function signIn(user: string): SignedIn {
  signIns++;
  if (scenario === "wrong-password" && user === "owner@example.com" && signIns === 1) {
    return {
      account: null,
      checklist: {
        passed: ["found_server", "secure_connection"],
        failure: {
          step: "signed_in",
          error: err("AuthFailed",
            "Gmail didn't accept the user name or password. Check the address, and use an app password if 2-step verification is on.",
            "NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)"),
        },
        warnings: [],
        folders: null,
      },
      kept: null,
    };
  }
  // The shell keeps demo sign-ins out of the keychain.
  const kept = user === "alice" ? "session_only" : KEPT;
  return { account: signIns, checklist: { passed: ALL, failure: null, warnings: [], folders: 9 }, kept };
}

const scan: Scan = {
  messages: 73,
  bytes: 58_400,
  folders: [
    { name: "[Gmail]/All Mail", messages: 40, bytes: 32_000, largest: 820 },
    { name: "INBOX", messages: 14, bytes: 11_200, largest: 810 },
    { name: "Clients/Acme", messages: 7, bytes: 5_600, largest: 800 },
    { name: "Receipts", messages: 7, bytes: 5_600, largest: 800 },
    { name: "[Gmail]/Sent Mail", messages: 5, bytes: 4_000, largest: 800 },
  ],
};

const map: FolderMapView = {
  rows: [
    { source: "INBOX", target: "INBOX", exists: true, reasons: ["inbox"] },
    { source: "Clients", target: "Clients", exists: false, reasons: [] },
    { source: "Clients/Acme", target: "Clients/Acme", exists: false, reasons: ["subfolder kept"] },
    { source: "Receipts", target: "Receipts", exists: false, reasons: [] },
    { source: "[Gmail]", target: null, exists: false, reasons: ["skipped: Gmail's group of system folders, holds no mail itself"] },
    { source: "[Gmail]/Sent Mail", target: "Sent Items", exists: true, reasons: ["Sent folder", "taken out of Gmail's group of system folders"] },
    { source: "[Gmail]/Spam", target: null, exists: false, reasons: ["skipped: spam"] },
    { source: "[Gmail]/Trash", target: null, exists: false, reasons: ["skipped: Gmail trash"] },
    { source: "[Gmail]/All Mail", target: "Archive", exists: true, reasons: ["All Mail: only mail that is in no other folder goes here, copied last"] },
  ],
  conflicts: [],
  decisions_needed: 0,
  summary: "6 folders, 3 skipped",
};

const FOLDERS: [string, number][] = [["INBOX", 14], ["Clients/Acme", 7], ["Receipts", 7], ["[Gmail]/Sent Mail", 5], ["[Gmail]/All Mail", 6]];
const rejected = scenario === "rejected";

function views(): RunView[] {
  const out: RunView[] = [];
  const base = (): RunView => ({ id: 1, state: "copying", folders: [], refused: [], error: null, elapsed_ms: 0, recent: [] });
  let v = base();
  let t = 0;
  out.push({ ...base(), state: "starting" });
  for (const [name, n] of FOLDERS) {
    v = structuredClone(v);
    v.folders.push({ folder: name, messages: n, already_there: 0, to_copy: n, bytes_to_copy: n * 800, copied: 0, bytes_copied: 0, skipped: 0, failed: 0, done: false });
    out.push(v);
    v = structuredClone(v);
    const f = v.folders[v.folders.length - 1];
    const bad = rejected && name === "Receipts" ? 1 : 0;
    f.copied = n - bad;
    f.bytes_copied = (n - bad) * 800;
    f.failed = bad;
    if (bad) v.refused.push({ folder: name, reason: "the new server refused it: [LIMIT] Message too large for this mailbox (36 MB at most)" });
    f.done = name !== "[Gmail]/All Mail";
    t += 900;
    v.elapsed_ms = t;
    out.push(v);
  }
  return out;
}

const verification = (): Verification => ({
  safe_to_switch: !rejected,
  source_total: 73,
  folders: [
    { source: "INBOX", destination: "INBOX", source_count: 14, destination_count: 14, missing: 0, in_other_folders: 0, only_at_destination: 0 },
    { source: "Clients/Acme", destination: "Clients/Acme", source_count: 7, destination_count: 7, missing: 0, in_other_folders: 0, only_at_destination: 0 },
    { source: "Receipts", destination: "Receipts", source_count: 7, destination_count: rejected ? 6 : 7, missing: rejected ? 1 : 0, in_other_folders: 0, only_at_destination: 0 },
    { source: "[Gmail]/Sent Mail", destination: "Sent Items", source_count: 5, destination_count: 5, missing: 0, in_other_folders: 0, only_at_destination: 0 },
    { source: "[Gmail]/All Mail", destination: "Archive", source_count: 40, destination_count: 6, missing: 34, in_other_folders: 34, only_at_destination: 0 },
  ],
  missing: rejected
    ? [{ folder: "Receipts", subject: "Order 18 (Receipts)", from: "Customer 18 <customer18@example.net>", date: "19 Mar 2024 10:18:00 +0100",
        reason: "the new server refused it: [LIMIT] Message too large for this mailbox (36 MB at most). Forward it by hand or raise the limit.", explained: false }]
    : [],
  excluded_folders: [["[Gmail]/Spam", "skipped: spam"], ["[Gmail]/Trash", "skipped: Gmail trash"]],
});

// Several mailboxes (fixtures: the mock answers rows, it doesn't parse like the shell).
let handles = 100;
function mailboxRow(line: number, source_user: string, destination_user: string, password: string | null): MailboxRow {
  const row: MailboxRow = { line, source_user, destination_user, problem: null, source: null, destination: null, source_error: null, destination_error: null };
  if (/\s/.test(source_user)) row.problem = `Row ${line}: "${source_user}" has a space in it; a user name or email address has none.`;
  else if (!destination_user) row.problem = `Row ${line}: it needs two columns: the old mailbox, then the new one (separated by a comma).`;
  else if (password === "wrong") {
    row.source_error = err("AuthFailed", `Gmail didn't accept the password for ${source_user}. Check it, or create a new app password.`);
    row.destination = ++handles;
  } else if (password) {
    row.source = ++handles;
    row.destination = ++handles;
  }
  return row;
}
function readList(text: string): MailboxRow[] {
  return text.split("\n").map((l, i) => [i + 1, l.split(",").map((c) => c.trim())] as const)
    .filter(([, cells]) => cells[0] !== "")
    .map(([line, cells]) => mailboxRow(line, cells[0], cells[1] ?? "", cells[2] ?? null));
}
// What the window asked the shell to save, for the tests to read.
(window as any).__savedJobs = [] as SavedJob[];
const savedJob: SavedJob = {
  source: { preset: "gmail", server: { host: "imap.gmail.com", port: 993, security: "tls", trusted_fingerprint: null }, user: "owner@example.com" },
  destination: { preset: "microsoft", server: { host: "outlook.office365.com", port: 993, security: "tls", trusted_fingerprint: null }, user: "owner@example.com" },
  first_copied: true,
  mailboxes: [
    { source_user: "bob@example.com", destination_user: "bob@example.com", copied: true },
    { source_user: "office@example.com", destination_user: "office@example.com", copied: false },
  ],
  folder_map: null,
  step: 7,
  saved_at: 1_767_225_600,
};
let runs = 0;

mockWindows("main");
mockIPC(async (cmd, args) => {
  const a = (args ?? {}) as Record<string, any>;
  switch (cmd) {
    case "provider_presets": return presets;
    case "demo_available": return scenario === "happy";
    case "update_available": return null;
    case "start_demo":
      return {
        source: { preset: "gmail", server: { host: "127.0.0.1", port: 40993, security: "tls", trusted_fingerprint: null }, user: "alice" },
        destination: { preset: "microsoft", server: { host: "127.0.0.1", port: 40143, security: "starttls", trusted_fingerprint: null }, user: "alice" },
        password: "alicepass",
        mailbox_list: "bob,bob,bobpass\noffice,office,officepass\n",
      };
    case "probe_server": return probe(a.server);
    case "sign_in": return signIn(a.user);
    case "scan": return scan;
    case "folder_map": return map;
    case "start_run": return ++runs;
    case "watch_run": {
      const channel = a.onUpdate as { id: number };
      const internals = (window as any).__TAURI_INTERNALS__;
      const id = a.run as number;
      views().forEach((view, index) =>
        setTimeout(() => internals.runCallback(channel.id, { index, message: { ...view, id } }), 60 * index));
      const last = views().length;
      setTimeout(() => internals.runCallback(channel.id, { index: last, message: { ...views()[last - 1], id, state: "finished" } }), 60 * last + 40);
      return null;
    }
    case "read_mailbox_list": return readList(a.text);
    case "add_mailbox": return mailboxRow(0, a.sourceUser, a.destinationUser, a.sourcePassword || null);
    case "load_job": return scenario === "resume" ? savedJob : null;
    case "save_job": (window as any).__savedJobs.push(a.job); return null;
    case "forget_job": return null;
    case "oauth_providers": return scenario === "oauth" ? ["google", "microsoft"] : [];
    case "sign_in_oauth":
      await new Promise((r) => setTimeout(r, 300)); // the user in the browser
      return { account: ++handles, checklist: { passed: ALL, failure: null, warnings: [], folders: 9 }, kept: "keychain" };
    case "sign_in_saved":
      return scenario === "resume" && a.user !== "office@example.com"
        ? { account: ++handles, checklist: { passed: ALL, failure: null, warnings: [], folders: 9 }, kept: "keychain" }
        : null;
    case "pause_run": case "resume_run": case "cancel_run": return null;
    case "verify": return verification();
    case "search_log":
      return [{ folder: "INBOX", destination: "INBOX", subject: "Order 5 (INBOX)", from: "Customer 5 <customer5@example.net>", date: "06 Mar 2024 10:05:00 +0100", fate: "copied" }];
    default:
      throw err("Internal", `The mock has no answer for ${cmd}`);
  }
});

await import("../src/main");
