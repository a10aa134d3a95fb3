/**
 * The compressor of `hoist pack`: node:zlib's gzip (level 6, zlib's default and what GNU tar's
 * `gzip` uses) or zstd (level 3, zstd's default), run on the libuv thread pool while the main
 * thread reads the next files.
 *
 * The output buffer is as large as the tar writer's input buffers, so compressing one input
 * buffer is one job on the pool: with Node's default of 16 KiB the pool would stop every 16 KiB
 * of output to wait for the main thread, which is busy reading.
 */
import type { Transform } from 'node:stream';
import zlib from 'node:zlib';
import type { ArchiveFormat } from './pack.ts';

/** Offset of the gzip header's OS byte (RFC 1952): zlib writes 3 (Unix), a portable header 255. */
const GZIP_OS_BYTE = 9;
const GZIP_OS_UNKNOWN = 0xff;

export function createCompressor(format: ArchiveFormat, chunkBytes: number): Transform {
  return format === 'tar+zstd' ? zlib.createZstdCompress({ chunkSize: chunkBytes }) : zlib.createGzip({ chunkSize: chunkBytes });
}

/**
 * Makes the gzip header say "unknown OS", as node-tar's portable gzip did, so the archive does
 * not tell which system built it. zlib already leaves the header's mtime at 0 and names no file.
 * `position` is the offset of `chunk` in the compressed stream.
 */
export function portableGzipHeader(chunk: Buffer, position: number): void {
  if (position <= GZIP_OS_BYTE && GZIP_OS_BYTE < position + chunk.length) chunk[GZIP_OS_BYTE - position] = GZIP_OS_UNKNOWN;
}
