/**
 * Runs the health decision (state.ts) against a real probe and real time: probe, decide, wait,
 * repeat. Abort rejects with the signal's reason, at once, even in the middle of a wait.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { HealthPhase, HealthPolicy } from './state.ts';
import { initialHealthState, nextHealthState } from './state.ts';

export type { HealthPhase, HealthPolicy, HealthState, HealthStep } from './state.ts';
export { initialHealthState, nextHealthState } from './state.ts';

export interface ProbeReport {
  readonly ok: boolean;
  readonly detail: string;
  /** The phase the probe ran in. */
  readonly phase: HealthPhase;
  /** Consecutive successes including this probe. */
  readonly consecutive: number;
}

export interface CheckHealthOptions extends HealthPolicy {
  /** Abort now: rejects with its reason, in any phase. */
  readonly signal?: AbortSignal;
  /**
   * Cut the bake short (the agent draining for shutdown): once the release has passed the start
   * phase, this aborting ends the check as healthy at once. It never shortens the start phase.
   */
  readonly bakeSignal?: AbortSignal;
  readonly onProbe?: (report: ProbeReport) => void;
  /** Clock for the decision, in ms; defaults to performance.now (monotonic). */
  readonly now?: () => number;
}

export type HealthOutcome =
  | { readonly healthy: true; readonly probes: number }
  | { readonly healthy: false; readonly phase: HealthPhase; readonly reason: string; readonly probes: number };

export async function checkHealth(
  probe: () => Promise<{ ok: boolean; detail: string; answered?: boolean | undefined }>,
  options: CheckHealthOptions,
): Promise<HealthOutcome> {
  const { signal } = options;
  const now = options.now ?? (() => performance.now());
  signal?.throwIfAborted();
  let state = initialHealthState(now());
  // Each round waits waitMs > 0 or ends, and startPeriod/bake are finite: the loop is bounded.
  for (;;) {
    const result = await probe();
    signal?.throwIfAborted();
    const step = nextHealthState(state, result, now(), options);
    options.onProbe?.({ ok: result.ok, detail: result.detail, phase: state.phase, consecutive: step.state.consecutive });
    if (step.kind === 'healthy') return { healthy: true, probes: step.state.probes };
    if (step.kind === 'unhealthy') {
      return { healthy: false, phase: step.phase, reason: step.reason, probes: step.state.probes };
    }
    state = step.state;
    const baking = state.phase === 'bake' ? options.bakeSignal : undefined;
    if (baking?.aborted) return { healthy: true, probes: state.probes };
    const waitSignals = [signal, baking].filter((s) => s !== undefined);
    try {
      await delay(step.waitMs, undefined, waitSignals.length === 0 ? {} : { signal: AbortSignal.any(waitSignals) });
    } catch (error) {
      // timers/promises wraps the reason in an AbortError; callers expect the reason itself.
      if (signal?.aborted) throw signal.reason;
      if (baking?.aborted) return { healthy: true, probes: state.probes };
      throw error;
    }
  }
}
