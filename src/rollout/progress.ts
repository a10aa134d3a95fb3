/**
 * Rollout progress of one release, pure: its steps with their due times, the hosts expected in
 * each (cohort math over the host ids of the status reports), and per step how many are healthy
 * on it, rolled back, failed, halted, waiting or elsewhere, from the sequence's events first and
 * the reports otherwise; and the halt: the failure limit against the failed hosts counted exactly
 * as the agents count them. `hoist rollout status` prints it and exits 1 when the rollout halted.
 */
import { dueHostCount, haltVerdict, parseMaxFailures, type HaltVerdict } from './halt.ts';
import { cohortValue, eligibleAt, scheduleOf, stepDue, stepOf, type RolloutSpec, type Schedule } from './schedule.ts';

export interface ReleaseInfo {
  readonly app: string;
  readonly env: string;
  readonly sequence: number;
  readonly version: string;
  readonly sha256: string;
  readonly issuedAt: string;
  readonly rollout?: RolloutSpec | undefined;
}

/** What one status report says, as far as progress goes. */
export interface HostReport {
  readonly hostId: string;
  readonly state: string;
  readonly currentSha256: string | null;
  /** Why the host does not run its target, when it says. */
  readonly skipped?: { readonly reason: string; readonly eligibleAt?: string | null | undefined } | null | undefined;
}

export const PROGRESS_OUTCOMES = ['healthy', 'rolled-back', 'failed', 'halted', 'waiting', 'other'] as const;
export type ProgressOutcome = (typeof PROGRESS_OUTCOMES)[number];

export interface StepProgress {
  readonly index: number;
  readonly fromPercent: number;
  readonly percent: number;
  readonly dueAt: number;
  readonly spreadMs: number;
  /** When the last host of the band becomes eligible. */
  readonly lastEligibleAt: number;
  readonly due: boolean;
  /** Reporting hosts whose cohort falls in the step. */
  readonly hosts: number;
  readonly counts: Readonly<Record<ProgressOutcome, number>>;
}

export interface RolloutProgress {
  readonly schedule: Schedule['kind'];
  readonly start: number;
  readonly steps: readonly StepProgress[];
  /** Reporting hosts no step reaches. */
  readonly outside: number;
  /** Hosts with events but no report (gone since), counted in no step. */
  readonly unreported: number;
  readonly halt: (HaltVerdict & { readonly dueHosts: number; readonly haltedHosts: number }) | null;
  /** Halted: the limit is reached, or a host wrote a halted event. */
  readonly halted: boolean;
  /** Every step due and every host of them healthy on the release. */
  readonly complete: boolean;
}

/** Host ids per outcome of the sequence, from events/. */
export type SequenceEvents = ReadonlyMap<string, readonly string[]>;

export function rolloutProgress(release: ReleaseInfo, reports: readonly HostReport[], events: SequenceEvents, now: number): RolloutProgress {
  const schedule = scheduleOf(release.rollout, Date.parse(release.issuedAt));
  const hostsWith = (outcome: string): ReadonlySet<string> => new Set(events.get(outcome) ?? []);
  const healthyEv = hostsWith('healthy');
  const rolledBackEv = hostsWith('rolled-back');
  const failedEv = hostsWith('failed');
  const haltedEv = hostsWith('halted');
  const steps = schedule.steps.map((s) => ({ step: s, hosts: 0, counts: Object.fromEntries(PROGRESS_OUTCOMES.map((o) => [o, 0])) as Record<ProgressOutcome, number> }));
  let outside = 0;
  const reported = new Set<string>();
  for (const r of reports) {
    reported.add(r.hostId);
    const step = stepOf(schedule.steps, cohortValue(r.hostId, release.app, release.env));
    const row = step === undefined ? undefined : steps[step.index];
    if (row === undefined) {
      outside += 1;
      continue;
    }
    row.hosts += 1;
    row.counts[outcomeOf(r, release, { healthyEv, rolledBackEv, failedEv, haltedEv })] += 1;
  }
  const unreported = new Set([...healthyEv, ...rolledBackEv, ...failedEv, ...haltedEv].filter((h) => !reported.has(h))).size;
  const max = parseMaxFailures(release.rollout?.halt?.maxFailures);
  const dueHosts = dueHostCount(reported, release.app, release.env, schedule, now);
  const verdict = max === undefined ? undefined : haltVerdict({ maxFailures: max, failedHosts: [...rolledBackEv, ...failedEv], dueHosts });
  const halted = verdict?.halted === true || haltedEv.size > 0;
  const stepViews = steps.map(({ step, hosts, counts }): StepProgress => ({
    index: step.index,
    fromPercent: step.lower / 100,
    percent: step.percent,
    dueAt: step.dueAt,
    spreadMs: step.spreadMs,
    lastEligibleAt: step.upper > step.lower ? eligibleAt(step, step.upper - 1) : step.dueAt,
    due: stepDue(schedule, step, now),
    hosts,
    counts,
  }));
  return {
    schedule: schedule.kind,
    start: schedule.kind === 'steps' ? schedule.start : Date.parse(release.issuedAt),
    steps: stepViews,
    outside,
    unreported,
    halt: verdict === undefined ? null : { ...verdict, dueHosts, haltedHosts: haltedEv.size },
    halted,
    complete: !halted && stepViews.every((s) => s.due && s.counts.healthy === s.hosts),
  };
}

function outcomeOf(r: HostReport, release: ReleaseInfo, ev: { healthyEv: ReadonlySet<string>; rolledBackEv: ReadonlySet<string>; failedEv: ReadonlySet<string>; haltedEv: ReadonlySet<string> }): ProgressOutcome {
  const runs = r.currentSha256 === release.sha256;
  // what the host runs now first: a host that failed once and took the release on a retry is healthy
  if (runs && (r.state === 'healthy' || r.state === 'pinned' || r.state === 'waiting' || ev.healthyEv.has(r.hostId))) return 'healthy';
  if (ev.rolledBackEv.has(r.hostId)) return 'rolled-back';
  if (ev.failedEv.has(r.hostId)) return 'failed';
  if (ev.haltedEv.has(r.hostId) || r.state === 'halted') return 'halted';
  if (r.state === 'waiting' || r.skipped?.reason === 'step' || r.skipped?.reason === 'window') return 'waiting';
  return 'other';
}
