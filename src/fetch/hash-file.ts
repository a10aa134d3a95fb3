/** Streams a file through SHA-256; used to verify cached artifacts and to resume a `.part`. */
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export interface HashedFile {
  /** The running hash, still open for more `update()`s (resume appends to it). */
  readonly hash: Hash;
  readonly size: number;
}

export async function hashFile(path: string, signal?: AbortSignal): Promise<HashedFile> {
  const hash = createHash('sha256');
  let size = 0;
  const stream = createReadStream(path, signal === undefined ? {} : { signal });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { hash, size };
}
