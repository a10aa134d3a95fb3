/**
 * Crash recovery at start-up, before READY=1: whatever step a deploy died in, `current` points at
 * a complete release. Staging and trash dirs and temp links are removed (and old releases pruned,
 * so one that could not be removed before is tried again); `.part` downloads stay for resume. A
 * deploy that died before the flip is forgotten (the channel brings it back). A release flipped
 * but never committed is left for `resumeDeploy`, which checks it again once the agent is ready,
 * as ordinary work that never holds the unit's start timeout.
 */
import { toHoistError } from '../errors.ts';
import type { Transaction } from '../state/schema.ts';
import type { AppTree } from '../tree/app-tree.ts';
import { restingState } from './deploy.ts';
import { pruneApp } from './prune.ts';
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

/** Returns the flipped, uncommitted transaction to resume, if there is one. */
export async function recoverApp(options: RecoverOptions): Promise<Transaction | undefined> {
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
    return undefined;
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
    return undefined;
  }
  // Flipped (or rolling back) but never committed: checked again (or rolled back) once ready.
  log.warn({ step: 'recover', txnStep: txn.step, version: txn.target.version }, `${txn.target.version} was flipped but not committed when the agent stopped; it is checked again once the agent is ready`);
  return rollingBack && txn.step !== 'rolling-back' ? { ...txn, step: 'rolling-back' } : txn;
}
