/**
 * What a publisher learns by reading its artifact once before it signs: the bytes it unpacks to
 * (recorded in the manifest's notes, so each agent checks its free space before downloading) and
 * that it is whole. An archive cut short (no tar end-of-archive marker, a compressed stream that
 * stops inside a frame) is refused here, before anything is uploaded, as every agent would refuse
 * it later.
 */
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Parser, type ReadEntry } from 'tar';
import { HoistError, isHoistError } from '../errors.ts';
import type { ArchiveFormat } from '../pack/pack.ts';
import { createDecompressor } from '../unpack/decompress.ts';

export interface ArchiveFacts {
  /** Sum of the sizes of the regular files. */
  readonly unpackedBytes: number;
  readonly entries: number;
}

export async function archiveFacts(file: string, format: ArchiveFormat, signal?: AbortSignal): Promise<ArchiveFacts> {
  let unpackedBytes = 0;
  let entries = 0;
  let sawEnd = false;
  let warning: unknown;
  const parser = new Parser({ strict: true });
  parser.on('entry', (entry: ReadEntry) => {
    entries += 1;
    if (entry.type === 'File' || entry.type === 'OldFile' || entry.type === 'ContiguousFile') unpackedBytes += entry.size;
    entry.resume();
  });
  parser.on('error', (error: unknown) => (warning ??= error));
  parser.on('eof', () => (sawEnd = true));
  try {
    await pipeline(
      createReadStream(file, { highWaterMark: 1024 * 1024 }),
      createDecompressor(format, signal === undefined ? {} : { signal }),
      async function feed(source: AsyncIterable<Buffer>) {
        for await (const chunk of source) if (!sawEnd) parser.write(chunk);
      },
      signal === undefined ? {} : { signal },
    );
    parser.end();
  } catch (error) {
    if (signal?.aborted === true) throw signal.reason;
    if (isHoistError(error)) throw error;
    throw new HoistError('HOIST_UNPACK_FAILED', `${file} is not a readable ${format} archive: ${error instanceof Error ? error.message : String(error)}; pack it again with hoist pack`, { cause: error });
  }
  if (warning !== undefined) {
    throw new HoistError('HOIST_UNPACK_FAILED', `${file} is not a valid tar: ${warning instanceof Error ? warning.message : 'tar reported a warning'}; pack it again with hoist pack`, { cause: warning });
  }
  if (!sawEnd) {
    throw new HoistError('HOIST_ARCHIVE_TRUNCATED', `${file} stops after ${entries} entries without the tar end-of-archive marker: it was cut short; pack it again (agents would refuse it)`);
  }
  return { unpackedBytes, entries };
}
