/**
 * Rollout progress of the current release, pure: hosts per step (by cohort), how many run the
 * release, failed it (from events/ when read, else from the reports), wait or are halted, and the
 * halt limit against the failures counted.
 */
import { cohortValue } from '../agent/decide.ts';
import type { ManifestInfo } from './manifest-view.ts';
import { haltLimit, stepOf, type RolloutPlan } from './rollout.ts';
import type { AppEnvSnapshot } from './snapshot.ts';
import type { ViewContext } from './view.ts';

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

const FAILURE_OUTCOMES = ['rolled-back', 'failed'] as const;

export function progressView(data: AppEnvSnapshot, release: ManifestInfo, plan: RolloutPlan, ctx: ViewContext): ProgressView {
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
