// The test app fixture (test/helpers/app.ts) that the agent's integration tests deploy, driven the
// way the agent drives it: restart.sh through runCommand, then probeOnce/checkHealth.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isHoistError } from '../../src/errors.ts';
import { checkHealth } from '../../src/health/check.ts';
import { probeOnce } from '../../src/health/probe.ts';
import { hookEnv, runCommand } from '../../src/proc/run.ts';
import type { AppBehaviour } from '../helpers/app.ts';
import { freePort, getApp, isRunning, readPid, restartCommand, stopApp, waitGone, writeAppRelease } from '../helpers/app.ts';

interface Fixture {
  root: string;
  port: number;
  pidFile: string;
  release(version: string, behaviour?: AppBehaviour): Promise<string>;
  restart(dir: string): Promise<void>;
}

async function withApp(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'hoist-app-'));
  const port = await freePort();
  const pidFile = join(root, 'app.pid');
  const fixture: Fixture = {
    root,
    port,
    pidFile,
    async release(version, behaviour) {
      const dir = join(root, 'releases', version);
      await mkdir(dir, { recursive: true });
      await writeAppRelease(dir, behaviour === undefined ? { version } : { version, behaviour });
      return dir;
    },
    async restart(dir) {
      const env = hookEnv({ app: 'web', env: 'test', version: 'x', releaseDir: dir });
      await runCommand({ name: 'restart', command: restartCommand({ port, pidFile }), cwd: dir, env, timeoutMs: 20_000 });
    },
  };
  try {
    await fn(fixture);
  } finally {
    await stopApp(pidFile);
    await rm(root, { recursive: true, force: true });
  }
}

const health = (port: number) => ({ http: { url: `http://127.0.0.1:${port}/healthz`, expectStatus: 200, bodyIncludes: 'ok' } });
const policy = { intervalMs: 20, startPeriodMs: 5_000, successThreshold: 2 };

test('app: restart.sh replaces the running release, and stopApp stops it', async () => {
  await withApp(async (app) => {
    await app.restart(await app.release('1.0.0'));
    const first = await readPid(app.pidFile);
    assert.ok(first !== undefined);
    assert.deepEqual(await getApp(app.port, '/healthz'), { status: 200, body: 'ok 1.0.0\n' });

    await app.restart(await app.release('1.1.0'));
    const second = await readPid(app.pidFile);
    assert.ok(second !== undefined && second !== first);
    assert.equal(await waitGone(first), true, 'the old instance was stopped');
    assert.deepEqual(await getApp(app.port, '/version'), { status: 200, body: '1.1.0\n' });
    const outcome = await checkHealth(() => probeOnce(health(app.port), { timeoutMs: 2_000, cwd: app.root }), {
      ...policy,
      bakeMs: 100,
    });
    assert.equal(outcome.healthy, true);

    await stopApp(app.pidFile);
    assert.equal(await isRunning(second), false);
    await assert.rejects(readFile(app.pidFile));
  });
});

test('app: the pid file defaults to <root>/app.pid when APP_PID_FILE is not given', async () => {
  await withApp(async (app) => {
    const dir = await app.release('3.0.0');
    await runCommand({
      name: 'restart',
      command: `APP_PORT=${app.port} HOIST_TEST_NODE='${process.execPath}' ./restart.sh`,
      cwd: dir,
      timeoutMs: 20_000,
    });
    assert.ok((await readPid(join(app.root, 'app.pid'))) !== undefined);
    assert.equal((await getApp(app.port, '/version')).body, '3.0.0\n');
  });
});

test('app: an unhealthy release fails the check in phase start', async () => {
  await withApp(async (app) => {
    await app.restart(await app.release('2.0.0', 'unhealthy'));
    assert.equal((await getApp(app.port, '/healthz')).status, 500);
    const outcome = await checkHealth(() => probeOnce(health(app.port), { timeoutMs: 2_000, cwd: app.root }), {
      ...policy,
      startPeriodMs: 200,
      bakeMs: 0,
    });
    assert.ok(!outcome.healthy);
    assert.equal(outcome.phase, 'start');
    assert.match(outcome.reason, /HTTP 500 \(expected 200\)/);
  });
});

test('app: failAfterMs passes the start and fails during bake', async () => {
  await withApp(async (app) => {
    await app.restart(await app.release('2.1.0', { failAfterMs: 500 }));
    const outcome = await checkHealth(() => probeOnce(health(app.port), { timeoutMs: 2_000, cwd: app.root }), {
      ...policy,
      bakeMs: 30_000,
    });
    assert.ok(!outcome.healthy);
    assert.equal(outcome.phase, 'bake');
    assert.match(outcome.reason, /HTTP 500/);
  });
});

test('app: crash makes restart.sh fail with the server log; crashAfterMs lets it start, then probes are refused', async () => {
  await withApp(async (app) => {
    await assert.rejects(app.restart(await app.release('9.0.0', 'crash')), (error: unknown) => {
      assert.ok(isHoistError(error, 'HOIST_HOOK_FAILED'));
      assert.match(String(error.details?.outputTail), /crashes on start, on purpose/);
      return true;
    });
    await app.restart(await app.release('9.1.0', { crashAfterMs: 200 }));
    const pid = await readPid(app.pidFile);
    assert.ok(pid !== undefined);
    assert.equal(await waitGone(pid), true);
    const result = await probeOnce(health(app.port), { timeoutMs: 2_000, cwd: app.root });
    assert.equal(result.ok, false);
    // Usually ECONNREFUSED; with test files in parallel another one may briefly reuse the freed port.
    assert.match(result.detail, /ECONNREFUSED|ECONNRESET/);
  });
});
