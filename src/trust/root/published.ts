/**
 * The publisher's side of `trust/`: what the bucket holds (the newest of trust/root.json and
 * trust/history/), and writing a new document, history first (so root.json never names a version
 * a walking host cannot find), never over another document of the same version.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { S3Keys } from '../../aws/keys.ts';
import { getObjectBytes, listKeys, putObjectBytes, putObjectOnce } from '../../aws/object-store.ts';
import { HoistError, isHoistError } from '../../errors.ts';
import { readTrustEnvelope, type TrustEnvelope } from './accept.ts';

export interface PublishedTrust {
  /** The newest readable document (by version), if any. */
  readonly newest?: TrustEnvelope;
  /** Objects under trust/ that are not readable documents (reported, never built on). */
  readonly unreadable: ReadonlyArray<{ key: string; error: HoistError }>;
}

const HISTORY_RE = /^(\d{1,16})\.json$/;

export async function readPublishedTrust(s3: S3Client, at: { bucket: string; keys: S3Keys; clockSkewMs: number; signal?: AbortSignal | undefined }): Promise<PublishedTrust> {
  const { bucket, keys, clockSkewMs, signal } = at;
  const unreadable: Array<{ key: string; error: HoistError }> = [];
  const read = async (key: string): Promise<TrustEnvelope | undefined> => {
    try {
      const bytes = await getObjectBytes(s3, { bucket, key, maxBytes: 65_536, signal });
      return bytes === undefined ? undefined : readTrustEnvelope(bytes, clockSkewMs);
    } catch (error) {
      if (!isHoistError(error) || error.code === 'HOIST_S3') throw error;
      unreadable.push({ key, error });
      return undefined;
    }
  };
  const root = await read(keys.trustRoot());
  const historyPrefix = keys.trustHistoryPrefix();
  const versions: number[] = [];
  for await (const item of listKeys(s3, { bucket, prefix: historyPrefix, signal })) {
    const match = HISTORY_RE.exec(item.key.slice(historyPrefix.length));
    const version = match === null ? Number.NaN : Number(match[1]);
    if (Number.isSafeInteger(version) && version > 0) versions.push(version);
  }
  // root.json may lag behind (or have been put back): the newest readable history entry wins.
  let newest = root;
  for (const version of versions.sort((a, b) => b - a)) {
    if (version <= (root?.document.version ?? 0)) break;
    const entry = await read(keys.trustHistory(version));
    if (entry !== undefined && entry.document.version === version) {
      newest = entry;
      break;
    }
  }
  return { ...(newest === undefined ? {} : { newest }), unreadable };
}

/**
 * Writes `trust/history/<version>.json` (unless that very payload is already there: a document
 * re-published with more signatures keeps its first copy) and then `trust/root.json`.
 * HOIST_TRUST_CONFLICT when the history already holds another document of that version.
 */
export async function writeTrustDocument(s3: S3Client, at: { bucket: string; keys: S3Keys; candidate: TrustEnvelope; text: string; signal?: AbortSignal | undefined }): Promise<string[]> {
  const { bucket, keys, candidate, text, signal } = at;
  const version = candidate.document.version;
  const historyKey = keys.trustHistory(version);
  const written: string[] = [];
  const existing = await getObjectBytes(s3, { bucket, key: historyKey, maxBytes: 65_536, signal }).catch((error: unknown) => {
    if (isHoistError(error, 'HOIST_ENVELOPE_TOO_LARGE')) return Buffer.from('');
    throw error;
  });
  if (existing !== undefined) {
    if (!samePayload(existing, candidate)) {
      throw new HoistError('HOIST_TRUST_CONFLICT', `s3://${bucket}/${historyKey} already holds another version ${version}; versions are never reused: check who published it (\`hoist trust show\`) and publish your change as the next version`, {
        details: { key: historyKey, version },
      });
    }
  } else {
    // Written once: S3 refuses (412) when another publisher wrote this version since the check.
    if ((await putObjectOnce(s3, { bucket, key: historyKey, body: text, contentType: 'application/json', signal })) === 'exists') {
      throw new HoistError('HOIST_TRUST_CONFLICT', `another trust document version ${version} was written to s3://${bucket}/${historyKey} meanwhile; check it (\`hoist trust show\`) and publish your change as the next version`, { details: { key: historyKey, version } });
    }
    written.push(historyKey);
  }
  await putObjectBytes(s3, { bucket, key: keys.trustRoot(), body: text, contentType: 'application/json', signal });
  written.push(keys.trustRoot());
  return written;
}

function samePayload(bytes: Buffer, candidate: TrustEnvelope): boolean {
  try {
    return readTrustEnvelope(bytes, 0).digest === candidate.digest;
  } catch {
    return false;
  }
}
