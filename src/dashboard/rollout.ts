/**
 * Rollout progress, pure: the schedule a release manifest describes, read from its raw
 * `rollout` object so that schedules this version's manifest schema does not parse yet are still
 * shown. `rollout.steps` (percent bands that become due at `start + after`, start being
 * `rollout.startAt` or else `issuedAt`) replaces `rollout.percent`; a host's band is fixed by
 * its cohort value (agent/decide.ts), so the same hosts are always in the same step.
 */
import { formatMaxFailures, haltLimit as limitOf, parseMaxFailures } from '../rollout/halt.ts';
import { percentBound, planSteps, stepOf as stepOfSteps, type PlannedStep } from '../rollout/schedule.ts';
import { parseDuration } from '../util/units.ts';
import { number, record, text, time, type Json } from './untrusted.ts';

// The math is the agent's (src/rollout/): the page shows exactly what the hosts compute.
export { COHORT_SPACE, eligibleAt, stepBound, type PlannedStep } from '../rollout/schedule.ts';

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
    return { kind: 'percent', steps: [{ index: 0, percent, lower: 0, upper: percentBound(percent), dueAt: issuedAt ?? 0, spreadMs: 0 }] };
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
  return { kind: 'steps', start, steps: planSteps(parsed.map((s) => ({ percent: s.percent, afterMs: s.after, spreadMs: s.spread })), start) };
}

/** The step a cohort value falls in, or undefined when the rollout never reaches it. */
export function stepOf(plan: RolloutPlan, cohort: number): PlannedStep | undefined {
  if (plan.kind === 'invalid') return undefined;
  return stepOfSteps(plan.steps, cohort);
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
  const max = parseMaxFailures(record(rollout?.halt)?.maxFailures);
  if (max === undefined) return undefined;
  return { limit: limitOf(max, dueHosts), text: formatMaxFailures(max) };
}
