/**
 * Crash recovery at start-up: whatever step a deploy died in, `current` ends up pointing at a
 * complete release. A release flipped but never committed is treated as failed and rolled back;
 * staging and trash dirs and temp links are removed (and old releases pruned, so one that could
 * not be removed before is tried again); `.part` downloads stay for resume.
 */
import { HoistError, toHoistError } from '../errors.ts';
import type { AppTree } from '../tree/app-tree.ts';
import { restingState } from './deploy.ts';
import type { HookContext } from './hooks.ts';
import { pruneApp } from './prune.ts';
import { rollBack } from './rollback.ts';
import type { AppConfig, DeployEnv, Owner } from './types.ts';

export interface RecoverOptions {
  readonly app: AppConfig;
  readonly key: string;
  readonly env: DeployEnv;
  readonly tree: AppTree;
  readonly owner: Owner | undefined;
  readonly restartUser: Owner | undefined;
}

/**
 * Steps journalled only after the flip: with `current` back at the old release, a rollback had
 * flipped back. (`flipped` is journalled just before the flip, so there it means nothing yet.)
 */
const AFTER_FLIP = new Set(['restarted', 'health']);

export async function recoverApp(options: RecoverOptions): Promise<void> {
  const { app, key, env, tree } = options;
  const log = env.log;
  const cleaned = await tree.cleanup().catch((err: unknown) => ({ removed: [], failed: [{ name: tree.releasesDir, error: toHoistError(err) }] }));
  if (cleaned.removed.length > 0) log.info({ step: 'recover', removed: cleaned.removed }, 'removed staging and trash dirs left by an interrupted deploy');
  for (const f of cleaned.failed) log.warn({ step: 'recover', code: f.error.code, err: f.error.message }, `could not remove ${f.name}`);

  const s = env.keeper.app(key);
  const linked = await tree.current();
  const txn = s.txn;
  if (txn === undefined) {
    // No deploy under way: make sure `current` points where state says (a lost flip back).
    if (s.current !== undefined && linked !== s.current.dir) {
      log.warn({ step: 'recover', linked, expected: s.current.dir }, 'current does not point at the committed release; fixing it');
      await tree.flip(s.current.dir);
    }
    await pruneApp(app, tree, env, key, log);
    return;
  }

  const flipped = linked === txn.target.dir && txn.from?.dir !== txn.target.dir;
  // A rollback flips back before it journals: `current` at the old release after a post-flip
  // step means the rollback had begun.
  const rollingBack = txn.step === 'rolling-back' || (AFTER_FLIP.has(txn.step) && txn.from !== undefined && linked === txn.from.dir);
  if (!flipped && !rollingBack) {
    // Died before the flip: nothing to undo; the deploy is retried from the channel.
    log.warn({ step: 'recover', txnStep: txn.step, version: txn.target.version }, `a deploy of ${txn.target.version} was interrupted at "${txn.step}" before the flip; ${s.current?.version ?? 'nothing'} keeps serving`);
    await env.keeper.update(
      key,
      (a) => {
        const { txn: _txn, ...rest } = a;
        const next = {
          ...rest,
          lastAttempt: { version: txn.target.version, sha256: txn.target.sha256, sequence: txn.target.sequence, outcome: 'aborted' as const, code: 'HOIST_DEPLOY_ABORTED', message: `interrupted at ${txn.step}`, at: new Date().toISOString() },
        };
        return { ...next, state: restingState(next) };
      },
      { bestEffort: true },
    );
    await pruneApp(app, tree, env, key, log);
    return;
  }

  // Flipped (or rolling back) but never committed: the release never passed its health check.
  const failure = new HoistError('HOIST_DEPLOY_ABORTED', `the agent stopped between the flip to ${txn.target.version} and the health decision; treated as failed`);
  log.warn({ step: 'recover', txnStep: txn.step, version: txn.target.version }, failure.message);
  const hooks: HookContext = { app, owner: options.owner, restartUser: options.restartUser, log };
  await rollBack({ key, env, tree, hooks, log, next: txn.target, from: txn.from, failure });
  await pruneApp(app, tree, env, key, log);
}
