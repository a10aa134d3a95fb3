/**
 * The agent's side of trust documents: what it holds (persisted), when it last judged
 * trust/root.json, whether the walk is done, what was refused, and the expiry warnings. Without
 * `trust.root` in the config it is inert: the config's policy is the policy.
 *
 * Refreshes are serialized: a poll and an SQS hint never walk at the same time, and `settled()`
 * lets a manifest wait for a walk under way instead of being verified against keys that are
 * about to change.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { toHoistError, type HoistError } from '../../errors.ts';
import type { TrustPolicy } from '../policy.ts';
import { bootstrapTrust, trustExpired, type HeldTrust } from './accept.ts';
import { followTrust } from './follow.ts';
import { loadHeldTrust, saveHeldTrust } from './store.ts';

/** Warn this long before the held document expires. */
export const EXPIRY_WARNING_MS = 7 * 86_400_000;
/** Repeat a warning (expiring soon, expired, the same refusal) at most this often. */
const REPEAT_MS = 86_400_000;

export interface TrustLog {
  debug(obj: Record<string, unknown>, msg?: string): void;
  info(obj: Record<string, unknown>, msg?: string): void;
  warn(obj: Record<string, unknown>, msg?: string): void;
  error(obj: Record<string, unknown>, msg?: string): void;
}

export interface TrustFollowerOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly prefix: string;
  readonly stateDir: string;
  /** limits.manifestBytes */
  readonly maxBytes: number;
  readonly log: TrustLog;
  readonly now: () => Date;
  /** Told when the expiry of the document in force is known or changes (the expiry metric). */
  readonly onExpires?: ((at: Date | undefined) => void) | undefined;
}

/** The `trust` field of the status report. */
export interface TrustStatus {
  readonly version: number;
  /** null while the host runs on its config's trust block. */
  readonly expiresAt: string | null;
  /** The newest refused trust document (or broken walk), until a newer document is taken. */
  readonly rejected?: { readonly version?: number; readonly code: string; readonly message: string; readonly at: string };
}

export interface RefreshOutcome {
  /** A newer document was taken: held channels and pins must be verified again. */
  readonly changed: boolean;
  /** A document was refused or the walk stopped short (already logged). */
  readonly error?: HoistError;
  readonly requests: number;
}

export class TrustFollower {
  #options: TrustFollowerOptions;
  #bootstrap: TrustPolicy;
  #held: HeldTrust | undefined;
  #etag: string | undefined;
  #ready: boolean;
  #running: Promise<RefreshOutcome> | undefined;
  #rejected: TrustStatus['rejected'];
  readonly #said = new Map<string, number>();

  private constructor(bootstrap: TrustPolicy, options: TrustFollowerOptions) {
    this.#bootstrap = bootstrap;
    this.#options = options;
    this.#ready = bootstrap.root === undefined;
  }

  /** Loads the persisted document (when `trust.root` is configured). */
  static async open(bootstrap: TrustPolicy, options: TrustFollowerOptions): Promise<TrustFollower> {
    const follower = new TrustFollower(bootstrap, options);
    await follower.#load();
    return follower;
  }

  async #load(): Promise<void> {
    if (this.#bootstrap.root === undefined) {
      this.#held = undefined;
      return;
    }
    const loaded = await loadHeldTrust(this.#options.stateDir, bootstrapTrust(this.#bootstrap));
    if (loaded.ignored !== undefined) this.#options.log.warn({ code: 'HOIST_TRUST_INVALID' }, loaded.ignored);
    this.#held = loaded.held;
    this.#tellExpiry();
    this.#options.log.info({ trustVersion: loaded.held.version, expiresAt: loaded.held.document?.expiresAt }, `holding trust version ${loaded.held.version}${loaded.held.document === undefined ? ' (the config\'s trust block)' : ''}`);
  }

  /** Whether trust documents are followed (`trust.root` is configured). */
  get enabled(): boolean {
    return this.#held !== undefined;
  }

  /** False until a walk has completed in this process: verify no channel or pin until then. */
  get ready(): boolean {
    return this.#ready;
  }

  /** The policy manifests are verified against. */
  policy(): TrustPolicy {
    return this.#held?.policy ?? this.#bootstrap;
  }

  held(): HeldTrust | undefined {
    return this.#held;
  }

  /** HOIST_TRUST_EXPIRED while the held document is past expiresAt: activate nothing new. */
  expired(): HoistError | undefined {
    const doc = this.#held?.document;
    if (this.#held === undefined || doc === undefined) return undefined;
    return trustExpired({ version: this.#held.version, expiresAt: doc.expiresAt }, this.#options.now(), this.#held.policy.clockSkewMs);
  }

  status(): TrustStatus | undefined {
    const held = this.#held;
    if (held === undefined) return undefined;
    return { version: held.version, expiresAt: held.document?.expiresAt ?? null, ...(this.#rejected === undefined ? {} : { rejected: this.#rejected }) };
  }

  /** Resolves once no refresh is under way. */
  async settled(): Promise<void> {
    await this.#running?.catch(() => undefined);
  }

  /**
   * Judges trust/root.json (and walks trust/history/ when needed). A refresh asked for while one
   * runs waits for it and then runs once more, so a hint is never lost. S3 failures are thrown.
   */
  refresh(signal?: AbortSignal): Promise<RefreshOutcome> {
    if (this.#held === undefined) return Promise.resolve({ changed: false, requests: 0 });
    const previous = this.#running ?? Promise.resolve({ changed: false, requests: 0 });
    const next = previous.catch(() => undefined).then(() => this.#refresh(signal));
    this.#running = next;
    void next.finally(() => {
      if (this.#running === next) this.#running = undefined;
    }).catch(() => undefined);
    return next;
  }

  async #refresh(signal: AbortSignal | undefined): Promise<RefreshOutcome> {
    const before = this.#held;
    if (before === undefined) return { changed: false, requests: 0 };
    const { s3, bucket, prefix, maxBytes, log, now } = this.#options;
    const result = await followTrust(s3, { bucket, prefix, held: before, etag: this.#etag, now: now(), maxBytes, signal });
    this.#etag = result.etag;
    const changed = result.held !== before;
    if (changed) {
      this.#held = result.held;
      this.#rejected = undefined;
      this.#tellExpiry();
      log.info({ trustVersion: result.held.version, from: before.version, walked: result.accepted, expiresAt: result.held.document?.expiresAt }, `took trust version ${result.held.version} (from ${before.version}${result.accepted.length > 1 ? ` through ${result.accepted.slice(0, -1).join(', ')}` : ''})`);
      try {
        await saveHeldTrust(this.#options.stateDir, result.held);
      } catch (error) {
        // The new policy applies now (revocations must not wait for a disk); a restart walks again.
        const e = toHoistError(error);
        log.error({ code: e.code, err: e.message }, 'could not persist the trust document; it applies until the agent restarts');
      }
    }
    if (result.error !== undefined) {
      const e = result.error;
      this.#rejected = { ...(typeof e.details?.version === 'number' ? { version: e.details.version } : {}), code: e.code, message: e.message, at: now().toISOString() };
      const key = `${e.code}\n${e.message}`;
      // The same refusal on every poll is said once a day; the report carries it meanwhile.
      this.#say(key, e.code === 'HOIST_TRUST_VERSION' ? 'warn' : 'error', { code: e.code, err: e.message, trustVersion: this.#held?.version }, `refused a trust document: ${e.message}`);
    }
    this.#ready = true;
    this.checkExpiry();
    return { changed, ...(result.error === undefined ? {} : { error: result.error }), requests: result.requests };
  }

  /** SIGHUP: a new config. Keeps a held document at least as new as the new bootstrap. */
  async reconfigure(bootstrap: TrustPolicy, options: TrustFollowerOptions): Promise<void> {
    await this.settled();
    const before = this.#held;
    this.#bootstrap = bootstrap;
    this.#options = options;
    this.#etag = undefined;
    if (bootstrap.root === undefined) {
      this.#held = undefined;
      this.#ready = true;
      return;
    }
    const boot = bootstrapTrust(bootstrap);
    if (before?.document !== undefined && before.version >= boot.version) {
      this.#held = { ...before, policy: { ...before.policy, clockSkewMs: bootstrap.clockSkewMs } };
    } else {
      await this.#load();
    }
    if (before === undefined) this.#ready = false;
  }

  #tellExpiry(): void {
    const at = this.#held?.document?.expiresAt;
    this.#options.onExpires?.(at === undefined ? undefined : new Date(at));
  }

  /** Warns (at most daily) when the held document expires within 7 days, or has expired. */
  checkExpiry(): void {
    const held = this.#held;
    const doc = held?.document;
    if (held === undefined || doc === undefined) return;
    const left = Date.parse(doc.expiresAt) - this.#options.now().getTime();
    const fields = { code: 'HOIST_TRUST_EXPIRED', trustVersion: held.version, expiresAt: doc.expiresAt };
    if (this.expired() !== undefined) {
      this.#say(`expired\n${held.version}`, 'warn', fields, `trust version ${held.version} expired at ${doc.expiresAt}: nothing new is activated until a newer trust document is published`);
    } else if (left < EXPIRY_WARNING_MS) {
      this.#say(`expiring\n${held.version}`, 'warn', { trustVersion: held.version, expiresAt: doc.expiresAt }, `trust version ${held.version} expires at ${doc.expiresAt}, in ${Math.max(0, Math.floor(left / 3_600_000))}h: publish a new trust document (\`hoist trust publish\`) before it does`);
    }
  }

  /** Logs `message` unless the same thing was said within the last day. */
  #say(key: string, level: 'warn' | 'error', fields: Record<string, unknown>, message: string): void {
    const t = this.#options.now().getTime();
    const last = this.#said.get(key);
    if (last !== undefined && t - last < REPEAT_MS) {
      this.#options.log.debug(fields, message);
      return;
    }
    this.#said.set(key, t);
    this.#options.log[level](fields, message);
  }
}
