/**
 * What an SQS message body tells the agent. Pure and total: it never throws,
 * because a queue anyone can send to must not be able to crash the agent.
 *
 * A message is only a hint. An envelope found here is verified exactly as if read from S3, and an
 * S3 event only names keys for the agent to GET; nothing here checks a signature.
 */
import { isTrustRootKey, parseManifestKey } from '../aws/keys.ts';
import type { ManifestKind } from '../aws/keys.ts';

export interface ManifestKeyHint {
  bucket: string;
  key: string;
  kind: ManifestKind;
  app: string;
  env: string;
}

export type SqsBody =
  | { type: 'envelope'; bytes: Buffer }
  /** `trust`: the event also names trust/root.json (in that bucket): refresh the trust document. */
  | { type: 's3-keys'; keys: ManifestKeyHint[]; trust?: { bucket: string } }
  | { type: 'ignore'; reason: string }
  | { type: 'garbage'; reason: string };

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseSqsBody(body: string, prefix: string): SqsBody {
  return parseText(body, prefix, false);
}

function parseText(text: string, prefix: string, insideSns: boolean): SqsBody {
  const where = insideSns ? 'the SNS Message' : 'the message body';
  if (text.trim() === '') return { type: 'garbage', reason: `${where} is empty` };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { type: 'garbage', reason: `${where} is not JSON` };
  }
  if (!isObject(value)) return { type: 'garbage', reason: `${where} is JSON but not an object` };

  // Keep the original bytes: the verifier must see exactly what was signed and sent.
  if ('payloadType' in value && 'payload' in value && 'signatures' in value) {
    return { type: 'envelope', bytes: Buffer.from(text, 'utf8') };
  }
  if (value['Type'] === 'Notification' && !insideSns) {
    const message = value['Message'];
    if (typeof message !== 'string') return { type: 'garbage', reason: 'SNS notification without a string Message' };
    return parseText(message, prefix, true);
  }
  if (value['Event'] === 's3:TestEvent') return { type: 'ignore', reason: 'S3 test event' };
  if ('Records' in value) return parseS3Event(value['Records'], prefix);
  return { type: 'garbage', reason: `${where} is neither a DSSE envelope, an SNS notification nor an S3 event` };
}

function parseS3Event(records: unknown, prefix: string): SqsBody {
  if (!Array.isArray(records)) return { type: 'garbage', reason: 'S3 event Records is not an array' };
  const keys: ManifestKeyHint[] = [];
  const seen = new Set<string>();
  let trust: { bucket: string } | undefined;
  for (const record of records as unknown[]) {
    if (!isObject(record) || record['eventSource'] !== 'aws:s3') continue;
    const s3 = record['s3'];
    const bucket = isObject(s3) && isObject(s3['bucket']) ? s3['bucket']['name'] : undefined;
    const rawKey = isObject(s3) && isObject(s3['object']) ? s3['object']['key'] : undefined;
    if (typeof bucket !== 'string' || typeof rawKey !== 'string') {
      return { type: 'garbage', reason: 'S3 event record without s3.bucket.name and s3.object.key' };
    }
    const key = decodeS3EventKey(rawKey);
    if (key === undefined) return { type: 'garbage', reason: `S3 event key ${JSON.stringify(rawKey)} is not URL-encoded correctly` };
    if (isTrustRootKey(prefix, key)) {
      trust ??= { bucket };
      continue;
    }
    const parsed = parseManifestKey(prefix, key);
    const id = `${bucket}\n${key}`;
    if (parsed === undefined || seen.has(id)) continue;
    seen.add(id);
    keys.push({ bucket, key, ...parsed });
  }
  if (keys.length === 0 && trust === undefined) return { type: 'ignore', reason: 'S3 event names no channel, pin or trust key' };
  return { type: 's3-keys', keys, ...(trust === undefined ? {} : { trust }) };
}

/** S3 event keys are form-encoded: '+' is a space, everything else percent-encoded. */
export function decodeS3EventKey(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}
