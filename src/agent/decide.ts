/**
 * The deploy decision, pure: which release this host should run for one app, given the verified
 * channel release, the verified pin, what runs now, the failed list and the time. No I/O, no
 * clock reads. The rollout schedule (percent or steps) is src/rollout/schedule.ts's; the halt
 * verdict, which needs what the bucket holds, is applied by `haltDecision` once it is read.
 */
import { cohortValue, percentBound, placement, scheduleOf, type RolloutSpec } from '../rollout/schedule.ts';
import type { HaltVerdict } from '../rollout/halt.ts';
import type { SkipReason } from '../state/schema.ts';

export { cohortValue } from '../rollout/schedule.ts';

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
  readonly rollout?: RolloutSpec | undefined;
  /** When `rollout.steps` count from, unless `rollout.startAt` says otherwise. */
  readonly issuedAt?: string | undefined;
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
 * Stable rollout cohort: the host takes a `percent` release when
 * `uint32(sha256(hostId:app:env)[0..4]) % 10000 < percent × 100`. The same hosts are always the
 * canaries, and raising the percentage only ever adds hosts.
 */
export function inCohort(hostId: string, app: string, env: string, percent: number): boolean {
  return cohortValue(hostId, app, env) < percentBound(percent);
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
  /** Now, in ms since the epoch: rollout steps become due with time. */
  readonly now: number;
  /** The release sequence this host found halted (it stays halted: only a new manifest resumes). */
  readonly haltedSequence?: number | undefined;
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
  const pin = input.pin !== undefined && pinApplies(input.pin, input.hostId) ? input.pin : undefined;
  // a pin with an artifact wins; an unpin (artifact null) leaves the channel release in charge
  const release = pin !== undefined && pin.artifact !== null ? undefined : input.release;
  const target = release === undefined ? (pin === undefined ? undefined : toTarget(pin)) : toTarget(release);
  // what already runs needs no schedule: a host of a later step that runs it desires it
  if (target !== undefined && target.artifact.sha256 === input.currentSha256) {
    return { action: 'none', reason: `${target.version} already runs`, target, desired: target };
  }
  if (release !== undefined) {
    const schedule = scheduleOf(release.rollout, Date.parse(release.issuedAt ?? '') || 0);
    const place = placement(schedule, cohortValue(input.hostId, input.app, input.env), input.now);
    if (place.kind === 'outside') {
      const message = schedule.kind === 'percent' ? `not in the ${schedule.percent}% rollout cohort` : `not in any step of the rollout (it stops at ${place.reach}%)`;
      return { action: 'none', reason: message, ...(target === undefined ? {} : { target, skip: { reason: 'cohort', message } }) };
    }
    if (place.kind === 'later') {
      const eligibleAt = new Date(place.eligibleAt).toISOString();
      const message = `rollout step ${place.step.index + 1} (${place.step.percent}%) reaches this host at ${eligibleAt}`;
      return { action: 'none', reason: message, ...(target === undefined ? {} : { target, skip: { reason: 'step', message, eligibleAt } }) };
    }
    if (target !== undefined && input.haltedSequence === target.sequence) {
      const message = `the rollout of ${target.version} (sequence ${target.sequence}) is halted: it reached its failure limit across the fleet; a new manifest (a fix, or hoist rollback) resumes`;
      return { action: 'none', reason: message, target, desired: target, skip: { reason: 'halted', message } };
    }
  }
  if (target === undefined) return { action: 'none', reason: 'no release published for this app and env' };
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

/**
 * The halt verdict applied to a deploy decision: a release that reached its failure limit is
 * not activated (reported `halted`); anything else is left as it is.
 */
export function haltDecision(decision: Decision, verdict: HaltVerdict | undefined): Decision {
  if (decision.action !== 'deploy' || verdict === undefined || !verdict.halted) return decision;
  const t = decision.target;
  const message = `the rollout of ${t.version} (sequence ${t.sequence}) is halted: ${verdict.failures} host${verdict.failures === 1 ? '' : 's'} failed it, the limit is ${verdict.limit} (maxFailures ${verdict.text}); a new manifest (a fix, or hoist rollback) resumes`;
  return { action: 'none', reason: message, target: t, desired: t, skip: { reason: 'halted', message } };
}

/** When a skipped target becomes eligible (the agent wakes itself then); undefined for any other decision. */
export function wakeAt(decision: Decision): number | undefined {
  if (decision.action === 'deploy' || decision.skip?.reason !== 'step' || decision.skip.eligibleAt === undefined) return undefined;
  return Date.parse(decision.skip.eligibleAt);
}

/** `releases/<version>-<sha256[0..12]>`, relative to the app root. */
export function releaseDirName(version: string, sha256: string): string {
  return `${version}-${sha256.slice(0, 12)}`;
}
