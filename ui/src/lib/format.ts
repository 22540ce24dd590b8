// Numbers as people read them: thousands separators, MB and GB, minutes.
const whole = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const one = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

export function count(n: number): string {
  return whole.format(n);
}

export function plural(n: number, word: string, words = word + "s"): string {
  return `${count(n)} ${n === 1 ? word : words}`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${count(n)} bytes`;
  if (n < 1024 ** 2) return `${one.format(n / 1024)} KB`;
  if (n < 1024 ** 3) return `${one.format(n / 1024 ** 2)} MB`;
  return `${one.format(n / 1024 ** 3)} GB`;
}

export function duration(seconds: number): string {
  if (!isFinite(seconds) || seconds < 0) return "";
  if (seconds < 60) return "less than a minute";
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return plural(minutes, "minute");
  const hours = Math.round(minutes / 60);
  if (hours < 48) return plural(hours, "hour");
  return plural(Math.round(hours / 24), "day");
}

/** A run's state in words, as the copy screen and the mailbox list say it. */
export const RUN_STATE_WORDS: Record<string, string> = {
  waiting: "Waiting",
  starting: "Getting ready",
  copying: "Copying",
  paused: "Paused",
  cancelled: "Stopped",
  finished: "Done",
  failed: "Stopped by a problem",
};
