/**
 * The deploy decision, pure: which release this host should run for one app, given the verified
 * channel release, the verified pin, what runs now and the failed list. No I/O, no clock reads.
 */
import { createHash } from 'node:crypto';
import type { SkipReason } from '../state/schema.ts';

export interface ArtifactTarget {
  readonly key: string;
  readonly sha256: string;
  readonly size: number;
  readonly format: 'tar+gzip' | 'tar+zstd';
}

/** The parts of a verified manifest the decision needs. */
export interface ManifestView {
  readonly kind: 'release' | 'pin';
  readonly sequence: number;
  readonly version?: string | undefined;
  readonly artifact: ArtifactTarget | null;
  readonly rollout?: { readonly percent: number } | undefined;
  readonly hosts?: readonly string[] | undefined;
  /** The signed notes (`unpackedBytes` sizes the free-space check). */
  readonly notes?: Readonly<Record<string, string>> | undefined;
  /** An operator's signed decision to try this artifact once more where it failed before. */
  readonly retryFailed?: boolean | undefined;
  /** A pin's reason. */
  readonly reason?: string | undefined;
}

export interface Target {
  readonly kind: 'release' | 'pin';
  readonly version: string;
  readonly sequence: number;
  readonly artifact: ArtifactTarget;
  readonly notes?: Readonly<Record<string, string>> | undefined;
  readonly retryFailed?: boolean | undefined;
  readonly reason?: string | undefined;
}

/** Why a verified target is not deployed (yet): reported as the status report's `skipped`. */
export interface Skip {
  readonly reason: SkipReason;
  readonly message: string;
  /** When a rollout step makes this host eligible. */
  readonly eligibleAt?: string;
}

/**
 * `desired`: what the verified channel or pin says this host should run, when it applies to this
 * host (a host outside the rollout cohort desires what it runs: the caller fills that in).
 */
export type Decision =
  | { readonly action: 'deploy'; readonly target: Target; readonly desired: Target; readonly retry: boolean }
  | { readonly action: 'none'; readonly reason: string; readonly target?: Target; readonly desired?: Target; readonly skip?: Skip }
  | { readonly action: 'wait'; readonly reason: string; readonly target: Target; readonly desired: Target; readonly skip: Skip };

/**
 * Stable rollout cohort: the host takes the release when
 * `uint32(sha256(hostId:app:env)[0..4]) % 10000 < percent × 100`. The same hosts are always the
 * canaries, and raising the percentage only ever adds hosts.
 */
export function cohortValue(hostId: string, app: string, env: string): number {
  const digest = createHash('sha256').update(`${hostId}:${app}:${env}`, 'utf8').digest();
  return digest.readUInt32BE(0) % 10_000;
}

export function inCohort(hostId: string, app: string, env: string, percent: number): boolean {
  return cohortValue(hostId, app, env) < Math.round(percent * 100);
}

/** Whether a pin applies to this host: no `hosts` list means the whole env. */
export function pinApplies(pin: ManifestView, hostId: string): boolean {
  return pin.hosts === undefined || pin.hosts.includes(hostId);
}

export type SequenceVerdict = 'new' | 'duplicate' | 'replay' | 'conflict';

/**
 * Anti-replay on `sequence` per (app, env, kind): higher is new; the same sequence with the same
 * payload bytes is a harmless duplicate; with other bytes it is an attack; lower is a replay.
 */
export function classifySequence(
  mark: { readonly sequence: number; readonly digest: string } | undefined,
  sequence: number,
  digest: string,
): SequenceVerdict {
  if (mark === undefined || sequence > mark.sequence) return 'new';
  if (sequence < mark.sequence) return 'replay';
  return mark.digest === digest ? 'duplicate' : 'conflict';
}

export interface DecideInput {
  readonly hostId: string;
  readonly app: string;
  readonly env: string;
  readonly release: ManifestView | undefined;
  readonly pin: ManifestView | undefined;
  /** sha256 of the artifact the current release was unpacked from, if any. */
  readonly currentSha256: string | undefined;
  readonly failed: readonly string[];
  /** The last one-more-try of a failed artifact, so one manifest retries it once. */
  readonly retried?: { readonly sha256: string; readonly sequence: number } | undefined;
  readonly windowOpen: boolean;
}

function toTarget(m: ManifestView): Target | undefined {
  if (m.artifact === null || m.version === undefined) return undefined;
  return {
    kind: m.kind,
    version: m.version,
    sequence: m.sequence,
    artifact: m.artifact,
    ...(m.notes === undefined ? {} : { notes: m.notes }),
    ...(m.retryFailed === true ? { retryFailed: true } : {}),
    ...(m.reason === undefined ? {} : { reason: m.reason }),
  };
}

/**
 * The target is the active pin when one applies to this host, else the channel release (if this
 * host is in its rollout cohort). Nothing is deployed that already runs, that failed here before
 * (unless its manifest says to retry it, once), or outside the activation window.
 */
export function decide(input: DecideInput): Decision {
  let target: Target | undefined;
  const pin = input.pin !== undefined && pinApplies(input.pin, input.hostId) ? input.pin : undefined;
  if (pin !== undefined && pin.artifact !== null) {
    target = toTarget(pin);
  } else if (input.release !== undefined) {
    const percent = input.release.rollout?.percent ?? 100;
    const offered = toTarget(input.release);
    if (!inCohort(input.hostId, input.app, input.env, percent)) {
      const message = `not in the ${percent}% rollout cohort`;
      return { action: 'none', reason: message, ...(offered === undefined ? {} : { target: offered, skip: { reason: 'cohort', message } }) };
    }
    target = offered;
  }
  if (target === undefined) return { action: 'none', reason: 'no release published for this app and env' };
  if (target.artifact.sha256 === input.currentSha256) {
    return { action: 'none', reason: `${target.version} already runs`, target, desired: target };
  }
  let retry = false;
  if (input.failed.includes(target.artifact.sha256)) {
    const retriedAlready = input.retried?.sha256 === target.artifact.sha256 && input.retried.sequence === target.sequence;
    if (target.retryFailed !== true || retriedAlready) {
      const message = `${target.version} (${target.artifact.sha256.slice(0, 12)}) failed on this host before${retriedAlready ? ', and failed again when its manifest asked for one more try' : ''}; publish a fix, or a manifest with retryFailed (hoist rollback and --retry-failed set it) to try it once more`;
      return { action: 'none', reason: message, target, desired: target, skip: { reason: 'failed-list', message } };
    }
    retry = true;
  }
  if (!input.windowOpen) {
    const message = 'outside the activation window';
    return { action: 'wait', reason: message, target, desired: target, skip: { reason: 'window', message } };
  }
  return { action: 'deploy', target, desired: target, retry };
}

/** `releases/<version>-<sha256[0..12]>`, relative to the app root. */
export function releaseDirName(version: string, sha256: string): string {
  return `${version}-${sha256.slice(0, 12)}`;
}
