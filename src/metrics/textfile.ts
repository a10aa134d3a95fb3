/**
 * `metrics.textfile`: the exposition text written for node_exporter's textfile collector, which
 * reads every `*.prom` file of its directory on each scrape. Written atomically (a temp file in
 * the same directory, renamed over the target: node_exporter never reads half a file; the temp
 * name starts with a dot and does not end in .prom, so it is never collected).
 *
 * When: at start, then after each change, but at most once every `minIntervalMs` (default 15 s,
 * node_exporter's usual scrape interval or less, so a reader never misses a state; the bursts of a
 * deploy are coalesced into one write), and a last time on close.
 */
import { writeFileAtomic } from '../fs/atomic.ts';
import { toHoistError } from '../errors.ts';
import type { Log } from '../agent/types.ts';

export const TEXTFILE_MIN_INTERVAL_MS = 15_000;

export interface TextfileWriter {
  /** Something changed: write now, or as soon as the interval allows. */
  changed(): void;
  /** Waits for a write in progress, writes what is pending, and stops; idempotent. */
  close(): Promise<void>;
}

export interface TextfileOptions {
  readonly path: string;
  readonly render: () => Promise<string>;
  readonly log: Pick<Log, 'warn' | 'info'>;
  readonly minIntervalMs?: number;
  readonly now?: () => number;
}

/** Writes the first file before it returns, so a path that cannot be written is known at start. */
export async function startTextfile(o: TextfileOptions): Promise<TextfileWriter> {
  const minInterval = o.minIntervalMs ?? TEXTFILE_MIN_INTERVAL_MS;
  const now = o.now ?? Date.now;
  await writeFileAtomic(o.path, await o.render(), { mode: 0o644 });
  let lastWrite = now();
  let dirty = false;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  /** The code of the last failed write, so a failing disk is logged once, not every write. */
  let failing: string | undefined;

  const write = async (): Promise<void> => {
    dirty = false;
    lastWrite = now();
    try {
      await writeFileAtomic(o.path, await o.render(), { mode: 0o644 });
      if (failing !== undefined) o.log.info({ path: o.path }, 'metrics textfile written again');
      failing = undefined;
    } catch (err) {
      const e = toHoistError(err);
      // the message names the random temp file: the code and errno say whether it is the same failure
      const why = `${e.code}:${String((e.cause as { code?: unknown } | undefined)?.code)}`;
      if (failing !== why) o.log.warn({ code: e.code, err: e.message, path: o.path }, 'cannot write the metrics textfile; trying again at the next change');
      failing = why;
    }
  };
  const run = (): void => {
    timer = undefined;
    if (writing !== undefined || !dirty) return;
    writing = write().finally(() => {
      writing = undefined;
      // changes that came in during the write
      if (dirty && !closed) schedule();
    });
  };
  const schedule = (): void => {
    if (timer !== undefined || writing !== undefined) return;
    const wait = Math.max(0, lastWrite + minInterval - now());
    // unref: a pending write never keeps the process alive; close() writes it
    timer = setTimeout(run, wait);
    timer.unref();
  };
  return {
    changed() {
      if (closed) return;
      dirty = true;
      schedule();
    },
    close() {
      closed = true;
      closing ??= (async () => {
        clearTimeout(timer);
        timer = undefined;
        await writing;
        if (dirty) await write();
      })();
      return closing;
    },
  };
}
