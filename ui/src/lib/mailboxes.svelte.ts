// Several mailboxes: the pairs after the first, and the copy of every pair
// one after the other (sequentially: one mailbox's copy finishes before the
// next one starts, so each provider sees one copy at a time).
//
// No password is kept here: a pasted list or a typed password goes to the
// shell in one call and the window keeps the handles it gets back.
import {
  api,
  asIpcError,
  type FolderEdits,
  type IpcError,
  type MailboxRow,
  type PairNames,
  type RunView,
} from "./api";
import { wizard, type MailboxPair } from "./wizard.svelte";

/** The first pair (from "Sign in") and every other one, as names. */
export function pairNames(): PairNames[] {
  const first = { source_user: wizard.source.user.trim(), destination_user: wizard.destination.user.trim() };
  return [first, ...wizard.mailboxes.map((p) => ({ source_user: p.source_user, destination_user: p.destination_user }))];
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
  };
}

/** Adds the good rows to the list; returns the rows that were not added. */
export function addRows(rows: MailboxRow[]): MailboxRow[] {
  for (const row of rows) if (row.problem === null) wizard.mailboxes.push(pairOf(row));
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

/** One copy in the sequence, as the copy screen lists it. */
export interface Leg {
  label: string;
  run: number | null;
  view: RunView | null;
  copied: boolean;
}

/** Every pair's copy, first pair first. */
export function legs(): Leg[] {
  const first: Leg = {
    label: `${wizard.source.user} → ${wizard.destination.user}`,
    run: firstRun,
    view: sequence.index === 0 || sequence.index === null ? wizard.view : firstView,
    copied: wizard.firstCopied,
  };
  return [
    first,
    ...wizard.mailboxes.map((p) => ({
      label: `${p.source_user} → ${p.destination_user}`,
      run: p.run,
      view: p.view,
      copied: p.copied,
    })),
  ];
}

let firstView: RunView | null = $state(null);
let firstRun: number | null = $state(null);

/** Where the sequence is: the pair being copied (0 = the first), or null. */
export const sequence = $state({ index: null as number | null, error: null as IpcError | null });

function waitForEnd(run: number, onView: (view: RunView) => void): Promise<RunView> {
  // Paused or stopped by a problem: the user can resume the same run from
  // the copy screen, so only "finished" and "cancelled" end the wait.
  return new Promise((resolve, reject) => {
    api
      .watchRun(run, (view) => {
        onView(view);
        if (view.state === "finished" || view.state === "cancelled") resolve(view);
      })
      .catch(reject);
  });
}

/**
 * Copies every pair in turn, starting with the first not yet copied. The
 * current pair's run is `wizard.run`/`wizard.view`, so the copy screen's
 * own progress, pause and resume act on it.
 */
export async function copyAll(
  again = false,
  stage?: { edits?: FolderEdits; skipLargerThan?: number | null; afterSwitch?: boolean },
) {
  if (sequence.index !== null) return;
  sequence.error = null;
  wizard.verification = null;
  if (again) {
    wizard.firstCopied = false;
    for (const p of wizard.mailboxes) p.copied = false;
  }
  try {
    if (!wizard.firstCopied && wizard.source.account !== null && wizard.destination.account !== null) {
      sequence.index = 0;
      const run = await api.startRun(wizard.source.account, wizard.destination.account, stage);
      wizard.run = run;
      firstRun = run;
      const end = await waitForEnd(run, (view) => (wizard.view = view));
      firstView = end;
      if (end.state !== "finished") return;
      wizard.firstCopied = true;
    }
    for (let i = 0; i < wizard.mailboxes.length; i++) {
      const pair = wizard.mailboxes[i];
      if (pair.copied || pair.source === null || pair.destination === null) continue;
      sequence.index = i + 1;
      const run = await api.startRun(pair.source, pair.destination, stage);
      pair.run = run;
      wizard.run = run;
      const end = await waitForEnd(run, (view) => {
        pair.view = view;
        wizard.view = view;
      });
      if (end.state !== "finished") return;
      pair.copied = true;
    }
    // All done: the check starts with the first mailbox (the others are a click away).
    if (firstRun !== null && firstView !== null && wizard.mailboxes.length > 0) {
      wizard.run = firstRun;
      wizard.view = firstView;
    }
  } catch (e) {
    sequence.error = asIpcError(e);
  } finally {
    sequence.index = null;
  }
}

/** Shows the check of another mailbox's copy. */
export async function checkMailbox(run: number) {
  wizard.run = run;
  wizard.verification = null;
  wizard.verification = await api.verify(run);
}
