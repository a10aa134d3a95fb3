/**
 * Downloads an artifact from S3 into `<dir>/<sha256>.part`, hashing as it streams, and renames it
 * to the content-addressed cache file only once its size and SHA-256 match the signed manifest
 *. Transient failures are retried with backoff and jitter, resuming the
 * `.part` with an HTTP Range request; a stalled or trickling connection is abandoned by a
 * low-speed watchdog. Aborting leaves the `.part` for a later resume. Free space for the rest of
 * the artifact is checked before the first byte is requested, and a disk that fills up anyway
 * (ENOSPC) removes the `.part` (HOIST_NO_SPACE), so the agent can still write its state.
 */
import type { Hash } from 'node:crypto';
import { createHash } from 'node:crypto';
import { mkdir, open, rename, rm, stat, statfs } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { addAbortSignal } from 'node:stream';
import type { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { HoistError, isHoistError } from '../errors.ts';
import { httpStatus, isNotFound, isRetryable, wrapAwsError } from '../aws/errors.ts';
import { retry } from '../util/retry.ts';
import type { RetryInfo } from '../util/retry.ts';
import { formatBytes } from '../util/units.ts';
import { hashFile } from './hash-file.ts';
import { artifactPath, assertSha256, partPath } from './paths.ts';
import type { ArtifactFormat } from './paths.ts';
import { watchStall } from './stall.ts';

export { artifactPath, partPath, removeDownload } from './paths.ts';
export type { ArtifactFormat } from './paths.ts';

export interface DownloadProgress {
  readonly received: number;
  readonly total: number;
}

export interface DownloadOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly key: string;
  /** Signed digest, 64 lowercase hex digits. */
  readonly sha256: string;
  /** Signed size in bytes. */
  readonly size: number;
  readonly format: ArtifactFormat;
  /** `<stateDir>/downloads`, created when missing. */
  readonly dir: string;
  readonly signal?: AbortSignal;
  /** Total attempts (default 6). */
  readonly attempts?: number;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Window of the low-speed watchdog (default 30 s). */
  readonly stallTimeoutMs?: number;
  /** Bytes that must arrive within each window (default 1 KiB), so a 1 byte/s trickle is dropped. */
  readonly stallMinBytes?: number;
  /** Optional overall deadline of one attempt. */
  readonly attemptTimeoutMs?: number;
  readonly onProgress?: (progress: DownloadProgress) => void;
  readonly onRetry?: (info: RetryInfo) => void;
}

export interface DownloadResult {
  /** The verified artifact in the cache. */
  readonly path: string;
  /** Some attempt continued an existing `.part` with a Range request. */
  readonly resumed: boolean;
  /** The artifact was already cached (and verified again); no request was made. */
  readonly cached: boolean;
}

/** A body that ended early, or a resume that must start over: retryable. */
class ShortReadError extends Error {
  readonly code = 'HOIST_SHORT_READ' as const;
  constructor(message: string) {
    super(message);
    this.name = 'ShortReadError';
  }
}

/** The hash of what the `.part` holds, kept between attempts so a resume need not re-read it. */
interface PartState {
  hash: Hash;
  length: number;
}

interface Context {
  readonly options: DownloadOptions;
  readonly part: string;
  readonly final: string;
  readonly where: string;
  state: PartState | undefined;
  resumed: boolean;
  /** A digest mismatch after a resume already restarted the download from byte 0 once. */
  restarted: boolean;
  /** Feeds the current attempt's stall watchdog. */
  progress: (bytes: number) => void;
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function isNoSpace(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** Bytes an unprivileged writer may still add on the file system holding `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const fs = await statfs(dir);
  return fs.bavail * fs.bsize;
}

function ioError(err: unknown, what: string): unknown {
  if (isHoistError(err) || (err as Error | undefined)?.name === 'AbortError') return err;
  return new HoistError('HOIST_IO', `${what} failed: ${(err as Error).message}. Check free space and permissions of the downloads directory.`, { cause: err });
}

/** fsync the directory so the rename survives a power cut. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Verifies an existing cache file; a corrupt one is deleted. */
async function verifyCached(ctx: Context, signal: AbortSignal | undefined): Promise<boolean> {
  const { size, sha256 } = ctx.options;
  const existing = await fileSize(ctx.final);
  if (existing === undefined) return false;
  if (existing === size) {
    const { hash } = await hashFile(ctx.final, signal);
    if (hash.digest('hex') === sha256) return true;
  }
  await rm(ctx.final, { force: true });
  return false;
}

/** The hash of the current `.part` (reused from the last attempt when the length still agrees). */
async function partState(ctx: Context, signal: AbortSignal): Promise<PartState> {
  const length = await fileSize(ctx.part);
  if (length === undefined || length > ctx.options.size) {
    await rm(ctx.part, { force: true });
    return { hash: createHash('sha256'), length: 0 };
  }
  if (ctx.state !== undefined && ctx.state.length === length) return ctx.state;
  const { hash, size } = await hashFile(ctx.part, signal);
  return { hash, length: size };
}

/** Moves a complete, verified `.part` into the cache. */
async function commit(ctx: Context, state: PartState, handle: FileHandle | undefined): Promise<void> {
  const digest = state.hash.digest('hex');
  if (digest !== ctx.options.sha256) {
    ctx.state = undefined;
    await handle?.close();
    await rm(ctx.part, { force: true });
    if (ctx.resumed && !ctx.restarted) {
      // The prefix on disk may be what is wrong (a power cut can leave garbage blocks in a
      // .part): fetch the whole object once more before calling the artifact bad.
      ctx.restarted = true;
      ctx.resumed = false;
      throw new ShortReadError(`the resumed download of ${ctx.where} did not match its digest; restarting from the beginning`);
    }
    throw new HoistError('HOIST_DIGEST_MISMATCH', `the artifact ${ctx.where} has SHA-256 ${digest}, not the signed ${ctx.options.sha256}; it was deleted and nothing was unpacked. Publish the artifact again and check who can write to the bucket.`, {
      details: { bucket: ctx.options.bucket, key: ctx.options.key, expected: ctx.options.sha256, actual: digest },
    });
  }
  if (handle !== undefined) await handle.sync();
  else {
    const h = await open(ctx.part, 'r+');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  }
  await handle?.close();
  await rename(ctx.part, ctx.final);
  await syncDir(ctx.options.dir);
}

function parseContentRangeStart(value: string | undefined): number | undefined {
  const m = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(value ?? '');
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

async function fetchBody(ctx: Context, from: number, signal: AbortSignal) {
  const { s3, bucket, key } = ctx.options;
  try {
    return await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: key, ...(from > 0 ? { Range: `bytes=${from}-` } : {}) }),
      { abortSignal: signal },
    );
  } catch (err) {
    if (signal.aborted) throw err;
    if (isNotFound(err)) {
      throw new HoistError('HOIST_ARTIFACT_NOT_FOUND', `the artifact ${ctx.where} does not exist; upload it (hoist publish does) or fix the manifest's artifact.key.`, { cause: err, details: { bucket, key } });
    }
    if (from > 0 && httpStatus(err) === 416) {
      // The object is no longer than our .part: start over; a genuinely short object shows then.
      ctx.state = undefined;
      await rm(ctx.part, { force: true });
      throw new ShortReadError(`the range from byte ${from} of ${ctx.where} is not satisfiable; restarting from the beginning`);
    }
    throw err;
  }
}

/** One attempt: resume or start the `.part`, stream the rest, and commit when complete. */
async function attemptOnce(ctx: Context, signal: AbortSignal): Promise<void> {
  const { size, onProgress, bucket, key } = ctx.options;
  let state = await partState(ctx, signal);
  ctx.state = state;
  if (state.length === size && size > 0) {
    // A complete .part from an earlier run; verify it (a bad one is removed and fetched again).
    try {
      await commit(ctx, state, undefined);
      return;
    } catch (err) {
      if (!isHoistError(err, 'HOIST_DIGEST_MISMATCH')) throw err;
      state = { hash: createHash('sha256'), length: 0 };
      ctx.state = state;
    }
  }
  const response = await fetchBody(ctx, state.length, signal);
  const body = response.Body as Readable | undefined;
  if (body === undefined) throw new ShortReadError(`S3 returned no body for ${ctx.where}`);
  // The SDK's abort only covers the request; destroy the body stream ourselves on abort/stall.
  addAbortSignal(signal, body);
  const handle = await open(ctx.part, 'a');
  let closed = false;
  try {
    if (state.length > 0) {
      const start = parseContentRangeStart(response.ContentRange);
      if (response.$metadata.httpStatusCode !== 206 || start !== state.length) {
        // The server ignored (or misread) our Range and sent the object from the start.
        if (start !== undefined && start !== 0) {
          body.destroy();
          ctx.state = undefined;
          await handle.truncate(0);
          throw new ShortReadError(`S3 answered range ${response.ContentRange ?? ''} for bytes=${state.length}-`);
        }
        await handle.truncate(0);
        state = { hash: createHash('sha256'), length: 0 };
        ctx.state = state;
      } else {
        ctx.resumed = true;
      }
    }
    let streamed = 0;
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (state.length + chunk.length > size) {
        body.destroy();
        ctx.state = undefined;
        await handle.close();
        closed = true;
        await rm(ctx.part, { force: true });
        throw new HoistError('HOIST_SIZE_EXCEEDED', `the artifact ${ctx.where} is larger than its signed size of ${size} bytes (${formatBytes(size)}); the download was stopped and deleted. Publish the artifact again.`, {
          details: { bucket, key, size, receivedAtLeast: state.length + chunk.length },
        });
      }
      await handle.write(chunk);
      state.hash.update(chunk);
      state.length += chunk.length;
      streamed += chunk.length;
      ctx.progress(chunk.length);
      onProgress?.({ received: state.length, total: size });
    }
    if (state.length < size) {
      const expected = response.ContentLength;
      if (expected !== undefined && streamed >= expected) {
        // The server sent everything it has: the object itself is shorter than signed.
        ctx.state = undefined;
        await handle.close();
        closed = true;
        await rm(ctx.part, { force: true });
        throw new HoistError('HOIST_SIZE_MISMATCH', `the artifact ${ctx.where} is ${state.length} bytes, shorter than its signed size of ${size}; it was deleted. Publish the artifact again.`, {
          details: { bucket, key, size, actual: state.length },
        });
      }
      throw new ShortReadError(`the download of ${ctx.where} ended at ${state.length} of ${size} bytes`);
    }
    closed = true;
    await commit(ctx, state, handle);
  } finally {
    if (!closed) await handle.close();
  }
}

/**
 * Runs one attempt under its own signal (caller ∪ stall watchdog ∪ optional deadline), and reports
 * why it was cut short: the watchdog's or deadline's reason, which are retryable.
 */
async function guardedAttempt(ctx: Context, outer: AbortSignal): Promise<void> {
  const { stallTimeoutMs = 30_000, stallMinBytes = 1024, attemptTimeoutMs } = ctx.options;
  using stall = watchStall(stallTimeoutMs, stallMinBytes);
  const signals = [outer, stall.signal];
  if (attemptTimeoutMs !== undefined) signals.push(AbortSignal.timeout(attemptTimeoutMs));
  const signal = AbortSignal.any(signals);
  ctx.progress = (bytes) => stall.progress(bytes);
  try {
    await attemptOnce(ctx, signal);
  } catch (err) {
    if (outer.aborted) throw outer.reason;
    if (signal.aborted) throw signal.reason;
    throw err;
  }
}

export async function downloadArtifact(options: DownloadOptions): Promise<DownloadResult> {
  const { dir, sha256, format, size, bucket, key, signal = new AbortController().signal } = options;
  assertSha256(sha256);
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new HoistError('HOIST_MANIFEST_INVALID', `artifact size must be a non-negative integer, got ${size}`);
  }
  const ctx: Context = {
    options,
    part: partPath(dir, sha256),
    final: artifactPath(dir, sha256, format),
    where: `s3://${bucket}/${key}`,
    state: undefined,
    resumed: false,
    restarted: false,
    progress: () => undefined,
  };
  try {
    await mkdir(dir, { recursive: true });
    if (await verifyCached(ctx, signal)) return { path: ctx.final, resumed: false, cached: true };
    const have = (await fileSize(ctx.part)) ?? 0;
    const free = await freeBytes(dir);
    if (free < size - Math.min(have, size)) {
      throw new HoistError('HOIST_NO_SPACE', `the artifact ${ctx.where} needs ${formatBytes(size - Math.min(have, size))} more in ${dir}, which has ${formatBytes(free)} free; nothing was downloaded. Free space there (or lower keep) and it is retried.`, {
        details: { dir, needed: size - Math.min(have, size), free },
      });
    }
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    throw ioError(err, `checking the download cache ${dir}`);
  }
  const attempts = options.attempts ?? 6;
  try {
    await retry((_attempt, s) => guardedAttempt(ctx, s), {
      attempts,
      baseMs: options.baseDelayMs ?? 500,
      maxMs: options.maxDelayMs ?? 30_000,
      signal,
      isRetryable,
      ...(options.onRetry === undefined ? {} : { onRetry: options.onRetry }),
    });
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    if (isNoSpace(err)) {
      // A full disk must not stay full: the agent still has to write its state and report.
      await rm(ctx.part, { force: true }).catch(() => undefined);
      throw new HoistError('HOIST_NO_SPACE', `the disk holding ${dir} filled up while downloading ${ctx.where}; the partial download was removed. Free space there and it is retried.`, {
        cause: err,
        details: { dir, bucket, key },
      });
    }
    if (isHoistError(err)) throw err;
    if (isRetryable(err)) {
      throw new HoistError('HOIST_DOWNLOAD_FAILED', `downloading ${ctx.where} failed ${attempts} times; the last error: ${(err as Error).message}. Check network access to S3; the partial download is kept and resumed next time.`, {
        cause: err,
        details: { bucket, key, attempts },
      });
    }
    if (httpStatus(err) !== undefined || (err as { $metadata?: unknown } | undefined)?.$metadata !== undefined) {
      throw wrapAwsError(err, 'S3', `GetObject ${ctx.where}`);
    }
    throw ioError(err, `writing ${ctx.part}`);
  }
  return { path: ctx.final, resumed: ctx.resumed, cached: false };
}
