/**
 * `hoist status --wait`: read the fleet until it has converged or the time is up. The reading is
 * a parameter, so the loop is tested without S3; every sleep honours the signal.
 */
import type { FleetStatus } from './summary.ts';
import { sleep } from '../util/sleep.ts';

export interface WaitOptions {
  readonly waitMs: number;
  readonly pollMs: number;
  readonly signal?: AbortSignal | undefined;
  /** Called after each read that has not converged yet. */
  readonly onProgress?: (status: FleetStatus) => void;
  readonly now?: () => number;
}

/** The first converged status, or the last one read when the wait ran out. */
export async function waitForConvergence(read: () => Promise<FleetStatus>, options: WaitOptions): Promise<FleetStatus> {
  const now = options.now ?? Date.now;
  const deadline = now() + options.waitMs;
  // Bounded by the deadline: each turn sleeps pollMs (at least 100 ms) or until the deadline.
  for (;;) {
    const status = await read();
    if (status.summary.converged) return status;
    const left = deadline - now();
    if (left <= 0) return status;
    options.onProgress?.(status);
    await sleep(Math.max(100, Math.min(options.pollMs, left)), options.signal);
  }
}
