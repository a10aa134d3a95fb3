/**
 * `hoist promote --to-bucket`: the artifact copied to another bucket with the same credentials
 * (S3 CopyObject, server side; skipped when an object of that key and size is there), then read
 * back and hashed: the target bucket's copy must have the manifest's digest and size before any
 * manifest names it. One CopyObject copies up to 5 GiB (above the default limits.artifactBytes).
 */
import { createHash } from 'node:crypto';
import { CopyObjectCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { headObject } from '../aws/object-store.ts';
import { wrapAwsError } from '../aws/errors.ts';
import { HoistError } from '../errors.ts';

export interface CopyArtifactOptions {
  readonly from: { readonly bucket: string; readonly key: string };
  readonly to: { readonly bucket: string; readonly key: string };
  readonly sha256: string;
  readonly size: number;
  readonly signal?: AbortSignal | undefined;
}

export async function copyArtifact(s3: S3Client, o: CopyArtifactOptions): Promise<'copied' | 'present'> {
  const there = await headObject(s3, { ...o.to, signal: o.signal });
  let outcome: 'copied' | 'present' = 'present';
  if (there?.size !== o.size) {
    const source = await headObject(s3, { ...o.from, signal: o.signal });
    if (source === undefined) throw new HoistError('HOIST_ARTIFACT_NOT_FOUND', `s3://${o.from.bucket}/${o.from.key} does not exist: the source release names an artifact that is gone; nothing was promoted`);
    try {
      await s3.send(new CopyObjectCommand({ Bucket: o.to.bucket, Key: o.to.key, CopySource: `${o.from.bucket}/${o.from.key.split('/').map(encodeURIComponent).join('/')}` }), o.signal === undefined ? {} : { abortSignal: o.signal });
    } catch (err) {
      if (o.signal?.aborted) throw o.signal.reason;
      throw wrapAwsError(err, 'S3', `CopyObject s3://${o.from.bucket}/${o.from.key} to s3://${o.to.bucket}/${o.to.key}`);
    }
    outcome = 'copied';
  }
  await verifyDigest(s3, o);
  return outcome;
}

/** Reads the target object through SHA-256 (stopping past the expected size): digest and size must match. */
async function verifyDigest(s3: S3Client, o: CopyArtifactOptions): Promise<void> {
  const where = `s3://${o.to.bucket}/${o.to.key}`;
  let body: AsyncIterable<Uint8Array> | undefined;
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: o.to.bucket, Key: o.to.key }), o.signal === undefined ? {} : { abortSignal: o.signal });
    body = out.Body as AsyncIterable<Uint8Array> | undefined;
  } catch (err) {
    if (o.signal?.aborted) throw o.signal.reason;
    throw wrapAwsError(err, 'S3', `GetObject ${where}`);
  }
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of body ?? []) {
    size += chunk.byteLength;
    if (size > o.size) break;
    hash.update(chunk);
  }
  const digest = hash.digest('hex');
  if (size !== o.size || digest !== o.sha256) {
    throw new HoistError('HOIST_DIGEST_MISMATCH', `${where} is ${size > o.size ? `over ${o.size}` : size} bytes with sha256 ${digest.slice(0, 12)}…, not the release's ${o.size} bytes with ${o.sha256.slice(0, 12)}…; nothing was promoted: check what wrote that key`, {
      details: { key: o.to.key, expected: o.sha256, actual: digest },
    });
  }
}
