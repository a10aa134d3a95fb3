/**
 * The dashboard's view model, pure: what the page shows, computed from one bucket snapshot, the
 * clock and the (optional) trust policy. The page renders these objects as text and never
 * interprets what came from S3, so everything here is plain data (strings, numbers, null).
 */
import type { TrustPolicy } from '../trust/policy.ts';
import { historyRows, rolloutText, type HistoryRow } from './history-view.ts';
import { hostRow, STATE_ORDER, toneOf, type HostRow, type Tone } from './host-row.ts';
import { verdictOf, type TrustVerdict } from './manifest-view.ts';
import { progressView, type ProgressView } from './progress-view.ts';
import { planRollout } from './rollout.ts';
import { isEnvelope, manifestInfo, type AppEnvSnapshot, type BucketSnapshot, type ManifestObject } from './snapshot.ts';

export type { HistoryRow } from './history-view.ts';
export type { HostRow, Tone } from './host-row.ts';
export type { ProgressView, StepView } from './progress-view.ts';

export interface ViewContext {
  readonly now: number;
  /** Reports older than this are stale. */
  readonly staleAfterMs: number;
  readonly policy?: TrustPolicy | undefined;
}

export interface ReleaseView {
  readonly key: string;
  readonly version: string | null;
  readonly sequence: number | null;
  readonly sha12: string | null;
  readonly issuedAt: number | null;
  readonly expiresAt: number | null;
  readonly trust: { readonly status: TrustVerdict['status'] | 'unreadable'; readonly text: string };
  readonly notes: ReadonlyArray<readonly [string, string]>;
  readonly rollout: string | null;
  /** Pins only. */
  readonly unpin: boolean;
  readonly reason: string | null;
  readonly hosts: readonly string[] | null;
}

export interface CountView {
  readonly state: string;
  readonly n: number;
  readonly tone: Tone;
}

export interface MarkView {
  readonly kind: 'halted' | 'failed' | 'rolled-back' | 'stale' | 'rejected' | 'unreadable' | 'mismatch' | 'untrusted';
  readonly text: string;
}

export interface OverviewRow {
  readonly app: string;
  readonly env: string;
  readonly desired: ReleaseView | null;
  readonly pin: ReleaseView | null;
  readonly hosts: number;
  readonly onDesired: number;
  readonly counts: readonly CountView[];
  readonly marks: readonly MarkView[];
  readonly progress: ProgressView | null;
  readonly red: boolean;
}

export interface Header {
  readonly bucket: string;
  readonly prefix: string;
  readonly readAt: number;
  readonly generatedAt: number;
  /** Whether a trust policy was given (else every verdict is "unverified"). */
  readonly trust: boolean;
  readonly staleAfterMs: number;
  readonly requests: BucketSnapshot['requests'];
  readonly durationMs: number;
}

export interface OverviewView extends Header {
  readonly rows: readonly OverviewRow[];
}

export interface AppView extends Header {
  readonly row: OverviewRow;
  readonly hosts: readonly HostRow[];
  readonly history: readonly HistoryRow[];
  readonly historyCount: number;
  /** Why history/ (or approvals/) could not be listed. */
  readonly historyError: string | null;
  readonly approvalsError: string | null;
}

export function overview(snapshot: BucketSnapshot, ctx: ViewContext): OverviewView {
  return { ...header(snapshot, ctx), rows: snapshot.apps.map((a) => appRow(a, ctx).row) };
}

/** One app/env's page, or undefined when the bucket holds nothing for it. */
export function appPage(snapshot: BucketSnapshot, app: string, env: string, ctx: ViewContext): AppView | undefined {
  const data = snapshot.apps.find((a) => a.app === app && a.env === env);
  if (data === undefined) return undefined;
  const { row, hosts } = appRow(data, ctx);
  return { ...header(snapshot, ctx), row, hosts, history: historyRows(data, ctx), historyCount: data.historyCount, historyError: data.historyError ?? null, approvalsError: data.approvalsError ?? null };
}

function header(snapshot: BucketSnapshot, ctx: ViewContext): Header {
  return {
    bucket: snapshot.bucket,
    prefix: snapshot.prefix,
    readAt: snapshot.readAt,
    generatedAt: ctx.now,
    trust: ctx.policy !== undefined,
    staleAfterMs: ctx.staleAfterMs,
    requests: snapshot.requests,
    durationMs: snapshot.durationMs,
  };
}

function appRow(data: AppEnvSnapshot, ctx: ViewContext): { row: OverviewRow; hosts: HostRow[] } {
  const release = manifestInfo(data.channel);
  const pin = manifestInfo(data.pin);
  const desired = data.channel === undefined ? null : releaseView(data.channel, data, 'release', ctx);
  const pinView = data.pin === undefined ? null : releaseView(data.pin, data, 'pin', ctx);
  const plan = release === undefined ? undefined : planRollout(release.rollout, release.issuedAt);
  const hosts = data.reports.map((r) => hostRow(r, data, plan, ctx));

  const counts = new Map<string, number>();
  for (const h of hosts) counts.set(h.state, (counts.get(h.state) ?? 0) + 1);
  const known: readonly string[] = STATE_ORDER;
  const order = [...STATE_ORDER.filter((s) => counts.has(s)), ...[...counts.keys()].filter((s) => !known.includes(s) && s !== 'unreadable').sort(), ...(counts.has('unreadable') ? ['unreadable'] : [])];

  const activePin = pin !== undefined && !pin.unpin && pin.sha256 !== undefined ? pin : undefined;
  const onDesired = data.reports.filter((r) => {
    const current = r.report?.current?.sha256;
    if (current === undefined) return false;
    const target = r.report?.desired?.sha256 ?? (activePin !== undefined && (activePin.hosts === undefined || activePin.hosts.includes(r.keyHost)) ? activePin.sha256 : release?.sha256);
    return target !== undefined && current === target;
  }).length;

  const progress = release === undefined || plan === undefined ? null : progressView(data, release, plan, ctx);
  const marks = marksOf(hosts, counts, desired, pinView, progress);
  return {
    row: {
      app: data.app,
      env: data.env,
      desired,
      pin: pinView,
      hosts: hosts.length,
      onDesired,
      counts: order.map((state) => ({ state, n: counts.get(state) ?? 0, tone: toneOf(state) })),
      marks,
      progress,
      red: marks.length > 0,
    },
    hosts,
  };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function marksOf(hosts: readonly HostRow[], counts: ReadonlyMap<string, number>, desired: ReleaseView | null, pin: ReleaseView | null, progress: ProgressView | null): MarkView[] {
  const marks: MarkView[] = [];
  const halted = counts.get('halted') ?? 0;
  if (halted > 0 || progress?.halt?.reached === true) {
    marks.push({ kind: 'halted', text: halted > 0 ? `halted on ${plural(halted, 'host')}` : 'rollout halted' });
  }
  const rolledBack = counts.get('rolled-back') ?? 0;
  if (rolledBack > 0) marks.push({ kind: 'rolled-back', text: `${plural(rolledBack, 'host')} rolled back` });
  const failed = counts.get('failed') ?? 0;
  if (failed > 0) marks.push({ kind: 'failed', text: `${plural(failed, 'host')} failed` });
  const stale = hosts.filter((h) => h.stale && h.state !== 'unreadable').length;
  if (stale > 0) marks.push({ kind: 'stale', text: `${plural(stale, 'host')} stale` });
  const rejected = hosts.filter((h) => h.rejected !== null).length;
  if (rejected > 0) marks.push({ kind: 'rejected', text: `${plural(rejected, 'host')} rejected a manifest` });
  const unreadable = counts.get('unreadable') ?? 0;
  if (unreadable > 0) marks.push({ kind: 'unreadable', text: `${plural(unreadable, 'report')} unreadable` });
  const mismatch = hosts.filter((h) => h.mismatch !== null).length;
  if (mismatch > 0) marks.push({ kind: 'mismatch', text: `${plural(mismatch, 'report')} naming another host` });
  for (const [what, view] of [['channel', desired], ['pin', pin]] as const) {
    if (view !== null && (view.trust.status === 'rejected' || view.trust.status === 'unreadable')) marks.push({ kind: 'untrusted', text: `${what} ${view.trust.status === 'rejected' ? 'not verified' : 'unreadable'}` });
  }
  return marks;
}

function releaseView(object: ManifestObject, data: AppEnvSnapshot, kind: 'release' | 'pin', ctx: ViewContext): ReleaseView {
  const base = { key: object.key, version: null, sequence: null, sha12: null, issuedAt: null, expiresAt: null, notes: [], rollout: null, unpin: false, reason: null, hosts: null };
  if (!isEnvelope(object)) return { ...base, trust: { status: 'unreadable', text: `unreadable: ${object.error}` } };
  if (!('info' in object.read)) return { ...base, trust: { status: 'unreadable', text: `unreadable: ${object.read.error}` } };
  const info = object.read.info;
  const verdict = verdictOf(object.bytes, ctx.policy, new Date(ctx.now), { app: data.app, env: data.env, kind });
  return {
    key: object.key,
    version: info.version ?? null,
    sequence: info.sequence ?? null,
    sha12: info.sha256?.slice(0, 12) ?? null,
    issuedAt: info.issuedAt ?? null,
    expiresAt: info.expiresAt ?? null,
    trust: { status: verdict.status, text: verdict.text },
    notes: info.notes,
    rollout: kind === 'release' ? rolloutText(info) : null,
    unpin: info.unpin,
    reason: info.reason ?? null,
    hosts: info.hosts ?? null,
  };
}

