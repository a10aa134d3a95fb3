/**
 * Hardened extraction of a release archive into an empty staging directory.
 *
 * Layers, each of which fails the unpack (never skips an entry silently):
 * - our own decompression, capped by the ratio budget (decompress.ts);
 * - node-tar's `Parser` for the tar format only (headers, pax and GNU long names, checksums),
 *   with `strict: true`, so every tar warning (bad checksum, truncation) becomes an error; the
 *   end-of-archive marker (two zero blocks) is required, so an archive cut between two entries is
 *   refused (HOIST_ARCHIVE_TRUNCATED) instead of deploying the entries before the cut;
 * - EntryPolicy (entry-policy.ts), before an entry is written: types, paths, symlink targets,
 *   entries/depth/bytes caps; once every entry is in, each symlink resolved through the chain;
 * - our TreeWriter (tree-writer.ts), which writes what the policy admitted: owner and modes set as
 *   it goes, never setuid/setgid/sticky, never through a symlink; in a sealed release, files the
 *   previous release holds unchanged are hard-linked to it instead (dedup.ts);
 * - a flush of the whole tree to disk (sync-tree.ts).
 */

import { createReadStream, fstatSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Parser } from 'tar';
import type { ReadEntry } from 'tar';
import { HoistError, isHoistError } from '../errors.ts';
import type { ArchiveFormat } from '../pack/pack.ts';
import { DecompressionGuard, createDecompressor } from './decompress.ts';
import { DedupSource, type NotASource } from './dedup.ts';
import { EntryPolicy } from './entry-policy.ts';
import type { EntryFacts } from './entry-policy.ts';
import { ratioBudget } from './limits.ts';
import type { UnpackLimits } from './limits.ts';
import { syncTree } from './sync-tree.ts';
import { TreeWriter } from './tree-writer.ts';
import { testPause } from '../util/test-pause.ts';

export { DEFAULT_UNPACK_LIMITS } from './limits.ts';
export type { UnpackLimits } from './limits.ts';
export { syncTree } from './sync-tree.ts';

/** Reads of the archive file (decompression of 128 KiB inputs costs measurably more per byte). */
const READ_CHUNK = 1024 * 1024;

export interface UnpackOptions {
  /** The verified archive: a path, or an open descriptor (an unprivileged worker gets its stdin). */
  readonly file: string | { readonly fd: number };
  readonly format: ArchiveFormat;
  /** An existing, empty staging directory. */
  readonly dest: string;
  readonly limits: UnpackLimits;
  /** Allow relative symlinks that stay inside the release (default false). */
  readonly allowSymlinks?: boolean;
  /** Owner of every unpacked entry and of `dest` (needs root). */
  readonly owner?: { readonly uid: number; readonly gid: number };
  /** Read-only release modes: no group/other write bits, the group reads what the owner reads. */
  readonly sealed?: boolean;
  /**
   * With `sealed`: the previous release (a directory beside `dest`). Its unchanged files are
   * hard-linked instead of written, when it is sealed and owned by `owner` (dedup.ts).
   */
  readonly dedupFrom?: string;
  readonly signal?: AbortSignal;
}

/** Entries written before the `unpack-midway` test pause (race tests act in the middle of a tree). */
const MIDWAY_ENTRIES = 500;

export interface UnpackResult {
  readonly entries: number;
  /** Bytes of file content unpacked (written or linked). */
  readonly bytes: number;
  /** With `dedupFrom`: the files (and their bytes) linked to the previous release, or why none could be. */
  readonly dedup?: { readonly files: number; readonly bytes: number } | { readonly skipped: NotASource };
}

/** File-system failures (an unprivileged unpack refused somewhere, a tree changed under it), not archive faults. */
const IO_CODES = new Set(['EACCES', 'EPERM', 'EROFS', 'EIO', 'EMFILE', 'ENFILE', 'ELOOP', 'ENOTDIR', 'ENOENT']);
const SPACE_CODES = new Set(['ENOSPC', 'EDQUOT']);

export async function unpackArchive(options: UnpackOptions): Promise<UnpackResult> {
  const { file, format, dest, limits, signal } = options;
  signal?.throwIfAborted();
  const compressedSize = typeof file === 'string' ? (await stat(file)).size : fstatSync(file.fd).size;
  const destStat = await stat(dest);
  if (!destStat.isDirectory()) {
    throw new HoistError('HOIST_IO', `the unpack destination ${dest} is not a directory`);
  }

  const policy = new EntryPolicy({ limits, allowSymlinks: options.allowSymlinks === true, compressedSize });
  let failure: unknown;
  const fail = (error: unknown): void => {
    failure ??= error;
  };
  let writer: TreeWriter;
  let dedup: DedupSource | NotASource | undefined;
  try {
    if (options.dedupFrom !== undefined && options.sealed === true) {
      const owner = options.owner ?? { uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0 };
      dedup = DedupSource.open(options.dedupFrom, owner, process.umask());
    }
    writer = new TreeWriter({ dest, owner: options.owner, sealed: options.sealed, dedup: dedup instanceof DedupSource ? dedup : undefined });
  } catch (cause) {
    throw toUnpackError(cause);
  }

  const parser = new Parser({ strict: true });
  parser.on('error', fail);
  parser.on('entry', (entry: ReadEntry) => {
    if (failure === undefined) {
      try {
        write(entry);
      } catch (error) {
        fail(error);
      }
    }
    // the parser moves on once this entry has ended: let it flow, written or not
    entry.resume();
  });
  // node-tar skips entries of unknown types and pax/long-name headers over 1 MiB: refuse both
  parser.on('ignoredEntry', (entry: ReadEntry) => {
    try {
      if (entry.meta) {
        throw new HoistError('HOIST_UNSAFE_ENTRY', `refused a ${entry.type} header of ${entry.size} bytes (over 1 MiB); treat the artifact as hostile and rebuild it with hoist pack`);
      }
      policy.admit(factsOf(entry)); // refuses every type node-tar has no name for
    } catch (error) {
      fail(error);
    }
    fail(new HoistError('HOIST_UNSAFE_ENTRY', 'refused an archive entry node-tar could not read'));
  });
  // node-tar buffers (and re-concatenates) everything after the end-of-archive blocks: stop
  // feeding it there. The rest is still decompressed, and counted by the guard, then dropped.
  let sawEnd = false;
  parser.on('eof', () => {
    sawEnd = true;
  });
  let ended = false;
  parser.on('end', () => {
    ended = true;
  });

  /** Admits and writes one entry, synchronously; its content arrives as it is parsed. */
  function write(entry: ReadEntry): void {
    const rel = policy.admit(factsOf(entry));
    if (entry.type === 'Directory') {
      writer.directory(rel, entry.mode);
    } else if (entry.type === 'SymbolicLink') {
      writer.symlink(rel, entry.linkpath ?? '');
    } else {
      // the policy admits nothing else than regular files
      writer.beginFile(rel, entry.mode, entry.mtime, entry.size);
      // 'end' first: an empty file has already ended, and Minipass emits it on the first 'data'
      entry.on('end', () => {
        try {
          writer.endFile();
        } catch (error) {
          fail(error);
        }
      });
      entry.on('data', (chunk: Buffer) => {
        if (failure !== undefined) return;
        try {
          writer.write(chunk);
        } catch (error) {
          fail(error);
        }
      });
    }
  }

  const guard = new DecompressionGuard(ratioBudget(compressedSize, limits), limits.maxDecompressionRatio);
  const input = typeof file === 'string' ? createReadStream(file, { highWaterMark: READ_CHUNK }) : createReadStream('', { fd: file.fd, autoClose: false, highWaterMark: READ_CHUNK });
  let midway = false;
  try {
    await pipeline(
      input,
      createDecompressor(format),
      guard,
      async function feedTar(source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          if (failure !== undefined) return;
          if (!sawEnd) parser.write(chunk);
          if (!midway && policy.entries >= MIDWAY_ENTRIES) {
            midway = true;
            await testPause('unpack-midway');
          }
        }
      },
      signal === undefined ? {} : { signal },
    );
  } catch (error) {
    fail(signal?.aborted === true ? signal.reason : error);
  }
  if (failure === undefined) {
    // every entry is written synchronously as it is parsed: ending the parser settles the archive
    // (a cut entry is reported as truncated) before end() returns
    parser.end();
    if (!ended) fail(new HoistError('HOIST_UNPACK_FAILED', 'the archive did not end where its tar structure says it should; publish it again'));
    else if (!sawEnd) {
      fail(new HoistError('HOIST_ARCHIVE_TRUNCATED', `the archive stops after ${policy.entries} entries without the tar end-of-archive marker: it was cut short (a truncated upload or build); pack and publish it again`, { details: { entries: policy.entries } }));
    }
  }
  try {
    if (failure === undefined) {
      policy.finish();
      await testPause('unpack-finishing');
      writer.finish();
    } else writer.abandon();
  } catch (error) {
    fail(error);
  }
  if (failure !== undefined) {
    throw toUnpackError(signal?.aborted === true && !isHoistError(failure) ? signal.reason : failure);
  }

  try {
    await syncTree(dest, signal);
  } catch (cause) {
    if (signal?.aborted === true) throw signal.reason;
    throw toUnpackError(cause);
  }
  return {
    entries: policy.entries,
    bytes: policy.bytes,
    ...(dedup === undefined ? {} : { dedup: dedup instanceof DedupSource ? dedup.linked : { skipped: dedup } }),
  };
}

function factsOf(entry: ReadEntry): EntryFacts {
  return { path: entry.path, type: entry.type, size: entry.size, linkpath: entry.linkpath };
}

function toUnpackError(error: unknown): unknown {
  if (isHoistError(error)) return error;
  if (error instanceof Error && error.name === 'AbortError') return error;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === 'string' && SPACE_CODES.has(code)) {
    return new HoistError('HOIST_NO_SPACE', `unpacking ran out of space: ${message}; free space in the app root or lower keep; the serving release keeps serving`, { cause: error });
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
