// The folder map's edits and the copy's staged plan: what the user decided
// on screens 6 and 7, next to the wizard's state (wizard.svelte.ts).
import type { FolderEdits, MxCheck } from "./api";

export type StageKey = "bulk" | "delta" | "large" | "switch" | "final";

export interface Stage {
  key: StageKey;
  title: string;
  /** What the stage does, in a sentence. */
  about: string;
  /** The stage is a copy (the switch is a checklist). */
  copies: boolean;
}

export const STAGES: Stage[] = [
  {
    key: "bulk",
    title: "Copy everything now",
    about: "Copies all your mail while you keep using the old account. Big messages can wait for their own pass.",
    copies: true,
  },
  {
    key: "delta",
    title: "Catch up",
    about: "Copies only what arrived or changed since the last copy. Run it as often as you like.",
    copies: true,
  },
  {
    key: "large",
    title: "Big messages",
    about: "Copies the big messages the first copy left for later.",
    copies: true,
  },
  {
    key: "switch",
    title: "Switch your domain",
    about: "Point your domain's mail at the new provider, with the checklist below.",
    copies: false,
  },
  {
    key: "final",
    title: "Final catch-up",
    about: "After the switch: copies the last messages that reached the old account.",
    copies: true,
  },
];

/** Messages over this size wait for the big-message pass (when the user chose so). */
export const BIG_MESSAGE_BYTES = 10 * 1024 * 1024;

export const CUTOVER_STEPS = [
  { key: "ttl", text: "At your DNS host, lower the time to live (TTL) of your mail records (MX) to 5 minutes, at least 48 hours before the switch." },
  { key: "mx", text: "Point the MX records at your new provider (their setup page gives the exact values)." },
  { key: "wait", text: "Wait for the old time to live to pass, so all mail goes to the new provider." },
  { key: "final", text: "Run the final catch-up below, then check the result." },
] as const;

export const plan = $state({
  edits: { renames: [], excluded: [], included: [], merge: false } as FolderEdits,
  /** The stage the copy screen shows. */
  stage: "bulk" as StageKey,
  /** The stage the running copy belongs to. */
  running: null as StageKey | null,
  done: {} as Partial<Record<StageKey, boolean>>,
  /** The first copy leaves big messages for their own pass. */
  holdBig: true,
  /** The big messages were copied (later copies take everything). */
  bigDone: false,
  cutover: {} as Record<string, boolean>,
  domain: "",
  mx: null as MxCheck | null,
});

/** Bytes this copy skips, or null for everything. */
export function skipLargerThan(stage: StageKey): number | null {
  if (stage === "bulk" || stage === "delta") return plan.holdBig && !plan.bigDone ? BIG_MESSAGE_BYTES : null;
  return null;
}

export function editCount(): number {
  return plan.edits.renames.length + plan.edits.excluded.length + plan.edits.included.length + (plan.edits.merge ? 1 : 0);
}

/** Removes every edit of one source folder. */
export function clearEdit(source: string) {
  plan.edits.renames = plan.edits.renames.filter(([s]) => s !== source);
  plan.edits.excluded = plan.edits.excluded.filter((s) => s !== source);
  plan.edits.included = plan.edits.included.filter((s) => s !== source);
}

export function rename(source: string, target: string) {
  plan.edits.renames = [...plan.edits.renames.filter(([s]) => s !== source), [source, target]];
}

export function exclude(source: string) {
  clearEdit(source);
  plan.edits.excluded = [...plan.edits.excluded, source];
}

export function include(source: string) {
  const wasExcludedByUser = plan.edits.excluded.includes(source);
  clearEdit(source);
  if (!wasExcludedByUser) plan.edits.included = [...plan.edits.included, source];
}

export function editOf(source: string): string | null {
  const r = plan.edits.renames.find(([s]) => s === source);
  if (r) return `renamed by you`;
  if (plan.edits.excluded.includes(source)) return "left out by you";
  if (plan.edits.included.includes(source)) return "brought back by you";
  return null;
}

/** Puts a saved plan back (a job saved by an older version has none). */
export function restorePlan(saved: unknown) {
  if (!saved || typeof saved !== "object" || !("edits" in saved)) return;
  const p = saved as Partial<typeof plan> & { stage?: StageKey };
  if (p.edits) plan.edits = p.edits;
  if (p.stage) plan.stage = p.stage;
  if (p.done) plan.done = p.done;
  if (typeof p.holdBig === "boolean") plan.holdBig = p.holdBig;
  if (typeof p.bigDone === "boolean") plan.bigDone = p.bigDone;
  if (p.cutover) plan.cutover = p.cutover;
  if (typeof p.domain === "string") plan.domain = p.domain;
}
