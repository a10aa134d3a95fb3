/**
 * What any unpack built on the unpack's decoder and node-tar's Parser pays before it writes a file:
 * the archive decoded (createDecompressor, as the unpack decodes it), and parsed with node-tar's
 * Parser (strict, as the unpack parses it), the output dropped.
 */
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Parser, type ReadEntry } from 'tar';
import type { ArtifactFormat } from '../../src/fetch/download.ts';
import { createDecompressor } from '../../src/unpack/decompress.ts';

const READ_CHUNK = 1024 * 1024;

/** Decodes `file` and drops what comes out. */
export async function decodeToNothing(file: string, format: ArtifactFormat): Promise<void> {
  await pipeline(createReadStream(file, { highWaterMark: READ_CHUNK }), createDecompressor(format), async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) void chunk;
  });
}

/** Decodes `file` and parses its tar, every entry read to its end and dropped. */
export async function parseToNothing(file: string, format: ArtifactFormat): Promise<void> {
  const parser = new Parser({ strict: true });
  parser.on('entry', (entry: ReadEntry) => entry.resume());
  const ended = new Promise<void>((resolve, reject) => {
    parser.on('end', resolve);
    parser.on('error', reject);
  });
  await pipeline(createReadStream(file, { highWaterMark: READ_CHUNK }), createDecompressor(format), async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) parser.write(chunk);
    parser.end();
  });
  await ended;
}
