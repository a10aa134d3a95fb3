/**
 * A low-speed watchdog for one download attempt: when fewer than `minBytes` arrive within any
 * `timeoutMs` window, its signal aborts with a retryable stall error. A byte now and then does not
 * keep a trickling connection alive (like curl's --speed-limit/--speed-time).
 */

/** The abort reason of a stalled attempt; `code` makes it retryable (see aws/errors.ts). */
export class StallError extends Error {
  readonly code = 'HOIST_STALL' as const;

  constructor(timeoutMs: number, received: number, minBytes: number) {
    super(`the download stalled: ${received} bytes in ${timeoutMs} ms, fewer than the ${minBytes} required`);
    this.name = 'StallError';
  }
}

export interface StallWatch extends Disposable {
  readonly signal: AbortSignal;
  /** Record `bytes` received. */
  progress(bytes: number): void;
}

export function watchStall(timeoutMs: number, minBytes: number): StallWatch {
  const controller = new AbortController();
  const min = Math.max(1, minBytes);
  let windowBytes = 0;
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    timer = setTimeout(() => {
      if (windowBytes < min) {
        timer = undefined;
        controller.abort(new StallError(timeoutMs, windowBytes, min));
        return;
      }
      windowBytes = 0;
      arm();
    }, timeoutMs);
    // Never keep the process alive on the watchdog's account.
    timer.unref();
  };
  arm();
  return {
    signal: controller.signal,
    progress(bytes) {
      windowBytes += bytes;
    },
    [Symbol.dispose]() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}
