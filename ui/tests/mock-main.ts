// The browser tests' entry: the real app with Tauri's IPC mocked
// (@tauri-apps/api/mocks). The scenario comes from ?scenario=… and the
// answers below are test fixtures shaped by the generated bindings; none
// of this is in the app build.
import { mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import type {
  Checklist,
  CopyStage,
  DomainMailbox,
  DomainView,
  PairHandles,
  FolderEdits,
  MailboxRow,
  SavedJob,
  FolderMapView,
  FolderRow,
  MxCheck,
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

const SIGN_IN: Record<string, string> = {
  gmail: "Use an app password (Google account → Security → 2-Step Verification → App passwords).",
  microsoft: "Sign in through your browser, or with an app password where your organisation allows it.",
};
const preset = (id: string, name: string, host: string | null, url: string | null, limits = ""): Preset => ({
  id,
  name,
  host,
  port: 993,
  security: "tls",
  host_hint: host ? "" : "often imap.yourdomain.com or mail.yourdomain.com",
  sign_in: SIGN_IN[id] ?? "Use your email password, or an app password if your provider asks for one.",
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
// Who each account handle is, for the domain copy's view.
const users = new Map<number, string>();
function signIn(user: string): SignedIn {
  signIns++;
  users.set(signIns, user);
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

const big = scenario === "big";
const scan: Scan = {
  messages: 73,
  bytes: big ? 14_200_000_000 : 287_700_000,
  whale: big,
  max_message_bytes: 35_000_000,
  estimate: {
    seconds: big ? 518_400 : 10_800,
    words: big
      ? "About 6 days: Gmail allows about 2.5 GB of downloads a day."
      : "About 3 hours: Microsoft 365 accepts about 3,600 messages an hour.",
    limited_by: "Microsoft 365 accepts about 3,600 messages an hour",
  },
  largest_messages: [
    { folder: "Receipts", bytes: 41_200_000, subject: "Scanned invoices 2023 (all of them)", from: "Bookkeeper <books@example.net>", too_large: true },
    { folder: "Clients/Acme", bytes: 18_500_000, subject: "Signed contract and drawings", from: "Acme Legal <legal@acme.example>", too_large: false },
    { folder: "INBOX", bytes: 6_100_000, subject: "Photos from the launch", from: "Sam <sam@example.com>", too_large: false },
  ],
  folders: [
    { name: "[Gmail]/All Mail", messages: 40, bytes: 182_000_000, largest: 41_200_000 },
    { name: "Receipts", messages: 7, bytes: 47_300_000, largest: 41_200_000 },
    { name: "INBOX", messages: 14, bytes: 31_500_000, largest: 6_100_000 },
    { name: "Clients/Acme", messages: 7, bytes: 24_800_000, largest: 18_500_000 },
    { name: "[Gmail]/Sent Mail", messages: 5, bytes: 2_100_000, largest: 900_000 },
  ],
};

const baseMap: Omit<FolderMapView, "rows"> & { rows: Pick<FolderRow, "source" | "target" | "exists" | "reasons">[] } = {
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
  can_merge: false,
};

const row = (source: string, target: string | null, exists: boolean, reasons: string[]): FolderRow => ({
  source, target, exists, reasons,
  depth: source.split("/").length - 1,
  target_depth: target === null ? 0 : target.split("/").length - 1,
  conflict: false,
});

// The map as the shell would answer it for the user's edits (enough of the
// engine's rules for the screens: a pair moves a folder, an exclusion skips it).
function map(edits: FolderEdits | null): FolderMapView {
  const rows = baseMap.rows.map((r) => row(r.source, r.target, r.exists, [...r.reasons]));
  const e = edits ?? { renames: [], excluded: [], included: [], merge: false };
  for (const r of rows) {
    const renamed = e.renames.find(([s]) => s === r.source);
    if (e.excluded.includes(r.source)) {
      r.target = null;
      r.target_depth = 0;
      r.reasons = ["skipped: your choice"];
    } else if (renamed) {
      r.target = renamed[1];
      r.exists = false;
      r.target_depth = 0;
      r.reasons = ["your choice"];
    } else if (e.included.includes(r.source)) {
      r.target = r.source.split("/").pop()!;
      r.exists = false;
      r.target_depth = 0;
      r.reasons = ["your choice"];
    }
  }
  const conflicts: string[] = [];
  const byTarget = new Map<string, FolderRow[]>();
  for (const r of rows) if (r.target !== null) byTarget.set(r.target, [...(byTarget.get(r.target) ?? []), r]);
  for (const [target, rs] of byTarget) {
    if (rs.length > 1 && e.merge) {
      rs.forEach((r) => r.reasons.push("copied together with another folder"));
    } else if (rs.length > 1) {
      rs.forEach((r) => (r.conflict = true));
      conflicts.push(`${rs.length} folders would go into the same folder "${target}": ${rs.map((r) => `"${r.source}"`).join(", ")}. Choose one, or allow merging.`);
    }
  }
  const copied = rows.filter((r) => r.target !== null).length;
  const summary = `${copied} folders, ${rows.length - copied} skipped` + (conflicts.length ? `, ${conflicts.length} needs a decision` : "");
  return { rows, conflicts, decisions_needed: conflicts.length, summary, can_merge: conflicts.length > 0 };
}
const folderMapCalls: (FolderEdits | null)[] = [];
const runStarts: { edits: FolderEdits | null; skipLargerThan: number | null; afterSwitch: boolean | null }[] = [];
const resumes: { run: number; rebuildProgress: boolean | null }[] = [];
(window as any).__mock = { folderMapCalls, runStarts, resumes };

const FOLDERS: [string, number][] = [["INBOX", 14], ["Clients/Acme", 7], ["Receipts", 7], ["[Gmail]/Sent Mail", 5], ["[Gmail]/All Mail", 6]];
const rejected = scenario === "rejected";
const throttled = scenario === "throttled";
// The wait the throttled run shows: 14:32 local time, today.
const RESUME_AT = new Date();
RESUME_AT.setHours(14, 32, 0, 0);

function views(): RunView[] {
  const out: RunView[] = [];
  const base = (): RunView => ({ id: 1, state: "copying", folders: [], refused: [], error: null, elapsed_ms: 0, recent: [], waiting_until_ms: null, waiting_reason: null });
  let v = base();
  let t = 0;
  out.push({ ...base(), state: "starting" });
  for (const [name, n] of FOLDERS) {
    v = structuredClone(v);
    v.folders.push({ folder: name, messages: n, already_there: 0, to_copy: n, bytes_to_copy: n * 800, copied: 0, bytes_copied: 0, skipped: 0, failed: 0, done: false, started_ms: 1_700_000_000_000 + t, copy_ms: 0 });
    out.push(v);
    v = structuredClone(v);
    const f = v.folders[v.folders.length - 1];
    const bad = rejected && name === "Receipts" ? 1 : 0;
    f.copied = n - bad;
    f.bytes_copied = (n - bad) * 800;
    f.copy_ms = 900;
    f.failed = bad;
    if (bad) v.refused.push({ folder: name, reason: "the new server refused it: [LIMIT] Message too large for this mailbox (36 MB at most)" });
    f.done = name !== "[Gmail]/All Mail";
    t += 900;
    v.elapsed_ms = t;
    out.push(v);
    if (throttled && name === "Receipts") {
      // Gmail's daily limit: the engine waits and says until when (held for a while below).
      const w = structuredClone(v);
      w.waiting_until_ms = RESUME_AT.getTime();
      w.waiting_reason = "Gmail says this account has downloaded too much today and asks MailFerry to wait.";
      w.recent.push({ type: "Throttled", wait_secs: 1800, reason: w.waiting_reason });
      out.push(w);
    }
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
let ownClient = false;
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
  if (row.source !== null) users.set(row.source, source_user);
  if (row.destination !== null) users.set(row.destination, destination_user);
  return row;
}
function readList(text: string): MailboxRow[] {
  return text.split("\n").map((l, i) => [i + 1, l.split(",").map((c) => c.trim())] as const)
    .filter(([, cells]) => cells[0] !== "")
    .map(([line, cells]) => mailboxRow(line, cells[0], cells[1] ?? "", cells[2] ?? null));
}
// What the window asked the shell to save, for the tests to read.
(window as any).__savedJobs = [] as SavedJob[];
(window as any).__openedPages = [] as string[];
const savedJob: SavedJob = {
  source: { preset: "gmail", server: { host: "imap.gmail.com", port: 993, security: "tls", trusted_fingerprint: null }, user: "owner@example.com" },
  destination: { preset: "microsoft", server: { host: "outlook.office365.com", port: 993, security: "tls", trusted_fingerprint: null }, user: "owner@example.com" },
  first_copied: true,
  mailboxes: [
    { source_user: "bob@example.com", destination_user: "bob@example.com", copied: true },
    { source_user: "office@example.com", destination_user: "office@example.com", copied: false },
  ],
  folder_map: {
    edits: { renames: [["Receipts", "Old receipts"]], excluded: [], included: [], merge: false },
    stage: "bulk",
    done: {},
    holdBig: true,
    bigDone: false,
    cutover: {},
    domain: "example.com",
  },
  step: 7,
  saved_at: 1_767_225_600,
};

// The shell's domain copy, simulated: every mailbox runs the scenario's
// views, two at a time; the whole timeline is kept in sessionStorage, so
// a reloaded page finds the copy still running (the shell owns it).
interface Timed { at: number; view: DomainView; members: RunView[] }
interface MockDomain { id: number; startedAt: number; timeline: Timed[] }
const STORE = "mock-domain";
const loadDomain = (): MockDomain | null => JSON.parse(sessionStorage.getItem(STORE) ?? "null");
const saveDomain = (d: MockDomain) => sessionStorage.setItem(STORE, JSON.stringify(d));
const STEP = scenario === "reattach" ? 250 : 60;
const AT_ONCE = 2;

/** A mailbox's views after its start, each with its delay from the one before. */
function memberViews(run: number, from = 0, resumed = false): [number, RunView][] {
  const all = views().map((v) => ({ ...v, id: run }));
  if (scenario === "damaged" && !resumed) {
    const failed: RunView = {
      ...all[0], state: "failed",
      error: err("ProgressDamaged",
        "MailFerry's progress file for this mailbox is damaged, so it can't tell what was already copied. Rebuild it from both servers and continue (nothing is copied twice), or start over.",
        "database disk image is malformed"),
    };
    return [[STEP, all[0]], [STEP, failed]];
  }
  if (scenario === "lost" && !resumed) {
    const failed: RunView = {
      ...all[4], state: "failed",
      error: err("ConnectionLost",
        "The connection to imap.gmail.com was closed while copying messages. Check your internet connection and try again; if it keeps happening, the server may be limiting connections.",
        "connection reset by peer"),
    };
    return [...all.slice(0, 5).map((v) => [STEP, v] as [number, RunView]), [STEP, failed]];
  }
  const out: [number, RunView][] = [];
  all.slice(from).forEach((view, i, list) => {
    // A throttled run holds its wait for 1.5 s, for the screen to show it.
    const held = i > 0 && list[i - 1].waiting_until_ms !== null ? 1500 : 0;
    out.push([STEP + held, view]);
  });
  out.push([100, { ...all[all.length - 1], state: "finished" }]);
  return out;
}

/** The domain's view from its mailboxes' views, as the shell computes it. */
function domainView(base: DomainView, members: RunView[]): DomainView {
  const states = members.map((v) => v.state);
  const first = (want: (s: string) => boolean) => states.findIndex(want);
  let current = first((s) => s === "starting" || s === "copying");
  if (current < 0) current = first((s) => s === "waiting");
  if (current < 0) current = first((s) => s !== "finished");
  if (current < 0) current = 0;
  const running = states.some((s) => s === "waiting" || s === "starting" || s === "copying");
  const state = running ? "copying" : states.every((s) => s === "finished") ? "finished"
    : states.includes("failed") ? "failed" : states.includes("cancelled") ? "cancelled" : "paused";
  const mailboxes: DomainMailbox[] = base.mailboxes.map((m, i) => ({
    ...m,
    state: members[i].state,
    to_copy: members[i].folders.reduce((a, f) => a + f.to_copy, 0),
    copied: members[i].folders.reduce((a, f) => a + f.copied, 0),
  }));
  return { ...base, state, mailboxes, current, current_view: members[current] };
}

/** Runs the members (from `members`' views, those in `which`) two at a time, from `t0`. */
function schedule(base: DomainView, members: RunView[], which: number[], t0: number, from = 0, resumed = false): Timed[] {
  const timeline: Timed[] = [];
  const events: { at: number; member: number; view: RunView }[] = [];
  const slots = Array(AT_ONCE).fill(t0);
  for (const i of which) {
    const slot = slots.indexOf(Math.min(...slots));
    let at = slots[slot];
    for (const [delay, view] of memberViews(base.mailboxes[i].run, from, resumed)) {
      at += delay;
      events.push({ at, member: i, view });
    }
    slots[slot] = at;
  }
  events.sort((a, b) => a.at - b.at);
  const now = [...members];
  for (const e of events) {
    now[e.member] = e.view;
    timeline.push({ at: e.at, view: domainView(base, now), members: [...now] });
  }
  return timeline;
}

let runIds = 0;
function startDomain(pairs: PairHandles[], stage: CopyStage): number {
  const previous = loadDomain();
  const id = (previous?.id ?? 0) + 1;
  const waiting = (run: number): RunView => ({ id: run, state: "waiting", folders: [], refused: [], error: null, elapsed_ms: 0, recent: [], waiting_until_ms: null, waiting_reason: null });
  const server = (host: string, port: number): Server => ({ host, port, security: "tls", trusted_fingerprint: null });
  const mailboxes: DomainMailbox[] = pairs.map((p) => ({
    source_user: users.get(p.source) ?? "?",
    destination_user: users.get(p.destination) ?? "?",
    source: p.source,
    destination: p.destination,
    run: ++runIds + 100 * id,
    state: "waiting",
    to_copy: 0,
    copied: 0,
  }));
  const members = mailboxes.map((m) => waiting(m.run));
  const base: DomainView = {
    id, state: "copying", mailboxes, current: 0, current_view: members[0], at_once: AT_ONCE, stage,
    source: server("imap.gmail.com", 993), destination: server("outlook.office365.com", 993),
  };
  const timeline = [{ at: 0, view: domainView(base, members), members }, ...schedule(base, members, members.map((_, i) => i), 0)];
  saveDomain({ id, startedAt: Date.now(), timeline });
  return id;
}

/** Resume: the mailboxes not finished go on from where their views stopped. */
function resumeDomain() {
  const d = loadDomain();
  if (!d) return;
  const elapsed = Date.now() - d.startedAt;
  const { view: last, members } = d.timeline.filter((t) => t.at <= elapsed).at(-1)!;
  const todo = last.mailboxes.flatMap((m, i) => (m.state === "finished" ? [] : [i]));
  const from = scenario === "lost" ? 5 : 0;
  d.timeline = d.timeline.filter((t) => t.at <= elapsed).concat(schedule(last, members, todo, elapsed, from, true));
  saveDomain(d);
  for (const watcher of watchers) watcher();
}

const watchers: (() => void)[] = [];
function watchDomain(channel: number) {
  const internals = (window as any).__TAURI_INTERNALS__;
  let index = 0;
  let sent = -1;
  let timers: ReturnType<typeof setTimeout>[] = [];
  const plan = () => {
    timers.forEach(clearTimeout);
    const d = loadDomain()!;
    const elapsed = Date.now() - d.startedAt;
    const now = d.timeline.filter((t) => t.at <= elapsed).length - 1;
    const send = (i: number) => {
      if (i <= sent) return;
      sent = i;
      internals.runCallback(channel, { index: index++, message: d.timeline[i].view });
    };
    send(now);
    timers = d.timeline.flatMap((t, i) => (i > now ? [setTimeout(() => send(i), t.at - elapsed)] : []));
  };
  watchers.push(plan);
  plan();
}

mockWindows("main");
mockIPC(async (cmd, args) => {
  const a = (args ?? {}) as Record<string, any>;
  switch (cmd) {
    case "provider_presets": return presets;
    case "demo_available": return scenario === "happy" || scenario === "reattach";
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
    case "folder_map":
      folderMapCalls.push(a.edits ?? null);
      return map(a.edits ?? null);
    case "start_domain_run": {
      const stage = a.stage as CopyStage;
      runStarts.push({ edits: stage.edits, skipLargerThan: stage.skip_larger_than, afterSwitch: stage.after_switch });
      return startDomain(a.pairs, stage);
    }
    case "current_domain_run": {
      const d = loadDomain();
      return d ? d.timeline.filter((t) => t.at <= Date.now() - d.startedAt).at(-1)!.view : null;
    }
    case "watch_domain":
      watchDomain((a.onUpdate as { id: number }).id);
      return null;
    case "start_run":
      runStarts.push({ edits: a.edits ?? null, skipLargerThan: a.skipLargerThan ?? null, afterSwitch: a.afterSwitch ?? null });
      return runStarts.length;
    case "watch_run": {
      // Single runs: the app copies through the domain's copy; a view for completeness.
      const channel = a.onUpdate as { id: number };
      const last = views().at(-1)!;
      (window as any).__TAURI_INTERNALS__.runCallback(channel.id, { index: 0, message: { ...last, id: a.run, state: "finished" } });
      return null;
    }
    case "read_mailbox_list": return readList(a.text);
    case "add_mailbox": return mailboxRow(0, a.sourceUser, a.destinationUser, a.sourcePassword || null);
    case "load_job": return scenario === "resume" ? savedJob : null;
    case "save_job": (window as any).__savedJobs.push(a.job); return null;
    case "forget_job": return null;
    case "open_app_password_page": (window as any).__openedPages.push(a.preset); return null;
    case "oauth_providers": return scenario === "oauth" || ownClient ? ["google", "microsoft"] : [];
    case "set_oauth_client": ownClient = a.id !== ""; return ownClient ? ["google", "microsoft"] : [];
    case "sign_in_oauth":
      await new Promise((r) => setTimeout(r, 300)); // the user in the browser
      users.set(++handles, a.user);
      return { account: handles, checklist: { passed: ALL, failure: null, warnings: [], folders: 9 }, kept: "keychain" };
    case "sign_in_saved":
      if (scenario !== "resume" || a.user === "office@example.com") return null;
      users.set(++handles, a.user);
      return { account: handles, checklist: { passed: ALL, failure: null, warnings: [], folders: 9 }, kept: "keychain" };
    case "resume_run":
      resumes.push({ run: a.run, rebuildProgress: a.rebuildProgress ?? null });
      resumeDomain();
      return null;
    case "pause_run": case "cancel_run": return null;
    case "verify": return verification();
    case "check_mx": {
      const domain = String(a.domain).split("@").pop()!.trim().toLowerCase();
      if (!domain.includes(".") || domain.includes(" ")) {
        throw err("InvalidInput", "Enter your domain, the part of your address after the @ (like example.com).");
      }
      const low = domain === "lowttl.example";
      const answer: MxCheck = {
        domain,
        records: [{ preference: 1, host: "aspmx.l.google.com" }, { preference: 5, host: "alt1.aspmx.l.google.com" }],
        ttl_secs: low ? 300 : 86_400,
        ttl_low: low,
        authoritative: true,
        advice: low
          ? "The records' time to live is 5 minutes: low enough. When the copy has caught up, point the MX records at your new provider."
          : "The records' time to live is 24 hours. At your DNS host, lower it to 5 minutes at least 48 hours before you switch, so the change reaches everyone quickly.",
      };
      return answer;
    }
    case "save_report":
      return a.html ? "/home/owner/Downloads/MailFerry report 2026-11-26.html" : "/home/owner/Downloads/MailFerry report 2026-11-26.txt";
    case "search_log":
      return [{ folder: "INBOX", destination: "INBOX", subject: "Order 5 (INBOX)", from: "Customer 5 <customer5@example.net>", date: "06 Mar 2024 10:05:00 +0100", fate: "copied" }];
    default:
      throw err("Internal", `The mock has no answer for ${cmd}`);
  }
});

await import("../src/main");
