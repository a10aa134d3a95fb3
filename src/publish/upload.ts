/**
 * The artifact upload: hash and sniff the file, then a multipart upload (@aws-sdk/lib-storage)
 * to its content-addressed key, skipped when an object of that key and size is already there.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Upload } from '@aws-sdk/lib-storage';
import { AbortMultipartUploadCommand, CreateMultipartUploadCommand, type S3Client } from '@aws-sdk/client-s3';
import { headObject } from '../aws/object-store.ts';
import { wrapAwsError } from '../aws/errors.ts';
import { HoistError, toHoistError } from '../errors.ts';
import type { ArtifactFormat } from '../manifest/schema.ts';
import { detectFormat } from './format.ts';

export interface InspectedArtifact {
  readonly sha256: string;
  readonly size: number;
  readonly format: ArtifactFormat;
}

/** SHA-256, size and format of a local artifact; HOIST_USAGE when it is missing or not gzip/zstd. */
export async function inspectArtifact(file: string, signal?: AbortSignal): Promise<InspectedArtifact> {
  let head: Buffer;
  try {
    const handle = await open(file, 'r');
    try {
      const { buffer, bytesRead } = await handle.read({ buffer: Buffer.alloc(4), position: 0 });
      head = buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR') {
      throw new HoistError('HOIST_USAGE', `artifact ${file} ${code === 'ENOENT' ? 'does not exist' : 'is a directory'}; give the tarball made by \`hoist pack\``, { cause });
    }
    throw toHoistError(cause, 'HOIST_IO');
  }
  const format = detectFormat(head);
  if (format === undefined) {
    throw new HoistError('HOIST_USAGE', `artifact ${file} is neither gzip nor zstd compressed (first bytes ${head.toString('hex') || 'none'}); build it with \`hoist pack\` (add --zstd for zstd)`);
  }
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of createReadStream(file, signal === undefined ? {} : { signal }) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      size += chunk.length;
    }
  } catch (cause) {
    if (signal?.aborted) throw signal.reason;
    throw toHoistError(cause, 'HOIST_IO');
  }
  return { sha256: hash.digest('hex'), size, format };
}

export interface UploadOptions {
  readonly bucket: string;
  readonly key: string;
  readonly file: string;
  readonly size: number;
  readonly signal?: AbortSignal | undefined;
  /** Bytes sent so far; called as parts complete. */
  readonly onProgress?: (loaded: number, total: number) => void;
  /** Part size in bytes (≥ 5 MiB); default 8 MiB. */
  readonly partSize?: number;
}

export type UploadOutcome = 'uploaded' | 'skipped';

/**
 * The artifact upload. An abort (Ctrl-C) stops the parts in flight, then aborts the multipart
 * upload on S3 (AbortMultipartUpload) before it returns, so no parts stay stored and billed and
 * the caller can say that nothing was published.
 */
export async function uploadArtifact(s3: S3Client, options: UploadOptions): Promise<UploadOutcome> {
  const { bucket, key, file, size, signal } = options;
  const existing = await headObject(s3, { bucket, key, signal });
  // Content addressed: the same key and size is the same artifact (the digest is in the key).
  if (existing !== undefined && existing.size === size) return 'skipped';
  const abortController = new AbortController();
  const onAbort = (): void => abortController.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  const tracked = trackUpload(s3, abortController.signal);
  const body = createReadStream(file);
  try {
    const upload = new Upload({
      client: tracked.client,
      params: { Bucket: bucket, Key: key, Body: body, ContentType: 'application/octet-stream' },
      partSize: options.partSize ?? 8 * 1024 * 1024,
      queueSize: 4,
      leavePartsOnError: false,
      abortController,
    });
    upload.on('httpUploadProgress', (p) => options.onProgress?.(p.loaded ?? 0, size));
    await upload.done();
  } catch (err) {
    await tracked.abandon(bucket, key);
    if (signal?.aborted) throw signal.reason;
    throw wrapAwsError(err, 'S3', `upload s3://${bucket}/${key}`);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    body.destroy();
  }
  return 'uploaded';
}

interface TrackedUpload {
  /** The client the Upload uses: every request carries the abort signal, except the abort itself. */
  readonly client: S3Client;
  /** Waits for the requests in flight to end, then aborts the multipart upload if one was begun. */
  abandon(bucket: string, key: string): Promise<void>;
}

type Send = (command: unknown, options?: { abortSignal?: AbortSignal }) => Promise<unknown>;

/**
 * lib-storage sends its UploadPart requests without the abort signal and, once aborted, leaves
 * them running and aborts the multipart upload only after they end; `done()` meanwhile rejects at
 * once. So the upload is given a client of its own that adds the signal to every request and
 * remembers the upload id, and `abandon` finishes the clean-up before the command exits.
 */
function trackUpload(s3: S3Client, signal: AbortSignal): TrackedUpload {
  const inFlight = new Set<Promise<unknown>>();
  let uploadId: string | undefined;
  const send: Send = (s3 as unknown as { send: Send }).send.bind(s3);
  const client = Object.create(s3) as S3Client;
  (client as unknown as { send: Send }).send = (command, options) => {
    const own = command instanceof AbortMultipartUploadCommand ? options : { ...options, abortSignal: signal };
    const sent = send(command, own).then((out) => {
      if (command instanceof CreateMultipartUploadCommand) uploadId = (out as { UploadId?: string }).UploadId;
      return out;
    });
    inFlight.add(sent);
    void sent.catch(() => undefined).finally(() => inFlight.delete(sent));
    return sent;
  };
  return {
    client,
    async abandon(bucket, key) {
      // Bounded: each round waits for what is in flight; aborted requests end promptly.
      for (let round = 0; round < 5 && inFlight.size > 0; round++) await Promise.allSettled([...inFlight]);
      if (uploadId === undefined) return;
      // lib-storage may have aborted it already (NoSuchUpload): the outcome wanted. Any other
      // failure is left to the bucket's lifecycle rule for incomplete multipart uploads.
      await send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
    },
  };
}
