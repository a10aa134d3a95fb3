/**
 * The health decision as a pure state machine: fed one probe result and the time, it says whether
 * the release is healthy, unhealthy, or needs another probe and when. No timers, no I/O.
 *
 * start: probe until `successThreshold` consecutive successes (a failure resets the count); past
 *        `startPeriodMs` without them → unhealthy in phase 'start'. `failureThreshold`
 *        consecutive failed *answers* (the app answered, wrongly: an HTTP status or body, a
 *        command's exit code) → unhealthy at once: an app answering 503 from its first request
 *        does not keep serving for the whole startPeriod. Refusals and time-outs (nothing answers
 *        yet: the app is starting) neither count nor break the run of failed answers.
 * bake:  keep probing until `bakeMs` has passed since the threshold was reached;
 *        `failureThreshold` consecutive failures of any kind → unhealthy in phase 'bake' (one
 *        flaky probe does not roll a healthy release back).
 */
import { formatDuration } from '../util/units.ts';

export type HealthPhase = 'start' | 'bake';

export interface HealthPolicy {
  readonly startPeriodMs: number;
  readonly intervalMs: number;
  readonly successThreshold: number;
  /** Consecutive failed answers (start) or failures (bake) that make the release unhealthy; default 1 in bake, never in start. */
  readonly failureThreshold?: number;
  readonly bakeMs: number;
}

export interface HealthState {
  readonly phase: HealthPhase;
  readonly consecutive: number;
  /** Consecutive failed answers (start) or failures (bake). */
  readonly failures?: number;
  readonly probes: number;
  readonly startedAt: number;
  readonly bakeStartedAt?: number;
  readonly lastFailure?: string;
}

export type HealthStep =
  | { readonly kind: 'continue'; readonly state: HealthState; readonly waitMs: number }
  | { readonly kind: 'healthy'; readonly state: HealthState }
  | { readonly kind: 'unhealthy'; readonly state: HealthState; readonly phase: HealthPhase; readonly reason: string };

export function initialHealthState(now: number): HealthState {
  return { phase: 'start', consecutive: 0, probes: 0, startedAt: now };
}

export function nextHealthState(
  state: HealthState,
  result: { readonly ok: boolean; readonly detail: string; readonly answered?: boolean | undefined },
  now: number,
  policy: HealthPolicy,
): HealthStep {
  const probes = state.probes + 1;
  if (state.phase === 'bake') {
    const bakeStartedAt = state.bakeStartedAt ?? now;
    const failures = result.ok ? 0 : (state.failures ?? 0) + 1;
    const next: HealthState = { ...state, probes, failures, consecutive: result.ok ? state.consecutive + 1 : 0, ...(result.ok ? {} : { lastFailure: result.detail }) };
    if (!result.ok && failures >= (policy.failureThreshold ?? 1)) {
      return {
        kind: 'unhealthy',
        phase: 'bake',
        state: next,
        reason: `failed during bake, ${formatDuration(now - bakeStartedAt)} after becoming healthy${failures > 1 ? ` (${failures} failures in a row)` : ''}: ${result.detail}`,
      };
    }
    const left = bakeStartedAt + policy.bakeMs - now;
    if (left <= 0) return { kind: 'healthy', state: next };
    return { kind: 'continue', state: next, waitMs: Math.min(policy.intervalMs, left) };
  }

  const consecutive = result.ok ? state.consecutive + 1 : 0;
  const failures = result.ok ? 0 : (state.failures ?? 0) + (result.answered === true ? 1 : 0);
  const next: HealthState = {
    ...state,
    probes,
    consecutive,
    failures,
    ...(result.ok ? {} : { lastFailure: result.detail }),
  };
  if (policy.failureThreshold !== undefined && failures >= policy.failureThreshold) {
    return {
      kind: 'unhealthy',
      phase: 'start',
      state: next,
      reason: `${failures} failed answers in a row (failureThreshold ${policy.failureThreshold}), ${formatDuration(now - state.startedAt)} into startPeriod: ${result.detail}`,
    };
  }
  if (consecutive >= policy.successThreshold) {
    const baking: HealthState = { ...next, phase: 'bake', bakeStartedAt: now, failures: 0 };
    if (policy.bakeMs <= 0) return { kind: 'healthy', state: baking };
    return { kind: 'continue', state: baking, waitMs: Math.min(policy.intervalMs, policy.bakeMs) };
  }
  const left = state.startedAt + policy.startPeriodMs - now;
  if (left <= 0) {
    const last = next.lastFailure ?? 'no failure, but too few probes';
    return {
      kind: 'unhealthy',
      phase: 'start',
      state: next,
      reason: `not healthy within startPeriod ${formatDuration(policy.startPeriodMs)} (${consecutive} of ${policy.successThreshold} consecutive successes at the end); last failure: ${last}`,
    };
  }
  return { kind: 'continue', state: next, waitMs: Math.min(policy.intervalMs, left) };
}
