/**
 * The dashboard's view model, pure: what the page shows, computed from one bucket snapshot, the
 * clock and the (optional) trust policy. The page renders these objects as text and never
 * interprets what came from S3, so everything here is plain data (strings, numbers, null).
 */
import { cohortValue } from '../agent/decide.ts';
import type { TrustPolicy } from '../trust/policy.ts';
import { approvalOf, signersOf, verdictOf, type Approval, type ManifestInfo, type Signer, type TrustVerdict } from './manifest-view.ts';
import { haltLimit, planRollout, stepOf, type RolloutPlan } from './rollout.ts';
import { isEnvelope, type AppEnvSnapshot, type BucketSnapshot, type ManifestObject, type ReportObject } from './snapshot.ts';

export interface ViewContext {
  readonly now: number;
  /** Reports older than this are stale. */
  readonly staleAfterMs: number;
  readonly policy?: TrustPolicy | undefined;
}

/** A colour class, picked here from a fixed set; the page never derives a class from S3 text. */
export type Tone = 'ok' | 'bad' | 'busy' | 'wait' | 'idle' | 'unknown';

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

export interface StepView {
  readonly index: number;
  readonly fromPercent: number;
  readonly percent: number;
  readonly dueAt: number | null;
  readonly spreadMs: number;
  readonly due: boolean;
  readonly hosts: number;
  /** Hosts of the step that run the release. */
  readonly done: number;
  readonly failed: number;
  readonly waiting: number;
  readonly halted: number;
}

export interface ProgressView {
  readonly kind: RolloutPlan['kind'];
  readonly reason: string | null;
  readonly sequence: number | null;
  readonly steps: readonly StepView[];
  /** Reporting hosts no step reaches (a rollout below 100 %). */
  readonly outside: number;
  readonly halt: { readonly limit: number; readonly text: string; readonly failures: number; readonly reached: boolean } | null;
  /** Outcome counts from events/ for the current sequence, when read. */
  readonly events: ReadonlyArray<readonly [string, number]> | null;
  /** Why events/ could not be listed. */
  readonly eventsError: string | null;
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

export interface HistoryRow {
  readonly key: string;
  readonly sequence: number;
  readonly kind: 'release' | 'pin' | 'unpin' | 'unreadable';
  readonly version: string | null;
  readonly sha12: string | null;
  readonly issuedAt: number | null;
  readonly signers: readonly Signer[];
  /** The signed approval statements of approvals/, oldest first. */
  readonly approvals: readonly Approval[];
  readonly notes: ReadonlyArray<readonly [string, string]>;
  readonly reason: string | null;
  readonly rollout: string | null;
  readonly current: boolean;
  readonly error: string | null;
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

function infoOf(object: ManifestObject | undefined): ManifestInfo | undefined {
  return isEnvelope(object) && 'info' in object.read ? object.read.info : undefined;
}

function appRow(data: AppEnvSnapshot, ctx: ViewContext): { row: OverviewRow; hosts: HostRow[] } {
  const release = infoOf(data.channel);
  const pin = infoOf(data.pin);
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

/** `100%`, or the steps: `5% now, 25% after 30m, 100% after 2h`. */
export function rolloutText(info: ManifestInfo): string | null {
  const plan = planRollout(info.rollout, info.issuedAt);
  if (plan.kind === 'invalid') return `unreadable rollout: ${plan.reason}`;
  if (plan.kind === 'percent') return `${plan.steps[0].percent}%`;
  const raw = Array.isArray(info.rollout?.steps) ? info.rollout.steps : [];
  return plan.steps
    .map((s, i) => {
      const after = (raw[i] as { after?: unknown } | undefined)?.after;
      return `${s.percent}% ${typeof after === 'string' && !/^0+(?:\.0+)?(?:ms|s|m|h|d)$/.test(after) ? `after ${after}` : 'at once'}`;
    })
    .join(', ');
}

function keyMismatch(r: ReportObject, data: AppEnvSnapshot): string | null {
  const report = r.report;
  if (report === undefined) return null;
  const problems: string[] = [];
  if (report.hostId !== r.keyHost) problems.push(report.hostId === undefined ? 'the report names no host id' : `the report names host "${report.hostId}"`);
  if ((report.app !== undefined && report.app !== data.app) || (report.env !== undefined && report.env !== data.env)) {
    problems.push(`the report is for ${report.app ?? '?'}/${report.env ?? '?'}`);
  }
  return problems.length === 0 ? null : `${problems.join('; ')}, but its key names ${r.keyHost} in ${data.app}/${data.env}`;
}

function hostRow(r: ReportObject, data: AppEnvSnapshot, plan: RolloutPlan | undefined, ctx: ViewContext): HostRow {
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

const FAILURE_OUTCOMES = ['rolled-back', 'failed'] as const;

function progressView(data: AppEnvSnapshot, release: ManifestInfo, plan: RolloutPlan, ctx: ViewContext): ProgressView {
  const sequence = release.sequence ?? null;
  const events = data.events !== undefined && data.events.sequence === sequence ? data.events : undefined;
  const eventHosts = (outcome: string): ReadonlySet<string> => new Set(events?.outcomes.get(outcome) ?? []);
  const failedByEvent = new Set([...eventHosts('rolled-back'), ...eventHosts('failed')]);
  const haltedByEvent = eventHosts('halted');
  const eventCounts = events === undefined ? null : [...events.outcomes].map(([outcome, hosts]) => [outcome, hosts.length] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (plan.kind === 'invalid') {
    return { kind: 'invalid', reason: plan.reason, sequence, steps: [], outside: 0, halt: null, events: eventCounts, eventsError: data.eventsError ?? null };
  }
  const steps = plan.steps.map((s) => ({ ...s, hosts: 0, done: 0, failed: 0, waiting: 0, halted: 0 }));
  let outside = 0;
  let reportFailures = 0;
  for (const r of data.reports) {
    const planned = stepOf(plan, cohortValue(r.keyHost, data.app, data.env));
    const step = planned === undefined ? undefined : steps[planned.index];
    if (step === undefined) {
      outside += 1;
      continue;
    }
    step.hosts += 1;
    const report = r.report;
    if (report?.current?.sha256 !== undefined && report.current.sha256 === release.sha256) step.done += 1;
    const failedHere = failedByEvent.has(r.keyHost) || (report !== undefined && (FAILURE_OUTCOMES as readonly string[]).includes(report.state ?? '') && report.lastAttempt?.version !== undefined && report.lastAttempt.version === release.version);
    if (failedHere) step.failed += 1;
    if (report !== undefined && failedHere && !failedByEvent.has(r.keyHost)) reportFailures += 1;
    if (report?.state === 'waiting') step.waiting += 1;
    if (report?.state === 'halted' || haltedByEvent.has(r.keyHost)) step.halted += 1;
  }
  const stepViews: StepView[] = steps.map((s) => ({
    index: s.index,
    fromPercent: s.lower / 100,
    percent: s.percent,
    dueAt: plan.kind === 'percent' && release.issuedAt === undefined ? null : s.dueAt,
    spreadMs: s.spreadMs,
    due: ctx.now >= s.dueAt,
    hosts: s.hosts,
    done: s.done,
    failed: s.failed,
    waiting: s.waiting,
    halted: s.halted,
  }));
  const dueHosts = stepViews.filter((s) => s.due).reduce((n, s) => n + s.hosts, 0);
  const limit = haltLimit(release.rollout, dueHosts);
  const failures = failedByEvent.size + reportFailures;
  const halted = stepViews.reduce((n, s) => n + s.halted, 0);
  return {
    kind: plan.kind,
    reason: null,
    sequence,
    steps: stepViews,
    outside,
    halt: limit === undefined ? null : { limit: limit.limit, text: limit.text, failures, reached: failures >= limit.limit || halted > 0 },
    events: eventCounts,
    eventsError: data.eventsError ?? null,
  };
}

function historyRows(data: AppEnvSnapshot, ctx: ViewContext): HistoryRow[] {
  const channel = infoOf(data.channel);
  const pin = infoOf(data.pin);
  return data.history.map((h): HistoryRow => {
    const base = { key: h.key, sequence: h.sequence, version: null, sha12: null, issuedAt: null, signers: [], approvals: [], notes: [], reason: null, rollout: null, current: false };
    const object = h.object;
    if (!isEnvelope(object)) return { ...base, kind: 'unreadable', error: object.error };
    if (!('info' in object.read)) return { ...base, kind: 'unreadable', error: object.read.error };
    const info = object.read.info;
    const kind = h.kind === 'pin' ? (info.unpin ? 'unpin' : 'pin') : 'release';
    const holder = h.kind === 'pin' ? pin : channel;
    return {
      key: h.key,
      sequence: h.sequence,
      kind,
      version: info.version ?? null,
      sha12: info.sha256?.slice(0, 12) ?? null,
      issuedAt: info.issuedAt ?? null,
      signers: signersOf(object.read.envelope, ctx.policy),
      approvals: (h.approvals ?? [])
        .map((a) => approvalOf(a.read, { app: data.app, env: data.env, sequence: h.sequence, sha256: info.sha256 }, ctx.policy))
        .sort((a, b) => (a.at ?? 0) - (b.at ?? 0)),
      notes: info.notes,
      reason: info.reason ?? null,
      rollout: h.kind === 'release' ? rolloutText(info) : null,
      current: holder?.sequence === h.sequence,
      error: info.sequence !== h.sequence ? `the key says sequence ${h.sequence} but the manifest says ${info.sequence ?? 'none'}` : null,
    };
  });
}
