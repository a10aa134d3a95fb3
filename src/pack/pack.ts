/**
 * `hoist pack`: a reproducible release tarball, streamed.
 *
 * The same directory always gives the same bytes: entries in byte order of their names, one fixed
 * mtime, uid/gid 0 without user names, normalised modes, no atime/ctime/dev/ino anywhere, and a
 * gzip header without timestamp and with the "unknown" OS byte. The tar format is node-tar's
 * `portable` output, which hoist used until it wrote the tar itself (header.ts), so an unchanged
 * tree still packs to the same uncompressed tar. Files sharing an inode (pnpm stores, `cp -al`)
 * are packed as plain files: unpack refuses hardlinks.
 *
 * The tree is walked, read and compressed as a stream (tar-writer.ts, compress.ts): memory is a
 * few buffers and one directory listing per level, not the tree. The compressed bytes go to a temp
 * file next to the output (hashed and counted on their way, or read back once the `zstd`
 * executable has written them there itself), which is flushed to disk and then renamed into place.
 */

import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createWriteStream, fsyncSync, openSync } from 'node:fs';
import { lstat, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Duplex } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { HoistError, isHoistError } from '../errors.ts';
import { hashFile } from '../fetch/hash-file.ts';
import { createCompressor, portableGzipHeader } from './compress.ts';
import type { ZstdEngine } from '../unpack/decompress.ts';
import { writeTar } from './tar-writer.ts';

export type ArchiveFormat = 'tar+gzip' | 'tar+zstd';


export interface PackOptions {
  /** zstd instead of gzip. */
  readonly zstd?: boolean;
  /** Which zstd compressor: default HOIST_ZSTD, else `auto` (the `zstd` executable when PATH has one). */
  readonly zstdEngine?: ZstdEngine | undefined;
  readonly signal?: AbortSignal;
  /** mtime of every entry; default SOURCE_DATE_EPOCH when set, else the epoch. */
  readonly mtime?: Date;
  /** Tuning and tests: bytes per buffer of uncompressed tar (a multiple of 512) and how many. */
  readonly chunkBytes?: number;
  readonly chunks?: number;
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

export async function packDirectory(dir: string, outFile: string, options: PackOptions = {}): Promise<PackResult> {
  const { signal } = options;
  signal?.throwIfAborted();
  const format: ArchiveFormat = options.zstd === true ? 'tar+zstd' : 'tar+gzip';
  const mtime = options.mtime ?? defaultPackMtime();
  const root = path.resolve(dir);

  const rootStat = await lstat(root).catch((cause: unknown) => {
    throw new HoistError('HOIST_PACK_FAILED', `cannot read the directory to pack ${root}: ${String(cause)}`, { cause });
  });
  if (!rootStat.isDirectory()) {
    throw new HoistError('HOIST_PACK_FAILED', `${root} is not a directory; give hoist pack the release directory`);
  }

  let hash = createHash('sha256');
  let size = 0;
  const measure = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (format === 'tar+gzip') portableGzipHeader(chunk, size);
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });

  const temp = path.join(path.dirname(path.resolve(outFile)), `.${path.basename(outFile)}.tmp-${randomBytes(6).toString('hex')}`);
  // the temp file's descriptor, when the `zstd` executable writes it
  let fd: number | undefined;
  let entries: number;
  let compressor: Duplex | undefined;
  let written: Promise<void> | undefined;
  try {
    const made = createCompressor(format, options.zstdEngine, () => (fd = openSync(temp, 'wx+', 0o644)));
    const stream = made.stream;
    compressor = stream;
    // node:zlib's output is hashed on its way to the file (flush: fsync before close, so the
    // renamed file is on disk); the `zstd` executable writes the file itself
    written = made.writesOutput
      ? finished(stream.resume())
      : pipeline(stream, measure, createWriteStream(temp, { flags: 'wx', mode: 0o644, flush: true }), signal === undefined ? {} : { signal });
    // when writing fails first, the tar writer must stop too, even while it waits for a buffer
    const writeFailed = new AbortController();
    written.catch((error: unknown) => writeFailed.abort(error));
    const sink = { write: (chunk: Buffer, done: (error?: Error | null) => void) => stream.write(chunk, done) };
    const writerSignal = signal === undefined ? writeFailed.signal : AbortSignal.any([signal, writeFailed.signal]);
    entries = (await writeTar(root, sink, { mtime, signal: writerSignal, chunkBytes: options.chunkBytes, chunks: options.chunks })).entries;
    stream.end();
    await written;
    if (fd !== undefined) {
      ({ hash, size } = await hashFile(temp, signal));
      fsyncSync(fd);
      closeSync(fd);
      fd = undefined;
    }
    await rename(temp, outFile);
  } catch (cause) {
    compressor?.destroy();
    await written?.catch(() => undefined);
    if (fd !== undefined) closeSync(fd);
    await rm(temp, { force: true });
    if (signal?.aborted === true) throw signal.reason;
    throw wrapPackError(cause, `cannot pack ${root} into ${outFile}`);
  }
  return { sha256: hash.digest('hex'), size, entries, format };
}

function wrapPackError(cause: unknown, what: string): HoistError {
  if (isHoistError(cause)) return cause;
  const message = cause instanceof Error ? cause.message : String(cause);
  return new HoistError('HOIST_PACK_FAILED', `${what}: ${message}; check the path and its permissions`, { cause });
}
