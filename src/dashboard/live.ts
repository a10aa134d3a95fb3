/**
 * The one refresh loop every viewer shares: the bucket is read once per interval whatever the
 * number of open pages (and not at all while nobody looks), one refresh at a time, and each
 * refresh's views are computed once and served to every viewer as the same JSON text.
 */
import { toHoistError } from '../errors.ts';
import type { TrustPolicy } from '../trust/policy.ts';
import type { BucketSnapshot } from './snapshot.ts';
import { appPage, overview, type ViewContext } from './view.ts';

export interface SnapshotSource {
  refresh(signal: AbortSignal): Promise<BucketSnapshot>;
}

export interface LiveOptions {
  readonly source: SnapshotSource;
  readonly refreshMs: number;
  readonly staleAfterMs: number;
  readonly policy?: TrustPolicy | undefined;
  readonly clock?: () => number;
  /** Bound of one refresh (default: 60 s). */
  readonly refreshTimeoutMs?: number;
}

export interface RefreshError {
  readonly at: number;
  readonly message: string;
}

/** What a listener hears after each refresh, successful or not. */
export interface RefreshNotice {
  readonly refresh: number;
  readonly ok: boolean;
}

export class LiveFleet {
  readonly #options: LiveOptions;
  readonly #clock: () => number;
  readonly #controller = new AbortController();
  readonly #listeners = new Set<(notice: RefreshNotice) => void>();
  readonly #json = new Map<string, string>();
  #snapshot: BucketSnapshot | undefined;
  #refresh = 0;
  #error: RefreshError | null = null;
  #inflight: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastDemand = 0;
  #lastRefreshAt = 0;
  #closed = false;

  constructor(options: LiveOptions) {
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
  }

  /** The first refresh (its failure is thrown: a wrong bucket fails at start), then the loop. */
  async start(): Promise<void> {
    await this.refreshNow(true);
    this.#schedule();
  }

  /** Refreshes unless a refresh is already running, in which case its end is awaited. */
  refreshNow(rethrow = false): Promise<void> {
    if (this.#inflight !== undefined) return this.#inflight;
    const run = async (): Promise<void> => {
      const signal = AbortSignal.any([this.#controller.signal, AbortSignal.timeout(this.#options.refreshTimeoutMs ?? 60_000)]);
      this.#lastRefreshAt = this.#clock();
      try {
        this.#snapshot = await this.#options.source.refresh(signal);
        this.#error = null;
      } catch (error) {
        if (this.#closed) return;
        if (rethrow) throw error;
        const e = toHoistError(error);
        this.#error = { at: this.#clock(), message: `${e.code}: ${e.message}` };
      }
      this.#refresh += 1;
      this.#json.clear();
      const notice = { refresh: this.#refresh, ok: this.#error === null };
      for (const listener of this.#listeners) listener(notice);
    };
    this.#inflight = run().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  /** Refreshes that completed so far. */
  get refreshCount(): number {
    return this.#refresh;
  }

  get viewers(): number {
    return this.#listeners.size;
  }

  /** A live viewer (an open page): the loop runs while there is one. */
  subscribe(listener: (notice: RefreshNotice) => void): () => void {
    this.#listeners.add(listener);
    this.#wake();
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** A poll (a request for data): keeps the loop running for two more intervals. */
  demand(): void {
    this.#lastDemand = this.#clock();
    this.#wake();
  }

  /** After a time nobody looked, the data is old: read again at once rather than at the next tick. */
  #wake(): void {
    if (!this.#closed && this.#inflight === undefined && this.#clock() - this.#lastRefreshAt > 2 * this.#options.refreshMs) void this.refreshNow();
  }

  overviewJson(): string {
    return this.#cached('overview', () => {
      const snapshot = this.#snapshot;
      return snapshot === undefined ? undefined : overview(snapshot, this.#context());
    }) ?? 'null';
  }

  /** The JSON of one app/env's page, or undefined when the bucket holds nothing for it. */
  appJson(app: string, env: string): string | undefined {
    return this.#cached(`app\u0000${app}\u0000${env}`, () => {
      const snapshot = this.#snapshot;
      return snapshot === undefined ? undefined : appPage(snapshot, app, env, this.#context());
    });
  }

  /** Stops the loop and aborts a refresh in flight; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#controller.abort(new Error('the dashboard is closing'));
    this.#listeners.clear();
  }

  #context(): ViewContext {
    return { now: this.#clock(), staleAfterMs: this.#options.staleAfterMs, policy: this.#options.policy };
  }

  #cached(id: string, build: () => object | undefined): string | undefined {
    const held = this.#json.get(id);
    if (held !== undefined) return held;
    const view = build();
    if (view === undefined) return undefined;
    const text = JSON.stringify({ refresh: this.#refresh, error: this.#error, ...view });
    this.#json.set(id, text);
    return text;
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      const watched = this.#listeners.size > 0 || this.#clock() - this.#lastDemand < 2 * this.#options.refreshMs;
      const done = watched ? this.refreshNow() : Promise.resolve();
      void done.finally(() => this.#schedule());
    }, this.#options.refreshMs);
  }
}
