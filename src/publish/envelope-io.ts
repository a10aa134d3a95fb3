/**
 * Reading and writing the signed manifests in the bucket: the channel, the pin and
 * the history copies. What is read here is *not* verified (the publisher may have no trust
 * file); it only feeds sequences and choices the operator then signs. `--trust` adds the check.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { getObjectBytes, getObjectIfChanged, putObjectBytes, putObjectOnce, type WriteCondition } from '../aws/object-store.ts';
import { decodePayload, parseEnvelope, serializeEnvelope, DEFAULT_MAX_ENVELOPE_BYTES, type Envelope } from '../dsse/envelope.ts';
import { HoistError } from '../errors.ts';
import { parseManifest, type Manifest, type ReleaseManifest } from '../manifest/schema.ts';

export interface StoredManifest {
  readonly key: string;
  readonly envelope: Envelope;
  readonly manifest: Manifest;
}

/** A stored manifest as read: with its ETag (for a conditional rewrite) and its bytes. */
export interface ReadManifest extends StoredManifest {
  readonly etag?: string | undefined;
  readonly bytes: Buffer;
}

export interface Location {
  readonly bucket: string;
  readonly key: string;
  readonly signal?: AbortSignal | undefined;
}

/** The envelope at `key`, parsed (not verified); undefined when there is no object. */
export async function readStoredManifest(s3: S3Client, at: Location): Promise<ReadManifest | undefined> {
  const got = await getObjectIfChanged(s3, { ...at, maxBytes: DEFAULT_MAX_ENVELOPE_BYTES });
  if (got.status !== 'ok') return undefined;
  return { key: at.key, etag: got.etag, bytes: got.body, ...decodeStored(got.body, `s3://${at.bucket}/${at.key}`) };
}

/** Which channel a command acts on. */
export interface ChannelAt extends Location {
  readonly app: string;
  readonly env: string;
}

/**
 * The channel's envelope, for a command that acts on what it carries: HOIST_CHANNEL_NOT_FOUND
 * when there is none, its message ending with `hint` (what the operator can do).
 */
export async function readChannel(s3: S3Client, at: ChannelAt, hint: string): Promise<ReadManifest> {
  const stored = await readStoredManifest(s3, at);
  if (stored === undefined) {
    throw new HoistError('HOIST_CHANNEL_NOT_FOUND', `no release is published for ${at.app}/${at.env} (s3://${at.bucket}/${at.key} does not exist); ${hint}`);
  }
  return stored;
}

/** The channel's manifest when it is a release of `at.app`/`at.env`; HOIST_MANIFEST_MISMATCH, ending with `hint`, otherwise. */
export function channelRelease(stored: StoredManifest, at: ChannelAt, hint: string): ReleaseManifest {
  const m = stored.manifest;
  if (m.kind !== 'release' || m.app !== at.app || m.env !== at.env) {
    throw new HoistError('HOIST_MANIFEST_MISMATCH', `s3://${at.bucket}/${at.key} holds a ${m.kind} manifest for ${m.app}/${m.env}, not a release for ${at.app}/${at.env}; ${hint}`);
  }
  return m;
}

/** Parses envelope bytes and the manifest they carry; errors name where the bytes came from. */
export function decodeStored(bytes: Uint8Array, source: string): { envelope: Envelope; manifest: Manifest } {
  try {
    const envelope = parseEnvelope(bytes);
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(decodePayload(envelope)));
    } catch (cause) {
      throw new HoistError('HOIST_MANIFEST_INVALID', 'the payload is not UTF-8 JSON', { cause });
    }
    return { envelope, manifest: parseManifest(value) };
  } catch (error) {
    if (error instanceof HoistError) {
      throw new HoistError(error.code, `${source}: ${error.message}`, { cause: error, ...(error.details === undefined ? {} : { details: error.details }) });
    }
    throw error;
  }
}

/** The sequence an existing object carries, tolerating garbage (it only raises the floor). */
export async function readSequence(s3: S3Client, at: Location): Promise<number | undefined> {
  const bytes = await getObjectBytes(s3, { ...at, maxBytes: DEFAULT_MAX_ENVELOPE_BYTES });
  if (bytes === undefined) return undefined;
  try {
    const payload = JSON.parse(decodePayload(parseEnvelope(bytes)).toString('utf8')) as unknown;
    const sequence = typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>).sequence : undefined;
    return typeof sequence === 'number' && Number.isSafeInteger(sequence) ? sequence : undefined;
  } catch {
    return undefined;
  }
}

/** Writes an envelope; `ifMatch` only over the version read (the channel under `hoist approve`). */
export async function writeEnvelope(s3: S3Client, at: Location & { envelope: Envelope } & WriteCondition): Promise<void> {
  await putObjectBytes(s3, {
    bucket: at.bucket,
    key: at.key,
    body: serializeEnvelope(at.envelope),
    contentType: 'application/json',
    signal: at.signal,
    ...(at.ifMatch === undefined ? {} : { ifMatch: at.ifMatch }),
    ...(at.ifNoneMatch === undefined ? {} : { ifNoneMatch: at.ifNoneMatch }),
  });
}

/**
 * Writes a copy that is written once and never rewritten (`history/`): S3 refuses a second write
 * (If-None-Match: *). An existing key means the sequence was used by another publish at the same
 * moment: HOIST_PRECONDITION, and the caller writes nothing else.
 */
export async function writeHistoryOnce(s3: S3Client, at: Location & { envelope: Envelope }): Promise<void> {
  const result = await putObjectOnce(s3, { bucket: at.bucket, key: at.key, body: serializeEnvelope(at.envelope), contentType: 'application/json', signal: at.signal });
  if (result === 'exists') {
    throw new HoistError('HOIST_PRECONDITION', `s3://${at.bucket}/${at.key} already exists: another publish took this sequence at the same moment; nothing else was written, run the command again`, {
      details: { bucket: at.bucket, key: at.key },
    });
  }
}
