/**
 * One deploy of one app: fetch, unpack, preActivate, flip, restart, postActivate, health, then
 * commit or roll back. Every step is journalled in state.json before it is taken, so the next
 * start can finish or undo it after a crash (recover.ts cleans up, `resumeDeploy` goes on from a
 * flip); what the tree holds is the app tree's to change (src/tree/app-tree.ts), commands are
 * hooks.ts's, the way back is rollback.ts's.
 *
 * Two signals reach a deploy. `drain` (SIGTERM) abandons it at a safe point before the flip.
 * After the flip the deploy goes on to the health decision, unless `stop` fires first (the drain
 * ran out of time, drain.timeout): then the health check is left undecided, journalled at
 * `health`, and the next start checks the release again with the full policy. A release whose
 * check was cut short twice is rolled back without a third.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { HoistError, toHoistError } from '../errors.ts';
import { checkHealth } from '../health/check.ts';
import type { AppState, ReleaseRecord } from '../state/schema.ts';
import type { AppTree } from '../tree/app-tree.ts';
import { releaseDirName, type Target } from './decide.ts';
import { checkReleaseSpace, fetchArtifact } from './fetch-artifact.ts';
import { healthPolicy, probeRelease, runHook, runRestart, type HookContext } from './hooks.ts';
import { pruneApp } from './prune.ts';
import { rollBack } from './rollback.ts';
import type { DeployPhase } from './observer.ts';
import type { AppConfig, DeployEnv, Owner } from './types.ts';

export { healthSpec } from './hooks.ts';
export { rollBack } from './rollback.ts';

/** Seconds spent in each phase reached. */
export type PhaseTimes = Partial<Record<DeployPhase, number>>;

export type DeployOutcome =
  | { readonly outcome: 'healthy'; readonly release: ReleaseRecord; readonly phases: PhaseTimes }
  | { readonly outcome: 'rolled-back' | 'failed' | 'aborted'; readonly error: HoistError; readonly phases: PhaseTimes }
  /** The drain ran out of time during the health check: journalled, checked again at the next start. */
  | { readonly outcome: 'interrupted'; readonly error: HoistError; readonly phases: PhaseTimes };

/** Health checks of one release that may be cut short (a crash, a drain) before it is rolled back. */
export const MAX_INTERRUPTED_CHECKS = 2;

export interface DeployOptions {
  readonly app: AppConfig;
  readonly key: string;
  readonly target: Target;
  readonly tree: AppTree;
  /** The app user: hooks and the health command run as it. */
  readonly owner: Owner | undefined;
  /** Who runs `restart`: root (undefined) or restart.user. */
  readonly restartUser: Owner | undefined;
  readonly env: DeployEnv;
  /** Aborted on SIGTERM: the deploy stops at the next safe point before the flip. */
  readonly drain: AbortSignal;
  /** Aborted when the drain runs out of time: an undecided health check is left journalled. */
  readonly stop?: AbortSignal;
  /** The release is on the failed list and its manifest asked for one more try. */
  readonly retry?: boolean;
  /** Called after each journalled step (tests pause or kill the agent at precise points). */
  readonly onStep?: (step: string) => void | Promise<void>;
}

function record(target: Target, now: Date): ReleaseRecord {
  return {
    version: target.version,
    sha256: target.artifact.sha256,
    sequence: target.sequence,
    dir: path.posix.join('releases', releaseDirName(target.version, target.artifact.sha256)),
    since: now.toISOString(),
    kind: target.kind,
  };
}

/** The state an app is in when it runs `current` (or nothing) with no deploy under way. */
export function restingState(app: AppState): AppState['state'] {
  if (app.current === undefined) return app.lastAttempt?.outcome === 'failed' ? 'failed' : 'idle';
  return app.current.kind === 'pin' ? 'pinned' : 'healthy';
}

export async function deploy(options: DeployOptions): Promise<DeployOutcome> {
  const { app, key, target, env, tree } = options;
  const log = env.log.child({ version: target.version, sequence: target.sequence });
  const before = env.keeper.app(key);
  const from = before.current;
  const next = record(target, new Date());
  const hooks: HookContext = { app, owner: options.owner, restartUser: options.restartUser, log };
  const txnId = randomUUID();
  const clock = phaseClock();
  const step = async (name: NonNullable<AppState['txn']>['step'], bestEffort = false): Promise<void> => {
    await env.keeper.update(
      key,
      (s) => ({
        ...s,
        state: 'deploying',
        txn: { id: txnId, step: name, target: next, ...(from === undefined ? {} : { from }), startedAt: s.txn?.startedAt ?? new Date().toISOString() },
      }),
      { bestEffort },
    );
    await options.onStep?.(name);
  };

  // --- fetch, unpack, preActivate: everything before the flip may be abandoned safely ---
  try {
    log.info({ step: 'fetch', from: from?.version, sha256: target.artifact.sha256, key: target.artifact.key, ...(options.retry === true ? { retry: true } : {}) }, `deploying ${target.version}${options.retry === true ? ' (one more try, as its manifest asks)' : ''}`);
    await step('fetching');
    if (options.retry === true) {
      // the one more try this manifest asked for: off the failed list, and never again for it
      await env.keeper.update(key, (s) => ({ ...s, failed: s.failed.filter((sha) => sha !== target.artifact.sha256), retried: { sha256: target.artifact.sha256, sequence: target.sequence } }));
    }
    clock.start('fetch');
    if (target.artifact.size > env.limits.artifactBytes) {
      throw new HoistError('HOIST_SIZE_EXCEEDED', `the artifact is ${target.artifact.size} bytes, over limits.artifactBytes (${env.limits.artifactBytes}); raise the limit if that is intended`);
    }
    await checkReleaseSpace(app.root, target);
    const downloaded = await fetchArtifact(env, target, options.drain, log);
    await step('unpacking');
    clock.start('unpack');
    const unpacked = await tree.install({
      archive: downloaded.path,
      format: target.artifact.format,
      name: path.basename(next.dir),
      limits: { entries: env.limits.entries, unpackedBytes: env.limits.unpackedBytes, maxDepth: env.limits.maxDepth, maxDecompressionRatio: env.limits.maxDecompressionRatio },
      signal: options.drain,
    });
    await options.onStep?.('renamed');
    log.info({ step: 'unpack', entries: unpacked.entries, bytes: unpacked.bytes, ...(unpacked.dedup === undefined ? {} : { dedup: unpacked.dedup }) }, 'unpacked');
    clock.start('activate');
    if (app.hooks?.preActivate !== undefined) {
      await step('pre-activate');
      await runHook(hooks, 'preActivate', next, from, options.drain);
      await options.onStep?.('pre-activated');
    }
    // the last journal entry before the flip: when it cannot be written, nothing is flipped
    await step('flipped');
  } catch (err) {
    const error = toHoistError(err);
    const aborted = options.drain.aborted;
    const code = aborted ? 'HOIST_DEPLOY_ABORTED' : error.code;
    const message = aborted ? 'deploy abandoned before the flip: the agent is stopping' : error.message;
    log.error({ step: 'pre-flip', code, err: message }, `deploy of ${target.version} failed before the flip; ${from?.version ?? 'nothing'} keeps serving`);
    await env.keeper.update(
      key,
      (s) => {
        const { txn: _txn, ...rest } = s;
        const updated: AppState = {
          ...rest,
          lastAttempt: { version: target.version, sha256: target.artifact.sha256, sequence: target.sequence, outcome: aborted ? 'aborted' : 'failed', code, message, at: new Date().toISOString() },
        };
        return { ...updated, state: restingState(updated) };
      },
      { bestEffort: true },
    );
    await pruneApp(app, tree, env, key, log);
    return { outcome: aborted ? 'aborted' : 'failed', error: aborted ? new HoistError('HOIST_DEPLOY_ABORTED', message, { cause: error }) : error, phases: clock.done() };
  }

  // --- flip, restart, postActivate, health: from the flip to the health decision ---
  try {
    await tree.flip(next.dir);
    await options.onStep?.('flip-done');
    log.info({ step: 'flip' }, `current -> ${next.dir}`);
  } catch (err) {
    const failure = toHoistError(err);
    const outcome = await rollBack({ key, env, tree, hooks, log, next, from, failure, onStep: options.onStep });
    await pruneApp(app, tree, env, key, log);
    return { ...outcome, phases: clock.done() };
  }
  return afterFlip({ ...options, log, hooks, next, from, resumeAt: 'flipped', clock });
}

interface AfterFlipOptions extends DeployOptions {
  readonly log: DeployEnv['log'];
  readonly hooks: HookContext;
  readonly next: ReleaseRecord;
  readonly from: ReleaseRecord | undefined;
  /** The last journalled step: what is left to do is what comes after it. */
  readonly resumeAt: 'flipped' | 'restarted' | 'health';
  readonly clock: PhaseClock;
}

/** Restart, postActivate and the health decision of a flipped release, then commit or roll back. */
async function afterFlip(options: AfterFlipOptions): Promise<DeployOutcome> {
  const { app, key, env, tree, hooks, log, next, from, clock } = options;
  const journal = async (name: 'restarted' | 'health', extra: (txn: NonNullable<AppState['txn']>) => Partial<NonNullable<AppState['txn']>> = () => ({})): Promise<void> => {
    await env.keeper.update(key, (s) => (s.txn === undefined ? s : { ...s, state: 'deploying', txn: { ...s.txn, step: name, ...extra(s.txn) } }), { bestEffort: true });
    await options.onStep?.(name);
  };
  let failure: HoistError | undefined;
  try {
    if (options.resumeAt === 'flipped') {
      await runRestart(hooks, next, from);
      await journal('restarted');
    }
    if (options.resumeAt !== 'health' && app.hooks?.postActivate !== undefined) {
      await runHook(hooks, 'postActivate', next, from);
      await options.onStep?.('post-activated');
    }
    clock.start('health');
    await journal('health', (txn) => ({ checks: (txn.checks ?? 0) + 1 }));
    const result = await checkHealth(probeRelease(hooks, next), {
      ...healthPolicy(app),
      // A drain during bake ends the bake early: the release already passed its health check.
      bakeSignal: options.drain,
      ...(options.stop === undefined ? {} : { signal: options.stop }),
      onProbe: (r) => log.debug({ step: 'health', phase: r.phase, ok: r.ok, detail: r.detail, consecutive: r.consecutive }, 'probe'),
    });
    if (!result.healthy) {
      failure = new HoistError('HOIST_HEALTH_FAILED', `${next.version} is unhealthy (${result.phase === 'bake' ? 'during bake' : 'within startPeriod'}): ${result.reason}`);
    }
  } catch (err) {
    if (options.stop?.aborted === true) {
      // out of drain time: the journal says `health`; the next start checks it again
      const error = new HoistError('HOIST_DEPLOY_ABORTED', `the agent stopped before the health decision on ${next.version}; it is checked again at the next start`);
      log.warn({ step: 'health', code: error.code }, error.message);
      return { outcome: 'interrupted', error, phases: clock.done() };
    }
    failure = toHoistError(err);
  }

  if (failure !== undefined) {
    const outcome = await rollBack({ key, env, tree, hooks, log, next, from, failure, onStep: options.onStep });
    await pruneApp(app, tree, env, key, log);
    return { ...outcome, phases: clock.done() };
  }

  // --- commit ---
  const target = { version: next.version, sequence: next.sequence, artifact: { sha256: next.sha256 } };
  await env.keeper.update(
    key,
    (s) => {
      const { txn: _txn, ...rest } = s;
      return {
        ...rest,
        current: next,
        ...(from === undefined ? {} : { previous: from }),
        state: next.kind === 'pin' ? 'pinned' : 'healthy',
        lastAttempt: { version: target.version, sha256: target.artifact.sha256, sequence: target.sequence, outcome: 'healthy', at: new Date().toISOString() },
      };
    },
    { bestEffort: true },
  );
  await options.onStep?.('committed');
  log.info({ step: 'commit' }, `${target.version} is healthy`);
  await pruneApp(app, tree, env, key, log);
  await options.onStep?.('pruned');
  return { outcome: 'healthy', release: next, phases: clock.done() };
}

export interface ResumeOptions extends Omit<DeployOptions, 'target' | 'retry'> {
  readonly txn: NonNullable<AppState['txn']>;
}

/**
 * After a restart, a release that was flipped but not committed (a crash, or a drain that ran out
 * of time) is checked again with the full policy: healthy, it is committed; unhealthy, rolled
 * back. One whose check was already cut short twice is rolled back without a third; a rollback
 * that was under way is finished.
 */
export async function resumeDeploy(options: ResumeOptions): Promise<DeployOutcome> {
  const { app, key, env, tree, txn } = options;
  const log = env.log.child({ version: txn.target.version, sequence: txn.target.sequence });
  const hooks: HookContext = { app, owner: options.owner, restartUser: options.restartUser, log };
  const clock = phaseClock();
  if (txn.step === 'rolling-back' || (txn.checks ?? 0) >= MAX_INTERRUPTED_CHECKS) {
    const failure = new HoistError(
      'HOIST_DEPLOY_ABORTED',
      txn.step === 'rolling-back'
        ? `a rollback from ${txn.target.version} was interrupted; finishing it`
        : `the health check of ${txn.target.version} was cut short ${txn.checks ?? 0} times (the agent stopped or crashed); rolled back without a third`,
    );
    log.warn({ step: 'recover', txnStep: txn.step, checks: txn.checks }, failure.message);
    const outcome = await rollBack({ key, env, tree, hooks, log, next: txn.target, from: txn.from, failure, onStep: options.onStep });
    await pruneApp(app, tree, env, key, log);
    return { ...outcome, phases: clock.done() };
  }
  const resumeAt = txn.step === 'restarted' || txn.step === 'health' ? txn.step : 'flipped';
  log.warn({ step: 'recover', txnStep: txn.step, checks: txn.checks ?? 0 }, `${txn.target.version} was flipped but not committed when the agent stopped; checking it again (from "${resumeAt}")`);
  return afterFlip({ ...options, target: { kind: txn.target.kind, version: txn.target.version, sequence: txn.target.sequence, artifact: { key: '', sha256: txn.target.sha256, size: 0, format: 'tar+gzip' } }, log, hooks, next: txn.target, from: txn.from, resumeAt, clock });
}

interface PhaseClock {
  start(phase: DeployPhase): void;
  /** Ends the running phase; the seconds of each phase reached. */
  done(): PhaseTimes;
}

function phaseClock(): PhaseClock {
  const times: Record<string, number> = {};
  let current: { phase: DeployPhase; since: number } | undefined;
  const stop = (): void => {
    if (current !== undefined) times[current.phase] = (times[current.phase] ?? 0) + (performance.now() - current.since) / 1000;
    current = undefined;
  };
  return {
    start(phase) {
      stop();
      current = { phase, since: performance.now() };
    },
    done() {
      stop();
      return { ...times };
    },
  };
}
