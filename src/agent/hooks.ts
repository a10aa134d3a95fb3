/**
 * The commands a deploy runs around the flip, and its health probe. Who runs what:
 * - preActivate, postActivate and health.command: the app user (with its supplementary groups),
 *   cwd = the release;
 * - restart: root, cwd = the app root, unless restart.user names a user. It is usually
 *   `systemctl restart web`, and it never runs a file of a release (the config check refuses
 *   one): a release is the archive's code, and root does not run it.
 */
import path from 'node:path';
import { runCommand, hookEnv } from '../proc/run.ts';
import { probeOnce, type HealthSpec } from '../health/probe.ts';
import type { ReleaseRecord } from '../state/schema.ts';
import type { HealthPolicy } from '../health/check.ts';
import type { AppConfig, Log, Owner } from './types.ts';

/** The app's health policy; `bake: false` for checking the release a rollback went back to. */
export function healthPolicy(app: AppConfig, options: { bake?: boolean } = {}): HealthPolicy {
  const h = app.health;
  return {
    startPeriodMs: h.startPeriod,
    intervalMs: h.interval,
    successThreshold: h.successThreshold,
    failureThreshold: h.failureThreshold,
    bakeMs: options.bake === false ? 0 : h.bake,
  };
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

export function hookInfo(app: AppConfig, release: ReleaseRecord, from: ReleaseRecord | undefined) {
  return {
    app: app.name,
    env: app.env,
    version: release.version,
    releaseDir: path.join(app.root, release.dir),
    ...(from === undefined ? {} : { previousDir: path.join(app.root, from.dir) }),
  };
}

export interface HookContext {
  readonly app: AppConfig;
  /** The app user (hooks and the health command run as it). */
  readonly owner: Owner | undefined;
  /** Who runs `restart`: root (undefined) or restart.user. */
  readonly restartUser: Owner | undefined;
  readonly log: Log;
}

/** preActivate / postActivate: as the app user, in the release. */
export async function runHook(ctx: HookContext, name: 'preActivate' | 'postActivate', release: ReleaseRecord, from: ReleaseRecord | undefined, signal?: AbortSignal): Promise<void> {
  const hook = ctx.app.hooks?.[name];
  if (hook === undefined) return;
  await run(ctx, name, hook, path.join(ctx.app.root, release.dir), ctx.owner, release, from, signal);
}

/** restart: as root (or restart.user), in the app root. */
export async function runRestart(ctx: HookContext, release: ReleaseRecord, from: ReleaseRecord | undefined): Promise<void> {
  const hook = ctx.app.restart;
  if (hook === undefined) return;
  await run(ctx, 'restart', hook, ctx.app.root, ctx.restartUser, release, from);
}

async function run(
  ctx: HookContext,
  name: 'preActivate' | 'postActivate' | 'restart',
  hook: { run: string; timeout: number },
  cwd: string,
  user: Owner | undefined,
  release: ReleaseRecord,
  from: ReleaseRecord | undefined,
  signal?: AbortSignal,
): Promise<void> {
  const hlog = ctx.log.child({ hook: name });
  hlog.info({ step: name, command: hook.run, version: release.version }, `running ${name} for ${release.version}`);
  const result = await runCommand({
    name,
    command: hook.run,
    cwd,
    env: hookEnv(hookInfo(ctx.app, release, from)),
    timeoutMs: hook.timeout,
    ...(signal === undefined ? {} : { signal }),
    ...(user === undefined ? {} : { user }),
    onOutput: (stream, line) => hlog.info({ stream, line }, `${name}: ${line}`),
  });
  hlog.info({ step: name, durationMs: result.durationMs }, `${name} done`);
}

/** One probe of `release` (the health command as the app user, in the release). */
export function probeRelease(ctx: HookContext, release: ReleaseRecord): () => Promise<{ ok: boolean; detail: string; answered?: boolean | undefined }> {
  const dir = path.join(ctx.app.root, release.dir);
  return () =>
    probeOnce(healthSpec(ctx.app), {
      timeoutMs: ctx.app.health.timeout,
      cwd: dir,
      env: hookEnv(hookInfo(ctx.app, release, undefined)),
      ...(ctx.owner === undefined ? {} : { user: ctx.owner }),
    });
}
