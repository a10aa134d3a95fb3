/**
 * One row of the hosts table, pure: a status report (or why it could not be read) as the page
 * shows it, with the colour class it gets from a fixed set and the checks a report cannot pass by
 * its own word (it names another host than its key, it is stale).
 */
import { cohortValue } from '../agent/decide.ts';
import { stepOf, type RolloutPlan } from './rollout.ts';
import type { AppEnvSnapshot, ReportObject } from './snapshot.ts';
import type { ViewContext } from './view.ts';

/** A colour class, picked here from a fixed set; the page never derives a class from S3 text. */
export type Tone = 'ok' | 'bad' | 'busy' | 'wait' | 'idle' | 'unknown';

/** The states agents report, in the order the page lists them; others follow alphabetically. */
export const STATE_ORDER = ['healthy', 'pinned', 'deploying', 'waiting', 'idle', 'rolled-back', 'failed', 'halted'] as const;

const TONES: Readonly<Record<string, Tone>> = {
  healthy: 'ok',
  pinned: 'ok',
  deploying: 'busy',
  waiting: 'wait',
  idle: 'idle',
  'rolled-back': 'bad',
  failed: 'bad',
  halted: 'bad',
  unreadable: 'bad',
};

export function toneOf(state: string): Tone {
  return Object.hasOwn(TONES, state) ? (TONES[state] ?? 'unknown') : 'unknown';
}

export interface HostRow {
  readonly key: string;
  readonly host: string;
  /** Why the report is not to be taken at its word: it names another host or app/env than its key. */
  readonly mismatch: string | null;
  readonly version: string | null;
  readonly desired: string | null;
  readonly desiredKind: string | null;
  readonly state: string;
  readonly tone: Tone;
  readonly since: number | null;
  readonly lastError: string | null;
  readonly rejected: string | null;
  readonly skipped: string | null;
  readonly eligibleAt: number | null;
  readonly ageMs: number | null;
  readonly stale: boolean;
  readonly agent: string | null;
  readonly step: number | null;
  readonly red: boolean;
}

export function keyMismatch(r: ReportObject, data: AppEnvSnapshot): string | null {
  const report = r.report;
  if (report === undefined) return null;
  const problems: string[] = [];
  if (report.hostId !== r.keyHost) problems.push(report.hostId === undefined ? 'the report names no host id' : `the report names host "${report.hostId}"`);
  if ((report.app !== undefined && report.app !== data.app) || (report.env !== undefined && report.env !== data.env)) {
    problems.push(`the report is for ${report.app ?? '?'}/${report.env ?? '?'}`);
  }
  return problems.length === 0 ? null : `${problems.join('; ')}, but its key names ${r.keyHost} in ${data.app}/${data.env}`;
}

export function hostRow(r: ReportObject, data: AppEnvSnapshot, plan: RolloutPlan | undefined, ctx: ViewContext): HostRow {
  const report = r.report;
  const step = plan === undefined ? undefined : stepOf(plan, cohortValue(r.keyHost, data.app, data.env));
  if (report === undefined) {
    return {
      key: r.key, host: r.keyHost, mismatch: null, version: null, desired: null, desiredKind: null, state: 'unreadable', tone: 'bad', since: null,
      lastError: r.error ?? 'unreadable', rejected: null, skipped: null, eligibleAt: null, ageMs: null, stale: true, agent: null, step: step?.index ?? null, red: true,
    };
  }
  const state = report.state ?? 'unknown';
  const ageMs = report.updatedAt === undefined ? null : Math.max(0, ctx.now - report.updatedAt);
  const stale = ageMs === null || ageMs > ctx.staleAfterMs;
  const attempt = report.lastAttempt;
  const attemptFailed = attempt !== undefined && attempt.outcome !== 'healthy' && (attempt.code !== undefined || attempt.message !== undefined);
  const lastError = attemptFailed ? `${[attempt.code, attempt.message].filter((p) => p !== undefined && p !== '').join(': ')}${attempt.version === undefined ? '' : ` (${attempt.version})`}` : null;
  const rej = report.rejected;
  const rejected = rej === undefined ? null : [rej.code ?? 'rejected', rej.message].filter((p) => p !== undefined && p !== '').join(': ') + (rej.sequence === undefined ? '' : ` (sequence ${rej.sequence})`);
  const skipped = report.skipped?.reason ?? null;
  const mismatch = keyMismatch(r, data);
  const tone = toneOf(state);
  const trust = report.trust?.version === undefined ? '' : `, trust v${report.trust.version}`;
  return {
    key: r.key,
    host: r.keyHost,
    mismatch,
    version: report.current?.version ?? null,
    desired: report.desired?.version ?? null,
    desiredKind: report.desired?.kind ?? null,
    state,
    tone,
    since: report.current?.since ?? null,
    lastError,
    rejected,
    skipped,
    eligibleAt: report.skipped?.eligibleAt ?? null,
    ageMs,
    stale,
    agent: report.agentVersion === undefined ? null : `${report.agentVersion}${trust}`,
    step: step?.index ?? null,
    red: tone === 'bad' || stale || mismatch !== null || rejected !== null,
  };
}
