/**
 * `hoist promote`, pure: the health gate and the manifest. The artifact (key, digest, size,
 * format, version) comes only from the verified `--from` channel manifest, never from status
 * reports (they are unsigned); the reports only decide whether the gate holds: among the source
 * env's reporting hosts, the share whose `current.sha256` is that artifact, in a healthy state, for
 * at least `minAge` (from `current.since`), must reach `minHealthy`.
 */
import { HoistError } from '../errors.ts';
import type { ArtifactRef, ReleaseManifest } from '../manifest/schema.ts';
import type { RolloutSpecInput } from '../rollout/spec.ts';
import { formatDuration } from '../util/units.ts';
import { planRelease, type NotesInput } from './plan.ts';

export interface GateReport {
  readonly hostId: string;
  readonly state: string;
  readonly current: { readonly sha256: string; readonly since: string } | null;
  readonly updatedAt: string;
}

export interface GateInput {
  readonly sha256: string;
  /** Every report of the source env; an unreadable one counts as a reporting host that does not qualify. */
  readonly reports: ReadonlyArray<GateReport | { readonly hostId: string; readonly unreadable: string }>;
  readonly now: number;
  /** 0-1. */
  readonly minHealthy: number;
  readonly minAgeMs: number;
  /** A report older than this says nothing about now: it does not qualify. */
  readonly staleAfterMs: number;
}

export interface GateResult {
  readonly pass: boolean;
  readonly reporting: number;
  readonly qualifying: number;
  /** Hosts needed: ceil(minHealthy × reporting), at least 1. */
  readonly needed: number;
  /** Why each host that does not qualify does not (host id → reason). */
  readonly not: ReadonlyArray<{ readonly hostId: string; readonly reason: string }>;
}

const GOOD_STATES = new Set(['healthy']);

export function promoteGate(input: GateInput): GateResult {
  const not: Array<{ hostId: string; reason: string }> = [];
  let qualifying = 0;
  for (const r of input.reports) {
    if ('unreadable' in r) {
      not.push({ hostId: r.hostId, reason: `unreadable report (${r.unreadable})` });
      continue;
    }
    const updated = Date.parse(r.updatedAt);
    if (!Number.isFinite(updated) || input.now - updated > input.staleAfterMs) {
      not.push({ hostId: r.hostId, reason: 'stale report' });
    } else if (r.current?.sha256 !== input.sha256) {
      not.push({ hostId: r.hostId, reason: r.current === null ? 'runs nothing' : `runs another artifact (${r.current.sha256.slice(0, 12)})` });
    } else if (!GOOD_STATES.has(r.state)) {
      not.push({ hostId: r.hostId, reason: r.state });
    } else {
      const since = Date.parse(r.current.since);
      const age = Number.isFinite(since) ? input.now - since : -1;
      if (age < input.minAgeMs) not.push({ hostId: r.hostId, reason: `healthy for ${age < 0 ? 'an unknown time' : formatDuration(age)}, under ${formatDuration(input.minAgeMs)}` });
      else qualifying += 1;
    }
  }
  const reporting = input.reports.length;
  const needed = Math.max(1, Math.ceil(Math.round(input.minHealthy * reporting * 1e6) / 1e6));
  return { pass: reporting > 0 && qualifying >= needed, reporting, qualifying, needed, not };
}

/** HOIST_PROMOTE_GATE with the numbers. */
export function gateError(result: GateResult, what: { app: string; from: string; version: string; sha256: string; minHealthy: number; minAgeMs: number }): HoistError {
  const share = result.reporting === 0 ? 0 : Math.floor((result.qualifying / result.reporting) * 1000) / 10;
  const sample = result.not.slice(0, 5).map((n) => `${n.hostId} (${n.reason})`).join(', ');
  return new HoistError(
    'HOIST_PROMOTE_GATE',
    result.reporting === 0
      ? `no host of ${what.app}/${what.from} reports: nothing shows ${what.version} is healthy there; nothing was promoted`
      : `${result.qualifying} of ${result.reporting} reporting hosts of ${what.app}/${what.from} (${share}%) run ${what.version} (${what.sha256.slice(0, 12)}) healthy for at least ${formatDuration(what.minAgeMs)}; --min-healthy ${Math.round(what.minHealthy * 1000) / 10}% needs ${result.needed}${sample === '' ? '' : `; not yet: ${sample}${result.not.length > 5 ? `, and ${result.not.length - 5} more` : ''}`}; nothing was promoted`,
    { details: { reporting: result.reporting, qualifying: result.qualifying, needed: result.needed } },
  );
}

/** `90%`, `90` or `0.9`... as a fraction: a number above 1 is a percent. */
export function parseShare(text: string, option: string): number {
  const percent = text.endsWith('%');
  const n = Number(percent ? text.slice(0, -1) : text);
  const share = percent || n > 1 ? n / 100 : n;
  if (text.trim() === '' || !Number.isFinite(n) || share <= 0 || share > 1) throw new HoistError('HOIST_USAGE', `${option} ${JSON.stringify(text)} is not a share; give a percentage above 0 and at most 100, like "90%"`);
  return share;
}

export interface PromotionInput {
  /** The verified source release. */
  readonly source: ReleaseManifest;
  readonly to: string;
  /** The artifact key in the target bucket (the same key when it is the same bucket and prefix). */
  readonly artifactKey: string;
  readonly now: Date;
  readonly expiresInMs?: number | undefined;
  readonly previousSequences: ReadonlyArray<number | undefined>;
  readonly rollout?: RolloutSpecInput | undefined;
  readonly by: string;
  readonly retryFailed?: boolean | undefined;
}

/** The release for the target env: the source's exact artifact and version, `notes.promotedFrom: "<env>@<sequence>"`. */
export function planPromotion(input: PromotionInput): ReleaseManifest {
  const s = input.source;
  const artifact: ArtifactRef = { key: input.artifactKey, sha256: s.artifact.sha256, size: s.artifact.size, format: s.artifact.format };
  // the same artifact unpacks to the same size: the agents' free-space check keeps its figure
  const notes: NotesInput = { commit: s.notes?.commit, ciRun: s.notes?.ciRun, unpackedBytes: s.notes?.unpackedBytes, by: input.by, promotedFrom: `${s.env}@${s.sequence}` };
  return planRelease({
    app: s.app,
    env: input.to,
    version: s.version,
    artifact,
    now: input.now,
    ...(input.expiresInMs === undefined ? {} : { expiresInMs: input.expiresInMs }),
    previousSequences: input.previousSequences,
    rollout: input.rollout,
    notes,
    ...(input.retryFailed === true ? { retryFailed: true } : {}),
  });
}
