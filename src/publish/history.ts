/**
 * The channel history, `history/<app>/<env>/<sequence>.json`: a copy of every channel envelope
 * published. Listed newest first; entries are fetched in small parallel batches and only as far
 * as the search needs.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { isAwsFailure } from '../aws/errors.ts';
import { listKeys } from '../aws/object-store.ts';
import type { Manifest } from '../manifest/schema.ts';
import { mapLimit } from '../fleet/map-limit.ts';
import { readStoredManifest, type StoredManifest } from './envelope-io.ts';
import { historyKeySequence } from './sequence.ts';

export interface HistoryKey {
  readonly key: string;
  readonly sequence: number;
}

/** Every history key with its sequence, newest first. */
export async function listHistory(s3: S3Client, options: { bucket: string; prefix: string; signal?: AbortSignal | undefined }): Promise<HistoryKey[]> {
  const out: HistoryKey[] = [];
  for await (const item of listKeys(s3, { bucket: options.bucket, prefix: options.prefix, signal: options.signal })) {
    const sequence = historyKeySequence(options.prefix, item.key);
    if (sequence !== undefined) out.push({ key: item.key, sequence });
  }
  return out.sort((a, b) => b.sequence - a.sequence);
}

export interface FindOptions {
  readonly bucket: string;
  readonly keys: readonly HistoryKey[];
  readonly signal?: AbortSignal | undefined;
  /** Entries fetched at once. */
  readonly batch?: number;
  /** Called for entries that cannot be read or parsed; they are skipped. */
  readonly onSkip?: (key: string, error: unknown) => void;
  /** Extra acceptance check (e.g. signatures against --trust); a throw (or a rejection) skips the entry. */
  readonly accept?: (entry: StoredManifest) => void | Promise<void>;
}

/** The newest history entry (keys are newest first) the predicate accepts, or undefined. */
export async function findInHistory(s3: S3Client, match: (m: Manifest) => boolean, options: FindOptions): Promise<StoredManifest | undefined> {
  const batch = options.batch ?? 8;
  for (let i = 0; i < options.keys.length; i += batch) {
    const slice = options.keys.slice(i, i + batch);
    const entries = await mapLimit(slice, batch, async (k) => {
      try {
        return await readStoredManifest(s3, { bucket: options.bucket, key: k.key, signal: options.signal });
      } catch (error) {
        if (options.signal?.aborted) throw error;
        // The bucket being unreachable is not a bad entry: stop.
        if (isAwsFailure(error)) throw error;
        options.onSkip?.(k.key, error);
        return undefined;
      }
    });
    for (const [j, entry] of entries.entries()) {
      if (entry === undefined || !match(entry.manifest)) continue;
      try {
        await options.accept?.(entry);
      } catch (error) {
        options.onSkip?.(slice[j]?.key ?? entry.key, error);
        continue;
      }
      return entry;
    }
  }
  return undefined;
}
