// Several mailboxes: the pairs after the first, and the copy of the whole
// domain. The shell owns that copy (one call starts every pair, several
// mailboxes at once within the providers' connection caps); the window
// only watches it, and a reloaded window re-attaches to it.
//
// No password is kept here: a pasted list or a typed password goes to the
// shell in one call and the window keeps the handles it gets back.
import {
  api,
  asIpcError,
  type DirectoryList,
  type MailboxChoice,
  type FolderEdits,
  type IpcError,
  type MailboxRow,
  type PairHandles,
  type PairNames,
  type DomainView,
  type RunState,
  type SavedPair,
} from "./api";
import { moves, movedPairs, wizard, type MailboxPair } from "./wizard.svelte";
import { plan, restorePlan, type StageKey } from "./plan.svelte";

/** The first pair (from "Sign in") and every other one, as names. */
export function pairNames(): PairNames[] {
  const first = { source_user: wizard.source.user.trim(), destination_user: wizard.destination.user.trim() };
  return [first, ...wizard.mailboxes.map((p) => ({ source_user: p.source_user, destination_user: p.destination_user }))];
}

/** The pair still needs a side signed in (a row from the directory waiting for a password). */
const waiting = (p: MailboxPair) => p.source === null || p.destination === null;

/**
 * The pairs a pasted list may not repeat: a row from the directory not
 * fully signed in yet may come again, with its passwords (see `addRows`).
 */
export function takenNames(): PairNames[] {
  const [first, ...others] = pairNames();
  return [first, ...others.filter((_, i) => !waiting(wizard.mailboxes[i]))];
}

export function pairOf(row: MailboxRow): MailboxPair {
  return {
    source_user: row.source_user,
    destination_user: row.destination_user,
    source: row.source,
    destination: row.destination,
    source_error: row.source_error,
    destination_error: row.destination_error,
    run: null,
    view: null,
    copied: false,
    decision: "move",
    flags: [],
    name: null,
    admin: false,
    storage: null,
    storage_bytes: null,
  };
}

/** A pair known by its names only (nothing signed in yet). */
export function namedPair(source_user: string, destination_user: string): MailboxPair {
  return pairOf({
    line: 0,
    source_user,
    destination_user,
    problem: null,
    source: null,
    destination: null,
    source_error: null,
    destination_error: null,
  });
}

/**
 * Adds the organisation's mailboxes from its directory (not signed in
 * yet: see `signInListed`), each with the decision the shell suggests:
 * move, or leave for a flagged one. Returns the rows added.
 */
export function addDirectory(list: DirectoryList): MailboxPair[] {
  const start = wizard.mailboxes.length;
  for (const p of list.people) {
    wizard.mailboxes.push({
      ...namedPair(p.address, p.destination_user),
      decision: p.decision,
      flags: p.flags,
      name: p.name,
      storage: p.storage,
      storage_bytes: p.storage_bytes,
    });
  }
  // The window's own (reactive) rows, to sign in in place.
  return wizard.mailboxes.slice(start);
}

/**
 * Signs in these listed mailboxes at the old server with the
 * administrator sign-in that read the list: no password each. A mailbox
 * that does not sign in says why on its row (and takes a password there).
 * When the shell signs in none (it no longer has the sign-in, or the old
 * server is not the directory's provider), the answer says why, once.
 */
export async function signInListed(pairs: MailboxPair[]): Promise<IpcError | null> {
  const waiting = pairs.filter((p) => p.source === null);
  if (waiting.length === 0) return null;
  try {
    const rows = await api.signInListed($state.snapshot(wizard.source.server), waiting.map((p) => p.source_user));
    for (const row of rows) {
      const pair = waiting.find((p) => p.source_user === row.source_user);
      if (!pair) continue;
      pair.source = row.source;
      pair.source_error = row.source_error;
      pair.admin = row.source !== null;
    }
  } catch (e) {
    // Each row asks for its password instead.
    wizard.adminSignIn = false;
    return asIpcError(e);
  }
  return null;
}

/** The pairs after the first as a saved job keeps them (names, decisions, flags; no account). */
export function restoredPairs(saved: SavedPair[]): MailboxPair[] {
  return saved.map((p) => ({
    ...namedPair(p.source_user, p.destination_user),
    copied: p.copied,
    decision: p.decision ?? "move",
    flags: p.flags,
    name: p.name,
    admin: p.admin,
    storage: p.storage,
    storage_bytes: p.storage_bytes,
  }));
}

/**
 * Signs the pairs in again after a restart or a reload, without asking:
 * the administrator sign-in for the rows it signed in (while the shell
 * still has it), the keychain's passwords for the others. A side that
 * cannot be signed in waits for the user on its row.
 */
export async function signInAgain(pairs: MailboxPair[]) {
  const byAdmin = pairs.filter((p) => p.admin && p.source === null);
  for (const p of byAdmin) p.admin = false;
  if (byAdmin.length > 0) {
    wizard.adminSignIn = true;
    const refused = await signInListed(byAdmin.filter((p) => p.decision !== "leave"));
    // Said on each row it was for (the shell was restarted: "no longer has").
    if (refused) for (const p of byAdmin) p.source_error = refused;
  }
  for (const pair of pairs) {
    for (const side of ["source", "destination"] as const) {
      if (pair[side] !== null) continue;
      const user = side === "source" ? pair.source_user : pair.destination_user;
      const signed = await api.signInSaved($state.snapshot(wizard[side].server), user).catch(() => null);
      if (signed?.account != null) {
        pair[side] = signed.account;
        if (side === "source") pair.source_error = null;
      }
    }
  }
}

/** Signs out a row's administrator sign-in, so its own password can be typed instead. */
export function usePasswordInstead(pair: MailboxPair) {
  if (pair.source !== null) api.forgetAccount(pair.source).catch(() => {});
  pair.source = null;
  pair.source_error = null;
  pair.admin = false;
}

/** Every mailbox and its decision, as the report lists them. */
export function choices(): MailboxChoice[] {
  return [
    { source_user: wizard.source.user.trim(), decision: wizard.firstKeep ? "move_and_keep" : "move", flags: [] },
    ...wizard.mailboxes.map((p) => ({ source_user: p.source_user, decision: p.decision, flags: p.flags })),
  ];
}

/** Tells the shell the decisions (for the report); a failure changes nothing on screen. */
export function sendChoices() {
  api.setDecisions(choices()).catch(() => {});
}

/** Adds the good rows to the list; returns the rows that were not added. */
export function addRows(rows: MailboxRow[]): MailboxRow[] {
  for (const row of rows) {
    if (row.problem !== null) continue;
    // A row of the directory's list, now with its passwords: signed in in place.
    const listed = wizard.mailboxes.find(
      (p) => p.source_user.toLowerCase() === row.source_user.toLowerCase() && waiting(p),
    );
    if (listed) {
      // A side already signed in (by the administrator sign-in) stays as it is.
      const kept = (side: "source" | "destination") => {
        if (listed[side] === null) return { [side]: row[side], [`${side}_error`]: row[`${side}_error`] };
        if (row[side] !== null) api.forgetAccount(row[side]).catch(() => {});
        return {};
      };
      Object.assign(listed, { destination_user: row.destination_user, ...kept("source"), ...kept("destination") });
    } else wizard.mailboxes.push(pairOf(row));
  }
  return rows.filter((r) => r.problem !== null);
}

export function removePair(index: number) {
  const [pair] = wizard.mailboxes.splice(index, 1);
  for (const account of [pair?.source, pair?.destination]) {
    if (account !== null && account !== undefined) api.forgetAccount(account).catch(() => {});
  }
}

export function errorOf(pair: MailboxPair, side: "source" | "destination"): IpcError | null {
  return side === "source" ? pair.source_error : pair.destination_error;
}

function setError(pair: MailboxPair, side: "source" | "destination", error: IpcError | null) {
  if (side === "source") pair.source_error = error;
  else pair.destination_error = error;
}

/** Signs in one side of a pair with a password typed on its row. */
export async function signInPair(pair: MailboxPair, side: "source" | "destination", password: string) {
  const server = $state.snapshot(wizard[side].server);
  const user = side === "source" ? pair.source_user : pair.destination_user;
  try {
    const result = await api.signIn(server, user, password);
    pair[side] = result.account;
    setError(pair, side, result.checklist.failure?.error ?? null);
  } catch (e) {
    setError(pair, side, asIpcError(e));
  }
}

/** One mailbox of the domain's copy, as the copy screen lists it. */
export interface Leg {
  label: string;
  run: number | null;
  /** Its copy's state; null before this session copied it. */
  state: RunState | null;
  toCopy: number;
  copied: number;
  /** Copied in an earlier session or stage. */
  copiedEarlier: boolean;
  /** The one the copy screen shows. */
  current: boolean;
}

/** The domain's copy as the shell last showed it. */
export const domain = $state({
  view: null as DomainView | null,
  /** A copy is being started (its first view has not come yet). */
  starting: false,
  error: null as IpcError | null,
});

const label = (source: string, destination: string) => `${source} → ${destination}`;

/** Every pair, first pair first, with its copy when there is one. */
export function legs(): Leg[] {
  const view = domain.view;
  const pairs = [
    { label: label(wizard.source.user, wizard.destination.user), copiedEarlier: wizard.firstCopied },
    ...movedPairs().map((p) => ({ label: label(p.source_user, p.destination_user), copiedEarlier: p.copied })),
  ];
  return pairs.map((pair) => {
    const i = view ? view.mailboxes.findIndex((m) => label(m.source_user, m.destination_user) === pair.label) : -1;
    const m = i >= 0 ? view!.mailboxes[i] : null;
    return {
      label: pair.label,
      run: m?.run ?? null,
      state: m?.state ?? null,
      toCopy: m?.to_copy ?? 0,
      copied: m?.copied ?? 0,
      copiedEarlier: pair.copiedEarlier,
      current: !!view && i === view.current && copying(),
    };
  });
}

/** The domain's copy is going on (or being started). */
export function copying(): boolean {
  return domain.starting || domain.view?.state === "copying" || domain.view?.state === "starting" || domain.view?.state === "waiting";
}

/** Takes in the shell's latest view of the domain's copy. */
function show(view: DomainView) {
  if (domain.view !== null && domain.view.id !== view.id) return; // an earlier copy's watcher
  domain.view = view;
  // The check screen shows the mailbox the user picked there.
  if (wizard.step !== 8) {
    wizard.run = view.mailboxes[view.current].run;
    wizard.view = view.current_view;
  }
  view.mailboxes.forEach((m, i) => {
    const done = m.state === "finished";
    if (i === 0) {
      wizard.firstCopied = done;
      return;
    }
    const pair = wizard.mailboxes.find((p) => p.source_user === m.source_user && p.destination_user === m.destination_user);
    if (pair) {
      pair.run = m.run;
      pair.copied = done;
    }
  });
}

async function watch(view: DomainView) {
  domain.view = view;
  show(view);
  await api.watchDomain(view.id, show);
}

/**
 * Copies every pair whose accounts are signed in: one call to the shell,
 * which copies them several at once and streams the domain's view. Each
 * pair continues from its progress file, so what arrived before is not
 * copied twice.
 */
export async function copyAll(stage: {
  edits: FolderEdits;
  skipLargerThan: number | null;
  afterSwitch: boolean;
  label: StageKey;
}) {
  if (copying()) return;
  if (wizard.source.account === null || wizard.destination.account === null) return;
  domain.error = null;
  domain.starting = true;
  wizard.verification = null;
  const pairs: PairHandles[] = [
    { source: wizard.source.account, destination: wizard.destination.account },
    ...movedPairs().flatMap((p) =>
      p.source !== null && p.destination !== null ? [{ source: p.source, destination: p.destination }] : [],
    ),
  ];
  try {
    const id = await api.startDomainRun(pairs, {
      edits: stage.edits,
      skip_larger_than: stage.skipLargerThan,
      after_switch: stage.afterSwitch,
      label: stage.label,
    });
    domain.view = null;
    await api.watchDomain(id, (view) => {
      domain.view ??= view;
      show(view);
    });
  } catch (e) {
    domain.error = asIpcError(e);
  } finally {
    domain.starting = false;
  }
}

/**
 * A reloaded or reopened window: if the shell has a domain copy (running,
 * or the last one), the wizard comes back on the copy screen and watches
 * it. Returns whether it did.
 */
export async function reattach(): Promise<boolean> {
  const view = await api.currentDomainRun().catch(() => null);
  if (!view || view.mailboxes.length === 0) return false;
  const [first, ...others] = view.mailboxes;
  for (const [side, server, user, account] of [
    ["source", view.source, first.source_user, first.source],
    ["destination", view.destination, first.destination_user, first.destination],
  ] as const) {
    const s = wizard[side];
    s.preset = wizard.presets.find((p) => p.host === server.host) ?? null;
    s.server = server;
    s.user = user;
    s.account = account;
  }
  wizard.mailboxes = others.map((m) => ({
    ...pairOf({
      line: 0,
      source_user: m.source_user,
      destination_user: m.destination_user,
      problem: null,
      source: m.source,
      destination: m.destination,
      source_error: null,
      destination_error: null,
    }),
    run: m.run,
    copied: m.state === "finished",
  }));
  // The plan and the decisions as saved with the job, if it is this one's;
  // the stage copying now is the shell's.
  const saved = await api.loadJob().catch(() => null);
  if (saved && saved.source.user === first.source_user && saved.source.server.host === view.source.host) {
    restorePlan(saved.folder_map);
    wizard.firstKeep = saved.first_keep;
    // Each copied pair gets its decision back; the ones kept as files or
    // left (not in the copy) come back as they were decided.
    const same = (a: PairNames, b: PairNames) =>
      a.source_user.toLowerCase() === b.source_user.toLowerCase() && a.destination_user.toLowerCase() === b.destination_user.toLowerCase();
    const restored = restoredPairs(saved.mailboxes);
    const copying = wizard.mailboxes;
    wizard.mailboxes = restored.map((r) => {
      const c = copying.find((m) => same(m, r));
      if (!c) return r;
      const { source, destination, run, view, copied } = c;
      return { ...r, source, destination, run, view, copied, decision: moves(r.decision) ? r.decision : "move" };
    });
    wizard.mailboxes.push(...copying.filter((c) => !restored.some((r) => same(r, c))));
    await signInAgain(wizard.mailboxes);
  }
  wizard.saved = null;
  plan.edits = view.stage.edits;
  const stage = view.stage.label as StageKey | null;
  if (stage) {
    plan.stage = stage;
    plan.running = stage;
  }
  wizard.step = 7;
  await watch(view);
  return true;
}

/** Shows the check of another mailbox's copy. */
export async function checkMailbox(run: number) {
  wizard.run = run;
  wizard.verification = null;
  wizard.verification = await api.verify(run);
}
