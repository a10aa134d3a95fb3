/**
 * The artifact upload: hash and sniff the file, then a multipart upload (@aws-sdk/lib-storage)
 * to its content-addressed key, skipped when an object of that key and size is already there.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Upload } from '@aws-sdk/lib-storage';
import type { S3Client } from '@aws-sdk/client-s3';
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

export async function uploadArtifact(s3: S3Client, options: UploadOptions): Promise<UploadOutcome> {
  const { bucket, key, file, size, signal } = options;
  const existing = await headObject(s3, { bucket, key, signal });
  // Content addressed: the same key and size is the same artifact (the digest is in the key).
  if (existing !== undefined && existing.size === size) return 'skipped';
  const abortController = new AbortController();
  const onAbort = (): void => abortController.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  const body = createReadStream(file);
  try {
    const upload = new Upload({
      client: s3,
      params: { Bucket: bucket, Key: key, Body: body, ContentType: 'application/octet-stream' },
      partSize: options.partSize ?? 8 * 1024 * 1024,
      queueSize: 4,
      leavePartsOnError: false,
      abortController,
    });
    upload.on('httpUploadProgress', (p) => options.onProgress?.(p.loaded ?? 0, size));
    await upload.done();
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw wrapAwsError(err, 'S3', `upload s3://${bucket}/${key}`);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    body.destroy();
  }
  return 'uploaded';
}
