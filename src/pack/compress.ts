/**
 * The compressor of `hoist pack`: node:zlib's gzip (level 6, zlib's default and what GNU tar's
 * `gzip` uses) run on the libuv thread pool while the main thread reads the next files; for zstd
 * (level 3, zstd's default) the `zstd` executable when PATH has one, in a process of its own as
 * `tar --zstd` runs it, else node:zlib's. HOIST_ZSTD (`auto`, `binary`, `node`) chooses, as for the
 * unpack. node:zlib's zstd compressor cost 1.36-1.70x the CPU of `tar --zstd` on the bench trees:
 * it compresses one buffer at a time on one pool thread, handing each back to the main thread,
 * while the executable streams on its own core.
 *
 * The `zstd` executable writes the archive's temp file itself (its stdout is that file), so the
 * compressed bytes do not come back through this process; pack.ts hashes the file once it is
 * complete. Measured on the 5,000-file bench tree: 0.90 -> 0.82 s of CPU for the whole pack.
 *
 * Output buffers of 256 KiB: compressing one 1 MiB input buffer is then one job on the pool for
 * zstd and one or two for gzip (text compresses 3-4x). With Node's default of 16 KiB the pool
 * would stop every 16 KiB of output to wait for the main thread, which is busy reading; larger
 * buffers only raise the peak RSS, since each is garbage until V8 collects it (measured: 1 MiB
 * buffers, 2-3 MiB more, no CPU difference).
 */
import type { Duplex } from 'node:stream';
import zlib from 'node:zlib';
import { zstdEngineFromEnv, zstdExecutable, type ZstdEngine } from '../unpack/decompress.ts';
import { ZstdProcess } from '../unpack/zstd-binary.ts';
import type { ArchiveFormat } from './pack.ts';

/** Offset of the gzip header's OS byte (RFC 1952): zlib writes 3 (Unix), a portable header 255. */
const GZIP_OS_BYTE = 9;
const GZIP_OS_UNKNOWN = 0xff;

const OUTPUT_CHUNK_BYTES = 256 * 1024;

export interface Compressor {
  /** Takes the uncompressed tar. */
  readonly stream: Duplex;
  /**
   * Whether it writes the compressed bytes to `output` itself; the stream then yields nothing and
   * ends once they are all written. Otherwise the stream yields them.
   */
  readonly writesOutput: boolean;
}

/**
 * `openOutput` opens the archive's temp file for the `zstd` executable to write to directly; it is
 * called only when that is what compresses. Throws HOIST_CONFIG_INVALID for a HOIST_ZSTD it does
 * not know, or `binary` with no `zstd` on PATH.
 */
export function createCompressor(format: ArchiveFormat, engine: ZstdEngine | undefined, openOutput: () => number): Compressor {
  if (format === 'tar+gzip') return { stream: zlib.createGzip({ chunkSize: OUTPUT_CHUNK_BYTES }), writesOutput: false };
  const executable = zstdExecutable(engine ?? zstdEngineFromEnv(process.env['HOIST_ZSTD']));
  if (executable === undefined) return { stream: zlib.createZstdCompress({ chunkSize: OUTPUT_CHUNK_BYTES }), writesOutput: false };
  return { stream: new ZstdProcess(executable, { chunkSize: OUTPUT_CHUNK_BYTES, mode: 'compress', output: openOutput() }), writesOutput: true };
}

/**
 * Makes the gzip header say "unknown OS", as node-tar's portable gzip did, so the archive does
 * not tell which system built it. zlib already leaves the header's mtime at 0 and names no file.
 * `position` is the offset of `chunk` in the compressed stream.
 */
export function portableGzipHeader(chunk: Buffer, position: number): void {
  if (position <= GZIP_OS_BYTE && GZIP_OS_BYTE < position + chunk.length) chunk[GZIP_OS_BYTE - position] = GZIP_OS_UNKNOWN;
}
