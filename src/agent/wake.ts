/**
 * The agent wakes itself when a rollout step reaches this host: one timer per app, set to the
 * `eligibleAt` of the latest decision (a later decision moves or clears it), firing a reconcile of
 * that app. No poll is needed for a step to start; the window and pins still apply, since the
 * reconcile decides again. Timers never keep the process alive and are cleared on drain.
 */

/** setTimeout's longest delay (about 24.8 days): a later time is reached in hops. */
const MAX_DELAY_MS = 2 ** 31 - 1;
/** Fire a little after the time: the decision compares with the wall clock. */
const MARGIN_MS = 5;

export class WakeTimer {
  readonly #fire: () => void;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #at: number | undefined;

  constructor(fire: () => void, now: () => number = Date.now) {
    this.#fire = fire;
    this.#now = now;
  }

  /** When it fires next, if set. */
  get at(): number | undefined {
    return this.#at;
  }

  /** Fire at `at` (ms since the epoch); undefined clears. Setting the same time again changes nothing. */
  set(at: number | undefined): void {
    if (at === this.#at) return;
    this.clear();
    if (at === undefined || !Number.isFinite(at)) return;
    this.#at = at;
    this.#arm();
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#at = undefined;
  }

  #arm(): void {
    const at = this.#at;
    if (at === undefined) return;
    const delay = Math.max(0, at - this.#now()) + MARGIN_MS;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (delay > MAX_DELAY_MS) {
        this.#arm();
        return;
      }
      this.#at = undefined;
      this.#fire();
    }, Math.min(delay, MAX_DELAY_MS));
    this.#timer.unref();
  }
}
