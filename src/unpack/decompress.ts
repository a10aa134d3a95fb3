/**
 * Decompression of a release archive, every frame of it, with a running cap: the tar stream may
 * not grow past `budget` bytes (the ratio cap times the compressed size, see limits.ts). Counting
 * the decompressed stream itself, not only the sizes tar headers declare, also catches bombs made
 * of padding, pax records or end-of-archive blocks.
 *
 * createDecompressor() reads the stream's structure itself (zstd-frames.ts, gzip-members.ts), so
 * that every zstd frame and gzip member is decoded, a cut stream fails as truncated, and what
 * follows the last frame is judged by one rule for both formats (stream-verdicts.ts).
 */

import type { Duplex } from 'node:stream';
import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { HoistError } from '../errors.ts';
import type { ArchiveFormat } from '../pack/pack.ts';
import { GzipDecoder } from './gzip-decoder.ts';
import { findZstdBinary } from './zstd-binary.ts';
import { ZstdDecoder } from './zstd-decoder.ts';

/**
 * Output chunk of the decompressor: fewer, larger chunks cost fewer callbacks per byte (16 KiB,
 * the default, made the unpack of 6,478 entries take 1.1-1.4 s instead of 0.6-0.7 s on tmpfs).
 * Each chunk is written out synchronously, so this also bounds one turn of the event loop.
 */
const DECOMPRESS_CHUNK = 512 * 1024;

/**
 * Which zstd decoder runs: node:zlib's (`node`), the host's `zstd` executable (`binary`), or the
 * executable when PATH has one and node:zlib's otherwise (`auto`, the default: the executable
 * unpacks large releases faster, see zstd-binary.ts). Both sit behind the same frame scanner, so
 * they accept and refuse the same streams.
 */
export type ZstdEngine = 'node' | 'binary' | 'auto';

export const ZSTD_ENGINES: readonly ZstdEngine[] = ['node', 'binary', 'auto'];

export interface DecompressorOptions {
  /** Destroys the stream (and kills a `zstd` process) with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Default: the HOIST_ZSTD environment variable, else `auto`. */
  readonly zstd?: ZstdEngine;
}

/**
 * A stream that takes the compressed archive and gives the tar. It fails with:
 * - HOIST_ARCHIVE_TRUNCATED when the input ends inside a zstd frame or gzip member (a header, a
 *   block, the deflate data, a checksum or trailer) or before the first one;
 * - HOIST_UNPACK_FAILED on trailing data after the last complete frame or member (zero padding
 *   excepted), on input that is not of the format at all, and on corrupt compressed data;
 * - the signal's reason when `signal` aborts.
 * Throws HOIST_CONFIG_INVALID, before any stream exists, for a HOIST_ZSTD it does not know, or for
 * `binary` when PATH has no `zstd`.
 */
export function createDecompressor(format: ArchiveFormat, options: DecompressorOptions = {}): Duplex {
  const { signal } = options;
  if (format === 'tar+gzip') return new GzipDecoder({ chunkSize: DECOMPRESS_CHUNK, signal });
  return new ZstdDecoder({ executable: zstdExecutable(options.zstd ?? zstdEngineFromEnv(process.env['HOIST_ZSTD'])), chunkSize: DECOMPRESS_CHUNK, signal });
}

/** HOIST_ZSTD's value as an engine; unset or empty is `auto`. */
export function zstdEngineFromEnv(value: string | undefined): ZstdEngine {
  if (value === undefined || value === '') return 'auto';
  const engine = ZSTD_ENGINES.find((e) => e === value);
  if (engine === undefined) {
    throw new HoistError('HOIST_CONFIG_INVALID', `HOIST_ZSTD must be one of ${ZSTD_ENGINES.join(', ')}, not ${JSON.stringify(value)}`);
  }
  return engine;
}

/** The executable the engine runs, or undefined for node:zlib's. */
export function zstdExecutable(engine: ZstdEngine): string | undefined {
  if (engine === 'node') return undefined;
  const executable = findZstdBinary();
  if (executable === undefined && engine === 'binary') {
    throw new HoistError('HOIST_CONFIG_INVALID', 'HOIST_ZSTD=binary, but no zstd executable is on PATH; install zstd or set HOIST_ZSTD=node');
  }
  return executable;
}

const NESTED_MAGIC: readonly (readonly number[])[] = [
  [0x1f, 0x8b], // gzip
  [0x28, 0xb5, 0x2f, 0xfd], // zstd
];

/** Enough of the head of the tar stream to tell a second layer of compression. */
const HEAD_BYTES = Math.max(...NESTED_MAGIC.map((m) => m.length));

export class DecompressionGuard extends Transform {
  readonly #budget: number;
  readonly #ratio: number;
  #seen = 0;
  /** The first bytes, held back until there are enough to check (a frame may hold one byte). */
  #head: Buffer | undefined = Buffer.alloc(0);

  constructor(budget: number, ratio: number) {
    super();
    this.#budget = budget;
    this.#ratio = ratio;
  }

  get bytes(): number {
    return this.#seen;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.#budget) {
      callback(
        new HoistError(
          'HOIST_UNPACK_LIMIT',
          `unpack stopped: the archive decompresses to more than ${this.#budget} bytes, over ${this.#ratio}x its compressed size; raise the decompression ratio cap only if the release is genuinely this compressible`,
          { details: { limit: 'maxDecompressionRatio', bytes: this.#seen } },
        ),
      );
      return;
    }
    if (this.#head !== undefined) {
      const head = this.#head.length === 0 ? chunk : Buffer.concat([this.#head, chunk]);
      if (head.length < HEAD_BYTES) {
        this.#head = head;
        callback();
        return;
      }
      this.#head = undefined;
      callback(nestedCompression(head), head);
      return;
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const head = this.#head;
    this.#head = undefined;
    if (head === undefined || head.length === 0) callback();
    else callback(nestedCompression(head), head);
  }
}

/** A HoistError when the tar stream starts like a compressed one, else null. */
function nestedCompression(head: Buffer): HoistError | null {
  if (!NESTED_MAGIC.some((magic) => magic.every((byte, i) => head[i] === byte))) return null;
  // node-tar would sniff and decompress a second layer, out of reach of our byte counting.
  return new HoistError('HOIST_UNPACK_FAILED', 'the archive is compressed twice; publish a single tar+gzip or tar+zstd made by hoist pack');
}
