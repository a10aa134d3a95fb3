/**
 * The S3 source: a node-cron schedule with per-tick jitter,
 * and a poll that GETs each channel and pin with If-None-Match, so an unchanged poll costs one 304
 * per key and no body.
 */
import cron from 'node-cron';
import type { S3Client } from '@aws-sdk/client-s3';
import { HoistError, toHoistError } from '../errors.ts';
import { s3Keys } from '../aws/keys.ts';
import type { ManifestKind } from '../aws/keys.ts';
import { getObjectIfChanged } from '../aws/object-store.ts';
import { sleep } from '../util/sleep.ts';

export interface S3PollerOptions {
  /** node-cron expression, 6 fields with seconds (e.g. "*\/30 * * * * *"). */
  schedule: string;
  /** Each scheduled tick first waits a random delay in [0, jitterMs), so a fleet does not poll in step. */
  jitterMs: number;
  tick: (signal: AbortSignal) => Promise<void>;
  /** Aborting it stops the poller and is passed to every tick. */
  signal: AbortSignal;
  onError?: ((err: unknown) => void) | undefined;
  random?: (() => number) | undefined;
}

export interface S3Poller {
  /** Stops scheduling, cancels a pending jitter wait and waits for a running tick. Idempotent. */
  stop(): Promise<void>;
  /** Runs a tick now, without jitter; while one is already running, waits for that one instead. */
  runNow(): Promise<void>;
}

// node-cron logs to the console by default; stdout carries our JSON log lines, so keep it quiet.
const silentLogger = { info() {}, warn() {}, error() {}, debug() {} };

export function startS3Poller(options: S3PollerOptions): S3Poller {
  const { schedule, jitterMs, tick, signal, onError, random = Math.random } = options;
  if (!cron.validate(schedule)) {
    throw new HoistError('HOIST_CONFIG_INVALID', `source.s3.poll: ${JSON.stringify(schedule)} is not a valid node-cron expression (e.g. "*/30 * * * * *")`);
  }
  const stopping = new AbortController();
  let running: Promise<void> | undefined;
  let stopPromise: Promise<void> | undefined;

  const report = (err: unknown): void => {
    try {
      onError?.(err);
    } catch {
      // A failing error callback must not stop the poller either.
    }
  };

  const runTick = async (jitter: boolean): Promise<void> => {
    if (jitter && jitterMs > 0) {
      try {
        await sleep(Math.floor(random() * jitterMs), stopping.signal);
      } catch {
        return; // stopped while waiting: the tick never started
      }
    }
    if (stopping.signal.aborted) return;
    try {
      await tick(signal);
    } catch (err) {
      if (!signal.aborted) report(err);
    }
  };

  const start = (jitter: boolean): Promise<void> => {
    if (stopping.signal.aborted) return Promise.resolve();
    // Ticks never overlap: a tick fired while one runs is skipped (the running one is as fresh).
    if (running !== undefined) return running;
    const current = runTick(jitter);
    running = current;
    void current.finally(() => {
      if (running === current) running = undefined;
    });
    return current;
  };

  const task = cron.schedule(
    schedule,
    () => {
      // Return at once so node-cron never sees a long execution; overlap is handled in start().
      void start(true);
    },
    { logger: silentLogger, suppressMissedWarning: true, noOverlap: false },
  );

  const stop = (): Promise<void> => {
    stopPromise ??= (async () => {
      stopping.abort();
      signal.removeEventListener('abort', onAbort);
      await task.destroy();
      await running;
    })();
    return stopPromise;
  };
  const onAbort = (): void => {
    stop().catch(report);
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });

  return { stop, runNow: () => start(false) };
}

export interface PollTarget {
  app: string;
  env: string;
}

interface PollKey {
  key: string;
  kind: ManifestKind;
  app: string;
  env: string;
}

/**
 * One polled key that needs attention. `error` is per key so one unreadable object (too large,
 * access denied) does not hide a change to another; its ETag is left as it was, so it is retried.
 */
export type PollResult =
  | (PollKey & { status: 'changed'; body: Buffer })
  | (PollKey & { status: 'missing' })
  | (PollKey & { status: 'error'; error: HoistError });

export interface PollOptions {
  bucket: string;
  prefix: string;
  targets: PollTarget[];
  /** S3 key → ETag of the last body returned; read for If-None-Match and updated in place. */
  etags: Map<string, string>;
  maxBytes: number;
  signal?: AbortSignal | undefined;
}

/**
 * GETs every target's channel and pin in parallel, conditionally. Returns only the keys whose
 * content changed since the ETag in `etags`, and those that existed and are now gone ("missing";
 * a pin that never existed is normal and not reported). Unchanged keys are not in the result.
 */
export async function pollManifests(s3: S3Client, options: PollOptions): Promise<PollResult[]> {
  const { bucket, prefix, targets, etags, maxBytes, signal } = options;
  const keys = s3Keys(prefix);
  const polled: PollKey[] = [];
  const seen = new Set<string>();
  for (const { app, env } of targets) {
    for (const entry of [
      { key: keys.channel(app, env), kind: 'release' as const, app, env },
      { key: keys.pin(app, env), kind: 'pin' as const, app, env },
    ]) {
      if (seen.has(entry.key)) continue;
      seen.add(entry.key);
      polled.push(entry);
    }
  }
  const settled = await Promise.allSettled(
    polled.map((p) => getObjectIfChanged(s3, { bucket, key: p.key, etag: etags.get(p.key), maxBytes, signal })),
  );
  if (signal?.aborted) throw signal.reason;
  const results: PollResult[] = [];
  settled.forEach((outcome, i) => {
    const p = polled[i];
    if (p === undefined) return;
    if (outcome.status === 'rejected') {
      results.push({ ...p, status: 'error', error: toHoistError(outcome.reason, 'HOIST_S3') });
      return;
    }
    const value = outcome.value;
    if (value.status === 'ok') {
      if (value.etag === undefined) etags.delete(p.key);
      else etags.set(p.key, value.etag);
      results.push({ ...p, status: 'changed', body: value.body });
    } else if (value.status === 'missing' && etags.delete(p.key)) {
      results.push({ ...p, status: 'missing' });
    }
  });
  return results;
}
