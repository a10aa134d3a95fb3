/**
 * Pure planning of the manifests the operator commands sign: no I/O, the clock and everything
 * read from the bucket are parameters. Each plan is validated against the manifest schema, so a
 * bad --version or --hosts fails before anything is uploaded or signed.
 */
import { HoistError, isHoistError } from '../errors.ts';
import { parseManifest, type ArtifactRef, type Manifest, type PinManifest, type ReleaseManifest } from '../manifest/schema.ts';
import type { RolloutSpecInput } from '../rollout/spec.ts';
import { nextSequence } from './sequence.ts';

export const DEFAULT_EXPIRES_MS = 30 * 86_400_000;

/** Notes with the unset entries dropped (the schema wants strings). */
export type NotesInput = Readonly<Record<string, string | undefined>>;

interface CommonInput {
  readonly app: string;
  readonly env: string;
  readonly now: Date;
  /** Validity from now; default 30 days. */
  readonly expiresInMs?: number;
  /** Sequences already used for this (app, env, kind): the new one is above all of them. */
  readonly previousSequences: ReadonlyArray<number | undefined>;
  readonly notes?: NotesInput;
  /** Hosts that have the artifact on their failed list try it once more (written only when true). */
  readonly retryFailed?: boolean;
}

export interface ReleaseInput extends CommonInput {
  readonly version: string;
  readonly artifact: ArtifactRef;
  /** 0-100, default 100 (`rollout` wins when both are given). */
  readonly rolloutPercent?: number;
  /** The whole rollout object: a percent or steps, startAt, halt (see src/rollout/spec.ts). */
  readonly rollout?: RolloutSpecInput | undefined;
}

export interface PinInput extends CommonInput {
  /** Omitted for an unpin. */
  readonly version?: string;
  /** null for an unpin. */
  readonly artifact: ArtifactRef | null;
  readonly hosts?: readonly string[];
  readonly reason?: string;
}

export function planRelease(input: ReleaseInput): ReleaseManifest {
  const payload = {
    schema: 1,
    kind: 'release',
    app: input.app,
    env: input.env,
    sequence: nextSequence(input.now.getTime(), ...input.previousSequences),
    version: input.version,
    artifact: { ...input.artifact },
    ...times(input),
    rollout: rolloutOf(input),
    ...notesOf(input.notes),
    ...(input.retryFailed === true ? { retryFailed: true } : {}),
  };
  return validate(payload) as ReleaseManifest;
}

export function planPin(input: PinInput): PinManifest {
  if (input.artifact !== null && input.version === undefined) {
    throw new HoistError('HOIST_USAGE', 'a pin names a version; give --version');
  }
  const payload = {
    schema: 1,
    kind: 'pin',
    app: input.app,
    env: input.env,
    sequence: nextSequence(input.now.getTime(), ...input.previousSequences),
    ...(input.artifact === null || input.version === undefined ? {} : { version: input.version }),
    artifact: input.artifact === null ? null : { ...input.artifact },
    ...times(input),
    ...(input.hosts === undefined ? {} : { hosts: [...input.hosts] }),
    ...(input.reason === undefined ? {} : { reason: input.reason }),
    ...notesOf(input.notes),
    ...(input.retryFailed === true ? { retryFailed: true } : {}),
  };
  return validate(payload) as PinManifest;
}

/**
 * Which history entry `hoist rollback` republishes: with `to`, the newest release of that
 * version; without, the newest release whose artifact differs from the current channel's.
 * Entries are offered newest first; the first match wins.
 */
export function rollbackMatcher(current: ReleaseManifest | undefined, to: string | undefined): (candidate: Manifest) => boolean {
  return (candidate) => {
    if (candidate.kind !== 'release') return false;
    if (to !== undefined) return candidate.version === to;
    return current === undefined || candidate.artifact.sha256 !== current.artifact.sha256;
  };
}

/**
 * The CI run that builds a release, from the variables the common CI systems set: GitHub Actions,
 * GitLab CI, Buildkite, Jenkins. Recorded as `notes.ciRun` (signed) for change evidence.
 */
export function ciRunFromEnv(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repo, GITHUB_RUN_ID: run } = env;
  if (server !== undefined && repo !== undefined && run !== undefined && server !== '' && repo !== '' && run !== '') return `${server}/${repo}/actions/runs/${run}`;
  for (const name of ['CI_JOB_URL', 'BUILDKITE_BUILD_URL', 'BUILD_URL']) {
    const value = env[name];
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}

/** Parses `--hosts a,b , c` into a clean list; undefined when absent. */
export function parseHosts(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  const hosts = [...new Set(text.split(',').map((h) => h.trim()).filter((h) => h !== ''))];
  if (hosts.length === 0) throw new HoistError('HOIST_USAGE', '--hosts lists no host; give host ids separated by commas, or omit it for the whole env');
  return hosts;
}

/** Only the fields in use are written: `{ percent }` unless steps, startAt or halt are given. */
function rolloutOf(input: ReleaseInput): Record<string, unknown> {
  const r = input.rollout;
  if (r === undefined) return { percent: input.rolloutPercent ?? 100 };
  return {
    ...(r.steps === undefined ? { percent: r.percent ?? input.rolloutPercent ?? 100 } : { steps: r.steps.map((s) => ({ percent: s.percent, after: s.after, ...(s.spread === undefined ? {} : { spread: s.spread }) })) }),
    ...(r.startAt === undefined ? {} : { startAt: r.startAt }),
    ...(r.halt === undefined ? {} : { halt: { maxFailures: r.halt.maxFailures } }),
  };
}

/**
 * `hoist renew`: the current release again with a new sequence and validity. Its schedule keeps
 * its start (a stepped rollout renewed half-way goes on where it was, instead of starting over)
 * and its halt; `retryFailed` was a one-time decision and is not carried.
 */
export function planRenewal(current: ReleaseManifest, input: Omit<CommonInput, 'app' | 'env'> & { readonly renewedBy?: string }): ReleaseManifest {
  const rollout: RolloutSpecInput | undefined =
    current.rollout.steps === undefined
      ? { percent: current.rollout.percent ?? 100, ...(current.rollout.halt === undefined ? {} : { halt: current.rollout.halt }) }
      : { steps: current.rollout.steps, startAt: current.rollout.startAt ?? current.issuedAt, ...(current.rollout.halt === undefined ? {} : { halt: current.rollout.halt }) };
  return planRelease({
    app: current.app,
    env: current.env,
    version: current.version,
    artifact: current.artifact,
    now: input.now,
    ...(input.expiresInMs === undefined ? {} : { expiresInMs: input.expiresInMs }),
    previousSequences: [current.sequence, ...input.previousSequences],
    rollout,
    notes: { ...current.notes, renewedFrom: String(current.sequence), ...(input.renewedBy === undefined ? {} : { renewedBy: input.renewedBy }) },
  });
}

function times(input: CommonInput): { issuedAt: string; expiresAt: string } {
  const expiresIn = input.expiresInMs ?? DEFAULT_EXPIRES_MS;
  if (!(expiresIn > 0)) throw new HoistError('HOIST_USAGE', '--expires must be a positive duration like "30d"');
  return {
    issuedAt: input.now.toISOString(),
    expiresAt: new Date(input.now.getTime() + expiresIn).toISOString(),
  };
}

function notesOf(notes: NotesInput | undefined): { notes?: Record<string, string> } {
  if (notes === undefined) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(notes)) if (v !== undefined && v !== '') out[k] = v;
  return Object.keys(out).length === 0 ? {} : { notes: out };
}

/** Validated by the same schema the agents use; a bad input is the caller's usage error. */
function validate(payload: Record<string, unknown>): Manifest {
  try {
    return parseManifest(payload);
  } catch (error) {
    if (isHoistError(error, 'HOIST_MANIFEST_INVALID')) {
      throw new HoistError('HOIST_USAGE', `cannot build a valid manifest from these options: ${error.message.replace(/^the manifest is invalid /, '')}`, {
        cause: error,
        ...(error.details === undefined ? {} : { details: error.details }),
      });
    }
    throw error;
  }
}

export type UnpinPlan =
  | { readonly action: 'unpin' }
  | { readonly action: 'narrow'; readonly hosts: string[]; readonly version: string; readonly artifact: ArtifactRef };

/**
 * What `hoist unpin [--hosts]` writes. There is one pin object per env, so unpinning some hosts
 * of a host-scoped pin re-signs the pin for the remaining hosts; everything else is a full unpin.
 * A whole-env pin cannot be lifted for only some hosts (there is no "all but" pin).
 */
export function planUnpin(current: Manifest | undefined, hosts: readonly string[] | undefined): UnpinPlan {
  if (hosts === undefined || current === undefined || current.kind !== 'pin' || current.artifact === null || current.version === undefined) {
    return { action: 'unpin' };
  }
  if (current.hosts === undefined) {
    throw new HoistError('HOIST_USAGE', `the current pin (${current.version}) covers the whole env, so it cannot be lifted for only ${hosts.join(', ')}; unpin without --hosts, then pin the hosts that should stay pinned`);
  }
  const remaining = current.hosts.filter((h) => !hosts.includes(h));
  if (remaining.length === 0) return { action: 'unpin' };
  return { action: 'narrow', hosts: remaining, version: current.version, artifact: current.artifact };
}
