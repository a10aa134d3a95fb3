/**
 * What the agent records in an app's lastAttempt because of the trust document: a held channel or
 * pin dropped after a trust change (no longer verifies), and an activation withheld while the held
 * trust document is expired. Pure: the state keeper writes what these return.
 */
import type { HoistError } from '../errors.ts';
import type { LastAttempt } from '../state/schema.ts';
import type { ManifestView } from './decide.ts';

export function droppedAttempt(kind: 'release' | 'pin', held: ManifestView, error: HoistError, trustVersion: number, now: Date): LastAttempt {
  const what = held.artifact === null ? 'unpin' : `${kind} ${held.version ?? ''}`;
  return {
    ...(held.version === undefined ? {} : { version: held.version }),
    sequence: held.sequence,
    outcome: 'skipped',
    code: error.code,
    message: `the held ${what} (sequence ${held.sequence}) no longer verifies under trust version ${trustVersion}; dropped (never deployed from now on; a release already serving keeps serving): ${error.message}`,
    at: now.toISOString(),
  };
}

/** The record of a withheld activation, or undefined when the last attempt already says so. */
export function withheldAttempt(last: LastAttempt | undefined, target: { version: string; sequence: number }, error: HoistError, now: Date): LastAttempt | undefined {
  if (last?.code === error.code && last.sequence === target.sequence) return undefined;
  return { version: target.version, sequence: target.sequence, outcome: 'skipped', code: error.code, message: error.message, at: now.toISOString() };
}
