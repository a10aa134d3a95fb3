/**
 * The fleet-wide halt of a rollout, pure. `rollout.halt.maxFailures` is a count (`3`) or a share
 * of the hosts due so far (`"5%"`, meaning `max(1, ceil(5 % × due))`), the hosts due so far being
 * the reporting host ids whose step is due. A host about to activate counts the distinct hosts
 * with a `rolled-back` or `failed` event for the sequence; at or over the limit it does not
 * activate. Every host computes this from the same objects, so the halt holds with no coordinator.
 */
import { cohortValue, stepDue, stepOf, type Schedule } from './schedule.ts';

export type MaxFailures = { readonly kind: 'count'; readonly count: number } | { readonly kind: 'percent'; readonly percent: number };

const PERCENT_RE = /^(\d{1,3}(?:\.\d{1,2})?)%$/;

/** `3` or `"5%"` as the manifest carries it; undefined when it is neither. */
export function parseMaxFailures(value: unknown): MaxFailures | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 1 ? { kind: 'count', count: value } : undefined;
  if (typeof value !== 'string') return undefined;
  const m = PERCENT_RE.exec(value);
  if (m === null) return undefined;
  const percent = Number(m[1]);
  return percent > 0 && percent <= 100 ? { kind: 'percent', percent } : undefined;
}

/** As written: `3` or `5%`. */
export function formatMaxFailures(max: MaxFailures): string {
  return max.kind === 'count' ? String(max.count) : `${max.percent}%`;
}

/** The failure count that halts: the count itself, or `max(1, ceil(percent × due))`. */
export function haltLimit(max: MaxFailures, dueHosts: number): number {
  if (max.kind === 'count') return max.count;
  // percent / 100 × due, rounded to a millionth first so 5 % of 60 is 3, not 3.0000000000000004
  return Math.max(1, Math.ceil(Math.round(((max.percent * dueHosts) / 100) * 1e6) / 1e6));
}

/** How many of these host ids are in a step that is due at `now` (each id counted once). */
export function dueHostCount(hostIds: Iterable<string>, app: string, env: string, schedule: Schedule, now: number): number {
  let due = 0;
  for (const id of new Set(hostIds)) {
    const step = stepOf(schedule.steps, cohortValue(id, app, env));
    if (step !== undefined && stepDue(schedule, step, now)) due += 1;
  }
  return due;
}

export interface HaltInput {
  readonly maxFailures: MaxFailures;
  /** Host ids with a rolled-back or failed event for the sequence (a host may have both). */
  readonly failedHosts: Iterable<string>;
  /** Hosts due so far; only read for a percent limit. */
  readonly dueHosts: number;
}

export interface HaltVerdict {
  readonly halted: boolean;
  readonly failures: number;
  readonly limit: number;
  /** `3` or `5%`, as the manifest says. */
  readonly text: string;
}

export function haltVerdict(input: HaltInput): HaltVerdict {
  const failures = new Set(input.failedHosts).size;
  const limit = haltLimit(input.maxFailures, input.dueHosts);
  return { halted: failures >= limit, failures, limit, text: formatMaxFailures(input.maxFailures) };
}
