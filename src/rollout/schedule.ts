/**
 * Rollout schedules, pure: which hosts a release reaches and when. A host's cohort value
 * (`uint32(sha256(hostId:app:env)[0..4]) % 10000`, agent/decide.ts) fixes its place for good:
 *
 * - `rollout.percent` (default 100): the host takes the release at once when its value is below
 *   `round(percent × 100)`;
 * - `rollout.steps`: step i owns the band [bound of step i-1, floor(percent_i × 100)) and is due
 *   at `start + after_i` (start: `rollout.startAt`, else `issuedAt`); a host of the band becomes
 *   eligible at the due time plus its place in the band spread evenly over the step's `spread`
 *   (default half the time to the next step, 0 for the last step), so the hosts of one step never
 *   all start at once and early failures can halt the rest.
 *
 * Every time is milliseconds since the epoch; nothing here reads a clock.
 */
import { createHash } from 'node:crypto';
import { parseDuration } from '../util/units.ts';

/** Cohort values run from 0 to 9,999. */
export const COHORT_SPACE = 10_000;

/**
 * The host's stable rollout cohort value: `uint32(sha256(hostId:app:env)[0..4]) % 10000`. The
 * same hosts are always the canaries, and a wider rollout only ever adds hosts.
 */
export function cohortValue(hostId: string, app: string, env: string): number {
  const digest = createHash('sha256').update(`${hostId}:${app}:${env}`, 'utf8').digest();
  return digest.readUInt32BE(0) % COHORT_SPACE;
}

/** The cohort bound of `rollout.percent`: `round(percent × 100)`. */
export function percentBound(percent: number): number {
  return Math.round(percent * 100);
}

/**
 * The cohort bound of a step: `floor(percent × 100)` of a percent with at most two decimals.
 * 0.29 × 100 is 28.999999999999996 in binary floating point, so the product is rounded to a
 * millionth before the floor.
 */
export function stepBound(percent: number): number {
  return Math.floor(Math.round(percent * 100 * 1e6) / 1e6);
}

/** A step as the manifest gives it, its durations in ms. */
export interface StepInput {
  readonly percent: number;
  readonly afterMs: number;
  readonly spreadMs?: number | undefined;
}

export interface PlannedStep {
  readonly index: number;
  /** Share of the fleet reached once this step is due. */
  readonly percent: number;
  /** Cohort values in [lower, upper) belong to this step. */
  readonly lower: number;
  readonly upper: number;
  /** When the first host of the band becomes eligible. */
  readonly dueAt: number;
  /** The hosts of the band start spread over this long after dueAt. */
  readonly spreadMs: number;
}

export type Schedule =
  | { readonly kind: 'percent'; readonly percent: number; readonly steps: readonly [PlannedStep] }
  | { readonly kind: 'steps'; readonly start: number; readonly steps: readonly PlannedStep[] };

/** The steps of a schedule starting at `start`; percents and afters are taken as validated. */
export function planSteps(steps: readonly StepInput[], start: number): PlannedStep[] {
  let lower = 0;
  return steps.map((s, index) => {
    const next = steps[index + 1];
    const spreadMs = s.spreadMs ?? (next === undefined ? 0 : Math.floor((next.afterMs - s.afterMs) / 2));
    const step: PlannedStep = { index, percent: s.percent, lower, upper: stepBound(s.percent), dueAt: start + s.afterMs, spreadMs };
    lower = step.upper;
    return step;
  });
}

/** The `rollout` object of a verified manifest (durations already checked by the schema). */
export interface RolloutSpec {
  readonly percent?: number | undefined;
  readonly steps?: ReadonlyArray<{ readonly percent: number; readonly after: string; readonly spread?: string | undefined }> | undefined;
  readonly startAt?: string | undefined;
  readonly halt?: { readonly maxFailures: number | string } | undefined;
}

/** The schedule of a release: one step of `percent` due at issue time, or its `steps`. */
export function scheduleOf(rollout: RolloutSpec | undefined, issuedAt: number): Schedule {
  if (rollout?.steps === undefined) {
    const percent = rollout?.percent ?? 100;
    return { kind: 'percent', percent, steps: [{ index: 0, percent, lower: 0, upper: percentBound(percent), dueAt: issuedAt, spreadMs: 0 }] };
  }
  const start = rollout.startAt === undefined ? issuedAt : Date.parse(rollout.startAt);
  const steps = rollout.steps.map((s) => ({ percent: s.percent, afterMs: parseDuration(s.after) ?? 0, spreadMs: s.spread === undefined ? undefined : parseDuration(s.spread) }));
  return { kind: 'steps', start, steps: planSteps(steps, start) };
}

/** The step a cohort value falls in, or undefined when the rollout never reaches it. */
export function stepOf(steps: readonly PlannedStep[], cohort: number): PlannedStep | undefined {
  return steps.find((s) => cohort >= s.lower && cohort < s.upper);
}

/** When a host of this cohort value becomes eligible: dueAt plus its place in the band over the spread. */
export function eligibleAt(step: PlannedStep, cohort: number): number {
  const width = step.upper - step.lower;
  if (width <= 0 || step.spreadMs === 0) return step.dueAt;
  return step.dueAt + Math.floor((step.spreadMs * (cohort - step.lower)) / width);
}

/** Where one host stands in a schedule. */
export type Placement =
  | { readonly kind: 'outside'; readonly reach: number }
  | { readonly kind: 'eligible'; readonly step: PlannedStep; readonly eligibleAt: number }
  | { readonly kind: 'later'; readonly step: PlannedStep; readonly eligibleAt: number };

/**
 * Whether a host of this cohort value may take the release at `now`: outside every step (the
 * rollout stops short of it; `reach` is the share it stops at), eligible, or eligible later.
 */
export function placement(schedule: Schedule, cohort: number, now: number): Placement {
  const step = stepOf(schedule.steps, cohort);
  if (step === undefined) return { kind: 'outside', reach: schedule.steps.at(-1)?.percent ?? 0 };
  // `percent` rollouts take effect at once, whatever the issue time says
  const at = schedule.kind === 'percent' ? Number.NEGATIVE_INFINITY : eligibleAt(step, cohort);
  return now >= at ? { kind: 'eligible', step, eligibleAt: at } : { kind: 'later', step, eligibleAt: at };
}

/** Whether a step is due at `now` (its first host may start). */
export function stepDue(schedule: Schedule, step: PlannedStep, now: number): boolean {
  return schedule.kind === 'percent' || now >= step.dueAt;
}
