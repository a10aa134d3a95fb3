/**
 * What the agent records in an app's lastAttempt while the held trust document is expired: the
 * activation it withheld (HOIST_TRUST_EXPIRED). Pure: the state keeper writes what it returns.
 */
import type { HoistError } from '../errors.ts';
import type { LastAttempt } from '../state/schema.ts';

/** The record of a withheld activation, or undefined when the last attempt already says so. */
export function withheldAttempt(last: LastAttempt | undefined, target: { version: string; sequence: number }, error: HoistError, now: Date): LastAttempt | undefined {
  if (last?.code === error.code && last.sequence === target.sequence) return undefined;
  return { version: target.version, sequence: target.sequence, outcome: 'skipped', code: error.code, message: error.message, at: now.toISOString() };
}
