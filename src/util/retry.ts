/**
 * Retry with exponential backoff and full jitter (delay drawn uniformly from [0, min(max, base·2^n))),
 * which spreads a fleet's retries instead of synchronising them. Aborting stops at once: the
 * running attempt sees the abort through its signal, and no further attempt starts.
 */
import { sleep } from './sleep.ts';

export interface RetryInfo {
  /** The attempt that failed, from 1. */
  readonly attempt: number;
  /** How long we wait before the next attempt. */
  readonly delayMs: number;
  readonly error: unknown;
}

export interface RetryOptions {
  /** Total attempts, including the first (≥ 1). */
  readonly attempts: number;
  readonly baseMs: number;
  readonly maxMs: number;
  readonly signal?: AbortSignal;
  /** Which errors are worth another attempt; default: all. */
  readonly isRetryable?: (err: unknown) => boolean;
  readonly onRetry?: (info: RetryInfo) => void;
  /** Source of randomness in [0, 1); injectable for tests. */
  readonly random?: () => number;
}

/**
 * Pure: the wait after failed attempt `attempt` (1-based). The ceiling doubles from `baseMs` and is
 * capped at `maxMs`; the delay is `floor(random · ceiling)`.
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 52); // 2^52 already exceeds any sane maxMs
  const ceiling = Math.min(maxMs, baseMs * 2 ** exponent);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.min(Math.floor(r * ceiling), Math.max(0, maxMs));
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted.', 'AbortError');
}

export async function retry<T>(
  fn: (attempt: number, signal: AbortSignal) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const { attempts, baseMs, maxMs, onRetry } = options;
  const signal = options.signal ?? new AbortController().signal;
  const retryable = options.isRetryable ?? ((): boolean => true);
  const random = options.random ?? Math.random;
  const total = Math.max(1, Math.floor(attempts));
  for (let attempt = 1; ; attempt++) {
    if (signal.aborted) throw abortReason(signal);
    try {
      return await fn(attempt, signal);
    } catch (error) {
      // An attempt that failed because we were aborted reports the abort, not its own error.
      if (signal.aborted) throw abortReason(signal);
      if (attempt >= total || !retryable(error)) throw error;
      const delayMs = backoffDelay(attempt, baseMs, maxMs, random);
      onRetry?.({ attempt, delayMs, error });
      await sleep(delayMs, signal);
    }
  }
}
