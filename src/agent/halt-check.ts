/**
 * What a host reads before it activates a release whose rollout carries `halt`: one LIST each of
 * the sequence's `rolled-back/` and `failed/` events and, for a percent limit only, one LIST of
 * `status/<app>/<env>/` (the hosts due so far are the reporting host ids whose step is due). The
 * verdict itself is src/rollout/halt.ts's, pure; decide.ts's `haltDecision` applies it.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { listKeys } from '../aws/object-store.ts';
import { s3Keys } from '../aws/keys.ts';
import { dueHostCount, haltVerdict, parseMaxFailures, type HaltVerdict } from '../rollout/halt.ts';
import { scheduleOf } from '../rollout/schedule.ts';
import type { ManifestView } from './decide.ts';

export interface HaltCheckInput {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly prefix: string;
  readonly app: string;
  readonly env: string;
  readonly release: ManifestView;
  readonly now: number;
  readonly signal?: AbortSignal | undefined;
}

/** The verdict for the release, or undefined when its rollout has no halt limit. */
export async function checkHalt(input: HaltCheckInput): Promise<HaltVerdict | undefined> {
  const max = parseMaxFailures(input.release.rollout?.halt?.maxFailures);
  if (max === undefined) return undefined;
  const keys = s3Keys(input.prefix);
  const { app, env, release } = input;
  const [rolledBack, failed, reporting] = await Promise.all([
    hostIdsUnder(input, keys.eventsPrefix(app, env, release.sequence, 'rolled-back')),
    hostIdsUnder(input, keys.eventsPrefix(app, env, release.sequence, 'failed')),
    max.kind === 'percent' ? hostIdsUnder(input, keys.statusPrefix(app, env)) : Promise.resolve([]),
  ]);
  const dueHosts = max.kind === 'percent' ? dueHostCount(reporting, app, env, scheduleOf(release.rollout, Date.parse(release.issuedAt ?? '') || 0), input.now) : 0;
  return haltVerdict({ maxFailures: max, failedHosts: [...rolledBack, ...failed], dueHosts });
}

/** The `<host-id>` of every `<folder><host-id>.json` directly under a folder. */
async function hostIdsUnder(input: HaltCheckInput, folder: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const item of listKeys(input.s3, { bucket: input.bucket, prefix: folder, signal: input.signal })) {
    const rest = item.key.slice(folder.length);
    if (rest.endsWith('.json') && !rest.includes('/') && rest.length > '.json'.length) ids.push(rest.slice(0, -'.json'.length));
  }
  return ids;
}
