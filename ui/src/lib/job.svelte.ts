// The job's settings between launches: saved (without any secret) as the
// user goes, offered back at the next start as "Continue where you left
// off". Signing in again uses the keychain when the shell kept the
// passwords there; a copy that was interrupted continues from its progress
// file when it is started again (nothing is copied twice).
import { api, type SavedJob } from "./api";
import { choosePreset, wizard, type SideName } from "./wizard.svelte";
import { plan, restorePlan } from "./plan.svelte";
import { restoredPairs, signInAgain } from "./mailboxes.svelte";

/** The settings as they are now (no password: the wizard holds none). */
export function currentJob(): SavedJob {
  const side = (name: SideName) => ({
    preset: wizard[name].preset?.id ?? null,
    server: $state.snapshot(wizard[name].server),
    user: wizard[name].user,
  });
  return {
    source: side("source"),
    destination: side("destination"),
    first_copied: wizard.firstCopied,
    first_keep: wizard.firstKeep,
    mailboxes: wizard.mailboxes.map((p) => ({
      source_user: p.source_user,
      destination_user: p.destination_user,
      copied: p.copied || p.view?.state === "finished",
      decision: p.decision,
      flags: $state.snapshot(p.flags),
      name: p.name,
      admin: p.admin,
      storage: p.storage,
      storage_bytes: p.storage_bytes,
    })),
    // The folder-map edits and where the staged plan stands (not the
    // running copy, nor the DNS answer: both are asked again).
    folder_map: {
      edits: $state.snapshot(plan.edits),
      stage: plan.stage,
      done: $state.snapshot(plan.done),
      holdBig: plan.holdBig,
      bigDone: plan.bigDone,
      cutover: $state.snapshot(plan.cutover),
      domain: plan.domain,
    },
    step: wizard.step,
    saved_at: Math.floor(Date.now() / 1000),
  };
}

/** Whether there is anything worth saving (demo servers change every start). */
function worthSaving(): boolean {
  return wizard.demoPassword === null && wizard.saved === null && wizard.source.server.host.trim() !== "";
}

/** Saves the settings whenever they change (at most every half second, the latest always). */
export function keepSaved() {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let latest: SavedJob | null = null;
  $effect.root(() => {
    $effect(() => {
      const job = currentJob(); // read everything it depends on
      if (!worthSaving()) return;
      latest = job;
      timer ??= setTimeout(() => {
        timer = undefined;
        if (latest) api.saveJob(latest).catch(() => {});
      }, 500);
    });
  });
}

/**
 * Continues a saved job: the servers and mailboxes come back, each account
 * signs in from the keychain when it can, and the wizard opens on the
 * first step that still needs the user (Sign in when a password is missing).
 */
export async function continueJob(job: SavedJob) {
  for (const name of ["source", "destination"] as SideName[]) {
    const saved = job[name];
    const preset = wizard.presets.find((p) => p.id === saved.preset);
    if (preset) choosePreset(name, preset);
    wizard[name].server = saved.server;
    wizard[name].user = saved.user;
  }
  restorePlan(job.folder_map);
  wizard.firstCopied = job.first_copied;
  wizard.firstKeep = job.first_keep;
  wizard.mailboxes = restoredPairs(job.mailboxes);
  wizard.saved = null;
  // Connect (no password sent), then sign in from the keychain.
  for (const name of ["source", "destination"] as SideName[]) {
    const s = wizard[name];
    try {
      s.probe = await api.probeServer($state.snapshot(s.server));
      if (s.probe.failure) continue;
      const signed = await api.signInSaved($state.snapshot(s.server), s.user);
      if (signed) {
        s.signIn = signed.checklist;
        s.account = signed.account;
        s.kept = signed.kept;
      }
    } catch {
      // The screens say what is wrong when the user gets there.
    }
  }
  await signInAgain(wizard.mailboxes);
  const connectedBoth = !!wizard.source.probe && !wizard.source.probe.failure && !!wizard.destination.probe && !wizard.destination.probe.failure;
  const signedBoth = wizard.source.account !== null && wizard.destination.account !== null;
  // Scan, folder map and copy are read again from the servers, so the
  // furthest the wizard reopens is Mailboxes.
  wizard.step = !connectedBoth ? 2 : !signedBoth ? 3 : Math.min(Math.max(job.step, 4), 4);
}

/** Forgets the saved job ("Start a new migration"). */
export async function startAfresh() {
  wizard.saved = null;
  await api.forgetJob().catch(() => {});
}
