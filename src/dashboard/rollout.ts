/**
 * Rollout progress, pure: the schedule a release manifest describes, from its `rollout` object
 * (untrusted JSON, checked here by the manifest schema's own rules). `rollout.steps` (percent
 * bands that become due at `start + after`, start being `rollout.startAt` or else `issuedAt`)
 * replaces `rollout.percent`; a host's band is fixed by its cohort value (agent/decide.ts), so the
 * same hosts are always in the same step.
 */
import { rolloutSchema } from '../manifest/schema.ts';
import { formatMaxFailures, haltLimit as limitOf, parseMaxFailures } from '../rollout/halt.ts';
import { scheduleOf, stepOf as stepOfSteps, type PlannedStep, type Schedule } from '../rollout/schedule.ts';
import { formatPath } from '../util/zod-units.ts';
import { record, type Json } from './untrusted.ts';

// The math is the agent's (src/rollout/): the page shows exactly what the hosts compute.
export { COHORT_SPACE, eligibleAt, stepBound, type PlannedStep } from '../rollout/schedule.ts';

export type RolloutPlan = Schedule | { readonly kind: 'invalid'; readonly reason: string };

/**
 * The plan of a release's rollout, as the agents compute it. Without `steps` it is one step of
 * `percent` (default 100), due at issue time; a rollout the manifest schema refuses (which the
 * agents refuse too) is `invalid`, with the first reason.
 */
export function planRollout(rollout: Json | undefined, issuedAt: number | undefined): RolloutPlan {
  const parsed = rolloutSchema.safeParse(rollout ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? 'rollout' : `rollout.${formatPath(issue.path)}`;
    return { kind: 'invalid', reason: `${where}: ${issue?.message ?? 'unreadable'}` };
  }
  if (parsed.data.steps !== undefined && parsed.data.startAt === undefined && issuedAt === undefined) {
    return { kind: 'invalid', reason: 'rollout.steps count from issuedAt, which the manifest lacks' };
  }
  return scheduleOf(parsed.data, issuedAt ?? 0);
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
