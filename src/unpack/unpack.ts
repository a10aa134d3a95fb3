/**
 * Hardened extraction of a release archive into an empty staging directory (DESIGN §5.1 step 4).
 *
 * Layers, each of which fails the unpack (never skips an entry silently):
 * - our own decompression, capped by the ratio budget (decompress.ts);
 * - EntryPolicy (entry-policy.ts), called from node-tar's `filter` before an entry is written:
 *   types, paths, symlink targets, entries/depth/bytes caps;
 * - node-tar's Unpack with `strict: true`, so every tar warning (bad checksum, truncation, writing
 *   through a symlink, an unsupported entry) becomes an error;
 * - a final pass (sync-tree.ts) that sets the owner, strips setuid/setgid/sticky and fsyncs.
 */

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Unpack } from 'tar';
import type { ReadEntry } from 'tar';
import { HoistError, isHoistError } from '../errors.ts';
import type { ArchiveFormat } from '../pack/pack.ts';
import { DecompressionGuard, createDecompressor } from './decompress.ts';
import { EntryPolicy } from './entry-policy.ts';
import { ratioBudget } from './limits.ts';
import type { UnpackLimits } from './limits.ts';
import { finishTree } from './sync-tree.ts';

export { DEFAULT_UNPACK_LIMITS } from './limits.ts';
export type { UnpackLimits } from './limits.ts';
export { syncTree } from './sync-tree.ts';

export interface UnpackOptions {
  /** The verified archive. */
  readonly file: string;
  readonly format: ArchiveFormat;
  /** An existing, empty staging directory. */
  readonly dest: string;
  readonly limits: UnpackLimits;
  /** Allow relative symlinks that stay inside the release (default false). */
  readonly allowSymlinks?: boolean;
  /** Owner of every unpacked entry and of `dest` (needs root). */
  readonly owner?: { readonly uid: number; readonly gid: number };
  readonly signal?: AbortSignal;
}

export interface UnpackResult {
  readonly entries: number;
  /** Bytes of file content written. */
  readonly bytes: number;
}

const IO_CODES = new Set(['ENOSPC', 'EDQUOT', 'EACCES', 'EPERM', 'EROFS', 'EIO', 'EMFILE', 'ENFILE']);

export async function unpackArchive(options: UnpackOptions): Promise<UnpackResult> {
  const { file, format, dest, limits, signal } = options;
  signal?.throwIfAborted();
  const compressedSize = (await stat(file)).size;
  const destStat = await stat(dest);
  if (!destStat.isDirectory()) {
    throw new HoistError('HOIST_IO', `the unpack destination ${dest} is not a directory`);
  }

  const policy = new EntryPolicy({ limits, allowSymlinks: options.allowSymlinks === true, compressedSize });
  let failure: unknown;
  const fail = (error: unknown): void => {
    failure ??= error;
  };

  const unpack = new Unpack({
    cwd: dest,
    strict: true,
    preserveOwner: false,
    // EntryPolicy enforces limits.maxDepth first; node-tar's own check stays as a backstop.
    maxDepth: limits.maxDepth + 2,
    // We feed node-tar decompressed bytes; the guard does the ratio check.
    maxDecompressionRatio: Infinity,
    filter: (_path: string, entry: unknown) => admit(entry as ReadEntry),
  });
  unpack.on('error', fail);
  // node-tar buffers (and re-concatenates) everything after the end-of-archive blocks: stop
  // feeding it there. The rest is still decompressed, and counted by the guard, then dropped.
  let sawEnd = false;
  unpack.on('eof', () => {
    sawEnd = true;
  });
  const finished = new Promise<void>((resolve) => unpack.once('finish', resolve));

  function admit(entry: ReadEntry): boolean {
    if (failure !== undefined) return false;
    try {
      policy.admit({ path: entry.path, type: entry.type, size: entry.size ?? 0, linkpath: entry.linkpath });
    } catch (error) {
      fail(error);
      return false;
    }
    // Never create anything with setuid/setgid/sticky, even for the moment before finishTree.
    if (typeof entry.mode === 'number') entry.mode &= 0o777;
    return true;
  }

  const guard = new DecompressionGuard(ratioBudget(compressedSize, limits), limits.maxDecompressionRatio);
  try {
    await pipeline(
      createReadStream(file),
      createDecompressor(format),
      guard,
      async function feedTar(source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          if (failure !== undefined) return;
          if (sawEnd) continue;
          if (!unpack.write(chunk)) await drainOrEnd(unpack, signal);
        }
      },
      signal === undefined ? {} : { signal },
    );
  } catch (error) {
    fail(signal?.aborted === true ? signal.reason : error);
  }
  // Ending the input lets node-tar finish every entry it has started (a cut entry counts as
  // truncated), so nothing still writes into dest when we return and the caller removes it.
  unpack.end();
  await finished;
  if (failure !== undefined) {
    throw toUnpackError(signal?.aborted === true && !isHoistError(failure) ? signal.reason : failure);
  }

  try {
    await finishTree(dest, { owner: options.owner, signal });
  } catch (cause) {
    if (signal?.aborted === true) throw signal.reason;
    throw toUnpackError(cause);
  }
  return { entries: policy.entries, bytes: policy.bytes };
}

/** Waits until node-tar wants more input (or has seen the end of the archive, or failed). */
async function drainOrEnd(unpack: Unpack, signal: AbortSignal | undefined): Promise<void> {
  const events = ['drain', 'eof', 'error', 'finish'];
  await new Promise<void>((resolve, reject) => {
    const done = (): void => {
      for (const event of events) unpack.off(event, settle);
      signal?.removeEventListener('abort', aborted);
    };
    const settle = (): void => {
      done();
      resolve();
    };
    const aborted = (): void => {
      done();
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted', { cause: signal?.reason }));
    };
    for (const event of events) unpack.on(event, settle);
    signal?.addEventListener('abort', aborted, { once: true });
  });
}

function toUnpackError(error: unknown): unknown {
  if (isHoistError(error)) return error;
  if (error instanceof Error && error.name === 'AbortError') return error;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'TAR_SYMLINK_ERROR') {
    return new HoistError('HOIST_UNSAFE_ENTRY', `refused an archive entry that would be written through a symlink: ${message}`, {
      cause: error,
    });
  }
  if (typeof code === 'string' && IO_CODES.has(code)) {
    return new HoistError('HOIST_IO', `unpacking failed on the file system: ${message}; check free space and permissions`, {
      cause: error,
    });
  }
  return new HoistError('HOIST_UNPACK_FAILED', `the archive is corrupt, truncated or not a tar: ${message}; publish it again`, {
    cause: error,
  });
}
