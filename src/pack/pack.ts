/**
 * `hoist pack`: a reproducible release tarball.
 *
 * The same directory always gives the same bytes: entries in byte order of their names, one fixed
 * mtime, uid/gid 0 without user names, normalised modes, no atime/ctime/dev/ino anywhere, and a
 * gzip header without timestamp and with the "unknown" OS byte.
 *
 * node-tar writes the archive. Its `portable` option drops atime, ctime, uid, gid, uname, gname,
 * dev, ino and nlink (numeric fields are left empty, which every tar reads as 0) and makes the
 * gzip header portable. It cannot normalise modes or keep an mtime on directories by option, so
 * `onWriteEntry` - called with each entry just before its header is built - rewrites the entry's
 * `stat.mode` and turns the directory mtime back on. Hard-link detection is disabled so that
 * files sharing an inode (pnpm stores, `cp -al`) are packed as plain files: unpack refuses
 * hardlinks.
 */

import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Pack } from 'tar';
import type { WriteEntry } from 'tar';
import { HoistError, isHoistError } from '../errors.ts';
import { listPackEntries } from './entries.ts';
import { normalisePackMode } from './mode.ts';
import type { PackEntryType } from './mode.ts';

export type ArchiveFormat = 'tar+gzip' | 'tar+zstd';

export interface PackOptions {
  /** zstd instead of gzip. */
  readonly zstd?: boolean;
  readonly signal?: AbortSignal;
  /** mtime of every entry; default SOURCE_DATE_EPOCH when set, else the epoch. */
  readonly mtime?: Date;
}

export interface PackResult {
  /** Lowercase hex SHA-256 of the archive file. */
  readonly sha256: string;
  readonly size: number;
  readonly entries: number;
  readonly format: ArchiveFormat;
}

/** mtime from SOURCE_DATE_EPOCH (https://reproducible-builds.org/specs/source-date-epoch/). */
export function defaultPackMtime(env: NodeJS.ProcessEnv = process.env): Date {
  const raw = env['SOURCE_DATE_EPOCH'];
  if (raw === undefined || raw === '') return new Date(0);
  if (!/^\d{1,15}$/.test(raw)) {
    throw new HoistError(
      'HOIST_PACK_FAILED',
      `SOURCE_DATE_EPOCH must be a whole number of seconds since 1970, got ${JSON.stringify(raw)}; fix or unset it`,
    );
  }
  return new Date(Number(raw) * 1000);
}

const TYPE_OF: Record<string, PackEntryType | undefined> = {
  File: 'file',
  Directory: 'directory',
  SymbolicLink: 'symlink',
};

/** A link cache that never remembers, so node-tar never emits a hardlink entry. */
class ForgetfulMap<K, V> extends Map<K, V> {
  override set(): this {
    return this;
  }
}

export async function packDirectory(dir: string, outFile: string, options: PackOptions = {}): Promise<PackResult> {
  const { signal } = options;
  signal?.throwIfAborted();
  const format: ArchiveFormat = options.zstd === true ? 'tar+zstd' : 'tar+gzip';
  const mtime = options.mtime ?? defaultPackMtime();
  const root = path.resolve(dir);

  const entries = await listPackEntries(root, signal).catch((cause: unknown) => {
    throw wrapPackError(cause, `cannot read ${root}`);
  });

  const pack = new Pack({
    cwd: root,
    portable: true,
    noDirRecurse: true,
    strict: true,
    mtime,
    linkCache: new ForgetfulMap(),
    ...(format === 'tar+zstd' ? { zstd: true } : { gzip: true }),
    onWriteEntry: (entry: WriteEntry) => {
      const type = entry.type === undefined ? undefined : TYPE_OF[entry.type];
      if (entry.stat === undefined || type === undefined) return;
      entry.stat.mode = (entry.stat.mode & ~0o7777) | normalisePackMode(type, entry.stat.mode);
      // `portable` drops directory mtimes; a fixed mtime on every entry is what reproducible means here.
      entry.noMtime = false;
    },
  });
  for (const entry of entries) pack.add(entry.path);
  pack.end();

  const hash = createHash('sha256');
  let size = 0;
  const measure = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });

  const temp = path.join(path.dirname(path.resolve(outFile)), `.${path.basename(outFile)}.tmp-${randomBytes(6).toString('hex')}`);
  try {
    await pipeline(
      async function* archiveBytes() {
        for await (const chunk of pack) yield chunk;
      },
      measure,
      // flush: fsync before close, so the renamed file is on disk
      createWriteStream(temp, { flags: 'wx', mode: 0o644, flush: true }),
      signal === undefined ? {} : { signal },
    );
    await rename(temp, outFile);
  } catch (cause) {
    await rm(temp, { force: true });
    if (signal?.aborted === true) throw signal.reason;
    throw wrapPackError(cause, `cannot write ${outFile}`);
  }
  return { sha256: hash.digest('hex'), size, entries: entries.length, format };
}

function wrapPackError(cause: unknown, what: string): HoistError {
  if (isHoistError(cause)) return cause;
  const message = cause instanceof Error ? cause.message : String(cause);
  return new HoistError('HOIST_PACK_FAILED', `${what}: ${message}; check the path and its permissions`, { cause });
}
