/**
 * Small-object access to the release bucket: manifests, pins, history and status reports. Every
 * function takes the S3Client as a parameter and every request carries the caller's AbortSignal.
 * Artifact downloads (large, resumable) live in src/fetch/, not here.
 */
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { HoistError } from '../errors.ts';
import { isNotFound, isNotModified, isPreconditionFailed, wrapAwsError } from './errors.ts';

export interface ObjectRef {
  bucket: string;
  key: string;
  signal?: AbortSignal | undefined;
}

export type GetIfChangedResult =
  | { status: 'not-modified' }
  | { status: 'missing' }
  | { status: 'ok'; body: Buffer; etag: string | undefined };

function url(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/** An abort is the caller's decision, not an S3 failure: rethrow its reason untouched. */
function rethrow(err: unknown, signal: AbortSignal | undefined, what: string): never {
  if (signal?.aborted) throw signal.reason;
  throw wrapAwsError(err, 'S3', what);
}

function sendOptions(signal: AbortSignal | undefined): { abortSignal?: AbortSignal } {
  return signal === undefined ? {} : { abortSignal: signal };
}

/**
 * GETs a small object, conditionally when `etag` is given (so an unchanged object costs one 304
 * and no body). Never holds more than maxBytes + 1 bytes of a body that turns out too large.
 */
export async function getObjectIfChanged(
  s3: S3Client,
  options: ObjectRef & { etag?: string | undefined; maxBytes: number },
): Promise<GetIfChangedResult> {
  const { bucket, key, etag, maxBytes, signal } = options;
  const what = `GetObject ${url(bucket, key)}`;
  let out;
  try {
    out = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: key, ...(etag === undefined ? {} : { IfNoneMatch: etag }) }),
      sendOptions(signal),
    );
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    if (isNotModified(err)) return { status: 'not-modified' };
    if (isNotFound(err)) return { status: 'missing' };
    return rethrow(err, signal, what);
  }
  const body = out.Body as (AsyncIterable<Uint8Array> & { destroy?: (err?: Error) => void }) | undefined;
  if (body === undefined) return { status: 'ok', body: Buffer.alloc(0), etag: out.ETag };
  const tooLarge = (size: number | string): HoistError =>
    new HoistError('HOIST_ENVELOPE_TOO_LARGE', `${url(bucket, key)} is ${size} bytes, over the ${maxBytes}-byte limit; manifests are small, check what wrote it`, {
      details: { bucket, key, maxBytes, size },
    });
  if (out.ContentLength !== undefined && out.ContentLength > maxBytes) {
    body.destroy?.();
    throw tooLarge(out.ContentLength);
  }
  const bytes = await readCapped(body, maxBytes, signal, what);
  if (bytes === undefined) throw tooLarge(`more than ${maxBytes}`);
  return { status: 'ok', body: bytes, etag: out.ETag };
}

/** Reads a body stream; undefined as soon as it exceeds maxBytes (the stream is then destroyed). */
async function readCapped(
  body: AsyncIterable<Uint8Array> & { destroy?: (err?: Error) => void },
  maxBytes: number,
  signal: AbortSignal | undefined,
  what: string,
): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let total = 0;
  // The request's abort listener is gone once headers arrive; destroy the body ourselves.
  const onAbort = (): void => body.destroy?.(signal?.reason as Error);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of body) {
      const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      const room = maxBytes + 1 - total;
      chunks.push(buf.byteLength > room ? buf.subarray(0, room) : buf);
      total += Math.min(buf.byteLength, room);
      if (total > maxBytes) {
        body.destroy?.();
        return undefined;
      }
    }
  } catch (err) {
    return rethrow(err, signal, what);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (signal?.aborted) throw signal.reason;
  return Buffer.concat(chunks, total);
}

/** The object's bytes, or undefined when it does not exist. */
export async function getObjectBytes(s3: S3Client, options: ObjectRef & { maxBytes: number }): Promise<Buffer | undefined> {
  const result = await getObjectIfChanged(s3, options);
  return result.status === 'ok' ? result.body : undefined;
}

/**
 * A conditional write: `ifNoneMatch: '*'` writes only a key that does not exist yet (write-once
 * objects), `ifMatch` only over the version with that ETag. S3 enforces both (412 when the
 * condition fails); a store without conditional writes ignores the headers and writes anyway.
 */
export interface WriteCondition {
  readonly ifNoneMatch?: '*' | undefined;
  readonly ifMatch?: string | undefined;
}

export async function putObjectBytes(
  s3: S3Client,
  options: ObjectRef & { body: Uint8Array | string; contentType?: string | undefined } & WriteCondition,
): Promise<void> {
  const { bucket, key, body, contentType, signal, ifNoneMatch, ifMatch } = options;
  try {
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: body,
        ...(contentType === undefined ? {} : { ContentType: contentType }),
        ...(ifNoneMatch === undefined ? {} : { IfNoneMatch: ifNoneMatch }),
        ...(ifMatch === undefined ? {} : { IfMatch: ifMatch }),
      }),
      sendOptions(signal),
    );
  } catch (err) {
    if (!signal?.aborted && isPreconditionFailed(err)) {
      throw new HoistError('HOIST_PRECONDITION', `${url(bucket, key)} ${ifMatch === undefined ? 'already exists, and it is written once' : 'changed since it was read'}`, {
        cause: err,
        details: { bucket, key, ...(ifMatch === undefined ? {} : { ifMatch }) },
      });
    }
    rethrow(err, signal, `PutObject ${url(bucket, key)}`);
  }
}

/**
 * Writes an object that is written once and never rewritten (history copies, events, approval
 * statements): `If-None-Match: *`, so S3 refuses a second write. `exists` when it was there.
 */
export async function putObjectOnce(s3: S3Client, options: ObjectRef & { body: Uint8Array | string; contentType?: string | undefined }): Promise<'written' | 'exists'> {
  try {
    await putObjectBytes(s3, { ...options, ifNoneMatch: '*' });
    return 'written';
  } catch (err) {
    if (err instanceof HoistError && err.code === 'HOIST_PRECONDITION') return 'exists';
    throw err;
  }
}

/** Writes `value` as pretty-printed JSON with a trailing newline (status reports are read by humans too). */
export async function putObjectJson(
  s3: S3Client,
  options: ObjectRef & { value: unknown; contentType?: string | undefined },
): Promise<void> {
  const { value, contentType, ...rest } = options;
  await putObjectBytes(s3, { ...rest, body: `${JSON.stringify(value, null, 2)}\n`, contentType: contentType ?? 'application/json' });
}

export interface ListedKey {
  key: string;
  size: number;
  lastModified?: Date;
  /** As S3 lists it (quoted); equal to the ETag a GET answers, so a changed object shows in the listing. */
  etag?: string;
}

/** Every key under `prefix`, page by page (ListObjectsV2), in S3's lexicographic order. */
export async function* listKeys(
  s3: S3Client,
  options: {
    bucket: string;
    prefix: string;
    signal?: AbortSignal | undefined;
    pageSize?: number | undefined;
    /** Called before each page is requested (request counting). */
    onPage?: (() => void) | undefined;
  },
): AsyncIterable<ListedKey> {
  const { bucket, prefix, signal, pageSize, onPage } = options;
  let token: string | undefined;
  // Bounded by the bucket: S3 ends the listing with IsTruncated=false.
  for (;;) {
    let out;
    onPage?.();
    try {
      out = await s3.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix,
          ...(pageSize === undefined ? {} : { MaxKeys: pageSize }),
          ...(token === undefined ? {} : { ContinuationToken: token }),
        }),
        sendOptions(signal),
      );
    } catch (err) {
      rethrow(err, signal, `ListObjectsV2 ${url(bucket, prefix)}`);
    }
    for (const item of out.Contents ?? []) {
      if (item.Key === undefined) continue;
      yield {
        key: item.Key,
        size: item.Size ?? 0,
        ...(item.LastModified === undefined ? {} : { lastModified: item.LastModified }),
        ...(item.ETag === undefined ? {} : { etag: item.ETag }),
      };
    }
    token = out.IsTruncated === true ? out.NextContinuationToken : undefined;
    if (token === undefined) return;
  }
}

/** Size and ETag of an object, or undefined when it does not exist. */
export async function headObject(s3: S3Client, options: ObjectRef): Promise<{ size: number; etag?: string } | undefined> {
  const { bucket, key, signal } = options;
  try {
    const out = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), sendOptions(signal));
    return { size: out.ContentLength ?? 0, ...(out.ETag === undefined ? {} : { etag: out.ETag }) };
  } catch (err) {
    if (!signal?.aborted && isNotFound(err)) return undefined;
    return rethrow(err, signal, `HeadObject ${url(bucket, key)}`);
  }
}
