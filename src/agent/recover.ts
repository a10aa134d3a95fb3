/**
 * Crash recovery at start-up: whatever step a deploy died in, `current` ends up
 * pointing at a complete release. A release flipped but never committed is treated as failed and
 * rolled back; staging dirs and temp links are removed; `.part` downloads stay for resume.
 */
import path from 'node:path';
import { HoistError } from '../errors.ts';
import { readSymlink, flipSymlink, removeStaleTemps } from '../fs/symlink.ts';
import { removeStaleStaging } from '../unpack/staging.ts';
import { restingState, rollBack } from './deploy.ts';
import type { AppConfig, DeployEnv, Owner } from './types.ts';

export interface RecoverOptions {
  readonly app: AppConfig;
  readonly key: string;
  readonly env: DeployEnv;
  readonly owner: Owner | undefined;
}

export async function recoverApp(options: RecoverOptions): Promise<void> {
  const { app, key, env } = options;
  const log = env.log;
  const releases = path.join(app.root, 'releases');
  const removed = await removeStaleStaging(releases).catch(() => []);
  if (removed.length > 0) log.info({ step: 'recover', removed }, 'removed staging dirs left by an interrupted deploy');
  await removeStaleTemps(app.root, 'current').catch(() => undefined);

  const s = env.keeper.app(key);
  const linked = await readSymlink(path.join(app.root, 'current'));
  const txn = s.txn;
  if (txn === undefined) {
    // No deploy under way: make sure `current` points where state says (a lost flip back).
    if (s.current !== undefined && linked !== s.current.dir) {
      log.warn({ step: 'recover', linked, expected: s.current.dir }, 'current does not point at the committed release; fixing it');
      await flipSymlink(path.join(app.root, 'current'), s.current.dir);
    }
    return;
  }

  const flipped = linked === txn.target.dir && txn.from?.dir !== txn.target.dir;
  if (!flipped && txn.step !== 'rolling-back') {
    // Died before the flip: nothing to undo; the deploy is retried from the channel.
    log.warn({ step: 'recover', txnStep: txn.step, version: txn.target.version }, `a deploy of ${txn.target.version} was interrupted at "${txn.step}" before the flip; ${s.current?.version ?? 'nothing'} keeps serving`);
    await env.keeper.update(key, (a) => {
      const { txn: _txn, ...rest } = a;
      const next = {
        ...rest,
        lastAttempt: { version: txn.target.version, sha256: txn.target.sha256, sequence: txn.target.sequence, outcome: 'aborted' as const, code: 'HOIST_DEPLOY_ABORTED', message: `interrupted at ${txn.step}`, at: new Date().toISOString() },
      };
      return { ...next, state: restingState(next) };
    });
    return;
  }

  // Flipped (or rolling back) but never committed: the release never passed its health check.
  const failure = new HoistError('HOIST_DEPLOY_ABORTED', `the agent stopped between the flip to ${txn.target.version} and the health decision; treated as failed`);
  log.warn({ step: 'recover', txnStep: txn.step, version: txn.target.version }, failure.message);
  await rollBack({
    app,
    key,
    target: { kind: txn.target.kind, version: txn.target.version, sequence: txn.target.sequence, artifact: { key: '', sha256: txn.target.sha256, size: 0, format: 'tar+gzip' } },
    owner: options.owner,
    env,
    drain: new AbortController().signal,
    log,
    next: txn.target,
    from: txn.from,
    failure,
  });
}
