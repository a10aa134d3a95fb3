/**
 * The artifact a target names, from S3 into the download cache, after checking there is room for
 * it and for the release it unpacks to (HOIST_NO_SPACE before the first byte is fetched).
 */
import path from 'node:path';
import { HoistError } from '../errors.ts';
import { downloadArtifact, freeBytes } from '../fetch/download.ts';
import { formatBytes } from '../util/units.ts';
import type { Target } from './decide.ts';
import type { DeployEnv, Log } from './types.ts';

/**
 * The release's unpacked size as its signed manifest declares it (`hoist publish` records it in
 * the notes, where every agent accepts it), else the artifact's own size: a release never takes
 * less room than that.
 */
export function declaredUnpackedBytes(target: Target): number {
  const declared = Number(target.notes?.unpackedBytes);
  return Number.isSafeInteger(declared) && declared >= 0 ? declared : target.artifact.size;
}

export async function checkReleaseSpace(root: string, target: Target): Promise<void> {
  const needed = declaredUnpackedBytes(target);
  const free = await freeBytes(path.join(root, 'releases'));
  if (free < needed) {
    throw new HoistError('HOIST_NO_SPACE', `${target.version} unpacks to ${formatBytes(needed)} but ${root} has ${formatBytes(free)} free; nothing was downloaded. Free space there (or lower keep) and it is retried.`, {
      details: { dir: root, needed, free },
    });
  }
}

/**
 * `artifact.key` is the object key in the bucket; a publisher that wrote it relative to
 * source.s3.prefix is accepted too: when the key is missing and does not start with the prefix,
 * `<prefix><key>` is tried.
 */
export async function fetchArtifact(env: DeployEnv, target: Target, signal: AbortSignal, log: Log): Promise<{ path: string }> {
  const candidates = [target.artifact.key];
  if (env.prefix !== '' && !target.artifact.key.startsWith(env.prefix)) candidates.push(`${env.prefix}${target.artifact.key}`);
  let lastError: unknown;
  for (const key of candidates) {
    try {
      return await downloadArtifact({
        s3: env.s3,
        bucket: env.bucket,
        key,
        sha256: target.artifact.sha256,
        size: target.artifact.size,
        format: target.artifact.format,
        dir: path.join(env.stateDir, 'downloads'),
        signal,
        ...(env.stallTimeoutMs === undefined ? {} : { stallTimeoutMs: env.stallTimeoutMs }),
        onRetry: (info) => log.warn({ step: 'fetch', attempt: info.attempt, delayMs: info.delayMs, err: String(info.error) }, 'download failed, retrying'),
      });
    } catch (err) {
      if (!(err instanceof HoistError && err.code === 'HOIST_ARTIFACT_NOT_FOUND')) throw err;
      lastError = err;
    }
  }
  throw lastError;
}
