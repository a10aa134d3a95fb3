/**
 * One deploy of one app: fetch, unpack, preActivate, flip, restart,
 * postActivate, health, then commit or roll back. Every step is journalled in state.json before
 * it is taken, so `recover.ts` can finish or undo it after a crash.
 *
 * Two signals reach a deploy: `drain` (SIGTERM: abandon at a safe point, i.e. before the flip) and
 * `abort` (stop now). Between the flip and the health decision neither is honoured: the host is
 * never left on a release nobody checked.
 */
import { mkdir, readdir, rm, symlink, lchown, chown } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { HoistError, toHoistError } from '../errors.ts';
import { downloadArtifact, removeDownload } from '../fetch/download.ts';
import { createStaging } from '../unpack/staging.ts';
import { unpackArchive } from '../unpack/unpack.ts';
import { flipSymlink } from '../fs/symlink.ts';
import { runCommand, hookEnv } from '../proc/run.ts';
import { probeOnce, type HealthSpec } from '../health/probe.ts';
import { checkHealth } from '../health/check.ts';
import { pruneReleases } from '../state/retention.ts';
import type { AppState, ReleaseRecord } from '../state/schema.ts';
import { withFailed } from '../state/store.ts';
import { releaseDirName, type Target } from './decide.ts';
import type { AppConfig, DeployEnv, Log, Owner } from './types.ts';

export type DeployOutcome =
  | { readonly outcome: 'healthy'; readonly release: ReleaseRecord }
  | { readonly outcome: 'rolled-back' | 'failed' | 'aborted'; readonly error: HoistError };

export interface DeployOptions {
  readonly app: AppConfig;
  readonly key: string;
  readonly target: Target;
  readonly owner: Owner | undefined;
  readonly env: DeployEnv;
  /** Aborted on SIGTERM: the deploy stops at the next safe point (never between flip and health). */
  readonly drain: AbortSignal;
  /** Called after each journalled step (tests use it to kill the agent at precise points). */
  readonly onStep?: (step: string) => void;
}

export function healthSpec(app: AppConfig): HealthSpec {
  const h = app.health;
  const http = h.http === undefined ? undefined : { url: h.http.url, expectStatus: h.http.expectStatus, ...(h.http.bodyIncludes === undefined ? {} : { bodyIncludes: h.http.bodyIncludes }) };
  return {
    ...(http === undefined ? {} : { http }),
    ...(h.tcp === undefined ? {} : { tcp: h.tcp }),
    ...(h.command === undefined ? {} : { command: h.command }),
  };
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
  const { app, key, target, env } = options;
  const log = env.log.child({ version: target.version, sequence: target.sequence, sha256: target.artifact.sha256 });
  const before = env.keeper.app(key);
  const from = before.current;
  const next = record(target, new Date());
  const releaseDir = path.join(app.root, next.dir);
  const txnId = randomUUID();
  const step = async (name: NonNullable<AppState['txn']>['step']): Promise<void> => {
    await env.keeper.update(key, (s) => ({
      ...s,
      state: 'deploying',
      txn: { id: txnId, step: name, target: next, ...(from === undefined ? {} : { from }), startedAt: s.txn?.startedAt ?? new Date().toISOString() },
    }));
    options.onStep?.(name);
  };

  // --- steps 3–5: everything before the flip may be abandoned safely ---
  try {
    log.info({ step: 'fetch', from: from?.version }, `deploying ${target.version}`);
    await step('fetching');
    if (target.artifact.size > env.limits.artifactBytes) {
      throw new HoistError('HOIST_SIZE_EXCEEDED', `the artifact is ${target.artifact.size} bytes, over limits.artifactBytes (${env.limits.artifactBytes}); raise the limit if that is intended`);
    }
    const downloaded = await fetchArtifact(env, target, options.drain, log);
    await step('unpacking');
    await mkdir(path.join(app.root, 'releases'), { recursive: true });
    {
      await using staging = await createStaging(path.join(app.root, 'releases'));
      const unpacked = await unpackArchive({
        file: downloaded.path,
        format: target.artifact.format,
        dest: staging.path,
        limits: {
          entries: env.limits.entries,
          unpackedBytes: env.limits.unpackedBytes,
          maxDepth: env.limits.maxDepth,
          maxDecompressionRatio: env.limits.maxDecompressionRatio,
        },
        allowSymlinks: app.allowSymlinks,
        ...(options.owner === undefined ? {} : { owner: options.owner }),
        signal: options.drain,
      });
      await linkShared(app, staging.path, options.owner);
      await staging.commit(releaseDir);
      options.onStep?.('renamed');
      log.info({ step: 'unpack', entries: unpacked.entries, bytes: unpacked.bytes }, 'unpacked');
    }
    if (app.hooks?.preActivate !== undefined) {
      await step('pre-activate');
      await runHook(app, 'preActivate', app.hooks.preActivate, releaseDir, next, from, options, log, options.drain);
      options.onStep?.('pre-activated');
    }
  } catch (err) {
    const error = toHoistError(err);
    const aborted = options.drain.aborted;
    const code = aborted ? 'HOIST_DEPLOY_ABORTED' : error.code;
    const message = aborted ? 'deploy abandoned before the flip: the agent is stopping' : error.message;
    log.error({ step: 'pre-flip', code, err: message }, `deploy of ${target.version} failed before the flip; ${from?.version ?? 'nothing'} keeps serving`);
    await env.keeper.update(key, (s) => {
      const { txn: _txn, ...rest } = s;
      const updated: AppState = {
        ...rest,
        lastAttempt: { version: target.version, sha256: target.artifact.sha256, sequence: target.sequence, outcome: aborted ? 'aborted' : 'failed', code, message, at: new Date().toISOString() },
      };
      return { ...updated, state: restingState(updated) };
    });
    return { outcome: aborted ? 'aborted' : 'failed', error: aborted ? new HoistError('HOIST_DEPLOY_ABORTED', message, { cause: error }) : error };
  }

  // --- steps 6–8: from the flip to the health decision nothing stops us ---
  let failure: HoistError | undefined;
  await step('flipped');
  await flipSymlink(path.join(app.root, 'current'), next.dir);
  options.onStep?.('flip-done');
  log.info({ step: 'flip' }, `current -> ${next.dir}`);
  try {
    if (app.restart !== undefined) {
      await runHook(app, 'restart', app.restart, releaseDir, next, from, options, log);
    }
    await step('restarted');
    if (app.hooks?.postActivate !== undefined) {
      await runHook(app, 'postActivate', app.hooks.postActivate, releaseDir, next, from, options, log);
      options.onStep?.('post-activated');
    }
    await step('health');
    const result = await checkHealth(
      () => probeOnce(healthSpec(app), { timeoutMs: app.health.timeout, cwd: releaseDir, env: hookEnv(hookInfo(app, next, releaseDir, from)), ...(options.owner === undefined ? {} : { user: options.owner }) }),
      {
        startPeriodMs: app.health.startPeriod,
        intervalMs: app.health.interval,
        successThreshold: app.health.successThreshold,
        bakeMs: app.health.bake,
        // A drain during bake ends the bake early: the release already passed its health check.
        bakeSignal: options.drain,
        onProbe: (r) => log.debug({ step: 'health', phase: r.phase, ok: r.ok, detail: r.detail, consecutive: r.consecutive }, 'probe'),
      },
    );
    if (!result.healthy) {
      failure = new HoistError('HOIST_HEALTH_FAILED', `${target.version} is unhealthy (${result.phase === 'bake' ? 'during bake' : 'within startPeriod'}): ${result.reason}`);
    }
  } catch (err) {
    failure = toHoistError(err);
  }

  if (failure === undefined) {
    // --- step 9: commit ---
    await env.keeper.update(key, (s) => {
      const { txn: _txn, ...rest } = s;
      return {
        ...rest,
        current: next,
        ...(from === undefined ? {} : { previous: from }),
        state: next.kind === 'pin' ? 'pinned' : 'healthy',
        lastAttempt: { version: target.version, sha256: target.artifact.sha256, sequence: target.sequence, outcome: 'healthy', at: new Date().toISOString() },
      };
    });
    options.onStep?.('committed');
    log.info({ step: 'commit' }, `${target.version} is healthy`);
    await prune(app, env, key, log);
    options.onStep?.('pruned');
    return { outcome: 'healthy', release: next };
  }

  return rollBack({ ...options, log, next, from, failure });
}

interface RollBackOptions extends DeployOptions {
  readonly log: Log;
  readonly next: ReleaseRecord;
  readonly from: ReleaseRecord | undefined;
  readonly failure: HoistError;
}

/** Step 8's failure branch, also used by crash recovery: back to `from`, or `failed` without one. */
export async function rollBack(options: RollBackOptions): Promise<DeployOutcome> {
  const { app, key, env, next, from, failure, log } = options;
  const at = (): string => new Date().toISOString();
  if (from === undefined) {
    log.error({ step: 'health', code: failure.code, err: failure.message }, `${next.version} failed and there is no previous release to go back to`);
    await env.keeper.update(key, (s) => {
      const { txn: _txn, current: _current, ...rest } = withFailed(s, next.sha256);
      return {
        ...rest,
        state: 'failed',
        lastAttempt: { version: next.version, sha256: next.sha256, sequence: next.sequence, outcome: 'failed', code: failure.code, message: failure.message, at: at() },
      };
    });
    return { outcome: 'failed', error: failure };
  }
  log.warn({ step: 'rollback', code: failure.code, err: failure.message }, `rolling back to ${from.version}`);
  await env.keeper.update(key, (s) => ({ ...s, state: 'deploying', ...(s.txn === undefined ? {} : { txn: { ...s.txn, step: 'rolling-back' as const } }) }));
  options.onStep?.('rolling-back');
  const fromDir = path.join(app.root, from.dir);
  let rollbackError: HoistError | undefined;
  try {
    await flipSymlink(path.join(app.root, 'current'), from.dir);
    if (app.restart !== undefined) await runHook(app, 'restart', app.restart, fromDir, from, undefined, options, log);
    const result = await checkHealth(
      () => probeOnce(healthSpec(app), { timeoutMs: app.health.timeout, cwd: fromDir, env: hookEnv(hookInfo(app, from, fromDir, undefined)), ...(options.owner === undefined ? {} : { user: options.owner }) }),
      { startPeriodMs: app.health.startPeriod, intervalMs: app.health.interval, successThreshold: app.health.successThreshold, bakeMs: 0 },
    );
    if (!result.healthy) {
      rollbackError = new HoistError('HOIST_ROLLBACK_FAILED', `rolled back to ${from.version} but it is unhealthy too: ${result.reason}`, { cause: failure });
    }
  } catch (err) {
    rollbackError = new HoistError('HOIST_ROLLBACK_FAILED', `rolling back to ${from.version} failed: ${toHoistError(err).message}`, { cause: err });
  }
  // A failed artifact is never retried: its cached download is dead weight.
  await removeDownload(path.join(env.stateDir, 'downloads'), next.sha256).catch(() => undefined);
  const outcome = rollbackError === undefined ? 'rolled-back' : 'failed';
  const error = rollbackError ?? failure;
  await env.keeper.update(key, (s) => {
    const { txn: _txn, ...rest } = withFailed(s, next.sha256);
    return {
      ...rest,
      current: from,
      state: outcome,
      lastAttempt: { version: next.version, sha256: next.sha256, sequence: next.sequence, outcome, code: error.code, message: error.message, at: at() },
    };
  });
  options.onStep?.('rolled-back');
  if (rollbackError === undefined) log.warn({ step: 'rollback' }, `rolled back to ${from.version}; ${next.version} is on the failed list`);
  else log.error({ step: 'rollback', code: rollbackError.code, err: rollbackError.message }, 'rollback failed: the app is down');
  return { outcome, error };
}

function hookInfo(app: AppConfig, release: ReleaseRecord, releaseDir: string, from: ReleaseRecord | undefined) {
  return {
    app: app.name,
    env: app.env,
    version: release.version,
    releaseDir,
    ...(from === undefined ? {} : { previousDir: path.join(app.root, from.dir) }),
  };
}

async function runHook(
  app: AppConfig,
  name: 'preActivate' | 'postActivate' | 'restart',
  hook: { run: string; timeout: number },
  releaseDir: string,
  release: ReleaseRecord,
  from: ReleaseRecord | undefined,
  options: DeployOptions,
  log: Log,
  signal?: AbortSignal,
): Promise<void> {
  const hlog = log.child({ hook: name });
  hlog.info({ step: name, command: hook.run }, `running ${name}`);
  const result = await runCommand({
    name,
    command: hook.run,
    cwd: releaseDir,
    env: hookEnv(hookInfo(app, release, releaseDir, from)),
    timeoutMs: hook.timeout,
    ...(signal === undefined ? {} : { signal }),
    ...(options.owner === undefined ? {} : { user: options.owner }),
    onOutput: (stream, line) => hlog.info({ stream, line }, `${name}: ${line}`),
  });
  hlog.info({ step: name, durationMs: result.durationMs }, `${name} done`);
}

/** `root/shared/<p>` symlinked into the release (relative links, so the tree can move). */
async function linkShared(app: AppConfig, releaseDir: string, owner: Owner | undefined): Promise<void> {
  for (const rel of app.shared) {
    const sharedPath = path.join(app.root, 'shared', rel);
    await mkdir(sharedPath, { recursive: true });
    if (owner !== undefined) await chown(sharedPath, owner.uid, owner.gid);
    const linkPath = path.join(releaseDir, rel);
    await mkdir(path.dirname(linkPath), { recursive: true });
    await rm(linkPath, { recursive: true, force: true });
    // The link is resolved from the final release dir, which sits beside the staging dir.
    const finalLinkDir = path.join(app.root, 'releases', 'x', path.dirname(rel));
    await symlink(path.relative(finalLinkDir, sharedPath), linkPath);
    if (owner !== undefined) await lchown(linkPath, owner.uid, owner.gid);
  }
}

async function prune(app: AppConfig, env: DeployEnv, key: string, log: Log): Promise<void> {
  const s = env.keeper.app(key);
  try {
    const removed = await pruneReleases(app.root, {
      keep: app.keep,
      ...(s.current === undefined ? {} : { current: path.basename(s.current.dir) }),
      ...(s.previous === undefined ? {} : { previous: path.basename(s.previous.dir) }),
    });
    if (removed.length > 0) log.info({ step: 'prune', removed }, `pruned ${removed.length} old release(s)`);
    await pruneDownloads(env, removed);
  } catch (err) {
    log.warn({ step: 'prune', err: toHoistError(err, 'HOIST_IO').message }, 'pruning old releases failed; will retry after the next deploy');
  }
}

/**
 * Cached artifacts go with their releases: the download of each pruned release dir (whose name ends
 * in the digest's first 12 hex digits) is removed too.
 */
async function pruneDownloads(env: DeployEnv, removedDirs: readonly string[]): Promise<void> {
  if (removedDirs.length === 0) return;
  const dir = path.join(env.stateDir, 'downloads');
  const prefixes = new Set(removedDirs.map((name) => name.slice(-12)));
  for (const name of await readdir(dir).catch(() => [])) {
    const sha = /^([0-9a-f]{64})\.(?:tar\.gz|tar\.zst|part)$/.exec(name)?.[1];
    if (sha !== undefined && prefixes.has(sha.slice(0, 12))) await removeDownload(dir, sha);
  }
}

/**
 * The artifact as the manifest names it. `artifact.key` is the object key in the bucket; a
 * publisher that wrote it relative to source.s3.prefix (as the manifest examples in the docs read) is accepted
 * too: when the key is missing and does not start with the prefix, `<prefix><key>` is tried.
 */
async function fetchArtifact(env: DeployEnv, target: Target, signal: AbortSignal, log: Log): Promise<{ path: string }> {
  const candidates = [target.artifact.key];
  if (env.prefix !== '' && !target.artifact.key.startsWith(env.prefix)) candidates.push(`${env.prefix}${target.artifact.key}`);
  let lastError: unknown;
  for (const key of candidates) {
    try {
      return await downloadArtifact({
        s3: env.s3,
        bucket: env.bucket,
        key,
        sha256: target.artifact.sha256,
        size: target.artifact.size,
        format: target.artifact.format,
        dir: path.join(env.stateDir, 'downloads'),
        signal,
        ...(env.stallTimeoutMs === undefined ? {} : { stallTimeoutMs: env.stallTimeoutMs }),
        onRetry: (info) => log.warn({ step: 'fetch', attempt: info.attempt, delayMs: info.delayMs, err: String(info.error) }, 'download failed, retrying'),
      });
    } catch (err) {
      if (!(err instanceof HoistError && err.code === 'HOIST_ARTIFACT_NOT_FOUND')) throw err;
      lastError = err;
    }
  }
  throw lastError;
}
