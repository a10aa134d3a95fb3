/**
 * The agent runtime: learns of manifests (S3 polling, SQS), accepts them (accept.ts), and runs one
 * serialized reconcile per app (several apps in parallel): the pure decision (decide.ts), then a
 * deploy (deploy.ts) or a recorded skip. Crash recovery (recover.ts) runs before READY=1; a release
 * left flipped but unchecked is checked again as the first work of its app after it.
 *
 * Nothing is silent: a rejected manifest and a skipped target are recorded in the state (and so in
 * the status report and `hoist status --local`) and logged (warn and info). Two ways to stop:
 * `drain()` (SIGTERM: abandon at a safe point before the flip; an undecided health check gets until
 * drain.timeout, then is left journalled) and the process exit; drain is idempotent.
 */
import { createTask, type ScheduledTask } from 'node-cron';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { HoistError, toHoistError } from '../errors.ts';
import type { AgentConfig } from '../config/schema.ts';
import type { TrustPolicy } from '../trust/policy.ts';
import { verifyEnvelope, type VerifiedManifest } from '../trust/verify.ts';
import { normalizePrefix, s3Keys } from '../aws/keys.ts';
import { getObjectBytes } from '../aws/object-store.ts';
import { isRetryable } from '../aws/errors.ts';
import { skewMatters } from '../aws/server-clock.ts';
import { pollManifests, startS3Poller } from '../sources/s3-poller.ts';
import { startSqsConsumer } from '../sources/sqs-consumer.ts';
import { parseSqsBody } from '../sources/message.ts';
import { appKey } from '../state/store.ts';
import type { AgentState, AppState, Transaction } from '../state/schema.ts';
import { buildStatusReport, publishStatus } from '../report/status.ts';
import { formatStatusLine, type Notifier } from '../systemd/notify.ts';
import { resolveUser } from '../proc/run.ts';
import { resolveGroup } from '../proc/user.ts';
import { formatDuration } from '../util/units.ts';
import { TrustFollower, type TrustFollowerOptions, type TrustStatus } from '../trust/root/follower.ts';
import { TRUST_PAYLOAD_TYPE } from '../trust/root/document.ts';
import { acceptManifest, manifestView, type AcceptResult } from './accept.ts';
import { decide, wakeAt, type Decision, type ManifestView, type Skip } from './decide.ts';
import { deploy, restingState, resumeDeploy, type DeployOutcome } from './deploy.ts';
import { EventWriter } from './events.ts';
import { eventOutcomeOf } from '../report/events.ts';
import { gateOnHalt } from './rollout-gate.ts';
import { WakeTimer } from './wake.ts';
import { FloorCache } from './floor.ts';
import { withheldAttempt } from './trust-report.ts';
import { createStateKeeper } from './keeper.ts';
import { NO_OBSERVER, type AgentObserver } from './observer.ts';
import { reclaimPartials } from './prune.ts';
import { recoverApp } from './recover.ts';
import { AppTree } from '../tree/app-tree.ts';
import type { AppConfig, DeployEnv, Log, Owner, StateKeeper } from './types.ts';

export interface AgentOptions {
  readonly config: AgentConfig;
  readonly policy: TrustPolicy;
  readonly hostId: string;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly state: AgentState;
  readonly log: Log;
  readonly notifier: Notifier;
  readonly agentVersion: string;
  readonly now?: () => Date;
  /** Download stall window (HOIST_STALL_TIMEOUT_MS); the downloader's default when absent. */
  readonly stallTimeoutMs?: number;
  /** Test hook: called with `app/env` and the step name after each journalled deploy step. */
  readonly onStep?: (key: string, step: string) => void | Promise<void>;
  /** Metrics and the like (see observer.ts). */
  readonly observer?: AgentObserver;
}

interface AppRuntime {
  config: AppConfig;
  key: string;
  log: Log;
  release: ManifestView | undefined;
  pin: ManifestView | undefined;
  window: ScheduledTask | undefined;
  owner: Owner | undefined;
  /** Who runs `restart`: root (undefined) or restart.user. */
  restartUser: Owner | undefined;
  /** The app's tree (releases, current, shared): the only way the agent touches it. */
  tree: AppTree;
  /** Where the app sits in the config, for messages (`apps[0] (web/prod)`). */
  where: string;
  chain: Promise<unknown>;
  /** A flipped, uncommitted release found at start: checked again before anything else. */
  resume: Transaction | undefined;
  /** Pre-flip failures are retried with backoff, not on every poll. */
  retryAfter: number;
  failures: number;
  /** Wakes the app when a rollout step reaches this host. */
  wake: WakeTimer;
}

export interface ReconcileOutcome {
  readonly key: string;
  /** `refused`: a deploy was due but is not allowed (the trust document expired, or was refused). */
  readonly outcome: DeployOutcome['outcome'] | 'none' | 'wait' | 'refused';
  readonly error?: HoistError;
  readonly skip?: Skip;
}

export interface ReconcileSummary {
  readonly outcomes: readonly ReconcileOutcome[];
}

/** Why `--once` exits 1 for an app. */
export interface OnceProblem {
  readonly key: string;
  readonly code: string;
  readonly message: string;
}

/** Skips that are the rollout working as intended: not a reason for `--once` to fail. */
const EXPECTED_SKIPS = new Set(['cohort', 'step', 'window']);

export class Agent {
  readonly #opts: AgentOptions;
  #config: AgentConfig;
  #policy: TrustPolicy;
  readonly #keeper: StateKeeper;
  readonly #apps = new Map<string, AppRuntime>();
  readonly #drain = new AbortController();
  /** Fires when the drain runs out of time: undecided health checks are left journalled. */
  readonly #stopNow = new AbortController();
  readonly #etags = new Map<string, string>();
  readonly #reporting = new Map<string, Promise<void>>();
  readonly #observer: AgentObserver;
  #stopSources: Array<() => Promise<void>> = [];
  #heartbeat: NodeJS.Timeout | undefined;
  #started = false;
  #stopped: Promise<void> | undefined;
  #now: () => Date;
  readonly #events: EventWriter;
  #clockSkew: { seconds: number; at: string } | undefined;
  /** Signed trust documents (trust.root); inert without it. Opened by init(). */
  #trust: TrustFollower | undefined;
  /** The last trust refresh's refusal, for `--once`. */
  #trustRefusal: HoistError | undefined;
  /** History floors of apps without a high-water mark (a fresh host), read once. */
  readonly #floors = new FloorCache();

  constructor(options: AgentOptions) {
    this.#opts = options;
    this.#config = options.config;
    this.#policy = options.policy;
    this.#now = options.now ?? (() => new Date());
    this.#observer = options.observer ?? NO_OBSERVER;
    this.#keeper = createStateKeeper(options.config.stateDir, options.state, {
      onChange: (key, app) => this.#onStateChange(key, app),
      reclaim: () => reclaimPartials(this.#config.stateDir),
      onUnsaved: (err) => {
        const e = toHoistError(err);
        options.log.error({ code: e.code, err: e.message }, 'could not save state.json; the change is kept in memory and saved with the next one');
      },
    });
    this.#events = new EventWriter({
      s3: options.s3,
      bucket: () => this.#bucket(),
      prefix: () => this.#prefix(),
      hostId: options.hostId,
      keeper: this.#keeper,
      enabled: () => this.#config.report.events,
      now: () => this.#now(),
    });
  }

  get state(): AgentState {
    return this.#keeper.state;
  }

  /**
   * Resolves app users, checks each app root (HOIST_UNSAFE_ROOT, before anything is touched),
   * restores verified manifests from state and recovers interrupted deploys. A release found
   * flipped but unchecked is checked again later, as the app's first work.
   */
  async init(): Promise<void> {
    this.#trust = await TrustFollower.open(this.#policy, this.#trustOptions());
    this.#useRuntimes(await this.#makeRuntimes(this.#config));
    for (const rt of this.#apps.values()) {
      rt.resume = await recoverApp({ app: rt.config, key: rt.key, env: this.#deployEnv(rt), tree: rt.tree, owner: rt.owner, restartUser: rt.restartUser });
      const s = this.#keeper.app(rt.key);
      this.#observer.releaseChanged(rt.config.name, rt.config.env, s.current);
      this.#observer.stateChanged(rt.config.name, rt.config.env, s.state);
    }
    this.#notifyStatus();
  }

  /** The runtime of every app of `config`, with its users resolved; nothing is touched yet. */
  async #makeRuntimes(config: AgentConfig): Promise<Map<string, AppRuntime>> {
    const runtimes = new Map<string, AppRuntime>();
    try {
      for (const [index, app] of config.apps.entries()) {
        const key = appKey(app.name, app.env);
        let owner: Owner | undefined;
        if (app.user !== undefined) {
          const user = await resolveUser(app.user);
          owner = { uid: user.uid, gid: user.gid, home: user.home, name: user.name };
          if (app.group !== undefined) owner.gid = await resolveGroup(app.group);
        }
        let restartUser: Owner | undefined;
        if (app.restart?.user !== undefined) {
          const user = await resolveUser(app.restart.user);
          restartUser = { uid: user.uid, gid: user.gid, home: user.home, name: user.name };
        }
        const log = this.#opts.log.child({ app: app.name, env: app.env });
        runtimes.set(key, {
          config: app,
          key,
          log,
          release: undefined,
          pin: undefined,
          window: app.window === undefined ? undefined : createTask(app.window, () => undefined),
          owner,
          restartUser,
          tree: new AppTree({
            root: app.root,
            user: owner === undefined ? undefined : { uid: owner.uid, gid: owner.gid, name: owner.name ?? String(owner.uid) },
            writableRelease: app.writableRelease,
            dedup: app.dedup,
            shared: app.shared,
            allowSymlinks: app.allowSymlinks,
            onWarning: (message, error) => log.warn({ code: error.code }, message),
          }),
          where: `apps[${index}] (${app.name}/${app.env})`,
          chain: Promise.resolve(),
          resume: undefined,
          retryAfter: 0,
          failures: 0,
          wake: new WakeTimer(() => void this.reconcile(key), () => this.#now().getTime()),
        });
      }
      // every root is checked (and made) before any app is switched to the new config
      for (const rt of runtimes.values()) await rt.tree.prepare(rt.where);
    } catch (err) {
      for (const rt of runtimes.values()) {
        void rt.window?.destroy();
        rt.wake.clear();
      }
      throw err;
    }
    return runtimes;
  }

  /** Switches to `runtimes`; work under way on an app that stays goes on, serialized as before. */
  #useRuntimes(runtimes: Map<string, AppRuntime>): void {
    const old = new Map(this.#apps);
    this.#apps.clear();
    for (const [key, rt] of runtimes) {
      const previous = old.get(key);
      void previous?.window?.destroy();
      previous?.wake.clear();
      if (previous !== undefined) {
        rt.chain = previous.chain;
        rt.resume = previous.resume;
      }
      this.#apps.set(key, rt);
      this.#restoreManifests(rt);
    }
    for (const [key, rt] of old) {
      if (this.#apps.has(key)) continue;
      void rt.window?.destroy();
      rt.wake.clear();
    }
  }

  /**
   * The last verified channel and pin survive restarts; they are verified again (keys may have been
   * revoked), at start and after every new trust document. One that no longer verifies is dropped
   * (never deployed; what serves keeps serving) and reported.
   */
  #restoreManifests(rt: AppRuntime): void {
    const saved = this.#keeper.app(rt.key).envelopes ?? {};
    for (const kind of ['release', 'pin'] as const) {
      const text = saved[kind];
      if (text === undefined) continue;
      try {
        rt[kind] = manifestView(this.#verify(text, rt, kind));
      } catch (err) {
        const e = toHoistError(err);
        const trustVersion = this.#trust?.held()?.version;
        rt[kind] = undefined;
        rt.log.warn({ kind, code: e.code, err: e.message, trustVersion }, `the stored ${kind} manifest no longer verifies; dropped, not deployed (what serves keeps serving): ${e.message}`);
        this.#observer.manifestRejected(rt.config.name, rt.config.env, e.code);
        const under = trustVersion === undefined ? '' : ` under trust version ${trustVersion}`;
        void this.#keeper.update(rt.key, (s) => ({ ...s, rejected: { kind, code: e.code, message: `the stored ${kind} manifest no longer verifies${under}; dropped, not deployed: ${e.message}`, at: this.#now().toISOString() } }), { bestEffort: true });
      }
    }
  }

  #verify(bytes: Uint8Array | string, rt: AppRuntime, kind?: 'release' | 'pin'): VerifiedManifest {
    return verifyEnvelope(bytes, this.#currentPolicy(), this.#now(), { app: rt.config.name, env: rt.config.env, ...(kind === undefined ? {} : { kind }) }, { maxBytes: this.#config.limits.manifestBytes });
  }

  // ---- trust documents (trust.root): see src/trust/root/ ----

  /** The policy manifests are verified against: the held trust document's, else the config's. */
  #currentPolicy(): TrustPolicy {
    return this.#trust?.policy() ?? this.#policy;
  }

  /** The status report's `trust` field (and the trust expiry metric): undefined without trust.root. */
  trustStatus(): TrustStatus | undefined {
    return this.#trust?.status();
  }

  #trustOptions(): TrustFollowerOptions {
    return { s3: this.#opts.s3, bucket: this.#bucket(), prefix: this.#prefix(), stateDir: this.#config.stateDir, maxBytes: this.#config.limits.manifestBytes, log: this.#opts.log, now: this.#now, onExpires: (at) => this.#observer.trustExpires(at) };
  }

  /** Fail closed: until a trust walk is done in this process, no manifest is verified or deployed. */
  async #trustReady(): Promise<boolean> {
    const trust = this.#trust;
    if (trust === undefined) return true;
    await trust.settled();
    if (!trust.ready) {
      // Not done yet (S3 was unreachable): try now rather than wait for the next poll.
      await this.#refreshTrust(this.#drain.signal).catch((err: unknown) => {
        this.#opts.log.warn({ code: toHoistError(err).code, err: toHoistError(err).message }, 'could not read the trust document; no manifest is verified until it is (fail closed)');
      });
    }
    return trust.ready;
  }

  /** Judges trust/root.json; after a newer document, every held channel and pin is verified again. S3 failures are thrown. */
  async #refreshTrust(signal?: AbortSignal): Promise<boolean> {
    if (this.#trust === undefined || !this.#trust.enabled) return false;
    const outcome = await this.#trust.refresh(signal);
    this.#trustRefusal = outcome.error;
    if (outcome.changed) {
      // Channels refused under the old keys may verify now, and the floors were judged with them.
      this.#etags.clear();
      this.#floors.clear();
      for (const rt of this.#apps.values()) {
        this.#restoreManifests(rt);
        rt.retryAfter = 0;
      }
    }
    if (outcome.changed || outcome.error !== undefined) for (const rt of this.#apps.values()) this.#onStateChange(rt.key, this.#keeper.app(rt.key));
    return outcome.changed;
  }

  /** The anti-replay floor of an app without a high-water mark (a fresh host), from history/. */
  #floorsFor(rt: AppRuntime): ReturnType<FloorCache['get']> {
    return this.#floors.get(this.#opts.s3, {
      bucket: this.#bucket(),
      prefix: this.#prefix(),
      app: rt.config.name,
      env: rt.config.env,
      policy: this.#currentPolicy(),
      maxBytes: this.#config.limits.manifestBytes,
      signal: this.#drain.signal,
      onSkip: (key, e) => rt.log.warn({ key, code: e.code }, `history entry not counted for the anti-replay floor: ${e.message}`),
    });
  }

  #deployEnv(rt: AppRuntime): DeployEnv {
    return {
      hostId: this.#opts.hostId,
      stateDir: this.#config.stateDir,
      s3: this.#opts.s3,
      bucket: this.#bucket(),
      prefix: normalizePrefix(this.#prefix()),
      limits: this.#config.limits,
      keeper: this.#keeper,
      log: rt.log,
      stallTimeoutMs: this.#opts.stallTimeoutMs,
    };
  }

  #bucket(): string {
    return this.#config.source.s3.bucket;
  }

  #prefix(): string {
    return this.#config.source.s3.prefix;
  }

  /**
   * Verifies an envelope and, when it is new, records it (high-water mark, stored envelope); a
   * rejection is recorded and logged. `ignored`: for an app this host does not run.
   */
  async accept(bytes: Uint8Array | string, hint: { app?: string; env?: string; kind?: 'release' | 'pin'; source: string }): Promise<AcceptResult | { readonly status: 'ignored' }> {
    const rt = hint.app !== undefined && hint.env !== undefined ? this.#apps.get(appKey(hint.app, hint.env)) : this.#findAppForEnvelope(bytes);
    if (rt === undefined) {
      this.#opts.log.info({ source: hint.source }, 'manifest for an app this host does not run; ignored');
      return { status: 'ignored' };
    }
    if (!(await this.#trustReady())) {
      rt.log.warn({ source: hint.source }, 'manifest not verified: the trust document could not be read yet (fail closed); it is read again on the next poll');
      return { status: 'rejected', error: new HoistError('HOIST_S3', 'the trust document could not be read yet') };
    }
    const policy = this.#currentPolicy();
    const result = await acceptManifest({
      bytes,
      key: rt.key,
      app: rt.config.name,
      env: rt.config.env,
      source: hint.source,
      verify: () => this.#verify(bytes, rt, hint.kind),
      keeper: this.#keeper,
      log: rt.log,
      observer: this.#observer,
      now: this.#now(),
      // A host without a high-water mark (new, or a wiped stateDir) takes the history's floor.
      floor: async (kind) => (await this.#floorsFor(rt))[kind],
    });
    if (result.status === 'accepted' || (result.status === 'duplicate' && rt[result.view.kind] === undefined)) {
      rt[result.view.kind] = result.view;
    }
    if (result.status === 'accepted') {
      rt.retryAfter = 0;
      rt.failures = 0;
    }
    // A trust document taken while this one was being recorded: judge it again under the new keys.
    if (result.status === 'accepted' && this.#currentPolicy() !== policy) this.#restoreManifests(rt);
    return result;
  }

  #findAppForEnvelope(bytes: Uint8Array | string): AppRuntime | undefined {
    // The app and env are read from the (not yet verified) payload only to pick the app; the
    // verification that follows checks them against that app.
    try {
      const env = JSON.parse(Buffer.from(bytes).toString('utf8')) as { payload?: unknown };
      if (typeof env.payload !== 'string') return undefined;
      const payload = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as { app?: unknown; env?: unknown };
      if (typeof payload.app !== 'string' || typeof payload.env !== 'string') return undefined;
      return this.#apps.get(appKey(payload.app, payload.env));
    } catch {
      return undefined;
    }
  }

  /** One reconcile of one app, serialized with any other work on that app. */
  reconcile(key: string, options: { force?: boolean } = {}): Promise<ReconcileOutcome> {
    const rt = this.#apps.get(key);
    if (rt === undefined) return Promise.resolve({ key, outcome: 'none' });
    return this.#serialized(rt, async () => {
      if (this.#drain.signal.aborted) return { key, outcome: 'none' };
      // an interrupted deploy is checked (or rolled back) first: recovery activates nothing new
      if (rt.resume !== undefined) return this.#resume(rt, rt.resume);
      if (!(await this.#trustReady())) return { key, outcome: 'none' };
      const s = this.#keeper.app(key);
      await this.#events.retry(key, rt.log);
      const now = this.#now();
      const decided = decide({
        hostId: this.#opts.hostId,
        app: rt.config.name,
        env: rt.config.env,
        release: rt.release,
        pin: rt.pin,
        currentSha256: s.current?.sha256,
        failed: s.failed,
        retried: s.retried,
        windowOpen: windowOpen(rt.config.window, rt.window, now),
        now: now.getTime(),
        haltedSequence: s.halted?.sequence,
      });
      // a release whose rollout carries a failure limit is checked against the fleet's events
      // just before it would be deployed (not while a failed attempt waits out its backoff)
      let decision = decided;
      // past the trust document's expiry nothing is activated: the halt is not even read
      const expired = decided.action === 'deploy' ? this.#trust?.expired() : undefined;
      // read once: a backoff that ends while the halt is read must not let a deploy skip the check
      const backingOff = options.force !== true && Date.now() < rt.retryAfter;
      if (decided.action === 'deploy' && expired === undefined && !backingOff) {
        const gated = await gateOnHalt({ s3: this.#opts.s3, bucket: this.#bucket(), prefix: this.#prefix(), key, app: rt.config, release: rt.release, now, keeper: this.#keeper, events: this.#events, log: rt.log, signal: this.#drain.signal }, decided);
        if ('error' in gated) {
          rt.log.warn({ code: gated.error.code, err: gated.error.message }, `could not read the rollout's failure events; nothing is activated until they can be read: ${gated.error.message}`);
          return { key, outcome: 'failed', error: gated.error };
        }
        decision = gated.decision;
      }
      await this.#noteDecision(rt, decision);
      if (this.#started && !this.#drain.signal.aborted) rt.wake.set(wakeAt(decision));
      if (decision.action !== 'deploy') {
        rt.log.debug({ decision: decision.action, reason: decision.reason }, decision.reason);
        // A pin or unpin that needs no deploy (the same artifact already runs) still changes what
        // the host reports: `pinned` while a pin holds it, `healthy` once it follows the channel.
        const target = decision.target;
        if (target !== undefined && s.current !== undefined && target.artifact.sha256 === s.current.sha256 && target.kind !== s.current.kind) {
          await this.#keeper.update(key, (a) =>
            a.current === undefined ? a : { ...a, current: { ...a.current, kind: target.kind, sequence: target.sequence }, state: target.kind === 'pin' ? 'pinned' : 'healthy' },
          );
        } else if (s.current?.kind === 'pin' && target?.kind !== 'pin' && (s.state === 'pinned' || s.state === 'waiting' || s.state === 'halted')) {
          // unpinned, but the channel's release is not taken (failed list, cohort, window): the host
          // runs the release it was pinned to, no longer because of a pin
          await this.#keeper.update(key, (a) => (a.current === undefined ? a : { ...a, current: { ...a.current, kind: 'release' }, state: a.state === 'pinned' ? 'healthy' : a.state }));
        }
        return { key, outcome: decision.action, ...(decision.skip === undefined ? {} : { skip: decision.skip }) };
      }
      if (expired !== undefined) {
        // Nothing new is activated past the trust document's expiry; the serving release keeps serving.
        const attempt = withheldAttempt(s.lastAttempt, decision.target, expired, this.#now());
        if (attempt !== undefined) {
          rt.log.warn({ code: expired.code, version: decision.target.version, sequence: decision.target.sequence }, `not activating ${decision.target.version}: ${expired.message}`);
          await this.#keeper.update(key, (a) => ({ ...a, lastAttempt: attempt }));
        }
        return { key, outcome: 'refused', error: expired };
      }
      if (backingOff) return { key, outcome: 'wait' };
      const result = await deploy({
        app: rt.config,
        key,
        target: decision.target,
        tree: rt.tree,
        owner: rt.owner,
        restartUser: rt.restartUser,
        env: this.#deployEnv(rt),
        drain: this.#drain.signal,
        stop: this.#stopNow.signal,
        retry: decision.retry,
        ...(this.#opts.onStep === undefined ? {} : { onStep: (step: string) => this.#opts.onStep?.(key, step) }),
      });
      this.#finished(rt, result);
      const t = decision.target;
      await this.#writeEvent(rt, { kind: t.kind, version: t.version, sequence: t.sequence, sha256: t.artifact.sha256 }, result);
      if (result.outcome === 'failed' && this.#keeper.app(key).current !== undefined && !this.#keeper.app(key).failed.includes(decision.target.artifact.sha256)) {
        // Failed before the flip (download, unpack, preActivate): retry later with backoff.
        rt.failures += 1;
        rt.retryAfter = Date.now() + Math.min(30 * 60_000, 15_000 * 2 ** (rt.failures - 1));
      } else {
        rt.failures = 0;
        rt.retryAfter = 0;
      }
      return result.outcome === 'healthy' ? { key, outcome: 'healthy' } : { key, outcome: result.outcome, error: result.error };
    });
  }

  #serialized(rt: AppRuntime, run: () => Promise<ReconcileOutcome>): Promise<ReconcileOutcome> {
    const result = rt.chain.then(run, run);
    rt.chain = result.catch(() => undefined);
    return result;
  }

  /** The check (or rollback) of a release left flipped but uncommitted by the last run. */
  async #resume(rt: AppRuntime, txn: Transaction): Promise<ReconcileOutcome> {
    rt.resume = undefined;
    const result = await resumeDeploy({
      app: rt.config,
      key: rt.key,
      txn,
      tree: rt.tree,
      owner: rt.owner,
      restartUser: rt.restartUser,
      env: this.#deployEnv(rt),
      drain: this.#drain.signal,
      stop: this.#stopNow.signal,
      ...(this.#opts.onStep === undefined ? {} : { onStep: (step: string) => this.#opts.onStep?.(rt.key, step) }),
    });
    this.#finished(rt, result);
    await this.#writeEvent(rt, { kind: txn.target.kind, version: txn.target.version, sequence: txn.target.sequence, sha256: txn.target.sha256 }, result);
    return result.outcome === 'healthy' ? { key: rt.key, outcome: 'healthy' } : { key: rt.key, outcome: result.outcome, error: result.error };
  }

  /** The outcome's event (healthy, rolled-back, failed), once per sequence; an abandoned deploy writes none. */
  async #writeEvent(rt: AppRuntime, target: { kind: 'release' | 'pin'; version: string; sequence: number; sha256: string }, result: DeployOutcome): Promise<void> {
    const outcome = eventOutcomeOf(result.outcome);
    if (outcome === undefined) return;
    const durationSeconds = Object.values(result.phases).reduce((sum, s) => sum + s, 0);
    await this.#events.write(rt.key, rt.config, target, outcome, rt.log, { durationSeconds, ...(result.outcome === 'healthy' ? {} : { error: { code: result.error.code, message: result.error.message } }) });
  }

  #finished(rt: AppRuntime, result: DeployOutcome): void {
    this.#observer.deployFinished(rt.config.name, rt.config.env, result.outcome === 'interrupted' ? 'aborted' : result.outcome, result.phases);
    this.#observer.releaseChanged(rt.config.name, rt.config.env, this.#keeper.app(rt.key).current);
  }

  /**
   * Records what the decision means for the report: `desired`, `skipped` (logged at info when it
   * changes) and the `waiting` / `halted` states. Saves only what changed.
   */
  async #noteDecision(rt: AppRuntime, decision: Decision): Promise<void> {
    const s = this.#keeper.app(rt.key);
    const target = decision.desired;
    const desired = target === undefined ? undefined : { version: target.version, sha256: target.artifact.sha256, sequence: target.sequence, kind: target.kind, ...(target.reason === undefined ? {} : { reason: target.reason }) };
    const skip = decision.action === 'deploy' ? undefined : decision.skip;
    const skipped = skip === undefined ? undefined : { reason: skip.reason, message: skip.message, ...(skip.eligibleAt === undefined ? {} : { eligibleAt: skip.eligibleAt }) };
    const resting = s.state === 'waiting' || s.state === 'halted' ? restingState(s) : s.state;
    const state = skip?.reason === 'window' || skip?.reason === 'step' ? 'waiting' : skip?.reason === 'halted' ? 'halted' : resting;
    const before = { desired: s.desired, skipped: s.skipped === undefined ? undefined : { reason: s.skipped.reason, message: s.skipped.message, ...(s.skipped.eligibleAt === undefined ? {} : { eligibleAt: s.skipped.eligibleAt }) }, state: s.state };
    if (JSON.stringify(before) === JSON.stringify({ desired, skipped, state })) return;
    if (skipped !== undefined && (before.skipped?.reason !== skipped.reason || before.skipped.message !== skipped.message)) {
      rt.log.info({ skipped: skipped.reason, ...(skipped.eligibleAt === undefined ? {} : { eligibleAt: skipped.eligibleAt }), ...(target === undefined ? {} : { version: target.version, sequence: target.sequence }) }, `not deploying${target === undefined ? '' : ` ${target.version}`}: ${skipped.message}`);
    }
    const at = this.#now().toISOString();
    await this.#keeper.update(
      rt.key,
      (a) => {
        const { desired: _d, skipped: _s, ...rest } = a;
        return { ...rest, ...(desired === undefined ? {} : { desired }), ...(skipped === undefined ? {} : { skipped: { ...skipped, at } }), state: a.state === 'deploying' ? a.state : state };
      },
      { bestEffort: true },
    );
  }

  async reconcileAll(options: { force?: boolean } = {}): Promise<ReconcileSummary> {
    const outcomes = await Promise.all([...this.#apps.keys()].map((key) => this.reconcile(key, options)));
    return { outcomes };
  }

  /** GETs every channel and pin (conditionally) and accepts what changed. */
  async pollS3(signal?: AbortSignal): Promise<void> {
    // The trust document first: channels are verified against what it says (or not read at all).
    await this.#refreshTrust(signal);
    const targets = [...this.#apps.values()].map((rt) => ({ app: rt.config.name, env: rt.config.env }));
    const results = await pollManifests(this.#opts.s3, {
      bucket: this.#bucket(),
      prefix: this.#prefix(),
      targets,
      etags: this.#etags,
      maxBytes: this.#config.limits.manifestBytes,
      ...(signal === undefined ? {} : { signal }),
    });
    let failure: HoistError | undefined;
    for (const r of results) {
      if (r.status === 'changed') {
        try {
          await this.accept(r.body, { app: r.app, env: r.env, kind: r.kind, source: `s3://${this.#bucket()}/${r.key}` });
        } catch (err) {
          // Not judged (the history floor could not be read): read it again next time.
          this.#etags.delete(r.key);
          failure ??= toHoistError(err, 'HOIST_S3');
        }
      } else if (r.status === 'error') failure ??= r.error;
    }
    // The keys that could be read were handled; the caller logs (and retries) the rest.
    if (failure !== undefined) throw failure;
    this.#observer.polled(this.#now());
  }

  /** One SQS message: a hint to verify, never trusted. Returns whether to delete it. */
  async handleMessage(body: string, signal: AbortSignal): Promise<'delete' | 'retry'> {
    const parsed = parseSqsBody(body, this.#prefix());
    if (parsed.type === 'garbage' || parsed.type === 'ignore') {
      const level = parsed.type === 'garbage' ? 'warn' : 'debug';
      this.#opts.log[level]({ source: 'sqs', reason: parsed.reason }, `SQS message ${parsed.type === 'garbage' ? 'is not a manifest' : 'ignored'}: ${parsed.reason}`);
      return 'delete';
    }
    const touched = new Set<string>();
    const trustHint = isTrustHint(parsed, this.#bucket());
    try {
      if (trustHint) {
        // Only a hint: trust/root.json is read from the bucket and judged like on a poll. After a
        // newer document, channels refused under the old keys are read again.
        if (await this.#refreshTrust(signal)) await this.pollS3(signal);
        for (const key of this.#apps.keys()) touched.add(key);
      }
      if (parsed.type === 'envelope') {
        if (!trustHint) {
          const rt = this.#findAppForEnvelope(parsed.bytes);
          await this.accept(parsed.bytes, { source: 'sqs' });
          if (rt !== undefined) touched.add(rt.key);
        }
      } else {
        for (const hint of parsed.keys) {
          const key = appKey(hint.app, hint.env);
          // Only this host's bucket is read: a hint naming another bucket is not followed.
          if (!this.#apps.has(key) || hint.bucket !== this.#bucket()) continue;
          const bytes = await getObjectBytes(this.#opts.s3, { bucket: hint.bucket, key: hint.key, maxBytes: this.#config.limits.manifestBytes, signal });
          if (bytes === undefined) continue;
          await this.accept(bytes, { app: hint.app, env: hint.env, kind: hint.kind, source: `s3://${hint.bucket}/${hint.key}` });
          touched.add(key);
        }
      }
    } catch (err) {
      if (isRetryable(err)) return 'retry';
      this.#opts.log.warn({ source: 'sqs', err: toHoistError(err).message, code: toHoistError(err).code }, 'SQS message could not be processed; dropped');
      return 'delete';
    }
    // The message stays hidden (visibility extended by the consumer) while the deploy runs.
    await Promise.all([...touched].map((key) => this.reconcile(key)));
    return 'delete';
  }

  /**
   * `--once`: finish what the last run left, read every channel and pin, reconcile every app,
   * report. Returns what makes the run fail: a deploy that failed or rolled back, the newest
   * manifest read rejected, or a verified target not running for a reason other than the rollout
   * (cohort, step, window).
   */
  async runOnce(): Promise<OnceProblem[]> {
    const started = this.#now().toISOString();
    const problems: OnceProblem[] = [];
    const resumed = await Promise.all([...this.#apps.values()].filter((rt) => rt.resume !== undefined).map((rt) => this.reconcile(rt.key, { force: true })));
    await this.pollS3();
    const summary = await this.reconcileAll({ force: true });
    await this.flushReports();
    if (this.#trustRefusal !== undefined) problems.push({ key: 'trust', code: this.#trustRefusal.code, message: `the trust document was refused: ${this.#trustRefusal.message}` });
    for (const o of [...resumed, ...summary.outcomes]) {
      if (o.outcome === 'failed' || o.outcome === 'rolled-back') problems.push({ key: o.key, code: o.error?.code ?? 'HOIST_HEALTH_FAILED', message: `${o.outcome}: ${o.error?.message ?? ''}` });
      else if (o.outcome === 'refused') problems.push({ key: o.key, code: o.error?.code ?? 'HOIST_TRUST_EXPIRED', message: `not activated: ${o.error?.message ?? ''}` });
      else if (o.skip !== undefined && !EXPECTED_SKIPS.has(o.skip.reason)) problems.push({ key: o.key, code: o.skip.reason === 'halted' ? 'HOIST_ROLLOUT_HALTED' : 'HOIST_FAILED_LIST', message: `not deployed: ${o.skip.message}` });
    }
    for (const rt of this.#apps.values()) {
      const rejected = this.#keeper.app(rt.key).rejected;
      if (rejected !== undefined && rejected.at >= started) problems.push({ key: rt.key, code: rejected.code, message: `the newest manifest read was rejected: ${rejected.message}` });
    }
    return problems;
  }

  /** Starts the configured sources (not once draining); a release left unchecked is checked first. */
  start(): void {
    if (this.#drain.signal.aborted) return;
    this.#started = true;
    for (const rt of this.#apps.values()) if (rt.resume !== undefined) void this.reconcile(rt.key, { force: true });
    const s3 = this.#config.source.s3;
    const sqs = this.#config.source.sqs;
    const signal = this.#drain.signal;
    const onError = (source: string) => (err: unknown) => {
      const e = toHoistError(err);
      this.#opts.log.warn({ source, code: e.code, err: e.message }, `${source} source error; will retry`);
    };
    if (s3.poll === 'off') {
      // SQS alone: one catch-up read of every channel and pin at start, for what was missed while down.
      void this.pollS3(signal)
        .then(() => this.reconcileAll())
        .catch(onError('s3'));
    } else {
      const poller = startS3Poller({
        schedule: s3.poll,
        jitterMs: s3.jitter,
        signal,
        onError: onError('s3'),
        tick: async (tickSignal) => {
          // A key that could not be read (reported by the poller) does not hold back the others.
          try {
            await this.pollS3(tickSignal);
          } finally {
            await this.reconcileAll();
          }
        },
      });
      this.#stopSources.push(() => poller.stop());
      void poller.runNow().catch(onError('s3'));
    }
    // Reports are rewritten on every change and at least every report.interval (staleness signal).
    clearInterval(this.#heartbeat);
    this.#heartbeat = setInterval(() => {
      this.#trust?.checkExpiry();
      for (const rt of this.#apps.values()) this.#onStateChange(rt.key, this.#keeper.app(rt.key));
    }, this.#config.report.interval);
    this.#heartbeat.unref();
    if (sqs !== undefined) {
      const consumer = startSqsConsumer({
        sqs: this.#opts.sqs,
        queueUrl: sqs.queueUrl,
        waitSeconds: sqs.waitSeconds,
        visibilityTimeoutSec: Math.max(1, Math.round(sqs.visibilityTimeout / 1000)),
        signal,
        onError: onError('sqs'),
        handle: (message, msgSignal) => this.handleMessage(message.body, msgSignal),
      });
      this.#stopSources.push(() => consumer.stop());
    }
  }

  /** SIGHUP: apply a new, already validated config (sources restart; in-flight deploys finish). */
  async reload(config: AgentConfig, policy: TrustPolicy): Promise<void> {
    // an app user that does not exist or an unsafe root rejects the new config before it applies
    const runtimes = await this.#makeRuntimes(config);
    const sources = this.#stopSources;
    this.#stopSources = [];
    await Promise.all(sources.map((stop) => stop()));
    this.#config = config;
    this.#policy = policy;
    await this.#trust?.reconfigure(policy, this.#trustOptions());
    this.#floors.clear();
    this.#etags.clear();
    this.#useRuntimes(runtimes);
    if (this.#started) this.start();
    this.#notifyStatus();
  }

  /**
   * Stop taking work: a deploy before its flip stops at the next safe point; a health check goes
   * on until shortly before drain.timeout, then is left journalled (checked again at the next
   * start). Idempotent.
   */
  drain(): Promise<void> {
    this.#stopped ??= (async () => {
      this.#drain.abort(new HoistError('HOIST_DEPLOY_ABORTED', 'the agent is stopping'));
      const timeout = this.#config.drain.timeout;
      // what is left after the health check stops: saving state and writing the last reports
      const margin = Math.min(3_000, timeout / 4);
      const stopTimer = setTimeout(() => this.#stopNow.abort(new HoistError('HOIST_DEPLOY_ABORTED', `drain.timeout (${formatDuration(timeout)}) is nearly over`)), timeout - margin);
      stopTimer.unref();
      clearInterval(this.#heartbeat);
      for (const rt of this.#apps.values()) rt.wake.clear();
      try {
        await Promise.all(this.#stopSources.map((stop) => stop()));
        await Promise.all([...this.#apps.values()].map((rt) => rt.chain));
        await this.flushReports();
      } finally {
        clearTimeout(stopTimer);
      }
      for (const rt of this.#apps.values()) void rt.window?.destroy();
    })();
    return this.#stopped;
  }

  async flushReports(): Promise<void> {
    await Promise.all([...this.#reporting.values()]);
  }

  /** One S3 answer's clock against ours (see aws/server-clock.ts): warned about when it matters. */
  noteClockSkew(skewMs: number, at: Date): void {
    const allowed = this.#policy.clockSkewMs;
    const matters = skewMatters(skewMs, allowed);
    const before = this.#clockSkew;
    if (!matters) {
      if (before !== undefined) this.#opts.log.info({ clockSkewMs: skewMs }, 'the host clock agrees with S3 again');
      this.#clockSkew = undefined;
      return;
    }
    this.#clockSkew = { seconds: Math.round(skewMs / 1000), at: at.toISOString() };
    if (before === undefined || Math.abs(before.seconds - this.#clockSkew.seconds) >= Math.max(1, allowed / 4000)) {
      this.#opts.log.warn({ code: 'HOIST_CLOCK_SKEW', clockSkewMs: skewMs, allowedMs: allowed }, `the host clock is ${formatDuration(Math.abs(skewMs))} ${skewMs > 0 ? 'ahead of' : 'behind'} S3's (more than half of trust.clockSkew, ${formatDuration(allowed)}): manifest expiry and issue times are judged by it. Check NTP`);
      for (const rt of this.#apps.values()) this.#onStateChange(rt.key, this.#keeper.app(rt.key));
    }
  }

  statusLine(): string {
    return formatStatusLine(
      [...this.#apps.values()].map((rt) => {
        const s = this.#keeper.app(rt.key);
        return { app: rt.config.name, state: s.state, ...(s.current === undefined ? {} : { version: s.current.version }) };
      }),
    );
  }

  #notifyStatus(): void {
    void this.#opts.notifier.status(this.statusLine());
  }

  #onStateChange(key: string, app: AppState): void {
    this.#notifyStatus();
    const rt = this.#apps.get(key);
    if (rt === undefined) return;
    this.#observer.stateChanged(rt.config.name, rt.config.env, app.state);
    if (!this.#config.report.s3) return;
    const report = buildStatusReport({
      hostId: this.#opts.hostId,
      app: rt.config.name,
      env: rt.config.env,
      appState: app,
      agentVersion: this.#opts.agentVersion,
      now: this.#now(),
      ...(this.#clockSkew === undefined ? {} : { clockSkew: this.#clockSkew }),
      trust: this.trustStatus(),
    });
    const bucket = this.#config.source.s3.bucket;
    const statusKey = s3Keys(this.#prefix()).status(rt.config.name, rt.config.env, this.#opts.hostId);
    // Reports for one app are written in order; a failed write is logged, never fatal.
    const previous = this.#reporting.get(key) ?? Promise.resolve();
    const next = previous.then(() =>
      publishStatus(this.#opts.s3, { bucket, key: statusKey, report }).catch((err: unknown) => {
        rt.log.warn({ code: toHoistError(err).code, err: toHoistError(err).message }, 'could not write the status report');
      }),
    );
    this.#reporting.set(key, next);
  }
}

/**
 * node-cron reads a 5-field expression as "second 0 of each matching minute", so a window like
 * `* 2-4 * * 1-5` is matched at minute granularity: against the start of the current minute.
 */
export function windowOpen(expression: string | undefined, task: ScheduledTask | undefined, now: Date): boolean {
  if (expression === undefined || task === undefined) return true;
  const hasSeconds = expression.trim().split(/\s+/).length === 6;
  const at = hasSeconds ? now : new Date(Math.floor(now.getTime() / 60_000) * 60_000);
  return task.match(at);
}

/** An SQS body that names trust/root.json of this bucket, or carries a trust envelope. */
function isTrustHint(parsed: ReturnType<typeof parseSqsBody>, bucket: string): boolean {
  if (parsed.type === 's3-keys') return parsed.trust?.bucket === bucket;
  if (parsed.type !== 'envelope') return false;
  try {
    return (JSON.parse(parsed.bytes.toString('utf8')) as { payloadType?: unknown }).payloadType === TRUST_PAYLOAD_TYPE;
  } catch {
    return false;
  }
}
