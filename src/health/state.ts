/**
 * The health decision as a pure state machine: fed one probe result and the time, it says whether
 * the release is healthy, unhealthy, or needs another probe and when. No timers, no I/O.
 *
 * start: probe until `successThreshold` consecutive successes (a failure resets the count); past
 *        `startPeriodMs` without them → unhealthy in phase 'start'.
 * bake:  keep probing until `bakeMs` has passed since the threshold was reached; any failure →
 *        unhealthy in phase 'bake'.
 */
import { formatDuration } from '../util/units.ts';

export type HealthPhase = 'start' | 'bake';

export interface HealthPolicy {
  readonly startPeriodMs: number;
  readonly intervalMs: number;
  readonly successThreshold: number;
  readonly bakeMs: number;
}

export interface HealthState {
  readonly phase: HealthPhase;
  readonly consecutive: number;
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
  result: { readonly ok: boolean; readonly detail: string },
  now: number,
  policy: HealthPolicy,
): HealthStep {
  const probes = state.probes + 1;
  if (state.phase === 'bake') {
    const bakeStartedAt = state.bakeStartedAt ?? now;
    const next: HealthState = { ...state, probes, consecutive: result.ok ? state.consecutive + 1 : 0 };
    if (!result.ok) {
      return {
        kind: 'unhealthy',
        phase: 'bake',
        state: { ...next, lastFailure: result.detail },
        reason: `failed during bake, ${formatDuration(now - bakeStartedAt)} after becoming healthy: ${result.detail}`,
      };
    }
    const left = bakeStartedAt + policy.bakeMs - now;
    if (left <= 0) return { kind: 'healthy', state: next };
    return { kind: 'continue', state: next, waitMs: Math.min(policy.intervalMs, left) };
  }

  const consecutive = result.ok ? state.consecutive + 1 : 0;
  const next: HealthState = {
    ...state,
    probes,
    consecutive,
    ...(result.ok ? {} : { lastFailure: result.detail }),
  };
  if (consecutive >= policy.successThreshold) {
    const baking: HealthState = { ...next, phase: 'bake', bakeStartedAt: now };
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
