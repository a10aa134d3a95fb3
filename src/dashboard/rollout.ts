/**
 * Rollout progress, pure: the schedule a release manifest describes, read from its raw
 * `rollout` object so that schedules this version's manifest schema does not parse yet are still
 * shown. `rollout.steps` (percent bands that become due at `start + after`, start being
 * `rollout.startAt` or else `issuedAt`) replaces `rollout.percent`; a host's band is fixed by
 * its cohort value (agent/decide.ts), so the same hosts are always in the same step.
 */
import { parseDuration } from '../util/units.ts';
import { number, record, text, time, type Json } from './untrusted.ts';

/** Cohort values run from 0 to 9,999 (`% 10000`). */
export const COHORT_SPACE = 10_000;

export interface PlannedStep {
  readonly index: number;
  /** Share of the fleet reached once this step is due. */
  readonly percent: number;
  /** Cohort values in [lower, upper) belong to this step. */
  readonly lower: number;
  readonly upper: number;
  /** When the first host of the band becomes eligible (ms since the epoch). */
  readonly dueAt: number;
  /** Hosts of the band start spread over this long after dueAt. */
  readonly spreadMs: number;
}

export type RolloutPlan =
  | { readonly kind: 'percent'; readonly steps: readonly [PlannedStep] }
  | { readonly kind: 'steps'; readonly start: number; readonly steps: readonly PlannedStep[] }
  | { readonly kind: 'invalid'; readonly reason: string };

/**
 * The plan of a release's rollout. Without `steps` it is one step of `percent` (default 100),
 * due at issue time; the agent's `percent` bound is `round(percent × 100)`, a step's is
 * `floor(percent × 100)`.
 */
export function planRollout(rollout: Json | undefined, issuedAt: number | undefined): RolloutPlan {
  const steps = rollout?.steps;
  if (steps === undefined) {
    const percent = rollout?.percent === undefined ? 100 : number(rollout.percent);
    if (percent === undefined || percent < 0 || percent > 100) return { kind: 'invalid', reason: 'rollout.percent is not a number from 0 to 100' };
    return { kind: 'percent', steps: [{ index: 0, percent, lower: 0, upper: Math.round(percent * 100), dueAt: issuedAt ?? 0, spreadMs: 0 }] };
  }
  if (!Array.isArray(steps) || steps.length === 0 || steps.length > 100) return { kind: 'invalid', reason: 'rollout.steps is not a list of steps' };
  const start = rollout?.startAt === undefined ? issuedAt : time(rollout.startAt);
  if (start === undefined) return { kind: 'invalid', reason: 'rollout.startAt is not a time' };
  const parsed: Array<{ percent: number; after: number; spread: number | undefined }> = [];
  for (const [i, raw] of steps.entries()) {
    const step = record(raw);
    const percent = number(step?.percent);
    const after = parseDuration(text(step?.after, 32) ?? '');
    const spreadText = step?.spread === undefined ? undefined : text(step.spread, 32);
    const spread = spreadText === undefined ? undefined : parseDuration(spreadText);
    if (percent === undefined || percent <= 0 || percent > 100) return { kind: 'invalid', reason: `rollout.steps[${i}].percent is not a number above 0 and at most 100` };
    if (after === undefined) return { kind: 'invalid', reason: `rollout.steps[${i}].after is not a duration` };
    if (step?.spread !== undefined && spread === undefined) return { kind: 'invalid', reason: `rollout.steps[${i}].spread is not a duration` };
    const prev = parsed.at(-1);
    if (prev !== undefined && (percent <= prev.percent || after <= prev.after)) {
      return { kind: 'invalid', reason: `rollout.steps[${i}]: percent and after must increase from one step to the next` };
    }
    parsed.push({ percent, after, spread });
  }
  let lower = 0;
  const planned = parsed.map((s, index): PlannedStep => {
    const next = parsed[index + 1];
    const spreadMs = s.spread ?? (next === undefined ? 0 : Math.floor((next.after - s.after) / 2));
    const step = { index, percent: s.percent, lower, upper: stepBound(s.percent), dueAt: start + s.after, spreadMs };
    lower = step.upper;
    return step;
  });
  return { kind: 'steps', start, steps: planned };
}

/**
 * `floor(percent × 100)` of a percent with at most two decimals: 0.29 × 100 is 28.999999999999996
 * in binary floating point, so the product is rounded to a millionth before the floor.
 */
export function stepBound(percent: number): number {
  return Math.floor(Math.round(percent * 100 * 1e6) / 1e6);
}

/** The step a cohort value falls in, or undefined when the rollout never reaches it. */
export function stepOf(plan: RolloutPlan, cohort: number): PlannedStep | undefined {
  if (plan.kind === 'invalid') return undefined;
  return plan.steps.find((s) => cohort >= s.lower && cohort < s.upper);
}

/** When a host of this cohort value becomes eligible: dueAt plus its place in the band over the spread. */
export function eligibleAt(step: PlannedStep, cohort: number): number {
  const width = step.upper - step.lower;
  if (width <= 0 || step.spreadMs === 0) return step.dueAt;
  return step.dueAt + Math.floor((step.spreadMs * (cohort - step.lower)) / width);
}

export interface HaltLimit {
  readonly limit: number;
  /** As written: `3` or `5%`. */
  readonly text: string;
}

/**
 * `rollout.halt.maxFailures`: a count, or a percent of the hosts due so far meaning
 * `max(1, ceil(percent × due))`. Undefined when the manifest sets no (readable) limit.
 */
export function haltLimit(rollout: Json | undefined, dueHosts: number): HaltLimit | undefined {
  const max = record(rollout?.halt)?.maxFailures;
  if (typeof max === 'number' && Number.isInteger(max) && max >= 1) return { limit: max, text: String(max) };
  const match = typeof max === 'string' ? /^(\d+(?:\.\d+)?)%$/.exec(max) : null;
  if (match === null) return undefined;
  const percent = Number(match[1]);
  if (!(percent > 0 && percent <= 100)) return undefined;
  return { limit: Math.max(1, Math.ceil((percent / 100) * dueHosts)), text: `${match[1]}%` };
}
