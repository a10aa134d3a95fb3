/**
 * Writing a release (publish, rollback, renew, promote): the sequence from what the bucket already
 * holds, the manifest from the pure plan, the signature, then the history copy (written once) and
 * the channel. History is written first so the channel never names a manifest rollback cannot find.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { S3Keys } from '../aws/keys.ts';
import { signEnvelope, type Envelope } from '../dsse/envelope.ts';
import type { ReleaseManifest } from '../manifest/schema.ts';
import { readSequence, writeEnvelope, writeHistoryOnce } from './envelope-io.ts';
import { listHistory } from './history.ts';
import type { Signer } from './signer.ts';

export interface WriteReleaseInput {
  readonly bucket: string;
  readonly keys: S3Keys;
  readonly app: string;
  readonly env: string;
  readonly signer: Signer;
  /** Builds the manifest once the sequences already used are known (see planRelease). */
  readonly build: (previousSequences: ReadonlyArray<number | undefined>) => ReleaseManifest;
  readonly signal?: AbortSignal | undefined;
}

export interface WrittenManifest<M> {
  readonly manifest: M;
  readonly envelope: Envelope;
  readonly keys: readonly string[];
}

/** The highest sequence the channel and its history hold (undefined for a new channel). */
export async function usedReleaseSequences(s3: S3Client, at: { bucket: string; keys: S3Keys; app: string; env: string; signal?: AbortSignal | undefined }): Promise<Array<number | undefined>> {
  const [channel, history] = await Promise.all([
    readSequence(s3, { bucket: at.bucket, key: at.keys.channel(at.app, at.env), signal: at.signal }),
    listHistory(s3, { bucket: at.bucket, prefix: at.keys.historyPrefix(at.app, at.env), signal: at.signal }),
  ]);
  return [channel, history[0]?.sequence];
}

export async function writeRelease(s3: S3Client, input: WriteReleaseInput): Promise<WrittenManifest<ReleaseManifest>> {
  const { bucket, keys, app, env, signal } = input;
  const manifest = input.build(await usedReleaseSequences(s3, { bucket, keys, app, env, signal }));
  const envelope = signEnvelope(Buffer.from(JSON.stringify(manifest)), input.signer.key);
  const historyKey = keys.history(app, env, manifest.sequence);
  const channelKey = keys.channel(app, env);
  await writeHistoryOnce(s3, { bucket, key: historyKey, envelope, signal });
  await writeEnvelope(s3, { bucket, key: channelKey, envelope, signal });
  return { manifest, envelope, keys: [channelKey, historyKey] };
}
