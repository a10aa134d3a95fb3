/**
 * Reads every status report of an app and env: the listing is paginated, the objects are fetched
 * in parallel with a bounded concurrency, and an unreadable object becomes an entry with its
 * reason instead of failing the whole command.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { getObjectBytes, listKeys } from '../aws/object-store.ts';
import { isHoistError, toHoistError } from '../errors.ts';
import { parseStatusReport } from '../report/status.ts';
import { mapLimit } from './map-limit.ts';
import type { FetchedReport } from './summary.ts';

const MAX_REPORT_BYTES = 64 * 1024;

export interface FetchReportsOptions {
  readonly bucket: string;
  /** s3Keys(prefix).statusPrefix(app, env) */
  readonly prefix: string;
  readonly concurrency?: number;
  readonly signal?: AbortSignal | undefined;
}

export async function fetchReports(s3: S3Client, options: FetchReportsOptions): Promise<FetchedReport[]> {
  const { bucket, prefix, signal } = options;
  const keys: string[] = [];
  for await (const item of listKeys(s3, { bucket, prefix, signal })) {
    const rest = item.key.slice(prefix.length);
    if (rest.endsWith('.json') && !rest.includes('/')) keys.push(item.key);
  }
  const fetched = await mapLimit(keys, options.concurrency ?? 16, async (key): Promise<FetchedReport | undefined> => {
    const hostId = key.slice(prefix.length, -'.json'.length);
    let bytes: Buffer | undefined;
    try {
      bytes = await getObjectBytes(s3, { bucket, key, maxBytes: MAX_REPORT_BYTES, signal });
    } catch (error) {
      if (signal?.aborted) throw error;
      return { key, hostId, error: isHoistError(error) ? error.message : toHoistError(error).message };
    }
    if (bytes === undefined) return undefined; // deleted since the listing
    let value: unknown;
    try {
      value = JSON.parse(bytes.toString('utf8'));
    } catch {
      return { key, hostId, error: 'not JSON' };
    }
    const report = parseStatusReport(value);
    return report === undefined ? { key, hostId, error: 'not a status report (unexpected shape)' } : { key, hostId, report };
  });
  return fetched.filter((r): r is FetchedReport => r !== undefined);
}
