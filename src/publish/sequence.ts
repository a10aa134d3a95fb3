/**
 * Manifest sequences: integers that strictly increase per (app, env, kind).
 * Publishers use `max(now in ms, previous + 1)`, so two publishes within the same millisecond,
 * or on a host whose clock went backwards, still move forward.
 */

/** The next sequence after every one given (undefined ones are ignored). */
export function nextSequence(now: number, ...previous: ReadonlyArray<number | undefined>): number {
  let next = Math.floor(now);
  for (const p of previous) if (p !== undefined && p + 1 > next) next = p + 1;
  return next;
}

/** The sequence a history key names (`<historyPrefix><sequence>.json`), or undefined. */
export function historyKeySequence(historyPrefix: string, key: string): number | undefined {
  if (!key.startsWith(historyPrefix)) return undefined;
  const match = /^(\d{1,16})\.json$/.exec(key.slice(historyPrefix.length));
  if (match === null) return undefined;
  const n = Number(match[1]);
  return Number.isSafeInteger(n) ? n : undefined;
}
