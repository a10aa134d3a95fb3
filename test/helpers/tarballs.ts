/**
 * Builders of tar archives, hostile ones included, written in code so every attack is visible in
 * the test that uses it. Headers come from node-tar's Header and Pax classes; bodies and the
 * end-of-archive blocks are raw 512-byte blocks.
 */

import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, createZstdCompress, gzipSync, zstdCompressSync } from 'node:zlib';
import { Header, Pax } from 'tar';
import type { types } from 'tar';

type EntryTypeName = types.EntryTypeName;

export type TarFormat = 'tar' | 'tar+gzip' | 'tar+zstd';

export interface TarEntrySpec {
  readonly path: string;
  /** node-tar type name; default 'File', or 'Directory' when the path ends with '/'. */
  readonly type?: EntryTypeName;
  readonly mode?: number;
  readonly body?: string | Buffer;
  /** Declared size when it should differ from the body (truncation, lies). */
  readonly size?: number;
  readonly linkpath?: string;
  readonly uid?: number;
  readonly gid?: number;
  /** Modification time; default the epoch. */
  readonly mtime?: Date;
}

const BLOCK = 512;

/**
 * The header block(s) of one entry: a pax header carries names that do not fit the 100-byte ustar
 * fields (node-tar's own ustar prefix splitting is quadratic in the depth, too slow for 2,000 levels).
 */
export function headerBlocks(spec: TarEntrySpec, size: number): Buffer {
  const type = spec.type ?? (spec.path.endsWith('/') ? 'Directory' : 'File');
  const long = (s: string | undefined): boolean => s !== undefined && Buffer.byteLength(s) > 99;
  const needPax = long(spec.path) || long(spec.linkpath);
  const header = new Header({
    path: long(spec.path) ? spec.path.slice(0, 99) : spec.path,
    mode: spec.mode ?? (type === 'Directory' ? 0o755 : 0o644),
    uid: spec.uid ?? 0,
    gid: spec.gid ?? 0,
    size,
    mtime: spec.mtime ?? new Date(0),
    type,
    linkpath: long(spec.linkpath) ? (spec.linkpath ?? '').slice(0, 99) : (spec.linkpath ?? ''),
    uname: '',
    gname: '',
  });
  header.encode();
  const block = header.block ?? Buffer.alloc(BLOCK);
  if (!needPax) return block;
  const pax = new Pax({ path: spec.path, ...(spec.linkpath === undefined ? {} : { linkpath: spec.linkpath }), size });
  return Buffer.concat([pax.encode(), block]);
}

function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** An uncompressed tar of the entries, ending with the two zero blocks unless `end` is false. */
export function tarBytes(entries: readonly TarEntrySpec[], options: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const spec of entries) {
    const body = typeof spec.body === 'string' ? Buffer.from(spec.body) : (spec.body ?? Buffer.alloc(0));
    parts.push(headerBlocks(spec, spec.size ?? body.length), body, padding(body.length));
  }
  if (options.end !== false) parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}

export function compress(tar: Buffer, format: TarFormat): Buffer {
  if (format === 'tar+gzip') return gzipSync(tar);
  if (format === 'tar+zstd') return zstdCompressSync(tar);
  return tar;
}

export async function writeArchive(
  file: string,
  entries: readonly TarEntrySpec[],
  format: TarFormat = 'tar+gzip',
  options: { end?: boolean } = {},
): Promise<number> {
  const bytes = compress(tarBytes(entries, options), format);
  await writeFile(file, bytes);
  return bytes.length;
}

/**
 * A decompression bomb: one file of `size` zero bytes, streamed through the compressor so that
 * building a 200 MiB bomb costs neither 200 MiB of memory nor more than a second or so.
 * `hidden`: a small decoy file then `size` zero bytes after it, which a tar reader takes as
 * end-of-archive blocks, so no header ever declares the size.
 */
export async function writeZeroBomb(
  file: string,
  size: number,
  format: 'tar+gzip' | 'tar+zstd' = 'tar+gzip',
  options: { hidden?: boolean } = {},
): Promise<void> {
  const hidden = options.hidden === true;
  function* tar(): Generator<Buffer> {
    if (hidden) yield tarBytes([{ path: 'decoy', body: 'decoy' }], { end: false });
    else yield headerBlocks({ path: 'bomb' }, size);
    const chunk = Buffer.alloc(1024 * 1024);
    let left = size;
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      yield n === chunk.length ? chunk : chunk.subarray(0, n);
      left -= n;
    }
    yield padding(size);
    if (!hidden) yield Buffer.alloc(2 * BLOCK);
  }
  const compressor = format === 'tar+zstd' ? createZstdCompress() : createGzip({ level: 9 });
  await pipeline(Readable.from(tar()), compressor, createWriteStream(file));
}
