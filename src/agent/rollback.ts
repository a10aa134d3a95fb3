/**
 * Back to the previous release after a failed health check (or a crash between the flip and
 * the health decision): flip `current` back first, before anything is written, so a full disk
 * can never keep an unchecked release active; then restart, check the previous release, and put
 * the failed artifact on the failed list. Without a previous release the app is `failed`.
 */
import { HoistError, toHoistError } from '../errors.ts';
import { removeDownload } from '../fetch/download.ts';
import { checkHealth } from '../health/check.ts';
import type { AppState, ReleaseRecord } from '../state/schema.ts';
import { withFailed } from '../state/store.ts';
import type { AppTree } from '../tree/app-tree.ts';
import { healthPolicy, probeRelease, runRestart, type HookContext } from './hooks.ts';
import type { DeployEnv, Log } from './types.ts';
import path from 'node:path';

export type RollbackOutcome =
  | { readonly outcome: 'rolled-back'; readonly error: HoistError }
  | { readonly outcome: 'failed'; readonly error: HoistError };

export interface RollBackOptions {
  readonly key: string;
  readonly env: DeployEnv;
  readonly tree: AppTree;
  readonly hooks: HookContext;
  readonly log: Log;
  /** The release that failed. */
  readonly next: ReleaseRecord;
  /** What to go back to; none on a first deploy. */
  readonly from: ReleaseRecord | undefined;
  readonly failure: HoistError;
  readonly onStep?: ((step: string) => void | Promise<void>) | undefined;
}

export async function rollBack(options: RollBackOptions): Promise<RollbackOutcome> {
  const { key, env, next, from, failure, log, tree, hooks } = options;
  const at = (): string => new Date().toISOString();
  if (from === undefined) {
    log.error({ step: 'health', code: failure.code, err: failure.message }, `${next.version} failed and there is no previous release to go back to`);
    await env.keeper.update(
      key,
      (s) => {
        const { txn: _txn, current: _current, ...rest } = withFailed(s, next.sha256);
        return {
          ...rest,
          state: 'failed',
          lastAttempt: { version: next.version, sha256: next.sha256, sequence: next.sequence, outcome: 'failed', code: failure.code, message: failure.message, at: at() },
        };
      },
      { bestEffort: true },
    );
    return { outcome: 'failed', error: failure };
  }
  log.warn({ step: 'rollback', code: failure.code, err: failure.message, version: from.version }, `rolling back to ${from.version}`);
  let rollbackError: HoistError | undefined;
  try {
    await tree.flip(from.dir);
  } catch (err) {
    rollbackError = new HoistError('HOIST_ROLLBACK_FAILED', `could not point current back at ${from.version}: ${toHoistError(err).message}`, { cause: err });
  }
  await env.keeper.update(key, (s) => ({ ...s, state: 'deploying', ...(s.txn === undefined ? {} : { txn: { ...s.txn, step: 'rolling-back' as const } }) }), { bestEffort: true });
  await options.onStep?.('rolling-back');
  if (rollbackError === undefined) {
    try {
      await runRestart({ ...hooks, log: log.child({ version: from.version }) }, from, undefined);
      const result = await checkHealth(probeRelease(hooks, from), healthPolicy(hooks.app, { bake: false }));
      if (!result.healthy) {
        rollbackError = new HoistError('HOIST_ROLLBACK_FAILED', `rolled back to ${from.version} but it is unhealthy too: ${result.reason}`, { cause: failure });
      }
    } catch (err) {
      rollbackError = new HoistError('HOIST_ROLLBACK_FAILED', `rolling back to ${from.version} failed: ${toHoistError(err).message}`, { cause: err });
    }
  }
  // A failed artifact is not retried on its own: its cached download is dead weight.
  await removeDownload(path.join(env.stateDir, 'downloads'), next.sha256).catch(() => undefined);
  const outcome = rollbackError === undefined ? 'rolled-back' : 'failed';
  const error = rollbackError ?? failure;
  await env.keeper.update(
    key,
    (s) => {
      const { txn: _txn, ...rest } = withFailed(s, next.sha256);
      const updated: AppState = {
        ...rest,
        current: from,
        state: outcome,
        lastAttempt: { version: next.version, sha256: next.sha256, sequence: next.sequence, outcome, code: error.code, message: error.message, at: at() },
      };
      return updated;
    },
    { bestEffort: true },
  );
  await options.onStep?.('rolled-back');
  if (rollbackError === undefined) log.warn({ step: 'rollback', version: from.version }, `rolled back to ${from.version}; ${next.version} is on the failed list`);
  else log.error({ step: 'rollback', code: rollbackError.code, err: rollbackError.message }, 'rollback failed: the app is down');
  return { outcome, error };
}
