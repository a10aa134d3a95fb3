/**
 * Reaching the current trust document from the one a host holds: a conditional GET of
 * `trust/root.json` (an unchanged document costs one 304), then, when it is more than one version
 * ahead, `trust/history/<held + 1>.json`, `<held + 2>.json`, … by exact key, each judged by the
 * pure rules of accept.ts against the root held at that point. The walk stops at the first missing
 * or refused document and says why; what it reached so far is kept. S3 failures are thrown: the
 * walk is then not done, and the caller keeps verifying nothing new (fail closed).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { s3Keys } from '../../aws/keys.ts';
import { getObjectBytes, getObjectIfChanged } from '../../aws/object-store.ts';
import { HoistError } from '../../errors.ts';
import { acceptTrustDocument, type HeldTrust } from './accept.ts';
import { claimedVersion } from './document.ts';

export interface FollowOptions {
  readonly bucket: string;
  readonly prefix: string;
  readonly held: HeldTrust;
  /** ETag of the trust/root.json last judged, for If-None-Match. */
  readonly etag?: string | undefined;
  readonly now: Date;
  readonly maxBytes: number;
  readonly signal?: AbortSignal | undefined;
}

export interface FollowResult {
  /**
   * `not-modified`: root.json is unchanged since `etag`; `missing`: none is published; `current`:
   * root.json is the held document (or an older one, refused); `advanced`: at least one document
   * was taken; `stopped`: the walk stopped before anything was taken.
   */
  readonly status: 'not-modified' | 'missing' | 'current' | 'advanced' | 'stopped';
  /** What the host holds now (the same object as `options.held` when nothing was taken). */
  readonly held: HeldTrust;
  /** Versions taken, in order. */
  readonly accepted: readonly number[];
  /** Why a document was refused or the walk stopped short (reported, never thrown). */
  readonly error?: HoistError;
  /**
   * The ETag to send next time. Undefined after a walk that stopped in trust/history/, so the next
   * poll tries again (the missing document may be put back without root.json changing).
   */
  readonly etag?: string | undefined;
  /** Number of S3 requests made. */
  readonly requests: number;
}

export async function followTrust(s3: S3Client, options: FollowOptions): Promise<FollowResult> {
  const { bucket, held, now, maxBytes, signal } = options;
  const keys = s3Keys(options.prefix);
  const rootKey = keys.trustRoot();
  const root = await getObjectIfChanged(s3, { bucket, key: rootKey, etag: options.etag, maxBytes, signal }).catch((error: unknown) => {
    // An oversized object is an invalid document, not an unreachable bucket.
    if (error instanceof HoistError && error.code === 'HOIST_ENVELOPE_TOO_LARGE') return { status: 'too-large' as const, error };
    throw error;
  });
  if (root.status === 'not-modified') return { status: 'not-modified', held, accepted: [], etag: options.etag, requests: 1 };
  if (root.status === 'missing') return { status: 'missing', held, accepted: [], requests: 1 };
  if (root.status === 'too-large') {
    return { status: 'stopped', held, accepted: [], error: located(rootKey, new HoistError('HOIST_TRUST_INVALID', root.error.message, { cause: root.error })), requests: 1 };
  }

  let current = held;
  let requests = 1;
  const accepted: number[] = [];
  const target = claimedVersion(root.body);
  const done = (status: FollowResult['status'], extra: { error?: HoistError; etag?: string | undefined }): FollowResult => ({
    status: accepted.length > 0 ? 'advanced' : status,
    held: current,
    accepted,
    ...extra,
    requests,
  });

  // Documents between the held one and root.json come from the history, one version at a time.
  for (let version = held.version + 1; target !== undefined && version < target; version++) {
    const key = keys.trustHistory(version);
    const bytes = await getObjectBytes(s3, { bucket, key, maxBytes, signal }).catch((error: unknown) => {
      if (error instanceof HoistError && error.code === 'HOIST_ENVELOPE_TOO_LARGE') return error;
      throw error;
    });
    requests++;
    if (bytes === undefined) {
      const error = new HoistError(
        'HOIST_TRUST_CHAIN_BROKEN',
        `${rootKey} is version ${target} but ${key} is missing: this host stays at trust version ${current.version}; put the missing document back (S3 Object Lock on trust/history/ keeps it there)`,
        { details: { key, version, target, held: current.version } },
      );
      return done('stopped', { error });
    }
    const verdict = bytes instanceof HoistError ? { status: 'refused' as const, error: new HoistError('HOIST_TRUST_INVALID', bytes.message, { cause: bytes }) } : acceptTrustDocument(current, bytes, now, { last: false, maxBytes });
    if (verdict.status !== 'accepted') {
      const error = verdict.status === 'refused' ? verdict.error : new HoistError('HOIST_TRUST_VERSION', `${key} is not version ${version}`);
      return done('stopped', { error: located(key, error) });
    }
    current = verdict.held;
    accepted.push(version);
  }

  const verdict = acceptTrustDocument(current, root.body, now, { last: true, maxBytes });
  if (verdict.status === 'duplicate') return done('current', { etag: root.etag });
  if (verdict.status === 'refused') return done(verdict.error.code === 'HOIST_TRUST_VERSION' && (verdict.version ?? 0) <= current.version ? 'current' : 'stopped', { error: located(rootKey, verdict.error), etag: root.etag });
  current = verdict.held;
  accepted.push(verdict.held.version);
  return done('advanced', { etag: root.etag });
}

/** The refusal, with the key it was read from at the front of its message. */
function located(key: string, error: HoistError): HoistError {
  return new HoistError(error.code, `${key}: ${error.message}`, { cause: error, details: { ...error.details, key } });
}
