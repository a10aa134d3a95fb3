/**
 * One deploy of one app: fetch, unpack, preActivate, flip, restart, postActivate, health, then
 * commit or roll back. Every step before the flip is journalled in state.json before it is taken,
 * so `recover.ts` can finish or undo it after a crash; what the tree holds is the app tree's to
 * change (src/tree/app-tree.ts), commands are hooks.ts's, the way back is rollback.ts's.
 *
 * Two signals reach a deploy: `drain` (SIGTERM: abandon at a safe point, i.e. before the flip) and
 * `abort` (stop now). Between the flip and the health decision neither is honoured: the host is
 * never left on a release nobody checked.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { HoistError, toHoistError } from '../errors.ts';
import { checkHealth } from '../health/check.ts';
import type { AppState, ReleaseRecord } from '../state/schema.ts';
import type { AppTree } from '../tree/app-tree.ts';
import { releaseDirName, type Target } from './decide.ts';
import { checkReleaseSpace, fetchArtifact } from './fetch-artifact.ts';
import { probeRelease, runHook, runRestart, type HookContext } from './hooks.ts';
import { pruneApp } from './prune.ts';
import { rollBack } from './rollback.ts';
import type { AppConfig, DeployEnv, Owner } from './types.ts';

export { healthSpec } from './hooks.ts';
export { rollBack } from './rollback.ts';

export type DeployOutcome =
  | { readonly outcome: 'healthy'; readonly release: ReleaseRecord }
  | { readonly outcome: 'rolled-back' | 'failed' | 'aborted'; readonly error: HoistError };

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
  /** Aborted on SIGTERM: the deploy stops at the next safe point (never between flip and health). */
  readonly drain: AbortSignal;
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
    log.info({ step: 'fetch', from: from?.version, sha256: target.artifact.sha256, key: target.artifact.key }, `deploying ${target.version}`);
    await step('fetching');
    if (target.artifact.size > env.limits.artifactBytes) {
      throw new HoistError('HOIST_SIZE_EXCEEDED', `the artifact is ${target.artifact.size} bytes, over limits.artifactBytes (${env.limits.artifactBytes}); raise the limit if that is intended`);
    }
    await checkReleaseSpace(app.root, target);
    const downloaded = await fetchArtifact(env, target, options.drain, log);
    await step('unpacking');
    const unpacked = await tree.install({
      archive: downloaded.path,
      format: target.artifact.format,
      name: path.basename(next.dir),
      limits: { entries: env.limits.entries, unpackedBytes: env.limits.unpackedBytes, maxDepth: env.limits.maxDepth, maxDecompressionRatio: env.limits.maxDecompressionRatio },
      signal: options.drain,
    });
    await options.onStep?.('renamed');
    log.info({ step: 'unpack', entries: unpacked.entries, bytes: unpacked.bytes }, 'unpacked');
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
    return { outcome: aborted ? 'aborted' : 'failed', error: aborted ? new HoistError('HOIST_DEPLOY_ABORTED', message, { cause: error }) : error };
  }

  // --- flip, restart, postActivate, health: from the flip to the health decision nothing stops us ---
  let failure: HoistError | undefined;
  try {
    await tree.flip(next.dir);
    await options.onStep?.('flip-done');
    log.info({ step: 'flip' }, `current -> ${next.dir}`);
    await runRestart(hooks, next, from);
    await step('restarted', true);
    if (app.hooks?.postActivate !== undefined) {
      await runHook(hooks, 'postActivate', next, from);
      await options.onStep?.('post-activated');
    }
    await step('health', true);
    const result = await checkHealth(probeRelease(hooks, next), {
      startPeriodMs: app.health.startPeriod,
      intervalMs: app.health.interval,
      successThreshold: app.health.successThreshold,
      bakeMs: app.health.bake,
      // A drain during bake ends the bake early: the release already passed its health check.
      bakeSignal: options.drain,
      onProbe: (r) => log.debug({ step: 'health', phase: r.phase, ok: r.ok, detail: r.detail, consecutive: r.consecutive }, 'probe'),
    });
    if (!result.healthy) {
      failure = new HoistError('HOIST_HEALTH_FAILED', `${target.version} is unhealthy (${result.phase === 'bake' ? 'during bake' : 'within startPeriod'}): ${result.reason}`);
    }
  } catch (err) {
    failure = toHoistError(err);
  }

  if (failure !== undefined) {
    const outcome = await rollBack({ key, env, tree, hooks, log, next, from, failure, onStep: options.onStep });
    await pruneApp(app, tree, env, key, log);
    return outcome;
  }

  // --- commit ---
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
  return { outcome: 'healthy', release: next };
}
