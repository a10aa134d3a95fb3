/**
 * Reading the change evidence of one app and env: the history copies (`history/`, channels and
 * pins), the approval statements (`approvals/`) and the deploy events (`events/`). One paged LIST
 * per folder; history copies and approval statements are fetched in parallel (bounded), events are
 * never fetched: the listing names the sequence, the outcome and the host, and S3's LastModified
 * says when (S3's clock, not the host's). Nothing read is trusted here; history.ts and audit.ts
 * check signatures with the policy given.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { getObjectBytes, listKeys } from '../aws/object-store.ts';
import type { S3Keys } from '../aws/keys.ts';
import { parseEventKey, parseHistoryKey } from '../dashboard/keys.ts';
import { DEFAULT_MAX_ENVELOPE_BYTES } from '../dsse/envelope.ts';
import { isAwsFailure } from '../aws/errors.ts';
import { toHoistError } from '../errors.ts';
import { mapLimit } from '../fleet/map-limit.ts';

export interface EvidenceEntry {
  readonly key: string;
  readonly kind: 'release' | 'pin';
  readonly sequence: number;
  readonly bytes?: Buffer;
  /** Why it could not be read (deleted since the listing, too large). */
  readonly error?: string;
}

/** sequence → outcome → the hosts with that event, and when it was written (ms; null if unknown). */
export type EventListing = Map<number, Map<string, Array<{ readonly host: string; readonly at: number | null }>>>;

export interface Evidence {
  /** Newest first; a release and a pin may share a sequence. */
  readonly entries: readonly EvidenceEntry[];
  /** Approval statements by the sequence they approve. */
  readonly approvals: ReadonlyMap<number, readonly Buffer[]>;
  readonly events: EventListing;
}

export interface ReadEvidenceOptions {
  readonly bucket: string;
  readonly keys: S3Keys;
  readonly app: string;
  readonly env: string;
  /**
   * Skip history entries whose sequence is below this (ms). Publishers use `max(now, previous + 1)`
   * as the sequence, so a manifest issued at or after a time has a sequence at or above it.
   */
  readonly minSequence?: number | undefined;
  readonly concurrency?: number;
  readonly signal?: AbortSignal | undefined;
}

export async function readEvidence(s3: S3Client, o: ReadEvidenceOptions): Promise<Evidence> {
  const historyFolder = o.keys.historyPrefix(o.app, o.env);
  const approvalsFolder = o.keys.approvalsPrefix(o.app, o.env);
  const [historyItems, approvalItems, events] = await Promise.all([
    collect(s3, o.bucket, historyFolder, o.signal),
    collect(s3, o.bucket, approvalsFolder, o.signal),
    readEvents(s3, { bucket: o.bucket, keys: o.keys, app: o.app, env: o.env, signal: o.signal }),
  ]);
  const listed = historyItems.flatMap((item) => {
    const at = parseHistoryKey(historyFolder, item.key);
    return at === undefined || (o.minSequence !== undefined && at.sequence < o.minSequence) ? [] : [{ key: item.key, ...at }];
  });
  listed.sort((a, b) => b.sequence - a.sequence || (a.kind === b.kind ? 0 : a.kind === 'release' ? -1 : 1));
  const entries = await mapLimit(listed, o.concurrency ?? 16, async (item): Promise<EvidenceEntry> => {
    const bytes = await fetch(s3, o.bucket, item.key, o.signal);
    return typeof bytes === 'string' ? { ...item, error: bytes } : { ...item, bytes };
  });
  const approvalKeys = approvalItems.flatMap((item) => {
    const rest = item.key.slice(approvalsFolder.length).split('/');
    const sequence = rest.length === 2 && /^\d{1,16}$/.test(rest[0] ?? '') ? Number(rest[0]) : undefined;
    return sequence === undefined || (o.minSequence !== undefined && sequence < o.minSequence) ? [] : [{ key: item.key, sequence }];
  });
  const statements = await mapLimit(approvalKeys, o.concurrency ?? 16, async (a) => ({ sequence: a.sequence, bytes: await fetch(s3, o.bucket, a.key, o.signal) }));
  const approvals = new Map<number, Buffer[]>();
  for (const s of statements) {
    if (typeof s.bytes === 'string') continue;
    approvals.set(s.sequence, [...(approvals.get(s.sequence) ?? []), s.bytes]);
  }
  return { entries, approvals, events };
}

/** Every event of an app and env (one LIST, paged), or of one of its sequences. */
export async function readEvents(s3: S3Client, at: { bucket: string; keys: S3Keys; app: string; env: string; sequence?: number | undefined; signal?: AbortSignal | undefined }): Promise<EventListing> {
  const out: EventListing = new Map();
  // the keys under events/<app>/<env>/ name <sequence>/<outcome>/<host>.json
  const base = at.keys.eventsPrefix(at.app, at.env);
  for (const item of await collect(s3, at.bucket, at.keys.eventsPrefix(at.app, at.env, at.sequence), at.signal)) {
    const rest = item.key.slice(base.length).split('/');
    if (rest.length !== 3 || !/^\d{1,16}$/.test(rest[0] ?? '')) continue;
    const sequence = Number(rest[0]);
    const event = parseEventKey(`${base}${rest[0] ?? ''}/`, item.key);
    if (event === undefined) continue;
    let outcomes = out.get(sequence);
    if (outcomes === undefined) out.set(sequence, (outcomes = new Map<string, Array<{ host: string; at: number | null }>>()));
    let hosts = outcomes.get(event.outcome);
    if (hosts === undefined) outcomes.set(event.outcome, (hosts = []));
    // appended in place: a fleet of thousands of hosts is one list per outcome, not a copy per host
    hosts.push({ host: event.host, at: item.lastModified?.getTime() ?? null });
  }
  return out;
}

/** The approval statements under one sequence's folder of approvals/. */
export async function readApprovalStatements(s3: S3Client, bucket: string, folder: string, signal?: AbortSignal): Promise<Buffer[]> {
  const items = (await collect(s3, bucket, folder, signal)).filter((i) => i.key.endsWith('.json') && !i.key.slice(folder.length).includes('/'));
  const got = await mapLimit(items, 8, (i) => fetch(s3, bucket, i.key, signal));
  return got.filter((b): b is Buffer => typeof b !== 'string');
}

async function collect(s3: S3Client, bucket: string, prefix: string, signal: AbortSignal | undefined): Promise<Array<{ key: string; lastModified?: Date }>> {
  const out: Array<{ key: string; lastModified?: Date }> = [];
  for await (const item of listKeys(s3, { bucket, prefix, signal })) out.push({ key: item.key, ...(item.lastModified === undefined ? {} : { lastModified: item.lastModified }) });
  return out;
}

/** The bytes, or why not (an entry that cannot be read is shown, not fatal; the bucket unreachable is). */
async function fetch(s3: S3Client, bucket: string, key: string, signal: AbortSignal | undefined): Promise<Buffer | string> {
  try {
    return (await getObjectBytes(s3, { bucket, key, maxBytes: DEFAULT_MAX_ENVELOPE_BYTES, signal })) ?? 'deleted since it was listed';
  } catch (error) {
    if (signal?.aborted || isAwsFailure(error)) throw error;
    return `${toHoistError(error).code}: ${toHoistError(error).message}`;
  }
}
