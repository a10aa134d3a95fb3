/**
 * Writes the uncompressed tar of a directory into a few reused buffers and hands each full one to
 * a sink (the compressor), so memory stays a few MiB whatever the size of the tree.
 *
 * The main thread does what GNU tar does, synchronously: `readdir` per directory, and per file
 * `open` + `fstat` + `read` + `close`, reading straight into the output buffer after its header.
 * The sink compresses on the thread pool meanwhile, so reading and compressing overlap on two
 * cores the way `tar | gzip` do. When every buffer is with the sink, the writer waits for one to
 * come back: that is the backpressure, and what bounds memory.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { HoistError } from '../errors.ts';
import { PackWalker, specialFile } from './entries.ts';
import { BLOCK, SimpleHeaders, encodeHeader } from './header.ts';
import type { TarEntryHeader } from './header.ts';
import { normalisePackMode } from './mode.ts';

/** Where full buffers go. `done` is called once the buffer's bytes are consumed and it may be reused. */
export interface ChunkSink {
  write(chunk: Buffer, done: (error?: Error | null) => void): void;
}

export interface TarWriterOptions {
  /** mtime of every entry. */
  readonly mtime: Date;
  readonly signal?: AbortSignal | undefined;
  /** Bytes per buffer, a multiple of 512 (default 1 MiB). */
  readonly chunkBytes?: number | undefined;
  /** Buffers in the pool (default 3: one being filled, two with the sink). */
  readonly chunks?: number | undefined;
}

export interface TarWriteResult {
  readonly entries: number;
  /** Bytes of uncompressed tar. */
  readonly bytes: number;
}

export const DEFAULT_CHUNK_BYTES = 1024 * 1024;
export const DEFAULT_CHUNKS = 3;
/** The end of a tar archive: two zero blocks (node-tar writes no further padding). */
const END_BLOCKS = 2;
// O_NONBLOCK: a file swapped for a FIFO after readdir would otherwise block the open forever;
// for a regular file it changes nothing. O_NOFOLLOW: nor may it have become a symlink.
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** A fixed set of buffers, handed out and given back. */
class BufferPool {
  readonly #free: Buffer[];
  #waiter: { resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  #error: Error | undefined;

  constructor(size: number, count: number) {
    this.#free = Array.from({ length: count }, () => Buffer.allocUnsafe(size));
  }

  take(): Promise<Buffer> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    const free = this.#free.pop();
    if (free !== undefined) return Promise.resolve(free);
    return new Promise((resolve, reject) => (this.#waiter = { resolve, reject }));
  }

  give(buffer: Buffer): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (waiter === undefined) this.#free.push(buffer);
    else waiter.resolve(buffer);
  }

  /** Resolves once all `count` buffers are back: the sink has consumed everything. */
  async settle(count: number): Promise<void> {
    while (this.#free.length < count) this.#free.push(await new Promise<Buffer>((resolve, reject) => (this.#waiter = { resolve, reject })));
  }

  fail(reason: unknown): void {
    this.#error ??= reason instanceof Error ? reason : new Error(String(reason));
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.reject(this.#error);
  }
}

/** The buffer being filled. Everything written is whole 512-byte blocks, so a header never straddles two buffers. */
class Output {
  buf: Buffer;
  off = 0;
  total = 0;
  readonly #pool: BufferPool;
  readonly #sink: ChunkSink;

  constructor(pool: BufferPool, sink: ChunkSink, first: Buffer) {
    this.#pool = pool;
    this.#sink = sink;
    this.buf = first;
  }

  get room(): number {
    return this.buf.length - this.off;
  }

  /** Hands the filled part to the sink and continues in a free buffer. */
  async flush(): Promise<void> {
    if (this.off === 0) return;
    const full = this.buf;
    this.total += this.off;
    this.#sink.write(full.subarray(0, this.off), (error) => (error ? this.#pool.fail(error) : this.#pool.give(full)));
    this.off = 0;
    // let the sink's completions run, so the compressor is never left waiting on this thread
    await yieldToLoop();
    this.buf = await this.#pool.take();
  }

  async copyIn(bytes: Buffer): Promise<void> {
    let from = 0;
    while (from < bytes.length) {
      if (this.room === 0) await this.flush();
      const n = bytes.copy(this.buf, this.off, from);
      this.off += n;
      from += n;
    }
  }

  async zeros(count: number): Promise<void> {
    let left = count;
    while (left > 0) {
      if (this.room === 0) await this.flush();
      const n = Math.min(left, this.room);
      this.buf.fill(0, this.off, this.off + n);
      this.off += n;
      left -= n;
    }
  }
}

/**
 * Writes the tar of `root` (an existing directory) to `sink` and returns once the sink has
 * consumed all of it; the caller then ends the sink.
 *
 * Per entry the work is synchronous while it fits the current buffer; it awaits only to hand a
 * full buffer over, so the tens of thousands of small files cost no promise each.
 */
export async function writeTar(root: string, sink: ChunkSink, options: TarWriterOptions): Promise<TarWriteResult> {
  const { mtime, signal } = options;
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  if (chunkBytes <= 0 || chunkBytes % BLOCK !== 0) throw new RangeError(`chunkBytes must be a positive multiple of ${BLOCK}, got ${chunkBytes}`);
  const chunks = Math.max(2, options.chunks ?? DEFAULT_CHUNKS);
  const pool = new BufferPool(chunkBytes, chunks);
  // an abort also ends a wait for a buffer the sink may never give back
  const onAbort = (): void => pool.fail(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await writeAll(root, sink, pool, chunks, mtime, signal);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

async function writeAll(root: string, sink: ChunkSink, pool: BufferPool, chunks: number, mtime: Date, signal: AbortSignal | undefined): Promise<TarWriteResult> {
  signal?.throwIfAborted();
  const out = new Output(pool, sink, await pool.take());
  const headers = new SimpleHeaders(mtime);
  const walker = new PackWalker(root);
  let entries = 0;
  for (let entry = walker.next(); entry !== undefined; entry = walker.next()) {
    signal?.throwIfAborted();
    entries += 1;
    if (out.room === 0) await out.flush();
    if (entry.type === 'file') {
      const rest = writeFileEntry(out, headers, `${root}/${entry.path}`, entry.name, mtime);
      if (rest !== undefined) await rest;
      continue;
    }
    const header: TarEntryHeader = {
      name: entry.name,
      type: entry.type,
      mode: normalisePackMode(entry.type, 0),
      size: 0,
      mtime,
      ...(entry.target === undefined ? {} : { linkpath: entry.target }),
    };
    if (headers.write(out.buf, out.off, header)) out.off += BLOCK;
    else await out.copyIn(encodeHeader(header));
  }
  await out.zeros(END_BLOCKS * BLOCK);
  await out.flush();
  // Only now may the caller end the sink. node:zlib compresses a chunk that is still queued when
  // the stream is ended with the finishing flush, then finishes once more: for zstd that is a
  // second, empty frame, so the bytes would depend on timing.
  pool.give(out.buf);
  await pool.settle(chunks);
  return { entries, bytes: out.total };
}

/**
 * One file: header and content. Synchronous while they fit the current buffer (the caller leaves
 * room for at least one block); otherwise returns the promise of the rest, which closes the file.
 */
function writeFileEntry(out: Output, headers: SimpleHeaders, abs: string, name: string, mtime: Date): Promise<void> | undefined {
  const fd = openSync(abs, OPEN_FLAGS);
  let rest: Promise<void> | undefined;
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw specialFile(name);
    const size = stat.size;
    const header: TarEntryHeader = { name, type: 'file', mode: normalisePackMode('file', stat.mode), size, mtime };
    if (!headers.write(out.buf, out.off, header)) {
      rest = writeRest(out, fd, name, size, size, encodeHeader(header));
      return rest;
    }
    out.off += BLOCK;
    const remain = readContent(out, fd, name, size, size);
    if (remain > 0) rest = writeRest(out, fd, name, size, remain);
    return rest;
  } finally {
    if (rest === undefined) closeSync(fd);
  }
}

async function writeRest(out: Output, fd: number, name: string, size: number, remain: number, header?: Buffer): Promise<void> {
  try {
    if (header !== undefined) await out.copyIn(header);
    let left = remain;
    while (left > 0) {
      if (out.room === 0) await out.flush();
      left = readContent(out, fd, name, size, left);
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads the file's next bytes straight into the buffer until the file or the buffer ends; returns
 * what is left to read. After the last byte, pads the file's last block (which ends inside this
 * buffer: buffers are whole blocks).
 */
function readContent(out: Output, fd: number, name: string, size: number, remain: number): number {
  let left = remain;
  while (left > 0 && out.room > 0) {
    // ask for the whole padded rest: a file that grew then reads more than it should have
    const want = Math.min(Math.ceil(left / BLOCK) * BLOCK, out.room);
    const got = readSync(fd, out.buf, out.off, want, null);
    if (got === 0 || got > left) throw changedWhilePacking(name, size);
    out.off += got;
    left -= got;
  }
  if (left === 0) {
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    out.buf.fill(0, out.off, out.off + pad);
    out.off += pad;
  }
  return left;
}

function changedWhilePacking(name: string, size: number): HoistError {
  return new HoistError('HOIST_PACK_FAILED', `${name} changed size while it was packed (it had ${size} bytes); pack a directory nothing is writing to`, {
    details: { path: name },
  });
}
